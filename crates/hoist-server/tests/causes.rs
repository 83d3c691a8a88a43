//! `GET /v1/causes` serves hoist-core's cause catalogue.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use hoist_core::cause::{CauseId, catalogue};
use serde_json::Value;
use tower::ServiceExt as _;

#[tokio::test]
async fn the_catalogue_is_served_to_anyone_and_cacheable() {
    let store = start_store().await;
    let state = hoist_server::AppState::new(config(&store.handle)).unwrap();
    // No Authorization: the coordinator otherwise refuses callers without an API key.
    let req = Request::builder()
        .uri("/v1/causes")
        .header("origin", "https://app.example.com")
        .body(Body::empty())
        .unwrap();
    let resp = hoist_server::app(state).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.headers()["cache-control"], "public, max-age=3600");
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let served: Value = serde_json::from_slice(&body).unwrap();
    let served = served.as_object().unwrap();
    assert_eq!(served.len(), CauseId::ALL.len());
    for (id, entry) in catalogue() {
        let got = &served[id.as_str()];
        assert_eq!(got["title"], entry.title, "{id}");
        assert_eq!(got["explanation"], entry.explanation, "{id}");
        assert_eq!(got["fix"], entry.fix, "{id}");
        assert_eq!(got["browser"], entry.browser, "{id}");
    }
}
