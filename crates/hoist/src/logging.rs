//! Log lines on standard error, every one with its secrets shortened, whichever crate wrote it
//! (hoist's own, s3s, hyper, reqwest).

use std::io::Write;

use hoist_core::redact::redact_text;
use tracing_subscriber::fmt::MakeWriter;

use crate::settings::Scalar;

/// The `--log` setting of `serve` and `store`: a filter in tracing's `EnvFilter` syntax,
/// checked when read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFilter(String);

impl Default for LogFilter {
    fn default() -> Self {
        Self("info".into())
    }
}

impl LogFilter {
    /// The filter to start logging with.
    pub fn filter(&self) -> tracing_subscriber::EnvFilter {
        tracing_subscriber::EnvFilter::try_new(&self.0)
            .expect("the log filter was checked when read")
    }
}

impl Scalar for LogFilter {
    fn parse(text: &str) -> Result<Self, String> {
        tracing_subscriber::EnvFilter::try_new(text)
            .map(|_| Self(text.to_owned()))
            .map_err(|e| format!("invalid log filter {text:?}: {e}"))
    }
    fn show(&self) -> String {
        self.0.clone()
    }
}

/// Starts logging with `filter` (tracing's `EnvFilter` syntax), as text or JSON lines.
pub fn init(filter: tracing_subscriber::EnvFilter, json: bool) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(Redacting);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// For the commands without a log setting: logs only when `RUST_LOG` asks for them.
pub fn from_env() {
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        init(filter, false);
    }
}

/// Standard error, through [`redact_text`]. The formatter writes each event in one call, so
/// a secret is never split between two writes.
#[derive(Debug, Clone, Copy)]
struct Redacting;

impl<'a> MakeWriter<'a> for Redacting {
    type Writer = Redacting;
    fn make_writer(&'a self) -> Self::Writer {
        Redacting
    }
}

impl Write for Redacting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = redact_text(&String::from_utf8_lossy(buf));
        // A closed standard error must not stop the work being logged.
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
