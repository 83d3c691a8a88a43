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
//! (`http://127.0.0.1:PORT/bucket/key`), and also virtual-hosted-style
//! (`http://bucket.DOMAIN:PORT/key`) under a domain set with
//! [`StoreConfig::with_domain`]. The admin routes (faults, temporary credentials)
//! are described in [`admin`] and in the crate's README.
//!
//! # Layout
//!
//! S3's vocabulary (checksums and ETags, SigV4 keys, URI encoding, dates, sizes, part
//! limits, error documents) is `hoist_core`'s. The modules stand in layers: each uses
//! modules of its own layer or of those before it, never of a later one, and no two modules
//! use each other:
//!
//! 1. Base: `errors` (S3's answers and the extra elements s3s cannot carry), `faults` (fault
//!    injection and the store's clock), `config`, `query` (URI parts read as a store must
//!    read them), `host` (virtual-hosted-style addressing under a domain), `checksum`
//!    (core's checksums as s3s's DTO fields), `cors` and `lifecycle` (a bucket's rules), `limits` (the XML body cap, [`MAX_XML_BODY_SIZE`], and the request
//!    body guard that enforces it and drops a body that stalls).
//! 2. Storage: `fs` (layout, key safety, durable writes, bodies streamed to disk while
//!    hashed, part files linked), `direct` (a large body's file, written past the page
//!    cache where the file system allows), `journal` (new multipart uploads, durable before
//!    they have a folder), `storage` (the index rebuilt from disk; an object's
//!    `Blob`), `read` (a GET's body across the files that hold an object).
//! 3. Shared by the operations: `receive` (a body against the digests its request
//!    declares), `conditions` (S3's conditional reads and writes), `commit` (an object's
//!    commit point), `uploads` (the upload a request names; removing one).
//! 4. Operations: `buckets`, `objects`, `multipart`, `complete` (CompleteMultipartUpload),
//!    `attributes` (GetObjectAttributes), `copy` (CopyObject, UploadPartCopy), `listing`, and `sweeper` (lifecycle rules carried
//!    out).
//! 5. `backend`: the `s3s::S3` implementation, which only dispatches to the operations.
//! 6. Authentication: `auth` (keys, temporary credentials, the checks S3 makes before a
//!    signature), `sigdebug` (the `StringToSign` S3 echoes), `resign` (presigned requests
//!    under a clock offset, and the store's own header signing).
//! 7. Front: `front` (what its handlers share), `metrics` (what it counts, in Prometheus's
//!    text), [`admin`], `post` (POST Object), then
//!    `service`, the hyper service that dispatches each request to them or to s3s.
//! 8. `conn` (faults on connections) and `server` (open, serve on hoist-net's accept loop
//!    with its connection cap and timeouts, the embedder's handle).

// 1. Base.
mod checksum;
mod config;
mod cors;
mod errors;
mod faults;
mod host;
mod lifecycle;
mod limits;
mod locks;
mod query;

// 2. Storage.
mod direct;
mod fs;
mod hashing;
mod journal;
mod md5lanes;
mod read;
mod readahead;
mod storage;

// 3. Shared by the operations.
mod commit;
mod conditions;
mod receive;
mod uploads;

// 4. Operations, and 5. the dispatcher over them.
mod attributes;
mod backend;
mod buckets;
mod complete;
mod copy;
mod listing;
mod multipart;
mod objects;
mod sweeper;

// 6. Authentication.
mod auth;
mod resign;
mod sigdebug;

// 7. Front.
pub mod admin;
mod front;
mod metrics;
mod post;
mod service;

// 8. Connections and the server.
mod conn;
mod server;

pub use auth::{MAX_PRESIGNED_EXPIRES, MAX_SKEW, TemporaryCredentials};
pub use config::{
    CREDENTIALS_FILE, Credentials, DEFAULT_BODY_STALL_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_PUT_SIZE, DEFAULT_REGION,
    StoreConfig,
};
pub use faults::{Clock, FaultControl, Faults, InjectedFaults};
pub use limits::MAX_XML_BODY_SIZE;
pub use metrics::StoreMetrics;
pub use server::{Store, StoreError, StoreHandle};
