//! The `CanonicalRequest` and `StringToSign` S3 reports in a `SignatureDoesNotMatch` answer,
//! rebuilt from the request so a client can diff them against its own.
//!
//! s3s verifies the signature; this module only explains a mismatch, so it follows the
//! SigV4 rules for S3 (path encoded once, never normalised) without verifying anything.

use hoist_core::encoding::uri_encode;
use hoist_core::presign::{UNSIGNED_PAYLOAD, string_to_sign};
use http::{HeaderMap, Method, Uri};

use crate::query;

/// What S3 echoes back for a bad signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Explanation {
    pub canonical_request: String,
    pub string_to_sign: String,
}

/// The canonical query: every pair decoded then encoded once, sorted; without
/// `X-Amz-Signature` for a presigned request.
pub(crate) fn canonical_query(uri: &Uri, skip_signature: bool) -> String {
    let mut pairs: Vec<(String, String)> = query::pairs(uri, query::decode)
        .into_iter()
        .map(|(k, v)| (uri_encode(&k), uri_encode(&v)))
        .filter(|(k, _)| !(skip_signature && k == "X-Amz-Signature"))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn canonical_header_value(headers: &HeaderMap, name: &str) -> String {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(",")
}

/// Rebuilds the canonical request and string to sign of a SigV4 request (header or query
/// signed); None when the request does not carry enough of SigV4 to say.
pub(crate) fn explain(method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<Explanation> {
    explain_with_path(method, uri.path(), uri, headers)
}

/// [`explain`] with the canonical URI given (the path as signed, which may be the request's
/// path re-encoded).
pub(crate) fn explain_with_path(
    method: &Method,
    path: &str,
    uri: &Uri,
    headers: &HeaderMap,
) -> Option<Explanation> {
    let query = query::pairs(uri, query::decode);
    let from_query = |name: &str| query::value(&query, name);
    let presigned = from_query("X-Amz-Signature").is_some();
    let (credential, signed_headers, amz_date, payload) = if presigned {
        (
            from_query("X-Amz-Credential")?,
            from_query("X-Amz-SignedHeaders")?,
            from_query("X-Amz-Date")?,
            from_query("X-Amz-Content-Sha256").unwrap_or_else(|| UNSIGNED_PAYLOAD.to_owned()),
        )
    } else {
        let authorization = headers.get("authorization")?.to_str().ok()?;
        let field = |name: &str| {
            authorization
                .split([',', ' '])
                .find_map(|p| p.trim().strip_prefix(name))
                .map(str::to_owned)
        };
        let date = headers
            .get("x-amz-date")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)?;
        let payload = headers
            .get("x-amz-content-sha256")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(UNSIGNED_PAYLOAD);
        (
            field("Credential=")?,
            field("SignedHeaders=")?,
            date,
            payload.to_owned(),
        )
    };
    let mut names: Vec<&str> = signed_headers
        .split(';')
        .filter(|n| !n.is_empty())
        .collect();
    names.sort_unstable();
    let canonical_headers: String = names
        .iter()
        .map(|name| format!("{name}:{}\n", canonical_header_value(headers, name)))
        .collect();
    let canonical_request = format!(
        "{method}\n{path}\n{}\n{canonical_headers}\n{}\n{payload}",
        canonical_query(uri, presigned),
        names.join(";"),
    );
    let scope = credential
        .split_once('/')
        .map(|(_, scope)| scope.to_owned())?;
    let string_to_sign = string_to_sign(&amz_date, &scope, &canonical_request);
    Some(Explanation {
        canonical_request,
        string_to_sign,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoist_core::presign::{signature, signing_key};

    /// The AWS documentation's presigned GET example: the explanation must be the string
    /// that, signed with the documented key, gives the documented signature.
    #[test]
    fn matches_the_aws_presigned_vector() {
        let uri: Uri = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("host", "examplebucket.s3.amazonaws.com".parse().unwrap());
        let explained = explain(&Method::GET, &uri, &headers).unwrap();
        assert!(explained.canonical_request.starts_with("GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"));
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "20130524",
            "us-east-1",
            "s3",
        );
        assert_eq!(
            signature(&key, &explained.string_to_sign),
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn the_query_is_decoded_then_encoded_once() {
        let uri: Uri = "/b/k?b=a+b&a=%7E%20x&X-Amz-Signature=s".parse().unwrap();
        assert_eq!(canonical_query(&uri, true), "a=~%20x&b=a%2Bb");
        assert_eq!(
            canonical_query(&uri, false),
            "X-Amz-Signature=s&a=~%20x&b=a%2Bb"
        );
    }
}
