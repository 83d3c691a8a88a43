//! `deploy/hoist.service`: the hardening a service of hoist's must keep, commands and variables
//! that `hoist serve` really has, and `systemd-analyze verify` where systemd is installed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const HOIST: &str = env!("CARGO_BIN_EXE_hoist");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn unit() -> String {
    std::fs::read_to_string(repo().join("deploy/hoist.service")).unwrap()
}

/// Every `Key=value` of the `[Service]` section, values of repeated keys in order.
fn service(unit: &str) -> BTreeMap<String, Vec<String>> {
    let mut keys = BTreeMap::<String, Vec<String>>::new();
    let mut section = "";
    for line in unit.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
        } else if section == "[Service]"
            && !line.starts_with('#')
            && let Some((key, value)) = line.split_once('=')
        {
            keys.entry(key.to_owned())
                .or_default()
                .push(value.to_owned());
        }
    }
    keys
}

#[test]
fn the_unit_is_hardened() {
    let keys = service(&unit());
    let one = |key: &str| -> &str {
        let values = keys.get(key).unwrap_or_else(|| panic!("no {key}"));
        values.last().unwrap()
    };
    assert_ne!(one("User"), "root");
    assert_eq!(one("ProtectSystem"), "strict");
    assert_eq!(one("NoNewPrivileges"), "true");
    assert_eq!(one("PrivateTmp"), "true");
    assert_eq!(one("Restart"), "on-failure");
    assert_eq!(one("CapabilityBoundingSet"), "");
    // The data directory is the one place it writes, and is where it keeps its data.
    let data = one("ReadWritePaths");
    assert!(
        keys["Environment"].contains(&format!("HOIST_DATA={data}")),
        "{keys:?}"
    );
    assert_eq!(format!("/var/lib/{}", one("StateDirectory")), data);
}

#[test]
fn the_unit_runs_real_commands_and_settings() {
    let keys = service(&unit());
    let start = keys["ExecStart"].last().unwrap();
    assert!(start.ends_with("/hoist serve"), "{start}");
    let pre = keys["ExecStartPre"].last().unwrap();
    assert!(pre.ends_with("/hoist serve --check-config"), "{pre}");
    let help = Command::new(HOIST)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("--check-config"));
    for assignment in &keys["Environment"] {
        let name = assignment.split('=').next().unwrap();
        assert!(
            help.contains(&format!("[env: {name}")),
            "hoist serve has no variable {name}"
        );
    }
}

#[test]
fn systemd_analyze_verifies_the_unit() {
    let Ok(probe) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed: the unit's keys are checked above");
        return;
    };
    assert!(probe.status.success());
    // verify wants the commands to exist: point them at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hoist.service");
    std::fs::write(&path, unit().replace("/usr/local/bin/hoist", HOIST)).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
}
