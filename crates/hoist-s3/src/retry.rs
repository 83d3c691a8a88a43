//! The one retry loop: transient failures wait (exponential backoff with full jitter) and go
//! again, expired signatures are signed again at once, anything else is returned. The policy
//! and the verdicts are hoist-core's ([`hoist_core::retry`]).

use std::future::Future;
use std::time::Duration;

pub use hoist_core::retry::{RetryPolicy, Verdict};
use tokio_util::sync::CancellationToken;

use crate::error::Error;

/// A failure that knows whether it is worth another attempt.
pub trait Retryable {
    /// Retry after a wait, sign again at once, or give up.
    fn verdict(&self) -> Verdict;
}

impl Retryable for Error {
    fn verdict(&self) -> Verdict {
        Error::verdict(self)
    }
}

/// What one attempt is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first attempt; re-signed attempts do not count.
    pub number: u32,
    /// The previous attempt met an expired signature or a skewed clock: sign afresh.
    pub resign: bool,
}

/// What happened before another attempt, for progress reports and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryStep {
    /// The attempt that failed.
    pub attempt: u32,
    /// Why another one follows.
    pub verdict: Verdict,
    /// The wait before it (zero for a re-signed attempt).
    pub delay: Duration,
}

/// Why the loop stopped without a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped<E> {
    /// The cancellation token fired.
    Cancelled,
    /// The last attempt's failure: final, or the attempts ran out.
    Failed(E),
}

/// The wait before retry number `retry`, with a random draw from the system.
pub fn jittered_delay(policy: &RetryPolicy, retry: u32) -> Duration {
    policy.delay(retry, getrandom::u64().unwrap_or(u64::MAX / 2))
}

/// Runs `attempt` until it succeeds, its failure is final, the policy's attempts (and
/// re-signs) run out, or `cancel` fires. `on_retry` hears of each failure that is retried.
pub async fn with_retries<T, E, F, Fut>(
    policy: &RetryPolicy,
    cancel: &CancellationToken,
    mut on_retry: impl FnMut(&E, RetryStep),
    mut attempt: F,
) -> Result<T, Stopped<E>>
where
    E: Retryable,
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut number = 0u32;
    let mut resigns = 0u32;
    let mut resign = false;
    loop {
        if cancel.is_cancelled() {
            return Err(Stopped::Cancelled);
        }
        number += 1;
        let err = tokio::select! {
            _ = cancel.cancelled() => return Err(Stopped::Cancelled),
            r = attempt(Attempt { number, resign }) => match r {
                Ok(v) => return Ok(v),
                Err(e) => e,
            },
        };
        resign = false;
        match err.verdict() {
            Verdict::Resign if resigns < policy.max_resigns => {
                resigns += 1;
                number -= 1;
                resign = true;
                on_retry(
                    &err,
                    RetryStep {
                        attempt: number + 1,
                        verdict: Verdict::Resign,
                        delay: Duration::ZERO,
                    },
                );
            }
            Verdict::Retry if number < policy.max_attempts => {
                let delay = jittered_delay(policy, number);
                on_retry(
                    &err,
                    RetryStep {
                        attempt: number,
                        verdict: Verdict::Retry,
                        delay,
                    },
                );
                tokio::select! {
                    _ = cancel.cancelled() => return Err(Stopped::Cancelled),
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            _ => return Err(Stopped::Failed(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Fails(Verdict);

    impl Retryable for Fails {
        fn verdict(&self) -> Verdict {
            self.0
        }
    }

    fn quick() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            max_resigns: 2,
        }
    }

    #[tokio::test]
    async fn retries_until_success_and_resigns_without_counting() {
        let mut seen = Vec::new();
        let mut steps = Vec::new();
        let out = with_retries(
            &quick(),
            &CancellationToken::new(),
            |_: &Fails, s| steps.push(s.verdict),
            |a| {
                seen.push(a);
                let n = seen.len();
                async move {
                    match n {
                        1 => Err(Fails(Verdict::Resign)),
                        2 | 3 => Err(Fails(Verdict::Retry)),
                        _ => Ok(n),
                    }
                }
            },
        )
        .await;
        assert_eq!(out, Ok(4));
        assert_eq!(
            seen.iter()
                .map(|a| (a.number, a.resign))
                .collect::<Vec<_>>(),
            [(1, false), (1, true), (2, false), (3, false)]
        );
        assert_eq!(steps, [Verdict::Resign, Verdict::Retry, Verdict::Retry]);
    }

    #[tokio::test]
    async fn stops_on_fatal_on_exhaustion_and_on_cancel() {
        let cancel = CancellationToken::new();
        let fatal = with_retries(
            &quick(),
            &cancel,
            |_: &Fails, _| {},
            |_| async { Err::<(), _>(Fails(Verdict::Fatal)) },
        )
        .await;
        assert!(matches!(fatal, Err(Stopped::Failed(Fails(Verdict::Fatal)))));
        let mut tries = 0;
        let out = with_retries(
            &quick(),
            &cancel,
            |_: &Fails, _| {},
            |_| {
                tries += 1;
                async { Err::<(), _>(Fails(Verdict::Retry)) }
            },
        )
        .await;
        assert!(matches!(out, Err(Stopped::Failed(_))));
        assert_eq!(tries, 4);
        let mut resigns = 0;
        let out = with_retries(
            &quick(),
            &cancel,
            |_: &Fails, _| {},
            |_| {
                resigns += 1;
                async { Err::<(), _>(Fails(Verdict::Resign)) }
            },
        )
        .await;
        assert!(matches!(out, Err(Stopped::Failed(_))));
        assert_eq!(resigns, 3, "the first attempt and two re-signs");
        cancel.cancel();
        let out = with_retries(
            &quick(),
            &cancel,
            |_: &Fails, _| {},
            |_| async { Ok::<_, Fails>(()) },
        )
        .await;
        assert_eq!(out.map_err(|e| matches!(e, Stopped::Cancelled)), Err(true));
    }
}
