//! Corrected time, kept once per store: the offset to the store's clock, learnt from the
//! `Date` header of its answers and applied to every signature.
//!
//! A signer whose clock drifts mints URLs that are dead on arrival ("Request is not yet
//! valid") or that expire early. Every answer's `Date` bounds the offset (see
//! [`hoist_core::clock`]); [`Clock::observe`] keeps the intersection of what the answers
//! prove, so the estimate sharpens as they come, and starts over from the newest answer when
//! it contradicts the rest (the store's clock was moved). [`Clock::measure`] probes the store
//! around its second ticks to know the offset to a few milliseconds at once.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::Relaxed};
use std::time::{Duration, SystemTime};

use hoist_core::clock::{ClockOffset, ClockSample, OffsetBounds};
use hoist_core::time::Timestamp;

use crate::error::Error;
use crate::http::Http;

/// Past this offset the clock warns: URLs could be refused as not yet valid, or expire early.
pub const WARN_OFFSET: Duration = Duration::from_secs(1);

/// The local clock as a core [`Timestamp`].
pub fn local_now() -> Timestamp {
    Timestamp::from(SystemTime::now())
}

/// The measured offset to one store's clock, shared by every request to it.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
    warned: AtomicBool,
    /// What the answers since the last contradiction prove together.
    known: Mutex<Option<OffsetBounds>>,
}

/// How a precise measurement went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measurement {
    /// Where the offset lies.
    pub bounds: OffsetBounds,
    /// How many answers were used.
    pub samples: usize,
    /// The shortest round trip seen, in milliseconds.
    pub min_rtt_ms: i64,
}

/// How many probes each round of a precise measurement sends, and how many rounds at most.
const PROBES_PER_ROUND: usize = 9;
const MAX_ROUNDS: usize = 4;
/// A precise measurement stops refining once the offset is known to within this.
const TARGET_UNCERTAINTY_MS: i64 = 5;

impl Clock {
    /// A clock with no correction yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Now, corrected to the store's clock.
    pub fn now(&self) -> Timestamp {
        self.offset().apply(local_now())
    }

    /// Whether any answer has taught this clock yet.
    pub fn learned(&self) -> bool {
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// The offset in use (store minus local).
    pub fn offset(&self) -> ClockOffset {
        ClockOffset::from_millis(self.offset_ms.load(Relaxed))
    }

    /// Uses `offset` from now on, forgetting what earlier answers proved; warns (once per
    /// crossing) when it passes [`WARN_OFFSET`].
    pub fn set(&self, offset: ClockOffset) {
        *self.known.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.store(offset);
    }

    fn store(&self, offset: ClockOffset) {
        self.offset_ms.store(offset.millis, Relaxed);
        let far = offset.millis.unsigned_abs() > WARN_OFFSET.as_millis() as u64;
        if far && !self.warned.swap(true, Relaxed) {
            tracing::warn!(
                offset_ms = offset.millis,
                "the store's clock differs from this machine's by more than 1 s; signing with the store's time"
            );
        } else if !far {
            self.warned.store(false, Relaxed);
        }
    }

    /// Learns from one answer. Its bounds narrow what earlier answers proved; when they
    /// contradict them, the clock starts over from this answer. The offset in use stays as
    /// long as what is known allows it (a synchronised clock keeps 0 rather than the middle
    /// of a second-wide interval); when it is ruled out, it moves to the middle of what is
    /// known. Answers whether it moved.
    pub fn observe(&self, sample: &ClockSample) -> bool {
        let b = OffsetBounds::from_sample(sample);
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let next = match *known {
            Some(k) => OffsetBounds::from_bounds(&[k, b]).unwrap_or(b),
            None => b,
        };
        *known = Some(next);
        drop(known);
        if (next.low_ms..=next.high_ms).contains(&self.offset().millis) {
            return false;
        }
        self.store(next.offset());
        true
    }

    /// Measures the offset against `url` (any URL whose answers carry `Date`, even 403s)
    /// with one request, and uses it when it proves the current one wrong.
    pub async fn measure_once(&self, http: &Http, url: &str) -> Result<OffsetBounds, Error> {
        let sample = probe(http, url).await?;
        self.observe(&sample);
        Ok(OffsetBounds::from_sample(&sample))
    }

    /// Measures the offset to a few milliseconds: one probe for a first bound, then rounds
    /// of probes around the server's second ticks. Uses the result from then on.
    pub async fn measure(&self, http: &Http, url: &str) -> Result<Measurement, Error> {
        // The first answer also opens the pooled connection, so later probes skip the handshake.
        let mut samples = vec![probe(http, url).await?, probe(http, url).await?];
        let min_rtt = |samples: &[ClockSample]| {
            samples
                .iter()
                .map(|s| s.received.millis_since(s.sent))
                .min()
                .unwrap_or(0)
        };
        for _ in 0..MAX_ROUNDS {
            let bounds = OffsetBounds::from_samples(&samples).ok_or_else(contradiction)?;
            if bounds.uncertainty_ms() <= TARGET_UNCERTAINTY_MS {
                break;
            }
            let start = local_now().add_millis(20);
            let mut probes = tokio::task::JoinSet::new();
            for at in bounds.probe_times(start, PROBES_PER_ROUND, min_rtt(&samples) / 2) {
                let (http, url) = (http.clone(), url.to_owned());
                probes.spawn(async move {
                    let wait = at.millis_since(local_now()).max(0);
                    tokio::time::sleep(Duration::from_millis(wait as u64)).await;
                    probe(&http, &url).await
                });
            }
            while let Some(result) = probes.join_next().await {
                let sample = result.map_err(|e| Error::Config(format!("clock probe: {e}")))??;
                samples.push(sample);
            }
        }
        let bounds = OffsetBounds::from_samples(&samples).ok_or_else(contradiction)?;
        *self.known.lock().unwrap_or_else(|e| e.into_inner()) = Some(bounds);
        self.store(bounds.offset());
        Ok(Measurement {
            bounds,
            samples: samples.len(),
            min_rtt_ms: min_rtt(&samples),
        })
    }
}

fn contradiction() -> Error {
    Error::unexpected(
        "clock offset",
        "the Date headers contradict each other (a proxy or cache may rewrite them)",
    )
}

async fn probe(http: &Http, url: &str) -> Result<ClockSample, Error> {
    let answer = http.send("HEAD", http.client().head(url)).await?;
    answer
        .clock_sample()
        .ok_or_else(|| Error::unexpected("clock offset", "the answer has no valid Date header"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(local_ms: i64, offset_ms: i64, rtt_ms: i64) -> ClockSample {
        ClockSample {
            sent: Timestamp::from_unix_millis(local_ms),
            received: Timestamp::from_unix_millis(local_ms + rtt_ms),
            server_date: Timestamp::from_unix_millis(local_ms + rtt_ms / 2 + offset_ms)
                .trunc_seconds(),
        }
    }

    #[test]
    fn answers_sharpen_the_offset_and_a_moved_clock_starts_over() {
        let clock = Clock::new();
        // In step with the store: the offset stays 0, however wide one answer's bounds.
        assert!(!clock.observe(&sample(1_700_000_000_300, 0, 4)));
        assert_eq!(clock.offset(), ClockOffset::ZERO);
        clock.set(ClockOffset::ZERO);
        // The store is 10 s ahead: one answer puts the offset within about half a second.
        assert!(clock.observe(&sample(1_700_000_001_300, 10_000, 4)));
        let off = clock.offset().millis;
        assert!((9_500..=10_500).contains(&off), "{off}");
        // Answers at other moments of the second narrow what is known, and the offset
        // follows whenever it falls outside.
        for i in 0..40 {
            clock.observe(&sample(1_700_000_002_000 + i * 137, 10_000, 4));
        }
        let off = clock.offset().millis;
        assert!((9_975..=10_025).contains(&off), "{off}");
        // The store's clock is moved back: the next answer contradicts what was known.
        assert!(clock.observe(&sample(1_700_000_020_000, -3_000, 4)));
        let off = clock.offset().millis;
        assert!((-3_600..=-2_400).contains(&off), "{off}");
        // `set` forgets: the next answer alone decides.
        clock.set(ClockOffset::ZERO);
        clock.observe(&sample(1_700_000_030_000, 5_000, 4));
        assert!((4_400..=5_600).contains(&clock.offset().millis));
    }

    #[test]
    fn now_applies_the_offset() {
        let clock = Clock::new();
        clock.set(ClockOffset::from_millis(60_000));
        let drift = clock.now().millis_since(local_now());
        assert!((59_000..=61_000).contains(&drift), "{drift}");
    }
}
