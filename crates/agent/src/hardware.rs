//! What `for_hardware` is matched against: the machine's modaliases, PCI and USB ids
//! (`VVVV:PPPP`) and DMI identity (`system_vendor`, `mainboard_product`, ...).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// The machine's hardware identifiers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ids {
    /// Every `/sys/bus/*/devices/*/modalias`, sorted, without duplicates.
    pub modaliases: Vec<String>,
    /// `vvvv:pppp` of every PCI function.
    pub pci: Vec<String>,
    /// `vvvv:pppp` of every USB device.
    pub usb: Vec<String>,
    /// `system_vendor`, `system_product`, `system_version`, `mainboard_vendor`,
    /// `mainboard_product` (those DMI has).
    pub metadata: BTreeMap<String, String>,
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn read(p: &Path) -> Option<String> {
    let s = fs::read_to_string(p).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// `0x8086` / `8086` -> `8086`.
fn hex4(s: &str) -> String {
    s.trim().trim_start_matches("0x").to_ascii_lowercase()
}

/// Every modalias under `<sys>/bus/*/devices/*`, sorted and unique.
pub fn modaliases(sys: &Path) -> Vec<String> {
    let bus = sys.join("bus");
    let mut out: Vec<String> = names(&bus)
        .iter()
        .flat_map(|b| {
            let devs = bus.join(b).join("devices");
            names(&devs)
                .into_iter()
                .filter_map(move |d| read(&devs.join(d).join("modalias")))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Reads the identifiers from `sys` (normally `/sys`).
pub fn gather(sys: &Path) -> Ids {
    let pci_dir = sys.join("bus/pci/devices");
    let mut pci: Vec<String> = names(&pci_dir)
        .iter()
        .filter_map(|d| {
            let d = pci_dir.join(d);
            Some(format!(
                "{}:{}",
                hex4(&read(&d.join("vendor"))?),
                hex4(&read(&d.join("device"))?)
            ))
        })
        .collect();
    pci.sort();
    pci.dedup();
    let usb_dir = sys.join("bus/usb/devices");
    let mut usb: Vec<String> = names(&usb_dir)
        .iter()
        .filter_map(|d| {
            let d = usb_dir.join(d);
            Some(format!(
                "{}:{}",
                hex4(&read(&d.join("idVendor"))?),
                hex4(&read(&d.join("idProduct"))?)
            ))
        })
        .collect();
    usb.sort();
    usb.dedup();
    let dmi = sys.join("class/dmi/id");
    let metadata = [
        ("system_vendor", "sys_vendor"),
        ("system_product", "product_name"),
        ("system_version", "product_version"),
        ("mainboard_vendor", "board_vendor"),
        ("mainboard_product", "board_name"),
    ]
    .iter()
    .filter_map(|(k, f)| Some((k.to_string(), read(&dmi.join(f))?)))
    .collect();
    Ids {
        modaliases: modaliases(sys),
        pci,
        usb,
        metadata,
    }
}

impl Ids {
    /// Whether a script with this `for_hardware` list runs here (an empty list: always).
    pub fn matches(&self, for_hardware: &[String]) -> bool {
        ingot_core::scripts::for_hardware_matches(
            for_hardware,
            &self.modaliases,
            &self.pci,
            &self.usb,
            &self.metadata,
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn w(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    /// A sysfs with one Intel PCI NIC, a USB hub and QEMU's DMI strings.
    pub(crate) fn fake(root: &Path) {
        w(
            root,
            "bus/pci/devices/0000:00:03.0/modalias",
            "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00\n",
        );
        w(root, "bus/pci/devices/0000:00:03.0/vendor", "0x8086\n");
        w(root, "bus/pci/devices/0000:00:03.0/device", "0x100e\n");
        w(
            root,
            "bus/usb/devices/1-0:1.0/modalias",
            "usb:v1D6Bp0002d0606dc09dsc00dp00ic09isc00ip00in00\n",
        );
        w(root, "bus/usb/devices/usb1/idVendor", "1d6b\n");
        w(root, "bus/usb/devices/usb1/idProduct", "0002\n");
        w(
            root,
            "bus/platform/devices/serial8250/modalias",
            "platform:serial8250\n",
        );
        w(
            root,
            "bus/platform/devices/serial8250.0/modalias",
            "platform:serial8250\n",
        );
        w(root, "class/dmi/id/sys_vendor", "QEMU\n");
        w(
            root,
            "class/dmi/id/product_name",
            "Standard PC (Q35 + ICH9, 2009)\n",
        );
        w(root, "class/dmi/id/board_name", "\n");
    }

    #[test]
    fn gathers_ids_and_matches_for_hardware() {
        let t = tempfile::tempdir().unwrap();
        fake(t.path());
        let ids = gather(t.path());
        assert_eq!(
            ids.modaliases,
            [
                "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00",
                "platform:serial8250",
                "usb:v1D6Bp0002d0606dc09dsc00dp00ic09isc00ip00in00"
            ]
        );
        assert_eq!(ids.pci, ["8086:100e"]);
        assert_eq!(ids.usb, ["1d6b:0002"]);
        assert_eq!(
            ids.metadata.get("system_vendor").map(String::as_str),
            Some("QEMU")
        );
        assert!(
            !ids.metadata.contains_key("mainboard_product"),
            "empty DMI fields are absent"
        );
        let m = |v: &[&str]| ids.matches(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(m(&[]));
        assert!(m(&["pci:8086:100E"]));
        assert!(m(&["modalias:pci:v00008086*"]));
        assert!(m(&["usb:1d6b:0002"]));
        assert!(m(&["system_vendor:QEMU"]));
        assert!(
            m(&["pci:10de:1234", "system_vendor:QEMU"]),
            "any one entry suffices"
        );
        assert!(!m(&["pci:10de:1234"]));
        assert!(!m(&["modalias:pci:v000010DE*"]));
        assert!(!m(&["system_vendor:Dell Inc."]));
        assert!(!m(&["mainboard_product:X11"]));
    }

    #[test]
    fn an_empty_tree_has_nothing() {
        let t = tempfile::tempdir().unwrap();
        assert_eq!(gather(t.path()), Ids::default());
    }
}
