//! `networks`: LXD's network state for every interface in `/sys/class/net` — addresses (from
//! `getifaddrs`), counters, MAC, MTU, up/down, type, and bond/bridge/VLAN details.

use std::collections::BTreeMap;
use std::fs;
use std::net::IpAddr;

use serde::Serialize;

use super::{entries, exists, read_hex, read_trim, read_u64, Ctx};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NetworkState {
    pub addresses: Vec<StateAddress>,
    pub counters: Counters,
    pub hwaddr: String,
    pub mtu: u64,
    /// `up` or `down`.
    pub state: String,
    /// `broadcast`, `loopback`, `point-to-point` or `unknown`.
    #[serde(rename = "type")]
    pub kind: String,
    pub bond: Option<StateBond>,
    pub bridge: Option<StateBridge>,
    pub vlan: Option<StateVlan>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StateAddress {
    /// `inet` or `inet6`.
    pub family: String,
    pub address: String,
    /// Prefix length.
    pub netmask: String,
    /// `global`, `link` or `local`.
    pub scope: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Counters {
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub packets_received: u64,
    pub packets_sent: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StateBond {
    pub mode: String,
    pub transmit_policy: String,
    pub up_delay: u64,
    pub down_delay: u64,
    pub mii_frequency: u64,
    pub mii_state: String,
    pub lower_devices: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StateBridge {
    pub id: String,
    pub stp: bool,
    pub forward_delay: u64,
    pub vlan_default: u64,
    pub vlan_filtering: bool,
    pub upper_devices: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StateVlan {
    pub lower_device: String,
    pub vid: u64,
}

/// One interface address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    pub interface: String,
    pub address: IpAddr,
    pub prefix: u8,
}

impl IfAddr {
    /// LXD's form: family, address, prefix length, scope.
    pub fn state(&self) -> StateAddress {
        let (family, scope) = match self.address {
            IpAddr::V4(a) => (
                "inet",
                if a.is_loopback() {
                    "local"
                } else if a.is_link_local() {
                    "link"
                } else {
                    "global"
                },
            ),
            IpAddr::V6(a) => (
                "inet6",
                if a.is_loopback() {
                    "local"
                } else if (a.segments()[0] & 0xffc0) == 0xfe80 {
                    "link"
                } else {
                    "global"
                },
            ),
        };
        StateAddress {
            family: family.into(),
            address: self.address.to_string(),
            netmask: self.prefix.to_string(),
            scope: scope.into(),
        }
    }
}

/// Every IPv4/IPv6 address of this host's interfaces, in the kernel's order.
pub fn getifaddrs() -> Vec<IfAddr> {
    let mut out = Vec::new();
    // SAFETY: getifaddrs allocates a list freed with freeifaddrs below; each entry's pointers
    // are valid until then and sockaddrs are read according to their family.
    unsafe {
        let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
        if libc::getifaddrs(&mut head) != 0 {
            return out;
        }
        let mut cur = head;
        while !cur.is_null() {
            let ifa = &*cur;
            cur = ifa.ifa_next;
            if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
                continue;
            }
            let name = std::ffi::CStr::from_ptr(ifa.ifa_name)
                .to_string_lossy()
                .into_owned();
            let family = (*ifa.ifa_addr).sa_family as i32;
            let (address, prefix) = match family {
                libc::AF_INET => {
                    let a = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    let ip = IpAddr::from(u32::from_be(a.sin_addr.s_addr).to_be_bytes());
                    let prefix = if ifa.ifa_netmask.is_null() {
                        32
                    } else {
                        let m = &*(ifa.ifa_netmask as *const libc::sockaddr_in);
                        u32::from_be(m.sin_addr.s_addr).count_ones() as u8
                    };
                    (ip, prefix)
                }
                libc::AF_INET6 => {
                    let a = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    let ip = IpAddr::from(a.sin6_addr.s6_addr);
                    let prefix = if ifa.ifa_netmask.is_null() {
                        128
                    } else {
                        let m = &*(ifa.ifa_netmask as *const libc::sockaddr_in6);
                        m.sin6_addr
                            .s6_addr
                            .iter()
                            .map(|b| b.count_ones() as u8)
                            .sum()
                    };
                    (ip, prefix)
                }
                _ => continue,
            };
            out.push(IfAddr {
                interface: name,
                address,
                prefix,
            });
        }
        libc::freeifaddrs(head);
    }
    out
}

const IFF_UP: u64 = 0x1;
const IFF_BROADCAST: u64 = 0x2;
const IFF_LOOPBACK: u64 = 0x8;
const IFF_POINTOPOINT: u64 = 0x10;

/// `(vlan interface -> (lower device, vid))` from `/proc/net/vlan/config`.
fn vlan_config(ctx: &Ctx) -> BTreeMap<String, (String, u64)> {
    let text = fs::read_to_string(ctx.roots.proc.join("net/vlan/config")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('|').map(str::trim).collect();
            let [name, vid, lower] = f[..] else {
                return None;
            };
            Some((name.to_string(), (lower.to_string(), vid.parse().ok()?)))
        })
        .collect()
}

pub(crate) fn networks(ctx: &Ctx, addrs: &[IfAddr]) -> BTreeMap<String, NetworkState> {
    let net = ctx.roots.sys.join("class/net");
    let vlans = vlan_config(ctx);
    let mut out = BTreeMap::new();
    for name in entries(&net) {
        let dir = net.join(&name);
        let flags = read_hex(&dir.join("flags")).unwrap_or(0);
        let mac = read_trim(&dir.join("address")).unwrap_or_default();
        let hwaddr = if mac.chars().all(|c| c == '0' || c == ':') {
            String::new()
        } else {
            mac
        };
        let stat = |n: &str| read_u64(&dir.join("statistics").join(n)).unwrap_or(0);
        let lower: Vec<String> = entries(&dir)
            .iter()
            .filter_map(|e| e.strip_prefix("lower_").map(str::to_string))
            .collect();
        let bond = exists(&dir.join("bonding")).then(|| {
            let b = dir.join("bonding");
            let first = |n: &str| {
                read_trim(&b.join(n))
                    .and_then(|s| s.split_whitespace().next().map(str::to_string))
                    .unwrap_or_default()
            };
            StateBond {
                mode: first("mode"),
                transmit_policy: first("xmit_hash_policy"),
                up_delay: read_u64(&b.join("updelay")).unwrap_or(0),
                down_delay: read_u64(&b.join("downdelay")).unwrap_or(0),
                mii_frequency: read_u64(&b.join("miimon")).unwrap_or(0),
                mii_state: first("mii_status"),
                lower_devices: read_trim(&b.join("slaves"))
                    .map(|s| s.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default(),
            }
        });
        let bridge = exists(&dir.join("bridge")).then(|| {
            let b = dir.join("bridge");
            StateBridge {
                id: read_trim(&b.join("bridge_id")).unwrap_or_default(),
                stp: read_u64(&b.join("stp_state")).is_some_and(|s| s != 0),
                forward_delay: read_u64(&b.join("forward_delay")).unwrap_or(0),
                vlan_default: read_u64(&b.join("default_pvid")).unwrap_or(0),
                vlan_filtering: read_u64(&b.join("vlan_filtering")) == Some(1),
                upper_devices: entries(&dir.join("brif")),
            }
        });
        let vlan = vlans.get(&name).map(|(lower_device, vid)| StateVlan {
            lower_device: lower_device.clone(),
            vid: *vid,
        });
        let kind = if flags & IFF_LOOPBACK != 0 {
            "loopback"
        } else if flags & IFF_POINTOPOINT != 0 {
            "point-to-point"
        } else if flags & IFF_BROADCAST != 0 {
            "broadcast"
        } else {
            "unknown"
        };
        out.insert(
            name.clone(),
            NetworkState {
                addresses: addrs
                    .iter()
                    .filter(|a| a.interface == name)
                    .map(IfAddr::state)
                    .collect(),
                counters: Counters {
                    bytes_received: stat("rx_bytes"),
                    bytes_sent: stat("tx_bytes"),
                    packets_received: stat("rx_packets"),
                    packets_sent: stat("tx_packets"),
                },
                hwaddr,
                mtu: read_u64(&dir.join("mtu")).unwrap_or(0),
                state: if flags & IFF_UP != 0 { "up" } else { "down" }.into(),
                kind: kind.into(),
                bond,
                bridge,
                vlan: vlan.or_else(|| {
                    // Without 8021q's /proc file: a `lower_*` link and a `.vid` name suffix.
                    let (_, vid) = name.rsplit_once('.')?;
                    Some(StateVlan {
                        lower_device: lower.first()?.clone(),
                        vid: vid.parse().ok()?,
                    })
                }),
            },
        );
    }
    out
}
