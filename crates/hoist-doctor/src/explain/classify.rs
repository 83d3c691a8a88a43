//! The adapter between what explain reads and hoist-core's cause catalogue: it builds
//! hoist-core's [`RequestContext`] from an exchange, calls [`hoist_core::cause::classify`],
//! and adds what only a transcript shows (how long the upload had run, which part).
//!
//! Two findings have no S3 error body to classify and are built here: a preflight the
//! browser got no usable answer to, and a successful PUT whose ETag was not exposed.

use std::str::FromStr as _;

use hoist_core::cause::{self, CauseId, Diagnosis, RequestContext};
use hoist_core::error::S3Error;
use hoist_core::presign::Method;
use hoist_core::time::Timestamp;

use super::exchange::Exchange;
use crate::report::Finding;
use hoist_core::units::format_duration;

/// What is known about the request behind an error, besides its URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The request method.
    pub method: String,
    /// The request URL (presigned parameters are read from it).
    pub url: String,
    /// The `Authorization` header, when sent (header-signed requests).
    pub authorization: Option<String>,
    /// `x-amz-date` header of a header-signed request.
    pub x_amz_date_header: Option<String>,
    /// The browser's `Origin`.
    pub origin: Option<String>,
    /// When the request was sent, by the sender's clock.
    pub sent_at: Option<Timestamp>,
    /// When the multipart upload the request belongs to began.
    pub upload_started: Option<Timestamp>,
    /// The part number, for UploadPart.
    pub part_number: Option<String>,
}

impl Context {
    /// hoist-core's view of the request.
    pub fn request_context(&self) -> RequestContext {
        let mut ctx = RequestContext::from_presigned_url(&self.url).unwrap_or_default();
        if let Some(auth) = &self.authorization {
            // `AWS key:signature` is Signature Version 2; SigV4 headers name their algorithm.
            if auth.starts_with("AWS ") {
                ctx.sigv2 = true;
            }
            if let Some(cred) = auth.split("Credential=").nth(1) {
                ctx.credential = cred.split([',', ' ']).next().map(str::to_owned);
            }
            if let Some(signed) = auth.split("SignedHeaders=").nth(1) {
                let list = signed.split([',', ' ']).next().unwrap_or_default();
                ctx.signed_headers = list.split(';').map(str::to_owned).collect();
            }
        }
        if ctx.amz_date.is_none() {
            ctx.amz_date = self
                .x_amz_date_header
                .as_deref()
                .and_then(|d| Timestamp::parse_amz_date(d).ok());
        }
        if let Ok(m) = Method::from_str(&self.method) {
            ctx = ctx.method(m);
        }
        if let Some(o) = &self.origin {
            ctx = ctx.origin(o.clone());
        }
        if let Some(t) = self.sent_at {
            ctx = ctx.sent_at(t);
        }
        if let Some(t) = self.upload_started {
            ctx = ctx.upload_started_at(t);
        }
        ctx
    }
}

/// A diagnosis from hoist-core as a finding.
pub fn finding(d: Diagnosis) -> Finding {
    Finding::new(d.cause.as_str(), vec![d.evidence], d.fix)
}

/// Names the cause of `err` with hoist-core's classifier.
pub fn diagnose(err: &S3Error, ctx: &RequestContext) -> Finding {
    finding(cause::classify(err, ctx))
}

/// Names the cause of an S3 `<Error>` body answered with `status` (`None` for a bare body,
/// whose status is then taken from the error code), or `None` when `body` is not one.
pub fn s3_error(body: &str, status: Option<u16>, context: &Context) -> Option<Finding> {
    let start = body.find("<Error")?;
    let parsed = S3Error::parse(status.unwrap_or(0), &body.as_bytes()[start..]).ok()?;
    let mut err = parsed;
    if status.is_none() {
        err.status = err.code.http_status().unwrap_or(0);
    }
    let mut f = diagnose(&err, &context.request_context());
    f.evidence.splice(
        0..0,
        [format!(
            "{} {}: {}",
            err.status,
            err.code,
            err.message.trim()
        )],
    );
    f.evidence.extend(upload_facts(context));
    Some(f)
}

/// How long the upload had run when this request was sent, and which part it was.
pub fn upload_facts(context: &Context) -> Vec<String> {
    let mut facts = Vec::new();
    let ran = context
        .upload_started
        .zip(context.sent_at)
        .and_then(|(started, sent)| Some((started, sent.duration_since(started)?)));
    match (ran, &context.part_number) {
        (Some((started, ran)), Some(part)) => {
            facts.push(format!(
                "part {part} failed {} after the upload started at {started}",
                format_duration(ran)
            ));
        }
        (Some((started, ran)), None) => facts.push(format!(
            "the upload had been running for {} (since {started})",
            format_duration(ran)
        )),
        (None, _) => {}
    }
    facts
}

/// A preflight (or a request the browser blocked) that CORS refused. With an S3 error body,
/// hoist-core names it; without one (the browser saw no usable answer) it is built here.
pub fn cors_preflight(ex: &Exchange) -> Finding {
    let page_origin = ex.page_origin();
    let origin = page_origin
        .as_deref()
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
    let line = format!(
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
    );
    let context = Context {
        method: method.to_owned(),
        url: ex.url.clone(),
        origin: Some(origin.to_owned()),
        ..Context::default()
    };
    let classified = ex
        .body
        .as_deref()
        .and_then(|b| s3_error(b, ex.status, &context))
        .filter(|f| f.cause == CauseId::CorsPreflight.as_str());
    let mut f = classified.unwrap_or_else(|| {
        Finding::new(
            CauseId::CorsPreflight.as_str(),
            Vec::new(),
            "add a bucket CORS rule allowing the page's origin, method PUT and the requested headers (content-type), exposing ETag",
        )
    });
    f.evidence.insert(0, line);
    f.fix = format!(
        "{}; for this page: `hoist doctor --endpoint … --bucket … --origin {origin} --fix`",
        f.fix
    );
    f
}

/// A successful PUT whose ETag the page could not read.
pub fn etag_hidden(ex: &Exchange, exposed: &str) -> Finding {
    let exposed_list: Vec<&str> = exposed
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    let mut f = finding(cause::etag_hidden(&exposed_list));
    let origin = ex.page_origin().unwrap_or_default();
    f.evidence.insert(
        0,
        format!(
            "{} {} answered {} with ETag {} to origin {origin}, but Access-Control-Expose-Headers {}",
            ex.method,
            ex.short_url(),
            ex.status.unwrap_or_default(),
            ex.response_header("etag").unwrap_or_default(),
            if exposed.is_empty() { "is missing".to_owned() } else { format!("is {exposed:?}, without ETag") }
        ),
    );
    f.evidence.push("without the ETags the page cannot complete the multipart upload (hoist-server recovers them with ListParts)".to_owned());
    f
}
