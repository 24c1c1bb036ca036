//! Helpers shared by the boot tests: finding QEMU, the Debian packages and the agent binary,
//! and skipping (or, in CI, failing) when something is missing.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Skips the test (with the reason printed), or fails it when CI is set.
pub fn skip_or_fail(test: &str, why: &str) {
    if in_ci() {
        panic!("{why} (CI is set, so this is a failure)");
    }
    eprintln!("SKIPPED {test}: {why}");
}

pub fn qemu() -> Option<PathBuf> {
    let p = std::env::var_os("INGOT_QEMU")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/qemu-system-x86_64"));
    p.is_file().then_some(p)
}

/// The ingot-agent binary: $INGOT_AGENT_BIN, or built with cargo into this workspace's target
/// directory (a no-op when `cargo test -p ingot-agent` already built it).
pub fn agent_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("INGOT_AGENT_BIN") {
        return PathBuf::from(p);
    }
    // This test executable lives in <target>/<profile>/deps/.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let target_dir = profile_dir.parent().unwrap().to_path_buf();
    let bin = profile_dir.join("ingot-agent");
    if is_fresh(&bin) {
        return bin;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(repo_root())
        .args(["build", "-p", "ingot-agent", "--target-dir"])
        .arg(&target_dir);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    eprintln!("building ingot-agent: {cmd:?}");
    let status = cmd.status().expect("running cargo build -p ingot-agent");
    assert!(status.success(), "cargo build -p ingot-agent failed");
    assert!(bin.is_file(), "{} missing after cargo build", bin.display());
    bin
}

/// True when `bin` exists and is newer than the agent's sources and manifest (so a workspace
/// build or `cargo test -p ingot-agent`, which builds it for its integration tests, made it).
pub fn is_fresh(bin: &Path) -> bool {
    fn newest(p: &Path) -> std::time::SystemTime {
        let Ok(m) = std::fs::metadata(p) else {
            return std::time::SystemTime::UNIX_EPOCH;
        };
        let mut t = m.modified().unwrap_or(std::time::SystemTime::UNIX_EPOCH);
        if m.is_dir() {
            for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
                t = t.max(newest(&e.path()));
            }
        }
        t
    }
    let Ok(built) = std::fs::metadata(bin).and_then(|m| m.modified()) else {
        return false;
    };
    let agent = repo_root().join("crates/agent");
    built > newest(&agent.join("src")) && built > newest(&agent.join("Cargo.toml"))
}

/// The Debian deb cache: $INGOT_DEB_CACHE, else <repo>/target/deb-cache.
pub fn deb_cache() -> PathBuf {
    std::env::var_os("INGOT_DEB_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/deb-cache"))
}
