//! The request id a server is answering, passed on every call to a store made for it.
//!
//! A server runs each request's work inside [`scope`]; [`Http`](crate::Http) then sends the
//! id as `x-request-id` on each request to the store, so the store's log line for the call
//! carries the same id as the server's for the request that caused it.

use std::future::Future;

/// The header that carries the id.
pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static CURRENT: String;
}

/// Runs `work` with `id` as the request id of every call to a store it makes.
pub async fn scope<F: Future>(id: String, work: F) -> F::Output {
    CURRENT.scope(id, work).await
}

/// The request id of the work running now, if it runs in a [`scope`].
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}
