//! A simplestreams mirror for the import tests: a throwaway OpenPGP key made by the real
//! `gpg` (scripts/peers/streams.sh), index and product files clear-signed with it, and a small
//! HTTP/1.1 server with Range support that can drop a connection halfway once.
#![allow(dead_code)]

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// A throwaway OpenPGP key in its own GNUPGHOME (its agent is stopped on drop).
pub struct Key {
    pub home: tempfile::TempDir,
    pub uid: String,
}

impl Drop for Key {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--homedir"])
            .arg(self.home.path())
            .args(["--kill", "gpg-agent"])
            .status();
    }
}

pub fn gpg(home: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("gpg")
        .arg("--homedir")
        .arg(home)
        .args([
            "--batch",
            "--yes",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ])
        .args(args)
        .output()
        .expect("run gpg (scripts/peers/streams.sh installs gnupg)");
    assert!(
        out.status.success(),
        "gpg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

impl Key {
    pub fn new(name: &str, algo: &str) -> Key {
        let home = tempfile::Builder::new()
            .prefix("gpg")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let uid = format!("{name} <{name}@ingot.test>");
        gpg(
            home.path(),
            &["--quick-gen-key", &uid, algo, "sign", "never"],
        );
        Key {
            home,
            uid: format!("{name}@ingot.test"),
        }
    }
    /// The public key, binary (as `gpg --export` writes a keyring).
    pub fn public(&self) -> Vec<u8> {
        gpg(self.home.path(), &["--export", &self.uid])
    }
    pub fn clearsign(&self, text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        std::fs::write(&input, text).unwrap();
        let out = dir.path().join("out");
        gpg(
            self.home.path(),
            &[
                "--local-user",
                &self.uid,
                "--clearsign",
                "-o",
                out.to_str().unwrap(),
                input.to_str().unwrap(),
            ],
        );
        std::fs::read_to_string(out).unwrap()
    }
}

/// Write `rel` under `root` (parents created).
pub fn put(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

pub const CID: &str = "com.ubuntu.maas:stable:v3:download";

pub fn item(path: &str, ftype: &str, data: &[u8]) -> Value {
    json!({"ftype": ftype, "path": path, "sha256": hex(data), "size": data.len()})
}

/// Index + product file, plain and signed (`products_key` signs the product file).
pub fn write_streams(root: &Path, products: &Value, index_key: &Key, products_key: &Key) {
    let pfile = format!("streams/v1/{CID}.json");
    let index = json!({"format": "index:1.0", "updated": "Sat, 01 Jun 2024 00:00:00 +0000", "index": {
        CID: {"datatype": "image-downloads", "format": "products:1.0", "path": pfile, "products": products["products"].as_object().unwrap().keys().collect::<Vec<_>>()},
        "com.ubuntu.maas:stable:v3:ids": {"datatype": "image-ids", "path": "streams/v1/ids.json"},
    }});
    let index = serde_json::to_string_pretty(&index).unwrap();
    let products = serde_json::to_string_pretty(products).unwrap();
    put(root, "streams/v1/index.json", index.as_bytes());
    put(
        root,
        "streams/v1/index.sjson",
        index_key.clearsign(&index).as_bytes(),
    );
    put(root, &pfile, products.as_bytes());
    put(
        root,
        &format!("streams/v1/{CID}.sjson"),
        products_key.clearsign(&products).as_bytes(),
    );
}

/// A tiny HTTP/1.1 file server with Range support. Paths in `drop_once` get half their body
/// and a closed connection the first time. Every request is logged as (path, range start).
#[derive(Clone)]
pub struct Mirror {
    pub base: String,
    pub log: Arc<Mutex<Vec<(String, u64)>>>,
    /// While set, bodies above 1 MiB trickle out (64 KiB every 20 ms).
    pub slow: Arc<std::sync::atomic::AtomicBool>,
}

pub async fn serve_mirror(root: PathBuf, drop_once: Vec<String>) -> Mirror {
    serve_mirror_at("127.0.0.1", root, drop_once).await
}

/// [`serve_mirror`] on another local address (a test network's end).
pub async fn serve_mirror_at(ip: &str, root: PathBuf, drop_once: Vec<String>) -> Mirror {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let log: Arc<Mutex<Vec<(String, u64)>>> = Default::default();
    let dropped: Arc<Mutex<HashSet<String>>> = Default::default();
    let slow: Arc<std::sync::atomic::AtomicBool> = Default::default();
    let (log2, drop_once, slow2) = (log.clone(), Arc::new(drop_once), slow.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (root, log, drop_once, dropped, slow) = (
                root.clone(),
                log2.clone(),
                drop_once.clone(),
                dropped.clone(),
                slow2.clone(),
            );
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let path = head
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .trim_start_matches('/')
                    .replace("%3A", ":")
                    .replace("%3a", ":");
                let start: u64 = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        if !k.eq_ignore_ascii_case("range") {
                            return None;
                        }
                        v.trim()
                            .strip_prefix("bytes=")?
                            .trim_end_matches('-')
                            .parse()
                            .ok()
                    })
                    .unwrap_or(0);
                log.lock().unwrap().push((path.clone(), start));
                let data = match std::fs::read(root.join(&path)) {
                    Ok(d) if !path.contains("..") => d,
                    _ => {
                        let _ = sock
                            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                            .await;
                        return;
                    }
                };
                let body = &data[start.min(data.len() as u64) as usize..];
                let status = if start > 0 {
                    format!(
                        "206 Partial Content\r\nContent-Range: bytes {start}-{}/{}",
                        data.len() - 1,
                        data.len()
                    )
                } else {
                    "200 OK".into()
                };
                let hdr = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                if sock.write_all(hdr.as_bytes()).await.is_err() {
                    return;
                }
                let cut = drop_once.contains(&path) && dropped.lock().unwrap().insert(path.clone());
                if cut {
                    let _ = sock.write_all(&body[..body.len() / 2]).await;
                    let _ = sock.flush().await;
                    // Closed with the rest of the promised body unsent.
                    return;
                }
                if body.len() > 1 << 20 && slow.load(std::sync::atomic::Ordering::SeqCst) {
                    for piece in body.chunks(64 << 10) {
                        if sock.write_all(piece).await.is_err() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                } else {
                    let _ = sock.write_all(body).await;
                }
                let _ = sock.shutdown().await;
            });
        }
    });
    Mirror { base, log, slow }
}

pub async fn wait_import(c: &super::Client) -> Value {
    for _ in 0..1200 {
        let r = c
            .get("/MAAS/api/2.0/boot-resources/?op=is_importing")
            .await
            .ok();
        if r.json() == json!(false) {
            return c
                .get("/MAAS/api/2.0/boot-resources/?op=import_status")
                .await
                .ok()
                .json();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the import did not finish in 120 s");
}
