//! Folder tokens: a folder of uploads (`POST /v1/uploads/batch` with `path`s) kept by the
//! caller it was made for, so that a later batch continues into the same folder.
//!
//! A folder is a random id; its token binds it to the caller's owner string
//! ([`crate::auth::Principal::owner`]) with an HMAC under the token secret, so that replicas
//! sharing the secret accept it and no other caller can write into the folder with it.
//!
//! Layout before base64url (no padding), 44 characters in all:
//! `version(1) | folder id(16) | mac(16)`, where the MAC (HMAC-SHA256 truncated to its first
//! 16 bytes) covers `"hoist folder token\0" | version | folder id | owner`. The owner is not
//! carried: the caller presenting the token supplies it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;

use super::TokenKey;

const FOLDER_VERSION: u8 = 1;
const ID_LEN: usize = 16;
const FOLDER_MAC_LEN: usize = 16;
/// Keeps a folder token's MAC apart from an upload token's under the same key.
const DOMAIN: &[u8] = b"hoist folder token\0";

/// A folder's id: 16 random bytes, shown as a UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderId([u8; ID_LEN]);

impl FolderId {
    /// A fresh, random folder id.
    pub fn generate() -> Self {
        Self(crate::keys::uuid_v4_bytes())
    }
}

impl std::fmt::Display for FolderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::keys::uuid_text(&self.0))
    }
}

/// Why a folder token was refused. Both mean the same to its caller: this token is not
/// theirs to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FolderError {
    #[error("the folder token is not one this coordinator makes")]
    Malformed,
    #[error(
        "the folder token was not issued to this caller by a coordinator with this token \
         secret (another caller's, tampered, or from another secret)"
    )]
    NotYours,
}

impl TokenKey {
    fn folder_mac(&self, id: &FolderId, owner: &str) -> hmac::Hmac<sha2::Sha256> {
        let mut mac = self.mac.clone();
        mac.update(DOMAIN);
        mac.update(&[FOLDER_VERSION]);
        mac.update(&id.0);
        mac.update(owner.as_bytes());
        mac
    }

    /// The token of folder `id` for the caller `owner`.
    pub fn seal_folder(&self, id: &FolderId, owner: &str) -> String {
        let tag = self.folder_mac(id, owner).finalize().into_bytes();
        let mut buf = Vec::with_capacity(1 + ID_LEN + FOLDER_MAC_LEN);
        buf.push(FOLDER_VERSION);
        buf.extend_from_slice(&id.0);
        buf.extend_from_slice(&tag[..FOLDER_MAC_LEN]);
        URL_SAFE_NO_PAD.encode(buf)
    }

    /// The folder `text` names, when it was sealed for `owner` under this key.
    pub fn open_folder(&self, text: &str, owner: &str) -> Result<FolderId, FolderError> {
        // Checked before decoding: a long text is not worth the work.
        if text.len() > 64 {
            return Err(FolderError::Malformed);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| FolderError::Malformed)?;
        if raw.len() != 1 + ID_LEN + FOLDER_MAC_LEN || raw[0] != FOLDER_VERSION {
            return Err(FolderError::Malformed);
        }
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&raw[1..=ID_LEN]);
        let id = FolderId(id);
        // Constant-time comparison of the truncated tag.
        self.folder_mac(&id, owner)
            .verify_truncated_left(&raw[1 + ID_LEN..])
            .map_err(|_| FolderError::NotYours)?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_token_opens_for_its_owner_only() {
        let k = TokenKey::new(b"0123456789abcdef0123456789abcdef");
        let id = FolderId::generate();
        let t = k.seal_folder(&id, "key:abc");
        assert_eq!(t.len(), 44);
        assert!(
            t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(k.open_folder(&t, "key:abc"), Ok(id));
        assert_eq!(k.open_folder(&t, "key:abd"), Err(FolderError::NotYours));
        // A replica with the same secret accepts it; one with another does not.
        let same = TokenKey::new(b"0123456789abcdef0123456789abcdef");
        assert_eq!(same.open_folder(&t, "key:abc"), Ok(id));
        let other = TokenKey::new(b"another secret, another coordinator");
        assert_eq!(other.open_folder(&t, "key:abc"), Err(FolderError::NotYours));
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let k = TokenKey::new(b"k");
        let raw = URL_SAFE_NO_PAD
            .decode(k.seal_folder(&FolderId::generate(), "anonymous"))
            .unwrap();
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            let text = URL_SAFE_NO_PAD.encode(&bad);
            assert!(k.open_folder(&text, "anonymous").is_err(), "byte {i}");
        }
        for junk in ["", "%%%", "AAAA", &"A".repeat(100)] {
            assert_eq!(
                k.open_folder(junk, "anonymous"),
                Err(FolderError::Malformed)
            );
        }
    }

    #[test]
    fn an_upload_token_is_no_folder_token() {
        let k = TokenKey::new(b"k");
        let upload = k.seal(&crate::token::UploadToken {
            bucket: "b".into(),
            key: "k".into(),
            upload_id: String::new(),
            size: 1,
            part_size: 1,
            owner: "anonymous".into(),
            expires_at: u64::MAX,
            content_type: "a/b".into(),
            no_clobber: false,
        });
        assert!(k.open_folder(&upload, "anonymous").is_err());
    }
}
