//! Fault injection: a storm of concurrent life-cycle operations against the real `ingot serve`
//! while it is killed with SIGKILL at random moments and started again, on SQLite and on
//! PostgreSQL. After each restart, with the storm held, the invariants are checked against the
//! API and the database (`crash/checks.rs`):
//! - every machine whose creation was answered is there;
//! - every status change in the event log is an edge of the transition table, starts where the
//!   one before it ended, and the last one ends at the machine's status;
//! - no transient status outlives its deadline (the reaper catches up after a restart);
//! - no machine is allocated twice (an allocation answered while another client holds it);
//! - no address is held by two interfaces, or by nobody (an AUTO address belongs to a link of
//!   a machine that holds it);
//! - every image marked complete is served whole (its bytes have its digest);
//! - every DHCP lease the region acknowledged is still there (the lease log recovers).
//!
//! The storm (`crash/storm.rs`) plays users, machines and racks: enlistment (by hand and by the
//! machine itself), commissioning with results, allocation by 2 users, deployment, release with
//! erase, aborts, the machines' signals, chunked image uploads and DHCP leases.
//! `INGOT_CRASH_OPS` (1000), `INGOT_CRASH_KILLS` (3), `INGOT_CRASH_WORKERS` (32) and
//! `INGOT_CRASH_MACHINES` (40) size it; `bench/crash.sh` runs it longer.

#[path = "crash/checks.rs"]
mod checks;
mod common;
#[path = "crash/region.rs"]
mod region;
#[path = "crash/storm.rs"]
mod storm;

use common::{admin_key, database, pg_url, Client};
use region::{knob, Region};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn crash_storm(pg: bool) {
    let which = if pg { "PostgreSQL" } else { "SQLite" };
    let ops = knob("INGOT_CRASH_OPS", 1000);
    let kills = knob("INGOT_CRASH_KILLS", 3);
    let workers = knob("INGOT_CRASH_WORKERS", 32);
    let machines = knob("INGOT_CRASH_MACHINES", 40);

    let (db, dir) = database(pg).await;
    let key = admin_key(&db);
    let mut region = Region::new(db, dir);
    region.start();
    let admin = Client::new(&region.base(), &key).lenient();
    let shared = Arc::new(storm::Shared::setup(admin, region.dir.path(), machines).await);

    let t0 = Instant::now();
    let storm = {
        let shared = shared.clone();
        tokio::spawn(async move { storm::run(shared, ops, workers).await })
    };
    let mut performed = 0;
    let db_conn = checks::Db::connect(&region.db).await;
    for k in 0..kills {
        // Kill at a random moment of the k-th part of the storm.
        let target = ops * (k + 1) / (kills + 1);
        while shared.done() < target && !storm.is_finished() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if storm.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(rand::random::<u64>() % 300)).await;
        if let Some(st) = region.exited() {
            shared.violation(format!("the region ended by itself ({st}) before kill {k}"));
        }
        region.kill();
        performed += 1;
        // Hold the storm (the requests in flight fail at once), start again, check.
        let hold = shared.gate.write().await;
        region.start();
        // The reaper runs every second: a deadline that passed while the region was down
        // must be acted on within a couple of its rounds.
        tokio::time::sleep(Duration::from_secs(3)).await;
        checks::all(&shared, &db_conn, region.dir.path(), which).await;
        drop(hold);
    }
    storm.await.expect("the storm's task");
    let hold = shared.gate.write().await;
    checks::all(&shared, &db_conn, region.dir.path(), which).await;
    drop(hold);
    let secs = t0.elapsed().as_secs_f64();
    let summary = shared.summary(
        &format!("crash storm on {which}: {performed} SIGKILLs"),
        secs,
    );
    println!("{summary}");
    checks::assert_none(&shared, &db_conn, &summary).await;
    assert_eq!(
        performed, kills,
        "{summary}: the storm ended before every kill"
    );
    // A storm that did nothing proves nothing: each kind of work must have gone through.
    shared.assert_effective(&summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_storm_sqlite() {
    crash_storm(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_storm_postgres() {
    if pg_url().is_none() {
        return;
    }
    crash_storm(true).await;
}
