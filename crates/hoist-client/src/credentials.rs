//! Credentials for direct mode: the AWS environment variables or a shared credentials file
//! profile, re-read during long uploads so rotated keys are picked up.

use std::path::PathBuf;

use hoist_core::presign::Credentials;

use crate::error::{Error, Result};

/// Where credentials come from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CredentialSource {
    /// Fixed credentials (tests, embedding applications).
    Static(Credentials),
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
    Environment,
    /// A profile of a shared credentials file (`~/.aws/credentials` by default).
    Profile { path: PathBuf, profile: String },
}

impl CredentialSource {
    /// The AWS SDKs' order: the environment when it has a key, else the profile named by
    /// `AWS_PROFILE` (default `default`) in `AWS_SHARED_CREDENTIALS_FILE` or
    /// `~/.aws/credentials`.
    pub fn from_env(profile: Option<&str>) -> Result<CredentialSource> {
        let env_key = std::env::var("AWS_ACCESS_KEY_ID")
            .ok()
            .filter(|v| !v.is_empty());
        if env_key.is_some() && profile.is_none() {
            return Ok(CredentialSource::Environment);
        }
        let profile = profile
            .map(str::to_owned)
            .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| "default".to_owned());
        let path = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".aws/credentials")))
            .ok_or_else(|| {
                Error::Config(
                    "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
                )
            })?;
        Ok(CredentialSource::Profile { path, profile })
    }

    /// Whether re-reading can give different credentials.
    pub fn refreshable(&self) -> bool {
        matches!(self, CredentialSource::Profile { .. })
    }

    /// Reads the credentials now.
    pub fn load(&self) -> Result<Credentials> {
        match self {
            CredentialSource::Static(c) => Ok(c.clone()),
            CredentialSource::Environment => {
                let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
                let (Some(id), Some(secret)) =
                    (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
                else {
                    return Err(Error::Config(
                        "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not".into(),
                    ));
                };
                let c = Credentials::new(id, secret);
                Ok(match var("AWS_SESSION_TOKEN") {
                    Some(t) => c.with_session_token(t),
                    None => c,
                })
            }
            CredentialSource::Profile { path, profile } => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Error::Config(format!(
                        "no credentials: AWS_ACCESS_KEY_ID is unset and {} cannot be read ({e})",
                        path.display()
                    ))
                })?;
                parse_profile(&text, profile).ok_or_else(|| {
                    Error::Config(format!(
                        "profile [{profile}] in {} has no aws_access_key_id and aws_secret_access_key",
                        path.display()
                    ))
                })
            }
        }
    }
}

/// Reads one profile of an INI-style shared credentials file.
fn parse_profile(text: &str, profile: &str) -> Option<Credentials> {
    let mut in_section = false;
    let (mut id, mut secret, mut token) = (None, None, None);
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
        if !in_section {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().to_owned();
        match k.trim().to_ascii_lowercase().as_str() {
            "aws_access_key_id" => id = Some(v),
            "aws_secret_access_key" => secret = Some(v),
            "aws_session_token" => token = Some(v),
            _ => {}
        }
    }
    let c = Credentials::new(id?, secret?);
    Some(match token {
        Some(t) => c.with_session_token(t),
        None => c,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_named_profile_only() {
        let text = "[default]\naws_access_key_id = A\naws_secret_access_key = B\n\n\
                    [profile work]\n# comment\naws_access_key_id=C\naws_secret_access_key=D\naws_session_token = T\n";
        let d = parse_profile(text, "default").unwrap();
        assert_eq!((d.access_key.as_str(), d.secret_key.as_str()), ("A", "B"));
        assert_eq!(d.session_token, None);
        let w = parse_profile(text, "work").unwrap();
        assert_eq!(
            (w.access_key.as_str(), w.session_token.as_deref()),
            ("C", Some("T"))
        );
        assert!(parse_profile(text, "other").is_none());
    }
}
