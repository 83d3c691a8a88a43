//! Many uploads in one request: `POST /v1/uploads/batch` creates them, each exactly as
//! `POST /v1/uploads` does ([`create_upload_at`]), and `POST /v1/uploads/batch/complete`
//! completes them, each exactly as `POST /v1/uploads/{id}/complete` does ([`complete_by_id`]).
//! Each item answers for itself: one item's failure never fails the others. Only what makes
//! the whole request unusable (authentication, the body, the item count, the folder token) is
//! answered as the request's error.
//!
//! A batch may upload a folder: an item's `path` puts it at `{caller's prefix}/{folder id}/
//! {path}`, one folder id for the request, and the answer carries the folder's token
//! ([`crate::token::TokenKey::seal_folder`]) so that a later batch of the same caller continues
//! into the same folder. An item with `unless_stored` is not created when its key already
//! holds an object of its size and content (its MD5 as a single-PUT ETag, or its checksum).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use futures_util::stream::{self, StreamExt as _};

use crate::api::*;
use crate::auth::Principal;
use crate::error::{ApiError, ApiJson};
use crate::keys;
use crate::metrics::BatchResult;
use crate::state::AppState;
use crate::token::FolderId;
use crate::validate::validate_create;

use super::{complete_by_id, create_upload_at, integrity, store_failure};

/// The route a batch's creations are made through, as hooks are told.
const CREATE_ROUTE: &str = "/v1/uploads/batch";
/// The route a batch's completions are made through, as hooks are told.
const COMPLETE_ROUTE: &str = "/v1/uploads/batch/complete";
/// Items of one request worked on at once (their HEADs, pre-create hooks and store calls).
pub(crate) const CONCURRENCY: usize = 16;
/// The largest body a batch request may have: [`MAX_BATCH_ITEMS`] items with long keys,
/// paths and metadata. The other routes keep axum's 2 MB.
pub(crate) const BATCH_BODY_LIMIT: usize = 8 << 20;

fn check_count(n: usize) -> Result<(), ApiError> {
    if n == 0 {
        return Err(ApiError::field("uploads", "must name at least one upload"));
    }
    if n > MAX_BATCH_ITEMS {
        return Err(ApiError::field(
            "uploads",
            format!(
                "{n} uploads named; at most {MAX_BATCH_ITEMS} per request (send the rest in \
                 another)"
            ),
        ));
    }
    Ok(())
}

/// The key prefix of `folder` for `who`: the caller's prefix (its grant's, else this
/// coordinator's key prefix), the folder id, and `/`.
fn folder_prefix(state: &AppState, who: &Principal, folder: &FolderId) -> String {
    let caller = match who {
        Principal::Grant(g) => g.prefix.as_str(),
        _ => state.config().key_prefix.as_str(),
    }
    .trim_matches('/');
    if caller.is_empty() {
        format!("{folder}/")
    } else {
        format!("{caller}/{folder}/")
    }
}

/// The key of `path` in the folder at `prefix`; `path` is checked as a key is.
fn folder_key(prefix: &str, path: &str) -> Result<String, ApiError> {
    keys::validate_key(path, "path")?;
    let key = format!("{prefix}{path}");
    if key.len() > keys::MAX_KEY_BYTES {
        return Err(ApiError::field(
            "path",
            format!(
                "under the folder's prefix {prefix:?} the key would be {} bytes; S3 allows {}",
                key.len(),
                keys::MAX_KEY_BYTES
            ),
        ));
    }
    Ok(key)
}

fn check_unless(unless: &UnlessStored) -> Result<(), ApiError> {
    if unless.md5.is_none() && unless.checksum.is_none() {
        return Err(ApiError::field(
            "unless_stored",
            "name the file's md5, its checksum, or both",
        ));
    }
    if let Some(md5) = &unless.md5
        && !(md5.len() == 32 && md5.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(ApiError::field(
            "unless_stored.md5",
            "must be the file's MD5 in 32 hex digits",
        ));
    }
    if let Some(c) = &unless.checksum {
        // Here no upload's algorithm is in conflict: a value of another length is bad input.
        integrity::check_value(c.algorithm, &c.value, false, "unless_stored.checksum.value")
            .map_err(|e| e.with_status(StatusCode::BAD_REQUEST))?;
    }
    Ok(())
}

/// The object at `key`, when it is the one `unless` describes: `size` bytes, and a
/// single-PUT ETag equal to its MD5 or a checksum equal to its own.
async fn stored(
    state: &AppState,
    key: &str,
    size: u64,
    unless: &UnlessStored,
) -> Result<Option<Skipped>, ApiError> {
    let head = match state.store().head_object(key).await {
        Ok(Some(head)) => head,
        Ok(None) => return Ok(None),
        Err(e) => return Err(store_failure(state, e)),
    };
    if head.size != size {
        return Ok(None);
    }
    let etag = head.etag.trim().trim_matches('"');
    // A multipart object's ETag (`…-N`) is no MD5 of its bytes.
    let by_md5 = unless
        .md5
        .as_ref()
        .is_some_and(|m| !etag.contains('-') && etag.eq_ignore_ascii_case(m));
    let by_checksum = unless.checksum.as_ref().is_some_and(|c| {
        head.checksum
            .as_ref()
            .is_some_and(|(algorithm, value)| *algorithm == c.algorithm && *value == c.value)
    });
    Ok((by_md5 || by_checksum).then(|| Skipped {
        key: key.to_owned(),
        etag: head.etag.clone(),
        size: head.size,
    }))
}

enum Created {
    Upload(Upload),
    Skipped(Skipped),
}

/// One item of a batch: its key (from its `path` in the folder at `prefix`, or its own),
/// the store asked first when it is `unless_stored`, then created as `POST /v1/uploads` does.
async fn create_one(
    state: &AppState,
    who: &Principal,
    prefix: &str,
    item: BatchUpload,
) -> Result<Created, ApiError> {
    let (mut create, path, unless) = item.split();
    let key = match (path, &create.key) {
        (Some(_), Some(_)) => {
            return Err(ApiError::field(
                "path",
                "give a path (in the folder) or a key, not both",
            ));
        }
        (Some(path), None) => {
            let key = folder_key(prefix, &path)?;
            // The pre-create hook and the events are told the file's own name.
            if create.filename.is_none() {
                create.filename = path.rsplit('/').next().map(str::to_owned);
            }
            Some(key)
        }
        (None, _) => None,
    };
    if let Some(unless) = &unless {
        check_unless(unless)?;
        // The caller's rights first: nobody learns of an object where they may not write.
        let (picked, _) = validate_create(state, who, &create)?;
        let at = match (&key, &create.key) {
            (Some(k), _) => k.clone(),
            (None, Some(_)) => picked,
            (None, None) => {
                return Err(ApiError::field(
                    "unless_stored",
                    "needs a key or a path: a generated key holds nothing yet",
                ));
            }
        };
        if let Some(skipped) = stored(state, &at, create.size, unless).await? {
            tracing::debug!(key = %skipped.key, "batch item skipped: the object is stored");
            return Ok(Created::Skipped(skipped));
        }
    }
    create_upload_at(state, who, create, CREATE_ROUTE, key)
        .await
        .map(Created::Upload)
}

fn failed(state: &AppState, error: ApiError) -> BatchItem {
    state.metrics().batch_item(BatchResult::Failed);
    BatchItem::Failed {
        status: error.status.as_u16(),
        error,
    }
}

pub(crate) async fn create_batch(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<ApiJson<BatchCreate>, ApiError>,
) -> Result<Json<BatchCreated>, ApiError> {
    // Authentication comes before body errors: strangers learn nothing about the API.
    let who = state.authenticate(&headers)?;
    let ApiJson(req) = body?;
    check_count(req.uploads.len())?;
    let owner = who.owner();
    let folder = match &req.folder {
        Some(token) => state
            .tokens()
            .open_folder(token, &owner)
            .map_err(|e| ApiError::forbidden("bad_folder", e.to_string()).with_field("folder"))?,
        None => FolderId::generate(),
    };
    let uses_folder = req.folder.is_some() || req.uploads.iter().any(|u| u.path.is_some());
    let prefix = folder_prefix(&state, &who, &folder);
    let count = req.uploads.len();
    let uploads: Vec<BatchItem> = stream::iter(req.uploads)
        .map(|item| async {
            match create_one(&state, &who, &prefix, item).await {
                Ok(Created::Upload(upload)) => {
                    state.metrics().batch_item(BatchResult::Created);
                    BatchItem::Created {
                        status: StatusCode::CREATED.as_u16(),
                        upload: Box::new(upload),
                    }
                }
                Ok(Created::Skipped(skipped)) => {
                    state.metrics().batch_item(BatchResult::Skipped);
                    BatchItem::Skipped {
                        status: StatusCode::OK.as_u16(),
                        skipped,
                    }
                }
                Err(e) => failed(&state, e),
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    tracing::info!(
        items = count,
        folder = uses_folder.then_some(prefix.as_str()),
        owner = %owner,
        "batch of uploads created"
    );
    Ok(Json(BatchCreated {
        folder: uses_folder.then(|| state.tokens().seal_folder(&folder, &owner)),
        prefix: uses_folder.then_some(prefix),
        uploads,
    }))
}

pub(crate) async fn complete_batch(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<ApiJson<BatchComplete>, ApiError>,
) -> Result<Json<BatchCompleted>, ApiError> {
    let who = state.authenticate(&headers)?;
    let ApiJson(req) = body?;
    check_count(req.uploads.len())?;
    // Outside S3's part numbers, as the document says, the request is malformed.
    for (i, item) in req.uploads.iter().enumerate() {
        for (j, part) in item.parts.iter().flatten().enumerate() {
            if !(1..=10_000).contains(&part.number) {
                return Err(ApiError::field(
                    format!("uploads[{i}].parts[{j}].number"),
                    format!("{} is no part number (1 to 10000)", part.number),
                ));
            }
        }
    }
    let (state, who) = (&state, &who);
    let uploads: Vec<BatchItem> = stream::iter(req.uploads)
        .map(|item| async move {
            let complete = CompleteRequest {
                parts: item.parts,
                checksum: item.checksum,
            };
            match complete_by_id(state, who, &item.id, complete, COMPLETE_ROUTE).await {
                Ok(completed) => {
                    state.metrics().batch_item(BatchResult::Completed);
                    BatchItem::Completed {
                        status: StatusCode::OK.as_u16(),
                        completed,
                    }
                }
                Err(e) => failed(state, e),
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    Ok(Json(BatchCompleted { uploads }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_bounded() {
        assert_eq!(
            check_count(0).unwrap_err().field.as_deref(),
            Some("uploads")
        );
        check_count(1).unwrap();
        check_count(MAX_BATCH_ITEMS).unwrap();
        let e = check_count(MAX_BATCH_ITEMS + 1).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("1000"), "{}", e.message);
    }

    #[test]
    fn paths_are_checked_as_keys_are() {
        let prefix = "files/0b8e/";
        assert_eq!(
            folder_key(prefix, "a b/ünï/c.jpg").unwrap(),
            "files/0b8e/a b/ünï/c.jpg"
        );
        for bad in ["", "/a", "a//b", "a/../b", "./a", "a\\b", "a\u{7}b", "a/"] {
            let e = folder_key(prefix, bad).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("path"), "{bad:?}");
        }
        let long = "x".repeat(keys::MAX_KEY_BYTES - prefix.len() + 1);
        assert_eq!(
            folder_key(prefix, &long).unwrap_err().field.as_deref(),
            Some("path")
        );
    }

    #[test]
    fn unless_stored_names_something_well_formed() {
        let u = |md5: Option<&str>, sum: Option<&str>| UnlessStored {
            md5: md5.map(str::to_owned),
            checksum: sum.map(|v| StoredChecksum {
                algorithm: ChecksumAlgorithm::Crc64Nvme,
                value: v.to_owned(),
            }),
        };
        let field = |u: UnlessStored| check_unless(&u).unwrap_err().field;
        assert_eq!(field(u(None, None)).as_deref(), Some("unless_stored"));
        assert_eq!(
            field(u(Some("abc"), None)).as_deref(),
            Some("unless_stored.md5")
        );
        assert_eq!(
            field(u(Some(&"g".repeat(32)), None)).as_deref(),
            Some("unless_stored.md5")
        );
        assert_eq!(
            field(u(None, Some("AAAA"))).as_deref(),
            Some("unless_stored.checksum.value")
        );
        check_unless(&u(Some(&"0a".repeat(16)), Some("AAAAAAAAAAA="))).unwrap();
    }
}
