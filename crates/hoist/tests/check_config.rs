//! `hoist serve --check-config` as a service manager runs it: against a real `hoist store` on
//! port 0, a closed port, and data directories that can and cannot be written. It exits
//! without serving.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const HOIST: &str = env!("CARGO_BIN_EXE_hoist");
const KEY: &str = "AKIDCHECKCONFIG";
const SECRET: &str = "check-config-secret-0123456789abcdefgh";

struct Store {
    child: Child,
    url: String,
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn store(data: &Path) -> Store {
    let mut child = Command::new(HOIST)
        .args([
            "store",
            "--listen",
            "127.0.0.1:0",
            "--bucket",
            "checked",
            "--log",
            "warn",
        ])
        .arg("--data")
        .arg(data)
        .args(["--access-key", KEY, "--secret-key", SECRET])
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.rsplit(' ').next().unwrap().to_owned();
    std::thread::spawn(move || lines.for_each(drop));
    Store { child, url }
}

/// `hoist serve --check-config` with `args`, only the given variables, and a deadline: it
/// must not start a server.
fn check(args: &[&str], env: &[(&str, &str)]) -> Output {
    let started = Instant::now();
    let out = Command::new(HOIST)
        .args([
            "serve",
            "--check-config",
            "--listen",
            "127.0.0.1:0",
            "--store-listen",
            "127.0.0.1:0",
        ])
        .args(args)
        .env_clear()
        .env("HOME", "/nonexistent")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "it ended by itself"
    );
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const CREDENTIALS: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", KEY),
    ("AWS_SECRET_ACCESS_KEY", SECRET),
];

#[test]
fn embedded_store_with_a_writable_data_directory_passes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = check(&["--data", data.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("writable"), "{}", text(&out));
    // Nothing of a server was made: no store files, no token secret.
    let left: Vec<_> = std::fs::read_dir(&data).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_data_directory_that_cannot_be_made_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let data = file.join("data");
    let out = check(&["--data", data.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(data.to_str().unwrap()),
        "{}",
        text(&out)
    );
}

#[test]
fn a_reachable_external_store_passes() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir.path().join("store"));
    let data = dir.path().join("serve");
    let args = [
        "--s3-endpoint",
        &store.url,
        "--bucket",
        "checked",
        "--data",
        data.to_str().unwrap(),
    ];
    let out = check(&args, CREDENTIALS);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("ok: the store at {}", store.url)),
        "{}",
        text(&out)
    );
}

#[test]
fn an_unreachable_endpoint_fails_naming_it() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("serve");
    let out = check(
        &["--s3-endpoint", &endpoint, "--data", data.to_str().unwrap()],
        CREDENTIALS,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!("error: the store at {endpoint} ")),
        "{stderr}"
    );
    assert!(!stderr.contains(SECRET));
}

#[test]
fn wrong_credentials_a_missing_bucket_or_none_fail() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir.path().join("store"));
    let data = dir.path().join("serve");
    let data = data.to_str().unwrap();
    let wrong = [
        ("AWS_ACCESS_KEY_ID", KEY),
        ("AWS_SECRET_ACCESS_KEY", "not-the-secret-000000000000"),
    ];
    let out = check(
        &[
            "--s3-endpoint",
            &store.url,
            "--bucket",
            "checked",
            "--data",
            data,
        ],
        &wrong,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("SignatureDoesNotMatch") || text(&out).contains("403"),
        "{}",
        text(&out)
    );
    let out = check(
        &[
            "--s3-endpoint",
            &store.url,
            "--bucket",
            "absent",
            "--data",
            data,
        ],
        CREDENTIALS,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("bucket absent"), "{}", text(&out));
    let out = check(
        &[
            "--s3-endpoint",
            &store.url,
            "--bucket",
            "checked",
            "--data",
            data,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("credentials"), "{}", text(&out));
}

#[test]
fn a_bad_setting_is_a_usage_error() {
    let out = check(&["--part-size", "1KiB"], &[]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let out = check(&["--max-upload-size", "10XB"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("max-upload-size") || text(&out).contains("max_upload_size"),
        "{}",
        text(&out)
    );
}
