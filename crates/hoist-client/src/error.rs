//! The engine's error type, the coarse classes the CLI maps to exit codes, and the retry
//! verdict of each failure (hoist-core's rules, run by hoist-s3's retry loop).

use std::path::PathBuf;

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
    /// A local I/O failure (reading the source, writing the journal).
    Io,
}

/// An upload failure, with enough context to act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot read {path}: {source}")]
    Source {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("journal {path}: {message}")]
    Journal { path: PathBuf, message: String },
    #[error("network error on {operation}: {message}")]
    Network { operation: String, message: String },
    #[error("{operation} answered HTTP {status} {code}: {message}")]
    Http {
        operation: String,
        status: u16,
        code: String,
        message: String,
        kind: ErrorKind,
    },
    #[error("integrity check failed: {0}")]
    Integrity(String),
    #[error("the upload was cancelled")]
    Cancelled,
    #[error("unexpected answer to {operation}: {message}")]
    Protocol { operation: String, message: String },
}

impl Error {
    /// The class of this failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config(_) => ErrorKind::Usage,
            Error::Source { .. } => ErrorKind::Usage,
            Error::Journal { .. } => ErrorKind::Io,
            Error::Network { .. } => ErrorKind::Network,
            Error::Http { kind, .. } => *kind,
            Error::Integrity(_) => ErrorKind::Integrity,
            Error::Cancelled => ErrorKind::Cancelled,
            Error::Protocol { .. } => ErrorKind::Refused,
        }
    }

    pub(crate) fn network(operation: &str, err: impl std::fmt::Display) -> Self {
        Error::Network {
            operation: operation.to_owned(),
            message: err.to_string(),
        }
    }

    pub(crate) fn protocol(operation: &str, message: impl Into<String>) -> Self {
        Error::Protocol {
            operation: operation.to_owned(),
            message: message.into(),
        }
    }
}

impl Retryable for Error {
    /// HTTP answers are classified by status, code and message; a failed connection is
    /// retried; anything else is final.
    fn verdict(&self) -> Verdict {
        match self {
            Error::Http {
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
