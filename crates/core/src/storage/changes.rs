//! Changes to parts of the storage model after they were made: a volume group's name and
//! physical volumes, a bcache's settings and devices, a cache set's device, a partition's tags,
//! and whether a physical disk's description may change.

use super::{
    field, invalid, is_uuid, Result, SpecialFs, StorageError, StorageModel, Volume, LVM_PV_OVERHEAD,
};
use crate::deploy::CacheMode;

/// A change of `bcache/{id}` PUT (what is None stays).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BcacheChange {
    pub name: Option<String>,
    pub uuid: Option<String>,
    pub cache_set: Option<i64>,
    pub backing: Option<Volume>,
    pub cache_mode: Option<CacheMode>,
}

/// The filesystems MAAS mounts without a device.
pub const SPECIAL_FSTYPES: &[&str] = &["tmpfs", "ramfs"];

/// A tag as MAAS takes one for disks and partitions: one word.
pub fn check_tag(tag: &str) -> Result<&str> {
    let tag = tag.trim();
    if tag.is_empty() || tag.chars().any(char::is_whitespace) || tag.len() > 256 {
        return Err(field(
            "tag",
            format!("'{tag}' is not a tag: one word, no spaces."),
        ));
    }
    Ok(tag)
}

impl StorageModel {
    /// `machines/{id}/?op=mount_special`: a `tmpfs` or `ramfs` at an absolute mount point no
    /// other filesystem uses (not `/`).
    pub fn mount_special(
        &mut self,
        fstype: &str,
        mount_point: &str,
        options: Option<&str>,
    ) -> Result<i64> {
        let fstype = fstype.trim();
        if !SPECIAL_FSTYPES.contains(&fstype) {
            return Err(field(
                "fstype",
                format!(
                    "'{fstype}' is not a special filesystem: {}.",
                    SPECIAL_FSTYPES.join(", ")
                ),
            ));
        }
        let mp = mount_point.trim().trim_end_matches('/');
        if !mount_point.trim().starts_with('/') || mp.is_empty() {
            return Err(field(
                "mount_point",
                format!(
                    "'{}' is not an absolute path other than /.",
                    mount_point.trim()
                ),
            ));
        }
        if self
            .filesystems
            .iter()
            .any(|f| f.mount_point.as_deref() == Some(mp))
            || self.specials.iter().any(|x| x.mount_point == mp)
        {
            return Err(field(
                "mount_point",
                format!("Another filesystem is already mounted at {mp}."),
            ));
        }
        let id = self.new_id();
        self.specials.push(SpecialFs {
            id,
            fstype: fstype.to_string(),
            mount_point: mp.to_string(),
            mount_options: options
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(String::from),
        });
        Ok(id)
    }

    /// The special filesystems as the installed OS mounts them (fstab lines).
    pub fn special_mounts(&self) -> Vec<crate::deploy::SpecialMount> {
        self.specials
            .iter()
            .map(|x| crate::deploy::SpecialMount {
                fstype: x.fstype.clone(),
                path: x.mount_point.clone(),
                options: x.mount_options.clone(),
            })
            .collect()
    }

    /// `machines/{id}/?op=unmount_special`: the special filesystem at `mount_point` goes.
    pub fn unmount_special(&mut self, mount_point: &str) -> Result<()> {
        let mp = mount_point.trim().trim_end_matches('/');
        let before = self.specials.len();
        self.specials.retain(|x| x.mount_point != mp);
        if self.specials.len() == before {
            return Err(field(
                "mount_point",
                format!("No special filesystem is mounted at {mp}."),
            ));
        }
        Ok(())
    }

    /// `volume-group/{id}/` update: a new `name`, physical volumes added (free disks or
    /// partitions) and removed (members whose space the logical volumes do not need).
    pub fn update_volume_group(
        &mut self,
        id: i64,
        name: Option<&str>,
        add: &[Volume],
        remove: &[Volume],
    ) -> Result<()> {
        let g = self
            .vg(id)
            .cloned()
            .ok_or_else(|| StorageError::NotFound(format!("No volume group {id}.")))?;
        let mut g2 = g.clone();
        if let Some(n) = name.map(str::trim).filter(|n| *n != g.name) {
            if n.is_empty()
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c))
            {
                return Err(field(
                    "name",
                    format!("'{n}' is not a valid volume group name."),
                ));
            }
            if self.volume_groups.iter().any(|x| x.name == n) {
                return Err(field(
                    "name",
                    format!("A volume group named '{n}' already exists."),
                ));
            }
            g2.name = n.to_string();
        }
        for v in remove {
            if !g.devices.contains(v) {
                return Err(field(
                    "remove_block_devices",
                    format!(
                        "{} is not a physical volume of {}.",
                        self.name_of(*v),
                        g.name
                    ),
                ));
            }
        }
        g2.devices.retain(|d| !remove.contains(d));
        for v in add {
            if g2.devices.contains(v) {
                return Err(field(
                    "add_block_devices",
                    format!("{} is already in {}.", self.name_of(*v), g.name),
                ));
            }
            self.plain_device(*v, "an LVM physical volume")?;
            g2.devices.push(*v);
        }
        if g2.devices.is_empty() {
            return Err(invalid(format!(
                "{} would have no physical volume left; delete it instead.",
                g.name
            )));
        }
        let size: u64 = g2
            .devices
            .iter()
            .map(|d| super::align_down(self.size_of(*d).saturating_sub(LVM_PV_OVERHEAD)))
            .sum();
        let used: u64 = self.lvs_of(id).iter().map(|l| l.size).sum();
        if used > size {
            return Err(invalid(format!(
                "{}'s logical volumes need {used} bytes; without those physical volumes it would hold {size}.",
                g.name
            )));
        }
        if let Some(x) = self.volume_groups.iter_mut().find(|x| x.id == id) {
            *x = g2;
        }
        Ok(())
    }

    /// Whether every volume group still holds its logical volumes (after a change of what
    /// its physical volumes are made of).
    pub(super) fn lvs_fit(&self) -> Result<()> {
        for g in &self.volume_groups {
            let used: u64 = self.lvs_of(g.id).iter().map(|l| l.size).sum();
            let size = self.vg_size(g.id);
            if used > size {
                return Err(invalid(format!(
                    "Volume group {} would hold {size} bytes, too little for its logical volumes ({used} bytes).",
                    g.name
                )));
            }
        }
        Ok(())
    }

    /// `bcache/{id}` PUT: a new name, UUID, cache set, backing device or cache mode. A new
    /// backing device must be free; a volume group on the bcache must still fit.
    pub fn update_bcache(&mut self, id: i64, c: &BcacheChange) -> Result<()> {
        let mut b = self
            .bcache(id)
            .cloned()
            .ok_or_else(|| StorageError::NotFound(format!("No bcache {id}.")))?;
        if let Some(n) = c.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            if self.bcaches.iter().any(|x| x.id != id && x.name == n) {
                return Err(field(
                    "name",
                    format!("A bcache named '{n}' already exists."),
                ));
            }
            b.name = n.to_string();
        }
        if let Some(u) = c.uuid.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            if !is_uuid(u) {
                return Err(field("uuid", format!("'{u}' is not a UUID.")));
            }
            b.uuid = u.to_string();
        }
        if let Some(cs) = c.cache_set {
            if self.cache_set(cs).is_none() {
                return Err(field("cache_set", format!("No cache set {cs}.")));
            }
            b.cache_set = cs;
        }
        if let Some(v) = c.backing.filter(|v| *v != b.backing) {
            if v == Volume::Bcache(id) {
                return Err(field("backing_device", "A bcache cannot back itself."));
            }
            self.plain_device(v, "a bcache backing device")?;
            b.backing = v;
        }
        if let Some(m) = c.cache_mode {
            b.cache_mode = m;
        }
        let before = self.clone();
        if let Some(x) = self.bcaches.iter_mut().find(|x| x.id == id) {
            *x = b;
        }
        if let Err(e) = self.lvs_fit() {
            *self = before;
            return Err(e);
        }
        Ok(())
    }

    /// `bcache-cache-set/{id}` PUT: the cache set moves to another free device.
    pub fn update_cache_set(&mut self, id: i64, device: Volume) -> Result<()> {
        let c = self
            .cache_set(id)
            .cloned()
            .ok_or_else(|| StorageError::NotFound(format!("No cache set {id}.")))?;
        if device == c.device {
            return Ok(());
        }
        self.plain_device(device, "a cache device")?;
        if let Some(x) = self.cache_sets.iter_mut().find(|x| x.id == id) {
            x.device = device;
        }
        Ok(())
    }

    /// Add or remove a tag of a partition.
    pub fn tag_partition(&mut self, id: i64, tag: &str, add: bool) -> Result<()> {
        let tag = check_tag(tag)?.to_string();
        let p = self
            .partitions
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or_else(|| StorageError::NotFound(format!("No partition {id}.")))?;
        p.tags.retain(|t| *t != tag);
        if add {
            p.tags.push(tag);
        }
        Ok(())
    }

    /// Whether a physical disk's size may become `size`: not while anything is on it, and
    /// never zero.
    pub fn check_disk_resize(&self, disk: i64, size: u64) -> Result<()> {
        let d = self
            .disk(disk)
            .ok_or_else(|| StorageError::NotFound(format!("No disk {disk}.")))?;
        if size == 0 {
            return Err(field("size", "A disk has a size greater than 0."));
        }
        if size != d.size && self.usage(Volume::Disk(disk)).is_some() {
            return Err(field(
                "size",
                format!(
                    "{} is in use ({}); its size cannot change.",
                    d.name,
                    self.used_for(Volume::Disk(disk))
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Disk, StorageModel, Volume, GIB};

    fn model() -> StorageModel {
        let disk = |id: i64, name: &str| Disk {
            id,
            name: name.into(),
            serial: String::new(),
            id_path: String::new(),
            size: 10 * GIB,
            block_size: 512,
            tags: vec![],
            boot: id == 1,
        };
        StorageModel::from_parts(vec![disk(1, "sda"), disk(2, "sdb"), disk(3, "sdc")], vec![])
            .unwrap()
    }

    fn gen() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("uuid-{n}")
        }
    }

    #[test]
    fn bcache_and_cache_set_changes() {
        use super::BcacheChange;
        use crate::deploy::CacheMode;
        let mut m = StorageModel::from_parts(
            (1..=4)
                .map(|id| Disk {
                    id,
                    name: format!("sd{}", (b'a' + id as u8 - 1) as char),
                    serial: String::new(),
                    id_path: String::new(),
                    size: 10 * GIB,
                    block_size: 512,
                    tags: vec![],
                    boot: id == 1,
                })
                .collect(),
            vec![],
        )
        .unwrap();
        let mut g = gen();
        let cs = m.create_cache_set(Volume::Disk(2)).unwrap();
        let b = m
            .create_bcache(None, Volume::Disk(3), cs, CacheMode::Writeback, &mut g)
            .unwrap();
        // The cache set moves to a free disk; not to one in use.
        m.update_cache_set(cs, Volume::Disk(4)).unwrap();
        assert_eq!(m.cache_set(cs).unwrap().device, Volume::Disk(4));
        assert!(m.update_cache_set(cs, Volume::Disk(3)).is_err());
        // Name, mode, backing device; a bad UUID and an unknown cache set are refused.
        m.update_bcache(
            b,
            &BcacheChange {
                name: Some("fast".into()),
                cache_mode: Some(CacheMode::Writethrough),
                backing: Some(Volume::Disk(2)),
                ..Default::default()
            },
        )
        .unwrap();
        let x = m.bcache(b).unwrap();
        assert_eq!(
            (x.name.as_str(), x.cache_mode, x.backing),
            ("fast", CacheMode::Writethrough, Volume::Disk(2))
        );
        assert_eq!(
            m.usage(Volume::Disk(3)),
            None,
            "the old backing disk is free"
        );
        for (c, f) in [
            (
                BcacheChange {
                    uuid: Some("x".into()),
                    ..Default::default()
                },
                "uuid",
            ),
            (
                BcacheChange {
                    cache_set: Some(99),
                    ..Default::default()
                },
                "cache_set",
            ),
        ] {
            match m.update_bcache(b, &c) {
                Err(super::StorageError::Field(got, _)) => assert_eq!(got, f),
                other => panic!("{c:?}: {other:?}"),
            }
        }
        // A backing device in use (the cache set's) is refused, and nothing changes.
        let before = m.clone();
        let used = BcacheChange {
            backing: Some(Volume::Disk(4)),
            name: Some("other".into()),
            ..Default::default()
        };
        assert!(m.update_bcache(b, &used).is_err());
        assert_eq!(m, before);
    }

    #[test]
    fn volume_group_changes() {
        let mut m = model();
        let mut g = gen();
        let vg = m
            .create_volume_group("data", &[Volume::Disk(2)], &mut g)
            .unwrap();
        m.create_logical_volume(vg, "lv0", Some(6 * GIB), &mut g)
            .unwrap();
        // Rename; adding a free disk; adding it twice; removing a non-member.
        m.update_volume_group(vg, Some("bulk"), &[Volume::Disk(3)], &[])
            .unwrap();
        assert_eq!(m.vg(vg).unwrap().name, "bulk");
        assert_eq!(
            m.vg(vg).unwrap().devices,
            vec![Volume::Disk(2), Volume::Disk(3)]
        );
        for (add, remove, want) in [
            (vec![Volume::Disk(3)], vec![], "add_block_devices"),
            (vec![], vec![Volume::Disk(1)], "remove_block_devices"),
        ] {
            let e = m.update_volume_group(vg, None, &add, &remove).unwrap_err();
            assert!(
                matches!(&e, super::StorageError::Field(f, _) if f == want),
                "{e:?}"
            );
        }
        // sdc can go (lv0 fits on sdb), then sdb cannot (nothing left), and a bigger LV pins.
        m.update_volume_group(vg, None, &[], &[Volume::Disk(3)])
            .unwrap();
        assert!(m
            .update_volume_group(vg, None, &[], &[Volume::Disk(2)])
            .is_err());
        m.update_volume_group(vg, None, &[Volume::Disk(3)], &[])
            .unwrap();
        m.create_logical_volume(vg, "lv1", Some(8 * GIB), &mut g)
            .unwrap();
        let e = m
            .update_volume_group(vg, None, &[], &[Volume::Disk(3)])
            .unwrap_err();
        assert!(e.to_string().contains("logical volumes need"), "{e}");
        // A disk in a volume group cannot be resized; a free one can.
        assert!(m.check_disk_resize(2, 20 * GIB).is_err());
        assert!(m.check_disk_resize(1, 20 * GIB).is_ok());
        assert!(m.check_disk_resize(1, 0).is_err());
    }

    #[test]
    fn special_filesystems() {
        let mut m = model();
        let mut g = gen();
        m.mount_special("tmpfs", "/run/scratch/", Some("size=1G"))
            .unwrap();
        for (fstype, mp, field) in [
            ("ext4", "/x", "fstype"),
            ("tmpfs", "relative", "mount_point"),
            ("tmpfs", "/", "mount_point"),
            ("ramfs", "/run/scratch", "mount_point"),
        ] {
            let e = m.mount_special(fstype, mp, None).unwrap_err();
            assert!(
                matches!(&e, super::StorageError::Field(f, _) if f == field),
                "{fstype} {mp}: {e:?}"
            );
        }
        // A block filesystem cannot take its mount point either.
        let p = m.add_partition(1, Some(GIB), false, false, &mut g).unwrap();
        m.format(
            Volume::Partition(p),
            super::super::FsType::Ext4,
            None,
            None,
            &mut g,
        )
        .unwrap();
        assert!(m.mount(Volume::Partition(p), "/run/scratch", None).is_err());
        assert_eq!(m.specials[0].mount_options.as_deref(), Some("size=1G"));
        m.unmount_special("/run/scratch").unwrap();
        assert!(m.unmount_special("/run/scratch").is_err());
        assert!(m.specials.is_empty());
    }

    #[test]
    fn partition_tags() {
        let mut m = model();
        let mut g = gen();
        let p = m.add_partition(1, Some(GIB), false, false, &mut g).unwrap();
        m.tag_partition(p, "fast", true).unwrap();
        m.tag_partition(p, "fast", true).unwrap();
        assert_eq!(m.partition(p).unwrap().tags, vec!["fast".to_string()]);
        assert!(m.tag_partition(p, "two words", true).is_err());
        m.tag_partition(p, "fast", false).unwrap();
        assert!(m.partition(p).unwrap().tags.is_empty());
        assert!(m.tag_partition(999, "x", true).is_err());
    }
}
