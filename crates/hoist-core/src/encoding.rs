//! The encodings S3 speaks, defined once: SigV4's URI encoding, percent-decoding, lowercase
//! hex and standard base64 (checksums, `Content-MD5`, POST policies).

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
/// [`UNRESERVED`] and `/`: what a path keeps.
static UNRESERVED_PATH: [bool; 256] = {
    let mut t = unreserved_table();
    t[b'/' as usize] = true;
    t
};
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// `%00%01…%FF`: the escape of byte `b` is `ESCAPES[3 * b..3 * b + 3]`.
static ESCAPES: &str = {
    const BYTES: [u8; 768] = {
        let mut t = [0u8; 768];
        let mut i = 0;
        while i < 256 {
            t[3 * i] = b'%';
            t[3 * i + 1] = HEX_UPPER[i >> 4];
            t[3 * i + 2] = HEX_UPPER[i & 15];
            i += 1;
        }
        t
    };
    match std::str::from_utf8(&BYTES) {
        Ok(s) => s,
        Err(_) => panic!("ASCII"),
    }
};

/// Appends `s` URI-encoded: unreserved bytes kept, every other UTF-8 byte as `%XX` (uppercase),
/// space as `%20`. With `keep_slash`, `/` is kept (object keys in paths).
pub(crate) fn uri_encode_into(out: &mut String, s: &str, keep_slash: bool) {
    let kept = if keep_slash {
        &UNRESERVED_PATH
    } else {
        &UNRESERVED
    };
    let bytes = s.as_bytes();
    let n = bytes.len();
    // `run..i` is kept as it is; it is copied in one piece when an escape or the end comes.
    let (mut run, mut i) = (0, 0);
    loop {
        // Eight kept bytes at a time, with no branch per byte (names, ids and keys are mostly
        // letters and digits); then byte by byte up to the byte to escape.
        while i + 8 <= n && all_kept(kept, &bytes[i..i + 8]) {
            i += 8;
        }
        while i < n && kept[bytes[i] as usize] {
            i += 1;
        }
        if i == n {
            break;
        }
        // A non-empty run holds only kept ASCII bytes, so its ends are char boundaries.
        if run < i {
            out.push_str(&s[run..i]);
        }
        let e = 3 * bytes[i] as usize;
        out.push_str(&ESCAPES[e..e + 3]);
        i += 1;
        run = i;
    }
    if run < n {
        out.push_str(&s[run..]);
    }
}

/// Whether every byte of `chunk` is kept, testing all of them without stopping early.
#[inline(always)]
fn all_kept(kept: &[bool; 256], chunk: &[u8]) -> bool {
    chunk.iter().fold(true, |all, &b| all & kept[b as usize])
}

/// Orders two strings as their URI encodings would order, without encoding them.
///
/// Up to the first byte where they differ, their encodings are equal too. There, `%XX` sorts
/// below every unreserved byte (all of them are above `%`), two escapes sort as their bytes
/// (uppercase hex keeps the order), and so do two unreserved bytes.
pub(crate) fn cmp_encoded(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => {
            let rank = |c: u8| (UNRESERVED[c as usize], c);
            rank(a[i]).cmp(&rank(b[i]))
        }
        None => a.len().cmp(&b.len()),
    }
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

/// The two lowercase hex digits of every byte.
static HEX_PAIRS: [[u8; 2]; 256] = {
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX_LOWER[i >> 4], HEX_LOWER[i & 15]];
        i += 1;
    }
    t
};

/// Lowercase hex of 32 bytes (a SHA-256 digest or an HMAC).
pub(crate) fn hex32(bytes: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&HEX_PAIRS[b as usize]);
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

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 (standard alphabet, padded) of `bytes`.
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64_ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard, padded base64 (as S3 sends checksums and `Content-MD5`). `None` for
/// anything else: a wrong alphabet, missing or misplaced padding, or stray bits in the last
/// character, so that one value has exactly one spelling.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    if !b.len().is_multiple_of(4) {
        return None;
    }
    let quads = b.len() / 4;
    let mut out = Vec::with_capacity(quads * 3);
    for (i, quad) in b.chunks_exact(4).enumerate() {
        let pad = if i + 1 == quads {
            quad.iter().rev().take_while(|&&c| c == b'=').count()
        } else {
            0
        };
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = (n << 6) | u32::from(sextet(c)?);
        }
        n <<= 6 * pad as u32;
        // The bits below the last whole byte must be zero.
        if n & ((1u32 << (8 * pad)) - 1) != 0 {
            return None;
        }
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8][..3 - pad]);
    }
    Some(out)
}

fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes lowercase or uppercase hex; `None` on an odd length or a non-hex character.
pub fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|p| Some((hex_val(p[0])? << 4) | hex_val(p[1])?))
        .collect()
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
        assert_eq!(hex_decode("00abFF"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(hex_decode("0a0"), None);
        assert_eq!(hex_decode("zz"), None);
        // 'é' encodes as "%C3%A9", which sorts before 'A'; '!' as "%21", before '-'.
        for (a, b) in [
            ("é", "A"),
            ("a!", "a-"),
            ("a", "a b"),
            ("Z", "a"),
            ("a=", "a"),
            ("%", "-"),
            ("~", "\u{7f}"),
            ("", ""),
            ("ab", "ab"),
            ("X-Amz-", "partNumber"),
        ] {
            assert_eq!(
                cmp_encoded(a, b),
                uri_encode(a).cmp(&uri_encode(b)),
                "{a} {b}"
            );
        }
    }

    #[test]
    fn hex32_writes_every_byte_as_hex_does() {
        // Every byte value at every position.
        for start in 0..=u8::MAX {
            let bytes: [u8; 32] =
                std::array::from_fn(|i| start.wrapping_add((i as u8).wrapping_mul(37)));
            assert_eq!(
                std::str::from_utf8(&hex32(&bytes)).unwrap(),
                hex(&bytes),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn compares_as_the_encodings_would() {
        let chars = [
            'a', 'Z', '0', '-', '.', '_', '~', '%', ' ', '/', '=', '\u{7f}', 'é', 'ሴ',
        ];
        let mut all = vec![String::new()];
        for _ in 0..2 {
            let longer: Vec<String> = all
                .iter()
                .flat_map(|s| chars.iter().map(move |&c| format!("{s}{c}")))
                .collect();
            all.extend(longer);
        }
        for a in &all {
            for b in &all {
                assert_eq!(
                    cmp_encoded(a, b),
                    uri_encode(a).cmp(&uri_encode(b)),
                    "{a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn base64_matches_rfc4648_vectors_both_ways() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
            assert_eq!(base64_decode(encoded).as_deref(), Some(plain.as_bytes()));
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base64_decode(&base64(&all)), Some(all));
        // One spelling per value: no missing padding, no stray bits, no URL alphabet.
        for bad in [
            "Zg", "Zg=", "Zh==", "Zm9v-_==", "Z===", "Zg==Zg==", "Zm8=\n",
        ] {
            assert_eq!(base64_decode(bad), None, "{bad}");
        }
    }
}
