//! Machines and their interfaces (`machines`, `interfaces`): rows, filters, the compare-and-swap `apply`.

use crate::{
    bind_all, commissioning, insert_event, json_of, json_rows, map_unique, network, now_ms,
    status_of, storage, Backend, NewEvent, Result, Store, StoreError, Val,
};
use ingot_core::Status;
use serde_json::Value;
use sqlx::Row;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Interface {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub mac_address: String,
    pub enabled: bool,
    /// What commissioning found (vendor, speeds, link, NUMA node, SR-IOV…); `{}` before.
    pub details: Value,
    /// The interface the machine network-boots from (BOOTIF).
    pub is_boot: bool,
    /// How the interface is configured on subnets when deployed.
    pub links: Vec<network::InterfaceLink>,
    /// Bond / VLAN / bridge parameters (`bond_mode`, `vlan`, `vid`, `bridge_stp`, `mtu`, …);
    /// `{}` for a physical interface without settings.
    pub params: Value,
    /// Ids of the interfaces this one is built on (a bond's members, a VLAN's link).
    pub parents: Vec<i64>,
    /// The VLAN the interface is on, when set (else that of its links' subnets).
    pub vlan_id: Option<i64>,
}

impl Interface {
    pub fn is_physical(&self) -> bool {
        self.kind == "physical"
    }
}

/// A machine with everything the API shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    pub id: i64,
    pub system_id: String,
    pub hostname: String,
    pub domain_id: i64,
    pub domain: String,
    pub description: String,
    pub node_type: i64,
    /// A device's parent machine (its system id).
    pub parent: Option<String>,
    pub status: Status,
    pub previous_status: Option<Status>,
    pub owner_id: Option<i64>,
    pub owner: Option<String>,
    pub locked: bool,
    pub architecture: Option<String>,
    pub min_hwe_kernel: String,
    pub hwe_kernel: String,
    pub osystem: String,
    pub distro_series: String,
    pub agent_name: String,
    pub power_type: String,
    pub power_parameters: Value,
    pub power_state: String,
    pub zone_id: i64,
    pub zone: String,
    pub pool_id: i64,
    pub pool: String,
    pub cpu_count: i64,
    pub cpu_speed: i64,
    pub memory: i64,
    pub hardware_uuid: Option<String>,
    pub error_description: String,
    pub netboot: bool,
    pub enlisting: bool,
    /// The commissioning in progress keeps the storage layout (`skip_storage`).
    pub skip_storage: bool,
    pub commissioning_passed: bool,
    pub status_expires: Option<i64>,
    /// A DEPLOYING machine waiting for a deployment slot since then (ms); None when not queued.
    pub deploy_queued: Option<i64>,
    pub last_heard: String,
    /// Hardware sync (deployed machines): when the machine last checked in (ms).
    pub last_sync: Option<i64>,
    /// The interval the machine's hardware sync runs at (seconds).
    pub sync_interval: Option<i64>,
    pub workload_annotations: Value,
    pub version: i64,
    pub created: i64,
    pub updated: i64,
    pub tags: Vec<String>,
    pub interfaces: Vec<Interface>,
    /// Physical block devices found by commissioning.
    pub block_devices: Vec<commissioning::BlockDeviceRow>,
    /// The storage model's objects (partitions, filesystems, LVM, bcache) on those devices.
    pub storage_objects: Vec<ingot_core::storage::Object>,
    /// Summary of the inventory for the API (hardware_info keys, cpu_model, NUMA nodes,
    /// storage); `null` before commissioning.
    pub hw_info: Value,
    /// The distinct (result set, hardware type, status) among the current script results.
    pub result_statuses: Vec<(String, i64, i64)>,
}

/// The fields of a new machine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewMachine {
    pub hostname: String,
    pub domain_id: i64,
    pub description: String,
    pub status: Option<Status>,
    pub owner_id: Option<i64>,
    pub architecture: Option<String>,
    pub min_hwe_kernel: String,
    pub power_type: String,
    pub power_parameters: Value,
    pub zone_id: i64,
    pub pool_id: i64,
    pub cpu_count: i64,
    pub memory: i64,
    pub enlisting: bool,
    pub mac_addresses: Vec<String>,
    pub hardware_uuid: Option<String>,
    /// 0 for a machine, [`DEVICE`] for a device.
    pub node_type: i64,
    /// A device's parent machine.
    pub parent_id: Option<i64>,
}

/// The node type of a device (MAAS `NODE_TYPE.DEVICE`).
pub const DEVICE: i64 = ingot_core::NodeType::Device as i64;

/// Column changes applied by [`Store::apply`]. `None` leaves a column alone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change {
    pub status: Option<Status>,
    pub previous_status: Option<Option<Status>>,
    pub owner_id: Option<Option<i64>>,
    pub locked: Option<bool>,
    pub hostname: Option<String>,
    pub domain_id: Option<i64>,
    pub description: Option<String>,
    pub architecture: Option<Option<String>>,
    pub min_hwe_kernel: Option<String>,
    pub hwe_kernel: Option<String>,
    pub osystem: Option<String>,
    pub distro_series: Option<String>,
    pub agent_name: Option<String>,
    pub user_data: Option<Option<Vec<u8>>>,
    pub power_type: Option<String>,
    pub power_parameters: Option<Value>,
    pub power_state: Option<String>,
    pub zone_id: Option<i64>,
    pub pool_id: Option<i64>,
    pub cpu_count: Option<i64>,
    pub cpu_speed: Option<i64>,
    pub memory: Option<i64>,
    pub error_description: Option<String>,
    pub netboot: Option<bool>,
    pub enlisting: Option<bool>,
    pub skip_storage: Option<bool>,
    pub commissioning_passed: Option<bool>,
    pub status_expires: Option<Option<i64>>,
    pub deploy_queued: Option<Option<i64>>,
    pub last_heard: Option<String>,
    pub workload_annotations: Option<Value>,
    /// Replace the machine's interfaces by these MACs (same transaction as the rest).
    pub mac_addresses: Option<Vec<String>>,
    /// Take back what the deployment took from the machine's network (a release: AUTO
    /// addresses, interfaces that are not physical, its leases), in the same transaction.
    pub release_network: bool,
}

impl Change {
    fn columns(&self) -> Vec<(&'static str, Val)> {
        let mut c: Vec<(&'static str, Val)> = Vec::new();
        macro_rules! put {
            ($f:ident, $conv:expr) => {
                if let Some(v) = &self.$f {
                    #[allow(clippy::redundant_closure_call)]
                    c.push((stringify!($f), ($conv)(v)));
                }
            };
        }
        put!(status, |s: &Status| Val::Int(Some(*s as i64)));
        put!(previous_status, |s: &Option<Status>| Val::Int(
            s.map(|s| s as i64)
        ));
        put!(owner_id, |v: &Option<i64>| Val::Int(*v));
        put!(locked, |v: &bool| Val::from(*v));
        put!(hostname, |v: &String| Val::from(v.clone()));
        put!(domain_id, |v: &i64| Val::from(*v));
        put!(description, |v: &String| Val::from(v.clone()));
        put!(architecture, |v: &Option<String>| Val::Text(v.clone()));
        put!(min_hwe_kernel, |v: &String| Val::from(v.clone()));
        put!(hwe_kernel, |v: &String| Val::from(v.clone()));
        put!(osystem, |v: &String| Val::from(v.clone()));
        put!(distro_series, |v: &String| Val::from(v.clone()));
        put!(agent_name, |v: &String| Val::from(v.clone()));
        put!(user_data, |v: &Option<Vec<u8>>| Val::Blob(v.clone()));
        put!(power_type, |v: &String| Val::from(v.clone()));
        put!(power_parameters, |v: &Value| Val::from(v.to_string()));
        put!(power_state, |v: &String| Val::from(v.clone()));
        put!(zone_id, |v: &i64| Val::from(*v));
        put!(pool_id, |v: &i64| Val::from(*v));
        put!(cpu_count, |v: &i64| Val::from(*v));
        put!(cpu_speed, |v: &i64| Val::from(*v));
        put!(memory, |v: &i64| Val::from(*v));
        put!(error_description, |v: &String| Val::from(v.clone()));
        put!(netboot, |v: &bool| Val::from(*v));
        put!(enlisting, |v: &bool| Val::from(*v));
        put!(skip_storage, |v: &bool| Val::from(*v));
        put!(commissioning_passed, |v: &bool| Val::from(*v));
        put!(status_expires, |v: &Option<i64>| Val::Int(*v));
        put!(deploy_queued, |v: &Option<i64>| Val::Int(*v));
        put!(last_heard, |v: &String| Val::from(v.clone()));
        put!(workload_annotations, |v: &Value| Val::from(v.to_string()));
        c
    }
}

/// Filters for listing machines (all AND; empty vectors mean "any").
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MachineFilter {
    pub system_ids: Vec<String>,
    pub hostnames: Vec<String>,
    pub statuses: Vec<Status>,
    pub zone: Option<String>,
    pub pool: Option<String>,
    pub owner_id: Option<i64>,
    pub min_cpu: Option<i64>,
    pub min_mem: Option<i64>,
    pub agent_name: Option<String>,
    pub mac_addresses: Vec<String>,
    /// Hardware UUIDs (lower case).
    pub hardware_uuids: Vec<String>,
    pub domain: Option<String>,
    /// Non-admin visibility: unowned or owned by this user.
    pub visible_to: Option<i64>,
    /// 0 (the default): machines; [`DEVICE`]: devices.
    pub node_type: i64,
}

/// A machine's own columns, as (expression, name), read as JSON ([`json_rows`]): the names
/// are [`MachineRow`]'s fields, in its order.
const MACHINE_COLUMNS: &[(&str, &str)] = &[
    ("m.id", "id"),
    ("m.system_id", "system_id"),
    ("m.hostname", "hostname"),
    ("m.domain_id", "domain_id"),
    ("d.name", "domain"),
    ("m.description", "description"),
    ("m.node_type", "node_type"),
    ("m.status", "status"),
    ("m.previous_status", "previous_status"),
    ("m.owner_id", "owner_id"),
    ("u.username", "owner"),
    ("m.locked", "locked"),
    ("m.architecture", "architecture"),
    ("m.min_hwe_kernel", "min_hwe_kernel"),
    ("m.hwe_kernel", "hwe_kernel"),
    ("m.osystem", "osystem"),
    ("m.distro_series", "distro_series"),
    ("m.agent_name", "agent_name"),
    ("m.power_type", "power_type"),
    ("m.power_parameters", "power_parameters"),
    ("m.power_state", "power_state"),
    ("m.zone_id", "zone_id"),
    ("z.name", "zone"),
    ("m.pool_id", "pool_id"),
    ("p.name", "pool"),
    ("m.cpu_count", "cpu_count"),
    ("m.cpu_speed", "cpu_speed"),
    ("m.memory", "memory"),
    ("m.hardware_uuid", "hardware_uuid"),
    ("m.error_description", "error_description"),
    ("m.netboot", "netboot"),
    ("m.enlisting", "enlisting"),
    ("m.skip_storage", "skip_storage"),
    ("m.commissioning_passed", "commissioning_passed"),
    ("m.status_expires", "status_expires"),
    ("m.deploy_queued", "deploy_queued"),
    ("m.last_heard", "last_heard"),
    ("m.last_sync", "last_sync"),
    ("m.sync_interval", "sync_interval"),
    ("m.workload_annotations", "workload_annotations"),
    ("m.version", "version"),
    ("m.created", "created"),
    ("m.updated", "updated"),
    ("pm.system_id", "parent"),
];

const MACHINE_FROM: &str = "FROM machines m JOIN domains d ON d.id = m.domain_id JOIN zones z ON z.id = m.zone_id JOIN pools p ON p.id = m.pool_id LEFT JOIN users u ON u.id = m.owner_id LEFT JOIN machines pm ON pm.id = m.parent_id";

impl Store {
    /// The machines of `rest` (`WHERE … ORDER BY … LIMIT …` over [`MACHINE_FROM`]'s aliases:
    /// `m.id`, `m.cpu_count`, …), with their own columns only (no tags, interfaces, disks or
    /// results yet). `rest`'s ORDER BY decides which rows a LIMIT keeps, not the order they
    /// come back in (see [`Store::json_rows`]): callers sort.
    pub(crate) async fn machine_rows(&self, rest: &str, vals: &[Val]) -> Result<Vec<Machine>> {
        let sql = json_rows::select_sql::<MachineRow>(
            self.backend,
            MACHINE_COLUMNS,
            &format!("{MACHINE_FROM} {rest}"),
        );
        self.json_rows::<MachineRow>(&sql, vals)
            .await?
            .into_iter()
            .map(Machine::try_from)
            .collect()
    }
}

/// A machine row as [`MACHINE_COLUMNS`] names its fields (in the same order: the row is read
/// from a JSON array).
#[derive(serde::Deserialize)]
struct MachineRow {
    id: i64,
    system_id: String,
    hostname: String,
    domain_id: i64,
    domain: String,
    description: String,
    node_type: i64,
    status: i64,
    previous_status: Option<i64>,
    owner_id: Option<i64>,
    owner: Option<String>,
    locked: i64,
    architecture: Option<String>,
    min_hwe_kernel: String,
    hwe_kernel: String,
    osystem: String,
    distro_series: String,
    agent_name: String,
    power_type: String,
    power_parameters: String,
    power_state: String,
    zone_id: i64,
    zone: String,
    pool_id: i64,
    pool: String,
    cpu_count: i64,
    cpu_speed: i64,
    memory: i64,
    hardware_uuid: Option<String>,
    error_description: String,
    netboot: i64,
    enlisting: i64,
    skip_storage: i64,
    commissioning_passed: i64,
    status_expires: Option<i64>,
    deploy_queued: Option<i64>,
    last_heard: String,
    last_sync: Option<i64>,
    sync_interval: Option<i64>,
    workload_annotations: String,
    version: i64,
    created: i64,
    updated: i64,
    parent: Option<String>,
}

/// An interface's columns, as (expression, name), read as JSON ([`json_rows`]): the names
/// are [`InterfaceRow`]'s fields, in its order.
const INTERFACE_COLUMNS: &[(&str, &str)] = &[
    ("machine_id", "machine_id"),
    ("id", "id"),
    ("name", "name"),
    ("type", "kind"),
    ("mac_address", "mac_address"),
    ("enabled", "enabled"),
    ("details", "details"),
    ("is_boot", "is_boot"),
    ("params", "params"),
    ("vlan_id", "vlan_id"),
];

/// An interface row as [`INTERFACE_COLUMNS`] names its fields (in the same order).
#[derive(serde::Deserialize)]
struct InterfaceRow {
    machine_id: i64,
    id: i64,
    name: String,
    kind: String,
    mac_address: String,
    enabled: i64,
    details: String,
    is_boot: i64,
    params: String,
    vlan_id: Option<i64>,
}

/// Every machine's tags, as [`TagRow`]s (a condition on `mt.machine_id` may follow).
pub(crate) const TAGS_FROM: &str = "FROM machine_tags mt JOIN tags t ON t.id = mt.tag_id";

/// [`TagRow`]'s columns, as (expression, name), over [`TAGS_FROM`].
pub(crate) const TAG_COLUMNS: &[(&str, &str)] = &[("mt.machine_id", "m"), ("t.name", "t")];

/// A machine's tag.
#[derive(serde::Deserialize)]
pub(crate) struct TagRow {
    pub(crate) m: i64,
    pub(crate) t: String,
}

/// A machine's distinct script result statuses ("set:hardware_type:status …").
#[derive(serde::Deserialize)]
struct StatusesRow {
    m: i64,
    s: String,
}

/// An interface's parent (a bond's member, a VLAN's link).
#[derive(serde::Deserialize)]
struct ParentRow {
    c: i64,
    p: i64,
}

/// A storage object (a partition, a file system, …: its JSON text) of machine `m`.
#[derive(serde::Deserialize)]
struct ObjectRow {
    id: i64,
    m: i64,
    data: String,
}

/// A machine's hardware summary (JSON text).
#[derive(serde::Deserialize)]
struct HardwareRow {
    m: i64,
    i: String,
}

/// "set:hardware_type:status …" (what the list's query aggregates) as (set, type, status).
fn parse_result_statuses(all: &str) -> Vec<(String, i64, i64)> {
    all.split(' ')
        .filter_map(|one| {
            let mut it = one.rsplitn(3, ':');
            let status = it.next()?.parse().ok()?;
            let hw = it.next()?.parse().ok()?;
            Some((it.next()?.to_string(), hw, status))
        })
        .collect()
}

impl TryFrom<MachineRow> for Machine {
    type Error = StoreError;

    fn try_from(r: MachineRow) -> Result<Machine> {
        Ok(Machine {
            id: r.id,
            system_id: r.system_id,
            hostname: r.hostname,
            domain_id: r.domain_id,
            domain: r.domain,
            description: r.description,
            node_type: r.node_type,
            parent: r.parent,
            status: status_of(r.status)?,
            previous_status: r.previous_status.map(status_of).transpose()?,
            owner_id: r.owner_id,
            owner: r.owner,
            locked: r.locked != 0,
            architecture: r.architecture,
            min_hwe_kernel: r.min_hwe_kernel,
            hwe_kernel: r.hwe_kernel,
            osystem: r.osystem,
            distro_series: r.distro_series,
            agent_name: r.agent_name,
            power_type: r.power_type,
            power_parameters: json_of(&r.power_parameters),
            power_state: r.power_state,
            zone_id: r.zone_id,
            zone: r.zone,
            pool_id: r.pool_id,
            pool: r.pool,
            cpu_count: r.cpu_count,
            cpu_speed: r.cpu_speed,
            memory: r.memory,
            hardware_uuid: r.hardware_uuid,
            error_description: r.error_description,
            netboot: r.netboot != 0,
            enlisting: r.enlisting != 0,
            skip_storage: r.skip_storage != 0,
            commissioning_passed: r.commissioning_passed != 0,
            status_expires: r.status_expires,
            deploy_queued: r.deploy_queued,
            last_heard: r.last_heard,
            last_sync: r.last_sync,
            sync_interval: r.sync_interval,
            workload_annotations: json_of(&r.workload_annotations),
            version: r.version,
            created: r.created,
            updated: r.updated,
            tags: Vec::new(),
            interfaces: Vec::new(),
            block_devices: Vec::new(),
            storage_objects: Vec::new(),
            hw_info: Value::Null,
            result_statuses: Vec::new(),
        })
    }
}

/// WHERE conditions and bound values for a machine filter.
pub(crate) fn filter_sql(f: &MachineFilter) -> (Vec<String>, Vec<Val>) {
    let mut conds: Vec<String> = Vec::new();
    let mut vals: Vec<Val> = Vec::new();
    let mut p = |vals: &mut Vec<Val>, v: Val| {
        vals.push(v);
        format!("${}", vals.len())
    };
    let in_list = |vals: &mut Vec<Val>,
                   col: &str,
                   items: Vec<Val>,
                   p: &mut dyn FnMut(&mut Vec<Val>, Val) -> String| {
        let ph: Vec<String> = items.into_iter().map(|v| p(vals, v)).collect();
        format!("{col} IN ({})", ph.join(", "))
    };
    if !f.system_ids.is_empty() {
        conds.push(in_list(
            &mut vals,
            "m.system_id",
            f.system_ids.iter().map(|s| Val::from(s.clone())).collect(),
            &mut p,
        ));
    }
    if !f.hostnames.is_empty() {
        conds.push(in_list(
            &mut vals,
            "m.hostname",
            f.hostnames.iter().map(|s| Val::from(s.clone())).collect(),
            &mut p,
        ));
    }
    // Statuses and the node type are the core's numbers, written into the statement rather
    // than bound: with them bound, PostgreSQL's generic plan guesses how many rows match and,
    // guessing high, plans every execution anew (an allocation's candidates spent 2 ms of its
    // CPU planning, measured with pg_stat_statements). A few values give a few statements.
    if !f.statuses.is_empty() {
        let codes: Vec<String> = f.statuses.iter().map(|s| (*s as i64).to_string()).collect();
        conds.push(format!("m.status IN ({})", codes.join(", ")));
    }
    if !f.mac_addresses.is_empty() {
        let inner = in_list(
            &mut vals,
            "mac_address",
            f.mac_addresses
                .iter()
                .map(|s| Val::from(s.clone()))
                .collect(),
            &mut p,
        );
        conds.push(format!(
            "m.id IN (SELECT machine_id FROM interfaces WHERE {inner})"
        ));
    }
    if !f.hardware_uuids.is_empty() {
        conds.push(in_list(
            &mut vals,
            "LOWER(m.hardware_uuid)",
            f.hardware_uuids
                .iter()
                .map(|s| Val::from(s.clone()))
                .collect(),
            &mut p,
        ));
    }
    if let Some(z) = &f.zone {
        conds.push(format!("z.name = {}", p(&mut vals, z.clone().into())));
    }
    if let Some(v) = &f.pool {
        conds.push(format!("p.name = {}", p(&mut vals, v.clone().into())));
    }
    if let Some(v) = &f.domain {
        conds.push(format!("d.name = {}", p(&mut vals, v.clone().into())));
    }
    if let Some(v) = f.owner_id {
        conds.push(format!("m.owner_id = {}", p(&mut vals, v.into())));
    }
    if let Some(v) = f.min_cpu {
        conds.push(format!("m.cpu_count >= {}", p(&mut vals, v.into())));
    }
    if let Some(v) = f.min_mem {
        conds.push(format!("m.memory >= {}", p(&mut vals, v.into())));
    }
    if let Some(v) = &f.agent_name {
        conds.push(format!("m.agent_name = {}", p(&mut vals, v.clone().into())));
    }
    if let Some(v) = f.visible_to {
        conds.push(format!(
            "(m.owner_id IS NULL OR m.owner_id = {})",
            p(&mut vals, v.into())
        ));
    }
    conds.push(format!("m.node_type = {}", f.node_type));
    (conds, vals)
}

impl Store {
    /// The user data stored with a deployment.
    pub async fn user_data(&self, machine_id: i64) -> Result<Option<Vec<u8>>> {
        let r = sqlx::query("SELECT user_data FROM machines WHERE id = $1")
            .bind(machine_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.map(|r| r.try_get::<Option<Vec<u8>>, _>(0))
            .transpose()?
            .flatten())
    }
}

impl Store {
    /// A deployed machine's hardware sync checked in now, saying it checks every
    /// `interval_secs` (a change of the row: its version moves on; no event).
    pub async fn record_sync(&self, machine_id: i64, interval_secs: Option<i64>) -> Result<()> {
        sqlx::query("UPDATE machines SET last_sync = $1, sync_interval = COALESCE($2, sync_interval), version = version + 1 WHERE id = $3")
            .bind(now_ms())
            .bind(interval_secs)
            .bind(machine_id)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }

    // ---------------------------------------------------------------- machines
    /// Insert a machine with its interfaces and a creation event, in one transaction.
    /// A system id collision is retried with a new id.
    pub async fn insert_machine(&self, m: &NewMachine, events: &[NewEvent]) -> Result<Machine> {
        for _ in 0..8 {
            let system_id = ingot_core::ids::system_id_from_random(rand::random());
            match self.try_insert_machine(&system_id, m, events).await {
                Err(StoreError::Duplicate(what)) if what == "system_id" => continue,
                Ok((id, interfaces)) => {
                    // A new machine has no tags, and its interfaces are the ones just inserted:
                    // one query reads it back.
                    let mut machine = self
                        .machine_rows("WHERE m.id = $1", &[id.into()])
                        .await?
                        .pop()
                        .ok_or_else(|| {
                            StoreError::Corrupt(format!("machine {id} not read back"))
                        })?;
                    machine.interfaces = interfaces;
                    return Ok(machine);
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Duplicate(
            "could not find a free system id".into(),
        ))
    }

    pub(crate) async fn try_insert_machine(
        &self,
        system_id: &str,
        m: &NewMachine,
        events: &[NewEvent],
    ) -> Result<(i64, Vec<Interface>)> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let status = m.status.unwrap_or(Status::New);
        let r = sqlx::query("INSERT INTO machines (system_id, hostname, domain_id, description, status, owner_id, architecture, min_hwe_kernel, power_type, power_parameters, zone_id, pool_id, cpu_count, memory, enlisting, hardware_uuid, created, updated, node_type, parent_id, netboot) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $18, $19, $20) RETURNING id")
            .bind(system_id)
            .bind(&m.hostname)
            .bind(m.domain_id)
            .bind(&m.description)
            .bind(status as i64)
            .bind(m.owner_id)
            .bind(m.architecture.as_deref())
            .bind(&m.min_hwe_kernel)
            .bind(&m.power_type)
            .bind(m.power_parameters.to_string())
            .bind(m.zone_id)
            .bind(m.pool_id)
            .bind(m.cpu_count)
            .bind(m.memory)
            .bind(m.enlisting as i64)
            .bind(m.hardware_uuid.as_deref())
            .bind(now)
            .bind(m.node_type)
            .bind(m.parent_id)
            .bind((m.node_type != DEVICE) as i64)
            .fetch_one(&mut *tx)
            .await;
        let r = match r {
            Ok(r) => r,
            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                let msg = d.message().to_string();
                return Err(if msg.contains("system_id") {
                    StoreError::Duplicate("system_id".into())
                } else {
                    StoreError::Duplicate(format!(
                        "Node with this hostname '{}' already exists.",
                        m.hostname
                    ))
                });
            }
            Err(e) => return Err(e.into()),
        };
        let id: i64 = r.try_get(0)?;
        let mut interfaces = Vec::with_capacity(m.mac_addresses.len());
        for (i, mac) in m.mac_addresses.iter().enumerate() {
            let name = format!("eth{i}");
            let r = sqlx::query("INSERT INTO interfaces (machine_id, name, mac_address) VALUES ($1, $2, $3) RETURNING id")
                .bind(id)
                .bind(&name)
                .bind(mac)
                .fetch_one(&mut *tx)
                .await;
            match r {
                Ok(r) => interfaces.push(Interface {
                    id: r.try_get(0)?,
                    name,
                    kind: "physical".into(),
                    mac_address: mac.clone(),
                    enabled: true,
                    details: Value::Object(Default::default()),
                    is_boot: false,
                    links: Vec::new(),
                    params: Value::Object(Default::default()),
                    parents: Vec::new(),
                    vlan_id: None,
                }),
                Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                    // The unique index is the check; name the holder for the message.
                    tx.rollback().await?;
                    let holder = self
                        .macs_in_use(std::slice::from_ref(mac))
                        .await?
                        .into_iter()
                        .next()
                        .map(|(_, h)| h)
                        .unwrap_or_default();
                    return Err(StoreError::Duplicate(format!(
                        "MAC address {mac} already in use on {holder}."
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
        for ev in events {
            insert_event(&mut tx, Some(id), system_id, &m.hostname, ev, now).await?;
        }
        crate::commit(tx).await?;
        Ok((id, interfaces))
    }

    pub async fn machine_by_id(&self, id: i64) -> Result<Option<Machine>> {
        self.machine_where("m.id", id.into()).await
    }

    /// Give the first queued machine a deployment slot if fewer than `limit` (0: no limit) hold
    /// one: its queue mark cleared, its deadline armed and an event, in one transaction that
    /// also serialises admissions (PostgreSQL advisory lock; SQLite's write lock), so two
    /// regions never admit past the limit. Returns the admitted machine's id.
    pub async fn admit_next_deployment(
        &self,
        limit: i64,
        deadline: Option<i64>,
    ) -> Result<Option<i64>> {
        // The reaper asks every round: take the write lock only when someone is waiting.
        if sqlx::query(
            "SELECT 1 FROM machines WHERE status = $1 AND deploy_queued IS NOT NULL LIMIT 1",
        )
        .bind(Status::Deploying as i64)
        .fetch_optional(&self.pool)
        .await?
        .is_none()
        {
            return Ok(None);
        }
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(4242424243)")
                .execute(&mut *tx)
                .await?;
        }
        // The first queued machine whose rack (the one that served its network boot; machines
        // no rack has served share one pool) has a free slot.
        let Some(r) = sqlx::query("SELECT q.id, q.system_id, q.hostname, q.boot_rack, (SELECT COUNT(*) FROM machines r WHERE r.status = $1 AND r.deploy_queued IS NULL AND COALESCE(r.boot_rack, '') = COALESCE(q.boot_rack, '')) AS running FROM machines q WHERE q.status = $1 AND q.deploy_queued IS NOT NULL AND ($2 <= 0 OR (SELECT COUNT(*) FROM machines r WHERE r.status = $1 AND r.deploy_queued IS NULL AND COALESCE(r.boot_rack, '') = COALESCE(q.boot_rack, '')) < $2) ORDER BY q.deploy_queued, q.id LIMIT 1")
            .bind(Status::Deploying as i64)
            .bind(limit)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let (id, sid, host): (i64, String, String) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        let rack: Option<String> = r.try_get(3)?;
        let running: i64 = r.try_get(4)?;
        let now = now_ms();
        sqlx::query("UPDATE machines SET deploy_queued = NULL, status_expires = $1, version = version + 1, updated = $2 WHERE id = $3")
            .bind(deadline)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let ev = NewEvent::info(
            "Deployment admitted",
            format!(
                "A deployment slot is free ({} of {} in use{}): deploying.",
                running + 1,
                if limit > 0 {
                    limit.to_string()
                } else {
                    "no limit".into()
                },
                match &rack {
                    Some(r) => format!(" on rack {r}"),
                    None => String::new(),
                }
            ),
            "",
        );
        insert_event(&mut tx, Some(id), &sid, &host, &ev, now).await?;
        crate::commit(tx).await?;
        Ok(Some(id))
    }

    /// A machine's own row only (no tags, interfaces, block devices or results): what the
    /// metadata API's per-request work needs.
    pub async fn machine_core(&self, id: i64) -> Result<Option<Machine>> {
        Ok(self
            .machine_rows("WHERE m.id = $1", &[id.into()])
            .await?
            .pop())
    }

    /// The MAC a machine boots from (its boot interface, else its first).
    pub async fn boot_mac(&self, machine_id: i64) -> Result<Option<String>> {
        let r = sqlx::query("SELECT mac_address FROM interfaces WHERE machine_id = $1 AND type = 'physical' ORDER BY is_boot DESC, id LIMIT 1")
            .bind(machine_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match r {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    pub async fn machine(&self, system_id: &str) -> Result<Option<Machine>> {
        self.machine_where("m.system_id", system_id.into()).await
    }

    /// One machine, with its tags and interfaces, by a unique column.
    pub(crate) async fn machine_where(&self, column: &str, value: Val) -> Result<Option<Machine>> {
        let rest = format!("WHERE {column} = $1");
        match self.machine_rows(&rest, &[value]).await?.pop() {
            Some(mut m) => {
                self.load_related(std::slice::from_mut(&mut m)).await?;
                Ok(Some(m))
            }
            None => Ok(None),
        }
    }

    /// The machine owning an interface with this MAC, if any.
    pub async fn machine_by_mac(&self, mac: &str) -> Result<Option<Machine>> {
        let r = sqlx::query("SELECT machine_id FROM interfaces WHERE mac_address = $1")
            .bind(mac)
            .fetch_optional(&self.pool)
            .await?;
        match r {
            Some(r) => self.machine_by_id(r.try_get(0)?).await,
            None => Ok(None),
        }
    }

    /// Interfaces (with links), block devices and the hardware summary of machines read
    /// without them (allocation candidates), when constraints need them.
    pub async fn load_hardware(&self, machines: &mut [Machine]) -> Result<()> {
        self.load_related_opt(machines, false, true).await
    }

    /// Tags, and interfaces with everything hardware, for a batch of machines.
    /// Small batches select by id; large ones read the whole (indexed) tables once.
    pub(crate) async fn load_related(&self, machines: &mut [Machine]) -> Result<()> {
        self.load_related_opt(machines, true, true).await
    }

    /// `tags`: the machines' tags; `hardware`: interfaces (with links), block devices, the
    /// hardware summary and the script-result statuses.
    pub(crate) async fn load_related_opt(
        &self,
        machines: &mut [Machine],
        tags: bool,
        hardware: bool,
    ) -> Result<()> {
        if machines.is_empty() {
            return Ok(());
        }
        let (lo, hi) = machines.iter().fold((i64::MAX, i64::MIN), |(lo, hi), m| {
            (lo.min(m.id), hi.max(m.id))
        });
        // A page of a list is (nearly) a run of ids: a range reads the same rows as a list of
        // hundreds of parameters, without binding them; the rows of other machines in the
        // range are skipped below.
        let dense = machines.len() > 8 && (hi - lo) < 2 * machines.len() as i64;
        // `col` restricted to these machines.
        let (within, ids): (Option<String>, Vec<Val>) = if dense {
            (
                Some("BETWEEN $1 AND $2".into()),
                vec![Val::from(lo), Val::from(hi)],
            )
        } else if machines.len() <= 512 {
            let ph: Vec<String> = (1..=machines.len()).map(|i| format!("${i}")).collect();
            (
                Some(format!("IN ({})", ph.join(", "))),
                machines.iter().map(|m| Val::from(m.id)).collect(),
            )
        } else {
            (None, vec![])
        };
        let cond = |col: &str| {
            within
                .as_ref()
                .map_or(String::new(), |w| format!("WHERE {col} {w}"))
        };
        let cond_i = cond("machine_id");
        let index: HashMap<i64, usize> = machines
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id, i))
            .collect();
        // Tags, interfaces with their parents and links, the hardware summary, the result
        // statuses, disks and storage objects: one statement, each a JSON array
        // (`json_rows`), as a statement's round trip through sqlx costs more than most of
        // these reads.
        let b = self.backend;
        let mut parts: Vec<(&str, String)> = Vec::new();
        if tags {
            let from = format!("{TAGS_FROM} {}", cond("mt.machine_id"));
            parts.push((
                "tags",
                json_rows::select_sql::<TagRow>(b, TAG_COLUMNS, &from),
            ));
        }
        if hardware {
            parts.push((
                "ifs",
                json_rows::select_sql::<InterfaceRow>(
                    b,
                    INTERFACE_COLUMNS,
                    &format!("FROM interfaces {cond_i}"),
                ),
            ));
            let from = format!(
                "FROM interface_parents ip JOIN interfaces i ON i.id = ip.child_id {}",
                cond("i.machine_id")
            );
            parts.push((
                "parents",
                json_rows::select_sql::<ParentRow>(
                    b,
                    &[("ip.child_id", "c"), ("ip.parent_id", "p")],
                    &from,
                ),
            ));
            let from = format!("{} {}", network::LINKS_FROM, cond("i.machine_id"));
            parts.push((
                "links",
                json_rows::select_sql::<network::LinkRow>(b, network::LINK_COLUMNS, &from),
            ));
            parts.push((
                "hw",
                json_rows::select_sql::<HardwareRow>(
                    b,
                    &[("machine_id", "m"), ("info", "i")],
                    &format!("FROM machine_hardware {cond_i}"),
                ),
            ));
            // Only which statuses occur matters (`scripts::aggregate` asks "is any …"), so
            // each distinct one is read once, not once per script (11 a commissioned
            // machine), all of a machine's in one row ("set:hardware_type:status …"), from
            // the index alone.
            let concat = match b {
                Backend::Sqlite => "group_concat",
                Backend::Postgres => "string_agg",
            };
            let from = format!(
                "FROM (SELECT machine_id, {concat}(result_set || ':' || hardware_type || ':' || status, ' ') AS statuses FROM (SELECT DISTINCT machine_id, result_set, hardware_type, status FROM script_results {cond_i}) s GROUP BY machine_id) r"
            );
            parts.push((
                "results",
                json_rows::select_sql::<StatusesRow>(
                    b,
                    &[("machine_id", "m"), ("statuses", "s")],
                    &from,
                ),
            ));
            parts.push((
                "disks",
                json_rows::select_sql::<commissioning::BlockDeviceJson>(
                    b,
                    commissioning::BLOCK_DEVICE_COLUMNS,
                    &format!("FROM block_devices {cond_i}"),
                ),
            ));
            parts.push((
                "objects",
                json_rows::select_sql::<ObjectRow>(
                    b,
                    &[("id", "id"), ("machine_id", "m"), ("data", "data")],
                    &format!("FROM storage_objects {cond_i}"),
                ),
            ));
        }
        if parts.is_empty() {
            return Ok(());
        }
        let selects: Vec<String> = parts.iter().map(|(a, q)| format!("({q}) AS {a}")).collect();
        let sql = format!("SELECT {}", selects.join(", "));
        let row = bind_all(sqlx::query(&sql), &ids)
            .fetch_one(&self.pool)
            .await?;
        if tags {
            for TagRow { m, t } in json_rows::column(&row, "tags")? {
                if let Some(&i) = index.get(&m) {
                    machines[i].tags.push(t);
                }
            }
            // In name order, whatever order the aggregate kept.
            for m in machines.iter_mut() {
                m.tags.sort();
            }
        }
        if !hardware {
            return Ok(());
        }
        let mut rows: Vec<InterfaceRow> = json_rows::column(&row, "ifs")?;
        rows.sort_by_key(|r| r.id);
        for r in rows {
            if let Some(&i) = index.get(&r.machine_id) {
                machines[i].interfaces.push(Interface {
                    id: r.id,
                    name: r.name,
                    kind: r.kind,
                    mac_address: r.mac_address,
                    enabled: r.enabled != 0,
                    details: serde_json::from_str(&r.details).unwrap_or(Value::Null),
                    is_boot: r.is_boot != 0,
                    links: Vec::new(),
                    params: serde_json::from_str(&r.params).unwrap_or(Value::Null),
                    parents: Vec::new(),
                    vlan_id: r.vlan_id,
                });
            }
        }
        // A virtual interface shows the MAC its parameters name (the column holds a placeholder).
        for m in machines.iter_mut() {
            for i in m.interfaces.iter_mut().filter(|i| !i.is_physical()) {
                if let Some(mac) = i.params.get("mac_address").and_then(Value::as_str) {
                    i.mac_address = mac.to_string();
                }
            }
        }
        let mut parents: Vec<ParentRow> = json_rows::column(&row, "parents")?;
        parents.sort_by_key(|r| (r.c, r.p));
        let mut by_child: HashMap<i64, Vec<i64>> = HashMap::new();
        for ParentRow { c, p } in parents {
            by_child.entry(c).or_default().push(p);
        }
        let mut links: Vec<network::InterfaceLink> =
            json_rows::column::<network::LinkRow>(&row, "links")?
                .into_iter()
                .map(network::InterfaceLink::from)
                .collect();
        links.sort_by_key(|l| l.id);
        let mut by_if: HashMap<i64, Vec<network::InterfaceLink>> = HashMap::new();
        for l in links {
            by_if.entry(l.interface_id).or_default().push(l);
        }
        for m in machines.iter_mut() {
            for i in m.interfaces.iter_mut() {
                if let Some(p) = by_child.remove(&i.id) {
                    i.parents = p;
                }
                if let Some(ls) = by_if.remove(&i.id) {
                    i.links = ls;
                }
            }
        }
        for HardwareRow { m, i: info } in json_rows::column(&row, "hw")? {
            if let Some(&i) = index.get(&m) {
                machines[i].hw_info = serde_json::from_str(&info).unwrap_or(Value::Null);
            }
        }
        for StatusesRow { m, s } in json_rows::column(&row, "results")? {
            if let Some(&i) = index.get(&m) {
                machines[i].result_statuses = parse_result_statuses(&s);
            }
        }
        let mut disks: Vec<commissioning::BlockDeviceRow> =
            json_rows::column::<commissioning::BlockDeviceJson>(&row, "disks")?
                .into_iter()
                .map(commissioning::BlockDeviceRow::from)
                .collect();
        disks.sort_by_key(|d| d.id);
        for d in disks {
            if let Some(&i) = index.get(&d.machine_id) {
                machines[i].block_devices.push(d);
            }
        }
        let mut objects: Vec<ObjectRow> = json_rows::column(&row, "objects")?;
        objects.sort_by_key(|o| o.id);
        for ObjectRow { id, m, data } in objects {
            if let Some(&i) = index.get(&m) {
                machines[i]
                    .storage_objects
                    .push(storage::object_of(id, &data)?);
            }
        }
        Ok(())
    }

    /// READY-style candidates for allocation, closest fit first (fewest CPUs, then least
    /// memory), one page at a time, with their tags but without interfaces.
    pub async fn allocation_candidates(
        &self,
        f: &MachineFilter,
        after: Option<(i64, i64, i64)>,
        limit: i64,
        with_tags: bool,
    ) -> Result<Vec<Machine>> {
        let (mut conds, mut vals) = filter_sql(f);
        // Keyset paging: rows taken by others meanwhile drop out without shifting the rest.
        if let Some((cpu, mem, id)) = after {
            vals.extend([Val::from(cpu), Val::from(mem), Val::from(id)]);
            let n = vals.len();
            conds.push(format!(
                "(m.cpu_count, m.memory, m.id) > (${}, ${}, ${n})",
                n - 2,
                n - 1
            ));
        }
        let wh = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        // The limit is written into the statement, not bound, for the reason `filter_sql`
        // writes statuses: a bound LIMIT makes PostgreSQL's generic plan cost a tenth of the
        // table, so it would plan every call anew. A few page sizes give a few statements.
        let rest = format!("{wh} ORDER BY m.cpu_count, m.memory, m.id LIMIT {limit}");
        let mut ms = self.machine_rows(&rest, &vals).await?;
        // The order keyset paging continues from, whatever order the aggregate kept.
        ms.sort_by_key(|m| (m.cpu_count, m.memory, m.id));
        if with_tags {
            self.load_related_opt(&mut ms, true, false).await?;
        }
        Ok(ms)
    }

    /// List machines matching `f`, ordered by id, with their tags but without interfaces,
    /// disks or storage (what a list that shows no hardware needs: the web UI's).
    pub async fn list_machines_brief(&self, f: &MachineFilter) -> Result<Vec<Machine>> {
        self.list_filtered(f, false, None).await
    }

    /// List machines matching `f`, ordered by id.
    pub async fn list_machines(&self, f: &MachineFilter) -> Result<Vec<Machine>> {
        self.list_filtered(f, true, None).await
    }

    /// One page of [`Store::list_machines`]: at most `limit` machines whose id is above
    /// `after` (keyset paging: a machine added or removed meanwhile shifts nothing).
    pub async fn list_machines_page(
        &self,
        f: &MachineFilter,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Machine>> {
        self.list_filtered(f, true, Some((after.unwrap_or(i64::MIN), limit)))
            .await
    }

    async fn list_filtered(
        &self,
        f: &MachineFilter,
        hardware: bool,
        page: Option<(i64, i64)>,
    ) -> Result<Vec<Machine>> {
        let (mut conds, mut vals) = filter_sql(f);
        let mut limit = String::new();
        if let Some((after, n)) = page {
            vals.push(after.into());
            conds.push(format!("m.id > ${}", vals.len()));
            // Written, not bound, as the candidates' page size (`allocation_candidates`):
            // with it bound PostgreSQL planned every page of the list anew (3.4 ms each).
            limit = format!(" LIMIT {n}");
        }
        let rest = if conds.is_empty() {
            format!("ORDER BY m.id{limit}")
        } else {
            format!("WHERE {} ORDER BY m.id{limit}", conds.join(" AND "))
        };
        let mut ms = self.machine_rows(&rest, &vals).await?;
        // The order keyset paging continues from, whatever order the aggregate kept.
        ms.sort_by_key(|m| m.id);
        self.load_related_opt(&mut ms, true, hardware).await?;
        Ok(ms)
    }

    /// Apply `change` to machine `id` if it is still at `version`, together with `events`, in
    /// one transaction. Returns the new version, or `Conflict` if someone else changed it first.
    pub async fn apply(&self, m: &Machine, change: &Change, events: &[NewEvent]) -> Result<i64> {
        let cols = change.columns();
        let now = now_ms();
        let mut sets: Vec<String> = Vec::with_capacity(cols.len() + 2);
        let mut vals: Vec<Val> = Vec::with_capacity(cols.len() + 3);
        for (c, v) in cols {
            vals.push(v);
            sets.push(format!("{c} = ${}", vals.len()));
        }
        vals.push(now.into());
        sets.push(format!("updated = ${}", vals.len()));
        sets.push("version = version + 1".into());
        vals.push(m.id.into());
        let idp = vals.len();
        vals.push(m.version.into());
        let sql = format!(
            "UPDATE machines SET {} WHERE id = ${idp} AND version = ${}",
            sets.join(", "),
            vals.len()
        );
        let mut tx = self.begin_write().await?;
        let n = bind_all(sqlx::query(&sql), &vals)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_unique(e, "Node with this hostname already exists."))?
            .rows_affected();
        if n == 0 {
            tx.rollback().await?;
            return Err(StoreError::Conflict);
        }
        let hostname = change.hostname.as_deref().unwrap_or(&m.hostname);
        for ev in events {
            insert_event(&mut tx, Some(m.id), &m.system_id, hostname, ev, now).await?;
        }
        if let Some(macs) = &change.mac_addresses {
            sqlx::query("DELETE FROM interfaces WHERE machine_id = $1")
                .bind(m.id)
                .execute(&mut *tx)
                .await?;
            for (i, mac) in macs.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO interfaces (machine_id, name, mac_address) VALUES ($1, $2, $3)",
                )
                .bind(m.id)
                .bind(format!("eth{i}"))
                .bind(mac)
                .execute(&mut *tx)
                .await
                .map_err(|e| map_unique(e, &format!("MAC address {mac} already in use.")))?;
            }
        }
        if change.release_network {
            crate::deploy::release_machine_network(&mut tx, m.id).await?;
        }
        // An owner change invalidates the machine's metadata credentials (MAAS NodeKey rule).
        if let Some(owner) = change.owner_id {
            if owner != m.owner_id {
                sqlx::query("DELETE FROM tokens WHERE kind = 'machine' AND machine_id = $1")
                    .bind(m.id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        crate::commit(tx).await?;
        if let Some(to) = change.status.filter(|to| *to != m.status) {
            let mut t = self.transitions.lock().unwrap_or_else(|p| p.into_inner());
            *t.entry((m.status, to)).or_default() += 1;
        }
        Ok(m.version + 1)
    }

    /// The status changes this process committed: ((from, to), count).
    pub fn transition_counts(&self) -> Vec<((Status, Status), u64)> {
        let t = self.transitions.lock().unwrap_or_else(|p| p.into_inner());
        t.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// Machines by status, and how many deployments wait for a slot.
    pub async fn status_counts(&self) -> Result<(Vec<(i64, i64)>, i64)> {
        let rows = sqlx::query("SELECT status, COUNT(*) FROM machines WHERE node_type = 0 GROUP BY status ORDER BY status")
            .fetch_all(&self.pool)
            .await?;
        let by: Vec<(i64, i64)> = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_>>()?;
        let q = sqlx::query("SELECT COUNT(*) FROM machines WHERE deploy_queued IS NOT NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok((by, q.try_get(0)?))
    }

    /// The connection pool: (connections open, of them idle).
    pub fn pool_stats(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    /// Whether the database answers (`SELECT 1`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await?;
        Ok(())
    }

    /// Delete a machine (its interfaces, tags, tokens and results go with it); the event stays.
    pub async fn delete_machine(&self, m: &Machine, event: &NewEvent) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM machines WHERE id = $1 AND version = $2")
            .bind(m.id)
            .bind(m.version)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            tx.rollback().await?;
            return Err(StoreError::Conflict);
        }
        insert_event(&mut tx, None, &m.system_id, &m.hostname, event, now_ms()).await?;
        crate::commit(tx).await?;
        Ok(())
    }

    /// Every machine interface as (MAC, hostname, system id), in one query: what racks need to
    /// know which MACs belong to machines.
    pub async fn interface_owners(&self) -> Result<Vec<(String, String, String)>> {
        let rows = sqlx::query("SELECT i.mac_address, m.hostname, m.system_id FROM interfaces i JOIN machines m ON m.id = i.machine_id WHERE i.type = 'physical' ORDER BY i.id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// Record that rack `rack` served the network boot of the machines owning these MACs.
    pub async fn set_boot_rack(&self, macs: &[String], rack: &str) -> Result<u64> {
        if macs.is_empty() {
            return Ok(0);
        }
        let mut n = 0;
        for chunk in macs.chunks(500) {
            let ph: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
            let sql = format!("UPDATE machines SET boot_rack = $1, version = version + 1 WHERE id IN (SELECT machine_id FROM interfaces WHERE mac_address IN ({})) AND (boot_rack IS NULL OR boot_rack <> $1)", ph.join(", "));
            let mut vals = vec![Val::from(rack.to_string())];
            vals.extend(chunk.iter().map(|m| Val::from(m.clone())));
            n += bind_all(sqlx::query(&sql), &vals)
                .execute(self.writes()?)
                .await?
                .rows_affected();
        }
        Ok(n)
    }

    /// Which of these MACs already belong to a machine: (mac, hostname).
    pub async fn macs_in_use(&self, macs: &[String]) -> Result<Vec<(String, String)>> {
        if macs.is_empty() {
            return Ok(vec![]);
        }
        let ph: Vec<String> = (1..=macs.len()).map(|i| format!("${i}")).collect();
        let sql = format!("SELECT i.mac_address, m.hostname FROM interfaces i JOIN machines m ON m.id = i.machine_id WHERE i.mac_address IN ({})", ph.join(", "));
        let vals: Vec<Val> = macs.iter().map(|m| Val::from(m.clone())).collect();
        let rows = bind_all(sqlx::query(&sql), &vals)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Ids of the machines with one of these power types (the power monitor's round).
    pub async fn machine_ids_by_power_type(&self, types: &[&str]) -> Result<Vec<i64>> {
        if types.is_empty() {
            return Ok(vec![]);
        }
        let ph: Vec<String> = (1..=types.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT id FROM machines WHERE power_type IN ({}) ORDER BY id",
            ph.join(", ")
        );
        let vals: Vec<Val> = types.iter().map(|t| Val::from(*t)).collect();
        let rows = bind_all(sqlx::query(&sql), &vals)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Machines whose deadline has passed.
    pub async fn expired_machines(&self, now: i64) -> Result<Vec<Machine>> {
        self.machine_rows(
            "WHERE m.status_expires IS NOT NULL AND m.status_expires <= $1 ORDER BY m.status_expires",
            &[now.into()],
        )
        .await
        .map(|mut ms| {
            ms.sort_by_key(|m| m.status_expires);
            ms
        })
    }

    pub async fn hostname_taken(&self, hostname: &str) -> Result<bool> {
        let r = sqlx::query("SELECT id FROM machines WHERE hostname = $1")
            .bind(hostname)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.is_some())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn result_statuses_read_back_from_their_aggregate() {
        assert_eq!(
            super::parse_result_statuses("commissioning:0:2 testing:1:3 testing:3:2"),
            vec![
                ("commissioning".to_string(), 0, 2),
                ("testing".to_string(), 1, 3),
                ("testing".to_string(), 3, 2),
            ]
        );
        assert!(super::parse_result_statuses("").is_empty());
        // Something unreadable is left out, not guessed.
        assert_eq!(
            super::parse_result_statuses("testing:x:2 testing:1:2"),
            vec![("testing".to_string(), 1, 2)]
        );
    }
}
