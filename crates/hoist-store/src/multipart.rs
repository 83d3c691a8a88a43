//! The multipart family but Complete (that is [`crate::complete`]): Create, UploadPart,
//! Abort, ListParts, ListMultipartUploads. Parts are files committed like objects (data, then
//! metadata), so they survive restarts and an upload resumes where it stopped.

use hoist_core::checksum::{ChecksumAlgorithm, ChecksumType, etag};
use hoist_core::plan::MAX_PART_SIZE;
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::checksum::{self, dto_algorithm, dto_type};
use crate::config::{owner, random_hex};
use crate::errors::{
    before_body, check_part_number, internal, no_such_bucket, no_such_upload, s3_error,
};
use crate::fs::check_key;
use crate::listing;
use crate::query;
use crate::receive::{Requested, receive};
use crate::storage::{Headers, PartMeta, Storage, UploadEntry, UploadMeta, from_ms};
use crate::uploads;

/// Most parts, uploads or keys S3 answers in one page.
const PAGE: i32 = 1000;

pub(crate) async fn create(
    storage: &Storage,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let input = req.input;
    check_key(&input.key)?;
    storage
        .bucket_meta(&input.bucket)
        .ok_or_else(|| no_such_bucket(&input.bucket))?;
    let algorithm = checksum::requested(input.checksum_algorithm.as_ref())?;
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
        headers: Headers::new(
            input.cache_control,
            input.content_disposition,
            input.content_encoding,
            input.content_language,
            input.expires.as_ref(),
        ),
        checksum: algorithm,
        checksum_type,
        // What a conditional Complete compares the key with (see `WriteConditions`).
        seen: storage
            .object(&input.bucket, &input.key)
            .map(|m| m.generation().to_owned()),
    };
    // One line in the uploads journal, durable before the answer (an fsync shared with the
    // creates beside this one); the upload's folder comes with its first part.
    storage
        .journal
        .create(&meta.id, &meta)
        .await
        .map_err(internal)?;
    storage.state().uploads.insert(UploadEntry {
        meta: meta.clone(),
        parts: Default::default(),
    });
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
    let upload = uploads::find(storage, &input.bucket, &input.key, &input.upload_id)?;
    let number = input.part_number;
    check_part_number(number)?;
    // The upload's algorithm is always computed, so Complete can combine the parts.
    let query = query::pairs(&req.uri, query::decode);
    let requested =
        Requested::from_request(&req.headers, &query, upload.checksum).map_err(before_body)?;
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
    uploads::commit_part(
        storage,
        &upload.id,
        part.clone(),
        uploads::PartBytes::Received(written.path),
    )
    .await?;
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

pub(crate) async fn abort(
    storage: &Storage,
    input: AbortMultipartUploadInput,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    uploads::find(storage, &input.bucket, &input.key, &input.upload_id)?;
    if !uploads::remove_upload(storage, &input.upload_id)
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
    let upload = uploads::find(storage, &input.bucket, &input.key, &input.upload_id)?;
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
    let encode = listing::url_encoded(input.encoding_type.as_ref())?;
    let max = input.max_uploads.unwrap_or(PAGE).clamp(0, PAGE);
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let key_marker = input.key_marker.clone().unwrap_or_default();
    let id_marker = input
        .upload_id_marker
        .clone()
        .filter(|_| !key_marker.is_empty());
    // Where `key` rolls up at the delimiter: the prefix, then everything up to and including
    // the delimiter's first occurrence after it.
    let group_of = |key: &str| -> Option<String> {
        let d = delimiter.as_deref()?;
        let rest = key.strip_prefix(prefix.as_str())?;
        rest.find(d)
            .map(|i| key[..prefix.len() + i + d.len()].to_owned())
    };
    // Past every key of a group: no key that starts with `group` sorts after this one but a
    // key with more U+10FFFF after it, which is still skipped one by one.
    let past = |group: &str| format!("{group}\u{10FFFF}");
    // Uploads are ordered by (key, upload id): a page begins after the marker pair, or after
    // every upload of the marker key when no upload id goes with it, and at the prefix.
    let (mut from_key, mut from_id) = match &id_marker {
        Some(id) if key_marker.as_str() >= prefix.as_str() => (key_marker.clone(), id.clone()),
        _ => (
            key_marker.as_str().max(prefix.as_str()).to_owned(),
            String::new(),
        ),
    };
    // A page that continues after a rolled-up group starts past it.
    if id_marker.is_none() && group_of(&key_marker).as_deref() == Some(key_marker.as_str()) {
        from_key = past(&key_marker).max(from_key);
    }
    let state = storage.state();
    // Keys rolled up at the delimiter count as one entry each, as in ListObjects; once a group
    // is listed, the walk seeks past its keys instead of reading them.
    let mut uploads = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut truncated = false;
    let mut last: Option<(String, Option<String>)> = None;
    loop {
        let mut seek = None;
        let walk = state
            .uploads
            .in_order_from(&input.bucket, &from_key, &from_id)
            .take_while(|u| u.key.starts_with(&prefix))
            .filter(|u| match &id_marker {
                Some(id) => {
                    u.key > key_marker || (u.key == key_marker && u.id.as_str() > id.as_str())
                }
                None => key_marker.is_empty() || u.key > key_marker,
            });
        for upload in walk {
            let group = group_of(&upload.key);
            if let Some(group) = &group
                && (prefixes.last() == Some(group) || key_marker == *group)
            {
                continue;
            }
            if uploads.len() + prefixes.len() >= max as usize {
                truncated = true;
                break;
            }
            match group {
                Some(group) => {
                    let next = past(&group);
                    last = Some((group.clone(), None));
                    prefixes.push(group);
                    if next > from_key {
                        seek = Some(next);
                        break;
                    }
                }
                None => {
                    last = Some((upload.key.clone(), Some(upload.id.clone())));
                    uploads.push(MultipartUpload {
                        key: Some(listing::listed(upload.key.clone(), encode)),
                        upload_id: Some(upload.id.clone()),
                        initiated: Some(Timestamp::from(from_ms(upload.initiated_ms))),
                        checksum_algorithm: upload.checksum.map(dto_algorithm),
                        checksum_type: upload.checksum_type.map(dto_type),
                        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                        owner: Some(owner()),
                        initiator: Some(Initiator {
                            display_name: Some("hoist".into()),
                            id: Some("hoist".into()),
                        }),
                    });
                }
            }
        }
        match seek {
            Some(next) => (from_key, from_id) = (next, String::new()),
            None => break,
        }
    }
    let (next_key, next_id) = match last.filter(|_| truncated) {
        Some((key, id)) => (Some(listing::listed(key, encode)), id),
        None => (None, None),
    };
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(input.bucket),
        prefix: input.prefix.map(|p| listing::listed(p, encode)),
        delimiter: delimiter.map(|d| listing::listed(d, encode)),
        key_marker: input.key_marker.map(|k| listing::listed(k, encode)),
        upload_id_marker: input.upload_id_marker,
        next_key_marker: next_key,
        next_upload_id_marker: next_id,
        max_uploads: Some(max),
        is_truncated: Some(truncated),
        uploads: Some(uploads),
        common_prefixes: listing::common_prefixes(prefixes, encode),
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}
