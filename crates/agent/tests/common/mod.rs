//! What the agent's deploy tests share: root/tool checks, loop devices, an HTTP server for
//! images, storage-step builders, and `ingot-agent install` itself.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use ingot_core::deploy::{
    render_network_config, DeployConfig, FsType, ImageSource, NetIface, NetKind, NetLink,
    PartitionFlag, PartitionTable, Reporting, StorageStep,
};

pub const AGENT: &str = env!("CARGO_BIN_EXE_ingot-agent");

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Why this host cannot run the tests, if it cannot.
pub fn missing() -> Option<String> {
    // SAFETY: getuid cannot fail.
    if unsafe { libc::getuid() } != 0 {
        return Some("not root (loop devices and mounts need it)".into());
    }
    if !Path::new("/dev/loop-control").exists() {
        return Some("no /dev/loop-control".into());
    }
    for t in [
        "losetup",
        "mke2fs",
        "mkfs.fat",
        "mkswap",
        "extlinux",
        "lvm",
        "mksquashfs",
        "xz",
        "bzip2",
    ] {
        if !Command::new("sh")
            .args(["-c", &format!("command -v {t}")])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(format!("{t} is not installed (scripts/peers/deploy.sh)"));
        }
    }
    None
}

/// Skips (prints why), or fails in CI.
pub fn skip(test: &str) -> bool {
    match missing() {
        None => false,
        Some(why) => {
            assert!(!in_ci(), "{test}: {why} (CI is set, so this is a failure)");
            eprintln!("SKIPPED {test}: {why}");
            true
        }
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn deb_cache() -> PathBuf {
    std::env::var_os("INGOT_DEB_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/deb-cache"))
}

/// A loop device over a sparse file, detached on drop.
pub struct Loop {
    pub dev: String,
    pub file: PathBuf,
}

impl Loop {
    pub fn new(file: &Path, bytes: u64) -> Loop {
        let f = std::fs::File::create(file).unwrap();
        f.set_len(bytes).unwrap();
        drop(f);
        let out = Command::new("losetup")
            .args(["-f", "--show", "-P"])
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "losetup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Loop {
            dev: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            file: file.to_path_buf(),
        }
    }

    pub fn name(&self) -> &str {
        self.dev.trim_start_matches("/dev/")
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
    }
}

/// An HTTP server on 127.0.0.1 serving `files` by path (404 for anything else).
pub fn serve(files: Vec<(String, Vec<u8>)>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let files = Arc::new(files);
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let files = files.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut first = String::new();
                if r.read_line(&mut first).is_err() {
                    return;
                }
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
                match files.iter().find(|(p, _)| *p == path) {
                    Some((_, body)) => {
                        let _ = write!(
                            s,
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = s.write_all(body);
                    }
                    None => {
                        let _ = s.write_all(
                            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        );
                    }
                }
            });
        }
    });
    base
}

pub fn sha256(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

pub fn disk(id: &str, path: &str, table: PartitionTable) -> StorageStep {
    StorageStep::Disk {
        id: id.into(),
        serial: None,
        path: Some(path.into()),
        size: 0,
        ptable: Some(table),
        boot: true,
    }
}

pub fn part(id: &str, n: u32, size: u64, flag: Option<PartitionFlag>) -> StorageStep {
    StorageStep::Partition {
        id: id.into(),
        device: "disk0".into(),
        number: n,
        size,
        flag,
    }
}

pub fn part_on(
    disk: &str,
    id: &str,
    n: u32,
    size: u64,
    flag: Option<PartitionFlag>,
) -> StorageStep {
    StorageStep::Partition {
        id: id.into(),
        device: disk.into(),
        number: n,
        size,
        flag,
    }
}

pub fn format(id: &str, volume: &str, fstype: FsType, label: Option<&str>) -> StorageStep {
    StorageStep::Format {
        id: id.into(),
        volume: volume.into(),
        fstype,
        label: label.map(str::to_string),
        uuid: None,
    }
}

pub fn mount(id: &str, format: &str, path: &str) -> StorageStep {
    StorageStep::Mount {
        id: id.into(),
        format: format.into(),
        path: path.into(),
        options: None,
    }
}

pub fn config(storage: Vec<StorageStep>, image: ImageSource, reporting: &str) -> DeployConfig {
    use base64::Engine;
    let user_data = "#!/bin/sh\necho \"user-data ran on $(hostname)\" > /root/user-data.txt\necho USER-DATA-RAN\n";
    DeployConfig {
        system_id: "abc123".into(),
        fqdn: "web1.maas".into(),
        hostname: "web1".into(),
        image,
        storage,
        network_config: render_network_config(&[NetIface {
            name: "eth0".into(),
            mac: "52:54:00:12:34:56".into(),
            kind: NetKind::Physical,
            mtu: None,
            links: vec![NetLink::Static {
                address: "10.0.2.15".into(),
                prefix: 24,
                gateway: Some("10.0.2.2".into()),
                dns: vec!["10.0.2.3".into()],
                search: vec![],
                routes: vec![],
            }],
        }]),
        user_data: Some(base64::engine::general_purpose::STANDARD.encode(user_data)),
        ssh_keys: vec!["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITEST test@ingot".into()],
        reporting: Reporting {
            endpoint: reporting.into(),
            consumer_key: "ck-test".into(),
            token_key: "tk-test".into(),
            token_secret: "ts-test".into(),
        },
        vendor_data: None,
        kernel_opts: String::new(),
        special_mounts: vec![],
    }
}

/// `ingot-agent install`: (success, stdout, stderr).
pub fn install(dir: &Path, cfg: &DeployConfig) -> (bool, String, String) {
    let cfg_path = dir.join("deploy.json");
    std::fs::write(&cfg_path, serde_json::to_vec_pretty(cfg).unwrap()).unwrap();
    let target = dir.join("target");
    std::fs::create_dir_all(&target).unwrap();
    let out = Command::new(AGENT)
        .arg("install")
        .arg("--config")
        .arg(&cfg_path)
        .arg("--target")
        .arg(&target)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A small gzip'ed tar (for the failure cases).
pub fn tiny_tgz() -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut b = tar::Builder::new(gz);
    let data = vec![b'x'; 200_000];
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    b.append_data(&mut h, "etc/big", &data[..]).unwrap();
    b.into_inner().unwrap().finish().unwrap()
}
