//! The engine's error type, the coarse classes the CLI maps to exit codes, and the retry
//! verdict of each failure (hoist-core's rules, run by hoist-s3's retry loop).

use std::path::PathBuf;

use hoist_core::cause::{CauseId, RequestContext};
use hoist_core::redact::redact_text;
use hoist_core::retry::classify;
use hoist_s3::{RetryStep, Retryable, Stopped, Verdict};

/// What kind of failure ended an upload; the CLI turns each into a distinct exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad arguments or configuration (missing credentials, bad destination, unreadable source).
    Usage,
    /// The network or the store's availability: the retries ran out.
    Network,
    /// Refused credentials, signatures, permissions or expired tokens.
    Auth,
    /// A checksum or size did not match: the data that arrived is not the data sent.
    Integrity,
    /// The store or coordinator refused the request for another reason.
    Refused,
    /// The caller cancelled the upload.
    Cancelled,
    /// A no-clobber upload met an object at its key, and the store kept that object.
    AlreadyExists,
    /// A no-clobber upload was asked of a store that does not honour conditional writes
    /// (`If-None-Match: *`); nothing was sent.
    Unsupported,
    /// A local I/O failure (reading the source, writing the journal).
    Io,
}

/// An upload failure, with enough context to act on. Messages never carry a whole
/// signature, credential or token: every text that may quote a URL or a server's answer is
/// shown through [`redact_text`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid configuration: {}", redact_text(.0))]
    Config(String),
    #[error("cannot read {path}: {source}")]
    Source {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("journal {path}: {}", redact_text(message))]
    Journal { path: PathBuf, message: String },
    /// The store refused a request, could not be reached, or answered what S3 does not.
    #[error(transparent)]
    Store(#[from] hoist_s3::Error),
    /// The coordinator could not be reached, or the connection broke or timed out.
    #[error("network error on {operation}: {}", redact_text(message))]
    Network { operation: String, message: String },
    /// The coordinator refused a request (its JSON error: `code` and `message`).
    #[error("{operation} answered HTTP {status} {code}: {}", redact_text(message))]
    Coordinator {
        operation: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("integrity check failed: {}", redact_text(.0))]
    Integrity(String),
    #[error("the upload was cancelled")]
    Cancelled,
    /// A no-clobber upload's write was refused: an object exists at the key.
    #[error("an object already exists at the key and may not be replaced: {}", redact_text(.0))]
    AlreadyExists(String),
    /// The store cannot do what the upload needs (a no-clobber upload, where the store
    /// ignores `If-None-Match: *`).
    #[error("{}", redact_text(.0))]
    Unsupported(String),
    #[error("unexpected answer to {operation}: {}", redact_text(message))]
    Protocol { operation: String, message: String },
    /// The coordinator found the object already stored with this content (a batch's
    /// `unless_stored`): nothing was created or sent.
    #[error("{key} is already stored with the same content (ETag {etag})")]
    AlreadyStored { key: String, etag: String },
    /// A strict resume found no upload to continue.
    #[error("nothing to resume: {}", redact_text(.0))]
    NothingToResume(String),
}

impl Error {
    /// The class of this failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config(_) => ErrorKind::Usage,
            Error::Source { .. } => ErrorKind::Usage,
            Error::Journal { .. } => ErrorKind::Io,
            Error::Store(e) => store_kind(e),
            Error::Network { .. } => ErrorKind::Network,
            Error::Coordinator { status, code, .. } => answer_kind(*status, code),
            Error::Integrity(_) => ErrorKind::Integrity,
            Error::Cancelled => ErrorKind::Cancelled,
            Error::AlreadyExists(_) => ErrorKind::AlreadyExists,
            Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::Protocol { .. } => ErrorKind::Refused,
            Error::NothingToResume(_) => ErrorKind::Usage,
            Error::AlreadyStored { .. } => ErrorKind::Refused,
        }
    }

    /// The HTTP status of the store's or the coordinator's refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Store(e) => e.status(),
            Error::Coordinator { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether a Complete was refused for its parts: one named is not stored, or not with
    /// the ETag given (S3's `InvalidPart`; the coordinator's `invalid_part`, or its own
    /// `etag_mismatch` and `parts_missing` from the listing it checks first).
    pub(crate) fn refuses_a_part(&self) -> bool {
        match self {
            Error::Store(hoist_s3::Error::S3 { error, .. }) => error.code.as_str() == "InvalidPart",
            Error::Coordinator { code, .. } => {
                matches!(
                    code.as_str(),
                    "invalid_part" | "etag_mismatch" | "parts_missing"
                )
            }
            _ => false,
        }
    }

    pub(crate) fn protocol(operation: &str, message: impl Into<String>) -> Self {
        Error::Protocol {
            operation: operation.to_owned(),
            message: message.into(),
        }
    }
}

fn store_kind(e: &hoist_s3::Error) -> ErrorKind {
    use hoist_s3::Error as S;
    match e {
        S::Transport { .. } => ErrorKind::Network,
        S::S3 { error, .. } => answer_kind(error.status, error.code.as_str()),
        // Signing fails on expired credentials or a lifetime out of range.
        S::Sign { .. } | S::Credentials(_) | S::Config(_) => ErrorKind::Usage,
        _ => ErrorKind::Refused,
    }
}

/// The class of a refusal, from its status and code (S3's, or the coordinator's).
fn answer_kind(status: u16, code: &str) -> ErrorKind {
    match (status, code) {
        // `checksum_mismatch` is the coordinator's word for the same thing.
        (
            _,
            "BadDigest" | "InvalidDigest" | "XAmzContentChecksumMismatch" | "checksum_mismatch",
        ) => ErrorKind::Integrity,
        // The coordinator's word for a store that would ignore a no-clobber upload's condition.
        (_, "no_clobber_unsupported") => ErrorKind::Unsupported,
        // Only a conditional write is refused so: hoist's no-clobber uploads.
        (_, "PreconditionFailed" | "already_exists") | (412, _) => ErrorKind::AlreadyExists,
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

/// What the person running an upload can do about its failure: the cause the doctor names
/// (when it knows one) and the next step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Advice {
    /// The catalogue's cause, when the failure is one it names.
    pub cause: Option<CauseId>,
    /// What to do next.
    pub next: String,
}

impl Advice {
    fn of(cause: CauseId, next: impl Into<String>) -> Self {
        Advice {
            cause: Some(cause),
            next: next.into(),
        }
    }

    pub(crate) fn next(next: impl Into<String>) -> Self {
        Advice {
            cause: None,
            next: next.into(),
        }
    }

    /// Advice with no cause from the catalogue: only the next step.
    pub fn step(next: impl Into<String>) -> Self {
        Self::next(next)
    }

    /// The cause and next step of a failed call to a store, for any command that makes one.
    pub fn for_store(e: &hoist_s3::Error) -> Self {
        store_advice(e)
    }
}

const REACH: &str = "check that the server is running and reachable from here (curl -v URL \
     shows what answers)";

const TLS_UNTRUSTED: &str = "the server's TLS certificate is not trusted here (self-signed, a \
     private CA, expired, or not issued for this host name): set AWS_CA_BUNDLE to the PEM file \
     of the CA that signed it, or give the server a certificate for this name from a public CA";

const ALREADY_EXISTS_NEXT: &str = "choose another key, or drop --no-clobber to replace the object";

const NOT_TLS: &str = "the server does not speak HTTPS at this address: use an http:// URL, \
     or start it with --tls-cert/--tls-key";

/// The next step for a connection that failed with `detail`.
fn connection_advice(detail: &str) -> Advice {
    let lower = detail.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("unknownissuer") {
        Advice::next(TLS_UNTRUSTED)
    } else if lower.contains("invalidcontenttype") || lower.contains("corrupt message") {
        Advice::next(NOT_TLS)
    } else {
        Advice::next(REACH)
    }
}

impl Error {
    /// The cause and the next step of this failure, for the person who ran the upload.
    pub fn advice(&self) -> Advice {
        match self {
            Error::Config(_) => Advice::next("fix the setting named above and run again"),
            Error::Source { .. } => {
                Advice::next("check that the path exists and is readable by this user")
            }
            Error::Journal { path, .. } => Advice::next(format!(
                "check that {} is writable, or remove it to start the upload over",
                path.display()
            )),
            Error::Store(e) => store_advice(e),
            Error::Network { message, .. } => connection_advice(message),
            Error::Coordinator { status, code, .. } => coordinator_advice(*status, code),
            Error::Integrity(_) => Advice::next(
                "the object the store holds is not the file: nothing was kept; check that the \
                 file does not change while it is read, then run again",
            ),
            Error::Cancelled => {
                Advice::next("run the same command with --resume to continue where it stopped")
            }
            Error::AlreadyExists(_) => Advice::of(CauseId::AlreadyExists, ALREADY_EXISTS_NEXT),
            Error::Unsupported(_) => Advice::next(
                "upload without --no-clobber to this store, or to a store that honours \
                 If-None-Match: * (Amazon S3 and hoist store do)",
            ),
            Error::Protocol { .. } => Advice::next(
                "the answer is not what a hoist coordinator or an S3 store sends: check the URL \
                 (hoist doctor checks a live setup)",
            ),
            Error::NothingToResume(_) => Advice::next(
                "check the file, the destination and --state-dir are those of the interrupted \
                 upload, or run with --resume (not strict) to start a new upload",
            ),
            Error::AlreadyStored { .. } => {
                Advice::next("nothing to do: the object already holds this file's bytes")
            }
        }
    }
}

fn store_advice(e: &hoist_s3::Error) -> Advice {
    use hoist_s3::Error as S;
    match e {
        S::Transport { detail, .. } => connection_advice(detail),
        S::S3 { error, .. } => {
            let diagnosis = hoist_core::cause::classify(error, &RequestContext::default());
            if diagnosis.cause == CauseId::AlreadyExists {
                return Advice::of(CauseId::AlreadyExists, ALREADY_EXISTS_NEXT);
            }
            if diagnosis.cause != CauseId::Unknown {
                return Advice::of(diagnosis.cause, diagnosis.fix);
            }
            match (error.status, error.code.as_str()) {
                (_, "NoSuchBucket") => {
                    Advice::next("check the bucket name of the destination, or create the bucket")
                }
                (_, "InvalidAccessKeyId") => Advice::next(
                    "the store does not know this access key: check AWS_ACCESS_KEY_ID or the \
                     profile, and the endpoint",
                ),
                (401 | 403, _) => Advice::next(
                    "check that the credentials may write to this bucket and key (hoist doctor \
                     checks a live setup)",
                ),
                (s, _) if s >= 500 => Advice::next(
                    "the store kept failing: try again later with --resume; the upload is kept",
                ),
                _ => Advice::next(
                    "hoist doctor explain names known causes from the store's error body",
                ),
            }
        }
        S::Sign { .. } | S::Credentials(_) => Advice::next(
            "give credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile \
             (--profile, AWS_PROFILE) of the shared credentials file",
        ),
        _ => Advice::next("hoist doctor checks the setup and names what is wrong"),
    }
}

fn coordinator_advice(status: u16, code: &str) -> Advice {
    match (status, code) {
        (_, "already_exists" | "precondition_failed") => {
            Advice::of(CauseId::AlreadyExists, ALREADY_EXISTS_NEXT)
        }
        (_, "upload_gone" | "no_such_upload") => Advice::of(
            CauseId::NoSuchUpload,
            "the upload was aborted or expired: run the command again without --resume",
        ),
        (_, "checksum_mismatch") => Advice::next(
            "the bytes the store received are not the file's: run again (nothing was kept)",
        ),
        (401, _) => Advice::next(
            "the coordinator wants credentials: pass an API key or a grant with --token \
             (or HOIST_TOKEN)",
        ),
        (403, _) => Advice::next(
            "the token does not allow this upload: check its key prefix, size limit and \
             expiry with whoever issued it",
        ),
        (413, _) => {
            Advice::next("the file is larger than the coordinator accepts (its --max-upload-size)")
        }
        (429, _) => Advice::next(
            "the coordinator limits requests per caller: wait a little, then run again with \
             --resume",
        ),
        (502..=504, _) => Advice::next(
            "the coordinator could not use its store: see its log, or run hoist doctor on \
             its settings; the upload is kept",
        ),
        (s, _) if s >= 500 => Advice::next(
            "the coordinator failed: see its log (the answer's x-request-id names the request)",
        ),
        _ => Advice::next("the coordinator's message above says what to change"),
    }
}

impl Retryable for Error {
    /// The store's failures as hoist-s3 judges them; the coordinator's refusals by status,
    /// code and message; a failed connection is retried; anything else is final.
    fn verdict(&self) -> Verdict {
        match self {
            Error::Store(e) => e.verdict(),
            Error::Coordinator {
                status,
                code,
                message,
                ..
            } => classify(*status, code, message),
            Error::Network { .. } => Verdict::Retry,
            _ => Verdict::Fatal,
        }
    }
}

impl From<Stopped<Error>> for Error {
    fn from(stopped: Stopped<Error>) -> Self {
        match stopped {
            Stopped::Cancelled => Error::Cancelled,
            Stopped::Failed(e) => e,
        }
    }
}

/// Notes a control call's retry in the log (parts report theirs as [`crate::Progress`]).
pub(crate) fn log_retry(error: &Error, step: RetryStep) {
    tracing::debug!(attempt = step.attempt, verdict = ?step.verdict, delay = ?step.delay, %error, "retrying");
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use hoist_core::error::{S3Error, S3ErrorCode};

    use super::*;

    fn store(status: u16, code: &str, message: &str) -> Error {
        let error = S3Error::new(status, S3ErrorCode::parse(code), message);
        Error::Store(hoist_s3::Error::s3("UploadPart", error))
    }

    #[test]
    fn classes_and_verdicts_of_store_answers() {
        let table = [
            (400, "BadDigest", "", ErrorKind::Integrity, Verdict::Fatal),
            (
                403,
                "SignatureDoesNotMatch",
                "",
                ErrorKind::Auth,
                Verdict::Fatal,
            ),
            (
                403,
                "AccessDenied",
                "Request has expired",
                ErrorKind::Auth,
                Verdict::Resign,
            ),
            (403, "", "", ErrorKind::Auth, Verdict::Fatal),
            (503, "SlowDown", "", ErrorKind::Network, Verdict::Retry),
            (404, "NoSuchBucket", "", ErrorKind::Refused, Verdict::Fatal),
        ];
        for (status, code, message, kind, verdict) in table {
            let e = store(status, code, message);
            assert_eq!((e.kind(), e.verdict()), (kind, verdict), "{e}");
            assert_eq!(e.status(), Some(status));
        }
        let io = std::io::Error::other("connection reset");
        let cut = Error::from(hoist_s3::Error::transport("UploadPart", &io));
        assert_eq!(
            (cut.kind(), cut.verdict()),
            (ErrorKind::Network, Verdict::Retry)
        );
        let odd = Error::from(hoist_s3::Error::unexpected("UploadPart", "no ETag"));
        assert_eq!(
            (odd.kind(), odd.verdict()),
            (ErrorKind::Refused, Verdict::Fatal)
        );
    }

    #[test]
    fn the_coordinator_is_judged_by_the_same_rules() {
        let e = Error::Coordinator {
            operation: "complete".into(),
            status: 422,
            code: "checksum_mismatch".into(),
            message: "the object's checksum differs".into(),
        };
        assert_eq!(
            (e.kind(), e.verdict()),
            (ErrorKind::Integrity, Verdict::Fatal)
        );
        let busy = Error::Coordinator {
            operation: "sign parts".into(),
            status: 503,
            code: "unavailable".into(),
            message: String::new(),
        };
        assert_eq!(
            (busy.kind(), busy.verdict()),
            (ErrorKind::Network, Verdict::Retry)
        );
    }

    #[test]
    fn messages_shorten_upload_tokens_and_urls() {
        let token = "AQAAAAAAZ2x1".repeat(8);
        let cut = Error::Network {
            operation: "sign parts".into(),
            message: format!(
                "error sending request for url (http://c/v1/uploads/{token}/parts?x=1)"
            ),
        };
        let refused = Error::Protocol {
            operation: "PUT".into(),
            message: "http://s/b/k?X-Amz-Signature=0123456789abcdef0123 said no".into(),
        };
        for e in [cut, refused] {
            let shown = e.to_string();
            assert!(!shown.contains(&token[..20]), "{shown}");
            assert!(!shown.contains("0123456789abcdef"), "{shown}");
            assert!(shown.contains('…'), "{shown}");
        }
    }

    #[test]
    fn advice_names_the_cause_and_the_next_step() {
        let expired = store(403, "AccessDenied", "Request has expired");
        assert_eq!(expired.advice().cause, Some(CauseId::UrlExpired));
        let skewed = store(403, "RequestTimeTooSkewed", "");
        assert_eq!(skewed.advice().cause, Some(CauseId::ClockSkew));
        let exists = store(412, "PreconditionFailed", "");
        assert_eq!(exists.advice().cause, Some(CauseId::AlreadyExists));
        assert!(exists.advice().next.contains("--no-clobber"));
        let bucket = store(404, "NoSuchBucket", "");
        assert_eq!(bucket.advice().cause, None);
        assert!(bucket.advice().next.contains("bucket name"));

        let untrusted = Error::Network {
            operation: "create upload".into(),
            message: "client error (Connect): invalid peer certificate: UnknownIssuer".into(),
        };
        assert!(untrusted.advice().next.contains("AWS_CA_BUNDLE"));
        let refused = Error::Network {
            operation: "create upload".into(),
            message: "tcp connect error: Connection refused (os error 111)".into(),
        };
        assert!(refused.advice().next.contains("reachable"));

        let coordinator = |status, code: &str| Error::Coordinator {
            operation: "create upload".into(),
            status,
            code: code.into(),
            message: String::new(),
        };
        assert!(
            coordinator(401, "unauthorized")
                .advice()
                .next
                .contains("--token")
        );
        assert_eq!(
            coordinator(412, "already_exists").advice().cause,
            Some(CauseId::AlreadyExists)
        );
        assert_eq!(
            coordinator(404, "upload_gone").advice().cause,
            Some(CauseId::NoSuchUpload)
        );
        assert!(
            coordinator(429, "rate_limited")
                .advice()
                .next
                .contains("--resume")
        );
        assert!(Error::Cancelled.advice().next.contains("--resume"));
    }
}
