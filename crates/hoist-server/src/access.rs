//! One log line per request: method, route template (never the path, whose upload ids are
//! tokens), status, bytes, latency and request id. The id is the caller's `x-request-id`
//! when sane, else a new one; it is answered in `x-request-id` and sent with every call the
//! request makes to the store ([`hoist_s3::request_id`]), whose own line then carries it.
//! Each request is counted in `hoist_requests_total{route,status}` too.

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::Instant;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use hoist_net::request_id;

/// The middleware: outermost, so that every answer (CORS, rate limit, 404) is logged.
pub(crate) async fn log(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let started = Instant::now();
    let id = request_id::from_caller(req.headers()).unwrap_or_else(new_id);
    let method = req.method().clone();
    let route = route(req.uri().path());
    let bytes_in = content_length(req.headers());
    let mut response = hoist_s3::request_id::scope(id.clone(), next.run(req)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(request_id::HEADER, value);
    }
    state.metrics().request(route, response.status().as_u16());
    tracing::info!(
        target: "hoist_server::request",
        method = %method,
        route,
        status = response.status().as_u16(),
        bytes_in,
        bytes_out = axum::body::HttpBody::size_hint(response.body())
            .exact()
            .unwrap_or_else(|| content_length(response.headers())),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        request_id = id,
        "request"
    );
    response
}

fn new_id() -> String {
    thread_local! {
        /// SplitMix64's state, seeded once per thread from the OS: request ids must differ,
        /// not be secret, so a request costs no system call for its id.
        static STATE: Cell<u64> = Cell::new({
            let mut seed = [0u8; 8];
            getrandom::fill(&mut seed).expect("the OS random source works");
            u64::from_le_bytes(seed)
        });
    }
    let mut z = STATE.with(|state| {
        let next = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        state.set(next);
        next
    });
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    format!("{:016x}", z ^ (z >> 31))
}

fn content_length(headers: &HeaderMap) -> u64 {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The route templates of the router, told by [`crate::app::app`] when it builds it, in a
/// router of their own: the same matching as axum's, on the path alone.
static TEMPLATES: OnceLock<matchit::Router<&'static str>> = OnceLock::new();

/// Keeps the router's route templates, for [`route`].
pub(crate) fn know_routes(templates: impl IntoIterator<Item = &'static str>) {
    let mut router = matchit::Router::new();
    for template in templates {
        // axum has taken the same table, so every template is valid and none conflicts.
        let _ = router.insert(template, template);
    }
    let _ = TEMPLATES.set(router);
}

/// The route template `path` is served by, among those [`know_routes`] was told; a literal
/// segment wins over a capture, as in the router. A path no route serves is `unmatched`.
pub(crate) fn route(path: &str) -> &'static str {
    TEMPLATES
        .get()
        .and_then(|router| router.at(path).ok())
        .map_or("unmatched", |found| found.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_logged_as_the_template_that_serves_it() {
        know_routes(crate::app::routes().iter().map(|(path, _, _)| *path));
        let cases = [
            ("/v1/uploads", "/v1/uploads"),
            ("/v1/uploads/batch", "/v1/uploads/batch"),
            ("/v1/uploads/batch/complete", "/v1/uploads/batch/complete"),
            ("/v1/uploads/tok_abc", "/v1/uploads/{id}"),
            ("/v1/uploads/tok_abc/parts", "/v1/uploads/{id}/parts"),
            ("/s3/multipart/abc/batch", "/s3/multipart/{uploadId}/batch"),
            (
                "/s3/multipart/abc/complete",
                "/s3/multipart/{uploadId}/complete",
            ),
            (
                "/s3/multipart/abc/7",
                "/s3/multipart/{uploadId}/{partNumber}",
            ),
            ("/", "/"),
            // As axum's router matches: a trailing empty segment is no capture, an inner one
            // is (the handler then refuses the empty id), and a path longer or shorter than
            // every template is no route.
            ("/v1/uploads/", "unmatched"),
            ("/s3/multipart//7", "/s3/multipart/{uploadId}/{partNumber}"),
            ("/v1/uploads/a/parts/extra", "unmatched"),
            ("/nowhere", "unmatched"),
            ("", "unmatched"),
        ];
        for (path, template) in cases {
            assert_eq!(route(path), template, "{path:?}");
        }
    }

    #[test]
    fn new_request_ids_are_sixteen_hex_digits_and_differ() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(
            ids.iter()
                .all(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        );
        // Another thread starts from a seed of its own.
        let other = std::thread::spawn(new_id).join().unwrap();
        assert!(!ids.contains(&other));
    }
}
