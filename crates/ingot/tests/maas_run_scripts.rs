//! `maas-run-scripts` (the ingot-agent the region serves, and the initramfs embeds) runs on any
//! Linux of its architecture: statically linked (no program interpreter, no shared library
//! needed), a few megabytes, and it works in an empty root holding only itself, /proc, /sys and
//! /dev. The agent is the one `scripts/build-agent.sh` builds (`common::host::agent_binary`).

mod common;
use common::host::{agent_binary, host_cpus};
use common::Server;
use std::path::Path;
use std::process::Command;

/// What the dynamic linker would need: the program interpreter (PT_INTERP) and the shared
/// libraries (DT_NEEDED entries of PT_DYNAMIC), read from a little-endian ELF64 file.
#[derive(Debug)]
struct Linking {
    interpreter: Option<String>,
    needed: usize,
}

fn elf_linking(b: &[u8]) -> Linking {
    assert!(b.len() > 64 && &b[..4] == b"\x7fELF", "not an ELF file");
    assert_eq!((b[4], b[5]), (2, 1), "not a little-endian ELF64 file");
    let u16_at = |o: usize| u16::from_le_bytes(b[o..o + 2].try_into().unwrap()) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    let mut l = Linking {
        interpreter: None,
        needed: 0,
    };
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let (ty, off, size) = (u32_at(ph), u64_at(ph + 8), u64_at(ph + 32));
        match ty {
            // PT_INTERP: the dynamic loader's path.
            3 => {
                let s = &b[off..off + size];
                l.interpreter = Some(String::from_utf8_lossy(s).trim_end_matches('\0').into());
            }
            // PT_DYNAMIC: (tag, value) pairs up to DT_NULL; DT_NEEDED = 1. A static-pie has
            // this segment (for its own relocations) but needs nothing.
            2 => {
                for e in (off..off + size).step_by(16) {
                    match u64_at(e) {
                        0 => break,
                        1 => l.needed += 1,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    l
}

/// Run `cmd` chrooted into `root`, in a mount namespace of its own where the host's /proc,
/// /sys and /dev are bind-mounted into `root` (gone with the namespace).
fn in_empty_root(root: &Path, cmd: &[&str]) -> std::process::Output {
    Command::new("unshare")
        .args(["--mount", "--fork", "--", "sh", "-c"])
        .arg(
            "set -e; for d in proc sys dev; do mount --rbind /$d \"$1/$d\"; done; \
             exec chroot \"$@\"",
        )
        .arg("sh")
        .arg(root)
        .args(cmd)
        .output()
        .expect("run unshare")
}

/// An empty root: the program as `name`, and the mount points /proc, /sys and /dev.
fn empty_root(agent: &[u8], name: &str, extra_dirs: &[&str]) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    for d in ["proc", "sys", "dev"].iter().chain(extra_dirs) {
        std::fs::create_dir(root.path().join(d)).unwrap();
    }
    let p = root.path().join(name);
    std::fs::write(&p, agent).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    root
}

#[test]
fn the_agent_is_statically_linked_and_a_few_megabytes() {
    let agent = agent_binary();
    let bytes = std::fs::read(&agent).unwrap();
    let l = elf_linking(&bytes);
    eprintln!(
        "{}: {} bytes ({:.1} MiB), {l:?}",
        agent.display(),
        bytes.len(),
        bytes.len() as f64 / (1 << 20) as f64
    );
    assert_eq!(l.interpreter, None, "the agent needs a dynamic loader");
    assert_eq!(l.needed, 0, "the agent needs shared libraries");
    assert!(
        bytes.len() < 20 << 20,
        "the agent is {} bytes: more than 20 MiB",
        bytes.len()
    );
}

#[test]
fn the_agent_runs_in_an_empty_root() {
    if common::skip_unless_root("unshare --mount, chroot") {
        return;
    }
    let root = empty_root(&std::fs::read(agent_binary()).unwrap(), "ingot-agent", &[]);
    let out = in_empty_root(root.path(), &["/ingot-agent", "--version"]);
    assert!(
        out.status.success(),
        "--version in an empty root: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("ingot-agent {}", env!("CARGO_PKG_VERSION"))
    );
    // The inventory: read from /proc, /sys and /dev only.
    let out = in_empty_root(root.path(), &["/ingot-agent", "resources"]);
    assert!(
        out.status.success(),
        "resources in an empty root: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("resources JSON");
    assert_eq!(
        doc["resources"]["cpu"]["total"].as_i64(),
        Some(host_cpus()),
        "the CPUs counted in the empty root are the host's"
    );
    assert!(doc["resources"]["memory"]["total"].as_u64().unwrap_or(0) > 0);
    // It left nothing behind and needed nothing else.
    let mut names: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["dev", "ingot-agent", "proc", "sys"]);
}

/// The seed's lines from an empty root: the program the region serves at
/// /MAAS/maas-run-scripts is the static agent, and `register-machine` run from a root with only
/// it, /proc, /sys, /dev and an empty /tmp (where it runs the built-ins) registers the host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_maas_run_scripts_registers_from_an_empty_root() {
    if common::skip_unless_root("unshare --mount, chroot") {
        return;
    }
    let agent = std::fs::read(agent_binary()).unwrap();
    let s = Server::start(&[]).await;
    let body = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{}/MAAS/maas-run-scripts", s.base))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        body.as_ref() == agent.as_slice(),
        "the region serves the static agent"
    );
    // This host runs the region, so it is a machine already (the controller's), which
    // register-machine would find again: that role is taken away first, so the host is new.
    let c = s.client();
    common::forget_region_controllers(&c).await;
    let root = empty_root(&body, "maas-run-scripts", &["tmp"]);
    let maas = format!("{}/MAAS", s.base);
    let out = tokio::task::spawn_blocking({
        let (root, key) = (root.path().to_path_buf(), s.key.clone());
        move || {
            in_empty_root(
                &root,
                &[
                    "/maas-run-scripts",
                    "register-machine",
                    "--hostname",
                    "static-agent-host",
                    &maas,
                    &key,
                ],
            )
        }
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "register-machine in an empty root: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        root.path().join("static-agent-host-creds.yaml").is_file(),
        "the creds file is written where it ran"
    );
    let list = c
        .get("/MAAS/api/2.0/machines/?hostname=static-agent-host")
        .await
        .ok()
        .json();
    let m = &list[0];
    assert_eq!(m["status_name"], "Deployed", "{list:#}");
    assert_eq!(m["cpu_count"].as_i64(), Some(host_cpus()), "{m:#}");
}
