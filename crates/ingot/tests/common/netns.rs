//! Network namespaces for tests that run real programs (Ingot's binaries, busybox udhcpc,
//! curl) on a boot network the test makes: namespaces, a "switch" (a bridge in a namespace of
//! its own) that other namespaces plug into, processes started inside a namespace, and a DHCP
//! client. Root only. Everything is removed on drop: namespaces (with their links), and
//! processes, killed by their own PIDs.

use super::{ok, sh, BIN};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Whether `program` is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A short name no other test on this host has at the same time (interface names are at
/// most 15 characters).
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{:05}", rand::random::<u32>() % 100_000)
}

/// A network namespace, deleted (with the links in it) when dropped.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// A new namespace named `prefix` and a random number, its loopback up.
    pub fn new(prefix: &str) -> Netns {
        let ns = Netns {
            name: unique(prefix),
        };
        ok(&["ip", "netns", "add", &ns.name]);
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip ARGS` inside the namespace; must succeed.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["ip", "-n", &self.name];
        all.extend_from_slice(args);
        ok(&all)
    }

    /// Run a program inside the namespace; its output, whatever its exit status.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["ip", "netns", "exec", &self.name];
        all.extend_from_slice(args);
        sh(&all)
    }

    /// A veth from this namespace (`iface`) to `other` (`other_iface`), both ends up.
    pub fn link(&self, iface: &str, other: &Netns, other_iface: &str) {
        self.ip(&[
            "link",
            "add",
            iface,
            "type",
            "veth",
            "peer",
            "name",
            other_iface,
            "netns",
            &other.name,
        ]);
        self.ip(&["link", "set", iface, "up"]);
        other.ip(&["link", "set", other_iface, "up"]);
    }

    /// The MAC address of interface `iface`.
    pub fn mac(&self, iface: &str) -> String {
        let link = self.ip(&["-o", "link", "show", iface]);
        link.split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .unwrap_or_else(|| panic!("no MAC in {link}"))
            .to_string()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = sh(&["ip", "netns", "del", &self.name]);
    }
}

/// A switch: bridge `br0` in a namespace of its own, with `address` (a CIDR) on it; other
/// namespaces plug into it with a veth each.
pub struct Switch {
    pub ns: Netns,
}

impl Switch {
    pub fn new(address: &str) -> Switch {
        let ns = Netns::new("isw");
        ns.ip(&["link", "add", "br0", "type", "bridge"]);
        ns.ip(&["addr", "add", address, "dev", "br0"]);
        ns.ip(&["link", "set", "br0", "up"]);
        Switch { ns }
    }

    /// Plug namespace `other` in: a veth with one end on the bridge and the other in `other`
    /// as `iface`, up, with `address` (a CIDR) when given.
    pub fn plug(&self, other: &Netns, iface: &str, address: Option<&str>) {
        let port = unique("p");
        self.ns.link(&port, other, iface);
        self.ns.ip(&["link", "set", &port, "master", "br0"]);
        if let Some(a) = address {
            other.ip(&["addr", "add", a, "dev", iface]);
        }
    }
}

/// A veth from the test's own namespace into `ns`: `outside` (a CIDR) on the test's end,
/// `inside` on the other; removed when dropped (its peer goes with it).
pub struct Uplink {
    pub iface: String,
}

impl Uplink {
    pub fn new(ns: &Netns, outside: &str, inside: &str) -> Uplink {
        let up = Uplink {
            iface: unique("up"),
        };
        let peer = unique("ul");
        ok(&[
            "ip", "link", "add", &up.iface, "type", "veth", "peer", "name", &peer, "netns",
            &ns.name,
        ]);
        ok(&["ip", "addr", "add", outside, "dev", &up.iface]);
        ok(&["ip", "link", "set", &up.iface, "up"]);
        ns.ip(&["addr", "add", inside, "dev", &peer]);
        ns.ip(&["link", "set", &peer, "up"]);
        up
    }
}

impl Drop for Uplink {
    fn drop(&mut self) {
        let _ = sh(&["ip", "link", "del", &self.iface]);
    }
}

/// A process this test started inside a namespace, its output in a file; killed (by its PID)
/// if still running when dropped. `ip netns exec` execs the program, so the PID is the
/// program's own.
pub struct NsProc {
    pub child: Child,
    pub log: PathBuf,
}

impl NsProc {
    /// `argv` inside namespace `ns`, with `env`.
    pub fn start(ns: &str, argv: &[&str], env: &[(&str, &str)], log: PathBuf) -> NsProc {
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns])
            .args(argv)
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start a process in a namespace");
        NsProc { child, log }
    }

    /// `ingot ARGS` inside namespace `ns`, logging at info.
    pub fn ingot(ns: &str, args: &[&str], log: PathBuf) -> NsProc {
        let mut argv = vec![BIN];
        argv.extend_from_slice(args);
        NsProc::start(ns, &argv, &[("INGOT_LOG", "info")], log)
    }

    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Send `signal` (a name: TERM, KILL, STOP, CONT…) to it.
    pub fn signal(&self, signal: &str) {
        ok(&["kill", "-s", signal, &self.pid()]);
    }

    /// Send `signal` and wait up to `within`; the exit status and how long it took, or `None`
    /// if it is still running then.
    pub fn signal_and_wait(
        &mut self,
        signal: &str,
        within: Duration,
    ) -> Option<(ExitStatus, Duration)> {
        self.signal(signal);
        let t0 = Instant::now();
        while t0.elapsed() < within {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return Some((st, t0.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Wait (10 s at most) until its log says `what`.
    pub async fn wait_log(&mut self, what: &str) {
        for _ in 0..200 {
            if self.log().contains(what) {
                return;
            }
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                panic!("it exited ({st}) before '{what}':\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no '{what}' in the log after 10 s:\n{}", self.log());
    }
}

impl Drop for NsProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// What busybox udhcpc's script saw when it was bound: its environment (`ip`, `serverid`,
/// `siaddr`, `boot_file`, `mask`, `dns`, `domain`…).
#[derive(Debug, Clone)]
pub struct Lease(pub HashMap<String, String>);

impl Lease {
    pub fn get(&self, k: &str) -> &str {
        self.0.get(k).map(String::as_str).unwrap_or("")
    }
    pub fn ip(&self) -> std::net::Ipv4Addr {
        self.get("ip")
            .parse()
            .unwrap_or_else(|_| panic!("no address in {self:?}"))
    }
    /// The DHCP server that gave it (option 54).
    pub fn server(&self) -> &str {
        self.get("serverid")
    }
}

/// A udhcpc script `DIR/TAG.sh` (executable) running `body` for each event; its path.
pub fn udhcpc_script(dir: &Path, tag: &str, body: &str) -> String {
    let script = dir.join(format!("{tag}.sh"));
    std::fs::write(&script, format!("#!/bin/sh\n{body}")).expect("udhcpc script");
    let script = script.to_string_lossy().to_string();
    ok(&["chmod", "+x", &script]);
    script
}

/// Ask for a lease once with busybox udhcpc on `iface` in namespace `ns` (`tries` DISCOVERs
/// one second apart; as a BIOS PXE ROM, option 93 = 0, when `pxe`). When bound, its script
/// puts the address on the interface (for what the client does next, e.g. TFTP) and writes
/// its environment under `dir`. `None` when no server answered.
pub fn udhcpc(ns: &Netns, iface: &str, dir: &Path, tries: u32, pxe: bool) -> Option<Lease> {
    let tag = unique("u");
    let seen = dir.join(format!("{tag}.env"));
    let script = udhcpc_script(
        dir,
        &tag,
        &format!(
            "[ \"$1\" = bound ] || exit 0\nenv > {seen}.tmp && mv {seen}.tmp {seen}\nip addr flush dev \"$interface\"\nip addr add \"$ip/$mask\" dev \"$interface\"\n",
            seen = seen.display()
        ),
    );
    let tries = tries.to_string();
    let mut args = vec![
        "udhcpc", "-i", iface, "-n", "-q", "-f", "-t", &tries, "-T", "1", "-s", &script,
    ];
    if pxe {
        args.extend(["-x", "0x5d:0000", "-O", "bootfile"]);
    }
    let _ = ns.run(&args);
    let env = std::fs::read_to_string(&seen).ok()?;
    let lease: HashMap<String, String> = env
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Some(Lease(lease))
}

/// Busybox udhcpc left running on `iface` in namespace `ns`, as a machine's DHCP client is:
/// it binds, renews at half the lease, rebinds at seven eighths, and starts over after a NAK
/// or the lease's end. Its script applies each lease to the interface and appends one line per
/// event to the returned file: the event (`bound`, `renew`, `nak`, `deconfig`…), then its
/// `ip` and `serverid`.
pub fn udhcpc_running(ns: &Netns, iface: &str, dir: &Path) -> (NsProc, PathBuf) {
    let tag = unique("ud");
    let events = dir.join(format!("{tag}.events"));
    let script = udhcpc_script(
        dir,
        &tag,
        &format!(
            "echo \"$1 ${{ip:--}} ${{serverid:--}}\" >> {events}\ncase \"$1\" in\n  bound|renew) ip addr flush dev \"$interface\"; ip addr add \"$ip/$mask\" dev \"$interface\" ;;\n  deconfig) ip addr flush dev \"$interface\" ;;\nesac\n",
            events = events.display()
        ),
    );
    let p = NsProc::start(
        &ns.name,
        &["udhcpc", "-i", iface, "-f", "-T", "1", "-s", &script],
        &[],
        dir.join(format!("{tag}.log")),
    );
    (p, events)
}

/// The lines of a [`udhcpc_running`] client's event file so far: (event, ip, serverid).
pub fn udhcpc_events(file: &Path) -> Vec<(String, String, String)> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace().map(String::from);
            Some((w.next()?, w.next()?, w.next()?))
        })
        .collect()
}
