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
    let installed = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    if installed.is_ok() {
        log_panics();
    }
}

/// Makes a panic one log line at `error` (the thread, where, the message; the backtrace when
/// `RUST_BACKTRACE` asks for it), through the same redaction as every other line, instead of
/// Rust's own text on standard error, which nothing redacts. When the filter drops errors, Rust's
/// own text is printed as before.
fn log_panics() {
    let rust_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !tracing::enabled!(tracing::Level::ERROR) {
            rust_hook(info);
            return;
        }
        let current = std::thread::current();
        let thread = current.name().unwrap_or("unnamed");
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            tracing::error!(thread, at, %backtrace, "panic: {message}");
        } else {
            tracing::error!(thread, at, "panic: {message}");
        }
    }));
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

#[cfg(test)]
mod tests {
    /// Set in the copy of this test binary that [`a_panic_is_one_redacted_log_line`] starts.
    const CHILD: &str = "HOIST_TEST_PANIC_CHILD";

    #[test]
    fn a_panic_is_one_redacted_log_line() {
        if std::env::var_os(CHILD).is_some() {
            super::init(tracing_subscriber::EnvFilter::new("info"), true);
            let _ = std::thread::Builder::new()
                .name("worker-7".into())
                .spawn(|| {
                    panic!("broke on GET /b/k?X-Amz-Signature=feedfacecafebeef00112233445566778899")
                })
                .unwrap()
                .join();
            return;
        }
        // The hook is process-wide: it is installed in a process of its own.
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "logging::tests::a_panic_is_one_redacted_log_line",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr
            .lines()
            .find(|l| l.contains("panic: broke"))
            .unwrap_or_else(|| panic!("no panic line in {stderr}"));
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(event["level"], "ERROR", "{line}");
        assert_eq!(event["fields"]["thread"], "worker-7", "{line}");
        assert!(
            event["fields"]["at"]
                .as_str()
                .is_some_and(|at| at.contains("logging.rs")),
            "{line}"
        );
        assert!(line.contains("X-Amz-Signature=feedfa…"), "{line}");
        assert!(!stderr.contains("cafebeef0011"), "{stderr}");
        assert!(!stderr.contains("panicked at"), "Rust's own text: {stderr}");
    }
}
