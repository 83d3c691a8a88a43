//! `hoist doctor`: check a live setup; `hoist doctor explain`: name the cause of a failure.
//!
//! Settings resolve flags > environment > the TOML file `hoist serve` reads (`--config`), so
//! `hoist doctor --config hoist.toml` checks the same bucket the coordinator uses.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use hoist_core::credentials::{
    Credentials, ENV_ACCESS_KEY, ENV_EXPIRATION, ENV_SECRET_KEY, ENV_SESSION_TOKEN, from_env_vars,
};
use hoist_core::units::parse_duration;
use hoist_doctor::explain::{self, InputKind};
use hoist_doctor::live::{self, Options, Target};
use hoist_doctor::report::{UNKNOWN, findings_json, findings_text};
use serde::Deserialize;

/// Check a live endpoint and bucket (exit 0 ok, 1 warn, 2 fail), or explain a failure.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<DoctorCommand>,
    #[command(flatten)]
    target: TargetArgs,
    /// The web app's origin, for the CORS checks (default: the first of the coordinator's
    /// cors_origins).
    #[arg(long, env = "HOIST_DOCTOR_ORIGIN")]
    origin: Option<String>,
    /// Fail when the clock offset to the endpoint is larger (500ms, 1s, 2s …).
    #[arg(long, default_value = "1s", value_parser = duration)]
    max_clock_offset: Duration,
    /// Incomplete uploads older than this count as stale.
    #[arg(long, default_value = "24h", value_parser = duration)]
    stale_after: Duration,
    /// The slowest link URLs must allow for, in bits per second.
    #[arg(long, value_name = "BPS")]
    floor_bandwidth_bps: Option<u64>,
    /// Set the CORS rules (merged with existing ones) and the lifecycle rule, and say what changed.
    #[arg(long)]
    fix: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum DoctorCommand {
    /// Name the cause behind an S3 XML error body, a `curl -v` transcript or a HAR file.
    Explain(ExplainArgs),
}

#[derive(Debug, clap::Args)]
struct ExplainArgs {
    /// The file to read, or `-` for standard input.
    #[arg(default_value = "-")]
    file: PathBuf,
    /// Print `{"cause","evidence","fix"}` (a list when there are several).
    #[arg(long)]
    json: bool,
}

/// Where and as whom: shared by `hoist doctor` and `hoist gc`.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// The TOML settings file of `hoist serve`.
    #[arg(long, env = "HOIST_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The S3 endpoint URL (default: AWS_ENDPOINT_URL, else the embedded store of `hoist serve`).
    #[arg(long, env = "HOIST_S3_ENDPOINT", value_name = "URL")]
    endpoint: Option<String>,
    /// The bucket.
    #[arg(long, env = "HOIST_BUCKET")]
    bucket: Option<String>,
    /// The region to sign for (default: AWS_REGION, else us-east-1).
    #[arg(long, env = "HOIST_REGION")]
    region: Option<String>,
    /// The data directory of `hoist serve`/`hoist store`, whose credentials.json is used when
    /// no access key is given.
    #[arg(long, env = "HOIST_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    /// Access key id.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    access_key: Option<String>,
    /// Secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// Session token of temporary credentials.
    #[arg(long, env = "AWS_SESSION_TOKEN", hide_env_values = true)]
    session_token: Option<String>,
    /// When temporary credentials expire (RFC 3339).
    #[arg(long, env = "AWS_CREDENTIAL_EXPIRATION", value_name = "TIME")]
    credentials_expire_at: Option<String>,
}

/// The part of `hoist serve`'s TOML file the doctor needs; other keys are ignored.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct FileSettings {
    store_listen: Option<String>,
    data: Option<PathBuf>,
    bucket: Option<String>,
    s3_endpoint: Option<String>,
    region: Option<String>,
    cors_origins: Option<Vec<String>>,
    single_put_threshold: Option<String>,
    part_url_ttl: Option<u64>,
}

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| e.to_string())
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl TargetArgs {
    fn file(&self) -> anyhow::Result<FileSettings> {
        let Some(path) = &self.config else {
            return Ok(FileSettings::default());
        };
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Resolves the target, and the settings file for the options that come from it.
    pub(crate) fn resolve(&self) -> anyhow::Result<(Target, FileSettings)> {
        let file = self.file()?;
        let data = self.data.clone().or(file.data.clone());
        let endpoint = self
            .endpoint
            .clone()
            .or(file.s3_endpoint.clone())
            .or_else(|| env_nonempty("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|| {
                format!(
                    "http://{}",
                    file.store_listen
                        .as_deref()
                        .unwrap_or(super::serve::Defaults::STORE_LISTEN)
                )
            });
        let region = self
            .region
            .clone()
            .or(file.region.clone())
            .or_else(|| env_nonempty("AWS_REGION"))
            .or_else(|| env_nonempty("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| hoist_store::DEFAULT_REGION.to_owned());
        let bucket = self
            .bucket
            .clone()
            .or(file.bucket.clone())
            .unwrap_or_else(|| "uploads".to_owned());
        // The flags, each defaulting to its AWS variable, read by hoist-core's rules.
        let given = |name: &str| match name {
            ENV_ACCESS_KEY => self.access_key.clone(),
            ENV_SECRET_KEY => self.secret_key.clone(),
            ENV_SESSION_TOKEN => self.session_token.clone(),
            ENV_EXPIRATION => self.credentials_expire_at.clone(),
            _ => None,
        };
        let credentials = match from_env_vars(given).context(
            "credentials (--access-key, --secret-key, --session-token, --credentials-expire-at)",
        )? {
            Some(c) => c,
            None if self.secret_key.is_some() => {
                bail!("give both the access key and the secret key (or neither)")
            }
            None => store_credentials(
                &data.unwrap_or_else(|| PathBuf::from(super::serve::Defaults::DATA)),
            )?,
        };
        Ok((
            Target {
                endpoint,
                region,
                bucket,
                credentials,
            },
            file,
        ))
    }
}

/// The credentials the embedded store generated in its data directory.
fn store_credentials(data: &Path) -> anyhow::Result<Credentials> {
    let path = data.join(hoist_store::CREDENTIALS_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!("no credentials: give --access-key and --secret-key (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), or --data with {}", path.display())
    })?;
    let c: hoist_store::Credentials =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(Credentials::new(c.access_key_id, c.secret_access_key))
}

/// A tokio runtime for one command.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(DoctorCommand::Explain(e)) = args.command {
        return run_explain(e);
    }
    let (target, file) = args.target.resolve()?;
    let mut options = Options {
        origin: args.origin.or_else(|| {
            file.cors_origins
                .and_then(|o| o.into_iter().find(|o| o != "*"))
        }),
        max_clock_offset: args.max_clock_offset,
        stale_after: args.stale_after,
        fix: args.fix,
        ..Options::default()
    };
    if let Some(bps) = args.floor_bandwidth_bps {
        options.ttl = options.ttl.with_floor_bandwidth_bps(bps);
    }
    if let Some(secs) = file.part_url_ttl {
        options.ttl = options.ttl.with_part_ttl(Duration::from_secs(secs));
    }
    if let Some(threshold) = file.single_put_threshold {
        options.single_put_threshold = hoist_store::parse_size(&threshold)
            .map_err(|e| anyhow::anyhow!("single_put_threshold: {e}"))?;
    }
    let report = runtime()?.block_on(live::run(target, &options))?;
    if args.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.text());
    }
    Ok(ExitCode::from(report.worst().exit_code()))
}

/// Exit 0 when a cause was named, 1 when the input could only be called `unknown`.
fn run_explain(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let mut input = Vec::new();
    if args.file.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut input)
            .context("reading standard input")?;
    } else {
        input = std::fs::read(&args.file)
            .with_context(|| format!("reading {}", args.file.display()))?;
    }
    let explanation = explain::explain(&input);
    if args.json {
        println!("{}", findings_json(&explanation.findings));
    } else {
        let kind = match explanation.kind {
            InputKind::S3Error => "an S3 error body",
            InputKind::CurlTranscript => "a curl -v transcript",
            InputKind::Har => "a HAR file",
            InputKind::Unknown => "unrecognised input",
        };
        println!("read {kind}\n");
        print!("{}", findings_text(&explanation.findings));
    }
    let named = explanation.findings.iter().any(|f| f.cause != UNKNOWN);
    Ok(if named {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
