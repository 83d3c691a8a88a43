//! POST Object: the browser-based upload, a `multipart/form-data` POST to the bucket carrying
//! a SigV4 POST policy.
//!
//! s3s can parse such a form, but it judges the policy's expiration by the machine's clock
//! (the clock-offset fault does not move it), checks the form's `x-amz-date` for skew where
//! S3 does not, answers condition failures with other codes than S3, and holds the whole file
//! in memory. The front service therefore handles the form itself: it reads the fields that
//! precede the file (bounded), judges them with [`policy::verify`] against the store's clock,
//! and hands s3s the file as a PutObject, header-signed with the store's own time (as
//! [`crate::resign`] does for presigned URLs), so the body streams to disk like any PUT.
//! The file's size comes from `Content-Length` minus the fields before it and the closing
//! boundary; a form whose file is not its last part is refused as malformed.

pub(crate) mod form;
pub(crate) mod policy;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use hoist_core::encoding::{uri_encode, uri_encode_path};
use hoist_core::xml::escape_text;
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body::Frame;
use http_body_util::BodyExt as _;
use s3s::Body;

use crate::errors::{ErrorAnswer, MSG_ENTITY_TOO_LARGE, MSG_ENTITY_TOO_SMALL};
use crate::front::{Front, error_response};
use crate::resign::{Signer, header_signature};
use form::{MAX_PREFIX, Parsed, malformed};

/// The boundary of a POST Object request: a `multipart/form-data` POST to a bucket.
pub(crate) fn form_boundary(req: &Request<Body>, has_key: bool) -> Option<String> {
    if req.method() != Method::POST || has_key {
        return None;
    }
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)?
        .to_str()
        .ok()?;
    form::boundary_of(content_type)
}

/// Reads frames into `buf` until the fields before the file are all there.
async fn read_prefix(
    body: &mut Body,
    buf: &mut BytesMut,
    boundary: &str,
) -> Result<form::Prefix, ErrorAnswer> {
    loop {
        if let Parsed::Ready(prefix) = form::parse_prefix(buf, boundary)? {
            return Ok(prefix);
        }
        if buf.len() > MAX_PREFIX {
            return Err(ErrorAnswer::new(
                StatusCode::BAD_REQUEST,
                "MaxPostPreDataLengthExceeded",
                "Your POST request fields preceding the upload file were too large.",
            )
            .extra("MaxPostPreDataLength", MAX_PREFIX.to_string()));
        }
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buf.extend_from_slice(&data);
                }
            }
            Some(Err(_)) => return Err(malformed()),
            None => {
                return match form::parse_prefix(buf, boundary)? {
                    Parsed::Ready(prefix) => Ok(prefix),
                    Parsed::Incomplete => Err(malformed()),
                };
            }
        }
    }
}

/// The file's bytes: exactly `remaining` of them, released only once the closing boundary
/// that must follow them has been read, so that a form that is not what its length said
/// never becomes an object.
struct FileBody {
    inner: Pin<Box<Body>>,
    /// `\r\n--boundary`: a well-formed part never contains it, so finding it in the file
    /// means more parts follow the file than the length allowed for.
    delimiter: Bytes,
    /// The last bytes of the file so far, to find a delimiter split across chunks.
    carry: Vec<u8>,
    pending: Option<Bytes>,
    remaining: u64,
    closing: Bytes,
    tail: BytesMut,
    held: Option<Bytes>,
    finished: bool,
    malformed: Arc<AtomicBool>,
}

/// Whether `haystack` contains `needle` (searching from each `\r`, rare in most data).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let mut from = 0;
    while let Some(i) = haystack[from..].iter().position(|&b| b == needle[0]) {
        let at = from + i;
        if haystack[at..].starts_with(needle) {
            return true;
        }
        from = at + 1;
    }
    false
}

impl FileBody {
    /// True when `chunk`, after the file bytes seen so far, completes a delimiter.
    fn holds_delimiter(&mut self, chunk: &[u8]) -> bool {
        let keep = self.delimiter.len() - 1;
        let head = &chunk[..chunk.len().min(keep)];
        let mut junction = std::mem::take(&mut self.carry);
        junction.extend_from_slice(head);
        let found = contains(&junction, &self.delimiter) || contains(chunk, &self.delimiter);
        self.carry = if chunk.len() >= keep {
            chunk[chunk.len() - keep..].to_vec()
        } else {
            junction[junction.len().saturating_sub(keep)..].to_vec()
        };
        found
    }

    fn fail(&mut self) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.malformed.store(true, Ordering::SeqCst);
        self.finished = true;
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the form's file part does not end where its length says",
        ))))
    }
}

impl http_body::Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        loop {
            if this.finished {
                return Poll::Ready(None);
            }
            let chunk = match this.pending.take() {
                Some(chunk) => Some(chunk),
                None => match this.inner.as_mut().poll_frame(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                        Ok(data) => Some(data),
                        Err(_) => continue,
                    },
                    Poll::Ready(Some(Err(_))) => return this.fail(),
                    Poll::Ready(None) => None,
                },
            };
            match chunk {
                None if this.remaining > 0 || this.tail != this.closing => return this.fail(),
                None => {
                    this.finished = true;
                    return match this.held.take() {
                        Some(last) if !last.is_empty() => Poll::Ready(Some(Ok(Frame::data(last)))),
                        _ => Poll::Ready(None),
                    };
                }
                Some(mut data) if this.remaining > 0 => {
                    let take = usize::try_from(this.remaining)
                        .unwrap_or(usize::MAX)
                        .min(data.len());
                    let file = data.split_to(take);
                    if this.holds_delimiter(&file) {
                        return this.fail();
                    }
                    this.remaining -= take as u64;
                    if this.remaining > 0 {
                        return Poll::Ready(Some(Ok(Frame::data(file))));
                    }
                    this.held = Some(file);
                    this.pending = (!data.is_empty()).then_some(data);
                }
                Some(data) => {
                    if this.tail.len() + data.len() > this.closing.len() {
                        return this.fail();
                    }
                    this.tail.extend_from_slice(&data);
                }
            }
        }
    }
}

fn too_large(size: u64, max: u64) -> ErrorAnswer {
    ErrorAnswer::new(
        StatusCode::BAD_REQUEST,
        "EntityTooLarge",
        MSG_ENTITY_TOO_LARGE,
    )
    .extra("ProposedSize", size.to_string())
    .extra("MaxSizeAllowed", max.to_string())
}

/// Handles a POST Object request to `bucket`.
pub(crate) async fn handle(
    front: &Front,
    req: Request<Body>,
    bucket: &str,
    boundary: &str,
    request_id: &str,
) -> Response<Body> {
    match accept(front, req, bucket, boundary).await {
        Err(answer) => error_response(answer, request_id, &Method::POST),
        Ok((put, accepted, location, malformed_flag)) => {
            let response = front.call_s3(put, request_id, &Method::PUT).await;
            if malformed_flag.load(Ordering::SeqCst) {
                return error_response(malformed(), request_id, &Method::POST);
            }
            if response.status() != StatusCode::OK {
                return response;
            }
            answer(response, &accepted, bucket, &location)
        }
    }
}

type Prepared = (Request<Body>, policy::Accepted, String, Arc<AtomicBool>);

async fn accept(
    front: &Front,
    req: Request<Body>,
    bucket: &str,
    boundary: &str,
) -> Result<Prepared, ErrorAnswer> {
    if front.storage.bucket_meta(bucket).is_none() {
        return Err(ErrorAnswer::new(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            crate::errors::MSG_NO_SUCH_BUCKET,
        )
        .extra("BucketName", bucket));
    }
    let Some(length) = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    else {
        return Err(ErrorAnswer::new(
            StatusCode::LENGTH_REQUIRED,
            "MissingContentLength",
            "You must provide the Content-Length HTTP header.",
        ));
    };
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut body = req.into_body();
    let mut buf = BytesMut::new();
    let prefix = read_prefix(&mut body, &mut buf, boundary).await?;
    let accepted = policy::verify(
        &prefix.fields,
        &prefix.filename,
        bucket,
        front.storage.clock.now(),
        &front.keys,
    )?;
    let closing = form::closing(boundary);
    let size = length
        .checked_sub((prefix.consumed + closing.len()) as u64)
        .ok_or_else(malformed)?;
    if let Some((min, max)) = accepted.length_range {
        if size > max {
            return Err(too_large(size, max));
        }
        if size < min {
            return Err(ErrorAnswer::new(
                StatusCode::BAD_REQUEST,
                "EntityTooSmall",
                MSG_ENTITY_TOO_SMALL,
            )
            .extra("ProposedSize", size.to_string())
            .extra("MinSizeAllowed", min.to_string()));
        }
    }
    if size > front.storage.max_put_size {
        return Err(too_large(size, front.storage.max_put_size));
    }

    let leftover = buf.split_off(prefix.consumed).freeze();
    let malformed_flag = Arc::new(AtomicBool::new(false));
    let file = FileBody {
        inner: Box::pin(body),
        delimiter: Bytes::from(format!("\r\n--{boundary}")),
        carry: Vec::new(),
        pending: (!leftover.is_empty()).then_some(leftover),
        remaining: size,
        closing,
        tail: BytesMut::new(),
        held: None,
        finished: false,
        malformed: malformed_flag.clone(),
    };
    let path = format!("/{}/{}", uri_encode(bucket), uri_encode_path(&accepted.key));
    // The file goes to s3s path-style; the Location names the object as it was addressed.
    let path_host = front.domain.as_ref().and_then(|d| d.path_style_host(&host));
    let location = match &path_host {
        Some(_) => format!("http://{host}/{}", uri_encode_path(&accepted.key)),
        None => format!("http://{host}{path}"),
    };
    let put = signed_put(
        front,
        &path,
        path_host.as_deref().unwrap_or(&host),
        &accepted,
        size,
        Body::http_body_unsync(file),
    )?;
    Ok((put, accepted, location, malformed_flag))
}

/// A PutObject of the file, header-signed with the store's static key at the machine's time
/// (s3s checks that time; the store's clock has already judged the policy).
fn signed_put(
    front: &Front,
    path: &str,
    host: &str,
    accepted: &policy::Accepted,
    size: u64,
    body: Body,
) -> Result<Request<Body>, ErrorAnswer> {
    let creds = front.keys.static_credentials();
    let uri: Uri = path.parse().map_err(|_| malformed())?;
    let signer = Signer {
        access_key: &creds.access_key_id,
        secret: &creds.secret_access_key,
        region: &front.storage.region,
        service: "s3",
    };
    let now = SystemTime::now().into();
    let mut builder = Request::builder()
        .method(Method::PUT)
        .uri(uri.clone())
        .header(http::header::HOST, host)
        .header(http::header::CONTENT_LENGTH, size);
    for (name, value) in header_signature(&Method::PUT, &uri, host, signer, now) {
        builder = builder.header(name, value);
    }
    for (name, value) in &accepted.headers {
        let value = HeaderValue::from_str(value).map_err(|_| malformed())?;
        builder = builder.header(name.as_str(), value);
    }
    builder.body(body).map_err(|_| malformed())
}

/// S3's answer to a stored POST: 204 by default, 200 or 201 (with a `PostResponse` document)
/// when the form asked, with `ETag` and `Location`.
fn answer(
    put: Response<Body>,
    accepted: &policy::Accepted,
    bucket: &str,
    location: &str,
) -> Response<Body> {
    let etag = put.headers().get(http::header::ETAG).cloned();
    let status = StatusCode::from_u16(accepted.status).unwrap_or(StatusCode::NO_CONTENT);
    let body = if status == StatusCode::CREATED {
        Body::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
            escape_text(location),
            escape_text(bucket),
            escape_text(&accepted.key),
            escape_text(
                etag.as_ref()
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
            ),
        ))
    } else {
        Body::empty()
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if status == StatusCode::CREATED {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
    }
    if let Some(etag) = etag {
        headers.insert(http::header::ETAG, etag);
    }
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(http::header::LOCATION, value);
    }
    for (name, value) in put.headers() {
        if name.as_str().starts_with("x-amz-checksum-") || name.as_str() == "x-amz-version-id" {
            headers.insert(name.clone(), value.clone());
        }
    }
    response
}
