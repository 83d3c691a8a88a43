//! The failure catalogue: from an S3 error and what is known of the request, name the cause
//! (a stable id, listed in the README), the evidence, and the fix. Each cause's words (title,
//! explanation, fix, and what the browser uploader says) are its [`Entry`].
//!
//! ```
//! use hoist_core::cause::{classify, CauseId, RequestContext};
//! use hoist_core::error::S3Error;
//! use hoist_core::time::Timestamp;
//!
//! let body = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>";
//! let err = S3Error::parse(403, body).unwrap();
//! let url = "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20250101T120000Z&X-Amz-Expires=300&X-Amz-Signature=00";
//! let ctx = RequestContext::from_presigned_url(url)
//!     .unwrap()
//!     .sent_at(Timestamp::parse_rfc3339("2025-01-01T12:13:20Z").unwrap());
//! let d = classify(&err, &ctx);
//! assert_eq!(d.cause, CauseId::UrlExpired);
//! assert_eq!(d.evidence, "signed at 12:00:00Z for 300 s; used at 12:13:20Z, 500 s after expiry");
//! ```

mod catalogue;

pub use catalogue::{Entry, catalogue};

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::encoding::percent_decode;
use crate::error::{S3Error, S3ErrorCode};
use crate::presign::Method;
use crate::time::Timestamp;

/// A failure cause, with the stable id the doctor and the docs use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CauseId {
    /// The presigned URL was used after X-Amz-Date + X-Amz-Expires.
    UrlExpired,
    /// A single PUT above 5 GiB (or the store's limit).
    EntityTooLarge,
    /// The signer's clock is off from the store's.
    ClockSkew,
    /// The browser's CORS preflight matched no bucket rule.
    CorsPreflight,
    /// CORS does not expose `ETag`, so the browser could not read part ETags.
    CorsEtagHidden,
    /// Signature Version 2 where only SigV4 is accepted.
    #[serde(rename = "sigv2")]
    Sigv2,
    /// The temporary credentials that signed the request have expired.
    CredentialsExpired,
    /// The signature does not match (wrong secret, or a signed header sent differently).
    SignatureMismatch,
    /// A non-last part below 5 MiB.
    PartTooSmall,
    /// Complete named a part that is missing or has another ETag, or listed parts out of order.
    InvalidPart,
    /// The upload id is unknown, aborted or already completed.
    NoSuchUpload,
    /// A no-clobber upload met an object at its key; the store kept that object.
    AlreadyExists,
    /// None of the above.
    Unknown,
}

impl CauseId {
    /// Every cause, in catalogue order.
    pub const ALL: [CauseId; 13] = [
        CauseId::UrlExpired,
        CauseId::EntityTooLarge,
        CauseId::ClockSkew,
        CauseId::CorsPreflight,
        CauseId::CorsEtagHidden,
        CauseId::Sigv2,
        CauseId::CredentialsExpired,
        CauseId::SignatureMismatch,
        CauseId::PartTooSmall,
        CauseId::InvalidPart,
        CauseId::NoSuchUpload,
        CauseId::AlreadyExists,
        CauseId::Unknown,
    ];

    /// The stable id: `url-expired`, `clock-skew`, …
    pub const fn as_str(self) -> &'static str {
        match self {
            CauseId::UrlExpired => "url-expired",
            CauseId::EntityTooLarge => "entity-too-large",
            CauseId::ClockSkew => "clock-skew",
            CauseId::CorsPreflight => "cors-preflight",
            CauseId::CorsEtagHidden => "cors-etag-hidden",
            CauseId::Sigv2 => "sigv2",
            CauseId::CredentialsExpired => "credentials-expired",
            CauseId::SignatureMismatch => "signature-mismatch",
            CauseId::PartTooSmall => "part-too-small",
            CauseId::InvalidPart => "invalid-part",
            CauseId::NoSuchUpload => "no-such-upload",
            CauseId::AlreadyExists => "already-exists",
            CauseId::Unknown => "unknown",
        }
    }
}

impl fmt::Display for CauseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a cause id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown cause id {0:?}")]
pub struct UnknownCauseId(pub String);

impl FromStr for CauseId {
    type Err = UnknownCauseId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CauseId::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCauseId(s.to_owned()))
    }
}

/// A named cause with its evidence and the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Diagnosis {
    /// The cause.
    pub cause: CauseId,
    /// What in the error and the request shows it, with the numbers.
    pub evidence: String,
    /// What to change.
    pub fix: String,
}

/// What is known of the failed request besides the error body. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestContext {
    /// The method.
    pub method: Option<Method>,
    /// `X-Amz-Date`: when it was signed.
    pub amz_date: Option<Timestamp>,
    /// `X-Amz-Expires`, seconds.
    pub expires: Option<u64>,
    /// `X-Amz-Credential` (decoded): `AKID/yyyymmdd/region/service/aws4_request`.
    pub credential: Option<String>,
    /// `X-Amz-SignedHeaders`, split.
    pub signed_headers: Vec<String>,
    /// Whether the URL carries `X-Amz-Security-Token` (temporary credentials).
    pub has_session_token: bool,
    /// Whether the URL is signed with Signature Version 2 (`AWSAccessKeyId`, `Signature`, `Expires`).
    pub sigv2: bool,
    /// When it was sent, by the sender's clock.
    pub sent_at: Option<Timestamp>,
    /// When the upload it belongs to started.
    pub upload_started_at: Option<Timestamp>,
    /// When the signing credentials expire(d).
    pub credentials_expire_at: Option<Timestamp>,
    /// The browser's `Origin`, for CORS failures.
    pub origin: Option<String>,
}

/// A URL that is not a presigned S3 URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a presigned URL: {0}")]
pub struct NotPresigned(pub &'static str);

impl RequestContext {
    /// Reads what a presigned URL says about itself: SigV4's `X-Amz-Date`, `X-Amz-Expires`,
    /// `X-Amz-Credential`, `X-Amz-SignedHeaders`, `X-Amz-Security-Token`, or SigV2's parameters.
    pub fn from_presigned_url(url: &str) -> Result<Self, NotPresigned> {
        let query = url
            .split_once('?')
            .map(|(_, q)| q)
            .ok_or(NotPresigned("no query string"))?;
        let query = query.split('#').next().unwrap_or_default();
        let mut ctx = RequestContext::default();
        let mut v2 = (false, false);
        let mut v4 = false;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v).ok_or(NotPresigned("malformed percent-encoding"))?;
            match k {
                "X-Amz-Algorithm" => v4 = true,
                "X-Amz-Date" => {
                    ctx.amz_date = Some(
                        Timestamp::parse_amz_date(&v)
                            .map_err(|_| NotPresigned("X-Amz-Date is not yyyymmddThhmmssZ"))?,
                    )
                }
                "X-Amz-Expires" => {
                    ctx.expires = Some(
                        v.parse()
                            .map_err(|_| NotPresigned("X-Amz-Expires is not a number"))?,
                    )
                }
                "X-Amz-Credential" => ctx.credential = Some(v),
                "X-Amz-SignedHeaders" => {
                    ctx.signed_headers = v.split(';').map(str::to_owned).collect()
                }
                "X-Amz-Security-Token" => ctx.has_session_token = true,
                "AWSAccessKeyId" => v2.0 = true,
                "Signature" => v2.1 = true,
                _ => {}
            }
        }
        ctx.sigv2 = v2.0 && v2.1 && !v4;
        if !v4 && !ctx.sigv2 {
            return Err(NotPresigned(
                "no X-Amz-Algorithm or AWSAccessKeyId/Signature parameters",
            ));
        }
        Ok(ctx)
    }

    /// Sets when the request was sent.
    pub fn sent_at(mut self, t: Timestamp) -> Self {
        self.sent_at = Some(t);
        self
    }

    /// Sets when the upload started.
    pub fn upload_started_at(mut self, t: Timestamp) -> Self {
        self.upload_started_at = Some(t);
        self
    }

    /// Sets when the credentials expire.
    pub fn credentials_expire_at(mut self, t: Timestamp) -> Self {
        self.credentials_expire_at = Some(t);
        self
    }

    /// Sets the method.
    pub fn method(mut self, m: Method) -> Self {
        self.method = Some(m);
        self
    }

    /// Sets the browser origin.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// When the URL expires, if both its date and lifetime are known.
    pub fn url_expires_at(&self) -> Option<Timestamp> {
        Some(
            self.amz_date?
                .plus(std::time::Duration::from_secs(self.expires?)),
        )
    }
}

/// Names the cause of `err` for the request described by `ctx`.
pub fn classify(err: &S3Error, ctx: &RequestContext) -> Diagnosis {
    let msg = err.message.as_str();
    match &err.code {
        S3ErrorCode::AccessDenied if msg.contains("Request has expired") => expired(err, ctx),
        S3ErrorCode::AccessDenied if msg.contains("not yet valid") => not_yet_valid(err, ctx),
        S3ErrorCode::RequestTimeTooSkewed => too_skewed(err),
        S3ErrorCode::InvalidRequest if msg.contains("Date is too old") => expired(err, ctx),
        S3ErrorCode::InvalidRequest if msg.contains("AWS4-HMAC-SHA256") || ctx.sigv2 => sigv2(err),
        S3ErrorCode::AccessForbidden | S3ErrorCode::AccessDenied
            if msg.contains("CORSResponse") =>
        {
            cors_preflight(err, ctx)
        }
        S3ErrorCode::EntityTooLarge => entity_too_large(err),
        S3ErrorCode::EntityTooSmall => part_too_small(err),
        S3ErrorCode::InvalidPart if etag_unreadable(err.extra("ETag")) => cors_etag_hidden(err),
        S3ErrorCode::InvalidPart | S3ErrorCode::InvalidPartOrder => invalid_part(err),
        S3ErrorCode::NoSuchUpload => no_such_upload(err),
        S3ErrorCode::PreconditionFailed | S3ErrorCode::ConditionalRequestConflict => {
            already_exists(err)
        }
        S3ErrorCode::ExpiredToken | S3ErrorCode::TokenRefreshRequired => {
            credentials_expired(err, ctx)
        }
        S3ErrorCode::SignatureDoesNotMatch => signature_mismatch(err, ctx),
        // Answers without a body (HEAD) carry no code: fall back on what the URL says.
        _ if err.status == 403 && url_was_dead(ctx) => expired(err, ctx),
        _ if ctx.sigv2 && matches!(err.status, 400 | 403) => sigv2(err),
        _ => unknown(err),
    }
}

/// The diagnosis for a browser upload whose part ETags could not be read (the PUTs succeeded
/// but `ETag` was not in `Access-Control-Expose-Headers`).
pub fn etag_hidden(exposed_headers: &[&str]) -> Diagnosis {
    let shown = if exposed_headers.is_empty() {
        "none".to_owned()
    } else {
        exposed_headers.join(", ")
    };
    Diagnosis {
        cause: CauseId::CorsEtagHidden,
        evidence: format!(
            "the part PUT succeeded but the browser could not read its ETag; Access-Control-Expose-Headers: {shown}"
        ),
        fix: CauseId::CorsEtagHidden.entry().fix.to_owned(),
    }
}

fn etag_unreadable(etag: Option<&str>) -> bool {
    matches!(
        etag.map(|e| e.trim().trim_matches('"')),
        Some("" | "null" | "undefined")
    )
}

fn url_was_dead(ctx: &RequestContext) -> bool {
    matches!((ctx.url_expires_at(), ctx.sent_at), (Some(exp), Some(sent)) if sent >= exp)
}

/// `HH:MM:SSZ` when both instants fall on the same day, else full RFC 3339 for both.
fn times(a: Timestamp, b: Timestamp) -> (String, String) {
    let (ya, ma, da, ..) = a.civil();
    let (yb, mb, db, ..) = b.civil();
    if (ya, ma, da) == (yb, mb, db) {
        let short = |t: Timestamp| t.to_rfc3339()[11..].to_owned();
        (short(a), short(b))
    } else {
        (a.to_rfc3339(), b.to_rfc3339())
    }
}

fn extra_time(err: &S3Error, name: &str) -> Option<Timestamp> {
    let v = err.extra(name)?.trim();
    Timestamp::parse_rfc3339(v)
        .or_else(|_| Timestamp::parse_amz_date(v))
        .or_else(|_| Timestamp::parse_http_date(v))
        .ok()
}

fn expired(err: &S3Error, ctx: &RequestContext) -> Diagnosis {
    let expires = ctx.expires.or_else(|| {
        err.extra("X-Amz-Expires")
            .and_then(|v| v.trim().parse().ok())
    });
    let signed = ctx.amz_date;
    let server_time = extra_time(err, "ServerTime");
    let fix = CauseId::UrlExpired.entry().fix.to_owned();
    // Temporary credentials kill a URL when they expire, whatever X-Amz-Expires says.
    if let (Some(cred_exp), Some(sent)) = (ctx.credentials_expire_at, ctx.sent_at.or(server_time))
        && sent >= cred_exp
        && ctx.url_expires_at().is_none_or(|e| sent < e)
    {
        return credentials_expired(err, ctx);
    }
    let (Some(signed), Some(expires)) = (signed, expires) else {
        let mut evidence = format!("{} {} \"{}\"", err.status, err.code, err.message);
        if let Some(e) = err.extra("Expires") {
            evidence.push_str(&format!("; URL expired at {e}"));
        }
        if let Some(s) = err.extra("ServerTime") {
            evidence.push_str(&format!("; server time {s}"));
        }
        return Diagnosis {
            cause: CauseId::UrlExpired,
            evidence,
            fix,
        };
    };
    let exp = signed.plus(std::time::Duration::from_secs(expires));
    // If the sender's own clock says the URL was still valid but the server says it was not,
    // the clocks disagree: that is skew, not a short TTL.
    if let (Some(sent), Some(server)) = (ctx.sent_at, server_time)
        && sent < exp
        && server >= exp
    {
        let skew = server.seconds_since(sent);
        let (s, v) = times(sent, server);
        return Diagnosis {
            cause: CauseId::ClockSkew,
            evidence: format!(
                "signed at {} for {expires} s; sent at {s} by the sender's clock, still valid, but the server's time was {v}, {skew} s later",
                times(signed, sent).0
            ),
            fix: SKEW_FIX.to_owned(),
        };
    }
    if let Some(sent) = ctx.sent_at
        && sent < exp
        && server_time.is_none()
    {
        let (a, b) = times(signed, sent);
        return Diagnosis {
            cause: CauseId::ClockSkew,
            evidence: format!(
                "signed at {a} for {expires} s; sent at {b}, {} s before expiry by the sender's clock, yet the server called it expired: its clock is ahead",
                exp.seconds_since(sent)
            ),
            fix: SKEW_FIX.to_owned(),
        };
    }
    let used = ctx.sent_at.or(server_time);
    let evidence = match used {
        Some(used) => {
            let (a, b) = times(signed, used);
            let late = used.seconds_since(exp);
            format!("signed at {a} for {expires} s; used at {b}, {late} s after expiry")
        }
        None => {
            let (a, b) = times(signed, exp);
            format!("signed at {a} for {expires} s; expired at {b}")
        }
    };
    Diagnosis {
        cause: CauseId::UrlExpired,
        evidence,
        fix,
    }
}

const SKEW_FIX: &str = CauseId::ClockSkew.entry().fix;

fn not_yet_valid(err: &S3Error, ctx: &RequestContext) -> Diagnosis {
    let signed = ctx.amz_date.or_else(|| extra_time(err, "X-Amz-Date"));
    let server = extra_time(err, "ServerTime");
    let evidence = match (signed, server) {
        (Some(a), Some(b)) => {
            let (sa, sb) = times(a, b);
            format!(
                "signed at {sa} but the server's time was {sb}: the signer's clock is {} s ahead",
                a.seconds_since(b)
            )
        }
        _ => format!(
            "{} AccessDenied \"{}\": X-Amz-Date is later than the server's time",
            err.status, err.message
        ),
    };
    Diagnosis {
        cause: CauseId::ClockSkew,
        evidence,
        fix: SKEW_FIX.to_owned(),
    }
}

fn too_skewed(err: &S3Error) -> Diagnosis {
    let evidence = match (
        extra_time(err, "RequestTime"),
        extra_time(err, "ServerTime"),
    ) {
        (Some(r), Some(s)) => {
            let (sr, ss) = times(r, s);
            let max = err
                .extra("MaxAllowedSkewMilliseconds")
                .and_then(|m| m.trim().parse::<u64>().ok())
                .unwrap_or(900_000);
            format!(
                "request time {sr}, server time {ss}: {} s apart, more than the {} s allowed",
                r.seconds_since(s).abs(),
                max / 1000
            )
        }
        _ => format!("{} RequestTimeTooSkewed \"{}\"", err.status, err.message),
    };
    Diagnosis {
        cause: CauseId::ClockSkew,
        evidence,
        fix: SKEW_FIX.to_owned(),
    }
}

fn sigv2(err: &S3Error) -> Diagnosis {
    Diagnosis {
        cause: CauseId::Sigv2,
        evidence: format!(
            "{} {} \"{}\": the request is signed with Signature Version 2",
            err.status, err.code, err.message
        ),
        fix: CauseId::Sigv2.entry().fix.to_owned(),
    }
}

fn cors_preflight(err: &S3Error, ctx: &RequestContext) -> Diagnosis {
    let method = err
        .extra("Method")
        .map(str::to_owned)
        .or_else(|| ctx.method.map(|m| m.to_string()));
    let mut evidence = format!(
        "{} {}: the CORS preflight matched no rule",
        err.status, err.code
    );
    if let Some(m) = method {
        evidence.push_str(&format!(" for method {m}"));
    }
    if let Some(o) = &ctx.origin {
        evidence.push_str(&format!(" from origin {o}"));
    }
    if let Some(r) = err.extra("ResourceType") {
        evidence.push_str(&format!(" on the {r}"));
    }
    Diagnosis {
        cause: CauseId::CorsPreflight,
        evidence,
        fix: CauseId::CorsPreflight.entry().fix.to_owned(),
    }
}

fn entity_too_large(err: &S3Error) -> Diagnosis {
    let evidence = match (err.extra("ProposedSize"), err.extra("MaxSizeAllowed")) {
        (Some(p), Some(m)) => format!("a single PUT of {p} bytes; at most {m} bytes are allowed"),
        _ => format!("{} EntityTooLarge \"{}\"", err.status, err.message),
    };
    Diagnosis {
        cause: CauseId::EntityTooLarge,
        evidence,
        fix: CauseId::EntityTooLarge.entry().fix.to_owned(),
    }
}

fn part_too_small(err: &S3Error) -> Diagnosis {
    let mut evidence = String::from("a part other than the last");
    if let Some(n) = err.extra("PartNumber") {
        evidence = format!("part {n}, not the last,");
    }
    match (err.extra("ProposedSize"), err.extra("MinSizeAllowed")) {
        (Some(p), Some(m)) => {
            evidence.push_str(&format!(" has {p} bytes; at least {m} are required"))
        }
        _ => evidence.push_str(" is below the 5 MiB minimum"),
    }
    Diagnosis {
        cause: CauseId::PartTooSmall,
        evidence,
        fix: CauseId::PartTooSmall.entry().fix.to_owned(),
    }
}

fn invalid_part(err: &S3Error) -> Diagnosis {
    let evidence = if err.code == S3ErrorCode::InvalidPartOrder {
        "CompleteMultipartUpload listed the parts out of ascending part-number order".to_owned()
    } else {
        match (err.extra("PartNumber"), err.extra("ETag")) {
            (Some(n), Some(e)) => format!(
                "part {n} with ETag {e} is not stored (missing, or stored with another ETag)"
            ),
            (Some(n), None) => format!("part {n} is not stored"),
            _ => format!("{} InvalidPart \"{}\"", err.status, err.message),
        }
    };
    Diagnosis {
        cause: CauseId::InvalidPart,
        evidence,
        fix: CauseId::InvalidPart.entry().fix.to_owned(),
    }
}

fn cors_etag_hidden(err: &S3Error) -> Diagnosis {
    let part = err
        .extra("PartNumber")
        .map(|n| format!("part {n}"))
        .unwrap_or_else(|| "a part".to_owned());
    Diagnosis {
        cause: CauseId::CorsEtagHidden,
        evidence: format!(
            "CompleteMultipartUpload named {part} with an empty ETag: the browser could not read it"
        ),
        fix: CauseId::CorsEtagHidden.entry().fix.to_owned(),
    }
}

fn no_such_upload(err: &S3Error) -> Diagnosis {
    let id = err
        .extra("UploadId")
        .map(|u| format!("upload {u}"))
        .unwrap_or_else(|| "the upload".to_owned());
    Diagnosis {
        cause: CauseId::NoSuchUpload,
        evidence: format!("{id} does not exist: never created, or already aborted or completed"),
        fix: CauseId::NoSuchUpload.entry().fix.to_owned(),
    }
}

fn already_exists(err: &S3Error) -> Diagnosis {
    let condition = err
        .extra("Condition")
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    Diagnosis {
        cause: CauseId::AlreadyExists,
        evidence: format!(
            "the store refused a conditional write with {} {}{condition}: an object exists at the key",
            err.status, err.code
        ),
        fix: CauseId::AlreadyExists.entry().fix.to_owned(),
    }
}

fn credentials_expired(err: &S3Error, ctx: &RequestContext) -> Diagnosis {
    let evidence = match (ctx.credentials_expire_at, ctx.sent_at) {
        (Some(exp), Some(sent)) => {
            let (e, s) = times(exp, sent);
            format!(
                "the signing credentials expired at {e}; the request was sent at {s}, {} s later",
                sent.seconds_since(exp)
            )
        }
        _ => format!(
            "{} {} \"{}\": the temporary credentials that signed it have expired",
            err.status, err.code, err.message
        ),
    };
    Diagnosis {
        cause: CauseId::CredentialsExpired,
        evidence,
        fix: CauseId::CredentialsExpired.entry().fix.to_owned(),
    }
}

fn signature_mismatch(err: &S3Error, ctx: &RequestContext) -> Diagnosis {
    let mut evidence = String::from("the server computed another signature");
    if !ctx.signed_headers.is_empty() {
        evidence.push_str(&format!(
            "; signed headers {}",
            ctx.signed_headers.join(";")
        ));
    }
    if let Some(cr) = err.extra("CanonicalRequest") {
        evidence.push_str(&format!("; the server's canonical request: {:?}", cr));
    }
    let fix = if ctx.signed_headers.iter().any(|h| h != "host") {
        "send every signed header exactly as signed (content-length, content-type, x-amz-checksum-*), or check the secret key and region"
    } else {
        CauseId::SignatureMismatch.entry().fix
    };
    Diagnosis {
        cause: CauseId::SignatureMismatch,
        evidence,
        fix: fix.to_owned(),
    }
}

fn unknown(err: &S3Error) -> Diagnosis {
    let fix = if err.code == S3ErrorCode::AuthorizationQueryParametersError {
        "keep X-Amz-Expires between 1 and 604800 s (7 days)"
    } else if err.is_retryable() {
        "retry with backoff"
    } else {
        CauseId::Unknown.entry().fix
    };
    Diagnosis {
        cause: CauseId::Unknown,
        evidence: err.to_string(),
        fix: fix.to_owned(),
    }
}

#[cfg(test)]
mod tests;
