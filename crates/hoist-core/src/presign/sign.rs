//! The signing itself: canonical request, string to sign, signature, URL.
//!
//! The canonical request is written once into one buffer; its path and query are then copied
//! into the URL, and the same buffer holds the string to sign. The query is ordered without
//! encoding it twice, and the day's keyed HMAC state comes from the signer's cache, so a part
//! URL costs two short SHA-256 runs and a handful of small copies.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::time::Duration;

use hmac::Mac;
use sha2::{Digest, Sha256};

use super::{ALGORITHM, AddressingStyle, PresignError, PresignRequest, PresignedUrl, Presigner};
use crate::encoding::{cmp_encoded, hex32, uri_encode_into, uri_encoded_len};
use crate::time::Timestamp;
use crate::ttl::MAX_PRESIGN_TTL;

/// Header (name, value) pairs borrowed from a request where they can be.
type HeaderList<'r> = Vec<(&'r str, Cow<'r, str>)>;

/// The signer writes these; a caller's parameter of the same family would be ambiguous.
const RESERVED_PREFIX: &str = "X-Amz-";

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
        if !(0..=9999).contains(&now.civil().0) {
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
        let host = self.endpoint.host_for(&req.bucket);
        let amz_date_bytes = now.amz_date_bytes();
        let amz_date = std::str::from_utf8(&amz_date_bytes).expect("ASCII digits");
        let date = &amz_date[..8];

        let mut buf = String::with_capacity(self.capacity_hint(req, &headers, host.len()));
        buf.push_str(req.method.as_str());
        buf.push('\n');
        let path = buf.len();
        buf.push('/');
        if self.endpoint.style == AddressingStyle::Path && !req.bucket.is_empty() {
            uri_encode_into(&mut buf, &req.bucket, false);
            if !req.key.is_empty() {
                buf.push('/');
            }
        }
        uri_encode_into(&mut buf, &req.key, true);
        let path_end = buf.len();
        buf.push('\n');
        let query = buf.len();
        self.write_query(&mut buf, req, amz_date, date, expires, &headers);
        let query_end = buf.len();
        buf.push('\n');
        for (name, value) in with_host(&headers, &host) {
            buf.push_str(name);
            buf.push(':');
            buf.push_str(value);
            buf.push('\n');
        }
        buf.push('\n');
        write_signed_headers(&mut buf, &headers, ";");
        buf.push('\n');
        buf.push_str(&req.payload_hash);
        let creq_hash = hex32(&Sha256::digest(buf.as_bytes()));

        let scheme = self.endpoint.scheme();
        let mut url =
            String::with_capacity(scheme.len() + 3 + host.len() + (query_end - path) + 18 + 64);
        url.push_str(scheme);
        url.push_str("://");
        url.push_str(&host);
        url.push_str(&buf[path..path_end]);
        url.push('?');
        url.push_str(&buf[query..query_end]);

        // The string to sign reuses the buffer.
        buf.clear();
        buf.push_str(ALGORITHM);
        buf.push('\n');
        buf.push_str(amz_date);
        buf.push('\n');
        buf.push_str(date);
        buf.push('/');
        buf.push_str(&self.endpoint.region);
        buf.push('/');
        buf.push_str(&self.endpoint.service);
        buf.push_str("/aws4_request\n");
        buf.push_str(std::str::from_utf8(&creq_hash).expect("hex is ASCII"));
        let mut mac = self.keyed_mac(date);
        mac.update(buf.as_bytes());
        let signature = hex32(&mac.finalize().into_bytes());

        url.push_str("&X-Amz-Signature=");
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

    /// Enough bytes for the canonical request, so the buffer never grows.
    fn capacity_hint(
        &self,
        req: &PresignRequest<'_>,
        headers: &HeaderList<'_>,
        host_len: usize,
    ) -> usize {
        let c = &self.credentials;
        let headers_len: usize = headers.iter().map(|(n, v)| 2 * n.len() + v.len() + 5).sum();
        let query_len: usize = req
            .query
            .iter()
            .map(|(k, v)| uri_encoded_len(k, false) + uri_encoded_len(v, false) + 2)
            .sum();
        200 + host_len
            + req.bucket.len() * 3
            + uri_encoded_len(&req.key, true)
            + uri_encoded_len(&c.access_key, false)
            + self.endpoint.region.len()
            + self.endpoint.service.len()
            + c.session_token
                .as_ref()
                .map_or(0, |t| uri_encoded_len(t, false) + 22)
            + query_len
            + 2 * headers_len
            + req.payload_hash.len()
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
        date: &str,
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
            out.push('&');
        };
        for &i in &order[..split] {
            write_param(out, i);
        }
        let c = &self.credentials;
        out.push_str("X-Amz-Algorithm=");
        out.push_str(ALGORITHM);
        out.push_str("&X-Amz-Credential=");
        uri_encode_into(out, &c.access_key, false);
        out.push_str("%2F");
        out.push_str(date);
        out.push_str("%2F");
        uri_encode_into(out, &self.endpoint.region, false);
        out.push_str("%2F");
        uri_encode_into(out, &self.endpoint.service, false);
        out.push_str("%2Faws4_request&X-Amz-Date=");
        out.push_str(amz_date);
        out.push_str("&X-Amz-Expires=");
        push_u64(out, expires);
        if let Some(token) = &c.session_token {
            out.push_str("&X-Amz-Security-Token=");
            uri_encode_into(out, token, false);
        }
        out.push_str("&X-Amz-SignedHeaders=");
        write_signed_headers(out, headers, "%3B");
        for &i in &order[split..] {
            out.push('&');
            write_param(out, i);
            out.pop();
        }
    }
}

/// The extra headers and `host`, in name order.
fn with_host<'a>(
    headers: &'a HeaderList<'_>,
    host: &'a str,
) -> impl Iterator<Item = (&'a str, &'a str)> {
    let p = headers.partition_point(|(n, _)| *n < "host");
    let pair = |(n, v): &'a (&str, Cow<'_, str>)| (*n, v.as_ref());
    headers[..p]
        .iter()
        .map(pair)
        .chain(std::iter::once(("host", host)))
        .chain(headers[p..].iter().map(pair))
}

fn write_signed_headers(out: &mut String, headers: &HeaderList<'_>, separator: &str) {
    for (i, (name, _)) in with_host(headers, "").enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
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
