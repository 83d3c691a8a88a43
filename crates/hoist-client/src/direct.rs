//! Direct mode: the client holds credentials and signs every request itself. Control calls
//! are hoist-s3's [`Bucket`]; part URLs are presigned here with the bucket's signer and its
//! [`Clock`](hoist_s3::Clock), corrected to the store's from every answer, parts' included.

use std::future::Future;
use std::time::Duration;

use hoist_core::checksum::ChecksumAlgorithm;
use hoist_core::error::S3Error;
use hoist_core::error::S3ErrorCode;
use hoist_core::plan::{ObjectSize, PlanPolicy, plan};
use hoist_core::presign::{Endpoint, PresignRequest};
use hoist_core::s3::{CompletedPart, ObjectAttributes, WriteCondition};
use hoist_core::ttl::{TtlPolicy, UrlKind};
use hoist_s3::{Answer, Bucket, CreateMultipart, CredentialSource, Http};

use crate::checksum::multipart_type;
use crate::error::{Error, Result};
use crate::transport::{
    CreateOptions, ObjectInfo, PartSpec, PresignedRequest, Session, StoredPart, Transport,
};

/// A stream of unknown length is planned as if it were this large: parts stay near the
/// planner's default size (memory is concurrency × part size) and 10,000 of them still
/// reach about 80 GiB. Pass an expected size for longer streams.
pub const DEFAULT_STREAM_EXPECTED: u64 = 80 * 1024 * 1024 * 1024;

/// A control call that has not answered after this long is given up (and retried): long
/// enough for a Complete of thousands of parts, short enough that a stalled connection
/// does not hang the upload. Part bodies have their own limit, from their size.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(120);

/// Uploads straight to an S3 endpoint with credentials.
#[derive(Debug)]
pub struct DirectTransport {
    bucket: std::sync::Arc<Bucket>,
    key: String,
    plan_policy: PlanPolicy,
    ttl: TtlPolicy,
    stream_expected: u64,
    no_clobber: bool,
    /// Whether the store honours conditional writes, asked once and shared by every key's
    /// transport (`None`: it does; else why not).
    conditional: std::sync::Arc<tokio::sync::OnceCell<Option<String>>>,
}

impl DirectTransport {
    /// A transport for `s3://bucket/key` at `endpoint`.
    pub fn new(
        http: Http,
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
        Ok(DirectTransport {
            bucket: std::sync::Arc::new(Bucket::new(http, endpoint, bucket, credentials)),
            key,
            plan_policy: PlanPolicy::default(),
            ttl: TtlPolicy::default(),
            stream_expected: DEFAULT_STREAM_EXPECTED,
            no_clobber: false,
            conditional: Default::default(),
        })
    }

    /// A transport for another key of the same bucket, sharing this one's signer, clock and
    /// credentials (a batch's files).
    pub fn for_key(&self, key: impl Into<String>) -> Result<Self> {
        let key = key.into();
        if key.is_empty() {
            return Err(Error::Config("the destination needs a key".into()));
        }
        Ok(DirectTransport {
            bucket: self.bucket.clone(),
            key,
            plan_policy: self.plan_policy,
            ttl: self.ttl,
            stream_expected: self.stream_expected,
            no_clobber: self.no_clobber,
            conditional: self.conditional.clone(),
        })
    }

    /// The objects already stored under `prefix`: key → size and ETag (ListObjectsV2).
    pub async fn stored_under(
        &self,
        prefix: &str,
    ) -> Result<std::collections::HashMap<String, crate::batch::Stored>> {
        let list = self
            .control("ListObjectsV2", self.bucket.list_objects(prefix))
            .await?;
        Ok(list
            .into_iter()
            .map(|o| {
                let stored = crate::batch::Stored {
                    size: o.size,
                    etag: o.etag,
                };
                (o.key, stored)
            })
            .collect())
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

    /// Never replaces an object at the key: a single PUT is signed with `If-None-Match: *`
    /// and a multipart upload completed with it; the store refuses when an object exists,
    /// and the upload ends in [`crate::ErrorKind::AlreadyExists`].
    pub fn with_no_clobber(mut self) -> Self {
        self.no_clobber = true;
        self
    }

    /// The bucket client: its clock, signer and control calls.
    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    /// A no-clobber upload relies on the store refusing `If-None-Match: *` on an existing key;
    /// one that ignores it would replace the object silently, so the store is asked first
    /// (a probe object written twice, then deleted). A probe that cannot be made (a key
    /// allowed to write only under some prefix) is warned of, and the upload goes on.
    async fn check_conditional_writes(&self) -> Result<()> {
        let refused = self
            .conditional
            .get_or_init(|| async {
                let probe = self.bucket.probe_conditional_writes();
                match self.control("PutObject", probe).await {
                    Ok(verdict) if verdict.honoured() => None,
                    Ok(verdict) => Some(format!(
                        "--no-clobber needs a store that honours conditional writes, and {} \
                         does not: {verdict}; nothing was uploaded",
                        self.bucket.endpoint().host()
                    )),
                    Err(e) => {
                        tracing::warn!(
                            error = %e,
                            "could not check that the store honours If-None-Match: *; a store \
                             that ignores it replaces the object"
                        );
                        None
                    }
                }
            })
            .await;
        match refused {
            Some(why) => Err(Error::Unsupported(why.clone())),
            None => Ok(()),
        }
    }

    /// Runs one control call within [`CONTROL_TIMEOUT`].
    async fn control<T>(
        &self,
        operation: &str,
        call: impl Future<Output = Result<T, hoist_s3::Error>>,
    ) -> Result<T> {
        match tokio::time::timeout(CONTROL_TIMEOUT, call).await {
            Ok(answer) => Ok(answer?),
            Err(elapsed) => Err(hoist_s3::Error::transport(operation, &elapsed).into()),
        }
    }
}

impl Transport for DirectTransport {
    fn destination(&self) -> String {
        // Not the endpoint: any endpoint of the same store continues the upload.
        format!("s3://{}/{}", self.bucket.name(), self.key)
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
        if self.no_clobber {
            self.check_conditional_writes().await?;
        }
        let mut session = Session {
            upload_id: String::new(),
            bucket: self.bucket.name().to_owned(),
            key: self.key.clone(),
            plan: p,
        };
        if session.multipart() {
            let create = CreateMultipart {
                content_type: opts.content_type.clone(),
                checksum: opts.checksum.map(|alg| (alg, multipart_type(alg))),
                ..CreateMultipart::default()
            };
            session.upload_id = self
                .control(
                    "CreateMultipartUpload",
                    self.bucket.create_multipart(&self.key, &create),
                )
                .await?;
        } else {
            // A single PUT's body goes out before any other call: a store that refuses a
            // skewed signature may close the connection mid-body, and its Date header is lost.
            // One small call first teaches the clock (its outcome does not matter), unless an
            // answer already has (a batch's earlier files share this clock).
            if !self.bucket.clock().learned() {
                let _ = self
                    .control("HeadBucket", self.bucket.measure_clock(false))
                    .await;
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
        let (bucket, key) = (session.bucket.as_str(), session.key.as_str());
        let (mut req, kind) = if session.multipart() {
            let id = session.upload_id.as_str();
            let req = PresignRequest::upload_part(bucket, key, id, part.number);
            (req, UrlKind::Part)
        } else {
            let req = PresignRequest::put_object(bucket, key);
            (req, UrlKind::SinglePut { size: part.len })
        };
        req = req.content_length(part.len);
        if self.no_clobber && !session.multipart() {
            let (name, value) = WriteCondition::IfAbsent.header();
            req = req.header(name, value);
        }
        if let Some(sum) = &part.checksum {
            req = req.header(sum.algorithm().header(), sum.to_base64());
        }
        // `fresh` after the store said the signature expired: the credentials are read again.
        let now = self.bucket.now();
        let signer = self.bucket.signer(now, fresh);
        let cannot_sign = |e: &dyn std::fmt::Display| Error::Config(format!("cannot sign: {e}"));
        let ttl = self
            .ttl
            .ttl(kind, now, signer.credentials().expires_at)
            .map_err(|e| cannot_sign(&e))?;
        let url = signer
            .presign(&req.expires_in(ttl), now)
            .map_err(|e| cannot_sign(&e))?;
        Ok(PresignedRequest {
            method: url.method.as_str().to_owned(),
            url: url.url,
            headers: url.headers,
        })
    }

    async fn list_parts(&self, session: &Session) -> Result<Vec<StoredPart>> {
        let listed = self
            .control(
                "ListParts",
                self.bucket.list_parts(&session.key, &session.upload_id),
            )
            .await?;
        Ok(listed
            .parts
            .into_iter()
            .map(|p| StoredPart {
                number: p.part_number,
                etag: p.etag,
                size: p.size,
            })
            .collect())
    }

    async fn complete(
        &self,
        session: &Session,
        parts: &[CompletedPart],
        _checksum: Option<ChecksumAlgorithm>,
        _expected: Option<&str>,
    ) -> Result<ObjectInfo> {
        // The parts by number and ETag: the store checked each part's checksum as it
        // arrived, and the engine compares the object's with the store's once it exists.
        let parts: Vec<CompletedPart> = parts
            .iter()
            .map(|p| CompletedPart::new(p.part_number, p.etag.clone()))
            .collect();
        let condition = self.no_clobber.then_some(WriteCondition::IfAbsent);
        let done = self
            .control(
                "CompleteMultipartUpload",
                self.bucket.complete_if(
                    &session.key,
                    &session.upload_id,
                    &parts,
                    None,
                    condition.as_ref(),
                ),
            )
            .await
            .map_err(|e| match e {
                // A write made meanwhile (409) is no reason to try again: the key is taken.
                Error::Store(s)
                    if self.no_clobber && s.is(&S3ErrorCode::ConditionalRequestConflict) =>
                {
                    Error::AlreadyExists(s.to_string())
                }
                e => e,
            })?;
        Ok(ObjectInfo {
            etag: done.etag,
            size: None,
            checksum: None,
            hook_pending: None,
        })
    }

    async fn abort(&self, session: &Session) -> Result<()> {
        self.control(
            "AbortMultipartUpload",
            self.bucket.abort(&session.key, &session.upload_id),
        )
        .await
    }

    fn observe(&self, answer: &Answer) {
        self.bucket.observe(answer);
    }

    async fn attributes(&self, session: &Session) -> Result<Option<ObjectAttributes>> {
        self.control(
            "GetObjectAttributes",
            self.bucket.object_attributes(&session.key),
        )
        .await
    }

    async fn head(
        &self,
        session: &Session,
        checksum: Option<ChecksumAlgorithm>,
    ) -> Result<Option<ObjectInfo>> {
        const OP: &str = "HeadObject";
        let Some(head) = self
            .control(OP, self.bucket.head_object(&session.key))
            .await?
        else {
            // Just uploaded, yet not there: the store's bare 404, as any refusal.
            return Err(hoist_s3::Error::s3(OP, S3Error::from_response(404, b"")).into());
        };
        Ok(Some(ObjectInfo {
            etag: head.etag,
            size: Some(head.size),
            checksum: head
                .checksum
                .filter(|(alg, _)| Some(*alg) == checksum)
                .map(|(_, value)| value),
            hook_pending: None,
        }))
    }
}
