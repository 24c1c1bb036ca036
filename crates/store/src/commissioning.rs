//! User scripts, the bookkeeping of script results (which script, in what order, with which
//! timeout, when it started and ended), and writing a machine's derived hardware inventory.

use crate::{
    bind_all, map_unique, now_ms, result_from_row, result_statuses, Result, ScriptResult, Store,
    StoreError, Val,
};
use ingot_core::inventory::Inventory;
use ingot_core::scripts::ResultStatus;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

/// A user script as stored; `meta` is the whole parsed metadata (ScriptMeta as JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptRow {
    pub id: i64,
    pub name: String,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub script_type: i64,
    pub hardware_type: i64,
    pub parallel: i64,
    pub timeout: i64,
    pub destructive: bool,
    pub may_reboot: bool,
    pub meta: Value,
    pub body: Vec<u8>,
    pub version: i64,
    pub created: i64,
    pub updated: i64,
}

fn script_from(r: &AnyRow) -> Result<ScriptRow> {
    let tags: String = r.try_get("tags")?;
    let meta: String = r.try_get("meta")?;
    Ok(ScriptRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        tags: tags.split_whitespace().map(String::from).collect(),
        script_type: r.try_get("script_type")?,
        hardware_type: r.try_get("hardware_type")?,
        parallel: r.try_get("parallel")?,
        timeout: r.try_get("timeout")?,
        destructive: r.try_get::<i64, _>("destructive")? != 0,
        may_reboot: r.try_get::<i64, _>("may_reboot")? != 0,
        meta: serde_json::from_str(&meta).unwrap_or(Value::Null),
        body: r.try_get("body")?,
        version: r.try_get("version")?,
        created: r.try_get("created")?,
        updated: r.try_get("updated")?,
    })
}

/// One script of a new result set.
#[derive(Debug, Clone, PartialEq)]
pub struct NewResult {
    pub name: String,
    /// The user script's id; None for a built-in.
    pub script_id: Option<i64>,
    pub timeout_secs: i64,
    pub hardware_type: i64,
}

/// A block device as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockDeviceRow {
    pub id: i64,
    pub machine_id: i64,
    pub name: String,
    pub id_path: String,
    pub model: String,
    pub serial: String,
    pub size: i64,
    pub block_size: i64,
    pub tags: Vec<String>,
    pub firmware_version: String,
    pub numa_node: i64,
    pub is_boot: bool,
}

/// A block device's columns, as (expression, name), read as JSON (`json_rows`): the names are
/// [`BlockDeviceJson`]'s fields, in its order.
pub(crate) const BLOCK_DEVICE_COLUMNS: &[(&str, &str)] = &[
    ("id", "id"),
    ("machine_id", "machine_id"),
    ("name", "name"),
    ("id_path", "id_path"),
    ("model", "model"),
    ("serial", "serial"),
    ("size", "size"),
    ("block_size", "block_size"),
    ("tags", "tags"),
    ("firmware_version", "firmware_version"),
    ("numa_node", "numa_node"),
    ("is_boot", "is_boot"),
];

/// A block device row as [`BLOCK_DEVICE_COLUMNS`] names its fields (in the same order).
#[derive(serde::Deserialize)]
pub(crate) struct BlockDeviceJson {
    id: i64,
    machine_id: i64,
    name: String,
    id_path: String,
    model: String,
    serial: String,
    size: i64,
    block_size: i64,
    tags: String,
    firmware_version: String,
    numa_node: i64,
    is_boot: i64,
}

impl From<BlockDeviceJson> for BlockDeviceRow {
    fn from(r: BlockDeviceJson) -> BlockDeviceRow {
        BlockDeviceRow {
            id: r.id,
            machine_id: r.machine_id,
            name: r.name,
            id_path: r.id_path,
            model: r.model,
            serial: r.serial,
            size: r.size,
            block_size: r.block_size,
            tags: r.tags.split_whitespace().map(String::from).collect(),
            firmware_version: r.firmware_version,
            numa_node: r.numa_node,
            is_boot: r.is_boot != 0,
        }
    }
}

pub(crate) fn bd_from(r: &AnyRow) -> Result<BlockDeviceRow> {
    Ok(BlockDeviceJson {
        id: r.try_get("id")?,
        machine_id: r.try_get("machine_id")?,
        name: r.try_get("name")?,
        id_path: r.try_get("id_path")?,
        model: r.try_get("model")?,
        serial: r.try_get("serial")?,
        size: r.try_get("size")?,
        block_size: r.try_get("block_size")?,
        tags: r.try_get("tags")?,
        firmware_version: r.try_get("firmware_version")?,
        numa_node: r.try_get("numa_node")?,
        is_boot: r.try_get("is_boot")?,
    }
    .into())
}

/// `INSERT … VALUES (…), (…)` for many rows: `common` values first in every row, then the row's.
fn multi_insert(prefix: &str, common: &[Val], rows: &[Vec<Val>]) -> (String, Vec<Val>) {
    let mut sql = String::from(prefix);
    let mut vals: Vec<Val> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for (j, v) in common.iter().chain(row.iter()).enumerate() {
            if j > 0 {
                sql.push_str(", ");
            }
            vals.push(v.clone());
            sql.push_str(&format!("${}", vals.len()));
        }
        sql.push(')');
    }
    (sql, vals)
}

/// A script's stored columns, in the order `insert_script` and `update_script` name them.
fn script_vals(s: &ScriptRow) -> Vec<Val> {
    vec![
        s.name.clone().into(),
        s.title.clone().into(),
        s.description.clone().into(),
        s.tags.join(" ").into(),
        s.script_type.into(),
        s.hardware_type.into(),
        s.parallel.into(),
        s.timeout.into(),
        s.destructive.into(),
        s.may_reboot.into(),
        s.meta.to_string().into(),
        Val::Blob(Some(s.body.clone())),
    ]
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store {
    // ------------------------------------------------------------------ scripts
    pub async fn scripts(&self) -> Result<Vec<ScriptRow>> {
        let rows = sqlx::query("SELECT * FROM scripts ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(script_from).collect()
    }

    pub async fn script_by_name(&self, name: &str) -> Result<Option<ScriptRow>> {
        let r = sqlx::query("SELECT * FROM scripts WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(script_from).transpose()
    }

    pub async fn script_by_id(&self, id: i64) -> Result<Option<ScriptRow>> {
        let r = sqlx::query("SELECT * FROM scripts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(script_from).transpose()
    }

    pub async fn insert_script(&self, s: &ScriptRow) -> Result<ScriptRow> {
        let mut vals = script_vals(s);
        vals.push(now_ms().into());
        let r = bind_all(sqlx::query("INSERT INTO scripts (name, title, description, tags, script_type, hardware_type, parallel, timeout, destructive, may_reboot, meta, body, version, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $13) RETURNING id"), &vals)
            .fetch_one(self.writes()?)
            .await
            .map_err(|e| map_unique(e, &format!("A script named '{}' already exists.", s.name)))?;
        self.script_by_id(r.try_get(0)?)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Replace a script's fields and text (its version goes up).
    pub async fn update_script(&self, s: &ScriptRow) -> Result<()> {
        let mut vals = script_vals(s);
        vals.extend([now_ms().into(), s.id.into()]);
        bind_all(sqlx::query("UPDATE scripts SET name = $1, title = $2, description = $3, tags = $4, script_type = $5, hardware_type = $6, parallel = $7, timeout = $8, destructive = $9, may_reboot = $10, meta = $11, body = $12, version = version + 1, updated = $13 WHERE id = $14"), &vals)
            .execute(self.writes()?)
            .await
            .map_err(|e| map_unique(e, &format!("A script named '{}' already exists.", s.name)))?;
        Ok(())
    }

    pub async fn delete_script(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM scripts WHERE id = $1")
            .bind(id)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }

    // ------------------------------------------------------------------ result sets
    /// Start a result set afresh: the machine's previous results of this set are replaced by
    /// PENDING rows, in run order, in one transaction.
    pub async fn start_result_set(
        &self,
        machine_id: i64,
        result_set: &str,
        rows: &[NewResult],
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM script_results WHERE machine_id = $1 AND result_set = $2")
            .bind(machine_id)
            .bind(result_set)
            .execute(&mut *tx)
            .await?;
        for (i, r) in rows.iter().enumerate() {
            sqlx::query("INSERT INTO script_results (machine_id, result_set, name, status, runtime, created, updated, script_id, run_order, timeout_secs, hardware_type) VALUES ($1, $2, $3, 0, '', $4, $4, $5, $6, $7, $8)")
                .bind(machine_id)
                .bind(result_set)
                .bind(&r.name)
                .bind(now)
                .bind(r.script_id)
                .bind(i as i64)
                .bind(r.timeout_secs)
                .bind(r.hardware_type)
                .execute(&mut *tx)
                .await?;
        }
        crate::commit(tx).await?;
        Ok(())
    }

    pub async fn result_by_id(&self, id: i64) -> Result<Option<ScriptResult>> {
        let r = sqlx::query("SELECT * FROM script_results WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(result_from_row).transpose()
    }

    /// A script started: RUNNING, with its start time (only from PENDING or RUNNING).
    pub async fn result_started(&self, id: i64) -> Result<bool> {
        let now = now_ms();
        let sql = format!(
            "UPDATE script_results SET status = $3, started = COALESCE(started, $1), updated = $1 WHERE id = $2 AND status IN ({})",
            result_statuses(|s| matches!(s, ResultStatus::Pending | ResultStatus::Running))
        );
        let n = sqlx::query(&sql)
            .bind(now)
            .bind(id)
            .bind(ResultStatus::Running.number())
            .execute(self.writes()?)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// A script finished: its status, exit status, runtime and outputs (None keeps what is
    /// there), and its end time.
    pub async fn result_finished(
        &self,
        id: i64,
        status: i64,
        exit_status: Option<i64>,
        runtime: &str,
        files: [Option<Vec<u8>>; 4],
    ) -> Result<()> {
        let now = now_ms();
        let [output, stdout, stderr, result] = files;
        sqlx::query("UPDATE script_results SET status = $1, exit_status = COALESCE($2, exit_status), runtime = CASE WHEN $3 = '' THEN runtime ELSE $3 END, output = COALESCE($4, output), stdout = COALESCE($5, stdout), stderr = COALESCE($6, stderr), result = COALESCE($7, result), started = COALESCE(started, $8), ended = $8, updated = $8 WHERE id = $9")
            .bind(status)
            .bind(exit_status)
            .bind(runtime)
            .bind(output.as_deref())
            .bind(stdout.as_deref())
            .bind(stderr.as_deref())
            .bind(result.as_deref())
            .bind(now)
            .bind(id)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }

    /// RUNNING results past their timeout (started + timeout < now): (machine id, result).
    pub async fn overdue_results(&self, now: i64) -> Result<Vec<ScriptResult>> {
        let sql = format!(
            "SELECT * FROM script_results WHERE status IN ({}) AND timeout_secs > 0 AND started IS NOT NULL AND started + timeout_secs * 1000 < $1 ORDER BY id",
            result_statuses(ResultStatus::is_running)
        );
        let rows = sqlx::query(&sql).bind(now).fetch_all(&self.pool).await?;
        rows.iter().map(result_from_row).collect()
    }

    // ------------------------------------------------------------------ hardware
    pub async fn block_devices(&self, machine_id: i64) -> Result<Vec<BlockDeviceRow>> {
        let rows = sqlx::query("SELECT * FROM block_devices WHERE machine_id = $1 ORDER BY id")
            .bind(machine_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(bd_from).collect()
    }

    /// Write what commissioning found, in one transaction: machine fields (CPU, memory,
    /// architecture, hardware UUID unless another machine has it), the `virtual` tag, block
    /// devices (matched by serial, else id_path, so ids survive recommissioning; gone ones
    /// deleted), physical interfaces (matched by MAC; a MAC on another machine moves here; new
    /// ones added; ones no longer present deleted), and the document itself.
    /// `keep_vfs`: model SR-IOV virtual functions (not for DEPLOYED machines).
    pub async fn apply_inventory(
        &self,
        machine_id: i64,
        inv: &Inventory,
        keep_vfs: bool,
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        // Machine fields. The hardware UUID is taken only if no other machine has it.
        let uuid_taken = match &inv.hardware_uuid {
            Some(u) => sqlx::query("SELECT 1 FROM machines WHERE hardware_uuid = $1 AND id <> $2")
                .bind(u)
                .bind(machine_id)
                .fetch_optional(&mut *tx)
                .await?
                .is_some(),
            None => false,
        };
        let uuid = if uuid_taken {
            None
        } else {
            inv.hardware_uuid.clone()
        };
        sqlx::query("UPDATE machines SET cpu_count = $1, cpu_speed = $2, memory = $3, hardware_uuid = COALESCE($4, hardware_uuid), architecture = COALESCE($5, architecture), version = version + 1, updated = $6 WHERE id = $7")
            .bind(clamp(inv.cpu_count))
            .bind(clamp(inv.cpu_speed))
            .bind(clamp(inv.memory))
            .bind(uuid)
            .bind(inv.architecture.as_deref())
            .bind(now)
            .bind(machine_id)
            .execute(&mut *tx)
            .await?;
        // The `virtual` tag.
        let tag_id: Option<i64> = match sqlx::query("SELECT id FROM tags WHERE name = 'virtual'")
            .fetch_optional(&mut *tx)
            .await?
        {
            Some(r) => Some(r.try_get(0)?),
            None if inv.is_virtual => Some(
                sqlx::query("INSERT INTO tags (name, comment) VALUES ('virtual', 'Virtual machines (set by commissioning)') RETURNING id")
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get(0)?,
            ),
            None => None,
        };
        if let Some(t) = tag_id {
            sqlx::query("DELETE FROM machine_tags WHERE machine_id = $1 AND tag_id = $2")
                .bind(machine_id)
                .bind(t)
                .execute(&mut *tx)
                .await?;
            if inv.is_virtual {
                sqlx::query("INSERT INTO machine_tags (machine_id, tag_id) VALUES ($1, $2)")
                    .bind(machine_id)
                    .bind(t)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        // Block devices: unchanged rows are left alone (recommissioning the same hardware
        // writes nothing here), changed ones updated, new ones inserted in one statement.
        let old: Vec<BlockDeviceRow> =
            sqlx::query("SELECT * FROM block_devices WHERE machine_id = $1 ORDER BY id")
                .bind(machine_id)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(bd_from)
                .collect::<Result<_>>()?;
        let mut kept: Vec<i64> = Vec::new();
        let mut new_rows: Vec<Vec<Val>> = Vec::new();
        for d in &inv.block_devices {
            // The same device as before: by serial and path, else serial, else path (serials
            // are not always unique: cheap disks and some captures repeat them), each old row
            // matched once.
            let free = |o: &&BlockDeviceRow| !kept.contains(&o.id);
            let same_serial = |o: &&BlockDeviceRow| !d.serial.is_empty() && o.serial == d.serial;
            let found = old
                .iter()
                .filter(free)
                .find(|o| same_serial(o) && o.id_path == d.id_path)
                .or_else(|| old.iter().filter(free).find(same_serial))
                .or_else(|| {
                    old.iter()
                        .filter(free)
                        .find(|o| d.serial.is_empty() && o.id_path == d.id_path)
                });
            let is_boot = inv.boot_disk.as_deref() == Some(d.name.as_str());
            let row = BlockDeviceRow {
                id: found.map(|o| o.id).unwrap_or(0),
                machine_id,
                name: d.name.clone(),
                id_path: d.id_path.clone(),
                model: d.model.clone(),
                serial: d.serial.clone(),
                size: clamp(d.size),
                block_size: clamp(d.block_size),
                tags: d.tags.clone(),
                firmware_version: d.firmware_version.clone().unwrap_or_default(),
                numa_node: clamp(d.numa_node),
                is_boot,
            };
            let vals: Vec<Val> = vec![
                row.name.clone().into(),
                row.id_path.clone().into(),
                row.model.clone().into(),
                row.serial.clone().into(),
                row.size.into(),
                row.block_size.into(),
                row.tags.join(" ").into(),
                row.firmware_version.clone().into(),
                row.numa_node.into(),
                (row.is_boot as i64).into(),
            ];
            match found {
                Some(o) => {
                    kept.push(o.id);
                    if *o != row {
                        let mut v = vals;
                        v.push(o.id.into());
                        bind_all(sqlx::query("UPDATE block_devices SET name = $1, id_path = $2, model = $3, serial = $4, size = $5, block_size = $6, tags = $7, firmware_version = $8, numa_node = $9, is_boot = $10 WHERE id = $11"), &v)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                None => new_rows.push(vals),
            }
        }
        if !new_rows.is_empty() {
            let (sql, vals) = multi_insert(
                "INSERT INTO block_devices (machine_id, created, name, id_path, model, serial, size, block_size, tags, firmware_version, numa_node, is_boot) VALUES ",
                &[machine_id.into(), now.into()],
                &new_rows,
            );
            bind_all(sqlx::query(&sql), &vals).execute(&mut *tx).await?;
        }
        let gone: Vec<Val> = old
            .iter()
            .filter(|o| !kept.contains(&o.id))
            .map(|o| o.id.into())
            .collect();
        if !gone.is_empty() {
            let ph: Vec<String> = (1..=gone.len()).map(|i| format!("${i}")).collect();
            let sql = format!("DELETE FROM block_devices WHERE id IN ({})", ph.join(", "));
            bind_all(sqlx::query(&sql), &gone).execute(&mut *tx).await?;
        }
        // Physical interfaces, by MAC: unchanged ones left alone, changed (or found on another
        // machine: it moves here) updated, new ones inserted in one statement, and this
        // machine's physical interfaces no longer present deleted.
        let seen: Vec<&ingot_core::inventory::Interface> = inv
            .interfaces
            .iter()
            .filter(|i| keep_vfs || !i.is_vf)
            .collect();
        let macs: Vec<Val> = seen.iter().map(|i| i.mac.clone().into()).collect();
        let mut cur: std::collections::HashMap<String, (i64, String, String, i64)> =
            Default::default();
        {
            let mut vals: Vec<Val> = vec![machine_id.into()];
            vals.extend(macs.iter().cloned());
            let ph: Vec<String> = (2..=vals.len()).map(|i| format!("${i}")).collect();
            let cond = if ph.is_empty() {
                String::new()
            } else {
                format!(" OR mac_address IN ({})", ph.join(", "))
            };
            let sql = format!("SELECT machine_id, mac_address, name, details, enabled FROM interfaces WHERE machine_id = $1{cond}");
            for r in bind_all(sqlx::query(&sql), &vals)
                .fetch_all(&mut *tx)
                .await?
            {
                cur.insert(
                    r.try_get(1)?,
                    (r.try_get(0)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?),
                );
            }
        }
        let mut new_ifs: Vec<Vec<Val>> = Vec::new();
        for i in &seen {
            let details = serde_json::json!({
                "link_connected": i.link_connected, "interface_speed": i.interface_speed,
                "link_speed": i.link_speed, "numa_node": i.numa_node, "vendor": i.vendor,
                "product": i.product, "firmware_version": i.firmware_version,
                "sriov_max_vf": i.sriov_max_vf, "pci_address": i.pci_address,
                "usb_address": i.usb_address, "tags": i.tags, "is_vf": i.is_vf,
                "driver": i.driver, "addresses": i.addresses,
            })
            .to_string();
            let enabled = i.enabled.unwrap_or(true) as i64;
            match cur.get(&i.mac) {
                Some((mid, name, det, en))
                    if *mid == machine_id
                        && *name == i.name
                        && *det == details
                        && *en == enabled => {}
                Some(_) => {
                    sqlx::query("UPDATE interfaces SET machine_id = $1, name = $2, details = $3, enabled = $4 WHERE mac_address = $5")
                        .bind(machine_id)
                        .bind(&i.name)
                        .bind(&details)
                        .bind(enabled)
                        .bind(&i.mac)
                        .execute(&mut *tx)
                        .await?;
                }
                None => new_ifs.push(vec![
                    i.name.clone().into(),
                    i.mac.clone().into(),
                    enabled.into(),
                    details.into(),
                ]),
            }
        }
        if !new_ifs.is_empty() {
            let (sql, vals) = multi_insert(
                "INSERT INTO interfaces (machine_id, type, name, mac_address, enabled, details) VALUES ",
                &[machine_id.into(), "physical".to_string().into()],
                &new_ifs,
            );
            bind_all(sqlx::query(&sql), &vals).execute(&mut *tx).await?;
        }
        let stale: Vec<Val> = cur
            .iter()
            .filter(|(mac, (mid, ..))| *mid == machine_id && !seen.iter().any(|i| &&i.mac == mac))
            .map(|(mac, _)| mac.clone().into())
            .collect();
        if !stale.is_empty() {
            let mut vals: Vec<Val> = vec![machine_id.into()];
            vals.extend(stale);
            let ph: Vec<String> = (2..=vals.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "DELETE FROM interfaces WHERE machine_id = $1 AND type = 'physical' AND mac_address IN ({})",
                ph.join(", ")
            );
            bind_all(sqlx::query(&sql), &vals).execute(&mut *tx).await?;
        }
        // The document, and the summary machine listings show.
        let doc = serde_json::to_string(inv).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let info = serde_json::json!({
            "metadata": inv.metadata, "cpu_model": inv.cpu_model, "storage": inv.storage,
            "numa_nodes": inv.numa_nodes.iter().map(|n| serde_json::json!({
                "index": n.index, "memory": n.memory, "cores": n.cores,
                "hugepages_set": [],
            })).collect::<Vec<_>>(),
            "boot_disk": inv.boot_disk,
        })
        .to_string();
        let n = sqlx::query("UPDATE machine_hardware SET inventory = $1, info = $2, updated = $3 WHERE machine_id = $4")
            .bind(&doc)
            .bind(&info)
            .bind(now)
            .bind(machine_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            sqlx::query("INSERT INTO machine_hardware (machine_id, inventory, info, updated) VALUES ($1, $2, $3, $4)")
                .bind(machine_id)
                .bind(&doc)
                .bind(&info)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        crate::commit(tx).await?;
        Ok(())
    }

    /// Mark the interface with this MAC as the machine's boot interface (BOOTIF).
    pub async fn set_boot_interface(&self, machine_id: i64, mac: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE interfaces SET is_boot = 1 WHERE machine_id = $1 AND mac_address = $2",
        )
        .bind(machine_id)
        .bind(mac)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n > 0 {
            sqlx::query(
                "UPDATE interfaces SET is_boot = 0 WHERE machine_id = $1 AND mac_address <> $2",
            )
            .bind(machine_id)
            .bind(mac)
            .execute(&mut *tx)
            .await?;
        }
        crate::commit(tx).await?;
        Ok(n > 0)
    }
}

impl Store {
    /// The PCI and USB devices commissioning found, per machine (for the `devices`
    /// allocation constraint), read from the stored inventories.
    pub async fn machine_devices(
        &self,
        machine_ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, Vec<ingot_core::constraints::DeviceFacts>>> {
        let mut out = std::collections::HashMap::new();
        for chunk in machine_ids.chunks(500) {
            let ph: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT machine_id, inventory FROM machine_hardware WHERE machine_id IN ({})",
                ph.join(", ")
            );
            let vals: Vec<Val> = chunk.iter().map(|&i| Val::from(i)).collect();
            for r in bind_all(sqlx::query(&sql), &vals)
                .fetch_all(&self.pool)
                .await?
            {
                let id: i64 = r.try_get(0)?;
                let inv: serde_json::Value =
                    serde_json::from_str(&r.try_get::<String, _>(1)?).unwrap_or_default();
                let text = |d: &serde_json::Value, k: &str| {
                    d.get(k)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_string()
                };
                let devs = ["pci_devices", "usb_devices"]
                    .iter()
                    .flat_map(|k| {
                        inv.get(*k)
                            .and_then(|v| v.as_array())
                            .cloned()
                            .unwrap_or_default()
                    })
                    .map(|d| ingot_core::constraints::DeviceFacts {
                        vendor_id: text(&d, "vendor_id"),
                        product_id: text(&d, "product_id"),
                        vendor_name: text(&d, "vendor"),
                        product_name: text(&d, "product"),
                        driver: text(&d, "driver"),
                    })
                    .collect();
                out.insert(id, devs);
            }
        }
        Ok(out)
    }
}
