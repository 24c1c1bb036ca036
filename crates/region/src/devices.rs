//! Devices (MAAS `devices/`): nodes Ingot does not provision — the containers and VMs Juju
//! gives addresses — with their interfaces and links, owned by the user who made them and
//! optionally the child of a machine (deleted with it). They are rows of `machines` with
//! node type `DEVICE`, never listed, allocated or acted on as machines.

use crate::{forms, Region, RegionError, Result};
use ingot_store::{Machine, MachineFilter, NewEvent, User, DEVICE};
use ingot_wire::Params;

fn not_found() -> RegionError {
    RegionError::NotFound("No Device matches the given query.".into())
}

impl Region {
    /// `devices/` create (any user; the device is theirs).
    pub async fn create_device(&self, u: &User, p: &Params) -> Result<Machine> {
        forms::create_device(self, u, p).await
    }

    /// The devices the user may see (theirs; all for an administrator), filtered by
    /// `hostname`, `mac_address`, `id` as machines are.
    pub async fn devices(&self, u: &User, mut f: MachineFilter) -> Result<Vec<Machine>> {
        f.node_type = DEVICE;
        if !u.is_admin {
            f.owner_id = Some(u.id);
        }
        Ok(self.store.list_machines(&f).await?)
    }

    /// One device the user may see.
    pub async fn device(&self, u: &User, system_id: &str) -> Result<Machine> {
        let d = self.store.machine(system_id).await?.ok_or_else(not_found)?;
        if d.node_type != DEVICE || !(u.is_admin || d.owner_id == Some(u.id)) {
            return Err(not_found());
        }
        Ok(d)
    }

    /// `PUT devices/{id}/` (its owner or an administrator): `hostname`, `description`,
    /// `domain`, and `zone` (administrators), checked as a machine's are.
    pub async fn update_device(&self, u: &User, system_id: &str, p: &Params) -> Result<Machine> {
        let mut given = Params::new();
        for k in ["hostname", "description", "domain", "zone"] {
            for v in p.get_all(k) {
                given.push(k, v);
            }
        }
        self.retrying(|| async {
            let d = self.device(u, system_id).await?;
            let change = forms::update_change(self, u, &d, &given).await?;
            let ev = NewEvent::info(
                "Device updated",
                format!("update by {}", u.username),
                &u.username,
            );
            self.store
                .apply(&d, &change, &[ev])
                .await
                .map_err(|e| match e {
                    ingot_store::StoreError::Duplicate(msg) => RegionError::field("hostname", msg),
                    e => e.into(),
                })?;
            self.device(u, system_id).await
        })
        .await
    }

    /// `devices/{id}/` delete (its owner or an administrator); its interfaces, links and
    /// addresses go with it.
    pub async fn delete_device(&self, u: &User, system_id: &str) -> Result<()> {
        let d = self.device(u, system_id).await?;
        let ev = NewEvent::info(
            "Device deleted",
            format!("Device {} deleted by {}", d.hostname, u.username),
            &u.username,
        );
        Ok(self.store.delete_machine(&d, &ev).await?)
    }
}
