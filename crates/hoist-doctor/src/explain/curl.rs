//! Reads the transcript that `curl -v` prints (its `stderr`, often with the body from
//! `stdout` mixed in): `> ` request lines, `< ` response lines, `* ` notes, then the body.
//!
//! With `--trace-time` each line starts with the local time of day (`01:02:03.456789 `); the
//! request line's time is kept, dated by the response's `Date` header when there is one.

use hoist_core::time::Timestamp;

use super::exchange::Exchange;

/// True when `text` looks like a `curl -v` transcript: a `> METHOD /path HTTP/x` line.
pub fn looks_like_curl(text: &str) -> bool {
    text.lines()
        .any(|line| request_line(strip_trace_time(line).0).is_some())
}

/// Every exchange in the transcript, in order. Lines that belong to none are ignored.
pub fn read_curl(text: &str) -> Vec<Exchange> {
    let mut exchanges: Vec<Exchange> = Vec::new();
    let mut state = State::Outside;
    let mut tls = false;
    let mut sent_time_of_day: Vec<Option<u32>> = Vec::new();
    let mut bodies: Vec<String> = Vec::new();

    for raw in text.lines() {
        let (line, time_of_day) = strip_trace_time(raw);
        let line = line.trim_end_matches('\r');
        if let Some(note) = line.strip_prefix("* ") {
            if note.contains("SSL connection") || note.contains("ALPN") || note.contains("TLS") {
                tls = true;
            }
            continue;
        }
        if let Some((method, target)) = request_line(line) {
            exchanges.push(Exchange {
                method: method.to_owned(),
                url: target.to_owned(),
                ..Default::default()
            });
            sent_time_of_day.push(time_of_day);
            bodies.push(String::new());
            state = State::RequestHeaders;
            continue;
        }
        let Some(current) = exchanges.last_mut() else {
            continue;
        };
        if let Some(header) = line
            .strip_prefix("> ")
            .or_else(|| (line == ">").then_some(""))
        {
            if let (State::RequestHeaders, Some((name, value))) = (state, header.split_once(':')) {
                current
                    .request_headers
                    .push((name.trim().to_owned(), value.trim().to_owned()));
            }
            continue;
        }
        if let Some(response) = line
            .strip_prefix("< ")
            .or_else(|| (line == "<").then_some(""))
        {
            if let Some(status) = status_line(response) {
                // A `100 Continue` is followed by the real status; keep the last one.
                current.status = Some(status);
                current.response_headers.clear();
                state = State::ResponseHeaders;
            } else if state == State::ResponseHeaders {
                match response.split_once(':') {
                    Some((name, value)) => current
                        .response_headers
                        .push((name.trim().to_owned(), value.trim().to_owned())),
                    None if response.trim().is_empty() => state = State::Body,
                    None => {}
                }
            }
            continue;
        }
        // `{ [345 bytes data]` and `} [10 bytes data]` mark data that curl did not print.
        if line.starts_with("{ [") || line.starts_with("} [") {
            continue;
        }
        if state == State::Body || state == State::ResponseHeaders {
            state = State::Body;
            let body = bodies.last_mut().expect("one body per exchange");
            body.push_str(line);
            body.push('\n');
        }
    }

    for ((exchange, body), time_of_day) in exchanges.iter_mut().zip(bodies).zip(sent_time_of_day) {
        exchange.url = absolute_url(&exchange.url, exchange.request_header("host"), tls);
        let body = trim_body(&body);
        if !body.is_empty() {
            exchange.body = Some(body);
        }
        exchange.started = time_of_day.and_then(|tod| date_time_of_day(exchange, tod));
    }
    exchanges
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Outside,
    RequestHeaders,
    ResponseHeaders,
    Body,
}

const METHODS: [&str; 7] = ["GET", "PUT", "POST", "HEAD", "DELETE", "OPTIONS", "PATCH"];

fn request_line(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("> ")?;
    let mut words = rest.split(' ');
    let method = words.next()?;
    let target = words.next()?;
    let version = words.next()?;
    (METHODS.contains(&method) && version.starts_with("HTTP/") && words.next().is_none())
        .then_some((method, target))
}

fn status_line(line: &str) -> Option<u16> {
    let rest = line.strip_prefix("HTTP/")?;
    rest.split(' ').nth(1)?.parse().ok()
}

/// Splits the `--trace-time` prefix (`HH:MM:SS.ffffff `) off a line, returning the time of
/// day in milliseconds.
fn strip_trace_time(line: &str) -> (&str, Option<u32>) {
    let b = line.as_bytes();
    if b.len() > 16 && b[2] == b':' && b[5] == b':' && b[8] == b'.' && b[15] == b' ' {
        let digits = |r: std::ops::Range<usize>| line.get(r)?.parse::<u32>().ok();
        if let (Some(h), Some(m), Some(s), Some(us)) =
            (digits(0..2), digits(3..5), digits(6..8), digits(9..15))
        {
            return (
                &line[16..],
                Some(((h * 60 + m) * 60 + s) * 1000 + us / 1000),
            );
        }
    }
    (line, None)
}

fn absolute_url(target: &str, host: Option<&str>, tls: bool) -> String {
    if target.contains("://") {
        return target.to_owned();
    }
    let host = host.unwrap_or("unknown-host");
    let scheme = if tls || host.ends_with(":443") {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}{target}")
}

/// The body as printed, without curl's own trailer glued to its last line.
fn trim_body(body: &str) -> String {
    let mut text = body.trim().to_owned();
    if let Some(end) = text.rfind("</Error>") {
        text.truncate(end + "</Error>".len());
    } else if let Some(i) = text.find("* Connection #") {
        text.truncate(i);
    }
    text.trim().to_owned()
}

/// `--trace-time` gives a time of day; the date comes from the answer's `Date` header (or the
/// URL's `X-Amz-Date`), taking the day whose time of day lies nearest.
fn date_time_of_day(exchange: &Exchange, time_of_day_ms: u32) -> Option<Timestamp> {
    let anchor = exchange
        .response_header("date")
        .and_then(|d| Timestamp::parse_http_date(d).ok())
        .or_else(|| {
            exchange
                .query_param("X-Amz-Date")
                .and_then(|d| Timestamp::parse_amz_date(&d).ok())
        })?;
    let day_start = anchor.unix_seconds().div_euclid(86_400) * 86_400;
    let candidates = [-86_400i64, 0, 86_400].map(|shift| {
        Timestamp::from_unix_millis((day_start + shift) * 1000 + i64::from(time_of_day_ms))
    });
    candidates
        .into_iter()
        .min_by_key(|t| t.millis_since(anchor).abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPIRED: &str = "*   Trying 127.0.0.1:41234...
* Connected to 127.0.0.1 (127.0.0.1) port 41234 (#0)
> PUT /uploads/video.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261129%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261129T010000Z&X-Amz-Expires=1&X-Amz-SignedHeaders=host&X-Amz-Signature=abc HTTP/1.1\r
> Host: 127.0.0.1:41234\r
> User-Agent: curl/7.88.1\r
> Accept: */*\r
> Content-Length: 5\r
> \r
} [5 bytes data]
< HTTP/1.1 403 Forbidden\r
< content-type: application/xml\r
< content-length: 287\r
< date: Sun, 29 Nov 2026 01:00:07 GMT\r
< \r
{ [287 bytes data]
<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<Error><Code>AccessDenied</Code><Message>Request has expired</Message><X-Amz-Expires>1</X-Amz-Expires><Expires>2026-11-29T01:00:01Z</Expires><ServerTime>2026-11-29T01:00:07Z</ServerTime></Error>* Connection #0 to host 127.0.0.1 left intact
";

    #[test]
    fn reads_request_answer_and_body() {
        assert!(looks_like_curl(EXPIRED));
        let exchanges = read_curl(EXPIRED);
        assert_eq!(exchanges.len(), 1);
        let ex = &exchanges[0];
        assert_eq!(ex.method, "PUT");
        assert!(
            ex.url
                .starts_with("http://127.0.0.1:41234/uploads/video.mp4?X-Amz-Algorithm=")
        );
        assert_eq!(ex.query_param("X-Amz-Expires").as_deref(), Some("1"));
        assert_eq!(ex.status, Some(403));
        assert_eq!(ex.request_header("content-length"), Some("5"));
        assert_eq!(
            ex.response_header("Date"),
            Some("Sun, 29 Nov 2026 01:00:07 GMT")
        );
        let body = ex.body.as_deref().unwrap();
        assert!(body.starts_with("<?xml"));
        assert!(body.ends_with("</Error>"), "{body}");
        assert_eq!(ex.started, None);
    }

    #[test]
    fn keeps_the_final_status_after_continue_and_several_exchanges() {
        let text = "> PUT /b/k HTTP/1.1\n> Host: s3.example.com:443\n> Expect: 100-continue\n>\n< HTTP/1.1 100 Continue\n< HTTP/1.1 400 Bad Request\n< Content-Type: application/xml\n<\n<Error><Code>EntityTooLarge</Code></Error>\n> GET /b/k HTTP/2\n> Host: s3.example.com\n>\n< HTTP/2 200\n< etag: \"x\"\n<\nhello\n";
        let exchanges = read_curl(text);
        assert_eq!(exchanges.len(), 2);
        assert_eq!(exchanges[0].url, "https://s3.example.com:443/b/k");
        assert_eq!(exchanges[0].status, Some(400));
        assert_eq!(exchanges[0].response_headers.len(), 1);
        assert_eq!(
            exchanges[0].body.as_deref(),
            Some("<Error><Code>EntityTooLarge</Code></Error>")
        );
        assert_eq!(exchanges[1].status, Some(200));
        assert_eq!(exchanges[1].body.as_deref(), Some("hello"));
    }

    #[test]
    fn dates_trace_time_by_the_answer() {
        let text = "00:59:58.250000 > PUT /b/k HTTP/1.1\n00:59:58.250100 > Host: h\n00:59:58.250200 >\n00:59:58.300000 < HTTP/1.1 403 Forbidden\n00:59:58.300100 < Date: Sun, 29 Nov 2026 01:00:00 GMT\n00:59:58.300200 <\n";
        let ex = &read_curl(text)[0];
        assert_eq!(
            ex.started.map(|t| t.to_rfc3339_millis()).as_deref(),
            Some("2026-11-29T00:59:58.250Z")
        );
        // Just after midnight UTC, a time of day just before midnight belongs to the day before.
        let text = "23:59:59.900000 > GET /b/k HTTP/1.1\n23:59:59.900000 >\n< HTTP/1.1 403 Forbidden\n< Date: Mon, 30 Nov 2026 00:00:01 GMT\n<\n";
        let ex = &read_curl(text)[0];
        assert_eq!(
            ex.started.map(|t| t.to_rfc3339_millis()).as_deref(),
            Some("2026-11-29T23:59:59.900Z")
        );
    }

    #[test]
    fn ignores_what_is_not_a_transcript() {
        assert!(!looks_like_curl("<Error><Code>AccessDenied</Code></Error>"));
        assert!(!looks_like_curl("> just a quote HTTP/1.1\n"));
        assert!(read_curl("hello\nworld\n").is_empty());
    }
}
