//! Uploads through a real hoist-server in front of the real embedded store: presigned URLs
//! only, no credentials on the client.

mod support;

use hoist_client::{
    CancellationToken, ChecksumAlgorithm, CompletedPart, CoordinatorTransport, CreateOptions,
    ErrorKind, ObjectInfo, PartSpec, PresignedRequest, Session, Source, StoredPart, Transport,
    UploadConfig, Uploader, http_client,
};
use hoist_core::plan::PlanPolicy;
use hoist_server::{AppState, CredentialSource, Credentials, ServerConfig};
use support::*;

const MIB: u64 = 1024 * 1024;
const API_KEY: &str = "client-test-key";

async fn start_coordinator(env: &Env) -> String {
    let c = env.store.credentials();
    let config = ServerConfig::new(
        env.store.endpoint(),
        CredentialSource::fixed(Credentials::new(
            c.access_key_id.clone(),
            c.secret_access_key.clone(),
        )),
    )
    .with_bucket(BUCKET)
    .with_token_secret(b"0123456789abcdef0123456789abcdef".to_vec())
    .with_api_keys(vec![API_KEY.into()])
    .with_plan(
        PlanPolicy::default()
            .with_single_put_threshold(5 * MIB)
            .with_part_size(5 * MIB),
    );
    let state = AppState::new(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(hoist_server::serve(listener, state, std::future::pending()));
    base
}

fn uploader(
    base: &str,
    name: &str,
    config: UploadConfig,
    token: Option<&str>,
) -> Uploader<CoordinatorTransport> {
    let http = http_client(config.concurrency).unwrap();
    let t = CoordinatorTransport::new(http.clone(), base, token.map(str::to_owned))
        .unwrap()
        .with_filename(name);
    Uploader::new(t, http, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_and_single_through_the_coordinator() {
    let env = start().await;
    let base = start_coordinator(&env).await;
    for (name, size) in [("multi.bin", 83 * MIB + 17), ("single.bin", 3 * MIB)] {
        let (path, md5) = data_file(&env, name, size, 7);
        let rec = Recorder::default();
        let config = UploadConfig {
            concurrency: 4,
            ..env.config()
        };
        let done = uploader(&base, name, config, Some(API_KEY))
            .upload(
                Source::File(path),
                Some(rec.callback(None)),
                CancellationToken::new(),
            )
            .await
            .unwrap();
        assert_eq!(done.size, size);
        assert_eq!(done.multipart, size > 5 * MIB);
        assert_eq!(done.bucket, BUCKET);
        assert!(done.key.ends_with(name), "{}", done.key);
        assert_eq!(env.download_md5(&done.key).await, (md5, size), "{name}");
    }
    assert!(env.open_uploads().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_resume_sends_only_missing_parts() {
    let env = start().await;
    let base = start_coordinator(&env).await;
    let size = 60 * MIB;
    let (path, md5) = data_file(&env, "r.bin", size, 8);
    let config = UploadConfig {
        concurrency: 2,
        checksum: Some(ChecksumAlgorithm::Crc32c),
        ..env.config()
    };
    let cancel = CancellationToken::new();
    let first = Recorder::default();
    let err = uploader(&base, "r.bin", config.clone(), Some(API_KEY))
        .upload(
            Source::File(path.clone()),
            Some(first.callback(Some((5, cancel.clone())))),
            cancel,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    let open = env.open_uploads().await;
    assert_eq!(open.len(), 1);
    let stored = env.settled_parts(&open[0].0, &open[0].1).await;
    let second = Recorder::default();
    let done = uploader(
        &base,
        "r.bin",
        UploadConfig {
            resume: true,
            ..config
        },
        Some(API_KEY),
    )
    .upload(
        Source::File(path),
        Some(second.callback(None)),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let mut sent = second.parts_done();
    sent.sort();
    let missing: Vec<u32> = (1..=12)
        .filter(|n| !stored.contains(&(*n as i32)))
        .collect();
    assert_eq!(sent, missing);
    assert_eq!(env.download_md5(&done.key).await, (md5, size));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_refuses_a_missing_token() {
    let env = start().await;
    let base = start_coordinator(&env).await;
    let (path, _) = data_file(&env, "n.bin", 1000, 1);
    let err = uploader(&base, "n.bin", env.config(), None)
        .upload(Source::File(path), None, CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    let stdin = uploader(&base, "-", env.config(), Some(API_KEY))
        .upload(
            Source::Stream(Box::new(std::io::empty())),
            None,
            CancellationToken::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(stdin.kind(), ErrorKind::Usage);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_part_checksum_is_refused_through_the_coordinator_too() {
    let env = start().await;
    let base = start_coordinator(&env).await;
    let (path, _) = data_file(&env, "bad.bin", 30 * MIB, 3);
    let http = http_client(2).unwrap();
    let t = CoordinatorTransport::new(http.clone(), &base, Some(API_KEY.into()))
        .unwrap()
        .with_filename("bad.bin");
    let config = UploadConfig {
        concurrency: 2,
        ..env.config()
    };
    let err = Uploader::new(WrongChecksumOnPart3(t), http, config)
        .upload(Source::File(path), None, CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert!(
        env.open_uploads().await.is_empty(),
        "aborted through the coordinator"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_multipart_is_checked_with_a_full_object_crc64nvme() {
    let env = start().await;
    let base = start_coordinator(&env).await;
    let size = 17 * MIB + 4321;
    let (path, md5) = data_file(&env, "crc.bin", size, 5);
    let done = uploader(&base, "crc.bin", env.config(), Some(API_KEY))
        .upload(Source::File(path.clone()), None, CancellationToken::new())
        .await
        .unwrap();
    assert!(done.multipart);
    // The CRC of the whole file in one pass, not combined from parts as the engine does.
    let whole = std::fs::read(&path).unwrap();
    let want = ChecksumAlgorithm::Crc64Nvme.digest(&whole).to_base64();
    assert_eq!(done.checksum.as_deref(), Some(want.as_str()));
    // And the store says so to an independent client.
    let head = env
        .s3
        .head_object()
        .bucket(BUCKET)
        .key(&done.key)
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_crc64_nvme(), Some(want.as_str()));
    assert_eq!(
        head.checksum_type(),
        Some(&aws_sdk_s3::types::ChecksumType::FullObject)
    );
    assert_eq!(env.download_md5(&done.key).await, (md5, size));
}

/// Claims another whole-object checksum at completion than the parts combine to, as a
/// client whose memory or hasher failed between sending and completing would.
struct WrongObjectChecksum(CoordinatorTransport);

impl Transport for WrongObjectChecksum {
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
        _e: Option<&str>,
    ) -> hoist_client::Result<ObjectInfo> {
        let other = c.unwrap().digest(b"other bytes").to_base64();
        self.0.complete(s, p, c, Some(&other)).await
    }
    async fn abort(&self, s: &Session) -> hoist_client::Result<()> {
        self.0.abort(s).await
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
async fn a_wrong_object_checksum_is_refused_at_completion_and_the_upload_aborted() {
    let env = start().await;
    let base = start_coordinator(&env).await;
    let (path, _) = data_file(&env, "whole.bin", 12 * MIB, 6);
    let http = http_client(2).unwrap();
    let t = CoordinatorTransport::new(http.clone(), &base, Some(API_KEY.into()))
        .unwrap()
        .with_filename("whole.bin");
    let err = Uploader::new(WrongObjectChecksum(t), http, env.config())
        .upload(Source::File(path), None, CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert!(err.to_string().contains("checksum"), "{err}");
    assert!(env.open_uploads().await.is_empty(), "aborted");
}
