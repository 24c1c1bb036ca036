//! Power control in the life-cycle, through the real binary, with a webhook BMC run by the test:
//! transitions switch the machine, RELEASING completes when the BMC reports off, a BMC failure
//! fails the transition with its error, the monitor records changes, secrets stay encrypted.

mod common;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use common::{mac, workload_machines, Client, Server};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Default)]
struct Bmc {
    on: AtomicBool,
    /// Answer the status query with garbage.
    garbage: AtomicBool,
    ons: AtomicUsize,
    offs: AtomicUsize,
    /// Switch requests received (counted before the delay).
    asked: AtomicUsize,
    /// How long a switch takes before the BMC answers, in milliseconds.
    slow_ms: AtomicU64,
    token: String,
}

fn authorized(b: &Bmc, h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {}", b.token))
}

/// The BMC's on/off endpoints: switch the power (after `slow_ms`) and count it.
async fn switch(b: &Bmc, h: &HeaderMap, on: bool) -> StatusCode {
    b.asked.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(b.slow_ms.load(Ordering::SeqCst))).await;
    if !authorized(b, h) {
        return StatusCode::UNAUTHORIZED;
    }
    b.on.store(on, Ordering::SeqCst);
    if on { &b.ons } else { &b.offs }.fetch_add(1, Ordering::SeqCst);
    StatusCode::OK
}

async fn start_bmc(token: &str) -> (Arc<Bmc>, String) {
    let bmc = Arc::new(Bmc {
        token: token.into(),
        ..Default::default()
    });
    let app =
        axum::Router::new()
            .route(
                "/on",
                post(|State(b): State<Arc<Bmc>>, h: HeaderMap| async move {
                    switch(&b, &h, true).await
                }),
            )
            .route(
                "/off",
                post(|State(b): State<Arc<Bmc>>, h: HeaderMap| async move {
                    switch(&b, &h, false).await
                }),
            )
            .route(
                "/status",
                get(|State(b): State<Arc<Bmc>>, h: HeaderMap| async move {
                    if !authorized(&b, &h) {
                        return (StatusCode::UNAUTHORIZED, String::new());
                    }
                    if b.garbage.load(Ordering::SeqCst) {
                        return (StatusCode::OK, "\u{1}<html>teapot".to_string());
                    }
                    let s = if b.on.load(Ordering::SeqCst) {
                        "running"
                    } else {
                        "stopped"
                    };
                    (StatusCode::OK, format!("{{\"status\": \"{s}\"}}"))
                }),
            )
            .with_state(bmc.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (bmc, base)
}

fn webhook_params(base: &str, token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("power_type", "webhook".into()),
        ("power_parameters_power_on_uri", format!("{base}/on")),
        ("power_parameters_power_off_uri", format!("{base}/off")),
        ("power_parameters_power_query_uri", format!("{base}/status")),
        ("power_parameters_power_token", token.into()),
    ]
}

async fn create_webhook_machine(c: &Client, name: &str, i: u32, base: &str, token: &str) -> Value {
    let m = mac(i);
    let mut p: Vec<(&str, String)> = vec![
        ("hostname", name.into()),
        ("architecture", "amd64".into()),
        ("mac_addresses", m),
    ];
    p.extend(webhook_params(base, token));
    let pr: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.post("/MAAS/api/2.0/machines/", &pr).await.ok().json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transitions_switch_the_machine_through_its_bmc() {
    let (bmc, base) = start_bmc("s3cret-token").await;
    let s = Server::start(&["--power-retry-secs", "2", "--power-poll-interval", "3600"]).await;
    let c = s.client();
    let m = create_webhook_machine(&c, "pw1", 1, &base, "s3cret-token").await;
    let sid = m["system_id"].as_str().unwrap().to_string();
    // Created and commissioned at once: the BMC powered it on.
    assert_eq!(m["status_name"], "Commissioning");
    let m = c
        .wait_machine(&sid, "powered on for commissioning", |m| {
            m["power_state"] == "on"
        })
        .await;
    assert_eq!(bmc.ons.load(Ordering::SeqCst), 1);
    assert_eq!(m["power_type"], "webhook");
    // The secret never shows in the machine, is encrypted in the database, and only admins
    // read the parameters back.
    assert!(!c
        .get(&format!("/MAAS/api/2.0/machines/{sid}/"))
        .await
        .body
        .contains("s3cret-token"));
    let pp = c
        .get(&format!(
            "/MAAS/api/2.0/machines/{sid}/?op=power_parameters"
        ))
        .await
        .ok()
        .json();
    assert_eq!(pp["power_token"], "s3cret-token");
    let db = std::fs::read(s.dir.path().join("ingot.sqlite")).unwrap_or_default();
    let wal = std::fs::read(s.dir.path().join("ingot.sqlite-wal")).unwrap_or_default();
    let hay = [db, wal].concat();
    assert!(
        !hay.windows(12).any(|w| w == b"s3cret-token"),
        "the token is stored in clear"
    );
    assert!(
        hay.windows(7).any(|w| w == b"enc:v1:"),
        "no encrypted secret found in the database"
    );
    let bob = s.user("bob").await;
    bob.get(&format!(
        "/MAAS/api/2.0/machines/{sid}/?op=power_parameters"
    ))
    .await
    .expect(403);

    // READY, allocate, deploy: deploy cycles the machine (off then on through the webhook).
    c.commission_ok(&sid).await;
    c.post(
        "/MAAS/api/2.0/machines/?op=allocate",
        &[("system_id", &sid)],
    )
    .await
    .ok();
    let ons = bmc.ons.load(Ordering::SeqCst);
    c.upload_image("custom/test-os", b"a root file system")
        .await;
    c.op(&sid, "deploy", &[]).await.ok();
    for _ in 0..50 {
        if bmc.ons.load(Ordering::SeqCst) > ons {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        bmc.ons.load(Ordering::SeqCst) > ons,
        "deploy booted the machine"
    );
    c.report_deployed(&sid).await.expect(204);
    // power_on on the running machine never cycles it.
    let (ons, offs) = (
        bmc.ons.load(Ordering::SeqCst),
        bmc.offs.load(Ordering::SeqCst),
    );
    c.op(&sid, "power_on", &[]).await.ok();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        (
            bmc.ons.load(Ordering::SeqCst),
            bmc.offs.load(Ordering::SeqCst)
        ),
        (ons, offs)
    );
    // Release: RELEASING until the BMC reports off, then READY.
    let m = c.op(&sid, "release", &[]).await.ok().json();
    assert_eq!(m["status_name"], "Releasing");
    let m = c
        .wait_machine(&sid, "release completes when seen off", |m| {
            m["status_name"] == "Ready"
        })
        .await;
    assert_eq!(m["power_state"], "off");
    assert!(!bmc.on.load(Ordering::SeqCst));
    // Live query.
    bmc.on.store(true, Ordering::SeqCst);
    let st = c
        .get(&format!(
            "/MAAS/api/2.0/machines/{sid}/?op=query_power_state"
        ))
        .await
        .ok()
        .json();
    assert_eq!(st["state"], "on");
    assert_eq!(c.machine(&sid).await["power_state"], "on");
    let evs = c.events(&sid).await;
    assert!(
        evs.iter().any(|e| e["description"]
            .as_str()
            .unwrap_or("")
            .contains("Power state changed from off to on")),
        "{evs:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bmc_failures_fail_the_transition_with_the_error() {
    let (_bmc, base) = start_bmc("right").await;
    let s = Server::start(&["--power-retry-secs", "2", "--power-poll-interval", "3600"]).await;
    let c = s.client();
    // Wrong token: the BMC refuses; commissioning fails at once, naming the error.
    let m = create_webhook_machine(&c, "pw2", 2, &base, "wrong").await;
    let sid = m["system_id"].as_str().unwrap().to_string();
    let m = c
        .wait_machine(&sid, "auth failure fails commissioning", |m| {
            m["status_name"] == "Failed commissioning"
        })
        .await;
    let why = m["error_description"].as_str().unwrap();
    assert!(
        why.contains("Power control failed") && why.contains("credentials"),
        "{why}"
    );
    assert_eq!(m["power_state"], "error");
    // Nothing listening: transient, retried for --power-retry-secs, then the same.
    let m = create_webhook_machine(&c, "pw3", 3, "http://127.0.0.1:9", "right").await;
    let sid3 = m["system_id"].as_str().unwrap().to_string();
    let m = c
        .wait_machine(&sid3, "unreachable BMC fails commissioning", |m| {
            m["status_name"] == "Failed commissioning"
        })
        .await;
    assert!(
        m["error_description"].as_str().unwrap().contains("reach"),
        "{m}"
    );
    // A live query of an unreachable BMC: 503 with the error, never a hang or a crash.
    let r = c
        .get(&format!(
            "/MAAS/api/2.0/machines/{sid3}/?op=query_power_state"
        ))
        .await
        .expect(503);
    assert!(r.body.contains("webhook"), "{}", r.body);
    let evs = c.events(&sid3).await;
    assert!(
        evs.iter()
            .any(|e| e["level"] == "ERROR"
                && e["description"].as_str().unwrap_or("").contains("Power")),
        "{evs:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_records_power_changes() {
    let (bmc, base) = start_bmc("t").await;
    let s = Server::start(&["--power-retry-secs", "2", "--power-poll-interval", "1"]).await;
    let c = s.client();
    let mut ids = Vec::new();
    for i in 0..3 {
        let mut p: Vec<(&str, String)> = vec![
            ("hostname", format!("mon{i}")),
            ("architecture", "amd64".into()),
            ("mac_addresses", mac(20 + i)),
            ("commission", "false".into()),
        ];
        p.extend(webhook_params(&base, "t"));
        let pr: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
        ids.push(
            c.post("/MAAS/api/2.0/machines/", &pr).await.ok().json()["system_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    for sid in &ids {
        c.wait_machine(sid, "monitor sees off", |m| m["power_state"] == "off")
            .await;
    }
    bmc.on.store(true, Ordering::SeqCst);
    for sid in &ids {
        c.wait_machine(sid, "monitor sees on", |m| m["power_state"] == "on")
            .await;
    }
    // A BMC answering garbage: a clear error in the machine's events, the monitor goes on.
    bmc.garbage.store(true, Ordering::SeqCst);
    let m = c
        .wait_machine(&ids[1], "garbage recorded as an error", |m| {
            m["power_state"] == "error"
        })
        .await;
    assert_eq!(m["status_name"], "New", "a query error changes no status");
    let evs = c.events(&ids[1]).await;
    assert!(
        evs.iter().any(|e| e["level"] == "ERROR"
            && e["description"]
                .as_str()
                .unwrap_or("")
                .contains("unexpected answer")),
        "{evs:#?}"
    );
    bmc.garbage.store(false, Ordering::SeqCst);
    c.wait_machine(&ids[1], "recovers when the BMC does", |m| {
        m["power_state"] == "on"
    })
    .await;
    // The BMC goes away: the monitor records the error and keeps running.
    drop(bmc);
    let bad = {
        let mut p: Vec<(&str, String)> = vec![
            ("hostname", "monbad".into()),
            ("architecture", "amd64".into()),
            ("mac_addresses", mac(30)),
            ("commission", "false".into()),
        ];
        p.extend(webhook_params("http://127.0.0.1:9", "t"));
        let pr: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
        c.post("/MAAS/api/2.0/machines/", &pr).await.ok().json()["system_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    c.wait_machine(&bad, "monitor records the error", |m| {
        m["power_state"] == "error"
    })
    .await;
    bmc_state_flips_still_seen(&c, &ids[0]).await;
}

async fn bmc_state_flips_still_seen(c: &Client, sid: &str) {
    // The monitor survived the failing BMC: the healthy machine is still queried.
    let before = c.events(sid).await.len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(c.machine(sid).await["power_state"] == "on");
    assert_eq!(
        c.events(sid).await.len(),
        before,
        "no event without a change"
    );
}

#[tokio::test]
async fn power_parameters_are_validated() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let r = c
        .post(
            "/MAAS/api/2.0/machines/",
            &[
                ("hostname", "v1"),
                ("architecture", "amd64"),
                ("mac_addresses", &mac(40)),
                ("power_type", "ipmi"),
            ],
        )
        .await
        .expect(400);
    assert!(
        r.json()["power_parameters_power_address"].is_array(),
        "{}",
        r.body
    );
    let r = c
        .post(
            "/MAAS/api/2.0/machines/",
            &[
                ("hostname", "v1"),
                ("architecture", "amd64"),
                ("mac_addresses", &mac(40)),
                ("power_type", "ipmi"),
                (
                    "power_parameters",
                    r#"{"power_address": "10.0.0.1", "power_driver": "LAN_9"}"#,
                ),
            ],
        )
        .await
        .expect(400);
    assert!(
        r.json()["power_parameters_power_driver"].is_array(),
        "{}",
        r.body
    );
    let r = c
        .post(
            "/MAAS/api/2.0/machines/",
            &[
                ("hostname", "v1"),
                ("architecture", "amd64"),
                ("mac_addresses", &mac(40)),
                ("power_type", "redfish"),
                ("power_parameters_power_address", "10.0.0.1"),
            ],
        )
        .await
        .expect(400);
    assert!(r.body.contains("power_address"), "{}", r.body);
    let types = c.get("/MAAS/api/2.0/power-types/").await.ok().json();
    let names: Vec<&str> = types
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for n in ["ipmi", "redfish", "webhook", "manual", "qemu"] {
        assert!(names.contains(&n), "{names:?}");
    }
    // IPMI defaults are filled in and the password is encrypted.
    let m = c.post("/MAAS/api/2.0/machines/", &[("hostname", "v2"), ("architecture", "amd64"), ("mac_addresses", &mac(41)), ("power_type", "ipmi"), ("commission", "false"), ("power_parameters", r#"{"power_address": "127.0.0.1:9", "power_user": "admin", "power_pass": "pw"}"#)]).await.ok().json();
    let sid = m["system_id"].as_str().unwrap();
    let pp = c
        .get(&format!(
            "/MAAS/api/2.0/machines/{sid}/?op=power_parameters"
        ))
        .await
        .ok()
        .json();
    assert_eq!(pp["power_driver"], "LAN_2_0");
    assert_eq!(pp["power_pass"], "pw");
}

#[tokio::test]
async fn bmc_enlistment_matches_existing_machines() {
    let s = Server::start(&["--power-poll-interval", "3600"]).await;
    let anon = s.anon();
    let ipmi = r#"{"power_address": "10.20.30.40", "power_user": "maas", "power_pass": "secret"}"#;
    // First enlistment: a new machine in NEW with its BMC.
    let a = anon
        .post(
            "/MAAS/api/2.0/machines/",
            &[
                ("architecture", "amd64"),
                ("mac_addresses", &mac(50)),
                ("power_type", "ipmi"),
                ("power_parameters", ipmi),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(a["status_name"], "New");
    // The same BMC enlists again with another boot MAC: the machine is updated, not duplicated.
    let b = anon
        .post(
            "/MAAS/api/2.0/machines/",
            &[
                ("architecture", "amd64"),
                ("mac_addresses", &mac(51)),
                ("power_type", "ipmi"),
                ("power_parameters", ipmi),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(a["system_id"], b["system_id"]);
    let c = s.client();
    assert_eq!(
        workload_machines(&c.get("/MAAS/api/2.0/machines/").await.ok().json()).len(),
        1
    );
    let pp = c
        .get(&format!(
            "/MAAS/api/2.0/machines/{}/?op=power_parameters",
            a["system_id"].as_str().unwrap()
        ))
        .await
        .ok()
        .json();
    assert_eq!(pp["power_address"], "10.20.30.40");
    assert_eq!(pp["power_pass"], "secret");
    // A machine added by hand with IPMI and no MAC learns its MAC when it enlists through
    // its BMC (the seed: no MAC is needed for IPMI); then it can network-boot.
    let ipmi2 = r#"{"power_address": "10.20.30.41", "power_user": "maas", "power_pass": "secret"}"#;
    let bare = c
        .post(
            "/MAAS/api/2.0/machines/",
            &[
                ("hostname", "no-mac"),
                ("architecture", "amd64"),
                ("power_type", "ipmi"),
                ("power_parameters", ipmi2),
                ("commission", "false"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(bare["interface_set"], serde_json::json!([]), "{bare:#}");
    let found = anon
        .post(
            "/MAAS/api/2.0/machines/",
            &[
                ("architecture", "amd64"),
                ("mac_addresses", &mac(52)),
                ("power_type", "ipmi"),
                ("power_parameters", ipmi2),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(found["system_id"], bare["system_id"]);
    assert_eq!(found["hostname"], "no-mac");
    let found = c.machine(found["system_id"].as_str().unwrap()).await;
    assert_eq!(
        found["interface_set"][0]["mac_address"],
        mac(52).as_str(),
        "{found:#}"
    );
    // Malformed BMC parameters in an enlistment are refused like any other.
    let r = anon
        .post(
            "/MAAS/api/2.0/machines/",
            &[
                ("architecture", "amd64"),
                ("mac_addresses", &mac(52)),
                ("power_type", "ipmi"),
                ("power_parameters", r#"{"power_address": "not a host!"}"#),
            ],
        )
        .await
        .expect(400);
    assert!(r.body.contains("power_address"), "{}", r.body);
    // A non-IPMI machine known by two MACs is matched by the one that is not its PXE MAC.
    let m = c
        .post(
            "/MAAS/api/2.0/machines/",
            &[
                ("hostname", "twonic"),
                ("architecture", "amd64"),
                ("mac_addresses", &mac(60)),
                ("mac_addresses", &mac(61)),
                ("power_type", "manual"),
                ("commission", "false"),
            ],
        )
        .await
        .ok()
        .json();
    let again = anon
        .post(
            "/MAAS/api/2.0/machines/",
            &[("architecture", "amd64"), ("mac_addresses", &mac(61))],
        )
        .await
        .ok()
        .json();
    assert_eq!(again["system_id"], m["system_id"]);
    // The BMC-enlisted machine, the one added without a MAC, and this one.
    assert_eq!(
        workload_machines(&c.get("/MAAS/api/2.0/machines/").await.ok().json()).len(),
        3
    );
}

/// Power work that a committed transition left behind finishes before `ingot serve` exits on
/// SIGTERM, even from a slow BMC: the machine is switched and the region records it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_work_under_way_finishes_before_the_region_stops() {
    let (bmc, base) = start_bmc("t0k").await;
    bmc.slow_ms.store(1500, Ordering::SeqCst);
    let mut s = Server::start(&["--power-poll-interval", "3600"]).await;
    let c = s.client();
    // Created and commissioned at once: the region asks the BMC to switch it on.
    let m = create_webhook_machine(&c, "slowbmc", 41, &base, "t0k").await;
    let sid = m["system_id"].as_str().unwrap().to_string();
    let t0 = std::time::Instant::now();
    while bmc.asked.load(Ordering::SeqCst) == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the BMC was never asked"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        bmc.ons.load(Ordering::SeqCst),
        0,
        "the BMC answered too soon"
    );
    let pid = s.child.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "serve did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "serve exited with {status}");
    assert_eq!(
        bmc.ons.load(Ordering::SeqCst),
        1,
        "the BMC was not switched"
    );
    let store = ingot_store::Store::open(&s.db).await.unwrap();
    let row = store.machine(&sid).await.unwrap().unwrap();
    assert_eq!(
        row.power_state, "on",
        "the region did not record the switch"
    );
}
