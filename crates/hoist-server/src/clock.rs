//! Corrected time: the coordinator signs with the store's idea of now.
//!
//! A signer whose clock drifts mints URLs that are dead on arrival ("Request is not yet valid")
//! or expire early. The offset is measured from the store's `Date` header (see
//! [`crate::store::StoreClient::measure_clock`]) and applied to every signature.

use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

use hoist_core::clock::ClockOffset;
use hoist_core::time::Timestamp;

/// Past this offset the coordinator warns: URLs could be refused as not yet valid.
pub const WARN_OFFSET_MS: i64 = 1000;

/// The local clock as a core [`Timestamp`].
pub fn local_now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::new(
        i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        d.subsec_nanos(),
    )
}

/// The measured offset to the store's clock, shared by every request.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// Now, corrected to the store's clock.
    pub fn now(&self) -> Timestamp {
        self.offset().apply(local_now())
    }

    pub fn offset(&self) -> ClockOffset {
        ClockOffset::from_millis(self.offset_ms.load(Relaxed))
    }

    /// Record a new measurement; warns when the store is more than a second off.
    pub fn set_offset(&self, offset: ClockOffset) {
        self.offset_ms.store(offset.millis, Relaxed);
        if offset.millis.abs() > WARN_OFFSET_MS {
            tracing::warn!(
                offset_ms = offset.millis,
                "the store's clock differs from this machine's by more than 1 s; signing with the store's time"
            );
        }
    }
}
