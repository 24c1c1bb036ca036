//! `ipmi` driver: native IPMI over UDP on tokio, no `ipmitool` process.
//!
//! Why our own implementation and not the `ipmi-rs` crate (0.4-0.6): `ipmi-rs` is blocking
//! (std `UdpSocket`, one thread per BMC), does no cipher-suite negotiation or fall-back
//! (ipmi_sim never answers "Get Channel Cipher Suites"), has no K_g support and no error
//! classification we could map onto [`PowerError`]'s transient / permanent kinds. What we need
//! is small: a handful of commands, one session per operation, so it is written here:
//!
//! * IPMI 1.5 (`power_driver=LAN`): Get Channel Authentication Capabilities, Get Session
//!   Challenge, Activate Session, Set Session Privilege Level, Close Session; auth type MD5,
//!   else straight password, else none, with per-message auth codes and sequence numbers.
//! * IPMI 2.0 RMCP+ (`LAN_2_0`): Open Session, RAKP 1-4 (HMAC-SHA1; HMAC-SHA256 for suite 17),
//!   integrity HMAC-SHA1-96 / HMAC-SHA256-128, confidentiality AES-CBC-128; cipher suites
//!   0, 1, 2, 3, 17. `cipher_suite_id = ""` asks "Get Channel Cipher Suites" (short timeout)
//!   and otherwise tries 17, 3, 2, 1, 0 in turn. K_g, when given, keys the SIK.
//! * Commands: Get Chassis Status, Chassis Control, Set System Boot Options (parameter 5).
//!
//! Every request is retransmitted a few times with a short timeout; long retries are the job
//! of [`crate::PowerControl`]. Received bytes are untrusted: [`proto`] parses with bounds
//! checks only and never panics (fuzzed in `tests/ipmi.rs`).

pub mod proto;

use crate::{BootDevice, Params, PowerDriver, PowerError, PowerState};
use async_trait::async_trait;
use proto::{Packet, Suite};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;

const DEFAULT_PORT: u16 = 623;

/// The `ipmi` power driver, bound to one BMC.
#[derive(Debug, Clone)]
pub struct Ipmi {
    host: String,
    port: u16,
    user: Vec<u8>,
    pass: Vec<u8>,
    kg: Option<Vec<u8>>,
    v20: bool,
    /// `None` = automatic.
    suite: Option<u8>,
    privilege: u8,
    timeout: Duration,
    tries: u32,
}

fn param<'a>(p: &'a Params, k: &str) -> &'a str {
    p.get(k).and_then(Value::as_str).unwrap_or("").trim()
}

fn parse_address(a: &str) -> Result<(String, u16), PowerError> {
    let bad = || PowerError::BadParams(format!("power_address '{a}' is not host or host:port"));
    if a.is_empty() {
        return Err(PowerError::BadParams("power_address is required".into()));
    }
    if let Some(rest) = a.strip_prefix('[') {
        let (h, tail) = rest.split_once(']').ok_or_else(bad)?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if tail.is_empty() => DEFAULT_PORT,
            None => return Err(bad()),
        };
        return Ok((h.to_string(), port));
    }
    match a.matches(':').count() {
        0 => Ok((a.to_string(), DEFAULT_PORT)),
        1 => {
            let (h, p) = a.split_once(':').ok_or_else(bad)?;
            if h.is_empty() {
                return Err(bad());
            }
            Ok((h.to_string(), p.parse().map_err(|_| bad())?))
        }
        _ => Ok((a.to_string(), DEFAULT_PORT)), // a bare IPv6 address
    }
}

fn parse_kg(k: &str) -> Vec<u8> {
    if let Some(hex) = k.strip_prefix("0x").or_else(|| k.strip_prefix("0X")) {
        if hex.len().is_multiple_of(2) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return (0..hex.len())
                .step_by(2)
                .filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
                .collect();
        }
    }
    k.as_bytes().to_vec()
}

impl Ipmi {
    pub fn from_params(params: &Params) -> Result<Self, PowerError> {
        let (host, port) = parse_address(param(params, "power_address"))?;
        let user = param(params, "power_user").as_bytes().to_vec();
        if user.len() > 16 {
            return Err(PowerError::BadParams(
                "power_user is longer than 16 bytes".into(),
            ));
        }
        let pass = params
            .get("power_pass")
            .and_then(Value::as_str)
            .unwrap_or("")
            .as_bytes()
            .to_vec();
        if pass.len() > 20 {
            return Err(PowerError::BadParams(
                "power_pass is longer than 20 bytes".into(),
            ));
        }
        let kg = match param(params, "k_g") {
            "" => None,
            k => Some(parse_kg(k)),
        };
        let v20 = match param(params, "power_driver") {
            "" | "LAN_2_0" => true,
            "LAN" => false,
            o => {
                return Err(PowerError::BadParams(format!(
                    "power_driver '{o}' is not LAN or LAN_2_0"
                )))
            }
        };
        let suite = match params.get("cipher_suite_id") {
            None => Some(3),
            Some(_) => match param(params, "cipher_suite_id") {
                "" => None,
                s => match s
                    .parse::<u8>()
                    .ok()
                    .filter(|id| proto::suite(*id).is_some())
                {
                    Some(id) => Some(id),
                    None => {
                        return Err(PowerError::BadParams(format!(
                            "cipher_suite_id '{s}' is not one of 0, 1, 2, 3, 17"
                        )))
                    }
                },
            },
        };
        let privilege = match param(params, "privilege_level")
            .to_ascii_uppercase()
            .as_str()
        {
            "" | "OPERATOR" => 3,
            "USER" => 2,
            "ADMIN" => 4,
            o => {
                return Err(PowerError::BadParams(format!(
                    "privilege_level '{o}' is not USER, OPERATOR or ADMIN"
                )))
            }
        };
        Ok(Ipmi {
            host,
            port,
            user,
            pass,
            kg,
            v20,
            suite,
            privilege,
            timeout: Duration::from_secs(1),
            tries: 3,
        })
    }

    /// Per-request timeout and number of sends (default 1 s x 3).
    pub fn with_timeouts(mut self, timeout: Duration, tries: u32) -> Self {
        self.timeout = timeout;
        self.tries = tries.max(1);
        self
    }

    async fn resolve(&self) -> Result<SocketAddr, PowerError> {
        let mut it = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| PowerError::Unreachable(format!("cannot resolve {}: {e}", self.host)))?;
        it.next()
            .ok_or_else(|| PowerError::Unreachable(format!("{} has no address", self.host)))
    }

    async fn open(&self) -> Result<Session, PowerError> {
        let addr = self.resolve().await?;
        let link = Link::connect(addr, self.timeout, self.tries).await?;
        let mut s = Session {
            link,
            rq_seq: 0,
            kind: Kind::None,
        };
        let caps = s.auth_caps(self.privilege, self.v20).await?;
        if self.v20 {
            if !caps.ipmi20 {
                tracing::debug!("{addr}: BMC does not announce IPMI 2.0; trying RMCP+ anyway");
            }
            let candidates: Vec<u8> = match self.suite {
                Some(id) => vec![id],
                None => match s.cipher_suites().await {
                    Some(ids) if ids.iter().any(|i| proto::SUITE_PREFERENCE.contains(i)) => {
                        proto::SUITE_PREFERENCE
                            .iter()
                            .copied()
                            .filter(|i| ids.contains(i))
                            .collect()
                    }
                    _ => proto::SUITE_PREFERENCE.to_vec(),
                },
            };
            let auto = candidates.len() > 1;
            let mut last = PowerError::Unsupported("no cipher suite to try".into());
            for id in candidates {
                let Some(suite) = proto::suite(id) else {
                    continue;
                };
                match s.open_v20(self, suite, auto).await {
                    Ok(()) => {
                        s.set_privilege(self.privilege).await?;
                        return Ok(s);
                    }
                    Err(
                        e
                        @ (PowerError::Auth(_) | PowerError::Unreachable(_) | PowerError::Busy(_)),
                    ) => return Err(e),
                    Err(e) => {
                        tracing::debug!("{addr}: cipher suite {id}: {e}");
                        last = e;
                    }
                }
            }
            Err(last)
        } else {
            s.open_v15(self, caps).await?;
            s.set_privilege(self.privilege).await?;
            Ok(s)
        }
    }

    /// Open a session, run `op`, close the session.
    async fn run(&self, op: Op) -> Result<Option<PowerState>, PowerError> {
        let mut s = self.open().await?;
        let r = s.op(op).await;
        s.close().await;
        r
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Query,
    On,
    Off,
    Soft,
    Cycle,
    Boot(BootDevice, bool),
}

// ---------- transport ----------

struct Link {
    sock: UdpSocket,
    timeout: Duration,
    tries: u32,
}

enum Accept<T> {
    Done(Result<T, PowerError>),
    /// Not ours (a late answer to an earlier request): keep waiting.
    Ignore,
    /// Unparseable: keep waiting, but report Protocol if nothing better comes.
    Garbage(String),
}

fn io_err(addr: &str, e: std::io::Error) -> PowerError {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused | ConnectionReset | HostUnreachable | NetworkUnreachable
        | AddrNotAvailable => PowerError::Unreachable(format!("{addr}: {e}")),
        TimedOut => PowerError::Timeout(format!("{addr}: {e}")),
        _ => PowerError::Unreachable(format!("{addr}: {e}")),
    }
}

impl Link {
    async fn connect(addr: SocketAddr, timeout: Duration, tries: u32) -> Result<Link, PowerError> {
        let local: SocketAddr = if addr.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock = UdpSocket::bind(local)
            .await
            .map_err(|e| io_err(&addr.to_string(), e))?;
        sock.connect(addr)
            .await
            .map_err(|e| io_err(&addr.to_string(), e))?;
        Ok(Link {
            sock,
            timeout,
            tries,
        })
    }

    fn peer(&self) -> String {
        self.sock
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| "BMC".into())
    }

    /// Send `pkt` up to `tries` times, `timeout` each, until `accept` takes an answer.
    async fn exchange<T>(
        &self,
        what: &str,
        pkt: &[u8],
        tries: u32,
        timeout: Duration,
        mut accept: impl FnMut(&[u8]) -> Accept<T>,
    ) -> Result<T, PowerError> {
        let mut buf = [0u8; 1024];
        let mut garbage: Option<String> = None;
        for _ in 0..tries.max(1) {
            self.sock
                .send(pkt)
                .await
                .map_err(|e| io_err(&self.peer(), e))?;
            let deadline = tokio::time::Instant::now() + timeout;
            loop {
                match tokio::time::timeout_at(deadline, self.sock.recv(&mut buf)).await {
                    Err(_) => break,
                    Ok(Err(e)) => return Err(io_err(&self.peer(), e)),
                    Ok(Ok(n)) => match accept(buf.get(..n).unwrap_or(&[])) {
                        Accept::Done(r) => return r,
                        Accept::Ignore => {}
                        Accept::Garbage(g) => garbage = Some(g),
                    },
                }
            }
        }
        Err(match garbage {
            Some(g) => PowerError::Protocol(format!("{}: {what}: {g}", self.peer())),
            None => PowerError::Timeout(format!(
                "{}: no answer to {what} after {} tries",
                self.peer(),
                tries.max(1)
            )),
        })
    }
}

// ---------- sessions ----------

enum Kind {
    /// Before a session: discovery commands in IPMI 1.5 format, unauthenticated.
    None,
    V15 {
        auth_type: u8,
        key: [u8; 16],
        sid: u32,
        seq: u32,
    },
    V20 {
        suite: Suite,
        console_sid: u32,
        bmc_sid: u32,
        seq: u32,
        k1: Vec<u8>,
        k2: [u8; 16],
    },
}

struct Session {
    link: Link,
    rq_seq: u8,
    kind: Kind,
}

const CMD_GET_CHANNEL_AUTH_CAPS: u8 = 0x38;
const CMD_GET_SESSION_CHALLENGE: u8 = 0x39;
const CMD_ACTIVATE_SESSION: u8 = 0x3a;
const CMD_SET_SESSION_PRIVILEGE: u8 = 0x3b;
const CMD_CLOSE_SESSION: u8 = 0x3c;
const CMD_GET_CHANNEL_CIPHER_SUITES: u8 = 0x54;
const CMD_GET_CHASSIS_STATUS: u8 = 0x01;
const CMD_CHASSIS_CONTROL: u8 = 0x02;
const CMD_SET_BOOT_OPTIONS: u8 = 0x08;

fn cc_error(peer: &str, cmd: u8, cc: u8) -> PowerError {
    let m = format!("{peer}: command 0x{cmd:02x} failed with completion code 0x{cc:02x}");
    match (cmd, cc) {
        (_, 0xc0) => PowerError::Busy(m),
        (_, 0xd4) | (_, 0xd3) => PowerError::Auth(format!("{m} (insufficient privilege)")),
        (CMD_GET_SESSION_CHALLENGE, 0x81 | 0x82) => {
            PowerError::Auth(format!("{m} (invalid or null user name)"))
        }
        (CMD_ACTIVATE_SESSION, 0x81..=0x83) => PowerError::Busy(format!("{m} (no session slot)")),
        (CMD_ACTIVATE_SESSION, 0x86) | (CMD_SET_SESSION_PRIVILEGE, 0x80 | 0x81) => {
            PowerError::Auth(format!("{m} (privilege level not allowed)"))
        }
        (_, 0xc1) => PowerError::Unsupported(format!("{m} (invalid command)")),
        (_, 0xc3) => PowerError::Timeout(m),
        _ => PowerError::Protocol(m),
    }
}

fn rmcpp_error(peer: &str, step: &str, status: u8) -> PowerError {
    let m = format!(
        "{peer}: {step}: RMCP+ status 0x{status:02x} ({})",
        proto::rmcpp_status(status)
    );
    match status {
        0x01 | 0x0b => PowerError::Busy(m),
        0x04 | 0x05 | 0x06 | 0x07 | 0x10 | 0x11 => PowerError::Unsupported(m),
        0x09 | 0x0a | 0x0c | 0x0d | 0x0e | 0x0f | 0x12 => PowerError::Auth(m),
        _ => PowerError::Protocol(m),
    }
}

impl Session {
    fn next_rq_seq(&mut self) -> u8 {
        self.rq_seq = (self.rq_seq + 1) & 0x3f;
        self.rq_seq
    }

    /// Wrap an IPMI message for the current session state.
    fn wrap(&mut self, msg: &[u8]) -> Vec<u8> {
        match &mut self.kind {
            Kind::None => proto::encode_v15(proto::AUTH_NONE, 0, 0, None, msg),
            Kind::V15 {
                auth_type,
                key,
                sid,
                seq,
            } => {
                let s = *seq;
                *seq = seq.wrapping_add(1).max(1);
                let code = proto::v15_auth_code(*auth_type, key, *sid, s, msg);
                proto::encode_v15(*auth_type, s, *sid, code.as_ref(), msg)
            }
            Kind::V20 {
                suite,
                bmc_sid,
                seq,
                k1,
                k2,
                ..
            } => {
                *seq = seq.wrapping_add(1).max(1);
                let (ptype, payload) = if suite.confidentiality == 1 {
                    (
                        proto::PT_IPMI | proto::PT_ENCRYPTED,
                        proto::aes_encrypt(k2, &rand::random::<[u8; 16]>(), msg),
                    )
                } else {
                    (proto::PT_IPMI, msg.to_vec())
                };
                let integ = (suite.integrity != 0).then_some((&*suite, k1.as_slice()));
                proto::encode_v20(ptype, *bmc_sid, *seq, &payload, integ)
            }
        }
    }

    /// Extract the IPMI message from a received datagram, checking session and integrity.
    fn unwrap_msg(kind: &Kind, b: &[u8]) -> Result<Vec<u8>, String> {
        match kind {
            Kind::V20 {
                suite,
                console_sid,
                k1,
                k2,
                ..
            } => match proto::parse_packet(b, suite.integrity_len())? {
                Packet::V20 {
                    ptype,
                    sid,
                    payload,
                    signed,
                    auth_code,
                    ..
                } => {
                    if ptype & 0x3f != proto::PT_IPMI || sid != *console_sid {
                        return Err(format!(
                            "unexpected RMCP+ payload 0x{ptype:02x} for session 0x{sid:08x}"
                        ));
                    }
                    if suite.integrity != 0
                        && (ptype & proto::PT_AUTHENTICATED == 0
                            || !proto::verify_integrity(suite, k1, signed, auth_code))
                    {
                        return Err("integrity check failed".into());
                    }
                    if ptype & proto::PT_ENCRYPTED != 0 {
                        proto::aes_decrypt(k2, payload)
                    } else {
                        Ok(payload.to_vec())
                    }
                }
                Packet::V15 { msg, .. } => Ok(msg.to_vec()),
            },
            _ => match proto::parse_packet(b, 0)? {
                Packet::V15 { msg, .. } => Ok(msg.to_vec()),
                Packet::V20 { .. } => Err("RMCP+ packet outside an RMCP+ session".into()),
            },
        }
    }

    /// Send one command and return its response data (completion code 0), with the default
    /// timeouts of the link.
    async fn cmd(&mut self, netfn: u8, cmd: u8, data: &[u8]) -> Result<Vec<u8>, PowerError> {
        let (t, n) = (self.link.timeout, self.link.tries);
        self.cmd_with(netfn, cmd, data, t, n).await
    }

    async fn cmd_with(
        &mut self,
        netfn: u8,
        cmd: u8,
        data: &[u8],
        timeout: Duration,
        tries: u32,
    ) -> Result<Vec<u8>, PowerError> {
        let rq_seq = self.next_rq_seq();
        let msg = proto::encode_request(netfn, cmd, rq_seq, data);
        let pkt = self.wrap(&msg);
        let peer = self.link.peer();
        let kind = &self.kind;
        let what = format!("command 0x{netfn:02x}/0x{cmd:02x}");
        self.link
            .exchange(&what, &pkt, tries, timeout, |b| {
                let m = match Self::unwrap_msg(kind, b) {
                    Ok(m) => m,
                    Err(e) => return Accept::Garbage(e),
                };
                match proto::decode_response(&m) {
                    Err(e) => Accept::Garbage(e),
                    Ok(r) if r.rq_seq != rq_seq || r.cmd != cmd || r.netfn != netfn + 1 => {
                        Accept::Ignore
                    }
                    Ok(r) if r.cc != 0 => Accept::Done(Err(cc_error(&peer, cmd, r.cc))),
                    Ok(r) => Accept::Done(Ok(r.data)),
                }
            })
            .await
    }

    async fn auth_caps(&mut self, privilege: u8, v20: bool) -> Result<proto::AuthCaps, PowerError> {
        let chan = if v20 { 0x8e } else { 0x0e };
        let d = self
            .cmd(
                proto::NETFN_APP,
                CMD_GET_CHANNEL_AUTH_CAPS,
                &[chan, privilege],
            )
            .await?;
        proto::parse_auth_caps(&d)
            .map_err(|e| PowerError::Protocol(format!("{}: {e}", self.link.peer())))
    }

    /// Get Channel Cipher Suites with a short timeout; `None` when the BMC does not answer.
    async fn cipher_suites(&mut self) -> Option<Vec<u8>> {
        let t = self.link.timeout.min(Duration::from_millis(300));
        let mut records = Vec::new();
        for index in 0..8u8 {
            let d = self
                .cmd_with(
                    proto::NETFN_APP,
                    CMD_GET_CHANNEL_CIPHER_SUITES,
                    &[0x0e, 0x00, 0x80 | index],
                    t,
                    1,
                )
                .await
                .ok()?;
            let chunk = d.get(1..).unwrap_or(&[]);
            records.extend_from_slice(chunk);
            if chunk.len() < 16 {
                break;
            }
        }
        Some(proto::parse_cipher_suite_ids(&records))
    }

    async fn set_privilege(&mut self, privilege: u8) -> Result<(), PowerError> {
        self.cmd(proto::NETFN_APP, CMD_SET_SESSION_PRIVILEGE, &[privilege])
            .await
            .map(|_| ())
    }

    async fn open_v15(&mut self, cfg: &Ipmi, caps: proto::AuthCaps) -> Result<(), PowerError> {
        let peer = self.link.peer();
        let auth_type = if caps.auth_types & (1 << proto::AUTH_MD5) != 0 {
            proto::AUTH_MD5
        } else if caps.auth_types & (1 << proto::AUTH_STRAIGHT) != 0 {
            proto::AUTH_STRAIGHT
        } else if caps.auth_types & 1 != 0 {
            proto::AUTH_NONE
        } else {
            return Err(PowerError::Unsupported(format!(
                "{peer}: the BMC offers no IPMI 1.5 auth type we support (mask 0x{:02x})",
                caps.auth_types
            )));
        };
        let mut req = vec![auth_type];
        req.extend_from_slice(&proto::pad16(&cfg.user));
        let d = self
            .cmd(proto::NETFN_APP, CMD_GET_SESSION_CHALLENGE, &req)
            .await?;
        let (temp_sid, challenge) =
            proto::parse_challenge(&d).map_err(|e| PowerError::Protocol(format!("{peer}: {e}")))?;
        let key = proto::pad16(&cfg.pass);
        let out_seq: u32 = rand::random::<u32>().max(1);
        // Activate Session goes out authenticated, in the temporary session, sequence 0.
        self.kind = Kind::V15 {
            auth_type,
            key,
            sid: temp_sid,
            seq: 0,
        };
        let mut req = vec![auth_type, cfg.privilege];
        req.extend_from_slice(&challenge);
        req.extend_from_slice(&out_seq.to_le_bytes());
        let (t, n) = (self.link.timeout, self.link.tries.min(2));
        let d = match self
            .cmd_with(proto::NETFN_APP, CMD_ACTIVATE_SESSION, &req, t, n)
            .await
        {
            Ok(d) => d,
            // A BMC drops an Activate Session whose auth code is wrong: after it answered the
            // challenge, silence means the password is wrong.
            Err(PowerError::Timeout(m)) => {
                self.kind = Kind::None;
                return Err(PowerError::Auth(format!(
                    "{m} (Activate Session unanswered: wrong password?)"
                )));
            }
            Err(e) => {
                self.kind = Kind::None;
                return Err(e);
            }
        };
        let (at, sid, inbound_seq, _max_priv) =
            proto::parse_activate(&d).map_err(|e| PowerError::Protocol(format!("{peer}: {e}")))?;
        self.kind = Kind::V15 {
            auth_type: at,
            key,
            sid,
            seq: inbound_seq.max(1),
        };
        Ok(())
    }

    async fn open_v20(&mut self, cfg: &Ipmi, suite: Suite, auto: bool) -> Result<(), PowerError> {
        let peer = self.link.peer();
        let proto_err = |e: String| PowerError::Protocol(format!("{peer}: {e}"));
        let tries = if auto { 1 } else { self.link.tries };
        let t = self.link.timeout;
        let console_sid: u32 = rand::random::<u32>().max(1);
        let tag: u8 = rand::random();
        // Open Session.
        let pkt = proto::encode_v20(
            proto::PT_OPEN_REQ,
            0,
            0,
            &proto::open_session_request(tag, cfg.privilege, console_sid, &suite),
            None,
        );
        let payload_of = |b: &[u8], want: u8| -> Accept<Vec<u8>> {
            match proto::parse_packet(b, 0) {
                Ok(Packet::V20 { ptype, payload, .. }) if ptype & 0x3f == want => {
                    Accept::Done(Ok(payload.to_vec()))
                }
                Ok(_) => Accept::Ignore,
                Err(e) => Accept::Garbage(e),
            }
        };
        let d = self
            .link
            .exchange("RMCP+ Open Session", &pkt, tries, t, |b| {
                payload_of(b, proto::PT_OPEN_RSP)
            })
            .await?;
        let os = proto::parse_open_session_response(&d).map_err(proto_err)?;
        if os.status != 0 {
            return Err(rmcpp_error(
                &peer,
                &format!("Open Session (cipher suite {})", suite.id),
                os.status,
            ));
        }
        if os.tag != tag || os.console_sid != console_sid {
            return Err(proto_err("Open Session answer for another session".into()));
        }
        if os.algorithms != (suite.auth, suite.integrity, suite.confidentiality) {
            // Some BMCs (pyghmi) answer with their own algorithms instead of refusing.
            return Err(PowerError::Unsupported(format!(
                "{peer}: cipher suite {} refused: the BMC chose algorithms {:?}",
                suite.id, os.algorithms
            )));
        }
        let bmc_sid = os.bmc_sid;
        // RAKP 1 / 2.
        let rm: [u8; 16] = rand::random();
        let role = 0x10 | cfg.privilege; // name-only lookup
        let user = &cfg.user;
        let pkt = proto::encode_v20(
            proto::PT_RAKP1,
            0,
            0,
            &proto::rakp1(tag, bmc_sid, &rm, role, user),
            None,
        );
        let d = self
            .link
            .exchange("RAKP 1", &pkt, self.link.tries, t, |b| {
                payload_of(b, proto::PT_RAKP2)
            })
            .await?;
        let r2 = proto::parse_rakp2(&d).map_err(proto_err)?;
        if r2.status != 0 {
            return Err(rmcpp_error(&peer, "RAKP 2", r2.status));
        }
        if r2.console_sid != console_sid {
            return Err(proto_err("RAKP 2 for another session".into()));
        }
        let ulen = [user.len() as u8];
        let rolea = [role];
        let expect = suite.auth_hmac(
            &cfg.pass,
            &[
                &console_sid.to_le_bytes(),
                &bmc_sid.to_le_bytes(),
                &rm,
                &r2.rc,
                &r2.guid,
                &rolea,
                &ulen,
                user,
            ],
        );
        if r2.code.len() != expect.len() {
            return Err(PowerError::Unsupported(format!(
                "{peer}: RAKP 2 key exchange code is {} bytes, cipher suite {} needs {}",
                r2.code.len(),
                suite.id,
                expect.len()
            )));
        }
        if !proto::codes_equal(&expect, &r2.code) {
            return Err(PowerError::Auth(format!(
                "{peer}: RAKP 2 key exchange code does not match: wrong password"
            )));
        }
        // Session keys.
        let kg = cfg.kg.as_deref().unwrap_or(&cfg.pass);
        let sik = suite.auth_hmac(kg, &[&rm, &r2.rc, &rolea, &ulen, user]);
        let k1 = suite.auth_hmac(&sik, &[&[0x01u8; 20][..]]);
        let k2full = suite.auth_hmac(&sik, &[&[0x02u8; 20][..]]);
        let mut k2 = [0u8; 16];
        if let Some(s) = k2full.get(..16) {
            k2.copy_from_slice(s);
        }
        // RAKP 3 / 4.
        let code3 = suite.auth_hmac(
            &cfg.pass,
            &[&r2.rc, &console_sid.to_le_bytes(), &rolea, &ulen, user],
        );
        let pkt = proto::encode_v20(
            proto::PT_RAKP3,
            0,
            0,
            &proto::rakp3(tag, bmc_sid, &code3),
            None,
        );
        let d = self
            .link
            .exchange("RAKP 3", &pkt, self.link.tries, t, |b| {
                payload_of(b, proto::PT_RAKP4)
            })
            .await?;
        let (_, status, csid, icv) = proto::parse_rakp4(&d).map_err(proto_err)?;
        if status != 0 {
            return Err(rmcpp_error(&peer, "RAKP 4", status));
        }
        if csid != console_sid {
            return Err(proto_err("RAKP 4 for another session".into()));
        }
        let n = suite.rakp4_len();
        let expect = suite.auth_hmac(&sik, &[&rm, &bmc_sid.to_le_bytes(), &r2.guid]);
        if n > 0 && !proto::codes_equal(expect.get(..n).unwrap_or(&[]), icv.get(..n).unwrap_or(&[]))
        {
            return Err(PowerError::Auth(format!(
                "{peer}: RAKP 4 integrity check value does not match (wrong K_g?)"
            )));
        }
        self.kind = Kind::V20 {
            suite,
            console_sid,
            bmc_sid,
            seq: 0,
            k1,
            k2,
        };
        Ok(())
    }

    /// Close the session (best effort, one short try).
    async fn close(&mut self) {
        let sid = match self.kind {
            Kind::V15 { sid, .. } => sid,
            Kind::V20 { bmc_sid, .. } => bmc_sid,
            Kind::None => return,
        };
        let t = self.link.timeout.min(Duration::from_millis(500));
        if let Err(e) = self
            .cmd_with(
                proto::NETFN_APP,
                CMD_CLOSE_SESSION,
                &sid.to_le_bytes(),
                t,
                1,
            )
            .await
        {
            tracing::debug!("close session: {e}");
        }
        self.kind = Kind::None;
    }

    async fn is_on(&mut self) -> Result<bool, PowerError> {
        let d = self
            .cmd(proto::NETFN_CHASSIS, CMD_GET_CHASSIS_STATUS, &[])
            .await?;
        match d.first() {
            Some(b) => Ok(b & 1 != 0),
            None => Err(PowerError::Protocol(format!(
                "{}: empty Get Chassis Status answer",
                self.link.peer()
            ))),
        }
    }

    async fn control(&mut self, what: u8) -> Result<(), PowerError> {
        self.cmd(proto::NETFN_CHASSIS, CMD_CHASSIS_CONTROL, &[what])
            .await
            .map(|_| ())
    }

    async fn op(&mut self, op: Op) -> Result<Option<PowerState>, PowerError> {
        match op {
            Op::Query => {
                return Ok(Some(if self.is_on().await? {
                    PowerState::On
                } else {
                    PowerState::Off
                }))
            }
            Op::On => {
                if !self.is_on().await? {
                    self.control(0x01).await?;
                }
            }
            Op::Off => self.control(0x00).await?,
            Op::Soft => self.control(0x05).await?,
            Op::Cycle => {
                let ctl = if self.is_on().await? { 0x03 } else { 0x01 };
                self.control(ctl).await?;
            }
            Op::Boot(dev, persistent) => {
                let flags = 0x80 | if persistent { 0x40 } else { 0x00 };
                let device = match dev {
                    BootDevice::Pxe => 0x04,
                    BootDevice::Disk => 0x08,
                };
                self.cmd(
                    proto::NETFN_CHASSIS,
                    CMD_SET_BOOT_OPTIONS,
                    &[0x05, flags, device, 0, 0, 0],
                )
                .await?;
            }
        }
        Ok(None)
    }
}

#[async_trait]
impl PowerDriver for Ipmi {
    async fn power_on(&self) -> Result<(), PowerError> {
        self.run(Op::On).await.map(|_| ())
    }
    async fn power_off(&self) -> Result<(), PowerError> {
        self.run(Op::Off).await.map(|_| ())
    }
    async fn power_soft(&self) -> Result<(), PowerError> {
        self.run(Op::Soft).await.map(|_| ())
    }
    async fn power_cycle(&self) -> Result<(), PowerError> {
        self.run(Op::Cycle).await.map(|_| ())
    }
    async fn query(&self) -> Result<PowerState, PowerError> {
        match self.run(Op::Query).await? {
            Some(s) => Ok(s),
            None => Err(PowerError::Protocol("no power state".into())),
        }
    }
    async fn set_boot_device(&self, dev: BootDevice, persistent: bool) -> Result<(), PowerError> {
        self.run(Op::Boot(dev, persistent)).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(parse_address("10.0.0.5").unwrap(), ("10.0.0.5".into(), 623));
        assert_eq!(parse_address("bmc:9001").unwrap(), ("bmc".into(), 9001));
        assert_eq!(parse_address("[::1]:9001").unwrap(), ("::1".into(), 9001));
        assert_eq!(parse_address("fe80::1").unwrap(), ("fe80::1".into(), 623));
        assert!(parse_address("h:99999").is_err());
        assert!(parse_address("").is_err());
    }
}
