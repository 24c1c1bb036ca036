//! tokio UDP server around [`Engine`], plus the persister thread doing group commit.
//!
//! Packet loop (one tokio task): receive -> [`Engine::handle`] -> OFFER/NAK sent at once;
//! ACKs go with their lease record to the persister thread. The persister takes everything
//! queued, writes it with one `write`, one `fdatasync`, and only then sends the ACKs: a burst of
//! ACKs costs one fsync, and no ACK leaves before its lease is on disk.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, SocketAddrV4, UdpSocket as StdUdpSocket};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use socket2::{Domain, Protocol, Socket, Type};

use crate::config::Config;
use crate::engine::{Action, Engine, EventHook, Stats};
use crate::lease::{LeaseDb, LeaseLog, LeaseRecord};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("lease log {path}: {source}")]
    LeaseLog { path: String, source: io::Error },
    #[error("socket: {0}")]
    Io(#[from] io::Error),
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

enum Job {
    Commit {
        record: LeaseRecord,
        packet: Vec<u8>,
        dest: SocketAddrV4,
    },
    Persist(LeaseRecord),
    Compact(Vec<LeaseRecord>),
}

/// A bound, ready-to-run server.
pub struct DhcpServer {
    engine: Engine,
    log: Option<LeaseLog>,
    socket: StdUdpSocket,
}

impl std::fmt::Debug for DhcpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhcpServer")
            .field("engine", &self.engine)
            .field("local_addr", &self.socket.local_addr().ok())
            .finish_non_exhaustive()
    }
}

fn bind_socket(cfg: &Config) -> io::Result<StdUdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_broadcast(true)?;
    // Absorb bursts; the kernel caps these at rmem_max/wmem_max unless privileged.
    let _ = s.set_recv_buffer_size(8 << 20);
    let _ = s.set_send_buffer_size(8 << 20);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(ifname) = &cfg.interface {
        s.bind_device(Some(ifname.as_bytes()))?;
    }
    s.bind(&cfg.listen.into())?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

impl DhcpServer {
    /// Validates the config, replays the lease log (if any) and binds the socket.
    pub fn bind(cfg: Config) -> Result<Self, ServerError> {
        let (log, db) = match &cfg.lease_file {
            Some(path) => {
                let (log, recs, stats) =
                    LeaseLog::open(path).map_err(|source| ServerError::LeaseLog {
                        path: path.display().to_string(),
                        source,
                    })?;
                if stats.corrupt > 0 || stats.truncated_bytes > 0 {
                    tracing::warn!(
                        corrupt = stats.corrupt,
                        truncated_bytes = stats.truncated_bytes,
                        "lease log had damaged records (skipped)"
                    );
                }
                let db = LeaseDb::from_records(&recs);
                tracing::info!(
                    records = stats.records,
                    leases = db.bound(unix_now()).count(),
                    path = %path.display(),
                    "lease log replayed"
                );
                (Some(log), db)
            }
            None => (None, LeaseDb::new()),
        };
        let engine = Engine::new(cfg, db)?;
        let socket = bind_socket(engine.config())?;
        Ok(DhcpServer {
            engine,
            log,
            socket,
        })
    }

    pub fn with_event_hook(mut self, hook: EventHook) -> Self {
        self.engine.set_event_hook(Some(hook));
        self
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Serves until `shutdown` resolves; then flushes pending ACKs and returns the final
    /// counters. Must run inside a tokio runtime.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<Stats, ServerError> {
        let DhcpServer {
            mut engine,
            log,
            socket,
        } = self;
        let persister_sock = socket.try_clone()?;
        let sock = tokio::net::UdpSocket::from_std(socket)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let persister = match log {
            Some(log) => Some(
                thread::Builder::new()
                    .name("dhcp-leases".into())
                    .spawn(move || persister_loop(log, rx, persister_sock))?,
            ),
            None => None,
        };
        let durable = persister.is_some();
        let mut since_compaction: usize = 0;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut buf = vec![0u8; 4096];
        tokio::pin!(shutdown);
        tracing::info!(addr = ?sock.local_addr().ok(), durable, "DHCP server running");
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                _ = tick.tick() => {
                    let now = unix_now();
                    engine.tick(now);
                    let live = engine.db().bound_count();
                    if durable && since_compaction > 50_000usize.max(4 * live) {
                        let snap = engine.snapshot(now);
                        since_compaction = snap.len();
                        let _ = tx.send(Job::Compact(snap));
                    }
                }
                r = sock.recv_from(&mut buf) => {
                    let mut next = Some(r);
                    // Drain what is queued before going back to select (fewer wakeups).
                    let mut budget = 256;
                    while let Some(r) = next.take() {
                        match r {
                            Ok((n, _from)) => {
                                let now = unix_now();
                                let action = engine.handle(buf.get(..n).unwrap_or(&[]), now);
                                dispatch(&sock, &tx, durable, action, &mut since_compaction).await;
                            }
                            Err(e) => tracing::debug!(error = %e, "recv_from"),
                        }
                        budget -= 1;
                        if budget > 0 {
                            match sock.try_recv_from(&mut buf) {
                                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                                r => next = Some(r),
                            }
                        }
                    }
                }
            }
        }
        drop(tx);
        if let Some(h) = persister {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
        let stats = engine.stats();
        tracing::info!(?stats, "DHCP server stopped");
        Ok(stats)
    }
}

async fn dispatch(
    sock: &tokio::net::UdpSocket,
    tx: &mpsc::Sender<Job>,
    durable: bool,
    action: Action,
    since_compaction: &mut usize,
) {
    match action {
        Action::None => {}
        Action::Reply { packet, dest } => send(sock, &packet, dest).await,
        Action::CommitThenReply {
            record,
            packet,
            dest,
        } => {
            if durable {
                *since_compaction += 1;
                let _ = tx.send(Job::Commit {
                    record,
                    packet,
                    dest,
                });
            } else {
                send(sock, &packet, dest).await;
            }
        }
        Action::Persist(rec) => {
            if durable {
                *since_compaction += 1;
                let _ = tx.send(Job::Persist(rec));
            }
        }
    }
}

async fn send(sock: &tokio::net::UdpSocket, packet: &[u8], dest: SocketAddrV4) {
    let r = match sock.try_send_to(packet, dest.into()) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => sock.send_to(packet, dest).await,
        r => r,
    };
    if let Err(e) = r {
        tracing::debug!(%dest, error = %e, "send_to failed");
    }
}

/// Sends on the shared (non-blocking) socket from a plain thread.
fn send_blocking(sock: &StdUdpSocket, packet: &[u8], dest: SocketAddrV4) {
    for _ in 0..1000 {
        match sock.send_to(packet, dest) {
            Ok(_) => return,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_micros(100))
            }
            Err(e) => {
                tracing::debug!(%dest, error = %e, "send_to failed");
                return;
            }
        }
    }
}

/// How long the persister waits for more records before it syncs a batch: ACKs leave at most
/// this much later, and a burst shares one fdatasync.
const GATHER: Duration = Duration::from_millis(1);

/// Group commit: take everything queued, one write + one fdatasync, then release the ACKs.
fn persister_loop(mut log: LeaseLog, rx: mpsc::Receiver<Job>, sock: StdUdpSocket) {
    let mut recs: Vec<LeaseRecord> = Vec::with_capacity(4096);
    let mut replies: Vec<(Vec<u8>, SocketAddrV4)> = Vec::with_capacity(4096);
    let mut failing = false;
    let (mut batches, mut max_batch, mut max_sync_us) = (0u64, 0usize, 0u128);
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        let mut compact = None;
        // Gather ACKs for a moment so that a burst shares one fdatasync even at low rates.
        let gather_until = std::time::Instant::now() + GATHER;
        while let Some(job) = next.take() {
            match job {
                Job::Commit {
                    record,
                    packet,
                    dest,
                } => {
                    recs.push(record);
                    replies.push((packet, dest));
                }
                Job::Persist(r) => recs.push(r),
                Job::Compact(snap) => {
                    compact = Some(snap);
                    break; // records queued after the snapshot go to the new file
                }
            }
            if recs.len() < 16_384 {
                next = rx.try_recv().ok();
                if next.is_none() {
                    let now = std::time::Instant::now();
                    if now < gather_until {
                        next = rx.recv_timeout(gather_until - now).ok();
                    }
                }
            }
        }
        if !recs.is_empty() {
            batches += 1;
            max_batch = max_batch.max(recs.len());
            let t0 = std::time::Instant::now();
            let res = log.append(&recs).and_then(|_| log.sync());
            max_sync_us = max_sync_us.max(t0.elapsed().as_micros());
            match res {
                Ok(()) => {
                    if failing {
                        tracing::info!("lease log writable again");
                        failing = false;
                    }
                    for (p, d) in &replies {
                        send_blocking(&sock, p, *d);
                    }
                }
                Err(e) => {
                    // Not durable -> no ACK; the clients will retry.
                    if !failing {
                        tracing::error!(error = %e, path = %log.path().display(),
                            "lease log write/fsync failed; withholding ACKs");
                        failing = true;
                    }
                }
            }
            recs.clear();
            replies.clear();
        }
        if let Some(snap) = compact {
            let t0 = std::time::Instant::now();
            match log.compact(&snap) {
                Ok(()) => tracing::info!(
                    leases = snap.len(),
                    us = t0.elapsed().as_micros() as u64,
                    "lease log compacted"
                ),
                Err(e) => tracing::error!(error = %e, "lease log compaction failed"),
            }
        }
    }
    tracing::info!(batches, max_batch, max_sync_us, "lease persister stopped");
}
