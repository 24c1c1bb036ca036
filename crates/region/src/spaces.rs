//! Network spaces (MAAS ≥ 2.4): a VLAN is in at most one space, and its subnets with it.
//! Juju finds subnets through `spaces/` and places workloads by space.

use crate::catalog::check_name;
use crate::settings::need_admin;
use crate::{Region, RegionError, Result};
use ingot_store::network::Space;
use ingot_store::User;
use ingot_wire::Params;

/// What a VLAN in no space shows as its space (MAAS).
pub const UNDEFINED: &str = "undefined";

impl Region {
    pub async fn spaces(&self) -> Result<Vec<Space>> {
        Ok(self.store.spaces().await?)
    }

    /// A space by id or name.
    pub async fn space(&self, key: &str) -> Result<Space> {
        self.spaces()
            .await?
            .into_iter()
            .find(|s| s.id.to_string() == key || s.name == key)
            .ok_or_else(|| RegionError::NotFound("No Space matches the given query.".into()))
    }

    /// `spaces/` create (admin): `name`, `description`.
    pub async fn create_space(&self, u: &User, p: &Params) -> Result<Space> {
        need_admin(u)?;
        let name = p.get("name").unwrap_or_default().trim();
        check_space_name(name)?;
        let id = self
            .store
            .create_space(name, p.get("description").unwrap_or_default())
            .await?;
        self.space(&id.to_string()).await
    }

    /// `spaces/{id}/` update (admin): `name`, `description`.
    pub async fn update_space(&self, u: &User, key: &str, p: &Params) -> Result<Space> {
        let s = self.space(key).await?;
        need_admin(u)?;
        let name = p.get("name").map(str::trim).unwrap_or(&s.name);
        check_space_name(name)?;
        let description = p.get("description").unwrap_or(&s.description);
        self.store.update_space(s.id, name, description).await?;
        self.space(&s.id.to_string()).await
    }

    /// `spaces/{id}/` delete (admin): its VLANs are then in no space.
    pub async fn delete_space(&self, u: &User, key: &str) -> Result<()> {
        let s = self.space(key).await?;
        need_admin(u)?;
        Ok(self.store.delete_space(s.id).await?)
    }

    /// What a `space` parameter asks, checked before anything changes: None when absent,
    /// `Some(None)` for no space (empty or `undefined`), `Some(Some(id))` for a space by id
    /// or name.
    pub(crate) async fn space_param(&self, p: &Params) -> Result<Option<Option<i64>>> {
        let Some(key) = p.get("space").map(str::trim) else {
            return Ok(None);
        };
        if key.is_empty() || key == UNDEFINED {
            return Ok(Some(None));
        }
        match self.space(key).await {
            Ok(s) => Ok(Some(Some(s.id))),
            Err(RegionError::NotFound(_)) => Err(RegionError::field(
                "space",
                format!("No space named '{key}'."),
            )),
            Err(e) => Err(e),
        }
    }

    /// Put a VLAN (and so its subnets) in the space a checked `space` parameter asked for.
    pub(crate) async fn set_space(&self, vlan_id: i64, asked: Option<Option<i64>>) -> Result<()> {
        match asked {
            Some(space) => Ok(self.store.set_vlan_space(vlan_id, space).await?),
            None => Ok(()),
        }
    }
}

fn check_space_name(name: &str) -> Result<()> {
    if name == UNDEFINED {
        return Err(RegionError::field(
            "name",
            "'undefined' is what a VLAN in no space shows; it cannot name a space.",
        ));
    }
    check_name("Space names", name)
}
