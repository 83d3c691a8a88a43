//! How an upload reaches the store: the [`Transport`] trait and the types both transports
//! (direct and through a coordinator) share.
//!
//! A transport knows the protocol (create, sign, list, complete, abort); the engine knows
//! the bytes (reading, checksums, parallelism, retries). Every part is presigned, so the
//! engine sends each one with [`hoist_s3::Http`] whoever signed it.

use std::future::Future;

use hoist_core::checksum::{Checksum, ChecksumAlgorithm};
use hoist_core::plan::{ObjectSize, Plan, PlanPolicy, Strategy, plan};
use hoist_core::s3::{CompletedPart, ObjectAttributes};
use hoist_s3::Answer;

use crate::error::Result;
use crate::progress::ProgressFn;

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
    /// The whole file's checksum in the upload's algorithm, read before the create when
    /// the transport pins it into a single PUT's URL ([`Transport::pins_whole_checksum`]).
    pub whole_checksum: Option<Checksum>,
    /// Nothing is to be created when the object at the key already holds these bytes.
    pub unless_stored: Option<UnlessStored>,
}

/// What the object at a key must be for an upload to be needless: the file's MD5 (a
/// single-part object's ETag) and its whole checksum (a FULL_OBJECT one's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnlessStored {
    pub md5_hex: String,
    pub checksum: Option<Checksum>,
}

/// A started upload, as the transport planned (and possibly created) it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The S3 upload id (direct) or the coordinator's upload id; empty for a single PUT.
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    /// Single PUT or multipart, and every part's byte range ([`Plan::part`]). For input of
    /// unknown length the part count is unknown until the end.
    pub plan: Plan,
}

impl Session {
    /// Whether the upload is multipart (else one PUT).
    pub fn multipart(&self) -> bool {
        self.plan.strategy == Strategy::Multipart
    }
}

/// The plan of an upload planned elsewhere (by a coordinator, or by the run whose journal
/// says so): `size` bytes in parts of `part_size`, or in one PUT, as hoist-core plans it.
/// `None` when no plan within S3's rules has that shape.
pub(crate) fn planned(size: u64, part_size: u64, multipart: bool) -> Option<Plan> {
    let policy = if multipart {
        // Any size is above a threshold of zero; the part size stays when the parts fit.
        PlanPolicy::default()
            .with_single_put_threshold(0)
            .with_part_size(part_size)
    } else {
        PlanPolicy::default().with_single_put_threshold(size)
    };
    let p = plan(ObjectSize::Known(size), &policy).ok()?;
    (p.part_size == part_size).then_some(p)
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
    /// What a coordinator's Complete said of the application's `upload.completed` event:
    /// `Some(true)` when it could not be delivered yet (a repeated Complete delivers it
    /// again), `Some(false)` when it was; `None` when no event is sent or nothing was said.
    pub hook_pending: Option<bool>,
}

/// The protocol side of an upload. Implemented by [`crate::DirectTransport`] (credentials,
/// signs locally) and [`crate::CoordinatorTransport`] (asks a hoist-server for URLs).
pub trait Transport: Send + Sync + 'static {
    /// A stable description of where the object goes, used to key the resume journal: what
    /// the upload is, never which server or store endpoint carries it, so that another
    /// replica or endpoint continues it.
    fn destination(&self) -> String;

    /// Hands the transport the upload's progress callback, for the events only it sees (a
    /// move to another coordinator). Nothing by default.
    fn listen(&self, progress: ProgressFn) {
        let _ = progress;
    }

    /// The part size for input of unknown length (the planner's unknown-size policy, or the
    /// caller's override), or an error when this transport cannot take such input.
    fn stream_part_size(&self, part_size: Option<u64>) -> Result<u64>;

    /// Whether a file of `size` bytes gets its whole checksum signed into its single PUT's
    /// URL at creation (so it needs no other signing call): the engine then reads it first.
    fn pins_whole_checksum(&self, size: u64) -> bool {
        let _ = size;
        false
    }

    /// Whether a single PUT is confirmed through this transport after it is stored (a
    /// coordinator counts it and tells its application); without that, a PUT whose answer
    /// echoed the checksum sent needs no reading back.
    fn confirms_single_put(&self) -> bool {
        false
    }

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

    /// The stored object's attributes (GetObjectAttributes: its parts with their sizes and
    /// checksums), when this transport and the store can tell them; `None` otherwise.
    fn attributes(
        &self,
        session: &Session,
    ) -> impl Future<Output = Result<Option<ObjectAttributes>>> + Send {
        let _ = session;
        async { Ok(None) }
    }

    /// Reads the stored object's size and checksum, when this transport can.
    fn head(
        &self,
        session: &Session,
        checksum: Option<ChecksumAlgorithm>,
    ) -> impl Future<Output = Result<Option<ObjectInfo>>> + Send;
}

#[cfg(test)]
mod tests {
    use hoist_core::plan::MIB;

    use super::*;

    #[test]
    fn plans_made_elsewhere_are_made_again() {
        let p = planned(83 * MIB + 17, 5 * MIB, true).unwrap();
        assert_eq!(
            (p.part_count, p.part(17).unwrap().length),
            (Some(17), 3 * MIB + 17)
        );
        let single = planned(3 * MIB, 3 * MIB, false).unwrap();
        assert_eq!(
            (single.strategy, single.part_count),
            (Strategy::Single, Some(1))
        );
        assert_eq!(planned(0, 0, false).unwrap().part(1).unwrap().length, 0);
        // Parts below S3's minimum, or more than 10,000 of them, are no plan.
        assert_eq!(planned(10 * MIB, MIB, true), None);
        assert_eq!(planned(60_000 * MIB, 5 * MIB, true), None);
    }
}
