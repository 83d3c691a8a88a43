//! HTTPS from the accept loop: a client that trusts the certificate's CA gets answers, a
//! plain-HTTP client gets none, a stalled handshake is closed within the header-read timeout,
//! and a certificate replaced on disk is served to new connections (on a change of its files
//! and on SIGHUP) while a broken replacement leaves the previous one served. Certificates are
//! made by the `openssl` command.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hoist_net::{Limits, Table, Tls};
use http::{Request, Response};
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_util::sync::CancellationToken;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (Debian: apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA in `dir` (ca.pem, ca.key) and a leaf for localhost and 127.0.0.1 signed by it,
/// written to `name.pem`/`name.key`.
fn leaf(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    if !dir.join("ca.pem").exists() {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=hoist test CA",
            ],
        );
        std::fs::write(
            dir.join("ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
    }
    let (key, csr, pem) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            "ext",
        ],
    );
    (dir.join(pem), dir.join(key))
}

fn first_cert(path: &Path) -> Vec<u8> {
    let pem = std::fs::read(path).unwrap();
    CertificateDer::pem_slice_iter(&pem)
        .next()
        .unwrap()
        .unwrap()
        .as_ref()
        .to_vec()
}

fn connector(dir: &Path) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(first_cert(&dir.join("ca.pem"))))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

struct Server {
    addr: std::net::SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(tls: Arc<Tls>, limits: Limits) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let table = Table::for_limits(&limits);
        let shutdown = stop.clone();
        let task = tokio::spawn(async move {
            let service =
                hyper::service::service_fn(|_req: Request<hyper::body::Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hello"))))
                });
            hoist_net::serve(
                listener,
                limits,
                &table,
                Some(tls),
                |stream| stream,
                move |_peer| service,
                async move { shutdown.cancelled().await },
            )
            .await;
        });
        Server { addr, stop, task }
    }

    /// One GET over a new TLS connection: the answer's body and the certificate served.
    async fn get(&self, connector: &TlsConnector) -> std::io::Result<(String, Vec<u8>)> {
        let tcp = TcpStream::connect(self.addr).await?;
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await?;
        let served = tls.get_ref().1.peer_certificates().unwrap()[0]
            .as_ref()
            .to_vec();
        tls.write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
            .await?;
        let mut answer = String::new();
        tls.read_to_string(&mut answer).await?;
        Ok((answer, served))
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap();
    }
}

#[tokio::test]
async fn https_is_served_and_plain_http_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = leaf(dir.path(), "a");
    let server = Server::start(Tls::load(&cert, &key).unwrap(), Limits::default()).await;
    let (answer, served) = server.get(&connector(dir.path())).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("hello"), "{answer}");
    assert_eq!(served, first_cert(&cert));

    // A plain HTTP request is not a TLS handshake: the connection ends without an answer.
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the connection should be closed");
    assert!(!String::from_utf8_lossy(&got).contains("hello"));
    server.stop().await;
}

#[tokio::test]
async fn a_stalled_handshake_is_closed_within_the_header_read_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = leaf(dir.path(), "a");
    let limits = Limits {
        header_read_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let server = Server::start(Tls::load(&cert, &key).unwrap(), limits).await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut buf = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "a client that never starts its handshake must be closed: {closed:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_certificate_replaced_on_disk_is_served_to_new_connections() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_a, key_a) = leaf(dir.path(), "a");
    let (cert_b, key_b) = leaf(dir.path(), "b");
    let (cert, key) = (dir.path().join("live.pem"), dir.path().join("live.key"));
    std::fs::copy(&cert_a, &cert).unwrap();
    std::fs::copy(&key_a, &key).unwrap();
    let tls = Tls::load_checking_every(&cert, &key, Duration::from_millis(50)).unwrap();
    let server = Server::start(tls, Limits::default()).await;
    let connector = connector(dir.path());
    assert_eq!(server.get(&connector).await.unwrap().1, first_cert(&cert_a));

    // A broken key (a half-written file) keeps the certificate served so far.
    std::fs::write(&key, b"-----BEGIN PRIVATE KEY-----\nbroken\n").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (answer, served) = server.get(&connector).await.unwrap();
    assert!(answer.ends_with("hello"));
    assert_eq!(served, first_cert(&cert_a));

    std::fs::copy(&cert_b, &cert).unwrap();
    std::fs::copy(&key_b, &key).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (answer, served) = server.get(&connector).await.unwrap();
        assert!(answer.ends_with("hello"));
        if served == first_cert(&cert_b) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

#[cfg(unix)]
#[tokio::test]
async fn sighup_reads_the_certificate_again() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_a, key_a) = leaf(dir.path(), "a");
    let (cert_b, key_b) = leaf(dir.path(), "b");
    let (cert, key) = (dir.path().join("live.pem"), dir.path().join("live.key"));
    std::fs::copy(&cert_a, &cert).unwrap();
    std::fs::copy(&key_a, &key).unwrap();
    // Files are not looked at for an hour: only the signal can reload them.
    let tls = Tls::load_checking_every(&cert, &key, Duration::from_secs(3600)).unwrap();
    let server = Server::start(tls, Limits::default()).await;
    let connector = connector(dir.path());
    // The watcher installs its handler as the server starts; let it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    std::fs::copy(&cert_b, &cert).unwrap();
    std::fs::copy(&key_b, &key).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        server.get(&connector).await.unwrap().1,
        first_cert(&cert_a),
        "no reload before the signal"
    );
    let status = Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while server.get(&connector).await.unwrap().1 != first_cert(&cert_b) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "SIGHUP did not reload"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

#[test]
fn missing_and_mismatched_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_a, _key_a) = leaf(dir.path(), "a");
    let (_cert_b, key_b) = leaf(dir.path(), "b");
    let err = Tls::load(dir.path().join("none.pem"), &key_b).unwrap_err();
    assert!(err.to_string().contains("none.pem"), "{err}");
    let err = Tls::load(&key_b, &key_b).unwrap_err();
    assert!(err.to_string().contains("no PEM certificate"), "{err}");
    let err = Tls::load(&cert_a, &cert_a).unwrap_err();
    assert!(err.to_string().contains("no PEM private key"), "{err}");
    // The key of another certificate.
    let err = Tls::load(&cert_a, &key_b).unwrap_err();
    assert!(err.to_string().contains("cannot be served"), "{err}");
}
