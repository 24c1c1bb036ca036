//! Boot sources (simplestreams mirrors with the keyring their signed files are checked
//! against) and their selections (which OS / release / architectures to import).

use crate::{map_unique, now_ms, Result, Store};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BootSource {
    pub id: i64,
    pub url: String,
    /// A keyring file on the region's host.
    pub keyring_filename: String,
    /// The keyring's bytes, base64 (binary or armored keyring).
    pub keyring_data: String,
    pub created: i64,
    pub updated: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BootSourceSelection {
    pub id: i64,
    pub boot_source_id: i64,
    pub os: String,
    pub release: String,
    pub arches: Vec<String>,
    pub subarches: Vec<String>,
    pub labels: Vec<String>,
}

fn source_from(r: &AnyRow) -> Result<BootSource> {
    Ok(BootSource {
        id: r.try_get("id")?,
        url: r.try_get("url")?,
        keyring_filename: r.try_get("keyring_filename")?,
        keyring_data: r.try_get("keyring_data")?,
        created: r.try_get("created")?,
        updated: r.try_get("updated")?,
    })
}

fn list(r: &AnyRow, col: &str) -> Result<Vec<String>> {
    let s: String = r.try_get(col)?;
    Ok(serde_json::from_str(&s).unwrap_or_else(|_| vec!["*".into()]))
}

fn selection_from(r: &AnyRow) -> Result<BootSourceSelection> {
    Ok(BootSourceSelection {
        id: r.try_get("id")?,
        boot_source_id: r.try_get("boot_source_id")?,
        os: r.try_get("os")?,
        release: r.try_get("release")?,
        arches: list(r, "arches")?,
        subarches: list(r, "subarches")?,
        labels: list(r, "labels")?,
    })
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[\"*\"]".into())
}

impl Store {
    pub async fn boot_sources(&self) -> Result<Vec<BootSource>> {
        let rows = sqlx::query("SELECT * FROM boot_sources ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(source_from).collect()
    }

    pub async fn boot_source(&self, id: i64) -> Result<Option<BootSource>> {
        let r = sqlx::query("SELECT * FROM boot_sources WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(source_from).transpose()
    }

    /// Create (`id` 0) or update a boot source.
    pub async fn put_boot_source(&self, s: &BootSource) -> Result<BootSource> {
        let now = now_ms();
        let what = format!("A boot source with url {} already exists.", s.url);
        let id = if s.id == 0 {
            sqlx::query("INSERT INTO boot_sources (url, keyring_filename, keyring_data, created, updated) VALUES ($1, $2, $3, $4, $4) RETURNING id")
                .bind(&s.url)
                .bind(&s.keyring_filename)
                .bind(&s.keyring_data)
                .bind(now)
                .fetch_one(self.writes()?)
                .await
                .map_err(|e| map_unique(e, &what))?
                .try_get::<i64, _>(0)?
        } else {
            sqlx::query("UPDATE boot_sources SET url = $1, keyring_filename = $2, keyring_data = $3, updated = $4 WHERE id = $5")
                .bind(&s.url)
                .bind(&s.keyring_filename)
                .bind(&s.keyring_data)
                .bind(now)
                .bind(s.id)
                .execute(self.writes()?)
                .await
                .map_err(|e| map_unique(e, &what))?;
            s.id
        };
        self.boot_source(id)
            .await?
            .ok_or(crate::StoreError::Conflict)
    }

    /// Delete a boot source and its selections (the resources it imported stay).
    pub async fn delete_boot_source(&self, id: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM boot_source_selections WHERE boot_source_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM boot_sources WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        crate::commit(tx).await?;
        Ok(())
    }

    pub async fn boot_source_selections(&self, source: i64) -> Result<Vec<BootSourceSelection>> {
        let rows = sqlx::query(
            "SELECT * FROM boot_source_selections WHERE boot_source_id = $1 ORDER BY id",
        )
        .bind(source)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(selection_from).collect()
    }

    pub async fn boot_source_selection(
        &self,
        source: i64,
        id: i64,
    ) -> Result<Option<BootSourceSelection>> {
        let r = sqlx::query(
            "SELECT * FROM boot_source_selections WHERE boot_source_id = $1 AND id = $2",
        )
        .bind(source)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(selection_from).transpose()
    }

    /// Create (`id` 0) or update a selection.
    pub async fn put_boot_source_selection(
        &self,
        s: &BootSourceSelection,
    ) -> Result<BootSourceSelection> {
        let what = format!(
            "Boot source selection for {}/{} already exists.",
            s.os, s.release
        );
        let id = if s.id == 0 {
            sqlx::query("INSERT INTO boot_source_selections (boot_source_id, os, release, arches, subarches, labels, created) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
                .bind(s.boot_source_id)
                .bind(&s.os)
                .bind(&s.release)
                .bind(json_list(&s.arches))
                .bind(json_list(&s.subarches))
                .bind(json_list(&s.labels))
                .bind(now_ms())
                .fetch_one(self.writes()?)
                .await
                .map_err(|e| map_unique(e, &what))?
                .try_get::<i64, _>(0)?
        } else {
            sqlx::query("UPDATE boot_source_selections SET os = $1, release = $2, arches = $3, subarches = $4, labels = $5 WHERE id = $6 AND boot_source_id = $7")
                .bind(&s.os)
                .bind(&s.release)
                .bind(json_list(&s.arches))
                .bind(json_list(&s.subarches))
                .bind(json_list(&s.labels))
                .bind(s.id)
                .bind(s.boot_source_id)
                .execute(self.writes()?)
                .await
                .map_err(|e| map_unique(e, &what))?;
            s.id
        };
        self.boot_source_selection(s.boot_source_id, id)
            .await?
            .ok_or(crate::StoreError::Conflict)
    }

    pub async fn delete_boot_source_selection(&self, source: i64, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM boot_source_selections WHERE boot_source_id = $1 AND id = $2")
            .bind(source)
            .bind(id)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }
}
