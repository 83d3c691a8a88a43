//! `hoist gc`: abort incomplete multipart uploads older than a given age.
//!
//! One upload's trouble does not stop the sweep: an upload completed or aborted by someone
//! else after the listing is counted as gone meanwhile, any other failure as failed, and gc
//! goes on to the next.

use std::time::Duration;

use hoist_core::redact::redact_text;
use hoist_core::s3::UploadInfo;
use hoist_core::units::{format_bytes, format_duration};
use hoist_s3::Bucket;
use serde::Serialize;

use crate::error::DoctorError;
use crate::live::settings::Target;
use crate::live::uploads::{self, Missed};

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
    /// Listed, but gone when gc came to them: completed or aborted meanwhile.
    pub gone: Vec<GcMissed>,
    /// Listed, but their ListParts or Abort failed; they are still there.
    pub failed: Vec<GcMissed>,
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

/// An upload gc could not sweep, and what the store said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GcMissed {
    /// Object key.
    pub key: String,
    /// Upload id.
    pub upload_id: String,
    /// The failed call and the store's answer.
    pub error: String,
}

impl From<Missed> for GcMissed {
    fn from(m: Missed) -> Self {
        GcMissed {
            key: m.key,
            upload_id: m.upload_id,
            error: redact_text(&m.error.to_string()),
        }
    }
}

/// Lists the incomplete uploads older than `older_than` and, unless `dry_run`, aborts them.
/// Only a failed listing is an error; each upload's own failure is in the report.
pub async fn gc(
    target: Target,
    older_than: Duration,
    dry_run: bool,
) -> Result<GcReport, DoctorError> {
    let bucket = target.bucket()?;
    // Ages are the store's, and its refusals of a skewed signer are avoided.
    bucket.measure_clock(false).await?;
    let listed = uploads::list_stale(&bucket, older_than).await?;
    Ok(sweep(&bucket, listed, older_than, dry_run).await)
}

/// gc's steps for each upload already listed: ListParts, then AbortMultipartUpload unless
/// `dry_run`.
pub async fn sweep(
    bucket: &Bucket,
    listed: Vec<UploadInfo>,
    older_than: Duration,
    dry_run: bool,
) -> GcReport {
    let mut weighed = uploads::weigh(bucket, listed).await;
    let mut report = GcReport {
        bucket: bucket.name().to_owned(),
        older_than_secs: older_than.as_secs(),
        dry_run,
        ..Default::default()
    };
    for u in std::mem::take(&mut weighed.stale) {
        if !dry_run {
            if let Err(e) = bucket.abort(&u.key, &u.upload_id).await {
                weighed.miss(u.key, u.upload_id, e);
                continue;
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
    report.gone = weighed.gone.into_iter().map(GcMissed::from).collect();
    report.failed = weighed.failed.into_iter().map(GcMissed::from).collect();
    report
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
        for u in &self.gone {
            out.push_str(&format!(
                "gone meanwhile: {} (upload {}), completed or aborted since the listing\n",
                u.key, u.upload_id
            ));
        }
        for u in &self.failed {
            out.push_str(&format!(
                "failed: {} (upload {}): {}\n",
                u.key, u.upload_id, u.error
            ));
        }
        let age = format_duration(Duration::from_secs(self.older_than_secs));
        if self.dry_run {
            out.push_str(&format!(
                "dry run: {} incomplete upload(s) older than {age} in {}, {} would be freed",
                self.uploads.len(),
                self.bucket,
                format_bytes(self.bytes)
            ));
        } else {
            out.push_str(&format!(
                "aborted {} incomplete upload(s) older than {age} in {}, freed {}",
                self.aborted,
                self.bucket,
                format_bytes(self.bytes)
            ));
        }
        if !self.gone.is_empty() || !self.failed.is_empty() {
            out.push_str(&format!(
                "; {} gone meanwhile, {} failed",
                self.gone.len(),
                self.failed.len()
            ));
        }
        out.push('\n');
        out
    }
}
