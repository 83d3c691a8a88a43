//! Incomplete multipart uploads: the doctor counts the stale ones, `hoist gc` aborts them.
//!
//! A sweep lists the uploads once, then takes each on its own: an upload can be completed or
//! aborted by someone else between the listing and the call about it (NoSuchUpload), and any
//! one upload's call can fail. Either is counted and the sweep goes on.

use std::time::Duration;

use hoist_core::s3::UploadInfo;
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

/// An upload a sweep could not take, and what the store said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missed {
    /// The object key.
    pub key: String,
    /// The upload id.
    pub upload_id: String,
    /// The failed call (secrets shortened).
    pub error: Error,
}

/// The listed uploads, each weighed or missed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sweep {
    /// The uploads weighed.
    pub stale: Vec<StaleUpload>,
    /// Gone by the time the sweep reached them: completed or aborted meanwhile.
    pub gone: Vec<Missed>,
    /// The call about them failed; the others were still swept.
    pub failed: Vec<Missed>,
}

impl Sweep {
    /// Counts a failed call about one upload as gone (NoSuchUpload) or failed.
    pub fn miss(&mut self, key: String, upload_id: String, error: Error) {
        let missed = Missed {
            key,
            upload_id,
            error,
        };
        if missed.error.is_no_such_upload() {
            self.gone.push(missed);
        } else {
            self.failed.push(missed);
        }
    }
}

/// The incomplete uploads started more than `older_than` before the store's current time
/// (the clock corrected by its answers, so this host's clock does not matter). Uploads
/// without an `Initiated` time are left alone: their age cannot be told.
pub async fn list_stale(bucket: &Bucket, older_than: Duration) -> Result<Vec<UploadInfo>, Error> {
    let uploads = bucket.list_uploads(None).await?;
    let cutoff = bucket.now() - older_than;
    // `Date` has whole seconds, so uploads started within the current second could look
    // younger than zero; an age of zero means every upload there is.
    let old_enough = |t: &Timestamp| older_than.is_zero() || *t <= cutoff;
    Ok(uploads
        .into_iter()
        .filter(|u| u.initiated.as_ref().is_some_and(old_enough))
        .collect())
}

/// How many parts each upload holds and their total size (ListParts, every page).
pub async fn weigh(bucket: &Bucket, uploads: Vec<UploadInfo>) -> Sweep {
    let mut sweep = Sweep::default();
    for u in uploads {
        let Some(initiated) = u.initiated else {
            continue;
        };
        match bucket.list_parts(&u.key, &u.upload_id).await {
            Ok(listed) => sweep.stale.push(StaleUpload {
                parts: listed.parts.len() as u64,
                bytes: listed.parts.iter().map(|p| p.size).sum(),
                key: u.key,
                upload_id: u.upload_id,
                initiated,
            }),
            Err(e) => sweep.miss(u.key, u.upload_id, e),
        }
    }
    sweep
}

/// The stale uploads ([`list_stale`]), each weighed ([`weigh`]).
pub async fn stale_uploads(bucket: &Bucket, older_than: Duration) -> Result<Sweep, Error> {
    let listed = list_stale(bucket, older_than).await?;
    Ok(weigh(bucket, listed).await)
}
