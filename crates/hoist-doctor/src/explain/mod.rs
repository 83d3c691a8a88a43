//! `hoist doctor explain`: name the cause behind an S3 error body, a `curl -v` transcript or a
//! HAR file, with the evidence and the fix.
//!
//! Reading is split from judging: [`curl`] and [`har`] turn their input into
//! [`Exchange`]s, and [`analyze`] names causes from exchanges, passing S3 error bodies
//! to hoist-core's classifier. What cannot be read or placed is reported as `unknown`.

pub mod analyze;
pub mod classify;
pub mod curl;
pub mod exchange;
pub mod har;

pub use exchange::Exchange;

use crate::report::Finding;

/// What kind of input `explain` was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// An S3 `<Error>` XML body.
    S3Error,
    /// The output of `curl -v`.
    CurlTranscript,
    /// A HAR 1.2 file.
    Har,
    /// None of the above.
    Unknown,
}

/// Tells the input kind from its content (file names and extensions are not trusted).
pub fn detect(text: &str) -> InputKind {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if har::looks_like_har(trimmed) {
        InputKind::Har
    } else if curl::looks_like_curl(text) {
        InputKind::CurlTranscript
    } else if trimmed.starts_with('<') && trimmed.contains("<Error>") {
        InputKind::S3Error
    } else {
        InputKind::Unknown
    }
}

/// The input kind and the causes found in it (at least one finding, `unknown` when none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// What the input was read as.
    pub kind: InputKind,
    /// One finding per cause.
    pub findings: Vec<Finding>,
}

/// Reads `input` and names its causes.
pub fn explain(input: &[u8]) -> Explanation {
    let Ok(text) = std::str::from_utf8(input) else {
        return Explanation {
            kind: InputKind::Unknown,
            findings: vec![Finding::unknown(vec![format!(
                "the input ({} bytes) is not UTF-8 text",
                input.len()
            )])],
        };
    };
    let kind = detect(text);
    let findings = match kind {
        InputKind::Har => match har::read_har(text) {
            Ok(exchanges) => analyze::analyze(&exchanges),
            Err(e) => vec![Finding::unknown(vec![format!(
                "the input looks like a HAR file but could not be read: {e}"
            )])],
        },
        InputKind::CurlTranscript => analyze::analyze(&curl::read_curl(text)),
        InputKind::S3Error => match classify::s3_error(text, &classify::Context::default()) {
            Some(finding) => vec![finding],
            None => vec![Finding::unknown(vec![
                "the input has an <Error> element but it could not be read as an S3 error body"
                    .to_owned(),
            ])],
        },
        InputKind::Unknown => vec![Finding::unknown(vec![format!(
            "the input ({} bytes) is not an S3 XML error body, a `curl -v` transcript or a HAR file",
            input.len()
        )])],
    };
    Explanation { kind, findings }
}
