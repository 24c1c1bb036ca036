//! Inventory derivation never panics on hostile input, and a generated machine derives exactly
//! the values it was generated from.

use std::path::PathBuf;

use ingot_core::inventory::{derive, derive_value, parse_networks, InventoryError};
use proptest::prelude::*;
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let shared = std::env::var_os("INGOT_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let p = shared.join("fixtures/lxd").join(name);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); set INGOT_SHARED_DIR to the shared directory",
            p.display()
        )
    });
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A full machine-resources document from the richest fixtures (system, bonds, VLANs, IB).
fn full_fixture() -> Value {
    let mut resources = fixture("SAMPLE_LXD_RESOURCES_LP1906834.json");
    let net = fixture("SAMPLE_LXD_RESOURCES_NETWORK_LP1939456.json");
    if let (Some(r), Some(n)) = (resources.as_object_mut(), net.as_object()) {
        r.extend(n.clone());
    }
    json!({
        "api_version": "1.0",
        "api_extensions": ["resources", "resources_v2", "api_os", "resources_system",
                           "resources_usb_pci"],
        "environment": {"kernel_architecture": "aarch64", "os_name": "Ubuntu",
                        "os_version": "20.04", "server_name": "h"},
        "resources": resources,
        "networks": fixture("SAMPLE_LXD_NETWORK_LP1939456.json"),
        "machine-extra": {"platform": "generic"},
    })
}

/// JSON pointers of every node of `v`.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, c) in o {
                let k = k.replace('~', "~0").replace('/', "~1");
                pointers(c, format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                pointers(c, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e20f64..1e20).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        Just(json!("02:00:00:00:00:02")),
        Just(json!(
            "a0:00:02:20:fe:80:00:00:00:00:00:00:e4:1d:2d:03:00:4f:06:e1"
        )),
        Just(json!("ip-1.2.3.4:3260-iscsi-iqn.x-lun-1")),
        Just(json!("pci-0000:00:1f.2-sas-0x5000-lun-0")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn check(r: Result<impl Sized, InventoryError>) {
    if let Err(InventoryError::Invalid { path, message }) = r {
        assert!(!path.is_empty() && !message.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..600)) {
        check(derive(&data));
        check(parse_networks(&data));
    }

    #[test]
    fn mutated_fixture_bytes_never_panic(
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        truncate in any::<bool>(),
    ) {
        let mut bytes = serde_json::to_vec(&full_fixture()).unwrap_or_default();
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        check(derive(&bytes));
    }

    #[test]
    fn mutated_fixture_values_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any_json()), 1..6),
    ) {
        let mut doc = full_fixture();
        for (at, replacement) in edits {
            let mut ptrs = Vec::new();
            pointers(&doc, String::new(), &mut ptrs);
            let ptr = &ptrs[at.index(ptrs.len())];
            if let Some(slot) = doc.pointer_mut(ptr) {
                *slot = replacement;
            }
            check(derive_value(&doc));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Round trip: generated machine → document → derive → the same values.

#[derive(Debug, Clone)]
struct GenDisk {
    size: u64,
    serial: String,
    rpm: u64,
    removable: bool,
}

#[derive(Debug, Clone)]
struct GenMachine {
    threads: u64,
    sockets: u64,
    memory: u64,
    disks: Vec<GenDisk>,
    macs: Vec<[u8; 6]>,
    upper_macs: bool,
    smbios: Vec<(String, String)>,
    uuid: [u8; 16],
    uuid_dashes: bool,
}

fn smbios_string() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9 ._/-]{0,30}".prop_filter("placeholder", |s| {
        !s.eq_ignore_ascii_case("none") && s != "0123456789"
    })
}

fn machine() -> impl Strategy<Value = GenMachine> {
    let disk = (
        (4u64 * 1024 * 1024 + 1)..(1u64 << 46),
        "[A-Z0-9]{1,20}",
        prop_oneof![Just(0u64), Just(5400), Just(7200), Just(15000)],
        any::<bool>(),
    )
        .prop_map(|(size, serial, rpm, removable)| GenDisk {
            size,
            serial,
            rpm,
            removable,
        });
    let keys = [
        "system_vendor",
        "system_product",
        "system_family",
        "system_version",
        "system_sku",
        "system_serial",
        "mainboard_vendor",
        "mainboard_product",
        "mainboard_serial",
        "mainboard_version",
        "mainboard_firmware_vendor",
        "mainboard_firmware_date",
        "mainboard_firmware_version",
        "chassis_vendor",
        "chassis_type",
        "chassis_serial",
        "chassis_version",
    ];
    let smbios = prop::collection::vec(prop::option::of(smbios_string()), keys.len()).prop_map(
        move |vals| {
            keys.iter()
                .zip(vals)
                .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
                .collect::<Vec<_>>()
        },
    );
    (
        (1u64..=512, 1u64..=4),
        0u64..(1u64 << 50),
        prop::collection::vec(disk, 0..12),
        prop::collection::btree_set(any::<[u8; 6]>(), 0..10),
        any::<bool>(),
        smbios,
        (any::<[u8; 16]>(), any::<bool>()),
    )
        .prop_map(
            |((threads, sockets), memory, disks, macs, upper_macs, smbios, (uuid, dashes))| {
                GenMachine {
                    threads,
                    sockets,
                    memory,
                    disks,
                    macs: macs
                        .into_iter()
                        .filter(|m| *m != [2, 0, 0, 0, 0, 2])
                        .collect(),
                    upper_macs,
                    smbios,
                    uuid,
                    uuid_dashes: dashes,
                }
            },
        )
}

fn mac_string(m: &[u8; 6], upper: bool) -> String {
    let s = m
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    if upper {
        s.to_uppercase()
    } else {
        s
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn uuid_dashed(u: &[u8; 16]) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        hex(&u[..4]),
        hex(&u[4..6]),
        hex(&u[6..8]),
        hex(&u[8..10]),
        hex(&u[10..])
    )
}

fn document(m: &GenMachine) -> Value {
    let per_socket = m.threads.div_ceil(m.sockets);
    let sockets: Vec<Value> = (0..m.sockets)
        .map(|s| {
            let threads: Vec<Value> = (s * per_socket..((s + 1) * per_socket).min(m.threads))
                .map(|id| json!({"id": id, "thread": 0, "numa_node": s, "online": true}))
                .collect();
            json!({"socket": s, "name": "Gen CPU @ 2.10GHz", "cores": [{"core": 0, "threads": threads}]})
        })
        .collect();
    let disks: Vec<Value> = m
        .disks
        .iter()
        .enumerate()
        .map(|(i, d)| {
            json!({"id": format!("disk{i:03}"), "type": "scsi", "read_only": false,
                   "size": d.size, "removable": d.removable, "rpm": d.rpm, "block_size": 4096,
                   "serial": d.serial, "device_id": format!("wwn-{i}"), "numa_node": 0})
        })
        .collect();
    let ports: Vec<Value> = m
        .macs
        .iter()
        .enumerate()
        .map(|(i, mac)| {
            json!({"id": format!("eth{i}"), "address": mac_string(mac, m.upper_macs),
                   "link_detected": true, "supported_modes": ["1000baseT/Full"]})
        })
        .collect();
    let mut system = json!({"type": "physical", "motherboard": {}, "firmware": {}, "chassis": {}});
    for (k, v) in &m.smbios {
        let (obj, field) = if let Some(f) = k.strip_prefix("system_") {
            (None, f)
        } else if let Some(f) = k.strip_prefix("mainboard_firmware_") {
            (Some("firmware"), f)
        } else if let Some(f) = k.strip_prefix("mainboard_") {
            (Some("motherboard"), f)
        } else {
            (Some("chassis"), k.trim_start_matches("chassis_"))
        };
        let target = match obj {
            Some(o) => &mut system[o],
            None => &mut system,
        };
        target[field] = json!(v);
    }
    system["uuid"] = json!(if m.uuid_dashes {
        uuid_dashed(&m.uuid).to_uppercase()
    } else {
        hex(&m.uuid)
    });
    json!({
        "api_version": "1.0",
        "api_extensions": ["resources", "resources_v2", "api_os", "resources_system",
                           "resources_usb_pci", "resources_disk_id"],
        "environment": {"kernel_architecture": "x86_64"},
        "resources": {
            "cpu": {"architecture": "x86_64", "total": m.threads, "sockets": sockets},
            "memory": {"total": m.memory},
            "storage": {"disks": disks},
            "network": {"cards": [{"driver": "e1000e", "numa_node": 0, "ports": ports}]},
            "system": system,
        },
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn generated_machine_round_trips(m in machine()) {
        let bytes = serde_json::to_vec(&document(&m)).unwrap_or_default();
        let inv = match derive(&bytes) {
            Ok(i) => i,
            Err(e) => return Err(TestCaseError::fail(format!("derive failed: {e}"))),
        };
        prop_assert_eq!(inv.cpu_count, m.threads);
        prop_assert_eq!(inv.cpu_speed, 2100);
        prop_assert_eq!(inv.cpu_model.as_deref(), Some("Gen CPU"));
        prop_assert_eq!(inv.memory, m.memory / (1024 * 1024));
        prop_assert_eq!(
            inv.numa_nodes.iter().map(|n| n.cores.len() as u64).sum::<u64>(),
            m.threads
        );

        prop_assert_eq!(inv.block_devices.len(), m.disks.len());
        for (i, (got, want)) in inv.block_devices.iter().zip(&m.disks).enumerate() {
            prop_assert_eq!(&got.name, &format!("disk{i:03}"));
            prop_assert_eq!(got.size, want.size);
            prop_assert_eq!(&got.serial, &want.serial);
            prop_assert_eq!(&got.id_path, &format!("/dev/disk/by-id/wwn-{i}"));
            let mut tags: Vec<String> = if want.rpm > 0 {
                vec!["rotary".into(), format!("{}rpm", want.rpm)]
            } else {
                vec!["ssd".into()]
            };
            if want.removable {
                tags.push("removable".into());
            }
            prop_assert_eq!(&got.tags, &tags);
        }
        let total: u64 = m.disks.iter().map(|d| d.size).sum();
        prop_assert_eq!(inv.storage, total as f64 / 1e6);
        let boot = m
            .disks
            .iter()
            .position(|d| d.size >= 512 << 20)
            .map(|i| format!("disk{i:03}"));
        prop_assert_eq!(inv.boot_disk, boot);

        let macs: Vec<String> = inv.interfaces.iter().map(|i| i.mac.clone()).collect();
        let want_macs: Vec<String> = m.macs.iter().map(|mac| mac_string(mac, false)).collect();
        prop_assert_eq!(macs, want_macs);

        let want_meta: std::collections::BTreeMap<String, String> = m.smbios.iter().cloned().collect();
        prop_assert_eq!(&inv.metadata, &want_meta);
        prop_assert_eq!(inv.hardware_uuid, Some(uuid_dashed(&m.uuid)));
        prop_assert!(!inv.is_virtual);
    }
}
