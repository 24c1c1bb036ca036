//! The zones a rack serves, built from what the region knows (pure): one forward zone per
//! authoritative domain — its SOA and NS, every machine's and DNS resource's addresses (A,
//! AAAA) and the other records — and one reverse zone per managed subnet with reverse DNS on
//! (`rdns_mode` 1: the zone of the enclosing octet, or nibble for IPv6; 2, RFC 2317: an IPv4
//! subnet smaller than a /24 gets its own `FIRST-PREFIX.c.b.a.in-addr.arpa` zone), with a PTR
//! for every address in it. What cannot be served as asked (a name that is both a machine and
//! a DNS resource, a CNAME beside other data) is reported, not silently dropped.

use crate::dns::{fqdn, RrType};
use crate::net::Cidr;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A domain as the zones need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneDomain {
    pub name: String,
    pub authoritative: bool,
    pub ttl: Option<u32>,
}

/// A name with addresses: a machine (its host name in its domain) or a DNS resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedAddresses {
    /// `@` for the domain itself.
    pub name: String,
    pub domain: String,
    pub ttl: Option<u32>,
    pub addresses: Vec<IpAddr>,
    /// `Some(system_id)` for a machine.
    pub machine: Option<String>,
}

/// A record of a name other than its addresses (its data as `core::dns` wrote it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub domain: String,
    pub rrtype: RrType,
    pub rrdata: String,
    pub ttl: Option<u32>,
}

/// A subnet whose addresses get PTR records (0: none, 1: enabled, 2: RFC 2317).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReverseSubnet {
    pub cidr: Cidr,
    pub rdns_mode: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneInput {
    pub domains: Vec<ZoneDomain>,
    pub names: Vec<NamedAddresses>,
    pub records: Vec<Record>,
    pub subnets: Vec<ReverseSubnet>,
    /// `default_dns_ttl`.
    pub default_ttl: u32,
    /// The SOA serial of every zone (it increases with each change the region commits).
    pub serial: u32,
    /// The name servers' host name (the SOA's MNAME and the NS records).
    pub ns_host: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
    Mx(u16, String),
    Ns(String),
    Srv(u16, u16, u16, String),
    Sshfp(u8, u8, String),
    Txt(String),
    Ptr(String),
    Soa {
        mname: String,
        rname: String,
        serial: u32,
        refresh: u32,
        retry: u32,
        expire: u32,
        minimum: u32,
    },
}

/// One resource record: its owner name (absolute, lower case, no trailing dot).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rr {
    pub owner: String,
    pub ttl: u32,
    pub data: RData,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    pub origin: String,
    pub records: Vec<Rr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Built {
    pub zones: Vec<Zone>,
    /// What could not be served as asked, one sentence each.
    pub problems: Vec<String>,
    /// The problems that concern a machine: (system id, sentence), for its events.
    pub machine_problems: Vec<(String, String)>,
}

/// A record's canonical data as the wire wants it (None: malformed, reported).
fn rdata(t: RrType, d: &str) -> Option<RData> {
    let p: Vec<&str> = d.split_whitespace().collect();
    let n16 = |s: &str| s.parse::<u16>().ok();
    Some(match (t, p.as_slice()) {
        (RrType::A, _) => RData::A(d.parse().ok()?),
        (RrType::Aaaa, _) => RData::Aaaa(d.parse().ok()?),
        (RrType::Cname, [h]) => RData::Cname(h.to_string()),
        (RrType::Ns, [h]) => RData::Ns(h.to_string()),
        (RrType::Mx, [pref, h]) => RData::Mx(n16(pref)?, h.to_string()),
        (RrType::Srv, [a, b, c, h]) => RData::Srv(n16(a)?, n16(b)?, n16(c)?, h.to_string()),
        (RrType::Sshfp, [a, b, fp]) => {
            RData::Sshfp(a.parse().ok()?, b.parse().ok()?, fp.to_string())
        }
        (RrType::Txt, _) => RData::Txt(d.to_string()),
        _ => return None,
    })
}

/// The reverse zone an address of `s` is in, and the address's owner name in it.
fn reverse_zone(s: &ReverseSubnet) -> Option<String> {
    match s.cidr.network {
        IpAddr::V4(a) => {
            let o = a.octets();
            if s.rdns_mode == 2 && s.cidr.prefix > 24 {
                return Some(format!(
                    "{}-{}.{}.{}.{}.in-addr.arpa",
                    o[3], s.cidr.prefix, o[2], o[1], o[0]
                ));
            }
            let keep = (s.cidr.prefix / 8).clamp(1, 3) as usize;
            let labels: Vec<String> = o[..keep].iter().rev().map(|b| b.to_string()).collect();
            Some(format!("{}.in-addr.arpa", labels.join(".")))
        }
        IpAddr::V6(a) => {
            let keep = ((s.cidr.prefix / 4).clamp(1, 31)) as usize;
            let nibbles = nibbles(a);
            let labels: Vec<String> = nibbles[..keep]
                .iter()
                .rev()
                .map(|n| format!("{n:x}"))
                .collect();
            Some(format!("{}.ip6.arpa", labels.join(".")))
        }
    }
}

fn nibbles(a: Ipv6Addr) -> Vec<u8> {
    a.octets().iter().flat_map(|b| [b >> 4, b & 0xf]).collect()
}

/// The PTR owner of `ip` (the full reverse name; in an RFC 2317 zone, the last octet under
/// the zone's origin).
fn ptr_owner(ip: IpAddr, zone: &str) -> String {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            // An RFC 2317 zone (`FIRST-PREFIX.c.b.a.in-addr.arpa`) holds the last octet
            // under itself; any other zone gets the whole reversed address.
            if zone.split('.').next().is_some_and(|l| l.contains('-')) {
                format!("{}.{zone}", o[3])
            } else {
                format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
            }
        }
        IpAddr::V6(a) => {
            let n: Vec<String> = nibbles(a).iter().rev().map(|n| format!("{n:x}")).collect();
            format!("{}.ip6.arpa", n.join("."))
        }
    }
}

fn soa(origin: &str, i: &ZoneInput, ttl: u32) -> Rr {
    Rr {
        owner: origin.to_string(),
        ttl,
        data: RData::Soa {
            mname: i.ns_host.clone(),
            rname: format!("nomail.{origin}"),
            serial: i.serial,
            refresh: 600,
            retry: 1800,
            expire: 604_800,
            minimum: i.default_ttl,
        },
    }
}

/// Every zone, sorted by origin, each with its SOA first and its NS next.
pub fn build(i: &ZoneInput) -> Built {
    let mut out = Built::default();
    let mut zones: BTreeMap<String, Vec<Rr>> = BTreeMap::new();
    let domain_ttl = |d: &str| {
        i.domains
            .iter()
            .find(|x| x.name == d)
            .and_then(|x| x.ttl)
            .unwrap_or(i.default_ttl)
    };
    for d in i.domains.iter().filter(|d| d.authoritative) {
        let ttl = domain_ttl(&d.name);
        zones.insert(
            d.name.clone(),
            vec![
                soa(&d.name, i, ttl),
                Rr {
                    owner: d.name.clone(),
                    ttl,
                    data: RData::Ns(i.ns_host.clone()),
                },
            ],
        );
    }
    // Who holds each owner name, to find the clashes.
    let mut holders: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for n in &i.names {
        let owner = fqdn(&n.name, &n.domain);
        let Some(z) = zones.get_mut(&n.domain) else {
            continue;
        };
        holders
            .entry(owner.clone())
            .or_default()
            .push(match &n.machine {
                Some(sid) => format!("machine {sid}"),
                None => "a DNS resource".to_string(),
            });
        let ttl = n.ttl.unwrap_or_else(|| domain_ttl(&n.domain));
        for a in &n.addresses {
            z.push(Rr {
                owner: owner.clone(),
                ttl,
                data: match a {
                    IpAddr::V4(v) => RData::A(*v),
                    IpAddr::V6(v) => RData::Aaaa(*v),
                },
            });
        }
    }
    for (owner, who) in &holders {
        if who.len() > 1 {
            let p = format!(
                "{owner} is claimed by {}: its addresses are all served.",
                who.join(" and ")
            );
            for sid in who.iter().filter_map(|w| w.strip_prefix("machine ")) {
                out.machine_problems.push((sid.to_string(), p.clone()));
            }
            out.problems.push(p);
        }
    }
    for r in &i.records {
        let owner = fqdn(&r.name, &r.domain);
        let Some(z) = zones.get_mut(&r.domain) else {
            continue;
        };
        let Some(data) = rdata(r.rrtype, &r.rrdata) else {
            out.problems.push(format!(
                "{owner}: the {} data '{}' cannot be served.",
                r.rrtype.as_str(),
                r.rrdata
            ));
            continue;
        };
        if r.rrtype == RrType::Cname && z.iter().any(|x| x.owner == owner) {
            out.problems.push(format!(
                "{owner} has other data beside its CNAME: the CNAME is not served."
            ));
            continue;
        }
        z.push(Rr {
            owner,
            ttl: r.ttl.unwrap_or_else(|| domain_ttl(&r.domain)),
            data,
        });
    }
    // Reverse zones: a PTR for every address of a subnet with reverse DNS on.
    for s in i.subnets.iter().filter(|s| s.rdns_mode != 0) {
        let Some(origin) = reverse_zone(s) else {
            continue;
        };
        let z = zones.entry(origin.clone()).or_insert_with(|| {
            vec![
                soa(&origin, i, i.default_ttl),
                Rr {
                    owner: origin.clone(),
                    ttl: i.default_ttl,
                    data: RData::Ns(i.ns_host.clone()),
                },
            ]
        });
        for n in &i.names {
            for a in n.addresses.iter().filter(|a| s.cidr.contains(**a)) {
                let rr = Rr {
                    owner: ptr_owner(*a, &origin),
                    ttl: n.ttl.unwrap_or_else(|| domain_ttl(&n.domain)),
                    data: RData::Ptr(fqdn(&n.name, &n.domain)),
                };
                if !z.contains(&rr) {
                    z.push(rr);
                }
            }
        }
    }
    out.zones = zones
        .into_iter()
        .map(|(origin, records)| Zone { origin, records })
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ZoneInput {
        ZoneInput {
            domains: vec![
                ZoneDomain {
                    name: "maas".into(),
                    authoritative: true,
                    ttl: None,
                },
                ZoneDomain {
                    name: "example.com".into(),
                    authoritative: true,
                    ttl: Some(60),
                },
                ZoneDomain {
                    name: "elsewhere.org".into(),
                    authoritative: false,
                    ttl: None,
                },
            ],
            names: vec![
                NamedAddresses {
                    name: "web-01".into(),
                    domain: "maas".into(),
                    ttl: None,
                    addresses: vec!["10.0.0.5".parse().unwrap(), "2001:db8::5".parse().unwrap()],
                    machine: Some("abc123".into()),
                },
                NamedAddresses {
                    name: "www".into(),
                    domain: "example.com".into(),
                    ttl: Some(120),
                    addresses: vec!["10.0.0.80".parse().unwrap()],
                    machine: None,
                },
                NamedAddresses {
                    name: "x".into(),
                    domain: "elsewhere.org".into(),
                    ttl: None,
                    addresses: vec!["10.0.0.9".parse().unwrap()],
                    machine: None,
                },
            ],
            records: vec![
                Record {
                    name: "@".into(),
                    domain: "example.com".into(),
                    rrtype: RrType::Mx,
                    rrdata: "10 mail.example.com".into(),
                    ttl: None,
                },
                Record {
                    name: "_ldap._tcp".into(),
                    domain: "example.com".into(),
                    rrtype: RrType::Srv,
                    rrdata: "0 5 389 ldap.example.com".into(),
                    ttl: Some(30),
                },
                Record {
                    name: "www".into(),
                    domain: "example.com".into(),
                    rrtype: RrType::Cname,
                    rrdata: "web-01.maas".into(),
                    ttl: None,
                },
            ],
            subnets: vec![
                ReverseSubnet {
                    cidr: Cidr::parse("10.0.0.0/24").unwrap(),
                    rdns_mode: 1,
                },
                ReverseSubnet {
                    cidr: Cidr::parse("2001:db8::/64").unwrap(),
                    rdns_mode: 1,
                },
                ReverseSubnet {
                    cidr: Cidr::parse("192.0.2.0/25").unwrap(),
                    rdns_mode: 2,
                },
                ReverseSubnet {
                    cidr: Cidr::parse("198.51.100.0/24").unwrap(),
                    rdns_mode: 0,
                },
            ],
            default_ttl: 30,
            serial: 7,
            ns_host: "region.maas".into(),
        }
    }

    fn zone<'a>(b: &'a Built, origin: &str) -> &'a Zone {
        b.zones
            .iter()
            .find(|z| z.origin == origin)
            .unwrap_or_else(|| panic!("no zone {origin}: {b:#?}"))
    }

    #[test]
    fn forward_zones_hold_every_name_and_record() {
        let b = build(&input());
        let origins: Vec<&str> = b.zones.iter().map(|z| z.origin.as_str()).collect();
        assert_eq!(
            origins,
            [
                "0-25.2.0.192.in-addr.arpa",
                "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
                "0.0.10.in-addr.arpa",
                "example.com",
                "maas"
            ]
        );
        let maas = zone(&b, "maas");
        assert!(matches!(maas.records[0].data, RData::Soa { serial: 7, .. }));
        assert_eq!(maas.records[1].data, RData::Ns("region.maas".into()));
        assert!(maas.records.contains(&Rr {
            owner: "web-01.maas".into(),
            ttl: 30,
            data: RData::A("10.0.0.5".parse().unwrap())
        }));
        assert!(maas.records.contains(&Rr {
            owner: "web-01.maas".into(),
            ttl: 30,
            data: RData::Aaaa("2001:db8::5".parse().unwrap())
        }));
        let ex = zone(&b, "example.com");
        assert!(ex.records.contains(&Rr {
            owner: "example.com".into(),
            ttl: 60,
            data: RData::Mx(10, "mail.example.com".into())
        }));
        assert!(ex.records.contains(&Rr {
            owner: "_ldap._tcp.example.com".into(),
            ttl: 30,
            data: RData::Srv(0, 5, 389, "ldap.example.com".into())
        }));
        assert!(ex.records.contains(&Rr {
            owner: "www.example.com".into(),
            ttl: 120,
            data: RData::A("10.0.0.80".parse().unwrap())
        }));
        // The CNAME beside www's address is not served, and said.
        assert!(!ex.records.iter().any(|r| matches!(r.data, RData::Cname(_))));
        assert!(
            b.problems
                .iter()
                .any(|p| p.contains("www.example.com has other data beside its CNAME")),
            "{:?}",
            b.problems
        );
        // A domain that is not authoritative has no zone.
        assert!(!b.zones.iter().any(|z| z.origin == "elsewhere.org"));
    }

    /// An IPv4 subnet wider than /24 has its zone at the enclosing octet, and each PTR owner
    /// is the whole reversed address (not the last octet under the zone).
    #[test]
    fn ptr_owners_in_a_slash_16() {
        assert_eq!(
            ptr_owner("10.90.1.5".parse().unwrap(), "90.10.in-addr.arpa"),
            "5.1.90.10.in-addr.arpa"
        );
        assert_eq!(
            ptr_owner("10.90.1.5".parse().unwrap(), "1.90.10.in-addr.arpa"),
            "5.1.90.10.in-addr.arpa"
        );
        assert_eq!(
            ptr_owner("192.0.2.9".parse().unwrap(), "0-26.2.0.192.in-addr.arpa"),
            "9.0-26.2.0.192.in-addr.arpa"
        );
    }

    #[test]
    fn reverse_zones_by_rdns_mode() {
        let mut i = input();
        i.names.push(NamedAddresses {
            name: "small".into(),
            domain: "maas".into(),
            ttl: None,
            addresses: vec![
                "192.0.2.9".parse().unwrap(),
                "198.51.100.4".parse().unwrap(),
            ],
            machine: Some("def456".into()),
        });
        let b = build(&i);
        let v4 = zone(&b, "0.0.10.in-addr.arpa");
        assert!(v4.records.contains(&Rr {
            owner: "5.0.0.10.in-addr.arpa".into(),
            ttl: 30,
            data: RData::Ptr("web-01.maas".into())
        }));
        assert!(v4.records.contains(&Rr {
            owner: "80.0.0.10.in-addr.arpa".into(),
            ttl: 120,
            data: RData::Ptr("www.example.com".into())
        }));
        // Addresses of names in domains with no zone still get their PTR.
        assert!(v4
            .records
            .iter()
            .any(|r| r.data == RData::Ptr("x.elsewhere.org".into())));
        let v6 = zone(&b, "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
        assert!(v6.records.iter().any(|r| r.owner
            == "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
            && r.data == RData::Ptr("web-01.maas".into())));
        // RFC 2317: the /25's own zone, its addresses under it.
        let small = zone(&b, "0-25.2.0.192.in-addr.arpa");
        assert!(small.records.contains(&Rr {
            owner: "9.0-25.2.0.192.in-addr.arpa".into(),
            ttl: 30,
            data: RData::Ptr("small.maas".into())
        }));
        // rdns_mode 0: no reverse zone at all.
        assert!(!b.zones.iter().any(|z| z.origin.contains("100.51.198")));
    }

    #[test]
    fn a_name_claimed_twice_is_reported() {
        let mut i = input();
        i.names.push(NamedAddresses {
            name: "web-01".into(),
            domain: "maas".into(),
            ttl: None,
            addresses: vec!["10.0.0.6".parse().unwrap()],
            machine: None,
        });
        let b = build(&i);
        assert!(b.problems.iter().any(|p| p == "web-01.maas is claimed by machine abc123 and a DNS resource: its addresses are all served."), "{:?}", b.problems);
        assert_eq!(b.machine_problems.len(), 1);
        assert_eq!(b.machine_problems[0].0, "abc123");
    }
}
