//! Judging a SigV4 POST form as S3 does: the signature over the base64 policy, the
//! credentials, the policy's expiration against the store's clock, every condition, and no
//! field left outside the conditions.

use std::time::SystemTime;

use hoist_core::encoding::base64_decode;
use hoist_core::presign::{signature, signing_key};
use hoist_core::time::Timestamp;
use http::StatusCode;
use serde_json::Value;

use crate::auth::KeyRing;
use crate::errors::{ErrorAnswer, MSG_SIGNATURE, MSG_SIGV2};

/// What a valid form asks the store to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Accepted {
    /// The object key, `${filename}` replaced.
    pub key: String,
    /// Headers the object is stored with (content type, metadata, caching).
    pub headers: Vec<(String, String)>,
    /// The status of a successful answer: 200, 201 or (by default) 204.
    pub status: u16,
    /// The policy's `content-length-range`, if any.
    pub length_range: Option<(u64, u64)>,
}

/// Form fields S3 reads without a condition.
fn exempt(name: &str) -> bool {
    matches!(name, "policy" | "x-amz-signature" | "file") || name.starts_with("x-ignore-")
}

/// Object headers a form field can set.
fn stored_header(name: &str) -> bool {
    name.starts_with("x-amz-meta-")
        || matches!(
            name,
            "content-type"
                | "cache-control"
                | "content-disposition"
                | "content-encoding"
                | "expires"
        )
}

fn missing_field(name: &str) -> ErrorAnswer {
    ErrorAnswer::new(
        StatusCode::BAD_REQUEST,
        "InvalidArgument",
        format!(
            "Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields."
        ),
    )
    .extra("ArgumentName", name)
    .extra("ArgumentValue", "")
}

fn invalid_policy(why: &str) -> ErrorAnswer {
    ErrorAnswer::new(
        StatusCode::BAD_REQUEST,
        "InvalidPolicyDocument",
        format!("Invalid Policy: {why}"),
    )
}

fn denied(why: impl Into<String>) -> ErrorAnswer {
    ErrorAnswer::new(
        StatusCode::FORBIDDEN,
        "AccessDenied",
        format!("Invalid according to Policy: {}", why.into()),
    )
}

/// The form's fields with names lower-cased (S3 matches names without regard to case).
struct Fields<'a>(Vec<(String, &'a str)>);

impl<'a> Fields<'a> {
    fn new(fields: &'a [(String, String)]) -> Self {
        Self(
            fields
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str()))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }
}

/// Checks the form's fields against its signed policy at `now` (the store's clock).
pub(crate) fn verify(
    fields: &[(String, String)],
    filename: &str,
    bucket: &str,
    now: SystemTime,
    keys: &KeyRing,
) -> Result<Accepted, ErrorAnswer> {
    let form = Fields::new(fields);
    let key = form.get("key").ok_or_else(|| missing_field("key"))?;
    if form.get("signature").is_some() || form.get("awsaccesskeyid").is_some() {
        return Err(ErrorAnswer::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            MSG_SIGV2,
        ));
    }
    if form.get("x-amz-signature").is_none() && form.get("policy").is_none() {
        // An unsigned form is an anonymous write; no bucket here allows one.
        return Err(ErrorAnswer::new(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Access Denied",
        ));
    }
    let required = |name: &'static str| form.get(name).ok_or_else(|| missing_field(name));
    let policy_b64 = required("policy")?;
    let provided = required("x-amz-signature")?;
    let algorithm = required("x-amz-algorithm")?;
    let credential = required("x-amz-credential")?;
    required("x-amz-date")?;
    if algorithm != "AWS4-HMAC-SHA256" {
        return Err(ErrorAnswer::new(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Only AWS4-HMAC-SHA256 is supported for x-amz-algorithm.",
        )
        .extra("ArgumentName", "x-amz-algorithm")
        .extra("ArgumentValue", algorithm));
    }
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, service, "aws4_request"] = scope[..] else {
        return Err(ErrorAnswer::new(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Invalid credential: expected <key>/<date>/<region>/<service>/aws4_request.",
        )
        .extra("ArgumentName", "x-amz-credential")
        .extra("ArgumentValue", credential));
    };
    let Some(secret) = keys.secret_for(access_key) else {
        return Err(ErrorAnswer::new(
            StatusCode::FORBIDDEN,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        )
        .extra("AWSAccessKeyId", access_key));
    };
    if signature(&signing_key(&secret, date, region, service), policy_b64) != provided {
        return Err(ErrorAnswer::new(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            MSG_SIGNATURE,
        )
        .extra("AWSAccessKeyId", access_key)
        .extra("StringToSign", policy_b64)
        .extra("SignatureProvided", provided));
    }
    keys.check_token(access_key, form.get("x-amz-security-token"))?;

    let policy: Value = base64_decode(policy_b64.trim())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| invalid_policy("Invalid JSON."))?;
    let expiration = policy
        .get("expiration")
        .ok_or_else(|| invalid_policy("Policy missing expiration."))?
        .as_str()
        .and_then(|s| Timestamp::parse_rfc3339(s).ok())
        .ok_or_else(|| invalid_policy("Invalid 'expiration' value."))?;
    if Timestamp::from(now) >= expiration {
        return Err(denied("Policy expired."));
    }
    let conditions = policy
        .get("conditions")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid_policy("Policy missing conditions."))?;

    // Conditions see the key as sent; `${filename}` is replaced only in the stored key.
    let value_of = |name: &str| -> Option<String> {
        match name {
            "bucket" => Some(bucket.to_owned()),
            _ => form.get(name).map(str::to_owned),
        }
    };
    let mut covered: Vec<String> = Vec::new();
    let mut length_range = None;
    for condition in conditions {
        let (op, field, expected) = match condition {
            Value::Object(map) if map.len() == 1 => {
                let (name, value) = map.iter().next().expect("one entry");
                let value = value
                    .as_str()
                    .ok_or_else(|| invalid_policy("Invalid Condition: values must be strings."))?;
                ("eq", format!("${name}"), value.to_owned())
            }
            Value::Array(items) if items.len() == 3 => {
                let op = items[0]
                    .as_str()
                    .ok_or_else(|| invalid_policy("Invalid Condition."))?
                    .to_ascii_lowercase();
                if op == "content-length-range" {
                    let bound = |v: &Value| {
                        v.as_u64()
                            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                            .ok_or_else(|| invalid_policy("Invalid content-length-range bounds."))
                    };
                    length_range = Some((bound(&items[1])?, bound(&items[2])?));
                    continue;
                }
                let (Some(field), Some(expected)) = (items[1].as_str(), items[2].as_str()) else {
                    return Err(invalid_policy("Invalid Condition."));
                };
                let op = match op.as_str() {
                    "eq" => "eq",
                    "starts-with" => "starts-with",
                    _ => return Err(invalid_policy(&format!("Invalid Condition: {op}"))),
                };
                (op, field.to_owned(), expected.to_owned())
            }
            _ => return Err(invalid_policy("Invalid Condition.")),
        };
        let name = field
            .strip_prefix('$')
            .ok_or_else(|| invalid_policy("Invalid Condition: field names start with $."))?
            .to_ascii_lowercase();
        let actual = value_of(&name);
        let holds = match (op, actual.as_deref()) {
            ("eq", Some(actual)) => actual == expected,
            ("starts-with", Some(actual)) => actual.starts_with(&expected),
            // An empty prefix allows the field to be absent.
            ("starts-with", None) => expected.is_empty(),
            _ => false,
        };
        if !holds {
            return Err(denied(format!(
                "Policy Condition failed: [\"{op}\", \"{field}\", \"{expected}\"]"
            )));
        }
        covered.push(name);
    }
    if let Some((name, _)) = form
        .0
        .iter()
        .find(|(name, _)| !exempt(name) && !covered.contains(name))
    {
        return Err(denied(format!("Extra input fields: {name}")));
    }

    let mut headers: Vec<(String, String)> = form
        .0
        .iter()
        .filter(|(name, _)| stored_header(name))
        .map(|(name, value)| (name.clone(), (*value).to_owned()))
        .collect();
    // S3's default for a form without a Content-Type field.
    if form.get("content-type").is_none() {
        headers.push(("content-type".into(), "binary/octet-stream".into()));
    }
    let status = match form.get("success_action_status") {
        Some("200") => 200,
        Some("201") => 201,
        _ => 204,
    };
    Ok(Accepted {
        key: key.replace("${filename}", filename),
        headers,
        status,
        length_range,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Credentials;
    use crate::faults::FaultControl;

    const DATE: &str = "20260101T000000Z";
    const CREDENTIAL: &str = "AKID/20260101/us-east-1/s3/aws4_request";

    fn keys() -> KeyRing {
        KeyRing::new(
            Credentials::new("AKID", "secret"),
            FaultControl::default().clock(),
        )
    }

    fn at(text: &str) -> SystemTime {
        Timestamp::parse_rfc3339(text).unwrap().into()
    }

    /// A form signed with the test key whose policy has `conditions` (JSON) plus the
    /// credential fields, and `fields` sent before them.
    fn signed(conditions: &str, fields: &[(&str, &str)]) -> Vec<(String, String)> {
        let policy = format!(
            r#"{{"expiration":"2026-01-01T01:00:00.000Z","conditions":[{conditions}{{"x-amz-algorithm":"AWS4-HMAC-SHA256"}},{{"x-amz-credential":"{CREDENTIAL}"}},{{"x-amz-date":"{DATE}"}}]}}"#
        );
        let b64 = hoist_core::encoding::base64(policy.as_bytes());
        let mut form: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        for (k, v) in [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", CREDENTIAL),
            ("X-Amz-Date", DATE),
        ] {
            form.push((k.to_owned(), v.to_owned()));
        }
        let signature = signature(&signing_key("secret", "20260101", "us-east-1", "s3"), &b64);
        form.push(("Policy".to_owned(), b64));
        form.push(("X-Amz-Signature".to_owned(), signature));
        form
    }

    fn judge(form: &[(String, String)], now: &str) -> Result<Accepted, ErrorAnswer> {
        verify(form, "photo.jpg", "uploads", at(now), &keys())
    }

    #[test]
    fn conditions_as_s3_reads_them() {
        // Object and array forms, starts-with, names in any case, ${filename}, status.
        let form = signed(
            r#"{"bucket":"uploads"},["starts-with","$key","user/"],["starts-with","$Content-Type","image/"],{"success_action_status":"201"},["content-length-range","1","2048"],["starts-with","$x-amz-meta-tag",""],"#,
            &[
                ("key", "user/${filename}"),
                ("content-type", "image/jpeg"),
                ("success_action_status", "201"),
            ],
        );
        let ok = judge(&form, "2026-01-01T00:30:00Z").unwrap();
        assert_eq!(ok.key, "user/photo.jpg");
        assert_eq!(ok.status, 201);
        assert_eq!(ok.length_range, Some((1, 2048)));
        assert_eq!(
            ok.headers,
            vec![("content-type".to_owned(), "image/jpeg".to_owned())]
        );

        // The policy's expiration is exclusive.
        let late = judge(&form, "2026-01-01T01:00:00Z").unwrap_err();
        assert_eq!(
            (late.status, late.code, late.message.as_deref()),
            (
                StatusCode::FORBIDDEN,
                "AccessDenied",
                Some("Invalid according to Policy: Policy expired.")
            )
        );

        let wrong_bucket = verify(&form, "p", "other", at("2026-01-01T00:00:00Z"), &keys());
        assert_eq!(
            wrong_bucket.unwrap_err().message.as_deref(),
            Some(
                "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$bucket\", \"uploads\"]"
            )
        );
    }

    #[test]
    fn unsigned_fields_and_unknown_keys_are_refused() {
        let form = signed(
            r#"["eq","$key","k"],"#,
            &[("key", "k"), ("acl", "public-read")],
        );
        let extra = judge(&form, "2026-01-01T00:00:00Z").unwrap_err();
        assert_eq!(
            extra.message.as_deref(),
            Some("Invalid according to Policy: Extra input fields: acl")
        );
        // x-ignore-* fields need no condition.
        let form = signed(
            r#"["eq","$key","k"],"#,
            &[("key", "k"), ("x-ignore-note", "1")],
        );
        assert_eq!(judge(&form, "2026-01-01T00:00:00Z").unwrap().status, 204);

        let mut form = signed(r#"["eq","$key","k"],"#, &[("key", "k")]);
        for field in &mut form {
            if field.0 == "X-Amz-Credential" {
                field.1 = "NOBODY/20260101/us-east-1/s3/aws4_request".into();
            }
        }
        assert_eq!(
            judge(&form, "2026-01-01T00:00:00Z").unwrap_err().code,
            "InvalidAccessKeyId"
        );
        let sigv2 = vec![
            ("key".to_owned(), "k".to_owned()),
            ("AWSAccessKeyId".to_owned(), "AKID".to_owned()),
            ("Signature".to_owned(), "x".to_owned()),
        ];
        assert_eq!(
            judge(&sigv2, "2026-01-01T00:00:00Z").unwrap_err().code,
            "InvalidRequest"
        );
    }
}
