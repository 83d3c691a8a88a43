//! `hoist doctor`: checks a live endpoint and bucket, and with `--fix` repairs what it can.

pub mod checks;
pub mod client;
pub mod clock;
pub mod cors;
pub mod sigv2;
pub mod uploads;

use std::time::Duration;

use hoist_core::s3::{self, LifecycleConfiguration, LifecycleRule};
use hoist_core::ttl::TtlPolicy;

pub use client::{S3Client, Target};

use crate::error::DoctorError;
use crate::report::Report;

/// The id of the lifecycle rule `--fix` adds.
pub const LIFECYCLE_RULE_ID: &str = "hoist-abort-incomplete-multipart-uploads";

/// What to check and how strictly. Every default is written once, in [`Options::default`].
#[derive(Debug, Clone)]
pub struct Options {
    /// The web app's origin, for the CORS check (skipped without it).
    pub origin: Option<String>,
    /// Fail past this clock offset (1 s).
    pub max_clock_offset: Duration,
    /// Incomplete uploads older than this are stale (1 day).
    pub stale_after: Duration,
    /// The URL lifetime policy hoist-server signs with.
    pub ttl: TtlPolicy,
    /// Objects up to this size go in a single PUT (hoist-core's default, 100 MiB).
    pub single_put_threshold: u64,
    /// Apply the CORS and lifecycle fixes.
    pub fix: bool,
    /// `DaysAfterInitiation` of the lifecycle rule `--fix` adds (1).
    pub abort_after_days: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            origin: None,
            max_clock_offset: Duration::from_secs(1),
            stale_after: Duration::from_secs(86_400),
            ttl: TtlPolicy::default(),
            single_put_threshold: hoist_core::plan::DEFAULT_SINGLE_PUT_THRESHOLD,
            fix: false,
            abort_after_days: 1,
        }
    }
}

/// Runs every check against `target`, applying fixes first when `options.fix` is set, so the
/// report shows the state after the fix.
pub async fn run(target: Target, options: &Options) -> Result<Report, DoctorError> {
    let mut client = S3Client::new(target)?;
    let mut report = Report {
        endpoint: client.target().endpoint.clone(),
        bucket: client.bucket().to_owned(),
        ..Report::default()
    };
    // The clock first: every signature after it uses the corrected time.
    report
        .checks
        .push(checks::clock_offset(&mut client, options).await);
    let (sigv4, sigv4_error) = checks::sigv4(&client).await;
    let reachable = sigv4_error.is_none() && sigv4.status == crate::report::Status::Ok;
    report.checks.push(sigv4);
    report.checks.push(checks::sigv2(&client).await);
    report
        .checks
        .push(checks::credentials(&client, options, sigv4_error.as_ref()));
    report.checks.push(checks::ttl_policy(&client, options));
    if !reachable {
        // Without working credentials the bucket's settings cannot be read.
        return Ok(report);
    }
    if options.fix {
        report.changes = apply_fixes(&client, options).await?;
        if report.changes.is_empty() {
            report.changes.push("nothing needed changing".to_owned());
        }
    }
    if let Some(origin) = &options.origin {
        report.checks.push(checks::cors(&client, origin).await);
    }
    report.checks.push(checks::lifecycle(&client).await);
    report
        .checks
        .push(checks::stale_uploads(&client, options).await);
    Ok(report)
}

/// Merges the CORS rule for `options.origin` and adds the lifecycle rule, returning one line
/// per change.
pub async fn apply_fixes(client: &S3Client, options: &Options) -> Result<Vec<String>, DoctorError> {
    let mut changes = Vec::new();
    if let Some(origin) = &options.origin {
        let existing = checks::read_cors(client).await?;
        let (merged, cors_changes) = cors::merge(existing.as_ref(), origin);
        if !cors_changes.is_empty() {
            let answer = client
                .send(s3::put_bucket_cors(
                    client.signer(),
                    client.bucket(),
                    &merged,
                    client.now(),
                )?)
                .await?;
            s3::check_status(answer.status, answer.body.as_bytes())
                .map_err(|e| uploads::s3_failure("PutBucketCors", &answer, e))?;
            changes.extend(cors_changes);
        }
    }
    let existing = checks::read_lifecycle(client).await?;
    if let Some((merged, line)) = lifecycle_fix(existing.as_ref(), options.abort_after_days) {
        let answer = client
            .send(s3::put_bucket_lifecycle(
                client.signer(),
                client.bucket(),
                &merged,
                client.now(),
            )?)
            .await?;
        s3::check_status(answer.status, answer.body.as_bytes())
            .map_err(|e| uploads::s3_failure("PutBucketLifecycleConfiguration", &answer, e))?;
        changes.push(line);
    }
    Ok(changes)
}

/// The lifecycle configuration with a rule aborting incomplete uploads after `days`, and the
/// line that says so; `None` when such a rule is already there.
pub fn lifecycle_fix(
    existing: Option<&LifecycleConfiguration>,
    days: u32,
) -> Option<(LifecycleConfiguration, String)> {
    let mut config = existing.cloned().unwrap_or_default();
    if config.abort_rule().is_some() {
        return None;
    }
    let kept = config.rules.len();
    config.rules.push(LifecycleRule::abort_incomplete_uploads(
        LIFECYCLE_RULE_ID,
        days,
    ));
    Some((
        config,
        format!(
            "lifecycle: added rule {LIFECYCLE_RULE_ID} (every key, AbortIncompleteMultipartUpload after {days} day(s)), keeping the {kept} existing rule(s)"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoist_core::s3::LifecycleFilter;

    #[test]
    fn the_lifecycle_rule_is_added_once_and_others_are_kept() {
        let (config, line) = lifecycle_fix(None, 1).unwrap();
        assert_eq!(config.rules.len(), 1);
        assert!(config.abort_rule().is_some());
        assert!(line.contains("keeping the 0 existing rule(s)"));
        assert_eq!(lifecycle_fix(Some(&config), 1), None);

        let narrow = LifecycleRule {
            filter: LifecycleFilter::Prefix("tmp/".into()),
            ..LifecycleRule::abort_incomplete_uploads("tmp", 3)
        };
        let expire = LifecycleRule {
            id: Some("logs".into()),
            enabled: true,
            expiration_days: Some(30),
            ..Default::default()
        };
        let existing = LifecycleConfiguration {
            rules: vec![narrow.clone(), expire.clone()],
        };
        let (config, line) = lifecycle_fix(Some(&existing), 2).unwrap();
        assert_eq!(&config.rules[..2], &[narrow, expire]);
        assert_eq!(
            config.rules[2].abort_incomplete_multipart_upload_days,
            Some(2)
        );
        assert!(line.contains("keeping the 2 existing rule(s)"));
    }
}
