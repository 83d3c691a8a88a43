//! hoist-core: the pure foundation of hoist. No sockets, no files, no clock: every input,
//! the current time included, is an argument, so everything here is a function of its inputs.
//!
//! - [`plan`]: single PUT or multipart, the part size and count, each part's byte range.
//! - [`ttl`]: how long a presigned URL lives.
//! - [`time`]: a UTC [`time::Timestamp`] with the SigV4, RFC 3339 and HTTP-date forms.
//! - [`clock`]: the [`clock::ClockOffset`] to a store's clock, and the bounds its `Date`
//!   headers prove.
//! - [`presign`]: SigV4 query presigning with a cached signing key.
//! - [`s3`]: control calls (create, complete, abort, list, CORS, lifecycle) as presigned
//!   [`s3::HttpRequest`]s, and parsers of their answers.
//! - [`error`]: S3's error codes and the parsed `<Error>` body.
//! - [`cause`]: the failure catalogue: an error plus what is known of the request, named as a
//!   stable cause id with its evidence and fix.
//! - [`checksum`]: S3's checksum algorithms and types, hashing, combining part checksums,
//!   and ETags.
//! - [`credentials`]: access keys with their session token and expiry, as the AWS variables
//!   and shared credentials files give them.
//! - [`retry`]: which failures are retried, re-signed or final, and the backoff.
//! - [`encoding`]: SigV4 URI encoding, percent-decoding, hex and base64.
//! - [`units`]: sizes (`10MiB`) and durations (`24h`), parsed and written.
//! - [`redact`]: secrets shortened for messages.
//! - [`xml`]: the small XML tree those parsers read from.
//!
//! ```
//! use std::time::Duration;
//! use hoist_core::plan::{plan, ObjectSize, PlanPolicy, Strategy};
//! use hoist_core::presign::{Credentials, Endpoint, PresignRequest, Presigner};
//! use hoist_core::time::Timestamp;
//! use hoist_core::ttl::{TtlPolicy, UrlKind};
//!
//! let size = 1 << 30; // 1 GiB
//! let p = plan(ObjectSize::Known(size), &PlanPolicy::default()).unwrap();
//! assert_eq!((p.strategy, p.part_count), (Strategy::Multipart, Some(128)));
//!
//! let now = Timestamp::from_unix(1_700_000_000);
//! let signer = Presigner::new(
//!     Credentials::new("AKIDEXAMPLE", "secret"),
//!     Endpoint::parse("http://127.0.0.1:9000", "us-east-1").unwrap(),
//! );
//! let ttl = TtlPolicy::default().ttl(UrlKind::Part, now, None).unwrap();
//! let part = p.part(1).unwrap();
//! let req = PresignRequest::upload_part("media", "big.bin", "upload-id", part.number)
//!     .content_length(part.length)
//!     .expires_in(ttl);
//! let url = signer.presign(&req, now).unwrap();
//! assert!(url.url.starts_with("http://127.0.0.1:9000/media/big.bin?X-Amz-Algorithm="));
//! assert_eq!(url.headers, [("content-length".to_owned(), "8388608".to_owned())]);
//! assert_eq!(url.expires_at, now.plus(Duration::from_secs(3600)));
//! ```

pub mod cause;
pub mod checksum;
pub mod clock;
pub mod credentials;
pub mod encoding;
pub mod error;
pub mod plan;
pub mod presign;
pub mod redact;
pub mod retry;
pub mod s3;
pub mod time;
pub mod ttl;
pub mod units;
pub mod xml;
