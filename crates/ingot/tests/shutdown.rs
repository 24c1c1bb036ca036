//! Clean shutdown: `ingot serve` running its rack (DHCP + TFTP) and `ingot rack` against a
//! region exit within a few seconds of SIGTERM or SIGINT, with status 0, their leases on disk.
//!
//! Everything runs inside network namespaces the test creates (a "lab" with bridge br0 on
//! 10.77.0.1/24, the boot network; a client namespace whose veth is on that bridge; a veth from
//! the test's namespace into the lab for the API). Only processes this test started are
//! signalled or killed, by their PIDs.

mod common;
use common::{ok, sh};
use common::{Client, BIN};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a signalled process may take to exit.
const STOP_WITHIN: Duration = Duration::from_secs(5);

fn have(b: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {b}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn tools_present() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    root && have("ip") && have("udhcpc")
}

/// A process this test started, with its stderr in a file; killed (by PID) if still running
/// when dropped.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    /// `ingot ARGS` inside namespace `ns`.
    fn start(ns: &str, args: &[&str], log: PathBuf) -> Proc {
        let err = std::fs::File::create(&log).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns, BIN])
            .args(args)
            .env("INGOT_LOG", "info")
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("start ingot");
        Proc { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Send `signal` (by PID: `ip netns exec` execs the program, so the PID is ingot's) and
    /// wait up to [`STOP_WITHIN`]; the exit status and how long it took, or `None` if it is
    /// still running then.
    fn signal_and_wait(&mut self, signal: &str) -> Option<(ExitStatus, Duration)> {
        let pid = self.child.id().to_string();
        ok(&["kill", "-s", signal, &pid]);
        let t0 = Instant::now();
        while t0.elapsed() < STOP_WITHIN {
            if let Some(st) = self.child.try_wait().unwrap() {
                return Some((st, t0.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Signal it and insist that it exits in time with status 0.
    fn stop_cleanly(&mut self, signal: &str, what: &str) -> Duration {
        match self.signal_and_wait(signal) {
            Some((st, took)) => {
                assert!(
                    st.success(),
                    "{what} exited with {st} after {signal} (not a clean exit); its log:\n{}",
                    self.log()
                );
                eprintln!("{what}: exited cleanly {took:?} after {signal}");
                took
            }
            None => panic!(
                "{what} still running {STOP_WITHIN:?} after {signal}; its log:\n{}",
                self.log()
            ),
        }
    }

    /// Wait until its log says `what`.
    async fn wait_log(&mut self, what: &str) {
        for _ in 0..200 {
            if self.log().contains(what) {
                return;
            }
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!("ingot exited ({st}) before '{what}':\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no '{what}' in the log after 10 s:\n{}", self.log());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The namespaces and links of one test; removed on drop.
struct Lab {
    lab: String,
    cli: String,
    host_if: String,
    api_ip: String,
    dir: tempfile::TempDir,
    db: String,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = sh(&["ip", "netns", "del", &self.lab]);
        let _ = sh(&["ip", "netns", "del", &self.cli]);
        let _ = sh(&["ip", "link", "del", &self.host_if]);
    }
}

impl Lab {
    fn new(client_mac: &str) -> Lab {
        let id = format!("{:05}", rand::random::<u32>() % 100_000);
        let (l, c) = (format!("isl{id}"), format!("isc{id}"));
        let (host_if, lab_if) = (format!("sh{id}"), format!("sl{id}"));
        // A /30 inside a /24 picked at random (another suite may run on this host).
        let net = rand::random::<u8>();
        let (api_ip, host_ip) = (format!("10.78.{net}.1"), format!("10.78.{net}.2"));
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.path().join("ingot.sqlite").display());
        let lab = Lab {
            lab: l.clone(),
            cli: c.clone(),
            host_if: host_if.clone(),
            api_ip: api_ip.clone(),
            dir,
            db,
        };
        ok(&["ip", "netns", "add", &l]);
        ok(&["ip", "netns", "add", &c]);
        ok(&["ip", "-n", &l, "link", "set", "lo", "up"]);
        ok(&["ip", "-n", &c, "link", "set", "lo", "up"]);
        ok(&["ip", "-n", &l, "link", "add", "br0", "type", "bridge"]);
        ok(&["ip", "-n", &l, "addr", "add", "10.77.0.1/24", "dev", "br0"]);
        ok(&["ip", "-n", &l, "link", "set", "br0", "up"]);
        ok(&[
            "ip", "link", "add", &host_if, "type", "veth", "peer", "name", &lab_if, "netns", &l,
        ]);
        ok(&[
            "ip",
            "addr",
            "add",
            &format!("{host_ip}/30"),
            "dev",
            &host_if,
        ]);
        ok(&["ip", "link", "set", &host_if, "up"]);
        ok(&[
            "ip",
            "-n",
            &l,
            "addr",
            "add",
            &format!("{api_ip}/30"),
            "dev",
            &lab_if,
        ]);
        ok(&["ip", "-n", &l, "link", "set", &lab_if, "up"]);
        // The client: a veth on the bridge.
        ok(&[
            "ip", "-n", &l, "link", "add", "vsrv", "type", "veth", "peer", "name", "vcli", "netns",
            &c,
        ]);
        ok(&["ip", "-n", &l, "link", "set", "vsrv", "master", "br0"]);
        ok(&["ip", "-n", &l, "link", "set", "vsrv", "up"]);
        ok(&["ip", "-n", &c, "link", "set", "vcli", "address", client_mac]);
        ok(&["ip", "-n", &c, "link", "set", "vcli", "up"]);
        lab
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// `ingot serve` in the lab (with its rack on br0 when `rack`), once its API answers.
    async fn serve(&self, rack: bool, log: &str) -> (Proc, Client) {
        let data = self.dir.path().to_str().unwrap().to_string();
        let mut args = vec![
            "serve",
            "--database",
            &self.db,
            "--data-dir",
            &data,
            "--listen",
            "0.0.0.0:5240",
        ];
        if rack {
            args.extend([
                "--rack-address",
                "10.77.0.1",
                "--rack-interface",
                "br0",
                "--rack-poll-secs",
                "1",
            ]);
        }
        let mut p = Proc::start(&self.lab, &args, self.path(log));
        p.wait_log("listening on").await;
        let key = ok(&[BIN, "apikey", "--database", &self.db, "--username", "admin"])
            .trim()
            .to_string();
        (
            p,
            Client::new(&format!("http://{}:5240", self.api_ip), &key),
        )
    }

    /// Admin, then a managed subnet on br0 with DHCP on.
    async fn configure(&self, api: &Client) {
        api.post(
            "/MAAS/api/2.0/subnets/",
            &[("cidr", "10.77.0.0/24"), ("gateway_ip", "10.77.0.1")],
        )
        .await
        .ok();
        api.post(
            "/MAAS/api/2.0/ipranges/",
            &[
                ("type", "dynamic"),
                ("start_ip", "10.77.0.100"),
                ("end_ip", "10.77.0.150"),
            ],
        )
        .await
        .ok();
        api.put("/MAAS/api/2.0/fabrics/0/vlans/0/", &[("dhcp_on", "true")])
            .await
            .ok();
    }

    /// The address busybox udhcpc gets on the client's veth, or "" after 10 s of trying.
    async fn lease(&self) -> String {
        for _ in 0..10 {
            let o = sh(&[
                "ip",
                "netns",
                "exec",
                &self.cli,
                "udhcpc",
                "-i",
                "vcli",
                "-n",
                "-q",
                "-f",
                "-t",
                "3",
                "-T",
                "1",
                "-s",
                "/bin/true",
            ]);
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            if let Some(ip) = text.split_whitespace().skip_while(|w| *w != "lease").nth(2) {
                return ip.to_string();
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        String::new()
    }
}

/// The lease log holds a bound record for `mac` (`B <mac hex> <ip> …`).
fn lease_logged(file: &Path, mac: &str, ip: &str) -> bool {
    let hex = mac.replace(':', "");
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with(&format!("B {hex} {ip} ")))
}

fn skip() -> bool {
    if tools_present() {
        return false;
    }
    assert!(
        std::env::var("CI").is_err(),
        "CI must run as root with iproute2 and busybox udhcpc (scripts/peers/tftp.sh)"
    );
    eprintln!("SKIP: needs root, ip and udhcpc");
    true
}

/// `ingot serve --rack-address … --rack-interface br0` serving DHCP stops within 5 s of SIGTERM,
/// and of SIGINT, with status 0 and the lease it handed out in the lease log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_its_rack_stops_on_sigterm_and_sigint() {
    if skip() {
        return;
    }
    let mac = "52:54:00:5d:00:01";
    let lab = Lab::new(mac);
    ok(&[
        BIN,
        "createadmin",
        "--database",
        &lab.db,
        "--username",
        "admin",
        "--password",
        "pw",
    ]);
    let leases = lab.path("rack/dhcp.leases");
    for (round, signal) in ["TERM", "INT"].into_iter().enumerate() {
        let (mut region, api) = lab.serve(true, &format!("serve-{signal}.log")).await;
        if round == 0 {
            lab.configure(&api).await;
        }
        region.wait_log("DHCP server running").await;
        let ip = lab.lease().await;
        assert!(
            ip.starts_with("10.77.0.1"),
            "no lease from the rack's DHCP (got '{ip}'):\n{}",
            region.log()
        );
        let took = region.stop_cleanly(signal, &format!("ingot serve with its rack ({signal})"));
        let log = region.log();
        assert!(log.contains("DHCP server stopped"), "{log}");
        assert!(log.contains("rack stopped"), "{log}");
        assert!(
            lease_logged(&leases, mac, &ip),
            "{ip} for {mac} is not in {}",
            leases.display()
        );
        eprintln!("round {round}: {signal} -> exit in {took:?}");
    }
}

/// `ingot rack` against a region (both in the lab) stops within 5 s of SIGTERM, and of SIGINT,
/// with status 0 and its lease log written; the region then stops as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rack_stops_on_sigterm_and_sigint() {
    if skip() {
        return;
    }
    let mac = "52:54:00:5d:00:02";
    let lab = Lab::new(mac);
    ok(&[
        BIN,
        "createadmin",
        "--database",
        &lab.db,
        "--username",
        "admin",
        "--password",
        "pw",
    ]);
    let (mut region, api) = lab.serve(false, "region.log").await;
    lab.configure(&api).await;
    let secret = std::fs::read_to_string(lab.path("rack.secret")).unwrap();
    let rack_dir = lab.path("rackhost");
    let leases = rack_dir.join("rack/dhcp.leases");
    for signal in ["TERM", "INT"] {
        let mut rack = Proc::start(
            &lab.lab,
            &[
                "rack",
                "--region",
                "http://10.77.0.1:5240/MAAS",
                "--secret",
                secret.trim(),
                "--address",
                "10.77.0.1",
                "--interface",
                "br0",
                "--data-dir",
                rack_dir.to_str().unwrap(),
            ],
            lab.path(&format!("rack-{signal}.log")),
        );
        rack.wait_log("DHCP server running").await;
        let ip = lab.lease().await;
        assert!(
            ip.starts_with("10.77.0.1"),
            "no lease from ingot rack (got '{ip}'):\n{}",
            rack.log()
        );
        rack.stop_cleanly(signal, &format!("ingot rack ({signal})"));
        let log = rack.log();
        assert!(log.contains("DHCP server stopped"), "{log}");
        assert!(log.contains("rack stopped"), "{log}");
        assert!(
            lease_logged(&leases, mac, &ip),
            "{ip} for {mac} is not in {}",
            leases.display()
        );
    }
    region.stop_cleanly("TERM", "ingot serve (no rack)");
}
