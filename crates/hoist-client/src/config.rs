//! The settings of an upload, every default written once.

use std::path::PathBuf;
use std::time::Duration;

use hoist_core::checksum::ChecksumAlgorithm;
use hoist_s3::RetryPolicy;

/// Settings of one upload; every default is written here once.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    /// Parts in flight at once (and part buffers in memory).
    pub concurrency: usize,
    /// Overrides the planner's part size.
    pub part_size: Option<u64>,
    /// The checksum every part carries and the object is checked with; `None` for none.
    pub checksum: Option<ChecksumAlgorithm>,
    /// Retries of every request; a part is also signed again at least five times.
    pub retry: RetryPolicy,
    /// Where resume journals live; `None` disables journaling.
    pub state_dir: Option<PathBuf>,
    /// Continue the journaled upload of the same source and destination, if any.
    pub resume: bool,
    /// With `resume`, fail ([`crate::Error::NothingToResume`]) instead of starting a new
    /// upload when there is none to continue.
    pub resume_strict: bool,
    /// Leave a failed multipart upload in place instead of aborting it.
    pub keep_partial: bool,
    pub content_type: Option<String>,
    /// Completes sent again while the coordinator says the application was not yet told.
    pub hook_retry: HookRetry,
    /// Bounds shared with other uploads (a batch's): every part takes one of their
    /// connections while it is sent.
    pub limits: Option<SharedLimits>,
    /// Ask a coordinator to create nothing when the object at the key already holds the
    /// file's bytes (the file's MD5 and checksum are sent with the create).
    pub unless_stored: bool,
}

/// Bounds several uploads share: requests to the store in flight across all of them.
#[derive(Debug, Clone)]
pub struct SharedLimits {
    pub(crate) connections: std::sync::Arc<tokio::sync::Semaphore>,
}

impl SharedLimits {
    /// At most `connections` requests in flight across the uploads that share these limits.
    pub fn new(connections: usize) -> Self {
        SharedLimits {
            connections: std::sync::Arc::new(tokio::sync::Semaphore::new(connections.max(1))),
        }
    }
}

/// How often, and how far apart, Complete is sent again while the coordinator answers
/// `hook_pending` (it could not deliver `upload.completed` in time; each repeated Complete
/// delivers it again). The object is stored either way: when the retries run out the upload
/// still succeeds, and its outcome says the application was not told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HookRetry {
    /// Completes after the first; 0 sends none.
    pub retries: u32,
    /// The wait before the first of them; each later wait doubles.
    pub first_wait: Duration,
}

impl Default for HookRetry {
    /// Three more Completes, 4, 8 and 16 s apart: about half a minute, on top of the
    /// coordinator's own delivery attempts within each.
    fn default() -> Self {
        HookRetry {
            retries: 3,
            first_wait: Duration::from_secs(4),
        }
    }
}

impl HookRetry {
    /// The wait before repeated Complete `n` (1 for the first repeat), or `None` past the last.
    pub fn wait(&self, n: u32) -> Option<Duration> {
        (1..=self.retries)
            .contains(&n)
            .then(|| self.first_wait.saturating_mul(1u32 << (n - 1).min(16)))
    }
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            concurrency: 8,
            part_size: None,
            checksum: Some(ChecksumAlgorithm::Crc64Nvme),
            retry: RetryPolicy::default(),
            state_dir: crate::journal::default_state_dir(),
            resume: false,
            resume_strict: false,
            keep_partial: false,
            content_type: None,
            hook_retry: HookRetry::default(),
            limits: None,
            unless_stored: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_retries_double_and_stop() {
        let r = HookRetry::default();
        let waits: Vec<_> = (1..=4).map(|n| r.wait(n)).collect();
        let s = Duration::from_secs;
        assert_eq!(waits, [Some(s(4)), Some(s(8)), Some(s(16)), None]);
        assert_eq!(r.wait(0), None);
        let none = HookRetry { retries: 0, ..r };
        assert_eq!(none.wait(1), None);
        let many = HookRetry {
            retries: u32::MAX,
            first_wait: s(1),
        };
        assert!(many.wait(40).is_some());
    }
}
