//! The DHCPv4 protocol engine: one datagram in, at most one action out. No I/O, no clock.
//!
//! Every input comes from the network: nothing here may panic on it (no unwrap / expect /
//! indexing on packet data). Note that `dhcproto`'s `Message::chaddr()` slices by `hlen` and
//! panics for `hlen > 16`, so we validate `hlen` before touching it.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use dhcproto::v4::{DhcpOption, Flags, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Encodable};

use crate::boot::{boot_reply, ClientArch};
use crate::config::{Config, ConfigError, Mode, SubnetConfig};
use crate::lease::{LeaseDb, LeaseRecord};
use crate::HwAddr;

/// What the I/O layer must do with a datagram's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing to send.
    None,
    /// Send now (OFFER, NAK, INFORM ack).
    Reply { packet: Vec<u8>, dest: SocketAddrV4 },
    /// Make `record` durable (fsync), then send (ACK). The ACK must not leave before.
    CommitThenReply {
        record: LeaseRecord,
        packet: Vec<u8>,
        dest: SocketAddrV4,
    },
    /// Persist, nothing to send (RELEASE, DECLINE).
    Persist(LeaseRecord),
}

/// What happened, for the region's per-MAC netboot timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Offered,
    Acked,
    Naked,
    Released,
    Declined,
    Informed,
    /// Unknown MAC while in known-only mode: no answer.
    IgnoredUnknown,
    /// REQUEST for another server's offer.
    IgnoredOtherServer,
    /// No address available.
    PoolExhausted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpEvent {
    pub mac: HwAddr,
    /// The client's message type (DHCP option 53 value, e.g. 1 = DISCOVER, 3 = REQUEST).
    pub message: u8,
    pub kind: EventKind,
    /// Address offered / acked / released / declined.
    pub ip: Option<Ipv4Addr>,
    pub arch: Option<ClientArch>,
    pub is_ipxe: bool,
    /// giaddr when the request came through a relay.
    pub relay: Option<Ipv4Addr>,
    /// Boot file / URL handed out, if any.
    pub boot_file: Option<String>,
    /// The lease's length in seconds, when one was granted (an ACK with an address).
    pub lease_secs: Option<u32>,
}

/// Called synchronously from the packet loop: keep it cheap (e.g. push to a channel).
pub type EventHook = Arc<dyn Fn(DhcpEvent) + Send + Sync>;

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub received: u64,
    pub malformed: u64,
    pub ignored_unknown: u64,
    pub offers: u64,
    pub acks: u64,
    pub naks: u64,
    pub releases: u64,
    pub declines: u64,
    pub informs: u64,
    pub no_subnet: u64,
    pub exhausted: u64,
}

/// Rate limiter for the "unknown MAC" log line: once per MAC per `PER_MAC_SECS`, and at most
/// `MAX_PER_SEC` lines a second overall; the rest are counted and summarised.
#[derive(Debug, Default)]
struct UnknownLog {
    last: HashMap<HwAddr, u64>,
    window: u64,
    lines_in_window: u32,
    suppressed: u64,
    suppressed_macs: u64,
}

impl UnknownLog {
    const PER_MAC_SECS: u64 = 300;
    const MAX_PER_SEC: u32 = 10;
    const MAX_TRACKED: usize = 200_000;

    fn note(&mut self, mac: HwAddr, relay: Option<Ipv4Addr>, now: u64) {
        self.flush(now);
        if self.last.len() >= Self::MAX_TRACKED {
            self.last.clear();
        }
        let fresh = self
            .last
            .get(&mac)
            .is_none_or(|&t| now.saturating_sub(t) >= Self::PER_MAC_SECS);
        if !fresh {
            return;
        }
        self.last.insert(mac, now);
        if self.lines_in_window < Self::MAX_PER_SEC {
            self.lines_in_window += 1;
            tracing::warn!(
                %mac,
                relay = ?relay,
                "DHCP request from unknown MAC ignored (mode known_only, enlistment off)"
            );
        } else {
            self.suppressed += 1;
            self.suppressed_macs += 1;
        }
    }

    fn flush(&mut self, now: u64) {
        if now != self.window {
            if self.suppressed > 0 {
                tracing::warn!(
                    unknown_macs = self.suppressed_macs,
                    "DHCP storm: requests from more unknown MACs ignored (mode known_only, \
                     enlistment off); per-MAC log lines suppressed"
                );
            }
            self.window = now;
            self.lines_in_window = 0;
            self.suppressed = 0;
            self.suppressed_macs = 0;
        }
    }
}

/// Facts extracted from a validated request.
struct Req {
    msg: Message,
    mac: HwAddr,
    mtype: MessageType,
    arch: Option<ClientArch>,
    is_ipxe: bool,
    netboot: bool,
    requested: Option<Ipv4Addr>,
    server_id: Option<Ipv4Addr>,
}

impl Req {
    fn relay(&self) -> Option<Ipv4Addr> {
        let g = self.msg.giaddr();
        (!g.is_unspecified()).then_some(g)
    }
}

fn contains_subslice(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Fixed BOOTP header length (up to and including `file`), then the 4-byte magic cookie.
const BOOTP_HEADER: usize = 236;
const MAGIC: [u8; 4] = [99, 130, 83, 99];

/// Re-encodes `packet` keeping only the options this server reads, each length-checked, first
/// occurrence only (dhcproto's decoders of other options have debug assertions and, for some,
/// assumptions about lengths that a hostile packet can break). `None` if not a DHCP packet.
pub fn sanitize(packet: &[u8]) -> Option<Vec<u8>> {
    let header = packet.get(..BOOTP_HEADER)?;
    if packet.get(BOOTP_HEADER..BOOTP_HEADER + 4)? != MAGIC {
        return None;
    }
    let mut out = Vec::with_capacity(packet.len().min(600));
    out.extend_from_slice(header);
    out.extend_from_slice(&MAGIC);
    let mut seen = [false; 256];
    let mut pos = BOOTP_HEADER + 4;
    while let Some(&code) = packet.get(pos) {
        match code {
            0 => {
                pos += 1;
                continue;
            }
            255 => break,
            _ => {}
        }
        let Some(&len) = packet.get(pos + 1) else {
            break;
        };
        let Some(body) = packet.get(pos + 2..pos + 2 + usize::from(len)) else {
            break; // truncated option: ignore it and the rest
        };
        pos += 2 + usize::from(len);
        let ok = match code {
            53 => len == 1,                 // message type
            50 | 54 => len == 4,            // requested IP, server id
            57 => len == 2,                 // max message size
            93 => len >= 2 && len % 2 == 0, // client arch list
            55 | 60 | 61 | 77 | 175 => len >= 1,
            82 => len >= 2, // relay agent information (echoed)
            _ => false,
        };
        let first = !std::mem::replace(seen.get_mut(usize::from(code))?, true);
        if ok && first {
            out.push(code);
            out.push(len);
            out.extend_from_slice(body);
        }
    }
    out.push(255);
    Some(out)
}

/// Decodes and validates a request. `None` for anything that is not a usable BOOTREQUEST.
fn parse_request(packet: &[u8]) -> Option<Req> {
    let clean = sanitize(packet)?;
    let msg = Message::from_bytes(&clean).ok()?;
    if msg.opcode() != Opcode::BootRequest {
        return None;
    }
    // dhcproto's chaddr() panics for hlen > 16: check first.
    if msg.hlen() == 0 || msg.hlen() > 16 {
        return None;
    }
    let mac = HwAddr::from_slice(msg.chaddr())?;
    let mtype = msg.opts().msg_type()?;
    let arch = match msg.opts().get(OptionCode::ClientSystemArchitecture) {
        Some(DhcpOption::ClientSystemArchitecture(a)) => Some(ClientArch::from_code(a.0)),
        _ => None,
    };
    let user_class_ipxe = match msg.opts().get(OptionCode::UserClass) {
        Some(DhcpOption::UserClass(v)) => contains_subslice(v, b"iPXE"),
        _ => false,
    };
    let is_ipxe = user_class_ipxe || msg.opts().contains(OptionCode::from(175u8));
    let vendor_pxe = match msg.opts().get(OptionCode::ClassIdentifier) {
        Some(DhcpOption::ClassIdentifier(v)) => {
            v.starts_with(b"PXEClient") || v.starts_with(b"HTTPClient")
        }
        _ => false,
    };
    let requested = match msg.opts().get(OptionCode::RequestedIpAddress) {
        Some(DhcpOption::RequestedIpAddress(ip)) => Some(*ip),
        _ => None,
    };
    let server_id = match msg.opts().get(OptionCode::ServerIdentifier) {
        Some(DhcpOption::ServerIdentifier(ip)) => Some(*ip),
        _ => None,
    };
    Some(Req {
        netboot: arch.is_some() || is_ipxe || vendor_pxe,
        msg,
        mac,
        mtype,
        arch,
        is_ipxe,
        requested,
        server_id,
    })
}

/// The protocol engine. Owns the in-memory lease table.
pub struct Engine {
    cfg: Config,
    reservations: HashMap<HwAddr, Ipv4Addr>,
    /// Known without a reservation (answered in `KnownOnly` mode).
    known_macs: std::collections::HashSet<HwAddr>,
    reserved_ips: HashSet<Ipv4Addr>,
    db: LeaseDb,
    cursors: Vec<u64>,
    unknown: UnknownLog,
    hook: Option<EventHook>,
    stats: Stats,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("server_ip", &self.cfg.server_ip)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Engine {
    pub fn new(cfg: Config, db: LeaseDb) -> Result<Self, ConfigError> {
        let reservations = cfg.validate()?;
        let known_macs = cfg
            .known_macs
            .iter()
            .map(|m| m.parse().map_err(|_| ConfigError::Mac(m.clone())))
            .collect::<Result<_, _>>()?;
        let reserved_ips = reservations.values().copied().collect();
        let cursors = vec![0; cfg.subnets.len()];
        Ok(Engine {
            cfg,
            reservations,
            known_macs,
            reserved_ips,
            db,
            cursors,
            unknown: UnknownLog::default(),
            hook: None,
            stats: Stats::default(),
        })
    }

    pub fn set_event_hook(&mut self, hook: Option<EventHook>) {
        self.hook = hook;
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn db(&self) -> &LeaseDb {
        &self.db
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Handles one datagram received at unix time `now` (seconds).
    pub fn handle(&mut self, packet: &[u8], now: u64) -> Action {
        self.stats.received += 1;
        let Some(req) = parse_request(packet) else {
            self.stats.malformed += 1;
            tracing::debug!(
                len = packet.len(),
                "malformed or non-request DHCP packet dropped"
            );
            return Action::None;
        };
        let Some(si) = self.select_subnet(&req) else {
            self.stats.no_subnet += 1;
            tracing::debug!(mac = %req.mac, giaddr = %req.msg.giaddr(), "no subnet for request");
            return Action::None;
        };
        let known = self.reservations.contains_key(&req.mac) || self.known_macs.contains(&req.mac);
        if !known && self.cfg.mode == Mode::KnownOnly {
            self.stats.ignored_unknown += 1;
            self.unknown.note(req.mac, req.relay(), now);
            self.event(&req, EventKind::IgnoredUnknown, None, None);
            return Action::None;
        }
        match req.mtype {
            MessageType::Discover => self.discover(&req, si, now),
            MessageType::Request => self.request(&req, si, now),
            MessageType::Release => self.release(&req),
            MessageType::Decline => self.decline(&req, si, now),
            MessageType::Inform => self.inform(&req, si),
            _ => {
                self.stats.malformed += 1;
                Action::None
            }
        }
    }

    fn select_subnet(&self, req: &Req) -> Option<usize> {
        let subnets = &self.cfg.subnets;
        if let Some(g) = req.relay() {
            return subnets.iter().position(|s| s.cidr.contains(g));
        }
        let ci = req.msg.ciaddr();
        if !ci.is_unspecified() {
            if let Some(i) = subnets.iter().position(|s| s.cidr.contains(ci)) {
                return Some(i);
            }
        }
        // Direct client on our link: the subnet of the server's address, else the first one.
        subnets
            .iter()
            .position(|s| s.cidr.contains(self.cfg.server_ip))
            .or(if subnets.is_empty() { None } else { Some(0) })
    }

    fn subnet(&self, si: usize) -> Option<&SubnetConfig> {
        self.cfg.subnets.get(si)
    }

    fn in_ranges(s: &SubnetConfig, ip: Ipv4Addr) -> bool {
        let v = u32::from(ip);
        s.ranges
            .iter()
            .any(|r| u32::from(r.start) <= v && v <= u32::from(r.end))
    }

    /// Can `mac` have `ip` in subnet `si`?
    fn acceptable(&self, req: &Req, si: usize, ip: Ipv4Addr, now: u64) -> bool {
        let Some(s) = self.subnet(si) else {
            return false;
        };
        if let Some(&r) = self.reservations.get(&req.mac) {
            return r == ip && s.cidr.contains(ip);
        }
        Self::in_ranges(s, ip)
            && !self.reserved_ips.contains(&ip)
            && self.db.is_free_for(ip, &req.mac, now)
    }

    fn choose_ip(&mut self, req: &Req, si: usize, now: u64) -> Option<Ipv4Addr> {
        let s = self.cfg.subnets.get(si)?;
        if let Some(&r) = self.reservations.get(&req.mac) {
            return s.cidr.contains(r).then_some(r);
        }
        if let Some(l) = self.db.get(&req.mac) {
            if self.acceptable(req, si, l.ip, now) {
                return Some(l.ip);
            }
        }
        if let Some(ip) = req.requested {
            if self.acceptable(req, si, ip, now) {
                return Some(ip);
            }
        }
        let cursor = self.cursors.get_mut(si)?;
        self.db
            .allocate(&s.ranges, cursor, &req.mac, now, &self.reserved_ips)
    }

    fn discover(&mut self, req: &Req, si: usize, now: u64) -> Action {
        let Some(ip) = self.choose_ip(req, si, now) else {
            self.stats.exhausted += 1;
            tracing::warn!(mac = %req.mac, subnet = ?self.subnet(si).map(|s| s.cidr), "no free address");
            self.event(req, EventKind::PoolExhausted, None, None);
            return Action::None;
        };
        self.db
            .offer(req.mac, ip, now + u64::from(self.cfg.offer_hold_secs));
        let (packet, boot_file) = self.build_reply(req, si, MessageType::Offer, ip, true);
        self.stats.offers += 1;
        self.event(req, EventKind::Offered, Some(ip), boot_file);
        match packet {
            Some(packet) => Action::Reply {
                packet,
                dest: self.dest(req, false),
            },
            None => Action::None,
        }
    }

    fn request(&mut self, req: &Req, si: usize, now: u64) -> Action {
        if let Some(sid) = req.server_id {
            if sid != self.cfg.server_ip {
                // The client took another server's offer.
                self.event(req, EventKind::IgnoredOtherServer, req.requested, None);
                return Action::None;
            }
        }
        let ci = req.msg.ciaddr();
        let wanted = req.requested.or((!ci.is_unspecified()).then_some(ci));
        let Some(ip) = wanted else {
            return Action::None;
        };
        if !self.acceptable(req, si, ip, now) {
            self.stats.naks += 1;
            self.event(req, EventKind::Naked, Some(ip), None);
            return match self
                .build_reply(req, si, MessageType::Nak, Ipv4Addr::UNSPECIFIED, false)
                .0
            {
                Some(packet) => Action::Reply {
                    packet,
                    dest: self.dest(req, true),
                },
                None => Action::None,
            };
        }
        let lease_time = self
            .subnet(si)
            .map_or(crate::config::DEFAULT_LEASE_TIME, |s| s.lease_time);
        let record = self.db.bind(req.mac, ip, now + u64::from(lease_time));
        let (packet, boot_file) = self.build_reply(req, si, MessageType::Ack, ip, true);
        self.stats.acks += 1;
        self.emit(req, EventKind::Acked, Some(ip), boot_file, Some(lease_time));
        match packet {
            Some(packet) => Action::CommitThenReply {
                record,
                packet,
                dest: self.dest(req, false),
            },
            None => Action::Persist(record),
        }
    }

    fn release(&mut self, req: &Req) -> Action {
        let ip = req.msg.ciaddr();
        match self.db.release(req.mac, ip) {
            Some(rec) => {
                self.stats.releases += 1;
                self.event(req, EventKind::Released, Some(ip), None);
                Action::Persist(rec)
            }
            None => Action::None,
        }
    }

    fn decline(&mut self, req: &Req, si: usize, now: u64) -> Action {
        let Some(ip) = req.requested else {
            return Action::None;
        };
        if self.db.owner(ip) != Some(req.mac) {
            return Action::None;
        }
        let hold = self
            .subnet(si)
            .map_or(crate::config::DEFAULT_LEASE_TIME, |s| s.lease_time);
        let rec = self.db.decline(ip, now + u64::from(hold));
        self.stats.declines += 1;
        tracing::warn!(mac = %req.mac, %ip, "address declined by client (in use?); quarantined");
        self.event(req, EventKind::Declined, Some(ip), None);
        Action::Persist(rec)
    }

    fn inform(&mut self, req: &Req, si: usize) -> Action {
        let (packet, boot_file) =
            self.build_reply(req, si, MessageType::Ack, Ipv4Addr::UNSPECIFIED, false);
        self.stats.informs += 1;
        self.event(req, EventKind::Informed, None, boot_file);
        match packet {
            Some(packet) => Action::Reply {
                packet,
                dest: self.dest(req, false),
            },
            None => Action::None,
        }
    }

    /// RFC 2131 4.1: relay -> giaddr:67; renewing client -> ciaddr:68; else broadcast.
    fn dest(&self, req: &Req, nak: bool) -> SocketAddrV4 {
        if let Some(g) = req.relay() {
            return SocketAddrV4::new(g, self.cfg.relay_reply_port);
        }
        let ci = req.msg.ciaddr();
        if !nak && !ci.is_unspecified() {
            return SocketAddrV4::new(ci, self.cfg.client_port);
        }
        SocketAddrV4::new(Ipv4Addr::BROADCAST, self.cfg.client_port)
    }

    /// Builds and encodes a reply. `lease`: include lease time (OFFER / ACK of a REQUEST).
    fn build_reply(
        &self,
        req: &Req,
        si: usize,
        mtype: MessageType,
        yiaddr: Ipv4Addr,
        lease: bool,
    ) -> (Option<Vec<u8>>, Option<String>) {
        let Some(s) = self.subnet(si) else {
            return (None, None);
        };
        let q = &req.msg;
        let mut m = Message::new_with_id(
            q.xid(),
            Ipv4Addr::UNSPECIFIED,
            yiaddr,
            Ipv4Addr::UNSPECIFIED,
            q.giaddr(),
            req.mac.as_bytes(),
        );
        m.set_opcode(Opcode::BootReply);
        m.set_htype(q.htype());
        let mut flags = q.flags();
        if mtype == MessageType::Nak && req.relay().is_some() {
            flags = Flags::new(0).set_broadcast();
        }
        m.set_flags(flags);
        if mtype == MessageType::Ack && !lease {
            m.set_ciaddr(q.ciaddr()); // INFORM
        }
        let opts = m.opts_mut();
        opts.insert(DhcpOption::MessageType(mtype));
        opts.insert(DhcpOption::ServerIdentifier(self.cfg.server_ip));
        let mut boot_file = None;
        if mtype == MessageType::Nak {
            opts.insert(DhcpOption::Message("address not available".into()));
        } else {
            if lease {
                let lt = s.lease_time;
                opts.insert(DhcpOption::AddressLeaseTime(lt));
                opts.insert(DhcpOption::Renewal(lt / 2));
                opts.insert(DhcpOption::Rebinding(lt / 8 * 7));
            }
            if let Some(mask) = s.cidr.netmask_v4() {
                opts.insert(DhcpOption::SubnetMask(mask));
            }
            if let Some(r) = s.router {
                opts.insert(DhcpOption::Router(vec![r]));
            }
            if !s.dns.is_empty() {
                opts.insert(DhcpOption::DomainNameServer(s.dns.clone()));
            }
            if let Some(d) = &s.domain_name {
                opts.insert(DhcpOption::DomainName(d.clone()));
            }
            if req.netboot {
                if let Some(b) = &self.cfg.boot {
                    if let Some(ans) = boot_reply(req.arch, req.is_ipxe, &req.mac, b, s.next_server)
                    {
                        if let Some(ns) = ans.next_server {
                            m.set_siaddr(ns);
                            m.opts_mut()
                                .insert(DhcpOption::TFTPServerName(ns.to_string().into_bytes()));
                        }
                        if ans.filename.len() < 128 {
                            m.set_fname_str(&ans.filename);
                        }
                        let opts = m.opts_mut();
                        opts.insert(DhcpOption::BootfileName(ans.filename.clone().into_bytes()));
                        if let Some(vc) = ans.vendor_class {
                            opts.insert(DhcpOption::ClassIdentifier(vc.as_bytes().to_vec()));
                        }
                        boot_file = Some(ans.filename);
                    }
                }
            }
        }
        // RFC 3046: echo the relay agent information option.
        if let Some(o82) = q.opts().get(OptionCode::RelayAgentInformation) {
            m.opts_mut().insert(o82.clone());
        }
        (m.to_vec().ok(), boot_file)
    }

    fn event(&self, req: &Req, kind: EventKind, ip: Option<Ipv4Addr>, boot_file: Option<String>) {
        self.emit(req, kind, ip, boot_file, None);
    }

    fn emit(
        &self,
        req: &Req,
        kind: EventKind,
        ip: Option<Ipv4Addr>,
        boot_file: Option<String>,
        lease_secs: Option<u32>,
    ) {
        if let Some(h) = &self.hook {
            h(DhcpEvent {
                mac: req.mac,
                message: u8::from(req.mtype),
                kind,
                ip,
                arch: req.arch,
                is_ipxe: req.is_ipxe,
                relay: req.relay(),
                boot_file,
                lease_secs,
            });
        }
    }

    /// Durable state for a compaction snapshot.
    pub fn snapshot(&self, now: u64) -> Vec<LeaseRecord> {
        self.db.snapshot(now)
    }

    /// Emits the pending "unknown MAC storm" summary, if any (call about once a second).
    pub fn tick(&mut self, now: u64) {
        self.unknown.flush(now);
    }
}
