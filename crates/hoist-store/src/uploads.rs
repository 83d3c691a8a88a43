//! Multipart uploads as the operations that name one see them: the upload a request names
//! (or S3's `NoSuchUpload`), and an upload removed with its parts, by Abort, by Complete once
//! the object has committed, by DeleteBucket and by the lifecycle sweeper.

use s3s::S3Result;

use crate::errors::{no_such_bucket, no_such_upload};
use crate::fs::{safe_upload_id, sync_dir};
use crate::storage::{Storage, UploadMeta};

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
    let _commit = storage.commit.lock().await;
    remove_upload_locked(storage, id).await
}

/// [`remove_upload`] for callers that already hold the commit lock (Complete, DeleteBucket).
pub(crate) async fn remove_upload_locked(storage: &Storage, id: &str) -> std::io::Result<bool> {
    if storage.state().uploads.remove(id).is_none() {
        return Ok(false);
    }
    // Rename first: the upload disappears atomically, the deletion can take its time.
    let trash = storage.layout.temp_file();
    tokio::fs::rename(storage.layout.upload(id), &trash).await?;
    let _ = sync_dir(&storage.layout.uploads());
    let _ = tokio::fs::remove_dir_all(&trash).await;
    Ok(true)
}
