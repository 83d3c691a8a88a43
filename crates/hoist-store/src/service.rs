//! The front service: everything S3 does that s3s does not, wrapped around s3s.
//!
//! Order per request: injected latency, admin routes ([`crate::admin`]), injected 500/503,
//! CORS preflight, POST Object forms (judged whole in [`crate::post`]), the pre-signature
//! checks of [`crate::auth`], the single-PUT size limit, then s3s, whose error bodies
//! [`crate::front`] rebuilds with S3's message and extra elements. Every response gets a
//! `Date` from the store's clock, a request id and the bucket's CORS headers.
//!
//! Every request body is guarded ([`crate::limits`]): one that stalls ends in `400
//! RequestTimeout`, and any body but an object's bytes (PutObject, UploadPart, a POST form)
//! is XML, capped at [`MAX_XML_BODY_SIZE`] by its declared length and as it streams.

use std::sync::Arc;
use std::time::Duration;

use hoist_core::plan::MAX_PART_SIZE;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use s3s::Body;

use crate::admin;
use crate::auth::precheck;
use crate::config::random_hex;
use crate::cors;
use crate::errors::{ErrorAnswer, MSG_ENTITY_TOO_LARGE, MSG_NO_SUCH_BUCKET};
use crate::faults::FaultKind;
use crate::front::{Front, error_response};
use crate::limits::{BodyFault, GuardedBody, MAX_XML_BODY_SIZE, Trip};
use crate::post;
use crate::query;
use crate::resign;

/// The hyper service each connection runs: the shared [`Front`], dispatching each request.
#[derive(Debug, Clone)]
pub(crate) struct FrontService(pub Arc<Front>);

impl hyper::service::Service<Request<Incoming>> for FrontService {
    type Response = Response<Body>;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response<Body>, Self::Error>> + Send>,
    >;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let front = self.0.clone();
        let trip = Trip::default();
        let (_, key) = front.bucket_and_key(&req);
        let req = req.map(Body::from);
        let cap = (!carries_bytes(&req, key.is_some())).then_some(MAX_XML_BODY_SIZE);
        let stall = front.body_stall;
        let req = req.map(|body| Body::http_body(GuardedBody::new(body, cap, stall, trip.clone())));
        let method = req.method().clone();
        // A request runs to its end on a task of its own: when its client goes away, hyper
        // drops this future, and a request dropped between a commit's files and the index
        // would leave the two disagreeing until the next start. S3 carries out a request it
        // received whole whether or not its client is still there to read the answer.
        let task = tokio::spawn(async move { handle(&front, req, &trip).await });
        Box::pin(async move {
            Ok(task.await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "a request's task failed");
                error_response(ErrorAnswer::internal(), "", &method)
            }))
        })
    }
}

/// Whether the body is an object's bytes (PutObject, UploadPart, a POST form) rather than
/// an XML document: a PUT to a key whose query names nothing but the part, the upload and
/// a presigned URL's parameters.
fn carries_bytes(req: &Request<Body>, has_key: bool) -> bool {
    if post::form_boundary(req, has_key).is_some() {
        return true;
    }
    req.method() == Method::PUT
        && has_key
        && query::pairs(req.uri(), query::decode)
            .iter()
            .all(|(name, _)| {
                matches!(name.as_str(), "partNumber" | "uploadId" | "x-id")
                    || name.starts_with("X-Amz-")
                    || name.starts_with("x-amz-")
            })
}

fn has_query(req: &Request<Body>, name: &str) -> bool {
    req.uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.split('=').next() == Some(name)))
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Answers one request.
pub(crate) async fn handle(front: &Front, req: Request<Body>, trip: &Trip) -> Response<Body> {
    let started = std::time::Instant::now();
    // The caller's id when it is sane (a coordinator passes its own), else S3's kind of id.
    let request_id = hoist_net::request_id::from_caller(req.headers())
        .unwrap_or_else(|| random_hex(8).to_ascii_uppercase());
    let bytes_in = header_u64(req.headers(), "content-length").unwrap_or(0);
    let faults = front.faults.get();
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    let method = req.method().clone();
    let origin = req
        .headers()
        .get("origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (bucket, key) = front.bucket_and_key(&req);
    let route = route(&req, bucket.is_some(), key.is_some());
    let operation = if req.uri().path().starts_with(admin::PREFIX) {
        "Admin"
    } else {
        let names: Vec<String> = query::pairs(req.uri(), query::decode)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        crate::metrics::operation(
            &method,
            bucket.is_some(),
            key.is_some(),
            &names,
            req.headers().contains_key("x-amz-copy-source"),
            post::form_boundary(&req, key.is_some()).is_some(),
        )
    };

    let mut response = if req.uri().path().starts_with(admin::PREFIX) {
        admin::handle(front, req).await
    } else if front
        .faults
        .roll(faults.error_500_fraction, FaultKind::Error500)
    {
        error_response(ErrorAnswer::internal(), &request_id, &method)
    } else if front
        .faults
        .roll(faults.slow_down_fraction, FaultKind::SlowDown)
    {
        let answer = ErrorAnswer::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SlowDown",
            "Please reduce your request rate.",
        );
        error_response(answer, &request_id, &method)
    } else if method == Method::OPTIONS {
        preflight(front, &req, bucket.as_deref(), key.is_some(), &request_id)
    } else if let (Some(boundary), Some(bucket)) =
        (post::form_boundary(&req, key.is_some()), bucket.as_deref())
    {
        post::handle(front, req, bucket, &boundary, &request_id).await
    } else {
        let mut req = req;
        crate::auth::date_as_amz_date(req.headers_mut());
        let checked = checks(front, &req, key.is_some()).and_then(|()| {
            xml_length(&req, key.is_some())?;
            // Only the store's clock may decide a URL's lifetime (see `resign`).
            if faults.clock_offset_secs != 0 && resign::is_presigned(&req) {
                let real_now = std::time::SystemTime::now().into();
                resign::resign_presigned(&mut req, &front.keys, real_now)
            } else {
                Ok(())
            }
        });
        match checked {
            Err(answer) => error_response(answer, &request_id, &method),
            Ok(()) => front.call_s3(req, &request_id, &method).await,
        }
    };

    // s3s answers a body that failed under it as an internal error; S3 names the fault.
    if let Some(fault) = trip.get() {
        response = error_response(fault.answer(), &request_id, &method);
    }
    let headers = response.headers_mut();
    if method != Method::OPTIONS
        && let (Some(origin), Some(bucket)) = (origin.as_deref(), bucket.as_deref())
        && let Some(rules) = front.storage.bucket_meta(bucket).and_then(|m| m.cors)
    {
        headers.extend(cors::actual(&rules, origin, &method));
    }
    if let Ok(value) = HeaderValue::from_str(&front.storage.clock.now_utc().to_http_date()) {
        headers.insert(http::header::DATE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amz-request-id", value.clone());
        headers.insert(hoist_net::request_id::HEADER, value);
    }
    headers.insert(
        http::header::SERVER,
        HeaderValue::from_static("hoist-store"),
    );
    // A HEAD's Content-Length is the object's, and a 304 sends no body.
    let bodiless = method == Method::HEAD
        || matches!(
            response.status(),
            StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED
        );
    let bytes_out = if bodiless {
        0
    } else {
        header_u64(response.headers(), "content-length")
            .or_else(|| http_body::Body::size_hint(response.body()).exact())
            .unwrap_or(0)
    };
    front.metrics.counters.answered(
        operation,
        response.status().as_u16(),
        bytes_in,
        bytes_out,
        started.elapsed(),
    );
    tracing::info!(
        target: "hoist_store::request",
        method = %method,
        route,
        bucket = bucket.as_deref().unwrap_or(""),
        status = response.status().as_u16(),
        bytes_in,
        bytes_out,
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        request_id,
        "request"
    );
    response
}

/// What a request's log line names instead of its path and query, which carry keys and
/// signatures: `/{bucket}`, `/{bucket}/{key}` or an admin path, and the names (never the
/// values) of its query parameters but a presigned URL's.
fn route(req: &Request<Body>, has_bucket: bool, has_key: bool) -> String {
    let path = req.uri().path();
    let mut route = if path.starts_with(admin::PREFIX) {
        path.to_owned()
    } else if has_key {
        "/{bucket}/{key}".to_owned()
    } else if has_bucket {
        "/{bucket}".to_owned()
    } else {
        "/".to_owned()
    };
    let names: Vec<String> = query::pairs(req.uri(), query::decode)
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| !name.to_ascii_lowercase().starts_with("x-amz-") && name != "x-id")
        .collect();
    if !names.is_empty() {
        route.push('?');
        route.push_str(&names.join("&"));
    }
    route
}

/// Pre-signature checks, then S3's single-PUT and part size limits (answered before the
/// body is read, as S3 does from the declared length).
fn checks(front: &Front, req: &Request<Body>, has_key: bool) -> Result<(), ErrorAnswer> {
    precheck(
        req.method(),
        req.uri(),
        req.headers(),
        front.storage.clock.now(),
        &front.keys,
    )?;
    if req.method() == Method::PUT && has_key && !req.headers().contains_key("x-amz-copy-source") {
        let declared = header_u64(req.headers(), "x-amz-decoded-content-length")
            .or_else(|| header_u64(req.headers(), "content-length"));
        if declared.is_none() && !is_chunked(req.headers()) {
            // Without a length or chunks HTTP/1.1 reads an empty body; S3 stores nothing.
            return Err(ErrorAnswer::new(
                StatusCode::LENGTH_REQUIRED,
                "MissingContentLength",
                MSG_MISSING_CONTENT_LENGTH,
            ));
        }
        let is_part = has_query(req, "partNumber") || has_query(req, "uploadId");
        let limit = if is_part {
            MAX_PART_SIZE
        } else {
            front.storage.max_put_size
        };
        if let Some(size) = declared.filter(|size| *size > limit) {
            return Err(ErrorAnswer::new(
                StatusCode::BAD_REQUEST,
                "EntityTooLarge",
                MSG_ENTITY_TOO_LARGE,
            )
            .extra("ProposedSize", size.to_string())
            .extra("MaxSizeAllowed", limit.to_string()));
        }
    }
    Ok(())
}

const MSG_MISSING_CONTENT_LENGTH: &str = "You must provide the Content-Length HTTP header.";

fn is_chunked(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .any(|v| {
            v.to_str()
                .is_ok_and(|v| v.to_ascii_lowercase().contains("chunked"))
        })
}

/// An XML body declared longer than the cap is refused before a byte of it is read; one
/// sent in chunks is cut off at the cap as it streams.
fn xml_length(req: &Request<Body>, has_key: bool) -> Result<(), ErrorAnswer> {
    let declared = header_u64(req.headers(), "content-length");
    match declared {
        Some(size) if size > MAX_XML_BODY_SIZE && !carries_bytes(req, has_key) => {
            Err(BodyFault::TooLarge.answer())
        }
        _ => Ok(()),
    }
}

fn preflight(
    front: &Front,
    req: &Request<Body>,
    bucket: Option<&str>,
    is_object: bool,
    request_id: &str,
) -> Response<Body> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let meta = bucket.and_then(|b| front.storage.bucket_meta(b));
    if bucket.is_some() && meta.is_none() && header("access-control-request-method").is_some() {
        let answer = ErrorAnswer::new(StatusCode::NOT_FOUND, "NoSuchBucket", MSG_NO_SUCH_BUCKET)
            .extra("BucketName", bucket.unwrap_or_default());
        return error_response(answer, request_id, &Method::OPTIONS);
    }
    let rules = meta.and_then(|m| m.cors);
    match cors::preflight(
        rules.as_deref(),
        header("origin"),
        header("access-control-request-method"),
        header("access-control-request-headers"),
        is_object,
    ) {
        Ok(headers) => {
            let mut response = Response::new(Body::empty());
            response.headers_mut().extend(headers);
            response
        }
        Err(answer) => error_response(answer, request_id, &Method::OPTIONS),
    }
}
