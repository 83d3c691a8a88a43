//! Hooks against a real receiver: signatures, delivery before Complete answers, retries,
//! a pending event sent again by a repeated Complete, and the pre-create hook's verdicts.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use hoist_server::{HookConfig, HookSecret};
use serde_json::{Value, json};
use sha2::Sha256;

use common::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The Standard Webhooks example, as Python's `standardwebhooks` 1.1.0 signs it:
/// `Webhook(SECRET).sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}')`.
#[test]
fn signature_matches_the_standard_webhooks_vector() {
    let secret = HookSecret::parse(SECRET).unwrap();
    assert_eq!(
        secret.signature(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#
        ),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
}

/// One message a receiver got.
#[derive(Debug, Clone)]
struct Got {
    id: String,
    body: Value,
}

/// A hook receiver: it checks each signature on its own (hmac and sha2 directly), refuses
/// the first `fail` deliveries with 500, then accepts; `/pre` is a pre-create hook.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Got>>>,
    fail: Arc<Mutex<usize>>,
}

impl Receiver {
    fn events(&self, kind: &str) -> Vec<Got> {
        let got = self.got.lock().unwrap();
        got.iter()
            .filter(|g| g.body["type"] == kind)
            .cloned()
            .collect()
    }

    fn fail_next(&self, n: usize) {
        *self.fail.lock().unwrap() = n;
    }
}

fn verify(headers: &HeaderMap, body: &[u8]) -> Result<String, String> {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or(format!("no {name}"))
    };
    let (id, ts, sig) = (
        h("webhook-id")?,
        h("webhook-timestamp")?,
        h("webhook-signature")?,
    );
    let now = hoist_s3::local_now().unix_seconds();
    let ts_n: i64 = ts.parse().map_err(|_| "bad timestamp".to_string())?;
    if (now - ts_n).abs() > 300 {
        return Err("timestamp too far".into());
    }
    let key = STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let want = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    if sig.split(' ').any(|s| s == want) {
        Ok(id)
    } else {
        Err(format!("signature {sig} is not {want}"))
    }
}

async fn events(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let id = match verify(&headers, &body) {
        Ok(id) => id,
        Err(why) => return (StatusCode::UNAUTHORIZED, why).into_response(),
    };
    {
        let mut fail = r.fail.lock().unwrap();
        if *fail > 0 {
            *fail -= 1;
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    }
    let body: Value = serde_json::from_slice(&body).unwrap();
    r.got.lock().unwrap().push(Got { id, body });
    StatusCode::NO_CONTENT.into_response()
}

/// Refuses videos, renames a grant's uploads into `{prefix}/renamed/`, sends `escape.bin`
/// outside the grant, limits `small.bin` to 10 bytes.
async fn pre_create(headers: HeaderMap, body: Bytes) -> Response {
    if let Err(why) = verify(&headers, &body) {
        return (StatusCode::UNAUTHORIZED, why).into_response();
    }
    let ask: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(ask["type"], "upload.pre_create");
    let data = &ask["data"];
    let ct = data["content_type"].as_str().unwrap();
    if ct.starts_with("video/") {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"reason": "videos are not accepted here"})),
        )
            .into_response();
    }
    let name = data["filename"].as_str().unwrap_or("");
    if name == "small.bin" {
        return axum::Json(json!({"max_size": 10})).into_response();
    }
    if data["caller"]["type"] == "grant" {
        let prefix = data["caller"]["claims"]["prefix"].as_str().unwrap();
        let key = if name == "escape.bin" {
            "elsewhere/escape.bin".to_string()
        } else {
            format!("{prefix}/renamed/{name}")
        };
        return axum::Json(json!({"key": key, "metadata": {"checked-by": "app"}})).into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn start_receiver(r: Receiver) -> String {
    let app = axum::Router::new()
        .route("/events", axum::routing::post(events))
        .route("/pre", axum::routing::post(pre_create))
        .with_state(r);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn hooked(
    store: &hoist_store::StoreHandle,
    receiver: &str,
    within: Duration,
) -> hoist_server::ServerConfig {
    config(store).with_hooks(
        HookConfig::default()
            .with_urls(vec![format!("{receiver}/events")])
            .with_secret(HookSecret::parse(SECRET).unwrap())
            .with_deliver_within(within)
            .with_pre_create(format!("{receiver}/pre"), false),
    )
}

async fn metric(base: &str, line: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{line} not in {text}"))
}

async fn wait_for(r: &Receiver, kind: &str) -> Vec<Got> {
    for _ in 0..100 {
        let got = r.events(kind);
        if !got.is_empty() {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {kind} arrived");
}

#[tokio::test]
async fn completed_is_delivered_after_two_failures_before_complete_answers() {
    let store = start_store().await;
    let r = Receiver::default();
    let receiver = start_receiver(r.clone()).await;
    let server = start_server(hooked(&store.handle, &receiver, Duration::from_secs(10))).await;
    let base = &server.base;

    let body = bytes(1000, 3);
    let up = create(
        base,
        json!({"size": 1000, "filename": "a.txt", "content_type": "text/plain",
               "metadata": {"project": "p1"}}),
    )
    .await;
    let created = wait_for(&r, "upload.created").await;
    assert_eq!(created[0].body["data"]["key"], up["key"]);
    assert_eq!(created[0].body["data"]["size"], 1000);
    assert_eq!(created[0].body["data"]["metadata"]["project"], "p1");

    let resp = put(up["url"].as_str().unwrap(), &up["headers"], body).await;
    assert_eq!(resp.status(), 200);
    r.fail_next(2);
    let id = up["id"].as_str().unwrap();
    let (status, done) = post(
        &format!("{base}/v1/uploads/{id}/complete"),
        Some(API_KEY),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["hook_pending"], false, "{done}");
    // Delivered before the answer: it is here already.
    let completed = r.events("upload.completed");
    assert_eq!(completed.len(), 1, "{completed:?}");
    let e = &completed[0];
    assert!(e.id.starts_with("msg_"), "{}", e.id);
    let data = &e.body["data"];
    assert_eq!(data["key"], up["key"]);
    assert_eq!(data["bucket"], BUCKET);
    assert_eq!(data["size"], 1000);
    assert_eq!(data["etag"], done["etag"]);
    assert_eq!(data["content_type"], "text/plain");
    assert_eq!(data["metadata"]["project"], "p1");
    assert_eq!(data["strategy"], "single");
    assert_eq!(data["caller"]["type"], "api_key");
    assert_eq!(data["upload_id"], created[0].body["data"]["upload_id"]);
    assert!(data["completed_at"].as_str().unwrap().ends_with('Z'));
    assert!(e.body["timestamp"].as_str().is_some());
    assert_eq!(metric(base, "hoist_hook_retries_total").await, 2.0);
    assert!(metric(base, "hoist_hook_deliveries_total{outcome=\"sent\"}").await >= 2.0);

    // A second Complete sends the same event again, with the same id.
    let (status, _) = post(
        &format!("{base}/v1/uploads/{id}/complete"),
        Some(API_KEY),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let again = r.events("upload.completed");
    assert_eq!(again.len(), 2);
    assert_eq!(again[1].id, again[0].id);
    server.stop().await;
}

#[tokio::test]
async fn an_undelivered_event_is_pending_and_a_repeated_complete_delivers_it() {
    let store = start_store().await;
    let r = Receiver::default();
    let receiver = start_receiver(r.clone()).await;
    let server = start_server(hooked(&store.handle, &receiver, Duration::from_secs(1))).await;
    let base = &server.base;

    let size = PART + 100;
    let up = create(base, json!({"size": size, "filename": "big.bin"})).await;
    let _ = wait_for(&r, "upload.created").await;
    let data = bytes(size as usize, 9);
    let mut parts = Vec::new();
    for p in up["parts"].as_array().unwrap() {
        let (off, len) = (
            p["offset"].as_u64().unwrap() as usize,
            p["length"].as_u64().unwrap() as usize,
        );
        let resp = put(
            p["url"].as_str().unwrap(),
            &p["headers"],
            data[off..off + len].to_vec(),
        )
        .await;
        assert_eq!(resp.status(), 200);
        let etag = resp.headers()["etag"].to_str().unwrap().to_string();
        parts.push(json!({"number": p["number"], "etag": etag}));
    }
    r.fail_next(usize::MAX);
    let id = up["id"].as_str().unwrap();
    let url = format!("{base}/v1/uploads/{id}/complete");
    let (status, done) = post(&url, Some(API_KEY), json!({"parts": parts})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["hook_pending"], true, "{done}");
    assert!(r.events("upload.completed").is_empty());
    assert!(metric(base, "hoist_hook_deliveries_total{outcome=\"failed\"}").await >= 1.0);

    // The store answers the repeated Complete as the first; this time the event goes through.
    r.fail_next(0);
    let (status, again) = post(&url, Some(API_KEY), json!({"parts": parts})).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["hook_pending"], false);
    assert_eq!(again["etag"], done["etag"]);
    let completed = r.events("upload.completed");
    assert_eq!(completed.len(), 1);
    assert_eq!(
        completed[0].body["data"]["s3_upload_id"]
            .as_str()
            .map(str::is_empty),
        Some(false)
    );
    assert_eq!(completed[0].body["data"]["size"], size);

    // An abort of a completed upload is refused, and sends nothing.
    let (status, _) = call(
        reqwest::Method::DELETE,
        &format!("{base}/v1/uploads/{id}"),
        Some(API_KEY),
        None,
    )
    .await;
    assert_eq!(status, 409);
    assert!(r.events("upload.aborted").is_empty());
    server.stop().await;
}

#[tokio::test]
async fn aborts_are_delivered() {
    let store = start_store().await;
    let r = Receiver::default();
    let receiver = start_receiver(r.clone()).await;
    let server = start_server(hooked(&store.handle, &receiver, Duration::from_secs(5))).await;
    let base = &server.base;
    let up = create(base, json!({"size": PART + 1, "filename": "gone.bin"})).await;
    let id = up["id"].as_str().unwrap();
    let (status, _) = call(
        reqwest::Method::DELETE,
        &format!("{base}/v1/uploads/{id}"),
        Some(API_KEY),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let aborted = r.events("upload.aborted");
    assert_eq!(aborted.len(), 1);
    assert_eq!(aborted[0].body["data"]["key"], up["key"]);
    server.stop().await;
}

#[tokio::test]
async fn the_pre_create_hook_refuses_renames_and_limits_within_the_grant() {
    let store = start_store().await;
    let r = Receiver::default();
    let receiver = start_receiver(r.clone()).await;
    let server = start_server(hooked(&store.handle, &receiver, Duration::from_secs(5))).await;
    let base = &server.base;
    let grant = mint("users/u1", 600, json!({}));
    let v1 = format!("{base}/v1/uploads");

    let (status, e) = post(
        &v1,
        Some(&grant),
        json!({"size": 10, "filename": "a.mp4", "content_type": "video/mp4"}),
    )
    .await;
    assert_eq!((status, e["code"].as_str()), (403, Some("refused")), "{e}");
    assert_eq!(e["error"], "videos are not accepted here");

    // The Uppy route answers the same refusal in its error shape (Uppy shows `error`).
    let (status, e) = post(
        &format!("{base}/s3/multipart"),
        Some(&grant),
        json!({"filename": "b.mp4", "type": "video/mp4"}),
    )
    .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (403, Some("videos are not accepted here")),
        "{e}"
    );

    let (status, up) = post(
        &v1,
        Some(&grant),
        json!({"size": 10, "filename": "photo.png"}),
    )
    .await;
    assert_eq!(status, 201, "{up}");
    assert_eq!(up["key"], "users/u1/renamed/photo.png");
    assert_eq!(up["headers"]["x-amz-meta-checked-by"], "app", "{up}");

    let (status, e) = post(
        &v1,
        Some(&grant),
        json!({"size": 10, "filename": "escape.bin"}),
    )
    .await;
    assert_eq!((status, e["code"].as_str()), (403, Some("refused")), "{e}");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("outside this grant's prefix"),
        "{e}"
    );

    let (status, e) = post(
        &v1,
        Some(API_KEY),
        json!({"size": 11, "filename": "small.bin"}),
    )
    .await;
    assert_eq!((status, e["field"].as_str()), (403, Some("size")), "{e}");
    let (status, _) = post(
        &v1,
        Some(API_KEY),
        json!({"size": 10, "filename": "small.bin"}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        metric(base, "hoist_pre_create_total{verdict=\"refused\"}").await,
        2.0
    );
    server.stop().await;
}

#[tokio::test]
async fn a_silent_pre_create_hook_refuses_unless_optional() {
    let store = start_store().await;
    // A port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/pre", l.local_addr().unwrap())
    };
    let hooks = |optional| {
        HookConfig::default()
            .with_secret(HookSecret::parse(SECRET).unwrap())
            .with_pre_create(closed.clone(), optional)
    };
    let strict = start_server(config(&store.handle).with_hooks(hooks(false))).await;
    let (status, e) = post(
        &format!("{}/v1/uploads", strict.base),
        Some(API_KEY),
        json!({"size": 5}),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (503, Some("hook_unavailable")),
        "{e}"
    );
    strict.stop().await;
    let lenient = start_server(config(&store.handle).with_hooks(hooks(true))).await;
    let (status, e) = post(
        &format!("{}/v1/uploads", lenient.base),
        Some(API_KEY),
        json!({"size": 5}),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    assert_eq!(
        metric(
            &lenient.base,
            "hoist_pre_create_total{verdict=\"unavailable\"}"
        )
        .await,
        1.0
    );
    lenient.stop().await;
}

#[test]
fn hooks_without_a_secret_or_with_a_bad_url_are_refused() {
    let c = HookConfig::default().with_urls(vec!["http://127.0.0.1:9/e".into()]);
    assert!(c.check().unwrap_err().contains("secret"));
    let secret = HookSecret::parse(SECRET).unwrap();
    let c = HookConfig::default()
        .with_urls(vec!["ftp://x/e".into()])
        .with_secret(secret.clone());
    assert!(c.check().unwrap_err().contains("http"));
    let c = HookConfig::default()
        .with_pre_create("not a url", false)
        .with_secret(secret);
    assert!(c.check().is_err());
}
