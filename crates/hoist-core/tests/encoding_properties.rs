//! SigV4's URI encoding against its definition, byte by byte, for any string: runs of kept
//! bytes of every length around escapes at every position, multi-byte characters among them.

use hoist_core::encoding::{uri_encode, uri_encode_path};
use proptest::prelude::*;

/// The definition: `A-Z a-z 0-9 - . _ ~` (and `/` in a path) kept, every other byte `%XX`.
fn reference(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn encodes_as_defined(s in "([a-zA-Z0-9._~-]{0,20}[ /+=%é&?#\u{1F600}\u{0}]?){0,6}") {
        prop_assert_eq!(uri_encode(&s), reference(&s, false));
        prop_assert_eq!(uri_encode_path(&s), reference(&s, true));
    }

    #[test]
    fn encodes_any_string_as_defined(s in any::<String>()) {
        prop_assert_eq!(uri_encode(&s), reference(&s, false));
        prop_assert_eq!(uri_encode_path(&s), reference(&s, true));
    }
}
