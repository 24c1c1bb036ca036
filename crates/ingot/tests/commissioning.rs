//! Commissioning and testing through the real binary, with the test playing the ephemeral
//! environment over the metadata API exactly as `ingot-agent` (and MAAS's runner) talk to it:
//! scripts upload/validation, the `maas-scripts` index, per-script results with outputs, the
//! inventory hook on a real LXD resources capture, BOOTIF, failures, timeouts, abort, and the
//! API's results view.

mod common;
use base64::Engine as _;
use common::{mac, Client, Server};
use serde_json::{json, Value};
use std::path::PathBuf;

const META: &str = "/MAAS/metadata/2012-03-01/";

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

/// The machine-resources document MAAS's 50-maas-01-commissioning prints, around a real LXD
/// resources capture and its network state.
fn resources_doc(resources: &str, networks: Option<&str>) -> Vec<u8> {
    let read = |f: &str| -> Value {
        serde_json::from_slice(&std::fs::read(fixtures().join(f)).unwrap()).unwrap()
    };
    let mut doc = json!({
        "api_version": "1.0",
        "api_extensions": ["resources", "resources_cpu_socket", "resources_gpu", "resources_numa", "resources_v2", "resources_disk_sata", "resources_network_firmware", "resources_disk_id", "resources_usb_pci", "resources_cpu_threads_numa", "resources_cpu_core_die", "api_os", "resources_system", "resources_pci_iommu", "resources_network_usb", "resources_disk_address"],
        "environment": {"kernel": "Linux", "kernel_architecture": "x86_64", "kernel_version": "6.1.0", "os_name": "ubuntu", "os_version": "22.04", "server": "maas-machine-resources", "server_name": "test", "server_version": "5.0"},
        "resources": read(resources),
    });
    if let Some(n) = networks {
        doc["networks"] = read(n);
    }
    serde_json::to_vec(&doc).unwrap()
}

const USER_COMMISSIONING: &str = "#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: user-check\n# title: A user check\n# script_type: commissioning\n# timeout: 00:01:00\n# tags: [site]\n# --- End MAAS 1.0 script metadata ---\necho checked\n";
const USER_TEST: &str = "#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: user-test\n# script_type: testing\n# hardware_type: storage\n# tags: [site-tests]\n# --- End MAAS 1.0 script metadata ---\nexit 1\n";

async fn upload(admin: &Client, text: &str) -> Value {
    admin
        .post_multipart("/MAAS/api/2.0/scripts/", &[("script", text.as_bytes())])
        .await
        .ok()
        .json()
}

/// The machine's view of its work, as the agent reads it.
async fn index(m: &Client) -> Value {
    m.get(&format!("{META}maas-scripts/")).await.ok().json()
}

fn entry<'a>(idx: &'a Value, set: &str, name: &str) -> &'a Value {
    idx[set]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {set}: {idx:#}"))
}

/// Report one script: started, then finished with stdout (and a result YAML if given).
async fn run_script(m: &Client, id: i64, name: &str, exit: i64, stdout: &[u8], yaml: Option<&str>) {
    let rid = id.to_string();
    m.post_multipart(
        &format!("{META}?op=signal"),
        &[("status", b"WORKING"), ("script_result_id", rid.as_bytes())],
    )
    .await
    .ok();
    let ex = exit.to_string();
    let out_name = format!("{name}.out");
    let yaml_name = format!("{name}.yaml");
    let mut parts: Vec<(&str, &[u8])> = vec![
        ("status", b"WORKING"),
        ("script_result_id", rid.as_bytes()),
        ("exit_status", ex.as_bytes()),
        ("runtime", b"0.5"),
        (name, stdout),
        (&out_name, stdout),
    ];
    if let Some(y) = yaml {
        parts.push((&yaml_name, y.as_bytes()));
    }
    m.post_files(&format!("{META}?op=signal"), &parts)
        .await
        .ok();
}

async fn signal(m: &Client, status: &str) {
    m.post_multipart(
        &format!("{META}?op=signal"),
        &[("status", status.as_bytes())],
    )
    .await
    .ok();
}

fn results_of<'a>(sets: &'a Value, set: &str) -> &'a Vec<Value> {
    sets.as_array()
        .unwrap()
        .iter()
        .find(|s| s["type_name"] == set)
        .and_then(|s| s["results"].as_array())
        .unwrap_or_else(|| panic!("no {set} set in {sets:#}"))
}

#[tokio::test]
async fn scripts_api_validates_and_lists_builtins() {
    let s = Server::start(&[]).await;
    let admin = s.client();
    let u = upload(&admin, USER_COMMISSIONING).await;
    assert_eq!(u["name"], "user-check");
    assert_eq!(u["type_name"], "commissioning");
    assert_eq!(u["timeout"], "00:01:00");
    assert_eq!(u["tags"], json!(["site"]));
    let all = admin.get("/MAAS/api/2.0/scripts/").await.ok().json();
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["name"].as_str())
        .collect();
    for n in [
        "50-maas-01-commissioning",
        "maas-kernel-cmdline",
        "smartctl-validate",
        "user-check",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let tests = admin
        .get("/MAAS/api/2.0/scripts/?type=testing")
        .await
        .ok()
        .json();
    assert!(tests
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["type_name"] == "testing"));
    let text = admin
        .get("/MAAS/api/2.0/scripts/user-check/?op=download")
        .await
        .ok();
    assert_eq!(text.body, USER_COMMISSIONING);
    let up = admin
        .put(
            "/MAAS/api/2.0/scripts/user-check/",
            &[("timeout", "120"), ("title", "Renamed")],
        )
        .await
        .ok()
        .json();
    assert_eq!(
        (
            up["timeout"].as_str(),
            up["title"].as_str(),
            up["version"].as_i64()
        ),
        (Some("00:02:00"), Some("Renamed"), Some(2))
    );
    // Refusals, each with the reason.
    let bad_header = "#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: x\n# timeout: soon\n# --- End MAAS 1.0 script metadata ---\n";
    let r = admin
        .post_multipart(
            "/MAAS/api/2.0/scripts/",
            &[("script", bad_header.as_bytes())],
        )
        .await
        .expect(400);
    assert!(r.body.contains("timeout"), "{}", r.body);
    let unterminated = "#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: x\n";
    let r = admin
        .post_multipart(
            "/MAAS/api/2.0/scripts/",
            &[("script", unterminated.as_bytes())],
        )
        .await
        .expect(400);
    assert!(r.body.contains("never ends"), "{}", r.body);
    let r = admin
        .post_multipart(
            "/MAAS/api/2.0/scripts/",
            &[("script", USER_COMMISSIONING.as_bytes())],
        )
        .await
        .expect(400);
    assert!(r.body.contains("already exists"), "{}", r.body);
    let r = admin
        .post_multipart(
            "/MAAS/api/2.0/scripts/",
            &[("name", b"maas-kernel-cmdline"), ("script", b"#!/bin/sh\n")],
        )
        .await
        .expect(400);
    assert!(r.body.contains("built-in"), "{}", r.body);
    admin
        .post_multipart(
            "/MAAS/api/2.0/scripts/",
            &[("name", b"noshebang"), ("script", b"echo hi\n")],
        )
        .await
        .expect(400);
    admin
        .post_multipart("/MAAS/api/2.0/scripts/", &[("name", b"x")])
        .await
        .expect(400);
    admin
        .delete("/MAAS/api/2.0/scripts/maas-kernel-cmdline/")
        .await
        .expect(403);
    admin.get("/MAAS/api/2.0/scripts/nope/").await.expect(404);
    admin
        .get("/MAAS/api/2.0/scripts/?type=sometimes")
        .await
        .expect(400);
    let bob = s.user("bob").await;
    bob.post_multipart(
        "/MAAS/api/2.0/scripts/",
        &[("name", b"b"), ("script", b"#!/bin/sh\n")],
    )
    .await
    .expect(403);
    bob.delete("/MAAS/api/2.0/scripts/user-check/")
        .await
        .expect(403);
    admin
        .delete("/MAAS/api/2.0/scripts/user-check/")
        .await
        .expect(204);
    admin
        .get("/MAAS/api/2.0/scripts/user-check/")
        .await
        .expect(404);
}

#[tokio::test]
async fn commissioning_derives_the_inventory_and_testing_follows() {
    let s = Server::start(&[]).await;
    let admin = s.client();
    upload(&admin, USER_COMMISSIONING).await;
    upload(&admin, USER_TEST).await;
    let m0 = admin.create("inv1", &mac(1), &[]).await;
    let sid = m0["system_id"].as_str().unwrap().to_string();
    assert_eq!(m0["status_name"], "Commissioning");
    let mc = admin.with_token(&admin.token(&sid).await);
    let idx = index(&mc).await;
    let comm: Vec<&str> = idx["commissioning_scripts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(
        comm.contains(&"50-maas-01-commissioning") && comm.contains(&"user-check"),
        "{comm:?}"
    );
    let mut sorted = comm.clone();
    sorted.sort();
    assert_eq!(comm, sorted, "commissioning scripts run in name order");
    assert_eq!(
        entry(&idx, "commissioning_scripts", "user-check")["script"],
        USER_COMMISSIONING
    );
    assert_eq!(
        entry(&idx, "commissioning_scripts", "50-maas-01-commissioning")["builtin"],
        true
    );
    let tests: Vec<&str> = idx["testing_scripts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(
        tests,
        vec!["smartctl-validate"],
        "default tests: those tagged commissioning"
    );

    // Play every commissioning script: the inventory from a real capture, BOOTIF naming eth1.
    let cmdline = std::fs::read_to_string(fixtures().join("KERNEL_CMDLINE_OUTPUT.txt"))
        .unwrap()
        .replace("{mac_address}", "00-00-00-00-00-02")
        .replace("{{", "{")
        .replace("}}", "}");
    for e in idx["commissioning_scripts"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        let id = e["script_result_id"].as_i64().unwrap();
        let out = match name {
            "50-maas-01-commissioning" => resources_doc(
                "SAMPLE_LXD_RESOURCES.json",
                Some("SAMPLE_LXD_NETWORKS.json"),
            ),
            "maas-kernel-cmdline" => cmdline.clone().into_bytes(),
            "user-check" => b"checked\n".to_vec(),
            other => format!("output of {other}\n").into_bytes(),
        };
        run_script(&mc, id, name, 0, &out, None).await;
    }
    signal(&mc, "TESTING").await;
    assert_eq!(admin.machine(&sid).await["status_name"], "Testing");
    let idx = index(&mc).await;
    assert!(
        idx["commissioning_scripts"].as_array().unwrap().is_empty(),
        "testing: nothing left to commission"
    );
    let smart = entry(&idx, "testing_scripts", "smartctl-validate")["script_result_id"]
        .as_i64()
        .unwrap();
    run_script(
        &mc,
        smart,
        "smartctl-validate",
        0,
        b"vda: no SMART\n",
        Some("status: skipped\n"),
    )
    .await;
    signal(&mc, "OK").await;

    let m = admin.machine(&sid).await;
    assert_eq!(m["status_name"], "Ready", "{m:#}");
    // EXPECTED.md for SAMPLE_LXD_RESOURCES.json (+ SAMPLE_LXD_NETWORKS.json).
    assert_eq!(m["cpu_count"], 8);
    assert_eq!(m["cpu_speed"], 2400);
    assert_eq!(m["memory"], 15918);
    assert_eq!(m["architecture"], "amd64/generic");
    assert_eq!(
        m["hardware_info"]["cpu_model"],
        "Intel(R) Core(TM) i7-4700MQ CPU"
    );
    assert!(
        (m["storage"].as_f64().unwrap() - 6513285.316608).abs() < 1e-3,
        "{}",
        m["storage"]
    );
    let numa: Vec<(i64, i64)> = m["numanode_set"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["index"].as_i64().unwrap(), n["memory"].as_i64().unwrap()))
        .collect();
    assert_eq!(numa, vec![(0, 7959), (1, 7959)]);
    let disks = m["physicalblockdevice_set"].as_array().unwrap();
    let sda = disks.iter().find(|d| d["name"] == "sda").expect("sda");
    assert_eq!(sda["serial"], "14060968BCD8");
    assert_eq!(sda["model"], "Crucial_CT512M55");
    assert_eq!(sda["size"], 512110190592i64);
    assert_eq!(sda["block_size"], 4096);
    assert_eq!(sda["id_path"], "/dev/disk/by-id/wwn-0x12345");
    assert_eq!(sda["tags"], json!(["ssd", "sata"]));
    let sdb = disks.iter().find(|d| d["name"] == "sdb").expect("sdb");
    assert_eq!(sdb["tags"], json!(["rotary", "5400rpm", "removable"]));
    assert_eq!(m["boot_disk"]["name"], "sda");
    let ifs = m["interface_set"].as_array().unwrap();
    let macs: Vec<&str> = ifs
        .iter()
        .filter_map(|i| i["mac_address"].as_str())
        .collect();
    assert_eq!(
        macs.len(),
        3,
        "the three NICs found; the MAC typed at creation is gone: {macs:?}"
    );
    for want in [
        "00:00:00:00:00:01",
        "00:00:00:00:00:02",
        "00:00:00:00:00:03",
    ] {
        assert!(macs.contains(&want), "{want} in {macs:?}");
    }
    let eth0 = ifs.iter().find(|i| i["name"] == "eth0").unwrap();
    assert_eq!(
        (eth0["sriov_max_vf"].as_i64(), eth0["tags"].clone()),
        (Some(8), json!(["sriov"]))
    );
    assert_eq!(
        (
            eth0["interface_speed"].as_i64(),
            eth0["link_speed"].as_i64(),
            eth0["link_connected"].as_bool()
        ),
        (Some(1000), Some(1000), Some(true))
    );
    let eth1 = ifs.iter().find(|i| i["name"] == "eth1").unwrap();
    assert_eq!(
        (
            eth1["link_speed"].as_i64(),
            eth1["link_connected"].as_bool()
        ),
        (Some(0), Some(false))
    );
    assert_eq!(
        m["boot_interface"]["mac_address"], "00:00:00:00:00:02",
        "from BOOTIF"
    );
    assert_eq!(m["commissioning_status_name"], "Passed");
    assert_eq!(
        m["testing_status_name"], "Passed",
        "a skipped test counts as passed"
    );
    assert_eq!(m["storage_test_status_name"], "Passed");
    assert!(!m["tag_names"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "virtual"));

    // Results through the API, with outputs.
    let sets = admin
        .get(&format!(
            "/MAAS/api/2.0/nodes/{sid}/results/?include_output=true"
        ))
        .await
        .ok()
        .json();
    let comm = results_of(&sets, "commissioning");
    let uc = comm.iter().find(|r| r["name"] == "user-check").unwrap();
    assert_eq!(uc["status_name"], "Passed");
    assert_eq!(uc["exit_status"], 0);
    let stdout = base64::engine::general_purpose::STANDARD
        .decode(uc["stdout"].as_str().unwrap())
        .unwrap();
    assert_eq!(stdout, b"checked\n");
    let t = results_of(&sets, "testing");
    assert_eq!(t[0]["status_name"], "Skipped");
    let dl = admin
        .get(&format!("/MAAS/api/2.0/nodes/{sid}/results/current-commissioning/?op=download&output=stdout&filters=user-check"))
        .await
        .ok();
    assert_eq!(dl.body, "checked\n");
    admin
        .get(&format!("/MAAS/api/2.0/nodes/{sid}/results/?type=bogus"))
        .await
        .expect(400);
    admin
        .get(&format!(
            "/MAAS/api/2.0/nodes/{sid}/results/current-nothing/"
        ))
        .await
        .expect(404);

    // Recommissioning keeps the block devices' identities (matched by serial).
    let sda_id = sda["id"].clone();
    admin
        .op(&sid, "commission", &[("testing_scripts", "none")])
        .await
        .ok();
    let mc = admin.with_token(&admin.token(&sid).await);
    let idx = index(&mc).await;
    assert!(
        idx["testing_scripts"].as_array().unwrap().is_empty(),
        "testing_scripts=none"
    );
    let id = entry(&idx, "commissioning_scripts", "50-maas-01-commissioning")["script_result_id"]
        .as_i64()
        .unwrap();
    run_script(
        &mc,
        id,
        "50-maas-01-commissioning",
        0,
        &resources_doc(
            "SAMPLE_LXD_RESOURCES.json",
            Some("SAMPLE_LXD_NETWORKS.json"),
        ),
        None,
    )
    .await;
    signal(&mc, "OK").await;
    let m = admin.machine(&sid).await;
    let evs = admin.events(&sid).await;
    assert_eq!(m["status_name"], "Ready");
    let sda2 = m["physicalblockdevice_set"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "sda")
        .unwrap_or_else(|| {
            panic!(
                "no sda after recommissioning: {:#} {:#?}",
                m["physicalblockdevice_set"], evs
            )
        });
    assert_eq!(sda2["id"], sda_id);

    // Allocation by storage and interface constraints on what commissioning found.
    let e = admin
        .post(
            "/MAAS/api/2.0/machines/?op=allocate",
            &[("storage", "root:7000")],
        )
        .await
        .expect(409);
    assert!(e.body.contains("storage=root:7000"), "{}", e.body);
    admin
        .post(
            "/MAAS/api/2.0/machines/?op=allocate",
            &[("storage", "root:1(ssd")],
        )
        .await
        .expect(400);
    admin
        .post(
            "/MAAS/api/2.0/machines/?op=allocate",
            &[("interfaces", "a:colour=red")],
        )
        .await
        .expect(400);
    let sdb_id = m["physicalblockdevice_set"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "sdb")
        .unwrap()["id"]
        .clone();
    let eth0_id = m["interface_set"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "eth0")
        .unwrap()["id"]
        .clone();
    let a = admin
        .post(
            "/MAAS/api/2.0/machines/?op=allocate",
            &[
                ("storage", "root:500(ssd),data:5000(rotary)"),
                ("interfaces", "fast:tag=sriov"),
                ("dry_run", "true"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(a["system_id"], sid.as_str());
    assert_eq!(
        a["constraints_by_type"]["storage"]["root"],
        json!([sda_id]),
        "{:#}",
        a["constraints_by_type"]
    );
    assert_eq!(a["constraints_by_type"]["storage"]["data"], json!([sdb_id]));
    assert_eq!(
        a["constraints_by_type"]["interfaces"]["fast"],
        json!([eth0_id])
    );
}

#[tokio::test]
async fn failures_timeouts_abort_and_overrides() {
    let s = Server::start(&["--reap-interval", "1"]).await;
    let admin = s.client();
    upload(&admin, USER_TEST).await;
    upload(&admin, "#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: fails\n# script_type: commissioning\n# --- End MAAS 1.0 script metadata ---\necho broken >&2; exit 3\n").await;
    upload(&admin, "#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: slow\n# script_type: commissioning\n# timeout: 1\n# --- End MAAS 1.0 script metadata ---\nsleep 600\n").await;

    // A failing commissioning script: FAILED_COMMISSIONING with its output readable.
    let sid = admin
        .create("f1", &mac(11), &[("commissioning_scripts", "fails")])
        .await["system_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mc = admin.with_token(&admin.token(&sid).await);
    let idx = index(&mc).await;
    let names: Vec<&str> = idx["commissioning_scripts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(
        names.contains(&"fails") && !names.contains(&"slow"),
        "only the selected user script: {names:?}"
    );
    // The runner runs every script even after one failed (as MAAS's does).
    for e in idx["commissioning_scripts"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        let id = e["script_result_id"].as_i64().unwrap();
        let exit = if name == "fails" { 3 } else { 0 };
        run_script(&mc, id, name, exit, b"", None).await;
    }
    signal(&mc, "OK").await;
    let m = admin.machine(&sid).await;
    assert_eq!(m["status_name"], "Failed commissioning", "{m:#}");
    assert_eq!(m["commissioning_status_name"], "Failed");
    let sets = admin
        .get(&format!("/MAAS/api/2.0/nodes/{sid}/results/"))
        .await
        .ok()
        .json();
    let f = results_of(&sets, "commissioning")
        .iter()
        .find(|r| r["name"] == "fails")
        .unwrap()
        .clone();
    assert_eq!(
        (f["status_name"].as_str(), f["exit_status"].as_i64()),
        (Some("Failed"), Some(3))
    );

    // Timeout: the reaper times the script out and fails the machine, naming it.
    let sid2 = admin
        .create(
            "t1",
            &mac(12),
            &[
                ("commissioning_scripts", "slow"),
                ("testing_scripts", "none"),
            ],
        )
        .await["system_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mc2 = admin.with_token(&admin.token(&sid2).await);
    let idx = index(&mc2).await;
    let slow = entry(&idx, "commissioning_scripts", "slow")["script_result_id"]
        .as_i64()
        .unwrap();
    mc2.post_multipart(
        &format!("{META}?op=signal"),
        &[
            ("status", b"WORKING"),
            ("script_result_id", slow.to_string().as_bytes()),
        ],
    )
    .await
    .ok();
    let m = admin
        .wait_machine(&sid2, "timed out", |m| {
            m["status_name"] == "Failed commissioning"
        })
        .await;
    let why = m["error_description"].as_str().unwrap();
    assert!(why.contains("'slow'") && why.contains("timed out"), "{why}");
    let sets = admin
        .get(&format!("/MAAS/api/2.0/nodes/{sid2}/results/"))
        .await
        .ok()
        .json();
    let rs = results_of(&sets, "commissioning");
    assert_eq!(
        rs.iter().find(|r| r["name"] == "slow").unwrap()["status_name"],
        "Timed out"
    );
    assert!(
        rs.iter()
            .filter(|r| r["name"] != "slow")
            .all(|r| r["status_name"] == "Aborted"),
        "{rs:#?}"
    );

    // Abort during commissioning: pending results ABORTED.
    let sid3 = admin.create("a1", &mac(13), &[]).await["system_id"]
        .as_str()
        .unwrap()
        .to_string();
    admin.op(&sid3, "abort", &[]).await.ok();
    let sets = admin
        .get(&format!("/MAAS/api/2.0/nodes/{sid3}/results/"))
        .await
        .ok()
        .json();
    assert!(results_of(&sets, "commissioning")
        .iter()
        .all(|r| r["status_name"] == "Aborted"));

    // A failing test: FAILED_TESTING, then override_failed_testing → READY.
    let sid4 = admin.ready_machine("t4", &mac(14), &[]).await;
    admin
        .op(&sid4, "test", &[("testing_scripts", "user-test")])
        .await
        .ok();
    let mc4 = admin.with_token(&admin.token(&sid4).await);
    let idx = index(&mc4).await;
    let names: Vec<&str> = idx["testing_scripts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, vec!["user-test"]);
    let id = idx["testing_scripts"][0]["script_result_id"]
        .as_i64()
        .unwrap();
    run_script(&mc4, id, "user-test", 1, b"disk bad\n", None).await;
    signal(&mc4, "OK").await;
    let m = admin.machine(&sid4).await;
    assert_eq!(m["status_name"], "Failed testing");
    assert_eq!(m["storage_test_status_name"], "Failed");
    admin.op(&sid4, "override_failed_testing", &[]).await.ok();
    assert_eq!(admin.machine(&sid4).await["status_name"], "Ready");
    // Unknown selections are refused before anything changes.
    let r = admin
        .op(&sid4, "test", &[("testing_scripts", "no-such-test")])
        .await
        .expect(400);
    assert!(r.body.contains("no-such-test"), "{}", r.body);
    assert_eq!(admin.machine(&sid4).await["status_name"], "Ready");
}

#[tokio::test]
async fn bad_inventory_fails_its_script_and_keeps_the_rest() {
    let s = Server::start(&[]).await;
    let admin = s.client();
    let sid = admin
        .create("b1", &mac(21), &[("testing_scripts", "none")])
        .await["system_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mc = admin.with_token(&admin.token(&sid).await);
    let idx = index(&mc).await;
    let id_of = |n: &str| {
        entry(&idx, "commissioning_scripts", n)["script_result_id"]
            .as_i64()
            .unwrap()
    };
    run_script(
        &mc,
        id_of("maas-support-info"),
        "maas-support-info",
        0,
        b"kernel 6.1\n",
        None,
    )
    .await;
    // Truncated JSON, then a wrong type: each fails the inventory script with the reason.
    let good = resources_doc("SAMPLE_LXD_RESOURCES.json", None);
    run_script(
        &mc,
        id_of("50-maas-01-commissioning"),
        "50-maas-01-commissioning",
        0,
        &good[..good.len() / 2],
        None,
    )
    .await;
    let evs = admin.events(&sid).await;
    assert!(
        evs.iter().any(|e| e["description"]
            .as_str()
            .unwrap_or("")
            .contains("failed during post-processing")),
        "{evs:#?}"
    );
    let sets = admin
        .get(&format!("/MAAS/api/2.0/nodes/{sid}/results/"))
        .await
        .ok()
        .json();
    let rs = results_of(&sets, "commissioning");
    assert_eq!(
        rs.iter()
            .find(|r| r["name"] == "50-maas-01-commissioning")
            .unwrap()["status_name"],
        "Failed"
    );
    assert_eq!(
        rs.iter()
            .find(|r| r["name"] == "maas-support-info")
            .unwrap()["status_name"],
        "Passed",
        "other results kept"
    );
    assert_eq!(
        admin.machine(&sid).await["cpu_count"],
        0,
        "nothing derived from a broken document"
    );
    // A finished result cannot be overwritten by a second report.
    let again = mc
        .post_files(
            &format!("{META}?op=signal"),
            &[
                ("status", b"WORKING"),
                (
                    "script_result_id",
                    id_of("maas-support-info").to_string().as_bytes(),
                ),
                ("exit_status", b"0"),
                ("maas-support-info.out", b"x"),
            ],
        )
        .await;
    assert_eq!(again.status.as_u16(), 409, "{}", again.body);
    // Another machine's result id is refused.
    let other = admin.create("b2", &mac(22), &[]).await["system_id"]
        .as_str()
        .unwrap()
        .to_string();
    let oc = admin.with_token(&admin.token(&other).await);
    let r = oc
        .post_multipart(
            &format!("{META}?op=signal"),
            &[
                ("status", b"WORKING"),
                (
                    "script_result_id",
                    id_of("maas-support-info").to_string().as_bytes(),
                ),
            ],
        )
        .await
        .expect(400);
    assert!(r.body.contains("script_result_id"), "{}", r.body);
    mc.post_multipart(
        &format!("{META}?op=signal"),
        &[("status", b"WORKING"), ("script_result_id", b"abc")],
    )
    .await
    .expect(400);
    signal(&mc, "OK").await;
    assert_eq!(
        admin.machine(&sid).await["status_name"],
        "Failed commissioning"
    );
    // A 1 GiB upload (curl, as a client would send a file): 413 with the reason, answered
    // before the body is sent (Expect: 100-continue), and nothing stored.
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.out");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let out = std::process::Command::new("curl")
        .args(["-s", "-m", "60", "-w", "\n%{http_code}", "-H"])
        .arg(format!("Authorization: {}", mc.auth_header().unwrap()))
        .args(["-F", "status=WORKING", "-F"])
        .arg(format!("huge.out=@{}", huge.display()))
        .arg(mc.url(&format!("{META}?op=signal")))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.trim_end().ends_with("413"), "{text}");
    assert!(text.contains("larger than"), "{text}");
    let sets = admin
        .get(&format!("/MAAS/api/2.0/nodes/{sid}/results/"))
        .await
        .ok()
        .json();
    assert!(!results_of(&sets, "commissioning")
        .iter()
        .any(|r| r["name"] == "huge"));
}

/// A client that reports by script name (no `script_result_id`), as older MAAS runners do:
/// the inventory hook runs all the same (a Raspberry Pi capture without NUMA information).
#[tokio::test]
async fn inventory_reported_by_name_is_derived_too() {
    let s = Server::start(&[]).await;
    let admin = s.client();
    let sid = admin
        .create("pi1", &mac(31), &[("testing_scripts", "none")])
        .await["system_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mc = admin.with_token(&admin.token(&sid).await);
    let doc = resources_doc("SAMPLE_LXD_RESOURCES_NO_NUMA.json", None);
    mc.post_files(
        &format!("{META}?op=signal"),
        &[
            ("status", b"WORKING"),
            ("name", b"50-maas-01-commissioning"),
            ("exit_status", b"0"),
            ("50-maas-01-commissioning.out", &doc),
        ],
    )
    .await
    .ok();
    let m = admin.machine(&sid).await;
    // EXPECTED.md, SAMPLE_LXD_RESOURCES_NO_NUMA.json.
    assert_eq!(m["cpu_count"], 4, "{m:#}");
    assert_eq!(m["cpu_speed"], 1500);
    assert_eq!(m["memory"], 3791);
    let numa = m["numanode_set"].as_array().unwrap();
    assert_eq!(numa.len(), 1);
    assert_eq!(numa[0]["memory"], 3791);
    let macs: Vec<&str> = m["interface_set"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["mac_address"].as_str())
        .collect();
    assert!(macs.contains(&"dc:a6:32:52:b2:6c"), "{macs:?}");
}

/// Allocation by the network and by devices (spec §2.3): `subnets` / `not_subnets` with every
/// specifier form, `fabrics` / `fabric_classes`, interface keys on links, and `devices` against
/// the PCI devices commissioning found; `dry_run` changes nothing; bad specifiers are 400s.
#[tokio::test]
async fn allocate_by_subnets_fabrics_and_devices() {
    let s = Server::start(&[]).await;
    let admin = s.client();
    let fab = admin
        .post(
            "/MAAS/api/2.0/fabrics/",
            &[("name", "storage-fab"), ("class_type", "10G")],
        )
        .await
        .ok()
        .json();
    let fab_vlan = fab["vlans"][0]["id"].to_string();
    admin
        .post("/MAAS/api/2.0/subnets/", &[("cidr", "10.91.0.0/24")])
        .await
        .ok();
    admin
        .post(
            "/MAAS/api/2.0/subnets/",
            &[
                ("cidr", "10.92.0.0/24"),
                ("vlan", &fab_vlan),
                ("name", "storage-net"),
            ],
        )
        .await
        .ok();

    // Machine A: commissioned with a real inventory plus a GPU on its PCI bus.
    let a = admin
        .create("gpu-node", &mac(91), &[("testing_scripts", "none")])
        .await["system_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mc = admin.with_token(&admin.token(&a).await);
    let mut doc: Value =
        serde_json::from_slice(&resources_doc("SAMPLE_LXD_RESOURCES.json", None)).unwrap();
    doc["resources"]["pci"] = json!({"total": 1, "devices": [{
        "driver": "nvidia", "driver_version": "535", "numa_node": 0, "pci_address": "0000:3b:00.0",
        "vendor": "NVIDIA Corporation", "vendor_id": "10de", "product": "TU104GL [Tesla T4]",
        "product_id": "1eb8", "iommu_group": 40, "vpd": {}}]});
    let doc = serde_json::to_vec(&doc).unwrap();
    for e in index(&mc).await["commissioning_scripts"]
        .as_array()
        .unwrap()
    {
        let name = e["name"].as_str().unwrap();
        let out = if name == "50-maas-01-commissioning" {
            doc.clone()
        } else {
            b"ok\n".to_vec()
        };
        run_script(
            &mc,
            e["script_result_id"].as_i64().unwrap(),
            name,
            0,
            &out,
            None,
        )
        .await;
    }
    signal(&mc, "OK").await;
    assert_eq!(admin.machine(&a).await["status_name"], "Ready");
    // Machine B: no inventory.
    let b = admin.ready_machine("plain-node", &mac(92), &[]).await;
    let link = |sid: String, subnet: &'static str| {
        let admin = admin.clone();
        async move {
            let m = admin.machine(&sid).await;
            let iid = m["boot_interface"]["id"].as_i64().unwrap();
            admin
                .post(
                    &format!("/MAAS/api/2.0/nodes/{sid}/interfaces/{iid}/?op=link_subnet"),
                    &[("mode", "DHCP"), ("subnet", subnet)],
                )
                .await
                .ok();
        }
    };
    link(a.clone(), "10.91.0.0/24").await;
    link(b.clone(), "10.92.0.0/24").await;

    let pick = |params: Vec<(&'static str, &'static str)>| {
        let admin = admin.clone();
        async move {
            let mut p = params.clone();
            p.push(("dry_run", "true"));
            let r = admin.post("/MAAS/api/2.0/machines/?op=allocate", &p).await;
            if r.status.is_success() {
                Some(r.json()["hostname"].as_str().unwrap().to_string())
            } else {
                assert_eq!(r.status.as_u16(), 409, "{params:?}: {}", r.body);
                None
            }
        }
    };
    let want = |h: &str| Some(h.to_string());
    assert_eq!(
        pick(vec![("devices", "vendor_id=10de,product_id=1eb8")]).await,
        want("gpu-node")
    );
    assert_eq!(
        pick(vec![("devices", "commissioning_driver=nvidia")]).await,
        want("gpu-node")
    );
    assert_eq!(pick(vec![("devices", "vendor_id=dead")]).await, None);
    assert_eq!(
        pick(vec![("subnets", "10.92.0.0/24")]).await,
        want("plain-node")
    );
    assert_eq!(
        pick(vec![("subnets", "name:storage-net")]).await,
        want("plain-node")
    );
    assert_eq!(
        pick(vec![("subnets", "ip:10.91.0.77")]).await,
        want("gpu-node")
    );
    assert_eq!(
        pick(vec![("not_subnets", "10.91.0.0/24"), ("cpu_count", "0")]).await,
        want("plain-node")
    );
    assert_eq!(
        pick(vec![("fabrics", "storage-fab")]).await,
        want("plain-node")
    );
    assert_eq!(
        pick(vec![("not_fabrics", "storage-fab")]).await,
        want("gpu-node")
    );
    assert_eq!(
        pick(vec![("fabric_classes", "10G")]).await,
        want("plain-node")
    );
    assert_eq!(pick(vec![("fabrics", "nowhere")]).await, None);
    assert_eq!(
        pick(vec![
            ("subnets", "10.91.0.0/24"),
            ("subnets", "10.92.0.0/24")
        ])
        .await,
        None,
        "all subnets on one machine"
    );
    // The no-match message names the constraint.
    let r = admin
        .post(
            "/MAAS/api/2.0/machines/?op=allocate",
            &[("fabrics", "nowhere")],
        )
        .await
        .expect(409);
    assert!(r.body.contains("fabrics=nowhere"), "{}", r.body);
    // Bad specifiers and filters: 400 naming the field.
    for (k, v) in [
        ("subnets", "space:dmz"),
        ("not_subnets", "banana"),
        ("devices", "colour=red"),
        ("interfaces", "a:space=dmz"),
    ] {
        let r = admin
            .post("/MAAS/api/2.0/machines/?op=allocate", &[(k, v)])
            .await
            .expect(400);
        assert!(r.json()[k].is_array(), "{k}={v}: {}", r.body);
    }
    // dry_run allocated nothing.
    for sid in [&a, &b] {
        assert_eq!(admin.machine(sid).await["status_name"], "Ready");
    }
    // For real, by interface label: constraints_by_type names the interface.
    let r = admin
        .post(
            "/MAAS/api/2.0/machines/?op=allocate",
            &[("interfaces", "fast:fabric_class=10G,mode=dhcp")],
        )
        .await
        .ok()
        .json();
    assert_eq!(r["hostname"], "plain-node");
    let bid = admin.machine(&b).await["boot_interface"]["id"].clone();
    assert_eq!(
        r["constraints_by_type"]["interfaces"]["fast"][0], bid,
        "{r:#}"
    );
    assert_eq!(admin.machine(&b).await["status_name"], "Allocated");
}
