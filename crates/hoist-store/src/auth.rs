//! Authentication: the keys the store accepts, and the checks S3 makes before it verifies a
//! signature, answered with S3's exact errors and extra elements.
//!
//! s3s verifies SigV4 itself, but against the machine's clock and with terse errors. The
//! front service therefore runs [`precheck`] first with the store's own clock (which follows
//! the clock-offset fault); s3s is configured to tolerate any skew so that it never
//! contradicts these answers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use hoist_core::time::Timestamp;
use hoist_core::ttl::MAX_PRESIGN_TTL;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use s3s::S3ErrorCode;
use s3s::auth::SecretKey;
use serde::Serialize;

use crate::config::{ALNUM_TOKEN, Credentials, random_token};
use crate::errors::{
    ErrorAnswer, MSG_EXPIRED_TOKEN, MSG_EXPIRES_WEEK, MSG_SIGV2, MSG_SKEW, s3_error,
};
use crate::faults::Clock;
use crate::query;

/// Longest presigned URL lifetime in seconds, one week.
pub const MAX_PRESIGNED_EXPIRES: i64 = MAX_PRESIGN_TTL.as_secs() as i64;
/// Largest clock difference S3 tolerates, 15 minutes.
pub const MAX_SKEW: Duration = Duration::from_secs(900);

/// Temporary credentials, as STS hands them out.
#[derive(Debug, Clone, Serialize)]
pub struct TemporaryCredentials {
    /// Access key id (starts with `ASIA`, as STS keys do).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token, to send as `x-amz-security-token` (signed).
    pub session_token: String,
    /// When the store stops accepting them (RFC 3339, store clock).
    pub expiration: String,
    /// The same instant in seconds since the epoch.
    #[serde(skip)]
    pub expires_at: SystemTime,
}

#[derive(Debug, Clone)]
struct Temporary {
    secret: String,
    token: String,
    expires_at: SystemTime,
}

/// The keys the store accepts: its static pair, plus temporary ones it issued.
#[derive(Debug, Clone)]
pub(crate) struct KeyRing {
    static_credentials: Credentials,
    temporary: Arc<Mutex<HashMap<String, Temporary>>>,
    clock: Clock,
}

impl KeyRing {
    pub fn new(static_credentials: Credentials, clock: Clock) -> Self {
        Self {
            static_credentials,
            temporary: Arc::default(),
            clock,
        }
    }

    pub fn static_credentials(&self) -> &Credentials {
        &self.static_credentials
    }

    fn temporary(&self) -> std::sync::MutexGuard<'_, HashMap<String, Temporary>> {
        self.temporary
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The secret of a key the store accepts now.
    pub fn secret_for(&self, access_key: &str) -> Option<String> {
        if access_key == self.static_credentials.access_key_id {
            return Some(self.static_credentials.secret_access_key.clone());
        }
        self.temporary().get(access_key).map(|t| t.secret.clone())
    }

    /// Issues credentials that work until `ttl` from now (store clock), then get ExpiredToken.
    pub fn issue_temporary(&self, ttl: Duration) -> TemporaryCredentials {
        let access_key_id = format!(
            "ASIA{}",
            random_token(16, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        );
        let secret = random_token(40, ALNUM_TOKEN);
        let token = random_token(160, ALNUM_TOKEN);
        let expires_at = self.clock.now() + ttl;
        self.temporary().insert(
            access_key_id.clone(),
            Temporary {
                secret: secret.clone(),
                token: token.clone(),
                expires_at,
            },
        );
        TemporaryCredentials {
            access_key_id,
            secret_access_key: secret,
            session_token: token,
            expiration: Timestamp::from(expires_at).to_rfc3339(),
            expires_at,
        }
    }

    /// Refuses requests with expired or mismatched temporary credentials.
    pub(crate) fn check_token(
        &self,
        access_key: &str,
        token: Option<&str>,
    ) -> Result<(), ErrorAnswer> {
        let Some(temp) = self.temporary().get(access_key).cloned() else {
            return Ok(());
        };
        if self.clock.now() >= temp.expires_at {
            return Err(ErrorAnswer::new(
                StatusCode::BAD_REQUEST,
                "ExpiredToken",
                MSG_EXPIRED_TOKEN,
            )
            .extra("Token-0", token.unwrap_or_default()));
        }
        if token != Some(temp.token.as_str()) {
            return Err(ErrorAnswer::new(
                StatusCode::FORBIDDEN,
                "InvalidToken",
                "The provided token is malformed or otherwise invalid.",
            ));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl s3s::auth::S3Auth for KeyRing {
    async fn get_secret_key(&self, access_key: &str) -> s3s::S3Result<SecretKey> {
        if access_key == self.static_credentials.access_key_id {
            return Ok(SecretKey::from(
                self.static_credentials.secret_access_key.clone(),
            ));
        }
        if let Some(temp) = self.temporary().get(access_key) {
            return Ok(SecretKey::from(temp.secret.clone()));
        }
        Err(s3_error(
            S3ErrorCode::InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records.",
            &vec![("AWSAccessKeyId", access_key.to_owned())],
        ))
    }
}

/// A `Date` or `x-amz-date` header: SigV4's basic form or an HTTP date.
fn parse_request_time(text: &str) -> Option<Timestamp> {
    Timestamp::parse_amz_date(text)
        .or_else(|_| Timestamp::parse_http_date(text))
        .ok()
}

/// How far apart two instants are, whichever comes first.
fn distance(a: Timestamp, b: Timestamp) -> Duration {
    a.duration_since(b)
        .or_else(|| b.duration_since(a))
        .unwrap_or_default()
}

fn query_get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The access key named in a SigV4 `Credential=` / `X-Amz-Credential`.
fn access_key_of(credential: &str) -> &str {
    credential.split('/').next().unwrap_or_default()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn query_error(message: &str) -> ErrorAnswer {
    ErrorAnswer::new(
        StatusCode::BAD_REQUEST,
        "AuthorizationQueryParametersError",
        message,
    )
}

/// A SigV4 request dated by `Date` alone: S3 takes that instant, in SigV4's basic form, as
/// the request's time (in its string to sign too) and accepts it. s3s reads only
/// `x-amz-date`, so the store supplies that header from `Date`; it is not among the signed
/// headers, so the signature to verify is the client's own.
pub(crate) fn date_as_amz_date(headers: &mut HeaderMap) {
    let sigv4 = header(headers, "authorization").is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256"));
    if !sigv4 || headers.contains_key("x-amz-date") {
        return;
    }
    let Some(date) = header(headers, "date").and_then(parse_request_time) else {
        return;
    };
    if let Ok(value) = HeaderValue::from_str(&date.to_amz_date()) {
        headers.insert("x-amz-date", value);
    }
}

/// The checks S3 makes before the signature: SigV2 refused, anonymous refused, presigned
/// lifetime and validity window, header-signed clock skew, temporary credentials' expiry.
pub(crate) fn precheck(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    now: SystemTime,
    keys: &KeyRing,
) -> Result<(), ErrorAnswer> {
    let now = Timestamp::from(now);
    let query = query::pairs(uri, query::decode_form);
    let authorization = header(headers, "authorization");

    let sigv2_header = authorization.is_some_and(|a| a.starts_with("AWS "));
    let sigv2_query =
        query_get(&query, "Signature").is_some() || query_get(&query, "AWSAccessKeyId").is_some();
    if sigv2_header || (sigv2_query && query_get(&query, "X-Amz-Signature").is_none()) {
        return Err(ErrorAnswer::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            MSG_SIGV2,
        ));
    }

    if query_get(&query, "X-Amz-Algorithm").is_some()
        || query_get(&query, "X-Amz-Signature").is_some()
    {
        return precheck_presigned(&query, now, keys);
    }

    if let Some(authorization) = authorization {
        let credential = authorization
            .split([',', ' '])
            .find_map(|part| part.trim().strip_prefix("Credential="))
            .unwrap_or_default();
        let sent = header(headers, "x-amz-date").or_else(|| header(headers, "date"));
        let request_time = sent.and_then(parse_request_time);
        if let (Some(sent), Some(request_time)) = (sent, request_time)
            && distance(now, request_time) > MAX_SKEW
        {
            return Err(
                ErrorAnswer::new(StatusCode::FORBIDDEN, "RequestTimeTooSkewed", MSG_SKEW)
                    .extra("RequestTime", sent)
                    .extra("ServerTime", now.to_rfc3339())
                    .extra(
                        "MaxAllowedSkewMilliseconds",
                        MAX_SKEW.as_millis().to_string(),
                    ),
            );
        }
        return keys.check_token(
            access_key_of(credential),
            header(headers, "x-amz-security-token"),
        );
    }

    let is_form_post = method == Method::POST
        && header(headers, "content-type")
            .is_some_and(|c| c.to_ascii_lowercase().starts_with("multipart/form-data"));
    if is_form_post {
        // Browser POST uploads carry their signature in the form; `crate::post` judges
        // POSTs to a bucket before this runs, and s3s refuses a form POST to an object.
        return Ok(());
    }
    Err(ErrorAnswer::new(
        StatusCode::FORBIDDEN,
        "AccessDenied",
        "Access Denied",
    ))
}

fn precheck_presigned(
    query: &[(String, String)],
    now: Timestamp,
    keys: &KeyRing,
) -> Result<(), ErrorAnswer> {
    let date_text = query_get(query, "X-Amz-Date").unwrap_or_default();
    let expires_text = query_get(query, "X-Amz-Expires").unwrap_or_default();
    let date = Timestamp::parse_amz_date(date_text).map_err(|_| {
        query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    })?;
    let expires: i64 = expires_text
        .parse()
        .map_err(|_| query_error("X-Amz-Expires should be a number"))?;
    if expires < 0 {
        return Err(query_error("X-Amz-Expires must be non-negative"));
    }
    if expires > MAX_PRESIGNED_EXPIRES {
        // Amazon S3 answers this one 403 (as the s3-tests suite expects), unlike the 400 of
        // the other malformed query parameters and of MinIO.
        let mut answer = query_error(MSG_EXPIRES_WEEK);
        answer.status = StatusCode::FORBIDDEN;
        return Err(answer);
    }
    let expiry = date.plus(Duration::from_secs(expires.unsigned_abs()));
    if date
        .duration_since(now)
        .is_some_and(|ahead| ahead > MAX_SKEW)
    {
        return Err(ErrorAnswer::new(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Request is not yet valid",
        )
        .extra("X-Amz-Date", date_text)
        .extra("Expires", expiry.to_rfc3339())
        .extra("ServerTime", now.to_rfc3339()));
    }
    if now > expiry {
        return Err(
            ErrorAnswer::new(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired")
                .extra("X-Amz-Expires", expires_text)
                .extra("Expires", expiry.to_rfc3339())
                .extra("ServerTime", now.to_rfc3339()),
        );
    }
    let credential = query_get(query, "X-Amz-Credential").unwrap_or_default();
    keys.check_token(
        access_key_of(credential),
        query_get(query, "X-Amz-Security-Token"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::FaultControl;

    fn keys() -> KeyRing {
        KeyRing::new(
            Credentials::new("AKID", "secret"),
            FaultControl::default().clock(),
        )
    }

    fn at(text: &str) -> SystemTime {
        Timestamp::parse_amz_date(text).unwrap().into()
    }

    fn presigned(date: &str, expires: &str) -> Uri {
        format!("/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date={date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature=00").parse().unwrap()
    }

    #[test]
    fn presigned_windows() {
        let uri = presigned("20260101T000000Z", "300");
        let ok = precheck(
            &Method::GET,
            &uri,
            &HeaderMap::new(),
            at("20260101T000459Z"),
            &keys(),
        );
        assert!(ok.is_ok());
        let late = precheck(
            &Method::GET,
            &uri,
            &HeaderMap::new(),
            at("20260101T000501Z"),
            &keys(),
        )
        .unwrap_err();
        assert_eq!(late.message.as_deref(), Some("Request has expired"));
        assert_eq!(
            late.extras[1],
            ("Expires".to_owned(), "2026-01-01T00:05:00Z".to_owned())
        );
        let early = precheck(
            &Method::GET,
            &uri,
            &HeaderMap::new(),
            at("20251231T230000Z"),
            &keys(),
        )
        .unwrap_err();
        assert_eq!(early.message.as_deref(), Some("Request is not yet valid"));
        let week = precheck(
            &Method::GET,
            &presigned("20260101T000000Z", "604801"),
            &HeaderMap::new(),
            at("20260101T000000Z"),
            &keys(),
        );
        assert_eq!(week.unwrap_err().code, "AuthorizationQueryParametersError");
    }

    #[test]
    fn sigv2_and_anonymous() {
        let mut headers = HeaderMap::new();
        let uri: Uri = "/b/k".parse().unwrap();
        assert_eq!(
            precheck(&Method::GET, &uri, &headers, SystemTime::now(), &keys())
                .unwrap_err()
                .code,
            "AccessDenied"
        );
        headers.insert("authorization", "AWS AKID:c2lnbmF0dXJl".parse().unwrap());
        assert_eq!(
            precheck(&Method::GET, &uri, &headers, SystemTime::now(), &keys())
                .unwrap_err()
                .code,
            "InvalidRequest"
        );
        let v2: Uri = "/b/k?AWSAccessKeyId=AKID&Expires=1&Signature=x"
            .parse()
            .unwrap();
        assert_eq!(
            precheck(
                &Method::GET,
                &v2,
                &HeaderMap::new(),
                SystemTime::now(),
                &keys()
            )
            .unwrap_err()
            .code,
            "InvalidRequest"
        );
    }

    #[test]
    fn temporary_credentials_expire() {
        let keys = keys();
        let temp = keys.issue_temporary(Duration::from_secs(60));
        assert!(
            keys.check_token(&temp.access_key_id, Some(&temp.session_token))
                .is_ok()
        );
        assert!(
            keys.check_token(&temp.access_key_id, Some("wrong"))
                .is_err()
        );
        let expired = keys.issue_temporary(Duration::ZERO);
        assert_eq!(
            keys.check_token(&expired.access_key_id, Some(&expired.session_token))
                .unwrap_err()
                .code,
            "ExpiredToken"
        );
    }
}
