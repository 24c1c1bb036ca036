//! `package_repositories`: the apt sources deployed machines receive (MAAS
//! `package-repositories/`), the two default Ubuntu archives among them.

use crate::{found, map_unique, now_ms, Result, Store};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackageRepository {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub distributions: Vec<String>,
    pub disabled_pockets: Vec<String>,
    pub disabled_components: Vec<String>,
    pub disable_sources: bool,
    pub components: Vec<String>,
    pub arches: Vec<String>,
    pub key: String,
    pub enabled: bool,
    /// `main_archive` and `ports_archive`: never deleted or disabled.
    pub default: bool,
}

fn words(r: &AnyRow, col: &str) -> Result<Vec<String>> {
    let t: String = r.try_get(col)?;
    Ok(t.split_whitespace().map(str::to_string).collect())
}

fn repo_from(r: &AnyRow) -> Result<PackageRepository> {
    Ok(PackageRepository {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        url: r.try_get("url")?,
        distributions: words(r, "distributions")?,
        disabled_pockets: words(r, "disabled_pockets")?,
        disabled_components: words(r, "disabled_components")?,
        disable_sources: r.try_get::<i64, _>("disable_sources")? != 0,
        components: words(r, "components")?,
        arches: words(r, "arches")?,
        key: r.try_get("key")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        default: r.try_get::<i64, _>("is_default")? != 0,
    })
}

impl Store {
    pub async fn package_repositories(&self) -> Result<Vec<PackageRepository>> {
        let rows = sqlx::query("SELECT * FROM package_repositories ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(repo_from).collect()
    }

    pub async fn package_repository(&self, id: i64) -> Result<Option<PackageRepository>> {
        let r = sqlx::query("SELECT * FROM package_repositories WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(repo_from).transpose()
    }

    /// Insert (`id` 0) or replace the repository `r.id`; the repository as stored.
    pub async fn save_package_repository(
        &self,
        r: &PackageRepository,
    ) -> Result<PackageRepository> {
        let dup = |e| {
            map_unique(
                e,
                &format!("A package repository named '{}' already exists.", r.name),
            )
        };
        type Q = sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments<'static>>;
        // The fields both statements write, as $1 to $10.
        let fields = |q: Q| {
            q.bind(r.name.clone())
                .bind(r.url.clone())
                .bind(r.distributions.join(" "))
                .bind(r.disabled_pockets.join(" "))
                .bind(r.disabled_components.join(" "))
                .bind(r.disable_sources as i64)
                .bind(r.components.join(" "))
                .bind(r.arches.join(" "))
                .bind(r.key.clone())
                .bind(r.enabled as i64)
        };
        let id = if r.id == 0 {
            let q = sqlx::query("INSERT INTO package_repositories (name, url, distributions, disabled_pockets, disabled_components, disable_sources, components, arches, key, enabled, is_default, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11) RETURNING id");
            let row = fields(q)
                .bind(now_ms())
                .fetch_one(self.writes()?)
                .await
                .map_err(dup)?;
            row.try_get(0)?
        } else {
            let q = sqlx::query("UPDATE package_repositories SET name = $1, url = $2, distributions = $3, disabled_pockets = $4, disabled_components = $5, disable_sources = $6, components = $7, arches = $8, key = $9, enabled = $10 WHERE id = $11");
            let done = fields(q)
                .bind(r.id)
                .execute(self.writes()?)
                .await
                .map_err(dup)?;
            found(done.rows_affected())?;
            r.id
        };
        self.package_repository(id)
            .await?
            .ok_or(crate::StoreError::NotFound)
    }

    pub async fn delete_package_repository(&self, id: i64) -> Result<()> {
        let done = sqlx::query("DELETE FROM package_repositories WHERE id = $1 AND is_default = 0")
            .bind(id)
            .execute(self.writes()?)
            .await?;
        found(done.rows_affected())
    }
}
