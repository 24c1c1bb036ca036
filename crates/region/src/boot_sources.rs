//! Boot sources (simplestreams mirrors) and their selections, as administrators keep them.
//! The import that reads them is in `images.rs`.

use crate::settings::need_admin;
use crate::{Region, RegionError, Result};
use ingot_store::sources::{BootSource, BootSourceSelection};
use ingot_store::User;

/// An id from a path: anything that is not a number is simply not found.
pub fn path_id(s: &str) -> Result<i64> {
    s.parse()
        .map_err(|_| RegionError::NotFound(format!("No object with id '{s}'.")))
}

impl Region {
    pub async fn boot_sources(&self, u: &User) -> Result<Vec<BootSource>> {
        need_admin(u)?;
        Ok(self.store.boot_sources().await?)
    }

    pub async fn boot_source(&self, u: &User, id: &str) -> Result<BootSource> {
        need_admin(u)?;
        let id = path_id(id)?;
        self.store
            .boot_source(id)
            .await?
            .ok_or_else(|| RegionError::NotFound(format!("No boot source {id}.")))
    }

    /// Create (id 0) or change a boot source.
    pub async fn put_boot_source(&self, u: &User, s: &BootSource) -> Result<BootSource> {
        need_admin(u)?;
        Ok(self.store.put_boot_source(s).await?)
    }

    pub async fn delete_boot_source(&self, u: &User, id: &str) -> Result<()> {
        let s = self.boot_source(u, id).await?;
        Ok(self.store.delete_boot_source(s.id).await?)
    }

    pub async fn boot_source_selections(
        &self,
        u: &User,
        source: &BootSource,
    ) -> Result<Vec<BootSourceSelection>> {
        need_admin(u)?;
        Ok(self.store.boot_source_selections(source.id).await?)
    }

    pub async fn boot_source_selection(
        &self,
        u: &User,
        source: &BootSource,
        id: &str,
    ) -> Result<BootSourceSelection> {
        need_admin(u)?;
        let sid = path_id(id)?;
        self.store
            .boot_source_selection(source.id, sid)
            .await?
            .ok_or_else(|| {
                RegionError::NotFound(format!("No selection {sid} in boot source {}.", source.id))
            })
    }

    /// Create (id 0) or change a selection.
    pub async fn put_boot_source_selection(
        &self,
        u: &User,
        s: &BootSourceSelection,
    ) -> Result<BootSourceSelection> {
        need_admin(u)?;
        Ok(self.store.put_boot_source_selection(s).await?)
    }

    pub async fn delete_boot_source_selection(
        &self,
        u: &User,
        s: &BootSourceSelection,
    ) -> Result<()> {
        need_admin(u)?;
        Ok(self
            .store
            .delete_boot_source_selection(s.boot_source_id, s.id)
            .await?)
    }
}
