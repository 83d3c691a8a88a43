//! hoist-s3 against the real embedded store on port 0: every control call, typed errors,
//! and the clock learnt from the store's answers.

use hoist_core::checksum::{ChecksumAlgorithm, ChecksumType, PartChecksum, object_checksum};
use hoist_core::credentials::Credentials;
use hoist_core::error::S3ErrorCode;
use hoist_core::presign::{Endpoint, PresignRequest};
use hoist_core::s3::{CompletedPart, CorsRule, SentPart, WriteCondition, check_parts};
use hoist_s3::{Bucket, CreateMultipart, CredentialSource, Http, HttpOptions, WholeChecksum};
use hoist_store::{Faults, Store, StoreConfig, StoreHandle};

const MIB: usize = 1 << 20;

async fn start() -> (StoreHandle, tempfile::TempDir, Bucket) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::spawn(
        StoreConfig::new(dir.path()).with_bucket("hoist-s3-test"),
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let c = store.credentials();
    let creds = CredentialSource::fixed(Credentials::new(
        c.access_key_id.clone(),
        c.secret_access_key.clone(),
    ));
    let endpoint = Endpoint::parse(&store.endpoint(), "us-east-1").unwrap();
    let http = Http::new(&HttpOptions::default()).unwrap();
    let bucket = Bucket::new(http, endpoint, "hoist-s3-test", creds);
    (store, dir, bucket)
}

async fn put_part(bucket: &Bucket, key: &str, id: &str, n: u32, data: &[u8], sum: &str) -> String {
    let url = bucket
        .presign(
            &PresignRequest::upload_part("hoist-s3-test", key, id, n)
                .content_length(data.len() as u64)
                .header("x-amz-checksum-crc64nvme", sum),
        )
        .unwrap();
    let rb = bucket
        .http()
        .request("UploadPart", url.method.as_str(), &url.url, &url.headers)
        .unwrap()
        .body(data.to_vec());
    let a = bucket.http().send("UploadPart", rb).await.unwrap();
    let a = a.into_result("UploadPart").unwrap();
    a.header("etag").unwrap().to_owned()
}

#[tokio::test]
async fn a_checksummed_multipart_upload_end_to_end() {
    let (_store, _dir, bucket) = start().await;
    let alg = ChecksumAlgorithm::Crc64Nvme;
    let id = bucket
        .create_multipart(
            "k",
            &CreateMultipart {
                content_type: Some("application/x-test".into()),
                checksum: Some((alg, ChecksumType::FullObject)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let data: Vec<u8> = (0..11 * MIB).map(|i| (i % 251) as u8).collect();
    let chunks: Vec<&[u8]> = data.chunks(5 * MIB).collect();
    let mut parts = Vec::new();
    let mut sums = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        let sum = PartChecksum::of(alg, c);
        let b64 = sum.checksum.to_base64();
        let etag = put_part(&bucket, "k", &id, i as u32 + 1, c, &b64).await;
        parts.push(CompletedPart::new(i as u32 + 1, etag).with_checksum(alg, b64));
        sums.push(sum);
    }
    let listed = bucket.list_parts("k", &id).await.unwrap();
    assert_eq!(listed.parts.len(), 3);
    assert_eq!(listed.checksum_algorithm, Some(alg));
    assert_eq!(listed.checksum_type, Some(ChecksumType::FullObject));
    assert_eq!(listed.parts[2].size, MIB as u64);
    assert_eq!(listed.parts[0].checksum, parts[0].checksum);

    let whole = object_checksum(ChecksumType::FullObject, &sums).unwrap();
    assert_eq!(whole, alg.digest(&data).to_base64());
    let done = bucket
        .complete(
            "k",
            &id,
            &parts,
            Some(WholeChecksum {
                algorithm: alg,
                value: &whole,
                kind: ChecksumType::FullObject,
            }),
        )
        .await
        .unwrap();
    assert!(done.etag.ends_with("-3\""), "{}", done.etag);

    let head = bucket.head_object("k").await.unwrap().unwrap();
    assert_eq!(head.size, data.len() as u64);
    assert_eq!(head.checksum, Some((alg, whole)));
    assert_eq!(head.content_type.as_deref(), Some("application/x-test"));
    assert_eq!(bucket.head_object("missing").await.unwrap(), None);

    // GetObjectAttributes lists the parts as they were sent, and they check out.
    let attrs = bucket.object_attributes("k").await.unwrap().unwrap();
    assert_eq!(attrs.parts_count, Some(3));
    assert_eq!(attrs.size, Some(data.len() as u64));
    let sizes: Vec<u64> = attrs.parts.iter().map(|p| p.size).collect();
    assert_eq!(sizes, [5 * MIB as u64, 5 * MIB as u64, MIB as u64]);
    let sent: Vec<SentPart> = parts
        .iter()
        .zip(&chunks)
        .map(|(p, c)| SentPart {
            number: p.part_number,
            size: c.len() as u64,
            checksum: p.checksum.clone(),
        })
        .collect();
    assert_eq!(check_parts(&sent, attrs.parts_count, &attrs.parts), Ok(()));
    assert!(check_parts(&sent[..2], attrs.parts_count, &attrs.parts).is_err());
    assert_eq!(bucket.object_attributes("missing").await.unwrap(), None);

    // The upload is gone now: a typed, final error.
    let err = bucket.list_parts("k", &id).await.unwrap_err();
    assert!(err.is_no_such_upload(), "{err}");
    assert_eq!(err.verdict(), hoist_s3::Verdict::Fatal);
    assert_eq!(err.status(), Some(404));
}

#[tokio::test]
async fn a_wrong_object_checksum_is_refused_and_the_upload_kept() {
    let (_store, _dir, bucket) = start().await;
    let alg = ChecksumAlgorithm::Crc64Nvme;
    let id = bucket
        .create_multipart(
            "k",
            &CreateMultipart {
                checksum: Some((alg, ChecksumType::FullObject)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let sum = alg.digest(b"hello").to_base64();
    let etag = put_part(&bucket, "k", &id, 1, b"hello", &sum).await;
    let wrong = alg.digest(b"other").to_base64();
    let err = bucket
        .complete(
            "k",
            &id,
            &[CompletedPart::new(1, etag)],
            Some(WholeChecksum {
                algorithm: alg,
                value: &wrong,
                kind: ChecksumType::FullObject,
            }),
        )
        .await
        .unwrap_err();
    assert!(err.is(&S3ErrorCode::BadDigest), "{err}");
    assert_eq!(err.status(), Some(400));
    assert_eq!(bucket.list_parts("k", &id).await.unwrap().parts.len(), 1);
    let uploads = bucket.list_uploads(None).await.unwrap();
    assert_eq!(uploads.len(), 1);
    bucket.abort("k", &id).await.unwrap();
    assert!(bucket.list_uploads(Some("k")).await.unwrap().is_empty());
}

#[tokio::test]
async fn bucket_rules_are_merged_not_replaced() {
    let (_store, _dir, bucket) = start().await;
    assert_eq!(bucket.cors().await.unwrap(), None);
    let rule = CorsRule::for_uploads("page", vec!["http://a.example".into()]);
    assert!(bucket.ensure_cors_rule(rule.clone()).await.unwrap());
    assert!(
        !bucket.ensure_cors_rule(rule).await.unwrap(),
        "already there"
    );
    let other = CorsRule::for_uploads("other", vec!["http://b.example".into()]);
    assert!(bucket.ensure_cors_rule(other).await.unwrap());
    assert_eq!(bucket.cors().await.unwrap().unwrap().rules.len(), 2);
    assert!(
        bucket
            .ensure_abort_incomplete_rule("abort", 1)
            .await
            .unwrap()
    );
    assert!(
        !bucket
            .ensure_abort_incomplete_rule("abort", 1)
            .await
            .unwrap()
    );
    assert_eq!(bucket.lifecycle().await.unwrap().unwrap().rules.len(), 1);
    bucket.head_bucket().await.unwrap();
}

#[tokio::test]
async fn updates_say_what_changed_and_write_only_changes() {
    let (_store, _dir, bucket) = start().await;
    let app = "http://a.example";
    // No rules, and nothing to amend: nothing is written.
    assert_eq!(
        bucket
            .update_cors(|c| c.amend_for_uploads(app))
            .await
            .unwrap(),
        None
    );
    assert_eq!(bucket.cors().await.unwrap(), None);
    // A rule of the bucket's owner already answers the origin's PUTs: it is amended in place.
    let owners = CorsRule {
        id: Some("web".into()),
        allowed_origins: vec!["*".into()],
        allowed_methods: vec!["GET".into(), "PUT".into()],
        ..Default::default()
    };
    bucket.ensure_cors_rule(owners).await.unwrap();
    let changes = bucket
        .update_cors(|c| c.amend_for_uploads(app))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changes.len(), 2, "{changes:?}");
    let rules = bucket.cors().await.unwrap().unwrap().rules;
    assert_eq!(rules.len(), 1);
    assert!(rules[0].exposes("ETag") && rules[0].allows_header("content-type"));
    let again = bucket
        .update_cors(|c| c.amend_for_uploads(app))
        .await
        .unwrap();
    assert_eq!(again, Some(vec![]));
    let added = bucket
        .update_lifecycle(|c| c.ensure_abort_rule("abort", 2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((added.days, added.kept), (2, 0));
    assert_eq!(
        bucket
            .lifecycle()
            .await
            .unwrap()
            .unwrap()
            .abort_rule()
            .unwrap()
            .abort_incomplete_multipart_upload_days,
        Some(2)
    );
}

#[tokio::test]
async fn the_clock_follows_the_store_and_signatures_stay_valid() {
    let (store, _dir, bucket) = start().await;
    bucket.measure_clock(false).await.unwrap();
    assert!(bucket.clock().offset().millis.abs() < 1_500);
    // The store's clock jumps two hours ahead: the next answer corrects ours.
    store
        .set_faults(Faults {
            clock_offset_secs: 7_200,
            ..Default::default()
        })
        .unwrap();
    let _ = bucket.head_bucket().await;
    let off = bucket.clock().offset().millis;
    assert!((7_198_000..=7_202_000).contains(&off), "{off}");
    // Signed with corrected time, control calls work again.
    bucket.head_bucket().await.unwrap();
    let m = bucket.measure_clock(true).await.unwrap();
    assert!(m.bounds.uncertainty_ms() <= 50, "{m:?}");
    assert!((m.bounds.estimate_ms() - 7_200_000).abs() <= 60, "{m:?}");
}

#[tokio::test]
async fn a_complete_if_absent_refuses_to_replace_and_repeats_as_the_first() {
    let (_store, _dir, bucket) = start().await;
    let absent = Some(&WriteCondition::IfAbsent);
    let mut uploads = Vec::new();
    for body in [b"first", b"other"] {
        let id = bucket
            .create_multipart("k", &CreateMultipart::default())
            .await
            .unwrap();
        let sum = ChecksumAlgorithm::Crc64Nvme.digest(body).to_base64();
        let etag = put_part(&bucket, "k", &id, 1, body, &sum).await;
        uploads.push((id, vec![CompletedPart::new(1, etag)]));
    }
    let (one, two) = (&uploads[0], &uploads[1]);
    let done = bucket
        .complete_if("k", &one.0, &one.1, None, absent)
        .await
        .unwrap();
    // Repeated after a lost answer: the same answer, though the object now exists.
    let again = bucket
        .complete_if("k", &one.0, &one.1, None, absent)
        .await
        .unwrap();
    assert_eq!(again.etag, done.etag);
    // Another upload of the key: refused, 412 or (written since it began) 409.
    let err = bucket
        .complete_if("k", &two.0, &two.1, None, absent)
        .await
        .unwrap_err();
    assert!(
        err.is(&S3ErrorCode::PreconditionFailed)
            || err.is(&S3ErrorCode::ConditionalRequestConflict),
        "{err}"
    );
    assert_eq!(bucket.head_object("k").await.unwrap().unwrap().size, 5);
    assert_eq!(
        bucket.head_object("k").await.unwrap().unwrap().etag,
        done.etag
    );
}

/// A listing of the probe objects' prefix is empty.
async fn assert_no_probe_left(bucket: &Bucket) {
    let req = PresignRequest::new(hoist_core::presign::Method::Get, "hoist-s3-test", "")
        .query_param("list-type", "2")
        .query_param("prefix", hoist_s3::conditional::PROBE_PREFIX);
    let listed = bucket.send("ListObjectsV2", req, Vec::new()).await.unwrap();
    let body = String::from_utf8_lossy(&listed.body);
    assert!(!body.contains("<Key>"), "{body}");
}

#[tokio::test]
async fn the_embedded_store_honours_conditional_writes_and_the_probe_leaves_nothing() {
    let (_store, _dir, bucket) = start().await;
    let verdict = bucket.probe_conditional_writes().await.unwrap();
    assert_eq!(verdict, hoist_s3::ConditionalWrites::Honoured, "{verdict}");
    assert!(verdict.honoured());
    // The probe object is gone.
    assert_no_probe_left(&bucket).await;
}

#[tokio::test]
async fn a_probe_delete_answered_503_is_sent_again_and_leaves_nothing() {
    let (store, _dir, bucket) = start().await;
    // Three in ten requests answered 503 SlowDown, in the same order every run. A probe whose
    // PUTs meet one fails (no verdict, asked again later); one that got its verdict must not
    // leave its object behind when the DELETE meets one.
    store
        .set_faults(hoist_store::Faults {
            slow_down_fraction: 0.3,
            seed: Some(7),
            ..hoist_store::Faults::default()
        })
        .unwrap();
    let mut verdicts = 0;
    for _ in 0..30 {
        if let Ok(verdict) = bucket.probe_conditional_writes().await {
            assert!(verdict.honoured(), "{verdict}");
            verdicts += 1;
        }
    }
    assert!(verdicts >= 5, "{verdicts} of 30 probes got a verdict");
    store.set_faults(hoist_store::Faults::default()).unwrap();
    assert_no_probe_left(&bucket).await;
}
