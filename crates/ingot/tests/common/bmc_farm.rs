//! Many webhook BMCs on one test server, one path per machine (`/{n}/on`, `/{n}/off`,
//! `/{n}/status`): each keeps its machine's power, counts the status queries it gets and
//! notes when it was told to power on.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Default)]
pub struct BmcFarm {
    pub queries: Mutex<HashMap<u32, usize>>,
    pub ons: Mutex<Vec<Instant>>,
    on: Mutex<HashSet<u32>>,
}

/// Start the farm; it and its base URL.
pub async fn start() -> (Arc<BmcFarm>, String) {
    let farm = Arc::new(BmcFarm::default());
    let app = axum::Router::new()
        .route(
            "/{n}/on",
            post(
                |State(b): State<Arc<BmcFarm>>, Path(n): Path<u32>| async move {
                    b.ons.lock().unwrap().push(Instant::now());
                    b.on.lock().unwrap().insert(n);
                    ""
                },
            ),
        )
        .route(
            "/{n}/off",
            post(
                |State(b): State<Arc<BmcFarm>>, Path(n): Path<u32>| async move {
                    b.on.lock().unwrap().remove(&n);
                    ""
                },
            ),
        )
        .route(
            "/{n}/status",
            get(
                |State(b): State<Arc<BmcFarm>>, Path(n): Path<u32>| async move {
                    *b.queries.lock().unwrap().entry(n).or_default() += 1;
                    if b.on.lock().unwrap().contains(&n) {
                        "{\"status\": \"running\"}"
                    } else {
                        "{\"status\": \"stopped\"}"
                    }
                },
            ),
        )
        .with_state(farm.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (farm, base)
}

/// Create machine `hostname` (MAC `mac(mac_n)`) switched by BMC `n` of the farm at `base`,
/// without commissioning it; its system id.
pub async fn create_machine(
    c: &super::Client,
    base: &str,
    n: u32,
    hostname: &str,
    mac_n: u32,
) -> String {
    let p = [
        ("hostname", hostname.to_string()),
        ("architecture", "amd64/generic".into()),
        ("mac_addresses", super::mac(mac_n)),
        ("power_type", "webhook".into()),
        ("power_parameters_power_on_uri", format!("{base}/{n}/on")),
        ("power_parameters_power_off_uri", format!("{base}/{n}/off")),
        (
            "power_parameters_power_query_uri",
            format!("{base}/{n}/status"),
        ),
        ("commission", "false".into()),
    ];
    let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let m = c.post("/MAAS/api/2.0/machines/", &p).await.ok().json();
    m["system_id"].as_str().unwrap().to_string()
}
