//! Shared setup: an embedded store on port 0, a signer for it, and `curl -v` captures.

#![allow(dead_code)]

use std::process::Command;
use std::time::SystemTime;

use hoist_core::clock::ClockOffset;
use hoist_core::presign::{Credentials, Endpoint, PresignRequest, PresignedUrl, Presigner};
use hoist_core::s3::{self, CorsConfiguration, CorsRule};
use hoist_core::time::Timestamp;
use hoist_doctor::live::Target;
use hoist_s3::Bucket;
use hoist_store::{Store, StoreConfig, StoreHandle};

pub const BUCKET: &str = "uploads";
pub const ORIGIN: &str = "https://app.example.com";

pub struct Env {
    pub store: StoreHandle,
    pub dir: tempfile::TempDir,
}

pub async fn start(max_put_size: Option<u64>) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let mut config = StoreConfig::new(dir.path())
        .with_credentials(hoist_store::Credentials::new(
            "AKIDDOCTORTEST",
            "doctor-test-secret-key",
        ))
        .with_bucket(BUCKET);
    if let Some(max) = max_put_size {
        config = config.with_max_put_size(max);
    }
    let store = Store::spawn(config, "127.0.0.1:0").await.unwrap();
    Env { store, dir }
}

impl Env {
    pub fn credentials(&self) -> Credentials {
        let c = self.store.credentials();
        Credentials::new(&c.access_key_id, &c.secret_access_key)
    }

    pub fn target(&self) -> Target {
        self.target_with(self.credentials())
    }

    pub fn target_with(&self, credentials: Credentials) -> Target {
        Target {
            endpoint: self.store.endpoint(),
            region: self.store.region().to_owned(),
            bucket: BUCKET.to_owned(),
            credentials,
        }
    }

    pub fn signer_with(&self, credentials: Credentials) -> Presigner {
        Presigner::new(
            credentials,
            Endpoint::parse(&self.store.endpoint(), self.store.region()).unwrap(),
        )
    }

    pub fn signer(&self) -> Presigner {
        self.signer_with(self.credentials())
    }

    /// A URL signed at `now` (local clock) by the store's static credentials.
    pub fn presign(&self, req: &PresignRequest<'_>) -> PresignedUrl {
        self.signer().presign(req, now()).unwrap()
    }

    /// The bucket's client, signing with the store's own clock (whatever offset it plays).
    pub fn client(&self) -> Bucket {
        let bucket = self.target().bucket().unwrap();
        let offset = self.store_now().millis_since(now());
        bucket.clock().set(ClockOffset::from_millis(offset));
        bucket
    }

    pub fn set_clock_offset(&self, secs: i64) {
        self.store
            .faults()
            .update(|f| f.clock_offset_secs = secs)
            .unwrap();
    }

    /// Replaces the bucket's CORS rules.
    pub async fn put_cors(&self, rules: Vec<CorsRule>) {
        self.client()
            .put_cors(&CorsConfiguration { rules })
            .await
            .unwrap();
    }

    /// The store's time (its clock may be offset by a fault).
    pub fn store_now(&self) -> Timestamp {
        Timestamp::from(self.store.clock().now())
    }
}

pub fn now() -> Timestamp {
    Timestamp::from(SystemTime::now())
}

pub fn rule(origin: &str, expose: &[&str]) -> CorsRule {
    CorsRule {
        id: Some("web".into()),
        allowed_origins: vec![origin.into()],
        allowed_methods: vec!["GET".into(), "PUT".into()],
        allowed_headers: vec!["*".into()],
        expose_headers: expose.iter().map(|s| (*s).to_owned()).collect(),
        max_age_seconds: Some(3000),
    }
}

/// Runs `curl -v` with `args`, its verbose output and the body on one stream, as a user who
/// types `curl -v … 2>&1 | tee transcript.txt` captures them.
pub async fn curl_v(args: Vec<String>) -> String {
    tokio::task::spawn_blocking(move || {
        let out = Command::new("sh")
            .arg("-c")
            .arg("exec curl -v -sS \"$@\" 2>&1")
            .arg("curl")
            .args(&args)
            .output()
            .expect("curl runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .unwrap()
}

/// A PUT of `body_file` to `url` with `curl -v`.
pub fn put_args(url: &str, body_file: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "-X".into(),
        "PUT".into(),
        "--data-binary".into(),
        format!("@{}", body_file.display()),
    ];
    for e in extra {
        args.push((*e).to_owned());
    }
    args.push(url.to_owned());
    args
}

/// Starts a multipart upload of `key` and stores one part of `part_bytes`, signing with the
/// store's own clock (so it works whatever clock offset the store plays). Returns the upload id.
pub async fn incomplete_upload(env: &Env, key: &str, part_bytes: usize) -> String {
    let bucket = env.client();
    let upload_id = bucket
        .create_multipart(key, &Default::default())
        .await
        .unwrap();
    let part = bucket
        .presign(&PresignRequest::upload_part(
            BUCKET,
            key,
            upload_id.as_str(),
            1,
        ))
        .unwrap();
    let resp = reqwest::Client::new()
        .put(&part.url)
        .body(vec![b'p'; part_bytes])
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "UploadPart: {}", resp.status());
    upload_id
}

/// The upload ids ListMultipartUploads reports.
pub async fn upload_ids(env: &Env) -> Vec<String> {
    let uploads = env.client().list_uploads(None).await.unwrap();
    uploads.into_iter().map(|u| u.upload_id).collect()
}

/// Sets a lifecycle rule that aborts incomplete uploads after `days`.
pub async fn put_abort_rule(env: &Env, days: u32) {
    let config = s3::LifecycleConfiguration {
        rules: vec![s3::LifecycleRule::abort_incomplete_uploads("cleanup", days)],
    };
    env.client().put_lifecycle(&config).await.unwrap();
}
