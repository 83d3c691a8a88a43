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
        InputKind::S3Error => match classify::s3_error(text, None, &classify::Context::default()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn one(input: &str) -> Finding {
        let e = explain(input.as_bytes());
        assert_eq!(e.findings.len(), 1, "{:?}", e.findings);
        e.findings.into_iter().next().unwrap()
    }

    #[test]
    fn bare_error_bodies_name_their_cause() {
        let cases = [
            (
                "url-expired",
                "<Error><Code>AccessDenied</Code><Message>Request has expired</Message><X-Amz-Expires>300</X-Amz-Expires><Expires>2026-11-29T01:05:00Z</Expires><ServerTime>2026-11-29T01:12:30Z</ServerTime></Error>",
                "URL expired at 2026-11-29T01:05:00Z",
            ),
            (
                "clock-skew",
                "<Error><Code>AccessDenied</Code><Message>Request is not yet valid</Message><X-Amz-Date>20261129T020000Z</X-Amz-Date><ServerTime>2026-11-29T01:00:00Z</ServerTime></Error>",
                "3600 s ahead",
            ),
            (
                "clock-skew",
                "<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the current time is too large.</Message><RequestTime>20261129T010000Z</RequestTime><ServerTime>2026-11-29T01:20:00Z</ServerTime><MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds></Error>",
                "1200 s apart",
            ),
            (
                "entity-too-large",
                "<?xml version=\"1.0\"?>\n<Error><Code>EntityTooLarge</Code><Message>Your proposed upload exceeds the maximum allowed size</Message><ProposedSize>2097152</ProposedSize><MaxSizeAllowed>1048576</MaxSizeAllowed></Error>",
                "2097152 bytes",
            ),
            (
                "sigv2",
                "<Error><Code>InvalidRequest</Code><Message>The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.</Message></Error>",
                "Signature Version 2",
            ),
            (
                "credentials-expired",
                "<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>",
                "ExpiredToken",
            ),
            (
                "cors-preflight",
                "<Error><Code>AccessForbidden</Code><Message>CORSResponse: This CORS request is not allowed.</Message><Method>PUT</Method><ResourceType>OBJECT</ResourceType></Error>",
                "matched no rule",
            ),
        ];
        for (cause, body, evidence) in cases {
            let f = one(body);
            assert_eq!(f.cause, cause, "{body}");
            assert!(
                f.evidence.join("\n").contains(evidence),
                "{cause}: {:?}",
                f.evidence
            );
            assert!(!f.fix.is_empty());
        }
        assert_eq!(detect("<Error><Code>X</Code></Error>"), InputKind::S3Error);
        let f = one("<Error><Code>SomethingNew</Code><Message>?</Message></Error>");
        assert_eq!(f.cause, "unknown");
        let f = one("<Error><Code>broken");
        assert_eq!(f.cause, "unknown");
        assert!(f.evidence[0].contains("could not be read as an S3 error body"));
    }

    #[test]
    fn late_parts_in_a_har_are_expired_urls_with_the_upload_age() {
        let e = explain(include_bytes!(
            "../../tests/fixtures/chrome-expired-parts.har"
        ));
        assert_eq!(e.findings.len(), 1, "{:?}", e.findings);
        let f = &e.findings[0];
        assert_eq!(f.cause, "url-expired");
        let evidence = f.evidence.join("\n");
        assert!(
            evidence
                .contains("signed at 01:00:00Z for 300 s; used at 01:12:30Z, 450 s after expiry"),
            "{evidence}"
        );
        assert!(
            evidence.contains(
                "part 3 failed 12 min 30 s after the upload started at 2026-11-29T01:00:00Z"
            ),
            "{evidence}"
        );
        assert!(
            evidence.contains(
                "1 more request(s) show the same cause: PUT /uploads/big.bin (part 4) → 403"
            ),
            "{evidence}"
        );
    }

    #[test]
    fn a_curl_transcript_with_trace_time_tells_skew_from_expiry() {
        // The sender's clock says the URL had 200 s left; the store's clock is an hour ahead.
        let text = "01:01:40.000000 > PUT /b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20261129%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261129T010000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=00 HTTP/1.1\n\
            01:01:40.000100 > Host: 127.0.0.1:9000\n01:01:40.000200 >\n\
            01:01:40.010000 < HTTP/1.1 403 Forbidden\n01:01:40.010100 < Date: Sun, 29 Nov 2026 02:01:40 GMT\n01:01:40.010200 <\n\
            <Error><Code>AccessDenied</Code><Message>Request has expired</Message><X-Amz-Expires>300</X-Amz-Expires><Expires>2026-11-29T01:05:00Z</Expires><ServerTime>2026-11-29T02:01:40Z</ServerTime></Error>\n";
        assert_eq!(detect(text), InputKind::CurlTranscript);
        let f = one(text);
        assert_eq!(f.cause, "clock-skew", "{f:?}");
        // Without the sender's time, the same answer reads as an expired URL.
        let plain: String = text
            .lines()
            .map(|l| if l.starts_with("01:") { &l[16..] } else { l })
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(one(&plain).cause, "url-expired");
    }

    #[test]
    fn a_sigv2_header_is_named_even_when_the_body_is_vague() {
        let text = "> GET /b/ HTTP/1.1\n> Host: h\n> Authorization: AWS AKID:c2lnbmF0dXJl\n> Date: Sun, 29 Nov 2026 01:00:00 GMT\n>\n< HTTP/1.1 400 Bad Request\n<\n<Error><Code>InvalidRequest</Code><Message>Unsupported</Message></Error>\n";
        assert_eq!(one(text).cause, "sigv2");
    }
}
