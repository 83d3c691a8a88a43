//! Secrets never reach a message whole: signatures, credentials, session tokens, grants and
//! upload tokens are shortened to a prefix that identifies them without granting anything.
//! Every message and log line is passed through [`redact_text`] where it becomes text; the
//! URL `hoist presign` prints as its product is the one exception.
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

/// Where a secret's value starts, and what ends it.
struct Marker {
    /// Lower-case text just before the value.
    text: &'static str,
    /// Whether `/` ends the value (a path segment) or belongs to it (a header's base64).
    path: bool,
}

/// Every marker after which a message may quote a secret: presigned URLs' query parameters,
/// the same names as headers, SigV4 `Authorization` fields, bearer tokens, and the
/// coordinator's upload tokens in its routes' paths, and webhook secrets (`whsec_…`).
const MARKERS: [Marker; 10] = [
    Marker {
        text: "x-amz-signature=",
        path: false,
    },
    Marker {
        text: "x-amz-credential=",
        path: false,
    },
    Marker {
        text: "x-amz-security-token=",
        path: false,
    },
    Marker {
        text: "x-amz-security-token:",
        path: false,
    },
    Marker {
        text: "signature=",
        path: false,
    },
    Marker {
        text: "credential=",
        path: false,
    },
    Marker {
        text: "bearer ",
        path: false,
    },
    Marker {
        text: "/v1/uploads/",
        path: true,
    },
    Marker {
        text: "/s3/multipart/",
        path: true,
    },
    Marker {
        text: "whsec_",
        path: false,
    },
];

/// Runs of token characters at least this long are opaque credentials (SigV4 signatures are
/// 64 hex digits, upload tokens longer): no identifier a message needs is that long.
const LONG_TOKEN: usize = 64;

/// `text` with every secret shortened: presigned URLs' granting parameters, SigV4
/// `Authorization` signatures and credentials, session tokens, `Bearer` credentials, upload
/// tokens in the coordinator's paths, JWTs, and any other run of 64 or more token characters.
/// For messages and log lines that quote what a server said or what a client sent.
pub fn redact_text(text: &str) -> String {
    redact_tokens(&redact_markers(text))
}

fn redact_markers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((marker_end, path)) = find_marker(rest) {
        // A header's value may follow its colon after spaces.
        let value_start = marker_end + rest[marker_end..].len()
            - rest[marker_end..].trim_start_matches([' ', '\t']).len();
        let (head, tail) = rest.split_at(value_start);
        out.push_str(head);
        let end = tail
            .find(|c: char| {
                c.is_whitespace()
                    || matches!(c, '&' | '"' | '\'' | '<' | '>' | ',' | ';' | ')')
                    || (path && matches!(c, '/' | '?' | '#'))
            })
            .unwrap_or(tail.len());
        let value = &tail[..end];
        // A route template's capture (`/v1/uploads/{id}` in a request's log line) is no token.
        if path && value.starts_with('{') && value.ends_with('}') {
            out.push_str(value);
        } else {
            out.push_str(&shorten(value));
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// The earliest marker's value start in `text`, and whether the value is a path segment.
fn find_marker(text: &str) -> Option<(usize, bool)> {
    let lower = text.to_ascii_lowercase();
    MARKERS
        .iter()
        .filter_map(|m| lower.find(m.text).map(|i| (i + m.text.len(), m.path)))
        .min_by_key(|(start, _)| *start)
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_')
}

/// Shortens JWTs (`eyJ…`, dots included) and long runs of token characters.
fn redact_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(is_token_char) {
        let (head, tail) = rest.split_at(start);
        out.push_str(head);
        let jwt = tail.starts_with("eyJ");
        let end = tail
            .find(|c: char| !(is_token_char(c) || (jwt && c == '.')))
            .unwrap_or(tail.len());
        let word = &tail[..end];
        if (jwt && word.matches('.').count() >= 2) || word.chars().count() >= LONG_TOKEN {
            out.push_str(&shorten(word));
        } else {
            out.push_str(word);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_secrets_are_shortened() {
        let said = redact_text("hook secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw refused");
        assert_eq!(said, "hook secret whsec_MfKQ9r… refused");
    }

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

    #[test]
    fn authorization_headers_session_tokens_and_paths() {
        let sig = "f0".repeat(32);
        let text = format!(
            "authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/s3/aws4_request, \
             SignedHeaders=host, Signature={sig}\nx-amz-security-token: FwoGZXIv/YXdz+EJr==\n\
             POST http://c/v1/uploads/AQAAAAAAAbcdefgh/parts failed; /s3/multipart/AQAAAAZZZZZZZ?key=k"
        );
        let r = redact_text(&text);
        for secret in [&sig[..], "DEXAMPLE", "YXdz", "bcdefgh", "ZZZZZZ"] {
            assert!(!r.contains(secret), "{secret} in {r}");
        }
        assert!(r.contains("Credential=AKIDEX…"), "{r}");
        assert!(r.contains("/v1/uploads/AQAAAA…/parts"), "{r}");
        assert!(r.contains("/s3/multipart/AQAAAA…?key=k"), "{r}");
        let routes = "route=/v1/uploads/{id}/parts route=/s3/multipart/{uploadId}/{partNumber}";
        assert_eq!(redact_text(routes), routes);
        assert!(r.contains("SignedHeaders=host"), "{r}");
    }

    #[test]
    fn jwts_and_long_tokens_wherever_they_are() {
        let token = "A".repeat(40) + &"b-_9".repeat(10);
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl";
        let text = format!("the upload id {token} was refused; grant {jwt}: expired");
        let r = redact_text(&text);
        assert_eq!(
            r,
            "the upload id AAAAAA… was refused; grant eyJhbG…: expired"
        );
        // Identifiers a message needs stay whole: keys, S3 upload ids, hashes shorter than 64.
        let plain = "key users/4/photo.jpg upload 0123456789abcdef0123456789abcdef, eyJ alone";
        assert_eq!(redact_text(plain), plain);
    }
}
