//! `GET /s3/params` for `@uppy/aws-s3` 6.x in `companionEndpoint` mode: a POST form (S3 POST
//! policy) when asked the way that client asks, a PUT URL for 4.x/5.x and other callers; the
//! form is sent to the real store and read back.

mod common;

use common::*;
use serde_json::{Value, json};

const BOUNDARY: &str = "----uppySixBoundary";

/// GET with the headers a given client sends (the grant as a Bearer token).
async fn params(url: &str, grant: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut rb = reqwest::Client::new()
        .get(url)
        .header("authorization", format!("Bearer {grant}"));
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The browser's form: the answer's fields, then the file.
async fn send_form(answer: &Value, file: &[u8]) -> reqwest::Response {
    let mut body = Vec::new();
    for (name, value) in answer["fields"].as_object().unwrap() {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{}\r\n",
                value.as_str().unwrap()
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    reqwest::Client::new()
        .post(answer["url"].as_str().unwrap())
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

fn policy_of(answer: &Value) -> Value {
    use base64::Engine as _;
    let b64 = answer["fields"]["policy"].as_str().unwrap();
    let json = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}

/// Uppy 6 companion mode: a bare `fetch` from a page.
const UPPY6: &[(&str, &str)] = &[("sec-fetch-mode", "cors"), ("accept", "*/*")];
/// Uppy 4.x/5.x: `@uppy/companion-client` asks for JSON.
const UPPY5: &[(&str, &str)] = &[("sec-fetch-mode", "cors"), ("accept", "application/json")];

#[tokio::test]
async fn uppy6_companion_mode_gets_a_post_form_the_store_accepts() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let grant = mint("users/alice", 600, json!({"max_size": 1000}));
    let url = format!(
        "{}/s3/params?filename=notes.txt&type=text%2Fplain&metadata%5Bname%5D=notes.txt",
        srv.base
    );

    let (status, answer) = params(&url, &grant, UPPY6).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["method"], "POST");
    assert_eq!(
        answer["url"],
        format!("{}/{BUCKET}", store.handle.endpoint())
    );
    let key = answer["fields"]["key"].as_str().unwrap().to_owned();
    assert!(
        key.starts_with("users/alice/") && key.ends_with("/notes.txt"),
        "{key}"
    );
    assert_eq!(answer["key"], key.as_str());
    assert_eq!(answer["fields"]["Content-Type"], "text/plain");
    assert_eq!(answer["fields"]["x-amz-meta-name"], "notes.txt");
    let policy = policy_of(&answer);
    let conditions = policy["conditions"].as_array().unwrap();
    assert!(conditions.contains(&json!(["eq", "$key", key])), "{policy}");
    assert!(
        conditions.contains(&json!(["content-length-range", 0, 1000])),
        "{policy}"
    );
    assert!(answer["expires"].as_u64().unwrap() > 0);

    // The store takes the form, and refuses a file over the grant's limit.
    let resp = send_form(&answer, b"hello notes").await;
    assert_eq!(resp.status(), 204, "{}", resp.text().await.unwrap());
    assert_eq!(
        fetch_object(&store.handle, &key).await,
        (200, b"hello notes".to_vec())
    );
    let (_, again) = params(&url, &grant, UPPY6).await;
    let resp = send_form(&again, &vec![b'x'; 1001]).await;
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("<Code>EntityTooLarge</Code>")
    );
    let (status, _) = fetch_object(&store.handle, again["key"].as_str().unwrap()).await;
    assert_eq!(status, 404);

    // A declared size pins the range exactly.
    let (_, sized) = params(&format!("{url}&size=5"), &grant, UPPY6).await;
    assert!(
        policy_of(&sized)["conditions"]
            .as_array()
            .unwrap()
            .contains(&json!(["content-length-range", 5, 5]))
    );
    let resp = send_form(&sized, b"six b!").await;
    assert_eq!(resp.status(), 400);
    let (status, err) = params(&format!("{url}&size=1001"), &grant, UPPY6).await;
    assert_eq!(status, 403, "{err}");
}

#[tokio::test]
async fn other_clients_keep_the_put_answer_unless_they_ask() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let grant = mint("users/bob", 600, json!({}));
    let url = format!(
        "{}/s3/params?filename=a.bin&type=application%2Foctet-stream",
        srv.base
    );

    let (status, five) = params(&format!("{url}&size=3"), &grant, UPPY5).await;
    assert_eq!(
        (status, five["method"].as_str()),
        (200, Some("PUT")),
        "{five}"
    );
    let (status, script) = params(&format!("{url}&size=3"), &grant, &[]).await;
    assert_eq!(
        (status, script["method"].as_str()),
        (200, Some("PUT")),
        "{script}"
    );
    let (status, asked) = params(&format!("{url}&method=post"), &grant, &[]).await;
    assert_eq!(
        (status, asked["method"].as_str()),
        (200, Some("POST")),
        "{asked}"
    );
    let (status, put) = params(&format!("{url}&method=PUT&size=1"), &grant, UPPY6).await;
    assert_eq!(
        (status, put["method"].as_str()),
        (200, Some("PUT")),
        "{put}"
    );
    let (status, bad) = params(&format!("{url}&method=GET"), &grant, &[]).await;
    assert_eq!(status, 400, "{bad}");

    // The route still authenticates: no grant, no form.
    let resp = reqwest::Client::new()
        .get(&url)
        .header("sec-fetch-mode", "cors")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}
