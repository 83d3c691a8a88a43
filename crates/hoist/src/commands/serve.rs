//! `hoist serve`: the upload coordinator, with the embedded store unless `--s3-endpoint` names
//! another one.
//!
//! Every setting is declared once, in [`mod@settings`]; `hoist doctor` and `hoist gc` read the
//! same file and defaults from there.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hoist_core::plan::{
    DEFAULT_PART_SIZE, DEFAULT_SINGLE_PUT_THRESHOLD, MAX_OBJECT_SIZE, PlanPolicy,
};
use hoist_core::ttl::TtlPolicy;
use hoist_server::config::{DEFAULT_BUCKET, DEFAULT_KEY_PREFIX, DEFAULT_REGION, ExtraMetrics};
use hoist_server::hooks::{DEFAULT_DELIVER_WITHIN, DEFAULT_PRE_CREATE_TIMEOUT, HookConfig};
use hoist_server::token::TOKEN_SECRET_FILE;
use hoist_server::{
    AppState, CredentialSource, Credentials, HookSecret, LimitPolicy, ServerConfig, TokenSecret,
};

use crate::logging::LogFilter;
use crate::settings::{Proxy, Size, load_file, process_env, settings};

/// Age at which the embedded bucket's lifecycle rule aborts incomplete uploads.
const ABORT_INCOMPLETE_AFTER_DAYS: u32 = 1;

settings! {
    /// Every setting of `hoist serve`; `--config` files use the names as keys.
    pub mod settings {
        /// Address of the coordinator.
        listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8080)),
            env "HOIST_LISTEN", value "ADDR";
        /// Address of the embedded store.
        store_listen: SocketAddr = crate::commands::store::DEFAULT_LISTEN,
            env "HOIST_STORE_LISTEN", value "ADDR";
        /// URL at which browsers and clients reach the embedded store, which part URLs are
        /// signed for (e.g. `https://uploads.example.com:9000`); the coordinator itself still
        /// connects to the store's own address when the URL's port is the one it listens on.
        store_url: Option<String>, env "HOIST_STORE_URL", value "URL",
            unset "http(s)://STORE_LISTEN";
        /// PEM certificate chain (leaf first) to serve HTTPS with, with --tls-key: the
        /// coordinator and the embedded store both serve it, and read it again on SIGHUP or
        /// when its files change.
        tls_cert: Option<PathBuf>, env "HOIST_TLS_CERT", value "FILE", unset "plain HTTP";
        /// PEM private key of --tls-cert.
        tls_key: Option<PathBuf>, env "HOIST_TLS_KEY", value "FILE", unset "plain HTTP";
        /// Data directory: the embedded store's files and credentials, and the token secret.
        data: PathBuf = "./hoist-data", env "HOIST_DATA", value "DIR";
        /// Bucket that uploads go to; created in the embedded store.
        bucket: String = DEFAULT_BUCKET, env "HOIST_BUCKET";
        /// Use this S3 endpoint instead of the embedded store; several, comma-separated, for
        /// the nodes of one cluster: each is checked every 2 s and URLs are signed for one that
        /// answers. Credentials come from
        /// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN or the AWS_PROFILE of the
        /// shared credentials file, and are read again before they expire.
        s3_endpoint: Option<String>, env "HOIST_S3_ENDPOINT", fallback "AWS_ENDPOINT_URL",
            value "URL", unset "the embedded store";
        /// Region of the store.
        region: String = DEFAULT_REGION, env "HOIST_REGION", fallback "AWS_REGION";
        /// Address buckets as bucket.host (virtual-host style) instead of host/bucket.
        virtual_host: bool = false, env "HOIST_VIRTUAL_HOST";
        /// API key accepted as `Authorization: Bearer KEY` (repeat, or comma-separated).
        api_keys: Vec<String>, flag "api-key", env "HOIST_API_KEYS", value "KEY";
        /// Secret of the HS256 grants (JWTs) that the app mints for browsers.
        grant_secret: Option<String>, env "HOIST_GRANT_SECRET", value "SECRET",
            unset "none (grants are refused)";
        /// Secret that signs upload ids, at least 16 bytes; replicas sharing it share uploads.
        token_secret: Option<TokenSecret>, env "HOIST_TOKEN_SECRET", value "SECRET",
            unset format!("generated and kept in DATA/{TOKEN_SECRET_FILE}");
        /// Allow uploads without credentials.
        anonymous: Option<bool>, env "HOIST_ANONYMOUS",
            unset "true only when the coordinator and the embedded store both listen on loopback";
        /// Origin allowed to call the API from a browser (repeat, or comma-separated; `*` for
        /// any).
        cors_origins: Vec<String>, flag "cors-origin", env "HOIST_CORS_ORIGINS", value "ORIGIN";
        /// Reverse proxy (address or CIDR block) whose X-Forwarded-For names the caller of a
        /// request, for its rate limit (repeat, or comma-separated); no other's is believed.
        trusted_proxies: Vec<Proxy>, flag "trusted-proxy", env "HOIST_TRUSTED_PROXIES",
            value "ADDR";
        /// Prefix of generated keys for API-key and anonymous uploads.
        key_prefix: String = DEFAULT_KEY_PREFIX, env "HOIST_KEY_PREFIX", value "PREFIX";
        /// Make every upload no-clobber (If-None-Match: *), whatever its caller asks: none
        /// replaces an object. The store is checked at start; if it ignores conditional
        /// writes, every upload is refused.
        no_clobber: bool = false, env "HOIST_NO_CLOBBER";
        /// Largest upload accepted, e.g. 10GiB (the default is S3's: 10,000 parts of 5 GiB).
        max_upload_size: Size = Size(MAX_OBJECT_SIZE), env "HOIST_MAX_UPLOAD_SIZE",
            value "BYTES";
        /// Uploads at or below this size are one PUT.
        single_put_threshold: Size = Size(DEFAULT_SINGLE_PUT_THRESHOLD),
            env "HOIST_SINGLE_PUT_THRESHOLD", value "BYTES";
        /// Starting part size of multipart uploads, 5MiB–5GiB.
        part_size: Size = Size(DEFAULT_PART_SIZE), env "HOIST_PART_SIZE", value "BYTES";
        /// Lifetime of a part URL in seconds.
        part_url_ttl: u64 = TtlPolicy::default().part.as_secs(), env "HOIST_PART_URL_TTL",
            value "SECS";
        /// Requests per second each caller (API key, grant, or address of callers without
        /// credentials) may sustain on the upload routes, per replica; 0 for no limit.
        rate_limit: f64 = LimitPolicy::default().rate, env "HOIST_RATE_LIMIT", value "PER_SEC";
        /// Requests a caller may send at once on top of the rate.
        rate_burst: u64 = u64::from(LimitPolicy::default().burst), env "HOIST_RATE_BURST",
            value "N";
        /// Multipart uploads each caller may have open through one replica, created within
        /// the window and not yet completed or aborted there; 0 for no limit.
        max_open_uploads: u64 = u64::from(LimitPolicy::default().open_uploads),
            env "HOIST_MAX_OPEN_UPLOADS", value "N";
        /// Window in seconds over which open uploads are counted.
        open_uploads_window: u64 = LimitPolicy::default().window.as_secs(),
            env "HOIST_OPEN_UPLOADS_WINDOW", value "SECS";
        /// Seconds a connection to the coordinator may take to send a request head.
        header_read_timeout: u64 = hoist_net::DEFAULT_HEADER_READ_TIMEOUT.as_secs(),
            env "HOIST_HEADER_READ_TIMEOUT", value "SECS";
        /// Seconds a kept-alive connection to the coordinator may wait between requests.
        idle_timeout: u64 = hoist_net::DEFAULT_IDLE_TIMEOUT.as_secs(),
            env "HOIST_IDLE_TIMEOUT", value "SECS";
        /// Seconds a request body sent to the coordinator may stall before it is answered 408.
        body_stall_timeout: u64 = hoist_net::DEFAULT_BODY_STALL_TIMEOUT.as_secs(),
            env "HOIST_BODY_STALL_TIMEOUT", value "SECS";
        /// Connections the coordinator serves at once; a new one sheds the idlest.
        max_connections: u64 = hoist_net::DEFAULT_MAX_CONNECTIONS as u64,
            env "HOIST_MAX_CONNECTIONS", value "N";
        /// Seconds requests in flight get to finish after SIGTERM or Ctrl-C.
        shutdown_grace: u64 = hoist_net::DEFAULT_SHUTDOWN_GRACE.as_secs(),
            env "HOIST_SHUTDOWN_GRACE", value "SECS";
        /// URL that upload events (upload.created, upload.completed, upload.aborted) are
        /// POSTed to, signed as Standard Webhooks (repeat, or comma-separated).
        hook_urls: Vec<String>, flag "hook-url", env "HOIST_HOOK_URLS", value "URL";
        /// Secret that signs every hook request: `whsec_` and base64, as Standard Webhooks
        /// writes it. Required with any hook.
        hook_secret: Option<HookSecret>, env "HOIST_HOOK_SECRET", value "SECRET",
            unset "none (hooks are refused without one)";
        /// Seconds within which an event is delivered, retries included, before the request
        /// that caused it answers; past them Complete answers hook_pending.
        hook_deliver_within: u64 = DEFAULT_DELIVER_WITHIN.as_secs(),
            env "HOIST_HOOK_DELIVER_WITHIN", value "SECS";
        /// URL asked before every upload is created; it may refuse, rename or limit it.
        pre_create_url: Option<String>, env "HOIST_PRE_CREATE_URL", value "URL",
            unset "none (no application check)";
        /// Seconds the pre-create hook has to answer.
        pre_create_timeout: u64 = DEFAULT_PRE_CREATE_TIMEOUT.as_secs(),
            env "HOIST_PRE_CREATE_TIMEOUT", value "SECS";
        /// Create uploads as asked when the pre-create hook gives no answer, instead of
        /// refusing them.
        pre_create_optional: bool = false, env "HOIST_PRE_CREATE_OPTIONAL";
        /// Largest single PUT the embedded store accepts.
        store_max_put_size: Size = Size(hoist_store::DEFAULT_MAX_PUT_SIZE),
            env "HOIST_STORE_MAX_PUT_SIZE", value "BYTES";
        /// Have the embedded store write every body through the page cache, never past it
        /// with O_DIRECT (for file systems where direct writes are slow).
        store_buffered_writes: bool = false, env "HOIST_STORE_BUFFERED_WRITES";
        /// Have the embedded store read every object through the page cache, never past it
        /// with O_DIRECT.
        store_buffered_reads: bool = false, env "HOIST_STORE_BUFFERED_READS";
        /// Seconds a connection to the embedded store may take to send a request head.
        store_header_read_timeout: u64 = hoist_store::DEFAULT_HEADER_READ_TIMEOUT.as_secs(),
            env "HOIST_STORE_HEADER_READ_TIMEOUT", value "SECS";
        /// Seconds a kept-alive connection to the embedded store may wait between requests.
        store_idle_timeout: u64 = hoist_store::DEFAULT_IDLE_TIMEOUT.as_secs(),
            env "HOIST_STORE_IDLE_TIMEOUT", value "SECS";
        /// Seconds a request body sent to the embedded store may stall before it is dropped,
        /// and a client may read nothing of the store's answer before its connection is closed.
        store_body_stall_timeout: u64 = hoist_store::DEFAULT_BODY_STALL_TIMEOUT.as_secs(),
            env "HOIST_STORE_BODY_STALL_TIMEOUT", value "SECS";
        /// Connections the embedded store serves at once; a new one sheds the idlest.
        store_max_connections: u64 = hoist_store::DEFAULT_MAX_CONNECTIONS as u64,
            env "HOIST_STORE_MAX_CONNECTIONS", value "N";
        /// Log level filter (tracing EnvFilter syntax).
        log: LogFilter = LogFilter::default(), env "HOIST_LOG", value "FILTER";
        /// Write logs as JSON lines.
        log_json: bool = false, env "HOIST_LOG_JSON";
    }
}

pub(crate) use settings::Settings;

/// Run the upload coordinator (and, by default, the embedded S3 store).
///
/// Every setting is taken from its flag, else from its HOIST_* variable, else from the TOML
/// file given with --config (keys named like the flags, with underscores), else from its
/// default.
#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// TOML file of settings (keys as the flags, with underscores: listen, store_listen, …).
    #[arg(long, env = "HOIST_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Check the settings, the credentials and the store (a signed request to the bucket, or
    /// that the embedded store's data directory is writable), then exit: 0 when all is well.
    /// No server is started.
    #[arg(long)]
    pub check_config: bool,
    #[command(flatten)]
    pub settings: settings::Args,
}

/// Every setting at its default: what `hoist doctor` and `hoist gc` assume of the setup.
pub(crate) fn defaults() -> Settings {
    settings::Args::default()
        .resolve(None, &|_| None)
        .expect("every setting of hoist serve has a default")
}

impl Args {
    /// Flags, then variables, then the `--config` file, then defaults.
    pub(crate) fn resolve(self) -> anyhow::Result<Settings> {
        let file = self.config.as_deref().map(load_file).transpose()?;
        Ok(self.settings.resolve(file, &process_env)?)
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let settings = args.resolve()?;
    init_logging(&settings);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(settings))?;
    Ok(ExitCode::SUCCESS)
}

fn init_logging(s: &Settings) {
    // Logs go to stderr: stdout carries the listening addresses that scripts read.
    crate::logging::init(s.log.filter(), s.log_json);
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

/// A connection cap of the coordinator or of the embedded store, which share one process:
/// each gets at most half of the descriptors left after the reserve, so that half-open
/// sockets held against both cannot use up the descriptors either needs to accept a client.
fn shared_cap(configured: u64) -> usize {
    let configured = usize::try_from(configured).unwrap_or(usize::MAX);
    match hoist_net::descriptor_limit() {
        Some(open_files) => {
            let half = open_files.saturating_sub(hoist_net::DESCRIPTOR_RESERVE) / 2;
            configured.min(usize::try_from(half.max(1)).unwrap_or(usize::MAX))
        }
        None => configured,
    }
}

/// The token secret: given, or generated once and kept in the data directory.
pub(crate) fn token_secret(s: &Settings) -> anyhow::Result<TokenSecret> {
    match &s.token_secret {
        Some(secret) => Ok(secret.clone()),
        None => Ok(TokenSecret::load_or_generate(&s.data)?),
    }
}

/// The coordinator's configuration from the settings, for the store at `endpoint`.
pub(crate) fn server_config(
    s: &Settings,
    endpoint: String,
    credentials: CredentialSource,
    embedded: bool,
    secret: TokenSecret,
) -> ServerConfig {
    let loopback = s.listen.ip().is_loopback() && (!embedded || s.store_listen.ip().is_loopback());
    let anonymous = match s.anonymous {
        Some(v) => v,
        None => embedded && loopback,
    };
    let plan = PlanPolicy::default()
        .with_single_put_threshold(s.single_put_threshold.bytes())
        .with_part_size(s.part_size.bytes());
    let ttl = TtlPolicy::default().with_part_ttl(Duration::from_secs(s.part_url_ttl));
    let mut config = ServerConfig::new(endpoint, credentials)
        .with_bucket(s.bucket.clone())
        .with_region(s.region.clone())
        .with_virtual_host(s.virtual_host)
        .with_token_secret(secret)
        .with_api_keys(s.api_keys.clone())
        .with_anonymous(anonymous)
        .with_cors_origins(s.cors_origins.clone())
        .with_trusted_proxies(trusted_proxies(&s.trusted_proxies))
        .with_key_prefix(s.key_prefix.clone())
        .with_no_clobber(s.no_clobber)
        .with_max_upload_size(s.max_upload_size.bytes())
        .with_plan(plan)
        .with_ttl(ttl)
        .with_limits(LimitPolicy {
            rate: s.rate_limit,
            burst: u32::try_from(s.rate_burst).unwrap_or(u32::MAX),
            open_uploads: u32::try_from(s.max_open_uploads).unwrap_or(u32::MAX),
            window: Duration::from_secs(s.open_uploads_window.max(1)),
        })
        .with_connections(hoist_net::Limits {
            header_read_timeout: Duration::from_secs(s.header_read_timeout.max(1)),
            idle_timeout: Duration::from_secs(s.idle_timeout.max(1)),
            max_connections: if embedded {
                shared_cap(s.max_connections)
            } else {
                usize::try_from(s.max_connections).unwrap_or(usize::MAX)
            },
            shutdown_grace: Duration::from_secs(s.shutdown_grace),
            ..hoist_net::Limits::default()
        })
        .with_body_stall_timeout(Duration::from_secs(s.body_stall_timeout.max(1)));
    if let Some(g) = &s.grant_secret {
        config = config.with_grant_secret(g.as_bytes().to_vec());
    }
    config.with_hooks(hook_config(s))
}

fn hook_config(s: &Settings) -> HookConfig {
    let mut hooks = HookConfig::default()
        .with_urls(s.hook_urls.clone())
        .with_deliver_within(Duration::from_secs(s.hook_deliver_within))
        .with_pre_create_timeout(Duration::from_secs(s.pre_create_timeout));
    if let Some(secret) = &s.hook_secret {
        hooks = hooks.with_secret(secret.clone());
    }
    if let Some(url) = &s.pre_create_url {
        hooks = hooks.with_pre_create(url.clone(), s.pre_create_optional);
    }
    hooks
}

fn trusted_proxies(proxies: &[Proxy]) -> hoist_server::proxies::TrustedProxies {
    let entries: Vec<&str> = proxies.iter().map(|p| p.0.as_str()).collect();
    hoist_server::proxies::TrustedProxies::parse(&entries)
        .expect("each proxy was checked when read")
}

fn say(line: &str) {
    crate::output::line(line);
}

async fn serve(s: Settings) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|v| *v).await;
        }
    };

    let tls = crate::tls::load(s.tls_cert.as_deref(), s.tls_key.as_deref())?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    if tls.is_none() {
        crate::tls::ignore_hangup();
    }
    if s.s3_endpoint.is_some() && s.store_url.is_some() {
        anyhow::bail!(
            "--store-url is the embedded store's public URL; with --s3-endpoint there is no embedded store"
        );
    }
    let mut store_task = None;
    let mut store_connection = None;
    let mut store_metrics = None;
    let (endpoint, credentials, embedded) = match &s.s3_endpoint {
        Some(url) => {
            let creds = CredentialSource::from_env(None, hoist_s3::local_now())
                .context("credentials for the external store")?;
            (url.clone(), creds, false)
        }
        None => {
            let cfg = hoist_store::StoreConfig::new(&s.data)
                .with_bucket(s.bucket.clone())
                .with_region(s.region.clone())
                .with_max_put_size(s.store_max_put_size.bytes())
                .with_direct_writes(!s.store_buffered_writes)
                .with_direct_reads(!s.store_buffered_reads)
                .with_header_read_timeout(Duration::from_secs(s.store_header_read_timeout.max(1)))
                .with_idle_timeout(Duration::from_secs(s.store_idle_timeout.max(1)))
                .with_body_stall_timeout(Duration::from_secs(s.store_body_stall_timeout.max(1)))
                .with_max_connections(shared_cap(s.store_max_connections));
            let cfg = match &tls {
                Some(tls) => cfg.with_tls(tls.clone()),
                None => cfg,
            };
            let store = hoist_store::Store::open(cfg).context("opening the embedded store")?;
            let metrics = store.metrics();
            store_metrics = Some(Arc::new(move || metrics.render()) as ExtraMetrics);
            let c = store.credentials().clone();
            let listener = tokio::net::TcpListener::bind(s.store_listen)
                .await
                .with_context(|| format!("binding the store to {}", s.store_listen))?;
            let addr = listener.local_addr()?;
            say(&format!("hoist store listening on {scheme}://{addr}"));
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
            // The coordinator reaches its store on the store's own address, trusting the
            // certificate it serves, whatever URL browsers are given.
            let mut local = addr;
            if local.ip().is_unspecified() {
                local.set_ip(match local.ip() {
                    std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                    std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                });
            }
            store_connection = Some((s.tls_cert.clone().filter(|_| tls.is_some()), local));
            let url = match &s.store_url {
                Some(url) => url.trim_end_matches('/').to_owned(),
                None => format!("{scheme}://{local}"),
            };
            (url, creds, true)
        }
    };

    let mut config = server_config(
        &s,
        endpoint.clone(),
        credentials,
        embedded,
        token_secret(&s)?,
    );
    if let Some((trusted, local)) = store_connection {
        config = config.with_store_connection(trusted, Some(local));
    }
    if let Some(tls) = &tls {
        config = config.with_tls(tls.clone());
    }
    if let Some(render) = store_metrics {
        config = config.with_extra_metrics(render);
    }
    if config.anonymous {
        tracing::warn!(
            "anonymous uploads are allowed{}; set --anonymous=false or configure API keys and grants before exposing this coordinator",
            if s.anonymous.is_none() {
                " (default on loopback)"
            } else {
                ""
            }
        );
    }

    let state = AppState::new(config).context("coordinator settings")?;

    let listener = tokio::net::TcpListener::bind(s.listen)
        .await
        .with_context(|| format!("binding the coordinator to {}", s.listen))?;
    let addr = listener.local_addr()?;
    say(&format!("hoist coordinator listening on {scheme}://{addr}"));
    say(&format!("upload page: {scheme}://{addr}/"));
    if !embedded {
        say(&format!(
            "using the S3 store at {endpoint}, bucket {}",
            s.bucket
        ));
    }

    if embedded {
        // The upload page is served from another origin than the store: let it PUT there and
        // read ETags. An external store's CORS is its owner's (hoist doctor --fix helps).
        let mut origins = vec![format!("{scheme}://{addr}")];
        if addr.ip().is_loopback() {
            origins.push(format!("{scheme}://localhost:{}", addr.port()));
        }
        origins.extend(s.cors_origins.iter().filter(|o| *o != "*").cloned());
        if let Err(err) = hoist_server::store::allow_origins(state.store(), &origins).await {
            tracing::warn!(%err, "could not set the bucket's CORS for the upload page");
        }
        // Parts of uploads that a crash left behind are removed after a day.
        let days = ABORT_INCOMPLETE_AFTER_DAYS;
        if let Err(err) =
            hoist_server::store::abort_incomplete_uploads_after(state.store(), days).await
        {
            tracing::warn!(%err, "could not set the bucket's lifecycle rule");
        }
    }
    if s.no_clobber {
        // Said now rather than at the first upload: the state logs the verdict.
        if let Err(err) = state.conditional_writes().await {
            tracing::warn!(%err, "could not check that the store honours conditional writes; asked again at the first upload");
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
