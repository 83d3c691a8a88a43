//! Whether a store honours S3's conditional writes. No-clobber uploads rest on
//! `If-None-Match: *`; a store that ignores the header replaces the object silently, so hoist
//! asks the store once before it relies on it: it writes a probe object, writes it again with
//! `If-None-Match: *` (S3 answers `412 PreconditionFailed`), and deletes it.

use hoist_core::error::S3Error;
use hoist_core::presign::{Method, PresignRequest};
use hoist_core::s3::WriteCondition;

use tokio_util::sync::CancellationToken;

use crate::bucket::Bucket;
use crate::error::Error;
use crate::retry::{RetryPolicy, Stopped, Verdict, with_retries};

/// Where probe objects are written, each under a random name of its own so that replicas
/// probing at once do not meet each other's.
pub const PROBE_PREFIX: &str = ".hoist-probe/";

/// What a store did with a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConditionalWrites {
    /// `If-None-Match: *` on an existing key was refused with 412, as S3 does.
    Honoured,
    /// The write was carried out: the header was ignored and the object replaced.
    Ignored,
    /// The store refused the conditional write otherwise (e.g. `501 NotImplemented`).
    Refused { status: u16, code: String },
}

impl ConditionalWrites {
    /// Whether no-clobber uploads can rely on this store.
    pub fn honoured(&self) -> bool {
        *self == ConditionalWrites::Honoured
    }
}

impl std::fmt::Display for ConditionalWrites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConditionalWrites::Honoured => {
                f.write_str("it refuses If-None-Match: * on an existing key with 412, as S3 does")
            }
            ConditionalWrites::Ignored => f.write_str(
                "it ignores If-None-Match: * and replaces the object (a PUT with it on an \
                 existing key answered 200)",
            ),
            ConditionalWrites::Refused { status, code } => write!(
                f,
                "it refuses a PUT with If-None-Match: * on an existing key with {status} {code}, \
                 not 412"
            ),
        }
    }
}

impl Bucket {
    /// Probes whether this store honours `If-None-Match: *` on PutObject (see the module).
    /// Each of the probe's requests that meets a transient answer (a busy store's 503 or 500,
    /// a dropped connection) is sent again with backoff, a few times: a verdict comes only
    /// from an answer that is one. An error means the probe could not be made (no write
    /// permission, no answer), not a verdict.
    pub async fn probe_conditional_writes(&self) -> Result<ConditionalWrites, Error> {
        let key = format!(
            "{PROBE_PREFIX}{:016x}",
            getrandom::u64().unwrap_or_default()
        );
        let put = || PresignRequest::put_object(self.name(), key.as_str());
        let body = b"hoist checks that this store honours If-None-Match: *".to_vec();
        retried(|| self.send(PROBE_PUT, put(), body.clone())).await?;
        let (name, value) = WriteCondition::IfAbsent.header();
        let answer = retried(|| async {
            let answer = self
                .call(PROBE_PUT, put().header(name, value), body.clone())
                .await?;
            // 412 and 2xx are verdicts, and so is a refusal that retrying cannot change.
            match answer.status {
                412 | 200..=299 => Ok(answer),
                _ => match answer.clone().into_result(PROBE_PUT) {
                    Err(e) if e.verdict() != Verdict::Fatal => Err(e),
                    _ => Ok(answer),
                },
            }
        })
        .await;
        self.delete_probe(&key).await;
        let answer = answer?;
        Ok(match answer.status {
            412 => ConditionalWrites::Honoured,
            s if (200..300).contains(&s) => ConditionalWrites::Ignored,
            status => ConditionalWrites::Refused {
                status,
                code: S3Error::from_response(status, &answer.body)
                    .code
                    .as_str()
                    .to_owned(),
            },
        })
    }

    /// Deletes a probe object, sent again on a transient answer so that no probe is left in
    /// the bucket. One that is left anyway is named in the log, at `warn`, for its owner to
    /// delete.
    async fn delete_probe(&self, key: &str) {
        let deleted = retried(|| {
            let delete = PresignRequest::new(Method::Delete, self.name(), key);
            self.send("DeleteObject", delete, Vec::new())
        })
        .await;
        if let Err(error) = deleted {
            tracing::warn!(
                %error,
                bucket = self.name(),
                key,
                "could not delete the conditional write probe; it can be deleted by hand"
            );
        }
    }
}

/// The probe's PUTs, as errors name them.
const PROBE_PUT: &str = "PutObject (conditional write probe)";

/// One request of the probe, sent again on a transient failure: five attempts, with waits
/// that add up to a second and a half at most. Its last failure when they run out.
async fn retried<T, Fut>(mut attempt: impl FnMut() -> Fut) -> Result<T, Error>
where
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let policy = RetryPolicy {
        max_attempts: 5,
        ..RetryPolicy::default()
    };
    // Nothing cancels a probe.
    let never = CancellationToken::new();
    with_retries(&policy, &never, |_: &Error, _| {}, |_| attempt())
        .await
        .map_err(|stop| match stop {
            Stopped::Failed(e) => e,
            Stopped::Cancelled => Error::unexpected(PROBE_PUT, "cancelled"),
        })
}
