//! Clean shutdown: `ingot serve` running its rack (DHCP + TFTP) and `ingot rack` against a
//! region exit within a few seconds of SIGTERM or SIGINT, with status 0, their leases on disk.
//!
//! Everything runs inside network namespaces the test creates (a "lab" with bridge br0 on
//! 10.77.0.1/24, the boot network; a client namespace whose veth is on that bridge; a veth from
//! the test's namespace into the lab for the API). Only processes this test started are
//! signalled or killed, by their PIDs.

mod common;
use common::netns::{have, Netns, NsProc, Switch, Uplink};
use common::ok;
use common::{Client, BIN};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a signalled process may take to exit.
const STOP_WITHIN: Duration = Duration::from_secs(5);

fn tools_present() -> bool {
    ok(&["id", "-u"]).trim() == "0" && have("ip") && have("udhcpc")
}

/// Signal `p` and insist that it exits in time with status 0.
fn stop_cleanly(p: &mut NsProc, signal: &str, what: &str) -> Duration {
    match p.signal_and_wait(signal, STOP_WITHIN) {
        Some((st, took)) => {
            assert!(
                st.success(),
                "{what} exited with {st} after {signal} (not a clean exit); its log:\n{}",
                p.log()
            );
            eprintln!("{what}: exited cleanly {took:?} after {signal}");
            took
        }
        None => panic!(
            "{what} still running {STOP_WITHIN:?} after {signal}; its log:\n{}",
            p.log()
        ),
    }
}

/// The namespaces and links of one test; removed on drop.
struct Lab {
    /// The client: a veth `vcli` on the bridge.
    cli: Netns,
    _uplink: Uplink,
    /// The lab: bridge br0 on 10.77.0.1/24, the boot network.
    lab: Switch,
    api_ip: String,
    dir: tempfile::TempDir,
    db: String,
}

impl Lab {
    fn new(client_mac: &str) -> Lab {
        let lab = Switch::new("10.77.0.1/24");
        // A /30 inside a /24 picked at random (another suite may run on this host).
        let net = rand::random::<u8>();
        let (api_ip, host_ip) = (format!("10.78.{net}.1"), format!("10.78.{net}.2"));
        let uplink = Uplink::new(&lab.ns, &format!("{host_ip}/30"), &format!("{api_ip}/30"));
        let cli = Netns::new("isc");
        lab.plug(&cli, "vcli", None);
        cli.ip(&["link", "set", "vcli", "address", client_mac]);
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.path().join("ingot.sqlite").display());
        Lab {
            cli,
            _uplink: uplink,
            lab,
            api_ip,
            dir,
            db,
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// `ingot serve` in the lab (with its rack on br0 when `rack`), once its API answers.
    async fn serve(&self, rack: bool, log: &str) -> (NsProc, Client) {
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
        let mut p = NsProc::ingot(&self.lab.ns.name, &args, self.path(log));
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

    /// The address busybox udhcpc gets on the client's veth, or "" after 10 tries.
    async fn lease(&self) -> String {
        for _ in 0..10 {
            if let Some(l) = common::netns::udhcpc(&self.cli, "vcli", self.dir.path(), 3, false) {
                return l.get("ip").to_string();
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
        let took = stop_cleanly(
            &mut region,
            signal,
            &format!("ingot serve with its rack ({signal})"),
        );
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
        let mut rack = NsProc::ingot(
            &lab.lab.ns.name,
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
        stop_cleanly(&mut rack, signal, &format!("ingot rack ({signal})"));
        let log = rack.log();
        assert!(log.contains("DHCP server stopped"), "{log}");
        assert!(log.contains("rack stopped"), "{log}");
        assert!(
            lease_logged(&leases, mac, &ip),
            "{ip} for {mac} is not in {}",
            leases.display()
        );
    }
    stop_cleanly(&mut region, "TERM", "ingot serve (no rack)");
}
