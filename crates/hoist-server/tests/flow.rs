//! The whole upload flow over HTTP: the real embedded store, the real coordinator, reqwest as
//! the uploader PUTting bytes to the presigned URLs.

mod common;

use common::*;
use serde_json::{Value, json};

fn url(v: &Value) -> &str {
    v["url"].as_str().unwrap()
}

#[tokio::test]
async fn single_put_round_trip_and_idempotent_complete() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let data = bytes(100_000, 1);
    let up = create(
        &srv.base,
        json!({"size": data.len(), "filename": "../report 2025.pdf", "content_type": "application/pdf"}),
    )
    .await;
    assert_eq!(up["strategy"], "single");
    let key = up["key"].as_str().unwrap().to_string();
    assert!(
        key.starts_with("files/") && key.ends_with("/report_2025.pdf"),
        "{key}"
    );
    assert_eq!(up["headers"]["content-type"], "application/pdf");
    assert_eq!(up["headers"]["content-length"], data.len().to_string());
    let id = up["id"].as_str().unwrap();

    // Not there yet: completing is a conflict, the state says pending.
    let (status, v) = post(
        &format!("{}/v1/uploads/{id}/complete", srv.base),
        Some(API_KEY),
        json!({}),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (409, Some("not_uploaded")),
        "{v}"
    );
    let (_, st) = get(&format!("{}/v1/uploads/{id}", srv.base), Some(API_KEY)).await;
    assert_eq!(st["state"], "pending");

    let resp = put(url(&up), &up["headers"], data.clone()).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

    let complete = format!("{}/v1/uploads/{id}/complete", srv.base);
    let (status, first) = post(&complete, Some(API_KEY), json!({})).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["size"], data.len());
    assert_eq!(first["key"], key.as_str());
    let (status, second) = post(&complete, Some(API_KEY), json!({})).await;
    assert_eq!((status, &second), (200, &first));
    assert_eq!(fetch_object(&store.handle, &key).await, (200, data));
    let (_, st) = get(&format!("{}/v1/uploads/{id}", srv.base), Some(API_KEY)).await;
    assert_eq!(st["state"], "completed", "{st}");
    srv.stop().await;
}

#[tokio::test]
async fn multipart_round_trip_with_etags() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let size = 2 * PART as usize + 12_345;
    let data = bytes(size, 7);
    let up = create(&srv.base, json!({"size": size, "filename": "big.bin"})).await;
    assert_eq!(up["strategy"], "multipart");
    assert_eq!(
        (up["part_size"].as_u64(), up["part_count"].as_u64()),
        (Some(PART), Some(3))
    );
    let parts = up["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    let mut done = Vec::new();
    for p in parts {
        let (off, len) = (
            p["offset"].as_u64().unwrap() as usize,
            p["length"].as_u64().unwrap() as usize,
        );
        assert_eq!(p["headers"]["content-length"], len.to_string());
        let resp = put(url(p), &p["headers"], data[off..off + len].to_vec()).await;
        assert_eq!(resp.status(), 200);
        let etag = resp.headers()["etag"].to_str().unwrap().to_string();
        done.push(json!({"number": p["number"], "etag": etag}));
    }
    let id = up["id"].as_str().unwrap();
    let (status, v) = post(
        &format!("{}/v1/uploads/{id}/complete", srv.base),
        Some(API_KEY),
        json!({ "parts": done }),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert!(v["etag"].as_str().unwrap().ends_with("-3\""), "{v}");
    assert_eq!(v["size"], size);
    let key = up["key"].as_str().unwrap();
    assert_eq!(fetch_object(&store.handle, key).await, (200, data));
    // The second call answers the same, the upload id being gone by now.
    let (status, again) = post(
        &format!("{}/v1/uploads/{id}/complete", srv.base),
        Some(API_KEY),
        json!({"parts": done}),
    )
    .await;
    assert_eq!((status, &again), (200, &v));
    srv.stop().await;
}

#[tokio::test]
async fn resume_from_state_and_complete_without_etags() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle).with_first_batch(1)).await;
    let size = 2 * PART as usize + 1;
    let data = bytes(size, 3);
    let up = create(&srv.base, json!({"size": size})).await;
    assert_eq!(
        up["parts"].as_array().unwrap().len(),
        1,
        "first batch of one"
    );
    let id = up["id"].as_str().unwrap().to_string();
    let parts_url = format!("{}/v1/uploads/{id}/parts", srv.base);
    let (status, signed) = post(&parts_url, Some(API_KEY), json!({"numbers": [1, 3]})).await;
    assert_eq!(status, 200, "{signed}");
    for p in signed["parts"].as_array().unwrap() {
        let (off, len) = (
            p["offset"].as_u64().unwrap() as usize,
            p["length"].as_u64().unwrap() as usize,
        );
        assert_eq!(
            put(url(p), &p["headers"], data[off..off + len].to_vec())
                .await
                .status(),
            200
        );
    }

    // "After a reload": only the id is known; the state says what is stored.
    let (status, st) = get(&format!("{}/v1/uploads/{id}", srv.base), Some(API_KEY)).await;
    assert_eq!(status, 200, "{st}");
    assert_eq!(st["state"], "uploading");
    assert_eq!(st["missing"], json!([2]));
    let stored: Vec<u64> = st["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["number"].as_u64().unwrap())
        .collect();
    assert_eq!(stored, [1, 3]);
    assert_eq!(st["parts"][1]["size"], 1);

    // Completing now names the missing part.
    let complete = format!("{}/v1/uploads/{id}/complete", srv.base);
    let (status, v) = post(&complete, Some(API_KEY), json!({})).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (409, Some("parts_missing")),
        "{v}"
    );
    assert!(v["error"].as_str().unwrap().contains(": 2"), "{v}");

    let (_, signed) = post(&parts_url, Some(API_KEY), json!({"numbers": [2]})).await;
    let p = &signed["parts"][0];
    assert_eq!(
        put(
            url(p),
            &p["headers"],
            data[PART as usize..2 * PART as usize].to_vec()
        )
        .await
        .status(),
        200
    );
    // No body at all, as a browser whose CORS hides ETags sends.
    let resp = reqwest::Client::new()
        .post(&complete)
        .header("authorization", format!("Bearer {API_KEY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json_value().await;
    assert_eq!(v["size"], size);
    assert_eq!(
        fetch_object(&store.handle, up["key"].as_str().unwrap())
            .await
            .1,
        data
    );
    srv.stop().await;
}

#[tokio::test]
async fn abort_leaves_nothing() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let size = PART as usize + 10;
    let up = create(&srv.base, json!({"size": size})).await;
    let key = up["key"].as_str().unwrap().to_string();
    let p = &up["parts"][0];
    assert_eq!(
        put(url(p), &p["headers"], bytes(PART as usize, 0))
            .await
            .status(),
        200
    );
    assert_eq!(multipart_uploads(&store.handle, &key).await, 1);

    let id = up["id"].as_str().unwrap();
    let del = format!("{}/v1/uploads/{id}", srv.base);
    let (status, _) = call(reqwest::Method::DELETE, &del, Some(API_KEY), None).await;
    assert_eq!(status, 204);
    assert_eq!(multipart_uploads(&store.handle, &key).await, 0);
    let (status, _) = call(reqwest::Method::DELETE, &del, Some(API_KEY), None).await;
    assert_eq!(status, 204, "aborting twice is fine");
    let (status, st) = get(&del, Some(API_KEY)).await;
    assert_eq!(
        (status, st["code"].as_str()),
        (404, Some("upload_gone")),
        "{st}"
    );
    let (status, v) = post(&format!("{del}/complete"), Some(API_KEY), json!({})).await;
    assert_eq!((status, v["code"].as_str()), (404, Some("upload_gone")));
    // A part URL signed before the abort cannot bring the upload back.
    let late = put(
        url(&up["parts"][1]),
        &up["parts"][1]["headers"],
        bytes(10, 0),
    )
    .await;
    assert_eq!(late.status(), 404);
    srv.stop().await;
}

#[tokio::test]
async fn token_works_on_a_second_instance_with_the_same_key() {
    let store = start_store().await;
    let a = start_server(config(&store.handle)).await;
    let b = start_server(config(&store.handle)).await;
    let size = PART as usize + 100;
    let data = bytes(size, 9);
    let up = create(&a.base, json!({"size": size})).await;
    let id = up["id"].as_str().unwrap();
    a.stop().await;
    let (status, signed) = post(
        &format!("{}/v1/uploads/{id}/parts", b.base),
        Some(API_KEY),
        json!({"numbers": [1, 2]}),
    )
    .await;
    assert_eq!(status, 200, "{signed}");
    for p in signed["parts"].as_array().unwrap() {
        let (off, len) = (
            p["offset"].as_u64().unwrap() as usize,
            p["length"].as_u64().unwrap() as usize,
        );
        assert_eq!(
            put(url(p), &p["headers"], data[off..off + len].to_vec())
                .await
                .status(),
            200
        );
    }
    let (status, v) = post(
        &format!("{}/v1/uploads/{id}/complete", b.base),
        Some(API_KEY),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        fetch_object(&store.handle, up["key"].as_str().unwrap())
            .await
            .1,
        data
    );

    // A coordinator with another key refuses the token.
    let c = start_server(
        config(&store.handle).with_token_secret(b"another secret, 32 bytes long!!!".to_vec()),
    )
    .await;
    let (status, v) = get(&format!("{}/v1/uploads/{id}", c.base), Some(API_KEY)).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("bad_token")),
        "{v}"
    );
    b.stop().await;
    c.stop().await;
}

#[tokio::test]
async fn store_refuses_a_bigger_body_than_planned() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let up = create(
        &srv.base,
        json!({"size": 1000, "content_type": "text/plain"}),
    )
    .await;
    let resp = put(url(&up), &up["headers"], bytes(1001, 0)).await;
    assert!(
        resp.status().is_client_error(),
        "single PUT of 1001 bytes: {}",
        resp.status()
    );
    // The pinned content type must be sent as signed.
    let resp = reqwest::Client::new()
        .put(url(&up))
        .header("content-type", "text/html")
        .body(bytes(1000, 0))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    let size = PART as usize + 5;
    let up = create(&srv.base, json!({"size": size})).await;
    let p = &up["parts"][1];
    let resp = put(url(p), &p["headers"], bytes(6, 0)).await;
    assert!(
        resp.status().is_client_error(),
        "last part of 6 bytes instead of 5: {}",
        resp.status()
    );
    srv.stop().await;
}

/// `reqwest` is built without its `json` feature here; read bodies through serde_json.
trait JsonValue {
    async fn json_value(self) -> Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        serde_json::from_slice(&self.bytes().await.unwrap()).unwrap()
    }
}
