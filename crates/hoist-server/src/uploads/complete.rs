//! Completion: the parts checked against the store's (sizes, ETags, checksums), the
//! CompleteMultipartUpload call, and the object read back (size, checksum) for the answer. A
//! single PUT is confirmed here too.

use std::collections::HashMap;

use axum::http::StatusCode;

use hoist_core::checksum::etag;
use hoist_core::plan::Plan;

use crate::api::*;
use crate::error::ApiError;
use crate::metrics::Outcome;
use crate::state::AppState;
use crate::store::stored_parts;
use crate::token::{TokenChecksum, UploadToken};
use hoist_core::s3::{CompletedPart, ObjectHead, WriteCondition};
use hoist_s3::WholeChecksum;

use super::integrity;
use super::{missing_parts, part_count, store_failure, write_failure};

const MAX_ETAG_BYTES: usize = 256;

/// The finished object, when one of the planned size exists at the key.
pub(super) async fn finished_object(
    state: &AppState,
    token: &UploadToken,
) -> Result<Option<Completed>, ApiError> {
    match state.store().head_object(&token.key).await {
        Ok(Some(obj)) if obj.size == token.size => Ok(Some(completed(token, obj))),
        Ok(_) => Ok(None),
        Err(e) => Err(store_failure(state, e)),
    }
}

fn completed(token: &UploadToken, obj: ObjectHead) -> Completed {
    let (checksum_algorithm, checksum) = obj.checksum.unzip();
    Completed {
        bucket: token.bucket.clone(),
        key: token.key.clone(),
        etag: obj.etag,
        size: obj.size,
        checksum,
        checksum_algorithm,
        checksum_type: obj.checksum_type,
        hook_pending: None,
    }
}

/// Compares the object's checksum as the store reports it with the uploader's `want`; a
/// COMPOSITE value is compared with and without its `-N` suffix, which some stores omit.
fn check_whole(
    done: &Completed,
    checksum: Option<&TokenChecksum>,
    want: Option<&str>,
) -> Result<(), ApiError> {
    let (Some(c), Some(want)) = (checksum, want) else {
        return Ok(());
    };
    let digest = |s: &str| s.split('-').next().unwrap_or(s).to_string();
    match (&done.checksum, done.checksum_algorithm) {
        (Some(got), Some(alg)) if alg == c.algorithm => {
            if digest(got) != digest(want) {
                return Err(integrity::mismatch(format!(
                    "the store's {} of the object is {got}, not {want}",
                    alg.as_str()
                ))
                .with_field("checksum"));
            }
            Ok(())
        }
        // A store that keeps no checksum cannot be checked; the answer says so by having none.
        _ => Ok(()),
    }
}

/// The object at the key, once the store no longer knows the upload, answered as this upload's
/// completion (see [`proven_ours`]).
fn ours(
    token: &UploadToken,
    count: u32,
    claimed: &HashMap<u32, (usize, String)>,
    done: Completed,
) -> Result<Completed, ApiError> {
    let md5s = (1..=count)
        .map(|n| claimed.get(&n).and_then(|(_, e)| etag::md5_of(e)))
        .collect();
    proven_ours(token, md5s, &done.etag).map(|()| done)
}

/// Whether the object with `object_etag` at the key of an upload the store no longer knows
/// may be answered as its completion. A no-clobber upload's may be another writer's: the
/// store ends an upload whose conditional Complete met a write made meanwhile. It is this
/// upload's when its ETag is the one its parts (`part_md5s`, every part's in order, when the
/// uploader named them all) make; otherwise, unproven, the answer is `already_exists`, never
/// another writer's object as this upload's success.
pub(crate) fn proven_ours(
    token: &UploadToken,
    part_md5s: Option<Vec<[u8; 16]>>,
    object_etag: &str,
) -> Result<(), ApiError> {
    if !token.no_clobber {
        return Ok(());
    }
    match part_md5s {
        Some(md5s) if etag::same(&etag::multipart(&md5s), object_etag) => Ok(()),
        Some(_) => Err(ApiError::already_exists(
            &token.key,
            format!("the object there (ETag {object_etag}) is another upload's"),
        )),
        None => Err(ApiError::already_exists(
            &token.key,
            "the store no longer knows this upload, and without every part's ETag the \
             object there cannot be shown to be its",
        )),
    }
}

fn unquote(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

/// Complete an upload made with `plan`; a second call answers the same.
pub(crate) async fn complete_upload(
    state: &AppState,
    token: &UploadToken,
    plan: &Plan,
    checksum: Option<&TokenChecksum>,
    req: CompleteRequest,
) -> Result<Completed, ApiError> {
    let composite = checksum.is_some_and(|c| c.kind == ChecksumType::Composite);
    if let Some(want) = &req.checksum {
        let Some(c) = checksum else {
            return Err(ApiError::field(
                "checksum",
                "this upload was created without a checksum algorithm",
            )
            .with_status(StatusCode::CONFLICT));
        };
        integrity::check_value(c.algorithm, want, composite, "checksum")?;
    }
    if token.upload_id.is_empty() {
        // The single PUT's end as the coordinator sees it: the uploader confirms it here.
        let done = finished_object(state, token).await?.ok_or_else(|| {
            ApiError::conflict(
                "not_uploaded",
                "no object of the planned size is stored yet; PUT it to the URL first",
            )
        })?;
        check_whole(&done, checksum, req.checksum.as_deref()).inspect_err(|_| {
            state.metrics().upload(Outcome::Failed);
        })?;
        state.metrics().upload(Outcome::Completed);
        return Ok(done);
    }
    let count = part_count(plan);
    let mut claimed: HashMap<u32, (usize, String)> = HashMap::new();
    let mut claimed_sums: HashMap<u32, (usize, String)> = HashMap::new();
    for (i, p) in req.parts.iter().flatten().enumerate() {
        if p.number < 1 || p.number > i64::from(count) {
            let status = if (1..=10_000).contains(&p.number) {
                StatusCode::CONFLICT
            } else {
                StatusCode::BAD_REQUEST
            };
            return Err(ApiError::field(
                format!("parts[{i}].number"),
                format!("part {} is outside this upload's 1..={count}", p.number),
            )
            .with_status(status));
        }
        if let Some(e) = &p.etag {
            if e.len() > MAX_ETAG_BYTES {
                return Err(ApiError::field(format!("parts[{i}].etag"), "too long"));
            }
            claimed.insert(p.number as u32, (i, unquote(e).to_string()));
        }
        if let Some(sum) = &p.checksum {
            let field = format!("parts[{i}].checksum");
            let c = checksum.ok_or_else(|| {
                ApiError::field(
                    &field,
                    "this upload was created without a checksum algorithm",
                )
                .with_status(StatusCode::CONFLICT)
            })?;
            integrity::check_value(c.algorithm, sum, false, &field)?;
            claimed_sums.insert(p.number as u32, (i, sum.clone()));
        }
    }
    let listed = match stored_parts(state.store(), &token.key, &token.upload_id).await {
        Ok(parts) => parts,
        Err(e) if e.is_no_such_upload() => {
            // Completed before (answer the same) or aborted (the store's NoSuchUpload).
            return match finished_object(state, token).await? {
                Some(done) => ours(token, count, &claimed, done),
                None => Err(store_failure(state, e)),
            };
        }
        Err(e) => return Err(store_failure(state, e)),
    };
    let missing = missing_parts(plan, &listed);
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(20).map(u32::to_string).collect();
        return Err(ApiError::conflict(
            "parts_missing",
            format!(
                "{} of {count} parts are not stored with their planned size: {}{}",
                missing.len(),
                shown.join(", "),
                if missing.len() > 20 { ", …" } else { "" }
            ),
        )
        .with_field("parts"));
    }
    let mut parts = Vec::with_capacity(listed.len());
    for p in listed.iter().filter(|p| p.number <= count) {
        if let Some((i, etag)) = claimed.get(&p.number)
            && etag != unquote(&p.etag)
        {
            return Err(ApiError::conflict(
                "etag_mismatch",
                format!(
                    "part {} is stored with ETag {}, not {etag}",
                    p.number, p.etag
                ),
            )
            .with_field(format!("parts[{i}].etag")));
        }
        let claimed_sum = claimed_sums.get(&p.number);
        if let (Some((i, want)), Some(got)) = (claimed_sum, &p.checksum)
            && want != got
        {
            state.metrics().upload(Outcome::Failed);
            return Err(integrity::mismatch(format!(
                "part {} is stored with checksum {got}, not {want}",
                p.number
            ))
            .with_field(format!("parts[{i}].checksum")));
        }
        let mut part = CompletedPart::new(p.number, p.etag.clone());
        // The uploader's value, so that the store judges it too; else the store's own.
        if let (Some(c), Some(sum)) = (
            checksum,
            claimed_sum.map(|(_, s)| s).or(p.checksum.as_ref()),
        ) {
            part = part.with_checksum(c.algorithm, sum.clone());
        }
        parts.push(part);
    }
    // S3 checks a whole-object value given at completion for FULL_OBJECT uploads only; a
    // COMPOSITE one is compared below, with what the store reports.
    let whole = match (checksum, &req.checksum) {
        (Some(c), Some(v)) if c.kind == ChecksumType::FullObject => Some(WholeChecksum {
            algorithm: c.algorithm,
            value: v.as_str(),
            kind: c.kind,
        }),
        _ => None,
    };
    let condition = token.no_clobber.then_some(WriteCondition::IfAbsent);
    match state
        .store()
        .complete_if(
            &token.key,
            &token.upload_id,
            &parts,
            whole,
            condition.as_ref(),
        )
        .await
    {
        Ok(result) => {
            let etag = result.etag;
            let done = match state.store().head_object(&token.key).await {
                Ok(Some(obj)) => completed(token, obj),
                // The store said it completed; an answer without the object is its to explain.
                Ok(None) => {
                    return Err(ApiError::bad_gateway(format!(
                        "the store completed the upload (ETag {etag}) but does not show the object"
                    )));
                }
                Err(e) => return Err(store_failure(state, e)),
            };
            if done.size != token.size {
                state.metrics().upload(Outcome::Failed);
                return Err(integrity::mismatch(format!(
                    "the store holds {} bytes, {} were planned",
                    done.size, token.size
                ))
                .with_field("parts"));
            }
            check_whole(&done, checksum, req.checksum.as_deref()).inspect_err(|_| {
                state.metrics().upload(Outcome::Failed);
            })?;
            state.metrics().upload(Outcome::Completed);
            state.upload_ended(token);
            tracing::info!(key = %token.key, size = token.size, "upload completed");
            Ok(done)
        }
        Err(e) if e.code().as_deref() == Some("BadDigest") => {
            state.metrics().upload(Outcome::Failed);
            Err(integrity::mismatch(format!(
                "the store refused to complete: the object's checksum it combines from the \
                 parts differs from {}",
                req.checksum.as_deref().unwrap_or("the one sent")
            ))
            .with_field("checksum"))
        }
        // A concurrent completion won the race: answer as it did.
        Err(e) if e.is_no_such_upload() => match finished_object(state, token).await? {
            Some(done) => ours(token, count, &claimed, done),
            None => Err(store_failure(state, e)),
        },
        Err(e) => {
            state.metrics().upload(Outcome::Failed);
            Err(write_failure(state, token, e))
        }
    }
}
