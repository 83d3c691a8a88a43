//! The admin endpoint: faults at run time and temporary credentials.
//!
//! Routes (JSON in and out), all authenticated with `Authorization: Bearer <secret key>`
//! (the store's static secret access key):
//!
//! - `GET  /_hoist/faults`: the faults in force.
//! - `PUT  /_hoist/faults`: merge the given fields into the faults in force; answers them.
//! - `DELETE /_hoist/faults`: back to no faults.
//! - `GET  /_hoist/faults/injected`: how many faults were injected, by kind.
//! - `POST /_hoist/temporary-credentials?ttl_secs=N`: issue temporary credentials.
//! - `GET  /_hoist/health`: `{"ok":true}`, without authentication.
//! - `GET  /_hoist/metrics`: the store's Prometheus metrics (text format), without
//!   authentication, as a Prometheus scrape expects.
//!
//! `_hoist` cannot be a bucket name (S3 bucket names never contain `_`), so these never
//! shadow an S3 route.

use std::time::Duration;

use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use s3s::Body;
use serde_json::{Value, json};

use crate::faults::Faults;
use crate::front::Front;

/// Path prefix of the admin routes.
pub const PREFIX: &str = "/_hoist/";

/// Largest admin request body.
const MAX_BODY: usize = 64 * 1024;

fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let mut response = Response::new(Body::from(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn error(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    json_response(status, &json!({ "error": message.into() }))
}

fn authorized(front: &Front, req: &Request<Body>) -> bool {
    let expected = &front.keys.static_credentials().secret_access_key;
    req.headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.trim().as_bytes(), expected.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) async fn handle(front: &Front, req: Request<Body>) -> Response<Body> {
    let path = req
        .uri()
        .path()
        .trim_start_matches(PREFIX)
        .trim_end_matches('/')
        .to_owned();
    if path == "health" {
        return json_response(StatusCode::OK, &json!({ "ok": true }));
    }
    if path == "metrics" && req.method() == Method::GET {
        let mut response = Response::new(Body::from(front.metrics.render()));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        return response;
    }
    if !authorized(front, &req) {
        return error(
            StatusCode::FORBIDDEN,
            "admin routes need `Authorization: Bearer <the store's secret key>`",
        );
    }
    let method = req.method().clone();
    match (method, path.as_str()) {
        (Method::GET, "faults") => json_response(StatusCode::OK, &json!(front.faults.get())),
        (Method::GET, "faults/injected") => {
            json_response(StatusCode::OK, &json!(front.faults.injected()))
        }
        (Method::DELETE, "faults") => {
            let _ = front.faults.set(Faults::default());
            json_response(StatusCode::OK, &json!(front.faults.get()))
        }
        (Method::PUT | Method::POST | Method::PATCH, "faults") => update_faults(front, req).await,
        (Method::POST, "temporary-credentials") => {
            let ttl = req
                .uri()
                .query()
                .unwrap_or("")
                .split('&')
                .find_map(|p| p.strip_prefix("ttl_secs="))
                .map(str::parse::<u64>);
            let ttl = match ttl {
                None => 3600,
                Some(Ok(secs)) => secs,
                Some(Err(_)) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "ttl_secs must be a whole number of seconds",
                    );
                }
            };
            let credentials = front.keys.issue_temporary(Duration::from_secs(ttl));
            json_response(StatusCode::OK, &json!(credentials))
        }
        _ => error(
            StatusCode::NOT_FOUND,
            format!("no admin route {} {}", req.method(), req.uri().path()),
        ),
    }
}

async fn update_faults(front: &Front, req: Request<Body>) -> Response<Body> {
    let body = match http_body_util::Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("cannot read the body: {e}"),
            );
        }
    };
    let patch: Value = match serde_json::from_slice(&body) {
        Ok(Value::Object(map)) => Value::Object(map),
        Ok(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "the body must be a JSON object of fault fields",
            );
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")),
    };
    let mut current = json!(front.faults.get());
    if let (Value::Object(current), Value::Object(patch)) = (&mut current, patch) {
        current.extend(patch);
    }
    let next: Faults = match serde_json::from_value(current) {
        Ok(next) => next,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid faults: {e}")),
    };
    match front.faults.set(next) {
        Ok(()) => json_response(StatusCode::OK, &json!(next)),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}
