//! `hoist serve`: the upload coordinator, with the embedded store unless `--s3-endpoint` names
//! another one.
//!
//! Settings resolve flags > environment (`HOIST_*`) > TOML file (`--config`) > defaults; the
//! defaults are written once, in [`Defaults`].

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use hoist_core::plan::PlanPolicy;
use hoist_core::ttl::TtlPolicy;
use hoist_server::{AppState, CredentialSource, Credentials, ServerConfig};
use serde::Deserialize;

/// Every default of `hoist serve`, written once (`hoist doctor` and `hoist gc` read the same
/// setup, so they use these too).
pub(crate) struct Defaults;

impl Defaults {
    const LISTEN: &str = "127.0.0.1:8080";
    pub(crate) const STORE_LISTEN: &str = "127.0.0.1:9000";
    pub(crate) const DATA: &str = "./hoist-data";
    const BUCKET: &str = hoist_server::config::DEFAULT_BUCKET;
    const REGION: &str = hoist_server::config::DEFAULT_REGION;
    const KEY_PREFIX: &str = hoist_server::config::DEFAULT_KEY_PREFIX;
    const LOG: &str = "info";
    /// Age at which the embedded bucket's lifecycle rule aborts incomplete uploads.
    const ABORT_INCOMPLETE_AFTER_DAYS: u32 = 1;
    /// File in the data directory that keeps the generated token secret.
    const TOKEN_SECRET_FILE: &str = "coordinator-token-secret";
}

/// Run the upload coordinator (and, by default, the embedded S3 store).
///
/// Every setting is taken from its flag, else from its HOIST_* environment variable, else from
/// the TOML file given with --config (keys named like the flags, with underscores), else from
/// its default.
#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// TOML file of settings (keys as the flags: listen, store_listen, data, bucket, …).
    #[arg(long, env = "HOIST_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address of the coordinator [default: 127.0.0.1:8080].
    #[arg(long, env = "HOIST_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Address of the embedded store [default: 127.0.0.1:9000].
    #[arg(long, env = "HOIST_STORE_LISTEN", value_name = "ADDR")]
    pub store_listen: Option<SocketAddr>,
    /// Data directory: the embedded store's files and credentials, and the token secret
    /// [default: ./hoist-data].
    #[arg(long, env = "HOIST_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Bucket that uploads go to; created in the embedded store [default: uploads].
    #[arg(long, env = "HOIST_BUCKET")]
    pub bucket: Option<String>,
    /// Use this S3 endpoint instead of the embedded store (else AWS_ENDPOINT_URL). Credentials
    /// come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN or the AWS_PROFILE
    /// of the shared credentials file, and are read again before they expire.
    #[arg(long, env = "HOIST_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// Region of the store (else AWS_REGION) [default: us-east-1].
    #[arg(long, env = "HOIST_REGION")]
    pub region: Option<String>,
    /// Address buckets as bucket.host (virtual-host style) instead of host/bucket.
    #[arg(long, env = "HOIST_VIRTUAL_HOST", num_args = 0..=1, default_missing_value = "true")]
    pub virtual_host: Option<bool>,
    /// API key accepted as `Authorization: Bearer KEY` (repeat, or comma-separated).
    #[arg(
        long = "api-key",
        env = "HOIST_API_KEYS",
        value_delimiter = ',',
        value_name = "KEY"
    )]
    pub api_keys: Vec<String>,
    /// Secret of the HS256 grants (JWTs) that the app mints for browsers; none disables grants.
    #[arg(long, env = "HOIST_GRANT_SECRET", value_name = "SECRET")]
    pub grant_secret: Option<String>,
    /// Secret that signs upload ids; replicas sharing it share uploads [default: generated and
    /// kept in DATA/coordinator-token-secret].
    #[arg(long, env = "HOIST_TOKEN_SECRET", value_name = "SECRET")]
    pub token_secret: Option<String>,
    /// Allow uploads without credentials [default: true only when the coordinator and the
    /// embedded store both listen on loopback].
    #[arg(long, env = "HOIST_ANONYMOUS", num_args = 0..=1, default_missing_value = "true")]
    pub anonymous: Option<bool>,
    /// Origin allowed to call the API from a browser (repeat, or comma-separated; `*` for any).
    #[arg(
        long = "cors-origin",
        env = "HOIST_CORS_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    pub cors_origins: Vec<String>,
    /// Prefix of generated keys for API-key and anonymous uploads [default: files].
    #[arg(long, env = "HOIST_KEY_PREFIX", value_name = "PREFIX")]
    pub key_prefix: Option<String>,
    /// Largest upload accepted, e.g. 10GiB [default: 48.8 TiB, S3's limit].
    #[arg(long, env = "HOIST_MAX_UPLOAD_SIZE", value_name = "BYTES")]
    pub max_upload_size: Option<String>,
    /// Uploads at or below this size are one PUT [default: 100MiB].
    #[arg(long, env = "HOIST_SINGLE_PUT_THRESHOLD", value_name = "BYTES")]
    pub single_put_threshold: Option<String>,
    /// Starting part size of multipart uploads, 5MiB–5GiB [default: 8MiB].
    #[arg(long, env = "HOIST_PART_SIZE", value_name = "BYTES")]
    pub part_size: Option<String>,
    /// Lifetime of a part URL in seconds [default: 3600].
    #[arg(long, env = "HOIST_PART_URL_TTL", value_name = "SECS")]
    pub part_url_ttl: Option<u64>,
    /// Largest single PUT the embedded store accepts [default: 5GiB].
    #[arg(long, env = "HOIST_STORE_MAX_PUT_SIZE", value_name = "BYTES")]
    pub store_max_put_size: Option<String>,
    /// Log level filter (tracing EnvFilter syntax) [default: info].
    #[arg(long, env = "HOIST_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// Write logs as JSON lines.
    #[arg(long, env = "HOIST_LOG_JSON", num_args = 0..=1, default_missing_value = "true")]
    pub log_json: Option<bool>,
}

/// The `--config` file: the same settings, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<SocketAddr>,
    store_listen: Option<SocketAddr>,
    data: Option<PathBuf>,
    bucket: Option<String>,
    s3_endpoint: Option<String>,
    region: Option<String>,
    virtual_host: Option<bool>,
    api_keys: Option<Vec<String>>,
    grant_secret: Option<String>,
    token_secret: Option<String>,
    anonymous: Option<bool>,
    cors_origins: Option<Vec<String>>,
    key_prefix: Option<String>,
    max_upload_size: Option<String>,
    single_put_threshold: Option<String>,
    part_size: Option<String>,
    part_url_ttl: Option<u64>,
    store_max_put_size: Option<String>,
    log: Option<String>,
    log_json: Option<bool>,
}

/// Settings once resolved.
#[derive(Debug)]
struct Settings {
    listen: SocketAddr,
    store_listen: SocketAddr,
    data: PathBuf,
    bucket: String,
    /// `None`: run the embedded store.
    s3_endpoint: Option<String>,
    region: String,
    virtual_host: bool,
    api_keys: Vec<String>,
    grant_secret: Option<String>,
    token_secret: Option<String>,
    anonymous: Option<bool>,
    cors_origins: Vec<String>,
    key_prefix: String,
    max_upload_size: Option<u64>,
    single_put_threshold: Option<u64>,
    part_size: Option<u64>,
    part_url_ttl: Option<u64>,
    store_max_put_size: Option<u64>,
    log: String,
    log_json: bool,
}

fn size(field: &str, v: Option<String>) -> anyhow::Result<Option<u64>> {
    v.map(|s| hoist_core::units::parse_size(&s).map_err(|e| anyhow::anyhow!("{field}: {e}")))
        .transpose()
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Settings {
    fn resolve(args: Args) -> anyhow::Result<Self> {
        let file: FileSettings = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
            }
            None => FileSettings::default(),
        };
        let list = |flag: Vec<String>, file: Option<Vec<String>>| {
            if flag.is_empty() {
                file.unwrap_or_default()
            } else {
                flag
            }
        };
        let parse_addr = |s: &str| s.parse::<SocketAddr>().expect("default address parses");
        Ok(Settings {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| parse_addr(Defaults::LISTEN)),
            store_listen: args
                .store_listen
                .or(file.store_listen)
                .unwrap_or_else(|| parse_addr(Defaults::STORE_LISTEN)),
            data: args
                .data
                .or(file.data)
                .unwrap_or_else(|| PathBuf::from(Defaults::DATA)),
            bucket: args
                .bucket
                .or(file.bucket)
                .unwrap_or_else(|| Defaults::BUCKET.to_string()),
            s3_endpoint: args
                .s3_endpoint
                .or(file.s3_endpoint)
                .or_else(|| env_nonempty("AWS_ENDPOINT_URL")),
            region: args
                .region
                .or(file.region)
                .or_else(|| env_nonempty("AWS_REGION"))
                .unwrap_or_else(|| Defaults::REGION.to_string()),
            virtual_host: args.virtual_host.or(file.virtual_host).unwrap_or(false),
            api_keys: list(args.api_keys, file.api_keys),
            grant_secret: args.grant_secret.or(file.grant_secret),
            token_secret: args.token_secret.or(file.token_secret),
            anonymous: args.anonymous.or(file.anonymous),
            cors_origins: list(args.cors_origins, file.cors_origins),
            key_prefix: args
                .key_prefix
                .or(file.key_prefix)
                .unwrap_or_else(|| Defaults::KEY_PREFIX.to_string()),
            max_upload_size: size(
                "max_upload_size",
                args.max_upload_size.or(file.max_upload_size),
            )?,
            single_put_threshold: size(
                "single_put_threshold",
                args.single_put_threshold.or(file.single_put_threshold),
            )?,
            part_size: size("part_size", args.part_size.or(file.part_size))?,
            part_url_ttl: args.part_url_ttl.or(file.part_url_ttl),
            store_max_put_size: size(
                "store_max_put_size",
                args.store_max_put_size.or(file.store_max_put_size),
            )?,
            log: args
                .log
                .or(file.log)
                .unwrap_or_else(|| Defaults::LOG.to_string()),
            log_json: args.log_json.or(file.log_json).unwrap_or(false),
        })
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let settings = Settings::resolve(args)?;
    init_logging(&settings)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(settings))?;
    Ok(ExitCode::SUCCESS)
}

fn init_logging(s: &Settings) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&s.log)
        .with_context(|| format!("log filter {:?}", s.log))?;
    // Logs go to stderr: stdout carries the listening addresses that scripts read.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if s.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(())
}

/// Resolves when SIGTERM or Ctrl-C arrives.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// The token secret: given, or generated once and kept in the data directory (mode 0600).
fn token_secret(s: &Settings) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = &s.token_secret {
        return Ok(secret.as_bytes().to_vec());
    }
    std::fs::create_dir_all(&s.data)
        .with_context(|| format!("creating data directory {}", s.data.display()))?;
    let path = s.data.join(Defaults::TOKEN_SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().len() >= 32 => return Ok(text.trim().as_bytes().to_vec()),
        Ok(_) => bail!(
            "{} is too short; delete it to generate a new one",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let mut raw = [0u8; 32];
    getrandom_fill(&mut raw)?;
    let text: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    write_private(&path, &text)?;
    Ok(text.into_bytes())
}

fn getrandom_fill(buf: &mut [u8]) -> anyhow::Result<()> {
    // The binary has no direct dependency on getrandom; the OS source is read through std.
    use std::io::Read as _;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .context("reading /dev/urandom")
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn serve(s: Settings) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|v| *v).await;
        }
    };

    let mut store_task = None;
    let (endpoint, credentials, embedded) = match &s.s3_endpoint {
        Some(url) => {
            let creds = CredentialSource::from_env(None, hoist_s3::local_now())
                .context("credentials for the external store")?;
            (url.clone(), creds, false)
        }
        None => {
            let mut cfg = hoist_store::StoreConfig::new(&s.data)
                .with_bucket(s.bucket.clone())
                .with_region(s.region.clone());
            if let Some(max) = s.store_max_put_size {
                cfg = cfg.with_max_put_size(max);
            }
            let store = hoist_store::Store::open(cfg).context("opening the embedded store")?;
            let c = store.credentials().clone();
            let listener = tokio::net::TcpListener::bind(s.store_listen)
                .await
                .with_context(|| format!("binding the store to {}", s.store_listen))?;
            let addr = listener.local_addr()?;
            say(&format!("hoist store listening on http://{addr}"));
            if store.credentials_were_generated() {
                say(&format!(
                    "store credentials generated and kept in {}: access key {}",
                    s.data.join(hoist_store::CREDENTIALS_FILE).display(),
                    c.access_key_id
                ));
            }
            store_task = Some(tokio::spawn(store.serve(listener, stopped())));
            let creds = CredentialSource::fixed(Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.clone(),
            ));
            (format!("http://{addr}"), creds, true)
        }
    };

    let loopback = s.listen.ip().is_loopback() && (!embedded || s.store_listen.ip().is_loopback());
    let anonymous = match s.anonymous {
        Some(v) => v,
        None => embedded && loopback,
    };
    if anonymous {
        tracing::warn!(
            "anonymous uploads are allowed{}; set --anonymous=false or configure API keys and grants before exposing this coordinator",
            if s.anonymous.is_none() {
                " (default on loopback)"
            } else {
                ""
            }
        );
    }

    let mut plan = PlanPolicy::default();
    if let Some(t) = s.single_put_threshold {
        plan = plan.with_single_put_threshold(t);
    }
    if let Some(p) = s.part_size {
        plan = plan.with_part_size(p);
    }
    let mut ttl = TtlPolicy::default();
    if let Some(secs) = s.part_url_ttl {
        ttl = ttl.with_part_ttl(Duration::from_secs(secs));
    }
    let mut config = ServerConfig::new(endpoint.clone(), credentials)
        .with_bucket(s.bucket.clone())
        .with_region(s.region.clone())
        .with_virtual_host(s.virtual_host)
        .with_token_secret(token_secret(&s)?)
        .with_api_keys(s.api_keys.clone())
        .with_anonymous(anonymous)
        .with_cors_origins(s.cors_origins.clone())
        .with_key_prefix(s.key_prefix.clone())
        .with_plan(plan)
        .with_ttl(ttl);
    if let Some(g) = &s.grant_secret {
        config = config.with_grant_secret(g.as_bytes().to_vec());
    }
    if let Some(max) = s.max_upload_size {
        config = config.with_max_upload_size(max);
    }
    let state = AppState::new(config).context("coordinator settings")?;

    let listener = tokio::net::TcpListener::bind(s.listen)
        .await
        .with_context(|| format!("binding the coordinator to {}", s.listen))?;
    let addr = listener.local_addr()?;
    say(&format!("hoist coordinator listening on http://{addr}"));
    say(&format!("upload page: http://{addr}/"));
    if !embedded {
        say(&format!(
            "using the S3 store at {endpoint}, bucket {}",
            s.bucket
        ));
    }

    if embedded {
        // The upload page is served from another origin than the store: let it PUT there and
        // read ETags. An external store's CORS is its owner's (hoist doctor --fix helps).
        let mut origins = vec![format!("http://{addr}")];
        if addr.ip().is_loopback() {
            origins.push(format!("http://localhost:{}", addr.port()));
        }
        origins.extend(s.cors_origins.iter().filter(|o| *o != "*").cloned());
        if let Err(err) = hoist_server::store::allow_origins(state.store(), &origins).await {
            tracing::warn!(%err, "could not set the bucket's CORS for the upload page");
        }
        // Parts of uploads that a crash left behind are removed after a day.
        let days = Defaults::ABORT_INCOMPLETE_AFTER_DAYS;
        if let Err(err) =
            hoist_server::store::abort_incomplete_uploads_after(state.store(), days).await
        {
            tracing::warn!(%err, "could not set the bucket's lifecycle rule");
        }
    }
    let server = tokio::spawn(hoist_server::serve(listener, state.clone(), stopped()));
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    server.await.context("coordinator task")??;
    if let Some(t) = store_task {
        t.await.context("store task")?.context("embedded store")?;
    }
    Ok(())
}
