//! The `CanonicalRequest` and `StringToSign` S3 reports in a `SignatureDoesNotMatch` answer,
//! rebuilt from the request so a client can diff them against its own.
//!
//! s3s verifies the signature; this module only explains a mismatch, so it follows the
//! SigV4 rules for S3 (path encoded once, never normalised) without verifying anything.

use http::{HeaderMap, Method, Uri};
use sha2::Digest as _;

use crate::auth::percent_decode;

/// What S3 echoes back for a bad signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Explanation {
    pub canonical_request: String,
    pub string_to_sign: String,
}

/// SigV4 URI encoding: unreserved characters stay, every other byte is `%XX` (uppercase).
pub(crate) fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && byte == b'/');
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub(crate) fn canonical_query(uri: &Uri, skip_signature: bool) -> String {
    let mut pairs: Vec<(String, String)> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                uri_encode(&percent_decode_strict(k), false),
                uri_encode(&percent_decode_strict(v), false),
            )
        })
        .filter(|(k, _)| !(skip_signature && k == "X-Amz-Signature"))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Query decoding where `+` is a literal plus (SigV4 signers encode spaces as `%20`).
pub(crate) fn percent_decode_strict(text: &str) -> String {
    percent_decode(&text.replace('+', "%2B"))
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
    let query: Vec<(String, String)> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|p| {
            p.split_once('=')
                .map(|(k, v)| (percent_decode_strict(k), percent_decode_strict(v)))
        })
        .collect();
    let from_query = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let presigned = from_query("X-Amz-Signature").is_some();
    let (credential, signed_headers, amz_date, payload) = if presigned {
        (
            from_query("X-Amz-Credential")?,
            from_query("X-Amz-SignedHeaders")?,
            from_query("X-Amz-Date")?,
            from_query("X-Amz-Content-Sha256").unwrap_or_else(|| "UNSIGNED-PAYLOAD".to_owned()),
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
            .unwrap_or("UNSIGNED-PAYLOAD");
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
    let hash: String = sha2::Sha256::digest(canonical_request.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let string_to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hash}");
    Some(Explanation {
        canonical_request,
        string_to_sign,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{KeyInit as _, Mac as _};

    fn hmac(key: &[u8], data: &str) -> Vec<u8> {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The AWS documentation's presigned GET example: the explanation must be the string
    /// that, signed with the documented key, gives the documented signature.
    #[test]
    fn matches_the_aws_presigned_vector() {
        let uri: Uri = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("host", "examplebucket.s3.amazonaws.com".parse().unwrap());
        let explained = explain(&Method::GET, &uri, &headers).unwrap();
        assert!(explained.canonical_request.starts_with("GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"));
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let mut key = hmac(format!("AWS4{secret}").as_bytes(), "20130524");
        for part in ["us-east-1", "s3", "aws4_request"] {
            key = hmac(&key, part);
        }
        let signature: String = hmac(&key, &explained.string_to_sign)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            signature,
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn encodes_like_sigv4() {
        assert_eq!(uri_encode("a b/ሴ~", true), "a%20b/%E1%88%B4~");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
    }
}
