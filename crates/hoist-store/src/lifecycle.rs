//! Bucket lifecycle rules: the part of a rule the store keeps (in the bucket's settings) and
//! acts on. [`crate::sweeper`] carries out `AbortIncompleteMultipartUpload`.

use serde::{Deserialize, Serialize};

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
