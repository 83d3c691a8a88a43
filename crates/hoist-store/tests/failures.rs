//! Every failure S3 answers, provoked for real: status, Code, Message and extra elements.

mod common;

use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use common::*;
use hoist_store::Faults;

const MIB: usize = 1024 * 1024;

fn hmac_sha256(key: &[u8], data: &str) -> Vec<u8> {
    use hmac::{KeyInit as _, Mac as _};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn presign_config(start: SystemTime, expires: Duration) -> PresigningConfig {
    PresigningConfig::builder()
        .start_time(start)
        .expires_in(expires)
        .build()
        .unwrap()
}

#[tokio::test]
async fn presigned_urls_expire_and_are_not_valid_early() {
    let store = TestStore::start().await;
    let s3 = store.client();
    s3.put_object()
        .bucket(BUCKET)
        .key("k")
        .body(ByteStream::from_static(b"payload"))
        .send()
        .await
        .unwrap();

    let fresh = s3
        .get_object()
        .bucket(BUCKET)
        .key("k")
        .presigned(presign_config(SystemTime::now(), Duration::from_secs(60)))
        .await
        .unwrap();
    let ok = send_presigned(store.addr(), &fresh, b"").await;
    assert_eq!((ok.status, ok.text().as_str()), (200, "payload"));

    let old = SystemTime::now() - Duration::from_secs(7200);
    let expired = s3
        .get_object()
        .bucket(BUCKET)
        .key("k")
        .presigned(presign_config(old, Duration::from_secs(3600)))
        .await
        .unwrap();
    let answer = send_presigned(store.addr(), &expired, b"").await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.code().as_deref(), Some("AccessDenied"));
    assert_eq!(answer.message().as_deref(), Some("Request has expired"));
    let body = answer.text();
    assert_eq!(element(&body, "X-Amz-Expires").as_deref(), Some("3600"));
    let expires = element(&body, "Expires").unwrap();
    let server_time = element(&body, "ServerTime").unwrap();
    assert!(
        expires.ends_with('Z') && expires < server_time,
        "{expires} vs {server_time}"
    );
    assert!(element(&body, "RequestId").is_some() && element(&body, "HostId").is_some());

    let ahead = SystemTime::now() + Duration::from_secs(3600);
    let early = s3
        .get_object()
        .bucket(BUCKET)
        .key("k")
        .presigned(presign_config(ahead, Duration::from_secs(600)))
        .await
        .unwrap();
    let answer = send_presigned(store.addr(), &early, b"").await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.code().as_deref(), Some("AccessDenied"));
    assert_eq!(
        answer.message().as_deref(),
        Some("Request is not yet valid")
    );
    assert!(element(&answer.text(), "X-Amz-Date").is_some());
    assert!(
        element(&answer.text(), "Expires").is_some()
            && element(&answer.text(), "ServerTime").is_some()
    );
}

#[tokio::test]
async fn presigned_lifetime_above_a_week_is_refused() {
    let store = TestStore::start().await;
    let s3 = store.client();
    let week = s3
        .get_object()
        .bucket(BUCKET)
        .key("k")
        .presigned(presign_config(
            SystemTime::now(),
            Duration::from_secs(604_800),
        ))
        .await
        .unwrap();
    let uri = week
        .uri()
        .replace("X-Amz-Expires=604800", "X-Amz-Expires=604801");
    let target = uri.split_once(&store.addr().to_string()).unwrap().1;
    let answer = raw(store.addr(), "GET", target, &[], b"").await;
    assert_eq!(answer.status, 403);
    assert_eq!(
        answer.code().as_deref(),
        Some("AuthorizationQueryParametersError")
    );
    assert_eq!(
        answer.message().as_deref(),
        Some(
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds"
        )
    );
}

#[tokio::test]
async fn expiry_is_checked_when_the_request_starts() {
    let store = TestStore::start().await;
    let s3 = store.client();
    let url = s3
        .put_object()
        .bucket(BUCKET)
        .key("slow")
        .presigned(presign_config(SystemTime::now(), Duration::from_secs(2)))
        .await
        .unwrap();
    // 600 KiB at 200 KiB/s takes about 3 s: the URL expires mid-body, the PUT still lands.
    store
        .handle
        .set_faults(Faults {
            bandwidth_bytes_per_sec: Some(200 * 1024),
            ..Faults::default()
        })
        .unwrap();
    let started = std::time::Instant::now();
    let answer = send_presigned(store.addr(), &url, &bytes_of(600 * 1024, 3)).await;
    assert!(
        started.elapsed() > Duration::from_secs(2),
        "the body was not slowed: {:?}",
        started.elapsed()
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    store.handle.set_faults(Faults::default()).unwrap();
    // A retry that starts after expiry is refused.
    let again = send_presigned(store.addr(), &url, b"x").await;
    assert_eq!(
        (again.status, again.message().as_deref()),
        (403, Some("Request has expired"))
    );
}

#[tokio::test]
async fn header_signed_requests_with_skewed_clocks() {
    let store = TestStore::start().await;
    let s3 = store.client();
    // The store's clock 10 minutes ahead is within S3's 15 minutes; LastModified and Date follow it.
    store
        .handle
        .set_faults(Faults {
            clock_offset_secs: 600,
            ..Faults::default()
        })
        .unwrap();
    s3.put_object()
        .bucket(BUCKET)
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket(BUCKET)
        .key("k")
        .send()
        .await
        .unwrap();
    let modified = SystemTime::try_from(*head.last_modified().unwrap()).unwrap();
    assert!(modified > SystemTime::now() + Duration::from_secs(590));
    let health = raw(store.addr(), "GET", "/_hoist/health", &[], b"").await;
    let date = health.header("date").unwrap().to_owned();
    assert!(date.ends_with("GMT"));

    store
        .handle
        .set_faults(Faults {
            clock_offset_secs: 3600,
            ..Faults::default()
        })
        .unwrap();
    let err = s3
        .put_object()
        .bucket(BUCKET)
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    let (status, body) = raw_error(&err);
    assert_eq!(status, 403);
    assert_eq!(
        element(&body, "Code").as_deref(),
        Some("RequestTimeTooSkewed")
    );
    assert_eq!(
        element(&body, "Message").as_deref(),
        Some("The difference between the request time and the current time is too large.")
    );
    assert_eq!(
        element(&body, "MaxAllowedSkewMilliseconds").as_deref(),
        Some("900000")
    );
    assert!(element(&body, "RequestTime").is_some() && element(&body, "ServerTime").is_some());

    // The store behind by an hour: header auth skewed, a fresh presigned URL not yet valid.
    store
        .handle
        .set_faults(Faults {
            clock_offset_secs: -3600,
            ..Faults::default()
        })
        .unwrap();
    let err = s3
        .get_object()
        .bucket(BUCKET)
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        element(&raw_error(&err).1, "Code").as_deref(),
        Some("RequestTimeTooSkewed")
    );
    let url = s3
        .get_object()
        .bucket(BUCKET)
        .key("k")
        .presigned(presign_config(SystemTime::now(), Duration::from_secs(300)))
        .await
        .unwrap();
    let answer = send_presigned(store.addr(), &url, b"").await;
    assert_eq!(
        answer.message().as_deref(),
        Some("Request is not yet valid")
    );

    // A signer that corrects its clock to the store's (as hoist's coordinator does) works
    // both ways, even with a lifetime shorter than the offset.
    let corrected = SystemTime::now() - Duration::from_secs(3600);
    let put = s3
        .put_object()
        .bucket(BUCKET)
        .key("dir/sp ace+plus")
        .presigned(presign_config(corrected, Duration::from_secs(60)))
        .await
        .unwrap();
    let answer = send_presigned(store.addr(), &put, b"corrected").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let get = s3
        .get_object()
        .bucket(BUCKET)
        .key("dir/sp ace+plus")
        .presigned(presign_config(corrected, Duration::from_secs(60)))
        .await
        .unwrap();
    let answer = send_presigned(store.addr(), &get, b"").await;
    assert_eq!((answer.status, answer.text().as_str()), (200, "corrected"));
    // Tampering is still caught when the store verifies the signature itself.
    let target = get
        .uri()
        .split_once(&store.addr().to_string())
        .unwrap()
        .1
        .replace("sp%20ace", "other");
    let forged = raw(store.addr(), "GET", &target, &[], b"").await;
    assert_eq!(
        (forged.status, forged.code().as_deref()),
        (403, Some("SignatureDoesNotMatch"))
    );
    assert!(element(&forged.text(), "CanonicalRequest").is_some());
    store
        .handle
        .set_faults(Faults {
            clock_offset_secs: 3600,
            ..Faults::default()
        })
        .unwrap();
    let ahead = SystemTime::now() + Duration::from_secs(3600);
    let get = s3
        .get_object()
        .bucket(BUCKET)
        .key("dir/sp ace+plus")
        .presigned(presign_config(ahead, Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(send_presigned(store.addr(), &get, b"").await.status, 200);
}

#[tokio::test]
async fn wrong_secret_is_signature_does_not_match() {
    let store = TestStore::start().await;
    let s3 = client_for(&store.handle.endpoint(), AK, "not-the-secret", None, false);
    let err = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_err();
    let (status, body) = raw_error(&err);
    assert_eq!(status, 403);
    assert_eq!(
        element(&body, "Code").as_deref(),
        Some("SignatureDoesNotMatch")
    );
    assert_eq!(
        element(&body, "Message").as_deref(),
        Some(
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        )
    );
    assert_eq!(element(&body, "AWSAccessKeyId").as_deref(), Some(AK));
    assert_eq!(
        element(&body, "SignatureProvided").map(|s| s.len()),
        Some(64)
    );
    let string_to_sign = element(&body, "StringToSign").unwrap();
    assert!(
        string_to_sign.starts_with("AWS4-HMAC-SHA256\n"),
        "{string_to_sign}"
    );
    assert!(
        string_to_sign.contains("/us-east-1/s3/aws4_request\n"),
        "{string_to_sign}"
    );
    let canonical = element(&body, "CanonicalRequest").unwrap();
    assert!(
        canonical.starts_with(&format!("GET\n/{BUCKET}/\nlist-type=2\n")),
        "{canonical}"
    );
    assert!(canonical.contains("\nhost:"), "{canonical}");
    // The explanation is exactly what the client signed: signing it with the client's
    // (wrong) secret reproduces the signature it sent.
    let date = string_to_sign.lines().nth(1).unwrap()[..8].to_owned();
    let mut key = hmac_sha256(b"AWS4not-the-secret", &date);
    for part in ["us-east-1", "s3", "aws4_request"] {
        key = hmac_sha256(&key, part);
    }
    let resigned: String = hmac_sha256(&key, &string_to_sign)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(Some(resigned), element(&body, "SignatureProvided"));

    let unknown = client_for(&store.handle.endpoint(), "AKIDUNKNOWN", SK, None, false);
    let err = unknown
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        element(&raw_error(&err).1, "Code").as_deref(),
        Some("InvalidAccessKeyId")
    );
}

/// Over the limit, a PUT is EntityTooLarge with S3's elements and leaves no file behind; at the
/// limit it is fine. Both sides of the store's in-memory bound: a small body is refused while
/// it is gathered, a large one while it streams to a temp file.
#[tokio::test]
async fn single_put_over_the_limit_is_entity_too_large() {
    for (limit, sent) in [(MIB, 2 * MIB), (64 * 1024, 100 * 1024)] {
        let store = TestStore::start_with(|c| c.with_max_put_size(limit as u64)).await;
        for s3 in [store.client(), store.client_with_checksums()] {
            let err = s3
                .put_object()
                .bucket(BUCKET)
                .key("big")
                .body(ByteStream::from(bytes_of(sent, 1)))
                .send()
                .await
                .unwrap_err();
            let (status, body) = raw_error(&err);
            assert_eq!(status, 400);
            assert_eq!(element(&body, "Code").as_deref(), Some("EntityTooLarge"));
            assert_eq!(
                element(&body, "Message").as_deref(),
                Some("Your proposed upload exceeds the maximum allowed size")
            );
            assert_eq!(element(&body, "ProposedSize"), Some(sent.to_string()));
            assert_eq!(element(&body, "MaxSizeAllowed"), Some(limit.to_string()));
        }
        let s3 = store.client();
        assert!(
            s3.head_object()
                .bucket(BUCKET)
                .key("big")
                .send()
                .await
                .is_err()
        );
        let left: Vec<_> = std::fs::read_dir(store.dir.path().join("tmp"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "temp files left: {left:?}");
        // At the limit it is fine.
        s3.put_object()
            .bucket(BUCKET)
            .key("ok")
            .body(ByteStream::from(bytes_of(limit, 1)))
            .send()
            .await
            .unwrap();
    }
}

async fn two_part_upload(s3: &aws_sdk_s3::Client, first: usize) -> (String, Vec<CompletedPart>) {
    let id = create_upload(s3, "mp").await;
    let mut parts = Vec::new();
    for (n, len) in [(1, first), (2, 100)] {
        parts.push(upload_part(s3, "mp", &id, n, bytes_of(len, n as u64)).await);
    }
    (id, parts)
}

async fn complete(s3: &aws_sdk_s3::Client, id: &str, parts: Vec<CompletedPart>) -> (u16, String) {
    let result = s3
        .complete_multipart_upload()
        .bucket(BUCKET)
        .key("mp")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await;
    match result {
        Ok(_) => (200, String::new()),
        Err(err) => raw_error(&err),
    }
}

#[tokio::test]
async fn complete_failures() {
    let store = TestStore::start().await;
    let s3 = store.client();

    let (id, parts) = two_part_upload(&s3, MIB).await;
    let (status, body) = complete(&s3, &id, parts.clone()).await;
    assert_eq!(status, 400);
    assert_eq!(element(&body, "Code").as_deref(), Some("EntityTooSmall"));
    assert_eq!(
        element(&body, "Message").as_deref(),
        Some("Your proposed upload is smaller than the minimum allowed size")
    );
    assert_eq!(element(&body, "ProposedSize").as_deref(), Some("1048576"));
    assert_eq!(element(&body, "MinSizeAllowed").as_deref(), Some("5242880"));
    assert_eq!(element(&body, "PartNumber").as_deref(), Some("1"));
    assert_eq!(
        element(&body, "ETag").as_deref(),
        Some(parts[0].e_tag().unwrap().trim_matches('"'))
    );

    let wrong = vec![
        parts[0].clone(),
        CompletedPart::builder()
            .part_number(2)
            .e_tag("\"0123456789abcdef0123456789abcdef\"")
            .build(),
    ];
    let (status, body) = complete(&s3, &id, wrong).await;
    assert_eq!(status, 400);
    assert_eq!(element(&body, "Code").as_deref(), Some("InvalidPart"));
    assert_eq!(
        element(&body, "Message").as_deref(),
        Some(
            "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
        )
    );
    assert_eq!(element(&body, "UploadId").as_deref(), Some(id.as_str()));
    assert_eq!(element(&body, "PartNumber").as_deref(), Some("2"));
    assert_eq!(
        element(&body, "ETag").as_deref(),
        Some("\"0123456789abcdef0123456789abcdef\"")
    );

    let missing = vec![
        parts[0].clone(),
        CompletedPart::builder()
            .part_number(7)
            .e_tag(parts[1].e_tag().unwrap())
            .build(),
    ];
    assert_eq!(
        element(&complete(&s3, &id, missing).await.1, "Code").as_deref(),
        Some("InvalidPart")
    );

    let (status, body) = complete(&s3, &id, vec![parts[1].clone(), parts[0].clone()]).await;
    assert_eq!(status, 400);
    assert_eq!(element(&body, "Code").as_deref(), Some("InvalidPartOrder"));
    assert_eq!(
        element(&body, "Message").as_deref(),
        Some("The list of parts was not in ascending order. Parts must be ordered by part number.")
    );

    let (status, body) = complete(&s3, &id, vec![]).await;
    assert_eq!(status, 400);
    assert_eq!(element(&body, "Code").as_deref(), Some("MalformedXML"));

    // None of these ended the upload.
    assert_eq!(
        s3.list_parts()
            .bucket(BUCKET)
            .key("mp")
            .upload_id(&id)
            .send()
            .await
            .unwrap()
            .parts()
            .len(),
        2
    );
}

#[tokio::test]
async fn unknown_aborted_and_completed_uploads_are_no_such_upload() {
    let store = TestStore::start().await;
    let s3 = store.client();
    let check = |result: (u16, String), id: &str| {
        assert_eq!(result.0, 404);
        assert_eq!(element(&result.1, "Code").as_deref(), Some("NoSuchUpload"));
        assert_eq!(
            element(&result.1, "Message").as_deref(),
            Some(
                "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
            )
        );
        assert_eq!(element(&result.1, "UploadId").as_deref(), Some(id));
    };
    let bogus = "0123456789abcdef0123456789abcdef";
    let err = s3
        .upload_part()
        .bucket(BUCKET)
        .key("mp")
        .upload_id(bogus)
        .part_number(1)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    check(raw_error(&err), bogus);
    let err = s3
        .list_parts()
        .bucket(BUCKET)
        .key("mp")
        .upload_id("../../etc")
        .send()
        .await
        .unwrap_err();
    check(raw_error(&err), "../../etc");

    let (id, parts) = two_part_upload(&s3, 5 * MIB).await;
    s3.abort_multipart_upload()
        .bucket(BUCKET)
        .key("mp")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    let err = s3
        .abort_multipart_upload()
        .bucket(BUCKET)
        .key("mp")
        .upload_id(&id)
        .send()
        .await
        .unwrap_err();
    check(raw_error(&err), &id);
    check(complete(&s3, &id, parts).await, &id);

    // A completed upload answers a repeated Complete of the same parts as the first time (a
    // client that lost the answer retries), and any other part list as gone.
    let (id, parts) = two_part_upload(&s3, 5 * MIB).await;
    let first = complete(&s3, &id, parts.clone()).await;
    assert_eq!(first.0, 200);
    let again = complete(&s3, &id, parts.clone()).await;
    assert_eq!(again.0, 200);
    assert_eq!(element(&again.1, "ETag"), element(&first.1, "ETag"));
    check(complete(&s3, &id, parts[..1].to_vec()).await, &id);
}

#[tokio::test]
async fn sigv2_and_anonymous_are_refused() {
    let store = TestStore::start().await;
    let v2 = raw(
        store.addr(),
        "GET",
        &format!("/{BUCKET}/k"),
        &[
            (
                "authorization",
                &format!("AWS {AK}:frJIUN8DYpKDtOLCwo//yllqDzg="),
            ),
            ("date", "Tue, 27 Mar 2007 19:36:42 +0000"),
        ],
        b"",
    )
    .await;
    assert_eq!(v2.status, 400);
    assert_eq!(v2.code().as_deref(), Some("InvalidRequest"));
    assert_eq!(
        v2.message().as_deref(),
        Some(
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
        )
    );
    let v2_query = raw(
        store.addr(),
        "GET",
        &format!("/{BUCKET}/k?AWSAccessKeyId={AK}&Expires=1893456000&Signature=abc%3D"),
        &[],
        b"",
    )
    .await;
    assert_eq!(
        (v2_query.status, v2_query.code().as_deref()),
        (400, Some("InvalidRequest"))
    );

    let anonymous = raw(store.addr(), "GET", &format!("/{BUCKET}/k"), &[], b"").await;
    assert_eq!(
        (anonymous.status, anonymous.code().as_deref()),
        (403, Some("AccessDenied"))
    );
    let anonymous_put = raw(store.addr(), "PUT", &format!("/{BUCKET}/k"), &[], b"data").await;
    assert_eq!(anonymous_put.status, 403);
    let anonymous_list = raw(store.addr(), "GET", "/", &[], b"").await;
    assert_eq!(anonymous_list.status, 403);
}

#[tokio::test]
async fn temporary_credentials_expire_with_expired_token() {
    let store = TestStore::start().await;
    let temp = store
        .handle
        .issue_temporary_credentials(Duration::from_secs(60));
    let s3 = client_for(
        &store.handle.endpoint(),
        &temp.access_key_id,
        &temp.secret_access_key,
        Some(temp.session_token.clone()),
        false,
    );
    s3.put_object()
        .bucket(BUCKET)
        .key("t")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    // Two minutes later on the store's clock (well within the skew allowance).
    store
        .handle
        .set_faults(Faults {
            clock_offset_secs: 120,
            ..Faults::default()
        })
        .unwrap();
    let err = s3
        .get_object()
        .bucket(BUCKET)
        .key("t")
        .send()
        .await
        .unwrap_err();
    let (status, body) = raw_error(&err);
    assert_eq!(status, 400);
    assert_eq!(element(&body, "Code").as_deref(), Some("ExpiredToken"));
    assert_eq!(
        element(&body, "Message").as_deref(),
        Some("The provided token has expired.")
    );

    // A URL presigned with them dies with them, whatever X-Amz-Expires says.
    store.handle.set_faults(Faults::default()).unwrap();
    let url = s3
        .get_object()
        .bucket(BUCKET)
        .key("t")
        .presigned(presign_config(SystemTime::now(), Duration::from_secs(3600)))
        .await
        .unwrap();
    assert_eq!(send_presigned(store.addr(), &url, b"").await.status, 200);
    store
        .handle
        .set_faults(Faults {
            clock_offset_secs: 120,
            ..Faults::default()
        })
        .unwrap();
    assert_eq!(
        send_presigned(store.addr(), &url, b"")
            .await
            .code()
            .as_deref(),
        Some("ExpiredToken")
    );

    // Without the session token they are refused.
    store.handle.set_faults(Faults::default()).unwrap();
    let tokenless = client_for(
        &store.handle.endpoint(),
        &temp.access_key_id,
        &temp.secret_access_key,
        None,
        false,
    );
    assert_eq!(
        raw_error(
            &tokenless
                .get_object()
                .bucket(BUCKET)
                .key("t")
                .send()
                .await
                .unwrap_err()
        )
        .0,
        403
    );
}

#[tokio::test]
async fn keys_that_would_escape_are_refused() {
    let store = TestStore::start().await;
    let s3 = store.client();
    for key in ["../escape", "a/../../escape", "/absolute", "nul\0byte"] {
        let err = s3
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap_err();
        let (status, body) = raw_error(&err);
        assert_eq!(status, 400, "{key:?}: {body}");
        assert_eq!(
            element(&body, "Code").as_deref(),
            Some("InvalidArgument"),
            "{key:?}"
        );
    }
    let long = "k".repeat(1025);
    let err = s3
        .put_object()
        .bucket(BUCKET)
        .key(&long)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    let (status, body) = raw_error(&err);
    assert_eq!(status, 400);
    assert_eq!(element(&body, "Code").as_deref(), Some("KeyTooLongError"));
    // Nothing was written outside the data directory.
    assert!(!store.dir.path().parent().unwrap().join("escape").exists());
}

#[tokio::test]
async fn payload_hash_mismatch_is_refused_and_nothing_is_stored() {
    let store = TestStore::start().await;
    let s3 = store.client();
    let url = s3
        .put_object()
        .bucket(BUCKET)
        .key("hashed")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap();
    let target = url
        .uri()
        .split_once(&store.addr().to_string())
        .unwrap()
        .1
        .to_owned();
    // The SHA-256 of the empty string, sent with a body that is not empty.
    let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let answer = raw(
        store.addr(),
        "PUT",
        &target,
        &[("x-amz-content-sha256", empty)],
        b"not empty",
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert_eq!(answer.code().as_deref(), Some("XAmzContentSHA256Mismatch"));
    assert!(
        s3.head_object()
            .bucket(BUCKET)
            .key("hashed")
            .send()
            .await
            .is_err()
    );
}
