//! `hoist doctor`: check a live setup; `hoist doctor explain`: name the cause of a failure.
//!
//! Settings resolve flags > environment > the TOML file `hoist serve` reads (`--config`), so
//! `hoist doctor --config hoist.toml` checks the same bucket the coordinator uses.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use hoist_core::credentials::Credentials;
use hoist_core::redact::redact_text;
use hoist_core::time::Timestamp;
use hoist_core::units::parse_duration;
use hoist_doctor::explain::{self, InputKind};
use hoist_doctor::live::{self, Options, Target};
use hoist_doctor::report::{UNKNOWN, findings_json, findings_text};

use super::serve;
use crate::output;
use crate::settings::{Env, load_file, process_env, settings};

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

settings! {
    /// Where `hoist doctor` and `hoist gc` look, and as whom. What the flags and variables leave
    /// unset comes from `hoist serve`'s `--config` file, named as `hoist serve` names it.
    pub mod target {
        /// The S3 endpoint URL.
        endpoint: Option<String>, env "HOIST_S3_ENDPOINT", fallback "AWS_ENDPOINT_URL",
            value "URL", unset "the embedded store of `hoist serve` (its store_listen)";
        /// The bucket.
        bucket: String = serve::defaults().bucket, env "HOIST_BUCKET";
        /// The region to sign for.
        region: String = serve::defaults().region, env "HOIST_REGION",
            fallback "AWS_REGION", "AWS_DEFAULT_REGION";
        /// The data directory of `hoist serve`/`hoist store`, whose generated credentials are
        /// used when no access key is given.
        data: PathBuf = serve::defaults().data, env "HOIST_DATA", value "DIR";
        /// Access key id, with --secret-key.
        access_key: Option<String>, env "AWS_ACCESS_KEY_ID", unset "the credentials in DIR";
        /// Secret access key, with --access-key.
        secret_key: Option<String>, env "AWS_SECRET_ACCESS_KEY";
        /// Session token of temporary credentials.
        session_token: Option<String>, env "AWS_SESSION_TOKEN";
        /// When temporary credentials expire (RFC 3339).
        credentials_expire_at: Option<Timestamp>, env "AWS_CREDENTIAL_EXPIRATION",
            value "TIME";
    }
}

/// Where and as whom: shared by `hoist doctor` and `hoist gc`.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// The TOML settings file of `hoist serve`.
    #[arg(long, env = "HOIST_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    target: target::Args,
}

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| e.to_string())
}

impl TargetArgs {
    /// `hoist serve`'s settings file, read as `hoist serve` reads it.
    fn file(&self) -> anyhow::Result<serve::settings::File> {
        Ok(match &self.config {
            Some(path) => load_file(path)?,
            None => serve::settings::File::default(),
        })
    }

    /// Resolves the target, and the settings file for the options that come from it.
    pub(crate) fn resolve(&self) -> anyhow::Result<(Target, serve::settings::File)> {
        self.resolve_with(&process_env)
    }

    fn resolve_with(&self, env: Env<'_>) -> anyhow::Result<(Target, serve::settings::File)> {
        let file = self.file()?;
        let shared = target::File {
            endpoint: file.s3_endpoint.clone(),
            bucket: file.bucket.clone(),
            region: file.region.clone(),
            data: file.data.clone(),
            ..target::File::default()
        };
        let t = self.target.clone().resolve(Some(shared), env)?;
        let endpoint = t.endpoint.unwrap_or_else(|| {
            let store = file.store_listen.unwrap_or(serve::defaults().store_listen);
            format!("http://{store}")
        });
        // A session token or an expiry belongs to the key pair given with it: without one,
        // the store's own credentials are used as they are.
        let credentials = match (t.access_key, t.secret_key) {
            (Some(a), Some(s)) => {
                let mut c = Credentials::new(a, s);
                if let Some(token) = &t.session_token {
                    c = c.with_session_token(token);
                }
                if let Some(at) = t.credentials_expire_at {
                    c = c.with_expiry(at);
                }
                c
            }
            (Some(_), None) | (None, Some(_)) => {
                bail!("give both the access key and the secret key (or neither)")
            }
            (None, None) => store_credentials(&t.data)?,
        };
        let target = Target {
            endpoint,
            region: t.region,
            bucket: t.bucket,
            credentials,
        };
        Ok((target, file))
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
        options.single_put_threshold = threshold.bytes();
    }
    let report = runtime()?.block_on(live::run(target, &options))?;
    if args.json {
        output::line(&report.json());
    } else {
        output::product(&redact_text(&report.text()));
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
        output::line(&findings_json(&explanation.findings));
    } else {
        let kind = match explanation.kind {
            InputKind::S3Error => "an S3 error body",
            InputKind::CurlTranscript => "a curl -v transcript",
            InputKind::Har => "a HAR file",
            InputKind::Unknown => "unrecognised input",
        };
        output::line(&format!("read {kind}\n"));
        output::product(&redact_text(&findings_text(&explanation.findings)));
    }
    let named = explanation.findings.iter().any(|f| f.cause != UNKNOWN);
    Ok(if named {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(flags: &[&str], vars: &[(&'static str, &'static str)], toml: &str) -> Target {
        // One file per process: the calls of the one test that writes it run in turn.
        let path =
            std::env::temp_dir().join(format!("hoist-doctor-target-{}.toml", std::process::id()));
        std::fs::write(&path, toml).unwrap();
        let config = path.to_str().unwrap();
        let argv = [
            "hoist",
            "--config",
            config,
            "--access-key",
            "AK",
            "--secret-key",
            "SK",
        ];
        let cmd = <TargetArgs as clap::Args>::augment_args(clap::Command::new("hoist"));
        let matches = cmd.try_get_matches_from(argv.iter().chain(flags)).unwrap();
        let args = <TargetArgs as clap::FromArgMatches>::from_arg_matches(&matches).unwrap();
        let env = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        let (target, _) = args.resolve_with(&env).unwrap();
        std::fs::remove_file(&path).unwrap();
        target
    }

    #[test]
    fn the_target_is_the_coordinators_unless_told_otherwise() {
        let t = target(
            &[],
            &[],
            "store_listen = \"127.0.0.1:9100\"\nbucket = \"b1\"\n",
        );
        assert_eq!(
            (t.endpoint.as_str(), t.bucket.as_str(), t.region.as_str()),
            ("http://127.0.0.1:9100", "b1", "us-east-1")
        );
        let aws = [
            ("AWS_ENDPOINT_URL", "http://aws.example"),
            ("AWS_DEFAULT_REGION", "eu-west-3"),
        ];
        let t = target(&[], &aws, "s3_endpoint = \"http://file.example\"\n");
        assert_eq!(
            t.endpoint, "http://file.example",
            "the file before AWS_ENDPOINT_URL"
        );
        assert_eq!(t.region, "eu-west-3", "AWS_DEFAULT_REGION after AWS_REGION");
        let t = target(&[], &aws, "");
        assert_eq!(t.endpoint, "http://aws.example");
        let t = target(
            &["--region", "ap-east-1", "--bucket", "b3"],
            &[("HOIST_BUCKET", "b2"), ("AWS_REGION", "us-west-2")],
            "region = \"eu-north-1\"\n",
        );
        assert_eq!((t.region.as_str(), t.bucket.as_str()), ("ap-east-1", "b3"));
        let t = target(
            &[],
            &[("AWS_REGION", "us-west-2")],
            "region = \"eu-north-1\"\n",
        );
        assert_eq!(t.region, "eu-north-1", "the file before AWS_REGION");
    }
}
