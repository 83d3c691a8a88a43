//! `hoist store`: the embedded S3-compatible store, alone.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use hoist_core::units::parse_size;
use hoist_store::{Credentials, Faults, Store, StoreConfig};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory that holds buckets, objects, multipart uploads and generated credentials.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9000")]
    pub listen: String,
    /// Bucket to create at start when missing (repeatable).
    #[arg(long = "bucket", value_name = "NAME")]
    pub buckets: Vec<String>,
    /// Region the store answers for.
    #[arg(long, default_value = hoist_store::DEFAULT_REGION)]
    pub region: String,
    /// Access key id; generated and kept in DIR when absent.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", requires = "secret_key")]
    pub access_key: Option<String>,
    /// Secret access key.
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        requires = "access_key",
        hide_env_values = true
    )]
    pub secret_key: Option<String>,
    /// Largest single PUT (bytes, or with a unit: 10MiB, 5GiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "5GiB")]
    pub max_put_size: u64,
    /// Fault: per-connection bandwidth limit (bytes per second, units allowed: 1MiB).
    #[arg(long, value_name = "RATE", value_parser = parse_size)]
    pub fault_bandwidth: Option<u64>,
    /// Fault: latency added to every request, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub fault_latency_ms: u64,
    /// Fault: fraction of requests answered 500 InternalError (0..1).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0)]
    pub fault_error_500: f64,
    /// Fault: fraction of requests answered 503 SlowDown (0..1).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0)]
    pub fault_slow_down: f64,
    /// Fault: fraction of connections cut in the middle of a body (0..1).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0)]
    pub fault_cut: f64,
    /// Fault: bytes a doomed connection carries before the cut (default: random 16KiB..1MiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub fault_cut_after: Option<u64>,
    /// Fault: offset of the store's clock in seconds (negative: behind).
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 0,
        allow_hyphen_values = true
    )]
    pub fault_clock_offset: i64,
    /// Fault: seed for the fault rolls, so a faulty run can be repeated exactly.
    #[arg(long, value_name = "N")]
    pub fault_seed: Option<u64>,
    /// How often the lifecycle sweeper runs, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub sweep_interval: u64,
    /// Length of a lifecycle "day" in seconds (shorten it to test DaysAfterInitiation).
    #[arg(long, value_name = "SECS", default_value_t = 86_400)]
    pub lifecycle_day: u64,
}

impl Args {
    fn config(&self) -> StoreConfig {
        let faults = Faults {
            bandwidth_bytes_per_sec: self.fault_bandwidth,
            latency_ms: self.fault_latency_ms,
            error_500_fraction: self.fault_error_500,
            slow_down_fraction: self.fault_slow_down,
            cut_fraction: self.fault_cut,
            cut_after_bytes: self.fault_cut_after,
            clock_offset_secs: self.fault_clock_offset,
            seed: self.fault_seed,
        };
        let mut config = StoreConfig::new(&self.data)
            .with_region(&self.region)
            .with_max_put_size(self.max_put_size)
            .with_faults(faults)
            .with_sweep_interval(Duration::from_secs(self.sweep_interval.max(1)))
            .with_lifecycle_day(Duration::from_secs(self.lifecycle_day.max(1)));
        if let (Some(key), Some(secret)) = (&self.access_key, &self.secret_key) {
            config = config.with_credentials(Credentials::new(key, secret));
        }
        for bucket in &self.buckets {
            config = config.with_bucket(bucket);
        }
        config
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<ExitCode> {
    let store = Store::open(args.config()).context("opening the store")?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "hoist store listening on http://{addr}")?;
    if store.credentials_were_generated() {
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
    stdout.flush()?;
    drop(stdout);
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
