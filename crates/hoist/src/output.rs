//! What every command writes to the terminal: whole lines, secrets shortened in messages, and a
//! quiet end when the reader of standard output has gone.
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe fails with `BrokenPipe` and `println!`
//! panics. Restoring SIGPIPE's default would also kill the process on a write to a socket the
//! store has closed (hyper's vectored writes raise it), so, as ripgrep does, the failed write
//! itself ends the process, with the status a shell shows for SIGPIPE and no message.

use std::io::Write as _;

use hoist_core::redact::redact_text;

/// The exit status of a command whose standard output was closed (128 + SIGPIPE).
pub const CLOSED_PIPE: i32 = 141;

/// Writes `text` to standard output as it is (a command's product) and flushes it.
pub fn product(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        closed(&e);
    }
}

/// Writes `line` and a newline to standard output, secrets shortened.
pub fn line(line: &str) {
    product(&format!("{}\n", redact_text(line)));
}

/// Writes `line` and a newline to standard error, secrets shortened. A closed standard error
/// is ignored: there is nowhere left to say anything.
pub fn message(line: &str) {
    product_note(&redact_text(line));
}

/// Writes `line` and a newline to standard error as it is: part of a command's product
/// (the headers to send with a presigned URL).
pub fn product_note(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}").and_then(|()| err.flush());
}

/// Ends the process quietly if `e` says the reader has gone; other write failures are
/// reported on standard error and end it too, as `println!` would without the panic.
fn closed(e: &std::io::Error) -> ! {
    if e.kind() != std::io::ErrorKind::BrokenPipe {
        message(&format!("error: writing to standard output: {e}"));
        std::process::exit(1);
    }
    std::process::exit(CLOSED_PIPE)
}
