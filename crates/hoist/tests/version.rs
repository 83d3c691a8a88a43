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

/// build.rs compiled and run by itself, in `dir` with `path` as PATH: what it tells cargo.
fn build_script(dir: &std::path::Path, path: &str) -> String {
    let out_dir = tempfile::tempdir().unwrap();
    let script = out_dir.path().join("build-script");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("build.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let built = Command::new(rustc)
        .args(["--edition", "2024", "-o"])
        .arg(&script)
        .arg(&source)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let out = Command::new(&script)
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn without_git_or_a_repository_the_commit_is_unknown() {
    let outside = tempfile::tempdir().unwrap();
    for (dir, path) in [
        (outside.path(), "/nonexistent"),
        (
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
            "/nonexistent",
        ),
        (
            outside.path(),
            &std::env::var("PATH").unwrap_or_default()[..],
        ),
    ] {
        let said = build_script(dir, path);
        assert!(
            said.contains("cargo:rustc-env=HOIST_GIT_COMMIT=unknown\n"),
            "{said}"
        );
        // Nothing to watch but the script: a path that does not exist would rerun every build.
        let watched: Vec<&str> = said
            .lines()
            .filter(|l| l.starts_with("cargo:rerun-if-changed="))
            .collect();
        assert_eq!(watched, ["cargo:rerun-if-changed=build.rs"], "{said}");
    }
}

#[test]
fn in_a_checkout_it_watches_head_and_its_branch_only() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    if head() == "unknown" {
        return;
    }
    let said = build_script(dir, &std::env::var("PATH").unwrap_or_default());
    assert!(
        said.contains(&format!("HOIST_GIT_COMMIT={}\n", head())),
        "{said}"
    );
    for line in said.lines() {
        if let Some(path) = line.strip_prefix("cargo:rerun-if-changed=") {
            assert!(
                dir.join(path).exists(),
                "{path} does not exist: every build would rerun it"
            );
        }
    }
    assert!(
        said.lines()
            .any(|l| l.starts_with("cargo:rerun-if-changed=") && l.ends_with("HEAD")),
        "{said}"
    );
}
