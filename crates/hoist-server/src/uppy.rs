//! The routes `@uppy/aws-s3` 4.x/5.x expects from a Companion-style backend (`endpoint`
//! option), as thin adapters over the same signing, auth and control calls as `/v1`.
//!
//! Uppy picks the part size itself and never sends the file size when it creates a multipart
//! upload, so these uploads carry no plan: part URLs cannot pin a content length, and the size
//! policy is enforced at completion from the stored parts (an upload over the limit is
//! aborted). The `uploadId` Uppy sees is the coordinator's signed token.
//!
//! `@uppy/aws-s3` 6.x (`signRequest` option) needs one route instead, `POST /s3/sign`, in
//! [`sign`]. In its `companionEndpoint` mode, 6.x uses these routes but uploads a small file
//! with an S3 POST form, which `/s3/params` answers through [`post`].

pub(crate) mod post;
pub(crate) mod sign;

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use axum::Json;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use hoist_core::presign::PresignRequest;
use hoist_core::s3::{CompletedPart, WriteCondition};
use hoist_core::ttl::UrlKind;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::admit::{Asked, admit};
use crate::api::CreateUpload;
use crate::auth::Principal;
use crate::conditional;
use crate::error::{ApiError, ApiJson};
use crate::hooks::EventType;
use crate::metrics::{Outcome, PresignKind};
use crate::notify::{key_id, multipart_id};
use crate::state::AppState;
use crate::store::stored_parts;
use crate::token::UploadToken;
use crate::uploads::{
    abort_upload, if_absent, presign_one, proven_ours, sign_failure, store_failure, write_failure,
};
use crate::validate::no_clobber;

const MAX_PART_NUMBER: u32 = 10_000;

/// The decoded query, read by hand so that every mistake answers in the JSON error shape.
struct QueryMap(Vec<(String, String)>);

impl QueryMap {
    fn new(raw: Option<&str>) -> Self {
        Self(form_pairs(raw.unwrap_or("")))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `metadata[name]=value` pairs, as Uppy sends them.
    fn metadata(&self) -> BTreeMap<String, String> {
        s3_metadata(self.0.iter().filter_map(|(k, v)| {
            let name = k.strip_prefix("metadata[")?.strip_suffix(']')?;
            Some((name, v.as_str()))
        }))
    }
}

/// The S3 metadata of Uppy's file meta fields. Uppy sends every field it has (`name`,
/// `type`, `relativePath`, whatever the app added), so they are taken as S3 takes metadata
/// names (lower-cased) and the ones S3 cannot carry in `x-amz-meta-*` headers are left out:
/// non-string values, names other than letters, digits, `-` and `_`, values that are not
/// printable ASCII (a file name such as `résumé.pdf`: the key keeps it).
fn s3_metadata<'a>(fields: impl Iterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, String> {
    fields
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .filter(|(k, v)| {
            !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
                && v.bytes().all(|b| (0x20..0x7f).contains(&b))
        })
        .map(|(k, v)| (k, v.to_owned()))
        .collect()
}

/// A whole number written as JSON Schema's integers may be: `5`, `5.0`, `5e3`.
fn whole_number(text: &str) -> Option<u64> {
    if let Ok(n) = text.parse::<u64>() {
        return Some(n);
    }
    let f: f64 = text.parse().ok()?;
    (f.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&f)).then_some(f as u64)
}

/// Decode `application/x-www-form-urlencoded` pairs.
fn form_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                hoist_core::encoding::percent_decode(&s.replace('+', " "))
                    .unwrap_or_else(|| s.to_string())
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// `GET /s3/params`: one single-PUT URL (content type pinned; content length too when the
/// caller sends `size`), or a POST form for Uppy 6's `companionEndpoint` mode ([`post`]).
pub(crate) async fn params(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let who = state.authenticate(&headers)?;
    let q = QueryMap::new(raw.as_deref());
    let form = post::wants_form(&headers, q.get("method"))?;
    let size = q
        .get("size")
        .map(|s| whole_number(s).ok_or(()))
        .transpose()
        .map_err(|()| ApiError::field("size", "must be a whole number of bytes"))?;
    // A form bounds the size itself (content-length-range); a PUT URL needs it up front.
    if !form
        && size.is_none()
        && let Principal::Grant(g) = &who
        && g.max_size.is_some()
    {
        return Err(ApiError::field(
            "size",
            "this grant limits the size: send size in the query",
        ));
    }
    let req = CreateUpload {
        size: size.unwrap_or(0),
        filename: q.get("filename").map(str::to_string),
        key: None,
        content_type: q.get("type").filter(|t| !t.is_empty()).map(str::to_string),
        checksum: None,
        metadata: Some(q.metadata()),
        if_none_match: q.get("if_none_match").map(str::to_string),
    };
    let no_clobber = no_clobber(&state, &who, req.if_none_match.as_deref(), "if_none_match")?;
    conditional::require(&state, no_clobber).await?;
    let asked = Asked {
        route: "/s3/params",
        strategy: Some("single"),
        size,
    };
    let admitted = admit(&state, &who, &req, asked).await?;
    // A PUT URL pins its length only when the size is known: the application's limit needs it.
    if !form && size.is_none() && admitted.max_size.is_some() {
        return Err(ApiError::field(
            "size",
            "the application limits the size: send size in the query",
        ));
    }
    let (key, content_type) = (admitted.key.clone(), admitted.content_type.clone());
    let created = |state: &AppState| {
        if state.hooks().sends_events() {
            let e = admitted.created_event(state, &who, asked, "single", key_id(state, &key));
            state.hooks().deliver_later(EventType::Created, e);
        }
        state.metrics().upload(Outcome::Created);
    };
    // S3's POST Object takes no write condition: a no-clobber upload is a PUT, even for a
    // caller that asked for a form (Uppy sends the method it is answered).
    if form && !no_clobber {
        let started = Instant::now();
        let upload = post::FormUpload {
            key: &key,
            content_type: &content_type,
            size,
            max_size: admitted.max_size,
            metadata: admitted.metadata.clone().into_iter().collect(),
        };
        let answer = post::form_answer(&state, &who, &upload)?;
        state
            .metrics()
            .presigned(PresignKind::Single, 1, started.elapsed());
        created(&state);
        return Ok(Json(answer));
    }
    let bucket = state.config().bucket.as_str();
    let mut r =
        PresignRequest::put_object(bucket, key.as_str()).content_type(content_type.as_str());
    if let Some(size) = size {
        if size > hoist_core::plan::MAX_SINGLE_PUT {
            return Err(ApiError::field(
                "size",
                "too large for a single PUT; use multipart",
            ));
        }
        r = r.content_length(size);
    }
    for (k, v) in &admitted.metadata {
        r = r.header(format!("x-amz-meta-{k}"), v.as_str());
    }
    let r = if_absent(r, no_clobber);
    let ttl = state.url_ttl(UrlKind::SinglePut {
        size: size.unwrap_or(hoist_core::plan::MAX_SINGLE_PUT),
    })?;
    let (url, headers) = presign_for_browser(&state, &r.expires_in(ttl), PresignKind::Single)?;
    created(&state);
    Ok(Json(json!({
        "method": "PUT",
        "url": url,
        "fields": {},
        "headers": headers,
        "expires": ttl.as_secs(),
        "key": key,
        "bucket": bucket,
    })))
}

/// Presigns one request a browser will send, counted in the metrics. Answers the URL and the
/// headers to send with it, less `content-length`: the browser sets that itself and may not
/// name it, and it is signed all the same.
pub(crate) fn presign_for_browser(
    state: &AppState,
    request: &PresignRequest<'_>,
    kind: PresignKind,
) -> Result<(String, HashMap<String, String>), ApiError> {
    let url = presign_one(state, request, state.now(), kind)?;
    let headers = url
        .headers
        .into_iter()
        .filter(|(k, _)| k != "content-length")
        .collect();
    Ok((url.url, headers))
}

#[derive(Debug, Deserialize)]
pub(crate) struct CreateBody {
    filename: Option<String>,
    #[serde(rename = "type")]
    content_type: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, Value>,
    /// hoist's own: `*` makes the upload refuse to replace an object at its key.
    #[serde(default)]
    if_none_match: Option<String>,
}

/// `POST /s3/multipart`: start a multipart upload of unknown size.
pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<ApiJson<CreateBody>, ApiError>,
) -> Result<Json<Value>, ApiError> {
    let who = state.authenticate(&headers)?;
    let ApiJson(body) = body?;
    let metadata = s3_metadata(
        body.metadata
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?))),
    );
    let req = CreateUpload {
        size: 0,
        filename: body.filename,
        key: None,
        content_type: body.content_type.filter(|t| !t.is_empty()),
        checksum: None,
        metadata: Some(metadata),
        if_none_match: body.if_none_match,
    };
    let no_clobber = no_clobber(&state, &who, req.if_none_match.as_deref(), "if_none_match")?;
    conditional::require(&state, no_clobber).await?;
    let asked = Asked {
        route: "/s3/multipart",
        strategy: Some("multipart"),
        size: None,
    };
    let admitted = admit(&state, &who, &req, asked).await?;
    let (key, content_type) = (admitted.key.clone(), admitted.content_type.clone());
    let cfg = state.config();
    state.count_new_upload(&who)?;
    let upload_id = state
        .store()
        .create_multipart(
            &key,
            &hoist_s3::CreateMultipart {
                content_type: Some(content_type.clone()),
                metadata: admitted.metadata.clone(),
                checksum: None,
            },
        )
        .await
        .map_err(|e| {
            state.uncount_upload(&who.owner());
            store_failure(&state, e)
        })?;
    let now = u64::try_from(state.now().unix_seconds()).unwrap_or(0);
    let token = UploadToken {
        bucket: cfg.bucket.clone(),
        key: key.clone(),
        upload_id,
        // An Uppy upload has no plan (part size 0): its size field is the application's
        // limit on its size, checked at completion (0: none).
        size: admitted.max_size.unwrap_or(0),
        part_size: 0,
        owner: who.owner(),
        expires_at: now + cfg.upload_ttl.as_secs(),
        content_type,
        no_clobber,
    };
    if state.hooks().sends_events() {
        let mut e = admitted.created_event(
            &state,
            &who,
            asked,
            "multipart",
            multipart_id(&state, &token.key, &token.upload_id),
        );
        e.s3_upload_id = Some(token.upload_id.clone());
        state.hooks().deliver_later(EventType::Created, e);
    }
    state.metrics().upload(Outcome::Created);
    Ok(Json(json!({
        "key": key,
        "uploadId": state.tokens().seal(&token),
        "bucket": cfg.bucket,
    })))
}

/// The upload a request under `/s3/multipart/{uploadId}` is about: the authenticated caller and
/// the token Uppy sends as `uploadId`, opened for that caller and checked against the `key`
/// query parameter Uppy sends alongside. Every multipart route but creation starts here.
pub(crate) struct UppyUpload {
    who: Principal,
    token: UploadToken,
    /// The token as Uppy holds it.
    sealed: String,
}

impl FromRequestParts<AppState> for UppyUpload {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let who = state.authenticate(&parts.headers)?;
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::field("uploadId", e.body_text()))?;
        let upload_id = params
            .get("uploadId")
            .ok_or_else(|| ApiError::field("uploadId", "missing from the path"))?;
        let token = state.open_token(upload_id, &who)?;
        if token.upload_id.is_empty() {
            return Err(ApiError::conflict(
                "not_multipart",
                "this upload is a single PUT",
            ));
        }
        let query = QueryMap::new(parts.uri.query());
        if query.get("key").is_some_and(|k| k != token.key) {
            // S3 answers NoSuchUpload when an upload id is not the key's.
            return Err(ApiError::not_found(
                "no_such_upload",
                "no upload with this id has that key",
            ));
        }
        Ok(Self {
            who,
            token,
            sealed: upload_id.clone(),
        })
    }
}

fn sign_part(state: &AppState, token: &UploadToken, n: u32) -> Result<(String, u64), ApiError> {
    state.check_live(token)?;
    let ttl = state.url_ttl(UrlKind::Part)?;
    let r = part_request(token, n).expires_in(ttl);
    let url = presign_one(state, &r, state.now(), PresignKind::Part)?;
    Ok((url.url, ttl.as_secs()))
}

fn part_request(token: &UploadToken, n: u32) -> PresignRequest<'_> {
    PresignRequest::upload_part(
        token.bucket.as_str(),
        token.key.as_str(),
        token.upload_id.as_str(),
        n,
    )
}

fn part_number(text: &str, field: &str) -> Result<u32, ApiError> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| ApiError::field(field, format!("{text:?} is not a part number 1..=10000")))
}

/// `GET /s3/multipart/{uploadId}/{partNumber}?key=`.
pub(crate) async fn sign_one(
    State(state): State<AppState>,
    UppyUpload { token, .. }: UppyUpload,
    Path((_, number)): Path<(String, String)>,
) -> Result<Json<SignedPart>, ApiError> {
    let n = part_number(&number, "partNumber")?;
    let (url, expires) = sign_part(&state, &token, n)?;
    Ok(Json(SignedPart { expires, url }))
}

/// A signed part URL as Uppy reads it; written straight from these fields.
#[derive(serde::Serialize)]
pub(crate) struct SignedPart {
    expires: u64,
    url: String,
}

/// `GET /s3/multipart/{uploadId}/batch?key=&partNumbers=1,2`.
pub(crate) async fn batch(
    State(state): State<AppState>,
    UppyUpload { token, .. }: UppyUpload,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let q = QueryMap::new(raw.as_deref());
    let list = q.get("partNumbers").unwrap_or_default();
    let numbers: Vec<&str> = list.split(',').filter(|s| !s.is_empty()).collect();
    let max_batch = state.config().max_batch;
    if numbers.is_empty() || numbers.len() > max_batch as usize {
        return Err(ApiError::field(
            "partNumbers",
            format!("must list 1 to {max_batch} part numbers"),
        ));
    }
    let numbers = numbers
        .into_iter()
        .map(|text| part_number(text, "partNumbers"))
        .collect::<Result<Vec<_>, _>>()?;
    state.check_live(&token)?;
    let ttl = state.url_ttl(UrlKind::Part)?;
    // Signed together: the parts' URLs share everything up to the part number.
    let (now, started) = (state.now(), Instant::now());
    let signer = state.store().signer(now, false);
    let mut together = signer.parts_signer(now, numbers.len());
    let mut urls = serde_json::Map::new();
    for &n in &numbers {
        let url = together
            .presign(&part_request(&token, n).expires_in(ttl))
            .map_err(|e| sign_failure(&state, e))?;
        urls.insert(n.to_string(), Value::String(url.url));
    }
    state
        .metrics()
        .presigned(PresignKind::Part, numbers.len() as u64, started.elapsed());
    Ok(Json(json!({ "presignedUrls": urls })))
}

/// `GET /s3/multipart/{uploadId}?key=`: every stored part.
pub(crate) async fn list_parts(
    State(state): State<AppState>,
    UppyUpload { token, .. }: UppyUpload,
) -> Result<Json<Value>, ApiError> {
    let parts = stored_parts(state.store(), &token.key, &token.upload_id)
        .await
        .map_err(|e| store_failure(&state, e))?;
    Ok(Json(Value::Array(
        parts
            .into_iter()
            .map(|p| json!({"PartNumber": p.number, "ETag": p.etag, "Size": p.size}))
            .collect(),
    )))
}

#[derive(Debug, Deserialize)]
pub(crate) struct CompleteBody {
    #[serde(default)]
    parts: Vec<UppyPart>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct UppyPart {
    #[serde(rename = "PartNumber", deserialize_with = "crate::api::whole::u32")]
    part_number: u32,
    #[serde(rename = "ETag", default)]
    etag: Option<String>,
}

/// `POST /s3/multipart/{uploadId}/complete?key=`.
pub(crate) async fn complete(
    State(state): State<AppState>,
    upload: UppyUpload,
    body: Result<ApiJson<CompleteBody>, ApiError>,
) -> Result<Json<Value>, ApiError> {
    let ApiJson(body) = body?;
    complete_parts(&state, &upload, body).await?;
    let UppyUpload { who, token, sealed } = upload;
    // Delivered before the answer, on every Complete (see `/v1`'s complete).
    let delivered = crate::notify::completed(&state, &who, &token, &sealed, "/s3/multipart").await;
    let mut answer = location(&state, &token);
    if let Some(delivered) = delivered {
        answer["hook_pending"] = Value::Bool(!delivered);
    }
    Ok(Json(answer))
}

/// Completes the upload with the parts Uppy names (all stored ones when it names none), or
/// finds it completed before.
async fn complete_parts(
    state: &AppState,
    UppyUpload { who, token, .. }: &UppyUpload,
    body: CompleteBody,
) -> Result<(), ApiError> {
    let listed = match stored_parts(state.store(), &token.key, &token.upload_id).await {
        Ok(p) => p,
        Err(e) if e.is_no_such_upload() => {
            // Completed before: answer the same (a no-clobber upload's only when the object
            // is shown to be its, from the ETags Uppy sends).
            return match state.store().head_object(&token.key).await {
                Ok(Some(obj)) => {
                    let mut named: Vec<_> = body.parts.iter().collect();
                    named.sort_by_key(|p| p.part_number);
                    let md5s = named
                        .iter()
                        .enumerate()
                        .map(|(i, p)| {
                            let e = p
                                .etag
                                .as_deref()
                                .filter(|_| p.part_number as usize == i + 1);
                            e.and_then(hoist_core::checksum::etag::md5_of)
                        })
                        .collect::<Option<Vec<_>>>()
                        .filter(|m| !m.is_empty());
                    proven_ours(token, md5s, &obj.etag)?;
                    Ok(())
                }
                Ok(None) => Err(store_failure(state, e)),
                Err(e) => Err(store_failure(state, e)),
            };
        }
        Err(e) => return Err(store_failure(state, e)),
    };
    // The size policy, which could not be checked up front.
    let total: u64 = listed.iter().map(|p| p.size).sum();
    let limit = match &who {
        Principal::Grant(g) => g.max_size.unwrap_or(u64::MAX),
        _ => u64::MAX,
    }
    .min(state.config().max_upload_size)
    .min(if token.size > 0 { token.size } else { u64::MAX });
    if total > limit {
        abort_upload(state, token).await?;
        return Err(ApiError::field(
            "parts",
            format!("{total} bytes is over the limit of {limit} bytes; the upload was aborted"),
        ));
    }
    let wanted: HashMap<u32, Option<String>> = body
        .parts
        .into_iter()
        .map(|p| {
            (
                p.part_number,
                p.etag.map(|e| e.trim_matches('"').to_string()),
            )
        })
        .collect();
    let mut parts = Vec::new();
    for p in &listed {
        if !wanted.is_empty() && !wanted.contains_key(&p.number) {
            continue;
        }
        if let Some(Some(e)) = wanted.get(&p.number)
            && e != p.etag.trim_matches('"')
        {
            return Err(ApiError::conflict(
                "etag_mismatch",
                format!("part {} is stored with ETag {}, not {e}", p.number, p.etag),
            ));
        }
        parts.push(CompletedPart::new(p.number, p.etag.clone()));
    }
    if let Some(n) = wanted
        .keys()
        .find(|n| !listed.iter().any(|p| p.number == **n))
    {
        return Err(ApiError::conflict(
            "parts_missing",
            format!("part {n} is not stored"),
        ));
    }
    if parts.is_empty() {
        return Err(ApiError::field("parts", "no part is stored yet")
            .with_status(axum::http::StatusCode::CONFLICT));
    }
    let condition = token.no_clobber.then_some(WriteCondition::IfAbsent);
    state
        .store()
        .complete_if(
            &token.key,
            &token.upload_id,
            &parts,
            None,
            condition.as_ref(),
        )
        .await
        .map_err(|e| {
            state.metrics().upload(Outcome::Failed);
            write_failure(state, token, e)
        })?;
    state.metrics().upload(Outcome::Completed);
    state.upload_ended(token);
    Ok(())
}

fn location(state: &AppState, token: &UploadToken) -> Value {
    let at = state.store().endpoint();
    let endpoint = format!("{}://{}", at.scheme(), at.host());
    let key = hoist_core::encoding::uri_encode_path(&token.key);
    json!({
        "location": format!("{endpoint}/{}/{key}", token.bucket),
        "key": token.key,
        "bucket": token.bucket,
    })
}

/// `DELETE /s3/multipart/{uploadId}?key=`.
pub(crate) async fn abort(
    State(state): State<AppState>,
    UppyUpload { who, token, sealed }: UppyUpload,
) -> Result<Json<Value>, ApiError> {
    abort_upload(&state, &token).await?;
    crate::notify::aborted(&state, &who, &token, &sealed, "/s3/multipart").await;
    Ok(Json(json!({})))
}
