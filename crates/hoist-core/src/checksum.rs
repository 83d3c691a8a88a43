//! S3's flexible checksums and ETags, defined once for every crate: the five algorithms, the
//! two ways a multipart object's checksum is formed, S3's rules between them, incremental
//! hashing, and how part checksums combine into the object's.
//!
//! ```
//! use hoist_core::checksum::{ChecksumAlgorithm, ChecksumType, PartChecksum, object_checksum};
//!
//! let alg = ChecksumAlgorithm::Crc64Nvme;
//! assert_eq!(alg.default_type(), ChecksumType::FullObject);
//! let parts = [PartChecksum::of(alg, b"hello "), PartChecksum::of(alg, b"world")];
//! let whole = alg.digest(b"hello world").to_base64();
//! assert_eq!(object_checksum(ChecksumType::FullObject, &parts).unwrap(), whole);
//! ```

use std::fmt;
use std::str::FromStr;

use md5::Digest as _;

use crate::encoding::{base64, base64_decode, hex, hex_decode};

/// One of S3's flexible checksum algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    /// CRC-32 (ISO-HDLC), 4 bytes.
    Crc32,
    /// CRC-32C (Castagnoli), 4 bytes.
    Crc32c,
    /// CRC-64/NVME, 8 bytes: S3's default since 2025.
    Crc64Nvme,
    /// SHA-1, 20 bytes.
    Sha1,
    /// SHA-256, 32 bytes.
    Sha256,
}

/// How a multipart object's checksum derives from its parts' (`x-amz-checksum-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumType {
    /// The checksum of the whole object's bytes, combined from the parts' CRCs.
    FullObject,
    /// The checksum of the concatenated part checksums, followed by `-N`.
    Composite,
}

/// A name that is not one of S3's checksum algorithms or types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown checksum {0:?}: use crc32, crc32c, crc64nvme, sha1 or sha256")]
pub struct UnknownChecksum(pub String);

/// A checksum value that is not what its algorithm produces.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChecksumError {
    /// Not standard padded base64.
    #[error("a {0} checksum must be base64")]
    NotBase64(ChecksumAlgorithm),
    /// Base64 of the wrong number of bytes.
    #[error("a {algorithm} checksum is {expected} bytes, this one {got}")]
    WrongLength {
        algorithm: ChecksumAlgorithm,
        expected: usize,
        got: usize,
    },
    /// Combining needs at least one part, all of the same algorithm, CRCs for FULL_OBJECT.
    #[error("cannot combine these part checksums into a {0:?} checksum")]
    CannotCombine(ChecksumType),
}

impl ChecksumAlgorithm {
    /// Every algorithm, in a fixed order (upload tokens store the index).
    pub const ALL: [ChecksumAlgorithm; 5] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ];

    /// Parses S3's spelling in any case (`CRC64NVME`, `crc64nvme`, `Crc64Nvme`).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// S3's name, as in `x-amz-checksum-algorithm`: `CRC64NVME`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// The lowercase name used in hoist's JSON and on the command line: `crc64nvme`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "crc32",
            Self::Crc32c => "crc32c",
            Self::Crc64Nvme => "crc64nvme",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
        }
    }

    /// The header that carries a value: `x-amz-checksum-crc64nvme`.
    pub const fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The element that carries a value in S3's XML: `ChecksumCRC64NVME`.
    pub const fn xml_element(self) -> &'static str {
        match self {
            Self::Crc32 => "ChecksumCRC32",
            Self::Crc32c => "ChecksumCRC32C",
            Self::Crc64Nvme => "ChecksumCRC64NVME",
            Self::Sha1 => "ChecksumSHA1",
            Self::Sha256 => "ChecksumSHA256",
        }
    }

    /// The algorithm whose header this is (any case), if any.
    pub fn from_header(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.header().eq_ignore_ascii_case(name))
    }

    /// Length of a raw value in bytes.
    pub const fn digest_len(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// Whether part values combine into the whole object's (the CRCs do).
    pub const fn is_crc(self) -> bool {
        matches!(self, Self::Crc32 | Self::Crc32c | Self::Crc64Nvme)
    }

    /// S3's rule for multipart uploads: CRC-64/NVME is FULL_OBJECT only, CRC-32 and CRC-32C
    /// either, SHA-1 and SHA-256 COMPOSITE only.
    pub const fn allows(self, kind: ChecksumType) -> bool {
        match self {
            Self::Crc64Nvme => matches!(kind, ChecksumType::FullObject),
            Self::Crc32 | Self::Crc32c => true,
            Self::Sha1 | Self::Sha256 => matches!(kind, ChecksumType::Composite),
        }
    }

    /// The type S3 gives a multipart upload that names this algorithm but no type:
    /// FULL_OBJECT for CRC-64/NVME, COMPOSITE for the others (CRC-32 and CRC-32C keep the
    /// composite behaviour they had before full-object checksums existed).
    pub const fn default_type(self) -> ChecksumType {
        match self {
            Self::Crc64Nvme => ChecksumType::FullObject,
            _ => ChecksumType::Composite,
        }
    }

    /// The types this algorithm allows, for messages.
    pub fn allowed_types(self) -> Vec<ChecksumType> {
        [ChecksumType::FullObject, ChecksumType::Composite]
            .into_iter()
            .filter(|k| self.allows(*k))
            .collect()
    }

    /// The checksum of `data`.
    pub fn digest(self, data: &[u8]) -> Checksum {
        let mut h = Hasher::new(self);
        h.update(data);
        h.finish()
    }

    /// A new incremental hasher.
    pub fn hasher(self) -> Hasher {
        Hasher::new(self)
    }

    fn crc(self) -> Option<crc_fast::CrcAlgorithm> {
        match self {
            Self::Crc32 => Some(crc_fast::CrcAlgorithm::Crc32IsoHdlc),
            Self::Crc32c => Some(crc_fast::CrcAlgorithm::Crc32Iscsi),
            Self::Crc64Nvme => Some(crc_fast::CrcAlgorithm::Crc64Nvme),
            Self::Sha1 | Self::Sha256 => None,
        }
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChecksumAlgorithm {
    type Err = UnknownChecksum;
    fn from_str(s: &str) -> Result<Self, UnknownChecksum> {
        Self::parse(s).ok_or_else(|| UnknownChecksum(s.to_owned()))
    }
}

impl serde::Serialize for ChecksumAlgorithm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for ChecksumAlgorithm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::invalid_value(
                serde::de::Unexpected::Str(&text),
                &"crc32, crc32c, crc64nvme, sha1 or sha256",
            )
        })
    }
}

impl ChecksumType {
    /// S3's spelling: `FULL_OBJECT`, `COMPOSITE`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FullObject => "FULL_OBJECT",
            Self::Composite => "COMPOSITE",
        }
    }

    /// Parses S3's spelling in any case; `FullObject` (without the underscore) too.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("FULL_OBJECT") || t.eq_ignore_ascii_case("FULLOBJECT") {
            Some(Self::FullObject)
        } else if t.eq_ignore_ascii_case("COMPOSITE") {
            Some(Self::Composite)
        } else {
            None
        }
    }
}

impl fmt::Display for ChecksumType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChecksumType {
    type Err = UnknownChecksum;
    fn from_str(s: &str) -> Result<Self, UnknownChecksum> {
        Self::parse(s).ok_or_else(|| UnknownChecksum(s.to_owned()))
    }
}

impl serde::Serialize for ChecksumType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ChecksumType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::invalid_value(
                serde::de::Unexpected::Str(&text),
                &"FULL_OBJECT or COMPOSITE",
            )
        })
    }
}

/// A raw checksum value of one algorithm (big-endian for the CRCs, as S3 encodes them).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checksum {
    algorithm: ChecksumAlgorithm,
    bytes: [u8; 32],
}

impl Checksum {
    /// A value from its raw bytes; `None` when the length is not the algorithm's.
    pub fn from_bytes(algorithm: ChecksumAlgorithm, raw: &[u8]) -> Option<Self> {
        (raw.len() == algorithm.digest_len()).then(|| {
            let mut bytes = [0u8; 32];
            bytes[..raw.len()].copy_from_slice(raw);
            Checksum { algorithm, bytes }
        })
    }

    /// Parses the base64 form S3 sends (headers, XML), checking the length.
    pub fn from_base64(algorithm: ChecksumAlgorithm, text: &str) -> Result<Self, ChecksumError> {
        let raw = base64_decode(text.trim()).ok_or(ChecksumError::NotBase64(algorithm))?;
        Self::from_bytes(algorithm, &raw).ok_or(ChecksumError::WrongLength {
            algorithm,
            expected: algorithm.digest_len(),
            got: raw.len(),
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        self.algorithm
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.algorithm.digest_len()]
    }

    /// The base64 form S3 sends.
    pub fn to_base64(&self) -> String {
        base64(self.as_bytes())
    }

    fn crc_value(&self) -> u64 {
        self.as_bytes()
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    }

    fn from_crc_value(algorithm: ChecksumAlgorithm, value: u64) -> Self {
        let width = algorithm.digest_len();
        let be = value.to_be_bytes();
        let mut bytes = [0u8; 32];
        bytes[..width].copy_from_slice(&be[8 - width..]);
        Checksum { algorithm, bytes }
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.to_base64())
    }
}

/// Incremental hashing with one algorithm.
#[derive(Clone)]
pub struct Hasher {
    algorithm: ChecksumAlgorithm,
    state: HasherState,
}

#[derive(Clone)]
enum HasherState {
    Crc(crc_fast::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl Hasher {
    /// A hasher for `algorithm`.
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        let state = match (algorithm, algorithm.crc()) {
            (_, Some(crc)) => HasherState::Crc(crc_fast::Digest::new(crc)),
            (ChecksumAlgorithm::Sha1, None) => HasherState::Sha1(sha1::Sha1::new()),
            _ => HasherState::Sha256(sha2::Sha256::new()),
        };
        Hasher { algorithm, state }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        self.algorithm
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            HasherState::Crc(d) => d.update(data),
            HasherState::Sha1(d) => d.update(data),
            HasherState::Sha256(d) => d.update(data),
        }
    }

    /// The checksum of everything fed.
    pub fn finish(self) -> Checksum {
        match self.state {
            HasherState::Crc(d) => Checksum::from_crc_value(self.algorithm, d.finalize()),
            HasherState::Sha1(d) => Checksum::from_bytes(self.algorithm, &d.finalize())
                .expect("SHA-1 digests are 20 bytes"),
            HasherState::Sha256(d) => Checksum::from_bytes(self.algorithm, &d.finalize())
                .expect("SHA-256 digests are 32 bytes"),
        }
    }
}

/// A part's checksum and the number of bytes it covers (CRCs need the length to combine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartChecksum {
    /// The part's checksum.
    pub checksum: Checksum,
    /// The part's size in bytes.
    pub size: u64,
}

impl PartChecksum {
    /// The checksum of one part's bytes.
    pub fn of(algorithm: ChecksumAlgorithm, data: &[u8]) -> Self {
        PartChecksum {
            checksum: algorithm.digest(data),
            size: data.len() as u64,
        }
    }
}

/// The whole object's checksum as S3 reports it, from its parts' in order.
///
/// FULL_OBJECT combines the CRCs into the CRC of the whole object (base64). COMPOSITE is the
/// checksum of the concatenated raw part checksums, in base64, then `-N` for N parts.
pub fn object_checksum(
    kind: ChecksumType,
    parts: &[PartChecksum],
) -> Result<String, ChecksumError> {
    let first = parts.first().ok_or(ChecksumError::CannotCombine(kind))?;
    let algorithm = first.checksum.algorithm;
    if parts.iter().any(|p| p.checksum.algorithm != algorithm) {
        return Err(ChecksumError::CannotCombine(kind));
    }
    match kind {
        ChecksumType::FullObject => {
            let crc = algorithm.crc().ok_or(ChecksumError::CannotCombine(kind))?;
            let value = parts[1..]
                .iter()
                .fold(first.checksum.crc_value(), |acc, p| {
                    crc_fast::checksum_combine(crc, acc, p.checksum.crc_value(), p.size)
                });
            Ok(Checksum::from_crc_value(algorithm, value).to_base64())
        }
        ChecksumType::Composite => {
            let mut h = Hasher::new(algorithm);
            for p in parts {
                h.update(p.checksum.as_bytes());
            }
            Ok(format!("{}-{}", h.finish().to_base64(), parts.len()))
        }
    }
}

/// Checks that `value` is what `algorithm` produces in base64; with `composite`, a `-N`
/// suffix (N ≥ 1) is allowed, as on a COMPOSITE multipart object.
pub fn check_value(
    algorithm: ChecksumAlgorithm,
    value: &str,
    composite: bool,
) -> Result<(), ChecksumError> {
    let digest = match value.rsplit_once('-') {
        Some((d, n))
            if composite && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && n != "0" =>
        {
            d
        }
        _ => value,
    };
    Checksum::from_base64(algorithm, digest).map(|_| ())
}

/// ETags as S3 forms them: `"hex(md5)"` for a single PUT or a part, and
/// `"hex(md5(md5(p1) ‖ … ‖ md5(pN)))-N"` for a multipart object.
pub mod etag {
    use super::*;

    /// The quoted ETag of a body with this MD5.
    pub fn of_md5(md5: &[u8; 16]) -> String {
        format!("\"{}\"", hex(md5))
    }

    /// The MD5 of `data`.
    pub fn md5(data: &[u8]) -> [u8; 16] {
        md5::Md5::digest(data).into()
    }

    /// An MD5 fed piece by piece, for a body too large to hold at once.
    #[derive(Debug, Clone, Default)]
    pub struct Md5Hasher(md5::Md5);

    impl Md5Hasher {
        /// Adds `data` to the digest.
        pub fn update(&mut self, data: &[u8]) {
            md5::Digest::update(&mut self.0, data);
        }

        /// The MD5 of everything added.
        pub fn finish(self) -> [u8; 16] {
            md5::Digest::finalize(self.0).into()
        }
    }

    /// The quoted ETag of a multipart object from its parts' MD5s in order.
    pub fn multipart(part_md5s: &[[u8; 16]]) -> String {
        let mut md5 = md5::Md5::new();
        for part in part_md5s {
            md5.update(part);
        }
        format!("\"{}-{}\"", hex(&md5.finalize()), part_md5s.len())
    }

    /// The MD5 inside a single-part ETag (quotes optional); `None` for a multipart ETag or
    /// anything that is not 32 hex digits.
    pub fn md5_of(etag: &str) -> Option<[u8; 16]> {
        let h = etag.trim().trim_matches('"');
        if h.len() != 32 {
            return None;
        }
        hex_decode(h)?.try_into().ok()
    }

    /// Whether two ETags name the same value, quotes aside (S3 compares them so).
    pub fn same(a: &str, b: &str) -> bool {
        a.trim().trim_matches('"') == b.trim().trim_matches('"')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECK: &[u8] = b"123456789";

    #[test]
    fn known_check_values() {
        let crc = |a: ChecksumAlgorithm| a.digest(CHECK).crc_value();
        assert_eq!(crc(ChecksumAlgorithm::Crc32), 0xCBF4_3926);
        assert_eq!(crc(ChecksumAlgorithm::Crc32c), 0xE306_9283);
        assert_eq!(crc(ChecksumAlgorithm::Crc64Nvme), 0xAE8B_1486_0A79_9888);
        assert_eq!(
            ChecksumAlgorithm::Crc32c.digest(CHECK).to_base64(),
            "4waSgw=="
        );
        assert_eq!(
            ChecksumAlgorithm::Sha256.digest(b"").to_base64(),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            ChecksumAlgorithm::Sha1.digest(b"abc").to_base64(),
            "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="
        );
    }

    #[test]
    fn names_round_trip_in_every_spelling() {
        for a in ChecksumAlgorithm::ALL {
            for s in [a.as_str(), a.name()] {
                assert_eq!(ChecksumAlgorithm::parse(s), Some(a));
            }
            assert_eq!(ChecksumAlgorithm::from_header(a.header()), Some(a));
            assert_eq!(a.xml_element(), format!("Checksum{}", a.as_str()));
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.name()));
            assert_eq!(serde_json::from_str::<ChecksumAlgorithm>(&json).unwrap(), a);
        }
        // Metadata written with Rust variant names still reads.
        assert_eq!(
            serde_json::from_str::<ChecksumAlgorithm>("\"Crc64Nvme\"").unwrap(),
            ChecksumAlgorithm::Crc64Nvme
        );
        assert_eq!(
            serde_json::from_str::<ChecksumType>("\"FullObject\"").unwrap(),
            ChecksumType::FullObject
        );
        assert!(serde_json::from_str::<ChecksumAlgorithm>("\"md5\"").is_err());
        assert_eq!(
            ChecksumType::parse("full_object"),
            Some(ChecksumType::FullObject)
        );
    }

    #[test]
    fn s3_rules_for_multipart_types() {
        use ChecksumAlgorithm::*;
        use ChecksumType::*;
        let table = [
            (Crc64Nvme, true, false, FullObject),
            (Crc32, true, true, Composite),
            (Crc32c, true, true, Composite),
            (Sha1, false, true, Composite),
            (Sha256, false, true, Composite),
        ];
        for (a, full, composite, default) in table {
            assert_eq!(a.allows(FullObject), full, "{a}");
            assert_eq!(a.allows(Composite), composite, "{a}");
            assert_eq!(a.default_type(), default, "{a}");
            assert!(a.allows(a.default_type()));
            assert_eq!(a.is_crc(), full);
        }
    }

    #[test]
    fn full_object_equals_the_checksum_of_the_whole() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        for a in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let parts: Vec<_> = data
                .chunks(30_000)
                .map(|c| PartChecksum::of(a, c))
                .collect();
            assert_eq!(
                object_checksum(ChecksumType::FullObject, &parts).unwrap(),
                a.digest(&data).to_base64()
            );
        }
        let sha = [PartChecksum::of(ChecksumAlgorithm::Sha256, b"a")];
        assert_eq!(
            object_checksum(ChecksumType::FullObject, &sha),
            Err(ChecksumError::CannotCombine(ChecksumType::FullObject))
        );
        assert!(object_checksum(ChecksumType::Composite, &[]).is_err());
    }

    #[test]
    fn composite_hashes_the_raw_part_checksums_then_counts() {
        let a = ChecksumAlgorithm::Sha256;
        let parts = [PartChecksum::of(a, b"a"), PartChecksum::of(a, b"b")];
        let joined = [parts[0].checksum.as_bytes(), parts[1].checksum.as_bytes()].concat();
        assert_eq!(
            object_checksum(ChecksumType::Composite, &parts).unwrap(),
            format!("{}-2", a.digest(&joined).to_base64())
        );
        let mixed = [parts[0], PartChecksum::of(ChecksumAlgorithm::Sha1, b"b")];
        assert!(object_checksum(ChecksumType::Composite, &mixed).is_err());
    }

    #[test]
    fn values_are_checked_for_base64_and_length() {
        let a = ChecksumAlgorithm::Crc32c;
        assert_eq!(check_value(a, "4waSgw==", false), Ok(()));
        assert_eq!(check_value(a, "4waSgw==-3", true), Ok(()));
        assert!(check_value(a, "4waSgw==-3", false).is_err());
        assert!(check_value(a, "4waSgw==-0", true).is_err());
        assert_eq!(
            check_value(a, "AAAAAAAAAAA=", false),
            Err(ChecksumError::WrongLength {
                algorithm: a,
                expected: 4,
                got: 8
            })
        );
        assert_eq!(
            check_value(a, "not base64!", false),
            Err(ChecksumError::NotBase64(a))
        );
        let c = Checksum::from_base64(a, "4waSgw==").unwrap();
        assert_eq!(c, a.digest(CHECK));
        assert_eq!(format!("{c:?}"), "CRC32C:4waSgw==");
    }

    #[test]
    fn multipart_etag_matches_the_reference_vector() {
        let parts = [
            etag::md5_of("bce6bf66aeb76c7040fdd5f4eccb78e6").unwrap(),
            etag::md5_of("\"8165449fc15bbf43d3b674595cbcc406\"").unwrap(),
        ];
        assert_eq!(
            etag::multipart(&parts),
            "\"f77dc0eecdebcd774a2a22cb393ad2ff-2\""
        );
        assert_eq!(
            etag::of_md5(&etag::md5(b"")),
            "\"d41d8cd98f00b204e9800998ecf8427e\""
        );
        assert_eq!(etag::md5_of("\"f77dc0eecdebcd774a2a22cb393ad2ff-2\""), None);
        assert!(etag::same("\"abc\"", "abc"));
    }
}
