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
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RackSubnet {
    pub cidr: String,
    pub gateway_ip: Option<String>,
    pub dns_servers: Vec<String>,
    pub vid: i64,
    pub dhcp_on: bool,
    pub dynamic_ranges: Vec<(String, String)>,
    pub reserved_ranges: Vec<(String, String)>,
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
}

#[cfg(test)]
mod tests {
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
