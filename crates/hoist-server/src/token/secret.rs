//! The secret that signs upload tokens: checked once, kept in a data directory, never printed.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

/// The fewest bytes a token secret may have.
pub const MIN_TOKEN_SECRET_LEN: usize = 16;
/// The file, inside a data directory, that keeps a generated token secret (mode 0600).
pub const TOKEN_SECRET_FILE: &str = "coordinator-token-secret";
/// Random bytes in a generated secret (kept as their hex text).
const GENERATED_BYTES: usize = 32;

/// A token secret of at least [`MIN_TOKEN_SECRET_LEN`] bytes. Replicas that share it share
/// uploads. Its `Debug` form never shows it.
///
/// ```
/// use hoist_server::TokenSecret;
///
/// assert!(TokenSecret::new("too short").is_err());
/// let secret = TokenSecret::new("a long random secret shared by replicas").unwrap();
/// assert_eq!(format!("{secret:?}"), "TokenSecret(<redacted>)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(Vec<u8>);

/// Why a token secret could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenSecretError {
    #[error("the token secret must be at least {MIN_TOKEN_SECRET_LEN} bytes")]
    TooShort,
    #[error(
        "{} holds a token secret shorter than {MIN_TOKEN_SECRET_LEN} bytes; delete it to generate a new one",
        .0.display()
    )]
    ShortFile(PathBuf),
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

impl TokenSecret {
    /// The secret, when it is long enough.
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Self, TokenSecretError> {
        let secret = secret.into();
        if secret.len() < MIN_TOKEN_SECRET_LEN {
            return Err(TokenSecretError::TooShort);
        }
        Ok(Self(secret))
    }

    /// A fresh secret: the hex text of 32 random bytes.
    pub fn generate() -> Result<Self, TokenSecretError> {
        let mut raw = [0u8; GENERATED_BYTES];
        getrandom::fill(&mut raw).map_err(|e| TokenSecretError::Random(e.to_string()))?;
        Ok(Self(hex(&raw).into_bytes()))
    }

    /// The secret kept in `dir`'s [`TOKEN_SECRET_FILE`], generated and written there (mode
    /// 0600, the directory created when missing) on first use. Surrounding whitespace in the
    /// file is ignored.
    pub fn load_or_generate(dir: &Path) -> Result<Self, TokenSecretError> {
        let path = dir.join(TOKEN_SECRET_FILE);
        if let Some(secret) = Self::load(&path)? {
            return Ok(secret);
        }
        std::fs::create_dir_all(dir).map_err(|source| TokenSecretError::Io {
            action: "creating data directory",
            path: dir.to_owned(),
            source,
        })?;
        let secret = Self::generate()?;
        match write_private(&path, &secret.0) {
            Ok(()) => Ok(secret),
            // Another process wrote it first: use that one, as every replica must.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load(&path)?
                .ok_or_else(|| TokenSecretError::Io {
                    action: "reading",
                    path: path.clone(),
                    source: e,
                }),
            Err(source) => Err(TokenSecretError::Io {
                action: "writing",
                path,
                source,
            }),
        }
    }

    /// The secret kept in `dir`'s [`TOKEN_SECRET_FILE`], if one is there; nothing is written.
    pub fn load_from(dir: &Path) -> Result<Option<Self>, TokenSecretError> {
        Self::load(&dir.join(TOKEN_SECRET_FILE))
    }

    fn load(path: &Path) -> Result<Option<Self>, TokenSecretError> {
        let mut text = String::new();
        match std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text)) {
            Ok(_) => Self::new(text.trim())
                .map(Some)
                .map_err(|_| TokenSecretError::ShortFile(path.to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(TokenSecretError::Io {
                action: "reading",
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// The secret's bytes, for keying an HMAC.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSecret(<redacted>)")
    }
}

impl From<TokenSecret> for Vec<u8> {
    fn from(secret: TokenSecret) -> Self {
        secret.0
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates `path` (failing when it exists) readable by its owner only, and syncs it.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut file = opts.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_short_secret_and_never_shows_one() {
        assert!(matches!(
            TokenSecret::new(vec![7u8; MIN_TOKEN_SECRET_LEN - 1]),
            Err(TokenSecretError::TooShort)
        ));
        let secret = TokenSecret::new("0123456789abcdef").unwrap();
        assert_eq!(secret.as_bytes(), b"0123456789abcdef");
        assert!(!format!("{secret:?}").contains("0123"));
    }

    #[test]
    fn generates_once_then_keeps_it_private() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = TokenSecret::load_or_generate(&data).unwrap();
        assert_eq!(first.as_bytes().len(), 2 * GENERATED_BYTES);
        let path = data.join(TOKEN_SECRET_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(TokenSecret::load_or_generate(&data).unwrap(), first);
        assert_ne!(TokenSecret::generate().unwrap(), first);
    }

    #[test]
    fn reads_a_kept_secret_trimmed_and_refuses_a_short_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TOKEN_SECRET_FILE);
        std::fs::write(&path, "a secret kept by an operator\n").unwrap();
        let secret = TokenSecret::load_or_generate(dir.path()).unwrap();
        assert_eq!(secret.as_bytes(), b"a secret kept by an operator");

        std::fs::write(&path, "short\n").unwrap();
        let err = TokenSecret::load_or_generate(dir.path()).unwrap_err();
        assert!(matches!(err, TokenSecretError::ShortFile(_)), "{err}");
        assert!(err.to_string().contains("delete it"), "{err}");
    }
}
