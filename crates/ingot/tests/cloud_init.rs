//! What a deployed machine hands to cloud-init, checked by the real cloud-init (Debian's
//! package, unpacked by `scripts/peers/cloudinit.sh`, never installed as a service): the
//! vendor-data and user-data pass `cloud-init schema`, and the network-config of a machine
//! with a bond, a VLAN on it, a bridge, static addresses, a static route, DNS servers and the
//! search domain is rendered by `cloud-init devel net-convert` for Debian (ENI) and for
//! netplan, with every piece where it belongs.

mod common;

use base64::Engine;
use common::{mac, Server};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian's interpreter, where cloud-init's dependencies (Debian's python3-* packages) are.
const DEBIAN_PYTHON: &str = "/usr/bin/python3";

/// The unpacked cloud-init, or None (skipped outside CI; CI must have it).
fn cloud_init() -> Option<PathBuf> {
    let root = std::env::var_os("INGOT_CLOUD_INIT").map(PathBuf::from);
    match root.filter(|r| r.join("usr/bin/cloud-init").exists()) {
        Some(r) => Some(r),
        None => {
            assert!(
                std::env::var("CI").is_err(),
                "CI must provide cloud-init (scripts/peers/cloudinit.sh)"
            );
            eprintln!("SKIP: INGOT_CLOUD_INIT is not set (scripts/peers/cloudinit.sh)");
            None
        }
    }
}

/// `cloud-init ARGS…`: (success, stdout + stderr).
fn run(root: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(DEBIAN_PYTHON)
        .arg(root.join("usr/bin/cloud-init"))
        .args(args)
        .env("PYTHONPATH", root.join("usr/lib/python3/dist-packages"))
        .output()
        .expect("python3");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn real_cloud_init_takes_the_deploy_configuration() {
    let Some(ci) = cloud_init() else {
        return;
    };
    let s = Server::start(&[]).await;
    let c = s.client();
    for (name, value) in [
        ("ntp_servers", "ntp1.example.com 10.91.0.123"),
        ("http_proxy", "http://10.91.0.1:3128/"),
        ("main_archive", "http://10.91.0.1/debian"),
        ("remote_syslog", "10.91.0.1:514"),
    ] {
        c.post(
            "/MAAS/api/2.0/maas/?op=set_config",
            &[("name", name), ("value", value)],
        )
        .await
        .ok();
    }
    let fabric = c.get("/MAAS/api/2.0/fabrics/").await.ok().json()[0]["id"].to_string();
    let vlan = c
        .post(
            &format!("/MAAS/api/2.0/fabrics/{fabric}/vlans/"),
            &[("vid", "42"), ("name", "storage")],
        )
        .await
        .ok()
        .json()["id"]
        .to_string();
    for (cidr, gw, dns, vlan) in [
        ("10.91.0.0/24", "10.91.0.1", "10.91.0.53", None),
        ("10.92.0.0/24", "10.92.0.1", "", Some(vlan.as_str())),
        ("172.31.0.0/16", "", "", None),
    ] {
        let mut p = vec![("cidr", cidr)];
        if !gw.is_empty() {
            p.push(("gateway_ip", gw));
        }
        if !dns.is_empty() {
            p.push(("dns_servers", dns));
        }
        if let Some(v) = vlan {
            p.push(("vlan", v));
        }
        c.post("/MAAS/api/2.0/subnets/", &p).await.ok();
    }
    c.post(
        "/MAAS/api/2.0/static-routes/",
        &[
            ("source", "10.91.0.0/24"),
            ("destination", "172.31.0.0/16"),
            ("gateway_ip", "10.91.0.254"),
            ("metric", "20"),
        ],
    )
    .await
    .ok();
    let (m1, m2, m3) = (mac(81), mac(82), mac(83));
    let extra = [
        ("mac_addresses", m2.as_str()),
        ("mac_addresses", m3.as_str()),
    ];
    let sid = c.ready_machine("cinet", &m1, &extra).await;
    let m = c.machine(&sid).await;
    let id_of = |mac: &str| {
        m["interface_set"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["mac_address"] == mac.to_ascii_lowercase())
            .unwrap_or_else(|| panic!("{mac} in {m:#}"))["id"]
            .to_string()
    };
    let (i1, i2, i3) = (id_of(&m1), id_of(&m2), id_of(&m3));
    let ifaces = format!("/MAAS/api/2.0/nodes/{sid}/interfaces/");
    let bond = c
        .post(
            &format!("{ifaces}?op=create_bond"),
            &[
                ("name", "bond0"),
                ("parents", i1.as_str()),
                ("parents", i2.as_str()),
                ("bond_mode", "active-backup"),
            ],
        )
        .await
        .ok()
        .json()["id"]
        .to_string();
    let vl = c
        .post(
            &format!("{ifaces}?op=create_vlan"),
            &[("parent", bond.as_str()), ("vlan", vlan.as_str())],
        )
        .await
        .ok()
        .json()["id"]
        .to_string();
    let br = c
        .post(
            &format!("{ifaces}?op=create_bridge"),
            &[("name", "br0"), ("parent", i3.as_str())],
        )
        .await
        .ok()
        .json()["id"]
        .to_string();
    let link = |iid: &str, form: &[(&str, &str)]| {
        let c = c.clone();
        let url = format!("{ifaces}{iid}/?op=link_subnet");
        let form: Vec<(String, String)> = form
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        async move {
            let f: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            c.post(&url, &f).await.ok();
        }
    };
    link(
        &bond,
        &[
            ("mode", "STATIC"),
            ("subnet", "10.91.0.0/24"),
            ("ip_address", "10.91.0.10"),
            ("default_gateway", "true"),
        ],
    )
    .await;
    link(
        &vl,
        &[
            ("mode", "STATIC"),
            ("subnet", "10.92.0.0/24"),
            ("ip_address", "10.92.0.10"),
        ],
    )
    .await;
    link(&br, &[("mode", "DHCP"), ("subnet", "10.91.0.0/24")]).await;
    // A package repository, so that the apt sources of vendor-data meet the real schema.
    c.post(
        "/MAAS/api/2.0/package-repositories/",
        &[
            ("name", "extra"),
            ("url", "http://10.91.0.1/extra"),
            ("distributions", "bookworm"),
            ("arches", "amd64"),
        ],
    )
    .await
    .ok();
    c.upload_image("custom/ci-net", b"image").await;
    c.post(
        "/MAAS/api/2.0/machines/?op=allocate",
        &[("system_id", sid.as_str())],
    )
    .await
    .ok();
    let user_data = "#cloud-config\nruncmd:\n  - [touch, /var/lib/ingot-user-data-ran]\n";
    let ud64 = base64::engine::general_purpose::STANDARD.encode(user_data);
    c.op(
        &sid,
        "deploy",
        &[("distro_series", "custom/ci-net"), ("user_data", &ud64)],
    )
    .await
    .ok();
    let t = c.token(&sid).await;
    let cfg = c
        .with_token(&t)
        .get("/MAAS/metadata/latest/deploy-config")
        .await
        .ok()
        .json();

    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    // vendor-data and user-data: valid cloud-config for the real schema.
    let vd = write(
        "vendor-data",
        cfg["vendor_data"].as_str().expect("vendor_data"),
    );
    let (ok, out) = run(&ci, &["schema", "--config-file", &vd]);
    assert!(
        ok && out.contains("Valid cloud-config"),
        "vendor-data: {out}"
    );
    assert!(
        cfg["vendor_data"]
            .as_str()
            .unwrap()
            .contains("deb [arch=amd64] http://10.91.0.1/extra bookworm main"),
        "{cfg:#}"
    );
    let ud = base64::engine::general_purpose::STANDARD
        .decode(cfg["user_data"].as_str().unwrap())
        .unwrap();
    let ud = write("user-data", std::str::from_utf8(&ud).unwrap());
    let (ok, out) = run(&ci, &["schema", "--config-file", &ud]);
    assert!(ok && out.contains("Valid cloud-config"), "user-data: {out}");
    // The schema check can fail: a broken vendor-data is refused by it.
    let broken = write("broken", "#cloud-config\nntp: {servers: ntp1}\n");
    let (ok, out) = run(&ci, &["schema", "--config-file", &broken]);
    assert!(!ok, "a broken cloud-config passed: {out}");

    // network-config, rendered by cloud-init for Debian (ENI) and for netplan.
    let net = cfg["network_config"].as_str().unwrap();
    let nc = write("network-config", net);
    let render = |kind: &str| {
        let outdir = dir.path().join(kind);
        let (ok, out) = run(
            &ci,
            &[
                "devel",
                "net-convert",
                "-p",
                &nc,
                "-k",
                "yaml",
                "-D",
                "debian",
                "-d",
                outdir.to_str().unwrap(),
                "-O",
                kind,
            ],
        );
        assert!(ok, "net-convert -O {kind}: {out}\n{net}");
        let mut text = String::new();
        for e in walk(&outdir) {
            text.push_str(&std::fs::read_to_string(e).unwrap_or_default());
        }
        text
    };
    let eni = render("eni");
    for want in [
        "iface bond0 inet static",
        "address 10.91.0.10/24",
        "bond-slaves none",
        "bond-mode active-backup",
        "bond-master bond0",
        "iface bond0.42 inet static",
        "address 10.92.0.10/24",
        "vlan-raw-device bond0",
        "iface br0 inet dhcp",
        "bridge_ports",
        "dns-nameservers 10.91.0.53",
        "dns-search maas",
        "    gateway 10.91.0.1\n",
        "route add -net 172.31.0.0/16 gw 10.91.0.254",
    ] {
        assert!(
            eni.contains(want),
            "ENI lacks '{want}':\n{eni}\nfrom:\n{net}"
        );
    }
    // The default route is ifupdown's own `gateway` line (set with `ip`), never a `route add`
    // that needs net-tools; and there is one.
    assert!(!eni.contains("route add default"), "{eni}");
    assert_eq!(
        eni.matches("    gateway ").count(),
        1,
        "one default route:\n{eni}"
    );
    let netplan = render("netplan");
    let np: Value = yaml_as_json(&netplan);
    let b = &np["network"]["bonds"]["bond0"];
    assert_eq!(b["addresses"][0], "10.91.0.10/24", "{netplan}");
    assert_eq!(b["parameters"]["mode"], "active-backup", "{netplan}");
    assert_eq!(b["nameservers"]["search"][0], "maas", "{netplan}");
    assert_eq!(b["gateway4"], "10.91.0.1", "{netplan}");
    let routes = b["routes"]
        .as_array()
        .unwrap_or_else(|| panic!("{netplan}"));
    assert!(
        routes
            .iter()
            .any(|r| r["to"] == "172.31.0.0/16" && r["via"] == "10.91.0.254" && r["metric"] == 20),
        "{netplan}"
    );
    assert_eq!(np["network"]["vlans"]["bond0.42"]["id"], 42, "{netplan}");
    assert_eq!(np["network"]["bridges"]["br0"]["dhcp4"], true, "{netplan}");
}

/// Files under `dir`, recursively.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The netplan YAML that cloud-init wrote, read by Python's YAML (the same parser cloud-init
/// uses) into JSON.
fn yaml_as_json(text: &str) -> Value {
    let out = Command::new(DEBIAN_PYTHON)
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut ch| {
            use std::io::Write;
            ch.stdin.take().unwrap().write_all(text.as_bytes())?;
            ch.wait_with_output()
        })
        .expect("python3 yaml");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"))
}
