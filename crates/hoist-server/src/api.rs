//! The JSON shapes of the `/v1` API (described for callers in `openapi.json`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `POST /v1/uploads`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUpload {
    pub size: u64,
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub checksum: Option<Checksum>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// A whole-object checksum pinned into a single-PUT URL.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checksum {
    pub algorithm: ChecksumAlgorithm,
    /// base64 of the checksum.
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    /// The header that carries it, e.g. `x-amz-checksum-crc32c`.
    pub fn header(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// Length of the decoded checksum in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 4,
            ChecksumAlgorithm::Crc64nvme => 8,
            ChecksumAlgorithm::Sha1 => 20,
            ChecksumAlgorithm::Sha256 => 32,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StrategyName {
    Single,
    Multipart,
}

/// One presigned part URL.
#[derive(Debug, Clone, Serialize)]
pub struct PartUrl {
    pub number: u32,
    pub url: String,
    pub method: &'static str,
    /// Headers the PUT must carry exactly; `content-length` is pinned to `length`.
    pub headers: BTreeMap<String, String>,
    pub expires_at: String,
    pub offset: u64,
    pub length: u64,
}

/// The answer to `POST /v1/uploads`.
#[derive(Debug, Clone, Serialize)]
pub struct Upload {
    pub id: String,
    pub bucket: String,
    pub key: String,
    pub strategy: StrategyName,
    pub size: u64,
    pub part_size: u64,
    pub part_count: u32,
    pub expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<PartUrl>>,
}

/// `POST /v1/uploads/{id}/parts`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartsRequest {
    pub numbers: Vec<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PartsResponse {
    pub parts: Vec<PartUrl>,
}

/// A part as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredPart {
    pub number: u32,
    pub size: u64,
    pub etag: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UploadStateName {
    /// Nothing stored yet (single) or the multipart upload exists.
    Pending,
    /// Some parts are stored.
    Uploading,
    Completed,
    /// The multipart upload is gone and no object of the planned size exists.
    Aborted,
}

/// The answer to `GET /v1/uploads/{id}`.
#[derive(Debug, Clone, Serialize)]
pub struct UploadState {
    pub id: String,
    pub bucket: String,
    pub key: String,
    pub strategy: StrategyName,
    pub size: u64,
    pub part_size: u64,
    pub part_count: u32,
    pub expires_at: String,
    pub state: UploadStateName,
    pub parts: Vec<StoredPart>,
    pub missing: Vec<u32>,
}

/// `POST /v1/uploads/{id}/complete`; the body is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    #[serde(default)]
    pub parts: Option<Vec<CompletePart>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompletePart {
    pub number: i64,
    #[serde(default)]
    pub etag: Option<String>,
}

/// The answer to a completion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Completed {
    pub bucket: String,
    pub key: String,
    pub etag: String,
    pub size: u64,
}
