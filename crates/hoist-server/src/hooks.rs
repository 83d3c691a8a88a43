//! Telling the application: signed webhooks for upload events, and the pre-create hook.
//!
//! Events (`upload.created`, `upload.completed`, `upload.aborted`) are POSTed to every hook
//! URL as Standard Webhooks messages: `{"type", "timestamp", "data"}` with the headers
//! `webhook-id`, `webhook-timestamp` and `webhook-signature` (`v1,` and the base64
//! HMAC-SHA256 of `id.timestamp.body` under the `whsec_` secret), so receivers verify them
//! with any Standard Webhooks library.
//!
//! The coordinator keeps no state, so delivery rides on the uploader's requests:
//! `upload.completed` is delivered before Complete answers (retried within
//! [`HookConfig::deliver_within`]); when it could not be, the answer says `hook_pending`, and
//! a repeated Complete of the same upload, through any replica, delivers it again. An event's
//! id is derived from the upload and the event type under a key derived from the token secret,
//! so every replay carries the same `webhook-id` and receivers deduplicate by it.
//! `upload.aborted` is delivered the same way before an abort answers; `upload.created` is
//! sent after the create answers, in the background, and is lost if the process dies first.

mod deliver;
mod event;
mod pre_create;
mod sign;

use std::sync::Arc;
use std::time::Duration;

pub use event::{Caller, EventChecksum, EventType, UploadEvent, envelope};
pub use pre_create::{Changes, PreCreate, Verdict, verdict};
pub use sign::{EventIds, HookSecret, HookSecretError, MIN_HOOK_SECRET_BYTES};

use crate::error::ApiError;
use crate::metrics::{Metrics, PreCreateVerdict};

/// Time within which an event is delivered (every retry included) before the request that
/// caused it answers.
pub const DEFAULT_DELIVER_WITHIN: Duration = Duration::from_secs(10);
/// Time the pre-create hook has to answer.
pub const DEFAULT_PRE_CREATE_TIMEOUT: Duration = Duration::from_secs(5);

/// The hooks' settings. Its `Debug` form shows URLs without their query and no secret.
#[derive(Clone)]
#[non_exhaustive]
pub struct HookConfig {
    /// Where events are POSTed; none sends no event.
    pub urls: Vec<String>,
    /// The `whsec_` secret every hook request is signed with; required with any hook.
    pub secret: Option<HookSecret>,
    /// Time within which an event must be delivered, retries included.
    pub deliver_within: Duration,
    /// Asked before every create; none allows every upload the caller's rights allow.
    pub pre_create_url: Option<String>,
    pub pre_create_timeout: Duration,
    /// Create as asked when the pre-create hook gives no verdict (else refuse: fail closed).
    pub pre_create_optional: bool,
}

impl Default for HookConfig {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            secret: None,
            deliver_within: DEFAULT_DELIVER_WITHIN,
            pre_create_url: None,
            pre_create_timeout: DEFAULT_PRE_CREATE_TIMEOUT,
            pre_create_optional: false,
        }
    }
}

impl std::fmt::Debug for HookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let urls: Vec<&str> = self.urls.iter().map(|u| deliver::shown(u)).collect();
        f.debug_struct("HookConfig")
            .field("urls", &urls)
            .field("secret", &self.secret)
            .field("deliver_within", &self.deliver_within)
            .field(
                "pre_create_url",
                &self.pre_create_url.as_deref().map(deliver::shown),
            )
            .field("pre_create_timeout", &self.pre_create_timeout)
            .field("pre_create_optional", &self.pre_create_optional)
            .finish()
    }
}

impl HookConfig {
    pub fn with_urls(mut self, urls: Vec<String>) -> Self {
        self.urls = urls;
        self
    }

    pub fn with_secret(mut self, secret: HookSecret) -> Self {
        self.secret = Some(secret);
        self
    }

    pub fn with_deliver_within(mut self, within: Duration) -> Self {
        self.deliver_within = within;
        self
    }

    pub fn with_pre_create(mut self, url: impl Into<String>, optional: bool) -> Self {
        self.pre_create_url = Some(url.into());
        self.pre_create_optional = optional;
        self
    }

    pub fn with_pre_create_timeout(mut self, timeout: Duration) -> Self {
        self.pre_create_timeout = timeout;
        self
    }

    /// Why these settings cannot work, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        let any = !self.urls.is_empty() || self.pre_create_url.is_some();
        if any && self.secret.is_none() {
            return Err("hooks need a hook secret (whsec_…) to sign their requests".into());
        }
        for url in self.urls.iter().chain(&self.pre_create_url) {
            let ok = reqwest::Url::parse(url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok {
                return Err(format!(
                    "hook URL {:?} must be an http:// or https:// URL",
                    deliver::shown(url)
                ));
            }
        }
        if self.deliver_within.is_zero() || self.pre_create_timeout.is_zero() {
            return Err("hook times must be at least a second".into());
        }
        Ok(())
    }
}

struct Inner {
    config: HookConfig,
    client: reqwest::Client,
    ids: EventIds,
    metrics: Arc<Metrics>,
}

/// The hooks of one coordinator; cheap to clone.
#[derive(Clone)]
pub struct Hooks(Arc<Inner>);

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("config", &self.0.config)
            .finish_non_exhaustive()
    }
}

impl Hooks {
    /// Hooks for `config`, with event ids keyed from `token_secret`.
    pub fn new(
        config: HookConfig,
        token_secret: &[u8],
        metrics: Arc<Metrics>,
    ) -> Result<Self, String> {
        config.check()?;
        let builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            // A hook answers where it is asked: a redirect could send the signed body anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hoist/", env!("CARGO_PKG_VERSION")));
        // A receiver behind a private CA is trusted as hoist's other clients trust a store.
        let client = hoist_s3::http::trust_extra(builder, &[])
            .map_err(|e| e.to_string())?
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self(Arc::new(Inner {
            config,
            client,
            ids: EventIds::new(token_secret),
            metrics,
        })))
    }

    /// Whether events are sent at all.
    pub fn sends_events(&self) -> bool {
        !self.0.config.urls.is_empty()
    }

    /// Whether the pre-create hook is asked before each create.
    pub fn asks_before_create(&self) -> bool {
        self.0.config.pre_create_url.is_some()
    }

    /// The `upl_…` id of the upload `identity` names: `["multipart", bucket, key, S3 upload
    /// id]`, `["single", upload token]` or `["key", bucket, key]` for uploads known by their
    /// (fresh) key alone.
    pub fn upload_id(&self, identity: &[&str]) -> String {
        self.0.ids.upload(identity)
    }

    /// Delivers `kind` about `data` before returning: `None` when no hook is configured, else
    /// whether every hook accepted it in time.
    pub async fn deliver(&self, kind: EventType, data: &UploadEvent) -> Option<bool> {
        let inner = &self.0;
        let secret = inner.config.secret.as_ref()?;
        if inner.config.urls.is_empty() {
            return None;
        }
        let id = inner.ids.event(&data.upload_id, kind.as_str());
        let body = envelope(kind.as_str(), hoist_s3::local_now(), data);
        let courier = deliver::Courier {
            client: &inner.client,
            secret,
            metrics: &inner.metrics,
            within: inner.config.deliver_within,
        };
        Some(courier.deliver_all(&inner.config.urls, &id, &body).await)
    }

    /// Delivers `kind` about `data` in the background (the request that caused it does not
    /// wait).
    pub fn deliver_later(&self, kind: EventType, data: UploadEvent) {
        if !self.sends_events() {
            return;
        }
        let hooks = self.clone();
        tokio::spawn(async move {
            hooks.deliver(kind, &data).await;
        });
    }

    /// Asks the pre-create hook about `upload`: the changes to make (none when no hook is
    /// configured, or it gave no verdict and is optional), or the answer refusing it: `403
    /// refused` with the application's reason, or `503 hook_unavailable` when the hook gave
    /// no verdict (fail closed).
    pub async fn pre_create(&self, upload: &PreCreate) -> Result<Changes, ApiError> {
        let inner = &self.0;
        let (Some(url), Some(secret)) = (&inner.config.pre_create_url, &inner.config.secret) else {
            return Ok(Changes::default());
        };
        let mut raw = [0u8; 16];
        let _ = getrandom::fill(&mut raw);
        let id: String = std::iter::once("msg_".to_string())
            .chain(raw.iter().map(|b| format!("{b:02x}")))
            .collect();
        let body = envelope("upload.pre_create", hoist_s3::local_now(), upload);
        let timeout = inner.config.pre_create_timeout;
        let started = std::time::Instant::now();
        let said = pre_create::ask(&inner.client, secret, url, &id, &body, timeout).await;
        inner.metrics.hook_attempt(started.elapsed());
        match said {
            Verdict::Allow(changes) => {
                inner.metrics.pre_create(PreCreateVerdict::Allowed);
                Ok(changes)
            }
            Verdict::Refuse { status, reason } => {
                inner.metrics.pre_create(PreCreateVerdict::Refused);
                tracing::info!(hook_status = status, %reason, key = %upload.key, "pre-create hook refused an upload");
                Err(ApiError::forbidden("refused", reason))
            }
            Verdict::Silent(why) if inner.config.pre_create_optional => {
                inner.metrics.pre_create(PreCreateVerdict::Unavailable);
                tracing::warn!(url = deliver::shown(url), %why, "pre-create hook gave no verdict; creating as asked (optional)");
                Ok(Changes::default())
            }
            Verdict::Silent(why) => {
                inner.metrics.pre_create(PreCreateVerdict::Unavailable);
                tracing::warn!(url = deliver::shown(url), %why, "pre-create hook gave no verdict; upload refused");
                Err(ApiError::new(
                    http::StatusCode::SERVICE_UNAVAILABLE,
                    "hook_unavailable",
                    "the application's pre-create check did not answer; try again later",
                )
                .with_retry_after(5))
            }
        }
    }
}
