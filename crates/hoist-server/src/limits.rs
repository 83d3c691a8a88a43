//! Per-caller limits: a request rate (a token bucket) and the multipart uploads a caller has
//! open through this coordinator (created in a window, less those completed or aborted here).
//!
//! The tables live in this process's memory, so each replica keeps its own: behind N replicas
//! a caller gets up to N times the limits. They are bounded ([`MAX_CALLERS`]): callers idle
//! long enough to have nothing to remember are dropped first, then the longest idle.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use crate::error::ApiError;

/// Callers remembered at most; about 100 bytes each.
pub const MAX_CALLERS: usize = 65_536;

/// The limits, as settings; a zero turns one off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimitPolicy {
    /// Requests per second a caller may sustain (0: no rate limit).
    pub rate: f64,
    /// Requests a caller may send at once after being idle.
    pub burst: u32,
    /// Multipart uploads a caller may have open, created in one `window` (0: no limit).
    pub open_uploads: u32,
    /// The window open uploads are counted in; an upload forgotten by its caller stops
    /// counting when the window ends.
    pub window: Duration,
}

impl Default for LimitPolicy {
    fn default() -> Self {
        Self {
            rate: 50.0,
            burst: 200,
            open_uploads: 1000,
            window: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug)]
struct Caller {
    tokens: f64,
    refilled: Instant,
    window_start: Instant,
    open: u32,
    seen: Instant,
}

/// The per-caller tables of one coordinator process.
#[derive(Debug)]
pub struct Limits {
    policy: LimitPolicy,
    callers: Mutex<HashMap<String, Caller>>,
}

impl Limits {
    pub fn new(policy: LimitPolicy) -> Self {
        Self {
            policy,
            callers: Mutex::new(HashMap::new()),
        }
    }

    fn with_caller<T>(&self, who: &str, now: Instant, f: impl FnOnce(&mut Caller) -> T) -> T {
        let mut map = self.callers.lock().unwrap_or_else(|e| e.into_inner());
        if !map.contains_key(who) && map.len() >= MAX_CALLERS {
            self.evict(&mut map, now);
        }
        let burst = f64::from(self.policy.burst.max(1));
        let caller = map.entry(who.to_owned()).or_insert(Caller {
            tokens: burst,
            refilled: now,
            window_start: now,
            open: 0,
            seen: now,
        });
        caller.seen = now;
        if now.duration_since(caller.window_start) >= self.policy.window {
            caller.window_start = now;
            caller.open = 0;
        }
        f(caller)
    }

    /// Drop callers with nothing to remember (a full bucket, no upload in the window); if
    /// none is, drop the longest idle.
    fn evict(&self, map: &mut HashMap<String, Caller>, now: Instant) {
        let refill = if self.policy.rate > 0.0 {
            Duration::from_secs_f64(f64::from(self.policy.burst.max(1)) / self.policy.rate)
        } else {
            Duration::ZERO
        };
        let idle = refill.max(if map.values().any(|c| c.open > 0) {
            self.policy.window
        } else {
            Duration::ZERO
        });
        map.retain(|_, c| now.duration_since(c.seen) < idle);
        if map.len() >= MAX_CALLERS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, c)| c.seen)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
    }

    /// Whether requests are rate limited at all.
    pub fn limits_requests(&self) -> bool {
        self.policy.rate > 0.0
    }

    /// One request from `who`: refused with 429 `rate_limited` when its bucket is empty.
    pub fn request(&self, who: &str, now: Instant) -> Result<(), ApiError> {
        if !self.limits_requests() {
            return Ok(());
        }
        let rate = self.policy.rate;
        let burst = f64::from(self.policy.burst.max(1));
        self.with_caller(who, now, |c| {
            let elapsed = now.duration_since(c.refilled).as_secs_f64();
            c.tokens = (c.tokens + elapsed * rate).min(burst);
            c.refilled = now;
            if c.tokens >= 1.0 {
                c.tokens -= 1.0;
                return Ok(());
            }
            let wait = ((1.0 - c.tokens) / rate).ceil() as u64;
            Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "more than {rate} requests per second (bursts of {}); retry later",
                    self.policy.burst
                ),
            )
            .with_retry_after(wait))
        })
    }

    /// A multipart upload about to be created by `who`: refused with 429 `too_many_uploads`
    /// when it has its limit open; else counted.
    pub fn open_upload(&self, who: &str, now: Instant) -> Result<(), ApiError> {
        let max = self.policy.open_uploads;
        if max == 0 {
            return Ok(());
        }
        let window = self.policy.window;
        self.with_caller(who, now, |c| {
            if c.open < max {
                c.open += 1;
                return Ok(());
            }
            let left = window.saturating_sub(now.duration_since(c.window_start));
            Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_uploads",
                format!(
                    "{max} uploads are open (created in the last {}s); complete or abort one, \
                     or retry later",
                    window.as_secs()
                ),
            )
            .with_retry_after(left.as_secs_f64().ceil() as u64))
        })
    }

    /// An upload `who` opened was completed or aborted through this coordinator.
    pub fn close_upload(&self, who: &str) {
        if self.policy.open_uploads == 0 {
            return;
        }
        let mut map = self.callers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get_mut(who) {
            c.open = c.open.saturating_sub(1);
        }
    }

    /// Callers remembered now.
    pub fn callers(&self) -> usize {
        self.callers.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(rate: f64, burst: u32, open: u32) -> LimitPolicy {
        LimitPolicy {
            rate,
            burst,
            open_uploads: open,
            window: Duration::from_secs(60),
        }
    }

    #[test]
    fn the_bucket_empties_then_refills() {
        let l = Limits::new(policy(2.0, 3, 0));
        let t0 = Instant::now();
        for _ in 0..3 {
            l.request("a", t0).unwrap();
        }
        let e = l.request("a", t0).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (429, "rate_limited"));
        assert_eq!(e.retry_after, Some(1));
        // Another caller has its own bucket.
        l.request("b", t0).unwrap();
        l.request("a", t0 + Duration::from_millis(500)).unwrap();
        assert!(l.request("a", t0 + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn open_uploads_close_and_the_window_forgets() {
        let l = Limits::new(policy(0.0, 1, 2));
        let t0 = Instant::now();
        l.open_upload("a", t0).unwrap();
        l.open_upload("a", t0).unwrap();
        let e = l
            .open_upload("a", t0 + Duration::from_secs(20))
            .unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (429, "too_many_uploads"));
        assert_eq!(e.retry_after, Some(40));
        l.close_upload("a");
        l.open_upload("a", t0).unwrap();
        assert!(l.open_upload("a", t0).is_err());
        l.open_upload("a", t0 + Duration::from_secs(60)).unwrap();
    }

    #[test]
    fn the_table_stays_bounded() {
        let l = Limits::new(policy(1000.0, 1, 0));
        let t0 = Instant::now();
        for i in 0..MAX_CALLERS + 10 {
            l.request(&format!("c{i}"), t0 + Duration::from_micros(i as u64))
                .unwrap();
        }
        assert!(l.callers() <= MAX_CALLERS, "{}", l.callers());
    }
}

/// Multipart uploads this replica saw end (completed or aborted), remembered so that a part
/// URL is not signed for one of them: a bounded set, oldest forgotten first. An upload ended
/// through another replica is not known here; its part URLs fail at the store instead.
#[derive(Debug, Default)]
pub struct Ended {
    inner: Mutex<(
        std::collections::HashSet<String>,
        std::collections::VecDeque<String>,
    )>,
}

/// Ended uploads remembered per replica.
pub const MAX_ENDED: usize = 65_536;

impl Ended {
    /// The store's upload `id` has ended.
    pub fn insert(&self, id: &str) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (set, order) = &mut *guard;
        if set.insert(id.to_owned()) {
            order.push_back(id.to_owned());
            if order.len() > MAX_ENDED
                && let Some(old) = order.pop_front()
            {
                set.remove(&old);
            }
        }
    }

    /// Whether the store's upload `id` ended through this replica.
    pub fn contains(&self, id: &str) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .contains(id)
    }
}

#[cfg(test)]
mod ended_tests {
    use super::*;

    #[test]
    fn the_oldest_ended_upload_is_forgotten_first() {
        let ended = Ended::default();
        for i in 0..=MAX_ENDED {
            ended.insert(&i.to_string());
        }
        assert!(!ended.contains("0"));
        assert!(ended.contains("1"));
        assert!(ended.contains(&MAX_ENDED.to_string()));
    }
}
