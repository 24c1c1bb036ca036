//! Commissioning and testing end to end: the real `ingot serve`, and the real `ingot-agent`
//! run as a child process on this host with the kernel command line the region's iPXE script
//! would give it. The agent uploads user and built-in scripts' results through the metadata
//! API and the machine ends READY, FAILED_COMMISSIONING or FAILED_TESTING.
//!
//! Running the agent here is harmless: outside the ephemeral environment (no
//! /etc/ingot-ephemeral) the built-ins that would change the machine — DHCP on interfaces,
//! badblocks' writes, memtester's locked memory — skip themselves with the reason, and nothing
//! is powered off (`--no-poweroff` as well).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use base64::Engine as _;
use common::host::{agent_binary, host_cpus, host_memory_mib};
use common::{mac, Client, Server};
use serde_json::Value;

/// A physical NIC of this host with link: the one the agent is told it booted from.
fn host_boot_mac() -> Option<String> {
    let mut names: Vec<_> = std::fs::read_dir("/sys/class/net")
        .ok()?
        .flatten()
        .collect();
    names.sort_by_key(|e| e.file_name());
    names.into_iter().find_map(|e| {
        let p = e.path();
        let carrier = std::fs::read_to_string(p.join("carrier")).ok()?;
        (p.join("device").exists() && carrier.trim() == "1")
            .then(|| std::fs::read_to_string(p.join("address")).ok())
            .flatten()
            .map(|a| a.trim().to_string())
    })
}

// --- the region side ---------------------------------------------------------------------

async fn upload_script(c: &Client, name: &str, text: &str) -> Value {
    c.post_form(
        "/MAAS/api/2.0/scripts/",
        &[("name", name)],
        &[("script", name, text.as_bytes())],
    )
    .await
    .ok()
    .json()
}

fn user_script(name: &str, ty: &str, extra_meta: &str, body: &str) -> String {
    let timeout = if extra_meta.contains("# timeout:") {
        ""
    } else {
        "# timeout: 60\n"
    };
    format!(
        "#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: {name}\n# script_type: {ty}\n{timeout}{extra_meta}# --- End MAAS 1.0 script metadata ---\n{body}"
    )
}

/// Runs ingot-agent for the machine with this purpose; returns its stderr (the log).
fn run_agent(server: &Server, sid: &str, token: &Value, purpose: &str) -> (bool, String) {
    let s = |k: &str| token[k].as_str().unwrap().to_string();
    let bootif = host_boot_mac()
        .map(|m| format!(" BOOTIF=01-{}", m.replace(':', "-")))
        .unwrap_or_default();
    let cmdline = format!(
        "console=ttyS0 ingot.url={}/MAAS ingot.purpose={purpose} ingot.mac={} ingot.system_id={sid} ingot.token={}:{}:{}{bootif}",
        server.base,
        mac(1),
        s("consumer_key"),
        s("token_key"),
        s("token_secret"),
    );
    let start = Instant::now();
    let out = Command::new(agent_binary())
        .args(["--no-poweroff", "--cmdline", &cmdline])
        .env("INGOT_LLDP_SECONDS", "1")
        .env("INGOT_TEST_SECONDS", "1")
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("ingot-agent ({purpose}) took {:?}", start.elapsed());
    assert!(
        !log.contains("signal not taken") && !log.contains(" failed, retry"),
        "the region refused a report or was unreachable:\n{log}"
    );
    (out.status.success(), log)
}

/// The machine's results: (set, name) -> result JSON (with outputs).
async fn results(c: &Client, sid: &str) -> Vec<(String, Value)> {
    let v = c
        .get(&format!(
            "/MAAS/api/2.0/nodes/{sid}/results/?include_output=true"
        ))
        .await
        .ok()
        .json();
    let mut out = Vec::new();
    for set in v.as_array().unwrap() {
        let ty = set["type_name"].as_str().unwrap().to_string();
        for r in set["results"].as_array().unwrap() {
            out.push((ty.clone(), r.clone()));
        }
    }
    out
}

fn decoded(r: &Value, field: &str) -> String {
    let b = base64::engine::general_purpose::STANDARD
        .decode(r[field].as_str().unwrap_or_default())
        .unwrap();
    String::from_utf8_lossy(&b).into_owned()
}

fn find<'a>(rs: &'a [(String, Value)], set: &str, name: &str) -> &'a Value {
    &rs.iter()
        .find(|(s, r)| s == set && r["name"] == name)
        .unwrap_or_else(|| panic!("no {set} result {name}"))
        .1
}

fn all_passed_or_skipped(rs: &[(String, Value)], set: &str, log: &str) {
    let mine: Vec<&Value> = rs
        .iter()
        .filter(|(s, _)| s == set)
        .map(|(_, r)| r)
        .collect();
    assert!(!mine.is_empty(), "no {set} results");
    for r in mine {
        assert!(
            r["status_name"] == "Passed" || r["status_name"] == "Skipped",
            "{set} {} is {}: output:\n{}\nstderr:\n{}\nagent log:\n{log}",
            r["name"],
            r["status_name"],
            decoded(r, "output"),
            decoded(r, "stderr"),
        );
        assert!(
            !decoded(r, "output").trim().is_empty(),
            "{set} {} has no output",
            r["name"]
        );
        assert!(r["ended"].is_string(), "{} has ended", r["name"]);
    }
}

const BUILTIN_COMMISSIONING: &[&str] = &[
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
];

#[tokio::test]
async fn agent_commissions_and_tests_this_host() {
    let server = Server::start(&[]).await;
    let c = server.client();
    upload_script(
        &c,
        "zz-user-inventory",
        &user_script(
            "zz-user-inventory",
            "commissioning",
            "",
            "echo \"user commissioning script ran in $(pwd)\"\ntest -s \"$MAAS_RESOURCES_FILE\" && echo 'resources file present'\necho 'a warning' >&2\n",
        ),
    )
    .await;
    upload_script(
        &c,
        "user-test-ok",
        &user_script(
            "user-test-ok",
            "testing",
            "# tags: [commissioning]\n# parallel: any\n",
            "echo 'user test passed'\nprintf 'status: passed\\nchecked: 1\\n' > \"$RESULT_PATH\"\n",
        ),
    )
    .await;
    let m = c.create("host1", &mac(1), &[]).await;
    let sid = m["system_id"].as_str().unwrap().to_string();
    assert_eq!(m["status_name"], "Commissioning");
    let token = c.token(&sid).await;

    let (ok, log) = run_agent(&server, &sid, &token, "commission");
    assert!(ok, "agent failed:\n{log}");
    let m = c.machine(&sid).await;
    assert_eq!(
        m["status_name"], "Ready",
        "{}\n{log}",
        m["error_description"]
    );
    assert_eq!(m["cpu_count"], host_cpus(), "cpu_count is this host's");
    assert_eq!(
        m["memory"],
        host_memory_mib(),
        "memory (MiB) is this host's"
    );
    if let Some(boot) = host_boot_mac() {
        assert_eq!(
            m["boot_interface"]["mac_address"], boot,
            "BOOTIF named the boot interface"
        );
    }

    let rs = results(&c, &sid).await;
    all_passed_or_skipped(&rs, "commissioning", &log);
    all_passed_or_skipped(&rs, "testing", &log);
    let names: Vec<&str> = rs
        .iter()
        .filter(|(s, _)| s == "commissioning")
        .map(|(_, r)| r["name"].as_str().unwrap())
        .collect();
    for b in BUILTIN_COMMISSIONING {
        assert!(names.contains(b), "{b} ran: {names:?}");
    }
    let user = find(&rs, "commissioning", "zz-user-inventory");
    assert_eq!(user["status_name"], "Passed");
    let out = decoded(user, "stdout");
    assert!(out.contains("user commissioning script ran in /"), "{out}");
    assert!(out.contains("resources file present"), "{out}");
    assert_eq!(decoded(user, "stderr"), "a warning\n");
    let inv = find(&rs, "commissioning", "50-maas-01-commissioning");
    let doc: Value = serde_json::from_str(&decoded(inv, "stdout")).unwrap();
    assert_eq!(doc["resources"]["cpu"]["total"], host_cpus());
    let cmd = find(&rs, "commissioning", "maas-kernel-cmdline");
    let cmd = decoded(cmd, "stdout");
    assert!(cmd.contains(&format!("ingot.system_id={sid}")), "{cmd}");
    assert!(
        !cmd.contains(token["token_secret"].as_str().unwrap()),
        "the secret is not stored: {cmd}"
    );
    // Skipped, never faked: DHCP on the host's interfaces.
    let dhcp = find(&rs, "commissioning", "20-maas-02-dhcp-unconfigured-ifaces");
    if !Path::new("/etc/ingot-ephemeral").exists() {
        assert_eq!(dhcp["status_name"], "Skipped");
        assert!(
            decoded(dhcp, "output").contains("not in the ephemeral environment: nothing changed")
        );
    }
    let t = find(&rs, "testing", "user-test-ok");
    assert_eq!(t["status_name"], "Passed");
    assert_eq!(decoded(t, "stdout"), "user test passed\n");
    assert_eq!(decoded(t, "result"), "status: passed\nchecked: 1\n");
    let smart = find(&rs, "testing", "smartctl-validate");
    if smart["status_name"] == "Skipped" {
        assert!(
            decoded(smart, "result").contains("reason:"),
            "a skip says why"
        );
    }

    // Then every testing built-in, as `op=test` runs them (ingot.purpose=test).
    let r = c
        .op(
            &sid,
            "test",
            &[(
                "testing_scripts",
                "smartctl-validate,stress-ng-cpu-short,memtester,badblocks,network-link,user-test-ok",
            )],
        )
        .await
        .ok()
        .json();
    assert_eq!(r["status_name"], "Testing");
    let token = c.token(&sid).await;
    let (ok, log) = run_agent(&server, &sid, &token, "test");
    assert!(ok, "agent failed:\n{log}");
    let m = c.machine(&sid).await;
    assert_eq!(
        m["status_name"], "Ready",
        "{}\n{log}",
        m["error_description"]
    );
    let rs = results(&c, &sid).await;
    all_passed_or_skipped(&rs, "testing", &log);
    let stress = find(&rs, "testing", "stress-ng-cpu-short");
    assert_eq!(stress["status_name"], "Passed");
    assert!(decoded(stress, "stdout").contains("0 wrong result(s)"));
    assert!(decoded(stress, "result").contains("bogo_ops:"));
    if !Path::new("/etc/ingot-ephemeral").exists() {
        for name in ["memtester", "badblocks"] {
            let r = find(&rs, "testing", name);
            assert_eq!(
                r["status_name"], "Skipped",
                "{name} never touches this host"
            );
            assert!(decoded(r, "result").contains("not in the ephemeral environment"));
        }
    }
    if host_boot_mac().is_some() {
        let link = find(&rs, "testing", "network-link");
        assert_eq!(link["status_name"], "Passed");
        assert!(decoded(link, "stdout").contains("(boot interface)"));
    }
}

#[tokio::test]
async fn a_failing_commissioning_script_fails_commissioning() {
    let server = Server::start(&[]).await;
    let c = server.client();
    upload_script(
        &c,
        "user-broken",
        &user_script(
            "user-broken",
            "commissioning",
            "",
            // Two pipes give no order between writes made at the same instant, so the
            // second write comes later: the combined output must then keep that order.
            "echo 'about to fail'\nsleep 0.5\necho 'failing on purpose' >&2\nexit 3\n",
        ),
    )
    .await;
    let m = c.create("host2", &mac(2), &[]).await;
    let sid = m["system_id"].as_str().unwrap().to_string();
    let token = c.token(&sid).await;
    let (ok, log) = run_agent(&server, &sid, &token, "commission");
    assert!(
        ok,
        "the agent itself succeeds (it reported the failure):\n{log}"
    );
    let m = c.machine(&sid).await;
    assert_eq!(m["status_name"], "Failed commissioning", "{log}");
    let why = m["error_description"].as_str().unwrap_or_default();
    let events: Vec<String> = c
        .events(&sid)
        .await
        .iter()
        .map(|e| e["description"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        why.contains("user-broken") || events.iter().any(|e| e.contains("user-broken")),
        "the failure names the script: {why:?} {events:?}"
    );
    let rs = results(&c, &sid).await;
    let r = find(&rs, "commissioning", "user-broken");
    assert_eq!(r["status_name"], "Failed");
    assert_eq!(r["exit_status"], 3);
    assert_eq!(decoded(r, "stdout"), "about to fail\n");
    assert_eq!(decoded(r, "stderr"), "failing on purpose\n");
    assert_eq!(decoded(r, "output"), "about to fail\nfailing on purpose\n");
    // The built-ins still ran and reported.
    assert_eq!(
        find(&rs, "commissioning", "50-maas-01-commissioning")["status_name"],
        "Passed"
    );
    // The tests never started.
    assert!(
        rs.iter()
            .filter(|(s, _)| s == "testing")
            .all(|(_, r)| r["status_name"] != "Passed" && r["status_name"] != "Running"),
        "{rs:?}"
    );
}

#[tokio::test]
async fn a_failing_test_fails_testing() {
    let server = Server::start(&[]).await;
    let c = server.client();
    upload_script(
        &c,
        "user-test-bad",
        &user_script(
            "user-test-bad",
            "testing",
            "# tags: [commissioning]\n",
            "echo 'checking something'\necho 'it is broken' >&2\nexit 1\n",
        ),
    )
    .await;
    let m = c.create("host3", &mac(3), &[]).await;
    let sid = m["system_id"].as_str().unwrap().to_string();
    let token = c.token(&sid).await;
    let (ok, log) = run_agent(&server, &sid, &token, "commission");
    assert!(ok, "{log}");
    let m = c.machine(&sid).await;
    assert_eq!(m["status_name"], "Failed testing", "{log}");
    assert_eq!(m["commissioning_status"], 2, "commissioning itself passed");
    let why = m["error_description"].as_str().unwrap_or_default();
    assert!(why.contains("user-test-bad"), "{why:?}");
    let rs = results(&c, &sid).await;
    all_passed_or_skipped(&rs, "commissioning", &log);
    let r = find(&rs, "testing", "user-test-bad");
    assert_eq!(r["status_name"], "Failed");
    assert_eq!(decoded(r, "stderr"), "it is broken\n");
}

#[tokio::test]
async fn a_script_past_its_timeout_is_killed_and_timed_out() {
    let server = Server::start(&[]).await;
    let c = server.client();
    upload_script(
        &c,
        "user-hangs",
        &user_script(
            "user-hangs",
            "commissioning",
            "# timeout: 2\n",
            "echo started\nsleep 60\necho finished\n",
        ),
    )
    .await;
    let m = c.create("host5", &mac(5), &[]).await;
    let sid = m["system_id"].as_str().unwrap().to_string();
    let token = c.token(&sid).await;
    let start = Instant::now();
    let (ok, log) = run_agent(&server, &sid, &token, "commission");
    assert!(ok, "{log}");
    assert!(
        start.elapsed().as_secs() < 30,
        "killed at its timeout, not waited for"
    );
    let m = c.machine(&sid).await;
    assert_eq!(m["status_name"], "Failed commissioning", "{log}");
    assert!(
        m["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("user-hangs"),
        "{}",
        m["error_description"]
    );
    let rs = results(&c, &sid).await;
    let r = find(&rs, "commissioning", "user-hangs");
    assert_eq!(r["status_name"], "Timed out");
    assert_eq!(
        decoded(r, "stdout"),
        "started\n",
        "the output so far is kept"
    );
}
