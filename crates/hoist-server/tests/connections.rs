//! The coordinator's own connections, attacked as an operator would see it: request heads
//! that never finish, bodies that stop, kept-alive sockets left idle, and more half-open
//! sockets than the cap while a real client still needs to be served.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

fn addr_of(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the socket; answers how long that took and what it sent.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> Option<(Duration, Vec<u8>)> {
    let started = Instant::now();
    let mut got = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut got)).await;
    match read {
        Ok(_) => Some((started.elapsed(), got)),
        Err(_) => None,
    }
}

/// Whether the server has closed `stream` (reading gives end of file or an error at once).
async fn closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(Duration::from_millis(20), stream.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    )
}

fn limits(f: impl FnOnce(&mut hoist_net::Limits)) -> hoist_net::Limits {
    let mut limits = hoist_net::Limits::default();
    f(&mut limits);
    limits
}

#[tokio::test]
async fn a_slow_head_is_closed_after_the_header_read_timeout() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle).with_connections(limits(|l| {
        l.header_read_timeout = Duration::from_secs(1);
    })))
    .await;
    let mut slow = TcpStream::connect(addr_of(&srv.base)).await.unwrap();
    slow.write_all(b"POST /v1/uploads HT").await.unwrap();
    let (took, _) = until_closed(&mut slow, Duration::from_secs(5))
        .await
        .expect("closed within 5 s");
    assert!(took >= Duration::from_millis(900), "closed after {took:?}");
    println!("slow head closed after {took:?} (header-read timeout 1 s)");
}

#[tokio::test]
async fn a_body_that_stalls_is_answered_408_request_timeout() {
    let store = start_store().await;
    let srv =
        start_server(config(&store.handle).with_body_stall_timeout(Duration::from_secs(1))).await;
    let mut stream = TcpStream::connect(addr_of(&srv.base)).await.unwrap();
    let head = format!(
        "POST /v1/uploads HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {API_KEY}\r\n\
         content-type: application/json\r\ncontent-length: 1000\r\n\r\n",
        addr_of(&srv.base)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(br#"{"size": 10"#).await.unwrap();
    let started = Instant::now();
    let mut got = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut got))
        .await
        .expect("answered within 5 s")
        .unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "answered after {took:?}"
    );
    let text = String::from_utf8_lossy(&got[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    let body: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap_or("")).unwrap();
    assert_eq!(body["code"], "request_timeout", "{body}");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle).with_connections(limits(|l| {
        l.idle_timeout = Duration::from_millis(500);
    })))
    .await;
    let mut stream = TcpStream::connect(addr_of(&srv.base)).await.unwrap();
    let head = format!(
        "GET /healthz HTTP/1.1\r\nhost: {}\r\n\r\n",
        addr_of(&srv.base)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut got = vec![0u8; 1024];
    let n = stream.read(&mut got).await.unwrap();
    assert!(String::from_utf8_lossy(&got[..n]).starts_with("HTTP/1.1 200"));
    let (took, rest) = until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("closed within 5 s");
    assert!(rest.is_empty());
    assert!(took >= Duration::from_millis(400), "closed after {took:?}");
}

#[tokio::test]
async fn with_the_connections_full_of_half_open_sockets_a_client_is_still_served() {
    const CAP: usize = 20;
    const HELD: usize = 40;
    let store = start_store().await;
    let srv = start_server(config(&store.handle).with_connections(limits(|l| {
        l.max_connections = CAP;
    })))
    .await;
    let mut held = Vec::new();
    for _ in 0..HELD {
        let mut socket = TcpStream::connect(addr_of(&srv.base)).await.unwrap();
        socket.write_all(b"POST /v1/uploads HTT").await.unwrap();
        held.push(socket);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let created = create(&srv.base, json!({"size": 1024, "filename": "a.bin"})).await;
    let took = started.elapsed();
    assert!(created["id"].is_string(), "{created}");

    let mut shed = 0;
    for socket in &mut held {
        if closed(socket).await {
            shed += 1;
        }
    }
    let still_open = HELD - shed;
    assert!(
        still_open < CAP,
        "{still_open} half-open sockets still held with a cap of {CAP}"
    );
    assert!(shed > HELD - CAP, "only {shed} shed");
    println!(
        "cap {CAP}, {HELD} half-open sockets: {still_open} held, {shed} shed; \
         a create was served in {took:?}"
    );
}
