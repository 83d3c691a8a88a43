//! Presigned requests under a clock-offset fault.
//!
//! s3s checks a presigned URL's lifetime against the machine's clock, which the clock-offset
//! fault does not move. When an offset is in force, the front service therefore verifies the
//! presigned signature itself and hands s3s the same request re-signed in a header with the
//! machine's time, so only the store's own clock decides expiry.

use std::time::SystemTime;

use hmac::{KeyInit as _, Mac as _};
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use s3s::Body;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::auth::KeyRing;
use crate::errors::{ErrorAnswer, MSG_SIGNATURE};
use crate::sigdebug::{
    Explanation, canonical_query, explain_with_path, percent_decode_strict, uri_encode,
};

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SigV4 signature of a string to sign.
pub(crate) fn sign(
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
    string_to_sign: &str,
) -> String {
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date);
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part);
    }
    hex(&hmac(&key, string_to_sign))
}

fn query_value(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (percent_decode_strict(k) == name).then(|| percent_decode_strict(v))
    })
}

/// The path as SigV4 canonicalizes it for S3: decoded once, then encoded once.
fn normalized_path(raw: &str) -> String {
    uri_encode(&percent_decode_strict(raw), true)
}

/// Verifies a presigned request's signature; on success rewrites it as a header-signed
/// request dated `real_now`, which s3s verifies again.
pub(crate) fn resign_presigned(
    req: &mut Request<Body>,
    keys: &KeyRing,
    real_now: SystemTime,
) -> Result<(), ErrorAnswer> {
    let uri = req.uri().clone();
    let credential = query_value(&uri, "X-Amz-Credential").unwrap_or_default();
    let provided = query_value(&uri, "X-Amz-Signature").unwrap_or_default();
    let mut scope = credential.split('/');
    let (access_key, date, region, service) = (
        scope.next().unwrap_or_default().to_owned(),
        scope.next().unwrap_or_default().to_owned(),
        scope.next().unwrap_or_default().to_owned(),
        scope.next().unwrap_or_default().to_owned(),
    );
    let mismatch = |explained: Option<&Explanation>| {
        let mut answer = ErrorAnswer::new(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            MSG_SIGNATURE,
        )
        .extra("AWSAccessKeyId", access_key.clone());
        if let Some(e) = explained {
            answer = answer.extra("StringToSign", e.string_to_sign.clone());
        }
        answer = answer.extra("SignatureProvided", provided.clone());
        if let Some(e) = explained {
            answer = answer.extra("CanonicalRequest", e.canonical_request.clone());
        }
        answer
    };
    let Some(secret) = keys.secret_for(&access_key) else {
        return Err(ErrorAnswer::new(
            StatusCode::FORBIDDEN,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        )
        .extra("AWSAccessKeyId", access_key));
    };
    let method = req.method().clone();
    let candidates = [normalized_path(uri.path()), uri.path().to_owned()];
    let explained: Vec<Explanation> = candidates
        .iter()
        .filter_map(|path| explain_with_path(&method, path, &uri, req.headers()))
        .collect();
    let valid = explained
        .iter()
        .any(|e| sign(&secret, &date, &region, &service, &e.string_to_sign) == provided);
    if !valid {
        return Err(mismatch(explained.first()));
    }

    // Keep the action's own parameters, drop the presigning ones.
    let kept: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| {
            !p.is_empty()
                && !percent_decode_strict(p.split('=').next().unwrap_or("")).starts_with("X-Amz-")
        })
        .collect();
    let path_and_query = if kept.is_empty() {
        uri.path().to_owned()
    } else {
        format!("{}?{}", uri.path(), kept.join("&"))
    };
    let new_uri: Uri = path_and_query.parse().map_err(|_| mismatch(None))?;

    let now = OffsetDateTime::from(real_now);
    let amz_date = now
        .format(&format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_default();
    let day = &amz_date[..8];
    let host = req
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let canonical = format!(
        "{method}\n{}\n{}\nhost:{host}\nx-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:{amz_date}\n\nhost;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD",
        normalized_path(new_uri.path()),
        canonical_query(&new_uri, false),
    );
    let hash = {
        use sha2::Digest as _;
        hex(&sha2::Sha256::digest(canonical.as_bytes()))
    };
    let scope = format!("{day}/{region}/{service}/aws4_request");
    let string_to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hash}");
    let signature = sign(&secret, day, &region, &service, &string_to_sign);
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={signature}"
    );
    *req.uri_mut() = new_uri;
    let headers = req.headers_mut();
    for (name, value) in [
        ("authorization", authorization),
        ("x-amz-date", amz_date.clone()),
    ] {
        headers.insert(
            name,
            HeaderValue::from_str(&value).map_err(|_| mismatch(None))?,
        );
    }
    headers.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static("UNSIGNED-PAYLOAD"),
    );
    Ok(())
}

/// True for a SigV4 presigned request.
pub(crate) fn is_presigned(req: &Request<Body>) -> bool {
    req.method() != Method::OPTIONS && query_value(req.uri(), "X-Amz-Signature").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_documentation_signature() {
        // The presigned GET vector from the AWS documentation.
        let sts = "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04";
        assert_eq!(
            sign(
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "20130524",
                "us-east-1",
                "s3",
                sts
            ),
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn paths_are_encoded_once() {
        assert_eq!(normalized_path("/b/a%20b/%E1%88%B4"), "/b/a%20b/%E1%88%B4");
        assert_eq!(normalized_path("/b/a+b"), "/b/a%2Bb");
    }
}
