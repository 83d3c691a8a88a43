//! Multipart objects are their parts' files, linked at Complete rather than copied: reads
//! (whole and ranged) cross part boundaries byte-exactly, nothing is stored twice, a read
//! that began before a DELETE or an overwrite still gets the object it started with, and a
//! restart keeps the object and sweeps away links a crash left behind.

mod common;

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use common::{AK, BUCKET, SK, TestStore, client_for, create_upload, upload_part};
use hoist_store::{Credentials, Store, StoreConfig};

const MIB: usize = 1024 * 1024;

/// Bytes that differ at every offset, so a misplaced range cannot match by accident.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Uploads `sizes` as the parts of `key` and completes it; answers the whole object's bytes.
async fn multipart(s3: &aws_sdk_s3::Client, key: &str, sizes: &[usize]) -> Vec<u8> {
    let id = common::create_upload(s3, key).await;
    let mut whole = Vec::new();
    let mut done = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let n = i as i32 + 1;
        let data = pattern(size, n as u64 + key.len() as u64);
        whole.extend_from_slice(&data);
        done.push(common::upload_part(s3, key, &id, n, data).await);
    }
    s3.complete_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
    whole
}

async fn get_range(s3: &aws_sdk_s3::Client, key: &str, range: &str) -> (Vec<u8>, String) {
    let out = s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .range(range)
        .send()
        .await
        .unwrap();
    let content_range = out.content_range().unwrap_or_default().to_owned();
    (
        out.body.collect().await.unwrap().into_bytes().to_vec(),
        content_range,
    )
}

/// Bytes of distinct files (by inode) under `dir` whose name ends in `.data`.
fn data_bytes(dir: &Path) -> u64 {
    fn walk(dir: &Path, seen: &mut HashSet<u64>, total: &mut u64) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                walk(&entry.path(), seen, total);
            } else if entry.file_name().to_string_lossy().ends_with(".data")
                && seen.insert(meta.ino())
            {
                *total += meta.len();
            }
        }
    }
    let (mut seen, mut total) = (HashSet::new(), 0);
    walk(dir, &mut seen, &mut total);
    total
}

/// Inodes of the `.data` files directly in `dir`.
fn data_inodes(dir: &Path) -> HashSet<u64> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".data"))
        .map(|e| e.metadata().unwrap().ino())
        .collect()
}

fn objects_dir(root: &Path) -> std::path::PathBuf {
    root.join("buckets").join(BUCKET).join("objects")
}

fn data_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".data"))
        .count()
}

#[tokio::test]
async fn reads_cross_part_boundaries_and_nothing_is_stored_twice() {
    let store = TestStore::start().await;
    let s3 = store.client();
    let sizes = [5 * MIB, 5 * MIB + 17, 1234];
    let whole = multipart(&s3, "m/obj.bin", &sizes).await;
    let size = whole.len();
    let b1 = sizes[0];
    let b2 = sizes[0] + sizes[1];

    let got = s3
        .get_object()
        .bucket(BUCKET)
        .key("m/obj.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_length(), Some(size as i64));
    assert_eq!(got.parts_count(), Some(3));
    assert!(got.body.collect().await.unwrap().into_bytes() == whole);

    for (from, to) in [
        (0, 0),
        (b1 - 1, b1),
        (b1 - 10, b2 + 10),
        (b1, b1),
        (b2 - 1, size - 1),
        (b2, size - 1),
        (0, size - 1),
        (1, size - 2),
    ] {
        let (bytes, range) = get_range(&s3, "m/obj.bin", &format!("bytes={from}-{to}")).await;
        assert_eq!(range, format!("bytes {from}-{to}/{size}"));
        assert!(bytes == whole[from..=to], "range {from}-{to}");
    }
    let (tail, _) = get_range(&s3, "m/obj.bin", "bytes=-1300").await;
    assert!(tail == whole[size - 1300..]);
    let (open_end, _) = get_range(&s3, "m/obj.bin", &format!("bytes={}-", b1 + 3)).await;
    assert!(open_end == whole[b1 + 3..]);

    // The parts became the object: the data directory holds the bytes once, and the
    // upload's directory is gone.
    let root = store.dir.path();
    assert_eq!(data_bytes(root), size as u64);
    assert_eq!(
        std::fs::read_dir(root.join("uploads")).unwrap().count(),
        0,
        "the completed upload is still on disk"
    );

    // Complete writes no byte: the object's files are the very files the parts were
    // written to (the same inodes), not copies of them.
    let id = create_upload(&s3, "m/linked.bin").await;
    let done = vec![
        upload_part(&s3, "m/linked.bin", &id, 1, pattern(5 * MIB, 7)).await,
        upload_part(&s3, "m/linked.bin", &id, 2, pattern(99, 8)).await,
    ];
    let part_files = data_inodes(&root.join("uploads").join(&id));
    assert_eq!(part_files.len(), 2);
    let before = data_inodes(&objects_dir(root));
    s3.complete_multipart_upload()
        .bucket(BUCKET)
        .key("m/linked.bin")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let added: HashSet<u64> = data_inodes(&objects_dir(root))
        .difference(&before)
        .copied()
        .collect();
    assert_eq!(added, part_files, "Complete copied the parts");
    s3.delete_object()
        .bucket(BUCKET)
        .key("m/linked.bin")
        .send()
        .await
        .unwrap();

    // Overwriting and deleting let go of every file.
    let again = multipart(&s3, "m/obj.bin", &[5 * MIB, 10]).await;
    let (bytes, _) = get_range(&s3, "m/obj.bin", "bytes=0-").await;
    assert!(bytes == again);
    assert_eq!(data_bytes(root), again.len() as u64);
    s3.delete_object()
        .bucket(BUCKET)
        .key("m/obj.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(data_files(&objects_dir(root)), 0);
}

#[tokio::test]
async fn a_read_begun_before_a_delete_or_overwrite_gets_the_whole_object() {
    let store = TestStore::start().await;
    let s3 = store.client();
    let sizes = [5 * MIB, 5 * MIB, 5 * MIB, 3];
    let whole = multipart(&s3, "r/obj.bin", &sizes).await;
    let objects = objects_dir(store.dir.path());

    for replace in [false, true] {
        let out = s3
            .get_object()
            .bucket(BUCKET)
            .key("r/obj.bin")
            .send()
            .await
            .unwrap();
        let mut body = out.body;
        let mut got = Vec::new();
        // Take the first chunk, so the read is under way before the object goes.
        got.extend_from_slice(&body.next().await.unwrap().unwrap());
        if replace {
            s3.put_object()
                .bucket(BUCKET)
                .key("r/obj.bin")
                .body(ByteStream::from_static(b"replacement"))
                .send()
                .await
                .unwrap();
        } else {
            s3.delete_object()
                .bucket(BUCKET)
                .key("r/obj.bin")
                .send()
                .await
                .unwrap();
        }
        while let Some(chunk) = body.next().await {
            got.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(got.len(), whole.len());
        assert!(got == whole, "the read changed under a concurrent write");
        drop(body);
        // Once the reader is done, the old object's files go.
        let expect = usize::from(replace);
        let mut left = usize::MAX;
        for _ in 0..100 {
            left = data_files(&objects);
            if left == expect {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(left, expect, "the old object's files were not removed");
        if !replace {
            // Put it back for the overwrite round.
            assert!(multipart(&s3, "r/obj.bin", &sizes).await == whole);
        }
    }
}

#[tokio::test]
async fn a_restart_keeps_multipart_objects_and_sweeps_stray_links() {
    let store = TestStore::start().await;
    let s3 = store.client();
    let whole = multipart(&s3, "k/obj.bin", &[5 * MIB, 77]).await;
    let TestStore { handle, dir } = store;
    handle.shutdown().await.unwrap();

    // What a crash between linking the parts and committing the metadata leaves behind.
    let objects = objects_dir(dir.path());
    let stray = objects.join("0123abcd.deadbeef.p00001.data");
    std::fs::write(&stray, b"half a completion").unwrap();

    let config = StoreConfig::new(dir.path())
        .with_credentials(Credentials::new(AK, SK))
        .with_bucket(BUCKET);
    let handle = Store::spawn(config, "127.0.0.1:0").await.unwrap();
    let s3 = client_for(&handle.endpoint(), AK, SK, None, false);
    let (bytes, _) = get_range(&s3, "k/obj.bin", "bytes=0-").await;
    assert!(bytes == whole);
    assert!(!stray.exists(), "a stray link survived the restart");
    assert_eq!(data_bytes(dir.path()), whole.len() as u64);
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_part_named_with_another_checksum_at_complete_is_invalid_part() {
    use aws_sdk_s3::types::ChecksumAlgorithm;
    let store = TestStore::start().await;
    let s3 = store.client();
    let key = "c/obj.bin";
    let id = s3
        .create_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let mut parts = Vec::new();
    for (n, size) in [(1, 5 * MIB), (2, 10)] {
        let out = s3
            .upload_part()
            .bucket(BUCKET)
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .checksum_algorithm(ChecksumAlgorithm::Crc32C)
            .body(ByteStream::from(pattern(size, n as u64)))
            .send()
            .await
            .unwrap();
        parts.push((
            n,
            out.e_tag().unwrap().to_owned(),
            out.checksum_crc32_c().unwrap().to_owned(),
        ));
    }
    let complete = |first: CompletedPart| {
        let second = CompletedPart::builder()
            .part_number(2)
            .e_tag(&parts[1].1)
            .checksum_crc32_c(&parts[1].2)
            .build();
        s3.complete_multipart_upload()
            .bucket(BUCKET)
            .key(key)
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .parts(first)
                    .parts(second)
                    .build(),
            )
            .send()
    };
    let first = || CompletedPart::builder().part_number(1).e_tag(&parts[0].1);
    for wrong in [
        first().checksum_crc32_c("AAAAAA==").build(),
        first().checksum_crc32(&parts[0].2).build(),
        first().checksum_crc32_c("not base64!").build(),
    ] {
        let err = complete(wrong).await.unwrap_err();
        let (status, body) = common::raw_error(&err);
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            common::element(&body, "Code").as_deref(),
            Some("InvalidPart")
        );
        assert_eq!(common::element(&body, "PartNumber").as_deref(), Some("1"));
    }
    // The right value, or none at all, completes.
    complete(first().checksum_crc32_c(&parts[0].2).build())
        .await
        .unwrap();
}
