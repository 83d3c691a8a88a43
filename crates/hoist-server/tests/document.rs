//! Where `/openapi.json` is precise, the code answers as it says: integers are JSON Schema's
//! (a number without a fraction), the Uppy routes' `key` is optional and a wrong one is 404 as
//! S3's NoSuchUpload, a single PUT has nothing to abort (409), and an aborted multipart upload
//! is gone (404) on every route, its state included.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn whole_numbers_written_with_a_fraction_part_are_integers() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;

    let up = create(base, json!({"size": 1024.0})).await;
    assert_eq!(up["size"], 1024, "{up}");
    let (status, v) = post(
        &format!("{base}/v1/uploads"),
        Some(API_KEY),
        json!({"size": 1.5}),
    )
    .await;
    assert_eq!((status, v["field"].as_str()), (400, Some("size")), "{v}");

    let big = create(base, json!({"size": (PART * 2) as f64})).await;
    let id = big["id"].as_str().unwrap();
    let (status, v) = post(
        &format!("{base}/v1/uploads/{id}/parts"),
        Some(API_KEY),
        json!({"numbers": [2.0]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["parts"][0]["number"], 2, "{v}");
}

#[tokio::test]
async fn the_uppy_key_is_optional_and_a_wrong_one_is_no_such_upload() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;
    let c = uppy_create(base).await;
    let id = c["uploadId"].as_str().unwrap();
    let key = c["key"].as_str().unwrap();

    let (status, v) = get(&format!("{base}/s3/multipart/{id}/1"), Some(API_KEY)).await;
    assert_eq!(status, 200, "without key: {v}");
    let (status, v) = get(
        &format!("{base}/s3/multipart/{id}/1?key={}", enc(key)),
        Some(API_KEY),
    )
    .await;
    assert_eq!(status, 200, "with its key: {v}");
    for route in ["", "/1", "/batch?partNumbers=1&"] {
        let sep = if route.contains('?') { "" } else { "?" };
        let url = format!("{base}/s3/multipart/{id}{route}{sep}key=other%2Fkey");
        let (status, v) = get(&url, Some(API_KEY)).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (404, Some("no_such_upload")),
            "{url}: {v}"
        );
    }
}

#[tokio::test]
async fn a_single_put_has_nothing_to_abort_and_an_aborted_upload_is_gone() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let base = &srv.base;

    let single = create(base, json!({"size": 10})).await;
    let url = format!("{base}/v1/uploads/{}", single["id"].as_str().unwrap());
    let (status, v) = call(reqwest::Method::DELETE, &url, Some(API_KEY), None).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (409, Some("nothing_to_abort")),
        "{v}"
    );
    let (status, v) = get(&url, Some(API_KEY)).await;
    assert_eq!((status, v["state"].as_str()), (200, Some("pending")), "{v}");

    let multi = create(base, json!({"size": PART + 1})).await;
    let url = format!("{base}/v1/uploads/{}", multi["id"].as_str().unwrap());
    let (status, _) = call(reqwest::Method::DELETE, &url, Some(API_KEY), None).await;
    assert_eq!(status, 204);
    let (status, v) = get(&url, Some(API_KEY)).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (404, Some("upload_gone")),
        "{v}"
    );
}
