//! Pure address arithmetic for subnets and IP ranges (IPv4 and IPv6).

use std::net::IpAddr;

/// A parsed CIDR: network address (host bits cleared) and prefix length. The one CIDR type of
/// the workspace: the region's subnets and the DHCP server's configuration (as a string in
/// JSON) both use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr {
    pub network: IpAddr,
    pub prefix: u8,
}

pub(crate) fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

fn bits(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

fn mask(prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        let all = if width == 32 {
            u32::MAX as u128
        } else {
            u128::MAX
        };
        all & !((1u128 << (width - prefix)) - 1).min(all)
    }
}

impl Cidr {
    /// Parse `a.b.c.d/n` or `x::/n`. Host bits must be zero (as MAAS requires).
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, len) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("'{s}' is not a CIDR (address/prefix)"))?;
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| format!("'{addr}' is not an IP address"))?;
        let prefix: u8 = len
            .parse()
            .map_err(|_| format!("'{len}' is not a prefix length"))?;
        let w = bits(ip);
        if prefix > w {
            return Err(format!("prefix /{prefix} is longer than {w} bits"));
        }
        let n = to_u128(ip);
        if n & !mask(prefix, w) & if w == 32 { u32::MAX as u128 } else { u128::MAX } != 0 {
            return Err(format!(
                "'{s}' has host bits set: the network is {}/{prefix}",
                from_u128(n & mask(prefix, w), ip.is_ipv4())
            ));
        }
        Ok(Cidr {
            network: ip,
            prefix,
        })
    }

    pub fn contains(&self, ip: impl Into<IpAddr>) -> bool {
        let ip = ip.into();
        ip.is_ipv4() == self.network.is_ipv4()
            && to_u128(ip) & mask(self.prefix, bits(ip)) == to_u128(self.network)
    }

    /// The broadcast (IPv4) or last address of the subnet.
    pub fn last(&self) -> IpAddr {
        let w = bits(self.network);
        let host = if w == 32 {
            (u32::MAX as u128) & !mask(self.prefix, w)
        } else {
            !mask(self.prefix, w)
        };
        from_u128(to_u128(self.network) | host, self.network.is_ipv4())
    }
}

impl Cidr {
    /// The IPv4 netmask (`255.255.0.0` for a /16); None for an IPv6 network.
    pub fn netmask_v4(&self) -> Option<std::net::Ipv4Addr> {
        match self.network {
            IpAddr::V4(_) => Some((mask(self.prefix, 32) as u32).into()),
            IpAddr::V6(_) => None,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Cidr, String> {
        Cidr::parse(s)
    }
}

impl TryFrom<String> for Cidr {
    type Error = String;
    fn try_from(s: String) -> Result<Cidr, String> {
        Cidr::parse(&s)
    }
}

impl From<Cidr> for String {
    fn from(c: Cidr) -> String {
        c.to_string()
    }
}

pub(crate) fn from_u128(n: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4((n as u32).into())
    } else {
        IpAddr::V6(n.into())
    }
}

/// The DHCP settings of a VLAN taken together (MAAS's VLAN form): a secondary rack needs a
/// primary one and differs from it; a VLAN serves DHCP itself or relays it, not both.
pub fn check_vlan_dhcp(
    dhcp_on: bool,
    primary: Option<&str>,
    secondary: Option<&str>,
    relays: bool,
) -> Result<(), (&'static str, String)> {
    match (primary, secondary) {
        (None, Some(_)) => Err((
            "secondary_rack",
            "A secondary rack controller needs a primary rack controller.".into(),
        )),
        (Some(a), Some(b)) if a == b => Err((
            "secondary_rack",
            "The primary and secondary rack controllers must be different.".into(),
        )),
        _ if dhcp_on && relays => Err((
            "relay_vlan",
            "A VLAN that serves DHCP cannot also relay it to another VLAN: turn dhcp_on off or clear relay_vlan.".into(),
        )),
        _ => Ok(()),
    }
}

/// An MTU a link may have (MAAS accepts 552 to 65535 bytes).
pub fn check_mtu(mtu: i64) -> Result<i64, String> {
    if (552..=65535).contains(&mtu) {
        Ok(mtu)
    } else {
        Err(format!("MTU {mtu} is outside 552-65535."))
    }
}

/// Whether two inclusive ranges overlap (same family).
pub fn ranges_overlap(a: (IpAddr, IpAddr), b: (IpAddr, IpAddr)) -> bool {
    a.0.is_ipv4() == b.0.is_ipv4() && to_u128(a.0) <= to_u128(b.1) && to_u128(b.0) <= to_u128(a.1)
}

/// Validate a range inside a subnet: both ends inside, start <= end, not the network or
/// broadcast address of an IPv4 subnet.
pub fn check_range(subnet: &Cidr, start: IpAddr, end: IpAddr) -> Result<(), String> {
    if !subnet.contains(start) || !subnet.contains(end) {
        return Err(format!("the range {start}-{end} is not inside {subnet}"));
    }
    if to_u128(start) > to_u128(end) {
        return Err(format!("the range starts ({start}) after it ends ({end})"));
    }
    if subnet.network.is_ipv4()
        && subnet.prefix < 31
        && (start == subnet.network || end == subnet.last())
    {
        return Err(format!(
            "the range {start}-{end} includes the network or broadcast address of {subnet}"
        ));
    }
    Ok(())
}

/// Why an address cannot be given out as a static (reserved) address of a subnet.
pub fn check_static_ip(
    subnet: &Cidr,
    ip: IpAddr,
    gateway: Option<IpAddr>,
    dynamic: &[(IpAddr, IpAddr)],
) -> Result<(), String> {
    if !subnet.contains(ip) {
        return Err(format!("{ip} is not inside {subnet}"));
    }
    if subnet.network.is_ipv4()
        && subnet.prefix < 31
        && (ip == subnet.network || ip == subnet.last())
    {
        return Err(format!(
            "{ip} is the network or broadcast address of {subnet}"
        ));
    }
    if gateway == Some(ip) {
        return Err(format!("{ip} is the gateway of {subnet}"));
    }
    if let Some((a, b)) = dynamic.iter().find(|r| ranges_overlap(**r, (ip, ip))) {
        return Err(format!(
            "{ip} is inside the dynamic range {a}-{b}, which DHCP hands out"
        ));
    }
    Ok(())
}

/// Why a static route cannot be: source and destination differ and are of one family, the
/// gateway is a host address inside the source subnet (where the machines are), the metric is
/// not negative. Errors are (field, message).
pub fn check_static_route(
    source: &Cidr,
    destination: &Cidr,
    gateway: &str,
    metric: i64,
) -> Result<(), Vec<(&'static str, String)>> {
    let mut errs = Vec::new();
    if source == destination {
        errs.push((
            "destination",
            format!("The destination {destination} is the source subnet."),
        ));
    } else if source.network.is_ipv4() != destination.network.is_ipv4() {
        errs.push((
            "destination",
            format!("{destination} and {source} are not of the same IP version."),
        ));
    }
    match gateway.trim().parse::<IpAddr>() {
        Ok(ip) if source.contains(ip) => {
            if source.network.is_ipv4()
                && source.prefix < 31
                && (ip == source.network || ip == source.last())
            {
                errs.push((
                    "gateway_ip",
                    format!("{ip} is the network or broadcast address of {source}."),
                ));
            }
        }
        Ok(ip) => errs.push((
            "gateway_ip",
            format!("The gateway {ip} is not inside the source subnet {source}."),
        )),
        Err(_) => errs.push(("gateway_ip", format!("'{gateway}' is not an IP address."))),
    }
    if metric < 0 {
        errs.push((
            "metric",
            "Ensure this value is greater than or equal to 0.".to_string(),
        ));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

/// The lowest address of `subnet` that may be given out as a static address: not the network,
/// broadcast or gateway address, not inside `excluded` (dynamic and reserved ranges), not in
/// `used`. Looks at most `limit` candidates (an IPv6 /64 is not walked to its end).
pub fn first_free_ip(
    subnet: &Cidr,
    gateway: Option<IpAddr>,
    excluded: &[(IpAddr, IpAddr)],
    used: &std::collections::HashSet<IpAddr>,
    limit: u64,
) -> Option<IpAddr> {
    let v4 = subnet.network.is_ipv4();
    let start = to_u128(subnet.network) + 1;
    let last = to_u128(subnet.last());
    // IPv4 subnets shorter than /31 keep their broadcast address.
    let end = if v4 && subnet.prefix < 31 {
        last.checked_sub(1)?
    } else {
        last
    };
    let start = if v4 && subnet.prefix >= 31 {
        to_u128(subnet.network)
    } else {
        start
    };
    let mut n = start;
    let mut looked = 0u64;
    while n <= end && looked < limit {
        // Jump over a whole excluded range at once.
        if let Some((_, b)) = excluded
            .iter()
            .find(|(a, b)| to_u128(*a) <= n && n <= to_u128(*b))
        {
            n = to_u128(*b).checked_add(1)?;
            continue;
        }
        let ip = from_u128(n, v4);
        looked += 1;
        if Some(ip) != gateway && !used.contains(&ip) {
            return Some(ip);
        }
        n += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn vlan_dhcp_settings() {
        use super::check_vlan_dhcp as c;
        for (on, p, s, relay, err) in [
            (true, None, None, false, None),
            (true, Some("r1"), None, false, None),
            (true, Some("r1"), Some("r2"), false, None),
            (false, None, None, true, None),
            (false, Some("r1"), Some("r2"), true, None),
            (true, None, Some("r2"), false, Some("secondary_rack")),
            (true, Some("r1"), Some("r1"), false, Some("secondary_rack")),
            (true, Some("r1"), None, true, Some("relay_vlan")),
        ] {
            assert_eq!(
                c(on, p, s, relay).err().map(|e| e.0),
                err,
                "{on} {p:?} {s:?} {relay}"
            );
        }
    }

    #[test]
    fn mtus() {
        for (mtu, ok) in [
            (551, false),
            (552, true),
            (1500, true),
            (9000, true),
            (65535, true),
            (65536, false),
            (0, false),
            (-1, false),
        ] {
            assert_eq!(check_mtu(mtu).is_ok(), ok, "{mtu}");
        }
        assert_eq!(check_mtu(100).unwrap_err(), "MTU 100 is outside 552-65535.");
    }

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidrs() {
        let c = Cidr::parse("10.77.0.0/24").unwrap();
        assert!(c.contains(ip("10.77.0.9")));
        assert!(!c.contains(ip("10.77.1.9")));
        assert!(!c.contains(ip("::1")));
        assert_eq!(c.last(), ip("10.77.0.255"));
        assert!(Cidr::parse("10.77.0.1/24")
            .unwrap_err()
            .contains("host bits"));
        assert!(Cidr::parse("10.77.0.0/33").is_err());
        assert!(Cidr::parse("10.77.0.0").is_err());
        assert!(Cidr::parse("nonsense/8").is_err());
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        let v6 = Cidr::parse("fd00:1::/64").unwrap();
        assert!(v6.contains(ip("fd00:1::42")));
        assert_eq!(v6.last(), ip("fd00:1::ffff:ffff:ffff:ffff"));
    }

    #[test]
    fn static_ips() {
        let c = Cidr::parse("10.77.0.0/24").unwrap();
        let gw = Some(ip("10.77.0.1"));
        let dynr = [(ip("10.77.0.100"), ip("10.77.0.200"))];
        assert!(check_static_ip(&c, ip("10.77.0.50"), gw, &dynr).is_ok());
        for bad in [
            "10.77.0.0",
            "10.77.0.255",
            "10.77.0.1",
            "10.77.0.150",
            "10.78.0.5",
        ] {
            assert!(check_static_ip(&c, ip(bad), gw, &dynr).is_err(), "{bad}");
        }
        let mut used = std::collections::HashSet::new();
        assert_eq!(
            first_free_ip(&c, gw, &dynr, &used, 1000),
            Some(ip("10.77.0.2"))
        );
        used.insert(ip("10.77.0.2"));
        assert_eq!(
            first_free_ip(&c, gw, &dynr, &used, 1000),
            Some(ip("10.77.0.3"))
        );
        // Everything below the dynamic range used: the first free is above it.
        for n in 2..100 {
            used.insert(ip(&format!("10.77.0.{n}")));
        }
        assert_eq!(
            first_free_ip(&c, gw, &dynr, &used, 1000),
            Some(ip("10.77.0.201"))
        );
        for n in 201..255 {
            used.insert(ip(&format!("10.77.0.{n}")));
        }
        assert_eq!(first_free_ip(&c, gw, &dynr, &used, 1000), None, "exhausted");
        let tiny = Cidr::parse("10.9.0.0/30").unwrap();
        assert_eq!(
            first_free_ip(&tiny, None, &[], &Default::default(), 10),
            Some(ip("10.9.0.1"))
        );
        let v6 = Cidr::parse("fd00:1::/64").unwrap();
        assert_eq!(
            first_free_ip(&v6, Some(ip("fd00:1::1")), &[], &Default::default(), 10),
            Some(ip("fd00:1::2"))
        );
    }

    #[test]
    fn ranges() {
        let c = Cidr::parse("10.77.0.0/24").unwrap();
        assert!(check_range(&c, ip("10.77.0.100"), ip("10.77.0.200")).is_ok());
        assert!(check_range(&c, ip("10.77.0.200"), ip("10.77.0.100")).is_err());
        assert!(check_range(&c, ip("10.77.0.100"), ip("10.77.1.2")).is_err());
        assert!(check_range(&c, ip("10.77.0.0"), ip("10.77.0.9")).is_err());
        assert!(check_range(&c, ip("10.77.0.9"), ip("10.77.0.255")).is_err());
        assert!(ranges_overlap(
            (ip("10.0.0.5"), ip("10.0.0.10")),
            (ip("10.0.0.10"), ip("10.0.0.20"))
        ));
        assert!(!ranges_overlap(
            (ip("10.0.0.5"), ip("10.0.0.9")),
            (ip("10.0.0.10"), ip("10.0.0.20"))
        ));
    }

    #[test]
    fn static_routes() {
        let c = |t: &str| Cidr::parse(t).unwrap();
        let (a, b, v6) = (c("10.0.0.0/24"), c("172.16.0.0/16"), c("fd00::/64"));
        // (source, destination, gateway, metric, fields refused)
        let rows: &[(Cidr, Cidr, &str, i64, &[&str])] = &[
            (a, b, "10.0.0.254", 0, &[]),
            (a, b, "10.0.0.1", 100, &[]),
            (a, a, "10.0.0.254", 0, &["destination"]),
            (a, v6, "10.0.0.254", 0, &["destination"]),
            (a, b, "172.16.0.1", 0, &["gateway_ip"]),
            (a, b, "10.0.0.255", 0, &["gateway_ip"]),
            (a, b, "10.0.0.0", 0, &["gateway_ip"]),
            (a, b, "gateway", 0, &["gateway_ip"]),
            (a, b, "10.0.0.9", -1, &["metric"]),
            (v6, c("fd01::/64"), "fd00::1", 5, &[]),
            (
                a,
                a,
                "1.2.3.4",
                -5,
                &["destination", "gateway_ip", "metric"],
            ),
        ];
        for (src, dst, gw, metric, want) in rows {
            let got: Vec<&str> = match check_static_route(src, dst, gw, *metric) {
                Ok(()) => vec![],
                Err(e) => e.into_iter().map(|(f, _)| f).collect(),
            };
            assert_eq!(got, *want, "{src} -> {dst} via {gw} metric {metric}");
        }
    }
}
