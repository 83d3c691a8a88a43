//! Per-part checksums sent as `x-amz-checksum-*`, and the whole object's expected checksum.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::Digest as _;

/// The checksum algorithm sent with every part and checked on the final object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumAlgorithm {
    /// CRC-64/NVME, full-object for multipart uploads (S3's default since 2025).
    #[default]
    Crc64nvme,
    /// CRC-32C (Castagnoli), full-object for multipart uploads.
    Crc32c,
    /// SHA-256; multipart objects get a composite checksum (hash of part hashes, then `-N`).
    Sha256,
    /// No checksum: only sizes and ETags are checked.
    None,
}

impl std::str::FromStr for ChecksumAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "crc64nvme" => Ok(Self::Crc64nvme),
            "crc32c" => Ok(Self::Crc32c),
            "sha256" => Ok(Self::Sha256),
            "none" => Ok(Self::None),
            other => Err(format!(
                "unknown checksum {other:?}: use crc64nvme, crc32c, sha256 or none"
            )),
        }
    }
}

impl ChecksumAlgorithm {
    /// The request/response header carrying this checksum, if any.
    pub fn header(self) -> Option<&'static str> {
        match self {
            Self::Crc64nvme => Some("x-amz-checksum-crc64nvme"),
            Self::Crc32c => Some("x-amz-checksum-crc32c"),
            Self::Sha256 => Some("x-amz-checksum-sha256"),
            Self::None => None,
        }
    }

    /// The value of `x-amz-checksum-algorithm` (CreateMultipartUpload).
    pub fn s3_name(self) -> Option<&'static str> {
        match self {
            Self::Crc64nvme => Some("CRC64NVME"),
            Self::Crc32c => Some("CRC32C"),
            Self::Sha256 => Some("SHA256"),
            Self::None => None,
        }
    }

    /// `FULL_OBJECT` for the CRCs (they combine across parts), `COMPOSITE` for SHA-256.
    pub fn multipart_type(self) -> Option<&'static str> {
        match self {
            Self::Crc64nvme | Self::Crc32c => Some("FULL_OBJECT"),
            Self::Sha256 => Some("COMPOSITE"),
            Self::None => None,
        }
    }

    /// Checksums one part.
    pub fn part(self, data: &[u8]) -> Option<PartChecksum> {
        let crc = |alg| PartChecksum::Crc {
            value: crc_fast::checksum(alg, data),
            len: data.len() as u64,
        };
        match self {
            Self::Crc64nvme => Some(crc(crc_fast::CrcAlgorithm::Crc64Nvme)),
            Self::Crc32c => Some(crc(crc_fast::CrcAlgorithm::Crc32Iscsi)),
            Self::Sha256 => Some(PartChecksum::Sha256(sha2::Sha256::digest(data).into())),
            Self::None => None,
        }
    }

    fn crc_algorithm(self) -> Option<crc_fast::CrcAlgorithm> {
        match self {
            Self::Crc64nvme => Some(crc_fast::CrcAlgorithm::Crc64Nvme),
            Self::Crc32c => Some(crc_fast::CrcAlgorithm::Crc32Iscsi),
            _ => None,
        }
    }

    /// Encodes a part checksum as S3 sends it (base64 of the big-endian value or digest).
    pub fn encode(self, sum: &PartChecksum) -> String {
        match (self, sum) {
            (Self::Crc64nvme, PartChecksum::Crc { value, .. }) => {
                STANDARD.encode(value.to_be_bytes())
            }
            (Self::Crc32c, PartChecksum::Crc { value, .. }) => {
                STANDARD.encode((*value as u32).to_be_bytes())
            }
            (_, PartChecksum::Sha256(d)) => STANDARD.encode(d),
            _ => String::new(),
        }
    }

    /// The expected checksum of the whole object, given the part checksums in order.
    ///
    /// For a single PUT it is the part's own checksum. For multipart, the CRCs are combined
    /// into the CRC of the whole object (FULL_OBJECT); SHA-256 is COMPOSITE: the hash of the
    /// concatenated part digests followed by `-N`.
    pub fn object(self, parts: &[PartChecksum], multipart: bool) -> Option<String> {
        if !multipart {
            return parts.first().map(|p| self.encode(p));
        }
        if let Some(alg) = self.crc_algorithm() {
            let mut acc: Option<u64> = None;
            for p in parts {
                let PartChecksum::Crc { value, len } = p else {
                    return None;
                };
                acc = Some(match acc {
                    None => *value,
                    Some(a) => crc_fast::checksum_combine(alg, a, *value, *len),
                });
            }
            let total = PartChecksum::Crc {
                value: acc?,
                len: 0,
            };
            return Some(self.encode(&total));
        }
        if self == Self::Sha256 {
            let mut h = sha2::Sha256::new();
            for p in parts {
                let PartChecksum::Sha256(d) = p else {
                    return None;
                };
                h.update(d);
            }
            let digest: [u8; 32] = h.finalize().into();
            return Some(format!("{}-{}", STANDARD.encode(digest), parts.len()));
        }
        None
    }

    /// Decodes a stored part checksum (from the journal) back into a value.
    pub fn decode(self, encoded: &str, len: u64) -> Option<PartChecksum> {
        let raw = STANDARD.decode(encoded).ok()?;
        match self {
            Self::Crc64nvme => Some(PartChecksum::Crc {
                value: u64::from_be_bytes(raw.try_into().ok()?),
                len,
            }),
            Self::Crc32c => Some(PartChecksum::Crc {
                value: u32::from_be_bytes(raw.try_into().ok()?) as u64,
                len,
            }),
            Self::Sha256 => Some(PartChecksum::Sha256(raw.try_into().ok()?)),
            Self::None => None,
        }
    }
}

/// A part's checksum, kept so the whole object's checksum can be derived at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartChecksum {
    /// A CRC value and the length it covers (needed to combine CRCs).
    Crc { value: u64, len: u64 },
    /// A SHA-256 digest.
    Sha256([u8; 32]),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn combined_crc_equals_whole_object_crc() {
        let d = data(100_000);
        for alg in [ChecksumAlgorithm::Crc64nvme, ChecksumAlgorithm::Crc32c] {
            let parts: Vec<_> = d.chunks(30_000).map(|c| alg.part(c).unwrap()).collect();
            let whole = alg.encode(&alg.part(&d).unwrap());
            assert_eq!(alg.object(&parts, true).unwrap(), whole);
        }
    }

    #[test]
    fn known_crc_values() {
        // CRC-32C("123456789") = 0xE3069283, CRC-64/NVME("123456789") = 0xAE8B14860A799888.
        let c = ChecksumAlgorithm::Crc32c.part(b"123456789").unwrap();
        assert_eq!(
            c,
            PartChecksum::Crc {
                value: 0xE306_9283,
                len: 9
            }
        );
        let n = ChecksumAlgorithm::Crc64nvme.part(b"123456789").unwrap();
        assert_eq!(
            n,
            PartChecksum::Crc {
                value: 0xAE8B_1486_0A79_9888,
                len: 9
            }
        );
        assert_eq!(ChecksumAlgorithm::Crc32c.encode(&c), "4waSgw==");
    }

    #[test]
    fn sha256_is_composite_with_part_count() {
        let alg = ChecksumAlgorithm::Sha256;
        let parts = vec![alg.part(b"a").unwrap(), alg.part(b"b").unwrap()];
        let v = alg.object(&parts, true).unwrap();
        assert!(v.ends_with("-2"));
        let enc = alg.encode(&parts[0]);
        assert_eq!(alg.decode(&enc, 1).unwrap(), parts[0]);
    }
}
