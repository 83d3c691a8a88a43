//! SigV4 query presigning (`X-Amz-Signature` in the URL), as S3 verifies it.
//!
//! A [`Presigner`] holds the [`Credentials`] and the [`Endpoint`], caches the day's signing key,
//! and turns a [`PresignRequest`] plus the current time into a [`PresignedUrl`]. The time is
//! always an argument: apply a [`crate::clock::ClockOffset`] measured against the store first.
//!
//! S3 rules followed (as S3 documents and answers them): keys are encoded once, with `/` kept,
//! and never normalised (`a/../b` stays); the query is sorted by encoded name then value; the
//! session token is part of the signed query; `host` is always signed, and any extra header
//! (content-length, content-type, x-amz-checksum-*) is signed and must be sent as given.
//!
//! ```
//! use hoist_core::presign::{Credentials, Endpoint, PresignRequest, Presigner};
//! use hoist_core::time::Timestamp;
//! use std::time::Duration;
//!
//! let creds = Credentials::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
//! let endpoint = Endpoint::parse("https://s3.amazonaws.com", "us-east-1").unwrap().virtual_host();
//! let signer = Presigner::new(creds, endpoint);
//! let now = Timestamp::parse_amz_date("20130524T000000Z").unwrap();
//! let req = PresignRequest::get_object("examplebucket", "test.txt").expires_in(Duration::from_secs(86400));
//! let url = signer.presign(&req, now).unwrap();
//! assert!(url.url.starts_with("https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm="));
//! assert_eq!(url.signature(), "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
//! ```

mod post;
mod request;
mod sign;

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::RwLock;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest as _, Sha256};

pub use crate::credentials::Credentials;
pub use post::{PostPolicyRequest, PresignedPost};
pub use request::{
    DEFAULT_EXPIRES, EMPTY_SHA256, ListObjectsParams, ListUploadsParams, PresignRequest,
    UNSIGNED_PAYLOAD,
};
pub use sign::PartsSigner;

use crate::time::Timestamp;

type HmacSha256 = Hmac<Sha256>;

/// The SigV4 algorithm name.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// An HTTP method S3 actions use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET
    Get,
    /// PUT
    Put,
    /// POST
    Post,
    /// HEAD
    Head,
    /// DELETE
    Delete,
}

impl Method {
    /// The method as it goes on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Head => "HEAD",
            Method::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = PresignError;

    /// Case-insensitive: `get`, `GET` and `Get` are all GET.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const ALL: [Method; 5] = [
            Method::Get,
            Method::Put,
            Method::Post,
            Method::Head,
            Method::Delete,
        ];
        ALL.into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| PresignError::UnknownMethod(s.to_owned()))
    }
}

/// Where a bucket lives in the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AddressingStyle {
    /// `https://endpoint/bucket/key`: works with every S3-compatible server.
    #[default]
    Path,
    /// `https://bucket.endpoint/key`: Amazon S3's preferred form.
    VirtualHost,
}

/// An S3 endpoint: scheme, host (and port), region, service name and addressing style.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    https: bool,
    host: String,
    region: String,
    service: String,
    style: AddressingStyle,
}

/// An endpoint URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid endpoint {url:?}: {reason}")]
#[non_exhaustive]
pub struct EndpointError {
    /// The rejected URL.
    pub url: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Endpoint {
    /// Parses `http(s)://host[:port][/]` for `region`, path-style and service `s3`. A default
    /// port (80, 443) is dropped, since it is not part of the signed `host`.
    pub fn parse(url: &str, region: impl Into<String>) -> Result<Self, EndpointError> {
        let err = |reason| EndpointError {
            url: url.to_owned(),
            reason,
        };
        let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(err("must start with http:// or https://"));
        };
        let host = rest.strip_suffix('/').unwrap_or(rest);
        if host.is_empty() {
            return Err(err("has no host"));
        }
        if host.contains(['/', '?', '#', '@']) || host.bytes().any(|b| b <= b' ' || b >= 0x7f) {
            return Err(err(
                "must be scheme://host[:port] with no path, query or credentials",
            ));
        }
        let default_port = if https { ":443" } else { ":80" };
        let host = host
            .strip_suffix(default_port)
            .unwrap_or(host)
            .to_ascii_lowercase();
        let region = region.into();
        if region.is_empty() {
            return Err(err("region is empty"));
        }
        Ok(Endpoint {
            https,
            host,
            region,
            service: "s3".to_owned(),
            style: AddressingStyle::Path,
        })
    }

    /// Amazon S3 in `region`, virtual-host style.
    pub fn aws(region: &str) -> Self {
        Endpoint {
            https: true,
            host: format!("s3.{region}.amazonaws.com"),
            region: region.to_owned(),
            service: "s3".to_owned(),
            style: AddressingStyle::VirtualHost,
        }
    }

    /// Sets the addressing style.
    pub fn with_style(mut self, style: AddressingStyle) -> Self {
        self.style = style;
        self
    }

    /// Virtual-host style: the bucket goes in the host name.
    pub fn virtual_host(self) -> Self {
        self.with_style(AddressingStyle::VirtualHost)
    }

    /// Path style: the bucket is the first path segment.
    pub fn path_style(self) -> Self {
        self.with_style(AddressingStyle::Path)
    }

    /// Sets the service name in the credential scope (`s3` unless testing other signers).
    pub fn with_service(mut self, service: impl Into<String>) -> Self {
        self.service = service.into();
        self
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The service name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The addressing style.
    pub fn style(&self) -> AddressingStyle {
        self.style
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    /// The endpoint's host (with a non-default port).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host a request for `bucket` goes to. In virtual-host style the bucket is prefixed,
    /// unless the endpoint already names it (`https://examplebucket.s3.amazonaws.com`).
    pub fn host_for<'b>(&'b self, bucket: &str) -> Cow<'b, str> {
        match self.host_parts(bucket) {
            ("", host) => Cow::Borrowed(host),
            (label, host) => Cow::Owned(format!("{label}.{host}")),
        }
    }

    /// [`Endpoint::host_for`] in two parts, `(bucket label, endpoint host)`, the label empty
    /// when the host is the endpoint's own: written in place, without building a string.
    pub(crate) fn host_parts<'s, 'b>(&'s self, bucket: &'b str) -> (&'b str, &'s str) {
        if self.style == AddressingStyle::Path || bucket.is_empty() {
            return ("", &self.host);
        }
        match self.host.strip_prefix(bucket) {
            Some(rest) if rest.starts_with('.') => ("", &self.host),
            _ => (bucket, &self.host),
        }
    }
}

/// A signed URL and what the sender must do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PresignedUrl {
    /// The method to use.
    pub method: Method,
    /// The full URL, signature last.
    pub url: String,
    /// Signed headers besides `host` that must be sent with exactly these values.
    pub headers: Vec<(String, String)>,
    /// The `X-Amz-Date`, whole seconds.
    pub signed_at: Timestamp,
    /// When the URL stops being accepted (`signed_at + X-Amz-Expires`).
    pub expires_at: Timestamp,
}

impl PresignedUrl {
    /// The hex `X-Amz-Signature` (the URL's last 64 characters).
    pub fn signature(&self) -> &str {
        &self.url[self.url.len() - 64..]
    }
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PresignError {
    /// The lifetime is outside SigV4's 1 s–7 days.
    #[error("expiry of {secs} s is outside 1 to 604800 s (7 days)")]
    ExpiresOutOfRange {
        /// The lifetime asked for, in seconds.
        secs: u64,
    },
    /// The credentials have already expired.
    #[error("credentials expired at {expires_at}, before the signing time {now}")]
    CredentialsExpired {
        /// The credentials' expiry.
        expires_at: Timestamp,
        /// The signing time.
        now: Timestamp,
    },
    /// The URL would outlive the credentials that sign it.
    #[error(
        "URL would expire at {url_expires_at}, after its credentials expire at {credentials_expire_at}"
    )]
    OutlivesCredentials {
        /// When the URL would expire.
        url_expires_at: Timestamp,
        /// When the credentials expire.
        credentials_expire_at: Timestamp,
    },
    /// A header name or value cannot be signed.
    #[error("cannot sign header {name:?}: {reason}")]
    InvalidHeader {
        /// The header name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A query parameter named like a signing parameter (`X-Amz-…`), which the signer writes.
    #[error("query parameter {0:?} is reserved for the signature")]
    ReservedQueryParam(String),
    /// The signing time is outside years 0000–9999.
    #[error("signing time {0} cannot be written as an X-Amz-Date")]
    TimeOutOfRange(Timestamp),
    /// Not an HTTP method S3 uses.
    #[error("unknown HTTP method {0:?} (expected GET, PUT, POST, HEAD or DELETE)")]
    UnknownMethod(String),
}

/// Signs requests for one set of credentials and one endpoint. Cheap to share between threads.
pub struct Presigner {
    credentials: Credentials,
    endpoint: Endpoint,
    // What every URL of this signer repeats, encoded once.
    fixed: sign::Fixed,
    // The HMAC state keyed with the day's signing key (four HMACs to compute, so once a day;
    // secret, region and service are fixed for a Presigner), and that state fed the string to
    // sign's prefix for the last second signed at, which every URL of that second shares.
    key_cache: RwLock<Option<KeyCache>>,
}

/// The signing key of one day, and what every URL signed in one second of it repeats.
#[derive(Clone)]
struct KeyCache {
    date: [u8; 8],
    keyed: HmacSha256,
    /// The second `prefixed` and `query_block` are for (`i64::MIN`: none yet).
    second: i64,
    prefixed: HmacSha256,
    query_block: String,
}

impl fmt::Debug for Presigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presigner")
            .field("credentials", &self.credentials)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl Clone for Presigner {
    fn clone(&self) -> Self {
        Presigner::new(self.credentials.clone(), self.endpoint.clone())
    }
}

/// The SigV4 signing key for (secret, date `yyyymmdd`, region, service).
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut k = [0u8; 4 + 128];
    let secret = secret.as_bytes();
    // Secrets are short; a longer one goes through the same HMAC path via a Vec.
    let seed: Cow<'_, [u8]> = if secret.len() <= 128 {
        k[..4].copy_from_slice(b"AWS4");
        k[4..4 + secret.len()].copy_from_slice(secret);
        Cow::Borrowed(&k[..4 + secret.len()])
    } else {
        Cow::Owned([b"AWS4".as_slice(), secret].concat())
    };
    let k_date = hmac(&seed, date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// The SigV4 string to sign of a canonical request: the algorithm, the `X-Amz-Date`, the
/// credential scope (`yyyymmdd/region/service/aws4_request`) and the request's SHA-256.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    let hash = crate::encoding::hex(&Sha256::digest(canonical_request.as_bytes()));
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{hash}")
}

/// The SigV4 signature of `string_to_sign` (or of a POST policy's base64) with a key from
/// [`signing_key`]: lowercase hex, as `X-Amz-Signature` carries it.
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    crate::encoding::hex(&hmac(signing_key, string_to_sign.as_bytes()))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

impl Presigner {
    /// A signer for `credentials` at `endpoint`.
    pub fn new(credentials: Credentials, endpoint: Endpoint) -> Self {
        Presigner {
            fixed: sign::Fixed::new(&credentials, &endpoint),
            credentials,
            endpoint,
            key_cache: RwLock::new(None),
        }
    }

    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The HMAC state keyed with the signing key of `date`, from the cache when it is there.
    pub(crate) fn keyed_mac(&self, date: &str) -> HmacSha256 {
        let date: [u8; 8] = date.as_bytes().try_into().expect("yyyymmdd");
        if let Ok(guard) = self.key_cache.read()
            && let Some(c) = guard.as_ref()
            && c.date == date
        {
            return c.keyed.clone();
        }
        self.fill_cache(date, None).keyed
    }

    /// Appends the signer's block of the query for `now` (whole seconds), from
    /// `X-Amz-Algorithm=` to `X-Amz-Expires=` (see [`sign::Fixed`]), and returns the keyed HMAC
    /// state already fed the string to sign up to the canonical request's hash; both from the
    /// cache when it holds this second.
    pub(crate) fn second_state(&self, now: Timestamp, query: &mut String) -> HmacSha256 {
        let second = now.unix_seconds();
        if let Ok(guard) = self.key_cache.read()
            && let Some(c) = guard.as_ref()
            && c.second == second
        {
            query.push_str(&c.query_block);
            return c.prefixed.clone();
        }
        let c = self.fill_cache(now.amz_date_bytes()[..8].try_into().expect("8"), Some(now));
        query.push_str(&c.query_block);
        c.prefixed
    }

    /// Computes what is missing for `date` (and the second of `now`), stores it and returns it.
    fn fill_cache(&self, date: [u8; 8], now: Option<Timestamp>) -> KeyCache {
        let cached = self
            .key_cache
            .read()
            .ok()
            .and_then(|g| g.as_ref().filter(|c| c.date == date).cloned());
        let mut c = cached.unwrap_or_else(|| {
            let key = signing_key(
                &self.credentials.secret_key,
                std::str::from_utf8(&date).expect("ASCII digits"),
                &self.endpoint.region,
                &self.endpoint.service,
            );
            let keyed = HmacSha256::new_from_slice(&key).expect("HMAC takes keys of any length");
            KeyCache {
                date,
                prefixed: keyed.clone(),
                keyed,
                second: i64::MIN,
                query_block: String::new(),
            }
        });
        if let Some(now) = now {
            let amz_date = now.amz_date_bytes();
            c.second = now.unix_seconds();
            c.prefixed = c.keyed.clone();
            self.fixed.string_to_sign_prefix(&mut c.prefixed, &amz_date);
            c.query_block = self.fixed.query_block(&amz_date);
        }
        if let Ok(mut guard) = self.key_cache.write() {
            *guard = Some(c.clone());
        }
        c
    }
}

#[cfg(test)]
mod tests;
