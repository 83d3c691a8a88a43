//! Shared test helpers: a store on port 0, an AWS SDK client pointed at it, and a tiny raw
//! HTTP/1.1 client for the answers an SDK would hide (error extras, CORS headers, SigV2).

#![allow(dead_code)]

use std::time::Duration;

use aws_sdk_s3::config::{
    BehaviorVersion, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::presigning::PresignedRequest;
use hoist_store::{Credentials, Store, StoreConfig, StoreHandle};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

pub const AK: &str = "AKIDHOISTTEST";
pub const SK: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
pub const BUCKET: &str = "test-bucket";

pub struct TestStore {
    pub handle: StoreHandle,
    pub dir: tempfile::TempDir,
}

impl TestStore {
    pub async fn start() -> Self {
        Self::start_with(|c| c).await
    }

    pub async fn start_with(tune: impl FnOnce(StoreConfig) -> StoreConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = tune(
            StoreConfig::new(dir.path())
                .with_credentials(Credentials::new(AK, SK))
                .with_bucket(BUCKET),
        );
        let handle = Store::spawn(config, "127.0.0.1:0").await.unwrap();
        Self { handle, dir }
    }

    /// An SDK client with request checksums only when required (no CRC trailers).
    pub fn client(&self) -> aws_sdk_s3::Client {
        client_for(&self.handle.endpoint(), AK, SK, None, false)
    }

    /// An SDK client with the SDK's default flexible checksums (CRC32 trailers).
    pub fn client_with_checksums(&self) -> aws_sdk_s3::Client {
        client_for(&self.handle.endpoint(), AK, SK, None, true)
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.handle.local_addr()
    }
}

pub fn client_for(
    endpoint: &str,
    ak: &str,
    sk: &str,
    token: Option<String>,
    checksums: bool,
) -> aws_sdk_s3::Client {
    let credentials =
        aws_credential_types::Credentials::new(ak, sk, token, None, "hoist-store-tests");
    let (calc, validate) = if checksums {
        (
            RequestChecksumCalculation::WhenSupported,
            ResponseChecksumValidation::WhenSupported,
        )
    } else {
        (
            RequestChecksumCalculation::WhenRequired,
            ResponseChecksumValidation::WhenRequired,
        )
    };
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .force_path_style(true)
        .request_checksum_calculation(calc)
        .response_checksum_validation(validate)
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .http_client(sdk_http_client())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Status and body of an SDK service error, as the server sent them.
pub fn raw_error<E: std::fmt::Debug>(
    err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> (u16, String) {
    match err {
        SdkError::ServiceError(ctx) => {
            let raw = ctx.raw();
            let body = raw
                .body()
                .bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            (raw.status().as_u16(), body)
        }
        other => panic!("expected a service error, got {other:?}"),
    }
}

/// Text of `<name>` in an XML document.
pub fn element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(
        xml[start..end]
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">"),
    )
}

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn code(&self) -> Option<String> {
        element(&self.text(), "Code")
    }

    pub fn message(&self) -> Option<String> {
        element(&self.text(), "Message")
    }
}

/// Sends one HTTP/1.1 request (`Connection: close`) and reads the whole answer.
pub async fn raw(
    addr: std::net::SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawResponse {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request =
        format!("{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    let has_length = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    if !has_length && (!body.is_empty() || method == "PUT" || method == "POST") {
        request.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .unwrap()
        .ok();
    parse_response(&answer, method == "HEAD")
}

pub fn parse_response(answer: &[u8], head: bool) -> RawResponse {
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head_text = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut lines = head_text.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        })
        .collect();
    let mut body = answer[split + 4..].to_vec();
    if head {
        body.clear();
    } else if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap().trim(), 16)
                .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 2 + size + 2..];
    }
    out
}

/// Sends a request presigned by the SDK, as given (method, URL, headers).
pub async fn send_presigned(
    addr: std::net::SocketAddr,
    presigned: &PresignedRequest,
    body: &[u8],
) -> RawResponse {
    let uri: http::Uri = presigned.uri().parse().unwrap();
    let target = uri.path_and_query().unwrap().as_str().to_owned();
    let headers: Vec<(String, String)> = presigned
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(k, _)| k != "host")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    raw(addr, presigned.method(), &target, &headers, body).await
}

/// Deterministic pseudo-random bytes.
pub fn bytes_of(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u8
        })
        .collect()
}

pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest as _;
    md5::Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Starts a multipart upload of `key` in [`BUCKET`]; answers its id.
pub async fn create_upload(s3: &aws_sdk_s3::Client, key: &str) -> String {
    s3.create_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned()
}

/// Completes upload `id` of `key` in [`BUCKET`] with `parts`.
pub async fn complete_upload(
    s3: &aws_sdk_s3::Client,
    key: &str,
    id: &str,
    parts: Vec<aws_sdk_s3::types::CompletedPart>,
) {
    s3.complete_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Uploads part `n`; answers it as Complete names it.
pub async fn upload_part(
    s3: &aws_sdk_s3::Client,
    key: &str,
    id: &str,
    n: i32,
    data: Vec<u8>,
) -> aws_sdk_s3::types::CompletedPart {
    let out = s3
        .upload_part()
        .bucket(BUCKET)
        .key(key)
        .upload_id(id)
        .part_number(n)
        .body(aws_sdk_s3::primitives::ByteStream::from(data))
        .send()
        .await
        .unwrap();
    aws_sdk_s3::types::CompletedPart::builder()
        .part_number(n)
        .e_tag(out.e_tag().unwrap())
        .build()
}

/// The object's bytes, read back with GetObject.
pub async fn object_bytes(s3: &aws_sdk_s3::Client, key: &str) -> Vec<u8> {
    let object = s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    object.body.collect().await.unwrap().into_bytes().to_vec()
}

/// The SDK's own HTTP client (hyper), on rustls with ring: the SDK is built without its
/// default client, which would bring aws-lc.
pub fn sdk_http_client() -> aws_sdk_s3::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}
