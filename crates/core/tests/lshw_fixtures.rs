//! The lshw-shaped hardware details rendered from the real LXD resources captures in
//! `<shared>/fixtures/lxd/`, and MAAS-style tag definitions evaluated over them.
//!
//! `<shared>` is `$INGOT_SHARED_DIR`, or `<CARGO_MANIFEST_DIR>/../../../shared` when unset.

use std::path::PathBuf;

use ingot_core::inventory::derive_value;
use ingot_core::lshw::{render, render_bytes};
use ingot_core::tags::{Definition, Details};
use serde_json::{json, Value};

fn read_json(name: &str) -> Value {
    let shared = match std::env::var_os("INGOT_SHARED_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    let p = shared.join("fixtures").join("lxd").join(name);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A full machine-resources document around a bare resources object.
fn full(resources: Value, hostname: &str) -> Value {
    json!({
        "api_extensions": ["resources", "resources_v2", "api_os", "resources_system",
                           "resources_usb_pci"],
        "api_version": "1.0",
        "environment": {"kernel": "Linux", "kernel_architecture": "x86_64",
                        "kernel_version": "5.4.0-67-generic", "os_name": "Ubuntu",
                        "os_version": "20.04", "server": "maas-machine-resources",
                        "server_name": hostname, "server_version": "4.0.0"},
        "resources": resources,
    })
}

fn matches(xml: &str, definition: &str) -> bool {
    let details = Details::parse(xml, None).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    Definition::parse(definition)
        .unwrap_or_else(|e| panic!("{definition}: {e}"))
        .matches(&details)
        .unwrap_or_else(|e| panic!("{definition}: {e}"))
}

#[test]
fn fixtures_as_lshw_with_tag_definitions() {
    // (fixture, [(definition, whether the machine has the tag)])
    let table: &[(&str, &[(&str, bool)])] = &[
        (
            "SAMPLE_LXD_RESOURCES.json",
            &[
                (r#"//node[@id="memory"]/size > 8000000000"#, true),
                (r#"//node[@id="memory"]/size = 16691519488"#, true),
                (r#"//node[@id="memory"]/size > 32000000000"#, false),
                (r#"//node[@class="processor"]/vendor = "Intel Corp.""#, true),
                (
                    r#"//node[@class="processor"]/product[contains(., "i7-4700MQ")]"#,
                    true,
                ),
                (r#"//node[@class="processor"]/size = 3231000000"#, true),
                (
                    r#"//node[@class="processor"]/configuration/setting[@id="threads"]/@value = 8"#,
                    true,
                ),
                (r#"//capability[@id="vmx"]"#, false),
                (
                    r#"//node[@class="network"]/vendor[contains(., "Intel")]"#,
                    true,
                ),
                (
                    r#"//node[@class="network"][logicalname="eth0"]/size = 1000000000"#,
                    true,
                ),
                (
                    r#"//node[@class="network"]/serial = "00:00:00:00:00:02""#,
                    true,
                ),
                (r#"count(//node[@class="network"]) = 3"#, true),
                (
                    r#"//node[@class="disk"]/product = "Crucial_CT512M55""#,
                    true,
                ),
                (r#"//node[@class="disk"]/product = "QEMU HARDDISK""#, false),
                (
                    r#"//node[@class="disk"][logicalname="/dev/sda"]/size = 512110190592"#,
                    true,
                ),
                (r#"//node[@id="disk:0"] and //node[@id="disk:1"]"#, true),
                (
                    r#"//node[@class="display"]/vendor = "Intel Corporation""#,
                    true,
                ),
                (r#"/list/node[@class="system"]/node[@id="core"]"#, true),
                (r#"//node[@id="firmware"]"#, false),
            ],
        ),
        (
            "SAMPLE_LXD_RESOURCES_NO_NUMA.json",
            &[
                (r#"//node[@id="memory"]/size > 1000000000"#, true),
                (r#"//node[@class="processor"]"#, true),
            ],
        ),
        (
            "SAMPLE_LXD_RESOURCES_LP1906834.json",
            &[
                (r#"/list/node/vendor = "Lenovo""#, true),
                (r#"/list/node/serial = "J300LEW9""#, true),
                (r#"/list/node/description = "Rack Mount Chassis""#, true),
                (r#"//node[@id="core"]/product = "HR350A""#, true),
                (r#"//node[@id="firmware"]/version = "HVE104N-1.12""#, true),
                (r#"//node[@id="firmware"]/date = "11/29/2019""#, true),
                (
                    r#"//node[@class="network"]/vendor[contains(., "Mellanox")]"#,
                    true,
                ),
                (
                    r#"//node[@class="network"]/logicalname = "enP3p1s0d1""#,
                    true,
                ),
                (
                    r#"//node[@class="disk"]/logicalname = "/dev/nvme0n1""#,
                    true,
                ),
                (
                    r#"//node[@class="disk"]/product = "SAMSUNG MZ7LH960HAJR-00005""#,
                    true,
                ),
                (r#"//node[@class="disk"]/serial = "S45NNA0N209754""#, true),
                (
                    r#"//node[@class="network"]/vendor[contains(., "Intel")]"#,
                    false,
                ),
            ],
        ),
    ];
    for (fixture, definitions) in table {
        let doc = full(read_json(fixture), "fixture-host");
        let xml = render(&doc).unwrap_or_else(|e| panic!("{fixture}: {e}"));
        // The bare object renders the same hardware (no hostname: the system is "computer").
        let bare = render_bytes(&serde_json::to_vec(&read_json(fixture)).unwrap())
            .unwrap_or_else(|e| panic!("{fixture}: {e}"));
        assert!(xml.contains(r#"<node id="fixture-host" claimed="true" class="system">"#));
        assert!(bare.contains(r#"<node id="computer" claimed="true" class="system">"#));
        // As many disk and network nodes as the inventory has disks and (physical) ports.
        let inv = derive_value(&doc).unwrap();
        let count = |class: &str| {
            let n = inv_count(&xml, class);
            assert!(matches(
                &xml,
                &format!(r#"count(//node[@class="{class}"]) = {n}"#)
            ));
            n
        };
        assert_eq!(count("disk"), inv.block_devices.len(), "{fixture}");
        assert_eq!(
            count("network"),
            inv.interfaces.iter().filter(|i| !i.is_vf).count(),
            "{fixture}"
        );
        for (definition, want) in *definitions {
            assert_eq!(
                matches(&xml, definition),
                *want,
                "{fixture}: {definition}\n{xml}"
            );
        }
    }
}

fn inv_count(xml: &str, class: &str) -> usize {
    xml.matches(&format!(r#"class="{class}">"#)).count()
}

#[test]
fn cpu_flags_become_capabilities() {
    let mut res = read_json("SAMPLE_LXD_RESOURCES.json");
    res["cpu"]["sockets"][0]["flags"] = json!(["fpu", "vmx", "lm", "sse2"]);
    res["cpu"]["sockets"][0]["cores"][1]["flags"] = json!(["aes", "vmx"]);
    let xml = render(&res).unwrap();
    for (definition, want) in [
        (
            r#"//node[@class="processor"]/capabilities/capability[@id="vmx"]"#,
            true,
        ),
        (
            r#"//capability[@id="vmx"] = "CPU virtualization (Vanderpool)""#,
            true,
        ),
        (r#"//capability[@id="x86-64"]"#, true),
        (r#"//capability[@id="aes"]"#, true),
        (r#"count(//capability[@id="vmx"]) = 1"#, true),
        (r#"//capability[@id="svm"]"#, false),
    ] {
        assert_eq!(matches(&xml, definition), want, "{definition}\n{xml}");
    }
}

#[test]
fn text_is_escaped() {
    let mut res = read_json("SAMPLE_LXD_RESOURCES.json");
    res["storage"]["disks"][0]["model"] = json!("Disk <&> \"quoted\" 'it'\u{1}");
    res["cpu"]["sockets"][0]["name"] = json!("CPU & co </product>");
    let xml = render(&res).unwrap();
    assert!(matches(
        &xml,
        r#"//node[@class="disk"]/product = concat("Disk <&> ", '"quoted" ', "'it'")"#
    ));
    assert!(matches(
        &xml,
        r#"//node[@class="processor"]/product = "CPU & co </product>""#
    ));
}

#[test]
fn documents_that_are_not_resources_are_refused() {
    assert!(render_bytes(b"not json").is_err());
    assert!(render(&json!({"memory": {"total": 1}})).is_err());
}
