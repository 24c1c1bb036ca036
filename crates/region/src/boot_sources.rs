//! Boot sources (simplestreams mirrors) and their selections, as administrators keep them.
//! The import that reads them is in `images.rs`.

use crate::settings::need_admin;
use crate::{forms, Region, RegionError, Result};
use ingot_store::sources::{BootSource, BootSourceSelection};
use ingot_store::User;
use ingot_wire::Params;

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

    /// Create a boot source from a form (`url`, `keyring_filename`, `keyring_data` as a
    /// parameter or the file part `keyring_file`).
    pub async fn create_boot_source(
        &self,
        u: &User,
        p: &Params,
        keyring_file: Option<&[u8]>,
    ) -> Result<BootSource> {
        need_admin(u)?;
        let mut s = BootSource::default();
        forms::boot_sources::boot_source(p, keyring_file, &mut s, true)?;
        self.put_boot_source(&s).await
    }

    /// Change a boot source by a form (as [`Region::create_boot_source`]).
    pub async fn update_boot_source(
        &self,
        u: &User,
        id: &str,
        p: &Params,
        keyring_file: Option<&[u8]>,
    ) -> Result<BootSource> {
        let mut s = self.boot_source(u, id).await?;
        forms::boot_sources::boot_source(p, keyring_file, &mut s, false)?;
        self.put_boot_source(&s).await
    }

    /// Save a source whose keyring file, when named, is a file on this region.
    async fn put_boot_source(&self, s: &BootSource) -> Result<BootSource> {
        let f = &s.keyring_filename;
        if !f.is_empty() && !std::path::Path::new(f).is_file() {
            return Err(RegionError::field(
                "keyring_filename",
                format!("'{f}' is not a file on the region."),
            ));
        }
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

    /// Create a selection of `source` from a form (`os`, `release`, `arches`, `subarches`,
    /// `labels`; the lists default to all, `*`).
    pub async fn create_boot_source_selection(
        &self,
        u: &User,
        source: &BootSource,
        p: &Params,
    ) -> Result<BootSourceSelection> {
        need_admin(u)?;
        let mut s = BootSourceSelection {
            id: 0,
            boot_source_id: source.id,
            os: String::new(),
            release: String::new(),
            arches: vec!["*".into()],
            subarches: vec!["*".into()],
            labels: vec!["*".into()],
        };
        forms::boot_sources::selection(p, &mut s, true)?;
        Ok(self.store.put_boot_source_selection(&s).await?)
    }

    /// Change a selection by a form (as [`Region::create_boot_source_selection`]).
    pub async fn update_boot_source_selection(
        &self,
        u: &User,
        mut s: BootSourceSelection,
        p: &Params,
    ) -> Result<BootSourceSelection> {
        need_admin(u)?;
        forms::boot_sources::selection(p, &mut s, false)?;
        Ok(self.store.put_boot_source_selection(&s).await?)
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
