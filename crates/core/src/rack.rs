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
