//! The signing itself: canonical request, string to sign, signature, URL.
//!
//! The canonical request is written into a buffer each thread reuses; its path and query are
//! then copied into the URL, the one allocation a signature makes. What a signer repeats in
//! every URL (the credential, the scope, the encoded session token) is encoded once, the query
//! is ordered without encoding it twice, and the signer's cache holds the HMAC state already
//! fed the string to sign up to the request's hash, for the current second. So a part URL
//! costs the SHA-256 of its canonical request, three more SHA-256 blocks and a few copies.

use std::borrow::Cow;
use std::cell::RefCell;
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

/// A canonical request buffer larger than this (a huge key or query) is not kept.
const MAX_KEPT_BUFFER: usize = 16 << 10;

thread_local! {
    /// Each thread's canonical request buffer, reused from one signature to the next.
    static CANONICAL: RefCell<String> = RefCell::new(String::with_capacity(1024));
}

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
        let (amz_date_bytes, mut mac) = self.second_state(now);
        let amz_date = std::str::from_utf8(&amz_date_bytes).expect("ASCII digits");
        let (bucket_label, endpoint_host) = self.endpoint.host_parts(&req.bucket);

        CANONICAL.with(|cell| {
            // A signature computed while this thread's buffer is in use (never, today) gets
            // its own.
            let mut own = String::new();
            let mut borrowed = cell.try_borrow_mut();
            let buf: &mut String = match &mut borrowed {
                Ok(b) => b,
                Err(_) => &mut own,
            };
            buf.clear();
            buf.push_str(method_line(req.method));
            let path = buf.len();
            buf.push('/');
            if self.endpoint.style == AddressingStyle::Path && !req.bucket.is_empty() {
                uri_encode_into(buf, &req.bucket, false);
                if !req.key.is_empty() {
                    buf.push('/');
                }
            }
            uri_encode_into(buf, &req.key, true);
            let path_end = buf.len();
            buf.push('\n');
            let query = buf.len();
            self.write_query(buf, req, amz_date, expires, &headers);
            let query_end = buf.len();
            buf.push('\n');
            let after_host = headers.partition_point(|(n, _)| *n < "host");
            for (name, value) in &headers[..after_host] {
                push_header(buf, name, value);
            }
            buf.push_str("host:");
            push_host(buf, bucket_label, endpoint_host);
            buf.push('\n');
            for (name, value) in &headers[after_host..] {
                push_header(buf, name, value);
            }
            buf.push('\n');
            write_signed_headers(buf, &headers, ";");
            buf.push('\n');
            buf.push_str(&req.payload_hash);
            let creq_hash = hex32(&Sha256::digest(buf.as_bytes()));
            mac.update(&creq_hash);
            let signature = hex32(&mac.finalize().into_bytes());

            let host_len =
                bucket_label.len() + usize::from(!bucket_label.is_empty()) + endpoint_host.len();
            let scheme = self.endpoint.scheme();
            let mut url = String::with_capacity(
                scheme.len() + 3 + host_len + (query_end - path) + SIGNATURE_PARAM.len() + 64,
            );
            url.push_str(scheme);
            url.push_str("://");
            push_host(&mut url, bucket_label, endpoint_host);
            url.push_str(&buf[path..path_end]);
            url.push('?');
            url.push_str(&buf[query..query_end]);
            url.push_str(SIGNATURE_PARAM);
            url.push_str(std::str::from_utf8(&signature).expect("hex is ASCII"));
            if buf.capacity() > MAX_KEPT_BUFFER {
                *buf = String::new();
            }
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
        })
    }

    /// Writes the canonical (sorted, encoded) query without the signature.
    ///
    /// The caller's parameters are ordered by their encoded form. None starts with `X-Amz-`, so
    /// each sorts entirely before or after the signer's block, which is already in order.
    fn write_query(
        &self,
        out: &mut String,
        req: &PresignRequest<'_>,
        amz_date: &str,
        expires: u64,
        headers: &HeaderList<'_>,
    ) {
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
        let f = &self.fixed;
        out.push_str(&f.credential);
        out.push_str(&amz_date[..8]);
        out.push_str(&f.scope);
        out.push_str(amz_date);
        out.push_str("&X-Amz-Expires=");
        push_u64(out, expires);
        if !f.token.is_empty() {
            out.push_str(&f.token);
        }
        out.push_str("&X-Amz-SignedHeaders=");
        write_signed_headers(out, headers, "%3B");
        for &i in &order[split..] {
            out.push('&');
            write_param(out, i);
        }
    }
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
        Fixed {
            credential,
            scope,
            token,
            sts_scope,
        }
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

fn push_header(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push(':');
    out.push_str(value);
    out.push('\n');
}

fn write_signed_headers(out: &mut String, headers: &HeaderList<'_>, separator: &str) {
    let after_host = headers.partition_point(|(n, _)| *n < "host");
    for (name, _) in &headers[..after_host] {
        out.push_str(name);
        out.push_str(separator);
    }
    out.push_str("host");
    for (name, _) in &headers[after_host..] {
        out.push_str(separator);
        out.push_str(name);
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
