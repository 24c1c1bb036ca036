//! Out-of-band hardware inventory: a Redfish *capture* (what `ingot_power`'s
//! `Redfish::read_inventory` read from a BMC) → a bare LXD `/1.0/resources` object, which
//! [`crate::inventory::derive_value`] reads like any commissioning output. Pure.
//!
//! What is taken from where (absent or unusable values are left out, never made up):
//! * CPU threads: `ProcessorSummary.LogicalProcessorCount`, else the sum of the present CPU
//!   processors' `TotalThreads` (all must have it), else of their `TotalCores`. One socket per
//!   present CPU processor (`Model` as its name, `OperatingSpeedMHz` as frequency, `MaxSpeedMHz`
//!   as turbo frequency), or one socket named `ProcessorSummary.Model` when no processor was read.
//! * Memory: the sum of the present DIMMs' `CapacityMiB`, else
//!   `MemorySummary.TotalSystemMemoryGiB`.
//! * Disks: each present Storage Drive with `CapacityBytes` (`Model`, `SerialNumber`, `Revision`,
//!   `BlockSizeBytes`, `RotationSpeedRPM` unless `MediaType` is SSD, `Protocol` as the type);
//!   when no Storage collection was read, the SimpleStorage devices with `CapacityBytes`.
//! * Interfaces: each present EthernetInterface with a MAC (`MACAddress`, else
//!   `PermanentMACAddress`): link detected when `LinkStatus` is `LinkUp`, `SpeedMbps` as link
//!   speed.
//! * System: `UUID`, `Manufacturer` (vendor), `Model` (product), `SerialNumber`, `SKU`,
//!   `BiosVersion` (firmware version).
//!
//! Names: a BMC does not know the kernel's device names, so disks are named as Linux names
//! them in the order read (`sda`, `sdb`, …; `nvme0n1`, `nvme1n1`, … for NVMe drives) and
//! interfaces `eth0`, `eth1`, … as machines added by MAC are. Commissioning later matches disks
//! by serial/path and interfaces by MAC and replaces these names with the real ones.
//!
//! [`Converted::reported`] says which parts the BMC reported at all, so that the caller keeps
//! what it knew about the others instead of overwriting it with nothing.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Why a capture could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedfishError {
    #[error("the Redfish capture is not a JSON object")]
    NotAnObject,
    #[error("the Redfish capture has no ComputerSystem resource (\"system\")")]
    NoSystem,
}

/// Which parts of the inventory the BMC reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reported {
    pub cpu: bool,
    pub memory: bool,
    pub storage: bool,
    pub interfaces: bool,
}

/// The converted capture.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// A bare LXD resources object (`cpu`, `memory`, `storage`, `network`, `system`).
    pub resources: Value,
    pub reported: Reported,
}

fn present(v: &Value) -> bool {
    !matches!(
        v.pointer("/Status/State").and_then(Value::as_str),
        Some("Absent")
    )
}

fn text<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A non-negative integer (BMCs sometimes send integral floats).
fn uint(v: &Value, key: &str) -> Option<u64> {
    let x = v.get(key)?;
    x.as_u64().or_else(|| {
        x.as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0)
            .map(|f| f as u64)
    })
}

fn list<'v>(capture: &'v Value, key: &str) -> Option<&'v [Value]> {
    capture
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
}

/// The `i`th (from 0) SCSI disk name: `sda`, …, `sdz`, `sdaa`, … (Linux's scheme).
pub fn sd_name(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'a' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    format!("sd{}", String::from_utf8_lossy(&s))
}

/// A MAC in any of the usual forms (`:`/`-` separators, either case) → lower-case colon form.
fn normal_mac(s: &str) -> Option<String> {
    let hex: String = s.chars().filter(|c| *c != ':' && *c != '-').collect();
    if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let hex = hex.to_ascii_lowercase();
    let parts: Vec<&str> = (0..6).map(|i| &hex[i * 2..i * 2 + 2]).collect();
    Some(parts.join(":"))
}

/// Convert a capture (see the module documentation).
pub fn resources(capture: &Value) -> Result<Converted, RedfishError> {
    if !capture.is_object() {
        return Err(RedfishError::NotAnObject);
    }
    let system = capture
        .get("system")
        .filter(|s| s.is_object())
        .ok_or(RedfishError::NoSystem)?;
    let mut reported = Reported::default();

    // CPU.
    let cpus: Vec<&Value> = list(capture, "processors")
        .unwrap_or_default()
        .iter()
        .filter(|p| present(p))
        .filter(|p| text(p, "ProcessorType").is_none_or(|t| t == "CPU"))
        .collect();
    let summary = system.get("ProcessorSummary").unwrap_or(&Value::Null);
    let sum_of = |key: &str| -> Option<u64> {
        if cpus.is_empty() {
            return None;
        }
        cpus.iter().map(|p| uint(p, key)).sum()
    };
    let threads = uint(summary, "LogicalProcessorCount")
        .or_else(|| sum_of("TotalThreads"))
        .or_else(|| sum_of("TotalCores"))
        .filter(|n| *n > 0);
    reported.cpu = threads.is_some();
    let mut sockets: Vec<Value> = Vec::new();
    for (i, p) in cpus.iter().enumerate() {
        let mut s = Map::new();
        s.insert("socket".into(), json!(i));
        if let Some(m) = text(p, "Model") {
            s.insert("name".into(), json!(m));
        }
        if let Some(f) = uint(p, "OperatingSpeedMHz") {
            s.insert("frequency".into(), json!(f));
        }
        if let Some(f) = uint(p, "MaxSpeedMHz") {
            s.insert("frequency_turbo".into(), json!(f));
        }
        sockets.push(Value::Object(s));
    }
    if sockets.is_empty() {
        if let Some(m) = text(summary, "Model") {
            sockets.push(json!({"socket": 0, "name": m}));
        }
    }
    let cpu = json!({"total": threads.unwrap_or(0), "sockets": sockets});

    // Memory.
    let dimms: Option<u64> = list(capture, "memory").and_then(|ms| {
        let sizes: Vec<u64> = ms
            .iter()
            .filter(|m| present(m))
            .filter_map(|m| uint(m, "CapacityMiB"))
            .collect();
        (!sizes.is_empty()).then(|| sizes.iter().sum::<u64>().saturating_mul(1024 * 1024))
    });
    let total_memory = dimms.filter(|b| *b > 0).or_else(|| {
        system
            .pointer("/MemorySummary/TotalSystemMemoryGiB")
            .and_then(Value::as_f64)
            .filter(|g| g.is_finite() && *g > 0.0)
            .map(|g| (g * 1024.0 * 1024.0 * 1024.0).round() as u64)
    });
    reported.memory = total_memory.is_some();
    let memory = json!({"total": total_memory.unwrap_or(0)});

    // Disks.
    let mut disks: Vec<Value> = Vec::new();
    let (mut sd, mut nvme) = (0usize, 0usize);
    let mut name_for = |protocol: Option<&str>| {
        if protocol.is_some_and(|p| p.eq_ignore_ascii_case("nvme")) {
            nvme += 1;
            format!("nvme{}n1", nvme - 1)
        } else {
            sd += 1;
            sd_name(sd - 1)
        }
    };
    if let Some(storages) = list(capture, "storage") {
        for st in storages {
            let drives = st.get("drives").and_then(Value::as_array);
            for d in drives.into_iter().flatten().filter(|d| present(d)) {
                let Some(size) = uint(d, "CapacityBytes").filter(|s| *s > 0) else {
                    continue;
                };
                let protocol = text(d, "Protocol");
                let mut o = Map::new();
                o.insert("id".into(), json!(name_for(protocol)));
                o.insert("size".into(), json!(size));
                if let Some(p) = protocol {
                    o.insert("type".into(), json!(p.to_ascii_lowercase()));
                }
                for (k, out) in [
                    ("Model", "model"),
                    ("SerialNumber", "serial"),
                    ("Revision", "firmware_version"),
                ] {
                    if let Some(v) = text(d, k) {
                        o.insert(out.into(), json!(v));
                    }
                }
                if let Some(b) = uint(d, "BlockSizeBytes") {
                    o.insert("block_size".into(), json!(b));
                }
                if text(d, "MediaType") != Some("SSD") {
                    if let Some(r) = uint(d, "RotationSpeedRPM").filter(|r| *r > 0) {
                        o.insert("rpm".into(), json!(r));
                    }
                }
                disks.push(Value::Object(o));
            }
        }
    } else if let Some(simple) = list(capture, "simple_storage") {
        for ss in simple {
            let devices = ss.get("Devices").and_then(Value::as_array);
            for d in devices.into_iter().flatten().filter(|d| present(d)) {
                let Some(size) = uint(d, "CapacityBytes").filter(|s| *s > 0) else {
                    continue;
                };
                let mut o = Map::new();
                o.insert("id".into(), json!(name_for(None)));
                o.insert("size".into(), json!(size));
                if let Some(m) = text(d, "Model") {
                    o.insert("model".into(), json!(m));
                }
                disks.push(Value::Object(o));
            }
        }
    }
    reported.storage = !disks.is_empty();

    // Interfaces.
    let mut cards: Vec<Value> = Vec::new();
    for e in list(capture, "ethernet_interfaces")
        .unwrap_or_default()
        .iter()
        .filter(|e| present(e))
    {
        let Some(mac) = text(e, "MACAddress")
            .and_then(normal_mac)
            .or_else(|| text(e, "PermanentMACAddress").and_then(normal_mac))
        else {
            continue;
        };
        let mut port = Map::new();
        port.insert("id".into(), json!(format!("eth{}", cards.len())));
        port.insert("address".into(), json!(mac));
        port.insert(
            "link_detected".into(),
            json!(text(e, "LinkStatus") == Some("LinkUp")),
        );
        if let Some(s) = uint(e, "SpeedMbps") {
            port.insert("link_speed".into(), json!(s));
        }
        cards.push(json!({"ports": [Value::Object(port)]}));
    }
    reported.interfaces = !cards.is_empty();

    // System.
    let mut sys = Map::new();
    for (k, out) in [
        ("UUID", "uuid"),
        ("Manufacturer", "vendor"),
        ("Model", "product"),
        ("SerialNumber", "serial"),
        ("SKU", "sku"),
    ] {
        if let Some(v) = text(system, k) {
            sys.insert(out.into(), json!(v));
        }
    }
    if let Some(v) = text(system, "BiosVersion") {
        sys.insert("firmware".into(), json!({"version": v}));
    }

    Ok(Converted {
        resources: json!({
            "cpu": cpu,
            "memory": memory,
            "storage": {"disks": disks},
            "network": {"cards": cards},
            "system": Value::Object(sys),
        }),
        reported,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sd_names_follow_linux() {
        assert_eq!(sd_name(0), "sda");
        assert_eq!(sd_name(25), "sdz");
        assert_eq!(sd_name(26), "sdaa");
        assert_eq!(sd_name(27), "sdab");
        assert_eq!(sd_name(52), "sdba");
    }

    #[test]
    fn macs_are_normalised() {
        assert_eq!(
            normal_mac("52-54-00-AB-CD-EF").as_deref(),
            Some("52:54:00:ab:cd:ef")
        );
        assert_eq!(normal_mac("not a mac"), None);
        assert_eq!(normal_mac("52:54:00:ab:cd"), None);
    }
}
