//! JSON shapes of the MAAS API 2.0.

use ingot_core::storage::Volume;
use ingot_region::model::{Event, Machine, Named, Tag, Token, User};
use serde::Serialize;
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

/// ISO 8601 without a zone, as MAAS renders `created` of IP addresses.
pub fn iso_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string())
        .unwrap_or_default()
}

pub fn event(e: &Event) -> Value {
    json!({
        "id": e.id, "node": e.system_id, "hostname": e.hostname, "username": e.username,
        "level": e.level, "created": event_time(e.created), "type": e.kind, "description": e.description,
    })
}

/// Hardware information keys; "Unknown" until commissioning fills them.
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

fn hardware_info(m: &Machine) -> Map<String, Value> {
    let md = m.hw_info.get("metadata");
    HW_KEYS
        .iter()
        .map(|k| {
            let v = if *k == "cpu_model" {
                m.hw_info.get("cpu_model").and_then(Value::as_str)
            } else {
                md.and_then(|x| x.get(*k)).and_then(Value::as_str)
            };
            (
                k.to_string(),
                Value::String(v.unwrap_or("Unknown").to_string()),
            )
        })
        .collect()
}

#[derive(Serialize)]
struct Link<'a> {
    id: i64,
    name: &'a str,
    description: &'a str,
    resource_uri: String,
}

#[derive(Serialize)]
struct DomainOut<'a> {
    id: i64,
    name: &'a str,
    authoritative: bool,
    ttl: Option<i64>,
    is_default: bool,
    resource_record_count: i64,
    resource_uri: String,
}

#[derive(Serialize)]
pub(crate) struct InterfaceOut<'a> {
    id: i64,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    mac_address: &'a str,
    enabled: bool,
    vlan: Option<Value>,
    links: Vec<Value>,
    params: Map<String, Value>,
    parents: Vec<&'a str>,
    children: Vec<&'a str>,
    tags: Vec<String>,
    vendor: Option<&'a str>,
    product: Option<&'a str>,
    firmware_version: Option<&'a str>,
    link_connected: bool,
    interface_speed: i64,
    link_speed: i64,
    effective_mtu: i64,
    discovered: Option<()>,
    system_id: &'a str,
    numa_node: i64,
    sriov_max_vf: i64,
    resource_uri: String,
}

#[derive(Serialize)]
struct Gateway {
    gateway_ip: Option<String>,
    link_id: Option<i64>,
}

#[derive(Serialize)]
struct Gateways {
    ipv4: Gateway,
    ipv6: Gateway,
}

/// The machine object (spec §2.8, the fields that exist so far), serialised without building
/// an intermediate JSON tree: listing 10,000 machines is on the hot path.
#[derive(Serialize)]
pub struct MachineOut<'a> {
    system_id: &'a str,
    hostname: &'a str,
    description: &'a str,
    hardware_uuid: Option<&'a str>,
    domain: DomainOut<'a>,
    fqdn: String,
    owner: Option<&'a str>,
    owner_data: &'a Value,
    workload_annotations: &'a Value,
    locked: bool,
    bios_boot_method: Option<()>,
    boot_interface: Option<InterfaceOut<'a>>,
    architecture: Option<&'a str>,
    min_hwe_kernel: &'a str,
    hwe_kernel: Option<&'a str>,
    cpu_count: i64,
    cpu_speed: i64,
    memory: i64,
    swap_size: Option<()>,
    storage: f64,
    status: i64,
    status_name: &'static str,
    status_action: &'static str,
    status_message: Option<&'a str>,
    osystem: &'a str,
    distro_series: &'a str,
    ephemeral_deploy: bool,
    error_description: &'a str,
    netboot: bool,
    power_type: &'a str,
    power_state: String,
    tag_names: &'a [String],
    address_ttl: Option<()>,
    ip_addresses: Vec<&'a str>,
    interface_set: Vec<InterfaceOut<'a>>,
    zone: Link<'a>,
    pool: Link<'a>,
    disable_ipv4: bool,
    boot_disk: Value,
    blockdevice_set: Vec<Value>,
    physicalblockdevice_set: Vec<Value>,
    virtualblockdevice_set: Vec<Value>,
    volume_groups: Value,
    cache_sets: Value,
    bcaches: Value,
    raids: Value,
    special_filesystems: Value,
    node_type: i64,
    node_type_name: &'static str,
    parent: Option<&'a str>,
    default_gateways: Gateways,
    current_commissioning_result_id: Option<()>,
    current_testing_result_id: Option<()>,
    current_installation_result_id: Option<()>,
    commissioning_status: i64,
    commissioning_status_name: &'static str,
    testing_status: i64,
    testing_status_name: &'static str,
    cpu_test_status: i64,
    cpu_test_status_name: &'static str,
    memory_test_status: i64,
    memory_test_status_name: &'static str,
    network_test_status: i64,
    network_test_status_name: &'static str,
    storage_test_status: i64,
    storage_test_status_name: &'static str,
    other_test_status: i64,
    other_test_status_name: &'static str,
    interface_test_status: i64,
    interface_test_status_name: &'static str,
    hardware_info: Map<String, Value>,
    numanode_set: Value,
    /// Hardware sync of a deployed machine: when it last checked in, at which interval (s),
    /// and when it is next expected.
    last_sync: Option<String>,
    sync_interval: Option<i64>,
    next_sync: Option<String>,
    enable_hw_sync: bool,
    enable_kernel_crash_dump: bool,
    is_dpu: bool,
    /// Ingot extension: when the current transient status times out (Unix seconds).
    status_deadline: Option<i64>,
    /// Ingot extension: a DEPLOYING machine waiting for a deployment slot since then.
    deploy_queued_since: Option<String>,
    resource_uri: String,
    /// Present only in allocate's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    constraints_by_type: Option<Value>,
}

/// An interface link as MAAS shows it: the whole subnet object (with its VLAN), and no
/// `ip_address` or `subnet` key when there is none (Juju's client checks the shape strictly).
pub fn link_json(l: &ingot_region::model::network::InterfaceLink, net: &Net) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(l.id));
    o.insert("mode".into(), json!(l.mode));
    if let Some(ip) = &l.ip {
        o.insert("ip_address".into(), json!(ip));
    }
    if let Some(id) = l.subnet_id {
        let s = match net.subnet(id) {
            Some(s) => subnet_json(s, &net.vlans),
            None => {
                json!({"id": id, "cidr": l.cidr, "resource_uri": format!("{API}/subnets/{id}/")})
            }
        };
        o.insert("subnet".into(), s);
    }
    o.insert("default_gateway".into(), json!(l.default_gateway));
    Value::Object(o)
}

/// An interface as MAAS shows it; `all` (the machine's interfaces) names parents and children.
pub(crate) fn interface_out<'a>(
    sid: &'a str,
    i: &'a ingot_region::model::Interface,
    all: &'a [ingot_region::model::Interface],
    net: &Net,
) -> InterfaceOut<'a> {
    let d = &i.details;
    let text = |k: &str| d.get(k).and_then(Value::as_str);
    let num = |k: &str| d.get(k).and_then(Value::as_i64).unwrap_or(0);
    InterfaceOut {
        id: i.id,
        name: &i.name,
        kind: &i.kind,
        mac_address: &i.mac_address,
        enabled: i.enabled,
        vlan: net.vlan_of(i),
        links: i.links.iter().map(|l| link_json(l, net)).collect(),
        params: i
            .params
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| k.as_str() != "mac_address")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        parents: i
            .parents
            .iter()
            .filter_map(|p| all.iter().find(|x| x.id == *p).map(|x| x.name.as_str()))
            .collect(),
        children: all
            .iter()
            .filter(|c| c.parents.contains(&i.id))
            .map(|c| c.name.as_str())
            .collect(),
        tags: ingot_region::interface_tags(i),
        vendor: text("vendor"),
        product: text("product"),
        firmware_version: text("firmware_version"),
        link_connected: d
            .get("link_connected")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        interface_speed: num("interface_speed"),
        link_speed: num("link_speed"),
        effective_mtu: i.params.get("mtu").and_then(Value::as_i64).unwrap_or(1500),
        discovered: None,
        system_id: sid,
        numa_node: num("numa_node"),
        sriov_max_vf: num("sriov_max_vf"),
        resource_uri: format!("{API}/nodes/{sid}/interfaces/{}/", i.id),
    }
}

/// The typed machine object.
pub fn machine_out<'a>(m: &'a Machine, net: &Net) -> MachineOut<'a> {
    let sid = m.system_id.as_str();
    let sm = crate::storage::model_of(m);
    let physical: Vec<Value> = sm
        .disks
        .iter()
        .map(|d| crate::storage::block_device_json(&sm, m, Volume::Disk(d.id)))
        .collect();
    let virtuals: Vec<Value> = crate::storage::virtual_devices(&sm)
        .into_iter()
        .map(|v| crate::storage::block_device_json(&sm, m, v))
        .collect();
    let (vgs, cache_sets, bcaches, raids) = crate::storage::machine_extras(&sm, m);
    let agg = |set: &str, hw: Option<i64>| {
        ingot_core::scripts::aggregate(
            m.result_statuses
                .iter()
                .filter(|(s, h, _)| s == set && hw.is_none_or(|x| x == *h))
                .filter_map(|(_, _, st)| ingot_core::scripts::ResultStatus::from_number(*st)),
        )
        .map(|s| (s.number(), s.label()))
    };
    let (cs, cs_name) = agg("commissioning", None).unwrap_or(if m.commissioning_passed {
        (2, "Passed")
    } else {
        (-1, "None")
    });
    let ts = agg("testing", None).unwrap_or((-1, "None"));
    let hw = |h: i64| agg("testing", Some(h)).unwrap_or((-1, "None"));
    MachineOut {
        system_id: sid,
        hostname: &m.hostname,
        description: &m.description,
        hardware_uuid: m.hardware_uuid.as_deref(),
        domain: DomainOut {
            id: m.domain_id,
            name: &m.domain,
            authoritative: true,
            ttl: None,
            is_default: m.domain_id == 1,
            resource_record_count: 0,
            resource_uri: format!("{API}/domains/{}/", m.domain_id),
        },
        fqdn: format!("{}.{}", m.hostname, m.domain),
        owner: m.owner.as_deref(),
        owner_data: &m.workload_annotations,
        workload_annotations: &m.workload_annotations,
        locked: m.locked,
        bios_boot_method: None,
        boot_interface: m
            .interfaces
            .iter()
            .find(|i| i.is_boot)
            .or(m.interfaces.first())
            .map(|i| interface_out(sid, i, &m.interfaces, net)),
        architecture: m.architecture.as_deref(),
        min_hwe_kernel: &m.min_hwe_kernel,
        hwe_kernel: Some(m.hwe_kernel.as_str()).filter(|k| !k.is_empty()),
        cpu_count: m.cpu_count,
        cpu_speed: m.cpu_speed,
        memory: m.memory,
        swap_size: None,
        storage: m.block_devices.iter().map(|b| b.size as f64).sum::<f64>() / 1e6,
        status: m.status as i64,
        status_name: m.status.label(),
        status_action: "",
        status_message: if m.deploy_queued.is_some() {
            Some("Waiting for a deployment slot")
        } else {
            Some(m.error_description.as_str()).filter(|e| !e.is_empty())
        },
        osystem: &m.osystem,
        distro_series: &m.distro_series,
        ephemeral_deploy: false,
        error_description: &m.error_description,
        netboot: m.netboot,
        power_type: &m.power_type,
        power_state: ingot_region::power::query(m),
        tag_names: &m.tags,
        address_ttl: None,
        ip_addresses: m
            .interfaces
            .iter()
            .flat_map(|i| &i.links)
            .filter_map(|l| l.ip.as_deref())
            .collect(),
        interface_set: m
            .interfaces
            .iter()
            .map(|i| interface_out(sid, i, &m.interfaces, net))
            .collect(),
        zone: Link {
            id: m.zone_id,
            name: &m.zone,
            description: "",
            resource_uri: format!("{API}/zones/{}/", m.zone),
        },
        pool: Link {
            id: m.pool_id,
            name: &m.pool,
            description: "",
            resource_uri: format!("{API}/resourcepool/{}/", m.pool_id),
        },
        disable_ipv4: false,
        boot_disk: sm
            .boot_disk()
            .map(|d| crate::storage::block_device_json(&sm, m, Volume::Disk(d.id)))
            .unwrap_or(Value::Null),
        blockdevice_set: physical
            .iter()
            .chain(virtuals.iter())
            .cloned()
            .collect(),
        physicalblockdevice_set: physical,
        virtualblockdevice_set: virtuals,
        volume_groups: vgs,
        cache_sets,
        bcaches,
        raids,
        special_filesystems: sm
            .specials
            .iter()
            .map(|x| {
                json!({"fstype": x.fstype, "label": null, "uuid": null,
                       "mount_point": x.mount_point, "mount_options": x.mount_options})
            })
            .collect(),
        node_type: m.node_type,
        node_type_name: ingot_core::NodeType::from_i64(m.node_type)
            .map(|t| t.label())
            .unwrap_or("Machine"),
        parent: m.parent.as_deref(),
        default_gateways: {
            let [v4, v6] = ingot_region::network::default_gateways(m, &net.subnets);
            let gw = |g: Option<(&ingot_region::model::network::InterfaceLink, String)>| Gateway {
                link_id: g.as_ref().map(|(l, _)| l.id),
                gateway_ip: g.map(|(_, ip)| ip),
            };
            Gateways {
                ipv4: gw(v4),
                ipv6: gw(v6),
            }
        },
        current_commissioning_result_id: None,
        current_testing_result_id: None,
        current_installation_result_id: None,
        commissioning_status: cs,
        commissioning_status_name: cs_name,
        testing_status: ts.0,
        testing_status_name: ts.1,
        cpu_test_status: hw(1).0,
        cpu_test_status_name: hw(1).1,
        memory_test_status: hw(2).0,
        memory_test_status_name: hw(2).1,
        network_test_status: hw(4).0,
        network_test_status_name: hw(4).1,
        storage_test_status: hw(3).0,
        storage_test_status_name: hw(3).1,
        other_test_status: hw(0).0,
        other_test_status_name: hw(0).1,
        interface_test_status: hw(4).0,
        interface_test_status_name: hw(4).1,
        hardware_info: hardware_info(m),
        numanode_set: m
            .hw_info
            .get("numa_nodes")
            .cloned()
            .unwrap_or_else(|| json!([{"index": 0, "memory": m.memory, "cores": (0..m.cpu_count).collect::<Vec<_>>(), "hugepages_set": []}])),
        last_sync: m.last_sync.map(iso_time),
        sync_interval: m.sync_interval,
        next_sync: m
            .last_sync
            .zip(m.sync_interval)
            .map(|(l, i)| iso_time(l + i * 1000)),
        enable_hw_sync: m.last_sync.is_some(),
        enable_kernel_crash_dump: false,
        is_dpu: false,
        status_deadline: m.status_expires.map(|ms| ms / 1000),
        deploy_queued_since: m.deploy_queued.map(iso_time),
        resource_uri: format!("{API}/machines/{sid}/"),
        constraints_by_type: None,
    }
}

/// The machine object as a JSON value.
pub fn machine(m: &Machine, net: &Net) -> Value {
    serde_json::to_value(machine_out(m, net)).unwrap_or(Value::Null)
}

/// The machine object as allocate returns it.
pub fn allocated_machine(
    m: &Machine,
    matched: &ingot_core::constraints::Matched,
    net: &Net,
) -> Value {
    let mut out = machine_out(m, net);
    let by_label = |pairs: &[(String, i64)]| {
        let mut o = Map::new();
        for (label, id) in pairs {
            o.insert(label.clone(), json!([id]));
        }
        Value::Object(o)
    };
    let mut by_type = Map::new();
    if !matched.storage.is_empty() {
        by_type.insert("storage".into(), by_label(&matched.storage));
    }
    if !matched.interfaces.is_empty() {
        by_type.insert("interfaces".into(), by_label(&matched.interfaces));
    }
    out.constraints_by_type = Some(Value::Object(by_type));
    serde_json::to_value(out).unwrap_or(Value::Null)
}

/// A JSON array of machines, serialised straight to bytes.
pub fn machines_bytes(ms: &[Machine], net: &Net) -> Vec<u8> {
    let outs: Vec<MachineOut<'_>> = ms.iter().map(|m| machine_out(m, net)).collect();
    serde_json::to_vec(&outs).unwrap_or_else(|_| b"[]".to_vec())
}

/// The reduced object anonymous enlistment gets back; a machine that has just enlisted and
/// now runs its built-in commissioning scripts also gets the credentials it reports with
/// (`enlistment_token`, `consumer_key:token_key:token_secret`, what `ingot.token=` carries
/// on a commissioning boot).
pub fn machine_anon(m: &Machine, token: Option<&ingot_region::model::Token>) -> Value {
    let full = machine(m, &Net::default());
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
    if let Some(t) = token {
        out.insert(
            "enlistment_token".into(),
            Value::String(format!(
                "{}:{}:{}",
                t.consumer_key, t.token_key, t.token_secret
            )),
        );
    }
    Value::Object(out)
}

// ------------------------------------------------------------------------------ network

use ingot_region::model::network::{Subnet, Vlan};

/// The subnets and VLANs that machines' interface links refer to, read once per answer (and
/// not at all when no link is on a subnet).
#[derive(Default)]
pub struct Net {
    subnets: Vec<Subnet>,
    vlans: Vec<Vlan>,
}

impl Net {
    /// What rendering `machines` needs.
    pub async fn for_machines(
        region: &ingot_region::Region,
        machines: &[Machine],
    ) -> Result<Net, crate::ApiError> {
        let linked = machines
            .iter()
            .flat_map(|m| &m.interfaces)
            .any(|i| i.vlan_id.is_some() || i.links.iter().any(|l| l.subnet_id.is_some()));
        if !linked {
            return Ok(Net::default());
        }
        Net::load(region).await
    }

    /// Every subnet and VLAN (for machines not known yet, such as a streamed list's).
    pub async fn load(region: &ingot_region::Region) -> Result<Net, crate::ApiError> {
        Ok(Net {
            subnets: region.subnets().await?,
            vlans: region.vlans(None).await?,
        })
    }

    fn subnet(&self, id: i64) -> Option<&Subnet> {
        self.subnets.iter().find(|s| s.id == id)
    }

    /// The VLAN an interface is on: the one set on it, else that of its first link's subnet.
    fn vlan_of(&self, i: &ingot_region::model::Interface) -> Option<Value> {
        let id = match i.vlan_id {
            Some(id) => id,
            None => {
                i.links
                    .iter()
                    .find_map(|l| self.subnet(l.subnet_id?))?
                    .vlan_id
            }
        };
        self.vlans
            .iter()
            .find(|v| v.id == id)
            .map(|v| vlan_json(v, &self.vlans))
    }
}

/// A VLAN as MAAS shows it; `all` holds the VLAN it relays DHCP to, shown whole (its own relay
/// by id).
pub fn vlan_json(v: &Vlan, all: &[Vlan]) -> Value {
    let relay = v
        .relay_vlan_id
        .and_then(|r| all.iter().find(|t| t.id == r))
        .map(|t| {
            let mut j = vlan_fields(t);
            j["relay_vlan"] = json!(t.relay_vlan_id);
            j
        });
    let mut j = vlan_fields(v);
    j["relay_vlan"] = relay.unwrap_or(Value::Null);
    j
}

fn vlan_fields(v: &Vlan) -> Value {
    json!({
        "id": v.id, "vid": v.vid, "name": v.name, "mtu": v.mtu, "fabric": v.fabric, "fabric_id": v.fabric_id,
        "description": v.description,
        "dhcp_on": v.dhcp_on, "external_dhcp": null, "relay_vlan": null,
        "primary_rack": v.primary_rack, "secondary_rack": v.secondary_rack,
        "space": v.space.as_deref().unwrap_or(ingot_region::spaces::UNDEFINED),
        "resource_uri": format!("{API}/fabrics/{}/vlans/{}/", v.fabric_id, v.vid),
    })
}

pub fn subnet_json(s: &Subnet, vlans: &[Vlan]) -> Value {
    json!({
        "id": s.id, "name": s.name, "cidr": s.cidr,
        "vlan": vlans.iter().find(|v| v.id == s.vlan_id).map(|v| vlan_json(v, vlans)).unwrap_or(Value::Null),
        "gateway_ip": s.gateway_ip, "dns_servers": s.dns_servers, "managed": s.managed,
        "active_discovery": s.active_discovery, "allow_dns": s.allow_dns, "allow_proxy": s.allow_proxy,
        "rdns_mode": s.rdns_mode,
        "space": vlans.iter().find(|v| v.id == s.vlan_id).and_then(|v| v.space.as_deref()).unwrap_or(ingot_region::spaces::UNDEFINED),
        "description": s.description,
        "resource_uri": format!("{API}/subnets/{}/", s.id),
    })
}
