//! Records the git commit the binary is built from, for `hoist --version`.
//!
//! "unknown" when there is no git or no repository (a packaged source). The script runs again
//! only when `HEAD` or the branch it points to moves, so builds stay fresh otherwise.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn watch(path: &str) {
    // A path that does not exist would make cargo run the script on every build.
    if Path::new(path).exists() {
        println!("cargo:rerun-if-changed={path}");
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        watch(&head);
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(reference) = git(&["rev-parse", "--git-path", &branch])
    {
        watch(&reference);
    }
    // A branch whose ref was packed moves in packed-refs.
    if let Some(packed) = git(&["rev-parse", "--git-path", "packed-refs"]) {
        watch(&packed);
    }
    println!("cargo:rustc-env=HOIST_GIT_COMMIT={commit}");
}
