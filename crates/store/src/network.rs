//! Fabrics, VLANs, subnets, IP ranges and the netboot timeline.

use crate::{bind_all, map_unique, now_ms, Result, Store, StoreError, Val};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq)]
pub struct Fabric {
    pub id: i64,
    pub name: String,
    pub class_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Vlan {
    pub id: i64,
    pub fabric_id: i64,
    pub fabric: String,
    pub vid: i64,
    pub name: String,
    pub mtu: i64,
    pub dhcp_on: bool,
    /// The space the VLAN (and its subnets) is in.
    pub space_id: Option<i64>,
    pub space: Option<String>,
    pub description: String,
    /// The rack controllers (system ids) that serve DHCP on the VLAN; none: every rack on it.
    pub primary_rack: Option<String>,
    pub secondary_rack: Option<String>,
    /// The VLAN whose DHCP serves this one's clients through a relay.
    pub relay_vlan_id: Option<i64>,
}

/// A network space (MAAS): VLANs, and so their subnets, belong to at most one.
#[derive(Debug, Clone, PartialEq)]
pub struct Space {
    pub id: i64,
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Subnet {
    pub id: i64,
    pub name: String,
    pub cidr: String,
    pub vlan_id: i64,
    pub gateway_ip: Option<String>,
    pub dns_servers: Vec<String>,
    pub managed: bool,
    pub description: String,
    pub allow_dns: bool,
    pub allow_proxy: bool,
    /// MAAS's RDNS_MODE: 0 disabled, 1 enabled, 2 RFC 2317.
    pub rdns_mode: i64,
    pub active_discovery: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IpRange {
    pub id: i64,
    pub subnet_id: i64,
    pub kind: String,
    pub start_ip: String,
    pub end_ip: String,
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NetbootEvent {
    pub id: i64,
    pub mac: String,
    pub kind: String,
    pub detail: String,
    pub created: i64,
}

/// A static address: reserved by a user (`alloc_type` 4, optionally for a MAC, which the rack's
/// DHCP then always answers with it) or, later, linked to a machine's interface.
#[derive(Debug, Clone, PartialEq)]
pub struct StaticIp {
    pub id: i64,
    pub subnet_id: i64,
    pub ip: String,
    pub alloc_type: i64,
    pub mac: Option<String>,
    pub hostname: String,
    pub user_id: Option<i64>,
    /// The machine interface this address is configured on (a STATIC link), if any.
    pub interface_id: Option<i64>,
    pub created: i64,
}

/// An address of a subnet and who holds it (`subnets/{id}/?op=ip_addresses`).
#[derive(Debug, Clone, PartialEq)]
pub struct AddressHolder {
    pub ip: String,
    pub alloc_type: i64,
    pub created: i64,
    pub username: Option<String>,
    pub node: Option<NodeSummary>,
}

/// The node an address is configured on, and through which interface.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSummary {
    pub system_id: String,
    pub hostname: String,
    pub node_type: i64,
    pub domain: String,
    pub via: String,
}

/// A machine interface's link to a subnet.
#[derive(Debug, Clone, PartialEq)]
pub struct InterfaceLink {
    pub id: i64,
    pub interface_id: i64,
    /// auto | static | dhcp | link_up
    pub mode: String,
    pub subnet_id: Option<i64>,
    /// The address of a STATIC link.
    pub ip: Option<String>,
    /// The subnet's CIDR (for display).
    pub cidr: Option<String>,
    pub staticip_id: Option<i64>,
    pub default_gateway: bool,
}

/// Interface links with their addresses and subnets, as [`LINK_COLUMNS`] reads them (`l`, and
/// `i` their interface, for a condition on the machine).
pub(crate) const LINKS_FROM: &str = "FROM interface_links l JOIN interfaces i ON i.id = l.interface_id LEFT JOIN staticips s ON s.id = l.staticip_id LEFT JOIN subnets sn ON sn.id = l.subnet_id";

/// An interface link's columns, as (expression, name), read as JSON (`json_rows`): the names
/// are [`LinkRow`]'s fields, in its order.
pub(crate) const LINK_COLUMNS: &[(&str, &str)] = &[
    ("l.id", "id"),
    ("l.interface_id", "interface_id"),
    ("l.mode", "mode"),
    ("l.subnet_id", "subnet_id"),
    ("s.ip", "ip"),
    ("sn.cidr", "cidr"),
    ("l.staticip_id", "staticip_id"),
    ("l.default_gateway", "default_gateway"),
];

/// An interface link row as [`LINK_COLUMNS`] names its fields (in the same order).
#[derive(serde::Deserialize)]
pub(crate) struct LinkRow {
    id: i64,
    interface_id: i64,
    mode: String,
    subnet_id: Option<i64>,
    ip: Option<String>,
    cidr: Option<String>,
    staticip_id: Option<i64>,
    default_gateway: i64,
}

impl From<LinkRow> for InterfaceLink {
    fn from(r: LinkRow) -> InterfaceLink {
        InterfaceLink {
            id: r.id,
            interface_id: r.interface_id,
            mode: r.mode,
            subnet_id: r.subnet_id,
            ip: r.ip,
            cidr: r.cidr,
            staticip_id: r.staticip_id,
            default_gateway: r.default_gateway != 0,
        }
    }
}

/// A registered rack controller.
#[derive(Debug, Clone, PartialEq)]
pub struct Rack {
    pub id: i64,
    pub system_id: String,
    pub name: String,
    pub address: String,
    pub version: String,
    pub first_seen: i64,
    pub last_seen: i64,
    /// The subnets (CIDRs) its DHCP server was answering for at its last check-in; `None`
    /// when it did not say.
    pub dhcp: Option<Vec<String>>,
}

pub(crate) fn rack_from(r: &AnyRow) -> Result<Rack> {
    let dhcp: Option<String> = r.try_get("dhcp")?;
    Ok(Rack {
        id: r.try_get("id")?,
        system_id: r.try_get("system_id")?,
        name: r.try_get("name")?,
        address: r.try_get("address")?,
        version: r.try_get("version")?,
        first_seen: r.try_get("first_seen")?,
        last_seen: r.try_get("last_seen")?,
        dhcp: dhcp.map(|d| d.split_whitespace().map(str::to_string).collect()),
    })
}

/// MAAS's IPADDRESS_TYPE values used here: a user's reservation, and a machine interface's
/// STATIC (sticky) address.
pub const ALLOC_USER_RESERVED: i64 = 4;
pub const ALLOC_STICKY: i64 = 1;

fn staticip_from(r: &AnyRow) -> Result<StaticIp> {
    Ok(StaticIp {
        id: r.try_get("id")?,
        subnet_id: r.try_get("subnet_id")?,
        ip: r.try_get("ip")?,
        alloc_type: r.try_get("alloc_type")?,
        mac: r.try_get("mac")?,
        hostname: r.try_get("hostname")?,
        user_id: r.try_get("user_id")?,
        interface_id: r.try_get("interface_id")?,
        created: r.try_get("created")?,
    })
}

fn vlan_from(r: &AnyRow) -> Result<Vlan> {
    Ok(Vlan {
        id: r.try_get("id")?,
        fabric_id: r.try_get("fabric_id")?,
        fabric: r.try_get("fabric")?,
        vid: r.try_get("vid")?,
        name: r.try_get("name")?,
        mtu: r.try_get("mtu")?,
        dhcp_on: r.try_get::<i64, _>("dhcp_on")? != 0,
        space_id: r.try_get("space_id")?,
        space: r.try_get("space")?,
        description: r.try_get("description")?,
        primary_rack: r.try_get("primary_rack")?,
        secondary_rack: r.try_get("secondary_rack")?,
        relay_vlan_id: r.try_get("relay_vlan_id")?,
    })
}

fn subnet_from(r: &AnyRow) -> Result<Subnet> {
    let dns: String = r.try_get("dns_servers")?;
    Ok(Subnet {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        cidr: r.try_get("cidr")?,
        vlan_id: r.try_get("vlan_id")?,
        gateway_ip: r.try_get("gateway_ip")?,
        dns_servers: dns.split_whitespace().map(String::from).collect(),
        managed: r.try_get::<i64, _>("managed")? != 0,
        description: r.try_get("description")?,
        allow_dns: r.try_get::<i64, _>("allow_dns")? != 0,
        allow_proxy: r.try_get::<i64, _>("allow_proxy")? != 0,
        rdns_mode: r.try_get("rdns_mode")?,
        active_discovery: r.try_get::<i64, _>("active_discovery")? != 0,
    })
}

fn range_from(r: &AnyRow) -> Result<IpRange> {
    Ok(IpRange {
        id: r.try_get("id")?,
        subnet_id: r.try_get("subnet_id")?,
        kind: r.try_get("type")?,
        start_ip: r.try_get("start_ip")?,
        end_ip: r.try_get("end_ip")?,
        comment: r.try_get("comment")?,
    })
}

const VLAN_SELECT: &str =
    "SELECT v.*, f.name AS fabric, sp.name AS space FROM vlans v JOIN fabrics f ON f.id = v.fabric_id LEFT JOIN spaces sp ON sp.id = v.space_id";

impl Store {
    // ---------------------------------------------------------------- fabrics
    pub async fn fabrics(&self) -> Result<Vec<Fabric>> {
        let rows = sqlx::query("SELECT id, name, class_type FROM fabrics ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Fabric {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    class_type: r.try_get(2)?,
                })
            })
            .collect()
    }
    /// Create a fabric with its untagged VLAN.
    pub async fn create_fabric(&self, name: &str, class_type: Option<&str>) -> Result<Fabric> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "INSERT INTO fabrics (name, class_type, created) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name)
        .bind(class_type)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            map_unique(
                e,
                &format!("Fabric with this name '{name}' already exists."),
            )
        })?;
        let id: i64 = r.try_get(0)?;
        sqlx::query("INSERT INTO vlans (fabric_id, vid, name) VALUES ($1, 0, 'untagged')")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        crate::commit(tx).await?;
        Ok(Fabric {
            id,
            name: name.into(),
            class_type: class_type.map(String::from),
        })
    }
    pub async fn update_fabric(&self, id: i64, name: &str, class_type: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE fabrics SET name = $1, class_type = $2 WHERE id = $3")
            .bind(name)
            .bind(class_type)
            .bind(id)
            .execute(self.writes()?)
            .await
            .map_err(|e| {
                map_unique(
                    e,
                    &format!("Fabric with this name '{name}' already exists."),
                )
            })?;
        Ok(())
    }
    /// Delete a fabric; refused while one of its VLANs carries a subnet.
    pub async fn delete_fabric(&self, id: i64) -> Result<()> {
        let refs =
            "SELECT 1 FROM subnets s JOIN vlans v ON v.id = s.vlan_id WHERE v.fabric_id = $1";
        self.delete_unreferenced("fabrics", id, refs, |n| {
            format!("The fabric still has {n} subnet(s): delete or move them first.")
        })
        .await
    }

    // ---------------------------------------------------------------- VLANs
    pub async fn vlans(&self, fabric_id: Option<i64>) -> Result<Vec<Vlan>> {
        let rows = match fabric_id {
            Some(f) => {
                sqlx::query(&format!(
                    "{VLAN_SELECT} WHERE v.fabric_id = $1 ORDER BY v.vid"
                ))
                .bind(f)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!("{VLAN_SELECT} ORDER BY v.id"))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(vlan_from).collect()
    }
    pub async fn vlan_by_id(&self, id: i64) -> Result<Option<Vlan>> {
        let r = sqlx::query(&format!("{VLAN_SELECT} WHERE v.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(vlan_from).transpose()
    }
    pub async fn create_vlan(
        &self,
        fabric_id: i64,
        vid: i64,
        name: &str,
        mtu: i64,
    ) -> Result<Vlan> {
        let r = sqlx::query(
            "INSERT INTO vlans (fabric_id, vid, name, mtu) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(fabric_id)
        .bind(vid)
        .bind(name)
        .bind(mtu)
        .fetch_one(self.writes()?)
        .await
        .map_err(|e| map_unique(e, &format!("VLAN {vid} already exists on this fabric.")))?;
        self.vlan_by_id(r.try_get(0)?)
            .await?
            .ok_or(StoreError::NotFound)
    }
    /// Write a VLAN's own fields (not its space: `set_vlan_space`).
    pub async fn update_vlan(&self, v: &Vlan) -> Result<()> {
        sqlx::query("UPDATE vlans SET name = $1, mtu = $2, dhcp_on = $3, description = $4, primary_rack = $5, secondary_rack = $6, relay_vlan_id = $7 WHERE id = $8")
            .bind(&v.name)
            .bind(v.mtu)
            .bind(v.dhcp_on as i64)
            .bind(&v.description)
            .bind(v.primary_rack.as_deref())
            .bind(v.secondary_rack.as_deref())
            .bind(v.relay_vlan_id)
            .bind(v.id)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }
    /// Put a VLAN (and so its subnets) in a space, or in none.
    pub async fn set_vlan_space(&self, id: i64, space_id: Option<i64>) -> Result<()> {
        sqlx::query("UPDATE vlans SET space_id = $1 WHERE id = $2")
            .bind(space_id)
            .bind(id)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }

    // ---------------------------------------------------------------- spaces
    pub async fn spaces(&self) -> Result<Vec<Space>> {
        sqlx::query("SELECT id, name, description FROM spaces ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(Space {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    description: r.try_get(2)?,
                })
            })
            .collect()
    }
    pub async fn create_space(&self, name: &str, description: &str) -> Result<i64> {
        let r = sqlx::query(
            "INSERT INTO spaces (name, description, created) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name)
        .bind(description)
        .bind(now_ms())
        .fetch_one(self.writes()?)
        .await
        .map_err(|e| map_unique(e, "A space with this name already exists."))?;
        Ok(r.try_get(0)?)
    }
    pub async fn update_space(&self, id: i64, name: &str, description: &str) -> Result<()> {
        sqlx::query("UPDATE spaces SET name = $1, description = $2 WHERE id = $3")
            .bind(name)
            .bind(description)
            .bind(id)
            .execute(self.writes()?)
            .await
            .map_err(|e| map_unique(e, "A space with this name already exists."))?;
        Ok(())
    }
    /// Delete a space; its VLANs are then in none.
    pub async fn delete_space(&self, id: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE vlans SET space_id = NULL WHERE space_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM spaces WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        crate::commit(tx).await?;
        Ok(())
    }

    pub async fn delete_vlan(&self, id: i64) -> Result<()> {
        self.delete_unreferenced(
            "vlans",
            id,
            "SELECT 1 FROM subnets WHERE vlan_id = $1",
            |n| format!("The VLAN still has {n} subnet(s)."),
        )
        .await
    }

    // ---------------------------------------------------------------- subnets
    pub async fn subnets(&self) -> Result<Vec<Subnet>> {
        let rows = sqlx::query("SELECT * FROM subnets ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(subnet_from).collect()
    }
    pub async fn subnet_by_id(&self, id: i64) -> Result<Option<Subnet>> {
        let r = sqlx::query("SELECT * FROM subnets WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(subnet_from).transpose()
    }
    pub async fn create_subnet(&self, s: &Subnet) -> Result<Subnet> {
        let r = sqlx::query("INSERT INTO subnets (name, cidr, vlan_id, gateway_ip, dns_servers, managed, description, allow_dns, allow_proxy, rdns_mode, active_discovery, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id")
            .bind(&s.name)
            .bind(&s.cidr)
            .bind(s.vlan_id)
            .bind(s.gateway_ip.as_deref())
            .bind(s.dns_servers.join(" "))
            .bind(s.managed as i64)
            .bind(&s.description)
            .bind(s.allow_dns as i64)
            .bind(s.allow_proxy as i64)
            .bind(s.rdns_mode)
            .bind(s.active_discovery as i64)
            .bind(now_ms())
            .fetch_one(self.writes()?)
            .await
            .map_err(|e| map_unique(e, &format!("A subnet named '{}' or with CIDR {} already exists.", s.name, s.cidr)))?;
        self.subnet_by_id(r.try_get(0)?)
            .await?
            .ok_or(StoreError::NotFound)
    }
    pub async fn update_subnet(&self, s: &Subnet) -> Result<()> {
        sqlx::query("UPDATE subnets SET name = $1, vlan_id = $2, gateway_ip = $3, dns_servers = $4, managed = $5, description = $6, allow_dns = $7, allow_proxy = $8, rdns_mode = $9, active_discovery = $10 WHERE id = $11")
            .bind(&s.name)
            .bind(s.vlan_id)
            .bind(s.gateway_ip.as_deref())
            .bind(s.dns_servers.join(" "))
            .bind(s.managed as i64)
            .bind(&s.description)
            .bind(s.allow_dns as i64)
            .bind(s.allow_proxy as i64)
            .bind(s.rdns_mode)
            .bind(s.active_discovery as i64)
            .bind(s.id)
            .execute(self.writes()?)
            .await
            .map_err(|e| map_unique(e, &format!("A subnet named '{}' already exists.", s.name)))?;
        Ok(())
    }
    /// Refused while static addresses of the subnet are reserved or in use.
    pub async fn delete_subnet(&self, id: i64) -> Result<()> {
        self.delete_unreferenced(
            "subnets",
            id,
            "SELECT 1 FROM staticips WHERE subnet_id = $1",
            |n| format!("The subnet still has {n} static IP address(es) reserved or in use."),
        )
        .await
    }

    // ---------------------------------------------------------------- IP ranges
    pub async fn ipranges(&self, subnet_id: Option<i64>) -> Result<Vec<IpRange>> {
        let (sql, vals): (&str, Vec<Val>) = match subnet_id {
            Some(s) => (
                "SELECT * FROM ipranges WHERE subnet_id = $1 ORDER BY id",
                vec![s.into()],
            ),
            None => ("SELECT * FROM ipranges ORDER BY id", vec![]),
        };
        let rows = bind_all(sqlx::query(sql), &vals)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(range_from).collect()
    }
    pub async fn iprange_by_id(&self, id: i64) -> Result<Option<IpRange>> {
        let r = sqlx::query("SELECT * FROM ipranges WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(range_from).transpose()
    }
    pub async fn create_iprange(&self, r: &IpRange) -> Result<IpRange> {
        let row = sqlx::query("INSERT INTO ipranges (subnet_id, type, start_ip, end_ip, comment, created) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
            .bind(r.subnet_id)
            .bind(&r.kind)
            .bind(&r.start_ip)
            .bind(&r.end_ip)
            .bind(&r.comment)
            .bind(now_ms())
            .fetch_one(self.writes()?)
            .await?;
        self.iprange_by_id(row.try_get(0)?)
            .await?
            .ok_or(StoreError::NotFound)
    }
    pub async fn update_iprange(&self, r: &IpRange) -> Result<()> {
        sqlx::query(
            "UPDATE ipranges SET type = $1, start_ip = $2, end_ip = $3, comment = $4 WHERE id = $5",
        )
        .bind(&r.kind)
        .bind(&r.start_ip)
        .bind(&r.end_ip)
        .bind(&r.comment)
        .bind(r.id)
        .execute(self.writes()?)
        .await?;
        Ok(())
    }
    pub async fn delete_iprange(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM ipranges WHERE id = $1")
            .bind(id)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }

    // ---------------------------------------------------------------- static IPs
    pub async fn static_ips(&self, subnet_id: Option<i64>) -> Result<Vec<StaticIp>> {
        let (sql, vals): (&str, Vec<Val>) = match subnet_id {
            Some(s) => (
                "SELECT * FROM staticips WHERE subnet_id = $1 ORDER BY id",
                vec![s.into()],
            ),
            None => ("SELECT * FROM staticips ORDER BY id", vec![]),
        };
        let rows = bind_all(sqlx::query(sql), &vals)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(staticip_from).collect()
    }

    /// The addresses of a subnet with who holds each: the reserving user, and the node and
    /// interface it is configured on.
    pub async fn address_holders(&self, subnet_id: i64) -> Result<Vec<AddressHolder>> {
        let rows = sqlx::query("SELECT s.ip, s.alloc_type, s.created, u.username, m.system_id, m.hostname, m.node_type, d.name AS domain, i.name AS via FROM staticips s LEFT JOIN users u ON u.id = s.user_id LEFT JOIN interfaces i ON i.id = s.interface_id LEFT JOIN machines m ON m.id = i.machine_id LEFT JOIN domains d ON d.id = m.domain_id WHERE s.subnet_id = $1 ORDER BY s.id")
            .bind(subnet_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let node = match r.try_get::<Option<String>, _>("system_id")? {
                    Some(system_id) => Some(NodeSummary {
                        system_id,
                        hostname: r.try_get("hostname")?,
                        node_type: r.try_get("node_type")?,
                        domain: r.try_get("domain")?,
                        via: r.try_get("via")?,
                    }),
                    None => None,
                };
                Ok(AddressHolder {
                    ip: r.try_get("ip")?,
                    alloc_type: r.try_get("alloc_type")?,
                    created: r.try_get("created")?,
                    username: r.try_get("username")?,
                    node,
                })
            })
            .collect()
    }

    pub async fn static_ip(&self, ip: &str) -> Result<Option<StaticIp>> {
        let r = sqlx::query("SELECT * FROM staticips WHERE ip = $1")
            .bind(ip)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(staticip_from).transpose()
    }

    /// Insert a static address. The unique index on `ip` is what makes the choice safe against
    /// a concurrent insert (in this region or another): the loser gets `Duplicate` and picks again.
    /// Record a static address; given `link` (an AUTO link's id), the link holds it from the
    /// same transaction on, so that no crash leaves an address nobody holds.
    pub async fn insert_static_ip(&self, s: &StaticIp, link: Option<i64>) -> Result<StaticIp> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query("INSERT INTO staticips (subnet_id, ip, alloc_type, mac, hostname, user_id, interface_id, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
            .bind(s.subnet_id)
            .bind(&s.ip)
            .bind(s.alloc_type)
            .bind(s.mac.as_deref())
            .bind(&s.hostname)
            .bind(s.user_id)
            .bind(s.interface_id)
            .bind(now_ms())
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| {
                let what = match &s.mac {
                    Some(m) => format!("The IP address {} is already in use, or {m} already has a reserved address.", s.ip),
                    None => format!("The IP address {} is already in use.", s.ip),
                };
                map_unique(e, &what)
            })?;
        let id: i64 = r.try_get(0)?;
        if let Some(link) = link {
            sqlx::query("UPDATE interface_links SET staticip_id = $1 WHERE id = $2")
                .bind(id)
                .bind(link)
                .execute(&mut *tx)
                .await?;
        }
        let rows = sqlx::query("SELECT * FROM staticips WHERE id = $1")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
        crate::commit(tx).await?;
        rows.first()
            .map(staticip_from)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// The DHCP reservations (MAAS `reservedips/`): reserved addresses with a MAC, with their
    /// comments.
    pub async fn reserved_ips(&self) -> Result<Vec<(StaticIp, String)>> {
        let rows = sqlx::query(
            "SELECT * FROM staticips WHERE mac IS NOT NULL AND alloc_type = $1 ORDER BY id",
        )
        .bind(ALLOC_USER_RESERVED)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((staticip_from(r)?, r.try_get("comment")?)))
            .collect()
    }

    /// Change a reserved address's MAC and comment.
    pub async fn update_reserved_ip(&self, id: i64, mac: &str, comment: &str) -> Result<()> {
        let done = sqlx::query("UPDATE staticips SET mac = $1, comment = $2 WHERE id = $3")
            .bind(mac)
            .bind(comment)
            .bind(id)
            .execute(self.writes()?)
            .await
            .map_err(|e| map_unique(e, &format!("{mac} already has a reserved address.")))?;
        crate::found(done.rows_affected())
    }

    pub async fn delete_static_ip(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM staticips WHERE id = $1")
            .bind(id)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }

    // ---------------------------------------------------------------- interface links

    pub async fn add_interface_link(&self, l: &InterfaceLink) -> Result<i64> {
        let r = sqlx::query("INSERT INTO interface_links (interface_id, mode, subnet_id, staticip_id, default_gateway, created) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
            .bind(l.interface_id)
            .bind(&l.mode)
            .bind(l.subnet_id)
            .bind(l.staticip_id)
            .bind(l.default_gateway as i64)
            .bind(now_ms())
            .fetch_one(self.writes()?)
            .await?;
        Ok(r.try_get(0)?)
    }

    /// Remove a link and the static address it held, in one transaction.
    pub async fn remove_interface_link(&self, l: &InterfaceLink) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM interface_links WHERE id = $1")
            .bind(l.id)
            .execute(&mut *tx)
            .await?;
        if let Some(sid) = l.staticip_id {
            sqlx::query("DELETE FROM staticips WHERE id = $1")
                .bind(sid)
                .execute(&mut *tx)
                .await?;
        }
        crate::commit(tx).await?;
        Ok(())
    }

    // ---------------------------------------------------------------- bonds, VLANs, bridges

    /// Add a bond, VLAN or bridge on these parents, in one transaction. `params` carries the
    /// MAC the interface shows (`mac_address`); the `mac_address` column gets a unique
    /// placeholder, so MAC lookups only ever find physical interfaces.
    pub async fn create_virtual_interface(
        &self,
        machine_id: i64,
        kind: &str,
        name: &str,
        parents: &[i64],
        params: &serde_json::Value,
    ) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let placeholder = format!("{kind}:{:016x}", rand::random::<u64>());
        let r = sqlx::query("INSERT INTO interfaces (machine_id, name, type, mac_address, params) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(machine_id)
            .bind(name)
            .bind(kind)
            .bind(&placeholder)
            .bind(params.to_string())
            .fetch_one(&mut *tx)
            .await?;
        let id: i64 = r.try_get(0)?;
        for p in parents {
            sqlx::query("INSERT INTO interface_parents (child_id, parent_id) VALUES ($1, $2)")
                .bind(id)
                .bind(p)
                .execute(&mut *tx)
                .await?;
        }
        crate::commit(tx).await?;
        Ok(id)
    }

    /// Change an interface's name and parameters.
    /// A physical interface added by hand (a device's); the MAC is unique region-wide.
    pub async fn add_physical_interface(
        &self,
        machine_id: i64,
        name: &str,
        mac: &str,
    ) -> Result<i64> {
        let r = sqlx::query(
            "INSERT INTO interfaces (machine_id, name, mac_address) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(machine_id)
        .bind(name)
        .bind(mac)
        .fetch_one(self.writes()?)
        .await
        .map_err(|e| map_unique(e, "This MAC address is already in use."))?;
        Ok(r.try_get(0)?)
    }

    /// Put an interface on a VLAN (or on none).
    pub async fn set_interface_vlan(&self, id: i64, vlan_id: Option<i64>) -> Result<()> {
        sqlx::query("UPDATE interfaces SET vlan_id = $1 WHERE id = $2")
            .bind(vlan_id)
            .bind(id)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }

    pub async fn update_interface(
        &self,
        id: i64,
        name: &str,
        params: &serde_json::Value,
    ) -> Result<()> {
        sqlx::query("UPDATE interfaces SET name = $1, params = $2 WHERE id = $3")
            .bind(name)
            .bind(params.to_string())
            .bind(id)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }

    /// Delete interfaces with their links and the static addresses those held, in one
    /// transaction.
    /// Remove every link of these interfaces (and the addresses they held) and take them off
    /// their VLAN; the interfaces stay (one transaction).
    pub async fn disconnect_interfaces(&self, ids: &[i64]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        teardown_interfaces(&mut tx, ids, false).await?;
        for id in ids {
            sqlx::query("UPDATE interfaces SET vlan_id = NULL WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        crate::commit(tx).await?;
        Ok(())
    }

    /// Mark `set` as a default-gateway link and unmark `clear` (one transaction).
    pub async fn set_gateway_links(&self, clear: &[i64], set: Option<i64>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for id in clear {
            sqlx::query("UPDATE interface_links SET default_gateway = 0 WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(id) = set {
            sqlx::query("UPDATE interface_links SET default_gateway = 1 WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        crate::commit(tx).await?;
        Ok(())
    }

    /// A machine's network back to what commissioning leaves: `remove` (bonds, VLANs, bridges)
    /// deleted, every other interface's links and addresses gone, then `link` added, with the
    /// event that says so (one transaction).
    pub async fn reset_network(
        &self,
        m: &crate::Machine,
        remove: &[i64],
        keep: &[i64],
        link: Option<&InterfaceLink>,
        ev: &crate::NewEvent,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        crate::events::insert_event(&mut tx, Some(m.id), &m.system_id, &m.hostname, ev, now_ms())
            .await?;
        teardown_interfaces(&mut tx, remove, true).await?;
        teardown_interfaces(&mut tx, keep, false).await?;
        if let Some(l) = link {
            sqlx::query("INSERT INTO interface_links (interface_id, mode, subnet_id, staticip_id, default_gateway, created) VALUES ($1, $2, $3, NULL, 0, $4)")
                .bind(l.interface_id)
                .bind(&l.mode)
                .bind(l.subnet_id)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
        }
        crate::commit(tx).await?;
        Ok(())
    }

    pub async fn delete_interfaces(&self, ids: &[i64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        teardown_interfaces(&mut tx, ids, true).await?;
        crate::commit(tx).await?;
        Ok(())
    }

    // ---------------------------------------------------------------- rack controllers
    /// A rack controller read its configuration: create its row (with a new system id) the
    /// first time, refresh address, version, last-seen time and what it said of its DHCP
    /// service (`dhcp`: the subnets it answers for; `None` when it did not say) after.
    pub async fn rack_seen(
        &self,
        name: &str,
        address: &str,
        version: &str,
        dhcp: Option<&[String]>,
    ) -> Result<Rack> {
        let now = now_ms();
        let dhcp = dhcp.map(|d| d.join(" "));
        let pool = self.writes()?;
        let refresh = || {
            sqlx::query("UPDATE racks SET address = $1, version = $2, last_seen = $3, dhcp = $4 WHERE name = $5")
                .bind(address)
                .bind(version)
                .bind(now)
                .bind(dhcp.clone())
                .bind(name)
                .execute(pool)
        };
        let n = refresh().await?.rows_affected();
        if n == 0 {
            let sid = ingot_core::ids::system_id_from_random(rand::random());
            let r = sqlx::query("INSERT INTO racks (system_id, name, address, version, first_seen, last_seen, dhcp) VALUES ($1, $2, $3, $4, $5, $5, $6)")
                .bind(&sid)
                .bind(name)
                .bind(address)
                .bind(version)
                .bind(now)
                .bind(dhcp.clone())
                .execute(self.writes()?)
                .await;
            match r {
                Ok(_) => {}
                // Registered concurrently by another request: refresh instead.
                Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                    refresh().await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.racks()
            .await?
            .into_iter()
            .find(|r| r.name == name)
            .ok_or(StoreError::NotFound)
    }

    pub async fn racks(&self) -> Result<Vec<Rack>> {
        let rows = sqlx::query("SELECT * FROM racks ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rack_from).collect()
    }

    // ---------------------------------------------------------------- netboot timeline
    /// Record one hop of a machine's network boot, by MAC (known to Ingot or not).
    pub async fn record_netboot(&self, mac: &str, kind: &str, detail: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO netboot_events (mac, kind, detail, created) VALUES ($1, $2, $3, $4)",
        )
        .bind(mac)
        .bind(kind)
        .bind(detail)
        .bind(now_ms())
        .execute(self.writes()?)
        .await?;
        Ok(())
    }
    /// A MAC's netboot timeline, oldest first (the last `limit` hops).
    pub async fn netboot_timeline(&self, mac: &str, limit: i64) -> Result<Vec<NetbootEvent>> {
        let rows = sqlx::query("SELECT id, mac, kind, detail, created FROM netboot_events WHERE mac = $1 ORDER BY id DESC LIMIT $2")
            .bind(mac)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut evs: Vec<NetbootEvent> = rows
            .iter()
            .map(|r| {
                Ok(NetbootEvent {
                    id: r.try_get(0)?,
                    mac: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    detail: r.try_get(3)?,
                    created: r.try_get(4)?,
                })
            })
            .collect::<Result<_>>()?;
        evs.reverse();
        Ok(evs)
    }
}

/// Take interfaces apart inside a write transaction: their links and the addresses the links
/// and the interfaces hold always; with `remove`, also their parent/child edges and the
/// interfaces themselves. Order matters to the foreign keys (ON DELETE CASCADE is not relied
/// on: SQLite enforces it only with foreign keys on). The one teardown: deleting, cloning
/// onto and releasing machines all use it.
pub(crate) async fn teardown_interfaces(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    ids: &[i64],
    remove: bool,
) -> Result<()> {
    for id in ids {
        let ips: Vec<i64> = sqlx::query(
            "SELECT staticip_id FROM interface_links WHERE interface_id = $1 AND staticip_id IS NOT NULL",
        )
        .bind(id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect::<Result<_>>()?;
        sqlx::query("DELETE FROM interface_links WHERE interface_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        for ip in ips {
            sqlx::query("DELETE FROM staticips WHERE id = $1")
                .bind(ip)
                .execute(&mut **tx)
                .await?;
        }
        sqlx::query("DELETE FROM staticips WHERE interface_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        if remove {
            sqlx::query("DELETE FROM interface_parents WHERE child_id = $1 OR parent_id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
    }
    if remove {
        for id in ids {
            sqlx::query("DELETE FROM interfaces WHERE id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}
