//! Through a coordinator: a hoist-server plans the upload and hands out presigned URLs; the
//! client never sees credentials, exactly like a browser.
//!
//! URLs are asked for just in time, in small batches, and asked for again when a part meets
//! an expired signature.
//!
//! With a checksum (the default), the upload is created with it, each part's URL is asked
//! for once the part is read, with its checksum, which the coordinator signs into the URL
//! (so the store refuses any other body), and completion names every part's checksum and the
//! object's, which the store checks and the answer reports back.
//!
//! Given several coordinators (replicas sharing a token secret), it talks to one at a time
//! and moves to the next when one stops answering (a connection refused or broken, a
//! timeout, a 5xx), keeping the upload id: the token opens on every replica, and the store
//! holds the upload's state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hoist_core::checksum::ChecksumAlgorithm;
use hoist_core::error::S3Error;
use hoist_core::redact::redact_text;
use hoist_core::s3::CompletedPart;
use hoist_s3::{Answer, Http};
use serde_json::{Value, json};

use crate::checksum::multipart_type;
use crate::error::{Error, Result};
use crate::gather::{Batching, item_answer};
use crate::progress::{Progress, ProgressFn};
use crate::transport::{
    CreateOptions, ObjectInfo, PartSpec, PresignedRequest, Session, StoredPart, Transport, planned,
};

/// How many part URLs one request asks for.
const BATCH: u32 = 16;

/// A call to the coordinator that has not answered after this long is given up (and retried).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Uploads through a hoist-server's JSON API, failing over between replicas.
pub struct CoordinatorTransport {
    http: Http,
    /// The replicas, in the order they were given; `current` is the one talked to.
    bases: Vec<String>,
    /// Shared by the transports of one batch's files: a move is made once for all.
    current: std::sync::Arc<AtomicUsize>,
    progress: std::sync::Mutex<Option<ProgressFn>>,
    token: Option<String>,
    filename: Option<String>,
    key: Option<String>,
    no_clobber: bool,
    /// A file of a folder: its path relative to the folder (a batch's `path`).
    path: Option<String>,
    /// The calls gathered with the other files of a batch, when there is one.
    batching: Option<std::sync::Arc<Batching>>,
    urls: tokio::sync::Mutex<HashMap<u32, PresignedRequest>>,
    /// A single PUT's URL signed at creation with the whole file's checksum (base64).
    pinned: std::sync::Mutex<Option<(String, PresignedRequest)>>,
}

impl CoordinatorTransport {
    /// A transport for the coordinator at `base` (`http://host:port`), with an optional
    /// API key or grant sent as `Authorization: Bearer`.
    pub fn new(http: Http, base: &str, token: Option<String>) -> Result<Self> {
        Self::replicas(http, &[base], token)
    }

    /// A transport for several replicas of one coordinator (sharing a token secret): the
    /// first is used until it stops answering, then the next, and so on around.
    pub fn replicas(http: Http, bases: &[impl AsRef<str>], token: Option<String>) -> Result<Self> {
        let mut list = Vec::new();
        for base in bases {
            let base = base.as_ref().trim().trim_end_matches('/').to_owned();
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err(Error::Config(format!(
                    "coordinator URL {base:?} must start with http:// or https://"
                )));
            }
            if !list.contains(&base) {
                list.push(base);
            }
        }
        if list.is_empty() {
            return Err(Error::Config("no coordinator URL given".into()));
        }
        Ok(CoordinatorTransport {
            http,
            bases: list,
            current: std::sync::Arc::new(AtomicUsize::new(0)),
            progress: std::sync::Mutex::new(None),
            token,
            filename: None,
            key: None,
            no_clobber: false,
            path: None,
            batching: None,
            urls: tokio::sync::Mutex::new(HashMap::new()),
            pinned: std::sync::Mutex::new(None),
        })
    }

    /// A transport for another file of the same batch: the same coordinators (a move to
    /// another is shared), caller and no-clobber choice, with this file's name and key.
    pub fn for_file(&self, filename: Option<String>, key: Option<String>) -> Self {
        CoordinatorTransport {
            http: self.http.clone(),
            bases: self.bases.clone(),
            current: self.current.clone(),
            progress: std::sync::Mutex::new(None),
            token: self.token.clone(),
            filename,
            key,
            no_clobber: self.no_clobber,
            path: None,
            batching: self.batching.clone(),
            urls: tokio::sync::Mutex::new(HashMap::new()),
            pinned: std::sync::Mutex::new(None),
        }
    }

    /// Gathers this transport's creates and single-PUT confirmations with those of the
    /// other files of `batching` (`POST /v1/uploads/batch`, `/v1/uploads/batch/complete`),
    /// and puts files given a folder path ([`Self::in_folder`]) in the batch's folder.
    pub fn with_batching(mut self, batching: std::sync::Arc<Batching>) -> Self {
        self.batching = Some(batching);
        self
    }

    /// A file stored at `path` inside the batch's folder: the coordinator makes one folder
    /// under the caller's prefix, and every file's key is that folder plus its path.
    pub fn in_folder(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Creates through the batch route, with the other files' creates.
    async fn create_gathered(&self, b: &Batching, item: Value) -> Result<Value> {
        let call = |items: Vec<Value>| async move {
            let mut body = json!({ "uploads": items });
            if let Some(f) = b.folder() {
                body["folder"] = json!(f);
            }
            let v = self
                .call("POST", "/v1/uploads/batch", Some(body), BATCH_CREATE)
                .await?;
            if let Some(f) = v.get("folder").and_then(Value::as_str) {
                b.learn_folder(f);
            }
            answers(&v, "create upload")
        };
        b.creates.submit(item, call).await
    }

    /// Confirms a single PUT through the batch route, with the other files' confirmations.
    async fn confirm_gathered(&self, b: &Batching, id: &str) -> Result<Value> {
        let call = |items: Vec<Value>| async move {
            let body = json!({ "uploads": items });
            let v = self
                .call(
                    "POST",
                    "/v1/uploads/batch/complete",
                    Some(body),
                    BATCH_CONFIRM,
                )
                .await?;
            answers(&v, "confirm")
        };
        b.confirms.submit(json!({ "id": id }), call).await
    }

    /// The file name the coordinator uses when it generates the key.
    pub fn with_filename(mut self, name: impl Into<String>) -> Self {
        self.filename = Some(name.into());
        self
    }

    /// Asks for a specific key (the coordinator may refuse it unless the grant allows).
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Asks for a no-clobber upload (`if_none_match: "*"`): the store refuses to replace an
    /// object at the key, and the upload ends in [`crate::ErrorKind::AlreadyExists`].
    pub fn with_no_clobber(mut self) -> Self {
        self.no_clobber = true;
        self
    }

    /// The coordinator talked to now.
    pub fn current(&self) -> &str {
        &self.bases[self.current.load(Ordering::Relaxed) % self.bases.len()]
    }

    /// One call of the JSON API: `method path` with `body`, answered with JSON. A replica
    /// that does not answer is left for the next (each tried once per call); the engine's
    /// retry loop calls again after its backoff.
    async fn call(&self, method: &str, path: &str, body: Option<Value>, op: &str) -> Result<Value> {
        let n = self.bases.len();
        let start = self.current.load(Ordering::Relaxed) % n;
        let mut failed: Option<Error> = None;
        for i in 0..n {
            let at = (start + i) % n;
            match self.call_at(at, method, path, body.as_ref(), op).await {
                Ok(v) => {
                    if let Some(e) = failed {
                        self.moved(start, at, &e);
                    }
                    return Ok(v);
                }
                Err(e) if n > 1 && fails_over(&e) => {
                    tracing::debug!(server = %self.bases[at], error = %e, "coordinator not answering");
                    failed = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(failed.expect("at least one coordinator was tried"))
    }

    /// Records a move from replica `from` to `to`, and tells the user once: concurrent calls
    /// that failed on the same replica make one move between them.
    fn moved(&self, from: usize, to: usize, why: &Error) {
        if self
            .current
            .compare_exchange(from, to, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let (from, to) = (self.bases[from].clone(), self.bases[to].clone());
        tracing::info!(%from, %to, "coordinator failover");
        let progress = self.progress.lock().unwrap().clone();
        if let Some(p) = progress {
            p(&Progress::Failover {
                from,
                to,
                reason: why.to_string(),
            });
        }
    }

    async fn call_at(
        &self,
        at: usize,
        method: &str,
        path: &str,
        body: Option<&Value>,
        op: &str,
    ) -> Result<Value> {
        let mut headers = Vec::new();
        if let Some(t) = &self.token {
            headers.push(("authorization".to_owned(), format!("Bearer {t}")));
        }
        if body.is_some() {
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
        }
        let url = format!("{}{path}", self.bases[at]);
        let failed = |e| not_reached(op, e);
        let mut rb = self
            .http
            .request(op, method, &url, &headers)
            .map_err(failed)?
            .timeout(CALL_TIMEOUT);
        if let Some(b) = body {
            rb = rb.body(b.to_string());
        }
        let answer = self.http.send(op, rb).await.map_err(failed)?;
        if !answer.ok() {
            return Err(refusal(op, &answer));
        }
        if answer.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&answer.body)
            .map_err(|e| Error::protocol(op, format!("bad JSON: {e}")))
    }

    /// Asks for URLs for `numbers` (pinning each checksum in `sums`) and caches them.
    async fn fetch(&self, id: &str, numbers: &[u32], sums: &[(u32, &str)]) -> Result<()> {
        let mut body = json!({ "numbers": numbers });
        if !sums.is_empty() {
            let map: serde_json::Map<String, Value> = sums
                .iter()
                .map(|(n, s)| (n.to_string(), json!(s)))
                .collect();
            body["checksums"] = Value::Object(map);
        }
        let v = self
            .call(
                "POST",
                &format!("/v1/uploads/{id}/parts"),
                Some(body),
                "sign parts",
            )
            .await?;
        let list = v.get("parts").unwrap_or(&v);
        let mut urls = self.urls.lock().await;
        for p in list.as_array().into_iter().flatten() {
            if let Some((n, r)) = part_url(p) {
                urls.insert(n, r);
            }
        }
        Ok(())
    }
}

/// Each item's answer of a batch route's answer, in order.
fn answers(v: &Value, operation: &str) -> Result<Vec<Result<Value>>> {
    let items = v
        .get("uploads")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::protocol(operation, "the batch answer has no uploads"))?;
    Ok(items.iter().map(|i| item_answer(i, operation)).collect())
}

/// Whether a batch route is missing on this coordinator (an older one): the whole request
/// was answered 404 or 405, not one of its items.
fn no_route(e: &Error) -> bool {
    matches!(e, Error::Coordinator { operation, status: 404 | 405, .. } if operation.as_str() == BATCH_CREATE || operation.as_str() == BATCH_CONFIRM)
}

const BATCH_CREATE: &str = "create uploads";
const BATCH_CONFIRM: &str = "confirm uploads";

/// The coordinator's refusal as the engine's error: its JSON error
/// (`{"error": code, "message": …}`), or, from a proxy or anything else in between, a body
/// read as S3 reads one. What it says is shortened where it quotes a secret.
fn refusal(operation: &str, answer: &Answer) -> Error {
    let (code, message) = match serde_json::from_slice::<Value>(&answer.body) {
        Ok(v) => {
            let field = |names: &[&str]| {
                names
                    .iter()
                    .find_map(|n| v.get(*n).and_then(Value::as_str))
                    .unwrap_or_default()
                    .to_owned()
            };
            (
                field(&["code", "error"]),
                field(&["message", "detail", "error"]),
            )
        }
        Err(_) => {
            let e = S3Error::from_response(answer.status, &answer.body);
            (e.code.as_str().to_owned(), e.message)
        }
    };
    Error::Coordinator {
        operation: operation.to_owned(),
        status: answer.status,
        code: redact_text(&code),
        message: redact_text(&message),
    }
}

/// Whether another replica should be asked: this one did not answer (connection refused
/// or broken, a timeout) or failed (5xx, the proxy in front of it included).
fn fails_over(e: &Error) -> bool {
    match e {
        Error::Network { .. } => true,
        Error::Coordinator { status, .. } => *status >= 500,
        _ => false,
    }
}

/// A call that got no answer: a network failure (hoist-s3 has shortened any secret in it).
fn not_reached(operation: &str, e: hoist_s3::Error) -> Error {
    match e {
        hoist_s3::Error::Transport { operation, detail } => Error::Network {
            operation,
            message: detail,
        },
        other => Error::protocol(operation, other.to_string()),
    }
}

/// Reads `{number, url, headers, method?}`.
fn part_url(p: &Value) -> Option<(u32, PresignedRequest)> {
    let number = p.get("number")?.as_u64()? as u32;
    Some((number, presigned(p, "PUT")?))
}

fn presigned(v: &Value, default_method: &str) -> Option<PresignedRequest> {
    let url = v.get("url")?.as_str()?.to_owned();
    let method = v
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or(default_method)
        .to_owned();
    Some(PresignedRequest {
        method,
        url,
        headers: headers(v.get("headers")),
    })
}

/// Headers as an object `{name: value}` or a list of `[name, value]` pairs.
fn headers(v: Option<&Value>) -> Vec<(String, String)> {
    match v {
        Some(Value::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), scalar(v)?)))
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|p| Some((p.get(0)?.as_str()?.to_owned(), scalar(p.get(1)?)?)))
            .collect(),
        _ => Vec::new(),
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn field_u64(v: &Value, name: &str, op: &str) -> Result<u64> {
    v.get(name)
        .and_then(Value::as_u64)
        .ok_or_else(|| Error::protocol(op, format!("answer has no {name}")))
}

impl CoordinatorTransport {
    async fn confirm_one(&self, id: &str) -> Result<Value> {
        self.call(
            "POST",
            &format!("/v1/uploads/{id}/complete"),
            Some(json!({})),
            "confirm",
        )
        .await
    }
}

impl std::fmt::Debug for CoordinatorTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoordinatorTransport")
            .field("bases", &self.bases)
            .field("current", &self.current())
            .field("token", &self.token.as_deref().map(redact_text))
            .field("filename", &self.filename)
            .field("key", &self.key)
            .field("no_clobber", &self.no_clobber)
            .finish_non_exhaustive()
    }
}

impl Transport for CoordinatorTransport {
    /// The caller (a digest of its API key or grant) and the key or file name asked for:
    /// which replica carries the upload is no part of it, and the store behind replicas
    /// sharing a token secret is theirs to know (a replica that does not share it refuses
    /// the upload's token, and the upload starts over).
    fn destination(&self) -> String {
        let caller = match &self.token {
            Some(t) => {
                let mut h = ChecksumAlgorithm::Sha256.hasher();
                h.update(t.as_bytes());
                hoist_core::encoding::hex(&h.finish().as_bytes()[..8])
            }
            None => "anonymous".to_owned(),
        };
        let (what, name) = match (&self.key, &self.path, &self.filename) {
            (Some(k), _, _) => ("key", k.clone()),
            // A folder's file: the batch (named by what it uploads) and the path in it.
            (None, Some(p), _) => (
                "folder",
                format!(
                    "{}/{p}",
                    self.batching.as_deref().map_or("", |b| b.id.as_str())
                ),
            ),
            (None, None, Some(f)) => ("file", f.clone()),
            (None, None, None) => ("file", String::new()),
        };
        format!("hoist:{caller}/{what}:{name}")
    }

    fn listen(&self, progress: ProgressFn) {
        *self.progress.lock().unwrap() = Some(progress);
    }

    fn stream_part_size(&self, _part_size: Option<u64>) -> Result<u64> {
        Err(Error::Config(
            "a coordinator needs the size in advance: standard input works only in direct mode"
                .into(),
        ))
    }

    fn confirms_single_put(&self) -> bool {
        true
    }

    fn pins_whole_checksum(&self, size: u64) -> bool {
        // Below S3's smallest part no coordinator plans parts: the upload is one PUT, whose
        // URL a batch's create signs with the whole file's checksum.
        self.batching.is_some() && size < 5 * 1024 * 1024
    }

    async fn create(&self, opts: &CreateOptions) -> Result<Session> {
        let size = opts
            .size
            .ok_or_else(|| Error::Config("a coordinator needs the size in advance".into()))?;
        let mut body = json!({ "size": size });
        if let Some(f) = &self.filename {
            body["filename"] = json!(f);
        }
        if let Some(k) = &self.key {
            body["key"] = json!(k);
        }
        if let Some(ct) = &opts.content_type {
            body["content_type"] = json!(ct);
        }
        if self.no_clobber {
            body["if_none_match"] = json!("*");
        }
        if let Some(alg) = opts.checksum {
            // The type only matters for multipart; the coordinator picks that.
            body["checksum"] = json!({ "algorithm": alg, "type": multipart_type(alg) });
            if let Some(sum) = opts.whole_checksum.filter(|s| s.algorithm() == alg) {
                body["checksum"]["value"] = json!(sum.to_base64());
            }
        }
        let op = "create upload";
        let gathered = self
            .batching
            .as_deref()
            .filter(|b| !b.creates.unsupported.load(Ordering::Relaxed));
        let v = match gathered {
            Some(b) => {
                let mut item = body.clone();
                if let Some(p) = &self.path {
                    item["path"] = json!(p);
                    if let Some(m) = item.as_object_mut() {
                        m.remove("filename");
                    }
                }
                if let Some(u) = &opts.unless_stored {
                    item["unless_stored"] = json!({ "md5": u.md5_hex });
                    if let Some(c) = &u.checksum {
                        item["unless_stored"]["checksum"] =
                            json!({ "algorithm": c.algorithm(), "value": c.to_base64() });
                    }
                }
                match self.create_gathered(b, item).await {
                    Err(e) if no_route(&e) => {
                        b.creates.unsupported.store(true, Ordering::Relaxed);
                        tracing::info!("the coordinator has no batch routes: one create per file");
                        self.call("POST", "/v1/uploads", Some(body), op).await?
                    }
                    other => other?,
                }
            }
            None => self.call("POST", "/v1/uploads", Some(body), op).await?,
        };
        if v.get("skipped").and_then(Value::as_bool) == Some(true) {
            let text = |n: &str| {
                v.get(n)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            return Err(Error::AlreadyStored {
                key: text("key"),
                etag: text("etag"),
            });
        }
        let id = v
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::protocol(op, "answer has no id"))?;
        let multipart = v.get("strategy").and_then(Value::as_str) == Some("multipart");
        let (part_size, part_count) = if multipart {
            let count = field_u64(&v, "part_count", op)?;
            (field_u64(&v, "part_size", op)?, count)
        } else {
            (size, 1)
        };
        let plan = planned(size, part_size, multipart)
            .filter(|p| p.part_count.map(u64::from) == Some(part_count))
            .ok_or_else(|| {
                let plan = format!("{part_count} parts of {part_size} bytes for {size} bytes");
                Error::protocol(op, format!("the coordinator planned {plan}"))
            })?;
        let session = Session {
            upload_id: id.to_owned(),
            bucket: v
                .get("bucket")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            key: v
                .get("key")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            plan,
        };
        let mut urls = self.urls.lock().await;
        urls.clear();
        if multipart {
            for p in v
                .get("parts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some((n, r)) = part_url(p) {
                    urls.insert(n, r);
                }
            }
        } else if let Some(r) = presigned(&v, "PUT") {
            match opts
                .whole_checksum
                .filter(|_| v.get("checksum_algorithm").is_some())
            {
                Some(sum) => *self.pinned.lock().unwrap() = Some((sum.to_base64(), r)),
                None => {
                    urls.insert(1, r);
                }
            }
        }
        Ok(session)
    }

    async fn sign_part(
        &self,
        session: &Session,
        part: &PartSpec,
        fresh: bool,
    ) -> Result<PresignedRequest> {
        if let Some(sum) = &part.checksum
            && !fresh
            && !session.multipart()
        {
            let pinned = self.pinned.lock().unwrap().take();
            if let Some((_, r)) = pinned.filter(|(v, _)| *v == sum.to_base64()) {
                return Ok(r);
            }
        }
        if let Some(sum) = &part.checksum {
            // The part's checksum is signed into its URL, so the URL can only be asked for
            // now that the part is read: one at a time.
            self.urls.lock().await.remove(&part.number);
            let sum = sum.to_base64();
            self.fetch(&session.upload_id, &[part.number], &[(part.number, &sum)])
                .await?;
            return self.urls.lock().await.remove(&part.number).ok_or_else(|| {
                Error::protocol(
                    "sign parts",
                    format!("no URL for part {} in the answer", part.number),
                )
            });
        }
        if !fresh {
            // Each URL is used once: a retry or a resume asks for a fresh one.
            if let Some(r) = self.urls.lock().await.remove(&part.number) {
                return Ok(r);
            }
        }
        let last = session.plan.part_count.unwrap_or(part.number);
        let numbers: Vec<u32> = if fresh || !session.multipart() {
            vec![part.number]
        } else {
            let cached = self.urls.lock().await;
            (part.number..=last.min(part.number + BATCH - 1))
                .filter(|n| *n == part.number || !cached.contains_key(n))
                .collect()
        };
        self.fetch(&session.upload_id, &numbers, &[]).await?;
        self.urls.lock().await.remove(&part.number).ok_or_else(|| {
            Error::protocol(
                "sign parts",
                format!("no URL for part {} in the answer", part.number),
            )
        })
    }

    async fn list_parts(&self, session: &Session) -> Result<Vec<StoredPart>> {
        let op = "upload state";
        let v = self
            .call(
                "GET",
                &format!("/v1/uploads/{}", session.upload_id),
                None,
                op,
            )
            .await?;
        let parts = v
            .get("parts")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        parts
            .iter()
            .map(|p| {
                Ok(StoredPart {
                    number: field_u64(p, "number", op)? as u32,
                    etag: p
                        .get("etag")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    size: field_u64(p, "size", op)?,
                })
            })
            .collect()
    }

    async fn complete(
        &self,
        session: &Session,
        parts: &[CompletedPart],
        c: Option<ChecksumAlgorithm>,
        expected: Option<&str>,
    ) -> Result<ObjectInfo> {
        let list: Vec<Value> = parts
            .iter()
            .map(|p| {
                let mut part = json!({"number": p.part_number, "etag": p.etag});
                if let Some((_, sum)) = p.checksum.as_ref().filter(|_| c.is_some()) {
                    part["checksum"] = json!(sum);
                }
                part
            })
            .collect();
        let mut body = json!({ "parts": list });
        if let Some(want) = expected.filter(|_| c.is_some()) {
            body["checksum"] = json!(want);
        }
        let v = self
            .call(
                "POST",
                &format!("/v1/uploads/{}/complete", session.upload_id),
                Some(body),
                "complete",
            )
            .await?;
        Ok(completed(&v, c))
    }

    async fn abort(&self, session: &Session) -> Result<()> {
        self.call(
            "DELETE",
            &format!("/v1/uploads/{}", session.upload_id),
            None,
            "abort",
        )
        .await
        .map(drop)
    }

    async fn head(
        &self,
        session: &Session,
        c: Option<ChecksumAlgorithm>,
    ) -> Result<Option<ObjectInfo>> {
        if session.multipart() {
            return Ok(None);
        }
        // A single PUT is confirmed with a complete call, which answers the object as the
        // store holds it (size, checksum) and lets the coordinator count it.
        let gathered = self
            .batching
            .as_deref()
            .filter(|b| !b.confirms.unsupported.load(Ordering::Relaxed));
        let confirmed = match gathered {
            Some(b) => match self.confirm_gathered(b, &session.upload_id).await {
                Err(e) if no_route(&e) => {
                    b.confirms.unsupported.store(true, Ordering::Relaxed);
                    self.confirm_one(&session.upload_id).await
                }
                other => other,
            },
            None => self.confirm_one(&session.upload_id).await,
        };
        match confirmed {
            Ok(v) => Ok(Some(completed(&v, c))),
            Err(e) if e.kind() == crate::error::ErrorKind::Integrity => Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "the coordinator did not confirm the object");
                Ok(None)
            }
        }
    }
}

/// Reads a completion answer. Its checksum counts only when it is in the upload's algorithm
/// (`checksum_algorithm`; a coordinator that does not say is not trusted with it).
fn completed(v: &Value, c: Option<ChecksumAlgorithm>) -> ObjectInfo {
    let same_algorithm = c.is_some()
        && v.get("checksum_algorithm")
            .and_then(|a| serde_json::from_value::<ChecksumAlgorithm>(a.clone()).ok())
            == c;
    ObjectInfo {
        etag: v
            .get("etag")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        size: v.get("size").and_then(Value::as_u64),
        checksum: v
            .get("checksum")
            .and_then(Value::as_str)
            .filter(|_| same_algorithm)
            .map(str::to_owned),
        hook_pending: v.get("hook_pending").and_then(Value::as_bool),
    }
}
