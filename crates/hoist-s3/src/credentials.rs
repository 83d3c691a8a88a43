//! The credentials that sign: fixed, or read from the AWS variables or a shared credentials
//! file's profile, and read again before they expire (and every few minutes, since tools
//! rotate those files in place). hoist-core interprets what is read; this module reads.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hoist_core::credentials::{
    self as core, Credentials, ENV_CREDENTIALS_FILE, ENV_PROFILE, from_env_vars, parse_profile,
};
use hoist_core::time::Timestamp;

use crate::error::Error;

/// Credentials are read again this long before they expire.
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(600);
/// Credentials without an expiry (variables, files) are read again this often.
pub const REFRESH_EVERY: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    Fixed,
    /// The AWS variables when they name a key, else the profile of the credentials file.
    Chain {
        profile: String,
        file: PathBuf,
    },
    /// One profile of one file, whatever the variables say.
    Profile {
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
    /// Credentials that never change (an embedded store's, or given by the application).
    pub fn fixed(creds: Credentials) -> Self {
        Self::with(Origin::Fixed, creds, Timestamp::UNIX_EPOCH)
    }

    /// The AWS SDKs' order: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`
    /// (with `AWS_CREDENTIAL_EXPIRATION`), else the `AWS_PROFILE` (default `default`) section
    /// of `AWS_SHARED_CREDENTIALS_FILE` (default `~/.aws/credentials`). With `profile`, that
    /// profile of the file is used whatever the variables say. Fails when nothing is found.
    pub fn from_env(profile: Option<&str>, now: Timestamp) -> Result<Self, Error> {
        let file = credentials_file();
        let origin = match profile {
            Some(p) => Origin::Profile {
                profile: p.to_owned(),
                file,
            },
            None => Origin::Chain {
                profile: env(ENV_PROFILE).unwrap_or_else(|| "default".to_owned()),
                file,
            },
        };
        let creds = load(&origin)?;
        Ok(Self::with(origin, creds, now))
    }

    fn with(origin: Origin, creds: Credentials, loaded_at: Timestamp) -> Self {
        CredentialSource {
            origin,
            cached: Arc::new(RwLock::new(Cached {
                creds: Arc::new(creds),
                loaded_at,
            })),
        }
    }

    /// Whether reading again can give other credentials.
    pub fn refreshable(&self) -> bool {
        self.origin != Origin::Fixed
    }

    /// The credentials to sign with at `now`, read again first when they are close to expiry
    /// or old. A failed read keeps the previous credentials (and logs why). The same `Arc`
    /// comes back until the credentials change, so callers can cache what they derive.
    pub fn current(&self, now: Timestamp) -> Arc<Credentials> {
        {
            let c = self.cached.read().unwrap_or_else(|e| e.into_inner());
            if !self.stale(&c, now) {
                return c.creds.clone();
            }
        }
        self.reload(now, false)
    }

    /// Reads the credentials again now (after the store said the token expired), keeping
    /// the previous ones when the read fails.
    pub fn refresh(&self, now: Timestamp) -> Arc<Credentials> {
        self.reload(now, true)
    }

    fn reload(&self, now: Timestamp, force: bool) -> Arc<Credentials> {
        let mut c = self.cached.write().unwrap_or_else(|e| e.into_inner());
        if self.refreshable() && (force || self.stale(&c, now)) {
            match load(&self.origin) {
                Ok(fresh) if fresh != *c.creds => {
                    tracing::info!(access_key = %fresh.access_key, "signing credentials reloaded");
                    c.creds = Arc::new(fresh);
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(%err, "could not reload signing credentials"),
            }
            c.loaded_at = now;
        }
        c.creds.clone()
    }

    fn stale(&self, c: &Cached, now: Timestamp) -> bool {
        if !self.refreshable() {
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

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn credentials_file() -> PathBuf {
    env(ENV_CREDENTIALS_FILE)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(".aws").join("credentials")
        })
}

fn load(origin: &Origin) -> Result<Credentials, Error> {
    let (profile, file) = match origin {
        Origin::Fixed => unreachable!("fixed credentials are never read"),
        Origin::Chain { profile, file } => {
            if let Some(c) = from_env_vars(env)? {
                return Ok(c);
            }
            (profile, file)
        }
        Origin::Profile { profile, file } => (profile, file),
    };
    let shown = file.display();
    let text = std::fs::read_to_string(file).map_err(|e| {
        Error::Credentials(if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "none found: set {} and {}, or a profile in {shown}",
                core::ENV_ACCESS_KEY,
                core::ENV_SECRET_KEY
            )
        } else {
            format!("cannot read {shown}: {e}")
        })
    })?;
    parse_profile(&text, profile).ok_or_else(|| {
        Error::Credentials(format!(
            "profile [{profile}] in {shown} has no aws_access_key_id and aws_secret_access_key"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_credentials_are_read_again_before_expiry_and_when_old() {
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
        let origin = Origin::Profile {
            profile: "p".into(),
            file: file.clone(),
        };
        let src = CredentialSource::with(origin.clone(), load(&origin).unwrap(), now);
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
        // A forced refresh reads at once; a failed read keeps what was had.
        write("D", now.plus(Duration::from_secs(7200)));
        assert_eq!(src.refresh(near).access_key, "D");
        std::fs::remove_file(&file).unwrap();
        assert_eq!(src.refresh(near).access_key, "D");
    }

    #[test]
    fn a_missing_profile_says_where_it_looked() {
        let dir = tempfile::tempdir().unwrap();
        let origin = Origin::Profile {
            profile: "p".into(),
            file: dir.path().join("nope"),
        };
        let err = load(&origin).unwrap_err().to_string();
        assert!(
            err.contains("AWS_ACCESS_KEY_ID") && err.contains("nope"),
            "{err}"
        );
        std::fs::write(dir.path().join("nope"), "[q]\naws_access_key_id=A\n").unwrap();
        let err = load(&origin).unwrap_err().to_string();
        assert!(err.contains("[p]"), "{err}");
    }

    #[test]
    fn fixed_never_reloads() {
        let s = CredentialSource::fixed(Credentials::new("a", "b"));
        assert!(!s.refreshable());
        let t = Timestamp::from_unix(2_000_000_000);
        assert_eq!(s.current(t).access_key, "a");
        assert_eq!(s.refresh(t).access_key, "a");
    }
}
