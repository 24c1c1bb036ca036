//! The region's settings (MAAS's `get_config` / `set_config` names): each one's kind, default
//! and check, written once in [`SETTINGS`] (`settings/table.rs`). The region stores what
//! [`Setting::check`] returns and reads back through [`Setting::read`]; nothing else knows a
//! setting's default.

mod forms;
mod table;

pub use forms::Form;
pub use table::{ALIASES, IPMI_WORKAROUND_FLAGS, SETTINGS, UNKNOWN_MACHINES};

use crate::storage::Layout;

/// What a setting holds, with its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A whole number from `min` up to `max` (no upper bound when None).
    Int {
        default: i64,
        min: i64,
        max: Option<i64>,
    },
    /// A TCP/UDP port MAAS's services may bind (1024-65535, not MAAS's own 5240-5270): the
    /// default, and a port of that range still allowed.
    Port(i64, Option<i64>),
    /// One of the listed whole numbers, and the default.
    IntChoice(&'static [i64], i64),
    /// `true` / `false`.
    Bool(bool),
    /// One of the storage layouts.
    StorageLayout(Layout),
    /// One of the listed words (the empty word only when listed): the words, the default, and
    /// what the choice means (for the refusal).
    OneOf(&'static [&'static str], &'static str, &'static str),
    /// Text with a default; may not be cleared.
    Text(&'static str),
    /// Text in a [`Form`] that may be cleared; its default (None: null).
    Opt {
        default: Option<&'static str>,
        form: Form,
    },
    /// Any of the listed words, as a list (null until set).
    Flags(&'static [&'static str]),
}

/// One setting.
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    pub name: &'static str,
    pub kind: Kind,
}

/// A setting's value as `get_config` answers it (MAAS's JSON types).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    List(Vec<String>),
}

/// Why a value was refused (the message is for the `value` field).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    #[error("'{name}' is not a known setting: {known}.", known = NAMES.join(", "))]
    Unknown { name: String },
    #[error("{0}")]
    Invalid(String),
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

/// MAAS's port rule: why `port` may not be bound, if it may not.
fn port_refusal(port: i64, allowed: Option<i64>) -> Option<&'static str> {
    if Some(port) == allowed {
        return None;
    }
    if !(1..=65535).contains(&port) {
        Some("Unable to change port number. Port number is not between 0 - 65535.")
    } else if port <= 1023 {
        Some("Unable to change port number. Port number is reserved for system services.")
    } else if (5240..=5270).contains(&port) {
        Some("Unable to change port number. Port number is reserved for MAAS services.")
    } else {
        None
    }
}

/// A list setting's stored words.
fn words(stored: &str) -> Vec<String> {
    stored.split_whitespace().map(str::to_string).collect()
}

impl Setting {
    /// The value in effect: what is stored when it still reads as this setting's kind, else
    /// the default.
    pub fn read(&self, stored: Option<&str>) -> Value {
        let stored = stored.map(str::trim);
        let int = stored.and_then(|v| v.parse::<i64>().ok());
        match self.kind {
            Kind::Int { default, min, max } => Value::Int(
                int.filter(|v| *v >= min && max.is_none_or(|m| *v <= m))
                    .unwrap_or(default),
            ),
            Kind::Port(d, allowed) => Value::Int(
                int.filter(|p| port_refusal(*p, allowed).is_none())
                    .unwrap_or(d),
            ),
            Kind::IntChoice(choices, d) => {
                Value::Int(int.filter(|v| choices.contains(v)).unwrap_or(d))
            }
            Kind::Bool(d) => Value::Bool(stored.map_or(d, |v| v == "true")),
            Kind::StorageLayout(d) => Value::Text(
                stored
                    .and_then(Layout::parse)
                    .unwrap_or(d)
                    .as_str()
                    .to_string(),
            ),
            Kind::OneOf(choices, d, _) => Value::Text(
                stored
                    .filter(|v| choices.contains(v))
                    .unwrap_or(d)
                    .to_string(),
            ),
            Kind::Text(d) => Value::Text(stored.filter(|v| !v.is_empty()).unwrap_or(d).to_string()),
            Kind::Opt { default, form } => match stored {
                Some("") if form == Form::Syslog => Value::Null,
                Some(v) => Value::Text(v.to_string()),
                None => default.map_or(Value::Null, |d| Value::Text(d.to_string())),
            },
            Kind::Flags(_) => stored.map_or(Value::Null, |v| Value::List(words(v))),
        }
    }

    /// The default as it would be stored (None for a null default).
    pub fn default_text(&self) -> Option<String> {
        match self.kind {
            Kind::Int { default: d, .. } | Kind::Port(d, _) | Kind::IntChoice(_, d) => {
                Some(d.to_string())
            }
            Kind::Bool(d) => Some(d.to_string()),
            Kind::StorageLayout(d) => Some(d.as_str().to_string()),
            Kind::OneOf(_, d, _) | Kind::Text(d) => Some(d.to_string()),
            Kind::Opt { default, .. } => default.map(str::to_string),
            Kind::Flags(_) => None,
        }
    }

    /// The text to store for `raw`, or why it is refused.
    pub fn check(&self, raw: &str) -> Result<String, SettingError> {
        let value = raw.trim();
        let name = self.name;
        let bad = |m: String| Err(SettingError::Invalid(m));
        // Only cleared text and lists, and a choice that lists the empty word, may be empty.
        let may_be_empty = match self.kind {
            Kind::Opt { .. } | Kind::Flags(_) => true,
            Kind::OneOf(choices, _, _) => choices.contains(&""),
            _ => false,
        };
        if value.is_empty() && !may_be_empty {
            return bad("This field is required.".into());
        }
        match self.kind {
            Kind::Int { min, max, .. } => match value.parse::<i64>() {
                Ok(v) if v >= min && max.is_none_or(|m| v <= m) => Ok(v.to_string()),
                _ => bad(match max {
                    Some(max) => format!("{name} is a whole number from {min} to {max}."),
                    None => format!("{name} is a whole number, {min} or more."),
                }),
            },
            Kind::Port(_, allowed) => match value.parse::<i64>() {
                Ok(p) => match port_refusal(p, allowed) {
                    None => Ok(p.to_string()),
                    Some(why) => bad(why.into()),
                },
                Err(_) => bad(format!("{name} is a port number.")),
            },
            Kind::IntChoice(choices, _) => match value.parse::<i64>() {
                Ok(v) if choices.contains(&v) => Ok(v.to_string()),
                _ => {
                    let list: Vec<String> = choices.iter().map(i64::to_string).collect();
                    bad(format!("{name} is one of {}.", list.join(", ")))
                }
            },
            Kind::Text(_) => Ok(value.to_string()),
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
            Kind::OneOf(choices, _, means) => {
                if choices.contains(&value) {
                    Ok(value.to_string())
                } else {
                    bad(format!("{name} is {means}."))
                }
            }
            Kind::Opt { form, .. } => form.check(value).map_err(SettingError::Invalid),
            Kind::Flags(choices) => {
                let given: Vec<&str> = value
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|w| !w.is_empty())
                    .collect();
                match given.iter().find(|w| !choices.contains(w)) {
                    None => Ok(given.join(" ")),
                    Some(w) => bad(format!(
                        "'{w}' is not one of the choices: {}.",
                        choices.join(", ")
                    )),
                }
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

    fn text(t: &str) -> Value {
        Value::Text(t.into())
    }

    #[test]
    fn defaults_are_maas_defaults() {
        let table: &[(&str, Value)] = &[
            ("node_timeout", Value::Int(30)),
            ("default_distro_series", text("jammy")),
            ("default_osystem", text("ubuntu")),
            ("unknown_machines", text("enlist")),
            ("max_concurrent_deployments", Value::Int(0)),
            ("enable_disk_erasing_on_release", Value::Bool(false)),
            ("disk_erase_with_secure_erase", Value::Bool(true)),
            ("disk_erase_with_quick_erase", Value::Bool(false)),
            ("default_storage_layout", text("flat")),
            ("kernel_opts", Value::Null),
            ("ntp_servers", text("ntp.ubuntu.com")),
            ("ntp_external_only", Value::Bool(false)),
            ("http_proxy", Value::Null),
            ("enable_http_proxy", Value::Bool(true)),
            ("use_peer_proxy", Value::Bool(false)),
            ("maas_proxy_port", Value::Int(8000)),
            ("main_archive", text("http://archive.ubuntu.com/ubuntu")),
            (
                "ports_archive",
                text("http://ports.ubuntu.com/ubuntu-ports"),
            ),
            ("maas_name", text("maas")),
            ("upstream_dns", Value::Null),
            ("remote_syslog", Value::Null),
            ("maas_syslog_port", Value::Int(5247)),
            ("default_dns_ttl", Value::Int(30)),
            ("dnssec_validation", text("auto")),
            ("maas_internal_domain", text("maas-internal")),
            ("dns_trusted_acl", Value::Null),
            ("active_discovery_interval", Value::Int(10_800)),
            ("network_discovery", text("enabled")),
            ("default_boot_interface_link_type", text("auto")),
            ("default_min_hwe_kernel", text("")),
            ("commissioning_distro_series", text("jammy")),
            ("enable_third_party_drivers", Value::Bool(true)),
            ("curtin_verbose", Value::Bool(true)),
            ("enable_kernel_crash_dump", Value::Bool(false)),
            ("completed_intro", Value::Bool(false)),
            ("max_node_installation_results", Value::Int(3)),
            ("maas_auto_ipmi_user", text("maas")),
            ("maas_auto_ipmi_user_privilege_level", text("ADMIN")),
            ("maas_auto_ipmi_k_g_bmc_key", text("")),
            ("maas_auto_ipmi_cipher_suite_id", text("3")),
            ("maas_auto_ipmi_workaround_flags", Value::Null),
            ("hardware_sync_interval", text("15m")),
            ("windows_kms_host", Value::Null),
            ("vcenter_server", text("")),
            ("prometheus_push_gateway", Value::Null),
            ("prometheus_push_interval", Value::Int(60)),
            ("promtail_port", Value::Int(5238)),
            ("session_length", Value::Int(1_209_600)),
            ("tls_cert_expiration_notification_interval", Value::Int(30)),
            ("theme", text("")),
            ("auto_vlan_creation", Value::Bool(true)),
        ];
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
            ("session_length", "5", Value::Int(1_209_600)),
            ("maas_proxy_port", "3128", Value::Int(3128)),
            ("maas_proxy_port", "5250", Value::Int(8000)),
            ("active_discovery_interval", "600", Value::Int(600)),
            ("active_discovery_interval", "601", Value::Int(10_800)),
            ("enable_http_proxy", "false", Value::Bool(false)),
            ("enable_disk_erasing_on_release", "true", Value::Bool(true)),
            ("default_storage_layout", "LVM", text("lvm")),
            ("default_storage_layout", "zfs", text("flat")),
            ("dnssec_validation", "no", text("no")),
            ("dnssec_validation", "maybe", text("auto")),
            ("maas_auto_ipmi_cipher_suite_id", "", text("")),
            ("kernel_opts", "quiet", text("quiet")),
            ("kernel_opts", "", text("")),
            ("remote_syslog", "", Value::Null),
            ("ntp_servers", "", text("")),
            ("default_distro_series", "bookworm", text("bookworm")),
            (
                "maas_auto_ipmi_workaround_flags",
                "opensesspriv authcap",
                Value::List(vec!["opensesspriv".into(), "authcap".into()]),
            ),
            ("maas_auto_ipmi_workaround_flags", "", Value::List(vec![])),
        ];
        for (name, stored, want) in table {
            assert_eq!(&get(name).read(Some(stored)), want, "{name}={stored}");
        }
    }

    #[test]
    fn checks() {
        let table: &[(&str, &str, Result<&str, &str>)] = &[
            ("node_timeout", " 20 ", Ok("20")),
            ("node_timeout", "", Err("This field is required.")),
            (
                "node_timeout",
                "0",
                Err("node_timeout is a whole number, 1 or more."),
            ),
            ("max_concurrent_deployments", "0", Ok("0")),
            (
                "max_concurrent_deployments",
                "-2",
                Err("max_concurrent_deployments is a whole number, 0 or more."),
            ),
            ("session_length", "10", Ok("10")),
            (
                "session_length",
                "1209601",
                Err("session_length is a whole number from 10 to 1209600."),
            ),
            (
                "tls_cert_expiration_notification_interval",
                "91",
                Err("tls_cert_expiration_notification_interval is a whole number from 1 to 90."),
            ),
            (
                "max_node_testing_results",
                "ten",
                Err("max_node_testing_results is a whole number, 1 or more."),
            ),
            ("maas_proxy_port", "3128", Ok("3128")),
            (
                "maas_proxy_port",
                "80",
                Err("Unable to change port number. Port number is reserved for system services."),
            ),
            (
                "maas_proxy_port",
                "5248",
                Err("Unable to change port number. Port number is reserved for MAAS services."),
            ),
            (
                "maas_proxy_port",
                "70000",
                Err("Unable to change port number. Port number is not between 0 - 65535."),
            ),
            ("maas_syslog_port", "5247", Ok("5247")),
            (
                "maas_syslog_port",
                "5248",
                Err("Unable to change port number. Port number is reserved for MAAS services."),
            ),
            ("active_discovery_interval", "3600", Ok("3600")),
            (
                "active_discovery_interval",
                "3601",
                Err("active_discovery_interval is one of 0, 604800, 86400, 43200, 21600, 10800, 3600, 1800, 600."),
            ),
            ("enable_http_proxy", "Yes", Ok("true")),
            ("ntp_external_only", "off", Ok("false")),
            (
                "curtin_verbose",
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
            ("dnssec_validation", "yes", Ok("yes")),
            ("dnssec_validation", "", Err("This field is required.")),
            (
                "default_boot_interface_link_type",
                "manual",
                Err("default_boot_interface_link_type is 'auto', 'dhcp', 'static' or 'link_up'."),
            ),
            ("maas_auto_ipmi_cipher_suite_id", "", Ok("")),
            ("maas_auto_ipmi_cipher_suite_id", "17", Ok("17")),
            (
                "maas_auto_ipmi_user_privilege_level",
                "root",
                Err("maas_auto_ipmi_user_privilege_level is 'USER', 'OPERATOR' or 'ADMIN'."),
            ),
            (
                "maas_auto_ipmi_workaround_flags",
                "opensesspriv, authcap",
                Ok("opensesspriv authcap"),
            ),
            ("maas_auto_ipmi_workaround_flags", "", Ok("")),
            (
                "maas_auto_ipmi_workaround_flags",
                "magic",
                Err("'magic' is not one of the choices: opensesspriv, authcap, idzero, unexpectedauth, forcepermsg, endianseq, intel20, supermicro20, sun20, nochecksumcheck, integritycheckvalue, ipmiping."),
            ),
            (
                "maas_auto_ipmi_user",
                "a-very-long-ipmi-user-name",
                Err("Ensure this value has at most 20 characters (it has 26)."),
            ),
            ("default_osystem", "", Err("This field is required.")),
            ("kernel_opts", "  ", Ok("")),
            (
                "upstream_dns",
                "8.8.8.8, 2001:4860:4860::8888",
                Ok("8.8.8.8 2001:4860:4860::8888"),
            ),
            (
                "upstream_dns",
                "8.8.8.8,dns.example",
                Err("Invalid IP address: dns.example; provide a list of space-separated IP addresses."),
            ),
            (
                "dns_trusted_acl",
                "10.0.0.0/8,172.16.0.1",
                Ok("10.0.0.0/8 172.16.0.1"),
            ),
            ("maas_name", "lab-a", Ok("lab-a")),
            ("maas_name", "", Err("This field is required.")),
            ("http_proxy", "http://proxy:3128/", Ok("http://proxy:3128/")),
            (
                "http_proxy",
                "ftp://proxy/",
                Err("'ftp://proxy/' is not an http:// or https:// URL."),
            ),
            ("ports_archive", "http://ports.example/", Ok("http://ports.example/")),
            ("remote_syslog", "10.0.0.5", Ok("10.0.0.5:514")),
            (
                "ntp_servers",
                "ntp.example.com, 10.0.0.1",
                Ok("ntp.example.com 10.0.0.1"),
            ),
            ("ntp_server", "10.0.0.1", Ok("10.0.0.1")),
            ("hardware_sync_interval", "1h", Ok("1h")),
            ("default_min_hwe_kernel", "hwe-22.04", Ok("hwe-22.04")),
            ("default_min_hwe_kernel", "", Ok("")),
            (
                "maas_internal_domain",
                "bad domain",
                Err("Invalid domain name: bad domain."),
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
        assert!(get("remote_syslog").check("::::").is_err());
    }

    #[test]
    fn checked_values_read_back_as_maas_types() {
        let table: &[(&str, &str, Value)] = &[
            ("promtail_port", "9080", Value::Int(9080)),
            ("prometheus_enabled", "1", Value::Bool(true)),
            ("remote_syslog", "", Value::Null),
            ("remote_syslog", "logs", text("logs:514")),
            ("upstream_dns", "1.1.1.1,8.8.8.8", text("1.1.1.1 8.8.8.8")),
            (
                "maas_auto_ipmi_workaround_flags",
                "idzero",
                Value::List(vec!["idzero".into()]),
            ),
        ];
        for (name, raw, want) in table {
            let s = get(name);
            let stored = s.check(raw).unwrap();
            assert_eq!(&s.read(Some(&stored)), want, "{name}={raw:?}");
        }
    }

    #[test]
    fn unknown_names_are_listed() {
        let e = find("nope").unwrap_err().to_string();
        assert!(
            e.starts_with("'nope' is not a known setting: node_timeout, "),
            "{e}"
        );
        assert!(e.contains(", ntp_external_only, "), "{e}");
    }
}
