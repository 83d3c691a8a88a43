//! `GET /s3/params` answered with an S3 POST policy, for `@uppy/aws-s3` 6.x in its
//! `companionEndpoint` mode.
//!
//! That client asks `/s3/params?filename=&type=&metadata[k]=v` with a bare `fetch` and always
//! uploads with a `multipart/form-data` POST of the answer's `fields` to its `url`, whatever
//! `method` says; 4.x/5.x (through `@uppy/companion-client`) honour `method` and get a PUT URL.
//! The two cannot be told apart by the route or the query, only by how they ask:
//! companion-client always sends `Accept: application/json`, while 6.x's bare `fetch` from a
//! browser sends the browser's default `Accept` and the `Sec-Fetch-Mode` every current browser
//! adds. [`wants_form`] applies that rule; `method=POST` or `method=PUT` in the query decides
//! explicitly for any other client.
//!
//! The policy pins the exact key (chosen and authorized as for a PUT), the content type, the
//! metadata, and a `content-length-range` from the request's `size` when sent, else up to the
//! smallest of the single-upload ceiling, the coordinator's limit and the grant's.

use axum::http::HeaderMap;
use hoist_core::presign::PostPolicyRequest;
use hoist_core::ttl::UrlKind;
use serde_json::{Map, Value, json};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use crate::uploads::sign_failure;

/// Whether `/s3/params` should answer with a POST form (see the module documentation).
pub(crate) fn wants_form(headers: &HeaderMap, method: Option<&str>) -> Result<bool, ApiError> {
    match method {
        Some(m) if m.eq_ignore_ascii_case("POST") => return Ok(true),
        Some(m) if m.eq_ignore_ascii_case("PUT") => return Ok(false),
        Some(_) => return Err(ApiError::field("method", "must be PUT or POST")),
        None => {}
    }
    let from_browser = headers.contains_key("sec-fetch-mode");
    let asks_json = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.to_ascii_lowercase().contains("application/json"));
    Ok(from_browser && !asks_json)
}

/// The largest file a POST form may carry for `who`.
fn size_ceiling(state: &AppState, who: &Principal) -> u64 {
    let mut max = hoist_core::plan::MAX_SINGLE_PUT.min(state.config().max_upload_size);
    if let Principal::Grant(g) = who
        && let Some(grant_max) = g.max_size
    {
        max = max.min(grant_max);
    }
    max
}

/// What a form is signed for.
pub(crate) struct FormUpload<'a> {
    pub key: &'a str,
    pub content_type: &'a str,
    pub size: Option<u64>,
    /// The application's limit (its pre-create hook's), when it set one.
    pub max_size: Option<u64>,
    pub metadata: Vec<(String, String)>,
}

/// The `/s3/params` answer for a POST form upload.
pub(crate) fn form_answer(
    state: &AppState,
    who: &Principal,
    upload: &FormUpload<'_>,
) -> Result<Value, ApiError> {
    let cfg = state.config();
    let max = size_ceiling(state, who).min(upload.max_size.unwrap_or(u64::MAX));
    let (low, high) = match upload.size {
        Some(size) if size > max => {
            return Err(ApiError::field(
                "size",
                format!("{size} bytes is over the {max} bytes a single upload may carry here"),
            ));
        }
        Some(size) => (size, size),
        None => (0, max),
    };
    let ttl = state.url_ttl(UrlKind::SinglePut { size: high })?;
    let now = state.now();
    let signer = state.store().signer(now, false);
    let mut req = PostPolicyRequest::new(cfg.bucket.as_str(), upload.key)
        .content_type(upload.content_type)
        .content_length_range(low, high)
        .expires_in(ttl);
    for (k, v) in &upload.metadata {
        req = req.field(format!("x-amz-meta-{k}"), v.as_str());
    }
    let post = signer
        .presign_post(&req, now)
        .map_err(|e| sign_failure(state, e))?;
    let fields: Map<String, Value> = post
        .fields
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    Ok(json!({
        "method": "POST",
        "url": post.url,
        "fields": fields,
        "headers": {},
        "expires": ttl.as_secs(),
        "key": upload.key,
        "bucket": cfg.bucket,
    }))
}
