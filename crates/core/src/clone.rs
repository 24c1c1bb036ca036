//! Cloning a machine's configuration onto others (spec §2.6, §7): whether a destination can
//! take the source's storage and interfaces, how the source's disks and interfaces map onto the
//! destination's, and the destination's new storage model and interface plan. No IO: the region
//! loads the facts, the store applies the result in one transaction per destination.

use crate::storage::{
    Bcache, CacheSet, Filesystem, LogicalVolume, Object, PartTable, Partition, Raid, SpecialFs,
    StorageModel, UuidGen, Volume, VolumeGroup,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A physical block device as cloning sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneDisk {
    pub id: i64,
    pub name: String,
    pub size: u64,
    pub tags: Vec<String>,
    pub boot: bool,
}

/// What the storage rules need about one machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageFacts {
    pub architecture: String,
    /// How the machine boots (`uefi` or `bios`).
    pub boot_method: String,
    pub disks: Vec<CloneDisk>,
}

/// Why a destination cannot take the source's configuration. Every message says what differs
/// with the values of both sides; the region prefixes the destination's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloneError {
    #[error("node architectures do not match (destination {destination} != source {origin})")]
    Architecture { destination: String, origin: String },
    #[error("node boot methods do not match (destination {destination} != source {origin})")]
    BootMethod { destination: String, origin: String },
    #[error("destination node has no physical block devices")]
    NoDestinationDisks,
    #[error("source node has no physical block devices")]
    NoSourceDisks,
    #[error("destination boot disk {dest_name} ({dest_size} bytes) is smaller than source boot disk {source_name} ({source_size} bytes)")]
    BootDiskSmaller {
        dest_name: String,
        dest_size: u64,
        source_name: String,
        source_size: u64,
    },
    /// Counts include the boot disks (as MAAS counts them).
    #[error("destination node has fewer physical block devices than the source node ({destination} < {origin})")]
    NotEnoughDisks { destination: usize, origin: usize },
    #[error("{} source node physical block device(s) have no matching destination physical block device at least as large: {}", .unmatched.len(), .unmatched.join(", "))]
    UnmatchedDisks { unmatched: Vec<String> },
    #[error("destination node physical interfaces do not match the source node's physical interfaces: missing {}", .missing.join(", "))]
    InterfacesMissing { missing: Vec<String> },
    /// The source's storage model refers to something it does not have (a corrupt model).
    #[error("the source's storage cannot be copied: {0}")]
    Storage(String),
    /// A source interface refers to a parent that is not one of its interfaces.
    #[error("the source's interfaces cannot be copied: {0}")]
    Interfaces(String),
}

fn tag_set(d: &CloneDisk) -> BTreeSet<&str> {
    d.tags.iter().map(String::as_str).collect()
}

fn describe(d: &CloneDisk) -> String {
    format!("{} ({} bytes)", d.name, d.size)
}

/// Map the source's physical disks onto the destination's (MAAS
/// `_get_storage_mapping_between_nodes`): architectures and boot methods must match; boot disk
/// to boot disk (the destination's at least as large); then the other disks, each destination
/// disk used once — pass 1 equal size and identical tags, pass 2 (smallest first) a destination
/// at least as large with identical tags, pass 3 at least as large whatever the tags. Every
/// source disk must map; extra destination disks stay unused. Returns source id → destination id.
pub fn storage_mapping(
    source: &StorageFacts,
    dest: &StorageFacts,
) -> Result<BTreeMap<i64, i64>, CloneError> {
    if dest.architecture != source.architecture {
        return Err(CloneError::Architecture {
            destination: dest.architecture.clone(),
            origin: source.architecture.clone(),
        });
    }
    if dest.boot_method != source.boot_method {
        return Err(CloneError::BootMethod {
            destination: dest.boot_method.clone(),
            origin: source.boot_method.clone(),
        });
    }
    let boot = |f: &StorageFacts| -> Option<CloneDisk> {
        f.disks
            .iter()
            .find(|d| d.boot)
            .or_else(|| f.disks.first())
            .cloned()
    };
    let dest_boot = boot(dest).ok_or(CloneError::NoDestinationDisks)?;
    let source_boot = boot(source).ok_or(CloneError::NoSourceDisks)?;
    if dest_boot.size < source_boot.size {
        return Err(CloneError::BootDiskSmaller {
            dest_name: dest_boot.name,
            dest_size: dest_boot.size,
            source_name: source_boot.name,
            source_size: source_boot.size,
        });
    }
    let mut src: Vec<&CloneDisk> = source
        .disks
        .iter()
        .filter(|d| d.id != source_boot.id)
        .collect();
    let mut dst: Vec<&CloneDisk> = dest.disks.iter().filter(|d| d.id != dest_boot.id).collect();
    if dst.len() < src.len() {
        return Err(CloneError::NotEnoughDisks {
            destination: dst.len() + 1,
            origin: src.len() + 1,
        });
    }
    let mut map = BTreeMap::new();
    map.insert(source_boot.id, dest_boot.id);
    // Pass 1: same size, same tags, in the source's order.
    let mut i = 0;
    while i < src.len() {
        let s = src[i];
        match dst
            .iter()
            .position(|d| d.size == s.size && tag_set(d) == tag_set(s))
        {
            Some(j) => {
                map.insert(s.id, dst.remove(j).id);
                src.remove(i);
            }
            None => i += 1,
        }
    }
    // Passes 2 and 3: by size, smallest first; the smallest destination that fits.
    src.sort_by_key(|d| (d.size, d.id));
    dst.sort_by_key(|d| (d.size, d.id));
    for same_tags in [true, false] {
        let mut i = 0;
        while i < src.len() {
            let s = src[i];
            match dst
                .iter()
                .position(|d| d.size >= s.size && (!same_tags || tag_set(d) == tag_set(s)))
            {
                Some(j) => {
                    map.insert(s.id, dst.remove(j).id);
                    src.remove(i);
                }
                None => i += 1,
            }
        }
    }
    if !src.is_empty() {
        return Err(CloneError::UnmatchedDisks {
            unmatched: src.iter().map(|d| describe(d)).collect(),
        });
    }
    Ok(map)
}

/// The destination's storage model: its disks, and the source's objects (partition tables,
/// partitions, RAIDs, volume groups, logical volumes, cache sets, bcaches, filesystems) re-created on
/// the mapped disks with new (temporary) ids and new UUIDs. Whatever the destination had is
/// gone. Sizes are the source's: every mapped destination disk is at least as large.
pub fn cloned_storage(
    source: &StorageModel,
    mapping: &BTreeMap<i64, i64>,
    dest: &StorageModel,
    uuid: UuidGen,
) -> Result<StorageModel, CloneError> {
    let mut out = dest.clone();
    out.clear();
    let mut ids: HashMap<i64, i64> = HashMap::new();
    let missing = |what: &str, id: i64| CloneError::Storage(format!("{what} {id} is not mapped"));
    let disk = |id: i64| mapping.get(&id).copied().ok_or_else(|| missing("disk", id));
    let vol = |v: Volume, ids: &HashMap<i64, i64>| -> Result<Volume, CloneError> {
        Ok(match v {
            Volume::Disk(d) => Volume::Disk(disk(d)?),
            Volume::Partition(p) => {
                Volume::Partition(*ids.get(&p).ok_or_else(|| missing("partition", p))?)
            }
            Volume::LogicalVolume(l) => {
                Volume::LogicalVolume(*ids.get(&l).ok_or_else(|| missing("logical volume", l))?)
            }
            Volume::Bcache(b) => Volume::Bcache(*ids.get(&b).ok_or_else(|| missing("bcache", b))?),
            Volume::Raid(r) => Volume::Raid(*ids.get(&r).ok_or_else(|| missing("RAID", r))?),
        })
    };
    let mut objects = Vec::new();
    // `objects()` lists referenced objects before those referring to them.
    for o in source.objects() {
        let id = out.new_id();
        ids.insert(o.id(), id);
        let copy = match o {
            Object::Table(t) => Object::Table(PartTable {
                id,
                disk: disk(t.disk)?,
                table: t.table,
            }),
            Object::Partition(p) => Object::Partition(Partition {
                id,
                disk: disk(p.disk)?,
                number: p.number,
                size: p.size,
                bootable: p.bootable,
                uuid: uuid(),
                tags: p.tags.clone(),
            }),
            Object::VolumeGroup(g) => Object::VolumeGroup(VolumeGroup {
                id,
                name: g.name.clone(),
                uuid: uuid(),
                devices: g
                    .devices
                    .iter()
                    .map(|d| vol(*d, &ids))
                    .collect::<Result<_, _>>()?,
            }),
            Object::LogicalVolume(l) => Object::LogicalVolume(LogicalVolume {
                id,
                vg: *ids
                    .get(&l.vg)
                    .ok_or_else(|| missing("volume group", l.vg))?,
                name: l.name.clone(),
                size: l.size,
                uuid: uuid(),
            }),
            Object::CacheSet(c) => Object::CacheSet(CacheSet {
                id,
                name: c.name.clone(),
                device: vol(c.device, &ids)?,
            }),
            Object::Bcache(b) => Object::Bcache(Bcache {
                id,
                name: b.name.clone(),
                uuid: uuid(),
                backing: vol(b.backing, &ids)?,
                cache_set: *ids
                    .get(&b.cache_set)
                    .ok_or_else(|| missing("cache set", b.cache_set))?,
                cache_mode: b.cache_mode,
            }),
            Object::Filesystem(f) => Object::Filesystem(Filesystem {
                id,
                volume: vol(f.volume, &ids)?,
                fstype: f.fstype,
                label: f.label.clone(),
                uuid: uuid(),
                mount_point: f.mount_point.clone(),
                mount_options: f.mount_options.clone(),
            }),
            Object::Special(x) => Object::Special(SpecialFs { id, ..x.clone() }),
            Object::Raid(r) => Object::Raid(Raid {
                id,
                name: r.name.clone(),
                uuid: uuid(),
                level: r.level,
                devices: r
                    .devices
                    .iter()
                    .map(|d| vol(*d, &ids))
                    .collect::<Result<_, _>>()?,
                spares: r
                    .spares
                    .iter()
                    .map(|d| vol(*d, &ids))
                    .collect::<Result<_, _>>()?,
            }),
        };
        objects.push(copy);
    }
    let temp = out.temp;
    let mut model = StorageModel::from_parts(out.disks, objects)
        .map_err(|e| CloneError::Storage(e.to_string()))?;
    model.temp = temp;
    Ok(model)
}

/// An interface as cloning sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct CloneIface {
    pub id: i64,
    pub name: String,
    /// physical | bond | vlan | bridge
    pub kind: String,
    pub mac: String,
    pub enabled: bool,
    pub params: Value,
    pub parents: Vec<i64>,
    pub links: Vec<CloneLink>,
}

/// A link of an interface to a subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneLink {
    /// auto | static | dhcp | link_up
    pub mode: String,
    pub subnet_id: Option<i64>,
    /// The link holds an address (STATIC, or AUTO after deployment).
    pub has_address: bool,
    pub default_gateway: bool,
}

/// Where a planned link or parent lives on the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfaceRef {
    /// An existing physical interface (its id).
    Physical(i64),
    /// The n-th interface of [`IfacePlan::virtuals`].
    New(usize),
}

/// A physical interface of the destination takes the source's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PhysicalUpdate {
    pub id: i64,
    pub enabled: bool,
    pub params: Value,
}

/// A bond, VLAN or bridge to create on the destination.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVirtual {
    pub kind: String,
    pub name: String,
    pub enabled: bool,
    /// The source's parameters with `mac_address` the destination's first parent's.
    pub params: Value,
    pub parents: Vec<IfaceRef>,
}

/// A link to create; `new_address` asks for a fresh address from the subnet (never the
/// source's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedLink {
    pub iface: IfaceRef,
    pub mode: String,
    pub subnet_id: Option<i64>,
    pub new_address: bool,
    pub default_gateway: bool,
}

/// The destination's new network configuration. Applying it replaces all of the destination's
/// links and non-physical interfaces.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IfacePlan {
    pub physical: Vec<PhysicalUpdate>,
    /// Parents before children (layer by layer).
    pub virtuals: Vec<NewVirtual>,
    pub links: Vec<PlannedLink>,
}

/// Map the source's physical interfaces onto the destination's by name (MAAS
/// `_get_interface_mapping_between_nodes`): every source name must exist on the destination,
/// which may have more. Returns source id → destination id.
pub fn interface_mapping(
    source: &[CloneIface],
    dest: &[CloneIface],
) -> Result<BTreeMap<i64, i64>, CloneError> {
    let mut map = BTreeMap::new();
    let mut missing = Vec::new();
    for s in source.iter().filter(|i| i.kind == "physical") {
        match dest
            .iter()
            .find(|d| d.kind == "physical" && d.name == s.name)
        {
            Some(d) => {
                map.insert(s.id, d.id);
            }
            None => missing.push(s.name.clone()),
        }
    }
    if missing.is_empty() {
        Ok(map)
    } else {
        Err(CloneError::InterfacesMissing { missing })
    }
}

/// The destination's interface plan: mapped physical interfaces take the source's enabled flag
/// and parameters; bonds, VLANs and bridges are re-created layer by layer on the mapped
/// interfaces (showing their first parent's MAC); every link is copied, those holding an
/// address asking for a new one.
pub fn interface_plan(source: &[CloneIface], dest: &[CloneIface]) -> Result<IfacePlan, CloneError> {
    let mapping = interface_mapping(source, dest)?;
    let mut plan = IfacePlan::default();
    let mut refs: HashMap<i64, IfaceRef> = HashMap::new();
    let mut macs: HashMap<i64, String> = HashMap::new();
    for (s, d) in &mapping {
        refs.insert(*s, IfaceRef::Physical(*d));
        let src = source.iter().find(|i| i.id == *s);
        let dst = dest.iter().find(|i| i.id == *d);
        if let (Some(src), Some(dst)) = (src, dst) {
            macs.insert(*s, dst.mac.clone());
            plan.physical.push(PhysicalUpdate {
                id: *d,
                enabled: src.enabled,
                params: src.params.clone(),
            });
        }
    }
    // Virtual interfaces, each once all its parents are placed.
    let mut pending: Vec<&CloneIface> = source.iter().filter(|i| i.kind != "physical").collect();
    while !pending.is_empty() {
        let before = pending.len();
        let mut i = 0;
        while i < pending.len() {
            let v = pending[i];
            if !v.parents.iter().all(|p| refs.contains_key(p)) {
                i += 1;
                continue;
            }
            let parents: Vec<IfaceRef> = v
                .parents
                .iter()
                .filter_map(|p| refs.get(p))
                .copied()
                .collect();
            let mac = v
                .parents
                .first()
                .and_then(|p| macs.get(p))
                .cloned()
                .unwrap_or_default();
            let mut params = v.params.clone();
            if let Some(o) = params.as_object_mut() {
                o.insert("mac_address".into(), Value::String(mac.clone()));
            }
            let n = plan.virtuals.len();
            plan.virtuals.push(NewVirtual {
                kind: v.kind.clone(),
                name: v.name.clone(),
                enabled: v.enabled,
                params,
                parents,
            });
            refs.insert(v.id, IfaceRef::New(n));
            macs.insert(v.id, mac);
            pending.remove(i);
        }
        if pending.len() == before {
            return Err(CloneError::Interfaces(format!(
                "{} refers to an interface the source does not have",
                pending
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    for i in source {
        let Some(r) = refs.get(&i.id) else { continue };
        for l in &i.links {
            plan.links.push(PlannedLink {
                iface: *r,
                mode: l.mode.clone(),
                subnet_id: l.subnet_id,
                new_address: l.has_address && matches!(l.mode.as_str(), "static" | "auto"),
                default_gateway: l.default_gateway,
            });
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests;
