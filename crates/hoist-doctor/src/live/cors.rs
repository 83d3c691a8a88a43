//! CORS for the browser uploader: the rule hoist.js needs, checked with a real preflight and a
//! real cross-origin PUT, and merged into the bucket's rules by `--fix`.

use hoist_core::s3::{CorsConfiguration, CorsRule};

/// The request header hoist.js sends with every PUT, so the preflight asks for it.
pub const UPLOAD_HEADERS: &[&str] = &["content-type"];

/// Whether an `AllowedOrigin` pattern (exact, `*`, or with one `*` wildcard) admits `origin`.
pub fn origin_matches(pattern: &str, origin: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern.eq_ignore_ascii_case(origin),
        Some((prefix, suffix)) => {
            origin.len() >= prefix.len() + suffix.len()
                && origin[..prefix.len()].eq_ignore_ascii_case(prefix)
                && origin[origin.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
        }
    }
}

fn allows_header(rule: &CorsRule, header: &str) -> bool {
    rule.allowed_headers
        .iter()
        .any(|h| h == "*" || origin_matches(h, header))
}

/// The first rule S3 would apply to the PUT hoist.js sends from `origin`.
pub fn matching_rule<'a>(
    config: &'a CorsConfiguration,
    origin: &str,
) -> Option<(usize, &'a CorsRule)> {
    config.rules.iter().enumerate().find(|(_, r)| {
        r.allowed_origins.iter().any(|o| origin_matches(o, origin))
            && r.allowed_methods
                .iter()
                .any(|m| m.eq_ignore_ascii_case("PUT"))
            && UPLOAD_HEADERS.iter().all(|h| allows_header(r, h))
    })
}

/// `config` (or no configuration) amended so that `origin` may PUT with hoist.js's headers
/// and read ETag, keeping every existing rule. Returns the new configuration and one line
/// per change; no lines when nothing was needed.
pub fn merge(config: Option<&CorsConfiguration>, origin: &str) -> (CorsConfiguration, Vec<String>) {
    let mut config = config.cloned().unwrap_or_default();
    let mut changes = Vec::new();
    // A rule that already admits the origin and PUT is the one S3 will pick, so it is amended
    // in place; a rule added after it would never be reached.
    let candidate = config.rules.iter().position(|r| {
        r.allowed_origins.iter().any(|o| origin_matches(o, origin))
            && r.allowed_methods
                .iter()
                .any(|m| m.eq_ignore_ascii_case("PUT"))
    });
    match candidate {
        Some(i) => {
            let rule = &mut config.rules[i];
            let name = rule_name(i, rule);
            for header in UPLOAD_HEADERS {
                if !allows_header(rule, header) {
                    rule.allowed_headers.push((*header).to_owned());
                    changes.push(format!("CORS {name}: added AllowedHeader {header}"));
                }
            }
            if !rule.exposes("ETag") {
                rule.expose_headers.push("ETag".to_owned());
                changes.push(format!("CORS {name}: added ExposeHeader ETag"));
            }
        }
        None => {
            let rule = CorsRule::for_uploads("hoist-uploads", vec![origin.to_owned()]);
            let kept = config.rules.len();
            changes.push(format!(
                "CORS: added rule hoist-uploads (AllowedOrigin {origin}; AllowedMethod {}; AllowedHeader {}; ExposeHeader {}; MaxAgeSeconds {}), keeping the {kept} existing rule(s)",
                rule.allowed_methods.join(", "),
                rule.allowed_headers.join(", "),
                rule.expose_headers.join(", "),
                rule.max_age_seconds.unwrap_or_default(),
            ));
            config.rules.push(rule);
        }
    }
    (config, changes)
}

fn rule_name(index: usize, rule: &CorsRule) -> String {
    match &rule.id {
        Some(id) => format!("rule {} ({id})", index + 1),
        None => format!("rule {}", index + 1),
    }
}

/// Describes a rule in one line, for evidence.
pub fn describe(rule: &CorsRule) -> String {
    format!(
        "origins {}; methods {}; headers {}; exposes {}",
        rule.allowed_origins.join(", "),
        rule.allowed_methods.join(", "),
        if rule.allowed_headers.is_empty() {
            "none".to_owned()
        } else {
            rule.allowed_headers.join(", ")
        },
        if rule.expose_headers.is_empty() {
            "nothing".to_owned()
        } else {
            rule.expose_headers.join(", ")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "https://app.example.com";

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str], expose: &[&str]) -> CorsRule {
        let v = |x: &[&str]| x.iter().map(|s| (*s).to_owned()).collect();
        CorsRule {
            allowed_origins: v(origins),
            allowed_methods: v(methods),
            allowed_headers: v(headers),
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
    }

    #[test]
    fn no_configuration_gets_one_rule() {
        let (config, changes) = merge(None, APP);
        assert_eq!(config.rules.len(), 1);
        assert_eq!(
            matching_rule(&config, APP).map(|(i, r)| (i, r.exposes("etag"))),
            Some((0, true))
        );
        assert_eq!(changes.len(), 1);
        assert_eq!(
            changes[0],
            "CORS: added rule hoist-uploads (AllowedOrigin https://app.example.com; AllowedMethod GET, PUT, POST, DELETE, HEAD; AllowedHeader *; ExposeHeader ETag, Location; MaxAgeSeconds 3000), keeping the 0 existing rule(s)"
        );
        // What Uppy 6 sends straight to the store is admitted too.
        let added = &config.rules[0];
        for method in ["POST", "DELETE", "GET"] {
            assert!(
                added.allowed_methods.iter().any(|m| m == method),
                "{method}"
            );
        }
        assert!(added.exposes("location"));
    }

    #[test]
    fn a_rule_for_other_origins_is_kept_and_a_new_one_added() {
        let other = rule(&["https://other.example.com"], &["GET"], &[], &[]);
        let existing = CorsConfiguration {
            rules: vec![other.clone()],
        };
        let (config, changes) = merge(Some(&existing), APP);
        assert_eq!(config.rules[0], other);
        assert_eq!(config.rules.len(), 2);
        assert_eq!(matching_rule(&config, APP).map(|(i, _)| i), Some(1));
        assert!(changes[0].contains("keeping the 1 existing rule(s)"));
    }

    #[test]
    fn the_matching_rule_is_amended_in_place() {
        let existing = CorsConfiguration {
            rules: vec![CorsRule {
                id: Some("web".into()),
                ..rule(&["*"], &["GET", "PUT"], &[], &["x-amz-request-id"])
            }],
        };
        assert_eq!(
            matching_rule(&existing, APP),
            None,
            "content-type is not allowed yet"
        );
        let (config, changes) = merge(Some(&existing), APP);
        assert_eq!(config.rules.len(), 1);
        let r = &config.rules[0];
        assert_eq!(r.allowed_headers, ["content-type"]);
        assert_eq!(r.expose_headers, ["x-amz-request-id", "ETag"]);
        assert_eq!(
            changes,
            [
                "CORS rule 1 (web): added AllowedHeader content-type",
                "CORS rule 1 (web): added ExposeHeader ETag"
            ]
        );
        // Merging again changes nothing.
        let (again, changes) = merge(Some(&config), APP);
        assert_eq!((again, changes.len()), (config, 0));
    }
}
