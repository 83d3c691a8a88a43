//! Who may upload: API keys for servers, HS256 grants (JWTs minted by the app) for browsers,
//! and anonymous callers only where the configuration allows them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// A JWT grant longer than this is refused before any decoding.
const MAX_GRANT_CHARS: usize = 8192;

/// The claims of a browser grant (an HS256 JWT signed with the grant secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantClaims {
    /// The app's user id; becomes the upload's owner.
    pub sub: String,
    /// Expiry, unix seconds.
    pub exp: u64,
    /// Every key this grant creates or touches lies under this prefix (as a folder).
    pub prefix: String,
    /// Largest object the grant allows, bytes.
    #[serde(default)]
    pub max_size: Option<u64>,
    /// Allowed content types (`image/*` style wildcards); empty or absent allows any.
    #[serde(default)]
    pub content_types: Vec<String>,
    /// Whether the caller may choose the key (still under `prefix`) instead of a generated one.
    #[serde(default)]
    pub choose_key: bool,
    /// Not before, unix seconds.
    #[serde(default)]
    pub nbf: Option<u64>,
    /// Every upload of this grant refuses to replace an object at its key, asked or not.
    #[serde(default)]
    pub no_clobber: bool,
}

impl GrantClaims {
    /// Whether `key` lies under this grant's prefix, treating the prefix as a folder so that
    /// `users/4` never reaches `users/42/…`.
    pub fn covers_key(&self, key: &str) -> bool {
        let prefix = self.prefix.trim_end_matches('/');
        if prefix.is_empty() {
            return true;
        }
        key.strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
    }

    /// Whether `content_type` is among the allowed ones.
    pub fn allows_type(&self, content_type: &str) -> bool {
        if self.content_types.is_empty() {
            return true;
        }
        let ct = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        self.content_types.iter().any(|allowed| {
            let allowed = allowed.to_ascii_lowercase();
            match allowed.strip_suffix("/*") {
                Some(major) => ct.split('/').next() == Some(major) && ct.contains('/'),
                None => allowed == "*" || allowed == "*/*" || allowed == ct,
            }
        })
    }
}

/// The caller of a request, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A server holding one of the configured API keys (identified by a hash, never the key).
    ApiKey {
        id: String,
    },
    /// A browser holding an app-minted grant.
    Grant(GrantClaims),
    Anonymous,
}

impl Principal {
    /// The owner string sealed into upload tokens; requests about an upload must come from the
    /// same owner.
    pub fn owner(&self) -> String {
        match self {
            Principal::ApiKey { id } => format!("key:{id}"),
            Principal::Grant(c) => format!("grant:{}:{}", c.sub, c.prefix.trim_end_matches('/')),
            Principal::Anonymous => "anonymous".to_string(),
        }
    }

    /// Whether every upload of this caller must refuse to replace an object (its grant says
    /// so).
    pub fn forces_no_clobber(&self) -> bool {
        matches!(self, Principal::Grant(g) if g.no_clobber)
    }
}

/// The configured ways in.
#[derive(Clone, Default)]
pub struct Authenticator {
    /// SHA-256 of each API key: compared by hash so that timing reveals nothing useful.
    api_keys: Vec<[u8; 32]>,
    grant_mac: Option<Hmac<Sha256>>,
    anonymous: bool,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("api_keys", &self.api_keys.len())
            .field("grants", &self.grant_mac.is_some())
            .field("anonymous", &self.anonymous)
            .finish()
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Authenticator {
    pub fn new(api_keys: &[String], grant_secret: Option<&[u8]>, anonymous: bool) -> Self {
        Self {
            api_keys: api_keys.iter().map(|k| sha256(k.as_bytes())).collect(),
            grant_mac: grant_secret
                .map(|s| <Hmac<Sha256> as KeyInit>::new_from_slice(s).expect("any key length")),
            anonymous,
        }
    }

    pub fn anonymous_allowed(&self) -> bool {
        self.anonymous
    }

    /// Authenticate a request from its headers at `now` (unix seconds).
    pub fn authenticate(&self, headers: &HeaderMap, now: u64) -> Result<Principal, ApiError> {
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return if self.anonymous {
                Ok(Principal::Anonymous)
            } else {
                Err(ApiError::unauthorized(
                    "unauthenticated",
                    "this coordinator needs an API key or a grant: Authorization: Bearer <token>",
                ))
            };
        };
        let value = value.to_str().unwrap_or("");
        let Some(token) = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
        else {
            return Err(ApiError::unauthorized(
                "bad_authorization",
                "the Authorization header must be `Bearer <api key or grant>`",
            ));
        };
        let token = token.trim();
        if token.matches('.').count() == 2 {
            return self.verify_grant(token, now).map(Principal::Grant);
        }
        let hash = sha256(token.as_bytes());
        // Compare every configured key without short-circuiting.
        let mut found = false;
        for k in &self.api_keys {
            found |= constant_eq(k, &hash);
        }
        if found {
            Ok(Principal::ApiKey {
                id: hex(&hash[..8]),
            })
        } else {
            Err(ApiError::unauthorized(
                "bad_api_key",
                "the API key is not one this coordinator knows",
            ))
        }
    }

    /// Check an HS256 JWT's header, signature, expiry and claims.
    pub fn verify_grant(&self, jwt: &str, now: u64) -> Result<GrantClaims, ApiError> {
        let bad = |why: &str| ApiError::unauthorized("bad_grant", format!("grant refused: {why}"));
        let Some(mac) = &self.grant_mac else {
            return Err(bad("this coordinator is not configured to accept grants"));
        };
        if jwt.len() > MAX_GRANT_CHARS {
            return Err(bad("too long"));
        }
        let mut it = jwt.split('.');
        let (Some(h), Some(p), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(bad("not a JWT"));
        };
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| bad("signature is not base64url"))?;
        let mut mac = mac.clone();
        mac.update(h.as_bytes());
        mac.update(b".");
        mac.update(p.as_bytes());
        mac.verify_slice(&sig).map_err(|_| {
            bad("signature does not match (tampered, or signed with another secret)")
        })?;
        // The header is only read once the signature holds: a forged `alg` changes nothing.
        let header: serde_json::Value = URL_SAFE_NO_PAD
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| bad("header is not base64url JSON"))?;
        if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
            return Err(bad("alg must be HS256"));
        }
        let claims: GrantClaims = URL_SAFE_NO_PAD
            .decode(p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| bad("claims must be JSON with sub, exp and prefix"))?;
        if now >= claims.exp {
            return Err(ApiError::unauthorized(
                "grant_expired",
                format!("grant expired at {} (unix seconds)", claims.exp),
            ));
        }
        if claims.nbf.is_some_and(|nbf| now < nbf) {
            return Err(bad("not valid yet (nbf)"));
        }
        Ok(claims)
    }
}

fn constant_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Mint an HS256 grant: what an app's backend does (here for tests, tools and examples).
pub fn mint_grant(secret: &[u8], claims: &GrantClaims) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("any key length");
    mac.update(header.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{header}.{payload}.{sig}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(prefix: &str, exp: u64) -> GrantClaims {
        GrantClaims {
            sub: "user-1".into(),
            exp,
            prefix: prefix.into(),
            max_size: Some(1000),
            content_types: vec!["image/*".into(), "application/pdf".into()],
            choose_key: false,
            nbf: None,
            no_clobber: false,
        }
    }

    fn bearer(t: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            format!("Bearer {t}").parse().unwrap(),
        );
        h
    }

    #[test]
    fn prefix_is_a_folder() {
        let c = claims("users/4", 10);
        assert!(c.covers_key("users/4/a.txt"));
        assert!(!c.covers_key("users/42/a.txt"));
        assert!(!c.covers_key("users/4"));
        assert!(!c.covers_key("other/users/4/a"));
    }

    #[test]
    fn content_type_wildcards() {
        let c = claims("p", 10);
        assert!(c.allows_type("image/png"));
        assert!(c.allows_type("application/pdf; charset=binary"));
        assert!(!c.allows_type("text/html"));
        assert!(!c.allows_type("image"));
    }

    #[test]
    fn grant_checks() {
        let auth = Authenticator::new(&[], Some(b"s3cret"), false);
        let good = mint_grant(b"s3cret", &claims("p", 100));
        assert!(matches!(
            auth.authenticate(&bearer(&good), 50),
            Ok(Principal::Grant(_))
        ));
        let e = auth.authenticate(&bearer(&good), 100).unwrap_err();
        assert_eq!(e.code, "grant_expired");
        let foreign = mint_grant(b"other", &claims("p", 100));
        assert_eq!(
            auth.authenticate(&bearer(&foreign), 50).unwrap_err().code,
            "bad_grant"
        );
        // Change the prefix in the payload and keep the old signature.
        let mut parts: Vec<String> = good.split('.').map(String::from).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims("", 100)).unwrap());
        let tampered = parts.join(".");
        assert_eq!(
            auth.authenticate(&bearer(&tampered), 50).unwrap_err().code,
            "bad_grant"
        );
    }

    #[test]
    fn api_keys_and_anonymous() {
        let auth = Authenticator::new(&["k1".into()], None, false);
        assert!(matches!(
            auth.authenticate(&bearer("k1"), 0),
            Ok(Principal::ApiKey { .. })
        ));
        assert_eq!(
            auth.authenticate(&bearer("k2"), 0).unwrap_err().code,
            "bad_api_key"
        );
        assert_eq!(
            auth.authenticate(&HeaderMap::new(), 0).unwrap_err().status,
            401
        );
        let anon = Authenticator::new(&[], None, true);
        assert_eq!(
            anon.authenticate(&HeaderMap::new(), 0).unwrap(),
            Principal::Anonymous
        );
        // A grant sent to a coordinator without a grant secret is refused, not ignored.
        let g = mint_grant(b"x", &claims("p", 100));
        assert_eq!(
            anon.authenticate(&bearer(&g), 0).unwrap_err().code,
            "bad_grant"
        );
    }
}
