//! Sending one signed message to every hook URL, each retried with backoff until it is
//! accepted (a 2xx answer) or the time allowed is spent.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::metrics::Metrics;

use super::sign::HookSecret;

/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// First wait between two attempts; each later one doubles, with jitter.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Longest one attempt may take, within the time allowed.
pub(super) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// What every delivery needs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Courier<'a> {
    pub client: &'a reqwest::Client,
    pub secret: &'a HookSecret,
    pub metrics: &'a Metrics,
    pub within: Duration,
}

/// A hook URL as logs show it: without its query, which may carry a credential of its own.
pub(super) fn shown(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// Unix seconds now, by the local clock: receivers compare `webhook-timestamp` with theirs.
pub(super) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// One signed POST of `body` with the Standard Webhooks headers; the status it was answered.
pub(super) async fn send(
    client: &reqwest::Client,
    secret: &HookSecret,
    url: &str,
    id: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<(u16, bytes::Bytes), String> {
    let timestamp = unix_now();
    let answer = client
        .post(url)
        .timeout(timeout)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", secret.signature(id, timestamp, body))
        .body(body.to_vec())
        .send()
        .await
        .map_err(describe)?;
    let status = answer.status().as_u16();
    let body = answer.bytes().await.map_err(describe)?;
    Ok((status, body))
}

fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        // reqwest names the URL; logs show it without its query.
        hoist_core::redact::redact_text(&e.without_url().to_string())
    }
}

/// A wait before attempt `n + 1` (`n` ≥ 1): doubling from [`FIRST_BACKOFF`], at most
/// [`MAX_BACKOFF`], between half and all of that (jitter keeps replicas apart).
fn backoff(n: u32) -> Duration {
    let full = FIRST_BACKOFF
        .saturating_mul(1u32 << n.saturating_sub(1).min(8))
        .min(MAX_BACKOFF);
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let frac = f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX);
    full.mul_f64(0.5 + frac / 2.0)
}

impl Courier<'_> {
    /// Delivers the message to every URL at once; whether each accepted it in time.
    pub(super) async fn deliver_all(&self, urls: &[String], id: &str, body: &[u8]) -> bool {
        let mut all = true;
        let sends = urls.iter().map(|url| self.deliver(url, id, body));
        for delivered in futures_util::future::join_all(sends).await {
            all &= delivered;
        }
        all
    }

    /// Delivers the message to `url`, retrying until it is accepted or the time is spent.
    async fn deliver(&self, url: &str, id: &str, body: &[u8]) -> bool {
        let deadline = Instant::now() + self.within;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if attempt > 1 {
                self.metrics.hook_retried();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let started = Instant::now();
            let said = send(
                self.client,
                self.secret,
                url,
                id,
                body,
                left.min(ATTEMPT_TIMEOUT).max(Duration::from_millis(100)),
            )
            .await;
            self.metrics.hook_attempt(started.elapsed());
            let why = match said {
                Ok((status, _)) if (200..300).contains(&status) => {
                    self.metrics.hook_delivered(true);
                    tracing::debug!(event_id = id, url = shown(url), attempt, "hook delivered");
                    return true;
                }
                Ok((status, _)) => format!("answered {status}"),
                Err(e) => e,
            };
            let wait = backoff(attempt);
            if Instant::now() + wait >= deadline {
                self.metrics.hook_delivered(false);
                tracing::warn!(
                    event_id = id,
                    url = shown(url),
                    attempts = attempt,
                    last = %why,
                    "hook not delivered in time; a repeated request delivers it again"
                );
                return false;
            }
            tracing::info!(event_id = id, url = shown(url), attempt, %why, "hook delivery failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap_with_jitter() {
        for _ in 0..50 {
            let b1 = backoff(1);
            assert!(b1 >= FIRST_BACKOFF / 2 && b1 <= FIRST_BACKOFF, "{b1:?}");
            let b3 = backoff(3);
            assert!(b3 >= FIRST_BACKOFF * 2 && b3 <= FIRST_BACKOFF * 4, "{b3:?}");
            assert!(backoff(30) <= MAX_BACKOFF);
        }
    }

    #[test]
    fn logged_urls_lose_their_query() {
        assert_eq!(shown("https://app/hook?token=s3cret"), "https://app/hook");
        assert_eq!(shown("https://app/hook"), "https://app/hook");
    }
}
