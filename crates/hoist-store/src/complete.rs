//! CompleteMultipartUpload: the part list checked as S3 checks it (order, ETags, named
//! checksums, sizes), the write conditions (`If-None-Match: *`, `If-Match`), the object's
//! checksum combined from its parts', and the part files linked into the object, which is
//! published under the commit lock as the upload goes. A Complete repeated after success is
//! answered as the first was.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hoist_core::checksum::{Checksum, ChecksumAlgorithm, PartChecksum, etag, object_checksum};
use hoist_core::plan::MIN_PART_SIZE;
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::checksum::{self, dto_type};
use crate::commit::publish_locked;
use crate::conditions::WriteConditions;
use crate::config::random_hex;
use crate::errors::{
    MSG_ENTITY_TOO_SMALL, MSG_INVALID_PART, MSG_INVALID_PART_ORDER, bad_digest, internal,
    no_such_bucket, no_such_upload, s3_error,
};
use crate::fs::{check_key, key_stem, link_all};
use crate::storage::{Extent, ObjectMeta, PartMeta, Storage, UploadMeta};
use crate::uploads;

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
    stored: &BTreeMap<i32, PartMeta>,
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

/// The answer to a Complete of the object `meta`.
fn completed(bucket: &str, meta: &ObjectMeta) -> CompleteMultipartUploadOutput {
    let [crc32, crc32c, crc64nvme, sha1, sha256] = checksum::fields(meta.checksum.as_ref());
    CompleteMultipartUploadOutput {
        bucket: Some(bucket.to_owned()),
        key: Some(meta.key.clone()),
        location: Some(format!("/{bucket}/{}", meta.key)),
        e_tag: Some(ETag::Strong(meta.etag.trim_matches('"').to_owned())),
        checksum_crc32: crc32,
        checksum_crc32c: crc32c,
        checksum_crc64nvme: crc64nvme,
        checksum_sha1: sha1,
        checksum_sha256: sha256,
        checksum_type: meta.checksum_type.map(dto_type),
        ..Default::default()
    }
}

/// A Complete repeated after the upload completed (a client that lost the first answer):
/// S3 answers it as the first when the object at the key is still the one that upload made
/// and the part list is the same. The object's metadata is the record: it names its upload
/// and keeps each part's number and ETag, so nothing outlives the object.
fn completed_before(
    storage: &Storage,
    bucket: &str,
    key: &str,
    id: &str,
    requested: &[CompletedPart],
) -> Option<CompleteMultipartUploadOutput> {
    let meta = storage.object(bucket, key)?;
    if meta.upload_id.as_deref() != Some(id) || meta.extents.len() != requested.len() {
        return None;
    }
    let same = meta.extents.iter().zip(requested).all(|(extent, part)| {
        let given = part.e_tag.as_ref().map(|e| e.value().trim_matches('"'));
        extent.part_number.is_some()
            && extent.part_number == part.part_number
            && extent.etag.as_deref().map(|e| e.trim_matches('"')) == given
    });
    same.then(|| completed(bucket, &meta))
}

pub(crate) async fn complete(
    storage: &Storage,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let input = req.input;
    check_key(&input.key)?;
    let conditions = WriteConditions::new(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    let requested = input
        .multipart_upload
        .and_then(|m| m.parts)
        .unwrap_or_default();
    let upload = match uploads::find(storage, &input.bucket, &input.key, &input.upload_id) {
        Ok(upload) => upload,
        Err(err) => {
            return completed_before(
                storage,
                &input.bucket,
                &input.key,
                &input.upload_id,
                &requested,
            )
            .map(S3Response::new)
            .ok_or(err);
        }
    };
    // The key's commit turn from here: no part can be replaced while it is being linked,
    // the conditions hold until the commit, and the upload disappears in the same step the
    // object appears.
    let _commit = storage.commit.key(&upload.bucket, &upload.key).await;
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
    if !conditions.is_empty() {
        // The upload's conditions meet the key as it was when the upload began: another
        // write since then is a conflict. S3 then tells the client to start the upload
        // again, so the upload goes; a condition that simply fails leaves it to be completed
        // otherwise or aborted.
        let current = storage.object(&upload.bucket, &upload.key);
        let conditions = conditions.seeing(upload.seen.clone());
        if let Err(err) = conditions.check(&upload.key, current.as_ref()) {
            if err.code() == &S3ErrorCode::ConditionalRequestConflict {
                let _ = uploads::remove_upload_locked(storage, &upload.id).await;
            }
            return Err(err);
        }
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
            return Err(bad_digest(algorithm));
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
            part_number: Some(p.number),
            etag: Some(p.etag.clone()),
            checksum: p.checksum.clone(),
        })
        .collect();
    let links: Vec<(PathBuf, PathBuf)> = parts
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
        headers: upload.headers.clone(),
        data: String::new(),
        extents,
        checksum: upload.checksum.zip(sum),
        checksum_type: upload.checksum_type,
        parts: Some(parts.len() as u32),
        upload_id: Some(upload.id.clone()),
        blob: None,
    };
    let meta = publish_locked(storage, &upload.bucket, meta).await?;
    let _ = uploads::remove_upload_locked(storage, &upload.id).await;
    Ok(S3Response::new(completed(&upload.bucket, &meta)))
}
