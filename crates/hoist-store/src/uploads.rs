//! Multipart uploads as the operations that name one see them: the upload a request names
//! (or S3's `NoSuchUpload`), and an upload removed with its parts, by Abort, by Complete once
//! the object has committed, by DeleteBucket and by the lifecycle sweeper.

use std::path::{Path, PathBuf};

use s3s::S3Result;

use crate::errors::{internal, no_such_bucket, no_such_upload};
use crate::fs::{
    Layout, commit_file, link_all, safe_upload_id, sync_dir, sync_dir_async, write_json_atomic,
};
use crate::storage::{PartMeta, Storage, UploadMeta};

/// The upload, checked against the bucket and key of the request.
pub(crate) fn find(storage: &Storage, bucket: &str, key: &str, id: &str) -> S3Result<UploadMeta> {
    if storage.bucket_meta(bucket).is_none() {
        return Err(no_such_bucket(bucket));
    }
    if !safe_upload_id(id) {
        return Err(no_such_upload(id));
    }
    let state = storage.state();
    match state.uploads.get(id) {
        Some(u) if u.meta.bucket == bucket && u.meta.key == key => Ok(u.meta.clone()),
        _ => Err(no_such_upload(id)),
    }
}

/// Removes an upload and its parts (AbortMultipartUpload, the lifecycle sweeper).
pub(crate) async fn remove_upload(storage: &Storage, id: &str) -> std::io::Result<bool> {
    let Some((bucket, key)) = upload_key(storage, id) else {
        return Ok(false);
    };
    let _commit = storage.commit.key(&bucket, &key).await;
    remove_upload_locked(storage, id).await
}

/// The bucket and key an open upload will commit to: the commit turn its parts take.
fn upload_key(storage: &Storage, id: &str) -> Option<(String, String)> {
    let state = storage.state();
    let upload = &state.uploads.get(id)?.meta;
    Some((upload.bucket.clone(), upload.key.clone()))
}

/// [`remove_upload`] for callers that already hold the key's commit turn (Complete) or every
/// commit (DeleteBucket).
pub(crate) async fn remove_upload_locked(storage: &Storage, id: &str) -> std::io::Result<bool> {
    if storage.state().uploads.remove(id).is_none() {
        return Ok(false);
    }
    // A "gone" line first where the journal holds the upload, so a restart cannot bring it
    // back; then the folder, if it has one.
    storage.journal.gone(id).await?;
    // Rename first: the upload disappears atomically, the deletion can take its time.
    let trash = storage.layout.temp_file();
    match tokio::fs::rename(storage.layout.upload(id), &trash).await {
        Ok(()) => {}
        // No part ever committed: the journal was all there was.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(e),
    }
    let _ = sync_dir_async(storage.layout.uploads()).await;
    let _ = tokio::fs::remove_dir_all(&trash).await;
    Ok(true)
}

/// Gives an upload known only to the journal its folder and `upload.json`, durably: the folder
/// is its record from then on.
fn settle(layout: &Layout, dir: &Path, upload: &UploadMeta) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_json_atomic(layout, &dir.join("upload.json"), upload)?;
    sync_dir(&layout.uploads())
}

/// Where a part's bytes come from when it is committed.
#[derive(Debug)]
pub(crate) enum PartBytes {
    /// A received temp file, renamed into place.
    Received(PathBuf),
    /// An object's file, linked into place (copied where links are refused): UploadPartCopy
    /// of a whole object held in one file writes no byte.
    Linked(PathBuf),
}

/// Commits a part of upload `id`: its bytes into place, then its metadata (the commit
/// point), then the index; the bytes of a part it replaces go. `NoSuchUpload` when the
/// upload went meanwhile.
pub(crate) async fn commit_part(
    storage: &Storage,
    id: &str,
    part: PartMeta,
    bytes: PartBytes,
) -> S3Result<()> {
    let dir = storage.layout.upload(id);
    let layout = storage.layout.clone();
    let to_write = part.clone();
    let turn = match upload_key(storage, id) {
        Some((bucket, key)) => Some(storage.commit.key(&bucket, &key).await),
        None => None,
    };
    if turn.is_none() || !storage.state().uploads.contains_key(id) {
        if let PartBytes::Received(tmp) = &bytes {
            let _ = tokio::fs::remove_file(tmp).await;
        }
        return Err(no_such_upload(id));
    }
    // The upload's first part gives it its folder (in the key's commit turn, so once); only
    // that part needs a copy of the upload's metadata.
    let unsettled = storage.journal.is_needed(id);
    let settle_with = unsettled
        .then(|| storage.state().uploads.get(id).map(|u| u.meta.clone()))
        .flatten();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        if let Some(upload) = &settle_with {
            settle(&layout, &dir, upload)?;
        }
        let dest = dir.join(&to_write.data);
        match bytes {
            PartBytes::Received(tmp) => commit_file(&tmp, &dest).inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })?,
            PartBytes::Linked(source) => link_all(&[(source, dest)], &dir)?,
        }
        write_json_atomic(
            &layout,
            &dir.join(format!("part-{:05}.json", to_write.number)),
            &to_write,
        )
    })
    .await
    .map_err(internal)?
    .map_err(internal)?;
    if unsettled {
        storage.journal.settled(id);
    }
    let old = storage
        .state()
        .uploads
        .parts_mut(id)
        .and_then(|parts| parts.insert(part.number, part.clone()));
    if let Some(old) = old.filter(|old| old.data != part.data) {
        let _ = tokio::fs::remove_file(storage.layout.upload(id).join(old.data)).await;
    }
    Ok(())
}
