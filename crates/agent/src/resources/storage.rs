//! `resources.storage`: the disks of `/sys/class/block` (entries with a `device` link, as in
//! LXD: loop, ram, zram, dm and md devices have none and are left out; so are partitions and
//! hidden NVMe multipath paths).
//!
//! LXD takes the serial, the by-id name (`device_id`) and the by-path name (`device_path`)
//! from udev. The ephemeral environment has no udev, so when `<dev>/disk/by-id` is absent
//! they are derived from sysfs the way udev's rules would name them:
//!
//! | bus | serial from | device_id |
//! |---|---|---|
//! | virtio-blk | `/sys/block/X/serial` | `virtio-<serial>` |
//! | NVMe | `device/serial` | `nvme-<model>_<serial>` |
//! | SATA (libata) | `device/vpd_pg80` | `ata-<model>_<serial>` |
//! | other SCSI | `device/vpd_pg80` | `scsi-<id>` from `device/vpd_pg83` (scsi_id's choice), else `scsi-S<vendor>_<model>_<serial>` |
//! | USB storage | the USB device's `serial` | `usb-<vendor>_<model>_<serial>-<target>:<lun>` |
//! | MMC | `device/serial` | `mmc-<name>_<serial>` |
//!
//! (For ATA disks the model is the 16-character SCSI INQUIRY one sysfs shows; udev's ata_id
//! reads the full 40-character ATA model, so a longer model name is cut short here.)

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{
    entries, exists, is_pci_address, link_name, numa_node, numbered, pci_address_of, read_trim,
    read_u64, usb_address_of, Ctx,
};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Storage {
    pub disks: Vec<Disk>,
    /// Disks plus partitions.
    pub total: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Disk {
    /// Kernel name (`vda`, `sda`, `nvme0n1`).
    pub id: String,
    /// `major:minor`.
    pub device: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub model: String,
    /// `virtio`, `scsi`, `sata`, `nvme`, `usb`, `mmc`, `cdrom`, ...
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    pub read_only: bool,
    /// Bytes.
    pub size: u64,
    pub removable: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub wwn: String,
    pub numa_node: u64,
    /// by-path name (`pci-0000:00:1f.2-ata-1`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub device_path: String,
    /// Physical block size.
    pub block_size: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub firmware_version: String,
    /// 0 for non-rotational media; 1 for rotational media of unknown speed.
    pub rpm: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub serial: String,
    /// by-id name (`virtio-SERIAL`), empty when there is none.
    pub device_id: String,
    pub partitions: Vec<Partition>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pci_address: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub usb_address: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Partition {
    pub id: String,
    pub device: String,
    pub read_only: bool,
    pub size: u64,
    pub partition: u64,
}

/// udev's `util_replace_whitespace` followed by `util_replace_chars`: surrounding whitespace
/// dropped, inner runs of whitespace become one `_`, characters a link name may not hold
/// become `_`.
pub fn udev_id(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join("_")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "#+-.:=@_".contains(c) || !c.is_ascii() {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The serial in a SCSI VPD page 0x80 (unit serial number) as sysfs gives it.
pub fn parse_vpd_pg80(b: &[u8]) -> Option<String> {
    if b.len() < 4 || b[1] != 0x80 {
        return None;
    }
    let len = u16::from_be_bytes([b[2], b[3]]) as usize;
    let body = b.get(4..(4 + len).min(b.len()))?;
    let s: String = String::from_utf8_lossy(body)
        .trim_matches(|c: char| c.is_whitespace() || c == '\0')
        .to_string();
    (!s.is_empty()).then_some(s)
}

/// The identifier udev's scsi_id picks from a VPD page 0x83 (device identification), in its
/// `ID_SERIAL` form: a designator-type digit then the value — `3<hex>` (NAA), `2<hex>`
/// (EUI-64), `1<ascii>` (T10 vendor id), `0<vendor><model><value>` (vendor specific). Only
/// designators associated with the logical unit are considered, in that order of preference.
pub fn parse_vpd_pg83(b: &[u8], vendor: &str, model: &str) -> Option<String> {
    if b.len() < 4 || b[1] != 0x83 {
        return None;
    }
    let end = (4 + u16::from_be_bytes([b[2], b[3]]) as usize).min(b.len());
    let mut found: Vec<(u8, String)> = Vec::new();
    let mut i = 4;
    while i + 4 <= end {
        let codeset = b[i] & 0x0f;
        let assoc = (b[i + 1] >> 4) & 0x03;
        let kind = b[i + 1] & 0x0f;
        let len = b[i + 3] as usize;
        let Some(value) = b.get(i + 4..i + 4 + len) else {
            break;
        };
        i += 4 + len;
        if assoc != 0 || kind > 3 || value.is_empty() {
            continue;
        }
        let text = if codeset == 2 || codeset == 3 {
            String::from_utf8_lossy(value)
                .trim_end_matches('\0')
                .to_string()
        } else {
            value.iter().map(|x| format!("{x:02x}")).collect()
        };
        found.push((kind, text));
    }
    let (kind, text) = [3u8, 2, 1, 0]
        .iter()
        .find_map(|k| found.iter().find(|(kind, _)| kind == k))?;
    Some(match kind {
        0 => format!("0{vendor:<8}{model:<16}{text}"),
        k => format!("{k}{text}"),
    })
}

/// Links in a udev `/dev/disk/by-*` directory, grouped by the kernel name they point to, each
/// group in name order.
fn udev_links(dir: &Path) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for name in entries(dir) {
        if let Some(target) = link_name(&dir.join(&name)) {
            out.entry(target).or_default().push(name);
        }
    }
    out
}

/// How a disk is attached, from its resolved `device` path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bus {
    Virtio,
    Nvme,
    Ata,
    Usb,
    Scsi,
    Mmc,
    Other,
}

fn components(p: &Path) -> Vec<String> {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect()
}

fn is_usb_interface(c: &str) -> bool {
    // `2-1.4:1.0`
    c.split_once(':').is_some_and(|(dev, intf)| {
        dev.split_once('-').is_some_and(|(bus, ports)| {
            !bus.is_empty()
                && bus.bytes().all(|b| b.is_ascii_digit())
                && !ports.is_empty()
                && ports.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        }) && intf.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    })
}

/// `h:c:t:l` of a SCSI device directory name.
fn hctl(name: &str) -> Option<[u64; 4]> {
    let v: Vec<u64> = name
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    <[u64; 4]>::try_from(v).ok()
}

pub(crate) fn storage(ctx: &Ctx) -> Storage {
    let class = ctx.roots.sys.join("class/block");
    let by_id = udev_links(&ctx.roots.dev.join("disk/by-id"));
    let by_path = udev_links(&ctx.roots.dev.join("disk/by-path"));
    let mut disks = Vec::new();
    for name in entries(&class) {
        let dir = class.join(&name);
        let device = dir.join("device");
        if !exists(&device)
            || exists(&dir.join("partition"))
            || read_u64(&dir.join("hidden")) == Some(1)
        {
            continue;
        }
        let mut disk = disk(ctx, &name, &dir, &device);
        if let Some(l) = by_id.get(&name).and_then(|l| l.last()) {
            disk.device_id = l.clone();
        }
        if let Some(l) = by_path.get(&name).and_then(|l| l.last()) {
            disk.device_path = l.clone();
        }
        disks.push(disk);
    }
    let total = disks.iter().map(|d| 1 + d.partitions.len() as u64).sum();
    Storage { disks, total }
}

fn disk(ctx: &Ctx, name: &str, dir: &Path, device: &Path) -> Disk {
    let resolved = fs::canonicalize(device).unwrap_or_else(|_| device.to_path_buf());
    let parts = components(&resolved);
    let subsystem = link_name(&device.join("subsystem")).unwrap_or_default();
    let bus = match subsystem.as_str() {
        "virtio" => Bus::Virtio,
        "nvme" | "nvme-subsystem" => Bus::Nvme,
        "mmc" => Bus::Mmc,
        "scsi" if parts.iter().any(|c| c.starts_with("usb")) => Bus::Usb,
        "scsi" if parts.iter().any(|c| numbered(c, "ata").is_some()) => Bus::Ata,
        "scsi" => Bus::Scsi,
        _ => Bus::Other,
    };
    let kind = match (bus, subsystem.as_str()) {
        _ if read_u64(&device.join("type")) == Some(5) && subsystem == "scsi" => "cdrom".into(),
        (Bus::Ata, _) => "sata".into(),
        (Bus::Usb, _) => "usb".into(),
        (Bus::Nvme, _) => "nvme".into(),
        (_, s) => s.to_string(),
    };
    let model = read_trim(&device.join("model")).unwrap_or_default();
    let vendor = read_trim(&device.join("vendor")).unwrap_or_default();
    let usb_dev = usb_device_dir(&resolved);
    let serial = match bus {
        Bus::Virtio => read_trim(&dir.join("serial")),
        Bus::Nvme | Bus::Mmc => read_trim(&device.join("serial")),
        Bus::Usb => usb_dev
            .as_deref()
            .and_then(|d| read_trim(&d.join("serial"))),
        Bus::Ata | Bus::Scsi => fs::read(device.join("vpd_pg80"))
            .ok()
            .and_then(|b| parse_vpd_pg80(&b))
            .or_else(|| read_trim(&device.join("serial"))),
        Bus::Other => read_trim(&dir.join("serial")).or_else(|| read_trim(&device.join("serial"))),
    }
    .filter(|s| !s.is_empty())
    .unwrap_or_default();
    let pci_address = pci_address_of(&resolved).unwrap_or_default();
    // NUMA node: the device's own, else that of the PCI function it hangs off.
    let numa = if exists(&device.join("numa_node")) {
        numa_node(device)
    } else {
        pci_dir(&resolved).map_or(0, |p| numa_node(&p))
    };
    let nsid = read_u64(&dir.join("nsid"))
        .or_else(|| name.rsplit_once('n').and_then(|(_, n)| n.parse().ok()));
    let scsi = parts.iter().rev().find_map(|c| hctl(c));

    let device_id = match bus {
        _ if serial.is_empty() => String::new(),
        Bus::Virtio => format!("virtio-{}", udev_id(&serial)),
        Bus::Nvme => format!("nvme-{}", udev_id(&format!("{model}_{serial}"))),
        Bus::Ata => format!("ata-{}", udev_id(&format!("{model}_{serial}"))),
        Bus::Mmc => {
            let n = read_trim(&device.join("name")).unwrap_or_default();
            format!("mmc-{}", udev_id(&format!("{n}_{serial}")))
        }
        Bus::Usb => match scsi {
            Some([_, _, t, l]) => format!(
                "usb-{}-{t}:{l}",
                udev_id(&format!("{vendor}_{model}_{serial}"))
            ),
            None => String::new(),
        },
        Bus::Scsi => {
            let id = fs::read(device.join("vpd_pg83"))
                .ok()
                .and_then(|b| parse_vpd_pg83(&b, &vendor, &model))
                .unwrap_or_else(|| format!("S{vendor} {model} {serial}"));
            format!("scsi-{}", udev_id(&id))
        }
        Bus::Other => String::new(),
    };

    let device_path = if pci_address.is_empty() {
        String::new()
    } else {
        let pci = format!("pci-{pci_address}");
        let scsi_part = || {
            let [h, c, t, l] = scsi?;
            Some(format!("scsi-{}:{c}:{t}:{l}", h - host_base(&resolved, h)))
        };
        match bus {
            Bus::Virtio => pci,
            Bus::Nvme => nsid.map_or(String::new(), |n| format!("{pci}-nvme-{n}")),
            Bus::Ata => ata_port(ctx, &parts).map_or(String::new(), |p| format!("{pci}-ata-{p}")),
            Bus::Scsi => scsi_part().map_or(String::new(), |s| format!("{pci}-{s}")),
            Bus::Usb => {
                let intf = parts.iter().rev().find(|c| is_usb_interface(c));
                match (intf, scsi_part()) {
                    (Some(i), Some(s)) => {
                        let port = i.split_once('-').map_or("", |(_, p)| p);
                        format!("{pci}-usb-0:{port}-{s}")
                    }
                    _ => String::new(),
                }
            }
            Bus::Mmc | Bus::Other => String::new(),
        }
    };

    let mut partitions: Vec<Partition> = entries(dir)
        .into_iter()
        .filter_map(|p| {
            let pdir = dir.join(&p);
            let number = read_u64(&pdir.join("partition"))?;
            Some(Partition {
                device: read_trim(&pdir.join("dev")).unwrap_or_default(),
                read_only: read_u64(&pdir.join("ro")) == Some(1),
                size: read_u64(&pdir.join("size")).unwrap_or(0) * 512,
                partition: number,
                id: p,
            })
        })
        .collect();
    partitions.sort_by_key(|p| p.partition);

    Disk {
        id: name.to_string(),
        device: read_trim(&dir.join("dev")).unwrap_or_default(),
        model,
        kind,
        read_only: read_u64(&dir.join("ro")) == Some(1),
        size: read_u64(&dir.join("size")).unwrap_or(0) * 512,
        removable: read_u64(&dir.join("removable")) == Some(1),
        wwn: read_trim(&dir.join("wwid"))
            .or_else(|| read_trim(&device.join("wwid")))
            .unwrap_or_default(),
        numa_node: numa,
        device_path,
        block_size: read_u64(&dir.join("queue/physical_block_size")).unwrap_or(0),
        firmware_version: read_trim(&device.join("firmware_rev"))
            .or_else(|| read_trim(&device.join("rev")))
            .unwrap_or_default(),
        rpm: u64::from(read_u64(&dir.join("queue/rotational")) == Some(1)),
        serial,
        device_id,
        partitions,
        pci_address,
        usb_address: usb_address_of(&resolved).unwrap_or_default(),
    }
}

/// The PCI function directory closest to a resolved device path.
fn pci_dir(resolved: &Path) -> Option<PathBuf> {
    resolved
        .ancestors()
        .find(|a| {
            a.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_pci_address)
        })
        .map(Path::to_path_buf)
}

/// The USB device directory (the one with `busnum`) above a resolved device path.
fn usb_device_dir(resolved: &Path) -> Option<PathBuf> {
    resolved
        .ancestors()
        .find(|a| exists(&a.join("busnum")) && exists(&a.join("devnum")))
        .map(Path::to_path_buf)
}

/// udev numbers SCSI hosts from 0 per controller: the lowest `hostN` next to this one.
fn host_base(resolved: &Path, host: u64) -> u64 {
    let name = format!("host{host}");
    resolved
        .ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == name.as_str()))
        .and_then(Path::parent)
        .map(|parent| {
            entries(parent)
                .iter()
                .filter_map(|n| numbered(n, "host"))
                .min()
                .unwrap_or(host)
        })
        .unwrap_or(host)
        .min(host)
}

/// The ATA port number of the `ataN` component (`class/ata_port/ataN/port_no`, else N).
fn ata_port(ctx: &Ctx, parts: &[String]) -> Option<u64> {
    let n = parts.iter().rev().find_map(|c| numbered(c, "ata"))?;
    Some(read_u64(&ctx.roots.sys.join(format!("class/ata_port/ata{n}/port_no"))).unwrap_or(n))
}
