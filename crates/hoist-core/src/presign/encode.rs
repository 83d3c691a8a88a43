//! SigV4's URI encoding and lowercase hex, written straight into a `String`.

/// Bytes SigV4 leaves as they are: `A-Z a-z 0-9 - . _ ~`.
const fn unreserved_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_' || c == b'~';
        i += 1;
    }
    t
}

static UNRESERVED: [bool; 256] = unreserved_table();
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` URI-encoded: unreserved bytes kept, every other UTF-8 byte as `%XX` (uppercase),
/// space as `%20`. With `keep_slash`, `/` is kept (object keys in paths).
pub(crate) fn uri_encode_into(out: &mut String, s: &str, keep_slash: bool) {
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if UNRESERVED[b as usize] || (keep_slash && b == b'/') {
            continue;
        }
        // A non-empty run holds only kept ASCII bytes, so its ends are char boundaries.
        if run < i {
            out.push_str(&s[run..i]);
        }
        out.push('%');
        out.push(HEX_UPPER[(b >> 4) as usize] as char);
        out.push(HEX_UPPER[(b & 15) as usize] as char);
        run = i + 1;
    }
    if run < bytes.len() {
        out.push_str(&s[run..]);
    }
}

/// Orders two strings as their URI encodings would order, without encoding them.
pub(crate) fn cmp_encoded(a: &str, b: &str) -> std::cmp::Ordering {
    fn encoded(s: &str) -> impl Iterator<Item = u8> + '_ {
        s.bytes().flat_map(|b| {
            let (bytes, n) = if UNRESERVED[b as usize] {
                ([b, 0, 0], 1)
            } else {
                (
                    [
                        b'%',
                        HEX_UPPER[(b >> 4) as usize],
                        HEX_UPPER[(b & 15) as usize],
                    ],
                    3,
                )
            };
            bytes.into_iter().take(n)
        })
    }
    encoded(a).cmp(encoded(b))
}

/// The encoded length of `s`, to size buffers once.
pub(crate) fn uri_encoded_len(s: &str, keep_slash: bool) -> usize {
    s.bytes()
        .map(|b| {
            if UNRESERVED[b as usize] || (keep_slash && b == b'/') {
                1
            } else {
                3
            }
        })
        .sum()
}

/// Lowercase hex of 32 bytes (a SHA-256 digest or an HMAC).
pub(crate) fn hex32(bytes: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    for (i, &b) in bytes.iter().take(32).enumerate() {
        out[2 * i] = HEX_LOWER[(b >> 4) as usize];
        out[2 * i + 1] = HEX_LOWER[(b & 15) as usize];
    }
    out
}

/// Lowercase hex of any bytes.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(HEX_LOWER[(b >> 4) as usize] as char);
        s.push(HEX_LOWER[(b & 15) as usize] as char);
    }
    s
}

/// URI-encodes `s` as SigV4 wants it (`/` encoded too, as in query strings).
pub fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(uri_encoded_len(s, false));
    uri_encode_into(&mut out, s, false);
    out
}

/// URI-encodes an object key for a path: like [`uri_encode`] but `/` is kept.
pub fn uri_encode_path(s: &str) -> String {
    let mut out = String::with_capacity(uri_encoded_len(s, true));
    uri_encode_into(&mut out, s, true);
    out
}

/// Decodes `%XX` escapes (and nothing else: `+` stays `+`). `None` on a malformed escape or
/// bytes that are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = b.get(i + 1..i + 3)?;
            let v = (hex_val(h[0])? << 4) | hex_val(h[1])?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_sigv4() {
        assert_eq!(uri_encode("a b+c~d/é*"), "a%20b%2Bc~d%2F%C3%A9%2A");
        assert_eq!(uri_encode_path("dir//a b/../ሴ"), "dir//a%20b/../%E1%88%B4");
        assert_eq!(
            uri_encoded_len("a b/é", true),
            uri_encode_path("a b/é").len()
        );
        assert_eq!(percent_decode("a%20b+%E1%88%B4").as_deref(), Some("a b+ሴ"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        // 'é' encodes as "%C3%A9", which sorts before 'A'; '!' as "%21", before '-'.
        for (a, b) in [
            ("é", "A"),
            ("a!", "a-"),
            ("a", "a b"),
            ("Z", "a"),
            ("a=", "a"),
        ] {
            assert_eq!(
                cmp_encoded(a, b),
                uri_encode(a).cmp(&uri_encode(b)),
                "{a} {b}"
            );
        }
    }
}
