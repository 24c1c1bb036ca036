//! The machine's hardware inventory in the LXD resources format, wrapped the way MAAS's
//! `machine-resources` tool wraps it (`api_version`, `api_extensions`, `environment`,
//! `resources`, `networks`): what the region's commissioning hook reads.
//!
//! Everything comes from sysfs and procfs (the ephemeral environment has no udev, so disk
//! serials and by-id names are derived from sysfs attributes), plus two kernel queries that
//! cannot be faked with files: `getifaddrs` for the interface addresses and the ethtool
//! ioctl for supported link modes. Those two are skipped when [`Roots::kernel_probes`] is
//! false, which is what the tests that point [`gather`] at a fake tree use.

pub mod cpu;
pub mod memory;
pub mod netstate;
pub mod network;
pub mod pci;
pub mod storage;
pub mod system;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The `api_extensions` the document claims (those of MAAS's `machine-resources`).
pub const API_EXTENSIONS: &[&str] = &[
    "resources",
    "resources_cpu_socket",
    "resources_gpu",
    "resources_numa",
    "resources_v2",
    "resources_disk_sata",
    "resources_network_firmware",
    "resources_disk_id",
    "resources_usb_pci",
    "resources_cpu_threads_numa",
    "resources_cpu_core_die",
    "api_os",
    "resources_system",
    "resources_pci_iommu",
    "resources_network_usb",
    "resources_disk_address",
];

/// `environment.server`.
pub const SERVER: &str = "maas-machine-resources";

/// Where to read from.
#[derive(Debug, Clone)]
pub struct Roots {
    /// sysfs (`/sys`).
    pub sys: PathBuf,
    /// procfs (`/proc`).
    pub proc: PathBuf,
    /// devtmpfs (`/dev`): only its udev links (`disk/by-id`, `disk/by-path`) are used, when
    /// present.
    pub dev: PathBuf,
    /// The filesystem root, for `etc/os-release`, `usr/share/misc/pci.ids`,
    /// `usr/share/misc/usb.ids` and container markers (`.dockerenv`, `run/.containerenv`).
    pub root: PathBuf,
    /// Ask the running kernel for what files do not show: interface addresses
    /// (`getifaddrs`) and link modes (`SIOCETHTOOL`). Off for fake trees.
    pub kernel_probes: bool,
}

impl Roots {
    /// A fake tree: `<dir>/sys`, `<dir>/proc`, `<dir>/dev`, `<dir>` as the root; no kernel
    /// probes.
    #[cfg(test)]
    pub fn under(dir: &Path) -> Roots {
        Roots {
            sys: dir.join("sys"),
            proc: dir.join("proc"),
            dev: dir.join("dev"),
            root: dir.to_path_buf(),
            kernel_probes: false,
        }
    }
}

/// The whole document.
#[derive(Debug, Clone, Serialize)]
pub struct Document {
    pub api_extensions: Vec<String>,
    pub api_version: String,
    pub environment: Environment,
    pub resources: Resources,
    /// LXD network state per interface name.
    pub networks: BTreeMap<String, netstate::NetworkState>,
}

/// `environment`: the host's kernel and OS, and who produced the document.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Environment {
    /// `uname -s`
    pub kernel: String,
    /// `uname -m`
    pub kernel_architecture: String,
    /// `uname -r`
    pub kernel_version: String,
    /// `NAME` from os-release.
    pub os_name: String,
    /// `VERSION_ID` from os-release.
    pub os_version: String,
    pub server: String,
    /// The host name.
    pub server_name: String,
    pub server_version: String,
}

/// `resources`: LXD's `api.Resources`.
#[derive(Debug, Clone, Serialize)]
pub struct Resources {
    pub cpu: cpu::Cpu,
    pub memory: memory::Memory,
    pub gpu: pci::Gpu,
    pub network: network::Network,
    pub storage: storage::Storage,
    pub usb: pci::UsbList,
    pub pci: pci::PciList,
    pub system: system::System,
}

/// Inventories the machine `roots` describe.
pub fn gather(roots: &Roots) -> Document {
    let addrs = if roots.kernel_probes {
        netstate::getifaddrs()
    } else {
        Vec::new()
    };
    gather_with(roots, &addrs)
}

/// [`gather`] with the interface addresses given.
pub fn gather_with(roots: &Roots, addrs: &[netstate::IfAddr]) -> Document {
    let ctx = Ctx::new(roots);
    let pci = pci::pci_devices(&ctx);
    let resources = Resources {
        cpu: cpu::cpu(&ctx),
        memory: memory::memory(&ctx),
        gpu: pci::gpu(&pci),
        network: network::network(&ctx),
        storage: storage::storage(&ctx),
        usb: pci::usb_devices(&ctx),
        pci,
        system: system::system(&ctx),
    };
    Document {
        api_extensions: API_EXTENSIONS.iter().map(|s| s.to_string()).collect(),
        api_version: "1.0".into(),
        environment: environment(&ctx),
        resources,
        networks: netstate::networks(&ctx, addrs),
    }
}

/// Only the SMBIOS/DMI identity and the system type (`resources.system`).
pub fn system_info(roots: &Roots) -> system::System {
    system::system(&Ctx::new(roots))
}

/// Only the disks (`resources.storage.disks`).
pub fn disks(roots: &Roots) -> Vec<storage::Disk> {
    storage::storage(&Ctx::new(roots)).disks
}

fn environment(ctx: &Ctx) -> Environment {
    let kernel_file = |name: &str| read_trim(&ctx.roots.proc.join("sys/kernel").join(name));
    let os = os_release(&ctx.roots.root);
    let field = |k: &str| os.get(k).cloned().unwrap_or_default();
    Environment {
        kernel: kernel_file("ostype").unwrap_or_else(|| "Linux".into()),
        kernel_architecture: ctx.machine.clone(),
        kernel_version: ctx.kernel_release.clone(),
        os_name: field("NAME"),
        os_version: field("VERSION_ID"),
        server: SERVER.into(),
        server_name: kernel_file("hostname").unwrap_or_default(),
        server_version: env!("CARGO_PKG_VERSION").into(),
    }
}

/// `KEY=value` pairs of `etc/os-release` (or `usr/lib/os-release`), quotes removed.
pub fn os_release(root: &Path) -> BTreeMap<String, String> {
    let text = fs::read_to_string(root.join("etc/os-release"))
        .or_else(|_| fs::read_to_string(root.join("usr/lib/os-release")))
        .unwrap_or_default();
    text.lines()
        .filter_map(|l| l.trim().split_once('='))
        .filter(|(k, _)| !k.starts_with('#'))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

/// What every collector needs: the roots, their canonical forms and the kernel identity.
pub(crate) struct Ctx<'a> {
    pub roots: &'a Roots,
    /// `roots.sys`, canonicalized (resolved device paths are compared against it).
    pub sys: PathBuf,
    /// `uname -r` (from procfs when there).
    pub kernel_release: String,
    /// `uname -m`.
    pub machine: String,
    pub ids: IdDatabases,
}

impl<'a> Ctx<'a> {
    fn new(roots: &'a Roots) -> Self {
        let sys = fs::canonicalize(&roots.sys).unwrap_or_else(|_| roots.sys.clone());
        let kernel_release = read_trim(&roots.proc.join("sys/kernel/osrelease"))
            .unwrap_or_else(|| uname_field(|u| &u.release));
        Ctx {
            roots,
            sys,
            kernel_release,
            machine: crate::inventory::uname_machine(),
            ids: IdDatabases::load(&roots.root),
        }
    }

    /// The version of the driver bound at `<device>/driver`: its module's `version`, else the
    /// kernel release (as LXD reports it).
    pub fn driver_version(&self, device: &Path) -> String {
        read_trim(&device.join("driver/module/version"))
            .unwrap_or_else(|| self.kernel_release.clone())
    }
}

fn uname_field(f: impl Fn(&libc::utsname) -> &[libc::c_char; 65]) -> String {
    // SAFETY: uname fills the zeroed struct; its strings are NUL-terminated.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) == 0 {
            return std::ffi::CStr::from_ptr(f(&u).as_ptr())
                .to_string_lossy()
                .into_owned();
        }
    }
    String::new()
}

/// Vendor and product names from `pci.ids` / `usb.ids`, when the root has them (the
/// ephemeral environment does not: names are then left empty, the ids are always there).
#[derive(Debug, Default)]
pub(crate) struct IdDatabases {
    pub pci: IdDb,
    pub usb: IdDb,
}

impl IdDatabases {
    fn load(root: &Path) -> Self {
        let find = |name: &str| {
            ["usr/share/misc", "usr/share/hwdata", "usr/share"]
                .iter()
                .map(|d| root.join(d).join(name))
                .find_map(|p| fs::read_to_string(p).ok())
                .map(|t| IdDb::parse(&t))
                .unwrap_or_default()
        };
        IdDatabases {
            pci: find("pci.ids"),
            usb: find("usb.ids"),
        }
    }
}

/// The vendor/device part of a `pci.ids`-format file.
#[derive(Debug, Default)]
pub(crate) struct IdDb {
    vendors: std::collections::HashMap<String, (String, std::collections::HashMap<String, String>)>,
}

impl IdDb {
    pub fn parse(text: &str) -> Self {
        let mut db = IdDb::default();
        let mut current: Option<String> = None;
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            // Device classes (`C xx  name`) end the vendor list.
            if line.starts_with("C ") {
                break;
            }
            if let Some(rest) = line.strip_prefix('\t') {
                if rest.starts_with('\t') {
                    continue; // subsystem
                }
                if let (Some(v), Some((id, name))) = (&current, rest.split_once("  ")) {
                    if let Some(entry) = db.vendors.get_mut(v) {
                        entry
                            .1
                            .insert(id.trim().to_ascii_lowercase(), name.trim().into());
                    }
                }
            } else if let Some((id, name)) = line.split_once("  ") {
                let id = id.trim().to_ascii_lowercase();
                db.vendors
                    .insert(id.clone(), (name.trim().into(), Default::default()));
                current = Some(id);
            }
        }
        db
    }

    /// (vendor name, product name); empty when unknown.
    pub fn names(&self, vendor: &str, product: &str) -> (String, String) {
        match self.vendors.get(vendor) {
            Some((v, products)) => (
                v.clone(),
                products.get(product).cloned().unwrap_or_default(),
            ),
            None => (String::new(), String::new()),
        }
    }
}

// --- small sysfs helpers -------------------------------------------------------------------

/// The file's content, trimmed; `None` when it cannot be read.
pub(crate) fn read_trim(p: &Path) -> Option<String> {
    fs::read(p)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
}

/// A decimal unsigned number.
pub(crate) fn read_u64(p: &Path) -> Option<u64> {
    read_trim(p)?.parse().ok()
}

/// A decimal signed number.
pub(crate) fn read_i64(p: &Path) -> Option<i64> {
    read_trim(p)?.parse().ok()
}

/// A hexadecimal number, with or without `0x`.
pub(crate) fn read_hex(p: &Path) -> Option<u64> {
    let s = read_trim(p)?;
    u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()
}

/// A hexadecimal id such as `0x8086`, as LXD shows it: `8086`.
pub(crate) fn read_id(p: &Path) -> Option<String> {
    read_trim(p).map(|s| s.trim_start_matches("0x").to_ascii_lowercase())
}

/// `numa_node` of a device: values below 1 (including the -1 of "no NUMA") are 0.
pub(crate) fn numa_node(device: &Path) -> u64 {
    read_i64(&device.join("numa_node"))
        .filter(|n| *n > 0)
        .map_or(0, |n| n as u64)
}

/// The last component of a symlink's target (`driver` -> `e1000e`).
pub(crate) fn link_name(p: &Path) -> Option<String> {
    let t = fs::read_link(p).ok()?;
    t.file_name().map(|n| n.to_string_lossy().into_owned())
}

/// Names in `dir`, sorted; empty when it cannot be read.
pub(crate) fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Whether `p` (or what it links to) exists.
pub(crate) fn exists(p: &Path) -> bool {
    p.exists() || fs::symlink_metadata(p).is_ok()
}

/// `cpu12` -> 12 for a `prefix` of `cpu`; `None` for `cpufreq`.
pub(crate) fn numbered(name: &str, prefix: &str) -> Option<u64> {
    let n = name.strip_prefix(prefix)?;
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .then(|| n.parse().ok())
        .flatten()
}

/// Whether a path component looks like a PCI address (`0000:00:1f.2`).
pub(crate) fn is_pci_address(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 12
        && b[4] == b':'
        && b[7] == b':'
        && b[10] == b'.'
        && s.chars()
            .enumerate()
            .all(|(i, c)| matches!(i, 4 | 7 | 10) || c.is_ascii_hexdigit())
}

/// The closest PCI device in a resolved sysfs device path.
pub(crate) fn pci_address_of(resolved: &Path) -> Option<String> {
    resolved
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .rfind(|c| is_pci_address(c))
        .map(str::to_string)
}

/// The USB device (`bus:device`) a resolved sysfs device path is under, if any.
pub(crate) fn usb_address_of(resolved: &Path) -> Option<String> {
    let mut p = Some(resolved);
    while let Some(dir) = p {
        if let (Some(bus), Some(dev)) =
            (read_u64(&dir.join("busnum")), read_u64(&dir.join("devnum")))
        {
            return Some(format!("{bus}:{dev}"));
        }
        p = dir.parent();
        if p.is_some_and(|d| d.file_name().is_some_and(|n| n == "devices")) {
            break;
        }
    }
    None
}

#[cfg(test)]
pub(crate) mod tests;
