//! Hardware inventory: the machine-resources JSON (LXD resources format) → machine fields
//! (spec §6). Pure: no IO, no database; the caller upserts what [`derive()`] returns.
//!
//! # API
//! * [`derive()`]`(&[u8]) -> Result<`[`Inventory`]`, `[`InventoryError`]`>` and [`derive_value`] for an
//!   already parsed [`serde_json::Value`]. Both accept either
//!   - the full machine-resources document (top-level `api_version`, `api_extensions`,
//!     `environment`, `resources`, optional `networks`, `storage-extra`, `machine-extra`), validated
//!     per §6.1 (`api_version` "1.0" and the required extensions [`REQUIRED_API_EXTENSIONS`]); or
//!   - a bare LXD `/1.0/resources` object (top-level `cpu`, `memory`, …), as `lxc query
//!     /1.0/resources` prints it. Then there is no environment (no architecture, os, hostname) and
//!     no `networks` (no logical interfaces, `enabled` is `None`).
//!
//!   A document is "full" when it has any of `resources`, `api_version`, `api_extensions`,
//!   `environment` at the top level.
//! * [`parse_networks`]: the `networks` section alone, as MAAS's `parse_lxd_networks`.
//! * [`boot_interface_mac`]: the `BOOTIF=` MAC of a kernel command line (maas-kernel-cmdline hook).
//! * [`merge_architecture`]: §6.2's "keep the more specific existing subarchitecture" rule, which
//!   needs the machine's current value and so is left to the caller.
//!
//! # Errors
//! Malformed JSON → [`InventoryError::Json`]. A required part missing or a value of the wrong type
//! → [`InventoryError::Invalid`] naming the path, e.g. `resources.cpu.total: expected a
//! non-negative integer, found the string "8"` or `networks["bond0.1"].vlan.vid: missing`.
//! Unknown fields are ignored; a JSON `null` counts as absent for optional fields. Blocks LXD may
//! omit (`gpu`, `usb`, `pci`, `system`, `network`, `storage`, `memory.nodes`, socket/core lists,
//! `sriov`) are optional. Required: `resources.cpu.total`, `resources.memory.total`, each disk's
//! `id` and `size`, each port's `id`, each thread's `id`, each memory node's `numa_node`, PCI
//! devices' `pci_address`/`vendor_id`/`product_id`, USB devices' bus/device address and ids, and
//! (full document) `environment.kernel_architecture`.
//!
//! # Where this deliberately differs from (or narrows) MAAS, and what is left to the caller
//! * Block devices: MAAS applies the "≤ 4 MiB" and "`/dev/loop`" skips only when *creating* a
//!   device (an existing device matched by serial/id_path is updated even if it shrank to 0 bytes);
//!   without the database this module skips them always. Matching existing devices, deletion of
//!   vanished ones, the storage layout, `skip_storage`: caller. Disks whose id starts with
//!   `bcache` are skipped as §6.5 says.
//! * `cpu_model` is its own field; MAAS stores it as NodeMetadata `cpu_model` (caller), so
//!   [`Inventory::metadata`] holds only the §6.7 SMBIOS keys.
//! * Interfaces: every card port (and SR-IOV VF port, `is_vf = true`) is listed; the caller drops
//!   VFs for DEPLOYED machines. When `networks` is present MAAS only models ports that also appear
//!   there: such ports have `enabled = Some(..)`, ports absent from `networks` have `None`.
//!   Broadcast entries of `networks` without a card port (container NICs) are listed as physical
//!   interfaces with the `hwaddr` MAC and no hardware details. Duplicate MACs collapse to one
//!   entry (first position, last values), like MAAS's MAC-keyed dict. A hardware address longer
//!   than 17 characters (IP-over-InfiniBand, 20 bytes) or equal to the OpenBMC MAC is skipped; any
//!   other address that is not a MAC is an error. A `supported_modes` entry without a numeric
//!   prefix is ignored (MAAS would raise).
//! * `networks`: logical parents are restricted to names present in `networks` (MAAS's dependency
//!   rule); a dependency cycle is an error. Interfaces carry only `global` scope addresses (what
//!   MAAS links); [`parse_networks`] keeps everything but `link` scope, like `parse_lxd_networks`.
//! * Hugepages are reported per NUMA node; MAAS records them only for DEPLOYED machines (caller).
//! * `hardware_uuid` collisions with other machines, VLAN guessing, the `acquired` flag, OS only
//!   when not commissioning: caller.
//! * Architecture: §6.2's table plus `armv7l`/`armv8l` → `armhf` and `riscv64` (Ingot knows them);
//!   an unknown kernel architecture is an error (MAAS raises too).
//! * Multipath: the LUN patterns are MAAS's, keyed by the *third* `-` field of `device_path`.
//!   A plain by-path iSCSI name (`ip-<addr>:<port>-iscsi-<iqn>-lun-<n>`) therefore has protocol
//!   `iscsi`, which MAAS's table does not list, and is not condensed (same as MAAS).
//! * The average-frequency fallback for `cpu_speed` rounds half to even (Python's `round`).
//! * USB `driver` is the sorted, de-duplicated interface drivers joined with ", " (MAAS joins a
//!   Python set, whose order is arbitrary).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Extensions the full document must list (§6.1).
pub const REQUIRED_API_EXTENSIONS: &[&str] = &[
    "api_os",
    "resources",
    "resources_system",
    "resources_usb_pci",
    "resources_v2",
];
/// The hard-coded MAC every OpenBMC switch management interface shares; never modelled.
pub const OPENBMC_MAC: &str = "02:00:00:00:00:02";
/// New block devices of this size or smaller are not modelled (4 MiB).
pub const MIN_BLOCK_DEVICE_SIZE: u64 = 4 * 1024 * 1024;
/// The fallback boot disk must be at least this large (512 MiB).
pub const MIN_BOOT_DISK_SIZE: u64 = 512 * 1024 * 1024;

const MIB: u64 = 1024 * 1024;

/// Why a document could not be turned into an [`Inventory`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    /// Not JSON (truncated, bad syntax, too deeply nested).
    #[error("invalid JSON data: {0}")]
    Json(String),
    /// A required part is missing, has the wrong type or an unacceptable value.
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// Everything the machine-resources document says about a machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    /// `<debian arch>/generic`, or `<debian arch>/<machine-extra.platform>`; `None` without an
    /// `environment` (bare resources object).
    pub architecture: Option<String>,
    /// `environment.server_name` (MAAS sets it as hostname on controllers).
    pub hostname: Option<String>,
    /// From `environment.os_name`/`os_version` when both are non-empty.
    pub os: Option<OsRelease>,
    /// Threads (`resources.cpu.total`).
    pub cpu_count: u64,
    /// MHz (§6.3).
    pub cpu_speed: u64,
    /// Stored by MAAS as NodeMetadata `cpu_model`.
    pub cpu_model: Option<String>,
    /// MiB, floor.
    pub memory: u64,
    /// Sorted by index (indices can be sparse).
    pub numa_nodes: Vec<NumaNode>,
    /// Physical block devices after condensation and skips, sorted by name.
    pub block_devices: Vec<BlockDevice>,
    /// Name of the fallback boot disk: first block device of at least 512 MiB.
    pub boot_disk: Option<String>,
    /// Sum of block device sizes in MB (bytes / 1e6), as MAAS shows `storage`.
    pub storage: f64,
    /// Physical interfaces: card ports and VF ports in card order, then `networks`-only ones.
    pub interfaces: Vec<Interface>,
    /// Bonds, bridges and VLANs from `networks`, parents first.
    pub logical_interfaces: Vec<LogicalInterface>,
    /// Lower-case, dashed; `None` when `system.uuid` is absent or not a UUID.
    pub hardware_uuid: Option<String>,
    /// §6.7 keys (system_*, mainboard_*, mainboard_firmware_*, chassis_*); placeholders omitted.
    pub metadata: BTreeMap<String, String>,
    /// `system.type` is non-empty and not "physical" (MAAS tag `virtual`).
    pub is_virtual: bool,
    pub pci_devices: Vec<PciDevice>,
    pub usb_devices: Vec<UsbDevice>,
    /// `storage-extra` verbatim (custom storage layout, applied by the caller).
    pub storage_extra: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsRelease {
    /// `os_name` lower-cased, e.g. "ubuntu".
    pub osystem: String,
    /// `os_version` lower-cased; for Ubuntu mapped to the codename when known (20.04 → focal).
    pub distro_series: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumaNode {
    pub index: u64,
    /// MiB, floor.
    pub memory: u64,
    /// Thread ids in document order.
    pub cores: Vec<u64>,
    /// `memory.hugepages_size` in bytes (0 when unknown).
    pub hugepages_size: u64,
    /// The node's `hugepages_total` as reported.
    pub hugepages_total: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockDevice {
    /// Kernel name (`sda`, `nvme0n1`).
    pub name: String,
    /// `/dev/disk/by-id/<device_id>` when both device_id and serial are known, else `/dev/<name>`.
    pub id_path: String,
    pub model: String,
    pub serial: String,
    /// Bytes.
    pub size: u64,
    /// Bytes; 0 is reported as 512.
    pub block_size: u64,
    pub firmware_version: Option<String>,
    pub numa_node: u64,
    pub tags: Vec<String>,
    pub pci_address: Option<String>,
    pub usb_address: Option<String>,
    /// Several paths to the same LUN were condensed into this device.
    pub multipath: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    pub name: String,
    /// Normalised lower-case colon form.
    pub mac: String,
    /// Port `link_detected`, and the `networks` state "up" when the interface is listed there.
    pub link_connected: bool,
    /// Mbit/s: the fastest supported mode.
    pub interface_speed: u64,
    /// Mbit/s: the current link speed (0 when unknown).
    pub link_speed: u64,
    pub numa_node: u64,
    pub vendor: Option<String>,
    pub product: Option<String>,
    pub vendor_id: Option<String>,
    pub product_id: Option<String>,
    pub driver: Option<String>,
    pub firmware_version: Option<String>,
    pub sriov_max_vf: u64,
    pub pci_address: Option<String>,
    pub usb_address: Option<String>,
    /// `["sriov"]` when `sriov_max_vf > 0`.
    pub tags: Vec<String>,
    /// An SR-IOV virtual function (not modelled on DEPLOYED machines).
    pub is_vf: bool,
    /// `networks` state == "up"; `None` when the interface is not in `networks`.
    pub enabled: Option<bool>,
    /// Global-scope addresses from `networks`, as `address/prefix`.
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogicalKind {
    Bond,
    Bridge,
    Vlan,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogicalInterface {
    pub name: String,
    pub kind: LogicalKind,
    pub mac: String,
    /// Bond lower devices, bridge ports, or the VLAN's lower device (only names in `networks`).
    pub parents: Vec<String>,
    /// VLAN id (VLANs only).
    pub vid: Option<u64>,
    pub enabled: bool,
    /// Global-scope addresses, `address/prefix`.
    pub addresses: Vec<String>,
}

/// One entry of [`parse_networks`] (MAAS `parse_lxd_networks`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    /// LXD `type` ("broadcast", "loopback", …), or "bond" / "bridge" / "vlan".
    pub kind: String,
    /// `hwaddr` as given ("" for loopback).
    pub mac: String,
    /// state == "up".
    pub enabled: bool,
    /// `address/netmask` of every address whose scope is not "link".
    pub addresses: Vec<String>,
    pub parents: Vec<String>,
    pub vid: Option<u64>,
}

/// What a PCI/USB device is linked to (MAAS `hardware_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HardwareType {
    Node,
    Storage,
    Network,
    Gpu,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PciDevice {
    pub pci_address: String,
    pub vendor_id: String,
    pub product_id: String,
    pub vendor: Option<String>,
    pub product: Option<String>,
    pub driver: Option<String>,
    pub numa_node: u64,
    /// Network when an interface has this address, else storage when a block device has it,
    /// else gpu when a GPU card has it, else node.
    pub hardware_type: HardwareType,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsbDevice {
    /// `<bus_address>:<device_address>`.
    pub usb_address: String,
    pub bus_address: u64,
    pub device_address: u64,
    pub vendor_id: String,
    pub product_id: String,
    pub vendor: Option<String>,
    pub product: Option<String>,
    /// The interfaces' drivers, sorted, de-duplicated, joined with ", ".
    pub driver: Option<String>,
    /// LXD does not map USB devices to NUMA nodes: always 0.
    pub numa_node: u64,
    pub hardware_type: HardwareType,
}

// ------------------------------------------------------------------------------------------------
// Paths and typed access to a serde_json::Value

/// A location in the document, built on the stack and rendered only for error messages.
#[derive(Clone, Copy)]
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    seg: Seg<'a>,
}

#[derive(Clone, Copy)]
enum Seg<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

impl<'a> Path<'a> {
    const ROOT: Path<'static> = Path {
        parent: None,
        seg: Seg::Root,
    };

    fn key<'b>(&'b self, k: &'b str) -> Path<'b> {
        Path {
            parent: Some(self),
            seg: Seg::Key(k),
        }
    }

    fn at(&self, i: usize) -> Path<'_> {
        Path {
            parent: Some(self),
            seg: Seg::Index(i),
        }
    }

    fn render(&self) -> String {
        let mut segs = Vec::new();
        let mut cur = Some(self);
        while let Some(p) = cur {
            segs.push(p.seg);
            cur = p.parent;
        }
        let mut out = String::new();
        for seg in segs.iter().rev() {
            match seg {
                Seg::Root => {}
                Seg::Key(k)
                    if !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
                {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Seg::Key(k) => out.push_str(&format!("[{k:?}]")),
                Seg::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        if out.is_empty() {
            "document".into()
        } else {
            out
        }
    }

    fn err(&self, message: impl Into<String>) -> InventoryError {
        InventoryError::Invalid {
            path: self.render(),
            message: message.into(),
        }
    }
}

type Res<T> = Result<T, InventoryError>;
type Obj = Map<String, Value>;

fn found(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let short: String = s.chars().take(40).collect();
            if short.len() < s.len() {
                format!("the string {short:?}…")
            } else {
                format!("the string {short:?}")
            }
        }
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn expected(p: &Path<'_>, what: &str, v: &Value) -> InventoryError {
    p.err(format!("expected {what}, found {}", found(v)))
}

fn as_obj<'v>(v: &'v Value, p: &Path<'_>) -> Res<&'v Obj> {
    v.as_object().ok_or_else(|| expected(p, "an object", v))
}

fn as_arr<'v>(v: &'v Value, p: &Path<'_>) -> Res<&'v [Value]> {
    v.as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| expected(p, "an array", v))
}

fn as_u64(v: &Value, p: &Path<'_>) -> Res<u64> {
    v.as_u64()
        .ok_or_else(|| expected(p, "a non-negative integer", v))
}

fn as_str<'v>(v: &'v Value, p: &Path<'_>) -> Res<&'v str> {
    v.as_str().ok_or_else(|| expected(p, "a string", v))
}

fn as_bool(v: &Value, p: &Path<'_>) -> Res<bool> {
    v.as_bool().ok_or_else(|| expected(p, "a boolean", v))
}

/// A present, non-null field.
fn field<'v>(o: &'v Obj, k: &str) -> Option<&'v Value> {
    o.get(k).filter(|v| !v.is_null())
}

fn required<'v>(o: &'v Obj, k: &str, p: &Path<'_>) -> Res<&'v Value> {
    o.get(k).ok_or_else(|| p.key(k).err("missing"))
}

fn req_u64(o: &Obj, k: &str, p: &Path<'_>) -> Res<u64> {
    as_u64(required(o, k, p)?, &p.key(k))
}

fn req_str<'v>(o: &'v Obj, k: &str, p: &Path<'_>) -> Res<&'v str> {
    as_str(required(o, k, p)?, &p.key(k))
}

fn opt_u64(o: &Obj, k: &str, p: &Path<'_>) -> Res<Option<u64>> {
    field(o, k).map(|v| as_u64(v, &p.key(k))).transpose()
}

fn opt_str<'v>(o: &'v Obj, k: &str, p: &Path<'_>) -> Res<Option<&'v str>> {
    field(o, k).map(|v| as_str(v, &p.key(k))).transpose()
}

fn opt_string(o: &Obj, k: &str, p: &Path<'_>) -> Res<Option<String>> {
    Ok(opt_str(o, k, p)?.map(str::to_owned))
}

fn opt_bool(o: &Obj, k: &str, p: &Path<'_>) -> Res<Option<bool>> {
    field(o, k).map(|v| as_bool(v, &p.key(k))).transpose()
}

/// A list that may be absent or null (then empty).
fn opt_arr<'v>(o: &'v Obj, k: &str, p: &Path<'_>) -> Res<&'v [Value]> {
    match field(o, k) {
        Some(v) => as_arr(v, &p.key(k)),
        None => Ok(&[]),
    }
}

fn opt_obj<'v>(o: &'v Obj, k: &str, p: &Path<'_>) -> Res<Option<&'v Obj>> {
    field(o, k).map(|v| as_obj(v, &p.key(k))).transpose()
}

// ------------------------------------------------------------------------------------------------
// Entry points

/// Parse and derive. See the module documentation for the accepted shapes.
pub fn derive(doc: &[u8]) -> Result<Inventory, InventoryError> {
    let v: Value = serde_json::from_slice(doc).map_err(|e| InventoryError::Json(e.to_string()))?;
    derive_value(&v)
}

/// [`derive()`] for an already parsed document.
pub fn derive_value(doc: &Value) -> Result<Inventory, InventoryError> {
    let root = Path::ROOT;
    let top = as_obj(doc, &root)?;
    let full = ["resources", "api_version", "api_extensions", "environment"]
        .iter()
        .any(|k| top.contains_key(*k));
    if !full {
        if !top.contains_key("cpu") {
            return Err(root.err(
                "neither a machine-resources document (no \"resources\") \
                 nor an LXD resources object (no \"cpu\")",
            ));
        }
        return derive_resources(top, &root, None, None);
    }

    check_api(top, &root)?;

    let env_p = root.key("environment");
    let env = as_obj(required(top, "environment", &root)?, &env_p)?;
    let mut envinfo = parse_environment(env, &env_p)?;
    let extra_p = root.key("machine-extra");
    if let Some(extra) = opt_obj(top, "machine-extra", &root)? {
        if let Some(platform) = opt_str(extra, "platform", &extra_p)? {
            let arch = envinfo.architecture.split('/').next().unwrap_or_default();
            envinfo.architecture = format!("{arch}/{platform}");
        }
    }

    let net_p = root.key("networks");
    let networks = field(top, "networks")
        .map(|v| net_entries(v, &net_p))
        .transpose()?;

    let res_p = root.key("resources");
    let res = as_obj(required(top, "resources", &root)?, &res_p)?;
    let mut inv = derive_resources(res, &res_p, networks.as_ref(), Some(&net_p))?;
    inv.architecture = Some(envinfo.architecture);
    inv.hostname = envinfo.hostname;
    inv.os = envinfo.os;
    inv.storage_extra = field(top, "storage-extra").cloned();
    Ok(inv)
}

fn check_api(top: &Obj, root: &Path<'_>) -> Res<()> {
    let vp = root.key("api_version");
    match top.get("api_version") {
        None => return Err(vp.err("missing (expected \"1.0\"): data not from LXD API 1.0")),
        Some(Value::String(s)) if s == "1.0" => {}
        Some(v) => {
            return Err(vp.err(format!(
                "expected \"1.0\", found {}: data not from LXD API 1.0",
                found(v)
            )))
        }
    }
    let ep = root.key("api_extensions");
    let list = as_arr(required(top, "api_extensions", root)?, &ep)?;
    let mut have = BTreeSet::new();
    for (i, e) in list.iter().enumerate() {
        have.insert(as_str(e, &ep.at(i))?);
    }
    let missing: Vec<&str> = REQUIRED_API_EXTENSIONS
        .iter()
        .copied()
        .filter(|e| !have.contains(e))
        .collect();
    if !missing.is_empty() {
        return Err(ep.err(format!("missing required LXD API extensions {missing:?}")));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Environment (§6.2)

struct EnvInfo {
    architecture: String,
    hostname: Option<String>,
    os: Option<OsRelease>,
}

/// Kernel (`uname -m`) → Debian architecture.
pub fn debian_architecture(kernel_arch: &str) -> Option<&'static str> {
    Some(match kernel_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "i686" | "i586" | "i486" | "i386" => "i386",
        "ppc64le" => "ppc64el",
        "s390x" => "s390x",
        "mips" => "mips",
        "mips64" => "mips64el",
        "armv7l" | "armv8l" => "armhf",
        "riscv64" => "riscv64",
        _ => return None,
    })
}

/// The code name of an Ubuntu release by its version (`22.04` → `jammy`), the one table.
pub fn ubuntu_codename(version: &str) -> Option<&'static str> {
    Some(match version {
        "12.04" => "precise",
        "14.04" => "trusty",
        "16.04" => "xenial",
        "18.04" => "bionic",
        "18.10" => "cosmic",
        "19.04" => "disco",
        "19.10" => "eoan",
        "20.04" => "focal",
        "20.10" => "groovy",
        "21.04" => "hirsute",
        "21.10" => "impish",
        "22.04" => "jammy",
        "22.10" => "kinetic",
        "23.04" => "lunar",
        "23.10" => "mantic",
        "24.04" => "noble",
        "24.10" => "oracular",
        "25.04" => "plucky",
        "25.10" => "questing",
        _ => return None,
    })
}

fn parse_environment(env: &Obj, p: &Path<'_>) -> Res<EnvInfo> {
    let karch = req_str(env, "kernel_architecture", p)?;
    let arch = debian_architecture(karch).ok_or_else(|| {
        p.key("kernel_architecture")
            .err(format!("unknown kernel architecture {karch:?}"))
    })?;
    let os_name = opt_str(env, "os_name", p)?.unwrap_or_default();
    let os_version = opt_str(env, "os_version", p)?.unwrap_or_default();
    let os = (!os_name.is_empty() && !os_version.is_empty()).then(|| {
        let osystem = os_name.to_lowercase();
        let mut distro_series = os_version.to_lowercase();
        if osystem == "ubuntu" {
            if let Some(c) = ubuntu_codename(&distro_series) {
                distro_series = c.to_owned();
            }
        }
        OsRelease {
            osystem,
            distro_series,
        }
    });
    Ok(EnvInfo {
        architecture: format!("{arch}/generic"),
        hostname: opt_string(env, "server_name", p)?,
        os,
    })
}

/// §6.2: a freshly derived `arch/generic` keeps the machine's existing, more specific
/// subarchitecture when the architecture itself is unchanged.
pub fn merge_architecture(current: Option<&str>, derived: &str) -> String {
    if let (Some(cur), Some((arch, "generic"))) = (current, derived.split_once('/')) {
        if let Some((cur_arch, cur_sub)) = cur.split_once('/') {
            if cur_arch == arch && cur_sub != "generic" && !cur_sub.is_empty() {
                return cur.to_owned();
            }
        }
    }
    derived.to_owned()
}

// ------------------------------------------------------------------------------------------------
// Resources

fn derive_resources(
    res: &Obj,
    p: &Path<'_>,
    networks: Option<&Vec<(String, NetEntry)>>,
    net_p: Option<&Path<'_>>,
) -> Res<Inventory> {
    let cpu_p = p.key("cpu");
    let cpu = parse_cpu(as_obj(required(res, "cpu", p)?, &cpu_p)?, &cpu_p)?;
    let mem_p = p.key("memory");
    let mem = as_obj(required(res, "memory", p)?, &mem_p)?;
    let (memory, numa_nodes) = parse_memory(mem, &mem_p, cpu.numa_cores)?;

    let storage_p = p.key("storage");
    let block_devices = match opt_obj(res, "storage", p)? {
        Some(s) => parse_disks(opt_arr(s, "disks", &storage_p)?, &storage_p.key("disks"))?,
        None => Vec::new(),
    };
    let boot_disk = block_devices
        .iter()
        .find(|d| d.size >= MIN_BOOT_DISK_SIZE)
        .map(|d| d.name.clone());
    let total: u128 = block_devices.iter().map(|d| u128::from(d.size)).sum();
    let storage = total as f64 / 1e6;

    let network_p = p.key("network");
    let cards = match opt_obj(res, "network", p)? {
        Some(n) => opt_arr(n, "cards", &network_p)?,
        None => &[],
    };
    let net_root = Path::ROOT;
    let (interfaces, logical_interfaces) = parse_interfaces(
        cards,
        &network_p.key("cards"),
        networks.map(Vec::as_slice),
        net_p.unwrap_or(&net_root),
    )?;

    let gpu_p = p.key("gpu");
    let mut gpu_addresses = BTreeSet::new();
    if let Some(g) = opt_obj(res, "gpu", p)? {
        let cards_p = gpu_p.key("cards");
        for (i, c) in opt_arr(g, "cards", &gpu_p)?.iter().enumerate() {
            let cp = cards_p.at(i);
            let c = as_obj(c, &cp)?;
            if let Some(a) = opt_str(c, "pci_address", &cp)? {
                gpu_addresses.insert(a.to_owned());
            } else if let Some(a) = opt_str(c, "usb_address", &cp)? {
                gpu_addresses.insert(a.to_owned());
            }
        }
    }
    let linked = Linked::new(&interfaces, &block_devices, &gpu_addresses);
    let pci_devices = parse_pci(res, p, &linked)?;
    let usb_devices = parse_usb(res, p, &linked)?;

    let sys = parse_system(res, p)?;

    Ok(Inventory {
        architecture: None,
        hostname: None,
        os: None,
        cpu_count: cpu.count,
        cpu_speed: cpu.speed,
        cpu_model: cpu.model,
        memory,
        numa_nodes,
        block_devices,
        boot_disk,
        storage,
        interfaces,
        logical_interfaces,
        hardware_uuid: sys.uuid,
        metadata: sys.metadata,
        is_virtual: sys.is_virtual,
        pci_devices,
        usb_devices,
        storage_extra: None,
    })
}

// ------------------------------------------------------------------------------------------------
// CPU (§6.3)

struct CpuInfo {
    count: u64,
    speed: u64,
    model: Option<String>,
    numa_cores: BTreeMap<u64, Vec<u64>>,
}

/// `… @ 2.40GHz` at the end of a line → MHz (truncated, as `int(float(x) * 1000)`).
fn ghz_suffix(line: &str) -> Option<u64> {
    let rest = line.strip_suffix("GHz")?;
    let frac_start = rest.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let frac = &rest[frac_start..];
    let rest = rest[..frac_start].strip_suffix('.')?;
    let int_start = rest.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let int = &rest[int_start..];
    if frac.is_empty() || int.is_empty() {
        return None;
    }
    let mut before = rest[..int_start].chars().rev();
    let ws = |c: Option<char>| c.is_some_and(char::is_whitespace);
    if !(ws(before.next()) && before.next() == Some('@') && ws(before.next())) {
        return None;
    }
    let ghz: f64 = format!("{int}.{frac}").parse().ok()?;
    Some((ghz * 1000.0) as u64)
}

/// The model part of a socket name: its first non-empty line, cut before " @" if it has an "@".
fn cpu_model_of(name: &str) -> Option<String> {
    let line = name.split('\n').find(|l| !l.is_empty())?;
    let model = if line.contains('@') {
        line.split(" @").next().unwrap_or(line)
    } else {
        line
    };
    Some(model.to_owned())
}

fn parse_cpu(cpu: &Obj, p: &Path<'_>) -> Res<CpuInfo> {
    let count = req_u64(cpu, "total", p)?;
    let sockets_p = p.key("sockets");
    let sockets = opt_arr(cpu, "sockets", p)?;
    let mut names = Vec::new();
    let mut turbo_max = 0u64;
    let mut freq_sum = 0u128;
    let mut numa_cores: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (si, s) in sockets.iter().enumerate() {
        let sp = sockets_p.at(si);
        let s = as_obj(s, &sp)?;
        if let Some(n) = opt_str(s, "name", &sp)? {
            names.push(n);
        }
        turbo_max = turbo_max.max(opt_u64(s, "frequency_turbo", &sp)?.unwrap_or(0));
        freq_sum += u128::from(opt_u64(s, "frequency", &sp)?.unwrap_or(0));
        let cores_p = sp.key("cores");
        for (ci, c) in opt_arr(s, "cores", &sp)?.iter().enumerate() {
            let cp = cores_p.at(ci);
            let c = as_obj(c, &cp)?;
            let threads_p = cp.key("threads");
            for (ti, t) in opt_arr(c, "threads", &cp)?.iter().enumerate() {
                let tp = threads_p.at(ti);
                let t = as_obj(t, &tp)?;
                let id = req_u64(t, "id", &tp)?;
                let node = opt_u64(t, "numa_node", &tp)?.unwrap_or(0);
                numa_cores.entry(node).or_default().push(id);
            }
        }
    }

    let mut model = None;
    let mut speed = 0;
    if let Some(first) = names.first() {
        if names.iter().all(|n| n == first) {
            model = cpu_model_of(first);
            speed = first.split('\n').find_map(ghz_suffix).unwrap_or(0);
        }
    }
    if speed == 0 {
        if turbo_max > 0 {
            speed = turbo_max;
        } else if freq_sum > 0 {
            let avg = freq_sum as f64 / sockets.len() as f64;
            speed = ((avg / 100.0).round_ties_even() * 100.0) as u64;
        }
    }
    Ok(CpuInfo {
        count,
        speed,
        model,
        numa_cores,
    })
}

// ------------------------------------------------------------------------------------------------
// Memory and NUMA (§6.4)

fn parse_memory(
    mem: &Obj,
    p: &Path<'_>,
    numa_cores: BTreeMap<u64, Vec<u64>>,
) -> Res<(u64, Vec<NumaNode>)> {
    let total = req_u64(mem, "total", p)?;
    let hugepages_size = opt_u64(mem, "hugepages_size", p)?.unwrap_or(0);
    let mut nodes: BTreeMap<u64, NumaNode> = numa_cores
        .into_iter()
        .map(|(index, cores)| {
            let n = NumaNode {
                index,
                memory: 0,
                cores,
                hugepages_size,
                hugepages_total: 0,
            };
            (index, n)
        })
        .collect();
    let mut set = |index: u64, bytes: u64, hugepages_total: u64| {
        let n = nodes.entry(index).or_insert_with(|| NumaNode {
            index,
            memory: 0,
            cores: Vec::new(),
            hugepages_size,
            hugepages_total: 0,
        });
        n.memory = bytes / MIB;
        n.hugepages_total = hugepages_total;
    };
    match field(mem, "nodes") {
        None => set(0, total, 0),
        Some(v) => {
            let np = p.key("nodes");
            for (i, n) in as_arr(v, &np)?.iter().enumerate() {
                let ip = np.at(i);
                let n = as_obj(n, &ip)?;
                set(
                    req_u64(n, "numa_node", &ip)?,
                    opt_u64(n, "total", &ip)?.unwrap_or(0),
                    opt_u64(n, "hugepages_total", &ip)?.unwrap_or(0),
                );
            }
        }
    }
    Ok((total / MIB, nodes.into_values().collect()))
}

// ------------------------------------------------------------------------------------------------
// Block devices (§6.5)

#[derive(Debug, Clone)]
struct RawDisk {
    id: String,
    kind: String,
    read_only: bool,
    removable: bool,
    size: u64,
    rpm: u64,
    model: String,
    serial: String,
    device_id: String,
    device_path: String,
    block_size: u64,
    firmware_version: Option<String>,
    numa_node: u64,
    pci_address: Option<String>,
    usb_address: Option<String>,
    multipath: bool,
}

fn raw_disk(d: &Obj, p: &Path<'_>) -> Res<RawDisk> {
    let s = |k: &str| -> Res<String> { Ok(opt_str(d, k, p)?.unwrap_or_default().to_owned()) };
    Ok(RawDisk {
        id: req_str(d, "id", p)?.to_owned(),
        kind: s("type")?,
        read_only: opt_bool(d, "read_only", p)?.unwrap_or(false),
        removable: opt_bool(d, "removable", p)?.unwrap_or(false),
        size: req_u64(d, "size", p)?,
        rpm: opt_u64(d, "rpm", p)?.unwrap_or(0),
        model: s("model")?,
        serial: s("serial")?,
        device_id: s("device_id")?,
        device_path: s("device_path")?,
        block_size: opt_u64(d, "block_size", p)?.unwrap_or(0),
        firmware_version: opt_string(d, "firmware_version", p)?,
        numa_node: opt_u64(d, "numa_node", p)?.unwrap_or(0),
        pci_address: opt_string(d, "pci_address", p)?,
        usb_address: opt_string(d, "usb_address", p)?,
        multipath: false,
    })
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `(0x)?<hex>+`
fn is_hex_num(s: &str) -> bool {
    is_hex(s.strip_prefix("0x").filter(|r| !r.is_empty()).unwrap_or(s))
}

/// `device_path` = `<bus>-<bus_addr>-<proto>-<device>`, e.g. `pci-0000:00:1f.2-ata-1`.
fn split_device_path(path: &str) -> Option<(&str, &str, &str, &str)> {
    let mut it = path.splitn(4, '-');
    let (bus, addr, proto, device) = (it.next()?, it.next()?, it.next()?, it.next()?);
    let addr_ok = !addr.is_empty()
        && addr
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    (is_word(bus) && addr_ok && is_word(proto) && !device.contains('\n'))
        .then_some((bus, addr, proto, device))
}

/// The LUN (`lun-…`) of a multipath-capable device path tail for `proto`, if it is one.
fn multipath_lun<'d>(proto: &str, device: &'d str) -> Option<&'d str> {
    // device = <body>-lun-<(0x)?hex>
    let (head, num) = device.rsplit_once('-')?;
    let body = head.strip_suffix("-lun")?;
    if !is_hex_num(num) || body.is_empty() {
        return None;
    }
    let lun = &device[body.len() + 1..];
    let ok = match proto {
        "fc" | "vmbus" => is_word(body),
        "sas" => {
            let phy = |s: &str| s.strip_prefix("phy").is_some_and(is_hex_num);
            body.strip_prefix("0x").is_some_and(is_hex)
                || phy(body)
                || body
                    .strip_prefix("exp0x")
                    .and_then(|r| r.split_once('-'))
                    .is_some_and(|(exp, rest)| is_hex(exp) && phy(rest))
        }
        "ip" => {
            let charset = body
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | ':'));
            charset
                && body
                    .match_indices("-iscsi-")
                    .any(|(i, _)| i > 0 && i + "-iscsi-".len() < body.len())
        }
        _ => false,
    };
    ok.then_some(lun)
}

/// Step 1 of §6.5: collapse multiple paths to one LUN, fill `pci_address` from the device path,
/// sort by id.
fn condense_luns(disks: Vec<RawDisk>) -> Vec<RawDisk> {
    let mut out = Vec::with_capacity(disks.len());
    let mut groups: Vec<Vec<RawDisk>> = Vec::new();
    let mut group_of: HashMap<(String, String), usize> = HashMap::new();
    for mut d in disks {
        let Some((bus, addr, proto, device)) = split_device_path(&d.device_path) else {
            out.push(d);
            continue;
        };
        if proto == "usb" {
            out.push(d);
            continue;
        }
        if bus == "pci" && d.pci_address.is_none() {
            d.pci_address = Some(addr.to_owned());
        }
        let lun = if d.serial.is_empty() {
            None
        } else {
            multipath_lun(proto, device).map(str::to_owned)
        };
        match lun {
            Some(lun) => match group_of.get(&(d.serial.clone(), lun.clone())) {
                Some(&g) => groups[g].push(d),
                None => {
                    group_of.insert((d.serial.clone(), lun), groups.len());
                    groups.push(vec![d]);
                }
            },
            None => out.push(d),
        }
    }
    for mut paths in groups {
        paths.sort_by(|a, b| a.id.cmp(&b.id));
        let mut it = paths.into_iter();
        let Some(mut keep) = it.next() else { continue };
        for other in it {
            keep.multipath = true;
            if keep.device_id.is_empty() && !other.device_id.is_empty() {
                keep.device_id = other.device_id;
            }
        }
        out.push(keep);
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

fn disk_tags(d: &RawDisk) -> Vec<String> {
    let mut tags = Vec::new();
    if d.rpm > 0 {
        tags.push("rotary".to_owned());
        tags.push(format!("{}rpm", d.rpm));
    } else if !d.multipath {
        tags.push("ssd".to_owned());
    }
    if d.multipath {
        tags.push("multipath".to_owned());
    }
    if d.removable {
        tags.push("removable".to_owned());
    }
    if d.kind == "sata" {
        tags.push("sata".to_owned());
    }
    tags
}

fn parse_disks(disks: &[Value], p: &Path<'_>) -> Res<Vec<BlockDevice>> {
    let mut raw = Vec::with_capacity(disks.len());
    for (i, d) in disks.iter().enumerate() {
        let dp = p.at(i);
        raw.push(raw_disk(as_obj(d, &dp)?, &dp)?);
    }
    let mut out = Vec::with_capacity(raw.len());
    for d in condense_luns(raw) {
        if d.read_only || d.kind == "cdrom" || d.id.starts_with("bcache") {
            continue;
        }
        let id_path = if !d.device_id.is_empty() && !d.serial.is_empty() {
            format!("/dev/disk/by-id/{}", d.device_id)
        } else {
            format!("/dev/{}", d.id)
        };
        if d.size <= MIN_BLOCK_DEVICE_SIZE || id_path.starts_with("/dev/loop") {
            continue;
        }
        let tags = disk_tags(&d);
        out.push(BlockDevice {
            name: d.id,
            id_path,
            model: d.model,
            serial: d.serial,
            size: d.size,
            block_size: if d.block_size == 0 { 512 } else { d.block_size },
            firmware_version: d.firmware_version,
            numa_node: d.numa_node,
            tags,
            pci_address: d.pci_address,
            usb_address: d.usb_address,
            multipath: d.multipath,
        });
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------------
// Networks (§6.6)

#[derive(Debug, Clone)]
struct NetEntry {
    kind: String,
    hwaddr: String,
    enabled: bool,
    /// (`address/netmask`, scope)
    addresses: Vec<(String, String)>,
    logical: Option<LogicalKind>,
    parents: Vec<String>,
    vid: Option<u64>,
}

fn net_entry(o: &Obj, p: &Path<'_>) -> Res<NetEntry> {
    let mut addresses = Vec::new();
    let ap = p.key("addresses");
    for (i, a) in opt_arr(o, "addresses", p)?.iter().enumerate() {
        let ip = ap.at(i);
        let a = as_obj(a, &ip)?;
        let addr = req_str(a, "address", &ip)?;
        let mask_p = ip.key("netmask");
        let mask = match required(a, "netmask", &ip)? {
            Value::String(s) => s.clone(),
            Value::Number(n) if n.is_u64() => n.to_string(),
            v => return Err(expected(&mask_p, "a string", v)),
        };
        let scope = opt_str(a, "scope", &ip)?.unwrap_or_default();
        addresses.push((format!("{addr}/{mask}"), scope.to_owned()));
    }
    let names = |o: &Obj, k: &str, p: &Path<'_>| -> Res<Vec<String>> {
        let lp = p.key(k);
        opt_arr(o, k, p)?
            .iter()
            .enumerate()
            .map(|(i, v)| as_str(v, &lp.at(i)).map(str::to_owned))
            .collect()
    };
    let (bridge_p, bond_p, vlan_p) = (p.key("bridge"), p.key("bond"), p.key("vlan"));
    let (logical, parents, vid) = if let Some(b) = opt_obj(o, "bridge", p)? {
        (
            Some(LogicalKind::Bridge),
            names(b, "upper_devices", &bridge_p)?,
            None,
        )
    } else if let Some(b) = opt_obj(o, "bond", p)? {
        (
            Some(LogicalKind::Bond),
            names(b, "lower_devices", &bond_p)?,
            None,
        )
    } else if let Some(v) = opt_obj(o, "vlan", p)? {
        (
            Some(LogicalKind::Vlan),
            vec![req_str(v, "lower_device", &vlan_p)?.to_owned()],
            Some(req_u64(v, "vid", &vlan_p)?),
        )
    } else {
        (None, Vec::new(), None)
    };
    Ok(NetEntry {
        kind: req_str(o, "type", p)?.to_owned(),
        hwaddr: opt_str(o, "hwaddr", p)?.unwrap_or_default().to_owned(),
        enabled: opt_str(o, "state", p)? == Some("up"),
        addresses,
        logical,
        parents,
        vid,
    })
}

fn net_entries(v: &Value, p: &Path<'_>) -> Res<Vec<(String, NetEntry)>> {
    let o = as_obj(v, p)?;
    let mut out = Vec::with_capacity(o.len());
    for (name, e) in o {
        let ep = p.key(name);
        out.push((name.clone(), net_entry(as_obj(e, &ep)?, &ep)?));
    }
    Ok(out)
}

/// The `networks` section (LXD network state per interface) as MAAS's `parse_lxd_networks`:
/// type (overridden by bridge / bond / vlan), hwaddr, enabled = state "up", addresses without
/// link-scope ones, parents and VLAN id.
pub fn parse_networks(networks: &[u8]) -> Result<BTreeMap<String, NetworkInfo>, InventoryError> {
    let v: Value =
        serde_json::from_slice(networks).map_err(|e| InventoryError::Json(e.to_string()))?;
    Ok(net_entries(&v, &Path::ROOT)?
        .into_iter()
        .map(|(name, e)| {
            let kind = match e.logical {
                Some(LogicalKind::Bond) => "bond".to_owned(),
                Some(LogicalKind::Bridge) => "bridge".to_owned(),
                Some(LogicalKind::Vlan) => "vlan".to_owned(),
                None => e.kind,
            };
            let info = NetworkInfo {
                kind,
                mac: e.hwaddr,
                enabled: e.enabled,
                addresses: e
                    .addresses
                    .into_iter()
                    .filter(|(_, scope)| scope != "link")
                    .map(|(a, _)| a)
                    .collect(),
                parents: e.parents,
                vid: e.vid,
            };
            (name, info)
        })
        .collect())
}

/// Hardware addresses MAAS never models: IP-over-InfiniBand (longer than a MAC) and OpenBMC.
fn unmodelled_mac(addr: &str) -> bool {
    addr.len() > 17 || addr.eq_ignore_ascii_case(OPENBMC_MAC)
}

fn mac_at(addr: &str, p: &Path<'_>) -> Res<String> {
    crate::ids::normalize_mac(addr)
        .ok_or_else(|| p.err(format!("not a MAC address: {:?}", found_short(addr))))
}

fn found_short(s: &str) -> String {
    s.chars().take(40).collect()
}

fn global_addresses(e: &NetEntry) -> Vec<String> {
    e.addresses
        .iter()
        .filter(|(_, scope)| scope == "global")
        .map(|(a, _)| a.clone())
        .collect()
}

/// `supported_modes` like "10000baseKR/Full" → the fastest numeric prefix.
fn interface_speed(modes: &[Value], p: &Path<'_>) -> Res<u64> {
    let mut best = 0;
    for (i, m) in modes.iter().enumerate() {
        let m = as_str(m, &p.at(i))?;
        let prefix = m.split("base").next().unwrap_or_default();
        if let Ok(n) = prefix.parse::<u64>() {
            best = best.max(n);
        }
    }
    Ok(best)
}

/// Parents-first order (level by level, names sorted within a level), as MAAS's `sorttop`.
fn dependency_order<'n>(
    entries: &'n [(String, NetEntry)],
    p: &Path<'_>,
) -> Res<Vec<&'n (String, NetEntry)>> {
    let index: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.as_str(), i))
        .collect();
    let deps: Vec<Vec<usize>> = entries
        .iter()
        .map(|(_, e)| {
            e.parents
                .iter()
                .filter_map(|n| index.get(n.as_str()).copied())
                .collect()
        })
        .collect();
    // Kahn's algorithm, level by level: linear in entries + edges (the input is untrusted).
    let mut pending: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); entries.len()];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            children[d].push(i);
        }
    }
    let by_name = |a: &usize, b: &usize| entries[*a].0.cmp(&entries[*b].0);
    let mut level: Vec<usize> = (0..entries.len()).filter(|&i| pending[i] == 0).collect();
    let mut order = Vec::with_capacity(entries.len());
    while !level.is_empty() {
        level.sort_by(by_name);
        let mut next = Vec::new();
        for &i in &level {
            order.push(&entries[i]);
            for &c in &children[i] {
                pending[c] -= 1;
                if pending[c] == 0 {
                    next.push(c);
                }
            }
        }
        level = next;
    }
    if order.len() < entries.len() {
        let stuck: Vec<&str> = (0..entries.len())
            .filter(|&i| pending[i] > 0)
            .map(|i| entries[i].0.as_str())
            .collect();
        return Err(p.err(format!("dependency cycle among interfaces {stuck:?}")));
    }
    Ok(order)
}

fn parse_interfaces(
    cards: &[Value],
    p: &Path<'_>,
    networks: Option<&[(String, NetEntry)]>,
    net_p: &Path<'_>,
) -> Res<(Vec<Interface>, Vec<LogicalInterface>)> {
    let by_name: HashMap<&str, &NetEntry> = networks
        .unwrap_or_default()
        .iter()
        .map(|(n, e)| (n.as_str(), e))
        .collect();
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut by_mac: HashMap<String, usize> = HashMap::new();
    let mut port_names: BTreeSet<String> = BTreeSet::new();

    let mut add =
        |iface: Interface, by_mac: &mut HashMap<String, usize>| match by_mac.get(&iface.mac) {
            Some(&i) => interfaces[i] = iface,
            None => {
                by_mac.insert(iface.mac.clone(), interfaces.len());
                interfaces.push(iface);
            }
        };

    let mut read_port = |card: &Obj,
                         cp: &Path<'_>,
                         port: &Value,
                         pp: &Path<'_>,
                         is_vf: bool|
     -> Res<Option<Interface>> {
        let port = as_obj(port, pp)?;
        let name = req_str(port, "id", pp)?;
        port_names.insert(name.to_owned());
        let Some(addr) = opt_str(port, "address", pp)? else {
            return Ok(None);
        };
        if unmodelled_mac(addr) {
            return Ok(None);
        }
        let mac = mac_at(addr, &pp.key("address"))?;
        let link_detected = opt_bool(port, "link_detected", pp)?.unwrap_or(false);
        let entry = by_name.get(name);
        let sriov_max_vf = match opt_obj(card, "sriov", cp)? {
            Some(s) => opt_u64(s, "maximum_vfs", &cp.key("sriov"))?.unwrap_or(0),
            None => 0,
        };
        Ok(Some(Interface {
            name: name.to_owned(),
            mac,
            link_connected: link_detected && !matches!(entry, Some(e) if !e.enabled),
            interface_speed: interface_speed(
                opt_arr(port, "supported_modes", pp)?,
                &pp.key("supported_modes"),
            )?,
            link_speed: opt_u64(port, "link_speed", pp)?.unwrap_or(0),
            numa_node: opt_u64(card, "numa_node", cp)?.unwrap_or(0),
            vendor: opt_string(card, "vendor", cp)?,
            product: opt_string(card, "product", cp)?,
            vendor_id: opt_string(card, "vendor_id", cp)?,
            product_id: opt_string(card, "product_id", cp)?,
            driver: opt_string(card, "driver", cp)?,
            firmware_version: opt_string(card, "firmware_version", cp)?,
            sriov_max_vf,
            pci_address: opt_string(card, "pci_address", cp)?,
            usb_address: opt_string(card, "usb_address", cp)?,
            tags: if sriov_max_vf > 0 {
                vec!["sriov".to_owned()]
            } else {
                Vec::new()
            },
            is_vf,
            enabled: entry.map(|e| e.enabled),
            addresses: entry.map(|e| global_addresses(e)).unwrap_or_default(),
        }))
    };

    for (ci, card) in cards.iter().enumerate() {
        let cp = p.at(ci);
        let card = as_obj(card, &cp)?;
        let ports_p = cp.key("ports");
        for (pi, pv) in opt_arr(card, "ports", &cp)?.iter().enumerate() {
            if let Some(i) = read_port(card, &cp, pv, &ports_p.at(pi), false)? {
                add(i, &mut by_mac);
            }
        }
        let sriov_p = cp.key("sriov");
        let vfs_p = sriov_p.key("vfs");
        let vfs = match opt_obj(card, "sriov", &cp)? {
            Some(s) => opt_arr(s, "vfs", &sriov_p)?,
            None => &[],
        };
        for (vi, vf) in vfs.iter().enumerate() {
            let vp = vfs_p.at(vi);
            let vf = as_obj(vf, &vp)?;
            let vports_p = vp.key("ports");
            for (pi, pv) in opt_arr(vf, "ports", &vp)?.iter().enumerate() {
                if let Some(i) = read_port(vf, &vp, pv, &vports_p.at(pi), true)? {
                    add(i, &mut by_mac);
                }
            }
        }
    }

    let mut logical = Vec::new();
    if let Some(entries) = networks {
        for (name, e) in dependency_order(entries, net_p)? {
            if e.kind != "broadcast" || unmodelled_mac(&e.hwaddr) {
                continue;
            }
            let ep = net_p.key(name);
            match e.logical {
                Some(kind) => logical.push(LogicalInterface {
                    name: name.clone(),
                    kind,
                    mac: mac_at(&e.hwaddr, &ep.key("hwaddr"))?,
                    parents: e
                        .parents
                        .iter()
                        .filter(|n| by_name.contains_key(n.as_str()))
                        .cloned()
                        .collect(),
                    vid: e.vid,
                    enabled: e.enabled,
                    addresses: global_addresses(e),
                }),
                None if port_names.contains(name) => {}
                None => {
                    let mac = mac_at(&e.hwaddr, &ep.key("hwaddr"))?;
                    if by_mac.contains_key(&mac) {
                        continue;
                    }
                    add(
                        Interface {
                            name: name.clone(),
                            mac,
                            link_connected: e.enabled,
                            interface_speed: 0,
                            link_speed: 0,
                            numa_node: 0,
                            vendor: None,
                            product: None,
                            vendor_id: None,
                            product_id: None,
                            driver: None,
                            firmware_version: None,
                            sriov_max_vf: 0,
                            pci_address: None,
                            usb_address: None,
                            tags: Vec::new(),
                            is_vf: false,
                            enabled: Some(e.enabled),
                            addresses: global_addresses(e),
                        },
                        &mut by_mac,
                    );
                }
            }
        }
    }
    Ok((interfaces, logical))
}

// ------------------------------------------------------------------------------------------------
// PCI / USB devices and system information (§6.7)

/// Addresses of the interfaces, block devices and GPUs, to type PCI/USB devices.
struct Linked<'a> {
    network: HashSet<&'a str>,
    storage: HashSet<&'a str>,
    gpus: &'a BTreeSet<String>,
}

impl<'a> Linked<'a> {
    /// Keyed by `pci_address`, else `usb_address` (as MAAS's address maps).
    fn new(
        interfaces: &'a [Interface],
        disks: &'a [BlockDevice],
        gpus: &'a BTreeSet<String>,
    ) -> Self {
        let addr =
            |pci: &'a Option<String>, usb: &'a Option<String>| pci.as_deref().or(usb.as_deref());
        Linked {
            network: interfaces
                .iter()
                .filter_map(|i| addr(&i.pci_address, &i.usb_address))
                .collect(),
            storage: disks
                .iter()
                .filter_map(|d| addr(&d.pci_address, &d.usb_address))
                .collect(),
            gpus,
        }
    }

    fn hardware_type(&self, address: &str) -> HardwareType {
        if self.network.contains(address) {
            HardwareType::Network
        } else if self.storage.contains(address) {
            HardwareType::Storage
        } else if self.gpus.contains(address) {
            HardwareType::Gpu
        } else {
            HardwareType::Node
        }
    }
}

fn parse_pci(res: &Obj, p: &Path<'_>, linked: &Linked<'_>) -> Res<Vec<PciDevice>> {
    let pci_p = p.key("pci");
    let Some(pci) = opt_obj(res, "pci", p)? else {
        return Ok(Vec::new());
    };
    let devs_p = pci_p.key("devices");
    let mut out = Vec::new();
    for (i, d) in opt_arr(pci, "devices", &pci_p)?.iter().enumerate() {
        let dp = devs_p.at(i);
        let d = as_obj(d, &dp)?;
        let pci_address = req_str(d, "pci_address", &dp)?.to_owned();
        out.push(PciDevice {
            hardware_type: linked.hardware_type(&pci_address),
            pci_address,
            vendor_id: req_str(d, "vendor_id", &dp)?.to_owned(),
            product_id: req_str(d, "product_id", &dp)?.to_owned(),
            vendor: opt_string(d, "vendor", &dp)?,
            product: opt_string(d, "product", &dp)?,
            driver: opt_string(d, "driver", &dp)?,
            numa_node: opt_u64(d, "numa_node", &dp)?.unwrap_or(0),
        });
    }
    Ok(out)
}

fn parse_usb(res: &Obj, p: &Path<'_>, linked: &Linked<'_>) -> Res<Vec<UsbDevice>> {
    let usb_p = p.key("usb");
    let Some(usb) = opt_obj(res, "usb", p)? else {
        return Ok(Vec::new());
    };
    let devs_p = usb_p.key("devices");
    let mut out = Vec::new();
    for (i, d) in opt_arr(usb, "devices", &usb_p)?.iter().enumerate() {
        let dp = devs_p.at(i);
        let d = as_obj(d, &dp)?;
        let bus_address = req_u64(d, "bus_address", &dp)?;
        let device_address = req_u64(d, "device_address", &dp)?;
        let usb_address = format!("{bus_address}:{device_address}");
        let ifs_p = dp.key("interfaces");
        let mut drivers = BTreeSet::new();
        for (j, f) in opt_arr(d, "interfaces", &dp)?.iter().enumerate() {
            let fp = ifs_p.at(j);
            if let Some(drv) = opt_str(as_obj(f, &fp)?, "driver", &fp)? {
                drivers.insert(drv);
            }
        }
        out.push(UsbDevice {
            hardware_type: linked.hardware_type(&usb_address),
            usb_address,
            bus_address,
            device_address,
            vendor_id: req_str(d, "vendor_id", &dp)?.to_owned(),
            product_id: req_str(d, "product_id", &dp)?.to_owned(),
            vendor: opt_string(d, "vendor", &dp)?,
            product: opt_string(d, "product", &dp)?,
            driver: (!drivers.is_empty())
                .then(|| drivers.into_iter().collect::<Vec<_>>().join(", ")),
            numa_node: 0,
        });
    }
    Ok(out)
}

struct SystemInfo {
    uuid: Option<String>,
    metadata: BTreeMap<String, String>,
    is_virtual: bool,
}

/// `^[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}$` (case-insensitive) → lower-case, dashed.
pub fn normalize_hardware_uuid(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut hex = String::with_capacity(32);
    let mut i = 0;
    for (n, len) in [8usize, 4, 4, 4, 12].into_iter().enumerate() {
        let group = b.get(i..i + len)?;
        if !group.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        hex.extend(group.iter().map(|c| c.to_ascii_lowercase() as char));
        i += len;
        if n < 4 && b.get(i) == Some(&b'-') {
            i += 1;
        }
    }
    if i != b.len() {
        return None;
    }
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// Vendors use placeholders for unset SMBIOS strings; MAAS drops them.
fn metadata_value(v: &str) -> bool {
    !(v.is_empty() || v.eq_ignore_ascii_case("none") || v == "0123456789")
}

fn parse_system(res: &Obj, p: &Path<'_>) -> Res<SystemInfo> {
    let sp = p.key("system");
    let empty = Obj::new();
    let sys = opt_obj(res, "system", p)?.unwrap_or(&empty);
    let mut metadata = BTreeMap::new();
    let mut put = |key: String, o: &Obj, k: &str, p: &Path<'_>| -> Res<()> {
        if let Some(v) = opt_str(o, k, p)?.filter(|v| metadata_value(v)) {
            metadata.insert(key, v.to_owned());
        }
        Ok(())
    };
    for k in ["vendor", "product", "family", "version", "sku", "serial"] {
        put(format!("system_{k}"), sys, k, &sp)?;
    }
    // LXD sometimes reports these as null; MAAS treats anything but an object as empty.
    let sub = |k: &str| sys.get(k).and_then(Value::as_object).unwrap_or(&empty);
    let (mp, fp, cp) = (sp.key("motherboard"), sp.key("firmware"), sp.key("chassis"));
    for k in ["vendor", "product", "serial", "version"] {
        put(format!("mainboard_{k}"), sub("motherboard"), k, &mp)?;
    }
    for k in ["vendor", "date", "version"] {
        put(format!("mainboard_firmware_{k}"), sub("firmware"), k, &fp)?;
    }
    for k in ["vendor", "type", "serial", "version"] {
        put(format!("chassis_{k}"), sub("chassis"), k, &cp)?;
    }
    let kind = opt_str(sys, "type", &sp)?.unwrap_or_default();
    Ok(SystemInfo {
        uuid: opt_str(sys, "uuid", &sp)?.and_then(normalize_hardware_uuid),
        metadata,
        is_virtual: !kind.is_empty() && kind != "physical",
    })
}

// ------------------------------------------------------------------------------------------------
// Kernel command line

/// The MAC of the first `BOOTIF=NN-xx-xx-xx-xx-xx-xx` on a kernel command line (lower-case hex,
/// `-` or `:` separators), normalised to `xx:xx:xx:xx:xx:xx`.
pub fn boot_interface_mac(cmdline: &str) -> Option<String> {
    const KEY: &str = "BOOTIF=";
    let hex2 = |b: &[u8]| {
        b.iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
    };
    cmdline.match_indices(KEY).find_map(|(i, _)| {
        let rest = cmdline.as_bytes().get(i + KEY.len()..)?;
        let (prefix, mac) = (rest.get(..3)?, rest.get(3..20)?);
        if !(prefix[0].is_ascii_digit() && prefix[1].is_ascii_digit() && prefix[2] == b'-') {
            return None;
        }
        let ok = (0..6).all(|k| hex2(&mac[k * 3..k * 3 + 2]))
            && (0..5).all(|k| matches!(mac[k * 3 + 2], b':' | b'-'));
        ok.then(|| String::from_utf8_lossy(mac).replace('-', ":"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A minimal bare resources object: 1 thread, 1 GiB.
    fn base() -> Value {
        json!({"cpu": {"total": 1, "sockets": []}, "memory": {"total": 1073741824u64}})
    }

    /// Set `value` at a `/`-separated path, creating objects on the way.
    fn set(doc: &mut Value, path: &str, value: Value) {
        let mut cur = doc;
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        for (i, p) in parts.iter().enumerate() {
            let Value::Object(o) = cur else {
                panic!("not an object at {p}")
            };
            if i + 1 == parts.len() {
                o.insert((*p).to_owned(), value);
                return;
            }
            cur = o.entry(*p).or_insert_with(|| json!({}));
        }
    }

    fn with(path: &str, value: Value) -> Value {
        let mut d = base();
        set(&mut d, path, value);
        d
    }

    fn inv(doc: &Value) -> Inventory {
        match derive_value(doc) {
            Ok(i) => i,
            Err(e) => panic!("derive failed: {e}"),
        }
    }

    fn err(doc: &Value) -> String {
        match derive_value(doc) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    fn full(resources: Value) -> Value {
        json!({
            "api_version": "1.0",
            "api_extensions": ["resources", "resources_v2", "api_os", "resources_system",
                               "resources_usb_pci"],
            "environment": {"kernel_architecture": "x86_64", "os_name": "Ubuntu",
                            "os_version": "22.04", "server_name": "node1"},
            "resources": resources,
        })
    }

    fn socket(name: Option<&str>, freq: Option<u64>, turbo: Option<u64>) -> Value {
        let mut s = json!({"socket": 0, "cores": []});
        if let Some(n) = name {
            set(&mut s, "name", json!(n));
        }
        if let Some(f) = freq {
            set(&mut s, "frequency", json!(f));
        }
        if let Some(t) = turbo {
            set(&mut s, "frequency_turbo", json!(t));
        }
        s
    }

    fn cpu(sockets: Vec<Value>) -> Inventory {
        inv(&with("/cpu", json!({"total": 4, "sockets": sockets})))
    }

    #[test]
    fn cpu_speed_from_name_turbo_or_average() {
        let i7 = "Intel(R) Core(TM) i7-4700MQ CPU @ 2.40GHz";
        let i = cpu(vec![socket(Some(i7), Some(3231), Some(3400))]);
        assert_eq!(
            (i.cpu_speed, i.cpu_model.as_deref()),
            (2400, Some("Intel(R) Core(TM) i7-4700MQ CPU"))
        );
        // No "@ x GHz": frequency_turbo.
        let i = cpu(vec![socket(
            Some("Intel(R) Core(TM) i7-4700MQ CPU"),
            Some(3231),
            Some(3400),
        )]);
        assert_eq!(
            (i.cpu_speed, i.cpu_model.as_deref()),
            (3400, Some("Intel(R) Core(TM) i7-4700MQ CPU"))
        );
        // Neither: average current frequency rounded to 100.
        assert_eq!(cpu(vec![socket(None, Some(3231), None)]).cpu_speed, 3200);
        assert_eq!(cpu(vec![socket(None, Some(3251), None)]).cpu_speed, 3300);
        // Half rounds to even, as Python's round(): 32.5 → 32, 33.5 → 34.
        assert_eq!(
            cpu(vec![
                socket(None, Some(3200), None),
                socket(None, Some(3300), None)
            ])
            .cpu_speed,
            3200
        );
        assert_eq!(
            cpu(vec![
                socket(None, Some(3300), None),
                socket(None, Some(3400), None)
            ])
            .cpu_speed,
            3400
        );
        // A socket without frequency counts as 0 in the average.
        assert_eq!(
            cpu(vec![
                socket(None, Some(3000), None),
                socket(None, None, None)
            ])
            .cpu_speed,
            1500
        );
        // Max turbo over sockets.
        assert_eq!(
            cpu(vec![
                socket(None, Some(1), Some(2000)),
                socket(None, Some(1), Some(3000))
            ])
            .cpu_speed,
            3000
        );
        // Nothing at all.
        assert_eq!(cpu(vec![]).cpu_speed, 0);
        assert_eq!(cpu(vec![socket(None, None, None)]).cpu_speed, 0);
        // Truncation as int(float * 1000).
        assert_eq!(
            cpu(vec![socket(Some("X @ 3.5GHz"), None, None)]).cpu_speed,
            3500
        );
        assert_eq!(
            cpu(vec![socket(Some("X @ 1.10GHz"), None, None)]).cpu_speed,
            1100
        );
    }

    #[test]
    fn cpu_model_needs_equal_socket_names() {
        let a = "AMD EPYC 7302 16-Core Processor";
        let i = cpu(vec![
            socket(Some(a), None, Some(3000)),
            socket(Some(a), None, Some(3300)),
        ]);
        assert_eq!(i.cpu_model.as_deref(), Some(a));
        assert_eq!(i.cpu_speed, 3300);
        let i = cpu(vec![
            socket(Some(a), None, Some(3000)),
            socket(Some("Other @ 2.00GHz"), None, None),
        ]);
        assert_eq!(i.cpu_model, None);
        assert_eq!(
            i.cpu_speed, 3000,
            "mismatched names: no speed from the name"
        );
        // Unnamed sockets are ignored in the comparison.
        let i = cpu(vec![
            socket(Some("Y @ 2.00GHz"), None, None),
            socket(None, None, None),
        ]);
        assert_eq!((i.cpu_model.as_deref(), i.cpu_speed), (Some("Y"), 2000));
        // "@" without " @": model kept whole; speed needs whitespace around "@".
        let i = cpu(vec![socket(Some("Z@2.00GHz"), Some(900), None)]);
        assert_eq!(
            (i.cpu_model.as_deref(), i.cpu_speed),
            (Some("Z@2.00GHz"), 900)
        );
        assert_eq!(
            cpu(vec![socket(Some("Z @ 2GHz"), Some(900), None)]).cpu_speed,
            900
        );
        assert_eq!(cpu(vec![socket(Some(""), Some(900), None)]).cpu_model, None);
    }

    #[test]
    fn ghz_suffix_parsing() {
        assert_eq!(ghz_suffix("A @ 2.40GHz"), Some(2400));
        assert_eq!(ghz_suffix("A\t@\t12.5GHz"), Some(12500));
        assert_eq!(ghz_suffix("A @ 2.40GHz "), None);
        assert_eq!(ghz_suffix("A @ .40GHz"), None);
        assert_eq!(ghz_suffix("A @ 2.GHz"), None);
        assert_eq!(ghz_suffix("@ 2.40GHz"), None);
        assert_eq!(ghz_suffix("A 1 2.40GHz"), None);
        assert_eq!(ghz_suffix("2.40GHz"), None);
    }

    #[test]
    fn numa_cores_from_threads() {
        let thread = |id: u64, node: u64| json!({"id": id, "thread": 0, "numa_node": node});
        let d = with(
            "/cpu",
            json!({"total": 4, "sockets": [{"cores": [
                {"threads": [thread(0, 0), thread(1, 1)]},
                {"threads": [thread(2, 0), thread(3, 1)]},
            ]}]}),
        );
        let n = inv(&d).numa_nodes;
        assert_eq!(n.len(), 2);
        assert_eq!((n[0].index, n[0].cores.clone()), (0, vec![0, 2]));
        assert_eq!((n[1].index, n[1].cores.clone()), (1, vec![1, 3]));
    }

    #[test]
    fn numa_memory_missing_nodes_gives_one_node() {
        let n = inv(&with("/memory", json!({"total": 3975593984u64}))).numa_nodes;
        assert_eq!(n.len(), 1);
        assert_eq!((n[0].index, n[0].memory, n[0].hugepages_size), (0, 3791, 0));
        // An empty list is not "missing": nodes come from threads only (none here).
        let i = inv(&with(
            "/memory",
            json!({"total": 3975593984u64, "nodes": []}),
        ));
        assert!(i.numa_nodes.is_empty());
        assert_eq!(i.memory, 3791);
    }

    #[test]
    fn numa_memory_only_and_sparse_nodes() {
        let mut d = with(
            "/cpu",
            json!({"total": 2, "sockets": [{"cores": [{"threads": [
                {"id": 0, "numa_node": 0}, {"id": 1, "numa_node": 1}]}]}]}),
        );
        set(
            &mut d,
            "/memory",
            json!({"total": 33720463360u64, "hugepages_size": 2097152, "nodes": [
                {"numa_node": 0, "total": 33720463360u64, "hugepages_total": 16 * 2097152},
                {"numa_node": 1, "total": 0},
                {"numa_node": 16, "total": 1048576 * 3 + 5},
                {"numa_node": 17, "total": 1048575},
            ]}),
        );
        let i = inv(&d);
        assert_eq!(i.memory, 32158);
        let got: Vec<(u64, u64, Vec<u64>, u64, u64)> = i
            .numa_nodes
            .iter()
            .map(|n| {
                (
                    n.index,
                    n.memory,
                    n.cores.clone(),
                    n.hugepages_size,
                    n.hugepages_total,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 32158, vec![0], 2097152, 33554432),
                (1, 0, vec![1], 2097152, 0),
                (16, 3, vec![], 2097152, 0),
                (17, 0, vec![], 2097152, 0),
            ]
        );
    }

    fn disk(id: &str) -> Value {
        json!({"id": id, "type": "scsi", "read_only": false, "size": 1_000_000_000_000u64,
               "removable": false, "rpm": 0, "block_size": 512})
    }

    fn disks(list: Vec<Value>) -> Vec<BlockDevice> {
        inv(&with("/storage/disks", Value::Array(list))).block_devices
    }

    fn names(d: &[BlockDevice]) -> Vec<&str> {
        d.iter().map(|d| d.name.as_str()).collect()
    }

    #[test]
    fn disk_tags_and_fields() {
        let mut rot = disk("sdb");
        set(&mut rot, "rpm", json!(7200));
        set(&mut rot, "removable", json!(true));
        let mut sata = disk("sda");
        set(&mut sata, "type", json!("sata"));
        set(&mut sata, "block_size", json!(0));
        set(&mut sata, "serial", json!("S1"));
        set(&mut sata, "device_id", json!("wwn-0x1"));
        set(&mut sata, "firmware_version", json!("FW1"));
        set(&mut sata, "numa_node", json!(3));
        let mut no_serial = disk("vda");
        set(&mut no_serial, "device_id", json!("virtio-abc"));
        let d = disks(vec![rot, sata, no_serial]);
        assert_eq!(names(&d), ["sda", "sdb", "vda"], "sorted by id");
        assert_eq!(d[0].tags, ["ssd", "sata"]);
        assert_eq!(d[0].id_path, "/dev/disk/by-id/wwn-0x1");
        assert_eq!((d[0].block_size, d[0].numa_node), (512, 3));
        assert_eq!(d[0].firmware_version.as_deref(), Some("FW1"));
        assert_eq!((d[0].model.as_str(), d[0].serial.as_str()), ("", "S1"));
        assert_eq!(d[1].tags, ["rotary", "7200rpm", "removable"]);
        assert_eq!(d[1].id_path, "/dev/sdb");
        assert_eq!(
            d[2].id_path, "/dev/vda",
            "device_id without serial falls back"
        );
        assert_eq!(d[2].tags, ["ssd"]);
    }

    #[test]
    fn disk_skip_rules() {
        let mut ro = disk("sdc");
        set(&mut ro, "read_only", json!(true));
        let mut cd = disk("sr0");
        set(&mut cd, "type", json!("cdrom"));
        let mut tiny = disk("sdd");
        set(&mut tiny, "size", json!(4194304));
        let mut small_ok = disk("sde");
        set(&mut small_ok, "size", json!(4194305));
        let loop0 = disk("loop0");
        let mut loop_serial = disk("loop1");
        set(&mut loop_serial, "serial", json!("L1"));
        set(&mut loop_serial, "device_id", json!("loopy"));
        let d = disks(vec![
            disk("sda"),
            ro,
            cd,
            disk("bcache0"),
            tiny,
            small_ok,
            loop0,
            loop_serial,
        ]);
        // loop1 has a by-id path, so the /dev/loop rule does not catch it (as MAAS).
        assert_eq!(names(&d), ["loop1", "sda", "sde"]);
    }

    #[test]
    fn boot_disk_is_first_disk_of_512_mib() {
        let mut a = disk("nvme0n1");
        set(&mut a, "size", json!(536870911));
        let mut b = disk("nvme1n1");
        set(&mut b, "size", json!(536870912));
        let i = inv(&with("/storage/disks", json!([disk("sda"), a, b])));
        assert_eq!(i.boot_disk.as_deref(), Some("nvme1n1"));
        assert_eq!(
            i.storage,
            (1_000_000_000_000u64 + 536870911 + 536870912) as f64 / 1e6
        );
        assert_eq!(inv(&base()).boot_disk, None);
        assert_eq!(inv(&base()).storage, 0.0);
    }

    fn path_disk(id: &str, path: &str, serial: &str) -> Value {
        let mut d = disk(id);
        set(&mut d, "device_path", json!(path));
        set(&mut d, "serial", json!(serial));
        d
    }

    #[test]
    fn multipath_condensation() {
        let mut sdb = path_disk(
            "sdb",
            "pci-0000:03:00.0-sas-0x5000c500a1b2c3d4-lun-0",
            "MP1",
        );
        set(&mut sdb, "device_id", json!("wwn-0xmp1"));
        let d = disks(vec![
            path_disk(
                "sdd",
                "pci-0000:04:00.0-sas-0x5000c500a1b2c3d5-lun-0",
                "MP1",
            ),
            path_disk(
                "sdc",
                "pci-0000:03:00.0-sas-0x5000c500a1b2c3d4-lun-1",
                "MP1",
            ),
            sdb,
            path_disk(
                "sde",
                "pci-0000:05:00.0-fc-0x500a09819606c2b5-lun-0x0",
                "FC1",
            ),
            path_disk(
                "sdf",
                "pci-0000:05:00.1-fc-0x500a09829606c2b5-lun-0x0",
                "FC1",
            ),
            path_disk(
                "sdg",
                "pci-0000:08:00.0-ip-10.0.0.1:3260-iscsi-iqn.q:t-lun-3",
                "IS1",
            ),
            path_disk(
                "sdh",
                "pci-0000:08:00.1-ip-10.0.0.2:3260-iscsi-iqn.q:t-lun-3",
                "IS1",
            ),
            // A plain by-path iSCSI name parses as bus "ip", proto "iscsi": not condensed (as MAAS).
            path_disk(
                "sdm",
                "ip-10.0.0.1:3260-iscsi-iqn.2004-04.com.q:t-lun-4",
                "IS2",
            ),
            path_disk(
                "sdn",
                "ip-10.0.0.2:3260-iscsi-iqn.2004-04.com.q:t-lun-4",
                "IS2",
            ),
            path_disk("sdi", "pci-0000:06:00.0-sas-phy3-lun-0", ""),
            path_disk("sdj", "pci-0000:06:00.0-sas-phy4-lun-0", ""),
            path_disk("sdk", "pci-0000:07:00.0-usb-0:1:1.0-scsi-0:0:0:0", "U1"),
            path_disk("sdl", "pci-0000:07:00.0-usb-0:1:1.0-scsi-0:0:0:0", "U1"),
        ]);
        assert_eq!(
            names(&d),
            ["sdb", "sdc", "sde", "sdg", "sdi", "sdj", "sdk", "sdl", "sdm", "sdn"]
        );
        let by = |n: &str| {
            d.iter()
                .find(|d| d.name == n)
                .cloned()
                .unwrap_or_else(|| panic!("{n}"))
        };
        // sdb + sdd (same serial, lun-0): lowest id kept, tagged multipath, no "ssd".
        assert!(by("sdb").multipath);
        assert_eq!(by("sdb").tags, ["multipath"]);
        assert_eq!(by("sdb").id_path, "/dev/disk/by-id/wwn-0xmp1");
        assert_eq!(by("sdb").pci_address.as_deref(), Some("0000:03:00.0"));
        // Same serial, another LUN: its own device.
        assert!(!by("sdc").multipath);
        assert_eq!(by("sdc").tags, ["ssd"]);
        assert!(by("sde").multipath && by("sdg").multipath);
        assert_eq!(by("sdg").pci_address.as_deref(), Some("0000:08:00.0"));
        assert!(!by("sdm").multipath && !by("sdn").multipath);
        assert_eq!(by("sdm").pci_address, None, "bus \"ip\" is not pci");
        // No serial: never condensed. USB: never condensed and no pci_address from the path.
        assert!(!by("sdi").multipath && !by("sdj").multipath);
        assert_eq!(by("sdk").pci_address, None);
        assert!(!by("sdk").multipath);
    }

    #[test]
    fn multipath_condensed_device_takes_a_device_id_from_another_path() {
        let mut b = path_disk(
            "sdb",
            "pci-0000:03:00.0-sas-0x5000c500a1b2c3d5-lun-0",
            "MP1",
        );
        set(&mut b, "device_id", json!("wwn-0xfrom-sdb"));
        let d = disks(vec![
            path_disk(
                "sda",
                "pci-0000:03:00.0-sas-0x5000c500a1b2c3d4-lun-0",
                "MP1",
            ),
            b,
        ]);
        assert_eq!(names(&d), ["sda"]);
        assert_eq!(d[0].id_path, "/dev/disk/by-id/wwn-0xfrom-sdb");
    }

    #[test]
    fn multipath_lun_patterns() {
        assert_eq!(multipath_lun("fc", "0x500a0981-lun-0"), Some("lun-0"));
        assert_eq!(multipath_lun("vmbus", "abc_1-lun-0x1F"), Some("lun-0x1F"));
        assert_eq!(
            multipath_lun("sas", "exp0x5000-phy0x1-lun-2"),
            Some("lun-2")
        );
        assert_eq!(multipath_lun("sas", "phy7-lun-2"), Some("lun-2"));
        assert_eq!(multipath_lun("sas", "0x50-lun-2"), Some("lun-2"));
        assert_eq!(multipath_lun("sas", "x50-lun-2"), None);
        assert_eq!(multipath_lun("ip", "a:1-iscsi-t.x-lun-9"), Some("lun-9"));
        assert_eq!(multipath_lun("ip", "-iscsi-t-lun-9"), None);
        assert_eq!(multipath_lun("ata", "1-lun-0"), None);
        assert_eq!(multipath_lun("fc", "a-b-lun-0"), None);
        assert_eq!(multipath_lun("fc", "a-lun-0x"), None);
        assert_eq!(multipath_lun("fc", "a-lun-g"), None);
        assert_eq!(
            split_device_path("pci-0000:00:1f.2-ata-1"),
            Some(("pci", "0000:00:1f.2", "ata", "1"))
        );
        assert_eq!(split_device_path("platform-APMC0D33:00-ata-1"), None);
        assert_eq!(split_device_path("pci-0000:00:1f.2-ata"), None);
    }

    #[test]
    fn hardware_uuid_regex() {
        let u = "52bcf4c0-0906-11e9-a5f5-3c18a0043e06";
        assert_eq!(normalize_hardware_uuid(u).as_deref(), Some(u));
        assert_eq!(
            normalize_hardware_uuid("52BCF4C0090611E9A5F53C18A0043E06").as_deref(),
            Some(u)
        );
        assert_eq!(
            normalize_hardware_uuid("52bcf4c0-090611e9-a5f53c18a0043e06").as_deref(),
            Some(u)
        );
        for bad in [
            "",
            "J300LEW9",
            "52bcf4c0-0906-11e9-a5f5-3c18a0043e0",
            "52bcf4c0-0906-11e9-a5f5-3c18a0043e066",
            "52bcf4c0--0906-11e9-a5f5-3c18a0043e06",
            "52bcf4c0-0906-11e9-a5f5-3c18a0043e0g",
            "52bcf4c009-06-11e9-a5f5-3c18a0043e06",
            " 52bcf4c0-0906-11e9-a5f5-3c18a0043e06",
            "52bcf4c0-0906-11e9-a5f5-3c18a0043e06-",
        ] {
            assert_eq!(normalize_hardware_uuid(bad), None, "{bad:?}");
        }
        let i = inv(&with(
            "/system",
            json!({"uuid": "52BCF4C0090611E9A5F53C18A0043E06"}),
        ));
        assert_eq!(i.hardware_uuid.as_deref(), Some(u));
        assert_eq!(
            inv(&with("/system", json!({"uuid": "Not Settable"}))).hardware_uuid,
            None
        );
    }

    #[test]
    fn metadata_omission_and_virtual_tag() {
        let i = inv(&with(
            "/system",
            json!({"vendor": "Lenovo", "product": "HR350A    7X35", "family": "",
                   "version": "None", "sku": "0123456789", "serial": "NONE", "type": "physical",
                   "motherboard": null, "firmware": "junk",
                   "chassis": {"vendor": " ", "type": "Rack Mount Chassis", "serial": "none",
                               "version": "0123456789x"}}),
        ));
        let want: BTreeMap<String, String> = [
            ("system_vendor", "Lenovo"),
            ("system_product", "HR350A    7X35"),
            ("chassis_vendor", " "),
            ("chassis_type", "Rack Mount Chassis"),
            ("chassis_version", "0123456789x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(i.metadata, want);
        assert!(!i.is_virtual);
        let mb = inv(&with(
            "/system",
            json!({"type": "virtual-machine",
                   "motherboard": {"vendor": "QEMU", "product": "Standard PC", "serial": "S",
                                   "version": "pc-q35"},
                   "firmware": {"vendor": "EDK II", "date": "02/06/2015", "version": "0.0.0"}}),
        ));
        assert_eq!(
            mb.metadata.keys().map(String::as_str).collect::<Vec<_>>(),
            [
                "mainboard_firmware_date",
                "mainboard_firmware_vendor",
                "mainboard_firmware_version",
                "mainboard_product",
                "mainboard_serial",
                "mainboard_vendor",
                "mainboard_version"
            ]
        );
        assert!(mb.is_virtual);
        assert!(inv(&with("/system/type", json!("container"))).is_virtual);
        assert!(!inv(&with("/system/type", json!(""))).is_virtual);
        assert!(!inv(&base()).is_virtual);
        assert!(inv(&base()).metadata.is_empty());
    }

    #[test]
    fn bootif_rule() {
        let cmdline = "ro root=squash:http://x/squashfs ip=::::h:BOOTIF:dhcp \
                       cc:{'datasource_list': ['MAAS']}end_cc BOOTIF=01-aa-bb-cc-dd-ee-ff";
        assert_eq!(
            boot_interface_mac(cmdline).as_deref(),
            Some("aa:bb:cc:dd:ee:ff")
        );
        assert_eq!(
            boot_interface_mac("BOOTIF=01-aa:bb:cc:dd:ee:0f x").as_deref(),
            Some("aa:bb:cc:dd:ee:0f")
        );
        // The regex only knows lower-case hex and two digits before the dash.
        assert_eq!(boot_interface_mac("BOOTIF=01-AA-BB-CC-DD-EE-FF"), None);
        assert_eq!(boot_interface_mac("BOOTIF=1-aa-bb-cc-dd-ee-ff"), None);
        assert_eq!(boot_interface_mac("BOOTIF=01-aa-bb-cc-dd-ee"), None);
        assert_eq!(boot_interface_mac("ip=::::h:BOOTIF:dhcp"), None);
        assert_eq!(boot_interface_mac(""), None);
        // The first BOOTIF that matches wins.
        assert_eq!(
            boot_interface_mac("BOOTIF=xx BOOTIF=01-00-11-22-33-44-55 BOOTIF=01-66-77-88-99-aa-bb")
                .as_deref(),
            Some("00:11:22:33:44:55")
        );
        assert_eq!(
            boot_interface_mac("BOOTIF=01-aa-bb-cc-dd-ee-ffé").as_deref(),
            Some("aa:bb:cc:dd:ee:ff")
        );
        assert_eq!(boot_interface_mac("BOOTIF=é"), None);
    }

    fn card(ports: Value) -> Value {
        json!({"driver": "ixgbe", "numa_node": 1, "pci_address": "0000:01:00.0", "vendor": "Intel",
               "vendor_id": "8086", "product": "82599", "product_id": "10f8", "ports": ports})
    }

    fn port(id: &str, mac: &str) -> Value {
        json!({"id": id, "address": mac, "link_detected": true, "link_speed": 10000,
               "supported_modes": ["1000baseKX/Full", "10000baseKR/Full", "Autoneg"]})
    }

    fn nics(cards: Vec<Value>) -> Vec<Interface> {
        inv(&with("/network/cards", Value::Array(cards))).interfaces
    }

    #[test]
    fn interfaces_from_cards() {
        let mut c = card(json!([port("eno1", "44:A8:42:BA:A3:B4")]));
        set(
            &mut c,
            "sriov",
            json!({"maximum_vfs": 63, "vfs": [
            {"numa_node": 0, "pci_address": "0000:01:10.0", "vendor": "Intel", "product": "VF",
             "ports": [{"id": "eno1v0", "address": "1c:1b:0d:0d:52:7c"}]}]}),
        );
        let ib = card(json!([
            port("ibp4s0", "a0:00:02:20:fe:80:00:00:00:00:00:00:e4:1d:2d:03:00:4f:06:e1"),
            port("bmc", "02:00:00:00:00:02"),
            {"id": "noaddr"},
        ]));
        let i = nics(vec![c, ib]);
        assert_eq!(i.len(), 2);
        let e = &i[0];
        assert_eq!(
            (e.name.as_str(), e.mac.as_str()),
            ("eno1", "44:a8:42:ba:a3:b4")
        );
        assert_eq!(
            (e.interface_speed, e.link_speed, e.link_connected),
            (10000, 10000, true)
        );
        assert_eq!((e.numa_node, e.sriov_max_vf, e.is_vf), (1, 63, false));
        assert_eq!(e.tags, ["sriov"]);
        assert_eq!(e.pci_address.as_deref(), Some("0000:01:00.0"));
        assert_eq!(e.enabled, None);
        let v = &i[1];
        assert_eq!(
            (v.name.as_str(), v.mac.as_str(), v.is_vf),
            ("eno1v0", "1c:1b:0d:0d:52:7c", true)
        );
        assert_eq!(
            (
                v.sriov_max_vf,
                v.numa_node,
                v.interface_speed,
                v.link_connected
            ),
            (0, 0, 0, false)
        );
        assert!(v.tags.is_empty());
        assert_eq!(v.product.as_deref(), Some("VF"));
    }

    #[test]
    fn duplicate_macs_collapse() {
        let i = nics(vec![card(json!([
            port("a", "00:11:22:33:44:55"),
            port("b", "00:11:22:33:44:66"),
            port("c", "00:11:22:33:44:55")
        ]))]);
        let got: Vec<(&str, &str)> = i
            .iter()
            .map(|i| (i.name.as_str(), i.mac.as_str()))
            .collect();
        assert_eq!(
            got,
            [("c", "00:11:22:33:44:55"), ("b", "00:11:22:33:44:66")]
        );
    }

    #[test]
    fn bad_mac_is_an_error_with_its_path() {
        let e = err(&with(
            "/network/cards",
            json!([card(json!([port("x", "zz:11")]))]),
        ));
        assert_eq!(
            e,
            "network.cards[0].ports[0].address: not a MAC address: \"zz:11\""
        );
    }

    fn net(kind: &str, hwaddr: &str, state: &str) -> Value {
        json!({"type": kind, "hwaddr": hwaddr, "state": state, "bond": null, "bridge": null,
               "vlan": null, "addresses": []})
    }

    #[test]
    fn networks_logical_interfaces_in_dependency_order() {
        let mut resources = base();
        set(
            &mut resources,
            "/network/cards",
            json!([card(json!([
                port("eth0", "00:00:00:00:00:01"),
                port("eth1", "00:00:00:00:00:02")
            ]))]),
        );
        let mut doc = full(resources);
        let mut br = net("broadcast", "00:00:00:00:00:aa", "up");
        set(
            &mut br,
            "bridge",
            json!({"upper_devices": ["bond0.5", "tap0"]}),
        );
        set(
            &mut br,
            "addresses",
            json!([
            {"family": "inet", "address": "10.0.0.2", "netmask": "24", "scope": "global"},
            {"family": "inet6", "address": "fe80::1", "netmask": "64", "scope": "link"}]),
        );
        let mut bond = net("broadcast", "00:00:00:00:00:aa", "up");
        set(
            &mut bond,
            "bond",
            json!({"lower_devices": ["eth1", "eth0"]}),
        );
        let mut vlan = net("broadcast", "00:00:00:00:00:aa", "down");
        set(
            &mut vlan,
            "vlan",
            json!({"lower_device": "bond0", "vid": 5}),
        );
        let mut veth = net("broadcast", "0A:00:00:00:00:09", "up");
        set(
            &mut veth,
            "addresses",
            json!([{"address": "10.1.0.2", "netmask": 16, "scope": "global"}]),
        );
        set(
            &mut doc,
            "/networks",
            json!({
                "br0": br, "bond0": bond, "bond0.5": vlan, "eth0": net("broadcast", "00:00:00:00:00:aa", "up"),
                "eth1": net("broadcast", "00:00:00:00:00:aa", "down"), "lo": net("loopback", "", "up"),
                "veth1": veth, "ib0": net("broadcast", "a0:00:02:20:fe:80:00:00:00:00:00:00:e4:1d:2d:03:00:4f:06:e1", "up"),
                "bmc": net("broadcast", "02:00:00:00:00:02", "up"),
            }),
        );
        let i = inv(&doc);
        type Row<'a> = (&'a str, LogicalKind, Vec<String>, Option<u64>, bool);
        let l: Vec<Row> = i
            .logical_interfaces
            .iter()
            .map(|l| (l.name.as_str(), l.kind, l.parents.clone(), l.vid, l.enabled))
            .collect();
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            l,
            [
                ("bond0", LogicalKind::Bond, s(&["eth1", "eth0"]), None, true),
                ("bond0.5", LogicalKind::Vlan, s(&["bond0"]), Some(5), false),
                ("br0", LogicalKind::Bridge, s(&["bond0.5"]), None, true),
            ]
        );
        assert_eq!(i.logical_interfaces[2].addresses, ["10.0.0.2/24"]);
        assert_eq!(i.logical_interfaces[0].mac, "00:00:00:00:00:aa");
        let p: Vec<(&str, &str, Option<bool>, bool)> = i
            .interfaces
            .iter()
            .map(|i| (i.name.as_str(), i.mac.as_str(), i.enabled, i.link_connected))
            .collect();
        assert_eq!(
            p,
            [
                ("eth0", "00:00:00:00:00:01", Some(true), true),
                ("eth1", "00:00:00:00:00:02", Some(false), false),
                ("veth1", "0a:00:00:00:00:09", Some(true), true),
            ]
        );
        assert_eq!(i.interfaces[2].addresses, ["10.1.0.2/16"]);
        assert_eq!(i.architecture.as_deref(), Some("amd64/generic"));
        assert_eq!(i.hostname.as_deref(), Some("node1"));
        assert_eq!(
            i.os,
            Some(OsRelease {
                osystem: "ubuntu".into(),
                distro_series: "jammy".into()
            })
        );
    }

    #[test]
    fn networks_cycle_is_an_error() {
        let mut doc = full(base());
        let mut a = net("broadcast", "00:00:00:00:00:01", "up");
        set(&mut a, "bond", json!({"lower_devices": ["b"]}));
        let mut b = net("broadcast", "00:00:00:00:00:02", "up");
        set(&mut b, "bridge", json!({"upper_devices": ["a"]}));
        set(
            &mut doc,
            "/networks",
            json!({"a": a, "b": b, "c": net("broadcast", "00:00:00:00:00:03", "up")}),
        );
        assert_eq!(
            err(&doc),
            "networks: dependency cycle among interfaces [\"a\", \"b\"]"
        );
    }

    #[test]
    fn parse_networks_like_maas() {
        let doc = br#"{"lo": {"type": "loopback", "hwaddr": "", "state": "up", "bond": null,
            "bridge": null, "vlan": null, "addresses": [
              {"family": "inet", "address": "127.0.0.1", "netmask": "8", "scope": "local"},
              {"family": "inet6", "address": "fe80::1", "netmask": "64", "scope": "link"}]},
            "v.7": {"type": "broadcast", "hwaddr": "00:00:00:00:00:01", "state": "down",
            "vlan": {"lower_device": "eth0", "vid": 7}, "addresses": []}}"#;
        let n = parse_networks(doc).unwrap_or_default();
        assert_eq!(n.len(), 2);
        assert_eq!(n["lo"].kind, "loopback");
        assert_eq!(n["lo"].addresses, ["127.0.0.1/8"]);
        assert!(n["lo"].enabled && n["lo"].mac.is_empty());
        assert_eq!(
            (n["v.7"].kind.as_str(), n["v.7"].vid, n["v.7"].enabled),
            ("vlan", Some(7), false)
        );
        assert_eq!(n["v.7"].parents, ["eth0"]);
        let e = parse_networks(br#"{"v.7": {"type": "broadcast", "vlan": {"lower_device": "x"}}}"#);
        assert_eq!(
            e.map_err(|e| e.to_string()),
            Err("[\"v.7\"].vlan.vid: missing".to_owned())
        );
    }

    #[test]
    fn errors_name_the_path() {
        let e = err(&full(with("/cpu/total", json!("8"))));
        assert_eq!(
            e,
            "resources.cpu.total: expected a non-negative integer, found the string \"8\""
        );
        assert_eq!(
            err(&with("/cpu/total", json!(-1))),
            "cpu.total: expected a non-negative integer, found -1"
        );
        assert_eq!(
            err(&with("/memory/total", json!(1.5))),
            "memory.total: expected a non-negative integer, found 1.5"
        );
        assert_eq!(err(&with("/memory", json!({}))), "memory.total: missing");
        assert_eq!(
            err(&with("/storage/disks", json!([disk("sda"), {"id": "sdb"}]))),
            "storage.disks[1].size: missing"
        );
        assert_eq!(
            err(&with("/storage/disks", json!({}))),
            "storage.disks: expected an array, found an object"
        );
        assert_eq!(
            err(&with("/cpu/sockets", json!([{"name": 5}]))),
            "cpu.sockets[0].name: expected a string, found 5"
        );
        assert_eq!(
            err(&json!([])),
            "document: expected an object, found an array"
        );
        assert!(
            err(&json!({"foo": 1})).starts_with("document: neither a machine-resources document")
        );
        let mut d = full(base());
        set(
            &mut d,
            "/networks",
            json!({"eth0.1": {"type": "broadcast", "state": 1}}),
        );
        assert_eq!(
            err(&d),
            "networks[\"eth0.1\"].state: expected a string, found 1"
        );
        assert!(matches!(
            derive(b"{\"cpu\": {\"total\": 8"),
            Err(InventoryError::Json(_))
        ));
        assert!(matches!(derive(b""), Err(InventoryError::Json(_))));
    }

    #[test]
    fn api_version_and_extensions_are_checked() {
        let mut d = full(base());
        set(&mut d, "/api_version", json!("2.0"));
        assert_eq!(
            err(&d),
            "api_version: expected \"1.0\", found the string \"2.0\": data not from LXD API 1.0"
        );
        let mut d = full(base());
        if let Value::Object(o) = &mut d {
            o.remove("api_version");
        }
        assert_eq!(
            err(&d),
            "api_version: missing (expected \"1.0\"): data not from LXD API 1.0"
        );
        let mut d = full(base());
        set(
            &mut d,
            "/api_extensions",
            json!(["resources", "resources_v2", "resources_system"]),
        );
        assert_eq!(err(&d), "api_extensions: missing required LXD API extensions [\"api_os\", \"resources_usb_pci\"]");
        let mut d = full(base());
        if let Value::Object(o) = &mut d {
            o.remove("environment");
        }
        assert_eq!(err(&d), "environment: missing");
        let mut d = full(base());
        set(&mut d, "/environment/kernel_architecture", json!("sparc64"));
        assert_eq!(
            err(&d),
            "environment.kernel_architecture: unknown kernel architecture \"sparc64\""
        );
    }

    #[test]
    fn architecture_rules() {
        let mut d = full(base());
        set(&mut d, "/environment/kernel_architecture", json!("aarch64"));
        assert_eq!(inv(&d).architecture.as_deref(), Some("arm64/generic"));
        set(&mut d, "/machine-extra", json!({"platform": "xgene-uboot"}));
        assert_eq!(inv(&d).architecture.as_deref(), Some("arm64/xgene-uboot"));
        set(&mut d, "/machine-extra", Value::Null);
        assert_eq!(inv(&d).architecture.as_deref(), Some("arm64/generic"));
        for (k, a) in [
            ("x86_64", "amd64"),
            ("i686", "i386"),
            ("ppc64le", "ppc64el"),
            ("s390x", "s390x"),
            ("mips", "mips"),
            ("mips64", "mips64el"),
        ] {
            assert_eq!(debian_architecture(k), Some(a));
        }
        assert_eq!(
            merge_architecture(Some("arm64/xgene"), "arm64/generic"),
            "arm64/xgene"
        );
        assert_eq!(
            merge_architecture(Some("amd64/hwe"), "arm64/generic"),
            "arm64/generic"
        );
        assert_eq!(
            merge_architecture(Some("arm64/xgene"), "arm64/rpi4"),
            "arm64/rpi4"
        );
        assert_eq!(merge_architecture(None, "arm64/generic"), "arm64/generic");
        // OS needs both name and version; non-Ubuntu versions are only lower-cased.
        set(&mut d, "/environment/os_name", json!("CentOS"));
        set(&mut d, "/environment/os_version", json!("8-Stream"));
        assert_eq!(
            inv(&d).os,
            Some(OsRelease {
                osystem: "centos".into(),
                distro_series: "8-stream".into()
            })
        );
        set(&mut d, "/environment/os_version", json!(""));
        assert_eq!(inv(&d).os, None);
    }

    #[test]
    fn pci_and_usb_devices_are_linked_by_address() {
        let mut d = base();
        set(
            &mut d,
            "/network/cards",
            json!([card(json!([port("eno1", "00:00:00:00:00:01")]))]),
        );
        let mut nv = disk("nvme0n1");
        set(&mut nv, "device_path", json!("pci-0000:02:00.0-nvme-1"));
        let mut usbdisk = disk("sdz");
        set(&mut usbdisk, "usb_address", json!("2:3"));
        set(&mut d, "/storage/disks", json!([nv, usbdisk]));
        set(
            &mut d,
            "/gpu/cards",
            json!([{"pci_address": "0000:03:00.0"}]),
        );
        set(
            &mut d,
            "/pci/devices",
            json!([
                {"pci_address": "0000:01:00.0", "vendor_id": "8086", "product_id": "10f8", "driver": "ixgbe", "numa_node": 1},
                {"pci_address": "0000:02:00.0", "vendor_id": "144d", "product_id": "a808", "vendor": "Samsung"},
                {"pci_address": "0000:03:00.0", "vendor_id": "10de", "product_id": "1eb8"},
                {"pci_address": "0000:00:00.0", "vendor_id": "8086", "product_id": "0000"},
            ]),
        );
        set(
            &mut d,
            "/usb/devices",
            json!([
                {"bus_address": 2, "device_address": 3, "vendor_id": "0781", "product_id": "5581",
                 "interfaces": [{"driver": "usb-storage"}, {"driver": "uas"}, {"driver": "uas"}, {}]},
                {"bus_address": 1, "device_address": 1, "vendor_id": "1d6b", "product_id": "0002",
                 "vendor": "Linux Foundation", "interfaces": null},
            ]),
        );
        let i = inv(&d);
        let t: Vec<HardwareType> = i.pci_devices.iter().map(|p| p.hardware_type).collect();
        use HardwareType::*;
        assert_eq!(t, [Network, Storage, Gpu, Node]);
        assert_eq!(i.pci_devices[0].driver.as_deref(), Some("ixgbe"));
        assert_eq!(i.pci_devices[0].numa_node, 1);
        assert_eq!(i.pci_devices[1].vendor.as_deref(), Some("Samsung"));
        assert_eq!(i.usb_devices[0].usb_address, "2:3");
        assert_eq!(i.usb_devices[0].driver.as_deref(), Some("uas, usb-storage"));
        assert_eq!(i.usb_devices[0].hardware_type, Storage);
        assert_eq!(
            (
                i.usb_devices[1].driver.clone(),
                i.usb_devices[1].hardware_type
            ),
            (None, Node)
        );
        let e = err(&with(
            "/pci/devices",
            json!([{"pci_address": "0000:00:00.0", "vendor_id": "8086"}]),
        ));
        assert_eq!(e, "pci.devices[0].product_id: missing");
    }

    #[test]
    fn large_hostile_lists_stay_near_linear() {
        // 20 000 chained VLANs, 20 000 disks with distinct LUNs, 20 000 PCI devices: a
        // quadratic step would take minutes here, the linear ones well under a second.
        const N: usize = 20_000;
        let mut networks = Map::new();
        networks.insert("e0".into(), net("broadcast", "00:00:00:00:00:01", "up"));
        for i in 1..N {
            let mut v = net("broadcast", "00:00:00:00:00:01", "up");
            set(
                &mut v,
                "vlan",
                json!({"lower_device": format!("e{}", i - 1), "vid": i}),
            );
            networks.insert(format!("e{i}"), v);
        }
        let disks: Vec<Value> = (0..N)
            .map(|i| {
                path_disk(
                    &format!("d{i:05}"),
                    &format!("pci-0000:00:00.0-sas-phy1-lun-{i:x}"),
                    "S",
                )
            })
            .collect();
        let pci: Vec<Value> = (0..N)
            .map(
                |i| json!({"pci_address": format!("{i:08x}"), "vendor_id": "1", "product_id": "2"}),
            )
            .collect();
        let mut resources = with("/storage/disks", Value::Array(disks));
        set(&mut resources, "/pci/devices", Value::Array(pci));
        let mut doc = full(resources);
        set(&mut doc, "/networks", Value::Object(networks));
        let t = std::time::Instant::now();
        let i = inv(&doc);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(i.logical_interfaces.len(), N - 1);
        assert_eq!(i.logical_interfaces[N - 2].parents, [format!("e{}", N - 2)]);
        assert_eq!(i.block_devices.len(), N);
        assert_eq!(i.pci_devices.len(), N);
    }

    #[test]
    fn storage_extra_is_passed_through() {
        let mut d = full(base());
        set(
            &mut d,
            "/storage-extra",
            json!({"layout": {"sda": {"type": "disk"}}}),
        );
        assert_eq!(
            inv(&d).storage_extra,
            Some(json!({"layout": {"sda": {"type": "disk"}}}))
        );
    }
}
