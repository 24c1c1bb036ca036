//! What rack controllers ask of the region: to be let in (the shared rack secret), to check in
//! (which registers them and is their heartbeat), their configuration (built from the region's
//! network model and machines, the one source of truth), and the netboot hops they saw.

use crate::controllers::ControllerHost;
use crate::{Region, RegionError, Result};
use ingot_core::net::Cidr;
use ingot_core::rack::{RackConfig, RackEvent, RackHost, RackSubnet};
use ingot_store::network::Rack;
use ingot_store::Machine;

/// A rack that read its configuration within this long is alive and healthy: six missed reads
/// at `--rack-poll-secs`' default of 10 s. The one rule for `rackcontrollers/` and for
/// refusing a network boot no rack can serve.
pub const RACK_HEALTHY_SECS: i64 = 60;

/// Comparison that takes the same time wherever the first difference is.
fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A rack's name as it gives it: at most 255 printable characters (`None` when it gives none).
fn rack_name(name: Option<&str>) -> Result<Option<&str>> {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) if n.len() > 255 || n.chars().any(|c| c.is_control()) => Err(
            RegionError::BadRequest("name: at most 255 printable characters".into()),
        ),
        n => Ok(n),
    }
}

/// What a rack says of itself when it reads its configuration.
#[derive(Debug, Clone, Default)]
pub struct CheckIn<'a> {
    pub name: Option<&'a str>,
    pub address: Option<&'a str>,
    pub version: Option<&'a str>,
    pub hardware_uuid: Option<&'a str>,
    pub macs: Vec<&'a str>,
    /// The subnets (CIDRs) its DHCP server is answering for; `None` when it does not say.
    pub dhcp: Option<Vec<&'a str>>,
}

/// The CIDRs a rack says its DHCP answers for, written the one way (`Cidr`'s display).
fn dhcp_subnets(given: Option<&[&str]>) -> Result<Option<Vec<String>>> {
    let Some(given) = given else { return Ok(None) };
    if given.len() > 4096 {
        return Err(RegionError::BadRequest("dhcp: at most 4096 subnets".into()));
    }
    given
        .iter()
        .map(|c| {
            Cidr::parse(c.trim())
                .map(|c| c.to_string())
                .map_err(|_| RegionError::BadRequest(format!("dhcp: '{c}' is not a CIDR")))
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// Whether rack `r` can network-boot a machine on a VLAN with subnets `cidrs`, at `now` (ms):
/// heard from within `RACK_HEALTHY_SECS`, and at that check-in its DHCP server answered for
/// one of those subnets. Otherwise why not, naming the rack.
pub fn boot_rack_ready(r: &Rack, now: i64, cidrs: &[Cidr]) -> std::result::Result<(), String> {
    let ago = (now - r.last_seen).max(0) / 1000;
    if now - r.last_seen > RACK_HEALTHY_SECS * 1000 {
        return Err(format!("{} last seen {ago} s ago", r.name));
    }
    let Some(serving) = &r.dhcp else {
        return Err(format!(
            "{} seen {ago} s ago does not report its DHCP service",
            r.name
        ));
    };
    if cidrs.is_empty() {
        return Err(format!("{}: the VLAN has no subnet to serve", r.name));
    }
    if serving
        .iter()
        .filter_map(|c| Cidr::parse(c).ok())
        .any(|c| cidrs.contains(&c))
    {
        return Ok(());
    }
    let want: Vec<String> = cidrs.iter().map(Cidr::to_string).collect();
    Err(format!(
        "{} seen {ago} s ago, its DHCP not running for {}",
        r.name,
        want.join(", ")
    ))
}

/// A rack controller as the region knows it, with the system id of its host's machine.
#[derive(Debug, Clone)]
pub struct RackController {
    pub rack: Rack,
    pub machine: Option<String>,
    /// Heard from in the last minute.
    pub alive: bool,
}

impl Region {
    /// Whether `given` (the bearer token a rack presents) is the region's rack secret.
    pub async fn check_rack_secret(&self, given: &str) -> Result<()> {
        let want = self
            .store
            .get_setting("rack_secret")
            .await?
            .unwrap_or_default();
        if want.is_empty() || !constant_eq(given.trim().as_bytes(), want.as_bytes()) {
            return Err(RegionError::Unauthorized(
                "A rack controller must present the region's rack secret.".into(),
            ));
        }
        Ok(())
    }

    /// A rack names itself when it reads its configuration: that registers it, and every
    /// later read is its heartbeat. The host it runs on is a machine (controllers as
    /// machines); a failure to record that is logged and tried again at the next read, as
    /// serving the rack its configuration matters more.
    /// Returns the rack's system id (None for a rack that did not name itself).
    pub async fn rack_check_in(&self, c: &CheckIn<'_>) -> Result<Option<String>> {
        let Some(name) = rack_name(c.name)? else {
            return Ok(None);
        };
        let address = c.address.unwrap_or_default().trim();
        if !address.is_empty() && address.parse::<std::net::IpAddr>().is_err() {
            return Err(RegionError::BadRequest(format!(
                "address: '{address}' is not an IP address"
            )));
        }
        let version: String = c.version.unwrap_or_default().chars().take(64).collect();
        let dhcp = dhcp_subnets(c.dhcp.as_deref())?;
        let rack = self
            .store
            .rack_seen(name, address, &version, dhcp.as_deref())
            .await?;
        let host = ControllerHost {
            hostname: name.to_string(),
            hardware_uuid: c
                .hardware_uuid
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_string),
            macs: c.macs.iter().take(256).map(|m| m.to_string()).collect(),
        };
        if let Err(e) = self.register_rack(name, &host).await {
            tracing::warn!("rack {name}: could not record its host as a machine: {e}");
        }
        Ok(Some(rack.system_id))
    }

    /// Record the netboot hops a rack saw; a rack that names itself serves these machines
    /// (admission counts per rack). Returns how many were recorded.
    pub async fn record_rack_events(
        &self,
        events: Vec<RackEvent>,
        rack: Option<&str>,
    ) -> Result<usize> {
        if events.len() > 10_000 {
            return Err(RegionError::BadRequest(
                "At most 10,000 events per request.".into(),
            ));
        }
        let mut n = 0;
        let mut macs = Vec::new();
        for e in events {
            if let Some(mac) = ingot_core::ids::normalize_mac(&e.mac) {
                let hop: String = e.hop.chars().take(32).collect();
                let detail: String = e.detail.chars().take(1000).collect();
                self.store.record_netboot(&mac, &hop, &detail).await?;
                if let Some(l) = e
                    .lease
                    .as_ref()
                    .filter(|l| l.ip.parse::<std::net::IpAddr>().is_ok())
                {
                    if l.seconds == 0 {
                        self.store.release_dhcp_lease(&mac, &l.ip).await?;
                    } else if !self.leaving(&mac).await? {
                        let until = ingot_store::now_ms() + i64::from(l.seconds) * 1000;
                        self.store.set_dhcp_lease(&mac, &l.ip, until).await?;
                    }
                }
                if !macs.contains(&mac) {
                    macs.push(mac);
                }
                n += 1;
            }
        }
        if let Some(name) = rack_name(rack)? {
            self.store.set_boot_rack(&macs, name).await?;
        }
        Ok(n)
    }

    /// Whether `mac` is a machine's that is being released or erased: its leases do not name
    /// it (a released machine's name leaves DNS; `Change::release_network` forgets them).
    async fn leaving(&self, mac: &str) -> Result<bool> {
        use ingot_core::status::Status;
        Ok(self.store.machine_by_mac(mac).await?.is_some_and(|m| {
            matches!(
                m.status,
                Status::Releasing
                    | Status::FailedReleasing
                    | Status::DiskErasing
                    | Status::FailedDiskErasing
            )
        }))
    }

    /// Whether machine `m` can network-boot: when the VLAN its boot interface is on (or the
    /// one that VLAN relays DHCP to) serves DHCP through named racks, one of them must be
    /// ready (`boot_rack_ready`): heard from within `RACK_HEALTHY_SECS`, saying at that
    /// check-in that its DHCP server answers for a subnet of the machine's VLAN. Whatever
    /// powers a machine on to boot from the network is refused otherwise (409), naming each
    /// rack and why it is not ready, rather than powering on a machine that cannot boot. A
    /// VLAN whose DHCP names no rack, or is off (DHCP from elsewhere), is not checked.
    pub(crate) async fn check_boot_rack(&self, m: &Machine) -> Result<()> {
        let Some(iface) = m
            .interfaces
            .iter()
            .find(|i| i.is_boot)
            .or(m.interfaces.first())
        else {
            return Ok(());
        };
        let mut subnets = None;
        let vlan_id = match iface.vlan_id {
            Some(v) => v,
            None => {
                let linked: Vec<i64> = iface.links.iter().filter_map(|l| l.subnet_id).collect();
                if linked.is_empty() {
                    return Ok(());
                }
                let all = subnets.insert(self.store.subnets().await?);
                let Some(v) = linked
                    .iter()
                    .find_map(|id| all.iter().find(|s| s.id == *id).map(|s| s.vlan_id))
                else {
                    return Ok(());
                };
                v
            }
        };
        let vlans = self.store.vlans(None).await?;
        let Some(v) = vlans.iter().find(|v| v.id == vlan_id) else {
            return Ok(());
        };
        let serving = v
            .relay_vlan_id
            .and_then(|r| vlans.iter().find(|t| t.id == r))
            .unwrap_or(v);
        let Some(primary) = serving.primary_rack.as_deref().filter(|_| serving.dhcp_on) else {
            return Ok(());
        };
        let subnets = match subnets {
            Some(s) => s,
            None => self.store.subnets().await?,
        };
        // The machine asks for DHCP on its own VLAN: a rack must answer for one of its subnets.
        let cidrs: Vec<Cidr> = subnets
            .iter()
            .filter(|s| s.vlan_id == v.id)
            .filter_map(|s| Cidr::parse(&s.cidr).ok())
            .collect();
        let racks = self.store.racks().await?;
        let now = ingot_store::now_ms();
        let mut why = Vec::new();
        for sid in [Some(primary), serving.secondary_rack.as_deref()]
            .into_iter()
            .flatten()
        {
            match racks.iter().find(|r| r.system_id == sid) {
                None => why.push(format!("{sid} never seen")),
                Some(r) => match boot_rack_ready(r, now, &cidrs) {
                    Ok(()) => return Ok(()),
                    Err(e) => why.push(e),
                },
            }
        }
        Err(RegionError::Conflict(format!(
            "No healthy rack controller serves DHCP on VLAN {} that {} boots from ({}): it could not network-boot. Start a rack (and wait for its DHCP to start), or change the VLAN's primary_rack / secondary_rack.",
            serving.vid,
            m.hostname,
            why.join("; ")
        )))
    }

    /// The configuration a rack serves, from the network model and the machines. `rack` is its
    /// system id: DHCP on a VLAN that names its primary and secondary racks is served by those
    /// only (`ingot_core::rack::serves_dhcp`).
    pub async fn rack_config(&self, region_url: &str, rack: Option<&str>) -> Result<RackConfig> {
        let st = &self.store;
        let vlans = st.vlans(None).await?;
        let mut subnets = Vec::new();
        for s in st.subnets().await? {
            if Cidr::parse(&s.cidr).is_err() {
                continue;
            }
            let v = vlans.iter().find(|v| v.id == s.vlan_id);
            // A VLAN that relays DHCP is served by the racks of the VLAN it relays to.
            let serving = v.map(|v| {
                v.relay_vlan_id
                    .and_then(|r| vlans.iter().find(|t| t.id == r))
                    .unwrap_or(v)
            });
            let ranges = st.ipranges(Some(s.id)).await?;
            let pick = |kind: &str| {
                ranges
                    .iter()
                    .filter(|r| r.kind == kind)
                    .map(|r| (r.start_ip.clone(), r.end_ip.clone()))
                    .collect::<Vec<_>>()
            };
            subnets.push(RackSubnet {
                cidr: s.cidr.clone(),
                gateway_ip: s.gateway_ip.clone(),
                dns_servers: s.dns_servers.clone(),
                allow_dns: s.allow_dns,
                vid: v.map(|v| v.vid).unwrap_or(0),
                dhcp_on: s.managed
                    && serving.is_some_and(|v| {
                        ingot_core::rack::serves_dhcp(
                            v.dhcp_on,
                            v.primary_rack.as_deref(),
                            v.secondary_rack.as_deref(),
                            rack,
                        )
                    }),
                // Two racks on one VLAN split its dynamic ranges (`dynamic_share`).
                dynamic_ranges: pick("dynamic")
                    .iter()
                    .filter_map(|(a, b)| {
                        ingot_core::rack::dynamic_share(
                            a,
                            b,
                            serving.and_then(|v| v.primary_rack.as_deref()),
                            serving.and_then(|v| v.secondary_rack.as_deref()),
                            rack,
                        )
                    })
                    .collect(),
                reserved_ranges: pick("reserved"),
            });
        }
        let mut hosts: Vec<RackHost> = st
            .interface_owners()
            .await?
            .into_iter()
            .map(|(mac, hostname, system_id)| RackHost {
                mac,
                hostname,
                system_id,
                ip: None,
            })
            .collect();
        // Host reservations: a reserved address with a MAC, for a machine's NIC or any MAC.
        for s in st.static_ips(None).await? {
            let Some(mac) = s.mac else { continue };
            match hosts.iter_mut().find(|h| h.mac == mac) {
                Some(h) => h.ip = Some(s.ip),
                None => hosts.push(RackHost {
                    mac,
                    hostname: s.hostname,
                    system_id: String::new(),
                    ip: Some(s.ip),
                }),
            }
        }
        let unknown_machines = match self.get_config("unknown_machines").await? {
            ingot_core::settings::Value::Text(t) => t,
            _ => "enlist".into(),
        };
        let domain = st
            .domain_by_id(st.default_domain_id().await?)
            .await?
            .map(|d| d.name)
            .unwrap_or_default();
        Ok(RackConfig {
            subnets,
            hosts,
            unknown_machines,
            region_url: region_url.to_string(),
            domain,
        })
    }

    /// The racks that registered, with their host machines.
    pub async fn rack_controllers(&self) -> Result<Vec<RackController>> {
        let now = ingot_store::now_ms();
        let mut out = Vec::new();
        for k in self.store.racks().await? {
            let machine = match self.store.rack_with_machine(&k.system_id).await? {
                Some((_, Some(id))) => self.store.machine_by_id(id).await?.map(|m| m.system_id),
                _ => None,
            };
            out.push(RackController {
                alive: now - k.last_seen <= RACK_HEALTHY_SECS * 1000,
                rack: k,
                machine,
            });
        }
        Ok(out)
    }

    /// One rack controller by its system id, as the list shows it.
    pub async fn rack_controller(&self, system_id: &str) -> Result<RackController> {
        self.rack_controllers()
            .await?
            .into_iter()
            .find(|c| c.rack.system_id == system_id)
            .ok_or_else(|| {
                RegionError::NotFound("No rack controller matches the given query.".into())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rack_names() {
        let long = "r".repeat(256);
        assert_eq!(rack_name(None).unwrap(), None);
        assert_eq!(rack_name(Some("  ")).unwrap(), None);
        assert_eq!(rack_name(Some(" rack-1 ")).unwrap(), Some("rack-1"));
        assert!(rack_name(Some(&long)).is_err());
        assert!(rack_name(Some("a\u{7}b")).is_err());
    }

    /// A rack is ready to boot a VLAN's machines when heard from lately with its DHCP
    /// answering for one of the VLAN's subnets: (seconds since seen, what it said of its
    /// DHCP, the VLAN's subnets, the reason it is not ready; "" for ready).
    #[test]
    fn a_boot_rack_is_ready_when_its_dhcp_is_up_for_the_vlan() {
        let now = 1_000_000_000;
        for (ago, dhcp, vlan, want) in [
            (5, Some("10.1.0.0/24"), "10.1.0.0/24", ""),
            (
                60,
                Some("10.2.0.0/24 10.1.0.0/24"),
                "10.1.0.0/24 10.3.0.0/24",
                "",
            ),
            (
                61,
                Some("10.1.0.0/24"),
                "10.1.0.0/24",
                "r1 last seen 61 s ago",
            ),
            (
                5,
                Some(""),
                "10.1.0.0/24",
                "r1 seen 5 s ago, its DHCP not running for 10.1.0.0/24",
            ),
            (
                5,
                Some("10.2.0.0/24"),
                "10.1.0.0/24",
                "its DHCP not running for 10.1.0.0/24",
            ),
            (
                5,
                None,
                "10.1.0.0/24",
                "r1 seen 5 s ago does not report its DHCP service",
            ),
            (
                5,
                Some("10.1.0.0/24"),
                "",
                "r1: the VLAN has no subnet to serve",
            ),
        ] {
            let r = Rack {
                id: 1,
                system_id: "abc".into(),
                name: "r1".into(),
                address: String::new(),
                version: String::new(),
                first_seen: 0,
                last_seen: now - ago * 1000,
                dhcp: dhcp.map(|d| d.split_whitespace().map(str::to_string).collect()),
            };
            let cidrs: Vec<Cidr> = vlan
                .split_whitespace()
                .map(|c| Cidr::parse(c).unwrap())
                .collect();
            match boot_rack_ready(&r, now, &cidrs) {
                Ok(()) => assert_eq!(want, "", "{ago} {dhcp:?} {vlan}"),
                Err(why) => assert!(
                    !want.is_empty() && why.contains(want),
                    "{ago} {dhcp:?} {vlan}: {why}"
                ),
            }
        }
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(constant_eq(b"abc", b"abc"));
        assert!(!constant_eq(b"abc", b"abd"));
        assert!(!constant_eq(b"abc", b"ab"));
    }
}
