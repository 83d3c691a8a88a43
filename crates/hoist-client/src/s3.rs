//! The S3 XML of the control calls, read and written by hoist-core; this module only maps
//! core's answers and errors into the engine's types.

use hoist_core::error::S3Error;
use hoist_core::s3::{
    self as core_s3, CompleteMultipartUploadResult, InitiateMultipartUploadResult, ListPartsResult,
    ResponseError,
};

use crate::error::{Error, Result};
use crate::transport::{ErrorAnswer, ObjectInfo, StoredPart};

/// One page of ListParts.
#[derive(Debug, Default)]
pub(crate) struct PartsPage {
    pub parts: Vec<StoredPart>,
    pub truncated: bool,
    pub next_marker: Option<u32>,
}

/// `<Code>` and `<Message>` of an S3 error body (empty code when it is not one).
pub(crate) fn parse_error_body(status: u16, body: &[u8]) -> (String, String) {
    let e = S3Error::from_response(status, body);
    (e.code.as_str().to_owned(), e.message)
}

fn map(op: &str, e: ResponseError) -> Error {
    match e {
        ResponseError::S3(e) => ErrorAnswer {
            status: e.status,
            code: e.code.as_str().to_owned(),
            message: e.message,
        }
        .into_error(op),
        other => Error::protocol(op, other.to_string()),
    }
}

pub(crate) fn parse_create(body: &[u8]) -> Result<String> {
    InitiateMultipartUploadResult::from_response(200, body)
        .map(|r| r.upload_id)
        .map_err(|e| map("CreateMultipartUpload", e))
}

pub(crate) fn parse_list_parts(body: &[u8]) -> Result<PartsPage> {
    let r = ListPartsResult::from_response(200, body).map_err(|e| map("ListParts", e))?;
    Ok(PartsPage {
        truncated: r.is_truncated,
        next_marker: r.next_part_number_marker,
        parts: r
            .parts
            .into_iter()
            .map(|p| StoredPart {
                number: p.part_number,
                etag: p.etag,
                size: p.size,
            })
            .collect(),
    })
}

/// The parts by number and ETag only: the store checks each part's checksum as it arrives.
pub(crate) fn complete_body(parts: &[core_s3::CompletedPart]) -> String {
    let parts: Vec<core_s3::CompletedPart> = parts
        .iter()
        .map(|p| core_s3::CompletedPart::new(p.part_number, p.etag.clone()))
        .collect();
    core_s3::complete_multipart_upload_body(&parts)
}

/// Parses Complete's answer; a 200 carrying an `<Error>` body is an error.
pub(crate) fn parse_complete(body: &[u8]) -> Result<ObjectInfo> {
    let r = CompleteMultipartUploadResult::from_response(200, body)
        .map_err(|e| map("CompleteMultipartUpload", e))?;
    Ok(ObjectInfo {
        etag: r.etag,
        size: None,
        checksum: None,
    })
}
