//! The upload's checksum, in hoist-core's vocabulary ([`hoist_core::checksum`]): which
//! algorithm (or none), the multipart type the engine asks for, the object's expected value,
//! and how the choice is written in the resume journal and on the command line.

use hoist_core::checksum::{ChecksumAlgorithm, ChecksumType, PartChecksum, UnknownChecksum};

/// The name of "no checksum" on the command line and in journals.
pub const NONE: &str = "none";

/// Reads `--checksum`: an algorithm's name (`crc64nvme`, any case) or `none`.
pub fn parse_checksum(name: &str) -> Result<Option<ChecksumAlgorithm>, UnknownChecksum> {
    if name.trim().eq_ignore_ascii_case(NONE) {
        return Ok(None);
    }
    name.parse().map(Some)
}

/// The name [`parse_checksum`] reads back: `crc64nvme`, or `none`.
pub fn checksum_name(algorithm: Option<ChecksumAlgorithm>) -> &'static str {
    algorithm.map_or(NONE, ChecksumAlgorithm::name)
}

/// The type a multipart upload is created with. Always named explicitly: S3 makes an upload
/// that names CRC-32 or CRC-32C without a type COMPOSITE, and the engine wants the CRCs
/// FULL_OBJECT (they combine into the checksum of the whole object); SHA is COMPOSITE only.
pub(crate) fn multipart_type(algorithm: ChecksumAlgorithm) -> ChecksumType {
    if algorithm.is_crc() {
        ChecksumType::FullObject
    } else {
        ChecksumType::Composite
    }
}

/// The object's checksum as the store will report it, from its parts' in order: a single
/// PUT's own checksum, else the parts' combined in the upload's [`multipart_type`]
/// (COMPOSITE ones end in `-N`). `None` without parts.
pub(crate) fn object_checksum(parts: &[PartChecksum], multipart: bool) -> Option<String> {
    let first = parts.first()?;
    if !multipart {
        return Some(first.checksum.to_base64());
    }
    let kind = multipart_type(first.checksum.algorithm());
    hoist_core::checksum::object_checksum(kind, parts).ok()
}

/// The journal's `checksum` field: the algorithm's lowercase name, or `none`.
pub(crate) mod journal_name {
    use serde::{Deserialize as _, Deserializer, Serializer};

    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        algorithm: &Option<ChecksumAlgorithm>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(checksum_name(*algorithm))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<ChecksumAlgorithm>, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        parse_checksum(&name).map_err(serde::de::Error::custom)
    }
}

/// Compares checksums, tolerating a `-N` part-count suffix present on one side only.
pub(crate) fn checksums_agree(want: &str, got: &str) -> bool {
    let strip = |s: &str| s.split('-').next().unwrap_or(s).to_owned();
    want == got || strip(want) == strip(got) && (want.contains('-') != got.contains('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_with_none() {
        assert_eq!(parse_checksum("none"), Ok(None));
        assert_eq!(
            parse_checksum("CRC64NVME"),
            Ok(Some(ChecksumAlgorithm::Crc64Nvme))
        );
        assert!(parse_checksum("md5").is_err());
        for a in [
            None,
            Some(ChecksumAlgorithm::Crc32c),
            Some(ChecksumAlgorithm::Sha256),
        ] {
            assert_eq!(parse_checksum(checksum_name(a)), Ok(a));
        }
    }

    #[test]
    fn crcs_combine_full_object_and_sha_is_composite() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        for alg in [ChecksumAlgorithm::Crc64Nvme, ChecksumAlgorithm::Crc32c] {
            let parts: Vec<_> = data
                .chunks(30_000)
                .map(|c| PartChecksum::of(alg, c))
                .collect();
            let whole = alg.digest(&data).to_base64();
            assert_eq!(object_checksum(&parts, true), Some(whole));
        }
        let sha = ChecksumAlgorithm::Sha256;
        let parts = [PartChecksum::of(sha, b"a"), PartChecksum::of(sha, b"b")];
        assert!(object_checksum(&parts, true).unwrap().ends_with("-2"));
        assert_eq!(
            object_checksum(&parts[..1], false),
            Some(sha.digest(b"a").to_base64())
        );
        assert_eq!(object_checksum(&[], true), None);
    }
}
