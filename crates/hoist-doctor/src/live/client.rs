//! The doctor's S3 calls: presigned by hoist-core, sent with reqwest.
//!
//! Every call is a presigned URL, the way hoist's uploaders talk to the store, so what the
//! doctor proves is what uploads will meet. Signing time is corrected by the clock offset the
//! doctor measured, as hoist-server does; the clock check reports the offset on its own.

use std::time::{Duration, SystemTime};

use hoist_core::clock::ClockOffset;
use hoist_core::presign::{Credentials, Endpoint, PresignRequest, Presigner};
use hoist_core::s3::HttpRequest;
use hoist_core::time::Timestamp;

use crate::error::DoctorError;

/// Where and as whom the doctor checks.
#[derive(Debug, Clone)]
pub struct Target {
    /// The endpoint URL, `http(s)://host[:port]`.
    pub endpoint: String,
    /// The region to sign for.
    pub region: String,
    /// The bucket.
    pub bucket: String,
    /// The credentials; temporary ones carry a session token and, when known, an expiry.
    pub credentials: Credentials,
}

/// An answer: status, headers and the body as text.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body (empty for HEAD).
    pub body: String,
}

impl Answer {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// True for 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A signer and an HTTP client for one bucket.
#[derive(Debug, Clone)]
pub struct S3Client {
    http: reqwest::Client,
    signer: std::sync::Arc<Presigner>,
    target: Target,
    offset: ClockOffset,
}

impl S3Client {
    /// A client for `target`; fails when the endpoint URL cannot be used.
    pub fn new(target: Target) -> Result<Self, DoctorError> {
        let endpoint = Endpoint::parse(&target.endpoint, target.region.clone())?;
        // The signer checks URL lifetimes against the expiry; the doctor reports expiry itself
        // and must still be able to ask the store what it thinks of the credentials.
        let mut credentials = Credentials::new(
            target.credentials.access_key.clone(),
            target.credentials.secret_key.clone(),
        );
        if let Some(token) = &target.credentials.session_token {
            credentials = credentials.with_session_token(token.clone());
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(DoctorError::from)?;
        Ok(S3Client {
            http,
            signer: std::sync::Arc::new(Presigner::new(credentials, endpoint)),
            target,
            offset: ClockOffset::ZERO,
        })
    }

    /// What is checked.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.target.bucket
    }

    /// The reqwest client (shared connection pool).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Signs from now on with this offset from the local clock.
    pub fn set_clock_offset(&mut self, offset: ClockOffset) {
        self.offset = offset;
    }

    /// Local time corrected to the endpoint's clock.
    pub fn now(&self) -> Timestamp {
        self.offset.apply(Timestamp::from(SystemTime::now()))
    }

    /// The URL of `req`, signed now.
    pub fn presign(
        &self,
        req: &PresignRequest<'_>,
    ) -> Result<hoist_core::presign::PresignedUrl, DoctorError> {
        Ok(self.signer.presign(req, self.now())?)
    }

    /// The bucket's URL without a query (for unsigned probes).
    pub fn bucket_url(&self) -> Result<String, DoctorError> {
        let signed = self.presign(&PresignRequest::head_bucket(self.target.bucket.as_str()))?;
        Ok(signed
            .url
            .split('?')
            .next()
            .unwrap_or(&signed.url)
            .to_owned())
    }

    /// The signer (for hoist-core's control-call builders).
    pub fn signer(&self) -> &Presigner {
        &self.signer
    }

    /// Sends a request built by hoist-core (`hoist_core::s3::*`).
    pub async fn send(&self, req: HttpRequest) -> Result<Answer, DoctorError> {
        let method = reqwest::Method::from_bytes(req.method.as_str().as_bytes())
            .expect("S3 methods are valid HTTP methods");
        let mut request = self.http.request(method, &req.url);
        for (name, value) in &req.headers {
            request = request.header(name, value);
        }
        if !req.body.is_empty() {
            request = request.body(req.body);
        }
        read_answer(request.send().await?).await
    }

    /// Signs `req` and sends it with `body`.
    pub async fn call(
        &self,
        req: &PresignRequest<'_>,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, DoctorError> {
        let signed = self.presign(req)?;
        let method = reqwest::Method::from_bytes(signed.method.as_str().as_bytes())
            .expect("S3 methods are valid HTTP methods");
        let mut request = self.http.request(method, &signed.url);
        for (name, value) in &signed.headers {
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        read_answer(request.send().await?).await
    }
}

/// Reads status, headers and body of a response.
pub async fn read_answer(response: reqwest::Response) -> Result<Answer, DoctorError> {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await?;
    Ok(Answer {
        status,
        headers,
        body,
    })
}
