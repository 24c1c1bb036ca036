//! How a text setting's value is checked and normalised ([`Form`]): lists of addresses, host
//! names and networks, URLs, a syslog server, a domain, a systemd interval, an IPMI key.

use crate::deploy::{check_http_url, check_remote_syslog, is_host};
use std::net::IpAddr;

/// The form of a text setting that may be cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// Free text.
    Any,
    /// Free text of at most this many characters.
    MaxLen(usize),
    /// An `http://` or `https://` URL with a host.
    HttpUrl,
    /// IP addresses separated by spaces or commas; kept space-separated.
    IpList,
    /// DNS servers: IP addresses, or `address:port` (`[address]:port` for IPv6), likewise.
    ServerList,
    /// Host names or IP addresses, likewise.
    HostList,
    /// Networks (`address/prefix`), IP addresses or names (BIND ACL names), likewise.
    AclList,
    /// `host` or `host:port` of a syslog server; kept as `host:port` (514 when not given);
    /// cleared, it reads back as null.
    Syslog,
    /// A DNS domain name.
    Domain,
    /// A systemd time span of hours, minutes and seconds (`15m`, `1h 30m`); never empty.
    Interval,
    /// An IPMI K_g key: 20 characters, or `0x` and 40 hexadecimal digits.
    KgKey,
    /// A kernel name starting with `hwe-` or `ga-` (empty: no minimum).
    HweKernel,
}

/// Items of a list setting: separated by commas and/or white space.
fn items(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
}

/// Each item checked and normalised, the list kept space-separated.
fn list(value: &str, one: impl Fn(&str) -> Result<String, String>) -> Result<String, String> {
    Ok(items(value)
        .map(one)
        .collect::<Result<Vec<_>, _>>()?
        .join(" "))
}

impl Form {
    /// `value` (already trimmed) as it is stored, or why it is refused. An empty value clears
    /// the setting, except for an interval.
    pub fn check(self, value: &str) -> Result<String, String> {
        if value.is_empty() && self != Form::Interval {
            return Ok(String::new());
        }
        match self {
            Form::Any => Ok(value.to_string()),
            Form::MaxLen(n) => {
                let len = value.chars().count();
                if len > n {
                    Err(format!(
                        "Ensure this value has at most {n} characters (it has {len})."
                    ))
                } else {
                    Ok(value.to_string())
                }
            }
            Form::HttpUrl => check_http_url(value).map(|_| value.to_string()),
            Form::IpList => list(value, |a| {
                a.parse::<IpAddr>().map(|ip| ip.to_string()).map_err(|_| {
                    format!(
                        "Invalid IP address: {a}; provide a list of space-separated IP addresses."
                    )
                })
            }),
            Form::ServerList => list(value, server),
            Form::HostList => list(value, |h| match h.parse::<IpAddr>() {
                Ok(ip) => Ok(ip.to_string()),
                Err(_) if is_host(h) && !h.contains(':') => Ok(h.to_string()),
                Err(_) => Err(format!("'{h}' is not a host name or an IP address.")),
            }),
            Form::AclList => list(value, acl_item),
            Form::Syslog => syslog(value),
            Form::Domain => {
                if value.len() <= 255 && is_host(value) && value.parse::<IpAddr>().is_err() {
                    Ok(value.to_string())
                } else {
                    Err(format!("Invalid domain name: {value}."))
                }
            }
            Form::Interval => {
                if is_interval(value) {
                    Ok(value.to_string())
                } else {
                    Err(format!(
                        "value is not a valid interval: '{value}', only 'h|hr|hour|hours, m|min|minute|minutes, s|sec|second|seconds' are valid units."
                    ))
                }
            }
            Form::KgKey => {
                let hex = value
                    .strip_prefix("0x")
                    .is_some_and(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()));
                if hex || value.chars().count() == 20 {
                    Ok(value.to_string())
                } else {
                    Err(format!(
                        "K_g must either be 20 characters in length, or 40 hexadecimal characters prefixed with \"0x\" (current length is {}).",
                        value.chars().count()
                    ))
                }
            }
            Form::HweKernel => {
                let ok = ["hwe-", "ga-"]
                    .iter()
                    .any(|p| value.strip_prefix(p).is_some_and(|r| !r.is_empty()));
                if ok && !value.contains(char::is_whitespace) {
                    Ok(value.to_string())
                } else {
                    Err(format!(
                        "'{value}' is not a kernel: it starts with \"hwe-\" or \"ga-\" (empty: no minimum)."
                    ))
                }
            }
        }
    }
}

/// A network (host bits allowed, as BIND takes them), an address or an ACL name.
fn acl_item(item: &str) -> Result<String, String> {
    if let Some((addr, len)) = item.split_once('/') {
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| format!("Invalid network: {item}."))?;
        let width = if ip.is_ipv4() { 32 } else { 128 };
        return match len.parse::<u8>() {
            Ok(p) if p <= width => Ok(format!("{ip}/{p}")),
            _ => Err(format!("Invalid network: {item}.")),
        };
    }
    if let Ok(ip) = item.parse::<IpAddr>() {
        return Ok(ip.to_string());
    }
    if item.contains(':') || item.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!("Invalid IP address: {item}."));
    }
    if is_host(item) {
        Ok(item.to_string())
    } else {
        Err(format!("Invalid hostname: '{item}'."))
    }
}

/// A DNS server: an IP address, or a socket address whose port is not 0.
fn server(a: &str) -> Result<String, String> {
    if let Ok(ip) = a.parse::<IpAddr>() {
        return Ok(ip.to_string());
    }
    match a.parse::<std::net::SocketAddr>() {
        Ok(sa) if sa.port() != 0 => Ok(sa.to_string()),
        _ => Err(format!(
            "Invalid IP address: {a}; provide a list of space-separated IP addresses."
        )),
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address, as `host:port`.
fn syslog(value: &str) -> Result<String, String> {
    check_remote_syslog(value)?;
    if let Ok(std::net::IpAddr::V6(v6)) = value.parse::<IpAddr>() {
        return Ok(format!("[{v6}]:514"));
    }
    let has_port = match value.strip_prefix('[') {
        Some(rest) => rest
            .split_once(']')
            .is_some_and(|(_, p)| p.starts_with(':')),
        None => value.contains(':'),
    };
    Ok(if has_port {
        value.to_string()
    } else {
        format!("{value}:514")
    })
}

/// A systemd time span as MAAS reads it: hours, then minutes, then seconds, each optional but
/// one at least, a number and a unit with at most one space between the parts.
fn is_interval(value: &str) -> bool {
    const UNITS: [&[&str]; 3] = [
        &["hours", "hour", "hr", "h"],
        &["minutes", "minute", "min", "m"],
        &["seconds", "second", "sec", "s"],
    ];
    let mut rest = value;
    let mut next = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        let after = &rest[digits..];
        let after = after.strip_prefix(' ').unwrap_or(after);
        let found = UNITS.iter().enumerate().skip(next).find_map(|(i, names)| {
            names.iter().find_map(|n| {
                let tail = after.strip_prefix(n)?;
                (!tail.starts_with(|c: char| c.is_ascii_alphabetic())).then_some((i, tail))
            })
        });
        let Some((i, tail)) = found else {
            return false;
        };
        next = i + 1;
        rest = tail.strip_prefix(' ').unwrap_or(tail);
    }
    next > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let table: &[(Form, &str, Result<&str, &str>)] = &[
            (Form::Any, "anything at all", Ok("anything at all")),
            (Form::MaxLen(4), "abcd", Ok("abcd")),
            (
                Form::MaxLen(4),
                "abcde",
                Err("Ensure this value has at most 4 characters (it has 5)."),
            ),
            (Form::IpList, "8.8.8.8, 1.1.1.1", Ok("8.8.8.8 1.1.1.1")),
            (Form::IpList, "2001:DB8::1", Ok("2001:db8::1")),
            (
                Form::ServerList,
                "10.0.0.1 127.0.0.1:5353,[2001:DB8::1]:53 ::1",
                Ok("10.0.0.1 127.0.0.1:5353 [2001:db8::1]:53 ::1"),
            ),
            (
                Form::ServerList,
                "10.0.0.1:0",
                Err("Invalid IP address: 10.0.0.1:0; provide a list of space-separated IP addresses."),
            ),
            (
                Form::IpList,
                "8.8.8.8 dns.example",
                Err("Invalid IP address: dns.example; provide a list of space-separated IP addresses."),
            ),
            (
                Form::HostList,
                "ntp1.example.com,10.0.0.1",
                Ok("ntp1.example.com 10.0.0.1"),
            ),
            (
                Form::HostList,
                "ntp_1.example.com",
                Err("'ntp_1.example.com' is not a host name or an IP address."),
            ),
            (
                Form::AclList,
                "10.0.0.0/8 192.168.1.5/24, localnets 2001:db8::/32",
                Ok("10.0.0.0/8 192.168.1.5/24 localnets 2001:db8::/32"),
            ),
            (Form::AclList, "10.0.0.0/33", Err("Invalid network: 10.0.0.0/33.")),
            (Form::AclList, "10.0.0.300", Err("Invalid IP address: 10.0.0.300.")),
            (Form::AclList, "bad_name", Err("Invalid hostname: 'bad_name'.")),
            (Form::Syslog, "logs.example", Ok("logs.example:514")),
            (Form::Syslog, "10.0.0.1:1514", Ok("10.0.0.1:1514")),
            (Form::Syslog, "2001:db8::9", Ok("[2001:db8::9]:514")),
            (Form::Syslog, "[2001:db8::9]:601", Ok("[2001:db8::9]:601")),
            (
                Form::Syslog,
                "10.0.0.1:70000",
                Err("'10.0.0.1:70000' is not host or host:port."),
            ),
            (Form::Domain, "maas-internal", Ok("maas-internal")),
            (Form::Domain, "-bad", Err("Invalid domain name: -bad.")),
            (Form::Interval, "15m", Ok("15m")),
            (Form::Interval, "1h 30min", Ok("1h 30min")),
            (Form::Interval, "2 hours 5 seconds", Ok("2 hours 5 seconds")),
            (
                Form::Interval,
                "",
                Err("value is not a valid interval: '', only 'h|hr|hour|hours, m|min|minute|minutes, s|sec|second|seconds' are valid units."),
            ),
            (
                Form::Interval,
                "5m 1h",
                Err("value is not a valid interval: '5m 1h', only 'h|hr|hour|hours, m|min|minute|minutes, s|sec|second|seconds' are valid units."),
            ),
            (Form::KgKey, "0123456789abcdefghij", Ok("0123456789abcdefghij")),
            (
                Form::KgKey,
                "0x0123456789abcdef0123456789abcdef01234567",
                Ok("0x0123456789abcdef0123456789abcdef01234567"),
            ),
            (
                Form::KgKey,
                "short",
                Err("K_g must either be 20 characters in length, or 40 hexadecimal characters prefixed with \"0x\" (current length is 5)."),
            ),
            (Form::HweKernel, "hwe-22.04", Ok("hwe-22.04")),
            (
                Form::HweKernel,
                "linux-6.1",
                Err("'linux-6.1' is not a kernel: it starts with \"hwe-\" or \"ga-\" (empty: no minimum)."),
            ),
            (Form::HttpUrl, "https://mirror.example/ubuntu", Ok("https://mirror.example/ubuntu")),
            (Form::HttpUrl, "", Ok("")),
            (Form::Syslog, "", Ok("")),
        ];
        for (form, value, want) in table {
            let got = form.check(value);
            assert_eq!(
                got.as_deref(),
                want.map_err(str::to_string).as_deref(),
                "{form:?} {value:?}"
            );
        }
    }
}
