//! `resources.system`: SMBIOS/DMI identity from `/sys/class/dmi/id`, and what kind of system
//! this is (`physical`, `virtual-machine` or `container`; LXD asks systemd-detect-virt, which
//! the ephemeral environment does not have, so the same signals are read directly).

use std::fs;
use std::path::Path;

use serde::Serialize;

use super::{exists, read_trim, read_u64, Ctx};

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct System {
    pub uuid: String,
    pub vendor: String,
    pub product: String,
    pub family: String,
    pub version: String,
    pub sku: String,
    pub serial: String,
    /// `physical`, `virtual-machine` or `container`.
    #[serde(rename = "type")]
    pub kind: String,
    pub firmware: Firmware,
    pub chassis: Chassis,
    pub motherboard: Motherboard,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Firmware {
    pub vendor: String,
    pub date: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Chassis {
    pub vendor: String,
    /// The SMBIOS chassis type's name (`Rack Mount Chassis`).
    #[serde(rename = "type")]
    pub kind: String,
    pub serial: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Motherboard {
    pub vendor: String,
    pub product: String,
    pub serial: String,
    pub version: String,
}

/// SMBIOS 3.x chassis types (DMTF DSP0134, 7.4.1).
pub fn chassis_type_name(n: u64) -> &'static str {
    match n {
        0x01 => "Other",
        0x02 => "Unknown",
        0x03 => "Desktop",
        0x04 => "Low Profile Desktop",
        0x05 => "Pizza Box",
        0x06 => "Mini Tower",
        0x07 => "Tower",
        0x08 => "Portable",
        0x09 => "Laptop",
        0x0a => "Notebook",
        0x0b => "Hand Held",
        0x0c => "Docking Station",
        0x0d => "All in One",
        0x0e => "Sub Notebook",
        0x0f => "Space-saving",
        0x10 => "Lunch Box",
        0x11 => "Main Server Chassis",
        0x12 => "Expansion Chassis",
        0x13 => "SubChassis",
        0x14 => "Bus Expansion Chassis",
        0x15 => "Peripheral Chassis",
        0x16 => "RAID Chassis",
        0x17 => "Rack Mount Chassis",
        0x18 => "Sealed-case PC",
        0x19 => "Multi-system chassis",
        0x1a => "Compact PCI",
        0x1b => "Advanced TCA",
        0x1c => "Blade",
        0x1d => "Blade Enclosure",
        0x1e => "Tablet",
        0x1f => "Convertible",
        0x20 => "Detachable",
        0x21 => "IoT Gateway",
        0x22 => "Embedded PC",
        0x23 => "Mini PC",
        0x24 => "Stick PC",
        _ => "",
    }
}

/// DMI vendor/product strings that name a hypervisor (what systemd-detect-virt's DMI table
/// looks for).
const VM_DMI: &[&str] = &[
    "QEMU",
    "KVM",
    "VMware",
    "VMW",
    "innotek GmbH",
    "VirtualBox",
    "Xen",
    "Bochs",
    "Parallels",
    "BHYVE",
    "Hyper-V",
    "Amazon EC2",
    "Google Compute Engine",
    "OpenStack",
    "Apple Virtualization",
];

pub(crate) fn system(ctx: &Ctx) -> System {
    let dmi = ctx.roots.sys.join("class/dmi/id");
    let f = |name: &str| read_trim(&dmi.join(name)).unwrap_or_default();
    System {
        uuid: f("product_uuid"),
        vendor: f("sys_vendor"),
        product: f("product_name"),
        family: f("product_family"),
        version: f("product_version"),
        sku: f("product_sku"),
        serial: f("product_serial"),
        kind: system_type(ctx).to_string(),
        firmware: Firmware {
            vendor: f("bios_vendor"),
            date: f("bios_date"),
            version: f("bios_version"),
        },
        chassis: Chassis {
            vendor: f("chassis_vendor"),
            kind: read_u64(&dmi.join("chassis_type"))
                .map_or("", chassis_type_name)
                .to_string(),
            serial: f("chassis_serial"),
            version: f("chassis_version"),
        },
        motherboard: Motherboard {
            vendor: f("board_vendor"),
            product: f("board_name"),
            serial: f("board_serial"),
            version: f("board_version"),
        },
    }
}

/// `container`, `virtual-machine` or `physical`.
pub(crate) fn system_type(ctx: &Ctx) -> &'static str {
    if in_container(&ctx.roots.root, &ctx.roots.proc) {
        return "container";
    }
    let dmi = ctx.roots.sys.join("class/dmi/id");
    let dmi_says_vm = [
        "sys_vendor",
        "product_name",
        "board_vendor",
        "bios_vendor",
        "chassis_vendor",
    ]
    .iter()
    .filter_map(|n| read_trim(&dmi.join(n)))
    .any(|v| {
        VM_DMI.iter().any(|m| v.starts_with(m))
            || (v.starts_with("Microsoft Corporation")
                && read_trim(&dmi.join("product_name")).as_deref() == Some("Virtual Machine"))
    });
    let cpu_says_vm = fs::read_to_string(ctx.roots.proc.join("cpuinfo")).is_ok_and(|t| {
        t.lines().any(|l| {
            l.split_once(':').is_some_and(|(k, v)| {
                k.trim() == "flags" && v.split_whitespace().any(|f| f == "hypervisor")
            })
        })
    });
    let xen = read_trim(&ctx.roots.sys.join("hypervisor/type")).is_some_and(|t| !t.is_empty());
    if dmi_says_vm || cpu_says_vm || xen {
        "virtual-machine"
    } else {
        "physical"
    }
}

/// The markers container managers leave: `/.dockerenv`, `/run/.containerenv` (podman),
/// `/run/systemd/container`, `container=` in PID 1's environment, OpenVZ's `/proc/vz`
/// without `/proc/bc`.
fn in_container(root: &Path, proc: &Path) -> bool {
    exists(&root.join(".dockerenv"))
        || exists(&root.join("run/.containerenv"))
        || exists(&root.join("run/systemd/container"))
        || fs::read(proc.join("1/environ")).is_ok_and(|env| {
            env.split(|b| *b == 0)
                .any(|kv| kv.starts_with(b"container=") && kv.len() > "container=".len())
        })
        || (exists(&proc.join("vz")) && !exists(&proc.join("bc")))
}
