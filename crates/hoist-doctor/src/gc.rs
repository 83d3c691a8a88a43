//! `hoist gc`: abort incomplete multipart uploads older than a given age.

use std::time::Duration;

use hoist_core::units::{format_bytes, format_duration};
use serde::Serialize;

use crate::error::DoctorError;
use crate::live::settings::Target;
use crate::live::uploads;

/// What gc found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// The bucket swept.
    pub bucket: String,
    /// The age past which uploads were stale, in seconds.
    pub older_than_secs: u64,
    /// Whether this was a dry run (nothing aborted).
    pub dry_run: bool,
    /// The stale uploads, each aborted unless `dry_run`.
    pub uploads: Vec<GcUpload>,
    /// How many were aborted.
    pub aborted: usize,
    /// The bytes their parts held (freed unless `dry_run`).
    pub bytes: u64,
}

/// One stale upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GcUpload {
    /// Object key.
    pub key: String,
    /// Upload id.
    pub upload_id: String,
    /// When it started (RFC 3339).
    pub initiated: String,
    /// Parts stored.
    pub parts: u64,
    /// Bytes stored.
    pub bytes: u64,
}

/// Lists the incomplete uploads older than `older_than` and, unless `dry_run`, aborts them.
pub async fn gc(
    target: Target,
    older_than: Duration,
    dry_run: bool,
) -> Result<GcReport, DoctorError> {
    let bucket = target.bucket()?;
    // Ages are the store's, and its refusals of a skewed signer are avoided.
    bucket.measure_clock(false).await?;
    let stale = uploads::stale_uploads(&bucket, older_than).await?;
    let mut report = GcReport {
        bucket: bucket.name().to_owned(),
        older_than_secs: older_than.as_secs(),
        dry_run,
        ..Default::default()
    };
    for u in stale {
        if !dry_run {
            // An upload already gone counts as aborted: another gc or the lifecycle rule
            // got there first.
            match bucket.abort(&u.key, &u.upload_id).await {
                Err(e) if !e.is_no_such_upload() => return Err(e.into()),
                _ => {}
            }
            report.aborted += 1;
        }
        report.bytes += u.bytes;
        report.uploads.push(GcUpload {
            key: u.key,
            upload_id: u.upload_id,
            initiated: u.initiated.to_string(),
            parts: u.parts,
            bytes: u.bytes,
        });
    }
    Ok(report)
}

impl GcReport {
    /// The report for people.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let verb = if self.dry_run {
            "would abort"
        } else {
            "aborted"
        };
        for u in &self.uploads {
            out.push_str(&format!(
                "{verb} {} (upload {}, started {}): {} part(s), {}\n",
                u.key,
                u.upload_id,
                u.initiated,
                u.parts,
                format_bytes(u.bytes)
            ));
        }
        let age = format_duration(Duration::from_secs(self.older_than_secs));
        if self.dry_run {
            out.push_str(&format!(
                "dry run: {} incomplete upload(s) older than {age} in {}, {} would be freed\n",
                self.uploads.len(),
                self.bucket,
                format_bytes(self.bytes)
            ));
        } else {
            out.push_str(&format!(
                "aborted {} incomplete upload(s) older than {age} in {}, freed {}\n",
                self.aborted,
                self.bucket,
                format_bytes(self.bytes)
            ));
        }
        out
    }
}
