//! Progress events the engine reports to its caller, for bars, logs and `--json` output.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

/// One thing that happened during an upload. Serialised (tagged by `event`) for `--json`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Progress {
    /// The upload is planned. `total_bytes` is absent when reading input of unknown length.
    Started {
        total_bytes: Option<u64>,
        part_size: u64,
        part_count: Option<u32>,
        multipart: bool,
        resumed_parts: u32,
        resumed_bytes: u64,
    },
    /// A part (or the single PUT, as part 1) was stored and acknowledged.
    PartDone {
        number: u32,
        bytes: u64,
        /// Bytes stored so far, resumed parts included.
        done_bytes: u64,
    },
    /// A request failed and will be sent again after `delay`.
    Retrying {
        number: u32,
        attempt: u32,
        delay_ms: u64,
        reason: String,
    },
    /// The object is stored, but the coordinator could not yet tell the application: the
    /// last of `completes` Completes answered `hook_pending`. The next is sent after
    /// `delay_ms`; without one no repeat is left, and the upload ends with the application
    /// not told.
    HookPending {
        completes: u32,
        delay_ms: Option<u64>,
    },
    /// `resume` was asked for but found no upload to continue (no journal for this file and
    /// destination, or the store or coordinator no longer knows its upload): a new upload
    /// starts. Reported once, before `started`.
    NothingToResume { reason: String },
    /// A coordinator stopped answering (connection refused or broken, a timeout, a 5xx):
    /// the upload goes on through the next one, with the same upload id. Reported once for
    /// each move.
    Failover {
        from: String,
        to: String,
        reason: String,
    },
    /// The Complete refused parts the store had listed as stored (another writer replaced
    /// them, or the store never finished committing a part a killed run left): `parts` are
    /// read from the file and sent again, once, then the Complete is repeated. Their bytes
    /// leave `done_bytes` until they are stored again.
    SendingAgain { parts: Vec<u32>, reason: String },
    /// The upload is complete and its size and checksum were checked.
    Completed {
        bytes: u64,
        etag: String,
        checksum: Option<String>,
        elapsed_ms: u64,
    },
}

impl Progress {
    pub(crate) fn retrying(number: u32, attempt: u32, delay: Duration, reason: String) -> Self {
        Progress::Retrying {
            number,
            attempt,
            delay_ms: delay.as_millis() as u64,
            reason,
        }
    }
}

/// A callback that receives progress events. It is called from worker tasks, so it must be
/// cheap and must not block.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;
