//! Store settings: one builder, every default written once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::faults::Faults;

/// Amazon S3's single-PUT limit: 5 GiB.
pub const DEFAULT_MAX_PUT_SIZE: u64 = hoist_core::plan::MAX_SINGLE_PUT;
/// The region the store claims unless told otherwise.
pub const DEFAULT_REGION: &str = "us-east-1";
/// How long a connection may take to send a request head (hyper's clock also runs while a
/// kept-alive connection waits for its next request).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = hoist_net::DEFAULT_HEADER_READ_TIMEOUT;
/// How long a kept-alive connection may sit between requests before it is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = hoist_net::DEFAULT_IDLE_TIMEOUT;
/// How long a request body may send nothing before the request is dropped.
pub const DEFAULT_BODY_STALL_TIMEOUT: Duration = hoist_net::DEFAULT_BODY_STALL_TIMEOUT;
/// Connections served at once, well below a typical limit of 1024 descriptors. At the cap
/// a new connection sheds the idlest one (no complete request yet, or idle in keep-alive).
pub const DEFAULT_MAX_CONNECTIONS: usize = hoist_net::DEFAULT_MAX_CONNECTIONS;
/// The one account that owns every bucket and object, as listings show it.
pub(crate) fn owner() -> s3s::dto::Owner {
    s3s::dto::Owner {
        display_name: Some("hoist".into()),
        id: Some("hoist".into()),
    }
}

/// Name of the file, inside the data directory, that keeps generated credentials.
pub const CREDENTIALS_FILE: &str = "credentials.json";

/// A static access key and secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The access key id (`AKIA…` style, but any string works).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
}

impl Credentials {
    /// Credentials from an access key id and a secret.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
        }
    }

    /// Fresh random credentials (20-character key id, 40-character secret).
    pub fn generate() -> Self {
        Self {
            access_key_id: format!("HOIST{}", random_token(15, UPPER)),
            secret_access_key: random_token(40, ALNUM_TOKEN),
        }
    }
}

impl std::fmt::Debug for Credentials {
    // The secret never reaches logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
pub(crate) const ALNUM_TOKEN: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

pub(crate) fn random_token(len: usize, alphabet: &[u8]) -> String {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
        .iter()
        .map(|b| alphabet[usize::from(*b) % alphabet.len()] as char)
        .collect()
}

pub(crate) fn random_hex(len_bytes: usize) -> String {
    let mut bytes = vec![0u8; len_bytes];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    hoist_core::encoding::hex(&bytes)
}

/// Everything needed to open a [`Store`](crate::Store).
///
/// ```
/// use hoist_store::{Credentials, StoreConfig};
/// let config = StoreConfig::new("/tmp/hoist-data")
///     .with_credentials(Credentials::new("AKIDEXAMPLE", "secret"))
///     .with_bucket("uploads")
///     .with_max_put_size(10 * 1024 * 1024);
/// assert_eq!(config.region(), "us-east-1");
/// ```
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub(crate) data_dir: PathBuf,
    pub(crate) region: String,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) buckets: Vec<String>,
    pub(crate) max_put_size: u64,
    pub(crate) direct_writes: bool,
    pub(crate) direct_reads: bool,
    pub(crate) faults: Faults,
    pub(crate) sweep_interval: Duration,
    pub(crate) lifecycle_day: Duration,
    pub(crate) header_read_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) body_stall_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) domain: Option<String>,
    pub(crate) tls: Option<std::sync::Arc<hoist_net::Tls>>,
}

impl StoreConfig {
    /// Settings with every default: region `us-east-1`, generated credentials kept in the data
    /// directory, no bucket, 5 GiB single PUT limit, large bodies written past the page cache
    /// and large files not in it read past it, no faults, lifecycle sweep every minute,
    /// and the connection limits of [`DEFAULT_HEADER_READ_TIMEOUT`], [`DEFAULT_IDLE_TIMEOUT`],
    /// [`DEFAULT_BODY_STALL_TIMEOUT`] and [`DEFAULT_MAX_CONNECTIONS`].
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            region: DEFAULT_REGION.to_owned(),
            credentials: None,
            buckets: Vec::new(),
            max_put_size: DEFAULT_MAX_PUT_SIZE,
            direct_writes: true,
            direct_reads: true,
            faults: Faults::default(),
            sweep_interval: Duration::from_secs(60),
            lifecycle_day: Duration::from_secs(86_400),
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            body_stall_timeout: DEFAULT_BODY_STALL_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            domain: None,
            tls: None,
        }
    }

    /// The connection limits of the accept loop. The store sends its own `Date` (from its
    /// clock, which faults may offset).
    pub(crate) fn limits(&self) -> hoist_net::Limits {
        hoist_net::Limits {
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections,
            shutdown_grace: hoist_net::DEFAULT_SHUTDOWN_GRACE,
            date_header: false,
        }
    }

    /// The region the store answers for and expects in signatures.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// Fixed credentials. Without them, credentials are generated on first start and kept in
    /// `DATA/credentials.json` (mode 0600).
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// A bucket to create at start when missing (may be called several times).
    pub fn with_bucket(mut self, name: impl Into<String>) -> Self {
        self.buckets.push(name.into());
        self
    }

    /// The largest single PUT accepted (EntityTooLarge above it). Default 5 GiB.
    pub fn with_max_put_size(mut self, bytes: u64) -> Self {
        self.max_put_size = bytes;
        self
    }

    /// Whether a body larger than 256 KiB is written past the page cache (`O_DIRECT`) where
    /// the file system takes it. Default true; where it refuses, the body goes through the
    /// page cache anyway. Turn it off where direct writes are slow (some network file
    /// systems).
    pub fn with_direct_writes(mut self, direct: bool) -> Self {
        self.direct_writes = direct;
        self
    }

    /// Whether a read of at least 1 MiB of one file goes past the page cache (`O_DIRECT`) where the
    /// part being read is not in the cache. Default true; an object downloaded a second time
    /// is read through the cache, so one read often is served from memory. Where the file
    /// system refuses, the file is read through the page cache anyway. Turn it off to keep
    /// every object read in the cache.
    pub fn with_direct_reads(mut self, direct: bool) -> Self {
        self.direct_reads = direct;
        self
    }

    /// Faults injected from the start (they can be changed later through the handle).
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// How often the lifecycle sweeper looks for incomplete uploads to abort.
    pub fn with_sweep_interval(mut self, interval: Duration) -> Self {
        self.sweep_interval = interval;
        self
    }

    /// The length of a lifecycle "day" (`DaysAfterInitiation`); shorten it in tests.
    pub fn with_lifecycle_day(mut self, day: Duration) -> Self {
        self.lifecycle_day = day;
        self
    }

    /// How long a connection may take to send a request head; it is closed after that.
    /// Default 30 s.
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long a kept-alive connection may wait between requests. Default 20 s.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How long a request body may send nothing before the request is dropped with `400
    /// RequestTimeout`, and how long a client may read nothing of an answer (a download it
    /// stopped reading) before its connection is closed. Default 60 s.
    pub fn with_body_stall_timeout(mut self, timeout: Duration) -> Self {
        self.body_stall_timeout = timeout;
        self
    }

    /// The most connections served at once (at least 1). Default 512.
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// A domain under which a request's `Host` names its bucket (virtual-hosted-style
    /// addressing, as MinIO's and Garage's root domain): with `s3.local`, a request to
    /// `BUCKET.s3.local:PORT` addresses BUCKET. Path-style requests keep working. An empty
    /// domain leaves path-style addressing only.
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Serves HTTPS with this certificate (read again on SIGHUP or when its files change).
    pub fn with_tls(mut self, tls: std::sync::Arc<hoist_net::Tls>) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_credentials_differ() {
        let a = Credentials::generate();
        let b = Credentials::generate();
        assert_ne!(a, b);
        assert_eq!(a.access_key_id.len(), 20);
        assert_eq!(a.secret_access_key.len(), 40);
    }
}
