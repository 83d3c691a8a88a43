//! What the front service shares with the handlers it dispatches to (the admin routes, POST
//! forms): the store's pieces it holds, and its two ways of answering, an error rendered as
//! S3's document or a call into s3s whose terse errors are completed with S3's messages and
//! extra elements, and whose answers get the statuses s3s cannot give (`304`, a HEAD's
//! `206`, carried as an `AnswerStatus`).

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::BodyExt as _;
use s3s::Body;

use crate::auth::KeyRing;
use crate::errors::{
    self, AnswerStatus, EXTRA_HEADER, ErrorAnswer, MSG_NO_SUCH_BUCKET, MSG_NO_SUCH_KEY,
    MSG_NO_SUCH_UPLOAD, MSG_SIGNATURE, error_body,
};
use crate::faults::FaultControl;
use crate::host::Domain;
use crate::query;
use crate::sigdebug::{self, Explanation};
use crate::storage::Storage;

/// The store as the front sees it: s3s over the backend, the storage, keys and faults.
pub(crate) struct Front {
    pub s3: s3s::service::S3Service,
    pub storage: Arc<Storage>,
    pub keys: KeyRing,
    pub faults: FaultControl,
    /// How long a request body may send nothing before it is dropped.
    pub body_stall: Option<std::time::Duration>,
    /// The domain of virtual-hosted-style requests, when set.
    pub domain: Option<Domain>,
    /// What the store counts, and what its metrics are read from.
    pub metrics: crate::metrics::StoreMetrics,
}

impl std::fmt::Debug for Front {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Front").finish_non_exhaustive()
    }
}

/// An error answer: S3's document (no body for HEAD), as `application/xml`.
pub(crate) fn error_response(
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

impl Front {
    /// Bucket and key a request addresses, percent-decoded: from the `Host` and the path
    /// when the host names a bucket under the store's domain, else from the path.
    pub(crate) fn bucket_and_key<B>(&self, req: &Request<B>) -> (Option<String>, Option<String>) {
        let path = req.uri().path();
        let hosted = self.domain.as_ref().and_then(|domain| {
            let host = req.headers().get(http::header::HOST)?.to_str().ok()?;
            domain.bucket_of(host)
        });
        match hosted {
            Some(bucket) => {
                let key = path.strip_prefix('/').unwrap_or(path);
                (
                    Some(bucket),
                    (!key.is_empty()).then(|| query::decode_form(key)),
                )
            }
            None => path_style(path),
        }
    }

    /// Hands `req` to s3s; an error it answers gets S3's message and extra elements back.
    pub(crate) async fn call_s3(
        &self,
        req: Request<Body>,
        request_id: &str,
        method: &Method,
    ) -> Response<Body> {
        let sig_context = SignatureContext::of(&req);
        let attributes = req.method() == Method::GET
            && query::pairs(req.uri(), query::decode)
                .iter()
                .any(|(name, _)| name == "attributes");
        let mut response = match self.s3.call(req).await {
            Ok(response) => response,
            Err(err) => {
                tracing::error!(error = ?err, "s3 service failed");
                return error_response(ErrorAnswer::internal(), request_id, method);
            }
        };
        if let Some(AnswerStatus(status)) = response.extensions_mut().remove::<AnswerStatus>() {
            *response.status_mut() = status;
            if status == StatusCode::NOT_MODIFIED {
                *response.body_mut() = Body::empty();
                response.headers_mut().remove(http::header::CONTENT_LENGTH);
            }
        }
        if attributes && response.status() == StatusCode::OK {
            return unquote_etag(response).await;
        }
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

/// Bucket and key of a path-style request (`/bucket/key…`), percent-decoded.
fn path_style(path: &str) -> (Option<String>, Option<String>) {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let (bucket, key) = match trimmed.split_once('/') {
        Some((b, k)) => (b, Some(k)),
        None => (trimmed, None),
    };
    let bucket = (!bucket.is_empty()).then(|| query::decode_form(bucket));
    let key = key.filter(|k| !k.is_empty()).map(query::decode_form);
    (bucket, key)
}

/// GetObjectAttributes' document with its ETag unquoted, as S3 writes it there (s3s quotes
/// every ETag element).
async fn unquote_etag(response: Response<Body>) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let text = String::from_utf8_lossy(&bytes)
        .replace("<ETag>\"", "<ETag>")
        .replace("\"</ETag>", "</ETag>");
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(Bytes::from(text)))
}

/// What an answer to a bad signature (or a missing upload, a bad URI) reports back, worked
/// out from the request only when an answer needs it: the request's method, URI and headers
/// are kept (cheap copies), since s3s takes the request itself.
struct SignatureContext {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

impl SignatureContext {
    fn of(req: &Request<Body>) -> Self {
        Self {
            method: req.method().clone(),
            uri: req.uri().clone(),
            headers: req.headers().clone(),
        }
    }

    /// The value of the query parameter `name`, decoded as a form.
    fn query_value(&self, name: &str) -> Option<String> {
        query::value(&query::pairs(&self.uri, query::decode_form), name)
    }

    /// A field (`Credential=`, `Signature=`) of the `Authorization` header.
    fn authorization_field(&self, name: &str) -> Option<String> {
        let authorization = self
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        authorization
            .split([',', ' '])
            .find_map(|p| p.trim().strip_prefix(name))
            .map(str::to_owned)
    }

    fn access_key(&self) -> Option<String> {
        let credential = self
            .authorization_field("Credential=")
            .or_else(|| self.query_value("X-Amz-Credential"));
        credential.map(|c| c.split('/').next().unwrap_or_default().to_owned())
    }

    fn signature(&self) -> Option<String> {
        self.authorization_field("Signature=")
            .or_else(|| self.query_value("X-Amz-Signature"))
    }

    fn upload_id(&self) -> Option<String> {
        self.query_value("uploadId")
    }

    fn explanation(&self) -> Option<Explanation> {
        sigdebug::explain(&self.method, &self.uri, &self.headers)
    }

    /// The request's path as sent, which S3 names in an `InvalidURI` answer.
    fn path(&self) -> String {
        self.uri.path().to_owned()
    }
}

const MSG_COPY_SOURCE: &str =
    "Copy Source must mention the source bucket and key: sourcebucket/sourcekey";

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
                    context.access_key().unwrap_or_default(),
                ));
                let explanation = context.explanation();
                if let Some(explained) = &explanation {
                    extras.push(("StringToSign".into(), explained.string_to_sign.clone()));
                }
                extras.push((
                    "SignatureProvided".into(),
                    context.signature().unwrap_or_default(),
                ));
                if let Some(explained) = &explanation {
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
                extras.push(("UploadId".into(), context.upload_id().unwrap_or_default()));
            }
            Some(MSG_NO_SUCH_UPLOAD.to_owned())
        }
        "InvalidURI" => {
            // A path that does not decode (a key that is not UTF-8): S3 names it.
            if extras.is_empty() {
                extras.push(("URI".into(), context.path()));
            }
            fixed("Couldn't parse the specified URI.")
        }
        "NoSuchKey" => fixed(MSG_NO_SUCH_KEY),
        "NoSuchBucket" => fixed(MSG_NO_SUCH_BUCKET),
        "AccessDenied" => fixed("Access Denied"),
        "MalformedXML" => fixed(
            "The XML you provided was not well-formed or did not validate against our published schema",
        ),
        "InvalidBucketName" => fixed("The specified bucket is not valid."),
        // s3s names the header it could not read; S3 says what a copy source must be.
        "InvalidArgument"
            if message
                .as_deref()
                .is_some_and(|m| m.starts_with("invalid header: x-amz-copy-source:")) =>
        {
            if extras.is_empty() {
                extras.push(("ArgumentName".into(), "x-amz-copy-source".into()));
            }
            Some(MSG_COPY_SOURCE.to_owned())
        }
        "KeyTooLongError" => fixed("Your key is too long"),
        "NotImplemented" => {
            fixed("A header you provided implies functionality that is not implemented")
        }
        _ => message,
    };
    (message, extras)
}
