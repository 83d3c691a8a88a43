//! The front service: everything S3 does that s3s does not, wrapped around s3s.
//!
//! Order per request: injected latency, admin routes, injected 500/503, CORS preflight,
//! POST Object forms (judged whole in [`crate::post`]), the pre-signature checks of [`crate::auth`], the single-PUT size limit, then s3s. Every
//! error body is rebuilt here with S3's message and extra elements; every response gets a
//! `Date` from the store's clock, a request id and the bucket's CORS headers.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use s3s::Body;

use crate::admin;
use crate::auth::{KeyRing, precheck};
use crate::config::random_hex;
use crate::cors;
use crate::errors::{
    self, EXTRA_HEADER, ErrorAnswer, MSG_ENTITY_TOO_LARGE, MSG_NO_SUCH_BUCKET, MSG_NO_SUCH_KEY,
    MSG_NO_SUCH_UPLOAD, MSG_SIGNATURE, error_body,
};
use crate::faults::{FaultControl, FaultKind};
use crate::post;
use crate::query;
use crate::resign;
use crate::storage::Storage;

/// Amazon S3's part size ceiling, 5 GiB.
const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;

pub(crate) struct FrontInner {
    pub s3: s3s::service::S3Service,
    pub storage: Arc<Storage>,
    pub keys: KeyRing,
    pub faults: FaultControl,
}

/// The hyper service each connection runs.
#[derive(Clone)]
pub(crate) struct Front(pub Arc<FrontInner>);

impl std::fmt::Debug for Front {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Front").finish_non_exhaustive()
    }
}

impl hyper::service::Service<Request<Incoming>> for Front {
    type Response = Response<Body>;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response<Body>, Self::Error>> + Send>,
    >;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let front = self.clone();
        Box::pin(async move { Ok(front.handle(req.map(Body::from)).await) })
    }
}

/// Bucket and key of a path-style request (`/bucket/key…`), percent-decoded.
fn bucket_and_key(path: &str) -> (Option<String>, Option<String>) {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let (bucket, key) = match trimmed.split_once('/') {
        Some((b, k)) => (b, Some(k)),
        None => (trimmed, None),
    };
    let bucket = (!bucket.is_empty()).then(|| query::decode_form(bucket));
    let key = key.filter(|k| !k.is_empty()).map(query::decode_form);
    (bucket, key)
}

fn has_query(req: &Request<Body>, name: &str) -> bool {
    req.uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.split('=').next() == Some(name)))
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

impl Front {
    pub(crate) async fn handle(&self, req: Request<Body>) -> Response<Body> {
        let request_id = random_hex(8).to_ascii_uppercase();
        let faults = self.0.faults.get();
        if faults.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
        }
        let method = req.method().clone();
        let origin = req
            .headers()
            .get("origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (bucket, key) = bucket_and_key(req.uri().path());

        let mut response = if req.uri().path().starts_with(admin::PREFIX) {
            admin::handle(&self.0, req).await
        } else if self
            .0
            .faults
            .roll(faults.error_500_fraction, FaultKind::Error500)
        {
            let answer = ErrorAnswer::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "We encountered an internal error. Please try again.",
            );
            self.error_response(answer, &request_id, &method)
        } else if self
            .0
            .faults
            .roll(faults.slow_down_fraction, FaultKind::SlowDown)
        {
            let answer = ErrorAnswer::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "SlowDown",
                "Please reduce your request rate.",
            );
            self.error_response(answer, &request_id, &method)
        } else if method == Method::OPTIONS {
            self.preflight(&req, bucket.as_deref(), key.is_some(), &request_id)
        } else if let (Some(boundary), Some(bucket)) =
            (post::form_boundary(&req, key.is_some()), bucket.as_deref())
        {
            post::handle(self, req, bucket, &boundary, &request_id).await
        } else {
            let mut req = req;
            let checked = self.checks(&req, key.is_some()).and_then(|()| {
                // Only the store's clock may decide a URL's lifetime (see `resign`).
                if faults.clock_offset_secs != 0 && resign::is_presigned(&req) {
                    let real_now = std::time::SystemTime::now().into();
                    resign::resign_presigned(&mut req, &self.0.keys, real_now)
                } else {
                    Ok(())
                }
            });
            match checked {
                Err(answer) => self.error_response(answer, &request_id, &method),
                Ok(()) => self.call_s3(req, &request_id, &method).await,
            }
        };

        let headers = response.headers_mut();
        if method != Method::OPTIONS
            && let (Some(origin), Some(bucket)) = (origin.as_deref(), bucket.as_deref())
            && let Some(rules) = self.0.storage.bucket_meta(bucket).and_then(|m| m.cors)
        {
            headers.extend(cors::actual(&rules, origin, &method));
        }
        if let Ok(value) = HeaderValue::from_str(&self.0.storage.clock.now_utc().to_http_date()) {
            headers.insert(http::header::DATE, value);
        }
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            headers.insert("x-amz-request-id", value);
        }
        headers.insert(
            http::header::SERVER,
            HeaderValue::from_static("hoist-store"),
        );
        response
    }

    /// Pre-signature checks, then S3's single-PUT and part size limits (answered before the
    /// body is read, as S3 does from the declared length).
    fn checks(&self, req: &Request<Body>, has_key: bool) -> Result<(), ErrorAnswer> {
        precheck(
            req.method(),
            req.uri(),
            req.headers(),
            self.0.storage.clock.now(),
            &self.0.keys,
        )?;
        if req.method() == Method::PUT
            && has_key
            && !req.headers().contains_key("x-amz-copy-source")
        {
            let declared = header_u64(req.headers(), "x-amz-decoded-content-length")
                .or_else(|| header_u64(req.headers(), "content-length"));
            let is_part = has_query(req, "partNumber") || has_query(req, "uploadId");
            let limit = if is_part {
                MAX_PART_SIZE
            } else {
                self.0.storage.max_put_size
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

    fn preflight(
        &self,
        req: &Request<Body>,
        bucket: Option<&str>,
        is_object: bool,
        request_id: &str,
    ) -> Response<Body> {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        let meta = bucket.and_then(|b| self.0.storage.bucket_meta(b));
        if bucket.is_some() && meta.is_none() && header("access-control-request-method").is_some() {
            let answer =
                ErrorAnswer::new(StatusCode::NOT_FOUND, "NoSuchBucket", MSG_NO_SUCH_BUCKET)
                    .extra("BucketName", bucket.unwrap_or_default());
            return self.error_response(answer, request_id, &Method::OPTIONS);
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
            Err(answer) => self.error_response(answer, request_id, &Method::OPTIONS),
        }
    }

    pub(crate) fn error_response(
        &self,
        answer: ErrorAnswer,
        request_id: &str,
        method: &Method,
    ) -> Response<Body> {
        let body = if method == Method::HEAD {
            Body::empty()
        } else {
            Body::from(error_body(
                answer.code,
                answer.message.as_deref(),
                &answer.extras,
                request_id,
            ))
        };
        let mut response = Response::new(body);
        *response.status_mut() = answer.status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        response
    }

    pub(crate) async fn call_s3(
        &self,
        req: Request<Body>,
        request_id: &str,
        method: &Method,
    ) -> Response<Body> {
        let sig_context = SignatureContext::of(&req);
        let response = match self.0.s3.call(req).await {
            Ok(response) => response,
            Err(err) => {
                tracing::error!(error = ?err, "s3 service failed");
                let answer = ErrorAnswer::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                );
                return self.error_response(answer, request_id, method);
            }
        };
        if response.status().as_u16() < 400 {
            return response;
        }
        let (mut parts, body) = response.into_parts();
        let extras = parts
            .headers
            .remove(EXTRA_HEADER)
            .and_then(|v| v.to_str().ok().map(errors::decode_extras))
            .unwrap_or_default();
        // Error documents are small; anything else is passed through untouched.
        let bytes = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => Bytes::new(),
        };
        let Some((code, message)) = errors::parse_error_body(&bytes) else {
            parts.headers.remove(http::header::CONTENT_LENGTH);
            return Response::from_parts(parts, Body::from(bytes));
        };
        let (message, extras) = complete_error(&code, message, extras, &sig_context);
        let body = if method == Method::HEAD {
            Body::empty()
        } else {
            Body::from(error_body(&code, message.as_deref(), &extras, request_id))
        };
        parts.headers.remove(http::header::CONTENT_LENGTH);
        Response::from_parts(parts, body)
    }
}

/// What an answer to a bad signature reports back.
struct SignatureContext {
    access_key: Option<String>,
    signature: Option<String>,
    upload_id: Option<String>,
    explanation: Option<crate::sigdebug::Explanation>,
}

impl SignatureContext {
    fn of(req: &Request<Body>) -> Self {
        let query = query::pairs(req.uri(), query::decode_form);
        let get = |name: &str| query::value(&query, name);
        let authorization = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let field = |name: &str| {
            authorization
                .split([',', ' '])
                .find_map(|p| p.trim().strip_prefix(name))
                .map(str::to_owned)
        };
        let credential = field("Credential=").or_else(|| get("X-Amz-Credential"));
        Self {
            access_key: credential.map(|c| c.split('/').next().unwrap_or_default().to_owned()),
            signature: field("Signature=").or_else(|| get("X-Amz-Signature")),
            upload_id: get("uploadId"),
            explanation: crate::sigdebug::explain(req.method(), req.uri(), req.headers()),
        }
    }
}

/// S3's message and extra elements for errors s3s reports tersely.
fn complete_error(
    code: &str,
    message: Option<String>,
    mut extras: Vec<(String, String)>,
    context: &SignatureContext,
) -> (Option<String>, Vec<(String, String)>) {
    let fixed = |default: &str| {
        Some(
            message
                .clone()
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| default.to_owned()),
        )
    };
    let message = match code {
        "SignatureDoesNotMatch" => {
            if extras.is_empty() {
                extras.push((
                    "AWSAccessKeyId".into(),
                    context.access_key.clone().unwrap_or_default(),
                ));
                if let Some(explained) = &context.explanation {
                    extras.push(("StringToSign".into(), explained.string_to_sign.clone()));
                }
                extras.push((
                    "SignatureProvided".into(),
                    context.signature.clone().unwrap_or_default(),
                ));
                if let Some(explained) = &context.explanation {
                    extras.push((
                        "CanonicalRequest".into(),
                        explained.canonical_request.clone(),
                    ));
                }
            }
            Some(MSG_SIGNATURE.to_owned())
        }
        "NoSuchUpload" => {
            if extras.is_empty() {
                extras.push((
                    "UploadId".into(),
                    context.upload_id.clone().unwrap_or_default(),
                ));
            }
            Some(MSG_NO_SUCH_UPLOAD.to_owned())
        }
        "NoSuchKey" => fixed(MSG_NO_SUCH_KEY),
        "NoSuchBucket" => fixed(MSG_NO_SUCH_BUCKET),
        "AccessDenied" => fixed("Access Denied"),
        "MalformedXML" => fixed(
            "The XML you provided was not well-formed or did not validate against our published schema",
        ),
        "InvalidBucketName" => fixed("The specified bucket is not valid."),
        "KeyTooLongError" => fixed("Your key is too long"),
        "NotImplemented" => {
            fixed("A header you provided implies functionality that is not implemented")
        }
        _ => message,
    };
    (message, extras)
}
