//! `hoist serve --trusted-proxy`: a caller's rate limit is counted under the address a trusted
//! reverse proxy forwarded for, and under the peer's own address otherwise, whatever
//! `X-Forwarded-For` says.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Child, Command, Stdio};

const HOIST: &str = env!("CARGO_BIN_EXE_hoist");

struct Serve {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `hoist serve` allowing each caller one request and then almost nothing.
fn serve(extra: &[&str]) -> Serve {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(HOIST)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store-listen",
            "127.0.0.1:0",
        ])
        .args([
            "--rate-limit",
            "0.001",
            "--rate-burst",
            "1",
            "--log",
            "warn",
        ])
        .args(extra)
        .arg("--data")
        .arg(dir.path())
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("hoist serve printed its address")
            .unwrap();
        if let Some(url) = line.strip_prefix("hoist coordinator listening on http://") {
            break url.trim().to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Serve {
        child,
        addr,
        _dir: dir,
    }
}

/// The status of a rate-limited request sent with `X-Forwarded-For: forwarded`.
fn status(serve: &Serve, forwarded: &str) -> u16 {
    let mut s = std::net::TcpStream::connect(&serve.addr).unwrap();
    write!(
        s,
        "GET /v1/uploads/not-a-token HTTP/1.1\r\nHost: {}\r\nX-Forwarded-For: {forwarded}\r\n\
         Connection: close\r\n\r\n",
        serve.addr
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Sends requests for one caller until it is limited; how many got through.
fn until_limited(serve: &Serve, forwarded: &str) -> usize {
    (0..10)
        .position(|_| status(serve, forwarded) == 429)
        .expect("the caller was limited")
}

#[test]
fn forwarded_callers_are_told_apart_behind_a_trusted_proxy() {
    let serve = serve(&["--trusted-proxy", "127.0.0.0/8"]);
    let first = until_limited(&serve, "198.51.100.1");
    assert!(first >= 1);
    // Another caller behind the same proxy has a limit of its own.
    assert_ne!(status(&serve, "198.51.100.2"), 429);
    // A caller's own claim left of the proxy's entry changes nothing.
    assert_eq!(status(&serve, "203.0.113.7, 198.51.100.1"), 429);
}

#[test]
fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let serve = serve(&["--trusted-proxy", "10.0.0.0/8"]);
    until_limited(&serve, "198.51.100.1");
    // The peer (127.0.0.1) is no trusted proxy: every request is its own, and limited.
    assert_eq!(status(&serve, "198.51.100.2"), 429);
    assert_eq!(status(&serve, "198.51.100.3"), 429);
}

#[test]
fn a_proxy_that_is_no_address_is_refused() {
    let out = Command::new(HOIST)
        .args([
            "serve",
            "--check-config",
            "--trusted-proxy",
            "proxy.example",
        ])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("trusted-proxy") && stderr.contains("proxy.example"),
        "{stderr}"
    );
}
