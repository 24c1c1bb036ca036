//! `maas-capture-lldpd`: passive LLDP capture. An AF_PACKET socket for ethertype 0x88cc on
//! every physical interface that is up (joined to the LLDP multicast group), listening for a
//! bounded time; the neighbours' chassis id, port id, system name and descriptions are printed
//! as lldpctl's XML. Hearing nothing is not a failure (many networks send no LLDP).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use serde_json::json;

use super::{Ctx, Done, Out};

pub const ETH_P_LLDP: u16 = 0x88cc;
/// The nearest-bridge group address LLDP is sent to.
pub const LLDP_MULTICAST: [u8; 6] = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e];

/// What one LLDPDU said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Neighbour {
    pub interface: String,
    /// lldpctl's names: `mac`, `ip`, `ifname`, `ifalias`, `local`, ...
    pub chassis_id_type: String,
    pub chassis_id: String,
    pub port_id_type: String,
    pub port_id: String,
    pub ttl: Option<u16>,
    pub port_descr: Option<String>,
    pub system_name: Option<String>,
    pub system_descr: Option<String>,
}

fn mac(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .trim_end_matches('\0')
        .to_string()
}

/// A network address (IANA family byte + address) as text.
fn net_address(b: &[u8]) -> String {
    match b.split_first() {
        Some((1, a)) if a.len() == 4 => std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string(),
        Some((2, a)) if a.len() == 16 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(a);
            std::net::Ipv6Addr::from(o).to_string()
        }
        Some((_, a)) => mac(a),
        None => String::new(),
    }
}

/// Chassis id (TLV 1) subtype -> (lldpctl type, value).
fn chassis_id(subtype: u8, v: &[u8]) -> (String, String) {
    match subtype {
        4 => ("mac".into(), mac(v)),
        5 => ("ip".into(), net_address(v)),
        6 => ("ifname".into(), text(v)),
        2 => ("ifalias".into(), text(v)),
        7 => ("local".into(), text(v)),
        _ => ("unhandled".into(), text(v)),
    }
}

/// Port id (TLV 2) subtype -> (lldpctl type, value).
fn port_id(subtype: u8, v: &[u8]) -> (String, String) {
    match subtype {
        3 => ("mac".into(), mac(v)),
        4 => ("ip".into(), net_address(v)),
        5 => ("ifname".into(), text(v)),
        1 => ("ifalias".into(), text(v)),
        7 => ("local".into(), text(v)),
        _ => ("unhandled".into(), text(v)),
    }
}

/// Decodes an Ethernet frame carrying an LLDPDU (None if it is not one or is malformed).
pub fn decode(interface: &str, frame: &[u8]) -> Option<Neighbour> {
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    let mut body = frame.get(14..)?;
    if ethertype == 0x8100 {
        // One VLAN tag.
        if u16::from_be_bytes([*frame.get(16)?, *frame.get(17)?]) != ETH_P_LLDP {
            return None;
        }
        body = frame.get(18..)?;
    } else if ethertype != ETH_P_LLDP {
        return None;
    }
    let mut n = Neighbour {
        interface: interface.to_string(),
        ..Neighbour::default()
    };
    let (mut have_chassis, mut have_port) = (false, false);
    while body.len() >= 2 {
        let h = u16::from_be_bytes([body[0], body[1]]);
        let (t, len) = (h >> 9, usize::from(h & 0x1ff));
        let v = body.get(2..2 + len)?;
        body = body.get(2 + len..)?;
        match t {
            0 => break,
            1 => {
                let (s, rest) = v.split_first()?;
                (n.chassis_id_type, n.chassis_id) = chassis_id(*s, rest);
                have_chassis = true;
            }
            2 => {
                let (s, rest) = v.split_first()?;
                (n.port_id_type, n.port_id) = port_id(*s, rest);
                have_port = true;
            }
            3 => n.ttl = Some(u16::from_be_bytes([*v.first()?, *v.get(1)?])),
            4 => n.port_descr = Some(text(v)),
            5 => n.system_name = Some(text(v)),
            6 => n.system_descr = Some(text(v)),
            _ => {}
        }
    }
    (have_chassis && have_port).then_some(n)
}

/// lldpctl's `-f xml` layout.
pub fn to_xml(neighbours: &[Neighbour]) -> String {
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<lldp label=\"LLDP neighbors\">\n",
    );
    for (i, n) in neighbours.iter().enumerate() {
        x.push_str(&format!(
            " <interface label=\"Interface\" name=\"{}\" via=\"LLDP\" rid=\"{}\">\n  <chassis label=\"Chassis\">\n   <id label=\"ChassisID\" type=\"{}\">{}</id>\n",
            ingot_core::markup::escape(&n.interface),
            i + 1,
            ingot_core::markup::escape(&n.chassis_id_type),
            ingot_core::markup::escape(&n.chassis_id)
        ));
        if let Some(s) = &n.system_name {
            x.push_str(&format!(
                "   <name label=\"SysName\">{}</name>\n",
                ingot_core::markup::escape(s)
            ));
        }
        if let Some(s) = &n.system_descr {
            x.push_str(&format!(
                "   <descr label=\"SysDescr\">{}</descr>\n",
                ingot_core::markup::escape(s)
            ));
        }
        x.push_str(&format!(
            "  </chassis>\n  <port label=\"Port\">\n   <id label=\"PortID\" type=\"{}\">{}</id>\n",
            ingot_core::markup::escape(&n.port_id_type),
            ingot_core::markup::escape(&n.port_id)
        ));
        if let Some(s) = &n.port_descr {
            x.push_str(&format!(
                "   <descr label=\"PortDescr\">{}</descr>\n",
                ingot_core::markup::escape(s)
            ));
        }
        if let Some(t) = n.ttl {
            x.push_str(&format!("   <ttl label=\"TTL\">{t}</ttl>\n"));
        }
        x.push_str("  </port>\n </interface>\n");
    }
    x.push_str("</lldp>\n");
    x
}

fn ifindex(name: &str) -> std::io::Result<i32> {
    let c = std::ffi::CString::new(name)
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: if_nametoindex reads the NUL-terminated name.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        return Err(std::io::Error::last_os_error());
    }
    i32::try_from(i).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidData))
}

/// A packet socket for LLDP on one interface, in the LLDP multicast group.
pub fn open(name: &str) -> std::io::Result<OwnedFd> {
    let idx = ifindex(name)?;
    let proto = ETH_P_LLDP.to_be();
    // SAFETY: plain socket calls on a descriptor we own (wrapped in OwnedFd at once); the
    // sockaddr_ll and packet_mreq are zeroed structs filled in bounds, passed with their sizes.
    unsafe {
        let fd = libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            i32::from(proto),
        );
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = idx;
        if libc::bind(
            fd.as_raw_fd(),
            &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        let mut mr: libc::packet_mreq = std::mem::zeroed();
        mr.mr_ifindex = idx;
        mr.mr_type = libc::PACKET_MR_MULTICAST as u16;
        mr.mr_alen = 6;
        mr.mr_address[..6].copy_from_slice(&LLDP_MULTICAST);
        // Best effort: loopback and some drivers refuse multicast membership.
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_ADD_MEMBERSHIP,
            &mr as *const libc::packet_mreq as *const libc::c_void,
            std::mem::size_of::<libc::packet_mreq>() as u32,
        );
        Ok(fd)
    }
}

/// Listens on `sockets` (interface name, socket) for `duration`; every distinct neighbour once.
pub fn capture(sockets: &[(String, OwnedFd)], duration: Duration) -> Vec<Neighbour> {
    let deadline = Instant::now() + duration;
    let mut seen: Vec<Neighbour> = Vec::new();
    let mut buf = vec![0u8; 9216];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || sockets.is_empty() {
            break;
        }
        let mut fds: Vec<libc::pollfd> = sockets
            .iter()
            .map(|(_, s)| libc::pollfd {
                fd: s.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let ms = i32::try_from(left.as_millis().max(1)).unwrap_or(i32::MAX);
        // SAFETY: `fds` is a valid array of pollfd of the given length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n <= 0 {
            continue;
        }
        for (pfd, (name, sock)) in fds.iter().zip(sockets) {
            if pfd.revents & libc::POLLIN == 0 {
                continue;
            }
            loop {
                // SAFETY: recvfrom writes at most buf.len() bytes into buf and at most
                // `alen` bytes into `from`.
                let (got, from) = unsafe {
                    let mut from: libc::sockaddr_ll = std::mem::zeroed();
                    let mut alen = std::mem::size_of::<libc::sockaddr_ll>() as u32;
                    let r = libc::recvfrom(
                        sock.as_raw_fd(),
                        buf.as_mut_ptr() as *mut libc::c_void,
                        buf.len(),
                        0,
                        &mut from as *mut libc::sockaddr_ll as *mut libc::sockaddr,
                        &mut alen,
                    );
                    (r, from)
                };
                let Ok(len) = usize::try_from(got) else { break };
                if from.sll_pkttype == libc::PACKET_OUTGOING {
                    continue;
                }
                if let Some(nb) = buf.get(..len).and_then(|f| decode(name, f)) {
                    if !seen.iter().any(|s| {
                        s.interface == nb.interface
                            && s.chassis_id == nb.chassis_id
                            && s.port_id == nb.port_id
                    }) {
                        seen.push(nb);
                    }
                }
            }
        }
    }
    seen
}

fn is_up(ctx: &Ctx, name: &str) -> bool {
    std::fs::read_to_string(ctx.roots.sys.join("class/net").join(name).join("flags"))
        .ok()
        .and_then(|f| u64::from_str_radix(f.trim().trim_start_matches("0x"), 16).ok())
        .is_some_and(|f| f & 1 != 0)
}

pub fn run(ctx: &Ctx, out: &mut Out, duration: Duration) -> Done {
    let ifaces: Vec<String> = crate::inventory::physical_nics(&ctx.roots.sys)
        .into_iter()
        .map(|n| n.name)
        .filter(|n| is_up(ctx, n))
        .collect();
    if ifaces.is_empty() {
        out.line(to_xml(&[]).trim_end());
        out.eline("no physical interface is up: nothing to listen on");
        return Done::with(0, json!({"interfaces": [], "neighbours": 0}));
    }
    let mut sockets = Vec::new();
    let mut refused = Vec::new();
    for name in &ifaces {
        match open(name) {
            Ok(s) => sockets.push((name.clone(), s)),
            Err(e) => {
                out.eline(format!("{name}: cannot listen for LLDP: {e}"));
                refused.push(format!("{name}: {e}"));
            }
        }
    }
    if sockets.is_empty() {
        return Done::skipped(
            format!(
                "cannot open a packet socket on any interface ({})",
                refused.join("; ")
            ),
            out,
        );
    }
    let names: Vec<&str> = sockets.iter().map(|(n, _)| n.as_str()).collect();
    out.eline(format!(
        "listening for LLDP on {} for {} s",
        names.join(", "),
        duration.as_secs()
    ));
    let found = capture(&sockets, duration);
    out.line(to_xml(&found).trim_end());
    if found.is_empty() {
        out.eline("no LLDP neighbour seen");
    }
    Done::with(
        0,
        json!({"interfaces": names, "neighbours": found.len(), "seconds": duration.as_secs()}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(t: u16, v: &[u8]) -> Vec<u8> {
        let mut o = ((t << 9) | v.len() as u16).to_be_bytes().to_vec();
        o.extend_from_slice(v);
        o
    }

    /// An LLDPDU from switch `sw1` port `Gi0/7`.
    pub(crate) fn frame() -> Vec<u8> {
        let mut f = LLDP_MULTICAST.to_vec();
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
        f.extend_from_slice(&ETH_P_LLDP.to_be_bytes());
        f.extend(tlv(1, &[4, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55]));
        f.extend(tlv(2, &[5, b'G', b'i', b'0', b'/', b'7']));
        f.extend(tlv(3, &[0, 120]));
        f.extend(tlv(4, b"uplink <to> rack 3"));
        f.extend(tlv(5, b"sw1"));
        f.extend(tlv(6, b"ACME OS 1.0"));
        f.extend(tlv(0, &[]));
        f
    }

    #[test]
    fn decodes_chassis_port_and_names() {
        let n = decode("eth0", &frame()).unwrap();
        assert_eq!(n.chassis_id_type, "mac");
        assert_eq!(n.chassis_id, "00:11:22:33:44:55");
        assert_eq!(
            (n.port_id_type.as_str(), n.port_id.as_str()),
            ("ifname", "Gi0/7")
        );
        assert_eq!(n.ttl, Some(120));
        assert_eq!(n.system_name.as_deref(), Some("sw1"));
        let x = to_xml(&[n]);
        assert!(
            x.contains("<id label=\"ChassisID\" type=\"mac\">00:11:22:33:44:55</id>"),
            "{x}"
        );
        assert!(x.contains("<name label=\"SysName\">sw1</name>"));
        assert!(x.contains("<descr label=\"PortDescr\">uplink &lt;to&gt; rack 3</descr>"));
        assert!(x.contains("name=\"eth0\""));
    }

    #[test]
    fn rejects_other_and_malformed_frames() {
        let mut f = frame();
        f[12] = 0x08;
        f[13] = 0x00;
        assert!(decode("eth0", &f).is_none(), "IPv4 frame");
        let f = frame();
        assert!(decode("eth0", &f[..20]).is_none(), "cut inside a TLV");
        // Without a port id it is not a valid LLDPDU.
        let mut g = LLDP_MULTICAST.to_vec();
        g.extend_from_slice(&[0; 6]);
        g.extend_from_slice(&ETH_P_LLDP.to_be_bytes());
        g.extend(tlv(1, &[7, b'x']));
        assert!(decode("eth0", &g).is_none());
        assert!(decode("eth0", &[]).is_none());
        // IPv4 chassis id.
        let mut h = LLDP_MULTICAST.to_vec();
        h.extend_from_slice(&[0; 6]);
        h.extend_from_slice(&ETH_P_LLDP.to_be_bytes());
        h.extend(tlv(1, &[5, 1, 10, 0, 0, 1]));
        h.extend(tlv(2, &[3, 1, 2, 3, 4, 5, 6]));
        let n = decode("eth1", &h).unwrap();
        assert_eq!(
            (n.chassis_id_type.as_str(), n.chassis_id.as_str()),
            ("ip", "10.0.0.1")
        );
        assert_eq!(n.port_id, "01:02:03:04:05:06");
    }

    /// Captures a frame sent on the loopback interface through a real packet socket (needs
    /// CAP_NET_RAW; sending on `lo` disturbs nothing).
    #[test]
    fn captures_a_frame_on_loopback() {
        let sock = match open("lo") {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                eprintln!("SKIPPED: no CAP_NET_RAW ({e})");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        let sender = std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(200));
            let tx = open("lo").unwrap();
            let idx = ifindex("lo").unwrap();
            let f = frame();
            for _ in 0..2 {
                // SAFETY: sendto reads f.len() bytes of f and the sockaddr_ll of its size.
                let r = unsafe {
                    let mut sll: libc::sockaddr_ll = std::mem::zeroed();
                    sll.sll_family = libc::AF_PACKET as u16;
                    sll.sll_protocol = ETH_P_LLDP.to_be();
                    sll.sll_ifindex = idx;
                    sll.sll_halen = 6;
                    sll.sll_addr[..6].copy_from_slice(&LLDP_MULTICAST);
                    libc::sendto(
                        tx.as_raw_fd(),
                        f.as_ptr() as *const libc::c_void,
                        f.len(),
                        0,
                        &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                        std::mem::size_of::<libc::sockaddr_ll>() as u32,
                    )
                };
                assert_eq!(r, f.len() as isize, "{}", std::io::Error::last_os_error());
            }
        });
        let start = Instant::now();
        let got = capture(&[("lo".to_string(), sock)], Duration::from_millis(1200));
        sender.join().unwrap();
        assert!(
            start.elapsed() >= Duration::from_millis(1200),
            "listens for the whole time"
        );
        assert_eq!(
            got.len(),
            1,
            "the same neighbour twice is listed once: {got:?}"
        );
        assert_eq!(got[0].interface, "lo");
        assert_eq!(got[0].system_name.as_deref(), Some("sw1"));
    }
}
