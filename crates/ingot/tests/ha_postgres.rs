//! Two `ingot serve` processes on one PostgreSQL database: concurrent allocate, deploy and
//! release from both never double-allocate a machine and never lose a transition.

mod common;
use common::{database, mac, pg_url, Client, Server};
use futures::future::join_all;
use std::collections::HashSet;

/// Status-change events of a machine, oldest first, as (from, to) labels.
async fn chain(c: &Client, sid: &str) -> Vec<(String, String)> {
    let mut evs = c.events(sid).await;
    evs.sort_by_key(|e| e["id"].as_i64());
    evs.iter()
        .filter_map(|e| e["description"].as_str())
        .filter_map(|d| {
            let rest = d.strip_prefix("From '")?;
            let (from, rest) = rest.split_once("' to '")?;
            let (to, _) = rest.split_once('\'')?;
            Some((from.to_string(), to.to_string()))
        })
        .collect()
}

async fn assert_no_lost_transition(c: &Client, sid: &str) {
    let ch = chain(c, sid).await;
    for w in ch.windows(2) {
        assert_eq!(
            w[0].1, w[1].0,
            "{sid}: a transition was applied from a stale state: {ch:?}"
        );
    }
    let m = c.machine(sid).await;
    assert_eq!(
        ch.last().map(|x| x.1.as_str()),
        m["status_name"].as_str(),
        "{sid}: final event disagrees with the status"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_regions_one_database() {
    if pg_url().is_none() {
        return;
    }
    const N: usize = 48;
    let (db, dir) = database(true).await;
    let a = Server::start_on(&db, dir.clone(), &[]);
    let b = Server::start_on(&db, dir, &[]);
    let (ca, cb) = (a.client(), b.client());
    ca.upload_image("custom/test-os", b"a root file system")
        .await;
    let mut sids = Vec::new();
    for i in 0..N {
        let c = if i % 2 == 0 { &ca } else { &cb };
        sids.push(
            c.ready_machine(&format!("ha{i}"), &mac(1000 + i as u32), &[])
                .await,
        );
    }

    // 32 allocators, half on each region, until nothing is left.
    let tasks = (0..32).map(|k| {
        let c = if k % 2 == 0 { ca.clone() } else { cb.clone() };
        async move {
            let mut got = Vec::new();
            loop {
                let r = c
                    .post("/MAAS/api/2.0/machines/?op=allocate", &[("arch", "amd64")])
                    .await;
                match r.status.as_u16() {
                    200 => got.push(r.json()["system_id"].as_str().unwrap().to_string()),
                    409 => break,
                    503 => continue,
                    s => panic!("allocate: {s} {}", r.body),
                }
            }
            got
        }
    });
    let all: Vec<String> = join_all(tasks).await.into_iter().flatten().collect();
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(
        all.len(),
        N,
        "every machine allocated exactly once: {} allocations",
        all.len()
    );
    assert_eq!(unique.len(), N, "double allocation");

    // Race deploy (region A) against release (region B) on every machine.
    let races = sids.iter().map(|sid| {
        let (ca, cb, sid) = (ca.clone(), cb.clone(), sid.clone());
        async move {
            let (d, r) = tokio::join!(ca.op(&sid, "deploy", &[]), cb.op(&sid, "release", &[]));
            assert!(
                d.status.as_u16() == 200 || d.status.as_u16() == 409,
                "deploy: {} {}",
                d.status,
                d.body
            );
            assert!(r.status.is_success(), "release: {} {}", r.status, r.body);
        }
    });
    join_all(races).await;
    for sid in &sids {
        assert_no_lost_transition(&ca, sid).await;
    }

    // Both regions deploy the same allocated machine at once: exactly one wins. (Where release
    // won the race above, deploy then started from READY, so release everything first.)
    for sid in &sids {
        ca.op(sid, "release", &[]).await.ok();
        assert_eq!(ca.status(sid).await, 4);
        ca.post(
            "/MAAS/api/2.0/machines/?op=allocate",
            &[("system_id", sid.as_str())],
        )
        .await
        .ok();
    }
    let duels = sids.iter().map(|sid| {
        let (ca, cb, sid) = (ca.clone(), cb.clone(), sid.clone());
        async move {
            let (x, y) = tokio::join!(ca.op(&sid, "deploy", &[]), cb.op(&sid, "deploy", &[]));
            let ok = [x.status.as_u16(), y.status.as_u16()]
                .iter()
                .filter(|s| **s == 200)
                .count();
            assert_eq!(ok, 1, "{sid}: {} / {}", x.body, y.body);
        }
    });
    join_all(duels).await;
    for sid in &sids {
        assert_no_lost_transition(&cb, sid).await;
        assert_eq!(cb.status(sid).await, 9);
    }
}

/// Two regions reserving static addresses from one small subnet at once: every address handed
/// out once, the subnet filled exactly, the rest refused with 409 (exhausted).
async fn reservations_race(pg: bool) {
    let (db, dir) = database(pg).await;
    let a = Server::start_on(&db, dir.clone(), &[]);
    let b = Server::start_on(&db, dir, &[]);
    let (ca, cb) = (a.client(), b.client());
    ca.post(
        "/MAAS/api/2.0/subnets/",
        &[("cidr", "10.61.0.0/27"), ("gateway_ip", "10.61.0.1")],
    )
    .await
    .ok();
    let tasks = (0..16).map(|k| {
        let c = if k % 2 == 0 { ca.clone() } else { cb.clone() };
        async move {
            let mut got = Vec::new();
            loop {
                let r = c
                    .post(
                        "/MAAS/api/2.0/ipaddresses/",
                        &[("op", "reserve"), ("subnet", "10.61.0.0/27")],
                    )
                    .await;
                match r.status.as_u16() {
                    200 => got.push(r.json()["ip"].as_str().unwrap().to_string()),
                    409 => {
                        assert!(r.body.contains("No free static address"), "{}", r.body);
                        break;
                    }
                    s => panic!("unexpected {s}: {}", r.body),
                }
            }
            got
        }
    });
    let all: Vec<String> = join_all(tasks).await.into_iter().flatten().collect();
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(
        unique.len(),
        all.len(),
        "an address was handed out twice: {all:?}"
    );
    // 10.61.0.0/27: .1-.30 usable, .1 is the gateway.
    assert_eq!(all.len(), 29, "{all:?}");
    assert!(!unique.contains(&"10.61.0.1".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_regions_never_reserve_one_address_twice() {
    if pg_url().is_none() {
        return;
    }
    reservations_race(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reservations_on_sqlite() {
    reservations_race(false).await;
}
