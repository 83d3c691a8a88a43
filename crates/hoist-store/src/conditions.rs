//! S3's conditional requests. Reads (GET, HEAD): `If-Match`, `If-None-Match`,
//! `If-Modified-Since`, `If-Unmodified-Since`, in RFC 7232's order, which the S3 GetObject
//! reference spells out for the two pairs that can disagree. Writes (PutObject,
//! CompleteMultipartUpload): `If-None-Match: *` and `If-Match: <etag>`, judged under the commit
//! lock against the object at the key, and against the one the writer saw when it began: a
//! write that committed in between makes the answer S3's `409 ConditionalRequestConflict`.

use s3s::dto::{ETagCondition, Timestamp, TimestampFormat};
use s3s::{S3Error, S3ErrorCode, S3Result};

use crate::errors::{MSG_NO_SUCH_KEY, s3_error};
use crate::storage::ObjectMeta;

pub(crate) const MSG_PRECONDITION_FAILED: &str =
    "At least one of the pre-conditions you specified did not hold";
pub(crate) const MSG_CONDITIONAL_CONFLICT: &str =
    "A conflicting conditional action is currently in progress against this resource. Try again.";

/// What a read's conditions decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Answer the object.
    Proceed,
    /// `304 Not Modified`.
    NotModified,
    /// `412 PreconditionFailed`, naming the condition that failed.
    Failed(&'static str),
}

/// A read's conditions, as s3s parsed them.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ReadConditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

/// Seconds since the epoch of an s3s timestamp (HTTP dates have whole seconds).
fn epoch_secs(time: &Timestamp) -> Option<i64> {
    let mut text = Vec::new();
    time.format(TimestampFormat::EpochSeconds, &mut text).ok()?;
    let secs: f64 = std::str::from_utf8(&text).ok()?.parse().ok()?;
    Some(secs.floor() as i64)
}

/// Whether a condition names the object's ETag (unquoted); `*` names any object. Weak and
/// strong tags compare by value, as S3 compares them.
fn names(condition: &ETagCondition, etag: &str) -> bool {
    match condition {
        ETagCondition::Any => true,
        ETagCondition::ETag(tag) => tag.value().trim_matches('"') == etag.trim_matches('"'),
    }
}

impl ReadConditions<'_> {
    /// Judges the conditions against an object with this ETag and modification time.
    /// RFC 7232 §6: If-Match, else If-Unmodified-Since; then If-None-Match, else
    /// If-Modified-Since. So If-Match true with If-Unmodified-Since false is a 200, and
    /// If-None-Match false with If-Modified-Since true is a 304, as S3's GetObject documents.
    pub fn judge(&self, etag: &str, last_modified_ms: i64) -> Verdict {
        let modified_secs = last_modified_ms.div_euclid(1000);
        let modified_since = |t: &Timestamp| epoch_secs(t).is_none_or(|t| modified_secs > t);
        if let Some(condition) = self.if_match {
            if !names(condition, etag) {
                return Verdict::Failed("If-Match");
            }
        } else if let Some(time) = self.if_unmodified_since
            && modified_since(time)
        {
            return Verdict::Failed("If-Unmodified-Since");
        }
        if let Some(condition) = self.if_none_match {
            if names(condition, etag) {
                return Verdict::NotModified;
            }
        } else if let Some(time) = self.if_modified_since
            && !modified_since(time)
        {
            return Verdict::NotModified;
        }
        Verdict::Proceed
    }
}

/// `412 PreconditionFailed` naming the condition, as S3's `<Condition>` element does.
pub(crate) fn precondition_failed(condition: &str) -> S3Error {
    s3_error(
        S3ErrorCode::PreconditionFailed,
        MSG_PRECONDITION_FAILED,
        &vec![("Condition", condition.to_owned())],
    )
}

fn conflict() -> S3Error {
    s3_error(
        S3ErrorCode::ConditionalRequestConflict,
        MSG_CONDITIONAL_CONFLICT,
        &vec![],
    )
}

/// A write's conditions and the generation of the object it saw at the key when it began
/// (see [`ObjectMeta::generation`]).
#[derive(Debug, Default, Clone)]
pub(crate) struct WriteConditions {
    if_match: Option<ETagCondition>,
    if_none_match: bool,
    seen: Option<String>,
}

impl WriteConditions {
    /// The conditions of a PutObject or Complete. S3 takes only `*` in a write's
    /// If-None-Match; any other value asks for what it does not do: 501.
    pub fn new(
        if_match: Option<&ETagCondition>,
        if_none_match: Option<&ETagCondition>,
    ) -> S3Result<Self> {
        if if_none_match.is_some_and(|c| !c.is_any()) {
            return Err(s3_error(
                S3ErrorCode::NotImplemented,
                "A header you provided implies functionality that is not implemented",
                &vec![("Header", "If-None-Match".to_owned())],
            ));
        }
        Ok(Self {
            if_match: if_match.cloned(),
            if_none_match: if_none_match.is_some(),
            seen: None,
        })
    }

    /// The same conditions, for a writer that saw `seen` at the key when it began.
    pub fn seeing(mut self, seen: Option<String>) -> Self {
        self.seen = seen;
        self
    }

    pub fn is_empty(&self) -> bool {
        self.if_match.is_none() && !self.if_none_match
    }

    /// Judges the conditions against `current`, the object at `key` now. If-Match on no
    /// object is S3's `404 NoSuchKey`; a condition that fails against the object the writer
    /// saw is `412`; one that fails because another write or a delete committed since is
    /// `409 ConditionalRequestConflict`.
    pub fn check(&self, key: &str, current: Option<&ObjectMeta>) -> S3Result<()> {
        let changed = current.map(ObjectMeta::generation) != self.seen.as_deref();
        if let Some(condition) = &self.if_match {
            match current {
                _ if changed => return Err(conflict()),
                None => {
                    return Err(s3_error(
                        S3ErrorCode::NoSuchKey,
                        MSG_NO_SUCH_KEY,
                        &vec![("Key", key.to_owned())],
                    ));
                }
                Some(object) if !names(condition, &object.etag) => {
                    return Err(precondition_failed("If-Match"));
                }
                Some(_) => {}
            }
        }
        if self.if_none_match && current.is_some() {
            return Err(if changed {
                conflict()
            } else {
                precondition_failed("If-None-Match")
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Headers;

    fn at(secs: i64) -> Timestamp {
        Timestamp::parse(TimestampFormat::EpochSeconds, &secs.to_string()).unwrap()
    }

    fn tag(value: &str) -> ETagCondition {
        ETagCondition::ETag(s3s::dto::ETag::Strong(value.to_owned()))
    }

    #[test]
    fn read_conditions_follow_rfc_7232_order() {
        let (etag, modified) = ("abc", 1_000_500);
        let same = tag("abc");
        let other = tag("xyz");
        let (before, after) = (at(999), at(1_001));
        let judge = |c: ReadConditions<'_>| c.judge(etag, modified);
        let none = ReadConditions::default();
        assert_eq!(judge(none), Verdict::Proceed);
        let c = ReadConditions {
            if_match: Some(&other),
            ..none
        };
        assert_eq!(judge(c), Verdict::Failed("If-Match"));
        // If-Match true wins over If-Unmodified-Since false.
        let c = ReadConditions {
            if_match: Some(&same),
            if_unmodified_since: Some(&before),
            ..none
        };
        assert_eq!(judge(c), Verdict::Proceed);
        let c = ReadConditions {
            if_unmodified_since: Some(&before),
            ..none
        };
        assert_eq!(judge(c), Verdict::Failed("If-Unmodified-Since"));
        // Modified within the same second as the date: not modified since it.
        let c = ReadConditions {
            if_unmodified_since: Some(&at(1_000)),
            ..none
        };
        assert_eq!(judge(c), Verdict::Proceed);
        let c = ReadConditions {
            if_none_match: Some(&same),
            ..none
        };
        assert_eq!(judge(c), Verdict::NotModified);
        // If-None-Match false wins over If-Modified-Since true... and decides alone.
        let c = ReadConditions {
            if_none_match: Some(&same),
            if_modified_since: Some(&before),
            ..none
        };
        assert_eq!(judge(c), Verdict::NotModified);
        let c = ReadConditions {
            if_none_match: Some(&other),
            if_modified_since: Some(&after),
            ..none
        };
        assert_eq!(judge(c), Verdict::Proceed);
        let c = ReadConditions {
            if_modified_since: Some(&after),
            ..none
        };
        assert_eq!(judge(c), Verdict::NotModified);
        let c = ReadConditions {
            if_none_match: Some(&ETagCondition::Any),
            ..none
        };
        assert_eq!(judge(c), Verdict::NotModified);
    }

    fn object(generation: &str, etag: &str) -> ObjectMeta {
        ObjectMeta {
            key: "k".into(),
            size: 0,
            etag: format!("\"{etag}\""),
            last_modified_ms: 0,
            content_type: None,
            metadata: Default::default(),
            headers: Headers::default(),
            data: generation.into(),
            extents: Vec::new(),
            checksum: None,
            checksum_type: None,
            parts: None,
            upload_id: None,
            blob: None,
        }
    }

    fn code(result: S3Result<()>) -> String {
        result.unwrap_err().code().as_str().to_owned()
    }

    #[test]
    fn write_conditions_tell_a_failed_condition_from_a_conflict() {
        let a = object("a.data", "e1");
        let b = object("b.data", "e2");
        let any = ETagCondition::Any;
        let create = WriteConditions::new(None, Some(&any)).unwrap();
        assert!(create.check("k", None).is_ok());
        assert_eq!(
            code(create.check("k", Some(&a))),
            "ConditionalRequestConflict"
        );
        let create = create.seeing(Some("a.data".into()));
        assert_eq!(code(create.check("k", Some(&a))), "PreconditionFailed");
        assert!(create.check("k", None).is_ok());

        let e1 = tag("e1");
        let replace = WriteConditions::new(Some(&e1), None).unwrap();
        assert_eq!(code(replace.check("k", None)), "NoSuchKey");
        let replace = replace.seeing(Some("a.data".into()));
        assert!(replace.check("k", Some(&a)).is_ok());
        assert_eq!(
            code(replace.check("k", Some(&b))),
            "ConditionalRequestConflict"
        );
        assert_eq!(code(replace.check("k", None)), "ConditionalRequestConflict");
        let replace = WriteConditions::new(Some(&tag("e9")), None)
            .unwrap()
            .seeing(Some("a.data".into()));
        assert_eq!(code(replace.check("k", Some(&a))), "PreconditionFailed");

        assert_eq!(
            WriteConditions::new(None, Some(&e1)).unwrap_err().code(),
            &S3ErrorCode::NotImplemented
        );
        assert!(WriteConditions::default().is_empty());
    }
}
