//! The signing itself: canonical request, string to sign, signature, URL.
//!
//! The URL is written once, into one allocation sized for it, and the canonical request is
//! hashed from the URL's path and query plus a few fixed pieces, never assembled. What a signer
//! repeats in every URL is encoded once: the credential, scope and date block of the query (for
//! the current second, cached with the signing key), the encoded session token, and the
//! canonical request's tail when `host` is the only signed header. The query is ordered without
//! encoding it twice, and the cache holds the HMAC state already fed the string to sign up to
//! the request's hash. So a part URL costs the SHA-256 of its canonical request, three more
//! SHA-256 blocks and the encoding of its key and query.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::time::Duration;

use hmac::Mac;
use sha2::{Digest, Sha256};

use super::{
    ALGORITHM, AddressingStyle, Credentials, Endpoint, HmacSha256, Method, PresignError,
    PresignRequest, PresignedUrl, Presigner,
};
use crate::encoding::{cmp_encoded, hex32, uri_encode_into};
use crate::time::Timestamp;
use crate::ttl::MAX_PRESIGN_TTL;

/// Header (name, value) pairs borrowed from a request where they can be.
type HeaderList<'r> = Vec<(&'r str, Cow<'r, str>)>;

/// The signer writes these; a caller's parameter of the same family would be ambiguous.
const RESERVED_PREFIX: &str = "X-Amz-";

/// The URL's last parameter, before the signature's 64 hex digits.
const SIGNATURE_PARAM: &str = "&X-Amz-Signature=";

/// `&X-Amz-Expires=`, before the lifetime in seconds.
const EXPIRES_PARAM: &str = "&X-Amz-Expires=";

/// `&X-Amz-SignedHeaders=`, before the signed headers' names.
const SIGNED_HEADERS_PARAM: &str = "&X-Amz-SignedHeaders=";

/// Room in a new URL for the escapes of its key and query: eight escapes (`%XX`).
const ESCAPE_ROOM: usize = 16;

impl Presigner {
    /// When something signed at `now` for `lifetime` expires, if that is allowed: 1 s to 7
    /// days, a representable date, and never past the credentials' expiry.
    pub(super) fn check_lifetime(
        &self,
        now: Timestamp,
        lifetime: Duration,
    ) -> Result<Timestamp, PresignError> {
        let secs = lifetime.as_secs();
        if !(1..=MAX_PRESIGN_TTL.as_secs()).contains(&secs) {
            return Err(PresignError::ExpiresOutOfRange { secs });
        }
        // 0000-01-01T00:00:00Z to 9999-12-31T23:59:59Z: four-digit years.
        if !(-62_167_219_200..=253_402_300_799).contains(&now.unix_seconds()) {
            return Err(PresignError::TimeOutOfRange(now));
        }
        let expires_at = now.plus(Duration::from_secs(secs));
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
        Ok(expires_at)
    }

    /// Signs `req` as of `now` (already corrected by the clock offset; sub-seconds dropped).
    pub fn presign(
        &self,
        req: &PresignRequest<'_>,
        now: Timestamp,
    ) -> Result<PresignedUrl, PresignError> {
        let now = now.trunc_seconds();
        let expires = req.expires.as_secs();
        let expires_at = self.check_lifetime(now, req.expires)?;
        if let Some((name, _)) = req.query.iter().find(|(k, _)| {
            k.len() >= RESERVED_PREFIX.len()
                && k.as_bytes()[..RESERVED_PREFIX.len()]
                    .eq_ignore_ascii_case(RESERVED_PREFIX.as_bytes())
        }) {
            return Err(PresignError::ReservedQueryParam(name.to_string()));
        }
        let headers = canonical_headers(req)?;
        let (bucket_label, endpoint_host) = self.endpoint.host_parts(&req.bucket);
        let path_bucket = self.endpoint.style == AddressingStyle::Path && !req.bucket.is_empty();

        let scheme = self.endpoint.scheme();
        let mut url = String::with_capacity(self.url_capacity(req, &headers, bucket_label));
        url.push_str(scheme);
        url.push_str("://");
        let host = url.len();
        push_host(&mut url, bucket_label, endpoint_host);
        let path = url.len();
        url.push('/');
        if path_bucket {
            uri_encode_into(&mut url, &req.bucket, false);
            if !req.key.is_empty() {
                url.push('/');
            }
        }
        uri_encode_into(&mut url, &req.key, true);
        let path_end = url.len();
        url.push('?');
        let query = url.len();
        let mac = self.write_query(&mut url, req, now, expires, &headers);
        let spans = Spans {
            host,
            path,
            path_end,
            query,
            endpoint_host_only: bucket_label.is_empty(),
        };
        let signature = self.sign(mac, req, &url, &spans, &headers);
        url.push_str(SIGNATURE_PARAM);
        url.push_str(std::str::from_utf8(&signature).expect("hex is ASCII"));
        Ok(PresignedUrl {
            method: req.method,
            url,
            headers: headers
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v.into_owned()))
                .collect(),
            signed_at: now,
            expires_at,
        })
    }

    /// The URL's length if nothing in its bucket, key and query needs an escape, plus room for
    /// a few: so the URL is allocated once, and only keys and values with several escapes make
    /// it grow.
    fn url_capacity(
        &self,
        req: &PresignRequest<'_>,
        headers: &HeaderList<'_>,
        bucket_label: &str,
    ) -> usize {
        let f = &self.fixed;
        let host = bucket_label.len() + 1 + self.endpoint.host.len();
        let path = 2 + req.bucket.len() + req.key.len();
        let params: usize = req.query.iter().map(|(k, v)| 2 + k.len() + v.len()).sum();
        let signed_headers: usize = headers.iter().map(|(n, _)| n.len() + 3).sum();
        let signer = f.credential.len()
            + "yyyymmdd".len()
            + f.scope.len()
            + "yyyymmddThhmmssZ".len()
            + EXPIRES_PARAM.len()
            + "604800".len()
            + f.token.len()
            + SIGNED_HEADERS_PARAM.len()
            + "host".len()
            + signed_headers;
        "https://".len()
            + host
            + path
            + 1
            + params
            + signer
            + SIGNATURE_PARAM.len()
            + 64
            + ESCAPE_ROOM
    }

    /// The signature of `req`, whose URL up to its signature is `url`: the canonical request
    /// is hashed from the URL's host, path and query and a few fixed pieces, never assembled.
    /// `mac` has been fed the string to sign up to the canonical request's hash.
    fn sign(
        &self,
        mut mac: HmacSha256,
        req: &PresignRequest<'_>,
        url: &str,
        spans: &Spans,
        headers: &HeaderList<'_>,
    ) -> [u8; 64] {
        let mut creq = Sha256::new();
        creq.update(method_line(req.method));
        creq.update(&url[spans.path..spans.path_end]);
        creq.update(b"\n");
        creq.update(&url[spans.query..]);
        if headers.is_empty() && spans.endpoint_host_only {
            creq.update(&self.fixed.host_only_tail);
        } else {
            creq.update(b"\n");
            let after_host = headers.partition_point(|(n, _)| *n < "host");
            for (name, value) in &headers[..after_host] {
                hash_header(&mut creq, name, value);
            }
            creq.update(b"host:");
            creq.update(&url[spans.host..spans.path]);
            creq.update(b"\n");
            for (name, value) in &headers[after_host..] {
                hash_header(&mut creq, name, value);
            }
            creq.update(b"\n");
            signed_headers(headers, ";", |piece| creq.update(piece));
            creq.update(b"\n");
        }
        creq.update(req.payload_hash.as_bytes());
        mac.update(&hex32(&creq.finalize().into()));
        hex32(&mac.finalize().into_bytes().into())
    }

    /// Writes the canonical (sorted, encoded) query without the signature, and returns the
    /// HMAC state for the string to sign of `now`.
    ///
    /// The caller's parameters are ordered by their encoded form. None starts with `X-Amz-`, so
    /// each sorts entirely before or after the signer's block, which is already in order.
    fn write_query(
        &self,
        out: &mut String,
        req: &PresignRequest<'_>,
        now: Timestamp,
        expires: u64,
        headers: &HeaderList<'_>,
    ) -> HmacSha256 {
        let q = &req.query;
        let mut small = [0usize; 16];
        let mut large = Vec::new();
        let order: &mut [usize] = if q.len() <= small.len() {
            for (i, slot) in small.iter_mut().enumerate().take(q.len()) {
                *slot = i;
            }
            &mut small[..q.len()]
        } else {
            large.extend(0..q.len());
            &mut large
        };
        order.sort_unstable_by(|&a, &b| {
            cmp_encoded(&q[a].0, &q[b].0).then_with(|| cmp_encoded(&q[a].1, &q[b].1))
        });
        let split =
            order.partition_point(|&i| cmp_encoded(&q[i].0, RESERVED_PREFIX) == Ordering::Less);
        let write_param = |out: &mut String, i: usize| {
            uri_encode_into(out, &q[i].0, false);
            out.push('=');
            uri_encode_into(out, &q[i].1, false);
        };
        for &i in &order[..split] {
            write_param(out, i);
            out.push('&');
        }
        let mac = self.second_state(now, out);
        push_u64(out, expires);
        out.push_str(&self.fixed.token);
        out.push_str(SIGNED_HEADERS_PARAM);
        signed_headers(headers, "%3B", |piece| out.push_str(piece));
        for &i in &order[split..] {
            out.push('&');
            write_param(out, i);
        }
        mac
    }
}

/// Where the parts of a URL being signed start and end.
struct Spans {
    /// The host's start; it ends where the path starts.
    host: usize,
    path: usize,
    path_end: usize,
    /// The query's start; it runs to the end of what is written so far.
    query: usize,
    /// Whether the host is the endpoint's own (no bucket label before it).
    endpoint_host_only: bool,
}

/// What every URL of one signer repeats, encoded once when the signer is made.
#[derive(Debug, Clone)]
pub(super) struct Fixed {
    /// `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=<access key>%2F`
    credential: String,
    /// `%2F<region>%2F<service>%2Faws4_request&X-Amz-Date=`
    scope: String,
    /// `&X-Amz-Security-Token=<token>`, or nothing.
    token: String,
    /// `/<region>/<service>/aws4_request\n`: the string to sign's scope after the date.
    sts_scope: String,
    /// The canonical request from the query's end to the payload hash when `host` (the
    /// endpoint's) is the only signed header: `\nhost:<host>\n\nhost\n`.
    host_only_tail: String,
}

impl Fixed {
    pub(super) fn new(credentials: &Credentials, endpoint: &Endpoint) -> Self {
        let mut credential = String::from("X-Amz-Algorithm=");
        credential.push_str(ALGORITHM);
        credential.push_str("&X-Amz-Credential=");
        uri_encode_into(&mut credential, &credentials.access_key, false);
        credential.push_str("%2F");
        let mut scope = String::from("%2F");
        uri_encode_into(&mut scope, endpoint.region(), false);
        scope.push_str("%2F");
        uri_encode_into(&mut scope, endpoint.service(), false);
        scope.push_str("%2Faws4_request&X-Amz-Date=");
        let mut token = String::new();
        if let Some(t) = &credentials.session_token {
            token.push_str("&X-Amz-Security-Token=");
            uri_encode_into(&mut token, t, false);
        }
        let sts_scope = format!(
            "/{}/{}/aws4_request\n",
            endpoint.region(),
            endpoint.service()
        );
        let host_only_tail = format!("\nhost:{}\n\nhost\n", endpoint.host());
        Fixed {
            credential,
            scope,
            token,
            sts_scope,
            host_only_tail,
        }
    }

    /// The query's signer block up to the expiry's value, the same for every URL signed in the
    /// second of `amz_date`: `X-Amz-Algorithm=…&X-Amz-Credential=…&X-Amz-Date=…&X-Amz-Expires=`.
    pub(super) fn query_block(&self, amz_date: &[u8; 16]) -> String {
        let amz_date = std::str::from_utf8(amz_date).expect("ASCII digits");
        let mut out = String::with_capacity(
            self.credential.len() + 8 + self.scope.len() + 16 + EXPIRES_PARAM.len(),
        );
        out.push_str(&self.credential);
        out.push_str(&amz_date[..8]);
        out.push_str(&self.scope);
        out.push_str(amz_date);
        out.push_str(EXPIRES_PARAM);
        out
    }

    /// Feeds `mac` the string to sign up to the canonical request's hash:
    /// `AWS4-HMAC-SHA256\n<amz date>\n<date>/<region>/<service>/aws4_request\n`.
    pub(super) fn string_to_sign_prefix(&self, mac: &mut HmacSha256, amz_date: &[u8; 16]) {
        mac.update(ALGORITHM.as_bytes());
        mac.update(b"\n");
        mac.update(amz_date);
        mac.update(b"\n");
        mac.update(&amz_date[..8]);
        mac.update(self.sts_scope.as_bytes());
    }
}

/// `GET\n` and so on: the canonical request's first line.
const fn method_line(m: Method) -> &'static str {
    match m {
        Method::Get => "GET\n",
        Method::Put => "PUT\n",
        Method::Post => "POST\n",
        Method::Head => "HEAD\n",
        Method::Delete => "DELETE\n",
    }
}

/// `bucket.endpoint-host` in virtual-host style, or the endpoint's host.
fn push_host(out: &mut String, bucket_label: &str, endpoint_host: &str) {
    if !bucket_label.is_empty() {
        out.push_str(bucket_label);
        out.push('.');
    }
    out.push_str(endpoint_host);
}

fn hash_header(sha: &mut Sha256, name: &str, value: &str) {
    sha.update(name);
    sha.update(b":");
    sha.update(value);
    sha.update(b"\n");
}

/// The signed headers' names, `host` among them in its place, joined by `separator`, handed to
/// `emit` piece by piece: into the query (`%3B`) or the canonical request's hash (`;`).
fn signed_headers(headers: &HeaderList<'_>, separator: &str, mut emit: impl FnMut(&str)) {
    let after_host = headers.partition_point(|(n, _)| *n < "host");
    for (name, _) in &headers[..after_host] {
        emit(name);
        emit(separator);
    }
    emit("host");
    for (name, _) in &headers[after_host..] {
        emit(separator);
        emit(name);
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

/// The extra headers, validated, values normalised, sorted by name.
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
        out.push((name.as_ref(), normalize_value(value)));
    }
    out.sort_unstable_by(|a, b| a.0.cmp(b.0));
    Ok(out)
}

/// SigV4 header value as S3 computes it: spaces (only spaces) trimmed, runs of them collapsed.
pub(super) fn normalize_value(v: &str) -> Cow<'_, str> {
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
