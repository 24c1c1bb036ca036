//! The listening socket: parses requests and starts one task per transfer, each on its own
//! ephemeral UDP socket (a new TID, RFC 1350).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tracing::{debug, info, warn};

use crate::options::{self, Limits};
use crate::packet::{self, encode_error, ErrorCode, Mode, Packet};
use crate::source::{Body, DirSource, FileSource, TftpError, TftpFile};
use crate::transfer::{Outcome, Transfer};

/// Server options.
#[derive(Debug, Clone)]
pub struct TftpConfig {
    /// Largest blksize granted (default 1468: a 1500-byte MTU frame without fragmentation).
    pub max_blksize: u16,
    /// Largest windowsize granted (default 16).
    pub max_windowsize: u16,
    /// Retransmission timeout unless the client negotiates one (default 1 s).
    pub timeout: Duration,
    /// Retransmissions of one packet before the transfer is abandoned (default 5).
    pub max_retries: u32,
    /// Concurrent transfers; beyond it requests get error 0 "server busy" (default 1024).
    pub max_transfers: usize,
    /// Largest file converted for a netascii request (held in memory; default 16 MiB).
    pub max_netascii_size: u64,
}

impl Default for TftpConfig {
    fn default() -> Self {
        TftpConfig {
            max_blksize: 1468,
            max_windowsize: 16,
            timeout: Duration::from_secs(1),
            max_retries: 5,
            max_transfers: 1024,
            max_netascii_size: 16 << 20,
        }
    }
}

/// What happened to a request, for the region's per-machine netboot timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TftpEvent {
    pub client: SocketAddr,
    pub path: String,
    pub kind: TftpEventKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TftpEventKind {
    /// Refused before any data was sent (not found, access violation, WRQ, busy, bad mode).
    Refused { code: ErrorCode, reason: String },
    /// Data is about to flow (after option negotiation is decided).
    Started {
        size: Option<u64>,
        blksize: u16,
        windowsize: u16,
    },
    /// The last block was acknowledged.
    Finished {
        bytes: u64,
        elapsed: Duration,
        packets: u64,
        retransmits: u64,
    },
    /// Abandoned: timeout, client error (e.g. a PXE ROM aborting after learning tsize), IO.
    Failed { bytes: u64, reason: String },
}

/// Event callback type.
pub type EventHook = Arc<dyn Fn(&TftpEvent) + Send + Sync>;

pub(crate) struct Shared {
    pub config: TftpConfig,
    pub source: Arc<dyn FileSource>,
    pub hook: Option<EventHook>,
    pub active: AtomicUsize,
    pub local_ip: IpAddr,
}

impl Shared {
    pub fn emit(&self, client: SocketAddr, path: &str, kind: TftpEventKind) {
        if let Some(h) = &self.hook {
            h(&TftpEvent {
                client,
                path: path.to_owned(),
                kind,
            });
        }
    }
}

/// A read-only TFTP server.
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// use ingot_tftp::{TftpServer, TftpConfig};
/// let server = TftpServer::bind_dir("0.0.0.0:69".parse().unwrap(), "/srv/tftp", TftpConfig::default())
///     .await?
///     .on_event(|e| tracing::info!(?e, "tftp"));
/// server.run().await
/// # }
/// ```
pub struct TftpServer {
    socket: UdpSocket,
    config: TftpConfig,
    source: Arc<dyn FileSource>,
    hook: Option<EventHook>,
}

impl TftpServer {
    /// Bind `addr` and serve from any [`FileSource`].
    pub async fn bind(
        addr: SocketAddr,
        source: impl FileSource,
        config: TftpConfig,
    ) -> io::Result<Self> {
        let socket = UdpSocket::bind(addr).await?;
        Ok(TftpServer {
            socket,
            config,
            source: Arc::new(source),
            hook: None,
        })
    }

    /// Bind `addr` and serve the directory `root` through a [`DirSource`].
    pub async fn bind_dir(
        addr: SocketAddr,
        root: impl AsRef<Path>,
        config: TftpConfig,
    ) -> io::Result<Self> {
        Self::bind(addr, DirSource::new(root)?, config).await
    }

    /// Install the event hook (called synchronously on the transfer's task: keep it cheap).
    pub fn on_event(mut self, hook: impl Fn(&TftpEvent) + Send + Sync + 'static) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Serve until the future is dropped (transfers already started run to completion).
    pub async fn run(self) -> io::Result<()> {
        let local = self.socket.local_addr()?;
        let shared = Arc::new(Shared {
            config: self.config,
            source: self.source,
            hook: self.hook,
            active: AtomicUsize::new(0),
            local_ip: local.ip(),
        });
        info!(%local, "TFTP server listening (read-only)");
        let mut buf = vec![0u8; 2048];
        loop {
            let (n, peer) = match self.socket.recv_from(&mut buf).await {
                Ok(x) => x,
                Err(e) => {
                    debug!(error = %e, "TFTP recv_from failed");
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
            };
            let Some(dgram) = buf.get(..n) else { continue };
            handle_datagram(&self.socket, &shared, dgram, peer);
        }
    }
}

fn reply_error(socket: &UdpSocket, peer: SocketAddr, code: ErrorCode, msg: &str) {
    // try_send_to: never stall the listener on a full socket buffer.
    let _ = socket.try_send_to(&encode_error(code, msg), peer);
}

fn handle_datagram(socket: &UdpSocket, shared: &Arc<Shared>, dgram: &[u8], peer: SocketAddr) {
    match packet::parse_packet(dgram) {
        Ok(Packet::Rrq(req)) => {
            if peer.port() == 0 {
                return;
            }
            let active = shared.active.fetch_add(1, Ordering::AcqRel);
            if active >= shared.config.max_transfers {
                shared.active.fetch_sub(1, Ordering::AcqRel);
                warn!(client = %peer, path = ?req.filename, active, "TFTP RRQ refused: too many transfers");
                reply_error(socket, peer, ErrorCode::NotDefined, "Server busy");
                shared.emit(
                    peer,
                    req.filename,
                    TftpEventKind::Refused {
                        code: ErrorCode::NotDefined,
                        reason: "server busy".into(),
                    },
                );
                return;
            }
            let path = req.filename.to_owned();
            let mode = req.mode;
            let opts: Vec<(String, String)> = req
                .options
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let shared = shared.clone();
            tokio::spawn(async move {
                serve_rrq(&shared, peer, &path, mode, &opts).await;
                shared.active.fetch_sub(1, Ordering::AcqRel);
            });
        }
        Ok(Packet::Wrq(req)) => {
            warn!(client = %peer, path = ?req.filename, "TFTP WRQ refused: read-only server");
            reply_error(socket, peer, ErrorCode::AccessViolation, "Read-only server");
            shared.emit(
                peer,
                req.filename,
                TftpEventKind::Refused {
                    code: ErrorCode::AccessViolation,
                    reason: "write request to a read-only server".into(),
                },
            );
        }
        // Never answer an ERROR (no error ping-pong).
        Ok(Packet::Error { code, message }) => {
            debug!(client = %peer, %code, ?message, "TFTP ERROR on the listening port ignored");
        }
        Ok(Packet::Data { .. } | Packet::Ack { .. } | Packet::Oack { .. }) => {
            debug!(client = %peer, "TFTP packet for no transfer on the listening port");
            reply_error(socket, peer, ErrorCode::UnknownTid, "Unknown transfer ID");
        }
        Err(e) => {
            warn!(client = %peer, len = dgram.len(), error = %e, "malformed TFTP packet");
            reply_error(
                socket,
                peer,
                ErrorCode::IllegalOperation,
                "Illegal TFTP operation",
            );
        }
    }
}

async fn serve_rrq(
    shared: &Shared,
    peer: SocketAddr,
    path: &str,
    mode: Mode,
    opts: &[(String, String)],
) {
    let bind_ip = match (shared.local_ip, peer) {
        (ip, _) if !ip.is_unspecified() => ip,
        (_, SocketAddr::V4(_)) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        (_, SocketAddr::V6(_)) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let sock = match UdpSocket::bind((bind_ip, 0)).await {
        Ok(s) => s,
        Err(e) => {
            warn!(client = %peer, error = %e, "TFTP: cannot bind a transfer socket");
            return;
        }
    };
    if let Err(e) = sock.connect(peer).await {
        warn!(client = %peer, error = %e, "TFTP: cannot connect a transfer socket");
        return;
    }
    let refuse = |code: ErrorCode, client_msg: &'static str, reason: String| {
        shared.emit(peer, path, TftpEventKind::Refused { code, reason });
        send_error(&sock, code, client_msg)
    };

    if mode == Mode::Mail {
        warn!(client = %peer, path = ?path, "TFTP RRQ refused: mail mode");
        refuse(
            ErrorCode::IllegalOperation,
            "Mail mode not supported",
            "mail mode".into(),
        )
        .await;
        return;
    }

    let mut file = match shared.source.open(path, peer).await {
        Ok(f) => f,
        Err(e) => {
            match &e {
                TftpError::AccessDenied(why) => warn!(
                    client = %peer, path = ?path,
                    "TFTP RRQ refused (access violation): {why}; nothing served"
                ),
                TftpError::NotFound => {
                    info!(client = %peer, path = ?path, "TFTP RRQ: file not found")
                }
                TftpError::Io(err) => {
                    warn!(client = %peer, path = ?path, error = %err, "TFTP RRQ: read error")
                }
            }
            refuse(e.error_code(), e.client_message(), e.to_string()).await;
            return;
        }
    };

    if mode == Mode::Netascii {
        match netascii(file, shared.config.max_netascii_size).await {
            Ok(f) => file = f,
            Err(reason) => {
                warn!(client = %peer, path = ?path, "TFTP RRQ refused: {reason}");
                refuse(ErrorCode::NotDefined, "Cannot convert to netascii", reason).await;
                return;
            }
        }
    }

    let opt_refs: Vec<(&str, &str)> = opts.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let limits = Limits {
        max_blksize: shared.config.max_blksize,
        max_windowsize: shared.config.max_windowsize,
    };
    let neg = options::negotiate(&opt_refs, limits, file.size);
    shared.emit(
        peer,
        path,
        TftpEventKind::Started {
            size: file.size,
            blksize: neg.blksize,
            windowsize: neg.windowsize,
        },
    );
    debug!(client = %peer, path = ?path, blksize = neg.blksize, windowsize = neg.windowsize, "TFTP transfer started");
    let timeout = neg
        .timeout_secs
        .map(|s| Duration::from_secs(u64::from(s)))
        .unwrap_or(shared.config.timeout);
    // The data phase runs on a thread of its own with a blocking socket: per lock-step block
    // one `send` and one sleeping `recv`, where a runtime's readiness loop adds a failed `recv`
    // and an `epoll_wait`.
    let sock = match sock.into_std() {
        Ok(s) => s,
        Err(e) => {
            warn!(client = %peer, error = %e, "TFTP: cannot hand the transfer socket over");
            return;
        }
    };
    let transfer = Transfer::new(
        sock,
        file.body,
        &neg,
        timeout,
        shared.config.max_retries,
        tokio::runtime::Handle::current(),
    );
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("tftp-xfer".into())
        .spawn(move || {
            let _ = tx.send(transfer.run());
        });
    if let Err(e) = spawned {
        warn!(client = %peer, error = %e, "TFTP: cannot start a transfer thread");
        return;
    }
    let Ok(outcome) = rx.await else {
        warn!(client = %peer, path = ?path, "TFTP transfer thread ended without an outcome");
        return;
    };
    match outcome {
        Outcome::Finished {
            bytes,
            elapsed,
            packets,
            retransmits,
        } => {
            info!(client = %peer, path = ?path, bytes, ms = elapsed.as_millis() as u64, retransmits, "TFTP transfer finished");
            shared.emit(
                peer,
                path,
                TftpEventKind::Finished {
                    bytes,
                    elapsed,
                    packets,
                    retransmits,
                },
            );
        }
        Outcome::Failed { bytes, reason } => {
            info!(client = %peer, path = ?path, bytes, "TFTP transfer failed: {reason}");
            shared.emit(peer, path, TftpEventKind::Failed { bytes, reason });
        }
    }
}

/// Send an ERROR on a connected transfer socket (bounded wait; a fresh socket's write
/// readiness is not known yet, so `try_send` could spuriously fail).
pub(crate) async fn send_error(sock: &UdpSocket, code: ErrorCode, msg: &str) {
    let pkt = encode_error(code, msg);
    let _ = tokio::time::timeout(Duration::from_millis(200), sock.send(&pkt)).await;
}

async fn netascii(file: TftpFile, max: u64) -> Result<TftpFile, String> {
    use tokio::io::AsyncReadExt;
    if file.size.is_some_and(|s| s > max) {
        return Err(format!("file larger than {max} bytes for netascii"));
    }
    let raw: Vec<u8> = match file.body {
        Body::Memory(b) => b.to_vec(),
        Body::File(f) => tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut v = Vec::new();
            (&*f).take(max + 1).read_to_end(&mut v).map(|_| v)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?,
        Body::Stream(r) => {
            let mut v = Vec::new();
            r.take(max + 1)
                .read_to_end(&mut v)
                .await
                .map_err(|e| e.to_string())?;
            v
        }
    };
    if raw.len() as u64 > max {
        return Err(format!("file larger than {max} bytes for netascii"));
    }
    Ok(TftpFile::from_bytes(packet::to_netascii(&raw)))
}
