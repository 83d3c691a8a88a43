//! hoist-doctor: names the cause of a failed upload, checks a live setup, and cleans up.
//!
//! - [`explain`]: reads an S3 XML error body, a `curl -v` transcript or a HAR file, and
//!   names each cause (stable ids from hoist-core's [`hoist_core::cause`] catalogue) with its
//!   evidence and fix. Pure functions; S3 errors go to hoist-core's classifier.
//! - [`live`]: `hoist doctor`'s checks against an endpoint and bucket (clock offset, SigV4,
//!   SigV2, CORS for an origin, lifecycle, credentials, stale uploads, TTL policy), and
//!   `--fix`, which lets the origin upload and adds the lifecycle rule with hoist-core's
//!   merges (`hoist serve` uses the same).
//! - [`gc`]: aborts incomplete multipart uploads older than an age; an upload gone meanwhile
//!   or failing is counted and reported, and the sweep goes on.
//! - [`report`]: findings and check results, as text for people and JSON for scripts.
//!
//! Every call to a store goes through hoist-s3 ([`hoist_s3::Bucket`] for control calls,
//! signed with the clock the doctor measured; its [`hoist_s3::Http`] for the raw probes), and
//! every failed call is a [`hoist_s3::Error`], secrets shortened.
//!
//! ```
//! use hoist_doctor::explain::{explain, InputKind};
//!
//! let body = br#"<Error><Code>EntityTooLarge</Code>
//!   <Message>Your proposed upload exceeds the maximum allowed size</Message>
//!   <ProposedSize>6000000000</ProposedSize><MaxSizeAllowed>5368709120</MaxSizeAllowed></Error>"#;
//! let e = explain(body);
//! assert_eq!(e.kind, InputKind::S3Error);
//! assert_eq!(e.findings[0].cause, "entity-too-large");
//! assert!(e.findings[0].evidence.iter().any(|l| l.contains("6000000000 bytes")));
//! ```

pub mod error;
pub mod explain;
pub mod gc;
pub mod live;
pub mod report;

pub use error::DoctorError;
pub use report::{Check, Finding, Report, Status};
