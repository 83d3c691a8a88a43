//! A wrong checksum is refused by the store, ends the upload with an integrity error and
//! aborts it (unless asked to keep it).

mod support;

use hoist_client::{
    CancellationToken, DirectTransport, ErrorKind, Source, UploadConfig, Uploader, http_client,
};
use support::*;

const MIB: u64 = 1024 * 1024;

async fn upload_with_bad_part(env: &Env, key: &str, keep_partial: bool) -> hoist_client::Error {
    let (path, _) = data_file(env, key, 110 * MIB, 9);
    let config = UploadConfig {
        part_size: Some(5 * MIB),
        concurrency: 2,
        keep_partial,
        ..env.config()
    };
    let up = Uploader::new(
        WrongChecksumOnPart3(env.transport(key)),
        http_client(2).unwrap(),
        config,
    );
    up.upload(Source::File(path), None, CancellationToken::new())
        .await
        .unwrap_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_part_checksum_is_refused_and_the_upload_aborted() {
    let env = start().await;
    let err = upload_with_bad_part(&env, "bad.bin", false).await;
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert!(err.to_string().contains("BadDigest"), "{err}");
    assert!(
        env.open_uploads().await.is_empty(),
        "a fatal error aborts the upload"
    );
    assert!(
        env.s3
            .head_object()
            .bucket(BUCKET)
            .key("bad.bin")
            .send()
            .await
            .is_err()
    );
    assert_eq!(
        std::fs::read_dir(env.dir.path().join("state/uploads"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_partial_leaves_the_upload_for_inspection() {
    let env = start().await;
    let err = upload_with_bad_part(&env, "kept.bin", true).await;
    assert_eq!(err.kind(), ErrorKind::Integrity);
    let open = env.open_uploads().await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].0, "kept.bin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_an_auth_failure() {
    let env = start().await;
    let (path, _) = data_file(&env, "auth.bin", 1000, 1);
    let endpoint =
        hoist_core::presign::Endpoint::parse(&env.store.endpoint(), "us-east-1").unwrap();
    let creds = hoist_client::CredentialSource::fixed(hoist_core::presign::Credentials::new(
        "AKIDTEST", "wrong",
    ));
    let t =
        DirectTransport::new(http_client(1).unwrap(), endpoint, creds, BUCKET, "auth.bin").unwrap();
    let up = Uploader::new(t, http_client(1).unwrap(), env.config());
    let err = up
        .upload(Source::File(path), None, CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
}
