//! Bucket CORS configuration, both ways: XML from structs (PutBucketCors) and structs from
//! XML (GetBucketCors), so `doctor --fix` can read, amend and write it back.

use super::ResponseError;
use crate::xml::{self, XmlError};

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
}

impl CorsConfiguration {
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
}
