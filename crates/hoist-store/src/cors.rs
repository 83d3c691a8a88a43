//! Bucket CORS, evaluated as S3 evaluates it: the first rule that allows the origin, the
//! method and every requested header wins.

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::errors::{ErrorAnswer, MSG_CORS};

/// One stored CORS rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CorsRule {
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<i32>,
}

impl CorsRule {
    pub fn from_dto(rule: s3s::dto::CORSRule) -> Self {
        Self {
            id: rule.id,
            allowed_origins: rule.allowed_origins,
            allowed_methods: rule.allowed_methods,
            allowed_headers: rule.allowed_headers.unwrap_or_default(),
            expose_headers: rule.expose_headers.unwrap_or_default(),
            max_age_seconds: rule.max_age_seconds,
        }
    }

    pub fn to_dto(&self) -> s3s::dto::CORSRule {
        s3s::dto::CORSRule {
            id: self.id.clone(),
            allowed_origins: self.allowed_origins.clone(),
            allowed_methods: self.allowed_methods.clone(),
            allowed_headers: (!self.allowed_headers.is_empty())
                .then(|| self.allowed_headers.clone()),
            expose_headers: (!self.expose_headers.is_empty()).then(|| self.expose_headers.clone()),
            max_age_seconds: self.max_age_seconds,
        }
    }

    fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|pattern| wildcard_match(pattern, origin))
    }

    fn allows_method(&self, method: &str) -> bool {
        self.allowed_methods
            .iter()
            .any(|m| m.eq_ignore_ascii_case(method))
    }

    fn allows_header(&self, header: &str) -> bool {
        let header = header.to_ascii_lowercase();
        self.allowed_headers
            .iter()
            .any(|pattern| wildcard_match(&pattern.to_ascii_lowercase(), &header))
    }

    fn origin_is_any(&self) -> bool {
        self.allowed_origins.iter().any(|o| o == "*")
    }
}

/// Checks a rule set S3 would refuse at PutBucketCors.
pub(crate) fn validate(rules: &[CorsRule]) -> Result<(), String> {
    if rules.is_empty() || rules.len() > 100 {
        return Err("a CORS configuration holds 1 to 100 rules".into());
    }
    for rule in rules {
        if rule.allowed_origins.is_empty() || rule.allowed_methods.is_empty() {
            return Err("each CORS rule needs AllowedOrigin and AllowedMethod".into());
        }
        for method in &rule.allowed_methods {
            if !["GET", "PUT", "POST", "DELETE", "HEAD"].contains(&method.as_str()) {
                return Err(format!(
                    "Found unsupported HTTP method in CORS config. Unsupported method is {method}"
                ));
            }
        }
        for pattern in rule.allowed_origins.iter().chain(&rule.allowed_headers) {
            if pattern.matches('*').count() > 1 {
                return Err(format!(
                    "AllowedOrigin/AllowedHeader \"{pattern}\" can not have more than one wildcard."
                ));
            }
        }
    }
    Ok(())
}

/// `*` matches any run of characters; at most one `*` per pattern, as S3 allows.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((prefix, suffix)) => {
            text.len() >= prefix.len() + suffix.len()
                && text.starts_with(prefix)
                && text.ends_with(suffix)
        }
    }
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

/// The answer to a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`).
pub(crate) fn preflight(
    rules: Option<&[CorsRule]>,
    origin: Option<&str>,
    request_method: Option<&str>,
    request_headers: Option<&str>,
    is_object: bool,
) -> Result<HeaderMap, ErrorAnswer> {
    let Some(origin) = origin else {
        return Err(ErrorAnswer::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Insufficient information. Origin request header needed.",
        ));
    };
    let Some(method) = request_method else {
        return Err(ErrorAnswer::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Invalid Access-Control-Request-Method: null",
        ));
    };
    let requested: Vec<String> = request_headers
        .unwrap_or("")
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    let rule = rules.unwrap_or_default().iter().find(|rule| {
        rule.allows_origin(origin)
            && rule.allows_method(method)
            && requested.iter().all(|h| rule.allows_header(h))
    });
    let Some(rule) = rule else {
        return Err(
            ErrorAnswer::new(StatusCode::FORBIDDEN, "AccessForbidden", MSG_CORS)
                .extra("Method", method)
                .extra("ResourceType", if is_object { "OBJECT" } else { "BUCKET" }),
        );
    };
    let mut headers = HeaderMap::new();
    allow(&mut headers, rule, origin);
    if !requested.is_empty() {
        set(
            &mut headers,
            "access-control-allow-headers",
            &requested.join(", "),
        );
    }
    Ok(headers)
}

fn allow(headers: &mut HeaderMap, rule: &CorsRule, origin: &str) {
    let any = rule.origin_is_any();
    set(
        headers,
        "access-control-allow-origin",
        if any { "*" } else { origin },
    );
    set(
        headers,
        "access-control-allow-methods",
        &rule.allowed_methods.join(", "),
    );
    if !rule.expose_headers.is_empty() {
        set(
            headers,
            "access-control-expose-headers",
            &rule.expose_headers.join(", "),
        );
    }
    if let Some(age) = rule.max_age_seconds {
        set(headers, "access-control-max-age", &age.to_string());
    }
    if !any {
        set(headers, "access-control-allow-credentials", "true");
    }
    set(headers, "vary", VARY);
}

/// CORS headers for an actual (non-preflight) cross-origin request; empty when no rule
/// matches, so the request still succeeds but the browser hides the answer.
pub(crate) fn actual(rules: &[CorsRule], origin: &str, method: &Method) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(rule) = rules
        .iter()
        .find(|rule| rule.allows_origin(origin) && rule.allows_method(method.as_str()))
    {
        allow(&mut headers, rule, origin);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Vec<CorsRule> {
        vec![CorsRule {
            id: None,
            allowed_origins: vec!["https://app.example.com".into()],
            allowed_methods: vec!["GET".into(), "PUT".into(), "POST".into()],
            allowed_headers: vec!["*".into()],
            expose_headers: vec!["ETag".into()],
            max_age_seconds: Some(3000),
        }]
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", "https://x"));
        assert!(wildcard_match(
            "https://*.example.com",
            "https://a.example.com"
        ));
        assert!(!wildcard_match(
            "https://*.example.com",
            "https://example.org"
        ));
        assert!(wildcard_match("x-amz-*", "x-amz-date"));
    }

    #[test]
    fn seed_rules() {
        let rules = seed();
        let ok = preflight(
            Some(&rules),
            Some("https://app.example.com"),
            Some("PUT"),
            Some("Content-Type, x-amz-date"),
            true,
        )
        .unwrap();
        assert_eq!(ok["access-control-allow-origin"], "https://app.example.com");
        assert_eq!(
            ok["access-control-allow-headers"],
            "content-type, x-amz-date"
        );
        assert_eq!(ok["access-control-allow-credentials"], "true");
        assert_eq!(ok["access-control-max-age"], "3000");
        let denied = preflight(
            Some(&rules),
            Some("https://evil.example"),
            Some("PUT"),
            None,
            true,
        )
        .unwrap_err();
        assert_eq!(denied.status, StatusCode::FORBIDDEN);
        assert!(
            preflight(
                Some(&rules),
                Some("https://app.example.com"),
                Some("DELETE"),
                None,
                true
            )
            .is_err()
        );
        assert_eq!(
            preflight(None, Some("https://app.example.com"), None, None, true)
                .unwrap_err()
                .status,
            StatusCode::BAD_REQUEST
        );
        assert!(actual(&rules, "https://evil.example", &Method::GET).is_empty());
        assert_eq!(
            actual(&rules, "https://app.example.com", &Method::PUT)["access-control-expose-headers"],
            "ETag"
        );
    }
}
