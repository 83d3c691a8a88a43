//! The commit point of an object: its bytes renamed into place, then its metadata, whose
//! rename is the commit, then the index updated and the bytes it replaced let go. PutObject
//! and CompleteMultipartUpload publish here; DeleteObject lets go here.

use std::path::PathBuf;

use s3s::S3Result;

use crate::conditions::WriteConditions;
use crate::config::random_hex;
use crate::errors::{internal, no_such_bucket};
use crate::fs::{commit_file, key_stem, write_json_atomic};
use crate::storage::{ObjectMeta, Storage};

/// Makes a received file the object `key`: data renamed into place, then the metadata whose
/// rename is the commit point, then the replaced bytes let go. The write's conditions are
/// judged under the commit lock, so no other write of the key comes between them and the
/// commit.
pub(crate) async fn commit_object(
    storage: &Storage,
    bucket: &str,
    tmp: PathBuf,
    mut meta: ObjectMeta,
    conditions: &WriteConditions,
) -> S3Result<ObjectMeta> {
    let _commit = storage.commit.key(bucket, &meta.key).await;
    if storage.bucket_meta(bucket).is_none() {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(no_such_bucket(bucket));
    }
    if !conditions.is_empty()
        && let Err(err) = conditions.check(&meta.key, storage.object(bucket, &meta.key).as_ref())
    {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(err);
    }
    meta.data = format!("{}.{}.data", key_stem(&meta.key), random_hex(8));
    let dest = storage.layout.objects(bucket).join(&meta.data);
    // The bytes go into place on the same blocking call that writes the metadata.
    publish_with(storage, bucket, meta, move || {
        commit_file(&tmp, &dest).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    })
    .await
}

/// With the key's commit turn held and the bytes in place: writes the metadata (the commit point),
/// indexes the object and lets go of the bytes it replaced. On failure the new bytes are
/// removed and the old object stays.
pub(crate) async fn publish_locked(
    storage: &Storage,
    bucket: &str,
    meta: ObjectMeta,
) -> S3Result<ObjectMeta> {
    publish_with(storage, bucket, meta, || Ok(())).await
}

/// [`publish_locked`], first running `place` (which puts the bytes where the metadata says)
/// on the same blocking call as the metadata's write: one hand-off to the blocking pool per
/// commit, not two.
async fn publish_with(
    storage: &Storage,
    bucket: &str,
    meta: ObjectMeta,
    place: impl FnOnce() -> std::io::Result<()> + Send + 'static,
) -> S3Result<ObjectMeta> {
    let dir = storage.layout.objects(bucket);
    let layout = storage.layout.clone();
    let meta = meta.with_blob(dir.clone());
    let to_write = meta.clone();
    let done = tokio::task::spawn_blocking(move || {
        place()?;
        let json = dir.join(format!("{}.json", key_stem(&to_write.key)));
        write_json_atomic(&layout, &json, &to_write)
    })
    .await
    .map_err(internal)
    .and_then(|r| r.map_err(internal));
    if let Err(err) = done {
        let_go(meta).await;
        return Err(err);
    }
    let old = storage
        .state()
        .buckets
        .get_mut(bucket)
        .and_then(|b| b.objects.insert(meta.key.clone(), meta.clone()));
    if let Some(old) = old {
        let_go(old).await;
    }
    Ok(meta)
}

/// Dooms an object that left the index and drops this handle on the blocking pool: when no
/// reader holds the object any more, that drop unlinks its files (gigabytes, perhaps), which
/// must not stall an async worker.
pub(crate) async fn let_go(meta: ObjectMeta) {
    meta.doom();
    let _ = tokio::task::spawn_blocking(move || drop(meta)).await;
}
