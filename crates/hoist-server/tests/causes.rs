//! `GET /v1/causes` serves hoist-core's cause catalogue, and hoist.js holds none of its texts
//! and names no cause the catalogue lacks.

mod common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use hoist_core::cause::{CauseId, catalogue};
use serde_json::Value;
use tower::ServiceExt as _;

const HOIST_JS: &str = include_str!("../../../web/hoist.js");

#[tokio::test]
async fn the_catalogue_is_served_to_anyone_and_cacheable() {
    let store = start_store().await;
    let state = hoist_server::AppState::new(config(&store.handle)).unwrap();
    // No Authorization: the coordinator otherwise refuses callers without an API key.
    let req = Request::builder()
        .uri("/v1/causes")
        .header("origin", "https://app.example.com")
        .body(Body::empty())
        .unwrap();
    let resp = hoist_server::app(state).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.headers()["cache-control"], "public, max-age=3600");
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let served: Value = serde_json::from_slice(&body).unwrap();
    let served = served.as_object().unwrap();
    assert_eq!(served.len(), CauseId::ALL.len());
    for (id, entry) in catalogue() {
        let got = &served[id.as_str()];
        assert_eq!(got["title"], entry.title, "{id}");
        assert_eq!(got["explanation"], entry.explanation, "{id}");
        assert_eq!(got["fix"], entry.fix, "{id}");
        assert_eq!(got["browser"], entry.browser, "{id}");
    }
}

/// Every stretch of catalogue text longer than 30 characters: each field, cut at the
/// placeholders the uploader fills in.
fn catalogue_texts() -> Vec<(CauseId, &'static str)> {
    let mut out = Vec::new();
    for (id, e) in catalogue() {
        for text in [e.title, e.explanation, e.fix, e.browser] {
            for piece in text.split("{origin}") {
                let piece = piece.trim();
                if piece.len() > 30 {
                    out.push((id, piece));
                }
            }
        }
    }
    out
}

#[test]
fn hoist_js_holds_no_catalogue_text() {
    let texts = catalogue_texts();
    assert!(texts.len() >= 2 * CauseId::ALL.len(), "{}", texts.len());
    // hoist.js writes apostrophes escaped in its single-quoted strings.
    let js = HOIST_JS.replace("\\'", "'");
    for (id, text) in texts {
        assert!(
            !js.contains(text),
            "web/hoist.js repeats the catalogue's text for {id}: {text:?}; read it from GET /v1/causes"
        );
    }
}

/// The cause ids hoist.js names: single-quoted kebab-case words, and whatever follows `causeId: '`.
fn ids_in_hoist_js() -> BTreeSet<String> {
    let kebab = |s: &str| {
        !s.is_empty()
            && s.split('-').all(|w| {
                !w.is_empty()
                    && w.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
    };
    let mut ids = BTreeSet::new();
    let quotes: Vec<usize> = HOIST_JS.match_indices('\'').map(|(i, _)| i).collect();
    for pair in quotes.windows(2) {
        let s = &HOIST_JS[pair[0] + 1..pair[1]];
        if s.contains('-') && kebab(s) {
            ids.insert(s.to_owned());
        }
    }
    for (i, _) in HOIST_JS.match_indices("causeId: '") {
        let rest = &HOIST_JS[i + "causeId: '".len()..];
        ids.insert(rest[..rest.find('\'').unwrap()].to_owned());
    }
    ids
}

#[test]
fn every_cause_hoist_js_names_is_in_the_catalogue() {
    let ids = ids_in_hoist_js();
    for known in [
        "url-expired",
        "clock-skew",
        "cors-preflight",
        "cors-etag-hidden",
        "sigv2",
    ] {
        assert!(ids.contains(known), "the scan missed {known}: {ids:?}");
    }
    for id in &ids {
        assert!(
            id.parse::<CauseId>().is_ok(),
            "web/hoist.js names the cause {id:?}, which hoist-core's catalogue lacks"
        );
    }
}
