//! `hoist store`: the embedded S3-compatible store, alone.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use hoist_store::{
    Credentials, DEFAULT_BODY_STALL_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_PUT_SIZE, DEFAULT_REGION, Faults, Store, StoreConfig,
};

use crate::logging::LogFilter;
use crate::settings::{Size, process_env, settings};

/// Where the embedded store listens unless told otherwise (`hoist serve` runs it there too).
pub(crate) const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9000));

settings! {
    /// Every setting of `hoist store`.
    pub mod settings {
        /// Directory that holds buckets, objects, multipart uploads and generated credentials.
        data: PathBuf, env "HOIST_DATA", value "DIR";
        /// Address to listen on; port 0 picks a free port (printed on stdout).
        listen: String = DEFAULT_LISTEN.to_string(), env "HOIST_STORE_LISTEN", value "ADDR";
        /// Bucket to create at start when missing (repeat, or comma-separated).
        buckets: Vec<String>, flag "bucket", env "HOIST_STORE_BUCKETS", value "NAME";
        /// Region the store answers for.
        region: String = DEFAULT_REGION, env "HOIST_REGION";
        /// Domain for virtual-hosted-style requests: `BUCKET.DOMAIN[:PORT]` addresses BUCKET
        /// (path-style requests keep working).
        domain: Option<String>, env "HOIST_STORE_DOMAIN", value "DOMAIN",
            unset "path-style only";
        /// Access key id, with --secret-key.
        access_key: Option<String>, env "AWS_ACCESS_KEY_ID",
            unset "generated and kept in DIR";
        /// Secret access key, with --access-key.
        secret_key: Option<String>, env "AWS_SECRET_ACCESS_KEY";
        /// Largest single PUT (bytes, or with a unit: 10MiB, 5GiB).
        max_put_size: Size = Size(DEFAULT_MAX_PUT_SIZE), env "HOIST_STORE_MAX_PUT_SIZE",
            value "SIZE";
        /// Write every body through the page cache, never past it with O_DIRECT (for file
        /// systems where direct writes are slow, such as some network file systems).
        buffered_writes: bool = false, env "HOIST_STORE_BUFFERED_WRITES";
        /// Read every object through the page cache, never past it with O_DIRECT (by default
        /// a read of 1 MiB or more of a file not in the cache goes past it, and one read a second
        /// time goes through it).
        buffered_reads: bool = false, env "HOIST_STORE_BUFFERED_READS";
        /// Fault: per-connection bandwidth limit (bytes per second, units allowed: 1MiB).
        fault_bandwidth: Option<Size>, env "HOIST_STORE_FAULT_BANDWIDTH", value "RATE",
            unset "no limit";
        /// Fault: latency added to every request, in milliseconds.
        fault_latency_ms: u64 = Faults::default().latency_ms,
            env "HOIST_STORE_FAULT_LATENCY_MS", value "MS";
        /// Fault: fraction of requests answered 500 InternalError (0..1).
        fault_error_500: f64 = Faults::default().error_500_fraction,
            env "HOIST_STORE_FAULT_ERROR_500", value "FRACTION";
        /// Fault: fraction of requests answered 503 SlowDown (0..1).
        fault_slow_down: f64 = Faults::default().slow_down_fraction,
            env "HOIST_STORE_FAULT_SLOW_DOWN", value "FRACTION";
        /// Fault: fraction of connections cut in the middle of a body (0..1).
        fault_cut: f64 = Faults::default().cut_fraction, env "HOIST_STORE_FAULT_CUT",
            value "FRACTION";
        /// Fault: bytes a doomed connection carries before the cut.
        fault_cut_after: Option<Size>, env "HOIST_STORE_FAULT_CUT_AFTER", value "SIZE",
            unset "random, 16KiB to 1MiB";
        /// Fault: offset of the store's clock in seconds (negative: behind).
        fault_clock_offset: i64 = Faults::default().clock_offset_secs,
            env "HOIST_STORE_FAULT_CLOCK_OFFSET", value "SECS";
        /// Fault: seed for the fault rolls, so a faulty run can be repeated exactly.
        fault_seed: Option<u64>, env "HOIST_STORE_FAULT_SEED", value "N",
            unset "the OS's random source";
        /// How often the lifecycle sweeper runs, in seconds.
        sweep_interval: u64 = 60_u64, env "HOIST_STORE_SWEEP_INTERVAL", value "SECS";
        /// Length of a lifecycle "day" in seconds (shorten it to test DaysAfterInitiation).
        lifecycle_day: u64 = 86_400_u64, env "HOIST_STORE_LIFECYCLE_DAY", value "SECS";
        /// Seconds a connection may take to send a request head before it is closed.
        header_read_timeout: u64 = DEFAULT_HEADER_READ_TIMEOUT.as_secs(),
            env "HOIST_STORE_HEADER_READ_TIMEOUT", value "SECS";
        /// Seconds a kept-alive connection may wait between requests.
        idle_timeout: u64 = DEFAULT_IDLE_TIMEOUT.as_secs(), env "HOIST_STORE_IDLE_TIMEOUT",
            value "SECS";
        /// Seconds a request body may send nothing before it is dropped (400 RequestTimeout),
        /// and a client may read nothing of an answer before its connection is closed.
        body_stall_timeout: u64 = DEFAULT_BODY_STALL_TIMEOUT.as_secs(),
            env "HOIST_STORE_BODY_STALL_TIMEOUT", value "SECS";
        /// Connections served at once; a new one over it sheds the idlest.
        max_connections: u64 = DEFAULT_MAX_CONNECTIONS as u64,
            env "HOIST_STORE_MAX_CONNECTIONS", value "N";
        /// PEM certificate chain (leaf first) to serve HTTPS with, with --tls-key; read again
        /// on SIGHUP or when its files change.
        tls_cert: Option<PathBuf>, env "HOIST_TLS_CERT", value "FILE", unset "plain HTTP";
        /// PEM private key of --tls-cert.
        tls_key: Option<PathBuf>, env "HOIST_TLS_KEY", value "FILE", unset "plain HTTP";
        /// Log level filter (tracing EnvFilter syntax); every request is one line at info.
        log: LogFilter = LogFilter::default(), env "HOIST_LOG", value "FILTER";
        /// Write logs as JSON lines.
        log_json: bool = false, env "HOIST_LOG_JSON";
    }
}

use settings::Settings;

/// Run the embedded S3-compatible store alone.
///
/// Every setting is taken from its flag, else from its variable, else from its default.
pub type Args = settings::Args;

fn config(s: &Settings) -> Result<StoreConfig, crate::settings::Error> {
    let faults = Faults {
        bandwidth_bytes_per_sec: s.fault_bandwidth.map(Size::bytes),
        latency_ms: s.fault_latency_ms,
        error_500_fraction: s.fault_error_500,
        slow_down_fraction: s.fault_slow_down,
        cut_fraction: s.fault_cut,
        cut_after_bytes: s.fault_cut_after.map(Size::bytes),
        clock_offset_secs: s.fault_clock_offset,
        seed: s.fault_seed,
    };
    let mut config = StoreConfig::new(&s.data)
        .with_region(&s.region)
        .with_max_put_size(s.max_put_size.bytes())
        .with_direct_writes(!s.buffered_writes)
        .with_direct_reads(!s.buffered_reads)
        .with_faults(faults)
        .with_sweep_interval(Duration::from_secs(s.sweep_interval.max(1)))
        .with_lifecycle_day(Duration::from_secs(s.lifecycle_day.max(1)))
        .with_header_read_timeout(Duration::from_secs(s.header_read_timeout.max(1)))
        .with_idle_timeout(Duration::from_secs(s.idle_timeout.max(1)))
        .with_body_stall_timeout(Duration::from_secs(s.body_stall_timeout.max(1)))
        .with_max_connections(usize::try_from(s.max_connections).unwrap_or(usize::MAX));
    if let Some(domain) = &s.domain {
        config = config.with_domain(domain);
    }
    match (&s.access_key, &s.secret_key) {
        (Some(key), Some(secret)) => {
            config = config.with_credentials(Credentials::new(key, secret));
        }
        (None, None) => {}
        _ => {
            return Err(crate::settings::Error::Usage(
                "give both --access-key and --secret-key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or neither".into(),
            ));
        }
    }
    for bucket in &s.buckets {
        config = config.with_bucket(bucket);
    }
    Ok(config)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let settings = args.resolve(None, &process_env)?;
    let mut config = config(&settings)?;
    let tls = crate::tls::load(settings.tls_cert.as_deref(), settings.tls_key.as_deref())?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    if let Some(tls) = tls {
        config = config.with_tls(tls);
    }
    // Logs go to stderr: stdout carries the listening address that scripts read.
    crate::logging::init(settings.log.filter(), settings.log_json);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(serve(settings, config, scheme))
}

async fn serve(args: Settings, config: StoreConfig, scheme: &str) -> anyhow::Result<ExitCode> {
    if scheme == "http" {
        crate::tls::ignore_hangup();
    }
    let store = Store::open(config).context("opening the store")?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let mut stdout = String::new();
    writeln!(stdout, "hoist store listening on {scheme}://{addr}")?;
    if store.credentials_were_generated() {
        // Shown once, when made: the product of a first start, as the file keeps them.
        let c = store.credentials();
        writeln!(
            stdout,
            "generated credentials (kept in {}):",
            args.data.join(hoist_store::CREDENTIALS_FILE).display()
        )?;
        writeln!(stdout, "AWS_ACCESS_KEY_ID={}", c.access_key_id)?;
        writeln!(stdout, "AWS_SECRET_ACCESS_KEY={}", c.secret_access_key)?;
    }
    writeln!(
        stdout,
        "region {}; buckets: {}",
        args.region,
        if args.buckets.is_empty() {
            "(none)".into()
        } else {
            args.buckets.join(", ")
        }
    )?;
    crate::output::product(&stdout);
    store
        .serve(listener, shutdown_signal())
        .await
        .context("serving")?;
    Ok(ExitCode::SUCCESS)
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = async {
            match term.as_mut() {
                Some(term) => { term.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}
