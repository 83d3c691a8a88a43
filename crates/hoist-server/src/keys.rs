//! Object keys: generated as `{prefix}/{uuid}/{sanitised filename}`, or chosen by a caller who
//! may, and always validated.

use crate::error::ApiError;

/// S3's own limit on key length, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest sanitised filename kept in a generated key.
const MAX_FILENAME_BYTES: usize = 200;

/// A random (version 4) UUID in its usual text form.
pub fn uuid_v4() -> String {
    uuid_text(&uuid_v4_bytes())
}

/// The 16 bytes of a random (version 4) UUID.
pub fn uuid_v4_bytes() -> [u8; 16] {
    let mut b = [0u8; 16];
    // The OS random source failing is not recoverable in any useful way.
    getrandom::fill(&mut b).expect("the OS random source works");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

/// A UUID's 16 bytes in its usual text form (`8-4-4-4-12` lower-case hex digits).
pub fn uuid_text(b: &[u8; 16]) -> String {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Reduce a user-supplied file name to a safe last key segment: ASCII letters, digits, `.`,
/// `-`, `_`; anything else becomes `_`; no leading dots; bounded length; never empty.
pub fn sanitise_filename(name: &str) -> String {
    // Browsers send bare names, but some tools send a path; keep only its last segment.
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let mut out = String::with_capacity(last.len().min(MAX_FILENAME_BYTES));
    let mut prev_underscore = false;
    for c in last.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
            c
        } else {
            '_'
        };
        if c == '_' && prev_underscore {
            continue;
        }
        prev_underscore = c == '_';
        out.push(c);
        if out.len() >= MAX_FILENAME_BYTES {
            break;
        }
    }
    let trimmed = out.trim_start_matches('.');
    if trimmed.is_empty() || trimmed.chars().all(|c| c == '_') {
        "file".to_string()
    } else {
        trimmed.to_string()
    }
}

/// `{prefix}/{uuid}/{sanitised filename}` (no leading slash when the prefix is empty).
pub fn generate_key(prefix: &str, filename: Option<&str>) -> String {
    let name = sanitise_filename(filename.unwrap_or("file"));
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        format!("{}/{name}", uuid_v4())
    } else {
        format!("{prefix}/{}/{name}", uuid_v4())
    }
}

/// Check a caller-chosen key: non-empty, at most 1024 bytes, no control characters, no empty,
/// `.` or `..` segments, no leading slash, no backslash.
pub fn validate_key(key: &str, field: &str) -> Result<(), ApiError> {
    let fail = |why: &str| Err(ApiError::field(field, why));
    if key.is_empty() {
        return fail("must not be empty");
    }
    if key.len() > MAX_KEY_BYTES {
        return fail("must be at most 1024 bytes");
    }
    if key.chars().any(char::is_control) {
        return fail("must not contain control characters");
    }
    if key.contains('\\') {
        return fail("must not contain backslashes");
    }
    if key.starts_with('/') {
        return fail("must not start with '/'");
    }
    if key
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return fail("must not contain empty, '.' or '..' segments");
    }
    Ok(())
}

/// Validate a configured or granted prefix the same way as a key (empty is allowed).
pub fn validate_prefix(prefix: &str, field: &str) -> Result<(), ApiError> {
    let p = prefix.trim_end_matches('/');
    if p.is_empty() {
        return Ok(());
    }
    validate_key(p, field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape() {
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(u, uuid_v4());
    }

    #[test]
    fn sanitising() {
        assert_eq!(sanitise_filename("../../etc/passwd"), "passwd");
        assert_eq!(
            sanitise_filename("C:\\Users\\me\\photo 1.JPG"),
            "photo_1.JPG"
        );
        assert_eq!(sanitise_filename("..."), "file");
        assert_eq!(sanitise_filename(".hidden"), "hidden");
        assert_eq!(sanitise_filename("a\u{0}b\nc"), "a_b_c");
        assert_eq!(sanitise_filename("ünïcødé.txt"), "_n_c_d_.txt");
        assert_eq!(sanitise_filename(&"x".repeat(5000)).len(), 200);
        assert_eq!(sanitise_filename(""), "file");
    }

    #[test]
    fn generated_keys_validate() {
        let k = generate_key("files/", Some("../x y.bin"));
        assert!(k.starts_with("files/") && k.ends_with("/x_y.bin"), "{k}");
        validate_key(&k, "key").unwrap();
        assert!(!generate_key("", None).starts_with('/'));
    }

    #[test]
    fn validation() {
        for bad in ["", "a/../b", "..", "a//b", "/a", "a\u{7}", "a\\b", "./a"] {
            assert!(validate_key(bad, "key").is_err(), "{bad:?} accepted");
        }
        assert!(validate_key(&"a".repeat(1025), "key").is_err());
        validate_key("a/b c/ü..x", "key").unwrap();
    }
}
