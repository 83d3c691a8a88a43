//! Multipart upload messages: Initiate, Complete (body and answer), ListParts, ListMultipartUploads.

use super::ResponseError;
use crate::checksum::{ChecksumAlgorithm, ChecksumType};
use crate::error::S3Error;
use crate::time::Timestamp;
use crate::xml::{self, XmlElement, XmlError};

/// The answer to CreateMultipartUpload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InitiateMultipartUploadResult {
    /// `<Bucket>`.
    pub bucket: String,
    /// `<Key>`.
    pub key: String,
    /// `<UploadId>`: names the upload in every later call.
    pub upload_id: String,
}

impl InitiateMultipartUploadResult {
    /// Parses the answer: 2xx with the result body, else the error.
    pub fn from_response(status: u16, body: &[u8]) -> Result<Self, ResponseError> {
        super::check_status(status, body)?;
        let root = xml::parse_root(body, "InitiateMultipartUploadResult")?;
        Ok(InitiateMultipartUploadResult {
            bucket: root.text_of("Bucket").unwrap_or_default().to_owned(),
            key: root.text_of("Key").unwrap_or_default().to_owned(),
            upload_id: non_empty(&root, "UploadId")?,
        })
    }
}

/// One part named in CompleteMultipartUpload.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CompletedPart {
    /// The part number, 1–10,000.
    pub part_number: u32,
    /// The part's ETag as the store returned it (quoted).
    pub etag: String,
    /// The part's checksum (base64) in the upload's algorithm, which the store compares with
    /// the one it stored; `None` names none.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
}

impl CompletedPart {
    /// A part named by number and ETag only.
    pub fn new(part_number: u32, etag: impl Into<String>) -> Self {
        CompletedPart {
            part_number,
            etag: etag.into(),
            checksum: None,
        }
    }

    /// Names the part's checksum too.
    pub fn with_checksum(
        mut self,
        algorithm: ChecksumAlgorithm,
        base64: impl Into<String>,
    ) -> Self {
        self.checksum = Some((algorithm, base64.into()));
        self
    }
}

/// The CompleteMultipartUpload body, parts sorted by number as S3 requires, each with its
/// checksum element (`<ChecksumCRC64NVME>` …) when it names one.
pub fn complete_multipart_upload_body(parts: &[CompletedPart]) -> String {
    let mut sorted: Vec<&CompletedPart> = parts.iter().collect();
    sorted.sort_by_key(|p| p.part_number);
    let mut out = String::with_capacity(64 + parts.len() * 160);
    out.push_str("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for p in sorted {
        out.push_str("<Part>");
        xml::push_leaf(&mut out, "PartNumber", &p.part_number.to_string());
        xml::push_leaf(&mut out, "ETag", &p.etag);
        if let Some((algorithm, value)) = &p.checksum {
            xml::push_leaf(&mut out, algorithm.xml_element(), value);
        }
        out.push_str("</Part>");
    }
    out.push_str("</CompleteMultipartUpload>");
    out
}

/// Parses a CompleteMultipartUpload body (for stores and tests), checksums included.
pub fn parse_complete_multipart_upload_body(body: &[u8]) -> Result<Vec<CompletedPart>, XmlError> {
    let root = xml::parse_root(body, "CompleteMultipartUpload")?;
    root.children_named("Part")
        .map(|p| {
            Ok(CompletedPart {
                part_number: p.number("PartNumber")?.ok_or(XmlError::Missing {
                    parent: "Part".into(),
                    name: "PartNumber",
                })?,
                etag: p.required("ETag")?.to_owned(),
                checksum: checksum_of(p),
            })
        })
        .collect()
}

/// The first checksum element of `el` (S3 writes at most one), with its algorithm.
pub(crate) fn checksum_of(el: &XmlElement) -> Option<(ChecksumAlgorithm, String)> {
    ChecksumAlgorithm::ALL.into_iter().find_map(|a| {
        el.text_of(a.xml_element())
            .map(|v| (a, v.trim().to_owned()))
    })
}

/// The answer to CompleteMultipartUpload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompleteMultipartUploadResult {
    /// `<Location>`.
    pub location: Option<String>,
    /// `<Bucket>`.
    pub bucket: String,
    /// `<Key>`.
    pub key: String,
    /// `<ETag>` of the object (`"…-N"`).
    pub etag: String,
    /// The object's checksum element, when the upload has an algorithm.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
    /// `<ChecksumType>`.
    pub checksum_type: Option<ChecksumType>,
}

impl CompleteMultipartUploadResult {
    /// Parses the answer. S3 may answer 200 and then an `<Error>` body (the status line goes
    /// out before the parts are assembled); that is an error too.
    pub fn from_response(status: u16, body: &[u8]) -> Result<Self, ResponseError> {
        super::check_status(status, body)?;
        let root = xml::parse(body)?;
        if root.name == "Error" {
            return Err(S3Error::from_element(status, &root)?.into());
        }
        if root.name != "CompleteMultipartUploadResult" {
            return Err(XmlError::UnexpectedRoot {
                expected: "CompleteMultipartUploadResult",
                found: root.name,
            }
            .into());
        }
        Ok(CompleteMultipartUploadResult {
            location: root.text_of("Location").map(str::to_owned),
            bucket: root.text_of("Bucket").unwrap_or_default().to_owned(),
            key: root.text_of("Key").unwrap_or_default().to_owned(),
            etag: root.text_of("ETag").unwrap_or_default().to_owned(),
            checksum: checksum_of(&root),
            checksum_type: root.text_of("ChecksumType").and_then(ChecksumType::parse),
        })
    }
}

/// One stored part, from ListParts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartInfo {
    /// The part number.
    pub part_number: u32,
    /// Its ETag (quoted).
    pub etag: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was stored.
    pub last_modified: Option<Timestamp>,
    /// Its checksum (base64) in the upload's algorithm, when the store keeps one.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
}

/// One page of ListParts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListPartsResult {
    /// `<Bucket>`.
    pub bucket: String,
    /// `<Key>`.
    pub key: String,
    /// `<UploadId>`.
    pub upload_id: String,
    /// The marker this page started after.
    pub part_number_marker: Option<u32>,
    /// Pass as `part-number-marker` for the next page when `is_truncated`.
    pub next_part_number_marker: Option<u32>,
    /// The page size asked for.
    pub max_parts: Option<u32>,
    /// Whether more parts follow.
    pub is_truncated: bool,
    /// The parts on this page, in part-number order.
    pub parts: Vec<PartInfo>,
    /// `<ChecksumAlgorithm>` of the upload.
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// `<ChecksumType>` of the upload.
    pub checksum_type: Option<ChecksumType>,
}

impl ListPartsResult {
    /// Parses the answer: 2xx with the result body, else the error.
    pub fn from_response(status: u16, body: &[u8]) -> Result<Self, ResponseError> {
        super::check_status(status, body)?;
        let root = xml::parse_root(body, "ListPartsResult")?;
        let parts = root
            .children_named("Part")
            .map(|p| {
                Ok(PartInfo {
                    part_number: p.number("PartNumber")?.ok_or(XmlError::Missing {
                        parent: "Part".into(),
                        name: "PartNumber",
                    })?,
                    etag: p.required("ETag")?.to_owned(),
                    size: p.number("Size")?.ok_or(XmlError::Missing {
                        parent: "Part".into(),
                        name: "Size",
                    })?,
                    last_modified: p.timestamp("LastModified")?,
                    checksum: checksum_of(p),
                })
            })
            .collect::<Result<Vec<_>, XmlError>>()?;
        Ok(ListPartsResult {
            bucket: root.text_of("Bucket").unwrap_or_default().to_owned(),
            key: root.text_of("Key").unwrap_or_default().to_owned(),
            upload_id: root.text_of("UploadId").unwrap_or_default().to_owned(),
            part_number_marker: opt_number(&root, "PartNumberMarker")?,
            next_part_number_marker: opt_number(&root, "NextPartNumberMarker")?,
            max_parts: opt_number(&root, "MaxParts")?,
            is_truncated: root.flag("IsTruncated")?,
            parts,
            checksum_algorithm: root
                .text_of("ChecksumAlgorithm")
                .and_then(ChecksumAlgorithm::parse),
            checksum_type: root.text_of("ChecksumType").and_then(ChecksumType::parse),
        })
    }
}

/// One in-progress upload, from ListMultipartUploads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadInfo {
    /// The object key.
    pub key: String,
    /// The upload id.
    pub upload_id: String,
    /// When the upload was created.
    pub initiated: Option<Timestamp>,
}

/// One page of ListMultipartUploads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListMultipartUploadsResult {
    /// `<Bucket>`.
    pub bucket: String,
    /// `<Prefix>` filter, if any.
    pub prefix: Option<String>,
    /// The key marker this page started after.
    pub key_marker: Option<String>,
    /// The upload-id marker this page started after.
    pub upload_id_marker: Option<String>,
    /// Pass as `key-marker` for the next page when `is_truncated`.
    pub next_key_marker: Option<String>,
    /// Pass as `upload-id-marker` for the next page when `is_truncated`.
    pub next_upload_id_marker: Option<String>,
    /// The page size asked for.
    pub max_uploads: Option<u32>,
    /// Whether more uploads follow.
    pub is_truncated: bool,
    /// The uploads on this page.
    pub uploads: Vec<UploadInfo>,
    /// Key groups when a delimiter was given.
    pub common_prefixes: Vec<String>,
}

impl ListMultipartUploadsResult {
    /// Parses the answer: 2xx with the result body, else the error.
    pub fn from_response(status: u16, body: &[u8]) -> Result<Self, ResponseError> {
        super::check_status(status, body)?;
        let root = xml::parse_root(body, "ListMultipartUploadsResult")?;
        let uploads = root
            .children_named("Upload")
            .map(|u| {
                Ok(UploadInfo {
                    key: u.required("Key")?.to_owned(),
                    upload_id: u.required("UploadId")?.to_owned(),
                    initiated: u.timestamp("Initiated")?,
                })
            })
            .collect::<Result<Vec<_>, XmlError>>()?;
        Ok(ListMultipartUploadsResult {
            bucket: root.text_of("Bucket").unwrap_or_default().to_owned(),
            prefix: opt_text(&root, "Prefix"),
            key_marker: opt_text(&root, "KeyMarker"),
            upload_id_marker: opt_text(&root, "UploadIdMarker"),
            next_key_marker: opt_text(&root, "NextKeyMarker"),
            next_upload_id_marker: opt_text(&root, "NextUploadIdMarker"),
            max_uploads: opt_number(&root, "MaxUploads")?,
            is_truncated: root.flag("IsTruncated")?,
            uploads,
            common_prefixes: common_prefixes(&root),
        })
    }
}

/// The text of a child, `None` when absent or empty (S3 writes empty markers on first pages).
pub(crate) fn opt_text(el: &XmlElement, name: &str) -> Option<String> {
    el.text_of(name)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A numeric child, `None` when absent or empty.
pub(crate) fn opt_number<T: std::str::FromStr>(
    el: &XmlElement,
    name: &'static str,
) -> Result<Option<T>, XmlError> {
    if el.text_of(name).is_some_and(|t| t.trim().is_empty()) {
        return Ok(None);
    }
    el.number(name)
}

pub(crate) fn common_prefixes(root: &XmlElement) -> Vec<String> {
    root.children_named("CommonPrefixes")
        .filter_map(|c| c.text_of("Prefix"))
        .map(str::to_owned)
        .collect()
}

fn non_empty(el: &XmlElement, name: &'static str) -> Result<String, XmlError> {
    let v = el.required(name)?;
    if v.trim().is_empty() {
        return Err(XmlError::Invalid {
            name,
            value: v.to_owned(),
            expected: "a non-empty value",
        });
    }
    Ok(v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::S3ErrorCode;

    #[test]
    fn complete_body_round_trips() {
        let parts = vec![
            CompletedPart::new(1, "\"bce6bf66aeb76c7040fdd5f4eccb78e6\""),
            CompletedPart::new(2, "\"8165449fc15bbf43d3b674595cbcc406\""),
        ];
        let body = complete_multipart_upload_body(&[parts[1].clone(), parts[0].clone()]);
        assert!(body.contains("<Part><PartNumber>1</PartNumber><ETag>&quot;bce6bf66aeb76c7040fdd5f4eccb78e6&quot;</ETag></Part>"));
        assert_eq!(
            parse_complete_multipart_upload_body(body.as_bytes()).unwrap(),
            parts
        );
        let with_sums = vec![
            parts[0]
                .clone()
                .with_checksum(ChecksumAlgorithm::Crc64Nvme, "AAAAAAAAAAA="),
            parts[1].clone(),
        ];
        let body = complete_multipart_upload_body(&with_sums);
        assert!(body.contains("<ChecksumCRC64NVME>AAAAAAAAAAA=</ChecksumCRC64NVME></Part>"));
        assert_eq!(
            parse_complete_multipart_upload_body(body.as_bytes()).unwrap(),
            with_sums
        );
    }

    #[test]
    fn list_parts_and_complete_carry_checksums() {
        let page = b"<ListPartsResult><Bucket>b</Bucket><Key>k</Key><UploadId>u</UploadId>\
            <IsTruncated>false</IsTruncated><ChecksumAlgorithm>CRC32C</ChecksumAlgorithm>\
            <ChecksumType>COMPOSITE</ChecksumType><Part><PartNumber>1</PartNumber><ETag>\"e\"</ETag>\
            <Size>5</Size><ChecksumCRC32C>4waSgw==</ChecksumCRC32C></Part></ListPartsResult>";
        let r = ListPartsResult::from_response(200, page).unwrap();
        assert_eq!(r.checksum_algorithm, Some(ChecksumAlgorithm::Crc32c));
        assert_eq!(r.checksum_type, Some(ChecksumType::Composite));
        assert_eq!(
            r.parts[0].checksum,
            Some((ChecksumAlgorithm::Crc32c, "4waSgw==".to_owned()))
        );
        let done = b"<CompleteMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><ETag>\"x-1\"</ETag>\
            <ChecksumCRC64NVME>AAAAAAAAAAA=</ChecksumCRC64NVME><ChecksumType>FULL_OBJECT</ChecksumType>\
            </CompleteMultipartUploadResult>";
        let r = CompleteMultipartUploadResult::from_response(200, done).unwrap();
        assert_eq!(
            r.checksum,
            Some((ChecksumAlgorithm::Crc64Nvme, "AAAAAAAAAAA=".to_owned()))
        );
        assert_eq!(r.checksum_type, Some(ChecksumType::FullObject));
    }

    #[test]
    fn complete_200_with_error_body_is_an_error() {
        let body = b"<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message><RequestId>r</RequestId></Error>";
        let err = CompleteMultipartUploadResult::from_response(200, body).unwrap_err();
        let ResponseError::S3(e) = err else {
            panic!("{err:?}")
        };
        assert_eq!((e.status, &e.code), (200, &S3ErrorCode::InternalError));
        assert!(e.is_retryable());
        let ok = b"<CompleteMultipartUploadResult><Location>http://h/b/k</Location><Bucket>b</Bucket><Key>k</Key><ETag>\"f77dc0eecdebcd774a2a22cb393ad2ff-2\"</ETag></CompleteMultipartUploadResult>";
        let r = CompleteMultipartUploadResult::from_response(200, ok).unwrap();
        assert_eq!(r.etag, "\"f77dc0eecdebcd774a2a22cb393ad2ff-2\"");
        let bad = CompleteMultipartUploadResult::from_response(400, b"<Error><Code>InvalidPart</Code><UploadId>u</UploadId><PartNumber>2</PartNumber></Error>");
        assert!(
            matches!(bad, Err(ResponseError::S3(e)) if e.code == S3ErrorCode::InvalidPart && e.extra("PartNumber") == Some("2"))
        );
        assert!(matches!(
            CompleteMultipartUploadResult::from_response(200, b"<Complete"),
            Err(ResponseError::Xml(_))
        ));
    }

    #[test]
    fn list_parts_with_pagination() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>b</Bucket><Key>k</Key><UploadId>u</UploadId>
  <PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>2</NextPartNumberMarker>
  <MaxParts>2</MaxParts><IsTruncated>true</IsTruncated>
  <Part><PartNumber>1</PartNumber><LastModified>2025-11-01T10:00:00.000Z</LastModified><ETag>"a"</ETag><Size>5242880</Size></Part>
  <Part><PartNumber>2</PartNumber><LastModified>2025-11-01T10:00:01.000Z</LastModified><ETag>"b"</ETag><Size>10</Size></Part>
</ListPartsResult>"#;
        let r = ListPartsResult::from_response(200, body).unwrap();
        assert!(r.is_truncated);
        assert_eq!(r.next_part_number_marker, Some(2));
        assert_eq!(r.parts.len(), 2);
        assert_eq!(r.parts[0].size, 5_242_880);
        assert_eq!(
            r.parts[1].last_modified,
            Some(Timestamp::parse_rfc3339("2025-11-01T10:00:01Z").unwrap())
        );
        let bad = br#"<ListPartsResult><Part><PartNumber>x</PartNumber><ETag>"a"</ETag><Size>1</Size></Part></ListPartsResult>"#;
        assert!(matches!(
            ListPartsResult::from_response(200, bad),
            Err(ResponseError::Xml(XmlError::Invalid { .. }))
        ));
        let gone = ListPartsResult::from_response(404, b"<Error><Code>NoSuchUpload</Code></Error>");
        assert!(matches!(gone, Err(ResponseError::S3(e)) if e.code == S3ErrorCode::NoSuchUpload));
    }

    #[test]
    fn list_uploads_with_pagination() {
        let body = br#"<ListMultipartUploadsResult><Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>
<NextKeyMarker>k2</NextKeyMarker><NextUploadIdMarker>u2</NextUploadIdMarker><MaxUploads>2</MaxUploads><IsTruncated>true</IsTruncated>
<Upload><Key>k1</Key><UploadId>u1</UploadId><Initiated>2025-11-01T10:00:00.000Z</Initiated></Upload>
<Upload><Key>k2</Key><UploadId>u2</UploadId><Initiated>2025-11-02T10:00:00.000Z</Initiated></Upload>
<CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes></ListMultipartUploadsResult>"#;
        let r = ListMultipartUploadsResult::from_response(200, body).unwrap();
        assert_eq!(r.key_marker, None);
        assert_eq!(
            (
                r.next_key_marker.as_deref(),
                r.next_upload_id_marker.as_deref()
            ),
            (Some("k2"), Some("u2"))
        );
        assert_eq!(r.uploads[1].upload_id, "u2");
        assert_eq!(r.common_prefixes, ["dir/"]);
        assert!(InitiateMultipartUploadResult::from_response(200, b"<InitiateMultipartUploadResult><UploadId></UploadId></InitiateMultipartUploadResult>").is_err());
    }
}
