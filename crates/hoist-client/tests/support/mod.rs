//! Shared test fixtures: the real embedded store on port 0, deterministic data, and an
//! independent S3 client (aws-sdk-s3) to check what the store holds.

#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use hoist_client::{
    CancellationToken, CredentialSource, DirectTransport, Progress, ProgressFn, UploadConfig,
    Uploader, http_client,
};
use hoist_core::presign::{Credentials, Endpoint};
use hoist_store::{Store, StoreConfig, StoreHandle};
use md5::Digest as _;

pub const BUCKET: &str = "test";

pub struct Env {
    pub store: StoreHandle,
    pub dir: tempfile::TempDir,
    pub s3: aws_sdk_s3::Client,
}

pub async fn start() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path().join("store"))
        .with_credentials(hoist_store::Credentials::new("AKIDTEST", "secret-test-key"))
        .with_bucket(BUCKET);
    let store = Store::spawn(config, "127.0.0.1:0").await.unwrap();
    let creds =
        aws_credential_types::Credentials::new("AKIDTEST", "secret-test-key", None, None, "test");
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .endpoint_url(store.endpoint())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .force_path_style(true)
        .http_client(sdk_http_client())
        .build();
    Env {
        store,
        dir,
        s3: aws_sdk_s3::Client::from_conf(conf),
    }
}

impl Env {
    pub fn transport(&self, key: &str) -> DirectTransport {
        let endpoint = Endpoint::parse(&self.store.endpoint(), "us-east-1").unwrap();
        let creds = CredentialSource::fixed(Credentials::new("AKIDTEST", "secret-test-key"));
        DirectTransport::new(http_client(8).unwrap(), endpoint, creds, BUCKET, key).unwrap()
    }

    pub fn uploader(&self, key: &str, config: UploadConfig) -> Uploader<DirectTransport> {
        Uploader::new(
            self.transport(key),
            http_client(config.concurrency).unwrap(),
            config,
        )
    }

    pub fn config(&self) -> UploadConfig {
        UploadConfig {
            state_dir: Some(self.dir.path().join("state")),
            ..UploadConfig::default()
        }
    }

    /// MD5 (hex) and length of the stored object, read back with aws-sdk-s3.
    pub async fn download_md5(&self, key: &str) -> (String, u64) {
        let mut obj = self
            .s3
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .unwrap();
        let mut h = md5::Md5::new();
        let mut n = 0u64;
        while let Some(chunk) = obj.body.try_next().await.unwrap() {
            n += chunk.len() as u64;
            h.update(&chunk);
        }
        (hex(&h.finalize()), n)
    }

    /// The part numbers the store holds for an upload, read with aws-sdk-s3.
    pub async fn stored_parts(&self, key: &str, upload_id: &str) -> Vec<i32> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let r = self
                .s3
                .list_parts()
                .bucket(BUCKET)
                .key(key)
                .upload_id(upload_id)
                .set_part_number_marker(marker.clone())
                .send()
                .await
                .unwrap();
            out.extend(r.parts().iter().filter_map(|p| p.part_number()));
            if r.is_truncated() == Some(true) {
                marker = r.next_part_number_marker().map(str::to_owned);
            } else {
                return out;
            }
        }
    }

    /// The part numbers the store holds once they stop changing. A part whose request was in
    /// flight when the client gave up may still land: the store, like S3, carries out a
    /// request it received whole after its client has gone.
    pub async fn settled_parts(&self, key: &str, upload_id: &str) -> Vec<i32> {
        let mut last = self.stored_parts(key, upload_id).await;
        for _ in 0..50 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let now = self.stored_parts(key, upload_id).await;
            if now == last {
                break;
            }
            last = now;
        }
        last
    }

    /// Uploads in progress in the bucket.
    pub async fn open_uploads(&self) -> Vec<(String, String)> {
        let r = self
            .s3
            .list_multipart_uploads()
            .bucket(BUCKET)
            .send()
            .await
            .unwrap();
        r.uploads()
            .iter()
            .map(|u| {
                (
                    u.key().unwrap_or_default().to_owned(),
                    u.upload_id().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Deterministic pseudo-random bytes (xorshift64*), so every run sends the same data and
/// no two parts are alike.
pub struct DataGen(u64);

impl DataGen {
    pub fn new(seed: u64) -> Self {
        DataGen(seed | 1)
    }
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Writes `size` deterministic bytes to `path`; returns their MD5 (hex).
pub fn write_data(path: &Path, size: u64, seed: u64) -> String {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut g = DataGen::new(seed);
    let mut h = md5::Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        g.fill(&mut buf[..n]);
        h.update(&buf[..n]);
        f.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
    f.flush().unwrap();
    hex(&h.finalize())
}

pub fn data_file(env: &Env, name: &str, size: u64, seed: u64) -> (PathBuf, String) {
    let path = env.dir.path().join(name);
    let md5 = write_data(&path, size, seed);
    (path, md5)
}

/// Records progress events; optionally cancels after `cancel_after` parts.
#[derive(Clone, Default)]
pub struct Recorder {
    pub events: Arc<Mutex<Vec<Progress>>>,
    pub parts: Arc<AtomicU32>,
}

impl Recorder {
    pub fn callback(&self, cancel_after: Option<(u32, CancellationToken)>) -> ProgressFn {
        let me = self.clone();
        Arc::new(move |p: &Progress| {
            if let Progress::PartDone { .. } = p {
                let n = me.parts.fetch_add(1, Ordering::SeqCst) + 1;
                if let Some((limit, token)) = &cancel_after
                    && n >= *limit
                {
                    token.cancel();
                }
            }
            me.events.lock().unwrap().push(p.clone());
        })
    }

    pub fn parts_done(&self) -> Vec<u32> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|p| match p {
                Progress::PartDone { number, .. } => Some(*number),
                _ => None,
            })
            .collect()
    }

    pub fn retries(&self) -> usize {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|p| matches!(p, Progress::Retrying { .. }))
            .count()
    }
}

/// Delegates to another transport but signs part 3 with the checksum of other bytes, as a
/// client with a memory error or a buggy hasher would.
pub struct WrongChecksumOnPart3<T>(pub T);

use hoist_client::{
    ChecksumAlgorithm, CompletedPart, CreateOptions, ObjectInfo, PartSpec, PresignedRequest,
    Session, StoredPart, Transport,
};

impl<T: Transport> Transport for WrongChecksumOnPart3<T> {
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
        let mut p = p.clone();
        if p.number == 3 {
            let other = p.checksum.unwrap().algorithm().digest(b"not the data");
            p.checksum = Some(other);
        }
        self.0.sign_part(s, &p, fresh).await
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
        self.0.complete(s, p, c, e).await
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

/// The SDK's own HTTP client (hyper), on rustls with ring: the SDK is built without its
/// default client, which would bring aws-lc.
pub fn sdk_http_client() -> aws_sdk_s3::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}
