//! The doctor's errors: what stopped a check from running at all. What a check finds wrong
//! is a result, not an error.

/// Why the doctor or gc could not do its work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DoctorError {
    /// The endpoint URL cannot be used.
    #[error(transparent)]
    Endpoint(#[from] hoist_core::presign::EndpointError),
    /// A request could not be signed.
    #[error("cannot sign the request: {0}")]
    Presign(#[from] hoist_core::presign::PresignError),
    /// The endpoint could not be reached or the answer could not be read.
    #[error("cannot reach the endpoint: {}", causes(.0))]
    Http(reqwest::Error),
    /// The endpoint refused a call the doctor needs.
    #[error("{action} failed: HTTP {status} {code}: {message}")]
    S3 {
        /// What was being done (`ListMultipartUploads` …).
        action: &'static str,
        /// The HTTP status.
        status: u16,
        /// The S3 error code, or empty.
        code: String,
        /// The S3 error message, or the start of the body.
        message: String,
    },
    /// An answer that should be S3 XML could not be read.
    #[error("{action}: cannot read the answer: {detail}")]
    BadAnswer {
        /// What was being done.
        action: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl From<reqwest::Error> for DoctorError {
    // Presigned URLs carry a signature: they are kept out of messages.
    fn from(e: reqwest::Error) -> Self {
        DoctorError::Http(e.without_url())
    }
}

/// An error and its sources, `a: b: c`, so that "connection refused" is not lost.
fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(&format!(": {s}"));
        source = s.source();
    }
    out
}
