//! hoist-store: an embedded, S3-compatible object store on local disk that answers, on
//! every failure path, exactly as Amazon S3 does.
//!
//! The protocol (routing, XML, SigV4) comes from [`s3s`]; the files, multipart state, bucket
//! CORS, lifecycle sweeper, S3's exact error answers and the fault injection are this
//! crate's. Embed it in tests and servers with [`Store::spawn`]:
//!
//! ```no_run
//! use hoist_store::{Credentials, Faults, Store, StoreConfig};
//!
//! # async fn demo() -> Result<(), hoist_store::StoreError> {
//! let config = StoreConfig::new("/tmp/hoist-store")
//!     .with_credentials(Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))
//!     .with_bucket("uploads")
//!     .with_max_put_size(10 * 1024 * 1024);
//! let store = Store::spawn(config, "127.0.0.1:0").await?;
//! println!("S3 endpoint {} in {}", store.endpoint(), store.region());
//!
//! // Play a store whose clock runs an hour ahead, at run time.
//! store.set_faults(Faults { clock_offset_secs: 3600, ..Faults::default() })?;
//! store.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! Every request must be signed with SigV4 (header or query); anonymous requests get
//! `403 AccessDenied` and SigV2 gets S3's `400 InvalidRequest`. Addressing is path-style
//! (`http://127.0.0.1:PORT/bucket/key`). The admin routes (faults, temporary credentials)
//! are described in [`admin`] and in the crate's README.

mod auth;
mod backend;
mod buckets;
mod checksum;
mod commit;
mod complete;
mod config;
mod conn;
mod cors;
mod errors;
mod faults;
mod front;
mod fs;
mod lifecycle;
mod listing;
mod multipart;
mod objects;
mod post;
mod query;
mod read;
mod receive;
mod resign;
mod server;
mod service;
mod sigdebug;
mod storage;
mod sweeper;
mod uploads;

pub mod admin;

pub use auth::{MAX_PRESIGNED_EXPIRES, MAX_SKEW, TemporaryCredentials};
pub use config::{
    CREDENTIALS_FILE, Credentials, DEFAULT_MAX_PUT_SIZE, DEFAULT_REGION, StoreConfig,
};
pub use faults::{Clock, FaultControl, Faults, InjectedFaults};
pub use server::{Store, StoreError, StoreHandle};
