//! The lifecycle sweeper: it carries out each bucket's `AbortIncompleteMultipartUpload`
//! rules, on the store's clock.

use std::sync::Arc;
use std::time::Duration;

use crate::storage::Storage;
use crate::uploads;

/// Aborts every incomplete upload older than its bucket's `DaysAfterInitiation`, with `day`
/// as the length of a day. Answers how many it aborted.
pub(crate) async fn sweep_once(storage: &Storage, day: Duration) -> usize {
    let now = storage.now_ms();
    let day_ms = i64::try_from(day.as_millis()).unwrap_or(i64::MAX);
    let doomed: Vec<String> = {
        let state = storage.state();
        state
            .uploads
            .values()
            .filter(|upload| {
                let rules = state
                    .buckets
                    .get(&upload.meta.bucket)
                    .and_then(|b| b.meta.as_ref())
                    .and_then(|m| m.lifecycle.as_ref());
                rules.into_iter().flatten().any(|rule| {
                    rule.enabled
                        && upload.meta.key.starts_with(&rule.prefix)
                        && rule.abort_incomplete_days.is_some_and(|days| {
                            now - upload.meta.initiated_ms >= i64::from(days).saturating_mul(day_ms)
                        })
                })
            })
            .map(|upload| upload.meta.id.clone())
            .collect()
    };
    let mut aborted = 0;
    for id in doomed {
        if uploads::remove_upload(storage, &id).await.is_ok() {
            tracing::info!(upload_id = %id, "lifecycle rule aborted an incomplete multipart upload");
            aborted += 1;
        }
    }
    aborted
}

/// Runs [`sweep_once`] every `interval` until the task is dropped.
pub(crate) async fn sweeper(storage: Arc<Storage>, interval: Duration, day: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        sweep_once(&storage, day).await;
    }
}
