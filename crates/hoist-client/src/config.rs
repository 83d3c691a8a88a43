//! The settings of an upload, every default written once.

use std::path::PathBuf;

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
    /// Leave a failed multipart upload in place instead of aborting it.
    pub keep_partial: bool,
    pub content_type: Option<String>,
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
            keep_partial: false,
            content_type: None,
        }
    }
}
