//! What to do after a failed request, decided once for every client of a store: wait and
//! retry, sign again at once, or give up; and how long to wait (exponential backoff with full
//! jitter). The I/O layer runs the loop; this module only decides.
//!
//! ```
//! use std::time::Duration;
//! use hoist_core::retry::{RetryPolicy, Verdict, classify};
//!
//! assert_eq!(classify(403, "AccessDenied", "Request has expired"), Verdict::Resign);
//! assert_eq!(classify(503, "SlowDown", "Please reduce your request rate."), Verdict::Retry);
//! assert_eq!(classify(400, "BadDigest", ""), Verdict::Fatal);
//! assert!(RetryPolicy::default().delay(3, u64::MAX) <= Duration::from_millis(400));
//! ```

use std::time::Duration;

/// How often and how patiently a failed request is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first one included.
    pub max_attempts: u32,
    /// The backoff ceiling before the first retry; it doubles on each further retry.
    pub base_delay: Duration,
    /// No single wait is longer than this.
    pub max_delay: Duration,
    /// Fresh signatures after an expiry or skew answer, beyond the attempts.
    pub max_resigns: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(20),
            max_resigns: 3,
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first retry), given a uniform random
    /// number. Full jitter (a uniform draw below the exponential ceiling) spreads the retries
    /// of many parallel workers that failed together, so they do not hammer the store in step.
    pub fn delay(&self, retry: u32, random: u64) -> Duration {
        let shift = retry.saturating_sub(1).min(30);
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << shift)
            .min(self.max_delay);
        let nanos = ceiling.as_nanos() as u64;
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(random % (nanos + 1))
    }
}

/// What to do about one failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Transient: wait and send again.
    Retry,
    /// The URL or its signature is too old, or the clock was off: sign again and send at once.
    Resign,
    /// Retrying cannot help.
    Fatal,
}

/// Classifies an HTTP answer from a store or a coordinator: status, error code and message.
///
/// Expiry is recognised both as S3 says it (403 AccessDenied "Request has expired") and as
/// Garage does (400 "Date is too old"). A skewed clock ("Request is not yet valid",
/// RequestTimeTooSkewed) is re-signed too: the signer corrects its clock from the answer's
/// `Date`.
pub fn classify(status: u16, code: &str, message: &str) -> Verdict {
    let lower = message.to_ascii_lowercase();
    if lower.contains("request has expired")
        || lower.contains("date is too old")
        || code == "ExpiredToken"
    {
        return Verdict::Resign;
    }
    match (status, code) {
        (
            _,
            "SlowDown"
            | "RequestTimeout"
            | "InternalError"
            | "ServiceUnavailable"
            | "ConditionalRequestConflict",
        ) => Verdict::Retry,
        (403, "RequestTimeTooSkewed") => Verdict::Resign,
        (403, _) if lower.contains("not yet valid") => Verdict::Resign,
        (408 | 429, _) => Verdict::Retry,
        (s, _) if s >= 500 => Verdict::Retry,
        _ => Verdict::Fatal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_stays_under_an_exponential_ceiling() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_resigns: 3,
        };
        assert_eq!(
            p.delay(1, u64::MAX),
            Duration::from_nanos(u64::MAX % 100_000_001)
        );
        assert!(p.delay(1, u64::MAX) <= Duration::from_millis(100));
        assert_eq!(p.delay(3, 400_000_000), Duration::from_millis(400));
        assert!(p.delay(3, 400_000_001) < Duration::from_millis(400));
        // The cap holds however many retries came before.
        for retry in 1..40 {
            assert!(p.delay(retry, u64::MAX - 7) <= Duration::from_secs(1));
        }
        assert_eq!(p.delay(2, 0), Duration::ZERO);
    }

    #[test]
    fn classifies_s3_and_garage_answers() {
        assert_eq!(
            classify(403, "AccessDenied", "Request has expired"),
            Verdict::Resign
        );
        assert_eq!(
            classify(400, "InvalidRequest", "Date is too old"),
            Verdict::Resign
        );
        assert_eq!(
            classify(400, "ExpiredToken", "The provided token has expired."),
            Verdict::Resign
        );
        assert_eq!(
            classify(403, "RequestTimeTooSkewed", "The difference…"),
            Verdict::Resign
        );
        assert_eq!(
            classify(403, "AccessDenied", "Request is not yet valid"),
            Verdict::Resign
        );
        assert_eq!(classify(503, "SlowDown", "Please reduce"), Verdict::Retry);
        assert_eq!(classify(429, "", ""), Verdict::Retry);
        assert_eq!(
            classify(409, "ConditionalRequestConflict", ""),
            Verdict::Retry
        );
        assert_eq!(classify(500, "InternalError", ""), Verdict::Retry);
        assert_eq!(classify(502, "", ""), Verdict::Retry);
        assert_eq!(classify(400, "BadDigest", "bad"), Verdict::Fatal);
        assert_eq!(classify(403, "SignatureDoesNotMatch", "x"), Verdict::Fatal);
        assert_eq!(classify(404, "NoSuchUpload", "x"), Verdict::Fatal);
        assert_eq!(classify(412, "PreconditionFailed", "x"), Verdict::Fatal);
    }
}
