//! A machine's storage model in MAAS's shape (physical disks, partition tables, partitions,
//! filesystems, LVM volume groups and logical volumes, bcache cache sets and devices, RAID
//! arrays: [`raid`]), the
//! layouts of `set_storage_layout` (flat, lvm, bcache, blank), the manual-edit rules, and the
//! model as the ordered [`StorageStep`]s the agent applies at deployment. No IO: UUIDs come
//! from the caller's generator; new objects get negative (temporary) ids until the store
//! gives them real ones ([`StorageModel::remap_ids`]).

use crate::deploy::{CacheMode, FsType, PartitionFlag, PartitionTable, RaidLevel, StorageStep};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const KIB: u64 = 1 << 10;
pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;
pub const TIB: u64 = 1 << 40;
/// Partitions and logical volumes are sized in multiples of this (MAAS).
pub const ALIGNMENT: u64 = 4 * MIB;
/// The smallest partition or volume (MAAS `MIN_PARTITION_SIZE`, `MIN_BLOCK_DEVICE_SIZE`).
pub const MIN_SIZE: u64 = 4 * MIB;
/// Reserved at the start of every partitioned disk (the table and the first-partition gap).
pub const TABLE_HEAD: u64 = MIB;
/// Reserved at the end of a GPT disk (the backup table).
pub const GPT_TAIL: u64 = MIB;
/// A GPT boot disk booted by BIOS needs a BIOS boot partition; its room is always reserved on
/// GPT disks so that a model works under either firmware.
pub const BIOS_GRUB_SIZE: u64 = MIB;
/// The EFI system partition of UEFI layouts.
pub const ESP_SIZE: u64 = 512 * MIB;
/// `/boot` of the lvm and bcache layouts unless `boot_size` says otherwise.
pub const DEFAULT_BOOT_SIZE: u64 = GIB;
/// Larger boot disks get GPT even under BIOS (MBR cannot address them).
pub const MBR_MAX_DISK: u64 = 2 * TIB;
/// An MBR holds at most this many (primary) partitions.
pub const MBR_MAX_PARTITIONS: usize = 4;
/// LVM metadata taken from each physical volume.
pub const LVM_PV_OVERHEAD: u64 = 4 * MIB;

/// Something a filesystem, volume group, cache set or bcache can sit on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Volume {
    Disk(i64),
    Partition(i64),
    LogicalVolume(i64),
    Bcache(i64),
    Raid(i64),
}

/// A physical disk as commissioning found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disk {
    pub id: i64,
    pub name: String,
    pub serial: String,
    pub id_path: String,
    pub size: u64,
    pub block_size: u64,
    pub tags: Vec<String>,
    pub boot: bool,
}

impl Disk {
    pub fn is_ssd(&self) -> bool {
        self.tags.iter().any(|t| t == "ssd")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartTable {
    pub id: i64,
    pub disk: i64,
    pub table: PartitionTable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    pub id: i64,
    pub disk: i64,
    /// Position on the disk (1, 2, …); renumbered densely at deployment.
    pub number: u32,
    pub size: u64,
    pub bootable: bool,
    pub uuid: String,
    /// Tags set by hand (`partition/{id}/?op=add_tag`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filesystem {
    pub id: i64,
    pub volume: Volume,
    pub fstype: FsType,
    pub label: String,
    pub uuid: String,
    pub mount_point: Option<String>,
    pub mount_options: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeGroup {
    pub id: i64,
    pub name: String,
    pub uuid: String,
    /// Physical volumes: disks or partitions.
    pub devices: Vec<Volume>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogicalVolume {
    pub id: i64,
    pub vg: i64,
    pub name: String,
    pub size: u64,
    pub uuid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheSet {
    pub id: i64,
    pub name: String,
    pub device: Volume,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bcache {
    pub id: i64,
    pub name: String,
    pub uuid: String,
    pub backing: Volume,
    pub cache_set: i64,
    pub cache_mode: CacheMode,
}

/// An md RAID array of disks and partitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Raid {
    pub id: i64,
    pub name: String,
    pub uuid: String,
    pub level: RaidLevel,
    /// Active members.
    pub devices: Vec<Volume>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spares: Vec<Volume>,
}

/// A filesystem with no device (MAAS's special filesystems: `tmpfs`, `ramfs`), mounted in
/// the installed OS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecialFs {
    pub id: i64,
    /// `tmpfs` or `ramfs`.
    pub fstype: String,
    pub mount_point: String,
    pub mount_options: Option<String>,
}

/// Every stored (non-disk) object, as the store keeps them (one row each).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Object {
    Table(PartTable),
    Partition(Partition),
    Filesystem(Filesystem),
    VolumeGroup(VolumeGroup),
    LogicalVolume(LogicalVolume),
    CacheSet(CacheSet),
    Bcache(Bcache),
    Special(SpecialFs),
    Raid(Raid),
}

impl Object {
    pub fn id(&self) -> i64 {
        match self {
            Object::Table(o) => o.id,
            Object::Partition(o) => o.id,
            Object::Filesystem(o) => o.id,
            Object::VolumeGroup(o) => o.id,
            Object::LogicalVolume(o) => o.id,
            Object::CacheSet(o) => o.id,
            Object::Bcache(o) => o.id,
            Object::Special(o) => o.id,
            Object::Raid(o) => o.id,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Object::Table(_) => "table",
            Object::Partition(_) => "partition",
            Object::Filesystem(_) => "filesystem",
            Object::VolumeGroup(_) => "volume_group",
            Object::LogicalVolume(_) => "logical_volume",
            Object::CacheSet(_) => "cache_set",
            Object::Bcache(_) => "bcache",
            Object::Special(_) => "special_filesystem",
            Object::Raid(_) => "raid",
        }
    }
}

/// What a volume is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    Filesystem(i64),
    Partitioned,
    VolumeGroup(i64),
    CacheSet(i64),
    Backing(i64),
    /// An active member of a RAID.
    Raid(i64),
    /// A spare of a RAID.
    RaidSpare(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// A parameter is wrong: (field, message).
    #[error("{0}: {1}")]
    Field(String, String),
    /// The thing named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The operation is not possible in the model's current state.
    #[error("{0}")]
    Invalid(String),
}

fn field(f: &str, m: impl Into<String>) -> StorageError {
    StorageError::Field(f.to_string(), m.into())
}

fn invalid(m: impl Into<String>) -> StorageError {
    StorageError::Invalid(m.into())
}

pub type Result<T> = std::result::Result<T, StorageError>;

pub fn align_down(n: u64) -> u64 {
    n / ALIGNMENT * ALIGNMENT
}

pub fn align_up(n: u64) -> u64 {
    n.div_ceil(ALIGNMENT) * ALIGNMENT
}

/// A size as MAAS accepts it: plain bytes, or an integer with K/M/G/T/P (powers of 1000, as
/// MAAS's `machine_readable_bytes`; `Ki`/`Mi`/`Gi`/`Ti` for powers of 1024). `None` for junk.
pub fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s.strip_suffix(['B', 'b']).unwrap_or(s);
    let (num, mult) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        None => (s, 1u64),
        Some((i, _)) => {
            let unit = &s[i..];
            let m = match unit.to_ascii_uppercase().as_str() {
                "K" => 1000,
                "M" => 1000u64.pow(2),
                "G" => 1000u64.pow(3),
                "T" => 1000u64.pow(4),
                "P" => 1000u64.pow(5),
                "KI" => KIB,
                "MI" => MIB,
                "GI" => GIB,
                "TI" => TIB,
                _ => return None,
            };
            (&s[..i], m)
        }
    };
    let n: u64 = num.trim().parse().ok()?;
    n.checked_mul(mult)
}

/// A size or a percentage of `whole` (`50%`), as MAAS's `BytesOrPercentageField`.
pub fn parse_size_of(f: &str, s: &str, whole: u64) -> Result<u64> {
    let t = s.trim();
    if let Some(p) = t.strip_suffix('%') {
        let pct: f64 = p
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| *v > 0.0 && *v <= 100.0)
            .ok_or_else(|| field(f, format!("'{s}' is not a percentage between 0 and 100.")))?;
        return Ok((whole as f64 * pct / 100.0) as u64);
    }
    parse_bytes(t).ok_or_else(|| {
        field(
            f,
            format!("'{s}' is not a size: give bytes, or a number with K, M, G or T (e.g. 10G)."),
        )
    })
}

/// The MAAS layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Flat,
    Lvm,
    Bcache,
    Blank,
}

impl Layout {
    pub fn parse(s: &str) -> Option<Layout> {
        match s.trim().to_ascii_lowercase().as_str() {
            "flat" => Some(Layout::Flat),
            "lvm" => Some(Layout::Lvm),
            "bcache" => Some(Layout::Bcache),
            "blank" => Some(Layout::Blank),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Flat => "flat",
            Layout::Lvm => "lvm",
            Layout::Bcache => "bcache",
            Layout::Blank => "blank",
        }
    }
}

/// The parameters of `set_storage_layout`, sizes unparsed (they may be percentages of a device
/// not chosen yet), as the API receives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayoutParams {
    pub boot_size: Option<String>,
    pub root_device: Option<i64>,
    pub root_size: Option<String>,
    pub vg_name: Option<String>,
    pub lv_name: Option<String>,
    pub lv_size: Option<String>,
    pub cache_device: Option<i64>,
    pub cache_mode: Option<CacheMode>,
    pub cache_size: Option<String>,
    pub cache_no_part: bool,
}

/// Source of fresh UUIDs (the region's random ones; tests use a counter).
pub type UuidGen<'a> = &'a mut dyn FnMut() -> String;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageModel {
    pub disks: Vec<Disk>,
    pub tables: Vec<PartTable>,
    pub partitions: Vec<Partition>,
    pub filesystems: Vec<Filesystem>,
    pub volume_groups: Vec<VolumeGroup>,
    pub logical_volumes: Vec<LogicalVolume>,
    pub cache_sets: Vec<CacheSet>,
    pub bcaches: Vec<Bcache>,
    pub specials: Vec<SpecialFs>,
    pub raids: Vec<Raid>,
    /// The last temporary id handed out (negative).
    pub temp: i64,
}

impl StorageModel {
    /// A model of these disks and stored objects. References to missing objects are an error.
    pub fn from_parts(disks: Vec<Disk>, objects: Vec<Object>) -> Result<StorageModel> {
        let mut m = StorageModel {
            disks,
            ..Default::default()
        };
        for o in objects {
            m.push(o);
        }
        m.check_refs()?;
        Ok(m)
    }

    /// A model of these disks and stored objects, leaving out (transitively) every object that
    /// refers to something missing, e.g. a disk that recommissioning no longer found.
    pub fn from_parts_pruned(disks: Vec<Disk>, mut objects: Vec<Object>) -> StorageModel {
        loop {
            let mut m = StorageModel {
                disks: disks.clone(),
                ..Default::default()
            };
            for o in objects.iter().cloned() {
                m.push(o);
            }
            match objects.iter().position(|o| !m.refs_ok(o)) {
                Some(i) => {
                    objects.remove(i);
                }
                None => return m,
            }
        }
    }

    fn refs_ok(&self, o: &Object) -> bool {
        match o {
            Object::Table(t) => self.disk(t.disk).is_some(),
            Object::Partition(p) => self.disk(p.disk).is_some(),
            Object::Filesystem(f) => self.exists(f.volume),
            Object::VolumeGroup(g) => g.devices.iter().all(|d| self.exists(*d)),
            Object::LogicalVolume(l) => self.vg(l.vg).is_some(),
            Object::CacheSet(c) => self.exists(c.device),
            Object::Bcache(b) => self.exists(b.backing) && self.cache_set(b.cache_set).is_some(),
            Object::Special(_) => true,
            Object::Raid(r) => r.devices.iter().chain(&r.spares).all(|d| self.exists(*d)),
        }
    }

    fn push(&mut self, o: Object) {
        match o {
            Object::Table(o) => self.tables.push(o),
            Object::Partition(o) => self.partitions.push(o),
            Object::Filesystem(o) => self.filesystems.push(o),
            Object::VolumeGroup(o) => self.volume_groups.push(o),
            Object::LogicalVolume(o) => self.logical_volumes.push(o),
            Object::CacheSet(o) => self.cache_sets.push(o),
            Object::Bcache(o) => self.bcaches.push(o),
            Object::Special(o) => self.specials.push(o),
            Object::Raid(o) => self.raids.push(o),
        }
    }

    /// Every non-disk object, referenced ones before those referring to them.
    pub fn objects(&self) -> Vec<Object> {
        let mut v: Vec<Object> = Vec::new();
        v.extend(self.tables.iter().cloned().map(Object::Table));
        v.extend(self.partitions.iter().cloned().map(Object::Partition));
        v.extend(self.raids.iter().cloned().map(Object::Raid));
        v.extend(self.volume_groups.iter().cloned().map(Object::VolumeGroup));
        v.extend(
            self.logical_volumes
                .iter()
                .cloned()
                .map(Object::LogicalVolume),
        );
        v.extend(self.cache_sets.iter().cloned().map(Object::CacheSet));
        v.extend(self.bcaches.iter().cloned().map(Object::Bcache));
        v.extend(self.filesystems.iter().cloned().map(Object::Filesystem));
        v.extend(self.specials.iter().cloned().map(Object::Special));
        v
    }

    fn check_refs(&self) -> Result<()> {
        match self.objects().into_iter().find(|o| !self.refs_ok(o)) {
            Some(o) => Err(invalid(format!(
                "storage model: {} {} refers to something missing",
                o.kind(),
                o.id()
            ))),
            None => Ok(()),
        }
    }

    /// A new temporary (negative) id.
    pub fn new_id(&mut self) -> i64 {
        self.temp -= 1;
        self.temp
    }

    /// Replace temporary ids by the store's, everywhere they appear.
    pub fn remap_ids(&mut self, map: &HashMap<i64, i64>) {
        let id = |i: &mut i64| {
            if let Some(n) = map.get(i) {
                *i = *n;
            }
        };
        let vol = |v: &mut Volume| match v {
            Volume::Disk(_) => {}
            Volume::Partition(i)
            | Volume::LogicalVolume(i)
            | Volume::Bcache(i)
            | Volume::Raid(i) => {
                if let Some(n) = map.get(i) {
                    *i = *n;
                }
            }
        };
        for t in &mut self.tables {
            id(&mut t.id);
        }
        for p in &mut self.partitions {
            id(&mut p.id);
        }
        for f in &mut self.filesystems {
            id(&mut f.id);
            vol(&mut f.volume);
        }
        for g in &mut self.volume_groups {
            id(&mut g.id);
            g.devices.iter_mut().for_each(vol);
        }
        for l in &mut self.logical_volumes {
            id(&mut l.id);
            id(&mut l.vg);
        }
        for c in &mut self.cache_sets {
            id(&mut c.id);
            vol(&mut c.device);
        }
        for b in &mut self.bcaches {
            id(&mut b.id);
            id(&mut b.cache_set);
            vol(&mut b.backing);
        }
        for x in &mut self.specials {
            id(&mut x.id);
        }
        for r in &mut self.raids {
            id(&mut r.id);
            r.devices.iter_mut().for_each(vol);
            r.spares.iter_mut().for_each(vol);
        }
    }

    // ------------------------------------------------------------------ lookups
    pub fn disk(&self, id: i64) -> Option<&Disk> {
        self.disks.iter().find(|d| d.id == id)
    }
    pub fn table(&self, disk: i64) -> Option<&PartTable> {
        self.tables.iter().find(|t| t.disk == disk)
    }
    pub fn partition(&self, id: i64) -> Option<&Partition> {
        self.partitions.iter().find(|p| p.id == id)
    }
    pub fn vg(&self, id: i64) -> Option<&VolumeGroup> {
        self.volume_groups.iter().find(|g| g.id == id)
    }
    pub fn lv(&self, id: i64) -> Option<&LogicalVolume> {
        self.logical_volumes.iter().find(|l| l.id == id)
    }
    pub fn cache_set(&self, id: i64) -> Option<&CacheSet> {
        self.cache_sets.iter().find(|c| c.id == id)
    }
    pub fn bcache(&self, id: i64) -> Option<&Bcache> {
        self.bcaches.iter().find(|b| b.id == id)
    }
    pub fn raid(&self, id: i64) -> Option<&Raid> {
        self.raids.iter().find(|r| r.id == id)
    }
    pub fn filesystem_on(&self, v: Volume) -> Option<&Filesystem> {
        self.filesystems.iter().find(|f| f.volume == v)
    }
    /// A disk's partitions in order.
    pub fn partitions_of(&self, disk: i64) -> Vec<&Partition> {
        let mut v: Vec<&Partition> = self.partitions.iter().filter(|p| p.disk == disk).collect();
        v.sort_by_key(|p| p.number);
        v
    }
    pub fn lvs_of(&self, vg: i64) -> Vec<&LogicalVolume> {
        self.logical_volumes.iter().filter(|l| l.vg == vg).collect()
    }

    pub fn boot_disk(&self) -> Option<&Disk> {
        self.disks
            .iter()
            .find(|d| d.boot)
            .or_else(|| self.disks.first())
    }

    pub fn exists(&self, v: Volume) -> bool {
        match v {
            Volume::Disk(i) => self.disk(i).is_some(),
            Volume::Partition(i) => self.partition(i).is_some(),
            Volume::LogicalVolume(i) => self.lv(i).is_some(),
            Volume::Bcache(i) => self.bcache(i).is_some(),
            Volume::Raid(i) => self.raid(i).is_some(),
        }
    }

    /// A block device id (physical disk, logical volume, bcache or RAID; one id space) as a
    /// volume.
    pub fn block_device(&self, id: i64) -> Option<Volume> {
        [
            Volume::Disk(id),
            Volume::LogicalVolume(id),
            Volume::Bcache(id),
            Volume::Raid(id),
        ]
        .into_iter()
        .find(|v| self.exists(*v))
    }

    pub fn size_of(&self, v: Volume) -> u64 {
        match v {
            Volume::Disk(i) => self.disk(i).map(|d| d.size).unwrap_or(0),
            Volume::Partition(i) => self.partition(i).map(|p| p.size).unwrap_or(0),
            Volume::LogicalVolume(i) => self.lv(i).map(|l| l.size).unwrap_or(0),
            Volume::Bcache(i) => self.bcache(i).map(|b| self.size_of(b.backing)).unwrap_or(0),
            Volume::Raid(i) => self.raid_size(i),
        }
    }

    /// The device name in MAAS's style: `sda`, `sda-part2`, `vgroot-lvroot`, `bcache0`.
    pub fn name_of(&self, v: Volume) -> String {
        match v {
            Volume::Disk(i) => self.disk(i).map(|d| d.name.clone()).unwrap_or_default(),
            Volume::Partition(i) => self
                .partition(i)
                .map(|p| {
                    let d = self.disk(p.disk).map(|d| d.name.as_str()).unwrap_or("?");
                    format!("{d}-part{}", p.number)
                })
                .unwrap_or_default(),
            Volume::LogicalVolume(i) => self
                .lv(i)
                .map(|l| {
                    let g = self.vg(l.vg).map(|g| g.name.as_str()).unwrap_or("?");
                    format!("{g}-{}", l.name)
                })
                .unwrap_or_default(),
            Volume::Bcache(i) => self.bcache(i).map(|b| b.name.clone()).unwrap_or_default(),
            Volume::Raid(i) => self.raid(i).map(|r| r.name.clone()).unwrap_or_default(),
        }
    }

    pub fn usage(&self, v: Volume) -> Option<Use> {
        if let Some(f) = self.filesystem_on(v) {
            return Some(Use::Filesystem(f.id));
        }
        if let Volume::Disk(d) = v {
            if self.table(d).is_some() {
                return Some(Use::Partitioned);
            }
        }
        if let Some(g) = self.volume_groups.iter().find(|g| g.devices.contains(&v)) {
            return Some(Use::VolumeGroup(g.id));
        }
        if let Some(c) = self.cache_sets.iter().find(|c| c.device == v) {
            return Some(Use::CacheSet(c.id));
        }
        if let Some(b) = self.bcaches.iter().find(|b| b.backing == v) {
            return Some(Use::Backing(b.id));
        }
        if let Some(r) = self.raids.iter().find(|r| r.devices.contains(&v)) {
            return Some(Use::Raid(r.id));
        }
        if let Some(r) = self.raids.iter().find(|r| r.spares.contains(&v)) {
            return Some(Use::RaidSpare(r.id));
        }
        None
    }

    /// MAAS's `used_for` text.
    pub fn used_for(&self, v: Volume) -> String {
        match self.usage(v) {
            None => "Unused".into(),
            Some(Use::Filesystem(id)) => {
                let f = self.filesystems.iter().find(|f| f.id == id);
                match f {
                    Some(f) => match &f.mount_point {
                        Some(mp) => {
                            format!("{} formatted filesystem mounted at {mp}", f.fstype.as_str())
                        }
                        None => format!("Unmounted {} formatted filesystem", f.fstype.as_str()),
                    },
                    None => "Unused".into(),
                }
            }
            Some(Use::Partitioned) => {
                let Volume::Disk(d) = v else {
                    return String::new();
                };
                let t = self.table(d).map(|t| t.table);
                let n = self.partitions_of(d).len();
                let kind = match t {
                    Some(PartitionTable::Msdos) => "MBR",
                    _ => "GPT",
                };
                format!(
                    "{kind} partitioned with {n} partition{}",
                    if n == 1 { "" } else { "s" }
                )
            }
            Some(Use::VolumeGroup(g)) => format!(
                "LVM volume for ({})",
                self.vg(g).map(|g| g.name.as_str()).unwrap_or("?")
            ),
            Some(Use::CacheSet(c)) => format!(
                "Cache device for ({})",
                self.cache_set(c).map(|c| c.name.as_str()).unwrap_or("?")
            ),
            Some(Use::Backing(b)) => format!(
                "Backing device for ({})",
                self.bcache(b).map(|b| b.name.as_str()).unwrap_or("?")
            ),
            Some(Use::Raid(r)) => self.raid_member_text(r, "Active"),
            Some(Use::RaidSpare(r)) => self.raid_member_text(r, "Spare"),
        }
    }

    /// Bytes of a disk that partitions can take with this table.
    pub fn partitionable(&self, disk: i64, table: PartitionTable) -> u64 {
        let size = self.disk(disk).map(|d| d.size).unwrap_or(0);
        let reserve = match table {
            PartitionTable::Msdos => TABLE_HEAD,
            PartitionTable::Gpt => TABLE_HEAD + BIOS_GRUB_SIZE + GPT_TAIL,
        };
        align_down(size.saturating_sub(reserve))
    }

    /// Free bytes for a new partition on a disk (with the table it has or would get).
    pub fn disk_free(&self, disk: i64, table: PartitionTable) -> u64 {
        let used: u64 = self.partitions_of(disk).iter().map(|p| p.size).sum();
        self.partitionable(disk, table).saturating_sub(used)
    }

    pub fn vg_size(&self, vg: i64) -> u64 {
        self.vg(vg)
            .map(|g| {
                g.devices
                    .iter()
                    .map(|d| align_down(self.size_of(*d).saturating_sub(LVM_PV_OVERHEAD)))
                    .sum()
            })
            .unwrap_or(0)
    }

    pub fn vg_free(&self, vg: i64) -> u64 {
        let used: u64 = self.lvs_of(vg).iter().map(|l| l.size).sum();
        self.vg_size(vg).saturating_sub(used)
    }

    /// Bytes of a volume used (by partitions, logical volumes, or whole when in use).
    pub fn used_size(&self, v: Volume) -> u64 {
        match self.usage(v) {
            None => 0,
            Some(Use::Partitioned) => match v {
                Volume::Disk(d) => {
                    let t = self
                        .table(d)
                        .map(|t| t.table)
                        .unwrap_or(PartitionTable::Gpt);
                    self.size_of(v) - self.disk_free(d, t)
                }
                _ => 0,
            },
            Some(_) => self.size_of(v),
        }
    }

    fn root_count(&self) -> usize {
        self.filesystems
            .iter()
            .filter(|f| f.mount_point.as_deref() == Some("/"))
            .count()
    }

    /// The filesystem mounted at `/`, if any.
    pub fn root(&self) -> Option<&Filesystem> {
        self.filesystems
            .iter()
            .find(|f| f.mount_point.as_deref() == Some("/"))
    }

    // ------------------------------------------------------------------ edits
    fn volume_must_be_free(&self, v: Volume, what: &str) -> Result<()> {
        match self.usage(v) {
            None => Ok(()),
            Some(_) => Err(invalid(format!(
                "Cannot {what} {}: it is in use ({}).",
                self.name_of(v),
                self.used_for(v)
            ))),
        }
    }

    /// The table a disk gets when it is first partitioned: GPT unless it is the boot disk of a
    /// BIOS machine and small enough for MBR.
    pub fn table_for(&self, disk: i64, uefi: bool) -> PartitionTable {
        match self.disk(disk) {
            Some(d) if d.boot && !uefi && d.size <= MBR_MAX_DISK => PartitionTable::Msdos,
            _ => PartitionTable::Gpt,
        }
    }

    /// `partitions/ create`: a partition of `size` bytes (rounded up to the alignment; None:
    /// the rest of the disk). The disk must not carry a filesystem or be used whole.
    pub fn add_partition(
        &mut self,
        disk: i64,
        size: Option<u64>,
        bootable: bool,
        uefi: bool,
        uuid: UuidGen,
    ) -> Result<i64> {
        if self.disk(disk).is_none() {
            return Err(StorageError::NotFound(format!(
                "No block device {disk} to partition."
            )));
        }
        let table = match self.table(disk) {
            Some(t) => t.table,
            None => {
                match self.usage(Volume::Disk(disk)) {
                    None => {}
                    Some(Use::Filesystem(_)) => {
                        return Err(invalid(format!(
                            "Cannot partition {}: it has a filesystem; unformat it first.",
                            self.name_of(Volume::Disk(disk))
                        )))
                    }
                    Some(_) => self.volume_must_be_free(Volume::Disk(disk), "partition")?,
                }
                self.table_for(disk, uefi)
            }
        };
        if table == PartitionTable::Msdos && self.partitions_of(disk).len() >= MBR_MAX_PARTITIONS {
            return Err(invalid(format!(
                "Cannot add a partition to {}: an MBR partition table holds at most {MBR_MAX_PARTITIONS} partitions.",
                self.name_of(Volume::Disk(disk))
            )));
        }
        let free = self.disk_free(disk, table);
        let size = match size {
            Some(s) => {
                let s = align_up(s.max(MIN_SIZE));
                if s > free {
                    return Err(field(
                        "size",
                        format!("Size is too large. Maximum size is {free}."),
                    ));
                }
                s
            }
            None => free,
        };
        if size < MIN_SIZE {
            return Err(field(
                "size",
                format!("Not enough free space on {}: {free} bytes free, a partition needs at least {MIN_SIZE}.", self.name_of(Volume::Disk(disk))),
            ));
        }
        if self.table(disk).is_none() {
            let id = self.new_id();
            self.tables.push(PartTable { id, disk, table });
        }
        let number = self
            .partitions_of(disk)
            .last()
            .map(|p| p.number + 1)
            .unwrap_or(1);
        let id = self.new_id();
        self.partitions.push(Partition {
            id,
            disk,
            number,
            size,
            bootable,
            uuid: uuid(),
            tags: Vec::new(),
        });
        Ok(id)
    }

    /// Delete a partition (its filesystem goes with it); not while an LVM volume group, cache
    /// set or bcache uses it. The last partition takes the table with it.
    pub fn delete_partition(&mut self, id: i64) -> Result<()> {
        let p = self
            .partition(id)
            .cloned()
            .ok_or_else(|| StorageError::NotFound(format!("No partition {id}.")))?;
        let v = Volume::Partition(id);
        match self.usage(v) {
            None | Some(Use::Filesystem(_)) => {}
            Some(_) => self.volume_must_be_free(v, "delete")?,
        }
        self.filesystems.retain(|f| f.volume != v);
        self.partitions.retain(|x| x.id != id);
        if self.partitions_of(p.disk).is_empty() {
            self.tables.retain(|t| t.disk != p.disk);
        }
        Ok(())
    }

    /// `op=format`: put a filesystem on a volume (replacing an unmounted one).
    pub fn format(
        &mut self,
        v: Volume,
        fstype: FsType,
        label: Option<String>,
        fs_uuid: Option<String>,
        uuid: UuidGen,
    ) -> Result<i64> {
        if !self.exists(v) {
            return Err(StorageError::NotFound(format!("No such device: {v:?}.")));
        }
        match self.usage(v) {
            None => {}
            Some(Use::Filesystem(_)) => {
                if let Some(f) = self.filesystem_on(v) {
                    if let Some(mp) = &f.mount_point {
                        return Err(invalid(format!(
                            "Cannot format {}: its filesystem is mounted at {mp}; unmount it first.",
                            self.name_of(v)
                        )));
                    }
                }
            }
            Some(Use::Partitioned) => {
                return Err(invalid(format!(
                    "Cannot format {}: it has partitions; format a partition instead.",
                    self.name_of(v)
                )))
            }
            Some(_) => self.volume_must_be_free(v, "format")?,
        }
        if let Some(u) = &fs_uuid {
            if !is_uuid(u) {
                return Err(field("uuid", format!("'{u}' is not a UUID.")));
            }
        }
        self.filesystems.retain(|f| f.volume != v);
        let id = self.new_id();
        self.filesystems.push(Filesystem {
            id,
            volume: v,
            fstype,
            label: label.unwrap_or_default(),
            uuid: fs_uuid.unwrap_or_else(uuid),
            mount_point: None,
            mount_options: None,
        });
        Ok(id)
    }

    /// `op=unformat`: remove an unmounted filesystem.
    pub fn unformat(&mut self, v: Volume) -> Result<()> {
        let f = self
            .filesystem_on(v)
            .ok_or_else(|| invalid(format!("{} is not formatted.", self.name_of(v))))?;
        if f.mount_point.is_some() {
            return Err(invalid(format!(
                "Filesystem on {} is mounted and cannot be unformatted; unmount it first.",
                self.name_of(v)
            )));
        }
        self.filesystems.retain(|f| f.volume != v);
        Ok(())
    }

    /// `op=mount`: mount a volume's filesystem (an absolute path; swap takes `none`).
    pub fn mount(&mut self, v: Volume, mount_point: &str, options: Option<String>) -> Result<()> {
        let name = self.name_of(v);
        let f = self
            .filesystem_on(v)
            .cloned()
            .ok_or_else(|| invalid(format!("Cannot mount {name}: it is not formatted.")))?;
        let mp = mount_point.trim();
        let mp = if f.fstype == FsType::Swap {
            if !mp.is_empty() && mp != "none" {
                return Err(field(
                    "mount_point",
                    "A swap filesystem is not mounted at a path; give 'none'.",
                ));
            }
            "none".to_string()
        } else {
            if !mp.starts_with('/') {
                return Err(field(
                    "mount_point",
                    format!("'{mp}' is not an absolute path."),
                ));
            }
            let t = mp.trim_end_matches('/');
            if t.is_empty() {
                "/".to_string()
            } else {
                t.to_string()
            }
        };
        if mp != "none" {
            if let Some(other) = self
                .filesystems
                .iter()
                .find(|o| o.id != f.id && o.mount_point.as_deref() == Some(mp.as_str()))
            {
                let what = if mp == "/" {
                    "Only one filesystem can be mounted at /".to_string()
                } else {
                    format!("Another filesystem is already mounted at {mp}")
                };
                return Err(field(
                    "mount_point",
                    format!("{what} ({} is).", self.name_of(other.volume)),
                ));
            }
            if let Some(x) = self.specials.iter().find(|x| x.mount_point == mp) {
                return Err(field(
                    "mount_point",
                    format!("A {} filesystem is already mounted at {mp}.", x.fstype),
                ));
            }
        }
        if let Some(x) = self.filesystems.iter_mut().find(|x| x.id == f.id) {
            x.mount_point = Some(mp);
            x.mount_options = options.filter(|o| !o.trim().is_empty());
        }
        Ok(())
    }

    pub fn unmount(&mut self, v: Volume) -> Result<()> {
        let name = self.name_of(v);
        let f = self
            .filesystems
            .iter_mut()
            .find(|f| f.volume == v)
            .ok_or_else(|| invalid(format!("{name} is not formatted.")))?;
        if f.mount_point.is_none() {
            return Err(invalid(format!("Filesystem on {name} is not mounted.")));
        }
        f.mount_point = None;
        f.mount_options = None;
        Ok(())
    }

    /// Disks, partitions and RAIDs only can be physical volumes, cache devices and backing
    /// devices.
    fn plain_device(&self, v: Volume, what: &str) -> Result<()> {
        match v {
            Volume::Disk(_) | Volume::Partition(_) | Volume::Raid(_) => {}
            _ => {
                return Err(invalid(format!(
                    "{} cannot be {what}: only disks, partitions and RAIDs can.",
                    self.name_of(v)
                )))
            }
        }
        if !self.exists(v) {
            return Err(StorageError::NotFound(format!("No such device: {v:?}.")));
        }
        self.volume_must_be_free(v, &format!("use as {what}"))
    }

    pub fn create_volume_group(
        &mut self,
        name: &str,
        devices: &[Volume],
        uuid: UuidGen,
    ) -> Result<i64> {
        let name = name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c))
        {
            return Err(field(
                "name",
                format!("'{name}' is not a valid volume group name."),
            ));
        }
        if self.volume_groups.iter().any(|g| g.name == name) {
            return Err(field(
                "name",
                format!("A volume group named '{name}' already exists."),
            ));
        }
        if devices.is_empty() {
            return Err(field(
                "block_devices",
                "At least one block device or partition is required.",
            ));
        }
        let mut seen = Vec::new();
        for d in devices {
            if seen.contains(d) {
                return Err(field(
                    "block_devices",
                    format!("{} is given twice.", self.name_of(*d)),
                ));
            }
            seen.push(*d);
            self.plain_device(*d, "an LVM physical volume")?;
        }
        let id = self.new_id();
        self.volume_groups.push(VolumeGroup {
            id,
            name: name.to_string(),
            uuid: uuid(),
            devices: devices.to_vec(),
        });
        Ok(id)
    }

    /// Delete a volume group; with `cascade` its logical volumes (and their filesystems) go
    /// too, else it must have none.
    pub fn delete_volume_group(&mut self, id: i64, cascade: bool) -> Result<()> {
        let g = self
            .vg(id)
            .cloned()
            .ok_or_else(|| StorageError::NotFound(format!("No volume group {id}.")))?;
        let lvs: Vec<i64> = self.lvs_of(id).iter().map(|l| l.id).collect();
        if !lvs.is_empty() && !cascade {
            return Err(invalid(format!(
                "Volume group {} has {} logical volume(s); delete them first.",
                g.name,
                lvs.len()
            )));
        }
        for l in &lvs {
            self.volume_must_not_back(Volume::LogicalVolume(*l))?;
        }
        for l in lvs {
            self.delete_logical_volume(l)?;
        }
        self.volume_groups.retain(|x| x.id != id);
        Ok(())
    }

    fn volume_must_not_back(&self, v: Volume) -> Result<()> {
        match self.usage(v) {
            None | Some(Use::Filesystem(_)) => Ok(()),
            Some(_) => self.volume_must_be_free(v, "delete"),
        }
    }

    pub fn create_logical_volume(
        &mut self,
        vg: i64,
        name: &str,
        size: Option<u64>,
        uuid: UuidGen,
    ) -> Result<i64> {
        let g = self
            .vg(vg)
            .cloned()
            .ok_or_else(|| StorageError::NotFound(format!("No volume group {vg}.")))?;
        let name = name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c))
        {
            return Err(field(
                "name",
                format!("'{name}' is not a valid logical volume name."),
            ));
        }
        if self.lvs_of(vg).iter().any(|l| l.name == name) {
            return Err(field(
                "name",
                format!(
                    "Volume group {} already has a logical volume named '{name}'.",
                    g.name
                ),
            ));
        }
        let free = self.vg_free(vg);
        let size = match size {
            Some(s) => {
                let s = align_up(s.max(MIN_SIZE));
                if s > free {
                    return Err(field(
                        "size",
                        format!("Size is too large. Maximum size is {free}."),
                    ));
                }
                s
            }
            None => free,
        };
        if size < MIN_SIZE {
            return Err(field(
                "size",
                format!("Volume group {} has only {free} bytes free; a logical volume needs at least {MIN_SIZE}.", g.name),
            ));
        }
        let id = self.new_id();
        self.logical_volumes.push(LogicalVolume {
            id,
            vg,
            name: name.to_string(),
            size,
            uuid: uuid(),
        });
        Ok(id)
    }

    pub fn delete_logical_volume(&mut self, id: i64) -> Result<()> {
        if self.lv(id).is_none() {
            return Err(StorageError::NotFound(format!("No logical volume {id}.")));
        }
        let v = Volume::LogicalVolume(id);
        self.volume_must_not_back(v)?;
        self.filesystems.retain(|f| f.volume != v);
        self.logical_volumes.retain(|l| l.id != id);
        Ok(())
    }

    pub fn create_cache_set(&mut self, device: Volume) -> Result<i64> {
        self.plain_device(device, "a cache device")?;
        let n = (0..)
            .find(|n| {
                !self
                    .cache_sets
                    .iter()
                    .any(|c| c.name == format!("cache{n}"))
            })
            .unwrap_or(0);
        let id = self.new_id();
        self.cache_sets.push(CacheSet {
            id,
            name: format!("cache{n}"),
            device,
        });
        Ok(id)
    }

    pub fn delete_cache_set(&mut self, id: i64) -> Result<()> {
        let c = self
            .cache_set(id)
            .cloned()
            .ok_or_else(|| StorageError::NotFound(format!("No cache set {id}.")))?;
        if let Some(b) = self.bcaches.iter().find(|b| b.cache_set == id) {
            return Err(invalid(format!(
                "Cache set {} is used by {}; delete it first.",
                c.name, b.name
            )));
        }
        self.cache_sets.retain(|x| x.id != id);
        Ok(())
    }

    pub fn create_bcache(
        &mut self,
        name: Option<&str>,
        backing: Volume,
        cache_set: i64,
        cache_mode: CacheMode,
        uuid: UuidGen,
    ) -> Result<i64> {
        if self.cache_set(cache_set).is_none() {
            return Err(field("cache_set", format!("No cache set {cache_set}.")));
        }
        self.plain_device(backing, "a bcache backing device")?;
        let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => {
                if self.bcaches.iter().any(|b| b.name == n) {
                    return Err(field(
                        "name",
                        format!("A bcache named '{n}' already exists."),
                    ));
                }
                n.to_string()
            }
            None => {
                let n = (0..)
                    .find(|n| !self.bcaches.iter().any(|b| b.name == format!("bcache{n}")))
                    .unwrap_or(0);
                format!("bcache{n}")
            }
        };
        let id = self.new_id();
        self.bcaches.push(Bcache {
            id,
            name,
            uuid: uuid(),
            backing,
            cache_set,
            cache_mode,
        });
        Ok(id)
    }

    pub fn delete_bcache(&mut self, id: i64) -> Result<()> {
        if self.bcache(id).is_none() {
            return Err(StorageError::NotFound(format!("No bcache {id}.")));
        }
        let v = Volume::Bcache(id);
        self.volume_must_not_back(v)?;
        self.filesystems.retain(|f| f.volume != v);
        self.bcaches.retain(|b| b.id != id);
        Ok(())
    }

    /// Forget everything but the disks.
    pub fn clear(&mut self) {
        let disks = std::mem::take(&mut self.disks);
        let temp = self.temp;
        *self = StorageModel {
            disks,
            temp,
            ..Default::default()
        };
    }

    // ------------------------------------------------------------------ layouts
    /// MAAS `set_storage_layout`: clear the model and lay the machine's disks out. Returns the
    /// layout applied (bcache without an SSD falls back to flat, as MAAS does).
    pub fn apply_layout(
        &mut self,
        layout: Layout,
        p: &LayoutParams,
        uefi: bool,
        uuid: UuidGen,
    ) -> Result<Layout> {
        if self.disks.is_empty() {
            return Err(invalid(
                "The machine has no disks: commission it first (a storage layout needs a disk).",
            ));
        }
        let boot = self.boot_disk().map(|d| d.id).unwrap_or_default();
        let root_dev = match p.root_device {
            Some(id) => {
                if self.disk(id).is_none() {
                    return Err(field(
                        "root_device",
                        format!("{id} is not a physical block device of this machine."),
                    ));
                }
                id
            }
            None => boot,
        };
        // Where bcache caches, decided before anything changes.
        let mut layout = layout;
        let mut cache_dev = None;
        if layout == Layout::Bcache {
            match p.cache_device {
                Some(id) => {
                    if self.disk(id).is_none() {
                        return Err(field(
                            "cache_device",
                            format!("{id} is not a physical block device of this machine."),
                        ));
                    }
                    if id == boot || id == root_dev {
                        return Err(field(
                            "cache_device",
                            format!(
                                "{} is the boot or root device; the cache needs another disk.",
                                self.name_of(Volume::Disk(id))
                            ),
                        ));
                    }
                    cache_dev = Some(id);
                }
                None => {
                    cache_dev = self
                        .disks
                        .iter()
                        .filter(|d| d.is_ssd() && d.id != boot && d.id != root_dev)
                        .min_by_key(|d| (d.size, d.id))
                        .map(|d| d.id);
                    if cache_dev.is_none() {
                        if p.cache_size.is_some() || p.cache_no_part {
                            return Err(field(
                                "cache_device",
                                "No cache device: the machine has no SSD-tagged disk other than the boot and root disks; name one with cache_device.",
                            ));
                        }
                        layout = Layout::Flat;
                    }
                }
            }
        }
        self.clear();
        if layout == Layout::Blank {
            return Ok(layout);
        }
        let boot_table = self.table_for(boot, uefi);
        let mut free_boot = self.partitionable(boot, boot_table);
        if uefi {
            if free_boot < ESP_SIZE + MIN_SIZE {
                return Err(invalid(format!(
                    "The boot disk {} ({} bytes) is too small for a {ESP_SIZE}-byte EFI system partition and a root partition.",
                    self.name_of(Volume::Disk(boot)),
                    self.size_of(Volume::Disk(boot))
                )));
            }
            let id = self.add_partition(boot, Some(ESP_SIZE), true, uefi, uuid)?;
            let f = self.format(
                Volume::Partition(id),
                FsType::Vfat,
                Some("efi".into()),
                None,
                uuid,
            )?;
            self.set_mount(f, "/boot/efi");
            free_boot -= ESP_SIZE;
        }
        let boot_size = match &p.boot_size {
            Some(s) => Some(parse_size_of(
                "boot_size",
                s,
                self.size_of(Volume::Disk(boot)),
            )?),
            None if layout != Layout::Flat => Some(DEFAULT_BOOT_SIZE),
            None => None,
        };
        if let Some(bs) = boot_size.filter(|b| *b > 0) {
            let bs_al = align_up(bs.max(MIN_SIZE));
            // Leave the root at least the minimum when it shares the disk.
            let room = if root_dev == boot {
                free_boot.saturating_sub(MIN_SIZE)
            } else {
                free_boot
            };
            if bs_al > room {
                return Err(field(
                    "boot_size",
                    format!("Size is too large. Maximum size is {room}."),
                ));
            }
            let bootable = boot_table == PartitionTable::Msdos;
            let id = self.add_partition(boot, Some(bs_al), bootable, uefi, uuid)?;
            let f = self.format(
                Volume::Partition(id),
                FsType::Ext4,
                Some("boot".into()),
                None,
                uuid,
            )?;
            self.set_mount(f, "/boot");
        }
        let root_table = self
            .table(root_dev)
            .map(|t| t.table)
            .unwrap_or_else(|| self.table_for(root_dev, uefi));
        let free = self.disk_free(root_dev, root_table);
        let root_size = match &p.root_size {
            Some(s) => {
                let rs = align_up(
                    parse_size_of("root_size", s, self.size_of(Volume::Disk(root_dev)))?
                        .max(MIN_SIZE),
                );
                if rs > free {
                    return Err(field(
                        "root_size",
                        format!("Size is too large. Maximum size is {free}."),
                    ));
                }
                Some(rs)
            }
            None => None,
        };
        if free < MIN_SIZE {
            return Err(field(
                "root_device",
                format!("{} has {free} bytes left for the root partition; it needs at least {MIN_SIZE}.", self.name_of(Volume::Disk(root_dev))),
            ));
        }
        let msdos_boot = root_table == PartitionTable::Msdos && !uefi;
        let root_part = self.add_partition(
            root_dev,
            root_size,
            msdos_boot && boot_size.is_none(),
            uefi,
            uuid,
        )?;
        let root_vol = match layout {
            Layout::Flat | Layout::Blank => Volume::Partition(root_part),
            Layout::Lvm => {
                let vg_name = p.vg_name.clone().unwrap_or_else(|| "vgroot".into());
                let vg = self
                    .create_volume_group(&vg_name, &[Volume::Partition(root_part)], uuid)
                    .map_err(|e| match e {
                        StorageError::Field(_, m) => field("vg_name", m),
                        e => e,
                    })?;
                let lv_size = match &p.lv_size {
                    Some(s) => {
                        let n = parse_size_of("lv_size", s, self.vg_size(vg))?;
                        let free = self.vg_free(vg);
                        if align_up(n.max(MIN_SIZE)) > free {
                            return Err(field(
                                "lv_size",
                                format!("Size is too large. Maximum size is {free}."),
                            ));
                        }
                        Some(n)
                    }
                    None => None,
                };
                let lv_name = p.lv_name.clone().unwrap_or_else(|| "lvroot".into());
                let lv = self
                    .create_logical_volume(vg, &lv_name, lv_size, uuid)
                    .map_err(|e| match e {
                        StorageError::Field(f, m) if f == "name" => field("lv_name", m),
                        StorageError::Field(_, m) => field("lv_size", m),
                        e => e,
                    })?;
                Volume::LogicalVolume(lv)
            }
            Layout::Bcache => {
                let cd = cache_dev.ok_or_else(|| field("cache_device", "No cache device."))?;
                let cache_vol = if p.cache_no_part {
                    if p.cache_size.is_some() {
                        return Err(field(
                            "cache_size",
                            "cache_size cannot be given with cache_no_part (the whole disk caches).",
                        ));
                    }
                    Volume::Disk(cd)
                } else {
                    let t = self.table_for(cd, uefi);
                    let cfree = self.disk_free(cd, t);
                    let cs = match &p.cache_size {
                        Some(s) => {
                            let n = align_up(
                                parse_size_of("cache_size", s, self.size_of(Volume::Disk(cd)))?
                                    .max(MIN_SIZE),
                            );
                            if n > cfree {
                                return Err(field(
                                    "cache_size",
                                    format!("Size is too large. Maximum size is {cfree}."),
                                ));
                            }
                            Some(n)
                        }
                        None => None,
                    };
                    Volume::Partition(self.add_partition(cd, cs, false, uefi, uuid)?)
                };
                let cset = self.create_cache_set(cache_vol)?;
                let b = self.create_bcache(
                    Some("bcache0"),
                    Volume::Partition(root_part),
                    cset,
                    p.cache_mode.unwrap_or(CacheMode::Writethrough),
                    uuid,
                )?;
                Volume::Bcache(b)
            }
        };
        let f = self.format(root_vol, FsType::Ext4, Some("root".into()), None, uuid)?;
        self.set_mount(f, "/");
        Ok(layout)
    }

    fn set_mount(&mut self, fs: i64, mp: &str) {
        if let Some(f) = self.filesystems.iter_mut().find(|f| f.id == fs) {
            f.mount_point = Some(mp.to_string());
        }
    }

    /// Set which physical disk is the boot disk.
    pub fn set_boot_disk(&mut self, disk: i64) -> Result<()> {
        if self.disk(disk).is_none() {
            return Err(invalid(format!(
                "{disk} is not a physical block device; only physical disks can be the boot disk."
            )));
        }
        for d in &mut self.disks {
            d.boot = d.id == disk;
        }
        Ok(())
    }

    // ------------------------------------------------------------------ deployment
    /// Why this model cannot be deployed, if it cannot.
    pub fn deploy_problem(&self) -> Option<String> {
        if self.root_count() == 0 {
            return Some("the machine has no root filesystem (nothing mounted at /); set a storage layout (op=set_storage_layout) or mount a filesystem at /".into());
        }
        if let Some(d) = self.boot_disk() {
            if let Some(Use::Raid(r) | Use::RaidSpare(r)) = self.usage(Volume::Disk(d.id)) {
                return Some(format!(
                    "the boot disk {} is a member of RAID {} as a whole; the boot loader needs a partition table on it (make the RAID of its partitions, or choose another boot disk)",
                    d.name,
                    self.raid(r).map(|r| r.name.as_str()).unwrap_or("?")
                ));
            }
        }
        None
    }
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A random-looking version-4 UUID from 16 bytes (the caller supplies the randomness).
pub fn uuid_from_bytes(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn step_id(v: Volume) -> String {
    match v {
        Volume::Disk(i) => format!("disk-{i}"),
        Volume::Partition(i) => format!("part-{i}"),
        Volume::LogicalVolume(i) => format!("lv-{i}"),
        Volume::Bcache(i) => format!("bcache-{i}"),
        Volume::Raid(i) => format!("raid-{i}"),
    }
}

/// The model as the agent's ordered steps: disks (boot disk first; those carrying something,
/// and always the boot disk, which gets `boot: true`), partitions numbered in order (a BIOS
/// boot partition first on a GPT boot disk booted by BIOS), volume groups, logical volumes,
/// bcaches, filesystems (with the UUIDs the region chose) and mounts (parents first).
pub fn deploy_steps(model: &StorageModel, uefi: bool) -> Result<Vec<StorageStep>> {
    if let Some(why) = model.deploy_problem() {
        return Err(invalid(why));
    }
    let boot = model
        .boot_disk()
        .map(|d| d.id)
        .ok_or_else(|| invalid("the machine has no disks"))?;
    if uefi {
        let esp = model.filesystems.iter().any(|f| {
            f.fstype == FsType::Vfat
                && f.mount_point.as_deref() == Some("/boot/efi")
                && matches!(f.volume, Volume::Partition(p) if model.partition(p).is_some_and(|p| p.disk == boot))
        });
        if !esp {
            return Err(invalid(
                "the machine boots by UEFI but its boot disk has no EFI system partition (vfat mounted at /boot/efi); set the storage layout again",
            ));
        }
    }
    let mut steps = Vec::new();
    let mut disks: Vec<&Disk> = model.disks.iter().collect();
    disks.sort_by_key(|d| (d.id != boot, d.id));
    for d in disks {
        let v = Volume::Disk(d.id);
        let carries = model.usage(v).is_some();
        if !carries && d.id != boot {
            continue;
        }
        let table = model.table(d.id).map(|t| t.table).or_else(|| {
            // The boot disk with nothing on it still gets a table for the boot loader.
            (d.id == boot && !carries).then(|| model.table_for(d.id, uefi))
        });
        let path = if d.id_path.is_empty() {
            format!("/dev/{}", d.name)
        } else {
            d.id_path.clone()
        };
        // A serial names the disk only when no other disk of the machine has it (cheap disks
        // and some captures repeat serials); the path does then.
        let unique_serial = !d.serial.is_empty()
            && model.disks.iter().filter(|o| o.serial == d.serial).count() == 1;
        steps.push(StorageStep::Disk {
            id: step_id(v),
            serial: unique_serial.then(|| d.serial.clone()),
            path: Some(path),
            size: d.size,
            ptable: table,
            boot: d.id == boot,
        });
        let mut number = 0;
        if d.id == boot && !uefi && table == Some(PartitionTable::Gpt) {
            number += 1;
            steps.push(StorageStep::Partition {
                id: format!("disk-{}-bios-grub", d.id),
                device: step_id(v),
                number,
                size: BIOS_GRUB_SIZE,
                flag: Some(PartitionFlag::BiosGrub),
            });
        }
        for p in model.partitions_of(d.id) {
            number += 1;
            let pv = Volume::Partition(p.id);
            let fs = model.filesystem_on(pv);
            let flag = if fs.is_some_and(|f| {
                f.fstype == FsType::Vfat && f.mount_point.as_deref() == Some("/boot/efi")
            }) {
                Some(PartitionFlag::Esp)
            } else if matches!(model.usage(pv), Some(Use::VolumeGroup(_))) {
                Some(PartitionFlag::Lvm)
            } else if p.bootable && table == Some(PartitionTable::Msdos) {
                Some(PartitionFlag::Boot)
            } else {
                None
            };
            steps.push(StorageStep::Partition {
                id: step_id(pv),
                device: step_id(v),
                number,
                size: p.size,
                flag,
            });
        }
    }
    for r in &model.raids {
        steps.push(StorageStep::Raid {
            id: step_id(Volume::Raid(r.id)),
            name: r.name.clone(),
            level: r.level,
            devices: r.devices.iter().map(|d| step_id(*d)).collect(),
            spares: r.spares.iter().map(|d| step_id(*d)).collect(),
        });
    }
    for g in &model.volume_groups {
        steps.push(StorageStep::VolumeGroup {
            id: format!("vg-{}", g.id),
            name: g.name.clone(),
            devices: g.devices.iter().map(|d| step_id(*d)).collect(),
        });
        for l in model.lvs_of(g.id) {
            steps.push(StorageStep::LogicalVolume {
                id: step_id(Volume::LogicalVolume(l.id)),
                volume_group: format!("vg-{}", g.id),
                name: l.name.clone(),
                size: l.size,
            });
        }
    }
    for b in &model.bcaches {
        let cache = model
            .cache_set(b.cache_set)
            .ok_or_else(|| invalid(format!("bcache {} has no cache set", b.name)))?;
        steps.push(StorageStep::Bcache {
            id: step_id(Volume::Bcache(b.id)),
            name: b.name.clone(),
            backing: step_id(b.backing),
            cache: step_id(cache.device),
            cache_mode: b.cache_mode,
        });
    }
    let mut fss: Vec<&Filesystem> = model.filesystems.iter().collect();
    fss.sort_by_key(|f| f.id);
    for f in &fss {
        steps.push(StorageStep::Format {
            id: format!("fs-{}", f.id),
            volume: step_id(f.volume),
            fstype: f.fstype,
            label: (!f.label.is_empty()).then(|| f.label.clone()),
            uuid: Some(f.uuid.clone()),
        });
    }
    let mut mounted: Vec<&&Filesystem> = fss.iter().filter(|f| f.mount_point.is_some()).collect();
    // Parents before children: `/` before `/boot` before `/boot/efi`; swap last.
    mounted.sort_by_key(|f| {
        let mp = f.mount_point.as_deref().unwrap_or("");
        let depth = if mp == "none" {
            usize::MAX
        } else if mp == "/" {
            0
        } else {
            mp.matches('/').count()
        };
        (depth, mp.to_string())
    });
    for f in mounted {
        steps.push(StorageStep::Mount {
            id: format!("mount-{}", f.id),
            format: format!("fs-{}", f.id),
            path: f.mount_point.clone().unwrap_or_default(),
            options: f.mount_options.clone(),
        });
    }
    Ok(steps)
}

pub mod changes;
pub mod raid;

#[cfg(test)]
mod tests;
