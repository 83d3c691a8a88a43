//! What a client may not make the store hold or wait for, on real sockets: XML bodies over
//! the cap, PUTs without a length, slow heads, stalled bodies, idle and surplus connections.
//! Expected answers are S3's (API reference, "Error responses").

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream;
use common::*;
use hoist_core::presign::{Credentials as CoreCredentials, Endpoint, PresignRequest, Presigner};
use hoist_core::time::Timestamp;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const MIB: usize = 1024 * 1024;

fn presigning() -> PresigningConfig {
    PresigningConfig::expires_in(Duration::from_secs(300)).unwrap()
}

/// A presigned request, from the AWS SDK or from hoist-core (for what the SDK cannot presign).
struct Signed {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
}

impl From<PresignedRequest> for Signed {
    fn from(p: PresignedRequest) -> Self {
        Self {
            method: p.method().to_owned(),
            url: p.uri().to_owned(),
            headers: p
                .headers()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }
}

fn core_signed(store: &TestStore, req: &PresignRequest<'_>) -> Signed {
    let signer = Presigner::new(
        CoreCredentials::new(AK, SK),
        Endpoint::parse(&store.handle.endpoint(), "us-east-1").unwrap(),
    );
    let url = signer
        .presign(req, Timestamp::from(std::time::SystemTime::now()))
        .unwrap();
    Signed {
        method: url.method.as_str().to_owned(),
        url: url.url,
        headers: url.headers,
    }
}

/// The request head of a presigned request, with `extra` header lines, no length of its own.
fn head_of(presigned: &Signed, addr: SocketAddr, extra: &[&str]) -> String {
    let uri: http::Uri = presigned.url.parse().unwrap();
    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: {addr}\r\n",
        presigned.method,
        uri.path_and_query().unwrap()
    );
    for (k, v) in &presigned.headers {
        if k != "host" {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head
}

/// Sends `head` then `body` while reading the answer, as a client that keeps writing after
/// the store has answered must; the write may fail once the store closes.
async fn exchange(addr: SocketAddr, head: String, body: Vec<u8>) -> RawResponse {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await?;
        for chunk in body.chunks(64 * 1024) {
            write.write_all(chunk).await?;
        }
        write.flush().await?;
        Ok::<_, std::io::Error>(write)
    });
    let mut answer = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(30);
    // Read until the answer's head and body are in (or the store closes).
    loop {
        let n = tokio::time::timeout_at(deadline.into(), read.read(&mut buf))
            .await
            .expect("an answer within 30 s")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if let Some(split) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            let parsed = parse_response(&answer, false);
            let want = parsed
                .header("content-length")
                .and_then(|v| v.parse::<usize>().ok());
            if want.is_some_and(|len| answer.len() >= split + 4 + len) {
                break;
            }
        }
    }
    writer.abort();
    parse_response(&answer, false)
}

/// A chunked transfer encoding of `body`, in 1 MiB chunks.
fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in body.chunks(MIB) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn huge_complete_body(size: usize) -> Vec<u8> {
    let part =
        "<Part><PartNumber>1</PartNumber><ETag>\"0123456789abcdef0123456789abcdef\"</ETag></Part>";
    let mut xml = String::from("<CompleteMultipartUpload>");
    while xml.len() < size {
        xml.push_str(part);
    }
    xml.push_str("</CompleteMultipartUpload>");
    xml.into_bytes()
}

#[tokio::test]
async fn xml_bodies_over_the_cap_are_max_message_length_exceeded_and_lose_nothing() {
    let store = TestStore::start().await;
    let s3 = store.client();
    let id = create_upload(&s3, "big-xml").await;
    let part = upload_part(&s3, "big-xml", &id, 1, bytes_of(1000, 1)).await;
    let complete = core_signed(
        &store,
        &PresignRequest::complete_multipart_upload(BUCKET, "big-xml", id.as_str()),
    );
    let body = huge_complete_body(25 * MIB);

    // Declared 25 MiB: refused before it is read.
    let length = format!("content-length: {}", body.len());
    let head = head_of(&complete, store.addr(), &[&length]);
    let answer = exchange(store.addr(), head, body.clone()).await;
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert_eq!(answer.code().as_deref(), Some("MaxMessageLengthExceeded"));
    assert_eq!(
        answer.message().as_deref(),
        Some("Your request was too big.")
    );

    // Chunked, no length: cut off at the cap as it streams.
    let head = head_of(&complete, store.addr(), &["transfer-encoding: chunked"]);
    let answer = exchange(store.addr(), head, chunked(&body)).await;
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert_eq!(answer.code().as_deref(), Some("MaxMessageLengthExceeded"));

    // A small malformed document is MalformedXML.
    let junk = b"<CompleteMultipartUpload><Part>".to_vec();
    let length = format!("content-length: {}", junk.len());
    let answer = exchange(
        store.addr(),
        head_of(&complete, store.addr(), &[&length]),
        junk,
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert_eq!(answer.code().as_deref(), Some("MalformedXML"));

    // Same for another XML operation (PutBucketCors), chunked.
    let delete = core_signed(&store, &PresignRequest::put_bucket_cors(BUCKET));
    let head = head_of(&delete, store.addr(), &["transfer-encoding: chunked"]);
    let answer = exchange(store.addr(), head, chunked(&body)).await;
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert_eq!(answer.code().as_deref(), Some("MaxMessageLengthExceeded"));

    // The upload is intact and still completes.
    let parts = s3
        .list_parts()
        .bucket(BUCKET)
        .key("big-xml")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(parts.parts().len(), 1);
    s3.complete_multipart_upload()
        .bucket(BUCKET)
        .key("big-xml")
        .upload_id(&id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(part)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn put_without_a_length_is_411_missing_content_length_and_stores_nothing() {
    let store = TestStore::start().await;
    let s3 = store.client();
    let put: Signed = s3
        .put_object()
        .bucket(BUCKET)
        .key("no-length")
        .presigned(presigning())
        .await
        .unwrap()
        .into();
    let answer = exchange(store.addr(), head_of(&put, store.addr(), &[]), Vec::new()).await;
    assert_eq!(answer.status, 411, "{}", answer.text());
    assert_eq!(answer.code().as_deref(), Some("MissingContentLength"));
    assert_eq!(
        answer.message().as_deref(),
        Some("You must provide the Content-Length HTTP header.")
    );
    let head = s3
        .head_object()
        .bucket(BUCKET)
        .key("no-length")
        .send()
        .await;
    assert_eq!(raw_error(&head.unwrap_err()).0, 404);

    let id = create_upload(&s3, "no-length-part").await;
    let part: Signed = s3
        .upload_part()
        .bucket(BUCKET)
        .key("no-length-part")
        .upload_id(&id)
        .part_number(1)
        .presigned(presigning())
        .await
        .unwrap()
        .into();
    let answer = exchange(store.addr(), head_of(&part, store.addr(), &[]), Vec::new()).await;
    assert_eq!(answer.status, 411, "{}", answer.text());
    assert_eq!(answer.code().as_deref(), Some("MissingContentLength"));
    let parts = s3
        .list_parts()
        .bucket(BUCKET)
        .key("no-length-part")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert!(parts.parts().is_empty());

    // An empty object with its length declared is still an object.
    let answer = exchange(
        store.addr(),
        head_of(&put, store.addr(), &["content-length: 0"]),
        Vec::new(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
}

/// Waits for the store to close `stream`; answers how long that took and what it sent.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> Option<(Duration, Vec<u8>)> {
    let started = Instant::now();
    let mut got = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut got))
        .await
        .ok()
        .map(|_| (started.elapsed(), got))
}

#[tokio::test]
async fn a_slow_head_is_closed_after_the_header_read_timeout() {
    let store = TestStore::start_with(|c| c.with_header_read_timeout(Duration::from_secs(1))).await;
    let mut slow = TcpStream::connect(store.addr()).await.unwrap();
    slow.write_all(b"PUT /test-bucket/slow HT").await.unwrap();
    let (took, _) = until_closed(&mut slow, Duration::from_secs(5))
        .await
        .expect("closed within 5 s");
    assert!(took >= Duration::from_millis(900), "closed after {took:?}");
    println!("slow head closed after {took:?} (header-read timeout 1 s)");
}

#[tokio::test]
async fn a_body_that_stalls_is_dropped_with_request_timeout() {
    let store = TestStore::start_with(|c| c.with_body_stall_timeout(Duration::from_secs(1))).await;
    let s3 = store.client();
    let put: Signed = s3
        .put_object()
        .bucket(BUCKET)
        .key("stalled")
        .presigned(presigning())
        .await
        .unwrap()
        .into();
    let mut stream = TcpStream::connect(store.addr()).await.unwrap();
    let head = head_of(&put, store.addr(), &["content-length: 100000"]);
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[b'x'; 1000]).await.unwrap();
    let (took, got) = until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("dropped within 5 s");
    assert!(took >= Duration::from_millis(900), "dropped after {took:?}");
    let answer = parse_response(&got, false);
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert_eq!(answer.code().as_deref(), Some("RequestTimeout"));
    let head = s3.head_object().bucket(BUCKET).key("stalled").send().await;
    assert_eq!(raw_error(&head.unwrap_err()).0, 404);
}

/// A connection with a small receive buffer, so that a client that stops reading stops the
/// store's writes soon.
async fn small_window(addr: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    socket.connect(addr).await.unwrap()
}

#[tokio::test]
async fn a_download_the_client_stops_reading_is_closed_after_the_stall_timeout() {
    const SIZE: usize = 32 * MIB;
    let store = TestStore::start_with(|c| c.with_body_stall_timeout(Duration::from_secs(1))).await;
    let s3 = store.client();
    s3.put_object()
        .bucket(BUCKET)
        .key("big")
        .body(ByteStream::from(bytes_of(SIZE, 5)))
        .send()
        .await
        .unwrap();
    let get: Signed = s3
        .get_object()
        .bucket(BUCKET)
        .key("big")
        .presigned(presigning())
        .await
        .unwrap()
        .into();
    let mut stream = small_window(store.addr()).await;
    stream
        .write_all(head_of(&get, store.addr(), &[]).as_bytes())
        .await
        .unwrap();
    // Read nothing for three times the stall timeout: the store gives up on the answer and
    // closes the connection. What the sockets held still arrives, then the end.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, got) = until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("closed, not kept open with the answer half sent");
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        &got[..got.len().min(64)]
    );
    assert!(
        got.len() < SIZE,
        "the whole answer was sent: {} bytes",
        got.len()
    );

    // A client that reads slowly but steadily, never a stall timeout apart, gets every byte.
    let mut stream = small_window(store.addr()).await;
    let get_small: Signed = s3
        .get_object()
        .bucket(BUCKET)
        .key("big")
        .range("bytes=0-524287")
        .presigned(presigning())
        .await
        .unwrap()
        .into();
    stream
        .write_all(head_of(&get_small, store.addr(), &["connection: close"]).as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("the store kept sending")
            .unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    let answer = parse_response(&got, false);
    assert_eq!(answer.status, 206, "{}", answer.text());
    assert_eq!(answer.body, bytes_of(SIZE, 5)[..MIB / 2]);
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let store = TestStore::start_with(|c| c.with_idle_timeout(Duration::from_millis(500))).await;
    let s3 = store.client();
    let get: Signed = s3
        .get_object()
        .bucket(BUCKET)
        .key("missing")
        .presigned(presigning())
        .await
        .unwrap()
        .into();
    let mut stream = TcpStream::connect(store.addr()).await.unwrap();
    stream
        .write_all(head_of(&get, store.addr(), &[]).as_bytes())
        .await
        .unwrap();
    let (took, got) = until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("closed within 5 s");
    assert_eq!(parse_response(&got, false).status, 404);
    assert!(took >= Duration::from_millis(400), "closed after {took:?}");
}

#[tokio::test]
async fn with_the_connections_full_of_half_open_sockets_a_client_is_still_served() {
    const CAP: usize = 20;
    const HELD: usize = 40;
    let store = TestStore::start_with(|c| c.with_max_connections(CAP)).await;
    let mut held = Vec::new();
    for _ in 0..HELD {
        let mut socket = TcpStream::connect(store.addr()).await.unwrap();
        socket.write_all(b"GET /test-bucket/k HTT").await.unwrap();
        held.push(socket);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let open_under_attack = store.handle.open_connections();
    assert!(open_under_attack <= CAP, "{open_under_attack} open");

    let s3 = store.client();
    let started = Instant::now();
    s3.put_object()
        .bucket(BUCKET)
        .key("served")
        .body(ByteStream::from(bytes_of(64 * 1024, 7)))
        .send()
        .await
        .unwrap();
    assert_eq!(object_bytes(&s3, "served").await.len(), 64 * 1024);
    let served_in = started.elapsed();

    let mut closed = 0;
    for socket in &mut held {
        let mut buf = [0u8; 16];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(20), socket.read(&mut buf)).await
        {
            closed += 1;
        }
    }
    assert!(
        closed >= HELD - CAP,
        "only {closed} of {HELD} half-open sockets were shed"
    );
    println!(
        "cap {CAP}: {HELD} half-open sockets, {open_under_attack} held by the store, \
         {closed} shed; PUT+GET served in {served_in:?}"
    );
}
