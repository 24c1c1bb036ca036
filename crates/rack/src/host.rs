//! This host's identity as a controller: its name, hardware UUID and physical MACs, read from
//! `/proc` and `/sys` when readable (the DMI UUID is root-only on most systems; containers have
//! no physical NICs). Whatever cannot be read is left out. The region uses it to find or create
//! the machine a controller runs on (matched by UUID, then MAC, then hostname).

use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostIdentity {
    pub hostname: String,
    /// Lower-case, dashed; `None` when unreadable or not a UUID.
    pub hardware_uuid: Option<String>,
    /// MACs of the physical interfaces (those backed by a device), lower-case colon form.
    pub macs: Vec<String>,
}

/// Read this host's identity from the real `/proc` and `/sys`.
pub fn host_identity() -> HostIdentity {
    identity_from(Path::new("/"))
}

/// Read a host's identity from a root directory (tests point it at a fake tree).
pub fn identity_from(root: &Path) -> HostIdentity {
    let read = |p: &str| std::fs::read_to_string(root.join(p)).ok();
    let hostname = read("proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "rack".into());
    let hardware_uuid = read("sys/class/dmi/id/product_uuid").and_then(|u| {
        let u = u.trim().to_ascii_lowercase();
        let ok = u.len() == 36
            && u.chars().enumerate().all(|(i, c)| {
                if [8, 13, 18, 23].contains(&i) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }
            })
            && u.chars().any(|c| c != '0' && c != '-' && c != 'f');
        ok.then_some(u)
    });
    let mut macs = Vec::new();
    if let Ok(dir) = std::fs::read_dir(root.join("sys/class/net")) {
        let mut names: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        names.sort();
        for p in names {
            if !p.join("device").exists() {
                continue;
            }
            let Ok(a) = std::fs::read_to_string(p.join("address")) else {
                continue;
            };
            let a = a.trim().to_ascii_lowercase();
            let parts: Vec<&str> = a.split(':').collect();
            let is_mac = parts.len() == 6
                && parts
                    .iter()
                    .all(|x| x.len() == 2 && x.chars().all(|c| c.is_ascii_hexdigit()));
            if is_mac && a != "00:00:00:00:00:00" && !macs.contains(&a) {
                macs.push(a);
            }
        }
    }
    HostIdentity {
        hostname,
        hardware_uuid,
        macs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_fake_tree_and_tolerates_gaps() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("proc/sys/kernel")).unwrap();
        std::fs::write(r.join("proc/sys/kernel/hostname"), "ctl1\n").unwrap();
        // Nothing else yet: no UUID, no MACs.
        let id = identity_from(r);
        assert_eq!(id.hostname, "ctl1");
        assert_eq!(id.hardware_uuid, None);
        assert!(id.macs.is_empty());
        std::fs::create_dir_all(r.join("sys/class/dmi/id")).unwrap();
        std::fs::write(
            r.join("sys/class/dmi/id/product_uuid"),
            "4C4C4544-0042-3010-8052-B4C04F4A4E32\n",
        )
        .unwrap();
        for (n, mac, phys) in [
            ("eth0", "52:54:00:AA:BB:01", true),
            ("br0", "52:54:00:aa:bb:02", false),
            ("lo", "00:00:00:00:00:00", false),
            ("eth1", "52:54:00:aa:bb:03", true),
        ] {
            let p = r.join("sys/class/net").join(n);
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("address"), format!("{mac}\n")).unwrap();
            if phys {
                std::fs::create_dir_all(p.join("device")).unwrap();
            }
        }
        let id = identity_from(r);
        assert_eq!(
            id.hardware_uuid.as_deref(),
            Some("4c4c4544-0042-3010-8052-b4c04f4a4e32")
        );
        assert_eq!(id.macs, vec!["52:54:00:aa:bb:01", "52:54:00:aa:bb:03"]);
        // A placeholder UUID is no identity.
        std::fs::write(
            r.join("sys/class/dmi/id/product_uuid"),
            "00000000-0000-0000-0000-000000000000",
        )
        .unwrap();
        assert_eq!(identity_from(r).hardware_uuid, None);
    }
}
