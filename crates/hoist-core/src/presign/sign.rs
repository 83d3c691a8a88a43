//! The signing itself: canonical request, string to sign, signature, URL.
//!
//! The URL is written once, into one allocation sized for it, and the canonical request is
//! hashed from the URL's path and query plus a few fixed pieces, never assembled. What a signer
//! repeats in every URL is encoded once: the credential, scope and date block of the query (for
//! the current second, cached with the signing key), the encoded session token, and the
//! canonical request's tail when `host` is the only signed header. The query is ordered without
//! encoding it twice, and the cache holds the HMAC state already fed the string to sign up to
//! the request's hash. So a part URL costs the SHA-256 of its canonical request, three more
//! SHA-256 blocks and the encoding of its key and query. Parts of one upload signed together
//! ([`PartsSigner`]) share the first one's URL and canonical request up to the
//! part number: each of the others costs the SHA-256 of what follows the number.

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
        Ok(self.presign_keeping(req, now, false)?.0)
    }

    /// A signer for `parts` requests of one upload, as of `now`: see [`PartsSigner`]. With
    /// fewer than two, it keeps nothing from the first (nothing would use it), so one part
    /// costs what [`Presigner::presign`] does; a request past the count is still signed.
    pub fn parts_signer(&self, now: Timestamp, parts: usize) -> PartsSigner<'_> {
        PartsSigner {
            signer: self,
            now,
            keep: parts > 1,
            batch: None,
        }
    }

    /// [`Presigner::presign`], and with `keep`, what a [`PartBatch`] needs to sign the other
    /// parts of the same upload (none when `req` has no single, all-digit part number).
    fn presign_keeping(
        &self,
        req: &PresignRequest<'_>,
        now: Timestamp,
        keep: bool,
    ) -> Result<(PresignedUrl, Option<PartBatch>), PresignError> {
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
        // Where the part number's value starts and ends, for a batch of parts.
        let number = keep
            .then(|| part_number_span(req, &url[query..]))
            .flatten()
            .map(|(start, end)| (query + start, query + end));
        let mut creq = Sha256::new();
        creq.update(method_line(req.method));
        creq.update(&url[spans.path..spans.path_end]);
        creq.update(b"\n");
        let kept = number.map(|(start, end)| {
            creq.update(&url[spans.query..start]);
            let before_number = creq.clone();
            creq.update(&url[start..]);
            PartBatch {
                template: owned_request(req),
                url_before: url[..start].to_owned(),
                url_after: url[end..].to_owned(),
                creq_before: before_number,
                mac: mac.clone(),
                host: url[spans.host..spans.path].to_owned(),
                endpoint_host_only: spans.endpoint_host_only,
                header_names: headers.iter().map(|(n, _)| n.to_string()).collect(),
                signed_at: now,
                expires_at,
            }
        });
        if kept.is_none() {
            creq.update(&url[spans.query..]);
        }
        self.hash_tail(
            &mut creq,
            &url[spans.host..spans.path],
            spans.endpoint_host_only,
            &headers,
        );
        push_signature(&mut url, mac, creq, &req.payload_hash);
        let signed = PresignedUrl {
            method: req.method,
            url,
            headers: owned_headers(headers),
            signed_at: now,
            expires_at,
        };
        Ok((signed, kept))
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

    /// Feeds `creq` the canonical request from the query's end to the payload hash: the
    /// signed headers, `host` among them in its place, and their names.
    fn hash_tail(
        &self,
        creq: &mut Sha256,
        host: &str,
        endpoint_host_only: bool,
        headers: &HeaderList<'_>,
    ) {
        if headers.is_empty() && endpoint_host_only {
            creq.update(&self.fixed.host_only_tail);
            return;
        }
        creq.update(b"\n");
        let after_host = headers.partition_point(|(n, _)| *n < "host");
        for (name, value) in &headers[..after_host] {
            hash_header(creq, name, value);
        }
        creq.update(b"host:");
        creq.update(host);
        creq.update(b"\n");
        for (name, value) in &headers[after_host..] {
            hash_header(creq, name, value);
        }
        creq.update(b"\n");
        signed_headers(headers, ";", |piece| creq.update(piece));
        creq.update(b"\n");
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

/// Signs the parts of one upload one after the other, as of one time: the same URLs as
/// [`Presigner::presign`] of each.
///
/// Made for UploadPart requests that differ only in their part number and the values of their
/// signed headers (a part's length, its checksum). Their URLs and canonical requests are the
/// same up to the part number, so the first is signed whole, and each of the others starts from
/// its URL and from the SHA-256 state it left there: with a session token, that is most of each
/// canonical request. A request of any other shape is signed on its own. Each request can be
/// built just before it is signed and dropped after, so a batch holds no more than its URLs.
///
/// ```
/// use hoist_core::presign::{Credentials, Endpoint, PresignRequest, Presigner};
/// use hoist_core::time::Timestamp;
///
/// let endpoint = Endpoint::parse("http://127.0.0.1:9000", "us-east-1").unwrap();
/// let signer = Presigner::new(Credentials::new("AKID", "secret"), endpoint);
/// let now = Timestamp::from_unix(1_764_950_000);
/// let mut parts = signer.parts_signer(now, 3);
/// for n in 1..=3 {
///     let req = PresignRequest::upload_part("bucket", "key", "upload-id", n).content_length(5 << 20);
///     assert_eq!(parts.presign(&req).unwrap(), signer.presign(&req, now).unwrap());
/// }
/// ```
pub struct PartsSigner<'s> {
    signer: &'s Presigner,
    now: Timestamp,
    /// Whether more than one request is to come, so that the first's state is worth keeping.
    keep: bool,
    /// What the first part signed whole left for the others.
    batch: Option<PartBatch>,
}

impl std::fmt::Debug for PartsSigner<'_> {
    /// The time and whether a first part was kept; never a key or a hash state.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartsSigner")
            .field("now", &self.now)
            .field("first_part_kept", &self.batch.is_some())
            .finish_non_exhaustive()
    }
}

impl PartsSigner<'_> {
    /// Signs `req`.
    pub fn presign(&mut self, req: &PresignRequest<'_>) -> Result<PresignedUrl, PresignError> {
        if let Some(b) = &self.batch
            && let Some(url) = b.sign(self.signer, req)?
        {
            return Ok(url);
        }
        let (url, kept) =
            self.signer
                .presign_keeping(req, self.now, self.keep && self.batch.is_none())?;
        if self.batch.is_none() {
            self.batch = kept;
        }
        Ok(url)
    }
}

/// What the parts of one upload signed together share: the first part's URL around its part
/// number, and the canonical request's SHA-256 state up to the number.
struct PartBatch {
    /// The first part's request, owned.
    template: PresignRequest<'static>,
    /// The URL up to the part number's value (`…&partNumber=`).
    url_before: String,
    /// The query after the part number (`&uploadId=…`), before the signature.
    url_after: String,
    /// Fed the canonical request up to the part number's value.
    creq_before: Sha256,
    /// Fed the string to sign up to the canonical request's hash.
    mac: HmacSha256,
    host: String,
    endpoint_host_only: bool,
    /// The signed headers' names besides `host`, sorted.
    header_names: Vec<String>,
    signed_at: Timestamp,
    expires_at: Timestamp,
}

impl PartBatch {
    /// The URL of `req` when it is another part of the batch's upload (`None` when it differs
    /// in anything but its part number and its headers' values, or its number is not digits).
    fn sign(
        &self,
        signer: &Presigner,
        req: &PresignRequest<'_>,
    ) -> Result<Option<PresignedUrl>, PresignError> {
        let Some(number) = self.number_of(req) else {
            return Ok(None);
        };
        let headers = canonical_headers(req)?;
        if headers.len() != self.header_names.len()
            || headers
                .iter()
                .zip(&self.header_names)
                .any(|((name, _), kept)| name != kept)
        {
            return Ok(None);
        }
        let mut url = String::with_capacity(
            self.url_before.len()
                + number.len()
                + self.url_after.len()
                + SIGNATURE_PARAM.len()
                + 64,
        );
        url.push_str(&self.url_before);
        url.push_str(number);
        url.push_str(&self.url_after);
        let mut creq = self.creq_before.clone();
        creq.update(number);
        creq.update(&self.url_after);
        signer.hash_tail(&mut creq, &self.host, self.endpoint_host_only, &headers);
        push_signature(&mut url, self.mac.clone(), creq, &req.payload_hash);
        Ok(Some(PresignedUrl {
            method: req.method,
            url,
            headers: owned_headers(headers),
            signed_at: self.signed_at,
            expires_at: self.expires_at,
        }))
    }

    /// `req`'s part number, if `req` is the batch's first request but for the number: the
    /// same method, bucket, key, lifetime, payload hash and query in the same order, and a
    /// number of digits only (written as it is; its parameter's name is unique, so the query's
    /// order does not depend on it).
    fn number_of<'r>(&self, req: &'r PresignRequest<'_>) -> Option<&'r str> {
        let t = &self.template;
        if req.method != t.method
            || req.expires != t.expires
            || req.bucket != t.bucket
            || req.key != t.key
            || req.payload_hash != t.payload_hash
            || req.query.len() != t.query.len()
        {
            return None;
        }
        let mut number = None;
        for ((name, value), (t_name, t_value)) in req.query.iter().zip(&t.query) {
            if name != t_name {
                return None;
            }
            if name == "partNumber" {
                if !is_plain_number(value) {
                    return None;
                }
                number = Some(value.as_ref());
            } else if value != t_value {
                return None;
            }
        }
        number
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

/// Ends `url` with its signature: `creq`, fed the canonical request up to the payload hash,
/// is given `payload_hash`, and `mac`, fed the string to sign up to the canonical request's
/// hash, is given that hash.
fn push_signature(url: &mut String, mut mac: HmacSha256, mut creq: Sha256, payload_hash: &str) {
    creq.update(payload_hash.as_bytes());
    mac.update(&hex32(&creq.finalize().into()));
    let signature = hex32(&mac.finalize().into_bytes().into());
    url.push_str(SIGNATURE_PARAM);
    url.push_str(std::str::from_utf8(&signature).expect("hex is ASCII"));
}

/// Whether a part number's text is digits only, so written into the URL as it is.
fn is_plain_number(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
}

/// `req` with every borrowed piece copied.
fn owned_request(req: &PresignRequest<'_>) -> PresignRequest<'static> {
    let owned = |pairs: &[(Cow<'_, str>, Cow<'_, str>)]| {
        pairs
            .iter()
            .map(|(n, v)| (Cow::Owned(n.to_string()), Cow::Owned(v.to_string())))
            .collect()
    };
    PresignRequest {
        method: req.method,
        bucket: Cow::Owned(req.bucket.to_string()),
        key: Cow::Owned(req.key.to_string()),
        query: owned(&req.query),
        headers: owned(&req.headers),
        payload_hash: Cow::Owned(req.payload_hash.to_string()),
        expires: req.expires,
    }
}

fn owned_headers(headers: HeaderList<'_>) -> Vec<(String, String)> {
    headers
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v.into_owned()))
        .collect()
}

/// Where the value of the request's one `partNumber` parameter lies in the written `query`,
/// when it is all digits (so written as it is).
fn part_number_span(req: &PresignRequest<'_>, query: &str) -> Option<(usize, usize)> {
    let mut numbers = req.query.iter().filter(|(name, _)| name == "partNumber");
    let (_, value) = numbers.next()?;
    if numbers.next().is_some() || !is_plain_number(value) {
        return None;
    }
    const NAME: &str = "partNumber=";
    let start = if query.starts_with(NAME) {
        NAME.len()
    } else {
        query.find("&partNumber=")? + 1 + NAME.len()
    };
    Some((start, start + value.len()))
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
