//! The storage model through the real binary: commissioning a machine with a real LXD
//! resources capture gives it the default (flat) layout; `set_storage_layout` lvm and bcache;
//! every bad input is a 4xx with the reason and changes nothing; manual partitions, formats,
//! mounts, volume groups, cache sets and bcaches; the status rule; UEFI from the netboot
//! timeline; and `Region::deploy_storage` / the deploy-time check on the server's database.

mod common;
use common::{mac, Client, Server};
use ingot_core::deploy::{FsType, PartitionFlag, PartitionTable, StorageStep};
use serde_json::{json, Value};
use std::path::PathBuf;

const META: &str = "/MAAS/metadata/2012-03-01/";
const API: &str = "/MAAS/api/2.0";

/// Form parameters of a request.
type Form = Vec<(&'static str, &'static str)>;

fn fixtures() -> PathBuf {
    let shared = std::env::var_os("INGOT_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let d = shared.join("fixtures/lxd");
    assert!(
        d.is_dir(),
        "{} not found (set INGOT_SHARED_DIR)",
        d.display()
    );
    d
}

fn resources_doc(resources: &str) -> Vec<u8> {
    let res: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join(resources)).unwrap()).unwrap();
    serde_json::to_vec(&json!({
        "api_version": "1.0",
        "api_extensions": ["resources", "resources_cpu_socket", "resources_gpu", "resources_numa", "resources_v2", "resources_disk_sata", "resources_network_firmware", "resources_disk_id", "resources_usb_pci", "resources_cpu_threads_numa", "resources_cpu_core_die", "api_os", "resources_system", "resources_pci_iommu", "resources_network_usb", "resources_disk_address"],
        "environment": {"kernel": "Linux", "kernel_architecture": "x86_64", "kernel_version": "6.1.0", "os_name": "ubuntu", "os_version": "22.04", "server": "maas-machine-resources", "server_name": "test", "server_version": "5.0"},
        "resources": res,
    }))
    .unwrap()
}

/// Play the agent: every commissioning script passes, the inventory script printing the real
/// capture; then the tests; then OK → Ready.
async fn commission_with(admin: &Client, sid: &str, resources: Option<&str>) {
    let t = admin.token(sid).await;
    let m = admin.with_token(&t);
    let idx = m.get(&format!("{META}maas-scripts/")).await.ok().json();
    let run = |id: i64, name: String, out: Vec<u8>| {
        let m = m.clone();
        async move {
            let rid = id.to_string();
            let out_name = format!("{name}.out");
            let mut parts: Vec<(&str, &[u8])> = vec![
                ("status", b"WORKING"),
                ("script_result_id", rid.as_bytes()),
                ("exit_status", b"0"),
                ("runtime", b"0.5"),
            ];
            if !out.is_empty() {
                parts.push((name.as_str(), &out));
                parts.push((out_name.as_str(), &out));
            }
            m.post_files(&format!("{META}?op=signal"), &parts)
                .await
                .ok();
        }
    };
    for e in idx["commissioning_scripts"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap().to_string();
        let out = match (name.as_str(), resources) {
            ("50-maas-01-commissioning", Some(r)) => resources_doc(r),
            // Without an inventory the script reports no output (no hardware learnt).
            ("50-maas-01-commissioning", None) => Vec::new(),
            _ => b"ok\n".to_vec(),
        };
        run(e["script_result_id"].as_i64().unwrap(), name, out).await;
    }
    let tests = idx["testing_scripts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !tests.is_empty() {
        m.post_multipart(&format!("{META}?op=signal"), &[("status", b"TESTING")])
            .await
            .ok();
        for e in tests {
            let name = e["name"].as_str().unwrap().to_string();
            run(
                e["script_result_id"].as_i64().unwrap(),
                name,
                b"ok\n".to_vec(),
            )
            .await;
        }
    }
    m.post_multipart(&format!("{META}?op=signal"), &[("status", b"OK")])
        .await
        .ok();
    assert_eq!(admin.machine(sid).await["status_name"], "Ready");
}

fn dev<'a>(m: &'a Value, name: &str) -> &'a Value {
    m["blockdevice_set"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no block device {name} in {:#}", m["blockdevice_set"]))
}

/// What the storage of a machine looks like (to check that refused requests change nothing).
async fn storage_view(admin: &Client, sid: &str) -> Value {
    let m = admin.machine(sid).await;
    json!([
        m["blockdevice_set"],
        m["volume_groups"],
        m["cache_sets"],
        m["bcaches"],
        m["boot_disk"]
    ])
}

/// Mount points → device names of the machine JSON.
fn mounts(m: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for d in m["blockdevice_set"].as_array().unwrap() {
        if let Some(mp) = d["filesystem"]["mount_point"].as_str() {
            out.push((
                mp.to_string(),
                d["name"].as_str().unwrap().to_string(),
                d["filesystem"]["fstype"].as_str().unwrap().to_string(),
            ));
        }
        for p in d["partitions"].as_array().unwrap() {
            if let Some(mp) = p["filesystem"]["mount_point"].as_str() {
                out.push((
                    mp.to_string(),
                    p["name"].as_str().unwrap().to_string(),
                    p["filesystem"]["fstype"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    out.sort();
    out
}

fn t(v: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    v.iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

/// The machine's row as the server stored it (read through a store of the test's own).
async fn machine_row(s: &Server, sid: &str) -> ingot_store::Machine {
    ingot_store::Store::open(&s.db)
        .await
        .expect("open the server's db")
        .machine(sid)
        .await
        .unwrap()
        .unwrap()
}

async fn region_on(s: &Server) -> ingot_region::Region {
    ingot_region::Region::new(
        ingot_store::Store::open(&s.db)
            .await
            .expect("open the server's db"),
    )
}

#[tokio::test]
async fn storage_layouts_edits_and_deploy_steps() {
    let s = Server::start(&[]).await;
    scenario(&s).await;
}

/// The MAAS-style CLI reaches the storage handlers through the describe document.
#[tokio::test]
async fn storage_from_the_cli() {
    let s = Server::start(&[]).await;
    let admin = s.client();
    let sid = admin.create("cli1", &mac(21), &[]).await["system_id"]
        .as_str()
        .unwrap()
        .to_string();
    commission_with(&admin, &sid, Some("SAMPLE_LXD_RESOURCES.json")).await;
    let cfg = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| -> (bool, String) {
        let out = std::process::Command::new(common::BIN)
            .args(args)
            .env("INGOT_CONFIG_DIR", cfg.path())
            .output()
            .expect("run ingot");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let json = |args: &[&str]| -> Value {
        let (ok, out) = run(args);
        assert!(ok, "ingot {args:?}: {out}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} ({e}): {out}"))
    };
    let url = format!("{}/MAAS", s.base);
    assert!(run(&["login", "admin", &url, &s.key]).0);
    let bds = json(&["admin", "block-devices", "read", &sid]);
    assert_eq!(bds.as_array().unwrap().len(), 2, "{bds}");
    let sda = bds[0]["id"].as_i64().unwrap().to_string();
    let m = json(&[
        "admin",
        "machine",
        "set-storage-layout",
        &sid,
        "storage_layout=lvm",
        "lv_size=50G",
    ]);
    assert_eq!(m["volume_groups"][0]["name"], "vgroot");
    let vgs = json(&["admin", "volume-groups", "read", &sid]);
    assert_eq!(vgs[0]["logical_volumes"][0]["name"], "vgroot-lvroot");
    let vg = vgs[0]["id"].as_i64().unwrap().to_string();
    let lv = json(&[
        "admin",
        "volume-group",
        "create-logical-volume",
        &sid,
        &vg,
        "name=data",
        "size=10G",
    ]);
    assert_eq!(lv["name"], "vgroot-data");
    let parts = json(&["admin", "partitions", "read", &sid, &sda]);
    assert_eq!(parts.as_array().unwrap().len(), 2);
    let (ok, out) = run(&[
        "admin",
        "machine",
        "set-storage-layout",
        &sid,
        "storage_layout=flat",
        "root_size=9T",
    ]);
    assert!(!ok && out.contains("Size is too large"), "{out}");
}

const LIBMAAS_STORAGE: &str = r#"
import os
from maas.client import connect
c = connect(os.environ["MAAS_URL"], apikey=os.environ["MAAS_APIKEY"])
m = c.machines.get(system_id=os.environ["SID"])
print("devices", sorted(b.name for b in m.block_devices))
boot = m.boot_disk
print("boot", boot.name, [(p.path, p.filesystem.fstype, p.filesystem.mount_point) for p in boot.partitions])
o = m._origin
sdb = [b for b in m.block_devices if b.name == "sdb"][0]
part = o.Partitions.create(sdb, 10 * 1000 ** 3)
part.format("xfs")
part.mount("/srv", mount_options="noatime")
part = o.Partition.read(m.system_id, sdb.id, part.id)
print("part", part.size, part.filesystem.fstype, part.filesystem.mount_point, part.used_for)
rest = o.Partitions.create(sdb, 20 * 1000 ** 3)
vg = o.VolumeGroups.create(m, "vgdata", [rest])
lv = vg.logical_volumes.create(name="lvdata", size=5 * 1000 ** 3) if hasattr(vg.logical_volumes, "create") else o.LogicalVolumes.create(vg, "lvdata", 5 * 1000 ** 3)
print("vg", vg.name, vg.size > 0, lv.name)
m.refresh()
print("vgs", [g.name for g in m.volume_groups])
sdb = [b for b in m.block_devices if b.name == "sdb"][0]
sdb.tags.append("fast")
sdb.tags.remove("removable")
sdb.save()
m.refresh()
print("tags", [b.tags for b in m.block_devices if b.name == "sdb"][0])
from maas.client.enum import RaidLevel
p3 = o.Partitions.create(sdb, 5 * 1000 ** 3)
p4 = o.Partitions.create(sdb, 5 * 1000 ** 3)
p5 = o.Partitions.create(sdb, 5 * 1000 ** 3)
r = o.Raids.create(m, RaidLevel.RAID_1, [p3, p4], name="mdlib", spare_devices=[p5])
print("raid", r.name, r.level.value, len(r.devices), len(r.spare_devices), r.size > 4 * 1000 ** 3)
m.refresh()
print("raids", [(x.name, x.virtual_device.name) for x in m.raids])
r.delete()
m.refresh()
print("raids after delete", [x.name for x in m.raids])
"#;

/// python-libmaas 0.6.8, unmodified, reads and edits storage.
#[tokio::test]
async fn storage_from_python_libmaas() {
    let Some(py) = std::env::var("INGOT_LIBMAAS_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must provide INGOT_LIBMAAS_PYTHON"
        );
        eprintln!("INGOT_LIBMAAS_PYTHON not set: skipping");
        return;
    };
    let s = Server::start(&[]).await;
    let admin = s.client();
    let sid = admin.create("lib1", &mac(31), &[]).await["system_id"]
        .as_str()
        .unwrap()
        .to_string();
    commission_with(&admin, &sid, Some("SAMPLE_LXD_RESOURCES.json")).await;
    let stdout = common::run_libmaas(&py, &s, LIBMAAS_STORAGE, &[("SID", &sid)]).await;
    assert!(stdout.contains("devices ['sda', 'sdb']"), "{stdout}");
    assert!(
        stdout.contains("boot sda [('/dev/disk/by-dname/sda-part1', 'ext4', '/')]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("part 10003415040 xfs /srv xfs formatted filesystem mounted at /srv"),
        "{stdout}"
    );
    assert!(stdout.contains("vg vgdata True vgdata-lvdata"), "{stdout}");
    assert!(stdout.contains("vgs ['vgdata']"), "{stdout}");
    assert!(
        stdout.contains("tags ['rotary', '5400rpm', 'fast']"),
        "{stdout}"
    );
    assert!(stdout.contains("raid mdlib raid-1 2 1 True"), "{stdout}");
    assert!(stdout.contains("raids [('mdlib', 'mdlib')]"), "{stdout}");
    assert!(stdout.contains("raids after delete []"), "{stdout}");
    let m = admin.machine(&sid).await;
    assert_eq!(
        mounts(&m),
        t(&[("/", "sda-part1", "ext4"), ("/srv", "sdb-part1", "xfs")])
    );
}

#[tokio::test]
async fn storage_on_postgres() {
    let Some(s) = Server::start_pg(&[]).await else {
        return;
    };
    scenario(&s).await;
}

async fn scenario(s: &Server) {
    let admin = s.client();
    let sid = admin.create("disks1", &mac(11), &[]).await["system_id"]
        .as_str()
        .unwrap()
        .to_string();
    commission_with(&admin, &sid, Some("SAMPLE_LXD_RESOURCES.json")).await;

    // ---- the default layout: flat on the boot disk (BIOS: nothing says UEFI), MBR.
    let m = admin.machine(&sid).await;
    assert_eq!(m["boot_disk"]["name"], "sda", "{:#}", m["boot_disk"]);
    assert_eq!(m["physicalblockdevice_set"].as_array().unwrap().len(), 2);
    assert_eq!(mounts(&m), t(&[("/", "sda-part1", "ext4")]));
    let sda = dev(&m, "sda");
    assert_eq!(sda["partition_table_type"], "MBR");
    assert_eq!(sda["used_for"], "MBR partitioned with 1 partition");
    let sda_size = sda["size"].as_u64().unwrap();
    assert_eq!(sda_size, 512110190592);
    let root = &sda["partitions"][0];
    let mib = 1u64 << 20;
    assert_eq!(
        root["size"].as_u64().unwrap(),
        (sda_size - mib) / (4 * mib) * (4 * mib)
    );
    assert_eq!(root["bootable"], true);
    assert_eq!(root["filesystem"]["fstype"], "ext4");
    assert_eq!(
        sda["available_size"].as_u64().unwrap(),
        sda_size - sda["used_size"].as_u64().unwrap()
    );
    assert_eq!(dev(&m, "sdb")["used_for"], "Unused");
    let sda_id = sda["id"].as_i64().unwrap();
    let sdb_id = dev(&m, "sdb")["id"].as_i64().unwrap();
    assert!(admin.events(&sid).await.iter().any(|e| e["description"]
        .as_str()
        .unwrap_or("")
        .contains("Storage layout set to flat")));
    // The block-devices API agrees with the machine JSON.
    let bds = admin
        .get(&format!("{API}/nodes/{sid}/blockdevices/"))
        .await
        .ok()
        .json();
    assert_eq!(bds.as_array().unwrap().len(), 2);
    let one = admin
        .get(&format!("{API}/nodes/{sid}/blockdevices/{sda_id}/"))
        .await
        .ok()
        .json();
    assert_eq!(one["partitions"], sda["partitions"]);
    let parts = admin
        .get(&format!(
            "{API}/machines/{sid}/blockdevices/{sda_id}/partitions/"
        ))
        .await
        .ok()
        .json();
    assert_eq!(parts.as_array().unwrap().len(), 1);
    admin
        .get(&format!("{API}/nodes/{sid}/blockdevices/999999/"))
        .await
        .expect(404);

    // ---- the steps the agent gets, and the deploy check, from the region function (the
    // capture's two disks share a serial, so the by-id path names the disk).
    let region = region_on(s).await;
    let steps = region.deploy_storage(&sid).await.expect("deploy_storage");
    let fs_uuid = root["filesystem"]["uuid"].as_str().unwrap().to_string();
    assert!(
        matches!(&steps[0], StorageStep::Disk { serial: None, path: Some(p), ptable: Some(PartitionTable::Msdos), boot: true, .. } if p == "/dev/disk/by-id/wwn-0x12345"),
        "{steps:#?}"
    );
    assert!(matches!(
        &steps[1],
        StorageStep::Partition {
            number: 1,
            flag: Some(PartitionFlag::Boot),
            ..
        }
    ));
    assert!(steps.iter().any(|st| matches!(st, StorageStep::Format { fstype: FsType::Ext4, uuid: Some(u), .. } if *u == fs_uuid)));
    assert!(matches!(steps.last().unwrap(), StorageStep::Mount { path, .. } if path == "/"));
    assert_eq!(
        steps.len(),
        4,
        "sdb carries nothing and is left out: {steps:#?}"
    );
    let mrow = machine_row(s, &sid).await;
    region
        .check_deploy_storage(&mrow)
        .await
        .expect("a flat layout deploys");

    // ---- lvm with parameters.
    let m = admin
        .op(
            &sid,
            "set_storage_layout",
            &[
                ("storage_layout", "lvm"),
                ("vg_name", "vg0"),
                ("lv_size", "100G"),
                ("boot_size", "2G"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(m["system_id"], sid.as_str(), "returns the machine");
    assert_eq!(
        mounts(&m),
        t(&[("/", "vg0-lvroot", "ext4"), ("/boot", "sda-part1", "ext4")])
    );
    assert_eq!(m["volume_groups"][0]["name"], "vg0");
    let lv = &m["virtualblockdevice_set"][0];
    assert_eq!(lv["type"], "virtual");
    assert_eq!(
        lv["size"].as_u64().unwrap(),
        100_000_000_000u64.div_ceil(4 * mib) * 4 * mib
    );
    assert_eq!(
        dev(&m, "sda")["partitions"][0]["size"].as_u64().unwrap(),
        2_000_000_000u64.div_ceil(4 * mib) * 4 * mib
    );
    assert_eq!(
        dev(&m, "sda")["partitions"][1]["used_for"],
        "LVM volume for (vg0)"
    );
    let lv_id = lv["id"].as_i64().unwrap();
    assert!(
        lv_id > u32::MAX as i64,
        "virtual block device ids never meet physical ones"
    );
    let rd = admin
        .get(&format!("{API}/nodes/{sid}/blockdevices/{lv_id}/"))
        .await
        .ok()
        .json();
    assert_eq!(rd["name"], "vg0-lvroot");
    let steps = region.deploy_storage(&sid).await.unwrap();
    assert!(steps
        .iter()
        .any(|st| matches!(st, StorageStep::VolumeGroup { name, .. } if name == "vg0")));
    assert!(steps.iter().any(|st| matches!(
        st,
        StorageStep::Partition {
            flag: Some(PartitionFlag::Lvm),
            ..
        }
    )));

    // ---- every bad input: 4xx with the reason, nothing changed.
    let before = storage_view(&admin, &sid).await;
    let max_root = (sda_size - mib) / (4 * mib) * (4 * mib);
    let cases: Vec<(Form, u16, &str, String)> = vec![
        (
            vec![("storage_layout", "zfs")],
            400,
            "storage_layout",
            "'zfs' is not a storage layout".into(),
        ),
        (
            vec![],
            400,
            "storage_layout",
            "This field is required.".into(),
        ),
        (
            vec![("storage_layout", "flat"), ("root_size", "2T")],
            400,
            "root_size",
            format!("Size is too large. Maximum size is {max_root}."),
        ),
        (
            vec![("storage_layout", "lvm"), ("boot_size", "600G")],
            400,
            "boot_size",
            "Size is too large. Maximum size is".into(),
        ),
        (
            vec![("storage_layout", "flat"), ("root_size", "lots")],
            400,
            "root_size",
            "'lots' is not a size".into(),
        ),
        (
            vec![("storage_layout", "flat"), ("root_device", "999999")],
            400,
            "root_device",
            "999999 is not a physical block device".into(),
        ),
        (
            vec![("storage_layout", "flat"), ("root_device", "sdz")],
            400,
            "root_device",
            "'sdz' is not an id".into(),
        ),
        (
            vec![("storage_layout", "bcache"), ("cache_device", "999999")],
            400,
            "cache_device",
            "999999 is not a physical block device".into(),
        ),
        (
            vec![("storage_layout", "bcache"), ("cache_size", "10G")],
            400,
            "cache_device",
            "No cache device".into(),
        ),
        (
            vec![("storage_layout", "bcache"), ("cache_mode", "fast")],
            400,
            "cache_mode",
            "'fast' is not a cache mode".into(),
        ),
        (
            vec![("storage_layout", "lvm"), ("lv_size", "1T")],
            400,
            "lv_size",
            "Size is too large. Maximum size is".into(),
        ),
        (
            vec![("storage_layout", "flat"), ("cache_no_part", "maybe")],
            400,
            "cache_no_part",
            "".into(),
        ),
    ];
    for (params, code, field, msg) in cases {
        let r = admin
            .op(&sid, "set_storage_layout", &params)
            .await
            .expect(code);
        let body = r.json();
        let got = body[field][0]
            .as_str()
            .unwrap_or_else(|| panic!("{params:?}: no {field} error in {body}"));
        assert!(got.contains(&msg), "{params:?}: {got}");
        assert_eq!(
            storage_view(&admin, &sid).await,
            before,
            "{params:?} changed the storage"
        );
    }
    // Manual edits refused, nothing changed.
    let sda_p1 = before[0][0]["partitions"][0]["id"].as_i64().unwrap();
    let refusals: Vec<(String, Form, u16, &str)> = vec![
        (
            format!("{API}/nodes/{sid}/blockdevices/{sda_id}/partitions/"),
            vec![("size", "2T")],
            400,
            "Size is too large. Maximum size is",
        ),
        (
            format!("{API}/nodes/{sid}/blockdevices/{sda_id}/?op=format"),
            vec![("fstype", "ext4")],
            400,
            "has partitions",
        ),
        (
            format!("{API}/nodes/{sid}/blockdevices/{sdb_id}/?op=format"),
            vec![("fstype", "zfs")],
            400,
            "'zfs' is not a supported filesystem",
        ),
        (
            format!("{API}/nodes/{sid}/blockdevices/{sda_id}/partition/{sda_p1}?op=unformat"),
            vec![],
            400,
            "mounted",
        ),
        (
            format!("{API}/nodes/{sid}/blockdevices/{sdb_id}/?op=mount"),
            vec![("mount_point", "/srv")],
            400,
            "not formatted",
        ),
        (
            format!(
                "{API}/nodes/{sid}/volume-group/{}/",
                m["volume_groups"][0]["id"]
            ),
            vec![],
            0,
            "",
        ),
    ];
    for (url, params, code, msg) in refusals {
        if code == 0 {
            // DELETE of a volume group that has logical volumes.
            let r = admin.delete(&url).await.expect(400);
            assert!(r.body.contains("logical volume"), "{}", r.body);
        } else {
            let r = admin.post(&url, &params).await.expect(code);
            assert!(r.body.contains(msg), "{url} {params:?}: {}", r.body);
        }
        assert_eq!(
            storage_view(&admin, &sid).await,
            before,
            "{url} changed the storage"
        );
    }
    let r = admin
        .put(
            &format!("{API}/nodes/{sid}/blockdevices/{sdb_id}/"),
            &[("size", "0")],
        )
        .await
        .expect(400);
    assert!(
        r.json()["size"][0].as_str().unwrap().contains("not a size"),
        "{}",
        r.body
    );
    let r = admin
        .post(
            &format!("{API}/nodes/{sid}/blockdevices/{sdb_id}/?op=add_tag"),
            &[("tag", "two words")],
        )
        .await
        .expect(400);
    assert!(r.body.contains("not a tag"), "{}", r.body);
    assert_eq!(storage_view(&admin, &sid).await, before);
    // A user who may not edit the machine.
    let bob = s.user("bob").await;
    bob.op(&sid, "set_storage_layout", &[("storage_layout", "flat")])
        .await
        .expect(403);
    assert_eq!(storage_view(&admin, &sid).await, before);

    // ---- bcache: sda is the only SSD and the boot disk, so without a cache device bcache is
    // flat (MAAS); with sdb as the boot disk, sda caches.
    let m = admin
        .op(&sid, "set_storage_layout", &[("storage_layout", "bcache")])
        .await
        .ok()
        .json();
    assert_eq!(mounts(&m), t(&[("/", "sda-part1", "ext4")]));
    assert!(m["bcaches"].as_array().unwrap().is_empty());
    admin
        .post(
            &format!("{API}/nodes/{sid}/blockdevices/{sdb_id}/?op=set_boot_disk"),
            &[],
        )
        .await
        .ok();
    let m = admin
        .op(&sid, "set_storage_layout", &[("storage_layout", "bcache")])
        .await
        .ok()
        .json();
    assert_eq!(m["boot_disk"]["name"], "sdb");
    assert_eq!(
        mounts(&m),
        t(&[("/", "bcache0", "ext4"), ("/boot", "sdb-part1", "ext4")])
    );
    assert_eq!(m["bcaches"][0]["cache_mode"], "writethrough");
    assert_eq!(m["bcaches"][0]["backing_device"]["name"], "sdb-part2");
    assert_eq!(m["cache_sets"][0]["cache_device"]["name"], "sda-part1");
    let m = admin
        .op(
            &sid,
            "set_storage_layout",
            &[
                ("storage_layout", "bcache"),
                ("cache_mode", "writeback"),
                ("cache_no_part", "true"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(m["cache_sets"][0]["cache_device"]["name"], "sda");
    assert_eq!(m["bcaches"][0]["cache_mode"], "writeback");
    assert_eq!(dev(&m, "sda")["used_for"], "Cache device for (cache0)");
    let steps = region.deploy_storage(&sid).await.unwrap();
    assert!(
        matches!(&steps[0], StorageStep::Disk { id, boot: true, .. } if id == &format!("disk-{sdb_id}"))
    );
    assert!(steps.iter().any(
        |st| matches!(st, StorageStep::Bcache { cache, .. } if cache == &format!("disk-{sda_id}"))
    ));
    let bc = admin
        .get(&format!("{API}/nodes/{sid}/bcaches/"))
        .await
        .ok()
        .json();
    assert_eq!(bc.as_array().unwrap().len(), 1);

    // ---- blank: nothing, and the machine cannot deploy.
    let m = admin
        .op(&sid, "set_storage_layout", &[("storage_layout", "blank")])
        .await
        .ok()
        .json();
    assert!(mounts(&m).is_empty());
    assert!(m["virtualblockdevice_set"].as_array().unwrap().is_empty());
    let e = region.deploy_storage(&sid).await.unwrap_err().to_string();
    assert!(
        e.contains("no root filesystem (nothing mounted at /)"),
        "{e}"
    );
    let mrow = machine_row(s, &sid).await;
    let e = region.check_deploy_storage(&mrow).await.unwrap_err();
    assert!(
        matches!(e, ingot_region::RegionError::BadRequest(ref m) if m.contains("Cannot deploy disks1: the machine has no root filesystem")),
        "{e}"
    );

    // ---- two edits at once never both take the same space: each runs on the model as the
    // other left it (the machine is locked for the transaction).
    let sdb_parts = format!("{API}/nodes/{sid}/blockdevices/{sdb_id}/partitions/");
    let (a, b) = tokio::join!(admin.post(&sdb_parts, &[]), admin.post(&sdb_parts, &[]));
    let codes = [a.status.as_u16(), b.status.as_u16()];
    assert!(
        codes.contains(&200) && codes.contains(&400),
        "{codes:?}: {} / {}",
        a.body,
        b.body
    );
    let made = if a.status.as_u16() == 200 {
        a.json()
    } else {
        b.json()
    };
    admin
        .delete(&format!(
            "{API}/nodes/{sid}/blockdevices/{sdb_id}/partition/{}",
            made["id"]
        ))
        .await
        .expect(204);
    assert_eq!(dev(&admin.machine(&sid).await, "sdb")["used_for"], "Unused");

    // ---- manual: partitions, format, mount, a volume group, a cache set and a bcache.
    let pbase = format!("{API}/nodes/{sid}/blockdevices/{sda_id}/partitions/");
    let p1 = admin
        .post(&pbase, &[("size", "10G"), ("bootable", "true")])
        .await
        .ok()
        .json();
    assert_eq!(
        p1["size"].as_u64().unwrap(),
        10_000_000_000u64.div_ceil(4 * mib) * 4 * mib
    );
    let p1_id = p1["id"].as_i64().unwrap();
    let p2 = admin.post(&pbase, &[("size", "20G")]).await.ok().json();
    let p2_id = p2["id"].as_i64().unwrap();
    let p3 = admin.post(&pbase, &[]).await.ok().json();
    let p3_id = p3["id"].as_i64().unwrap();
    let full = admin.post(&pbase, &[("size", "4M")]).await.expect(400);
    assert!(
        full.body.contains("Maximum size is 0") || full.body.contains("bytes free"),
        "{}",
        full.body
    );
    let item = |id: i64| format!("{API}/nodes/{sid}/blockdevices/{sda_id}/partition/{id}");
    let uuid = "0b6e9a7c-2f1e-4d3a-9c8b-7a6f5e4d3c2b";
    let f = admin
        .post(
            &format!("{}?op=format", item(p1_id)),
            &[("fstype", "ext4"), ("label", "root"), ("uuid", uuid)],
        )
        .await
        .ok()
        .json();
    assert_eq!(f["filesystem"]["uuid"], uuid);
    admin
        .post(
            &format!("{}?op=mount", item(p1_id)),
            &[("mount_point", "srv")],
        )
        .await
        .expect(400);
    let f = admin
        .post(
            &format!("{}?op=mount", item(p1_id)),
            &[("mount_point", "/"), ("mount_options", "noatime")],
        )
        .await
        .ok()
        .json();
    assert_eq!(f["filesystem"]["mount_point"], "/");
    assert_eq!(f["used_for"], "ext4 formatted filesystem mounted at /");
    admin
        .post(&format!("{}?op=format", item(p2_id)), &[("fstype", "xfs")])
        .await
        .ok();
    let second = admin
        .post(
            &format!("{}?op=mount", item(p2_id)),
            &[("mount_point", "/")],
        )
        .await
        .expect(400);
    assert!(
        second
            .body
            .contains("Only one filesystem can be mounted at /"),
        "{}",
        second.body
    );
    admin
        .post(
            &format!("{}?op=mount", item(p2_id)),
            &[("mount_point", "/srv")],
        )
        .await
        .ok();
    // A disk with a filesystem cannot be partitioned.
    admin
        .post(
            &format!("{API}/nodes/{sid}/blockdevices/{sdb_id}/?op=format"),
            &[("fstype", "ext4")],
        )
        .await
        .ok();
    let r = admin
        .post(
            &format!("{API}/nodes/{sid}/blockdevices/{sdb_id}/partitions/"),
            &[("size", "1G")],
        )
        .await
        .expect(400);
    assert!(r.body.contains("has a filesystem"), "{}", r.body);
    admin
        .post(
            &format!("{API}/nodes/{sid}/blockdevices/{sdb_id}/?op=unformat"),
            &[],
        )
        .await
        .ok();
    // Volume group over sdb, a logical volume, deleted again.
    let vg = admin
        .post(
            &format!("{API}/nodes/{sid}/volume-groups/"),
            &[("name", "data"), ("block_devices", &sdb_id.to_string())],
        )
        .await
        .ok()
        .json();
    let vg_id = vg["id"].as_i64().unwrap();
    let over = admin
        .post(
            &format!("{API}/nodes/{sid}/volume-group/{vg_id}/?op=create_logical_volume"),
            &[("name", "lv0"), ("size", "10T")],
        )
        .await
        .expect(400);
    assert!(
        over.body.contains("Size is too large. Maximum size is"),
        "{}",
        over.body
    );
    let lv = admin
        .post(
            &format!("{API}/nodes/{sid}/volume-group/{vg_id}/?op=create_logical_volume"),
            &[("name", "lv0"), ("size", "5G")],
        )
        .await
        .ok()
        .json();
    assert_eq!(lv["name"], "data-lv0");
    let lv_id = lv["id"].as_i64().unwrap().to_string();
    let vg = admin
        .post(
            &format!("{API}/nodes/{sid}/volume-group/{vg_id}/?op=delete_logical_volume"),
            &[("id", &lv_id)],
        )
        .await
        .ok()
        .json();
    assert!(vg["logical_volumes"].as_array().unwrap().is_empty());
    admin
        .delete(&format!("{API}/nodes/{sid}/volume-group/{vg_id}/"))
        .await
        .expect(204);
    // Cache set on p3, bcache over sdb, then both gone.
    let cs = admin
        .post(
            &format!("{API}/nodes/{sid}/bcache-cache-sets/"),
            &[("cache_partition", &p3_id.to_string())],
        )
        .await
        .ok()
        .json();
    let cs_id = cs["id"].as_i64().unwrap().to_string();
    let b = admin
        .post(
            &format!("{API}/nodes/{sid}/bcaches/"),
            &[
                ("backing_device", &sdb_id.to_string()),
                ("cache_set", &cs_id),
                ("cache_mode", "writearound"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(b["name"], "bcache0");
    let b_id = b["id"].as_i64().unwrap();
    let r = admin
        .delete(&format!("{API}/nodes/{sid}/bcache-cache-set/{cs_id}/"))
        .await
        .expect(400);
    assert!(r.body.contains("used by bcache0"), "{}", r.body);
    let steps = region.deploy_storage(&sid).await.unwrap();
    let mount_paths: Vec<&str> = steps
        .iter()
        .filter_map(|st| match st {
            StorageStep::Mount { path, .. } => Some(path.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(mount_paths, vec!["/", "/srv"]);
    assert!(steps.iter().any(|st| matches!(st, StorageStep::Format { uuid: Some(u), label: Some(l), .. } if u == uuid && l == "root")));
    assert!(steps.iter().any(|st| matches!(st, StorageStep::Mount { path, options: Some(o), .. } if path == "/" && o == "noatime")));
    admin
        .delete(&format!("{API}/nodes/{sid}/bcache/{b_id}/"))
        .await
        .expect(204);
    admin
        .delete(&format!("{API}/nodes/{sid}/bcache-cache-set/{cs_id}/"))
        .await
        .expect(204);
    admin.delete(&item(p3_id)).await.expect(204);
    let m = admin.machine(&sid).await;
    assert_eq!(dev(&m, "sda")["partitions"].as_array().unwrap().len(), 2);
    assert_eq!(
        mounts(&m),
        t(&[("/", "sda-part1", "ext4"), ("/srv", "sda-part2", "xfs")])
    );
    // Back to the default layout (flat; sdb is the boot disk now).
    let m = admin
        .op(&sid, "restore_storage_configuration", &[])
        .await
        .ok()
        .json();
    assert_eq!(mounts(&m), t(&[("/", "sdb-part1", "ext4")]));

    // ---- Allocated machines can still change; deploying ones cannot.
    admin
        .post(
            &format!("{API}/machines/?op=allocate"),
            &[("system_id", &sid)],
        )
        .await
        .ok();
    assert_eq!(admin.machine(&sid).await["status_name"], "Allocated");
    admin
        .op(&sid, "set_storage_layout", &[("storage_layout", "flat")])
        .await
        .ok();
    // A blank layout has no root filesystem: deploy is refused, the machine stays Allocated.
    admin
        .op(&sid, "set_storage_layout", &[("storage_layout", "blank")])
        .await
        .ok();
    admin.upload_image("custom/ingot-test", b"an image").await;
    let r = admin.op(&sid, "deploy", &[]).await.expect(400);
    assert!(r.body.contains("no root filesystem"), "{}", r.body);
    assert_eq!(admin.machine(&sid).await["status_name"], "Allocated");
    admin
        .op(&sid, "set_storage_layout", &[("storage_layout", "flat")])
        .await
        .ok();
    admin.op(&sid, "deploy", &[]).await.ok();
    let r = admin
        .op(&sid, "set_storage_layout", &[("storage_layout", "lvm")])
        .await
        .expect(409);
    assert!(
        r.body.contains("Deploying") && r.body.contains("Ready or Allocated"),
        "{}",
        r.body
    );
    let r = admin.post(&pbase, &[("size", "1G")]).await.expect(409);
    assert!(r.body.contains("Deploying"), "{}", r.body);

    // ---- a machine with no disks: commissioned without an inventory.
    let sid2 = admin.create("nodisks", &mac(12), &[]).await["system_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = admin
        .op(&sid2, "set_storage_layout", &[("storage_layout", "flat")])
        .await
        .expect(409);
    assert!(r.body.contains("Commissioning"), "{}", r.body);
    commission_with(&admin, &sid2, None).await;
    let r = admin
        .op(&sid2, "set_storage_layout", &[("storage_layout", "flat")])
        .await
        .expect(400);
    assert!(r.body.contains("no disks"), "{}", r.body);
    let e = region.deploy_storage(&sid2).await.unwrap_err().to_string();
    assert!(e.contains("no root filesystem"), "{e}");

    // ---- UEFI, as the machine's last network boot said: GPT and an ESP.
    let sid3 = admin.create("uefi1", &mac(13), &[]).await["system_id"]
        .as_str()
        .unwrap()
        .to_string();
    // The iPXE request of its boot NIC (the capture's eth0, which commissioning gives it).
    s.anon()
        .get("/MAAS/boot/ipxe?mac=00:00:00:00:00:01&arch=amd64&firmware=uefi")
        .await
        .ok();
    commission_with(&admin, &sid3, Some("SAMPLE_LXD_RESOURCES.json")).await;
    let m = admin.machine(&sid3).await;
    assert_eq!(
        mounts(&m),
        t(&[
            ("/", "sda-part2", "ext4"),
            ("/boot/efi", "sda-part1", "vfat")
        ])
    );
    assert_eq!(dev(&m, "sda")["partition_table_type"], "GPT");
    let steps = region.deploy_storage(&sid3).await.unwrap();
    assert!(steps.iter().any(|st| matches!(
        st,
        StorageStep::Partition {
            flag: Some(PartitionFlag::Esp),
            number: 1,
            ..
        }
    )));

    // ---- the default layout setting.
    admin
        .post(
            &format!("{API}/maas/?op=set_config"),
            &[("name", "default_storage_layout"), ("value", "zfs")],
        )
        .await
        .expect(400);
    admin
        .post(
            &format!("{API}/maas/?op=set_config"),
            &[("name", "default_storage_layout"), ("value", "lvm")],
        )
        .await
        .ok();
    let got = admin
        .get(&format!(
            "{API}/maas/?op=get_config&name=default_storage_layout"
        ))
        .await
        .ok()
        .json();
    assert_eq!(got, "lvm");
    let sid4 = admin.create("lvm1", &mac(14), &[]).await["system_id"]
        .as_str()
        .unwrap()
        .to_string();
    commission_with(&admin, &sid4, Some("SAMPLE_LXD_RESOURCES.json")).await;
    let m = admin.machine(&sid4).await;
    // (Its NIC is the capture's eth0 again, last network-booted by UEFI: an ESP too.)
    assert_eq!(
        mounts(&m),
        t(&[
            ("/", "vgroot-lvroot", "ext4"),
            ("/boot", "sda-part2", "ext4"),
            ("/boot/efi", "sda-part1", "vfat")
        ])
    );
    // A later BIOS boot of that NIC: the layout restored now is MBR without an ESP.
    s.anon()
        .get("/MAAS/boot/ipxe?mac=00:00:00:00:00:01&arch=amd64&firmware=bios")
        .await
        .ok();
    let m = admin
        .op(&sid4, "restore_storage_configuration", &[])
        .await
        .ok()
        .json();
    assert_eq!(
        mounts(&m),
        t(&[
            ("/", "vgroot-lvroot", "ext4"),
            ("/boot", "sda-part1", "ext4")
        ])
    );
    assert_eq!(dev(&m, "sda")["partition_table_type"], "MBR");
}

/// Recommissioning applies the default layout to the new inventory — unless the operator asked
/// to keep the storage configuration (`skip_storage=true`), as MAAS does.
#[tokio::test]
async fn recommissioning_keeps_the_layout_with_skip_storage() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let sid = c.ready_machine("keep1", "52:54:00:dd:31:01", &[]).await;
    c.op(&sid, "set_storage_layout", &[("storage_layout", "lvm")])
        .await
        .ok();
    let vgs = |m: &Value| m["volume_groups"].as_array().map_or(0, Vec::len);
    assert_eq!(vgs(&c.machine(&sid).await), 1);
    // Kept.
    c.op(
        &sid,
        "commission",
        &[("skip_storage", "true"), ("testing_scripts", "none")],
    )
    .await
    .ok();
    c.commission_ok(&sid).await;
    let m = c.machine(&sid).await;
    assert_eq!(m["status_name"], "Ready");
    assert_eq!(vgs(&m), 1, "skip_storage kept the lvm layout: {m:#}");
    // Not kept: the default (flat) layout again.
    c.op(&sid, "commission", &[("testing_scripts", "none")])
        .await
        .ok();
    c.commission_ok(&sid).await;
    let m = c.machine(&sid).await;
    assert_eq!(m["status_name"], "Ready");
    assert_eq!(vgs(&m), 0, "the default layout replaced it: {m:#}");
    // A bad value is refused.
    let r = c
        .op(&sid, "commission", &[("skip_storage", "maybe")])
        .await
        .expect(400);
    assert!(r.body.contains("skip_storage"), "{}", r.body);
}

/// Physical disks by hand (create, update, delete with what is on them), partition tags and a
/// volume group's update, as MAAS clients (Terraform's `maas_block_device`, the CLI) use them.
#[tokio::test]
async fn disks_partition_tags_and_volume_group_updates() {
    let s = Server::start(&[]).await;
    let admin = s.client();
    let sid = admin.create("disks9", &mac(19), &[]).await["system_id"]
        .as_str()
        .unwrap()
        .to_string();
    commission_with(&admin, &sid, Some("SAMPLE_LXD_RESOURCES.json")).await;
    let bds = format!("{API}/nodes/{sid}/blockdevices/");
    // Create: MAAS's required fields, named in the refusals.
    for (form, field) in [
        (vec![("size", "10G")], "name"),
        (
            vec![("name", "sdz"), ("model", "X"), ("serial", "1")],
            "size",
        ),
        (vec![("name", "sdz"), ("size", "10G")], "id_path"),
        (
            vec![
                ("name", "sdz"),
                ("size", "lots"),
                ("id_path", "/dev/disk/by-id/z"),
            ],
            "size",
        ),
        (
            vec![
                ("name", "sda"),
                ("size", "10G"),
                ("id_path", "/dev/disk/by-id/z"),
            ],
            "name",
        ),
    ] {
        let r = admin.post(&bds, &form).await.expect(400);
        assert!(r.json()[field].is_array(), "{form:?}: {}", r.body);
    }
    let bob = s.user("bob").await;
    bob.post(&bds, &[("name", "sdz"), ("size", "10G"), ("id_path", "/x")])
        .await
        .expect(403);
    let z = admin
        .post(
            &bds,
            &[
                ("name", "sdz"),
                ("model", "QEMU"),
                ("serial", "Z1"),
                ("size", "20G"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(
        (z["name"].as_str(), z["size"].as_i64()),
        (Some("sdz"), Some(20_000_000_000))
    );
    let zid = z["id"].as_i64().unwrap();
    let zu = format!("{bds}{zid}/");
    let r = admin
        .put(&zu, &[("serial", "Z2"), ("size", "30G")])
        .await
        .ok()
        .json();
    assert_eq!(
        (r["serial"].as_str(), r["size"].as_i64()),
        (Some("Z2"), Some(30_000_000_000))
    );
    // A partition with tags; then the disk cannot be resized.
    let part = admin
        .post(&format!("{zu}partitions/"), &[("size", "5G")])
        .await
        .ok()
        .json();
    let pu = format!("{zu}partition/{}", part["id"]);
    admin
        .post(&format!("{pu}?op=add_tag"), &[("tag", "journal")])
        .await
        .ok();
    assert_eq!(admin.get(&pu).await.ok().json()["tags"], json!(["journal"]));
    admin
        .post(&format!("{pu}?op=add_tag"), &[("tag", "two words")])
        .await
        .expect(400);
    admin
        .post(&format!("{pu}?op=remove_tag"), &[("tag", "journal")])
        .await
        .ok();
    assert_eq!(admin.get(&pu).await.ok().json()["tags"], json!([]));
    let r = admin.put(&zu, &[("size", "40G")]).await.expect(400);
    assert!(r.body.contains("in use"), "{}", r.body);
    // A volume group on the partition; add the other data disk, rename, remove it again.
    let vg = admin
        .post(
            &format!("{API}/nodes/{sid}/volume-groups/"),
            &[("name", "vg0"), ("partitions", &part["id"].to_string())],
        )
        .await
        .ok()
        .json();
    let vgu = format!("{API}/nodes/{sid}/volume-group/{}/", vg["id"]);
    let m = admin.machine(&sid).await;
    let sdb = m["physicalblockdevice_set"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "sdb")
        .unwrap()["id"]
        .to_string();
    let r = admin
        .put(&vgu, &[("name", "vg-data"), ("add_block_devices", &sdb)])
        .await
        .ok()
        .json();
    assert_eq!(r["name"], "vg-data");
    assert_eq!(r["devices"].as_array().map(Vec::len), Some(2), "{r:#}");
    admin
        .put(&vgu, &[("add_block_devices", &sdb)])
        .await
        .expect(400);
    admin
        .put(&vgu, &[("remove_block_devices", &sdb)])
        .await
        .ok();
    // Deleting the disk takes its partition and the volume group on it.
    admin.delete(&zu).await.ok();
    let m = admin.machine(&sid).await;
    assert!(!m.to_string().contains("\"sdz\""), "{m:#}");
    assert_eq!(m["volume_groups"], json!([]), "{m:#}");
    let evs = admin
        .get(&format!("{API}/events/?op=query&id={sid}"))
        .await
        .ok()
        .json();
    assert!(evs.to_string().contains("Disk sdz deleted"), "{evs}");
}
