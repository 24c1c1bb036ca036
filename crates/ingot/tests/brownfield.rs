//! Machines that are already running (issue 7, the seed "Commissioning deployed machines:
//! Request granted"): the program the region serves at `/MAAS/maas-run-scripts` is run on
//! this very host, as the seed's lines say, and registers it as DEPLOYED with its real
//! hardware; runs again update the same machine; the machine's own credentials upload results,
//! keep the hardware in sync and stop working once regenerated; release goes to READY.
//!
//! Running it here is harmless by design: it only reads /sys, /proc and /dev and writes its
//! credentials file and outputs in the test's temporary directories.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::host::{agent_binary, host_cpus, host_macs, host_memory_mib, host_uuid};
use common::{Client, Server};
use serde_json::Value;

/// Runs the downloaded program in `dir`; (success, stdout + stderr).
fn run(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(dir.join("maas-run-scripts"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run maas-run-scripts");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The seed's `./maas-run-scripts register-machine --hostname H MAAS_URL API_KEY` in `dir`.
fn register(dir: &Path, hostname: &str, maas: &str, key: &str) -> (bool, String) {
    run(
        dir,
        &["register-machine", "--hostname", hostname, maas, key],
    )
}

/// `wget http://HOST:5240/MAAS/maas-run-scripts; chmod 755 maas-run-scripts` into `dir`.
async fn download(server: &Server, dir: &Path) {
    // First: a rebuild of a stale agent replaces the file the region serves.
    let agent = std::fs::read(agent_binary()).unwrap();
    let body = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{}/MAAS/maas-run-scripts", server.base))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .expect("the region serves maas-run-scripts anonymously")
        .bytes()
        .await
        .unwrap();
    assert!(body.as_ref() == agent, "the program served is ingot-agent");
    let p = dir.join("maas-run-scripts");
    std::fs::write(&p, &body).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `key: value` of the creds YAML.
fn yaml_field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key} in {text}"))
        .to_string()
}

fn machine_macs(m: &Value) -> Vec<String> {
    let mut v: Vec<String> = m["interface_set"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "physical")
        .map(|i| i["mac_address"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

/// Every NIC of this host with a device is a physical interface of the machine, and every
/// physical interface is one of this host's interfaces (as MAAS, Ethernet-like interfaces
/// without a device, container NICs, count as physical too).
fn assert_host_macs(m: &Value) {
    let got = machine_macs(m);
    for mac in host_macs() {
        assert!(got.contains(&mac), "{mac} missing: {got:?}");
    }
    let all: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("address")).ok())
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for mac in &got {
        assert!(all.contains(mac), "{mac} is no interface of this host");
    }
}

async fn result_ended(c: &Client, sid: &str, name: &str) -> Value {
    let rs = c
        .get(&format!(
            "/MAAS/api/2.0/nodes/{sid}/results/?type=commissioning"
        ))
        .await
        .ok()
        .json();
    rs.as_array()
        .unwrap()
        .iter()
        .flat_map(|set| set["results"].as_array().cloned().unwrap_or_default())
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no result {name}: {rs:#}"))
}

#[tokio::test]
async fn register_machine_on_this_host() {
    register_this_host(Server::start(&[]).await).await;
}

/// The same on PostgreSQL (skipped without INGOT_TEST_PG_URL).
#[tokio::test]
async fn register_machine_on_this_host_pg() {
    let Some(server) = Server::start_pg(&[]).await else {
        eprintln!("INGOT_TEST_PG_URL not set: skipping");
        return;
    };
    register_this_host(server).await;
}

async fn register_this_host(server: Server) {
    let c = server.client();
    let dir = tempfile::tempdir().unwrap();
    download(&server, dir.path()).await;
    let maas = format!("{}/MAAS", server.base);

    // This host runs the region, so it is a machine already: the controller's. register-machine
    // finds that machine (hardware UUID, MACs) instead of adding the host twice, and keeps its
    // name.
    let list = c.get("/MAAS/api/2.0/machines/").await.ok().json();
    let ctrl = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| common::is_controller(m))
        .expect("the region's host is in the machine list")
        .clone();
    let ctrl_sid = ctrl["system_id"].as_str().unwrap().to_string();
    let pre = tempfile::tempdir().unwrap();
    download(&server, pre.path()).await;
    let (ok, log) = register(pre.path(), "mymachine", &maas, &server.key);
    assert!(ok, "{log}");
    assert!(
        log.contains(&format!("({ctrl_sid}) is already registered")),
        "{log}"
    );
    let m = c.machine(&ctrl_sid).await;
    assert_eq!(m["hostname"], ctrl["hostname"], "not renamed");
    assert_eq!(m["cpu_count"], host_cpus());
    assert_eq!(m["locked"], true);
    // Removing the controller removes its machine (it has no BMC): the host is unknown again.
    c.delete(&format!("/MAAS/api/2.0/regioncontrollers/{ctrl_sid}/"))
        .await
        .ok();
    c.get(&format!("/MAAS/api/2.0/machines/{ctrl_sid}/"))
        .await
        .expect(404);

    // The seed's line, as written.
    let (ok, log) = register(dir.path(), "mymachine", &maas, &server.key);
    assert!(ok, "{log}");
    let sid = log
        .lines()
        .find_map(|l| l.strip_prefix("Machine mymachine created with system ID: "))
        .unwrap_or_else(|| panic!("{log}"))
        .trim()
        .to_string();

    // The credentials file, in the seed's format, readable by its owner only.
    let creds_path = dir.path().join("mymachine-creds.yaml");
    let creds = std::fs::read_to_string(&creds_path).unwrap();
    assert!(creds.starts_with("reporting:\n  maas:\n"), "{creds}");
    assert_eq!(
        yaml_field(&creds, "endpoint"),
        format!("{maas}/metadata/status/{sid}")
    );
    let mode = std::fs::metadata(&creds_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "credentials readable by others: {mode:o}");
    let token = c.token(&sid).await;
    for k in ["consumer_key", "token_key", "token_secret"] {
        assert_eq!(yaml_field(&creds, k), token[k].as_str().unwrap(), "{k}");
    }

    // DEPLOYED, with this host's hardware as if commissioned.
    let m = c.machine(&sid).await;
    assert_eq!(m["status_name"], "Deployed", "{m:#}");
    assert_eq!(m["hostname"], "mymachine");
    assert_eq!(m["cpu_count"], host_cpus());
    assert_eq!(m["memory"], host_memory_mib());
    assert_host_macs(&m);
    if let Some(u) = host_uuid() {
        assert_eq!(m["hardware_uuid"].as_str().map(str::to_lowercase), Some(u));
    }
    for d in m["physicalblockdevice_set"].as_array().unwrap() {
        let name = d["name"].as_str().unwrap();
        let sectors: u64 = std::fs::read_to_string(format!("/sys/block/{name}/size"))
            .unwrap_or_else(|_| panic!("{name} is not a disk of this host"))
            .trim()
            .parse()
            .unwrap();
        assert_eq!(d["size"], sectors * 512, "{name}");
    }
    let inv = result_ended(&c, &sid, "50-maas-01-commissioning").await;
    assert_eq!(inv["status_name"], "Passed", "{inv:#}");
    assert_eq!(m["commissioning_status_name"], "Passed");

    // Again, under another name and without the credentials file: the same machine (found by
    // its hardware UUID or MACs), not renamed, not duplicated.
    let other = tempfile::tempdir().unwrap();
    download(&server, other.path()).await;
    let (ok, log) = register(other.path(), "renamed", &maas, &server.key);
    assert!(ok, "{log}");
    assert!(
        log.contains(&format!("({sid}) is already registered")),
        "{log}"
    );
    assert_eq!(c.machine(&sid).await["hostname"], "mymachine");
    let same = c
        .get("/MAAS/api/2.0/machines/?hostname=renamed")
        .await
        .ok()
        .json();
    assert_eq!(same, serde_json::json!([]), "a second machine was created");
    // And with the credentials file (the third way it is found).
    let (ok, log) = register(dir.path(), "mymachine", &maas, &server.key);
    assert!(ok && log.contains("already registered"), "{log}");

    // report-results with the machine's credentials alone.
    let before = result_ended(&c, &sid, "50-maas-01-commissioning").await["ended"].clone();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (ok, log) = run(
        dir.path(),
        &["report-results", "--config", "mymachine-creds.yaml"],
    );
    assert!(ok, "{log}");
    let after = result_ended(&c, &sid, "50-maas-01-commissioning").await;
    assert_eq!(after["status_name"], "Passed");
    assert_ne!(after["ended"], before, "report-results uploaded again");

    // Hardware sync: the first round uploads, the next only checks in; the machine shows
    // when it last synced and when it syncs next.
    let sync = |once_dir: &Path| {
        run(
            once_dir,
            &[
                "hardware-sync",
                "--config",
                "mymachine-creds.yaml",
                "--interval",
                "10m",
                "--once",
            ],
        )
    };
    let (ok, log) = sync(dir.path());
    assert!(ok && log.contains("uploaded"), "{log}");
    assert!(dir.path().join("mymachine-creds.state").is_file());
    let (ok, log) = sync(dir.path());
    assert!(ok && log.contains("unchanged"), "{log}");
    let m = c.machine(&sid).await;
    assert_eq!(m["sync_interval"], 600, "{m:#}");
    assert_eq!(m["enable_hw_sync"], true);
    let last = m["last_sync"].as_str().expect("last_sync");
    let next = m["next_sync"].as_str().expect("next_sync");
    assert!(next > last, "{last} {next}");
    // As the daemon the unit runs: rounds every interval until stopped.
    let mut daemon = Command::new(dir.path().join("maas-run-scripts"))
        .args([
            "hardware-sync",
            "--config",
            "mymachine-creds.yaml",
            "--interval",
            "1s",
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let still_running = daemon.try_wait().unwrap().is_none();
    daemon.kill().unwrap();
    let out = daemon.wait_with_output().unwrap();
    let rounds = String::from_utf8_lossy(&out.stdout)
        .matches("hardware sync: ")
        .count();
    assert!(still_running && rounds >= 2, "{rounds} rounds");
    let m = c.machine(&sid).await;
    assert_eq!(m["sync_interval"], 1, "{m:#}");
    assert!(
        m["last_sync"].as_str().unwrap() > last,
        "the daemon checked in"
    );
    // The systemd unit is there to install.
    let (ok, unit) = run(dir.path(), &["hardware-sync", "--print-unit"]);
    assert!(
        ok && unit.contains("ExecStart=") && unit.contains("hardware-sync"),
        "{unit}"
    );

    // Regenerated credentials: the old ones stop working at once, the new ones work.
    let fresh = c.op(&sid, "regenerate_token", &[]).await.ok().json();
    assert_ne!(fresh["token_key"], token["token_key"]);
    let (ok, log) = run(
        dir.path(),
        &["report-results", "--config", "mymachine-creds.yaml"],
    );
    assert!(!ok && log.contains("refuses these credentials"), "{log}");
    let machine_token = format!(
        "{}:{}:{}",
        fresh["consumer_key"].as_str().unwrap(),
        fresh["token_key"].as_str().unwrap(),
        fresh["token_secret"].as_str().unwrap()
    );
    let (ok, log) = run(
        dir.path(),
        &[
            "report-results",
            "--machine-token",
            &machine_token,
            "--metadata-url",
            &format!("{maas}/metadata/"),
        ],
    );
    assert!(ok, "{log}");
    // get-machine-token writes the new credentials.
    let (ok, log) = run(
        dir.path(),
        &[
            "get-machine-token",
            &maas,
            &server.key,
            &sid,
            "new-creds.yaml",
        ],
    );
    assert!(ok, "{log}");
    let new = std::fs::read_to_string(dir.path().join("new-creds.yaml")).unwrap();
    assert_eq!(
        yaml_field(&new, "token_key"),
        fresh["token_key"].as_str().unwrap()
    );

    // Release: it has hardware information, so READY; only physical interfaces are left.
    c.op(&sid, "release", &[]).await.ok();
    let m = c
        .wait_machine(&sid, "Ready", |m| m["status_name"] == "Ready")
        .await;
    assert!(
        m["interface_set"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["type"] == "physical"),
        "{m:#}"
    );
    assert_host_macs(&m);
    // ... and configured like a commissioned machine: its boot disk has the default layout.
    if !m["physicalblockdevice_set"].as_array().unwrap().is_empty() {
        let bds = c
            .get(&format!("/MAAS/api/2.0/nodes/{sid}/blockdevices/"))
            .await
            .ok()
            .json();
        assert!(
            bds.as_array()
                .unwrap()
                .iter()
                .any(|d| d["partitions"].as_array().is_some_and(|p| !p.is_empty())),
            "no storage layout after release: {bds:#}"
        );
    }
    // A running machine cannot update a machine that is no longer deployed.
    let (ok, log) = register(dir.path(), "mymachine", &maas, &server.key);
    assert!(!ok && log.contains("not Deployed"), "{log}");
}

/// The seed's rules for adding a deployed machine by hand.
#[tokio::test]
async fn deployed_machines_added_by_hand() {
    let server = Server::start(&[]).await;
    let c = server.client();
    let create = |p: Vec<(&'static str, &'static str)>| {
        let c = c.clone();
        async move {
            let mut all = vec![("deployed", "true")];
            all.extend(p);
            c.post("/MAAS/api/2.0/machines/", &all).await
        }
    };
    // No power driver and no MAC: fine. IPMI without a MAC: fine.
    let unknown = create(vec![("hostname", "running1")]).await.ok().json();
    assert_eq!(unknown["status_name"], "Deployed");
    assert_eq!(unknown["power_type"], "");
    let ipmi = create(vec![
        ("hostname", "running2"),
        ("power_type", "ipmi"),
        ("power_parameters_power_address", "127.0.0.1"),
        ("power_parameters_power_user", "u"),
        ("power_parameters_power_pass", "p"),
    ])
    .await;
    assert!(ipmi.status.is_success(), "{}", ipmi.body);
    // Any other driver needs a MAC.
    let manual = create(vec![("hostname", "running3"), ("power_type", "manual")])
        .await
        .expect(400)
        .json();
    assert!(
        manual["mac_addresses"][0]
            .as_str()
            .unwrap()
            .contains("needs a MAC address"),
        "{manual}"
    );
    let with_mac = create(vec![
        ("hostname", "running3"),
        ("power_type", "manual"),
        ("mac_addresses", "52:54:00:aa:bb:01"),
    ])
    .await
    .ok()
    .json();
    assert_eq!(with_mac["status_name"], "Deployed");

    // Setting a non-IPMI driver later needs the MAC too.
    let sid = unknown["system_id"].as_str().unwrap();
    let r = c
        .put(
            &format!("/MAAS/api/2.0/machines/{sid}/"),
            &[("power_type", "manual")],
        )
        .await
        .expect(400)
        .json();
    assert!(
        r["mac_addresses"][0]
            .as_str()
            .unwrap()
            .contains("no MAC address"),
        "{r}"
    );

    // What network-boots it is refused without a MAC; release without erasing is not.
    for (op, params) in [
        ("rescue_mode", vec![]),
        ("release", vec![("erase", "true")]),
    ] {
        let r = c.op(sid, op, &params).await.expect(400);
        assert!(r.body.contains("no network interface"), "{op}: {}", r.body);
    }
    // It shows in the machine list.
    let all = c.get("/MAAS/api/2.0/machines/").await.ok().json();
    for h in ["running1", "running2", "running3"] {
        assert!(
            all.as_array().unwrap().iter().any(|m| m["hostname"] == h),
            "{h} not listed"
        );
    }
    // Released without hardware information: NEW (the seed), with its owner gone.
    c.op(sid, "release", &[]).await.ok();
    let m = c.machine(sid).await;
    assert_eq!(m["status_name"], "New", "{m:#}");
    assert_eq!(m["owner"], Value::Null);
    // A machine without a MAC can still be commissioned (with a driver that can boot it,
    // once its MAC is known): the refusal is about the missing MAC, not commissioning.
    let r = c.op(sid, "commission", &[]).await;
    assert!(!r.body.contains("no network interface"), "{}", r.body);
}
