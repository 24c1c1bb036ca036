//! `resources.network`: one card per physical device behind `/sys/class/net/*/device` (ports
//! of one PCI function share a card; SR-IOV virtual functions go under their parent's
//! `sriov.vfs`), then the network-class PCI functions no interface was seen for.
//!
//! Link state comes from sysfs (`carrier`, `speed`, `duplex`); supported modes, port type and
//! auto-negotiation from the `SIOCETHTOOL` ioctl (`ETHTOOL_GSET`), firmware version from
//! `ETHTOOL_GDRVINFO` — both only with kernel probes on, and silently absent when the driver
//! does not answer (virtio-net reports no modes).

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use serde::Serialize;

use super::{
    entries, exists, link_name, numa_node, pci_address_of, read_hex, read_i64, read_id, read_trim,
    read_u64, usb_address_of, Ctx,
};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Network {
    pub cards: Vec<NetworkCard>,
    /// Cards plus virtual functions.
    pub total: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct NetworkCard {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub driver: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub driver_version: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<NetworkPort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sriov: Option<Sriov>,
    pub numa_node: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pci_address: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub vendor: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub vendor_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub product: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub product_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub firmware_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub usb_address: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Sriov {
    pub current_vfs: u64,
    pub maximum_vfs: u64,
    pub vfs: Vec<NetworkCard>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct NetworkPort {
    /// Interface name.
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub address: String,
    pub port: u64,
    /// `ethernet`, `infiniband`, ...
    pub protocol: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub supported_modes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub supported_ports: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub port_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub transceiver_type: String,
    pub auto_negotiation: bool,
    pub link_detected: bool,
    /// Mbit/s, when known.
    #[serde(skip_serializing_if = "super::cpu::is_zero")]
    pub link_speed: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub link_duplex: String,
}

/// ARPHRD_* -> LXD's protocol name.
fn protocol(arphrd: u64) -> &'static str {
    match arphrd {
        1 => "ethernet",
        19 => "ATM",
        32 => "infiniband",
        _ => "unknown",
    }
}

pub(crate) fn network(ctx: &Ctx) -> Network {
    let net = ctx.roots.sys.join("class/net");
    let mut known: Vec<String> = Vec::new();
    let mut cards: Vec<NetworkCard> = Vec::new();
    let mut vfs: HashMap<String, Vec<NetworkCard>> = HashMap::new();
    for name in entries(&net) {
        let device = net.join(&name).join("device");
        if !exists(&device) {
            continue;
        }
        let resolved = fs::canonicalize(&device).unwrap_or_else(|_| device.clone());
        let mut card = NetworkCard::default();
        if resolved.starts_with(ctx.sys.join("devices")) {
            let base = resolved
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let virtio = base.starts_with("virtio");
            let subsystem = link_name(&device.join("subsystem")).unwrap_or_default();
            if subsystem == "pci" || virtio {
                if let Some(addr) = pci_address_of(&resolved) {
                    if known.contains(&addr) {
                        continue; // another port of a card already listed
                    }
                    known.push(addr.clone());
                    card.pci_address = addr;
                }
            }
        }
        card.usb_address = usb_address_of(&resolved).unwrap_or_default();
        device_info(ctx, &device, &mut card);
        // The interface is normally among `<device>/net/*`; if the device does not list it,
        // it is still one of this card's ports.
        if !card.ports.iter().any(|p| p.id == name) {
            card.ports.push(port(ctx, &name, &net.join(&name), &device));
        }
        match physfn(&device) {
            Some(parent) => vfs.entry(parent).or_default().push(card),
            None => cards.push(card),
        }
    }
    // Network controllers (PCI class 0x02) without an interface: no driver bound, or ports
    // not registered.
    let bus = ctx.roots.sys.join("bus/pci/devices");
    for addr in entries(&bus) {
        if known.contains(&addr) {
            continue;
        }
        let device = bus.join(&addr);
        if !matches!(read_hex(&device.join("class")), Some(c) if c >> 16 == 0x02) {
            continue;
        }
        let mut card = NetworkCard {
            pci_address: addr.clone(),
            ..Default::default()
        };
        device_info(ctx, &device, &mut card);
        match physfn(&device) {
            Some(parent) => vfs.entry(parent).or_default().push(card),
            None => cards.push(card),
        }
    }
    let mut total = 0;
    for card in &mut cards {
        if let Some(s) = card.sriov.as_mut() {
            s.vfs = vfs.remove(&card.pci_address).unwrap_or_default();
            total += s.vfs.len() as u64;
        }
        total += 1;
    }
    Network { cards, total }
}

fn physfn(device: &Path) -> Option<String> {
    exists(&device.join("physfn"))
        .then(|| link_name(&device.join("physfn")))
        .flatten()
}

fn device_info(ctx: &Ctx, device: &Path, card: &mut NetworkCard) {
    if exists(&device.join("sriov_numvfs")) {
        card.sriov = Some(Sriov {
            current_vfs: read_u64(&device.join("sriov_numvfs")).unwrap_or(0),
            maximum_vfs: read_u64(&device.join("sriov_totalvfs")).unwrap_or(0),
            vfs: Vec::new(),
        });
    }
    card.numa_node = numa_node(device);
    card.vendor_id = read_id(&device.join("vendor")).unwrap_or_default();
    card.product_id = read_id(&device.join("device")).unwrap_or_default();
    let (vendor, product) = ctx.ids.pci.names(&card.vendor_id, &card.product_id);
    card.vendor = vendor;
    card.product = product;
    if let Some(driver) = link_name(&device.join("driver")) {
        card.driver = driver;
        card.driver_version = ctx.driver_version(device);
    }
    let net = device.join("net");
    for name in entries(&net) {
        card.ports.push(port(ctx, &name, &net.join(&name), device));
    }
    if ctx.roots.kernel_probes {
        if let Some(first) = card.ports.first() {
            if let Some(fw) = ethtool::firmware_version(&first.id) {
                card.firmware_version = fw;
            }
        }
    }
}

/// One port: interface `name`, whose sysfs directory is `dir`, of `device`.
fn port(ctx: &Ctx, name: &str, dir: &Path, device: &Path) -> NetworkPort {
    let mut port = NetworkPort {
        id: name.to_string(),
        address: read_trim(&dir.join("address")).unwrap_or_default(),
        port: read_u64(&dir.join("dev_port")).unwrap_or(0),
        protocol: read_u64(&dir.join("type"))
            .map_or("unknown", protocol)
            .to_string(),
        link_detected: read_u64(&dir.join("carrier")) == Some(1),
        link_speed: read_i64(&dir.join("speed"))
            .filter(|s| *s > 0 && *s != u32::MAX as i64)
            .map_or(0, |s| s as u64),
        link_duplex: read_trim(&dir.join("duplex"))
            .filter(|d| d == "full" || d == "half")
            .unwrap_or_default(),
        ..Default::default()
    };
    // Physical port details make no sense for a virtual function.
    if ctx.roots.kernel_probes && !exists(&device.join("physfn")) {
        if let Some(e) = ethtool::settings(name) {
            port.supported_modes = e.supported_modes;
            port.supported_ports = e.supported_ports;
            port.port_type = e.port_type;
            port.transceiver_type = e.transceiver_type;
            port.auto_negotiation = e.auto_negotiation;
        }
    }
    port
}

/// The legacy `SIOCETHTOOL` queries (no netlink needed).
pub(crate) mod ethtool {
    const SIOCETHTOOL: libc::c_ulong = 0x8946;
    const ETHTOOL_GSET: u32 = 0x1;
    const ETHTOOL_GDRVINFO: u32 = 0x3;

    #[repr(C)]
    #[derive(Default)]
    struct EthtoolCmd {
        cmd: u32,
        supported: u32,
        advertising: u32,
        speed: u16,
        duplex: u8,
        port: u8,
        phy_address: u8,
        transceiver: u8,
        autoneg: u8,
        mdio_support: u8,
        maxtxpkt: u32,
        maxrxpkt: u32,
        speed_hi: u16,
        eth_tp_mdix: u8,
        eth_tp_mdix_ctrl: u8,
        lp_advertising: u32,
        reserved: [u32; 2],
    }

    #[repr(C)]
    struct EthtoolDrvinfo {
        cmd: u32,
        driver: [u8; 32],
        version: [u8; 32],
        fw_version: [u8; 32],
        bus_info: [u8; 32],
        erom_version: [u8; 32],
        reserved2: [u8; 12],
        n_priv_flags: u32,
        n_stats: u32,
        testinfo_len: u32,
        eedump_len: u32,
        regdump_len: u32,
    }

    /// What `ETHTOOL_GSET` tells about a port.
    #[derive(Debug, Default, Clone, PartialEq, Eq)]
    pub struct Settings {
        pub supported_modes: Vec<String>,
        pub supported_ports: Vec<String>,
        pub port_type: String,
        pub transceiver_type: String,
        pub auto_negotiation: bool,
    }

    /// Link-mode bits of the legacy `supported` mask (ethtool.h `SUPPORTED_*`).
    const MODES: &[(u32, &str)] = &[
        (0, "10baseT/Half"),
        (1, "10baseT/Full"),
        (2, "100baseT/Half"),
        (3, "100baseT/Full"),
        (4, "1000baseT/Half"),
        (5, "1000baseT/Full"),
        (12, "10000baseT/Full"),
        (15, "2500baseX/Full"),
        (17, "1000baseKX/Full"),
        (18, "10000baseKX4/Full"),
        (19, "10000baseKR/Full"),
        (20, "10000baseR_FEC"),
        (21, "20000baseMLD2/Full"),
        (22, "20000baseKR2/Full"),
        (23, "40000baseKR4/Full"),
        (24, "40000baseCR4/Full"),
        (25, "40000baseSR4/Full"),
        (26, "40000baseLR4/Full"),
        (27, "56000baseKR4/Full"),
        (28, "56000baseCR4/Full"),
        (29, "56000baseSR4/Full"),
        (30, "56000baseLR4/Full"),
    ];

    const PORTS: &[(u32, &str)] = &[
        (7, "twisted pair"),
        (8, "AUI"),
        (9, "media-independent"),
        (10, "fibre"),
        (11, "BNC"),
        (16, "backplane"),
    ];

    /// Decodes the fields of an `ethtool_cmd`.
    pub fn decode(supported: u32, port: u8, transceiver: u8, autoneg: u8) -> Settings {
        let has = |bit: u32| supported & (1 << bit) != 0;
        Settings {
            supported_modes: MODES
                .iter()
                .filter(|(b, _)| has(*b))
                .map(|(_, m)| m.to_string())
                .collect(),
            supported_ports: PORTS
                .iter()
                .filter(|(b, _)| has(*b))
                .map(|(_, m)| m.to_string())
                .collect(),
            port_type: match port {
                0x00 => "twisted pair",
                0x01 => "AUI",
                0x02 => "media-independent",
                0x03 => "fibre",
                0x04 => "BNC",
                0x05 => "direct attach",
                0xef => "none",
                _ => "other",
            }
            .to_string(),
            transceiver_type: match transceiver {
                0 => "internal",
                1 => "external",
                _ => "",
            }
            .to_string(),
            auto_negotiation: autoneg == 1,
        }
    }

    fn ioctl(name: &str, data: *mut libc::c_void) -> bool {
        if name.len() >= libc::IFNAMSIZ {
            return false;
        }
        // SAFETY: a datagram socket only used for the ioctl and closed below; the ifreq is
        // zeroed, its name NUL-terminated (checked length), and `data` points at a live
        // ethtool struct of the kind its `cmd` names.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
            if fd < 0 {
                return false;
            }
            let mut ifr: libc::ifreq = std::mem::zeroed();
            for (i, b) in name.bytes().enumerate() {
                ifr.ifr_name[i] = b as libc::c_char;
            }
            ifr.ifr_ifru.ifru_data = data as *mut libc::c_char;
            let ok = libc::ioctl(fd, SIOCETHTOOL as _, &mut ifr) == 0;
            libc::close(fd);
            ok
        }
    }

    /// `ETHTOOL_GSET` on interface `name`.
    pub fn settings(name: &str) -> Option<Settings> {
        let mut cmd = EthtoolCmd {
            cmd: ETHTOOL_GSET,
            ..Default::default()
        };
        ioctl(name, &mut cmd as *mut EthtoolCmd as *mut libc::c_void)
            .then(|| decode(cmd.supported, cmd.port, cmd.transceiver, cmd.autoneg))
    }

    /// The firmware version `ETHTOOL_GDRVINFO` reports, when not empty or "N/A".
    pub fn firmware_version(name: &str) -> Option<String> {
        // SAFETY: plain-old-data struct, all-zero is valid.
        let mut info: EthtoolDrvinfo = unsafe { std::mem::zeroed() };
        info.cmd = ETHTOOL_GDRVINFO;
        if !ioctl(name, &mut info as *mut EthtoolDrvinfo as *mut libc::c_void) {
            return None;
        }
        let end = info.fw_version.iter().position(|b| *b == 0).unwrap_or(32);
        let fw = String::from_utf8_lossy(&info.fw_version[..end])
            .trim()
            .to_string();
        (!fw.is_empty() && fw != "N/A").then_some(fw)
    }
}
