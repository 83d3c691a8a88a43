//! S3 control calls as data: a builder per call that returns a presigned [`HttpRequest`] any
//! HTTP client can send, and a parser per answer that returns a struct or a [`ResponseError`].
//!
//! Requests are query-presigned with a short lifetime ([`crate::ttl::TtlPolicy::control`]),
//! capped by the credentials' expiry, so no header besides those listed needs computing.
//!
//! ```
//! use hoist_core::presign::{Credentials, Endpoint, Method, Presigner};
//! use hoist_core::s3::{self, InitiateMultipartUploadResult};
//! use hoist_core::time::Timestamp;
//!
//! let signer = Presigner::new(Credentials::new("AK", "SK"), Endpoint::parse("http://127.0.0.1:9000", "us-east-1").unwrap());
//! let req = s3::create_multipart_upload(&signer, "media", "big.bin", Some("video/mp4"), Timestamp::from_unix(1_700_000_000)).unwrap();
//! assert_eq!(req.method, Method::Post);
//! assert!(req.url.starts_with("http://127.0.0.1:9000/media/big.bin?X-Amz-Algorithm="));
//! assert_eq!(req.headers, [("content-type".to_owned(), "video/mp4".to_owned())]);
//!
//! let answer = b"<InitiateMultipartUploadResult><Bucket>media</Bucket><Key>big.bin</Key>\
//!     <UploadId>u-1</UploadId></InitiateMultipartUploadResult>";
//! let init = InitiateMultipartUploadResult::from_response(200, answer).unwrap();
//! assert_eq!(init.upload_id, "u-1");
//! ```

mod attributes;
mod cors;
mod lifecycle;
mod list;
mod multipart;
mod object;

use std::time::Duration;

use crate::encoding::base64;

use md5::{Digest, Md5};

pub use attributes::{AttributePart, OBJECT_ATTRIBUTES, ObjectAttributes, SentPart, check_parts};
pub use cors::{CorsChange, CorsConfiguration, CorsRule, UPLOAD_REQUEST_HEADERS, origin_matches};
pub use lifecycle::{LifecycleChange, LifecycleConfiguration, LifecycleFilter, LifecycleRule};
pub use list::{ListObjectsV2Result, ObjectInfo};
pub use multipart::{
    CompleteMultipartUploadResult, CompletedPart, InitiateMultipartUploadResult,
    ListMultipartUploadsResult, ListPartsResult, PartInfo, UploadInfo,
    complete_multipart_upload_body, parse_complete_multipart_upload_body,
};
pub use object::{ObjectHead, WriteCondition};

use crate::error::S3Error;
use crate::presign::{
    ListObjectsParams, ListUploadsParams, Method, PresignError, PresignRequest, Presigner,
};
use crate::time::Timestamp;
use crate::ttl::TtlPolicy;
use crate::xml::XmlError;

/// A request ready to send: presigned URL, headers to send exactly, body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The presigned URL.
    pub url: String,
    /// Headers to send (the signed ones included, with these exact values).
    pub headers: Vec<(String, String)>,
    /// The body (empty for most calls).
    pub body: Vec<u8>,
}

/// An answer that is not the success it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// S3 answered with an error (including CompleteMultipartUpload's 200 with an `<Error>` body).
    #[error("S3 error {0}")]
    S3(Box<S3Error>),
    /// A 2xx answer whose body could not be read.
    #[error("unreadable S3 answer: {0}")]
    Xml(#[from] XmlError),
}

impl From<S3Error> for ResponseError {
    fn from(e: S3Error) -> Self {
        ResponseError::S3(Box::new(e))
    }
}

impl ResponseError {
    /// The S3 error, when S3 sent one.
    pub fn s3_error(&self) -> Option<&S3Error> {
        match self {
            ResponseError::S3(e) => Some(e),
            ResponseError::Xml(_) => None,
        }
    }
}

/// `Ok(())` for a 2xx status, else the error the body describes.
pub fn check_status(status: u16, body: &[u8]) -> Result<(), ResponseError> {
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(S3Error::from_response(status, body).into())
    }
}

/// Signs `req` with the control-call lifetime and attaches `body`.
pub fn build(
    presigner: &Presigner,
    req: PresignRequest<'_>,
    body: Vec<u8>,
    now: Timestamp,
) -> Result<HttpRequest, PresignError> {
    let mut ttl = TtlPolicy::default().control;
    if let Some(exp) = presigner.credentials().expires_at {
        // Sent at once, so any remaining second will do; past expiry `presign` says so.
        let left = exp.seconds_since(now.trunc_seconds());
        ttl = ttl.min(Duration::from_secs(left.max(1) as u64));
    }
    let signed = presigner.presign(&req.expires_in(ttl), now)?;
    Ok(HttpRequest {
        method: signed.method,
        url: signed.url,
        headers: signed.headers,
        body,
    })
}

/// `Content-MD5` of a body: base64 of its MD5.
pub fn content_md5(body: &[u8]) -> String {
    base64(&Md5::digest(body))
}

/// CreateMultipartUpload, optionally pinning the object's content type.
pub fn create_multipart_upload(
    p: &Presigner,
    bucket: &str,
    key: &str,
    content_type: Option<&str>,
    now: Timestamp,
) -> Result<HttpRequest, PresignError> {
    let mut req = PresignRequest::create_multipart_upload(bucket, key);
    if let Some(ct) = content_type {
        req = req.content_type(ct);
    }
    build(p, req, Vec::new(), now)
}

/// CompleteMultipartUpload with `parts` (sorted by part number here, as S3 requires).
pub fn complete_multipart_upload(
    p: &Presigner,
    bucket: &str,
    key: &str,
    upload_id: &str,
    parts: &[CompletedPart],
    now: Timestamp,
) -> Result<HttpRequest, PresignError> {
    let body = complete_multipart_upload_body(parts).into_bytes();
    build(
        p,
        PresignRequest::complete_multipart_upload(bucket, key, upload_id)
            .content_type("application/xml"),
        body,
        now,
    )
}

/// AbortMultipartUpload (success is 204).
pub fn abort_multipart_upload(
    p: &Presigner,
    bucket: &str,
    key: &str,
    upload_id: &str,
    now: Timestamp,
) -> Result<HttpRequest, PresignError> {
    build(
        p,
        PresignRequest::abort_multipart_upload(bucket, key, upload_id),
        Vec::new(),
        now,
    )
}

/// ListParts, one page: after `part_number_marker`, at most `max_parts` (S3 caps pages at 1,000).
pub fn list_parts(
    p: &Presigner,
    bucket: &str,
    key: &str,
    upload_id: &str,
    part_number_marker: Option<u32>,
    max_parts: Option<u32>,
    now: Timestamp,
) -> Result<HttpRequest, PresignError> {
    build(
        p,
        PresignRequest::list_parts(bucket, key, upload_id, part_number_marker, max_parts),
        Vec::new(),
        now,
    )
}

/// ListMultipartUploads, one page.
pub fn list_multipart_uploads(
    p: &Presigner,
    bucket: &str,
    params: &ListUploadsParams,
    now: Timestamp,
) -> Result<HttpRequest, PresignError> {
    build(
        p,
        PresignRequest::list_multipart_uploads(bucket, params),
        Vec::new(),
        now,
    )
}

/// GetBucketCors (404 NoSuchCORSConfiguration when there is none).
pub fn get_bucket_cors(
    p: &Presigner,
    bucket: &str,
    now: Timestamp,
) -> Result<HttpRequest, PresignError> {
    build(p, PresignRequest::get_bucket_cors(bucket), Vec::new(), now)
}

/// PutBucketCors with `config` as the body and its Content-MD5, which S3 requires.
pub fn put_bucket_cors(
    p: &Presigner,
    bucket: &str,
    config: &CorsConfiguration,
    now: Timestamp,
) -> Result<HttpRequest, PresignError> {
    let body = config.to_xml().into_bytes();
    let req = PresignRequest::put_bucket_cors(bucket)
        .header("content-md5", content_md5(&body))
        .content_type("application/xml");
    build(p, req, body, now)
}

/// GetBucketLifecycleConfiguration (404 NoSuchLifecycleConfiguration when there is none).
pub fn get_bucket_lifecycle(
    p: &Presigner,
    bucket: &str,
    now: Timestamp,
) -> Result<HttpRequest, PresignError> {
    build(
        p,
        PresignRequest::get_bucket_lifecycle(bucket),
        Vec::new(),
        now,
    )
}

/// PutBucketLifecycleConfiguration with `config` as the body and its Content-MD5.
pub fn put_bucket_lifecycle(
    p: &Presigner,
    bucket: &str,
    config: &LifecycleConfiguration,
    now: Timestamp,
) -> Result<HttpRequest, PresignError> {
    let body = config.to_xml().into_bytes();
    let req = PresignRequest::put_bucket_lifecycle(bucket)
        .header("content-md5", content_md5(&body))
        .content_type("application/xml");
    build(p, req, body, now)
}

/// ListObjectsV2, one page.
pub fn list_objects_v2(
    p: &Presigner,
    bucket: &str,
    params: &ListObjectsParams,
    now: Timestamp,
) -> Result<HttpRequest, PresignError> {
    build(
        p,
        PresignRequest::list_objects_v2(bucket, params),
        Vec::new(),
        now,
    )
}

/// HeadBucket (200 when it exists and is reachable with these credentials).
pub fn head_bucket(
    p: &Presigner,
    bucket: &str,
    now: Timestamp,
) -> Result<HttpRequest, PresignError> {
    build(p, PresignRequest::head_bucket(bucket), Vec::new(), now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presign::{Credentials, Endpoint};

    fn signer() -> Presigner {
        Presigner::new(
            Credentials::new("AK", "SK"),
            Endpoint::parse("http://localhost:9000", "us-east-1").unwrap(),
        )
    }

    const NOW: Timestamp = Timestamp::from_unix(1_700_000_000);

    #[test]
    fn content_md5_is_base64_of_the_md5() {
        assert_eq!(content_md5(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }

    #[test]
    fn control_calls_have_the_right_shape() {
        let p = signer();
        let r = list_parts(&p, "b", "k", "u", Some(1000), Some(500), NOW).unwrap();
        assert_eq!(r.method, Method::Get);
        assert!(
            r.url
                .contains("&max-parts=500&part-number-marker=1000&uploadId=u&X-Amz-Signature="),
            "{}",
            r.url
        );
        assert!(r.url.contains("X-Amz-Expires=300&"));
        let params = ListUploadsParams {
            key_marker: Some("a b".into()),
            upload_id_marker: Some("x".into()),
            ..Default::default()
        };
        let r = list_multipart_uploads(&p, "b", &params, NOW).unwrap();
        assert!(r.url.starts_with("http://localhost:9000/b?"));
        assert!(
            r.url
                .contains("&key-marker=a%20b&upload-id-marker=x&uploads=&X-Amz-Signature="),
            "{}",
            r.url
        );
        let r = abort_multipart_upload(&p, "b", "k", "u", NOW).unwrap();
        assert_eq!(r.method, Method::Delete);
        let r = head_bucket(&p, "b", NOW).unwrap();
        assert_eq!(
            (r.method, r.url.split('?').next().unwrap()),
            (Method::Head, "http://localhost:9000/b")
        );
        let r = list_objects_v2(
            &p,
            "b",
            &ListObjectsParams {
                prefix: Some("p/".into()),
                ..Default::default()
            },
            NOW,
        )
        .unwrap();
        assert!(
            r.url.contains("&list-type=2&prefix=p%2F&X-Amz-Signature="),
            "{}",
            r.url
        );
    }

    #[test]
    fn bodies_carry_content_md5() {
        let p = signer();
        let cors = CorsConfiguration {
            rules: vec![CorsRule::default()],
        };
        let r = put_bucket_cors(&p, "b", &cors, NOW).unwrap();
        let md5 = r.headers.iter().find(|(n, _)| n == "content-md5").unwrap();
        assert_eq!(md5.1, content_md5(&r.body));
        assert!(r.url.contains("content-md5%3Bcontent-type%3Bhost"));
        let parts = [
            CompletedPart::new(2, "\"b\""),
            CompletedPart::new(1, "\"a\""),
        ];
        let r = complete_multipart_upload(&p, "b", "k", "u", &parts, NOW).unwrap();
        let body = String::from_utf8(r.body).unwrap();
        assert!(body.find("<PartNumber>1<").unwrap() < body.find("<PartNumber>2<").unwrap());
    }

    #[test]
    fn control_ttl_follows_credentials() {
        let creds = Credentials::new("AK", "SK").with_expiry(NOW.plus(Duration::from_secs(42)));
        let p = Presigner::new(creds, Endpoint::aws("us-east-1"));
        let r = head_bucket(&p, "b", NOW).unwrap();
        assert!(r.url.contains("X-Amz-Expires=42&"));
        assert!(matches!(
            head_bucket(&p, "b", NOW.plus(Duration::from_secs(42))),
            Err(PresignError::CredentialsExpired { .. })
        ));
    }

    #[test]
    fn status_check() {
        assert!(check_status(204, b"").is_ok());
        let err = check_status(
            404,
            b"<Error><Code>NoSuchUpload</Code><Message>m</Message><UploadId>u</UploadId></Error>",
        )
        .unwrap_err();
        let ResponseError::S3(e) = err else {
            panic!("{err:?}")
        };
        assert_eq!(e.extra("UploadId"), Some("u"));
    }
}
