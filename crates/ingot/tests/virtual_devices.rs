//! Virtual block devices changed through the real binary. RAID, as MAAS's `raids/` and
//! `raid/{id}/` serve it: creation with
//! MAAS's member rules (each refusal a 400 naming the field, nothing changed), the RAID as a
//! virtual block device that is formatted and mounted or carries a volume group, update of its
//! members and spares, delete, permissions and the status rule, and the RAID step in the
//! configuration a deploying machine receives. (The QEMU deployment that assembles it with
//! mdadm is netboot's `qemu_vm_deploys_debian_12_with_cloud_init`.) Bcaches and cache sets
//! changed after they were made (`bcache/{id}` and `bcache-cache-set/{id}` PUT).

mod common;
use common::{mac, Client, Server};
use serde_json::Value;

const API: &str = "/MAAS/api/2.0";

/// Adds a data disk by hand; its id.
async fn add_disk(admin: &Client, sid: &str, name: &str, size: &str) -> String {
    admin
        .post(
            &format!("{API}/nodes/{sid}/blockdevices/"),
            &[
                ("name", name),
                ("size", size),
                ("model", "QEMU HARDDISK"),
                ("serial", &format!("SER-{name}")),
            ],
        )
        .await
        .ok()
        .json()["id"]
        .to_string()
}

fn used_for(m: &Value, id: &str) -> String {
    m["blockdevice_set"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"].as_i64().is_some_and(|x| x.to_string() == id))
        .map(|d| d["used_for"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn raids_are_made_changed_deleted_and_deployed() {
    let s = Server::start(&[]).await;
    let admin = s.client();
    let sid = admin.ready_machine("raid1", &mac(31), &[]).await;
    let mut d = Vec::new();
    for name in ["sdb", "sdc", "sdd", "sde"] {
        d.push(add_disk(&admin, &sid, name, "10G").await);
    }
    let raids = format!("{API}/nodes/{sid}/raids/");

    // Refusals: each names its field and nothing is made.
    for (form, field) in [
        (vec![("block_devices", d[0].as_str())], "level"),
        (vec![("level", "raid-7"), ("block_devices", &d[0])], "level"),
        (
            vec![
                ("level", "raid-5"),
                ("block_devices", &d[0]),
                ("block_devices", &d[1]),
            ],
            "__all__",
        ),
        (
            vec![
                ("level", "raid-0"),
                ("block_devices", &d[0]),
                ("block_devices", &d[1]),
                ("spare_devices", &d[2]),
            ],
            "__all__",
        ),
        (
            vec![
                ("level", "raid-1"),
                ("block_devices", &d[0]),
                ("block_devices", "999999"),
            ],
            "block_devices",
        ),
        (
            vec![
                ("level", "raid-1"),
                ("block_devices", &d[0]),
                ("block_devices", &d[0]),
            ],
            "block_devices",
        ),
        (
            vec![
                ("level", "raid-1"),
                ("block_devices", &d[0]),
                ("block_devices", &d[1]),
                ("uuid", "not-a-uuid"),
            ],
            "uuid",
        ),
    ] {
        let r = admin.post(&raids, &form).await.expect(400);
        assert!(r.json()[field].is_array(), "{form:?}: {}", r.body);
    }
    assert_eq!(admin.get(&raids).await.ok().json(), serde_json::json!([]));
    // Only an administrator changes storage (MAAS: NodePermission.admin).
    let bob = s.user("bob").await;
    bob.post(
        &raids,
        &[
            ("level", "raid-1"),
            ("block_devices", &d[0]),
            ("block_devices", &d[1]),
        ],
    )
    .await
    .expect(403);

    // A mirror of two disks with a spare.
    let r = admin
        .post(
            &raids,
            &[
                ("name", "mirror"),
                ("level", "raid-1"),
                ("block_devices", &d[0]),
                ("block_devices", &d[1]),
                ("spare_devices", &d[2]),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(r["name"], "mirror");
    assert_eq!(r["level"], "raid-1");
    assert_eq!(r["system_id"], sid.as_str());
    assert_eq!(r["devices"].as_array().map(Vec::len), Some(2), "{r:#}");
    assert_eq!(r["spare_devices"].as_array().map(Vec::len), Some(1));
    // 10 GB members: mdadm keeps 9 MiB of each (its data offset); sizes in 4 MiB steps.
    let member = 10_000_000_000u64;
    let want = (member - 9 * 1024 * 1024) / (4 << 20) * (4 << 20);
    assert_eq!(r["size"].as_u64(), Some(want), "{r:#}");
    let vd = &r["virtual_device"];
    assert_eq!(vd["type"], "virtual");
    assert_eq!(vd["parent"]["type"], "raid-1");
    let rid = r["id"].to_string();
    assert_eq!(
        vd["id"].to_string(),
        rid,
        "one id for the RAID and its device"
    );
    let ru = format!("{API}/nodes/{sid}/raid/{rid}/");
    assert_eq!(r["resource_uri"], ru.as_str());
    assert_eq!(admin.get(&ru).await.ok().json()["name"], "mirror");
    let m = admin.machine(&sid).await;
    assert_eq!(
        m["raids"].as_array().map(Vec::len),
        Some(1),
        "{:#}",
        m["raids"]
    );
    assert_eq!(used_for(&m, &d[0]), "Active raid-1 device for mirror");
    assert_eq!(used_for(&m, &d[2]), "Spare raid-1 device for mirror");
    // Its members cannot go elsewhere.
    let r = admin
        .post(
            &format!("{API}/nodes/{sid}/volume-groups/"),
            &[("name", "vg"), ("block_devices", &d[0])],
        )
        .await;
    assert!(r.status == 400 || r.status == 409, "{}", r.body);
    assert!(
        r.body.contains("Active raid-1 device for mirror"),
        "{}",
        r.body
    );

    // The RAID is a block device: formatted and mounted.
    let bd = format!("{API}/nodes/{sid}/blockdevices/{rid}/");
    admin
        .post(&format!("{bd}?op=format"), &[("fstype", "ext4")])
        .await
        .ok();
    let r = admin
        .post(&format!("{bd}?op=mount"), &[("mount_point", "/srv/mirror")])
        .await
        .ok()
        .json();
    assert_eq!(r["filesystem"]["mount_point"], "/srv/mirror", "{r:#}");

    // Update: renamed; the spare becomes active in place of sdc (a level-1 array keeps two).
    let r = admin
        .put(
            &ru,
            &[
                ("name", "mirror0"),
                ("remove_block_devices", &d[1]),
                ("remove_spare_devices", &d[2]),
                ("add_block_devices", &d[2]),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(r["name"], "mirror0");
    let ids: Vec<String> = r["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].to_string())
        .collect();
    assert_eq!(ids, vec![d[0].clone(), d[2].clone()]);
    assert_eq!(r["spare_devices"], serde_json::json!([]));
    let r = admin
        .put(&ru, &[("remove_block_devices", &d[0])])
        .await
        .expect(400);
    assert!(r.json()["__all__"].is_array(), "{}", r.body);
    let r = admin.put(&ru, &[("name", "has space")]).await.expect(400);
    assert!(r.json()["name"].is_array(), "{}", r.body);

    // A RAID 5 of the rest cannot be made (two free disks), a RAID 0 can; then deleted.
    let r0 = admin
        .post(
            &raids,
            &[
                ("level", "raid-0"),
                ("block_devices", &d[1]),
                ("block_devices", &d[3]),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(r0["name"], "md0", "MAAS's default name");
    let r0u = format!("{API}/nodes/{sid}/raid/{}/", r0["id"]);
    admin.delete(&r0u).await.expect(204);
    admin.get(&r0u).await.expect(404);
    let m = admin.machine(&sid).await;
    assert_eq!(used_for(&m, &d[3]), "Unused");

    // Deployed: the configuration carries the RAID before the filesystem on it.
    admin.upload_image("custom/ingot-test", b"an image").await;
    admin
        .post(
            &format!("{API}/machines/?op=allocate"),
            &[("system_id", &sid)],
        )
        .await
        .ok();
    // Deploying freezes the layout.
    admin.op(&sid, "deploy", &[]).await.ok();
    let r = admin.put(&ru, &[("name", "late")]).await.expect(409);
    assert!(r.body.contains("Deploying"), "{}", r.body);
    let cfg = admin.deploy_ok(&sid).await;
    let steps = cfg["storage"].as_array().expect("storage steps");
    let pos = |f: &dyn Fn(&Value) -> bool| steps.iter().position(f);
    let raid = pos(&|s| s["type"] == "raid").unwrap_or_else(|| panic!("{steps:#?}"));
    let st = &steps[raid];
    assert_eq!(st["name"], "mirror0");
    assert_eq!(st["level"], "raid-1");
    assert_eq!(st["devices"].as_array().map(Vec::len), Some(2));
    for dev in st["devices"].as_array().unwrap() {
        let at = pos(&|s| s["id"] == *dev).expect("member step");
        assert!(at < raid, "{dev} before the RAID");
        assert_eq!(steps[at]["type"], "disk");
        assert_eq!(steps[at]["ptable"], Value::Null, "a whole disk: no table");
    }
    let fs = pos(&|s| s["type"] == "format" && s["volume"] == st["id"]).expect("format");
    assert!(fs > raid);
    assert!(steps
        .iter()
        .any(|s| s["type"] == "mount" && s["path"] == "/srv/mirror"));
    assert_eq!(admin.machine(&sid).await["status_name"], "Deployed");
    // The events say what was done.
    let evs: Vec<String> = admin
        .events(&sid)
        .await
        .iter()
        .map(|e| e["description"].as_str().unwrap_or("").to_string())
        .collect();
    for want in ["Created a raid-1 RAID", "Updated a RAID", "Deleted a RAID"] {
        assert!(evs.iter().any(|e| e.contains(want)), "{want}: {evs:?}");
    }
}

#[tokio::test]
async fn bcaches_and_cache_sets_are_changed() {
    let s = Server::start(&[]).await;
    let admin = s.client();
    let sid = admin.ready_machine("bc1", &mac(32), &[]).await;
    let mut d = Vec::new();
    for name in ["sdb", "sdc", "sdd", "sde"] {
        d.push(add_disk(&admin, &sid, name, "10G").await);
    }
    let cs = admin
        .post(
            &format!("{API}/nodes/{sid}/bcache-cache-sets/"),
            &[("cache_device", &d[0])],
        )
        .await
        .ok()
        .json();
    let csu = format!("{API}/nodes/{sid}/bcache-cache-set/{}/", cs["id"]);
    let b = admin
        .post(
            &format!("{API}/nodes/{sid}/bcaches/"),
            &[
                ("backing_device", &d[1]),
                ("cache_set", &cs["id"].to_string()),
                ("cache_mode", "writeback"),
            ],
        )
        .await
        .ok()
        .json();
    let bu = format!("{API}/nodes/{sid}/bcache/{}/", b["id"]);
    // The cache set moves to a free disk, not to the bcache's backing disk.
    let r = admin
        .put(&csu, &[("cache_device", &d[2])])
        .await
        .ok()
        .json();
    assert_eq!(r["cache_device"]["id"].to_string(), d[2], "{r:#}");
    let r = admin.put(&csu, &[("cache_device", &d[1])]).await;
    assert!(r.status == 400 || r.status == 409, "{}", r.body);
    assert!(r.body.contains("in use"), "{}", r.body);
    // The bcache: renamed, another mode, another backing disk; the old one is free.
    let r = admin
        .put(
            &bu,
            &[
                ("name", "fast0"),
                ("cache_mode", "writethrough"),
                ("backing_device", &d[3]),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(r["name"], "fast0");
    assert_eq!(r["cache_mode"], "writethrough");
    assert_eq!(r["backing_device"]["id"].to_string(), d[3]);
    let m = admin.machine(&sid).await;
    assert_eq!(used_for(&m, &d[1]), "Unused");
    for (form, field) in [
        (vec![("cache_mode", "sometimes")], "cache_mode"),
        (vec![("cache_set", "999999")], "cache_set"),
        (vec![("uuid", "nope")], "uuid"),
        (vec![("backing_device", "999999")], "backing_device"),
    ] {
        let r = admin.put(&bu, &form).await.expect(400);
        assert!(r.json()[field].is_array(), "{form:?}: {}", r.body);
    }
    assert_eq!(
        admin.get(&bu).await.ok().json()["name"],
        "fast0",
        "unchanged"
    );
    // Only an administrator.
    let bob = s.user("bob").await;
    bob.put(&bu, &[("name", "x")]).await.expect(403);
}
