//! Retry policy: exponential backoff with full jitter, and which failures deserve a retry.

use std::time::Duration;

/// How often and how patiently a failed request is retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request, the first one included.
    pub max_attempts: u32,
    /// The backoff ceiling before the first retry; it doubles on each further retry.
    pub base_delay: Duration,
    /// No single wait is longer than this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(20),
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

    /// The wait before retry number `retry`, drawn from the system's random source.
    pub fn jittered_delay(&self, retry: u32) -> Duration {
        self.delay(retry, getrandom::u64().unwrap_or(u64::MAX / 2))
    }
}

/// What to do about one failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Transient: wait and send again.
    Retry,
    /// The URL or its signature is too old: sign again and send at once.
    Resign,
    /// Retrying cannot help.
    Fatal,
}

/// Classifies an HTTP answer from the store: status plus S3 error code and message.
///
/// Expiry is recognised both as S3 says it (403 AccessDenied "Request has expired") and as
/// Garage does (400 "Date is too old"). A skewed clock ("Request is not yet valid",
/// RequestTimeTooSkewed) is re-signed too: the transport corrects its clock from the answer.
pub fn classify_status(status: u16, code: &str, message: &str) -> Verdict {
    let lower = message.to_ascii_lowercase();
    if lower.contains("request has expired")
        || lower.contains("date is too old")
        || code == "ExpiredToken"
    {
        return Verdict::Resign;
    }
    match (status, code) {
        (_, "SlowDown" | "RequestTimeout" | "InternalError" | "ServiceUnavailable") => {
            Verdict::Retry
        }
        // The direct transport learns the store's clock from the answer's Date header, so a
        // fresh signature fixes these.
        (403, "RequestTimeTooSkewed") => Verdict::Resign,
        (403, _) if lower.contains("not yet valid") => Verdict::Resign,
        (408 | 429, _) => Verdict::Retry,
        (s, _) if s >= 500 => Verdict::Retry,
        _ => Verdict::Fatal,
    }
}

/// Runs one control call (create, list, complete, abort, head) with retries: transient
/// failures wait and retry, expired signatures are re-signed at once (each attempt signs
/// anew), anything else is returned.
pub(crate) async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    cancel: &tokio_util::sync::CancellationToken,
    mut attempt_fn: F,
) -> crate::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::transport::AttemptError>>,
{
    let mut attempt = 0u32;
    let mut resigns = 0u32;
    loop {
        if cancel.is_cancelled() {
            return Err(crate::Error::Cancelled);
        }
        attempt += 1;
        let err = match attempt_fn().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        match err.verdict {
            Verdict::Resign if resigns < 3 => {
                resigns += 1;
                attempt -= 1;
            }
            Verdict::Retry if attempt < policy.max_attempts => {
                let delay = policy.jittered_delay(attempt);
                tracing::debug!(attempt, ?delay, error = %err.error, "retrying");
                tokio::select! {
                    _ = cancel.cancelled() => return Err(crate::Error::Cancelled),
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            _ => return Err(err.error),
        }
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
            assert!(p.jittered_delay(retry) <= Duration::from_secs(1));
        }
        assert_eq!(p.delay(2, 0), Duration::ZERO);
    }

    #[test]
    fn jitter_varies() {
        let p = RetryPolicy::default();
        let draws: std::collections::HashSet<_> = (0..20).map(|_| p.jittered_delay(6)).collect();
        assert!(draws.len() > 10);
    }

    #[test]
    fn classifies_s3_and_garage_answers() {
        assert_eq!(
            classify_status(403, "AccessDenied", "Request has expired"),
            Verdict::Resign
        );
        assert_eq!(
            classify_status(400, "InvalidRequest", "Date is too old"),
            Verdict::Resign
        );
        assert_eq!(
            classify_status(400, "ExpiredToken", "The provided token has expired."),
            Verdict::Resign
        );
        assert_eq!(
            classify_status(503, "SlowDown", "Please reduce"),
            Verdict::Retry
        );
        assert_eq!(classify_status(500, "InternalError", ""), Verdict::Retry);
        assert_eq!(classify_status(502, "", ""), Verdict::Retry);
        assert_eq!(classify_status(400, "BadDigest", "bad"), Verdict::Fatal);
        assert_eq!(
            classify_status(403, "SignatureDoesNotMatch", "x"),
            Verdict::Fatal
        );
        assert_eq!(classify_status(404, "NoSuchUpload", "x"), Verdict::Fatal);
    }
}
