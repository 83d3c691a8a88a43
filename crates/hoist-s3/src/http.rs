//! Sending one request to a store exactly as it was signed, and reading the answer.
//!
//! Every request hoist sends to a store is presigned, so sending one is a plain HTTP request
//! whoever signed it. The header rules live here, once: `host` comes from the URL and
//! `content-length` from the body, as they were signed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hoist_core::clock::ClockSample;
use hoist_core::error::S3Error;
use hoist_core::s3::HttpRequest;
use hoist_core::time::Timestamp;

use crate::error::Error;

/// The longest answer read: S3's answers to the calls hoist makes (a page of a listing, of
/// an object's attributes, an error) are far shorter. A store that answers a call it does
/// not do with an object (Garage, to GetObjectAttributes) is not read into memory.
pub const MAX_ANSWER: usize = 16 << 20;

/// Reads `resp`'s body, at most `limit` bytes; longer is [`Error::TooLarge`], with the
/// rest left unread (the connection is closed, not drained).
async fn read_answer(
    operation: &str,
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<Bytes, Error> {
    let too_large = || Error::TooLarge {
        operation: operation.to_owned(),
        limit,
    };
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    // Most answers come in one chunk, kept as it is; more are joined.
    let mut single = Bytes::new();
    let mut joined: Vec<u8> = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Error::transport(operation, &e))?
    {
        if single.len() + joined.len() + chunk.len() > limit {
            return Err(too_large());
        }
        if single.is_empty() && joined.is_empty() {
            single = chunk;
        } else {
            if joined.is_empty() {
                joined.extend_from_slice(&std::mem::take(&mut single));
            }
            joined.extend_from_slice(&chunk);
        }
    }
    Ok(if joined.is_empty() {
        single
    } else {
        Bytes::from(joined)
    })
}

/// The HTTP client's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// Limit on connecting.
    pub connect_timeout: Duration,
    /// Limit on a whole request and its answer; `None` for none (bodies of any size).
    pub timeout: Option<Duration>,
    /// Idle connections kept per host.
    pub pool_max_idle_per_host: usize,
    /// How long an idle connection is kept.
    pub pool_idle_timeout: Duration,
    /// PEM files of certificates trusted on top of the system's roots (a store's own
    /// certificate or private CA). `AWS_CA_BUNDLE`, when set, is always trusted too.
    pub trusted_certificates: Vec<PathBuf>,
    /// A host name connected to at this address instead of the one DNS gives (the requests
    /// still name, sign and verify the host).
    pub connect_to: Option<(String, SocketAddr)>,
    /// A PEM file whose first certificate is the only one trusted, under any name, instead
    /// of any root (the embedded store that serves the coordinator's own certificate).
    pub pinned_certificate: Option<PathBuf>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
            timeout: Some(Duration::from_secs(60)),
            pool_max_idle_per_host: 32,
            pool_idle_timeout: Duration::from_secs(30),
            trusted_certificates: Vec::new(),
            connect_to: None,
            pinned_certificate: None,
        }
    }
}

impl HttpOptions {
    /// No overall limit: for part uploads whose length depends on the link.
    pub fn without_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// A limit on each whole request.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Idle connections kept per host (as many as requests run in parallel).
    pub fn with_pool(mut self, per_host: usize) -> Self {
        self.pool_max_idle_per_host = per_host;
        self
    }

    /// Also trusts the certificates of the PEM file at `path`.
    pub fn trusting(mut self, path: impl Into<PathBuf>) -> Self {
        self.trusted_certificates.push(path.into());
        self
    }

    /// Trusts only the first certificate of the PEM file at `path`, under any name.
    pub fn pinning(mut self, path: impl Into<PathBuf>) -> Self {
        self.pinned_certificate = Some(path.into());
        self
    }

    /// Connects to `addr` for `host`.
    pub fn connecting(mut self, host: impl Into<String>, addr: SocketAddr) -> Self {
        self.connect_to = Some((host.into(), addr));
        self
    }
}

/// The environment variable naming a PEM bundle of extra trusted certificates, as the AWS
/// CLI and SDKs read it.
pub const CA_BUNDLE_ENV: &str = "AWS_CA_BUNDLE";

/// Adds to `builder` the certificates of each PEM file in `files`, and of the bundle that
/// [`CA_BUNDLE_ENV`] names when it is set: what hoist's clients trust on top of the system's
/// roots, for stores and coordinators with a private CA or a self-signed certificate.
pub fn trust_extra(
    mut builder: reqwest::ClientBuilder,
    files: &[PathBuf],
) -> Result<reqwest::ClientBuilder, Error> {
    let from_env = std::env::var_os(CA_BUNDLE_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    for path in files.iter().chain(from_env.as_ref()) {
        let pem = std::fs::read(path).map_err(|e| {
            Error::Config(format!(
                "cannot read the trusted certificates in {}: {e}",
                path.display()
            ))
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            Error::Config(format!(
                "{} is not a PEM certificate bundle: {e}",
                path.display()
            ))
        })?;
        if certs.is_empty() {
            return Err(Error::Config(format!(
                "{} holds no PEM certificate",
                path.display()
            )));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder)
}

/// An HTTP client for stores; cheap to clone (one connection pool).
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
}

/// An answer: status, headers and the whole body, with when the request left and the
/// answer came (local clock, uncorrected) so the store's `Date` can be read against them.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body (empty for HEAD).
    pub body: Bytes,
    /// Local time the request was sent.
    pub sent: Timestamp,
    /// Local time the answer's head arrived.
    pub received: Timestamp,
}

impl Answer {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every header as `(name, value)` text pairs.
    pub fn header_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)))
    }

    /// True for 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// What the store's `Date` header says about its clock, if it sent one.
    pub fn clock_sample(&self) -> Option<ClockSample> {
        let date = Timestamp::parse_http_date(self.header("date")?).ok()?;
        Some(ClockSample {
            sent: self.sent,
            received: self.received,
            server_date: date,
        })
    }

    /// The answer itself when 2xx, else the S3 error it carries.
    pub fn into_result(self, operation: &str) -> Result<Answer, Error> {
        if self.ok() {
            Ok(self)
        } else {
            Err(Error::s3(
                operation,
                S3Error::from_response(self.status, &self.body),
            ))
        }
    }
}

impl Http {
    /// A client with `options`.
    pub fn new(options: &HttpOptions) -> Result<Self, Error> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .pool_max_idle_per_host(options.pool_max_idle_per_host)
            .pool_idle_timeout(options.pool_idle_timeout)
            .tcp_nodelay(true);
        if let Some(t) = options.timeout {
            b = b.timeout(t);
        }
        if let Some((host, addr)) = &options.connect_to {
            b = b.resolve(host, *addr);
        }
        let b = match &options.pinned_certificate {
            Some(file) => b.use_preconfigured_tls(
                crate::pin::pinned_config(file.clone())
                    .map_err(|e| Error::Config(format!("TLS client settings: {e}")))?,
            ),
            None => trust_extra(b, &options.trusted_certificates)?,
        };
        let client = b
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Http { client })
    }

    /// Wraps a reqwest client built elsewhere.
    pub fn from_client(client: reqwest::Client) -> Self {
        Http { client }
    }

    /// The reqwest client (shared connection pool).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A request for `method url` with the headers it was signed with. `host` and
    /// `content-length` are left to the HTTP client, which derives them from the URL and the
    /// body exactly as they were signed, except that it sends no `content-length` for an
    /// empty body, which a signature pinning `0` needs.
    pub fn request(
        &self,
        operation: &str,
        method: &str,
        url: &str,
        headers: &[(String, String)],
    ) -> Result<reqwest::RequestBuilder, Error> {
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| Error::unexpected(operation, format!("bad method {method:?}")))?;
        let mut rb = self.client.request(method, url);
        for (name, value) in headers {
            let derived = name.eq_ignore_ascii_case("host")
                || (name.eq_ignore_ascii_case("content-length") && value != "0");
            if !derived {
                rb = rb.header(name.as_str(), value.as_str());
            }
        }
        Ok(rb)
    }

    /// Sends a built request and reads the whole answer, whatever its status. Only a failed
    /// connection, a timeout, a cut-off body, or an answer longer than [`MAX_ANSWER`] is an
    /// error.
    pub async fn send(
        &self,
        operation: &str,
        rb: reqwest::RequestBuilder,
    ) -> Result<Answer, Error> {
        // Not signed: a store checks only the headers a signature names.
        let rb = match crate::request_id::current() {
            Some(id) => rb.header(crate::request_id::HEADER, id),
            None => rb,
        };
        let sent = Timestamp::from(SystemTime::now());
        let resp = rb
            .send()
            .await
            .map_err(|e| Error::transport(operation, &e))?;
        let received = Timestamp::from(SystemTime::now());
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = read_answer(operation, resp, MAX_ANSWER).await?;
        Ok(Answer {
            status,
            headers,
            body,
            sent,
            received,
        })
    }

    /// Sends a request built by hoist-core (`hoist_core::s3::*`), whatever the answer.
    pub async fn send_request(&self, operation: &str, req: HttpRequest) -> Result<Answer, Error> {
        let mut rb = self.request(operation, req.method.as_str(), &req.url, &req.headers)?;
        if !req.body.is_empty() {
            rb = rb.body(req.body);
        }
        self.send(operation, rb).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer of `body` in chunks of `chunk` bytes; `length` as its Content-Length.
    fn answer(body: &[u8], chunk: usize, length: Option<usize>) -> reqwest::Response {
        let chunks: Vec<Result<Bytes, std::io::Error>> = body
            .chunks(chunk.max(1))
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let mut b = http::Response::builder().status(200);
        if let Some(n) = length {
            b = b.header("content-length", n.to_string());
        }
        let stream = futures_util::stream::iter(chunks);
        reqwest::Response::from(b.body(reqwest::Body::wrap_stream(stream)).unwrap())
    }

    fn read(resp: reqwest::Response, limit: usize) -> Result<Bytes, Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(read_answer("GetObjectAttributes", resp, limit))
    }

    #[test]
    fn answers_within_the_limit_are_read_whole_in_one_chunk_or_many() {
        let body: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        for chunk in [10_000, 4096, 1] {
            let got = read(answer(&body, chunk, None), 10_000).unwrap();
            assert_eq!(&got[..], &body[..], "chunks of {chunk}");
        }
        assert!(read(answer(b"", 1, Some(0)), 10).unwrap().is_empty());
    }

    #[test]
    fn longer_answers_are_refused_declared_or_not() {
        let body = vec![7u8; 10_001];
        for (chunk, length) in [(10_001, Some(10_001)), (4096, None), (1, None)] {
            let err = read(answer(&body, chunk, length), 10_000).unwrap_err();
            assert!(
                matches!(&err, Error::TooLarge { limit: 10_000, operation } if operation == "GetObjectAttributes"),
                "{err:?}"
            );
            assert!(err.to_string().contains("longer than 10000 bytes"), "{err}");
        }
    }
}
