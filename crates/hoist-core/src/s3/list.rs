//! ListObjectsV2 answers.

use super::ResponseError;
use super::multipart::{common_prefixes, opt_number, opt_text};
use crate::time::Timestamp;
use crate::xml::{self, XmlError};

/// One object from ListObjectsV2.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectInfo {
    /// The key.
    pub key: String,
    /// When it was last written.
    pub last_modified: Option<Timestamp>,
    /// Its ETag (quoted).
    pub etag: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its storage class, if given.
    pub storage_class: Option<String>,
}

/// One page of ListObjectsV2.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListObjectsV2Result {
    /// `<Name>`: the bucket.
    pub bucket: String,
    /// The prefix filter.
    pub prefix: Option<String>,
    /// Keys on this page.
    pub key_count: Option<u32>,
    /// The page size asked for.
    pub max_keys: Option<u32>,
    /// Whether more keys follow.
    pub is_truncated: bool,
    /// The token this page was asked with.
    pub continuation_token: Option<String>,
    /// Pass as `continuation-token` for the next page when `is_truncated`.
    pub next_continuation_token: Option<String>,
    /// The objects on this page.
    pub contents: Vec<ObjectInfo>,
    /// Key groups when a delimiter was given.
    pub common_prefixes: Vec<String>,
}

impl ListObjectsV2Result {
    /// Parses the answer: 2xx with the result body, else the error.
    pub fn from_response(status: u16, body: &[u8]) -> Result<Self, ResponseError> {
        super::check_status(status, body)?;
        let root = xml::parse_root(body, "ListBucketResult")?;
        let contents = root
            .children_named("Contents")
            .map(|c| {
                Ok(ObjectInfo {
                    key: c.required("Key")?.to_owned(),
                    last_modified: c.timestamp("LastModified")?,
                    etag: c.text_of("ETag").unwrap_or_default().to_owned(),
                    size: c.number("Size")?.unwrap_or(0),
                    storage_class: opt_text(c, "StorageClass"),
                })
            })
            .collect::<Result<Vec<_>, XmlError>>()?;
        Ok(ListObjectsV2Result {
            bucket: root.text_of("Name").unwrap_or_default().to_owned(),
            prefix: opt_text(&root, "Prefix"),
            key_count: opt_number(&root, "KeyCount")?,
            max_keys: opt_number(&root, "MaxKeys")?,
            is_truncated: root.flag("IsTruncated")?,
            continuation_token: opt_text(&root, "ContinuationToken"),
            next_continuation_token: opt_text(&root, "NextContinuationToken"),
            contents,
            common_prefixes: common_prefixes(&root),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_page() {
        let body = br#"<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix><KeyCount>1</KeyCount><MaxKeys>1</MaxKeys>
<IsTruncated>true</IsTruncated><NextContinuationToken>t==</NextContinuationToken>
<Contents><Key>a &amp; b.txt</Key><LastModified>2025-11-01T10:00:00.000Z</LastModified><ETag>"e"</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass></Contents>
<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes></ListBucketResult>"#;
        let r = ListObjectsV2Result::from_response(200, body).unwrap();
        assert_eq!(r.contents[0].key, "a & b.txt");
        assert_eq!(r.contents[0].size, 3);
        assert_eq!(r.next_continuation_token.as_deref(), Some("t=="));
        assert_eq!(r.prefix, None);
        assert_eq!(r.common_prefixes, ["d/"]);
        assert!(
            ListObjectsV2Result::from_response(
                200,
                b"<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>"
            )
            .is_err()
        );
    }
}
