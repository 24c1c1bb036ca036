//! Two regions on one PostgreSQL database share the background work: every BMC is queried
//! once per power-poll interval (not once per region), both regions hold a part of the power
//! monitor, and when one is killed (SIGKILL) the other takes its work over within the leases'
//! time to live: the BMCs are still queried once per interval, and deadlines still fire.

mod common;
use common::bmc_farm::{self, BmcFarm};
use common::{database, mac, pg_url, Server};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const MACHINES: u32 = 16;
const INTERVAL_SECS: u64 = 2;
const LEASE_SECS: u64 = 3;

/// Status queries per BMC over `secs` seconds from now.
async fn queries_over(b: &BmcFarm, secs: u64) -> BTreeMap<u32, usize> {
    b.queries.lock().unwrap().clear();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let q = b.queries.lock().unwrap();
    (0..MACHINES)
        .map(|n| (n, q.get(&n).copied().unwrap_or(0)))
        .collect()
}

/// Each BMC queried once per interval: `secs / INTERVAL_SECS`, give or take one (a window's
/// edges cut rounds).
fn once_per_interval(q: &BTreeMap<u32, usize>, secs: u64, when: &str) {
    let want = (secs / INTERVAL_SECS) as usize;
    for (n, k) in q {
        assert!(
            (want - 1..=want + 1).contains(k),
            "{when}: BMC {n} was queried {k} times in {secs} s, want {want} ± 1 (once per {INTERVAL_SECS} s interval): {q:?}"
        );
    }
}

/// (lease, holder) as the database has them, live ones only.
async fn holders(db: &str) -> Vec<(String, String)> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(db).await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, holder FROM work_leases WHERE expires > $1 AND name NOT LIKE 'region/%' ORDER BY name",
    )
    .bind(now)
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows
}

fn port_of(s: &Server) -> String {
    s.base.rsplit(':').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_regions_share_the_work_and_survive_one_killed() {
    if pg_url().is_none() {
        return;
    }
    let (bmcs, bmc) = bmc_farm::start().await;
    let (db, dir) = database(true).await;
    let interval = INTERVAL_SECS.to_string();
    let lease = LEASE_SECS.to_string();
    let args = [
        "--power-poll-interval",
        interval.as_str(),
        "--work-lease-secs",
        lease.as_str(),
        "--reap-interval",
        "1",
        "--node-timeout-secs",
        "6",
    ];
    let mut regions = [
        Some(Server::start_on(&db, dir.clone(), &args)),
        Some(Server::start_on(&db, dir, &args)),
    ];
    let ports: Vec<String> = regions.iter().flatten().map(port_of).collect();
    let c = regions[0].as_ref().unwrap().client();
    for n in 0..MACHINES {
        bmc_farm::create_machine(&c, &bmc, n, &format!("shared{n}"), 7000 + n).await;
    }

    // Both regions up: the shards are divided between them, and each BMC is queried once per
    // interval, not once per region.
    tokio::time::sleep(Duration::from_secs(LEASE_SECS * 2)).await;
    let h = holders(&db).await;
    let shards_of = |h: &[(String, String)], port: &str| {
        h.iter()
            .filter(|(n, who)| n.starts_with("power/") && who.ends_with(&format!(":{port}")))
            .count()
    };
    for p in &ports {
        assert_eq!(
            shards_of(&h, p),
            4,
            "the share of the region on port {p}: {h:?}"
        );
    }
    let reaper = h
        .iter()
        .find(|(n, _)| n == "reaper")
        .map(|(_, who)| who.clone())
        .expect("someone holds the reaper");
    once_per_interval(&queries_over(&bmcs, 10).await, 10, "two regions");

    // Kill the region holding the reaper (SIGKILL: it gives nothing back).
    let victim = ports
        .iter()
        .position(|p| reaper.ends_with(&format!(":{p}")))
        .expect("the reaper's holder is one of the regions");
    let mut killed = regions[victim].take().unwrap();
    let _ = killed.child.kill();
    let _ = killed.child.wait();
    let survivor = regions[1 - victim].as_ref().unwrap();
    let sc = survivor.client();
    let t = Instant::now();
    // Machines that start commissioning now must still fail at their deadline (6 s).
    let mut late = Vec::new();
    for n in 0..3u32 {
        let m = sc
            .post(
                "/MAAS/api/2.0/machines/",
                &[
                    ("hostname", format!("late{n}").as_str()),
                    ("architecture", "amd64/generic"),
                    ("mac_addresses", mac(7100 + n).as_str()),
                    ("power_type", "manual"),
                ],
            )
            .await
            .ok()
            .json();
        late.push(m["system_id"].as_str().unwrap().to_string());
    }
    let ps = port_of(survivor);
    let took_over = loop {
        let h = holders(&db).await;
        if shards_of(&h, &ps) == 8
            && h.iter()
                .any(|(n, who)| n == "reaper" && who.ends_with(&format!(":{ps}")))
        {
            break t.elapsed();
        }
        assert!(
            t.elapsed() < Duration::from_secs(LEASE_SECS * 3),
            "the survivor did not take the work over: {h:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!(
        "region killed: its work taken over in {:.2} s (leases of {LEASE_SECS} s)",
        took_over.as_secs_f64()
    );
    once_per_interval(&queries_over(&bmcs, 10).await, 10, "one region left");
    for sid in &late {
        let m = sc
            .wait_machine(sid, "the deadline fires after the kill", |m| {
                m["status_name"] == "Failed commissioning"
            })
            .await;
        assert_ne!(m["error_description"], "", "the reason is given: {m}");
    }
    // Stopped cleanly (SIGTERM), a region gives its leases back at once.
    let mut last = regions[1 - victim].take().unwrap();
    common::ok(&["kill", "-TERM", &last.child.id().to_string()]);
    let status = last.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(holders(&db).await, [], "leases still held after SIGTERM");
}
