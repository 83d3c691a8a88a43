//! TLS termination for hoist's servers, for deployments without a reverse proxy: a PEM
//! certificate chain and its private key, served with rustls (TLS 1.2 and 1.3, HTTP/1.1),
//! and read again on SIGHUP or when either file changes. A reload that fails (a half-written
//! file, a key that does not match) keeps the certificate already served and says why.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, ServerConfig};

/// How often the certificate and key files are checked for a change.
pub const DEFAULT_TLS_CHECK_EVERY: Duration = Duration::from_secs(5);

/// Why a certificate and key could not be served.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The certificate file holds no PEM certificate.
    #[error("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no PEM private key.
    #[error(
        "{} holds no PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC: -----BEGIN PRIVATE KEY-----)",
        path.display()
    )]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// rustls refused the pair (the key does not match the certificate, an unsupported key).
    #[error("the certificate and key cannot be served: {0}")]
    Rejected(String),
}

/// What the files looked like when last read: a change of either reloads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    cert: Option<(SystemTime, u64)>,
    key: Option<(SystemTime, u64)>,
}

impl Stamp {
    fn of(cert: &Path, key: &Path) -> Self {
        let look = |p: &Path| {
            let m = std::fs::metadata(p).ok()?;
            Some((m.modified().ok()?, m.len()))
        };
        Stamp {
            cert: look(cert),
            key: look(key),
        }
    }
}

/// A certificate and key being served, which can be read again while connections go on:
/// each new handshake uses the pair read last, connections already open keep theirs.
#[derive(Debug)]
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    config: RwLock<Arc<ServerConfig>>,
    stamp: Mutex<Stamp>,
    check_every: Duration,
}

impl Tls {
    /// Reads the PEM certificate chain at `cert` (leaf first) and the private key at `key`.
    pub fn load(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Result<Arc<Self>, TlsError> {
        Self::load_checking_every(cert, key, DEFAULT_TLS_CHECK_EVERY)
    }

    /// The same, checking the files for a change every `every` instead of
    /// [`DEFAULT_TLS_CHECK_EVERY`].
    pub fn load_checking_every(
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
        every: Duration,
    ) -> Result<Arc<Self>, TlsError> {
        let (cert, key) = (cert.into(), key.into());
        let stamp = Stamp::of(&cert, &key);
        let config = server_config(&cert, &key)?;
        Ok(Arc::new(Tls {
            cert,
            key,
            config: RwLock::new(Arc::new(config)),
            stamp: Mutex::new(stamp),
            check_every: every.max(Duration::from_millis(10)),
        }))
    }

    /// The certificate chain file.
    pub fn cert_path(&self) -> &Path {
        &self.cert
    }

    /// Reads the files again; on failure the pair served so far stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let stamp = Stamp::of(&self.cert, &self.key);
        *self.stamp.lock().unwrap_or_else(PoisonError::into_inner) = stamp;
        let config = server_config(&self.cert, &self.key)?;
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(config);
        Ok(())
    }

    /// An acceptor for the next handshake, with the pair read last.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(
            self.config
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }

    /// Whether either file changed since it was last read.
    fn changed(&self) -> bool {
        *self.stamp.lock().unwrap_or_else(PoisonError::into_inner)
            != Stamp::of(&self.cert, &self.key)
    }

    fn reload_and_say(&self, why: &str) {
        match self.reload() {
            Ok(()) => tracing::info!(
                cert = %self.cert.display(),
                why,
                "TLS certificate read again: new connections use it"
            ),
            Err(e) => tracing::warn!(
                error = %e,
                why,
                "TLS certificate not reloaded: still serving the previous one"
            ),
        }
    }

    /// Reloads on SIGHUP and whenever a file changes, until the task is aborted.
    pub(crate) fn watch(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            #[cfg(unix)]
            let mut hangup =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            let mut tick = tokio::time::interval(self.check_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                #[cfg(unix)]
                let hup = async {
                    match hangup.as_mut() {
                        Some(h) => h.recv().await,
                        None => std::future::pending().await,
                    }
                };
                #[cfg(not(unix))]
                let hup = std::future::pending::<Option<()>>();
                tokio::select! {
                    Some(()) = hup => self.reload_and_say("SIGHUP"),
                    _ = tick.tick() => {
                        if self.changed() {
                            self.reload_and_say("file changed");
                        }
                    }
                }
            }
        })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn server_config(cert: &Path, key: &Path) -> Result<ServerConfig, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(cert)?)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_path_buf(),
        });
    }
    let key_der = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|_| TlsError::NoKey {
        path: key.to_path_buf(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rejected(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| TlsError::Rejected(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
