//! Runs every built-in script through the real binary (`ingot-agent builtin NAME`) on this
//! host, the way the runner does, and checks what each reports. Nothing here may change the
//! host: outside the ephemeral environment the built-ins that would are skipped.

use std::path::Path;
use std::process::{Command, Output};

fn builtin(name: &str, dir: &Path, cmdline: &str) -> (Output, Option<serde_json::Value>) {
    let result = dir.join(format!("{name}.yaml"));
    let out = Command::new(env!("CARGO_BIN_EXE_ingot-agent"))
        .args(["--cmdline", cmdline, "builtin", name])
        .env("RESULT_PATH", &result)
        .env("MAAS_RESOURCES_FILE", dir.join("resources.json"))
        .env("INGOT_LLDP_SECONDS", "1")
        .env("INGOT_TEST_SECONDS", "1")
        .output()
        .unwrap();
    let yaml = std::fs::read_to_string(&result)
        .ok()
        .map(|t| yaml_value(&t));
    (out, yaml)
}

/// The result YAML as the region reads it.
fn yaml_value(text: &str) -> serde_json::Value {
    ingot_core::scripts::parse_yaml(text).unwrap()
}

fn ephemeral() -> bool {
    Path::new("/etc/ingot-ephemeral").exists()
}

fn host_mac() -> Option<String> {
    let mut names: Vec<_> = std::fs::read_dir("/sys/class/net")
        .ok()?
        .flatten()
        .collect();
    names.sort_by_key(|e| e.file_name());
    names.into_iter().find_map(|e| {
        let p = e.path();
        if !p.join("device").exists()
            || std::fs::read_to_string(p.join("carrier")).ok()?.trim() != "1"
        {
            return None;
        }
        Some(
            std::fs::read_to_string(p.join("address"))
                .ok()?
                .trim()
                .to_string(),
        )
    })
}

#[test]
fn commissioning_builtins_report_this_host() {
    let t = tempfile::tempdir().unwrap();
    let cmdline =
        "console=ttyS0 ingot.purpose=commission BOOTIF=01-52-54-00-12-34-56 ingot.token=a:b:c";
    for name in [
        "50-maas-01-commissioning",
        "maas-firmware-info",
        "maas-kernel-cmdline",
        "maas-list-modaliases",
        "maas-network-interfaces",
        "maas-serial-ports",
        "maas-support-info",
        "maas-virtuality",
        "maas-capture-lldpd",
        "20-maas-02-dhcp-unconfigured-ifaces",
    ] {
        let (out, _) = builtin(name, t.path(), cmdline);
        assert!(
            out.status.success(),
            "{name}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        match name {
            "50-maas-01-commissioning" => {
                let doc: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
                let written: serde_json::Value = serde_json::from_slice(
                    &std::fs::read(t.path().join("resources.json")).unwrap(),
                )
                .unwrap();
                assert_eq!(doc["resources"]["cpu"], written["resources"]["cpu"]);
                assert!(doc["resources"]["cpu"]["total"].as_u64().unwrap() >= 1);
            }
            "maas-kernel-cmdline" => assert_eq!(
                stdout,
                "console=ttyS0 ingot.purpose=commission BOOTIF=01-52-54-00-12-34-56 ingot.token=a:b:REDACTED\n"
            ),
            "maas-list-modaliases" if Path::new("/sys/bus/pci/devices").exists() => {
                assert!(stdout.lines().any(|l| l.starts_with("pci:v")), "{stdout}");
            }
            "maas-network-interfaces" => assert!(stdout.contains("name: lo"), "{stdout}"),
            "maas-support-info" => {
                assert!(
                    stdout.contains(concat!("agent: \"ingot-agent ", env!("CARGO_PKG_VERSION"))),
                    "{stdout}"
                );
            }
            "maas-virtuality" => {
                let v = yaml_value(&stdout);
                assert!(
                    v["virtualization"].is_string() && v["vm"].is_string(),
                    "{stdout}"
                );
            }
            "maas-capture-lldpd" => assert!(
                stdout.contains("<lldp label=\"LLDP neighbors\">"),
                "{stdout}"
            ),
            "20-maas-02-dhcp-unconfigured-ifaces" if !ephemeral() => {
                assert!(
                    stdout.starts_with("not in the ephemeral environment: nothing changed"),
                    "{stdout}"
                );
            }
            _ => {}
        }
    }
}

#[test]
fn testing_builtins_on_this_host() {
    let t = tempfile::tempdir().unwrap();
    let bootif = host_mac()
        .map(|m| format!(" BOOTIF=01-{}", m.replace(':', "-")))
        .unwrap_or_default();
    let cmdline = format!("ingot.purpose=test{bootif}");
    // Quick CPU stress: checked arithmetic on every CPU for a second.
    let (out, y) = builtin("stress-ng-cpu-short", t.path(), &cmdline);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 wrong result(s)"));
    assert!(y.is_some());
    // SMART: passes or fails on real disks, skipped (with the reason) on virtual ones.
    let (out, y) = builtin("smartctl-validate", t.path(), &cmdline);
    let y = y.expect("a result file");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if y.get("status").and_then(|s| s.as_str()) == Some("skipped") {
        assert!(out.status.success());
        assert!(y["reason"].as_str().is_some_and(|r| !r.is_empty()), "{y}");
    } else {
        assert!(
            stdout.contains("SMART passed") || stdout.contains("SMART failed"),
            "{stdout}"
        );
    }
    // Destructive-ish tests never touch this host.
    if !ephemeral() {
        for name in ["memtester", "badblocks"] {
            let (out, y) = builtin(name, t.path(), &cmdline);
            assert!(out.status.success());
            let y = y.expect("a result file");
            assert_eq!(y["status"], "skipped", "{name}: {y}");
            assert!(y["reason"]
                .as_str()
                .unwrap()
                .contains("not in the ephemeral environment"));
        }
    }
    // Link of the boot interface.
    if !bootif.is_empty() {
        let (out, _) = builtin("network-link", t.path(), &cmdline);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("(boot interface)"));
    }
    let (out, _) = builtin("network-link", t.path(), "BOOTIF=01-02-00-00-00-00-01");
    assert!(
        !out.status.success(),
        "an absent boot interface fails the test"
    );
}

#[test]
fn unknown_builtin_fails() {
    let t = tempfile::tempdir().unwrap();
    let (out, _) = builtin("no-such-thing", t.path(), "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no built-in script named 'no-such-thing'")
    );
}
