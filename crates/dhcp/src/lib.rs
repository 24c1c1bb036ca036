//! `ingot-dhcp`: a DHCPv4 server for bare-metal network boot.
//!
//! * [`boot::boot_reply`]: pure decision of the next boot hop by client architecture / iPXE.
//! * [`lease::LeaseDb`] + [`lease::LeaseLog`]: in-memory leases, persisted in an append-only,
//!   checksummed log with group commit (an ACK leaves only after its record's fsync).
//! * [`engine::Engine`]: the packet handler (decode -> decide -> encode), no I/O.
//! * [`server::DhcpServer`]: tokio UDP server + persister thread.

use std::fmt;
use std::str::FromStr;

pub mod boot;
pub mod config;
pub mod engine;
pub mod lease;
mod mmsg;
pub mod server;

pub use boot::{boot_reply, BootAnswer, ClientArch};
pub use config::{BootConfig, Cidr, Config, Mode, Range, Reservation, SubnetConfig};
pub use engine::{Action, DhcpEvent, Engine, EventHook, EventKind};
pub use lease::{Lease, LeaseDb, LeaseLog, LeaseRecord};
pub use server::DhcpServer;

/// A client hardware address (chaddr, 1..=16 bytes; 6 for Ethernet).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HwAddr {
    len: u8,
    bytes: [u8; 16],
}

impl HwAddr {
    pub const fn eth(b: [u8; 6]) -> Self {
        HwAddr {
            len: 6,
            bytes: [
                b[0], b[1], b[2], b[3], b[4], b[5], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        }
    }
    /// `None` if empty or longer than 16 bytes.
    pub fn from_slice(s: &[u8]) -> Option<Self> {
        if s.is_empty() || s.len() > 16 {
            return None;
        }
        let mut bytes = [0u8; 16];
        bytes.get_mut(..s.len())?.copy_from_slice(s);
        Some(HwAddr {
            len: s.len() as u8,
            bytes,
        })
    }
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
    /// Lower-case hex without separators (lease-log form).
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(32);
        for b in self.as_bytes() {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
    pub fn from_hex(s: &str) -> Option<Self> {
        if s.len() & 1 == 1 || !s.is_ascii() {
            return None;
        }
        let mut v = Vec::with_capacity(s.len() / 2);
        for i in (0..s.len()).step_by(2) {
            v.push(u8::from_str_radix(s.get(i..i + 2)?, 16).ok()?);
        }
        Self::from_slice(&v)
    }
}

impl fmt::Display for HwAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.as_bytes().iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for HwAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Error parsing a MAC address string.
#[derive(Debug, thiserror::Error)]
#[error("invalid hardware address")]
pub struct HwAddrParseError;

impl FromStr for HwAddr {
    type Err = HwAddrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut v = Vec::new();
        for part in s.trim().split([':', '-']) {
            if part.len() != 2 {
                return Err(HwAddrParseError);
            }
            v.push(u8::from_str_radix(part, 16).map_err(|_| HwAddrParseError)?);
        }
        HwAddr::from_slice(&v).ok_or(HwAddrParseError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hwaddr_parse_display_hex() {
        let m: HwAddr = "52:54:00:AB:cd:ef".parse().unwrap();
        assert_eq!(m.to_string(), "52:54:00:ab:cd:ef");
        assert_eq!(m.to_hex(), "525400abcdef");
        assert_eq!(HwAddr::from_hex("525400abcdef"), Some(m));
        assert!("52:54".parse::<HwAddr>().is_ok());
        assert!("5:54".parse::<HwAddr>().is_err());
        assert!(HwAddr::from_hex("abc").is_none());
        assert!(HwAddr::from_hex("").is_none());
        assert!(HwAddr::from_slice(&[0; 17]).is_none());
    }
}
