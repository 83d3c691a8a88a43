//! Upload tokens: the upload's identity, signed by the coordinator, so that no database is needed.
//!
//! A token carries everything a replica needs to serve any later request about the upload
//! (bucket, key, S3 upload id, size, part size, owner, expiry). It is signed with
//! HMAC-SHA256, not encrypted: callers may read it, they cannot change it.
//!
//! Layout before base64url (no padding): `version(1) | expires_at(8) | size(8) | part_size(8) |
//! bucket | key | upload_id | owner | content_type | mac(32)`, where each string is a u16 big-endian length and
//! its UTF-8 bytes, and the MAC covers every byte before it.
//!
//! An upload made with a checksum has a version 2 token: the same fields, then
//! `algorithm(1) | type(1) | value` before the MAC, where `algorithm` is an index into
//! [`ChecksumAlgorithm::ALL`], `type` is 0 for FULL_OBJECT and 1 for COMPOSITE, and `value`
//! (a string as above, possibly empty) is a single PUT's pinned whole-object checksum.
//! Uploads without a checksum keep version 1 tokens, byte for byte.
//!
//! An upload that must not replace an object at its key (no-clobber) has version 3 (else 1)
//! or 4 (else 2): the same layout, the version alone saying so.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::api::{ChecksumAlgorithm, ChecksumType};

mod folder;
mod secret;

pub use folder::{FolderError, FolderId};
pub use secret::{MIN_TOKEN_SECRET_LEN, TOKEN_SECRET_FILE, TokenSecret, TokenSecretError};

const VERSION: u8 = 1;
const VERSION_CHECKSUM: u8 = 2;
/// Added to the version of a no-clobber upload's token.
const NO_CLOBBER: u8 = 2;
const MAC_LEN: usize = 32;
/// Tokens travel in URL paths; keys are at most 1024 bytes, so this is generous.
const MAX_TOKEN_CHARS: usize = 4096;

/// What an upload token says about its upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadToken {
    pub bucket: String,
    pub key: String,
    /// The store's multipart upload id; empty for a single-PUT upload.
    pub upload_id: String,
    pub size: u64,
    /// Planned part size; for a single PUT, the object size.
    pub part_size: u64,
    /// Who created the upload (see [`crate::auth::Principal::owner`]).
    pub owner: String,
    /// Unix seconds after which the token is refused.
    pub expires_at: u64,
    /// The content type a single PUT is pinned to (so its URL can be signed again).
    pub content_type: String,
    /// The upload must not replace an object at its key (`If-None-Match: *` on its PUT or
    /// its Complete).
    pub no_clobber: bool,
}

/// The checksum an upload was created with, carried by its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenChecksum {
    pub algorithm: ChecksumAlgorithm,
    /// For multipart uploads, how the object's checksum derives from the parts'.
    pub kind: ChecksumType,
    /// A single PUT's whole-object value (base64), pinned into every URL signed for it.
    pub value: Option<String>,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error("the upload id is not a valid token")]
    Malformed,
    #[error("the upload id was not signed by this coordinator (tampered, or from another key)")]
    BadSignature,
    #[error("the upload id is of an unknown version {0}")]
    UnknownVersion(u8),
    #[error("the upload id expired at {0} (unix seconds)")]
    Expired(u64),
}

/// The HMAC key that signs and checks tokens; replicas that share it share uploads.
#[derive(Clone)]
pub struct TokenKey {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    /// A key from secret bytes (at least 16 are expected; HMAC takes any length).
    pub fn new(secret: &[u8]) -> Self {
        // HMAC accepts keys of every length, so this cannot fail.
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("any key length");
        Self { mac }
    }

    /// Serialize and sign `token`.
    pub fn seal(&self, token: &UploadToken) -> String {
        self.seal_with(token, None)
    }

    /// Serialize and sign `token` with the checksum its upload was created with.
    pub fn seal_with(&self, token: &UploadToken, checksum: Option<&TokenChecksum>) -> String {
        let mut buf = Vec::with_capacity(
            64 + token.bucket.len()
                + token.key.len()
                + token.upload_id.len()
                + token.owner.len()
                + token.content_type.len(),
        );
        let version = if checksum.is_some() {
            VERSION_CHECKSUM
        } else {
            VERSION
        };
        buf.push(version + if token.no_clobber { NO_CLOBBER } else { 0 });
        buf.extend_from_slice(&token.expires_at.to_be_bytes());
        buf.extend_from_slice(&token.size.to_be_bytes());
        buf.extend_from_slice(&token.part_size.to_be_bytes());
        for s in [
            &token.bucket,
            &token.key,
            &token.upload_id,
            &token.owner,
            &token.content_type,
        ] {
            // Fields are bounded well below 64 KiB by validation before a token is sealed.
            let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
            buf.extend_from_slice(&len.to_be_bytes());
            buf.extend_from_slice(&s.as_bytes()[..usize::from(len)]);
        }
        if let Some(c) = checksum {
            let index = ChecksumAlgorithm::ALL
                .iter()
                .position(|a| *a == c.algorithm)
                .unwrap_or(0);
            buf.push(index as u8);
            buf.push(match c.kind {
                ChecksumType::FullObject => 0,
                ChecksumType::Composite => 1,
            });
            // A base64 digest is at most 44 bytes.
            let value = c.value.as_deref().unwrap_or("");
            buf.extend_from_slice(&(value.len() as u16).to_be_bytes());
            buf.extend_from_slice(value.as_bytes());
        }
        let mut mac = self.mac.clone();
        mac.update(&buf);
        buf.extend_from_slice(&mac.finalize().into_bytes());
        URL_SAFE_NO_PAD.encode(buf)
    }

    /// Check the signature and expiry of `text` at `now` (unix seconds) and decode it; the
    /// checksum of a version 2 token is left out (see [`TokenKey::open_with`]).
    pub fn open(&self, text: &str, now: u64) -> Result<UploadToken, TokenError> {
        self.open_with(text, now).map(|(token, _)| token)
    }

    /// Like [`TokenKey::open`], with the checksum the upload was created with, if any.
    pub fn open_with(
        &self,
        text: &str,
        now: u64,
    ) -> Result<(UploadToken, Option<TokenChecksum>), TokenError> {
        if text.len() > MAX_TOKEN_CHARS {
            return Err(TokenError::Malformed);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| TokenError::Malformed)?;
        if raw.len() < 1 + 24 + 8 + MAC_LEN {
            return Err(TokenError::Malformed);
        }
        let (body, tag) = raw.split_at(raw.len() - MAC_LEN);
        let mut mac = self.mac.clone();
        mac.update(body);
        // Constant-time comparison; the version is only trusted once the MAC holds.
        mac.verify_slice(tag)
            .map_err(|_| TokenError::BadSignature)?;
        if !(VERSION..=VERSION_CHECKSUM + NO_CLOBBER).contains(&body[0]) {
            return Err(TokenError::UnknownVersion(body[0]));
        }
        let no_clobber = body[0] > VERSION_CHECKSUM;
        let version = body[0] - if no_clobber { NO_CLOBBER } else { 0 };
        let mut r = Reader { buf: &body[1..] };
        let expires_at = r.u64()?;
        let size = r.u64()?;
        let part_size = r.u64()?;
        let bucket = r.string()?;
        let key = r.string()?;
        let upload_id = r.string()?;
        let owner = r.string()?;
        let content_type = r.string()?;
        let checksum = if version == VERSION_CHECKSUM {
            let head = r.take(2)?;
            let algorithm = *ChecksumAlgorithm::ALL
                .get(usize::from(head[0]))
                .ok_or(TokenError::Malformed)?;
            let kind = match head[1] {
                0 => ChecksumType::FullObject,
                1 => ChecksumType::Composite,
                _ => return Err(TokenError::Malformed),
            };
            let value = Some(r.string()?).filter(|v| !v.is_empty());
            Some(TokenChecksum {
                algorithm,
                kind,
                value,
            })
        } else {
            None
        };
        if !r.buf.is_empty() {
            return Err(TokenError::Malformed);
        }
        if now >= expires_at {
            return Err(TokenError::Expired(expires_at));
        }
        let token = UploadToken {
            bucket,
            key,
            upload_id,
            size,
            part_size,
            owner,
            expires_at,
            content_type,
            no_clobber,
        };
        Ok((token, checksum))
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], TokenError> {
        if self.buf.len() < n {
            return Err(TokenError::Malformed);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn u64(&mut self) -> Result<u64, TokenError> {
        let b = self.take(8)?;
        Ok(u64::from_be_bytes(
            b.try_into().map_err(|_| TokenError::Malformed)?,
        ))
    }

    fn string(&mut self) -> Result<String, TokenError> {
        let len = self.take(2)?;
        let len = u16::from_be_bytes([len[0], len[1]]);
        let bytes = self.take(usize::from(len))?;
        String::from_utf8(bytes.to_vec()).map_err(|_| TokenError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> UploadToken {
        UploadToken {
            bucket: "uploads".into(),
            key: "files/0b8e/ä photo.jpg".into(),
            upload_id: "abc-123".into(),
            size: 300 << 20,
            part_size: 8 << 20,
            owner: "key:deadbeef".into(),
            expires_at: 2_000_000_000,
            content_type: "image/jpeg".into(),
            no_clobber: false,
        }
    }

    #[test]
    fn no_clobber_round_trips_in_versions_3_and_4() {
        let k = TokenKey::new(b"k");
        let token = UploadToken {
            no_clobber: true,
            ..sample()
        };
        let c = TokenChecksum {
            algorithm: ChecksumAlgorithm::Crc64Nvme,
            kind: ChecksumType::FullObject,
            value: None,
        };
        for (checksum, version) in [(None, 3), (Some(&c), 4)] {
            let t = k.seal_with(&token, checksum);
            assert_eq!(URL_SAFE_NO_PAD.decode(&t).unwrap()[0], version);
            assert_eq!(
                k.open_with(&t, 0).unwrap(),
                (token.clone(), checksum.cloned())
            );
        }
    }

    #[test]
    fn round_trip_and_url_safe() {
        let k = TokenKey::new(b"0123456789abcdef0123456789abcdef");
        let t = k.seal(&sample());
        assert!(
            t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(k.open(&t, 1_900_000_000).unwrap(), sample());
    }

    #[test]
    fn checksum_round_trips_and_plain_tokens_stay_version_1() {
        let k = TokenKey::new(b"k");
        let plain = URL_SAFE_NO_PAD.decode(k.seal(&sample())).unwrap();
        assert_eq!(plain[0], VERSION);
        for (algorithm, kind, value) in [
            (ChecksumAlgorithm::Crc64Nvme, ChecksumType::FullObject, None),
            (
                ChecksumAlgorithm::Sha256,
                ChecksumType::Composite,
                Some("n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=".to_string()),
            ),
        ] {
            let c = TokenChecksum {
                algorithm,
                kind,
                value,
            };
            let t = k.seal_with(&sample(), Some(&c));
            assert_eq!(k.open_with(&t, 0).unwrap(), (sample(), Some(c.clone())));
            // Callers that know nothing of checksums still read the upload.
            assert_eq!(k.open(&t, 0).unwrap(), sample());
        }
        assert_eq!(
            k.open_with(&k.seal(&sample()), 0).unwrap(),
            (sample(), None)
        );
    }

    #[test]
    fn every_flipped_byte_of_a_checksum_token_is_refused() {
        let k = TokenKey::new(b"k");
        let c = TokenChecksum {
            algorithm: ChecksumAlgorithm::Crc32c,
            kind: ChecksumType::Composite,
            value: None,
        };
        let raw = URL_SAFE_NO_PAD
            .decode(k.seal_with(&sample(), Some(&c)))
            .unwrap();
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            assert!(
                k.open(&URL_SAFE_NO_PAD.encode(&bad), 0).is_err(),
                "byte {i}"
            );
        }
    }

    #[test]
    fn expired_refused() {
        let k = TokenKey::new(b"k");
        let t = k.seal(&sample());
        assert_eq!(
            k.open(&t, 2_000_000_000),
            Err(TokenError::Expired(2_000_000_000))
        );
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let k = TokenKey::new(b"k");
        let raw = URL_SAFE_NO_PAD.decode(k.seal(&sample())).unwrap();
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            let text = URL_SAFE_NO_PAD.encode(&bad);
            assert!(k.open(&text, 0).is_err(), "byte {i} flipped was accepted");
        }
    }

    #[test]
    fn foreign_key_refused() {
        let t = TokenKey::new(b"one").seal(&sample());
        assert_eq!(
            TokenKey::new(b"two").open(&t, 0),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            TokenKey::new(b"two").open("%%%", 0),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            TokenKey::new(b"two").open("", 0),
            Err(TokenError::Malformed)
        );
    }
}
