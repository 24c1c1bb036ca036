//! What the racks' DNS servers serve (`GET /MAAS/rack/dns`): the zones at the database's DNS
//! serial, the forwarders, the trusted networks and the secondaries to notify. The serial is
//! the database's own (schema v26's triggers raise it with every change to what the zones
//! are made of), so a rack that asks with the serial it has gets nothing when nothing
//! changed, at the cost of one query; the zones of a serial are built once and shared by
//! every rack that asks.

use crate::{Region, Result};
use ingot_core::dns::trusted_networks;
use ingot_core::dns_zone::NamedAddresses;
use ingot_core::rack::RackDns;
use ingot_core::settings::Value;
use std::sync::Arc;

/// How often a rack's long poll ([`Region::rack_dns_waiting`]) reads the serial: one
/// one-row query each time.
pub const SERIAL_CHECK: std::time::Duration = std::time::Duration::from_millis(20);

/// The longest a rack's long poll waits: a region stopping waits for it to end.
pub const LONGEST_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// A list setting's items (space-separated text), none when unset.
fn items(v: Value) -> Vec<String> {
    match v {
        Value::Text(t) => t.split_whitespace().map(str::to_string).collect(),
        Value::List(l) => l,
        _ => Vec::new(),
    }
}

impl Region {
    /// A DNS problem that concerns a machine goes into its events and onto the netboot
    /// timeline of the MAC it boots from, where someone following its boot looks (once: the
    /// zones are rebuilt with every change). The hop first: a crash between the two records it
    /// again with the event, rather than never.
    async fn report_dns_problems(&self, problems: &[(String, String)]) -> Result<()> {
        for (sid, text) in problems {
            let Ok(m) = self.load(sid).await else {
                continue;
            };
            let text = format!("DNS: {text}");
            if !self.store.has_event(m.id, &text).await? {
                if let Some(mac) = self.store.boot_mac(m.id).await? {
                    self.store.record_netboot(&mac, "dns", &text).await?;
                }
                let ev = ingot_store::NewEvent::error("DNS problem", text, "");
                self.store.record_event(&m, &ev).await?;
            }
        }
        Ok(())
    }

    /// [`Region::rack_dns`], waiting up to `wait` for the serial to move past `known` (a
    /// long poll: a rack is told of a change within [`SERIAL_CHECK`] instead of at its next
    /// poll). The serial is the database's, which every region writes, so it is read again
    /// every [`SERIAL_CHECK`] rather than waited on in this process. `None` when it did not
    /// move in time.
    pub async fn rack_dns_waiting(
        &self,
        known: Option<i64>,
        wait: std::time::Duration,
    ) -> Result<Option<Arc<RackDns>>> {
        let until = tokio::time::Instant::now() + wait;
        loop {
            if let Some(dns) = self.rack_dns(known).await? {
                return Ok(Some(dns));
            }
            let now = tokio::time::Instant::now();
            if now >= until {
                return Ok(None);
            }
            tokio::time::sleep(SERIAL_CHECK.min(until - now)).await;
        }
    }

    /// The DNS the racks serve, unless `known` is already the current serial.
    pub async fn rack_dns(&self, known: Option<i64>) -> Result<Option<Arc<RackDns>>> {
        let serial = self.store.dns_serial().await?;
        if known == Some(serial) {
            return Ok(None);
        }
        // Held while building, so that racks asking at once wait for one build.
        let mut cache = self.dns_cache.lock().await;
        if let Some(c) = cache.as_ref().filter(|c| c.serial == serial) {
            return Ok(Some(c.clone()));
        }
        let default_id = self.store.default_domain_id().await?;
        let domain = self
            .store
            .domain_by_id(default_id)
            .await?
            .map_or_else(|| "maas".to_string(), |d| d.name);
        // The name server is the first rack, named in the default domain with its address;
        // without a rack, the region's name.
        let racks = self.store.racks().await?;
        let (ns_host, glue) = match racks
            .iter()
            .find(|r| r.address.parse::<std::net::IpAddr>().is_ok())
        {
            Some(r) => {
                let label = r.name.split('.').next().unwrap_or("rack").to_string();
                let glue = NamedAddresses {
                    name: label.clone(),
                    domain: domain.clone(),
                    ttl: None,
                    addresses: r.address.parse().into_iter().collect(),
                    machine: None,
                };
                (format!("{label}.{domain}"), vec![glue])
            }
            None => {
                let name = match self.get_config("maas_name").await? {
                    Value::Text(t) if !t.is_empty() => t,
                    _ => "maas".to_string(),
                };
                (format!("{name}.{domain}"), Vec::new())
            }
        };
        let built = self.build_zones(serial as u32, &ns_host, glue).await?;
        self.report_dns_problems(&built.machine_problems).await?;
        let managed: Vec<String> = self
            .store
            .subnets()
            .await?
            .into_iter()
            .filter(|s| s.managed)
            .map(|s| s.cidr)
            .collect();
        let acl = items(self.get_config("dns_trusted_acl").await?).join(" ");
        let dns = Arc::new(RackDns {
            serial,
            zones: built.zones,
            forwarders: items(self.get_config("upstream_dns").await?),
            trusted: trusted_networks(&acl, &managed),
            notify: items(self.get_config("dns_notify").await?),
            problems: built.problems,
        });
        *cache = Some(dns.clone());
        Ok(Some(dns))
    }
}
