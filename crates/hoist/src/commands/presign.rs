//! `hoist presign`: print one SigV4 presigned URL.
//!
//! Enough to check the signing vectors from a shell, and to hand a colleague a URL. Signed
//! headers besides `host` must be sent as given; they are listed on standard error.
//! Bad input is one line on standard error and exit code 2.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use hoist_core::presign::{Credentials, Endpoint, Method, PresignRequest, Presigner};
use hoist_core::time::Timestamp;

use crate::output;

/// Exit code for bad input.
const EXIT_USAGE: u8 = 2;

/// Print one SigV4 presigned URL.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// HTTP method: GET, PUT, POST, HEAD or DELETE.
    #[arg(long, default_value = "GET")]
    pub method: String,
    /// The S3 endpoint, `http(s)://host[:port]`.
    #[arg(
        long,
        env = "AWS_ENDPOINT_URL",
        default_value = "https://s3.amazonaws.com"
    )]
    pub endpoint: String,
    /// Put the bucket in the host name (`bucket.endpoint`) instead of the path.
    #[arg(long)]
    pub virtual_host: bool,
    /// The bucket.
    #[arg(long)]
    pub bucket: Option<String>,
    /// The object key (raw; it is encoded here).
    #[arg(long, default_value = "")]
    pub key: String,
    /// The region in the credential scope.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Access key id.
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    pub access_key: Option<String>,
    /// Secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Session token of temporary credentials.
    #[arg(long, env = "AWS_SESSION_TOKEN", hide_env_values = true)]
    pub session_token: Option<String>,
    /// Signing time, `yyyymmddThhmmssZ` or RFC 3339; default now.
    #[arg(long)]
    pub date: Option<String>,
    /// Lifetime in seconds, 1 to 604800 (7 days).
    #[arg(long, default_value = "3600")]
    pub expires: String,
    /// Extra query parameter `NAME=VALUE` (raw), repeatable: `--query partNumber=1 --query uploadId=…`.
    #[arg(long = "query", value_name = "NAME=VALUE")]
    pub query: Vec<String>,
    /// Extra header to sign, `NAME:VALUE`, repeatable (for example `content-length:5242880`).
    #[arg(long = "header", value_name = "NAME:VALUE")]
    pub headers: Vec<String>,
    /// Payload hash to sign (hex SHA-256); default UNSIGNED-PAYLOAD.
    #[arg(long)]
    pub payload_hash: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match presign(&args) {
        Ok(url) => {
            // The URL is the product asked for: printed whole.
            output::product(&format!("{}\n", url.url));
            for (name, value) in &url.headers {
                output::product_note(&format!("send header: {name}: {value}"));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(message) => {
            output::message(&format!("error: {message}"));
            Ok(ExitCode::from(EXIT_USAGE))
        }
    }
}

/// Validates the arguments and signs; every error is one line.
fn presign(args: &Args) -> Result<hoist_core::presign::PresignedUrl, String> {
    let method: Method = args.method.parse().map_err(|e| format!("{e}"))?;
    let expires: u64 = args
        .expires
        .trim()
        .parse()
        .ok()
        .filter(|s| (1..=604_800).contains(s))
        .ok_or_else(|| {
            format!(
                "--expires {:?} must be a whole number of seconds from 1 to 604800",
                args.expires
            )
        })?;
    let now = match &args.date {
        Some(d) => Timestamp::parse_amz_date(d)
            .or_else(|_| Timestamp::parse_rfc3339(d))
            .map_err(|_| format!("--date {d:?} is neither yyyymmddThhmmssZ nor RFC 3339"))?,
        None => Timestamp::from(SystemTime::now()),
    };
    let (access_key, secret_key) = match (&args.access_key, &args.secret_key) {
        (Some(a), Some(s)) if !a.is_empty() && !s.is_empty() => (a, s),
        _ => {
            return Err("missing credentials: give --access-key and --secret-key or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into());
        }
    };
    let bucket = args.bucket.as_deref().unwrap_or("");
    if bucket.is_empty() {
        return Err("missing --bucket".into());
    }
    let mut creds = Credentials::new(access_key, secret_key);
    if let Some(token) = args.session_token.as_deref().filter(|t| !t.is_empty()) {
        creds = creds.with_session_token(token);
    }
    let mut endpoint = Endpoint::parse(&args.endpoint, &args.region).map_err(|e| e.to_string())?;
    if args.virtual_host {
        endpoint = endpoint.virtual_host();
    }
    let mut req = PresignRequest::new(method, bucket, args.key.as_str())
        .expires_in(Duration::from_secs(expires));
    for q in &args.query {
        let (k, v) = q.split_once('=').unwrap_or((q.as_str(), ""));
        if k.is_empty() {
            return Err(format!("--query {q:?} must be NAME=VALUE"));
        }
        req = req.query_param(k, v);
    }
    for h in &args.headers {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| format!("--header {h:?} must be NAME:VALUE"))?;
        req = req.header(k.trim(), v);
    }
    if let Some(hash) = &args.payload_hash {
        req = req.payload_hash(hash.as_str());
    }
    Presigner::new(creds, endpoint)
        .presign(&req, now)
        .map_err(|e| e.to_string())
}
