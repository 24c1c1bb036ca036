//! A machine's storage model: physical disks from `block_devices`, every other object
//! (partition tables, partitions, filesystems, volume groups, logical volumes, cache sets,
//! bcaches) one row of `storage_objects`. Every change — a whole layout or one manual edit —
//! runs as a pure edit of the model inside one write transaction that first locks the machine
//! and checks its status, so two edits never interleave and the model is never half-written.

use crate::commissioning::{bd_from, BlockDeviceRow};
use crate::{insert_event, now_ms, NewEvent, Result, Store, StoreError};
use ingot_core::storage::{Disk, Object, StorageError, StorageModel};
use ingot_core::Status;
use sqlx::Row;
use std::collections::HashMap;

/// How an edit ended.
#[derive(Debug)]
pub enum Edit<T> {
    /// Applied and stored; the model as stored now (real ids), and the real id of every
    /// temporary one the edit handed out.
    Done(T, Box<StorageModel>, HashMap<i64, i64>),
    /// The model refused the edit; nothing was written.
    Refused(StorageError),
    /// The machine is not in a status the edit allows; nothing was written.
    WrongStatus(Status),
}

pub fn disk_of(b: &BlockDeviceRow) -> Disk {
    Disk {
        id: b.id,
        name: b.name.clone(),
        serial: b.serial.clone(),
        id_path: b.id_path.clone(),
        size: u64::try_from(b.size).unwrap_or(0),
        block_size: u64::try_from(b.block_size).unwrap_or(512),
        tags: b.tags.clone(),
        boot: b.is_boot,
    }
}

pub(crate) fn object_from(r: &sqlx::any::AnyRow) -> Result<Object> {
    object_of(r.try_get("id")?, &r.try_get::<String, _>("data")?)
}

/// A storage object from its row's id and `data` column.
pub(crate) fn object_of(id: i64, data: &str) -> Result<Object> {
    let mut o: serde_json::Value =
        serde_json::from_str(data).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    // The row's id is the object's id.
    if let Some(inner) = o.as_object_mut() {
        inner.insert("id".into(), serde_json::json!(id));
    }
    serde_json::from_value(o).map_err(|e| StoreError::Corrupt(format!("storage object {id}: {e}")))
}

fn object_data(o: &Object) -> Result<String> {
    serde_json::to_string(o).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    /// A machine's storage model (objects referring to vanished disks left out).
    pub async fn storage_model(&self, machine_id: i64) -> Result<StorageModel> {
        let disks = self.block_devices(machine_id).await?;
        let rows =
            sqlx::query("SELECT id, data FROM storage_objects WHERE machine_id = $1 ORDER BY id")
                .bind(machine_id)
                .fetch_all(&self.pool)
                .await?;
        let objects = rows.iter().map(object_from).collect::<Result<Vec<_>>>()?;
        Ok(StorageModel::from_parts_pruned(
            disks.iter().map(disk_of).collect(),
            objects,
        ))
    }

    /// Edit a machine's storage model in one transaction: lock the machine, check its status
    /// is one of `allowed`, load the model, run `edit` (pure), write the difference (new
    /// objects get their ids, changed ones rewritten, removed ones deleted, boot-disk flags)
    /// and, when `event` returns one for the result, record it — all or nothing.
    pub async fn edit_storage<T>(
        &self,
        machine_id: i64,
        allowed: &[Status],
        edit: impl FnOnce(&mut StorageModel) -> std::result::Result<T, StorageError>,
        event: impl FnOnce(&T) -> Option<NewEvent>,
    ) -> Result<Edit<T>> {
        let mut tx = self.begin_write().await?;
        let crate::LockedMachine {
            status,
            system_id,
            hostname,
            ..
        } = self.lock_machine(&mut tx, machine_id).await?;
        if !allowed.contains(&status) {
            tx.rollback().await?;
            return Ok(Edit::WrongStatus(status));
        }
        let (disks, stored) = storage_rows_in(&mut tx, machine_id).await?;
        let mut model =
            StorageModel::from_parts_pruned(disks.iter().map(disk_of).collect(), stored.clone());
        let out = match edit(&mut model) {
            Ok(v) => v,
            Err(e) => {
                tx.rollback().await?;
                return Ok(Edit::Refused(e));
            }
        };
        let now = now_ms();
        // New objects: ids first (their references are rewritten before the data is stored).
        let mut map: HashMap<i64, i64> = HashMap::new();
        for o in model.objects().iter().filter(|o| o.id() < 0) {
            let r = sqlx::query("INSERT INTO storage_objects (machine_id, kind, data, created, updated) VALUES ($1, $2, '{}', $3, $3) RETURNING id")
                .bind(machine_id)
                .bind(o.kind())
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            map.insert(o.id(), r.try_get(0)?);
        }
        model.remap_ids(&map);
        model.temp = 0;
        let old: HashMap<i64, &Object> = stored.iter().map(|o| (o.id(), o)).collect();
        let objects = model.objects();
        for o in &objects {
            let fresh = map.values().any(|v| *v == o.id());
            if fresh || old.get(&o.id()).is_some_and(|x| *x != o) {
                sqlx::query(
                    "UPDATE storage_objects SET kind = $1, data = $2, updated = $3 WHERE id = $4",
                )
                .bind(o.kind())
                .bind(object_data(o)?)
                .bind(now)
                .bind(o.id())
                .execute(&mut *tx)
                .await?;
            }
        }
        // Removed objects, and pruned ones (on vanished disks).
        for id in old.keys() {
            if !objects.iter().any(|o| o.id() == *id) {
                sqlx::query("DELETE FROM storage_objects WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for d in &model.disks {
            if disks.iter().any(|b| b.id == d.id && b.is_boot != d.boot) {
                sqlx::query("UPDATE block_devices SET is_boot = $1 WHERE id = $2")
                    .bind(d.boot as i64)
                    .bind(d.id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        if let Some(ev) = event(&out) {
            insert_event(&mut tx, Some(machine_id), &system_id, &hostname, &ev, now).await?;
        }
        // The machine's version moves so that caches and CAS writers see the change.
        crate::bump_version(&mut tx, machine_id, now).await?;
        crate::commit(tx).await?;
        Ok(Edit::Done(out, Box::new(model), map))
    }
}

/// A machine's disks and storage objects as the transaction sees them.
pub(crate) async fn storage_rows_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    machine_id: i64,
) -> Result<(Vec<BlockDeviceRow>, Vec<Object>)> {
    let disks: Vec<BlockDeviceRow> =
        sqlx::query("SELECT * FROM block_devices WHERE machine_id = $1 ORDER BY id")
            .bind(machine_id)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(bd_from)
            .collect::<Result<_>>()?;
    let rows =
        sqlx::query("SELECT id, data FROM storage_objects WHERE machine_id = $1 ORDER BY id")
            .bind(machine_id)
            .fetch_all(&mut **tx)
            .await?;
    let objects = rows.iter().map(object_from).collect::<Result<_>>()?;
    Ok((disks, objects))
}

impl Store {
    /// Replace a physical block device's tags (the machine's version moves). False when the
    /// machine has no such device.
    pub async fn set_block_device_tags(
        &self,
        machine_id: i64,
        id: i64,
        tags: &[String],
        event: &NewEvent,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE block_devices SET tags = $1 WHERE id = $2 AND machine_id = $3")
            .bind(tags.join(" "))
            .bind(id)
            .bind(machine_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let r = sqlx::query("SELECT system_id, hostname FROM machines WHERE id = $1")
            .bind(machine_id)
            .fetch_one(&mut *tx)
            .await?;
        let (sid, host): (String, String) = (r.try_get(0)?, r.try_get(1)?);
        let now = now_ms();
        insert_event(&mut tx, Some(machine_id), &sid, &host, event, now).await?;
        crate::bump_version(&mut tx, machine_id, now).await?;
        crate::commit(tx).await?;
        Ok(true)
    }
}

impl Store {
    /// What the last network boot of any of these MACs said about the firmware: Some(true) for
    /// UEFI (an iPXE request with a UEFI firmware, a DHCP client architecture `Uefi…`),
    /// Some(false) for BIOS, None when no hop said. Uses the netboot timeline's details as the
    /// DHCP (`arch BiosX86`/`arch UefiX64`…) and iPXE (`(amd64, Bios)`/`(amd64, Uefi)`) hops
    /// write them.
    pub async fn last_boot_firmware(&self, macs: &[String]) -> Result<Option<bool>> {
        if macs.is_empty() {
            return Ok(None);
        }
        let ph: Vec<String> = (1..=macs.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT detail FROM netboot_events WHERE mac IN ({}) AND (detail LIKE '%Uefi%' OR detail LIKE '%BiosX86%' OR detail LIKE '%, Bios)%') ORDER BY id DESC LIMIT 1",
            ph.join(", ")
        );
        let vals: Vec<crate::Val> = macs.iter().map(|m| m.clone().into()).collect();
        let row = crate::bind_all(sqlx::query(&sql), &vals)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get::<String, _>(0)?.contains("Uefi")),
            None => None,
        })
    }
}
