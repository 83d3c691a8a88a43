//! Object operations: PutObject, GetObject (with Range), HeadObject, DeleteObject,
//! ListObjectsV2, and the receive-verify-commit path shared with UploadPart.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hoist_core::checksum::{Checksum, ChecksumAlgorithm, ChecksumType, etag};
use hoist_core::encoding::{base64, base64_decode};
use http::HeaderMap;
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result, TrailingHeaders};

use crate::backend::{internal, no_such_bucket};
use crate::checksum;
use crate::config::random_hex;
use crate::errors::{MSG_NO_SUCH_KEY, s3_error};
use crate::fs::{Written, check_key, commit_file, key_stem, write_json_atomic, write_stream};
use crate::read::ExtentStream;
use crate::storage::{ObjectMeta, Storage, from_ms};

/// The flexible checksum a request asks for: the algorithm, and the value when it came in a
/// header (a trailer's value is read after the body).
#[derive(Debug, Default)]
pub(crate) struct Requested {
    pub algorithm: Option<ChecksumAlgorithm>,
    pub value: Option<String>,
    pub content_md5: Option<String>,
}

impl Requested {
    /// Reads `x-amz-checksum-*`, `x-amz-sdk-checksum-algorithm`, `x-amz-trailer` and
    /// `Content-MD5` from the request headers.
    pub fn from_headers(
        headers: &HeaderMap,
        fallback: Option<ChecksumAlgorithm>,
    ) -> S3Result<Self> {
        let mut requested = Self::default();
        for algorithm in ChecksumAlgorithm::ALL {
            if let Some(value) = headers
                .get(algorithm.header())
                .and_then(|v| v.to_str().ok())
            {
                requested.algorithm = Some(algorithm);
                requested.value = Some(value.to_owned());
            }
        }
        if requested.algorithm.is_none() {
            let named = headers
                .get("x-amz-trailer")
                .and_then(|v| v.to_str().ok())
                .and_then(|t| t.trim().strip_prefix("x-amz-checksum-").map(str::to_owned))
                .or_else(|| {
                    headers
                        .get("x-amz-sdk-checksum-algorithm")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                });
            if let Some(name) = named {
                let algorithm = ChecksumAlgorithm::parse(&name).ok_or_else(|| {
                    s3_error(
                        S3ErrorCode::InvalidRequest,
                        &format!("Checksum algorithm {name} is not supported."),
                        &vec![],
                    )
                })?;
                requested.algorithm = Some(algorithm);
            }
        }
        if requested.algorithm.is_none() {
            requested.algorithm = fallback;
        }
        requested.content_md5 = headers
            .get("content-md5")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(requested)
    }
}

/// Streams a body to a temp file and checks it against every digest the client sent.
/// Answers the written file and the base64 flexible checksum.
pub(crate) async fn receive(
    storage: &Storage,
    body: Option<StreamingBlob>,
    requested: &Requested,
    trailers: Option<&TrailingHeaders>,
    limit: u64,
) -> S3Result<(Written, Option<String>)> {
    let body = body.unwrap_or_else(|| StreamingBlob::from(s3s::Body::empty()));
    let written = write_stream(&storage.layout, body, requested.algorithm, limit).await?;
    let verdict = verify(&written, requested, trailers);
    if verdict.is_err() {
        let _ = tokio::fs::remove_file(&written.path).await;
    }
    verdict.map(|sum| (written, sum))
}

fn verify(
    written: &Written,
    requested: &Requested,
    trailers: Option<&TrailingHeaders>,
) -> S3Result<Option<String>> {
    if let Some(md5) = &requested.content_md5 {
        if base64_decode(md5.trim()).as_deref() != Some(&written.md5[..]) {
            return Err(s3_error(
                S3ErrorCode::BadDigest,
                "The Content-MD5 you specified did not match what we received.",
                &vec![
                    ("ExpectedDigest", md5.clone()),
                    ("CalculatedDigest", base64(&written.md5)),
                ],
            ));
        }
    }
    let (Some(algorithm), Some(computed)) = (requested.algorithm, written.checksum) else {
        return Ok(None);
    };
    let given = requested.value.clone().or_else(|| {
        trailers.and_then(|t| {
            t.read(|h| {
                h.get(algorithm.header())
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
        })?
    });
    if let Some(given) = given
        && Checksum::from_base64(algorithm, &given).ok() != Some(computed)
    {
        return Err(s3_error(
            S3ErrorCode::BadDigest,
            &format!(
                "The {} you specified did not match the calculated checksum.",
                algorithm.as_str()
            ),
            &vec![],
        ));
    }
    Ok(Some(computed.to_base64()))
}

/// Makes a received file the object `key`: data renamed into place, then the metadata whose
/// rename is the commit point, then the replaced bytes let go.
pub(crate) async fn commit_object(
    storage: &Storage,
    bucket: &str,
    tmp: PathBuf,
    mut meta: ObjectMeta,
) -> S3Result<ObjectMeta> {
    let _commit = storage.commit.lock().await;
    if storage.bucket_meta(bucket).is_none() {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(no_such_bucket(bucket));
    }
    meta.data = format!("{}.{}.data", key_stem(&meta.key), random_hex(8));
    let dest = storage.layout.objects(bucket).join(&meta.data);
    tokio::task::spawn_blocking(move || {
        commit_file(&tmp, &dest).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    })
    .await
    .map_err(internal)?
    .map_err(internal)?;
    publish_locked(storage, bucket, meta).await
}

/// With the commit lock held and the bytes in place: writes the metadata (the commit point),
/// indexes the object and lets go of the bytes it replaced. On failure the new bytes are
/// removed and the old object stays.
pub(crate) async fn publish_locked(
    storage: &Storage,
    bucket: &str,
    meta: ObjectMeta,
) -> S3Result<ObjectMeta> {
    let dir = storage.layout.objects(bucket);
    let layout = storage.layout.clone();
    let meta = meta.with_blob(dir.clone());
    let to_write = meta.clone();
    let done = tokio::task::spawn_blocking(move || {
        let json = dir.join(format!("{}.json", key_stem(&to_write.key)));
        write_json_atomic(&layout, &json, &to_write)
    })
    .await
    .map_err(internal)
    .and_then(|r| r.map_err(internal));
    if let Err(err) = done {
        let_go(meta).await;
        return Err(err);
    }
    let old = storage
        .state()
        .buckets
        .get_mut(bucket)
        .and_then(|b| b.objects.insert(meta.key.clone(), meta.clone()));
    if let Some(old) = old {
        let_go(old).await;
    }
    Ok(meta)
}

/// Dooms an object that left the index and drops this handle on the blocking pool: when no
/// reader holds the object any more, that drop unlinks its files (gigabytes, perhaps), which
/// must not stall an async worker.
async fn let_go(meta: ObjectMeta) {
    meta.doom();
    let _ = tokio::task::spawn_blocking(move || drop(meta)).await;
}

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
