//! `--tls-cert`/`--tls-key` of `hoist serve` and `hoist store`: both or neither.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use hoist_net::Tls;

/// The certificate to serve HTTPS with, or None for plain HTTP.
pub(crate) fn load(cert: Option<&Path>, key: Option<&Path>) -> anyhow::Result<Option<Arc<Tls>>> {
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => Tls::load(cert, key)
            .map(Some)
            .context("--tls-cert/--tls-key"),
        (Some(_), None) => {
            bail!("--tls-cert needs --tls-key (the PEM private key of the certificate)")
        }
        (None, Some(_)) => {
            bail!("--tls-key needs --tls-cert (the PEM certificate chain of the key)")
        }
    }
}

/// Without a certificate there is nothing to read again on SIGHUP (`systemctl reload`): the
/// signal is logged instead of ending the process, as its default action would.
pub(crate) fn ignore_hangup() {
    #[cfg(unix)]
    if let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                tracing::info!(
                    "SIGHUP: no TLS certificate to read again; other settings are read at start (restart to change them)"
                );
            }
        });
    }
}
