//! Bucket CORS configuration, both ways: XML from structs (PutBucketCors) and structs from
//! XML (GetBucketCors); which rule S3 applies to a browser's request; and the merges that
//! amend a bucket's rules for browser uploads, keeping every other rule.

use std::fmt;

use super::ResponseError;
use crate::xml::{self, XmlError};

/// The request header hoist.js sends with every PUT, so its preflight asks for it.
pub const UPLOAD_REQUEST_HEADERS: &[&str] = &["content-type"];

/// Whether an `AllowedOrigin` (or `AllowedHeader`) pattern, exact, `*` or with one `*`
/// wildcard, admits `value`; case-insensitive.
pub fn origin_matches(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern.eq_ignore_ascii_case(value),
        Some((prefix, suffix)) => {
            value.len() >= prefix.len() + suffix.len()
                && value
                    .get(..prefix.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
                && value
                    .get(value.len() - suffix.len()..)
                    .is_some_and(|s| s.eq_ignore_ascii_case(suffix))
        }
    }
}

/// A bucket's CORS rules.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CorsConfiguration {
    /// The rules, in order; the first that matches a request applies.
    pub rules: Vec<CorsRule>,
}

/// One CORS rule.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CorsRule {
    /// `<ID>`.
    pub id: Option<String>,
    /// Origins allowed (`*` or `https://app.example.com`, one `*` wildcard allowed).
    pub allowed_origins: Vec<String>,
    /// Methods allowed: GET, PUT, POST, DELETE, HEAD.
    pub allowed_methods: Vec<String>,
    /// Request headers a preflight may ask for (`*` for any).
    pub allowed_headers: Vec<String>,
    /// Response headers the browser may read; a multipart browser upload needs `ETag`.
    pub expose_headers: Vec<String>,
    /// How long a browser may cache the preflight.
    pub max_age_seconds: Option<u32>,
}

impl CorsRule {
    /// The rule browser uploads need from `origins`: hoist.js's PUTs, and what
    /// `@uppy/aws-s3` 6.x sends straight to the store (POST to create and complete, GET for
    /// ListParts, DELETE to abort), with `ETag` and `Location` readable. CORS grants nothing
    /// by itself: every request still needs a valid signature.
    pub fn for_uploads(id: &str, origins: Vec<String>) -> Self {
        Self {
            id: Some(id.to_owned()),
            allowed_origins: origins,
            allowed_methods: ["GET", "PUT", "POST", "DELETE", "HEAD"]
                .map(str::to_owned)
                .to_vec(),
            allowed_headers: vec!["*".to_owned()],
            expose_headers: vec!["ETag".to_owned(), "Location".to_owned()],
            max_age_seconds: Some(3000),
        }
    }

    /// Whether the rule lets a browser read response header `name` (case-insensitive).
    pub fn exposes(&self, name: &str) -> bool {
        self.expose_headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
    }

    /// Whether the rule admits `method` requests from `origin`.
    pub fn admits(&self, origin: &str, method: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|o| origin_matches(o, origin))
            && self
                .allowed_methods
                .iter()
                .any(|m| m.eq_ignore_ascii_case(method))
    }

    /// Whether a preflight may ask for request header `name`.
    pub fn allows_header(&self, name: &str) -> bool {
        self.allowed_headers
            .iter()
            .any(|h| h == "*" || origin_matches(h, name))
    }
}

/// One change a merge made to a bucket's CORS rules; shown as one line for people.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorsChange {
    /// `rule` was added last, in place of the rule with its id when `replaced`; `kept` other
    /// rules stay as they were.
    Added {
        /// The rule added.
        rule: CorsRule,
        /// A rule with the same id was taken out.
        replaced: bool,
        /// How many other rules were kept.
        kept: usize,
    },
    /// Rule `index` (from 0) now allows request header `header`.
    AllowedHeader {
        /// The rule's position.
        index: usize,
        /// The rule's id.
        id: Option<String>,
        /// The header added.
        header: String,
    },
    /// Rule `index` (from 0) now exposes response header `header`.
    ExposeHeader {
        /// The rule's position.
        index: usize,
        /// The rule's id.
        id: Option<String>,
        /// The header added.
        header: String,
    },
}

impl fmt::Display for CorsChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |index: &usize, id: &Option<String>| match id {
            Some(id) => format!("rule {} ({id})", index + 1),
            None => format!("rule {}", index + 1),
        };
        match self {
            CorsChange::Added {
                rule,
                replaced,
                kept,
            } => {
                let verb = if *replaced { "replaced" } else { "added" };
                let id = rule.id.as_deref().unwrap_or("without id");
                write!(
                    f,
                    "CORS: {verb} rule {id} (AllowedOrigin {}; AllowedMethod {}; AllowedHeader {}; ExposeHeader {}",
                    rule.allowed_origins.join(", "),
                    rule.allowed_methods.join(", "),
                    rule.allowed_headers.join(", "),
                    rule.expose_headers.join(", "),
                )?;
                if let Some(age) = rule.max_age_seconds {
                    write!(f, "; MaxAgeSeconds {age}")?;
                }
                write!(f, "), keeping the {kept} existing rule(s)")
            }
            CorsChange::AllowedHeader { index, id, header } => {
                write!(f, "CORS {}: added AllowedHeader {header}", name(index, id))
            }
            CorsChange::ExposeHeader { index, id, header } => {
                write!(f, "CORS {}: added ExposeHeader {header}", name(index, id))
            }
        }
    }
}

impl CorsConfiguration {
    /// The rule S3 applies to `method` requests from `origin`: the first that admits both
    /// (S3 looks no further, so a later rule for the same origin is never reached).
    pub fn applied_to(&self, origin: &str, method: &str) -> Option<(usize, &CorsRule)> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.admits(origin, method))
    }

    /// The rule with id `id`.
    pub fn rule(&self, id: &str) -> Option<&CorsRule> {
        self.rules.iter().find(|r| r.id.as_deref() == Some(id))
    }

    /// Puts `rule` in the rules, in place of a rule with the same id, keeping the others.
    /// `None` when it is there already.
    pub fn ensure_rule(&mut self, rule: CorsRule) -> Option<CorsChange> {
        if self.rules.contains(&rule) {
            return None;
        }
        let before = self.rules.len();
        self.rules.retain(|r| r.id.is_none() || r.id != rule.id);
        let kept = self.rules.len();
        self.rules.push(rule.clone());
        Some(CorsChange::Added {
            rule,
            replaced: kept < before,
            kept,
        })
    }

    /// Lets browsers on `origin` upload through the rule S3 already applies to their PUTs,
    /// amended in place to allow [`UPLOAD_REQUEST_HEADERS`] and expose `ETag` (a rule added
    /// after it would never be reached). `None` when no rule admits their PUTs; no changes
    /// when the rule already does all that.
    pub fn amend_for_uploads(&mut self, origin: &str) -> Option<Vec<CorsChange>> {
        let (index, _) = self.applied_to(origin, "PUT")?;
        let rule = &mut self.rules[index];
        let mut changes = Vec::new();
        for header in UPLOAD_REQUEST_HEADERS {
            if !rule.allows_header(header) {
                rule.allowed_headers.push((*header).to_owned());
                changes.push(CorsChange::AllowedHeader {
                    index,
                    id: rule.id.clone(),
                    header: (*header).to_owned(),
                });
            }
        }
        if !rule.exposes("ETag") {
            rule.expose_headers.push("ETag".to_owned());
            changes.push(CorsChange::ExposeHeader {
                index,
                id: rule.id.clone(),
                header: "ETag".to_owned(),
            });
        }
        Some(changes)
    }

    /// The XML body of PutBucketCors.
    pub fn to_xml(&self) -> String {
        let mut out =
            String::from("<CORSConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
        for r in &self.rules {
            out.push_str("<CORSRule>");
            if let Some(id) = &r.id {
                xml::push_leaf(&mut out, "ID", id);
            }
            for (name, values) in [
                ("AllowedOrigin", &r.allowed_origins),
                ("AllowedMethod", &r.allowed_methods),
                ("AllowedHeader", &r.allowed_headers),
                ("ExposeHeader", &r.expose_headers),
            ] {
                for v in values {
                    xml::push_leaf(&mut out, name, v);
                }
            }
            if let Some(age) = r.max_age_seconds {
                xml::push_leaf(&mut out, "MaxAgeSeconds", &age.to_string());
            }
            out.push_str("</CORSRule>");
        }
        out.push_str("</CORSConfiguration>");
        out
    }

    /// Parses a `<CORSConfiguration>` document.
    pub fn parse(body: &[u8]) -> Result<Self, XmlError> {
        let root = xml::parse_root(body, "CORSConfiguration")?;
        let rules = root
            .children_named("CORSRule")
            .map(|r| {
                let all = |name: &str| {
                    r.children_named(name)
                        .map(|c| c.text.trim().to_owned())
                        .collect::<Vec<_>>()
                };
                Ok(CorsRule {
                    id: r.text_of("ID").map(str::to_owned),
                    allowed_origins: all("AllowedOrigin"),
                    allowed_methods: all("AllowedMethod"),
                    allowed_headers: all("AllowedHeader"),
                    expose_headers: all("ExposeHeader"),
                    max_age_seconds: r.number("MaxAgeSeconds")?,
                })
            })
            .collect::<Result<Vec<_>, XmlError>>()?;
        Ok(CorsConfiguration { rules })
    }

    /// Parses the GetBucketCors answer (404 NoSuchCORSConfiguration is an error; callers that
    /// treat it as "no rules" match on the code).
    pub fn from_response(status: u16, body: &[u8]) -> Result<Self, ResponseError> {
        super::check_status(status, body)?;
        Ok(Self::parse(body)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_the_seed_rules() {
        let config = CorsConfiguration {
            rules: vec![CorsRule {
                id: None,
                allowed_origins: vec!["https://app.example.com".into()],
                allowed_methods: vec!["GET".into(), "PUT".into(), "POST".into()],
                allowed_headers: vec!["*".into()],
                expose_headers: vec!["ETag".into()],
                max_age_seconds: Some(3000),
            }],
        };
        let xml = config.to_xml();
        assert!(xml.contains("<CORSRule><AllowedOrigin>https://app.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"));
        assert_eq!(CorsConfiguration::parse(xml.as_bytes()).unwrap(), config);
        assert!(config.rules[0].exposes("etag"));
        assert!(CorsConfiguration::parse(b"<CORSConfiguration><CORSRule><MaxAgeSeconds>-1</MaxAgeSeconds></CORSRule></CORSConfiguration>").is_err());
        let none = CorsConfiguration::from_response(
            404,
            b"<Error><Code>NoSuchCORSConfiguration</Code></Error>",
        );
        assert!(matches!(none, Err(ResponseError::S3(_))));
    }

    const APP: &str = "https://app.example.com";

    fn rule(id: &str, origins: &[&str], methods: &[&str], expose: &[&str]) -> CorsRule {
        let v = |x: &[&str]| x.iter().map(|s| (*s).to_owned()).collect();
        CorsRule {
            id: (!id.is_empty()).then(|| id.to_owned()),
            allowed_origins: v(origins),
            allowed_methods: v(methods),
            expose_headers: v(expose),
            ..Default::default()
        }
    }

    #[test]
    fn origin_patterns() {
        assert!(origin_matches("*", APP));
        assert!(origin_matches("https://*.example.com", APP));
        assert!(origin_matches("HTTPS://APP.example.com", APP));
        assert!(!origin_matches("https://*.example.org", APP));
        assert!(!origin_matches("https://other.example.com", APP));
        assert!(!origin_matches("https://app.example.com*x", APP));
        assert!(!origin_matches("é*", "e"), "no panic inside a character");
        assert!(origin_matches("x-amz-*", "X-Amz-Date"));
    }

    #[test]
    fn a_rule_is_replaced_by_id_and_the_others_kept() {
        let other = rule("other", &["https://b.example"], &["GET"], &[]);
        let mut config = CorsConfiguration {
            rules: vec![rule("page", &[APP], &["PUT"], &[]), other.clone()],
        };
        let page = CorsRule::for_uploads("page", vec![APP.to_owned()]);
        let change = config.ensure_rule(page.clone()).unwrap();
        assert_eq!(config.rules, [other.clone(), page.clone()]);
        assert_eq!(
            change.to_string(),
            "CORS: replaced rule page (AllowedOrigin https://app.example.com; AllowedMethod GET, PUT, POST, DELETE, HEAD; AllowedHeader *; ExposeHeader ETag, Location; MaxAgeSeconds 3000), keeping the 1 existing rule(s)"
        );
        assert_eq!(config.ensure_rule(page.clone()), None, "already there");
        let mut empty = CorsConfiguration::default();
        let added = empty.ensure_rule(page).unwrap();
        assert!(matches!(
            added,
            CorsChange::Added {
                replaced: false,
                kept: 0,
                ..
            }
        ));
        assert!(added.to_string().starts_with("CORS: added rule page ("));
    }

    #[test]
    fn the_rule_s3_applies_is_amended_in_place() {
        let mut config = CorsConfiguration {
            rules: vec![
                rule("", &["https://other.example"], &["PUT"], &[]),
                rule("web", &["*"], &["GET", "PUT"], &["x-amz-request-id"]),
                rule("later", &[APP], &["PUT"], &["ETag"]),
            ],
        };
        assert_eq!(config.applied_to(APP, "put").map(|(i, _)| i), Some(1));
        assert_eq!(config.applied_to(APP, "DELETE"), None);
        let changes = config.amend_for_uploads(APP).unwrap();
        let lines: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "CORS rule 2 (web): added AllowedHeader content-type",
                "CORS rule 2 (web): added ExposeHeader ETag"
            ]
        );
        let web = &config.rules[1];
        assert!(web.allows_header("Content-Type") && web.exposes("etag"));
        assert_eq!(web.expose_headers, ["x-amz-request-id", "ETag"]);
        assert_eq!(config.amend_for_uploads(APP), Some(vec![]), "nothing more");
        let mut none = CorsConfiguration {
            rules: vec![rule("", &[APP], &["GET"], &[])],
        };
        assert_eq!(none.amend_for_uploads(APP), None, "no rule admits the PUT");
        assert_eq!(
            CorsChange::ExposeHeader {
                index: 0,
                id: None,
                header: "ETag".into()
            }
            .to_string(),
            "CORS rule 1: added ExposeHeader ETag"
        );
    }
}
