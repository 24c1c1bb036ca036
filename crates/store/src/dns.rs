//! DNS data (`domains`, `dnsresources`, `dnsresource_addresses`, `dnsdata`): domains beyond
//! reading them (create, change, delete, which one is the default), names in a domain with
//! their addresses, and the other records of a name.

use crate::catalog::Domain;
use crate::{map_unique, Result, Store, StoreError, Val};
use sqlx::Row;
use std::collections::HashMap;

/// A name in a domain and the addresses it resolves to.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsResource {
    pub id: i64,
    /// `@` for the domain itself.
    pub name: String,
    pub domain_id: i64,
    pub domain: String,
    pub address_ttl: Option<i64>,
    pub ips: Vec<String>,
}

/// A record of a name other than its addresses.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsRecord {
    pub id: i64,
    pub dnsresource_id: i64,
    pub name: String,
    pub domain_id: i64,
    pub domain: String,
    pub rrtype: String,
    pub rrdata: String,
    pub ttl: Option<i64>,
}

/// What a domain change sets (None: left as it is).
#[derive(Debug, Clone, Default)]
pub struct DomainChange {
    pub name: Option<String>,
    pub authoritative: Option<bool>,
    /// Some(None) clears the TTL.
    pub ttl: Option<Option<i64>>,
}

const TAKEN: &str = "A domain with this name already exists.";

impl Store {
    /// The default domain's id (where machines are named when no domain is given).
    pub async fn default_domain_id(&self) -> Result<i64> {
        let r = sqlx::query("SELECT id FROM domains WHERE is_default = 1 ORDER BY id LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        match r {
            Some(r) => Ok(r.try_get(0)?),
            None => Err(StoreError::Corrupt("no default domain".into())),
        }
    }

    pub async fn create_domain(
        &self,
        name: &str,
        authoritative: bool,
        ttl: Option<i64>,
    ) -> Result<Domain> {
        let r = sqlx::query(
            "INSERT INTO domains (name, authoritative, ttl) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name)
        .bind(authoritative as i64)
        .bind(ttl)
        .fetch_one(self.writes()?)
        .await
        .map_err(|e| map_unique(e, TAKEN))?;
        let id: i64 = r.try_get(0)?;
        self.domain_by_id(id).await?.ok_or(StoreError::NotFound)
    }

    pub async fn domain_by_id(&self, id: i64) -> Result<Option<Domain>> {
        Ok(self.domains().await?.into_iter().find(|d| d.id == id))
    }

    pub async fn update_domain(&self, id: i64, c: &DomainChange) -> Result<()> {
        let mut sets = Vec::new();
        let mut vals: Vec<Val> = Vec::new();
        if let Some(n) = &c.name {
            vals.push(n.clone().into());
            sets.push(format!("name = ${}", vals.len()));
        }
        if let Some(a) = c.authoritative {
            vals.push((a as i64).into());
            sets.push(format!("authoritative = ${}", vals.len()));
        }
        if let Some(t) = c.ttl {
            vals.push(t.into());
            sets.push(format!("ttl = ${}", vals.len()));
        }
        if sets.is_empty() {
            return Ok(());
        }
        vals.push(id.into());
        let sql = format!(
            "UPDATE domains SET {} WHERE id = ${}",
            sets.join(", "),
            vals.len()
        );
        crate::bind_all(sqlx::query(&sql), &vals)
            .execute(self.writes()?)
            .await
            .map_err(|e| map_unique(e, TAKEN))?;
        Ok(())
    }

    /// Delete a domain with its names and records (the caller checks it holds no machine
    /// and is not the default).
    pub async fn delete_domain(&self, id: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for sql in [
            "DELETE FROM dnsdata WHERE dnsresource_id IN (SELECT id FROM dnsresources WHERE domain_id = $1)",
            "DELETE FROM dnsresource_addresses WHERE dnsresource_id IN (SELECT id FROM dnsresources WHERE domain_id = $1)",
            "DELETE FROM dnsresources WHERE domain_id = $1",
            "DELETE FROM domains WHERE id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        crate::commit(tx).await?;
        Ok(())
    }

    /// Make `id` the default domain (and no other).
    pub async fn set_default_domain(&self, id: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE domains SET is_default = CASE WHEN id = $1 THEN 1 ELSE 0 END")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        crate::commit(tx).await?;
        Ok(())
    }

    /// Every name of every domain with its addresses, by domain and name (only `id`'s when
    /// given).
    pub async fn dnsresources(&self, id: Option<i64>) -> Result<Vec<DnsResource>> {
        // The id (a number) is written into the query: no parameter whose type PostgreSQL
        // would have to guess from `IS NULL`.
        let only = |col: &str| id.map_or(String::new(), |n| format!("WHERE {col} = {n}"));
        let rows = sqlx::query(&format!("SELECT r.id, r.name, r.domain_id, d.name, r.address_ttl FROM dnsresources r JOIN domains d ON d.id = r.domain_id {} ORDER BY d.name, r.name", only("r.id")))
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(DnsResource {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                domain_id: r.try_get(2)?,
                domain: r.try_get(3)?,
                address_ttl: r.try_get(4)?,
                ips: Vec::new(),
            });
        }
        let index: HashMap<i64, usize> = out.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        for r in sqlx::query(&format!(
            "SELECT dnsresource_id, ip FROM dnsresource_addresses {} ORDER BY ip",
            only("dnsresource_id")
        ))
        .fetch_all(&self.pool)
        .await?
        {
            let id: i64 = r.try_get(0)?;
            if let Some(&i) = index.get(&id) {
                out[i].ips.push(r.try_get(1)?);
            }
        }
        Ok(out)
    }

    /// A new name in a domain with its addresses.
    pub async fn create_dnsresource(
        &self,
        name: &str,
        domain_id: i64,
        address_ttl: Option<i64>,
        ips: &[String],
    ) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query("INSERT INTO dnsresources (name, domain_id, address_ttl) VALUES ($1, $2, $3) RETURNING id")
            .bind(name)
            .bind(domain_id)
            .bind(address_ttl)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| map_unique(e, "This name already exists in this domain."))?;
        let id: i64 = r.try_get(0)?;
        for ip in ips {
            sqlx::query("INSERT INTO dnsresource_addresses (dnsresource_id, ip) VALUES ($1, $2)")
                .bind(id)
                .bind(ip)
                .execute(&mut *tx)
                .await?;
        }
        crate::commit(tx).await?;
        Ok(id)
    }

    /// Change a name: its name and domain, TTL, and (when given) all its addresses.
    pub async fn update_dnsresource(
        &self,
        id: i64,
        name: &str,
        domain_id: i64,
        address_ttl: Option<i64>,
        ips: Option<&[String]>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE dnsresources SET name = $1, domain_id = $2, address_ttl = $3 WHERE id = $4",
        )
        .bind(name)
        .bind(domain_id)
        .bind(address_ttl)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| map_unique(e, "This name already exists in this domain."))?;
        if let Some(ips) = ips {
            sqlx::query("DELETE FROM dnsresource_addresses WHERE dnsresource_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for ip in ips {
                sqlx::query(
                    "INSERT INTO dnsresource_addresses (dnsresource_id, ip) VALUES ($1, $2)",
                )
                .bind(id)
                .bind(ip)
                .execute(&mut *tx)
                .await?;
            }
        }
        crate::commit(tx).await?;
        Ok(())
    }

    /// Delete a name with its addresses and records.
    pub async fn delete_dnsresource(&self, id: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for sql in [
            "DELETE FROM dnsdata WHERE dnsresource_id = $1",
            "DELETE FROM dnsresource_addresses WHERE dnsresource_id = $1",
            "DELETE FROM dnsresources WHERE id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        crate::commit(tx).await?;
        Ok(())
    }

    /// The DNS serial: increased by the database itself (schema v26's triggers) in the
    /// transaction of every change to what the zones are made of.
    pub async fn dns_serial(&self) -> Result<i64> {
        let row = sqlx::query("SELECT serial FROM dns_serial WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Set the DNS serial (`domains/?op=set_serial`).
    pub async fn set_dns_serial(&self, serial: i64) -> Result<()> {
        sqlx::query("UPDATE dns_serial SET serial = $1 WHERE id = 1")
            .bind(serial)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }

    /// A DHCP lease of `ip` to `mac` until `expires` (ms): the address leaves any other MAC.
    pub async fn set_dhcp_lease(&self, mac: &str, ip: &str, expires: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM dhcp_leases WHERE ip = $1 AND mac <> $2")
            .bind(ip)
            .bind(mac)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO dhcp_leases (mac, ip, expires) VALUES ($1, $2, $3) ON CONFLICT (mac) DO UPDATE SET ip = excluded.ip, expires = excluded.expires")
            .bind(mac)
            .bind(ip)
            .bind(expires)
            .execute(&mut *tx)
            .await?;
        crate::commit(tx).await?;
        Ok(())
    }

    /// `mac` gave `ip` back.
    pub async fn release_dhcp_lease(&self, mac: &str, ip: &str) -> Result<()> {
        sqlx::query("DELETE FROM dhcp_leases WHERE mac = $1 AND ip = $2")
            .bind(mac)
            .bind(ip)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }

    /// Forget the leases that ended before `now` (ms); how many.
    pub async fn delete_expired_leases(&self, now: i64) -> Result<u64> {
        let r = sqlx::query("DELETE FROM dhcp_leases WHERE expires < $1")
            .bind(now)
            .execute(self.writes()?)
            .await?;
        Ok(r.rows_affected())
    }

    /// The leased addresses of nodes that hold no configured address: (system_id, host name,
    /// domain, address), by node.
    pub async fn lease_addresses(&self) -> Result<Vec<(String, String, String, String)>> {
        self.node_address_rows(
            "l.ip",
            "0",
            "FROM dhcp_leases l JOIN interfaces i ON i.mac_address = l.mac JOIN machines m ON m.id = i.machine_id JOIN domains d ON d.id = m.domain_id WHERE NOT EXISTS (SELECT 1 FROM staticips s JOIN interfaces i2 ON i2.id = s.interface_id WHERE i2.machine_id = m.id)",
        )
        .await
    }

    /// Every address configured on a node's interface (static and auto links that hold one):
    /// (system_id, host name, domain, address), by node.
    pub async fn node_addresses(&self) -> Result<Vec<(String, String, String, String)>> {
        self.node_address_rows(
            "s.ip",
            "s.id",
            "FROM staticips s JOIN interfaces i ON i.id = s.interface_id JOIN machines m ON m.id = i.machine_id JOIN domains d ON d.id = m.domain_id",
        )
        .await
    }

    /// Nodes' addresses (`ip`) from `from` (over `m` the node and `d` its domain), ordered by
    /// node, then by `order` and the address: the rows of a fleet's zones, read as JSON
    /// (`json_rows`: one value, not a row through sqlx for each address).
    async fn node_address_rows(
        &self,
        ip: &str,
        order: &str,
        from: &str,
    ) -> Result<Vec<(String, String, String, String)>> {
        let cols = [
            ("m.id", "node"),
            (order, "order"),
            ("m.system_id", "system_id"),
            ("m.hostname", "hostname"),
            ("d.name", "domain"),
            (ip, "ip"),
        ];
        let sql = crate::json_rows::select_sql::<NodeAddressRow>(self.backend, &cols, from);
        let mut rows: Vec<NodeAddressRow> = self.json_rows(&sql, &[]).await?;
        rows.sort_by(|a, b| (a.node, a.order, &a.ip).cmp(&(b.node, b.order, &b.ip)));
        Ok(rows
            .into_iter()
            .map(|r| (r.system_id, r.hostname, r.domain, r.ip))
            .collect())
    }

    /// Every record other than addresses, by domain, name and type (only `id` when given).
    pub async fn dns_records(&self, id: Option<i64>) -> Result<Vec<DnsRecord>> {
        let only = id.map_or(String::new(), |n| format!("WHERE x.id = {n}"));
        let rows = sqlx::query(&format!("SELECT x.id, x.dnsresource_id, r.name, r.domain_id, d.name, x.rrtype, x.rrdata, x.ttl FROM dnsdata x JOIN dnsresources r ON r.id = x.dnsresource_id JOIN domains d ON d.id = r.domain_id {only} ORDER BY d.name, r.name, x.rrtype, x.id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DnsRecord {
                    id: r.try_get(0)?,
                    dnsresource_id: r.try_get(1)?,
                    name: r.try_get(2)?,
                    domain_id: r.try_get(3)?,
                    domain: r.try_get(4)?,
                    rrtype: r.try_get(5)?,
                    rrdata: r.try_get(6)?,
                    ttl: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// A record of `name` in the domain; the name is made when it does not exist yet.
    pub async fn create_dns_record(
        &self,
        name: &str,
        domain_id: i64,
        rrtype: &str,
        rrdata: &str,
        ttl: Option<i64>,
    ) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let found = sqlx::query("SELECT id FROM dnsresources WHERE name = $1 AND domain_id = $2")
            .bind(name)
            .bind(domain_id)
            .fetch_optional(&mut *tx)
            .await?;
        let rid: i64 = match found {
            Some(r) => r.try_get(0)?,
            None => sqlx::query(
                "INSERT INTO dnsresources (name, domain_id) VALUES ($1, $2) RETURNING id",
            )
            .bind(name)
            .bind(domain_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?,
        };
        let id: i64 = sqlx::query("INSERT INTO dnsdata (dnsresource_id, rrtype, rrdata, ttl) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(rid)
            .bind(rrtype)
            .bind(rrdata)
            .bind(ttl)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        crate::commit(tx).await?;
        Ok(id)
    }

    pub async fn update_dns_record(&self, id: i64, rrdata: &str, ttl: Option<i64>) -> Result<()> {
        sqlx::query("UPDATE dnsdata SET rrdata = $1, ttl = $2 WHERE id = $3")
            .bind(rrdata)
            .bind(ttl)
            .bind(id)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }

    /// Delete a record; its name goes too when it has neither records nor addresses left.
    pub async fn delete_dns_record(&self, id: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let rid: Option<i64> = sqlx::query("SELECT dnsresource_id FROM dnsdata WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        sqlx::query("DELETE FROM dnsdata WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if let Some(rid) = rid {
            sqlx::query("DELETE FROM dnsresources WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM dnsdata WHERE dnsresource_id = $1) AND NOT EXISTS (SELECT 1 FROM dnsresource_addresses WHERE dnsresource_id = $1)")
                .bind(rid)
                .execute(&mut *tx)
                .await?;
        }
        crate::commit(tx).await?;
        Ok(())
    }
}

/// A node's address as [`Store::node_address_rows`] reads it (the fields in its columns' order).
#[derive(serde::Deserialize)]
struct NodeAddressRow {
    node: i64,
    order: i64,
    system_id: String,
    hostname: String,
    domain: String,
    ip: String,
}
