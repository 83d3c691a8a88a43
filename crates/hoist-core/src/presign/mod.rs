//! SigV4 query presigning (`X-Amz-Signature` in the URL), as S3 verifies it.
//!
//! A [`Presigner`] holds the [`Credentials`] and the [`Endpoint`], caches the day's signing key,
//! and turns a [`PresignRequest`] plus the current time into a [`PresignedUrl`]. The time is
//! always an argument: apply a [`crate::time::ClockOffset`] measured against the store first.
//!
//! S3 rules followed (see `reference/s3-behaviors.md`): keys are encoded once, with `/` kept,
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

mod encode;
mod request;

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::RwLock;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

pub use encode::{hex, percent_decode, uri_encode, uri_encode_path};
pub use request::{
    DEFAULT_EXPIRES, EMPTY_SHA256, ListObjectsParams, ListUploadsParams, PresignRequest,
    UNSIGNED_PAYLOAD,
};

use crate::time::Timestamp;
use crate::ttl::MAX_PRESIGN_TTL;
use encode::{hex32, uri_encode_into, uri_encoded_len};

/// Header (name, value) pairs borrowed from a request where they can be.
type HeaderList<'r> = Vec<(Cow<'r, str>, Cow<'r, str>)>;

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

/// An access key pair, with the session token and expiry of temporary credentials.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Credentials {
    /// The access key id (`AKIA…`, `ASIA…`).
    pub access_key: String,
    /// The secret access key.
    pub secret_key: String,
    /// The session token of temporary credentials; signed into the URL as `X-Amz-Security-Token`.
    pub session_token: Option<String>,
    /// When temporary credentials expire; a URL signed with them dies then too.
    pub expires_at: Option<Timestamp>,
}

impl Credentials {
    /// Long-lived credentials.
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Credentials {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            session_token: None,
            expires_at: None,
        }
    }

    /// Adds a session token (temporary credentials).
    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(token.into());
        self
    }

    /// Adds the credentials' expiry.
    pub fn with_expiry(mut self, expires_at: Timestamp) -> Self {
        self.expires_at = Some(expires_at);
        self
    }
}

impl fmt::Debug for Credentials {
    // The secret and the token never reach logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
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
        if self.style == AddressingStyle::Path || bucket.is_empty() {
            return Cow::Borrowed(&self.host);
        }
        match self.host.strip_prefix(bucket) {
            Some(rest) if rest.starts_with('.') => Cow::Borrowed(&self.host),
            _ => Cow::Owned(format!("{bucket}.{}", self.host)),
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
    // The HMAC state keyed with the day's signing key: computing it costs four HMACs, so it
    // is done once per (date); secret, region and service are fixed for a Presigner.
    key_cache: RwLock<Option<([u8; 8], HmacSha256)>>,
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

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

impl Presigner {
    /// A signer for `credentials` at `endpoint`.
    pub fn new(credentials: Credentials, endpoint: Endpoint) -> Self {
        Presigner {
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

    /// Signs `req` as of `now` (already corrected by the clock offset; sub-seconds dropped).
    pub fn presign(
        &self,
        req: &PresignRequest<'_>,
        now: Timestamp,
    ) -> Result<PresignedUrl, PresignError> {
        let now = now.trunc_seconds();
        let expires = req.expires.as_secs();
        if !(1..=MAX_PRESIGN_TTL.as_secs()).contains(&expires) {
            return Err(PresignError::ExpiresOutOfRange { secs: expires });
        }
        let (year, ..) = now.civil();
        if !(0..=9999).contains(&year) {
            return Err(PresignError::TimeOutOfRange(now));
        }
        let expires_at = now.plus(Duration::from_secs(expires));
        if let Some(cred_exp) = self.credentials.expires_at {
            if now >= cred_exp {
                return Err(PresignError::CredentialsExpired {
                    expires_at: cred_exp,
                    now,
                });
            }
            if expires_at > cred_exp {
                return Err(PresignError::OutlivesCredentials {
                    url_expires_at: expires_at,
                    credentials_expire_at: cred_exp,
                });
            }
        }
        let amz_date = now.amz_date_bytes();
        let amz_date = std::str::from_utf8(&amz_date).expect("ASCII digits");
        let date = &amz_date[..8];

        let headers = canonical_headers(req)?;
        let host = self.endpoint.host_for(&req.bucket);
        let mut signed_headers =
            String::with_capacity(headers.iter().map(|h| h.0.len() + 1).sum::<usize>() + 4);
        let mut host_done = false;
        for (name, _) in &headers {
            if !host_done && name.as_ref() > "host" {
                signed_headers.push_str("host;");
                host_done = true;
            }
            signed_headers.push_str(name);
            signed_headers.push(';');
        }
        if !host_done {
            signed_headers.push_str("host;");
        }
        signed_headers.pop();

        // The URL is written once; its query part doubles as the canonical query string.
        let key_len = uri_encoded_len(&req.key, true);
        let mut url = String::with_capacity(
            16 + host.len()
                + req.bucket.len()
                + key_len
                + 300
                + self
                    .credentials
                    .session_token
                    .as_ref()
                    .map_or(0, |t| t.len() * 3 / 2 + 24)
                + req
                    .query
                    .iter()
                    .map(|(k, v)| k.len() + v.len() * 3 / 2 + 2)
                    .sum::<usize>(),
        );
        url.push_str(self.endpoint.scheme());
        url.push_str("://");
        url.push_str(&host);
        let path_start = url.len();
        url.push('/');
        if self.endpoint.style == AddressingStyle::Path && !req.bucket.is_empty() {
            uri_encode_into(&mut url, &req.bucket, false);
            if !req.key.is_empty() {
                url.push('/');
            }
        }
        uri_encode_into(&mut url, &req.key, true);
        let path_end = url.len();
        url.push('?');
        let query_start = url.len();
        self.write_query(&mut url, req, amz_date, date, expires, &signed_headers);
        let query_end = url.len();

        let mut h = Sha256::new();
        h.update(req.method.as_str().as_bytes());
        h.update(b"\n");
        h.update(&url.as_bytes()[path_start..path_end]);
        h.update(b"\n");
        h.update(&url.as_bytes()[query_start..query_end]);
        h.update(b"\n");
        let mut host_done = false;
        for (name, value) in &headers {
            if !host_done && name.as_ref() > "host" {
                canonical_header(&mut h, "host", &host);
                host_done = true;
            }
            canonical_header(&mut h, name, value);
        }
        if !host_done {
            canonical_header(&mut h, "host", &host);
        }
        h.update(b"\n");
        h.update(signed_headers.as_bytes());
        h.update(b"\n");
        h.update(req.payload_hash.as_bytes());
        let creq_hash = hex32(&h.finalize());

        let mut mac = self.keyed_mac(date);
        mac.update(ALGORITHM.as_bytes());
        mac.update(b"\n");
        mac.update(amz_date.as_bytes());
        mac.update(b"\n");
        mac.update(date.as_bytes());
        mac.update(b"/");
        mac.update(self.endpoint.region.as_bytes());
        mac.update(b"/");
        mac.update(self.endpoint.service.as_bytes());
        mac.update(b"/aws4_request\n");
        mac.update(&creq_hash);
        let signature = hex32(&mac.finalize().into_bytes());

        url.push_str("&X-Amz-Signature=");
        url.push_str(std::str::from_utf8(&signature).expect("hex is ASCII"));
        Ok(PresignedUrl {
            method: req.method,
            url,
            headers: headers
                .into_iter()
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect(),
            signed_at: now,
            expires_at,
        })
    }

    /// The HMAC state keyed with the signing key of `date`, from the cache when it is there.
    fn keyed_mac(&self, date: &str) -> HmacSha256 {
        let date_bytes: [u8; 8] = date.as_bytes().try_into().expect("yyyymmdd");
        if let Ok(guard) = self.key_cache.read()
            && let Some((d, mac)) = guard.as_ref()
            && *d == date_bytes
        {
            return mac.clone();
        }
        let key = signing_key(
            &self.credentials.secret_key,
            date,
            &self.endpoint.region,
            &self.endpoint.service,
        );
        let mac = HmacSha256::new_from_slice(&key).expect("HMAC takes keys of any length");
        if let Ok(mut guard) = self.key_cache.write() {
            *guard = Some((date_bytes, mac.clone()));
        }
        mac
    }

    /// Writes the sorted, encoded query (without the signature) at the end of `url`.
    fn write_query(
        &self,
        url: &mut String,
        req: &PresignRequest<'_>,
        amz_date: &str,
        date: &str,
        expires: u64,
        signed_headers: &str,
    ) {
        let creds = &self.credentials;
        // Every parameter is encoded into `scratch`, remembered as (name start, value start,
        // end), sorted by encoded name then value, and copied into the URL.
        let mut scratch = String::with_capacity(
            256 + creds.session_token.as_ref().map_or(0, |t| t.len() * 3 / 2)
                + req
                    .query
                    .iter()
                    .map(|(k, v)| k.len() + v.len() * 3 / 2)
                    .sum::<usize>(),
        );
        let mut entries: Vec<(usize, usize, usize)> = Vec::with_capacity(6 + req.query.len());
        let mut push =
            |scratch: &mut String, name: &str, encode_name: bool, value: &dyn Fn(&mut String)| {
                let a = scratch.len();
                if encode_name {
                    uri_encode_into(scratch, name, false);
                } else {
                    scratch.push_str(name);
                }
                let b = scratch.len();
                value(scratch);
                entries.push((a, b, scratch.len()));
            };
        push(&mut scratch, "X-Amz-Algorithm", false, &|s| {
            s.push_str(ALGORITHM)
        });
        push(&mut scratch, "X-Amz-Credential", false, &|s| {
            uri_encode_into(s, &creds.access_key, false);
            s.push_str("%2F");
            s.push_str(date);
            s.push_str("%2F");
            uri_encode_into(s, &self.endpoint.region, false);
            s.push_str("%2F");
            uri_encode_into(s, &self.endpoint.service, false);
            s.push_str("%2Faws4_request");
        });
        push(&mut scratch, "X-Amz-Date", false, &|s| s.push_str(amz_date));
        push(&mut scratch, "X-Amz-Expires", false, &|s| {
            push_u64(s, expires)
        });
        if let Some(token) = &creds.session_token {
            push(&mut scratch, "X-Amz-Security-Token", false, &|s| {
                uri_encode_into(s, token, false)
            });
        }
        push(&mut scratch, "X-Amz-SignedHeaders", false, &|s| {
            uri_encode_into(s, signed_headers, false)
        });
        for (k, v) in &req.query {
            push(&mut scratch, k, true, &|s| uri_encode_into(s, v, false));
        }
        let s = scratch.as_str();
        entries.sort_unstable_by(|x, y| {
            s[x.0..x.1]
                .cmp(&s[y.0..y.1])
                .then_with(|| s[x.1..x.2].cmp(&s[y.1..y.2]))
        });
        for (i, &(a, b, c)) in entries.iter().enumerate() {
            if i > 0 {
                url.push('&');
            }
            url.push_str(&s[a..b]);
            url.push('=');
            url.push_str(&s[b..c]);
        }
    }
}

fn push_u64(s: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    s.push_str(std::str::from_utf8(&buf[i..]).expect("digits"));
}

fn canonical_header(h: &mut Sha256, name: &str, value: &str) {
    h.update(name.as_bytes());
    h.update(b":");
    h.update(value.as_bytes());
    h.update(b"\n");
}

/// The extra headers, validated, values trimmed with inner runs of spaces collapsed, sorted.
fn canonical_headers<'r>(req: &'r PresignRequest<'_>) -> Result<HeaderList<'r>, PresignError> {
    let mut out: HeaderList<'r> = Vec::with_capacity(req.headers.len());
    for (name, value) in &req.headers {
        let bad = |reason| PresignError::InvalidHeader {
            name: name.to_string(),
            reason,
        };
        if name.is_empty()
            || !name.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.!#$%&'*+^`|~".contains(&b)
            })
        {
            return Err(bad("names are lower-case HTTP tokens"));
        }
        if name == "host" {
            return Err(bad("host is always signed from the endpoint"));
        }
        if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(bad("values cannot contain CR, LF or NUL"));
        }
        if out.iter().any(|(n, _)| n == name) {
            return Err(bad("appears twice"));
        }
        out.push((Cow::Borrowed(name.as_ref()), normalize_value(value)));
    }
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// SigV4 header value as S3 computes it: spaces (only spaces) trimmed, runs of them collapsed.
fn normalize_value(v: &str) -> Cow<'_, str> {
    let t = v.trim_matches(' ');
    if !t.contains("  ") {
        return Cow::Borrowed(t);
    }
    let mut out = String::with_capacity(t.len());
    let mut prev_space = false;
    for c in t.chars() {
        if !(c == ' ' && prev_space) {
            out.push(c);
        }
        prev_space = c == ' ';
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests;
