//! Prometheus metrics, kept in atomics and written in the text exposition format by hand: the set
//! is small and fixed, and the hot path (signing) must stay cheap.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// How an upload ended (or began), as counted in `hoist_uploads_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    /// A multipart upload completed, or a single PUT confirmed by a complete call (the
    /// coordinator never sees the PUT itself; an uploader that confirms twice counts twice,
    /// and one that never confirms is not counted).
    Completed,
    Aborted,
    /// A completion the store refused, or whose object is not the one described (size or
    /// checksum).
    Failed,
}

impl Outcome {
    const ALL: [Outcome; 4] = [
        Outcome::Created,
        Outcome::Completed,
        Outcome::Aborted,
        Outcome::Failed,
    ];

    fn label(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Completed => "completed",
            Outcome::Aborted => "aborted",
            Outcome::Failed => "failed",
        }
    }
}

/// What a presigned URL is for, as counted in `hoist_presigns_total{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresignKind {
    Single,
    Part,
    Control,
}

/// The pre-create hook's verdicts, as counted in `hoist_pre_create_total{verdict}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreCreateVerdict {
    Allowed,
    Refused,
    /// No verdict (timeout, no connection, an unusable answer).
    Unavailable,
}

/// What became of one item of a batch request, as counted in
/// `hoist_batch_items_total{result}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchResult {
    Created,
    /// Not created: the object was already stored (`unless_stored`).
    Skipped,
    Completed,
    Failed,
}

impl BatchResult {
    const LABELS: [&'static str; 4] = ["created", "skipped", "completed", "failed"];
}

/// Upper bounds of the hook-latency histogram, in seconds: a hook is another web service.
const HOOK_BUCKETS: [f64; 9] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// Upper bounds of the signing-latency histogram, in seconds. Signing takes about a
/// microsecond, so the buckets start there.
const LATENCY_BUCKETS: [f64; 10] = [1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 1e-3, 1e-2, 1e-1];

/// All of the coordinator's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    uploads: [AtomicU64; 4],
    bytes_declared: AtomicU64,
    presigns: [AtomicU64; 3],
    sign_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    sign_count: AtomicU64,
    sign_sum_ns: AtomicU64,
    clock_offset_ms: AtomicI64,
    store_errors: Mutex<BTreeMap<String, u64>>,
    /// Requests answered, by route template and status: both sets are bounded.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    /// Hook deliveries: accepted, given up.
    hook_deliveries: [AtomicU64; 2],
    hook_retries: AtomicU64,
    hook_buckets: [AtomicU64; HOOK_BUCKETS.len()],
    hook_count: AtomicU64,
    hook_sum_ns: AtomicU64,
    pre_create: [AtomicU64; 3],
    batch_items: [AtomicU64; 4],
}

impl Metrics {
    pub fn upload(&self, outcome: Outcome) {
        self.uploads[outcome as usize].fetch_add(1, Relaxed);
    }

    pub fn bytes_declared(&self, n: u64) {
        self.bytes_declared.fetch_add(n, Relaxed);
    }

    /// Count `n` signatures of `kind` that took `elapsed` together (recorded as one observation
    /// per signature, of the average duration).
    pub fn presigned(&self, kind: PresignKind, n: u64, elapsed: Duration) {
        if n == 0 {
            return;
        }
        self.presigns[kind as usize].fetch_add(n, Relaxed);
        let each = elapsed.as_secs_f64() / n as f64;
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| each <= *b) {
            self.sign_buckets[i].fetch_add(n, Relaxed);
        }
        self.sign_count.fetch_add(n, Relaxed);
        self.sign_sum_ns.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Relaxed,
        );
    }

    pub fn set_clock_offset(&self, offset_ms: i64) {
        self.clock_offset_ms.store(offset_ms, Relaxed);
    }

    pub fn store_error(&self, code: &str) {
        let mut map = self.store_errors.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(code.to_string()).or_default() += 1;
    }

    /// One request answered on `route` (a template, never a path) with `status`.
    pub fn request(&self, route: &'static str, status: u16) {
        let mut map = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry((route, status)).or_default() += 1;
    }

    /// An event was accepted by a hook (`true`) or given up on once its time was spent.
    pub fn hook_delivered(&self, sent: bool) {
        self.hook_deliveries[usize::from(!sent)].fetch_add(1, Relaxed);
    }

    /// A hook delivery is tried again.
    pub fn hook_retried(&self) {
        self.hook_retries.fetch_add(1, Relaxed);
    }

    /// One request to a hook (an event delivery attempt or a pre-create call) took `elapsed`.
    pub fn hook_attempt(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if let Some(i) = HOOK_BUCKETS.iter().position(|b| secs <= *b) {
            self.hook_buckets[i].fetch_add(1, Relaxed);
        }
        self.hook_count.fetch_add(1, Relaxed);
        self.hook_sum_ns.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Relaxed,
        );
    }

    pub fn pre_create(&self, verdict: PreCreateVerdict) {
        self.pre_create[verdict as usize].fetch_add(1, Relaxed);
    }

    /// One item of a batch request answered.
    pub fn batch_item(&self, result: BatchResult) {
        self.batch_items[result as usize].fetch_add(1, Relaxed);
    }

    pub fn presigns_total(&self) -> u64 {
        self.presigns.iter().map(|a| a.load(Relaxed)).sum()
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut s = String::with_capacity(2048);
        let _ = writeln!(s, "# HELP hoist_uploads_total Uploads by outcome.");
        let _ = writeln!(s, "# TYPE hoist_uploads_total counter");
        for o in Outcome::ALL {
            let v = self.uploads[o as usize].load(Relaxed);
            let _ = writeln!(s, "hoist_uploads_total{{outcome=\"{}\"}} {v}", o.label());
        }
        let _ = writeln!(
            s,
            "# HELP hoist_bytes_declared_total Sizes declared by created uploads."
        );
        let _ = writeln!(s, "# TYPE hoist_bytes_declared_total counter");
        let _ = writeln!(
            s,
            "hoist_bytes_declared_total {}",
            self.bytes_declared.load(Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP hoist_presigns_total Presigned URLs made, by kind."
        );
        let _ = writeln!(s, "# TYPE hoist_presigns_total counter");
        for (i, kind) in ["single", "part", "control"].iter().enumerate() {
            let v = self.presigns[i].load(Relaxed);
            let _ = writeln!(s, "hoist_presigns_total{{kind=\"{kind}\"}} {v}");
        }
        let _ = writeln!(
            s,
            "# HELP hoist_sign_duration_seconds Time to presign one URL."
        );
        let _ = writeln!(s, "# TYPE hoist_sign_duration_seconds histogram");
        let mut cumulative = 0;
        for (i, le) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.sign_buckets[i].load(Relaxed);
            let _ = writeln!(
                s,
                "hoist_sign_duration_seconds_bucket{{le=\"{le:e}\"}} {cumulative}"
            );
        }
        let count = self.sign_count.load(Relaxed);
        let _ = writeln!(
            s,
            "hoist_sign_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = self.sign_sum_ns.load(Relaxed) as f64 / 1e9;
        let _ = writeln!(s, "hoist_sign_duration_seconds_sum {sum}");
        let _ = writeln!(s, "hoist_sign_duration_seconds_count {count}");
        let _ = writeln!(
            s,
            "# HELP hoist_clock_offset_seconds Store clock minus local clock, as measured from its Date header."
        );
        let _ = writeln!(s, "# TYPE hoist_clock_offset_seconds gauge");
        let off = self.clock_offset_ms.load(Relaxed) as f64 / 1000.0;
        let _ = writeln!(s, "hoist_clock_offset_seconds {off}");
        let _ = writeln!(
            s,
            "# HELP hoist_store_errors_total Error answers from the store, by S3 code."
        );
        let _ = writeln!(s, "# TYPE hoist_store_errors_total counter");
        let map = self.store_errors.lock().unwrap_or_else(|e| e.into_inner());
        for (code, v) in map.iter() {
            let code = code.replace(['\\', '"', '\n'], "_");
            let _ = writeln!(s, "hoist_store_errors_total{{code=\"{code}\"}} {v}");
        }
        drop(map);
        self.render_hooks(&mut s);
        let _ = writeln!(
            s,
            "# HELP hoist_requests_total Requests answered by the coordinator, by route and status."
        );
        let _ = writeln!(s, "# TYPE hoist_requests_total counter");
        let map = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        for ((route, status), v) in map.iter() {
            let _ = writeln!(
                s,
                "hoist_requests_total{{route=\"{route}\",status=\"{status}\"}} {v}"
            );
        }
        s
    }
}

impl Metrics {
    fn render_hooks(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "# HELP hoist_hook_deliveries_total Events delivered to a hook URL (sent) or given up on when their time was spent (failed)."
        );
        let _ = writeln!(s, "# TYPE hoist_hook_deliveries_total counter");
        for (i, outcome) in ["sent", "failed"].iter().enumerate() {
            let v = self.hook_deliveries[i].load(Relaxed);
            let _ = writeln!(
                s,
                "hoist_hook_deliveries_total{{outcome=\"{outcome}\"}} {v}"
            );
        }
        let _ = writeln!(
            s,
            "# HELP hoist_hook_retries_total Hook delivery attempts after the first."
        );
        let _ = writeln!(s, "# TYPE hoist_hook_retries_total counter");
        let _ = writeln!(
            s,
            "hoist_hook_retries_total {}",
            self.hook_retries.load(Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP hoist_hook_duration_seconds Time of one request to a hook (an event delivery attempt or a pre-create call)."
        );
        let _ = writeln!(s, "# TYPE hoist_hook_duration_seconds histogram");
        let mut cumulative = 0;
        for (i, le) in HOOK_BUCKETS.iter().enumerate() {
            cumulative += self.hook_buckets[i].load(Relaxed);
            let _ = writeln!(
                s,
                "hoist_hook_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        let count = self.hook_count.load(Relaxed);
        let _ = writeln!(
            s,
            "hoist_hook_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = self.hook_sum_ns.load(Relaxed) as f64 / 1e9;
        let _ = writeln!(s, "hoist_hook_duration_seconds_sum {sum}");
        let _ = writeln!(s, "hoist_hook_duration_seconds_count {count}");
        let _ = writeln!(
            s,
            "# HELP hoist_pre_create_total Verdicts of the pre-create hook."
        );
        let _ = writeln!(s, "# TYPE hoist_pre_create_total counter");
        for (i, verdict) in ["allowed", "refused", "unavailable"].iter().enumerate() {
            let v = self.pre_create[i].load(Relaxed);
            let _ = writeln!(s, "hoist_pre_create_total{{verdict=\"{verdict}\"}} {v}");
        }
        let _ = writeln!(
            s,
            "# HELP hoist_batch_items_total Items of batch requests, by what became of each."
        );
        let _ = writeln!(s, "# TYPE hoist_batch_items_total counter");
        for (i, result) in BatchResult::LABELS.iter().enumerate() {
            let v = self.batch_items[i].load(Relaxed);
            let _ = writeln!(s, "hoist_batch_items_total{{result=\"{result}\"}} {v}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family() {
        let m = Metrics::default();
        m.upload(Outcome::Created);
        m.bytes_declared(42);
        m.presigned(PresignKind::Part, 4, Duration::from_micros(8));
        m.set_clock_offset(-1500);
        m.store_error("NoSuchUpload");
        let t = m.render();
        assert!(
            t.contains("hoist_uploads_total{outcome=\"created\"} 1"),
            "{t}"
        );
        assert!(t.contains("hoist_bytes_declared_total 42"));
        assert!(t.contains("hoist_presigns_total{kind=\"part\"} 4"));
        assert!(
            t.contains("hoist_sign_duration_seconds_bucket{le=\"2e-6\"} 4"),
            "{t}"
        );
        assert!(t.contains("hoist_sign_duration_seconds_count 4"));
        assert!(t.contains("hoist_clock_offset_seconds -1.5"));
        assert!(t.contains("hoist_store_errors_total{code=\"NoSuchUpload\"} 1"));
    }

    #[test]
    fn renders_hook_families() {
        let m = Metrics::default();
        m.hook_delivered(true);
        m.hook_delivered(false);
        m.hook_delivered(false);
        m.hook_retried();
        m.hook_attempt(Duration::from_millis(20));
        m.pre_create(PreCreateVerdict::Refused);
        m.batch_item(BatchResult::Skipped);
        m.batch_item(BatchResult::Skipped);
        let t = m.render();
        assert!(
            t.contains("hoist_batch_items_total{result=\"skipped\"} 2"),
            "{t}"
        );
        assert!(
            t.contains("hoist_batch_items_total{result=\"failed\"} 0"),
            "{t}"
        );
        assert!(
            t.contains("hoist_hook_deliveries_total{outcome=\"sent\"} 1"),
            "{t}"
        );
        assert!(
            t.contains("hoist_hook_deliveries_total{outcome=\"failed\"} 2"),
            "{t}"
        );
        assert!(t.contains("hoist_hook_retries_total 1"), "{t}");
        assert!(
            t.contains("hoist_hook_duration_seconds_bucket{le=\"0.01\"} 0"),
            "{t}"
        );
        assert!(
            t.contains("hoist_hook_duration_seconds_bucket{le=\"0.025\"} 1"),
            "{t}"
        );
        assert!(t.contains("hoist_hook_duration_seconds_count 1"), "{t}");
        assert!(
            t.contains("hoist_pre_create_total{verdict=\"refused\"} 1"),
            "{t}"
        );
    }
}
