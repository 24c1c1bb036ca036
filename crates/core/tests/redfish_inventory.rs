//! The Redfish capture → machine-resources conversion, on a capture read from sushy-emulator by
//! `ingot_power`'s `Redfish::read_inventory` (`tests/redfish/sushy-fake.json`, written by the power
//! crate's `inventory_against_sushy` test) and on a hand-written capture in the shapes of DMTF's
//! mockups (`tests/redfish/dmtf-style.json`). Expected values are read from the fixtures.

use ingot_core::inventory::derive_value;
use ingot_core::redfish::{resources, RedfishError, Reported};
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/redfish")
        .join(name);
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn sushy_capture() {
    let cap = fixture("sushy-fake.json");
    let conv = resources(&cap).unwrap();
    // The fake driver serves no processors and no memory: not reported, zeros, not invented.
    assert_eq!(
        conv.reported,
        Reported {
            cpu: false,
            memory: false,
            storage: true,
            interfaces: true
        }
    );
    let inv = derive_value(&conv.resources).unwrap();
    assert_eq!(inv.cpu_count, 0);
    assert_eq!(inv.memory, 0);
    assert_eq!(inv.cpu_model, None);
    assert_eq!(inv.architecture, None);
    assert_eq!(inv.hardware_uuid.as_deref(), cap["system"]["UUID"].as_str());
    assert_eq!(
        inv.metadata.get("system_vendor").map(String::as_str),
        cap["system"]["Manufacturer"].as_str()
    );
    // Drives: in order, sizes, models, serials, firmware, rotation as served.
    let drives: Vec<&Value> = cap["storage"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["drives"].as_array().unwrap())
        .collect();
    assert_eq!(inv.block_devices.len(), drives.len());
    assert!(drives.len() >= 2);
    for (i, (b, d)) in inv.block_devices.iter().zip(&drives).enumerate() {
        assert_eq!(b.name, ["sda", "sdb", "sdc"][i]);
        assert_eq!(b.id_path, format!("/dev/{}", b.name));
        assert_eq!(Some(b.size), d["CapacityBytes"].as_u64());
        assert_eq!(Some(b.model.as_str()), d["Model"].as_str());
        assert_eq!(Some(b.serial.as_str()), d["SerialNumber"].as_str());
        assert_eq!(b.firmware_version.as_deref(), d["Revision"].as_str());
        assert_eq!(Some(b.block_size), d["BlockSizeBytes"].as_u64());
        let rpm = d["RotationSpeedRPM"].as_u64().unwrap();
        assert!(b.tags.contains(&format!("{rpm}rpm")), "{:?}", b.tags);
        assert_eq!(
            b.tags.contains(&"sata".to_string()),
            d["Protocol"] == "SATA"
        );
    }
    let total: u64 = drives
        .iter()
        .map(|d| d["CapacityBytes"].as_u64().unwrap())
        .sum();
    assert_eq!(inv.storage, total as f64 / 1e6);
    assert_eq!(inv.boot_disk.as_deref(), Some("sda"));
    // Interfaces: one per NIC, MAC as served.
    let nics = cap["ethernet_interfaces"].as_array().unwrap();
    assert_eq!(inv.interfaces.len(), nics.len());
    for (i, (iface, n)) in inv.interfaces.iter().zip(nics).enumerate() {
        assert_eq!(iface.name, format!("eth{i}"));
        assert_eq!(
            iface.mac,
            n["MACAddress"].as_str().unwrap().to_ascii_lowercase()
        );
        assert!(!iface.is_vf);
    }
}

#[test]
fn dmtf_style_capture() {
    let cap = fixture("dmtf-style.json");
    let conv = resources(&cap).unwrap();
    assert_eq!(
        conv.reported,
        Reported {
            cpu: true,
            memory: true,
            storage: true,
            interfaces: true
        }
    );
    let inv = derive_value(&conv.resources).unwrap();
    // Two present CPUs of 16 threads; the absent socket and the FPGA do not count.
    assert_eq!(inv.cpu_count, 32);
    assert_eq!(
        inv.cpu_model.as_deref(),
        Some("Multi-Core Intel(R) Xeon(R) processor 7xxx Series")
    );
    // No "@ x.yGHz" in the model: the fastest turbo frequency.
    assert_eq!(inv.cpu_speed, 3700);
    // The present DIMMs (64 GiB), not the summary.
    assert_eq!(inv.memory, (32768 + 16384 + 16384));
    // SimpleStorage: devices with a capacity, absent bays left out.
    let names: Vec<(&str, u64, &str)> = inv
        .block_devices
        .iter()
        .map(|b| (b.name.as_str(), b.size, b.model.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("sda", 8_000_000_000_000, "3000GT8"),
            ("sdb", 4_000_000_000_000, "3000GT7")
        ]
    );
    // NICs: the absent one and the one without a MAC are left out; dashed MACs normalised.
    let ifs: Vec<(&str, &str, bool, u64)> = inv
        .interfaces
        .iter()
        .map(|i| {
            (
                i.name.as_str(),
                i.mac.as_str(),
                i.link_connected,
                i.link_speed,
            )
        })
        .collect();
    assert_eq!(
        ifs,
        vec![
            ("eth0", "12:44:6a:3b:04:11", true, 1000),
            ("eth1", "12:44:6a:3b:04:12", false, 10000)
        ]
    );
    assert_eq!(
        inv.hardware_uuid.as_deref(),
        Some("38947555-7742-3448-3784-823347823834")
    );
    for (k, v) in [
        ("system_vendor", "Contoso"),
        ("system_product", "3500RX"),
        ("system_serial", "437XR1138R2"),
        ("system_sku", "8675309"),
        ("mainboard_firmware_version", "P79 v1.33 (02/28/2015)"),
    ] {
        assert_eq!(inv.metadata.get(k).map(String::as_str), Some(v), "{k}");
    }
}

#[test]
fn summaries_when_members_are_missing() {
    // Only the system resource: the summaries give threads, memory and the CPU model.
    let cap = json!({"system": {
        "ProcessorSummary": {"LogicalProcessorCount": 12, "Model": "AMD EPYC 7302P 16-Core Processor"},
        "MemorySummary": {"TotalSystemMemoryGiB": 15.5}
    }});
    let conv = resources(&cap).unwrap();
    assert!(conv.reported.cpu && conv.reported.memory);
    assert!(!conv.reported.storage && !conv.reported.interfaces);
    let inv = derive_value(&conv.resources).unwrap();
    assert_eq!(inv.cpu_count, 12);
    assert_eq!(inv.memory, 15 * 1024 + 512);
    assert_eq!(
        inv.cpu_model.as_deref(),
        Some("AMD EPYC 7302P 16-Core Processor")
    );
    // Processors without thread counts fall back to cores; one without either: unknown.
    let cap = json!({"system": {}, "processors": [{"TotalCores": 4}, {"TotalCores": 6}]});
    assert_eq!(
        derive_value(&resources(&cap).unwrap().resources)
            .unwrap()
            .cpu_count,
        10
    );
    let cap = json!({"system": {}, "processors": [{"TotalCores": 4}, {"Model": "x"}]});
    let conv = resources(&cap).unwrap();
    assert!(!conv.reported.cpu);
}

#[test]
fn tolerant_of_odd_values_and_strict_about_the_shape() {
    // Wrong types and junk are left out, not errors.
    let cap = json!({
        "system": {"UUID": 7, "Manufacturer": "", "MemorySummary": {"TotalSystemMemoryGiB": "lots"}},
        "processors": "nope",
        "memory": [{"CapacityMiB": -1}, 3],
        "storage": [{"storage": {}, "drives": [{"CapacityBytes": "1"}, {"CapacityBytes": 1.5e9}]}],
        "ethernet_interfaces": [{"MACAddress": "zz:zz"}, {"MACAddress": null}]
    });
    let conv = resources(&cap).unwrap();
    assert_eq!(
        conv.reported,
        Reported {
            cpu: false,
            memory: false,
            storage: true,
            interfaces: false
        }
    );
    let inv = derive_value(&conv.resources).unwrap();
    assert_eq!(inv.block_devices.len(), 1);
    assert_eq!(inv.block_devices[0].size, 1_500_000_000);
    assert_eq!(inv.hardware_uuid, None);
    assert!(inv.metadata.is_empty());
    assert_eq!(resources(&json!([])), Err(RedfishError::NotAnObject));
    assert_eq!(
        resources(&json!({"storage": []})),
        Err(RedfishError::NoSystem)
    );
}
