//! The database goes away and comes back during a storm (issue 17): the storm of `crash.rs`
//! (`crash/storm.rs`) runs against one `ingot serve` that is never restarted, while the test's
//! own PostgreSQL cluster is crashed and restarted (`pg_ctl restart -m immediate`, twice by
//! default) and stopped for 30 s (`-m fast`) then started again, each at a random moment.
//! It shows that:
//! - every request answers, within `REQUEST_BOUND` (no hang), and the region never ends;
//! - every 5xx is a 503 with `Retry-After` and a one-line reason (no 500, no stack trace);
//! - everything resumes by itself: requests succeed again soon after the database is back,
//!   and none is answered 503 once it has been back for `RESUME_BOUND`;
//! - the background work comes back: the deadlines that passed while the database was away
//!   are acted on by the reaper within `REAPER_BOUND` of its return;
//! - nothing is lost: the invariants of `crash/checks.rs` hold after each outage (every
//!   answered creation and allocation is there; and what was answered 503 was not done).
//!
//! `INGOT_PGRESTART_OUTAGE_SECS` (30) and `INGOT_PGRESTART_RESTARTS` (2) size the faults,
//! `INGOT_CRASH_OPS`, `INGOT_CRASH_WORKERS` and `INGOT_CRASH_MACHINES` the storm as in
//! `crash.rs`. The figures printed at the end are BENCHMARKS.md's.

#[path = "crash/checks.rs"]
mod checks;
mod common;
#[path = "crash/region.rs"]
mod region;
#[path = "crash/storm.rs"]
mod storm;

use common::pg_cluster::PgCluster;
use common::{admin_key, Client, NETWORK_ERROR};
use region::{knob, Region};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest a request may take, database or not (the pool waits 10 s for a connection).
const REQUEST_BOUND: Duration = Duration::from_secs(15);
/// Once the database has been back this long, nothing is answered 503 any more.
const RESUME_BOUND: Duration = Duration::from_secs(15);
/// Deadlines passed while the database was away are acted on this soon after it is back
/// (the work lease taken again: a round of a quarter of its 10 s, after a failed one that
/// waited 10 s for a connection; then the reaper's next second).
const REAPER_BOUND: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    /// `pg_ctl restart -m immediate`: a crash, and recovery.
    Restart,
    /// `pg_ctl stop -m fast`, away this long, then started again.
    Stop(Duration),
}

/// A time the database was away, as the test saw it.
struct Outage {
    fault: Fault,
    down: Instant,
    back: Instant,
    /// From `back` to the first answer 2xx.
    first_success: Option<Duration>,
    /// From `back` to no deadline overdue.
    reaper_caught_up: Duration,
    /// Machines past their deadline when the database came back.
    overdue_at_back: usize,
}

/// Take the database away as `fault` says, watching that the region stays up meanwhile.
async fn inject(pg: &mut PgCluster, region: &mut Region, shared: &storm::Shared, fault: Fault) {
    match fault {
        Fault::Restart => tokio::task::block_in_place(|| pg.restart_immediate()),
        Fault::Stop(away) => {
            tokio::task::block_in_place(|| pg.stop("fast"));
            let t = Instant::now();
            while t.elapsed() < away {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if let Some(st) = region.exited() {
                    shared.violation(format!("the region ended ({st}) while PostgreSQL was away"));
                    break;
                }
            }
            tokio::task::block_in_place(|| pg.start());
        }
    }
}

/// Ask for the machine list until it answers 200 (bounded): the region is back by itself.
async fn probe(shared: &storm::Shared, admin: &Client) {
    let t = Instant::now();
    while t.elapsed() < REQUEST_BOUND * 2 {
        let r = admin.get("/MAAS/api/2.0/machines/").await;
        if shared.note("probe: machine list", &r) == storm::Outcome::Ok {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shared.violation(format!(
        "the region did not answer 200 within {:?} of PostgreSQL's return",
        REQUEST_BOUND * 2
    ));
}

/// Wait until no machine is past its deadline (the reaper is back); how long it took.
async fn reaper_catches_up(shared: &storm::Shared, db: &checks::Db, back: Instant) -> Duration {
    loop {
        let late = checks::overdue(db, 1_000).await;
        if late.is_empty() {
            return back.elapsed();
        }
        if back.elapsed() > REAPER_BOUND {
            shared.violation(format!(
                "{} machine(s) still past their deadline {:?} after PostgreSQL came back: {late:?}",
                late.len(),
                REAPER_BOUND
            ));
            return back.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Check the answers against the outages, record what broke; the figures, one a line.
fn judge(shared: &storm::Shared, outages: &[Outage]) -> String {
    let answers = shared.answers();
    let mut lines = Vec::new();
    if let Some(slow) = answers.iter().max_by_key(|a| a.elapsed) {
        if slow.elapsed > REQUEST_BOUND {
            shared.violation(format!(
                "{}: answered {} after {:?} (bound {REQUEST_BOUND:?})",
                slow.what, slow.code, slow.elapsed
            ));
        }
        lines.push(format!(
            "slowest request of the run: {:.2} s ({}, {})",
            slow.elapsed.as_secs_f64(),
            slow.what,
            slow.code
        ));
    }
    for a in answers.iter().filter(|a| a.code == NETWORK_ERROR) {
        shared.violation(format!(
            "{}: no answer after {:?} (the region is never restarted here)",
            a.what, a.elapsed
        ));
    }
    // The database's 503s come while it is away, or a moment after: never long after.
    let late: Vec<_> = answers
        .iter()
        .filter(|a| a.code == 503 && a.body.contains("database"))
        .filter(|a| {
            !outages
                .iter()
                .any(|o| a.sent + a.elapsed > o.down && a.sent < o.back + RESUME_BOUND)
        })
        .collect();
    if !late.is_empty() {
        shared.violation(format!(
            "{} request(s) answered 503 with the database up for more than {RESUME_BOUND:?}: {:?}",
            late.len(),
            late.first()
        ));
    }
    for (i, o) in outages.iter().enumerate() {
        let during: Vec<_> = answers
            .iter()
            .filter(|a| a.sent < o.back && a.sent + a.elapsed > o.down)
            .collect();
        let mut by = std::collections::BTreeMap::new();
        for a in &during {
            *by.entry(a.code).or_insert(0usize) += 1;
        }
        let max = during.iter().map(|a| a.elapsed).max().unwrap_or_default();
        let what = match o.fault {
            Fault::Restart => "immediate restart".to_string(),
            Fault::Stop(d) => format!("stopped {} s", d.as_secs()),
        };
        lines.push(format!(
            "outage {}: {what}, away {:.2} s; {} requests answered during it {by:?}, slowest {:.2} s; first success {} after it was back; {} machine(s) past their deadline when it came back, none {:.1} s after",
            i + 1,
            (o.back - o.down).as_secs_f64(),
            during.len(),
            max.as_secs_f64(),
            o.first_success
                .map_or("never".to_string(), |d| format!("{:.2} s", d.as_secs_f64())),
            o.overdue_at_back,
            o.reaper_caught_up.as_secs_f64(),
        ));
    }
    lines.join("\n")
}

/// From `back` to the first 2xx answer that came after it.
fn first_success(shared: &storm::Shared, back: Instant) -> Option<Duration> {
    shared
        .answers()
        .iter()
        .filter(|a| (200..300).contains(&a.code))
        .map(|a| a.sent + a.elapsed)
        .filter(|at| *at > back)
        .min()
        .map(|at| at - back)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn storm_through_database_outages() {
    let Some(mut pg) = PgCluster::start_new() else {
        return;
    };
    let ops = knob("INGOT_CRASH_OPS", 1000);
    let workers = knob("INGOT_CRASH_WORKERS", 32);
    let machines = knob("INGOT_CRASH_MACHINES", 40);
    let away = Duration::from_secs(knob("INGOT_PGRESTART_OUTAGE_SECS", 30) as u64);
    let restarts = knob("INGOT_PGRESTART_RESTARTS", 2);
    // The long outage at a random place among the restarts.
    let mut faults = vec![Fault::Restart; restarts];
    faults.insert(rand::random::<usize>() % (restarts + 1), Fault::Stop(away));

    let db = pg.create_database("ingot").await;
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let key = admin_key(&db);
    let mut region = Region::new(db, dir);
    region.start();
    let admin = Client::new(&region.base(), &key).lenient();
    let shared = Arc::new(storm::Shared::setup(admin.clone(), region.dir.path(), machines).await);
    let db_conn = checks::Db::connect(&region.db).await;

    let t0 = Instant::now();
    let storm = {
        let shared = shared.clone();
        tokio::spawn(async move { storm::run(shared, ops, workers).await })
    };
    let mut outages = Vec::new();
    for (k, fault) in faults.iter().enumerate() {
        // At a random moment of the k-th part of the storm.
        let target = ops * (k + 1) / (faults.len() + 1);
        while shared.done() < target && !storm.is_finished() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if storm.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(rand::random::<u64>() % 300)).await;
        let down = Instant::now();
        inject(&mut pg, &mut region, &shared, *fault).await;
        let back = Instant::now();
        let overdue_at_back = checks::overdue(&db_conn, 0).await.len();
        probe(&shared, &admin).await;
        let reaper_caught_up = reaper_catches_up(&shared, &db_conn, back).await;
        if let Some(st) = region.exited() {
            shared.violation(format!("the region ended ({st}) after outage {}", k + 1));
            break;
        }
        // Nothing lost: the invariants, with the storm held.
        let hold = shared.gate.write().await;
        checks::all(&shared, &db_conn, region.dir.path(), "PostgreSQL").await;
        drop(hold);
        outages.push(Outage {
            fault: *fault,
            down,
            back,
            first_success: first_success(&shared, back),
            reaper_caught_up,
            overdue_at_back,
        });
    }
    storm.await.expect("the storm's task");
    let hold = shared.gate.write().await;
    checks::all(&shared, &db_conn, region.dir.path(), "PostgreSQL").await;
    drop(hold);
    let secs = t0.elapsed().as_secs_f64();
    let figures = judge(&shared, &outages);
    let title = format!(
        "database outage storm on PostgreSQL: {} immediate restarts and {} s stopped",
        restarts,
        away.as_secs()
    );
    let summary = format!("{}\n{figures}", shared.summary(&title, secs));
    println!("{summary}");
    checks::assert_none(&shared, &db_conn, &summary).await;
    assert_eq!(
        outages.len(),
        faults.len(),
        "{summary}\nthe storm ended before every outage"
    );
    for o in &outages {
        assert!(
            o.first_success.is_some(),
            "{summary}\nno success after an outage"
        );
    }
    shared.assert_effective(&summary);
}
