//! Standard Webhooks signing: the secret in its `whsec_<base64>` form, the `v1,<base64>`
//! signature of `id.timestamp.body`, and the ids derived from an upload so that a replay by
//! any replica carries the same id.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Fewest bytes a hook secret may decode to (Standard Webhooks asks for 24 to 64).
pub const MIN_HOOK_SECRET_BYTES: usize = 16;
/// Domain separation: event ids are keyed from the token secret, but not with the token key.
const IDS_LABEL: &[u8] = b"hoist hook event ids v1";
/// Bytes of an HMAC kept in an id: 128 bits.
const ID_BYTES: usize = 16;

/// Why a hook secret was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HookSecretError {
    #[error("a hook secret is `whsec_` followed by base64 (standard alphabet)")]
    NotBase64,
    #[error("a hook secret must decode to at least {MIN_HOOK_SECRET_BYTES} bytes")]
    TooShort,
}

/// The key hooks are signed with: the bytes that `whsec_<base64>` decodes to. Its `Debug`
/// shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct HookSecret(Vec<u8>);

impl std::fmt::Debug for HookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HookSecret(<{} bytes, redacted>)", self.0.len())
    }
}

impl HookSecret {
    /// Reads `whsec_<base64>`; the prefix may be left out, as the verification libraries
    /// allow.
    pub fn parse(text: &str) -> Result<Self, HookSecretError> {
        let b64 = text.trim();
        let b64 = b64.strip_prefix("whsec_").unwrap_or(b64);
        let key = STANDARD
            .decode(b64)
            .map_err(|_| HookSecretError::NotBase64)?;
        if key.len() < MIN_HOOK_SECRET_BYTES {
            return Err(HookSecretError::TooShort);
        }
        Ok(Self(key))
    }

    /// The `webhook-signature` header's value for a message: `v1,` and the base64 of
    /// HMAC-SHA256 over `{id}.{timestamp}.{body}`.
    pub fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// Ids derived from what an upload is, under a key derived from the token secret: replicas
/// that share uploads give one upload, and each of its events, the same id.
#[derive(Clone)]
pub struct EventIds(Hmac<Sha256>);

impl std::fmt::Debug for EventIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventIds(..)")
    }
}

impl EventIds {
    pub fn new(token_secret: &[u8]) -> Self {
        let mut derive =
            <Hmac<Sha256> as KeyInit>::new_from_slice(token_secret).expect("any key length");
        derive.update(IDS_LABEL);
        let key = derive.finalize().into_bytes();
        Self(<Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("any key length"))
    }

    fn id(&self, prefix: &str, fields: &[&str]) -> String {
        let mut mac = self.0.clone();
        // Length-prefixed fields: no two different tuples feed the same bytes.
        for f in fields {
            mac.update(&(f.len() as u64).to_be_bytes());
            mac.update(f.as_bytes());
        }
        let full = mac.finalize().into_bytes();
        format!("{prefix}{}", URL_SAFE_NO_PAD.encode(&full[..ID_BYTES]))
    }

    /// `upl_…`: the id of the upload that `identity` names (see [`super::Hooks::upload_id`]).
    pub fn upload(&self, identity: &[&str]) -> String {
        self.id("upl_", identity)
    }

    /// `msg_…`: the id of the event `kind` of upload `upload_id`, the `webhook-id` a
    /// receiver deduplicates by.
    pub fn event(&self, upload_id: &str, kind: &str) -> String {
        self.id("msg_", &[upload_id, kind])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_whsec_base64() {
        let s = HookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            s,
            HookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
        );
        assert_eq!(
            HookSecret::parse("whsec_not base64!"),
            Err(HookSecretError::NotBase64)
        );
        assert_eq!(
            HookSecret::parse("whsec_c2hvcnQ="),
            Err(HookSecretError::TooShort)
        );
        assert!(!format!("{s:?}").contains("MfKQ"));
    }

    #[test]
    fn ids_depend_on_the_upload_and_the_secret_only() {
        let a = EventIds::new(b"token secret token secret");
        let b = EventIds::new(b"token secret token secret");
        let other = EventIds::new(b"another secret entirely!!");
        let up = a.upload(&["multipart", "b", "k", "u1"]);
        assert!(up.starts_with("upl_") && up.len() == 4 + 22, "{up}");
        assert_eq!(up, b.upload(&["multipart", "b", "k", "u1"]));
        assert_ne!(up, other.upload(&["multipart", "b", "k", "u1"]));
        assert_ne!(up, a.upload(&["multipart", "b", "ku", "1"]));
        let done = a.event(&up, "upload.completed");
        assert_eq!(done, b.event(&up, "upload.completed"));
        assert_ne!(done, a.event(&up, "upload.created"));
        assert!(done.starts_with("msg_"));
    }
}
