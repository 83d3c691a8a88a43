//! An upload the store no longer knows (aborted or completed) answers a 4xx on every route of
//! both APIs: a 5xx would tell Uppy and hoist's clients to retry a dead upload.

mod common;

use common::*;
use serde_json::{Value, json};

/// Send the S3 call `/s3/sign` signed, with the headers it says to send.
async fn send(method: reqwest::Method, s: &Value) -> reqwest::Response {
    let mut rb = reqwest::Client::new().request(method, s["url"].as_str().unwrap());
    for (k, v) in s["headers"].as_object().into_iter().flatten() {
        rb = rb.header(k.as_str(), v.as_str().unwrap());
    }
    rb.send().await.unwrap()
}

async fn delete(url: &str) -> (u16, Value) {
    call(reqwest::Method::DELETE, url, Some(API_KEY), None).await
}

/// An Uppy multipart upload with one stored part: (uploadId, key query, part URL's body PUT).
async fn uppy_upload(base: &str) -> (String, String) {
    let c = uppy_create(base).await;
    let id = c["uploadId"].as_str().unwrap().to_string();
    let q = format!("key={}", enc(c["key"].as_str().unwrap()));
    let (status, one) = get(&format!("{base}/s3/multipart/{id}/1?{q}"), Some(API_KEY)).await;
    assert_eq!(status, 200, "{one}");
    let r = put(one["url"].as_str().unwrap(), &json!({}), bytes(100, 1)).await;
    assert_eq!(r.status(), 200);
    (id, q)
}

fn gone(status: u16, v: &Value) {
    assert_eq!(
        (status, v["code"].as_str()),
        (404, Some("upload_gone")),
        "{v}"
    );
}

#[tokio::test]
async fn uppy_routes_after_abort() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;
    let (id, q) = uppy_upload(base).await;
    let (status, v) = delete(&format!("{base}/s3/multipart/{id}?{q}")).await;
    assert_eq!((status, v), (200, json!({})));

    let (status, v) = get(&format!("{base}/s3/multipart/{id}?{q}"), Some(API_KEY)).await;
    gone(status, &v);
    // ListParts without the optional key answers the same.
    let (status, v) = get(&format!("{base}/s3/multipart/{id}"), Some(API_KEY)).await;
    gone(status, &v);
    let (status, v) = post(
        &format!("{base}/s3/multipart/{id}/complete?{q}"),
        Some(API_KEY),
        json!({"parts": [{"PartNumber": 1}]}),
    )
    .await;
    gone(status, &v);
    // Aborting twice is fine.
    let (status, v) = delete(&format!("{base}/s3/multipart/{id}?{q}")).await;
    assert_eq!((status, v), (200, json!({})));
    srv.stop().await;
}

#[tokio::test]
async fn uppy_routes_after_complete() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;
    let (id, q) = uppy_upload(base).await;
    let complete = format!("{base}/s3/multipart/{id}/complete?{q}");
    let (status, done) = post(&complete, Some(API_KEY), json!({"parts": []})).await;
    assert_eq!(status, 200, "{done}");

    let (status, v) = get(&format!("{base}/s3/multipart/{id}?{q}"), Some(API_KEY)).await;
    gone(status, &v);
    // Completing again answers as the first completion did.
    let (status, again) = post(&complete, Some(API_KEY), json!({"parts": []})).await;
    assert_eq!((status, &again), (200, &done));
    // Aborting cannot remove the object: a 409 says so, and the object stays.
    let (status, v) = delete(&format!("{base}/s3/multipart/{id}?{q}")).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (409, Some("upload_completed")),
        "{v}"
    );
    let key = done["key"].as_str().unwrap();
    assert_eq!(fetch_object(&store.handle, key).await.1, bytes(100, 1));
    // The replica that completed it signs no more part URLs for it.
    let (status, v) = get(&format!("{base}/s3/multipart/{id}/2?{q}"), Some(API_KEY)).await;
    gone(status, &v);
    // Another replica does not know it ended: it signs, and the store refuses the part with
    // 404 (which no uploader retries).
    let other = start_server(config(&store.handle)).await;
    let (status, one) = get(
        &format!("{}/s3/multipart/{id}/2?{q}", other.base),
        Some(API_KEY),
    )
    .await;
    assert_eq!(status, 200, "{one}");
    let r = put(one["url"].as_str().unwrap(), &json!({}), bytes(10, 0)).await;
    assert_eq!(r.status(), 404);
    other.stop().await;
    srv.stop().await;
}

#[tokio::test]
async fn v1_routes_after_abort_and_complete() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;
    let size = PART as usize + 10;

    // Aborted, then its state, completed, signed: gone everywhere.
    let up = create(base, json!({"size": size})).await;
    let url = format!("{base}/v1/uploads/{}", up["id"].as_str().unwrap());
    assert_eq!(delete(&url).await.0, 204);
    let (status, st) = get(&url, Some(API_KEY)).await;
    gone(status, &st);
    let (status, v) = post(&format!("{url}/complete"), Some(API_KEY), json!({})).await;
    gone(status, &v);
    let (status, v) = post(
        &format!("{url}/parts"),
        Some(API_KEY),
        json!({"numbers": [2]}),
    )
    .await;
    gone(status, &v);
    // Another replica signs (it does not know the upload ended); the store refuses the part.
    let other = start_server(config(&store.handle)).await;
    let other_url = url.replacen(base.as_str(), &other.base, 1);
    let (status, v) = post(
        &format!("{other_url}/parts"),
        Some(API_KEY),
        json!({"numbers": [2]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let late = put(
        v["parts"][0]["url"].as_str().unwrap(),
        &v["parts"][0]["headers"],
        bytes(10, 0),
    )
    .await;
    assert_eq!(late.status(), 404);

    // Completed, then listed, completed again, aborted.
    let up = create(base, json!({"size": size})).await;
    let url = format!("{base}/v1/uploads/{}", up["id"].as_str().unwrap());
    let data = bytes(size, 3);
    for (p, chunk) in up["parts"]
        .as_array()
        .unwrap()
        .iter()
        .zip(data.chunks(PART as usize))
    {
        let r = put(p["url"].as_str().unwrap(), &p["headers"], chunk.to_vec()).await;
        assert_eq!(r.status(), 200);
    }
    let (status, done) = post(&format!("{url}/complete"), Some(API_KEY), json!({})).await;
    assert_eq!(status, 200, "{done}");
    let (status, st) = get(&url, Some(API_KEY)).await;
    assert_eq!(
        (status, st["state"].as_str()),
        (200, Some("completed")),
        "{st}"
    );
    let (status, again) = post(&format!("{url}/complete"), Some(API_KEY), json!({})).await;
    assert_eq!((status, &again), (200, &done));
    let (status, v) = delete(&url).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (409, Some("upload_completed")),
        "{v}"
    );
    assert_eq!(
        fetch_object(&store.handle, up["key"].as_str().unwrap())
            .await
            .1,
        data
    );
    srv.stop().await;
}

#[tokio::test]
async fn sign_route_after_abort_and_complete() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;
    // An upload started through /s3/sign, then aborted by the browser on a signed URL.
    let (status, s) = post(
        &format!("{base}/s3/sign"),
        Some(API_KEY),
        json!({"method": "POST", "key": "a.bin"}),
    )
    .await;
    assert_eq!(status, 200, "{s}");
    let key = s["key"].as_str().unwrap().to_string();
    let resp = send(reqwest::Method::POST, &s).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let upload_id = text
        .split("<UploadId>")
        .nth(1)
        .and_then(|t| t.split("</UploadId>").next())
        .unwrap()
        .to_string();
    let sign = |method: &str| json!({"method": method, "key": key, "uploadId": upload_id});
    let (status, s) = post(&format!("{base}/s3/sign"), Some(API_KEY), sign("DELETE")).await;
    assert_eq!(status, 200, "{s}");
    let resp = send(reqwest::Method::DELETE, &s).await;
    assert_eq!(resp.status(), 204);
    // Completing the aborted upload is refused before anything is signed.
    let (status, v) = post(&format!("{base}/s3/sign"), Some(API_KEY), sign("POST")).await;
    gone(status, &v);
    assert_eq!(v["field"], "uploadId");
    srv.stop().await;
}
