//! The DHCP server around [`Engine`]: one thread that receives, answers, group-commits the
//! lease records of a batch (one `write`, one `fdatasync`) and only then sends the batch's
//! ACKs. No packet is handed between threads: at 12,000 DORA/s the wake-ups of a
//! receive-task-plus-persister-thread design cost more CPU than the protocol work.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, SocketAddrV4, UdpSocket as StdUdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
    /// counters. Must run inside a tokio runtime; the serving itself happens on one dedicated
    /// thread (see [`serve_blocking`]).
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<Stats, ServerError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = thread::Builder::new()
            .name("dhcp".into())
            .spawn(move || serve_blocking(self, &flag))?;
        // The thread is told to stop however this future ends: when `shutdown` resolves, and
        // also when the future is dropped (its task aborted, its runtime shutting down). Without
        // this a dropped server kept serving, and the blocking join below kept the runtime's
        // shutdown waiting for it forever.
        let _stop_on_drop = StopOnDrop(stop.clone());
        let mut join = tokio::task::spawn_blocking(move || handle.join());
        tokio::pin!(shutdown);
        let joined = tokio::select! {
            _ = &mut shutdown => {
                stop.store(true, Ordering::Relaxed);
                join.await
            }
            r = &mut join => r,
        };
        match joined {
            Ok(Ok(r)) => r,
            _ => Err(ServerError::Io(io::Error::other(
                "the DHCP thread panicked",
            ))),
        }
    }
}

/// Sets the serving thread's stop flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Datagrams taken per batch before the batch's leases are committed and its ACKs sent.
const BATCH: usize = 512;

/// Append the pending lease records with one `write` + one `fdatasync`, then send their ACKs;
/// when the log cannot be written no ACK leaves (the clients retry).
fn commit(
    log: &mut LeaseLog,
    socket: &StdUdpSocket,
    recs: &mut Vec<LeaseRecord>,
    acks: &mut Vec<(Vec<u8>, SocketAddrV4)>,
    failing: &mut bool,
) {
    let res = log.append(recs).and_then(|_| log.sync());
    match res {
        Ok(()) => {
            if *failing {
                tracing::info!("lease log writable again");
                *failing = false;
            }
            send_batch(socket, acks);
        }
        Err(e) => {
            if !*failing {
                tracing::error!(error = %e, path = %log.path().display(),
                    "lease log write/fsync failed; withholding ACKs");
                *failing = true;
            }
        }
    }
    recs.clear();
    acks.clear();
}

/// The whole server on one thread, without handing packets between threads: wait until the
/// socket is readable, take every queued datagram (up to [`BATCH`]), answer DISCOVERs at once,
/// and keep the lease records of REQUESTs pending for at most [`GATHER`]; then append them with
/// one `write` + one `fdatasync` and only then send their ACKs. No ACK ever leaves before its
/// lease is durable; the busier the server, the more ACKs share a sync. (Handing each batch to
/// a persister thread instead costs a wake-up per batch, which measured 0.67-0.86x Kea's CPU
/// per DORA against 0.24-0.54x for this loop.)
fn serve_blocking(server: DhcpServer, stop: &AtomicBool) -> Result<Stats, ServerError> {
    let DhcpServer {
        mut engine,
        mut log,
        socket,
    } = server;
    socket.set_nonblocking(true)?;
    let durable = log.is_some();
    tracing::info!(addr = ?socket.local_addr().ok(), durable, "DHCP server running");
    let mut rx = crate::mmsg::RecvBatch::new(RECV_BATCH, 2048);
    let mut replies: Vec<(Vec<u8>, SocketAddrV4)> = Vec::with_capacity(RECV_BATCH);
    let mut recs: Vec<LeaseRecord> = Vec::with_capacity(BATCH);
    let mut acks: Vec<(Vec<u8>, SocketAddrV4)> = Vec::with_capacity(BATCH);
    let mut since_compaction: usize = 0;
    let mut failing = false;
    let mut next_tick = Instant::now() + TICK;
    let (mut batches, mut max_batch, mut max_sync_us) = (0u64, 0usize, 0u128);
    // When the oldest record of the pending batch arrived: the batch is synced GATHER later
    // (or at once when it is large), so that at low rates several ACKs share one fdatasync.
    let mut oldest: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        let mut wait = next_tick
            .saturating_duration_since(Instant::now())
            .min(STOP_POLL);
        if let Some(t) = oldest {
            wait = wait.min((t + GATHER).saturating_duration_since(Instant::now()));
        }
        if wait_readable(&socket, wait)? {
            let now = unix_now();
            // Take what is queued in batches (one recvmmsg each); answers to DISCOVERs and the
            // like go out together at the end of each batch (one sendmmsg).
            let mut taken = 0;
            while taken < BATCH {
                let n = match rx.recv(&socket) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        tracing::debug!(error = %e, "recvmmsg");
                        break;
                    }
                };
                taken += n;
                for d in rx.datagrams() {
                    match engine.handle(d, now) {
                        Action::None => {}
                        Action::Reply { packet, dest } => replies.push((packet, dest)),
                        Action::CommitThenReply {
                            record,
                            packet,
                            dest,
                        } => {
                            if durable {
                                recs.push(record);
                                acks.push((packet, dest));
                            } else {
                                replies.push((packet, dest));
                            }
                        }
                        Action::Persist(r) => {
                            if durable {
                                recs.push(r);
                            }
                        }
                    }
                }
                send_batch(&socket, &replies);
                replies.clear();
                if n < RECV_BATCH {
                    break;
                }
            }
            // Coalesce: after a small batch, let the next packets gather for a moment instead
            // of waking up for each one (a wake-up costs more than handling a packet). Adds at
            // most COALESCE to an answer; a full batch goes straight back to the socket.
            if taken < COALESCE_BELOW {
                std::thread::sleep(COALESCE);
            }
        }
        if !recs.is_empty() && oldest.is_none() {
            oldest = Some(Instant::now());
        }
        let due = oldest.is_some_and(|t| t.elapsed() >= GATHER) || recs.len() >= GATHER_MAX;
        if let (Some(l), false, true) = (log.as_mut(), recs.is_empty(), due) {
            oldest = None;
            batches += 1;
            max_batch = max_batch.max(recs.len());
            since_compaction += recs.len();
            let t0 = Instant::now();
            commit(l, &socket, &mut recs, &mut acks, &mut failing);
            max_sync_us = max_sync_us.max(t0.elapsed().as_micros());
        }
        if Instant::now() >= next_tick {
            next_tick = Instant::now() + TICK;
            let now = unix_now();
            engine.tick(now);
            let live = engine.db().bound_count();
            if let Some(l) = log.as_mut() {
                if since_compaction > 50_000usize.max(4 * live) {
                    let snap = engine.snapshot(now);
                    since_compaction = snap.len();
                    let t0 = Instant::now();
                    match l.compact(&snap) {
                        Ok(()) => tracing::info!(
                            leases = snap.len(),
                            us = t0.elapsed().as_micros() as u64,
                            "lease log compacted"
                        ),
                        Err(e) => tracing::error!(error = %e, "lease log compaction failed"),
                    }
                }
            }
        }
    }
    // Stopping: what is still gathering (at most GATHER old) is made durable and answered
    // before the thread ends, so a stop never loses a lease a client was about to be ACKed.
    if let (Some(l), false) = (log.as_mut(), recs.is_empty()) {
        batches += 1;
        max_batch = max_batch.max(recs.len());
        commit(l, &socket, &mut recs, &mut acks, &mut failing);
    }
    let stats = engine.stats();
    tracing::info!(
        ?stats,
        batches,
        max_batch,
        max_sync_us,
        "DHCP server stopped"
    );
    Ok(stats)
}

/// How long the first lease record of a batch may wait for others before the batch is synced:
/// ACKs leave at most this much later; DISCOVERs are answered meanwhile.
const GATHER: Duration = Duration::from_millis(5);
/// A batch this large is synced at once.
const GATHER_MAX: usize = 256;

const TICK: Duration = Duration::from_secs(1);
/// How often the serving thread looks at the stop flag when nothing arrives.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Block until the socket has a datagram or `timeout` passes (`poll(2)`; std has no readiness
/// wait for a non-blocking socket).
fn wait_readable(sock: &StdUdpSocket, timeout: Duration) -> io::Result<bool> {
    wait_for(sock, libc::POLLIN, timeout)
}

fn wait_for(sock: &StdUdpSocket, events: libc::c_short, timeout: Duration) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: sock.as_raw_fd(),
        events,
        revents: 0,
    };
    // Rounded up: a sub-millisecond remainder must sleep 1 ms, not spin with poll(0).
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd that lives across the call; the fd is owned by `sock`.
    let r = unsafe { libc::poll(&mut pfd, 1, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    Ok(r > 0)
}

/// Batches smaller than this are followed by a [`COALESCE`] pause.
const COALESCE_BELOW: usize = 16;
/// How long the next packets may gather after a small batch.
const COALESCE: Duration = Duration::from_micros(1000);

/// Datagrams taken per `recvmmsg`.
const RECV_BATCH: usize = 64;

/// Send a batch with `sendmmsg`; what the socket buffer cannot take yet goes one by one with a
/// bounded wait, like [`send`].
fn send_batch(sock: &StdUdpSocket, out: &[(Vec<u8>, SocketAddrV4)]) {
    if out.is_empty() {
        return;
    }
    let (sent, err) = crate::mmsg::send_all(sock, out);
    if let Some(e) = &err {
        if e.kind() != io::ErrorKind::WouldBlock {
            tracing::debug!(error = %e, "sendmmsg failed");
        }
    }
    for (p, d) in out.get(sent..).unwrap_or(&[]) {
        send(sock, p, *d);
    }
}

/// Send on the non-blocking socket; if its buffer is full, wait (bounded) until it drains.
fn send(sock: &StdUdpSocket, packet: &[u8], dest: SocketAddrV4) {
    for _ in 0..100 {
        match sock.send_to(packet, dest) {
            Ok(_) => return,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let _ = wait_for(sock, libc::POLLOUT, Duration::from_millis(10));
            }
            Err(e) => {
                tracing::debug!(%dest, error = %e, "send_to failed");
                return;
            }
        }
    }
}
