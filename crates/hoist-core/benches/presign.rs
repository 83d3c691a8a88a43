//! Presigning an UploadPart URL: hoist against rusty-s3, same URL, same run.
//!
//! `cargo bench -p hoist-core --bench presign`. Criterion measures each signer; a closing
//! interleaved measurement prints ns per URL for both and the ratio (target: hoist ≤ 1.5 µs and
//! at least 3× faster).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use hoist_core::presign::{Credentials, Endpoint, PresignRequest, Presigner};
use hoist_core::time::Timestamp;
use rusty_s3::{Bucket, S3Action as _, UrlStyle};

const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const ENDPOINT: &str = "https://s3.amazonaws.com";
const BUCKET: &str = "examplebucket";
const KEY: &str = "videos/2025/holiday footage.mp4";
const UPLOAD_ID: &str = "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA";
const PART: u16 = 42;
const EXPIRES: Duration = Duration::from_secs(3600);
const NOW: i64 = 1_764_374_400; // 2025-11-29T00:00:00Z

struct Signers {
    hoist: Presigner,
    bucket: Bucket,
    creds: rusty_s3::Credentials,
    time: time::OffsetDateTime,
}

impl Signers {
    fn new() -> Self {
        let hoist = Presigner::new(
            Credentials::new(ACCESS_KEY, SECRET_KEY),
            Endpoint::parse(ENDPOINT, "us-east-1").unwrap().path_style(),
        );
        let bucket = Bucket::new(
            ENDPOINT.parse().unwrap(),
            UrlStyle::Path,
            BUCKET,
            "us-east-1",
        )
        .unwrap();
        let creds = rusty_s3::Credentials::new(ACCESS_KEY, SECRET_KEY);
        let time = time::OffsetDateTime::from_unix_timestamp(NOW).unwrap();
        Signers {
            hoist,
            bucket,
            creds,
            time,
        }
    }

    fn hoist(&self) -> String {
        let req = PresignRequest::upload_part(
            black_box(BUCKET),
            black_box(KEY),
            black_box(UPLOAD_ID),
            u32::from(PART),
        )
        .expires_in(EXPIRES);
        self.hoist
            .presign(&req, black_box(Timestamp::from_unix(NOW)))
            .unwrap()
            .url
    }

    fn rusty(&self) -> String {
        let action = self.bucket.upload_part(
            Some(&self.creds),
            black_box(KEY),
            PART,
            black_box(UPLOAD_ID),
        );
        action.sign_with_time(EXPIRES, black_box(&self.time)).into()
    }
}

/// Both signers must produce the same URL, or the comparison means nothing.
fn check_same_url(s: &Signers) {
    let sig = |u: &str| {
        u.rsplit_once("X-Amz-Signature=")
            .map(|(_, s)| s.to_owned())
            .unwrap()
    };
    let (a, b) = (s.hoist(), s.rusty());
    assert_eq!(sig(&a), sig(&b), "hoist: {a}\nrusty-s3: {b}");
}

/// Interleaved rounds of both signers; the best round of each, in ns per URL.
fn interleaved(s: &Signers) -> (f64, f64) {
    const N: u32 = 100_000;
    let (mut best_h, mut best_r) = (f64::MAX, f64::MAX);
    for _ in 0..7 {
        let t = Instant::now();
        for _ in 0..N {
            black_box(s.hoist());
        }
        best_h = best_h.min(t.elapsed().as_nanos() as f64 / f64::from(N));
        let t = Instant::now();
        for _ in 0..N {
            black_box(s.rusty());
        }
        best_r = best_r.min(t.elapsed().as_nanos() as f64 / f64::from(N));
    }
    (best_h, best_r)
}

fn main() {
    let s = Signers::new();
    check_same_url(&s);
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("presign UploadPart");
    group.bench_function("hoist", |b| b.iter(|| s.hoist()));
    group.bench_function("rusty-s3", |b| b.iter(|| s.rusty()));
    group.finish();
    c.final_summary();

    let (h, r) = interleaved(&s);
    println!(
        "presign UploadPart: hoist {h:.0} ns/URL ({:.0} URLs/s), rusty-s3 {r:.0} ns/URL; hoist is {:.2}x faster",
        1e9 / h,
        r / h
    );
}
