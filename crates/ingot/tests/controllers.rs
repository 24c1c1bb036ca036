//! Controllers as machines: the host running `ingot serve` is in the machine list as DEPLOYED,
//! locked, annotated `ingot_controller=region`; racks that register appear the same way (or
//! link to the machine they run on); removing a rack controller unlocks its machine, and
//! deletes it when it has no BMC.

mod common;
use common::*;
use serde_json::Value;

/// This host as the region sees it: (machine hostname, physical MACs) read from /proc and /sys.
fn this_host() -> (String, Vec<String>) {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let label = name
        .trim()
        .split('.')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut macs = Vec::new();
    if let Ok(d) = std::fs::read_dir("/sys/class/net") {
        for e in d.flatten() {
            let p = e.path();
            if !p.join("device").exists() {
                continue;
            }
            if let Ok(a) = std::fs::read_to_string(p.join("address")) {
                let a = a.trim().to_ascii_lowercase();
                if a.len() == 17 && a != "00:00:00:00:00:00" {
                    macs.push(a);
                }
            }
        }
    }
    macs.sort();
    (label, macs)
}

async fn machines(c: &Client) -> Vec<Value> {
    c.get("/MAAS/api/2.0/machines/")
        .await
        .ok()
        .json()
        .as_array()
        .cloned()
        .unwrap()
}

fn controllers(ms: &[Value]) -> Vec<&Value> {
    ms.iter()
        .filter(|m| m["workload_annotations"]["ingot_controller"].is_string())
        .collect()
}

fn macs_of(m: &Value) -> Vec<String> {
    let mut v: Vec<String> = m["interface_set"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["mac_address"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

/// Register a rack as `ingot rack` does (its configuration read names it).
async fn register_rack(s: &Server, name: &str, macs: &[&str]) {
    let mut q: Vec<(&str, &str)> = vec![("name", name), ("address", "10.99.0.2"), ("version", "t")];
    for m in macs {
        q.push(("mac", m));
    }
    s.rack_config(&q).await;
}

async fn rack_id(c: &Client, name: &str) -> (String, Value) {
    let racks = c.get("/MAAS/api/2.0/rackcontrollers/").await.ok().json();
    let k = racks
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["hostname"] == name)
        .unwrap_or_else(|| panic!("rack {name} not listed: {racks}"))
        .clone();
    (k["system_id"].as_str().unwrap().to_string(), k)
}

#[tokio::test]
async fn controllers_are_machines_sqlite() {
    controllers_are_machines(Server::start(&[]).await).await
}

#[tokio::test]
async fn controllers_are_machines_postgres() {
    let Some(s) = Server::start_pg(&[]).await else {
        eprintln!("SKIP: INGOT_TEST_PG_URL not set");
        return;
    };
    controllers_are_machines(s).await
}

async fn controllers_are_machines(s: Server) {
    let c = s.client();
    let (host, host_macs) = this_host();

    // The region's host: one machine, DEPLOYED, locked, annotated, with this host's MACs.
    let ms = machines(&c).await;
    let ctl = controllers(&ms);
    assert_eq!(ctl.len(), 1, "{ms:?}");
    let region = ctl[0].clone();
    assert_eq!(region["status_name"], "Deployed");
    assert_eq!(region["locked"], true);
    assert_eq!(region["workload_annotations"]["ingot_controller"], "region");
    assert_eq!(region["hostname"], host.as_str());
    assert_eq!(macs_of(&region), host_macs);
    assert_eq!(region["owner"], "admin");
    assert_eq!(region["netboot"], false);
    let region_sid = region["system_id"].as_str().unwrap().to_string();

    // A locked controller refuses release and deploy with the lock error.
    for op in ["release", "deploy"] {
        let r = c.op(&region_sid, op, &[]).await.expect(403);
        assert!(r.body.contains("locked"), "{op}: {}", r.body);
    }
    assert_eq!(c.status(&region_sid).await, 6, "still deployed");

    // A rack on this same host: the same machine, region+rack.
    let mac_refs: Vec<&str> = host_macs.iter().map(String::as_str).collect();
    register_rack(&s, &host, &mac_refs).await;
    let ms = machines(&c).await;
    assert_eq!(
        controllers(&ms).len(),
        1,
        "one machine for an all-in-one host"
    );
    let m = c.machine(&region_sid).await;
    assert_eq!(m["workload_annotations"]["ingot_controller"], "region+rack");
    let (own_rack, k) = rack_id(&c, &host).await;
    assert_eq!(k["machine"], region_sid.as_str());

    // A second rack on another host: a new machine.
    let rack2_mac = mac(0x0900_0001);
    register_rack(&s, "rack2.example.com", &[&rack2_mac]).await;
    let count = machines(&c).await.len();
    // Its heartbeats (every configuration read) change nothing.
    register_rack(&s, "rack2.example.com", &[&rack2_mac]).await;
    assert_eq!(machines(&c).await.len(), count);
    let ms = machines(&c).await;
    let r2 = ms
        .iter()
        .find(|m| m["hostname"] == "rack2")
        .unwrap_or_else(|| panic!("rack2 not a machine: {ms:?}"))
        .clone();
    assert_eq!(r2["status_name"], "Deployed");
    assert_eq!(r2["locked"], true);
    assert_eq!(r2["workload_annotations"]["ingot_controller"], "rack");
    assert_eq!(macs_of(&r2), vec![rack2_mac.clone()]);
    let r2_sid = r2["system_id"].as_str().unwrap().to_string();
    let evs = c.events(&r2_sid).await;
    assert_eq!(
        evs.iter().filter(|e| e["type"] == "Controller").count(),
        1,
        "{evs:?}"
    );
    c.op(&r2_sid, "release", &[]).await.expect(403);

    // Removing it (admins only): no BMC, so the machine goes.
    let (r2_rack, k) = rack_id(&c, "rack2.example.com").await;
    assert_eq!(k["machine"], r2_sid.as_str());
    // One rack read has the fields the list has.
    let one = c
        .get(&format!("/MAAS/api/2.0/rackcontrollers/{r2_rack}/"))
        .await
        .ok()
        .json();
    assert_eq!(one, k);
    // The images it serves: every complete boot resource (it fetches them on first use).
    c.upload_image("custom/rackimg", b"image").await;
    let imgs = c
        .get(&format!(
            "/MAAS/api/2.0/rackcontrollers/{r2_rack}/?op=list_boot_images"
        ))
        .await
        .ok()
        .json();
    assert_eq!(
        (&imgs["connected"], &imgs["status"]),
        (&serde_json::json!(true), &serde_json::json!("synced"))
    );
    assert!(
        imgs["images"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "custom/rackimg" && i["architecture"] == "amd64"),
        "{imgs:#}"
    );
    // Power ops act on the machine it runs on: locked, so powering it off is refused.
    let st = c
        .get(&format!(
            "/MAAS/api/2.0/rackcontrollers/{r2_rack}/?op=query_power_state"
        ))
        .await
        .ok()
        .json();
    assert!(st["state"].is_string(), "{st}");
    let r = c
        .post(
            &format!("/MAAS/api/2.0/rackcontrollers/{r2_rack}/?op=power_off"),
            &[],
        )
        .await
        .expect(403);
    assert!(r.body.contains("locked"), "{}", r.body);
    let types = c
        .get("/MAAS/api/2.0/rackcontrollers/?op=describe_power_types")
        .await
        .ok()
        .json();
    assert!(
        types
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "ipmi"),
        "{types}"
    );
    let bob = s.user("bob").await;
    bob.delete(&format!("/MAAS/api/2.0/rackcontrollers/{r2_rack}/"))
        .await
        .expect(403);
    c.delete(&format!("/MAAS/api/2.0/rackcontrollers/{r2_rack}/"))
        .await
        .expect(204);
    c.get(&format!("/MAAS/api/2.0/machines/{r2_sid}/"))
        .await
        .expect(404);
    c.get(&format!("/MAAS/api/2.0/rackcontrollers/{r2_rack}/"))
        .await
        .expect(404);

    // A rack on a machine Ingot already has, with a BMC: linked (status untouched), then
    // unlocked and unannotated when removed, and kept.
    let bmc_mac = mac(0x0900_0002);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let m = c
        .post(
            "/MAAS/api/2.0/machines/",
            &[
                ("hostname", "bmc1"),
                ("architecture", "amd64/generic"),
                ("mac_addresses", &bmc_mac),
                ("deployed", "true"),
                ("power_type", "redfish"),
                (
                    "power_parameters_power_address",
                    &format!("http://127.0.0.1:{port}"),
                ),
            ],
        )
        .await
        .ok()
        .json();
    let bmc_sid = m["system_id"].as_str().unwrap().to_string();
    c.put(
        &format!("/MAAS/api/2.0/machines/{bmc_sid}/"),
        &[("description", "kept")],
    )
    .await
    .ok();
    register_rack(&s, "rack3", &[&bmc_mac]).await;
    let m = c.machine(&bmc_sid).await;
    assert_eq!(m["hostname"], "bmc1", "linked by MAC, not by name");
    assert_eq!(m["locked"], true);
    assert_eq!(m["workload_annotations"]["ingot_controller"], "rack");
    assert_eq!(m["status_name"], "Deployed");
    assert!(machines(&c).await.iter().all(|x| x["hostname"] != "rack3"));
    let (r3, _) = rack_id(&c, "rack3").await;
    c.delete(&format!("/MAAS/api/2.0/rackcontrollers/{r3}/"))
        .await
        .expect(204);
    let m = c.machine(&bmc_sid).await;
    assert_eq!(m["locked"], false);
    assert!(
        m["workload_annotations"]["ingot_controller"].is_null(),
        "{m}"
    );
    assert_eq!(m["description"], "kept");

    // A machine in another status (NEW, no BMC) linked by MAC keeps its status.
    let new_mac = mac(0x0900_0003);
    let n = c.create("new1", &new_mac, &[("commission", "false")]).await;
    let new_sid = n["system_id"].as_str().unwrap().to_string();
    let before = c.status(&new_sid).await;
    register_rack(&s, "rack4", &[&new_mac]).await;
    let m = c.machine(&new_sid).await;
    assert_eq!(m["status"].as_i64(), Some(before));
    assert_eq!(m["locked"], true);
    assert_eq!(m["workload_annotations"]["ingot_controller"], "rack");

    // Removing the rack of the all-in-one host leaves the region's machine, locked.
    c.delete(&format!("/MAAS/api/2.0/rackcontrollers/{own_rack}/"))
        .await
        .expect(204);
    let m = c.machine(&region_sid).await;
    assert_eq!(m["workload_annotations"]["ingot_controller"], "region");
    assert_eq!(m["locked"], true);

    // Region controllers: the region's machine; removing it (no BMC) deletes the machine.
    let regions = c.get("/MAAS/api/2.0/regioncontrollers/").await.ok().json();
    let ids: Vec<&str> = regions
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["system_id"].as_str())
        .collect();
    assert_eq!(ids, vec![region_sid.as_str()]);
    bob.delete(&format!("/MAAS/api/2.0/regioncontrollers/{region_sid}/"))
        .await
        .expect(403);
    c.delete(&format!("/MAAS/api/2.0/regioncontrollers/{new_sid}/"))
        .await
        .expect(404);
    c.delete(&format!("/MAAS/api/2.0/regioncontrollers/{region_sid}/"))
        .await
        .expect(204);
    c.get(&format!("/MAAS/api/2.0/machines/{region_sid}/"))
        .await
        .expect(404);
    let regions = c.get("/MAAS/api/2.0/regioncontrollers/").await.ok().json();
    assert_eq!(regions.as_array().map(Vec::len), Some(0));
}

/// Restarting the region finds its machine again instead of adding another.
#[tokio::test]
async fn region_restart_keeps_one_machine() {
    let (db, dir) = database(false).await;
    let s = Server::start_on(&db, dir.clone(), &[]);
    let c = s.client();
    let first = controllers(&machines(&c).await)
        .iter()
        .map(|m| m["system_id"].clone())
        .collect::<Vec<_>>();
    assert_eq!(first.len(), 1);
    drop(s);
    let s = Server::start_on(&db, dir, &[]);
    let c = s.client();
    let again = controllers(&machines(&c).await)
        .iter()
        .map(|m| m["system_id"].clone())
        .collect::<Vec<_>>();
    assert_eq!(again, first);
}

/// `nodes/` (MAAS's NodesHandler): machines and devices together, each as its kind shows it;
/// read, `is_registered`, `set_zone` (all checked before any moves), device update, and delete
/// by kind.
#[tokio::test]
async fn nodes_of_every_kind() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let m = c
        .create("n-machine", &mac(41), &[("commission", "false")])
        .await;
    let msid = m["system_id"].as_str().unwrap().to_string();
    let d = c
        .post(
            "/MAAS/api/2.0/devices/",
            &[("hostname", "n-device"), ("mac_addresses", &mac(42))],
        )
        .await
        .ok()
        .json();
    let dsid = d["system_id"].as_str().unwrap().to_string();
    let nodes = c.get("/MAAS/api/2.0/nodes/").await.ok().json();
    let kind = |sid: &str| {
        nodes
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["system_id"] == sid)
            .map(|n| n["node_type_name"].clone())
    };
    assert_eq!(kind(&msid), Some(serde_json::json!("Machine")), "{nodes:#}");
    assert_eq!(kind(&dsid), Some(serde_json::json!("Device")), "{nodes:#}");
    let one = c
        .get(&format!("/MAAS/api/2.0/nodes/{dsid}/"))
        .await
        .ok()
        .json();
    assert_eq!(
        one["resource_uri"],
        format!("/MAAS/api/2.0/devices/{dsid}/")
    );
    assert_eq!(
        c.get(&format!(
            "/MAAS/api/2.0/nodes/?op=is_registered&mac_address={}",
            mac(42)
        ))
        .await
        .ok()
        .json(),
        serde_json::json!(true)
    );
    // is_action_in_progress (anonymous, on every node collection): only while commissioning
    // or deploying.
    let anon = s.anon();
    let in_progress = |path: &'static str| {
        let url = format!(
            "/MAAS/api/2.0/{path}?op=is_action_in_progress&mac_address={}",
            mac(41)
        );
        let anon = anon.clone();
        async move { anon.get(&url).await.ok().json() }
    };
    assert_eq!(in_progress("nodes/").await, serde_json::json!(false));
    c.op(&msid, "commission", &[("testing_scripts", "none")])
        .await
        .ok();
    for path in [
        "nodes/",
        "machines/",
        "devices/",
        "rackcontrollers/",
        "regioncontrollers/",
    ] {
        assert_eq!(in_progress(path).await, serde_json::json!(true), "{path}");
    }
    anon.get("/MAAS/api/2.0/nodes/?op=is_action_in_progress")
        .await
        .expect(400);
    c.op(&msid, "abort", &[]).await.ok();
    // set_zone: an unknown node or zone moves nothing.
    c.post("/MAAS/api/2.0/zones/", &[("name", "rack-7")])
        .await
        .ok();
    let r = c
        .post(
            "/MAAS/api/2.0/nodes/?op=set_zone",
            &[("zone", "rack-7"), ("nodes", &msid), ("nodes", "nosuch")],
        )
        .await
        .expect(400);
    assert!(r.body.contains("nosuch"), "{}", r.body);
    c.post(
        "/MAAS/api/2.0/nodes/?op=set_zone",
        &[("zone", "nozone"), ("nodes", &msid)],
    )
    .await
    .expect(400);
    assert_eq!(c.machine(&msid).await["zone"]["name"], "default");
    let moved = c
        .post(
            "/MAAS/api/2.0/nodes/?op=set_zone",
            &[("zone", "rack-7"), ("nodes", &msid), ("nodes", &dsid)],
        )
        .await
        .ok()
        .json();
    assert_eq!(moved.as_array().map(Vec::len), Some(2));
    assert_eq!(c.machine(&msid).await["zone"]["name"], "rack-7");
    let bob = s.user("bob").await;
    bob.post(
        "/MAAS/api/2.0/machines/?op=set_zone",
        &[("zone", "default"), ("nodes", &msid)],
    )
    .await
    .expect(403);
    // A device's update; then each kind is deleted by its own rule.
    let d = c
        .put(
            &format!("/MAAS/api/2.0/devices/{dsid}/"),
            &[("hostname", "n-device-2"), ("description", "a container")],
        )
        .await
        .ok()
        .json();
    assert_eq!(
        (d["hostname"].as_str(), d["zone"]["name"].as_str()),
        (Some("n-device-2"), Some("rack-7"))
    );
    c.delete(&format!("/MAAS/api/2.0/nodes/{dsid}/")).await.ok();
    c.delete(&format!("/MAAS/api/2.0/nodes/{msid}/")).await.ok();
    c.get(&format!("/MAAS/api/2.0/nodes/{msid}/"))
        .await
        .expect(404);
}
