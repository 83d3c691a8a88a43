//! `GET /_hoist/metrics`: the store's Prometheus metrics, read without credentials after the
//! AWS SDK has sent it known requests. Counts are compared with what was sent.

mod common;

use std::collections::HashMap;

use aws_sdk_s3::primitives::ByteStream;
use common::*;

/// Every sample of the text format, by its name and labels as written.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').expect("a sample is `name value`");
            (name.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

async fn scrape(store: &TestStore) -> HashMap<String, f64> {
    let answer = raw(store.addr(), "GET", "/_hoist/metrics", &[], b"").await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    samples(&answer.text())
}

#[tokio::test]
async fn requests_bytes_and_the_index_are_counted() {
    let store = TestStore::start().await;
    let s3 = store.client();
    let before = scrape(&store).await;
    assert_eq!(before["hoist_store_buckets"], 1.0);
    assert_eq!(before["hoist_store_objects"], 0.0);

    let body = bytes_of(100_000, 1);
    for key in ["a", "b"] {
        s3.put_object()
            .bucket(BUCKET)
            .key(key)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
    }
    s3.head_object()
        .bucket(BUCKET)
        .key("a")
        .send()
        .await
        .unwrap();
    assert_eq!(object_bytes(&s3, "a").await.len(), 100_000);
    let missing = s3.get_object().bucket(BUCKET).key("none").send().await;
    assert!(missing.is_err());
    create_upload(&s3, "open").await;

    let after = scrape(&store).await;
    let count = |op: &str, status: u16| {
        after
            .get(&format!(
                "hoist_store_requests_total{{operation=\"{op}\",status=\"{status}\"}}"
            ))
            .copied()
            .unwrap_or(0.0)
    };
    assert_eq!(count("PutObject", 200), 2.0);
    assert_eq!(count("HeadObject", 200), 1.0);
    assert_eq!(count("GetObject", 200), 1.0);
    assert_eq!(count("GetObject", 404), 1.0);
    assert_eq!(count("CreateMultipartUpload", 200), 1.0);
    assert_eq!(
        after["hoist_store_request_duration_seconds_count{operation=\"PutObject\"}"],
        2.0
    );
    // Two bodies in, one out (the HEAD sends none).
    let bytes_in = after["hoist_store_received_bytes_total"];
    assert!(
        (200_000.0..200_000.0 + 10_000.0).contains(&bytes_in),
        "{bytes_in}"
    );
    let bytes_out = after["hoist_store_sent_bytes_total"];
    assert!(
        (100_000.0..100_000.0 + 10_000.0).contains(&bytes_out),
        "{bytes_out}"
    );
    assert_eq!(after["hoist_store_objects"], 2.0);
    assert_eq!(after["hoist_store_object_bytes"], 200_000.0);
    assert_eq!(after["hoist_store_multipart_uploads"], 1.0);
    assert!(after["hoist_store_connections_max"] >= 1.0);
    assert_eq!(
        after["hoist_store_faults_injected_total{kind=\"cut\"}"],
        0.0
    );
}

#[tokio::test]
async fn a_query_of_any_name_adds_no_label_value() {
    let store = TestStore::start().await;
    for junk in ["a", "b", "c"] {
        raw(
            store.addr(),
            "GET",
            &format!("/{BUCKET}/k?{junk}-{junk}=1"),
            &[],
            b"",
        )
        .await;
    }
    let text = raw(store.addr(), "GET", "/_hoist/metrics", &[], b"")
        .await
        .text();
    assert!(!text.contains("a-a") && !text.contains("b-b"), "{text}");
    assert!(
        text.contains("operation=\"GetObject\",status=\"403\"} 3"),
        "{text}"
    );
}

#[tokio::test]
async fn a_download_waiting_on_its_client_holds_one_chunk_read_ahead_and_gives_it_back() {
    const SIZE: usize = 16 * 1024 * 1024;
    let store = TestStore::start().await;
    let s3 = store.client();
    s3.put_object()
        .bucket(BUCKET)
        .key("big")
        .body(ByteStream::from(bytes_of(SIZE, 3)))
        .send()
        .await
        .unwrap();
    assert_eq!(scrape(&store).await["hoist_store_read_ahead_bytes"], 0.0);
    let got = s3
        .get_object()
        .bucket(BUCKET)
        .key("big")
        .send()
        .await
        .unwrap();
    // The client reads nothing for a while: the sockets fill, and the store's body waits with
    // the chunk after the one being sent read ahead (512 KiB).
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        scrape(&store).await["hoist_store_read_ahead_bytes"],
        512.0 * 1024.0
    );
    let body = got.body.collect().await.unwrap().into_bytes();
    assert!(body.len() == SIZE && body == bytes_of(SIZE, 3));
    assert_eq!(scrape(&store).await["hoist_store_read_ahead_bytes"], 0.0);
}

#[tokio::test]
async fn a_cold_object_is_counted_as_read_past_the_page_cache_then_through_it() {
    const SIZE: usize = 8 * 1024 * 1024;
    let store = TestStore::start().await;
    // A file system that keeps files in memory (tmpfs) holds every object in its cache.
    let in_memory = rustix::fs::statfs(store.dir.path()).unwrap().f_type == 0x0102_1994;
    let s3 = store.client();
    let body = bytes_of(SIZE, 5);
    s3.put_object()
        .bucket(BUCKET)
        .key("cold")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let read = |m: &HashMap<String, f64>| {
        (
            m[r#"hoist_store_read_bytes_total{way="direct"}"#],
            m[r#"hoist_store_read_bytes_total{way="cache"}"#],
        )
    };
    assert_eq!(read(&scrape(&store).await), (0.0, 0.0));
    // Written past the page cache in whole blocks, the object is not in it: read past it. A
    // chunk whose probe's own one-page read finished before the probe looked goes through the
    // cache (rare, and more so on a busy machine); most do not.
    assert!(object_bytes(&s3, "cold").await == body);
    let (direct, cached) = read(&scrape(&store).await);
    assert_eq!(direct + cached, SIZE as f64);
    if !in_memory {
        assert!(
            direct >= SIZE as f64 / 2.0,
            "{direct} bytes read past the cache"
        );
    }
    // Read a second time, through the cache.
    assert!(object_bytes(&s3, "cold").await == body);
    let (direct_after, cached_after) = read(&scrape(&store).await);
    assert_eq!((direct_after, cached_after), (direct, cached + SIZE as f64));
}
