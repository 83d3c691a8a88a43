//! What the doctor checks and how strictly: the [`Target`] (where and as whom) and the
//! [`Options`]; every default written once.

use std::time::Duration;

use hoist_core::credentials::Credentials;
use hoist_core::presign::Endpoint;
use hoist_core::ttl::TtlPolicy;
use hoist_s3::{Bucket, CredentialSource, Http, HttpOptions};

use crate::error::DoctorError;

/// The id of the lifecycle rule `--fix` adds.
pub const LIFECYCLE_RULE_ID: &str = "hoist-abort-incomplete-multipart-uploads";

/// The id of the CORS rule `--fix` adds when no rule answers the origin's uploads.
pub const CORS_RULE_ID: &str = "hoist-uploads";

/// Where and as whom the doctor checks.
#[derive(Debug, Clone)]
pub struct Target {
    /// The endpoint URL, `http(s)://host[:port]`.
    pub endpoint: String,
    /// The region to sign for.
    pub region: String,
    /// The bucket.
    pub bucket: String,
    /// The credentials; temporary ones carry a session token and, when known, an expiry.
    pub credentials: Credentials,
}

impl Target {
    /// The bucket's client (hoist-s3), the way hoist's uploaders talk to the store: every
    /// call presigned, signed with the clock corrected to the store's. Fails when the
    /// endpoint URL cannot be used.
    pub fn bucket(&self) -> Result<Bucket, DoctorError> {
        let endpoint = Endpoint::parse(&self.endpoint, self.region.clone())?;
        // A signer refuses credentials past their expiry and URLs outliving them; the
        // doctor reports the expiry itself, and must still ask the store what it thinks.
        let mut signing = self.credentials.clone();
        signing.expires_at = None;
        let http = Http::new(&HttpOptions::default())?;
        Ok(Bucket::new(
            http,
            endpoint,
            self.bucket.clone(),
            CredentialSource::fixed(signing),
        ))
    }
}

/// What to check and how strictly. Every default is written once, in [`Options::default`].
#[derive(Debug, Clone)]
pub struct Options {
    /// The web app's origin, for the CORS check (skipped without it).
    pub origin: Option<String>,
    /// Fail past this clock offset (1 s).
    pub max_clock_offset: Duration,
    /// Incomplete uploads older than this are stale (1 day).
    pub stale_after: Duration,
    /// The URL lifetime policy hoist-server signs with.
    pub ttl: TtlPolicy,
    /// Objects up to this size go in a single PUT (hoist-core's default, 100 MiB).
    pub single_put_threshold: u64,
    /// Apply the CORS and lifecycle fixes.
    pub fix: bool,
    /// `DaysAfterInitiation` of the lifecycle rule `--fix` adds (1).
    pub abort_after_days: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            origin: None,
            max_clock_offset: Duration::from_secs(1),
            stale_after: Duration::from_secs(86_400),
            ttl: TtlPolicy::default(),
            single_put_threshold: hoist_core::plan::DEFAULT_SINGLE_PUT_THRESHOLD,
            fix: false,
            abort_after_days: 1,
        }
    }
}
