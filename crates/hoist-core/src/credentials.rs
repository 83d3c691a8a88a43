//! Credentials as S3 knows them: an access key pair, with the session token and expiry of
//! temporary credentials; read from the AWS variables or a shared credentials file's profile.
//!
//! Reading files and the environment is the I/O layer's; this module only interprets what was
//! read, so the AWS SDKs' rules live in one place.
//!
//! ```
//! use hoist_core::credentials::{Credentials, parse_profile};
//!
//! let file = "[default]\naws_access_key_id = AKID\naws_secret_access_key = SECRET\n";
//! let c = parse_profile(file, "default").unwrap();
//! assert_eq!(c.access_key, "AKID");
//! assert!(!format!("{c:?}").contains("SECRET"));
//! ```

use std::fmt;

use crate::redact::shorten;
use crate::time::Timestamp;

/// An access key pair, with the session token and expiry of temporary credentials.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Credentials {
    /// The access key id (`AKIA…`, `ASIA…`).
    pub access_key: String,
    /// The secret access key.
    pub secret_key: String,
    /// The session token of temporary credentials; signed into the URL as `X-Amz-Security-Token`.
    pub session_token: Option<String>,
    /// When temporary credentials expire; a URL signed with them dies then too.
    pub expires_at: Option<Timestamp>,
}

impl Credentials {
    /// Long-lived credentials.
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Credentials {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            session_token: None,
            expires_at: None,
        }
    }

    /// Adds a session token (temporary credentials).
    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(token.into());
        self
    }

    /// Adds the credentials' expiry.
    pub fn with_expiry(mut self, expires_at: Timestamp) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Whether they have expired at `now`.
    pub fn expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|e| e.millis_since(now) <= 0)
    }
}

impl fmt::Debug for Credentials {
    // The secret and the token never reach logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("session_token", &self.session_token.as_deref().map(shorten))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The environment variables the AWS SDKs read, in their order.
pub const ENV_ACCESS_KEY: &str = "AWS_ACCESS_KEY_ID";
/// The secret's variable.
pub const ENV_SECRET_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// The session token's variable.
pub const ENV_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
/// The expiry's variable (RFC 3339), as credential helpers set it.
pub const ENV_EXPIRATION: &str = "AWS_CREDENTIAL_EXPIRATION";
/// The profile's variable.
pub const ENV_PROFILE: &str = "AWS_PROFILE";
/// The shared credentials file's variable.
pub const ENV_CREDENTIALS_FILE: &str = "AWS_SHARED_CREDENTIALS_FILE";

/// Why the variables do not make credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// An access key without its secret.
    #[error("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")]
    NoSecret,
    /// An expiry that is not RFC 3339.
    #[error("AWS_CREDENTIAL_EXPIRATION is not an RFC 3339 time: {0:?}")]
    BadExpiry(String),
}

/// Credentials from the AWS variables, read through `var` (empty values count as unset).
/// `Ok(None)` when no access key is set, so the caller goes on to the credentials file.
pub fn from_env_vars(
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<Credentials>, CredentialsError> {
    let var = |name: &str| var(name).filter(|v| !v.is_empty());
    let Some(id) = var(ENV_ACCESS_KEY) else {
        return Ok(None);
    };
    let secret = var(ENV_SECRET_KEY).ok_or(CredentialsError::NoSecret)?;
    let mut c = Credentials::new(id, secret);
    if let Some(t) = var(ENV_SESSION_TOKEN) {
        c = c.with_session_token(t);
    }
    if let Some(e) = var(ENV_EXPIRATION) {
        let at = Timestamp::parse_rfc3339(&e).map_err(|_| CredentialsError::BadExpiry(e))?;
        c = c.with_expiry(at);
    }
    Ok(Some(c))
}

/// One profile of an INI-style shared credentials file (`[name]` or `[profile name]`), with
/// `aws_session_token` (or the older `aws_security_token`) and an expiry when a credential
/// helper wrote one. `None` when the profile lacks the key pair.
pub fn parse_profile(text: &str, profile: &str) -> Option<Credentials> {
    let mut in_section = false;
    let (mut id, mut secret, mut token, mut expiry) = (None, None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            in_section =
                name == profile || name.strip_prefix("profile ").map(str::trim) == Some(profile);
            continue;
        }
        let Some((k, v)) = line.split_once('=').filter(|_| in_section) else {
            continue;
        };
        let v = v.trim().to_owned();
        match k.trim().to_ascii_lowercase().as_str() {
            "aws_access_key_id" => id = Some(v),
            "aws_secret_access_key" => secret = Some(v),
            "aws_session_token" | "aws_security_token" => token = Some(v),
            "aws_expiration" | "expiration" | "x_security_token_expires" => {
                expiry = Timestamp::parse_rfc3339(&v).ok();
            }
            _ => {}
        }
    }
    let mut c = Credentials::new(id?, secret?);
    c.session_token = token;
    c.expires_at = expiry;
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_named_profile_only() {
        let text = "[default]\naws_access_key_id = A\naws_secret_access_key = B\n\n\
                    [profile work]\n# comment\naws_access_key_id=C\naws_secret_access_key=D\n\
                    aws_session_token = T\naws_expiration = 2030-01-01T00:00:00Z\n\
                    [old]\naws_access_key_id=E\naws_secret_access_key=F\naws_security_token=U\n";
        let d = parse_profile(text, "default").unwrap();
        assert_eq!((d.access_key.as_str(), d.secret_key.as_str()), ("A", "B"));
        assert_eq!((d.session_token, d.expires_at), (None, None));
        let w = parse_profile(text, "work").unwrap();
        assert_eq!(
            (w.access_key.as_str(), w.session_token.as_deref()),
            ("C", Some("T"))
        );
        assert_eq!(
            w.expires_at,
            Some(Timestamp::parse_rfc3339("2030-01-01T00:00:00Z").unwrap())
        );
        assert_eq!(
            parse_profile(text, "old").unwrap().session_token.as_deref(),
            Some("U")
        );
        assert!(parse_profile(text, "other").is_none());
        assert!(parse_profile("[p]\naws_access_key_id=A\n", "p").is_none());
    }

    #[test]
    fn environment_variables_in_the_sdk_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(from_env_vars(env(&[])), Ok(None));
        assert_eq!(from_env_vars(env(&[(ENV_ACCESS_KEY, "")])), Ok(None));
        assert_eq!(
            from_env_vars(env(&[(ENV_ACCESS_KEY, "A")])),
            Err(CredentialsError::NoSecret)
        );
        let c = from_env_vars(env(&[
            (ENV_ACCESS_KEY, "A"),
            (ENV_SECRET_KEY, "S"),
            (ENV_SESSION_TOKEN, "T"),
            (ENV_EXPIRATION, "2030-01-01T00:00:00Z"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.session_token.as_deref(), Some("T"));
        assert!(!c.expired(Timestamp::from_unix(1_800_000_000)));
        assert!(c.expired(Timestamp::from_unix(1_900_000_000)));
        assert!(matches!(
            from_env_vars(env(&[
                (ENV_ACCESS_KEY, "A"),
                (ENV_SECRET_KEY, "S"),
                (ENV_EXPIRATION, "soon")
            ])),
            Err(CredentialsError::BadExpiry(_))
        ));
    }

    #[test]
    fn debug_hides_the_secret_and_shortens_the_token() {
        let c = Credentials::new("AKID", "very-secret")
            .with_session_token("FwoGZXIvYXdzEJr-long-token");
        let shown = format!("{c:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(!shown.contains("long-token"), "{shown}");
        assert!(shown.contains("AKID"));
    }
}
