//! Settings: read with their defaults and changed with their checks, both from
//! `ingot_core::settings`; the only place the `settings` table is read for a named setting.

use crate::{Region, RegionError, Result};
use ingot_core::settings::{self, Value};
use ingot_core::storage::Layout;
use ingot_store::User;

/// Only administrators change settings.
pub(crate) fn need_admin(u: &User) -> Result<()> {
    if u.is_admin {
        Ok(())
    } else {
        Err(RegionError::Forbidden(
            "This action needs administrator rights.".into(),
        ))
    }
}

impl Region {
    /// The value of setting `name` in effect (its default when unset).
    pub async fn get_config(&self, name: &str) -> Result<Value> {
        let s = settings::find(name)?;
        Ok(s.read(self.store.get_setting(s.name).await?.as_deref()))
    }

    /// Every setting of the core's table with its value in effect, in the table's order, read
    /// in one query.
    pub async fn all_configs(&self) -> Result<Vec<(&'static settings::Setting, Value)>> {
        let stored = self.store.all_settings().await?;
        Ok(settings::SETTINGS
            .iter()
            .map(|s| (s, s.read(stored.get(s.name).map(String::as_str))))
            .collect())
    }

    /// `set_config`: an administrator sets `name` to `raw` once it passes the setting's check.
    pub async fn set_config(&self, u: &User, name: &str, raw: &str) -> Result<()> {
        need_admin(u)?;
        let s = settings::find(name)?;
        let value = s.check(raw)?;
        self.store.set_setting(s.name, &value).await?;
        if s.name == "max_concurrent_deployments" {
            // A higher limit frees slots at once.
            self.admit_deployments().await?;
        }
        Ok(())
    }

    /// A whole-number setting.
    pub(crate) async fn int_setting(&self, name: &str) -> Result<i64> {
        match self.get_config(name).await? {
            Value::Int(v) => Ok(v),
            v => Err(RegionError::BadRequest(format!(
                "{name} is not a number: {v:?}"
            ))),
        }
    }

    /// A boolean setting.
    pub(crate) async fn bool_setting(&self, name: &str) -> Result<bool> {
        Ok(matches!(self.get_config(name).await?, Value::Bool(true)))
    }

    /// A text setting, `None` when it is empty.
    pub(crate) async fn text_setting(&self, name: &str) -> Result<Option<String>> {
        Ok(match self.get_config(name).await? {
            Value::Text(t) if !t.trim().is_empty() => Some(t.trim().to_string()),
            _ => None,
        })
    }

    /// A text setting as an administrator set it, `None` while it is unset (its default) or
    /// cleared.
    pub(crate) async fn set_text_setting(&self, name: &str) -> Result<Option<String>> {
        let s = settings::find(name)?;
        Ok(self
            .store
            .get_setting(s.name)
            .await?
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty()))
    }

    /// `node_timeout` in minutes.
    pub async fn node_timeout_min(&self) -> Result<i64> {
        self.int_setting("node_timeout").await
    }

    /// `max_concurrent_deployments` (0: no limit).
    pub async fn deployment_limit(&self) -> Result<i64> {
        self.int_setting("max_concurrent_deployments").await
    }

    /// `default_storage_layout` (flat unless set).
    pub async fn default_storage_layout(&self) -> Result<Layout> {
        let t = self.text_setting("default_storage_layout").await?;
        // The table's default is a layout; a stored value was checked when it was set.
        Ok(t.as_deref().and_then(Layout::parse).unwrap_or(Layout::Flat))
    }
}
