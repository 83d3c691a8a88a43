//! One request and what came back, as read from a transcript or a HAR file.

use std::time::Duration;

use hoist_core::time::Timestamp;

/// A request and its answer, whatever the input format was.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exchange {
    /// `GET`, `PUT`, `OPTIONS` …
    pub method: String,
    /// The full URL, query string included (percent-encoded as sent).
    pub url: String,
    /// Request headers in the order they were sent.
    pub request_headers: Vec<(String, String)>,
    /// The status code; `None` when no answer came (connection cut, blocked by the browser).
    pub status: Option<u16>,
    /// Response headers in the order they came.
    pub response_headers: Vec<(String, String)>,
    /// The response body as text, when the input recorded it.
    pub body: Option<String>,
    /// When the request was sent, when the input says so (HAR `startedDateTime`).
    pub started: Option<Timestamp>,
    /// How long the exchange took, when the input says so (HAR `time`).
    pub elapsed: Option<Duration>,
    /// Why no answer came, as the browser put it (`net::ERR_FAILED`, `CORS error` …).
    pub failure: Option<String>,
    /// Chrome's resource type (`preflight`, `fetch`, `xhr`), when recorded.
    pub resource_type: Option<String>,
}

impl Exchange {
    /// The first request header with this name (case-insensitive).
    pub fn request_header(&self, name: &str) -> Option<&str> {
        find_header(&self.request_headers, name)
    }

    /// The first response header with this name (case-insensitive).
    pub fn response_header(&self, name: &str) -> Option<&str> {
        find_header(&self.response_headers, name)
    }

    /// A query parameter of the URL, percent-decoded (the first one with this name).
    pub fn query_param(&self, name: &str) -> Option<String> {
        query_param(&self.url, name)
    }

    /// The path and query without the scheme and host, for evidence lines.
    pub fn short_url(&self) -> String {
        let without_scheme = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, rest)| rest);
        let path = without_scheme
            .find('/')
            .map_or("/", |i| &without_scheme[i..]);
        let path = path.split('?').next().unwrap_or(path);
        let mut out = path.to_owned();
        if let Some(part) = self.query_param("partNumber") {
            out.push_str(&format!(" (part {part})"));
        }
        out
    }

    /// The origin of the page that sent the request: its `Origin` header, else the origin of
    /// its `Referer` (Playwright's HAR records only the provisional headers of a request
    /// the browser blocked, which carry `Referer` but not `Origin`).
    pub fn page_origin(&self) -> Option<String> {
        if let Some(o) = self
            .request_header("origin")
            .filter(|o| !o.is_empty() && *o != "null")
        {
            return Some(o.to_owned());
        }
        self.request_header("referer").and_then(origin_of)
    }

    /// True for a request a page sent to another origin than its own.
    pub fn is_cross_origin(&self) -> bool {
        match (self.request_header("origin"), self.page_origin()) {
            (Some(o), _) if !o.is_empty() && o != "null" => true,
            (_, Some(page)) => {
                origin_of(&self.url).is_some_and(|target| !target.eq_ignore_ascii_case(&page))
            }
            _ => false,
        }
    }

    /// True when the request carried a response status in the error range or none at all.
    pub fn failed(&self) -> bool {
        self.status.is_none_or(|s| s == 0 || s >= 400)
    }
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A query parameter of `url`, percent-decoded. Names are compared exactly, as S3 does.
pub(crate) fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == name).then(|| percent_decode(v))
    })
}

/// Decodes `%XX` escapes and `+` (some encoders write spaces that way in queries).
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| Some(hex_value(bytes[i + 1])? * 16 + hex_value(bytes[i + 2])?))
            .flatten();
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_query_parameters_decoded() {
        let url = "http://127.0.0.1:9000/b/k?X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Expires=300&partNumber=7&uploadId=abc";
        assert_eq!(
            query_param(url, "X-Amz-Credential").as_deref(),
            Some("AKID/20260101/us-east-1/s3/aws4_request")
        );
        assert_eq!(query_param(url, "X-Amz-Expires").as_deref(), Some("300"));
        assert_eq!(query_param(url, "x-amz-expires"), None);
        assert_eq!(query_param("http://h/b/k", "partNumber"), None);
        assert_eq!(
            query_param("http://h/b/k?uploads", "uploads").as_deref(),
            Some("")
        );
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("a%zz"), "a%zz");
    }

    #[test]
    fn the_page_origin_comes_from_origin_or_referer() {
        let mut ex = Exchange {
            url: "http://127.0.0.1:9000/b/k".into(),
            ..Default::default()
        };
        assert!(!ex.is_cross_origin());
        ex.request_headers
            .push(("Referer".into(), "http://127.0.0.1:8080/upload?x=1".into()));
        assert_eq!(ex.page_origin().as_deref(), Some("http://127.0.0.1:8080"));
        assert!(ex.is_cross_origin());
        let same = Exchange {
            request_headers: vec![("Referer".into(), "http://127.0.0.1:9000/".into())],
            ..ex.clone()
        };
        assert!(!same.is_cross_origin());
        ex.request_headers
            .push(("Origin".into(), "https://app.example.com".into()));
        assert_eq!(ex.page_origin().as_deref(), Some("https://app.example.com"));
    }

    #[test]
    fn short_url_names_the_part() {
        let ex = Exchange {
            url: "https://s3.example.com/bucket/big.bin?partNumber=3&uploadId=x".into(),
            ..Default::default()
        };
        assert_eq!(ex.short_url(), "/bucket/big.bin (part 3)");
        let ex = Exchange {
            url: "http://h".into(),
            ..Default::default()
        };
        assert_eq!(ex.short_url(), "/");
    }
}
