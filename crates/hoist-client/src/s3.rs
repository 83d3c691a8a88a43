//! The S3 XML of the control calls, read and written with hoist-core.

use crate::checksum::ChecksumAlgorithm;
use crate::error::{Error, Result};
use crate::transport::{CompletedPart, ObjectInfo, StoredPart};

/// One page of ListParts.
#[derive(Debug, Default)]
pub(crate) struct PartsPage {
    pub parts: Vec<StoredPart>,
    pub truncated: bool,
    pub next_marker: Option<u32>,
}

pub(crate) fn parse_error_body(body: &[u8]) -> (String, String) {
    (String::new(), String::from_utf8_lossy(body).into_owned())
}

pub(crate) fn parse_create(_body: &[u8]) -> Result<String> {
    Err(Error::protocol("CreateMultipartUpload", "pending"))
}

pub(crate) fn parse_list_parts(_body: &[u8]) -> Result<PartsPage> {
    Err(Error::protocol("ListParts", "pending"))
}

pub(crate) fn complete_body(_parts: &[CompletedPart], _c: ChecksumAlgorithm) -> String {
    String::new()
}

pub(crate) fn parse_complete(_body: &[u8], _c: ChecksumAlgorithm) -> Result<ObjectInfo> {
    Err(Error::protocol("CompleteMultipartUpload", "pending"))
}
