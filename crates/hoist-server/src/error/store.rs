//! A store failure as the API answers it: the one mapping from [`hoist_s3::Error`] to an
//! [`ApiError`], so that every route answers the same store error the same way.
//!
//! The rule: what the caller can fix (a gone upload, parts that do not fit) is a 4xx; what
//! only the coordinator's operator can fix (bucket, credentials, clock) is a 502 naming the
//! setting; what passes on its own (a busy store) is a 503 with `Retry-After`. A 5xx tells
//! Uppy and hoist's clients to retry, so a dead upload must never get one.

use axum::http::StatusCode;
use hoist_core::error::{S3Error, S3ErrorCode};

use super::ApiError;

/// How long a caller waits when the store asks to slow down or is unavailable.
const STORE_BUSY_RETRY_SECS: u64 = 2;
/// How long a caller waits when the coordinator's credentials could not sign.
const CREDENTIALS_RETRY_SECS: u64 = 5;

impl From<hoist_s3::Error> for ApiError {
    fn from(err: hoist_s3::Error) -> Self {
        use hoist_s3::Error as E;
        match &err {
            E::S3 { operation, error } => from_s3(operation, error),
            E::Transport { detail, .. } => {
                let lower = detail.to_ascii_lowercase();
                if lower.contains("timed out") || lower.contains("timeout") {
                    ApiError::new(
                        StatusCode::GATEWAY_TIMEOUT,
                        "store_timeout",
                        format!("the store did not answer in time: {err}"),
                    )
                } else {
                    ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        "store_unreachable",
                        format!("the store could not be reached: {err}"),
                    )
                }
            }
            E::Sign { .. } | E::Credentials(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "credentials_unavailable",
                format!("the coordinator's store credentials cannot sign now: {err}"),
            )
            .with_retry_after(CREDENTIALS_RETRY_SECS),
            E::Config(_) => setup(format!("{err}")),
            E::Unexpected { .. } => {
                ApiError::bad_gateway(format!("the store answered something S3 does not: {err}"))
            }
            // hoist_s3::Error is non_exhaustive; a new kind is the store's until mapped here.
            _ => ApiError::bad_gateway(format!("the store refused or failed: {err}")),
        }
    }
}

/// The operator's to fix: the coordinator's store settings are wrong for this store.
fn setup(why: String) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "store_setup",
        format!(
            "{why}; check the coordinator's store settings (endpoint, region, bucket, \
             credentials, clock)"
        ),
    )
}

fn from_s3(operation: &str, e: &S3Error) -> ApiError {
    use S3ErrorCode as C;
    let said = format!("{operation}: the store answered {} {}", e.status, e.code);
    let said = if e.message.is_empty() {
        said
    } else {
        format!("{said} ({})", hoist_core::redact::redact_text(&e.message))
    };
    let expired = e.message.to_ascii_lowercase().contains("expired");
    match &e.code {
        C::NoSuchUpload => ApiError::not_found(
            "upload_gone",
            format!("the upload was aborted, completed or has expired: {said}"),
        ),
        C::NoSuchKey => ApiError::not_found(
            "object_gone",
            format!("the object is not in the store: {said}"),
        ),
        C::NoSuchBucket => setup(format!("the coordinator's bucket does not exist: {said}")),
        C::AccessDenied
        | C::AccessForbidden
        | C::AccountProblem
        | C::InvalidAccessKeyId
        | C::SignatureDoesNotMatch
        | C::InvalidToken
        | C::ExpiredToken
        | C::TokenRefreshRequired
        | C::AuthorizationHeaderMalformed
        | C::AuthorizationQueryParametersError => {
            let what = if expired || matches!(e.code, C::ExpiredToken | C::TokenRefreshRequired) {
                "the store refused the coordinator's signature as expired (credentials or clock)"
            } else {
                "the store refused the coordinator's credentials or signature"
            };
            setup(format!("{what}: {said}"))
        }
        C::RequestTimeTooSkewed => setup(format!("the coordinator's clock is off: {said}")),
        C::InvalidRequest if expired => setup(format!("the store judged a URL expired: {said}")),
        C::EntityTooSmall => ApiError::field(
            "parts",
            format!("a part other than the last is below 5 MiB: {said}"),
        ),
        C::InvalidPart => ApiError::conflict(
            "invalid_part",
            format!("a part named is not stored or its ETag differs: {said}"),
        )
        .with_field("parts"),
        C::InvalidPartOrder => ApiError::field(
            "parts",
            format!("parts must be listed in ascending order: {said}"),
        ),
        C::EntityTooLarge => ApiError::field("size", format!("too large for the store: {said}")),
        C::KeyTooLongError => ApiError::field("key", format!("longer than 1024 bytes: {said}")),
        C::BadDigest => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "checksum_mismatch",
            format!("the store found a checksum that does not match: {said}"),
        ),
        C::PreconditionFailed => ApiError::conflict(
            "precondition_failed",
            format!("the object changed meanwhile: {said}"),
        ),
        C::SlowDown | C::ServiceUnavailable => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_busy",
            format!("the store asks to slow down; try again shortly: {said}"),
        )
        .with_retry_after(STORE_BUSY_RETRY_SECS),
        C::RequestTimeout => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "store_timeout",
            format!("the store timed out: {said}"),
        ),
        // The coordinator's own requests carry these right; an answer with one is the
        // store's (or a proxy's) doing, not the caller's.
        C::BucketAlreadyExists
        | C::BucketAlreadyOwnedByYou
        | C::BucketNotEmpty
        | C::IncompleteBody
        | C::InternalError
        | C::InvalidArgument
        | C::InvalidBucketName
        | C::InvalidDigest
        | C::InvalidRange
        | C::InvalidRequest
        | C::MalformedXML
        | C::MethodNotAllowed
        | C::MissingContentLength
        | C::MissingRequestBodyError
        | C::NoSuchCORSConfiguration
        | C::NoSuchLifecycleConfiguration
        | C::NotImplemented
        | C::XAmzContentSHA256Mismatch => ApiError::bad_gateway(said),
        // Codes S3 has not told hoist-core about, judged by their status (S3ErrorCode is
        // non_exhaustive: a code added there lands here until it is given its own answer).
        _ => match e.status {
            503 => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_busy", said)
                .with_retry_after(STORE_BUSY_RETRY_SECS),
            401 | 403 => setup(said),
            _ => ApiError::bad_gateway(said),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoist_s3::Error;

    fn s3(status: u16, code: &str, message: &str) -> ApiError {
        Error::s3(
            "ListParts",
            S3Error::new(status, S3ErrorCode::parse(code), message),
        )
        .into()
    }

    #[test]
    fn each_store_answer_has_its_status_and_code() {
        let cases = [
            (404, "NoSuchUpload", "", 404, "upload_gone"),
            (404, "NoSuchKey", "", 404, "object_gone"),
            (404, "NoSuchBucket", "", 502, "store_setup"),
            (
                403,
                "AccessDenied",
                "Request has expired",
                502,
                "store_setup",
            ),
            (403, "SignatureDoesNotMatch", "", 502, "store_setup"),
            (403, "InvalidAccessKeyId", "", 502, "store_setup"),
            (403, "RequestTimeTooSkewed", "", 502, "store_setup"),
            (400, "EntityTooSmall", "", 400, "invalid_field"),
            (400, "InvalidPart", "", 409, "invalid_part"),
            (400, "InvalidPartOrder", "", 400, "invalid_field"),
            (400, "BadDigest", "", 422, "checksum_mismatch"),
            (503, "SlowDown", "", 503, "store_busy"),
            (503, "Weird", "", 503, "store_busy"),
            (500, "InternalError", "", 502, "store_error"),
            (418, "Teapot", "", 502, "store_error"),
        ];
        for (status, code, message, want_status, want_code) in cases {
            let e = s3(status, code, message);
            assert_eq!(
                (e.status.as_u16(), e.code),
                (want_status, want_code),
                "{code}: {e}"
            );
            assert_eq!(
                e.retry_after.is_some(),
                want_status == 503,
                "{code}: Retry-After on 503 only"
            );
        }
        assert_eq!(
            s3(400, "EntityTooSmall", "").field.as_deref(),
            Some("parts")
        );
        assert!(s3(404, "NoSuchBucket", "").message.contains("bucket"));
    }

    #[test]
    fn transport_failures_are_gateway_errors() {
        let io = std::io::Error::other("connection refused");
        let e: ApiError = Error::transport("ListParts", &io).into();
        assert_eq!((e.status.as_u16(), e.code), (502, "store_unreachable"));
        let io = std::io::Error::other("operation timed out");
        let e: ApiError = Error::transport("ListParts", &io).into();
        assert_eq!((e.status.as_u16(), e.code), (504, "store_timeout"));
    }

    #[test]
    fn messages_shorten_secrets() {
        let e = s3(
            403,
            "AccessDenied",
            "see http://s/b/k?X-Amz-Signature=0123456789abcdef0123456789",
        );
        assert!(!e.message.contains("0123456789abcdef0123"), "{e}");
    }
}
