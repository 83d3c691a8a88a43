//! Every command ends quietly when the reader of its standard output goes away
//! (`hoist upload --json | head -1`): status 141 as SIGPIPE would give, and no panic.

use std::io::{BufRead as _, BufReader};
use std::os::unix::process::ExitStatusExt as _;
use std::process::{Command, ExitStatus, Stdio};

const HOIST: &str = env!("CARGO_BIN_EXE_hoist");

/// 141, or killed by SIGPIPE: what a shell shows for a writer whose reader left.
fn ended_by_the_pipe(status: ExitStatus) -> bool {
    status.code() == Some(141) || status.signal() == Some(13)
}

/// Runs `cmd` with a standard output whose read end is already closed.
fn with_stdout_closed(cmd: &mut Command) -> (ExitStatus, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = cmd.stdout(writer).stderr(Stdio::piped()).output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn upload_json_into_head_one() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempdir("upload");
    let store = runtime
        .block_on(hoist_store::Store::spawn(
            hoist_store::StoreConfig::new(dir.join("store"))
                .with_credentials(hoist_store::Credentials::new("AKIDPIPE", "pipe-secret"))
                .with_bucket("uploads"),
            "127.0.0.1:0",
        ))
        .unwrap();
    // Every request waits, so events are still being written after the reader has gone.
    store.faults().update(|f| f.latency_ms = 300).unwrap();
    let file = dir.join("twelve.bin");
    std::fs::write(&file, vec![7u8; 12 << 20]).unwrap();

    let mut child = Command::new(HOIST)
        .args([
            "upload",
            "--json",
            "--concurrency",
            "1",
            "--part-size",
            "5MiB",
        ])
        .arg(&file)
        .args(["s3://uploads/twelve.bin", "--endpoint", &store.endpoint()])
        .args(["--state-dir"])
        .arg(dir.join("state"))
        .env("AWS_ACCESS_KEY_ID", "AKIDPIPE")
        .env("AWS_SECRET_ACCESS_KEY", "pipe-secret")
        .env_remove("AWS_SESSION_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // `head -1` has its line and leaves: the reader is dropped here.
    assert!(first.contains("\"event\""), "{first}");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(ended_by_the_pipe(out.status), "{:?}: {stderr}", out.status);
    runtime.block_on(store.shutdown()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn presign_and_doctor_explain_into_a_closed_pipe() {
    let har = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../hoist-doctor/tests/fixtures/chrome-cors-preflight.har");
    let mut presign = Command::new(HOIST);
    presign
        .args([
            "presign",
            "--endpoint",
            "http://127.0.0.1:9",
            "--bucket",
            "b",
        ])
        .args([
            "--key",
            "k",
            "--access-key",
            "AKIDPIPE",
            "--secret-key",
            "pipe",
        ])
        .env_remove("AWS_SESSION_TOKEN");
    let mut explain = Command::new(HOIST);
    explain.args(["doctor", "explain"]).arg(&har);
    let mut explain_json = Command::new(HOIST);
    explain_json.args(["doctor", "explain", "--json"]).arg(&har);
    let commands = [presign, explain, explain_json];
    for mut cmd in commands {
        let shown = format!("{cmd:?}");
        let (status, stderr) = with_stdout_closed(&mut cmd);
        assert!(!stderr.contains("panicked"), "{shown}: {stderr}");
        assert!(ended_by_the_pipe(status), "{shown}: {status:?} {stderr}");
    }
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hoist-pipe-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
