//! RAID arrays (MAAS's `raids/`): md arrays of disks and partitions at levels 0, 1, 5, 6 and
//! 10, with spares (not for level 0); the member counts MAAS requires; sizes by level from
//! what mdadm leaves of each member; a RAID is a block device that can be formatted, be an
//! LVM physical volume, a bcache backing or cache device.

use super::{
    align_down, field, invalid, is_uuid, Raid, Result, StorageError, StorageModel, Use, UuidGen,
    Volume, MIB,
};
use crate::deploy::RaidLevel;

/// Where mdadm puts the data on each member (metadata 1.2, its default): the superblock and
/// bitmap room (at most 134 KiB) plus headroom for reshaping — 128 MiB, halved while it is
/// more than about 0.1 % of the member (for levels with chunks, not below 1 MiB) — rounded up
/// to 1 MiB (mdadm's `super1.c`, `init_super1`). MAAS counts 128 KiB, too little for logical
/// volumes sized to the array to fit.
pub fn md_data_offset(member: u64, chunked: bool) -> u64 {
    let mut headroom = 128 * MIB;
    while headroom * 1024 > member && (!chunked || headroom / 2 >= MIB) && headroom > 0 {
        headroom /= 2;
    }
    (headroom + 134 * 1024).div_ceil(MIB) * MIB
}

fn chunked(level: RaidLevel) -> bool {
    level != RaidLevel::Raid1
}

/// What one member gives to the array.
fn usable(member: u64, level: RaidLevel) -> u64 {
    align_down(member.saturating_sub(md_data_offset(member, chunked(level))))
}

/// The array's size from its active members' sizes.
pub fn raid_size_of(level: RaidLevel, members: &[u64]) -> u64 {
    let Some(min) = members.iter().map(|m| usable(*m, level)).min() else {
        return 0;
    };
    let n = members.len() as u64;
    match level {
        RaidLevel::Raid0 => members.iter().map(|m| usable(*m, level)).sum(),
        RaidLevel::Raid1 => min,
        RaidLevel::Raid5 => min * n.saturating_sub(1),
        RaidLevel::Raid6 => min * n.saturating_sub(2),
        RaidLevel::Raid10 => align_down(min * n / 2),
    }
}

/// MAAS's member rules for a level (`FilesystemGroup._validate_raid`).
pub fn check_members(level: RaidLevel, active: usize, spares: usize) -> Result<()> {
    let (min, spares_ok) = match level {
        RaidLevel::Raid0 => (2, false),
        RaidLevel::Raid1 => (2, true),
        RaidLevel::Raid5 => (3, true),
        RaidLevel::Raid6 => (4, true),
        RaidLevel::Raid10 => (3, true),
    };
    if active < min || (!spares_ok && spares > 0) {
        let n = &level.as_str()[5..];
        return Err(field(
            "__all__",
            if spares_ok {
                format!("RAID level {n} must have at least {min} raid devices and any number of spares.")
            } else {
                format!("RAID level {n} must have at least {min} raid devices and no spares.")
            },
        ));
    }
    Ok(())
}

/// A change of `raid/{id}` PUT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RaidChange {
    pub name: Option<String>,
    pub uuid: Option<String>,
    pub add_devices: Vec<Volume>,
    pub remove_devices: Vec<Volume>,
    pub add_spares: Vec<Volume>,
    pub remove_spares: Vec<Volume>,
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 32
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(field(
            "name",
            format!(
                "'{name}' is not a valid RAID name (letters, digits, '-', '_', '.'; at most 32)."
            ),
        ));
    }
    Ok(())
}

impl StorageModel {
    /// The size of a RAID (0 when there is none).
    pub fn raid_size(&self, id: i64) -> u64 {
        match self.raid(id) {
            Some(r) => {
                let sizes: Vec<u64> = r.devices.iter().map(|d| self.size_of(*d)).collect();
                raid_size_of(r.level, &sizes)
            }
            None => 0,
        }
    }

    pub(super) fn raid_member_text(&self, id: i64, role: &str) -> String {
        match self.raid(id) {
            Some(r) => format!("{role} {} device for {}", r.level.as_str(), r.name),
            None => "Unused".into(),
        }
    }

    /// A disk or partition that nothing uses, for a RAID.
    fn free_member(&self, v: Volume, f: &str) -> Result<()> {
        if !matches!(v, Volume::Disk(_) | Volume::Partition(_)) {
            return Err(field(
                f,
                format!(
                    "{} cannot be in a RAID: only disks and partitions can.",
                    self.name_of(v)
                ),
            ));
        }
        if !self.exists(v) {
            return Err(StorageError::NotFound(format!("No such device: {v:?}.")));
        }
        match self.usage(v) {
            None => Ok(()),
            Some(_) => Err(field(
                f,
                format!("{} is in use ({}).", self.name_of(v), self.used_for(v)),
            )),
        }
    }

    /// `raids/ create`: a RAID of unused disks and partitions (each given once).
    pub fn create_raid(
        &mut self,
        name: Option<&str>,
        raid_uuid: Option<String>,
        level: RaidLevel,
        devices: &[Volume],
        spares: &[Volume],
        uuid: UuidGen,
    ) -> Result<i64> {
        let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => {
                check_name(n)?;
                if self.raids.iter().any(|r| r.name == n) {
                    return Err(field("name", format!("A RAID named '{n}' already exists.")));
                }
                n.to_string()
            }
            None => {
                let n = (0..)
                    .find(|n| !self.raids.iter().any(|r| r.name == format!("md{n}")))
                    .unwrap_or(0);
                format!("md{n}")
            }
        };
        if let Some(u) = &raid_uuid {
            if !is_uuid(u) {
                return Err(field("uuid", format!("'{u}' is not a UUID.")));
            }
        }
        let mut seen: Vec<Volume> = Vec::new();
        for (v, f) in devices
            .iter()
            .map(|v| (v, "block_devices"))
            .chain(spares.iter().map(|v| (v, "spare_devices")))
        {
            if seen.contains(v) {
                return Err(field(f, format!("{} is given twice.", self.name_of(*v))));
            }
            seen.push(*v);
            self.free_member(*v, f)?;
        }
        check_members(level, devices.len(), spares.len())?;
        let id = self.new_id();
        self.raids.push(Raid {
            id,
            name,
            uuid: raid_uuid.unwrap_or_else(uuid),
            level,
            devices: devices.to_vec(),
            spares: spares.to_vec(),
        });
        Ok(id)
    }

    /// `raid/{id}` PUT: rename, new UUID, members and spares added or removed. The result
    /// must still satisfy its level, and a volume group on the RAID must still hold its
    /// logical volumes.
    pub fn update_raid(&mut self, id: i64, c: &RaidChange) -> Result<()> {
        let mut r = self
            .raid(id)
            .cloned()
            .ok_or_else(|| StorageError::NotFound(format!("No RAID {id}.")))?;
        if let Some(n) = c.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            check_name(n)?;
            if self.raids.iter().any(|o| o.id != id && o.name == n) {
                return Err(field("name", format!("A RAID named '{n}' already exists.")));
            }
            r.name = n.to_string();
        }
        if let Some(u) = c.uuid.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            if !is_uuid(u) {
                return Err(field("uuid", format!("'{u}' is not a UUID.")));
            }
            r.uuid = u.to_string();
        }
        for (gone, from, f) in [
            (&c.remove_devices, &mut r.devices, "remove_block_devices"),
            (&c.remove_spares, &mut r.spares, "remove_spare_devices"),
        ] {
            for v in gone {
                if !from.contains(v) {
                    return Err(field(
                        f,
                        format!(
                            "{} is not {} of this RAID.",
                            self.name_of(*v),
                            if f == "remove_block_devices" {
                                "an active device"
                            } else {
                                "a spare"
                            }
                        ),
                    ));
                }
                from.retain(|x| x != v);
            }
        }
        for (new, to, f) in [
            (&c.add_devices, &mut r.devices, "add_block_devices"),
            (&c.add_spares, &mut r.spares, "add_spare_devices"),
        ] {
            for v in new {
                if to.contains(v) {
                    return Err(field(f, format!("{} is given twice.", self.name_of(*v))));
                }
                // A member moving between active and spare is free once removed.
                let moving = c.remove_devices.contains(v) || c.remove_spares.contains(v);
                if !moving {
                    self.free_member(*v, f)?;
                }
                to.push(*v);
            }
        }
        check_members(r.level, r.devices.len(), r.spares.len())?;
        let before = self.clone();
        if let Some(x) = self.raids.iter_mut().find(|x| x.id == id) {
            *x = r;
        }
        if let Err(e) = self.lvs_fit() {
            *self = before;
            return Err(e);
        }
        Ok(())
    }

    /// Delete a RAID and its filesystem; not while a volume group, cache set or bcache uses
    /// it. Its members become unused.
    pub fn delete_raid(&mut self, id: i64) -> Result<()> {
        if self.raid(id).is_none() {
            return Err(StorageError::NotFound(format!("No RAID {id}.")));
        }
        let v = Volume::Raid(id);
        match self.usage(v) {
            None | Some(Use::Filesystem(_)) => {}
            Some(_) => {
                return Err(invalid(format!(
                    "Cannot delete {}: it is in use ({}).",
                    self.name_of(v),
                    self.used_for(v)
                )))
            }
        }
        self.filesystems.retain(|f| f.volume != v);
        self.raids.retain(|r| r.id != id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::{FsType, StorageStep};
    use crate::storage::{deploy_steps, Disk, GIB};

    fn disk(id: i64, name: &str, size: u64, boot: bool) -> Disk {
        Disk {
            id,
            name: name.into(),
            serial: format!("S{id}"),
            id_path: String::new(),
            size,
            block_size: 512,
            tags: vec![],
            boot,
        }
    }

    fn model() -> StorageModel {
        StorageModel {
            disks: vec![
                disk(1, "sda", 20 * GIB, true),
                disk(2, "sdb", 10 * GIB, false),
                disk(3, "sdc", 10 * GIB, false),
                disk(4, "sdd", 12 * GIB, false),
                disk(5, "sde", 10 * GIB, false),
            ],
            ..Default::default()
        }
    }

    fn gen() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("00000000-0000-4000-8000-{n:012}")
        }
    }

    #[test]
    fn data_offset_follows_mdadm() {
        // (member size, chunked, offset): 128 MiB headroom from 128 GiB up; 0.1 % below;
        // 1 MiB of headroom at least with chunks.
        for (size, chunked, want) in [
            (2 * 1024 * GIB, false, 129 * MIB),
            (128 * GIB, true, 129 * MIB),
            (64 * GIB, false, 65 * MIB),
            (10 * GIB, false, 9 * MIB),
            (GIB, true, 2 * MIB),
            (64 * MIB, true, 2 * MIB),
            (64 * MIB, false, MIB),
        ] {
            assert_eq!(md_data_offset(size, chunked), want, "{size} {chunked}");
        }
    }

    #[test]
    fn sizes_by_level() {
        let g = 10 * GIB;
        let u1 = align_down(g - md_data_offset(g, false));
        let u = align_down(g - md_data_offset(g, true));
        for (level, members, want) in [
            (RaidLevel::Raid0, vec![g, g], 2 * u),
            (RaidLevel::Raid1, vec![g, g, g], u1),
            (RaidLevel::Raid5, vec![g, g, g], 2 * u),
            (RaidLevel::Raid6, vec![g, g, g, g], 2 * u),
            (RaidLevel::Raid10, vec![g, g, g, g], 2 * u),
            (RaidLevel::Raid10, vec![g, g, g], align_down(3 * u / 2)),
        ] {
            assert_eq!(raid_size_of(level, &members), want, "{level:?}");
        }
        // The smallest member counts (RAID 0 sums them).
        let big = 12 * GIB;
        let ub = align_down(big - md_data_offset(big, true));
        assert_eq!(raid_size_of(RaidLevel::Raid1, &[big, g]), u1);
        assert_eq!(raid_size_of(RaidLevel::Raid0, &[big, g]), ub + u);
    }

    #[test]
    fn member_counts_as_maas() {
        for (level, active, spares, ok) in [
            (RaidLevel::Raid0, 2, 0, true),
            (RaidLevel::Raid0, 1, 0, false),
            (RaidLevel::Raid0, 2, 1, false),
            (RaidLevel::Raid1, 2, 3, true),
            (RaidLevel::Raid1, 1, 1, false),
            (RaidLevel::Raid5, 2, 1, false),
            (RaidLevel::Raid5, 3, 0, true),
            (RaidLevel::Raid6, 3, 2, false),
            (RaidLevel::Raid6, 4, 0, true),
            (RaidLevel::Raid10, 2, 0, false),
            (RaidLevel::Raid10, 3, 0, true),
        ] {
            assert_eq!(
                check_members(level, active, spares).is_ok(),
                ok,
                "{level:?} {active} {spares}"
            );
        }
        assert_eq!(
            check_members(RaidLevel::Raid5, 2, 0).unwrap_err(),
            StorageError::Field(
                "__all__".into(),
                "RAID level 5 must have at least 3 raid devices and any number of spares.".into()
            )
        );
    }

    #[test]
    fn create_names_uses_and_refuses() {
        let mut m = model();
        let mut g = gen();
        let r = m
            .create_raid(
                None,
                None,
                RaidLevel::Raid1,
                &[Volume::Disk(2), Volume::Disk(3)],
                &[Volume::Disk(5)],
                &mut g,
            )
            .unwrap();
        assert_eq!(m.name_of(Volume::Raid(r)), "md0");
        assert_eq!(m.block_device(r), Some(Volume::Raid(r)));
        assert_eq!(m.used_for(Volume::Disk(2)), "Active raid-1 device for md0");
        assert_eq!(m.used_for(Volume::Disk(5)), "Spare raid-1 device for md0");
        // A member cannot be used twice; the name is taken; a bad UUID; a RAID in a RAID.
        for (name, uuid, devs, f) in [
            (
                None,
                None,
                vec![Volume::Disk(2), Volume::Disk(4)],
                "block_devices",
            ),
            (
                Some("md0"),
                None,
                vec![Volume::Disk(4), Volume::Disk(1)],
                "name",
            ),
            (
                Some("x"),
                Some("nope"),
                vec![Volume::Disk(4), Volume::Disk(1)],
                "uuid",
            ),
            (
                None,
                None,
                vec![Volume::Disk(4), Volume::Disk(4)],
                "block_devices",
            ),
            (
                None,
                None,
                vec![Volume::Disk(4), Volume::Raid(r)],
                "block_devices",
            ),
            (
                Some("bad name"),
                None,
                vec![Volume::Disk(4), Volume::Disk(1)],
                "name",
            ),
        ] {
            match m.create_raid(
                name,
                uuid.map(String::from),
                RaidLevel::Raid1,
                &devs,
                &[],
                &mut g,
            ) {
                Err(StorageError::Field(got, _)) => assert_eq!(got, f, "{devs:?}"),
                other => panic!("{devs:?}: {other:?}"),
            }
        }
        // The RAID is a block device: formatted and mounted; a member cannot be deleted.
        m.format(Volume::Raid(r), FsType::Ext4, None, None, &mut g)
            .unwrap();
        m.mount(Volume::Raid(r), "/srv", None).unwrap();
        assert_eq!(
            m.used_for(Volume::Raid(r)),
            "ext4 formatted filesystem mounted at /srv"
        );
        // A RAID can be an LVM physical volume; then it cannot be deleted.
        let r2 = m
            .create_raid(
                Some("data"),
                None,
                RaidLevel::Raid0,
                &[Volume::Disk(4), Volume::Disk(1)],
                &[],
                &mut g,
            )
            .unwrap();
        let vg = m
            .create_volume_group("vgdata", &[Volume::Raid(r2)], &mut g)
            .unwrap();
        assert!(m.vg_size(vg) > 20 * GIB);
        assert!(matches!(m.delete_raid(r2), Err(StorageError::Invalid(_))));
        m.delete_volume_group(vg, true).unwrap();
        m.delete_raid(r2).unwrap();
        assert_eq!(m.usage(Volume::Disk(4)), None);
        // Deleting a RAID takes its filesystem; the members are free again.
        m.unmount(Volume::Raid(r)).unwrap();
        m.delete_raid(r).unwrap();
        assert!(m.filesystems.is_empty());
        assert_eq!(m.usage(Volume::Disk(2)), None);
    }

    #[test]
    fn update_moves_members_and_keeps_lvs_fitting() {
        let mut m = model();
        let mut g = gen();
        let r = m
            .create_raid(
                Some("r5"),
                None,
                RaidLevel::Raid5,
                &[Volume::Disk(2), Volume::Disk(3), Volume::Disk(5)],
                &[Volume::Disk(4)],
                &mut g,
            )
            .unwrap();
        // The spare becomes active and an active member leaves: still three.
        m.update_raid(
            r,
            &RaidChange {
                name: Some("fast".into()),
                add_devices: vec![Volume::Disk(4)],
                remove_spares: vec![Volume::Disk(4)],
                remove_devices: vec![Volume::Disk(5)],
                ..Default::default()
            },
        )
        .unwrap();
        let x = m.raid(r).unwrap();
        assert_eq!(x.name, "fast");
        assert_eq!(
            x.devices,
            vec![Volume::Disk(2), Volume::Disk(3), Volume::Disk(4)]
        );
        assert!(x.spares.is_empty());
        for (c, f) in [
            (
                RaidChange {
                    remove_devices: vec![Volume::Disk(2)],
                    ..Default::default()
                },
                "__all__",
            ),
            (
                RaidChange {
                    remove_devices: vec![Volume::Disk(5)],
                    ..Default::default()
                },
                "remove_block_devices",
            ),
            (
                RaidChange {
                    uuid: Some("x".into()),
                    ..Default::default()
                },
                "uuid",
            ),
        ] {
            match m.update_raid(r, &c) {
                Err(StorageError::Field(got, _)) => assert_eq!(got, f, "{c:?}"),
                other => panic!("{c:?}: {other:?}"),
            }
        }
        // A volume group filling the RAID: dropping to fewer members would not hold it.
        m.update_raid(
            r,
            &RaidChange {
                add_devices: vec![Volume::Disk(5)],
                ..Default::default()
            },
        )
        .unwrap();
        let vg = m
            .create_volume_group("vg", &[Volume::Raid(r)], &mut g)
            .unwrap();
        m.create_logical_volume(vg, "all", None, &mut g).unwrap();
        let before = m.clone();
        let shrink = RaidChange {
            remove_devices: vec![Volume::Disk(5)],
            ..Default::default()
        };
        assert!(matches!(
            m.update_raid(r, &shrink),
            Err(StorageError::Invalid(_))
        ));
        assert_eq!(m, before, "nothing changed");
    }

    #[test]
    fn deploy_steps_build_the_raid_before_what_sits_on_it() {
        let mut m = model();
        let mut g = gen();
        m.apply_layout(
            crate::storage::Layout::Flat,
            &Default::default(),
            false,
            &mut g,
        )
        .unwrap();
        let p = m
            .add_partition(2, Some(4 * GIB), false, false, &mut g)
            .unwrap();
        let q = m
            .add_partition(3, Some(4 * GIB), false, false, &mut g)
            .unwrap();
        let r = m
            .create_raid(
                Some("mirror"),
                None,
                RaidLevel::Raid1,
                &[Volume::Partition(p), Volume::Partition(q)],
                &[Volume::Disk(5)],
                &mut g,
            )
            .unwrap();
        let vg = m
            .create_volume_group("vgm", &[Volume::Raid(r)], &mut g)
            .unwrap();
        let lv = m.create_logical_volume(vg, "srv", None, &mut g).unwrap();
        m.format(Volume::LogicalVolume(lv), FsType::Ext4, None, None, &mut g)
            .unwrap();
        m.mount(Volume::LogicalVolume(lv), "/srv", None).unwrap();
        let steps = deploy_steps(&m, false).unwrap();
        let pos = |id: &str| steps.iter().position(|s| s.id() == id).unwrap();
        let raid = &steps[pos(&format!("raid-{r}"))];
        assert_eq!(
            raid,
            &StorageStep::Raid {
                id: format!("raid-{r}"),
                name: "mirror".into(),
                level: RaidLevel::Raid1,
                devices: vec![format!("part-{p}"), format!("part-{q}")],
                spares: vec!["disk-5".into()],
            }
        );
        assert!(pos(&format!("part-{q}")) < pos(&format!("raid-{r}")));
        assert!(pos("disk-5") < pos(&format!("raid-{r}")));
        assert!(pos(&format!("raid-{r}")) < pos(&format!("vg-{vg}")));
    }

    #[test]
    fn a_whole_boot_disk_in_a_raid_cannot_deploy() {
        let mut m = model();
        let mut g = gen();
        let r = m
            .create_raid(
                None,
                None,
                RaidLevel::Raid1,
                &[Volume::Disk(1), Volume::Disk(2)],
                &[],
                &mut g,
            )
            .unwrap();
        m.format(Volume::Raid(r), FsType::Ext4, None, None, &mut g)
            .unwrap();
        m.mount(Volume::Raid(r), "/", None).unwrap();
        let why = m.deploy_problem().unwrap();
        assert!(
            why.contains("the boot disk sda is a member of RAID md0"),
            "{why}"
        );
    }
}
