//! How a subnet's addresses are used, for `subnets/{id}/?op=reserved_ip_ranges`,
//! `unreserved_ip_ranges`, `statistics` and `ip_addresses`: what holds addresses is read here,
//! the arithmetic is `ingot_core::ip_usage`.

use crate::{Region, RegionError, Result};
use ingot_core::ip_usage::{self, Span, Statistics, Use};
use ingot_core::net::Cidr;
use ingot_store::network::{AddressHolder, Subnet};
use std::net::IpAddr;

impl Region {
    /// Everything that holds an address of `s`: its dynamic and reserved ranges, its gateway,
    /// the DNS servers inside it, and every static or reserved address.
    async fn subnet_uses(&self, s: &Subnet) -> Result<(Cidr, Vec<Use>)> {
        let cidr = Cidr::parse(&s.cidr)
            .map_err(|e| RegionError::BadRequest(format!("The subnet's CIDR is not valid: {e}")))?;
        let ip = |a: &str| a.trim().parse::<IpAddr>().ok();
        let mut uses = Vec::new();
        for r in self.store.ipranges(Some(s.id)).await? {
            if let (Some(start), Some(end)) = (ip(&r.start_ip), ip(&r.end_ip)) {
                let purpose = if r.kind == "dynamic" {
                    "dynamic"
                } else {
                    "reserved"
                };
                uses.push(Use {
                    start,
                    end,
                    purpose,
                });
            }
        }
        let mut one = |a: Option<IpAddr>, purpose| {
            if let Some(a) = a.filter(|a| cidr.contains(*a)) {
                uses.push(Use {
                    start: a,
                    end: a,
                    purpose,
                });
            }
        };
        one(s.gateway_ip.as_deref().and_then(ip), "gateway-ip");
        for d in &s.dns_servers {
            one(ip(d), "dns-server");
        }
        for a in self.store.static_ips(Some(s.id)).await? {
            one(ip(&a.ip), "assigned-ip");
        }
        Ok((cidr, uses))
    }

    /// The runs of addresses something holds, with what holds them.
    pub async fn subnet_reserved_ranges(&self, s: &Subnet) -> Result<Vec<Span>> {
        let (cidr, uses) = self.subnet_uses(s).await?;
        Ok(ip_usage::reserved(&cidr, &uses))
    }

    /// The runs of free addresses.
    pub async fn subnet_unreserved_ranges(&self, s: &Subnet) -> Result<Vec<Span>> {
        let (cidr, uses) = self.subnet_uses(s).await?;
        Ok(ip_usage::unreserved(&cidr, &uses))
    }

    pub async fn subnet_statistics(&self, s: &Subnet) -> Result<Statistics> {
        let (cidr, uses) = self.subnet_uses(s).await?;
        Ok(ip_usage::statistics(&cidr, &uses))
    }

    /// The addresses of the subnet with the user and node holding each.
    pub async fn subnet_addresses(&self, s: &Subnet) -> Result<Vec<AddressHolder>> {
        Ok(self.store.address_holders(s.id).await?)
    }
}
