//! Forwarded answers kept on the UDP thread: a trusted client's question asked again is
//! answered there, with the TTLs counted down, instead of crossing to the runtime and through
//! hickory's resolver (whose own cache stays behind this one). An answer is kept for as long
//! as its smallest TTL, as a resolver may; never one with a TTL of 0, a truncated one, or one
//! that is not NOERROR or NXDOMAIN (an NXDOMAIN is kept for its SOA's TTL, RFC 2308). Like the
//! authoritative answers it belongs to one state of the zones: a name the region starts to
//! serve is never answered from what was forwarded before.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Instant;

/// At most this many answers are kept per state.
const MAX_KEPT: usize = 100_000;

struct Kept {
    answer: Box<[u8]>,
    at: Instant,
    /// Seconds from `at` until the first record expires.
    life: u32,
    /// Where each TTL sits in `answer`, and what it was when kept.
    ttls: Box<[(usize, u32)]>,
}

/// Forwarded answers by the query's bytes after its ID.
#[derive(Default)]
pub(crate) struct ForwardedCache(RwLock<HashMap<Box<[u8]>, Kept>>);

impl ForwardedCache {
    /// The kept answer to `query`, with its ID and the TTLs as they are now.
    pub(crate) fn answer(&self, query: &[u8]) -> Option<Vec<u8>> {
        self.answer_at(query, Instant::now())
    }

    fn answer_at(&self, query: &[u8], now: Instant) -> Option<Vec<u8>> {
        let m = self.0.read().unwrap_or_else(|p| p.into_inner());
        let k = m.get(query.get(2..)?)?;
        let age = u32::try_from(now.saturating_duration_since(k.at).as_secs()).ok()?;
        if age >= k.life {
            return None;
        }
        let mut a = k.answer.to_vec();
        a[..2].copy_from_slice(&query[..2]);
        for &(at, ttl) in k.ttls.iter() {
            a[at..at + 4].copy_from_slice(&(ttl - age).to_be_bytes());
        }
        Some(a)
    }

    /// Keep `answer` to `query` when it may be kept.
    pub(crate) fn keep(&self, query: &[u8], answer: &[u8]) {
        self.keep_at(query, answer, Instant::now());
    }

    fn keep_at(&self, query: &[u8], answer: &[u8], now: Instant) {
        if !(crate::udp::cacheable_query(query) && crate::udp::whole_answer(answer)) {
            return;
        }
        let Some(ttls) = ttl_fields(answer) else {
            return;
        };
        let Some(life) = ttls.iter().map(|&(_, t)| t).min().filter(|&t| t > 0) else {
            return;
        };
        let mut m = self.0.write().unwrap_or_else(|p| p.into_inner());
        if m.len() >= MAX_KEPT {
            m.retain(|_, k| now.saturating_duration_since(k.at).as_secs() < u64::from(k.life));
            if m.len() >= MAX_KEPT {
                return;
            }
        }
        m.insert(
            query[2..].into(),
            Kept {
                answer: answer.into(),
                at: now,
                life,
                ttls: ttls.into(),
            },
        );
    }
}

/// The end of the name starting at `i` (labels, ending in a root label or a pointer).
fn skip_name(m: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let len = *m.get(i)?;
        match len & 0xc0 {
            0 if len == 0 => return Some(i + 1),
            0 => i += 1 + usize::from(len),
            0xc0 => return Some(i + 2),
            _ => return None,
        }
    }
}

/// Every resource record's TTL (offset, value) but the OPT record's (whose "TTL" is EDNS
/// flags); `None` when the message does not read whole, or holds no record with a TTL.
fn ttl_fields(m: &[u8]) -> Option<Vec<(usize, u32)>> {
    let count = |at: usize| -> Option<usize> {
        Some(usize::from(u16::from_be_bytes(
            m.get(at..at + 2)?.try_into().ok()?,
        )))
    };
    let (questions, records) = (count(4)?, count(6)? + count(8)? + count(10)?);
    let mut i = 12;
    for _ in 0..questions {
        i = skip_name(m, i)? + 4;
    }
    let mut out = Vec::new();
    for _ in 0..records {
        i = skip_name(m, i)?;
        let fixed = m.get(i..i + 10)?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        if rtype != 41 {
            // A TTL with the top bit set is read as 0 (RFC 2181 §8).
            out.push((i + 4, if ttl > i32::MAX as u32 { 0 } else { ttl }));
        }
        i += 10 + rdlen;
    }
    (i == m.len() && !out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const QUERY: [u8; 21] = [
        0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 1, b'b', 0, 0, 1, 0, 1,
    ];

    /// The answer to QUERY: a.b A 10.0.0.1 with `ttl`, then an OPT record.
    fn answer(ttl: u32, rcode: u8) -> Vec<u8> {
        let mut a = QUERY.to_vec();
        a[2] = 0x81; // QR, RD
        a[3] = 0x80 | rcode; // RA
        a[7] = 1; // one answer
        a[11] = 1; // one additional
        a.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        a.extend_from_slice(&ttl.to_be_bytes());
        a.extend_from_slice(&[0, 4, 10, 0, 0, 1]);
        a.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
        a
    }

    fn ttl_of(a: &[u8]) -> u32 {
        u32::from_be_bytes(a[27..31].try_into().unwrap())
    }

    #[test]
    fn kept_for_its_ttl_and_counted_down() {
        let c = ForwardedCache::default();
        let t0 = Instant::now();
        c.keep_at(&QUERY, &answer(300, 0), t0);
        let mut again = QUERY;
        again[..2].copy_from_slice(&[0xab, 0xcd]);
        let a = c.answer_at(&again, t0).unwrap();
        assert_eq!(&a[..2], &[0xab, 0xcd], "the client's ID");
        assert_eq!(ttl_of(&a), 300);
        let later = c
            .answer_at(&again, t0 + Duration::from_millis(61_500))
            .unwrap();
        assert_eq!(ttl_of(&later), 239, "counted down in whole seconds");
        assert_eq!(
            &later[31..],
            &answer(300, 0)[31..],
            "the OPT record untouched"
        );
        assert!(c.answer_at(&again, t0 + Duration::from_secs(300)).is_none());
        // Another question is not this one.
        let mut other = QUERY;
        other[19] = 28; // AAAA
        assert!(c.answer_at(&other, t0).is_none());
    }

    #[test]
    fn what_is_not_kept() {
        let c = ForwardedCache::default();
        let t0 = Instant::now();
        c.keep_at(&QUERY, &answer(0, 0), t0);
        assert!(c.answer_at(&QUERY, t0).is_none(), "TTL 0");
        c.keep_at(&QUERY, &answer(60, 2), t0);
        assert!(c.answer_at(&QUERY, t0).is_none(), "SERVFAIL");
        let mut tc = answer(60, 0);
        tc[2] |= 0x02;
        c.keep_at(&QUERY, &tc, t0);
        assert!(c.answer_at(&QUERY, t0).is_none(), "truncated");
        let whole = answer(60, 0);
        c.keep_at(&QUERY, &whole[..whole.len() - 3], t0);
        assert!(c.answer_at(&QUERY, t0).is_none(), "cut short");
        let mut nothing = QUERY.to_vec();
        nothing[2] = 0x81;
        nothing[3] = 0x83; // NXDOMAIN without a SOA: no TTL to keep it for
        c.keep_at(&QUERY, &nothing, t0);
        assert!(c.answer_at(&QUERY, t0).is_none(), "no record");
        c.keep_at(&QUERY, &answer(60, 3), t0);
        assert!(c.answer_at(&QUERY, t0).is_some(), "NXDOMAIN with a TTL");
    }

    #[test]
    fn names_are_walked_with_bounds() {
        assert_eq!(skip_name(&[1, b'a', 0], 0), Some(3));
        assert_eq!(skip_name(&[0xc0, 12], 0), Some(2));
        assert_eq!(skip_name(&[1, b'a'], 0), None);
        assert_eq!(skip_name(&[0x40], 0), None);
        assert!(ttl_fields(&[0; 11]).is_none());
    }
}
