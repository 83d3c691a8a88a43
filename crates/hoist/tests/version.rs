//! `hoist --version`: the package version and the commit the binary was built from.

use std::process::Command;

fn version(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hoist"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// The checkout's commit, or "unknown" where git or the repository is missing, as build.rs.
fn head() -> String {
    Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8(out.stdout).unwrap().trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[test]
fn version_names_the_commit_built_from() {
    let expected = format!("hoist {} ({})\n", env!("CARGO_PKG_VERSION"), head());
    assert_eq!(version(&["--version"]), expected);
    assert_eq!(version(&["-V"]), expected);
}

#[test]
fn subcommands_print_the_same_version() {
    let line = version(&["serve", "--version"]);
    assert_eq!(
        line,
        format!("hoist-serve {} ({})\n", env!("CARGO_PKG_VERSION"), head())
    );
}
