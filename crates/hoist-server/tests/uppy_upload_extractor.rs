//! Every `/s3/multipart/{uploadId}` route (4.x/5.x) opens its upload the same way: the caller
//! must be authenticated, the `uploadId` must be a token this coordinator signed for that
//! caller, and the `key` Uppy sends alongside must be the upload's.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn every_upload_route_refuses_strangers_forgeries_and_wrong_keys() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;
    let c = uppy_create(base).await;
    let id = c["uploadId"].as_str().unwrap();
    let key = enc(c["key"].as_str().unwrap());
    let mut forged = id.to_string().into_bytes();
    let mid = forged.len() / 2;
    forged[mid] = if forged[mid] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();

    let routes = |id: &str, key: &str| {
        [
            (
                reqwest::Method::GET,
                format!("{base}/s3/multipart/{id}/1?key={key}"),
            ),
            (
                reqwest::Method::GET,
                format!("{base}/s3/multipart/{id}/batch?key={key}&partNumbers=1"),
            ),
            (
                reqwest::Method::GET,
                format!("{base}/s3/multipart/{id}?key={key}"),
            ),
            (
                reqwest::Method::POST,
                format!("{base}/s3/multipart/{id}/complete?key={key}"),
            ),
            (
                reqwest::Method::DELETE,
                format!("{base}/s3/multipart/{id}?key={key}"),
            ),
        ]
    };
    for (method, url) in routes(id, &key) {
        let body = (method == reqwest::Method::POST).then(|| json!({"parts": []}));
        let (status, v) = call(method.clone(), &url, None, body.clone()).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (401, Some("unauthenticated")),
            "{method} {url}"
        );
        let (status, v) = call(method.clone(), &url, Some(OTHER_API_KEY), body.clone()).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (403, Some("forbidden")),
            "{method} {url}: {v}"
        );
    }
    for (method, url) in routes(&forged, &key) {
        let body = (method == reqwest::Method::POST).then(|| json!({"parts": []}));
        let (status, v) = call(method.clone(), &url, Some(API_KEY), body).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (401, Some("bad_token")),
            "{method} {url}: {v}"
        );
    }
    for (method, url) in routes(id, "files%2Fother") {
        let body = (method == reqwest::Method::POST).then(|| json!({"parts": []}));
        let (status, v) = call(method.clone(), &url, Some(API_KEY), body).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (404, Some("no_such_upload")),
            "{method} {url}: {v}"
        );
    }
    // The upload is untouched by all of the above: the owner can still abort it.
    assert_eq!(
        multipart_uploads(&store.handle, c["key"].as_str().unwrap()).await,
        1
    );
    let (status, _) = call(
        reqwest::Method::DELETE,
        &format!("{base}/s3/multipart/{id}?key={key}"),
        Some(API_KEY),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        multipart_uploads(&store.handle, c["key"].as_str().unwrap()).await,
        0
    );
    srv.stop().await;
}
