//! Bucket lifecycle configuration, both ways. hoist cares about one rule,
//! `AbortIncompleteMultipartUpload`, which stops orphaned parts from being billed forever;
//! elements it does not model (transitions, tag filters…) are kept verbatim so that reading a
//! configuration, adding that rule and writing it back loses nothing.

use std::fmt;

use super::ResponseError;
use crate::xml::{self, XmlElement, XmlError};

/// A bucket's lifecycle rules.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LifecycleConfiguration {
    /// The rules.
    pub rules: Vec<LifecycleRule>,
}

/// Which objects a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LifecycleFilter {
    /// Every object (`<Filter></Filter>`).
    #[default]
    All,
    /// Keys with this prefix (`<Filter><Prefix>…</Prefix></Filter>`).
    Prefix(String),
    /// The older rule-level `<Prefix>…</Prefix>` form.
    LegacyPrefix(String),
    /// Any other `<Filter>` (tags, `And`, object sizes), kept as it was read.
    Other(XmlElement),
}

/// One lifecycle rule.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LifecycleRule {
    /// `<ID>`.
    pub id: Option<String>,
    /// `<Status>Enabled</Status>` or `Disabled`.
    pub enabled: bool,
    /// Which objects it covers.
    pub filter: LifecycleFilter,
    /// `<AbortIncompleteMultipartUpload><DaysAfterInitiation>N…`: abort uploads older than N days.
    pub abort_incomplete_multipart_upload_days: Option<u32>,
    /// `<Expiration><Days>N</Days></Expiration>`: delete objects N days old.
    pub expiration_days: Option<u32>,
    /// Every other element of the rule, kept verbatim and in order.
    pub other: Vec<XmlElement>,
}

impl LifecycleRule {
    /// An enabled rule for every object that aborts uploads `days` after they start.
    pub fn abort_incomplete_uploads(id: impl Into<String>, days: u32) -> Self {
        LifecycleRule {
            id: Some(id.into()),
            enabled: true,
            abort_incomplete_multipart_upload_days: Some(days),
            ..Default::default()
        }
    }

    /// Whether this rule aborts incomplete uploads of every object (enabled, no narrowing filter).
    pub fn aborts_all_incomplete_uploads(&self) -> bool {
        self.enabled
            && self.abort_incomplete_multipart_upload_days.is_some()
            && match &self.filter {
                LifecycleFilter::All => true,
                LifecycleFilter::Prefix(p) | LifecycleFilter::LegacyPrefix(p) => p.is_empty(),
                LifecycleFilter::Other(_) => false,
            }
    }
}

/// The rule [`LifecycleConfiguration::ensure_abort_rule`] added; shown as one line for people.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LifecycleChange {
    /// The new rule's id.
    pub id: String,
    /// After how many days it aborts an incomplete upload.
    pub days: u32,
    /// How many rules were there before, all kept.
    pub kept: usize,
}

impl fmt::Display for LifecycleChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lifecycle: added rule {} (every key, AbortIncompleteMultipartUpload after {} day(s)), keeping the {} existing rule(s)",
            self.id, self.days, self.kept
        )
    }
}

impl LifecycleConfiguration {
    /// The first enabled rule that aborts incomplete uploads of every object, if any.
    pub fn abort_rule(&self) -> Option<&LifecycleRule> {
        self.rules
            .iter()
            .find(|r| r.aborts_all_incomplete_uploads())
    }

    /// Makes sure incomplete multipart uploads of every key are aborted, so what a crash
    /// leaves is not kept (and billed) forever: a rule that already does so is kept (`None`);
    /// otherwise one with id `id` aborting them `days` after they start is added last, and
    /// the other rules kept.
    pub fn ensure_abort_rule(&mut self, id: &str, days: u32) -> Option<LifecycleChange> {
        if self.abort_rule().is_some() {
            return None;
        }
        let kept = self.rules.len();
        self.rules
            .push(LifecycleRule::abort_incomplete_uploads(id, days));
        Some(LifecycleChange {
            id: id.to_owned(),
            days,
            kept,
        })
    }

    /// The XML body of PutBucketLifecycleConfiguration.
    pub fn to_xml(&self) -> String {
        let mut out = String::from(
            "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
        );
        for r in &self.rules {
            out.push_str("<Rule>");
            if let Some(id) = &r.id {
                xml::push_leaf(&mut out, "ID", id);
            }
            match &r.filter {
                LifecycleFilter::All => out.push_str("<Filter></Filter>"),
                LifecycleFilter::Prefix(p) => {
                    out.push_str("<Filter>");
                    xml::push_leaf(&mut out, "Prefix", p);
                    out.push_str("</Filter>");
                }
                LifecycleFilter::LegacyPrefix(p) => xml::push_leaf(&mut out, "Prefix", p),
                LifecycleFilter::Other(el) => el.write_to(&mut out),
            }
            xml::push_leaf(
                &mut out,
                "Status",
                if r.enabled { "Enabled" } else { "Disabled" },
            );
            if let Some(days) = r.expiration_days {
                out.push_str("<Expiration>");
                xml::push_leaf(&mut out, "Days", &days.to_string());
                out.push_str("</Expiration>");
            }
            for el in &r.other {
                el.write_to(&mut out);
            }
            if let Some(days) = r.abort_incomplete_multipart_upload_days {
                out.push_str("<AbortIncompleteMultipartUpload>");
                xml::push_leaf(&mut out, "DaysAfterInitiation", &days.to_string());
                out.push_str("</AbortIncompleteMultipartUpload>");
            }
            out.push_str("</Rule>");
        }
        out.push_str("</LifecycleConfiguration>");
        out
    }

    /// Parses a `<LifecycleConfiguration>` document.
    pub fn parse(body: &[u8]) -> Result<Self, XmlError> {
        let root = xml::parse_root(body, "LifecycleConfiguration")?;
        let rules = root
            .children_named("Rule")
            .map(parse_rule)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LifecycleConfiguration { rules })
    }

    /// Parses the GetBucketLifecycleConfiguration answer (404 NoSuchLifecycleConfiguration is
    /// an error; callers that treat it as "no rules" match on the code).
    pub fn from_response(status: u16, body: &[u8]) -> Result<Self, ResponseError> {
        super::check_status(status, body)?;
        Ok(Self::parse(body)?)
    }
}

fn parse_rule(el: &XmlElement) -> Result<LifecycleRule, XmlError> {
    let mut rule = LifecycleRule::default();
    let mut status_seen = false;
    for c in &el.children {
        match c.name.as_str() {
            "ID" => rule.id = Some(c.text.clone()),
            "Status" => {
                status_seen = true;
                rule.enabled = match c.text.trim() {
                    "Enabled" => true,
                    "Disabled" => false,
                    v => {
                        return Err(XmlError::Invalid {
                            name: "Status",
                            value: v.to_owned(),
                            expected: "Enabled or Disabled",
                        });
                    }
                };
            }
            "Prefix" => rule.filter = LifecycleFilter::LegacyPrefix(c.text.clone()),
            "Filter" => {
                rule.filter = match c.children.as_slice() {
                    [] => LifecycleFilter::All,
                    [p] if p.name == "Prefix" && p.children.is_empty() => {
                        LifecycleFilter::Prefix(p.text.clone())
                    }
                    _ => LifecycleFilter::Other(c.clone()),
                }
            }
            "AbortIncompleteMultipartUpload" => {
                rule.abort_incomplete_multipart_upload_days =
                    Some(c.number("DaysAfterInitiation")?.ok_or(XmlError::Missing {
                        parent: "AbortIncompleteMultipartUpload".into(),
                        name: "DaysAfterInitiation",
                    })?)
            }
            "Expiration" if c.children.len() == 1 && c.child("Days").is_some() => {
                rule.expiration_days = c.number("Days")?
            }
            _ => rule.other.push(c.clone()),
        }
    }
    if !status_seen {
        return Err(XmlError::Missing {
            parent: "Rule".into(),
            name: "Status",
        });
    }
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_it_does_not_model() {
        let body = br#"<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Rule><ID>archive</ID><Filter><And><Prefix>logs/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></And></Filter>
    <Status>Enabled</Status><Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition></Rule>
  <Rule><ID>tmp</ID><Prefix>tmp/</Prefix><Status>Disabled</Status><Expiration><Days>1</Days></Expiration></Rule>
</LifecycleConfiguration>"#;
        let mut config = LifecycleConfiguration::parse(body).unwrap();
        assert_eq!(config.rules.len(), 2);
        assert!(matches!(config.rules[0].filter, LifecycleFilter::Other(_)));
        assert_eq!(config.rules[0].other[0].name, "Transition");
        assert_eq!(
            config.rules[1].filter,
            LifecycleFilter::LegacyPrefix("tmp/".into())
        );
        assert_eq!(config.rules[1].expiration_days, Some(1));
        assert!(config.abort_rule().is_none());

        config.rules.push(LifecycleRule::abort_incomplete_uploads(
            "hoist-abort-incomplete",
            7,
        ));
        let xml = config.to_xml();
        let again = LifecycleConfiguration::parse(xml.as_bytes()).unwrap();
        assert_eq!(again, config);
        assert_eq!(
            again
                .abort_rule()
                .unwrap()
                .abort_incomplete_multipart_upload_days,
            Some(7)
        );
        assert!(xml.contains("<Filter></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation>"));
    }

    #[test]
    fn rejects_bad_rules() {
        assert!(
            LifecycleConfiguration::parse(
                b"<LifecycleConfiguration><Rule><ID>x</ID></Rule></LifecycleConfiguration>"
            )
            .is_err()
        );
        assert!(LifecycleConfiguration::parse(b"<LifecycleConfiguration><Rule><Status>On</Status></Rule></LifecycleConfiguration>").is_err());
        let no_days = b"<LifecycleConfiguration><Rule><Status>Enabled</Status><AbortIncompleteMultipartUpload/></Rule></LifecycleConfiguration>";
        assert!(matches!(
            LifecycleConfiguration::parse(no_days),
            Err(XmlError::Missing { .. })
        ));
    }

    #[test]
    fn the_abort_rule_is_added_once_and_others_are_kept() {
        let mut config = LifecycleConfiguration::default();
        let line = config.ensure_abort_rule("abort", 1).unwrap().to_string();
        assert_eq!(
            line,
            "lifecycle: added rule abort (every key, AbortIncompleteMultipartUpload after 1 day(s)), keeping the 0 existing rule(s)"
        );
        assert!(config.abort_rule().is_some());
        assert_eq!(config.ensure_abort_rule("abort", 1), None);

        let narrow = LifecycleRule {
            filter: LifecycleFilter::Prefix("tmp/".into()),
            ..LifecycleRule::abort_incomplete_uploads("tmp", 3)
        };
        let expire = LifecycleRule {
            id: Some("logs".into()),
            enabled: true,
            expiration_days: Some(30),
            ..Default::default()
        };
        let mut config = LifecycleConfiguration {
            rules: vec![narrow.clone(), expire.clone()],
        };
        let change = config.ensure_abort_rule("abort", 2).unwrap();
        assert_eq!(change.kept, 2);
        assert_eq!(&config.rules[..2], &[narrow, expire]);
        assert_eq!(
            config.rules[2].abort_incomplete_multipart_upload_days,
            Some(2)
        );
    }
}
