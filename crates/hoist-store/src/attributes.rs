//! GetObjectAttributes: what `x-amz-object-attributes` selects of ETag, Checksum,
//! ObjectParts (each part's number, size and checksum, paged by `x-amz-max-parts` and
//! `x-amz-part-number-marker`), StorageClass and ObjectSize, with `Last-Modified`.

use hoist_core::checksum::{ChecksumAlgorithm, ChecksumType};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::checksum::{self, dto_type};
use crate::errors::s3_error;
use crate::objects::lookup;
use crate::storage::{ObjectMeta, Storage, from_ms};

/// Most parts one answer lists, as ListParts.
const PAGE: i32 = 1000;

/// The attributes S3 knows, in the order of its reference.
const KNOWN: [&str; 5] = [
    ObjectAttributes::ETAG,
    ObjectAttributes::CHECKSUM,
    ObjectAttributes::OBJECT_PARTS,
    ObjectAttributes::STORAGE_CLASS,
    ObjectAttributes::OBJECT_SIZE,
];

/// The attributes asked for. SDKs send them comma-separated in one header; a name S3 does
/// not know is `400 InvalidArgument`.
fn selected(list: &[ObjectAttributes]) -> S3Result<Vec<&'static str>> {
    let mut wanted = Vec::new();
    for name in list
        .iter()
        .flat_map(|a| a.as_str().split(','))
        .map(str::trim)
    {
        if name.is_empty() {
            continue;
        }
        let Some(known) = KNOWN.iter().find(|k| k.eq_ignore_ascii_case(name)) else {
            return Err(s3_error(
                S3ErrorCode::InvalidArgument,
                "Invalid attribute name specified.",
                &vec![
                    ("ArgumentName", "x-amz-object-attributes".into()),
                    ("ArgumentValue", name.to_owned()),
                ],
            ));
        };
        wanted.push(*known);
    }
    if wanted.is_empty() {
        return Err(s3_error(
            S3ErrorCode::InvalidArgument,
            "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty",
            &vec![],
        ));
    }
    Ok(wanted)
}

/// The object's checksum. Amazon S3 writes a COMPOSITE one here without the `-N` part count
/// that Complete and HeadObject append (seen on the wire; the reference does not say).
fn object_checksum(meta: &ObjectMeta) -> Option<Checksum> {
    let stored = meta.checksum.as_ref().map(|(algorithm, value)| {
        let value = match meta.checksum_type {
            Some(ChecksumType::Composite) => value.split('-').next().unwrap_or(value),
            _ => value,
        };
        (*algorithm, value.to_owned())
    });
    let [crc32, crc32c, crc64nvme, sha1, sha256] = checksum::fields(stored.as_ref());
    meta.checksum.as_ref().map(|_| Checksum {
        checksum_crc32: crc32,
        checksum_crc32c: crc32c,
        checksum_crc64nvme: crc64nvme,
        checksum_sha1: sha1,
        checksum_sha256: sha256,
        checksum_type: meta.checksum_type.map(dto_type),
    })
}

/// A multipart object's parts (none for any other object). The S3 reference: a general
/// purpose bucket lists no `Part` for an object stored without an additional checksum, only
/// the count. A multipart object from before Complete linked the part files has its bytes in
/// one file and never kept its part sizes: it is answered the same way, the count alone,
/// rather than an empty list that the count contradicts.
fn object_parts(
    meta: &ObjectMeta,
    max: Option<i32>,
    marker: Option<i32>,
) -> Option<GetObjectAttributesParts> {
    let count = meta.parts?;
    let algorithm: Option<ChecksumAlgorithm> = meta.checksum.as_ref().map(|(a, _)| *a);
    let Some(algorithm) = algorithm.filter(|_| !meta.extents.is_empty()) else {
        return Some(GetObjectAttributesParts {
            total_parts_count: Some(count as i32),
            ..Default::default()
        });
    };
    let max = max.unwrap_or(PAGE).clamp(0, PAGE);
    let after = marker.unwrap_or(0);
    let numbered = meta
        .extents
        .iter()
        .enumerate()
        .map(|(index, extent)| (extent.part_number.unwrap_or(index as i32 + 1), extent))
        .filter(|(number, _)| *number > after);
    let mut parts = Vec::new();
    let mut truncated = false;
    for (number, extent) in numbered {
        if parts.len() >= max as usize {
            truncated = true;
            break;
        }
        let stored = extent.checksum.clone().map(|value| (algorithm, value));
        let [crc32, crc32c, crc64nvme, sha1, sha256] = checksum::fields(stored.as_ref());
        parts.push(ObjectPart {
            part_number: Some(number),
            size: Some(extent.size as i64),
            checksum_crc32: crc32,
            checksum_crc32c: crc32c,
            checksum_crc64nvme: crc64nvme,
            checksum_sha1: sha1,
            checksum_sha256: sha256,
        });
    }
    Some(GetObjectAttributesParts {
        total_parts_count: Some(count as i32),
        part_number_marker: Some(after),
        next_part_number_marker: parts.last().and_then(|p| p.part_number),
        max_parts: Some(max),
        is_truncated: Some(truncated),
        parts: Some(parts),
    })
}

pub(crate) fn get_object_attributes(
    storage: &Storage,
    req: S3Request<GetObjectAttributesInput>,
) -> S3Result<S3Response<GetObjectAttributesOutput>> {
    let input = req.input;
    let meta = lookup(storage, &input.bucket, &input.key)?;
    let wanted = selected(&input.object_attributes)?;
    let wants = |name: &str| wanted.contains(&name);
    Ok(S3Response::new(GetObjectAttributesOutput {
        // The front sends this ETag unquoted, as S3 does in this document.
        e_tag: wants(ObjectAttributes::ETAG)
            .then(|| ETag::Strong(meta.etag.trim_matches('"').to_owned())),
        checksum: wants(ObjectAttributes::CHECKSUM)
            .then(|| object_checksum(&meta))
            .flatten(),
        object_parts: wants(ObjectAttributes::OBJECT_PARTS)
            .then(|| object_parts(&meta, input.max_parts, input.part_number_marker))
            .flatten(),
        storage_class: wants(ObjectAttributes::STORAGE_CLASS)
            .then(|| StorageClass::from_static(StorageClass::STANDARD)),
        object_size: wants(ObjectAttributes::OBJECT_SIZE).then_some(meta.size as i64),
        last_modified: Some(Timestamp::from(from_ms(meta.last_modified_ms))),
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_read_from_one_comma_separated_header_or_many() {
        let one = vec![ObjectAttributes::from("ETag, ObjectSize".to_owned())];
        assert_eq!(selected(&one).unwrap(), vec!["ETag", "ObjectSize"]);
        let many = vec![
            ObjectAttributes::from("Checksum".to_owned()),
            ObjectAttributes::from("objectparts".to_owned()),
        ];
        assert_eq!(selected(&many).unwrap(), vec!["Checksum", "ObjectParts"]);
        let bad = vec![ObjectAttributes::from("ETag,Colour".to_owned())];
        assert_eq!(
            selected(&bad).unwrap_err().code(),
            &S3ErrorCode::InvalidArgument
        );
        assert!(selected(&[]).is_err());
    }
}
