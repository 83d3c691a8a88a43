//! A request URI's parts as the store reads them: percent-decoded components and query pairs.
//!
//! These are thin wrappers over `hoist_core::encoding::percent_decode`, which refuses a
//! malformed escape or bytes that are not UTF-8. The store must still answer such a request
//! (with the error its checks give, or a signature mismatch that shows what it read), so a
//! component that does not decode is kept as it was sent instead.

use hoist_core::encoding::percent_decode;
use http::Uri;

/// SigV4's reading: `+` is a literal plus (signers encode a space as `%20`).
pub(crate) fn decode(text: &str) -> String {
    percent_decode(text).unwrap_or_else(|| text.to_owned())
}

/// A form's reading, `+` a space, for the values the store's own checks read (dates,
/// credentials, tokens, the bucket in the path).
pub(crate) fn decode_form(text: &str) -> String {
    percent_decode(&text.replace('+', "%20")).unwrap_or_else(|| text.to_owned())
}

/// The query's `(name, value)` pairs in order, each side read with `decode`; a pair without
/// `=` has an empty value.
pub(crate) fn pairs(uri: &Uri, decode: fn(&str) -> String) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// A name as S3 writes it in a listing asked for with `encoding-type=url`: unreserved
/// characters, `/` and `*` kept, a space as `+`, every other byte of the UTF-8 as `%XX`
/// (the form clients read back with `unquote_plus`).
pub(crate) fn encode_listed(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'*' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The value of the first pair named exactly `name`.
pub(crate) fn value(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_is_a_plus_for_sigv4_and_a_space_for_forms() {
        assert_eq!(decode("a+b%20c"), "a+b c");
        assert_eq!(decode_form("a+b%20c"), "a b c");
        // What does not decode is kept as sent.
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%FF"), "%FF");
        assert_eq!(decode_form("a+%zz"), "a+%zz");
        let uri: Uri = "/b/k?uploadId=u%2B1&flag&X-Amz-Date=20260101T000000Z"
            .parse()
            .unwrap();
        let read = pairs(&uri, decode);
        assert_eq!(value(&read, "uploadId").as_deref(), Some("u+1"));
        assert_eq!(value(&read, "flag").as_deref(), Some(""));
        assert_eq!(value(&read, "missing"), None);
    }

    #[test]
    fn listed_names_are_encoded_as_s3_encodes_them() {
        assert_eq!(encode_listed("a/b c+d"), "a/b+c%2Bd");
        assert_eq!(encode_listed("x~y%z*é\n"), "x%7Ey%25z*%C3%A9%0A");
        assert_eq!(encode_listed("plain-name_1.txt"), "plain-name_1.txt");
    }
}
