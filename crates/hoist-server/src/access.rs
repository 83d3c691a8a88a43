//! One log line per request: method, route template (never the path, whose upload ids are
//! tokens), status, bytes, latency and request id. The id is the caller's `x-request-id`
//! when sane, else a new one; it is answered in `x-request-id` and sent with every call the
//! request makes to the store ([`hoist_s3::request_id`]), whose own line then carries it.
//! Each request is counted in `hoist_requests_total{route,status}` too.

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
    let mut raw = [0u8; 8];
    getrandom::fill(&mut raw).expect("the OS random source works");
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

fn content_length(headers: &HeaderMap) -> u64 {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The route templates of the router, told by [`crate::app::app`] when it builds it.
static TEMPLATES: OnceLock<Vec<&'static str>> = OnceLock::new();

/// Keeps the router's route templates, for [`route`].
pub(crate) fn know_routes(templates: impl IntoIterator<Item = &'static str>) {
    let _ = TEMPLATES.set(templates.into_iter().collect());
}

/// The route template `path` is served by, among those [`know_routes`] was told; a literal
/// segment wins over a capture, as in the router. A path no route serves is `unmatched`.
pub(crate) fn route(path: &str) -> &'static str {
    let Some(templates) = TEMPLATES.get() else {
        return "unmatched";
    };
    let segments: Vec<&str> = path.split('/').collect();
    templates
        .iter()
        .copied()
        .filter_map(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (part, segment) in parts.iter().zip(&segments) {
                if part.starts_with('{') {
                    if segment.is_empty() {
                        return None;
                    }
                } else if part == segment {
                    literal += 1;
                } else {
                    return None;
                }
            }
            Some((literal, template))
        })
        .max_by_key(|(literal, _)| *literal)
        .map_or("unmatched", |(_, template)| template)
}
