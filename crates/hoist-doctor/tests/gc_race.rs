//! `hoist gc` racing someone else's aborts: uploads that vanish between the listing and gc's
//! calls about them are counted as gone, and the sweep goes on to the end.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use common::start;

const UPLOADS: usize = 50;
const HOUR: Duration = Duration::from_secs(3600);

/// A seeded shuffle (xorshift), so a failure can be replayed from the seed it prints.
fn shuffled(mut items: Vec<String>, mut seed: u64) -> Vec<String> {
    for i in (1..items.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        items.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_counts_uploads_aborted_meanwhile_and_sweeps_all_the_rest() {
    let env = start(None).await;
    let mut keys = Vec::new();
    for i in 0..UPLOADS {
        let key = format!("race/{i:02}.bin");
        let id = common::incomplete_upload(&env, &key, 64).await;
        keys.push(format!("{key} {id}"));
    }
    // The store's clock runs two hours ahead: every upload is stale for gc, which reads ages
    // by the store's clock.
    env.set_clock_offset(2 * 3600);
    let racer = env.client();
    // Each call waits, so gc's sweep lasts long enough for the aborts to land inside it.
    env.store.faults().update(|f| f.latency_ms = 20).unwrap();

    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let victims: Vec<String> = shuffled(keys.clone(), seed)[..UPLOADS / 2].to_vec();
    let others = async {
        // gc has measured the clock and listed by then (a few calls of 20 ms).
        tokio::time::sleep(Duration::from_millis(150)).await;
        let mut aborted = BTreeSet::new();
        for v in &victims {
            let (key, id) = v.split_once(' ').unwrap();
            match racer.abort(key, id).await {
                Ok(()) => {
                    aborted.insert(v.clone());
                }
                // gc got there first.
                Err(e) if e.is_no_such_upload() => {}
                Err(e) => panic!("abort {v}: {e}"),
            }
        }
        aborted
    };
    let (report, aborted_by_others) =
        tokio::join!(hoist_doctor::gc::gc(env.target(), HOUR, false), others);
    let report = report.expect("gc succeeds while uploads vanish under it");
    env.store.faults().update(|f| f.latency_ms = 0).unwrap();

    let id = |key: &str, upload_id: &str| format!("{key} {upload_id}");
    let by_gc: BTreeSet<String> = report
        .uploads
        .iter()
        .map(|u| id(&u.key, &u.upload_id))
        .collect();
    let gone: BTreeSet<String> = report
        .gone
        .iter()
        .map(|u| id(&u.key, &u.upload_id))
        .collect();
    let context = format!("seed {seed}: {}", report.text());
    assert!(report.failed.is_empty(), "{context}");
    assert_eq!(report.aborted, by_gc.len(), "{context}");
    assert!(
        !gone.is_empty(),
        "the aborts ran during the sweep, so some upload was listed and then gone: {context}"
    );
    assert!(
        gone.is_subset(&aborted_by_others),
        "only uploads someone else aborted are gone: {context}"
    );
    assert!(by_gc.is_disjoint(&aborted_by_others), "{context}");
    let all: BTreeSet<String> = keys.into_iter().collect();
    let swept: BTreeSet<String> = by_gc.union(&aborted_by_others).cloned().collect();
    assert_eq!(
        swept, all,
        "every upload was aborted by one or the other: {context}"
    );
    assert!(
        report
            .text()
            .contains(&format!("; {} gone meanwhile, 0 failed", gone.len())),
        "{context}"
    );
    assert!(common::upload_ids(&env).await.is_empty(), "{context}");
}
