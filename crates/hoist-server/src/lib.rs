//! hoist-server: the upload coordinator.
//!
//! Web apps and browsers ask it to create an upload; it decides single PUT or multipart (with
//! hoist-core's planner), signs the URLs the uploader sends bytes to (the bytes never pass
//! through it), and completes or aborts the upload with control calls to the store. It keeps
//! no state: the upload id is a token it signs, and the store's multipart state is the truth.
//!
//! ```no_run
//! use hoist_server::{AppState, Credentials, CredentialSource, ServerConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ServerConfig::new(
//!     "http://127.0.0.1:9000",
//!     CredentialSource::fixed(Credentials::new("AKIDEXAMPLE", "secret")),
//! )
//! .with_bucket("uploads")
//! .with_token_secret(b"a long random secret shared by replicas".to_vec())
//! .with_api_keys(vec!["app-server-key".into()]);
//! let state = AppState::new(config)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! hoist_server::serve(listener, state, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! # Ok(()) }
//! ```

mod access;
mod admit;
pub mod api;
pub mod app;
pub mod auth;
mod conditional;
pub mod config;
pub mod error;
pub mod hooks;
pub mod keys;
pub mod limits;
pub mod metrics;
mod notify;
pub mod openapi;
pub mod proxies;
pub mod state;
pub mod store;
pub mod token;
mod uploads;
mod uppy;
mod validate;

use std::future::Future;

pub use app::app;
pub use auth::{GrantClaims, Principal, mint_grant};
pub use config::{ExtraMetrics, LimitPolicy, ServerConfig, StoreTarget};
pub use error::ApiError;
pub use hoist_core::credentials::Credentials;
pub use hoist_s3::CredentialSource;
pub use hooks::{HookConfig, HookSecret};
pub use openapi::OPENAPI;
pub use state::{AppState, StateError};
pub use token::{TokenKey, TokenSecret, UploadToken};

/// How often each endpoint of a store given as several (a cluster's nodes) is asked whether it
/// answers.
pub const STORE_WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Serve the coordinator on `listener` until `shutdown` resolves, then finish the requests in
/// flight (within [`ServerConfig::connections`]' shutdown grace). Connections get the
/// header-read and idle timeouts and the cap of [`ServerConfig::connections`], request bodies
/// the stall timeout. Also measures the store's clock now and every `clock_interval`, and,
/// given several store endpoints, signs for one that answers (checked every
/// [`STORE_WATCH_INTERVAL`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let clock_task = tokio::spawn(state.clone().measure_clock_forever());
    let watch_task = tokio::spawn(state.clone().watch_stores_forever(STORE_WATCH_INTERVAL));
    let limits = state.config().connections;
    let stall = state.config().body_stall_timeout;
    let table = hoist_net::Table::for_limits(&limits);
    let tls = state.config().tls.clone();
    let router = app(state);
    hoist_net::serve(
        listener,
        limits,
        &table,
        tls,
        |stream| stream,
        move |peer| Connection {
            router: router.clone(),
            peer,
            stall,
        },
        shutdown,
    )
    .await;
    clock_task.abort();
    watch_task.abort();
    Ok(())
}

/// The service of one connection: the router, told the peer's address (the rate limit of
/// callers without credentials keys on it), reading bodies under the stall timeout.
#[derive(Debug, Clone)]
struct Connection {
    router: axum::Router,
    peer: std::net::SocketAddr,
    stall: std::time::Duration,
}

impl hyper::service::Service<http::Request<hyper::body::Incoming>> for Connection {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn call(&self, req: http::Request<hyper::body::Incoming>) -> Self::Future {
        let stall = self.stall;
        let mut req =
            req.map(|body| axum::body::Body::new(hoist_net::StallingBody::new(body, stall)));
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(self.peer));
        let reads_only = matches!(
            *req.method(),
            http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
        );
        let mut router = self.router.clone();
        // A router is always ready: poll_ready has nothing to wait for.
        let answer = async move {
            match tower::Service::call(&mut router, req).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        };
        if reads_only {
            // Nothing to finish if the client goes away (no route changes anything on these
            // methods): answered on the connection's task, without a task of its own, and a
            // panic is still a 500.
            return Box::pin(async move {
                Ok(CatchPanic(Box::pin(answer))
                    .await
                    .unwrap_or_else(|()| panicked("a request panicked")))
            });
        }
        // Each request that changes something runs to its end on a task of its own. hyper drops
        // the future of a request whose client went away; a Complete dropped after the store
        // completed would never tell the application (its `upload.completed` event), nor
        // remember the upload as ended.
        let task = tokio::spawn(answer);
        Box::pin(async move { Ok(task.await.unwrap_or_else(|e| panicked(&e.to_string()))) })
    }
}

/// The answer to a request whose handling panicked (`what`, logged, says how).
fn panicked(what: &str) -> axum::response::Response {
    tracing::error!(error = %what, "a request failed");
    axum::response::IntoResponse::into_response(crate::error::ApiError::new(
        http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "the request failed inside the coordinator",
    ))
}

/// A future whose panic, in any poll, is caught and answered as `Err(())`.
struct CatchPanic<F>(std::pin::Pin<Box<F>>);

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, ()>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(std::task::Poll::Ready(out)) => std::task::Poll::Ready(Ok(out)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(_) => std::task::Poll::Ready(Err(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CatchPanic;

    #[tokio::test]
    async fn a_panicking_request_future_is_an_error_not_a_lost_connection() {
        let answered = CatchPanic(Box::pin(async {
            tokio::task::yield_now().await;
            7
        }));
        assert_eq!(answered.await, Ok(7));
        let panicked = CatchPanic(Box::pin(async {
            tokio::task::yield_now().await;
            panic!("a handler's bug")
        }));
        assert_eq!(panicked.await, Err::<(), ()>(()));
    }
}
