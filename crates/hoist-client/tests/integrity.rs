//! A wrong checksum is refused by the store, ends the upload with an integrity error and
//! aborts it (unless asked to keep it).

mod support;

use hoist_client::{
    CancellationToken, ChecksumAlgorithm, CompletedPart, CreateOptions, DirectTransport, ErrorKind,
    ObjectInfo, PartSpec, PresignedRequest, Session, Source, StoredPart, Transport, UploadConfig,
    Uploader, http_client,
};
use hoist_core::s3::ObjectAttributes;
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

/// Delegates to another transport but completes with the last part left out, as a client
/// that lost track of a part would: the store makes an object of the parts named.
struct DropsLastPartAtComplete<T>(T);

impl<T: Transport> Transport for DropsLastPartAtComplete<T> {
    fn destination(&self) -> String {
        self.0.destination()
    }
    fn stream_part_size(&self, p: Option<u64>) -> hoist_client::Result<u64> {
        self.0.stream_part_size(p)
    }
    async fn create(&self, o: &CreateOptions) -> hoist_client::Result<Session> {
        self.0.create(o).await
    }
    async fn sign_part(
        &self,
        s: &Session,
        p: &PartSpec,
        fresh: bool,
    ) -> hoist_client::Result<PresignedRequest> {
        self.0.sign_part(s, p, fresh).await
    }
    async fn list_parts(&self, s: &Session) -> hoist_client::Result<Vec<StoredPart>> {
        self.0.list_parts(s).await
    }
    async fn complete(
        &self,
        s: &Session,
        p: &[CompletedPart],
        c: Option<ChecksumAlgorithm>,
        e: Option<&str>,
    ) -> hoist_client::Result<ObjectInfo> {
        self.0.complete(s, &p[..p.len() - 1], c, e).await
    }
    async fn abort(&self, s: &Session) -> hoist_client::Result<()> {
        self.0.abort(s).await
    }
    async fn attributes(&self, s: &Session) -> hoist_client::Result<Option<ObjectAttributes>> {
        self.0.attributes(s).await
    }
    async fn head(
        &self,
        s: &Session,
        c: Option<ChecksumAlgorithm>,
    ) -> hoist_client::Result<Option<ObjectInfo>> {
        self.0.head(s, c).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_made_of_other_parts_than_sent_is_an_integrity_failure() {
    let env = start().await;
    let (path, _) = data_file(&env, "short.bin", 101 * MIB + 3, 4);
    let config = UploadConfig {
        part_size: Some(5 * MIB),
        ..env.config()
    };
    let up = Uploader::new(
        DropsLastPartAtComplete(env.transport("short.bin")),
        http_client(2).unwrap(),
        config,
    );
    let err = up
        .upload(Source::File(path), None, CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    // GetObjectAttributes names the difference: the store's object has one part too few.
    assert!(
        err.to_string()
            .contains("GetObjectAttributes: the store's object has 20 parts, 21 were sent"),
        "{err}"
    );
}
