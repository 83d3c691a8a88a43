//! S3 error answers, with the extra elements S3 puts in them.
//!
//! s3s serializes `<Code>`, `<Message>` and `<RequestId>` only, so the backend attaches extra
//! elements to an [`s3s::S3Error`] through a private header, and the front service
//! ([`crate::service`]) rebuilds every error body with [`error_body`].

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use s3s::{S3Error, S3ErrorCode};

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

/// Escapes text for an XML element (quotes stay literal, as in S3's own documents).
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

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

/// A full S3 error document.
pub(crate) fn error_body(
    code: &str,
    message: Option<&str>,
    extras: &[(String, String)],
    request_id: &str,
) -> Bytes {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
    xml.push_str(&xml_escape(code));
    xml.push_str("</Code>");
    if let Some(message) = message {
        xml.push_str("<Message>");
        xml.push_str(&xml_escape(message));
        xml.push_str("</Message>");
    }
    for (name, value) in extras {
        xml.push_str(&format!("<{name}>{}</{name}>", xml_escape(value)));
    }
    xml.push_str(&format!(
        "<RequestId>{request_id}</RequestId><HostId>{}</HostId></Error>",
        host_id(request_id)
    ));
    Bytes::from(xml)
}

/// A stable, opaque host id derived from the request id (S3 sends a base64 blob).
fn host_id(request_id: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(request_id.as_bytes()))
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

    pub(crate) fn extra(mut self, name: &str, value: impl Into<String>) -> Self {
        self.extras.push((name.to_owned(), value.into()));
        self
    }
}

/// Pulls `<Code>` and `<Message>` out of an s3s error document (already XML-escaped text is
/// unescaped for the few entities s3s writes).
pub(crate) fn parse_error_body(body: &[u8]) -> Option<(String, Option<String>)> {
    let text = std::str::from_utf8(body).ok()?;
    let code = between(text, "<Code>", "</Code>")?;
    let message = between(text, "<Message>", "</Message>");
    Some((unescape(code), message.map(unescape)))
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
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
}
