//! This host and the agent: the `ingot-agent` binary the tests run, and this host's hardware
//! read the way a test would check it by hand.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The ingot-agent binary machines get: $INGOT_AGENT_BIN (scripts/test.sh builds it once and
/// sets it), else the statically linked one `scripts/build-agent.sh` builds into this
/// workspace's target directory, (re)built (once for all the tests) when older than its sources.
pub fn agent_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(find_or_build_agent).clone()
}

/// Where [`agent_binary`] is, without building it: what the tests' regions serve as
/// `maas-run-scripts` (INGOT_AGENT_BINARY).
pub fn agent_path() -> PathBuf {
    if let Some(p) = std::env::var_os("INGOT_AGENT_BIN") {
        return PathBuf::from(p);
    }
    target_dir()
        .join(format!("{}-unknown-linux-gnu", std::env::consts::ARCH))
        .join("agent/ingot-agent")
}

/// This workspace's target directory (the test binary is in `<target>/<profile>/deps/`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf()
}

fn find_or_build_agent() -> PathBuf {
    let bin = agent_path();
    if std::env::var_os("INGOT_AGENT_BIN").is_some() {
        return bin;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let sources = [
        "crates/agent/src",
        "crates/agent/Cargo.toml",
        "crates/core/src",
        "crates/wire/src",
        "crates/tls/src",
        "Cargo.lock",
        "Cargo.toml",
        "scripts/build-agent.sh",
    ];
    if is_fresh(&bin, &sources.map(|s| root.join(s))) {
        return bin;
    }
    let mut cmd = Command::new("bash");
    cmd.current_dir(&root)
        .arg("scripts/build-agent.sh")
        .env("CARGO_TARGET_DIR", target_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit());
    eprintln!("building the static ingot-agent: {cmd:?}");
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "scripts/build-agent.sh failed");
    let built = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert_eq!(built, bin, "scripts/build-agent.sh built another path");
    bin
}

fn is_fresh(bin: &Path, sources: &[PathBuf]) -> bool {
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
    sources.iter().all(|s| newest(s) <= built)
}

// --- this host, read the way a test would check it by hand ---------------------------------

/// CPUs online (`/sys/devices/system/cpu/online`: `0-3,6`).
pub fn host_cpus() -> i64 {
    let s = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    s.trim()
        .split(',')
        .map(|r| match r.split_once('-') {
            Some((a, b)) => b.parse::<i64>().unwrap() - a.parse::<i64>().unwrap() + 1,
            None => 1,
        })
        .sum()
}

/// MiB of memory: online memory blocks × block size, else MemTotal.
pub fn host_memory_mib() -> i64 {
    let dir = Path::new("/sys/devices/system/memory");
    let from_blocks = std::fs::read_to_string(dir.join("block_size_bytes"))
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim(), 16).ok())
        .map(|size| {
            let online = std::fs::read_dir(dir)
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("memory"))
                .filter(|e| {
                    std::fs::read_to_string(e.path().join("online")).is_ok_and(|o| o.trim() == "1")
                })
                .count() as u64;
            size * online
        })
        .filter(|b| *b > 0);
    let bytes = from_blocks.unwrap_or_else(|| {
        let m = std::fs::read_to_string("/proc/meminfo").unwrap();
        let kib: u64 = m
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap();
        kib * 1024
    });
    (bytes / (1024 * 1024)) as i64
}

/// This host's physical NICs (those with a device), lower-case MACs.
pub fn host_macs() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/sys/class/net")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("device").exists())
        .filter_map(|e| std::fs::read_to_string(e.path().join("address")).ok())
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    v.sort();
    v
}

/// This host's SMBIOS system UUID, when readable.
pub fn host_uuid() -> Option<String> {
    std::fs::read_to_string("/sys/class/dmi/id/product_uuid")
        .ok()
        .map(|u| u.trim().to_ascii_lowercase())
        .filter(|u| !u.is_empty())
}
