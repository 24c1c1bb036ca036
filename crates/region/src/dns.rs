//! DNS data as MAAS's API manages it: domains (create, change, delete, the default), names in
//! a domain with their addresses (`dnsresources/`), and their other records
//! (`dnsresourcerecords/`: CNAME, MX, NS, SRV, SSHFP, TXT; A and AAAA are a name's
//! addresses). The rules (names, record data, TTLs) are the core's (`core::dns`); a name
//! taken is a 409, anything else malformed a 400 naming the field.

use crate::error::FieldErrors;
use crate::settings::need_admin;
use crate::{Region, RegionError, Result};
use ingot_core::dns::{self, RrType};
use ingot_core::dns_zone::{
    self, Built, NamedAddresses, Record, ReverseSubnet, ZoneDomain, ZoneInput,
};
use ingot_core::net::Cidr;
use ingot_store::dns::{DnsRecord, DnsResource, DomainChange};
use ingot_store::{Domain, User};
use ingot_wire::Params;
use std::net::IpAddr;

/// A boolean form field, its error recorded.
fn flag(p: &Params, name: &str, fe: &mut FieldErrors) -> Option<bool> {
    match p.get_bool(name) {
        Ok(v) => v,
        Err(e) => {
            fe.add(name, e.to_string());
            None
        }
    }
}

/// A TTL form field (`None` when absent; `Some(None)` when sent empty).
fn ttl_field(p: &Params, name: &str, fe: &mut FieldErrors) -> Option<Option<i64>> {
    let raw = p.get(name)?;
    match dns::check_ttl(raw) {
        Ok(t) => Some(t),
        Err(m) => {
            fe.add(name, m);
            None
        }
    }
}

/// The addresses of `ip_addresses` (space- or comma-separated, repeatable).
fn addresses(p: &Params, fe: &mut FieldErrors) -> Option<Vec<String>> {
    if !p.contains("ip_addresses") {
        return None;
    }
    let mut out = Vec::new();
    for raw in p
        .get_all("ip_addresses")
        .iter()
        .flat_map(|v| v.split([' ', ',']))
        .filter(|s| !s.is_empty())
    {
        match raw.parse::<IpAddr>() {
            Ok(ip) if !out.contains(&ip.to_string()) => out.push(ip.to_string()),
            Ok(_) => {}
            Err(_) => fe.add("ip_addresses", format!("'{raw}' is not an IP address.")),
        }
    }
    Some(out)
}

impl Region {
    /// `POST domains/` (admin): name, authoritative (default true), ttl.
    pub async fn create_domain(&self, u: &User, p: &Params) -> Result<Domain> {
        need_admin(u)?;
        let mut fe = FieldErrors::default();
        let name = dns::check_domain_name(p.get("name").unwrap_or_default())
            .map_err(|m| fe.add("name", m))
            .ok();
        let authoritative = flag(p, "authoritative", &mut fe).unwrap_or(true);
        let ttl = ttl_field(p, "ttl", &mut fe).flatten();
        fe.check()?;
        let name = name.unwrap_or_default();
        Ok(self.store.create_domain(&name, authoritative, ttl).await?)
    }

    /// `PUT domains/{id}/` (admin): name, authoritative, ttl.
    pub async fn update_domain(&self, u: &User, key: &str, p: &Params) -> Result<Domain> {
        need_admin(u)?;
        let d = self.domain(key).await?;
        let mut fe = FieldErrors::default();
        let mut c = DomainChange::default();
        if let Some(n) = p.get("name") {
            c.name = dns::check_domain_name(n)
                .map_err(|m| fe.add("name", m))
                .ok();
        }
        c.authoritative = flag(p, "authoritative", &mut fe);
        c.ttl = ttl_field(p, "ttl", &mut fe);
        fe.check()?;
        self.store.update_domain(d.id, &c).await?;
        self.domain(&d.id.to_string()).await
    }

    /// `DELETE domains/{id}/` (admin): not the default domain, nor one machines are named in.
    pub async fn delete_domain(&self, u: &User, key: &str) -> Result<()> {
        need_admin(u)?;
        let d = self.domain(key).await?;
        if d.is_default {
            return Err(RegionError::BadRequest(format!(
                "{} is the default domain and cannot be deleted: make another domain the default first.",
                d.name
            )));
        }
        if d.machines > 0 {
            return Err(RegionError::BadRequest(format!(
                "{} still names {} machine(s): move them to another domain first.",
                d.name, d.machines
            )));
        }
        Ok(self.store.delete_domain(d.id).await?)
    }

    /// `POST domains/{id}/?op=set_default` (admin).
    /// `domains/?op=set_serial`: every zone's SOA serial from now on (1 to 4294967295, as in
    /// MAAS); later changes count up from it. A serial lower than a secondary's makes it
    /// ignore the zone until the serial passes its own, as with any DNS server.
    pub async fn set_dns_serial(&self, u: &User, serial: &str) -> Result<()> {
        need_admin(u)?;
        let n: i64 = match serial.trim() {
            "" => {
                return Err(RegionError::BadRequest(
                    "serial: This field is required.".into(),
                ))
            }
            s => s
                .parse()
                .map_err(|_| RegionError::BadRequest(format!("Invalid serial number: '{s}'.")))?,
        };
        if !(1..=i64::from(u32::MAX)).contains(&n) {
            return Err(RegionError::BadRequest(
                "Serial number must be 1 to 4294967295.".into(),
            ));
        }
        Ok(self.store.set_dns_serial(n).await?)
    }

    pub async fn set_default_domain(&self, u: &User, key: &str) -> Result<Domain> {
        need_admin(u)?;
        let d = self.domain(key).await?;
        self.store.set_default_domain(d.id).await?;
        self.domain(&d.id.to_string()).await
    }

    /// The name and domain a form gives: `fqdn`, or `name` and `domain` (id or name; the
    /// default domain when absent).
    async fn name_in_domain(
        &self,
        p: &Params,
        fe: &mut FieldErrors,
    ) -> Result<Option<(String, Domain)>> {
        let domains = self.domains().await?;
        if let Some(f) = p.get("fqdn").filter(|f| !f.trim().is_empty()) {
            let names: Vec<String> = domains.iter().map(|d| d.name.clone()).collect();
            return Ok(match dns::split_fqdn(f, &names) {
                Some((name, dom)) => match dns::check_resource_name(&name) {
                    Ok(name) => domains
                        .into_iter()
                        .find(|d| d.name == dom)
                        .map(|d| (name, d)),
                    Err(m) => {
                        fe.add("fqdn", m);
                        None
                    }
                },
                None => {
                    fe.add("fqdn", format!("No domain of this region ends '{f}'."));
                    None
                }
            });
        }
        let name = match p.get("name") {
            Some(n) => dns::check_resource_name(n)
                .map_err(|m| fe.add("name", m))
                .ok(),
            None => {
                fe.add("fqdn", "Give fqdn, or name and domain.");
                None
            }
        };
        let domain = match p.get("domain").map(str::trim).filter(|d| !d.is_empty()) {
            Some(k) => match domains
                .iter()
                .find(|d| d.id.to_string() == k || d.name == k)
            {
                Some(d) => Some(d.clone()),
                None => {
                    fe.add("domain", format!("Domain '{k}' does not exist."));
                    None
                }
            },
            None => domains.iter().find(|d| d.is_default).cloned(),
        };
        Ok(name.zip(domain))
    }

    /// A machine already named `name` in the domain (its host name), as a conflict.
    async fn machine_named(&self, name: &str, domain: &Domain) -> Result<()> {
        let m = self
            .store
            .list_machines_brief(&ingot_store::MachineFilter {
                hostnames: vec![name.to_string()],
                ..Default::default()
            })
            .await?;
        if let Some(m) = m.into_iter().find(|m| m.domain_id == domain.id) {
            return Err(RegionError::Conflict(format!(
                "{} is the name of machine {} ({}): a machine's addresses are its own.",
                dns::fqdn(name, &domain.name),
                m.hostname,
                m.system_id
            )));
        }
        Ok(())
    }

    pub async fn dnsresources(&self) -> Result<Vec<DnsResource>> {
        Ok(self.store.dnsresources(None).await?)
    }

    /// One name by its id (one query for it and its addresses, not the whole table).
    pub async fn dnsresource(&self, id: &str) -> Result<DnsResource> {
        let found = match id.trim().parse::<i64>() {
            Ok(n) => self.store.dnsresources(Some(n)).await?.pop(),
            Err(_) => None,
        };
        found.ok_or_else(|| RegionError::NotFound("No DNSResource matches the given query.".into()))
    }

    /// `POST dnsresources/` (admin): fqdn or name + domain, address_ttl, ip_addresses.
    pub async fn create_dnsresource(&self, u: &User, p: &Params) -> Result<DnsResource> {
        need_admin(u)?;
        let mut fe = FieldErrors::default();
        let at = self.name_in_domain(p, &mut fe).await?;
        let ttl = ttl_field(p, "address_ttl", &mut fe).flatten();
        let ips = addresses(p, &mut fe).unwrap_or_default();
        fe.check()?;
        let Some((name, domain)) = at else {
            return Err(RegionError::field("fqdn", "Give fqdn, or name and domain."));
        };
        self.machine_named(&name, &domain).await?;
        let id = self
            .store
            .create_dnsresource(&name, domain.id, ttl, &ips)
            .await?;
        self.dnsresource(&id.to_string()).await
    }

    /// `PUT dnsresources/{id}/` (admin): fqdn or name/domain, address_ttl, ip_addresses.
    pub async fn update_dnsresource(&self, u: &User, id: &str, p: &Params) -> Result<DnsResource> {
        need_admin(u)?;
        let r = self.dnsresource(id).await?;
        let mut fe = FieldErrors::default();
        let moved = if p.contains("fqdn") || p.contains("name") || p.contains("domain") {
            let mut q = p.clone();
            if !q.contains("name") && !q.contains("fqdn") {
                q.push("name", r.name.as_bytes().to_vec());
            }
            self.name_in_domain(&q, &mut fe).await?
        } else {
            None
        };
        let ttl = ttl_field(p, "address_ttl", &mut fe);
        let ips = addresses(p, &mut fe);
        fe.check()?;
        let (name, domain_id) = match &moved {
            Some((n, d)) => {
                if *n != r.name || d.id != r.domain_id {
                    self.machine_named(n, d).await?;
                }
                (n.clone(), d.id)
            }
            None => (r.name.clone(), r.domain_id),
        };
        if ips.is_some() {
            self.no_cname_beside(&r, "ip_addresses").await?;
        }
        self.store
            .update_dnsresource(
                r.id,
                &name,
                domain_id,
                ttl.unwrap_or(r.address_ttl),
                ips.as_deref(),
            )
            .await?;
        self.dnsresource(id).await
    }

    pub async fn delete_dnsresource(&self, u: &User, id: &str) -> Result<()> {
        need_admin(u)?;
        let r = self.dnsresource(id).await?;
        Ok(self.store.delete_dnsresource(r.id).await?)
    }

    /// A name with a CNAME has nothing else (RFC 1034 §3.6.2).
    async fn no_cname_beside(&self, r: &DnsResource, field: &str) -> Result<()> {
        let has_cname = self
            .store
            .dns_records(None)
            .await?
            .iter()
            .any(|x| x.dnsresource_id == r.id && x.rrtype == "CNAME");
        if has_cname {
            return Err(RegionError::field(
                field,
                format!(
                    "{} has a CNAME record: a name with a CNAME can have no other data.",
                    dns::fqdn(&r.name, &r.domain)
                ),
            ));
        }
        Ok(())
    }

    pub async fn dns_records(&self) -> Result<Vec<DnsRecord>> {
        Ok(self.store.dns_records(None).await?)
    }

    /// One record by its id.
    pub async fn dns_record(&self, id: &str) -> Result<DnsRecord> {
        let found = match id.trim().parse::<i64>() {
            Ok(n) => self.store.dns_records(Some(n)).await?.pop(),
            Err(_) => None,
        };
        found.ok_or_else(|| RegionError::NotFound("No DNSData matches the given query.".into()))
    }

    /// `POST dnsresourcerecords/` (admin): fqdn or name + domain, rrtype, rrdata, ttl.
    pub async fn create_dns_record(&self, u: &User, p: &Params) -> Result<DnsRecord> {
        need_admin(u)?;
        let mut fe = FieldErrors::default();
        let at = self.name_in_domain(p, &mut fe).await?;
        let rrtype = match p.get("rrtype").map(str::trim).filter(|t| !t.is_empty()) {
            None => {
                fe.add("rrtype", "This field is required.");
                None
            }
            Some(t) => match RrType::parse(t) {
                Some(RrType::A | RrType::Aaaa) => {
                    fe.add(
                        "rrtype",
                        format!("{t} records are the addresses of a name: give them as ip_addresses of dnsresources/."),
                    );
                    None
                }
                Some(t) => Some(t),
                None => {
                    fe.add(
                        "rrtype",
                        format!("'{t}' is not a record type: CNAME, MX, NS, SRV, SSHFP or TXT."),
                    );
                    None
                }
            },
        };
        let rrdata = rrtype.and_then(|t| {
            dns::check_rrdata(t, p.get("rrdata").unwrap_or_default())
                .map_err(|m| fe.add("rrdata", m))
                .ok()
        });
        let ttl = ttl_field(p, "ttl", &mut fe).flatten();
        fe.check()?;
        let (Some((name, domain)), Some(t), Some(data)) = (at, rrtype, rrdata) else {
            return Err(RegionError::field("rrtype", "This field is required."));
        };
        // A CNAME stands alone at its name, and nothing joins one.
        let existing = self.dnsresources().await?;
        let here = existing
            .iter()
            .find(|r| r.name == name && r.domain_id == domain.id);
        let records = self.store.dns_records(None).await?;
        let at_name: Vec<&DnsRecord> = records
            .iter()
            .filter(|x| x.name == name && x.domain_id == domain.id)
            .collect();
        if t == RrType::Cname && (here.is_some_and(|r| !r.ips.is_empty()) || !at_name.is_empty()) {
            return Err(RegionError::field(
                "rrtype",
                format!(
                    "{} already has other data: a name with a CNAME can have no other data.",
                    dns::fqdn(&name, &domain.name)
                ),
            ));
        }
        if t != RrType::Cname && at_name.iter().any(|x| x.rrtype == "CNAME") {
            return Err(RegionError::field(
                "rrtype",
                format!(
                    "{} has a CNAME record: a name with a CNAME can have no other data.",
                    dns::fqdn(&name, &domain.name)
                ),
            ));
        }
        if at_name
            .iter()
            .any(|x| x.rrtype == t.as_str() && x.rrdata == data)
        {
            return Err(RegionError::Conflict(format!(
                "{} already has the {} record '{data}'.",
                dns::fqdn(&name, &domain.name),
                t.as_str()
            )));
        }
        if here.is_none() {
            self.machine_named(&name, &domain).await?;
        }
        let id = self
            .store
            .create_dns_record(&name, domain.id, t.as_str(), &data, ttl)
            .await?;
        self.dns_record(&id.to_string()).await
    }

    /// `PUT dnsresourcerecords/{id}/` (admin): rrdata, ttl (the type stays).
    pub async fn update_dns_record(&self, u: &User, id: &str, p: &Params) -> Result<DnsRecord> {
        need_admin(u)?;
        let r = self.dns_record(id).await?;
        let mut fe = FieldErrors::default();
        let data = match p.get("rrdata") {
            Some(d) => RrType::parse(&r.rrtype).and_then(|t| {
                dns::check_rrdata(t, d)
                    .map_err(|m| fe.add("rrdata", m))
                    .ok()
            }),
            None => Some(r.rrdata.clone()),
        };
        if let Some(t) = p.get("rrtype") {
            if !t.trim().eq_ignore_ascii_case(&r.rrtype) {
                fe.add(
                    "rrtype",
                    "A record's type cannot change: delete it and make another.",
                );
            }
        }
        let ttl = ttl_field(p, "ttl", &mut fe);
        fe.check()?;
        self.store
            .update_dns_record(
                r.id,
                &data.unwrap_or(r.rrdata.clone()),
                ttl.unwrap_or(r.ttl),
            )
            .await?;
        self.dns_record(id).await
    }

    pub async fn delete_dns_record(&self, u: &User, id: &str) -> Result<()> {
        need_admin(u)?;
        let r = self.dns_record(id).await?;
        Ok(self.store.delete_dns_record(r.id).await?)
    }

    /// The zones the racks serve now (`core::dns_zone::build` over the domains, every node's
    /// addresses, the DNS resources and records, and the subnets with reverse DNS on), with
    /// `serial` as every zone's SOA serial and `ns_host` as their name server.
    pub async fn dns_zones(&self, serial: u32, ns_host: &str) -> Result<Built> {
        self.build_zones(serial, ns_host, Vec::new()).await
    }

    /// As [`Region::dns_zones`], with `extra` names (the name servers' own addresses).
    pub(crate) async fn build_zones(
        &self,
        serial: u32,
        ns_host: &str,
        extra: Vec<NamedAddresses>,
    ) -> Result<Built> {
        let domains = self
            .domains()
            .await?
            .into_iter()
            .map(|d| ZoneDomain {
                name: d.name,
                authoritative: d.authoritative,
                ttl: d.ttl.and_then(|t| u32::try_from(t).ok()),
            })
            .collect();
        // One name per node: the rows come ordered by node, so a node's addresses are
        // consecutive.
        let mut names: Vec<NamedAddresses> = Vec::new();
        // Configured addresses, then the leases of nodes that have none (each node's rows are
        // consecutive, and a node is in one list only).
        let mut rows = self.store.node_addresses().await?;
        rows.extend(self.store.lease_addresses().await?);
        for (sid, host, domain, ip) in rows {
            let Ok(ip) = ip.parse::<IpAddr>() else {
                continue;
            };
            match names.last_mut() {
                Some(n) if n.machine.as_deref() == Some(sid.as_str()) => n.addresses.push(ip),
                _ => names.push(NamedAddresses {
                    name: host,
                    domain,
                    ttl: None,
                    addresses: vec![ip],
                    machine: Some(sid),
                }),
            }
        }
        for x in extra {
            if !names
                .iter()
                .any(|n| n.name == x.name && n.domain == x.domain)
            {
                names.push(x);
            }
        }
        for r in self.dnsresources().await? {
            names.push(NamedAddresses {
                name: r.name,
                domain: r.domain,
                ttl: r.address_ttl.and_then(|t| u32::try_from(t).ok()),
                addresses: r.ips.iter().filter_map(|ip| ip.parse().ok()).collect(),
                machine: None,
            });
        }
        let records = self
            .dns_records()
            .await?
            .into_iter()
            .filter_map(|x| {
                Some(Record {
                    rrtype: RrType::parse(&x.rrtype)?,
                    name: x.name,
                    domain: x.domain,
                    rrdata: x.rrdata,
                    ttl: x.ttl.and_then(|t| u32::try_from(t).ok()),
                })
            })
            .collect();
        let subnets = self
            .store
            .subnets()
            .await?
            .into_iter()
            .filter_map(|s| {
                Some(ReverseSubnet {
                    cidr: Cidr::parse(&s.cidr).ok()?,
                    rdns_mode: s.rdns_mode,
                })
            })
            .collect();
        let default_ttl = match self.get_config("default_dns_ttl").await? {
            ingot_core::settings::Value::Int(n) => u32::try_from(n).unwrap_or(30),
            _ => 30,
        };
        let input = ZoneInput {
            domains,
            names,
            records,
            subnets,
            default_ttl,
            serial,
            ns_host: ns_host.to_string(),
        };
        // A fleet's zones take tens of milliseconds to build: not on a request thread.
        tokio::task::spawn_blocking(move || dns_zone::build(&input))
            .await
            .map_err(|e| RegionError::Unavailable(format!("building the DNS zones: {e}")))
    }
}
