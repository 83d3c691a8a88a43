//! Each failure set up for real against the embedded store, captured as the client saw it
//! (the XML body, a `curl -v` transcript), and named by `explain`.

mod common;

use std::time::Duration;

use common::{BUCKET, Env, ORIGIN, curl_v, put_args, rule, start};
use hoist_core::presign::PresignRequest;
use hoist_doctor::explain::{InputKind, explain};
use hoist_doctor::report::Finding;

fn named(input: &str, kind: InputKind) -> Finding {
    let e = explain(input.as_bytes());
    assert_eq!(e.kind, kind, "{input}");
    assert_eq!(e.findings.len(), 1, "{:#?}\n{input}", e.findings);
    e.findings.into_iter().next().unwrap()
}

fn body_file(env: &Env, bytes: usize) -> std::path::PathBuf {
    let path = env.dir.path().join(format!("body-{bytes}.bin"));
    std::fs::write(&path, vec![b'x'; bytes]).unwrap();
    path
}

/// The XML body of a request sent with reqwest (an ordinary HTTP client).
async fn body_of(
    method: reqwest::Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, String) {
    let mut req = reqwest::Client::new().request(method, url).body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_used_after_its_ttl_is_url_expired() {
    let env = start(None).await;
    let url = env
        .presign(&PresignRequest::put_object(BUCKET, "late.bin").expires_in(Duration::from_secs(1)))
        .url;
    tokio::time::sleep(Duration::from_millis(2_200)).await;

    let (status, body) = body_of(reqwest::Method::PUT, &url, &[], b"hello".to_vec()).await;
    assert_eq!(status, 403, "{body}");
    let f = named(&body, InputKind::S3Error);
    assert_eq!(f.cause, "url-expired", "{f:#?}");
    assert!(
        f.evidence.join(" ").contains("Request has expired"),
        "{f:#?}"
    );

    let transcript = curl_v(put_args(&url, &body_file(&env, 5), &[])).await;
    let f = named(&transcript, InputKind::CurlTranscript);
    assert_eq!(f.cause, "url-expired", "{f:#?}\n{transcript}");
    let evidence = f.evidence.join("\n");
    assert!(
        evidence.contains("for 1 s; used at"),
        "signed time, lifetime and use: {evidence}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_put_over_the_limit_is_entity_too_large() {
    let env = start(Some(1024 * 1024)).await;
    let url = env
        .presign(&PresignRequest::put_object(BUCKET, "big.bin"))
        .url;
    let transcript = curl_v(put_args(&url, &body_file(&env, 2 * 1024 * 1024), &[])).await;
    let f = named(&transcript, InputKind::CurlTranscript);
    assert_eq!(f.cause, "entity-too-large", "{f:#?}\n{transcript}");
    assert!(
        f.evidence
            .join("\n")
            .contains("a single PUT of 2097152 bytes; at most 1048576 bytes"),
        "{f:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signer_clock_ahead_of_the_store_is_clock_skew() {
    let env = start(None).await;
    // The store's clock runs an hour behind: a URL signed with this host's time is not yet valid.
    env.set_clock_offset(-3600);
    let url = env.presign(&PresignRequest::get_object(BUCKET, "any")).url;
    let (status, body) = body_of(reqwest::Method::GET, &url, &[], Vec::new()).await;
    assert_eq!(status, 403, "{body}");
    let f = named(&body, InputKind::S3Error);
    assert_eq!(f.cause, "clock-skew", "{f:#?}");
    assert!(f.evidence.join("\n").contains("3600 s ahead"), "{f:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_clock_ahead_looks_like_expiry_until_curl_says_when_it_was_sent() {
    let env = start(None).await;
    env.set_clock_offset(3600);
    let url = env
        .presign(&PresignRequest::put_object(BUCKET, "k").expires_in(Duration::from_secs(300)))
        .url;
    let mut args = vec!["--trace-time".to_owned()];
    args.extend(put_args(&url, &body_file(&env, 5), &[]));
    let transcript = curl_v(args).await;
    let f = named(&transcript, InputKind::CurlTranscript);
    assert_eq!(f.cause, "clock-skew", "{f:#?}\n{transcript}");
    assert!(
        f.evidence
            .join("\n")
            .contains("still valid, but the server's time was"),
        "{f:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preflight_from_an_origin_without_a_rule_is_cors_preflight() {
    let env = start(None).await;
    env.put_cors(vec![rule("https://other.example.com", &["ETag"])])
        .await;
    let url = env
        .presign(&PresignRequest::put_object(BUCKET, "photo.jpg"))
        .url;
    let transcript = curl_v(vec![
        "-X".into(),
        "OPTIONS".into(),
        "-H".into(),
        format!("Origin: {ORIGIN}"),
        "-H".into(),
        "Access-Control-Request-Method: PUT".into(),
        "-H".into(),
        "Access-Control-Request-Headers: content-type".into(),
        url,
    ])
    .await;
    let f = named(&transcript, InputKind::CurlTranscript);
    assert_eq!(f.cause, "cors-preflight", "{f:#?}\n{transcript}");
    let evidence = f.evidence.join("\n");
    assert!(
        evidence.contains(&format!(
            "from origin {ORIGIN} asking for PUT with headers content-type answered 403"
        )),
        "{evidence}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_origin_put_without_etag_exposed_is_cors_etag_hidden() {
    let env = start(None).await;
    env.put_cors(vec![rule(ORIGIN, &[])]).await;
    let url = env
        .presign(&PresignRequest::put_object(BUCKET, "part.bin"))
        .url;
    let origin = format!("Origin: {ORIGIN}");
    let transcript = curl_v(put_args(
        &url,
        &body_file(&env, 5),
        &[
            "-H",
            &origin,
            "-H",
            "Content-Type: application/octet-stream",
        ],
    ))
    .await;
    assert!(
        transcript.to_ascii_lowercase().contains("< etag:"),
        "{transcript}"
    );
    let f = named(&transcript, InputKind::CurlTranscript);
    assert_eq!(f.cause, "cors-etag-hidden", "{f:#?}\n{transcript}");

    // With ETag exposed, the same PUT is fine and nothing is named.
    env.put_cors(vec![rule(ORIGIN, &["ETag"])]).await;
    let transcript = curl_v(put_args(&url, &body_file(&env, 5), &["-H", &origin])).await;
    assert_eq!(
        named(&transcript, InputKind::CurlTranscript).cause,
        "unknown",
        "{transcript}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_version_2_request_is_sigv2() {
    let env = start(None).await;
    let c = env.store.credentials();
    let date = env.store_now().to_http_date();
    let auth = hoist_doctor::live::sigv2::authorization(
        &c.access_key_id,
        &c.secret_access_key,
        "GET",
        &date,
        &format!("/{BUCKET}/"),
    );
    let transcript = curl_v(vec![
        "-H".into(),
        format!("Date: {date}"),
        "-H".into(),
        format!("Authorization: {auth}"),
        format!("{}/{BUCKET}/", env.store.endpoint()),
    ])
    .await;
    let f = named(&transcript, InputKind::CurlTranscript);
    assert_eq!(f.cause, "sigv2", "{f:#?}\n{transcript}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_credentials_used_after_expiry_are_credentials_expired() {
    let env = start(None).await;
    let temp = env
        .store
        .issue_temporary_credentials(Duration::from_secs(1));
    let creds = hoist_core::presign::Credentials::new(&temp.access_key_id, &temp.secret_access_key)
        .with_session_token(&temp.session_token);
    let url = env
        .signer_with(creds)
        .presign(
            &PresignRequest::get_object(BUCKET, "k").expires_in(Duration::from_secs(600)),
            common::now(),
        )
        .unwrap()
        .url;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (status, body) = body_of(reqwest::Method::GET, &url, &[], Vec::new()).await;
    assert_eq!(status, 400, "{body}");
    let f = named(&body, InputKind::S3Error);
    assert_eq!(f.cause, "credentials-expired", "{f:#?}");
    let transcript = curl_v(vec![url]).await;
    assert_eq!(
        named(&transcript, InputKind::CurlTranscript).cause,
        "credentials-expired",
        "{transcript}"
    );
}
