//! The rack path end to end, inside network namespaces this test creates: `ingot serve` with its
//! rack services on a bridge in a "lab" namespace, a client namespace on a veth into that
//! bridge. A real DHCP client (busybox udhcpc) gets its lease from Ingot's DHCP with the PXE next
//! hop, curl fetches the iPXE loader over Ingot's TFTP and the iPXE script over HTTP, and the
//! MAC's netboot timeline shows each hop. Nothing leaves the namespaces.

mod common;
use common::{Client, BIN};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn sh(args: &[&str]) -> std::process::Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("run")
}

fn ok(args: &[&str]) -> String {
    let o = sh(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Namespaces and links, removed on drop.
struct Lab {
    lab: String,
    cli: String,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = sh(&["ip", "netns", "del", &self.lab]);
        let _ = sh(&["ip", "netns", "del", &self.cli]);
        let _ = sh(&["ip", "link", "del", &format!("ih{}", &self.lab[3..])]);
    }
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tools_present() -> bool {
    let have = |b: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {b}"))
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    root && have("ip") && have("udhcpc") && have("curl")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dhcp_tftp_http_hops_through_the_rack() {
    if !tools_present() {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run as root with iproute2, busybox (udhcpc) and curl (scripts/peers/tftp.sh)"
        );
        eprintln!("SKIP: needs root, ip, udhcpc and curl");
        return;
    }
    let id = format!("{:05}", rand::random::<u32>() % 100_000);
    let lab = Lab {
        lab: format!("inl{id}"),
        cli: format!("inc{id}"),
    };
    let (l, c) = (lab.lab.as_str(), lab.cli.as_str());
    let (host_if, lab_if) = (format!("ih{id}"), format!("il{id}"));
    ok(&["ip", "netns", "add", l]);
    ok(&["ip", "netns", "add", c]);
    ok(&["ip", "-n", l, "link", "set", "lo", "up"]);
    ok(&["ip", "-n", l, "link", "add", "br0", "type", "bridge"]);
    ok(&["ip", "-n", l, "addr", "add", "10.77.0.1/24", "dev", "br0"]);
    ok(&["ip", "-n", l, "link", "set", "br0", "up"]);
    // The client: a veth from its namespace into the lab's bridge.
    ok(&[
        "ip", "-n", l, "link", "add", "vsrv", "type", "veth", "peer", "name", "vcli", "netns", c,
    ]);
    ok(&["ip", "-n", l, "link", "set", "vsrv", "master", "br0"]);
    ok(&["ip", "-n", l, "link", "set", "vsrv", "up"]);
    ok(&[
        "ip",
        "-n",
        c,
        "link",
        "set",
        "vcli",
        "address",
        "52:54:00:77:aa:01",
    ]);
    ok(&["ip", "-n", c, "link", "set", "vcli", "up"]);
    ok(&["ip", "-n", c, "link", "set", "lo", "up"]);
    // The test's own way in (for the API): a veth from this namespace into the lab.
    ok(&[
        "ip", "link", "add", &host_if, "type", "veth", "peer", "name", &lab_if, "netns", l,
    ]);
    ok(&["ip", "addr", "add", "10.79.0.2/30", "dev", &host_if]);
    ok(&["ip", "link", "set", &host_if, "up"]);
    ok(&["ip", "-n", l, "addr", "add", "10.79.0.1/30", "dev", &lab_if]);
    ok(&["ip", "-n", l, "link", "set", &lab_if, "up"]);

    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("ingot.sqlite").display());
    let data = dir.path().to_string_lossy().to_string();
    ok(&[
        BIN,
        "createadmin",
        "--database",
        &db,
        "--username",
        "admin",
        "--password",
        "pw",
    ]);
    let key = ok(&[BIN, "apikey", "--database", &db, "--username", "admin"])
        .trim()
        .to_string();
    let server = Proc(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                l,
                BIN,
                "serve",
                "--database",
                &db,
                "--data-dir",
                &data,
                "--listen",
                "0.0.0.0:5240",
                "--rack-address",
                "10.77.0.1",
                "--rack-interface",
                "br0",
                "--rack-poll-secs",
                "1",
            ])
            .env("INGOT_LOG", "info")
            .stdout(Stdio::null())
            .spawn()
            .expect("start ingot serve in the lab namespace"),
    );
    let api = Client::new("http://10.79.0.1:5240", &key);
    let mut up = false;
    for _ in 0..100 {
        if api
            .http
            .get("http://10.79.0.1:5240/MAAS/api/2.0/version/")
            .send()
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "ingot serve did not come up in the lab namespace");
    // The boot network, DHCP on.
    api.post(
        "/MAAS/api/2.0/subnets/",
        &[
            ("cidr", "10.77.0.0/24"),
            ("gateway_ip", "10.77.0.1"),
            ("dns_servers", "10.77.0.1"),
        ],
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
    api.put("/MAAS/api/2.0/fabrics/1/vlans/0/", &[("dhcp_on", "true")])
        .await
        .ok();
    // A real DHCP client, asking as a BIOS PXE ROM would (option 93 = 0).
    let mut lease = String::new();
    for _ in 0..10 {
        let o = sh(&[
            "ip",
            "netns",
            "exec",
            c,
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
            "-x",
            "0x5d:0000",
            "-O",
            "bootfile",
            "-O",
            "tftp",
        ]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        if let Some(ip) = text.split_whitespace().skip_while(|w| *w != "lease").nth(2) {
            lease = ip.to_string();
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        lease.starts_with("10.77.0.1"),
        "no lease from Ingot's DHCP (got '{lease}')"
    );
    // TFTP: the iPXE loader the DHCP answer names.
    ok(&[
        "ip",
        "-n",
        c,
        "addr",
        "add",
        &format!("{lease}/24"),
        "dev",
        "vcli",
    ]);
    let out = dir.path().join("undionly.kpxe");
    let o = sh(&[
        "ip",
        "netns",
        "exec",
        c,
        "curl",
        "-s",
        "--max-time",
        "20",
        "-o",
        out.to_str().unwrap(),
        "tftp://10.77.0.1/undionly.kpxe",
    ]);
    assert!(
        o.status.success(),
        "TFTP fetch failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read("/usr/lib/ipxe/undionly.kpxe").unwrap(),
        "the loader served is Debian's"
    );
    // HTTP: the iPXE script for this MAC (no ephemeral image has been built in this test).
    let script = ok(&[
        "ip",
        "netns",
        "exec",
        c,
        "curl",
        "-s",
        "--max-time",
        "10",
        "http://10.77.0.1:5240/MAAS/boot/ipxe?mac=52:54:00:77:aa:01",
    ]);
    assert!(script.starts_with("#!ipxe"), "{script}");
    // The timeline: DHCP, TFTP and HTTP hops for the client's MAC.
    let mut hops = Vec::new();
    for _ in 0..30 {
        let tl = api
            .get("/MAAS/api/2.0/netboot-timeline/?mac=52:54:00:77:aa:01")
            .await
            .ok()
            .json();
        hops = tl
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["hop"].as_str().unwrap_or(""),
                    e["detail"].as_str().unwrap_or("")
                )
            })
            .collect();
        if ["dhcp", "tftp", "http"]
            .iter()
            .all(|h| hops.iter().any(|x| x.starts_with(h)))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for h in ["dhcp", "tftp", "http"] {
        assert!(
            hops.iter().any(|x| x.starts_with(h)),
            "no {h} hop in {hops:#?}"
        );
    }
    assert!(
        hops.iter().any(|x| x.contains("undionly.kpxe")),
        "{hops:#?}"
    );
    drop(server);
}
