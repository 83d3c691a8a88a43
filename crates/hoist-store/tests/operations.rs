//! The S3 operations, driven by the AWS SDK for Rust against a store on port 0.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ChecksumAlgorithm, ChecksumMode,
    ChecksumType, CompletedMultipartUpload, CompletedPart, ExpirationStatus, LifecycleRule,
    LifecycleRuleFilter,
};
use common::*;

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn bucket_lifecycle_of_create_head_list_delete() {
    let store = TestStore::start().await;
    let s3 = store.client();
    s3.create_bucket()
        .bucket("second-bucket")
        .send()
        .await
        .unwrap();
    s3.head_bucket()
        .bucket("second-bucket")
        .send()
        .await
        .unwrap();
    let names: Vec<String> = s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect();
    assert_eq!(names, vec!["second-bucket".to_owned(), BUCKET.to_owned()]);

    // In us-east-1, S3 answers 200 to creating a bucket you already own.
    s3.create_bucket()
        .bucket("second-bucket")
        .send()
        .await
        .unwrap();

    s3.put_object()
        .bucket("second-bucket")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let not_empty = s3
        .delete_bucket()
        .bucket("second-bucket")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        element(&raw_error(&not_empty).1, "Code").as_deref(),
        Some("BucketNotEmpty")
    );
    s3.delete_object()
        .bucket("second-bucket")
        .key("k")
        .send()
        .await
        .unwrap();
    s3.delete_bucket()
        .bucket("second-bucket")
        .send()
        .await
        .unwrap();
    let gone = s3
        .head_bucket()
        .bucket("second-bucket")
        .send()
        .await
        .unwrap_err();
    assert_eq!(raw_error(&gone).0, 404);

    let missing = s3
        .list_objects_v2()
        .bucket("no-such-bucket")
        .send()
        .await
        .unwrap_err();
    let (status, body) = raw_error(&missing);
    assert_eq!(status, 404);
    assert_eq!(element(&body, "Code").as_deref(), Some("NoSuchBucket"));
    assert_eq!(
        element(&body, "Message").as_deref(),
        Some("The specified bucket does not exist")
    );
    assert_eq!(
        element(&body, "BucketName").as_deref(),
        Some("no-such-bucket")
    );
}

#[tokio::test]
async fn put_get_range_head_delete() {
    let store = TestStore::start().await;
    let s3 = store.client();
    let data = bytes_of(300_000, 1);
    let put = s3
        .put_object()
        .bucket(BUCKET)
        .key("dir/file name ሴ.bin")
        .content_type("application/x-test")
        .metadata("owner", "tests")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.e_tag(),
        Some(format!("\"{}\"", md5_hex(&data)).as_str())
    );

    let got = s3
        .get_object()
        .bucket(BUCKET)
        .key("dir/file name ሴ.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("application/x-test"));
    assert_eq!(
        got.metadata().unwrap().get("owner").map(String::as_str),
        Some("tests")
    );
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        &data[..]
    );

    let ranged = s3
        .get_object()
        .bucket(BUCKET)
        .key("dir/file name ሴ.bin")
        .range("bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.content_range(), Some("bytes 100-199/300000"));
    assert_eq!(
        ranged.body.collect().await.unwrap().into_bytes().as_ref(),
        &data[100..200]
    );
    let suffix = s3
        .get_object()
        .bucket(BUCKET)
        .key("dir/file name ሴ.bin")
        .range("bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(
        suffix.body.collect().await.unwrap().into_bytes().as_ref(),
        &data[data.len() - 10..]
    );
    let bad_range = s3
        .get_object()
        .bucket(BUCKET)
        .key("dir/file name ሴ.bin")
        .range("bytes=400000-")
        .send()
        .await
        .unwrap_err();
    assert_eq!(raw_error(&bad_range).0, 416);

    let head = s3
        .head_object()
        .bucket(BUCKET)
        .key("dir/file name ሴ.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(300_000));

    // Overwrite, then delete.
    s3.put_object()
        .bucket(BUCKET)
        .key("dir/file name ሴ.bin")
        .body(ByteStream::from_static(b"short"))
        .send()
        .await
        .unwrap();
    assert_eq!(object_bytes(&s3, "dir/file name ሴ.bin").await, b"short");
    s3.delete_object()
        .bucket(BUCKET)
        .key("dir/file name ሴ.bin")
        .send()
        .await
        .unwrap();
    let missing = s3
        .get_object()
        .bucket(BUCKET)
        .key("dir/file name ሴ.bin")
        .send()
        .await
        .unwrap_err();
    let (status, body) = raw_error(&missing);
    assert_eq!(status, 404);
    assert_eq!(element(&body, "Code").as_deref(), Some("NoSuchKey"));
    assert_eq!(
        element(&body, "Message").as_deref(),
        Some("The specified key does not exist.")
    );
    assert_eq!(
        element(&body, "Key").as_deref(),
        Some("dir/file name ሴ.bin")
    );
    // Deleting again still succeeds, as in S3.
    s3.delete_object()
        .bucket(BUCKET)
        .key("dir/file name ሴ.bin")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn list_objects_v2_paginates_and_groups() {
    let store = TestStore::start().await;
    let s3 = store.client();
    for key in ["a/1", "a/2", "b/1", "c", "d", "e"] {
        s3.put_object()
            .bucket(BUCKET)
            .key(key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(BUCKET)
            .max_keys(2)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        assert!(page.key_count().unwrap() <= 2);
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        token = page.next_continuation_token().map(str::to_owned);
        if !page.is_truncated().unwrap() {
            break;
        }
    }
    assert_eq!(keys, ["a/1", "a/2", "b/1", "c", "d", "e"]);

    let grouped = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = grouped
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["a/", "b/"]);
    let top: Vec<&str> = grouped.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(top, ["c", "d", "e"]);

    // ListObjects (v1) pages with Marker.
    let v1 = s3
        .list_objects()
        .bucket(BUCKET)
        .max_keys(4)
        .send()
        .await
        .unwrap();
    assert_eq!(v1.is_truncated(), Some(true));
    let last = v1
        .contents()
        .last()
        .and_then(|o| o.key())
        .unwrap()
        .to_owned();
    let rest = s3
        .list_objects()
        .bucket(BUCKET)
        .marker(&last)
        .send()
        .await
        .unwrap();
    let rest_keys: Vec<&str> = rest.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(rest_keys, ["d", "e"]);

    let in_a = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("a/")
        .send()
        .await
        .unwrap();
    assert_eq!(in_a.key_count(), Some(2));

    let delete = aws_sdk_s3::types::Delete::builder()
        .objects(
            aws_sdk_s3::types::ObjectIdentifier::builder()
                .key("a/1")
                .build()
                .unwrap(),
        )
        .objects(
            aws_sdk_s3::types::ObjectIdentifier::builder()
                .key("never-existed")
                .build()
                .unwrap(),
        )
        .objects(
            aws_sdk_s3::types::ObjectIdentifier::builder()
                .key("../bad")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let out = s3
        .delete_objects()
        .bucket(BUCKET)
        .delete(delete)
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 2);
    assert_eq!(out.errors().len(), 1);
    assert_eq!(out.errors()[0].code(), Some("InvalidArgument"));
    let left = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("a/")
        .send()
        .await
        .unwrap();
    assert_eq!(left.key_count(), Some(1));
}

#[tokio::test]
async fn multipart_etag_replacement_and_listing() {
    let store = TestStore::start().await;
    let s3 = store.client();
    let key = "big/object.bin";
    let id = create_upload(&s3, key).await;
    let p1 = bytes_of(5 * MIB, 11);
    let p2_first = bytes_of(5 * MIB, 12);
    let p2 = bytes_of(5 * MIB, 22);
    let p3 = bytes_of(1234, 13);
    upload_part(&s3, key, &id, 1, p1.clone()).await;
    upload_part(&s3, key, &id, 2, p2_first).await;
    // Re-uploading a part number replaces it.
    let c2 = upload_part(&s3, key, &id, 2, p2.clone()).await;
    assert_eq!(c2.e_tag(), Some(format!("\"{}\"", md5_hex(&p2)).as_str()));
    upload_part(&s3, key, &id, 3, p3.clone()).await;

    let page = s3
        .list_parts()
        .bucket(BUCKET)
        .key(key)
        .upload_id(&id)
        .max_parts(2)
        .send()
        .await
        .unwrap();
    assert_eq!(page.parts().len(), 2);
    assert_eq!(page.is_truncated(), Some(true));
    assert_eq!(page.next_part_number_marker(), Some("2"));
    let rest = s3
        .list_parts()
        .bucket(BUCKET)
        .key(key)
        .upload_id(&id)
        .part_number_marker("2")
        .send()
        .await
        .unwrap();
    assert_eq!(rest.parts().len(), 1);
    assert_eq!(rest.parts()[0].size(), Some(1234));
    assert_eq!(rest.is_truncated(), Some(false));

    let listed = s3
        .list_multipart_uploads()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.uploads().len(), 1);
    assert_eq!(listed.uploads()[0].upload_id(), Some(id.as_str()));
    assert!(listed.uploads()[0].initiated().is_some());

    let parts: Vec<CompletedPart> = [(1, &p1), (2, &p2), (3, &p3)]
        .iter()
        .map(|(n, d)| {
            CompletedPart::builder()
                .part_number(*n)
                .e_tag(format!("\"{}\"", md5_hex(d)))
                .build()
        })
        .collect();
    let done = s3
        .complete_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    // S3's rule: md5 of the concatenated binary part md5s, then -N.
    let mut md5s = Vec::new();
    for d in [&p1, &p2, &p3] {
        use md5::Digest as _;
        md5s.extend_from_slice(&md5::Md5::digest(d));
    }
    assert_eq!(
        done.e_tag(),
        Some(format!("\"{}-3\"", md5_hex(&md5s)).as_str())
    );
    let got = s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(got.parts_count(), Some(3));
    let body = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(body.len(), p1.len() + p2.len() + p3.len());
    assert_eq!(md5_hex(&body), md5_hex(&[p1, p2, p3].concat()));
    // The completed upload is gone.
    assert!(
        s3.list_multipart_uploads()
            .bucket(BUCKET)
            .send()
            .await
            .unwrap()
            .uploads()
            .is_empty()
    );
}

#[tokio::test]
async fn list_multipart_uploads_paginates() {
    let store = TestStore::start().await;
    let s3 = store.client();
    let mut ids = Vec::new();
    for key in ["k1", "k2", "k2", "k3"] {
        let out = s3
            .create_multipart_upload()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .unwrap();
        ids.push(out.upload_id().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let (mut key_marker, mut id_marker) = (None, None);
    loop {
        let page = s3
            .list_multipart_uploads()
            .bucket(BUCKET)
            .max_uploads(1)
            .set_key_marker(key_marker)
            .set_upload_id_marker(id_marker)
            .send()
            .await
            .unwrap();
        seen.extend(
            page.uploads()
                .iter()
                .map(|u| u.upload_id().unwrap().to_owned()),
        );
        if !page.is_truncated().unwrap() {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        id_marker = page.next_upload_id_marker().map(str::to_owned);
    }
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);
}

#[tokio::test]
async fn sdk_default_checksums_work() {
    let store = TestStore::start().await;
    let s3 = store.client_with_checksums();
    let data = bytes_of(1_000_000, 5);
    // The SDK sends an aws-chunked body with a CRC32 trailer and validates the answer.
    s3.put_object()
        .bucket(BUCKET)
        .key("crc")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket(BUCKET)
        .key("crc")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert!(got.checksum_crc32().is_some());
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        &data[..]
    );

    for algorithm in [
        ChecksumAlgorithm::Crc32C,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ] {
        let key = format!("sum-{}", algorithm.as_str());
        let put = s3
            .put_object()
            .bucket(BUCKET)
            .key(&key)
            .checksum_algorithm(algorithm.clone())
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        let head = s3
            .head_object()
            .bucket(BUCKET)
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let (sent, stored) = match algorithm {
            ChecksumAlgorithm::Crc32C => (put.checksum_crc32_c(), head.checksum_crc32_c()),
            ChecksumAlgorithm::Crc64Nvme => (put.checksum_crc64_nvme(), head.checksum_crc64_nvme()),
            ChecksumAlgorithm::Sha1 => (put.checksum_sha1(), head.checksum_sha1()),
            _ => (put.checksum_sha256(), head.checksum_sha256()),
        };
        assert!(sent.is_some(), "{key}: no checksum returned");
        assert_eq!(sent, stored, "{key}");
    }
}

#[tokio::test]
async fn wrong_checksum_is_bad_digest() {
    let store = TestStore::start().await;
    let s3 = store.client();
    // The CRC32 of "a different body", sent with this body.
    let err = s3
        .put_object()
        .bucket(BUCKET)
        .key("bad")
        .checksum_crc32("AAAAAA==")
        .body(ByteStream::from_static(b"the real body"))
        .send()
        .await
        .unwrap_err();
    let (status, body) = raw_error(&err);
    assert_eq!(status, 400);
    assert_eq!(element(&body, "Code").as_deref(), Some("BadDigest"));
    let err = s3
        .put_object()
        .bucket(BUCKET)
        .key("bad")
        .content_md5("1B2M2Y8AsgTpgAmY7PhCfg==")
        .body(ByteStream::from_static(b"not empty"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        element(&raw_error(&err).1, "Code").as_deref(),
        Some("BadDigest")
    );
    // Nothing was stored.
    assert!(
        s3.head_object()
            .bucket(BUCKET)
            .key("bad")
            .send()
            .await
            .is_err()
    );
}

async fn multipart_with(
    s3: &aws_sdk_s3::Client,
    key: &str,
    algorithm: ChecksumAlgorithm,
    kind: Option<ChecksumType>,
) -> aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput {
    let created = s3
        .create_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .checksum_algorithm(algorithm.clone())
        .set_checksum_type(kind)
        .send()
        .await
        .unwrap();
    let id = created.upload_id().unwrap();
    let mut parts = Vec::new();
    for (n, data) in [(1, bytes_of(5 * MIB, 31)), (2, bytes_of(1000, 32))] {
        let out = s3
            .upload_part()
            .bucket(BUCKET)
            .key(key)
            .upload_id(id)
            .part_number(n)
            .checksum_algorithm(algorithm.clone())
            .body(ByteStream::from(data))
            .send()
            .await
            .unwrap();
        let mut part = CompletedPart::builder()
            .part_number(n)
            .e_tag(out.e_tag().unwrap());
        part = part
            .set_checksum_crc32(out.checksum_crc32().map(str::to_owned))
            .set_checksum_crc32_c(out.checksum_crc32_c().map(str::to_owned))
            .set_checksum_crc64_nvme(out.checksum_crc64_nvme().map(str::to_owned))
            .set_checksum_sha1(out.checksum_sha1().map(str::to_owned))
            .set_checksum_sha256(out.checksum_sha256().map(str::to_owned));
        parts.push(part.build());
    }
    s3.complete_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn multipart_checksums_composite_and_full_object() {
    let store = TestStore::start().await;
    let s3 = store.client_with_checksums();
    let whole = [bytes_of(5 * MIB, 31), bytes_of(1000, 32)].concat();

    let composite = multipart_with(&s3, "composite", ChecksumAlgorithm::Sha256, None).await;
    let value = composite.checksum_sha256().expect("a composite SHA-256");
    assert!(value.ends_with("-2"), "{value}");
    assert_eq!(composite.checksum_type(), Some(&ChecksumType::Composite));

    let full = multipart_with(
        &s3,
        "full",
        ChecksumAlgorithm::Crc32C,
        Some(ChecksumType::FullObject),
    )
    .await;
    assert_eq!(full.checksum_type(), Some(&ChecksumType::FullObject));
    // FULL_OBJECT equals the CRC32C of the whole object, as a single PUT would compute it.
    let single = s3
        .put_object()
        .bucket(BUCKET)
        .key("single")
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .body(ByteStream::from(whole))
        .send()
        .await
        .unwrap();
    assert_eq!(full.checksum_crc32_c(), single.checksum_crc32_c());
    let got = s3
        .get_object()
        .bucket(BUCKET)
        .key("full")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(got.checksum_crc32_c(), single.checksum_crc32_c());
}

#[tokio::test]
async fn cors_and_lifecycle_configuration_round_trip_and_sweep() {
    let store =
        TestStore::start_with(|c| c.with_lifecycle_day(std::time::Duration::from_millis(300)))
            .await;
    let s3 = store.client();
    let none = s3
        .get_bucket_lifecycle_configuration()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        element(&raw_error(&none).1, "Code").as_deref(),
        Some("NoSuchLifecycleConfiguration")
    );
    let rule = LifecycleRule::builder()
        .id("abort-stale")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(1)
                .build(),
        )
        .build()
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket(BUCKET)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let got = s3
        .get_bucket_lifecycle_configuration()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    let days = got.rules()[0]
        .abort_incomplete_multipart_upload()
        .and_then(|a| a.days_after_initiation());
    assert_eq!(days, Some(1));

    let id = s3
        .create_multipart_upload()
        .bucket(BUCKET)
        .key("stale")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    upload_part(&s3, "stale", &id, 1, bytes_of(100, 1)).await;
    // Not a "day" old yet: kept.
    assert_eq!(store.handle.sweep_lifecycle().await, 0);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(store.handle.sweep_lifecycle().await, 1);
    let gone = s3
        .list_parts()
        .bucket(BUCKET)
        .key("stale")
        .upload_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        element(&raw_error(&gone).1, "Code").as_deref(),
        Some("NoSuchUpload")
    );
}

#[tokio::test]
async fn sweeper_task_runs_on_its_own() {
    let store = TestStore::start_with(|c| {
        c.with_lifecycle_day(std::time::Duration::from_millis(100))
            .with_sweep_interval(std::time::Duration::from_millis(100))
    })
    .await;
    let s3 = store.client();
    let rule = LifecycleRule::builder()
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("tmp/").build())
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(1)
                .build(),
        )
        .build()
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket(BUCKET)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    s3.create_multipart_upload()
        .bucket(BUCKET)
        .key("tmp/x")
        .send()
        .await
        .unwrap();
    s3.create_multipart_upload()
        .bucket(BUCKET)
        .key("keep/y")
        .send()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let left: Vec<String> = s3
        .list_multipart_uploads()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap()
        .uploads()
        .iter()
        .filter_map(|u| u.key().map(str::to_owned))
        .collect();
    assert_eq!(left, ["keep/y"]);
}

/// Small bodies are gathered in memory and larger ones streamed: on either side of that bound
/// (and across it in many chunks, as aws-chunked trailers send it) the bytes, the ETag and the
/// flexible checksum are the body's own.
#[tokio::test]
async fn bodies_on_either_side_of_the_in_memory_bound_keep_their_bytes_and_sums() {
    let store = TestStore::start().await;
    for s3 in [store.client(), store.client_with_checksums()] {
        for size in [
            0,
            1,
            255 * 1024,
            256 * 1024,
            256 * 1024 + 1,
            300 * 1024,
            MIB + 3,
        ] {
            let data = bytes_of(size, size as u64);
            let key = format!("bound-{size}");
            let put = s3
                .put_object()
                .bucket(BUCKET)
                .key(&key)
                .checksum_algorithm(ChecksumAlgorithm::Crc32C)
                .body(ByteStream::from(data.clone()))
                .send()
                .await
                .unwrap();
            assert_eq!(
                put.e_tag(),
                Some(format!("\"{}\"", md5_hex(&data)).as_str()),
                "{key}"
            );
            // With checksum mode on, the SDK checks the stored CRC32C against the bytes.
            let got = s3
                .get_object()
                .bucket(BUCKET)
                .key(&key)
                .checksum_mode(ChecksumMode::Enabled)
                .send()
                .await
                .unwrap();
            assert_eq!(got.checksum_crc32_c(), put.checksum_crc32_c(), "{key}");
            assert_eq!(got.content_length(), Some(size as i64), "{key}");
            let body = got.body.collect().await.unwrap().into_bytes();
            assert!(body.as_ref() == &data[..], "{key}: the bytes differ");
        }
    }
}
