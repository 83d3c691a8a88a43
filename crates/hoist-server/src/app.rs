//! The router: every route in one table (so the OpenAPI test can check each), the small
//! operational routes, the browser files, the cause catalogue they show, and CORS.

use std::collections::BTreeMap;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::Principal;
use crate::state::AppState;
use crate::{uploads, uppy};

const INDEX_HTML: &str = include_str!("../../../web/index.html");
const HOIST_JS: &str = include_str!("../../../web/hoist.js");

/// Every route: path, the methods it answers, and its handlers.
pub fn routes() -> Vec<(&'static str, &'static [Method], MethodRouter<AppState>)> {
    vec![
        ("/", &[Method::GET], get(index)),
        ("/hoist.js", &[Method::GET], get(hoist_js)),
        ("/healthz", &[Method::GET], get(healthz)),
        ("/readyz", &[Method::GET], get(readyz)),
        ("/metrics", &[Method::GET], get(metrics)),
        ("/openapi.json", &[Method::GET], get(openapi)),
        ("/v1/causes", &[Method::GET], get(causes)),
        ("/v1/uploads", &[Method::POST], post(uploads::create)),
        // matchit prefers these literal segments over `/v1/uploads/{id}`'s capture.
        (
            "/v1/uploads/batch",
            &[Method::POST],
            post(uploads::create_batch).layer(DefaultBodyLimit::max(uploads::BATCH_BODY_LIMIT)),
        ),
        (
            "/v1/uploads/batch/complete",
            &[Method::POST],
            post(uploads::complete_batch).layer(DefaultBodyLimit::max(uploads::BATCH_BODY_LIMIT)),
        ),
        (
            "/v1/uploads/{id}",
            &[Method::GET, Method::DELETE],
            get(uploads::state).delete(uploads::abort),
        ),
        (
            "/v1/uploads/{id}/parts",
            &[Method::POST],
            post(uploads::parts),
        ),
        (
            "/v1/uploads/{id}/complete",
            &[Method::POST],
            post(uploads::complete),
        ),
        ("/s3/params", &[Method::GET], get(uppy::params)),
        ("/s3/sign", &[Method::POST], post(uppy::sign::sign)),
        ("/s3/multipart", &[Method::POST], post(uppy::create)),
        (
            "/s3/multipart/{uploadId}",
            &[Method::GET, Method::DELETE],
            get(uppy::list_parts).delete(uppy::abort),
        ),
        // matchit prefers the literal segments over the capture, as Uppy's docs require.
        (
            "/s3/multipart/{uploadId}/batch",
            &[Method::GET],
            get(uppy::batch),
        ),
        (
            "/s3/multipart/{uploadId}/complete",
            &[Method::POST],
            post(uppy::complete),
        ),
        (
            "/s3/multipart/{uploadId}/{partNumber}",
            &[Method::GET],
            get(uppy::sign_one),
        ),
    ]
}

/// The coordinator's whole HTTP surface, ready to serve.
///
/// The middleware (access log, CORS, rate limit and JSON 405s) wraps the routed router once, as
/// one concrete service in front of it, rather than each route: a request then clones and
/// boxes no middleware on its way, where a layer on every route cloned the boxed routes
/// beneath it at each layer.
pub fn app(state: AppState) -> Router {
    let cors = cors_layer(&state.config().cors_origins);
    let mut router = Router::new();
    let table = routes();
    crate::access::know_routes(table.iter().map(|(path, _, _)| *path));
    for (path, _, handler) in table {
        router = router.route(path, handler);
    }
    let routed = router.fallback(not_found).with_state(state.clone());
    let front = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::access::log,
        ))
        .layer(cors)
        .layer(axum::middleware::from_fn_with_state(
            state,
            rate_limit_then_json_405,
        ))
        .service(routed);
    Router::new().fallback_service(front)
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("uppy-versions"),
        ])
        .max_age(std::time::Duration::from_secs(3600))
}

/// The request rate of each caller on the upload routes of both APIs (the operational routes
/// and files are not limited), then the answer: a wrong method's, which axum leaves empty, in
/// the JSON error shape. A caller is its API key or grant; callers without credentials
/// (anonymous, or failing authentication) are told apart by address when it is known.
async fn rate_limit_then_json_405(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(refused) = over_rate(&state, &req) {
        return refused;
    }
    let method = req.method().clone();
    let resp = next.run(req).await;
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED {
        let mut e = crate::error::ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{method} is not allowed on this path"),
        )
        .into_response();
        if let Some(allow) = resp.headers().get(header::ALLOW) {
            e.headers_mut().insert(header::ALLOW, allow.clone());
        }
        return e;
    }
    resp
}

/// The 429 answer to `req` when its caller is over its request rate.
fn over_rate(state: &AppState, req: &axum::extract::Request) -> Option<Response> {
    let path = req.uri().path();
    if !state.limits().limits_requests()
        || !(path.starts_with("/v1/uploads") || path.starts_with("/s3/"))
        || req.method() == Method::OPTIONS
    {
        return None;
    }
    let caller = match state.authenticate(req.headers()) {
        Ok(Principal::Anonymous) | Err(_) => {
            // Behind a trusted reverse proxy, the caller is the one it forwarded for.
            let addr = req
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| {
                    let proxies = &state.config().trusted_proxies;
                    proxies.client(c.0.ip(), req.headers()).to_string()
                });
            format!("ip:{}", addr.as_deref().unwrap_or("unknown"))
        }
        Ok(who) => who.owner(),
    };
    state
        .limits()
        .request(&caller, std::time::Instant::now())
        .err()
        .map(IntoResponse::into_response)
}

async fn not_found() -> Response {
    crate::error::ApiError::not_found("not_found", "no such route; see /openapi.json")
        .into_response()
}

async fn index() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        INDEX_HTML,
    )
        .into_response()
}

async fn hoist_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        HOIST_JS,
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store().head_bucket().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(err) => {
            let mut e = crate::error::ApiError::bad_gateway(format!("store not ready: {err}"));
            e.status = StatusCode::SERVICE_UNAVAILABLE;
            e.into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    // Every control call's answer corrects the clock; show the offset in use now.
    state
        .metrics()
        .set_clock_offset(state.clock().offset().millis);
    let mut text = state.metrics().render();
    if let Some(extra) = &state.config().extra_metrics {
        text.push_str(&extra());
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn openapi(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi().to_owned(),
    )
        .into_response()
}

/// hoist-core's cause catalogue by id: the one source of the texts hoist.js shows. Public, and
/// the same until the binary changes, so browsers may keep it.
async fn causes() -> Response {
    let catalogue: BTreeMap<&str, &hoist_core::cause::Entry> = hoist_core::cause::catalogue()
        .map(|(id, entry)| (id.as_str(), entry))
        .collect();
    (
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        Json(catalogue),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use crate::access::{know_routes, route};

    #[test]
    fn access_logs_name_route_templates() {
        know_routes(super::routes().iter().map(|(path, _, _)| *path));
        assert_eq!(route("/"), "/");
        assert_eq!(route("/v1/uploads"), "/v1/uploads");
        assert_eq!(route("/v1/uploads/batch"), "/v1/uploads/batch");
        assert_eq!(
            route("/v1/uploads/batch/complete"),
            "/v1/uploads/batch/complete"
        );
        // An upload's own routes still name it, as every upload id is a token.
        assert_eq!(
            route("/v1/uploads/SECRETTOKEN/complete"),
            "/v1/uploads/{id}/complete"
        );
        assert_eq!(route("/v1/uploads/SECRETTOKEN"), "/v1/uploads/{id}");
        assert_eq!(
            route("/v1/uploads/SECRETTOKEN/parts"),
            "/v1/uploads/{id}/parts"
        );
        assert_eq!(
            route("/s3/multipart/T/batch"),
            "/s3/multipart/{uploadId}/batch"
        );
        assert_eq!(
            route("/s3/multipart/T/7"),
            "/s3/multipart/{uploadId}/{partNumber}"
        );
        assert_eq!(route("/v1/uploads/"), "unmatched");
        assert_eq!(route("/nope/SECRET"), "unmatched");
    }
}
