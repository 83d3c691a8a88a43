//! A Signature Version 2 header, only to ask an endpoint whether it still takes them.
//!
//! hoist never signs uploads with SigV2 (Amazon S3 refuses it in every region opened since
//! 2014 and deprecated it everywhere); the doctor sends one SigV2-signed HeadBucket so it can
//! tell whether old SigV2 code would still work against this endpoint.

use hmac::{Hmac, KeyInit, Mac};
use hoist_core::encoding::base64;
use sha1::Sha1;

/// The `Authorization` value for a SigV2 request with no body, no content type and no
/// `x-amz-*` headers: `AWS key:base64(HMAC-SHA1(secret, StringToSign))`.
///
/// `resource` is the canonical resource: `/bucket/` for the bucket, `/bucket/key` for an
/// object; `date` is the `Date` header sent with the request.
///
/// ```
/// // The AWS documentation's GET example (Signing and Authenticating REST Requests).
/// let auth = hoist_doctor::live::sigv2::authorization(
///     "AKIAIOSFODNN7EXAMPLE",
///     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
///     "GET",
///     "Tue, 27 Mar 2007 19:36:42 +0000",
///     "/awsexamplebucket1/photos/puppy.jpg",
/// );
/// assert_eq!(auth, "AWS AKIAIOSFODNN7EXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=");
/// ```
pub fn authorization(
    access_key: &str,
    secret_key: &str,
    method: &str,
    date: &str,
    resource: &str,
) -> String {
    let string_to_sign = format!("{method}\n\n\n{date}\n{resource}");
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(secret_key.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(string_to_sign.as_bytes());
    let signature = base64(&mac.finalize().into_bytes());
    format!("AWS {access_key}:{signature}")
}
