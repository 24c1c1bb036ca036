//! The network model's forms: fabrics, VLANs, subnets and IP ranges, validated before they
//! reach the store (CIDR syntax, ranges inside their subnet and not overlapping, VLAN ids).

use crate::{FieldErrors, Region, RegionError, Result};
use ingot_core::net::{check_range, check_static_ip, first_free_ip, ranges_overlap, Cidr};
use ingot_store::network::{
    InterfaceLink, IpRange, StaticIp, Subnet, Vlan, ALLOC_STICKY, ALLOC_USER_RESERVED,
};
use ingot_store::{StoreError, User};
use ingot_wire::Params;
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

    pub async fn create_subnet(&self, p: &Params) -> Result<Subnet> {
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
        };
        self.store.create_subnet(&s).await.map_err(|e| match e {
            ingot_store::StoreError::Duplicate(m) => RegionError::field("cidr", m),
            e => e.into(),
        })
    }

    pub async fn update_subnet(&self, id: i64, p: &Params) -> Result<Subnet> {
        let mut s =
            self.store.subnet_by_id(id).await?.ok_or_else(|| {
                RegionError::NotFound("No Subnet matches the given query.".into())
            })?;
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
                s.gateway_ip.as_deref().and_then(|g| g.parse().ok()),
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
        fe.check()?;
        self.store.update_subnet(&s).await.map_err(|e| match e {
            ingot_store::StoreError::Duplicate(m) => RegionError::field("name", m),
            e => e.into(),
        })?;
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

    pub async fn create_iprange(&self, p: &Params) -> Result<IpRange> {
        let mut fe = FieldErrors::default();
        let start = p.get("start_ip").unwrap_or_default().trim().to_string();
        let end = p.get("end_ip").unwrap_or_default().trim().to_string();
        for (f, v) in [("start_ip", &start), ("end_ip", &end)] {
            if v.is_empty() {
                fe.add(f, "This field is required.");
            }
        }
        // The subnet: given, or the one that holds start_ip.
        let subnet_id = match p.get_i64("subnet")? {
            Some(id) => Some(id),
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

    pub async fn update_iprange(&self, id: i64, p: &Params) -> Result<IpRange> {
        let mut r =
            self.store.iprange_by_id(id).await?.ok_or_else(|| {
                RegionError::NotFound("No IPRange matches the given query.".into())
            })?;
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
                let found = subnets.iter().find(|s| {
                    v.parse::<i64>().is_ok_and(|id| id == s.id) || s.cidr == v || s.name == v
                });
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
        self.allocate_static(subnet, want, "ip", template).await
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
                .insert_static_ip(&row(a))
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
            match self.store.insert_static_ip(&row(a)).await {
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
        let m = self
            .load_for(user, system_id, ingot_core::actions::Action::Update)
            .await?;
        interfaces_editable(&m)?;
        let iface = m
            .interfaces
            .iter()
            .find(|i| i.id == iface_id)
            .ok_or_else(|| {
                RegionError::NotFound(format!("No interface {iface_id} on {system_id}."))
            })?;
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
            Some(v) => Some(
                subnets
                    .iter()
                    .find(|s| v.parse::<i64>().is_ok_and(|id| id == s.id) || s.cidr == v)
                    .ok_or_else(|| {
                        RegionError::field("subnet", format!("No subnet matches '{v}'."))
                    })?,
            ),
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
        let m = self
            .load_for(user, system_id, ingot_core::actions::Action::Update)
            .await?;
        interfaces_editable(&m)?;
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

/// Whether a machine's interfaces may be reconfigured now.
fn interfaces_editable(m: &ingot_store::Machine) -> Result<()> {
    use ingot_core::Status as S;
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
