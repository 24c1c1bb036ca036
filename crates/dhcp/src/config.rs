//! Server configuration (deserialisable from JSON).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::HwAddr;

/// Errors found while validating or parsing configuration.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("invalid CIDR {0:?}")]
    Cidr(String),
    #[error("invalid MAC address {0:?}")]
    Mac(String),
    #[error("range {start}-{end} is empty or outside subnet {subnet}")]
    Range {
        start: Ipv4Addr,
        end: Ipv4Addr,
        subnet: Cidr,
    },
    #[error("reservation {mac} -> {ip} is not inside any configured subnet")]
    Reservation { mac: String, ip: Ipv4Addr },
    #[error("duplicate reservation for {0}")]
    DuplicateReservation(String),
    #[error("no subnet configured")]
    NoSubnet,
}

/// A subnet the server answers for, in CIDR notation (`10.66.0.0/16`): the workspace's one
/// CIDR type; the configuration accepts only IPv4 networks.
pub use ingot_core::net::Cidr;

/// An inclusive dynamic address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub start: Ipv4Addr,
    pub end: Ipv4Addr,
}

/// One subnet the server answers for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetConfig {
    pub cidr: Cidr,
    #[serde(default)]
    pub ranges: Vec<Range>,
    #[serde(default)]
    pub router: Option<Ipv4Addr>,
    #[serde(default)]
    pub dns: Vec<Ipv4Addr>,
    /// The domain name (option 15).
    #[serde(default)]
    pub domain_name: Option<String>,
    /// Lease time in seconds.
    #[serde(default = "default_lease_time")]
    pub lease_time: u32,
    /// Next-server (siaddr / TFTP server) for this subnet; overrides `boot.tftp_server`.
    #[serde(default)]
    pub next_server: Option<Ipv4Addr>,
}

/// Lease time when a subnet sets none, in seconds.
pub const DEFAULT_LEASE_TIME: u32 = 3600;

fn default_lease_time() -> u32 {
    DEFAULT_LEASE_TIME
}

/// A host reservation: a known machine always gets this address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// `aa:bb:cc:dd:ee:ff` (or `-` separated).
    pub mac: String,
    pub ip: Ipv4Addr,
    #[serde(default)]
    pub hostname: Option<String>,
}

/// Who gets answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Only MACs with a host reservation are answered.
    KnownOnly,
    /// Unknown machines get a dynamic address (so they can PXE-boot and enlist).
    #[default]
    AllowEnlistment,
}

/// Where the next boot step lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootConfig {
    /// TFTP server (siaddr + option 66) for PXE ROMs.
    pub tftp_server: Ipv4Addr,
    /// Base URL for UEFI HTTP boot, e.g. `http://10.0.0.1:5248/boot/` (file names are appended).
    pub http_base_url: String,
    /// URL template of the per-machine iPXE script. `{mac}` is replaced by the server with the
    /// client's MAC (`aa:bb:..`); iPXE settings such as `${net0/mac}` are left for iPXE to expand.
    pub ipxe_script_url: String,
    #[serde(default = "default_bios_file")]
    pub bios_file: String,
    #[serde(default = "default_uefi_x64_file")]
    pub uefi_x64_file: String,
    #[serde(default = "default_uefi_arm64_file")]
    pub uefi_arm64_file: String,
}

fn default_bios_file() -> String {
    "undionly.kpxe".into()
}
fn default_uefi_x64_file() -> String {
    "ipxe.efi".into()
}
fn default_uefi_arm64_file() -> String {
    "ipxe-arm64.efi".into()
}

impl BootConfig {
    pub fn new(tftp_server: Ipv4Addr, http_base_url: &str, ipxe_script_url: &str) -> Self {
        BootConfig {
            tftp_server,
            http_base_url: http_base_url.to_string(),
            ipxe_script_url: ipxe_script_url.to_string(),
            bios_file: default_bios_file(),
            uefi_x64_file: default_uefi_x64_file(),
            uefi_arm64_file: default_uefi_arm64_file(),
        }
    }
}

/// Whole server configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Our address: the server identifier (option 54).
    pub server_ip: Ipv4Addr,
    /// Socket address to bind (default `0.0.0.0:67`).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Interface to bind to (SO_BINDTODEVICE); `None` = all.
    #[serde(default)]
    pub interface: Option<String>,
    pub subnets: Vec<SubnetConfig>,
    #[serde(default)]
    pub reservations: Vec<Reservation>,
    /// MACs known to the region without a fixed address: in `KnownOnly` mode they are served
    /// from the dynamic ranges like reservations are served their address.
    #[serde(default)]
    pub known_macs: Vec<String>,
    #[serde(default)]
    pub mode: Mode,
    pub boot: Option<BootConfig>,
    /// Append-only lease log; `None` = leases kept in memory only.
    #[serde(default)]
    pub lease_file: Option<PathBuf>,
    /// UDP port replies to relays are sent to (67; tests change it).
    #[serde(default = "default_server_port")]
    pub relay_reply_port: u16,
    /// UDP port replies to direct clients are sent to (68; tests change it).
    #[serde(default = "default_client_port")]
    pub client_port: u16,
    /// How long an OFFER holds an address, in seconds.
    #[serde(default = "default_offer_hold")]
    pub offer_hold_secs: u32,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 67))
}
fn default_server_port() -> u16 {
    67
}
fn default_client_port() -> u16 {
    68
}
fn default_offer_hold() -> u32 {
    30
}

impl Config {
    /// A minimal configuration: one subnet, no reservations, enlistment allowed.
    pub fn new(server_ip: Ipv4Addr, subnet: SubnetConfig) -> Self {
        Config {
            server_ip,
            listen: default_listen(),
            interface: None,
            subnets: vec![subnet],
            reservations: Vec::new(),
            known_macs: Vec::new(),
            mode: Mode::AllowEnlistment,
            boot: None,
            lease_file: None,
            relay_reply_port: default_server_port(),
            client_port: default_client_port(),
            offer_hold_secs: default_offer_hold(),
        }
    }

    pub fn from_json(s: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(s)
    }

    /// Checks ranges and reservations; returns the parsed reservation table.
    pub fn validate(&self) -> Result<HashMap<HwAddr, Ipv4Addr>, ConfigError> {
        if self.subnets.is_empty() {
            return Err(ConfigError::NoSubnet);
        }
        for s in &self.subnets {
            if s.cidr.netmask_v4().is_none() {
                return Err(ConfigError::Cidr(s.cidr.to_string()));
            }
            for r in &s.ranges {
                if u32::from(r.start) > u32::from(r.end)
                    || !s.cidr.contains(r.start)
                    || !s.cidr.contains(r.end)
                {
                    return Err(ConfigError::Range {
                        start: r.start,
                        end: r.end,
                        subnet: s.cidr,
                    });
                }
            }
        }
        let mut out = HashMap::new();
        for r in &self.reservations {
            let mac: HwAddr = r.mac.parse().map_err(|_| ConfigError::Mac(r.mac.clone()))?;
            if !self.subnets.iter().any(|s| s.cidr.contains(r.ip)) {
                return Err(ConfigError::Reservation {
                    mac: r.mac.clone(),
                    ip: r.ip,
                });
            }
            if out.insert(mac, r.ip).is_some() {
                return Err(ConfigError::DuplicateReservation(r.mac.clone()));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parse_and_contains() {
        let c: Cidr = "10.66.0.0/16".parse().unwrap();
        assert_eq!(c.network, Ipv4Addr::new(10, 66, 0, 0));
        assert_eq!(c.netmask_v4(), Some(Ipv4Addr::new(255, 255, 0, 0)));
        // Host bits set is a mistake, as in the region's subnets.
        assert!("10.66.3.4/16".parse::<Cidr>().is_err());
        assert!(c.contains(Ipv4Addr::new(10, 66, 255, 1)));
        assert!(!c.contains(Ipv4Addr::new(10, 67, 0, 1)));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("10.0.0.0".parse::<Cidr>().is_err());
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(Ipv4Addr::new(1, 2, 3, 4)));
    }

    #[test]
    fn config_json_roundtrip_and_validate() {
        let j = r#"{
          "server_ip": "10.66.0.1",
          "subnets": [{"cidr": "10.66.0.0/16", "ranges": [{"start": "10.66.1.1", "end": "10.66.1.9"}]}],
          "reservations": [{"mac": "52:54:00:00:00:01", "ip": "10.66.0.50"}],
          "mode": "known_only",
          "boot": {"tftp_server": "10.66.0.1", "http_base_url": "http://10.66.0.1:5248/boot/",
                   "ipxe_script_url": "http://10.66.0.1:5248/ipxe/boot.ipxe?mac=${net0/mac}"}
        }"#;
        let c = Config::from_json(j).unwrap();
        assert_eq!(c.mode, Mode::KnownOnly);
        assert_eq!(c.subnets[0].lease_time, 3600);
        let res = c.validate().unwrap();
        assert_eq!(res.len(), 1);
        let mut bad = c.clone();
        bad.reservations[0].ip = Ipv4Addr::new(192, 0, 2, 1);
        assert!(bad.validate().is_err());
        let mut bad = c;
        bad.subnets[0].ranges[0].end = Ipv4Addr::new(10, 67, 0, 1);
        assert!(bad.validate().is_err());
    }
}
