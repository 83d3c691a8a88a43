//! The multipart family: Create, UploadPart, Complete, Abort, ListParts,
//! ListMultipartUploads. Parts are files committed like objects (data, then metadata), so
//! they survive restarts and an upload resumes where it stopped.

use hoist_core::checksum::{
    Checksum, ChecksumAlgorithm, ChecksumType, PartChecksum, etag, object_checksum,
};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::backend::{internal, no_such_bucket};
use crate::checksum::{self, dto_algorithm, dto_type};
use crate::config::random_hex;
use crate::errors::{
    MSG_ENTITY_TOO_SMALL, MSG_INVALID_PART, MSG_INVALID_PART_ORDER, MSG_NO_SUCH_UPLOAD, s3_error,
};
use crate::fs::{check_key, commit_file, key_stem, safe_upload_id, write_json_atomic};
use crate::objects::{Requested, publish_locked, receive};
use crate::storage::{Extent, ObjectMeta, PartMeta, Storage, UploadEntry, UploadMeta, from_ms};

/// Smallest part, except the last.
pub(crate) const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
const PAGE: i32 = 1000;

fn no_such_upload(id: &str) -> s3s::S3Error {
    s3_error(
        S3ErrorCode::NoSuchUpload,
        MSG_NO_SUCH_UPLOAD,
        &vec![("UploadId", id.to_owned())],
    )
}

/// The upload, checked against the bucket and key of the request.
fn upload_meta(storage: &Storage, bucket: &str, key: &str, id: &str) -> S3Result<UploadMeta> {
    if storage.bucket_meta(bucket).is_none() {
        return Err(no_such_bucket(bucket));
    }
    if !safe_upload_id(id) {
        return Err(no_such_upload(id));
    }
    let state = storage.state();
    match state.uploads.get(id) {
        Some(u) if u.meta.bucket == bucket && u.meta.key == key => Ok(u.meta.clone()),
        _ => Err(no_such_upload(id)),
    }
}

pub(crate) async fn create(
    storage: &Storage,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let input = req.input;
    check_key(&input.key)?;
    storage
        .bucket_meta(&input.bucket)
        .ok_or_else(|| no_such_bucket(&input.bucket))?;
    let algorithm = match &input.checksum_algorithm {
        Some(a) => Some(ChecksumAlgorithm::parse(a.as_str()).ok_or_else(|| {
            s3_error(
                S3ErrorCode::InvalidRequest,
                &format!("Checksum algorithm {} is not supported.", a.as_str()),
                &vec![],
            )
        })?),
        None => None,
    };
    let checksum_type = match (&input.checksum_type, algorithm) {
        (Some(t), Some(a)) => {
            let t = ChecksumType::parse(t.as_str()).ok_or_else(|| {
                s3_error(
                    S3ErrorCode::InvalidRequest,
                    "Value for x-amz-checksum-type header is invalid.",
                    &vec![],
                )
            })?;
            // Only CRCs combine into a whole-object value; the store leaves the rest of
            // `ChecksumAlgorithm::allows` (CRC-64/NVME as FULL_OBJECT only) to the client.
            if t == ChecksumType::FullObject && !a.is_crc() {
                return Err(s3_error(
                    S3ErrorCode::InvalidRequest,
                    &format!(
                        "The FULL_OBJECT checksum type cannot be used with the {} checksum algorithm.",
                        a.as_str()
                    ),
                    &vec![],
                ));
            }
            Some(t)
        }
        (Some(_), None) => {
            return Err(s3_error(
                S3ErrorCode::InvalidRequest,
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
                &vec![],
            ));
        }
        (None, a) => a.map(ChecksumAlgorithm::default_type),
    };
    let meta = UploadMeta {
        id: random_hex(16),
        bucket: input.bucket.clone(),
        key: input.key.clone(),
        initiated_ms: storage.now_ms(),
        content_type: input.content_type,
        metadata: input
            .metadata
            .map(|m| m.into_iter().collect())
            .unwrap_or_default(),
        checksum: algorithm,
        checksum_type,
    };
    let dir = storage.layout.upload(&meta.id);
    let layout = storage.layout.clone();
    let to_write = meta.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        std::fs::create_dir(&dir)?;
        crate::fs::sync_dir(&layout.uploads())?;
        write_json_atomic(&layout, &dir.join("upload.json"), &to_write)
    })
    .await
    .map_err(internal)?
    .map_err(internal)?;
    storage.state().uploads.insert(
        meta.id.clone(),
        UploadEntry {
            meta: meta.clone(),
            parts: Default::default(),
        },
    );
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(meta.bucket),
        key: Some(meta.key),
        upload_id: Some(meta.id),
        checksum_algorithm: algorithm.map(dto_algorithm),
        checksum_type: checksum_type.map(dto_type),
        ..Default::default()
    }))
}

pub(crate) async fn upload_part(
    storage: &Storage,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let input = req.input;
    check_key(&input.key)?;
    let upload = upload_meta(storage, &input.bucket, &input.key, &input.upload_id)?;
    let number = input.part_number;
    if !(1..=10_000).contains(&number) {
        return Err(s3_error(
            S3ErrorCode::InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive",
            &vec![
                ("ArgumentName", "partNumber".into()),
                ("ArgumentValue", number.to_string()),
            ],
        ));
    }
    // The upload's algorithm is always computed, so Complete can combine the parts.
    let requested = Requested::from_headers(&req.headers, upload.checksum)?;
    if let (Some(declared), Some(sent)) = (upload.checksum, requested.algorithm)
        && declared != sent
    {
        return Err(s3_error(
            S3ErrorCode::InvalidRequest,
            &format!(
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                declared.name(),
                sent.name()
            ),
            &vec![],
        ));
    }
    let (written, sum) = receive(
        storage,
        input.body,
        &requested,
        req.trailing_headers.as_ref(),
        MAX_PART_SIZE,
    )
    .await?;
    let part = PartMeta {
        number,
        size: written.size,
        etag: etag::of_md5(&written.md5),
        last_modified_ms: storage.now_ms(),
        data: format!("part-{number:05}.{}.data", random_hex(8)),
        checksum: sum.clone(),
    };
    let dir = storage.layout.upload(&upload.id);
    let layout = storage.layout.clone();
    let to_write = part.clone();
    let tmp = written.path;
    let _commit = storage.commit.lock().await;
    if !storage.state().uploads.contains_key(&upload.id) {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(no_such_upload(&upload.id));
    }
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        commit_file(&tmp, &dir.join(&to_write.data)).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
        write_json_atomic(
            &layout,
            &dir.join(format!("part-{:05}.json", to_write.number)),
            &to_write,
        )
    })
    .await
    .map_err(internal)?
    .map_err(internal)?;
    let old = storage
        .state()
        .uploads
        .get_mut(&upload.id)
        .and_then(|u| u.parts.insert(number, part.clone()));
    if let Some(old) = old.filter(|old| old.data != part.data) {
        let _ = tokio::fs::remove_file(storage.layout.upload(&upload.id).join(old.data)).await;
    }
    let [crc32, crc32c, crc64nvme, sha1, sha256] =
        checksum::fields(upload.checksum.zip(sum).as_ref());
    Ok(S3Response::new(UploadPartOutput {
        e_tag: Some(ETag::Strong(part.etag.trim_matches('"').to_owned())),
        checksum_crc32: crc32,
        checksum_crc32c: crc32c,
        checksum_crc64nvme: crc64nvme,
        checksum_sha1: sha1,
        checksum_sha256: sha256,
        ..Default::default()
    }))
}

fn invalid_part(id: &str, number: i32, etag: &str) -> s3s::S3Error {
    s3_error(
        S3ErrorCode::InvalidPart,
        MSG_INVALID_PART,
        &vec![
            ("UploadId", id.to_owned()),
            ("PartNumber", number.to_string()),
            ("ETag", etag.to_owned()),
        ],
    )
}

/// Whether the checksums a Complete request names for a part are the part's: a part may
/// name none, but one it names must be of the upload's algorithm and equal the stored value,
/// or the part is not the one that was stored.
fn named_checksums_match(
    part: &CompletedPart,
    algorithm: Option<ChecksumAlgorithm>,
    stored: &PartMeta,
) -> bool {
    let named = [
        &part.checksum_crc32,
        &part.checksum_crc32c,
        &part.checksum_crc64nvme,
        &part.checksum_sha1,
        &part.checksum_sha256,
    ];
    ChecksumAlgorithm::ALL
        .into_iter()
        .zip(named)
        .all(|(a, value)| match value {
            None => true,
            Some(value) => {
                let given = Checksum::from_base64(a, value).ok();
                Some(a) == algorithm
                    && given.is_some()
                    && stored
                        .checksum
                        .as_deref()
                        .and_then(|c| Checksum::from_base64(a, c).ok())
                        == given
            }
        })
}

/// Checks the Complete list against the stored parts; answers the parts in order.
fn validate_completion(
    id: &str,
    algorithm: Option<ChecksumAlgorithm>,
    requested: &[CompletedPart],
    stored: &std::collections::BTreeMap<i32, PartMeta>,
) -> S3Result<Vec<PartMeta>> {
    if requested.is_empty() {
        return Err(s3_error(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
            &vec![],
        ));
    }
    let mut previous = 0;
    for part in requested {
        let number = part.part_number.unwrap_or(0);
        if number <= previous {
            return Err(s3_error(
                S3ErrorCode::InvalidPartOrder,
                MSG_INVALID_PART_ORDER,
                &vec![("UploadId", id.to_owned())],
            ));
        }
        previous = number;
    }
    let mut chosen = Vec::with_capacity(requested.len());
    for part in requested {
        let number = part.part_number.unwrap_or(0);
        let given = part
            .e_tag
            .as_ref()
            .map(|e| e.value().trim_matches('"').to_owned())
            .unwrap_or_default();
        match stored.get(&number) {
            Some(stored)
                if stored.etag.trim_matches('"') == given
                    && named_checksums_match(part, algorithm, stored) =>
            {
                chosen.push(stored.clone());
            }
            _ => return Err(invalid_part(id, number, &format!("\"{given}\""))),
        }
    }
    let last = chosen.len() - 1;
    for (index, part) in chosen.iter().enumerate() {
        if index != last && part.size < MIN_PART_SIZE {
            return Err(s3_error(
                S3ErrorCode::EntityTooSmall,
                MSG_ENTITY_TOO_SMALL,
                &vec![
                    ("ProposedSize", part.size.to_string()),
                    ("MinSizeAllowed", MIN_PART_SIZE.to_string()),
                    ("PartNumber", part.number.to_string()),
                    ("ETag", part.etag.trim_matches('"').to_owned()),
                ],
            ));
        }
    }
    Ok(chosen)
}

/// The object's checksum from its parts': COMPOSITE or FULL_OBJECT as the upload declared.
fn combined_checksum(upload: &UploadMeta, parts: &[PartMeta]) -> S3Result<Option<String>> {
    let (Some(algorithm), Some(kind)) = (upload.checksum, upload.checksum_type) else {
        return Ok(None);
    };
    let mut sums = Vec::with_capacity(parts.len());
    for part in parts {
        let checksum = part
            .checksum
            .as_deref()
            .and_then(|c| Checksum::from_base64(algorithm, c).ok())
            .ok_or_else(|| {
                s3_error(
                    S3ErrorCode::InvalidRequest,
                    &format!(
                        "Part {} has no {} checksum.",
                        part.number,
                        algorithm.as_str()
                    ),
                    &vec![],
                )
            })?;
        sums.push(PartChecksum {
            checksum,
            size: part.size,
        });
    }
    // Only a FULL_OBJECT checksum of a non-CRC algorithm cannot combine, and `create`
    // refuses that; an upload recorded so anyway gets no object checksum.
    Ok(object_checksum(kind, &sums).ok())
}

pub(crate) async fn complete(
    storage: &Storage,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let input = req.input;
    check_key(&input.key)?;
    let upload = upload_meta(storage, &input.bucket, &input.key, &input.upload_id)?;
    let requested = input
        .multipart_upload
        .and_then(|m| m.parts)
        .unwrap_or_default();
    // Under the commit lock from here: no part can be replaced while it is being linked,
    // and the upload disappears in the same step the object appears.
    let _commit = storage.commit.lock().await;
    let parts = {
        let state = storage.state();
        let entry = state
            .uploads
            .get(&upload.id)
            .ok_or_else(|| no_such_upload(&upload.id))?;
        validate_completion(&upload.id, upload.checksum, &requested, &entry.parts)?
    };
    if storage.bucket_meta(&upload.bucket).is_none() {
        return Err(no_such_bucket(&upload.bucket));
    }
    let sum = combined_checksum(&upload, &parts)?;
    if let (Some(algorithm), Some(sum)) = (upload.checksum, &sum) {
        let named = [
            &input.checksum_crc32,
            &input.checksum_crc32c,
            &input.checksum_crc64nvme,
            &input.checksum_sha1,
            &input.checksum_sha256,
        ];
        if let Some(given) = checksum::field_of(named, algorithm)
            && given.split('-').next() != sum.split('-').next()
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
    }

    // The part files become the object's files by hard link (a copy where the file system
    // has no links): no byte is written twice, and the upload stays whole until the
    // object's metadata commits, so a crash on either side of that leaves one or the other.
    let stem = key_stem(&upload.key);
    let tag = random_hex(8);
    let from = storage.layout.upload(&upload.id);
    let to = storage.layout.objects(&upload.bucket);
    let extents: Vec<Extent> = parts
        .iter()
        .map(|p| Extent {
            data: format!("{stem}.{tag}.p{:05}.data", p.number),
            size: p.size,
        })
        .collect();
    let links: Vec<(std::path::PathBuf, std::path::PathBuf)> = parts
        .iter()
        .zip(&extents)
        .map(|(p, e)| (from.join(&p.data), to.join(&e.data)))
        .collect();
    let size = parts.iter().map(|p| p.size).sum();
    tokio::task::spawn_blocking(move || link_all(&links, &to))
        .await
        .map_err(internal)?
        .map_err(internal)?;

    let md5s: Vec<[u8; 16]> = parts.iter().filter_map(|p| etag::md5_of(&p.etag)).collect();
    let meta = ObjectMeta {
        key: upload.key.clone(),
        size,
        etag: etag::multipart(&md5s),
        last_modified_ms: storage.now_ms(),
        content_type: upload.content_type.clone(),
        metadata: upload.metadata.clone(),
        data: String::new(),
        extents,
        checksum: upload.checksum.zip(sum),
        checksum_type: upload.checksum_type,
        parts: Some(parts.len() as u32),
        blob: None,
    };
    let meta = publish_locked(storage, &upload.bucket, meta).await?;
    let _ = remove_upload_locked(storage, &upload.id).await;
    let [crc32, crc32c, crc64nvme, sha1, sha256] = checksum::fields(meta.checksum.as_ref());
    Ok(S3Response::new(CompleteMultipartUploadOutput {
        bucket: Some(upload.bucket.clone()),
        key: Some(upload.key.clone()),
        location: Some(format!("/{}/{}", upload.bucket, upload.key)),
        e_tag: Some(ETag::Strong(meta.etag.trim_matches('"').to_owned())),
        checksum_crc32: crc32,
        checksum_crc32c: crc32c,
        checksum_crc64nvme: crc64nvme,
        checksum_sha1: sha1,
        checksum_sha256: sha256,
        checksum_type: meta.checksum_type.map(dto_type),
        ..Default::default()
    }))
}

/// Links every `(source, dest)` pair, falling back to a copy where links are refused, then
/// makes the new names durable. On failure every `dest` is removed again (the names are
/// fresh, so none of them stood there before).
fn link_all(
    links: &[(std::path::PathBuf, std::path::PathBuf)],
    dir: &std::path::Path,
) -> std::io::Result<()> {
    let result = links
        .iter()
        .try_for_each(|(source, dest)| {
            if std::fs::hard_link(source, dest).is_err() {
                let mut out = std::fs::File::create(dest)?;
                std::io::copy(&mut std::fs::File::open(source)?, &mut out)?;
                out.sync_all()?;
            }
            Ok(())
        })
        .and_then(|()| crate::fs::sync_dir(dir));
    if result.is_err() {
        for (_, dest) in links {
            let _ = std::fs::remove_file(dest);
        }
    }
    result
}

/// Removes an upload and its parts (Abort, Complete, lifecycle).
pub(crate) async fn remove_upload(storage: &Storage, id: &str) -> std::io::Result<bool> {
    let _commit = storage.commit.lock().await;
    remove_upload_locked(storage, id).await
}

/// [`remove_upload`] for callers that already hold the commit lock.
pub(crate) async fn remove_upload_locked(storage: &Storage, id: &str) -> std::io::Result<bool> {
    if storage.state().uploads.remove(id).is_none() {
        return Ok(false);
    }
    // Rename first: the upload disappears atomically, the deletion can take its time.
    let trash = storage.layout.temp_file();
    tokio::fs::rename(storage.layout.upload(id), &trash).await?;
    let _ = crate::fs::sync_dir(&storage.layout.uploads());
    let _ = tokio::fs::remove_dir_all(&trash).await;
    Ok(true)
}

pub(crate) async fn abort(
    storage: &Storage,
    input: AbortMultipartUploadInput,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    upload_meta(storage, &input.bucket, &input.key, &input.upload_id)?;
    if !remove_upload(storage, &input.upload_id)
        .await
        .map_err(internal)?
    {
        return Err(no_such_upload(&input.upload_id));
    }
    Ok(S3Response::with_status(
        AbortMultipartUploadOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

pub(crate) fn list_parts(
    storage: &Storage,
    input: ListPartsInput,
) -> S3Result<S3Response<ListPartsOutput>> {
    let upload = upload_meta(storage, &input.bucket, &input.key, &input.upload_id)?;
    let max = input.max_parts.unwrap_or(PAGE).clamp(0, PAGE);
    let marker = input.part_number_marker.unwrap_or(0);
    let state = storage.state();
    let entry = state
        .uploads
        .get(&upload.id)
        .ok_or_else(|| no_such_upload(&upload.id))?;
    let mut parts = Vec::new();
    let mut truncated = false;
    for part in entry.parts.range(marker + 1..).map(|(_, p)| p) {
        if parts.len() >= max as usize {
            truncated = true;
            break;
        }
        let [crc32, crc32c, crc64nvme, sha1, sha256] =
            checksum::fields(upload.checksum.zip(part.checksum.clone()).as_ref());
        parts.push(Part {
            part_number: Some(part.number),
            e_tag: Some(ETag::Strong(part.etag.trim_matches('"').to_owned())),
            size: Some(part.size as i64),
            last_modified: Some(Timestamp::from(from_ms(part.last_modified_ms))),
            checksum_crc32: crc32,
            checksum_crc32c: crc32c,
            checksum_crc64nvme: crc64nvme,
            checksum_sha1: sha1,
            checksum_sha256: sha256,
        });
    }
    let next = parts.last().and_then(|p| p.part_number);
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(upload.bucket),
        key: Some(upload.key),
        upload_id: Some(upload.id),
        max_parts: Some(max),
        part_number_marker: input.part_number_marker,
        next_part_number_marker: next,
        is_truncated: Some(truncated),
        parts: Some(parts),
        checksum_algorithm: upload.checksum.map(dto_algorithm),
        checksum_type: upload.checksum_type.map(dto_type),
        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
        ..Default::default()
    }))
}

pub(crate) fn list_uploads(
    storage: &Storage,
    input: ListMultipartUploadsInput,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    storage
        .bucket_meta(&input.bucket)
        .ok_or_else(|| no_such_bucket(&input.bucket))?;
    let max = input.max_uploads.unwrap_or(PAGE).clamp(0, PAGE);
    let prefix = input.prefix.clone().unwrap_or_default();
    let key_marker = input.key_marker.clone().unwrap_or_default();
    let id_marker = input
        .upload_id_marker
        .clone()
        .filter(|_| !key_marker.is_empty());
    let state = storage.state();
    let mut all: Vec<&UploadMeta> = state
        .uploads
        .values()
        .map(|u| &u.meta)
        .filter(|u| u.bucket == input.bucket && u.key.starts_with(&prefix))
        .filter(|u| match &id_marker {
            // Uploads are ordered by (key, upload id); resume after the marker pair.
            Some(id) => u.key > key_marker || (u.key == key_marker && u.id.as_str() > id.as_str()),
            None => key_marker.is_empty() || u.key > key_marker,
        })
        .collect();
    all.sort_by(|a, b| (&a.key, &a.id).cmp(&(&b.key, &b.id)));
    let truncated = all.len() > max as usize;
    all.truncate(max as usize);
    let last = all.last().map(|u| (u.key.clone(), u.id.clone()));
    let uploads = all
        .into_iter()
        .map(|u| MultipartUpload {
            key: Some(u.key.clone()),
            upload_id: Some(u.id.clone()),
            initiated: Some(Timestamp::from(from_ms(u.initiated_ms))),
            checksum_algorithm: u.checksum.map(dto_algorithm),
            checksum_type: u.checksum_type.map(dto_type),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            ..Default::default()
        })
        .collect();
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(input.bucket),
        prefix: input.prefix,
        key_marker: input.key_marker,
        upload_id_marker: input.upload_id_marker,
        next_key_marker: truncated
            .then(|| last.as_ref().map(|l| l.0.clone()))
            .flatten(),
        next_upload_id_marker: truncated
            .then(|| last.as_ref().map(|l| l.1.clone()))
            .flatten(),
        max_uploads: Some(max),
        is_truncated: Some(truncated),
        uploads: Some(uploads),
        ..Default::default()
    }))
}
