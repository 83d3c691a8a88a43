//! `POST /s3/sign` (`@uppy/aws-s3` 6.x `signRequest`): the S3 calls Uppy 6 makes, each signed
//! by the coordinator and sent straight to the real store with reqwest, and every refusal.

mod common;

use common::*;
use serde_json::{Value, json};

async fn sign(base: &str, auth: Option<&str>, body: Value) -> (u16, Value) {
    post(&format!("{base}/s3/sign"), auth, body).await
}

/// Sign and expect 200.
async fn signed(base: &str, auth: &str, body: Value) -> Value {
    let (status, v) = sign(base, Some(auth), body.clone()).await;
    assert_eq!(status, 200, "{body} -> {v}");
    v
}

/// Send what was signed, as the browser does: `method` to `url` with the answer's headers.
async fn send(method: reqwest::Method, s: &Value, body: Vec<u8>) -> reqwest::Response {
    let mut rb = reqwest::Client::new().request(method, s["url"].as_str().unwrap());
    for (k, v) in s["headers"].as_object().unwrap() {
        rb = rb.header(k.as_str(), v.as_str().unwrap());
    }
    rb.body(body).send().await.unwrap()
}

fn xml_field(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no {tag} in {xml}"))
        + open.len();
    let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
    xml[start..end].to_string()
}

fn x_amz_expires(url: &str) -> u64 {
    let q = url.split_once('?').unwrap().1;
    q.split('&')
        .find_map(|p| p.strip_prefix("X-Amz-Expires="))
        .unwrap()
        .parse()
        .unwrap()
}

/// Create a multipart upload through /s3/sign as Uppy 6 does: (key, S3 upload id).
async fn create_multipart(base: &str, auth: &str, name: &str) -> (String, String) {
    let s = signed(base, auth, json!({"method": "POST", "key": name})).await;
    let resp = send(reqwest::Method::POST, &s, Vec::new()).await;
    assert_eq!(resp.status(), 200);
    let xml = resp.text().await.unwrap();
    (
        s["key"].as_str().unwrap().to_string(),
        xml_field(&xml, "UploadId"),
    )
}

#[tokio::test]
async fn uppy6_multipart_and_single_put_reach_the_store() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;

    // CreateMultipartUpload: the key is chosen here, under the prefix, from Uppy's file name.
    let (key, upload_id) = create_multipart(base, API_KEY, "5c1f-uuid-movie file.mp4").await;
    assert!(
        key.starts_with("files/") && key.ends_with("/5c1f-uuid-movie_file.mp4"),
        "{key}"
    );
    let data = bytes(PART as usize + 3, 9);
    let mut etags = Vec::new();
    for (n, chunk) in [(1, &data[..PART as usize]), (2, &data[PART as usize..])] {
        let s = signed(
            base,
            API_KEY,
            json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": n}),
        )
        .await;
        assert_eq!(s["key"], key.as_str());
        let resp = send(reqwest::Method::PUT, &s, chunk.to_vec()).await;
        assert_eq!(resp.status(), 200);
        etags.push(resp.headers()["etag"].to_str().unwrap().to_string());
    }
    // ListParts, straight from the store.
    let s = signed(
        base,
        API_KEY,
        json!({"method": "GET", "key": key, "uploadId": upload_id}),
    )
    .await;
    let listed = send(reqwest::Method::GET, &s, Vec::new())
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(listed.matches("<Part>").count(), 2, "{listed}");
    // CompleteMultipartUpload with Uppy's XML body.
    let s = signed(
        base,
        API_KEY,
        json!({"method": "POST", "key": key, "uploadId": upload_id}),
    )
    .await;
    let body = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{}</ETag></Part><Part><PartNumber>2</PartNumber><ETag>{}</ETag></Part></CompleteMultipartUpload>",
        etags[0], etags[1]
    );
    let resp = send(reqwest::Method::POST, &s, body.into_bytes()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(fetch_object(&store.handle, &key).await.1, data);
    // Completing again is refused up front: the upload is gone.
    let (status, v) = sign(
        base,
        Some(API_KEY),
        json!({"method": "POST", "key": key, "uploadId": upload_id}),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (404, Some("upload_gone")),
        "{v}"
    );

    // Single PUT: content type and length pinned.
    let s = signed(
        base,
        API_KEY,
        json!({"method": "PUT", "key": "hello.txt", "contentType": "text/plain", "size": 11}),
    )
    .await;
    assert_eq!(s["headers"]["content-type"], "text/plain");
    assert!(s["headers"].get("content-length").is_none());
    let key = s["key"].as_str().unwrap();
    let resp = send(reqwest::Method::PUT, &s, b"hello world".to_vec()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(fetch_object(&store.handle, key).await.1, b"hello world");
    // A longer body than the signed size is refused by the store.
    let s = signed(
        base,
        API_KEY,
        json!({"method": "PUT", "key": "x.txt", "contentType": "text/plain", "size": 3}),
    )
    .await;
    let resp = send(reqwest::Method::PUT, &s, b"four".to_vec()).await;
    assert_eq!(resp.status(), 403);

    // Abort leaves nothing behind.
    let (key, upload_id) = create_multipart(base, API_KEY, "gone.bin").await;
    assert_eq!(multipart_uploads(&store.handle, &key).await, 1);
    let s = signed(
        base,
        API_KEY,
        json!({"method": "DELETE", "key": key, "uploadId": upload_id}),
    )
    .await;
    assert_eq!(
        send(reqwest::Method::DELETE, &s, Vec::new()).await.status(),
        204
    );
    assert_eq!(multipart_uploads(&store.handle, &key).await, 0);
    srv.stop().await;
}

#[tokio::test]
async fn expires_in_is_clamped_to_the_ttl_policy() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;
    let (key, upload_id) = create_multipart(base, API_KEY, "a.bin").await;
    let part = |e: Value| json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": 1, "expiresIn": e});
    let s = signed(base, API_KEY, part(json!(30 * 86_400))).await;
    assert_eq!(
        (
            x_amz_expires(s["url"].as_str().unwrap()),
            s["expiresIn"].as_u64()
        ),
        (3600, Some(3600))
    );
    let s = signed(base, API_KEY, part(json!(1))).await;
    assert_eq!(x_amz_expires(s["url"].as_str().unwrap()), 300);
    let s = signed(base, API_KEY, part(json!(1200))).await;
    assert_eq!(x_amz_expires(s["url"].as_str().unwrap()), 1200);
    let (status, v) = sign(base, Some(API_KEY), part(json!(-5))).await;
    assert_eq!(
        (status, v["field"].as_str()),
        (400, Some("expiresIn")),
        "{v}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn bad_requests_are_clear_4xx() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;
    let (key, upload_id) = create_multipart(base, API_KEY, "a.bin").await;

    let raw = reqwest::Client::new()
        .post(format!("{base}/s3/sign"))
        .header("authorization", format!("Bearer {API_KEY}"))
        .header("content-type", "application/json")
        .body("{\"method\": \"PUT\", ")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let v: Value = serde_json::from_slice(&raw.bytes().await.unwrap()).unwrap();
    assert_eq!(v["code"], "malformed_json");

    let cases = [
        (json!({"key": "a"}), 400, "method"),
        (json!({"method": "PUT"}), 400, "key"),
        (
            json!({"method": "HEAD", "key": key, "uploadId": upload_id}),
            400,
            "method",
        ),
        (json!({"method": "COPY", "key": "a"}), 400, "method"),
        (json!({"method": "GET", "key": key}), 403, "method"),
        (json!({"method": "DELETE", "key": key}), 403, "method"),
        (
            json!({"method": "PUT", "key": key, "uploadId": upload_id}),
            400,
            "partNumber",
        ),
        (
            json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": 0}),
            400,
            "partNumber",
        ),
        (
            json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": 10_001}),
            400,
            "partNumber",
        ),
        (
            json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": 4_294_967_297u64}),
            400,
            "partNumber",
        ),
        (
            json!({"method": "GET", "key": key, "uploadId": upload_id, "partNumber": 2}),
            400,
            "partNumber",
        ),
        (
            json!({"method": "GET", "key": key, "uploadId": "a b"}),
            400,
            "uploadId",
        ),
        (
            json!({"method": "PUT", "key": "../../etc/passwd"}),
            400,
            "key",
        ),
        (
            json!({"method": "GET", "key": "files/../secret", "uploadId": upload_id}),
            400,
            "key",
        ),
        (
            json!({"method": "GET", "key": "", "uploadId": upload_id}),
            400,
            "key",
        ),
        (
            json!({"method": "POST", "key": "a.bin", "size": 10}),
            400,
            "size",
        ),
        (
            json!({"method": "PUT", "key": "a.bin", "contentType": "not a type"}),
            400,
            "content_type",
        ),
        (
            json!({"method": "PUT", "key": "a.bin", "size": 6_000_000_000u64}),
            400,
            "size",
        ),
    ];
    for (body, status, field) in cases {
        let (s, v) = sign(base, Some(API_KEY), body.clone()).await;
        assert_eq!(
            (s, v["field"].as_str()),
            (status, Some(field)),
            "{body} -> {v}"
        );
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    }
    let (status, v) = sign(base, None, json!({"method": "PUT", "key": "a"})).await;
    assert_eq!(status, 401, "{v}");
    srv.stop().await;
}

#[tokio::test]
async fn keys_and_uploads_of_other_callers_are_refused() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;
    let (key, upload_id) = create_multipart(base, API_KEY, "mine.bin").await;
    let get_parts = |k: &str, id: &str| json!({"method": "GET", "key": k, "uploadId": id});

    // Another API key may not touch the key, whatever the operation.
    for body in [
        get_parts(&key, &upload_id),
        json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": 1}),
        json!({"method": "POST", "key": key, "uploadId": upload_id}),
        json!({"method": "DELETE", "key": key, "uploadId": upload_id}),
    ] {
        let (status, v) = sign(base, Some(OTHER_API_KEY), body.clone()).await;
        assert_eq!(
            (status, v["field"].as_str()),
            (403, Some("key")),
            "{body} -> {v}"
        );
    }
    // A key the caller made up, under the right prefix, or with a tag changed by one digit.
    let (status, _) = sign(
        base,
        Some(API_KEY),
        get_parts("files/x/mine.bin", &upload_id),
    )
    .await;
    assert_eq!(status, 403);
    let (folder_end, _) = key.rmatch_indices('/').next().unwrap();
    let mut forged = key.clone().into_bytes();
    forged[folder_end - 1] = if forged[folder_end - 1] == b'0' {
        b'1'
    } else {
        b'0'
    };
    let forged = String::from_utf8(forged).unwrap();
    let (status, _) = sign(base, Some(API_KEY), get_parts(&forged, &upload_id)).await;
    assert_eq!(status, 403);
    // Same tag and folder, another file name: the name is bound too.
    let renamed = format!("{}/other.bin", &key[..folder_end]);
    let (status, _) = sign(base, Some(API_KEY), get_parts(&renamed, &upload_id)).await;
    assert_eq!(status, 403);

    // The other caller's own key with the first caller's uploadId: the part URL is useless (the
    // store binds an upload id to its key) and completion is refused before signing.
    let (other_key, _) = create_multipart(base, OTHER_API_KEY, "theirs.bin").await;
    let s = signed(
        base,
        OTHER_API_KEY,
        json!({"method": "PUT", "key": other_key, "uploadId": upload_id, "partNumber": 1}),
    )
    .await;
    let resp = send(reqwest::Method::PUT, &s, bytes(1000, 1)).await;
    assert_eq!(resp.status(), 404);
    assert!(resp.text().await.unwrap().contains("NoSuchUpload"));
    let (status, v) = sign(
        base,
        Some(OTHER_API_KEY),
        json!({"method": "POST", "key": other_key, "uploadId": upload_id}),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (404, Some("upload_gone")),
        "{v}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn grants_bind_keys_to_their_user_and_limits() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;
    let alice = mint(
        "users/alice",
        600,
        json!({"max_size": 6 * 1024 * 1024, "content_types": ["image/*", "application/octet-stream"]}),
    );
    // Same prefix, another user: still not Alice's keys.
    let bob = mint("users/alice", 600, json!({"sub": "bob"}));
    let carol = mint("users/carol", 600, json!({}));

    let (key, upload_id) = create_multipart(base, &alice, "photo.png").await;
    assert!(key.starts_with("users/alice/"), "{key}");
    for other in [&bob, &carol] {
        let (status, v) = sign(
            base,
            Some(other),
            json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": 1}),
        )
        .await;
        assert_eq!(status, 403, "{v}");
    }

    // Content types and sizes of the grant.
    let (status, v) = sign(
        base,
        Some(&alice),
        json!({"method": "PUT", "key": "a.html", "contentType": "text/html", "size": 3}),
    )
    .await;
    assert_eq!(
        (status, v["field"].as_str()),
        (403, Some("content_type")),
        "{v}"
    );
    let (status, v) = sign(
        base,
        Some(&alice),
        json!({"method": "PUT", "key": "a.png", "contentType": "image/png"}),
    )
    .await;
    assert_eq!((status, v["field"].as_str()), (400, Some("size")), "{v}");
    let (status, v) = sign(base, Some(&alice), json!({"method": "PUT", "key": "a.png", "contentType": "image/png", "size": 7 * 1024 * 1024})).await;
    assert_eq!((status, v["field"].as_str()), (403, Some("size")), "{v}");

    // A multipart upload past the grant's 6 MiB is refused at completion, and aborted.
    for n in [1, 2] {
        let s = signed(
            base,
            &alice,
            json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": n}),
        )
        .await;
        let resp = send(reqwest::Method::PUT, &s, bytes(PART as usize, n as u8)).await;
        assert_eq!(resp.status(), 200);
    }
    let (status, v) = sign(
        base,
        Some(&alice),
        json!({"method": "POST", "key": key, "uploadId": upload_id}),
    )
    .await;
    assert_eq!(
        (status, v["field"].as_str()),
        (400, Some("uploadId")),
        "{v}"
    );
    assert!(v["error"].as_str().unwrap().contains("aborted"), "{v}");
    assert_eq!(multipart_uploads(&store.handle, &key).await, 0);
    srv.stop().await;
}
