//! `hoist gc`: abort stale incomplete multipart uploads and report what was freed.

use std::process::ExitCode;
use std::time::Duration;

use hoist_core::units::parse_duration;

use super::doctor::{TargetArgs, runtime};
use crate::output;

/// Abort incomplete multipart uploads older than an age (their parts are billed until then).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    target: TargetArgs,
    /// Abort uploads started longer ago than this (90s, 30m, 24h, 7d).
    #[arg(long, value_parser = duration)]
    older_than: Duration,
    /// List what would be aborted without aborting anything.
    #[arg(long)]
    dry_run: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| e.to_string())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (target, _) = args.target.resolve()?;
    let report =
        runtime()?.block_on(hoist_doctor::gc::gc(target, args.older_than, args.dry_run))?;
    if args.json {
        // Upload ids are the report's product, whole; its error messages are redacted.
        output::product(&format!("{}\n", serde_json::to_string(&report)?));
    } else {
        output::product(&report.text());
    }
    // The sweep goes on past an upload it cannot abort; the exit code still tells.
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
