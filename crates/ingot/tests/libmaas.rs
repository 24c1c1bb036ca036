//! python-libmaas 0.6.8, unmodified, against `ingot serve`: connect, version, list, allocate,
//! read, deploy (to Deployed), release (to Ready) and a rejected wrong key. A task plays the
//! machine over the metadata API: when it sees its machine DEPLOYING it reports cloud-init's
//! final stage finished, as an installed OS does.

mod common;
use common::{mac, Client, Server};
use std::process::Command;
use std::time::Duration;

fn libmaas_python() -> Option<(String, String)> {
    let py = std::env::var("INGOT_LIBMAAS_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    let shared = std::env::var("INGOT_SHARED_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").into());
    let smoke = format!("{shared}/peers/libmaas-smoke.py");
    match py {
        Some(p) if std::path::Path::new(&smoke).exists() => Some((p, smoke)),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "CI must provide INGOT_LIBMAAS_PYTHON and the shared peers (scripts/test.sh does)"
            );
            eprintln!(
                "INGOT_LIBMAAS_PYTHON or {smoke} missing: skipping (run through scripts/test.sh)"
            );
            None
        }
    }
}

/// Plays every machine: DEPLOYING → reports deployed.
async fn machine_player(c: Client, stop: tokio::sync::watch::Receiver<bool>) {
    while !*stop.borrow() {
        let r = c.get("/MAAS/api/2.0/machines/?status=deploying").await;
        if r.status.is_success() {
            for m in r.json().as_array().cloned().unwrap_or_default() {
                if let Some(sid) = m["system_id"].as_str() {
                    c.report_deployed(sid).await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn smoke(s: &Server, py: &str, script: &str) {
    let c = s.client();
    // MAAS_DISTRO=jammy below deploys this image (custom/jammy).
    c.upload_image("custom/jammy", b"a root file system").await;
    for i in 0..3 {
        c.ready_machine(&format!("node{i}"), &mac(100 + i), &[])
            .await;
    }
    let (tx, rx) = tokio::sync::watch::channel(false);
    let player = tokio::spawn(machine_player(c.clone(), rx));
    let url = format!("{}/MAAS/", s.base);
    let (py, script, key) = (py.to_string(), script.to_string(), s.key.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(py)
            .arg(script)
            .env("MAAS_URL", url)
            .env("MAAS_APIKEY", key)
            .env("MAAS_HOSTNAME", "node1")
            .env("MAAS_DISTRO", "jammy")
            .env("MAAS_WAIT", "30")
            .output()
            .expect("run libmaas-smoke.py")
    })
    .await
    .expect("join");
    let _ = tx.send(true);
    let _ = player.await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "libmaas smoke failed:\n{stdout}");
    assert!(stdout.contains("8 passed, 0 failed"), "{stdout}");
    assert!(
        stdout.contains("Deploying -> Deployed"),
        "deploy reached Deployed: {stdout}"
    );
    assert!(
        stdout.contains("-> Ready"),
        "release reached Ready: {stdout}"
    );
    // The machine really went round the cycle.
    let ms = c
        .get("/MAAS/api/2.0/machines/?hostname=node1")
        .await
        .ok()
        .json();
    assert_eq!(ms[0]["status_name"], "Ready");
}

#[tokio::test]
async fn libmaas_smoke_sqlite() {
    let Some((py, script)) = libmaas_python() else {
        return;
    };
    let s = Server::start(&[]).await;
    smoke(&s, &py, &script).await;
}

#[tokio::test]
async fn libmaas_smoke_postgres() {
    let Some((py, script)) = libmaas_python() else {
        return;
    };
    let Some(s) = Server::start_pg(&[]).await else {
        return;
    };
    smoke(&s, &py, &script).await;
}

/// What python-libmaas users call beyond the smoke: the region's settings by their helpers,
/// the default fabric, spaces, devices (create, list, delete), files and domains (create,
/// change, list, delete).
const LIBMAAS_MODEL: &str = r#"
import os
from maas.client import connect
c = connect(os.environ["MAAS_URL"], apikey=os.environ["MAAS_APIKEY"])
c.maas.set_name("lab-a")
print("name", c.maas.get_name())
c.maas.set_ntp_server("ntp1.example.com")
print("ntp", c.maas.get_ntp_server())
c.maas.set_http_proxy("http://proxy.example:3128/")
print("proxy", c.maas.get_http_proxy())
c.maas.set_kernel_options("console=ttyS0")
print("kopts", c.maas.get_kernel_options())
c.maas.set_upstream_dns(["8.8.8.8", "1.1.1.1"])
print("dns", c.maas.get_upstream_dns())
f = c.fabrics.get_default()
print("fabric", f.id, f.name)
c.spaces.create(name="libmaas-space")
print("spaces", [s.name for s in c.spaces.list()])
d = c.devices.create(mac_addresses=["52:54:00:cc:00:01"], hostname="libdev")
print("device", d.hostname, [i.mac_address for i in d.interfaces])
print("devices", [x.hostname for x in c.devices.list()])
d.delete()
print("after", [x.hostname for x in c.devices.list()])
print("files", [x.filename for x in c.files.list()])
dm = c.domains.create(name="lab.example", ttl=300)
print("domain", dm.name, dm.authoritative, dm.ttl)
dm.ttl = 600
dm.save()
print("domain ttl", c.domains.get(dm.id).ttl)
print("domains", sorted(d.name for d in c.domains.list()))
dm.delete()
print("domains after", sorted(d.name for d in c.domains.list()))
m = c.machines.get(system_id=os.environ["SID"])
print("before", sorted(i.name for i in m.interfaces))
m.restore_networking_configuration()
m = c.machines.get(system_id=os.environ["SID"])
print("restored", sorted(i.name for i in m.interfaces))
m.restore_storage_configuration()
m.restore_default_configuration()
m.clear_default_gateways()
print("status", m.status_name)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libmaas_reads_and_changes_the_model() {
    let Some((py, _)) = libmaas_python() else {
        return;
    };
    let s = Server::start(&[]).await;
    // A Ready machine with a bond for restore_* to undo.
    let c = s.client();
    let sid = c
        .ready_machine(
            "libm",
            &common::mac(61),
            &[("mac_addresses", common::mac(62).as_str())],
        )
        .await;
    let ids: Vec<String> = c.machine(&sid).await["interface_set"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].to_string())
        .collect();
    c.post(
        &format!("/MAAS/api/2.0/nodes/{sid}/interfaces/?op=create_bond"),
        &[
            ("name", "bond0"),
            ("parents", &ids[0]),
            ("parents", &ids[1]),
        ],
    )
    .await
    .ok();
    let stdout = common::run_libmaas(&py, &s, LIBMAAS_MODEL, &[("SID", &sid)]).await;
    for want in [
        "name lab-a",
        "ntp ntp1.example.com",
        "proxy http://proxy.example:3128/",
        "kopts console=ttyS0",
        "dns ['8.8.8.8', '1.1.1.1']",
        "fabric 0 fabric-0",
        "spaces ['libmaas-space']",
        "device libdev ['52:54:00:cc:00:01']",
        "devices ['libdev']",
        "after []",
        "files []",
        "domain lab.example True 300",
        "domain ttl 600",
        "domains ['lab.example', 'maas']",
        "domains after ['maas']",
        "before ['bond0', 'eth0', 'eth1']",
        "restored ['eth0', 'eth1']",
        "status Ready",
    ] {
        assert!(
            stdout.lines().any(|l| l == want),
            "{want:?} not in:\n{stdout}"
        );
    }
}
