//! `hoist`: one binary for the coordinator, the embedded store, the uploader and the doctor.
//!
//! The binary is thin: clap structs live beside each subcommand in `commands/`; `serve`, `store`
//! and the target of `doctor` and `gc` declare each of their settings once with `settings!`,
//! which the `settings` module resolves (flag > variable > file > default); the work is done by
//! the library crates.

mod commands;
mod logging;
mod output;
mod settings;
mod tls;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// The version and the commit built from (`build.rs`), as `hoist --version` prints them.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("HOIST_GIT_COMMIT"),
    ")"
);

/// Large uploads to S3 and S3-compatible stores that finish.
#[derive(Debug, Parser)]
#[command(name = "hoist", version = VERSION, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the upload coordinator, with the embedded store unless --s3-endpoint is given.
    Serve(Box<commands::serve::Args>),
    /// Run the embedded S3-compatible store alone.
    Store(Box<commands::store::Args>),
    /// Upload files, folders or standard input, directly or through a coordinator.
    Upload(commands::upload::Args),
    /// Print one SigV4 presigned URL.
    Presign(commands::presign::Args),
    /// Check a live setup, or explain an error body, curl transcript or HAR file.
    Doctor(commands::doctor::Args),
    /// Abort stale incomplete multipart uploads.
    Gc(commands::gc::Args),
    /// Print the completion script for a shell.
    Completions(commands::shell::CompletionsArgs),
    /// Write the man pages into a directory, or print one.
    Man(commands::shell::ManArgs),
    /// Print a command's settings table, as README.md has it.
    #[command(hide = true)]
    SettingsTable(commands::settings_table::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `serve` and `store` have their own log settings; the others log only when RUST_LOG asks.
    if !matches!(cli.command, Command::Serve(_) | Command::Store(_)) {
        logging::from_env();
    }
    let result = match cli.command {
        Command::Serve(args) if args.check_config => args
            .resolve()
            .and_then(|settings| commands::check_config::run(&settings)),
        Command::Serve(args) => commands::serve::run(*args),
        Command::Store(args) => commands::store::run(*args),
        Command::Upload(args) => commands::upload::run(args),
        Command::Presign(args) => commands::presign::run(args),
        Command::Doctor(args) => commands::doctor::run(args),
        Command::Gc(args) => commands::gc::run(args),
        Command::Completions(args) => commands::shell::completions(args, Cli::command()),
        Command::Man(args) => commands::shell::man(args, Cli::command()),
        Command::SettingsTable(args) => commands::settings_table::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            let mut text = format!("error: {err:#}");
            if let Some(advice) = advice_for(&err) {
                if let Some(c) = advice.cause {
                    text.push_str(&format!("\n  cause: {c} ({})", c.entry().title));
                }
                text.push_str(&format!("\n  next: {}", advice.next));
            }
            output::message(&text);
            // A setting that cannot be read is a usage error, as clap's own are.
            if err.downcast_ref::<settings::Error>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The cause and next step of a command's failure, where the error says enough to give one:
/// a store's answer (the doctor's catalogue), a setting, a path, an address.
fn advice_for(err: &anyhow::Error) -> Option<hoist_client::Advice> {
    use hoist_client::Advice;
    use std::io::ErrorKind as Io;
    for e in err.chain() {
        if let Some(e) = e.downcast_ref::<hoist_client::Error>() {
            return Some(e.advice());
        }
        if let Some(e) = e.downcast_ref::<hoist_s3::Error>() {
            return Some(Advice::for_store(e));
        }
        if let Some(hoist_doctor::DoctorError::Store(e)) = e.downcast_ref() {
            return Some(Advice::for_store(e));
        }
        if e.downcast_ref::<settings::Error>().is_some() {
            return Some(Advice::step(
                "fix the setting named above: `hoist help <command>` lists every setting with \
                 its flag, variable and default",
            ));
        }
        if let Some(e) = e.downcast_ref::<std::io::Error>() {
            let next = match e.kind() {
                Io::NotFound => "check that the path exists",
                Io::PermissionDenied => {
                    "check that this user may read (or, for a data or state directory, write) \
                     the path"
                }
                Io::AddrInUse => {
                    "another process listens on that address: stop it, or pick another \
                     address (port 0 picks a free one)"
                }
                Io::AddrNotAvailable => {
                    "the address is not one of this machine's: listen on 127.0.0.1, 0.0.0.0 or \
                     an address the machine has"
                }
                _ => continue,
            };
            return Some(Advice::step(next));
        }
    }
    None
}
