//! `hoist doctor` against the embedded store: a correct bucket, a broken one before and after
//! `--fix`, clock offsets, temporary credentials; and `hoist gc`.

mod common;

use std::time::Duration;

use common::{ORIGIN, put_abort_rule, rule, start};
use hoist_doctor::live::{self, Options};
use hoist_doctor::report::{Check, Report, Status};

fn check<'a>(report: &'a Report, id: &str) -> &'a Check {
    report
        .checks
        .iter()
        .find(|c| c.check == id)
        .unwrap_or_else(|| panic!("no {id} check in\n{}", report.text()))
}

fn options() -> Options {
    Options {
        origin: Some(ORIGIN.to_owned()),
        ..Options::default()
    }
}

const DAY: Duration = Duration::from_secs(86_400);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_offset_is_measured_to_ten_milliseconds() {
    let env = start(None).await;
    let client = env.client();
    for offset_secs in [0i64, 7, -3] {
        env.set_clock_offset(offset_secs);
        let m = client.measure_clock(true).await.unwrap();
        let error = (m.bounds.estimate_ms() - offset_secs * 1000).abs();
        assert!(
            error <= 10,
            "offset {offset_secs} s measured as {:?} ({} samples)",
            m.bounds,
            m.samples
        );
        assert!(m.bounds.uncertainty_ms() <= 10, "{m:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_bucket_passes_every_check() {
    let env = start(None).await;
    env.put_cors(vec![rule(ORIGIN, &["ETag"])]).await;
    put_abort_rule(&env, 1).await;
    let report = live::run(env.target(), &options()).await.unwrap();
    let ids: Vec<&str> = report.checks.iter().map(|c| c.check).collect();
    assert_eq!(
        ids,
        [
            "clock",
            "sigv4",
            "sigv2",
            "credentials",
            "ttl",
            "cors",
            "lifecycle",
            "stale-uploads"
        ]
    );
    assert_eq!(report.worst(), Status::Ok, "{}", report.text());
    assert!(
        check(&report, "sigv2").summary.contains("refused"),
        "{}",
        report.text()
    );
    assert!(report.changes.is_empty());
    // The probe object the CORS check wrote is gone again.
    let listed = env
        .client()
        .head_object(".hoist-doctor/cors-probe")
        .await
        .unwrap();
    assert_eq!(listed, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_bucket_fails_and_fix_repairs_what_it_can() {
    let env = start(None).await;
    let other = rule("https://other.example.com", &[]);
    env.put_cors(vec![other.clone()]).await;
    // The store's clock fault cannot back-date an upload (the signature check uses real time),
    // so "stale" is shortened to one second and the upload made older than that for real.
    common::incomplete_upload(&env, "orphan.bin", 3000).await;
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let quick = || Options {
        stale_after: Duration::from_secs(1),
        ..options()
    };

    let before = live::run(env.target(), &quick()).await.unwrap();
    assert_eq!(before.worst(), Status::Fail, "{}", before.text());
    let cors = check(&before, "cors");
    assert_eq!(
        (cors.status, cors.cause.as_deref()),
        (Status::Fail, Some("cors-preflight")),
        "{}",
        before.text()
    );
    assert_eq!(check(&before, "lifecycle").status, Status::Warn);
    let stale = check(&before, "stale-uploads");
    assert_eq!(stale.status, Status::Warn);
    assert!(
        stale
            .summary
            .starts_with("1 incomplete upload(s) older than 1 s hold 2.9 KiB"),
        "{}",
        stale.summary
    );
    assert!(
        stale.evidence[0].starts_with("orphan.bin (upload "),
        "{:?}",
        stale.evidence
    );
    assert!(
        stale
            .fix
            .as_deref()
            .unwrap()
            .contains("hoist gc --older-than 1s")
    );

    let fixed = live::run(
        env.target(),
        &Options {
            fix: true,
            ..quick()
        },
    )
    .await
    .unwrap();
    assert_eq!(check(&fixed, "cors").status, Status::Ok, "{}", fixed.text());
    assert_eq!(
        check(&fixed, "lifecycle").status,
        Status::Ok,
        "{}",
        fixed.text()
    );
    assert_eq!(fixed.changes.len(), 2, "{:?}", fixed.changes);
    assert!(
        fixed.changes[0].starts_with("CORS: added rule hoist-uploads"),
        "{:?}",
        fixed.changes
    );
    assert!(fixed.changes[0].contains("keeping the 1 existing rule(s)"));
    assert!(
        fixed.changes[1]
            .starts_with("lifecycle: added rule hoist-abort-incomplete-multipart-uploads")
    );
    // The stale upload is gc's job, not --fix's.
    assert_eq!(fixed.worst(), Status::Warn, "{}", fixed.text());
    let rules = env.client().cors().await.unwrap().unwrap().rules;
    assert_eq!(rules[0], other, "the existing rule is kept as it was");

    let again = live::run(
        env.target(),
        &Options {
            fix: true,
            ..quick()
        },
    )
    .await
    .unwrap();
    assert_eq!(again.changes, ["nothing needed changing"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_that_hides_etag_is_named_and_amended_in_place() {
    let env = start(None).await;
    env.put_cors(vec![rule(ORIGIN, &["x-amz-request-id"])])
        .await;
    put_abort_rule(&env, 2).await;
    let report = live::run(env.target(), &options()).await.unwrap();
    let cors = check(&report, "cors");
    assert_eq!(
        (cors.status, cors.cause.as_deref()),
        (Status::Fail, Some("cors-etag-hidden")),
        "{}",
        report.text()
    );

    let fixed = live::run(
        env.target(),
        &Options {
            fix: true,
            ..options()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        fixed.changes,
        ["CORS rule 1 (web): added ExposeHeader ETag"]
    );
    assert_eq!(fixed.worst(), Status::Ok, "{}", fixed.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_clock_five_seconds_off_fails_the_clock_check_only() {
    let env = start(None).await;
    env.put_cors(vec![rule(ORIGIN, &["ETag"])]).await;
    put_abort_rule(&env, 1).await;
    env.set_clock_offset(5);
    let report = live::run(env.target(), &options()).await.unwrap();
    let clock = check(&report, "clock");
    assert_eq!(
        (clock.status, clock.cause.as_deref()),
        (Status::Fail, Some("clock-skew")),
        "{}",
        report.text()
    );
    assert!(
        clock.summary.contains("ahead of this host's"),
        "{}",
        clock.summary
    );
    assert!(
        clock
            .evidence
            .iter()
            .any(|e| e.contains("corrects for it when signing"))
    );
    // Everything else is signed with the corrected time, so it still works.
    assert_eq!(
        check(&report, "sigv4").status,
        Status::Ok,
        "{}",
        report.text()
    );
    assert_eq!(
        check(&report, "cors").status,
        Status::Ok,
        "{}",
        report.text()
    );
    let lenient = live::run(
        env.target(),
        &Options {
            max_clock_offset: Duration::from_secs(10),
            ..options()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        check(&lenient, "clock").status,
        Status::Ok,
        "{}",
        lenient.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_credentials_are_checked_against_the_ttl_policy() {
    let env = start(None).await;
    let temp = env
        .store
        .issue_temporary_credentials(Duration::from_secs(600));
    let expires = hoist_core::time::Timestamp::from(temp.expires_at);
    let creds = hoist_core::presign::Credentials::new(&temp.access_key_id, &temp.secret_access_key)
        .with_session_token(&temp.session_token);
    let report = live::run(
        env.target_with(creds.clone().with_expiry(expires)),
        &options(),
    )
    .await
    .unwrap();
    let c = check(&report, "credentials");
    assert_eq!(c.status, Status::Warn, "{}", report.text());
    assert!(
        c.summary.contains("sooner than the URLs need"),
        "{}",
        report.text()
    );
    assert_eq!(
        check(&report, "ttl").status,
        Status::Warn,
        "{}",
        report.text()
    );
    assert_eq!(
        check(&report, "sigv4").status,
        Status::Ok,
        "{}",
        report.text()
    );

    let unknown = live::run(env.target_with(creds), &options()).await.unwrap();
    assert!(
        check(&unknown, "credentials")
            .summary
            .contains("unknown expiry"),
        "{}",
        unknown.text()
    );

    let short = env
        .store
        .issue_temporary_credentials(Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let expired =
        hoist_core::presign::Credentials::new(&short.access_key_id, &short.secret_access_key)
            .with_session_token(&short.session_token);
    let report = live::run(env.target_with(expired), &options())
        .await
        .unwrap();
    let sigv4 = check(&report, "sigv4");
    assert_eq!(
        (sigv4.status, sigv4.cause.as_deref()),
        (Status::Fail, Some("credentials-expired")),
        "{}",
        report.text()
    );
    assert_eq!(check(&report, "credentials").status, Status::Fail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_aborts_stale_uploads_and_leaves_nothing_behind() {
    let env = start(None).await;
    common::incomplete_upload(&env, "a.bin", 1000).await;
    common::incomplete_upload(&env, "b.bin", 2000).await;
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let fresh = common::incomplete_upload(&env, "c.bin", 500).await;
    assert_eq!(common::upload_ids(&env).await.len(), 3);
    let age = Duration::from_secs(1);

    let nothing = hoist_doctor::gc::gc(env.target(), DAY, false)
        .await
        .unwrap();
    assert_eq!(
        (nothing.uploads.len(), nothing.aborted),
        (0, 0),
        "nothing is a day old"
    );

    let dry = hoist_doctor::gc::gc(env.target(), age, true).await.unwrap();
    assert_eq!((dry.uploads.len(), dry.aborted, dry.bytes), (2, 0, 3000));
    assert!(dry.text().contains("would abort a.bin"), "{}", dry.text());
    assert_eq!(
        common::upload_ids(&env).await.len(),
        3,
        "a dry run aborts nothing"
    );

    let done = hoist_doctor::gc::gc(env.target(), age, false)
        .await
        .unwrap();
    assert_eq!((done.aborted, done.bytes), (2, 3000));
    assert!(
        done.text()
            .contains("aborted 2 incomplete upload(s) older than 1 s in uploads, freed 2.9 KiB"),
        "{}",
        done.text()
    );
    assert_eq!(common::upload_ids(&env).await, [fresh]);

    let all = hoist_doctor::gc::gc(env.target(), Duration::ZERO, false)
        .await
        .unwrap();
    assert_eq!((all.aborted, all.bytes), (1, 500));
    assert!(
        common::upload_ids(&env).await.is_empty(),
        "ListMultipartUploads is empty"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_counts_failed_and_vanished_uploads_and_sweeps_the_rest() {
    let env = start(None).await;
    common::incomplete_upload(&env, "a.bin", 1000).await;
    let b = common::incomplete_upload(&env, "b.bin", 2000).await;
    common::incomplete_upload(&env, "c.bin", 500).await;
    let bucket = env.target().bucket().unwrap();
    let listed = live::uploads::list_stale(&bucket, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(listed.len(), 3);

    // Every call after the listing fails: each upload is tried, counted, and reported.
    env.store
        .faults()
        .update(|f| f.error_500_fraction = 1.0)
        .unwrap();
    let failed = hoist_doctor::gc::sweep(&bucket, listed.clone(), Duration::ZERO, false).await;
    env.store
        .faults()
        .update(|f| f.error_500_fraction = 0.0)
        .unwrap();
    assert_eq!((failed.aborted, failed.failed.len()), (0, 3), "{failed:?}");
    assert!(
        failed.failed[0].error.contains("InternalError"),
        "{failed:?}"
    );
    let text = failed.text();
    assert!(text.contains("failed: a.bin (upload "), "{text}");
    assert!(
        text.ends_with("freed 0 B; 0 gone meanwhile, 3 failed\n"),
        "{text}"
    );
    assert_eq!(common::upload_ids(&env).await.len(), 3);

    // Someone else aborts b.bin between the listing and its turn.
    env.client().abort("b.bin", &b).await.unwrap();
    let done = hoist_doctor::gc::sweep(&bucket, listed, Duration::ZERO, false).await;
    assert_eq!((done.aborted, done.bytes), (2, 1500), "{done:?}");
    assert!(done.failed.is_empty(), "{done:?}");
    assert_eq!(done.gone.len(), 1);
    assert_eq!(
        (done.gone[0].key.as_str(), &done.gone[0].upload_id),
        ("b.bin", &b)
    );
    let text = done.text();
    assert!(
        text.contains("aborted a.bin") && text.contains("aborted c.bin"),
        "{text}"
    );
    assert!(text.contains("gone meanwhile: b.bin (upload "), "{text}");
    assert!(
        text.ends_with("freed 1.5 KiB; 1 gone meanwhile, 0 failed\n"),
        "{text}"
    );
    let json = serde_json::to_value(&done).unwrap();
    assert_eq!(json["gone"][0]["key"], "b.bin");
    assert!(
        json["gone"][0]["error"]
            .as_str()
            .unwrap()
            .contains("NoSuchUpload")
    );
    assert_eq!(json["failed"], serde_json::json!([]));
    assert!(common::upload_ids(&env).await.is_empty());
}
