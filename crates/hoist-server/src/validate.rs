//! Checks of a creation request against the settings and the caller's rights, and the choice
//! of its key.

use std::collections::BTreeMap;

use axum::http::StatusCode;

use crate::api::CreateUpload;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::keys;
use crate::state::AppState;

/// Bounds on caller-supplied strings, so that tokens and headers stay small.
const MAX_FILENAME_CHARS: usize = 1024;
const MAX_CONTENT_TYPE_BYTES: usize = 255;
/// S3 limits user metadata to 2 KiB in total.
const MAX_METADATA_BYTES: usize = 2048;
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

pub(crate) fn check_content_type(ct: &str, field: &str) -> Result<(), ApiError> {
    let ok = !ct.is_empty()
        && ct.len() <= MAX_CONTENT_TYPE_BYTES
        && ct.contains('/')
        && ct.bytes().all(|b| (0x20..0x7f).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ApiError::field(
            field,
            "must be a MIME type such as image/png (printable ASCII, at most 255 bytes)",
        ))
    }
}

pub(crate) fn check_metadata(meta: &BTreeMap<String, String>) -> Result<(), ApiError> {
    let mut total = 0;
    for (k, v) in meta {
        let field = format!("metadata.{k}");
        let name_ok = !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(ApiError::field(
                field,
                "metadata names use lower-case letters, digits, '-' and '_'",
            ));
        }
        if !v.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(ApiError::field(
                field,
                "metadata values must be printable ASCII",
            ));
        }
        total += k.len() + v.len();
    }
    if total > MAX_METADATA_BYTES {
        return Err(ApiError::field("metadata", "must total at most 2048 bytes"));
    }
    Ok(())
}

/// Validate a creation request against the settings and the caller's rights, and pick the key.
pub(crate) fn validate_create(
    state: &AppState,
    who: &Principal,
    req: &CreateUpload,
) -> Result<(String, String), ApiError> {
    let cfg = state.config();
    if req.size > cfg.max_upload_size {
        return Err(ApiError::field(
            "size",
            format!(
                "{} bytes is over this coordinator's limit of {} bytes",
                req.size, cfg.max_upload_size
            ),
        ));
    }
    if let Principal::Grant(g) = who
        && let Some(max) = g.max_size
        && req.size > max
    {
        return Err(ApiError::field(
            "size",
            format!(
                "{} bytes is over the grant's limit of {max} bytes",
                req.size
            ),
        )
        .with_status(StatusCode::FORBIDDEN));
    }
    if let Some(f) = &req.filename
        && (f.chars().count() > MAX_FILENAME_CHARS || f.chars().any(char::is_control))
    {
        return Err(ApiError::field(
            "filename",
            "must be at most 1024 characters without control characters",
        ));
    }
    let content_type = req
        .content_type
        .clone()
        .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_string());
    check_content_type(&content_type, "content_type")?;
    if let Principal::Grant(g) = who
        && !g.allows_type(&content_type)
    {
        return Err(ApiError::field(
            "content_type",
            format!("{content_type} is not among the grant's content types"),
        )
        .with_status(StatusCode::FORBIDDEN));
    }
    if let Some(meta) = &req.metadata {
        check_metadata(meta)?;
    }
    let key = match (&req.key, who) {
        (None, Principal::Grant(g)) => keys::generate_key(&g.prefix, req.filename.as_deref()),
        (None, _) => keys::generate_key(&cfg.key_prefix, req.filename.as_deref()),
        (Some(k), Principal::ApiKey { .. }) => {
            keys::validate_key(k, "key")?;
            k.clone()
        }
        (Some(k), Principal::Grant(g)) if g.choose_key => {
            keys::validate_key(k, "key")?;
            if !g.covers_key(k) {
                return Err(ApiError::field("key", "is outside the grant's prefix")
                    .with_status(StatusCode::FORBIDDEN));
            }
            k.clone()
        }
        (Some(_), _) => {
            return Err(ApiError::field("key", "this caller may not choose keys")
                .with_status(StatusCode::FORBIDDEN));
        }
    };
    Ok((key, content_type))
}

/// Whether an upload must not replace an object at its key: asked with `If-None-Match`'s one
/// value S3 takes for a write, `*`, or forced by the caller's grant or the coordinator's
/// `no_clobber` setting.
pub(crate) fn no_clobber(
    state: &AppState,
    who: &Principal,
    if_none_match: Option<&str>,
    field: &str,
) -> Result<bool, ApiError> {
    match if_none_match {
        None => Ok(who.forces_no_clobber() || state.config().no_clobber),
        Some("*") => Ok(true),
        Some(_) => Err(ApiError::field(
            field,
            "must be \"*\" (no object may exist at the key); S3 takes no other value for a write",
        )),
    }
}
