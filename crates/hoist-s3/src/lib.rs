//! hoist-s3: the one I/O layer under every part of hoist that talks to a store — the
//! coordinator, the uploader and the doctor alike.
//!
//! hoist-core builds and signs requests and parses answers without touching a socket; this
//! crate does the rest, once:
//!
//! - [`http`]: send a signed or presigned request exactly as it was signed, and read the
//!   [`Answer`] (the header rules live here);
//! - [`error`]: an [`Error`] that says what failed and whether to retry, re-sign or give up;
//! - [`clock`]: the [`Clock`] corrected to the store's, learnt from every answer's `Date`;
//! - [`credentials`]: the [`CredentialSource`] chain, read again before expiry;
//! - [`request_id`]: the id of the request a server is answering, sent on its calls to a
//!   store;
//! - [`retry`]: the one retry loop, with hoist-core's policy;
//! - [`bucket`]: [`Bucket`], every control call hoist makes (multipart, heads, listings,
//!   CORS, lifecycle), typed.
//!
//! ```no_run
//! use hoist_core::credentials::Credentials;
//! use hoist_core::presign::Endpoint;
//! use hoist_s3::{Bucket, CreateMultipart, CredentialSource, Http, HttpOptions};
//!
//! # async fn demo() -> Result<(), hoist_s3::Error> {
//! let http = Http::new(&HttpOptions::default())?;
//! let endpoint = Endpoint::parse("http://127.0.0.1:9000", "us-east-1").unwrap();
//! let creds = CredentialSource::fixed(Credentials::new("AKID", "SECRET"));
//! let bucket = Bucket::new(http, endpoint, "uploads", creds);
//! bucket.measure_clock(false).await?;
//! let id = bucket.create_multipart("big.bin", &CreateMultipart::default()).await?;
//! let parts = bucket.list_parts("big.bin", &id).await?;
//! assert!(parts.parts.is_empty());
//! bucket.abort("big.bin", &id).await?;
//! # Ok(()) }
//! ```

pub mod bucket;
pub mod clock;
pub mod conditional;
pub mod credentials;
pub mod error;
pub mod http;
mod pin;
pub mod request_id;
pub mod retry;

pub use bucket::{Bucket, CreateMultipart, SignHook, UploadParts, WholeChecksum};
pub use clock::{Clock, Measurement, local_now};
pub use conditional::ConditionalWrites;
pub use credentials::CredentialSource;
pub use error::Error;
pub use http::{Answer, Http, HttpOptions};
pub use retry::{Attempt, RetryPolicy, RetryStep, Retryable, Stopped, Verdict, with_retries};
