//! What a store says about an object in the headers of HeadObject or GetObject.

use super::ResponseError;
use crate::checksum::{ChecksumAlgorithm, ChecksumType};
use crate::time::Timestamp;
use crate::xml::XmlError;

/// An object's description from HeadObject (sent with `x-amz-checksum-mode: ENABLED`, or
/// the checksum is left out).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ObjectHead {
    /// `Content-Length`.
    pub size: u64,
    /// `ETag` (quoted).
    pub etag: String,
    /// `Last-Modified`.
    pub last_modified: Option<Timestamp>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// The object's flexible checksum, when the store keeps one.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
    /// `x-amz-checksum-type`.
    pub checksum_type: Option<ChecksumType>,
    /// `x-amz-mp-parts-count`, for a part's answer (`?partNumber=`).
    pub parts_count: Option<u32>,
    /// User metadata (`x-amz-meta-*`), names lowercased without the prefix.
    pub metadata: Vec<(String, String)>,
}

impl ObjectHead {
    /// Reads a successful answer's headers (names in any case). `Content-Length` is required.
    pub fn from_headers<'h>(
        headers: impl IntoIterator<Item = (&'h str, &'h str)>,
    ) -> Result<Self, ResponseError> {
        let mut head = ObjectHead::default();
        let mut size = None;
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            let value = value.trim();
            match name.as_str() {
                "content-length" => size = value.parse().ok(),
                "etag" => head.etag = value.to_owned(),
                "last-modified" => head.last_modified = Timestamp::parse_http_date(value).ok(),
                "content-type" => head.content_type = Some(value.to_owned()),
                "x-amz-checksum-type" => head.checksum_type = ChecksumType::parse(value),
                "x-amz-mp-parts-count" => head.parts_count = value.parse().ok(),
                n => {
                    if let Some(a) = ChecksumAlgorithm::from_header(n) {
                        head.checksum = Some((a, value.to_owned()));
                    } else if let Some(meta) = n.strip_prefix("x-amz-meta-") {
                        head.metadata.push((meta.to_owned(), value.to_owned()));
                    }
                }
            }
        }
        head.size = size.ok_or(ResponseError::Xml(XmlError::Missing {
            parent: "HeadObject".into(),
            name: "Content-Length",
        }))?;
        Ok(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_head_object_says() {
        let h = ObjectHead::from_headers([
            ("Content-Length", "11"),
            ("ETag", "\"abc-2\""),
            ("Last-Modified", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-checksum-crc64nvme", "AAAAAAAAAAA="),
            ("X-Amz-Checksum-Type", "FULL_OBJECT"),
            ("x-amz-meta-owner", "ann"),
            ("content-type", "text/plain"),
        ])
        .unwrap();
        assert_eq!((h.size, h.etag.as_str()), (11, "\"abc-2\""));
        assert_eq!(
            h.checksum,
            Some((ChecksumAlgorithm::Crc64Nvme, "AAAAAAAAAAA=".into()))
        );
        assert_eq!(h.checksum_type, Some(ChecksumType::FullObject));
        assert_eq!(h.metadata, [("owner".to_owned(), "ann".to_owned())]);
        assert_eq!(
            h.last_modified.map(|t| t.unix_seconds()),
            Some(1_369_353_600)
        );
        assert!(ObjectHead::from_headers([("etag", "\"x\"")]).is_err());
    }
}

/// A write's condition (PutObject, CompleteMultipartUpload): the store refuses the write with
/// `412 PreconditionFailed` when it does not hold, and with `409 ConditionalRequestConflict`
/// when another write to the key committed while this one was under way.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteCondition {
    /// `If-None-Match: *`: only when no object exists at the key (no clobbering).
    IfAbsent,
    /// `If-Match: <etag>`: only over the object with this ETag.
    IfMatch(String),
}

impl WriteCondition {
    /// The header that carries the condition, lower case as signed, and its value.
    pub fn header(&self) -> (&'static str, &str) {
        match self {
            WriteCondition::IfAbsent => ("if-none-match", "*"),
            WriteCondition::IfMatch(etag) => ("if-match", etag.as_str()),
        }
    }
}
