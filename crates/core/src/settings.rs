//! The region's settings (MAAS's `get_config` / `set_config` names): each one's kind, default
//! and check, written once. The region stores what [`check`] returns and reads back through
//! [`read`]; nothing else knows a setting's default.

use crate::storage::Layout;

/// What a setting holds, with its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A whole number of minutes greater than 0.
    Minutes(i64),
    /// A whole number, 0 or more (0: no limit).
    Count(i64),
    /// `true` / `false`.
    Bool(bool),
    /// One of the storage layouts.
    StorageLayout(Layout),
    /// One of the listed words: the words, the default, and what the choice means (for the
    /// refusal).
    OneOf(&'static [&'static str], &'static str, &'static str),
    /// Free text with a default; may not be cleared.
    Text(&'static str),
    /// Free text, a list or a URL checked by [`Setting::check`]; may be cleared (empty).
    Clearable,
}

/// One setting.
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    pub name: &'static str,
    pub kind: Kind,
}

/// A setting's value as `get_config` answers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Bool(bool),
    Text(String),
}

/// Why a value was refused (the message is for the `value` field).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    #[error("'{name}' is not a known setting: {known}.", known = NAMES.join(", "))]
    Unknown { name: String },
    #[error("{0}")]
    Invalid(String),
}

pub const UNKNOWN_MACHINES: &[&str] = &["enlist", "ignore"];

/// Every setting, in the order `set_config` lists them in its error.
pub const SETTINGS: &[Setting] = &[
    s("node_timeout", Kind::Minutes(30)),
    s("default_distro_series", Kind::Text("jammy")),
    s("default_osystem", Kind::Text("ubuntu")),
    s(
        "unknown_machines",
        Kind::OneOf(
            UNKNOWN_MACHINES,
            "enlist",
            "'enlist' (network-booting strangers enlist) or 'ignore'",
        ),
    ),
    s("max_concurrent_deployments", Kind::Count(0)),
    s("enable_disk_erasing_on_release", Kind::Bool(false)),
    s("disk_erase_with_secure_erase", Kind::Bool(false)),
    s("disk_erase_with_quick_erase", Kind::Bool(false)),
    s("default_storage_layout", Kind::StorageLayout(Layout::Flat)),
    s("kernel_opts", Kind::Clearable),
    s("ntp_servers", Kind::Clearable),
    s("http_proxy", Kind::Clearable),
    s("enable_http_proxy", Kind::Bool(true)),
    s("main_archive", Kind::Clearable),
    s("remote_syslog", Kind::Clearable),
    s("maas_name", Kind::Text("maas")),
    s("upstream_dns", Kind::Clearable),
];

/// Older names MAAS still answers to, and the setting each one is.
pub const ALIASES: &[(&str, &str)] = &[("ntp_server", "ntp_servers")];

const fn s(name: &'static str, kind: Kind) -> Setting {
    Setting { name, kind }
}

/// The names, in table order.
pub const NAMES: [&str; SETTINGS.len()] = {
    let mut out = [""; SETTINGS.len()];
    let mut i = 0;
    while i < SETTINGS.len() {
        out[i] = SETTINGS[i].name;
        i += 1;
    }
    out
};

/// The setting called `name`.
pub fn find(name: &str) -> Result<&'static Setting, SettingError> {
    let name = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, real)| *real);
    SETTINGS
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| SettingError::Unknown { name: name.into() })
}

/// A boolean as MAAS clients send one.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" | "y" | "on" => Some(true),
        "false" | "f" | "0" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

impl Setting {
    /// The value in effect: what is stored when it still reads as this setting's kind, else
    /// the default.
    pub fn read(&self, stored: Option<&str>) -> Value {
        let stored = stored.map(str::trim);
        match self.kind {
            Kind::Minutes(d) => Value::Int(
                stored
                    .and_then(|v| v.parse::<i64>().ok())
                    .filter(|v| *v > 0)
                    .unwrap_or(d),
            ),
            Kind::Count(d) => Value::Int(
                stored
                    .and_then(|v| v.parse::<i64>().ok())
                    .filter(|v| *v >= 0)
                    .unwrap_or(d),
            ),
            Kind::Bool(d) => Value::Bool(stored.map_or(d, |v| v == "true")),
            Kind::StorageLayout(d) => Value::Text(
                stored
                    .and_then(Layout::parse)
                    .unwrap_or(d)
                    .as_str()
                    .to_string(),
            ),
            Kind::OneOf(_, d, _) | Kind::Text(d) => {
                Value::Text(stored.map_or_else(|| d.to_string(), str::to_string))
            }
            Kind::Clearable => Value::Text(stored.unwrap_or_default().to_string()),
        }
    }

    /// The text to store for `raw`, or why it is refused.
    pub fn check(&self, raw: &str) -> Result<String, SettingError> {
        let value = raw.trim();
        let bad = |m: String| Err(SettingError::Invalid(m));
        if let Kind::Minutes(_) = self.kind {
            if !value.parse::<i64>().is_ok_and(|v| v > 0) {
                return bad(format!(
                    "{} is a whole number of minutes greater than 0.",
                    self.name
                ));
            }
        }
        // Free text, lists and URLs may be cleared; every other setting needs a value.
        if value.is_empty() {
            return match self.kind {
                Kind::Clearable => Ok(String::new()),
                _ => bad("This field is required.".into()),
            };
        }
        match self.kind {
            Kind::Minutes(_) | Kind::Text(_) => Ok(value.to_string()),
            Kind::Count(_) => match value.parse::<i64>() {
                Ok(v) if v >= 0 => Ok(value.to_string()),
                _ => bad(format!("{} is a whole number (0: no limit).", self.name)),
            },
            Kind::Bool(_) => match parse_bool(value) {
                Some(b) => Ok(b.to_string()),
                None => bad(format!("{value:?} is not a boolean")),
            },
            Kind::StorageLayout(_) => match Layout::parse(value) {
                Some(l) => Ok(l.as_str().to_string()),
                None => bad(format!(
                    "'{value}' is not a storage layout: flat, lvm, bcache or blank."
                )),
            },
            Kind::OneOf(words, _, means) => {
                if words.contains(&value) {
                    Ok(value.to_string())
                } else {
                    bad(format!("{} is {means}.", self.name))
                }
            }
            Kind::Clearable => {
                let checked = match self.name {
                    "ntp_servers" => crate::deploy::parse_ntp_servers(value).map(|_| ()),
                    "http_proxy" | "main_archive" => crate::deploy::check_http_url(value),
                    "remote_syslog" => crate::deploy::check_remote_syslog(value),
                    // Space- or comma-separated IP addresses (the DNS server's forwarders).
                    "upstream_dns" => value
                        .split(|c: char| c == ',' || c.is_whitespace())
                        .filter(|a| !a.is_empty())
                        .find(|a| a.parse::<std::net::IpAddr>().is_err())
                        .map_or(Ok(()), |a| Err(format!("'{a}' is not an IP address."))),
                    _ => Ok(()),
                };
                checked
                    .map(|_| value.to_string())
                    .map_err(SettingError::Invalid)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(name: &str) -> &'static Setting {
        find(name).unwrap()
    }

    #[test]
    fn defaults() {
        let table: &[(&str, Value)] = &[
            ("node_timeout", Value::Int(30)),
            ("default_distro_series", Value::Text("jammy".into())),
            ("default_osystem", Value::Text("ubuntu".into())),
            ("unknown_machines", Value::Text("enlist".into())),
            ("max_concurrent_deployments", Value::Int(0)),
            ("enable_disk_erasing_on_release", Value::Bool(false)),
            ("disk_erase_with_secure_erase", Value::Bool(false)),
            ("disk_erase_with_quick_erase", Value::Bool(false)),
            ("default_storage_layout", Value::Text("flat".into())),
            ("kernel_opts", Value::Text(String::new())),
            ("ntp_servers", Value::Text(String::new())),
            ("http_proxy", Value::Text(String::new())),
            ("enable_http_proxy", Value::Bool(true)),
            ("main_archive", Value::Text(String::new())),
            ("maas_name", Value::Text("maas".into())),
            ("upstream_dns", Value::Text(String::new())),
            ("remote_syslog", Value::Text(String::new())),
        ];
        assert_eq!(table.len(), SETTINGS.len());
        for (name, want) in table {
            assert_eq!(&get(name).read(None), want, "{name}");
        }
        // An older name MAAS still answers to is the setting it names.
        assert_eq!(get("ntp_server").name, "ntp_servers");
    }

    #[test]
    fn stored_values_read_back_or_fall_back() {
        let table: &[(&str, &str, Value)] = &[
            ("node_timeout", "5", Value::Int(5)),
            ("node_timeout", "0", Value::Int(30)),
            ("node_timeout", "x", Value::Int(30)),
            ("max_concurrent_deployments", "3", Value::Int(3)),
            ("max_concurrent_deployments", "-1", Value::Int(0)),
            ("enable_http_proxy", "false", Value::Bool(false)),
            ("enable_disk_erasing_on_release", "true", Value::Bool(true)),
            ("default_storage_layout", "LVM", Value::Text("lvm".into())),
            ("default_storage_layout", "zfs", Value::Text("flat".into())),
            ("kernel_opts", "quiet", Value::Text("quiet".into())),
            (
                "default_distro_series",
                "bookworm",
                Value::Text("bookworm".into()),
            ),
        ];
        for (name, stored, want) in table {
            assert_eq!(&get(name).read(Some(stored)), want, "{name}={stored}");
        }
    }

    #[test]
    fn checks() {
        let table: &[(&str, &str, Result<&str, &str>)] = &[
            ("node_timeout", " 20 ", Ok("20")),
            (
                "node_timeout",
                "",
                Err("node_timeout is a whole number of minutes greater than 0."),
            ),
            (
                "node_timeout",
                "0",
                Err("node_timeout is a whole number of minutes greater than 0."),
            ),
            ("max_concurrent_deployments", "0", Ok("0")),
            (
                "max_concurrent_deployments",
                "-2",
                Err("max_concurrent_deployments is a whole number (0: no limit)."),
            ),
            (
                "max_concurrent_deployments",
                "",
                Err("This field is required."),
            ),
            ("enable_http_proxy", "Yes", Ok("true")),
            ("enable_http_proxy", "off", Ok("false")),
            (
                "enable_http_proxy",
                "maybe",
                Err("\"maybe\" is not a boolean"),
            ),
            ("default_storage_layout", "LVM", Ok("lvm")),
            (
                "default_storage_layout",
                "zfs",
                Err("'zfs' is not a storage layout: flat, lvm, bcache or blank."),
            ),
            ("unknown_machines", "ignore", Ok("ignore")),
            (
                "unknown_machines",
                "drop",
                Err("unknown_machines is 'enlist' (network-booting strangers enlist) or 'ignore'."),
            ),
            ("default_osystem", "", Err("This field is required.")),
            ("kernel_opts", "  ", Ok("")),
            (
                "upstream_dns",
                "8.8.8.8 2001:4860:4860::8888",
                Ok("8.8.8.8 2001:4860:4860::8888"),
            ),
            (
                "upstream_dns",
                "8.8.8.8,dns.example",
                Err("'dns.example' is not an IP address."),
            ),
            ("maas_name", "lab-a", Ok("lab-a")),
            ("http_proxy", "http://proxy:3128/", Ok("http://proxy:3128/")),
            (
                "ntp_servers",
                "ntp.example.com 10.0.0.1",
                Ok("ntp.example.com 10.0.0.1"),
            ),
        ];
        for (name, raw, want) in table {
            let got = get(name).check(raw);
            match want {
                Ok(v) => assert_eq!(got.as_deref(), Ok(*v), "{name}={raw:?}"),
                Err(m) => assert_eq!(
                    got.map_err(|e| e.to_string()),
                    Err(m.to_string()),
                    "{name}={raw:?}"
                ),
            }
        }
        assert!(get("http_proxy").check("not a url").is_err());
        assert!(get("remote_syslog").check("::::").is_err());
    }

    #[test]
    fn unknown_names_are_listed() {
        let e = find("nope").unwrap_err().to_string();
        assert!(
            e.starts_with("'nope' is not a known setting: node_timeout, "),
            "{e}"
        );
        assert!(e.ends_with("upstream_dns."), "{e}");
    }
}
