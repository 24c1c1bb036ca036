//! Cloning onto one destination machine, in one write transaction: the machine is locked and
//! its status checked, its storage and/or network configuration replaced by what the pure
//! rules (`ingot_core::clone`) compute from the destination's rows as read inside the
//! transaction, new addresses allocated for the links that hold one, an event recorded and the
//! machine's version moved — or, on any refusal, nothing at all.

use crate::commissioning::{bd_from, BlockDeviceRow};
use crate::deploy::ALLOC_AUTO;
use crate::network::ALLOC_STICKY;
use crate::storage::disk_of;
use crate::{insert_event, map_unique, now_ms, NewEvent, Result, Store, StoreError};
use ingot_core::clone::{CloneIface, IfacePlan, IfaceRef};
use ingot_core::net::{first_free_ip, Cidr};
use ingot_core::storage::{Object, StorageModel};
use ingot_core::Status;
use serde_json::Value;
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// What the allocator needs to know about a subnet new addresses come from.
#[derive(Debug, Clone)]
pub struct AddressPool {
    pub cidr: Cidr,
    pub gateway: Option<IpAddr>,
    /// Dynamic and reserved ranges: never given out as static addresses.
    pub excluded: Vec<(IpAddr, IpAddr)>,
}

/// How cloning onto one destination ended.
#[derive(Debug, PartialEq)]
pub enum CloneApplied {
    /// Committed: the storage and/or network configuration were replaced.
    Done,
    /// The destination is not in a status cloning allows; nothing was written.
    WrongStatus(Status),
    /// The rules or the allocator refused (the message says why); nothing was written.
    Refused(String),
}

/// The storage part: the destination's new model from its model as stored (disks included).
pub type StorageStep<'a> =
    Box<dyn FnOnce(&StorageModel) -> std::result::Result<StorageModel, String> + Send + 'a>;
/// The network part: the plan from the destination's interfaces as stored.
pub type NetworkStep<'a> =
    Box<dyn FnOnce(&[CloneIface]) -> std::result::Result<IfacePlan, String> + Send + 'a>;

impl Store {
    /// Replace a destination's storage and/or network configuration in one transaction (see
    /// the module documentation). `pools` holds every subnet a new address may come from.
    pub async fn apply_clone(
        &self,
        machine_id: i64,
        allowed: &[Status],
        storage: Option<StorageStep<'_>>,
        network: Option<(NetworkStep<'_>, &HashMap<i64, AddressPool>)>,
        event: &NewEvent,
    ) -> Result<CloneApplied> {
        let mut tx = self.begin_write().await?;
        let crate::LockedMachine {
            status,
            system_id,
            hostname,
            owner_id,
        } = self.lock_machine(&mut tx, machine_id).await?;
        if !allowed.contains(&status) {
            tx.rollback().await?;
            return Ok(CloneApplied::WrongStatus(status));
        }
        let now = now_ms();

        if let Some(step) = storage {
            let disks: Vec<BlockDeviceRow> =
                sqlx::query("SELECT * FROM block_devices WHERE machine_id = $1 ORDER BY id")
                    .bind(machine_id)
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(bd_from)
                    .collect::<Result<_>>()?;
            let rows = sqlx::query(
                "SELECT id, data FROM storage_objects WHERE machine_id = $1 ORDER BY id",
            )
            .bind(machine_id)
            .fetch_all(&mut *tx)
            .await?;
            let stored: Vec<Object> = rows
                .iter()
                .map(crate::storage::object_from)
                .collect::<Result<_>>()?;
            let current =
                StorageModel::from_parts_pruned(disks.iter().map(disk_of).collect(), stored);
            let mut model = match step(&current) {
                Ok(m) => m,
                Err(why) => {
                    tx.rollback().await?;
                    return Ok(CloneApplied::Refused(why));
                }
            };
            sqlx::query("DELETE FROM storage_objects WHERE machine_id = $1")
                .bind(machine_id)
                .execute(&mut *tx)
                .await?;
            let mut ids: HashMap<i64, i64> = HashMap::new();
            for o in model.objects() {
                let r = sqlx::query("INSERT INTO storage_objects (machine_id, kind, data, created, updated) VALUES ($1, $2, '{}', $3, $3) RETURNING id")
                    .bind(machine_id)
                    .bind(o.kind())
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                ids.insert(o.id(), r.try_get(0)?);
            }
            model.remap_ids(&ids);
            for o in model.objects() {
                let data =
                    serde_json::to_string(&o).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query("UPDATE storage_objects SET data = $1 WHERE id = $2")
                    .bind(data)
                    .bind(o.id())
                    .execute(&mut *tx)
                    .await?;
            }
        }

        if let Some((step, pools)) = network {
            let rows = sqlx::query("SELECT id, name, type, mac_address, enabled, params FROM interfaces WHERE machine_id = $1 ORDER BY id")
                .bind(machine_id)
                .fetch_all(&mut *tx)
                .await?;
            let mut ifaces = Vec::new();
            for r in &rows {
                let params: String = r.try_get("params")?;
                ifaces.push(CloneIface {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    kind: r.try_get("type")?,
                    mac: r.try_get("mac_address")?,
                    enabled: r.try_get::<i64, _>("enabled")? != 0,
                    params: serde_json::from_str(&params).unwrap_or(Value::Null),
                    parents: vec![],
                    links: vec![],
                });
            }
            let plan = match step(&ifaces) {
                Ok(p) => p,
                Err(why) => {
                    tx.rollback().await?;
                    return Ok(CloneApplied::Refused(why));
                }
            };
            // Clear: links, the addresses bound to the machine's interfaces, the interfaces
            // that are not physical.
            let all: Vec<i64> = ifaces.iter().map(|i| i.id).collect();
            let virt: Vec<i64> = ifaces
                .iter()
                .filter(|i| i.kind != "physical")
                .map(|i| i.id)
                .collect();
            let physical: Vec<i64> = all.iter().copied().filter(|i| !virt.contains(i)).collect();
            crate::network::teardown_interfaces(&mut tx, &physical, false).await?;
            crate::network::teardown_interfaces(&mut tx, &virt, true).await?;
            for p in &plan.physical {
                sqlx::query(
                    "UPDATE interfaces SET enabled = $1, params = $2 WHERE id = $3 AND machine_id = $4",
                )
                .bind(p.enabled as i64)
                .bind(p.params.to_string())
                .bind(p.id)
                .bind(machine_id)
                .execute(&mut *tx)
                .await?;
            }
            let mut created: Vec<i64> = Vec::new();
            let resolve = |r: IfaceRef, created: &[i64]| -> Result<i64> {
                match r {
                    IfaceRef::Physical(id) => Ok(id),
                    IfaceRef::New(n) => created
                        .get(n)
                        .copied()
                        .ok_or_else(|| StoreError::Corrupt(format!("interface plan: {n}"))),
                }
            };
            for v in &plan.virtuals {
                let placeholder = format!("{}:{:016x}", v.kind, rand::random::<u64>());
                let r = sqlx::query("INSERT INTO interfaces (machine_id, name, type, mac_address, enabled, params) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
                    .bind(machine_id)
                    .bind(&v.name)
                    .bind(&v.kind)
                    .bind(&placeholder)
                    .bind(v.enabled as i64)
                    .bind(v.params.to_string())
                    .fetch_one(&mut *tx)
                    .await?;
                let id: i64 = r.try_get(0)?;
                for p in &v.parents {
                    sqlx::query(
                        "INSERT INTO interface_parents (child_id, parent_id) VALUES ($1, $2)",
                    )
                    .bind(id)
                    .bind(resolve(*p, &created)?)
                    .execute(&mut *tx)
                    .await?;
                }
                created.push(id);
            }
            let iface_name = |r: IfaceRef| match r {
                IfaceRef::Physical(id) => ifaces
                    .iter()
                    .find(|i| i.id == id)
                    .map(|i| i.name.clone())
                    .unwrap_or_default(),
                IfaceRef::New(n) => plan
                    .virtuals
                    .get(n)
                    .map(|v| v.name.clone())
                    .unwrap_or_default(),
            };
            for l in &plan.links {
                let iface_id = resolve(l.iface, &created)?;
                let mut staticip_id = None;
                if let (true, Some(subnet_id)) = (l.new_address, l.subnet_id) {
                    let Some(pool) = pools.get(&subnet_id) else {
                        tx.rollback().await?;
                        return Ok(CloneApplied::Refused(format!(
                            "subnet {subnet_id} of {} is gone",
                            iface_name(l.iface)
                        )));
                    };
                    let used: HashSet<IpAddr> =
                        sqlx::query("SELECT ip FROM staticips WHERE subnet_id = $1")
                            .bind(subnet_id)
                            .fetch_all(&mut *tx)
                            .await?
                            .iter()
                            .filter_map(|r| r.try_get::<String, _>(0).ok()?.parse().ok())
                            .collect();
                    let Some(ip) =
                        first_free_ip(&pool.cidr, pool.gateway, &pool.excluded, &used, 1 << 20)
                    else {
                        tx.rollback().await?;
                        return Ok(CloneApplied::Refused(format!(
                            "no free static address is left in {} for {} ({} link)",
                            pool.cidr,
                            iface_name(l.iface),
                            l.mode.to_ascii_uppercase()
                        )));
                    };
                    let alloc = if l.mode == "auto" {
                        ALLOC_AUTO
                    } else {
                        ALLOC_STICKY
                    };
                    let r = sqlx::query("INSERT INTO staticips (subnet_id, ip, alloc_type, mac, hostname, user_id, interface_id, created) VALUES ($1, $2, $3, NULL, $4, $5, $6, $7) RETURNING id")
                        .bind(subnet_id)
                        .bind(ip.to_string())
                        .bind(alloc)
                        .bind(&hostname)
                        .bind(owner_id)
                        .bind(iface_id)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(|e| map_unique(e, &format!("The IP address {ip} is already in use.")))?;
                    staticip_id = Some(r.try_get::<i64, _>(0)?);
                }
                sqlx::query("INSERT INTO interface_links (interface_id, mode, subnet_id, staticip_id, default_gateway, created) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(iface_id)
                    .bind(&l.mode)
                    .bind(l.subnet_id)
                    .bind(staticip_id)
                    .bind(l.default_gateway as i64)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
        }

        insert_event(&mut tx, Some(machine_id), &system_id, &hostname, event, now).await?;
        crate::bump_version(&mut tx, machine_id, now).await?;
        crate::commit(tx).await?;
        Ok(CloneApplied::Done)
    }
}
