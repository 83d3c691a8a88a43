//! How an upload reaches the store: the [`Transport`] trait and the plain-HTTP helpers that
//! both transports (direct and through a coordinator) share.
//!
//! A transport knows the protocol (create, sign, list, complete, abort); the engine knows
//! the bytes (reading, checksums, parallelism, retries). Every request is presigned, so
//! sending one is the same plain HTTP request whoever signed it.

use std::future::Future;

use hoist_core::checksum::{Checksum, ChecksumAlgorithm};
use hoist_core::s3::CompletedPart;

use crate::error::{Error, ErrorKind, Result};

/// A request to send exactly as given: method, presigned URL and the headers it was signed
/// with (`host` and `content-length` are set by the HTTP client and must match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// What the caller asks for when an upload starts.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// The object's size, `None` for input of unknown length.
    pub size: Option<u64>,
    /// A part size that overrides the planner's choice.
    pub part_size: Option<u64>,
    /// The checksum every part carries and the object is checked with; `None` for none.
    pub checksum: Option<ChecksumAlgorithm>,
    pub content_type: Option<String>,
}

/// A started upload, as the transport planned (and possibly created) it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The S3 upload id (direct) or the coordinator's upload id; empty for a single PUT.
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub multipart: bool,
    pub part_size: u64,
    /// Unknown until the end for input of unknown length.
    pub part_count: Option<u32>,
}

/// One part about to be sent: number, length and its checksum, signed into its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartSpec {
    pub number: u32,
    pub len: u64,
    pub checksum: Option<Checksum>,
}

/// A part the store holds, as ListParts reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPart {
    pub number: u32,
    pub etag: String,
    pub size: u64,
}

/// The finished object as the store describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectInfo {
    pub etag: String,
    pub size: Option<u64>,
    /// The object's checksum for the upload's algorithm, as the store reports it.
    pub checksum: Option<String>,
}

/// The protocol side of an upload. Implemented by [`crate::DirectTransport`] (credentials,
/// signs locally) and [`crate::CoordinatorTransport`] (asks a hoist-server for URLs).
pub trait Transport: Send + Sync + 'static {
    /// A stable description of where the object goes, used to key the resume journal.
    fn destination(&self) -> String;

    /// The part size for input of unknown length (the planner's unknown-size policy, or the
    /// caller's override), or an error when this transport cannot take such input.
    fn stream_part_size(&self, part_size: Option<u64>) -> Result<u64>;

    /// Plans the upload and, when multipart, creates it.
    fn create(&self, opts: &CreateOptions) -> impl Future<Output = Result<Session>> + Send;

    /// A request that uploads one part (or, for a single PUT, the whole object as part 1).
    /// `fresh` asks for a new signature because the previous one expired.
    fn sign_part(
        &self,
        session: &Session,
        part: &PartSpec,
        fresh: bool,
    ) -> impl Future<Output = Result<PresignedRequest>> + Send;

    /// Every part the store holds for this upload (all pages).
    fn list_parts(&self, session: &Session)
    -> impl Future<Output = Result<Vec<StoredPart>>> + Send;

    /// Completes a multipart upload; `parts` name their checksums. `expected` is the object's checksum as the engine
    /// combined it from the parts' (base64; COMPOSITE ones end in `-N`), for a transport
    /// that can have the store check it before the object is made.
    fn complete(
        &self,
        session: &Session,
        parts: &[CompletedPart],
        checksum: Option<ChecksumAlgorithm>,
        expected: Option<&str>,
    ) -> impl Future<Output = Result<ObjectInfo>> + Send;

    /// Aborts a multipart upload; no parts remain.
    fn abort(&self, session: &Session) -> impl Future<Output = Result<()>> + Send;

    /// Sees the `Date` header of an answer to a request sent at `sent` (local clock), so a
    /// transport that signs can correct its clock. Nothing by default.
    fn observe_date(&self, sent: std::time::SystemTime, date: &str) {
        let _ = (sent, date);
    }

    /// Reads the stored object's size and checksum, when this transport can.
    fn head(
        &self,
        session: &Session,
        checksum: Option<ChecksumAlgorithm>,
    ) -> impl Future<Output = Result<Option<ObjectInfo>>> + Send;
}

/// A parsed S3-style error answer: HTTP status, `<Code>` and `<Message>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorAnswer {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ErrorAnswer {
    /// Reads an error body. S3 bodies are XML and go through hoist-core's parser; the
    /// coordinator answers JSON (`{"error": …, "message": …}`).
    pub fn parse(status: u16, body: &[u8]) -> ErrorAnswer {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
            let field = |names: &[&str]| {
                names
                    .iter()
                    .find_map(|n| v.get(*n).and_then(|x| x.as_str()))
                    .unwrap_or_default()
                    .to_owned()
            };
            return ErrorAnswer {
                status,
                code: field(&["code", "error"]),
                message: field(&["message", "detail", "error"]),
            };
        }
        let (code, message) = crate::s3::parse_error_body(status, body);
        ErrorAnswer {
            status,
            code,
            message,
        }
    }

    /// The failure class for exit codes.
    pub fn kind(&self) -> ErrorKind {
        match (self.status, self.code.as_str()) {
            // `checksum_mismatch` is the coordinator's word for the same thing.
            (
                _,
                "BadDigest" | "InvalidDigest" | "XAmzContentChecksumMismatch" | "checksum_mismatch",
            ) => ErrorKind::Integrity,
            (
                _,
                "SignatureDoesNotMatch"
                | "InvalidAccessKeyId"
                | "AccessDenied"
                | "ExpiredToken"
                | "RequestTimeTooSkewed"
                | "InvalidToken",
            ) => ErrorKind::Auth,
            (401 | 403, _) => ErrorKind::Auth,
            (s, _) if s >= 500 || s == 408 || s == 429 => ErrorKind::Network,
            _ => ErrorKind::Refused,
        }
    }

    /// The engine's error for this answer to `operation`.
    pub fn into_error(self, operation: &str) -> Error {
        Error::Http {
            operation: operation.to_owned(),
            status: self.status,
            kind: self.kind(),
            code: self.code,
            message: self.message,
        }
    }
}

/// Builds a reqwest request from a presigned one. `host` and `content-length` are left to
/// the client, which derives them from the URL and the body exactly as they were signed.
pub(crate) fn build(
    http: &reqwest::Client,
    req: &PresignedRequest,
) -> Result<reqwest::RequestBuilder> {
    let method = reqwest::Method::from_bytes(req.method.as_bytes())
        .map_err(|e| Error::protocol("sign", format!("bad method {:?}: {e}", req.method)))?;
    let mut rb = http.request(method, &req.url);
    for (name, value) in &req.headers {
        // The client derives both from the URL and body, except that it sends no
        // content-length for an empty body, which a signature pinning "0" needs.
        let derived = name.eq_ignore_ascii_case("host")
            || (name.eq_ignore_ascii_case("content-length") && value != "0");
        if derived {
            continue;
        }
        rb = rb.header(name.as_str(), value.as_str());
    }
    Ok(rb)
}

/// Sends a request and returns the successful response, or the failure. Network errors and
/// timeouts are network failures; HTTP errors are read from their body.
pub(crate) async fn send(
    rb: reqwest::RequestBuilder,
    operation: &str,
) -> Result<reqwest::Response> {
    let resp = rb
        .send()
        .await
        .map_err(|e| Error::network(operation, error_chain(&e)))?;
    check(resp, operation).await
}

/// Passes a successful response through; reads a failed one.
pub(crate) async fn check(resp: reqwest::Response, operation: &str) -> Result<reqwest::Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap_or_default();
    Err(ErrorAnswer::parse(status, &body).into_error(operation))
}

/// Reads a successful response's body, treating a cut-off body as a network failure.
pub(crate) async fn body(resp: reqwest::Response, operation: &str) -> Result<bytes::Bytes> {
    resp.bytes()
        .await
        .map_err(|e| Error::network(operation, error_chain(&e)))
}

/// reqwest's Display hides the cause ("error sending request"); the chain says what broke.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
