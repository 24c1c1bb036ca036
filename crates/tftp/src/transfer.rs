//! One read transfer on its own connected UDP socket: OACK handshake, windowed DATA
//! (RFC 7440), retransmission on timeout, back-off on duplicate ACKs.
//!
//! Congestion rules (the "TFTP storm" / Sorcerer's Apprentice guards):
//! * A duplicate ACK (for the block already acknowledged) never triggers a send; it halves the
//!   current window. Only a timeout retransmits, so a flood of duplicates costs nothing.
//! * An ACK inside the window that is not its last block reports a gap (RFC 7440): the window
//!   is halved and sending resumes after that block (go-back-N), at most `cwnd` packets.
//! * A fully acknowledged window doubles the current window back up to the negotiated size.
//!   Every received ACK therefore causes at most `cwnd <= windowsize` packets.

use std::io;
use std::net::UdpSocket;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::options::Negotiated;
use crate::packet::{self, encode_data_header, ErrorCode, Packet};
use crate::source::Body;

pub(crate) enum Outcome {
    Finished {
        bytes: u64,
        elapsed: Duration,
        packets: u64,
        retransmits: u64,
    },
    Failed {
        bytes: u64,
        reason: String,
    },
}

const CHUNK: usize = 256 * 1024;

enum Src {
    Memory(Bytes),
    File(Arc<std::fs::File>),
    /// Read through the runtime that started the transfer (the transfer runs on its own
    /// thread, outside it).
    Stream(Box<dyn AsyncRead + Send + Unpin>, tokio::runtime::Handle),
}

/// Sequential block supply with the unacknowledged tail kept for retransmission.
struct BlockReader {
    src: Src,
    blksize: u64,
    /// File offset of `buf[0]` (unused for `Memory`).
    buf_off: u64,
    buf: Vec<u8>,
    eof: bool,
}

impl BlockReader {
    fn new(body: Body, blksize: u16, rt: tokio::runtime::Handle) -> Self {
        let src = match body {
            Body::Memory(b) => Src::Memory(b),
            Body::File(f) => Src::File(f),
            Body::Stream(s) => Src::Stream(s, rt),
        };
        BlockReader {
            src,
            blksize: u64::from(blksize),
            buf_off: 0,
            buf: Vec::new(),
            eof: false,
        }
    }

    /// Forget data before file offset `off` (everything acknowledged).
    fn release(&mut self, off: u64) {
        if matches!(self.src, Src::Memory(_)) {
            return;
        }
        let drop = off.saturating_sub(self.buf_off).min(self.buf.len() as u64) as usize;
        // Compact lazily: only when at least a chunk's worth is dead.
        if drop >= CHUNK {
            self.buf.drain(..drop);
            self.buf_off += drop as u64;
        }
    }

    /// Make sure `[.., end)` is buffered, or EOF reached.
    fn fill_to(&mut self, end: u64) -> io::Result<()> {
        while !self.eof && self.buf_off + (self.buf.len() as u64) < end {
            let want = CHUNK.max((end - self.buf_off) as usize - self.buf.len());
            match &mut self.src {
                Src::Memory(_) => return Ok(()),
                Src::File(f) => {
                    use std::os::unix::fs::FileExt;
                    let pos = self.buf_off + self.buf.len() as u64;
                    let old = self.buf.len();
                    self.buf.resize(old + want, 0);
                    let mut got = 0usize;
                    let res = loop {
                        let Some(dst) = self.buf.get_mut(old + got..) else {
                            break Ok(());
                        };
                        if dst.is_empty() {
                            break Ok(());
                        }
                        match f.read_at(dst, pos + got as u64) {
                            Ok(0) => break Ok(()),
                            Ok(n) => got += n,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => break Err(e),
                        }
                    };
                    self.buf.truncate(old + got);
                    res?;
                    if got < want {
                        self.eof = true;
                    }
                }
                Src::Stream(r, rt) => {
                    let old = self.buf.len();
                    self.buf.resize(old + want, 0);
                    let mut got = 0;
                    while got < want {
                        let Some(dst) = self.buf.get_mut(old + got..) else {
                            break;
                        };
                        let n = rt.block_on(r.read(dst))?;
                        if n == 0 {
                            self.eof = true;
                            break;
                        }
                        got += n;
                    }
                    self.buf.truncate(old + got);
                }
            }
        }
        Ok(())
    }

    /// Payload of block `k` (1-based), appended to `out`. Returns its length.
    fn append_block(&mut self, k: u64, out: &mut Vec<u8>) -> io::Result<usize> {
        let start = (k - 1) * self.blksize;
        let end = start + self.blksize;
        if let Src::Memory(b) = &self.src {
            let len = b.len() as u64;
            let s = start.min(len) as usize;
            let e = end.min(len) as usize;
            let data = b.get(s..e).unwrap_or(&[]);
            out.extend_from_slice(data);
            return Ok(data.len());
        }
        self.fill_to(end)?;
        let have_end = self.buf_off + self.buf.len() as u64;
        if start < self.buf_off {
            return Err(io::Error::other("block already released"));
        }
        let s = (start - self.buf_off) as usize;
        let e = (end.min(have_end).max(start) - self.buf_off) as usize;
        let data = self.buf.get(s..e).unwrap_or(&[]);
        out.extend_from_slice(data);
        Ok(data.len())
    }
}

pub(crate) struct Transfer {
    sock: UdpSocket,
    reader: BlockReader,
    blksize: u64,
    window: u64,
    cwnd: u64,
    timeout: Duration,
    max_retries: u32,
    oack: Option<Vec<u8>>,
    /// Highest block acknowledged (full 64-bit count; the wire carries it mod 2^16).
    acked: u64,
    /// Next block to send.
    next_send: u64,
    /// Highest block ever sent.
    sent_max: u64,
    /// Number of the final (short) block, once read.
    last_block: Option<u64>,
    last_len: u64,
    pkt: Vec<u8>,
    packets: u64,
    retransmits: u64,
}

enum Event {
    Ack(u16),
    ClientError(String),
    Timeout,
    Fatal(String),
}

impl Transfer {
    /// `sock` must be connected to the client; it is switched to blocking mode, with
    /// `timeout` as its receive timeout.
    pub(crate) fn new(
        sock: UdpSocket,
        body: Body,
        neg: &Negotiated,
        timeout: Duration,
        max_retries: u32,
        rt: tokio::runtime::Handle,
    ) -> Self {
        let oack = if neg.oack.is_empty() {
            None
        } else {
            let o: Vec<(&str, &str)> = neg.oack.iter().map(|(k, v)| (*k, v.as_str())).collect();
            Some(packet::encode_oack(&o))
        };
        Transfer {
            sock,
            reader: BlockReader::new(body, neg.blksize, rt),
            blksize: u64::from(neg.blksize),
            window: u64::from(neg.windowsize.max(1)),
            cwnd: u64::from(neg.windowsize.max(1)),
            timeout,
            max_retries,
            oack,
            acked: 0,
            next_send: 1,
            sent_max: 0,
            last_block: None,
            last_len: 0,
            pkt: Vec::with_capacity(4 + usize::from(neg.blksize)),
            packets: 0,
            retransmits: 0,
        }
    }

    fn bytes_acked(&self) -> u64 {
        match self.last_block {
            Some(l) if self.acked >= l => (l - 1) * self.blksize + self.last_len,
            _ => self.acked * self.blksize,
        }
    }

    fn fail(&self, reason: String) -> Outcome {
        Outcome::Failed {
            bytes: self.bytes_acked(),
            reason,
        }
    }

    fn send_raw(&mut self, which: PacketRef) -> io::Result<()> {
        let buf = match which {
            PacketRef::Oack => self.oack.as_deref().unwrap_or(&[]),
            PacketRef::Data => &self.pkt,
        };
        self.sock.send(buf)?;
        self.packets += 1;
        Ok(())
    }

    fn send_block(&mut self, k: u64) -> io::Result<()> {
        let mut pkt = std::mem::take(&mut self.pkt);
        encode_data_header(&mut pkt, (k & 0xffff) as u16);
        let res = self.reader.append_block(k, &mut pkt);
        self.pkt = pkt;
        let n = res? as u64;
        if n < self.blksize {
            self.last_block = Some(k);
            self.last_len = n;
        }
        if k <= self.sent_max {
            self.retransmits += 1;
        }
        self.sent_max = self.sent_max.max(k);
        self.send_raw(PacketRef::Data)
    }

    /// Send blocks from `next_send` while inside `acked + cwnd` and not past the last block.
    fn fill_window(&mut self) -> io::Result<()> {
        while self.next_send <= self.acked + self.cwnd
            && self.last_block.is_none_or(|l| self.next_send <= l)
        {
            self.send_block(self.next_send)?;
            self.next_send += 1;
        }
        Ok(())
    }

    /// Wait for a packet or `deadline`. The socket's receive timeout is set once (to the
    /// retransmission timeout), so a wait costs one `recv`; a wake-up that brings nothing useful
    /// before the deadline (a stray packet) simply waits again.
    fn wait(&mut self, deadline: Instant, rbuf: &mut [u8]) -> Event {
        loop {
            if Instant::now() >= deadline {
                return Event::Timeout;
            }
            match self.sock.recv(rbuf) {
                Ok(n) => {
                    let d = rbuf.get(..n).unwrap_or(&[]);
                    if let Some(b) = packet::parse_ack(d) {
                        return Event::Ack(b);
                    }
                    if let Ok(Packet::Error { code, message }) = packet::parse_packet(d) {
                        return Event::ClientError(format!("client sent error {code}: {message}"));
                    }
                    // anything else on the transfer port is ignored
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    return Event::Fatal("client unreachable (ICMP port unreachable)".into());
                }
                Err(e) => return Event::Fatal(format!("receive error: {e}")),
            }
        }
    }

    /// Send an ERROR to the client (best effort).
    fn send_error(&self, code: ErrorCode, msg: &str) {
        let _ = self.sock.send(&packet::encode_error(code, msg));
    }

    /// Runs the transfer to its end, blocking the calling thread (one thread per transfer:
    /// two system calls per lock-step block, `send` and a `recv` that sleeps until the ACK).
    pub(crate) fn run(mut self) -> Outcome {
        let started = Instant::now();
        let mut rbuf = vec![0u8; 1024];
        let mut retries = 0u32;
        if let Err(e) = self.sock.set_nonblocking(false).and_then(|_| {
            self.sock
                .set_read_timeout(Some(self.timeout.max(Duration::from_millis(1))))
        }) {
            return self.fail(format!("socket setup: {e}"));
        }

        // Option acknowledgement: wait for ACK 0.
        if self.oack.is_some() {
            if let Err(e) = self.send_raw(PacketRef::Oack) {
                return self.fail(format!("send error: {e}"));
            }
            let mut deadline = Instant::now() + self.timeout;
            loop {
                match self.wait(deadline, &mut rbuf) {
                    Event::Ack(0) => break,
                    Event::Ack(_) => {}
                    Event::ClientError(r) | Event::Fatal(r) => return self.fail(r),
                    Event::Timeout => {
                        retries += 1;
                        if retries > self.max_retries {
                            return self.fail("timed out waiting for the ACK of the OACK".into());
                        }
                        self.retransmits += 1;
                        if let Err(e) = self.send_raw(PacketRef::Oack) {
                            return self.fail(format!("send error: {e}"));
                        }
                        deadline = Instant::now() + self.timeout;
                    }
                }
            }
            retries = 0;
        }

        let mut deadline = Instant::now() + self.timeout;
        loop {
            if let Err(e) = self.fill_window() {
                self.send_error(ErrorCode::NotDefined, "Read error");
                return self.fail(format!("read/send error: {e}"));
            }
            if self.last_block.is_some_and(|l| self.acked >= l) {
                return Outcome::Finished {
                    bytes: self.bytes_acked(),
                    elapsed: started.elapsed(),
                    packets: self.packets,
                    retransmits: self.retransmits,
                };
            }
            match self.wait(deadline, &mut rbuf) {
                Event::Ack(wire) => {
                    let delta = u64::from(wire.wrapping_sub((self.acked & 0xffff) as u16));
                    if delta == 0 {
                        // Duplicate: back off, never resend (no Sorcerer's Apprentice).
                        self.cwnd = (self.cwnd / 2).max(1);
                        continue;
                    }
                    let k = self.acked + delta;
                    if k > self.sent_max {
                        continue; // stale or bogus
                    }
                    retries = 0;
                    deadline = Instant::now() + self.timeout;
                    if k + 1 >= self.next_send {
                        // everything sent so far is acknowledged
                        if k - self.acked >= self.cwnd {
                            self.cwnd = (self.cwnd * 2).min(self.window);
                        }
                        self.next_send = k + 1;
                    } else {
                        // gap reported inside the window: go back, smaller
                        self.cwnd = (self.cwnd / 2).max(1);
                        self.next_send = k + 1;
                    }
                    self.acked = k;
                    self.reader.release(self.acked * self.blksize);
                }
                Event::ClientError(r) | Event::Fatal(r) => return self.fail(r),
                Event::Timeout => {
                    retries += 1;
                    if retries > self.max_retries {
                        self.send_error(ErrorCode::NotDefined, "Timeout");
                        return self.fail(format!(
                            "timed out waiting for the ACK of block {}",
                            self.acked + 1
                        ));
                    }
                    self.cwnd = (self.cwnd / 2).max(1);
                    self.next_send = self.acked + 1;
                    deadline = Instant::now() + self.timeout;
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum PacketRef {
    Oack,
    Data,
}
