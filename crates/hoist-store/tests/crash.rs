//! Restarts and crashes around multipart uploads: between CompleteMultipartUpload's commit and
//! the removal of the upload (after a restart the object is whole and the upload is gone,
//! while a pending upload is kept); an upload with no part yet, kept only by the uploads
//! journal; an abort recorded whose folder a crash left behind.

mod common;

use std::path::Path;

use common::*;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

async fn listed_uploads(s3: &aws_sdk_s3::Client) -> Vec<String> {
    s3.list_multipart_uploads()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap()
        .uploads()
        .iter()
        .filter_map(|u| u.upload_id().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn an_upload_whose_object_committed_before_a_crash_is_removed_at_start() {
    let store = TestStore::start().await;
    let s3 = store.client();
    let first = bytes_of(5 * 1024 * 1024, 1);
    let second = bytes_of(1000, 2);
    let done = create_upload(&s3, "done").await;
    let parts = vec![
        upload_part(&s3, "done", &done, 1, first.clone()).await,
        upload_part(&s3, "done", &done, 2, second.clone()).await,
    ];
    let pending = create_upload(&s3, "pending").await;
    upload_part(&s3, "pending", &pending, 1, bytes_of(100, 3)).await;

    // The upload's directory as it stood just before Complete removed it.
    let uploads = store.dir.path().join("uploads");
    let saved = tempfile::tempdir().unwrap();
    copy_dir(&uploads.join(&done), saved.path());
    complete_upload(&s3, "done", &done, parts).await;
    let TestStore { handle, dir } = store;
    handle.shutdown().await.unwrap();
    // The crash: object committed, upload directory still there.
    assert!(!uploads.join(&done).exists());
    copy_dir(saved.path(), &uploads.join(&done));

    let (handle, s3) = restart_stopped(dir.path()).await;
    assert_eq!(listed_uploads(&s3).await, vec![pending.clone()]);
    assert!(!uploads.join(&done).exists());
    let bytes = object_bytes(&s3, "done").await;
    assert_eq!(bytes.len(), first.len() + second.len());
    assert!(bytes[..first.len()] == first[..] && bytes[first.len()..] == second[..]);
    let pending_parts = s3
        .list_parts()
        .bucket(BUCKET)
        .key("pending")
        .upload_id(&pending)
        .send()
        .await
        .unwrap();
    assert_eq!(pending_parts.parts().len(), 1);
    handle.shutdown().await.unwrap();
}

/// Stops the store and starts another on the same data directory.
async fn restart(
    handle: hoist_store::StoreHandle,
    dir: &Path,
) -> (hoist_store::StoreHandle, aws_sdk_s3::Client) {
    handle.shutdown().await.unwrap();
    restart_stopped(dir).await
}

#[tokio::test]
async fn an_upload_with_no_part_yet_outlives_a_restart_and_an_aborted_one_stays_gone() {
    let TestStore { handle, dir } = TestStore::start().await;
    let s3 = client_for(&handle.endpoint(), AK, SK, None, false);
    let kept = create_upload(&s3, "kept").await;
    let aborted = create_upload(&s3, "aborted").await;
    s3.abort_multipart_upload()
        .bucket(BUCKET)
        .key("aborted")
        .upload_id(&aborted)
        .send()
        .await
        .unwrap();

    let (handle, s3) = restart(handle, dir.path()).await;
    assert_eq!(listed_uploads(&s3).await, vec![kept.clone()]);
    let body = bytes_of(1000, 4);
    let part = upload_part(&s3, "kept", &kept, 1, body.clone()).await;
    // Twice more: the upload now has parts, then it is complete.
    let (handle, s3) = restart(handle, dir.path()).await;
    assert_eq!(listed_uploads(&s3).await, vec![kept.clone()]);
    complete_upload(&s3, "kept", &kept, vec![part]).await;
    let (handle, s3) = restart(handle, dir.path()).await;
    assert!(listed_uploads(&s3).await.is_empty());
    assert!(object_bytes(&s3, "kept").await == body);
    let gone = s3
        .list_parts()
        .bucket(BUCKET)
        .key("aborted")
        .upload_id(&aborted)
        .send()
        .await;
    let (status, body) = raw_error(&gone.unwrap_err());
    assert_eq!(status, 404);
    assert_eq!(element(&body, "Code").as_deref(), Some("NoSuchUpload"));
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_abort_a_crash_cut_short_is_finished_at_start() {
    let TestStore { handle, dir } = TestStore::start().await;
    let s3 = client_for(&handle.endpoint(), AK, SK, None, false);
    let id = create_upload(&s3, "cut").await;
    upload_part(&s3, "cut", &id, 1, bytes_of(100, 5)).await;
    let folder = dir.path().join("uploads").join(&id);
    let saved = tempfile::tempdir().unwrap();
    copy_dir(&folder, saved.path());
    s3.abort_multipart_upload()
        .bucket(BUCKET)
        .key("cut")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    handle.shutdown().await.unwrap();
    // The crash: the abort was recorded, the upload's folder not yet removed.
    assert!(!folder.exists());
    copy_dir(saved.path(), &folder);

    let (handle, s3) = restart_stopped(dir.path()).await;
    assert!(listed_uploads(&s3).await.is_empty());
    assert!(!folder.exists());
    handle.shutdown().await.unwrap();
}

/// Starts a store on the data directory a stopped one left.
async fn restart_stopped(dir: &Path) -> (hoist_store::StoreHandle, aws_sdk_s3::Client) {
    let config = hoist_store::StoreConfig::new(dir)
        .with_credentials(hoist_store::Credentials::new(AK, SK))
        .with_bucket(BUCKET);
    let handle = hoist_store::Store::spawn(config, "127.0.0.1:0")
        .await
        .unwrap();
    let s3 = client_for(&handle.endpoint(), AK, SK, None, false);
    (handle, s3)
}

#[tokio::test]
async fn a_completed_upload_whose_gone_line_a_crash_lost_stays_gone() {
    let TestStore { handle, dir } = TestStore::start().await;
    let s3 = client_for(&handle.endpoint(), AK, SK, None, false);
    let id = create_upload(&s3, "done").await;
    let body = bytes_of(1000, 6);
    let part = upload_part(&s3, "done", &id, 1, body.clone()).await;
    // The journal as it stood before Complete: the upload's create line, no gone line.
    let journal = dir.path().join("uploads.journal");
    let before = std::fs::read(&journal).unwrap();
    complete_upload(&s3, "done", &id, vec![part]).await;
    handle.shutdown().await.unwrap();
    // The crash: the object committed and its upload's folder went, the gone line did not
    // reach the disk.
    assert!(!dir.path().join("uploads").join(&id).exists());
    std::fs::write(&journal, before).unwrap();

    let (handle, s3) = restart_stopped(dir.path()).await;
    assert!(listed_uploads(&s3).await.is_empty());
    assert!(object_bytes(&s3, "done").await == body);
    // And the next start does not find it either.
    let (handle, s3) = restart(handle, dir.path()).await;
    assert!(listed_uploads(&s3).await.is_empty());
    handle.shutdown().await.unwrap();
}
