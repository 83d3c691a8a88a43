//! The JSON shapes of the `/v1` API (described for callers in `openapi.json`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use hoist_core::checksum::{ChecksumAlgorithm, ChecksumType};

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

/// The checksum an upload is made with.
///
/// Single PUT: `value` (base64 of the whole object's checksum) is pinned into the URL; without
/// it, the algorithm is recorded and each signing request may pin the value. Multipart: the
/// store's upload is created with `algorithm` and `type`; each part's value is pinned when its
/// URL is signed and the whole object's is checked at completion, so `value` is refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checksum {
    pub algorithm: ChecksumAlgorithm,
    /// base64 of the whole object's checksum (single PUT only).
    #[serde(default)]
    pub value: Option<String>,
    /// How a multipart object's checksum derives from its parts'; S3's default for the
    /// algorithm when absent (FULL_OBJECT for CRC-64/NVME, COMPOSITE for the others).
    #[serde(default, rename = "type")]
    pub kind: Option<ChecksumType>,
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
    /// The checksum the upload was created with: every part URL of a multipart one must
    /// be signed with its part's checksum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<ChecksumType>,
}

/// `POST /v1/uploads/{id}/parts`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartsRequest {
    pub numbers: Vec<i64>,
    /// Part number (as a string, JSON keys are) → base64 of that part's checksum in the
    /// upload's algorithm; each is signed into its part's URL.
    #[serde(default)]
    pub checksums: Option<BTreeMap<String, String>>,
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
    /// The part's checksum (base64) in the upload's algorithm, when the store reports one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// A stored part in the state answer, with the range the plan gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatePart {
    #[serde(flatten)]
    pub stored: StoredPart,
    /// Where the planned part starts in the object (absent for a number outside the plan).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// The planned part's length; a part stored with another size is listed in `missing`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
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
    pub parts: Vec<StatePart>,
    pub missing: Vec<u32>,
    /// The checksum the upload was created with: every part URL of a multipart one must
    /// be signed with its part's checksum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<ChecksumType>,
}

/// `POST /v1/uploads/{id}/complete`; the body is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    #[serde(default)]
    pub parts: Option<Vec<CompletePart>>,
    /// base64 of the whole object's checksum as the uploader computed it; the store is asked
    /// to refuse the completion when its own differs.
    #[serde(default)]
    pub checksum: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompletePart {
    pub number: i64,
    #[serde(default)]
    pub etag: Option<String>,
    /// base64 of the part's checksum; it must equal the one the store holds.
    #[serde(default)]
    pub checksum: Option<String>,
}

/// The answer to a completion: the object as the store describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Completed {
    pub bucket: String,
    pub key: String,
    pub etag: String,
    pub size: u64,
    /// The store's checksum of the object in the upload's algorithm (base64; `-N` ends a
    /// COMPOSITE one), when the upload has one and the store reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<ChecksumType>,
}
