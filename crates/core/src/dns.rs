//! DNS names and records as MAAS's `domains/`, `dnsresources/` and `dnsresourcerecords/`
//! take them: domain names, the names inside a domain (`@` is the domain itself; SRV names
//! start with `_`), splitting an FQDN into name and domain (the longest domain that ends it),
//! and each record type's data checked and written in its canonical form.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The record types `dnsresourcerecords/` takes. A and AAAA are addresses of a
/// `dnsresources/` name (its `ip_addresses`), as in MAAS; they are parsed here so that the
/// refusal can say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RrType {
    A,
    Aaaa,
    Cname,
    Mx,
    Ns,
    Srv,
    Sshfp,
    Txt,
}

impl RrType {
    pub const ALL: [RrType; 8] = [
        RrType::A,
        RrType::Aaaa,
        RrType::Cname,
        RrType::Mx,
        RrType::Ns,
        RrType::Srv,
        RrType::Sshfp,
        RrType::Txt,
    ];

    pub fn parse(s: &str) -> Option<RrType> {
        RrType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RrType::A => "A",
            RrType::Aaaa => "AAAA",
            RrType::Cname => "CNAME",
            RrType::Mx => "MX",
            RrType::Ns => "NS",
            RrType::Srv => "SRV",
            RrType::Sshfp => "SSHFP",
            RrType::Txt => "TXT",
        }
    }
}

/// One label: letters, digits and hyphens, 1-63 long, no hyphen at either end; `underscore`
/// allows a leading `_` (service labels of SRV names).
fn label_ok(l: &str, underscore: bool) -> bool {
    let body = if underscore {
        l.strip_prefix('_').unwrap_or(l)
    } else {
        l
    };
    !l.is_empty()
        && l.len() <= 63
        && !body.is_empty()
        && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !body.starts_with('-')
        && !body.ends_with('-')
}

/// A domain name (`maas`, `example.com`): labels joined by dots, at most 253 characters.
pub fn check_domain_name(name: &str) -> Result<String, String> {
    let n = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if n.is_empty() {
        return Err("This field is required.".into());
    }
    if n.len() > 253 || !n.split('.').all(|l| label_ok(l, false)) {
        return Err(format!(
            "'{name}' is not a domain name: labels of letters, digits and hyphens (1-63 characters, no hyphen at either end) joined by dots."
        ));
    }
    Ok(n)
}

/// A name inside a domain: `@` (the domain itself), a host name, or dotted labels whose
/// labels may start with `_` (as `_ldap._tcp`).
pub fn check_resource_name(name: &str) -> Result<String, String> {
    let n = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if n == "@" {
        return Ok(n);
    }
    if n.is_empty() {
        return Err("This field is required.".into());
    }
    if n.len() > 253 || !n.split('.').all(|l| label_ok(l, true)) {
        return Err(format!(
            "'{name}' is not a valid DNS name: letters, digits and hyphens, labels joined by dots (a label may start with '_'), or '@' for the domain itself."
        ));
    }
    Ok(n)
}

/// `name.domain` split at the longest domain of `domains` that ends it (`domain` alone is
/// the domain's apex, `@`). None when no domain ends it.
pub fn split_fqdn<'a>(fqdn: &str, domains: &'a [String]) -> Option<(String, &'a str)> {
    let f = fqdn.trim().trim_end_matches('.').to_ascii_lowercase();
    domains
        .iter()
        .filter_map(|d| {
            if f == *d {
                Some(("@".to_string(), d.as_str()))
            } else {
                f.strip_suffix(d.as_str())
                    .and_then(|rest| rest.strip_suffix('.'))
                    .filter(|rest| !rest.is_empty())
                    .map(|rest| (rest.to_string(), d.as_str()))
            }
        })
        .max_by_key(|(_, d)| d.len())
}

/// The FQDN of `name` in `domain`.
pub fn fqdn(name: &str, domain: &str) -> String {
    if name == "@" {
        domain.to_string()
    } else {
        format!("{name}.{domain}")
    }
}

fn target(t: &str, what: &str) -> Result<String, String> {
    let t = t.trim().trim_end_matches('.');
    if t == "." || (!t.is_empty() && t.split('.').all(|l| label_ok(l, true))) {
        Ok(t.to_ascii_lowercase())
    } else {
        Err(format!("'{t}' is not a host name ({what})."))
    }
}

fn number(s: &str, max: u32, what: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(format!("'{s}' is not a {what} (0-{max}).")),
    }
}

/// A record's data, checked for its type and written canonically; the message says what the
/// type wants.
pub fn check_rrdata(t: RrType, data: &str) -> Result<String, String> {
    let d = data.trim();
    if d.is_empty() {
        return Err("This field is required.".into());
    }
    let parts: Vec<&str> = d.split_whitespace().collect();
    match t {
        RrType::A => d
            .parse::<Ipv4Addr>()
            .map(|a| a.to_string())
            .map_err(|_| format!("'{d}' is not an IPv4 address.")),
        RrType::Aaaa => d
            .parse::<Ipv6Addr>()
            .map(|a| a.to_string())
            .map_err(|_| format!("'{d}' is not an IPv6 address.")),
        RrType::Cname | RrType::Ns => target(d, &format!("{} data is one host name", t.as_str())),
        RrType::Mx => match parts.as_slice() {
            [pref, host] => Ok(format!(
                "{} {}",
                number(pref, 65535, "preference")?,
                target(host, "the mail exchanger")?
            )),
            _ => Err(format!(
                "'{d}' is not MX data: 'PREFERENCE EXCHANGE', e.g. '10 mail.example.com'."
            )),
        },
        RrType::Srv => match parts.as_slice() {
            [prio, weight, port, host] => Ok(format!(
                "{} {} {} {}",
                number(prio, 65535, "priority")?,
                number(weight, 65535, "weight")?,
                number(port, 65535, "port")?,
                target(host, "the target")?
            )),
            _ => Err(format!(
                "'{d}' is not SRV data: 'PRIORITY WEIGHT PORT TARGET', e.g. '0 5 389 ldap.example.com'."
            )),
        },
        RrType::Sshfp => match parts.as_slice() {
            [alg, fptype, fp] if fp.len() % 2 == 0 && fp.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(format!(
                    "{} {} {}",
                    number(alg, 255, "key algorithm")?,
                    number(fptype, 255, "fingerprint type")?,
                    fp.to_ascii_lowercase()
                ))
            }
            _ => Err(format!(
                "'{d}' is not SSHFP data: 'ALGORITHM FPTYPE FINGERPRINT', the fingerprint in hexadecimal."
            )),
        },
        // TXT: any text; each string of the record at most 255 bytes, as the wire allows.
        RrType::Txt => {
            if d.len() > 255 && !d.contains('"') {
                Err("A TXT string is at most 255 bytes: quote the record's strings to split it.".into())
            } else {
                Ok(d.to_string())
            }
        }
    }
}

/// A TTL in seconds (empty: none, the default TTL applies).
pub fn check_ttl(s: &str) -> Result<Option<i64>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    match s.parse::<i64>() {
        Ok(n) if (0..=604_800).contains(&n) => Ok(Some(n)),
        _ => Err(format!(
            "'{s}' is not a TTL: whole seconds from 0 to 604800 (a week)."
        )),
    }
}

/// The DNS servers a machine on subnet `cidr` is told of (the network configuration written
/// at deployment): with `allow_dns`, the racks' addresses first — those inside the subnet, or
/// every rack when none is — then the subnet's own servers, each once.
pub fn resolvers(cidr: &str, allow_dns: bool, own: &[String], racks: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if allow_dns {
        let net = crate::net::Cidr::parse(cidr).ok();
        let inside: Vec<&String> = racks
            .iter()
            .filter(|r| {
                r.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| net.as_ref().is_some_and(|n| n.contains(ip)))
            })
            .collect();
        if inside.is_empty() {
            out.extend(racks.iter().cloned());
        } else {
            out.extend(inside.into_iter().cloned());
        }
    }
    for s in own {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

/// The networks whose clients may recurse and transfer zones, as BIND's `trusted` ACL in
/// MAAS: the items of `dns_trusted_acl` (an address is its own /32 or /128; `any`,
/// `localhost`, `localnets` as BIND reads them, `localnets` being the managed subnets here;
/// other names match nobody), the managed subnets, and the host itself.
pub fn trusted_networks(acl: &str, managed_subnets: &[String]) -> Vec<String> {
    let mut out: Vec<String> = vec!["127.0.0.0/8".into(), "::1/128".into()];
    out.extend(managed_subnets.iter().cloned());
    for item in acl
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
    {
        match item {
            "any" => out.extend(["0.0.0.0/0".to_string(), "::/0".to_string()]),
            "localhost" | "localnets" | "none" => {}
            _ if item.contains('/') => out.push(item.to_string()),
            _ => match item.parse::<std::net::IpAddr>() {
                Ok(std::net::IpAddr::V4(a)) => out.push(format!("{a}/32")),
                Ok(std::net::IpAddr::V6(a)) => out.push(format!("{a}/128")),
                Err(_) => {}
            },
        }
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn machines_are_told_of_the_racks_then_the_subnets_servers() {
        let racks = vec!["10.0.0.2".to_string(), "10.1.0.2".to_string()];
        let own = vec!["192.0.2.53".to_string(), "10.0.0.2".to_string()];
        assert_eq!(
            resolvers("10.0.0.0/24", true, &own, &racks),
            ["10.0.0.2", "192.0.2.53"]
        );
        assert_eq!(
            resolvers("10.9.0.0/24", true, &[], &racks),
            ["10.0.0.2", "10.1.0.2"],
            "no rack inside: every rack"
        );
        assert_eq!(resolvers("10.0.0.0/24", false, &own, &racks), own);
    }

    #[test]
    fn trusted_networks_are_the_acl_the_subnets_and_the_host() {
        let subnets = vec!["10.77.0.0/24".to_string()];
        assert_eq!(
            trusted_networks(
                "192.0.2.7, 198.51.100.0/24 2001:db8::1 localnets acl-name",
                &subnets
            ),
            [
                "127.0.0.0/8",
                "::1/128",
                "10.77.0.0/24",
                "192.0.2.7/32",
                "198.51.100.0/24",
                "2001:db8::1/128"
            ]
        );
        assert!(trusted_networks("any", &[]).contains(&"0.0.0.0/0".to_string()));
        assert_eq!(trusted_networks("", &[]).len(), 2);
    }

    use super::*;

    #[test]
    fn domain_and_resource_names() {
        for (name, ok) in [
            ("maas", true),
            ("Example.COM.", true),
            ("a-b.c", true),
            ("-a.c", false),
            ("a_b.c", false),
            ("", false),
            ("a..b", false),
        ] {
            assert_eq!(check_domain_name(name).is_ok(), ok, "{name}");
        }
        assert_eq!(check_domain_name("Example.COM.").unwrap(), "example.com");
        for (name, ok) in [
            ("@", true),
            ("www", true),
            ("_ldap._tcp", true),
            ("_", false),
            ("a b", false),
            ("x-", false),
        ] {
            assert_eq!(check_resource_name(name).is_ok(), ok, "{name}");
        }
    }

    #[test]
    fn fqdns_split_at_the_longest_domain() {
        let domains = vec![
            "maas".to_string(),
            "lab.maas".to_string(),
            "example.com".to_string(),
        ];
        assert_eq!(
            split_fqdn("web.lab.maas", &domains),
            Some(("web".into(), "lab.maas"))
        );
        assert_eq!(
            split_fqdn("a.b.maas", &domains),
            Some(("a.b".into(), "maas"))
        );
        assert_eq!(
            split_fqdn("example.com.", &domains),
            Some(("@".into(), "example.com"))
        );
        assert_eq!(split_fqdn("web.other.org", &domains), None);
        assert_eq!(split_fqdn("xmaas", &domains), None);
        assert_eq!(fqdn("@", "maas"), "maas");
        assert_eq!(fqdn("web", "maas"), "web.maas");
    }

    #[test]
    fn record_data_by_type() {
        let t = |ty: &str, d: &str| check_rrdata(RrType::parse(ty).unwrap(), d);
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("a", "10.0.0.1", Some("10.0.0.1")),
            ("A", "10.0.0.256", None),
            ("aaaa", "2001:DB8::1", Some("2001:db8::1")),
            ("CNAME", "Web.Example.com.", Some("web.example.com")),
            ("CNAME", "not a host", None),
            ("MX", "10 mail.example.com", Some("10 mail.example.com")),
            ("MX", "mail.example.com", None),
            ("MX", "70000 mail", None),
            ("NS", "ns1.example.com", Some("ns1.example.com")),
            ("SRV", "0 5 389 ldap", Some("0 5 389 ldap")),
            ("SRV", "0 5 ldap", None),
            ("SSHFP", "4 2 ABCDEF01", Some("4 2 abcdef01")),
            ("SSHFP", "4 2 xyz", None),
            ("TXT", "v=spf1 -all", Some("v=spf1 -all")),
            ("TXT", "", None),
        ];
        for (ty, data, want) in cases {
            assert_eq!(t(ty, data).ok().as_deref(), *want, "{ty} {data}");
        }
        assert!(RrType::parse("PTR").is_none());
        assert_eq!(check_ttl(""), Ok(None));
        assert_eq!(check_ttl("300"), Ok(Some(300)));
        assert!(check_ttl("-1").is_err());
    }
}
