//! Object operations: PutObject, GetObject (with Range), HeadObject, DeleteObject and
//! DeleteObjects. Bodies come in through [`crate::receive`] and objects are published through
//! [`crate::commit`], as UploadPart and Complete do.

use std::collections::BTreeMap;

use hoist_core::checksum::{ChecksumAlgorithm, ChecksumType, etag};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::checksum;
use crate::commit::{commit_object, let_go};
use crate::errors::{MSG_NO_SUCH_KEY, no_such_bucket, s3_error};
use crate::fs::{check_key, key_stem};
use crate::read::ExtentStream;
use crate::receive::{Requested, receive};
use crate::storage::{ObjectMeta, Storage, from_ms};

fn user_metadata(metadata: Option<Metadata>) -> BTreeMap<String, String> {
    metadata
        .map(|m| m.into_iter().collect())
        .unwrap_or_default()
}

pub(crate) async fn put_object(
    storage: &Storage,
    req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let input = req.input;
    check_key(&input.key)?;
    storage
        .bucket_meta(&input.bucket)
        .ok_or_else(|| no_such_bucket(&input.bucket))?;
    let fallback = input
        .checksum_algorithm
        .as_ref()
        .and_then(|a| ChecksumAlgorithm::parse(a.as_str()));
    let requested = Requested::from_headers(&req.headers, fallback)?;
    let (written, sum) = receive(
        storage,
        input.body,
        &requested,
        req.trailing_headers.as_ref(),
        storage.max_put_size,
    )
    .await?;
    let meta = ObjectMeta {
        key: input.key,
        size: written.size,
        etag: etag::of_md5(&written.md5),
        last_modified_ms: storage.now_ms(),
        content_type: input.content_type,
        metadata: user_metadata(input.metadata),
        data: String::new(),
        extents: Vec::new(),
        checksum: requested.algorithm.zip(sum),
        checksum_type: requested.algorithm.map(|_| ChecksumType::FullObject),
        parts: None,
        upload_id: None,
        blob: None,
    };
    let meta = commit_object(storage, &input.bucket, written.path, meta).await?;
    let [crc32, crc32c, crc64nvme, sha1, sha256] = checksum::fields(meta.checksum.as_ref());
    Ok(S3Response::new(PutObjectOutput {
        e_tag: Some(ETag::Strong(meta.etag.trim_matches('"').to_owned())),
        size: Some(meta.size as i64),
        checksum_crc32: crc32,
        checksum_crc32c: crc32c,
        checksum_crc64nvme: crc64nvme,
        checksum_sha1: sha1,
        checksum_sha256: sha256,
        checksum_type: meta
            .checksum
            .as_ref()
            .map(|_| checksum::dto_type(ChecksumType::FullObject)),
        ..Default::default()
    }))
}

fn lookup(storage: &Storage, bucket: &str, key: &str) -> S3Result<ObjectMeta> {
    check_key(key)?;
    let state = storage.state();
    let entry = state
        .buckets
        .get(bucket)
        .filter(|b| b.meta.is_some())
        .ok_or_else(|| no_such_bucket(bucket))?;
    entry.objects.get(key).cloned().ok_or_else(|| {
        s3_error(
            S3ErrorCode::NoSuchKey,
            MSG_NO_SUCH_KEY,
            &vec![("Key", key.to_owned())],
        )
    })
}

fn wants_checksum(mode: Option<&ChecksumMode>) -> bool {
    mode.is_some_and(|m| m.as_str().eq_ignore_ascii_case("ENABLED"))
}

pub(crate) async fn get_object(
    storage: &Storage,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let input = req.input;
    let meta = lookup(storage, &input.bucket, &input.key)?;
    let range = match &input.range {
        None => None,
        Some(range) => Some(range.check(meta.size).map_err(|_| {
            s3_error(
                S3ErrorCode::InvalidRange,
                "The requested range is not satisfiable",
                &vec![("ActualObjectSize", meta.size.to_string())],
            )
        })?),
    };
    let (start, end) = range.as_ref().map_or((0, meta.size), |r| (r.start, r.end));
    let stream = ExtentStream::new(storage.layout.objects(&input.bucket), &meta, start, end);
    let [crc32, crc32c, crc64nvme, sha1, sha256] =
        if range.is_none() && wants_checksum(input.checksum_mode.as_ref()) {
            checksum::fields(meta.checksum.as_ref())
        } else {
            Default::default()
        };
    let output = GetObjectOutput {
        body: Some(StreamingBlob::wrap(stream)),
        content_length: Some((end - start) as i64),
        content_range: range
            .as_ref()
            .map(|_| format!("bytes {start}-{}/{}", end.saturating_sub(1), meta.size)),
        accept_ranges: Some("bytes".into()),
        content_type: meta.content_type.clone(),
        e_tag: Some(ETag::Strong(meta.etag.trim_matches('"').to_owned())),
        last_modified: Some(Timestamp::from(from_ms(meta.last_modified_ms))),
        metadata: (!meta.metadata.is_empty()).then(|| meta.metadata.clone().into_iter().collect()),
        parts_count: meta.parts.map(|p| p as i32),
        checksum_crc32: crc32,
        checksum_crc32c: crc32c,
        checksum_crc64nvme: crc64nvme,
        checksum_sha1: sha1,
        checksum_sha256: sha256,
        checksum_type: meta
            .checksum_type
            .filter(|_| wants_checksum(input.checksum_mode.as_ref()))
            .map(checksum::dto_type),
        ..Default::default()
    };
    let mut response = S3Response::new(output);
    if range.is_some() {
        response.status = Some(http::StatusCode::PARTIAL_CONTENT);
    }
    Ok(response)
}

pub(crate) fn head_object(
    storage: &Storage,
    req: &S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let meta = lookup(storage, &req.input.bucket, &req.input.key)?;
    let want = wants_checksum(req.input.checksum_mode.as_ref());
    let [crc32, crc32c, crc64nvme, sha1, sha256] = if want {
        checksum::fields(meta.checksum.as_ref())
    } else {
        Default::default()
    };
    Ok(S3Response::new(HeadObjectOutput {
        content_length: Some(meta.size as i64),
        accept_ranges: Some("bytes".into()),
        content_type: meta.content_type.clone(),
        e_tag: Some(ETag::Strong(meta.etag.trim_matches('"').to_owned())),
        last_modified: Some(Timestamp::from(from_ms(meta.last_modified_ms))),
        metadata: (!meta.metadata.is_empty()).then(|| meta.metadata.clone().into_iter().collect()),
        parts_count: meta.parts.map(|p| p as i32),
        checksum_crc32: crc32,
        checksum_crc32c: crc32c,
        checksum_crc64nvme: crc64nvme,
        checksum_sha1: sha1,
        checksum_sha256: sha256,
        checksum_type: meta.checksum_type.filter(|_| want).map(checksum::dto_type),
        ..Default::default()
    }))
}

pub(crate) async fn delete_object(
    storage: &Storage,
    bucket: &str,
    key: &str,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    check_key(key)?;
    let _commit = storage.commit.lock().await;
    let removed = {
        let mut state = storage.state();
        let entry = state
            .buckets
            .get_mut(bucket)
            .filter(|b| b.meta.is_some())
            .ok_or_else(|| no_such_bucket(bucket))?;
        entry.objects.remove(key)
    };
    // Deleting a missing key succeeds, as in S3.
    if let Some(meta) = removed {
        let dir = storage.layout.objects(bucket);
        let _ = tokio::fs::remove_file(dir.join(format!("{}.json", key_stem(key)))).await;
        let _ = crate::fs::sync_dir(&dir);
        // The bytes go when the last reader is done with them.
        let_go(meta).await;
    }
    Ok(S3Response::with_status(
        DeleteObjectOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

pub(crate) async fn delete_objects(
    storage: &Storage,
    input: DeleteObjectsInput,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    storage
        .bucket_meta(&input.bucket)
        .ok_or_else(|| no_such_bucket(&input.bucket))?;
    if input.delete.objects.len() > 1000 {
        return Err(s3_error(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
            &vec![],
        ));
    }
    let quiet = input.delete.quiet.unwrap_or(false);
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for object in input.delete.objects {
        match delete_object(storage, &input.bucket, &object.key).await {
            Ok(_) if quiet => {}
            Ok(_) => deleted.push(DeletedObject {
                key: Some(object.key),
                ..Default::default()
            }),
            Err(err) => errors.push(Error {
                code: Some(err.code().as_str().to_owned()),
                key: Some(object.key),
                message: err.message().map(str::to_owned),
                version_id: None,
            }),
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: (!errors.is_empty()).then_some(errors),
        ..Default::default()
    }))
}
