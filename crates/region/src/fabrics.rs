//! The network model as administrators keep it: fabrics and their VLANs, and the reads of
//! subnets, IP ranges and reservations (their checked changes are in `network.rs`); the
//! netboot timeline of a MAC.

use crate::boot_sources::path_id;
use crate::settings::need_admin;
use crate::{Region, RegionError, Result};
use ingot_store::network::{
    Fabric, IpRange, NetbootEvent, StaticIp, Subnet, Vlan, ALLOC_USER_RESERVED,
};
use ingot_store::{StoreError, User};
use ingot_wire::Params;

/// A duplicate is `field`'s error.
fn dup(field: &'static str) -> impl Fn(StoreError) -> RegionError {
    move |e| match e {
        StoreError::Duplicate(m) => RegionError::field(field, m),
        e => e.into(),
    }
}

/// The MTU a request sets, checked.
fn mtu(p: &Params, default: i64) -> Result<i64> {
    let mtu = p.get_i64("mtu")?.unwrap_or(default);
    ingot_core::net::check_mtu(mtu).map_err(|why| RegionError::field("mtu", why))
}

/// The default fabric's id: 0, as in MAAS (`maas admin vlan update 0 untagged …`).
pub const DEFAULT_FABRIC: i64 = 0;

impl Region {
    // ------------------------------------------------------------------------ fabrics
    pub async fn fabrics(&self) -> Result<Vec<Fabric>> {
        Ok(self.store.fabrics().await?)
    }

    /// The VLANs of one fabric, or of all.
    pub async fn vlans(&self, fabric: Option<i64>) -> Result<Vec<Vlan>> {
        Ok(self.store.vlans(fabric).await?)
    }

    /// A fabric by the id in a path.
    pub async fn fabric(&self, id: &str) -> Result<Fabric> {
        self.fabric_by_id(path_id(id)?).await
    }

    async fn fabric_by_id(&self, id: i64) -> Result<Fabric> {
        self.fabrics()
            .await?
            .into_iter()
            .find(|f| f.id == id)
            .ok_or_else(|| RegionError::NotFound("No Fabric matches the given query.".into()))
    }

    /// A new fabric (named `fabric-N` when no name is given) with its untagged VLAN.
    pub async fn create_fabric(
        &self,
        u: &User,
        name: Option<&str>,
        class_type: Option<&str>,
    ) -> Result<Fabric> {
        need_admin(u)?;
        let n = self.store.fabrics().await?.len();
        let name = name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(String::from)
            .unwrap_or_else(|| format!("fabric-{n}"));
        self.store
            .create_fabric(&name, class_type)
            .await
            .map_err(dup("name"))
    }

    pub async fn update_fabric(
        &self,
        u: &User,
        id: &str,
        name: Option<&str>,
        class_type: Option<&str>,
    ) -> Result<Fabric> {
        let f = self.fabric(id).await?;
        need_admin(u)?;
        self.store
            .update_fabric(
                f.id,
                name.unwrap_or(&f.name),
                class_type.or(f.class_type.as_deref()),
            )
            .await
            .map_err(dup("name"))?;
        self.fabric_by_id(f.id).await
    }

    /// Delete a fabric; the default one (id 0, as in MAAS) stays.
    pub async fn delete_fabric(&self, u: &User, id: &str) -> Result<()> {
        let f = self.fabric(id).await?;
        need_admin(u)?;
        if f.id == DEFAULT_FABRIC {
            return Err(RegionError::BadRequest(
                "The default fabric cannot be deleted.".into(),
            ));
        }
        Ok(self.store.delete_fabric(f.id).await?)
    }

    // -------------------------------------------------------------------------- VLANs
    /// A tagged VLAN on a fabric: `vid` 1 to 4094, `name`, `mtu` (1500).
    pub async fn create_vlan(&self, u: &User, fabric: &Fabric, p: &Params) -> Result<Vlan> {
        need_admin(u)?;
        let vid = p
            .get_i64("vid")?
            .ok_or_else(|| RegionError::field("vid", "This field is required."))?;
        if !(1..=4094).contains(&vid) {
            return Err(RegionError::field(
                "vid",
                "VLAN ids are 1 to 4094 (0 is the untagged VLAN every fabric has).",
            ));
        }
        let mtu = mtu(p, 1500)?;
        let space = self.space_param(p).await?;
        let mut v = self
            .store
            .create_vlan(fabric.id, vid, p.get("name").unwrap_or_default(), mtu)
            .await
            .map_err(dup("vid"))?;
        if let Some(d) = p.get("description") {
            v.description = d.to_string();
            self.store.update_vlan(&v).await?;
        }
        if space.is_some() {
            self.set_space(v.id, space).await?;
            return self
                .store
                .vlan_by_id(v.id)
                .await?
                .ok_or_else(|| RegionError::NotFound("No VLAN matches the given query.".into()));
        }
        Ok(v)
    }

    /// A VLAN by the fabric and VLAN id in a path.
    /// A fabric's VLAN by its tag (`0` is the untagged one) or, as MAAS allows, by its name
    /// (`untagged`).
    pub async fn vlan(&self, fabric: &str, vid: &str) -> Result<Vlan> {
        let fid = path_id(fabric)?;
        let tag = vid.parse::<i64>().ok();
        self.store
            .vlans(Some(fid))
            .await?
            .into_iter()
            .find(|v| match tag {
                Some(t) => v.vid == t,
                None => v.name == vid,
            })
            .ok_or_else(|| RegionError::NotFound("No VLAN matches the given query.".into()))
    }

    /// Change a VLAN's name, description, MTU, DHCP (turning DHCP on is checked by
    /// `set_vlan_dhcp`), the racks that serve its DHCP, the VLAN it relays DHCP to, and its
    /// space; every value is checked before anything changes.
    pub async fn update_vlan(&self, u: &User, v: &Vlan, p: &Params) -> Result<Vlan> {
        need_admin(u)?;
        let mut new = v.clone();
        new.mtu = mtu(p, v.mtu)?;
        if let Some(n) = p.get("name") {
            new.name = n.trim().to_string();
        }
        if let Some(d) = p.get("description") {
            new.description = d.to_string();
        }
        new.dhcp_on = p.get_bool("dhcp_on")?.unwrap_or(v.dhcp_on);
        let mut fe = crate::FieldErrors::default();
        if p.contains("primary_rack") {
            new.primary_rack = self.rack_param(p, "primary_rack", &mut fe).await?;
        }
        if p.contains("secondary_rack") {
            new.secondary_rack = self.rack_param(p, "secondary_rack", &mut fe).await?;
        }
        if p.contains("relay_vlan") {
            new.relay_vlan_id = match p.get("relay_vlan").map(str::trim).unwrap_or("") {
                "" => None,
                id => match id.parse::<i64>() {
                    Ok(id) if id == v.id => {
                        fe.add("relay_vlan", "A VLAN cannot relay DHCP to itself.");
                        None
                    }
                    Ok(id) => match self.store.vlan_by_id(id).await? {
                        Some(t) => Some(t.id),
                        None => {
                            fe.add("relay_vlan", format!("No VLAN with id {id}."));
                            None
                        }
                    },
                    Err(_) => {
                        fe.add("relay_vlan", format!("'{id}' is not a VLAN id."));
                        None
                    }
                },
            };
        } else if new.dhcp_on && !v.dhcp_on {
            // Serving DHCP itself replaces relaying it (MAAS clears the relay).
            new.relay_vlan_id = None;
        }
        if let Err((field, why)) = ingot_core::net::check_vlan_dhcp(
            new.dhcp_on,
            new.primary_rack.as_deref(),
            new.secondary_rack.as_deref(),
            new.relay_vlan_id.is_some(),
        ) {
            fe.add(field, why);
        }
        fe.check()?;
        let space = self.space_param(p).await?;
        self.set_vlan_dhcp(v, new.dhcp_on).await?;
        self.store.update_vlan(&new).await?;
        self.set_space(v.id, space).await?;
        self.store
            .vlan_by_id(v.id)
            .await?
            .ok_or_else(|| RegionError::NotFound("No VLAN matches the given query.".into()))
    }

    /// A `primary_rack`/`secondary_rack` parameter: a registered rack controller's system id
    /// (or its name), or empty for none.
    async fn rack_param(
        &self,
        p: &Params,
        field: &str,
        fe: &mut crate::FieldErrors,
    ) -> Result<Option<String>> {
        let key = p.get(field).map(str::trim).unwrap_or("");
        if key.is_empty() {
            return Ok(None);
        }
        let found = self
            .store
            .racks()
            .await?
            .into_iter()
            .find(|k| k.system_id == key || k.name == key);
        if found.is_none() {
            fe.add(field, format!("No rack controller '{key}'."));
        }
        Ok(found.map(|k| k.system_id))
    }

    /// Delete a tagged VLAN (every fabric keeps its untagged one).
    pub async fn delete_vlan(&self, u: &User, v: &Vlan) -> Result<()> {
        need_admin(u)?;
        if v.vid == 0 {
            return Err(RegionError::BadRequest(
                "The untagged VLAN of a fabric cannot be deleted.".into(),
            ));
        }
        Ok(self.store.delete_vlan(v.id).await?)
    }

    // ------------------------------------------------------------ subnets and ranges
    pub async fn subnets(&self) -> Result<Vec<Subnet>> {
        Ok(self.store.subnets().await?)
    }

    /// A subnet as a path names it, the ways MAAS accepts: its id, `name:NAME`, `cidr:CIDR`,
    /// `ip:ADDRESS` (the subnet holding it), or a bare CIDR or name (percent-encoded in a path).
    pub async fn subnet(&self, key: &str) -> Result<Subnet> {
        self.find_subnet(key)
            .await?
            .ok_or_else(|| RegionError::NotFound("No Subnet matches the given query.".into()))
    }

    /// A subnet as a path or a form's `subnet` field names it (see `subnet`), if there is one.
    pub async fn find_subnet(&self, key: &str) -> Result<Option<Subnet>> {
        let key = percent_encoding::percent_decode_str(key).decode_utf8_lossy();
        let key = key.trim();
        if let Ok(id) = key.parse::<i64>() {
            return Ok(self.store.subnet_by_id(id).await?);
        }
        let subnets = self.store.subnets().await?;
        Ok(match key.split_once(':') {
            Some(("id", v)) => {
                let Ok(id) = v.parse::<i64>() else {
                    return Ok(None);
                };
                subnets.into_iter().find(|s| s.id == id)
            }
            Some(("name", v)) => subnets.into_iter().find(|s| s.name == v),
            Some(("cidr", v)) => {
                let c = ingot_core::net::Cidr::parse(v)
                    .map_err(|e| RegionError::BadRequest(format!("Invalid CIDR: {e}")))?;
                subnets.into_iter().find(|s| s.cidr == c.to_string())
            }
            Some(("ip", v)) => {
                let a: std::net::IpAddr = v
                    .parse()
                    .map_err(|_| RegionError::BadRequest(format!("'{v}' is not an IP address.")))?;
                // The most specific subnet holding the address.
                subnets
                    .into_iter()
                    .filter_map(|s| {
                        let c = ingot_core::net::Cidr::parse(&s.cidr).ok()?;
                        c.contains(a).then_some((c.prefix, s))
                    })
                    .max_by_key(|(p, _)| *p)
                    .map(|(_, s)| s)
            }
            _ if key.contains('/') => match ingot_core::net::Cidr::parse(key) {
                Ok(c) => subnets.into_iter().find(|s| s.cidr == c.to_string()),
                Err(_) => subnets.into_iter().find(|s| s.name == key),
            },
            _ => subnets.into_iter().find(|s| s.name == key),
        })
    }

    pub async fn delete_subnet(&self, u: &User, id: &str) -> Result<()> {
        let s = self.subnet(id).await?;
        need_admin(u)?;
        Ok(self.store.delete_subnet(s.id).await?)
    }

    pub async fn ipranges(&self) -> Result<Vec<IpRange>> {
        Ok(self.store.ipranges(None).await?)
    }

    /// An IP range by the id in a path.
    pub async fn iprange(&self, id: &str) -> Result<IpRange> {
        let id = path_id(id)?;
        self.store
            .iprange_by_id(id)
            .await?
            .ok_or_else(|| RegionError::NotFound("No IPRange matches the given query.".into()))
    }

    pub async fn delete_iprange(&self, u: &User, id: &str) -> Result<()> {
        let x = self.iprange(id).await?;
        need_admin(u)?;
        Ok(self.store.delete_iprange(x.id).await?)
    }

    /// Addresses users reserved (machines' STATIC addresses show on their interfaces): the
    /// user's own, or everyone's for an administrator who asks for `all`; with their owners.
    pub async fn user_reservations(
        &self,
        u: &User,
        all: bool,
    ) -> Result<Vec<(StaticIp, Option<User>)>> {
        let all = all && u.is_admin;
        let mut out = Vec::new();
        for x in self
            .store
            .static_ips(None)
            .await?
            .into_iter()
            .filter(|x| x.alloc_type == ALLOC_USER_RESERVED)
        {
            if all || x.user_id == Some(u.id) {
                let owner = match x.user_id {
                    Some(id) if id == u.id => Some(u.clone()),
                    Some(id) => self.store.user_by_id(id).await?,
                    None => None,
                };
                out.push((x, owner));
            }
        }
        Ok(out)
    }

    // ------------------------------------------------------------------- timeline
    /// Every recorded hop of a MAC's network boots, oldest first (administrators only).
    pub async fn netboot_timeline(
        &self,
        u: &User,
        mac: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Vec<NetbootEvent>> {
        need_admin(u)?;
        let raw = mac.ok_or_else(|| RegionError::field("mac", "This field is required."))?;
        let mac = ingot_core::ids::normalize_mac(raw)
            .ok_or_else(|| RegionError::field("mac", format!("'{raw}' is not a MAC address.")))?;
        let limit = limit.unwrap_or(500).clamp(1, 5000);
        Ok(self.store.netboot_timeline(&mac, limit).await?)
    }
}
