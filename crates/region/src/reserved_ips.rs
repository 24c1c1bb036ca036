//! DHCP reservations (MAAS `reservedips/`): an address of a subnet that the racks' DHCP always
//! gives one MAC. They are reserved addresses with a MAC (`ipaddresses/?op=reserve mac=`), so
//! the same checks apply and the racks serve them as host reservations.

use crate::settings::need_admin;
use crate::{Region, RegionError, Result};
use ingot_store::network::StaticIp;
use ingot_store::User;
use ingot_wire::Params;

fn not_found() -> RegionError {
    RegionError::NotFound("No ReservedIP matches the given query.".into())
}

impl Region {
    /// Every DHCP reservation, with its comment.
    pub async fn reserved_ips(&self) -> Result<Vec<(StaticIp, String)>> {
        Ok(self.store.reserved_ips().await?)
    }

    pub async fn reserved_ip(&self, id: &str) -> Result<(StaticIp, String)> {
        let id = id.parse::<i64>().map_err(|_| not_found())?;
        self.reserved_ips()
            .await?
            .into_iter()
            .find(|(s, _)| s.id == id)
            .ok_or_else(not_found)
    }

    /// `reservedips/` create (admin): `ip` (required), `subnet`, `mac_address` (required),
    /// `comment`.
    pub async fn create_reserved_ip(&self, u: &User, p: &Params) -> Result<(StaticIp, String)> {
        need_admin(u)?;
        let mut fe = crate::FieldErrors::default();
        for f in ["ip", "mac_address"] {
            if p.get(f).is_none_or(|v| v.trim().is_empty()) {
                fe.add(f, "This field is required.");
            }
        }
        fe.check()?;
        let mut q = Params::new();
        for (from, to) in [("ip", "ip"), ("subnet", "subnet"), ("mac_address", "mac")] {
            if let Some(v) = p.get(from) {
                q.push(to, v);
            }
        }
        let s = self.reserve_ip(&q, u).await.map_err(|e| match e {
            RegionError::Fields(mut f) => {
                if let Some(v) = f.remove("mac") {
                    f.insert("mac_address".into(), v);
                }
                RegionError::Fields(f)
            }
            e => e,
        })?;
        let comment = p.get("comment").unwrap_or_default().to_string();
        if !comment.is_empty() {
            let mac = s.mac.clone().unwrap_or_default();
            self.store.update_reserved_ip(s.id, &mac, &comment).await?;
        }
        Ok((s, comment))
    }

    /// `reservedips/{id}/` update (admin): `mac_address`, `comment`.
    pub async fn update_reserved_ip(
        &self,
        u: &User,
        id: &str,
        p: &Params,
    ) -> Result<(StaticIp, String)> {
        need_admin(u)?;
        let (s, comment) = self.reserved_ip(id).await?;
        let mac = match p.get("mac_address").map(str::trim) {
            Some(m) => ingot_core::ids::normalize_mac(m).ok_or_else(|| {
                RegionError::field("mac_address", format!("'{m}' is not a MAC address."))
            })?,
            None => s.mac.clone().unwrap_or_default(),
        };
        let comment = p.get("comment").map(String::from).unwrap_or(comment);
        self.store
            .update_reserved_ip(s.id, &mac, &comment)
            .await
            .map_err(|e| match e {
                ingot_store::StoreError::Duplicate(m) => RegionError::field("mac_address", m),
                e => e.into(),
            })?;
        self.reserved_ip(id).await
    }

    /// `reservedips/{id}/` delete (admin): the racks stop serving it.
    pub async fn delete_reserved_ip(&self, u: &User, id: &str) -> Result<()> {
        need_admin(u)?;
        let (s, _) = self.reserved_ip(id).await?;
        Ok(self.store.delete_static_ip(s.id).await?)
    }
}
