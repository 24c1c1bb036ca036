//! The parameters each driver takes, by MAAS's names, published at `/MAAS/api/2.0/power-types/`
//! and used to validate create/update requests, fill defaults, and know which fields are secret.

use crate::Params;
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    String,
    Password,
    Choice,
    Mac,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Shared by every machine behind the BMC.
    Bmc,
    /// Specific to this machine.
    Node,
}

#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub required: bool,
    pub field_type: FieldType,
    /// (value, label)
    pub choices: &'static [(&'static str, &'static str)],
    pub default: &'static str,
    pub scope: Scope,
}

const fn f(
    name: &'static str,
    label: &'static str,
    required: bool,
    field_type: FieldType,
    default: &'static str,
) -> Field {
    Field {
        name,
        label,
        required,
        field_type,
        choices: &[],
        default,
        scope: Scope::Bmc,
    }
}

const fn choice(
    name: &'static str,
    label: &'static str,
    choices: &'static [(&'static str, &'static str)],
    default: &'static str,
) -> Field {
    Field {
        name,
        label,
        required: false,
        field_type: FieldType::Choice,
        choices,
        default,
        scope: Scope::Bmc,
    }
}

const fn node(mut fl: Field) -> Field {
    fl.scope = Scope::Node;
    fl
}

#[derive(Debug, Clone, Serialize)]
pub struct DriverInfo {
    pub name: &'static str,
    pub description: &'static str,
    /// The driver can report the power state (the power monitor polls it).
    pub queryable: bool,
    pub fields: &'static [Field],
}

const IPMI_FIELDS: &[Field] = &[
    choice(
        "power_driver",
        "Power driver",
        &[("LAN", "LAN [IPMI 1.5]"), ("LAN_2_0", "LAN_2_0 [IPMI 2.0]")],
        "LAN_2_0",
    ),
    f(
        "power_address",
        "IP address (host or host:port)",
        true,
        FieldType::String,
        "",
    ),
    f("power_user", "Power user", false, FieldType::String, ""),
    f(
        "power_pass",
        "Power password",
        false,
        FieldType::Password,
        "",
    ),
    f("k_g", "K_g BMC key", false, FieldType::Password, ""),
    choice(
        "cipher_suite_id",
        "Cipher suite ID",
        &[
            ("17", "17 - HMAC-SHA256::HMAC_SHA256_128::AES-CBC-128"),
            ("3", "3 - HMAC-SHA1::HMAC-SHA1-96::AES-CBC-128"),
            ("2", "2 - HMAC-SHA1::HMAC-SHA1-96::none"),
            ("1", "1 - HMAC-SHA1::none::none"),
            ("0", "0 - none::none::none"),
            ("", "automatic"),
        ],
        "3",
    ),
    choice(
        "privilege_level",
        "Privilege level",
        &[
            ("USER", "User"),
            ("OPERATOR", "Operator"),
            ("ADMIN", "Administrator"),
        ],
        "OPERATOR",
    ),
    node(f("mac_address", "Power MAC", false, FieldType::Mac, "")),
];

const REDFISH_FIELDS: &[Field] = &[
    f(
        "power_address",
        "Redfish address (http[s]://host[:port])",
        true,
        FieldType::String,
        "",
    ),
    f("power_user", "Redfish user", false, FieldType::String, ""),
    f(
        "power_pass",
        "Redfish password",
        false,
        FieldType::Password,
        "",
    ),
    choice(
        "power_verify_ssl",
        "Verify TLS certificate",
        &[("n", "No"), ("y", "Yes")],
        "n",
    ),
    node(f(
        "node_id",
        "Node ID (system in /redfish/v1/Systems/)",
        false,
        FieldType::String,
        "",
    )),
];

const WEBHOOK_FIELDS: &[Field] = &[
    f(
        "power_on_uri",
        "URI to power on the node",
        true,
        FieldType::String,
        "",
    ),
    f(
        "power_off_uri",
        "URI to power off the node",
        true,
        FieldType::String,
        "",
    ),
    f(
        "power_query_uri",
        "URI to query the node's power status",
        false,
        FieldType::String,
        "",
    ),
    f(
        "power_on_regex",
        "Regex to confirm the node is on",
        false,
        FieldType::String,
        r"status.*\:.*running",
    ),
    f(
        "power_off_regex",
        "Regex to confirm the node is off",
        false,
        FieldType::String,
        r"status.*\:.*stopped",
    ),
    f("power_user", "Power user", false, FieldType::String, ""),
    f(
        "power_pass",
        "Power password",
        false,
        FieldType::Password,
        "",
    ),
    f(
        "power_token",
        "Power token (Authorization: Bearer)",
        false,
        FieldType::Password,
        "",
    ),
    choice(
        "power_verify_ssl",
        "Verify TLS certificate",
        &[("n", "No"), ("y", "Yes")],
        "n",
    ),
];

const QEMU_FIELDS: &[Field] = &[f(
    "power_address",
    "QMP socket (unix path, or host:port)",
    true,
    FieldType::String,
    "",
)];

/// Every driver Ingot has.
pub const DRIVERS: &[DriverInfo] = &[
    DriverInfo {
        name: "ipmi",
        description: "IPMI",
        queryable: true,
        fields: IPMI_FIELDS,
    },
    DriverInfo {
        name: "redfish",
        description: "Redfish",
        queryable: true,
        fields: REDFISH_FIELDS,
    },
    DriverInfo {
        name: "webhook",
        description: "Webhook",
        queryable: true,
        fields: WEBHOOK_FIELDS,
    },
    DriverInfo {
        name: "manual",
        description: "Manual",
        queryable: false,
        fields: &[],
    },
    DriverInfo {
        name: "qemu",
        description: "QEMU (QMP socket)",
        queryable: true,
        fields: QEMU_FIELDS,
    },
];

pub fn driver(name: &str) -> Option<&'static DriverInfo> {
    DRIVERS.iter().find(|d| d.name == name)
}

/// The driver can report power state (and so is monitored, and flows wait for its state).
pub fn queryable(power_type: &str) -> bool {
    driver(power_type).is_some_and(|d| d.queryable)
}

/// Names of the secret fields of a driver.
pub fn secret_fields(power_type: &str) -> Vec<&'static str> {
    driver(power_type)
        .map(|d| {
            d.fields
                .iter()
                .filter(|f| f.field_type == FieldType::Password)
                .map(|f| f.name)
                .collect()
        })
        .unwrap_or_default()
}

/// The power-types document in MAAS's shape.
pub fn power_types_json() -> Value {
    Value::Array(
        DRIVERS
            .iter()
            .map(|d| {
                let fields: Vec<Value> = d
                    .fields
                    .iter()
                    .map(|f| {
                        json!({
                            "name": f.name, "label": f.label, "required": f.required,
                            "field_type": f.field_type, "default": f.default, "scope": f.scope,
                            "choices": f.choices.iter().map(|(v, l)| json!([v, l])).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                json!({"name": d.name, "description": d.description, "queryable": d.queryable, "fields": fields, "missing_packages": [], "chassis": false, "can_probe": false})
            })
            .collect(),
    )
}

fn host_port_ok(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.starts_with('[') => {
            (h.trim_matches(|c| c == '[' || c == ']'), Some(p))
        }
        _ => (s, None),
    };
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c))
        && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0))
}

fn url_ok(s: &str) -> bool {
    (s.starts_with("http://") || s.starts_with("https://"))
        && s.len() > 8
        && !s.contains(char::is_whitespace)
}

/// Validate `params` for `power_type`: unknown keys, missing required ones, bad choices and
/// malformed addresses are refused with (field, message) pairs. Defaults are filled in.
pub fn validate(power_type: &str, params: &Params) -> Result<Params, Vec<(String, String)>> {
    let Some(d) = driver(power_type) else {
        return Err(vec![(
            "power_type".into(),
            format!("Select a valid choice. {power_type} is not one of the available choices."),
        )]);
    };
    let mut errs = Vec::new();
    let mut out = Params::new();
    for k in params.keys() {
        if !d.fields.iter().any(|f| f.name == k) {
            let known: Vec<&str> = d.fields.iter().map(|f| f.name).collect();
            let hint = if known.is_empty() {
                "it takes none".to_string()
            } else {
                format!("known: {}", known.join(", "))
            };
            errs.push((
                format!("power_parameters_{k}"),
                format!("'{k}' is not a parameter of the {power_type} power type ({hint})."),
            ));
        }
    }
    for f in d.fields {
        let given = params.get(f.name).map(|v| match v {
            Value::String(s) => s.trim().to_string(),
            Value::Null => String::new(),
            other => other.to_string(),
        });
        let v = given
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| f.default.to_string());
        let key = format!("power_parameters_{}", f.name);
        if f.required && v.is_empty() {
            errs.push((key, "This field is required.".into()));
            continue;
        }
        if f.field_type == FieldType::Choice && !f.choices.iter().any(|(c, _)| *c == v) {
            let ok: Vec<&str> = f
                .choices
                .iter()
                .map(|(c, _)| *c)
                .filter(|c| !c.is_empty())
                .collect();
            errs.push((
                key,
                format!(
                    "Select a valid choice. '{v}' is not one of: {}.",
                    ok.join(", ")
                ),
            ));
            continue;
        }
        if !v.is_empty() {
            let bad = match (power_type, f.name) {
                ("ipmi", "power_address") => !host_port_ok(&v),
                ("redfish", "power_address")
                | ("webhook", "power_on_uri" | "power_off_uri" | "power_query_uri") => !url_ok(&v),
                ("webhook", "power_on_regex" | "power_off_regex") => regex::Regex::new(&v).is_err(),
                (_, "mac_address") => !is_mac(&v),
                _ => false,
            };
            if bad {
                errs.push((
                    key,
                    format!("'{v}' is not a valid {}.", f.label.to_lowercase()),
                ));
                continue;
            }
        }
        out.insert(f.name.to_string(), Value::String(v));
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(kv: &[(&str, &str)]) -> Params {
        kv.iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect()
    }

    #[test]
    fn ipmi_defaults_and_errors() {
        let ok = validate(
            "ipmi",
            &p(&[
                ("power_address", "10.0.0.5:623"),
                ("power_user", "admin"),
                ("power_pass", "pw"),
            ]),
        )
        .unwrap();
        assert_eq!(ok["power_driver"], "LAN_2_0");
        assert_eq!(ok["cipher_suite_id"], "3");
        assert_eq!(ok["privilege_level"], "OPERATOR");
        let e = validate("ipmi", &p(&[("power_driver", "LAN_3"), ("powr_user", "x")])).unwrap_err();
        let fields: Vec<&str> = e.iter().map(|(f, _)| f.as_str()).collect();
        assert!(fields.contains(&"power_parameters_power_driver"), "{e:?}");
        assert!(fields.contains(&"power_parameters_power_address"), "{e:?}");
        assert!(fields.contains(&"power_parameters_powr_user"), "{e:?}");
        assert!(validate("ipmi", &p(&[("power_address", "bad host!")])).is_err());
        assert!(validate("ipmi", &p(&[("power_address", "h:99999")])).is_err());
    }

    #[test]
    fn other_drivers() {
        assert!(validate("redfish", &p(&[("power_address", "https://10.0.0.9")])).is_ok());
        assert!(validate("redfish", &p(&[("power_address", "10.0.0.9")])).is_err());
        assert!(validate(
            "webhook",
            &p(&[
                ("power_on_uri", "http://x/on"),
                ("power_off_uri", "http://x/off"),
                ("power_on_regex", "(")
            ])
        )
        .is_err());
        assert!(validate("manual", &p(&[])).is_ok());
        assert!(validate("manual", &p(&[("power_address", "x")])).is_err());
        assert!(validate("telepathy", &p(&[])).is_err());
        assert_eq!(secret_fields("webhook"), vec!["power_pass", "power_token"]);
        assert!(queryable("ipmi") && !queryable("manual"));
        assert_eq!(
            power_types_json().as_array().map(Vec::len),
            Some(DRIVERS.len())
        );
    }
}
