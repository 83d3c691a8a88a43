//! What a hook is told: the `{"type", "timestamp", "data"}` envelope of Standard Webhooks,
//! and the upload and caller it describes.

use std::collections::BTreeMap;

use hoist_core::checksum::{ChecksumAlgorithm, ChecksumType};
use hoist_core::time::Timestamp;
use serde::Serialize;

use crate::auth::{GrantClaims, Principal};

/// The events hooks receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Created,
    Completed,
    Aborted,
}

impl EventType {
    pub const ALL: [EventType; 3] = [EventType::Created, EventType::Completed, EventType::Aborted];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Created => "upload.created",
            EventType::Completed => "upload.completed",
            EventType::Aborted => "upload.aborted",
        }
    }
}

/// Who made the request an event or a pre-create call is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Caller {
    /// A server with one of the API keys, named by the first 16 hex digits of the key's
    /// SHA-256 (never the key).
    ApiKey {
        key_id: String,
    },
    /// A browser with an app-minted grant: its subject and every claim.
    Grant {
        subject: String,
        claims: GrantClaims,
    },
    Anonymous,
}

impl From<&Principal> for Caller {
    fn from(who: &Principal) -> Self {
        match who {
            Principal::ApiKey { id } => Caller::ApiKey { key_id: id.clone() },
            Principal::Grant(claims) => Caller::Grant {
                subject: claims.sub.clone(),
                claims: claims.clone(),
            },
            Principal::Anonymous => Caller::Anonymous,
        }
    }
}

/// An object's checksum as the store reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventChecksum {
    pub algorithm: ChecksumAlgorithm,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ChecksumType>,
    /// base64, as S3 writes it.
    pub value: String,
}

/// The `data` of an upload event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadEvent {
    /// `upl_…`, derived from the upload: the same in each of its events, from every replica.
    pub upload_id: String,
    /// The store's multipart upload id, when the coordinator knows it.
    pub s3_upload_id: Option<String>,
    pub bucket: String,
    pub key: String,
    /// `single` or `multipart`.
    pub strategy: &'static str,
    /// The route the upload was made through: `/v1/uploads`, `/v1/uploads/batch` (and
    /// `/v1/uploads/batch/complete` for its completions), `/s3/multipart`, `/s3/params` or
    /// `/s3/sign`.
    pub route: &'static str,
    /// Bytes: declared at creation (absent where the uploader does not say), stored at
    /// completion.
    pub size: Option<u64>,
    /// The stored object's ETag (completion only).
    pub etag: Option<String>,
    /// The stored object's checksum (completion only, when the store keeps one).
    pub checksum: Option<EventChecksum>,
    pub content_type: Option<String>,
    /// User metadata (`x-amz-meta-*` without the prefix).
    pub metadata: BTreeMap<String, String>,
    /// The object's `Last-Modified` as the store reports it (completion only).
    pub completed_at: Option<String>,
    /// The caller of the request that caused the event.
    pub caller: Caller,
}

impl UploadEvent {
    /// An event about `key` with nothing yet known but its identity, route and caller.
    pub fn new(
        upload_id: String,
        bucket: &str,
        key: &str,
        strategy: &'static str,
        route: &'static str,
        who: &Principal,
    ) -> Self {
        Self {
            upload_id,
            s3_upload_id: None,
            bucket: bucket.to_string(),
            key: key.to_string(),
            strategy,
            route,
            size: None,
            etag: None,
            checksum: None,
            content_type: None,
            metadata: BTreeMap::new(),
            completed_at: None,
            caller: Caller::from(who),
        }
    }

    /// The stored object's description, from its HeadObject.
    pub fn with_object(mut self, head: &hoist_core::s3::ObjectHead) -> Self {
        self.size = Some(head.size);
        self.etag = Some(head.etag.clone());
        self.checksum = head
            .checksum
            .as_ref()
            .map(|(algorithm, value)| EventChecksum {
                algorithm: *algorithm,
                kind: head.checksum_type,
                value: value.clone(),
            });
        if head.content_type.is_some() {
            self.content_type = head.content_type.clone();
        }
        self.metadata = head.metadata.iter().cloned().collect();
        self.completed_at = head.last_modified.map(|t| t.to_rfc3339());
        self
    }
}

/// The body of an event: `{"type", "timestamp", "data"}`.
pub fn envelope(kind: &str, at: Timestamp, data: &impl Serialize) -> Vec<u8> {
    #[derive(Serialize)]
    struct Envelope<'a, T> {
        #[serde(rename = "type")]
        kind: &'a str,
        timestamp: String,
        data: &'a T,
    }
    serde_json::to_vec(&Envelope {
        kind,
        timestamp: at.to_rfc3339(),
        data,
    })
    .expect("events serialize")
}
