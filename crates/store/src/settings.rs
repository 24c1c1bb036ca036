//! Settings: named values the region keeps (`settings` table).

use crate::{Result, Store};
use sqlx::Row;

impl Store {
    // ---------------------------------------------------------------- settings
    pub async fn get_setting(&self, name: &str) -> Result<Option<String>> {
        let r = sqlx::query("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.map(|r| r.try_get::<String, _>(0)).transpose()?)
    }

    /// Every stored setting, by name (one query, for pages that show them all).
    pub async fn all_settings(&self) -> Result<std::collections::HashMap<String, String>> {
        let rows = sqlx::query("SELECT name, value FROM settings")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    pub async fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
            .bind(name)
            .bind(value)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }

    /// Set a setting only if it has no value yet (first writer wins across regions).
    pub async fn set_setting_if_absent(&self, name: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .execute(self.writes()?)
        .await?;
        Ok(())
    }
}
