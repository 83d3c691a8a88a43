//! Bucket lifecycle rules: a configuration checked as S3 checks it, the part of each rule the
//! store keeps (in the bucket's settings) in the shape it was sent, and when a rule makes an
//! object expire. [`crate::sweeper`] carries out `Expiration` and
//! `AbortIncompleteMultipartUpload`; every other action, and filters on object tags (the
//! store keeps no tags), are refused with `501 NotImplemented` rather than kept and ignored.

use s3s::dto::{self, ExpirationStatus};
use s3s::{S3Error, S3ErrorCode};
use serde::{Deserialize, Serialize};

use crate::config::{ALNUM_TOKEN, random_token};
use crate::errors::s3_error;

/// The longest rule ID S3 accepts.
const MAX_ID_LEN: usize = 255;

/// How a rule's filter was written, so that it is returned as it was sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Shape {
    /// `<Filter><Prefix>…</Prefix></Filter>`.
    #[default]
    FilterPrefix,
    /// The legacy `<Prefix>…</Prefix>` directly in the rule.
    LegacyPrefix,
    /// `<Filter/>`: every object.
    EmptyFilter,
    /// `<Filter><ObjectSizeGreaterThan>` or `<ObjectSizeLessThan>` alone.
    FilterSize,
    /// `<Filter><And>…</And></Filter>`.
    FilterAnd,
    /// Neither a filter nor a prefix.
    None,
}

/// The part of a lifecycle rule the store keeps and acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LifecycleRule {
    pub id: Option<String>,
    pub enabled: bool,
    /// Keys the rule applies to (from `Filter/Prefix`, `Filter/And/Prefix` or the legacy
    /// `Prefix`).
    pub prefix: String,
    #[serde(default)]
    pub shape: Shape,
    #[serde(default)]
    pub size_greater_than: Option<i64>,
    #[serde(default)]
    pub size_less_than: Option<i64>,
    pub abort_incomplete_days: Option<i32>,
    pub expiration_days: Option<i32>,
    /// `Expiration/Date`, in milliseconds since the epoch (always a midnight UTC).
    #[serde(default)]
    pub expiration_date_ms: Option<i64>,
}

fn malformed() -> S3Error {
    s3_error(
        S3ErrorCode::MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema",
        &vec![],
    )
}

fn invalid(message: &str) -> S3Error {
    s3_error(S3ErrorCode::InvalidArgument, message, &vec![])
}

fn not_implemented(what: &str) -> S3Error {
    s3_error(
        S3ErrorCode::NotImplemented,
        &format!("The store does not carry out {what} in lifecycle rules"),
        &vec![],
    )
}

/// Milliseconds since the epoch of an s3s timestamp.
fn timestamp_ms(time: &dto::Timestamp) -> Option<i64> {
    let mut text = Vec::new();
    time.format(dto::TimestampFormat::EpochSeconds, &mut text)
        .ok()?;
    let secs: f64 = std::str::from_utf8(&text).ok()?.parse().ok()?;
    #[allow(clippy::cast_possible_truncation)]
    Some((secs * 1000.0).round() as i64)
}

const DAY_MS: i64 = 86_400_000;

/// A lifecycle configuration checked as S3 checks it (schema first, `400 MalformedXML`;
/// then values, `400 InvalidArgument`), then what the store cannot carry out (`501
/// NotImplemented`). Rules sent without an ID get one, as S3 gives them.
pub(crate) fn from_configuration(
    rules: Vec<dto::LifecycleRule>,
) -> Result<Vec<LifecycleRule>, S3Error> {
    if rules.is_empty() {
        return Err(malformed());
    }
    for rule in &rules {
        check_schema(rule)?;
    }
    let mut seen = std::collections::HashSet::new();
    for rule in &rules {
        check_values(rule)?;
        if let Some(id) = &rule.id
            && !seen.insert(id.as_str())
        {
            return Err(invalid(
                "Rule ID must be unique. Found same ID for more than one rule",
            ));
        }
    }
    for rule in &rules {
        check_supported(rule)?;
    }
    Ok(rules.into_iter().map(LifecycleRule::from_dto).collect())
}

/// What S3's schema refuses: a status other than Enabled or Disabled, a filter with more
/// than one condition, both a filter and the legacy prefix, an Expiration with no date nor
/// days or with both.
fn check_schema(rule: &dto::LifecycleRule) -> Result<(), S3Error> {
    let status = rule.status.as_str();
    if status != ExpirationStatus::ENABLED && status != ExpirationStatus::DISABLED {
        return Err(malformed());
    }
    if let Some(filter) = &rule.filter {
        if rule.prefix.is_some() {
            return Err(malformed());
        }
        let conditions = [
            filter.prefix.is_some(),
            filter.tag.is_some(),
            filter.and.is_some(),
            filter.object_size_greater_than.is_some(),
            filter.object_size_less_than.is_some(),
        ];
        if conditions.iter().filter(|c| **c).count() > 1 {
            return Err(malformed());
        }
    }
    if let Some(expiration) = &rule.expiration {
        let given = [
            expiration.days.is_some(),
            expiration.date.is_some(),
            expiration.expired_object_delete_marker.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(malformed());
        }
    }
    Ok(())
}

/// The values S3 refuses with `400 InvalidArgument`.
fn check_values(rule: &dto::LifecycleRule) -> Result<(), S3Error> {
    if rule.id.as_ref().is_some_and(|id| id.len() > MAX_ID_LEN) {
        return Err(invalid("ID length should not exceed allowed limit of 255"));
    }
    if let Some(expiration) = &rule.expiration {
        if expiration.days.is_some_and(|d| d < 1) {
            return Err(invalid(
                "'Days' for Expiration action must be a positive integer",
            ));
        }
        if let Some(date) = &expiration.date
            && timestamp_ms(date).is_none_or(|ms| ms.rem_euclid(DAY_MS) != 0)
        {
            return Err(invalid("'Date' must be at midnight GMT"));
        }
    }
    if rule
        .abort_incomplete_multipart_upload
        .as_ref()
        .and_then(|a| a.days_after_initiation)
        .is_some_and(|d| d < 1)
    {
        return Err(invalid(
            "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
        ));
    }
    let acts = rule.expiration.is_some()
        || rule.abort_incomplete_multipart_upload.is_some()
        || rule.transitions.as_ref().is_some_and(|t| !t.is_empty())
        || rule.noncurrent_version_expiration.is_some()
        || rule
            .noncurrent_version_transitions
            .as_ref()
            .is_some_and(|t| !t.is_empty());
    if !acts {
        return Err(s3_error(
            S3ErrorCode::InvalidRequest,
            "At least one action needs to be specified in a rule",
            &vec![],
        ));
    }
    Ok(())
}

/// What the store would have to ignore: refused, so no rule is silently half kept.
fn check_supported(rule: &dto::LifecycleRule) -> Result<(), S3Error> {
    if rule.transitions.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(not_implemented(
            "Transition actions (the store has one storage class)",
        ));
    }
    if rule
        .noncurrent_version_transitions
        .as_ref()
        .is_some_and(|t| !t.is_empty())
        || rule.noncurrent_version_expiration.is_some()
    {
        return Err(not_implemented(
            "NoncurrentVersion actions (the store keeps no versions)",
        ));
    }
    if rule
        .expiration
        .as_ref()
        .is_some_and(|e| e.expired_object_delete_marker.is_some())
    {
        return Err(not_implemented(
            "ExpiredObjectDeleteMarker (the store keeps no versions)",
        ));
    }
    if let Some(filter) = &rule.filter
        && (filter.tag.is_some()
            || filter
                .and
                .as_ref()
                .is_some_and(|a| a.tags.as_ref().is_some_and(|t| !t.is_empty())))
    {
        return Err(not_implemented(
            "filters on object tags (the store keeps no object tags)",
        ));
    }
    Ok(())
}

impl LifecycleRule {
    fn from_dto(rule: dto::LifecycleRule) -> Self {
        let had_filter = rule.filter.is_some();
        let filter = rule.filter.unwrap_or_default();
        let (shape, prefix, greater, less) = if let Some(prefix) = rule.prefix {
            (Shape::LegacyPrefix, prefix, None, None)
        } else if let Some(and) = filter.and {
            (
                Shape::FilterAnd,
                and.prefix.unwrap_or_default(),
                and.object_size_greater_than,
                and.object_size_less_than,
            )
        } else if let Some(prefix) = filter.prefix {
            (Shape::FilterPrefix, prefix, None, None)
        } else if filter.object_size_greater_than.is_some()
            || filter.object_size_less_than.is_some()
        {
            (
                Shape::FilterSize,
                String::new(),
                filter.object_size_greater_than,
                filter.object_size_less_than,
            )
        } else if had_filter {
            (Shape::EmptyFilter, String::new(), None, None)
        } else {
            (Shape::None, String::new(), None, None)
        };
        let expiration = rule.expiration.unwrap_or_default();
        Self {
            id: Some(rule.id.unwrap_or_else(|| random_token(48, ALNUM_TOKEN))),
            enabled: rule.status.as_str() == ExpirationStatus::ENABLED,
            prefix,
            shape,
            size_greater_than: greater,
            size_less_than: less,
            abort_incomplete_days: rule
                .abort_incomplete_multipart_upload
                .and_then(|a| a.days_after_initiation),
            expiration_days: expiration.days,
            expiration_date_ms: expiration.date.as_ref().and_then(timestamp_ms),
        }
    }

    pub fn to_dto(&self) -> dto::LifecycleRule {
        let status = if self.enabled {
            ExpirationStatus::ENABLED
        } else {
            ExpirationStatus::DISABLED
        };
        let prefix = Some(self.prefix.clone());
        let (legacy, filter) = match self.shape {
            Shape::LegacyPrefix => (prefix, None),
            Shape::None => (None, None),
            Shape::FilterPrefix => (
                None,
                Some(dto::LifecycleRuleFilter {
                    prefix,
                    ..Default::default()
                }),
            ),
            Shape::EmptyFilter => (None, Some(dto::LifecycleRuleFilter::default())),
            Shape::FilterSize => (
                None,
                Some(dto::LifecycleRuleFilter {
                    object_size_greater_than: self.size_greater_than,
                    object_size_less_than: self.size_less_than,
                    ..Default::default()
                }),
            ),
            Shape::FilterAnd => (
                None,
                Some(dto::LifecycleRuleFilter {
                    and: Some(dto::LifecycleRuleAndOperator {
                        prefix: prefix.filter(|p| !p.is_empty()),
                        object_size_greater_than: self.size_greater_than,
                        object_size_less_than: self.size_less_than,
                        tags: None,
                    }),
                    ..Default::default()
                }),
            ),
        };
        let expiration = (self.expiration_days.is_some() || self.expiration_date_ms.is_some())
            .then(|| dto::LifecycleExpiration {
                days: self.expiration_days,
                date: self
                    .expiration_date_ms
                    .map(|ms| dto::Timestamp::from(system_time(ms))),
                expired_object_delete_marker: None,
            });
        dto::LifecycleRule {
            id: self.id.clone(),
            status: ExpirationStatus::from(status.to_owned()),
            filter,
            abort_incomplete_multipart_upload: self.abort_incomplete_days.map(|days| {
                dto::AbortIncompleteMultipartUpload {
                    days_after_initiation: Some(days),
                }
            }),
            expiration,
            noncurrent_version_expiration: None,
            noncurrent_version_transitions: None,
            prefix: legacy,
            transitions: None,
        }
    }

    /// Whether the rule applies to an object of this key and size.
    pub fn covers(&self, key: &str, size: u64) -> bool {
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        key.starts_with(&self.prefix)
            && self.size_greater_than.is_none_or(|g| size > g)
            && self.size_less_than.is_none_or(|l| size < l)
    }

    /// When an object this rule covers expires, in milliseconds since the epoch: `Days`
    /// after its last modification rounded up to the next day boundary (midnight UTC with
    /// real days), or the rule's `Date`. `day_ms` is the length of a day.
    pub fn expiry_ms(&self, key: &str, size: u64, modified_ms: i64, day_ms: i64) -> Option<i64> {
        if !self.enabled || !self.covers(key, size) {
            return None;
        }
        match (self.expiration_days, self.expiration_date_ms) {
            (Some(days), _) => {
                let day_ms = day_ms.max(1);
                let due = modified_ms.saturating_add(i64::from(days).saturating_mul(day_ms));
                let whole_days = due.div_euclid(day_ms) + i64::from(due.rem_euclid(day_ms) != 0);
                Some(whole_days.saturating_mul(day_ms))
            }
            (None, date) => date,
        }
    }
}

/// The earliest expiry among `rules` for an object, with the rule that sets it.
pub(crate) fn expiry<'a>(
    rules: &'a [LifecycleRule],
    key: &str,
    size: u64,
    modified_ms: i64,
    day_ms: i64,
) -> Option<(i64, &'a LifecycleRule)> {
    rules
        .iter()
        .filter_map(|rule| Some((rule.expiry_ms(key, size, modified_ms, day_ms)?, rule)))
        .min_by_key(|(at, _)| *at)
}

fn system_time(ms: i64) -> std::time::SystemTime {
    if ms >= 0 {
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.unsigned_abs())
    } else {
        std::time::UNIX_EPOCH - std::time::Duration::from_millis(ms.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(days: Option<i32>, date_ms: Option<i64>) -> LifecycleRule {
        LifecycleRule {
            id: Some("r".into()),
            enabled: true,
            prefix: "logs/".into(),
            shape: Shape::FilterPrefix,
            size_greater_than: None,
            size_less_than: Some(100),
            abort_incomplete_days: None,
            expiration_days: days,
            expiration_date_ms: date_ms,
        }
    }

    #[test]
    fn days_count_from_the_last_modification_up_to_the_next_midnight() {
        // 2026-01-01T10:00Z plus one day is 2026-01-02T10:00Z: it expires at 2026-01-03T00:00Z.
        let jan1 = 1_767_225_600_000;
        let at = rule(Some(1), None).expiry_ms("logs/a", 1, jan1 + 10 * 3_600_000, DAY_MS);
        assert_eq!(at, Some(jan1 + 2 * DAY_MS));
        // On a boundary it stays there.
        assert_eq!(
            rule(Some(2), None).expiry_ms("logs/a", 1, jan1, DAY_MS),
            Some(jan1 + 2 * DAY_MS)
        );
        // With a shortened day, the same rule in small steps.
        assert_eq!(
            rule(Some(1), None).expiry_ms("logs/a", 1, 1500, 1000),
            Some(3000)
        );
        assert_eq!(
            rule(None, Some(jan1)).expiry_ms("logs/a", 1, 0, DAY_MS),
            Some(jan1)
        );
    }

    #[test]
    fn a_rule_covers_its_prefix_and_sizes_only() {
        let r = rule(Some(1), None);
        assert!(r.covers("logs/a", 99));
        assert!(!r.covers("logs/a", 100));
        assert!(!r.covers("other", 1));
        assert_eq!(r.expiry_ms("other", 1, 0, DAY_MS), None);
        let disabled = LifecycleRule {
            enabled: false,
            ..r
        };
        assert_eq!(disabled.expiry_ms("logs/a", 1, 0, DAY_MS), None);
    }

    #[test]
    fn rules_stored_before_shapes_and_dates_still_read() {
        let old = r#"{"id":"x","enabled":true,"prefix":"","abort_incomplete_days":3,"expiration_days":null}"#;
        let rule: LifecycleRule = serde_json::from_str(old).unwrap();
        assert_eq!(rule.shape, Shape::FilterPrefix);
        assert_eq!(rule.expiration_date_ms, None);
        assert_eq!(rule.to_dto().filter.unwrap().prefix.as_deref(), Some(""));
    }
}
