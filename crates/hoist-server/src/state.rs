//! What every request shares: settings, keys, the store client, the clock and the metrics.

use std::sync::Arc;
use std::time::Duration;

use hoist_core::time::Timestamp;
use hoist_core::ttl::UrlKind;
use http::HeaderMap;

use hoist_s3::{Bucket, Clock, ConditionalWrites};

use crate::auth::{Authenticator, Principal};
use crate::config::ServerConfig;
pub use crate::config::StateError;
use crate::error::ApiError;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::token::{TokenChecksum, TokenError, TokenKey, TokenSecret, UploadToken};

#[derive(Debug)]
struct Inner {
    config: ServerConfig,
    auth: Authenticator,
    secret: TokenSecret,
    tokens: TokenKey,
    metrics: Arc<Metrics>,
    store: crate::store::Stores,
    limits: Limits,
    /// `/openapi.json` with this coordinator's limits written in.
    openapi: String,
    ended: crate::limits::Ended,
    hooks: crate::hooks::Hooks,
    /// What the store does with `If-None-Match: *`, asked once (see [`AppState::conditional_writes`]).
    conditional_writes: tokio::sync::OnceCell<ConditionalWrites>,
}

/// The coordinator's shared state; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    pub fn new(config: ServerConfig) -> Result<Self, StateError> {
        let secret = TokenSecret::new(config.token_secret.clone())
            .map_err(|_| StateError::WeakTokenSecret)?;
        config.plan.validate().map_err(|e| StateError::Invalid {
            field: "plan",
            why: e.to_string(),
        })?;
        config.ttl.validate().map_err(|e| StateError::Invalid {
            field: "ttl",
            why: e.to_string(),
        })?;
        crate::keys::validate_prefix(&config.key_prefix, "key_prefix").map_err(|e| {
            StateError::Invalid {
                field: "key_prefix",
                why: e.message,
            }
        })?;
        if config.first_batch == 0 || config.max_batch == 0 {
            return Err(StateError::Invalid {
                field: "first_batch",
                why: "batch sizes must be at least 1".into(),
            });
        }
        let metrics = Arc::new(Metrics::default());
        let store = crate::store::Stores::open(&config, metrics.clone())?;
        let auth = Authenticator::new(
            &config.api_keys,
            config.grant_secret.as_deref(),
            config.anonymous,
        );
        let tokens = TokenKey::new(secret.as_bytes());
        if !(config.limits.rate >= 0.0 && config.limits.rate.is_finite()) {
            return Err(StateError::Invalid {
                field: "rate_limit",
                why: "must be a number of requests per second, 0 for none".into(),
            });
        }
        let limits = Limits::new(config.limits);
        let hooks =
            crate::hooks::Hooks::new(config.hooks.clone(), secret.as_bytes(), metrics.clone())
                .map_err(|why| StateError::Invalid {
                    field: "hooks",
                    why,
                })?;
        let openapi = crate::openapi::openapi_for(config.max_upload_size);
        Ok(Self(Arc::new(Inner {
            ended: crate::limits::Ended::default(),
            hooks,
            conditional_writes: tokio::sync::OnceCell::new(),
            openapi,
            config,
            auth,
            secret,
            tokens,
            metrics,
            store,
            limits,
        })))
    }

    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }

    /// The OpenAPI document this coordinator serves.
    pub fn openapi(&self) -> &str {
        &self.0.openapi
    }

    /// The application's hooks.
    pub fn hooks(&self) -> &crate::hooks::Hooks {
        &self.0.hooks
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// The clock corrected to the store's.
    pub fn clock(&self) -> &Clock {
        self.store().clock()
    }

    /// The bucket uploads go to.
    pub fn store(&self) -> &Bucket {
        self.0.store.current()
    }

    /// Whether the store honours `If-None-Match: *`, which no-clobber uploads rest on: probed
    /// once (a probe object under `.hoist-probe/` written twice, then deleted) and kept; a
    /// probe that could not be made is tried again next time. A store that does not is
    /// warned of in the log once.
    pub async fn conditional_writes(&self) -> Result<ConditionalWrites, hoist_s3::Error> {
        let verdict = self
            .0
            .conditional_writes
            .get_or_try_init(|| async {
                let verdict = self.store().probe_conditional_writes().await?;
                let endpoint = self.store().endpoint().host().to_owned();
                if verdict.honoured() {
                    tracing::info!(%endpoint, "the store honours conditional writes (If-None-Match: *)");
                } else {
                    tracing::warn!(
                        %endpoint,
                        "the store does not honour conditional writes: {verdict}; every \
                         no-clobber upload is refused (422 no_clobber_unsupported) rather than \
                         let it replace an object"
                    );
                }
                Ok::<_, hoist_s3::Error>(verdict)
            })
            .await?;
        Ok(verdict.clone())
    }

    /// The per-caller limits of this replica.
    pub fn limits(&self) -> &Limits {
        &self.0.limits
    }

    /// `who` is about to create a multipart upload: refused (429) when it has too many open.
    pub fn count_new_upload(&self, who: &Principal) -> Result<(), ApiError> {
        self.0
            .limits
            .open_upload(&who.owner(), std::time::Instant::now())
    }

    /// An upload owned by `owner` was completed or aborted here: it no longer counts.
    pub fn uncount_upload(&self, owner: &str) {
        self.0.limits.close_upload(owner);
    }

    /// A multipart upload ended here (completed or aborted): it no longer counts against its
    /// owner, and no part URL is signed for it again.
    pub fn upload_ended(&self, token: &UploadToken) {
        self.uncount_upload(&token.owner);
        if !token.upload_id.is_empty() {
            self.0.ended.insert(&token.upload_id);
        }
    }

    /// Refuses to sign for an upload that ended through this replica: `404 upload_gone`.
    pub fn check_live(&self, token: &UploadToken) -> Result<(), ApiError> {
        if !token.upload_id.is_empty() && self.0.ended.contains(&token.upload_id) {
            return Err(ApiError::not_found(
                "upload_gone",
                "the upload was completed or aborted; start a new one",
            ));
        }
        Ok(())
    }

    pub fn tokens(&self) -> &TokenKey {
        &self.0.tokens
    }

    /// The secret upload tokens are signed with; other keys derive from it.
    pub fn token_secret(&self) -> &TokenSecret {
        &self.0.secret
    }

    /// Corrected now.
    pub fn now(&self) -> Timestamp {
        self.store().now()
    }

    fn now_unix(&self) -> u64 {
        u64::try_from(self.now().unix_seconds()).unwrap_or(0)
    }

    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        self.0.auth.authenticate(headers, self.now_unix())
    }

    /// The lifetime of a URL of `kind` signed now: the TTL policy, capped by the expiry of the
    /// credentials that sign it.
    pub fn url_ttl(&self, kind: UrlKind) -> Result<Duration, ApiError> {
        let now = self.now();
        let creds = self.store().credentials(now);
        self.0
            .config
            .ttl
            .ttl(kind, now, creds.expires_at)
            .map_err(|e| {
                ApiError::new(
                    http::StatusCode::SERVICE_UNAVAILABLE,
                    "credentials_expiring",
                    e.to_string(),
                )
            })
    }

    /// Open an upload token and check that `who` may act on it.
    pub fn open_token(&self, id: &str, who: &Principal) -> Result<UploadToken, ApiError> {
        self.open_upload(id, who).map(|(token, _)| token)
    }

    /// Like [`AppState::open_token`], with the checksum the upload was created with.
    pub fn open_upload(
        &self,
        id: &str,
        who: &Principal,
    ) -> Result<(UploadToken, Option<TokenChecksum>), ApiError> {
        let (token, checksum) =
            self.0
                .tokens
                .open_with(id, self.now_unix())
                .map_err(|e| match e {
                    TokenError::Expired(_) => {
                        ApiError::unauthorized("token_expired", e.to_string())
                    }
                    _ => ApiError::unauthorized("bad_token", e.to_string()),
                })?;
        if token.bucket != self.0.config.bucket {
            return Err(ApiError::forbidden(
                "forbidden",
                "the upload belongs to another bucket than this coordinator serves",
            ));
        }
        if token.owner != who.owner() {
            return Err(ApiError::forbidden(
                "forbidden",
                "this upload belongs to another caller",
            ));
        }
        if let Principal::Grant(claims) = who
            && !claims.covers_key(&token.key)
        {
            return Err(ApiError::forbidden(
                "forbidden",
                "the grant does not cover this upload's key",
            ));
        }
        Ok((token, checksum))
    }

    /// Measure the store's clock now (one request) and then every `clock_interval` (around
    /// its second ticks, to a few milliseconds), forever. Every control call's answer
    /// corrects the clock in between.
    pub async fn measure_clock_forever(self) {
        let mut tick = tokio::time::interval(self.0.config.clock_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        self.measure_clock(false).await;
        loop {
            tick.tick().await;
            self.measure_clock(true).await;
        }
    }

    /// With several store endpoints: asks each every `interval` and signs for one that
    /// answers, moving away from one that stops answering, forever. Nothing with one endpoint.
    pub async fn watch_stores_forever(self, interval: std::time::Duration) {
        if self.0.store.len() < 2 {
            return;
        }
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if self.0.store.check().await.is_some() {
                self.0
                    .metrics
                    .set_clock_offset(self.clock().offset().millis);
            }
        }
    }

    /// One quick clock measurement (one request) against the store.
    pub async fn measure_clock_once(&self) {
        self.measure_clock(false).await;
    }

    /// One clock measurement against the store, `precise` or quick; failures are logged and
    /// the old offset kept.
    pub async fn measure_clock(&self, precise: bool) {
        match self.store().measure_clock(precise).await {
            Ok(m) => {
                let offset = self.clock().offset();
                self.0.metrics.set_clock_offset(offset.millis);
                tracing::debug!(
                    offset_ms = offset.millis,
                    uncertainty_ms = m.bounds.uncertainty_ms(),
                    "store clock measured"
                );
            }
            Err(err) => tracing::warn!(%err, "could not measure the store's clock"),
        }
    }
}
