//! No secret reaches a message whole: failing runs of every command, with debug logs, against a
//! real `hoist store` and `hoist serve`, and every byte they and the servers wrote is scanned
//! for the secrets they held (the store's secret key, a wrong one, the API key, upload tokens,
//! a session token, any whole SigV4 signature).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const HOIST: &str = env!("CARGO_BIN_EXE_hoist");
const ACCESS_KEY: &str = "AKIDSECRETSTEST";
const STORE_SECRET: &str = "store-secret-Zq8wK2mV9xR4tL7pJ3nB";
const WRONG_SECRET: &str = "wrong-secret-Hc5yN1uE6oA0sD8fG2kM";
const SESSION_TOKEN: &str = "FwoGZXIvYXdzEJr//////////wEaDHqa0AP1/Eu3iSFQdSKCAWJ0bRyn";
const API_KEY: &str = "api-key-Tg4hU7jI0kO3lP6zX9cV";
const TOKEN_SECRET: &str = "token-secret-Wb2nQ5eR8tY1uI4oP7aS";

/// A server process whose standard error goes to a file, stopped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `hoist <args>` and waits for the stdout line starting with `listening`.
fn server(args: &[&str], env: &[(&str, &str)], log: PathBuf, listening: &str) -> Server {
    let mut child = Command::new(HOIST)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("the server printed its address")
            .unwrap();
        if let Some(rest) = line.strip_prefix(listening) {
            break rest.trim().to_owned();
        }
    };
    // Keep reading stdout, so the server never blocks on it.
    std::thread::spawn(move || lines.for_each(drop));
    Server { child, url }
}

/// `hoist <args>` with debug logs and only the given variables.
fn hoist(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(HOIST);
    cmd.args(args)
        .env_clear()
        .env("RUST_LOG", "debug")
        .env("HOME", "/nonexistent")
        .envs(env.iter().copied());
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Sets the store's faults through its admin route.
fn faults(store: &str, json: &str) {
    let addr = store.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "PUT /_hoist/faults HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {STORE_SECRET}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// The one journal in `dir`, once the upload has written it.
fn journal(dir: &Path) -> PathBuf {
    let start = Instant::now();
    loop {
        if let Some(p) = std::fs::read_dir(dir).ok().and_then(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "json"))
        }) {
            return p;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no journal");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `text` holds a whole SigV4 signature (`Signature=` and 64 hex digits).
fn whole_signature(text: &str) -> Option<&str> {
    let lower = text.to_ascii_lowercase();
    lower.match_indices("signature=").find_map(|(i, m)| {
        let value = &text[i + m.len()..];
        let hex = value.chars().take_while(char::is_ascii_hexdigit).count();
        (hex >= 64).then(|| &text[i..i + m.len() + 64])
    })
}

#[test]
fn failing_commands_never_show_a_secret_whole() {
    let dir = std::env::temp_dir().join(format!("hoist-secrets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("state")).unwrap();
    let data = dir.join("store");
    let data = data.to_str().unwrap();
    let store = server(
        &[
            "store",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data,
            "--bucket",
            "uploads",
        ],
        &[
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", STORE_SECRET),
            ("HOIST_LOG", "debug"),
        ],
        dir.join("store.log"),
        "hoist store listening on",
    );
    let serve_data = dir.join("serve");
    let coordinator = server(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--s3-endpoint",
            &store.url,
            "--bucket",
            "uploads",
            "--data",
            serve_data.to_str().unwrap(),
            "--api-key",
            API_KEY,
            "--token-secret",
            TOKEN_SECRET,
            "--single-put-threshold",
            "5MiB",
            "--part-size",
            "5MiB",
            "--log",
            "debug",
        ],
        &[
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", STORE_SECRET),
        ],
        dir.join("serve.log"),
        "hoist coordinator listening on",
    );
    let file = dir.join("twenty.bin");
    std::fs::write(&file, vec![5u8; 20 << 20]).unwrap();
    let file = file.to_str().unwrap();
    let state = dir.join("state");
    let state_dir = state.to_str().unwrap();
    let mut outputs = Vec::new();
    let through = |extra: &[&str]| {
        let mut args = vec!["upload", file, "--server", &coordinator.url, "--json"];
        args.extend(["--concurrency", "1", "--state-dir", state_dir]);
        args.extend(extra);
        hoist(&args, &[("HOIST_TOKEN", API_KEY)])
    };

    // An upload through the coordinator, stopped once it has a journal (and so a token).
    faults(&store.url, r#"{"latency_ms":300}"#);
    let mut first = through(&[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let journal_path = journal(&state.join("uploads"));
    std::thread::sleep(Duration::from_millis(200));
    first.kill().unwrap();
    first.wait().unwrap();
    let original = std::fs::read_to_string(&journal_path).unwrap();
    let j: serde_json::Value = serde_json::from_str(&original).unwrap();
    let token = j["upload_id"].as_str().unwrap().to_owned();
    assert!(token.len() > 64, "an upload token: {token}");

    // Resumed with a tampered token: the coordinator refuses it.
    let mut tampered = token.clone();
    let mid = tampered.len() / 2;
    let flipped = if &tampered[mid..=mid] == "A" {
        "B"
    } else {
        "A"
    };
    tampered.replace_range(mid..=mid, flipped);
    std::fs::write(&journal_path, original.replace(&token, &tampered)).unwrap();
    // Strict: a token the coordinator refuses is nothing to resume, and the refusal is shown.
    let out = through(&["--resume=strict"]).output().unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    outputs.push(("tampered token", text(&out)));

    // Resumed with the real token, and aborted in the store while its parts are going.
    std::fs::write(&journal_path, &original).unwrap();
    let resumed = through(&["--resume"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bucket = hoist_doctor::live::Target {
        endpoint: store.url.clone(),
        region: "us-east-1".into(),
        bucket: "uploads".into(),
        credentials: hoist_core::presign::Credentials::new(ACCESS_KEY, STORE_SECRET),
    }
    .bucket()
    .unwrap();
    runtime.block_on(async {
        for u in bucket.list_uploads(None).await.unwrap() {
            bucket.abort(&u.key, &u.upload_id).await.unwrap();
        }
    });
    let out = resumed.wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    outputs.push(("aborted mid-way", text(&out)));
    faults(&store.url, r#"{"latency_ms":0}"#);

    // Direct, with a wrong secret key (and a session token the store does not know). A small
    // file: the store refuses a PUT before reading its body and closes the connection, and a
    // client still writing 20 MiB may meet the closed socket before it reads the 403.
    let small = dir.join("small.bin");
    std::fs::write(&small, vec![7u8; 64 * 1024]).unwrap();
    let file = small.to_str().unwrap();
    let wrong = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", WRONG_SECRET),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN),
    ];
    let out = hoist(
        &[
            "upload",
            file,
            "s3://uploads/direct.bin",
            "--endpoint",
            &store.url,
            "--json",
        ],
        &wrong,
    )
    .args(["--state-dir", state_dir, "--retries", "2"])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(4), "auth: {}", text(&out));
    outputs.push(("direct, wrong secret", text(&out)));

    // The doctor and gc against a wrong endpoint (the coordinator) and a closed port, with
    // good and wrong keys.
    let right = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", STORE_SECRET),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN),
    ];
    for endpoint in [
        coordinator.url.as_str(),
        "http://127.0.0.1:9",
        store.url.as_str(),
    ] {
        for env in [&right, &wrong] {
            for command in [
                &["doctor", "--json"][..],
                &["doctor"],
                &["gc", "--older-than", "0s"],
            ] {
                let out = hoist(command, env)
                    .args(["--endpoint", endpoint, "--bucket", "uploads"])
                    .output()
                    .unwrap();
                outputs.push(("doctor or gc", text(&out)));
            }
        }
    }

    // presign's refusals.
    let out = hoist(
        &[
            "presign",
            "--bucket",
            "uploads",
            "--key",
            "k",
            "--expires",
            "999999999",
        ],
        &right,
    )
    .args(["--endpoint", &store.url])
    .output()
    .unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    outputs.push(("presign refused", text(&out)));

    drop(coordinator);
    drop(store);
    for log in ["store.log", "serve.log"] {
        outputs.push((log, std::fs::read_to_string(dir.join(log)).unwrap()));
    }
    assert!(
        outputs.iter().any(|(_, t)| t.contains("DEBUG")),
        "the logs were on"
    );
    // Each request was a log line in both servers, scanned below with the rest; the
    // coordinator's id for a request reached the store's lines for the calls it made.
    let log = |name: &str| &outputs.iter().find(|(n, _)| *n == name).unwrap().1;
    let ids = |text: &str, target: &str| -> Vec<String> {
        text.lines()
            .filter(|line| line.contains(target))
            .filter_map(|line| line.split("request_id=").nth(1))
            .map(|id| id.trim_matches('"').to_owned())
            .collect()
    };
    let coordinator_ids = ids(log("serve.log"), "hoist_server::request");
    let store_ids = ids(log("store.log"), "hoist_store::request");
    assert!(
        log("serve.log").contains("route=\"/v1/uploads/{id}/parts\""),
        "{}",
        log("serve.log")
    );
    assert!(
        coordinator_ids.iter().any(|id| store_ids.contains(id)),
        "no request id of the coordinator's in the store's lines:\n{coordinator_ids:?}\n{store_ids:?}"
    );
    for (scenario, text) in &outputs {
        for secret in [
            STORE_SECRET,
            WRONG_SECRET,
            API_KEY,
            SESSION_TOKEN,
            TOKEN_SECRET,
            &token,
            &tampered,
        ] {
            assert!(
                !text.contains(secret),
                "{scenario} showed {secret} whole:\n{text}"
            );
        }
        assert_eq!(whole_signature(text), None, "{scenario}:\n{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
