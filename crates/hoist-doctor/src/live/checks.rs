//! Each live check: it measures or asks, and returns ok, warn or fail with evidence and fix.

use std::time::Duration;

use hoist_core::credentials::Credentials;
use hoist_core::error::{S3Error, S3ErrorCode};
use hoist_core::presign::{ListObjectsParams, Method, PresignRequest};
use hoist_core::s3::UPLOAD_REQUEST_HEADERS;
use hoist_core::time::Timestamp;
use hoist_core::ttl::{TtlPolicy, UrlKind};
use hoist_core::units::{format_bytes, format_duration};
use hoist_s3::{Answer, Bucket, Error};

use super::settings::Options;
use super::{cors, sigv2, uploads};
use crate::report::{Check, Status};

/// Measures the clock offset precisely; the bucket signs everything after it with the
/// corrected time.
pub async fn clock_offset(bucket: &Bucket, options: &Options) -> Check {
    let m = match bucket.measure_clock(true).await {
        Ok(m) => m,
        Err(e) => {
            let no_date = matches!(e, Error::Unexpected { .. });
            let check = Check::new("clock", Status::Warn, "could not measure the clock offset")
                .evidence(e.to_string());
            return if no_date {
                check.fix(
                    "Make sure the endpoint (and any proxy before it) answers with a Date header.",
                )
            } else {
                check
            };
        }
    };
    let offset = m.bounds.estimate_ms();
    let limit = i64::try_from(options.max_clock_offset.as_millis()).unwrap_or(i64::MAX);
    let direction = if offset >= 0 { "ahead of" } else { "behind" };
    let summary = format!(
        "the endpoint's clock is {} ms {direction} this host's (± {} ms)",
        offset.abs(),
        m.bounds.uncertainty_ms()
    );
    let surely_over = offset.abs() - m.bounds.uncertainty_ms() > limit;
    let status = if surely_over {
        Status::Fail
    } else if offset.abs() > limit {
        Status::Warn
    } else {
        Status::Ok
    };
    let mut check = Check::new("clock", status, summary)
        .evidence(format!(
            "offset between {} and {} ms, from {} Date headers sampled around second boundaries (shortest round trip {} ms)",
            m.bounds.low_ms, m.bounds.high_ms, m.samples, m.min_rtt_ms
        ))
        .evidence(format!("limit {} ms (--max-clock-offset)", limit))
        .evidence("hoist-server measures this offset from the store's Date header and corrects for it when signing");
    if status != Status::Ok {
        check = check.cause("clock-skew").fix(
            "Synchronise the clocks (enable NTP: `timedatectl set-ntp true`, or chrony) on this host and on the store. \
             Until then, URLs signed here by other tools are dead on arrival (Request is not yet valid) or expire early; \
             hoist-server's own URLs are corrected.",
        );
        if offset.abs() > 900_000 {
            check = check.evidence("past 15 min, header-signed requests (SDKs, the AWS CLI) are refused with RequestTimeTooSkewed");
        }
    }
    check
}

/// A SigV4-signed HeadBucket; on refusal, the same request as a GET to read the error body.
/// `creds` are the ones the bucket signs with, expiry included.
pub async fn sigv4(bucket: &Bucket, creds: &Credentials) -> (Check, Option<S3Error>) {
    let head = bucket
        .call(
            "HeadBucket",
            PresignRequest::head_bucket(bucket.name()),
            Vec::new(),
        )
        .await;
    match head {
        Ok(a) if a.ok() => (
            Check::new(
                "sigv4",
                Status::Ok,
                format!(
                    "a SigV4-signed HeadBucket on {} was accepted",
                    bucket.name()
                ),
            )
            .evidence(format!("HEAD {} answered {}", bucket.name(), a.status)),
            None,
        ),
        Ok(a) => {
            // HEAD answers carry no body; ask again with a GET to read the store's reason.
            let params = ListObjectsParams {
                max_keys: Some(1),
                ..Default::default()
            };
            let list = PresignRequest::list_objects_v2(bucket.name(), &params);
            let body = bucket.call("ListObjectsV2", list, Vec::new()).await.ok();
            let error = body
                .filter(|b| !b.ok())
                .map(|b| S3Error::from_response(b.status, &b.body));
            let mut check = Check::new(
                "sigv4",
                Status::Fail,
                format!("a SigV4-signed HeadBucket was refused with {}", a.status),
            );
            if let Some(e) = &error {
                check = check.evidence(format!(
                    "the store said {} {}: {}",
                    e.status, e.code, e.message
                ));
                let mut ctx = hoist_core::cause::RequestContext::default().method(Method::Get);
                ctx.has_session_token = creds.session_token.is_some();
                ctx.credentials_expire_at = creds.expires_at;
                let finding = crate::explain::classify::diagnose(e, &ctx);
                check.evidence.extend(finding.evidence);
                check = check.fix(finding.fix).cause(finding.cause);
            }
            (check, error)
        }
        Err(e) => (
            Check::new("sigv4", Status::Fail, "the endpoint could not be reached")
                .evidence(e.to_string())
                .fix("Check --endpoint and the network."),
            None,
        ),
    }
}

/// Whether the endpoint also takes Signature Version 2 (a note, not a failure).
pub async fn sigv2(bucket: &Bucket, creds: &Credentials) -> Check {
    const OP: &str = "ListObjects (SigV2)";
    let result = async {
        let url = bucket.bucket_url()?;
        let date = bucket.now().to_http_date();
        let resource = format!("/{}/", bucket.name());
        let auth = sigv2::authorization(
            &creds.access_key,
            &creds.secret_key,
            "GET",
            &date,
            &resource,
        );
        let headers = [
            ("date".to_owned(), date),
            ("authorization".to_owned(), auth),
        ];
        let http = bucket.http();
        http.send(OP, http.request(OP, "GET", &url, &headers)?)
            .await
    }
    .await;
    match result {
        Ok(a) if a.ok() => Check::new("sigv2", Status::Ok, "the endpoint also accepts Signature Version 2")
            .evidence(format!("a SigV2-signed GET of the bucket answered {}", a.status))
            .evidence("old SigV2 code works here but is refused by Amazon S3 (InvalidRequest: Please use AWS4-HMAC-SHA256)"),
        Ok(a) => {
            let e = S3Error::from_response(a.status, &a.body);
            Check::new("sigv2", Status::Ok, "Signature Version 2 is refused, as Amazon S3 does")
                .evidence(format!("a SigV2-signed GET of the bucket answered {} {}: {}", a.status, e.code, e.message))
        }
        Err(e) => Check::new("sigv2", Status::Ok, "could not tell whether SigV2 is accepted").evidence(e.to_string()),
    }
}

/// Static or temporary credentials, and for temporary ones their expiry at `now` (the
/// store's time) against the TTL policy.
pub fn credentials(
    creds: &Credentials,
    now: Timestamp,
    options: &Options,
    sigv4_error: Option<&S3Error>,
) -> Check {
    let key = &creds.access_key;
    if let Some(e) = sigv4_error.filter(|e| e.code == S3ErrorCode::ExpiredToken) {
        return Check::new("credentials", Status::Fail, format!("the temporary credentials {key} have expired"))
            .evidence(format!("the store answered {} {}: {}", e.status, e.code, e.message))
            .cause("credentials-expired")
            .fix("Get fresh credentials (aws sts assume-role / get-session-token, or refresh the instance profile) and restart hoist-server; it caps URL lifetimes at the credentials' expiry.");
    }
    if creds.session_token.is_none() {
        return Check::new(
            "credentials",
            Status::Ok,
            format!("static credentials ({key})"),
        )
        .evidence(format!(
            "URLs can live up to {} (SigV4's limit)",
            format_duration(options.ttl.cap)
        ));
    }
    let Some(expires_at) = creds.expires_at else {
        return Check::new("credentials", Status::Warn, format!("temporary credentials ({key}) with an unknown expiry"))
            .evidence("a session token is set, but not when it expires")
            .fix("Pass --credentials-expire-at (or set AWS_CREDENTIAL_EXPIRATION) so that URL lifetimes can be checked against it.");
    };
    let left = expires_at.seconds_since(now);
    let mut check = Check::new(
        "credentials",
        Status::Ok,
        format!(
            "temporary credentials ({key}) expire at {expires_at}, in {}",
            format_duration(Duration::from_secs(left.max(0) as u64))
        ),
    );
    if left <= 0 {
        return check.summary_status(Status::Fail, format!("the temporary credentials {key} expired at {expires_at}"))
            .cause("credentials-expired")
            .fix("Get fresh credentials and restart hoist-server; every URL they signed died with them.");
    }
    let kind = UrlKind::SinglePut {
        size: options.single_put_threshold,
    };
    match options.ttl.ttl(kind, now, Some(expires_at)) {
        Err(e) => {
            check = check
                .summary_status(
                    Status::Fail,
                    format!("the temporary credentials {key} expire too soon to sign useful URLs"),
                )
                .evidence(e.to_string());
            check = check
                .cause("credentials-expired")
                .fix("Renew the credentials with a longer duration (STS allows up to 36 h).");
        }
        Ok(capped) => {
            let wanted = options.ttl.ttl(kind, now, None).unwrap_or(capped);
            if capped < wanted {
                check = check
                    .summary_status(Status::Warn, format!("temporary credentials ({key}) expire in {}, sooner than the URLs need", format_duration(Duration::from_secs(left as u64))))
                    .evidence(format!(
                        "a single PUT of {} wants a {} URL; the credentials cap it at {}",
                        format_bytes(options.single_put_threshold),
                        format_duration(wanted),
                        format_duration(capped)
                    ))
                    .fix("Use credentials that live longer than the slowest upload, or let hoist-server refresh them; part URLs are re-signed, single PUTs are not.");
            } else {
                check = check.evidence(format!(
                    "URLs for single PUTs up to {} need {}, within their lifetime",
                    format_bytes(options.single_put_threshold),
                    format_duration(wanted)
                ));
            }
        }
    }
    check
}

/// The largest single PUT whose URL outlives its transfer at the floor bandwidth, at `now`
/// (the store's time) with `creds`.
pub fn ttl_policy(creds: &Credentials, now: Timestamp, options: &Options) -> Check {
    let policy: &TtlPolicy = &options.ttl;
    let expiry = creds.expires_at.filter(|e| *e > now);
    // The longest URL the policy would sign at all, credentials included.
    let longest = policy
        .ttl(
            UrlKind::SinglePut {
                size: u64::MAX / 16,
            },
            now,
            expiry,
        )
        .unwrap_or(Duration::ZERO);
    let bytes_per_sec = policy.floor_bandwidth_bps as f64 / 8.0;
    let largest = (longest.as_secs_f64() / policy.transfer_factor * bytes_per_sec) as u64;
    let largest = largest.min(hoist_core::plan::MAX_SINGLE_PUT);
    let floor = format!("{:.1} Mbit/s", policy.floor_bandwidth_bps as f64 / 1e6);
    let threshold = options.single_put_threshold;
    let mut check = Check::new(
        "ttl",
        Status::Ok,
        format!(
            "the TTL policy allows single PUTs up to {} at {floor}",
            format_bytes(largest)
        ),
    )
    .evidence(format!(
        "longest URL the policy signs: {} (with a {}× margin on the transfer time)",
        format_duration(longest),
        policy.transfer_factor
    ))
    .evidence(format!(
        "uploads above {} go multipart, with part URLs of {} re-signed as they are used",
        format_bytes(threshold),
        format_duration(policy.part)
    ));
    if largest < threshold {
        check = check
            .summary_status(Status::Warn, format!("a single PUT of {} cannot finish at {floor} within the longest URL ({})", format_bytes(threshold), format_duration(longest)))
            .cause("url-expired")
            .fix(format!("Lower the single-PUT threshold to {} or less, or use credentials that live longer.", format_bytes(largest)));
    }
    check
}

/// Bucket CORS when no origin was named: which origins the rules let PUT, and whether they
/// may read `ETag` (what a browser's multipart upload needs).
pub async fn cors_origins(bucket: &Bucket) -> Check {
    let config = match bucket.cors().await {
        Ok(Some(config)) => config,
        Ok(None) => {
            return Check::new(
                "cors",
                Status::Warn,
                "no CORS rules: browsers on other origins cannot upload to this bucket",
            )
            .evidence("the bucket has no CORS configuration")
            .fix("Run `hoist doctor --origin https://your.app --fix` to let a web app's origin upload.");
        }
        Err(e) => {
            return Check::new(
                "cors",
                Status::Warn,
                "the CORS configuration could not be read",
            )
            .evidence(e.to_string());
        }
    };
    let puts = |r: &&hoist_core::s3::CorsRule| {
        r.allowed_methods
            .iter()
            .any(|m| m.eq_ignore_ascii_case("PUT"))
    };
    let exposes_etag = |r: &&hoist_core::s3::CorsRule| {
        r.expose_headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case("etag"))
    };
    let mut reading: Vec<&str> = Vec::new();
    let mut blind: Vec<&str> = Vec::new();
    for rule in config.rules.iter().filter(puts) {
        let list = if exposes_etag(&rule) {
            &mut reading
        } else {
            &mut blind
        };
        list.extend(rule.allowed_origins.iter().map(String::as_str));
    }
    let mut check = match (reading.is_empty(), blind.is_empty()) {
        (true, true) => Check::new(
            "cors",
            Status::Warn,
            "no CORS rule allows PUT: browsers on other origins cannot upload",
        )
        .fix(
            "Run `hoist doctor --origin https://your.app --fix` to let a web app's origin upload.",
        ),
        (false, true) => Check::new(
            "cors",
            Status::Ok,
            format!("browsers on {} may PUT and read ETag", reading.join(", ")),
        ),
        _ => {
            let mut summary = format!(
                "browsers on {} may PUT but cannot read ETag",
                blind.join(", ")
            );
            if !reading.is_empty() {
                summary.push_str(&format!("; on {} they can", reading.join(", ")));
            }
            Check::new("cors", Status::Warn, summary)
                .cause("cors-etag-hidden")
                .fix("Run `hoist doctor --origin ORIGIN --fix` for each origin, or add ETag to the rules' ExposeHeaders.")
        }
    };
    for (i, rule) in config.rules.iter().enumerate() {
        check = check.evidence(format!("rule {}: {}", i + 1, cors::describe(rule)));
    }
    check.evidence("name an origin with --origin for a real preflight and cross-origin PUT")
}

/// Bucket CORS for `origin`: the configured rules, a real preflight for hoist.js's PUT, and a
/// real cross-origin PUT to see which headers the browser may read.
pub async fn cors(bucket: &Bucket, origin: &str) -> Check {
    let mut check = Check::new(
        "cors",
        Status::Ok,
        format!("browsers on {origin} can PUT and read ETag"),
    );
    match bucket.cors().await {
        Ok(Some(config)) => {
            for (i, rule) in config.rules.iter().enumerate() {
                check = check.evidence(format!("rule {}: {}", i + 1, cors::describe(rule)));
            }
        }
        Ok(None) => check = check.evidence("the bucket has no CORS configuration"),
        Err(e) => check = check.evidence(format!("could not read the CORS configuration: {e}")),
    }
    let probe_key = ".hoist-doctor/cors-probe";
    let put = match bucket.presign(
        &PresignRequest::new(Method::Put, bucket.name(), probe_key)
            .expires_in(Duration::from_secs(300)),
    ) {
        Ok(p) => p,
        Err(e) => {
            return check
                .summary_status(Status::Fail, "could not sign the probe PUT")
                .evidence(e.to_string());
        }
    };
    let http = bucket.http();
    let asks = [
        ("origin".to_owned(), origin.to_owned()),
        ("access-control-request-method".to_owned(), "PUT".to_owned()),
        (
            "access-control-request-headers".to_owned(),
            UPLOAD_REQUEST_HEADERS.join(","),
        ),
    ];
    let preflight = async {
        let rb = http.request("CORS preflight", "OPTIONS", &put.url, &asks)?;
        http.send("CORS preflight", rb).await
    }
    .await;
    let fix = format!(
        "Run `hoist doctor --origin {origin} --fix`, or add a CORS rule allowing origin {origin}, method PUT, header content-type, exposing ETag."
    );
    let preflight = match preflight {
        Ok(a) => a,
        Err(e) => {
            return check
                .summary_status(Status::Fail, "the preflight could not be sent")
                .evidence(e.to_string());
        }
    };
    let allow_origin = preflight
        .header("access-control-allow-origin")
        .unwrap_or("");
    let allow_methods = preflight
        .header("access-control-allow-methods")
        .unwrap_or("");
    let allow_headers = preflight
        .header("access-control-allow-headers")
        .unwrap_or("");
    check = check.evidence(format!(
        "preflight OPTIONS for PUT with content-type from {origin}: {} (Allow-Origin {:?}, Allow-Methods {:?}, Allow-Headers {:?})",
        preflight.status, allow_origin, allow_methods, allow_headers
    ));
    let origin_ok = allow_origin == "*" || allow_origin.eq_ignore_ascii_case(origin);
    let method_ok = allow_methods
        .split(',')
        .any(|m| m.trim().eq_ignore_ascii_case("PUT"));
    let headers_ok = UPLOAD_REQUEST_HEADERS.iter().all(|h| {
        allow_headers
            .split(',')
            .any(|a| a.trim() == "*" || a.trim().eq_ignore_ascii_case(h))
    });
    if !preflight.ok() || !origin_ok || !method_ok || !headers_ok {
        if let Some(code) =
            (!preflight.ok()).then(|| S3Error::from_response(preflight.status, &preflight.body))
        {
            check = check.evidence(format!("the store said {}: {}", code.code, code.message));
        }
        return check
            .summary_status(
                Status::Fail,
                format!("browsers on {origin} cannot PUT: the preflight is refused"),
            )
            .cause("cors-preflight")
            .fix(fix);
    }
    // The preflight passed; the answer to the PUT itself says which headers the page may read.
    let mut headers = put.headers.clone();
    headers.push(("origin".to_owned(), origin.to_owned()));
    headers.push((
        "content-type".to_owned(),
        "application/octet-stream".to_owned(),
    ));
    let actual = async {
        let rb = http.request("PutObject", "PUT", &put.url, &headers)?;
        http.send("PutObject", rb.body(Vec::new())).await
    }
    .await;
    let _ = delete_probe(bucket, probe_key).await;
    let actual = match actual {
        Ok(a) => a,
        Err(e) => {
            return check
                .summary_status(Status::Warn, "the cross-origin probe PUT could not be sent")
                .evidence(e.to_string());
        }
    };
    let exposed = actual.header("access-control-expose-headers").unwrap_or("");
    check = check.evidence(format!(
        "cross-origin PUT of an empty probe object (removed again): {} with ETag {:?}, Expose-Headers {:?}",
        actual.status,
        actual.header("etag").unwrap_or(""),
        exposed
    ));
    if !exposed
        .split(',')
        .any(|h| h.trim().eq_ignore_ascii_case("etag") || h.trim() == "*")
    {
        return check
            .summary_status(Status::Fail, format!("browsers on {origin} can PUT but cannot read ETag"))
            .cause("cors-etag-hidden")
            .fix(format!("{fix} Without it, multipart uploads from the browser cannot complete (hoist-server falls back to ListParts)."));
    }
    check
}

async fn delete_probe(bucket: &Bucket, key: &str) -> Result<Answer, Error> {
    let req = PresignRequest::new(Method::Delete, bucket.name(), key);
    bucket.call("DeleteObject", req, Vec::new()).await
}

/// A lifecycle rule that aborts incomplete multipart uploads of every key.
pub async fn lifecycle(bucket: &Bucket) -> Check {
    let fix = "Run `hoist doctor --fix` to add a rule aborting incomplete multipart uploads after 1 day (existing rules are kept).";
    match bucket.lifecycle().await {
        Ok(Some(config)) => match config.abort_rule() {
            Some(rule) => Check::new("lifecycle", Status::Ok, "a lifecycle rule aborts incomplete multipart uploads").evidence(format!(
                "rule {} aborts uploads {} day(s) after they start",
                rule.id.as_deref().unwrap_or("(no id)"),
                rule.abort_incomplete_multipart_upload_days.unwrap_or_default()
            )),
            None => Check::new("lifecycle", Status::Warn, "no lifecycle rule aborts incomplete multipart uploads of every key")
                .evidence(format!("{} rule(s), none enabled with AbortIncompleteMultipartUpload and no narrowing filter", config.rules.len()))
                .evidence("parts of uploads that are never completed or aborted are kept (and billed) forever")
                .fix(fix),
        },
        Ok(None) => Check::new("lifecycle", Status::Warn, "the bucket has no lifecycle configuration")
            .evidence("parts of uploads that are never completed or aborted are kept (and billed) forever")
            .fix(fix),
        Err(e) => Check::new("lifecycle", Status::Warn, "could not read the lifecycle configuration").evidence(e.to_string()),
    }
}

/// Incomplete multipart uploads older than `options.stale_after`. An upload that cannot be
/// read is named, and does not hide the others.
pub async fn stale_uploads(bucket: &Bucket, options: &Options) -> Check {
    let age = format_duration(options.stale_after);
    let sweep = match uploads::stale_uploads(bucket, options.stale_after).await {
        Ok(sweep) => sweep,
        Err(e) => {
            return Check::new(
                "stale-uploads",
                Status::Warn,
                "could not list incomplete uploads",
            )
            .evidence(e.to_string());
        }
    };
    let stale = &sweep.stale;
    let mut check = if stale.is_empty() {
        Check::new(
            "stale-uploads",
            Status::Ok,
            format!("no incomplete upload older than {age}"),
        )
    } else {
        let bytes: u64 = stale.iter().map(|u| u.bytes).sum();
        let mut check = Check::new(
            "stale-uploads",
            Status::Warn,
            format!(
                "{} incomplete upload(s) older than {age} hold {}",
                stale.len(),
                format_bytes(bytes)
            ),
        );
        for u in stale.iter().take(5) {
            check = check.evidence(format!(
                "{} (upload {}) started {}: {} part(s), {}",
                u.key,
                u.upload_id,
                u.initiated,
                u.parts,
                format_bytes(u.bytes)
            ));
        }
        if stale.len() > 5 {
            check = check.evidence(format!("and {} more", stale.len() - 5));
        }
        check.fix(format!("Run `hoist gc --older-than {}` to abort them; a lifecycle rule keeps it from recurring.", compact(options.stale_after)))
    };
    if !sweep.gone.is_empty() {
        check = check.evidence(format!(
            "{} more were completed or aborted while they were being read",
            sweep.gone.len()
        ));
    }
    if !sweep.failed.is_empty() {
        if stale.is_empty() {
            check = check.summary_status(
                Status::Warn,
                format!(
                    "could not read {} incomplete upload(s) older than {age}",
                    sweep.failed.len()
                ),
            );
        }
        for m in sweep.failed.iter().take(5) {
            check = check.evidence(format!(
                "could not read {} (upload {}): {}",
                m.key, m.upload_id, m.error
            ));
        }
        if sweep.failed.len() > 5 {
            check = check.evidence(format!(
                "and {} more could not be read",
                sweep.failed.len() - 5
            ));
        }
    }
    check
}

/// `24h`, `90s`, `7d`: the form `hoist gc --older-than` takes.
fn compact(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s % 86_400 == 0 && s > 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 && s > 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 && s > 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

impl Check {
    /// Changes the status and the summary together (a check that found something worse).
    fn summary_status(mut self, status: Status, summary: impl Into<String>) -> Self {
        self.status = status;
        self.summary = summary.into();
        self
    }
}
