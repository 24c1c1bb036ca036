//! Leases: the in-memory table ([`LeaseDb`]) and its crash-safe persistence ([`LeaseLog`]).
//!
//! The log is append-only text, one record per line, each line ending in an FNV-1a checksum:
//!
//! ```text
//! B 525400abcdef 10.66.1.7 1767225600 3f2a9c01     bound until (unix seconds)
//! F 525400abcdef 10.66.1.7 8c0e11aa                released / freed
//! D 10.66.1.9 1767225600 0badf00d                  declined until
//! ```
//!
//! Recovery replays every line; a torn last line (no newline, or bad checksum) is dropped and the
//! file truncated back to the last good record. Compaction writes a snapshot of the live state to
//! `<log>.tmp`, fsyncs it, renames it over the log and fsyncs the directory.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::config::Range;
use crate::HwAddr;

/// State of a lease in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Offered, not yet requested: held for a short time, never persisted.
    Offered,
    /// Acknowledged: persisted.
    Bound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub mac: HwAddr,
    pub ip: Ipv4Addr,
    /// Unix seconds.
    pub expires: u64,
    pub state: LeaseState,
}

/// One change, as written to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseRecord {
    Bound {
        mac: HwAddr,
        ip: Ipv4Addr,
        expires: u64,
    },
    Free {
        mac: HwAddr,
        ip: Ipv4Addr,
    },
    Declined {
        ip: Ipv4Addr,
        until: u64,
    },
}

fn fnv1a(data: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in data {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

impl LeaseRecord {
    /// Appends the line (with checksum and newline) to `out`.
    pub fn encode_into(&self, out: &mut String) {
        let start = out.len();
        match self {
            LeaseRecord::Bound { mac, ip, expires } => {
                out.push_str(&format!("B {} {} {}", mac.to_hex(), ip, expires))
            }
            LeaseRecord::Free { mac, ip } => out.push_str(&format!("F {} {}", mac.to_hex(), ip)),
            LeaseRecord::Declined { ip, until } => out.push_str(&format!("D {ip} {until}")),
        }
        let sum = fnv1a(out.as_bytes().get(start..).unwrap_or(&[]));
        out.push_str(&format!(" {sum:08x}\n"));
    }

    pub fn encode(&self) -> String {
        let mut s = String::new();
        self.encode_into(&mut s);
        s
    }

    /// Parses one line (without its newline). `None` for anything malformed.
    pub fn decode(line: &str) -> Option<LeaseRecord> {
        let (body, sum) = line.rsplit_once(' ')?;
        if sum.len() != 8 || u32::from_str_radix(sum, 16).ok()? != fnv1a(body.as_bytes()) {
            return None;
        }
        let mut it = body.split(' ');
        let rec = match it.next()? {
            "B" => LeaseRecord::Bound {
                mac: HwAddr::from_hex(it.next()?)?,
                ip: it.next()?.parse().ok()?,
                expires: it.next()?.parse().ok()?,
            },
            "F" => LeaseRecord::Free {
                mac: HwAddr::from_hex(it.next()?)?,
                ip: it.next()?.parse().ok()?,
            },
            "D" => LeaseRecord::Declined {
                ip: it.next()?.parse().ok()?,
                until: it.next()?.parse().ok()?,
            },
            _ => return None,
        };
        if it.next().is_some() {
            return None;
        }
        Some(rec)
    }
}

/// What recovery found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecoveryStats {
    pub records: usize,
    /// Lines skipped because malformed / checksum mismatch.
    pub corrupt: usize,
    /// Bytes of a torn tail that were cut off.
    pub truncated_bytes: u64,
}

/// Parses a whole log. Returns the records, the stats and the length of the good prefix
/// (everything after it is a torn tail).
pub fn parse_log(data: &[u8]) -> (Vec<LeaseRecord>, RecoveryStats, usize) {
    let mut recs = Vec::new();
    let mut stats = RecoveryStats::default();
    let mut pos = 0usize;
    let mut good_end = 0usize;
    while pos < data.len() {
        let rest = data.get(pos..).unwrap_or(&[]);
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            break; // torn tail: no newline
        };
        let line = rest.get(..nl).unwrap_or(&[]);
        pos += nl + 1;
        match std::str::from_utf8(line).ok().and_then(LeaseRecord::decode) {
            Some(r) => {
                recs.push(r);
                good_end = pos;
            }
            None if line.is_empty() => good_end = pos,
            None => {
                stats.corrupt += 1;
                // keep good_end at the last good record only if this is the last line
                if pos < data.len() {
                    good_end = pos;
                }
            }
        }
    }
    stats.records = recs.len();
    stats.truncated_bytes = (data.len() - good_end) as u64;
    (recs, stats, good_end)
}

/// Append-only lease log. Not thread-safe by itself: owned by one persister thread.
#[derive(Debug)]
pub struct LeaseLog {
    path: PathBuf,
    file: File,
    buf: String,
    /// Records appended since the last compaction (or open).
    pub records_since_compaction: usize,
}

impl LeaseLog {
    fn tmp_path(path: &Path) -> PathBuf {
        let mut p = path.as_os_str().to_owned();
        p.push(".tmp");
        PathBuf::from(p)
    }

    /// Opens (creating if needed) and replays the log.
    pub fn open(path: impl AsRef<Path>) -> io::Result<(LeaseLog, Vec<LeaseRecord>, RecoveryStats)> {
        let path = path.as_ref().to_path_buf();
        let _ = fs::remove_file(Self::tmp_path(&path)); // half-written snapshot of a crash
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)?;
        let (recs, stats, good_end) = parse_log(&data);
        if good_end < data.len() {
            file.set_len(good_end as u64)?;
            file.sync_all()?;
        }
        let n = recs.len();
        Ok((
            LeaseLog {
                path,
                file,
                buf: String::new(),
                records_since_compaction: n,
            },
            recs,
            stats,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes records (one write call); durable only after [`LeaseLog::sync`].
    pub fn append(&mut self, recs: &[LeaseRecord]) -> io::Result<()> {
        self.buf.clear();
        for r in recs {
            r.encode_into(&mut self.buf);
        }
        self.file.write_all(self.buf.as_bytes())?;
        self.records_since_compaction += recs.len();
        Ok(())
    }

    /// fdatasync.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Replaces the log with `snapshot` (the complete live state) atomically.
    pub fn compact(&mut self, snapshot: &[LeaseRecord]) -> io::Result<()> {
        let tmp = Self::tmp_path(&self.path);
        let mut s = String::with_capacity(snapshot.len() * 48);
        for r in snapshot {
            r.encode_into(&mut s);
        }
        {
            let mut f = File::create(&tmp)?;
            f.write_all(s.as_bytes())?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            File::open(dir)?.sync_all()?;
        }
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.records_since_compaction = snapshot.len();
        Ok(())
    }
}

/// In-memory lease table. Offers and bound leases, indexed by MAC and by address.
#[derive(Debug, Default)]
pub struct LeaseDb {
    by_mac: HashMap<HwAddr, Lease>,
    by_ip: HashMap<Ipv4Addr, HwAddr>,
    declined: HashMap<Ipv4Addr, u64>,
}

impl LeaseDb {
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the table by replaying log records in order.
    pub fn from_records(recs: &[LeaseRecord]) -> Self {
        let mut db = LeaseDb::new();
        for r in recs {
            db.apply(r);
        }
        db
    }

    /// Applies one record (replay).
    pub fn apply(&mut self, r: &LeaseRecord) {
        match *r {
            LeaseRecord::Bound { mac, ip, expires } => {
                self.insert(Lease {
                    mac,
                    ip,
                    expires,
                    state: LeaseState::Bound,
                });
            }
            LeaseRecord::Free { mac, ip } => {
                self.remove_if(mac, ip);
            }
            LeaseRecord::Declined { ip, until } => {
                self.evict_ip(ip);
                self.declined.insert(ip, until);
            }
        }
    }

    fn evict_ip(&mut self, ip: Ipv4Addr) {
        if let Some(old) = self.by_ip.remove(&ip) {
            if self.by_mac.get(&old).is_some_and(|l| l.ip == ip) {
                self.by_mac.remove(&old);
            }
        }
    }

    fn remove_if(&mut self, mac: HwAddr, ip: Ipv4Addr) -> bool {
        if self.by_mac.get(&mac).is_some_and(|l| l.ip == ip) {
            self.by_mac.remove(&mac);
            if self.by_ip.get(&ip) == Some(&mac) {
                self.by_ip.remove(&ip);
            }
            true
        } else {
            false
        }
    }

    fn insert(&mut self, lease: Lease) {
        self.evict_ip(lease.ip);
        if let Some(old) = self.by_mac.insert(lease.mac, lease) {
            if old.ip != lease.ip && self.by_ip.get(&old.ip) == Some(&lease.mac) {
                self.by_ip.remove(&old.ip);
            }
        }
        self.by_ip.insert(lease.ip, lease.mac);
        self.declined.remove(&lease.ip);
    }

    pub fn get(&self, mac: &HwAddr) -> Option<&Lease> {
        self.by_mac.get(mac)
    }

    /// The MAC currently holding `ip` (offered or bound, possibly expired).
    pub fn owner(&self, ip: Ipv4Addr) -> Option<HwAddr> {
        self.by_ip.get(&ip).copied()
    }

    /// Can `mac` take `ip` now? (Not held by someone else's live lease/offer, not declined.)
    pub fn is_free_for(&self, ip: Ipv4Addr, mac: &HwAddr, now: u64) -> bool {
        if self.declined.get(&ip).is_some_and(|&until| until > now) {
            return false;
        }
        match self.by_ip.get(&ip) {
            None => true,
            Some(m) if m == mac => true,
            Some(m) => self
                .by_mac
                .get(m)
                .is_none_or(|l| l.ip != ip || l.expires <= now),
        }
    }

    /// Holds `ip` for `mac` until `until` (not persisted). Keeps an existing bound lease on the
    /// same address bound.
    pub fn offer(&mut self, mac: HwAddr, ip: Ipv4Addr, until: u64) {
        if let Some(l) = self.by_mac.get_mut(&mac) {
            if l.ip == ip && l.state == LeaseState::Bound {
                l.expires = l.expires.max(until);
                return;
            }
        }
        self.insert(Lease {
            mac,
            ip,
            expires: until,
            state: LeaseState::Offered,
        });
    }

    /// Binds and returns the record to persist.
    pub fn bind(&mut self, mac: HwAddr, ip: Ipv4Addr, expires: u64) -> LeaseRecord {
        self.insert(Lease {
            mac,
            ip,
            expires,
            state: LeaseState::Bound,
        });
        LeaseRecord::Bound { mac, ip, expires }
    }

    /// RELEASE: frees the lease if `mac` holds `ip`.
    pub fn release(&mut self, mac: HwAddr, ip: Ipv4Addr) -> Option<LeaseRecord> {
        self.remove_if(mac, ip)
            .then_some(LeaseRecord::Free { mac, ip })
    }

    /// DECLINE: the address is in use by someone unknown; quarantine it.
    pub fn decline(&mut self, ip: Ipv4Addr, until: u64) -> LeaseRecord {
        self.evict_ip(ip);
        self.declined.insert(ip, until);
        LeaseRecord::Declined { ip, until }
    }

    /// Next free address of `ranges`, scanning from `*cursor` (advanced past the result).
    pub fn allocate(
        &self,
        ranges: &[Range],
        cursor: &mut u64,
        mac: &HwAddr,
        now: u64,
        reserved: &HashSet<Ipv4Addr>,
    ) -> Option<Ipv4Addr> {
        let total: u64 = ranges
            .iter()
            .map(|r| u64::from(u32::from(r.end)).saturating_sub(u64::from(u32::from(r.start))) + 1)
            .sum();
        if total == 0 {
            return None;
        }
        for step in 0..total {
            let mut idx = (*cursor + step) % total;
            let mut found = None;
            for r in ranges {
                let size =
                    u64::from(u32::from(r.end)).saturating_sub(u64::from(u32::from(r.start))) + 1;
                if idx < size {
                    found = Some(Ipv4Addr::from(u32::from(r.start).wrapping_add(idx as u32)));
                    break;
                }
                idx -= size;
            }
            let Some(ip) = found else { continue };
            if reserved.contains(&ip) || !self.is_free_for(ip, mac, now) {
                continue;
            }
            *cursor = (*cursor + step + 1) % total;
            return Some(ip);
        }
        None
    }

    /// Number of leases in the Bound state (expired or not).
    pub fn bound_count(&self) -> usize {
        self.by_mac
            .values()
            .filter(|l| l.state == LeaseState::Bound)
            .count()
    }

    /// Live leases in the Bound state.
    pub fn bound(&self, now: u64) -> impl Iterator<Item = &Lease> {
        self.by_mac
            .values()
            .filter(move |l| l.state == LeaseState::Bound && l.expires > now)
    }

    /// The complete durable state, as records for a compaction snapshot.
    pub fn snapshot(&self, now: u64) -> Vec<LeaseRecord> {
        let mut v: Vec<LeaseRecord> = self
            .bound(now)
            .map(|l| LeaseRecord::Bound {
                mac: l.mac,
                ip: l.ip,
                expires: l.expires,
            })
            .collect();
        v.extend(
            self.declined
                .iter()
                .filter(|(_, &u)| u > now)
                .map(|(&ip, &until)| LeaseRecord::Declined { ip, until }),
        );
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(n: u8) -> HwAddr {
        HwAddr::eth([2, 0, 0, 0, 0, n])
    }
    fn ip(n: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, n)
    }

    #[test]
    fn record_roundtrip_and_checksum() {
        let recs = [
            LeaseRecord::Bound {
                mac: mac(1),
                ip: ip(5),
                expires: 1_700_000_000,
            },
            LeaseRecord::Free {
                mac: mac(1),
                ip: ip(5),
            },
            LeaseRecord::Declined {
                ip: ip(9),
                until: 42,
            },
        ];
        for r in recs {
            let line = r.encode();
            assert!(line.ends_with('\n'));
            assert_eq!(LeaseRecord::decode(line.trim_end()), Some(r));
            // flip one character -> rejected
            let bad = line.trim_end().replacen("10.0.0", "10.0.1", 1);
            assert_eq!(LeaseRecord::decode(&bad), None, "{bad}");
        }
        assert_eq!(LeaseRecord::decode(""), None);
        assert_eq!(LeaseRecord::decode("B x y z 00000000"), None);
    }

    #[test]
    fn allocate_skips_used_reserved_declined() {
        let mut db = LeaseDb::new();
        let ranges = [Range {
            start: ip(10),
            end: ip(14),
        }];
        let reserved: HashSet<_> = [ip(11)].into();
        let mut cur = 0;
        let a = db
            .allocate(&ranges, &mut cur, &mac(1), 100, &reserved)
            .unwrap();
        assert_eq!(a, ip(10));
        db.bind(mac(1), a, 1000);
        db.decline(ip(12), 1000);
        let b = db
            .allocate(&ranges, &mut cur, &mac(2), 100, &reserved)
            .unwrap();
        assert_eq!(b, ip(13));
        db.offer(mac(2), b, 130);
        let c = db
            .allocate(&ranges, &mut cur, &mac(3), 100, &reserved)
            .unwrap();
        assert_eq!(c, ip(14));
        db.offer(mac(3), c, 130);
        // pool exhausted for mac 4 while everything is live
        assert_eq!(
            db.allocate(&ranges, &mut cur, &mac(4), 100, &reserved),
            None
        );
        // offers expire -> reusable
        let d = db
            .allocate(&ranges, &mut cur, &mac(4), 200, &reserved)
            .unwrap();
        assert!(d == ip(13) || d == ip(14));
        db.offer(mac(4), d, 230);
        // the old holder of d lost it
        assert!(
            db.get(&mac(2)).is_none_or(|l| l.ip != d) || db.get(&mac(3)).is_none_or(|l| l.ip != d)
        );
        assert_eq!(db.owner(d), Some(mac(4)));
    }

    #[test]
    fn release_and_snapshot() {
        let mut db = LeaseDb::new();
        db.bind(mac(1), ip(1), 500);
        db.bind(mac(2), ip(2), 500);
        db.offer(mac(3), ip(3), 500);
        assert_eq!(db.release(mac(1), ip(2)), None, "wrong owner");
        assert!(db.release(mac(1), ip(1)).is_some());
        assert!(db.is_free_for(ip(1), &mac(9), 0));
        let snap = db.snapshot(0);
        assert_eq!(snap.len(), 1, "only bound leases are durable: {snap:?}");
        let db2 = LeaseDb::from_records(&snap);
        assert_eq!(db2.get(&mac(2)).map(|l| l.ip), Some(ip(2)));
        // rebinding a mac to another address frees the old one
        db.bind(mac(2), ip(7), 600);
        assert_eq!(db.owner(ip(2)), None);
    }

    fn tmpdir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn recovery_after_crash_without_compaction() {
        let d = tmpdir();
        let p = d.path().join("leases.log");
        {
            let (mut log, recs, _) = LeaseLog::open(&p).unwrap();
            assert!(recs.is_empty());
            let mut db = LeaseDb::new();
            let mut batch = Vec::new();
            for i in 1..=50u8 {
                batch.push(db.bind(mac(i), ip(i), 10_000));
            }
            batch.push(db.release(mac(7), ip(7)).unwrap());
            batch.push(db.bind(mac(8), ip(200), 10_000)); // moved
            log.append(&batch).unwrap();
            log.sync().unwrap();
            // "crash": dropped without compaction or any shutdown step
        }
        let (_log, recs, stats) = LeaseLog::open(&p).unwrap();
        assert_eq!(stats.records, 52);
        assert_eq!(stats.corrupt, 0);
        let db = LeaseDb::from_records(&recs);
        assert_eq!(db.bound(0).count(), 49);
        assert_eq!(db.get(&mac(1)).map(|l| l.ip), Some(ip(1)));
        assert!(db.get(&mac(7)).is_none());
        assert_eq!(db.get(&mac(8)).map(|l| l.ip), Some(ip(200)));
        assert_eq!(db.owner(ip(8)), None);
    }

    #[test]
    fn recovery_tolerates_truncated_last_record() {
        let d = tmpdir();
        let p = d.path().join("leases.log");
        let a = LeaseRecord::Bound {
            mac: mac(1),
            ip: ip(1),
            expires: 99,
        }
        .encode();
        let b = LeaseRecord::Bound {
            mac: mac(2),
            ip: ip(2),
            expires: 99,
        }
        .encode();
        for cut in 1..b.len() {
            let torn = format!("{a}{}", &b[..cut]);
            fs::write(&p, &torn).unwrap();
            let (mut log, recs, stats) = LeaseLog::open(&p).unwrap();
            assert_eq!(recs.len(), 1, "cut {cut}");
            assert_eq!(stats.truncated_bytes as usize, cut, "cut {cut}");
            // the torn tail was cut so new appends start on a clean line
            log.append(&[LeaseRecord::Free {
                mac: mac(1),
                ip: ip(1),
            }])
            .unwrap();
            log.sync().unwrap();
            drop(log);
            let (_l, recs, stats) = LeaseLog::open(&p).unwrap();
            assert_eq!(recs.len(), 2, "cut {cut}");
            assert_eq!(stats.corrupt, 0);
            assert!(LeaseDb::from_records(&recs).get(&mac(1)).is_none());
        }
    }

    #[test]
    fn compaction_replaces_log_and_keeps_appending() {
        let d = tmpdir();
        let p = d.path().join("leases.log");
        let (mut log, _, _) = LeaseLog::open(&p).unwrap();
        let mut db = LeaseDb::new();
        for round in 0..20u64 {
            let recs: Vec<_> = (1..=10u8)
                .map(|i| db.bind(mac(i), ip(i), 1000 + round))
                .collect();
            log.append(&recs).unwrap();
        }
        log.sync().unwrap();
        let before = fs::metadata(&p).unwrap().len();
        log.compact(&db.snapshot(0)).unwrap();
        assert!(fs::metadata(&p).unwrap().len() < before / 10);
        log.append(&[db.bind(mac(11), ip(11), 5000)]).unwrap();
        log.sync().unwrap();
        drop(log);
        let (_l, recs, _) = LeaseLog::open(&p).unwrap();
        let db2 = LeaseDb::from_records(&recs);
        assert_eq!(db2.bound(0).count(), 11);
        assert_eq!(db2.get(&mac(3)).map(|l| l.expires), Some(1019));
        assert!(!LeaseLog::tmp_path(&p).exists());
    }

    #[test]
    fn corrupt_middle_line_is_skipped() {
        let a = LeaseRecord::Bound {
            mac: mac(1),
            ip: ip(1),
            expires: 9,
        }
        .encode();
        let data = format!("{a}garbage line\n{a}");
        let (recs, stats, good) = parse_log(data.as_bytes());
        assert_eq!(recs.len(), 2);
        assert_eq!(stats.corrupt, 1);
        assert_eq!(good, data.len());
    }
}
