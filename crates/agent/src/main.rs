//! `ingot-agent`: runs in Ingot's ephemeral environment (started by the initramfs's `/init`).
//! Reads `ingot.url`, `ingot.purpose` and `ingot.mac` from the kernel command line, inventories
//! the machine and, for `ingot.purpose=enlist`, enlists it with the region; then powers off.

mod cmdline;
mod enlist;
mod inventory;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

/// Marker file the initramfs carries; without it the agent never powers the machine off.
const EPHEMERAL_MARKER: &str = "/etc/ingot-ephemeral";

#[derive(Debug, Parser)]
#[command(
    name = "ingot-agent",
    version,
    about = "Ingot ephemeral-environment agent (enlistment)"
)]
struct Args {
    /// Kernel command line to use instead of /proc/cmdline.
    #[arg(long)]
    cmdline: Option<String>,
    /// Root of sysfs (NICs, DMI).
    #[arg(long, default_value = "/sys")]
    sysfs_root: PathBuf,
    /// Never power the machine off (it is only ever done from the ephemeral environment, when
    /// the agent is PID 1 or a child of it and /etc/ingot-ephemeral exists).
    #[arg(long)]
    no_poweroff: bool,
    /// Print the request instead of sending it.
    #[arg(long)]
    dry_run: bool,
    /// Attempts for the enlistment POST (connection errors, timeouts and 5xx are retried).
    #[arg(long, default_value_t = 6)]
    attempts: u32,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .init();
    let args = Args::parse();
    let ok = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => match rt.block_on(run(&args)) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!("{e:#}");
                false
            }
        },
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            false
        }
    };
    if may_power_off(args.no_poweroff) {
        power_off();
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let text = match &args.cmdline {
        Some(t) => t.clone(),
        None => std::fs::read_to_string("/proc/cmdline").context("reading /proc/cmdline")?,
    };
    let params = cmdline::parse(&text);
    tracing::info!(url = ?params.url, purpose = ?params.purpose, mac = ?params.mac, "ingot-agent starting");
    let purpose = params
        .purpose
        .clone()
        .unwrap_or_else(|| "enlist".to_string());
    match purpose.as_str() {
        "enlist" => enlist(args, &params).await,
        other => {
            tracing::warn!(
                "ingot.purpose={other} is not supported by this agent yet (only enlist)"
            );
            Ok(())
        }
    }
}

fn gather(sysfs: &Path, boot_mac: Option<&str>) -> enlist::Enlistment {
    let nics = inventory::physical_nics(sysfs);
    for n in &nics {
        tracing::info!(interface = %n.name, mac = %n.mac, "NIC");
    }
    let machine = inventory::uname_machine();
    let arch = inventory::debian_arch(&machine);
    let uuid = inventory::hardware_uuid(sysfs);
    tracing::info!(%machine, %arch, uuid = ?uuid, "machine");
    if let Some(b) = boot_mac {
        if !nics.iter().any(|n| n.mac == b) {
            tracing::warn!(
                boot_mac = b,
                "the boot MAC is not among this machine's NICs"
            );
        }
    }
    enlist::Enlistment::new(
        arch,
        nics.into_iter().map(|n| n.mac).collect(),
        boot_mac,
        uuid,
    )
}

async fn enlist(args: &Args, params: &cmdline::KernelParams) -> anyhow::Result<()> {
    let url = params
        .url
        .as_deref()
        .context("no ingot.url= on the kernel command line")?;
    let e = gather(&args.sysfs_root, params.mac.as_deref());
    anyhow::ensure!(
        !e.mac_addresses.is_empty(),
        "no physical NIC found under {}",
        args.sysfs_root.display()
    );
    let req = enlist::enlist_request(url, &e);
    if args.dry_run {
        println!("POST {}\n{}", req.url, req.body);
        return Ok(());
    }
    tracing::info!(url = %req.url, body = %req.body, "enlisting");
    let body = enlist::post_form(&req, args.attempts, Duration::from_secs(1))
        .await
        .map_err(|e| anyhow::anyhow!("enlistment failed: {e}"))?;
    let summary: String = body.chars().take(300).collect();
    tracing::info!(response = %summary, "enlisted");
    Ok(())
}

/// Only in the ephemeral environment: the marker exists and the agent is init or init's child.
fn may_power_off(no_poweroff: bool) -> bool {
    if no_poweroff || !Path::new(EPHEMERAL_MARKER).exists() {
        return false;
    }
    // SAFETY: getpid/getppid cannot fail.
    let (pid, ppid) = unsafe { (libc::getpid(), libc::getppid()) };
    pid == 1 || ppid == 1
}

fn power_off() {
    tracing::info!("powering off");
    // SAFETY: plain syscalls; reboot only returns on failure.
    unsafe {
        libc::sync();
        if libc::reboot(libc::RB_POWER_OFF) != 0 {
            tracing::error!("reboot(RB_POWER_OFF): {}", std::io::Error::last_os_error());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathers_from_fake_sysfs() {
        let t = tempfile::tempdir().unwrap();
        inventory::tests::fake_nic(t.path(), "eth0", "52:54:00:00:00:01", true);
        inventory::tests::fake_nic(t.path(), "eth1", "52:54:00:00:00:02", true);
        inventory::tests::fake_nic(t.path(), "docker0", "02:42:00:00:00:09", false);
        let dmi = t.path().join("class/dmi/id");
        std::fs::create_dir_all(&dmi).unwrap();
        std::fs::write(
            dmi.join("product_uuid"),
            "ABCDEF01-2345-6789-ABCD-EF0123456789\n",
        )
        .unwrap();
        let e = gather(t.path(), Some("52:54:00:00:00:02"));
        assert_eq!(e.mac_addresses, ["52:54:00:00:00:02", "52:54:00:00:00:01"]);
        assert_eq!(
            e.hardware_uuid.as_deref(),
            Some("abcdef01-2345-6789-abcd-ef0123456789")
        );
        assert_eq!(
            e.architecture,
            inventory::debian_arch(&inventory::uname_machine())
        );
    }

    #[test]
    fn never_powers_off_when_told_not_to_or_outside_the_initramfs() {
        assert!(!may_power_off(true));
        // The test runner is not init's child with the marker present.
        if !Path::new(EPHEMERAL_MARKER).exists() {
            assert!(!may_power_off(false));
        }
    }

    #[test]
    fn cli_parses() {
        let a = Args::parse_from([
            "ingot-agent",
            "--cmdline",
            "ingot.purpose=enlist",
            "--sysfs-root",
            "/tmp/x",
            "--no-poweroff",
        ]);
        assert_eq!(a.cmdline.as_deref(), Some("ingot.purpose=enlist"));
        assert_eq!(a.sysfs_root, PathBuf::from("/tmp/x"));
        assert!(a.no_poweroff);
        assert_eq!(a.attempts, 6);
    }
}
