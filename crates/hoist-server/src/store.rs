//! The coordinator's store: hoist-s3's [`Bucket`] for the bucket uploads go to, and the
//! rules `hoist serve` keeps in its embedded store's bucket.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use hoist_core::presign::Endpoint;
use hoist_core::s3::{CorsRule, PartInfo};
use hoist_s3::{Bucket, Http, HttpOptions};

use crate::api::StoredPart;
use crate::config::{ServerConfig, StateError};
use crate::metrics::{Metrics, PresignKind};

pub use hoist_s3::Error as StoreError;

/// Id of the bucket CORS rule `hoist serve` keeps for its own upload page.
pub const SERVE_CORS_RULE: &str = "hoist-serve-upload-page";

/// Id of the lifecycle rule that `hoist serve` adds to its embedded store's bucket.
pub const SERVE_LIFECYCLE_RULE: &str = "hoist-serve-abort-incomplete";

/// A control call should never take long; a hung store must not hang API callers.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a health probe of one store endpoint may take before the endpoint counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The endpoints of one store (the nodes of a cluster, each serving the same buckets), each a
/// [`Bucket`] with its own clock; the coordinator signs for one of them at a time and moves
/// to the next that answers when it stops answering ([`Stores::check`]).
#[derive(Debug)]
pub(crate) struct Stores {
    all: Vec<Bucket>,
    current: AtomicUsize,
    down: Vec<AtomicBool>,
}

impl Stores {
    /// The bucket on each endpoint `config` names (`--s3-endpoint`, comma-separated for the
    /// nodes of one cluster), signing with its credentials; each control call signed is
    /// counted in `metrics`.
    pub(crate) fn open(config: &ServerConfig, metrics: Arc<Metrics>) -> Result<Self, StateError> {
        let endpoints = config.store.endpoints();
        if endpoints.is_empty() {
            return Err(StateError::BadEndpoint("no store endpoint given".into()));
        }
        let all = endpoints
            .iter()
            .map(|e| open(config, e, metrics.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let down = all.iter().map(|_| AtomicBool::new(false)).collect();
        Ok(Stores {
            all,
            current: AtomicUsize::new(0),
            down,
        })
    }

    /// The endpoint signed for now.
    pub(crate) fn current(&self) -> &Bucket {
        &self.all[self.current.load(Ordering::Relaxed)]
    }

    /// How many endpoints there are.
    pub(crate) fn len(&self) -> usize {
        self.all.len()
    }

    /// Asks every endpoint once (its clock probe, a presigned HeadBucket: any answer counts,
    /// a refusal too; no answer within [`PROBE_TIMEOUT`] does not). When the endpoint signed
    /// for did not answer and another did, the first of those in the given order is signed
    /// for from now on. Answers the move, if one was made.
    pub(crate) async fn check(&self) -> Option<(String, String)> {
        let probes = self.all.iter().map(|b| async move {
            matches!(
                tokio::time::timeout(PROBE_TIMEOUT, b.measure_clock(false)).await,
                Ok(Ok(_))
            )
        });
        let answered = futures_util::future::join_all(probes).await;
        for (i, up) in answered.iter().enumerate() {
            let was_down = self.down[i].swap(!up, Ordering::Relaxed);
            let host = self.all[i].endpoint().host();
            if was_down && *up {
                tracing::info!(endpoint = %host, "store endpoint answers again");
            } else if !was_down && !up {
                tracing::warn!(endpoint = %host, "store endpoint does not answer");
            }
        }
        let now = self.current.load(Ordering::Relaxed);
        if answered[now] {
            return None;
        }
        let next = (1..self.all.len())
            .map(|k| (now + k) % self.all.len())
            .find(|&i| answered[i])?;
        self.current.store(next, Ordering::Relaxed);
        let (from, to) = (
            self.all[now].endpoint().host().to_owned(),
            self.all[next].endpoint().host().to_owned(),
        );
        tracing::warn!(%from, %to, "the store endpoint signed for stopped answering; signing for another");
        Some((from, to))
    }
}

/// The bucket on `endpoint`, signing with `config`'s credentials; each control call signed is
/// counted in `metrics`.
fn open(
    config: &ServerConfig,
    endpoint: &str,
    metrics: Arc<Metrics>,
) -> Result<Bucket, StateError> {
    let endpoint = Endpoint::parse(endpoint, config.store.region.clone())
        .map_err(|e| StateError::BadEndpoint(format!("{endpoint}: {e}")))?;
    let endpoint = if config.store.virtual_host {
        endpoint.virtual_host()
    } else {
        endpoint.path_style()
    };
    // As many idle connections to the store as requests the coordinator serves at once: with
    // fewer, a busy coordinator drops connections it needs again a moment later and pays a new
    // connection to the store for many of its calls.
    let mut options = HttpOptions::default()
        .with_timeout(CONTROL_TIMEOUT)
        .with_pool(config.connections.max_connections);
    options.pinned_certificate = config.store.pinned_certificate.clone();
    if let Some(addr) = config.store.connect_to {
        let default_port = if endpoint.scheme() == "https" {
            443
        } else {
            80
        };
        if let Some(host) = connect_override(endpoint.host(), default_port, addr) {
            options = options.connecting(host, addr);
        }
    }
    let http = Http::new(&options).map_err(|e| StateError::Client(e.to_string()))?;
    Ok(Bucket::new(
        http,
        endpoint,
        config.bucket.clone(),
        config.credentials.clone(),
    )
    .with_sign_hook(Arc::new(move |took| {
        metrics.presigned(PresignKind::Control, 1, took);
    })))
}

/// The host name to connect to `addr` for, when the endpoint's `host[:port]` names a host
/// (not an address) on `addr`'s port (`default_port` when it names none): the HTTP client
/// keeps the URL's port.
fn connect_override(host: &str, default_port: u16, addr: std::net::SocketAddr) -> Option<String> {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(']') || host.starts_with('[') => {
            (name, port.parse::<u16>().ok())
        }
        _ => (host, None),
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    if name.parse::<std::net::IpAddr>().is_ok() || port.unwrap_or(default_port) != addr.port() {
        return None;
    }
    Some(name.to_owned())
}

/// Every part the store holds for an upload, as the API shows them.
pub(crate) async fn stored_parts(
    bucket: &Bucket,
    key: &str,
    upload_id: &str,
) -> Result<Vec<StoredPart>, StoreError> {
    Ok(bucket
        .list_parts(key, upload_id)
        .await?
        .parts
        .into_iter()
        .map(stored_part)
        .collect())
}

fn stored_part(p: PartInfo) -> StoredPart {
    StoredPart {
        number: p.part_number,
        size: p.size,
        etag: p.etag,
        checksum: p.checksum.map(|(_, v)| v),
    }
}

/// Lets browsers on `origins` upload to the bucket: the rule [`SERVE_CORS_RULE`] is replaced
/// by one for these origins ([`CorsRule::for_uploads`]: what hoist.js and Uppy 6 send straight
/// to the store, ETag and Location exposed); other rules are kept. S3 applies the first rule
/// that admits a request, so a rule of the owner's before it that admits an origin's PUTs is
/// the one browsers meet: it is amended to allow the upload headers and expose `ETag`.
/// Answers whether the bucket's CORS changed.
pub async fn allow_origins(bucket: &Bucket, origins: &[String]) -> Result<bool, StoreError> {
    let rule = CorsRule::for_uploads(SERVE_CORS_RULE, origins.to_vec());
    bucket
        .update_cors(|cors| {
            let mut changed = cors.ensure_rule(rule).is_some();
            // Every origin's rule is amended: no short cut after the first change.
            for origin in origins {
                if let Some(changes) = cors.amend_for_uploads(origin) {
                    changed |= !changes.is_empty();
                }
            }
            changed
        })
        .await
}

/// Makes the bucket abort incomplete multipart uploads `days` after they start (rule
/// [`SERVE_LIFECYCLE_RULE`], unless one already does). Answers whether the lifecycle changed.
pub async fn abort_incomplete_uploads_after(
    bucket: &Bucket,
    days: u32,
) -> Result<bool, StoreError> {
    bucket
        .ensure_abort_incomplete_rule(SERVE_LIFECYCLE_RULE, days)
        .await
}

#[cfg(test)]
mod tests {
    use super::connect_override;

    #[test]
    fn a_named_host_on_the_listening_port_is_connected_to_the_store() {
        let at = "127.0.0.1:9000".parse().unwrap();
        assert_eq!(
            connect_override("uploads.example.com:9000", 443, at).as_deref(),
            Some("uploads.example.com")
        );
        // Another port (the URL's own) would be dialled: the address cannot stand in for it.
        assert_eq!(connect_override("uploads.example.com", 443, at), None);
        assert_eq!(connect_override("uploads.example.com:9001", 443, at), None);
        // An address needs no name resolved.
        assert_eq!(connect_override("10.0.0.5:9000", 443, at), None);
        assert_eq!(connect_override("[::1]:9000", 443, at), None);
        let at443 = "0.0.0.0:443".parse().unwrap();
        assert_eq!(
            connect_override("uploads.example.com", 443, at443).as_deref(),
            Some("uploads.example.com")
        );
    }
}
