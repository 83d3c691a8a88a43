//! A crash between CompleteMultipartUpload's commit and the removal of the upload: after a
//! restart the object is whole and the upload is gone, while a pending upload is kept.

mod common;

use std::path::Path;

use aws_sdk_s3::types::CompletedMultipartUpload;
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
    s3.complete_multipart_upload()
        .bucket(BUCKET)
        .key("done")
        .upload_id(&done)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let TestStore { handle, dir } = store;
    handle.shutdown().await.unwrap();
    // The crash: object committed, upload directory still there.
    assert!(!uploads.join(&done).exists());
    copy_dir(saved.path(), &uploads.join(&done));

    let config = hoist_store::StoreConfig::new(dir.path())
        .with_credentials(hoist_store::Credentials::new(AK, SK))
        .with_bucket(BUCKET);
    let handle = hoist_store::Store::spawn(config, "127.0.0.1:0")
        .await
        .unwrap();
    let s3 = client_for(&handle.endpoint(), AK, SK, None, false);
    assert_eq!(listed_uploads(&s3).await, vec![pending.clone()]);
    assert!(!uploads.join(&done).exists());
    let object = s3
        .get_object()
        .bucket(BUCKET)
        .key("done")
        .send()
        .await
        .unwrap();
    let bytes = object.body.collect().await.unwrap().into_bytes();
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
