//! `20-maas-02-dhcp-unconfigured-ifaces`: brings up every physical interface that is down and
//! runs busybox `udhcpc` on those without an IPv4 address, so that later scripts (and LLDP
//! capture) see every link. Only in the ephemeral environment: anywhere else it changes
//! nothing and says so.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::{Ctx, Done, Out};

/// One physical interface as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iface {
    pub name: String,
    pub up: bool,
    pub has_ipv4: bool,
}

/// What to do: (interfaces to bring up, interfaces to run DHCP on).
pub fn plan(ifaces: &[Iface]) -> (Vec<String>, Vec<String>) {
    let up = ifaces
        .iter()
        .filter(|i| !i.up)
        .map(|i| i.name.clone())
        .collect();
    let dhcp = ifaces
        .iter()
        .filter(|i| !i.has_ipv4)
        .map(|i| i.name.clone())
        .collect();
    (up, dhcp)
}

const IFF_UP: u64 = 0x1;

fn is_up(sys: &Path, name: &str) -> bool {
    std::fs::read_to_string(sys.join("class/net").join(name).join("flags"))
        .ok()
        .and_then(|f| u64::from_str_radix(f.trim().trim_start_matches("0x"), 16).ok())
        .is_some_and(|f| f & IFF_UP != 0)
}

fn ipv4_of(name: &str) -> Vec<String> {
    crate::resources::netstate::getifaddrs()
        .into_iter()
        .filter(|a| a.interface == name && a.address.is_ipv4())
        .map(|a| format!("{}/{}", a.address, a.prefix))
        .collect()
}

/// The physical interfaces, their state and whether they have an IPv4 address.
pub fn interfaces(ctx: &Ctx) -> Vec<Iface> {
    let addrs = if ctx.roots.kernel_probes {
        crate::resources::netstate::getifaddrs()
    } else {
        Vec::new()
    };
    crate::inventory::physical_nics(&ctx.roots.sys)
        .into_iter()
        .map(|n| Iface {
            up: is_up(&ctx.roots.sys, &n.name),
            has_ipv4: addrs
                .iter()
                .any(|a| a.interface == n.name && a.address.is_ipv4()),
            name: n.name,
        })
        .collect()
}

/// SIOCSIFFLAGS with IFF_UP added.
fn bring_up(name: &str) -> std::io::Result<()> {
    let cname = std::ffi::CString::new(name)
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let bytes = cname.as_bytes_with_nul();
    // SAFETY: a plain datagram socket used for interface ioctls; `ifr` is a zeroed ifreq whose
    // name is copied in bounds (checked below) and closed afterwards.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut ifr: libc::ifreq = std::mem::zeroed();
        if bytes.len() > ifr.ifr_name.len() {
            libc::close(fd);
            return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
        }
        for (d, s) in ifr.ifr_name.iter_mut().zip(bytes) {
            *d = *s as libc::c_char;
        }
        let mut r = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut ifr);
        if r == 0 {
            ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            r = libc::ioctl(fd, libc::SIOCSIFFLAGS, &ifr);
        }
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if r != 0 {
            return Err(err);
        }
    }
    Ok(())
}

pub fn run(ctx: &Ctx, out: &mut Out) -> Done {
    let ifaces = interfaces(ctx);
    let (to_up, to_dhcp) = plan(&ifaces);
    if !ctx.ephemeral {
        out.line("not in the ephemeral environment: nothing changed");
        for i in &ifaces {
            out.line(format!(
                "{}: {}, {}",
                i.name,
                if i.up { "up" } else { "down" },
                if i.has_ipv4 { "has IPv4" } else { "no IPv4" }
            ));
        }
        return Done::with(
            0,
            json!({
                "status": "skipped",
                "reason": "not in the ephemeral environment: nothing changed",
                "would_bring_up": to_up,
                "would_run_dhcp_on": to_dhcp,
            }),
        );
    }
    if ifaces.is_empty() {
        out.line("no physical network interface");
        return Done::ok();
    }
    let mut brought_up = Vec::new();
    for name in &to_up {
        match bring_up(name) {
            Ok(()) => {
                out.line(format!("{name}: brought up"));
                brought_up.push(name.clone());
            }
            Err(e) => out.eline(format!("{name}: cannot bring it up: {e}")),
        }
    }
    if !brought_up.is_empty() {
        // Give the links a moment to come up before asking for leases.
        std::thread::sleep(Duration::from_secs(2));
    }
    let script = ["/etc/udhcpc.script", "/usr/share/udhcpc/default.script"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let mut leases = Vec::new();
    for name in &to_dhcp {
        let mut cmd = std::process::Command::new("udhcpc");
        cmd.args(["-i", name, "-n", "-q", "-t", "3", "-T", "2"]);
        if let Some(s) = script {
            cmd.args(["-s", s]);
        }
        match cmd.output() {
            Ok(o) => {
                for l in String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .chain(String::from_utf8_lossy(&o.stderr).lines())
                {
                    out.line(format!("{name}: udhcpc: {l}"));
                }
                let got = ipv4_of(name);
                if got.is_empty() {
                    out.line(format!("{name}: no DHCP lease"));
                } else {
                    out.line(format!("{name}: DHCP gave {}", got.join(", ")));
                    leases.push(json!({"interface": name, "addresses": got}));
                }
            }
            Err(e) => out.eline(format!("{name}: cannot run udhcpc: {e}")),
        }
    }
    if to_up.is_empty() && to_dhcp.is_empty() {
        out.line("every physical interface is up and has an IPv4 address: nothing to do");
    }
    Done::with(
        0,
        json!({"brought_up": brought_up, "dhcp_tried": to_dhcp, "leases": leases}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_only_what_is_missing() {
        let i = |n: &str, up, v4| Iface {
            name: n.into(),
            up,
            has_ipv4: v4,
        };
        let (up, dhcp) = plan(&[
            i("eth0", true, true),
            i("eth1", false, false),
            i("eth2", true, false),
            i("eth3", false, true),
        ]);
        assert_eq!(up, ["eth1", "eth3"]);
        assert_eq!(dhcp, ["eth1", "eth2"]);
    }

    #[test]
    fn outside_the_ephemeral_environment_nothing_changes() {
        let t = tempfile::tempdir().unwrap();
        crate::inventory::tests::fake_nic(
            t.path().join("sys").as_path(),
            "eth9",
            "52:54:00:00:00:09",
            true,
        );
        std::fs::write(t.path().join("sys/class/net/eth9/flags"), "0x1002\n").unwrap();
        let ctx = super::super::info::tests::ctx(t.path());
        assert!(!ctx.ephemeral);
        let mut o = Out::default();
        let d = run(&ctx, &mut o);
        assert!(o
            .out
            .starts_with("not in the ephemeral environment: nothing changed\n"));
        assert!(o.out.contains("eth9: down, no IPv4"), "{}", o.out);
        let r = d.result.unwrap();
        assert_eq!(r["status"], "skipped");
        assert_eq!(r["would_bring_up"], json!(["eth9"]));
        assert_eq!(r["would_run_dhcp_on"], json!(["eth9"]));
        assert!(!is_up(&t.path().join("sys"), "eth9"));
    }
}
