//! A store whose clock jumps eight days ahead in the middle of an upload: every URL signed
//! from then on with the old offset is "Request has expired" (more than the 7-day maximum
//! lifetime). The upload must notice, learn the store's new time, re-sign and finish intact.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use hoist_client::{CancellationToken, Progress, Source};
use support::{data_file, start};

const MIB: u64 = 1024 * 1024;

const EIGHT_DAYS: i64 = 8 * 24 * 3600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_that_expire_mid_upload_are_signed_again_and_the_upload_finishes() {
    let env = start().await;
    let (path, md5) = data_file(&env, "expiry.bin", 30 * MIB, 11);
    // Slow enough that plenty of parts remain when the clock jumps. The latency is the point:
    // the store judges a request only after it, so a part signed just before the jump is
    // judged by the new clock. (Without it, the client learns the new time from the very
    // next answer's Date header and never meets an expired URL at all.)
    env.store
        .faults()
        .update(|f| {
            f.bandwidth_bytes_per_sec = Some(10 * MIB);
            f.latency_ms = 300;
        })
        .unwrap();

    let faults = env.store.faults().clone();
    let jumped = Arc::new(AtomicBool::new(false));
    let retries_after_jump = Arc::new(AtomicU32::new(0));
    let (j, r) = (jumped.clone(), retries_after_jump.clone());
    let progress: hoist_client::ProgressFn = Arc::new(move |event: &Progress| match event {
        Progress::PartDone { done_bytes, .. }
            if *done_bytes >= 10 * MIB && !j.swap(true, Ordering::SeqCst) =>
        {
            faults.update(|f| f.clock_offset_secs = EIGHT_DAYS).unwrap();
        }
        // The store may refuse before the body is sent and close the connection, which the
        // client then sees as a broken pipe rather than the 403: any failure after the jump
        // counts.
        Progress::Retrying { .. } if j.load(Ordering::SeqCst) => {
            r.fetch_add(1, Ordering::SeqCst);
        }
        _ => {}
    });

    let policy = hoist_core::plan::PlanPolicy::default()
        .with_single_put_threshold(5 * MIB)
        .with_part_size(5 * MIB);
    let transport = env.transport("expiry.bin").with_plan_policy(policy);
    let mut config = env.config();
    config.concurrency = 2;
    let uploader =
        hoist_client::Uploader::new(transport, hoist_client::http_client(2).unwrap(), config);
    let done = uploader
        .upload(Source::File(path), Some(progress), CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("the upload did not survive the clock jump: {e}"));
    assert!(done.multipart);
    assert!(jumped.load(Ordering::SeqCst), "the clock never jumped");
    assert!(
        retries_after_jump.load(Ordering::SeqCst) >= 1,
        "no request failed after the jump, so the test proved nothing"
    );

    // The checking client signs with the machine's clock: put the store's back first.
    env.store
        .faults()
        .update(|f| {
            f.clock_offset_secs = 0;
            f.bandwidth_bytes_per_sec = None;
            f.latency_ms = 0;
        })
        .unwrap();
    assert_eq!(env.download_md5("expiry.bin").await, (md5, 30 * MIB));
}
