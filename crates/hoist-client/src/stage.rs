//! What the stages of an upload share, below the engine that runs them in turn (`prepare`,
//! then `pipeline`, then `finish`): the uploader's transport, HTTP client and settings, and
//! the state of one run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hoist_core::checksum::PartChecksum;
use hoist_s3::Http;

use crate::config::UploadConfig;
use crate::error::Error;
use crate::journal::{Journal, JournalPart};
use crate::progress::Progress;

/// The uploader's parts, read by every stage.
#[derive(Debug)]
pub(crate) struct Stage<T> {
    pub transport: Arc<T>,
    /// Carries the part bodies.
    pub http: Http,
    pub config: UploadConfig,
}

/// Parts already stored: number → (ETag, size, checksum when known).
pub(crate) type Stored = BTreeMap<u32, (String, u64, Option<PartChecksum>)>;

/// The engine's internal progress sink.
pub(crate) type Emit = Arc<dyn Fn(Progress) + Send + Sync>;

/// Shared state of one run.
pub(crate) struct Run {
    pub(crate) parts: Stored,
    pub(crate) journal: Option<Journal>,
    pub(crate) state_dir: Option<PathBuf>,
    pub(crate) last_flush: Instant,
    pub(crate) done_bytes: u64,
    pub(crate) sent: u32,
    pub(crate) error: Option<Error>,
    /// A single PUT's checksum as the store echoed it in its answer, equal to the one sent
    /// (the store computed it from the bytes it kept).
    pub(crate) echoed: Option<String>,
}

impl Run {
    /// A run that starts with the `resumed` parts and writes `journal` into `state_dir`.
    pub(crate) fn new(
        resumed: Stored,
        journal: Option<Journal>,
        state_dir: Option<PathBuf>,
    ) -> Self {
        Run {
            done_bytes: resumed.values().map(|(_, s, _)| *s).sum(),
            parts: resumed,
            journal,
            state_dir,
            last_flush: Instant::now() - Duration::from_secs(1),
            sent: 0,
            error: None,
            echoed: None,
        }
    }

    /// Bytes in the parts stored so far.
    pub(crate) fn stored_bytes(&self) -> u64 {
        self.parts.values().map(|(_, s, _)| *s).sum()
    }

    /// Records a stored part; the journal is flushed at most every 200 ms so thousands of
    /// small parts do not rewrite it thousands of times (ListParts covers the gap on resume).
    pub(crate) fn record(
        &mut self,
        number: u32,
        etag: String,
        size: u64,
        sum: Option<PartChecksum>,
    ) {
        if let Some(j) = &mut self.journal {
            j.parts.insert(
                number,
                JournalPart {
                    etag: etag.clone(),
                    size,
                    checksum: sum.map(|s| s.checksum.to_base64()),
                },
            );
        }
        self.parts.insert(number, (etag, size, sum));
        self.done_bytes += size;
        if self.last_flush.elapsed() > Duration::from_millis(200) {
            self.flush();
        }
    }

    pub(crate) fn flush(&mut self) {
        if let (Some(j), Some(dir)) = (&self.journal, &self.state_dir) {
            if let Err(e) = j.save(dir) {
                tracing::warn!(error = %e, "cannot write the resume journal");
            }
            self.last_flush = Instant::now();
        }
    }

    /// Removes the journal: the upload is done, or gone.
    pub(crate) fn forget(&self) {
        if let (Some(dir), Some(j)) = (&self.state_dir, &self.journal) {
            let _ = Journal::remove(dir, &j.key);
        }
    }
}
