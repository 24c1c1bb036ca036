//! How a subnet's addresses are used, as MAAS reports it (`subnets/{id}/?op=reserved_ip_ranges`,
//! `unreserved_ip_ranges`, `statistics`): the usable addresses split into spans, each with the
//! purposes that hold it ("dynamic", "reserved", "assigned-ip", "gateway-ip", "dns-server") or
//! "unused". Pure arithmetic; IPv4 and IPv6.

use crate::net::{from_u128, to_u128, Cidr};
use std::collections::BTreeSet;
use std::net::IpAddr;

/// Something that holds addresses of a subnet: a range, or one address (`start == end`).
#[derive(Debug, Clone, PartialEq)]
pub struct Use {
    pub start: IpAddr,
    pub end: IpAddr,
    pub purpose: &'static str,
}

/// A run of consecutive addresses with the same purposes.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub start: IpAddr,
    pub end: IpAddr,
    pub num_addresses: u128,
    /// Sorted; `["unused"]` for free addresses.
    pub purpose: Vec<&'static str>,
}

pub const UNUSED: &str = "unused";

/// The addresses MAAS counts in a subnet: for IPv4 shorter than /31, not the network and
/// broadcast addresses; for IPv6, not the subnet-router anycast (network) address.
pub fn usable(c: &Cidr) -> (u128, u128) {
    let first = to_u128(c.network);
    let last = to_u128(c.last());
    match c.network {
        IpAddr::V4(_) if c.prefix < 31 => (first + 1, last - 1),
        IpAddr::V4(_) => (first, last),
        IpAddr::V6(_) if c.prefix < 128 => (first + 1, last),
        IpAddr::V6(_) => (first, last),
    }
}

/// The whole usable range of `c` as spans: used runs with their purposes, free runs "unused",
/// in address order. Uses outside the subnet or of the other IP version are ignored.
pub fn full_range(c: &Cidr, uses: &[Use]) -> Vec<Span> {
    let v4 = c.network.is_ipv4();
    let (lo, hi) = usable(c);
    // Boundaries where the set of purposes may change: each use's start and end + 1.
    let clipped: Vec<(u128, u128, &'static str)> = uses
        .iter()
        .filter(|u| u.start.is_ipv4() == v4 && u.end.is_ipv4() == v4)
        .map(|u| (to_u128(u.start).max(lo), to_u128(u.end).min(hi), u.purpose))
        .filter(|(a, b, _)| a <= b)
        .collect();
    let mut cuts: BTreeSet<u128> = BTreeSet::from([lo]);
    for (a, b, _) in &clipped {
        cuts.insert(*a);
        if *b < hi {
            cuts.insert(b + 1);
        }
    }
    let cuts: Vec<u128> = cuts.into_iter().collect();
    let mut out: Vec<Span> = Vec::new();
    for (i, &a) in cuts.iter().enumerate() {
        let b = cuts.get(i + 1).map(|n| n - 1).unwrap_or(hi);
        let mut purpose: Vec<&'static str> = clipped
            .iter()
            .filter(|(s, e, _)| *s <= a && a <= *e)
            .map(|(_, _, p)| *p)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if purpose.is_empty() {
            purpose.push(UNUSED);
        }
        match out.last_mut() {
            Some(prev) if prev.purpose == purpose => {
                prev.end = from_u128(b, v4);
                prev.num_addresses += b - a + 1;
            }
            _ => out.push(Span {
                start: from_u128(a, v4),
                end: from_u128(b, v4),
                num_addresses: b - a + 1,
                purpose,
            }),
        }
    }
    out
}

/// `reserved_ip_ranges`: the spans that something holds.
pub fn reserved(c: &Cidr, uses: &[Use]) -> Vec<Span> {
    full_range(c, uses)
        .into_iter()
        .filter(|s| s.purpose != [UNUSED])
        .collect()
}

/// `unreserved_ip_ranges`: the free spans.
pub fn unreserved(c: &Cidr, uses: &[Use]) -> Vec<Span> {
    full_range(c, uses)
        .into_iter()
        .filter(|s| s.purpose == [UNUSED])
        .collect()
}

/// MAAS's `IPRangeStatistics` of a subnet.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    pub num_available: u128,
    pub largest_available: u128,
    pub num_unavailable: u128,
    pub total_addresses: u128,
    pub first_address: IpAddr,
    pub last_address: IpAddr,
    pub ip_version: u8,
    pub ranges: Vec<Span>,
    pub suggested_gateway: Option<IpAddr>,
    pub suggested_dynamic_range: Option<Span>,
}

impl Statistics {
    pub fn usage(&self) -> f64 {
        self.num_unavailable as f64 / self.total_addresses.max(1) as f64
    }
    pub fn available(&self) -> f64 {
        self.num_available as f64 / self.total_addresses.max(1) as f64
    }
}

/// A fraction as MAAS prints it (`{:.0%}`): "0%", "25%".
pub fn percent(f: f64) -> String {
    format!("{:.0}%", f * 100.0)
}

pub fn statistics(c: &Cidr, uses: &[Use]) -> Statistics {
    let v4 = c.network.is_ipv4();
    let ranges = full_range(c, uses);
    let (lo, hi) = usable(c);
    let free = |s: &&Span| s.purpose == [UNUSED];
    let num_available: u128 = ranges.iter().filter(free).map(|s| s.num_addresses).sum();
    let largest_available = ranges
        .iter()
        .filter(free)
        .map(|s| s.num_addresses)
        .max()
        .unwrap_or(0);
    let total = hi - lo + 1;
    let mut st = Statistics {
        num_available,
        largest_available,
        num_unavailable: total - num_available,
        total_addresses: total,
        first_address: from_u128(lo, v4),
        last_address: from_u128(hi, v4),
        ip_version: if v4 { 4 } else { 6 },
        ranges,
        suggested_gateway: None,
        suggested_dynamic_range: None,
    };
    let holds = |p: &str| st.ranges.iter().any(|s| s.purpose.contains(&p));
    if !holds("gateway-ip") {
        st.suggested_gateway = suggest_gateway(&st, lo, hi, v4);
    }
    if !holds("dynamic") {
        st.suggested_dynamic_range = suggest_dynamic(&st, v4);
    }
    st
}

/// The first usable address if free, else the last if free, else the first free one; for
/// IPv6 the subnet-router anycast address (RFC 4291 2.6.1).
fn suggest_gateway(st: &Statistics, lo: u128, hi: u128, v4: bool) -> Option<IpAddr> {
    if !v4 {
        return (st.total_addresses > 2).then(|| from_u128(lo - 1, v4));
    }
    let free_at = |n: u128| {
        st.ranges
            .iter()
            .any(|s| s.purpose == [UNUSED] && to_u128(s.start) <= n && n <= to_u128(s.end))
    };
    if free_at(lo) {
        Some(from_u128(lo, v4))
    } else if free_at(hi) {
        Some(from_u128(hi, v4))
    } else {
        st.ranges
            .iter()
            .find(|s| s.purpose == [UNUSED])
            .map(|s| s.start)
    }
}

/// In the largest free block (less the suggested gateway), at most a quarter of the subnet and
/// at most half of what is free, at the block's top.
fn suggest_dynamic(st: &Statistics, v4: bool) -> Option<Span> {
    let block = st.ranges.iter().filter(|s| s.purpose == [UNUSED]).fold(
        None::<&Span>,
        |best, s| match best {
            Some(b) if b.num_addresses >= s.num_addresses => Some(b),
            _ => Some(s),
        },
    )?;
    let (mut first, mut last) = (to_u128(block.start), to_u128(block.end));
    if let Some(g) = st.suggested_gateway.map(to_u128) {
        if block.num_addresses == 1 {
            return None;
        }
        if g == first {
            first += 1;
        } else if g == last {
            last -= 1;
        }
    }
    let size = last - first + 1;
    let quarter = st.total_addresses >> 2;
    let half_free = st.num_available >> 1;
    if size > quarter {
        first = last - quarter;
    } else if size >= half_free {
        first = last + 1 - half_free;
    }
    if first >= last {
        return None;
    }
    Some(Span {
        start: from_u128(first, v4),
        end: from_u128(last, v4),
        num_addresses: last - first + 1,
        purpose: vec!["proposed-dynamic"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }
    fn one(a: &str, p: &'static str) -> Use {
        Use {
            start: ip(a),
            end: ip(a),
            purpose: p,
        }
    }
    fn range(a: &str, b: &str, p: &'static str) -> Use {
        Use {
            start: ip(a),
            end: ip(b),
            purpose: p,
        }
    }
    fn spans(v: &[Span]) -> Vec<(String, String, u128, String)> {
        v.iter()
            .map(|s| {
                (
                    s.start.to_string(),
                    s.end.to_string(),
                    s.num_addresses,
                    s.purpose.join(","),
                )
            })
            .collect()
    }

    #[test]
    fn usable_addresses_per_prefix() {
        let c = |s: &str| Cidr::parse(s).unwrap();
        for (cidr, first, last) in [
            ("10.0.0.0/24", "10.0.0.1", "10.0.0.254"),
            ("10.0.0.0/31", "10.0.0.0", "10.0.0.1"),
            ("10.0.0.7/32", "10.0.0.7", "10.0.0.7"),
            ("fd00::/64", "fd00::1", "fd00::ffff:ffff:ffff:ffff"),
            ("fd00::5/128", "fd00::5", "fd00::5"),
        ] {
            let (a, b) = usable(&c(cidr));
            assert_eq!(
                (
                    from_u128(a, first.contains('.')),
                    from_u128(b, first.contains('.'))
                ),
                (ip(first), ip(last)),
                "{cidr}"
            );
        }
    }

    #[test]
    fn spans_split_merge_and_overlap() {
        let c = Cidr::parse("10.0.0.0/24").unwrap();
        let uses = [
            one("10.0.0.1", "gateway-ip"),
            range("10.0.0.100", "10.0.0.199", "dynamic"),
            range("10.0.0.10", "10.0.0.19", "reserved"),
            one("10.0.0.15", "assigned-ip"),
            one("10.0.0.20", "assigned-ip"),
            one("10.0.0.21", "assigned-ip"),
            one("192.168.0.5", "assigned-ip"), // outside: ignored
            range("10.0.0.250", "10.0.1.5", "reserved"), // clipped to .254
        ];
        assert_eq!(
            spans(&reserved(&c, &uses)),
            vec![
                ("10.0.0.1".into(), "10.0.0.1".into(), 1, "gateway-ip".into()),
                ("10.0.0.10".into(), "10.0.0.14".into(), 5, "reserved".into()),
                (
                    "10.0.0.15".into(),
                    "10.0.0.15".into(),
                    1,
                    "assigned-ip,reserved".into()
                ),
                ("10.0.0.16".into(), "10.0.0.19".into(), 4, "reserved".into()),
                (
                    "10.0.0.20".into(),
                    "10.0.0.21".into(),
                    2,
                    "assigned-ip".into()
                ),
                (
                    "10.0.0.100".into(),
                    "10.0.0.199".into(),
                    100,
                    "dynamic".into()
                ),
                (
                    "10.0.0.250".into(),
                    "10.0.0.254".into(),
                    5,
                    "reserved".into()
                ),
            ]
        );
        assert_eq!(
            spans(&unreserved(&c, &uses)),
            vec![
                ("10.0.0.2".into(), "10.0.0.9".into(), 8, "unused".into()),
                ("10.0.0.22".into(), "10.0.0.99".into(), 78, "unused".into()),
                (
                    "10.0.0.200".into(),
                    "10.0.0.249".into(),
                    50,
                    "unused".into()
                ),
            ]
        );
        let st = statistics(&c, &uses);
        assert_eq!(st.total_addresses, 254);
        assert_eq!(st.num_available, 136);
        assert_eq!(st.num_unavailable, 118);
        assert_eq!(st.largest_available, 78);
        assert_eq!(percent(st.usage()), "46%");
        assert_eq!(percent(st.available()), "54%");
        assert_eq!(st.suggested_gateway, None, "a gateway is set");
        assert_eq!(st.suggested_dynamic_range, None, "a dynamic range exists");
    }

    /// MAAS's own cases (provisioningserver's `IPRangeStatistics` tests).
    #[test]
    fn suggestions_as_maas_makes_them() {
        let c = Cidr::parse("10.0.0.0/24").unwrap();
        let st = statistics(&c, &[]);
        assert_eq!(st.suggested_gateway, Some(ip("10.0.0.1")));
        let d = st.suggested_dynamic_range.unwrap();
        assert_eq!(
            (d.start, d.end, d.num_addresses),
            (ip("10.0.0.191"), ip("10.0.0.254"), 64)
        );

        let used = [
            one("10.0.0.1", "assigned-ip"),
            one("10.0.0.4", "assigned-ip"),
            one("10.0.0.6", "assigned-ip"),
            one("10.0.0.254", "assigned-ip"),
        ];
        assert_eq!(
            statistics(&c, &used).suggested_gateway,
            Some(ip("10.0.0.2"))
        );

        let full = Cidr::parse("10.0.0.1/32").unwrap();
        let st = statistics(&full, &[one("10.0.0.1", "assigned-ip")]);
        assert_eq!(
            (st.suggested_gateway, st.total_addresses, st.num_available),
            (None, 1, 0)
        );

        // The suggested gateway is the last free address and the range stops short of it.
        let st = statistics(&c, &[range("10.0.0.1", "10.0.0.204", "reserved")]);
        assert_eq!(
            (st.suggested_gateway, st.num_available),
            (Some(ip("10.0.0.254")), 50)
        );
        let d = st.suggested_dynamic_range.unwrap();
        assert_eq!(
            (d.start, d.end, d.num_addresses),
            (ip("10.0.0.229"), ip("10.0.0.253"), 25)
        );

        let v6 = Cidr::parse("2001:db8::/64").unwrap();
        let st = statistics(
            &v6,
            &[range(
                "2001:db8::1",
                "2001:db8::ffff:ffff:ffff:ff00",
                "reserved",
            )],
        );
        assert_eq!(
            (st.suggested_gateway, st.num_available),
            (Some(ip("2001:db8::")), 255)
        );
        let d = st.suggested_dynamic_range.unwrap();
        assert_eq!(
            (d.start, d.end, d.num_addresses),
            (
                ip("2001:db8::ffff:ffff:ffff:ff81"),
                ip("2001:db8::ffff:ffff:ffff:ffff"),
                127
            )
        );
        for (cidr, gateway) in [
            ("2001:db8::/126", Some("2001:db8::")),
            ("2001:db8::/127", None),
            ("2001:db8::/128", None),
        ] {
            let st = statistics(&Cidr::parse(cidr).unwrap(), &[]);
            assert_eq!(st.suggested_gateway, gateway.map(ip), "{cidr}");
            assert_eq!(st.suggested_dynamic_range, None, "{cidr}");
        }

        let v6 = Cidr::parse("fd00::/64").unwrap();
        let st = statistics(&v6, &[]);
        assert_eq!(st.suggested_gateway, Some(ip("fd00::")));
        assert_eq!(st.total_addresses, u64::MAX as u128);
        assert_eq!(st.ip_version, 6);
    }
}
