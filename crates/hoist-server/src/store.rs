//! The S3 control client: CreateMultipartUpload, ListParts (every page), Complete, Abort,
//! HeadObject and HeadBucket, each a request built and presigned by hoist-core
//! ([`hoist_core::s3`]) and sent with reqwest; answers parsed by hoist-core.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hoist_core::clock::ClockOffset;
use hoist_core::error::{S3Error, S3ErrorCode};
use hoist_core::presign::{Endpoint, PresignError, PresignRequest, PresignedUrl, Presigner};
use hoist_core::s3::{
    self, CompleteMultipartUploadResult, CompletedPart, CorsConfiguration, CorsRule, HttpRequest,
    InitiateMultipartUploadResult, LifecycleConfiguration, LifecycleRule, ListPartsResult,
    ResponseError,
};
use hoist_core::time::Timestamp;

use crate::api::{ChecksumAlgorithm, ChecksumType, StoredPart};
use crate::clock::local_now;
use crate::config::ServerConfig;
use crate::credentials::{CredentialSource, Credentials};
use crate::metrics::PresignKind;
use crate::state::{AppState, StateError};

/// Id of the bucket CORS rule `hoist serve` keeps for its own upload page.
pub const SERVE_CORS_RULE: &str = "hoist-serve-upload-page";

/// Id of the lifecycle rule that `hoist serve` adds to its embedded store's bucket.
pub const SERVE_LIFECYCLE_RULE: &str = "hoist-serve-abort-incomplete";

/// A control call should never take long; a hung store must not hang API callers.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(30);
/// ListParts pages are at most 1,000 parts and uploads at most 10,000: 10 pages, with room.
const MAX_LIST_PAGES: usize = 20;

/// A failed store call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store answered with an S3 error.
    #[error("{0}")]
    S3(Box<S3Error>),
    /// The store could not be reached or the connection failed.
    #[error("store unreachable: {0}")]
    Transport(String),
    /// The store answered something that is not what S3 answers.
    #[error("unexpected answer from the store: {0}")]
    Unexpected(String),
    /// The request could not be signed.
    #[error("cannot sign: {0}")]
    Sign(String),
}

impl From<ResponseError> for StoreError {
    fn from(e: ResponseError) -> Self {
        match e {
            ResponseError::S3(e) => StoreError::S3(e),
            other => StoreError::Unexpected(other.to_string()),
        }
    }
}

impl StoreError {
    /// The S3 error code (`http_404` style when the answer had no body, as HEAD answers do).
    pub fn code(&self) -> Option<String> {
        match self {
            StoreError::S3(e) if e.code.as_str().is_empty() => Some(format!("http_{}", e.status)),
            StoreError::S3(e) => Some(e.code.as_str().to_string()),
            _ => None,
        }
    }

    /// The HTTP status of an S3 error answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            StoreError::S3(e) => Some(e.status),
            _ => None,
        }
    }

    pub fn is_no_such_upload(&self) -> bool {
        matches!(self, StoreError::S3(e) if e.code == S3ErrorCode::NoSuchUpload)
    }
}

/// What HeadObject says about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub etag: String,
    /// The object's flexible checksum (algorithm, base64 value), when the store keeps one.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
    /// `x-amz-checksum-type`, when the store reports it.
    pub checksum_type: Option<ChecksumType>,
}

/// One part named in a CompleteMultipartUpload that carries checksums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletePart {
    pub number: u32,
    pub etag: String,
    /// base64 of the part's checksum in the upload's algorithm.
    pub checksum: Option<String>,
}

/// The CompleteMultipartUpload body with each part's checksum as `<ChecksumCRC64NVME>` (or
/// the element of `algorithm`), parts sorted by number as S3 requires.
pub fn complete_body(parts: &[CompletePart], algorithm: Option<ChecksumAlgorithm>) -> String {
    let mut sorted: Vec<&CompletePart> = parts.iter().collect();
    sorted.sort_by_key(|p| p.number);
    let mut out = String::with_capacity(96 + parts.len() * 160);
    out.push_str("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for p in sorted {
        let mut part = hoist_core::xml::XmlElement {
            name: "Part".into(),
            ..Default::default()
        };
        part.children.push(hoist_core::xml::XmlElement::leaf(
            "PartNumber",
            p.number.to_string(),
        ));
        part.children
            .push(hoist_core::xml::XmlElement::leaf("ETag", p.etag.as_str()));
        if let (Some(alg), Some(sum)) = (algorithm, &p.checksum) {
            part.children.push(hoist_core::xml::XmlElement::leaf(
                alg.xml_element(),
                sum.as_str(),
            ));
        }
        part.write_to(&mut out);
    }
    out.push_str("</CompleteMultipartUpload>");
    out
}

/// Each part's flexible checksum in a ListParts page, by part number (core's parser does
/// not read them).
fn part_checksums(body: &[u8]) -> std::collections::HashMap<u32, String> {
    let Ok(root) = hoist_core::xml::parse(body) else {
        return Default::default();
    };
    root.children_named("Part")
        .filter_map(|p| {
            let number = p.text_of("PartNumber")?.trim().parse().ok()?;
            let sum = ChecksumAlgorithm::ALL
                .iter()
                .find_map(|a| p.text_of(a.xml_element()))?;
            Some((number, sum.trim().to_string()))
        })
        .collect()
}

/// Sends control calls and signs URLs for one bucket's store.
#[derive(Debug)]
pub struct StoreClient {
    http: reqwest::Client,
    endpoint: Endpoint,
    credentials: CredentialSource,
    /// The signer for the current credentials; rebuilt when they change.
    signer: RwLock<(Arc<Credentials>, Arc<Presigner>)>,
    bucket: String,
}

impl StoreClient {
    pub fn new(config: &ServerConfig) -> Result<Self, StateError> {
        let mut endpoint = Endpoint::parse(&config.store.endpoint, config.store.region.clone())
            .map_err(|e| StateError::BadEndpoint(format!("{}: {e}", config.store.endpoint)))?;
        endpoint = if config.store.virtual_host {
            endpoint.virtual_host()
        } else {
            endpoint.path_style()
        };
        let http = reqwest::Client::builder()
            .timeout(CONTROL_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| StateError::Client(e.to_string()))?;
        let creds = config.credentials.current(local_now());
        let signer = Arc::new(Presigner::new((*creds).clone(), endpoint.clone()));
        Ok(Self {
            http,
            endpoint,
            credentials: config.credentials.clone(),
            signer: RwLock::new((creds, signer)),
            bucket: config.bucket.clone(),
        })
    }

    /// The credentials that sign now.
    pub fn credentials(&self, now: Timestamp) -> Arc<Credentials> {
        self.credentials.current(now)
    }

    fn signer(&self, now: Timestamp) -> Arc<Presigner> {
        let creds = self.credentials.current(now);
        {
            let s = self.signer.read().unwrap_or_else(|e| e.into_inner());
            if Arc::ptr_eq(&s.0, &creds) {
                return s.1.clone();
            }
        }
        let fresh = Arc::new(Presigner::new((*creds).clone(), self.endpoint.clone()));
        *self.signer.write().unwrap_or_else(|e| e.into_inner()) = (creds, fresh.clone());
        fresh
    }

    /// Sign `req` at `now` (corrected time).
    pub fn presign(
        &self,
        req: &PresignRequest<'_>,
        now: Timestamp,
    ) -> Result<PresignedUrl, StoreError> {
        self.signer(now)
            .presign(req, now)
            .map_err(|e| StoreError::Sign(e.to_string()))
    }

    /// Send a control call built by hoist-core; the status, headers and body, whatever the
    /// status (the parsers judge it).
    async fn send(
        &self,
        state: &AppState,
        req: Result<HttpRequest, PresignError>,
    ) -> Result<(u16, reqwest::header::HeaderMap, bytes::Bytes), StoreError> {
        let started = std::time::Instant::now();
        let req = req.map_err(|e| StoreError::Sign(e.to_string()))?;
        state
            .metrics()
            .presigned(PresignKind::Control, 1, started.elapsed());
        let method = reqwest::Method::from_bytes(req.method.as_str().as_bytes())
            .map_err(|e| StoreError::Sign(e.to_string()))?;
        let mut rb = self.http.request(method, &req.url);
        for (k, v) in &req.headers {
            // reqwest sets content-length from the body itself.
            if k != "content-length" {
                rb = rb.header(k.as_str(), v.as_str());
            }
        }
        if !req.body.is_empty() {
            rb = rb.body(req.body);
        }
        let resp = rb
            .send()
            .await
            .map_err(|e| StoreError::Transport(e.to_string()))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| StoreError::Transport(e.to_string()))?;
        Ok((status, headers, bytes))
    }

    /// CreateMultipartUpload, pinning the content type and metadata; the upload id.
    pub async fn create_multipart(
        &self,
        state: &AppState,
        key: &str,
        content_type: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<String, StoreError> {
        self.create_multipart_with(state, key, content_type, metadata, None)
            .await
    }

    /// CreateMultipartUpload with a flexible checksum (`x-amz-checksum-algorithm` and
    /// `x-amz-checksum-type`): the store then checks every part and combines the object's.
    pub async fn create_multipart_with(
        &self,
        state: &AppState,
        key: &str,
        content_type: &str,
        metadata: &BTreeMap<String, String>,
        checksum: Option<(ChecksumAlgorithm, ChecksumType)>,
    ) -> Result<String, StoreError> {
        let now = state.now();
        let mut req = PresignRequest::create_multipart_upload(self.bucket.as_str(), key)
            .content_type(content_type);
        if let Some((alg, kind)) = checksum {
            req = req
                .header("x-amz-checksum-algorithm", alg.s3_name())
                .header("x-amz-checksum-type", kind.as_str());
        }
        for (k, v) in metadata {
            req = req.header(format!("x-amz-meta-{k}"), v.as_str());
        }
        let built = s3::build(&self.signer(now), req, Vec::new(), now);
        let (status, _, body) = self.send(state, built).await?;
        Ok(InitiateMultipartUploadResult::from_response(status, &body)?.upload_id)
    }

    /// ListParts, every page joined.
    pub async fn list_parts(
        &self,
        state: &AppState,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<StoredPart>, StoreError> {
        let mut parts = Vec::new();
        let mut marker = None;
        for _ in 0..MAX_LIST_PAGES {
            let now = state.now();
            let built = s3::list_parts(
                &self.signer(now),
                &self.bucket,
                key,
                upload_id,
                marker,
                None,
                now,
            );
            let (status, _, body) = self.send(state, built).await?;
            let page = ListPartsResult::from_response(status, &body)?;
            let mut sums = part_checksums(&body);
            parts.extend(page.parts.into_iter().map(|p| StoredPart {
                number: p.part_number,
                size: p.size,
                etag: p.etag,
                checksum: sums.remove(&p.part_number),
            }));
            match page.next_part_number_marker {
                Some(m) if page.is_truncated => marker = Some(m),
                _ => return Ok(parts),
            }
        }
        Err(StoreError::Unexpected("ListParts did not end".into()))
    }

    /// CompleteMultipartUpload with `(number, etag)`; the object's ETag.
    pub async fn complete(
        &self,
        state: &AppState,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> Result<String, StoreError> {
        let now = state.now();
        let parts: Vec<CompletedPart> = parts
            .iter()
            .map(|(n, etag)| CompletedPart::new(*n, etag.clone()))
            .collect();
        let built = s3::complete_multipart_upload(
            &self.signer(now),
            &self.bucket,
            key,
            upload_id,
            &parts,
            now,
        );
        let (status, _, body) = self.send(state, built).await?;
        // S3 may answer 200 and then an error body; the parser knows.
        Ok(CompleteMultipartUploadResult::from_response(status, &body)?.etag)
    }

    /// CompleteMultipartUpload naming each part's checksum, and, when `whole` is given, the
    /// object's (`x-amz-checksum-<alg>` with `x-amz-checksum-type`), which the store compares
    /// with the one it combines from the parts before it creates the object. The object's ETag.
    pub async fn complete_checked(
        &self,
        state: &AppState,
        key: &str,
        upload_id: &str,
        parts: &[CompletePart],
        algorithm: Option<ChecksumAlgorithm>,
        whole: Option<(&str, ChecksumType)>,
    ) -> Result<String, StoreError> {
        let now = state.now();
        let mut req =
            PresignRequest::complete_multipart_upload(self.bucket.as_str(), key, upload_id)
                .content_type("application/xml");
        if let (Some(alg), Some((value, kind))) = (algorithm, whole) {
            req = req
                .header(alg.header(), value)
                .header("x-amz-checksum-type", kind.as_str());
        }
        let body = complete_body(parts, algorithm).into_bytes();
        let built = s3::build(&self.signer(now), req, body, now);
        let (status, _, body) = self.send(state, built).await?;
        // S3 may answer 200 and then an error body; the parser knows.
        Ok(CompleteMultipartUploadResult::from_response(status, &body)?.etag)
    }

    /// AbortMultipartUpload.
    pub async fn abort(
        &self,
        state: &AppState,
        key: &str,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        let now = state.now();
        let built =
            s3::abort_multipart_upload(&self.signer(now), &self.bucket, key, upload_id, now);
        let (status, _, body) = self.send(state, built).await?;
        Ok(s3::check_status(status, &body)?)
    }

    /// HeadObject; `None` when there is no such object.
    pub async fn head_object(
        &self,
        state: &AppState,
        key: &str,
    ) -> Result<Option<ObjectInfo>, StoreError> {
        let now = state.now();
        let built = s3::build(
            &self.signer(now),
            // Without the mode header S3 leaves the checksum out of the answer.
            PresignRequest::head_object(self.bucket.as_str(), key)
                .header("x-amz-checksum-mode", "ENABLED"),
            Vec::new(),
            now,
        );
        let (status, headers, body) = self.send(state, built).await?;
        if status == 404 {
            return Ok(None);
        }
        s3::check_status(status, &body)?;
        let size = headers
            .get(reqwest::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| StoreError::Unexpected("HeadObject without Content-Length".into()))?;
        let etag = headers
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let checksum = ChecksumAlgorithm::ALL
            .iter()
            .find_map(|a| text(a.header()).map(|v| (*a, v)));
        let checksum_type = text("x-amz-checksum-type").and_then(|t| ChecksumType::parse(&t));
        Ok(Some(ObjectInfo {
            size,
            etag,
            checksum,
            checksum_type,
        }))
    }

    /// HeadBucket: does the store answer, and is the bucket there?
    pub async fn head_bucket(&self, state: &AppState) -> Result<(), StoreError> {
        let now = state.now();
        let built = s3::head_bucket(&self.signer(now), &self.bucket, now);
        let (status, _, body) = self.send(state, built).await?;
        Ok(s3::check_status(status, &body)?)
    }

    /// Let browsers on `origins` upload to the bucket: the rule with id [`SERVE_CORS_RULE`] is
    /// replaced by one for these origins; other rules are kept. Besides PUT it allows what
    /// `@uppy/aws-s3` 6.x sends straight to the store (POST to create and complete, GET for
    /// ListParts, DELETE to abort) and exposes `ETag` and `Location`. Answers whether the
    /// bucket's CORS changed.
    pub async fn allow_origins(
        &self,
        state: &AppState,
        origins: &[String],
    ) -> Result<bool, StoreError> {
        let now = state.now();
        let built = s3::get_bucket_cors(&self.signer(now), &self.bucket, now);
        let (status, _, body) = self.send(state, built).await?;
        let mut config = match CorsConfiguration::from_response(status, &body) {
            Ok(c) => c,
            Err(e) if matches!(e.s3_error(), Some(s) if s.code == S3ErrorCode::NoSuchCORSConfiguration) => {
                CorsConfiguration::default()
            }
            Err(e) => return Err(e.into()),
        };
        let rule = CorsRule::for_uploads(SERVE_CORS_RULE, origins.to_vec());
        if config.rules.contains(&rule) {
            return Ok(false);
        }
        config
            .rules
            .retain(|r| r.id.as_deref() != Some(SERVE_CORS_RULE));
        config.rules.push(rule);
        let now = state.now();
        let built = s3::put_bucket_cors(&self.signer(now), &self.bucket, &config, now);
        let (status, _, body) = self.send(state, built).await?;
        s3::check_status(status, &body)?;
        Ok(true)
    }

    /// Make sure the bucket aborts incomplete multipart uploads `days` after they start, so
    /// that what a crash leaves behind is not kept forever. A rule that already does so is
    /// left alone; otherwise one is added and the other rules are kept. Answers whether the
    /// bucket's lifecycle changed.
    pub async fn abort_incomplete_uploads_after(
        &self,
        state: &AppState,
        days: u32,
    ) -> Result<bool, StoreError> {
        let now = state.now();
        let built = s3::get_bucket_lifecycle(&self.signer(now), &self.bucket, now);
        let (status, _, body) = self.send(state, built).await?;
        let mut config = match LifecycleConfiguration::from_response(status, &body) {
            Ok(c) => c,
            Err(e) if matches!(e.s3_error(), Some(s) if s.code == S3ErrorCode::NoSuchLifecycleConfiguration) => {
                LifecycleConfiguration::default()
            }
            Err(e) => return Err(e.into()),
        };
        if config.abort_rule().is_some() {
            return Ok(false);
        }
        config.rules.push(LifecycleRule::abort_incomplete_uploads(
            SERVE_LIFECYCLE_RULE,
            days,
        ));
        let now = state.now();
        let built = s3::put_bucket_lifecycle(&self.signer(now), &self.bucket, &config, now);
        let (status, _, body) = self.send(state, built).await?;
        s3::check_status(status, &body)?;
        Ok(true)
    }

    /// The store's clock minus ours, from the `Date` header of a HeadBucket.
    pub async fn measure_clock(&self, state: &AppState) -> Result<ClockOffset, StoreError> {
        let sent = local_now();
        let req = PresignRequest::head_bucket(self.bucket.as_str());
        // Any answer carries a Date header, even an error; a skewed clock may cause one.
        let url = self.presign(&req.expires_in(Duration::from_secs(300)), state.now())?;
        let resp = self
            .http
            .head(&url.url)
            .send()
            .await
            .map_err(|e| StoreError::Transport(e.to_string()))?;
        let received = local_now();
        let date = resp
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| StoreError::Unexpected("no Date header".into()))?;
        let server = Timestamp::parse_http_date(date)
            .map_err(|e| StoreError::Unexpected(format!("Date header: {e}")))?;
        Ok(ClockOffset::measure(sent, received, server))
    }
}
