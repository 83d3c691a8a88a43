//! CORS for the browser uploader: what `--fix` changes for an origin, and how a rule is
//! described in evidence. Which rule S3 applies and the merges themselves are hoist-core's
//! ([`hoist_core::s3::CorsConfiguration`]).

use hoist_core::s3::{CorsChange, CorsConfiguration, CorsRule};

use super::settings::CORS_RULE_ID;

/// `--fix`'s change for `origin`, as small as it can be on a bucket that is its owner's. The
/// rule S3 already applies to the origin's uploads is amended in place
/// ([`CorsConfiguration::amend_for_uploads`]: a rule added after it would never be reached).
/// Without one, hoist's upload rule ([`CorsRule::for_uploads`], id [`CORS_RULE_ID`]) is put
/// in with this origin added to those it had, by the merge `hoist serve` uses
/// ([`CorsConfiguration::ensure_rule`]). One change per line; none when nothing was needed.
pub fn fix(config: &mut CorsConfiguration, origin: &str) -> Vec<CorsChange> {
    if let Some(changes) = config.amend_for_uploads(origin) {
        return changes;
    }
    let mut origins = config
        .rule(CORS_RULE_ID)
        .map(|r| r.allowed_origins.clone())
        .unwrap_or_default();
    origins.push(origin.to_owned());
    config
        .ensure_rule(CorsRule::for_uploads(CORS_RULE_ID, origins))
        .into_iter()
        .collect()
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

    fn lines(changes: &[CorsChange]) -> Vec<String> {
        changes.iter().map(ToString::to_string).collect()
    }

    /// The rule S3 applies to the origin's PUT, if it lets the upload through and read ETag.
    fn uploads_from(config: &CorsConfiguration, origin: &str) -> Option<usize> {
        config
            .applied_to(origin, "PUT")
            .filter(|(_, r)| r.allows_header("content-type") && r.exposes("etag"))
            .map(|(i, _)| i)
    }

    #[test]
    fn no_configuration_gets_one_rule() {
        let mut config = CorsConfiguration::default();
        let changes = fix(&mut config, APP);
        assert_eq!(config.rules.len(), 1);
        assert_eq!(uploads_from(&config, APP), Some(0));
        assert_eq!(
            lines(&changes),
            [
                "CORS: added rule hoist-uploads (AllowedOrigin https://app.example.com; AllowedMethod GET, PUT, POST, DELETE, HEAD; AllowedHeader *; ExposeHeader ETag, Location; MaxAgeSeconds 3000), keeping the 0 existing rule(s)"
            ]
        );
        // What Uppy 6 sends straight to the store is admitted too.
        let added = &config.rules[0];
        for method in ["POST", "DELETE", "GET"] {
            assert!(added.admits(APP, method), "{method}");
        }
        assert!(added.exposes("location"));
    }

    #[test]
    fn a_rule_for_other_origins_is_kept_and_a_new_one_added() {
        let other = rule(&["https://other.example.com"], &["GET"], &[], &[]);
        let mut config = CorsConfiguration {
            rules: vec![other.clone()],
        };
        let changes = fix(&mut config, APP);
        assert_eq!(config.rules[0], other);
        assert_eq!(config.rules.len(), 2);
        assert_eq!(uploads_from(&config, APP), Some(1));
        assert!(lines(&changes)[0].contains("keeping the 1 existing rule(s)"));
    }

    #[test]
    fn the_matching_rule_is_amended_in_place() {
        let mut config = CorsConfiguration {
            rules: vec![CorsRule {
                id: Some("web".into()),
                ..rule(&["*"], &["GET", "PUT"], &[], &["x-amz-request-id"])
            }],
        };
        assert_eq!(
            uploads_from(&config, APP),
            None,
            "content-type is not allowed yet"
        );
        let changes = fix(&mut config, APP);
        assert_eq!(config.rules.len(), 1);
        let r = &config.rules[0];
        assert_eq!(r.allowed_headers, ["content-type"]);
        assert_eq!(r.expose_headers, ["x-amz-request-id", "ETag"]);
        assert_eq!(
            lines(&changes),
            [
                "CORS rule 1 (web): added AllowedHeader content-type",
                "CORS rule 1 (web): added ExposeHeader ETag"
            ]
        );
        // Fixing again changes nothing.
        let before = config.clone();
        assert!(fix(&mut config, APP).is_empty());
        assert_eq!(config, before);
    }

    #[test]
    fn a_second_origin_joins_the_rule_of_the_first() {
        let mut config = CorsConfiguration::default();
        fix(&mut config, APP);
        let changes = fix(&mut config, "https://admin.example.com");
        assert_eq!(config.rules.len(), 1, "{:?}", config.rules);
        assert_eq!(uploads_from(&config, APP), Some(0));
        assert_eq!(uploads_from(&config, "https://admin.example.com"), Some(0));
        assert!(
            lines(&changes)[0].starts_with(
                "CORS: replaced rule hoist-uploads (AllowedOrigin https://app.example.com, https://admin.example.com;"
            ),
            "{changes:?}"
        );
    }
}
