//! Secrets never reach a message whole: signatures, credentials, session tokens, grants and
//! upload tokens are shortened to a prefix that identifies them without granting anything.
//!
//! ```
//! use hoist_core::redact::{redact_url, shorten};
//!
//! assert_eq!(shorten("AKIAIOSFODNN7EXAMPLE"), "AKIAIO…");
//! let url = "http://s3/b/k?X-Amz-Credential=AKIDEXAMPLE%2F20260101&X-Amz-Signature=abcdef0123456789";
//! assert_eq!(redact_url(url), "http://s3/b/k?X-Amz-Credential=AKIDEX…&X-Amz-Signature=abcdef…");
//! ```

/// How many characters of a secret a message may show.
pub const SHOWN: usize = 6;

/// The first [`SHOWN`] characters of `secret` and an ellipsis; short values are hidden whole.
pub fn shorten(secret: &str) -> String {
    match secret.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}…", &secret[..end]),
        None if secret.is_empty() => String::new(),
        None => "…".to_owned(),
    }
}

/// Query parameters of a presigned URL that grant access.
const SECRET_PARAMS: [&str; 3] = [
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
];

/// `url` with every granting query parameter shortened (presigned S3 URLs are bearer
/// credentials until they expire).
pub fn redact_url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(k)) => {
                format!("{k}={}", shorten(v))
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", pairs.join("&"))
}

/// `text` with every presigned URL's granting parameters and every `Bearer` credential
/// shortened, for messages that quote what a server said or what a client sent.
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = find_secret_start(rest) {
        let (head, tail) = rest.split_at(at.value_start);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '&' | '"' | '\'' | '<' | ',' | ';'))
            .unwrap_or(tail.len());
        out.push_str(&shorten(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

struct SecretAt {
    value_start: usize,
}

fn find_secret_start(text: &str) -> Option<SecretAt> {
    let lower = text.to_ascii_lowercase();
    let mut best: Option<usize> = None;
    for marker in SECRET_PARAMS
        .iter()
        .map(|p| format!("{p}="))
        .chain(["bearer ".to_owned()])
    {
        if let Some(i) = lower.find(&marker) {
            let start = i + marker.len();
            best = Some(best.map_or(start, |b| b.min(start)));
        }
    }
    best.map(|value_start| SecretAt { value_start })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_hidden_whole() {
        assert_eq!(shorten(""), "");
        assert_eq!(shorten("abc"), "…");
        assert_eq!(shorten("abcdef"), "…");
        assert_eq!(shorten("abcdefg"), "abcdef…");
        assert_eq!(shorten("ሴሴሴሴሴሴሴ"), "ሴሴሴሴሴሴ…");
    }

    #[test]
    fn urls_keep_everything_but_the_grant() {
        let url = "https://h/b/k?partNumber=3&uploadId=u&X-Amz-Security-Token=FwoGZXIvYXdzEJr&x-amz-signature=0123456789abcdef";
        let r = redact_url(url);
        assert_eq!(
            r,
            "https://h/b/k?partNumber=3&uploadId=u&X-Amz-Security-Token=FwoGZX…&x-amz-signature=012345…"
        );
        assert_eq!(redact_url("https://h/b/k"), "https://h/b/k");
    }

    #[test]
    fn text_with_urls_and_bearer_tokens() {
        let text = "PUT http://s/b/k?X-Amz-Signature=feedfacecafebeef0011 failed; \
                    sent Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig\n";
        let r = redact_text(text);
        assert!(!r.contains("cafebeef"), "{r}");
        assert!(!r.contains("payload"), "{r}");
        assert!(r.contains("X-Amz-Signature=feedfa…"), "{r}");
        assert!(r.contains("Bearer eyJhbG…"), "{r}");
        assert!(r.ends_with('\n'));
    }
}
