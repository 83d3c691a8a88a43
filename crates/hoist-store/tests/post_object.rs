//! POST Object (browser-based uploads with a SigV4 POST policy), sent as raw
//! `multipart/form-data` since no SDK sends such forms. Policies come from hoist-core's
//! signer; the store verifies them with its own code, so the two are checked against each
//! other here (and against boto3's signer in `e2e/store/test_post_policy.py`).

mod common;

use std::time::{Duration, SystemTime};

use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
use common::*;
use hoist_core::presign::{
    Credentials as CoreCredentials, Endpoint, PostPolicyRequest, PresignedPost, Presigner,
};
use hoist_core::time::Timestamp;
use hoist_store::Faults;

const BOUNDARY: &str = "----hoistFormBoundary7MA4YWxkTrZu0gW";

fn signer(store: &TestStore, token: Option<&str>, ak: &str, sk: &str) -> Presigner {
    let mut creds = CoreCredentials::new(ak, sk);
    if let Some(t) = token {
        creds = creds.with_session_token(t);
    }
    Presigner::new(
        creds,
        Endpoint::parse(&store.handle.endpoint(), "us-east-1").unwrap(),
    )
}

fn now() -> Timestamp {
    Timestamp::from(SystemTime::now())
}

fn policy(store: &TestStore, req: &PostPolicyRequest<'_>, at: Timestamp) -> PresignedPost {
    signer(store, None, AK, SK).presign_post(req, at).unwrap()
}

/// A form with `fields` in order, then the file.
fn form(fields: &[(String, String)], filename: &str, file: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn post_form(store: &TestStore, body: &[u8], origin: Option<&str>) -> RawResponse {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let mut headers = vec![("content-type", content_type.as_str())];
    if let Some(o) = origin {
        headers.push(("origin", o));
    }
    raw(store.addr(), "POST", &format!("/{BUCKET}"), &headers, body).await
}

async fn stored(store: &TestStore, key: &str) -> Option<(Vec<u8>, Option<String>)> {
    let got = store
        .client()
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .ok()?;
    let content_type = got.content_type().map(str::to_owned);
    Some((got.body.collect().await.unwrap().to_vec(), content_type))
}

fn with(post: &PresignedPost, name: &str, value: &str) -> Vec<(String, String)> {
    let mut fields = post.fields.clone();
    match fields.iter_mut().find(|(k, _)| k == name) {
        Some(field) => field.1 = value.to_owned(),
        None => fields.insert(0, (name.to_owned(), value.to_owned())),
    }
    fields
}

#[tokio::test]
async fn a_signed_form_stores_the_file_and_answers_as_s3() {
    let store = TestStore::start().await;
    let rule = CorsRule::builder()
        .allowed_origins("https://app.example.com")
        .allowed_methods("POST")
        .allowed_headers("*")
        .expose_headers("ETag")
        .expose_headers("Location")
        .build()
        .unwrap();
    store
        .client()
        .put_bucket_cors()
        .bucket(BUCKET)
        .cors_configuration(
            CorsConfiguration::builder()
                .cors_rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    // Default: 204, ETag and Location, exposed to the page's origin; the file is intact.
    let data = bytes_of(3 * 1024 * 1024 + 17, 7);
    let key = "users/a/photo 1.jpg";
    let post = policy(
        &store,
        &PostPolicyRequest::new(BUCKET, key)
            .content_type("image/jpeg")
            .content_length_range(0, 4 << 20)
            .field("x-amz-meta-owner", "a")
            .expires_in(Duration::from_secs(300)),
        now(),
    );
    assert_eq!(post.url, format!("{}/{BUCKET}", store.handle.endpoint()));
    let answer = post_form(
        &store,
        &form(&post.fields, "photo.jpg", &data),
        Some("https://app.example.com"),
    )
    .await;
    assert_eq!(answer.status, 204, "{}", answer.text());
    assert!(answer.body.is_empty());
    assert_eq!(
        answer.header("etag"),
        Some(format!("\"{}\"", md5_hex(&data)).as_str())
    );
    assert_eq!(
        answer.header("location"),
        Some(format!("http://{}/{BUCKET}/users/a/photo%201.jpg", store.addr()).as_str())
    );
    let exposed = answer
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("etag") && exposed.contains("location"),
        "{exposed}"
    );
    let (body, content_type) = stored(&store, key).await.expect("stored");
    assert_eq!(md5_hex(&body), md5_hex(&data));
    assert_eq!(content_type.as_deref(), Some("image/jpeg"));
    let head = store
        .client()
        .head_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.metadata().unwrap().get("owner").map(String::as_str),
        Some("a")
    );

    // success_action_status 201: a PostResponse document; 200: an empty 200.
    let post = policy(
        &store,
        &PostPolicyRequest::new(BUCKET, "k201").success_action_status(201),
        now(),
    );
    let answer = post_form(&store, &form(&post.fields, "f", b"x"), None).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    assert_eq!(element(&answer.text(), "Key").as_deref(), Some("k201"));
    assert_eq!(element(&answer.text(), "Bucket").as_deref(), Some(BUCKET));
    assert_eq!(
        element(&answer.text(), "ETag").as_deref(),
        Some(format!("\"{}\"", md5_hex(b"x")).as_str())
    );
    let post = policy(
        &store,
        &PostPolicyRequest::new(BUCKET, "k200").success_action_status(200),
        now(),
    );
    let answer = post_form(&store, &form(&post.fields, "f", b""), None).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(stored(&store, "k200").await.unwrap().0, b"");

    // `${filename}` in the key takes the file's name.
    let post = policy(
        &store,
        &PostPolicyRequest::new(BUCKET, "in/${filename}"),
        now(),
    );
    let answer = post_form(&store, &form(&post.fields, "n.txt", b"abc"), None).await;
    assert_eq!(answer.status, 204, "{}", answer.text());
    assert_eq!(stored(&store, "in/n.txt").await.unwrap().0, b"abc");
}

#[tokio::test]
async fn expiry_follows_the_store_clock() {
    let store = TestStore::start().await;
    let req = PostPolicyRequest::new(BUCKET, "clock.bin").expires_in(Duration::from_secs(60));

    // Valid by the machine's clock, expired by the store's (two minutes ahead).
    let post = policy(&store, &req, now());
    store
        .handle
        .set_faults(Faults {
            clock_offset_secs: 120,
            ..Faults::default()
        })
        .unwrap();
    let answer = post_form(&store, &form(&post.fields, "f", b"late"), None).await;
    assert_eq!(answer.status, 403, "{}", answer.text());
    assert_eq!(answer.code().as_deref(), Some("AccessDenied"));
    assert_eq!(
        answer.message().as_deref(),
        Some("Invalid according to Policy: Policy expired.")
    );
    assert!(stored(&store, "clock.bin").await.is_none());

    // Expired by the machine's clock, valid by the store's (two hours behind), as a signer
    // that corrects its time from the store's Date would sign it.
    store
        .handle
        .set_faults(Faults {
            clock_offset_secs: -7200,
            ..Faults::default()
        })
        .unwrap();
    let post = policy(&store, &req, now().minus(Duration::from_secs(7200)));
    let answer = post_form(&store, &form(&post.fields, "f", b"on time"), None).await;
    assert_eq!(answer.status, 204, "{}", answer.text());
    store.handle.set_faults(Faults::default()).unwrap();
    assert_eq!(stored(&store, "clock.bin").await.unwrap().0, b"on time");
}

#[tokio::test]
async fn conditions_size_and_signature_are_enforced() {
    let store = TestStore::start().await;
    let post = policy(
        &store,
        &PostPolicyRequest::new(BUCKET, "users/a/x.txt")
            .content_type("text/plain")
            .content_length_range(1, 10),
        now(),
    );
    let refused = |answer: &RawResponse, status: u16, code: &str, message: &str| {
        assert_eq!(answer.status, status, "{}", answer.text());
        assert_eq!(answer.code().as_deref(), Some(code), "{}", answer.text());
        assert_eq!(
            answer.message().as_deref(),
            Some(message),
            "{}",
            answer.text()
        );
    };

    let other_key = with(&post, "key", "users/b/x.txt");
    let answer = post_form(&store, &form(&other_key, "f", b"hi"), None).await;
    refused(
        &answer,
        403,
        "AccessDenied",
        "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$key\", \"users/a/x.txt\"]",
    );
    let other_type = with(&post, "Content-Type", "text/html");
    let answer = post_form(&store, &form(&other_type, "f", b"hi"), None).await;
    refused(
        &answer,
        403,
        "AccessDenied",
        "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$Content-Type\", \"text/plain\"]",
    );
    let extra = with(&post, "x-amz-meta-evil", "1");
    let answer = post_form(&store, &form(&extra, "f", b"hi"), None).await;
    refused(
        &answer,
        403,
        "AccessDenied",
        "Invalid according to Policy: Extra input fields: x-amz-meta-evil",
    );

    let answer = post_form(&store, &form(&post.fields, "f", b"eleven byte"), None).await;
    refused(
        &answer,
        400,
        "EntityTooLarge",
        "Your proposed upload exceeds the maximum allowed size",
    );
    assert_eq!(
        element(&answer.text(), "ProposedSize").as_deref(),
        Some("11")
    );
    assert_eq!(
        element(&answer.text(), "MaxSizeAllowed").as_deref(),
        Some("10")
    );
    let answer = post_form(&store, &form(&post.fields, "f", b""), None).await;
    refused(
        &answer,
        400,
        "EntityTooSmall",
        "Your proposed upload is smaller than the minimum allowed size",
    );

    let signature = post.field("x-amz-signature").unwrap();
    let flipped = format!(
        "{}{}",
        &signature[..63],
        if signature.ends_with('0') { '1' } else { '0' }
    );
    let forged = with(&post, "x-amz-signature", &flipped);
    let answer = post_form(&store, &form(&forged, "f", b"hi"), None).await;
    refused(
        &answer,
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    );
    assert_eq!(
        element(&answer.text(), "StringToSign").as_deref(),
        post.field("policy")
    );
    let wrong_secret = signer(&store, None, AK, "not-the-secret")
        .presign_post(&PostPolicyRequest::new(BUCKET, "users/a/x.txt"), now())
        .unwrap();
    let answer = post_form(&store, &form(&wrong_secret.fields, "f", b"hi"), None).await;
    assert_eq!(answer.code().as_deref(), Some("SignatureDoesNotMatch"));
    assert!(stored(&store, "users/a/x.txt").await.is_none());

    // And the untouched form goes through.
    let answer = post_form(&store, &form(&post.fields, "f", b"hi"), None).await;
    assert_eq!(answer.status, 204, "{}", answer.text());
}

#[tokio::test]
async fn temporary_credentials_need_their_token() {
    let store = TestStore::start().await;
    let temp = store
        .handle
        .issue_temporary_credentials(Duration::from_secs(600));
    let req = PostPolicyRequest::new(BUCKET, "t.bin").expires_in(Duration::from_secs(300));
    let good = signer(
        &store,
        Some(&temp.session_token),
        &temp.access_key_id,
        &temp.secret_access_key,
    )
    .presign_post(&req, now())
    .unwrap();
    assert!(good.field("x-amz-security-token").is_some());
    let no_token = signer(&store, None, &temp.access_key_id, &temp.secret_access_key)
        .presign_post(&req, now())
        .unwrap();
    let answer = post_form(&store, &form(&no_token.fields, "f", b"t"), None).await;
    assert_eq!(answer.status, 403, "{}", answer.text());
    assert_eq!(answer.code().as_deref(), Some("InvalidToken"));
    let answer = post_form(&store, &form(&good.fields, "f", b"t"), None).await;
    assert_eq!(answer.status, 204, "{}", answer.text());
}

#[tokio::test]
async fn malformed_forms_get_a_400_never_a_500() {
    let store = TestStore::start().await;
    let post = policy(&store, &PostPolicyRequest::new(BUCKET, "m.bin"), now());
    let code_of = |a: &RawResponse| (a.status, a.code().unwrap_or_default());

    // No file part.
    let mut no_file = Vec::new();
    for (name, value) in &post.fields {
        no_file.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    no_file.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    let answer = post_form(&store, &no_file, None).await;
    assert_eq!(
        code_of(&answer),
        (400, "InvalidArgument".into()),
        "{}",
        answer.text()
    );

    // Not multipart at all, truncated, and a field after the file (the length no longer fits).
    let answer = post_form(&store, b"this is not a form", None).await;
    assert_eq!(
        code_of(&answer),
        (400, "MalformedPOSTRequest".into()),
        "{}",
        answer.text()
    );
    let whole = form(&post.fields, "f", b"data");
    let answer = post_form(&store, &whole[..whole.len() / 2], None).await;
    assert_eq!(
        code_of(&answer),
        (400, "MalformedPOSTRequest".into()),
        "{}",
        answer.text()
    );
    let mut trailing = whole[..whole.len() - format!("--{BOUNDARY}--\r\n").len()].to_vec();
    trailing.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"late\"\r\n\r\nx\r\n--{BOUNDARY}--\r\n").as_bytes(),
    );
    let answer = post_form(&store, &trailing, None).await;
    assert_eq!(
        code_of(&answer),
        (400, "MalformedPOSTRequest".into()),
        "{}",
        answer.text()
    );
    assert!(stored(&store, "m.bin").await.is_none());

    // Missing fields, a policy that is not JSON, no signature at all.
    let fields: Vec<_> = post
        .fields
        .iter()
        .filter(|(k, _)| k != "key")
        .cloned()
        .collect();
    let answer = post_form(&store, &form(&fields, "f", b"d"), None).await;
    assert_eq!(code_of(&answer), (400, "InvalidArgument".into()));
    assert_eq!(
        element(&answer.text(), "ArgumentName").as_deref(),
        Some("key")
    );
    let fields: Vec<_> = post
        .fields
        .iter()
        .filter(|(k, _)| k != "policy")
        .cloned()
        .collect();
    let answer = post_form(&store, &form(&fields, "f", b"d"), None).await;
    assert_eq!(code_of(&answer), (400, "InvalidArgument".into()));
    let unsigned = vec![("key".to_owned(), "m.bin".to_owned())];
    let answer = post_form(&store, &form(&unsigned, "f", b"d"), None).await;
    assert_eq!(code_of(&answer), (403, "AccessDenied".into()));
    let secret_signs = |policy_text: &str| {
        let b64 = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(policy_text)
        };
        let date = post.field("x-amz-date").unwrap()[..8].to_owned();
        let key = hoist_core::presign::signing_key(SK, &date, "us-east-1", "s3");
        let signature = {
            use hmac::{KeyInit as _, Mac as _};
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
            mac.update(b64.as_bytes());
            hoist_core::encoding::hex(&mac.finalize().into_bytes())
        };
        let mut fields = with(&post, "policy", &b64);
        fields = fields
            .into_iter()
            .map(|(k, v)| {
                if k == "x-amz-signature" {
                    (k, signature.clone())
                } else {
                    (k, v)
                }
            })
            .collect();
        fields
    };
    let answer = post_form(&store, &form(&secret_signs("{not json"), "f", b"d"), None).await;
    assert_eq!(
        code_of(&answer),
        (400, "InvalidPolicyDocument".into()),
        "{}",
        answer.text()
    );
    let answer = post_form(
        &store,
        &form(&secret_signs("{\"conditions\":[]}"), "f", b"d"),
        None,
    )
    .await;
    assert_eq!(
        code_of(&answer),
        (400, "InvalidPolicyDocument".into()),
        "{}",
        answer.text()
    );
    assert_eq!(
        answer.message().as_deref(),
        Some("Invalid Policy: Policy missing expiration.")
    );
    let answer = post_form(
        &store,
        &form(&secret_signs("{\"expiration\":\"2999-01-01T00:00:00Z\",\"conditions\":[[\"between\",\"$key\",\"a\"]]}"), "f", b"d"),
        None,
    )
    .await;
    assert_eq!(
        code_of(&answer),
        (400, "InvalidPolicyDocument".into()),
        "{}",
        answer.text()
    );
}
