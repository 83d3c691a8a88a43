//! Bucket lifecycle rules, and the sweeper that carries out `AbortIncompleteMultipartUpload`.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::storage::Storage;

/// The part of a lifecycle rule the store keeps and acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LifecycleRule {
    pub id: Option<String>,
    pub enabled: bool,
    /// Keys the rule applies to (from `Filter/Prefix` or the legacy `Prefix`).
    pub prefix: String,
    pub abort_incomplete_days: Option<i32>,
    pub expiration_days: Option<i32>,
}

impl LifecycleRule {
    pub fn from_dto(rule: s3s::dto::LifecycleRule) -> Self {
        let prefix = rule
            .filter
            .as_ref()
            .and_then(|f| {
                f.prefix
                    .clone()
                    .or_else(|| f.and.as_ref().and_then(|a| a.prefix.clone()))
            })
            .or(rule.prefix)
            .unwrap_or_default();
        Self {
            id: rule.id,
            enabled: rule.status.as_str() == s3s::dto::ExpirationStatus::ENABLED,
            prefix,
            abort_incomplete_days: rule
                .abort_incomplete_multipart_upload
                .and_then(|a| a.days_after_initiation),
            expiration_days: rule.expiration.and_then(|e| e.days),
        }
    }

    pub fn to_dto(&self) -> s3s::dto::LifecycleRule {
        let status = if self.enabled {
            s3s::dto::ExpirationStatus::ENABLED
        } else {
            s3s::dto::ExpirationStatus::DISABLED
        };
        s3s::dto::LifecycleRule {
            id: self.id.clone(),
            status: s3s::dto::ExpirationStatus::from(status.to_owned()),
            filter: Some(s3s::dto::LifecycleRuleFilter {
                prefix: Some(self.prefix.clone()),
                ..Default::default()
            }),
            abort_incomplete_multipart_upload: self.abort_incomplete_days.map(|days| {
                s3s::dto::AbortIncompleteMultipartUpload {
                    days_after_initiation: Some(days),
                }
            }),
            expiration: self
                .expiration_days
                .map(|days| s3s::dto::LifecycleExpiration {
                    days: Some(days),
                    ..Default::default()
                }),
            noncurrent_version_expiration: None,
            noncurrent_version_transitions: None,
            prefix: None,
            transitions: None,
        }
    }
}

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
        if crate::multipart::remove_upload(storage, &id).await.is_ok() {
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
