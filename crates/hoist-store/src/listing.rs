//! ListObjectsV2 and ListObjects (v1): one walk over the sorted index, two answer shapes.

use std::ops::Bound;

use hoist_core::encoding::{hex, hex_decode};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Response, S3Result};

use crate::checksum;
use crate::config::owner;
use crate::errors::{no_such_bucket, s3_error};
use crate::query::encode_listed;
use crate::storage::{ObjectMeta, Storage, from_ms};

/// Whether a listing's names are to be URL-encoded: `encoding-type=url`, the one value S3
/// knows; any other is refused as S3 refuses it.
pub(crate) fn url_encoded(encoding: Option<&EncodingType>) -> S3Result<bool> {
    match encoding.map(EncodingType::as_str) {
        None => Ok(false),
        Some(e) if e == EncodingType::URL => Ok(true),
        Some(other) => Err(s3_error(
            S3ErrorCode::InvalidArgument,
            "Invalid Encoding Method specified in Request",
            &vec![
                ("ArgumentName", "encoding-type".into()),
                ("ArgumentValue", other.to_owned()),
            ],
        )),
    }
}

/// `name` as the listing writes it: URL-encoded when `encode`.
pub(crate) fn listed(name: String, encode: bool) -> String {
    if encode { encode_listed(&name) } else { name }
}

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
        owner: Some(owner()),
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
    // S3 answers `max-keys=0` with an empty page that is not truncated.
    if max == 0 {
        return Ok(page);
    }
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

pub(crate) fn common_prefixes(prefixes: Vec<String>, encode: bool) -> Option<Vec<CommonPrefix>> {
    (!prefixes.is_empty()).then(|| {
        prefixes
            .into_iter()
            .map(|p| CommonPrefix {
                prefix: Some(listed(p, encode)),
            })
            .collect()
    })
}

/// The page's objects as the answer lists them: keys encoded when asked, the owner only
/// when wanted.
fn contents(objects: Vec<Object>, encode: bool, with_owner: bool) -> Vec<Object> {
    objects
        .into_iter()
        .map(|mut object| {
            object.key = object.key.map(|k| listed(k, encode));
            if !with_owner {
                object.owner = None;
            }
            object
        })
        .collect()
}

/// A continuation token is the hex of the last key or prefix a page gave: opaque to clients,
/// and safe in a query string without escaping.
pub(crate) fn list_objects_v2(
    storage: &Storage,
    input: ListObjectsV2Input,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let encode = url_encoded(input.encoding_type.as_ref())?;
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
    // v2 shows each object's owner only when asked (`fetch-owner=true`).
    let with_owner = input.fetch_owner.unwrap_or(false);
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(input.bucket),
        prefix: Some(listed(prefix, encode)),
        delimiter: delimiter.map(|d| listed(d, encode)),
        max_keys: Some(max_keys),
        key_count: Some(key_count),
        is_truncated: Some(page.truncated),
        continuation_token: input.continuation_token,
        next_continuation_token: next,
        start_after: input.start_after.map(|s| listed(s, encode)),
        contents: Some(contents(page.contents, encode, with_owner)),
        common_prefixes: common_prefixes(page.prefixes, encode),
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}

pub(crate) fn list_objects(
    storage: &Storage,
    input: ListObjectsInput,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let encode = url_encoded(input.encoding_type.as_ref())?;
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
        prefix: Some(listed(prefix, encode)),
        // S3 gives NextMarker only with a delimiter; clients use the last key otherwise.
        next_marker: if page.truncated && delimiter.is_some() {
            page.last.map(|l| listed(l, encode))
        } else {
            None
        },
        delimiter: delimiter.map(|d| listed(d, encode)),
        marker: Some(listed(input.marker.unwrap_or_default(), encode)),
        max_keys: Some(max_keys),
        is_truncated: Some(page.truncated),
        // v1 always shows each object's owner.
        contents: Some(contents(page.contents, encode, true)),
        common_prefixes: common_prefixes(page.prefixes, encode),
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}
