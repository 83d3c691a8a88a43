//! Incomplete multipart uploads: the doctor counts the stale ones, `hoist gc` aborts them.

use std::time::Duration;

use hoist_core::time::Timestamp;
use hoist_s3::{Bucket, Error};

/// An incomplete upload, with what its parts weigh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleUpload {
    /// The object key.
    pub key: String,
    /// The upload id.
    pub upload_id: String,
    /// When it was started.
    pub initiated: Timestamp,
    /// How many parts are stored.
    pub parts: u64,
    /// The bytes those parts hold.
    pub bytes: u64,
}

/// The incomplete uploads started more than `older_than` before the store's current time
/// (the clock corrected by its answers, so this host's clock does not matter), with their
/// parts' sizes. Uploads without an `Initiated` time are left alone: their age cannot be told.
pub async fn stale_uploads(
    bucket: &Bucket,
    older_than: Duration,
) -> Result<Vec<StaleUpload>, Error> {
    let uploads = bucket.list_uploads(None).await?;
    let cutoff = bucket.now() - older_than;
    let mut stale = Vec::new();
    for u in uploads {
        // `Date` has whole seconds, so uploads started within the current second would look
        // younger than zero; an age of zero means every upload there is.
        let old_enough = |t: &Timestamp| older_than.is_zero() || *t <= cutoff;
        let Some(initiated) = u.initiated.filter(old_enough) else {
            continue;
        };
        let listed = bucket.list_parts(&u.key, &u.upload_id).await?;
        stale.push(StaleUpload {
            parts: listed.parts.len() as u64,
            bytes: listed.parts.iter().map(|p| p.size).sum(),
            key: u.key,
            upload_id: u.upload_id,
            initiated,
        });
    }
    Ok(stale)
}
