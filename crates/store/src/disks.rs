//! Physical disks changed by hand (MAAS `blockdevices/` create, update and delete of a
//! physical device): one transaction that checks the machine's status and the storage rule
//! given, writes the disk, drops storage objects left on a deleted disk, and records the event.

use crate::commissioning::BlockDeviceRow;
use crate::storage::{disk_of, Edit};
use crate::{insert_event, now_ms, NewEvent, Result, Store};
use ingot_core::storage::{StorageError, StorageModel};
use ingot_core::Status;
use sqlx::Row;

/// What to do to one physical disk.
#[derive(Debug, Clone)]
pub enum DiskChange {
    Add(BlockDeviceRow),
    Update(BlockDeviceRow),
    Delete(i64),
}

impl Store {
    /// Apply `change` to a machine's disks while it is in one of `allowed`, after `check`
    /// accepts the storage model as it is; returns the disk's id and the model after.
    pub async fn change_disk(
        &self,
        machine_id: i64,
        allowed: &[Status],
        change: &DiskChange,
        check: impl FnOnce(&StorageModel) -> std::result::Result<(), StorageError>,
        event: &NewEvent,
    ) -> Result<Edit<i64>> {
        let mut tx = self.begin_write().await?;
        let locked = self.lock_machine(&mut tx, machine_id).await?;
        if !allowed.contains(&locked.status) {
            tx.rollback().await?;
            return Ok(Edit::WrongStatus(locked.status));
        }
        let model = self.model_in(&mut tx, machine_id).await?;
        if let Err(e) = check(&model) {
            tx.rollback().await?;
            return Ok(Edit::Refused(e));
        }
        let now = now_ms();
        let bind_row =
            |q: sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments<'static>>,
             d: &BlockDeviceRow| {
                q.bind(d.name.clone())
                    .bind(d.id_path.clone())
                    .bind(d.model.clone())
                    .bind(d.serial.clone())
                    .bind(d.size)
                    .bind(d.block_size)
                    .bind(d.tags.join(" "))
            };
        let id = match change {
            DiskChange::Add(d) => {
                let q = sqlx::query("INSERT INTO block_devices (name, id_path, model, serial, size, block_size, tags, machine_id, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id");
                let r = bind_row(q, d)
                    .bind(machine_id)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                r.try_get(0)?
            }
            DiskChange::Update(d) => {
                let q = sqlx::query("UPDATE block_devices SET name = $1, id_path = $2, model = $3, serial = $4, size = $5, block_size = $6, tags = $7 WHERE id = $8 AND machine_id = $9");
                bind_row(q, d)
                    .bind(d.id)
                    .bind(machine_id)
                    .execute(&mut *tx)
                    .await?;
                d.id
            }
            DiskChange::Delete(id) => {
                sqlx::query("DELETE FROM block_devices WHERE id = $1 AND machine_id = $2")
                    .bind(id)
                    .bind(machine_id)
                    .execute(&mut *tx)
                    .await?;
                *id
            }
        };
        // What was on a deleted disk goes with it.
        let after = self.model_in(&mut tx, machine_id).await?;
        let kept: Vec<i64> = after.objects().iter().map(|o| o.id()).collect();
        for o in model.objects() {
            if !kept.contains(&o.id()) {
                sqlx::query("DELETE FROM storage_objects WHERE id = $1")
                    .bind(o.id())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        insert_event(
            &mut tx,
            Some(machine_id),
            &locked.system_id,
            &locked.hostname,
            event,
            now,
        )
        .await?;
        crate::bump_version(&mut tx, machine_id, now).await?;
        crate::commit(tx).await?;
        Ok(Edit::Done(id, Box::new(after), Default::default()))
    }

    /// A machine's storage model as the transaction sees it (objects on vanished disks
    /// dropped).
    async fn model_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        machine_id: i64,
    ) -> Result<StorageModel> {
        let (disks, objects) = crate::storage::storage_rows_in(tx, machine_id).await?;
        Ok(StorageModel::from_parts_pruned(
            disks.iter().map(disk_of).collect(),
            objects,
        ))
    }
}
