//! `hoist serve --check-config`: the settings, the credentials and the store checked as
//! `hoist serve` would use them, without starting a server (for `ExecStartPre`, CI, or before
//! a reload). Every failure names what to fix; success is exit code 0.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use hoist_server::{AppState, CredentialSource, Credentials, TokenSecret};

use super::serve::{Settings, server_config};

/// How long the store may take to answer the bucket's HEAD.
const STORE_TIMEOUT: Duration = Duration::from_secs(20);

pub fn run(s: &Settings) -> anyhow::Result<ExitCode> {
    let secret = token_secret(s)?;
    if let Some(tls) = crate::tls::load(s.tls_cert.as_deref(), s.tls_key.as_deref())? {
        crate::output::line(&format!(
            "ok: the TLS certificate {} and its key can be served",
            tls.cert_path().display()
        ));
    }
    match &s.s3_endpoint {
        Some(endpoints) => {
            let credentials = CredentialSource::from_env(None, hoist_s3::local_now())
                .context("credentials for the external store")?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let bucket = &s.bucket;
            // Every node of a store given as several: each must answer for the bucket.
            let all = server_config(
                s,
                endpoints.clone(),
                credentials.clone(),
                false,
                secret.clone(),
            );
            for endpoint in all.store.endpoints() {
                let config = server_config(
                    s,
                    endpoint.clone(),
                    credentials.clone(),
                    false,
                    secret.clone(),
                );
                let state = AppState::new(config).context("coordinator settings")?;
                let answer = runtime.block_on(async {
                    tokio::time::timeout(STORE_TIMEOUT, state.store().head_bucket()).await
                });
                match answer {
                    Err(_) => bail!(
                        "the store at {endpoint} did not answer a HEAD of bucket {bucket} within {}s",
                        STORE_TIMEOUT.as_secs()
                    ),
                    Ok(Err(err)) => {
                        bail!("the store at {endpoint} failed a HEAD of bucket {bucket}: {err}")
                    }
                    Ok(Ok(())) => crate::output::line(&format!(
                        "ok: the store at {endpoint} answers for bucket {bucket} with these credentials"
                    )),
                }
            }
        }
        None => {
            writable(&s.data)?;
            // The store's own credentials are made when it opens; these only let the
            // coordinator's settings be checked.
            let credentials = CredentialSource::fixed(Credentials::new("check", "check"));
            let endpoint = format!("http://{}", s.store_listen);
            let config = server_config(s, endpoint, credentials, true, secret);
            AppState::new(config).context("coordinator settings")?;
            crate::output::line(&format!(
                "ok: the embedded store's data directory {} is writable",
                s.data.display()
            ));
        }
    }
    crate::output::line(&format!(
        "ok: settings of the coordinator on {}{}",
        s.listen,
        if s.s3_endpoint.is_none() {
            format!(" and the embedded store on {}", s.store_listen)
        } else {
            String::new()
        }
    ));
    Ok(ExitCode::SUCCESS)
}

/// The token secret `hoist serve` would use; none is written. When it would be generated,
/// the data directory that keeps it must be writable.
fn token_secret(s: &Settings) -> anyhow::Result<TokenSecret> {
    if let Some(secret) = &s.token_secret {
        return Ok(secret.clone());
    }
    if let Some(secret) = TokenSecret::load_from(&s.data).context("the token secret")? {
        return Ok(secret);
    }
    writable(&s.data)?;
    Ok(TokenSecret::generate()?)
}

/// Whether files can be created in `dir` (created, as `hoist serve` would, when missing).
fn writable(dir: &Path) -> anyhow::Result<()> {
    let shown = dir.display();
    std::fs::create_dir_all(dir)
        .with_context(|| format!("data directory {shown}: cannot create it"))?;
    let probe = dir.join(format!(".hoist-check-config-{}", std::process::id()));
    std::fs::write(&probe, b"probe")
        .with_context(|| format!("data directory {shown}: cannot write in it"))?;
    std::fs::remove_file(&probe)
        .with_context(|| format!("data directory {shown}: cannot remove {}", probe.display()))?;
    Ok(())
}
