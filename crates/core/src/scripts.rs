//! Commissioning and testing scripts: the embedded metadata header (spec §5.2), result
//! statuses and their aggregation (§5.3-5.4), and the built-in scripts `ingot-agent` runs.
//!
//! A user script carries its metadata as YAML between two marker lines, every line commented:
//!
//! ```text
//! #!/bin/sh
//! # --- Start MAAS 1.0 script metadata ---
//! # name: check-raid
//! # script_type: commissioning
//! # timeout: 00:05:00
//! # --- End MAAS 1.0 script metadata ---
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use yaml_rust2::{Yaml, YamlLoader};

pub const START_MARKER: &str = "--- Start MAAS 1.0 script metadata ---";
pub const END_MARKER: &str = "--- End MAAS 1.0 script metadata ---";

/// Why a script (or its metadata) was refused; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ScriptError {
    pub field: String,
    pub message: String,
}

fn err(field: &str, message: impl Into<String>) -> ScriptError {
    ScriptError {
        field: field.to_string(),
        message: message.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum ScriptType {
    Commissioning,
    Testing,
    Release,
    Deployment,
}

impl ScriptType {
    /// MAAS's numbers: commissioning 0, testing 2, release 3, deployment 4.
    pub fn number(self) -> i64 {
        match self {
            ScriptType::Commissioning => 0,
            ScriptType::Testing => 2,
            ScriptType::Release => 3,
            ScriptType::Deployment => 4,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            ScriptType::Commissioning => "commissioning",
            ScriptType::Testing => "testing",
            ScriptType::Release => "release",
            ScriptType::Deployment => "deployment",
        }
    }
    pub fn parse(s: &str) -> Option<ScriptType> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "commissioning" | "commission" | "0" => ScriptType::Commissioning,
            "testing" | "test" | "2" => ScriptType::Testing,
            "release" | "3" => ScriptType::Release,
            "deployment" | "4" => ScriptType::Deployment,
            _ => return None,
        })
    }
    pub fn from_number(n: i64) -> Option<ScriptType> {
        ScriptType::parse(&n.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HardwareType {
    Node,
    Cpu,
    Memory,
    Storage,
    Network,
    Gpu,
}

impl HardwareType {
    pub fn number(self) -> i64 {
        match self {
            HardwareType::Node => 0,
            HardwareType::Cpu => 1,
            HardwareType::Memory => 2,
            HardwareType::Storage => 3,
            HardwareType::Network => 4,
            HardwareType::Gpu => 5,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            HardwareType::Node => "node",
            HardwareType::Cpu => "cpu",
            HardwareType::Memory => "memory",
            HardwareType::Storage => "storage",
            HardwareType::Network => "network",
            HardwareType::Gpu => "gpu",
        }
    }
    pub fn parse(s: &str) -> Option<HardwareType> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "node" | "machine" | "controller" | "other" | "generic" | "0" => HardwareType::Node,
            "cpu" | "processor" | "1" => HardwareType::Cpu,
            "memory" | "ram" | "2" => HardwareType::Memory,
            "storage" | "disk" | "ssd" | "3" => HardwareType::Storage,
            "network" | "net" | "interface" | "4" => HardwareType::Network,
            "gpu" | "graphics" | "5" => HardwareType::Gpu,
            _ => return None,
        })
    }
    pub fn from_number(n: i64) -> Option<HardwareType> {
        HardwareType::parse(&n.to_string())
    }
}

/// How a script may run beside others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Parallel {
    /// Alone.
    Disabled,
    /// Beside other scripts, but one instance of itself at a time.
    Instance,
    /// Beside anything.
    Any,
}

impl Parallel {
    pub fn number(self) -> i64 {
        match self {
            Parallel::Disabled => 0,
            Parallel::Instance => 1,
            Parallel::Any => 2,
        }
    }
    pub fn parse(s: &str) -> Option<Parallel> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "disabled" | "none" | "0" => Parallel::Disabled,
            "instance" | "name" | "1" => Parallel::Instance,
            "any" | "enabled" | "2" => Parallel::Any,
            _ => return None,
        })
    }
    pub fn from_number(n: i64) -> Option<Parallel> {
        Parallel::parse(&n.to_string())
    }
}

/// A script's metadata, from its header and/or the API form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptMeta {
    pub name: String,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub script_type: ScriptType,
    pub hardware_type: HardwareType,
    pub parallel: Parallel,
    /// Seconds; 0 = no timeout.
    pub timeout: u64,
    pub destructive: bool,
    pub may_reboot: bool,
    pub recommission: bool,
    pub apply_configured_networking: bool,
    pub for_hardware: Vec<String>,
    /// `packages` as given (apt/snap/url), kept for the runner.
    pub packages: serde_json::Value,
    pub parameters: serde_json::Value,
    pub results: serde_json::Value,
}

impl ScriptMeta {
    pub fn new(name: &str, script_type: ScriptType) -> ScriptMeta {
        ScriptMeta {
            name: name.to_string(),
            title: String::new(),
            description: String::new(),
            tags: Vec::new(),
            script_type,
            hardware_type: HardwareType::Node,
            parallel: Parallel::Disabled,
            timeout: 0,
            destructive: false,
            may_reboot: false,
            recommission: false,
            apply_configured_networking: false,
            for_hardware: Vec::new(),
            packages: serde_json::Value::Null,
            parameters: serde_json::Value::Null,
            results: serde_json::Value::Null,
        }
    }
}

/// The YAML between the markers (comment prefixes removed), or None when there is no header.
/// An opening marker without a closing one is an error.
pub fn extract_header(script: &str) -> Result<Option<String>, ScriptError> {
    let mut inside = false;
    let mut out = String::new();
    for line in script.lines() {
        let stripped = line.trim_start();
        let body = stripped.strip_prefix('#').unwrap_or(stripped);
        if body.trim() == START_MARKER {
            inside = true;
            continue;
        }
        if body.trim() == END_MARKER {
            return if inside {
                Ok(Some(out))
            } else {
                Err(err("script", "metadata end marker without a start marker"))
            };
        }
        if inside {
            // "# key: value" -> "key: value" (one space after '#' removed, indentation kept).
            let content = body.strip_prefix(' ').unwrap_or(body);
            out.push_str(content);
            out.push('\n');
        }
    }
    if inside {
        Err(err(
            "script",
            format!("metadata starts ('{START_MARKER}') but never ends ('{END_MARKER}')"),
        ))
    } else {
        Ok(None)
    }
}

fn yaml_to_json(y: &Yaml) -> serde_json::Value {
    use serde_json::Value as J;
    match y {
        Yaml::Real(s) => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(J::Number)
            .unwrap_or_else(|| J::String(s.clone())),
        Yaml::Integer(i) => J::from(*i),
        Yaml::String(s) => J::String(s.clone()),
        Yaml::Boolean(b) => J::Bool(*b),
        Yaml::Array(a) => J::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => J::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) | Yaml::Real(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        _ => String::new(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        _ => J::Null,
    }
}

/// Parse YAML text into JSON (first document; empty text is `null`).
pub fn parse_yaml(text: &str) -> Result<serde_json::Value, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
    Ok(docs
        .first()
        .map(yaml_to_json)
        .unwrap_or(serde_json::Value::Null))
}

/// `HH:MM:SS`, `MM:SS` or plain seconds.
pub fn parse_timeout(v: &serde_json::Value) -> Result<u64, String> {
    match v {
        serde_json::Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("'{n}' is not a number of seconds")),
        serde_json::Value::String(s) => {
            let s = s.trim();
            if let Ok(n) = s.parse::<u64>() {
                return Ok(n);
            }
            let parts: Vec<&str> = s.split(':').collect();
            if parts.len() > 3 || parts.len() < 2 {
                return Err(format!("'{s}' is not seconds or HH:MM:SS"));
            }
            let mut total: u64 = 0;
            for p in &parts {
                let n: u64 = p
                    .parse()
                    .map_err(|_| format!("'{s}' is not seconds or HH:MM:SS"))?;
                total = total
                    .checked_mul(60)
                    .and_then(|t| t.checked_add(n))
                    .ok_or_else(|| format!("'{s}' is too long"))?;
            }
            Ok(total)
        }
        serde_json::Value::Null => Ok(0),
        other => Err(format!("'{other}' is not seconds or HH:MM:SS")),
    }
}

fn as_bool(field: &str, v: &serde_json::Value) -> Result<bool, ScriptError> {
    match v {
        serde_json::Value::Bool(b) => Ok(*b),
        serde_json::Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "on" => Ok(true),
            "false" | "no" | "0" | "off" | "" => Ok(false),
            _ => Err(err(field, format!("'{s}' is not a boolean"))),
        },
        serde_json::Value::Number(n) => Ok(n.as_i64().unwrap_or(0) != 0),
        serde_json::Value::Null => Ok(false),
        other => Err(err(field, format!("'{other}' is not a boolean"))),
    }
}

fn as_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Tags as a list, or one comma/space separated string.
fn as_list(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::Array(a) => a.iter().filter_map(as_text).collect(),
        serde_json::Value::String(s) => s
            .split([',', ' '])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

const KNOWN_FOR_HARDWARE: &[&str] = &[
    "modalias:",
    "pci:",
    "usb:",
    "system_vendor:",
    "system_product:",
    "system_version:",
    "mainboard_vendor:",
    "mainboard_product:",
];

/// Apply metadata fields (from a header, or from API form fields turned into JSON) over
/// `meta`. Unknown keys are ignored; a key with a wrong value is an error naming it.
pub fn apply_fields(
    meta: &mut ScriptMeta,
    fields: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), ScriptError> {
    for (k, v) in fields {
        match k.as_str() {
            "name" => {
                meta.name = as_text(v).ok_or_else(|| err("name", "must be text"))?;
            }
            "title" => meta.title = as_text(v).unwrap_or_default(),
            "description" => meta.description = as_text(v).unwrap_or_default(),
            "tags" => meta.tags = as_list(v),
            "script_type" | "type" => {
                let t = as_text(v).unwrap_or_default();
                meta.script_type = ScriptType::parse(&t).ok_or_else(|| {
                    err(
                        "script_type",
                        format!("'{t}' is not one of commissioning, testing, release, deployment"),
                    )
                })?;
            }
            "hardware_type" => {
                let t = as_text(v).unwrap_or_default();
                meta.hardware_type = HardwareType::parse(&t).ok_or_else(|| {
                    err(
                        "hardware_type",
                        format!("'{t}' is not one of node, cpu, memory, storage, network, gpu"),
                    )
                })?;
            }
            "parallel" => {
                let t = as_text(v).unwrap_or_default();
                meta.parallel = Parallel::parse(&t).ok_or_else(|| {
                    err(
                        "parallel",
                        format!("'{t}' is not one of disabled, instance, any"),
                    )
                })?;
            }
            "timeout" => meta.timeout = parse_timeout(v).map_err(|e| err("timeout", e))?,
            "destructive" => meta.destructive = as_bool(k, v)?,
            "may_reboot" => meta.may_reboot = as_bool(k, v)?,
            "recommission" => meta.recommission = as_bool(k, v)?,
            "apply_configured_networking" => meta.apply_configured_networking = as_bool(k, v)?,
            "for_hardware" => {
                let list = as_list(v);
                for h in &list {
                    if !KNOWN_FOR_HARDWARE.iter().any(|p| h.starts_with(p)) {
                        return Err(err(
                            "for_hardware",
                            format!(
                                "'{h}' must start with one of {}",
                                KNOWN_FOR_HARDWARE.join(" ")
                            ),
                        ));
                    }
                }
                meta.for_hardware = list;
            }
            "packages" => meta.packages = v.clone(),
            "parameters" => {
                if !(v.is_object() || v.is_null()) {
                    return Err(err("parameters", "must be a mapping of name to definition"));
                }
                meta.parameters = v.clone();
            }
            "results" => {
                match v {
                    serde_json::Value::Object(m) => {
                        for (rk, rv) in m {
                            if let serde_json::Value::Object(d) = rv {
                                for f in ["title", "description"] {
                                    if d.get(f).is_some_and(|x| !x.is_string()) {
                                        return Err(err(
                                            "results",
                                            format!("{rk}.{f} must be a string"),
                                        ));
                                    }
                                }
                            }
                        }
                    }
                    serde_json::Value::Array(_) | serde_json::Value::Null => {}
                    _ => return Err(err("results", "must be a mapping or a list")),
                }
                meta.results = v.clone();
            }
            _ => {}
        }
    }
    Ok(())
}

/// Parse a script's text: its header (if any) over the defaults; `name` and `script_type`
/// given by the caller (the API form) win over the header when `Some`.
pub fn parse_script(
    text: &str,
    name: Option<&str>,
    script_type: Option<ScriptType>,
) -> Result<ScriptMeta, ScriptError> {
    let mut meta = ScriptMeta::new("", ScriptType::Testing);
    if let Some(h) = extract_header(text)? {
        let y = parse_yaml(&h).map_err(|e| err("script", format!("metadata is not YAML: {e}")))?;
        match y {
            serde_json::Value::Object(m) => apply_fields(&mut meta, &m)?,
            serde_json::Value::Null => {}
            _ => return Err(err("script", "metadata must be a YAML mapping")),
        }
    }
    if let Some(n) = name.filter(|n| !n.trim().is_empty()) {
        meta.name = n.trim().to_string();
    }
    if let Some(t) = script_type {
        meta.script_type = t;
    }
    check_name(&meta.name)?;
    if !text.starts_with("#!") {
        return Err(err(
            "script",
            "must start with an interpreter line (#!/bin/sh, #!/usr/bin/env python3, ...)",
        ));
    }
    Ok(meta)
}

/// Names: non-empty, at most 255 characters, no whitespace or '/', not a number.
pub fn check_name(name: &str) -> Result<(), ScriptError> {
    if name.is_empty() {
        return Err(err("name", "This field is required."));
    }
    if name.len() > 255 {
        return Err(err("name", "at most 255 characters"));
    }
    if name.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(err("name", "must not contain spaces or '/'"));
    }
    if name.parse::<i64>().is_ok() {
        return Err(err("name", "must not be a number"));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Results

/// ScriptResult statuses with MAAS's numbers (spec §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResultStatus {
    Pending,
    Running,
    Passed,
    Failed,
    Timedout,
    Aborted,
    Degraded,
    Installing,
    FailedInstalling,
    Skipped,
    ApplyingNetconf,
    FailedApplyingNetconf,
}

impl ResultStatus {
    pub const ALL: [ResultStatus; 12] = [
        ResultStatus::Pending,
        ResultStatus::Running,
        ResultStatus::Passed,
        ResultStatus::Failed,
        ResultStatus::Timedout,
        ResultStatus::Aborted,
        ResultStatus::Degraded,
        ResultStatus::Installing,
        ResultStatus::FailedInstalling,
        ResultStatus::Skipped,
        ResultStatus::ApplyingNetconf,
        ResultStatus::FailedApplyingNetconf,
    ];
    pub fn number(self) -> i64 {
        match self {
            ResultStatus::Pending => 0,
            ResultStatus::Running => 1,
            ResultStatus::Passed => 2,
            ResultStatus::Failed => 3,
            ResultStatus::Timedout => 4,
            ResultStatus::Aborted => 5,
            ResultStatus::Degraded => 6,
            ResultStatus::Installing => 7,
            ResultStatus::FailedInstalling => 8,
            ResultStatus::Skipped => 9,
            ResultStatus::ApplyingNetconf => 10,
            ResultStatus::FailedApplyingNetconf => 11,
        }
    }
    pub fn from_number(n: i64) -> Option<ResultStatus> {
        ResultStatus::ALL.into_iter().find(|s| s.number() == n)
    }
    pub fn label(self) -> &'static str {
        match self {
            ResultStatus::Pending => "Pending",
            ResultStatus::Running => "Running",
            ResultStatus::Passed => "Passed",
            ResultStatus::Failed => "Failed",
            ResultStatus::Timedout => "Timed out",
            ResultStatus::Aborted => "Aborted",
            ResultStatus::Degraded => "Degraded",
            ResultStatus::Installing => "Installing dependencies",
            ResultStatus::FailedInstalling => "Failed installing dependencies",
            ResultStatus::Skipped => "Skipped",
            ResultStatus::ApplyingNetconf => "Applying custom network configuration",
            ResultStatus::FailedApplyingNetconf => "Failed to apply custom network configuration",
        }
    }
    pub fn is_running(self) -> bool {
        matches!(
            self,
            ResultStatus::Running | ResultStatus::Installing | ResultStatus::ApplyingNetconf
        )
    }
    pub fn is_running_or_pending(self) -> bool {
        self.is_running() || self == ResultStatus::Pending
    }
    pub fn is_failed(self) -> bool {
        matches!(
            self,
            ResultStatus::Failed
                | ResultStatus::Timedout
                | ResultStatus::FailedInstalling
                | ResultStatus::FailedApplyingNetconf
        )
    }
}

/// The status a finished script gets (§5.4): TIMEDOUT if it timed out; else exit 0 → PASSED;
/// non-zero → FAILED (FAILED_INSTALLING / FAILED_APPLYING_NETCONF while in those phases);
/// then a `status:` in the result YAML overrides (passed, failed, degraded, timedout, skipped).
pub fn finished_status(
    current: ResultStatus,
    exit_status: i64,
    timed_out: bool,
    yaml_status: Option<&str>,
) -> ResultStatus {
    let mut s = if timed_out {
        ResultStatus::Timedout
    } else if exit_status == 0 {
        ResultStatus::Passed
    } else {
        match current {
            ResultStatus::Installing => ResultStatus::FailedInstalling,
            ResultStatus::ApplyingNetconf => ResultStatus::FailedApplyingNetconf,
            _ => ResultStatus::Failed,
        }
    };
    if let Some(y) = yaml_status {
        s = match y.trim().to_ascii_lowercase().as_str() {
            "passed" => ResultStatus::Passed,
            "failed" => ResultStatus::Failed,
            "degraded" => ResultStatus::Degraded,
            "timedout" => ResultStatus::Timedout,
            "skipped" => ResultStatus::Skipped,
            _ => s,
        };
    }
    s
}

/// A result YAML's `status:` (when the document is a mapping with one), or why it is invalid.
pub fn result_yaml_status(yaml: &[u8]) -> Result<Option<String>, String> {
    let text = std::str::from_utf8(yaml).map_err(|_| "not UTF-8".to_string())?;
    match parse_yaml(text)? {
        serde_json::Value::Object(m) => Ok(m.get("status").and_then(as_text)),
        serde_json::Value::Null => Ok(None),
        _ => Err("must be a YAML mapping".into()),
    }
}

/// The aggregate of a set of results (§5.4; used for `commissioning_status`, `testing_status`
/// and the per-hardware-type `*_test_status`): None when there are no results.
pub fn aggregate(statuses: impl IntoIterator<Item = ResultStatus>) -> Option<ResultStatus> {
    let all: Vec<ResultStatus> = statuses.into_iter().collect();
    if all.is_empty() {
        return None;
    }
    let any = |f: &dyn Fn(ResultStatus) -> bool| all.iter().any(|s| f(*s));
    Some(if any(&|s| s.is_running()) {
        ResultStatus::Running
    } else if any(&|s| s == ResultStatus::Pending) {
        ResultStatus::Pending
    } else if any(&|s| s == ResultStatus::Aborted) {
        ResultStatus::Aborted
    } else if any(&|s| s.is_failed()) {
        ResultStatus::Failed
    } else if any(&|s| s == ResultStatus::Degraded) {
        ResultStatus::Degraded
    } else {
        ResultStatus::Passed
    })
}

// ------------------------------------------------------------------------------------------
// Built-in scripts

/// A script implemented inside `ingot-agent` (no text is downloaded for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub script_type: ScriptType,
    pub hardware_type: HardwareType,
    pub parallel: Parallel,
    pub timeout: u64,
    pub tags: &'static [&'static str],
    pub destructive: bool,
}

/// The name of the built-in whose stdout is the machine-resources document (the inventory).
pub const RESOURCES_SCRIPT: &str = "50-maas-01-commissioning";
/// The name of the built-in whose stdout is the kernel command line (boot interface).
pub const CMDLINE_SCRIPT: &str = "maas-kernel-cmdline";
/// The built-in whose stdout is the LLDP capture (lldpctl's XML), served as `op=details`' lldp.
pub const LLDP_SCRIPT: &str = "maas-capture-lldpd";

#[allow(clippy::too_many_arguments)] // one row of the BUILTINS table
const fn b(
    name: &'static str,
    title: &'static str,
    description: &'static str,
    script_type: ScriptType,
    hardware_type: HardwareType,
    parallel: Parallel,
    timeout: u64,
    tags: &'static [&'static str],
) -> Builtin {
    Builtin {
        name,
        title,
        description,
        script_type,
        hardware_type,
        parallel,
        timeout,
        tags,
        destructive: false,
    }
}

use HardwareType as H;
use Parallel as P;
use ScriptType as T;

/// Every built-in, commissioning ones in run (name) order first.
pub const BUILTINS: &[Builtin] = &[
    b("20-maas-02-dhcp-unconfigured-ifaces", "Bring up unconfigured interfaces", "Brings up every physical interface and runs DHCP on those without an address.", T::Commissioning, H::Node, P::Disabled, 60, &["node", "network"]),
    b("50-maas-01-commissioning", "Hardware inventory", "Writes the machine-resources document (LXD resources format): CPU, memory, NUMA, disks, NICs, PCI/USB, firmware, system.", T::Commissioning, H::Node, P::Disabled, 60, &["node", "deploy-info"]),
    b("maas-capture-lldpd", "LLDP capture", "Listens passively for LLDP frames on every connected interface.", T::Commissioning, H::Network, P::Any, 60, &["node", "network"]),
    b("maas-firmware-info", "Firmware and vendor information", "BIOS/UEFI, system, mainboard and chassis identification from DMI.", T::Commissioning, H::Node, P::Any, 10, &["node", "deploy-info"]),
    b("maas-kernel-cmdline", "Kernel command line", "The kernel command line the machine booted with (BOOTIF names the boot interface).", T::Commissioning, H::Node, P::Any, 10, &["node", "deploy-info"]),
    b("maas-list-modaliases", "Modaliases", "Modaliases of the machine's devices (used to run scripts chosen by for_hardware).", T::Commissioning, H::Node, P::Any, 10, &["node", "deploy-info"]),
    b("maas-network-interfaces", "Network interfaces", "Every interface with its addresses, MTU, state and driver.", T::Commissioning, H::Network, P::Any, 10, &["node", "network", "deploy-info"]),
    b("maas-serial-ports", "Serial ports", "Serial ports the kernel found.", T::Commissioning, H::Node, P::Any, 10, &["node", "deploy-info"]),
    b("maas-support-info", "Support information", "Kernel version, the agent's version, uptime, loaded modules.", T::Commissioning, H::Node, P::Any, 300, &["node", "deploy-info"]),
    b("maas-virtuality", "Virtuality", "Whether the machine is a virtual machine or a container, and which hypervisor.", T::Commissioning, H::Node, P::Any, 10, &["node", "deploy-info"]),
    b("smartctl-validate", "Disk health (SMART)", "Reads each disk's SMART health status where the disk has SMART; skipped where it has none.", T::Testing, H::Storage, P::Instance, 600, &["storage", "commissioning"]),
    b("stress-ng-cpu-short", "CPU stress", "Loads every CPU with checked arithmetic for 30 seconds; any wrong result fails it.", T::Testing, H::Cpu, P::Disabled, 300, &["cpu"]),
    b("memtester", "Memory", "Writes and verifies patterns over a share of the free memory.", T::Testing, H::Memory, P::Disabled, 1800, &["memory"]),
    b("badblocks", "Disk read/write", "Non-destructive read-write test of the start of each disk (data restored).", T::Testing, H::Storage, P::Instance, 1800, &["storage"]),
    b("network-link", "Network link", "Every physical interface with a cable reports link (carrier).", T::Testing, H::Network, P::Any, 60, &["network"]),
    Builtin {
        destructive: true,
        ..b(WIPE_DISKS_SCRIPT, "Wipe disks", "Erases every disk on release: zeros over the whole disk, or with quick_erase 2 MiB at its start and end, or with secure_erase the drive's own secure erase where it has one (else the quick or full wipe).", T::Release, H::Storage, P::Disabled, 86400, &["storage", "release"])
    },
];

/// The release script that erases the disks (parameters `quick_erase`, `secure_erase`).
pub const WIPE_DISKS_SCRIPT: &str = "wipe-disks";

pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// Which scripts a `commissioning_scripts=` / `testing_scripts=` selection names: each item is
/// a script name or a tag; `none` selects nothing. `candidates` are (name, tags).
pub fn select<'a>(
    selection: &[String],
    candidates: impl IntoIterator<Item = (&'a str, &'a [String])>,
) -> Vec<&'a str> {
    if selection.iter().any(|s| s.eq_ignore_ascii_case("none")) {
        return Vec::new();
    }
    candidates
        .into_iter()
        .filter(|(name, tags)| {
            selection
                .iter()
                .any(|s| s == name || tags.iter().any(|t| t == s))
        })
        .map(|(n, _)| n)
        .collect()
}

/// Whether a `for_hardware` list matches the machine's identifiers (`modalias:` globs,
/// `pci:VVVV:PPPP`, `usb:VVVV:PPPP`, `system_vendor:` …). An empty list matches everything.
pub fn for_hardware_matches(
    for_hardware: &[String],
    modaliases: &[String],
    pci_ids: &[String],
    usb_ids: &[String],
    metadata: &BTreeMap<String, String>,
) -> bool {
    if for_hardware.is_empty() {
        return true;
    }
    for_hardware.iter().any(|h| {
        if let Some(g) = h.strip_prefix("modalias:") {
            modaliases.iter().any(|m| glob(g, m))
        } else if let Some(id) = h.strip_prefix("pci:") {
            pci_ids.iter().any(|p| p.eq_ignore_ascii_case(id))
        } else if let Some(id) = h.strip_prefix("usb:") {
            usb_ids.iter().any(|p| p.eq_ignore_ascii_case(id))
        } else if let Some((k, v)) = h.split_once(':') {
            metadata.get(k).is_some_and(|x| x == v)
        } else {
            false
        }
    })
}

/// Shell-style glob with `*` and `?`.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        match p.get(pi) {
            Some('?') => {
                pi += 1;
                ti += 1;
            }
            Some('*') => {
                star = Some(pi);
                pi += 1;
                mark = ti;
            }
            Some(c) if Some(c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some(s) => {
                    pi = s + 1;
                    mark += 1;
                    ti = mark;
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "#!/bin/bash\n# --- Start MAAS 1.0 script metadata ---\n# name: check-raid\n# title: Check RAID\n# script_type: commission\n# hardware_type: storage\n# parallel: instance\n# timeout: 00:05:00\n# tags: [raid, storage]\n# may_reboot: true\n# for_hardware: ['pci:8086:2922', 'modalias:pci:v00008086*']\n# results:\n#   health:\n#     title: Health\n#     description: RAID health\n# parameters:\n#   storage: {type: storage}\n# --- End MAAS 1.0 script metadata ---\necho ok\n";

    #[test]
    fn header_parses_every_field() {
        let m = parse_script(SCRIPT, None, None).unwrap();
        assert_eq!(m.name, "check-raid");
        assert_eq!(m.title, "Check RAID");
        assert_eq!(m.script_type, ScriptType::Commissioning);
        assert_eq!(m.hardware_type, HardwareType::Storage);
        assert_eq!(m.parallel, Parallel::Instance);
        assert_eq!(m.timeout, 300);
        assert_eq!(m.tags, vec!["raid", "storage"]);
        assert!(m.may_reboot);
        assert_eq!(m.for_hardware.len(), 2);
        assert_eq!(m.results["health"]["title"], "Health");
        assert_eq!(m.parameters["storage"]["type"], "storage");
    }

    #[test]
    fn form_fields_win_and_defaults_apply() {
        let m = parse_script(
            "#!/bin/sh\necho hi\n",
            Some("plain"),
            Some(ScriptType::Testing),
        )
        .unwrap();
        assert_eq!(m.name, "plain");
        assert_eq!(m.script_type, ScriptType::Testing);
        assert_eq!(m.timeout, 0);
        let m = parse_script(SCRIPT, Some("renamed"), Some(ScriptType::Testing)).unwrap();
        assert_eq!(
            (m.name.as_str(), m.script_type),
            ("renamed", ScriptType::Testing)
        );
    }

    #[test]
    fn bad_headers_name_the_problem() {
        let cases = [
            ("#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: x\n", "script"),
            ("#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: [x\n# --- End MAAS 1.0 script metadata ---\n", "script"),
            ("#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: x\n# timeout: soon\n# --- End MAAS 1.0 script metadata ---\n", "timeout"),
            ("#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: x\n# script_type: sometimes\n# --- End MAAS 1.0 script metadata ---\n", "script_type"),
            ("#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: x\n# hardware_type: toaster\n# --- End MAAS 1.0 script metadata ---\n", "hardware_type"),
            ("#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: x\n# parallel: maybe\n# --- End MAAS 1.0 script metadata ---\n", "parallel"),
            ("#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: x\n# for_hardware: [toaster:1]\n# --- End MAAS 1.0 script metadata ---\n", "for_hardware"),
            ("#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: x\n# results: {a: {title: [1]}}\n# --- End MAAS 1.0 script metadata ---\n", "results"),
            ("#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: x\n# may_reboot: perhaps\n# --- End MAAS 1.0 script metadata ---\n", "may_reboot"),
            ("#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# - a list\n# --- End MAAS 1.0 script metadata ---\n", "script"),
            ("#!/bin/sh\n# --- End MAAS 1.0 script metadata ---\n", "script"),
            ("#!/bin/sh\necho\n", "name"),
            ("echo no interpreter\n", "name"),
        ];
        for (text, field) in cases {
            let e = parse_script(text, None, None).unwrap_err();
            assert_eq!(e.field, field, "{text:?}: {e}");
            assert!(!e.message.is_empty());
        }
        let e = parse_script("echo no interpreter\n", Some("x"), None).unwrap_err();
        assert_eq!(e.field, "script");
        for bad in ["has space", "a/b", "42", ""] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timeouts() {
        use serde_json::json;
        assert_eq!(parse_timeout(&json!(90)).unwrap(), 90);
        assert_eq!(parse_timeout(&json!("90")).unwrap(), 90);
        assert_eq!(parse_timeout(&json!("01:30")).unwrap(), 90);
        assert_eq!(parse_timeout(&json!("14:00:00")).unwrap(), 50400);
        assert!(parse_timeout(&json!("1:2:3:4")).is_err());
        assert!(parse_timeout(&json!(-1)).is_err());
        assert!(parse_timeout(&json!("x")).is_err());
    }

    #[test]
    fn finished_statuses() {
        use ResultStatus as R;
        assert_eq!(finished_status(R::Running, 0, false, None), R::Passed);
        assert_eq!(finished_status(R::Running, 1, false, None), R::Failed);
        assert_eq!(
            finished_status(R::Installing, 1, false, None),
            R::FailedInstalling
        );
        assert_eq!(
            finished_status(R::ApplyingNetconf, 2, false, None),
            R::FailedApplyingNetconf
        );
        assert_eq!(finished_status(R::Running, 0, true, None), R::Timedout);
        assert_eq!(
            finished_status(R::Running, 0, false, Some("degraded")),
            R::Degraded
        );
        assert_eq!(
            finished_status(R::Running, 1, false, Some("skipped")),
            R::Skipped
        );
        assert_eq!(
            finished_status(R::Running, 1, false, Some("nonsense")),
            R::Failed
        );
        assert_eq!(
            result_yaml_status(b"status: skipped\nx: 1\n")
                .unwrap()
                .as_deref(),
            Some("skipped")
        );
        assert_eq!(result_yaml_status(b"").unwrap(), None);
        assert!(result_yaml_status(b"[1, 2").is_err());
        assert!(result_yaml_status(b"- a\n").is_err());
    }

    #[test]
    fn aggregation_precedence() {
        use ResultStatus as R;
        assert_eq!(aggregate([]), None);
        assert_eq!(aggregate([R::Passed, R::Skipped]), Some(R::Passed));
        assert_eq!(aggregate([R::Passed, R::Degraded]), Some(R::Degraded));
        assert_eq!(aggregate([R::Degraded, R::Timedout]), Some(R::Failed));
        assert_eq!(aggregate([R::Failed, R::Aborted]), Some(R::Aborted));
        assert_eq!(aggregate([R::Aborted, R::Pending]), Some(R::Pending));
        assert_eq!(aggregate([R::Pending, R::Installing]), Some(R::Running));
        for s in ResultStatus::ALL {
            assert_eq!(ResultStatus::from_number(s.number()), Some(s));
            assert!(!s.label().is_empty());
        }
    }

    #[test]
    fn selection_by_name_or_tag() {
        let tags_a = vec!["cpu".to_string()];
        let tags_b = vec!["storage".to_string(), "commissioning".to_string()];
        let c = || vec![("a", tags_a.as_slice()), ("b", tags_b.as_slice())];
        assert_eq!(select(&["a".into()], c()), vec!["a"]);
        assert_eq!(select(&["storage".into()], c()), vec!["b"]);
        assert_eq!(select(&["cpu".into(), "b".into()], c()), vec!["a", "b"]);
        assert!(select(&["none".into()], c()).is_empty());
        assert!(select(&[], c()).is_empty());
    }

    #[test]
    fn hardware_matching() {
        let md: BTreeMap<String, String> =
            [("system_vendor".to_string(), "QEMU".to_string())].into();
        let mods = vec!["pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01".to_string()];
        let pci = vec!["8086:2922".to_string()];
        assert!(for_hardware_matches(&[], &[], &[], &[], &md));
        assert!(for_hardware_matches(
            &["modalias:pci:v00008086*".into()],
            &mods,
            &[],
            &[],
            &md
        ));
        assert!(!for_hardware_matches(
            &["modalias:pci:v000010DE*".into()],
            &mods,
            &[],
            &[],
            &md
        ));
        assert!(for_hardware_matches(
            &["pci:8086:2922".into()],
            &[],
            &pci,
            &[],
            &md
        ));
        assert!(for_hardware_matches(
            &["system_vendor:QEMU".into()],
            &[],
            &[],
            &[],
            &md
        ));
        assert!(!for_hardware_matches(
            &["system_vendor:Dell".into()],
            &[],
            &[],
            &[],
            &md
        ));
        assert!(glob("a*c?e", "abbbcde"));
        assert!(!glob("a*c?e", "abbbce"));
        assert!(glob("*", ""));
    }

    #[test]
    fn builtins_are_consistent() {
        let mut names: Vec<&str> = BUILTINS.iter().map(|b| b.name).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate built-in names");
        assert!(builtin(RESOURCES_SCRIPT).is_some());
        assert!(builtin(CMDLINE_SCRIPT).is_some());
        for b in BUILTINS {
            assert!(check_name(b.name).is_ok());
            assert!(b.timeout > 0);
        }
        // The default test run during commissioning: tagged "commissioning".
        assert!(BUILTINS
            .iter()
            .any(|b| b.script_type == ScriptType::Testing && b.tags.contains(&"commissioning")));
    }
}
