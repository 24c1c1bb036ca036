//! The layering invariants of ARCHITECTURE.md, held by the workspace's own metadata and source:
//!
//! 1. `api` speaks HTTP only: of Ingot's crates it depends on `region`, `core` and `wire`, and
//!    on no other (`store`, `power`, `images` are the region's to use).
//! 2. `core` and `wire` do no IO: they depend only on the pure crates listed here, and their
//!    source names no file, process, socket or environment call.
//! 3. `store` is used only by `region` and the binary that opens the database (`ingot`).

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata's JSON")
}

/// The normal (not dev, not build) dependencies of each workspace package.
fn dependencies(meta: &Value) -> Vec<(String, BTreeSet<String>)> {
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap_or_default().to_string())
                .collect();
            (p["name"].as_str().unwrap_or_default().to_string(), deps)
        })
        .collect()
}

fn deps_of<'a>(all: &'a [(String, BTreeSet<String>)], name: &str) -> &'a BTreeSet<String> {
    &all.iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no package {name}"))
        .1
}

#[test]
fn api_depends_on_region_core_and_wire_only() {
    let all = dependencies(&metadata());
    let ingot: BTreeSet<&str> = deps_of(&all, "ingot-api")
        .iter()
        .map(String::as_str)
        .filter(|d| d.starts_with("ingot-"))
        .collect();
    assert_eq!(
        ingot,
        BTreeSet::from(["ingot-core", "ingot-region", "ingot-wire"]),
        "api reaches the data only through the region"
    );
}

#[test]
fn only_the_region_and_the_binary_use_the_store() {
    let all = dependencies(&metadata());
    let users: BTreeSet<&str> = all
        .iter()
        .filter(|(_, d)| d.contains("ingot-store"))
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(users, BTreeSet::from(["ingot", "ingot-region"]));
}

#[test]
fn core_and_wire_do_no_io() {
    let all = dependencies(&metadata());
    // Each addition here is a decision: a pure crate, no IO.
    let pure = [
        (
            "ingot-core",
            &[
                "serde",
                "serde_json",
                "sxd-document",
                "sxd-xpath",
                "thiserror",
                "yaml-rust2",
            ][..],
        ),
        (
            "ingot-wire",
            &[
                "base64",
                "memchr",
                "percent-encoding",
                "serde",
                "serde_json",
                "thiserror",
            ][..],
        ),
    ];
    for (name, allowed) in pure {
        let extra: Vec<&String> = deps_of(&all, name)
            .iter()
            .filter(|d| !allowed.contains(&d.as_str()))
            .collect();
        assert!(extra.is_empty(), "{name} gained dependencies: {extra:?}");
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let io = [
        "std::fs",
        "std::process",
        "std::env",
        "TcpStream",
        "TcpListener",
        "UdpSocket",
        "File::",
        "tokio::",
    ];
    for krate in ["core", "wire"] {
        let mut stack = vec![root.join(krate).join("src")];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).expect("read src") {
                let p = e.expect("entry").path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                for (n, line) in text.lines().enumerate() {
                    let code = line.split("//").next().unwrap_or_default();
                    for word in io {
                        assert!(
                            !code.contains(word),
                            "{}:{}: {word} in a crate that does no IO: {line}",
                            p.display(),
                            n + 1
                        );
                    }
                }
            }
        }
    }
}
