//! The Uppy (`@uppy/aws-s3` 4.x/5.x) routes, driven as Uppy drives them.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn uppy_single_and_multipart() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;

    // Single: GET /s3/params, then PUT with the headers it names.
    let (status, p) = get(
        &format!("{base}/s3/params?filename=hello%20world.txt&type=text%2Fplain&metadata%5Bname%5D=hello&size=11"),
        Some(API_KEY),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["method"], "PUT");
    assert_eq!(p["headers"]["content-type"], "text/plain");
    let resp = put(
        p["url"].as_str().unwrap(),
        &p["headers"],
        b"hello world".to_vec(),
    )
    .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let key = p["key"].as_str().unwrap();
    assert!(key.ends_with("/hello_world.txt"), "{key}");
    assert_eq!(fetch_object(&store.handle, key).await.1, b"hello world");

    // Multipart: create, sign each part (one and batch), list, complete.
    let (status, c) = post(
        &format!("{base}/s3/multipart"),
        Some(API_KEY),
        json!({"filename": "movie.mp4", "type": "video/mp4", "metadata": {"name": "movie.mp4", "n": 1}}),
    )
    .await;
    assert_eq!(status, 200, "{c}");
    let (id, key) = (c["uploadId"].as_str().unwrap(), c["key"].as_str().unwrap());
    let enc = |s: &str| hoist_core::encoding::uri_encode(s);
    let q = format!("key={}", enc(key));
    let data = bytes(PART as usize + 3, 5);

    let (status, one) = get(&format!("{base}/s3/multipart/{id}/1?{q}"), Some(API_KEY)).await;
    assert_eq!(status, 200, "{one}");
    assert!(one["expires"].as_u64().unwrap() > 0);
    let r1 = put(
        one["url"].as_str().unwrap(),
        &json!({}),
        data[..PART as usize].to_vec(),
    )
    .await;
    assert_eq!(r1.status(), 200);
    let (status, batch) = get(
        &format!("{base}/s3/multipart/{id}/batch?{q}&partNumbers=2"),
        Some(API_KEY),
    )
    .await;
    assert_eq!(status, 200, "{batch}");
    let r2 = put(
        batch["presignedUrls"]["2"].as_str().unwrap(),
        &json!({}),
        data[PART as usize..].to_vec(),
    )
    .await;
    assert_eq!(r2.status(), 200);
    let etag1 = r1.headers()["etag"].to_str().unwrap().to_string();

    let (status, listed) = get(&format!("{base}/s3/multipart/{id}?{q}"), Some(API_KEY)).await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[1]["Size"], 3);

    // The key, when given, must be the upload's: S3 answers NoSuchUpload otherwise.
    let (status, v) = get(
        &format!("{base}/s3/multipart/{id}/1?key=other"),
        Some(API_KEY),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (404, Some("no_such_upload")),
        "{v}"
    );
    let (status, v) = get(&format!("{base}/s3/multipart/{id}/0?{q}"), Some(API_KEY)).await;
    assert_eq!(
        (status, v["field"].as_str()),
        (400, Some("partNumber")),
        "{v}"
    );

    // Part 2's ETag was hidden from the browser; the coordinator reads it.
    let (status, done) = post(
        &format!("{base}/s3/multipart/{id}/complete?{q}"),
        Some(API_KEY),
        json!({"parts": [{"PartNumber": 1, "ETag": etag1}, {"PartNumber": 2}]}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert!(
        done["location"]
            .as_str()
            .unwrap()
            .contains(&format!("/{BUCKET}/"))
    );
    assert_eq!(fetch_object(&store.handle, key).await.1, data);

    // Abort of another upload leaves nothing.
    let (_, c2) = post(
        &format!("{base}/s3/multipart"),
        Some(API_KEY),
        json!({"filename": "x", "type": ""}),
    )
    .await;
    let (id2, key2) = (
        c2["uploadId"].as_str().unwrap(),
        c2["key"].as_str().unwrap(),
    );
    assert_eq!(multipart_uploads(&store.handle, key2).await, 1);
    let (status, v): (u16, Value) = call(
        reqwest::Method::DELETE,
        &format!("{base}/s3/multipart/{id2}?key={}", enc(key2)),
        Some(API_KEY),
        None,
    )
    .await;
    assert_eq!((status, v), (200, json!({})));
    assert_eq!(multipart_uploads(&store.handle, key2).await, 0);
    srv.stop().await;
}

#[tokio::test]
async fn uppy_size_limit_enforced_at_completion() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle).with_max_upload_size(PART)).await;
    let base = &srv.base;
    let (_, c) = post(
        &format!("{base}/s3/multipart"),
        Some(API_KEY),
        json!({"filename": "f", "type": "a/b"}),
    )
    .await;
    let (id, key) = (c["uploadId"].as_str().unwrap(), c["key"].as_str().unwrap());
    let q = format!("key={}", hoist_core::encoding::uri_encode(key));
    for n in 1..=2 {
        let (_, one) = get(&format!("{base}/s3/multipart/{id}/{n}?{q}"), Some(API_KEY)).await;
        let r = put(
            one["url"].as_str().unwrap(),
            &json!({}),
            bytes(PART as usize, n as u8),
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    let (status, v) = post(
        &format!("{base}/s3/multipart/{id}/complete?{q}"),
        Some(API_KEY),
        json!({"parts": []}),
    )
    .await;
    assert_eq!((status, v["field"].as_str()), (400, Some("parts")), "{v}");
    assert_eq!(multipart_uploads(&store.handle, key).await, 0, "aborted");
    srv.stop().await;
}
