//! Every byte range the coordinator hands out (create, sign parts, state) is hoist-core's
//! `Plan::part`, including a plan whose part size grew past the policy's and whose last part is
//! short; an uploader slicing by those ranges stores the object intact.

mod common;

use common::*;
use hoist_core::plan::{MIB, ObjectSize, Plan, PlanPolicy, plan};
use serde_json::{Value, json};

fn range(p: &Value) -> (u64, u64, u64) {
    (
        p["number"].as_u64().unwrap(),
        p["offset"].as_u64().unwrap(),
        p["length"].as_u64().unwrap(),
    )
}

fn planned(plan: &Plan, n: u64) -> (u64, u64, u64) {
    let part = plan.part(n as u32).unwrap();
    (n, part.offset, part.length)
}

#[tokio::test]
async fn answers_carry_the_plans_ranges() {
    let store = start_store().await;
    // Three parts at most: 15 MiB + 12345 bytes needs 6 MiB parts, not the policy's 5 MiB, and
    // the last is 3 MiB + 12345.
    let policy = PlanPolicy::default()
        .with_single_put_threshold(PART)
        .with_part_size(PART)
        .with_max_parts(3);
    let srv = start_server(config(&store.handle).with_plan(policy).with_first_batch(2)).await;
    let size = 3 * PART + 12_345;
    let want = plan(ObjectSize::Known(size), &policy).unwrap();
    assert_eq!((want.part_size, want.part_count), (6 * MIB, Some(3)));
    assert_eq!(want.part(3).unwrap().length, 3 * MIB + 12_345);

    let data = bytes(size as usize, 3);
    let up = create(&srv.base, json!({"size": size})).await;
    assert_eq!(up["part_size"], want.part_size);
    assert_eq!(up["part_count"], 3);
    let first: Vec<_> = up["parts"].as_array().unwrap().iter().map(range).collect();
    assert_eq!(first, [planned(&want, 1), planned(&want, 2)]);

    let id = up["id"].as_str().unwrap();
    let (status, signed) = post(
        &format!("{}/v1/uploads/{id}/parts", srv.base),
        Some(API_KEY),
        json!({"numbers": [3, 1]}),
    )
    .await;
    assert_eq!(status, 200, "{signed}");
    let signed = signed["parts"].as_array().unwrap().clone();
    let got: Vec<_> = signed.iter().map(range).collect();
    assert_eq!(got, [planned(&want, 3), planned(&want, 1)]);
    for p in &signed {
        assert_eq!(p["headers"]["content-length"], p["length"].to_string());
    }

    // Parts 3 (the short one) and 1 stored, each sliced by the range it came with.
    for p in &signed {
        let (_, off, len) = range(p);
        let body = data[off as usize..(off + len) as usize].to_vec();
        let resp = put(p["url"].as_str().unwrap(), &p["headers"], body).await;
        assert_eq!(resp.status(), 200);
    }
    let (status, st) = get(&format!("{}/v1/uploads/{id}", srv.base), Some(API_KEY)).await;
    assert_eq!(status, 200, "{st}");
    assert_eq!(st["missing"], json!([2]), "{st}");
    let stored: Vec<_> = st["parts"].as_array().unwrap().iter().map(range).collect();
    assert_eq!(stored, [planned(&want, 1), planned(&want, 3)]);
    for p in st["parts"].as_array().unwrap() {
        assert_eq!(p["size"], p["length"], "{st}");
    }

    // The missing part's range comes with its URL; the object reads back byte for byte.
    let p2 = &up["parts"][1];
    let (_, off, len) = range(p2);
    let resp = put(
        p2["url"].as_str().unwrap(),
        &p2["headers"],
        data[off as usize..(off + len) as usize].to_vec(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let (status, done) = post(
        &format!("{}/v1/uploads/{id}/complete", srv.base),
        Some(API_KEY),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    let key = up["key"].as_str().unwrap();
    assert_eq!(fetch_object(&store.handle, key).await, (200, data));
    srv.stop().await;
}

#[tokio::test]
async fn a_single_puts_range_is_the_whole_object() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let up = create(&srv.base, json!({"size": 1000})).await;
    assert_eq!(up["strategy"], "single");
    let id = up["id"].as_str().unwrap();
    let (status, signed) = post(
        &format!("{}/v1/uploads/{id}/parts", srv.base),
        Some(API_KEY),
        json!({"numbers": [1]}),
    )
    .await;
    assert_eq!(status, 200, "{signed}");
    assert_eq!(range(&signed["parts"][0]), (1, 0, 1000));
    srv.stop().await;
}
