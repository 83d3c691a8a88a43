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

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves HTTP/1.1 on `listener` within `limits` until `shutdown` resolves, then lets open
/// requests finish for [`Limits::shutdown_grace`]. `table` keeps the connections (make it
/// with [`Table::for_limits`]; the caller may count them while it serves). `wrap` sees each
/// accepted stream first (the store injects faults there); `make_service` builds the service
/// of one connection from the peer's address.
pub async fn serve<T, W, M, S, B>(
    listener: TcpListener,
    limits: Limits,
    table: &Arc<Table>,
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
                let io = TokioIo::new(wrap(stream));
                let service = Tracked::new(make_service(peer), &ticket);
                let stop = stop.clone();
                let header_read_timeout = limits.header_read_timeout;
                let auto_date_header = limits.date_header;
                connections.spawn(async move {
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(header_read_timeout)
                        .keep_alive(true)
                        .auto_date_header(auto_date_header)
                        .serve_connection(io, service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        // Shed for a newer client, or idle too long: closed at once.
                        () = ticket.shed.cancelled() => {}
                        () = stop.cancelled() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
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
}
