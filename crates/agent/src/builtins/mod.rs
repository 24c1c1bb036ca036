//! The built-in commissioning and testing scripts (names and metadata in
//! `ingot_core::scripts::BUILTINS`), implemented natively. The runner starts each as
//! `ingot-agent builtin NAME` with the usual script environment; a built-in prints its report
//! on stdout, writes its result YAML to `$RESULT_PATH` when it has one, and exits 0 (passed)
//! or 1 (failed). A result YAML with `status: skipped` and a `reason` says it could not test
//! anything here (never a pass it did not earn).
//!
//! What would change the machine (bringing interfaces up, DHCP, writing to disks, locking
//! most of the free memory) is only done in the ephemeral environment (`/etc/ingot-ephemeral`
//! exists); elsewhere those built-ins report what they would do and are skipped.

mod badblocks;
mod dhcp;
mod info;
mod lldp;
mod memtest;
mod netlink;
mod smart;
mod stress;
mod wipe;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::resources::Roots;

/// What a built-in gets from the agent.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub roots: Roots,
    /// The kernel command line (the agent's `--cmdline`, else /proc/cmdline).
    pub cmdline: String,
    /// The MAC of the boot interface (BOOTIF, else ingot.mac), lower-case.
    pub boot_mac: Option<String>,
    /// Running in the ephemeral environment (the marker file exists).
    pub ephemeral: bool,
    /// `$MAAS_RESOURCES_FILE`.
    pub resources_file: Option<PathBuf>,
    /// The script's arguments (its parameters, `--quick-erase`, ...).
    pub args: Vec<String>,
}

/// Durations and sizes, from the environment (the runner passes the agent's flags on).
pub fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

/// `INGOT_LLDP_SECONDS` (default 30): how long `maas-capture-lldpd` listens.
pub fn lldp_duration() -> Duration {
    Duration::from_secs(env_u64("INGOT_LLDP_SECONDS").unwrap_or(30))
}

/// `INGOT_TEST_SECONDS` (default 30): how long `stress-ng-cpu-short` runs.
pub fn stress_duration() -> Duration {
    Duration::from_secs(env_u64("INGOT_TEST_SECONDS").unwrap_or(30).max(1))
}

/// Where a built-in's report goes: straight to stdout/stderr (as it is produced, so a
/// built-in killed at its timeout still leaves what it printed), or kept for tests.
#[derive(Debug, Default)]
pub struct Out {
    live: bool,
    pub out: String,
    pub err: String,
}

impl Out {
    pub fn live() -> Out {
        Out {
            live: true,
            ..Out::default()
        }
    }

    pub fn line(&mut self, s: impl AsRef<str>) {
        if self.live {
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "{}", s.as_ref());
            let _ = o.flush();
        } else {
            self.out.push_str(s.as_ref());
            self.out.push('\n');
        }
    }

    pub fn eline(&mut self, s: impl AsRef<str>) {
        if self.live {
            let _ = writeln!(std::io::stderr().lock(), "{}", s.as_ref());
        } else {
            self.err.push_str(s.as_ref());
            self.err.push('\n');
        }
    }
}

/// How a built-in ended: its exit status and result YAML (as JSON, written as YAML).
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    pub exit: i32,
    pub result: Option<Value>,
}

impl Done {
    pub fn ok() -> Done {
        Done {
            exit: 0,
            result: None,
        }
    }
    pub fn failed() -> Done {
        Done {
            exit: 1,
            result: None,
        }
    }
    pub fn with(exit: i32, result: Value) -> Done {
        Done {
            exit,
            result: Some(result),
        }
    }
    /// Nothing could be tested here: `status: skipped` with the reason (exit 0).
    pub fn skipped(reason: impl Into<String>, out: &mut Out) -> Done {
        let reason = reason.into();
        out.line(format!("Skipped: {reason}"));
        Done::with(
            0,
            serde_json::json!({"status": "skipped", "reason": reason}),
        )
    }
}

/// Whether `name` is implemented here.
pub fn implemented(name: &str) -> bool {
    NAMES.contains(&name)
}

const NAMES: &[&str] = &[
    "20-maas-02-dhcp-unconfigured-ifaces",
    "50-maas-01-commissioning",
    "maas-capture-lldpd",
    "maas-firmware-info",
    "maas-kernel-cmdline",
    "maas-list-modaliases",
    "maas-network-interfaces",
    "maas-serial-ports",
    "maas-support-info",
    "maas-virtuality",
    "smartctl-validate",
    "stress-ng-cpu-short",
    "memtester",
    "badblocks",
    "network-link",
    "wipe-disks",
];

/// Runs the built-in `name`; None when there is no such built-in.
pub fn run(name: &str, ctx: &Ctx, out: &mut Out) -> Option<Done> {
    Some(match name {
        "20-maas-02-dhcp-unconfigured-ifaces" => dhcp::run(ctx, out),
        "50-maas-01-commissioning" => info::commissioning(ctx, out),
        "maas-capture-lldpd" => lldp::run(ctx, out, lldp_duration()),
        "maas-firmware-info" => info::firmware(ctx, out),
        "maas-kernel-cmdline" => info::kernel_cmdline(ctx, out),
        "maas-list-modaliases" => info::modaliases(ctx, out),
        "maas-network-interfaces" => info::network_interfaces(ctx, out),
        "maas-serial-ports" => info::serial_ports(ctx, out),
        "maas-support-info" => info::support(ctx, out),
        "maas-virtuality" => info::virtuality(ctx, out),
        "smartctl-validate" => smart::run(ctx, out),
        "stress-ng-cpu-short" => stress::run(out, stress_duration()),
        "memtester" => memtest::run(ctx, out),
        "badblocks" => badblocks::run(ctx, out),
        "network-link" => netlink::run(ctx, out),
        "wipe-disks" => wipe::run(ctx, out),
        _ => return None,
    })
}

/// `ingot-agent builtin NAME`: runs it with its report on stdout and its result YAML written
/// to `$RESULT_PATH`; returns the exit status.
pub fn main(name: &str, ctx: &Ctx) -> i32 {
    let mut out = Out::live();
    let Some(done) = run(name, ctx, &mut out) else {
        out.eline(format!("ingot-agent has no built-in script named '{name}'"));
        return 2;
    };
    if let Some(r) = &done.result {
        let yaml = crate::yaml::to_yaml(r);
        match std::env::var_os("RESULT_PATH") {
            Some(p) => {
                if let Err(e) = std::fs::write(&p, yaml) {
                    out.eline(format!("cannot write the result file {p:?}: {e}"));
                    return 1;
                }
            }
            None => {
                out.line("--- result");
                out.line(yaml.trim_end());
            }
        }
    }
    done.exit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_of_the_catalogue_is_implemented() {
        for b in ingot_core::scripts::BUILTINS {
            assert!(implemented(b.name), "{} is not implemented", b.name);
        }
        // The release script `wipe-disks` is run for disk erasure, whether or not the
        // catalogue lists it; every other name is in the catalogue.
        for n in NAMES {
            assert!(
                *n == "wipe-disks" || ingot_core::scripts::builtin(n).is_some(),
                "{n} is not in the catalogue"
            );
        }
    }

    #[test]
    fn unknown_names_are_refused() {
        let ctx = info::tests::ctx(std::path::Path::new("/nonexistent"));
        assert!(run("no-such-script", &ctx, &mut Out::default()).is_none());
        assert_eq!(main("no-such-script", &ctx), 2);
    }
}
