//! The Redfish driver against a real Redfish service: sushy-emulator (sushy-tools, fake driver),
//! started through `$INGOT_SHARED_DIR/peers/redfish-emulator.sh` with its own port and work dir
//! per test and stopped by its PID. Power changes land 1-11 s after a Reset there.
//!
//! What the tests observe on the BMC side: the emulator's own access log (`$WORK/sushy.log`,
//! one line per request with its status) for the Reset actions it accepted, and the system's
//! `PowerState` read over plain HTTP. Session authentication (which sushy-emulator does not
//! offer) is covered by a small mock Redfish service at the end.
//!
//! Install the emulator with `scripts/peers/redfish.sh`. When it is missing these tests print a
//! skip message and pass, unless `CI` is set, in which case they fail.

use async_trait::async_trait;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use ingot_power::contract::{self, Observer};
use ingot_power::redfish::Redfish;
use ingot_power::{BootDevice, Params, PowerDriver, PowerError, PowerState};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SYS1: &str = "/redfish/v1/Systems/00000000-0000-0000-0000-000000000001";
const SYS2: &str = "/redfish/v1/Systems/00000000-0000-0000-0000-000000000002";

fn params(kv: &[(&str, &str)]) -> Params {
    kv.iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect()
}

#[path = "support/sushy.rs"]
mod sushy;
use sushy::{free_port, Emulator};

fn driver_params(emu: &Emulator, extra: &[(&str, &str)]) -> Params {
    let mut p = params(&[
        ("power_address", &emu.base),
        ("power_user", sushy::USER),
        ("power_pass", sushy::PASS),
    ]);
    p.extend(params(extra));
    p
}

/// The BMC side of one system: accepted Reset actions (the emulator's log) and its PowerState.
struct SushyObserver<'a> {
    emu: &'a Emulator,
    system: &'static str,
}

#[async_trait]
impl Observer for SushyObserver<'_> {
    async fn changes(&self) -> usize {
        self.emu.resets(self.system)
    }
    async fn actual_on(&self) -> Option<bool> {
        match self.emu.system(self.system).await["PowerState"].as_str() {
            Some("On") => Some(true),
            Some("Off") => Some(false),
            _ => None,
        }
    }
}

#[tokio::test]
async fn contract_against_sushy() {
    let Some(emu) = Emulator::start().await else {
        return;
    };
    let d = Redfish::from_params(&driver_params(&emu, &[])).unwrap();
    let obs = SushyObserver {
        emu: &emu,
        system: SYS1,
    };
    let t = Instant::now();
    let r = contract::check(&d, &obs, Duration::from_secs(30)).await;
    eprintln!("contract against sushy-emulator took {:?}", t.elapsed());
    r.unwrap_or_else(|e| panic!("{e}\n--- sushy.log ---\n{}", emu.log()));
    assert!(
        !d.uses_session().await,
        "sushy-emulator offers no sessions: basic auth"
    );
    // Once more, by hand: the machine is on, and power_on leaves the BMC alone.
    let before = emu.resets(SYS1);
    assert!(before >= 4, "on, restart, off, on: {before} resets");
    assert_eq!(d.query().await, Ok(PowerState::On));
    d.power_on().await.unwrap();
    assert_eq!(
        emu.resets(SYS1),
        before,
        "power_on on a running machine posted a Reset"
    );
    // The second system was never touched.
    assert_eq!(emu.resets(SYS2), 0);
    assert_eq!(emu.system(SYS2).await["PowerState"], "Off");
}

#[tokio::test]
async fn wrong_password_is_auth_and_fast() {
    let Some(emu) = Emulator::start().await else {
        return;
    };
    let d = Redfish::from_params(&driver_params(&emu, &[("power_pass", "wrong")])).unwrap();
    let t = Instant::now();
    match d.query().await {
        Err(e @ PowerError::Auth(_)) => assert!(!e.is_transient()),
        other => panic!("expected Auth, got {other:?}"),
    }
    assert!(matches!(d.power_on().await, Err(PowerError::Auth(_))));
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // No credentials at all is refused the same way.
    let d = Redfish::from_params(&params(&[("power_address", &emu.base)])).unwrap();
    assert!(matches!(d.power_off().await, Err(PowerError::Auth(_))));
    assert_eq!(emu.resets(SYS1), 0);
}

#[tokio::test]
async fn boot_override_to_pxe() {
    let Some(emu) = Emulator::start().await else {
        return;
    };
    let d = Redfish::from_params(&driver_params(&emu, &[])).unwrap();
    assert_eq!(
        emu.system(SYS1).await["Boot"]["BootSourceOverrideTarget"],
        "Hdd"
    );
    d.set_boot_device(BootDevice::Pxe, false).await.unwrap();
    assert_eq!(
        emu.system(SYS1).await["Boot"]["BootSourceOverrideTarget"],
        "Pxe"
    );
    d.set_boot_device(BootDevice::Disk, true).await.unwrap();
    let boot = emu.system(SYS1).await["Boot"].clone();
    assert_eq!(boot["BootSourceOverrideTarget"], "Hdd");
    // (sushy-emulator always reads BootSourceOverrideEnabled back as Continuous.)
    assert_eq!(boot["BootSourceOverrideEnabled"], "Continuous");
    // The other system is untouched.
    assert_eq!(
        emu.system(SYS2).await["Boot"]["BootSourceOverrideTarget"],
        "Hdd"
    );
}

#[tokio::test]
async fn node_id_selects_the_system() {
    let Some(emu) = Emulator::start().await else {
        return;
    };
    let d = Redfish::from_params(&driver_params(
        &emu,
        &[("node_id", "00000000-0000-0000-0000-000000000002")],
    ))
    .unwrap();
    d.power_on().await.unwrap();
    assert_eq!(emu.system(SYS2).await["PowerState"], "On");
    assert_eq!(emu.system(SYS1).await["PowerState"], "Off");
    assert_eq!((emu.resets(SYS1), emu.resets(SYS2)), (0, 1));
    d.set_boot_device(BootDevice::Pxe, false).await.unwrap();
    assert_eq!(
        emu.system(SYS2).await["Boot"]["BootSourceOverrideTarget"],
        "Pxe"
    );
    assert_eq!(
        emu.system(SYS1).await["Boot"]["BootSourceOverrideTarget"],
        "Hdd"
    );
    // A full @odata.id works too.
    let d = Redfish::from_params(&driver_params(&emu, &[("node_id", SYS2)])).unwrap();
    assert_eq!(d.query().await, Ok(PowerState::On));
    // Without node_id: the first system.
    let d = Redfish::from_params(&driver_params(&emu, &[])).unwrap();
    assert_eq!(d.query().await, Ok(PowerState::Off));
    // An unknown one is a parameter error, not something to retry.
    let d = Redfish::from_params(&driver_params(&emu, &[("node_id", "no-such-node")])).unwrap();
    match d.query().await {
        Err(PowerError::BadParams(m)) => assert!(m.contains("no such system"), "{m}"),
        other => panic!("expected BadParams, got {other:?}"),
    }
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    let port = free_port();
    let d = Redfish::from_params(&params(&[
        ("power_address", &format!("http://127.0.0.1:{port}")),
        ("power_user", "admin"),
        ("power_pass", "password"),
    ]))
    .unwrap();
    let t = Instant::now();
    match d.query().await {
        Err(e @ (PowerError::Unreachable(_) | PowerError::Timeout(_))) => assert!(e.is_transient()),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(matches!(
        d.power_on().await,
        Err(PowerError::Unreachable(_) | PowerError::Timeout(_))
    ));
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(matches!(
        Redfish::from_params(&params(&[])),
        Err(PowerError::BadParams(_))
    ));
    assert!(matches!(
        Redfish::from_params(&params(&[("power_address", "ftp://x")])),
        Err(PowerError::BadParams(_))
    ));
}

// ---- A mock Redfish service with sessions (sushy-emulator has none) ----

#[derive(Default)]
struct Mock {
    power: Mutex<String>,
    tokens: Mutex<Vec<String>>,
    logins: AtomicUsize,
    logouts: AtomicUsize,
    resets: AtomicUsize,
    basic_requests: AtomicUsize,
    busy: AtomicBool,
}

type M = State<Arc<Mock>>;

impl Mock {
    fn authorized(&self, h: &HeaderMap) -> Result<(), StatusCode> {
        if h.contains_key("authorization") {
            self.basic_requests.fetch_add(1, Ordering::SeqCst);
        }
        if self.busy.load(Ordering::SeqCst) {
            return Err(StatusCode::SERVICE_UNAVAILABLE);
        }
        let token = h
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if self.tokens.lock().unwrap().iter().any(|t| t == token) {
            Ok(())
        } else {
            Err(StatusCode::UNAUTHORIZED)
        }
    }
}

async fn m_root() -> Json<Value> {
    Json(
        json!({"Systems": {"@odata.id": "/redfish/v1/Systems"}, "SessionService": {"@odata.id": "/redfish/v1/SessionService"},
                "Links": {"Sessions": {"@odata.id": "/redfish/v1/SessionService/Sessions"}}}),
    )
}

async fn m_login(State(m): M, Json(b): Json<Value>) -> Response {
    if b["UserName"] != "admin" || b["Password"] != "password" {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let n = m.logins.fetch_add(1, Ordering::SeqCst) + 1;
    let token = format!("tok-{n}");
    m.tokens.lock().unwrap().push(token.clone());
    let loc = format!("/redfish/v1/SessionService/Sessions/{token}");
    (
        StatusCode::CREATED,
        [("X-Auth-Token", token.clone()), ("Location", loc.clone())],
        Json(json!({"@odata.id": loc})),
    )
        .into_response()
}

async fn m_logout(State(m): M, Path(id): Path<String>, h: HeaderMap) -> Response {
    if let Err(r) = m.authorized(&h) {
        return r.into_response();
    }
    m.tokens.lock().unwrap().retain(|t| *t != id);
    m.logouts.fetch_add(1, Ordering::SeqCst);
    StatusCode::NO_CONTENT.into_response()
}

async fn m_systems(State(m): M, h: HeaderMap) -> Response {
    if let Err(r) = m.authorized(&h) {
        return r.into_response();
    }
    Json(json!({"Members": [{"@odata.id": "/redfish/v1/Systems/s1"}]})).into_response()
}

async fn m_system(State(m): M, h: HeaderMap) -> Response {
    if let Err(r) = m.authorized(&h) {
        return r.into_response();
    }
    let power = m.power.lock().unwrap().clone();
    Json(json!({"@odata.id": "/redfish/v1/Systems/s1", "PowerState": power,
                "Actions": {"#ComputerSystem.Reset": {"target": "/redfish/v1/Systems/s1/Actions/Power.Do",
                                                      "ResetType@Redfish.AllowableValues": ["On", "ForceOff", "ForceRestart"]}}}))
    .into_response()
}

async fn m_reset(State(m): M, h: HeaderMap, Json(b): Json<Value>) -> Response {
    if let Err(r) = m.authorized(&h) {
        return r.into_response();
    }
    m.resets.fetch_add(1, Ordering::SeqCst);
    let to = match b["ResetType"].as_str() {
        Some("On" | "ForceRestart") => "On",
        Some("ForceOff") => "Off",
        _ => return StatusCode::BAD_REQUEST.into_response(),
    };
    *m.power.lock().unwrap() = to.to_string();
    StatusCode::NO_CONTENT.into_response()
}

async fn mock() -> (String, Arc<Mock>) {
    let m = Arc::new(Mock {
        power: Mutex::new("Off".into()),
        ..Default::default()
    });
    let app = Router::new()
        .route("/redfish/v1/", get(m_root))
        .route("/redfish/v1/SessionService/Sessions", post(m_login))
        .route("/redfish/v1/SessionService/Sessions/{id}", delete(m_logout))
        .route("/redfish/v1/Systems", get(m_systems))
        .route("/redfish/v1/Systems/s1", get(m_system))
        .route("/redfish/v1/Systems/s1/Actions/Power.Do", post(m_reset))
        .with_state(m.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), m)
}

struct MockObserver(Arc<Mock>);

#[async_trait]
impl Observer for MockObserver {
    async fn changes(&self) -> usize {
        self.0.resets.load(Ordering::SeqCst)
    }
    async fn actual_on(&self) -> Option<bool> {
        Some(*self.0.power.lock().unwrap() == "On")
    }
}

#[tokio::test]
async fn sessions_when_offered() {
    let (base, m) = mock().await;
    let p = params(&[
        ("power_address", &base),
        ("power_user", "admin"),
        ("power_pass", "password"),
    ]);
    let d = Redfish::from_params(&p)
        .unwrap()
        .with_polling(Duration::from_secs(5), Duration::from_millis(50));
    contract::check(&d, &MockObserver(m.clone()), Duration::from_secs(5))
        .await
        .unwrap();
    assert!(d.uses_session().await);
    assert_eq!(
        m.logins.load(Ordering::SeqCst),
        1,
        "one session for the driver's life"
    );
    assert_eq!(
        m.basic_requests.load(Ordering::SeqCst),
        0,
        "no basic auth once a session is open"
    );
    // An expired session is reopened once.
    m.tokens.lock().unwrap().clear();
    assert_eq!(d.query().await, Ok(PowerState::On));
    assert_eq!(m.logins.load(Ordering::SeqCst), 2);
    // Dropping the driver closes its session.
    drop(d);
    let t = Instant::now();
    while m.logouts.load(Ordering::SeqCst) == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "the session was not deleted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(m.tokens.lock().unwrap().is_empty());
    // Refused credentials at login are Auth.
    let d = Redfish::from_params(&params(&[
        ("power_address", &base),
        ("power_user", "admin"),
        ("power_pass", "nope"),
    ]))
    .unwrap();
    assert!(matches!(d.query().await, Err(PowerError::Auth(_))));
}

#[tokio::test]
async fn odd_answers_from_the_bmc() {
    let (base, m) = mock().await;
    let d = Redfish::from_params(&params(&[
        ("power_address", &base),
        ("power_user", "admin"),
        ("power_pass", "password"),
    ]))
    .unwrap();
    // PoweringOn reads as on, and power_on leaves it alone.
    *m.power.lock().unwrap() = "PoweringOn".into();
    assert_eq!(d.query().await, Ok(PowerState::On));
    d.power_on().await.unwrap();
    assert_eq!(m.resets.load(Ordering::SeqCst), 0);
    // A PowerState nobody knows is a protocol error.
    *m.power.lock().unwrap() = "Sideways".into();
    assert!(matches!(d.query().await, Err(PowerError::Protocol(_))));
    // 503 is Busy (transient).
    m.busy.store(true, Ordering::SeqCst);
    assert!(matches!(d.query().await, Err(PowerError::Busy(_))));
    m.busy.store(false, Ordering::SeqCst);
    // A state that never arrives is a transient Timeout.
    *m.power.lock().unwrap() = "Off".into();
    let d = Redfish::from_params(&params(&[
        ("power_address", &base),
        ("power_user", "admin"),
        ("power_pass", "password"),
    ]))
    .unwrap()
    .with_polling(Duration::from_millis(300), Duration::from_millis(50));
    // The mock applies resets at once, so make it refuse to leave PoweringOff.
    *m.power.lock().unwrap() = "PoweringOff".into();
    match d.power_on().await {
        Err(e @ PowerError::Timeout(_)) => assert!(e.is_transient()),
        other => panic!("expected Timeout, got {other:?}"),
    }
}

/// The inventory read from sushy-emulator holds exactly what the emulator serves: the system
/// resource, the drives of its Storage, its Ethernet interfaces; what the fake driver does not
/// serve (Processors, Memory) is absent from the capture and named in `not_read`.
/// `INGOT_WRITE_REDFISH_CAPTURE=PATH` writes the capture (the core crate's test fixture).
#[tokio::test]
async fn inventory_against_sushy() {
    let Some(emu) = Emulator::start_with(Some(sushy::STORAGE_CONFIG)).await else {
        return;
    };
    let d = Redfish::from_params(&driver_params(&emu, &[("node_id", SYS1)])).unwrap();
    let cap = d
        .read_inventory()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", emu.log()));
    if let Some(p) = std::env::var_os("INGOT_WRITE_REDFISH_CAPTURE") {
        std::fs::write(p, serde_json::to_string_pretty(&cap).unwrap()).unwrap();
    }
    let sys = emu.system(SYS1).await;
    assert_eq!(cap["system"]["UUID"], sys["UUID"]);
    assert_eq!(cap["system"]["Manufacturer"], sys["Manufacturer"]);
    // Ethernet interfaces: every member, as served.
    let nics = emu.get(&format!("{SYS1}/EthernetInterfaces")).await;
    let mut want = Vec::new();
    for m in nics["Members"].as_array().unwrap() {
        want.push(emu.get(m["@odata.id"].as_str().unwrap()).await);
    }
    assert!(!want.is_empty());
    assert_eq!(cap["ethernet_interfaces"], Value::Array(want));
    // Storage: each Storage member with its drives, as served.
    let col = emu.get(&format!("{SYS1}/Storage")).await;
    let mut want = Vec::new();
    for m in col["Members"].as_array().unwrap() {
        let st = emu.get(m["@odata.id"].as_str().unwrap()).await;
        let mut drives = Vec::new();
        for d in st["Drives"].as_array().unwrap() {
            drives.push(emu.get(d["@odata.id"].as_str().unwrap()).await);
        }
        want.push(json!({"storage": st, "drives": drives}));
    }
    assert_eq!(cap["storage"], Value::Array(want));
    assert_eq!(
        cap["storage"][0]["drives"].as_array().map(Vec::len),
        Some(2)
    );
    // Not served by the fake driver: absent, and said so; nothing made up.
    for (key, path) in [("processors", "Processors"), ("memory", "Memory")] {
        let served = emu.try_get(&format!("{SYS1}/{path}")).await;
        match served {
            None => {
                assert!(cap.get(key).is_none(), "{key} was invented: {}", cap[key]);
                let notes = cap["not_read"].as_array().unwrap();
                assert!(
                    notes.iter().any(|n| n.as_str().unwrap().contains(path)),
                    "{path} not named in {notes:?}"
                );
            }
            Some(_) => assert!(cap[key].is_array(), "{key} served but not read"),
        }
    }
    // A stopped BMC is an error (unreachable), not an empty inventory.
    let mut emu = emu;
    emu.stop().await;
    let d = Redfish::from_params(&driver_params(&emu, &[("node_id", SYS1)])).unwrap();
    match d.read_inventory().await {
        Err(e @ PowerError::Unreachable(_)) => assert!(e.is_transient()),
        other => panic!("expected Unreachable, got {other:?}"),
    }
}
