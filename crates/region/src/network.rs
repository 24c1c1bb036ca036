//! The network model's forms: fabrics, VLANs, subnets and IP ranges, validated before they
//! reach the store (CIDR syntax, ranges inside their subnet and not overlapping, VLAN ids).

use crate::settings::need_admin;
use crate::{FieldErrors, Region, RegionError, Result};
use ingot_core::net::{check_range, check_static_ip, first_free_ip, ranges_overlap, Cidr};
use ingot_store::network::{
    InterfaceLink, IpRange, StaticIp, Subnet, Vlan, ALLOC_STICKY, ALLOC_USER_RESERVED,
};
use ingot_store::{StoreError, User};
use ingot_wire::Params;
use serde_json::Value;
use std::net::IpAddr;

fn ip(fe: &mut FieldErrors, field: &str, v: &str) -> Option<IpAddr> {
    match v.trim().parse() {
        Ok(a) => Some(a),
        Err(_) => {
            fe.add(field, format!("'{v}' is not an IP address."));
            None
        }
    }
}

/// A subnet's `description`, `allow_dns`, `allow_proxy`, `rdns_mode` (0 disabled, 1 enabled,
/// 2 RFC 2317) and `active_discovery`, as given.
fn subnet_options(p: &Params, s: &mut Subnet, fe: &mut FieldErrors) -> Result<()> {
    if let Some(d) = p.get("description") {
        s.description = d.to_string();
    }
    for (name, field) in [
        ("allow_dns", &mut s.allow_dns),
        ("allow_proxy", &mut s.allow_proxy),
        ("active_discovery", &mut s.active_discovery),
    ] {
        if let Some(b) = p.get_bool(name)? {
            *field = b;
        }
    }
    if let Some(m) = p.get("rdns_mode") {
        match m.trim().parse::<i64>() {
            Ok(n @ 0..=2) => s.rdns_mode = n,
            _ => fe.add(
                "rdns_mode",
                format!("Select a valid choice. {m} is not one of the available choices (0 disabled, 1 enabled, 2 RFC 2317)."),
            ),
        }
    }
    Ok(())
}

impl Region {
    /// The VLAN a subnet form names: `vlan` (id), else `fabric` (id) + `vid`, else the
    /// untagged VLAN of the first fabric.
    async fn vlan_from_params(&self, p: &Params, fe: &mut FieldErrors) -> Result<Option<Vlan>> {
        if let Some(id) = p.get_i64("vlan")? {
            let v = self.store.vlan_by_id(id).await?;
            if v.is_none() {
                fe.add("vlan", format!("No VLAN with id {id}."));
            }
            return Ok(v);
        }
        let fabric = p.get_i64("fabric")?;
        let vid = p.get_i64("vid")?.unwrap_or(0);
        let vlans = self.store.vlans(None).await?;
        let found = vlans
            .into_iter()
            .find(|v| fabric.is_none_or(|f| v.fabric_id == f) && v.vid == vid);
        if found.is_none() {
            fe.add(
                "vlan",
                format!(
                    "No VLAN {vid} on fabric {}.",
                    fabric
                        .map(|f| f.to_string())
                        .unwrap_or_else(|| "fabric-0".into())
                ),
            );
        }
        Ok(found)
    }

    /// `subnets/` create (admin).
    pub async fn create_subnet(&self, u: &User, p: &Params) -> Result<Subnet> {
        need_admin(u)?;
        let mut fe = FieldErrors::default();
        let cidr = match p.get("cidr").map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => match Cidr::parse(c) {
                Ok(c) => Some(c),
                Err(e) => {
                    fe.add("cidr", e);
                    None
                }
            },
            None => {
                fe.add("cidr", "This field is required.");
                None
            }
        };
        let vlan = self.vlan_from_params(p, &mut fe).await?;
        let gateway = p
            .get("gateway_ip")
            .filter(|g| !g.trim().is_empty())
            .and_then(|g| ip(&mut fe, "gateway_ip", g));
        if let (Some(c), Some(g)) = (&cidr, gateway) {
            if !c.contains(g) {
                fe.add("gateway_ip", format!("The gateway {g} is not inside {c}."));
            }
        }
        let dns: Vec<String> = crate::forms::list(p, "dns_servers")
            .iter()
            .flat_map(|d| d.split_whitespace().map(String::from).collect::<Vec<_>>())
            .collect();
        for d in &dns {
            ip(&mut fe, "dns_servers", d);
        }
        let managed = p.get_bool("managed")?.unwrap_or(true);
        let mut opts = Subnet {
            allow_dns: true,
            allow_proxy: true,
            rdns_mode: 2,
            ..Subnet::default()
        };
        subnet_options(p, &mut opts, &mut fe)?;
        fe.check()?;
        let (Some(cidr), Some(vlan)) = (cidr, vlan) else {
            return Err(RegionError::BadRequest("invalid subnet".into()));
        };
        let s = Subnet {
            id: 0,
            name: p
                .get("name")
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(String::from)
                .unwrap_or_else(|| cidr.to_string()),
            cidr: cidr.to_string(),
            vlan_id: vlan.id,
            gateway_ip: gateway.map(|g| g.to_string()),
            dns_servers: dns,
            managed,
            ..opts
        };
        // `space` (MAAS < 2.4 set it on the subnet): the space of the subnet's VLAN.
        let space = self.space_param(p).await?;
        let created = self.store.create_subnet(&s).await.map_err(|e| match e {
            ingot_store::StoreError::Duplicate(m) => RegionError::field("cidr", m),
            e => e.into(),
        })?;
        self.set_space(vlan.id, space).await?;
        Ok(created)
    }

    /// `subnets/{id}/` update (admin; a subnet that does not exist is not found first).
    pub async fn update_subnet(&self, u: &User, id: i64, p: &Params) -> Result<Subnet> {
        let mut s =
            self.store.subnet_by_id(id).await?.ok_or_else(|| {
                RegionError::NotFound("No Subnet matches the given query.".into())
            })?;
        need_admin(u)?;
        let mut fe = FieldErrors::default();
        if p.contains("cidr") && p.get("cidr") != Some(s.cidr.as_str()) {
            fe.add(
                "cidr",
                "The CIDR of a subnet cannot change: create another subnet.",
            );
        }
        if let Some(n) = p.get("name").map(str::trim).filter(|n| !n.is_empty()) {
            s.name = n.to_string();
        }
        if p.contains("vlan") || p.contains("fabric") || p.contains("vid") {
            if let Some(v) = self.vlan_from_params(p, &mut fe).await? {
                s.vlan_id = v.id;
            }
        }
        if let Some(g) = p.get("gateway_ip") {
            s.gateway_ip = if g.trim().is_empty() {
                None
            } else {
                ip(&mut fe, "gateway_ip", g).map(|a| a.to_string())
            };
            if let (Ok(c), Some(g)) = (
                Cidr::parse(&s.cidr),
                s.gateway_ip
                    .as_deref()
                    .and_then(|g| g.parse::<std::net::IpAddr>().ok()),
            ) {
                if !c.contains(g) {
                    fe.add("gateway_ip", format!("The gateway {g} is not inside {c}."));
                }
            }
        }
        if p.contains("dns_servers") {
            s.dns_servers = crate::forms::list(p, "dns_servers")
                .iter()
                .flat_map(|d| d.split_whitespace().map(String::from).collect::<Vec<_>>())
                .collect();
            for d in s.dns_servers.clone() {
                ip(&mut fe, "dns_servers", &d);
            }
        }
        if let Some(m) = p.get_bool("managed")? {
            s.managed = m;
        }
        subnet_options(p, &mut s, &mut fe)?;
        fe.check()?;
        let space = self.space_param(p).await?;
        self.store.update_subnet(&s).await.map_err(|e| match e {
            ingot_store::StoreError::Duplicate(m) => RegionError::field("name", m),
            e => e.into(),
        })?;
        self.set_space(s.vlan_id, space).await?;
        Ok(s)
    }

    /// Validate an IP range against its subnet and the subnet's other ranges.
    async fn check_iprange(&self, r: &IpRange, fe: &mut FieldErrors) -> Result<()> {
        if !matches!(r.kind.as_str(), "dynamic" | "reserved") {
            fe.add(
                "type",
                format!("'{}' is not a range type: use dynamic or reserved.", r.kind),
            );
        }
        let start = ip(fe, "start_ip", &r.start_ip);
        let end = ip(fe, "end_ip", &r.end_ip);
        let Some(subnet) = self.store.subnet_by_id(r.subnet_id).await? else {
            fe.add("subnet", "No such subnet.");
            return Ok(());
        };
        let (Some(start), Some(end), Ok(cidr)) = (start, end, Cidr::parse(&subnet.cidr)) else {
            return Ok(());
        };
        if let Err(e) = check_range(&cidr, start, end) {
            fe.add("start_ip", e);
            return Ok(());
        }
        for other in self.store.ipranges(Some(subnet.id)).await? {
            if other.id == r.id {
                continue;
            }
            if let (Ok(a), Ok(b)) = (other.start_ip.parse(), other.end_ip.parse()) {
                if ranges_overlap((start, end), (a, b)) {
                    fe.add(
                        "start_ip",
                        format!(
                            "The range {start}-{end} overlaps the {} range {a}-{b}.",
                            other.kind
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    /// `ipranges/` create (admin).
    pub async fn create_iprange(&self, u: &User, p: &Params) -> Result<IpRange> {
        need_admin(u)?;
        let mut fe = FieldErrors::default();
        let start = p.get("start_ip").unwrap_or_default().trim().to_string();
        let end = p.get("end_ip").unwrap_or_default().trim().to_string();
        for (f, v) in [("start_ip", &start), ("end_ip", &end)] {
            if v.is_empty() {
                fe.add(f, "This field is required.");
            }
        }
        // The subnet: given, or the one that holds start_ip.
        let subnet_id = match p.get("subnet").map(str::trim).filter(|s| !s.is_empty()) {
            Some(v) => {
                let found = self.find_subnet(v).await?.map(|s| s.id);
                if found.is_none() {
                    fe.add("subnet", format!("No subnet matches '{v}'."));
                }
                found
            }
            None => {
                let s: Option<IpAddr> = start.parse().ok();
                let mut found = None;
                for sub in self.store.subnets().await? {
                    if let (Ok(c), Some(a)) = (Cidr::parse(&sub.cidr), s) {
                        if c.contains(a) {
                            found = Some(sub.id);
                        }
                    }
                }
                if found.is_none() && !start.is_empty() {
                    fe.add(
                        "subnet",
                        format!("No subnet holds {start}: create the subnet first or name it."),
                    );
                }
                found
            }
        };
        let r = IpRange {
            id: 0,
            subnet_id: subnet_id.unwrap_or(0),
            kind: p.get("type").unwrap_or("dynamic").trim().to_string(),
            start_ip: start,
            end_ip: end,
            comment: p.get("comment").unwrap_or_default().to_string(),
        };
        if fe.0.is_empty() {
            self.check_iprange(&r, &mut fe).await?;
        }
        fe.check()?;
        Ok(self.store.create_iprange(&r).await?)
    }

    /// `ipranges/{id}/` update (admin; a range that does not exist is not found first).
    pub async fn update_iprange(&self, u: &User, id: i64, p: &Params) -> Result<IpRange> {
        let mut r =
            self.store.iprange_by_id(id).await?.ok_or_else(|| {
                RegionError::NotFound("No IPRange matches the given query.".into())
            })?;
        need_admin(u)?;
        if let Some(v) = p.get("start_ip") {
            r.start_ip = v.trim().to_string();
        }
        if let Some(v) = p.get("end_ip") {
            r.end_ip = v.trim().to_string();
        }
        if let Some(v) = p.get("type") {
            r.kind = v.trim().to_string();
        }
        if let Some(v) = p.get("comment") {
            r.comment = v.to_string();
        }
        let mut fe = FieldErrors::default();
        self.check_iprange(&r, &mut fe).await?;
        fe.check()?;
        self.store.update_iprange(&r).await?;
        Ok(r)
    }

    /// `ipaddresses/?op=reserve`: a static address for the user, from `subnet` (id or CIDR) or
    /// the subnet that holds `ip`; `ip` if given (validated), else the lowest free address outside
    /// the dynamic and reserved ranges. With `mac`, the rack's DHCP always answers that MAC with
    /// this address (a host reservation). A concurrent reservation of the same address loses on
    /// the unique index and, when no address was asked for, picks the next one.
    pub async fn reserve_ip(&self, p: &Params, user: &User) -> Result<StaticIp> {
        let mut fe = FieldErrors::default();
        let want = match p.get("ip").or(p.get("ip_address")).map(str::trim) {
            Some(v) if !v.is_empty() => ip(&mut fe, "ip", v),
            _ => None,
        };
        let mac = match p.get("mac").map(str::trim).filter(|m| !m.is_empty()) {
            Some(m) => match ingot_core::ids::normalize_mac(m) {
                Some(n) => Some(n),
                None => {
                    fe.add("mac", format!("'{m}' is not a MAC address."));
                    None
                }
            },
            None => None,
        };
        let hostname = p.get("hostname").unwrap_or_default().trim().to_string();
        let subnets = self.store.subnets().await?;
        let subnet = match p.get("subnet").map(str::trim).filter(|s| !s.is_empty()) {
            Some(v) => {
                let key = self.find_subnet(v).await?.map(|s| s.id);
                let found = subnets.iter().find(|s| Some(s.id) == key);
                if found.is_none() {
                    fe.add("subnet", format!("No subnet matches '{v}'."));
                }
                found
            }
            None => match want {
                Some(a) => {
                    let found = subnets
                        .iter()
                        .find(|s| Cidr::parse(&s.cidr).is_ok_and(|c| c.contains(a)));
                    if found.is_none() {
                        fe.add("ip", format!("No subnet holds {a}."));
                    }
                    found
                }
                None => {
                    if !fe.0.contains_key("ip") {
                        fe.add("subnet", "Give a subnet or an ip.");
                    }
                    None
                }
            },
        };
        fe.check()?;
        let Some(subnet) = subnet else {
            return Err(RegionError::field("subnet", "Give a subnet or an ip."));
        };
        if let Some(m) = &mac {
            if self
                .store
                .static_ips(None)
                .await?
                .iter()
                .any(|s| s.mac.as_deref() == Some(m))
            {
                return Err(RegionError::Conflict(format!(
                    "{m} already has a reserved address."
                )));
            }
        }
        let template = StaticIp {
            id: 0,
            subnet_id: subnet.id,
            ip: String::new(),
            alloc_type: ALLOC_USER_RESERVED,
            mac: mac.clone(),
            hostname: hostname.clone(),
            user_id: Some(user.id),
            interface_id: None,
            created: 0,
        };
        self.allocate_static(subnet, want, "ip", template, None)
            .await
    }

    /// Give out one static address of `subnet` as `template` describes: `want` if it may be
    /// used (inside the subnet; not its network, broadcast or gateway address; not in a dynamic
    /// range; not taken — `field` names the parameter in errors), else the lowest free address
    /// outside the dynamic and reserved ranges. The unique index on `ip` settles races with other
    /// requests and other regions; a loser picks again.
    pub(crate) async fn allocate_static(
        &self,
        subnet: &Subnet,
        want: Option<IpAddr>,
        field: &str,
        template: StaticIp,
        link: Option<i64>,
    ) -> Result<StaticIp> {
        let cidr = Cidr::parse(&subnet.cidr).map_err(|e| {
            RegionError::field("subnet", format!("The subnet's CIDR is invalid: {e}"))
        })?;
        let gateway = subnet.gateway_ip.as_deref().and_then(|g| g.parse().ok());
        let ranges = self.store.ipranges(Some(subnet.id)).await?;
        let span = |kinds: &[&str]| -> Vec<(IpAddr, IpAddr)> {
            ranges
                .iter()
                .filter(|r| kinds.contains(&r.kind.as_str()))
                .filter_map(|r| Some((r.start_ip.parse().ok()?, r.end_ip.parse().ok()?)))
                .collect()
        };
        let dynamic = span(&["dynamic"]);
        let excluded = span(&["dynamic", "reserved"]);
        let row = |a: IpAddr| StaticIp {
            ip: a.to_string(),
            ..template.clone()
        };
        if let Some(a) = want {
            check_static_ip(&cidr, a, gateway, &dynamic)
                .map_err(|e| RegionError::field(field, e))?;
            return self
                .store
                .insert_static_ip(&row(a), link)
                .await
                .map_err(|e| match e {
                    StoreError::Duplicate(m) => RegionError::Conflict(m),
                    e => e.into(),
                });
        }
        for attempt in 0..64u32 {
            if attempt > 0 {
                // Contended: step aside for a moment so the winners' inserts become visible.
                let ms = 1 + rand::random::<u64>() % (2 * u64::from(attempt.min(10)));
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            }
            let used: std::collections::HashSet<IpAddr> = self
                .store
                .static_ips(Some(subnet.id))
                .await?
                .iter()
                .filter_map(|s| s.ip.parse().ok())
                .collect();
            let Some(a) = first_free_ip(&cidr, gateway, &excluded, &used, 1 << 20) else {
                return Err(RegionError::Conflict(format!(
                    "No free static address is left in {} (outside its dynamic and reserved ranges).",
                    subnet.cidr
                )));
            };
            match self.store.insert_static_ip(&row(a), link).await {
                Err(StoreError::Duplicate(_)) => continue,
                r => return Ok(r?),
            }
        }
        Err(RegionError::Unavailable(
            "Too many concurrent reservations in this subnet; try again.".into(),
        ))
    }

    /// `ipaddresses/?op=release`: only the user who reserved the address, or an admin.
    pub async fn release_ip(&self, p: &Params, user: &User) -> Result<StaticIp> {
        let v = p
            .get("ip")
            .or(p.get("ip_address"))
            .unwrap_or_default()
            .trim();
        if v.is_empty() {
            return Err(RegionError::field("ip", "This field is required."));
        }
        let a: IpAddr = v
            .parse()
            .map_err(|_| RegionError::field("ip", format!("'{v}' is not an IP address.")))?;
        let Some(s) = self
            .store
            .static_ip(&a.to_string())
            .await?
            .filter(|s| s.alloc_type == ALLOC_USER_RESERVED)
        else {
            return Err(RegionError::NotFound(format!(
                "{a} is not a user reservation (a machine's address is released by unlinking it)."
            )));
        };
        if s.user_id != Some(user.id) && !user.is_admin {
            return Err(RegionError::Forbidden(format!(
                "{a} was reserved by another user."
            )));
        }
        self.store.delete_static_ip(s.id).await?;
        Ok(s)
    }

    /// `nodes/{id}/interfaces/{iface}/?op=link_subnet`: configure an interface on a subnet for
    /// deployment — `mode` auto | dhcp | static | link_up, `subnet` (id or CIDR; optional for
    /// link_up), `ip_address` (static; else the lowest free one), `default_gateway`. Only while
    /// the machine is not running an OS Ingot put there (New, Ready, Allocated, Broken, Failed
    /// testing), by someone who may edit it.
    pub async fn link_subnet(
        &self,
        user: &User,
        system_id: &str,
        iface_id: i64,
        p: &Params,
    ) -> Result<InterfaceLink> {
        let m = self.editable_node(user, system_id).await?;
        let iface = iface_of(&m, iface_id)?;
        let mode = p
            .get("mode")
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if !["auto", "dhcp", "static", "link_up"].contains(&mode.as_str()) {
            return Err(RegionError::field(
                "mode",
                format!("'{mode}' is not one of AUTO, DHCP, STATIC, LINK_UP."),
            ));
        }
        let subnets = self.store.subnets().await?;
        let subnet = match p.get("subnet").map(str::trim).filter(|s| !s.is_empty()) {
            Some(v) => {
                let key = self.find_subnet(v).await?.map(|s| s.id);
                Some(subnets.iter().find(|s| Some(s.id) == key).ok_or_else(|| {
                    RegionError::field("subnet", format!("No subnet matches '{v}'."))
                })?)
            }
            None if mode == "link_up" => None,
            None => return Err(RegionError::field("subnet", "This field is required.")),
        };
        let default_gateway = p.get_bool("default_gateway")?.unwrap_or(false);
        if default_gateway
            && (!matches!(mode.as_str(), "auto" | "static")
                || subnet.is_none_or(|s| s.gateway_ip.is_none()))
        {
            return Err(RegionError::field(
                "default_gateway",
                "Only an AUTO or STATIC link to a subnet with a gateway can be the default gateway.",
            ));
        }
        let want = match p.get("ip_address").map(str::trim).filter(|v| !v.is_empty()) {
            Some(_) if mode != "static" => {
                return Err(RegionError::field(
                    "ip_address",
                    "An address can only be given for a STATIC link.",
                ))
            }
            Some(v) => Some(v.parse::<IpAddr>().map_err(|_| {
                RegionError::field("ip_address", format!("'{v}' is not an IP address."))
            })?),
            None => None,
        };
        if let Some(sn) = subnet {
            if iface.links.iter().any(|l| l.subnet_id == Some(sn.id)) {
                return Err(RegionError::Conflict(format!(
                    "{} is already linked to {}.",
                    iface.name, sn.cidr
                )));
            }
        }
        let ip = match (mode.as_str(), subnet) {
            ("static", Some(sn)) => Some(
                self.allocate_static(
                    sn,
                    want,
                    "ip_address",
                    StaticIp {
                        id: 0,
                        subnet_id: sn.id,
                        ip: String::new(),
                        alloc_type: ALLOC_STICKY,
                        mac: None,
                        hostname: m.hostname.clone(),
                        user_id: m.owner_id,
                        interface_id: Some(iface.id),
                        created: 0,
                    },
                    None,
                )
                .await?,
            ),
            _ => None,
        };
        let mut link = InterfaceLink {
            id: 0,
            interface_id: iface.id,
            mode,
            subnet_id: subnet.map(|s| s.id),
            ip: ip.as_ref().map(|s| s.ip.clone()),
            cidr: subnet.map(|s| s.cidr.clone()),
            staticip_id: ip.as_ref().map(|s| s.id),
            default_gateway,
        };
        match self.store.add_interface_link(&link).await {
            Ok(id) => link.id = id,
            Err(e) => {
                // Do not keep an address for a link that does not exist.
                if let Some(s) = &ip {
                    self.store.delete_static_ip(s.id).await?;
                }
                return Err(e.into());
            }
        }
        Ok(link)
    }

    /// `?op=unlink_subnet id=LINK`: remove a link (and the static address it held).
    pub async fn unlink_subnet(
        &self,
        user: &User,
        system_id: &str,
        iface_id: i64,
        p: &Params,
    ) -> Result<()> {
        let m = self.editable_node(user, system_id).await?;
        let id = p
            .get_i64("id")?
            .ok_or_else(|| RegionError::field("id", "This field is required."))?;
        let link = m
            .interfaces
            .iter()
            .filter(|i| i.id == iface_id)
            .flat_map(|i| i.links.iter())
            .find(|l| l.id == id)
            .ok_or_else(|| {
                RegionError::NotFound(format!("No link {id} on interface {iface_id}."))
            })?;
        Ok(self.store.remove_interface_link(link).await?)
    }

    /// Turn DHCP on or off for a VLAN: on needs a managed subnet with a dynamic range.
    pub async fn set_vlan_dhcp(&self, v: &Vlan, on: bool) -> Result<()> {
        if on {
            let mut ok = false;
            for s in self
                .store
                .subnets()
                .await?
                .iter()
                .filter(|s| s.vlan_id == v.id && s.managed)
            {
                if self
                    .store
                    .ipranges(Some(s.id))
                    .await?
                    .iter()
                    .any(|r| r.kind == "dynamic")
                {
                    ok = true;
                }
            }
            if !ok {
                return Err(RegionError::field(
                    "dhcp_on",
                    "DHCP needs a managed subnet with a dynamic IP range on this VLAN.",
                ));
            }
        }
        Ok(())
    }
}

/// Whether a machine's interfaces may be reconfigured now (a device's always may).
pub(crate) fn interfaces_editable(m: &ingot_store::Machine) -> Result<()> {
    use ingot_core::Status as S;
    if m.node_type == ingot_store::DEVICE {
        return Ok(());
    }
    if matches!(
        m.status,
        S::New | S::Ready | S::Allocated | S::Broken | S::FailedTesting
    ) {
        Ok(())
    } else {
        Err(RegionError::Conflict(format!(
            "Interfaces can be changed only while the machine is New, Ready, Allocated, Broken or Failed testing (it is {}).",
            m.status.label()
        )))
    }
}

/// Bond modes MAAS accepts (`bond_mode`).
pub const BOND_MODES: &[&str] = &[
    "balance-rr",
    "active-backup",
    "balance-xor",
    "broadcast",
    "802.3ad",
    "balance-tlb",
    "balance-alb",
];

/// Which virtual interface `create_interface` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VirtualKind {
    Bond,
    Vlan,
    Bridge,
}

impl VirtualKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VirtualKind::Bond => "bond",
            VirtualKind::Vlan => "vlan",
            VirtualKind::Bridge => "bridge",
        }
    }
}

fn find_iface(m: &ingot_store::Machine, id: i64) -> Option<&ingot_store::Interface> {
    m.interfaces.iter().find(|i| i.id == id)
}

/// The interface `id` of `m`, or 404 naming both.
pub(crate) fn iface_of(m: &ingot_store::Machine, id: i64) -> Result<&ingot_store::Interface> {
    find_iface(m, id)
        .ok_or_else(|| RegionError::NotFound(format!("No interface {id} on {}.", m.system_id)))
}

impl Region {
    /// A node whose interfaces `user` may change now (edit permission, and a status in which
    /// interfaces are edited).
    pub(crate) async fn editable_node(
        &self,
        user: &User,
        system_id: &str,
    ) -> Result<ingot_store::Machine> {
        let m = self
            .load_node_for(user, system_id, ingot_core::actions::Action::Update)
            .await?;
        interfaces_editable(&m)?;
        Ok(m)
    }
}

/// The interface (bond or bridge) that already uses `id` as a member, if any.
fn member_of(m: &ingot_store::Machine, id: i64) -> Option<&ingot_store::Interface> {
    m.interfaces
        .iter()
        .find(|c| c.kind != "vlan" && c.parents.contains(&id))
}

fn mtu_param(p: &Params, fe: &mut FieldErrors) -> Result<Option<i64>> {
    let mtu = p.get_i64("mtu")?;
    if let Some(Err(why)) = mtu.map(ingot_core::net::check_mtu) {
        fe.add("mtu", why);
    }
    Ok(mtu)
}

impl Region {
    /// `op=create_bond|create_vlan|create_bridge` on `nodes/{id}/interfaces/`: a bond over
    /// physical members, a VLAN on one interface, a bridge over one interface. Members must
    /// belong to the machine and not already be in a bond or bridge; a bond's members must not
    /// carry addresses. Only while interfaces are editable.
    pub async fn create_interface(
        &self,
        user: &User,
        system_id: &str,
        kind: VirtualKind,
        p: &Params,
    ) -> Result<i64> {
        let m = self.editable_node(user, system_id).await?;
        let mut fe = FieldErrors::default();
        let mut params = serde_json::Map::new();
        if let Some(mtu) = mtu_param(p, &mut fe)? {
            params.insert("mtu".into(), mtu.into());
        }
        let parent_field = if kind == VirtualKind::Bond {
            "parents"
        } else {
            "parent"
        };
        let mut parents = Vec::new();
        for v in crate::forms::list(p, parent_field) {
            match v.parse::<i64>().ok().and_then(|id| find_iface(&m, id)) {
                Some(i) => {
                    if parents.contains(&i.id) {
                        fe.add(
                            parent_field,
                            format!("Interface {} is given twice.", i.name),
                        );
                    }
                    parents.push(i.id)
                }
                None => fe.add(
                    parent_field,
                    format!("'{v}' is not an interface of {system_id}."),
                ),
            }
        }
        if parents.is_empty() && !fe.0.contains_key(parent_field) {
            fe.add(parent_field, "This field is required.");
        }
        if kind != VirtualKind::Bond && parents.len() > 1 {
            fe.add(parent_field, "A VLAN or bridge has exactly one parent.");
        }
        for &pid in &parents {
            let Some(parent) = find_iface(&m, pid) else {
                continue;
            };
            if kind != VirtualKind::Vlan {
                if let Some(holder) = member_of(&m, pid) {
                    fe.add(
                        parent_field,
                        format!("Interface {} is already in {}.", parent.name, holder.name),
                    );
                }
            }
            if kind == VirtualKind::Bond {
                if !parent.is_physical() {
                    fe.add(
                        parent_field,
                        format!(
                            "Only physical interfaces can be bonded ({} is a {}).",
                            parent.name, parent.kind
                        ),
                    );
                }
                if parent.links.iter().any(|l| l.mode != "link_up") {
                    fe.add(
                        parent_field,
                        format!("Interface {} has addresses; unlink its subnets first (a bond member carries none).", parent.name),
                    );
                }
            }
        }
        let first_mac = parents
            .first()
            .and_then(|&id| find_iface(&m, id))
            .map(|i| i.mac_address.clone())
            .unwrap_or_default();
        let name = match kind {
            VirtualKind::Vlan => {
                let vlan = match p.get_i64("vlan")? {
                    Some(id) => self.store.vlan_by_id(id).await?,
                    None => {
                        fe.add("vlan", "This field is required.");
                        None
                    }
                };
                match vlan {
                    Some(v) if v.vid == 0 => {
                        fe.add("vlan", "The untagged VLAN (vid 0) needs no VLAN interface.");
                        String::new()
                    }
                    Some(v) => {
                        let parent = parents.first().and_then(|&id| find_iface(&m, id));
                        let pname = parent.map(|i| i.name.clone()).unwrap_or_default();
                        if m.interfaces.iter().any(|c| {
                            c.kind == "vlan"
                                && c.parents == parents
                                && c.params.get("vid").and_then(Value::as_i64) == Some(v.vid)
                        }) {
                            fe.add(
                                "vlan",
                                format!("{pname} already has a VLAN interface for vid {}.", v.vid),
                            );
                        }
                        params.insert("vlan".into(), v.id.into());
                        params.insert("vid".into(), v.vid.into());
                        format!("{pname}.{}", v.vid)
                    }
                    None => {
                        if !fe.0.contains_key("vlan") {
                            fe.add("vlan", "No such VLAN.");
                        }
                        String::new()
                    }
                }
            }
            _ => match p.get("name").map(str::trim).filter(|s| !s.is_empty()) {
                Some(n) => n.to_string(),
                None => {
                    fe.add("name", "This field is required.");
                    String::new()
                }
            },
        };
        if !name.is_empty() {
            if name.len() > 15 || name.contains(['/', ' ', ':']) {
                fe.add("name", format!("'{name}' is not a valid interface name (at most 15 characters, no '/', ':' or spaces)."));
            }
            if m.interfaces.iter().any(|i| i.name == name) {
                fe.add(
                    "name",
                    format!("{system_id} already has an interface named {name}."),
                );
            }
        }
        let mac = match p
            .get("mac_address")
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(v) if kind != VirtualKind::Vlan => match ingot_core::ids::normalize_mac(v) {
                Some(mac) => mac,
                None => {
                    fe.add("mac_address", format!("'{v}' is not a valid MAC address."));
                    String::new()
                }
            },
            Some(_) => {
                fe.add(
                    "mac_address",
                    "A VLAN interface uses its parent's MAC address.",
                );
                String::new()
            }
            None => first_mac,
        };
        params.insert("mac_address".into(), mac.into());
        match kind {
            VirtualKind::Bond => {
                let mode = p.get("bond_mode").map(str::trim).unwrap_or("balance-rr");
                if !BOND_MODES.contains(&mode) {
                    fe.add(
                        "bond_mode",
                        format!("'{mode}' is not one of {}.", BOND_MODES.join(", ")),
                    );
                }
                params.insert("bond_mode".into(), mode.into());
                for (key, default) in [
                    ("bond_miimon", 100),
                    ("bond_downdelay", 0),
                    ("bond_updelay", 0),
                ] {
                    let v = p.get_i64(key)?.unwrap_or(default);
                    if v < 0 {
                        fe.add(key, format!("{v} is negative."));
                    }
                    params.insert(key.into(), v.into());
                }
                let lacp = p.get("bond_lacp_rate").map(str::trim).unwrap_or("slow");
                if !["slow", "fast"].contains(&lacp) {
                    fe.add(
                        "bond_lacp_rate",
                        format!("'{lacp}' is not one of slow, fast."),
                    );
                }
                params.insert("bond_lacp_rate".into(), lacp.into());
                let hash = p
                    .get("bond_xmit_hash_policy")
                    .map(str::trim)
                    .unwrap_or("layer2");
                if !["layer2", "layer2+3", "layer3+4", "encap2+3", "encap3+4"].contains(&hash) {
                    fe.add("bond_xmit_hash_policy", format!("'{hash}' is not one of layer2, layer2+3, layer3+4, encap2+3, encap3+4."));
                }
                params.insert("bond_xmit_hash_policy".into(), hash.into());
            }
            VirtualKind::Bridge => {
                let bt = p.get("bridge_type").map(str::trim).unwrap_or("standard");
                if !["standard", "ovs"].contains(&bt) {
                    fe.add(
                        "bridge_type",
                        format!("'{bt}' is not one of standard, ovs."),
                    );
                }
                params.insert("bridge_type".into(), bt.into());
                params.insert(
                    "bridge_stp".into(),
                    p.get_bool("bridge_stp")?.unwrap_or(false).into(),
                );
                let fd = p.get_i64("bridge_fd")?.unwrap_or(15);
                if !(0..=30).contains(&fd) {
                    fe.add(
                        "bridge_fd",
                        format!("Forward delay {fd} is outside 0-30 seconds."),
                    );
                }
                params.insert("bridge_fd".into(), fd.into());
            }
            VirtualKind::Vlan => {}
        }
        fe.check()?;
        Ok(self
            .store
            .create_virtual_interface(m.id, kind.as_str(), &name, &parents, &Value::Object(params))
            .await?)
    }

    /// `PUT nodes/{id}/interfaces/{iface}/`: name and MTU of any interface; the bond or bridge
    /// settings of a bond or bridge.
    pub async fn update_interface(
        &self,
        user: &User,
        system_id: &str,
        iface_id: i64,
        p: &Params,
    ) -> Result<()> {
        let m = self.editable_node(user, system_id).await?;
        let iface = iface_of(&m, iface_id)?;
        let mut fe = FieldErrors::default();
        let mut params = iface.params.as_object().cloned().unwrap_or_default();
        if let Some(mtu) = mtu_param(p, &mut fe)? {
            params.insert("mtu".into(), mtu.into());
        }
        let mut name = iface.name.clone();
        if let Some(n) = p.get("name").map(str::trim).filter(|s| !s.is_empty()) {
            if iface.kind == "vlan" {
                fe.add(
                    "name",
                    "A VLAN interface is named after its parent and vid.",
                );
            } else if m.interfaces.iter().any(|i| i.name == n && i.id != iface_id) {
                fe.add(
                    "name",
                    format!("{system_id} already has an interface named {n}."),
                );
            } else {
                name = n.to_string();
            }
        }
        if iface.kind == "bond" {
            if let Some(mode) = p.get("bond_mode").map(str::trim) {
                if BOND_MODES.contains(&mode) {
                    params.insert("bond_mode".into(), mode.into());
                } else {
                    fe.add(
                        "bond_mode",
                        format!("'{mode}' is not one of {}.", BOND_MODES.join(", ")),
                    );
                }
            }
        }
        if iface.kind == "bridge" {
            if let Some(stp) = p.get_bool("bridge_stp")? {
                params.insert("bridge_stp".into(), stp.into());
            }
            if let Some(fd) = p.get_i64("bridge_fd")? {
                if (0..=30).contains(&fd) {
                    params.insert("bridge_fd".into(), fd.into());
                } else {
                    fe.add(
                        "bridge_fd",
                        format!("Forward delay {fd} is outside 0-30 seconds."),
                    );
                }
            }
        }
        // `vlan` (a VLAN id): the VLAN the interface is on.
        let vlan = match p.get("vlan").map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => match v.parse::<i64>().ok() {
                Some(id) if self.store.vlan_by_id(id).await?.is_some() => Some(id),
                _ => {
                    fe.add("vlan", format!("No VLAN with id '{v}'."));
                    None
                }
            },
            None => None,
        };
        fe.check()?;
        self.store
            .update_interface(iface_id, &name, &Value::Object(params))
            .await?;
        if vlan.is_some() {
            self.store.set_interface_vlan(iface_id, vlan).await?;
        }
        Ok(())
    }

    /// `nodes/{id}/interfaces/?op=create_physical`: a physical interface added by hand —
    /// devices only (a machine's physical interfaces come from commissioning): `mac_address`,
    /// `name` (default ethN), `vlan`.
    pub async fn create_physical_interface(
        &self,
        user: &User,
        system_id: &str,
        p: &Params,
    ) -> Result<i64> {
        let m = self
            .load_node_for(user, system_id, ingot_core::actions::Action::Update)
            .await?;
        if m.node_type != ingot_store::DEVICE {
            return Err(RegionError::BadRequest(
                "A machine's physical interfaces come from commissioning; only a device's are added by hand.".into(),
            ));
        }
        let raw = p.get("mac_address").unwrap_or_default();
        let mac = ingot_core::ids::normalize_mac(raw).ok_or_else(|| {
            RegionError::field("mac_address", format!("'{raw}' is not a MAC address."))
        })?;
        let name = match p.get("name").map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => n.to_string(),
            None => format!("eth{}", m.interfaces.len()),
        };
        if m.interfaces.iter().any(|i| i.name == name) {
            return Err(RegionError::field(
                "name",
                format!("{system_id} already has an interface named {name}."),
            ));
        }
        let id = self
            .store
            .add_physical_interface(m.id, &name, &mac)
            .await
            .map_err(|e| match e {
                ingot_store::StoreError::Duplicate(msg) => RegionError::field("mac_address", msg),
                e => e.into(),
            })?;
        let mut rest = p.clone();
        rest.remove("name");
        self.update_interface(user, system_id, id, &rest).await?;
        Ok(id)
    }

    /// `DELETE nodes/{id}/interfaces/{iface}/`: an interface nothing else is built on (its
    /// links and their addresses go with it). A physical one comes back when the machine is
    /// commissioned again, as in MAAS.
    pub async fn delete_interface(
        &self,
        user: &User,
        system_id: &str,
        iface_id: i64,
    ) -> Result<()> {
        let m = self.editable_node(user, system_id).await?;
        let iface = iface_of(&m, iface_id)?;
        if let Some(child) = m.interfaces.iter().find(|c| c.parents.contains(&iface_id)) {
            return Err(RegionError::BadRequest(format!(
                "{} is used by {}; delete that first.",
                iface.name, child.name
            )));
        }
        self.store.delete_interfaces(&[iface_id]).await?;
        Ok(())
    }
}

/// The gateway a link can route a machine's default traffic through: an AUTO or STATIC link's
/// subnet's gateway.
pub(crate) fn link_gateway(l: &InterfaceLink, subnets: &[Subnet]) -> Option<String> {
    if !matches!(l.mode.as_str(), "auto" | "static") {
        return None;
    }
    let s = subnets.iter().find(|s| Some(s.id) == l.subnet_id)?;
    s.gateway_ip.clone()
}

/// The links a deployed machine routes its default traffic through, IPv4 then IPv6, with the
/// gateway of each: the link marked as default gateway, else the first AUTO or STATIC link
/// on a subnet with a gateway (as MAAS picks it), among enabled interfaces.
pub fn default_gateways<'m>(
    m: &'m ingot_store::Machine,
    subnets: &[Subnet],
) -> [Option<(&'m InterfaceLink, String)>; 2] {
    let gateway = |l: &InterfaceLink| link_gateway(l, subnets);
    let pick = |v6: bool| {
        let candidates = || {
            m.interfaces
                .iter()
                .filter(|i| i.enabled)
                .flat_map(|i| i.links.iter())
                .filter_map(|l| gateway(l).map(|g| (l, g)))
                .filter(move |(_, g)| g.contains(':') == v6)
        };
        candidates()
            .find(|(l, _)| l.default_gateway)
            .or_else(|| candidates().next())
    };
    [pick(false), pick(true)]
}

/// The machine's interfaces as the network configuration needs them (enabled ones only):
/// kinds and parents resolved to names, links to addresses. `subnets` gives prefixes,
/// gateways and DNS servers (the racks' addresses, `racks`, first where the subnet uses
/// the racks' DNS).
pub fn net_ifaces(
    m: &ingot_store::Machine,
    subnets: &[Subnet],
    static_routes: &[ingot_store::routes::StaticRoute],
    racks: &[String],
) -> Vec<ingot_core::deploy::NetIface> {
    use ingot_core::deploy::{NetIface, NetKind, NetLink, Route};
    // The static routes of the subnet a link is on.
    let routes_from = |subnet_id: i64| -> Vec<Route> {
        static_routes
            .iter()
            .filter(|r| r.source_id == subnet_id)
            .filter_map(|r| {
                let to = subnets.iter().find(|s| s.id == r.destination_id)?;
                Some(Route {
                    to: to.cidr.clone(),
                    via: r.gateway_ip.clone(),
                    metric: u32::try_from(r.metric).unwrap_or(0),
                })
            })
            .collect()
    };
    let name_of = |id: i64| find_iface(m, id).map(|i| i.name.clone());
    let gateway_links: Vec<i64> = default_gateways(m, subnets)
        .into_iter()
        .flatten()
        .map(|(l, _)| l.id)
        .collect();
    m.interfaces
        .iter()
        .filter(|i| i.enabled)
        .map(|i| {
            let parents: Vec<String> = i.parents.iter().filter_map(|&id| name_of(id)).collect();
            let pget = |k: &str| i.params.get(k);
            let kind = match i.kind.as_str() {
                "bond" => NetKind::Bond {
                    parents,
                    mode: pget("bond_mode")
                        .and_then(Value::as_str)
                        .unwrap_or("balance-rr")
                        .to_string(),
                },
                "vlan" => NetKind::Vlan {
                    parent: parents.into_iter().next().unwrap_or_default(),
                    vid: pget("vid")
                        .and_then(Value::as_u64)
                        .and_then(|v| u16::try_from(v).ok())
                        .unwrap_or(0),
                },
                "bridge" => NetKind::Bridge {
                    parents,
                    stp: pget("bridge_stp").and_then(Value::as_bool).unwrap_or(false),
                    forward_delay: pget("bridge_fd")
                        .and_then(Value::as_u64)
                        .and_then(|v| u32::try_from(v).ok()),
                },
                _ => NetKind::Physical,
            };
            let links = i
                .links
                .iter()
                .filter_map(|l| {
                    let subnet = l
                        .subnet_id
                        .and_then(|id| subnets.iter().find(|s| s.id == id));
                    match l.mode.as_str() {
                        "dhcp" => Some(NetLink::Dhcp),
                        "link_up" => Some(NetLink::LinkUp),
                        // AUTO without an address yet (not deployed) and STATIC both need one.
                        _ => {
                            let address = l.ip.clone()?;
                            let s = subnet?;
                            let prefix = Cidr::parse(&s.cidr).ok()?.prefix;
                            Some(NetLink::Static {
                                address,
                                prefix,
                                gateway: if gateway_links.contains(&l.id) {
                                    s.gateway_ip.clone()
                                } else {
                                    None
                                },
                                dns: ingot_core::dns::resolvers(
                                    &s.cidr,
                                    s.allow_dns,
                                    &s.dns_servers,
                                    racks,
                                ),
                                search: vec![m.domain.clone()],
                                routes: routes_from(s.id),
                            })
                        }
                    }
                })
                .collect();
            NetIface {
                name: i.name.clone(),
                mac: i.mac_address.clone(),
                kind,
                mtu: pget("mtu")
                    .and_then(Value::as_u64)
                    .and_then(|v| u32::try_from(v).ok()),
                links,
            }
        })
        .collect()
}
