//! The adapter between what explain reads and hoist-core's cause catalogue.

use hoist_core::time::Timestamp;

use super::exchange::Exchange;
use crate::duration::human;
use crate::report::Finding;

/// What is known about the request behind an error, from its URL, headers and neighbours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The request method.
    pub method: String,
    /// The answer's status.
    pub status: Option<u16>,
    /// The request URL.
    pub url: String,
    /// `X-Amz-Date` from the query (presigned) or the header (header-signed).
    pub x_amz_date: Option<String>,
    /// `X-Amz-Expires` of a presigned URL.
    pub x_amz_expires: Option<String>,
    /// `X-Amz-Credential` (`AKID/yyyymmdd/region/s3/aws4_request`).
    pub x_amz_credential: Option<String>,
    /// Whether the request carried a session token (temporary credentials).
    pub security_token: bool,
    /// The `Authorization` header, when sent.
    pub authorization: Option<String>,
    /// When the request was sent.
    pub sent_at: Option<Timestamp>,
    /// The answer's `Date` header.
    pub server_date: Option<Timestamp>,
    /// When the multipart upload the request belongs to began.
    pub upload_started: Option<Timestamp>,
    /// The part number, for UploadPart.
    pub part_number: Option<String>,
    /// The request's `Content-Length`.
    pub content_length: Option<u64>,
}

/// Names the cause of an S3 `<Error>` body, or `None` when `body` is not one.
pub fn s3_error(_body: &str, _context: &Context) -> Option<Finding> {
    None
}

/// Facts about the request that help whatever the cause: signing time, lifetime, use.
pub fn request_facts(context: &Context) -> Vec<String> {
    let mut facts = Vec::new();
    let signed = context
        .x_amz_date
        .as_deref()
        .and_then(|d| Timestamp::parse_amz_date(d).ok());
    let ttl = context
        .x_amz_expires
        .as_deref()
        .and_then(|e| e.parse::<u64>().ok());
    if let Some(signed) = signed {
        let mut line = format!("signed at {signed}");
        if let Some(ttl) = ttl {
            let expires = signed + std::time::Duration::from_secs(ttl);
            line.push_str(&format!(
                " for {} (X-Amz-Expires={ttl}), so valid until {expires}",
                human(std::time::Duration::from_secs(ttl))
            ));
        }
        facts.push(line);
    }
    if let Some(sent) = context.sent_at {
        facts.push(format!("sent at {}", sent.to_rfc3339_millis()));
    }
    let started = context.upload_started;
    if let Some((started, ran)) = started.zip(
        context
            .sent_at
            .and_then(|sent| sent.duration_since(started?)),
    ) {
        facts.push(format!(
            "the upload had been running for {} (since {started})",
            human(ran)
        ));
    }
    facts
}

/// A preflight (or a request the browser blocked) that CORS refused.
pub fn cors_preflight(ex: &Exchange) -> Finding {
    let origin = ex
        .request_header("origin")
        .unwrap_or("(no Origin header recorded)");
    let method = ex
        .request_header("access-control-request-method")
        .unwrap_or(&ex.method);
    let headers = ex
        .request_header("access-control-request-headers")
        .unwrap_or("");
    let answer = match ex.status {
        Some(s) => format!("answered {s}"),
        None => format!(
            "got no answer the page could use ({})",
            ex.failure.as_deref().unwrap_or("blocked")
        ),
    };
    let mut evidence = vec![format!(
        "{} {} from origin {origin} asking for {method}{} {answer}",
        if ex.method == "OPTIONS" {
            "preflight OPTIONS"
        } else {
            ex.method.as_str()
        },
        ex.short_url(),
        if headers.is_empty() {
            String::new()
        } else {
            format!(" with headers {headers}")
        },
    )];
    if let Some(code) = ex.body.as_deref().and_then(xml_code) {
        evidence.push(format!("the store said {code}"));
    }
    Finding::new(
        "cors-preflight",
        evidence,
        format!(
            "Add a CORS rule to the bucket that allows origin {origin}, method PUT and the headers the page sends (content-type), with ExposeHeaders ETag: `hoist doctor --endpoint … --bucket … --origin {origin} --fix` does it."
        ),
    )
}

/// A successful part PUT whose ETag the page could not read.
pub fn etag_hidden(ex: &Exchange, exposed: &str) -> Finding {
    let origin = ex.request_header("origin").unwrap_or_default();
    let evidence = vec![
        format!(
            "{} {} answered {} with ETag {}, but the answer's Access-Control-Expose-Headers {}",
            ex.method,
            ex.short_url(),
            ex.status.unwrap_or_default(),
            ex.response_header("etag").unwrap_or_default(),
            if exposed.is_empty() {
                "is missing".to_owned()
            } else {
                format!("is {exposed:?}, without ETag")
            }
        ),
        format!(
            "a page on {origin} cannot read the ETag, so it cannot complete the multipart upload"
        ),
    ];
    Finding::new(
        "cors-etag-hidden",
        evidence,
        "Add ETag to the bucket's CORS rule ExposeHeaders (`hoist doctor --origin … --fix` does it). Until then hoist-server recovers the ETags with ListParts.",
    )
}

/// The `<Code>` of an XML error body, for evidence only; full parsing belongs to hoist-core.
fn xml_code(body: &str) -> Option<&str> {
    let start = body.find("<Code>")? + "<Code>".len();
    let end = start + body[start..].find("</Code>")?;
    Some(&body[start..end])
}
