//! What the metadata API asks of the region on a machine's behalf: the machine its token
//! names, its netboot flag, its owner's SSH keys and its user data.

use crate::{Principal, Region, RegionError, Result};
use ingot_store::{Change, Machine, NewEvent};

impl Region {
    /// The machine a metadata request's credentials name, its own row only (metadata handlers
    /// need no hardware details, and a thousand machines report at once during a big
    /// commissioning). The request (`what`: method, path and op) is a hop of the machine's
    /// netboot timeline, by its boot MAC.
    pub async fn metadata_machine(&self, who: &Principal, what: &str) -> Result<Machine> {
        match who {
            Principal::Machine { machine_id, .. } => {
                let m = self.store.machine_core(*machine_id).await?.ok_or_else(|| {
                    RegionError::NotFound("The machine of this token no longer exists.".into())
                })?;
                if let Some(mac) = self.store.boot_mac(m.id).await? {
                    self.store.record_netboot(&mac, "metadata", what).await?;
                }
                Ok(m)
            }
            Principal::Anonymous => Err(RegionError::Unauthorized(
                "Authentication credentials were not provided.".into(),
            )),
            Principal::User(_) => Err(RegionError::Forbidden(
                "Not authenticated as a known node.".into(),
            )),
        }
    }

    /// The machine asks to boot from the network next time (`netboot_on`) or from its disk.
    pub async fn set_netboot(&self, m: &Machine, on: bool) -> Result<()> {
        let op = if on { "netboot_on" } else { "netboot_off" };
        let c = Change {
            netboot: Some(on),
            ..Default::default()
        };
        self.store
            .apply(
                m,
                &c,
                &[NewEvent::info(
                    "Netboot",
                    format!("{op} requested by the machine"),
                    "",
                )],
            )
            .await?;
        Ok(())
    }

    /// The SSH keys of the machine's owner (none when it has no owner).
    pub async fn public_keys(&self, m: &Machine) -> Result<Vec<String>> {
        Ok(match m.owner_id {
            Some(o) => self
                .store
                .sshkeys(o)
                .await?
                .into_iter()
                .map(|(_, k)| k)
                .collect(),
            None => vec![],
        })
    }

    /// The user data the machine was deployed with.
    /// The user data the machine's cloud-init reads, in the statuses that serve it
    /// (`Status::serves_user_data`).
    pub async fn user_data(&self, m: &Machine) -> Result<Option<Vec<u8>>> {
        if !m.status.serves_user_data() {
            return Ok(None);
        }
        Ok(self.store.user_data(m.id).await?)
    }
}
