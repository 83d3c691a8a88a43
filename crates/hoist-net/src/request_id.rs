//! The `x-request-id` both servers accept, answer and log, so that one request can be
//! followed from the coordinator's log line to the store's.

use http::HeaderMap;

/// The header's name.
pub const HEADER: &str = "x-request-id";

/// The longest id accepted from a caller.
pub const MAX_LEN: usize = 128;

/// The caller's `x-request-id` if it is sane: 1 to [`MAX_LEN`] printable ASCII characters
/// without spaces. Anything else is ignored, and the server makes its own.
pub fn from_caller(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(HEADER)?.to_str().ok()?;
    is_sane(value).then(|| value.to_owned())
}

/// Whether `id` may be taken as a request id (and written into logs and answers as it is).
pub fn is_sane(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_only() {
        assert!(is_sane("0123ABCD-req.1:x"));
        assert!(is_sane(&"a".repeat(MAX_LEN)));
        assert!(!is_sane(&"a".repeat(MAX_LEN + 1)));
        assert!(!is_sane(""));
        assert!(!is_sane("two words"));
        assert!(!is_sane("tab\there"));
        assert!(!is_sane("é"));
    }

    #[test]
    fn from_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(from_caller(&headers), None);
        headers.insert(HEADER, "abc-123".parse().unwrap());
        assert_eq!(from_caller(&headers).as_deref(), Some("abc-123"));
        headers.insert(HEADER, "x".repeat(200).parse().unwrap());
        assert_eq!(from_caller(&headers), None);
    }
}
