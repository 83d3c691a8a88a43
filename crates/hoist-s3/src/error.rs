//! What can go wrong talking to a store, as one typed error with the retry verdict.

use hoist_core::credentials::CredentialsError;
use hoist_core::error::{S3Error, S3ErrorCode};
use hoist_core::redact::redact_text;
use hoist_core::retry::{Verdict, classify};

/// A failed request to a store.
///
/// Messages never carry a whole signature or credential: URLs and bearer tokens in them
/// are shortened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store could not be reached, or the connection broke or timed out.
    #[error("{operation}: the store could not be reached: {detail}")]
    Transport {
        /// The S3 operation, e.g. `ListParts`.
        operation: String,
        /// What broke, with the causes chained.
        detail: String,
    },
    /// The store answered with an S3 error.
    #[error("{operation}: {}", redact_text(&error.to_string()))]
    S3 {
        /// The S3 operation.
        operation: String,
        /// The parsed answer: status, code, message and extra elements.
        error: Box<S3Error>,
    },
    /// The store answered something that is not what S3 answers.
    #[error("{operation}: unexpected answer from the store: {detail}")]
    Unexpected {
        /// The S3 operation.
        operation: String,
        /// What was wrong with it.
        detail: String,
    },
    /// The store's answer was longer than any answer to a control call: the store did not
    /// do the call asked (Garage answers GetObjectAttributes with the whole object). The
    /// rest was not read.
    #[error(
        "{operation}: the store's answer is longer than {limit} bytes, more than any answer to \
         this call: not read"
    )]
    TooLarge {
        /// The S3 operation.
        operation: String,
        /// The most read of an answer.
        limit: usize,
    },
    /// The request could not be signed (expired credentials, a lifetime out of range).
    #[error("cannot sign {operation}: {detail}")]
    Sign {
        /// The S3 operation.
        operation: String,
        /// Why.
        detail: String,
    },
    /// No usable credentials.
    #[error("credentials: {0}")]
    Credentials(String),
    /// A setting that cannot work (an endpoint that is not a URL, a client that cannot be built).
    #[error("{0}")]
    Config(String),
}

impl From<CredentialsError> for Error {
    fn from(e: CredentialsError) -> Self {
        Error::Credentials(e.to_string())
    }
}

impl Error {
    /// A transport failure, described by `err`'s whole chain of causes (reqwest's own
    /// message hides what broke), secrets shortened.
    pub fn transport(operation: &str, err: &(dyn std::error::Error + 'static)) -> Self {
        Error::Transport {
            operation: operation.to_owned(),
            detail: redact_text(&error_chain(err)),
        }
    }

    /// An answer that is not S3's.
    pub fn unexpected(operation: &str, detail: impl Into<String>) -> Self {
        Error::Unexpected {
            operation: operation.to_owned(),
            detail: redact_text(&detail.into()),
        }
    }

    /// An S3 error answer.
    pub fn s3(operation: &str, error: S3Error) -> Self {
        Error::S3 {
            operation: operation.to_owned(),
            error: Box::new(error),
        }
    }

    /// The S3 error answer, if the store gave one.
    pub fn s3_error(&self) -> Option<&S3Error> {
        match self {
            Error::S3 { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The HTTP status of an S3 error answer.
    pub fn status(&self) -> Option<u16> {
        self.s3_error().map(|e| e.status)
    }

    /// The S3 error code; `http_404` style when the answer had no body (HEAD answers).
    pub fn code(&self) -> Option<String> {
        self.s3_error().map(|e| match e.code.as_str() {
            "" => format!("http_{}", e.status),
            code => code.to_owned(),
        })
    }

    /// Whether the store said the code `code`.
    pub fn is(&self, code: &S3ErrorCode) -> bool {
        self.s3_error().is_some_and(|e| &e.code == code)
    }

    /// Whether the store no longer knows the upload (aborted, completed, never was).
    pub fn is_no_such_upload(&self) -> bool {
        self.is(&S3ErrorCode::NoSuchUpload)
    }

    /// What a caller should do: retry after a wait, sign again at once, or give up.
    pub fn verdict(&self) -> Verdict {
        match self {
            Error::Transport { .. } => Verdict::Retry,
            Error::S3 { error, .. } => classify(error.status, error.code.as_str(), &error.message),
            Error::Unexpected { .. }
            | Error::TooLarge { .. }
            | Error::Sign { .. }
            | Error::Credentials(_)
            | Error::Config(_) => Verdict::Fatal,
        }
    }
}

/// `err` and its causes, joined with `: `.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut s = err.to_string();
    let mut cur = err.source();
    while let Some(c) = cur {
        let text = c.to_string();
        // Some errors repeat their cause's text in their own.
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_the_answer() {
        let expired = Error::s3(
            "UploadPart",
            S3Error::new(403, S3ErrorCode::AccessDenied, "Request has expired"),
        );
        assert_eq!(expired.verdict(), Verdict::Resign);
        let gone = Error::s3(
            "ListParts",
            S3Error::new(404, S3ErrorCode::NoSuchUpload, "gone"),
        );
        assert!(gone.is_no_such_upload());
        assert_eq!(gone.verdict(), Verdict::Fatal);
        assert_eq!(gone.code().as_deref(), Some("NoSuchUpload"));
        let head = Error::s3("HeadObject", S3Error::new(403, S3ErrorCode::parse(""), ""));
        assert_eq!(head.code().as_deref(), Some("http_403"));
        let io = std::io::Error::other("connection reset");
        assert_eq!(Error::transport("PutObject", &io).verdict(), Verdict::Retry);
    }

    #[test]
    fn messages_shorten_signatures() {
        let e = Error::unexpected(
            "GetObject",
            "GET http://s/b/k?X-Amz-Signature=0123456789abcdef0123 gave HTML",
        );
        let shown = e.to_string();
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
        assert!(shown.contains("X-Amz-Signature=012345…"), "{shown}");
    }
}
