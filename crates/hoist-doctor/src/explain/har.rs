//! Reads a HAR 1.2 file (Chrome's or Firefox's "Save all as HAR", Playwright's `recordHar`).
//!
//! Browsers record failures differently: Chrome writes status 0 and `_error`
//! (`net::ERR_FAILED`) in the response, Playwright writes status -1 and `_failureText`. All of
//! them end up as an [`Exchange`] with `status: None` and `failure` set.

use std::time::Duration;

use hoist_core::encoding::base64_decode;
use hoist_core::time::Timestamp;
use serde::Deserialize;

use super::exchange::Exchange;

/// A HAR file that could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HarError {
    /// Not JSON, or JSON without `log.entries`.
    #[error("not a HAR file: {0}")]
    Json(#[from] serde_json::Error),
}

/// True when `text` looks like a HAR file (JSON with a `"log"` object holding `"entries"`).
pub fn looks_like_har(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with('{') && t.contains("\"log\"") && t.contains("\"entries\"")
}

/// Every entry of the HAR file, in the order the browser started them.
pub fn read_har(text: &str) -> Result<Vec<Exchange>, HarError> {
    let har: Har = serde_json::from_str(text)?;
    let mut exchanges: Vec<Exchange> = har
        .log
        .entries
        .into_iter()
        .map(Entry::into_exchange)
        .collect();
    exchanges.sort_by_key(|e| e.started);
    Ok(exchanges)
}

#[derive(Deserialize)]
struct Har {
    log: Log,
}

#[derive(Deserialize)]
struct Log {
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    started_date_time: Option<String>,
    time: Option<f64>,
    request: Request,
    response: Option<Response>,
    #[serde(rename = "_error")]
    error: Option<String>,
    #[serde(rename = "_resourceType")]
    resource_type: Option<String>,
}

#[derive(Deserialize)]
struct Request {
    method: String,
    url: String,
    #[serde(default)]
    headers: Vec<Header>,
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    status: i64,
    #[serde(default)]
    headers: Vec<Header>,
    content: Option<Content>,
    #[serde(rename = "_error")]
    error: Option<String>,
    #[serde(rename = "_failureText")]
    failure_text: Option<String>,
}

#[derive(Deserialize)]
struct Content {
    text: Option<String>,
    encoding: Option<String>,
}

#[derive(Deserialize)]
struct Header {
    name: String,
    value: String,
}

impl Entry {
    fn into_exchange(self) -> Exchange {
        let response = self.response;
        let status = response.as_ref().map_or(0, |r| r.status);
        let failure = self
            .error
            .or_else(|| response.as_ref().and_then(|r| r.error.clone()))
            .or_else(|| response.as_ref().and_then(|r| r.failure_text.clone()))
            .filter(|f| !f.is_empty());
        let body = response
            .as_ref()
            .and_then(|r| r.content.as_ref())
            .and_then(Content::decoded);
        Exchange {
            method: self.request.method.to_ascii_uppercase(),
            url: self.request.url,
            request_headers: pairs(self.request.headers),
            status: u16::try_from(status).ok().filter(|s| *s != 0),
            response_headers: response.map(|r| pairs(r.headers)).unwrap_or_default(),
            body,
            started: self
                .started_date_time
                .as_deref()
                .and_then(|t| Timestamp::parse_rfc3339(t).ok()),
            elapsed: self
                .time
                .filter(|t| t.is_finite() && *t >= 0.0)
                .map(|ms| Duration::from_secs_f64(ms / 1000.0)),
            failure,
            resource_type: self.resource_type,
        }
    }
}

impl Content {
    fn decoded(&self) -> Option<String> {
        let text = self.text.as_deref().filter(|t| !t.is_empty())?;
        if self.encoding.as_deref() == Some("base64") {
            let bytes = base64_decode(text)?;
            return Some(String::from_utf8_lossy(&bytes).into_owned());
        }
        Some(text.to_owned())
    }
}

fn pairs(headers: Vec<Header>) -> Vec<(String, String)> {
    headers.into_iter().map(|h| (h.name, h.value)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &str = r#"{"log":{"version":"1.2","creator":{"name":"WebInspector","version":"537.36"},"pages":[],
      "entries":[
        {"_resourceType":"fetch","startedDateTime":"2026-11-29T01:10:00.500Z","time":1200.5,
         "request":{"method":"PUT","url":"https://s3.example.com/b/k?partNumber=2&uploadId=u1&X-Amz-Date=20261129T010000Z&X-Amz-Expires=300",
                    "httpVersion":"HTTP/1.1","headers":[{"name":"Origin","value":"https://app.example.com"}],"queryString":[],"cookies":[],"headersSize":-1,"bodySize":5242880},
         "response":{"status":403,"statusText":"Forbidden","httpVersion":"HTTP/1.1","headers":[{"name":"Content-Type","value":"application/xml"}],
                     "cookies":[],"content":{"size":60,"mimeType":"application/xml","text":"PEVycm9yPjxDb2RlPkFjY2Vzc0RlbmllZDwvQ29kZT48L0Vycm9yPg==","encoding":"base64"},
                     "redirectURL":"","headersSize":-1,"bodySize":-1,"_error":null},
         "cache":{},"timings":{"send":1,"wait":1000,"receive":0.5}},
        {"_resourceType":"preflight","startedDateTime":"2026-11-29T01:09:59.000+01:00","time":12,
         "request":{"method":"options","url":"https://s3.example.com/b/k","headers":[]},
         "response":{"status":0,"statusText":"","headers":[],"content":{"size":0,"mimeType":"x-unknown"},"_error":"net::ERR_FAILED"}},
        {"startedDateTime":"bad date","time":-1,
         "request":{"method":"PUT","url":"https://s3.example.com/b/k2","headers":[]},
         "response":{"status":-1,"headers":[],"content":{"size":0},"_failureText":"net::ERR_CONNECTION_RESET"}}
      ]}}"#;

    #[test]
    fn reads_chrome_and_playwright_entries() {
        assert!(looks_like_har(CHROME));
        let ex = read_har(CHROME).unwrap();
        assert_eq!(ex.len(), 3);
        // Sorted by start: the unparseable date first, then the preflight (00:09:59Z).
        assert_eq!(ex[0].failure.as_deref(), Some("net::ERR_CONNECTION_RESET"));
        assert_eq!(ex[0].status, None);
        assert_eq!(ex[0].elapsed, None);
        assert_eq!(ex[1].method, "OPTIONS");
        assert_eq!(ex[1].status, None);
        assert_eq!(ex[1].failure.as_deref(), Some("net::ERR_FAILED"));
        assert_eq!(ex[1].resource_type.as_deref(), Some("preflight"));
        assert_eq!(
            ex[1].started.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-11-29T00:09:59Z")
        );
        let put = &ex[2];
        assert_eq!(put.status, Some(403));
        assert_eq!(
            put.body.as_deref(),
            Some("<Error><Code>AccessDenied</Code></Error>")
        );
        assert!(put.is_cross_origin());
        assert_eq!(put.elapsed, Some(Duration::from_micros(1_200_500)));
        assert_eq!(put.failure, None);
    }

    #[test]
    fn refuses_json_that_is_not_har() {
        assert!(!looks_like_har("<Error/>"));
        assert!(read_har(r#"{"log":{}}"#).is_err());
        assert!(read_har("{not json").is_err());
    }
}
