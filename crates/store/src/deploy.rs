//! Deployment records: uploaded boot resources (the OS images machines are deployed with), the
//! addresses AUTO links get at deploy time, what a release takes back, and the parameter
//! values of script results (`wipe-disks`).

use crate::{map_unique, now_ms, Result, Store, StoreError};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

/// An uploaded boot resource: one set holding one file (`filetype`), whose bytes are stored
/// content-addressed by `sha256` once the upload is complete and verified.
#[derive(Debug, Clone, PartialEq)]
pub struct BootResource {
    pub id: i64,
    /// `os/series`, e.g. `custom/ingot-test`.
    pub name: String,
    /// `arch/subarch`, e.g. `amd64/generic`.
    pub architecture: String,
    pub title: String,
    /// `root-tgz` or `ddraw` (MAAS's stored names).
    pub filetype: String,
    /// Expected SHA-256 (lower-case hex) of the whole file.
    pub sha256: String,
    /// Expected size in bytes.
    pub size: i64,
    /// Bytes received so far.
    pub uploaded: i64,
    /// Received in full and verified (digest and size).
    pub complete: bool,
    pub created: i64,
    pub updated: i64,
    /// `uploaded`, or `synced` (imported from a boot source).
    pub rtype: String,
    /// The stream's version name of a synced resource (empty for uploads).
    pub version: String,
    /// The set's other files of a synced resource: JSON list of `{ftype, sha256, size, path}`.
    pub extra: String,
}

fn resource_from(r: &AnyRow) -> Result<BootResource> {
    Ok(BootResource {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        architecture: r.try_get("architecture")?,
        title: r.try_get("title")?,
        filetype: r.try_get("filetype")?,
        sha256: r.try_get("sha256")?,
        size: r.try_get("size")?,
        uploaded: r.try_get("uploaded")?,
        complete: r.try_get::<i64, _>("complete")? != 0,
        created: r.try_get("created")?,
        updated: r.try_get("updated")?,
        rtype: r.try_get("rtype")?,
        version: r.try_get("version")?,
        extra: r.try_get("extra")?,
    })
}

/// MAAS's IPADDRESS_TYPE for an address an AUTO link got at deploy time.
pub const ALLOC_AUTO: i64 = 0;

impl Store {
    // ---------------------------------------------------------------- boot resources
    pub async fn boot_resources(&self) -> Result<Vec<BootResource>> {
        let rows = sqlx::query("SELECT * FROM boot_resources ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(resource_from).collect()
    }

    pub async fn boot_resource(&self, id: i64) -> Result<Option<BootResource>> {
        let r = sqlx::query("SELECT * FROM boot_resources WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(resource_from).transpose()
    }

    /// Create the resource `name`/`architecture`, or start a new upload of it (a new file
    /// replaces the old one, as a new set does in MAAS). `complete` when the bytes are already
    /// stored (same digest and size).
    pub async fn put_boot_resource(&self, b: &BootResource) -> Result<BootResource> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE boot_resources SET title = $1, filetype = $2, sha256 = $3, size = $4, uploaded = $5, complete = $6, updated = $7, rtype = $10, version = $11, extra = $12 WHERE name = $8 AND architecture = $9")
            .bind(&b.title)
            .bind(&b.filetype)
            .bind(&b.sha256)
            .bind(b.size)
            .bind(b.uploaded)
            .bind(b.complete as i64)
            .bind(now)
            .bind(&b.name)
            .bind(&b.architecture)
            .bind(&b.rtype)
            .bind(&b.version)
            .bind(&b.extra)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            sqlx::query("INSERT INTO boot_resources (name, architecture, title, filetype, sha256, size, uploaded, complete, created, updated, rtype, version, extra) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12)")
                .bind(&b.name)
                .bind(&b.architecture)
                .bind(&b.title)
                .bind(&b.filetype)
                .bind(&b.sha256)
                .bind(b.size)
                .bind(b.uploaded)
                .bind(b.complete as i64)
                .bind(now)
                .bind(&b.rtype)
                .bind(&b.version)
                .bind(&b.extra)
                .execute(&mut *tx)
                .await
                .map_err(|e| map_unique(e, &format!("Boot resource {} already exists.", b.name)))?;
        }
        let r = sqlx::query("SELECT * FROM boot_resources WHERE name = $1 AND architecture = $2")
            .bind(&b.name)
            .bind(&b.architecture)
            .fetch_one(&mut *tx)
            .await?;
        crate::commit(tx).await?;
        resource_from(&r)
    }

    /// Record upload progress: `uploaded` bytes received, `complete` once verified. Only when
    /// the row still expects `sha256` (a new upload of the resource started meanwhile wins).
    pub async fn set_boot_resource_progress(
        &self,
        id: i64,
        sha256: &str,
        uploaded: i64,
        complete: bool,
    ) -> Result<()> {
        let n = sqlx::query("UPDATE boot_resources SET uploaded = $1, complete = $2, updated = $3 WHERE id = $4 AND sha256 = $5")
            .bind(uploaded)
            .bind(complete as i64)
            .bind(now_ms())
            .bind(id)
            .bind(sha256)
            .execute(self.writes()?)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict);
        }
        Ok(())
    }

    pub async fn delete_boot_resource(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM boot_resources WHERE id = $1")
            .bind(id)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }

    // ---------------------------------------------------------------- deploy-time addresses
    /// Give back an AUTO link's address (a refused deployment's), in one transaction.
    pub async fn free_link_staticip(&self, link_id: i64, staticip_id: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE interface_links SET staticip_id = NULL WHERE id = $1")
            .bind(link_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM staticips WHERE id = $1")
            .bind(staticip_id)
            .execute(&mut *tx)
            .await?;
        crate::commit(tx).await?;
        Ok(())
    }

    // ---------------------------------------------------------------- script parameters
    /// Set the parameter values of the result `name` in a machine's `result_set`.
    pub async fn set_result_parameters(
        &self,
        machine_id: i64,
        result_set: &str,
        name: &str,
        params: &Value,
    ) -> Result<()> {
        sqlx::query("UPDATE script_results SET parameters = $1 WHERE machine_id = $2 AND result_set = $3 AND name = $4")
            .bind(params.to_string())
            .bind(machine_id)
            .bind(result_set)
            .bind(name)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }

    /// The parameter values of a result (`{}` when none were set).
    pub async fn result_parameters(&self, result_id: i64) -> Result<Value> {
        let r = sqlx::query("SELECT parameters FROM script_results WHERE id = $1")
            .bind(result_id)
            .fetch_optional(&self.pool)
            .await?;
        let text: String = match r {
            Some(r) => r.try_get(0)?,
            None => return Ok(Value::Object(Default::default())),
        };
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("parameters: {e}")))
    }
}

/// What a release takes back from a machine's network, in the release's own transaction
/// (`Change::release_network`): the addresses its AUTO links got at deploy time, and the
/// interfaces that are not physical (bonds, VLANs, bridges made for the deployment).
pub(crate) async fn release_machine_network(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    machine_id: i64,
) -> Result<()> {
    let auto: Vec<(i64, i64)> = sqlx::query("SELECT l.id, l.staticip_id FROM interface_links l JOIN interfaces i ON i.id = l.interface_id WHERE i.machine_id = $1 AND l.mode = 'auto' AND l.staticip_id IS NOT NULL")
            .bind(machine_id)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_>>()?;
    for (link, ip) in &auto {
        sqlx::query("UPDATE interface_links SET staticip_id = NULL WHERE id = $1")
            .bind(link)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM staticips WHERE id = $1")
            .bind(ip)
            .execute(&mut **tx)
            .await?;
    }
    // Links of the removed interfaces go with them (ON DELETE CASCADE is not relied on:
    // SQLite enforces it only with foreign keys on), and so do their addresses.
    let virt: Vec<i64> =
        sqlx::query("SELECT id FROM interfaces WHERE machine_id = $1 AND type <> 'physical'")
            .bind(machine_id)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect::<Result<_>>()?;
    crate::network::teardown_interfaces(tx, &virt, true).await?;
    // Its DHCP leases no longer name it in DNS.
    sqlx::query("DELETE FROM dhcp_leases WHERE mac IN (SELECT mac_address FROM interfaces WHERE machine_id = $1)")
            .bind(machine_id)
            .execute(&mut **tx)
            .await?;
    Ok(())
}
