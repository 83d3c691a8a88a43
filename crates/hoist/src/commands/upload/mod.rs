//! `hoist upload`: a file or standard input to S3 (direct) or through a hoist-server.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hoist_client::{
    Advice, CancellationToken, CoordinatorTransport, CredentialSource, DirectTransport, ErrorKind,
    HookRetry, HttpClient, Progress, ProgressFn, RetryPolicy, Source, Transport, UploadConfig,
    UploadOutcome, Uploader, http_client,
};
use hoist_core::presign::Endpoint;
use hoist_core::units::{parse_duration, parse_size};

use crate::output;

mod batch;

/// Exit codes, one per failure class, so scripts can tell them apart.
const EXIT_HELP: &str = "\
Exit codes:
  0    uploaded; size and checksum confirmed by the store
  1    other failure
  2    usage: bad arguments, missing credentials, unreadable source
  3    network: the store or coordinator stayed unreachable or failing after retries
       (the upload is kept: run again with --resume)
  4    auth: credentials, signature or permission refused
  5    integrity: a checksum, size or the object's parts did not match (the upload is aborted)
  6    refused: the store or coordinator refused the request for another reason
  7    already exists: with --no-clobber, an object exists at the key and is kept
       (the upload is aborted)
  8    unsupported: --no-clobber, and the store does not honour conditional writes
       (If-None-Match: *, checked before anything is sent); nothing was uploaded
  9    several files: some failed and others were stored (the summary lists each
       failure with its cause; when every file failed the same way, that way's code)
  130  interrupted (Ctrl-C); the upload is kept: run again with --resume

Direct mode reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, else the
profile (--profile, AWS_PROFILE, default \"default\") of AWS_SHARED_CREDENTIALS_FILE or
~/.aws/credentials. With an endpoint, buckets are addressed path-style.";

/// Upload files, folders or standard input to S3 directly or through a hoist-server.
#[derive(Debug, clap::Args)]
#[command(after_long_help = EXIT_HELP, after_help = EXIT_HELP)]
pub struct Args {
    /// What to upload: files, folders (their files, recursively), glob patterns (quoted, so
    /// that hoist expands them: 'logs/**/*.gz'), or `-` alone for standard input (length
    /// unknown). In direct mode the last argument is the destination: `s3://BUCKET/KEY`
    /// for one file (a key ending in `/` gets the file's name), `s3://BUCKET/PREFIX/` for
    /// several, each stored at the prefix plus its path relative to the argument that named
    /// it (a folder's contents, a glob's base folder, a file's own name).
    #[arg(value_name = "PATH", required = true, num_args = 1..)]
    pub targets: Vec<PathBuf>,
    /// The one file (or `-`) of a single-file upload, from `targets`.
    #[arg(skip)]
    pub file: PathBuf,
    /// The destination, from `targets` (direct mode).
    #[arg(skip)]
    pub dest: Option<String>,
    /// Upload through this hoist-server (presigned URLs only, no credentials needed). Repeat
    /// the flag or give a comma-separated list for replicas sharing a token secret: the first
    /// is used until it stops answering (connection refused, timeout, 5xx), then the next,
    /// with the same upload.
    #[arg(long, value_name = "URL", env = "HOIST_SERVER", value_delimiter = ',')]
    pub server: Vec<String>,
    /// API key or grant for the hoist-server (sent as a bearer token).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "HOIST_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// With --server: the object key to ask for (when the grant allows choosing); for
    /// several files, a prefix ending in `/` that each file's relative path is added to.
    #[arg(long, value_name = "KEY", requires = "server")]
    pub key: Option<String>,
    /// S3 endpoint URL (direct mode); Amazon S3 when absent.
    #[arg(long, value_name = "URL", env = "AWS_ENDPOINT_URL")]
    pub endpoint: Option<String>,
    /// Region to sign for.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Profile of the shared credentials file.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Requests sent at once: the parts of one file (default 8; memory is about this many
    /// part sizes), or across every file of several (default 32).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: Option<u16>,
    /// Several files: the most memory their part buffers take at once, across the files
    /// (the default holds a part of 8 MiB for each of 32 requests in flight).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "256MiB")]
    pub memory: u64,
    /// Several files: upload only those whose path (relative to the argument that named
    /// them) matches this glob; a pattern without `/` matches the file name. Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Several files: leave out those that match this glob (it wins over --include).
    /// Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Several files: follow symbolic links met inside folders (each folder is walked
    /// once). Without it they are skipped; a link given as an argument is always followed.
    #[arg(long)]
    pub follow_symlinks: bool,
    /// Do not send a file whose object is already stored with the same size and content
    /// (its ETag: the file's MD5, or the multipart ETag of hoist's plan for it), so a rerun
    /// sends only what is new or changed.
    #[arg(long)]
    pub skip_existing: bool,
    /// Several files: stop at the first file that fails (the files being sent are kept
    /// resumable) instead of going on with the others.
    #[arg(long)]
    pub fail_fast: bool,
    /// Part size (bytes, or with a unit: 16MiB); default: the planner's choice.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub part_size: Option<u64>,
    /// For standard input: the size it is expected to reach (sets the part size).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, conflicts_with = "part_size")]
    pub expected_size: Option<u64>,
    /// Checksum sent with every part and checked on the object. The store refuses a part
    /// whose bytes do not match it (with --server, the hoist-server signs it into each part
    /// URL), and the object's, combined from the parts', must equal the store's.
    #[arg(long, value_name = "ALG", default_value = "crc64nvme", value_parser = ["crc64nvme", "crc32c", "sha256", "none"])]
    pub checksum: String,
    /// Content type of the object.
    #[arg(long, value_name = "TYPE")]
    pub content_type: Option<String>,
    /// Never replace an object at the key: the store refuses the upload (S3's conditional
    /// write, If-None-Match: *) when one exists, or is written meanwhile, and the command
    /// ends with exit code 7. The store must support conditional writes.
    #[arg(long)]
    pub no_clobber: bool,
    /// Continue the interrupted upload of the same file (path, size, modification time and
    /// contents at both ends) to the same destination, through any of the coordinators that
    /// share its token secret (or any endpoint of the same store), sending only the parts the
    /// store lacks. When there is none to continue it says so and starts a new upload;
    /// `--resume=strict` fails instead (exit code 2).
    #[arg(
        long,
        value_name = "MODE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "auto"
    )]
    pub resume: Option<ResumeMode>,
    /// On a fatal error, leave the multipart upload in place instead of aborting it.
    #[arg(long)]
    pub keep_partial: bool,
    /// Where resume journals are kept (default $XDG_STATE_HOME/hoist or ~/.local/state/hoist).
    #[arg(long, value_name = "DIR", env = "HOIST_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Attempts per request before giving up.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub retries: u32,
    /// With --server: when the hoist-server stored the object but could not yet tell its
    /// application (its Complete answers hook_pending), send Complete again up to N times
    /// (each delivers the event again); the upload succeeds either way, and says so.
    #[arg(long, value_name = "N", requires = "server", default_value_t = HookRetry::default().retries)]
    pub hook_retries: u32,
    /// The wait before the first repeated Complete of --hook-retries; each later one doubles.
    #[arg(long, value_name = "DURATION", requires = "server", value_parser = parse_duration,
          default_value = "4s")]
    pub hook_retry_wait: Duration,
    /// Print progress events and the result as JSON lines on standard output.
    #[arg(long)]
    pub json: bool,
    /// No progress bar, even on a terminal.
    #[arg(long, short)]
    pub quiet: bool,
}

/// What `--resume` does when there is nothing to continue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ResumeMode {
    /// Say so on standard error and start a new upload.
    Auto,
    /// Fail with exit code 2.
    Strict,
}

pub fn run(mut args: Args) -> anyhow::Result<ExitCode> {
    let paths = match split_targets(&mut args) {
        Ok(p) => p,
        Err(message) => return Ok(usage(&args, &message)),
    };
    if batch::wanted(&paths) {
        batch::bound_allocator();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    if batch::wanted(&paths) {
        runtime.block_on(batch::upload(args, paths))
    } else {
        runtime.block_on(upload(args))
    }
}

/// Splits the positional arguments into what to upload and (direct mode) the destination.
fn split_targets(args: &mut Args) -> Result<Vec<PathBuf>, String> {
    let mut paths = args.targets.clone();
    let is_dest = |p: &PathBuf| p.to_str().is_some_and(|s| s.starts_with("s3://"));
    let last_is_dest = paths.last().is_some_and(is_dest);
    if args.server.is_empty() {
        if !last_is_dest {
            return Err(
                "give the destination last (s3://BUCKET/KEY, or s3://BUCKET/PREFIX/ \
                        for several files), or upload through a hoist-server with --server URL"
                    .into(),
            );
        }
        args.dest = paths.pop().map(|p| p.to_string_lossy().into_owned());
        if paths.is_empty() {
            return Err(
                "nothing to upload: name the files or folders before the destination".into(),
            );
        }
    } else if last_is_dest {
        return Err(
            "with --server no s3:// destination is given: the hoist-server decides \
                    where objects go (ask for a key or a prefix with --key)"
                .into(),
        );
    }
    if let Some(p) = paths.iter().find(|p| is_dest(p)) {
        return Err(format!("{} can only be the last argument", p.display()));
    }
    if paths.len() > 1 && paths.iter().any(|p| p.as_os_str() == "-") {
        return Err("- (standard input) is uploaded alone, not with other paths".into());
    }
    args.file = paths[0].clone();
    Ok(paths)
}

async fn upload(args: Args) -> anyhow::Result<ExitCode> {
    let config = match settings(&args) {
        Ok(c) => c,
        Err(e) => return Ok(usage(&args, &format!("{e:#}"))),
    };
    let http = http_client(config.concurrency)?;
    let source = if args.file.as_os_str() == "-" {
        Source::stdin()
    } else {
        Source::File(args.file.clone())
    };
    if !args.server.is_empty() {
        match coordinator(&args, &args.server, http.clone()) {
            Ok(t) => go(&args, Uploader::new(t, http, config), source).await,
            Err(e) => Ok(usage(&args, &e.to_string())),
        }
    } else {
        match direct(&args, http.clone()) {
            Ok(t) => go(&args, Uploader::new(t, http, config), source).await,
            Err(e) => Ok(usage(&args, &format!("{e:#}"))),
        }
    }
}

fn coordinator(
    args: &Args,
    servers: &[String],
    http: HttpClient,
) -> hoist_client::Result<CoordinatorTransport> {
    let mut t = CoordinatorTransport::replicas(http, servers, args.token.clone())?;
    if let Some(name) = file_name(&args.file) {
        t = t.with_filename(name);
    }
    if let Some(k) = &args.key {
        t = t.with_key(k.clone());
    }
    if args.no_clobber {
        t = t.with_no_clobber();
    }
    Ok(t)
}

fn file_name(p: &Path) -> Option<String> {
    (p.as_os_str() != "-")
        .then(|| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .flatten()
}

/// Resolves flags and environment into the engine's settings.
fn settings(args: &Args) -> anyhow::Result<UploadConfig> {
    let checksum = hoist_client::parse_checksum(&args.checksum)?;
    if args.resume.is_some() && args.file.as_os_str() == "-" {
        bail!("--resume needs a file: standard input cannot be read again");
    }
    Ok(UploadConfig {
        concurrency: args.concurrency.map_or(8, usize::from),
        part_size: args.part_size,
        checksum,
        retry: RetryPolicy {
            max_attempts: args.retries.max(1),
            ..RetryPolicy::default()
        },
        state_dir: args
            .state_dir
            .clone()
            .or_else(hoist_client::default_state_dir),
        resume: args.resume.is_some(),
        resume_strict: args.resume == Some(ResumeMode::Strict),
        keep_partial: args.keep_partial,
        content_type: args.content_type.clone(),
        hook_retry: HookRetry {
            retries: args.hook_retries,
            first_wait: args.hook_retry_wait,
        },
        limits: None,
        unless_stored: false,
    })
}

/// Reads `s3://BUCKET/KEY` into the bucket and the key (empty when only the bucket is
/// given).
fn parse_dest(dest: &str) -> anyhow::Result<(String, String)> {
    let rest = dest
        .strip_prefix("s3://")
        .with_context(|| format!("destination {dest:?} must look like s3://BUCKET/KEY"))?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    Ok((bucket.to_owned(), key.to_owned()))
}

/// Builds the direct transport from `s3://bucket/key`, the endpoint and the credentials.
fn direct(args: &Args, http: HttpClient) -> anyhow::Result<DirectTransport> {
    let dest = args.dest.as_deref().unwrap_or_default();
    let (bucket, mut key) = parse_dest(dest)?;
    if key.is_empty() || key.ends_with('/') {
        let name = file_name(&args.file).with_context(|| {
            format!("destination {dest:?} needs a key when reading standard input")
        })?;
        key.push_str(&name);
    }
    direct_for(args, http, &bucket, &key)
}

/// The direct transport for `bucket`/`key` at the endpoint, with the credentials.
fn direct_for(
    args: &Args,
    http: HttpClient,
    bucket: &str,
    key: &str,
) -> anyhow::Result<DirectTransport> {
    let endpoint = match &args.endpoint {
        Some(url) => Endpoint::parse(url, args.region.as_str())
            .map_err(|e| anyhow::anyhow!("endpoint {url:?} {}", e.reason))?,
        None => Endpoint::aws(&args.region),
    };
    let credentials =
        CredentialSource::from_env(args.profile.as_deref(), hoist_client::local_now())?;
    let mut t = DirectTransport::new(http, endpoint, credentials, bucket, key)?;
    if let Some(e) = args.expected_size {
        t = t.with_stream_expected(e);
    }
    if args.no_clobber {
        t = t.with_no_clobber();
    }
    Ok(t)
}

/// Reports a usage error the same way in every mode.
fn usage(args: &Args, message: &str) -> ExitCode {
    report_error(args, ErrorKind::Usage, message, None);
    ExitCode::from(2)
}

fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Usage => 2,
        ErrorKind::Network => 3,
        ErrorKind::Auth => 4,
        ErrorKind::Integrity => 5,
        ErrorKind::Refused => 6,
        ErrorKind::AlreadyExists => 7,
        ErrorKind::Unsupported => 8,
        ErrorKind::Cancelled => 130,
        _ => 1,
    }
}

fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Usage => "usage",
        ErrorKind::Network => "network",
        ErrorKind::Auth => "auth",
        ErrorKind::Integrity => "integrity",
        ErrorKind::Refused => "refused",
        ErrorKind::AlreadyExists => "already_exists",
        ErrorKind::Unsupported => "unsupported",
        ErrorKind::Cancelled => "cancelled",
        _ => "other",
    }
}

/// Says what failed, then (for an upload's failure) the cause the doctor names and the next
/// step: on standard error, and as one JSON event with `--json`.
fn report_error(args: &Args, kind: ErrorKind, message: &str, advice: Option<&Advice>) {
    let cause = advice.and_then(|a| a.cause);
    if args.json {
        let line = serde_json::json!({
            "event": "error", "kind": kind_name(kind), "exit_code": exit_code(kind),
            "message": message, "cause": cause.map(|c| c.as_str()),
            "next": advice.map(|a| a.next.as_str()),
        });
        output::line(&line.to_string());
    }
    let mut text = format!("hoist upload: {message}");
    if let Some(c) = cause {
        text.push_str(&format!("\n  cause: {c} ({})", c.entry().title));
    }
    if let Some(a) = advice {
        text.push_str(&format!("\n  next: {}", a.next));
    }
    output::message(&text);
}

async fn go<T: Transport>(
    args: &Args,
    up: Uploader<T>,
    source: Source,
) -> anyhow::Result<ExitCode> {
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });
    let bar = (!args.json && !args.quiet && std::io::stderr().is_terminal()).then(Bar::new);
    let json = args.json;
    let quiet = args.quiet;
    let bar_cb = bar.clone();
    let progress: ProgressFn = Arc::new(move |p: &Progress| {
        if json && let Ok(line) = serde_json::to_string(p) {
            output::line(&line);
        }
        notice(p, quiet);
        if let Some(b) = &bar_cb {
            b.on(p);
        }
    });
    let ticker = bar.clone().map(|b| {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                b.draw(false);
            }
        })
    });
    let result = up.upload(source, Some(progress), cancel).await;
    if let Some(t) = ticker {
        t.abort();
    }
    if let Some(b) = &bar {
        b.draw(true);
        output::product_note("");
    }
    match result {
        Ok(outcome) => {
            print_outcome(args, &outcome);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let kind = e.kind();
            let mut message = e.to_string();
            let mut advice = e.advice();
            if matches!(kind, ErrorKind::Cancelled | ErrorKind::Network)
                && args.file.as_os_str() != "-"
            {
                message.push_str(
                    "; the upload is kept: run the same command with --resume to continue",
                );
            }
            if kind == ErrorKind::AlreadyExists {
                message = format!(
                    "the object already exists: --no-clobber keeps it and nothing was \
                     replaced ({message})"
                );
            }
            if args.file.as_os_str() == "-" && advice.next.contains("--resume") {
                // Standard input cannot be read again: there is nothing to resume.
                advice.next = advice.next.replace(
                    "--resume",
                    "the same input (standard input is not resumable)",
                );
            }
            report_error(args, kind, &message, Some(&advice));
            Ok(ExitCode::from(exit_code(kind)))
        }
    }
}

/// What the user is told on standard error as it happens, whatever the output mode: a resume
/// that found nothing to continue, a move to another coordinator (even with --quiet), and an
/// application not yet told of a stored upload.
fn notice(p: &Progress, quiet: bool) {
    match p {
        Progress::NothingToResume { reason } => output::message(&format!(
            "hoist upload: nothing to resume ({reason}): starting a new upload"
        )),
        Progress::Failover { from, to, reason } => output::message(&format!(
            "hoist upload: coordinator {from} is not answering ({reason}); continuing the \
             same upload through {to}"
        )),
        Progress::SendingAgain { parts, reason } => output::message(&format!(
            "hoist upload: the store refused parts it had listed as stored ({reason}); \
             sending {} again from the file",
            part_list(parts)
        )),
        Progress::HookPending {
            completes: 1,
            delay_ms: Some(ms),
        } if !quiet => output::message(&format!(
            "hoist upload: stored; the hoist-server could not tell its application yet \
             (upload.completed pending): completing again in {:.0} s",
            *ms as f64 / 1000.0
        )),
        _ => {}
    }
}

/// "part 3" or "parts 3, 7, 9".
fn part_list(parts: &[u32]) -> String {
    let numbers: Vec<String> = parts.iter().map(u32::to_string).collect();
    match numbers.len() {
        1 => format!("part {}", numbers[0]),
        _ => format!("parts {}", numbers.join(", ")),
    }
}

fn print_outcome(args: &Args, o: &UploadOutcome) {
    if o.hook_pending == Some(true) {
        output::message(&format!(
            "hoist upload: {}/{} is stored, but the hoist-server could not tell its application \
             (upload.completed still pending after {} repeated Completes); the application \
             has not learnt of this upload yet",
            o.bucket, o.key, args.hook_retries
        ));
    }
    if args.json {
        let line = serde_json::json!({
            "event": "result", "bucket": o.bucket, "key": o.key, "etag": o.etag, "size": o.size,
            "checksum_algorithm": args.checksum, "checksum": o.checksum, "multipart": o.multipart,
            "parts_sent": o.parts_sent, "parts_resumed": o.parts_resumed,
            "elapsed_ms": o.elapsed.as_millis() as u64, "hook_pending": o.hook_pending,
        });
        output::line(&line.to_string());
        return;
    }
    let secs = o.elapsed.as_secs_f64().max(1e-3);
    let checksum = match &o.checksum {
        Some(c) => format!(", {} {c}", args.checksum),
        None => String::new(),
    };
    output::line(&format!(
        "uploaded {}/{} ({} bytes, {} in {:.1} s, ETag {}{checksum})",
        o.bucket,
        o.key,
        o.size,
        human_rate(o.size as f64 / secs),
        secs,
        o.etag
    ));
}

/// A small progress bar on standard error: bytes, rate, time left.
#[derive(Debug, Clone)]
struct Bar(Arc<Mutex<BarState>>);

#[derive(Debug)]
struct BarState {
    started: Instant,
    total: Option<u64>,
    done: u64,
    resumed: u64,
    retries: u32,
}

impl Bar {
    fn new() -> Self {
        Bar(Arc::new(Mutex::new(BarState {
            started: Instant::now(),
            total: None,
            done: 0,
            resumed: 0,
            retries: 0,
        })))
    }

    fn on(&self, p: &Progress) {
        let mut s = self.0.lock().unwrap();
        match p {
            Progress::Started {
                total_bytes,
                resumed_bytes,
                ..
            } => {
                s.total = *total_bytes;
                s.resumed = *resumed_bytes;
                s.done = *resumed_bytes;
                s.started = Instant::now();
            }
            Progress::PartDone { done_bytes, .. } => s.done = *done_bytes,
            Progress::Retrying { .. } => s.retries += 1,
            _ => {}
        }
    }

    fn draw(&self, last: bool) {
        let s = self.0.lock().unwrap();
        let secs = s.started.elapsed().as_secs_f64().max(1e-3);
        let rate = (s.done - s.resumed) as f64 / secs;
        let mut line = match s.total {
            Some(t) if t > 0 => {
                let frac = s.done as f64 / t as f64;
                let width = 24;
                let filled = ((frac * width as f64) as usize).min(width);
                let eta = if rate > 0.0 && !last {
                    format!(" ETA {}", clock((t - s.done) as f64 / rate))
                } else {
                    String::new()
                };
                format!(
                    "[{}{}] {:>5.1}% {} / {} {}/s{eta}",
                    "#".repeat(filled),
                    "-".repeat(width - filled),
                    frac * 100.0,
                    human(s.done),
                    human(t),
                    human(rate as u64)
                )
            }
            _ => format!("{} {}/s", human(s.done), human(rate as u64)),
        };
        if s.retries > 0 {
            line.push_str(&format!(" ({} retries)", s.retries));
        }
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}\x1b[K");
        let _ = err.flush();
    }
}

fn clock(secs: f64) -> String {
    let s = secs.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn human(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[i])
    }
}

fn human_rate(bytes_per_sec: f64) -> String {
    format!("{}/s", human(bytes_per_sec as u64))
}
