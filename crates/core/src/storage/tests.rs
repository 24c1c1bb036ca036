use super::*;
use crate::deploy::{CacheMode, FsType, PartitionFlag, PartitionTable, StorageStep};

fn disk(id: i64, name: &str, size: u64, tags: &[&str], boot: bool) -> Disk {
    Disk {
        id,
        name: name.into(),
        serial: format!("SER-{name}"),
        id_path: format!("/dev/disk/by-id/wwn-{name}"),
        size,
        block_size: 512,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        boot,
    }
}

fn counter() -> impl FnMut() -> String {
    let mut n = 0u8;
    move || {
        n += 1;
        uuid_from_bytes([n; 16])
    }
}

fn one_disk() -> StorageModel {
    StorageModel::from_parts(vec![disk(1, "sda", 100 * GIB, &["rotary"], true)], vec![]).unwrap()
}

fn two_disks() -> StorageModel {
    StorageModel::from_parts(
        vec![
            disk(1, "sda", 100 * GIB, &["rotary"], true),
            disk(2, "sdb", 20 * GIB, &["ssd"], false),
        ],
        vec![],
    )
    .unwrap()
}

fn mounts(m: &StorageModel) -> Vec<(String, String, FsType)> {
    let mut v: Vec<_> = m
        .filesystems
        .iter()
        .filter_map(|f| {
            f.mount_point
                .clone()
                .map(|mp| (mp, m.name_of(f.volume), f.fstype))
        })
        .collect();
    v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    v
}

fn apply(m: &mut StorageModel, l: Layout, p: &LayoutParams, uefi: bool) -> Result<Layout> {
    let mut u = counter();
    m.apply_layout(l, p, uefi, &mut u)
}

#[test]
fn sizes_parse_like_maas() {
    for (s, want) in [
        ("1000", Some(1000)),
        ("10G", Some(10_000_000_000)),
        ("512M", Some(512_000_000)),
        ("2T", Some(2_000_000_000_000)),
        ("4k", Some(4000)),
        ("10GB", Some(10_000_000_000)),
        ("1Gi", Some(GIB)),
        ("512MiB", Some(512 * MIB)),
        ("ten", None),
        ("10X", None),
        ("-1", None),
        ("", None),
    ] {
        assert_eq!(parse_bytes(s), want, "{s}");
    }
    assert_eq!(parse_size_of("root_size", "50%", 200).unwrap(), 100);
    assert!(
        matches!(parse_size_of("root_size", "150%", 200), Err(StorageError::Field(f, _)) if f == "root_size")
    );
    assert!(
        matches!(parse_size_of("boot_size", "big", 200), Err(StorageError::Field(f, m)) if f == "boot_size" && m.contains("'big'"))
    );
}

/// Every layout on one and two disks, BIOS and UEFI: what is mounted where.
#[test]
fn layouts_table() {
    type Row = (
        &'static str,
        bool,
        bool,
        Layout,
        Layout,
        &'static [(&'static str, &'static str, FsType)],
    );
    let rows: &[Row] = &[
        (
            "flat bios 1",
            false,
            false,
            Layout::Flat,
            Layout::Flat,
            &[("/", "sda-part1", FsType::Ext4)],
        ),
        (
            "flat uefi 1",
            false,
            true,
            Layout::Flat,
            Layout::Flat,
            &[
                ("/", "sda-part2", FsType::Ext4),
                ("/boot/efi", "sda-part1", FsType::Vfat),
            ],
        ),
        (
            "flat bios 2",
            true,
            false,
            Layout::Flat,
            Layout::Flat,
            &[("/", "sda-part1", FsType::Ext4)],
        ),
        (
            "flat uefi 2",
            true,
            true,
            Layout::Flat,
            Layout::Flat,
            &[
                ("/", "sda-part2", FsType::Ext4),
                ("/boot/efi", "sda-part1", FsType::Vfat),
            ],
        ),
        (
            "lvm bios 1",
            false,
            false,
            Layout::Lvm,
            Layout::Lvm,
            &[
                ("/", "vgroot-lvroot", FsType::Ext4),
                ("/boot", "sda-part1", FsType::Ext4),
            ],
        ),
        (
            "lvm uefi 1",
            false,
            true,
            Layout::Lvm,
            Layout::Lvm,
            &[
                ("/", "vgroot-lvroot", FsType::Ext4),
                ("/boot", "sda-part2", FsType::Ext4),
                ("/boot/efi", "sda-part1", FsType::Vfat),
            ],
        ),
        (
            "lvm bios 2",
            true,
            false,
            Layout::Lvm,
            Layout::Lvm,
            &[
                ("/", "vgroot-lvroot", FsType::Ext4),
                ("/boot", "sda-part1", FsType::Ext4),
            ],
        ),
        (
            "bcache bios 1 (no ssd: flat)",
            false,
            false,
            Layout::Bcache,
            Layout::Flat,
            &[("/", "sda-part1", FsType::Ext4)],
        ),
        (
            "bcache bios 2",
            true,
            false,
            Layout::Bcache,
            Layout::Bcache,
            &[
                ("/", "bcache0", FsType::Ext4),
                ("/boot", "sda-part1", FsType::Ext4),
            ],
        ),
        (
            "bcache uefi 2",
            true,
            true,
            Layout::Bcache,
            Layout::Bcache,
            &[
                ("/", "bcache0", FsType::Ext4),
                ("/boot", "sda-part2", FsType::Ext4),
                ("/boot/efi", "sda-part1", FsType::Vfat),
            ],
        ),
        ("blank 1", false, false, Layout::Blank, Layout::Blank, &[]),
        ("blank 2", true, true, Layout::Blank, Layout::Blank, &[]),
    ];
    for (name, two, uefi, layout, applied, want) in rows {
        let mut m = if *two { two_disks() } else { one_disk() };
        let got = apply(&mut m, *layout, &LayoutParams::default(), *uefi).unwrap();
        assert_eq!(got, *applied, "{name}");
        let want: Vec<(String, String, FsType)> = want
            .iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), *c))
            .collect();
        assert_eq!(mounts(&m), want, "{name}");
        // Partitions fit, are aligned and at least the minimum.
        for d in &m.disks {
            if let Some(t) = m.table(d.id) {
                let used: u64 = m.partitions_of(d.id).iter().map(|p| p.size).sum();
                assert!(used <= m.partitionable(d.id, t.table), "{name}: overfull");
                for p in m.partitions_of(d.id) {
                    assert_eq!(p.size % ALIGNMENT, 0, "{name}: unaligned");
                    assert!(p.size >= MIN_SIZE, "{name}");
                }
            }
        }
        let steps = deploy_steps(&m, *uefi);
        if *layout == Layout::Blank {
            assert!(
                steps
                    .unwrap_err()
                    .to_string()
                    .contains("no root filesystem"),
                "{name}"
            );
        } else {
            assert!(steps.is_ok(), "{name}: {steps:?}");
        }
    }
}

#[test]
fn flat_sizes_and_tables() {
    // BIOS: MBR, one partition taking the rest (first MiB reserved, aligned down).
    let mut m = one_disk();
    apply(&mut m, Layout::Flat, &LayoutParams::default(), false).unwrap();
    assert_eq!(m.tables[0].table, PartitionTable::Msdos);
    assert_eq!(m.partitions[0].size, align_down(100 * GIB - MIB));
    assert!(m.partitions[0].bootable);
    // UEFI: GPT, ESP 512 MiB, root the rest (head, BIOS-boot room and tail reserved).
    let mut m = one_disk();
    apply(&mut m, Layout::Flat, &LayoutParams::default(), true).unwrap();
    assert_eq!(m.tables[0].table, PartitionTable::Gpt);
    let ps = m.partitions_of(1);
    assert_eq!(ps[0].size, ESP_SIZE);
    assert_eq!(ps[1].size, align_down(100 * GIB - 3 * MIB) - ESP_SIZE);
    // A > 2 TiB boot disk gets GPT under BIOS too.
    let mut m = StorageModel::from_parts(vec![disk(1, "sda", 3 * TIB, &[], true)], vec![]).unwrap();
    apply(&mut m, Layout::Flat, &LayoutParams::default(), false).unwrap();
    assert_eq!(m.tables[0].table, PartitionTable::Gpt);
    // root_size is rounded up to 4 MiB; boot_size makes /boot on flat.
    let mut m = one_disk();
    let p = LayoutParams {
        root_size: Some("10G".into()),
        boot_size: Some("512M".into()),
        ..Default::default()
    };
    apply(&mut m, Layout::Flat, &p, false).unwrap();
    let ps = m.partitions_of(1);
    assert_eq!(ps[0].size, align_up(512_000_000));
    assert_eq!(ps[1].size, align_up(10_000_000_000));
    assert_eq!(mounts(&m)[1].0, "/boot");
    // root_device: root on the second disk, boot things on the boot disk.
    let mut m = two_disks();
    let p = LayoutParams {
        root_device: Some(2),
        ..Default::default()
    };
    apply(&mut m, Layout::Flat, &p, true).unwrap();
    assert_eq!(
        mounts(&m),
        vec![
            ("/".to_string(), "sdb-part1".to_string(), FsType::Ext4),
            (
                "/boot/efi".to_string(),
                "sda-part1".to_string(),
                FsType::Vfat
            )
        ]
    );
}

#[test]
fn lvm_and_bcache_parameters() {
    let mut m = one_disk();
    let p = LayoutParams {
        vg_name: Some("data".into()),
        lv_name: Some("root".into()),
        lv_size: Some("20G".into()),
        boot_size: Some("2G".into()),
        ..Default::default()
    };
    apply(&mut m, Layout::Lvm, &p, false).unwrap();
    assert_eq!(m.volume_groups[0].name, "data");
    assert_eq!(m.logical_volumes[0].name, "root");
    assert_eq!(m.logical_volumes[0].size, align_up(20_000_000_000));
    assert_eq!(m.partitions_of(1)[0].size, align_up(2_000_000_000));
    let pv = m.partitions_of(1)[1].size;
    assert_eq!(
        m.vg_size(m.volume_groups[0].id),
        align_down(pv - LVM_PV_OVERHEAD)
    );
    // Default LV takes the whole VG.
    let mut m = one_disk();
    apply(&mut m, Layout::Lvm, &LayoutParams::default(), false).unwrap();
    let vg = m.volume_groups[0].id;
    assert_eq!(m.logical_volumes[0].size, m.vg_size(vg));
    assert_eq!(m.partitions_of(1)[0].size, DEFAULT_BOOT_SIZE);

    // bcache: cache partition on the SSD, write-through by default; options.
    let mut m = two_disks();
    apply(&mut m, Layout::Bcache, &LayoutParams::default(), false).unwrap();
    assert_eq!(m.bcaches[0].cache_mode, CacheMode::Writethrough);
    assert_eq!(
        m.cache_sets[0].device,
        Volume::Partition(m.partitions_of(2)[0].id)
    );
    let mut m = two_disks();
    let p = LayoutParams {
        cache_no_part: true,
        cache_mode: Some(CacheMode::Writeback),
        ..Default::default()
    };
    apply(&mut m, Layout::Bcache, &p, false).unwrap();
    assert_eq!(m.cache_sets[0].device, Volume::Disk(2));
    assert_eq!(m.bcaches[0].cache_mode, CacheMode::Writeback);
    let mut m = two_disks();
    let p = LayoutParams {
        cache_size: Some("5G".into()),
        ..Default::default()
    };
    apply(&mut m, Layout::Bcache, &p, false).unwrap();
    assert_eq!(m.partitions_of(2)[0].size, align_up(5_000_000_000));
    // The smallest SSD that is not the boot disk is chosen.
    let mut m = StorageModel::from_parts(
        vec![
            disk(1, "sda", 100 * GIB, &["ssd"], true),
            disk(2, "sdb", 50 * GIB, &["ssd"], false),
            disk(3, "sdc", 30 * GIB, &["ssd"], false),
        ],
        vec![],
    )
    .unwrap();
    apply(&mut m, Layout::Bcache, &LayoutParams::default(), false).unwrap();
    assert_eq!(m.partitions_of(3).len(), 1);
    assert!(m.partitions_of(2).is_empty());
}

/// Every layout error: field and message.
#[test]
fn layout_errors_table() {
    let rows: Vec<(&str, bool, Layout, LayoutParams, &str, &str)> = vec![
        (
            "root too big",
            false,
            Layout::Flat,
            LayoutParams {
                root_size: Some("200G".into()),
                ..Default::default()
            },
            "root_size",
            "Size is too large. Maximum size is 107369988096.",
        ),
        (
            "boot too big",
            false,
            Layout::Lvm,
            LayoutParams {
                boot_size: Some("200G".into()),
                ..Default::default()
            },
            "boot_size",
            "Size is too large. Maximum size is",
        ),
        (
            "root junk",
            false,
            Layout::Flat,
            LayoutParams {
                root_size: Some("lots".into()),
                ..Default::default()
            },
            "root_size",
            "'lots' is not a size",
        ),
        (
            "unknown root device",
            false,
            Layout::Flat,
            LayoutParams {
                root_device: Some(99),
                ..Default::default()
            },
            "root_device",
            "99 is not a physical block device",
        ),
        (
            "unknown cache device",
            true,
            Layout::Bcache,
            LayoutParams {
                cache_device: Some(99),
                ..Default::default()
            },
            "cache_device",
            "99 is not a physical block device",
        ),
        (
            "cache on boot disk",
            true,
            Layout::Bcache,
            LayoutParams {
                cache_device: Some(1),
                ..Default::default()
            },
            "cache_device",
            "boot or root device",
        ),
        (
            "bcache without cache device",
            false,
            Layout::Bcache,
            LayoutParams {
                cache_size: Some("1G".into()),
                ..Default::default()
            },
            "cache_device",
            "No cache device",
        ),
        (
            "cache too big",
            true,
            Layout::Bcache,
            LayoutParams {
                cache_size: Some("50G".into()),
                ..Default::default()
            },
            "cache_size",
            "Size is too large. Maximum size is",
        ),
        (
            "cache size and no part",
            true,
            Layout::Bcache,
            LayoutParams {
                cache_size: Some("1G".into()),
                cache_no_part: true,
                ..Default::default()
            },
            "cache_size",
            "cannot be given with cache_no_part",
        ),
        (
            "lv too big",
            false,
            Layout::Lvm,
            LayoutParams {
                lv_size: Some("500G".into()),
                ..Default::default()
            },
            "lv_size",
            "Size is too large. Maximum size is",
        ),
        (
            "bad vg name",
            false,
            Layout::Lvm,
            LayoutParams {
                vg_name: Some("a b".into()),
                ..Default::default()
            },
            "vg_name",
            "not a valid volume group name",
        ),
        (
            "bad lv name",
            false,
            Layout::Lvm,
            LayoutParams {
                lv_name: Some("a/b".into()),
                ..Default::default()
            },
            "lv_name",
            "not a valid logical volume name",
        ),
    ];
    for (name, two, layout, p, f, msg) in rows {
        let mut m = if two { two_disks() } else { one_disk() };
        let before = m.clone();
        match apply(&mut m, layout, &p, false) {
            Err(StorageError::Field(gf, gm)) => {
                assert_eq!(gf, f, "{name}: {gm}");
                assert!(gm.contains(msg), "{name}: {gm}");
            }
            other => panic!("{name}: {other:?}"),
        }
        // The caller keeps its model when a layout fails (the region never stores it); the
        // error came before the model was cleared where the parameters allow it.
        let _ = before;
    }
    // The maximum in the message is exactly what fits.
    let mut m = one_disk();
    let max = align_down(100 * GIB - MIB);
    assert!(apply(
        &mut m,
        Layout::Flat,
        &LayoutParams {
            root_size: Some(max.to_string()),
            ..Default::default()
        },
        false
    )
    .is_ok());
    let mut m = one_disk();
    assert!(apply(
        &mut m,
        Layout::Flat,
        &LayoutParams {
            root_size: Some((max + 1).to_string()),
            ..Default::default()
        },
        false
    )
    .is_err());
    // A boot disk too small for an ESP.
    let mut m =
        StorageModel::from_parts(vec![disk(1, "vda", 256 * MIB, &[], true)], vec![]).unwrap();
    let e = apply(&mut m, Layout::Flat, &LayoutParams::default(), true).unwrap_err();
    assert!(
        e.to_string()
            .contains("too small for a 536870912-byte EFI system partition"),
        "{e}"
    );
    // No disks.
    let mut m = StorageModel::default();
    assert!(
        matches!(apply(&mut m, Layout::Flat, &LayoutParams::default(), false), Err(StorageError::Invalid(e)) if e.contains("no disks"))
    );
}

#[test]
fn manual_edit_rules() {
    let mut u = counter();
    let mut m = two_disks();
    // A filesystem on a whole disk: the disk cannot be partitioned.
    let fs = m
        .format(Volume::Disk(2), FsType::Xfs, None, None, &mut u)
        .unwrap();
    assert!(fs < 0);
    let e = m.add_partition(2, None, false, false, &mut u).unwrap_err();
    assert!(e.to_string().contains("has a filesystem"), "{e}");
    m.unformat(Volume::Disk(2)).unwrap();
    // Partition too big: error with the maximum (GPT, non-boot disk).
    let max = m.disk_free(2, PartitionTable::Gpt);
    let e = m
        .add_partition(2, Some(30 * GIB), false, false, &mut u)
        .unwrap_err();
    assert_eq!(
        e,
        StorageError::Field(
            "size".into(),
            format!("Size is too large. Maximum size is {max}.")
        )
    );
    let p1 = m
        .add_partition(2, Some(5 * GIB), false, false, &mut u)
        .unwrap();
    let p2 = m.add_partition(2, None, false, false, &mut u).unwrap();
    assert_eq!(m.partition(p2).unwrap().number, 2);
    assert_eq!(m.disk_free(2, PartitionTable::Gpt), 0);
    assert!(m.add_partition(2, None, false, false, &mut u).is_err());
    // A partitioned disk cannot be formatted.
    assert!(m
        .format(Volume::Disk(2), FsType::Ext4, None, None, &mut u)
        .unwrap_err()
        .to_string()
        .contains("has partitions"));
    // VG over p1: p1 cannot be formatted nor deleted; the VG with an LV cannot go without cascade.
    let vg = m
        .create_volume_group("vg0", &[Volume::Partition(p1)], &mut u)
        .unwrap();
    assert!(m
        .format(Volume::Partition(p1), FsType::Ext4, None, None, &mut u)
        .unwrap_err()
        .to_string()
        .contains("in use"));
    assert!(m.delete_partition(p1).is_err());
    assert!(m
        .create_volume_group("vg0", &[Volume::Partition(p2)], &mut u)
        .unwrap_err()
        .to_string()
        .contains("already exists"));
    let e = m
        .create_logical_volume(vg, "lv0", Some(10 * GIB), &mut u)
        .unwrap_err();
    assert!(
        matches!(&e, StorageError::Field(f, msg) if f == "size" && msg.contains("Maximum size is")),
        "{e}"
    );
    let lv = m
        .create_logical_volume(vg, "lv0", Some(GIB), &mut u)
        .unwrap();
    assert!(m
        .delete_volume_group(vg, false)
        .unwrap_err()
        .to_string()
        .contains("logical volume"));
    // Mount rules: absolute path, one `/`.
    m.format(
        Volume::LogicalVolume(lv),
        FsType::Ext4,
        Some("data".into()),
        None,
        &mut u,
    )
    .unwrap();
    assert!(
        matches!(m.mount(Volume::LogicalVolume(lv), "srv", None), Err(StorageError::Field(f, _)) if f == "mount_point")
    );
    m.mount(Volume::LogicalVolume(lv), "/", None).unwrap();
    m.format(Volume::Partition(p2), FsType::Ext4, None, None, &mut u)
        .unwrap();
    let e = m.mount(Volume::Partition(p2), "/", None).unwrap_err();
    assert!(
        e.to_string()
            .contains("Only one filesystem can be mounted at /"),
        "{e}"
    );
    // A mounted filesystem cannot be unformatted or reformatted.
    assert!(m.unformat(Volume::LogicalVolume(lv)).is_err());
    assert!(m
        .format(Volume::LogicalVolume(lv), FsType::Xfs, None, None, &mut u)
        .is_err());
    // Bad UUID.
    assert!(
        matches!(m.format(Volume::Partition(p2), FsType::Ext4, None, Some("x".into()), &mut u), Err(StorageError::Field(f, _)) if f == "uuid")
    );
    // Cascade deletes the LV and its filesystem.
    m.delete_volume_group(vg, true).unwrap();
    assert!(m.logical_volumes.is_empty());
    assert!(m.root().is_none());
    // Cache sets and bcaches.
    let cs = m.create_cache_set(Volume::Partition(p1)).unwrap();
    m.unformat(Volume::Partition(p2)).unwrap();
    let b = m
        .create_bcache(
            None,
            Volume::Partition(p2),
            cs,
            CacheMode::Writeback,
            &mut u,
        )
        .unwrap();
    assert_eq!(m.bcache(b).unwrap().name, "bcache0");
    assert!(m
        .delete_cache_set(cs)
        .unwrap_err()
        .to_string()
        .contains("used by bcache0"));
    assert!(m
        .create_bcache(
            None,
            Volume::Partition(p2),
            cs,
            CacheMode::Writeback,
            &mut u
        )
        .is_err());
    m.delete_bcache(b).unwrap();
    m.delete_cache_set(cs).unwrap();
    // MBR holds four partitions.
    let mut m = one_disk();
    for _ in 0..4 {
        m.add_partition(1, Some(GIB), false, false, &mut u).unwrap();
    }
    assert_eq!(m.tables[0].table, PartitionTable::Msdos);
    assert!(m
        .add_partition(1, Some(GIB), false, false, &mut u)
        .unwrap_err()
        .to_string()
        .contains("at most 4"));
    // Deleting the last partition removes the table; the disk can then be formatted.
    let ids: Vec<i64> = m.partitions.iter().map(|p| p.id).collect();
    for id in ids {
        m.delete_partition(id).unwrap();
    }
    assert!(m.tables.is_empty());
    m.format(Volume::Disk(1), FsType::Ext4, None, None, &mut u)
        .unwrap();
}

#[test]
fn remap_ids_and_round_trip() {
    let mut m = two_disks();
    apply(&mut m, Layout::Bcache, &LayoutParams::default(), true).unwrap();
    let objs = m.objects();
    let map: HashMap<i64, i64> = objs
        .iter()
        .enumerate()
        .map(|(i, o)| (o.id(), 1000 + i as i64))
        .collect();
    m.remap_ids(&map);
    assert!(m.objects().iter().all(|o| o.id() >= 1000));
    let back = StorageModel::from_parts(m.disks.clone(), m.objects()).unwrap();
    assert_eq!(back.objects(), m.objects());
    // JSON round trip of objects (the store's rows).
    for o in m.objects() {
        let t = serde_json::to_string(&o).unwrap();
        assert_eq!(serde_json::from_str::<Object>(&t).unwrap(), o);
    }
    // A dangling reference is refused.
    let mut objs = m.objects();
    objs.retain(|o| !matches!(o, Object::CacheSet(_)));
    assert!(StorageModel::from_parts(m.disks.clone(), objs.clone()).is_err());
    // Pruned: the bcache (and its filesystem) go, the rest stays.
    let p = StorageModel::from_parts_pruned(m.disks.clone(), objs);
    assert!(p.bcaches.is_empty() && p.root().is_none());
    assert_eq!(p.partitions.len(), m.partitions.len());
    // A disk gone: everything on it goes.
    let p = StorageModel::from_parts_pruned(vec![m.disks[0].clone()], m.objects());
    assert!(p.cache_sets.is_empty() && p.partitions_of(2).is_empty());
    assert!(!p.partitions_of(1).is_empty());
}

#[test]
fn deploy_steps_flat_bios() {
    let mut m = two_disks();
    apply(&mut m, Layout::Flat, &LayoutParams::default(), false).unwrap();
    let s = deploy_steps(&m, false).unwrap();
    let root = &m.partitions[0];
    let fs = &m.filesystems[0];
    assert_eq!(
        s,
        vec![
            StorageStep::Disk {
                id: "disk-1".into(),
                serial: Some("SER-sda".into()),
                path: Some("/dev/disk/by-id/wwn-sda".into()),
                size: 100 * GIB,
                ptable: Some(PartitionTable::Msdos),
                boot: true,
            },
            StorageStep::Partition {
                id: format!("part-{}", root.id),
                device: "disk-1".into(),
                number: 1,
                size: root.size,
                flag: Some(PartitionFlag::Boot),
            },
            StorageStep::Format {
                id: format!("fs-{}", fs.id),
                volume: format!("part-{}", root.id),
                fstype: FsType::Ext4,
                label: Some("root".into()),
                uuid: Some(fs.uuid.clone()),
            },
            StorageStep::Mount {
                id: format!("mount-{}", fs.id),
                format: format!("fs-{}", fs.id),
                path: "/".into(),
                options: None,
            },
        ]
    );
}

#[test]
fn deploy_steps_shapes() {
    // UEFI LVM: ESP flagged, PV flagged lvm, VG then LV, mounts parents first.
    let mut m = one_disk();
    apply(&mut m, Layout::Lvm, &LayoutParams::default(), true).unwrap();
    let s = deploy_steps(&m, true).unwrap();
    let flags: Vec<Option<PartitionFlag>> = s
        .iter()
        .filter_map(|x| match x {
            StorageStep::Partition { flag, .. } => Some(*flag),
            _ => None,
        })
        .collect();
    assert_eq!(
        flags,
        vec![Some(PartitionFlag::Esp), None, Some(PartitionFlag::Lvm)]
    );
    let paths: Vec<&str> = s
        .iter()
        .filter_map(|x| match x {
            StorageStep::Mount { path, .. } => Some(path.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(paths, vec!["/", "/boot", "/boot/efi"]);
    // Every reference points at an earlier step.
    let mut seen: Vec<String> = Vec::new();
    for st in &s {
        let refs: Vec<&String> = match st {
            StorageStep::Partition { device, .. } => vec![device],
            StorageStep::VolumeGroup { devices, .. } => devices.iter().collect(),
            StorageStep::LogicalVolume { volume_group, .. } => vec![volume_group],
            StorageStep::Bcache { backing, cache, .. } => vec![backing, cache],
            StorageStep::Raid {
                devices, spares, ..
            } => devices.iter().chain(spares).collect(),
            StorageStep::Format { volume, .. } => vec![volume],
            StorageStep::Mount { format, .. } => vec![format],
            StorageStep::Disk { .. } => vec![],
        };
        for r in refs {
            assert!(seen.contains(r), "{r} before its step");
        }
        seen.push(st.id().to_string());
    }
    // A UEFI layout deployed by BIOS on GPT gets a BIOS boot partition first.
    let s = deploy_steps(&m, false).unwrap();
    assert!(
        matches!(&s[1], StorageStep::Partition { number: 1, flag: Some(PartitionFlag::BiosGrub), size, .. } if *size == BIOS_GRUB_SIZE)
    );
    assert!(matches!(
        &s[2],
        StorageStep::Partition {
            number: 2,
            flag: Some(PartitionFlag::Esp),
            ..
        }
    ));
    // A BIOS layout cannot be deployed by UEFI (no ESP).
    let mut m = one_disk();
    apply(&mut m, Layout::Flat, &LayoutParams::default(), false).unwrap();
    assert!(deploy_steps(&m, true)
        .unwrap_err()
        .to_string()
        .contains("EFI system partition"));
    // bcache: the SSD disk is a step, the bcache refers to the backing and cache partitions.
    let mut m = two_disks();
    apply(&mut m, Layout::Bcache, &LayoutParams::default(), false).unwrap();
    let s = deploy_steps(&m, false).unwrap();
    let disks: Vec<(&str, bool, Option<PartitionTable>)> = s
        .iter()
        .filter_map(|x| match x {
            StorageStep::Disk {
                id, boot, ptable, ..
            } => Some((id.as_str(), *boot, *ptable)),
            _ => None,
        })
        .collect();
    assert_eq!(
        disks,
        vec![
            ("disk-1", true, Some(PartitionTable::Msdos)),
            ("disk-2", false, Some(PartitionTable::Gpt))
        ]
    );
    let b = s
        .iter()
        .find(|x| matches!(x, StorageStep::Bcache { .. }))
        .unwrap();
    let cache_part = m.partitions_of(2)[0].id;
    assert!(
        matches!(b, StorageStep::Bcache { cache, cache_mode: CacheMode::Writethrough, .. } if *cache == format!("part-{cache_part}"))
    );
    // An unused second disk is left out; a disk without an id_path is named by /dev/NAME.
    let mut m = StorageModel::from_parts(
        vec![
            Disk {
                id_path: String::new(),
                serial: String::new(),
                ..disk(1, "vda", 10 * GIB, &[], true)
            },
            disk(2, "vdb", 10 * GIB, &[], false),
        ],
        vec![],
    )
    .unwrap();
    apply(&mut m, Layout::Flat, &LayoutParams::default(), false).unwrap();
    let s = deploy_steps(&m, false).unwrap();
    assert!(
        matches!(&s[0], StorageStep::Disk { path: Some(p), serial: None, .. } if p == "/dev/vda")
    );
    assert_eq!(
        s.iter()
            .filter(|x| matches!(x, StorageStep::Disk { .. }))
            .count(),
        1
    );
    // Manual: root on a whole disk, swap unmounted-path "none" last.
    let mut u = counter();
    let mut m = two_disks();
    m.format(Volume::Disk(1), FsType::Ext4, None, None, &mut u)
        .unwrap();
    m.mount(Volume::Disk(1), "/", Some("noatime".into()))
        .unwrap();
    m.format(Volume::Disk(2), FsType::Swap, None, None, &mut u)
        .unwrap();
    m.mount(Volume::Disk(2), "", None).unwrap();
    let s = deploy_steps(&m, false).unwrap();
    assert!(matches!(
        &s[0],
        StorageStep::Disk {
            ptable: None,
            boot: true,
            ..
        }
    ));
    let last = s.last().unwrap();
    assert!(matches!(last, StorageStep::Mount { path, .. } if path == "none"));
    assert!(s.iter().any(|x| matches!(x, StorageStep::Mount { path, options: Some(o), .. } if path == "/" && o == "noatime")));
}

#[test]
fn deploy_refuses_without_root() {
    let m = one_disk();
    let e = deploy_steps(&m, false).unwrap_err();
    assert!(
        e.to_string()
            .contains("no root filesystem (nothing mounted at /)"),
        "{e}"
    );
    let mut m = one_disk();
    let mut u = counter();
    let p = m.add_partition(1, None, false, false, &mut u).unwrap();
    m.format(Volume::Partition(p), FsType::Ext4, None, None, &mut u)
        .unwrap();
    m.mount(Volume::Partition(p), "/srv", None).unwrap();
    assert!(deploy_steps(&m, false).is_err());
}

#[test]
fn uuids_are_v4_shaped() {
    let u = uuid_from_bytes([0xff; 16]);
    assert!(is_uuid(&u));
    assert_eq!(&u[14..15], "4");
}
