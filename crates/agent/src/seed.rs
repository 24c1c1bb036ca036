//! What the deploy writes into the installed system, as text: `/etc/fstab`, the NoCloud seed
//! (`meta-data`, `user-data`, `network-config`), cloud-init's MAAS reporting settings and the
//! boot loader's `extlinux.conf`. Pure functions; the executor writes the files.
//!
//! The YAML documents are written as JSON (JSON is YAML), which both cloud-init and the test
//! OS's `ingot-agent firstboot` read.

use ingot_core::deploy::{DeployConfig, FsType, Reporting, SpecialMount};
use serde_json::json;

/// Where the seed goes under the target root.
pub const SEED_DIR: &str = "var/lib/cloud/seed/nocloud";
/// cloud-init's reporting settings, the file MAAS writes too.
pub const REPORTING_CFG: &str = "etc/cloud/cloud.cfg.d/90_ingot_reporting.cfg";

/// One line of fstab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FstabEntry {
    /// Filesystem UUID.
    pub uuid: String,
    /// Mount point (`none` for swap).
    pub path: String,
    pub fstype: FsType,
    pub options: Option<String>,
}

/// `/etc/fstab`: by UUID, in mount-path order (the root first), swap last; `/` is checked first (pass 1),
/// others after (pass 2), swap and vfat never; then the special filesystems (`tmpfs`, `ramfs`),
/// never checked.
pub fn fstab(entries: &[FstabEntry], specials: &[SpecialMount]) -> String {
    let mut v: Vec<&FstabEntry> = entries.iter().collect();
    v.sort_by(|a, b| {
        (a.fstype == FsType::Swap)
            .cmp(&(b.fstype == FsType::Swap))
            .then_with(|| mount_order(&a.path, &b.path))
    });
    let mut s = String::from("# /etc/fstab: written by ingot-agent at deployment\n");
    for e in v {
        let (path, opts, pass) = match e.fstype {
            FsType::Swap => ("none", e.options.as_deref().unwrap_or("sw"), 0),
            FsType::Vfat => (
                e.path.as_str(),
                e.options.as_deref().unwrap_or("defaults"),
                0,
            ),
            _ => (
                e.path.as_str(),
                e.options.as_deref().unwrap_or("defaults"),
                if e.path == "/" { 1 } else { 2 },
            ),
        };
        s.push_str(&format!(
            "UUID={} {} {} {} 0 {}\n",
            e.uuid,
            path,
            e.fstype.as_str(),
            opts,
            pass
        ));
    }
    let mut sp: Vec<&SpecialMount> = specials.iter().collect();
    sp.sort_by(|a, b| mount_order(&a.path, &b.path));
    for x in sp {
        s.push_str(&format!(
            "{} {} {} {} 0 0\n",
            x.fstype,
            x.path,
            x.fstype,
            x.options.as_deref().unwrap_or("defaults")
        ));
    }
    s
}

/// Mount order: by depth (`/` before `/boot` before `/boot/efi`), then by name.
pub fn mount_order(a: &str, b: &str) -> std::cmp::Ordering {
    let depth = |p: &str| p.split('/').filter(|c| !c.is_empty()).count();
    depth(a).cmp(&depth(b)).then_with(|| a.cmp(b))
}

/// NoCloud `meta-data`.
pub fn meta_data(c: &DeployConfig) -> String {
    let host = if c.fqdn.is_empty() {
        &c.hostname
    } else {
        &c.fqdn
    };
    let v = json!({
        "instance-id": c.system_id,
        "local-hostname": host,
        "hostname": c.hostname,
        "public-keys": c.ssh_keys,
    });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

/// cloud-init's MAAS webhook reporter, as MAAS configures it.
pub fn reporting_cfg(r: &Reporting) -> String {
    let v = json!({
        "reporting": {
            "maas": {
                "type": "webhook",
                "endpoint": r.endpoint,
                "consumer_key": r.consumer_key,
                "token_key": r.token_key,
                "token_secret": r.token_secret,
            }
        }
    });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

/// Reads the reporting settings back (what `firstboot` does with the file above).
pub fn parse_reporting_cfg(text: &str) -> Option<Reporting> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let m = v.get("reporting")?.get("maas")?;
    let s = |k: &str| m.get(k).and_then(|x| x.as_str()).map(str::to_string);
    Some(Reporting {
        endpoint: s("endpoint")?,
        consumer_key: s("consumer_key").unwrap_or_default(),
        token_key: s("token_key").unwrap_or_default(),
        token_secret: s("token_secret").unwrap_or_default(),
    })
}

/// The kernel command line the installed system boots with (besides `root=`).
pub const KERNEL_ARGS: &str = "ro console=tty0 console=ttyS0,115200";

/// `extlinux.conf` booting `kernel` and `initrd` (paths on the filesystem holding /boot)
/// with the root filesystem `root_uuid`; no `INITRD` line without an initramfs.
pub fn extlinux_conf(kernel: &str, initrd: Option<&str>, root_uuid: &str, extra: &str) -> String {
    let initrd = initrd
        .map(|i| format!("  INITRD {i}\n"))
        .unwrap_or_default();
    format!(
        "# written by ingot-agent at deployment\n\
         DEFAULT ingot\n\
         PROMPT 0\n\
         TIMEOUT 1\n\
         SERIAL 0 115200\n\
         LABEL ingot\n\
         \x20 KERNEL {kernel}\n\
         {initrd}\
         \x20 APPEND root=UUID={root_uuid} {KERNEL_ARGS}{extra}\n",
        extra = extra
            .split_whitespace()
            .map(|o| format!(" {o}"))
            .collect::<String>()
    )
}

/// Where the deploy's GRUB settings go (`grub-mkconfig` reads `/etc/default/grub.d/*.cfg`
/// after `/etc/default/grub`, as curtin's `50-curtin-settings.cfg`).
pub const GRUB_SETTINGS: &str = "etc/default/grub.d/90-ingot.cfg";

/// GRUB's settings for the installed system: the kernel command line ([`KERNEL_ARGS`]
/// without `ro`, which GRUB adds, and `extra`), the serial console and no OS probing.
pub fn grub_settings(extra: &str) -> String {
    let mut cmdline: Vec<&str> = KERNEL_ARGS.split(' ').filter(|a| *a != "ro").collect();
    cmdline.extend(extra.split_whitespace());
    format!(
        "# written by ingot-agent at deployment\n\
         GRUB_TIMEOUT=1\n\
         GRUB_TIMEOUT_STYLE=menu\n\
         GRUB_CMDLINE_LINUX=\"{}\"\n\
         GRUB_TERMINAL=\"console serial\"\n\
         GRUB_SERIAL_COMMAND=\"serial --speed=115200\"\n\
         GRUB_DISABLE_OS_PROBER=true\n\
         GRUB_DISABLE_LINUX_UUID=false\n",
        cmdline.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ingot_core::deploy::{ImageKind, ImageSource};

    fn config() -> DeployConfig {
        DeployConfig {
            system_id: "abc123".into(),
            fqdn: "web1.maas".into(),
            hostname: "web1".into(),
            image: ImageSource {
                name: "custom/x".into(),
                url: "http://h/i".into(),
                sha256: "00".into(),
                size: 1,
                kind: ImageKind::Tgz,
            },
            storage: vec![],
            network_config: "{}".into(),
            user_data: None,
            ssh_keys: vec!["ssh-ed25519 AAAA k1".into()],
            reporting: Reporting {
                endpoint: "http://r/MAAS/metadata/status/abc123".into(),
                consumer_key: "ck".into(),
                token_key: "tk".into(),
                token_secret: "ts".into(),
            },
            vendor_data: None,
            kernel_opts: String::new(),
            special_mounts: vec![],
        }
    }

    #[test]
    fn fstab_by_uuid_root_first() {
        let e = |uuid: &str, path: &str, fstype| FstabEntry {
            uuid: uuid.into(),
            path: path.into(),
            fstype,
            options: None,
        };
        let tmp = |path: &str, options: Option<&str>| SpecialMount {
            fstype: "tmpfs".into(),
            path: path.into(),
            options: options.map(String::from),
        };
        let specials = [
            tmp("/var/tmp", None),
            tmp("/scratch", Some("size=1G,mode=1777")),
        ];
        let t = fstab(
            &[
                e("3", "/boot/efi", FsType::Vfat),
                e("2", "/boot", FsType::Ext2),
                e("4", "none", FsType::Swap),
                e("1", "/", FsType::Ext4),
            ],
            &specials,
        );
        let lines: Vec<&str> = t.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                "UUID=1 / ext4 defaults 0 1",
                "UUID=2 /boot ext2 defaults 0 2",
                "UUID=3 /boot/efi vfat defaults 0 0",
                "UUID=4 none swap sw 0 0",
                "tmpfs /scratch tmpfs size=1G,mode=1777 0 0",
                "tmpfs /var/tmp tmpfs defaults 0 0",
            ]
        );
    }

    #[test]
    fn seed_documents() {
        let c = config();
        let m: serde_json::Value = serde_json::from_str(&meta_data(&c)).unwrap();
        assert_eq!(m["instance-id"], "abc123");
        assert_eq!(m["local-hostname"], "web1.maas");
        assert_eq!(m["public-keys"][0], "ssh-ed25519 AAAA k1");
        let r = reporting_cfg(&c.reporting);
        let v: serde_json::Value = serde_json::from_str(&r).unwrap();
        assert_eq!(v["reporting"]["maas"]["type"], "webhook");
        assert_eq!(parse_reporting_cfg(&r).unwrap(), c.reporting);
        assert!(parse_reporting_cfg("{}").is_none());
    }

    #[test]
    fn extlinux() {
        let t = extlinux_conf("/boot/vmlinuz", Some("/boot/initrd.img"), "u-1", "");
        assert!(t.contains("DEFAULT ingot\n"));
        assert!(t.contains("  KERNEL /boot/vmlinuz\n"));
        assert!(t.contains("  INITRD /boot/initrd.img\n"));
        assert!(t.contains("  APPEND root=UUID=u-1 ro console=tty0 console=ttyS0,115200\n"));
        let t = extlinux_conf("/vmlinuz-6.1.0-10-amd64", None, "u-1", "");
        assert!(t.contains("  KERNEL /vmlinuz-6.1.0-10-amd64\n  APPEND root=UUID=u-1 "));
        assert!(!t.contains("INITRD"));
        // MAAS's kernel_opts follow the console options.
        let t = extlinux_conf(
            "/boot/vmlinuz",
            None,
            "u-1",
            " nomodeset  sysrq_always_enabled ",
        );
        assert!(
            t.contains("console=ttyS0,115200 nomodeset sysrq_always_enabled\n"),
            "{t}"
        );
    }

    #[test]
    fn grub() {
        let t = grub_settings("");
        assert!(t.contains("GRUB_CMDLINE_LINUX=\"console=tty0 console=ttyS0,115200\"\n"));
        assert!(t.contains("GRUB_TERMINAL=\"console serial\"\n"));
        let t = grub_settings(" nomodeset  quiet");
        assert!(t.contains(
            "GRUB_CMDLINE_LINUX=\"console=tty0 console=ttyS0,115200 nomodeset quiet\"\n"
        ));
    }
}
