//! The clock offset between this host and the endpoint, to about 10 ms, from a header that
//! only has whole seconds.
//!
//! Each answer says: when the server stamped `Date: D`, its clock read somewhere in
//! `[D, D + 1 s)`, and that happened between our send and our receive. So
//! `offset = server − local` lies in `(D − received, D + 1 s − sent)`. One sample bounds the
//! offset to about a second; samples sent just around the moment the server's clock ticks
//! over to a new second cut that interval. Each round spreads a few samples evenly over the
//! window where the tick can be, so the interval shrinks about tenfold per round.

use hoist_core::time::Timestamp;

/// One timed request: when it left, when its answer came, and the server's `Date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Local time the request was sent.
    pub sent: Timestamp,
    /// Local time the answer arrived.
    pub received: Timestamp,
    /// The answer's `Date` header (whole seconds).
    pub server_date: Timestamp,
}

/// What the samples prove about `server − local`, in milliseconds: it lies in `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetBounds {
    /// The smallest offset the samples allow.
    pub low_ms: i64,
    /// The largest offset the samples allow.
    pub high_ms: i64,
}

impl OffsetBounds {
    /// The bounds one sample gives.
    pub fn from_sample(s: &Sample) -> Self {
        OffsetBounds {
            low_ms: s.server_date.millis_since(s.received),
            high_ms: s.server_date.add_millis(1000).millis_since(s.sent),
        }
    }

    /// The intersection of every sample's bounds. `None` without samples, or when they
    /// contradict each other (the server's clock jumped, or a proxy cached `Date`).
    pub fn from_samples(samples: &[Sample]) -> Option<Self> {
        let mut bounds = OffsetBounds::from_sample(samples.first()?);
        for s in &samples[1..] {
            let b = OffsetBounds::from_sample(s);
            bounds.low_ms = bounds.low_ms.max(b.low_ms);
            bounds.high_ms = bounds.high_ms.min(b.high_ms);
        }
        (bounds.low_ms <= bounds.high_ms).then_some(bounds)
    }

    /// The middle of the interval: the best single estimate.
    pub fn estimate_ms(&self) -> i64 {
        self.low_ms + (self.high_ms - self.low_ms) / 2
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
        let next_second = earliest_server.unix_seconds() + 1;
        let boundary = Timestamp::from_unix(next_second);
        let window_start = boundary.add_millis(-self.high_ms);
        let width = (self.high_ms - self.low_ms).max(0);
        (1..=count as i64)
            .map(|i| window_start.add_millis(width * i / (count as i64 + 1) - half_rtt_ms))
            .collect()
    }
}

/// How many probes each round sends, and how many rounds at most.
const PROBES_PER_ROUND: usize = 9;
const MAX_ROUNDS: usize = 4;
/// Stop refining once the offset is known to within this.
const TARGET_UNCERTAINTY_MS: i64 = 5;

/// The offset measured against an endpoint, with what it rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measurement {
    /// Where the offset lies.
    pub bounds: OffsetBounds,
    /// How many answers were used.
    pub samples: usize,
    /// The shortest round trip seen, in milliseconds.
    pub min_rtt_ms: i64,
}

/// Measures `server − local` against `url` (any URL whose answers carry `Date`, even 403s):
/// one probe for a first bound, then rounds of probes around the server's second ticks.
pub async fn measure(
    http: &reqwest::Client,
    url: &str,
) -> Result<Measurement, crate::error::DoctorError> {
    // The first answer also opens the pooled connection, so later probes skip the handshake.
    let mut samples = vec![probe(http, url).await?];
    samples.push(probe(http, url).await?);
    let min_rtt = |samples: &[Sample]| {
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
        let now = Timestamp::from(std::time::SystemTime::now()).add_millis(20);
        let mut probes = tokio::task::JoinSet::new();
        for at in bounds.probe_times(now, PROBES_PER_ROUND, min_rtt(&samples) / 2) {
            let (http, url) = (http.clone(), url.to_owned());
            probes.spawn(async move {
                let wait = at
                    .millis_since(Timestamp::from(std::time::SystemTime::now()))
                    .max(0);
                tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
                probe(&http, &url).await
            });
        }
        while let Some(result) = probes.join_next().await {
            samples.push(result.expect("a clock probe task panicked")?);
        }
    }
    let bounds = OffsetBounds::from_samples(&samples).ok_or_else(contradiction)?;
    Ok(Measurement {
        bounds,
        samples: samples.len(),
        min_rtt_ms: min_rtt(&samples),
    })
}

fn contradiction() -> crate::error::DoctorError {
    crate::error::DoctorError::BadAnswer {
        action: "clock offset",
        detail: "the Date headers contradict each other (a proxy or cache may rewrite them)"
            .to_owned(),
    }
}

async fn probe(http: &reqwest::Client, url: &str) -> Result<Sample, crate::error::DoctorError> {
    let sent = Timestamp::from(std::time::SystemTime::now());
    let response = http.head(url).send().await?;
    let received = Timestamp::from(std::time::SystemTime::now());
    let date = response
        .headers()
        .get("date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| crate::error::DoctorError::BadAnswer {
            action: "clock offset",
            detail: format!("the answer to HEAD {url} has no Date header"),
        })?;
    let server_date =
        Timestamp::parse_http_date(date).map_err(|e| crate::error::DoctorError::BadAnswer {
            action: "clock offset",
            detail: e.to_string(),
        })?;
    Ok(Sample {
        sent,
        received,
        server_date,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server whose clock is `offset_ms` ahead and answers `rtt_ms` after each request.
    fn probe(local_ms: i64, offset_ms: i64, rtt_ms: i64) -> Sample {
        let server_now = Timestamp::from_unix_millis(local_ms + rtt_ms / 2 + offset_ms);
        Sample {
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
    fn one_sample_bounds_the_offset_to_a_second() {
        let b = OffsetBounds::from_sample(&probe(1_700_000_000_400, 0, 20));
        assert!(b.low_ms <= 0 && 0 <= b.high_ms, "{b:?}");
        assert_eq!(b.high_ms - b.low_ms, 1020);
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
