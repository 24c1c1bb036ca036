//! What a deployment hands to the ephemeral environment, and the network configuration the
//! installed OS applies — the one contract between the region (which decides) and
//! `ingot-agent` (which does).
//!
//! The region serves a [`DeployConfig`] as JSON at `GET /MAAS/metadata/latest/deploy-config`
//! (machine token, machine DEPLOYING and admitted). The agent runs the [`StorageStep`]s in
//! order (like curtin's storage configuration: every step names the steps it builds on by
//! `id`), streams the image onto the result, writes the NoCloud seed, makes the disk bootable
//! and reboots. Every step the agent reports (`op=signal`, `status=WORKING|FAILED`) carries the
//! step's name ([`DeployStep`]) so that a failure names where it happened.
//!
//! [`render_network_config`] turns the machine's interfaces and links into cloud-init's
//! network-config version 2 (netplan) — written as JSON, which is YAML too.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Everything the ephemeral environment needs to install a machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployConfig {
    pub system_id: String,
    /// The fully qualified name (`local-hostname` in the seed).
    pub fqdn: String,
    /// The short host name (`hostname`).
    pub hostname: String,
    pub image: ImageSource,
    /// Storage steps, run in order.
    pub storage: Vec<StorageStep>,
    /// cloud-init network-config (version 2), as text.
    pub network_config: String,
    /// The deploy's user-data, base64 (what `op=deploy user_data=` gave); None without.
    pub user_data: Option<String>,
    /// The owner's SSH public keys.
    pub ssh_keys: Vec<String>,
    /// Where and how the installed OS reports its cloud-init events.
    pub reporting: Reporting,
    /// cloud-init vendor-data (`#cloud-config`): what the region's settings ask of every
    /// installed OS (NTP servers, HTTP proxy, apt mirror, remote syslog), as MAAS sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_data: Option<String>,
    /// Extra kernel command-line options of the installed system (MAAS's `kernel_opts`: the
    /// global setting, then the machine's tags'), written into its boot loader's settings.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kernel_opts: String,
    /// Filesystems without a device (`tmpfs`, `ramfs`) the installed OS mounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub special_mounts: Vec<SpecialMount>,
}

/// A `tmpfs` or `ramfs` mount of the installed OS (an fstab line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecialMount {
    pub fstype: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<String>,
}

/// The OS image to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSource {
    /// `osystem/release` as the API names it (`custom/ingot-test`, `ubuntu/jammy`).
    pub name: String,
    /// Absolute URL the agent streams the image from.
    pub url: String,
    /// Expected SHA-256 of the bytes at `url` (lower-case hex); a mismatch fails the deploy.
    pub sha256: String,
    /// Expected size in bytes.
    pub size: u64,
    pub kind: ImageKind,
}

/// How an image is laid onto the disk: the file types MAAS accepts for custom images
/// (`boot-resources/` `filetype=`), plus the squashfs root file systems image mirrors publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageKind {
    /// A gzip'ed tar of a root filesystem (MAAS `tgz`): extracted into the storage layout's
    /// root, with its kernel as distributions lay it out (`/boot/vmlinuz-<version>` and
    /// `initrd.img-<version>`, or `vmlinuz`/`initrd.img` links or files at the root or in
    /// /boot); the agent installs the boot loader (the image's GRUB when it carries one).
    Tgz,
    /// A root tarball compressed with bzip2 (MAAS `tbz`).
    Tbz,
    /// A root tarball compressed with xz (MAAS `txz`, the mirrors' `root-tar.xz`).
    Txz,
    /// A squashfs root file system (the mirrors' `squashfs`): extracted like a root tarball.
    Squashfs,
    /// A whole-disk raw image (MAAS `ddraw`): written over the boot disk from sector 0; the
    /// storage layout is not applied (only the boot disk is used).
    Ddraw,
    /// A raw disk image compressed with gzip (`ddgz`).
    Ddgz,
    /// A raw disk image compressed with bzip2 (`ddbz2`).
    Ddbz2,
    /// A raw disk image compressed with xz (`ddxz`).
    Ddxz,
    /// A tar holding one raw disk image (`ddtar`).
    Ddtar,
    /// A gzip'ed tar holding one raw disk image (`ddtgz`).
    Ddtgz,
    /// A bzip2'ed tar holding one raw disk image (`ddtbz`).
    Ddtbz,
    /// An xz'ed tar holding one raw disk image (`ddtxz`).
    Ddtxz,
}

/// The compression around an image's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
}

impl ImageKind {
    /// Every kind, in the order the upload error lists them.
    pub const ALL: [ImageKind; 12] = [
        ImageKind::Tgz,
        ImageKind::Tbz,
        ImageKind::Txz,
        ImageKind::Squashfs,
        ImageKind::Ddraw,
        ImageKind::Ddgz,
        ImageKind::Ddbz2,
        ImageKind::Ddxz,
        ImageKind::Ddtar,
        ImageKind::Ddtgz,
        ImageKind::Ddtbz,
        ImageKind::Ddtxz,
    ];

    /// The name an upload gives (`filetype=`), as MAAS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageKind::Tgz => "tgz",
            ImageKind::Tbz => "tbz",
            ImageKind::Txz => "txz",
            ImageKind::Squashfs => "squashfs",
            ImageKind::Ddraw => "ddraw",
            ImageKind::Ddgz => "ddgz",
            ImageKind::Ddbz2 => "ddbz2",
            ImageKind::Ddxz => "ddxz",
            ImageKind::Ddtar => "ddtar",
            ImageKind::Ddtgz => "ddtgz",
            ImageKind::Ddtbz => "ddtbz",
            ImageKind::Ddtxz => "ddtxz",
        }
    }

    /// The file type stored with a boot resource (what the API shows): `root-tgz`,
    /// `root-tbz`, `root-txz` for root tarballs (the simplestreams names), the upload name
    /// for the others.
    pub fn filetype(self) -> &'static str {
        match self {
            ImageKind::Tgz => "root-tgz",
            ImageKind::Tbz => "root-tbz",
            ImageKind::Txz => "root-txz",
            other => other.as_str(),
        }
    }

    /// An upload name or a stored file type.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "raw" => Some(ImageKind::Ddraw),
            _ => Self::ALL
                .into_iter()
                .find(|k| k.as_str() == s || k.filetype() == s),
        }
    }

    /// A disk image written over the boot disk (the storage layout is not applied).
    pub fn is_disk(self) -> bool {
        !matches!(
            self,
            ImageKind::Tgz | ImageKind::Tbz | ImageKind::Txz | ImageKind::Squashfs
        )
    }

    /// A tar archive (a root tarball, or a tar holding one disk image).
    pub fn is_tar(self) -> bool {
        matches!(
            self,
            ImageKind::Tgz
                | ImageKind::Tbz
                | ImageKind::Txz
                | ImageKind::Ddtar
                | ImageKind::Ddtgz
                | ImageKind::Ddtbz
                | ImageKind::Ddtxz
        )
    }

    pub fn compression(self) -> Compression {
        match self {
            ImageKind::Tgz | ImageKind::Ddgz | ImageKind::Ddtgz => Compression::Gzip,
            ImageKind::Tbz | ImageKind::Ddbz2 | ImageKind::Ddtbz => Compression::Bzip2,
            ImageKind::Txz | ImageKind::Ddxz | ImageKind::Ddtxz => Compression::Xz,
            ImageKind::Squashfs | ImageKind::Ddraw | ImageKind::Ddtar => Compression::None,
        }
    }
}

/// cloud-init's MAAS webhook reporter settings (as in the seed's `*-creds.yaml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reporting {
    /// `http://REGION:5240/MAAS/metadata/status/<system_id>`
    pub endpoint: String,
    pub consumer_key: String,
    pub token_key: String,
    pub token_secret: String,
}

/// One storage step. Ids are unique within a configuration; later steps refer to earlier ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StorageStep {
    /// A physical disk, found by serial (preferred) or by `/dev/disk/by-id`-style path. With
    /// `ptable` a fresh partition table is written; `boot` marks the disk the boot loader goes
    /// on.
    Disk {
        id: String,
        serial: Option<String>,
        /// e.g. `/dev/vda` or `/dev/disk/by-path/...`
        path: Option<String>,
        /// Bytes, as commissioning found.
        size: u64,
        ptable: Option<PartitionTable>,
        boot: bool,
    },
    /// A partition on a `Disk` (number from 1, in creation order).
    Partition {
        id: String,
        device: String,
        number: u32,
        /// Bytes; 0 means "the rest of the device".
        size: u64,
        flag: Option<PartitionFlag>,
    },
    /// An LVM volume group over partitions / disks.
    VolumeGroup {
        id: String,
        name: String,
        devices: Vec<String>,
    },
    /// An LVM logical volume in a volume group.
    LogicalVolume {
        id: String,
        volume_group: String,
        name: String,
        /// Bytes; 0 means "the rest of the volume group".
        size: u64,
    },
    /// A bcache device: `backing` cached by `cache`.
    Bcache {
        id: String,
        name: String,
        backing: String,
        cache: String,
        cache_mode: CacheMode,
    },
    /// An md RAID array (mdadm, metadata 1.2) of disks and partitions, named `name` in the
    /// installed system (`/dev/md/NAME`).
    Raid {
        id: String,
        name: String,
        level: RaidLevel,
        devices: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        spares: Vec<String>,
    },
    /// A filesystem made on a volume (disk, partition, logical volume, bcache or RAID).
    Format {
        id: String,
        volume: String,
        fstype: FsType,
        label: Option<String>,
        /// Filesystem UUID to create it with (the region picks it so fstab can name it).
        uuid: Option<String>,
    },
    /// Where a filesystem is mounted in the installed OS.
    Mount {
        id: String,
        format: String,
        path: String,
        options: Option<String>,
    },
}

impl StorageStep {
    pub fn id(&self) -> &str {
        match self {
            StorageStep::Disk { id, .. }
            | StorageStep::Partition { id, .. }
            | StorageStep::VolumeGroup { id, .. }
            | StorageStep::LogicalVolume { id, .. }
            | StorageStep::Bcache { id, .. }
            | StorageStep::Raid { id, .. }
            | StorageStep::Format { id, .. }
            | StorageStep::Mount { id, .. } => id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartitionTable {
    Gpt,
    Msdos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionFlag {
    /// Bootable (MBR active flag / legacy BIOS bootable attribute on GPT).
    Boot,
    /// A GPT BIOS boot partition.
    BiosGrub,
    /// The EFI system partition.
    Esp,
    /// An LVM physical volume.
    Lvm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheMode {
    Writeback,
    Writethrough,
    Writearound,
}

/// A RAID level, as MAAS names it (`raid-0`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RaidLevel {
    #[serde(rename = "raid-0")]
    Raid0,
    #[serde(rename = "raid-1")]
    Raid1,
    #[serde(rename = "raid-5")]
    Raid5,
    #[serde(rename = "raid-6")]
    Raid6,
    #[serde(rename = "raid-10")]
    Raid10,
}

impl RaidLevel {
    pub const ALL: [RaidLevel; 5] = [
        RaidLevel::Raid0,
        RaidLevel::Raid1,
        RaidLevel::Raid5,
        RaidLevel::Raid6,
        RaidLevel::Raid10,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RaidLevel::Raid0 => "raid-0",
            RaidLevel::Raid1 => "raid-1",
            RaidLevel::Raid5 => "raid-5",
            RaidLevel::Raid6 => "raid-6",
            RaidLevel::Raid10 => "raid-10",
        }
    }

    /// `mdadm --level=`.
    pub fn mdadm(self) -> &'static str {
        &self.as_str()[5..]
    }

    /// MAAS's name (`raid-1`) or a bare level (`1`).
    pub fn parse(s: &str) -> Option<RaidLevel> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == s || l.mdadm() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsType {
    Ext4,
    Ext2,
    Vfat,
    Xfs,
    Swap,
}

impl FsType {
    pub fn as_str(self) -> &'static str {
        match self {
            FsType::Ext4 => "ext4",
            FsType::Ext2 => "ext2",
            FsType::Vfat => "vfat",
            FsType::Xfs => "xfs",
            FsType::Swap => "swap",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ext4" => Some(FsType::Ext4),
            "ext2" => Some(FsType::Ext2),
            "vfat" | "fat32" => Some(FsType::Vfat),
            "xfs" => Some(FsType::Xfs),
            "swap" => Some(FsType::Swap),
            _ => None,
        }
    }
}

/// The steps of a deployment, as the agent reports them (the failure reason starts with the
/// step's name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeployStep {
    Config,
    Storage,
    Image,
    Seed,
    Bootloader,
    Reboot,
}

impl DeployStep {
    pub fn as_str(self) -> &'static str {
        match self {
            DeployStep::Config => "config",
            DeployStep::Storage => "storage",
            DeployStep::Image => "image",
            DeployStep::Seed => "seed",
            DeployStep::Bootloader => "bootloader",
            DeployStep::Reboot => "reboot",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Vendor data

/// The region's settings that reach every installed OS through cloud-init's vendor-data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VendorSettings {
    /// `ntp_servers`: host names or addresses.
    pub ntp_servers: Vec<String>,
    /// `http_proxy` (while `enable_http_proxy`): apt's proxy.
    pub http_proxy: Option<String>,
    /// `main_archive`: the apt mirror of the installed OS.
    pub apt_mirror: Option<String>,
    /// `remote_syslog`: `host` or `host:port`, where the installed OS sends its syslog.
    pub remote_syslog: Option<String>,
    /// The package repositories (`package-repositories/`) added to the installed OS's apt
    /// sources.
    pub apt_sources: Vec<AptSource>,
    /// Pockets of the default archive that are turned off (`updates`, `security`,
    /// `backports`), as cloud-init's `disable_suites`.
    pub disable_suites: Vec<String>,
}

/// One apt source of a package repository: cloud-init's `apt: sources: NAME:` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSource {
    pub name: String,
    /// A `deb …` line (`$RELEASE` is the installed release).
    pub source: String,
    /// An ASCII-armoured signing key.
    pub key: Option<String>,
}

/// The apt sources of a package repository: one `deb [arch=…] URL DIST COMPONENTS` line per
/// distribution (`$RELEASE`, the installed release, when none is named), named NAME, NAME-2, …
pub fn apt_sources_of(
    name: &str,
    url: &str,
    distributions: &[String],
    components: &[String],
    arches: &[String],
    key: Option<&str>,
) -> Vec<AptSource> {
    let release = ["$RELEASE".to_string()];
    let dists = if distributions.is_empty() {
        &release[..]
    } else {
        distributions
    };
    let arch = if arches.is_empty() {
        String::new()
    } else {
        format!("[arch={}] ", arches.join(","))
    };
    let comps = if components.is_empty() {
        "main".to_string()
    } else {
        components.join(" ")
    };
    dists
        .iter()
        .enumerate()
        .map(|(i, d)| AptSource {
            name: if i == 0 {
                name.to_string()
            } else {
                format!("{name}-{}", i + 1)
            },
            source: format!("deb {arch}{url} {d} {comps}"),
            key: key.map(str::to_string).filter(|k| !k.trim().is_empty()),
        })
        .collect()
}

/// `#cloud-config` vendor-data for these settings (JSON, which is YAML too); None when they
/// ask for nothing.
pub fn render_vendor_data(v: &VendorSettings) -> Option<String> {
    let mut cc = Map::new();
    if !v.ntp_servers.is_empty() {
        cc.insert(
            "ntp".into(),
            json!({ "enabled": true, "servers": v.ntp_servers }),
        );
    }
    let mut apt = Map::new();
    if let Some(p) = &v.http_proxy {
        apt.insert("proxy".into(), json!(p));
    }
    if let Some(m) = &v.apt_mirror {
        apt.insert(
            "primary".into(),
            json!([{ "arches": ["default"], "uri": m }]),
        );
    }
    if !v.disable_suites.is_empty() {
        apt.insert("disable_suites".into(), json!(v.disable_suites));
    }
    if !v.apt_sources.is_empty() {
        let mut sources = Map::new();
        for a in &v.apt_sources {
            let mut e = Map::new();
            e.insert("source".into(), json!(a.source));
            if let Some(k) = &a.key {
                e.insert("key".into(), json!(k));
            }
            sources.insert(a.name.clone(), Value::Object(e));
        }
        apt.insert("sources".into(), Value::Object(sources));
    }
    if !apt.is_empty() {
        cc.insert("apt".into(), Value::Object(apt));
    }
    if let Some(r) = &v.remote_syslog {
        cc.insert("rsyslog".into(), json!({ "remotes": { "maas": r } }));
    }
    if cc.is_empty() {
        return None;
    }
    let body = serde_json::to_string_pretty(&Value::Object(cc)).unwrap_or_default();
    Some(format!("#cloud-config\n{body}\n"))
}

/// The NTP servers a machine is given (MAAS's `ntp_external_only`): with external-only, the
/// `ntp_servers` alone; otherwise those, or, when there are none, the region or rack the
/// machine reaches Ingot through (`via_host`).
pub fn machine_ntp_servers(
    ntp_servers: Vec<String>,
    external_only: bool,
    via_host: Option<&str>,
) -> Vec<String> {
    if external_only || !ntp_servers.is_empty() {
        ntp_servers
    } else {
        via_host.map(str::to_string).into_iter().collect()
    }
}

/// The host of an `http(s)://[user@]host[:port]/...` URL (an IPv6 address without brackets).
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    Some(host).filter(|h| is_host(h))
}

/// `ntp_servers` as MAAS takes it: names or addresses separated by spaces or commas.
pub fn parse_ntp_servers(text: &str) -> Result<Vec<String>, String> {
    let servers: Vec<String> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    for s in &servers {
        if !is_host(s) {
            return Err(format!("'{s}' is not a host name or an IP address."));
        }
    }
    Ok(servers)
}

/// `remote_syslog`: `host` or `host:port` (an IPv6 address in brackets with a port).
pub fn check_remote_syslog(text: &str) -> Result<(), String> {
    let bad = || format!("'{text}' is not host or host:port.");
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => {
            let (h, p) = rest.split_once(']').ok_or_else(bad)?;
            (h, p.strip_prefix(':'))
        }
        None => match text.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            _ => (text, None),
        },
    };
    if !is_host(host) || port.is_some_and(|p| !p.parse::<u16>().is_ok_and(|n| n > 0)) {
        return Err(bad());
    }
    Ok(())
}

/// `http_proxy` / `main_archive`: an http or https URL with a host.
pub fn check_http_url(text: &str) -> Result<(), String> {
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .ok_or_else(|| format!("'{text}' is not an http:// or https:// URL."))?;
    let authority = rest.split('/').next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    if !is_host(host) {
        return Err(format!("'{text}' has no host."));
    }
    Ok(())
}

pub(crate) fn is_host(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
        || (!s.is_empty()
            && s.len() <= 253
            && s.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }))
}

// ---------------------------------------------------------------------------------------------
// Network configuration

/// One interface of the machine, as the network configuration needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetIface {
    pub name: String,
    pub mac: String,
    pub kind: NetKind,
    pub mtu: Option<u32>,
    pub links: Vec<NetLink>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetKind {
    Physical,
    /// A bond over the named interfaces, with its mode (`balance-rr`, `active-backup`,
    /// `802.3ad`, …).
    Bond {
        parents: Vec<String>,
        mode: String,
    },
    /// A VLAN on the named interface.
    Vlan {
        parent: String,
        vid: u16,
    },
    /// A bridge over the named interfaces.
    Bridge {
        parents: Vec<String>,
        stp: bool,
        forward_delay: Option<u32>,
    },
}

/// How an interface is configured on one subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetLink {
    Dhcp,
    /// A fixed address with the subnet's prefix length; `gateway` when this link holds the
    /// default route; DNS servers of the subnet.
    Static {
        address: String,
        prefix: u8,
        gateway: Option<String>,
        dns: Vec<String>,
        /// DNS search domains (the machine's domain first).
        search: Vec<String>,
        /// Static routes whose source is this link's subnet (MAAS `static-routes/`).
        routes: Vec<Route>,
    },
    /// Up, no address.
    LinkUp,
}

/// A static route: to `to` (a CIDR) through `via`, with `metric`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub to: String,
    pub via: String,
    pub metric: u32,
}

/// cloud-init network-config version 2 for these interfaces, as JSON text (valid YAML).
/// Physical interfaces are matched by MAC and renamed to their Ingot name.
pub fn render_network_config(ifaces: &[NetIface]) -> String {
    let mut ethernets = Map::new();
    let mut bonds = Map::new();
    let mut vlans = Map::new();
    let mut bridges = Map::new();
    for iface in ifaces {
        let mut o = Map::new();
        if let Some(mtu) = iface.mtu {
            o.insert("mtu".into(), json!(mtu));
        }
        let mut addresses = Vec::new();
        let mut routes = Vec::new();
        let mut dns: Vec<String> = Vec::new();
        let mut domains: Vec<String> = Vec::new();
        let add = |list: &mut Vec<String>, items: &[String]| {
            for x in items {
                if !list.contains(x) {
                    list.push(x.clone());
                }
            }
        };
        for link in &iface.links {
            match link {
                NetLink::Dhcp => {
                    o.insert("dhcp4".into(), json!(true));
                }
                NetLink::Static {
                    address,
                    prefix,
                    gateway,
                    dns: servers,
                    search,
                    routes: extra,
                } => {
                    addresses.push(json!(format!("{address}/{prefix}")));
                    // The default route as `gateway4`/`gateway6`: cloud-init renders it as
                    // ENI's own `gateway` line (ifupdown sets it with `ip`), where a `routes`
                    // entry becomes `post-up route add …`, which needs net-tools — absent
                    // from Debian's minimal systems (found on a real Debian 12 deploy).
                    if let Some(gw) = gateway {
                        let key = if gw.contains(':') {
                            "gateway6"
                        } else {
                            "gateway4"
                        };
                        o.insert(key.into(), json!(gw));
                    }
                    for r in extra {
                        routes.push(json!({ "to": r.to, "via": r.via, "metric": r.metric }));
                    }
                    add(&mut dns, servers);
                    add(&mut domains, search);
                }
                NetLink::LinkUp => {}
            }
        }
        if !addresses.is_empty() {
            o.insert("addresses".into(), Value::Array(addresses));
        }
        if !routes.is_empty() {
            o.insert("routes".into(), Value::Array(routes));
        }
        if !dns.is_empty() || !domains.is_empty() {
            let mut ns = Map::new();
            if !dns.is_empty() {
                ns.insert("addresses".into(), json!(dns));
            }
            if !domains.is_empty() {
                ns.insert("search".into(), json!(domains));
            }
            o.insert("nameservers".into(), Value::Object(ns));
        }
        match &iface.kind {
            NetKind::Physical => {
                o.insert(
                    "match".into(),
                    json!({ "macaddress": iface.mac.to_ascii_lowercase() }),
                );
                o.insert("set-name".into(), json!(iface.name));
                ethernets.insert(iface.name.clone(), Value::Object(o));
            }
            NetKind::Bond { parents, mode } => {
                o.insert("interfaces".into(), json!(parents));
                o.insert("parameters".into(), json!({ "mode": mode }));
                o.insert("macaddress".into(), json!(iface.mac.to_ascii_lowercase()));
                bonds.insert(iface.name.clone(), Value::Object(o));
            }
            NetKind::Vlan { parent, vid } => {
                o.insert("id".into(), json!(vid));
                o.insert("link".into(), json!(parent));
                vlans.insert(iface.name.clone(), Value::Object(o));
            }
            NetKind::Bridge {
                parents,
                stp,
                forward_delay,
            } => {
                o.insert("interfaces".into(), json!(parents));
                let mut p = Map::new();
                p.insert("stp".into(), json!(stp));
                if let Some(fd) = forward_delay {
                    p.insert("forward-delay".into(), json!(fd));
                }
                o.insert("parameters".into(), Value::Object(p));
                o.insert("macaddress".into(), json!(iface.mac.to_ascii_lowercase()));
                bridges.insert(iface.name.clone(), Value::Object(o));
            }
        }
    }
    let mut net = Map::new();
    net.insert("version".into(), json!(2));
    for (key, map) in [
        ("ethernets", ethernets),
        ("bonds", bonds),
        ("vlans", vlans),
        ("bridges", bridges),
    ] {
        if !map.is_empty() {
            net.insert(key.into(), Value::Object(map));
        }
    }
    // serde_json keeps keys sorted (no preserve_order), so the text is deterministic.
    serde_json::to_string_pretty(&Value::Object(net)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_kinds_by_upload_name_and_stored_type() {
        use Compression as C;
        // (upload name, stored file type, disk image, tar, compression)
        let table = [
            ("tgz", "root-tgz", false, true, C::Gzip),
            ("tbz", "root-tbz", false, true, C::Bzip2),
            ("txz", "root-txz", false, true, C::Xz),
            ("squashfs", "squashfs", false, false, C::None),
            ("ddraw", "ddraw", true, false, C::None),
            ("ddgz", "ddgz", true, false, C::Gzip),
            ("ddbz2", "ddbz2", true, false, C::Bzip2),
            ("ddxz", "ddxz", true, false, C::Xz),
            ("ddtar", "ddtar", true, true, C::None),
            ("ddtgz", "ddtgz", true, true, C::Gzip),
            ("ddtbz", "ddtbz", true, true, C::Bzip2),
            ("ddtxz", "ddtxz", true, true, C::Xz),
        ];
        assert_eq!(table.len(), ImageKind::ALL.len());
        for (name, stored, disk, tar, comp) in table {
            let k = ImageKind::parse(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(ImageKind::parse(stored), Some(k), "{stored}");
            assert_eq!(k.as_str(), name);
            assert_eq!(k.filetype(), stored);
            assert_eq!(
                (k.is_disk(), k.is_tar(), k.compression()),
                (disk, tar, comp),
                "{name}"
            );
            // The agent's configuration names the kind by its upload name.
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::json!(name));
        }
        assert_eq!(ImageKind::parse("raw"), Some(ImageKind::Ddraw));
        for bad in ["", "zip", "root-dd", "ddqcow2", "TGZ"] {
            assert_eq!(ImageKind::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn config_round_trips_as_json() {
        let c = DeployConfig {
            system_id: "abc123".into(),
            fqdn: "web1.maas".into(),
            hostname: "web1".into(),
            image: ImageSource {
                name: "custom/ingot-test".into(),
                url: "http://10.0.0.1:5240/MAAS/boot/images/aa".into(),
                sha256: "aa".into(),
                size: 10,
                kind: ImageKind::Tgz,
            },
            storage: vec![
                StorageStep::Disk {
                    id: "disk-vda".into(),
                    serial: Some("S1".into()),
                    path: Some("/dev/vda".into()),
                    size: 8 << 30,
                    ptable: Some(PartitionTable::Msdos),
                    boot: true,
                },
                StorageStep::Partition {
                    id: "vda-part1".into(),
                    device: "disk-vda".into(),
                    number: 1,
                    size: 0,
                    flag: Some(PartitionFlag::Boot),
                },
                StorageStep::Format {
                    id: "vda-part1-fs".into(),
                    volume: "vda-part1".into(),
                    fstype: FsType::Ext4,
                    label: Some("root".into()),
                    uuid: None,
                },
                StorageStep::Mount {
                    id: "vda-part1-mount".into(),
                    format: "vda-part1-fs".into(),
                    path: "/".into(),
                    options: None,
                },
            ],
            network_config: "{}".into(),
            user_data: None,
            ssh_keys: vec![],
            reporting: Reporting {
                endpoint: "http://x/MAAS/metadata/status/abc123".into(),
                consumer_key: "c".into(),
                token_key: "k".into(),
                token_secret: "s".into(),
            },
            vendor_data: Some("#cloud-config\n{}\n".into()),
            kernel_opts: "nomodeset quiet".into(),
            special_mounts: vec![SpecialMount {
                fstype: "tmpfs".into(),
                path: "/scratch".into(),
                options: Some("size=1G".into()),
            }],
        };
        let text = serde_json::to_string(&c).unwrap();
        assert!(text.contains(r#""type":"partition""#), "{text}");
        let back: DeployConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.storage[2].id(), "vda-part1-fs");
    }

    #[test]
    fn package_repositories_as_apt_sources() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let srcs = apt_sources_of(
            "ceph",
            "http://mirror.example/ceph",
            &s(&["bookworm", "trixie"]),
            &s(&["main", "extra"]),
            &s(&["amd64", "arm64"]),
            Some("-----BEGIN PGP PUBLIC KEY BLOCK-----"),
        );
        assert_eq!(
            srcs.iter()
                .map(|a| (a.name.as_str(), a.source.as_str()))
                .collect::<Vec<_>>(),
            vec![
                (
                    "ceph",
                    "deb [arch=amd64,arm64] http://mirror.example/ceph bookworm main extra"
                ),
                (
                    "ceph-2",
                    "deb [arch=amd64,arm64] http://mirror.example/ceph trixie main extra"
                ),
            ]
        );
        let plain = apt_sources_of("x", "http://r/", &[], &[], &[], Some(" "));
        assert_eq!(plain[0].source, "deb http://r/ $RELEASE main");
        assert_eq!(plain[0].key, None);
        let v = VendorSettings {
            apt_sources: srcs,
            disable_suites: s(&["backports"]),
            ..Default::default()
        };
        let text = render_vendor_data(&v).unwrap();
        let cc: Value = serde_json::from_str(text.split_once('\n').unwrap().1).unwrap();
        assert_eq!(cc["apt"]["disable_suites"], json!(["backports"]));
        assert_eq!(
            cc["apt"]["sources"]["ceph-2"]["source"],
            "deb [arch=amd64,arm64] http://mirror.example/ceph trixie main extra"
        );
        assert_eq!(
            cc["apt"]["sources"]["ceph"]["key"],
            "-----BEGIN PGP PUBLIC KEY BLOCK-----"
        );
    }

    #[test]
    fn vendor_data_from_settings() {
        assert_eq!(render_vendor_data(&VendorSettings::default()), None);
        let v = VendorSettings {
            ntp_servers: vec!["ntp1.example.com".into(), "10.0.0.5".into()],
            http_proxy: Some("http://proxy.example.com:3128/".into()),
            apt_mirror: Some("http://mirror.example.com/debian".into()),
            remote_syslog: Some("10.0.0.9:514".into()),
            ..Default::default()
        };
        let text = render_vendor_data(&v).unwrap();
        let (first, body) = text.split_once('\n').unwrap();
        assert_eq!(first, "#cloud-config");
        let cc: Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            cc["ntp"]["servers"],
            json!(["ntp1.example.com", "10.0.0.5"])
        );
        assert_eq!(cc["ntp"]["enabled"], true);
        assert_eq!(cc["apt"]["proxy"], "http://proxy.example.com:3128/");
        assert_eq!(
            cc["apt"]["primary"][0]["uri"],
            "http://mirror.example.com/debian"
        );
        assert_eq!(cc["apt"]["primary"][0]["arches"], json!(["default"]));
        assert_eq!(cc["rsyslog"]["remotes"]["maas"], "10.0.0.9:514");
        let only_proxy = VendorSettings {
            http_proxy: Some("http://p:8000/".into()),
            ..Default::default()
        };
        let cc: Value = serde_json::from_str(
            render_vendor_data(&only_proxy)
                .unwrap()
                .trim_start_matches("#cloud-config\n"),
        )
        .unwrap();
        assert_eq!(cc, json!({"apt": {"proxy": "http://p:8000/"}}));
    }

    #[test]
    fn ntp_servers_a_machine_gets() {
        // (ntp_servers, ntp_external_only, region/rack host) -> servers
        type Case<'a> = (&'a [&'a str], bool, Option<&'a str>, &'a [&'a str]);
        let table: &[Case] = &[
            (
                &["ntp.example.com"],
                false,
                Some("10.0.0.1"),
                &["ntp.example.com"],
            ),
            (
                &["ntp.example.com"],
                true,
                Some("10.0.0.1"),
                &["ntp.example.com"],
            ),
            (&[], false, Some("10.0.0.1"), &["10.0.0.1"]),
            (&[], true, Some("10.0.0.1"), &[]),
            (&[], false, None, &[]),
        ];
        for (servers, only, via, want) in table {
            let given = servers.iter().map(|s| s.to_string()).collect();
            assert_eq!(
                machine_ntp_servers(given, *only, *via),
                *want,
                "{servers:?} {only} {via:?}"
            );
        }
        for (url, want) in [
            ("http://10.0.0.1:5240/MAAS", Some("10.0.0.1")),
            ("http://[fe80::1]:5240", Some("fe80::1")),
            ("https://region.example/MAAS", Some("region.example")),
            ("http://:5240/", None),
        ] {
            assert_eq!(url_host(url), want, "{url}");
        }
    }

    #[test]
    fn vendor_settings_are_checked() {
        // (input, accepted)
        let ntp: &[(&str, Option<&[&str]>)] = &[
            ("", Some(&[])),
            ("ntp.example.com", Some(&["ntp.example.com"])),
            (
                "a.example.com, 10.0.0.1  fe80::1",
                Some(&["a.example.com", "10.0.0.1", "fe80::1"]),
            ),
            ("bad_name", None),
            ("-lead.example.com", None),
        ];
        for (text, want) in ntp {
            let got = parse_ntp_servers(text);
            match want {
                Some(w) => assert_eq!(
                    got.unwrap(),
                    w.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                    "{text}"
                ),
                None => assert!(got.is_err(), "{text}"),
            }
        }
        for (text, ok) in [
            ("10.0.0.9", true),
            ("10.0.0.9:514", true),
            ("syslog.example.com:5514", true),
            ("[fe80::1]:514", true),
            ("fe80::1", true),
            ("host:0", false),
            ("host:99999", false),
            ("", false),
            ("a b", false),
        ] {
            assert_eq!(check_remote_syslog(text).is_ok(), ok, "{text}");
        }
        for (text, ok) in [
            ("http://proxy:3128/", true),
            ("https://user:pw@mirror.example.com/debian", true),
            ("http://[fe80::1]:8000/", true),
            ("ftp://mirror/", false),
            ("http://", false),
            ("mirror.example.com", false),
        ] {
            assert_eq!(check_http_url(text).is_ok(), ok, "{text}");
        }
    }

    #[test]
    fn network_config_v2() {
        let ifaces = vec![
            NetIface {
                name: "eth0".into(),
                mac: "52:54:00:AA:BB:01".into(),
                kind: NetKind::Physical,
                mtu: None,
                links: vec![NetLink::Static {
                    address: "10.0.0.5".into(),
                    prefix: 24,
                    gateway: Some("10.0.0.1".into()),
                    dns: vec!["10.0.0.2".into()],
                    search: vec!["maas".into(), "example.com".into()],
                    routes: vec![Route {
                        to: "172.16.0.0/16".into(),
                        via: "10.0.0.254".into(),
                        metric: 50,
                    }],
                }],
            },
            NetIface {
                name: "eth1".into(),
                mac: "52:54:00:aa:bb:02".into(),
                kind: NetKind::Physical,
                mtu: Some(9000),
                links: vec![NetLink::LinkUp],
            },
            NetIface {
                name: "eth1.20".into(),
                mac: "52:54:00:aa:bb:02".into(),
                kind: NetKind::Vlan {
                    parent: "eth1".into(),
                    vid: 20,
                },
                mtu: None,
                links: vec![NetLink::Dhcp],
            },
        ];
        let v: Value = serde_json::from_str(&render_network_config(&ifaces)).unwrap();
        assert_eq!(v["version"], 2);
        let e0 = &v["ethernets"]["eth0"];
        assert_eq!(e0["match"]["macaddress"], "52:54:00:aa:bb:01");
        assert_eq!(e0["set-name"], "eth0");
        assert_eq!(e0["addresses"][0], "10.0.0.5/24");
        assert_eq!(e0["gateway4"], "10.0.0.1");
        assert_eq!(e0["routes"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            e0["routes"][0],
            json!({"to": "172.16.0.0/16", "via": "10.0.0.254", "metric": 50})
        );
        assert_eq!(e0["nameservers"]["addresses"][0], "10.0.0.2");
        assert_eq!(e0["nameservers"]["search"], json!(["maas", "example.com"]));
        assert_eq!(v["ethernets"]["eth1"]["mtu"], 9000);
        assert!(v["ethernets"]["eth1"].get("addresses").is_none());
        assert_eq!(v["vlans"]["eth1.20"]["id"], 20);
        assert_eq!(v["vlans"]["eth1.20"]["link"], "eth1");
        assert_eq!(v["vlans"]["eth1.20"]["dhcp4"], true);
        assert!(v.get("bonds").is_none());
    }
}
