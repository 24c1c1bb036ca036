//! What the agent finds out about the machine: NICs, architecture, hardware UUID.

use std::fs;
use std::path::Path;

/// A physical network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    pub name: String,
    /// Lower-case `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
}

/// Physical NICs under `<sysfs_root>/class/net`, sorted by name. Skips `lo`, virtual interfaces
/// (those without a `device` link: bridges, bonds, veth, tun...), and interfaces whose address
/// is not a 6-byte MAC or is all zeros.
pub fn physical_nics(sysfs_root: &Path) -> Vec<Nic> {
    let dir = sysfs_root.join("class/net");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut nics: Vec<Nic> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = dir.join(&name);
            if name == "lo" || fs::symlink_metadata(path.join("device")).is_err() {
                return None;
            }
            let mac = fs::read_to_string(path.join("address"))
                .ok()?
                .trim()
                .to_ascii_lowercase();
            let valid = mac.len() == 17
                && mac.split(':').count() == 6
                && mac
                    .split(':')
                    .all(|o| o.len() == 2 && o.bytes().all(|b| b.is_ascii_hexdigit()))
                && mac != "00:00:00:00:00:00";
            valid.then_some(Nic { name, mac })
        })
        .collect();
    nics.sort_by(|a, b| a.name.cmp(&b.name));
    nics
}

/// Debian's name for a kernel machine name (`uname -m`).
pub fn debian_arch(machine: &str) -> String {
    match machine {
        "x86_64" | "amd64" => "amd64",
        "aarch64" | "arm64" => "arm64",
        "i386" | "i486" | "i586" | "i686" => "i386",
        "armv7l" | "armv7" | "armv8l" => "armhf",
        "ppc64le" => "ppc64el",
        other => other,
    }
    .to_string()
}

/// `uname -m` of the running kernel.
pub fn uname_machine() -> String {
    // SAFETY: uname fills the zeroed struct; the strings it writes are NUL-terminated.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) == 0 {
            return std::ffi::CStr::from_ptr(u.machine.as_ptr())
                .to_string_lossy()
                .into_owned();
        }
    }
    std::env::consts::ARCH.to_string()
}

/// The SMBIOS system UUID (`<sysfs_root>/class/dmi/id/product_uuid`), lower-case.
pub fn hardware_uuid(sysfs_root: &Path) -> Option<String> {
    let s = fs::read_to_string(sysfs_root.join("class/dmi/id/product_uuid")).ok()?;
    let s = s.trim().to_ascii_lowercase();
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// Makes `<root>/class/net/<name>/address` (and a `device` link when `physical`).
    pub(crate) fn fake_nic(root: &Path, name: &str, mac: &str, physical: bool) {
        let d = root.join("class/net").join(name);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("address"), format!("{mac}\n")).unwrap();
        if physical {
            let dev = root.join("devices/pci0000:00").join(name);
            fs::create_dir_all(&dev).unwrap();
            symlink(&dev, d.join("device")).unwrap();
        }
    }

    #[test]
    fn filters_virtual_nics() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fake_nic(r, "lo", "00:00:00:00:00:00", false);
        fake_nic(r, "ens4", "52:54:00:BB:00:02", true);
        fake_nic(r, "ens3", "52:54:00:aa:00:01", true);
        fake_nic(r, "br0", "52:54:00:aa:00:01", false);
        fake_nic(r, "veth1", "aa:aa:aa:aa:aa:aa", false);
        fake_nic(
            r,
            "ib0",
            "80:00:02:08:fe:80:00:00:00:00:00:00:00:00:00:00:00:00:00:00",
            true,
        );
        fake_nic(r, "zero0", "00:00:00:00:00:00", true);
        let nics = physical_nics(r);
        assert_eq!(
            nics,
            [
                Nic {
                    name: "ens3".into(),
                    mac: "52:54:00:aa:00:01".into()
                },
                Nic {
                    name: "ens4".into(),
                    mac: "52:54:00:bb:00:02".into()
                },
            ]
        );
        assert!(physical_nics(&r.join("nonexistent")).is_empty());
    }

    #[test]
    fn arch_mapping() {
        assert_eq!(debian_arch("x86_64"), "amd64");
        assert_eq!(debian_arch("aarch64"), "arm64");
        assert_eq!(debian_arch("i686"), "i386");
        assert_eq!(debian_arch("armv7l"), "armhf");
        assert_eq!(debian_arch("ppc64le"), "ppc64el");
        assert_eq!(debian_arch("riscv64"), "riscv64");
        assert!(!uname_machine().is_empty());
    }

    #[test]
    fn reads_uuid_lowercase() {
        let t = tempfile::tempdir().unwrap();
        assert_eq!(hardware_uuid(t.path()), None);
        let d = t.path().join("class/dmi/id");
        fs::create_dir_all(&d).unwrap();
        fs::write(
            d.join("product_uuid"),
            "4C4C4544-0042-3510-8057-B7C04F4B4E31\n",
        )
        .unwrap();
        assert_eq!(
            hardware_uuid(t.path()).as_deref(),
            Some("4c4c4544-0042-3510-8057-b7c04f4b4e31")
        );
    }
}
