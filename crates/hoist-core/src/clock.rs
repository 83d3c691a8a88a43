//! Corrected time: how far this machine's clock is from the store's, measured from the
//! `Date` headers of the store's answers, and applied to every signature.
//!
//! A signer whose clock drifts mints URLs that are dead on arrival ("Request is not yet
//! valid") or that expire early. Each answer says: when the server stamped `Date: D`, its clock
//! read somewhere in `[D, D + 1 s)`, and that happened between our send and our receive. So
//! `offset = server − local` lies in `(D − received, D + 1 s − sent)`. One sample bounds the
//! offset to about a second; samples sent just around the moment the server's clock ticks over
//! to a new second cut that interval, about tenfold per round ([`OffsetBounds::probe_times`]).
//!
//! Pure: the I/O layer sends the probes and keeps the offset.
//!
//! ```
//! use hoist_core::clock::{ClockSample, OffsetBounds};
//! use hoist_core::time::Timestamp;
//!
//! // The server said 1000 s; we sent at 990.0 s and heard back at 990.2 s.
//! let s = ClockSample {
//!     sent: Timestamp::from_unix_millis(990_000),
//!     received: Timestamp::from_unix_millis(990_200),
//!     server_date: Timestamp::from_unix(1000),
//! };
//! let b = OffsetBounds::from_sample(&s);
//! assert_eq!((b.low_ms, b.high_ms), (9_800, 11_000));
//! assert_eq!(b.offset().millis, 10_400);
//! ```

use crate::time::Timestamp;

/// How far a local clock is behind a reference clock (the store's), in milliseconds.
///
/// Positive when the reference is ahead of the local clock. Signers add it to their local time
/// so that `X-Amz-Date` matches the store's idea of now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockOffset {
    /// Reference minus local, in milliseconds.
    pub millis: i64,
}

impl ClockOffset {
    /// No correction.
    pub const ZERO: ClockOffset = ClockOffset { millis: 0 };

    /// From a signed number of milliseconds (reference minus local).
    pub const fn from_millis(millis: i64) -> Self {
        ClockOffset { millis }
    }

    /// Estimates the offset from one request: the middle of what its sample allows (within
    /// about half a second plus half the round trip).
    pub fn measure(sent: Timestamp, received: Timestamp, server_date: Timestamp) -> Self {
        OffsetBounds::from_sample(&ClockSample {
            sent,
            received,
            server_date,
        })
        .offset()
    }

    /// The local time corrected to the reference clock.
    pub fn apply(self, local: Timestamp) -> Timestamp {
        local.add_millis(self.millis)
    }
}

/// One timed request: when it left, when its answer came, and the server's `Date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockSample {
    /// Local time the request was sent.
    pub sent: Timestamp,
    /// Local time the answer arrived.
    pub received: Timestamp,
    /// The answer's `Date` header (whole seconds).
    pub server_date: Timestamp,
}

/// What samples prove about `server − local`, in milliseconds: it lies in `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetBounds {
    /// The smallest offset the samples allow.
    pub low_ms: i64,
    /// The largest offset the samples allow.
    pub high_ms: i64,
}

impl OffsetBounds {
    /// The bounds one sample gives.
    pub fn from_sample(s: &ClockSample) -> Self {
        OffsetBounds {
            low_ms: s.server_date.millis_since(s.received),
            high_ms: s.server_date.add_millis(1000).millis_since(s.sent),
        }
    }

    /// The intersection of every sample's bounds. `None` without samples, or when they
    /// contradict each other (the server's clock jumped, or a proxy cached `Date`).
    pub fn from_samples(samples: &[ClockSample]) -> Option<Self> {
        let bounds: Vec<_> = samples.iter().map(OffsetBounds::from_sample).collect();
        Self::from_bounds(&bounds)
    }

    /// The intersection of bounds; `None` when there are none or they do not meet.
    pub fn from_bounds(all: &[OffsetBounds]) -> Option<Self> {
        let mut it = all.iter();
        let mut bounds = *it.next()?;
        for b in it {
            bounds.low_ms = bounds.low_ms.max(b.low_ms);
            bounds.high_ms = bounds.high_ms.min(b.high_ms);
        }
        (bounds.low_ms <= bounds.high_ms).then_some(bounds)
    }

    /// The middle of the interval: the best single estimate.
    pub fn estimate_ms(&self) -> i64 {
        self.low_ms + (self.high_ms - self.low_ms) / 2
    }

    /// The estimate as an offset to apply.
    pub fn offset(&self) -> ClockOffset {
        ClockOffset::from_millis(self.estimate_ms())
    }

    /// Half the interval's width: the estimate is within this many milliseconds.
    pub fn uncertainty_ms(&self) -> i64 {
        (self.high_ms - self.low_ms + 1) / 2
    }

    /// Local times at which to send `count` probes so that they straddle the server's next
    /// tick after `after`, evenly over the window where the tick can be. `half_rtt_ms` is
    /// subtracted so that each probe reaches the server at its planned instant.
    pub fn probe_times(&self, after: Timestamp, count: usize, half_rtt_ms: i64) -> Vec<Timestamp> {
        // The server's second `B` starts at local time `B − offset`, i.e. in
        // `[B − high, B − low]`. Pick the first `B` whose window starts after `after`.
        let earliest_server = after.add_millis(self.high_ms + half_rtt_ms);
        let boundary = Timestamp::from_unix(earliest_server.unix_seconds() + 1);
        let window_start = boundary.add_millis(-self.high_ms);
        let width = (self.high_ms - self.low_ms).max(0);
        (1..=count as i64)
            .map(|i| window_start.add_millis(width * i / (count as i64 + 1) - half_rtt_ms))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server whose clock is `offset_ms` ahead and answers `rtt_ms` after each request.
    fn probe(local_ms: i64, offset_ms: i64, rtt_ms: i64) -> ClockSample {
        let server_now = Timestamp::from_unix_millis(local_ms + rtt_ms / 2 + offset_ms);
        ClockSample {
            sent: Timestamp::from_unix_millis(local_ms),
            received: Timestamp::from_unix_millis(local_ms + rtt_ms),
            server_date: server_now.trunc_seconds(),
        }
    }

    fn converge(offset_ms: i64, rtt_ms: i64) -> OffsetBounds {
        let start = 1_700_000_000_123;
        let mut samples = vec![probe(start, offset_ms, rtt_ms)];
        let mut now = start + rtt_ms;
        for _ in 0..4 {
            let bounds = OffsetBounds::from_samples(&samples).unwrap();
            let times = bounds.probe_times(Timestamp::from_unix_millis(now), 9, rtt_ms / 2);
            assert!(
                times.iter().all(|t| t.unix_millis() >= now),
                "probes are planned in the future"
            );
            for t in times {
                samples.push(probe(t.unix_millis(), offset_ms, rtt_ms));
                now = t.unix_millis() + rtt_ms;
            }
        }
        OffsetBounds::from_samples(&samples).unwrap()
    }

    #[test]
    fn one_sample_measures_to_a_second() {
        let b = OffsetBounds::from_sample(&probe(1_700_000_000_400, 0, 20));
        assert!(b.low_ms <= 0 && 0 <= b.high_ms, "{b:?}");
        assert_eq!(b.high_ms - b.low_ms, 1020);
        let s = probe(990_000, 10_000, 200);
        assert_eq!(
            ClockOffset::measure(s.sent, s.received, s.server_date).millis,
            10_400
        );
        assert_eq!(
            ClockOffset::from_millis(10_400)
                .apply(Timestamp::from_unix(0))
                .unix_millis(),
            10_400
        );
    }

    #[test]
    fn samples_around_ticks_find_the_offset_to_ten_ms() {
        for (offset, rtt) in [
            (0, 1),
            (2_345, 2),
            (-7_777, 1),
            (450, 10),
            (-1_999, 4),
            (123_456, 0),
        ] {
            let b = converge(offset, rtt);
            assert!(
                b.low_ms <= offset && offset <= b.high_ms,
                "offset {offset} outside {b:?}"
            );
            assert!(b.uncertainty_ms() <= 10, "offset {offset} rtt {rtt}: {b:?}");
            assert!((b.estimate_ms() - offset).abs() <= 10);
        }
    }

    #[test]
    fn contradicting_samples_give_nothing() {
        let a = probe(1_700_000_000_000, 0, 1);
        let b = probe(1_700_000_010_000, 5_000, 1);
        assert_eq!(OffsetBounds::from_samples(&[a, b]), None);
        assert_eq!(OffsetBounds::from_samples(&[]), None);
    }
}
