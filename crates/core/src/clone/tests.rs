use super::*;
use crate::storage::{uuid_from_bytes, Disk, Layout, LayoutParams, GIB};
use serde_json::json;

fn d(id: i64, size_gb: u64, tags: &[&str], boot: bool) -> CloneDisk {
    CloneDisk {
        id,
        name: format!("sd{}", (b'a' + (id % 26) as u8) as char),
        size: size_gb * GIB,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        boot,
    }
}

fn facts(disks: Vec<CloneDisk>) -> StorageFacts {
    StorageFacts {
        architecture: "amd64/generic".into(),
        boot_method: "bios".into(),
        disks,
    }
}

#[test]
fn storage_mapping_table() {
    type Case = (
        &'static str,
        StorageFacts,
        StorageFacts,
        Result<Vec<(i64, i64)>, &'static str>,
    );
    let arm = StorageFacts {
        architecture: "arm64/generic".into(),
        ..facts(vec![d(10, 100, &[], true)])
    };
    let uefi = StorageFacts {
        boot_method: "uefi".into(),
        ..facts(vec![d(10, 100, &[], true)])
    };
    let cases: Vec<Case> = vec![
        (
            "boot to boot, same size",
            facts(vec![d(1, 100, &[], true)]),
            facts(vec![d(10, 100, &[], true)]),
            Ok(vec![(1, 10)]),
        ),
        (
            "larger destination boot disk is fine",
            facts(vec![d(1, 100, &[], true)]),
            facts(vec![d(10, 200, &[], true)]),
            Ok(vec![(1, 10)]),
        ),
        (
            "boot disk is the flagged one, not the first",
            facts(vec![d(1, 50, &[], false), d(2, 100, &[], true)]),
            facts(vec![d(10, 100, &[], true), d(11, 50, &[], false)]),
            Ok(vec![(1, 11), (2, 10)]),
        ),
        (
            "pass 1 prefers exact size and tags over order",
            facts(vec![d(1, 100, &[], true), d(2, 50, &["ssd"], false), d(3, 50, &["rotary"], false)]),
            facts(vec![d(10, 100, &[], true), d(11, 50, &["rotary"], false), d(12, 50, &["ssd"], false)]),
            Ok(vec![(1, 10), (2, 12), (3, 11)]),
        ),
        (
            "pass 2: larger with identical tags before a closer size with other tags",
            facts(vec![d(1, 100, &[], true), d(2, 40, &["ssd"], false)]),
            facts(vec![d(10, 100, &[], true), d(11, 50, &["rotary"], false), d(12, 80, &["ssd"], false)]),
            Ok(vec![(1, 10), (2, 12)]),
        ),
        (
            "pass 3: tags ignored when nothing else fits",
            facts(vec![d(1, 100, &[], true), d(2, 40, &["ssd"], false)]),
            facts(vec![d(10, 100, &[], true), d(11, 50, &["rotary"], false)]),
            Ok(vec![(1, 10), (2, 11)]),
        ),
        (
            "smallest source takes the smallest destination that fits",
            facts(vec![d(1, 100, &[], true), d(2, 60, &[], false), d(3, 30, &[], false)]),
            facts(vec![d(10, 100, &[], true), d(11, 70, &[], false), d(12, 35, &[], false)]),
            Ok(vec![(1, 10), (2, 11), (3, 12)]),
        ),
        (
            "extra destination disks stay unused",
            facts(vec![d(1, 100, &[], true)]),
            facts(vec![d(10, 100, &[], true), d(11, 500, &[], false), d(12, 5, &[], false)]),
            Ok(vec![(1, 10)]),
        ),
        (
            "architecture differs",
            facts(vec![d(1, 100, &[], true)]),
            arm,
            Err("node architectures do not match (destination arm64/generic != source amd64/generic)"),
        ),
        (
            "boot method differs",
            facts(vec![d(1, 100, &[], true)]),
            uefi,
            Err("node boot methods do not match (destination uefi != source bios)"),
        ),
        (
            "destination without disks",
            facts(vec![d(1, 100, &[], true)]),
            facts(vec![]),
            Err("destination node has no physical block devices"),
        ),
        (
            "source without disks",
            facts(vec![]),
            facts(vec![d(10, 100, &[], true)]),
            Err("source node has no physical block devices"),
        ),
        (
            "smaller destination boot disk",
            facts(vec![d(1, 100, &[], true)]),
            facts(vec![d(10, 50, &[], true)]),
            Err("destination boot disk sdk (53687091200 bytes) is smaller than source boot disk sdb (107374182400 bytes)"),
        ),
        (
            "destination has fewer disks",
            facts(vec![d(1, 100, &[], true), d(2, 10, &[], false), d(3, 10, &[], false)]),
            facts(vec![d(10, 100, &[], true), d(11, 500, &[], false)]),
            Err("destination node has fewer physical block devices than the source node (2 < 3)"),
        ),
        (
            "a source disk larger than every free destination disk",
            facts(vec![d(1, 100, &[], true), d(2, 10, &[], false), d(3, 300, &[], false)]),
            facts(vec![d(10, 100, &[], true), d(11, 200, &[], false), d(12, 20, &[], false)]),
            Err("1 source node physical block device(s) have no matching destination physical block device at least as large: sdd (322122547200 bytes)"),
        ),
    ];
    for (name, src, dst, want) in cases {
        let got = storage_mapping(&src, &dst);
        match want {
            Ok(pairs) => {
                let m = got.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(m.into_iter().collect::<Vec<_>>(), pairs, "{name}");
            }
            Err(msg) => {
                let e = got.expect_err(name);
                assert_eq!(e.to_string(), msg, "{name}");
            }
        }
    }
}

fn disk(id: i64, name: &str, size: u64, boot: bool) -> Disk {
    Disk {
        id,
        name: name.into(),
        serial: format!("S-{name}"),
        id_path: String::new(),
        size,
        block_size: 512,
        tags: vec![],
        boot,
    }
}

fn counter(seed: u8) -> impl FnMut() -> String {
    let mut n = 0u8;
    move || {
        n += 1;
        uuid_from_bytes([seed ^ n; 16])
    }
}

#[test]
fn cloned_storage_recreates_every_object_on_the_mapped_disks() {
    let mut src = StorageModel::from_parts(
        vec![
            disk(1, "sda", 100 * GIB, true),
            disk(2, "sdb", 40 * GIB, false),
        ],
        vec![],
    )
    .unwrap();
    let p = LayoutParams {
        cache_device: Some(2),
        ..Default::default()
    };
    let mut u = counter(0);
    assert_eq!(
        src.apply_layout(Layout::Bcache, &p, false, &mut u).unwrap(),
        Layout::Bcache
    );
    // Give the source store ids (positive).
    let map: HashMap<i64, i64> = src
        .objects()
        .iter()
        .enumerate()
        .map(|(n, o)| (o.id(), 1000 + n as i64))
        .collect();
    src.remap_ids(&map);
    // The destination had something else on its disks.
    let mut dst = StorageModel::from_parts(
        vec![
            disk(20, "vda", 120 * GIB, true),
            disk(21, "vdb", 50 * GIB, false),
            disk(22, "vdc", 10 * GIB, false),
        ],
        vec![],
    )
    .unwrap();
    let mut u2 = counter(7);
    dst.apply_layout(Layout::Lvm, &LayoutParams::default(), false, &mut u2)
        .unwrap();
    let mapping: BTreeMap<i64, i64> = [(1, 20), (2, 21)].into_iter().collect();
    let mut u3 = counter(99);
    let out = cloned_storage(&src, &mapping, &dst, &mut u3).unwrap();
    assert_eq!(out.disks, dst.disks);
    assert!(
        out.volume_groups.is_empty(),
        "the destination's old LVM is gone"
    );
    // Same shape: object kinds in order, sizes, mount points, on the mapped disks.
    let kinds = |m: &StorageModel| m.objects().iter().map(|o| o.kind()).collect::<Vec<_>>();
    assert_eq!(kinds(&out), kinds(&src));
    let parts = |m: &StorageModel| {
        m.partitions
            .iter()
            .map(|p| (m.disk(p.disk).unwrap().name.clone(), p.number, p.size))
            .collect::<Vec<_>>()
    };
    let want: Vec<_> = parts(&src)
        .into_iter()
        .map(|(n, k, s)| (if n == "sda" { "vda" } else { "vdb" }.to_string(), k, s))
        .collect();
    assert_eq!(parts(&out), want);
    let mounts = |m: &StorageModel| {
        let mut v: Vec<_> = m
            .filesystems
            .iter()
            .map(|f| (f.mount_point.clone(), f.fstype, m.size_of(f.volume)))
            .collect();
        v.sort_by_key(|x| format!("{x:?}"));
        v
    };
    assert_eq!(mounts(&out), mounts(&src));
    assert_eq!(out.bcaches.len(), 1);
    assert_eq!(out.cache_sets.len(), 1);
    // New UUIDs and temporary ids, never the source's.
    for (a, b) in out.filesystems.iter().zip(&src.filesystems) {
        assert_ne!(a.uuid, b.uuid);
    }
    assert!(out.objects().iter().all(|o| o.id() < 0));
    assert!(out.deploy_problem().is_none(), "{:?}", out.deploy_problem());
}

#[test]
fn cloned_storage_refuses_an_unmapped_disk() {
    let mut src = StorageModel::from_parts(vec![disk(1, "sda", 100 * GIB, true)], vec![]).unwrap();
    let mut u = counter(0);
    src.apply_layout(Layout::Flat, &LayoutParams::default(), false, &mut u)
        .unwrap();
    let dst = StorageModel::from_parts(vec![disk(20, "vda", 120 * GIB, true)], vec![]).unwrap();
    let e = cloned_storage(&src, &BTreeMap::new(), &dst, &mut u).unwrap_err();
    assert!(e.to_string().contains("disk 1 is not mapped"), "{e}");
}

fn iface(id: i64, name: &str, kind: &str, parents: &[i64], links: Vec<CloneLink>) -> CloneIface {
    CloneIface {
        id,
        name: name.into(),
        kind: kind.into(),
        mac: format!("52:54:00:00:00:{id:02x}"),
        enabled: true,
        params: json!({"mtu": 9000}),
        parents: parents.to_vec(),
        links,
    }
}

fn link(mode: &str, subnet: Option<i64>, addr: bool) -> CloneLink {
    CloneLink {
        mode: mode.into(),
        subnet_id: subnet,
        has_address: addr,
        default_gateway: false,
    }
}

#[test]
fn interface_mapping_by_name() {
    let src = vec![
        iface(1, "eth0", "physical", &[], vec![]),
        iface(2, "eth1", "physical", &[], vec![]),
        iface(3, "bond0", "bond", &[1, 2], vec![]),
    ];
    let dst = vec![
        iface(11, "eth1", "physical", &[], vec![]),
        iface(10, "eth0", "physical", &[], vec![]),
        iface(12, "eth2", "physical", &[], vec![]),
    ];
    let m = interface_mapping(&src, &dst).unwrap();
    assert_eq!(m.into_iter().collect::<Vec<_>>(), vec![(1, 10), (2, 11)]);
    let short = vec![
        iface(10, "eth0", "physical", &[], vec![]),
        iface(13, "eno1", "physical", &[], vec![]),
    ];
    let e = interface_mapping(&src, &short).unwrap_err();
    assert_eq!(
        e.to_string(),
        "destination node physical interfaces do not match the source node's physical interfaces: missing eth1"
    );
    // A virtual interface of the same name does not count.
    let virt = vec![
        iface(10, "eth0", "physical", &[], vec![]),
        iface(14, "eth1", "bond", &[10], vec![]),
    ];
    assert!(interface_mapping(&src, &virt).is_err());
}

#[test]
fn interface_plan_layers_and_addresses() {
    let src = vec![
        iface(
            5,
            "br0",
            "bridge",
            &[4],
            vec![link("static", Some(7), true)],
        ),
        iface(4, "bond0.10", "vlan", &[3], vec![]),
        iface(
            3,
            "bond0",
            "bond",
            &[1, 2],
            vec![link("auto", Some(8), false)],
        ),
        iface(
            1,
            "eth0",
            "physical",
            &[],
            vec![link("link_up", None, false)],
        ),
        iface(2, "eth1", "physical", &[], vec![]),
        iface(
            6,
            "eth2",
            "physical",
            &[],
            vec![link("dhcp", Some(8), false), link("auto", Some(9), true)],
        ),
    ];
    let mut dst = vec![
        iface(10, "eth0", "physical", &[], vec![]),
        iface(11, "eth1", "physical", &[], vec![]),
        iface(12, "eth2", "physical", &[], vec![]),
    ];
    dst[1].enabled = false;
    let mut s = src.clone();
    s[4].enabled = false;
    let plan = interface_plan(&s, &dst).unwrap();
    assert_eq!(
        plan.physical
            .iter()
            .map(|p| (p.id, p.enabled))
            .collect::<Vec<_>>(),
        vec![(10, true), (11, false), (12, true)]
    );
    let names: Vec<_> = plan.virtuals.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, vec!["bond0", "bond0.10", "br0"]);
    assert_eq!(
        plan.virtuals[0].parents,
        vec![IfaceRef::Physical(10), IfaceRef::Physical(11)]
    );
    assert_eq!(plan.virtuals[1].parents, vec![IfaceRef::New(0)]);
    assert_eq!(plan.virtuals[2].parents, vec![IfaceRef::New(1)]);
    // Each shows its first parent's MAC on the destination.
    for v in &plan.virtuals {
        assert_eq!(v.params["mac_address"], "52:54:00:00:00:0a");
        assert_eq!(v.params["mtu"], 9000);
    }
    let links: Vec<_> = plan
        .links
        .iter()
        .map(|l| (l.iface, l.mode.as_str(), l.subnet_id, l.new_address))
        .collect();
    assert_eq!(
        links,
        vec![
            (IfaceRef::New(2), "static", Some(7), true),
            (IfaceRef::New(0), "auto", Some(8), false),
            (IfaceRef::Physical(10), "link_up", None, false),
            (IfaceRef::Physical(12), "dhcp", Some(8), false),
            (IfaceRef::Physical(12), "auto", Some(9), true),
        ]
    );
}

#[test]
fn interface_plan_refuses_a_dangling_parent() {
    let src = vec![
        iface(1, "eth0", "physical", &[], vec![]),
        iface(3, "bond0", "bond", &[1, 99], vec![]),
    ];
    let dst = vec![iface(10, "eth0", "physical", &[], vec![])];
    let e = interface_plan(&src, &dst).unwrap_err();
    assert!(e.to_string().contains("bond0"), "{e}");
}
