//! The `/v1/uploads` flows: create, sign parts, state, complete, abort. The Uppy routes call the
//! same functions.

mod batch;
mod complete;
mod integrity;

pub(crate) use batch::{BATCH_BODY_LIMIT, complete_batch, create_batch};

use complete::finished_object;
pub(crate) use complete::{complete_upload, proven_ours};

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hoist_core::error::S3ErrorCode;
use hoist_core::plan::{ObjectSize, Plan, Strategy, plan};
use hoist_core::presign::PresignRequest;
use hoist_core::s3::WriteCondition;
use hoist_core::ttl::UrlKind;

use crate::admit::{Asked, admit_as};
use crate::api::*;
use crate::auth::Principal;
use crate::conditional;
use crate::error::{ApiBytes, ApiError, ApiJson, parse_json};
use crate::metrics::{Outcome, PresignKind};
use crate::state::AppState;
use crate::store::{StoreError, stored_parts};
use crate::token::{TokenChecksum, UploadToken};
use crate::validate;
use hoist_s3::CreateMultipart;

/// The plan an upload was made with, rebuilt from its token: the one source of its part
/// count and of every part's range. Uploads created through the Uppy routes have none (Uppy
/// picks its part size); they are served by those routes only.
pub(crate) fn plan_of(token: &UploadToken) -> Result<Plan, ApiError> {
    let strategy = match strategy_of(token) {
        StrategyName::Single => Strategy::Single,
        StrategyName::Multipart => Strategy::Multipart,
    };
    Plan::from_part_size(strategy, token.size, token.part_size).ok_or_else(|| {
        ApiError::conflict(
            "uppy_upload",
            "this upload was created through the Uppy routes (/s3/multipart); use them",
        )
    })
}

/// The part count of a plan of known size (every plan an upload token records).
pub(crate) fn part_count(plan: &Plan) -> u32 {
    plan.part_count.unwrap_or_default()
}

/// Part `n` of `plan`: its offset and length.
fn part_range(plan: &Plan, n: u32) -> Result<(u64, u64), ApiError> {
    plan.part(n)
        .map(|p| (p.offset, p.length))
        .ok_or_else(|| ApiError::field("numbers", format!("part {n} is outside the plan")))
}

fn strategy_of(t: &UploadToken) -> StrategyName {
    if t.upload_id.is_empty() {
        StrategyName::Single
    } else {
        StrategyName::Multipart
    }
}

fn unix_rfc3339(secs: u64) -> String {
    hoist_core::time::Timestamp::from_unix(i64::try_from(secs).unwrap_or(i64::MAX)).to_rfc3339()
}

/// A store failure as the API answers it (the mapping is `ApiError`'s `From`), counted by S3
/// code and logged.
pub(crate) fn store_failure(state: &AppState, err: StoreError) -> ApiError {
    let code = err.code().unwrap_or_else(|| "transport".to_string());
    state.metrics().store_error(&code);
    tracing::warn!(%err, "store call failed");
    ApiError::from(err)
}

/// A URL that could not be signed (credentials expired, a lifetime out of range).
pub(crate) fn sign_failure(state: &AppState, err: hoist_core::presign::PresignError) -> ApiError {
    store_failure(
        state,
        StoreError::Sign {
            operation: "presign".into(),
            detail: err.to_string(),
        },
    )
}

/// Presigns one URL as of `now`, timed and counted in the metrics as `kind`.
pub(crate) fn presign_one(
    state: &AppState,
    request: &PresignRequest<'_>,
    now: hoist_core::time::Timestamp,
    kind: PresignKind,
) -> Result<hoist_core::presign::PresignedUrl, ApiError> {
    let started = Instant::now();
    let url = state
        .store()
        .signer(now, false)
        .presign(request, now)
        .map_err(|e| sign_failure(state, e))?;
    state.metrics().presigned(kind, 1, started.elapsed());
    Ok(url)
}

/// `If-None-Match: *` signed into a PUT of a no-clobber upload: the store refuses (412) to
/// replace an object at the key, and the uploader must send the header as signed.
pub(crate) fn if_absent(r: PresignRequest<'_>, no_clobber: bool) -> PresignRequest<'_> {
    if no_clobber {
        let (name, value) = WriteCondition::IfAbsent.header();
        r.header(name, value)
    } else {
        r
    }
}

/// The store's refusal of a no-clobber upload's write (its PUT or Complete): 412
/// `PreconditionFailed`, or 409 `ConditionalRequestConflict` when an object was written at
/// the key while the upload went on, answered as `already_exists`. Any other failure is
/// answered as every store failure is.
pub(crate) fn write_failure(state: &AppState, token: &UploadToken, err: StoreError) -> ApiError {
    let refused = err.is(&S3ErrorCode::PreconditionFailed)
        || err.is(&S3ErrorCode::ConditionalRequestConflict);
    if token.no_clobber && refused {
        state.metrics().store_error(&err.code().unwrap_or_default());
        tracing::info!(key = %token.key, "no-clobber upload refused: the key exists");
        return ApiError::already_exists(&token.key, &err);
    }
    store_failure(state, err)
}

/// Create an upload: plan it, start the multipart upload if needed, sign the first URLs.
pub(crate) async fn create_upload(
    state: &AppState,
    who: &Principal,
    req: CreateUpload,
) -> Result<Upload, ApiError> {
    create_upload_at(state, who, req, "/v1/uploads", None).await
}

/// [`create_upload`] as `route` does it (the route hooks are told), at `key` when the route
/// chose one (it is still checked and offered to the pre-create hook as the caller's own).
pub(crate) async fn create_upload_at(
    state: &AppState,
    who: &Principal,
    req: CreateUpload,
    route: &'static str,
    key: Option<String>,
) -> Result<Upload, ApiError> {
    let no_clobber =
        validate::no_clobber(state, who, req.if_none_match.as_deref(), "if_none_match")?;
    conditional::require(state, no_clobber).await?;
    let cfg = state.config();
    let p = plan(ObjectSize::Known(req.size), &cfg.plan)
        .map_err(|e| ApiError::field("size", e.to_string()))?;
    let asked = Asked {
        route,
        strategy: Some(match p.strategy {
            Strategy::Single => "single",
            Strategy::Multipart => "multipart",
        }),
        size: Some(req.size),
    };
    let admitted = admit_as(state, who, &req, asked, key).await?;
    let (key, content_type) = (admitted.key.clone(), admitted.content_type.clone());
    let now = state.now();
    let expires_at = u64::try_from(now.unix_seconds()).unwrap_or(0) + cfg.upload_ttl.as_secs();
    let mut token = UploadToken {
        bucket: cfg.bucket.clone(),
        key,
        upload_id: String::new(),
        size: req.size,
        part_size: p.part_size,
        owner: who.owner(),
        expires_at,
        content_type: content_type.clone(),
        no_clobber,
    };
    let metadata = admitted.metadata.clone();
    let checksum = req
        .checksum
        .as_ref()
        .map(|c| integrity::checksum_of_create(c, p.strategy == Strategy::Multipart))
        .transpose()?;
    let mut upload = match p.strategy {
        Strategy::Single => {
            if req.size > hoist_core::plan::MAX_SINGLE_PUT {
                return Err(ApiError::field("size", "too large for a single PUT"));
            }
            token.part_size = req.size;
            let mut r = PresignRequest::put_object(cfg.bucket.as_str(), token.key.as_str())
                .content_length(req.size)
                .content_type(content_type.as_str());
            if let Some(c) = &checksum
                && let Some(v) = &c.value
            {
                r = r.header(c.algorithm.header(), v.as_str());
            }
            for (k, v) in &metadata {
                r = r.header(format!("x-amz-meta-{k}"), v.as_str());
            }
            r = if_absent(r, no_clobber);
            let ttl = state.url_ttl(UrlKind::SinglePut { size: req.size })?;
            let url = presign_one(state, &r.expires_in(ttl), now, PresignKind::Single)?;
            let headers: BTreeMap<String, String> = url.headers.iter().cloned().collect();
            Upload {
                id: String::new(),
                bucket: cfg.bucket.clone(),
                key: token.key.clone(),
                strategy: StrategyName::Single,
                size: req.size,
                part_size: req.size,
                part_count: 1,
                expires_at: unix_rfc3339(expires_at),
                url: Some(url.url),
                method: Some("PUT"),
                headers: Some(headers),
                url_expires_at: Some(url.expires_at.to_rfc3339()),
                parts: None,
                checksum_algorithm: checksum.as_ref().map(|c| c.algorithm),
                checksum_type: checksum.as_ref().map(|c| c.kind),
            }
        }
        Strategy::Multipart => {
            let create = CreateMultipart {
                content_type: Some(content_type.clone()),
                metadata: metadata.clone(),
                checksum: checksum.as_ref().map(|c| (c.algorithm, c.kind)),
            };
            state.count_new_upload(who)?;
            token.upload_id = state
                .store()
                .create_multipart(&token.key, &create)
                .await
                .map_err(|e| {
                    state.uncount_upload(&token.owner);
                    store_failure(state, e)
                })?;
            let count = part_count(&p);
            // A part of an upload with a checksum needs its own checksum signed into its URL,
            // known only once the part is read: such URLs are signed on request only.
            let first: Vec<u32> = if checksum.is_some() {
                Vec::new()
            } else {
                (1..=count.min(cfg.first_batch)).collect()
            };
            let parts = sign_parts(state, &token, &p, &first, None, &BTreeMap::new())?;
            Upload {
                id: String::new(),
                bucket: cfg.bucket.clone(),
                key: token.key.clone(),
                strategy: StrategyName::Multipart,
                size: req.size,
                part_size: p.part_size,
                part_count: count,
                expires_at: unix_rfc3339(expires_at),
                url: None,
                method: None,
                headers: None,
                url_expires_at: None,
                parts: Some(parts),
                checksum_algorithm: checksum.as_ref().map(|c| c.algorithm),
                checksum_type: checksum.as_ref().map(|c| c.kind),
            }
        }
    };
    upload.id = state.tokens().seal_with(&token, checksum.as_ref());
    if state.hooks().sends_events() {
        let mut event = admitted.created_event(
            state,
            who,
            asked,
            asked.strategy.unwrap_or("single"),
            crate::notify::upload_id(state, &token, &upload.id),
        );
        if !token.upload_id.is_empty() {
            event.s3_upload_id = Some(token.upload_id.clone());
        }
        state
            .hooks()
            .deliver_later(crate::hooks::EventType::Created, event);
    }
    state.metrics().upload(Outcome::Created);
    state.metrics().bytes_declared(req.size);
    tracing::info!(key = %token.key, size = req.size, strategy = ?upload.strategy, owner = %token.owner, "upload created");
    Ok(upload)
}

/// Sign UploadPart URLs for `numbers` (already validated to lie within the plan). An upload
/// with a checksum gets each part's checksum from `sums` signed into its URL, so that the
/// store refuses (BadDigest) a body that is not the one described.
pub(crate) fn sign_parts(
    state: &AppState,
    token: &UploadToken,
    plan: &Plan,
    numbers: &[u32],
    checksum: Option<&TokenChecksum>,
    sums: &BTreeMap<u32, String>,
) -> Result<Vec<PartUrl>, ApiError> {
    if let Some(c) = checksum
        && let Some(n) = numbers.iter().find(|n| !sums.contains_key(n))
    {
        return Err(ApiError::field(
            format!("checksums.{n}"),
            format!(
                "this upload was created with {}: each part's URL pins its checksum, so send it",
                c.algorithm.as_str()
            ),
        )
        .with_status(StatusCode::CONFLICT));
    }
    let ttl = state.url_ttl(UrlKind::Part)?;
    let now = state.now();
    let started = Instant::now();
    let signer = state.store().signer(now, false);
    // Signed together: the parts' URLs share everything up to the part number.
    let mut together = signer.parts_signer(now, numbers.len());
    let mut out = Vec::with_capacity(numbers.len());
    for &n in numbers {
        let (offset, length) = part_range(plan, n)?;
        let mut r = PresignRequest::upload_part(
            token.bucket.as_str(),
            token.key.as_str(),
            token.upload_id.as_str(),
            n,
        )
        .content_length(length)
        .expires_in(ttl);
        let mut headers = BTreeMap::new();
        headers.insert("content-length".to_string(), length.to_string());
        if let (Some(c), Some(sum)) = (checksum, sums.get(&n)) {
            r = r.header(c.algorithm.header(), sum.as_str());
            headers.insert(c.algorithm.header().to_string(), sum.clone());
        }
        let url = together.presign(&r).map_err(|e| sign_failure(state, e))?;
        out.push(PartUrl {
            number: n,
            url: url.url,
            method: "PUT",
            headers,
            expires_at: url.expires_at.to_rfc3339(),
            offset,
            length,
        });
    }
    state
        .metrics()
        .presigned(PresignKind::Part, numbers.len() as u64, started.elapsed());
    Ok(out)
}

/// Check requested part numbers: 1..=count, at most `max_batch`, duplicates dropped.
fn check_numbers(numbers: &[i64], count: u32, max: u32) -> Result<Vec<u32>, ApiError> {
    if numbers.is_empty() {
        return Err(ApiError::field("numbers", "must name at least one part"));
    }
    if numbers.len() > max as usize {
        return Err(ApiError::field(
            "numbers",
            format!("at most {max} parts per request"),
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(numbers.len());
    let mut out = Vec::with_capacity(numbers.len());
    for (i, &n) in numbers.iter().enumerate() {
        if n < 1 || n > i64::from(count) {
            // Outside 1..=10000 the request is malformed; past the plan's count it
            // conflicts with this upload.
            let status = if (1..=10_000).contains(&n) {
                StatusCode::CONFLICT
            } else {
                StatusCode::BAD_REQUEST
            };
            return Err(ApiError::field(
                format!("numbers[{i}]"),
                format!("part {n} is outside this upload's 1..={count}"),
            )
            .with_status(status));
        }
        let n = n as u32;
        if seen.insert(n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// Sign a single-PUT upload's URL again (content-length and content-type pinned, and the
/// object's checksum: the one given at creation, else `sum` when the caller sends it now).
pub(crate) fn sign_single(
    state: &AppState,
    token: &UploadToken,
    plan: &Plan,
    checksum: Option<&TokenChecksum>,
    sum: Option<&String>,
) -> Result<PartUrl, ApiError> {
    let (offset, length) = part_range(plan, 1)?;
    let mut r = PresignRequest::put_object(token.bucket.as_str(), token.key.as_str())
        .content_length(length)
        .content_type(token.content_type.as_str())
        .expires_in(state.url_ttl(UrlKind::SinglePut { size: token.size })?);
    r = if_absent(r, token.no_clobber);
    if let Some(c) = checksum {
        let pinned = match (&c.value, sum) {
            (Some(v), Some(s)) if v != s => {
                return Err(ApiError::field(
                    "checksums.1",
                    "differs from the checksum the upload was created with",
                ));
            }
            (Some(v), _) => Some(v),
            (None, s) => s,
        };
        if let Some(v) = pinned {
            r = r.header(c.algorithm.header(), v.as_str());
        }
    }
    let url = presign_one(state, &r, state.now(), PresignKind::Single)?;
    Ok(PartUrl {
        number: 1,
        url: url.url,
        method: "PUT",
        headers: url.headers.iter().cloned().collect(),
        expires_at: url.expires_at.to_rfc3339(),
        offset,
        length,
    })
}

/// The state of an upload as the store holds it.
pub(crate) async fn upload_state(
    state: &AppState,
    id: &str,
    token: &UploadToken,
    plan: &Plan,
    checksum: Option<&TokenChecksum>,
) -> Result<UploadState, ApiError> {
    let count = part_count(plan);
    let mut st = UploadState {
        id: id.to_string(),
        bucket: token.bucket.clone(),
        key: token.key.clone(),
        strategy: strategy_of(token),
        size: token.size,
        part_size: token.part_size,
        part_count: count,
        expires_at: unix_rfc3339(token.expires_at),
        state: UploadStateName::Pending,
        parts: Vec::new(),
        missing: Vec::new(),
        checksum_algorithm: checksum.map(|c| c.algorithm),
        checksum_type: checksum.map(|c| c.kind),
    };
    let listed = if token.upload_id.is_empty() {
        None
    } else {
        match stored_parts(state.store(), &token.key, &token.upload_id).await {
            Ok(parts) => Some(parts),
            Err(e) if e.is_no_such_upload() => None,
            Err(e) => return Err(store_failure(state, e)),
        }
    };
    match listed {
        Some(parts) => {
            st.missing = missing_parts(plan, &parts);
            if !parts.is_empty() {
                st.state = UploadStateName::Uploading;
            }
            st.parts = parts
                .into_iter()
                .map(|stored| {
                    let planned = plan.part(stored.number);
                    StatePart {
                        offset: planned.map(|p| p.offset),
                        length: planned.map(|p| p.length),
                        stored,
                    }
                })
                .collect();
        }
        None => {
            let done = finished_object(state, token).await?;
            st.state = match (&done, strategy_of(token)) {
                (Some(_), _) => UploadStateName::Completed,
                (None, StrategyName::Single) => UploadStateName::Pending,
                // Neither the store's upload nor an object: aborted (here or in the store)
                // or removed by a lifecycle rule. It is gone, as every other route says.
                (None, StrategyName::Multipart) => {
                    return Err(ApiError::not_found(
                        "upload_gone",
                        "the upload was aborted or has expired; start a new one",
                    ));
                }
            };
            if done.is_none() {
                st.missing = (1..=count).collect();
            }
        }
    }
    Ok(st)
}

/// Part numbers not stored with their planned length.
fn missing_parts(plan: &Plan, parts: &[StoredPart]) -> Vec<u32> {
    let by_number: HashMap<u32, u64> = parts.iter().map(|p| (p.number, p.size)).collect();
    plan.parts()
        .filter(|p| by_number.get(&p.number) != Some(&p.length))
        .map(|p| p.number)
        .collect()
}

/// Abort a multipart upload so that no part remains; idempotent.
pub(crate) async fn abort_upload(state: &AppState, token: &UploadToken) -> Result<(), ApiError> {
    if token.upload_id.is_empty() {
        return Ok(());
    }
    // S3 may keep a part that was in flight during the abort; a second abort removes it.
    for _ in 0..2 {
        match state.store().abort(&token.key, &token.upload_id).await {
            Ok(()) => {}
            // Aborting twice is fine; aborting a completed upload cannot remove its object.
            Err(e) if e.is_no_such_upload() => {
                let object = state.store().head_object(&token.key).await;
                return match object.map_err(|e| store_failure(state, e))? {
                    Some(_) => Err(ApiError::conflict(
                        "upload_completed",
                        "the upload was completed; its object stays (delete it in the store)",
                    )),
                    None => Ok(()),
                };
            }
            Err(e) => return Err(store_failure(state, e)),
        }
        match state.store().list_parts(&token.key, &token.upload_id).await {
            Err(e) if e.is_no_such_upload() => break,
            Ok(_) => continue,
            Err(e) => return Err(store_failure(state, e)),
        }
    }
    state.metrics().upload(Outcome::Aborted);
    state.upload_ended(token);
    tracing::info!(key = %token.key, "upload aborted");
    Ok(())
}

// --- handlers -------------------------------------------------------------------------------

pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<ApiJson<CreateUpload>, ApiError>,
) -> Result<Response, ApiError> {
    // Authentication comes before body errors: strangers learn nothing about the API.
    let who = state.authenticate(&headers)?;
    let ApiJson(req) = body?;
    let upload = create_upload(&state, &who, req).await?;
    Ok((StatusCode::CREATED, Json(upload)).into_response())
}

pub(crate) async fn parts(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<ApiJson<PartsRequest>, ApiError>,
) -> Result<Json<PartsResponse>, ApiError> {
    let who = state.authenticate(&headers)?;
    let (token, checksum) = state.open_upload(&id, &who)?;
    state.check_live(&token)?;
    let plan = plan_of(&token)?;
    let ApiJson(req) = body?;
    let numbers = check_numbers(&req.numbers, part_count(&plan), state.config().max_batch)?;
    let sums = integrity::part_checksums(req.checksums.as_ref(), checksum.as_ref(), &numbers)?;
    let parts = if token.upload_id.is_empty() {
        // A single PUT is one part: this signs its URL again.
        vec![sign_single(
            &state,
            &token,
            &plan,
            checksum.as_ref(),
            sums.get(&1),
        )?]
    } else {
        sign_parts(&state, &token, &plan, &numbers, checksum.as_ref(), &sums)?
    };
    Ok(Json(PartsResponse { parts }))
}

pub(crate) async fn state(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<UploadState>, ApiError> {
    let who = state.authenticate(&headers)?;
    let (token, checksum) = state.open_upload(&id, &who)?;
    let plan = plan_of(&token)?;
    Ok(Json(
        upload_state(&state, &id, &token, &plan, checksum.as_ref()).await?,
    ))
}

pub(crate) async fn complete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<ApiBytes, ApiError>,
) -> Result<Json<Completed>, ApiError> {
    let who = state.authenticate(&headers)?;
    let ApiBytes(body) = body?;
    let (token, checksum) = state.open_upload(&id, &who)?;
    let plan = plan_of(&token)?;
    // The body is optional: a browser that could read no ETag sends nothing.
    let req: CompleteRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CompleteRequest::default()
    } else {
        parse_json(&body)?
    };
    let opened = (token, checksum, plan);
    Ok(Json(
        complete_opened(&state, &who, &id, opened, req, "/v1/uploads").await?,
    ))
}

/// Completes the upload `id` for `who` as `route` does it: opened, completed, and
/// `upload.completed` delivered before the answer.
pub(crate) async fn complete_by_id(
    state: &AppState,
    who: &Principal,
    id: &str,
    req: CompleteRequest,
    route: &'static str,
) -> Result<Completed, ApiError> {
    let (token, checksum) = state.open_upload(id, who)?;
    let plan = plan_of(&token)?;
    complete_opened(state, who, id, (token, checksum, plan), req, route).await
}

async fn complete_opened(
    state: &AppState,
    who: &Principal,
    id: &str,
    (token, checksum, plan): (UploadToken, Option<TokenChecksum>, Plan),
    req: CompleteRequest,
    route: &'static str,
) -> Result<Completed, ApiError> {
    let mut done = complete_upload(state, &token, &plan, checksum.as_ref(), req).await?;
    // Delivered before the answer, on every Complete: a client that retries one whose event
    // is still pending delivers it again.
    let delivered = crate::notify::completed(state, who, &token, id, route).await;
    done.hook_pending = delivered.map(|d| !d);
    Ok(done)
}

pub(crate) async fn abort(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let who = state.authenticate(&headers)?;
    let token = state.open_token(&id, &who)?;
    if token.upload_id.is_empty() {
        return Err(ApiError::conflict(
            "nothing_to_abort",
            "a single PUT has nothing to abort: its URL stays valid until it expires; \
             delete the object if it was sent",
        ));
    }
    abort_upload(&state, &token).await?;
    crate::notify::aborted(&state, &who, &token, &id, "/v1/uploads").await;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(upload_id: &str, size: u64, part_size: u64) -> UploadToken {
        UploadToken {
            bucket: "b".into(),
            key: "k".into(),
            upload_id: upload_id.into(),
            size,
            part_size,
            owner: "o".into(),
            expires_at: 0,
            content_type: "application/octet-stream".into(),
            no_clobber: false,
        }
    }

    #[test]
    fn a_tokens_plan_is_the_planners() {
        let mib = hoist_core::plan::MIB;
        let p = plan_of(&token("u", 25 * mib, 10 * mib)).unwrap();
        assert_eq!(part_count(&p), 3);
        assert_eq!(part_range(&p, 1).unwrap(), (0, 10 * mib));
        assert_eq!(part_range(&p, 3).unwrap(), (20 * mib, 5 * mib));
        assert_eq!(
            part_range(&p, 4).unwrap_err().field.as_deref(),
            Some("numbers")
        );
        let empty = plan_of(&token("", 0, 0)).unwrap();
        assert_eq!(
            (part_count(&empty), part_range(&empty, 1).unwrap()),
            (1, (0, 0))
        );
        // Uppy's multipart uploads record no plan.
        assert_eq!(plan_of(&token("u", 0, 0)).unwrap_err().code, "uppy_upload");
    }

    #[test]
    fn numbers_checked() {
        assert_eq!(check_numbers(&[2, 1, 2], 3, 10).unwrap(), vec![2, 1]);
        assert_eq!(
            check_numbers(&[1, 4], 3, 10).unwrap_err().field.as_deref(),
            Some("numbers[1]")
        );
        assert_eq!(
            check_numbers(&[0], 3, 10).unwrap_err().field.as_deref(),
            Some("numbers[0]")
        );
        assert_eq!(
            check_numbers(&[-5], 3, 10).unwrap_err().field.as_deref(),
            Some("numbers[0]")
        );
        assert_eq!(
            check_numbers(&[], 3, 10).unwrap_err().field.as_deref(),
            Some("numbers")
        );
        assert_eq!(
            check_numbers(&[1, 2], 3, 1).unwrap_err().field.as_deref(),
            Some("numbers")
        );
    }
}
