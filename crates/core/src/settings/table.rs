//! The table: every setting `get_config` / `set_config` know, with its kind and default.
//! MAAS's names, defaults and checks come from MAAS 3.7's `CONFIG_ITEMS`
//! (`maasserver/forms/settings.py`), its `get_default_config` (`maasserver/models/config.py`,
//! the defaults `get_config` answers) and the two archive names its API keeps
//! (`main_archive`, `ports_archive`). `unknown_machines`, `max_concurrent_deployments` and
//! `dns_notify` are Ingot's own; `upstream_dns` also takes a port (`address:port`).

use super::{Form, Kind, Setting};
use crate::storage::Layout;

pub const UNKNOWN_MACHINES: &[&str] = &["enlist", "ignore"];
const DNSSEC: &[&str] = &["auto", "yes", "no"];
const NETWORK_DISCOVERY: &[&str] = &["enabled", "disabled"];
const LINK_TYPES: &[&str] = &["auto", "dhcp", "static", "link_up"];
const IPMI_PRIVILEGE: &[&str] = &["USER", "OPERATOR", "ADMIN"];
const IPMI_CIPHER_SUITES: &[&str] = &["17", "3", "", "8", "12"];
/// `ipmipower -W` flags.
pub const IPMI_WORKAROUND_FLAGS: &[&str] = &[
    "opensesspriv",
    "authcap",
    "idzero",
    "unexpectedauth",
    "forcepermsg",
    "endianseq",
    "intel20",
    "supermicro20",
    "sun20",
    "nochecksumcheck",
    "integritycheckvalue",
    "ipmiping",
];
/// Seconds: never, every week, day, 12, 6, 3 and 1 hours, 30 and 10 minutes.
const DISCOVERY_INTERVALS: &[i64] = &[
    0, 604_800, 86_400, 43_200, 21_600, 10_800, 3_600, 1_800, 600,
];

const fn s(name: &'static str, kind: Kind) -> Setting {
    Setting { name, kind }
}

const fn int(default: i64, min: i64, max: Option<i64>) -> Kind {
    Kind::Int { default, min, max }
}

const fn text(default: Option<&'static str>, form: Form) -> Kind {
    Kind::Opt { default, form }
}

/// Every setting, in the order `set_config` lists them in its error.
pub const SETTINGS: &[Setting] = &[
    // Ingot's first ones, in their old order.
    s("node_timeout", int(30, 1, None)),
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
    s("max_concurrent_deployments", int(0, 0, None)),
    s("enable_disk_erasing_on_release", Kind::Bool(false)),
    s("disk_erase_with_secure_erase", Kind::Bool(true)),
    s("disk_erase_with_quick_erase", Kind::Bool(false)),
    s("default_storage_layout", Kind::StorageLayout(Layout::Flat)),
    s("kernel_opts", text(None, Form::Any)),
    s("ntp_servers", text(Some("ntp.ubuntu.com"), Form::HostList)),
    s("http_proxy", text(None, Form::HttpUrl)),
    s("enable_http_proxy", Kind::Bool(true)),
    s(
        "main_archive",
        text(Some("http://archive.ubuntu.com/ubuntu"), Form::HttpUrl),
    ),
    s("remote_syslog", text(None, Form::Syslog)),
    s("maas_name", Kind::Text("maas")),
    s("upstream_dns", text(None, Form::ServerList)),
    // Proxy.
    s(
        "ports_archive",
        text(Some("http://ports.ubuntu.com/ubuntu-ports"), Form::HttpUrl),
    ),
    s("maas_proxy_port", Kind::Port(8000, None)),
    s("use_peer_proxy", Kind::Bool(false)),
    s("prefer_v4_proxy", Kind::Bool(false)),
    s("boot_images_no_proxy", Kind::Bool(false)),
    // NTP and syslog.
    s("ntp_external_only", Kind::Bool(false)),
    s("maas_syslog_port", Kind::Port(5247, Some(5247))),
    // DNS.
    s("default_dns_ttl", int(30, 0, None)),
    s(
        "dnssec_validation",
        Kind::OneOf(DNSSEC, "auto", "'auto', 'yes' or 'no'"),
    ),
    s(
        "maas_internal_domain",
        text(Some("maas-internal"), Form::Domain),
    ),
    s("dns_trusted_acl", text(None, Form::AclList)),
    // Ingot's own: the secondaries the racks send a NOTIFY to when a zone changes.
    s("dns_notify", text(None, Form::ServerList)),
    s("windows_kms_host", text(None, Form::Any)),
    // Networks.
    s(
        "network_discovery",
        Kind::OneOf(NETWORK_DISCOVERY, "enabled", "'enabled' or 'disabled'"),
    ),
    s(
        "active_discovery_interval",
        Kind::IntChoice(DISCOVERY_INTERVALS, 10_800),
    ),
    s(
        "default_boot_interface_link_type",
        Kind::OneOf(LINK_TYPES, "auto", "'auto', 'dhcp', 'static' or 'link_up'"),
    ),
    s("auto_vlan_creation", Kind::Bool(true)),
    s("force_v1_network_yaml", Kind::Bool(false)),
    s("use_rack_proxy", Kind::Bool(true)),
    s("subnet_ip_exhaustion_threshold_count", int(16, 1, None)),
    // Commissioning and deployment.
    s("commissioning_distro_series", Kind::Text("jammy")),
    s("default_min_hwe_kernel", text(Some(""), Form::HweKernel)),
    s("enlist_commissioning", Kind::Bool(true)),
    s("enable_kernel_crash_dump", Kind::Bool(false)),
    s("enable_third_party_drivers", Kind::Bool(true)),
    s("curtin_verbose", Kind::Bool(true)),
    s("hardware_sync_interval", text(Some("15m"), Form::Interval)),
    s("max_node_commissioning_results", int(10, 1, None)),
    s("max_node_testing_results", int(10, 1, None)),
    s("max_node_installation_results", int(3, 1, None)),
    s("max_node_release_results", int(3, 1, None)),
    // Images.
    s("boot_images_auto_import", Kind::Bool(true)),
    // IPMI BMCs that commissioning configures.
    s("maas_auto_ipmi_user", text(Some("maas"), Form::MaxLen(20))),
    s(
        "maas_auto_ipmi_user_privilege_level",
        Kind::OneOf(IPMI_PRIVILEGE, "ADMIN", "'USER', 'OPERATOR' or 'ADMIN'"),
    ),
    s("maas_auto_ipmi_k_g_bmc_key", text(Some(""), Form::KgKey)),
    s(
        "maas_auto_ipmi_cipher_suite_id",
        Kind::OneOf(IPMI_CIPHER_SUITES, "3", "'17', '3', '8', '12' or empty"),
    ),
    s(
        "maas_auto_ipmi_workaround_flags",
        Kind::Flags(IPMI_WORKAROUND_FLAGS),
    ),
    // VMware vCenter, handed to deployed ESXi hosts.
    s("vcenter_server", text(Some(""), Form::Any)),
    s("vcenter_username", text(Some(""), Form::Any)),
    s("vcenter_password", text(Some(""), Form::Any)),
    s("vcenter_datacenter", text(Some(""), Form::Any)),
    // Monitoring.
    s("prometheus_enabled", Kind::Bool(false)),
    s("prometheus_push_gateway", text(None, Form::Any)),
    s("prometheus_push_interval", int(60, 1, None)),
    s("promtail_enabled", Kind::Bool(false)),
    s("promtail_port", int(5238, 1, Some(65_535))),
    // The web UI, sessions and notifications.
    s("theme", text(Some(""), Form::Any)),
    s("enable_analytics", Kind::Bool(true)),
    s("completed_intro", Kind::Bool(false)),
    s("release_notifications", Kind::Bool(true)),
    s("session_length", int(1_209_600, 10, Some(1_209_600))),
    s(
        "tls_cert_expiration_notification_enabled",
        Kind::Bool(false),
    ),
    s(
        "tls_cert_expiration_notification_interval",
        int(30, 1, Some(90)),
    ),
];

/// Older names MAAS still answers to, and the setting each one is.
pub const ALIASES: &[(&str, &str)] = &[("ntp_server", "ntp_servers")];

#[cfg(test)]
mod tests {
    use super::*;

    /// MAAS 3.7's `CONFIG_ITEMS` names, then the archives its API keeps answering for.
    const MAAS_NAMES: &[&str] = &[
        "maas_name",
        "theme",
        "kernel_opts",
        "enable_http_proxy",
        "maas_proxy_port",
        "use_peer_proxy",
        "prefer_v4_proxy",
        "http_proxy",
        "default_dns_ttl",
        "upstream_dns",
        "dnssec_validation",
        "maas_internal_domain",
        "dns_trusted_acl",
        "ntp_servers",
        "ntp_external_only",
        "remote_syslog",
        "maas_syslog_port",
        "network_discovery",
        "active_discovery_interval",
        "default_boot_interface_link_type",
        "default_osystem",
        "default_distro_series",
        "default_min_hwe_kernel",
        "enable_kernel_crash_dump",
        "default_storage_layout",
        "commissioning_distro_series",
        "enable_third_party_drivers",
        "windows_kms_host",
        "enable_disk_erasing_on_release",
        "disk_erase_with_secure_erase",
        "disk_erase_with_quick_erase",
        "boot_images_auto_import",
        "boot_images_no_proxy",
        "curtin_verbose",
        "force_v1_network_yaml",
        "enable_analytics",
        "completed_intro",
        "max_node_commissioning_results",
        "max_node_testing_results",
        "max_node_installation_results",
        "max_node_release_results",
        "subnet_ip_exhaustion_threshold_count",
        "release_notifications",
        "use_rack_proxy",
        "node_timeout",
        "prometheus_enabled",
        "prometheus_push_gateway",
        "prometheus_push_interval",
        "promtail_enabled",
        "promtail_port",
        "enlist_commissioning",
        "maas_auto_ipmi_user",
        "maas_auto_ipmi_user_privilege_level",
        "maas_auto_ipmi_k_g_bmc_key",
        "maas_auto_ipmi_cipher_suite_id",
        "maas_auto_ipmi_workaround_flags",
        "vcenter_server",
        "vcenter_username",
        "vcenter_password",
        "vcenter_datacenter",
        "hardware_sync_interval",
        "tls_cert_expiration_notification_enabled",
        "tls_cert_expiration_notification_interval",
        "session_length",
        "auto_vlan_creation",
        // MaasHandler's migrated values.
        "main_archive",
        "ports_archive",
    ];

    #[test]
    fn the_table_holds_every_maas_name_once() {
        for name in MAAS_NAMES {
            assert!(
                SETTINGS.iter().any(|s| s.name == *name),
                "{name} is missing"
            );
        }
        for (i, a) in SETTINGS.iter().enumerate() {
            assert!(
                SETTINGS[i + 1..].iter().all(|b| b.name != a.name),
                "{} twice",
                a.name
            );
        }
        // Beyond MAAS's: Ingot's own three.
        let own: Vec<&str> = SETTINGS
            .iter()
            .map(|s| s.name)
            .filter(|n| !MAAS_NAMES.contains(n))
            .collect();
        assert_eq!(
            own,
            [
                "unknown_machines",
                "max_concurrent_deployments",
                "dns_notify"
            ]
        );
        for (alias, real) in ALIASES {
            assert!(SETTINGS.iter().any(|s| s.name == *real), "{alias}");
        }
    }

    #[test]
    fn every_default_passes_its_own_check() {
        for s in SETTINGS {
            if let Some(d) = s.default_text() {
                assert_eq!(s.check(&d).as_deref(), Ok(d.as_str()), "{}", s.name);
            }
        }
    }
}
