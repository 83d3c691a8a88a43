//! How an upload reaches the store: the [`Transport`] trait and the types both transports
//! (direct and through a coordinator) share.
//!
//! A transport knows the protocol (create, sign, list, complete, abort); the engine knows
//! the bytes (reading, checksums, parallelism, retries). Every part is presigned, so the
//! engine sends each one with [`hoist_s3::Http`] whoever signed it.

use std::future::Future;

use hoist_core::checksum::{Checksum, ChecksumAlgorithm};
use hoist_core::s3::CompletedPart;
use hoist_s3::Answer;

use crate::error::Result;

/// A request to send exactly as given: method, presigned URL and the headers it was signed
/// with (`host` and `content-length` are set by the HTTP client and must match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// What the caller asks for when an upload starts.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// The object's size, `None` for input of unknown length.
    pub size: Option<u64>,
    /// A part size that overrides the planner's choice.
    pub part_size: Option<u64>,
    /// The checksum every part carries and the object is checked with; `None` for none.
    pub checksum: Option<ChecksumAlgorithm>,
    pub content_type: Option<String>,
}

/// A started upload, as the transport planned (and possibly created) it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The S3 upload id (direct) or the coordinator's upload id; empty for a single PUT.
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub multipart: bool,
    pub part_size: u64,
    /// Unknown until the end for input of unknown length.
    pub part_count: Option<u32>,
}

/// One part about to be sent: number, length and its checksum, signed into its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartSpec {
    pub number: u32,
    pub len: u64,
    pub checksum: Option<Checksum>,
}

/// A part the store holds, as ListParts reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPart {
    pub number: u32,
    pub etag: String,
    pub size: u64,
}

/// The finished object as the store describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectInfo {
    pub etag: String,
    pub size: Option<u64>,
    /// The object's checksum for the upload's algorithm, as the store reports it.
    pub checksum: Option<String>,
}

/// The protocol side of an upload. Implemented by [`crate::DirectTransport`] (credentials,
/// signs locally) and [`crate::CoordinatorTransport`] (asks a hoist-server for URLs).
pub trait Transport: Send + Sync + 'static {
    /// A stable description of where the object goes, used to key the resume journal.
    fn destination(&self) -> String;

    /// The part size for input of unknown length (the planner's unknown-size policy, or the
    /// caller's override), or an error when this transport cannot take such input.
    fn stream_part_size(&self, part_size: Option<u64>) -> Result<u64>;

    /// Plans the upload and, when multipart, creates it.
    fn create(&self, opts: &CreateOptions) -> impl Future<Output = Result<Session>> + Send;

    /// A request that uploads one part (or, for a single PUT, the whole object as part 1).
    /// `fresh` asks for a new signature because the previous one expired.
    fn sign_part(
        &self,
        session: &Session,
        part: &PartSpec,
        fresh: bool,
    ) -> impl Future<Output = Result<PresignedRequest>> + Send;

    /// Every part the store holds for this upload (all pages).
    fn list_parts(&self, session: &Session)
    -> impl Future<Output = Result<Vec<StoredPart>>> + Send;

    /// Completes a multipart upload; `parts` name their checksums. `expected` is the object's checksum as the engine
    /// combined it from the parts' (base64; COMPOSITE ones end in `-N`), for a transport
    /// that can have the store check it before the object is made.
    fn complete(
        &self,
        session: &Session,
        parts: &[CompletedPart],
        checksum: Option<ChecksumAlgorithm>,
        expected: Option<&str>,
    ) -> impl Future<Output = Result<ObjectInfo>> + Send;

    /// Aborts a multipart upload; no parts remain.
    fn abort(&self, session: &Session) -> impl Future<Output = Result<()>> + Send;

    /// Sees every answer to a part, so a transport that signs can learn the store's clock
    /// from its `Date` (a refusal's too). Nothing by default.
    fn observe(&self, answer: &Answer) {
        let _ = answer;
    }

    /// Reads the stored object's size and checksum, when this transport can.
    fn head(
        &self,
        session: &Session,
        checksum: Option<ChecksumAlgorithm>,
    ) -> impl Future<Output = Result<Option<ObjectInfo>>> + Send;
}
