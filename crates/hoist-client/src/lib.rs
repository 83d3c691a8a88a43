//! hoist-client: the transfer engine behind `hoist upload`.
//!
//! Parallel, retried, resumable uploads with memory bounded by concurrency × part size,
//! either **direct** (credentials; every request presigned locally with hoist-core) or
//! **through a coordinator** (a hoist-server hands out presigned URLs, as to a browser).
//!
//! - [`Uploader`] runs an upload of a [`Source`] through a [`Transport`], reporting
//!   [`Progress`] to a callback and stopping when a [`CancellationToken`] fires.
//! - [`DirectTransport`] and [`CoordinatorTransport`] are the two transports.
//! - [`Journal`] is the resume record kept in a state directory.
//!
//! Integrity is the same in both modes: every part carries its checksum (CRC-64/NVME by
//! default) as a signed header, so the store refuses a damaged part (BadDigest); the
//! object's size and checksum as the store reports them are compared with the one combined
//! from the parts' (FULL_OBJECT for the CRCs, COMPOSITE for SHA-256). Through a coordinator
//! the completion also names each part's checksum and the object's, so that a mismatch is
//! refused before the object exists. Any mismatch ends the upload with
//! [`ErrorKind::Integrity`] and the multipart upload aborted.
//!
//! ```no_run
//! use hoist_client::{
//!     CancellationToken, CredentialSource, DirectTransport, Source, UploadConfig, Uploader,
//!     http_client, local_now,
//! };
//! use hoist_core::presign::Endpoint;
//!
//! # async fn demo() -> hoist_client::Result<()> {
//! let http = http_client(8)?;
//! let endpoint = Endpoint::parse("http://127.0.0.1:9000", "us-east-1").unwrap();
//! let transport = DirectTransport::new(
//!     http.clone(),
//!     endpoint,
//!     CredentialSource::from_env(None, local_now())?,
//!     "media",
//!     "big.bin",
//! )?;
//! let uploader = Uploader::new(transport, http, UploadConfig::default());
//! let progress = std::sync::Arc::new(|p: &hoist_client::Progress| eprintln!("{p:?}"));
//! let done = uploader
//!     .upload(Source::File("big.bin".into()), Some(progress), CancellationToken::new())
//!     .await?;
//! println!("{} bytes, checksum {:?}", done.size, done.checksum);
//! # Ok(()) }
//! ```

pub mod batch;
mod checksum;
mod config;
mod coordinator;
mod direct;
mod engine;
mod error;
mod finish;
mod gather;
mod journal;
mod landed;
mod pipeline;
mod prepare;
mod progress;
mod resend;
mod source;
mod stage;
mod transport;

pub use checksum::{checksum_name, parse_checksum};
pub use config::{HookRetry, SharedLimits, UploadConfig};
pub use coordinator::CoordinatorTransport;
pub use direct::{DEFAULT_STREAM_EXPECTED, DirectTransport};
pub use engine::{HttpClient, Uploader, http_client};
pub use error::{Advice, Error, ErrorKind, Result};
pub use finish::UploadOutcome;
pub use gather::Batching;
pub use hoist_core::checksum::{Checksum, ChecksumAlgorithm, PartChecksum};
pub use hoist_core::s3::CompletedPart;
pub use hoist_s3::{Answer, CredentialSource, Http, RetryPolicy, Verdict, local_now};
pub use journal::{Journal, JournalKey, JournalPart, default_state_dir};
pub use progress::{Progress, ProgressFn};
pub use source::Source;
pub use tokio_util::sync::CancellationToken;
pub use transport::{
    CreateOptions, ObjectInfo, PartSpec, PresignedRequest, Session, StoredPart, Transport,
    UnlessStored,
};
