//! `deploy/grafana-dashboard.json` queries only metrics that a real `hoist serve` exposes, and
//! shows every family it exposes: the dashboard's PromQL is read for metric names and compared
//! with a scrape of `/metrics`.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const HOIST: &str = env!("CARGO_BIN_EXE_hoist");

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The coordinator's `/metrics` answer, from a `hoist serve` on port 0.
fn scrape() -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(HOIST)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store-listen",
            "127.0.0.1:0",
            "--log",
            "warn",
        ])
        .arg("--data")
        .arg(dir.path())
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let serve = Serve(child);
    let addr = loop {
        let line = lines
            .next()
            .expect("hoist serve printed its address")
            .unwrap();
        if let Some(url) = line.strip_prefix("hoist coordinator listening on http://") {
            break url.trim().to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let get = |path: &str| {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
    };
    get("/healthz");
    let answer = get("/metrics");
    drop(serve);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer.split_once("\r\n\r\n").unwrap().1.to_owned()
}

/// Every metric name `/metrics` can have: each family, with a histogram's series names.
fn exposed(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut families = BTreeSet::new();
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut words = rest.split_whitespace();
            let (name, kind) = (words.next().unwrap(), words.next().unwrap());
            families.insert(name.to_owned());
            names.insert(name.to_owned());
            if kind == "histogram" || kind == "summary" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let name = line.split(['{', ' ']).next().unwrap();
            names.insert(name.to_owned());
        }
    }
    (families, names)
}

const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
    // Aggregations, which may come before their grouping instead of their parenthesis.
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
];

/// The metric names a PromQL expression selects: identifiers that are neither functions,
/// keywords, label names (inside `{}` or a grouping), strings, durations nor variables.
fn metric_names(expr: &str) -> Vec<String> {
    // Strings, label matchers and ranges say nothing of metric names.
    let mut plain = String::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        let close = match c {
            '"' => '"',
            '{' => '}',
            '[' => ']',
            _ => {
                plain.push(c);
                continue;
            }
        };
        for d in chars.by_ref() {
            if d == close {
                break;
            }
        }
        plain.push(' ');
    }
    let bytes: Vec<char> = plain.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    let mut skip_group = false;
    while i < bytes.len() {
        let c = bytes[i];
        if c == '$' || c.is_ascii_digit() || c == '.' {
            // A variable or a number: skip it whole.
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], '$' | '_' | '.'))
            {
                i += 1;
            }
            continue;
        }
        if c == '(' && skip_group {
            while i < bytes.len() && bytes[i] != ')' {
                i += 1;
            }
            skip_group = false;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], '_' | ':'))
            {
                i += 1;
            }
            let word: String = bytes[start..i].iter().collect();
            let next = bytes[i..].iter().find(|c| !c.is_whitespace());
            if matches!(
                word.as_str(),
                "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
            ) {
                skip_group = true;
            } else if next != Some(&'(') && !KEYWORDS.contains(&word.to_ascii_lowercase().as_str())
            {
                names.push(word);
            }
            continue;
        }
        i += 1;
    }
    names
}

#[test]
fn promql_reading_finds_the_metric_names() {
    assert_eq!(
        metric_names(
            r#"histogram_quantile(0.99, sum by (le) (rate(a_bucket{job=~"$job",x="y z"}[$__rate_interval])))"#
        ),
        ["a_bucket"]
    );
    assert_eq!(
        metric_names("sum(rate(a_sum[5m])) / sum(rate(b_count[5m])) > bool 2"),
        ["a_sum", "b_count"]
    );
    assert_eq!(metric_names("max(abs(c))"), ["c"]);
}

/// Every PromQL the dashboard holds: panel targets (in rows too) and variable queries.
fn queries(dashboard: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                        ("definition", serde_json::Value::String(d)) => {
                            // label_values(metric, label)
                            let inner = d.trim_start_matches("label_values(").trim_end_matches(')');
                            out.push(inner.split(',').next().unwrap().trim().to_owned());
                        }
                        _ => walk(v, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(dashboard, &mut out);
    out
}

#[test]
fn every_queried_metric_is_exposed_and_every_family_shown() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/grafana-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let queries = queries(&dashboard);
    assert!(queries.len() >= 10, "{queries:?}");
    let (families, names) = exposed(&scrape());
    assert!(families.contains("hoist_uploads_total"), "{families:?}");
    let mut used = BTreeSet::new();
    for query in &queries {
        let found = metric_names(query);
        assert!(!found.is_empty(), "no metric in {query}");
        for name in found {
            assert!(
                names.contains(&name),
                "{name} (in {query}) is not on /metrics: {names:?}"
            );
            used.insert(name);
        }
    }
    for family in &families {
        assert!(
            used.iter().any(|name| name == family
                || name
                    .strip_prefix(family.as_str())
                    .is_some_and(|s| s.starts_with('_'))),
            "no panel shows {family}"
        );
    }
}
