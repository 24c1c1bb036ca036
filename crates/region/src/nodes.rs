//! Every kind of node together (MAAS `nodes/`): machines, controllers and devices, listed,
//! read, deleted and moved between zones by what they are.

use crate::settings::need_admin;
use crate::{Region, RegionError, Result};
use ingot_store::{Machine, MachineFilter, User, DEVICE};
use ingot_wire::Params;

impl Region {
    /// The machines (controllers among them) and devices `user` may see, filtered as machines
    /// are.
    pub async fn nodes(&self, user: &User, f: MachineFilter) -> Result<Vec<Machine>> {
        let mut all = self.list_machines(user, f.clone()).await?;
        all.extend(self.devices(user, f).await?);
        all.sort_by_key(|m| m.id);
        Ok(all)
    }

    /// `DELETE nodes/{id}/`: a device as devices are deleted, anything else as a machine.
    pub async fn delete_node(&self, user: &User, system_id: &str) -> Result<()> {
        let n = self.node_for(user, system_id).await?;
        if n.node_type == DEVICE {
            self.delete_device(user, system_id).await
        } else {
            self.delete_machine(user, system_id).await
        }
    }

    /// `nodes/?op=set_zone` and `machines/?op=set_zone` (admin): `zone`, and `nodes` (system
    /// ids, repeated). Every node and the zone are checked before any node moves; each move
    /// is an update of that node with its event.
    pub async fn set_zone(&self, user: &User, p: &Params) -> Result<Vec<Machine>> {
        need_admin(user)?;
        let zone = p.get("zone").map(str::trim).unwrap_or("");
        if zone.is_empty() {
            return Err(RegionError::field("zone", "This field is required."));
        }
        self.named(ingot_store::NamedKind::Zone, zone)
            .await
            .map_err(|_| RegionError::field("zone", format!("No zone named '{zone}'.")))?;
        let ids = crate::forms::list(p, "nodes");
        let mut found = Vec::new();
        let mut unknown = Vec::new();
        for sid in &ids {
            match self.store.machine(sid).await? {
                Some(n) => found.push(n),
                None => unknown.push(sid.as_str()),
            }
        }
        if !unknown.is_empty() {
            return Err(RegionError::field(
                "nodes",
                format!("Unknown node(s): {}.", unknown.join(", ")),
            ));
        }
        let mut zp = Params::new();
        zp.push("zone", zone);
        let mut out = Vec::new();
        for n in &found {
            out.push(if n.node_type == DEVICE {
                self.update_device(user, &n.system_id, &zp).await?
            } else {
                self.update_machine(user, &n.system_id, &zp).await?
            });
        }
        Ok(out)
    }
}
