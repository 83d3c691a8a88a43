//! Bucket CORS as S3 evaluates it (raw preflights, real responses), and fault injection
//! through the handle and the admin endpoint.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
use common::*;
use hoist_store::Faults;

const MSG_CORS: &str = "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";

async fn seed_cors(s3: &aws_sdk_s3::Client) {
    let app = CorsRule::builder()
        .allowed_origins("https://app.example.com")
        .allowed_methods("GET")
        .allowed_methods("PUT")
        .allowed_methods("POST")
        .allowed_headers("*")
        .expose_headers("ETag")
        .max_age_seconds(3000)
        .build()
        .unwrap();
    let wildcard = CorsRule::builder()
        .allowed_origins("https://*.partner.test")
        .allowed_methods("GET")
        .allowed_headers("x-amz-*")
        .build()
        .unwrap();
    let public = CorsRule::builder()
        .allowed_origins("*")
        .allowed_methods("HEAD")
        .build()
        .unwrap();
    s3.put_bucket_cors()
        .bucket(BUCKET)
        .cors_configuration(
            CorsConfiguration::builder()
                .cors_rules(app)
                .cors_rules(wildcard)
                .cors_rules(public)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

async fn preflight(
    store: &TestStore,
    path: &str,
    origin: &str,
    method: Option<&str>,
    headers: Option<&str>,
) -> RawResponse {
    let mut h = vec![("origin", origin)];
    if let Some(m) = method {
        h.push(("access-control-request-method", m));
    }
    if let Some(x) = headers {
        h.push(("access-control-request-headers", x));
    }
    raw(store.addr(), "OPTIONS", path, &h, b"").await
}

#[tokio::test]
async fn preflights_follow_the_bucket_rules() {
    let store = TestStore::start().await;
    let s3 = store.client();
    let path = format!("/{BUCKET}/uploads/file.bin");

    // No CORS configuration: refused with S3's message (typo included).
    let none = preflight(&store, &path, "https://app.example.com", Some("PUT"), None).await;
    assert_eq!(none.status, 403);
    assert_eq!(none.code().as_deref(), Some("AccessForbidden"));
    assert_eq!(none.message().as_deref(), Some(MSG_CORS));
    assert_eq!(element(&none.text(), "Method").as_deref(), Some("PUT"));
    assert_eq!(
        element(&none.text(), "ResourceType").as_deref(),
        Some("OBJECT")
    );

    seed_cors(&s3).await;
    assert_eq!(
        s3.get_bucket_cors()
            .bucket(BUCKET)
            .send()
            .await
            .unwrap()
            .cors_rules()
            .len(),
        3
    );

    let ok = preflight(
        &store,
        &path,
        "https://app.example.com",
        Some("PUT"),
        Some("Content-Type, X-Amz-Date"),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        ok.header("access-control-allow-methods"),
        Some("GET, PUT, POST")
    );
    assert_eq!(
        ok.header("access-control-allow-headers"),
        Some("content-type, x-amz-date")
    );
    assert_eq!(ok.header("access-control-max-age"), Some("3000"));
    assert_eq!(ok.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(ok.header("access-control-expose-headers"), Some("ETag"));
    assert!(ok.header("vary").unwrap().contains("Origin"));

    // Origin wildcard, header wildcard.
    let partner = preflight(
        &store,
        &path,
        "https://shop.partner.test",
        Some("GET"),
        Some("x-amz-date"),
    )
    .await;
    assert_eq!(partner.status, 200);
    assert_eq!(
        partner.header("access-control-allow-origin"),
        Some("https://shop.partner.test")
    );
    let partner_bad_header = preflight(
        &store,
        &path,
        "https://shop.partner.test",
        Some("GET"),
        Some("content-type"),
    )
    .await;
    assert_eq!(partner_bad_header.status, 403);

    // "*" origin answers "*" and no credentials.
    let any = preflight(&store, &path, "https://anyone.example", Some("HEAD"), None).await;
    assert_eq!(any.status, 200);
    assert_eq!(any.header("access-control-allow-origin"), Some("*"));
    assert_eq!(any.header("access-control-allow-credentials"), None);

    // Unknown origin, method not allowed.
    let evil = preflight(&store, &path, "https://evil.example", Some("PUT"), None).await;
    assert_eq!(
        (evil.status, evil.code().as_deref()),
        (403, Some("AccessForbidden"))
    );
    let delete = preflight(
        &store,
        &path,
        "https://app.example.com",
        Some("DELETE"),
        None,
    )
    .await;
    assert_eq!(delete.status, 403);
    assert_eq!(element(&delete.text(), "Method").as_deref(), Some("DELETE"));
    let bucket_level = preflight(
        &store,
        &format!("/{BUCKET}"),
        "https://evil.example",
        Some("GET"),
        None,
    )
    .await;
    assert_eq!(
        element(&bucket_level.text(), "ResourceType").as_deref(),
        Some("BUCKET")
    );

    // No Access-Control-Request-Method: 400.
    let bare = preflight(&store, &path, "https://app.example.com", None, None).await;
    assert_eq!(bare.status, 400);

    s3.delete_bucket_cors().bucket(BUCKET).send().await.unwrap();
    let after = preflight(&store, &path, "https://app.example.com", Some("PUT"), None).await;
    assert_eq!(after.status, 403);
}

#[tokio::test]
async fn real_responses_expose_the_etag_to_matching_origins_only() {
    let store = TestStore::start().await;
    let s3 = store.client();
    seed_cors(&s3).await;
    let url = s3
        .put_object()
        .bucket(BUCKET)
        .key("part")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(300)).unwrap(),
        )
        .await
        .unwrap();
    let target = url
        .uri()
        .split_once(&store.addr().to_string())
        .unwrap()
        .1
        .to_owned();
    let from_app = raw(
        store.addr(),
        "PUT",
        &target,
        &[("origin", "https://app.example.com")],
        b"hello",
    )
    .await;
    assert_eq!(from_app.status, 200);
    assert_eq!(
        from_app.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        from_app.header("access-control-expose-headers"),
        Some("ETag")
    );
    assert!(from_app.header("etag").is_some());
    assert!(from_app.header("vary").unwrap().contains("Origin"));

    // A plain request from an origin no rule matches succeeds, without CORS headers.
    let from_elsewhere = raw(
        store.addr(),
        "PUT",
        &target,
        &[("origin", "https://evil.example")],
        b"hello",
    )
    .await;
    assert_eq!(from_elsewhere.status, 200);
    assert!(
        from_elsewhere
            .headers
            .iter()
            .all(|(k, _)| !k.starts_with("access-control-"))
    );
}

#[tokio::test]
async fn injected_errors_latency_and_bandwidth() {
    let store = TestStore::start().await;
    let s3 = store.client();
    store
        .handle
        .set_faults(Faults {
            slow_down_fraction: 1.0,
            ..Faults::default()
        })
        .unwrap();
    let err = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_err();
    let (status, body) = raw_error(&err);
    assert_eq!(
        (status, element(&body, "Code").as_deref()),
        (503, Some("SlowDown"))
    );

    store
        .handle
        .set_faults(Faults {
            error_500_fraction: 1.0,
            ..Faults::default()
        })
        .unwrap();
    let err = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_err();
    let (status, body) = raw_error(&err);
    assert_eq!(
        (status, element(&body, "Code").as_deref()),
        (500, Some("InternalError"))
    );

    // About half of the requests fail at 0.5.
    store
        .handle
        .set_faults(Faults {
            slow_down_fraction: 0.5,
            ..Faults::default()
        })
        .unwrap();
    let mut failed = 0;
    for _ in 0..60 {
        failed += usize::from(s3.head_bucket().bucket(BUCKET).send().await.is_err());
    }
    assert!((10..=50).contains(&failed), "{failed} of 60 failed");

    store
        .handle
        .set_faults(Faults {
            latency_ms: 300,
            ..Faults::default()
        })
        .unwrap();
    let started = Instant::now();
    s3.head_bucket().bucket(BUCKET).send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));

    store
        .handle
        .set_faults(Faults {
            bandwidth_bytes_per_sec: Some(512 * 1024),
            ..Faults::default()
        })
        .unwrap();
    let started = Instant::now();
    s3.put_object()
        .bucket(BUCKET)
        .key("slow")
        .body(ByteStream::from(bytes_of(1024 * 1024, 2)))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(6),
        "{took:?}"
    );
    // The limit holds for what the store sends too.
    let started = Instant::now();
    let got = s3
        .get_object()
        .bucket(BUCKET)
        .key("slow")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let took = started.elapsed();
    assert!(got == bytes_of(1024 * 1024, 2));
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(6),
        "{took:?}"
    );

    store.handle.set_faults(Faults::default()).unwrap();
    let started = Instant::now();
    s3.put_object()
        .bucket(BUCKET)
        .key("fast")
        .body(ByteStream::from(bytes_of(1024 * 1024, 2)))
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn cut_connections_leave_no_object() {
    let store = TestStore::start().await;
    let s3 = store.client();
    // Seeded through a client of its own: the cut is decided when a connection opens, and
    // the requests below must each open a new one.
    store
        .client()
        .put_object()
        .bucket(BUCKET)
        .key("whole")
        .body(ByteStream::from(bytes_of(1024 * 1024, 5)))
        .send()
        .await
        .unwrap();
    store
        .handle
        .set_faults(Faults {
            cut_fraction: 1.0,
            cut_after_bytes: Some(64 * 1024),
            ..Faults::default()
        })
        .unwrap();
    // A download cut on the way gives an error, never a short body taken for the whole.
    let download = match s3.get_object().bucket(BUCKET).key("whole").send().await {
        Ok(answer) => answer
            .body
            .collect()
            .await
            .map(|b| b.into_bytes().len())
            .map_err(|e| e.to_string()),
        Err(err) => Err(err.to_string()),
    };
    assert!(
        download.is_err(),
        "a cut connection cannot finish a 1 MiB GET: {download:?}"
    );
    let err = s3
        .put_object()
        .bucket(BUCKET)
        .key("cut")
        .body(ByteStream::from(bytes_of(1024 * 1024, 4)))
        .send()
        .await;
    assert!(err.is_err(), "a cut connection cannot finish a 1 MiB PUT");
    store.handle.set_faults(Faults::default()).unwrap();
    let missing = s3
        .head_object()
        .bucket(BUCKET)
        .key("cut")
        .send()
        .await
        .unwrap_err();
    assert_eq!(raw_error(&missing).0, 404);
    // No temp file survives the failed request.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        std::fs::read_dir(store.dir.path().join("tmp"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn admin_endpoint_needs_the_secret_and_changes_faults() {
    let store = TestStore::start().await;
    let bearer = format!("Bearer {SK}");
    let denied = raw(store.addr(), "GET", "/_hoist/faults", &[], b"").await;
    assert_eq!(denied.status, 403);
    let wrong = raw(
        store.addr(),
        "GET",
        "/_hoist/faults",
        &[("authorization", "Bearer nope")],
        b"",
    )
    .await;
    assert_eq!(wrong.status, 403);

    let set = raw(
        store.addr(),
        "PUT",
        "/_hoist/faults",
        &[
            ("authorization", &bearer),
            ("content-type", "application/json"),
        ],
        br#"{"latency_ms": 5, "clock_offset_secs": -30}"#,
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.text());
    let faults = store.handle.faults().get();
    assert_eq!((faults.latency_ms, faults.clock_offset_secs), (5, -30));
    let shown = raw(
        store.addr(),
        "GET",
        "/_hoist/faults",
        &[("authorization", &bearer)],
        b"",
    )
    .await;
    let json: serde_json::Value = serde_json::from_slice(&shown.body).unwrap();
    assert_eq!(json["clock_offset_secs"], -30);

    let bad = raw(
        store.addr(),
        "PUT",
        "/_hoist/faults",
        &[("authorization", &bearer)],
        br#"{"cut_fraction": 2}"#,
    )
    .await;
    assert_eq!(bad.status, 400);
    let unknown = raw(
        store.addr(),
        "PUT",
        "/_hoist/faults",
        &[("authorization", &bearer)],
        br#"{"nonsense": 1}"#,
    )
    .await;
    assert_eq!(unknown.status, 400);
    let cleared = raw(
        store.addr(),
        "DELETE",
        "/_hoist/faults",
        &[("authorization", &bearer)],
        b"",
    )
    .await;
    assert_eq!(cleared.status, 200);
    assert_eq!(store.handle.faults().get(), Faults::default());

    let issued = raw(
        store.addr(),
        "POST",
        "/_hoist/temporary-credentials?ttl_secs=60",
        &[("authorization", &bearer)],
        b"",
    )
    .await;
    assert_eq!(issued.status, 200);
    let temp: serde_json::Value = serde_json::from_slice(&issued.body).unwrap();
    let s3 = client_for(
        &store.handle.endpoint(),
        temp["access_key_id"].as_str().unwrap(),
        temp["secret_access_key"].as_str().unwrap(),
        Some(temp["session_token"].as_str().unwrap().to_owned()),
        false,
    );
    s3.head_bucket().bucket(BUCKET).send().await.unwrap();
}
