//! A small TFTP client for the tests, plus server fixtures.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ingot_tftp::packet::{self, Packet, OP_RRQ};
use ingot_tftp::{TftpConfig, TftpEvent, TftpServer};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio::time::timeout;

pub struct Fixture {
    pub addr: SocketAddr,
    pub events: Arc<Mutex<Vec<TftpEvent>>>,
    task: JoinHandle<()>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Fixture {
    pub fn events(&self) -> Vec<TftpEvent> {
        self.events.lock().unwrap().clone()
    }

    /// Wait until `pred` holds for the recorded events (max 5 s).
    pub async fn wait_event(&self, pred: impl Fn(&TftpEvent) -> bool) -> TftpEvent {
        for _ in 0..500 {
            if let Some(e) = self.events().into_iter().find(|e| pred(e)) {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("event not seen; events: {:#?}", self.events());
    }
}

pub async fn serve_dir(root: &Path, config: TftpConfig) -> Fixture {
    let server = TftpServer::bind_dir("127.0.0.1:0".parse().unwrap(), root, config)
        .await
        .expect("bind");
    start(server)
}

pub fn start(server: TftpServer) -> Fixture {
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let server = server.on_event(move |e| ev.lock().unwrap().push(e.clone()));
    let addr = server.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = server.run().await;
    });
    Fixture { addr, events, task }
}

/// Deterministic pseudo-random content.
pub fn content(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761).wrapping_add(12345);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 8) as u8
        })
        .collect()
}

pub fn write_file(dir: &Path, name: &str, data: &[u8]) {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, data).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// A raw client socket, with helpers to speak packet by packet.
pub struct Raw {
    pub sock: UdpSocket,
    pub server: SocketAddr,
    /// Transfer TID learnt from the first reply.
    pub peer: Option<SocketAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    Data(u16, Vec<u8>),
    Oack(Vec<(String, String)>),
    Error(u16, String),
    Other(Vec<u8>),
}

impl Raw {
    pub async fn new(server: SocketAddr) -> Raw {
        Raw {
            sock: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            server,
            peer: None,
        }
    }

    pub async fn send_to_server(&self, bytes: &[u8]) {
        self.sock.send_to(bytes, self.server).await.unwrap();
    }

    pub async fn rrq(&self, path: &str, opts: &[(&str, &str)]) {
        self.send_to_server(&packet::encode_request(OP_RRQ, path, "octet", opts))
            .await;
    }

    pub async fn ack(&self, block: u16) {
        let peer = self.peer.expect("no transfer peer yet");
        self.sock
            .send_to(&packet::encode_ack(block), peer)
            .await
            .unwrap();
    }

    pub async fn send_peer(&self, bytes: &[u8]) {
        let peer = self.peer.expect("no transfer peer yet");
        self.sock.send_to(bytes, peer).await.unwrap();
    }

    /// Next packet within `wait`, or None.
    pub async fn recv(&mut self, wait: Duration) -> Option<Got> {
        let mut buf = vec![0u8; 70000];
        let (n, from) = timeout(wait, self.sock.recv_from(&mut buf))
            .await
            .ok()?
            .ok()?;
        if self.peer.is_none() {
            self.peer = Some(from);
        }
        let d = &buf[..n];
        Some(match packet::parse_packet(d) {
            Ok(Packet::Data { block, data }) => Got::Data(block, data.to_vec()),
            Ok(Packet::Oack { options }) => Got::Oack(
                options
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            Ok(Packet::Error { code, message }) => Got::Error(code.as_u16(), message.into_owned()),
            _ => Got::Other(d.to_vec()),
        })
    }

    /// Everything arriving within `wait` of silence.
    pub async fn drain(&mut self, wait: Duration) -> Vec<Got> {
        let mut v = Vec::new();
        while let Some(g) = self.recv(wait).await {
            v.push(g);
        }
        v
    }
}

#[derive(Debug)]
pub struct Fetched {
    pub data: Vec<u8>,
    pub oack: Option<Vec<(String, String)>>,
    pub data_packets: u64,
}

/// Full RFC 1350 / 2347 / 7440 download. Acks after `windowsize` in-order blocks or the last.
pub async fn fetch(
    server: SocketAddr,
    path: &str,
    opts: &[(&str, &str)],
) -> Result<Fetched, (u16, String)> {
    let mut c = Raw::new(server).await;
    c.rrq(path, opts).await;
    let mut blksize = 512usize;
    let mut window = 1u64;
    let mut oack = None;
    let mut data = Vec::new();
    let mut expect: u16 = 1;
    let mut in_window = 0u64;
    let mut data_packets = 0;
    let wait = Duration::from_secs(5);
    let first = c.recv(wait).await.ok_or((999, "no reply".to_string()))?;
    let mut pending = None;
    match first {
        Got::Oack(o) => {
            for (k, v) in &o {
                match k.as_str() {
                    "blksize" => blksize = v.parse().unwrap(),
                    "windowsize" => window = v.parse().unwrap(),
                    _ => {}
                }
            }
            oack = Some(o);
            c.ack(0).await;
        }
        Got::Error(code, msg) => return Err((code, msg)),
        other => pending = Some(other),
    }
    loop {
        let g = match pending.take() {
            Some(g) => g,
            None => c.recv(wait).await.ok_or((998, "timeout".to_string()))?,
        };
        match g {
            Got::Data(b, d) => {
                data_packets += 1;
                if b != expect {
                    continue; // duplicate / out of order: wait for the in-order block
                }
                let last = d.len() < blksize;
                data.extend_from_slice(&d);
                in_window += 1;
                if last || in_window >= window {
                    c.ack(b).await;
                    in_window = 0;
                }
                expect = expect.wrapping_add(1);
                if last {
                    return Ok(Fetched {
                        data,
                        oack,
                        data_packets,
                    });
                }
            }
            Got::Error(code, msg) => return Err((code, msg)),
            Got::Oack(_) | Got::Other(_) => {}
        }
    }
}

pub fn opt<'a>(oack: &'a Option<Vec<(String, String)>>, name: &str) -> Option<&'a str> {
    oack.as_ref()?
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
