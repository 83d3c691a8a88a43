//! `hoist doctor`: checks a live endpoint and bucket, and with `--fix` repairs what it can.
//!
//! Every call goes through hoist-s3's [`Bucket`], presigned the way hoist's uploaders call the
//! store, so what the doctor proves is what uploads will meet; after the clock check, the
//! bucket signs with the offset it measured, as hoist-server does.

pub mod checks;
pub mod cors;
pub mod settings;
pub mod sigv2;
pub mod uploads;

use hoist_s3::Bucket;

pub use settings::{CORS_RULE_ID, LIFECYCLE_RULE_ID, Options, Target};

use crate::error::DoctorError;
use crate::report::{Report, Status};

/// Runs every check against `target`, applying fixes first when `options.fix` is set, so the
/// report shows the state after the fix.
pub async fn run(target: Target, options: &Options) -> Result<Report, DoctorError> {
    let bucket = target.bucket()?;
    let creds = &target.credentials;
    let mut report = Report {
        endpoint: target.endpoint.clone(),
        bucket: target.bucket.clone(),
        ..Report::default()
    };
    // The clock first: every signature after it uses the corrected time.
    report
        .checks
        .push(checks::clock_offset(&bucket, options).await);
    let (sigv4, sigv4_error) = checks::sigv4(&bucket, creds).await;
    let reachable = sigv4_error.is_none() && sigv4.status == Status::Ok;
    report.checks.push(sigv4);
    report.checks.push(checks::sigv2(&bucket, creds).await);
    let now = bucket.now();
    report.checks.push(checks::credentials(
        creds,
        now,
        options,
        sigv4_error.as_ref(),
    ));
    report.checks.push(checks::ttl_policy(creds, now, options));
    if !reachable {
        // Without working credentials the bucket's settings cannot be read.
        return Ok(report);
    }
    if options.fix {
        report.changes = apply_fixes(&bucket, options).await?;
        if report.changes.is_empty() {
            report.changes.push("nothing needed changing".to_owned());
        }
    }
    if let Some(origin) = &options.origin {
        report.checks.push(checks::cors(&bucket, origin).await);
    } else {
        report.checks.push(checks::cors_origins(&bucket).await);
    }
    report.checks.push(checks::lifecycle(&bucket).await);
    report
        .checks
        .push(checks::stale_uploads(&bucket, options).await);
    Ok(report)
}

/// Lets `options.origin` upload ([`cors::fix`]) and makes sure a lifecycle rule aborts
/// incomplete uploads (hoist-core's `ensure_abort_rule`, as `hoist serve` does), returning
/// one line per change.
pub async fn apply_fixes(bucket: &Bucket, options: &Options) -> Result<Vec<String>, DoctorError> {
    let mut changes = Vec::new();
    if let Some(origin) = &options.origin {
        let cors = bucket.update_cors(|c| cors::fix(c, origin)).await?;
        changes.extend(cors.iter().map(ToString::to_string));
    }
    let days = options.abort_after_days;
    let lifecycle = bucket
        .update_lifecycle(|c| c.ensure_abort_rule(LIFECYCLE_RULE_ID, days))
        .await?;
    changes.extend(lifecycle.map(|added| added.to_string()));
    Ok(changes)
}
