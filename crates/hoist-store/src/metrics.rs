//! The store's Prometheus metrics, written in the text exposition format: requests by S3
//! operation and status, their latency, the bytes declared in and sent out, the connections
//! served and shed, the faults injected, what the index holds (buckets, objects and their
//! bytes, open multipart uploads) and the bytes GET bodies hold read ahead. Served at
//! `GET /_hoist/metrics` and, in `hoist serve`, appended to the coordinator's `/metrics`.
//!
//! Operation names are S3's (`PutObject`, `UploadPart`, …), read from the method, the path's
//! shape and the sub-resource query names a request carries: a fixed set, so no request can
//! add a label value.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hoist_net::Table;
use http::Method;

use crate::faults::FaultControl;
use crate::storage::Storage;

/// Upper bounds of the request-latency histogram, in seconds: from a HEAD served from the
/// index to a part written and fsynced.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// What the store counts as it answers.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

impl Counters {
    /// One request answered: its operation, status, the body bytes it declared and the bytes
    /// of its answer, and how long it took.
    pub(crate) fn answered(
        &self,
        operation: &'static str,
        status: u16,
        bytes_in: u64,
        bytes_out: u64,
        took: Duration,
    ) {
        *self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((operation, status))
            .or_default() += 1;
        let secs = took.as_secs_f64();
        {
            let mut latency = self.latency.lock().unwrap_or_else(PoisonError::into_inner);
            let h = latency.entry(operation).or_default();
            for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
                if secs <= *bound {
                    h.buckets[i] += 1;
                }
            }
            h.count += 1;
            h.sum += secs;
        }
        self.bytes_in.fetch_add(bytes_in, Relaxed);
        self.bytes_out.fetch_add(bytes_out, Relaxed);
    }
}

/// Everything the metrics are read from; cheap to clone.
#[derive(Debug, Clone)]
pub struct StoreMetrics {
    pub(crate) counters: Arc<Counters>,
    pub(crate) storage: Arc<Storage>,
    pub(crate) faults: FaultControl,
    pub(crate) connections: Arc<Table>,
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

impl StoreMetrics {
    /// The metrics now, in Prometheus's text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let c = &self.counters;

        family(
            &mut out,
            "hoist_store_requests_total",
            "counter",
            "Requests answered by the store, by S3 operation and status.",
        );
        for ((op, status), n) in c
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "hoist_store_requests_total{{operation=\"{op}\",status=\"{status}\"}} {n}"
            );
        }

        family(
            &mut out,
            "hoist_store_request_duration_seconds",
            "histogram",
            "Time from a request's head to its answer's head, by S3 operation.",
        );
        for (op, h) in c
            .latency
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            for (bound, n) in LATENCY_BUCKETS.iter().zip(h.buckets) {
                let _ = writeln!(
                    out,
                    "hoist_store_request_duration_seconds_bucket{{operation=\"{op}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "hoist_store_request_duration_seconds_bucket{{operation=\"{op}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "hoist_store_request_duration_seconds_sum{{operation=\"{op}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "hoist_store_request_duration_seconds_count{{operation=\"{op}\"}} {}",
                h.count
            );
        }

        family(
            &mut out,
            "hoist_store_received_bytes_total",
            "counter",
            "Request body bytes declared by Content-Length.",
        );
        let _ = writeln!(
            out,
            "hoist_store_received_bytes_total {}",
            c.bytes_in.load(Relaxed)
        );
        family(
            &mut out,
            "hoist_store_sent_bytes_total",
            "counter",
            "Answer body bytes sent.",
        );
        let _ = writeln!(
            out,
            "hoist_store_sent_bytes_total {}",
            c.bytes_out.load(Relaxed)
        );

        family(
            &mut out,
            "hoist_store_connections",
            "gauge",
            "Connections being served.",
        );
        let _ = writeln!(out, "hoist_store_connections {}", self.connections.len());
        family(
            &mut out,
            "hoist_store_connections_max",
            "gauge",
            "Connections served at once at most.",
        );
        let _ = writeln!(
            out,
            "hoist_store_connections_max {}",
            self.connections.capacity()
        );
        family(
            &mut out,
            "hoist_store_connections_shed_total",
            "counter",
            "Connections closed to make room for a new one or for being idle too long.",
        );
        let _ = writeln!(
            out,
            "hoist_store_connections_shed_total {}",
            self.connections.shed_count()
        );

        family(
            &mut out,
            "hoist_store_read_ahead_bytes",
            "gauge",
            "Bytes GET bodies hold read ahead of their clients (bounded by the store's budget).",
        );
        let _ = writeln!(
            out,
            "hoist_store_read_ahead_bytes {}",
            self.storage.read_ahead.held()
        );

        family(
            &mut out,
            "hoist_store_read_bytes_total",
            "counter",
            "Bytes of object files read for GET bodies and copies: past the page cache (way=\"direct\", a large read of a file the cache does not hold) or through it (way=\"cache\").",
        );
        let (direct, cached) = self.storage.read_ahead.read_bytes();
        let _ = writeln!(
            out,
            "hoist_store_read_bytes_total{{way=\"direct\"}} {direct}"
        );
        let _ = writeln!(
            out,
            "hoist_store_read_bytes_total{{way=\"cache\"}} {cached}"
        );

        family(
            &mut out,
            "hoist_store_hashing_restarts_total",
            "counter",
            "Hashing threads of the process started again after one stopped on a bug (each failed the uploads it was hashing).",
        );
        let _ = writeln!(
            out,
            "hoist_store_hashing_restarts_total {}",
            crate::hashing::restarts()
        );

        let (alone, side_by_side) = crate::hashing::hashed_bytes();
        family(
            &mut out,
            "hoist_store_md5_bytes_total",
            "counter",
            "Bytes of large upload bodies whose MD5 the store computed, by pass: side by side with other bodies, or alone (about 2.5 times the CPU per byte).",
        );
        let _ = writeln!(out, "hoist_store_md5_bytes_total{{pass=\"alone\"}} {alone}");
        let _ = writeln!(
            out,
            "hoist_store_md5_bytes_total{{pass=\"side_by_side\"}} {side_by_side}"
        );

        let injected = self.faults.injected();
        family(
            &mut out,
            "hoist_store_faults_injected_total",
            "counter",
            "Faults injected on purpose, by kind (zero unless faults are set).",
        );
        for (kind, n) in [
            ("error_500", injected.errors_500),
            ("slow_down", injected.slow_downs),
            ("cut", injected.cuts),
        ] {
            let _ = writeln!(
                out,
                "hoist_store_faults_injected_total{{kind=\"{kind}\"}} {n}"
            );
        }

        let (buckets, objects, bytes, uploads) = {
            let state = self.storage.state();
            let objects: usize = state.buckets.values().map(|b| b.objects.len()).sum();
            let bytes: u64 = state
                .buckets
                .values()
                .flat_map(|b| b.objects.values())
                .map(|o| o.size)
                .sum();
            (state.buckets.len(), objects, bytes, state.uploads.len())
        };
        for (name, help, value) in [
            ("hoist_store_buckets", "Buckets.", buckets as u64),
            (
                "hoist_store_objects",
                "Objects in all buckets.",
                objects as u64,
            ),
            ("hoist_store_object_bytes", "Bytes of all objects.", bytes),
            (
                "hoist_store_multipart_uploads",
                "Multipart uploads begun and neither completed nor aborted.",
                uploads as u64,
            ),
        ] {
            family(&mut out, name, "gauge", help);
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}

/// S3's name for the operation a request asks for, from its method, whether its path names a
/// bucket and a key, and the names of its query parameters.
pub(crate) fn operation(
    method: &Method,
    has_bucket: bool,
    has_key: bool,
    query: &[String],
    copy: bool,
    form: bool,
) -> &'static str {
    let has = |name: &str| query.iter().any(|q| q == name);
    match (method.as_str(), has_bucket, has_key) {
        ("OPTIONS", _, _) => "Preflight",
        ("GET", false, false) => "ListBuckets",
        ("PUT", true, false) if has("cors") => "PutBucketCors",
        ("PUT", true, false) if has("lifecycle") => "PutBucketLifecycleConfiguration",
        ("PUT", true, false) => "CreateBucket",
        ("GET", true, false) if has("cors") => "GetBucketCors",
        ("GET", true, false) if has("lifecycle") => "GetBucketLifecycleConfiguration",
        ("GET", true, false) if has("uploads") => "ListMultipartUploads",
        ("GET", true, false) if has("location") => "GetBucketLocation",
        ("GET", true, false) if has("list-type") => "ListObjectsV2",
        ("GET", true, false) => "ListObjects",
        ("HEAD", true, false) => "HeadBucket",
        ("DELETE", true, false) if has("cors") => "DeleteBucketCors",
        ("DELETE", true, false) if has("lifecycle") => "DeleteBucketLifecycle",
        ("DELETE", true, false) => "DeleteBucket",
        ("POST", true, false) if has("delete") => "DeleteObjects",
        ("POST", true, _) if form => "PostObject",
        ("PUT", true, true) if has("uploadId") && copy => "UploadPartCopy",
        ("PUT", true, true) if has("uploadId") => "UploadPart",
        ("PUT", true, true) if copy => "CopyObject",
        ("PUT", true, true) => "PutObject",
        ("GET", true, true) if has("uploadId") => "ListParts",
        ("GET", true, true) if has("attributes") => "GetObjectAttributes",
        ("GET", true, true) => "GetObject",
        ("HEAD", true, true) => "HeadObject",
        ("POST", true, true) if has("uploads") => "CreateMultipartUpload",
        ("POST", true, true) if has("uploadId") => "CompleteMultipartUpload",
        ("DELETE", true, true) if has("uploadId") => "AbortMultipartUpload",
        ("DELETE", true, true) => "DeleteObject",
        _ => "Other",
    }
}

#[cfg(test)]
mod tests {
    use super::operation;
    use http::Method;

    fn q(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn operations_are_named_as_s3_names_them() {
        let cases = [
            (Method::GET, false, false, q(&[]), false, "ListBuckets"),
            (Method::PUT, true, true, q(&[]), false, "PutObject"),
            (
                Method::PUT,
                true,
                true,
                q(&["partNumber", "uploadId"]),
                false,
                "UploadPart",
            ),
            (
                Method::PUT,
                true,
                true,
                q(&["partNumber", "uploadId"]),
                true,
                "UploadPartCopy",
            ),
            (Method::PUT, true, true, q(&[]), true, "CopyObject"),
            (
                Method::POST,
                true,
                true,
                q(&["uploads"]),
                false,
                "CreateMultipartUpload",
            ),
            (
                Method::POST,
                true,
                true,
                q(&["uploadId"]),
                false,
                "CompleteMultipartUpload",
            ),
            (
                Method::GET,
                true,
                false,
                q(&["list-type", "prefix"]),
                false,
                "ListObjectsV2",
            ),
            (
                Method::GET,
                true,
                true,
                q(&["attributes"]),
                false,
                "GetObjectAttributes",
            ),
            (
                Method::DELETE,
                true,
                true,
                q(&["uploadId"]),
                false,
                "AbortMultipartUpload",
            ),
            (Method::PATCH, true, true, q(&["anything"]), false, "Other"),
        ];
        for (method, bucket, key, query, copy, want) in cases {
            assert_eq!(
                operation(&method, bucket, key, &query, copy, false),
                want,
                "{method} {bucket} {key} {query:?}"
            );
        }
    }
}
