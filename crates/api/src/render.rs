//! JSON shapes of the MAAS API 2.0.

use ingot_store::{Event, Machine, Named, Tag, Token, User};
use serde_json::{json, Map, Value};

pub const API: &str = "/MAAS/api/2.0";

fn named(n_id: i64, name: &str, description: &str, uri: String) -> Value {
    json!({"id": n_id, "name": name, "description": description, "resource_uri": uri})
}

pub fn zone(z: &Named) -> Value {
    named(
        z.id,
        &z.name,
        &z.description,
        format!("{API}/zones/{}/", z.name),
    )
}

pub fn pool(p: &Named) -> Value {
    named(
        p.id,
        &p.name,
        &p.description,
        format!("{API}/resourcepool/{}/", p.id),
    )
}

pub fn tag(t: &Tag) -> Value {
    json!({"name": t.name, "comment": t.comment, "definition": t.definition, "kernel_opts": t.kernel_opts, "resource_uri": format!("{API}/tags/{}/", t.name)})
}

pub fn user(u: &User) -> Value {
    json!({"username": u.username, "email": u.email, "is_superuser": u.is_admin, "is_local": true, "resource_uri": format!("{API}/users/{}/", u.username)})
}

pub fn token(t: &Token) -> Value {
    json!({"name": t.name, "token": t.api_key()})
}

pub fn machine_credentials(t: &Token) -> Value {
    json!({"consumer_key": t.consumer_key, "token_key": t.token_key, "token_secret": t.token_secret})
}

/// MAAS's event time format, e.g. "Sat, 21 Nov. 2026 08:01:47".
pub fn event_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%a, %d %b. %Y %H:%M:%S").to_string())
        .unwrap_or_default()
}

pub fn event(e: &Event) -> Value {
    json!({
        "id": e.id, "node": e.system_id, "hostname": e.hostname, "username": e.username,
        "level": e.level, "created": event_time(e.created), "type": e.kind, "description": e.description,
    })
}

const HW_KEYS: &[&str] = &[
    "system_vendor",
    "system_product",
    "system_family",
    "system_version",
    "system_sku",
    "system_serial",
    "cpu_model",
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

fn status_pair(prefix: &str, v: &mut Map<String, Value>) {
    v.insert(prefix.to_string(), json!(-1));
    v.insert(format!("{prefix}_name"), json!("None"));
}

/// The full machine object (spec §2.8, the fields that exist so far).
pub fn machine(m: &Machine) -> Value {
    let sid = &m.system_id;
    let fqdn = format!("{}.{}", m.hostname, m.domain);
    let ifaces: Vec<Value> = m
        .interfaces
        .iter()
        .map(|i| {
            json!({
                "id": i.id, "name": i.name, "type": i.kind, "mac_address": i.mac_address,
                "enabled": i.enabled, "vlan": null, "links": [], "params": {}, "parents": [],
                "children": [], "tags": [], "vendor": null, "product": null,
                "firmware_version": null, "link_connected": true, "interface_speed": 0,
                "link_speed": 0, "effective_mtu": 1500, "discovered": null, "system_id": sid,
                "numa_node": 0, "sriov_max_vf": 0,
                "resource_uri": format!("{API}/nodes/{sid}/interfaces/{}/", i.id),
            })
        })
        .collect();
    let hw: Map<String, Value> = HW_KEYS
        .iter()
        .map(|k| (k.to_string(), json!("Unknown")))
        .collect();
    let status_message = if m.error_description.is_empty() {
        Value::Null
    } else {
        json!(m.error_description)
    };
    let mut v = json!({
        "system_id": sid,
        "hostname": m.hostname,
        "description": m.description,
        "hardware_uuid": m.hardware_uuid,
        "domain": {"id": m.domain_id, "name": m.domain, "authoritative": true, "ttl": null, "is_default": m.domain_id == 1, "resource_record_count": 0, "resource_uri": format!("{API}/domains/{}/", m.domain_id)},
        "fqdn": fqdn,
        "owner": m.owner,
        "owner_data": m.workload_annotations,
        "workload_annotations": m.workload_annotations,
        "locked": m.locked,
        "cache_sets": [], "bcaches": [], "raids": [], "volume_groups": [], "special_filesystems": [],
        "bios_boot_method": null,
        "boot_interface": ifaces.first().cloned().unwrap_or(Value::Null),
        "architecture": m.architecture,
        "min_hwe_kernel": m.min_hwe_kernel,
        "hwe_kernel": if m.hwe_kernel.is_empty() { Value::Null } else { json!(m.hwe_kernel) },
        "cpu_count": m.cpu_count,
        "cpu_speed": m.cpu_speed,
        "memory": m.memory,
        "swap_size": null,
        "storage": 0.0,
        "status": m.status as i64,
        "status_name": m.status.label(),
        "status_action": "",
        "status_message": status_message,
        "osystem": m.osystem,
        "distro_series": m.distro_series,
        "ephemeral_deploy": false,
        "error_description": m.error_description,
        "netboot": m.netboot,
        "power_type": m.power_type,
        "power_state": crate::power_state_of(m),
        "tag_names": m.tags,
        "address_ttl": null,
        "ip_addresses": [],
        "interface_set": ifaces,
        "zone": {"id": m.zone_id, "name": m.zone, "description": "", "resource_uri": format!("{API}/zones/{}/", m.zone)},
        "pool": {"id": m.pool_id, "name": m.pool, "description": "", "resource_uri": format!("{API}/resourcepool/{}/", m.pool_id)},
        "disable_ipv4": false,
        "boot_disk": null,
        "blockdevice_set": [], "physicalblockdevice_set": [], "virtualblockdevice_set": [],
        "node_type": m.node_type,
        "node_type_name": ingot_core::NodeType::from_i64(m.node_type).map(|t| t.label()).unwrap_or("Machine"),
        "parent": null,
        "default_gateways": {"ipv4": {"gateway_ip": null, "link_id": null}, "ipv6": {"gateway_ip": null, "link_id": null}},
        "current_commissioning_result_id": null,
        "current_testing_result_id": null,
        "current_installation_result_id": null,
        "hardware_info": hw,
        "numanode_set": [],
        "last_sync": null, "sync_interval": null, "next_sync": null,
        "enable_hw_sync": false,
        "enable_kernel_crash_dump": false,
        "is_dpu": false,
        "status_deadline": m.status_expires.map(|ms| ms / 1000),
        "resource_uri": format!("{API}/machines/{sid}/"),
    });
    if let Some(o) = v.as_object_mut() {
        let cs = if m.commissioning_passed { 2 } else { -1 };
        o.insert("commissioning_status".into(), json!(cs));
        o.insert(
            "commissioning_status_name".into(),
            json!(if cs == 2 { "Passed" } else { "None" }),
        );
        for p in [
            "testing_status",
            "cpu_test_status",
            "memory_test_status",
            "network_test_status",
            "storage_test_status",
            "other_test_status",
            "interface_test_status",
        ] {
            status_pair(p, o);
        }
    }
    v
}

/// The reduced object anonymous enlistment gets back.
pub fn machine_anon(m: &Machine) -> Value {
    let full = machine(m);
    let keep = [
        "system_id",
        "hostname",
        "domain",
        "fqdn",
        "architecture",
        "status",
        "power_type",
        "power_state",
        "zone",
        "status_action",
        "status_message",
        "status_name",
        "node_type",
        "resource_uri",
    ];
    let mut out = Map::new();
    if let Value::Object(o) = full {
        for (k, v) in o {
            if keep.contains(&k.as_str()) {
                out.insert(k, v);
            }
        }
    }
    Value::Object(out)
}
