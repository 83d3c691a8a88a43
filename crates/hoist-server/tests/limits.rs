//! Per-caller limits on real routes: open uploads and the request rate answer 429 with
//! `Retry-After`, and let the caller in again once it has closed uploads or waited.

mod common;

use std::time::Duration;

use common::*;
use hoist_server::LimitPolicy;
use serde_json::json;

/// POST `body` to `url` with `key`: (status, Retry-After, JSON body).
async fn post_raw(
    url: &str,
    key: &str,
    body: serde_json::Value,
) -> (u16, Option<u64>, serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(url)
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    let body = resp.bytes().await.unwrap();
    (
        status,
        retry,
        serde_json::from_slice(&body).unwrap_or_default(),
    )
}

#[tokio::test]
async fn open_uploads_are_capped_per_caller_until_closed_or_the_window_ends() {
    let store = start_store().await;
    let limits = LimitPolicy {
        open_uploads: 2,
        window: Duration::from_secs(2),
        ..LimitPolicy::default()
    };
    let srv = start_server(config(&store.handle).with_limits(limits)).await;
    let v1 = format!("{}/v1/uploads", srv.base);
    let uppy = format!("{}/s3/multipart", srv.base);
    let multipart = json!({"size": 2 * PART});

    let (_, _, first) = post_raw(&v1, API_KEY, multipart.clone()).await;
    let (status, _, second) = post_raw(&uppy, API_KEY, json!({"filename": "a"})).await;
    assert_eq!(status, 200, "{second}");
    // The third of either API is refused, with the time left in the window.
    for (url, body) in [(&v1, multipart.clone()), (&uppy, json!({"filename": "b"}))] {
        let (status, retry, v) = post_raw(url, API_KEY, body).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (429, Some("too_many_uploads")),
            "{v}"
        );
        assert!(matches!(retry, Some(1..=2)), "{retry:?}");
    }
    // Single PUTs keep no multipart state in the store and are not counted.
    let (status, _, v) = post_raw(&v1, API_KEY, json!({"size": 10})).await;
    assert_eq!(status, 201, "{v}");
    // Another caller has its own count.
    let (status, _, v) = post_raw(&v1, OTHER_API_KEY, multipart.clone()).await;
    assert_eq!(status, 201, "{v}");

    // Aborting one (through the coordinator) lets one more in.
    let id = first["id"].as_str().unwrap();
    let (status, _) = call(
        reqwest::Method::DELETE,
        &format!("{v1}/{id}"),
        Some(API_KEY),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _, third) = post_raw(&v1, API_KEY, multipart.clone()).await;
    assert_eq!(status, 201, "{third}");
    assert_eq!(post_raw(&v1, API_KEY, multipart.clone()).await.0, 429);

    // Completing one (Uppy's, with one small part) does too.
    let (id, key) = (
        second["uploadId"].as_str().unwrap(),
        second["key"].as_str().unwrap(),
    );
    let q = format!("key={}", hoist_core::encoding::uri_encode(key));
    let (_, one) = get(&format!("{uppy}/{id}/1?{q}"), Some(API_KEY)).await;
    let r = put(one["url"].as_str().unwrap(), &json!({}), bytes(10, 0)).await;
    assert_eq!(r.status(), 200);
    let (status, done) = post(
        &format!("{uppy}/{id}/complete?{q}"),
        Some(API_KEY),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    let (status, _, v) = post_raw(&uppy, API_KEY, json!({"filename": "c"})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(post_raw(&v1, API_KEY, multipart.clone()).await.0, 429);

    // Uploads forgotten by their caller stop counting when the window ends.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(post_raw(&v1, API_KEY, multipart).await.0, 201);
    srv.stop().await;
}

#[tokio::test]
async fn request_rate_is_limited_per_caller_and_recovers() {
    let store = start_store().await;
    let limits = LimitPolicy {
        rate: 5.0,
        burst: 3,
        ..LimitPolicy::default()
    };
    let srv = start_server(config(&store.handle).with_limits(limits)).await;
    let url = format!("{}/v1/uploads", srv.base);
    let body = json!({"size": 10});
    for _ in 0..3 {
        assert_eq!(post_raw(&url, API_KEY, body.clone()).await.0, 201);
    }
    let (status, retry, v) = post_raw(&url, API_KEY, body.clone()).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (429, Some("rate_limited")),
        "{v}"
    );
    assert_eq!(retry, Some(1));
    // Other callers, and the operational routes, are not held back.
    assert_eq!(post_raw(&url, OTHER_API_KEY, body.clone()).await.0, 201);
    assert_eq!(
        reqwest::get(format!("{}/healthz", srv.base))
            .await
            .unwrap()
            .status(),
        200
    );
    // Strangers are limited too (by address), before authentication answers them.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(post_raw(&url, "wrong-key", body.clone()).await.0);
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    // One token comes back every 200 ms.
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(post_raw(&url, API_KEY, body.clone()).await.0, 201);
    srv.stop().await;
}
