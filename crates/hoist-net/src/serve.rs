//! The accept loop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::Limits;
use crate::table::{Table, Tracked};
use crate::tls::Tls;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves HTTP/1.1 on `listener` within `limits` until `shutdown` resolves, then lets open
/// requests finish for [`Limits::shutdown_grace`]. `table` keeps the connections (make it
/// with [`Table::for_limits`]; the caller may count them while it serves). With `tls`, each
/// connection is HTTPS: its handshake must end within the header-read timeout, and the
/// certificate is read again on SIGHUP or a change of its files. `wrap` sees each accepted
/// stream first (the store injects faults there); `make_service` builds the service of one
/// connection from the peer's address.
#[allow(clippy::too_many_arguments)]
pub async fn serve<T, W, M, S, B>(
    listener: TcpListener,
    limits: Limits,
    table: &Arc<Table>,
    tls: Option<Arc<Tls>>,
    wrap: W,
    make_service: M,
    shutdown: impl Future<Output = ()>,
) where
    W: Fn(TcpStream) -> T,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    M: Fn(SocketAddr) -> S,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let stop = CancellationToken::new();
    let watcher = tls.clone().map(Tls::watch);
    let mut connections = tokio::task::JoinSet::new();
    let mut idle_check = tokio::time::interval(table.idle_check_every());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Running out of descriptors must not end the server.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some(ticket) = table.admit() else {
                    tracing::warn!("every connection is busy: refusing a new one");
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let io = wrap(stream);
                let service = Tracked::new(make_service(peer), &ticket);
                let stop = stop.clone();
                let acceptor = tls.as_ref().map(|t| t.acceptor());
                connections.spawn(async move {
                    match acceptor {
                        None => connection(TokioIo::new(io), service, limits, &ticket.shed, &stop).await,
                        Some(acceptor) => {
                            // The handshake is part of the request head: a client that stalls
                            // in it is closed as one that stalls in its headers.
                            let handshake = tokio::time::timeout(
                                limits.header_read_timeout,
                                acceptor.accept(io),
                            );
                            tokio::select! {
                                done = handshake => match done {
                                    Ok(Ok(tls_io)) => {
                                        connection(TokioIo::new(tls_io), service, limits, &ticket.shed, &stop).await;
                                    }
                                    Ok(Err(e)) => tracing::debug!(error = %e, %peer, "TLS handshake failed"),
                                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                                },
                                () = ticket.shed.cancelled() => {}
                                () = stop.cancelled() => {}
                            }
                        }
                    }
                    drop(ticket);
                });
            }
            _ = idle_check.tick() => table.close_idle(),
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    stop.cancel();
    let _ = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.abort_all();
    if let Some(w) = watcher {
        w.abort();
    }
}

/// Serves one connection until it ends, is shed, or shutdown asks it to finish.
async fn connection<I, S, B>(
    io: I,
    service: S,
    limits: Limits,
    shed: &CancellationToken,
    stop: &CancellationToken,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true)
        .auto_date_header(limits.date_header)
        .serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        // Shed for a newer client, or idle too long: closed at once.
        () = shed.cancelled() => {}
        () = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
