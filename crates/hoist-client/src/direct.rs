//! Direct mode: the client holds credentials and presigns every request itself with
//! hoist-core's [`Presigner`], so each one is a plain HTTP request.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use hoist_core::clock::ClockOffset;
use hoist_core::plan::{ObjectSize, PlanPolicy, Strategy, plan};
use hoist_core::presign::{Endpoint, PresignRequest, Presigner};
use hoist_core::time::Timestamp;
use hoist_core::ttl::{TtlPolicy, UrlKind};

use hoist_core::checksum::ChecksumAlgorithm;
use hoist_core::s3::CompletedPart;

use crate::checksum::multipart_type;
use crate::credentials::CredentialSource;
use crate::error::{Error, Result};
use crate::s3;
use crate::transport::{
    self, CreateOptions, ObjectInfo, PartSpec, PresignedRequest, Session, StoredPart, Transport,
};

/// How long loaded credentials are trusted before the source is read again.
const CREDENTIALS_REFRESH: Duration = Duration::from_secs(300);

/// A stream of unknown length is planned as if it were this large: parts stay near the
/// planner's default size (memory is concurrency × part size) and 10,000 of them still
/// reach about 80 GiB. Pass an expected size for longer streams.
pub const DEFAULT_STREAM_EXPECTED: u64 = 80 * 1024 * 1024 * 1024;

/// Uploads straight to an S3 endpoint with credentials.
#[derive(Debug)]
pub struct DirectTransport {
    http: reqwest::Client,
    endpoint: Endpoint,
    bucket: String,
    key: String,
    credentials: CredentialSource,
    signer: RwLock<(Arc<Presigner>, Instant)>,
    offset: Mutex<ClockOffset>,
    plan_policy: PlanPolicy,
    ttl: TtlPolicy,
    stream_expected: u64,
}

impl DirectTransport {
    /// A transport for `s3://bucket/key` at `endpoint`.
    pub fn new(
        http: reqwest::Client,
        endpoint: Endpoint,
        credentials: CredentialSource,
        bucket: impl Into<String>,
        key: impl Into<String>,
    ) -> Result<Self> {
        let (bucket, key) = (bucket.into(), key.into());
        if bucket.is_empty() || key.is_empty() {
            return Err(Error::Config(
                "the destination needs a bucket and a key".into(),
            ));
        }
        let signer = Presigner::new(credentials.load()?, endpoint.clone());
        Ok(DirectTransport {
            http,
            endpoint,
            bucket,
            key,
            credentials,
            signer: RwLock::new((Arc::new(signer), Instant::now())),
            offset: Mutex::new(ClockOffset::ZERO),
            plan_policy: PlanPolicy::default(),
            ttl: TtlPolicy::default(),
            stream_expected: DEFAULT_STREAM_EXPECTED,
        })
    }

    /// Replaces the planner's policy (single-PUT threshold, default part size).
    pub fn with_plan_policy(mut self, policy: PlanPolicy) -> Self {
        self.plan_policy = policy;
        self
    }

    /// The size a stream of unknown length is expected to reach (sets its part size).
    pub fn with_stream_expected(mut self, bytes: u64) -> Self {
        self.stream_expected = bytes;
        self
    }

    /// The current signer, re-reading the credentials when they are old or `force` is set
    /// (after the store said the token or signature expired).
    fn signer(&self, force: bool) -> Result<Arc<Presigner>> {
        {
            let s = self.signer.read().unwrap();
            let stale = self.credentials.refreshable() && s.1.elapsed() > CREDENTIALS_REFRESH;
            if !(force || stale) {
                return Ok(s.0.clone());
            }
        }
        let fresh = Arc::new(Presigner::new(
            self.credentials.load()?,
            self.endpoint.clone(),
        ));
        *self.signer.write().unwrap() = (fresh.clone(), Instant::now());
        Ok(fresh)
    }

    fn now(&self) -> Timestamp {
        let local = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        self.offset
            .lock()
            .unwrap()
            .apply(Timestamp::from_unix_millis(local))
    }

    /// Learns the store's clock from a `Date` header, so URLs are not born expired (or not
    /// yet valid) when the local clock drifts. `sent` is on the corrected clock.
    fn learn_clock(&self, sent: Timestamp, date: &str) {
        let Ok(server) = Timestamp::parse_http_date(date) else {
            return;
        };
        let received = self.now();
        let measured = ClockOffset::measure(sent, received, server);
        // The Date header has one-second resolution: only correct real drift.
        if measured.millis.abs() > 2_000 {
            let mut o = self.offset.lock().unwrap();
            *o = ClockOffset::from_millis(o.millis + measured.millis);
            tracing::warn!(
                offset_ms = o.millis,
                "the store's clock differs from ours; signing with its time"
            );
        }
    }

    /// Presigns `req` for sending now.
    fn presign(
        &self,
        req: PresignRequest<'_>,
        kind: UrlKind,
        force: bool,
    ) -> Result<PresignedRequest> {
        let signer = self.signer(force)?;
        let now = self.now();
        let ttl = self
            .ttl
            .ttl(kind, now, signer.credentials().expires_at)
            .map_err(|e| Error::Config(format!("cannot sign: {e}")))?;
        let url = signer
            .presign(&req.expires_in(ttl), now)
            .map_err(|e| Error::Config(format!("cannot sign: {e}")))?;
        Ok(PresignedRequest {
            method: url.method.as_str().to_owned(),
            url: url.url,
            headers: url.headers,
        })
    }

    /// Sends one signed control call and returns the answer.
    async fn control(
        &self,
        req: PresignRequest<'_>,
        body: Option<String>,
        operation: &str,
    ) -> Result<reqwest::Response> {
        let signed = self.presign(req, UrlKind::Control, false)?;
        let mut rb = transport::build(&self.http, &signed)?.timeout(Duration::from_secs(120));
        if let Some(b) = body {
            rb = rb.body(b);
        }
        let sent = self.now();
        let resp = rb
            .send()
            .await
            .map_err(|e| Error::network(operation, transport::error_chain(&e)))?;
        // Errors carry the store's Date too: a skewed clock is learnt from the very answer
        // that complains about it, so the re-signed retry succeeds.
        if let Some(date) = resp.headers().get("date").and_then(|v| v.to_str().ok()) {
            self.learn_clock(sent, date);
        }
        transport::check(resp, operation).await
    }

    async fn control_body(
        &self,
        req: PresignRequest<'_>,
        body: Option<String>,
        operation: &str,
    ) -> Result<bytes::Bytes> {
        let resp = self.control(req, body, operation).await?;
        transport::body(resp, operation).await
    }
}

impl Transport for DirectTransport {
    fn destination(&self) -> String {
        format!(
            "{}://{}/{}/{}",
            self.endpoint.scheme(),
            self.endpoint.host(),
            self.bucket,
            self.key
        )
    }

    fn stream_part_size(&self, part_size: Option<u64>) -> Result<u64> {
        if let Some(p) = part_size {
            return Ok(p);
        }
        let p = plan(
            ObjectSize::Unknown {
                expected: Some(self.stream_expected),
            },
            &self.plan_policy,
        )
        .map_err(|e| Error::Config(e.to_string()))?;
        Ok(p.part_size)
    }

    async fn create(&self, opts: &CreateOptions) -> Result<Session> {
        let mut policy = self.plan_policy;
        if let Some(p) = opts.part_size {
            policy = policy.with_part_size(p);
        }
        let size = match opts.size {
            Some(s) => ObjectSize::Known(s),
            None => ObjectSize::Unknown {
                expected: Some(self.stream_expected),
            },
        };
        let mut p = plan(size, &policy).map_err(|e| Error::Config(e.to_string()))?;
        if let (None, Some(part_size)) = (opts.size, opts.part_size) {
            // A stream is read in parts of exactly the size asked for; the planner would grow
            // it to reach its expected size, which only matters when none was given.
            p.part_size = part_size;
        }
        let mut session = Session {
            upload_id: String::new(),
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            multipart: p.strategy == Strategy::Multipart,
            part_size: p.part_size,
            part_count: p.part_count,
        };
        if !session.multipart {
            // A single PUT's body goes out before any other call: a store that refuses a
            // skewed signature may close the connection mid-body, and its Date header is lost.
            // One small call first teaches the clock (its outcome does not matter).
            let probe = PresignRequest::head_bucket(self.bucket.as_str());
            let _ = self.control(probe, None, "HeadBucket").await;
        }
        if session.multipart {
            let mut req =
                PresignRequest::create_multipart_upload(self.bucket.as_str(), self.key.as_str());
            if let Some(alg) = opts.checksum {
                req = req
                    .header("x-amz-checksum-algorithm", alg.as_str())
                    .header("x-amz-checksum-type", multipart_type(alg).as_str());
            }
            if let Some(ct) = &opts.content_type {
                req = req.content_type(ct.as_str());
            }
            let body = self
                .control_body(req, None, "CreateMultipartUpload")
                .await?;
            session.upload_id = s3::parse_create(&body)?;
        }
        Ok(session)
    }

    async fn sign_part(
        &self,
        session: &Session,
        part: &PartSpec,
        fresh: bool,
    ) -> Result<PresignedRequest> {
        let (bucket, key) = (session.bucket.as_str(), session.key.as_str());
        let mut req = if session.multipart {
            PresignRequest::upload_part(bucket, key, session.upload_id.as_str(), part.number)
        } else {
            PresignRequest::put_object(bucket, key)
        };
        req = req.content_length(part.len);
        if let Some(sum) = &part.checksum {
            req = req.header(sum.algorithm().header(), sum.to_base64());
        }
        let kind = if session.multipart {
            UrlKind::Part
        } else {
            UrlKind::SinglePut { size: part.len }
        };
        self.presign(req, kind, fresh)
    }

    async fn list_parts(&self, session: &Session) -> Result<Vec<StoredPart>> {
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let req = PresignRequest::list_parts(
                session.bucket.as_str(),
                session.key.as_str(),
                session.upload_id.as_str(),
                marker,
                Some(1000),
            );
            let body = self.control_body(req, None, "ListParts").await?;
            let page = s3::parse_list_parts(&body)?;
            out.extend(page.parts);
            match page.next_marker {
                Some(m) if page.truncated && Some(m) != marker => marker = Some(m),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn complete(
        &self,
        session: &Session,
        parts: &[CompletedPart],
        checksum: Option<ChecksumAlgorithm>,
        _expected: Option<&str>,
    ) -> Result<ObjectInfo> {
        let req = PresignRequest::complete_multipart_upload(
            session.bucket.as_str(),
            session.key.as_str(),
            session.upload_id.as_str(),
        )
        .content_type("application/xml");
        let xml = s3::complete_body(parts);
        let body = self
            .control_body(req, Some(xml), "CompleteMultipartUpload")
            .await?;
        let _ = checksum;
        s3::parse_complete(&body)
    }

    async fn abort(&self, session: &Session) -> Result<()> {
        let req = PresignRequest::abort_multipart_upload(
            session.bucket.as_str(),
            session.key.as_str(),
            session.upload_id.as_str(),
        );
        self.control(req, None, "AbortMultipartUpload")
            .await
            .map(drop)
    }

    fn observe_date(&self, sent: SystemTime, date: &str) {
        let local = sent
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let corrected = self
            .offset
            .lock()
            .unwrap()
            .apply(Timestamp::from_unix_millis(local));
        self.learn_clock(corrected, date);
    }

    async fn head(
        &self,
        session: &Session,
        checksum: Option<ChecksumAlgorithm>,
    ) -> Result<Option<ObjectInfo>> {
        let req = PresignRequest::head_object(session.bucket.as_str(), session.key.as_str())
            .header("x-amz-checksum-mode", "ENABLED");
        let resp = self.control(req, None, "HeadObject").await?;
        let h = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Ok(Some(ObjectInfo {
            etag: h("etag").unwrap_or_default(),
            size: h("content-length").and_then(|v| v.parse().ok()),
            checksum: checksum.and_then(|a| h(a.header())),
        }))
    }
}
