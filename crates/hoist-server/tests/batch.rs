//! `POST /v1/uploads/batch` and `POST /v1/uploads/batch/complete` against the real store:
//! each item answered for itself, a folder kept by its token, `unless_stored` skipping what is
//! already stored, and the refusals of a whole request.

mod common;

use base64::Engine as _;
use common::*;
use hoist_core::checksum::{ChecksumAlgorithm, etag};
use serde_json::{Value, json};

fn crc64(data: &[u8]) -> String {
    ChecksumAlgorithm::Crc64Nvme.digest(data).to_base64()
}

fn md5_hex(data: &[u8]) -> String {
    etag::md5(data).iter().map(|b| format!("{b:02x}")).collect()
}

async fn batch(base: &str, auth: Option<&str>, body: Value) -> (u16, Value) {
    post(&format!("{base}/v1/uploads/batch"), auth, body).await
}

async fn complete_batch(base: &str, auth: Option<&str>, ids: &[&str]) -> (u16, Value) {
    let uploads: Vec<Value> = ids.iter().map(|id| json!({"id": id})).collect();
    post(
        &format!("{base}/v1/uploads/batch/complete"),
        auth,
        json!({"uploads": uploads}),
    )
    .await
}

/// The statuses of a batch answer's items, in order.
fn statuses(v: &Value) -> Vec<u64> {
    v["uploads"]
        .as_array()
        .unwrap_or_else(|| panic!("no uploads in {v}"))
        .iter()
        .map(|i| i["status"].as_u64().unwrap())
        .collect()
}

async fn metrics(base: &str) -> String {
    reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_mixed_batch_answers_each_item_and_is_completed_in_one_request() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;
    let (a, b, c) = (bytes(1000, 1), bytes(2345, 2), bytes(7, 3));
    let path = "photos/été 2024/a b ü.jpg";
    let (status, v) = batch(
        base,
        Some(API_KEY),
        json!({"uploads": [
            {"size": a.len(), "key": "batch/a.txt",
             "checksum": {"algorithm": "crc64nvme", "value": crc64(&a)}},
            {"size": b.len(), "path": path, "content_type": "image/jpeg",
             "checksum": {"algorithm": "crc64nvme", "value": crc64(&b)}},
            {"size": PART + 1},
            {"size": 5, "key": "a//b"},
            {"size": c.len(), "filename": "c.bin", "metadata": {"n": "3"},
             "checksum": {"algorithm": "crc64nvme", "value": crc64(&c)}},
            {"size": 5, "key": "batch/both", "path": "both"},
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(statuses(&v), [201, 201, 201, 400, 201, 400], "{v}");
    let items = v["uploads"].as_array().unwrap();
    assert_eq!(items[3]["error"]["code"], "invalid_field", "{v}");
    assert_eq!(items[3]["error"]["field"], "key", "{v}");
    assert!(items[3].get("upload").is_none(), "{v}");
    assert_eq!(items[5]["error"]["field"], "path", "{v}");

    // The path lands in the folder, under the coordinator's key prefix.
    let prefix = v["prefix"].as_str().unwrap();
    assert!(prefix.starts_with("files/") && prefix.ends_with('/'), "{v}");
    assert_eq!(prefix.len(), "files/".len() + 36 + 1, "{prefix}");
    assert!(v["folder"].as_str().is_some_and(|f| !f.is_empty()), "{v}");
    let up = |i: usize| &items[i]["upload"];
    assert_eq!(up(1)["key"], format!("{prefix}{path}"));
    assert_eq!(up(0)["key"], "batch/a.txt");
    assert_eq!(up(2)["strategy"], "multipart");
    assert_eq!(up(2)["parts"].as_array().unwrap().len(), 2);
    // A single PUT with a value has it pinned into its URL.
    for (i, body) in [(0, &a), (1, &b), (4, &c)] {
        assert_eq!(up(i)["strategy"], "single", "{v}");
        assert_eq!(
            up(i)["headers"]["x-amz-checksum-crc64nvme"],
            crc64(body),
            "{v}"
        );
    }
    // A body other than the one described is refused by the store.
    let resp = put(
        up(0)["url"].as_str().unwrap(),
        &up(0)["headers"],
        bytes(1000, 9),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 400);
    for (i, body) in [(0, &a), (1, &b), (4, &c)] {
        let resp = put(
            up(i)["url"].as_str().unwrap(),
            &up(i)["headers"],
            body.clone(),
        )
        .await;
        assert_eq!(resp.status().as_u16(), 200, "item {i}");
    }

    let id = |i: usize| up(i)["id"].as_str().unwrap().to_owned();
    let (status, done) = complete_batch(
        base,
        Some(API_KEY),
        &[&id(0), &id(1), &id(2), "not-a-token", &id(4)],
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(statuses(&done), [200, 200, 409, 401, 200], "{done}");
    let done = done["uploads"].as_array().unwrap();
    assert_eq!(done[2]["error"]["code"], "parts_missing");
    assert_eq!(done[3]["error"]["code"], "bad_token");
    for (i, body) in [(0, &a), (1, &b), (4, &c)] {
        let completed = &done[i]["completed"];
        assert_eq!(completed["key"], up(i)["key"]);
        assert_eq!(completed["size"], body.len());
        assert_eq!(completed["checksum"], crc64(body));
        let key = completed["key"].as_str().unwrap();
        assert_eq!(fetch_object(&store.handle, key).await, (200, body.to_vec()));
    }
    // Another caller completes none of them.
    let (status, other) = complete_batch(base, Some(OTHER_API_KEY), &[&id(0)]).await;
    assert_eq!((status, statuses(&other)), (200, vec![403]), "{other}");

    let text = metrics(base).await;
    assert!(
        text.contains("hoist_batch_items_total{result=\"created\"} 4"),
        "{text}"
    );
    assert!(
        text.contains("hoist_batch_items_total{result=\"completed\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("hoist_batch_items_total{result=\"failed\"} 5"),
        "{text}"
    );
    assert!(
        text.contains("hoist_uploads_total{outcome=\"created\"} 4"),
        "{text}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn the_batch_routes_are_not_taken_for_an_upload_id() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;
    // `/v1/uploads/{id}` answers GET; the literal `batch` route does not.
    let (status, v) = get(&format!("{base}/v1/uploads/batch"), Some(API_KEY)).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (405, Some("method_not_allowed")),
        "{v}"
    );
    let (status, v) = get(&format!("{base}/v1/uploads/batch/complete"), Some(API_KEY)).await;
    assert_eq!(status, 405, "{v}");
    // An upload whose id were `batch` is still an upload route: a bad token.
    let (status, v) = get(&format!("{base}/v1/uploads/batch2"), Some(API_KEY)).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("bad_token")),
        "{v}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn a_folder_token_continues_the_folder_for_its_caller_only() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;
    let (status, first) = batch(
        base,
        Some(API_KEY),
        json!({"uploads": [{"size": 3, "path": "tree/one.txt"}]}),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let (folder, prefix) = (
        first["folder"].as_str().unwrap(),
        first["prefix"].as_str().unwrap(),
    );
    // Short and URL-safe.
    assert!(folder.len() <= 64, "{folder}");
    assert!(
        folder
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{folder}"
    );

    let (status, again) = batch(
        base,
        Some(API_KEY),
        json!({"folder": folder, "uploads": [{"size": 3, "path": "tree/two.txt"}]}),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["prefix"], prefix);
    assert_eq!(again["folder"], folder);
    assert_eq!(
        again["uploads"][0]["upload"]["key"],
        format!("{prefix}tree/two.txt")
    );

    // A replica sharing the token secret continues it too.
    let replica = start_server(config(&store.handle)).await;
    let (status, there) = batch(
        &replica.base,
        Some(API_KEY),
        json!({"folder": folder, "uploads": [{"size": 3, "path": "tree/three.txt"}]}),
    )
    .await;
    assert_eq!(
        (status, &there["prefix"]),
        (200, &first["prefix"]),
        "{there}"
    );

    // Without the token, a new folder.
    let (_, fresh) = batch(
        base,
        Some(API_KEY),
        json!({"uploads": [{"size": 3, "path": "tree/one.txt"}]}),
    )
    .await;
    assert_ne!(fresh["prefix"], first["prefix"], "{fresh}");
    assert_ne!(fresh["folder"], first["folder"], "{fresh}");

    // A tampered token, or another caller's, creates nothing.
    let mut raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(folder)
        .unwrap();
    raw[5] ^= 1;
    let tampered = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw);
    let grant = mint("users/u1", 600, json!({}));
    let refused = [
        (API_KEY, tampered.as_str()),
        (OTHER_API_KEY, folder),
        (grant.as_str(), folder),
        (API_KEY, "not a token at all"),
    ];
    for (who, token) in refused {
        let (status, v) = batch(
            base,
            Some(who),
            json!({"folder": token, "uploads": [
                {"size": PART + 1, "key": "users/u1/refused.bin"},
                {"size": 3, "path": "tree/refused.txt"},
            ]}),
        )
        .await;
        assert_eq!(status, 403, "{v}");
        assert_eq!(
            (v["code"].as_str(), v["field"].as_str()),
            (Some("bad_folder"), Some("folder")),
            "{v}"
        );
        assert!(
            !v.to_string().contains(folder),
            "the token is not echoed: {v}"
        );
    }
    assert_eq!(
        multipart_uploads(&store.handle, "users/u1/refused.bin").await,
        0
    );
    replica.stop().await;
    srv.stop().await;
}

#[tokio::test]
async fn a_grants_paths_land_under_its_prefix_and_its_keys_stay_checked() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;
    let no_choice = mint("users/u1", 600, json!({}));
    let (status, v) = batch(
        base,
        Some(&no_choice),
        json!({"uploads": [
            {"size": 4, "path": "docs/a b.txt"},
            {"size": 4, "key": "users/u1/chosen.txt"},
            {"size": 4},
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(statuses(&v), [201, 403, 201], "{v}");
    let prefix = v["prefix"].as_str().unwrap();
    assert!(prefix.starts_with("users/u1/"), "{prefix}");
    assert_eq!(
        v["uploads"][0]["upload"]["key"],
        format!("{prefix}docs/a b.txt")
    );
    assert_eq!(v["uploads"][1]["error"]["field"], "key", "{v}");
    assert!(
        v["uploads"][2]["upload"]["key"]
            .as_str()
            .unwrap()
            .starts_with("users/u1/")
    );
    let body = b"grnt".to_vec();
    let single = &v["uploads"][0]["upload"];
    let resp = put(
        single["url"].as_str().unwrap(),
        &single["headers"],
        body.clone(),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    let (status, done) =
        complete_batch(base, Some(&no_choice), &[single["id"].as_str().unwrap()]).await;
    assert_eq!((status, statuses(&done)), (200, vec![200]), "{done}");
    let key = single["key"].as_str().unwrap();
    assert_eq!(fetch_object(&store.handle, key).await, (200, body));

    let chooser = mint("users/u2", 600, json!({"choose_key": true}));
    let (status, v) = batch(
        base,
        Some(&chooser),
        json!({"uploads": [
            {"size": 4, "key": "users/u2/ok.txt"},
            {"size": 4, "key": "users/u1/theirs.txt"},
            {"size": 4, "key": "users/u1/theirs.txt",
             "unless_stored": {"md5": md5_hex(b"grnt")}},
            {"size": 4, "content_type": "text/plain", "metadata": {"Bad Name": "x"}},
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(statuses(&v), [201, 403, 403, 400], "{v}");
    assert_eq!(
        v["uploads"][3]["error"]["field"], "metadata.Bad Name",
        "{v}"
    );
    // No folder was used.
    assert!(
        v.get("folder").is_none() && v.get("prefix").is_none(),
        "{v}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn unless_stored_skips_an_identical_object_and_creates_otherwise() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;
    let (a, b) = (bytes(4096, 4), bytes(300, 5));
    let (status, v) = batch(
        base,
        Some(API_KEY),
        json!({"uploads": [
            {"size": a.len(), "path": "s/a.bin",
             "checksum": {"algorithm": "crc64nvme", "value": crc64(&a)}},
            {"size": b.len(), "path": "s/b.bin"},
        ]}),
    )
    .await;
    assert_eq!((status, statuses(&v)), (200, vec![201, 201]), "{v}");
    let folder = v["folder"].as_str().unwrap().to_owned();
    let prefix = v["prefix"].as_str().unwrap().to_owned();
    for (i, body) in [(0, &a), (1, &b)] {
        let up = &v["uploads"][i]["upload"];
        let resp = put(up["url"].as_str().unwrap(), &up["headers"], body.clone()).await;
        assert_eq!(resp.status().as_u16(), 200);
    }

    let other = bytes(300, 6);
    let (status, v) = batch(
        base,
        Some(API_KEY),
        json!({"folder": folder, "uploads": [
            {"size": a.len(), "path": "s/a.bin", "unless_stored": {"md5": md5_hex(&a)}},
            {"size": a.len(), "path": "s/a.bin",
             "unless_stored": {"checksum": {"algorithm": "crc64nvme", "value": crc64(&a)}}},
            {"size": a.len(), "path": "s/a.bin",
             "unless_stored": {"md5": md5_hex(&a).to_uppercase(),
                               "checksum": {"algorithm": "crc64nvme", "value": crc64(&other)}}},
            {"size": b.len(), "path": "s/b.bin", "unless_stored": {"md5": md5_hex(&other)}},
            {"size": b.len() + 1, "path": "s/b.bin", "unless_stored": {"md5": md5_hex(&b)}},
            {"size": a.len(), "path": "s/a.bin",
             "unless_stored": {"checksum": {"algorithm": "crc64nvme", "value": crc64(&other)}}},
            {"size": 3, "path": "s/new.bin", "unless_stored": {"md5": md5_hex(b"new")}},
            {"size": 3, "unless_stored": {"md5": md5_hex(b"new")}},
            {"size": 3, "path": "s/x", "unless_stored": {"md5": "xyz"}},
            {"size": 3, "path": "s/x", "unless_stored": {}},
            {"size": 3, "path": "s/x",
             "unless_stored": {"checksum": {"algorithm": "crc64nvme", "value": "AAAA"}}},
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        statuses(&v),
        [200, 200, 200, 201, 201, 201, 201, 400, 400, 400, 400],
        "{v}"
    );
    let items = v["uploads"].as_array().unwrap();
    let key_a = format!("{prefix}s/a.bin");
    for skipped in &items[..3] {
        let s = &skipped["skipped"];
        assert_eq!(s["key"], key_a.as_str(), "{skipped}");
        assert_eq!(s["size"], a.len());
        assert_eq!(
            s["etag"].as_str().unwrap().trim_matches('"'),
            md5_hex(&a),
            "{skipped}"
        );
        assert!(skipped.get("upload").is_none());
    }
    assert_eq!(items[3]["upload"]["key"], format!("{prefix}s/b.bin"));
    assert_eq!(items[6]["upload"]["key"], format!("{prefix}s/new.bin"));
    let fields: Vec<&str> = items[7..]
        .iter()
        .map(|i| i["error"]["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "unless_stored",
            "unless_stored.md5",
            "unless_stored",
            "unless_stored.checksum.value"
        ]
    );
    // The skipped object is untouched.
    assert_eq!(fetch_object(&store.handle, &key_a).await, (200, a.clone()));
    let text = metrics(base).await;
    assert!(
        text.contains("hoist_batch_items_total{result=\"skipped\"} 3"),
        "{text}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn a_whole_request_is_refused_only_for_what_concerns_it_all() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;

    // Authentication before anything in the body.
    for route in ["/v1/uploads/batch", "/v1/uploads/batch/complete"] {
        let resp = reqwest::Client::new()
            .post(format!("{base}{route}"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{route}");
        let v: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        assert_eq!(v["code"], "unauthenticated", "{v}");

        let resp = reqwest::Client::new()
            .post(format!("{base}{route}"))
            .header("authorization", format!("Bearer {API_KEY}"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{route}");
        let v: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        assert_eq!(v["code"], "malformed_json", "{v}");

        let (status, v) = post(
            &format!("{base}{route}"),
            Some(API_KEY),
            json!({"uploads": []}),
        )
        .await;
        assert_eq!((status, v["field"].as_str()), (400, Some("uploads")), "{v}");
    }

    // 1000 items are one request; 1001 are refused, naming the limit.
    let many: Vec<Value> = (0..1000)
        .map(|i| {
            json!({"size": 10, "path": format!("many/{i:04} with a fairly long name.txt"),
                   "metadata": {"origin": "a-batch-of-a-thousand-files"}})
        })
        .collect();
    let (status, v) = batch(base, Some(API_KEY), json!({"uploads": many})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(statuses(&v), vec![201; 1000]);
    let mut too_many = many.clone();
    too_many.push(json!({"size": 1}));
    let (status, v) = batch(base, Some(API_KEY), json!({"uploads": too_many})).await;
    assert_eq!((status, v["field"].as_str()), (400, Some("uploads")), "{v}");
    assert!(v["error"].as_str().unwrap().contains("1000"), "{v}");
    let ids: Vec<Value> = (0..1001).map(|_| json!({"id": "x"})).collect();
    let (status, v) = post(
        &format!("{base}/v1/uploads/batch/complete"),
        Some(API_KEY),
        json!({"uploads": ids}),
    )
    .await;
    assert_eq!((status, v["field"].as_str()), (400, Some("uploads")), "{v}");

    // A body not valid as a whole: a wrong type or an unknown field names its place.
    let (status, v) = batch(
        base,
        Some(API_KEY),
        json!({"uploads": [{"size": 1}, {"size": "ten"}]}),
    )
    .await;
    assert_eq!(
        (status, v["field"].as_str()),
        (400, Some("uploads[1].size")),
        "{v}"
    );
    let (status, v) = batch(
        base,
        Some(API_KEY),
        json!({"uploads": [{"size": 1, "colour": "red"}]}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["field"].as_str().unwrap().starts_with("uploads[0]"),
        "{v}"
    );
    let (status, v) = post(
        &format!("{base}/v1/uploads/batch/complete"),
        Some(API_KEY),
        json!({"uploads": [{"id": "x", "parts": [{"number": "one"}]}]}),
    )
    .await;
    assert_eq!(
        (status, v["field"].as_str()),
        (400, Some("uploads[0].parts[0].number")),
        "{v}"
    );
    let (status, v) = post(
        &format!("{base}/v1/uploads/batch/complete"),
        Some(API_KEY),
        json!({"uploads": [{"id": "x"}, {"id": "y", "parts": [{"number": 1}, {"number": 0}]}]}),
    )
    .await;
    assert_eq!(
        (status, v["field"].as_str()),
        (400, Some("uploads[1].parts[1].number")),
        "{v}"
    );
    let (status, v) = batch(
        base,
        Some(API_KEY),
        json!({"uploads": [{"size": 1, "unless_stored": [null, null]}]}),
    )
    .await;
    assert_eq!(
        (status, v["field"].as_str()),
        (400, Some("uploads[0].unless_stored")),
        "{v}"
    );
    // A body over the batch routes' limit.
    let huge = json!({"uploads": [{"size": 1, "filename": "x".repeat(9 << 20)}]});
    let (status, v) = batch(base, Some(API_KEY), huge).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (413, Some("body_unreadable")),
        "{v}"
    );
    srv.stop().await;
}
