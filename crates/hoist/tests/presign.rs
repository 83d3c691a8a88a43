//! `hoist presign` as a user runs it: the built binary, its stdout, stderr and exit code.

use std::process::{Command, Output};

const DOC_SIGNATURE: &str = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

/// The exact call: the AWS documentation's presigned GET.
const DOC_ARGS: &[&str] = &[
    "presign",
    "--method",
    "GET",
    "--endpoint",
    "https://examplebucket.s3.amazonaws.com",
    "--virtual-host",
    "--bucket",
    "examplebucket",
    "--key",
    "test.txt",
    "--region",
    "us-east-1",
    "--access-key",
    "AKIAIOSFODNN7EXAMPLE",
    "--secret-key",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "--date",
    "20130524T000000Z",
    "--expires",
    "86400",
];

/// Runs the binary with a clean AWS environment plus `env`.
fn hoist(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hoist"));
    cmd.args(args);
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run hoist")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn documentation_vector() {
    let out = hoist(DOC_ARGS, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature={DOC_SIGNATURE}\n"
        )
    );
}

#[test]
fn credentials_endpoint_and_region_from_the_environment() {
    let args = [
        "presign",
        "--virtual-host",
        "--bucket",
        "examplebucket",
        "--key",
        "test.txt",
        "--date",
        "20130524T000000Z",
        "--expires",
        "86400",
    ];
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        ("AWS_ENDPOINT_URL", "https://examplebucket.s3.amazonaws.com"),
        ("AWS_REGION", "us-east-1"),
    ];
    let out = hoist(&args, &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).trim_end().ends_with(DOC_SIGNATURE),
        "{}",
        stdout(&out)
    );

    // A session token from the environment is signed into the query, changing the signature.
    let mut with_token = env.to_vec();
    with_token.push(("AWS_SESSION_TOKEN", "tok/en"));
    let out = hoist(&args, &with_token);
    let url = stdout(&out);
    assert!(url.contains("&X-Amz-Security-Token=tok%2Fen&"), "{url}");
    assert!(!url.trim_end().ends_with(DOC_SIGNATURE));
}

#[test]
fn signs_now_without_date_and_lists_headers_to_send() {
    let out = hoist(
        &[
            "presign",
            "--method",
            "put",
            "--endpoint",
            "http://127.0.0.1:9000",
            "--bucket",
            "b",
            "--key",
            "a b",
            "--access-key",
            "AK",
            "--secret-key",
            "SK",
            "--query",
            "partNumber=1",
            "--query",
            "uploadId=u",
            "--header",
            "content-length:5",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let url = stdout(&out);
    assert!(
        url.starts_with("http://127.0.0.1:9000/b/a%20b?X-Amz-Algorithm="),
        "{url}"
    );
    assert!(url.contains(
        "X-Amz-SignedHeaders=content-length%3Bhost&partNumber=1&uploadId=u&X-Amz-Signature="
    ));
    let year = url.split("X-Amz-Date=").nth(1).unwrap()[..4]
        .parse::<u32>()
        .unwrap();
    assert!(year >= 2025, "signed for now, got year {year}");
    assert_eq!(stderr(&out), "send header: content-length: 5\n");
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let with = |flag: &str, value: &str| {
        let mut args: Vec<&str> = DOC_ARGS.to_vec();
        let i = args.iter().position(|a| *a == flag).unwrap();
        args[i + 1] = value;
        hoist(&args.iter().map(|s| &**s).collect::<Vec<_>>(), &[])
    };
    let cases = [
        (with("--method", "FETCH"), "unknown HTTP method"),
        (with("--expires", "0"), "--expires"),
        (with("--expires", "604801"), "--expires"),
        (with("--expires", "soon"), "--expires"),
        (with("--date", "2013-05-24"), "--date"),
        (with("--date", "20131324T000000Z"), "--date"),
        (
            with("--endpoint", "examplebucket.s3.amazonaws.com"),
            "invalid endpoint",
        ),
    ];
    for (out, needle) in &cases {
        let err = stderr(out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(out.stdout.is_empty());
    }
    // Missing credentials: neither flags nor environment.
    let args: Vec<&str> = DOC_ARGS
        .iter()
        .copied()
        .filter(|a| {
            !a.starts_with("AKIA")
                && !a.starts_with("wJal")
                && !matches!(*a, "--access-key" | "--secret-key")
        })
        .collect();
    let out = hoist(&args, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: missing credentials"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stderr(&out).lines().count(), 1);
}
