//! Controllers as machines: finding the machine a controller host is (by hardware UUID, then
//! MAC, then hostname), creating it in one transaction (DEPLOYED, locked, not netbooting,
//! annotated, with its interfaces and event), and the rack ↔ machine link (`racks.machine_id`).

use crate::network::Rack;
use crate::{insert_event, now_ms, Machine, NewEvent, Result, Store, StoreError};
use ingot_core::Status;
use serde_json::Value;
use sqlx::Row;

/// A controller machine to create.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewControllerMachine {
    pub hostname: String,
    pub domain_id: i64,
    pub zone_id: i64,
    pub pool_id: i64,
    pub owner_id: Option<i64>,
    pub hardware_uuid: Option<String>,
    pub macs: Vec<String>,
    pub workload_annotations: Value,
}

impl Store {
    /// The machine with this hardware UUID (the first, should several share it).
    pub async fn machine_by_hardware_uuid(&self, uuid: &str) -> Result<Option<Machine>> {
        self.machine_where("m.hardware_uuid", uuid.to_string().into())
            .await
    }

    pub async fn machine_by_hostname(&self, hostname: &str) -> Result<Option<Machine>> {
        self.machine_where("m.hostname", hostname.to_string().into())
            .await
    }

    /// The machine a host is: by hardware UUID, then any of its MACs, then its hostname.
    pub async fn find_host_machine(
        &self,
        hardware_uuid: Option<&str>,
        macs: &[String],
        hostname: &str,
    ) -> Result<Option<Machine>> {
        if let Some(u) = hardware_uuid {
            if let Some(m) = self.machine_by_hardware_uuid(u).await? {
                return Ok(Some(m));
            }
        }
        for mac in macs {
            if let Some(m) = self.machine_by_mac(mac).await? {
                return Ok(Some(m));
            }
        }
        self.machine_by_hostname(hostname).await
    }

    /// Create a controller's machine in one transaction: DEPLOYED, locked, no netboot, no power
    /// driver, its annotations, its interfaces (`eth0`…) and `event`.
    /// `Duplicate` when the hostname or a MAC is taken meanwhile.
    pub async fn insert_controller_machine(
        &self,
        m: &NewControllerMachine,
        event: &NewEvent,
    ) -> Result<Machine> {
        for _ in 0..8 {
            let system_id = ingot_core::ids::system_id_from_random(rand::random());
            match self.try_insert_controller(&system_id, m, event).await {
                Err(StoreError::Duplicate(what)) if what == "system_id" => continue,
                Ok(id) => {
                    return self.machine_by_id(id).await?.ok_or(StoreError::NotFound);
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Duplicate(
            "could not find a free system id".into(),
        ))
    }

    async fn try_insert_controller(
        &self,
        system_id: &str,
        m: &NewControllerMachine,
        event: &NewEvent,
    ) -> Result<i64> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let r = sqlx::query("INSERT INTO machines (system_id, hostname, domain_id, status, owner_id, locked, netboot, power_type, zone_id, pool_id, hardware_uuid, workload_annotations, created, updated) VALUES ($1, $2, $3, $4, $5, 1, 0, '', $6, $7, $8, $9, $10, $10) RETURNING id")
            .bind(system_id)
            .bind(&m.hostname)
            .bind(m.domain_id)
            .bind(Status::Deployed as i64)
            .bind(m.owner_id)
            .bind(m.zone_id)
            .bind(m.pool_id)
            .bind(m.hardware_uuid.as_deref())
            .bind(m.workload_annotations.to_string())
            .bind(now)
            .fetch_one(&mut *tx)
            .await;
        let id: i64 = match r {
            Ok(r) => r.try_get(0)?,
            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                return Err(if d.message().contains("system_id") {
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
        for (i, mac) in m.macs.iter().enumerate() {
            let r = sqlx::query(
                "INSERT INTO interfaces (machine_id, name, mac_address) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(format!("eth{i}"))
            .bind(mac)
            .execute(&mut *tx)
            .await;
            match r {
                Ok(_) => {}
                Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                    return Err(StoreError::Duplicate(format!(
                        "MAC address {mac} already in use."
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
        insert_event(&mut tx, Some(id), system_id, &m.hostname, event, now).await?;
        crate::commit(tx).await?;
        Ok(id)
    }

    /// Link a registered rack to its machine.
    pub async fn set_rack_machine(&self, rack_name: &str, machine_id: Option<i64>) -> Result<()> {
        sqlx::query("UPDATE racks SET machine_id = $1 WHERE name = $2")
            .bind(machine_id)
            .bind(rack_name)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }

    /// A rack by its system id, with the id of its machine.
    pub async fn rack_with_machine(&self, system_id: &str) -> Result<Option<(Rack, Option<i64>)>> {
        let r = sqlx::query("SELECT * FROM racks WHERE system_id = $1")
            .bind(system_id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = r else { return Ok(None) };
        Ok(Some((
            crate::network::rack_from(&r)?,
            r.try_get("machine_id")?,
        )))
    }

    /// Forget a rack (it registers again, as new, if it reads its configuration later).
    /// Delete a rack; the VLANs it served as primary fall to their secondary, and it serves
    /// none as secondary (one transaction).
    pub async fn delete_rack(&self, id: i64, system_id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE vlans SET primary_rack = secondary_rack, secondary_rack = NULL WHERE primary_rack = $1")
            .bind(system_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE vlans SET secondary_rack = NULL WHERE secondary_rack = $1")
            .bind(system_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM racks WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        crate::commit(tx).await?;
        Ok(())
    }
}
