//! SigV4 POST policies: what a browser needs to upload one object with a `multipart/form-data`
//! POST to the bucket (S3's "browser-based upload").
//!
//! The policy is a JSON document (expiration and conditions) sent base64-encoded in the form;
//! the signature is the HMAC-SHA256 of that base64 text under the day's signing key. Every
//! form field the uploader sends must be named by a condition, so the builder writes the
//! field and its condition together: the exact `key`, the `Content-Type`, the
//! `success_action_status`, any metadata, the credential, algorithm, date and (for temporary
//! credentials) the security token; a `content-length-range` bounds the file.
//!
//! ```
//! use hoist_core::presign::{Credentials, Endpoint, PostPolicyRequest, Presigner};
//! use hoist_core::time::Timestamp;
//! use std::time::Duration;
//!
//! let signer = Presigner::new(
//!     Credentials::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
//!     Endpoint::parse("http://127.0.0.1:9000", "us-east-1").unwrap(),
//! );
//! let now = Timestamp::parse_amz_date("20151229T000000Z").unwrap();
//! let post = signer
//!     .presign_post(
//!         &PostPolicyRequest::new("uploads", "users/a/photo.jpg")
//!             .content_type("image/jpeg")
//!             .content_length_range(0, 1 << 20)
//!             .expires_in(Duration::from_secs(600)),
//!         now,
//!     )
//!     .unwrap();
//! assert_eq!(post.url, "http://127.0.0.1:9000/uploads");
//! assert_eq!(post.field("key"), Some("users/a/photo.jpg"));
//! assert_eq!(post.field("x-amz-signature").unwrap().len(), 64);
//! ```

use std::borrow::Cow;
use std::time::Duration;

use hmac::Mac;

use super::{ALGORITHM, AddressingStyle, PresignError, Presigner};
use crate::encoding::base64;
use crate::encoding::hex;
use crate::time::Timestamp;

/// What one POST upload may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostPolicyRequest<'a> {
    bucket: Cow<'a, str>,
    key: Cow<'a, str>,
    content_type: Option<Cow<'a, str>>,
    length_range: Option<(u64, u64)>,
    success_action_status: Option<u16>,
    fields: Vec<(String, String)>,
    expires: Duration,
}

impl<'a> PostPolicyRequest<'a> {
    /// An upload of exactly `key` into `bucket`, valid for an hour unless changed.
    pub fn new(bucket: impl Into<Cow<'a, str>>, key: impl Into<Cow<'a, str>>) -> Self {
        PostPolicyRequest {
            bucket: bucket.into(),
            key: key.into(),
            content_type: None,
            length_range: None,
            success_action_status: None,
            fields: Vec::new(),
            expires: Duration::from_secs(3600),
        }
    }

    /// Pins the `Content-Type` field (the object's content type) to `value`.
    pub fn content_type(mut self, value: impl Into<Cow<'a, str>>) -> Self {
        self.content_type = Some(value.into());
        self
    }

    /// Bounds the file's size: S3 refuses a larger file with EntityTooLarge, a smaller one
    /// with EntityTooSmall.
    pub fn content_length_range(mut self, min: u64, max: u64) -> Self {
        self.length_range = Some((min, max));
        self
    }

    /// Asks for this status on success (S3 honours 200 and 201; anything else means 204).
    pub fn success_action_status(mut self, status: u16) -> Self {
        self.success_action_status = Some(status);
        self
    }

    /// Adds a form field with an exact-match condition (`x-amz-meta-*`, `Cache-Control` …).
    pub fn field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.push((name.into(), value.into()));
        self
    }

    /// How long the policy is accepted, from the signing time (1 s to 7 days).
    pub fn expires_in(mut self, expires: Duration) -> Self {
        self.expires = expires;
        self
    }
}

/// A signed POST policy: where to send the form and the fields to send before the file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PresignedPost {
    /// The form's action: the bucket's URL.
    pub url: String,
    /// The form fields, in the order to send them; the file goes after all of them.
    pub fields: Vec<(String, String)>,
    /// The policy's `expiration`.
    pub expires_at: Timestamp,
    /// The policy document as JSON (the `policy` field is its base64).
    pub policy_json: String,
}

impl PresignedPost {
    /// The value of the field `name` (exact name).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Presigner {
    /// Signs a POST policy for `req` as of `now` (already corrected by the clock offset).
    pub fn presign_post(
        &self,
        req: &PostPolicyRequest<'_>,
        now: Timestamp,
    ) -> Result<PresignedPost, PresignError> {
        let now = now.trunc_seconds();
        let expires_at = self.check_lifetime(now, req.expires)?;
        let amz_date = now.to_amz_date();
        let date = &amz_date[..8];
        let credential = format!(
            "{}/{date}/{}/{}/aws4_request",
            self.credentials.access_key, self.endpoint.region, self.endpoint.service
        );

        // Fields and conditions are written together so that no field goes unsigned.
        let mut fields: Vec<(String, String)> = vec![("key".into(), req.key.to_string())];
        let mut conditions = vec![
            format!("{{\"bucket\":{}}}", json_string(&req.bucket)),
            format!("[\"eq\",\"$key\",{}]", json_string(&req.key)),
        ];
        let mut exact = |name: &str, value: &str| {
            conditions.push(format!("{{{}:{}}}", json_string(name), json_string(value)));
            fields.push((name.to_owned(), value.to_owned()));
        };
        if let Some(ct) = &req.content_type {
            exact("Content-Type", ct);
        }
        if let Some(status) = req.success_action_status {
            exact("success_action_status", &status.to_string());
        }
        for (name, value) in &req.fields {
            exact(name, value);
        }
        if let Some(token) = &self.credentials.session_token {
            exact("x-amz-security-token", token);
        }
        exact("x-amz-algorithm", ALGORITHM);
        exact("x-amz-credential", &credential);
        exact("x-amz-date", &amz_date);
        if let Some((min, max)) = req.length_range {
            conditions.push(format!("[\"content-length-range\",{min},{max}]"));
        }
        let policy_json = format!(
            "{{\"expiration\":\"{}\",\"conditions\":[{}]}}",
            expires_at.to_rfc3339_millis(),
            conditions.join(",")
        );
        let policy = base64(policy_json.as_bytes());
        let mut mac = self.keyed_mac(date);
        mac.update(policy.as_bytes());
        let signature = hex(&mac.finalize().into_bytes());
        fields.push(("policy".into(), policy));
        fields.push(("x-amz-signature".into(), signature));

        let host = self.endpoint.host_for(&req.bucket);
        let url = match self.endpoint.style {
            AddressingStyle::Path => format!(
                "{}://{host}/{}",
                self.endpoint.scheme(),
                crate::encoding::uri_encode(&req.bucket)
            ),
            AddressingStyle::VirtualHost => format!("{}://{host}/", self.endpoint.scheme()),
        };
        Ok(PresignedPost {
            url,
            fields,
            expires_at,
            policy_json,
        })
    }
}

/// A JSON string literal: quotes, backslashes and control characters escaped.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presign::{Credentials, Endpoint, signing_key};

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn signer(token: Option<&str>) -> Presigner {
        let mut creds = Credentials::new("AKIAIOSFODNN7EXAMPLE", SECRET);
        if let Some(t) = token {
            creds = creds.with_session_token(t);
        }
        Presigner::new(
            creds,
            Endpoint::parse("http://127.0.0.1:9000", "us-east-1").unwrap(),
        )
    }

    #[test]
    fn policy_pins_every_field_and_the_signature_is_the_hmac_of_its_base64() {
        let now = Timestamp::parse_amz_date("20151229T000000Z").unwrap();
        let post = signer(Some("tok\"en"))
            .presign_post(
                &PostPolicyRequest::new("uploads", "users/a/x \"y\".txt")
                    .content_type("text/plain")
                    .content_length_range(0, 300)
                    .success_action_status(201)
                    .field("x-amz-meta-name", "x")
                    .expires_in(Duration::from_secs(900)),
                now,
            )
            .unwrap();
        assert_eq!(post.url, "http://127.0.0.1:9000/uploads");
        let policy: serde_json::Value = serde_json::from_str(&post.policy_json).unwrap();
        assert_eq!(policy["expiration"], "2015-12-29T00:15:00.000Z");
        let conditions = policy["conditions"].as_array().unwrap();
        // Each sent field (bar policy and signature) has exactly one condition that fixes it.
        for (name, value) in &post.fields {
            if name == "policy" || name == "x-amz-signature" {
                continue;
            }
            let fixing: Vec<_> = conditions
                .iter()
                .filter(|c| {
                    c.get(name.as_str()) == Some(&serde_json::json!(value))
                        || *c == &serde_json::json!(["eq", format!("${name}"), value])
                })
                .collect();
            assert_eq!(fixing.len(), 1, "{name}: {conditions:?}");
        }
        assert!(conditions.contains(&serde_json::json!({"bucket": "uploads"})));
        assert!(conditions.contains(&serde_json::json!(["content-length-range", 0, 300])));
        assert_eq!(post.field("x-amz-security-token"), Some("tok\"en"));
        assert_eq!(
            post.field("x-amz-credential"),
            Some("AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request")
        );
        assert_eq!(post.field("x-amz-date"), Some("20151229T000000Z"));
        assert_eq!(
            post.field("policy"),
            Some(base64(post.policy_json.as_bytes()).as_str())
        );

        // An independent signer (aws-sigv4) agrees on the signature of the policy text.
        let key = aws_sigv4::sign::v4::generate_signing_key(
            SECRET,
            std::time::UNIX_EPOCH + Duration::from_secs(1_451_347_200),
            "us-east-1",
            "s3",
        );
        let expected =
            aws_sigv4::sign::v4::calculate_signature(key, post.field("policy").unwrap().as_bytes());
        assert_eq!(post.field("x-amz-signature"), Some(expected.as_str()));
        assert_eq!(
            signing_key(SECRET, "20151229", "us-east-1", "s3").as_slice(),
            aws_sigv4::sign::v4::generate_signing_key(
                SECRET,
                std::time::UNIX_EPOCH + Duration::from_secs(1_451_347_200),
                "us-east-1",
                "s3"
            )
            .as_ref()
        );
    }

    #[test]
    fn lifetimes_follow_the_presigning_rules() {
        let now = Timestamp::parse_amz_date("20151229T000000Z").unwrap();
        let too_long = PostPolicyRequest::new("b", "k").expires_in(Duration::from_secs(604_801));
        assert!(matches!(
            signer(None).presign_post(&too_long, now),
            Err(PresignError::ExpiresOutOfRange { secs: 604_801 })
        ));
        let creds = Credentials::new("A", "S")
            .with_session_token("t")
            .with_expiry(now.plus(Duration::from_secs(60)));
        let short = Presigner::new(
            creds,
            Endpoint::parse("https://s3.amazonaws.com", "us-east-1")
                .unwrap()
                .virtual_host(),
        );
        let req = PostPolicyRequest::new("b", "k").expires_in(Duration::from_secs(120));
        assert!(matches!(
            short.presign_post(&req, now),
            Err(PresignError::OutlivesCredentials { .. })
        ));
        let ok = short
            .presign_post(&req.expires_in(Duration::from_secs(60)), now)
            .unwrap();
        assert_eq!(ok.url, "https://b.s3.amazonaws.com/");
        assert!(!ok.fields.iter().any(|(k, _)| k == "Content-Type"));
    }
}
