//! What a rack controller receives from the region and sends back (shared by both sides).

use serde::{Deserialize, Serialize};

/// What a rack needs to serve DHCP, TFTP and HTTP boot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RackConfig {
    pub subnets: Vec<RackSubnet>,
    /// Known machines' MACs (host reservations; the only ones answered when enlistment is off).
    pub hosts: Vec<RackHost>,
    /// "enlist" or "ignore".
    pub unknown_machines: String,
    /// The region URL machines fetch their iPXE script and images from.
    pub region_url: String,
    /// The default domain: DHCP's domain name (option 15) on subnets that use the rack's DNS.
    #[serde(default)]
    pub domain: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RackSubnet {
    pub cidr: String,
    pub gateway_ip: Option<String>,
    pub dns_servers: Vec<String>,
    /// Machines on it use the rack's DNS (MAAS's `allow_dns`): DHCP names the rack first.
    #[serde(default = "yes")]
    pub allow_dns: bool,
    pub vid: i64,
    pub dhcp_on: bool,
    pub dynamic_ranges: Vec<(String, String)>,
    pub reserved_ranges: Vec<(String, String)>,
}

fn yes() -> bool {
    true
}

/// Whether a rack (its system id; None for a rack that did not name itself) serves DHCP on a
/// VLAN: the VLAN has DHCP on, and names no rack controllers (every rack on it serves) or
/// names this one as its primary or secondary.
pub fn serves_dhcp(
    dhcp_on: bool,
    primary: Option<&str>,
    secondary: Option<&str>,
    rack: Option<&str>,
) -> bool {
    dhcp_on
        && match primary {
            None => true,
            Some(p) => rack.is_some_and(|r| r == p || secondary == Some(r)),
        }
}

/// The part of a dynamic range (`start`, `end`) a rack hands out. A VLAN with a primary and a
/// secondary rack splits each range between them — the primary the lower half (the middle
/// address too), the secondary the upper half — so that the two never offer one address to
/// two machines, and either answers alone when the other is gone (it keeps its own half:
/// leases of the other half are refused at renewal and the machine gets a new address).
/// Any other rack serving the VLAN hands out the whole range. `None` when this rack's half is
/// empty (a one-address range on the secondary) or the range is not two addresses of one kind.
pub fn dynamic_share(
    start: &str,
    end: &str,
    primary: Option<&str>,
    secondary: Option<&str>,
    rack: Option<&str>,
) -> Option<(String, String)> {
    use crate::net::{from_u128, to_u128};
    let (a, b): (std::net::IpAddr, std::net::IpAddr) = (start.parse().ok()?, end.parse().ok()?);
    if a.is_ipv4() != b.is_ipv4() || to_u128(a) > to_u128(b) {
        return None;
    }
    let (Some(p), Some(sec), Some(me)) = (primary, secondary, rack) else {
        return Some((start.to_string(), end.to_string()));
    };
    let (lo, hi) = (to_u128(a), to_u128(b));
    // The primary's last address: the middle (the lower half, rounded up).
    let mid = lo + (hi - lo) / 2;
    let v4 = a.is_ipv4();
    if me == p {
        Some((start.to_string(), from_u128(mid, v4).to_string()))
    } else if me == sec && mid < hi {
        Some((from_u128(mid + 1, v4).to_string(), end.to_string()))
    } else if me == sec {
        None
    } else {
        Some((start.to_string(), end.to_string()))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RackHost {
    pub mac: String,
    pub hostname: String,
    /// Empty for a reservation of a MAC no machine has.
    pub system_id: String,
    /// The address DHCP always answers this MAC with (a host reservation), if one is reserved.
    #[serde(default)]
    pub ip: Option<String>,
}

/// One netboot hop a rack saw.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RackEvent {
    pub mac: String,
    pub hop: String,
    pub detail: String,
    /// A DHCP lease given (ACK) or given back (RELEASE, `seconds` 0): the address a machine
    /// that has only a lease is named by in DNS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<RackLease>,
}

/// An address leased to the event's MAC for `seconds` (0: released).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RackLease {
    pub ip: String,
    pub seconds: u32,
}

#[cfg(test)]
mod tests {
    /// (range, the VLAN's primary/secondary racks, the rack asking, its share; "" for none).
    #[test]
    fn two_racks_split_each_dynamic_range() {
        fn opt(v: &str) -> Option<&str> {
            (!v.is_empty()).then_some(v)
        }
        for (range, racks, me, want) in [
            // No racks named, or only a primary: the whole range.
            ("10.0.0.100-10.0.0.199", "/", "r1", "10.0.0.100-10.0.0.199"),
            (
                "10.0.0.100-10.0.0.199",
                "r1/",
                "r1",
                "10.0.0.100-10.0.0.199",
            ),
            // Primary and secondary: halves, never overlapping, covering the range.
            (
                "10.0.0.100-10.0.0.199",
                "r1/r2",
                "r1",
                "10.0.0.100-10.0.0.149",
            ),
            (
                "10.0.0.100-10.0.0.199",
                "r1/r2",
                "r2",
                "10.0.0.150-10.0.0.199",
            ),
            // An odd count: the primary takes the middle.
            ("10.0.0.1-10.0.0.5", "r1/r2", "r1", "10.0.0.1-10.0.0.3"),
            ("10.0.0.1-10.0.0.5", "r1/r2", "r2", "10.0.0.4-10.0.0.5"),
            // Across an octet; one address; IPv6.
            ("10.0.0.250-10.0.1.5", "r1/r2", "r2", "10.0.1.0-10.0.1.5"),
            ("10.0.0.7-10.0.0.7", "r1/r2", "r1", "10.0.0.7-10.0.0.7"),
            ("10.0.0.7-10.0.0.7", "r1/r2", "r2", ""),
            ("fd00::10-fd00::1f", "r1/r2", "r2", "fd00::18-fd00::1f"),
            // Backwards, or two kinds of address: nothing.
            ("10.0.0.9-10.0.0.1", "r1/r2", "r1", ""),
            ("10.0.0.1-fd00::1", "/", "", ""),
        ] {
            let (start, end) = range.split_once('-').unwrap();
            let (p, sec) = racks.split_once('/').unwrap();
            let got = super::dynamic_share(start, end, opt(p), opt(sec), opt(me));
            let got = got.map(|(a, b)| format!("{a}-{b}")).unwrap_or_default();
            assert_eq!(got, want, "{range} {racks} as {me:?}");
        }
    }

    #[test]
    fn which_racks_serve_dhcp() {
        use super::serves_dhcp as s;
        for (on, p, sec, rack, want) in [
            (false, None, None, Some("r1"), false),
            (true, None, None, Some("r1"), true),
            (true, None, None, None, true),
            (true, Some("r1"), None, Some("r1"), true),
            (true, Some("r1"), None, Some("r2"), false),
            (true, Some("r1"), None, None, false),
            (true, Some("r1"), Some("r2"), Some("r2"), true),
            (true, Some("r1"), Some("r2"), Some("r3"), false),
            (false, Some("r1"), None, Some("r1"), false),
        ] {
            assert_eq!(s(on, p, sec, rack), want, "{on} {p:?} {sec:?} {rack:?}");
        }
    }
}

/// What a rack's DNS server serves (`GET /MAAS/rack/dns`): the zones at one serial, where
/// names outside them are forwarded, who may ask for that and for zone transfers, and which
/// secondaries are sent a NOTIFY when the serial changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RackDns {
    /// The region's DNS serial (every zone's SOA serial is its low 32 bits).
    pub serial: i64,
    pub zones: Vec<crate::dns_zone::Zone>,
    /// `upstream_dns`: `address` or `address:port` (IPv6 as `[address]:port`).
    pub forwarders: Vec<String>,
    /// Networks (`address/prefix`) whose clients may recurse and transfer zones: the trusted
    /// ACL and the subnets the region manages. Everyone else gets authoritative answers only.
    pub trusted: Vec<String>,
    /// `dns_notify`: secondaries told of each new serial.
    pub notify: Vec<String>,
    /// What could not be served as asked, one sentence each.
    pub problems: Vec<String>,
}
