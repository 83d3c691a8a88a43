//! ListObjectsV2 and ListObjects (v1): one walk over the sorted index, two answer shapes.

use std::ops::Bound;

use hoist_core::encoding::{hex, hex_decode};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Response, S3Result};

use crate::checksum;
use crate::errors::{no_such_bucket, s3_error};
use crate::storage::{ObjectMeta, Storage, from_ms};

/// One page of a listing.
struct Page {
    contents: Vec<Object>,
    prefixes: Vec<String>,
    truncated: bool,
    /// The last key or common prefix returned: where the next page starts.
    last: Option<String>,
}

fn object_of(key: &str, meta: &ObjectMeta) -> Object {
    Object {
        key: Some(key.to_owned()),
        size: Some(i64::try_from(meta.size).unwrap_or(i64::MAX)),
        e_tag: Some(ETag::Strong(meta.etag.trim_matches('"').to_owned())),
        last_modified: Some(Timestamp::from(from_ms(meta.last_modified_ms))),
        storage_class: Some(ObjectStorageClass::from_static(
            ObjectStorageClass::STANDARD,
        )),
        checksum_algorithm: meta
            .checksum
            .as_ref()
            .map(|(a, _)| vec![checksum::dto_algorithm(*a)]),
        checksum_type: meta.checksum_type.map(checksum::dto_type),
        ..Default::default()
    }
}

/// Keys after `start` under `prefix`, rolled up at `delimiter`, at most `max` entries.
fn walk(
    storage: &Storage,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    start: Option<&str>,
    max: usize,
) -> S3Result<Page> {
    let state = storage.state();
    let entry = state
        .buckets
        .get(bucket)
        .filter(|b| b.meta.is_some())
        .ok_or_else(|| no_such_bucket(bucket))?;
    let lower = start.map_or(Bound::Unbounded, |s| Bound::Excluded(s.to_owned()));
    let mut page = Page {
        contents: Vec::new(),
        prefixes: Vec::new(),
        truncated: false,
        last: None,
    };
    for (key, meta) in entry.objects.range::<String, _>((lower, Bound::Unbounded)) {
        if !key.starts_with(prefix) {
            // Keys under the prefix are contiguous: past them, nothing more can match.
            if !prefix.is_empty() && key.as_str() > prefix {
                break;
            }
            continue;
        }
        let group = delimiter.and_then(|d| {
            key[prefix.len()..]
                .find(d)
                .map(|i| key[..prefix.len() + i + d.len()].to_owned())
        });
        if let Some(group) = &group
            && (page.prefixes.last() == Some(group) || start == Some(group.as_str()))
        {
            continue;
        }
        if page.contents.len() + page.prefixes.len() >= max {
            page.truncated = true;
            break;
        }
        match group {
            Some(group) => {
                page.last = Some(group.clone());
                page.prefixes.push(group);
            }
            None => {
                page.last = Some(key.clone());
                page.contents.push(object_of(key, meta));
            }
        }
    }
    Ok(page)
}

fn common_prefixes(prefixes: Vec<String>) -> Option<Vec<CommonPrefix>> {
    (!prefixes.is_empty()).then(|| {
        prefixes
            .into_iter()
            .map(|p| CommonPrefix { prefix: Some(p) })
            .collect()
    })
}

/// A continuation token is the hex of the last key or prefix a page gave: opaque to clients,
/// and safe in a query string without escaping.
pub(crate) fn list_objects_v2(
    storage: &Storage,
    input: ListObjectsV2Input,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let max_keys = input.max_keys.unwrap_or(1000).clamp(0, 1000);
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let token = match &input.continuation_token {
        Some(t) => Some(
            hex_decode(t)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    s3_error(
                        S3ErrorCode::InvalidArgument,
                        "The continuation token provided is incorrect",
                        &vec![],
                    )
                })?,
        ),
        None => None,
    };
    let start = token.or_else(|| input.start_after.clone());
    let page = walk(
        storage,
        &input.bucket,
        &prefix,
        delimiter.as_deref(),
        start.as_deref(),
        max_keys as usize,
    )?;
    let key_count = i32::try_from(page.contents.len() + page.prefixes.len()).unwrap_or(i32::MAX);
    let next = page
        .truncated
        .then(|| page.last.map(|l| hex(l.as_bytes())))
        .flatten();
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(input.bucket),
        prefix: Some(prefix),
        delimiter,
        max_keys: Some(max_keys),
        key_count: Some(key_count),
        is_truncated: Some(page.truncated),
        continuation_token: input.continuation_token,
        next_continuation_token: next,
        start_after: input.start_after,
        contents: Some(page.contents),
        common_prefixes: common_prefixes(page.prefixes),
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}

pub(crate) fn list_objects(
    storage: &Storage,
    input: ListObjectsInput,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let max_keys = input.max_keys.unwrap_or(1000).clamp(0, 1000);
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let page = walk(
        storage,
        &input.bucket,
        &prefix,
        delimiter.as_deref(),
        input.marker.as_deref(),
        max_keys as usize,
    )?;
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(input.bucket),
        prefix: Some(prefix),
        // S3 gives NextMarker only with a delimiter; clients use the last key otherwise.
        next_marker: if page.truncated && delimiter.is_some() {
            page.last
        } else {
            None
        },
        delimiter,
        marker: Some(input.marker.unwrap_or_default()),
        max_keys: Some(max_keys),
        is_truncated: Some(page.truncated),
        contents: Some(page.contents),
        common_prefixes: common_prefixes(page.prefixes),
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}
