//! `hoist doctor`, `hoist doctor explain` and `hoist gc` as a user runs them: the real binary
//! against an embedded store on port 0, exit codes and JSON checked.

use std::path::PathBuf;
use std::process::{Command, Output};

const HOIST: &str = env!("CARGO_BIN_EXE_hoist");

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../hoist-doctor/tests/fixtures")
        .join(name)
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn explain_names_a_har_and_says_unknown_plainly() {
    let out = Command::new(HOIST)
        .args(["doctor", "explain", "--json"])
        .arg(fixture("chrome-cors-preflight.har"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["cause"], "cors-preflight");

    let out = Command::new(HOIST)
        .args(["doctor", "explain"])
        .arg(fixture("chrome-connection-reset.har"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "only unknown causes: exit 1");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("cause: unknown") && text.contains("net::ERR_CONNECTION_RESET"),
        "{text}"
    );
}

#[test]
fn doctor_and_gc_against_an_embedded_store() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = std::env::temp_dir().join(format!("hoist-cli-doctor-{}", std::process::id()));
    let store = runtime
        .block_on(hoist_store::Store::spawn(
            hoist_store::StoreConfig::new(&dir)
                .with_credentials(hoist_store::Credentials::new("AKIDCLI", "cli-secret"))
                .with_bucket("uploads"),
            "127.0.0.1:0",
        ))
        .unwrap();
    let run = |args: &[&str]| {
        Command::new(HOIST)
            .args(args)
            .args(["--endpoint", &store.endpoint(), "--bucket", "uploads"])
            .env_remove("HOIST_CONFIG")
            .env("AWS_ACCESS_KEY_ID", "AKIDCLI")
            .env("AWS_SECRET_ACCESS_KEY", "cli-secret")
            .output()
            .unwrap()
    };
    let origin = "https://app.example.com";

    let before = run(&["doctor", "--json", "--origin", origin]);
    assert_eq!(
        before.status.code(),
        Some(2),
        "no CORS for the origin: fail"
    );
    let report = json(&before);
    assert_eq!(report["result"], "fail");
    let cors = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "cors")
        .unwrap();
    assert_eq!(cors["cause"], "cors-preflight");

    let fixed = run(&["doctor", "--json", "--origin", origin, "--fix"]);
    assert_eq!(
        fixed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fixed.stdout)
    );
    assert_eq!(json(&fixed)["changes"].as_array().unwrap().len(), 2);

    let gc = run(&["gc", "--older-than", "24h", "--json"]);
    assert_eq!(gc.status.code(), Some(0));
    assert_eq!(json(&gc)["aborted"], 0);
    let bad = run(&["gc", "--older-than", "yesterday"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid duration"));

    runtime.block_on(store.shutdown()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
