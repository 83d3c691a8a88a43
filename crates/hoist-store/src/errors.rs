//! S3 error answers, with the extra elements S3 puts in them.
//!
//! s3s serializes `<Code>`, `<Message>` and `<RequestId>` only, so the operations attach extra
//! elements to an [`s3s::S3Error`] through a private header, and the front
//! ([`crate::front`]) rebuilds every error body with [`error_body`].

use bytes::Bytes;
use hoist_core::encoding::base64;
use hoist_core::error::S3ErrorCode as CoreCode;
use http::{HeaderMap, HeaderValue, StatusCode};
use s3s::{S3Error, S3ErrorCode};
use sha2::Digest as _;

/// Private header that carries extra elements from the backend to the front service.
pub(crate) const EXTRA_HEADER: &str = "x-hoist-error-extra";

pub(crate) const MSG_NO_SUCH_UPLOAD: &str = "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.";
pub(crate) const MSG_INVALID_PART: &str = "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.";
pub(crate) const MSG_INVALID_PART_ORDER: &str =
    "The list of parts was not in ascending order. Parts must be ordered by part number.";
pub(crate) const MSG_ENTITY_TOO_SMALL: &str =
    "Your proposed upload is smaller than the minimum allowed size";
pub(crate) const MSG_ENTITY_TOO_LARGE: &str =
    "Your proposed upload exceeds the maximum allowed size";
pub(crate) const MSG_SIGNATURE: &str = "The request signature we calculated does not match the signature you provided. Check your key and signing method.";
pub(crate) const MSG_SIGV2: &str =
    "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.";
pub(crate) const MSG_SKEW: &str =
    "The difference between the request time and the current time is too large.";
pub(crate) const MSG_EXPIRES_WEEK: &str = "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds";
pub(crate) const MSG_CORS: &str = "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";
pub(crate) const MSG_NO_SUCH_KEY: &str = "The specified key does not exist.";
pub(crate) const MSG_NO_SUCH_BUCKET: &str = "The specified bucket does not exist";
pub(crate) const MSG_EXPIRED_TOKEN: &str = "The provided token has expired.";

/// The status of a successful answer that s3s's serializers cannot give (`304 Not Modified`,
/// `206` for a HEAD of one part): an operation puts it in its response's extensions, and the
/// front applies it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AnswerStatus(pub StatusCode);

/// Extra elements in document order, as `(name, text)`.
pub(crate) type Extras = Vec<(&'static str, String)>;

/// Serializes extras into the private header's value (a JSON list of pairs).
fn encode_extras(extras: &Extras) -> String {
    serde_json::to_string(extras).unwrap_or_default()
}

/// Reads extras written by [`encode_extras`].
pub(crate) fn decode_extras(value: &str) -> Vec<(String, String)> {
    serde_json::from_str(value).unwrap_or_default()
}

/// An S3 error with a message and extra elements for the front service to render.
pub(crate) fn s3_error(code: S3ErrorCode, message: &str, extras: &Extras) -> S3Error {
    let mut err = S3Error::with_message(code, message.to_owned());
    if !extras.is_empty() {
        // Header values must be visible ASCII; keys and ETags may not be.
        let encoded = ascii_only(&encode_extras(extras));
        if let Ok(value) = HeaderValue::from_str(&encoded) {
            let mut headers = HeaderMap::new();
            headers.insert(EXTRA_HEADER, value);
            err.set_headers(headers);
        }
    }
    err
}

/// An error answered before the request's body was read. The connection closes after it:
/// a client that sent the body would otherwise have it read as its next request, and one
/// that waits for `100 Continue` never sends it.
pub(crate) fn before_body(mut err: S3Error) -> S3Error {
    let mut headers = err.headers().cloned().unwrap_or_default();
    headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    err.set_headers(headers);
    err
}

/// `NoSuchBucket`, naming the bucket.
pub(crate) fn no_such_bucket(bucket: &str) -> S3Error {
    s3_error(
        S3ErrorCode::NoSuchBucket,
        MSG_NO_SUCH_BUCKET,
        &vec![("BucketName", bucket.to_owned())],
    )
}

/// `NoSuchUpload`, naming the upload.
/// `400 BadDigest` for a checksum of `algorithm` that the body does not match.
pub(crate) fn bad_digest(algorithm: hoist_core::checksum::ChecksumAlgorithm) -> S3Error {
    s3_error(
        S3ErrorCode::BadDigest,
        &format!(
            "The {} you specified did not match the calculated checksum.",
            algorithm.as_str()
        ),
        &vec![],
    )
}

/// S3's answer to a part number outside 1..=10000 (UploadPart, UploadPartCopy, and
/// `?partNumber=` on GET and HEAD).
pub(crate) fn check_part_number(number: i32) -> Result<(), S3Error> {
    if (1..=hoist_core::plan::MAX_PARTS as i32).contains(&number) {
        return Ok(());
    }
    Err(s3_error(
        S3ErrorCode::InvalidArgument,
        "Part number must be an integer between 1 and 10000, inclusive",
        &vec![
            ("ArgumentName", "partNumber".into()),
            ("ArgumentValue", number.to_string()),
        ],
    ))
}

pub(crate) fn no_such_upload(id: &str) -> S3Error {
    s3_error(
        S3ErrorCode::NoSuchUpload,
        MSG_NO_SUCH_UPLOAD,
        &vec![("UploadId", id.to_owned())],
    )
}

/// An I/O failure: logged, answered as S3's InternalError.
pub(crate) fn internal<E: std::fmt::Display>(err: E) -> S3Error {
    tracing::error!(error = %err, "storage failure");
    S3Error::with_message(
        S3ErrorCode::InternalError,
        "We encountered an internal error. Please try again.",
    )
}

/// Replaces non-ASCII characters by JSON `\uXXXX` escapes so the text fits in a header.
fn ascii_only(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() && !c.is_ascii_control() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// A full S3 error document, written by hoist-core's [`S3Error`](hoist_core::error::S3Error).
pub(crate) fn error_body(
    code: &str,
    message: Option<&str>,
    extras: &[(String, String)],
    request_id: &str,
) -> Bytes {
    let mut error =
        hoist_core::error::S3Error::new(0, CoreCode::parse(code), message.unwrap_or_default());
    error.extras = extras.to_vec();
    error.request_id = Some(request_id.to_owned());
    error.host_id = Some(host_id(request_id));
    Bytes::from(error.to_xml())
}

/// A stable, opaque host id derived from the request id (S3 sends a base64 blob).
fn host_id(request_id: &str) -> String {
    base64(&sha2::Sha256::digest(request_id.as_bytes()))
}

/// A complete error response from the front service.
#[derive(Debug)]
pub(crate) struct ErrorAnswer {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: Option<String>,
    pub extras: Vec<(String, String)>,
}

impl ErrorAnswer {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: Some(message.into()),
            extras: Vec::new(),
        }
    }

    /// `500 InternalError`, in S3's words.
    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
    }

    pub(crate) fn extra(mut self, name: &str, value: impl Into<String>) -> Self {
        self.extras.push((name.to_owned(), value.into()));
        self
    }
}

/// The `<Code>` and `<Message>` of an s3s error document; `None` for a body that is not
/// one (or names no code), which is passed through as it is.
pub(crate) fn parse_error_body(body: &[u8]) -> Option<(String, Option<String>)> {
    let error = hoist_core::error::S3Error::parse(0, body).ok()?;
    let code = error.code.as_str();
    (!code.is_empty()).then(|| {
        let message = (!error.message.is_empty()).then_some(error.message.clone());
        (code.to_owned(), message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extras_round_trip_through_the_header() {
        let extras: Extras = vec![("UploadId", "abc".into()), ("ETag", "\"é\"".into())];
        let err = s3_error(S3ErrorCode::InvalidPart, MSG_INVALID_PART, &extras);
        let value = err
            .headers()
            .unwrap()
            .get(EXTRA_HEADER)
            .unwrap()
            .to_str()
            .unwrap();
        let back = decode_extras(value);
        assert_eq!(
            back,
            vec![
                ("UploadId".to_owned(), "abc".to_owned()),
                ("ETag".to_owned(), "\"é\"".to_owned())
            ]
        );
    }

    #[test]
    fn body_has_extras_before_request_id() {
        let body = error_body(
            "NoSuchUpload",
            Some("m & n"),
            &[("UploadId".into(), "u1".into())],
            "R1",
        );
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.contains("<Code>NoSuchUpload</Code><Message>m &amp; n</Message><UploadId>u1</UploadId><RequestId>R1</RequestId>"));
        assert_eq!(
            parse_error_body(&body).unwrap(),
            ("NoSuchUpload".into(), Some("m & n".into()))
        );
    }

    #[test]
    fn quotes_stay_literal_as_in_s3s_documents() {
        let body = error_body(
            "InvalidPart",
            Some("the resource's part"),
            &[("ETag".into(), "\"abc\"".into())],
            "R1",
        );
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.contains("<Message>the resource's part</Message><ETag>\"abc\"</ETag>"));
        assert!(text.ends_with(&format!("<HostId>{}</HostId></Error>", host_id("R1"))));
        assert_eq!(parse_error_body(b"<html>no</html>"), None);
        assert_eq!(
            parse_error_body(b"<Error><Message>m</Message></Error>"),
            None
        );
    }
}
