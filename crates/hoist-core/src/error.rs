//! S3's error answers: the [`S3ErrorCode`] catalogue and the parsed [`S3Error`] body.
//!
//! `<Error><Code>…</Code><Message>…</Message>…extras…<RequestId>…</RequestId><HostId>…</HostId></Error>`:
//! every element besides the four named ones is kept, in order, in [`S3Error::extras`]
//! (`X-Amz-Expires`, `ServerTime`, `ProposedSize`, `StringToSign`…), because they are the
//! evidence the cause classifier works from.

use std::fmt;

use crate::xml::{self, XmlError};

macro_rules! error_codes {
    ($($(#[$doc:meta])* $name:ident = $status:expr,)*) => {
        /// An S3 error code, with a fallback for codes this catalogue does not know.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum S3ErrorCode {
            $($(#[$doc])* $name,)*
            /// A code not in the catalogue, kept verbatim (empty when the answer had no body).
            Other(String),
        }

        impl S3ErrorCode {
            /// The code from its wire form (case-sensitive, as S3 writes it).
            pub fn parse(code: &str) -> Self {
                match code {
                    $(stringify!($name) => S3ErrorCode::$name,)*
                    other => S3ErrorCode::Other(other.to_owned()),
                }
            }

            /// The code as S3 writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(S3ErrorCode::$name => stringify!($name),)*
                    S3ErrorCode::Other(s) => s,
                }
            }

            /// The HTTP status S3 answers this code with; `None` for unknown codes.
            pub fn http_status(&self) -> Option<u16> {
                match self {
                    $(S3ErrorCode::$name => Some($status),)*
                    S3ErrorCode::Other(_) => None,
                }
            }
        }
    };
}

error_codes! {
    /// Access denied, including `Request has expired` and `Request is not yet valid` on presigned URLs.
    AccessDenied = 403,
    /// A CORS preflight that matches no rule.
    AccessForbidden = 403,
    /// The account has a problem.
    AccountProblem = 403,
    /// The Authorization header is malformed (often: wrong region).
    AuthorizationHeaderMalformed = 400,
    /// The presigned query parameters are malformed (X-Amz-Expires above 7 days is answered
    /// 403 by Amazon S3 and 400 by MinIO).
    AuthorizationQueryParametersError = 400,
    /// The checksum or Content-MD5 did not match the body.
    BadDigest = 400,
    /// The bucket name is taken.
    BucketAlreadyExists = 409,
    /// The bucket already exists and is yours.
    BucketAlreadyOwnedByYou = 409,
    /// The bucket is not empty.
    BucketNotEmpty = 409,
    /// A conditional write met another write to the key that committed meanwhile; start
    /// the write again.
    ConditionalRequestConflict = 409,
    /// A single PUT above the limit.
    EntityTooLarge = 400,
    /// A non-last part below 5 MiB, reported at Complete.
    EntityTooSmall = 400,
    /// The temporary credentials have expired.
    ExpiredToken = 400,
    /// Fewer bytes than Content-Length arrived.
    IncompleteBody = 400,
    /// An internal error; retry.
    InternalError = 500,
    /// The access key id is unknown.
    InvalidAccessKeyId = 403,
    /// An argument is invalid.
    InvalidArgument = 400,
    /// The bucket name is invalid.
    InvalidBucketName = 400,
    /// The Content-MD5 is not valid base64 MD5.
    InvalidDigest = 400,
    /// A part named in Complete is missing or its ETag differs.
    InvalidPart = 400,
    /// Complete listed parts out of order.
    InvalidPartOrder = 400,
    /// The range cannot be satisfied.
    InvalidRange = 416,
    /// A request S3 refuses; among others Signature V2 on a SigV4-only region, and Garage's
    /// `Date is too old` for an expired presigned URL.
    InvalidRequest = 400,
    /// The security token is invalid.
    InvalidToken = 400,
    /// The key is longer than 1024 bytes.
    KeyTooLongError = 400,
    /// The XML body is not well-formed or does not match the schema.
    MalformedXML = 400,
    /// The method is not allowed on this resource.
    MethodNotAllowed = 405,
    /// Content-Length is required.
    MissingContentLength = 411,
    /// The request has no body where one is needed.
    MissingRequestBodyError = 400,
    /// The bucket does not exist.
    NoSuchBucket = 404,
    /// The bucket has no CORS configuration.
    NoSuchCORSConfiguration = 404,
    /// The key does not exist.
    NoSuchKey = 404,
    /// The bucket has no lifecycle configuration.
    NoSuchLifecycleConfiguration = 404,
    /// The upload id is unknown, aborted or completed.
    NoSuchUpload = 404,
    /// The feature is not implemented.
    NotImplemented = 501,
    /// A precondition (If-Match…) failed.
    PreconditionFailed = 412,
    /// The server waited too long for the body.
    RequestTimeout = 400,
    /// A header-signed request's time is more than 15 min off.
    RequestTimeTooSkewed = 403,
    /// The signature does not match.
    SignatureDoesNotMatch = 403,
    /// The service is unavailable; retry.
    ServiceUnavailable = 503,
    /// Too many requests; slow down and retry.
    SlowDown = 503,
    /// Temporary credentials need refreshing.
    TokenRefreshRequired = 400,
    /// The body's SHA-256 does not match x-amz-content-sha256.
    XAmzContentSHA256Mismatch = 400,
}

impl fmt::Display for S3ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answer: the HTTP status and everything the `<Error>` body said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct S3Error {
    /// The HTTP status (200 for CompleteMultipartUpload's late errors).
    pub status: u16,
    /// `<Code>`.
    pub code: S3ErrorCode,
    /// `<Message>` (empty when absent).
    pub message: String,
    /// Every other child of `<Error>` in document order: (`X-Amz-Expires`, `600`), …
    pub extras: Vec<(String, String)>,
    /// `<RequestId>`.
    pub request_id: Option<String>,
    /// `<HostId>`.
    pub host_id: Option<String>,
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            self.status,
            if self.code.as_str().is_empty() {
                "(no error code)"
            } else {
                self.code.as_str()
            }
        )?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl S3Error {
    /// An error with a status, code and message and nothing else.
    pub fn new(status: u16, code: S3ErrorCode, message: impl Into<String>) -> Self {
        S3Error {
            status,
            code,
            message: message.into(),
            extras: Vec::new(),
            request_id: None,
            host_id: None,
        }
    }

    /// Parses an `<Error>` body.
    ///
    /// ```
    /// use hoist_core::error::{S3Error, S3ErrorCode};
    /// let body = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message>\
    ///   <X-Amz-Expires>300</X-Amz-Expires><RequestId>R1</RequestId></Error>";
    /// let e = S3Error::parse(403, body).unwrap();
    /// assert_eq!(e.code, S3ErrorCode::AccessDenied);
    /// assert_eq!(e.extra("X-Amz-Expires"), Some("300"));
    /// ```
    pub fn parse(status: u16, body: &[u8]) -> Result<Self, XmlError> {
        Self::from_element(status, &xml::parse_root(body, "Error")?)
    }

    pub(crate) fn from_element(status: u16, root: &xml::XmlElement) -> Result<Self, XmlError> {
        let mut e = S3Error::new(status, S3ErrorCode::Other(String::new()), "");
        for child in &root.children {
            match child.name.as_str() {
                "Code" => e.code = S3ErrorCode::parse(child.text.trim()),
                "Message" => e.message = child.text.clone(),
                "RequestId" => e.request_id = Some(child.text.clone()),
                "HostId" => e.host_id = Some(child.text.clone()),
                _ => e.extras.push((child.name.clone(), child.text.clone())),
            }
        }
        Ok(e)
    }

    /// The error carried by a non-2xx answer: the parsed `<Error>` body, or, when the body is
    /// empty or not an `<Error>` (HEAD answers have none), an error with only the status.
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        match Self::parse(status, body) {
            Ok(e) => e,
            Err(_) => {
                let mut e = S3Error::new(status, S3ErrorCode::Other(String::new()), "");
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                if !text.is_empty() {
                    e.message = text.chars().take(512).collect();
                }
                e
            }
        }
    }

    /// The value of an extra element, by name.
    pub fn extra(&self, name: &str) -> Option<&str> {
        self.extras
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether retrying the same request may succeed (throttling, server errors, timeouts).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.code,
            S3ErrorCode::InternalError
                | S3ErrorCode::ServiceUnavailable
                | S3ErrorCode::SlowDown
                | S3ErrorCode::RequestTimeout
        ) || matches!(self.status, 500 | 502 | 503 | 504)
    }

    /// Writes the error as S3 would send it (for stores, fakes and tests): text escaped as S3
    /// escapes it (quotes literal), no `<Message>` when there is none.
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
        xml::push_text_leaf(&mut out, "Code", self.code.as_str());
        if !self.message.is_empty() {
            xml::push_text_leaf(&mut out, "Message", &self.message);
        }
        for (k, v) in &self.extras {
            xml::push_text_leaf(&mut out, k, v);
        }
        if let Some(r) = &self.request_id {
            xml::push_text_leaf(&mut out, "RequestId", r);
        }
        if let Some(h) = &self.host_id {
            xml::push_text_leaf(&mut out, "HostId", h);
        }
        out.push_str("</Error>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_extra_element() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message><AWSAccessKeyId>AKIA</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256
20130524T000000Z</StringToSign><SignatureProvided>abc</SignatureProvided><CanonicalRequest>GET
/x</CanonicalRequest><RequestId>4442587FB7D0A2F9</RequestId><HostId>host/id==</HostId></Error>"#;
        let e = S3Error::parse(403, body).unwrap();
        assert_eq!(e.code, S3ErrorCode::SignatureDoesNotMatch);
        assert_eq!(e.code.http_status(), Some(403));
        let names: Vec<&str> = e.extras.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "AWSAccessKeyId",
                "StringToSign",
                "SignatureProvided",
                "CanonicalRequest"
            ]
        );
        assert_eq!(
            e.extra("StringToSign"),
            Some("AWS4-HMAC-SHA256\n20130524T000000Z")
        );
        assert_eq!(e.request_id.as_deref(), Some("4442587FB7D0A2F9"));
        assert_eq!(e.host_id.as_deref(), Some("host/id=="));
        assert_eq!(S3Error::parse(403, e.to_xml().as_bytes()).unwrap(), e);
    }

    #[test]
    fn written_as_s3_writes_it() {
        let mut e = S3Error::new(400, S3ErrorCode::InvalidPart, "");
        e.extras.push(("ETag".into(), "\"a&b\"".into()));
        e.request_id = Some("R1".into());
        assert_eq!(
            e.to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidPart</Code>\
             <ETag>\"a&amp;b\"</ETag><RequestId>R1</RequestId></Error>"
        );
        e.message = "the resource's <spec>".into();
        assert!(
            e.to_xml()
                .contains("<Message>the resource's &lt;spec&gt;</Message>")
        );
        assert_eq!(S3Error::parse(400, e.to_xml().as_bytes()).unwrap(), e);
    }

    #[test]
    fn unknown_codes_and_bodyless_answers() {
        assert_eq!(
            S3ErrorCode::parse("NoSuchThing"),
            S3ErrorCode::Other("NoSuchThing".into())
        );
        assert_eq!(S3ErrorCode::parse("NoSuchUpload").http_status(), Some(404));
        assert_eq!(S3ErrorCode::Other("X".into()).http_status(), None);
        let e = S3Error::from_response(403, b"");
        assert_eq!((e.status, e.code.as_str()), (403, ""));
        assert_eq!(e.to_string(), "403 (no error code)");
        let e = S3Error::from_response(502, b"<html>Bad Gateway</html>");
        assert!(e.is_retryable());
        assert!(e.message.contains("Bad Gateway"));
        assert!(S3Error::parse(400, b"<Error><Code>").is_err());
        assert!(matches!(
            S3Error::parse(400, b"<Other/>"),
            Err(XmlError::UnexpectedRoot { .. })
        ));
    }
}
