//! Every class of bad input gets a 4xx JSON error naming the field; the OpenAPI document
//! describes the real routes; the operational routes, the browser files and CORS.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::{Value, json};
use tower::ServiceExt as _;

async fn raw_post(url: &str, content_type: Option<&str>, body: &'static str) -> (u16, Value) {
    let mut rb = reqwest::Client::new()
        .post(url)
        .header("authorization", format!("Bearer {API_KEY}"));
    if let Some(ct) = content_type {
        rb = rb.header("content-type", ct);
    }
    let resp = rb.body(body).send().await.unwrap();
    let status = resp.status().as_u16();
    (
        status,
        serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn bad_input_names_the_field() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle).with_max_upload_size(1 << 40)).await;
    let uploads = format!("{}/v1/uploads", srv.base);
    let json_ct = Some("application/json");

    let (status, v) = raw_post(&uploads, json_ct, r#"{"size": 12"#).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("malformed_json")),
        "{v}"
    );
    let (status, v) = raw_post(&uploads, json_ct, "").await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("malformed_json")),
        "{v}"
    );
    let (status, v) = raw_post(&uploads, Some("text/plain"), r#"{"size": 1}"#).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (415, Some("unsupported_media_type")),
        "{v}"
    );

    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "size"),
        (json!({"size": -1}), "size"),
        (json!({"size": 1.5}), "size"),
        (json!({"size": "10"}), "size"),
        (json!({"size": 1e30}), "size"),
        (json!({"size": 18_446_744_073_709_551_615u64}), "size"),
        // Over this coordinator's policy (1 TiB).
        (json!({"size": (1u64 << 40) + 1}), "size"),
        (json!({"size": 1, "sise": 2}), "sise"),
        (
            json!({"size": 1, "content_type": "nonsense"}),
            "content_type",
        ),
        (
            json!({"size": 1, "content_type": "text/plain\r\nx-evil: 1"}),
            "content_type",
        ),
        (json!({"size": 1, "filename": "a\u{0}b"}), "filename"),
        (json!({"size": 1, "key": "a/../b"}), "key"),
        (json!({"size": 1, "key": "a\u{7}b"}), "key"),
        (json!({"size": 1, "key": "x".repeat(1025)}), "key"),
        (
            json!({"size": 1, "metadata": {"Bad Name": "v"}}),
            "metadata.Bad Name",
        ),
        (
            json!({"size": 1, "metadata": {"k": "\u{e9}"}}),
            "metadata.k",
        ),
        (
            json!({"size": 1, "checksum": {"algorithm": "md5", "value": "x"}}),
            "checksum.algorithm",
        ),
        (
            json!({"size": 1, "checksum": {"algorithm": "sha256", "value": "AAAA"}}),
            "checksum.value",
        ),
        (
            json!({"size": 2 * PART, "checksum": {"algorithm": "crc32", "value": "AAAAAA=="}}),
            "checksum",
        ),
    ];
    for (body, field) in cases {
        let (status, v) = post(&uploads, Some(API_KEY), body.clone()).await;
        assert!((400..500).contains(&status), "{body}: {status} {v}");
        assert!(v["error"].is_string(), "{body}: {v}");
        let got = v["field"].as_str().unwrap_or("");
        assert!(
            got.starts_with(field),
            "{body}: field {got:?}, wanted {field:?}: {v}"
        );
    }

    // Part numbers out of range, and other bad parts requests.
    let up = create(&srv.base, json!({"size": 2 * PART + 1})).await;
    let parts = format!("{uploads}/{}/parts", up["id"].as_str().unwrap());
    for (body, field) in [
        (json!({"numbers": [0]}), "numbers[0]"),
        (json!({"numbers": [-1]}), "numbers[0]"),
        (json!({"numbers": [10001]}), "numbers[0]"),
        (json!({"numbers": []}), "numbers"),
        (
            json!({"numbers": (1..=1001).collect::<Vec<_>>()}),
            "numbers",
        ),
        (json!({"numbers": ["1"]}), "numbers[0]"),
        (json!({}), "numbers"),
    ] {
        let (status, v) = post(&parts, Some(API_KEY), body.clone()).await;
        assert_eq!(status, 400, "{body}: {v}");
        assert_eq!(v["field"].as_str(), Some(field), "{body}: {v}");
    }
    // A part number S3 allows but past this upload's plan conflicts with the upload.
    let (status, v) = post(&parts, Some(API_KEY), json!({"numbers": [1, 4]})).await;
    assert_eq!(
        (status, v["field"].as_str()),
        (409, Some("numbers[1]")),
        "{v}"
    );
    let complete = format!("{uploads}/{}/complete", up["id"].as_str().unwrap());
    let (status, v) = post(
        &complete,
        Some(API_KEY),
        json!({"parts": [{"number": 9, "etag": "x"}]}),
    )
    .await;
    assert_eq!(
        (status, v["field"].as_str()),
        (409, Some("parts[0].number")),
        "{v}"
    );
    let (status, v) = post(
        &complete,
        Some(API_KEY),
        json!({"parts": [{"number": 10_001, "etag": "x"}]}),
    )
    .await;
    assert_eq!(
        (status, v["field"].as_str()),
        (400, Some("parts[0].number")),
        "{v}"
    );
    let (status, v) = raw_post(&complete, json_ct, "[").await;
    assert_eq!(status, 400, "{v}");

    // Wrong method and unknown routes answer JSON too.
    let (status, v) = get(&uploads, Some(API_KEY)).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (405, Some("method_not_allowed")),
        "{v}"
    );
    let (status, v) = get(&format!("{}/v2/nothing", srv.base), None).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (404, Some("not_found")),
        "{v}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let store = start_store().await;
    let state = hoist_server::AppState::new(config(&store.handle)).unwrap();
    let doc: Value = serde_json::from_str(hoist_server::OPENAPI).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let routes = hoist_server::app::routes();
    for (path, methods, _) in &routes {
        let entry = paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} missing from openapi.json"));
        for m in *methods {
            let m = m.as_str().to_ascii_lowercase();
            assert!(
                entry.get(&m).is_some(),
                "{m} {path} missing from openapi.json"
            );
        }
    }
    // And the document describes nothing that is not served.
    for (path, entry) in paths {
        let route = routes.iter().find(|(p, ..)| p == path);
        let (_, methods, _) =
            route.unwrap_or_else(|| panic!("openapi.json has {path}, the router not"));
        for m in entry
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "parameters")
        {
            assert!(
                methods.iter().any(|x| x.as_str().eq_ignore_ascii_case(m)),
                "{m} {path}"
            );
        }
        // Served for real: no 404 or 405 from the router (auth or input errors are fine).
        let concrete = path
            .replace("{id}", "x")
            .replace("{uploadId}", "x")
            .replace("{partNumber}", "1");
        for m in entry
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "parameters")
        {
            let req = Request::builder()
                .method(m.to_ascii_uppercase().as_str())
                .uri(&concrete)
                .body(Body::empty())
                .unwrap();
            let resp = hoist_server::app(state.clone()).oneshot(req).await.unwrap();
            assert!(
                !matches!(
                    resp.status(),
                    StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
                ),
                "{m} {concrete}: {}",
                resp.status()
            );
        }
    }
}

async fn oneshot(
    state: &hoist_server::AppState,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = hoist_server::app(state.clone()).oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    (parts.status, parts.headers, bytes.to_vec())
}

fn get_req(uri: &str) -> Request<Body> {
    Request::builder().uri(uri).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn operational_routes_and_browser_files() {
    let store = start_store().await;
    let state = hoist_server::AppState::new(config(&store.handle)).unwrap();

    let (status, _, body) = oneshot(&state, get_req("/healthz")).await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, b"ok\n".as_slice())
    );
    let (status, _, _) = oneshot(&state, get_req("/readyz")).await;
    assert_eq!(status, StatusCode::OK);

    let (status, headers, body) = oneshot(&state, get_req("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(
        body,
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/index.html")).unwrap()
    );
    let (_, headers, body) = oneshot(&state, get_req("/hoist.js")).await;
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(
        body,
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/hoist.js")).unwrap()
    );
    let (_, headers, body) = oneshot(&state, get_req("/openapi.json")).await;
    assert_eq!(headers["content-type"], "application/json");
    serde_json::from_slice::<Value>(&body).unwrap();

    // Metrics count what happened.
    let req = Request::builder()
        .method("POST")
        .uri("/v1/uploads")
        .header("authorization", format!("Bearer {API_KEY}"))
        .header("content-type", "application/json")
        .body(Body::from(json!({"size": 2 * PART + 1}).to_string()))
        .unwrap();
    let (status, _, body) = oneshot(&state, req).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (_, headers, body) = oneshot(&state, get_req("/metrics")).await;
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = String::from_utf8(body).unwrap();
    for line in [
        "hoist_uploads_total{outcome=\"created\"} 1",
        &format!("hoist_bytes_declared_total {}", 2 * PART + 1),
        "hoist_presigns_total{kind=\"part\"} 3",
        "hoist_presigns_total{kind=\"control\"} 2",
        "hoist_sign_duration_seconds_count 5",
        "hoist_clock_offset_seconds 0",
    ] {
        assert!(text.contains(line), "{line} not in\n{text}");
    }

    // The store stops: not ready, and the error is counted.
    store.handle.shutdown().await.unwrap();
    let (status, _, body) = oneshot(&state, get_req("/readyz")).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        String::from_utf8_lossy(&body)
    );
}

#[tokio::test]
async fn store_errors_are_counted_by_code() {
    let store = start_store().await;
    // Credentials the store does not know: every control call is refused.
    let mut cfg = config(&store.handle);
    cfg.credentials =
        hoist_server::CredentialSource::fixed(hoist_server::Credentials::new("nobody", "nothing"));
    let srv = start_server(cfg).await;
    let (status, v) = post(
        &format!("{}/v1/uploads", srv.base),
        Some(API_KEY),
        json!({"size": 2 * PART}),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (502, Some("store_setup")),
        "{v}"
    );
    let text = reqwest::get(format!("{}/metrics", srv.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("hoist_store_errors_total{code=\"InvalidAccessKeyId\"} 1"),
        "{text}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn cors_for_configured_origins_only() {
    let store = start_store().await;
    let state = hoist_server::AppState::new(
        config(&store.handle).with_cors_origins(vec!["https://app.example.com".into()]),
    )
    .unwrap();
    let preflight = |origin: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/v1/uploads")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .body(Body::empty())
            .unwrap()
    };
    let (status, headers, _) = oneshot(&state, preflight("https://app.example.com")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    let (_, headers, _) = oneshot(&state, preflight("https://evil.example.com")).await;
    assert!(headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn signs_with_the_store_clock() {
    let store = start_store().await;
    // The store's clock runs 90 s ahead; URLs signed with local time would be "not yet valid"
    // for part of the time, and the offset must show in the metrics.
    store
        .handle
        .set_faults(hoist_store::Faults {
            clock_offset_secs: 90,
            ..Default::default()
        })
        .unwrap();
    let srv = start_server(config(&store.handle)).await;
    srv.state.measure_clock_once().await;
    let offset = srv.state.clock().offset().millis;
    assert!((88_500..=91_500).contains(&offset), "offset {offset} ms");
    let text = reqwest::get(format!("{}/metrics", srv.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let gauge: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("hoist_clock_offset_seconds "))
        .unwrap()
        .parse()
        .unwrap();
    // The Date header has whole seconds: the estimate is within about a second.
    assert!((88.5..=91.5).contains(&gauge), "{text}");
    let up = create(&srv.base, json!({"size": 10})).await;
    let signed_at = up["url"]
        .as_str()
        .unwrap()
        .split("X-Amz-Date=")
        .nth(1)
        .unwrap()[..16]
        .to_string();
    let store_now = hoist_s3::local_now().add_millis(90_000);
    let t = hoist_core::time::Timestamp::parse_amz_date(&signed_at).unwrap();
    assert!(
        t.millis_since(store_now).abs() < 3000,
        "signed at {signed_at}"
    );
    let resp = put(up["url"].as_str().unwrap(), &up["headers"], bytes(10, 0)).await;
    assert_eq!(resp.status(), 200);
    srv.stop().await;
}

#[tokio::test]
async fn upload_page_origin_is_allowed_by_bucket_cors() {
    let store = start_store().await;
    let state = hoist_server::AppState::new(config(&store.handle)).unwrap();
    let origins = vec!["http://127.0.0.1:8080".to_string()];
    assert!(
        hoist_server::store::allow_origins(state.store(), &origins)
            .await
            .unwrap()
    );
    assert!(
        !hoist_server::store::allow_origins(state.store(), &origins)
            .await
            .unwrap(),
        "already there"
    );
    // A real browser preflight against the store now passes and exposes ETag.
    let resp = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/{BUCKET}/some/key", store.handle.endpoint()),
        )
        .header("origin", "http://127.0.0.1:8080")
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "http://127.0.0.1:8080"
    );
    // Another port replaces the rule rather than piling rules up.
    let moved = vec!["http://127.0.0.1:9999".to_string()];
    assert!(
        hoist_server::store::allow_origins(state.store(), &moved)
            .await
            .unwrap()
    );
    let resp = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/{BUCKET}/k", store.handle.endpoint()),
        )
        .header("origin", "http://127.0.0.1:8080")
        .header("access-control-request-method", "PUT")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn a_foreign_rule_that_hides_etag_from_the_page_is_amended() {
    let store = start_store().await;
    let state = hoist_server::AppState::new(config(&store.handle)).unwrap();
    let page = "http://127.0.0.1:8080";
    // The owner's rule admits every origin's PUTs but exposes nothing: S3 applies the first
    // matching rule, so a rule added after it would never be reached.
    let mut foreign = hoist_core::s3::CorsRule::for_uploads("owner-rule", vec!["*".into()]);
    foreign.expose_headers.clear();
    foreign.allowed_headers = vec!["content-type".into()];
    state
        .store()
        .update_cors(|c| c.rules.push(foreign.clone()))
        .await
        .unwrap();
    assert!(
        hoist_server::store::allow_origins(state.store(), &[page.to_string()])
            .await
            .unwrap()
    );
    let cors = state.store().cors().await.unwrap().unwrap();
    let applied = cors.rule("owner-rule").unwrap();
    assert!(applied.exposes("ETag"), "{applied:?}");
    let resp = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/{BUCKET}/some/key", store.handle.endpoint()),
        )
        .header("origin", page)
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let exposed = resp
        .headers()
        .get("access-control-expose-headers")
        .map(|v| v.to_str().unwrap().to_ascii_lowercase())
        .unwrap_or_default();
    assert!(exposed.contains("etag"), "exposed: {exposed:?}");
}

#[tokio::test]
async fn lifecycle_rule_makes_the_store_abort_abandoned_uploads() {
    // A store whose "day" lasts 200 ms, so the rule's one day passes within the test.
    let dir = tempfile::tempdir().unwrap();
    let cfg = hoist_store::StoreConfig::new(dir.path())
        .with_bucket(BUCKET)
        .with_lifecycle_day(std::time::Duration::from_millis(200));
    let handle = hoist_store::Store::spawn(cfg, "127.0.0.1:0").await.unwrap();
    let state = hoist_server::AppState::new(config(&handle)).unwrap();

    let store = state.store();
    assert!(
        hoist_server::store::abort_incomplete_uploads_after(store, 1)
            .await
            .unwrap()
    );
    assert!(
        !hoist_server::store::abort_incomplete_uploads_after(store, 1)
            .await
            .unwrap(),
        "a rule that already aborts incomplete uploads is left alone"
    );

    let upload_id = store
        .create_multipart("abandoned.bin", &Default::default())
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        handle.sweep_lifecycle().await,
        1,
        "the abandoned upload is aborted"
    );
    let err = store
        .list_parts("abandoned.bin", &upload_id)
        .await
        .unwrap_err();
    assert!(err.is_no_such_upload(), "{err}");
    handle.shutdown().await.unwrap();
}
