//! CopyObject and UploadPartCopy: the source named by `x-amz-copy-source` (URL-encoded,
//! `?versionId=null` at most, since the store keeps no versions), its
//! `x-amz-copy-source-if-*` conditions, S3's 5 GiB copy limit, then the bytes. A whole
//! object held in one file is linked, not written again; anything else (a range, a multipart
//! source, another checksum) is streamed into a new file while it is hashed, so the copy
//! gets the ETag and checksum S3 gives it: a CopyObject is a single-part object.

use hoist_core::checksum::{ChecksumAlgorithm, ChecksumType, etag};
use hoist_core::plan::{MAX_PART_SIZE, MAX_SINGLE_PUT};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::checksum::{self, dto_type};
use crate::commit::{commit_object, publish_locked};
use crate::conditions::WriteConditions;
use crate::config::random_hex;
use crate::errors::{MSG_NO_SUCH_KEY, check_part_number, internal, no_such_bucket, s3_error};
use crate::fs::{Written, check_key, key_stem, link_all, write_stream};
use crate::read::ExtentStream;
use crate::storage::{Headers, ObjectMeta, PartMeta, Storage, from_ms};
use crate::uploads::{self, PartBytes};

/// The largest object S3 copies in one request (CopyObject, or UploadPartCopy without a
/// range): 5 GiB.
pub(crate) const MAX_COPY_SIZE: u64 = MAX_SINGLE_PUT;

const MSG_COPY_TOO_LARGE: &str = "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120";
const MSG_COPY_TO_ITSELF: &str = "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.";
const MSG_PRECONDITION: &str = "At least one of the pre-conditions you specified did not hold";
const MSG_RANGE_FORM: &str = "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy";

/// The `x-amz-copy-source-if-*` headers of a request.
/// The `x-amz-copy-source-if-*` headers of a CopyObject or UploadPartCopy input.
macro_rules! copy_conditions {
    ($input:expr) => {
        Conditions {
            if_match: $input.copy_source_if_match.as_ref(),
            if_none_match: $input.copy_source_if_none_match.as_ref(),
            if_modified_since: $input.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: $input.copy_source_if_unmodified_since.as_ref(),
        }
    };
}

struct Conditions<'a> {
    if_match: Option<&'a ETagCondition>,
    if_none_match: Option<&'a ETagCondition>,
    if_modified_since: Option<&'a Timestamp>,
    if_unmodified_since: Option<&'a Timestamp>,
}

/// Seconds since the epoch of a timestamp (HTTP dates have whole seconds).
fn epoch_secs(time: &Timestamp) -> Option<i64> {
    let mut text = Vec::new();
    time.format(TimestampFormat::EpochSeconds, &mut text).ok()?;
    let text = String::from_utf8(text).ok()?;
    text.split('.').next()?.parse().ok()
}

fn etag_matches(condition: &ETagCondition, meta: &ObjectMeta) -> bool {
    match condition {
        ETagCondition::Any => true,
        ETagCondition::ETag(tag) => tag.value().trim_matches('"') == meta.etag.trim_matches('"'),
    }
}

fn precondition_failed(header: &str) -> s3s::S3Error {
    s3_error(
        S3ErrorCode::PreconditionFailed,
        MSG_PRECONDITION,
        &vec![("Condition", header.to_owned())],
    )
}

/// S3's rules: a true If-Match overrides a false If-Unmodified-Since, and a false
/// If-None-Match fails whatever If-Modified-Since says.
fn check_conditions(meta: &ObjectMeta, c: &Conditions<'_>) -> S3Result<()> {
    let modified = meta.last_modified_ms.div_euclid(1000);
    if let Some(condition) = c.if_match {
        if !etag_matches(condition, meta) {
            return Err(precondition_failed("x-amz-copy-source-If-Match"));
        }
    } else if let Some(since) = c.if_unmodified_since.and_then(epoch_secs)
        && modified > since
    {
        return Err(precondition_failed("x-amz-copy-source-If-Unmodified-Since"));
    }
    if let Some(condition) = c.if_none_match {
        if etag_matches(condition, meta) {
            return Err(precondition_failed("x-amz-copy-source-If-None-Match"));
        }
    } else if let Some(since) = c.if_modified_since.and_then(epoch_secs)
        && modified <= since
    {
        return Err(precondition_failed("x-amz-copy-source-If-Modified-Since"));
    }
    Ok(())
}

/// The source object a copy names, held (with its files) until the copy is done.
fn source_object(storage: &Storage, source: &CopySource) -> S3Result<(String, ObjectMeta)> {
    let CopySource::Bucket {
        bucket,
        key,
        version_id,
    } = source
    else {
        return Err(s3_error(
            S3ErrorCode::NotImplemented,
            "Copying from an access point or an Outpost is not implemented",
            &vec![],
        ));
    };
    // The store keeps no versions: the one version of every object is "null".
    if let Some(version) = version_id.as_deref()
        && version != "null"
    {
        return Err(s3_error(
            S3ErrorCode::InvalidArgument,
            "Invalid version id specified",
            &vec![
                ("ArgumentName", "versionId".into()),
                ("ArgumentValue", version.to_owned()),
            ],
        ));
    }
    check_key(key)?;
    let state = storage.state();
    let entry = state
        .buckets
        .get(&**bucket)
        .filter(|b| b.meta.is_some())
        .ok_or_else(|| no_such_bucket(bucket))?;
    let meta = entry.objects.get(&**key).cloned().ok_or_else(|| {
        s3_error(
            S3ErrorCode::NoSuchKey,
            MSG_NO_SUCH_KEY,
            &vec![("Key", key.to_string())],
        )
    })?;
    Ok((bucket.to_string(), meta))
}

/// Lets go of the source's handle on its files. Should the source have been deleted or
/// replaced meanwhile, this was the last reader and the drop unlinks its files, which must
/// not stall an async worker.
async fn release(source: ObjectMeta) {
    let _ = tokio::task::spawn_blocking(move || drop(source)).await;
}

fn copy_too_large() -> s3s::S3Error {
    s3_error(S3ErrorCode::InvalidRequest, MSG_COPY_TOO_LARGE, &vec![])
}

/// Bytes `start..end` of an object streamed into a new temp file, hashed with `algorithm`.
async fn stream_copy(
    storage: &Storage,
    bucket: &str,
    meta: &ObjectMeta,
    (start, end): (u64, u64),
    algorithm: Option<ChecksumAlgorithm>,
) -> S3Result<Written> {
    let stream = ExtentStream::new(
        storage.layout.objects(bucket),
        meta,
        (start, end),
        &storage.read_ahead,
        storage.direct_reads,
    );
    write_stream(
        &storage.layout,
        StreamingBlob::wrap(stream),
        algorithm,
        u64::MAX,
        storage.direct_writes,
    )
    .await
}

/// Whether a copy changes the destination's metadata: `x-amz-metadata-directive`, COPY
/// (the default) or REPLACE.
fn replaces_metadata(directive: Option<&MetadataDirective>) -> S3Result<bool> {
    match directive.map(MetadataDirective::as_str) {
        None => Ok(false),
        Some(d) if d == MetadataDirective::COPY => Ok(false),
        Some(d) if d == MetadataDirective::REPLACE => Ok(true),
        Some(other) => Err(s3_error(
            S3ErrorCode::InvalidArgument,
            "Unknown metadata directive.",
            &vec![
                ("ArgumentName", "x-amz-metadata-directive".into()),
                ("ArgumentValue", other.to_owned()),
            ],
        )),
    }
}

/// The first option of a CopyObject the store would have to ignore (encryption, tags,
/// storage classes, object lock, website redirects, ACLs other than the owner's): refused
/// with `501 NotImplemented` rather than copied without it.
fn unsupported_option(input: &CopyObjectInput) -> Option<&'static str> {
    let acl_is_owners = input.acl.as_ref().is_none_or(|acl| {
        matches!(
            acl.as_str(),
            ObjectCannedACL::PRIVATE | ObjectCannedACL::BUCKET_OWNER_FULL_CONTROL
        )
    });
    let tagging_replaced = input
        .tagging_directive
        .as_ref()
        .is_some_and(|d| d.as_str() == TaggingDirective::REPLACE);
    let standard_class = input
        .storage_class
        .as_ref()
        .is_none_or(|c| c.as_str() == StorageClass::STANDARD);
    [
        (!acl_is_owners, "ACLs"),
        (
            input.grant_full_control.is_some()
                || input.grant_read.is_some()
                || input.grant_read_acp.is_some()
                || input.grant_write_acp.is_some(),
            "ACL grants",
        ),
        (
            input.server_side_encryption.is_some()
                || input.ssekms_key_id.is_some()
                || input.sse_customer_algorithm.is_some()
                || input.copy_source_sse_customer_algorithm.is_some(),
            "server-side encryption",
        ),
        (input.tagging.is_some() || tagging_replaced, "object tags"),
        (!standard_class, "storage classes other than STANDARD"),
        (
            input.object_lock_mode.is_some() || input.object_lock_legal_hold_status.is_some(),
            "object lock",
        ),
        (
            input.website_redirect_location.is_some(),
            "website redirects",
        ),
    ]
    .into_iter()
    .find_map(|(asked, what)| asked.then_some(what))
}

pub(crate) async fn copy_object(
    storage: &Storage,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let input = req.input;
    check_key(&input.key)?;
    if let Some(what) = unsupported_option(&input) {
        return Err(s3_error(
            S3ErrorCode::NotImplemented,
            &format!("The store does not implement {what}"),
            &vec![],
        ));
    }
    storage
        .bucket_meta(&input.bucket)
        .ok_or_else(|| no_such_bucket(&input.bucket))?;
    let replace = replaces_metadata(input.metadata_directive.as_ref())?;
    let (source_bucket, source) = source_object(storage, &input.copy_source)?;
    check_conditions(&source, &copy_conditions!(input))?;
    if source_bucket == input.bucket && source.key == input.key && !replace {
        return Err(s3_error(
            S3ErrorCode::InvalidRequest,
            MSG_COPY_TO_ITSELF,
            &vec![],
        ));
    }
    if source.size > MAX_COPY_SIZE {
        return Err(copy_too_large());
    }
    let requested = checksum::requested(input.checksum_algorithm.as_ref())?;
    let kept_algorithm = source.checksum.as_ref().map(|(a, _)| *a);
    let algorithm = requested.or(kept_algorithm);

    let mut meta = ObjectMeta {
        key: input.key.clone(),
        last_modified_ms: storage.now_ms(),
        upload_id: None,
        blob: None,
        ..source.clone()
    };
    if replace {
        // REPLACE takes every header the request gives and keeps none of the source's.
        meta.content_type = input.content_type;
        meta.metadata = input
            .metadata
            .map(|m| m.into_iter().collect())
            .unwrap_or_default();
        meta.headers = Headers::new(
            input.cache_control,
            input.content_disposition,
            input.content_encoding,
            input.content_language,
            input.expires.as_ref(),
        );
    }
    let one_file = source.extents.is_empty() && source.parts.is_none();
    let meta = if one_file && algorithm == kept_algorithm {
        // The same bytes under a new name: the ETag and checksum stay true.
        let from = storage.layout.objects(&source_bucket).join(&source.data);
        let to_dir = storage.layout.objects(&input.bucket);
        meta.data = format!("{}.{}.data", key_stem(&meta.key), random_hex(8));
        let to = to_dir.join(&meta.data);
        let _commit = storage.commit.key(&input.bucket, &meta.key).await;
        if storage.bucket_meta(&input.bucket).is_none() {
            return Err(no_such_bucket(&input.bucket));
        }
        tokio::task::spawn_blocking(move || link_all(&[(from, to)], &to_dir))
            .await
            .map_err(internal)?
            .map_err(internal)?;
        publish_locked(storage, &input.bucket, meta).await?
    } else {
        let written = stream_copy(
            storage,
            &source_bucket,
            &source,
            (0, source.size),
            algorithm,
        )
        .await?;
        meta.size = written.size;
        meta.etag = etag::of_md5(&written.md5);
        meta.extents = Vec::new();
        meta.parts = None;
        meta.checksum = algorithm.zip(written.checksum.map(|c| c.to_base64()));
        meta.checksum_type = meta.checksum.as_ref().map(|_| ChecksumType::FullObject);
        commit_object(
            storage,
            &input.bucket,
            written.path,
            meta,
            &WriteConditions::default(),
        )
        .await?
    };
    release(source).await;
    let [crc32, crc32c, crc64nvme, sha1, sha256] = checksum::fields(meta.checksum.as_ref());
    let result = CopyObjectResult {
        e_tag: Some(ETag::Strong(meta.etag.trim_matches('"').to_owned())),
        last_modified: Some(Timestamp::from(from_ms(meta.last_modified_ms))),
        checksum_crc32: crc32,
        checksum_crc32c: crc32c,
        checksum_crc64nvme: crc64nvme,
        checksum_sha1: sha1,
        checksum_sha256: sha256,
        checksum_type: meta.checksum_type.map(dto_type),
    };
    Ok(S3Response::new(CopyObjectOutput {
        copy_object_result: Some(result),
        ..Default::default()
    }))
}

/// `x-amz-copy-source-range: bytes=first-last` against an object of `size` bytes, as the
/// half-open range `first..last + 1`.
pub(crate) fn copy_range(text: &str, size: u64) -> S3Result<(u64, u64)> {
    let malformed = || {
        s3_error(
            S3ErrorCode::InvalidArgument,
            MSG_RANGE_FORM,
            &vec![
                ("ArgumentName", "x-amz-copy-source-range".into()),
                ("ArgumentValue", text.to_owned()),
            ],
        )
    };
    let number = |digits: &str| {
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse::<u64>().ok())
            .flatten()
    };
    let (first, last) = text
        .trim()
        .strip_prefix("bytes=")
        .and_then(|spec| spec.split_once('-'))
        .and_then(|(a, b)| Some((number(a)?, number(b)?)))
        .ok_or_else(malformed)?;
    if first > last || last >= size {
        return Err(s3_error(
            S3ErrorCode::InvalidArgument,
            &format!("Range specified is not valid for source object of size: {size}"),
            &vec![
                ("ArgumentName", "x-amz-copy-source-range".into()),
                ("ArgumentValue", text.to_owned()),
            ],
        ));
    }
    Ok((first, last + 1))
}

pub(crate) async fn upload_part_copy(
    storage: &Storage,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let input = req.input;
    check_key(&input.key)?;
    if input.sse_customer_algorithm.is_some() || input.copy_source_sse_customer_algorithm.is_some()
    {
        return Err(s3_error(
            S3ErrorCode::NotImplemented,
            "The store does not implement server-side encryption",
            &vec![],
        ));
    }
    let upload = uploads::find(storage, &input.bucket, &input.key, &input.upload_id)?;
    let number = input.part_number;
    check_part_number(number)?;
    let (source_bucket, source) = source_object(storage, &input.copy_source)?;
    check_conditions(&source, &copy_conditions!(input))?;
    let range = match input.copy_source_range.as_deref() {
        Some(text) => copy_range(text, source.size)?,
        None if source.size > MAX_COPY_SIZE => return Err(copy_too_large()),
        None => (0, source.size),
    };
    let length = range.1 - range.0;
    if length > MAX_PART_SIZE {
        return Err(s3_error(
            S3ErrorCode::EntityTooLarge,
            crate::errors::MSG_ENTITY_TOO_LARGE,
            &vec![
                ("ProposedSize", length.to_string()),
                ("MaxSizeAllowed", MAX_PART_SIZE.to_string()),
            ],
        ));
    }
    let data = format!("part-{number:05}.{}.data", random_hex(8));
    let whole_file =
        range == (0, source.size) && source.extents.is_empty() && source.parts.is_none();
    let same_sum = source
        .checksum
        .as_ref()
        .filter(|_| source.checksum_type == Some(ChecksumType::FullObject))
        .filter(|(a, _)| Some(*a) == upload.checksum)
        .map(|(_, sum)| sum.clone());
    let (part, bytes) = if whole_file && (upload.checksum.is_none() || same_sum.is_some()) {
        let part = PartMeta {
            number,
            size: source.size,
            etag: source.etag.clone(),
            last_modified_ms: storage.now_ms(),
            data,
            checksum: same_sum,
        };
        let from = storage.layout.objects(&source_bucket).join(&source.data);
        (part, PartBytes::Linked(from))
    } else {
        let written = stream_copy(storage, &source_bucket, &source, range, upload.checksum).await?;
        let part = PartMeta {
            number,
            size: written.size,
            etag: etag::of_md5(&written.md5),
            last_modified_ms: storage.now_ms(),
            data,
            checksum: written.checksum.map(|c| c.to_base64()),
        };
        (part, PartBytes::Received(written.path))
    };
    uploads::commit_part(storage, &upload.id, part.clone(), bytes).await?;
    release(source).await;
    let [crc32, crc32c, crc64nvme, sha1, sha256] =
        checksum::fields(upload.checksum.zip(part.checksum.clone()).as_ref());
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_part_result: Some(CopyPartResult {
            e_tag: Some(ETag::Strong(part.etag.trim_matches('"').to_owned())),
            last_modified: Some(Timestamp::from(from_ms(part.last_modified_ms))),
            checksum_crc32: crc32,
            checksum_crc32c: crc32c,
            checksum_crc64nvme: crc64nvme,
            checksum_sha1: sha1,
            checksum_sha256: sha256,
        }),
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_ranges_are_read_as_s3_reads_them() {
        assert_eq!(copy_range("bytes=0-9", 10).unwrap(), (0, 10));
        assert_eq!(copy_range("bytes=3-3", 10).unwrap(), (3, 4));
        for malformed in [
            "0-9",
            "bytes=0",
            "bytes=a-b",
            "bytes=-5",
            "bytes=0-",
            "bytes=+1-2",
        ] {
            let err = copy_range(malformed, 10).unwrap_err();
            assert_eq!(err.code(), &S3ErrorCode::InvalidArgument, "{malformed}");
            assert_eq!(err.message(), Some(MSG_RANGE_FORM), "{malformed}");
        }
        for outside in ["bytes=0-10", "bytes=5-2", "bytes=10-10"] {
            let err = copy_range(outside, 10).unwrap_err();
            assert_eq!(err.code(), &S3ErrorCode::InvalidArgument, "{outside}");
            assert_eq!(
                err.message(),
                Some("Range specified is not valid for source object of size: 10")
            );
        }
    }
}
