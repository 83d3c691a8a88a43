//! GetObjectAttributes: what a store says of a finished object (ETag, checksum, its parts with
//! their sizes and checksums, size), and the check of those parts against the ones sent.

use super::ResponseError;
use super::multipart::checksum_of;
use crate::checksum::{ChecksumAlgorithm, ChecksumType};
use crate::xml::{self, XmlElement, XmlError};

/// The attributes hoist asks for, as the `x-amz-object-attributes` header carries them.
pub const OBJECT_ATTRIBUTES: &str = "ETag,Checksum,ObjectParts,ObjectSize";

/// One part of a multipart object, as GetObjectAttributes lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttributePart {
    pub part_number: u32,
    pub size: u64,
    /// The part's checksum, when the object has an algorithm (S3 lists it for COMPOSITE
    /// objects; a FULL_OBJECT one may leave it out).
    pub checksum: Option<(ChecksumAlgorithm, String)>,
}

/// One page of a GetObjectAttributes answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ObjectAttributes {
    /// `<ETag>` (S3 sends it without quotes).
    pub etag: Option<String>,
    /// The object's checksum.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
    pub checksum_type: Option<ChecksumType>,
    /// `<ObjectParts><PartsCount>`: absent for an object not made by a multipart upload.
    pub parts_count: Option<u32>,
    /// This page's parts.
    pub parts: Vec<AttributePart>,
    pub is_truncated: bool,
    pub next_part_number_marker: Option<u32>,
    /// `<ObjectSize>`.
    pub size: Option<u64>,
}

fn number<T: std::str::FromStr>(
    el: &XmlElement,
    name: &'static str,
) -> Result<Option<T>, XmlError> {
    el.text_of(name)
        .map(|t| {
            t.trim().parse().map_err(|_| XmlError::Invalid {
                name,
                value: t.to_owned(),
                expected: "a whole number",
            })
        })
        .transpose()
}

fn required<T: std::str::FromStr>(el: &XmlElement, name: &'static str) -> Result<T, XmlError> {
    number(el, name)?.ok_or(XmlError::Missing {
        parent: el.name.clone(),
        name,
    })
}

impl ObjectAttributes {
    /// Parses the answer: 2xx with the `GetObjectAttributesResponse` body, else the error.
    ///
    /// ```
    /// use hoist_core::s3::ObjectAttributes;
    /// let body = b"<GetObjectAttributesResponse><ETag>abc-2</ETag><ObjectParts>\
    ///     <PartsCount>2</PartsCount><Part><PartNumber>1</PartNumber><Size>5242880</Size></Part>\
    ///     <Part><PartNumber>2</PartNumber><Size>7</Size></Part></ObjectParts>\
    ///     <ObjectSize>5242887</ObjectSize></GetObjectAttributesResponse>";
    /// let a = ObjectAttributes::from_response(200, body).unwrap();
    /// assert_eq!((a.parts_count, a.parts.len(), a.size), (Some(2), 2, Some(5_242_887)));
    /// ```
    pub fn from_response(status: u16, body: &[u8]) -> Result<Self, ResponseError> {
        super::check_status(status, body)?;
        let root = xml::parse_root(body, "GetObjectAttributesResponse")?;
        let mut out = ObjectAttributes {
            etag: root.text_of("ETag").map(|e| e.trim().to_owned()),
            size: number(&root, "ObjectSize")?,
            ..Default::default()
        };
        if let Some(c) = root.child("Checksum") {
            out.checksum = checksum_of(c);
            out.checksum_type = c.text_of("ChecksumType").and_then(ChecksumType::parse);
        }
        if let Some(p) = root.child("ObjectParts") {
            out.parts_count = number(p, "PartsCount")?;
            out.is_truncated = p.text_of("IsTruncated").is_some_and(|t| t.trim() == "true");
            out.next_part_number_marker = number(p, "NextPartNumberMarker")?;
            out.parts = p
                .children_named("Part")
                .map(|part| {
                    Ok(AttributePart {
                        part_number: required(part, "PartNumber")?,
                        size: required(part, "Size")?,
                        checksum: checksum_of(part),
                    })
                })
                .collect::<Result<_, XmlError>>()?;
        }
        Ok(out)
    }
}

/// A part as the uploader sent it: number, size and its checksum (base64), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentPart {
    pub number: u32,
    pub size: u64,
    pub checksum: Option<(ChecksumAlgorithm, String)>,
}

/// Compares the parts the store lists for an object with the ones sent: their count, each
/// one's number and size, and each checksum where both sides have one in the same
/// algorithm. `Err` says the first difference.
///
/// ```
/// use hoist_core::s3::{SentPart, check_parts};
/// let sent = [SentPart { number: 1, size: 5, checksum: None }];
/// assert!(check_parts(&sent, Some(1), &[]).is_ok());
/// assert!(check_parts(&sent, Some(2), &[]).is_err());
/// ```
pub fn check_parts(
    sent: &[SentPart],
    parts_count: Option<u32>,
    listed: &[AttributePart],
) -> Result<(), String> {
    let count = parts_count.map_or(listed.len(), |c| c as usize);
    if count != sent.len() {
        return Err(format!(
            "the store's object has {count} parts, {} were sent",
            sent.len()
        ));
    }
    // A store may list fewer parts than it counts (S3 leaves them out of a FULL_OBJECT
    // object's answer); those it lists must be the ones sent.
    for got in listed {
        let Some(want) = sent.iter().find(|s| s.number == got.part_number) else {
            return Err(format!(
                "the store lists part {}, never sent",
                got.part_number
            ));
        };
        if got.size != want.size {
            return Err(format!(
                "the store's part {} holds {} bytes, {} were sent",
                got.part_number, got.size, want.size
            ));
        }
        if let (Some((ga, gv)), Some((wa, wv))) = (&got.checksum, &want.checksum)
            && ga == wa
            && gv != wv
        {
            return Err(format!(
                "the store's part {} has {} {gv}, the data's is {wv}",
                got.part_number,
                ga.as_str()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?>
<GetObjectAttributesResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <ETag>0bd3b1d8cb7e4e0d6ebae3f2b3f5c1a2-2</ETag>
  <Checksum><ChecksumCRC32C>AAAAAA==-2</ChecksumCRC32C><ChecksumType>COMPOSITE</ChecksumType></Checksum>
  <ObjectParts>
    <IsTruncated>false</IsTruncated><MaxParts>1000</MaxParts><PartNumberMarker>0</PartNumberMarker>
    <NextPartNumberMarker>2</NextPartNumberMarker><PartsCount>2</PartsCount>
    <Part><ChecksumCRC32C>q1Q5Dw==</ChecksumCRC32C><PartNumber>1</PartNumber><Size>5242880</Size></Part>
    <Part><ChecksumCRC32C>yZRlqg==</ChecksumCRC32C><PartNumber>2</PartNumber><Size>100</Size></Part>
  </ObjectParts>
  <ObjectSize>5242980</ObjectSize>
</GetObjectAttributesResponse>"#;

    fn sent(n: u32, size: u64, sum: &str) -> SentPart {
        SentPart {
            number: n,
            size,
            checksum: Some((ChecksumAlgorithm::Crc32c, sum.to_owned())),
        }
    }

    #[test]
    fn parses_s3s_answer() {
        let a = ObjectAttributes::from_response(200, ANSWER).unwrap();
        assert_eq!(
            a.etag.as_deref(),
            Some("0bd3b1d8cb7e4e0d6ebae3f2b3f5c1a2-2")
        );
        assert_eq!(
            a.checksum,
            Some((ChecksumAlgorithm::Crc32c, "AAAAAA==-2".to_owned()))
        );
        assert_eq!(a.checksum_type, Some(ChecksumType::Composite));
        assert_eq!((a.parts_count, a.is_truncated), (Some(2), false));
        assert_eq!(a.next_part_number_marker, Some(2));
        assert_eq!(a.size, Some(5_242_980));
        assert_eq!(
            a.parts[1],
            AttributePart {
                part_number: 2,
                size: 100,
                checksum: Some((ChecksumAlgorithm::Crc32c, "yZRlqg==".to_owned())),
            }
        );
        // A single-PUT object has no ObjectParts.
        let single = b"<GetObjectAttributesResponse><ETag>x</ETag><ObjectSize>3</ObjectSize></GetObjectAttributesResponse>";
        let a = ObjectAttributes::from_response(200, single).unwrap();
        assert_eq!((a.parts_count, a.parts.len()), (None, 0));
        let bad = b"<GetObjectAttributesResponse><ObjectParts><Part><PartNumber>x</PartNumber><Size>1</Size></Part></ObjectParts></GetObjectAttributesResponse>";
        assert!(ObjectAttributes::from_response(200, bad).is_err());
    }

    #[test]
    fn a_store_without_the_call_answers_an_error() {
        let e = ObjectAttributes::from_response(
            501,
            b"<Error><Code>NotImplemented</Code><Message>no</Message></Error>",
        )
        .unwrap_err();
        assert!(matches!(e, ResponseError::S3(s) if s.status == 501));
    }

    #[test]
    fn parts_are_compared_by_count_size_and_checksum() {
        let a = ObjectAttributes::from_response(200, ANSWER).unwrap();
        let good = [sent(1, 5_242_880, "q1Q5Dw=="), sent(2, 100, "yZRlqg==")];
        assert_eq!(check_parts(&good, a.parts_count, &a.parts), Ok(()));
        let fewer = &good[..1];
        assert!(
            check_parts(fewer, a.parts_count, &a.parts)
                .unwrap_err()
                .contains("2 parts, 1 were sent")
        );
        let sized = [sent(1, 5_242_880, "q1Q5Dw=="), sent(2, 99, "yZRlqg==")];
        assert!(
            check_parts(&sized, a.parts_count, &a.parts)
                .unwrap_err()
                .contains("part 2 holds 100 bytes, 99")
        );
        let summed = [sent(1, 5_242_880, "AAAAAA=="), sent(2, 100, "yZRlqg==")];
        assert!(
            check_parts(&summed, a.parts_count, &a.parts)
                .unwrap_err()
                .contains("part 1 has CRC32C q1Q5Dw==")
        );
        // Another algorithm, or none sent, is not compared.
        let plain = [
            SentPart {
                number: 1,
                size: 5_242_880,
                checksum: None,
            },
            SentPart {
                number: 2,
                size: 100,
                checksum: None,
            },
        ];
        assert_eq!(check_parts(&plain, a.parts_count, &a.parts), Ok(()));
        // Parts counted but not listed (a FULL_OBJECT object on S3) check the count only.
        assert_eq!(check_parts(&plain, Some(2), &[]), Ok(()));
    }
}
