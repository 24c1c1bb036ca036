//! `resources.pci` (every function under `/sys/bus/pci/devices`), `resources.gpu` (the
//! display-class ones) and `resources.usb` (`/sys/bus/usb/devices`, hubs left out as in LXD).

use std::path::Path;

use serde::Serialize;

use super::{entries, exists, link_name, numa_node, read_hex, read_id, read_trim, read_u64, Ctx};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PciList {
    pub devices: Vec<PciDevice>,
    pub total: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PciDevice {
    pub driver: String,
    pub driver_version: String,
    pub numa_node: u64,
    pub pci_address: String,
    pub vendor: String,
    pub vendor_id: String,
    pub product: String,
    pub product_id: String,
    pub iommu_group: u64,
    /// The 24-bit class code (not part of LXD's document; used to pick GPUs).
    #[serde(skip)]
    pub class: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Gpu {
    pub cards: Vec<GpuCard>,
    pub total: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GpuCard {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub driver: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub driver_version: String,
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
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UsbList {
    pub devices: Vec<UsbDevice>,
    pub total: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UsbDevice {
    pub bus_address: u64,
    pub device_address: u64,
    pub interfaces: Vec<UsbInterface>,
    pub vendor: String,
    pub vendor_id: String,
    pub product: String,
    pub product_id: String,
    /// Mbit/s.
    pub speed: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UsbInterface {
    pub class: String,
    pub class_id: u64,
    pub driver: String,
    pub driver_version: String,
    pub number: u64,
    pub subclass: String,
    pub subclass_id: u64,
}

pub(crate) fn pci_devices(ctx: &Ctx) -> PciList {
    let bus = ctx.roots.sys.join("bus/pci/devices");
    let devices: Vec<PciDevice> = entries(&bus)
        .into_iter()
        .map(|addr| {
            let d = bus.join(&addr);
            let vendor_id = read_id(&d.join("vendor")).unwrap_or_default();
            let product_id = read_id(&d.join("device")).unwrap_or_default();
            let (vendor, product) = ctx.ids.pci.names(&vendor_id, &product_id);
            let (driver, driver_version) = driver(ctx, &d);
            PciDevice {
                driver,
                driver_version,
                numa_node: numa_node(&d),
                pci_address: addr,
                vendor,
                vendor_id,
                product,
                product_id,
                iommu_group: link_name(&d.join("iommu_group"))
                    .and_then(|g| g.parse().ok())
                    .unwrap_or(0),
                class: read_hex(&d.join("class")).unwrap_or(0),
            }
        })
        .collect();
    PciList {
        total: devices.len() as u64,
        devices,
    }
}

fn driver(ctx: &Ctx, device: &Path) -> (String, String) {
    match link_name(&device.join("driver")) {
        Some(d) => (d, ctx.driver_version(device)),
        None => (String::new(), String::new()),
    }
}

/// Display controllers (class 0x03).
pub(crate) fn gpu(pci: &PciList) -> Gpu {
    let cards: Vec<GpuCard> = pci
        .devices
        .iter()
        .filter(|d| d.class >> 16 == 0x03)
        .map(|d| GpuCard {
            driver: d.driver.clone(),
            driver_version: d.driver_version.clone(),
            numa_node: d.numa_node,
            pci_address: d.pci_address.clone(),
            vendor: d.vendor.clone(),
            vendor_id: d.vendor_id.clone(),
            product: d.product.clone(),
            product_id: d.product_id.clone(),
        })
        .collect();
    Gpu {
        total: cards.len() as u64,
        cards,
    }
}

pub(crate) fn usb_devices(ctx: &Ctx) -> UsbList {
    let bus = ctx.roots.sys.join("bus/usb/devices");
    let mut devices = Vec::new();
    for name in entries(&bus) {
        let d = bus.join(&name);
        let (Some(bus_address), Some(device_address)) =
            (read_u64(&d.join("busnum")), read_u64(&d.join("devnum")))
        else {
            continue;
        };
        if read_hex(&d.join("bDeviceClass")) == Some(9) {
            continue; // hub
        }
        let vendor_id = read_id(&d.join("idVendor")).unwrap_or_default();
        let product_id = read_id(&d.join("idProduct")).unwrap_or_default();
        let (db_vendor, db_product) = ctx.ids.usb.names(&vendor_id, &product_id);
        let product = read_trim(&d.join("product"))
            .filter(|p| !p.is_empty())
            .unwrap_or(db_product);
        let vendor = if db_vendor.is_empty() {
            read_trim(&d.join("manufacturer")).unwrap_or_default()
        } else {
            db_vendor
        };
        let interfaces = entries(&d)
            .into_iter()
            .filter(|s| {
                s.starts_with(&format!("{name}:")) && exists(&d.join(s).join("bInterfaceClass"))
            })
            .map(|s| {
                let i = d.join(&s);
                let (driver, driver_version) = driver(ctx, &i);
                let class_id = read_hex(&i.join("bInterfaceClass")).unwrap_or(0);
                UsbInterface {
                    class: usb_class_name(class_id).to_string(),
                    class_id,
                    driver,
                    driver_version,
                    number: read_hex(&i.join("bInterfaceNumber")).unwrap_or(0),
                    subclass: String::new(),
                    subclass_id: read_hex(&i.join("bInterfaceSubClass")).unwrap_or(0),
                }
            })
            .collect();
        devices.push(UsbDevice {
            bus_address,
            device_address,
            interfaces,
            vendor,
            vendor_id,
            product,
            product_id,
            speed: read_trim(&d.join("speed"))
                .and_then(|s| s.parse().ok())
                .unwrap_or(0.0),
        });
    }
    UsbList {
        total: devices.len() as u64,
        devices,
    }
}

/// usb.ids' names for the base interface classes.
fn usb_class_name(class: u64) -> &'static str {
    match class {
        0x01 => "Audio",
        0x02 => "Communications",
        0x03 => "Human Interface Device",
        0x05 => "Physical Interface Device",
        0x06 => "Imaging",
        0x07 => "Printer",
        0x08 => "Mass Storage",
        0x09 => "Hub",
        0x0a => "CDC Data",
        0x0b => "Chip/SmartCard",
        0x0d => "Content Security",
        0x0e => "Video",
        0x0f => "Personal Healthcare",
        0x10 => "Audio/Video",
        0xdc => "Diagnostic",
        0xe0 => "Wireless",
        0xef => "Miscellaneous Device",
        0xfe => "Application Specific Interface",
        0xff => "Vendor Specific Class",
        _ => "",
    }
}
