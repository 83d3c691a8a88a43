//! Checksums through the coordinator, against the real embedded store: part URLs that pin a
//! part's checksum as a signed header, completions that name every part's checksum and the
//! object's, and answers that carry the store's own.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use serde_json::{Value, json};
use sha2::Digest as _;

/// CRC-64/NVME, bit by bit (reflected polynomial 0x9A6C9329AC4BC9B5): an independent
/// reference, slow but plain.
fn crc64nvme(data: &[u8]) -> u64 {
    let mut crc = !0u64;
    for &b in data {
        crc ^= u64::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x9A6C_9329_AC4B_C9B5
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// CRC-32C, bit by bit (reflected polynomial 0x82F63B78).
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn b64_crc64(data: &[u8]) -> String {
    STANDARD.encode(crc64nvme(data).to_be_bytes())
}

#[test]
fn reference_crcs_match_the_catalogue() {
    assert_eq!(crc64nvme(b"123456789"), 0xAE8B_1486_0A79_9888);
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
}

async fn sign(base: &str, id: &str, body: Value) -> (u16, Value) {
    post(
        &format!("{base}/v1/uploads/{id}/parts"),
        Some(API_KEY),
        body,
    )
    .await
}

async fn complete(base: &str, id: &str, body: Value) -> (u16, Value) {
    post(
        &format!("{base}/v1/uploads/{id}/complete"),
        Some(API_KEY),
        body,
    )
    .await
}

/// Error code of an S3 XML answer.
async fn s3_code(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    let code = body
        .split("<Code>")
        .nth(1)
        .and_then(|s| s.split("</Code>").next())
        .unwrap_or("")
        .to_string();
    (status, code)
}

fn etag(resp: &reqwest::Response) -> String {
    resp.headers()["etag"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn signed_part_checksum_refuses_altered_bodies_and_completes_full_object() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let size = PART as usize + 70_001;
    let data = bytes(size, 11);
    let halves = [&data[..PART as usize], &data[PART as usize..]];
    let up = create(
        &srv.base,
        json!({"size": size, "checksum": {"algorithm": "crc64nvme"}}),
    )
    .await;
    assert_eq!(up["strategy"], "multipart");
    // Part URLs of a checksummed upload are signed with each part's checksum, on request.
    assert_eq!(up["parts"], json!([]), "{up}");
    assert_eq!(
        (&up["checksum_algorithm"], &up["checksum_type"]),
        (&json!("crc64nvme"), &json!("FULL_OBJECT"))
    );
    let id = up["id"].as_str().unwrap();
    // A caller that comes back with only the id learns that part checksums are due.
    let (_, st) = get(&format!("{}/v1/uploads/{id}", srv.base), Some(API_KEY)).await;
    assert_eq!(st["checksum_algorithm"], "crc64nvme", "{st}");

    let (status, v) = sign(&srv.base, id, json!({"numbers": [1]})).await;
    assert_eq!(
        (status, v["field"].as_str()),
        (409, Some("checksums.1")),
        "{v}"
    );

    let sums: Vec<String> = halves.iter().map(|h| b64_crc64(h)).collect();
    let (status, signed) = sign(
        &srv.base,
        id,
        json!({"numbers": [1, 2], "checksums": {"1": sums[0], "2": sums[1]}}),
    )
    .await;
    assert_eq!(status, 200, "{signed}");
    let p1 = &signed["parts"][0];
    assert_eq!(p1["headers"]["x-amz-checksum-crc64nvme"], sums[0].as_str());
    let url1 = p1["url"].as_str().unwrap();
    assert!(
        url1.contains("x-amz-checksum-crc64nvme"),
        "the checksum is a signed header: {url1}"
    );

    // One byte changed, the header as signed: the store checks the body against it.
    let mut altered = halves[0].to_vec();
    altered[12_345] ^= 0x20;
    let resp = put(url1, &p1["headers"], altered.clone()).await;
    assert_eq!(s3_code(resp).await, (400, "BadDigest".to_string()));
    // Describing the altered body instead breaks the signature.
    let mut forged = p1["headers"].clone();
    forged["x-amz-checksum-crc64nvme"] = json!(b64_crc64(&altered));
    let resp = put(url1, &forged, altered).await;
    assert_eq!(
        s3_code(resp).await,
        (403, "SignatureDoesNotMatch".to_string())
    );
    // Nothing of it was stored.
    let (_, st) = get(&format!("{}/v1/uploads/{id}", srv.base), Some(API_KEY)).await;
    assert_eq!(st["parts"], json!([]), "{st}");

    let mut parts = Vec::new();
    for (i, p) in signed["parts"].as_array().unwrap().iter().enumerate() {
        let resp = put(
            p["url"].as_str().unwrap(),
            &p["headers"],
            halves[i].to_vec(),
        )
        .await;
        assert_eq!(resp.status(), 200);
        parts.push(json!({"number": i + 1, "etag": etag(&resp), "checksum": sums[i]}));
    }
    let (_, st) = get(&format!("{}/v1/uploads/{id}", srv.base), Some(API_KEY)).await;
    assert_eq!(st["parts"][1]["checksum"], sums[1].as_str(), "{st}");

    let whole = b64_crc64(&data);
    let (status, done) = complete(&srv.base, id, json!({"parts": parts, "checksum": whole})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["checksum"], whole.as_str(), "{done}");
    assert_eq!(done["checksum_algorithm"], "crc64nvme");
    assert_eq!(done["checksum_type"], "FULL_OBJECT");
    assert_eq!(done["size"], size);
    let key = up["key"].as_str().unwrap();
    assert_eq!(fetch_object(&store.handle, key).await, (200, data));
    // Completing again answers the same, checksum included.
    let (status, again) = complete(&srv.base, id, json!({})).await;
    assert_eq!((status, &again), (200, &done));
    srv.stop().await;
}

/// Uploads both parts of a crc64nvme upload of `data`; the id and the parts to complete with.
async fn uploaded(srv: &Server, data: &[u8]) -> (String, String, Vec<Value>) {
    let up = create(
        &srv.base,
        json!({"size": data.len(), "checksum": {"algorithm": "crc64nvme", "type": "FULL_OBJECT"}}),
    )
    .await;
    let id = up["id"].as_str().unwrap().to_string();
    let halves = [&data[..PART as usize], &data[PART as usize..]];
    let sums: Vec<String> = halves.iter().map(|h| b64_crc64(h)).collect();
    let (_, signed) = sign(
        &srv.base,
        &id,
        json!({"numbers": [1, 2], "checksums": {"1": sums[0], "2": sums[1]}}),
    )
    .await;
    let mut parts = Vec::new();
    for (i, p) in signed["parts"].as_array().unwrap().iter().enumerate() {
        let resp = put(
            p["url"].as_str().unwrap(),
            &p["headers"],
            halves[i].to_vec(),
        )
        .await;
        assert_eq!(resp.status(), 200);
        parts.push(json!({"number": i + 1, "etag": etag(&resp), "checksum": sums[i]}));
    }
    (id, up["key"].as_str().unwrap().to_string(), parts)
}

#[tokio::test]
async fn a_wrong_checksum_at_completion_is_refused_and_leaves_the_upload() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let data = bytes(PART as usize + 999, 5);
    let (id, key, parts) = uploaded(&srv, &data).await;

    // The object's checksum of other bytes: the store refuses to complete.
    let mut other = data.clone();
    other[0] ^= 1;
    let (status, v) = complete(
        &srv.base,
        &id,
        json!({"parts": parts, "checksum": b64_crc64(&other)}),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str(), v["field"].as_str()),
        (422, Some("checksum_mismatch"), Some("checksum")),
        "{v}"
    );
    assert_eq!(multipart_uploads(&store.handle, &key).await, 1);
    assert_eq!(fetch_object(&store.handle, &key).await.0, 404);

    // A part described with another checksum than the store holds.
    let mut wrong = parts.clone();
    wrong[1]["checksum"] = json!(b64_crc64(b"not this part"));
    let (status, v) = complete(&srv.base, &id, json!({"parts": wrong})).await;
    assert_eq!(
        (status, v["code"].as_str(), v["field"].as_str()),
        (422, Some("checksum_mismatch"), Some("parts[1].checksum")),
        "{v}"
    );

    let (status, v) = complete(
        &srv.base,
        &id,
        json!({"parts": parts, "checksum": b64_crc64(&data)}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(fetch_object(&store.handle, &key).await, (200, data));
    srv.stop().await;
}

#[tokio::test]
async fn s3_rules_on_checksum_types_and_values() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let big = PART + 1;
    // A type S3 never allows is malformed; a whole-object value conflicts with the plan
    // (multipart) this size gets.
    for (checksum, status_wanted, field) in [
        (
            json!({"algorithm": "crc64nvme", "type": "COMPOSITE"}),
            400,
            "checksum.type",
        ),
        (
            json!({"algorithm": "sha256", "type": "FULL_OBJECT"}),
            400,
            "checksum.type",
        ),
        (
            json!({"algorithm": "crc32c", "value": "4waSgw=="}),
            409,
            "checksum.value",
        ),
        (json!({"algorithm": "md5"}), 400, "checksum.algorithm"),
    ] {
        let (status, v) = post(
            &format!("{}/v1/uploads", srv.base),
            Some(API_KEY),
            json!({"size": big, "checksum": checksum}),
        )
        .await;
        assert_eq!(
            (status, v["field"].as_str()),
            (status_wanted, Some(field)),
            "{v}"
        );
    }
    // Part checksums for an upload made without an algorithm are refused, not ignored.
    let up = create(&srv.base, json!({"size": big})).await;
    let (status, v) = sign(
        &srv.base,
        up["id"].as_str().unwrap(),
        json!({"numbers": [1], "checksums": {"1": b64_crc64(b"x")}}),
    )
    .await;
    assert_eq!(
        (status, v["field"].as_str()),
        (409, Some("checksums")),
        "{v}"
    );
    // Old requests still get their first batch of URLs, and no word of checksums.
    assert_eq!(up["parts"].as_array().unwrap().len(), 2);
    assert!(up.get("checksum_algorithm").is_none(), "{up}");
    srv.stop().await;
}

#[tokio::test]
async fn composite_sha256_multipart() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let data = bytes(PART as usize + 3, 9);
    let halves = [&data[..PART as usize], &data[PART as usize..]];
    let up = create(
        &srv.base,
        json!({"size": data.len(), "checksum": {"algorithm": "sha256"}}),
    )
    .await;
    let id = up["id"].as_str().unwrap();
    let digests: Vec<[u8; 32]> = halves
        .iter()
        .map(|h| sha2::Sha256::digest(h).into())
        .collect();
    let sums: Vec<String> = digests.iter().map(|d| STANDARD.encode(d)).collect();
    let (status, signed) = sign(
        &srv.base,
        id,
        json!({"numbers": [1, 2], "checksums": {"1": sums[0], "2": sums[1]}}),
    )
    .await;
    assert_eq!(status, 200, "{signed}");
    let mut parts = Vec::new();
    for (i, p) in signed["parts"].as_array().unwrap().iter().enumerate() {
        let resp = put(
            p["url"].as_str().unwrap(),
            &p["headers"],
            halves[i].to_vec(),
        )
        .await;
        assert_eq!(resp.status(), 200);
        parts.push(json!({"number": i + 1, "etag": etag(&resp), "checksum": sums[i]}));
    }
    let mut h = sha2::Sha256::new();
    h.update(digests[0]);
    h.update(digests[1]);
    let composite = format!("{}-2", STANDARD.encode(h.finalize()));
    let (status, done) = complete(
        &srv.base,
        id,
        json!({"parts": parts, "checksum": composite}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["checksum_type"], "COMPOSITE", "{done}");
    assert_eq!(
        done["checksum"].as_str().unwrap().split('-').next(),
        composite.split('-').next(),
        "{done}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn single_put_pins_the_checksum_sent_when_signing_and_counts_its_completion() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let data = bytes(300_000, 2);
    let up = create(
        &srv.base,
        json!({"size": data.len(), "checksum": {"algorithm": "crc32c"}}),
    )
    .await;
    assert_eq!(up["strategy"], "single");
    let id = up["id"].as_str().unwrap();
    let sum = STANDARD.encode(crc32c(&data).to_be_bytes());
    let (status, signed) = sign(
        &srv.base,
        id,
        json!({"numbers": [1], "checksums": {"1": sum}}),
    )
    .await;
    assert_eq!(status, 200, "{signed}");
    let p = &signed["parts"][0];
    assert_eq!(p["headers"]["x-amz-checksum-crc32c"], sum.as_str());
    let mut altered = data.clone();
    altered[7] ^= 0xff;
    let resp = put(p["url"].as_str().unwrap(), &p["headers"], altered).await;
    assert_eq!(s3_code(resp).await, (400, "BadDigest".to_string()));
    let resp = put(p["url"].as_str().unwrap(), &p["headers"], data.clone()).await;
    assert_eq!(resp.status(), 200);

    let metrics = || async {
        reqwest::get(format!("{}/metrics", srv.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let completed = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("hoist_uploads_total{outcome=\"completed\"}"))
            .map(|l| l.rsplit(' ').next().unwrap().to_string())
    };
    assert_eq!(completed(&metrics().await).as_deref(), Some("0"));
    let (status, done) = complete(&srv.base, id, json!({"checksum": sum})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["checksum"], sum.as_str());
    assert_eq!(done["checksum_algorithm"], "crc32c");
    assert_eq!(completed(&metrics().await).as_deref(), Some("1"));

    let (status, v) = complete(
        &srv.base,
        id,
        json!({"checksum": STANDARD.encode(crc32c(b"other").to_be_bytes())}),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (422, Some("checksum_mismatch")),
        "{v}"
    );
    srv.stop().await;
}
