//! No-clobber uploads: `if_none_match: "*"` (or a grant's `no_clobber` claim) makes the store
//! refuse to replace an object at the key, and the loser hears `412 already_exists`.

mod common;

use common::*;
use serde_json::{Value, json};

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

/// Creates a multipart upload of `data` at `key` through `/v1` and PUTs every part; the id
/// and the parts to complete with.
async fn uploaded(base: &str, key: &str, data: &[u8], extra: Value) -> (String, Value) {
    let mut body = json!({"size": data.len(), "key": key});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let up = create(base, body).await;
    assert_eq!(up["strategy"], "multipart", "{up}");
    let mut done = Vec::new();
    for p in up["parts"].as_array().unwrap() {
        let (off, len) = (
            p["offset"].as_u64().unwrap() as usize,
            p["length"].as_u64().unwrap() as usize,
        );
        let resp = put(s(&p["url"]), &p["headers"], data[off..off + len].to_vec()).await;
        assert_eq!(resp.status(), 200);
        let etag = resp.headers()["etag"].to_str().unwrap().to_string();
        done.push(json!({"number": p["number"], "etag": etag}));
    }
    (s(&up["id"]).to_string(), json!({ "parts": done }))
}

async fn complete(base: &str, id: &str, body: &Value) -> (u16, Value) {
    let url = format!("{base}/v1/uploads/{id}/complete");
    post(&url, Some(API_KEY), body.clone()).await
}

#[tokio::test]
async fn multipart_uploads_of_one_key_never_overwrite_each_other() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let key = "files/report.bin";
    let size = PART as usize + 1000;
    let (one, two) = (bytes(size, 1), bytes(size, 2));
    let no_clobber = json!({"if_none_match": "*"});
    let (id1, parts1) = uploaded(&srv.base, key, &one, no_clobber.clone()).await;
    let (id2, parts2) = uploaded(&srv.base, key, &two, no_clobber.clone()).await;

    let (status, first) = complete(&srv.base, &id1, &parts1).await;
    assert_eq!(status, 200, "{first}");
    let (status, v) = complete(&srv.base, &id2, &parts2).await;
    assert_eq!((status, s(&v["code"])), (412, "already_exists"), "{v}");
    assert!(s(&v["error"]).contains(key), "{v}");
    assert_eq!(fetch_object(&store.handle, key).await, (200, one.clone()));

    // The winner's Complete repeated (a lost answer) is answered as the first, though the
    // object now exists.
    let (status, again) = complete(&srv.base, &id1, &parts1).await;
    assert_eq!((status, &again), (200, &first));
    // The loser's, repeated, is refused again: its upload is still the store's to abort.
    let (status, v) = complete(&srv.base, &id2, &parts2).await;
    assert_eq!((status, s(&v["code"])), (412, "already_exists"), "{v}");
    assert_eq!(fetch_object(&store.handle, key).await, (200, one));

    // Without the option, an upload replaces the object as S3 does.
    let (id3, parts3) = uploaded(&srv.base, key, &two, json!({})).await;
    assert_eq!(complete(&srv.base, &id3, &parts3).await.0, 200);
    assert_eq!(fetch_object(&store.handle, key).await, (200, two));
    srv.stop().await;
}

#[tokio::test]
async fn concurrent_completes_of_one_key_have_exactly_one_winner() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let key = "files/race.bin";
    let size = 2 * PART as usize + 77;
    let (one, two) = (bytes(size, 3), bytes(size, 4));
    let no_clobber = json!({"if_none_match": "*"});
    let (id1, parts1) = uploaded(&srv.base, key, &one, no_clobber.clone()).await;
    let (id2, parts2) = uploaded(&srv.base, key, &two, no_clobber).await;
    let (a, b) = tokio::join!(
        complete(&srv.base, &id1, &parts1),
        complete(&srv.base, &id2, &parts2)
    );
    let (winner, loser) = match (a.0, b.0) {
        (200, _) => (&one, b),
        (_, 200) => (&two, a),
        _ => panic!("no upload won: {a:?} {b:?}"),
    };
    assert_eq!(
        (loser.0, s(&loser.1["code"])),
        (412, "already_exists"),
        "{loser:?}"
    );
    assert_eq!(
        fetch_object(&store.handle, key).await,
        (200, winner.clone())
    );
    srv.stop().await;
}

#[tokio::test]
async fn a_single_put_signs_if_none_match_and_the_store_refuses_the_second() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let key = "files/note.txt";
    let mut urls = Vec::new();
    for _ in 0..2 {
        let up = create(
            &srv.base,
            json!({"size": 5, "key": key, "if_none_match": "*"}),
        )
        .await;
        assert_eq!(up["strategy"], "single");
        assert_eq!(up["headers"]["if-none-match"], "*", "{up}");
        urls.push(up);
    }
    let resp = put(s(&urls[0]["url"]), &urls[0]["headers"], b"first".to_vec()).await;
    assert_eq!(resp.status(), 200);
    let resp = put(s(&urls[1]["url"]), &urls[1]["headers"], b"other".to_vec()).await;
    assert_eq!(resp.status(), 412);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("<Code>PreconditionFailed</Code>")
    );
    // Leaving the header out breaks the signature: the uploader cannot opt out.
    let mut without = urls[1]["headers"].clone();
    without.as_object_mut().unwrap().remove("if-none-match");
    assert_eq!(
        put(s(&urls[1]["url"]), &without, b"other".to_vec())
            .await
            .status(),
        403
    );
    assert_eq!(
        fetch_object(&store.handle, key).await,
        (200, b"first".to_vec())
    );

    // A URL signed again for the upload keeps the condition.
    let id = s(&urls[1]["id"]);
    let (status, again) = post(
        &format!("{}/v1/uploads/{id}/parts", srv.base),
        Some(API_KEY),
        json!({"numbers": [1]}),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["parts"][0]["headers"]["if-none-match"], "*");

    // Only `*` is a write's If-None-Match.
    let (status, v) = post(
        &format!("{}/v1/uploads", srv.base),
        Some(API_KEY),
        json!({"size": 5, "key": key, "if_none_match": "\"abc\""}),
    )
    .await;
    assert_eq!((status, s(&v["field"])), (400, "if_none_match"), "{v}");
    srv.stop().await;
}

#[tokio::test]
async fn a_grant_with_no_clobber_forces_it() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let grant = mint(
        "users/7",
        600,
        json!({"no_clobber": true, "choose_key": true}),
    );
    let (status, up) = post(
        &format!("{}/v1/uploads", srv.base),
        Some(&grant),
        json!({"size": 5, "key": "users/7/a.txt"}),
    )
    .await;
    assert_eq!(status, 201, "{up}");
    assert_eq!(up["headers"]["if-none-match"], "*", "{up}");
    let plain = mint("users/7", 600, json!({"choose_key": true}));
    let (_, up) = post(
        &format!("{}/v1/uploads", srv.base),
        Some(&plain),
        json!({"size": 5, "key": "users/7/a.txt"}),
    )
    .await;
    assert_eq!(up["headers"].get("if-none-match"), None, "{up}");
    srv.stop().await;
}

#[tokio::test]
async fn uppy_routes_refuse_to_replace_an_object() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;

    // GET /s3/params: the PUT URL signs If-None-Match; an object written at the key
    // meanwhile is not replaced.
    let (status, p) = get(
        &format!("{base}/s3/params?filename=a.txt&type=text%2Fplain&size=5&if_none_match=*"),
        Some(API_KEY),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["headers"]["if-none-match"], "*", "{p}");
    let key = s(&p["key"]).to_string();
    assert_eq!(
        put_object(&store.handle, &key, b"there".to_vec()).await,
        200
    );
    let resp = put(s(&p["url"]), &p["headers"], b"mine!".to_vec()).await;
    assert_eq!(resp.status(), 412);
    assert_eq!(fetch_object(&store.handle, &key).await.1, b"there");
    // A POST form cannot carry the condition: the answer is a PUT all the same.
    let (status, v) = get(
        &format!(
            "{base}/s3/params?filename=a.txt&type=text%2Fplain&size=5&if_none_match=*&method=POST"
        ),
        Some(API_KEY),
    )
    .await;
    assert_eq!((status, s(&v["method"])), (200, "PUT"), "{v}");
    assert_eq!(v["headers"]["if-none-match"], "*", "{v}");

    // POST /s3/multipart: Complete is sent with If-None-Match.
    let (status, c) = post(
        &format!("{base}/s3/multipart"),
        Some(API_KEY),
        json!({"filename": "b.bin", "type": "application/octet-stream", "if_none_match": "*"}),
    )
    .await;
    assert_eq!(status, 200, "{c}");
    let (id, key) = (s(&c["uploadId"]), s(&c["key"]));
    let q = format!("key={}", hoist_core::encoding::uri_encode(key));
    let (_, one) = get(&format!("{base}/s3/multipart/{id}/1?{q}"), Some(API_KEY)).await;
    let r = put(s(&one["url"]), &json!({}), bytes(1000, 9)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(put_object(&store.handle, key, b"there".to_vec()).await, 200);
    let (status, v) = post(
        &format!("{base}/s3/multipart/{id}/complete?{q}"),
        Some(API_KEY),
        json!({"parts": [{"PartNumber": 1}]}),
    )
    .await;
    assert_eq!((status, s(&v["code"])), (412, "already_exists"), "{v}");
    assert_eq!(fetch_object(&store.handle, key).await.1, b"there");

    // POST /s3/sign: a PutObject signed with If-None-Match.
    let (status, signed) = post(
        &format!("{base}/s3/sign"),
        Some(API_KEY),
        json!({"method": "PUT", "key": "c.txt", "contentType": "text/plain", "size": 5, "ifNoneMatch": "*"}),
    )
    .await;
    assert_eq!(status, 200, "{signed}");
    assert_eq!(signed["headers"]["if-none-match"], "*", "{signed}");
    let key = s(&signed["key"]);
    assert_eq!(put_object(&store.handle, key, b"there".to_vec()).await, 200);
    let resp = put(s(&signed["url"]), &signed["headers"], b"mine!".to_vec()).await;
    assert_eq!(resp.status(), 412);
    srv.stop().await;
}
