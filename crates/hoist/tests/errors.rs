//! Every subcommand's failure names what failed and the next step (and the cause id where the
//! doctor's catalogue has one), as a person reads it on standard error.

use std::net::TcpListener;
use std::process::{Command, Output};

fn hoist(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hoist"));
    cmd.args(args).env_clear().envs(env.iter().copied());
    cmd.output().expect("run hoist")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn an_address_in_use_says_so_and_what_to_do() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let data = data.path().to_str().unwrap();
    let out = hoist(&["store", "--listen", &addr, "--data", data], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("error:"), "{err}");
    assert!(err.contains("next: another process listens"), "{err}");
}

#[test]
fn a_bad_setting_from_the_environment_is_named_with_the_next_step() {
    let data = tempfile::tempdir().unwrap();
    let data = data.path().to_str().unwrap();
    let out = hoist(
        &["serve", "--listen", "127.0.0.1:0", "--data", data],
        &[("HOIST_PART_SIZE", "banana")],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("HOIST_PART_SIZE"), "{err}");
    assert!(err.contains("next: fix the setting named above"), "{err}");
}

#[test]
fn a_store_that_does_not_answer_gets_the_reachability_step() {
    // A port that was free a moment ago: nothing answers there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let out = hoist(
        &[
            "gc",
            "--endpoint",
            &endpoint,
            "--bucket",
            "b",
            "--older-than",
            "1h",
        ],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secretsecretsecretsecret"),
            ("AWS_REGION", "us-east-1"),
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("error:"), "{err}");
    assert!(
        err.contains("next: check that the server is running"),
        "{err}"
    );
}
