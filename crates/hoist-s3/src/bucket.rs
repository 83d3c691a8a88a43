//! One bucket of one store: every control call hoist makes, signed with corrected time and
//! the current credentials, sent, and read into hoist-core's models or a typed [`Error`].

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use hoist_core::checksum::{ChecksumAlgorithm, ChecksumType};
use hoist_core::credentials::Credentials;
use hoist_core::error::S3ErrorCode;
use hoist_core::presign::{
    Endpoint, ListObjectsParams, ListUploadsParams, PresignRequest, PresignedUrl, Presigner,
};
use hoist_core::s3::{
    self, CompleteMultipartUploadResult, CompletedPart, CorsConfiguration, CorsRule,
    InitiateMultipartUploadResult, LifecycleConfiguration, ListMultipartUploadsResult,
    ListObjectsV2Result, ListPartsResult, OBJECT_ATTRIBUTES, ObjectAttributes, ObjectHead,
    PartInfo, ResponseError, UploadInfo, WriteCondition,
};
use hoist_core::time::Timestamp;

use crate::clock::{Clock, Measurement};
use crate::credentials::CredentialSource;
use crate::error::Error;
use crate::http::{Answer, Http};

/// ListParts pages hold at most 1,000 parts and uploads at most 10,000: 10 pages, with room.
const MAX_LIST_PAGES: usize = 20;
/// ListMultipartUploads pages walked at most (1,000 uploads each).
const MAX_UPLOAD_PAGES: usize = 10_000;

/// Called after each control call is signed, with the time signing took (for metrics).
pub type SignHook = Arc<dyn Fn(Duration) + Send + Sync>;

/// What CreateMultipartUpload pins on the upload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateMultipart {
    /// `Content-Type` of the object.
    pub content_type: Option<String>,
    /// User metadata (`x-amz-meta-*`), names without the prefix.
    pub metadata: BTreeMap<String, String>,
    /// The flexible checksum the store checks on every part and combines for the object.
    pub checksum: Option<(ChecksumAlgorithm, ChecksumType)>,
}

/// Every part a multipart upload holds, all pages joined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadParts {
    /// The parts, in part-number order.
    pub parts: Vec<PartInfo>,
    /// The upload's checksum algorithm, as the store reports it.
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// The upload's checksum type, as the store reports it.
    pub checksum_type: Option<ChecksumType>,
}

/// The object's checksum named at completion, for the store to compare with its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WholeChecksum<'a> {
    /// The upload's algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// base64, with `-N` for COMPOSITE.
    pub value: &'a str,
    /// The upload's type.
    pub kind: ChecksumType,
}

struct Signer {
    creds: Arc<Credentials>,
    presigner: Arc<Presigner>,
}

/// A client for one bucket: cheap to share (`Arc`), safe to use from many tasks.
pub struct Bucket {
    http: Http,
    endpoint: Endpoint,
    name: String,
    credentials: CredentialSource,
    signer: RwLock<Signer>,
    clock: Arc<Clock>,
    on_sign: Option<SignHook>,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket")
            .field("endpoint", &self.endpoint)
            .field("name", &self.name)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

fn parsed<T>(operation: &str, r: Result<T, ResponseError>) -> Result<T, Error> {
    r.map_err(|e| match e {
        ResponseError::S3(err) => Error::S3 {
            operation: operation.to_owned(),
            error: err,
        },
        other => Error::unexpected(operation, other.to_string()),
    })
}

impl Bucket {
    /// A client for bucket `name` at `endpoint`, signing with `credentials`.
    pub fn new(
        http: Http,
        endpoint: Endpoint,
        name: impl Into<String>,
        credentials: CredentialSource,
    ) -> Self {
        let clock = Arc::new(Clock::new());
        let creds = credentials.current(clock.now());
        let presigner = Arc::new(Presigner::new((*creds).clone(), endpoint.clone()));
        Bucket {
            http,
            endpoint,
            name: name.into(),
            credentials,
            signer: RwLock::new(Signer { creds, presigner }),
            clock,
            on_sign: None,
        }
    }

    /// Shares a clock with other clients of the same store.
    pub fn with_clock(mut self, clock: Arc<Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Hears of every control call signed (metrics).
    pub fn with_sign_hook(mut self, hook: SignHook) -> Self {
        self.on_sign = Some(hook);
        self
    }

    /// The bucket's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The HTTP client.
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// The clock corrected to the store's.
    pub fn clock(&self) -> &Arc<Clock> {
        &self.clock
    }

    /// Now, corrected to the store's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The credentials that sign at `now`.
    pub fn credentials(&self, now: Timestamp) -> Arc<Credentials> {
        self.credentials.current(now)
    }

    /// The signer for the credentials current at `now` (rebuilt when they change; `fresh`
    /// reads them again first, after the store said they expired).
    pub fn signer(&self, now: Timestamp, fresh: bool) -> Arc<Presigner> {
        let creds = if fresh {
            self.credentials.refresh(now)
        } else {
            self.credentials.current(now)
        };
        {
            let s = self.signer.read().unwrap_or_else(|e| e.into_inner());
            if Arc::ptr_eq(&s.creds, &creds) {
                return s.presigner.clone();
            }
        }
        let presigner = Arc::new(Presigner::new((*creds).clone(), self.endpoint.clone()));
        *self.signer.write().unwrap_or_else(|e| e.into_inner()) = Signer {
            creds,
            presigner: presigner.clone(),
        };
        presigner
    }

    /// Signs `req` now (corrected time) with its own lifetime.
    pub fn presign(&self, req: &PresignRequest<'_>) -> Result<PresignedUrl, Error> {
        let now = self.now();
        self.signer(now, false)
            .presign(req, now)
            .map_err(|e| Error::Sign {
                operation: req.method.to_string(),
                detail: e.to_string(),
            })
    }

    /// Signs a control call with the control lifetime, sends it, learns the store's clock
    /// from the answer, and returns the answer whatever its status (probes read refusals).
    pub async fn call(
        &self,
        operation: &str,
        req: PresignRequest<'_>,
        body: Vec<u8>,
    ) -> Result<Answer, Error> {
        let started = Instant::now();
        let now = self.now();
        let built =
            s3::build(&self.signer(now, false), req, body, now).map_err(|e| Error::Sign {
                operation: operation.to_owned(),
                detail: e.to_string(),
            })?;
        if let Some(hook) = &self.on_sign {
            hook(started.elapsed());
        }
        let answer = self.http.send_request(operation, built).await?;
        self.observe(&answer);
        Ok(answer)
    }

    /// Learns the store's clock from any answer of it.
    pub fn observe(&self, answer: &Answer) {
        if let Some(sample) = answer.clock_sample() {
            self.clock.observe(&sample);
        }
    }

    /// [`Bucket::call`], with a non-2xx answer read into an [`Error`].
    pub async fn send(
        &self,
        operation: &str,
        req: PresignRequest<'_>,
        body: Vec<u8>,
    ) -> Result<Answer, Error> {
        self.call(operation, req, body)
            .await?
            .into_result(operation)
    }

    /// CreateMultipartUpload; the upload id.
    pub async fn create_multipart(
        &self,
        key: &str,
        opts: &CreateMultipart,
    ) -> Result<String, Error> {
        const OP: &str = "CreateMultipartUpload";
        let mut req = PresignRequest::create_multipart_upload(self.name.as_str(), key);
        if let Some(ct) = &opts.content_type {
            req = req.content_type(ct.as_str());
        }
        if let Some((alg, kind)) = opts.checksum {
            req = req
                .header("x-amz-checksum-algorithm", alg.as_str())
                .header("x-amz-checksum-type", kind.as_str());
        }
        for (k, v) in &opts.metadata {
            req = req.header(format!("x-amz-meta-{k}"), v.as_str());
        }
        let a = self.call(OP, req, Vec::new()).await?;
        parsed(
            OP,
            InitiateMultipartUploadResult::from_response(a.status, &a.body),
        )
        .map(|r| r.upload_id)
    }

    /// ListParts, every page joined.
    pub async fn list_parts(&self, key: &str, upload_id: &str) -> Result<UploadParts, Error> {
        const OP: &str = "ListParts";
        let mut out = UploadParts::default();
        let mut marker = None;
        for _ in 0..MAX_LIST_PAGES {
            let req = PresignRequest::list_parts(self.name.as_str(), key, upload_id, marker, None);
            let a = self.call(OP, req, Vec::new()).await?;
            let page = parsed(OP, ListPartsResult::from_response(a.status, &a.body))?;
            out.checksum_algorithm = out.checksum_algorithm.or(page.checksum_algorithm);
            out.checksum_type = out.checksum_type.or(page.checksum_type);
            out.parts.extend(page.parts);
            match page.next_part_number_marker {
                Some(m) if page.is_truncated && Some(m) != marker => marker = Some(m),
                _ => return Ok(out),
            }
        }
        Err(Error::unexpected(OP, "the pages did not end"))
    }

    /// CompleteMultipartUpload. With `whole`, the store compares the object's checksum with
    /// the one it combines from the parts before it makes the object. S3 may answer 200 and
    /// then an error body; that is an error here.
    pub async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        whole: Option<WholeChecksum<'_>>,
    ) -> Result<CompleteMultipartUploadResult, Error> {
        self.complete_if(key, upload_id, parts, whole, None).await
    }

    /// [`Bucket::complete`] under a write condition: with [`WriteCondition::IfAbsent`] the
    /// store refuses (412 `PreconditionFailed`, or 409 `ConditionalRequestConflict` when an
    /// object was written meanwhile) to replace an object at the key. A Complete repeated
    /// after the store made this upload's object is answered as the first.
    pub async fn complete_if(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        whole: Option<WholeChecksum<'_>>,
        condition: Option<&WriteCondition>,
    ) -> Result<CompleteMultipartUploadResult, Error> {
        const OP: &str = "CompleteMultipartUpload";
        let mut req = PresignRequest::complete_multipart_upload(self.name.as_str(), key, upload_id)
            .content_type("application/xml");
        if let Some(c) = condition {
            let (name, value) = c.header();
            req = req.header(name, value);
        }
        if let Some(w) = whole {
            req = req
                .header(w.algorithm.header(), w.value)
                .header("x-amz-checksum-type", w.kind.as_str());
        }
        let body = s3::complete_multipart_upload_body(parts).into_bytes();
        let a = self.call(OP, req, body).await?;
        parsed(
            OP,
            CompleteMultipartUploadResult::from_response(a.status, &a.body),
        )
    }

    /// AbortMultipartUpload.
    pub async fn abort(&self, key: &str, upload_id: &str) -> Result<(), Error> {
        let req = PresignRequest::abort_multipart_upload(self.name.as_str(), key, upload_id);
        self.send("AbortMultipartUpload", req, Vec::new())
            .await
            .map(drop)
    }

    /// HeadObject with the checksum asked for; `None` when there is no such object.
    pub async fn head_object(&self, key: &str) -> Result<Option<ObjectHead>, Error> {
        const OP: &str = "HeadObject";
        // Without the mode header S3 leaves the checksum out of the answer.
        let req = PresignRequest::head_object(self.name.as_str(), key)
            .header("x-amz-checksum-mode", "ENABLED");
        let a = self.call(OP, req, Vec::new()).await?;
        if a.status == 404 {
            return Ok(None);
        }
        let a = a.into_result(OP)?;
        parsed(OP, ObjectHead::from_headers(a.header_pairs())).map(Some)
    }

    /// GetObjectAttributes: the object's ETag, checksum, size and parts (every page joined);
    /// `None` when there is no such object, or when the store does not do the call (it
    /// answers `501 NotImplemented` or refuses it as a `400`, or takes it for a GetObject and
    /// answers the object itself, as Garage does: not XML, or longer than any answer, and
    /// then not read).
    pub async fn object_attributes(&self, key: &str) -> Result<Option<ObjectAttributes>, Error> {
        const OP: &str = "GetObjectAttributes";
        let mut out: Option<ObjectAttributes> = None;
        let mut marker: Option<u32> = None;
        for _ in 0..MAX_LIST_PAGES {
            let mut req =
                PresignRequest::get_object_attributes(self.name.as_str(), key, OBJECT_ATTRIBUTES);
            if let Some(m) = marker {
                req = req.header("x-amz-part-number-marker", m.to_string());
            }
            let a = match self.call(OP, req, Vec::new()).await {
                Err(Error::TooLarge { .. }) => return Ok(None),
                a => a?,
            };
            let xml = a
                .headers
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_none_or(|t| t.contains("xml"));
            if matches!(a.status, 400 | 404 | 501) || (a.status == 200 && !xml) {
                return Ok(None);
            }
            let page = parsed(OP, ObjectAttributes::from_response(a.status, &a.body))?;
            let (more, next) = (page.is_truncated, page.next_part_number_marker);
            match &mut out {
                Some(o) => o.parts.extend(page.parts),
                None => out = Some(page),
            }
            match next {
                Some(m) if more && Some(m) != marker => marker = Some(m),
                _ => return Ok(out),
            }
        }
        Err(Error::unexpected(OP, "the pages did not end"))
    }

    /// HeadBucket: does the store answer, and is the bucket there?
    pub async fn head_bucket(&self) -> Result<(), Error> {
        let req = PresignRequest::head_bucket(self.name.as_str());
        self.send("HeadBucket", req, Vec::new()).await.map(drop)
    }

    /// Every object whose key starts with `prefix` (ListObjectsV2), all pages joined.
    pub async fn list_objects(&self, prefix: &str) -> Result<Vec<s3::ObjectInfo>, Error> {
        const OP: &str = "ListObjectsV2";
        let mut params = ListObjectsParams {
            prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
            max_keys: Some(1000),
            ..Default::default()
        };
        let mut out = Vec::new();
        for _ in 0..MAX_UPLOAD_PAGES {
            let req = PresignRequest::list_objects_v2(self.name.as_str(), &params);
            let a = self.call(OP, req, Vec::new()).await?;
            let page = parsed(OP, ListObjectsV2Result::from_response(a.status, &a.body))?;
            out.extend(page.contents);
            match page.next_continuation_token {
                Some(next)
                    if page.is_truncated && params.continuation_token.as_ref() != Some(&next) =>
                {
                    params.continuation_token = Some(next);
                }
                _ => return Ok(out),
            }
        }
        Err(Error::unexpected(OP, "the pages did not end"))
    }

    /// Every incomplete multipart upload (under `prefix`), all pages joined.
    pub async fn list_uploads(&self, prefix: Option<&str>) -> Result<Vec<UploadInfo>, Error> {
        const OP: &str = "ListMultipartUploads";
        let mut params = ListUploadsParams {
            prefix: prefix.map(str::to_owned),
            ..Default::default()
        };
        let mut out = Vec::new();
        for _ in 0..MAX_UPLOAD_PAGES {
            let req = PresignRequest::list_multipart_uploads(self.name.as_str(), &params);
            let a = self.call(OP, req, Vec::new()).await?;
            let page = parsed(
                OP,
                ListMultipartUploadsResult::from_response(a.status, &a.body),
            )?;
            out.extend(page.uploads);
            if !page.is_truncated
                || (page.next_key_marker == params.key_marker
                    && page.next_upload_id_marker == params.upload_id_marker)
            {
                return Ok(out);
            }
            params.key_marker = page.next_key_marker;
            params.upload_id_marker = page.next_upload_id_marker;
        }
        Err(Error::unexpected(OP, "the pages did not end"))
    }

    /// The bucket's CORS rules; `None` when it has none.
    pub async fn cors(&self) -> Result<Option<CorsConfiguration>, Error> {
        const OP: &str = "GetBucketCors";
        let req = PresignRequest::get_bucket_cors(self.name.as_str());
        let a = self.call(OP, req, Vec::new()).await?;
        match CorsConfiguration::from_response(a.status, &a.body) {
            Err(e) if is(&e, &S3ErrorCode::NoSuchCORSConfiguration) => Ok(None),
            r => parsed(OP, r).map(Some),
        }
    }

    /// Replaces the bucket's CORS rules.
    pub async fn put_cors(&self, config: &CorsConfiguration) -> Result<(), Error> {
        let now = self.now();
        let built = s3::put_bucket_cors(&self.signer(now, false), &self.name, config, now);
        self.send_built("PutBucketCors", built).await
    }

    /// The bucket's lifecycle rules; `None` when it has none.
    pub async fn lifecycle(&self) -> Result<Option<LifecycleConfiguration>, Error> {
        const OP: &str = "GetBucketLifecycleConfiguration";
        let req = PresignRequest::get_bucket_lifecycle(self.name.as_str());
        let a = self.call(OP, req, Vec::new()).await?;
        match LifecycleConfiguration::from_response(a.status, &a.body) {
            Err(e) if is(&e, &S3ErrorCode::NoSuchLifecycleConfiguration) => Ok(None),
            r => parsed(OP, r).map(Some),
        }
    }

    /// Replaces the bucket's lifecycle rules.
    pub async fn put_lifecycle(&self, config: &LifecycleConfiguration) -> Result<(), Error> {
        let now = self.now();
        let built = s3::put_bucket_lifecycle(&self.signer(now, false), &self.name, config, now);
        self.send_built("PutBucketLifecycleConfiguration", built)
            .await
    }

    async fn send_built(
        &self,
        operation: &str,
        built: Result<s3::HttpRequest, hoist_core::presign::PresignError>,
    ) -> Result<(), Error> {
        let built = built.map_err(|e| Error::Sign {
            operation: operation.to_owned(),
            detail: e.to_string(),
        })?;
        let a = self.http.send_request(operation, built).await?;
        self.observe(&a);
        a.into_result(operation).map(drop)
    }

    /// Reads the bucket's CORS rules (none when it has none), lets `change` amend them, and
    /// writes them back when they changed; answers what `change` answered. The merges are
    /// hoist-core's ([`CorsConfiguration::ensure_rule`], [`CorsConfiguration::amend_for_uploads`]).
    pub async fn update_cors<T>(
        &self,
        change: impl FnOnce(&mut CorsConfiguration) -> T,
    ) -> Result<T, Error> {
        let before = self.cors().await?.unwrap_or_default();
        let mut config = before.clone();
        let out = change(&mut config);
        if config != before {
            self.put_cors(&config).await?;
        }
        Ok(out)
    }

    /// Reads the bucket's lifecycle rules (none when it has none), lets `change` amend them,
    /// and writes them back when they changed; answers what `change` answered.
    pub async fn update_lifecycle<T>(
        &self,
        change: impl FnOnce(&mut LifecycleConfiguration) -> T,
    ) -> Result<T, Error> {
        let before = self.lifecycle().await?.unwrap_or_default();
        let mut config = before.clone();
        let out = change(&mut config);
        if config != before {
            self.put_lifecycle(&config).await?;
        }
        Ok(out)
    }

    /// Puts `rule` in the bucket's CORS rules, replacing a rule with the same id and keeping
    /// the others. Answers whether the rules changed.
    pub async fn ensure_cors_rule(&self, rule: CorsRule) -> Result<bool, Error> {
        self.update_cors(|c| c.ensure_rule(rule).is_some()).await
    }

    /// Makes sure incomplete multipart uploads are aborted `days` after they start, so what
    /// a crash leaves is not kept forever: a rule that already does so is kept; otherwise
    /// one with id `id` is added and the other rules kept. Answers whether the rules changed.
    pub async fn ensure_abort_incomplete_rule(&self, id: &str, days: u32) -> Result<bool, Error> {
        self.update_lifecycle(|c| c.ensure_abort_rule(id, days).is_some())
            .await
    }

    /// The URL of the bucket, unsigned (for probes whose answer only needs a `Date`).
    pub fn bucket_url(&self) -> Result<String, Error> {
        let signed = self.presign(&PresignRequest::head_bucket(self.name.as_str()))?;
        Ok(signed
            .url
            .split_once('?')
            .map_or(signed.url.as_str(), |(u, _)| u)
            .to_owned())
    }

    /// Measures the store's clock: `precise` probes around its second ticks (a few
    /// seconds, to a few milliseconds); otherwise one request (to within about a second).
    /// The clock uses the result from then on.
    pub async fn measure_clock(&self, precise: bool) -> Result<Measurement, Error> {
        // A presigned HeadBucket: any answer carries a Date header, even a refusal.
        let url = self
            .presign(
                &PresignRequest::head_bucket(self.name.as_str())
                    .expires_in(Duration::from_secs(300)),
            )?
            .url;
        if precise {
            return self.clock.measure(&self.http, &url).await;
        }
        let bounds = self.clock.measure_once(&self.http, &url).await?;
        Ok(Measurement {
            bounds,
            samples: 1,
            min_rtt_ms: 0,
        })
    }
}

fn is(e: &ResponseError, code: &S3ErrorCode) -> bool {
    e.s3_error().is_some_and(|s| &s.code == code)
}
