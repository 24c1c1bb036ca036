//! The UDP path: Ingot's own receive loop in front of hickory. An authoritative answer (AA,
//! not truncated, NOERROR or NXDOMAIN, one question that is not a transfer) is kept by the
//! query's bytes after its ID, and the same query is answered again from there with the
//! client's ID — no parsing, no lookup, no encoding. The cache belongs to one state of the
//! zones and goes with it when the region's serial moves, so it never answers from old
//! zones. Refusals are never kept; forwarded answers (not AA) are kept apart, for trusted
//! clients only and for their TTL (`forwarded.rs`). BENCHMARKS.md has why: with hickory alone
//! an answer cost about twice BIND's CPU.

use crate::{answer_at, State};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

/// At most this many answers are kept per state (a few MiB).
const MAX_KEPT: usize = 200_000;

/// Wire bytes (a query after its ID, or an answer).
type Bytes = Box<[u8]>;

/// Answers by the query's bytes after its ID.
#[derive(Default)]
pub(crate) struct AnswerCache(pub(crate) RwLock<HashMap<Bytes, Bytes>>);

impl AnswerCache {
    /// The kept answer to `query`, with its ID.
    fn answer(&self, query: &[u8]) -> Option<Vec<u8>> {
        let m = self.0.read().unwrap_or_else(|p| p.into_inner());
        let mut a = m.get(query.get(2..)?)?.to_vec();
        a[..2].copy_from_slice(&query[..2]);
        Some(a)
    }

    fn keep(&self, query: &[u8], answer: &[u8]) {
        if !(cacheable_query(query) && cacheable_answer(answer)) {
            return;
        }
        let mut m = self.0.write().unwrap_or_else(|p| p.into_inner());
        if m.len() < MAX_KEPT {
            m.insert(query[2..].into(), answer.into());
        }
    }
}

/// A standard query with one question whose name is not compressed, not a zone transfer or
/// ANY.
pub(crate) fn cacheable_query(q: &[u8]) -> bool {
    if q.len() < 12 || q[2] & 0x80 != 0 || (q[2] >> 3) & 0x0f != 0 || q[4..6] != [0, 1] {
        return false;
    }
    let mut i = 12;
    loop {
        let Some(&len) = q.get(i) else {
            return false;
        };
        if len == 0 {
            i += 1;
            break;
        }
        if len & 0xc0 != 0 {
            return false;
        }
        i += 1 + usize::from(len);
    }
    match q.get(i..i + 2) {
        Some(t) => !matches!(u16::from_be_bytes([t[0], t[1]]), 251..=255),
        None => false,
    }
}

/// A whole answer that may be kept: a response, NOERROR or NXDOMAIN, TC clear (authoritative
/// or forwarded).
pub(crate) fn whole_answer(a: &[u8]) -> bool {
    a.len() >= 12 && a[2] & 0x80 != 0 && a[2] & 0x02 == 0 && matches!(a[3] & 0x0f, 0 | 3)
}

/// An authoritative, whole answer: AA set besides.
fn cacheable_answer(a: &[u8]) -> bool {
    whole_answer(a) && a[2] & 0x04 != 0
}

/// The kept answer to `packet` from `src` at `state`: an authoritative one, or for a trusted
/// client a forwarded one.
fn kept(state: &State, packet: &[u8], src: SocketAddr) -> Option<Vec<u8>> {
    state.answers.answer(packet).or_else(|| {
        state
            .trusts(src.ip())
            .then(|| state.forwarded.answer(packet))
            .flatten()
    })
}

/// The answers to `packet` from `src` at `state`: from its caches, else from hickory (kept
/// when they may be).
pub(crate) async fn answer(state: &Arc<State>, packet: &[u8], src: SocketAddr) -> Vec<Vec<u8>> {
    if let Some(a) = kept(state, packet, src) {
        return vec![a];
    }
    let got = answer_at(state.clone(), packet, src).await;
    if let [one] = got.as_slice() {
        if cacheable_answer(one) {
            state.answers.keep(packet, one);
        } else if state.trusts(src.ip()) {
            state.forwarded.keep(packet, one);
        }
    }
    got
}

/// Answer on `sock` until `stop`: a thread of its own with plain blocking calls answers from
/// the caches (no wake-ups, no task per query); the rest goes to a task each on `rt` (a
/// forwarded query may wait for its upstream). `recvmmsg`/`sendmmsg` were tried here: about
/// 23 datagrams per call under dnsperf, and no less CPU per answer (BENCHMARKS.md).
pub(crate) fn serve(
    dns: crate::Dns,
    sock: std::net::UdpSocket,
    rt: tokio::runtime::Handle,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    // Woken now and then to look at `stop`.
    sock.set_read_timeout(Some(std::time::Duration::from_millis(200)))?;
    let sock = Arc::new(sock);
    std::thread::Builder::new()
        .name("dns-udp".into())
        .spawn(move || {
            let mut buf = vec![0u8; 65_535];
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (n, src) = match sock.recv_from(&mut buf) {
                    Ok(x) => x,
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        continue
                    }
                    Err(e) => {
                        tracing::debug!("DNS: UDP receive: {e}");
                        continue;
                    }
                };
                // Nobody to answer (hickory's rule too).
                if src.port() == 0 || n < 12 {
                    continue;
                }
                let state = dns.0.now();
                if let Some(a) = kept(&state, &buf[..n], src) {
                    let _ = sock.send_to(&a, src);
                    continue;
                }
                let packet = buf[..n].to_vec();
                let sock = sock.clone();
                rt.spawn(async move {
                    for a in answer(&state, &packet, src).await {
                        let _ = sock.send_to(&a, src);
                    }
                });
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_may_be_kept() {
        // A query for a.b A: header, 1 question.
        let q = [
            0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 1, b'b', 0, 0, 1, 0, 1,
        ];
        assert!(cacheable_query(&q));
        let mut axfr = q;
        axfr[18] = 252;
        assert!(!cacheable_query(&axfr));
        let mut notify = q;
        notify[2] = 0x20; // opcode 4
        assert!(!cacheable_query(&notify));
        assert!(!cacheable_query(&q[..15]));
        let mut aa = [0u8; 12];
        aa[2] = 0x84; // QR, AA
        assert!(cacheable_answer(&aa));
        aa[3] = 5; // REFUSED
        assert!(!cacheable_answer(&aa));
        aa[3] = 0;
        aa[2] = 0x80; // not authoritative: forwarded
        assert!(!cacheable_answer(&aa));
        aa[2] = 0x86; // truncated
        assert!(!cacheable_answer(&aa));
    }
}
