//! Flexible checksums: CRC32, CRC32C, CRC64NVME, SHA-1, SHA-256, and how multipart uploads
//! combine them (COMPOSITE for all, FULL_OBJECT for the CRCs).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use crc_fast::CrcAlgorithm;
use serde::{Deserialize, Serialize};
use sha1::Digest as _;

/// One of S3's flexible checksum algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

/// How a multipart object's checksum is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ChecksumType {
    Composite,
    FullObject,
}

impl ChecksumType {
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "COMPOSITE" => Some(Self::Composite),
            "FULL_OBJECT" => Some(Self::FullObject),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Composite => "COMPOSITE",
            Self::FullObject => "FULL_OBJECT",
        }
    }
}

impl ChecksumAlgorithm {
    pub const ALL: [Self; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    /// Parses `CRC32`, `crc32c`, `CRC64NVME`, `SHA1`, `SHA256`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "CRC32" => Some(Self::Crc32),
            "CRC32C" => Some(Self::Crc32c),
            "CRC64NVME" => Some(Self::Crc64Nvme),
            "SHA1" => Some(Self::Sha1),
            "SHA256" => Some(Self::Sha256),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// The `x-amz-checksum-*` header that carries this checksum.
    pub fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    fn crc(self) -> Option<CrcAlgorithm> {
        match self {
            Self::Crc32 => Some(CrcAlgorithm::Crc32IsoHdlc),
            Self::Crc32c => Some(CrcAlgorithm::Crc32Iscsi),
            Self::Crc64Nvme => Some(CrcAlgorithm::Crc64Nvme),
            Self::Sha1 | Self::Sha256 => None,
        }
    }

    /// Only the CRCs can be combined into a whole-object value.
    pub fn supports_full_object(self) -> bool {
        self.crc().is_some()
    }

    /// The type S3 picks when an upload names an algorithm but no type.
    pub fn default_type(self) -> ChecksumType {
        if self == Self::Crc64Nvme {
            ChecksumType::FullObject
        } else {
            ChecksumType::Composite
        }
    }

    fn width(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// The checksum of a whole byte string, raw.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut hasher = StreamHasher::new(self);
        hasher.update(data);
        hasher.finish()
    }
}

/// Incremental hashing with one algorithm.
pub(crate) enum StreamHasher {
    Crc(ChecksumAlgorithm, crc_fast::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl StreamHasher {
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        match algorithm {
            ChecksumAlgorithm::Sha1 => Self::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => Self::Sha256(sha2::Sha256::new()),
            crc => Self::Crc(
                crc,
                crc_fast::Digest::new(crc.crc().expect("a CRC algorithm")),
            ),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Crc(_, d) => d.update(data),
            Self::Sha1(d) => d.update(data),
            Self::Sha256(d) => d.update(data),
        }
    }

    /// The raw checksum bytes (big-endian for the CRCs, as S3 encodes them).
    pub fn finish(self) -> Vec<u8> {
        match self {
            Self::Crc(algorithm, d) => crc_bytes(algorithm, d.finalize()),
            Self::Sha1(d) => d.finalize().to_vec(),
            Self::Sha256(d) => d.finalize().to_vec(),
        }
    }
}

fn crc_bytes(algorithm: ChecksumAlgorithm, value: u64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    bytes[8 - algorithm.width()..].to_vec()
}

fn crc_value(raw: &[u8]) -> u64 {
    raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

pub(crate) fn encode(raw: &[u8]) -> String {
    B64.encode(raw)
}

/// Decodes a base64 checksum value, checking its width for the algorithm.
pub(crate) fn decode(algorithm: ChecksumAlgorithm, text: &str) -> Option<Vec<u8>> {
    let raw = B64.decode(text.trim()).ok()?;
    (raw.len() == algorithm.width()).then_some(raw)
}

/// COMPOSITE: the checksum of the concatenated part checksums, then `-N`.
pub(crate) fn composite(algorithm: ChecksumAlgorithm, parts: &[Vec<u8>]) -> String {
    let joined: Vec<u8> = parts.concat();
    format!("{}-{}", encode(&algorithm.digest(&joined)), parts.len())
}

/// FULL_OBJECT: the CRC of the whole object, combined from the parts' CRCs and sizes.
pub(crate) fn full_object(
    algorithm: ChecksumAlgorithm,
    parts: &[(Vec<u8>, u64)],
) -> Option<String> {
    let crc = algorithm.crc()?;
    let mut iter = parts.iter();
    let (first, _) = iter.next()?;
    let mut value = crc_value(first);
    for (raw, len) in iter {
        value = crc_fast::checksum_combine(crc, value, crc_value(raw), *len);
    }
    Some(encode(&crc_bytes(algorithm, value)))
}

/// S3's multipart ETag: md5 of the concatenated binary part md5s, then `-N`, quoted.
pub(crate) fn multipart_etag(part_md5s: &[[u8; 16]]) -> String {
    let mut md5 = md5::Md5::new();
    for part in part_md5s {
        md5.update(part);
    }
    format!(
        "\"{}-{}\"",
        crate::fs::hex(&md5.finalize()),
        part_md5s.len()
    )
}

/// Parses a hex ETag (quotes optional) back to its md5 bytes.
pub(crate) fn etag_md5(etag: &str) -> Option<[u8; 16]> {
    let hex = etag.trim().trim_matches('"');
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_etag_matches_the_reference_vector() {
        let parts = [
            etag_md5("bce6bf66aeb76c7040fdd5f4eccb78e6").unwrap(),
            etag_md5("\"8165449fc15bbf43d3b674595cbcc406\"").unwrap(),
        ];
        assert_eq!(
            multipart_etag(&parts),
            "\"f77dc0eecdebcd774a2a22cb393ad2ff-2\""
        );
    }

    #[test]
    fn known_check_values() {
        // The standard CRC check input "123456789".
        let input = b"123456789";
        assert_eq!(
            crc_value(&ChecksumAlgorithm::Crc32.digest(input)),
            0xcbf4_3926
        );
        assert_eq!(
            crc_value(&ChecksumAlgorithm::Crc32c.digest(input)),
            0xe306_9283
        );
        assert_eq!(ChecksumAlgorithm::Crc64Nvme.digest(input).len(), 8);
        assert_eq!(
            encode(&ChecksumAlgorithm::Sha256.digest(b"")),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn full_object_equals_the_crc_of_the_whole() {
        let (a, b) = (b"hello ".as_slice(), b"multipart world".as_slice());
        for algorithm in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let parts = vec![
                (algorithm.digest(a), a.len() as u64),
                (algorithm.digest(b), b.len() as u64),
            ];
            let whole = [a, b].concat();
            assert_eq!(
                full_object(algorithm, &parts).unwrap(),
                encode(&algorithm.digest(&whole))
            );
        }
    }

    #[test]
    fn composite_has_part_count() {
        let parts = vec![
            ChecksumAlgorithm::Sha256.digest(b"a"),
            ChecksumAlgorithm::Sha256.digest(b"b"),
        ];
        assert!(composite(ChecksumAlgorithm::Sha256, &parts).ends_with("-2"));
    }
}
