//! Controllers as machines (seed "Users want deployed controllers to be visible"): every host
//! running an Ingot region or rack is a machine in the machine list.
//!
//! * When the region starts (`ingot serve`) and when a rack registers (its first configuration
//!   read, or any read while it has no machine), the host's machine is found — by hardware
//!   UUID, then any of its MACs, then its hostname (spec §8) — or created: DEPLOYED, no
//!   commissioning, no power driver, not netbooting, owned by the first administrator (none when
//!   there is no administrator yet).
//! * The machine is locked and carries the workload annotation `ingot_controller` = `region`,
//!   `rack` or `region+rack` (one machine for an all-in-one host). A machine found in another
//!   status is linked, locked and annotated; its status is left alone.
//! * Removing a controller role (`DELETE rackcontrollers/{id}/`) takes the role out of the
//!   annotation; when none is left the machine is unlocked and the annotation removed, and a
//!   machine without a BMC is deleted. "Without a BMC" means power type empty or `manual`:
//!   there is nothing Ingot could power it through, so nothing to reuse it with.
//!   A rack that is still running registers again at its next configuration read, as MAAS's
//!   rackd does.

use crate::{Region, RegionError, Result};
use ingot_store::controllers::NewControllerMachine;
use ingot_store::{Change, Machine, NewEvent, StoreError, User};
use serde_json::Value;

/// The workload annotation naming a machine's controller roles.
pub const ANNOTATION: &str = "ingot_controller";

/// A controller role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Region,
    Rack,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Region => "region",
            Role::Rack => "rack",
        }
    }
}

/// What identifies a controller host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ControllerHost {
    pub hostname: String,
    pub hardware_uuid: Option<String>,
    pub macs: Vec<String>,
}

/// The roles in an annotation value (`region+rack`).
fn roles_of(m: &Machine) -> Vec<&'static str> {
    let v = m
        .workload_annotations
        .get(ANNOTATION)
        .and_then(Value::as_str)
        .unwrap_or("");
    ["region", "rack"]
        .into_iter()
        .filter(|r| v.split('+').any(|x| x.trim() == *r))
        .collect()
}

fn annotation_value(roles: &[&str]) -> String {
    ["region", "rack"]
        .into_iter()
        .filter(|r| roles.contains(r))
        .collect::<Vec<_>>()
        .join("+")
}

/// The annotations of `m` with `roles` as its controller roles (none: the key removed).
fn with_roles(m: &Machine, roles: &[&str]) -> Value {
    let mut ann = m
        .workload_annotations
        .as_object()
        .cloned()
        .unwrap_or_default();
    if roles.is_empty() {
        ann.remove(ANNOTATION);
    } else {
        ann.insert(ANNOTATION.into(), Value::String(annotation_value(roles)));
    }
    Value::Object(ann)
}

/// A machine hostname from a host name: its first label, lower-cased, invalid characters
/// replaced by hyphens.
pub fn machine_hostname(host: &str) -> String {
    let label = host
        .trim()
        .split('.')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let cleaned: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    let cleaned = cleaned.trim_matches('-').to_string();
    if cleaned.is_empty() {
        "controller".into()
    } else {
        cleaned
    }
}

/// No BMC to power the machine through: power type empty or `manual`.
pub fn has_bmc(m: &Machine) -> bool {
    !(m.power_type.is_empty() || m.power_type == "manual")
}

impl Region {
    /// Find or create the machine of a controller host and give it `role` (see the module
    /// documentation). Returns the machine.
    pub async fn register_controller(&self, role: Role, host: &ControllerHost) -> Result<Machine> {
        let hostname = machine_hostname(&host.hostname);
        let macs: Vec<String> = host
            .macs
            .iter()
            .filter_map(|m| ingot_core::ids::normalize_mac(m))
            .collect();
        let uuid = host
            .hardware_uuid
            .as_deref()
            .and_then(ingot_core::inventory::normalize_hardware_uuid);
        for _ in 0..8 {
            let found = self
                .store
                .find_host_machine(uuid.as_deref(), &macs, &hostname)
                .await?;
            match found {
                Some(m) => {
                    let mut roles = roles_of(&m);
                    if roles.contains(&role.name()) && m.locked {
                        return Ok(m);
                    }
                    if !roles.contains(&role.name()) {
                        roles.push(role.name());
                    }
                    let c = Change {
                        locked: Some(true),
                        workload_annotations: Some(with_roles(&m, &roles)),
                        ..Default::default()
                    };
                    let ev = NewEvent::info(
                        "Controller",
                        format!(
                            "Linked to the Ingot {} controller on this host; locked",
                            role.name()
                        ),
                        "",
                    );
                    match self.store.apply(&m, &c, &[ev]).await {
                        Ok(_) => return self.load(&m.system_id).await,
                        Err(StoreError::Conflict) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                None => {
                    let (zone_id, pool_id, domain_id) = self.defaults().await?;
                    let owner_id = self
                        .store
                        .list_users()
                        .await?
                        .into_iter()
                        .filter(|u| u.is_admin)
                        .map(|u| u.id)
                        .min();
                    let nm = NewControllerMachine {
                        hostname: hostname.clone(),
                        domain_id,
                        zone_id,
                        pool_id,
                        owner_id,
                        hardware_uuid: uuid.clone(),
                        macs: macs.clone(),
                        workload_annotations: with_roles_value(&[role.name()]),
                    };
                    let ev = NewEvent::info(
                        "Controller",
                        format!(
                            "Added as deployed: the Ingot {} controller runs on this host; locked",
                            role.name()
                        ),
                        "",
                    );
                    match self.store.insert_controller_machine(&nm, &ev).await {
                        Ok(m) => return Ok(m),
                        // Created (or the MAC/hostname taken) meanwhile: find it again.
                        Err(StoreError::Duplicate(_)) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Err(RegionError::Unavailable(
            "The controller's machine kept changing; try again.".into(),
        ))
    }

    /// A rack registered (or read its configuration): make sure its host's machine has the rack
    /// role and is linked to it. Cheap when it already is (every configuration read calls this).
    pub async fn register_rack(&self, rack_name: &str, host: &ControllerHost) -> Result<()> {
        let linked = self
            .store
            .racks()
            .await?
            .into_iter()
            .find(|r| r.name == rack_name);
        let Some(rack) = linked else { return Ok(()) };
        if let Some((_, Some(id))) = self.store.rack_with_machine(&rack.system_id).await? {
            if let Some(m) = self.store.machine_by_id(id).await? {
                if roles_of(&m).contains(&"rack") {
                    return Ok(());
                }
            }
        }
        let m = self.register_controller(Role::Rack, host).await?;
        self.store.set_rack_machine(rack_name, Some(m.id)).await?;
        Ok(())
    }

    /// Take `role` from a controller machine: unlocked and unannotated when no role is left, and
    /// deleted then if it has no BMC.
    pub async fn remove_controller_role(
        &self,
        machine_id: i64,
        role: Role,
        who: &str,
    ) -> Result<()> {
        self.retrying(|| async {
            let Some(m) = self.store.machine_by_id(machine_id).await? else {
                return Ok(());
            };
            let roles: Vec<&str> = roles_of(&m)
                .into_iter()
                .filter(|r| *r != role.name())
                .collect();
            if roles.is_empty() && !has_bmc(&m) {
                let ev = NewEvent::info(
                    "Machine deleted",
                    format!(
                        "The Ingot {} controller was removed and the machine has no BMC: deleted",
                        role.name()
                    ),
                    who,
                );
                return Ok(self.store.delete_machine(&m, &ev).await?);
            }
            let c = Change {
                locked: if roles.is_empty() { Some(false) } else { None },
                workload_annotations: Some(with_roles(&m, &roles)),
                ..Default::default()
            };
            let what = if roles.is_empty() {
                "unlocked"
            } else {
                "still a controller, locked"
            };
            let ev = NewEvent::info(
                "Controller",
                format!("The Ingot {} controller was removed: {what}", role.name()),
                who,
            );
            self.store.apply(&m, &c, &[ev]).await?;
            Ok(())
        })
        .await
    }

    /// `DELETE rackcontrollers/{id}/` (admin): forget the rack and take the rack role from its
    /// machine.
    pub async fn delete_rack_controller(&self, user: &User, system_id: &str) -> Result<()> {
        if !user.is_admin {
            return Err(RegionError::Forbidden(
                "Removing a rack controller needs administrator rights.".into(),
            ));
        }
        let (rack, machine_id) =
            self.store
                .rack_with_machine(system_id)
                .await?
                .ok_or_else(|| {
                    RegionError::NotFound("No rack controller matches the given query.".into())
                })?;
        if let Some(id) = machine_id {
            self.remove_controller_role(id, Role::Rack, &user.username)
                .await?;
        }
        self.store.delete_rack(rack.id, &rack.system_id).await?;
        Ok(())
    }
}

impl Region {
    /// The machines the region runs on (annotated with the region role).
    pub async fn region_controllers(&self) -> Result<Vec<Machine>> {
        Ok(self
            .store
            .list_machines(&ingot_store::MachineFilter::default())
            .await?
            .into_iter()
            .filter(|m| roles_of(m).contains(&"region"))
            .collect())
    }

    /// `DELETE regioncontrollers/{id}/` (admin): the machine loses the region role (unlocked,
    /// or deleted without a BMC, when no role is left). A region still running on that host
    /// records itself again when it restarts.
    pub async fn delete_region_controller(&self, user: &User, system_id: &str) -> Result<()> {
        if !user.is_admin {
            return Err(RegionError::Forbidden(
                "Removing a region controller needs administrator rights.".into(),
            ));
        }
        let m = self.load(system_id).await?;
        if !roles_of(&m).contains(&"region") {
            return Err(RegionError::NotFound(
                "No region controller matches the given query.".into(),
            ));
        }
        self.remove_controller_role(m.id, Role::Region, &user.username)
            .await
    }
}

fn with_roles_value(roles: &[&str]) -> Value {
    let mut ann = serde_json::Map::new();
    ann.insert(ANNOTATION.into(), Value::String(annotation_value(roles)));
    Value::Object(ann)
}

impl Region {
    /// The machine a rack controller runs on, for a power or hardware op on the controller
    /// (administrators only for one that changes something or reads power secrets, checked
    /// first).
    pub async fn rack_host_machine(&self, user: &User, rack: &str, write: bool) -> Result<String> {
        if write && !user.is_admin {
            return Err(RegionError::Forbidden(
                "Acting on a rack controller needs administrator rights.".into(),
            ));
        }
        let c = self.rack_controller(rack).await?;
        c.machine.ok_or_else(|| {
            RegionError::BadRequest(format!(
                "Rack controller {} has no machine record (it did not report its host).",
                c.rack.name
            ))
        })
    }

    /// The machine of a region controller (its system id is the machine's), for a power or
    /// hardware op on the controller (administrators only for one that changes something or
    /// reads power secrets).
    pub async fn region_host_machine(&self, user: &User, id: &str, write: bool) -> Result<String> {
        if write && !user.is_admin {
            return Err(RegionError::Forbidden(
                "Acting on a region controller needs administrator rights.".into(),
            ));
        }
        self.region_controllers()
            .await?
            .into_iter()
            .find(|m| m.system_id == id)
            .map(|m| m.system_id)
            .ok_or_else(|| {
                RegionError::NotFound("No region controller matches the given query.".into())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_from_host_names() {
        assert_eq!(machine_hostname("Ctl-1.example.com"), "ctl-1");
        assert_eq!(machine_hostname("a_b"), "a-b");
        assert_eq!(machine_hostname("..."), "controller");
        assert_eq!(machine_hostname(&"x".repeat(80)).len(), 63);
    }

    #[test]
    fn annotation_values() {
        assert_eq!(annotation_value(&["rack", "region"]), "region+rack");
        assert_eq!(annotation_value(&["rack"]), "rack");
        assert_eq!(annotation_value(&[]), "");
    }
}
