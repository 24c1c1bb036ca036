//! Out-of-band hardware inventory: `POST machines/{id}/?op=read_bmc_inventory` reads a deployed
//! machine's hardware from its Redfish BMC — a real sushy-emulator (fake driver, with a Storage
//! resource of two drives configured) started through `$INGOT_SHARED_DIR/peers/
//! redfish-emulator.sh` — and the machine then shows it as if commissioned; releasing it goes to
//! READY. Expected values are read from the emulator's own JSON in the test.
//!
//! Needs sushy-tools (`INGOT_SUSHY_VENV`, `INGOT_SHARED_DIR`); skips without it outside CI.

mod common;
#[path = "../../power/tests/support/sushy.rs"]
mod sushy;

use common::*;
use serde_json::Value;
use std::time::{Duration, Instant};
use sushy::Emulator;

const SYS1: &str = "/redfish/v1/Systems/00000000-0000-0000-0000-000000000001";

/// The first system's storage as a second BMC view: one NVMe drive only.
const NVME_ONLY: &str = r#"
SUSHY_EMULATOR_STORAGE = {
    '00000000-0000-0000-0000-000000000001': [
        {'Id': '1', 'Name': 'NVMe', 'StorageControllers': [{'MemberId': '0', 'Name': 'NVMe', 'SpeedGbps': 32}],
         'Drives': ['NVME0']},
    ]
}
SUSHY_EMULATOR_DRIVES = {
    ('00000000-0000-0000-0000-000000000001', '1'): [
        {'Id': 'NVME0', 'Name': 'NVMe drive', 'CapacityBytes': 500107862016, 'Protocol': 'NVMe'},
    ]
}
"#;

/// Every member of a collection the emulator serves (empty when it serves none).
async fn members(emu: &Emulator, path: &str) -> Vec<Value> {
    let Some(col) = emu.try_get(path).await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for m in col["Members"].as_array().cloned().unwrap_or_default() {
        out.push(emu.get(m["@odata.id"].as_str().unwrap()).await);
    }
    out
}

async fn deployed_redfish_machine(
    c: &Client,
    emu: &Emulator,
    hostname: &str,
    macs: &str,
) -> String {
    let m = c
        .post(
            "/MAAS/api/2.0/machines/",
            &[
                ("hostname", hostname),
                ("mac_addresses", macs),
                ("architecture", "amd64/generic"),
                ("deployed", "true"),
                ("power_type", "redfish"),
                ("power_parameters_power_address", &emu.base),
                ("power_parameters_power_user", sushy::USER),
                ("power_parameters_power_pass", sushy::PASS),
                ("power_parameters_node_id", SYS1),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(m["status_name"], "Deployed", "{m}");
    m["system_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn bmc_inventory_of_a_deployed_machine() {
    let Some(mut emu) = Emulator::start_with(Some(sushy::STORAGE_CONFIG)).await else {
        return;
    };
    let s = Server::start(&[]).await;
    let c = s.client();
    // The machine already has one NIC the BMC does not know about (an add-in card, say).
    let extra_mac = mac(0x0a00_0001);
    let sid = deployed_redfish_machine(&c, &emu, "oob1", &extra_mac).await;
    let before = c.machine(&sid).await;
    assert_eq!(before["cpu_count"], 0);
    assert_eq!(
        before["physicalblockdevice_set"].as_array().map(Vec::len),
        Some(0)
    );

    let m = c.op(&sid, "read_bmc_inventory", &[]).await.ok().json();

    // What the emulator serves.
    let system = emu.get(SYS1).await;
    let cpus: Vec<Value> = members(&emu, &format!("{SYS1}/Processors")).await;
    let dimms: Vec<Value> = members(&emu, &format!("{SYS1}/Memory")).await;
    let nics = members(&emu, &format!("{SYS1}/EthernetInterfaces")).await;
    let mut drives = Vec::new();
    for st in members(&emu, &format!("{SYS1}/Storage")).await {
        for d in st["Drives"].as_array().cloned().unwrap_or_default() {
            drives.push(emu.get(d["@odata.id"].as_str().unwrap()).await);
        }
    }
    assert!(
        drives.len() >= 2 && !nics.is_empty(),
        "the emulator serves drives and NICs"
    );

    // CPU threads and memory: what the BMC reports (the fake driver reports neither: 0).
    let threads: u64 = system["ProcessorSummary"]["LogicalProcessorCount"]
        .as_u64()
        .unwrap_or_else(|| cpus.iter().filter_map(|p| p["TotalThreads"].as_u64()).sum());
    assert_eq!(m["cpu_count"].as_u64(), Some(threads), "{m}");
    let mib: u64 = dimms.iter().filter_map(|d| d["CapacityMiB"].as_u64()).sum();
    let mib = if mib > 0 {
        mib
    } else {
        system["MemorySummary"]["TotalSystemMemoryGiB"]
            .as_f64()
            .map(|g| (g * 1024.0) as u64)
            .unwrap_or(0)
    };
    assert_eq!(m["memory"].as_u64(), Some(mib), "{m}");
    assert_eq!(m["hardware_uuid"].as_str(), system["UUID"].as_str());

    // Block devices: one per drive, with its size, model and serial.
    let bds = m["physicalblockdevice_set"].as_array().unwrap();
    assert_eq!(bds.len(), drives.len(), "{bds:?}");
    let mut want: Vec<(u64, String, String)> = drives
        .iter()
        .map(|d| {
            (
                d["CapacityBytes"].as_u64().unwrap(),
                d["Model"].as_str().unwrap_or("").to_string(),
                d["SerialNumber"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let mut got: Vec<(u64, String, String)> = bds
        .iter()
        .map(|b| {
            (
                b["size"].as_u64().unwrap(),
                b["model"].as_str().unwrap_or("").to_string(),
                b["serial"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    let total: u64 = drives
        .iter()
        .map(|d| d["CapacityBytes"].as_u64().unwrap())
        .sum();
    assert_eq!(
        m["storage"].as_f64(),
        Some(total as f64 / 1e6),
        "{}",
        m["storage"]
    );

    // Physical interfaces: the NICs' MACs, and the one the machine had (a BMC's view can be
    // partial: reading from it never removes), which keeps its name.
    let mut want_macs: Vec<String> = nics
        .iter()
        .map(|n| n["MACAddress"].as_str().unwrap().to_ascii_lowercase())
        .collect();
    want_macs.push(extra_mac.clone());
    let ifaces: Vec<(String, String)> = m["interface_set"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "physical")
        .map(|i| {
            (
                i["mac_address"].as_str().unwrap().to_string(),
                i["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut macs: Vec<String> = ifaces.iter().map(|(m, _)| m.clone()).collect();
    want_macs.sort();
    macs.sort();
    assert_eq!(macs, want_macs);
    let mut names: Vec<&str> = ifaces.iter().map(|(_, n)| n.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(
        names.len(),
        ifaces.len(),
        "interface names are unique: {ifaces:?}"
    );
    assert!(
        ifaces.contains(&(extra_mac.clone(), "eth0".to_string())),
        "{ifaces:?}"
    );
    assert_eq!(m["status_name"], "Deployed", "status untouched");

    // Where the data came from: the event and the commissioning result.
    let evs = c.events(&sid).await;
    assert!(
        evs.iter()
            .any(|e| e["type"] == "Hardware information read from the BMC"
                || e["description"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("Hardware information read from the BMC"))),
        "{evs:?}"
    );
    let rs = c
        .get(&format!(
            "/MAAS/api/2.0/nodes/{sid}/results/?include_output=true"
        ))
        .await
        .ok()
        .json();
    let result = rs
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|set| set["results"].as_array().cloned().unwrap_or_default())
        .find(|r| r["name"] == "redfish-inventory")
        .unwrap_or_else(|| panic!("no redfish-inventory result: {rs}"));
    assert_eq!(result["status_name"], "Passed");
    use base64::Engine;
    let out = base64::engine::general_purpose::STANDARD
        .decode(result["stdout"].as_str().unwrap())
        .unwrap();
    let capture: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(capture["system"]["UUID"], system["UUID"]);

    // Reading again changes nothing (same rows).
    let again = c.op(&sid, "read_bmc_inventory", &[]).await.ok().json();
    assert_eq!(
        again["physicalblockdevice_set"],
        m["physicalblockdevice_set"]
    );
    assert_eq!(again["interface_set"], m["interface_set"]);

    // The same system behind another BMC view that lists one new NVMe drive and not the old
    // ones: the new drive is added under a free name, the old ones are kept (never removed).
    let Some(emu2) = Emulator::start_with(Some(NVME_ONLY)).await else {
        panic!("the emulator started once already");
    };
    c.put(
        &format!("/MAAS/api/2.0/machines/{sid}/"),
        &[
            ("power_type", "redfish"),
            ("power_parameters_power_address", &emu2.base),
            ("power_parameters_power_user", sushy::USER),
            ("power_parameters_power_pass", sushy::PASS),
            ("power_parameters_node_id", SYS1),
        ],
    )
    .await
    .ok();
    let mut new_drives = Vec::new();
    for st in members(&emu2, &format!("{SYS1}/Storage")).await {
        for d in st["Drives"].as_array().cloned().unwrap_or_default() {
            new_drives.push(emu2.get(d["@odata.id"].as_str().unwrap()).await);
        }
    }
    assert_eq!(new_drives.len(), 1);
    let m3 = c.op(&sid, "read_bmc_inventory", &[]).await.ok().json();
    let bds3 = m3["physicalblockdevice_set"].as_array().unwrap();
    assert_eq!(bds3.len(), drives.len() + 1, "{bds3:?}");
    let mut names: Vec<&str> = bds3.iter().map(|b| b["name"].as_str().unwrap()).collect();
    for b in bds {
        assert!(
            bds3.iter()
                .any(|x| x["id"] == b["id"] && x["name"] == b["name"]),
            "kept: {b}"
        );
    }
    let added = bds3
        .iter()
        .find(|x| !bds.iter().any(|b| b["id"] == x["id"]))
        .unwrap();
    assert_eq!(
        added["size"].as_u64(),
        new_drives[0]["CapacityBytes"].as_u64()
    );
    assert_eq!(added["name"], "nvme0n1");
    names.sort();
    names.dedup();
    assert_eq!(names.len(), bds3.len(), "names are unique: {bds3:?}");

    // Released (through the second view, which is the BMC now): READY (hardware known), not NEW.
    c.op(&sid, "release", &[]).await.ok();
    let t = Instant::now();
    loop {
        let st = c.machine(&sid).await;
        if st["status_name"] == "Ready" {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "release did not reach Ready: {} {}",
            st["status_name"],
            st["error_description"]
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // A BMC that is down: 503 naming the error; the machine keeps what it had.
    let sid2 = deployed_redfish_machine(&c, &emu, "oob2", &mac(0x0a00_0002)).await;
    emu.stop().await;
    let r = c.op(&sid2, "read_bmc_inventory", &[]).await.expect(503);
    assert!(r.body.contains("cannot reach the BMC"), "{}", r.body);
    assert!(
        r.body.contains(&emu.base.replace("http://", "")) || r.body.contains("/redfish/v1"),
        "{}",
        r.body
    );
    let m2 = c.machine(&sid2).await;
    assert_eq!(
        m2["physicalblockdevice_set"].as_array().map(Vec::len),
        Some(0)
    );
}

#[tokio::test]
async fn bmc_inventory_refusals() {
    let s = Server::start(&[]).await;
    let c = s.client();
    // Not redfish: 400 naming the power type.
    let m = c.create("man1", &mac(201), &[]).await;
    let sid = m["system_id"].as_str().unwrap();
    let r = c.op(sid, "read_bmc_inventory", &[]).await.expect(400);
    assert!(r.body.contains("'manual'"), "{}", r.body);
    // Not an admin: 403.
    let bob = s.user("bob").await;
    bob.op(sid, "read_bmc_inventory", &[]).await.expect(403);
    // In a transient status: 409 (the BMC is never asked: nothing listens at this address).
    let port = sushy::free_port();
    let m = c
        .post(
            "/MAAS/api/2.0/machines/",
            &[
                ("hostname", "busy1"),
                ("architecture", "amd64/generic"),
                ("mac_addresses", &mac(202)),
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
    let sid = m["system_id"].as_str().unwrap();
    assert_eq!(c.status(sid).await, 1, "commissioning on creation");
    let r = c.op(sid, "read_bmc_inventory", &[]).await.expect(409);
    assert!(r.body.contains("Commissioning"), "{}", r.body);
}
