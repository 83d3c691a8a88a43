//! What the doctor says: findings for `explain`, checks for the live doctor, and how both are
//! printed for people and for scripts.

use std::fmt::Write as _;

use serde::Serialize;

/// The cause id for what the doctor cannot read or place. It never guesses.
pub const UNKNOWN: &str = "unknown";

/// One named cause, with what shows it and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// A stable cause id (`url-expired`, `cors-preflight` …, or `unknown`).
    pub cause: String,
    /// The facts from the input that point to the cause, one per line.
    pub evidence: Vec<String>,
    /// What to change so that it does not happen again.
    pub fix: String,
}

impl Finding {
    /// A finding from its parts.
    pub fn new(cause: impl Into<String>, evidence: Vec<String>, fix: impl Into<String>) -> Self {
        Finding {
            cause: cause.into(),
            evidence,
            fix: fix.into(),
        }
    }

    /// The answer when the input cannot be read or placed.
    pub fn unknown(evidence: Vec<String>) -> Self {
        Finding::new(
            UNKNOWN,
            evidence,
            "hoist could not name a cause from this input. Capture the full exchange (the XML error body, `curl -v` output, or a HAR file with content) and run `hoist doctor explain` on it, or `hoist doctor` against the live bucket.",
        )
    }
}

/// Renders findings for people: one block per cause.
pub fn findings_text(findings: &[Finding]) -> String {
    let mut out = String::new();
    for (i, f) in findings.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "cause: {}", f.cause);
        for line in &f.evidence {
            let _ = writeln!(out, "  - {line}");
        }
        let _ = writeln!(out, "fix: {}", f.fix);
    }
    out
}

/// Renders findings for scripts: one object, or a list when there are several.
pub fn findings_json(findings: &[Finding]) -> String {
    let value = match findings {
        [one] => serde_json::to_value(one),
        many => serde_json::to_value(many),
    };
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// How a live check came out. Ordered: the worst result decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing to do.
    Ok,
    /// Works, but something should change.
    Warn,
    /// Uploads will fail until it changes.
    Fail,
}

impl Status {
    /// The process exit code for this result: 0, 1 or 2.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warn => 1,
            Status::Fail => 2,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One live check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// A stable id: `clock`, `sigv4`, `cors`, `lifecycle`, `credentials`, `stale-uploads`, `ttl`.
    pub check: &'static str,
    /// ok, warn or fail.
    pub status: Status,
    /// One-line summary.
    pub summary: String,
    /// What was measured or read, one fact per line.
    pub evidence: Vec<String>,
    /// What to do, when something should change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// The cause id this check guards against, when it is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

impl Check {
    /// A check result without evidence or fix yet.
    pub fn new(check: &'static str, status: Status, summary: impl Into<String>) -> Self {
        Check {
            check,
            status,
            summary: summary.into(),
            evidence: Vec::new(),
            fix: None,
            cause: None,
        }
    }

    /// Adds a line of evidence.
    pub fn evidence(mut self, line: impl Into<String>) -> Self {
        self.evidence.push(line.into());
        self
    }

    /// Sets the fix.
    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// Names the cause this check guards against.
    pub fn cause(mut self, cause: impl Into<String>) -> Self {
        self.cause = Some(cause.into());
        self
    }
}

/// All checks of one `hoist doctor` run, and what `--fix` changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The endpoint that was checked.
    pub endpoint: String,
    /// The bucket that was checked.
    pub bucket: String,
    /// Each check, in the order it ran.
    pub checks: Vec<Check>,
    /// What `--fix` changed, one change per line (empty without `--fix` or when nothing was needed).
    pub changes: Vec<String>,
}

impl Report {
    /// The worst status among the checks (ok when there are none).
    pub fn worst(&self) -> Status {
        self.checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::Ok)
    }

    /// Renders the report for people.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "hoist doctor: {} bucket {}",
            self.endpoint, self.bucket
        );
        for c in &self.checks {
            let _ = writeln!(
                out,
                "[{:<4}] {:<13} {}",
                c.status.label(),
                c.check,
                c.summary
            );
            for line in &c.evidence {
                let _ = writeln!(out, "         {line}");
            }
            if let Some(fix) = &c.fix {
                let _ = writeln!(out, "         fix: {fix}");
            }
        }
        if !self.changes.is_empty() {
            let _ = writeln!(out, "changed:");
            for line in &self.changes {
                let _ = writeln!(out, "  - {line}");
            }
        }
        let _ = writeln!(out, "result: {}", self.worst().label());
        out
    }

    /// Renders the report for scripts.
    pub fn json(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        value["result"] = serde_json::Value::from(self.worst().label());
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_finding_is_an_object_several_are_a_list() {
        let a = Finding::new("url-expired", vec!["signed at 01:00".into()], "re-sign");
        let one: serde_json::Value =
            serde_json::from_str(&findings_json(std::slice::from_ref(&a))).unwrap();
        assert_eq!(one["cause"], "url-expired");
        assert_eq!(one["evidence"][0], "signed at 01:00");
        assert_eq!(one["fix"], "re-sign");
        let two: serde_json::Value =
            serde_json::from_str(&findings_json(&[a.clone(), Finding::unknown(vec![])])).unwrap();
        assert_eq!(two.as_array().map(Vec::len), Some(2));
        assert_eq!(two[1]["cause"], "unknown");
        assert!(
            findings_text(&[a])
                .starts_with("cause: url-expired\n  - signed at 01:00\nfix: re-sign\n")
        );
    }

    #[test]
    fn the_worst_check_decides() {
        let mut report = Report::default();
        assert_eq!(report.worst().exit_code(), 0);
        report
            .checks
            .push(Check::new("clock", Status::Ok, "in sync"));
        report
            .checks
            .push(Check::new("cors", Status::Warn, "ETag hidden").fix("expose it"));
        assert_eq!(report.worst().exit_code(), 1);
        report
            .checks
            .push(Check::new("sigv4", Status::Fail, "refused"));
        assert_eq!(report.worst(), Status::Fail);
        let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
        assert_eq!(json["result"], "fail");
        assert_eq!(json["checks"][1]["status"], "warn");
        assert_eq!(json["checks"][1]["fix"], "expose it");
        assert!(json["checks"][0].get("fix").is_none());
        assert!(report.text().contains("[warn] cors"));
    }
}
