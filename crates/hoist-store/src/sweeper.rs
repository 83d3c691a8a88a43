//! The lifecycle sweeper: it carries out each bucket's rules on the store's clock, with a
//! "day" as long as the store is told (`lifecycle_day`): `Expiration` (Days or Date, by
//! prefix and size) deletes the objects it covers, `AbortIncompleteMultipartUpload` aborts
//! old uploads. It also writes the `x-amz-expiration` header S3 sends with an object that a
//! rule will expire.

use std::sync::Arc;
use std::time::Duration;

use hoist_core::time::Timestamp;

use crate::commit::let_go;
use crate::fs::{key_stem, sync_dir_async};
use crate::lifecycle;
use crate::storage::{Storage, from_ms};
use crate::uploads;

fn day_ms(day: Duration) -> i64 {
    i64::try_from(day.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// Carries out every bucket's rules once, with `day` as the length of a day. Answers how
/// many incomplete uploads it aborted (the objects it expired are logged).
pub(crate) async fn sweep_once(storage: &Storage, day: Duration) -> usize {
    let aborted = abort_old_uploads(storage, day).await;
    expire_objects(storage, day).await;
    aborted
}

/// Aborts every incomplete upload older than its bucket's `DaysAfterInitiation`. Answers
/// how many it aborted.
async fn abort_old_uploads(storage: &Storage, day: Duration) -> usize {
    let now = storage.now_ms();
    let day_ms = day_ms(day);
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

/// Deletes every object whose expiry has come. Answers how many it deleted.
async fn expire_objects(storage: &Storage, day: Duration) -> usize {
    let now = storage.now_ms();
    let day_ms = day_ms(day);
    // (bucket, key, etag, last modified): the object as judged, deleted only if unchanged.
    let doomed: Vec<(String, String, String, i64)> = {
        let state = storage.state();
        state
            .buckets
            .iter()
            .filter_map(|(name, entry)| {
                let rules = entry.meta.as_ref()?.lifecycle.as_ref()?;
                Some(entry.objects.values().filter_map(move |object| {
                    let (at, _) = lifecycle::expiry(
                        rules,
                        &object.key,
                        object.size,
                        object.last_modified_ms,
                        day_ms,
                    )?;
                    (at <= now).then(|| {
                        (
                            name.clone(),
                            object.key.clone(),
                            object.etag.clone(),
                            object.last_modified_ms,
                        )
                    })
                }))
            })
            .flatten()
            .collect()
    };
    let mut expired = 0;
    for (bucket, key, etag, modified) in doomed {
        let _commit = storage.commit.key(&bucket, &key).await;
        let removed = {
            let mut state = storage.state();
            let Some(entry) = state.buckets.get_mut(&bucket) else {
                continue;
            };
            // A new object written since the judgement is not the one that expired.
            if !entry
                .objects
                .get(&key)
                .is_some_and(|o| o.etag == etag && o.last_modified_ms == modified)
            {
                continue;
            }
            entry.objects.remove(&key)
        };
        if let Some(meta) = removed {
            let dir = storage.layout.objects(&bucket);
            let _ = tokio::fs::remove_file(dir.join(format!("{}.json", key_stem(&key)))).await;
            let _ = sync_dir_async(dir).await;
            let_go(meta).await;
            tracing::info!(%bucket, %key, "lifecycle rule expired an object");
            expired += 1;
        }
    }
    expired
}

/// The `x-amz-expiration` header of an object a rule will expire:
/// `expiry-date="Fri, 23 Dec 2012 00:00:00 GMT", rule-id="…"`.
pub(crate) fn expiration_header(
    storage: &Storage,
    bucket: &str,
    key: &str,
    day: Duration,
) -> Option<String> {
    let state = storage.state();
    let entry = state.buckets.get(bucket)?;
    let rules = entry.meta.as_ref()?.lifecycle.as_ref()?;
    let object = entry.objects.get(key)?;
    let (at, rule) = lifecycle::expiry(
        rules,
        key,
        object.size,
        object.last_modified_ms,
        day_ms(day),
    )?;
    let date = Timestamp::from(from_ms(at)).to_http_date();
    let id = rule.id.as_deref().unwrap_or_default();
    Some(format!("expiry-date=\"{date}\", rule-id=\"{id}\""))
}

/// When an `AbortIncompleteMultipartUpload` rule will abort upload `id`, and which rule:
/// its initiation plus `DaysAfterInitiation`, rounded up to the next day boundary, as S3
/// announces it in `x-amz-abort-date` and `x-amz-abort-rule-id`.
pub(crate) fn abort_date(
    storage: &Storage,
    id: &str,
    day: Duration,
) -> Option<(std::time::SystemTime, String)> {
    let state = storage.state();
    let upload = &state.uploads.get(id)?.meta;
    let rules = state
        .buckets
        .get(&upload.bucket)?
        .meta
        .as_ref()?
        .lifecycle
        .as_ref()?;
    let day_ms = day_ms(day);
    rules
        .iter()
        .filter(|rule| rule.enabled && upload.key.starts_with(&rule.prefix))
        .filter_map(|rule| {
            let days = i64::from(rule.abort_incomplete_days?);
            let due = upload
                .initiated_ms
                .saturating_add(days.saturating_mul(day_ms));
            let at = (due.div_euclid(day_ms) + i64::from(due.rem_euclid(day_ms) != 0))
                .saturating_mul(day_ms);
            Some((at, rule.id.clone().unwrap_or_default()))
        })
        .min_by_key(|(at, _)| *at)
        .map(|(at, id)| (from_ms(at), id))
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
