//! Checksums through the coordinator: which algorithm and type an upload may use (S3's rules),
//! the part checksums a signing request pins into URLs, and the values a completion names.

use std::collections::BTreeMap;

use axum::http::StatusCode;

use crate::api::{Checksum, ChecksumAlgorithm, ChecksumType};
use crate::error::ApiError;
use crate::token::TokenChecksum;

/// An integrity failure: the bytes the store holds are not the ones the uploader describes.
pub(crate) fn mismatch(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "checksum_mismatch",
        message,
    )
}

/// Checks that `value` is base64 of an `algorithm` digest; a COMPOSITE value may end in `-N`.
pub(crate) fn check_value(
    algorithm: ChecksumAlgorithm,
    value: &str,
    composite: bool,
    field: &str,
) -> Result<(), ApiError> {
    let suffixed = !composite
        && value
            .rsplit_once('-')
            .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    hoist_core::checksum::check_value(algorithm, value, composite).map_err(|e| {
        ApiError::field(
            field,
            match e {
                hoist_core::checksum::ChecksumError::NotBase64(_) => "must be base64".to_owned(),
                _ => format!(
                    "must decode to {} bytes (a {algorithm} checksum)",
                    algorithm.digest_len()
                ),
            },
        )
        // Well-formed base64 of another length, or a part count where the upload's type
        // has none, conflicts with the upload's algorithm and type.
        .with_status(match e {
            hoist_core::checksum::ChecksumError::NotBase64(_)
                if !(suffixed
                    && value.rsplit_once('-').is_some_and(|(d, _)| {
                        hoist_core::encoding::base64_decode(d).is_some()
                    })) =>
            {
                StatusCode::BAD_REQUEST
            }
            _ => StatusCode::CONFLICT,
        })
    })
}

/// The checksum a creation asks for, checked against S3's rules for the chosen strategy.
pub(crate) fn checksum_of_create(c: &Checksum, multipart: bool) -> Result<TokenChecksum, ApiError> {
    // A single PUT's checksum is always of the whole object; a multipart upload's type is
    // the one asked for, else S3's default for the algorithm.
    let kind = if multipart {
        c.kind.unwrap_or_else(|| c.algorithm.default_type())
    } else {
        ChecksumType::FullObject
    };
    // A type S3 never allows with the algorithm is refused whichever the strategy.
    if let Some(asked) = c.kind
        && !c.algorithm.allows(asked)
    {
        return Err(type_refused(c));
    }
    if multipart && !c.algorithm.allows(kind) {
        return Err(type_refused(c));
    }
    if let Some(v) = &c.value {
        if multipart {
            return Err(ApiError::field(
                "checksum.value",
                "a multipart upload's parts are checksummed one by one: send each part's \
                 checksum when its URL is signed and the object's at completion",
            )
            .with_status(StatusCode::CONFLICT));
        }
        check_value(c.algorithm, v, false, "checksum.value")?;
    }
    Ok(TokenChecksum {
        algorithm: c.algorithm,
        kind,
        value: c.value.clone(),
    })
}

fn type_refused(c: &Checksum) -> ApiError {
    let allowed: Vec<&str> = c
        .algorithm
        .allowed_types()
        .into_iter()
        .map(ChecksumType::as_str)
        .collect();
    ApiError::field(
        "checksum.type",
        format!(
            "a {} checksum can only be {}",
            c.algorithm.as_str(),
            allowed.join(" or ")
        ),
    )
}

/// Reads a signing request's `checksums` map (part number → base64) for the parts `numbers`.
pub(crate) fn part_checksums(
    given: Option<&BTreeMap<String, String>>,
    checksum: Option<&TokenChecksum>,
    numbers: &[u32],
) -> Result<BTreeMap<u32, String>, ApiError> {
    let Some(given) = given.filter(|m| !m.is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let Some(c) = checksum else {
        return Err(ApiError::field(
            "checksums",
            "this upload was created without a checksum algorithm \
             (create it with checksum.algorithm to send part checksums)",
        )
        .with_status(StatusCode::CONFLICT));
    };
    let mut out = BTreeMap::new();
    for (k, v) in given {
        let field = format!("checksums.{k}");
        let n: u32 = k
            .parse()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| ApiError::field(&field, "must be a part number, 1 to 10000"))?;
        // A checksum of a part not asked for now is unused (it is sent when that part is).
        if !numbers.contains(&n) {
            continue;
        }
        check_value(c.algorithm, v, false, &field)?;
        out.insert(n, v.clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(algorithm: ChecksumAlgorithm, kind: Option<ChecksumType>) -> Checksum {
        Checksum {
            algorithm,
            value: None,
            kind,
        }
    }

    #[test]
    fn s3_rules_on_multipart_types() {
        use ChecksumAlgorithm::*;
        use ChecksumType::*;
        for (alg, kind, ok) in [
            (Crc64Nvme, None, true),
            (Crc64Nvme, Some(FullObject), true),
            (Crc64Nvme, Some(Composite), false),
            (Crc32, Some(Composite), true),
            (Crc32c, Some(FullObject), true),
            (Sha256, None, true),
            (Sha256, Some(FullObject), false),
            (Sha1, Some(FullObject), false),
        ] {
            let got = checksum_of_create(&ask(alg, kind), true);
            assert_eq!(got.is_ok(), ok, "{alg:?} {kind:?}: {got:?}");
            if let Err(e) = got {
                assert_eq!(e.field.as_deref(), Some("checksum.type"));
            }
        }
        assert_eq!(
            checksum_of_create(&ask(Sha256, None), true).unwrap().kind,
            Composite
        );
        // S3 makes a CRC32C upload without a type COMPOSITE (only CRC64NVME defaults to
        // FULL_OBJECT); the store, the coordinator and the client share that rule.
        assert_eq!(
            checksum_of_create(&ask(Crc32c, None), true).unwrap().kind,
            Composite
        );
    }

    #[test]
    fn whole_value_only_for_single_uploads() {
        let mut c = ask(ChecksumAlgorithm::Crc32c, None);
        c.value = Some("4waSgw==".into());
        assert!(checksum_of_create(&c, false).is_ok());
        let e = checksum_of_create(&c, true).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("checksum.value"));
        c.value = Some("AAAAAAAAAAA=".into());
        let e = checksum_of_create(&c, false).unwrap_err();
        assert!(e.message.contains("4 bytes"), "{}", e.message);
    }

    #[test]
    fn part_checksum_maps_checked() {
        let c = TokenChecksum {
            algorithm: ChecksumAlgorithm::Crc64Nvme,
            kind: ChecksumType::FullObject,
            value: None,
        };
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let ok = part_checksums(Some(&map(&[("2", "rosUhgp5mIg=")])), Some(&c), &[1, 2]).unwrap();
        assert_eq!(ok.get(&2).map(String::as_str), Some("rosUhgp5mIg="));
        let unused = part_checksums(Some(&map(&[("3", "rosUhgp5mIg=")])), Some(&c), &[1, 2]);
        assert!(
            unused.unwrap().is_empty(),
            "a part not asked for is not signed"
        );
        let e = part_checksums(Some(&map(&[("x", "rosUhgp5mIg=")])), Some(&c), &[1, 2]);
        assert_eq!(e.unwrap_err().field.as_deref(), Some("checksums.x"));
        let e = part_checksums(Some(&map(&[("1", "4waSgw==")])), Some(&c), &[1]);
        assert_eq!(e.unwrap_err().field.as_deref(), Some("checksums.1"));
        let e = part_checksums(Some(&map(&[("1", "rosUhgp5mIg=")])), None, &[1]);
        assert_eq!(e.unwrap_err().field.as_deref(), Some("checksums"));
        assert!(part_checksums(None, None, &[1]).unwrap().is_empty());
    }

    #[test]
    fn composite_values_may_count_parts() {
        let sha = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=";
        let alg = ChecksumAlgorithm::Sha256;
        assert!(check_value(alg, &format!("{sha}-3"), true, "f").is_ok());
        assert!(check_value(alg, &format!("{sha}-3"), false, "f").is_err());
        assert!(check_value(alg, &format!("{sha}-"), true, "f").is_err());
    }
}
