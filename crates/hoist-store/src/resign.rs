//! Presigned requests under a clock-offset fault.
//!
//! s3s checks a presigned URL's lifetime against the machine's clock, which the clock-offset
//! fault does not move. When an offset is in force, the front service therefore verifies the
//! presigned signature itself and hands s3s the same request re-signed in a header with the
//! machine's time, so only the store's own clock decides expiry.

use hoist_core::encoding::uri_encode_path;
use hoist_core::presign::{ALGORITHM, UNSIGNED_PAYLOAD, signature, signing_key, string_to_sign};
use hoist_core::time::Timestamp;
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use s3s::Body;

use crate::auth::KeyRing;
use crate::errors::{ErrorAnswer, MSG_SIGNATURE};
use crate::query;
use crate::sigdebug::{Explanation, canonical_query, explain_with_path};

/// Who signs, and for which scope.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signer<'a> {
    pub access_key: &'a str,
    pub secret: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

/// The headers that sign `method uri` in the header form at `now`: `host`,
/// `x-amz-content-sha256: UNSIGNED-PAYLOAD` and `x-amz-date` signed by `signer`. The store
/// sends such requests to s3s itself (a presigned request re-signed, a POST form's file), so
/// `now` is the machine's time, which s3s checks.
pub(crate) fn header_signature(
    method: &Method,
    uri: &Uri,
    host: &str,
    signer: Signer<'_>,
    now: Timestamp,
) -> [(&'static str, String); 3] {
    let amz_date = now.to_amz_date();
    let day = &amz_date[..8];
    let canonical = format!(
        "{method}\n{}\n{}\nhost:{host}\nx-amz-content-sha256:{UNSIGNED_PAYLOAD}\nx-amz-date:{amz_date}\n\nhost;x-amz-content-sha256;x-amz-date\n{UNSIGNED_PAYLOAD}",
        normalized_path(uri.path()),
        canonical_query(uri, false),
    );
    let scope = format!("{day}/{}/{}/aws4_request", signer.region, signer.service);
    let key = signing_key(signer.secret, day, signer.region, signer.service);
    let signature = signature(&key, &string_to_sign(&amz_date, &scope, &canonical));
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={signature}",
        signer.access_key
    );
    [
        ("authorization", authorization),
        ("x-amz-date", amz_date),
        ("x-amz-content-sha256", UNSIGNED_PAYLOAD.to_owned()),
    ]
}

fn query_value(uri: &Uri, name: &str) -> Option<String> {
    query::value(&query::pairs(uri, query::decode), name)
}

/// The path as SigV4 canonicalizes it for S3: decoded once, then encoded once.
fn normalized_path(raw: &str) -> String {
    uri_encode_path(&query::decode(raw))
}

/// Verifies a presigned request's signature; on success rewrites it as a header-signed
/// request dated `real_now`, which s3s verifies again.
pub(crate) fn resign_presigned(
    req: &mut Request<Body>,
    keys: &KeyRing,
    real_now: Timestamp,
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
    let key = signing_key(&secret, &date, &region, &service);
    let valid = explained
        .iter()
        .any(|e| signature(&key, &e.string_to_sign) == provided);
    if !valid {
        return Err(mismatch(explained.first()));
    }

    // Keep the action's own parameters, drop the presigning ones.
    let kept: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| {
            !p.is_empty() && !query::decode(p.split('=').next().unwrap_or("")).starts_with("X-Amz-")
        })
        .collect();
    let path_and_query = if kept.is_empty() {
        uri.path().to_owned()
    } else {
        format!("{}?{}", uri.path(), kept.join("&"))
    };
    let new_uri: Uri = path_and_query.parse().map_err(|_| mismatch(None))?;

    let host = req
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let signer = Signer {
        access_key: &access_key,
        secret: &secret,
        region: &region,
        service: &service,
    };
    let signed = header_signature(&method, &new_uri, &host, signer, real_now);
    *req.uri_mut() = new_uri;
    for (name, value) in signed {
        let value = HeaderValue::from_str(&value).map_err(|_| mismatch(None))?;
        req.headers_mut().insert(name, value);
    }
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
    fn header_signature_is_what_sigdebug_explains() {
        let uri: Uri = "/b/a%20b?uploadId=u".parse().unwrap();
        let signer = Signer {
            access_key: "AKID",
            secret: "secret",
            region: "us-east-1",
            service: "s3",
        };
        let now = Timestamp::parse_amz_date("20260101T000000Z").unwrap();
        let signed = header_signature(&Method::PUT, &uri, "h:1", signer, now);
        let mut headers = http::HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("h:1"));
        for (name, value) in &signed {
            headers.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        let explained = crate::sigdebug::explain(&Method::PUT, &uri, &headers).unwrap();
        let key = signing_key("secret", "20260101", "us-east-1", "s3");
        assert!(
            signed[0]
                .1
                .ends_with(&signature(&key, &explained.string_to_sign))
        );
        assert_eq!(signed[1].1, "20260101T000000Z");
    }

    #[test]
    fn paths_are_encoded_once() {
        assert_eq!(normalized_path("/b/a%20b/%E1%88%B4"), "/b/a%20b/%E1%88%B4");
        assert_eq!(normalized_path("/b/a+b"), "/b/a%2Bb");
    }
}
