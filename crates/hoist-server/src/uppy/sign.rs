//! `POST /s3/sign`: the one route `@uppy/aws-s3` 6.x needs from a backend, for its
//! `signRequest` option. The browser sends every S3 call (CreateMultipartUpload, UploadPart,
//! ListParts, CompleteMultipartUpload, AbortMultipartUpload, or a single PutObject) straight to
//! the store with a URL signed here: `{method, key, uploadId?, partNumber?, expiresIn?,
//! contentType?}` → `{url, key, headers, expiresIn}`.
//!
//! Uppy 6 never hands the backend an id of its own: the `uploadId` is S3's, read by the browser
//! from the store's XML. So ownership rides on the key. A new upload (PUT or POST without
//! `uploadId`) always gets a key chosen here, `{prefix}/{uuid}.{tag}/{file name}`, where `tag`
//! is an HMAC of the caller's owner string, the prefix, the uuid and the name under a key
//! derived from the token secret, and Uppy adopts it (the answer's `key`). Every later request
//! must name such a key, bound to the same caller and still under the caller's prefix; the
//! store itself (as Amazon S3 does) refuses an `uploadId` with any other key than its own. So an
//! upload a caller may touch lies on a key that was issued to that caller, and nothing but
//! hoist can issue such keys. Completion is signed only after a ListParts of the upload proves
//! it exists on that key and its parts fit the caller's size limit.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use hoist_core::presign::PresignRequest;
use hoist_core::ttl::UrlKind;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::admit::{Asked, admit_as};
use crate::api::CreateUpload;
use crate::auth::Principal;
use crate::conditional;
use crate::error::{ApiError, ApiJson};
use crate::hooks::{EventType, UploadEvent};
use crate::keys;
use crate::metrics::{Outcome, PresignKind};
use crate::notify::key_id;
use crate::state::AppState;
use crate::store::stored_parts;
use crate::token::UploadToken;
use crate::uploads::{abort_upload, if_absent, store_failure};
use crate::validate::no_clobber;

use super::MAX_PART_NUMBER;

/// Requests for shorter URLs are raised to this (or to the policy, if shorter): a URL must
/// survive the hop back to the browser, a queue of parts ahead of it and a little clock skew.
const MIN_URL_TTL: Duration = Duration::from_secs(300);
/// S3 upload ids are short opaque strings; this bounds what is echoed into URLs.
const MAX_UPLOAD_ID_BYTES: usize = 1024;
/// Bytes of the HMAC kept in a key's tag: 128 bits cannot be guessed online.
const TAG_BYTES: usize = 16;
/// Domain separation: the binding key is not the token key, though derived from its secret.
const BINDING_LABEL: &[u8] = b"hoist /s3/sign key binding v1";

/// The body Uppy's `signRequest` receives and a page forwards here; `size` is hoist's own,
/// optional, and pins a single PUT's length.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SignBody {
    method: String,
    key: String,
    upload_id: Option<String>,
    /// Any JSON value, so that `0`, `-1`, `1.5` or `"x"` get the same clear error.
    part_number: Option<Value>,
    #[serde(default, deserialize_with = "crate::api::whole::opt_u64_saturating")]
    expires_in: Option<u64>,
    content_type: Option<String>,
    #[serde(default, deserialize_with = "crate::api::whole::opt_u64")]
    size: Option<u64>,
    /// hoist's own: `*` signs `If-None-Match: *` into a PutObject or a Complete, so that the
    /// store refuses to replace an object at the key.
    if_none_match: Option<String>,
}

/// The S3 call a sign request stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Operation {
    PutObject,
    CreateMultipartUpload,
    UploadPart { upload_id: String, part_number: u32 },
    ListParts { upload_id: String },
    CompleteMultipartUpload { upload_id: String },
    AbortMultipartUpload { upload_id: String },
}

impl Operation {
    /// The operation named by `method` with or without `uploadId` and `partNumber`, or why
    /// none is signed. Pure, so every pair is checked by a unit test.
    pub(crate) fn classify(
        method: &str,
        upload_id: Option<&str>,
        part_number: Option<&Value>,
    ) -> Result<Self, ApiError> {
        let upload_id = upload_id.map(check_upload_id).transpose()?;
        let part_number = part_number.map(check_part_number).transpose()?;
        let op = match (method, upload_id, part_number) {
            ("PUT", None, None) => Operation::PutObject,
            ("POST", None, None) => Operation::CreateMultipartUpload,
            ("PUT", Some(upload_id), Some(part_number)) => Operation::UploadPart {
                upload_id,
                part_number,
            },
            ("PUT", Some(_), None) => {
                return Err(ApiError::field(
                    "partNumber",
                    "is required to sign an UploadPart (PUT with uploadId)",
                ));
            }
            (_, None, Some(_)) => {
                return Err(ApiError::field(
                    "uploadId",
                    "is required with partNumber (only UploadPart has a part number)",
                ));
            }
            ("GET" | "POST" | "DELETE", Some(_), Some(_)) => {
                return Err(ApiError::field(
                    "partNumber",
                    "only UploadPart (PUT) takes a part number",
                ));
            }
            ("GET", Some(upload_id), None) => Operation::ListParts { upload_id },
            ("POST", Some(upload_id), None) => Operation::CompleteMultipartUpload { upload_id },
            ("DELETE", Some(upload_id), None) => Operation::AbortMultipartUpload { upload_id },
            ("GET" | "DELETE", None, None) => {
                return Err(ApiError::field(
                    "method",
                    format!(
                        "{method} without uploadId would read or delete a stored object; \
                         this coordinator signs uploads only"
                    ),
                )
                .with_status(StatusCode::FORBIDDEN));
            }
            _ => {
                return Err(ApiError::field(
                    "method",
                    format!("{method:?} is not one of PUT, POST, GET, DELETE"),
                ));
            }
        };
        Ok(op)
    }

    fn url_kind(&self, size: Option<u64>) -> UrlKind {
        match self {
            Operation::PutObject => UrlKind::SinglePut {
                size: size.unwrap_or(hoist_core::plan::MAX_SINGLE_PUT),
            },
            Operation::UploadPart { .. } => UrlKind::Part,
            _ => UrlKind::Control,
        }
    }

    fn presign_kind(&self) -> PresignKind {
        match self {
            Operation::PutObject => PresignKind::Single,
            Operation::UploadPart { .. } => PresignKind::Part,
            _ => PresignKind::Control,
        }
    }
}

fn check_upload_id(id: &str) -> Result<String, ApiError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_UPLOAD_ID_BYTES
        && id.bytes().all(|b| (0x21..0x7f).contains(&b));
    if ok {
        Ok(id.to_string())
    } else {
        Err(ApiError::field(
            "uploadId",
            "must be 1 to 1024 printable ASCII characters without spaces",
        ))
    }
}

fn check_part_number(v: &Value) -> Result<u32, ApiError> {
    v.as_u64()
        .or_else(|| {
            v.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        })
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| {
            ApiError::field(
                "partNumber",
                format!("{v} is not a part number: a whole number 1..=10000"),
            )
        })
}

/// The lifetime granted for a URL of `kind`: the caller's `expiresIn`, raised to
/// [`MIN_URL_TTL`] and lowered to the server's policy (which also caps it at the signing
/// credentials' expiry); the policy's own value when the caller names none.
fn granted_ttl(policy: Duration, requested: Option<u64>) -> Duration {
    let floor = MIN_URL_TTL.min(policy);
    match requested {
        None => policy,
        Some(secs) => Duration::from_secs(secs).clamp(floor, policy),
    }
}

/// The HMAC that binds keys to callers, keyed from the token secret so that replicas sharing
/// tokens share bindings.
fn binding_mac(state: &AppState) -> Hmac<Sha256> {
    let mut derive = <Hmac<Sha256> as KeyInit>::new_from_slice(state.token_secret().as_bytes())
        .expect("HMAC takes any key length");
    derive.update(BINDING_LABEL);
    let key = derive.finalize().into_bytes();
    <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("HMAC takes any key length")
}

fn tag(state: &AppState, owner: &str, prefix: &str, uuid: &str, name: &str) -> Hmac<Sha256> {
    let mut mac = binding_mac(state);
    // Length-prefixed fields: no two different tuples feed the same bytes.
    for field in [owner, prefix, uuid, name] {
        mac.update(&(field.len() as u64).to_be_bytes());
        mac.update(field.as_bytes());
    }
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The folder every key of `who` lies in (no slashes at either end).
fn caller_prefix<'a>(state: &'a AppState, who: &'a Principal) -> &'a str {
    match who {
        Principal::Grant(g) => g.prefix.trim_matches('/'),
        _ => state.config().key_prefix.trim_matches('/'),
    }
}

/// A fresh key bound to `who`: `{prefix}/{uuid}.{tag}/{sanitised file name}`.
pub(crate) fn issue_key(state: &AppState, who: &Principal, filename: &str) -> String {
    let prefix = caller_prefix(state, who);
    let uuid = keys::uuid_v4();
    let name = keys::sanitise_filename(filename);
    let full = tag(state, &who.owner(), prefix, &uuid, &name)
        .finalize()
        .into_bytes();
    let folder = format!("{uuid}.{}", hex(&full[..TAG_BYTES]));
    if prefix.is_empty() {
        format!("{folder}/{name}")
    } else {
        format!("{prefix}/{folder}/{name}")
    }
}

/// Check that `key` was issued to `who` by [`issue_key`] and lies under the caller's prefix.
pub(crate) fn check_bound_key(
    state: &AppState,
    who: &Principal,
    key: &str,
) -> Result<(), ApiError> {
    keys::validate_key(key, "key")?;
    let refuse =
        |why: &str| Err(ApiError::field("key", why.to_string()).with_status(StatusCode::FORBIDDEN));
    let Some((rest, name)) = key.rsplit_once('/') else {
        return refuse("was not issued to this caller by /s3/sign");
    };
    let (prefix, folder) = rest.rsplit_once('/').unwrap_or(("", rest));
    if prefix != caller_prefix(state, who) {
        return refuse("is outside the caller's prefix");
    }
    if let Principal::Grant(g) = who
        && !g.covers_key(key)
    {
        return refuse("is outside the grant's prefix");
    }
    let Some((uuid, tag_hex)) = folder.split_once('.') else {
        return refuse("was not issued to this caller by /s3/sign");
    };
    let Some(tag_bytes) = unhex(tag_hex).filter(|t| t.len() == TAG_BYTES) else {
        return refuse("was not issued to this caller by /s3/sign");
    };
    // verify_truncated_left compares in constant time.
    if tag(state, &who.owner(), prefix, uuid, name)
        .verify_truncated_left(&tag_bytes)
        .is_err()
    {
        return refuse("was not issued to this caller by /s3/sign");
    }
    Ok(())
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `POST /s3/sign`.
pub(crate) async fn sign(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<ApiJson<SignBody>, ApiError>,
) -> Result<Json<Value>, ApiError> {
    let who = state.authenticate(&headers)?;
    let ApiJson(body) = body?;
    let op = Operation::classify(
        &body.method,
        body.upload_id.as_deref(),
        body.part_number.as_ref(),
    )?;
    if op != Operation::PutObject && body.size.is_some() {
        return Err(ApiError::field(
            "size",
            "only a single PUT takes a size; a multipart upload's is checked at completion",
        ));
    }
    keys::validate_key(&body.key, "key")?;
    // Refused on every call, though only a PutObject and a Complete carry it.
    let asked = no_clobber(&state, &who, body.if_none_match.as_deref(), "ifNoneMatch")?;
    conditional::require(&state, asked).await?;
    let bucket = state.config().bucket.clone();
    let mut created = None;
    let (request, key) = match &op {
        Operation::PutObject | Operation::CreateMultipartUpload => {
            let (r, key, event) = new_upload(&state, &who, &op, &body, &bucket).await?;
            created = event;
            (r, key)
        }
        Operation::UploadPart {
            upload_id,
            part_number,
        } => {
            check_bound_key(&state, &who, &body.key)?;
            let r = PresignRequest::upload_part(
                bucket,
                body.key.clone(),
                upload_id.clone(),
                *part_number,
            );
            (r, body.key.clone())
        }
        Operation::ListParts { upload_id } => {
            check_bound_key(&state, &who, &body.key)?;
            let r =
                PresignRequest::list_parts(bucket, body.key.clone(), upload_id.clone(), None, None);
            (r, body.key.clone())
        }
        Operation::CompleteMultipartUpload { upload_id } => {
            check_bound_key(&state, &who, &body.key)?;
            check_before_complete(&state, &who, &body.key, upload_id).await?;
            let r = PresignRequest::complete_multipart_upload(
                bucket,
                body.key.clone(),
                upload_id.clone(),
            );
            let no_clobber =
                no_clobber(&state, &who, body.if_none_match.as_deref(), "ifNoneMatch")?;
            (if_absent(r, no_clobber), body.key.clone())
        }
        Operation::AbortMultipartUpload { upload_id } => {
            check_bound_key(&state, &who, &body.key)?;
            let r =
                PresignRequest::abort_multipart_upload(bucket, body.key.clone(), upload_id.clone());
            (r, body.key.clone())
        }
    };
    let policy = state.url_ttl(op.url_kind(body.size))?;
    // The browser completes or aborts on its own, unseen: such an upload counts for the window.
    if op == Operation::CreateMultipartUpload {
        state.count_new_upload(&who)?;
    }
    let ttl = granted_ttl(policy, body.expires_in);
    let (url, headers) =
        super::presign_for_browser(&state, &request.expires_in(ttl), op.presign_kind())?;
    if matches!(op, Operation::PutObject | Operation::CreateMultipartUpload) {
        state.metrics().upload(Outcome::Created);
    }
    if let Some(event) = created {
        state.hooks().deliver_later(EventType::Created, event);
    }
    Ok(Json(json!({
        "url": url,
        "key": key,
        "headers": headers,
        "expiresIn": ttl.as_secs(),
    })))
}

/// The request for a new upload on a fresh key bound to the caller, after the same checks as
/// every other creation (content type, grant types and sizes) and the pre-create hook. A key
/// the hook names lies within the caller's grant; this route keeps its own key binding, so the
/// upload goes to a fresh bound key with the hook's file name (its key's last segment).
async fn new_upload(
    state: &AppState,
    who: &Principal,
    op: &Operation,
    body: &SignBody,
    bucket: &str,
) -> Result<(PresignRequest<'static>, String, Option<UploadEvent>), ApiError> {
    let single = *op == Operation::PutObject;
    if single
        && body.size.is_none()
        && let Principal::Grant(g) = who
        && g.max_size.is_some()
    {
        return Err(ApiError::field(
            "size",
            "this grant limits the size: send size with a PUT",
        ));
    }
    if let Some(size) = body.size
        && size > hoist_core::plan::MAX_SINGLE_PUT
    {
        return Err(ApiError::field(
            "size",
            "too large for a single PUT; use multipart",
        ));
    }
    // Uppy's key is its suggestion; like Companion, hoist keeps only the file name from it.
    let filename = body.key.rsplit('/').next().unwrap_or("file").to_string();
    let create = CreateUpload {
        size: body.size.unwrap_or(0),
        filename: Some(filename.clone()),
        key: None,
        content_type: body.content_type.clone().filter(|t| !t.is_empty()),
        checksum: None,
        metadata: None,
        if_none_match: None,
    };
    let issued = issue_key(state, who, &filename);
    let asked = Asked {
        route: "/s3/sign",
        strategy: Some(if single { "single" } else { "multipart" }),
        size: body.size,
    };
    let admitted = admit_as(state, who, &create, asked, Some(issued.clone())).await?;
    if admitted.max_size.is_some() {
        if !single {
            return Err(ApiError::forbidden(
                "refused",
                "the application limits this upload's size, which a multipart upload through \
                 /s3/sign cannot be held to; use the Companion routes (/s3/multipart)",
            ));
        }
        if body.size.is_none() {
            return Err(ApiError::field(
                "size",
                "the application limits the size: send size with a PUT",
            ));
        }
    }
    let key = if admitted.key == issued {
        issued
    } else {
        let name = admitted.key.rsplit('/').next().unwrap_or("file");
        issue_key(state, who, name)
    };
    let no_clobber = no_clobber(state, who, body.if_none_match.as_deref(), "ifNoneMatch")?;
    let mut r = if single {
        PresignRequest::put_object(bucket.to_string(), key.clone())
    } else {
        PresignRequest::create_multipart_upload(bucket.to_string(), key.clone())
    }
    .content_type(admitted.content_type.clone());
    if let Some(size) = body.size {
        r = r.content_length(size);
    }
    // Only a hook sets metadata here; the browser sends the headers it is answered.
    for (k, v) in &admitted.metadata {
        r = r.header(format!("x-amz-meta-{k}"), v.clone());
    }
    let event = state.hooks().sends_events().then(|| {
        let mut created = admitted.clone();
        created.key.clone_from(&key);
        let strategy = if single { "single" } else { "multipart" };
        created.created_event(state, who, asked, strategy, key_id(state, &key))
    });
    // A CreateMultipartUpload takes no condition: its Complete does.
    if single {
        r = if_absent(r, no_clobber);
    }
    Ok((r, key, event))
}

/// Before the browser may complete: the upload exists on this key (the store answers ListParts
/// only for the key the upload was created on) and its stored parts fit the caller's limit.
/// An upload over the limit is aborted here, since the coordinator will not see the completion.
async fn check_before_complete(
    state: &AppState,
    who: &Principal,
    key: &str,
    upload_id: &str,
) -> Result<(), ApiError> {
    let parts = match stored_parts(state.store(), key, upload_id).await {
        Ok(p) => p,
        Err(e) => {
            let gone = e.is_no_such_upload();
            let err = store_failure(state, e);
            return Err(if gone {
                err.with_field("uploadId")
            } else {
                err
            });
        }
    };
    let total: u64 = parts.iter().map(|p| p.size).sum();
    let limit = match who {
        Principal::Grant(g) => g.max_size.unwrap_or(u64::MAX),
        _ => u64::MAX,
    }
    .min(state.config().max_upload_size);
    if total > limit {
        let token = UploadToken {
            bucket: state.config().bucket.clone(),
            key: key.to_string(),
            upload_id: upload_id.to_string(),
            size: 0,
            part_size: 0,
            owner: who.owner(),
            expires_at: 0,
            content_type: String::new(),
            no_clobber: false,
        };
        abort_upload(state, &token).await?;
        state.metrics().upload(Outcome::Failed);
        return Err(ApiError::field(
            "uploadId",
            format!("{total} bytes is over the limit of {limit} bytes; the upload was aborted"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(m: &str, id: Option<&str>, n: Option<Value>) -> Result<Operation, ApiError> {
        Operation::classify(m, id, n.as_ref())
    }

    #[test]
    fn every_method_and_operation_pair() {
        let id = Some("u1");
        assert_eq!(classify("PUT", None, None).unwrap(), Operation::PutObject);
        assert_eq!(
            classify("POST", None, None).unwrap(),
            Operation::CreateMultipartUpload
        );
        assert_eq!(
            classify("PUT", id, Some(json!(7))).unwrap(),
            Operation::UploadPart {
                upload_id: "u1".into(),
                part_number: 7
            }
        );
        assert_eq!(
            classify("GET", id, None).unwrap(),
            Operation::ListParts {
                upload_id: "u1".into()
            }
        );
        assert_eq!(
            classify("POST", id, None).unwrap(),
            Operation::CompleteMultipartUpload {
                upload_id: "u1".into()
            }
        );
        assert_eq!(
            classify("DELETE", id, None).unwrap(),
            Operation::AbortMultipartUpload {
                upload_id: "u1".into()
            }
        );
        // Reading or deleting stored objects is never signed.
        for m in ["GET", "DELETE"] {
            let e = classify(m, None, None).unwrap_err();
            assert_eq!(
                (e.status, e.field.as_deref()),
                (StatusCode::FORBIDDEN, Some("method"))
            );
        }
        for (m, id, n, field) in [
            ("PUT", id, None, "partNumber"),
            ("PUT", None, Some(json!(1)), "uploadId"),
            ("GET", id, Some(json!(1)), "partNumber"),
            ("POST", id, Some(json!(1)), "partNumber"),
            ("HEAD", id, None, "method"),
            ("put", None, None, "method"),
            ("PATCH", None, None, "method"),
        ] {
            let e = classify(m, id, n).unwrap_err();
            assert_eq!(
                (e.status, e.field.as_deref()),
                (StatusCode::BAD_REQUEST, Some(field)),
                "{m} {id:?}"
            );
        }
    }

    #[test]
    fn absurd_part_numbers_and_upload_ids() {
        for n in [
            json!(0),
            json!(10_001),
            json!(-1),
            json!(1.5),
            json!("3"),
            json!(1e30),
            json!(u64::MAX),
        ] {
            let e = classify("PUT", Some("u"), Some(n.clone())).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("partNumber"), "{n}");
        }
        assert!(classify("PUT", Some("u"), Some(json!(10_000))).is_ok());
        for id in ["", "a b", "a\nb", &"x".repeat(1025)] {
            let e = classify("GET", Some(id), None).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("uploadId"), "{id:?}");
        }
    }

    #[test]
    fn expires_in_is_clamped_to_the_policy() {
        let hour = Duration::from_secs(3600);
        assert_eq!(granted_ttl(hour, None), hour);
        assert_eq!(granted_ttl(hour, Some(10 * 86_400)), hour);
        assert_eq!(granted_ttl(hour, Some(1)), MIN_URL_TTL);
        assert_eq!(granted_ttl(hour, Some(900)), Duration::from_secs(900));
        // A policy below the floor (short-lived credentials) wins over the floor.
        let short = Duration::from_secs(60);
        assert_eq!(granted_ttl(short, Some(1)), short);
        assert_eq!(granted_ttl(short, Some(0)), short);
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(
            unhex(&hex(&[0, 1, 0xab, 0xff])).unwrap(),
            vec![0, 1, 0xab, 0xff]
        );
        assert!(unhex("abc").is_none());
        assert!(unhex("zz").is_none());
        assert!(unhex("é1").is_none());
    }
}
