//! hoist-net: how hoist's servers (the coordinator and the embedded store) accept connections.
//!
//! One accept loop, [`serve`], for both: a request head must arrive within the header-read
//! timeout, a kept-alive connection waits at most the idle timeout, at most
//! [`Limits::max_connections`] are served at once (a new one sheds the idlest connection
//! that has no request in flight, never a busy one), a failed `accept` (out of descriptors)
//! never ends the server, and on shutdown open requests get [`Limits::shutdown_grace`] to
//! finish. A request body that sends nothing for the stall timeout is cut by [`Stall`],
//! which each server wraps around the bodies it reads and answers in its own vocabulary.
//! With a [`Tls`] certificate the same loop serves HTTPS.
//!
//! ```no_run
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Full;
//!
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let limits = hoist_net::Limits::default();
//! let table = hoist_net::Table::for_limits(&limits);
//! let service = hyper::service::service_fn(|_req: Request<hyper::body::Incoming>| async {
//!     Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hello"))))
//! });
//! hoist_net::serve(
//!     listener,
//!     limits,
//!     &table,
//!     None,
//!     |stream| stream,
//!     move |_peer| service,
//!     async { let _ = tokio::signal::ctrl_c().await; },
//! )
//! .await;
//! # Ok(()) }
//! ```

pub mod request_id;
mod serve;
mod stall;
mod table;
mod tls;

use std::time::Duration;

pub use serve::serve;
pub use stall::{BodyStalled, Stall, StallingBody};
pub use table::{DESCRIPTOR_RESERVE, Table, descriptor_limit};
pub use tls::{DEFAULT_TLS_CHECK_EVERY, Tls, TlsError};

/// Default [`Limits::header_read_timeout`]: 30 s.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`Limits::idle_timeout`]: 20 s.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(20);
/// Default stall timeout of a request body: 60 s.
pub const DEFAULT_BODY_STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Default [`Limits::max_connections`]: 512, well under the usual 1,024 descriptors.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Default [`Limits::shutdown_grace`]: 5 s.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What a server grants each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time a connection has to send a whole request head (hyper starts it when it waits
    /// for a head, so it also bounds a kept-alive connection's wait for its next request).
    pub header_read_timeout: Duration,
    /// Time a kept-alive connection may wait between requests.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Time open requests get to finish once shutdown begins.
    pub shutdown_grace: Duration,
    /// Whether each answer gets a `Date` header from the machine's clock (the store sends
    /// its own, from its possibly offset clock).
    pub date_header: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            date_header: true,
        }
    }
}
