//! The credentials that sign URLs: fixed, or read from the AWS environment variables or a shared
//! credentials file profile and read again before they expire (or every few minutes, since
//! tools rotate those files in place).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hoist_core::time::Timestamp;

/// Re-read credentials this long before they expire.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(600);
/// Re-read file or environment credentials without an expiry this often.
const REFRESH_EVERY: Duration = Duration::from_secs(300);

pub use hoist_core::presign::Credentials;

/// Why credentials could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    #[error("no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in {0}")]
    Missing(String),
    #[error("credentials file {path}: {why}")]
    File { path: String, why: String },
}

#[derive(Debug, Clone)]
enum Origin {
    Fixed,
    /// The AWS variables first, then the profile of the shared credentials file.
    Environment {
        profile: String,
        file: PathBuf,
    },
}

#[derive(Debug)]
struct Cached {
    creds: Arc<Credentials>,
    loaded_at: Timestamp,
}

/// A source of credentials, cheap to clone and to ask.
#[derive(Debug, Clone)]
pub struct CredentialSource {
    origin: Origin,
    cached: Arc<RwLock<Cached>>,
}

impl CredentialSource {
    /// Credentials that never change (the embedded store's, or given on the command line).
    pub fn fixed(creds: Credentials) -> Self {
        Self {
            origin: Origin::Fixed,
            cached: Arc::new(RwLock::new(Cached {
                creds: Arc::new(creds),
                loaded_at: Timestamp::UNIX_EPOCH,
            })),
        }
    }

    /// Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (with
    /// AWS_CREDENTIAL_EXPIRATION), else from the AWS_PROFILE (default `default`) section of
    /// AWS_SHARED_CREDENTIALS_FILE (default `~/.aws/credentials`).
    pub fn from_env(now: Timestamp) -> Result<Self, CredentialsError> {
        let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".to_string());
        let file = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let home = std::env::var_os("HOME").unwrap_or_default();
                PathBuf::from(home).join(".aws").join("credentials")
            });
        let origin = Origin::Environment { profile, file };
        let creds = load(&origin)?;
        Ok(Self {
            origin,
            cached: Arc::new(RwLock::new(Cached {
                creds: Arc::new(creds),
                loaded_at: now,
            })),
        })
    }

    /// The credentials to sign with at `now`, read again first when they are close to expiry
    /// or old. A failed re-read keeps the previous credentials (and logs why). The same `Arc`
    /// comes back until the credentials change, so callers can cache what they derive.
    pub fn current(&self, now: Timestamp) -> Arc<Credentials> {
        {
            let c = self.cached.read().unwrap_or_else(|e| e.into_inner());
            if !self.stale(&c, now) {
                return c.creds.clone();
            }
        }
        let mut c = self.cached.write().unwrap_or_else(|e| e.into_inner());
        if self.stale(&c, now) {
            match load(&self.origin) {
                Ok(fresh) => {
                    if fresh != *c.creds {
                        tracing::info!(access_key = %fresh.access_key, "signing credentials reloaded");
                        c.creds = Arc::new(fresh);
                    }
                }
                Err(err) => tracing::warn!(%err, "could not reload signing credentials"),
            }
            c.loaded_at = now;
        }
        c.creds.clone()
    }

    fn stale(&self, c: &Cached, now: Timestamp) -> bool {
        if matches!(self.origin, Origin::Fixed) {
            return false;
        }
        let near_expiry = c
            .creds
            .expires_at
            .is_some_and(|exp| exp.minus(REFRESH_BEFORE_EXPIRY).millis_since(now) <= 0);
        let old = now.millis_since(c.loaded_at) >= REFRESH_EVERY.as_millis() as i64;
        near_expiry || old
    }
}

fn load(origin: &Origin) -> Result<Credentials, CredentialsError> {
    match origin {
        Origin::Fixed => unreachable!("fixed credentials are never loaded"),
        Origin::Environment { profile, file } => {
            let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            if let (Some(id), Some(secret)) =
                (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
            {
                let mut c = Credentials::new(id, secret);
                if let Some(t) = var("AWS_SESSION_TOKEN") {
                    c = c.with_session_token(t);
                }
                if let Some(exp) =
                    var("AWS_CREDENTIAL_EXPIRATION").and_then(|v| Timestamp::parse_rfc3339(&v).ok())
                {
                    c = c.with_expiry(exp);
                }
                return Ok(c);
            }
            let shown = file.display().to_string();
            let text = match std::fs::read_to_string(file) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(CredentialsError::Missing(shown));
                }
                Err(e) => {
                    return Err(CredentialsError::File {
                        path: shown,
                        why: e.to_string(),
                    });
                }
            };
            parse_profile(&text, profile).ok_or(CredentialsError::Missing(shown))
        }
    }
}

/// Read one `[profile]` section of an INI-style shared credentials file.
fn parse_profile(text: &str, profile: &str) -> Option<Credentials> {
    let mut in_section = false;
    let (mut id, mut secret, mut token, mut exp) = (None, None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            in_section = name == profile || name.strip_prefix("profile ") == Some(profile);
            continue;
        }
        if !in_section {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().to_string();
        match k.trim() {
            "aws_access_key_id" => id = Some(v),
            "aws_secret_access_key" => secret = Some(v),
            "aws_session_token" | "aws_security_token" => token = Some(v),
            "aws_expiration" | "expiration" | "x_security_token_expires" => {
                exp = Timestamp::parse_rfc3339(&v).ok();
            }
            _ => {}
        }
    }
    let mut c = Credentials::new(id?, secret?);
    if let Some(t) = token {
        c = c.with_session_token(t);
    }
    if let Some(e) = exp {
        c = c.with_expiry(e);
    }
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_sections() {
        let text = "[default]\naws_access_key_id = A\naws_secret_access_key = B\n\n\
                    [work]\naws_access_key_id=C\naws_secret_access_key=D\naws_session_token=T\n\
                    aws_expiration = 2030-01-01T00:00:00Z\n";
        let d = parse_profile(text, "default").unwrap();
        assert_eq!((d.access_key.as_str(), d.session_token), ("A", None));
        let w = parse_profile(text, "work").unwrap();
        assert_eq!(w.session_token.as_deref(), Some("T"));
        assert_eq!(
            w.expires_at,
            Some(Timestamp::parse_rfc3339("2030-01-01T00:00:00Z").unwrap())
        );
        assert!(parse_profile(text, "none").is_none());
    }

    #[test]
    fn file_credentials_are_read_again_before_expiry_and_when_old() {
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
            return; // the environment would win over the file
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("credentials");
        let now = Timestamp::from_unix(1_900_000_000);
        let write = |id: &str, exp: Timestamp| {
            let text = format!(
                "[p]\naws_access_key_id={id}\naws_secret_access_key=s\naws_session_token=t\naws_expiration={}\n",
                exp.to_rfc3339()
            );
            std::fs::write(&file, text).unwrap();
        };
        write("A", now.plus(Duration::from_secs(3600)));
        let origin = Origin::Environment {
            profile: "p".into(),
            file: file.clone(),
        };
        let creds = load(&origin).unwrap();
        let src = CredentialSource {
            origin,
            cached: Arc::new(RwLock::new(Cached {
                creds: Arc::new(creds),
                loaded_at: now,
            })),
        };
        let a = src.current(now);
        assert_eq!(a.access_key, "A");
        // Rotated on disk: not read while fresh, read once old enough.
        write("B", now.plus(Duration::from_secs(3600)));
        assert!(Arc::ptr_eq(
            &src.current(now.plus(Duration::from_secs(60))),
            &a
        ));
        let b = src.current(now.plus(REFRESH_EVERY));
        assert_eq!(b.access_key, "B");
        // Close to expiry: read at once.
        let t = now.plus(REFRESH_EVERY).plus(Duration::from_secs(60));
        write("C", now.plus(Duration::from_secs(7200)));
        assert_eq!(src.current(t).access_key, "B", "an hour left: kept");
        let near = now
            .plus(Duration::from_secs(3600))
            .minus(Duration::from_secs(120));
        assert_eq!(src.current(near).access_key, "C");
    }

    #[test]
    fn fixed_never_reloads() {
        let s = CredentialSource::fixed(Credentials::new("a", "b"));
        assert_eq!(
            s.current(Timestamp::from_unix(2_000_000_000)).access_key,
            "a"
        );
    }
}
