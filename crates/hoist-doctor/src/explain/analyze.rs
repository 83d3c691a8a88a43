//! From exchanges to named causes.
//!
//! S3 error bodies go to hoist-core's classifier, with the request's context (when the URL
//! was signed, for how long, when it was used, how long its upload had run). What only a
//! browser shows is read here: preflights that failed, requests that never got an answer,
//! and part answers whose ETag the browser could not read.

use std::collections::{BTreeMap, HashMap};

use hoist_core::time::Timestamp;

use super::classify::{self, Context};
use super::exchange::Exchange;
use crate::report::{Finding, UNKNOWN};
use hoist_core::units::format_duration;

/// Names the causes behind the failures among `exchanges`, one finding per cause, in the
/// order each cause first appeared. When nothing failed, or no failure can be placed, the
/// answer is a single `unknown` finding that says so.
pub fn analyze(exchanges: &[Exchange]) -> Vec<Finding> {
    let mut found = Found::default();
    let failed_preflights: Vec<&Exchange> = exchanges
        .iter()
        .filter(|e| is_preflight(e) && e.failed())
        .collect();
    let starts = UploadStarts::index(exchanges);

    for ex in exchanges {
        if is_preflight(ex) {
            if ex.failed() {
                found.add(classify::cors_preflight(ex), ex);
            }
            continue;
        }
        if ex.status.is_none() {
            found.add(no_answer(ex, &failed_preflights), ex);
            continue;
        }
        if ex.failed() {
            found.add(failed_with_answer(ex, &starts), ex);
            continue;
        }
        if let Some(f) = etag_hidden(ex) {
            found.add(f, ex);
        }
    }

    if found.order.is_empty() {
        let evidence = if exchanges.is_empty() {
            vec!["the input holds no HTTP exchange".to_owned()]
        } else {
            vec![format!(
                "{} exchange(s) read, none of them failed",
                exchanges.len()
            )]
        };
        return vec![Finding::unknown(evidence)];
    }
    found.finish()
}

/// An exchange that got an error status: S3 error body or not.
fn failed_with_answer(ex: &Exchange, starts: &UploadStarts) -> Finding {
    let context = context_of(ex, starts);
    if let Some(finding) = ex
        .body
        .as_deref()
        .and_then(|b| classify::s3_error(b, ex.status, &context))
    {
        return finding;
    }
    // No body to read (HEAD answers have none): hoist-core can still tell from the URL
    // whether it was dead when sent.
    let err = hoist_core::error::S3Error::from_response(
        ex.status.unwrap_or_default(),
        ex.body.as_deref().unwrap_or("").as_bytes(),
    );
    let mut finding = classify::diagnose(&err, &context.request_context());
    finding.evidence.insert(
        0,
        format!(
            "{} {} answered {} without an S3 error body{}",
            ex.method,
            ex.short_url(),
            ex.status.unwrap_or_default(),
            if ex.method == "HEAD" {
                " (HEAD answers carry no body)"
            } else {
                ""
            }
        ),
    );
    finding.evidence.extend(classify::upload_facts(&context));
    finding
}

/// What hoist-core's classifier needs beyond the error body, read from the URL, the headers
/// and the other exchanges of the same upload.
fn context_of(ex: &Exchange, starts: &UploadStarts) -> Context {
    Context {
        method: ex.method.clone(),
        url: ex.url.clone(),
        authorization: ex.request_header("authorization").map(str::to_owned),
        x_amz_date_header: ex.request_header("x-amz-date").map(str::to_owned),
        origin: ex.request_header("origin").map(str::to_owned),
        sent_at: checked_at(ex),
        upload_started: starts.of(ex),
        part_number: ex.query_param("partNumber"),
    }
}

/// When the store most likely checked the request, by the sender's clock.
///
/// Usually when it was sent. But a request that waited in flight (a queue, a proxy, a slow
/// store) is checked on arrival: when the store's `ServerTime` falls within the exchange's
/// own duration, the clocks agree and the request simply arrived late, so its answer time
/// is used. Only a `ServerTime` beyond the whole exchange is evidence of clock skew.
fn checked_at(ex: &Exchange) -> Option<Timestamp> {
    let started = ex.started?;
    let Some(answered) = ex.elapsed.map(|d| started + d) else {
        return Some(started);
    };
    let server_time = ex
        .body
        .as_deref()
        .and_then(|b| {
            hoist_core::error::S3Error::parse(ex.status.unwrap_or_default(), b.as_bytes()).ok()
        })
        .and_then(|e| {
            e.extra("ServerTime")
                .and_then(|t| Timestamp::parse_rfc3339(t.trim()).ok())
        });
    // `ServerTime` has whole seconds: allow one.
    match server_time {
        Some(server)
            if server > started && server <= answered + std::time::Duration::from_secs(1) =>
        {
            Some(answered)
        }
        _ => Some(started),
    }
}

/// When each multipart upload began, indexed once so that a HAR of thousands of parts is read
/// in linear time.
#[derive(Default)]
pub(crate) struct UploadStarts {
    /// The earliest request naming each upload id.
    first_seen: HashMap<String, Timestamp>,
    /// The times of CreateMultipartUpload (`POST ?uploads`) per object path.
    creates: HashMap<String, Vec<Timestamp>>,
}

impl UploadStarts {
    pub(crate) fn index(all: &[Exchange]) -> Self {
        let mut idx = UploadStarts::default();
        for o in all {
            let Some(t) = o.started else { continue };
            if let Some(id) = o.query_param("uploadId") {
                let first = idx.first_seen.entry(id).or_insert(t);
                *first = (*first).min(t);
            } else if o.method == "POST" && o.query_param("uploads").is_some() {
                idx.creates
                    .entry(path_of(&o.url).to_owned())
                    .or_default()
                    .push(t);
            }
        }
        idx
    }

    /// When the upload `ex` belongs to began: the last CreateMultipartUpload on its key before
    /// the upload's first request, else that first request.
    fn of(&self, ex: &Exchange) -> Option<Timestamp> {
        let first = self.first_seen.get(&ex.query_param("uploadId")?).copied();
        let create = first.and_then(|f| {
            self.creates
                .get(path_of(&ex.url))?
                .iter()
                .filter(|t| **t <= f)
                .max()
                .copied()
        });
        create.or(first)
    }
}

fn path_of(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

fn is_preflight(ex: &Exchange) -> bool {
    ex.method == "OPTIONS" || ex.resource_type.as_deref() == Some("preflight")
}

/// A request that never got an answer. A browser that blocks a request for CORS reports it
/// this way too, so the preflights and the failure text decide; anything else is not guessed.
fn no_answer(ex: &Exchange, failed_preflights: &[&Exchange]) -> Finding {
    let failure = ex.failure.as_deref().unwrap_or("no failure text recorded");
    // A request refused at once has no meaningful duration; one cut after minutes has.
    let after = ex
        .elapsed
        .filter(|d| d.as_secs() >= 1)
        .map(|d| format!(" after {}", format_duration(d)))
        .unwrap_or_default();
    let line = format!(
        "{} {} never got an answer ({failure}){after}",
        ex.method,
        ex.short_url()
    );
    let preflight = failed_preflights
        .iter()
        .find(|p| path_of(&p.url) == path_of(&ex.url));
    if let Some(p) = preflight {
        let mut f = classify::cors_preflight(p);
        f.evidence.push(line);
        return f;
    }
    let says_cors = failure.to_ascii_lowercase().contains("cors");
    // Chrome reports a request blocked by CORS as `net::ERR_FAILED`; network faults have
    // their own codes (ERR_CONNECTION_RESET, ERR_TIMED_OUT …).
    let chrome_cors = failure == "net::ERR_FAILED" && ex.is_cross_origin();
    if says_cors || chrome_cors {
        let mut f = classify::cors_preflight(ex);
        f.evidence.push(line);
        if chrome_cors && !says_cors {
            f.evidence.push(format!(
                "the request came from a page on {} and failed with net::ERR_FAILED, which is how Chrome reports a request blocked by CORS",
                ex.page_origin().unwrap_or_default()
            ));
        }
        return f;
    }
    let mut f = Finding::unknown(vec![line]);
    f.fix = "The connection was cut before any answer (network, proxy or timeout). hoist's uploaders retry such parts; check the network path, and run `hoist doctor` against the bucket.".to_owned();
    f
}

/// A successful cross-origin PUT whose answer carried an ETag the page could not read.
fn etag_hidden(ex: &Exchange) -> Option<Finding> {
    if ex.method != "PUT"
        || !ex.is_cross_origin()
        || !ex.status.is_some_and(|s| (200..300).contains(&s))
    {
        return None;
    }
    // Without the ETag header the answer was not recorded fully; say nothing.
    ex.response_header("etag")?;
    ex.response_header("access-control-allow-origin")?;
    let exposed = ex
        .response_header("access-control-expose-headers")
        .unwrap_or("");
    let visible = exposed
        .split(',')
        .map(str::trim)
        .any(|h| h.eq_ignore_ascii_case("etag") || h == "*");
    (!visible).then(|| classify::etag_hidden(ex, exposed))
}

/// `PUT /b/k (part 2) → 403`, for the list of requests that share a cause.
fn describe(ex: &Exchange) -> String {
    let outcome = match (ex.status, ex.failure.as_deref()) {
        (Some(s), _) => s.to_string(),
        (None, Some(f)) => f.to_owned(),
        (None, None) => "no answer".to_owned(),
    };
    format!("{} {} → {outcome}", ex.method, ex.short_url())
}

/// Findings grouped by cause: the first occurrence keeps its full evidence, later ones are
/// counted and listed briefly.
#[derive(Default)]
struct Found {
    order: Vec<String>,
    by_cause: BTreeMap<String, (Finding, Vec<String>)>,
}

impl Found {
    fn add(&mut self, finding: Finding, ex: &Exchange) {
        let key = if finding.cause == UNKNOWN {
            format!("{UNKNOWN}/{}", finding.fix)
        } else {
            finding.cause.clone()
        };
        match self.by_cause.get_mut(&key) {
            Some((_, also)) => also.push(describe(ex)),
            None => {
                self.order.push(key.clone());
                self.by_cause.insert(key, (finding, Vec::new()));
            }
        }
    }

    fn finish(mut self) -> Vec<Finding> {
        self.order
            .iter()
            .filter_map(|key| self.by_cause.remove(key))
            .map(|(mut finding, also)| {
                if !also.is_empty() {
                    let mut listed: Vec<String> = also.iter().take(5).cloned().collect();
                    if also.len() > 5 {
                        listed.push(format!("and {} more", also.len() - 5));
                    }
                    finding.evidence.push(format!(
                        "{} more request(s) show the same cause: {}",
                        also.len(),
                        listed.join(", ")
                    ));
                }
                finding
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::{InputKind, explain};

    fn causes(findings: &[Finding]) -> Vec<&str> {
        findings.iter().map(|f| f.cause.as_str()).collect()
    }

    #[test]
    fn a_refused_preflight_and_the_blocked_put_are_one_cause() {
        let e = explain(include_bytes!(
            "../../tests/fixtures/chrome-cors-preflight.har"
        ));
        assert_eq!(e.kind, InputKind::Har);
        assert_eq!(causes(&e.findings), ["cors-preflight"]);
        let evidence = e.findings[0].evidence.join("\n");
        assert!(evidence.contains("from origin https://app.example.com asking for PUT with headers content-type answered 403"), "{evidence}");
        assert!(evidence.contains("AccessForbidden"), "{evidence}");
        assert!(
            evidence.contains(
                "1 more request(s) show the same cause: PUT /uploads/photo.jpg → net::ERR_FAILED"
            ),
            "{evidence}"
        );
        assert!(
            e.findings[0]
                .fix
                .contains("--origin https://app.example.com --fix")
        );
    }

    #[test]
    fn parts_whose_etag_is_not_exposed() {
        let e = explain(include_bytes!(
            "../../tests/fixtures/chrome-etag-hidden.har"
        ));
        assert_eq!(causes(&e.findings), ["cors-etag-hidden"]);
        let evidence = e.findings[0].evidence.join("\n");
        assert!(
            evidence.contains("(part 1) answered 200 with ETag"),
            "{evidence}"
        );
        assert!(
            evidence.contains("Access-Control-Expose-Headers is missing"),
            "{evidence}"
        );
        assert!(evidence.contains("2 more request(s) show the same cause: PUT /uploads/movie.mp4 (part 2) → 200, PUT /uploads/movie.mp4 (part 3) → 200"), "{evidence}");
    }

    #[test]
    fn a_cut_connection_is_not_guessed() {
        let e = explain(include_bytes!(
            "../../tests/fixtures/chrome-connection-reset.har"
        ));
        assert_eq!(causes(&e.findings), ["unknown"]);
        assert!(
            e.findings[0].evidence[0]
                .contains("never got an answer (net::ERR_CONNECTION_RESET) after 5 min 12 s"),
            "{:?}",
            e.findings
        );
    }

    #[test]
    fn exposed_etags_and_same_origin_puts_are_fine() {
        let put = |origin: Option<&str>, expose: Option<&str>| Exchange {
            method: "PUT".into(),
            url: "https://s3.example.com/b/k?partNumber=1&uploadId=u".into(),
            request_headers: origin
                .map(|o| vec![("Origin".to_owned(), o.to_owned())])
                .unwrap_or_default(),
            status: Some(200),
            response_headers: [
                ("ETag", "\"abc\""),
                ("Access-Control-Allow-Origin", "https://a.example"),
            ]
            .into_iter()
            .chain(expose.map(|e| ("Access-Control-Expose-Headers", e)))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            ..Default::default()
        };
        for ex in [
            put(Some("https://a.example"), Some("etag, x-amz-version-id")),
            put(Some("https://a.example"), Some("*")),
            put(None, None),
        ] {
            assert_eq!(
                causes(&analyze(std::slice::from_ref(&ex))),
                ["unknown"],
                "{ex:?}"
            );
        }
        assert_eq!(
            causes(&analyze(&[put(
                Some("https://a.example"),
                Some("x-amz-request-id")
            )])),
            ["cors-etag-hidden"]
        );
        // Chrome's code for a CORS block, on a cross-origin request with no preflight recorded.
        let blocked = Exchange {
            failure: Some("net::ERR_FAILED".into()),
            status: None,
            ..put(Some("https://a.example"), None)
        };
        let f = analyze(&[blocked]);
        assert_eq!(causes(&f), ["cors-preflight"]);
        assert!(
            f[0].evidence
                .iter()
                .any(|l| l.contains("how Chrome reports a request blocked by CORS"))
        );
    }

    #[test]
    fn says_plainly_when_nothing_failed_or_nothing_is_readable() {
        let f = analyze(&[]);
        assert_eq!(f[0].evidence, ["the input holds no HTTP exchange"]);
        let e = explain(b"hello, this is not an error");
        assert_eq!(
            (e.kind, causes(&e.findings)),
            (InputKind::Unknown, vec!["unknown"])
        );
        assert!(
            e.findings[0].evidence[0]
                .contains("is not an S3 XML error body, a `curl -v` transcript or a HAR file")
        );
        assert_eq!(
            explain(&[0xff, 0xfe, 0x00]).findings[0].evidence[0],
            "the input (3 bytes) is not UTF-8 text"
        );
        let e = explain(br#"{"log": {"entries": 5}}"#);
        assert_eq!(e.kind, InputKind::Har);
        assert!(e.findings[0].evidence[0].contains("could not be read"));
        let head = Exchange {
            method: "HEAD".into(),
            url: "http://h/b".into(),
            status: Some(403),
            ..Default::default()
        };
        let f = analyze(&[head]);
        assert_eq!(causes(&f), ["unknown"]);
        assert!(f[0].evidence[0].contains("HEAD answers carry no body"));
    }
}

#[cfg(test)]
mod timing_tests {
    use super::*;

    fn late_part(elapsed_ms: u64, server_time: &str) -> Exchange {
        Exchange {
            method: "PUT".into(),
            url: "http://s/b/k?partNumber=2&uploadId=u&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261129T010000Z&X-Amz-Expires=2&X-Amz-Signature=00".into(),
            status: Some(403),
            body: Some(format!(
                "<Error><Code>AccessDenied</Code><Message>Request has expired</Message><X-Amz-Expires>2</X-Amz-Expires><Expires>2026-11-29T01:00:02Z</Expires><ServerTime>{server_time}</ServerTime></Error>"
            )),
            started: Some(Timestamp::parse_rfc3339("2026-11-29T01:00:00.500Z").unwrap()),
            elapsed: Some(std::time::Duration::from_millis(elapsed_ms)),
            ..Default::default()
        }
    }

    #[test]
    fn a_request_that_arrived_late_is_an_expired_url_not_skew() {
        // Sent with 1.5 s left, answered 3 s later, at the store's 01:00:03: it arrived late.
        let f = analyze(&[late_part(3_000, "2026-11-29T01:00:03Z")]);
        assert_eq!(f[0].cause, "url-expired", "{f:?}");
        // Answered within 50 ms, yet the store's clock said 01:10:00: that is skew.
        let f = analyze(&[late_part(50, "2026-11-29T01:10:00Z")]);
        assert_eq!(f[0].cause, "clock-skew", "{f:?}");
    }
}

#[cfg(test)]
mod upload_start_tests {
    use super::*;

    fn at(t: &str) -> Option<Timestamp> {
        Some(Timestamp::parse_rfc3339(t).unwrap())
    }

    fn ex(method: &str, query: &str, started: &str) -> Exchange {
        Exchange {
            method: method.into(),
            url: format!("http://s/b/k?{query}"),
            started: at(started),
            ..Default::default()
        }
    }

    #[test]
    fn each_upload_starts_at_its_own_create() {
        let all = [
            ex("POST", "uploads", "2026-11-29T01:00:00Z"),
            ex("PUT", "partNumber=1&uploadId=A", "2026-11-29T01:00:01Z"),
            ex("POST", "uploads", "2026-11-29T02:00:00Z"),
            ex("PUT", "partNumber=1&uploadId=B", "2026-11-29T02:00:02Z"),
            ex("PUT", "partNumber=2&uploadId=B", "2026-11-29T02:30:00Z"),
            ex("PUT", "partNumber=1&uploadId=C", "2026-11-29T00:30:00Z"),
        ];
        let starts = UploadStarts::index(&all);
        assert_eq!(starts.of(&all[1]), at("2026-11-29T01:00:00Z"));
        assert_eq!(
            starts.of(&all[4]),
            at("2026-11-29T02:00:00Z"),
            "the later create, not the first one on the key"
        );
        assert_eq!(
            starts.of(&all[5]),
            at("2026-11-29T00:30:00Z"),
            "no create before it: its first part"
        );
        assert_eq!(starts.of(&all[0]), None);
    }
}
