//! Object operations: PutObject (with its write conditions), GetObject and HeadObject (with
//! read conditions, Range and `?partNumber=`), DeleteObject and DeleteObjects. Bodies come in
//! through [`crate::receive`] and objects are published through [`crate::commit`], as
//! UploadPart and Complete do.

use std::collections::BTreeMap;

use hoist_core::checksum::{ChecksumAlgorithm, ChecksumType, etag};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::checksum;
use crate::commit::{commit_object, let_go};
use crate::conditions::{ReadConditions, Verdict, WriteConditions, precondition_failed};
use crate::errors::{
    AnswerStatus, MSG_NO_SUCH_KEY, before_body, check_part_number, no_such_bucket, s3_error,
};
use crate::fs::{check_key, key_stem};
use crate::query;
use crate::read::ExtentStream;
use crate::receive::{Requested, receive};
use crate::storage::{Headers, ObjectMeta, Storage, from_ms};

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
    let conditions = write_conditions(storage, &input).map_err(before_body)?;
    let fallback = input
        .checksum_algorithm
        .as_ref()
        .and_then(|a| ChecksumAlgorithm::parse(a.as_str()));
    let query = query::pairs(&req.uri, query::decode);
    let requested = Requested::from_request(&req.headers, &query, fallback).map_err(before_body)?;
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
        headers: Headers::new(
            input.cache_control,
            input.content_disposition,
            input.content_encoding,
            input.content_language,
            input.expires.as_ref(),
        ),
        data: String::new(),
        extents: Vec::new(),
        checksum: requested.algorithm.zip(sum),
        checksum_type: requested.algorithm.map(|_| ChecksumType::FullObject),
        parts: None,
        upload_id: None,
        blob: None,
    };
    let meta = commit_object(storage, &input.bucket, written.path, meta, &conditions).await?;
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

/// A PutObject's conditions, with the object it sees at the key now. One that already fails
/// is answered before the body is read; all are judged again at the commit.
fn write_conditions(storage: &Storage, input: &PutObjectInput) -> S3Result<WriteConditions> {
    let conditions = WriteConditions::new(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    if conditions.is_empty() {
        return Ok(conditions);
    }
    let seen = storage.object(&input.bucket, &input.key);
    let conditions = conditions.seeing(seen.as_ref().map(|m| m.generation().to_owned()));
    conditions.check(&input.key, seen.as_ref())?;
    Ok(conditions)
}

/// The object at `key`, or S3's NoSuchBucket / NoSuchKey.
pub(crate) fn lookup(storage: &Storage, bucket: &str, key: &str) -> S3Result<ObjectMeta> {
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

/// The bytes a GET or HEAD answers, `start..end`, and whether that is part of the object
/// (a `206` with `Content-Range`).
struct Span {
    start: u64,
    end: u64,
    partial: bool,
    /// For one part of a multipart object, the part's extent.
    part: Option<usize>,
}

impl Span {
    fn content_range(&self, size: u64) -> Option<String> {
        self.partial
            .then(|| format!("bytes {}-{}/{size}", self.start, self.end.saturating_sub(1)))
    }
}

/// What a GET or HEAD asks for: a `Range`, a `?partNumber=`, or everything.
fn span(meta: &ObjectMeta, range: Option<&Range>, part: Option<i32>) -> S3Result<Span> {
    match (range, part) {
        (Some(_), Some(_)) => Err(s3_error(
            S3ErrorCode::InvalidRequest,
            "Cannot specify both Range header and partNumber query parameter",
            &vec![],
        )),
        (Some(range), None) => {
            let r = range.check(meta.size).map_err(|_| {
                s3_error(
                    S3ErrorCode::InvalidRange,
                    "The requested range is not satisfiable",
                    &vec![("ActualObjectSize", meta.size.to_string())],
                )
            })?;
            Ok(Span {
                start: r.start,
                end: r.end,
                partial: true,
                part: None,
            })
        }
        (None, Some(number)) => {
            let (start, end, part) = part_span(meta, number)?;
            Ok(Span {
                start,
                end,
                partial: true,
                part,
            })
        }
        (None, None) => Ok(Span {
            start: 0,
            end: meta.size,
            partial: false,
            part: None,
        }),
    }
}

/// The bytes of part `number` (S3's `?partNumber=`, a ranged GET of one part). Following the
/// S3 API reference: a number outside 1..=10000 is `400 InvalidArgument`, as UploadPart
/// answers it; a number the object has no part for is `416 InvalidPartNumber` (Ceph RGW
/// answers `400 InvalidPart`; S3 documents 416). An object that is not multipart is its own
/// part 1, answered whole as a range, as S3 does. A multipart object's parts are found by the
/// numbers they were uploaded with (objects completed before those were kept count from 1).
fn part_span(meta: &ObjectMeta, number: i32) -> S3Result<(u64, u64, Option<usize>)> {
    check_part_number(number)?;
    if meta.extents.is_empty() && number == 1 {
        return Ok((0, meta.size, None));
    }
    let mut start = 0;
    for (index, extent) in meta.extents.iter().enumerate() {
        if extent.part_number.unwrap_or(index as i32 + 1) == number {
            return Ok((start, start + extent.size, Some(index)));
        }
        start += extent.size;
    }
    let code = S3ErrorCode::from_bytes(b"InvalidPartNumber").unwrap_or(S3ErrorCode::InvalidRange);
    let mut err = s3_error(
        code,
        "The requested partnumber is not satisfiable",
        &vec![
            ("PartNumberRequested", number.to_string()),
            ("ActualPartCount", meta.parts.unwrap_or(1).to_string()),
        ],
    );
    err.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
    Err(err)
}

/// The checksum a GET or HEAD with `x-amz-checksum-mode: ENABLED` answers, and its type: the
/// object's for the whole object; for one part of a COMPOSITE object, that part's (as S3
/// answers it); none for any other range.
fn answered_checksum(
    meta: &ObjectMeta,
    span: &Span,
) -> (Option<(ChecksumAlgorithm, String)>, Option<ChecksumType>) {
    if !span.partial {
        return (meta.checksum.clone(), meta.checksum_type);
    }
    let part = span
        .part
        .filter(|_| meta.checksum_type == Some(ChecksumType::Composite))
        .and_then(|index| meta.extents.get(index)?.checksum.clone());
    match (meta.checksum.as_ref(), part) {
        (Some((algorithm, _)), Some(value)) => {
            (Some((*algorithm, value)), Some(ChecksumType::Composite))
        }
        _ => (None, None),
    }
}

/// The object's ETag header value.
fn etag_of(meta: &ObjectMeta) -> ETag {
    ETag::Strong(meta.etag.trim_matches('"').to_owned())
}

/// Judges a read's conditions: `Some` answer when they end it (412 as an error, 304 as an
/// answer with the object's ETag and Last-Modified, which the front sends without a body).
fn judge_read<T: Default>(
    meta: &ObjectMeta,
    conditions: ReadConditions<'_>,
    not_modified: impl FnOnce(ETag, Timestamp) -> T,
) -> S3Result<Option<S3Response<T>>> {
    match conditions.judge(&meta.etag, meta.last_modified_ms) {
        Verdict::Proceed => Ok(None),
        Verdict::Failed(condition) => Err(precondition_failed(condition)),
        Verdict::NotModified => {
            let last_modified = Timestamp::from(from_ms(meta.last_modified_ms));
            let mut response = S3Response::new(not_modified(etag_of(meta), last_modified));
            response
                .extensions
                .insert(AnswerStatus(http::StatusCode::NOT_MODIFIED));
            Ok(Some(response))
        }
    }
}

/// The `If-*` headers of a GetObject or HeadObject input.
macro_rules! read_conditions {
    ($input:expr) => {
        ReadConditions {
            if_match: $input.if_match.as_ref(),
            if_none_match: $input.if_none_match.as_ref(),
            if_modified_since: $input.if_modified_since.as_ref(),
            if_unmodified_since: $input.if_unmodified_since.as_ref(),
        }
    };
}

pub(crate) async fn get_object(
    storage: &Storage,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let input = req.input;
    let meta = lookup(storage, &input.bucket, &input.key)?;
    if let Some(answer) = judge_read(&meta, read_conditions!(input), |e_tag, last_modified| {
        GetObjectOutput {
            e_tag: Some(e_tag),
            last_modified: Some(last_modified),
            ..Default::default()
        }
    })? {
        return Ok(answer);
    }
    let span = span(&meta, input.range.as_ref(), input.part_number)?;
    let stream = ExtentStream::new(
        storage.layout.objects(&input.bucket),
        &meta,
        (span.start, span.end),
        &storage.read_ahead,
        storage.direct_reads,
    );
    let (sum, sum_type) = if wants_checksum(input.checksum_mode.as_ref()) {
        answered_checksum(&meta, &span)
    } else {
        (None, None)
    };
    let [crc32, crc32c, crc64nvme, sha1, sha256] = checksum::fields(sum.as_ref());
    let headers = &meta.headers;
    // s3s puts the `response-*` overrides of a signed GET over these.
    let output = GetObjectOutput {
        body: Some(StreamingBlob::wrap(stream)),
        content_length: Some((span.end - span.start) as i64),
        content_range: span.content_range(meta.size),
        accept_ranges: Some("bytes".into()),
        content_type: meta.content_type.clone(),
        cache_control: headers.cache_control.clone(),
        content_disposition: headers.content_disposition.clone(),
        content_encoding: headers.content_encoding.clone(),
        content_language: headers.content_language.clone(),
        expires: headers.expires_timestamp(),
        e_tag: Some(etag_of(&meta)),
        last_modified: Some(Timestamp::from(from_ms(meta.last_modified_ms))),
        metadata: (!meta.metadata.is_empty()).then(|| meta.metadata.clone().into_iter().collect()),
        parts_count: meta.parts.map(|p| p as i32),
        checksum_crc32: crc32,
        checksum_crc32c: crc32c,
        checksum_crc64nvme: crc64nvme,
        checksum_sha1: sha1,
        checksum_sha256: sha256,
        checksum_type: sum_type.map(checksum::dto_type),
        ..Default::default()
    };
    Ok(S3Response::new(output))
}

pub(crate) fn head_object(
    storage: &Storage,
    req: &S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let input = &req.input;
    let meta = lookup(storage, &input.bucket, &input.key)?;
    if let Some(answer) = judge_read(&meta, read_conditions!(input), |e_tag, last_modified| {
        HeadObjectOutput {
            e_tag: Some(e_tag),
            last_modified: Some(last_modified),
            ..Default::default()
        }
    })? {
        return Ok(answer);
    }
    let span = span(&meta, input.range.as_ref(), input.part_number)?;
    let (sum, sum_type) = if wants_checksum(input.checksum_mode.as_ref()) {
        answered_checksum(&meta, &span)
    } else {
        (None, None)
    };
    let [crc32, crc32c, crc64nvme, sha1, sha256] = checksum::fields(sum.as_ref());
    let headers = &meta.headers;
    let mut response = S3Response::new(HeadObjectOutput {
        content_length: Some((span.end - span.start) as i64),
        content_range: span.content_range(meta.size),
        accept_ranges: Some("bytes".into()),
        content_type: meta.content_type.clone(),
        cache_control: headers.cache_control.clone(),
        content_disposition: headers.content_disposition.clone(),
        content_encoding: headers.content_encoding.clone(),
        content_language: headers.content_language.clone(),
        expires: headers.expires_timestamp(),
        e_tag: Some(etag_of(&meta)),
        last_modified: Some(Timestamp::from(from_ms(meta.last_modified_ms))),
        metadata: (!meta.metadata.is_empty()).then(|| meta.metadata.clone().into_iter().collect()),
        parts_count: meta.parts.map(|p| p as i32),
        checksum_crc32: crc32,
        checksum_crc32c: crc32c,
        checksum_crc64nvme: crc64nvme,
        checksum_sha1: sha1,
        checksum_sha256: sha256,
        checksum_type: sum_type.map(checksum::dto_type),
        ..Default::default()
    });
    // S3 takes a HEAD's `response-*` overrides as a GET's; s3s applies them to GETs only.
    let output = &mut response.output;
    let overrides = [
        (&mut output.cache_control, &input.response_cache_control),
        (
            &mut output.content_disposition,
            &input.response_content_disposition,
        ),
        (
            &mut output.content_encoding,
            &input.response_content_encoding,
        ),
        (
            &mut output.content_language,
            &input.response_content_language,
        ),
        (&mut output.content_type, &input.response_content_type),
    ];
    for (field, value) in overrides {
        if value.is_some() {
            field.clone_from(value);
        }
    }
    if input.response_expires.is_some() {
        output.expires.clone_from(&input.response_expires);
    }
    if span.partial {
        // s3s answers every HEAD 200; S3 answers a HEAD of a part or range as the GET would.
        response
            .extensions
            .insert(AnswerStatus(http::StatusCode::PARTIAL_CONTENT));
    }
    Ok(response)
}

/// DeleteObject. Its conditions (`If-Match`, `x-amz-if-match-last-modified-time`,
/// `x-amz-if-match-size`) are not judged by the store, so a request that names one is
/// refused rather than obeyed in part.
pub(crate) async fn delete_one(
    storage: &Storage,
    input: &DeleteObjectInput,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let conditional = [
        (input.if_match.is_some(), "If-Match"),
        (
            input.if_match_last_modified_time.is_some(),
            "x-amz-if-match-last-modified-time",
        ),
        (input.if_match_size.is_some(), "x-amz-if-match-size"),
    ];
    if let Some((_, header)) = conditional.iter().find(|(named, _)| *named) {
        return Err(s3_error(
            S3ErrorCode::NotImplemented,
            "A header you provided implies functionality that is not implemented",
            &vec![("Header", (*header).to_owned())],
        ));
    }
    delete_object(storage, &input.bucket, &input.key).await
}

pub(crate) async fn delete_object(
    storage: &Storage,
    bucket: &str,
    key: &str,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    check_key(key)?;
    let _commit = storage.commit.key(bucket, key).await;
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
        let _ = crate::fs::sync_dir_async(dir).await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Extent;

    fn object(parts: &[(Option<i32>, u64)]) -> ObjectMeta {
        ObjectMeta {
            key: "k".into(),
            size: parts.iter().map(|p| p.1).sum::<u64>().max(12),
            etag: String::new(),
            last_modified_ms: 0,
            content_type: None,
            metadata: Default::default(),
            headers: Headers::default(),
            data: "d".into(),
            extents: parts
                .iter()
                .map(|&(part_number, size)| Extent {
                    data: String::new(),
                    size,
                    part_number,
                    etag: None,
                    checksum: None,
                })
                .collect(),
            checksum: None,
            checksum_type: None,
            parts: (!parts.is_empty()).then_some(parts.len() as u32),
            upload_id: None,
            blob: None,
        }
    }

    fn code(number: i32, meta: &ObjectMeta) -> (String, Option<http::StatusCode>) {
        let err = part_span(meta, number).unwrap_err();
        (err.code().as_str().to_owned(), err.status_code())
    }

    #[test]
    fn parts_are_found_by_their_uploaded_numbers() {
        let sparse = object(&[(Some(1), 10), (Some(3), 10), (Some(7), 5)]);
        assert_eq!(part_span(&sparse, 1).unwrap(), (0, 10, Some(0)));
        assert_eq!(part_span(&sparse, 3).unwrap(), (10, 20, Some(1)));
        assert_eq!(part_span(&sparse, 7).unwrap(), (20, 25, Some(2)));
        let beyond = (
            "InvalidPartNumber".to_owned(),
            Some(http::StatusCode::RANGE_NOT_SATISFIABLE),
        );
        assert_eq!(code(2, &sparse), beyond);
        assert_eq!(code(8, &sparse), beyond);
        let invalid = (
            "InvalidArgument".to_owned(),
            Some(http::StatusCode::BAD_REQUEST),
        );
        assert_eq!(code(0, &sparse), invalid);
        assert_eq!(code(10_001, &sparse), invalid);
        // Recorded before part numbers were kept: counted from 1.
        let old = object(&[(None, 4), (None, 6)]);
        assert_eq!(part_span(&old, 2).unwrap(), (4, 10, Some(1)));
        // Not multipart: part 1 is the whole object, there is no part 2.
        let single = object(&[]);
        assert_eq!(part_span(&single, 1).unwrap(), (0, 12, None));
        assert_eq!(code(2, &single), beyond);
    }
}
