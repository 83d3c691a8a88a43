//! Test harness: the real embedded store and the real coordinator, both on port 0, and
//! reqwest as the uploader.

#![allow(dead_code)]

use std::time::Duration;

use hoist_core::plan::{MIB, PlanPolicy};
use hoist_core::presign::{Credentials as CoreCreds, Endpoint, PresignRequest, Presigner};
use hoist_server::{AppState, CredentialSource, Credentials, ServerConfig};
use hoist_store::{Store, StoreConfig, StoreHandle};
use serde_json::{Value, json};

pub const TOKEN_SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
pub const GRANT_SECRET: &[u8] = b"grant-secret-for-tests";
pub const API_KEY: &str = "test-api-key";
pub const OTHER_API_KEY: &str = "other-api-key";
pub const BUCKET: &str = "uploads";
/// Small parts keep tests fast: 5 MiB is S3's minimum.
pub const PART: u64 = 5 * MIB;

pub struct Store_ {
    pub handle: StoreHandle,
    pub dir: tempfile::TempDir,
}

pub async fn start_store() -> Store_ {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig::new(dir.path()).with_bucket(BUCKET);
    let handle = Store::spawn(cfg, "127.0.0.1:0").await.unwrap();
    Store_ { handle, dir }
}

/// Coordinator settings for `store`: API keys, grants, small parts; anonymous off.
pub fn config(store: &StoreHandle) -> ServerConfig {
    let c = store.credentials();
    ServerConfig::new(
        store.endpoint(),
        CredentialSource::fixed(Credentials::new(
            c.access_key_id.clone(),
            c.secret_access_key.clone(),
        )),
    )
    .with_bucket(BUCKET)
    .with_token_secret(TOKEN_SECRET.to_vec())
    .with_api_keys(vec![API_KEY.into(), OTHER_API_KEY.into()])
    .with_grant_secret(GRANT_SECRET.to_vec())
    .with_plan(
        PlanPolicy::default()
            .with_single_put_threshold(PART)
            .with_part_size(PART),
    )
}

pub struct Server {
    pub base: String,
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

pub async fn start_server(config: ServerConfig) -> Server {
    let state = AppState::new(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(hoist_server::serve(listener, state.clone(), async {
        let _ = rx.await;
    }));
    Server {
        base,
        state,
        stop: Some(tx),
        task: Some(task),
    }
}

/// A JSON call to the coordinator: (status, body as JSON or Null).
pub async fn call(
    method: reqwest::Method,
    url: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut rb = client.request(method, url);
    if let Some(a) = auth {
        rb = rb.header("authorization", format!("Bearer {a}"));
    }
    if let Some(b) = body {
        rb = rb
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&b).unwrap());
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v)
}

pub async fn post(url: &str, auth: Option<&str>, body: Value) -> (u16, Value) {
    call(reqwest::Method::POST, url, auth, Some(body)).await
}

pub async fn get(url: &str, auth: Option<&str>) -> (u16, Value) {
    call(reqwest::Method::GET, url, auth, None).await
}

/// Create an upload with an API key; panics unless 201.
pub async fn create(base: &str, body: Value) -> Value {
    let (status, v) = post(&format!("{base}/v1/uploads"), Some(API_KEY), body).await;
    assert_eq!(status, 201, "{v}");
    v
}

/// PUT `body` to a presigned URL with the headers the coordinator said to send.
pub async fn put(url: &str, headers: &Value, body: Vec<u8>) -> reqwest::Response {
    let mut rb = reqwest::Client::new().put(url);
    for (k, v) in headers.as_object().unwrap() {
        if k != "content-length" {
            rb = rb.header(k.as_str(), v.as_str().unwrap());
        }
    }
    rb.body(body).send().await.unwrap()
}

/// Deterministic test bytes.
pub fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn signer(store: &StoreHandle) -> Presigner {
    let c = store.credentials();
    Presigner::new(
        CoreCreds::new(c.access_key_id.clone(), c.secret_access_key.clone()),
        Endpoint::parse(&store.endpoint(), "us-east-1").unwrap(),
    )
}

/// GET an object straight from the store (status, bytes).
pub async fn fetch_object(store: &StoreHandle, key: &str) -> (u16, Vec<u8>) {
    let now = hoist_s3::local_now();
    let url = signer(store)
        .presign(
            &PresignRequest::get_object(BUCKET, key).expires_in(Duration::from_secs(60)),
            now,
        )
        .unwrap();
    let resp = reqwest::get(&url.url).await.unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
}

/// The store's in-progress multipart uploads of `key` (ListMultipartUploads).
pub async fn multipart_uploads(store: &StoreHandle, key: &str) -> usize {
    let now = hoist_s3::local_now();
    let params = hoist_core::presign::ListUploadsParams {
        prefix: Some(key.to_string()),
        ..Default::default()
    };
    let req = hoist_core::s3::list_multipart_uploads(&signer(store), BUCKET, &params, now).unwrap();
    let resp = reqwest::get(&req.url).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap();
    let list = hoist_core::s3::ListMultipartUploadsResult::from_response(status, &body).unwrap();
    list.uploads.iter().filter(|u| u.key == key).count()
}

pub fn mint(prefix: &str, exp_in: i64, extra: Value) -> String {
    let now = hoist_s3::local_now().unix_seconds();
    let mut claims = json!({"sub": "user-1", "exp": now + exp_in, "prefix": prefix});
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    let claims: hoist_server::GrantClaims = serde_json::from_value(claims).unwrap();
    hoist_server::mint_grant(GRANT_SECRET, &claims)
}

/// PUT an object straight to the store with its own credentials (an independent writer).
pub async fn put_object(store: &StoreHandle, key: &str, body: Vec<u8>) -> u16 {
    let now = hoist_s3::local_now();
    let url = signer(store)
        .presign(
            &PresignRequest::put_object(BUCKET, key).expires_in(Duration::from_secs(60)),
            now,
        )
        .unwrap();
    let resp = reqwest::Client::new()
        .put(&url.url)
        .body(body)
        .send()
        .await
        .unwrap();
    resp.status().as_u16()
}

/// `s` percent-encoded for a query value.
pub fn enc(s: &str) -> String {
    hoist_core::encoding::uri_encode(s)
}

/// Starts an Uppy multipart upload of `a.bin` with the API key; answers its body
/// (`uploadId`, `key`, `bucket`).
pub async fn uppy_create(base: &str) -> Value {
    let (status, c) = post(
        &format!("{base}/s3/multipart"),
        Some(API_KEY),
        json!({"filename": "a.bin", "type": "application/octet-stream"}),
    )
    .await;
    assert_eq!(status, 200, "{c}");
    c
}
