//! The one error shape of the JSON API: `{"error": message, "code": id, "field": path?}`.
//!
//! `error` is a plain string so that Uppy's S3 plugin, which reads `body.error`, shows it too;
//! `message` repeats it for `@uppy/companion-client` (the Companion routes' client), which
//! shows a 4xx answer's `message` to the person uploading.
//! Every store failure becomes an `ApiError` in one place, the `From` impl in `error/store.rs`.

mod store;

use axum::Json;
use axum::extract::FromRequest;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An error answered to an API caller, with the HTTP status it maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// Stable machine-readable id, e.g. `invalid_field`, `token_expired`.
    pub code: &'static str,
    /// What went wrong, in words a person can act on.
    pub message: String,
    /// The JSON path of the offending input field, when one is to blame.
    pub field: Option<String>,
    /// Seconds to wait before trying again, sent as `Retry-After` (429 and 503 answers).
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// An error with no field attached.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// 400 for a request field that is present but not acceptable.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_field",
            message: format!("{field}: {message}"),
            field: Some(field),
            retry_after: None,
        }
    }

    /// Keep everything but answer with `status`.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Ask the caller to wait `seconds` before trying again (`Retry-After`).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// Attach (or replace) the field to blame and keep the rest.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 412 `already_exists`: a no-clobber upload met an object at its key, and the store
    /// refused to replace it.
    pub fn already_exists(key: &str, said: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "already_exists",
            format!(
                "an object already exists at {key:?} and this upload may not replace it \
                 (no-clobber): {said}"
            ),
        )
    }

    /// The store could not be reached or answered something unusable.
    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "store_error", message)
    }
}

/// The JSON shape every error is answered in, also an item's error in a batch answer.
impl Serialize for ApiError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Body {
            error: &self.message,
            message: &self.message,
            code: self.code,
            field: self.field.as_deref(),
        }
        .serialize(s)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(&self)).into_response();
        // A client that shows only the status text (Uppy 6's `companionEndpoint` mode) shows
        // an application's refusal reason too: HTTP/1.1 lets the reason phrase carry it.
        if self.code == "refused"
            && let Some(reason) = reason_phrase(&self.message)
        {
            resp.extensions_mut().insert(reason);
        }
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
        }
        resp
    }
}

/// `message` as an HTTP/1.1 reason phrase: visible ASCII and spaces only, at most 200 bytes.
fn reason_phrase(message: &str) -> Option<hyper::ext::ReasonPhrase> {
    let text: String = message
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { ' ' })
        .take(200)
        .collect();
    hyper::ext::ReasonPhrase::try_from(text.trim().as_bytes().to_vec()).ok()
}

/// A JSON body extractor whose every failure is an [`ApiError`] naming the field to blame.
///
/// axum's own `Json` answers rejections in plain text; API callers need the JSON shape and the
/// path of the field (`parts[2].etag`) to fix their request.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let json_type = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let mime = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            });
        // A missing content type is tolerated (curl -d sends form type, scripts often none),
        // but a declared non-JSON type is a caller mistake worth naming.
        if json_type == Some(false) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON (Content-Type: application/json)",
            ));
        }
        let ApiBytes(bytes) = ApiBytes::from_request(req, state).await?;
        // Every body of the API is an object; serde would also read a struct from an array.
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first.is_some_and(|b| *b != b'{') {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                "the body must be a JSON object",
            ));
        }
        parse_json(&bytes).map(ApiJson)
    }
}

/// A whole request body whose failures are [`ApiError`]s: `408 request_timeout` when the
/// caller stopped sending (the stall timeout), `body_unreadable` otherwise.
#[derive(Debug, Clone, Default)]
pub struct ApiBytes(pub Bytes);

impl<S> FromRequest<S> for ApiBytes
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(ApiBytes)
            .map_err(|e: BytesRejection| {
                if hoist_net::BodyStalled::caused(&e) {
                    ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "request_timeout",
                        "the request body stopped arriving; send it again",
                    )
                } else {
                    ApiError::new(e.status(), "body_unreadable", e.body_text())
                }
            })
    }
}

/// Deserialize `bytes` into `T`, reporting the failing field's path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(de) {
        Ok(v) => Ok(v),
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_json",
                    format!("malformed JSON body: {inner}"),
                ));
            }
            let message = inner.to_string();
            // serde reports a missing field at the parent's path; point at the field itself.
            let field = match message.strip_prefix("missing field `") {
                Some(rest) => {
                    let name = rest.split('`').next().unwrap_or("");
                    if path == "." {
                        name.to_string()
                    } else {
                        format!("{path}.{name}")
                    }
                }
                None if path == "." => "body".to_string(),
                None => path,
            };
            Err(ApiError::field(field, message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct T {
        size: u64,
        parts: Option<Vec<P>>,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct P {
        number: u32,
    }

    #[test]
    fn negative_size_names_the_field() {
        let e = parse_json::<T>(br#"{"size": -1}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("size"));
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn nested_field_path() {
        let e = parse_json::<T>(br#"{"size": 1, "parts": [{"number": 1}, {"number": "x"}]}"#)
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("parts[1].number"));
    }

    #[test]
    fn syntax_error_is_malformed() {
        let e = parse_json::<T>(br#"{"size": "#).unwrap_err();
        assert_eq!(e.code, "malformed_json");
        let e = parse_json::<T>(br#"{}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("size"), "{e:?}");
    }
}
