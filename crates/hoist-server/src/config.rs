//! The coordinator's settings: one struct, every default written once in [`ServerConfig::new`].

use std::time::Duration;

pub use crate::limits::LimitPolicy;

use hoist_core::plan::PlanPolicy;
use hoist_core::ttl::TtlPolicy;

use hoist_s3::CredentialSource;

use crate::token::MIN_TOKEN_SECRET_LEN;

/// Default region when the store does not say otherwise.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Default bucket name.
pub const DEFAULT_BUCKET: &str = "uploads";
/// Default prefix of generated keys for API-key and anonymous callers.
pub const DEFAULT_KEY_PREFIX: &str = "files";
/// How long an upload token is accepted: long enough for a slow 48 TiB upload to finish.
pub const DEFAULT_UPLOAD_TTL: Duration = Duration::from_secs(7 * 86_400);
/// Part URLs handed out with a new multipart upload; the rest are asked for as needed.
pub const DEFAULT_FIRST_BATCH: u32 = 8;
/// Most part URLs one request may ask for.
pub const DEFAULT_MAX_BATCH: u32 = 1000;
/// How often the store's clock is measured.
pub const DEFAULT_CLOCK_INTERVAL: Duration = Duration::from_secs(60);

/// Why the coordinator cannot start with a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    #[error("the token secret must be at least {MIN_TOKEN_SECRET_LEN} bytes")]
    WeakTokenSecret,
    #[error("invalid store endpoint {0:?}: it must be an http:// or https:// URL")]
    BadEndpoint(String),
    #[error("invalid setting {field}: {why}")]
    Invalid { field: &'static str, why: String },
    #[error("could not build the HTTP client: {0}")]
    Client(String),
}

/// Metrics in Prometheus's text format, read at each scrape.
pub type ExtraMetrics = std::sync::Arc<dyn Fn() -> String + Send + Sync>;

/// Where the S3 store is and how to address it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreTarget {
    /// Base URL, e.g. `http://127.0.0.1:9000` or `https://s3.eu-west-1.amazonaws.com`; or
    /// several, comma-separated: the nodes of one cluster ([`StoreTarget::endpoints`]).
    pub endpoint: String,
    pub region: String,
    /// Virtual-host addressing (`bucket.host`) instead of path style.
    pub virtual_host: bool,
    /// A PEM file whose first certificate is the only one the coordinator accepts from this
    /// store, under any name: the embedded store, which serves the coordinator's own
    /// certificate on an address the certificate need not name.
    pub pinned_certificate: Option<std::path::PathBuf>,
    /// Where the coordinator connects for the endpoint's host, when it is not where DNS
    /// points (the embedded store, reached on its own address whatever URL browsers use).
    pub connect_to: Option<std::net::SocketAddr>,
}

/// Everything the coordinator needs to run. Its `Debug` form shows no secret: the token
/// and grant secrets by their length, API keys by their count.
#[derive(Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    pub store: StoreTarget,
    pub bucket: String,
    pub credentials: CredentialSource,
    /// Secret that signs upload tokens; replicas that share it share uploads.
    pub token_secret: Vec<u8>,
    /// API keys accepted as `Authorization: Bearer <key>`.
    pub api_keys: Vec<String>,
    /// Secret of the HS256 grants the app mints for browsers; none disables grants.
    pub grant_secret: Option<Vec<u8>>,
    /// Whether callers without credentials may upload.
    pub anonymous: bool,
    /// Origins allowed to call the API from a browser (`*` for any).
    pub cors_origins: Vec<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the caller (for its rate limit).
    pub trusted_proxies: crate::proxies::TrustedProxies,
    /// Prefix of generated keys for API-key and anonymous callers.
    pub key_prefix: String,
    /// Largest object any caller may declare.
    pub max_upload_size: u64,
    pub plan: PlanPolicy,
    pub ttl: TtlPolicy,
    pub upload_ttl: Duration,
    pub first_batch: u32,
    pub max_batch: u32,
    pub clock_interval: Duration,
    /// Per-caller request rate and open uploads, kept by each replica on its own.
    pub limits: LimitPolicy,
    /// Timeouts and the cap of the coordinator's own connections.
    pub connections: hoist_net::Limits,
    /// Time a request body may send nothing before the request is answered `408`.
    pub body_stall_timeout: Duration,
    /// The certificate of HTTPS, when the coordinator terminates TLS itself.
    pub tls: Option<std::sync::Arc<hoist_net::Tls>>,
    /// More metrics written after the coordinator's on `/metrics` (the embedded store's).
    pub extra_metrics: Option<ExtraMetrics>,
    /// The application's hooks: upload events and the pre-create check.
    pub hooks: crate::hooks::HookConfig,
    /// Every upload is no-clobber, whatever its caller asks.
    pub no_clobber: bool,
}

impl StoreTarget {
    /// Each endpoint [`StoreTarget::endpoint`] names, in order, without repeats.
    pub fn endpoints(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in self
            .endpoint
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            if !out.iter().any(|o| o == e) {
                out.push(e.to_owned());
            }
        }
        out
    }
}

impl ServerConfig {
    /// Settings with every default, for a store at `endpoint` and the given credentials.
    pub fn new(endpoint: impl Into<String>, credentials: CredentialSource) -> Self {
        Self {
            store: StoreTarget {
                endpoint: endpoint.into(),
                region: DEFAULT_REGION.to_string(),
                virtual_host: false,
                pinned_certificate: None,
                connect_to: None,
            },
            bucket: DEFAULT_BUCKET.to_string(),
            credentials,
            token_secret: Vec::new(),
            api_keys: Vec::new(),
            grant_secret: None,
            anonymous: false,
            cors_origins: Vec::new(),
            trusted_proxies: crate::proxies::TrustedProxies::default(),
            key_prefix: DEFAULT_KEY_PREFIX.to_string(),
            max_upload_size: hoist_core::plan::MAX_OBJECT_SIZE,
            plan: PlanPolicy::default(),
            ttl: TtlPolicy::default(),
            upload_ttl: DEFAULT_UPLOAD_TTL,
            first_batch: DEFAULT_FIRST_BATCH,
            max_batch: DEFAULT_MAX_BATCH,
            clock_interval: DEFAULT_CLOCK_INTERVAL,
            limits: LimitPolicy::default(),
            connections: hoist_net::Limits::default(),
            body_stall_timeout: hoist_net::DEFAULT_BODY_STALL_TIMEOUT,
            tls: None,
            extra_metrics: None,
            hooks: crate::hooks::HookConfig::default(),
            no_clobber: false,
        }
    }

    pub fn with_hooks(mut self, hooks: crate::hooks::HookConfig) -> Self {
        self.hooks = hooks;
        self
    }

    /// Makes every upload no-clobber (`If-None-Match: *`), as a grant's `no_clobber` claim
    /// does for its caller's.
    pub fn with_no_clobber(mut self, yes: bool) -> Self {
        self.no_clobber = yes;
        self
    }

    pub fn with_limits(mut self, limits: LimitPolicy) -> Self {
        self.limits = limits;
        self
    }

    pub fn with_bucket(mut self, bucket: impl Into<String>) -> Self {
        self.bucket = bucket.into();
        self
    }

    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.store.region = region.into();
        self
    }

    pub fn with_virtual_host(mut self, yes: bool) -> Self {
        self.store.virtual_host = yes;
        self
    }

    pub fn with_token_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.token_secret = secret.into();
        self
    }

    pub fn with_api_keys(mut self, keys: Vec<String>) -> Self {
        self.api_keys = keys;
        self
    }

    pub fn with_grant_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.grant_secret = Some(secret.into());
        self
    }

    pub fn with_anonymous(mut self, yes: bool) -> Self {
        self.anonymous = yes;
        self
    }

    pub fn with_trusted_proxies(mut self, proxies: crate::proxies::TrustedProxies) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    pub fn with_cors_origins(mut self, origins: Vec<String>) -> Self {
        self.cors_origins = origins;
        self
    }

    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    pub fn with_max_upload_size(mut self, bytes: u64) -> Self {
        self.max_upload_size = bytes;
        self
    }

    pub fn with_plan(mut self, plan: PlanPolicy) -> Self {
        self.plan = plan;
        self
    }

    pub fn with_ttl(mut self, ttl: TtlPolicy) -> Self {
        self.ttl = ttl;
        self
    }

    pub fn with_upload_ttl(mut self, ttl: Duration) -> Self {
        self.upload_ttl = ttl;
        self
    }

    pub fn with_first_batch(mut self, n: u32) -> Self {
        self.first_batch = n;
        self
    }

    pub fn with_clock_interval(mut self, every: Duration) -> Self {
        self.clock_interval = every;
        self
    }

    pub fn with_connections(mut self, limits: hoist_net::Limits) -> Self {
        self.connections = limits;
        self
    }

    pub fn with_body_stall_timeout(mut self, after: Duration) -> Self {
        self.body_stall_timeout = after;
        self
    }

    /// Writes `render`'s metrics after the coordinator's own on `/metrics`.
    pub fn with_extra_metrics(mut self, render: ExtraMetrics) -> Self {
        self.extra_metrics = Some(render);
        self
    }

    /// Serves HTTPS with this certificate (read again on SIGHUP or when its files change).
    pub fn with_tls(mut self, tls: std::sync::Arc<hoist_net::Tls>) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Accepts only the first certificate of the PEM file `pinned_certificate` from the store
    /// (when given), and connects to `connect_to` (when given) for the endpoint's host.
    pub fn with_store_connection(
        mut self,
        pinned_certificate: Option<std::path::PathBuf>,
        connect_to: Option<std::net::SocketAddr>,
    ) -> Self {
        self.store.pinned_certificate = pinned_certificate;
        self.store.connect_to = connect_to;
        self
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = |bytes: &[u8]| format!("<{} bytes, redacted>", bytes.len());
        f.debug_struct("ServerConfig")
            .field("store", &self.store)
            .field("bucket", &self.bucket)
            .field("credentials", &self.credentials)
            .field("token_secret", &secret(&self.token_secret))
            .field(
                "api_keys",
                &format!("<{} keys, redacted>", self.api_keys.len()),
            )
            .field("grant_secret", &self.grant_secret.as_deref().map(secret))
            .field("anonymous", &self.anonymous)
            .field("cors_origins", &self.cors_origins)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("key_prefix", &self.key_prefix)
            .field("max_upload_size", &self.max_upload_size)
            .field("plan", &self.plan)
            .field("ttl", &self.ttl)
            .field("upload_ttl", &self.upload_ttl)
            .field("first_batch", &self.first_batch)
            .field("max_batch", &self.max_batch)
            .field("clock_interval", &self.clock_interval)
            .field("limits", &self.limits)
            .field("connections", &self.connections)
            .field("body_stall_timeout", &self.body_stall_timeout)
            .field(
                "tls",
                &self.tls.as_ref().map(|t| t.cert_path().to_path_buf()),
            )
            .field("hooks", &self.hooks)
            .field("no_clobber", &self.no_clobber)
            .field("extra_metrics", &self.extra_metrics.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoist_core::credentials::Credentials;

    #[test]
    fn debug_shows_no_secret() {
        let config = ServerConfig::new(
            "http://127.0.0.1:9000",
            CredentialSource::fixed(Credentials::new("AKIDEXAMPLE", "store-secret-key-value")),
        )
        .with_token_secret(b"token-secret-token-secret-token-secret".to_vec())
        .with_api_keys(vec!["hk_live_api_key_value".into()])
        .with_grant_secret(b"grant-secret-grant-secret-grant".to_vec())
        .with_hooks(
            crate::hooks::HookConfig::default()
                .with_urls(vec![
                    "https://app.example/hook?key=hook-url-credential".into(),
                ])
                .with_secret(
                    crate::hooks::HookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
                        .unwrap(),
                ),
        );
        let shown = format!("{config:?} {config:#?}");
        for secret in [
            "store-secret-key-value",
            "token-secret",
            "hk_live_api_key_value",
            "grant-secret",
            "hook-url-credential",
            "MfKQ9r8G",
        ] {
            assert!(!shown.contains(secret), "{secret} shown in {shown}");
        }
        assert!(shown.contains("38 bytes, redacted"), "{shown}");
        assert!(shown.contains("1 keys, redacted"), "{shown}");
    }
}
