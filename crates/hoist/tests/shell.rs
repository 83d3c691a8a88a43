//! `hoist completions` and `hoist man` as a user runs them: every subcommand and every long
//! flag that `--help` shows appears in each shell's script and in the man pages.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn hoist(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hoist"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hoist {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands a `--help` text lists (its "Commands:" section), without `help`.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| line.trim() != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// The long flags a `--help` text shows, without `--help` and `--version`.
fn flags(help: &str) -> BTreeSet<String> {
    help.split(|c: char| c.is_whitespace() || c == ',' || c == '=' || c == '[' || c == ']')
        .filter_map(|word| word.strip_prefix("--"))
        .filter(|name| {
            name.len() > 1
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
        .filter(|name| *name != "help" && *name != "version")
        .map(str::to_owned)
        .collect()
}

/// Every command path (`["serve"]`, `["doctor", "explain"]`, …) with the flags its help shows.
fn commands() -> Vec<(Vec<String>, BTreeSet<String>)> {
    let mut found = Vec::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = hoist(&args);
        for sub in subcommands(&help) {
            let mut next = path.clone();
            next.push(sub);
            todo.push(next);
        }
        found.push((path, flags(&help)));
    }
    found
}

#[test]
fn help_walk_finds_the_commands_and_their_flags() {
    let all = commands();
    let serve = all
        .iter()
        .find(|(path, _)| path == &["serve"])
        .expect("serve");
    assert!(
        serve.1.contains("shutdown-grace") && serve.1.contains("log-json"),
        "{:?}",
        serve.1
    );
    assert!(all.iter().any(|(path, _)| path == &["doctor", "explain"]));
    assert!(all.iter().any(|(path, _)| path == &["completions"]));
}

#[test]
fn completions_name_every_subcommand_and_flag() {
    let all = commands();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let script = hoist(&["completions", shell]);
        for (path, flags) in &all {
            if let Some(name) = path.last() {
                assert!(
                    script.contains(name.as_str()),
                    "{shell}: no subcommand {name}"
                );
            }
            for flag in flags {
                let written = match shell {
                    "fish" => format!("-l {flag}"),
                    _ => format!("--{flag}"),
                };
                assert!(
                    script.contains(&written),
                    "{shell}: no {written} for {path:?}"
                );
            }
        }
    }
}

#[test]
fn unknown_shell_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_hoist"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// roff escapes each `-` of a flag.
fn unroff(page: &str) -> String {
    page.replace("\\-", "-")
}

#[test]
fn man_dir_has_a_page_per_command_with_its_flags() {
    let dir = tempfile::tempdir().unwrap();
    hoist(&["man", "--dir", dir.path().to_str().unwrap()]);
    let top = read(&dir.path().join("hoist.1"));
    assert!(top.contains(".TH hoist 1"), "{top}");
    for (path, flags) in commands() {
        if path.is_empty() {
            continue;
        }
        assert!(
            top.contains(path[0].as_str()),
            "hoist.1 does not name {}",
            path[0]
        );
        let file = dir.path().join(format!("hoist-{}.1", path.join("-")));
        let page = read(&file);
        for flag in flags {
            assert!(
                page.contains(&format!("--{flag}")),
                "{} has no --{flag}",
                file.display()
            );
        }
    }
}

#[test]
fn man_prints_one_page() {
    let top = unroff(&hoist(&["man"]));
    assert!(
        top.starts_with(".ie") || top.contains(".TH hoist 1"),
        "{top}"
    );
    assert!(top.contains("completions") && top.contains("serve"));
    let serve = unroff(&hoist(&["man", "serve"]));
    assert!(serve.contains(".TH hoist-serve 1"), "{serve}");
    assert!(serve.contains("--shutdown-grace") && serve.contains("HOIST_LOG_JSON"));
    let out = Command::new(env!("CARGO_BIN_EXE_hoist"))
        .args(["man", "nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
}

fn read(path: &Path) -> String {
    unroff(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}
