//! Presigning GET, PUT and UploadPart URLs, with and without a session token: hoist against
//! rusty-s3, same URL, same run. Two more cases sign the URLs of 32 parts of one upload, as a
//! coordinator does for a client: hoist signs them together (a `PartsSigner`), rusty-s3 one by
//! one; their figures are per URL.
//!
//! `cargo bench -p hoist-core --bench presign`. Every case is first checked to give the same
//! signature with both signers. Criterion then measures each signer per case, and a closing
//! measurement runs both in interleaved rounds (so load hits them alike) and prints, per case,
//! the median ns per URL of each, the median of the per-round ratios, and the min–max over
//! rounds. These ns are the signing thread's CPU time, which the machine's other load does not
//! inflate the way it does wall time (the wall medians are printed too). Targets: hoist at most 700 ns per URL and at least 5× faster than rusty-s3.
//!
//! Environment: `BENCH_OUT=DIR` also writes `DIR/results.csv` (`case,signer,round,ns_per_url`)
//! and `DIR/summary.json` (a relative DIR is taken from the workspace root); `BENCH_ROUNDS` (default 9, at least 7); `BENCH_CRITERION=0` skips
//! the criterion part; `BENCH_LOOP=N` only signs N URLs of each case with hoist (or with
//! rusty-s3 when `BENCH_LOOP_SIGNER=rusty-s3`; only the case `BENCH_LOOP_CASE` names, e.g.
//! `UploadPart+token`, when set) and exits, for a profiler
//! (`valgrind --tool=callgrind`, `perf record`).

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::Criterion;
use hoist_core::presign::{Credentials, Endpoint, PresignRequest, Presigner};
use hoist_core::time::Timestamp;
use rusty_s3::{Bucket, S3Action as _, UrlStyle};

const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// The shape and length (336 characters) of an STS session token, as AWS documents it.
const SESSION_TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
const ENDPOINT: &str = "https://s3.amazonaws.com";
const BUCKET: &str = "examplebucket";
const KEY: &str = "videos/2025/holiday footage.mp4";
const UPLOAD_ID: &str = "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA";
const PART: u16 = 42;
const EXPIRES: Duration = Duration::from_secs(3600);
const NOW: i64 = 1_764_374_400; // 2025-11-29T00:00:00Z

/// hoist's targets: at most this many ns per URL, and at least this many times rusty-s3's rate.
const TARGET_NS: f64 = 700.0;
const TARGET_RATIO: f64 = 5.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Get,
    Put,
    UploadPart,
    /// [`PARTS`] UploadPart URLs of one upload.
    Parts,
}

/// Parts per batch in the `UploadPart×32` cases.
const PARTS: u32 = 32;

#[derive(Debug, Clone, Copy)]
struct Case {
    action: Action,
    token: bool,
}

impl Case {
    const ALL: [Case; 8] = [
        Case::new(Action::Get, false),
        Case::new(Action::Get, true),
        Case::new(Action::Put, false),
        Case::new(Action::Put, true),
        Case::new(Action::UploadPart, false),
        Case::new(Action::UploadPart, true),
        Case::new(Action::Parts, false),
        Case::new(Action::Parts, true),
    ];

    const fn new(action: Action, token: bool) -> Self {
        Case { action, token }
    }

    fn name(self) -> &'static str {
        match (self.action, self.token) {
            (Action::Get, false) => "GET",
            (Action::Get, true) => "GET+token",
            (Action::Put, false) => "PUT",
            (Action::Put, true) => "PUT+token",
            (Action::UploadPart, false) => "UploadPart",
            (Action::UploadPart, true) => "UploadPart+token",
            (Action::Parts, false) => "UploadPart×32",
            (Action::Parts, true) => "UploadPart×32+token",
        }
    }

    /// URLs one call signs.
    fn urls(self) -> u32 {
        if self.action == Action::Parts {
            PARTS
        } else {
            1
        }
    }
}

struct Signers {
    hoist: Presigner,
    hoist_token: Presigner,
    bucket: Bucket,
    creds: rusty_s3::Credentials,
    creds_token: rusty_s3::Credentials,
    time: time::OffsetDateTime,
}

impl Signers {
    fn new() -> Self {
        let endpoint = Endpoint::parse(ENDPOINT, "us-east-1").unwrap().path_style();
        let hoist = Presigner::new(Credentials::new(ACCESS_KEY, SECRET_KEY), endpoint.clone());
        let hoist_token = Presigner::new(
            Credentials::new(ACCESS_KEY, SECRET_KEY).with_session_token(SESSION_TOKEN),
            endpoint,
        );
        let bucket = Bucket::new(
            ENDPOINT.parse().unwrap(),
            UrlStyle::Path,
            BUCKET,
            "us-east-1",
        )
        .unwrap();
        Signers {
            hoist,
            hoist_token,
            bucket,
            creds: rusty_s3::Credentials::new(ACCESS_KEY, SECRET_KEY),
            creds_token: rusty_s3::Credentials::new_with_token(
                ACCESS_KEY,
                SECRET_KEY,
                SESSION_TOKEN,
            ),
            time: time::OffsetDateTime::from_unix_timestamp(NOW).unwrap(),
        }
    }

    /// The URL as a caller gets it: building the request is part of the cost. For a batch of
    /// parts, the last part's.
    fn hoist(&self, case: Case) -> String {
        if case.action == Action::Parts {
            return self.hoist_parts(case).pop().unwrap();
        }
        let req = match case.action {
            Action::Get => PresignRequest::get_object(black_box(BUCKET), black_box(KEY)),
            Action::Put => PresignRequest::put_object(black_box(BUCKET), black_box(KEY)),
            Action::UploadPart => PresignRequest::upload_part(
                black_box(BUCKET),
                black_box(KEY),
                black_box(UPLOAD_ID),
                u32::from(PART),
            ),
            Action::Parts => unreachable!("signed by hoist_parts"),
        }
        .expires_in(EXPIRES);
        let signer = if case.token {
            &self.hoist_token
        } else {
            &self.hoist
        };
        signer
            .presign(&req, black_box(Timestamp::from_unix(NOW)))
            .unwrap()
            .url
    }

    /// The URLs of parts 1 to [`PARTS`] of one upload, signed together.
    fn hoist_parts(&self, case: Case) -> Vec<String> {
        let signer = if case.token {
            &self.hoist_token
        } else {
            &self.hoist
        };
        let mut parts = signer.parts_signer(black_box(Timestamp::from_unix(NOW)), PARTS as usize);
        (1..=PARTS)
            .map(|n| {
                let req = PresignRequest::upload_part(
                    black_box(BUCKET),
                    black_box(KEY),
                    black_box(UPLOAD_ID),
                    n,
                )
                .expires_in(EXPIRES);
                parts.presign(&req).unwrap().url
            })
            .collect()
    }

    /// The same URLs signed one by one; rusty-s3 has no other way.
    fn rusty_parts(&self, case: Case) -> Vec<String> {
        let creds = Some(if case.token {
            &self.creds_token
        } else {
            &self.creds
        });
        let time = black_box(&self.time);
        (1..=PARTS as u16)
            .map(|n| {
                self.bucket
                    .upload_part(creds, black_box(KEY), n, black_box(UPLOAD_ID))
                    .sign_with_time(EXPIRES, time)
                    .into()
            })
            .collect()
    }

    fn rusty(&self, case: Case) -> String {
        if case.action == Action::Parts {
            return self.rusty_parts(case).pop().unwrap();
        }
        let creds = Some(if case.token {
            &self.creds_token
        } else {
            &self.creds
        });
        let time = black_box(&self.time);
        let url = match case.action {
            Action::Get => self
                .bucket
                .get_object(creds, black_box(KEY))
                .sign_with_time(EXPIRES, time),
            Action::Put => self
                .bucket
                .put_object(creds, black_box(KEY))
                .sign_with_time(EXPIRES, time),
            Action::UploadPart => self
                .bucket
                .upload_part(creds, black_box(KEY), PART, black_box(UPLOAD_ID))
                .sign_with_time(EXPIRES, time),
            Action::Parts => unreachable!("signed by rusty_parts"),
        };
        url.into()
    }
}

/// Both signers must produce the same signature (so the same canonical request), or the
/// comparison means nothing. The URLs may differ only in how the query is spelled.
fn check_same_signature(s: &Signers, case: Case) {
    let sig = |u: &str| {
        u.rsplit_once("X-Amz-Signature=")
            .map(|(_, s)| s.to_owned())
            .unwrap()
    };
    let (ours, theirs) = if case.action == Action::Parts {
        (s.hoist_parts(case), s.rusty_parts(case))
    } else {
        (vec![s.hoist(case)], vec![s.rusty(case)])
    };
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(
            sig(a),
            sig(b),
            "{}:\nhoist: {a}\nrusty-s3: {b}",
            case.name()
        );
        assert_eq!(case.token, a.contains("X-Amz-Security-Token="));
    }
}

/// The work no SigV4 signer can skip for one URL, given the day's signing key and the string
/// to sign's prefix already fed to the HMAC (as hoist keeps them): the SHA-256 of the canonical
/// request, its hex, and the HMAC's last blocks. hoist's time above this is its own overhead.
struct Floor {
    canonical_request: String,
    keyed_prefix: hmac::Hmac<sha2::Sha256>,
}

impl Floor {
    /// The canonical request read back from hoist's URL for `case`, checked by signing it.
    fn new(s: &Signers, case: Case) -> Self {
        use hmac::{KeyInit as _, Mac as _};
        let url = s.hoist(case);
        let (unsigned, signature) = url.rsplit_once("&X-Amz-Signature=").unwrap();
        let rest = unsigned.strip_prefix(ENDPOINT).unwrap();
        let (path, query) = rest.split_once('?').unwrap();
        let method = if case.action == Action::Get {
            "GET"
        } else {
            "PUT"
        };
        let host = ENDPOINT.strip_prefix("https://").unwrap();
        let canonical_request =
            format!("{method}\n{path}\n{query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD");
        let date = "20251129";
        let key = hoist_core::presign::signing_key(SECRET_KEY, date, "us-east-1", "s3");
        let mut keyed_prefix = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        keyed_prefix.update(
            format!("AWS4-HMAC-SHA256\n{date}T000000Z\n{date}/us-east-1/s3/aws4_request\n")
                .as_bytes(),
        );
        let floor = Floor {
            canonical_request,
            keyed_prefix,
        };
        assert_eq!(
            hoist_core::encoding::hex(&floor.sign()),
            signature,
            "{}: the floor must be the same signature",
            case.name()
        );
        floor
    }

    fn sign(&self) -> [u8; 32] {
        use hmac::Mac as _;
        use sha2::Digest as _;
        let hash = sha2::Sha256::digest(black_box(self.canonical_request.as_bytes()));
        let mut mac = self.keyed_prefix.clone();
        mac.update(&hex_bytes(&hash));
        mac.finalize().into_bytes().into()
    }
}

fn hex_bytes(bytes: &[u8]) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 15)];
    }
    out
}

/// How many URLs one timed batch signs: about 20 ms worth, whatever the machine's speed.
fn batch_size<T>(f: &dyn Fn() -> T) -> u32 {
    let t = Instant::now();
    for _ in 0..200 {
        black_box(f());
    }
    let per = t.elapsed().as_secs_f64() / 200.0;
    ((0.020 / per) as u32).clamp(1_000, 200_000)
}

/// The CPU time this thread has used: what signing costs, however busy the machine is.
#[cfg(unix)]
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Elsewhere, wall time (only right on a quiet machine).
#[cfg(not(unix))]
fn thread_cpu() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// `(CPU, wall)` ns per URL over `n` calls of `f`, each signing `urls` URLs.
fn time_batch<T>(n: u32, urls: u32, f: &dyn Fn() -> T) -> (f64, f64) {
    let (cpu, wall) = (thread_cpu(), Instant::now());
    for _ in 0..n {
        black_box(f());
    }
    let per_url = |d: Duration| d.as_nanos() as f64 / f64::from(n) / f64::from(urls);
    (per_url(thread_cpu() - cpu), per_url(wall.elapsed()))
}

/// CPU ns per URL of each signer in each round, for one case; and the wall ns.
#[derive(Default)]
struct Rounds {
    hoist: Vec<f64>,
    floor: Vec<f64>,
    rusty: Vec<f64>,
    hoist_wall: Vec<f64>,
    rusty_wall: Vec<f64>,
}

impl Rounds {
    /// hoist's ns per URL above the floor, per round.
    fn overheads(&self) -> Vec<f64> {
        self.hoist
            .iter()
            .zip(&self.floor)
            .map(|(h, f)| h - f)
            .collect()
    }

    fn ratios(&self) -> Vec<f64> {
        self.rusty
            .iter()
            .zip(&self.hoist)
            .map(|(r, h)| r / h)
            .collect()
    }
}

/// Interleaved rounds: in each, every case runs one batch of each signer, the one going first
/// alternating between rounds, so a burst of load lands on both.
fn interleaved(s: &Signers, rounds: usize) -> Vec<Rounds> {
    let sizes: Vec<(u32, u32)> = Case::ALL
        .iter()
        .map(|&c| (batch_size(&|| s.hoist(c)), batch_size(&|| s.rusty(c))))
        .collect();
    let floors: Vec<Floor> = Case::ALL.iter().map(|&c| Floor::new(s, c)).collect();
    let mut out: Vec<Rounds> = Case::ALL.iter().map(|_| Rounds::default()).collect();
    for round in 0..rounds {
        for (i, &c) in Case::ALL.iter().enumerate() {
            let (nh, nr) = sizes[i];
            let hoist = || time_batch(nh, c.urls(), &|| s.hoist(c));
            let rusty = || time_batch(nr, c.urls(), &|| s.rusty(c));
            let (h, r) = if round % 2 == 0 {
                let h = hoist();
                (h, rusty())
            } else {
                let r = rusty();
                (hoist(), r)
            };
            let floor = time_batch(nh * c.urls(), 1, &|| floors[i].sign());
            let rounds = &mut out[i];
            rounds.floor.push(floor.0);
            rounds.hoist.push(h.0);
            rounds.hoist_wall.push(h.1);
            rounds.rusty.push(r.0);
            rounds.rusty_wall.push(r.1);
        }
    }
    out
}

/// Median, min and max.
fn stats(v: &[f64]) -> (f64, f64, f64) {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (median, v[0], v[n - 1])
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let s = String::from_utf8(out.stdout).ok()?;
    out.status.success().then(|| s.trim().to_owned())
}

/// The version of `name` that Cargo.lock pins (rusty-s3 is a dev-dependency).
fn locked_version(name: &str) -> String {
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    let needle = format!("name = \"{name}\"\nversion = \"");
    text.split_once(&needle)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or_else(|| "unknown".to_owned(), |(v, _)| v.to_owned())
}

fn write_results(dir: &Path, results: &[Rounds]) -> std::io::Result<()> {
    use serde_json::json;
    std::fs::create_dir_all(dir)?;
    let mut csv = String::from("case,signer,round,ns_per_url\n");
    for (c, r) in Case::ALL.iter().zip(results) {
        for (signer, v) in [
            ("hoist", &r.hoist),
            ("rusty-s3", &r.rusty),
            ("sha256-floor", &r.floor),
        ] {
            for (round, ns) in v.iter().enumerate() {
                writeln!(csv, "{},{signer},{},{ns:.1}", c.name(), round + 1).unwrap();
            }
        }
    }
    std::fs::write(dir.join("results.csv"), csv)?;

    let range = |(m, lo, hi): (f64, f64, f64), digits: usize| {
        format!("{m:.digits$} ({lo:.digits$}–{hi:.digits$})")
    };
    let bar = |label: &str, (m, lo, hi): (f64, f64, f64), digits: i32| {
        let round = |x: f64| {
            let p = 10f64.powi(digits);
            (x * p).round() / p
        };
        json!({"label": label, "value": round(m), "low": round(lo), "high": round(hi)})
    };
    let mut rows = Vec::new();
    let (mut ratio_bars, mut ns_bars) = (Vec::new(), Vec::new());
    for (c, r) in Case::ALL.iter().zip(results) {
        let (h, rs, ratio) = (stats(&r.hoist), stats(&r.rusty), stats(&r.ratios()));
        let yes_no = |met: bool| if met { "met" } else { "not met" };
        let target = format!(
            "≥ {TARGET_RATIO:.0}×: {}; ≤ {TARGET_NS:.0} ns: {}",
            yes_no(ratio.0 >= TARGET_RATIO),
            yes_no(h.0 <= TARGET_NS)
        );
        rows.push(json!([
            c.name(),
            range(h, 0),
            range(rs, 0),
            range(ratio, 2),
            range(stats(&r.floor), 0),
            range(stats(&r.overheads()), 0),
            target,
        ]));
        ratio_bars.push(bar(c.name(), ratio, 2));
        for (signer, v) in [("hoist", h), ("rusty-s3", rs)] {
            let mut b = bar(&format!("{} {signer}", c.name()), v, 0);
            b["group"] = signer.into();
            ns_bars.push(b);
        }
    }
    let date = Timestamp::from_unix(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    )
    .to_rfc3339();
    let summary = json!({
        "name": "presign",
        "title": "Presigning a URL",
        "date": date,
        "command": "bench/run.sh presign",
        "versions": {
            "hoist": command_line("git", &["rev-parse", "--short", "HEAD"]).unwrap_or_default(),
            "rusty-s3": locked_version("rusty-s3"),
            "rustc": command_line("rustc", &["--version"]).unwrap_or_default(),
        },
        "notes": [
            format!(
                "{} interleaved rounds; median (min–max) over rounds, the ratio taken per round. \
                 ns are the signing thread's CPU time per URL, building the request included.",
                results.first().map_or(0, |r| r.hoist.len())
            ),
            format!(
                "Every case gives the same signature with both signers. The session token is {} \
                 characters, an STS token's documented shape.",
                SESSION_TOKEN.len()
            ),
            "rusty-s3 derives the signing key for every URL; hoist keeps it for the day, and \
             the string to sign's keyed prefix for the second.",
            "SHA-256 floor: the work no signer can skip for one URL once the signing key and \
             the string to sign's keyed prefix are kept: the SHA-256 of the case's canonical \
             request, its hex and the HMAC's last blocks (checked to give the same signature), \
             timed in the same rounds. hoist − floor is what formatting, encoding, allocation \
             and copying cost on top.",
            format!(
                "UploadPart×{PARTS}: the URLs of parts 1 to {PARTS} of one upload, per URL; hoist \
                 signs them together (a PartsSigner: the parts share their canonical request up \
                 to the part number, hashed once), rusty-s3 one by one. Its floor is one URL's \
                 alone, which signing together goes under."
            ),
            format!("Load average at the end of the run: {}.", load_average()),
        ],
        "table": {
            "columns": ["case", "hoist ns/URL", "rusty-s3 ns/URL", "ratio", "SHA-256 floor ns/URL", "hoist − floor ns", "target"],
            "rows": rows,
        },
        "plots": [
            {"file": "ratio.svg", "kind": "bar", "title": "hoist speed-up over rusty-s3 per case",
             "unit": "×", "bars": ratio_bars},
            {"file": "ns.svg", "kind": "bar", "title": "ns per URL", "unit": "ns", "bars": ns_bars},
        ],
    });
    let mut text = serde_json::to_string_pretty(&summary).expect("JSON");
    text.push('\n');
    std::fs::write(dir.join("summary.json"), text)
}

fn main() {
    let s = Signers::new();
    for case in Case::ALL {
        check_same_signature(&s, case);
    }
    // `cargo test --benches` runs this with `--test`: the checks above are the test.
    if std::env::args().any(|a| a == "--test") {
        println!(
            "presign: hoist and rusty-s3 sign all {} cases alike",
            Case::ALL.len()
        );
        return;
    }

    if let Some(n) = std::env::var("BENCH_LOOP")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    {
        let rusty = std::env::var("BENCH_LOOP_SIGNER").as_deref() == Ok("rusty-s3");
        let only = std::env::var("BENCH_LOOP_CASE").ok();
        for case in Case::ALL
            .into_iter()
            .filter(|c| only.as_deref().is_none_or(|o| o == c.name()))
        {
            for _ in 0..n {
                black_box(if rusty { s.rusty(case) } else { s.hoist(case) });
            }
        }
        return;
    }

    if std::env::var("BENCH_CRITERION").as_deref() != Ok("0") {
        let mut c = Criterion::default()
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
            .configure_from_args();
        for case in Case::ALL {
            let mut group = c.benchmark_group(format!("presign {}", case.name()));
            group.bench_function("hoist", |b| b.iter(|| s.hoist(case)));
            group.bench_function("rusty-s3", |b| b.iter(|| s.rusty(case)));
            group.finish();
        }
        c.final_summary();
    }

    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9usize)
        .max(7);
    let load_before = load_average();
    let results = interleaved(&s, rounds);
    println!(
        "interleaved, {rounds} rounds; load average {load_before} before, {} after",
        load_average()
    );
    println!(
        "{:<20} {:>22} {:>22} {:>20} {:>18} {:>14}",
        "case", "hoist ns/URL", "rusty-s3 ns/URL", "ratio", "SHA-256 floor ns", "hoist − floor"
    );
    for (c, r) in Case::ALL.iter().zip(&results) {
        let (h, rs, ratio) = (stats(&r.hoist), stats(&r.rusty), stats(&r.ratios()));
        let floor = stats(&r.floor);
        println!(
            "{:<20} {:>22} {:>22} {:>20} {:>18} {:>14}",
            c.name(),
            format!("{:.0} ({:.0}–{:.0})", h.0, h.1, h.2),
            format!("{:.0} ({:.0}–{:.0})", rs.0, rs.1, rs.2),
            format!("{:.2}× ({:.2}–{:.2})", ratio.0, ratio.1, ratio.2),
            format!("{:.0}", floor.0),
            format!("{:.0}", stats(&r.overheads()).0),
        );
    }
    for (c, r) in Case::ALL.iter().zip(&results) {
        println!(
            "{:<20} wall medians: hoist {:.0} ns/URL, rusty-s3 {:.0} ns/URL",
            c.name(),
            stats(&r.hoist_wall).0,
            stats(&r.rusty_wall).0
        );
    }
    if let Some(dir) = std::env::var_os("BENCH_OUT") {
        // Cargo runs benches in the package's folder; a relative DIR means the workspace's.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(dir);
        write_results(&dir, &results).expect("writing the results");
        println!("results in {}", dir.display());
    }
}
