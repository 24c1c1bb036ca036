//! What the region answers when PostgreSQL fails a request for want of itself: a 503 with
//! `Retry-After` only when nothing was changed — clients repeat such requests (Juju's
//! gomaasapi does for every request); when a change may have been made before the database
//! went away, a 503 that says so, without `Retry-After`. And a request that found the
//! database gone does not wait for it again (to undo a first step, or to record why it
//! failed): it is answered within one wait for a connection.

mod common;
use common::pg_cluster::PgCluster;
use common::{mac, Client, Resp, Server};
use std::time::{Duration, Instant};

/// A trigger on `events` that does `act` (PL/pgSQL) for every insert whose description is
/// not like `keep`.
async fn on_event_inserts(db: &str, keep: &str, act: &str) {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(db)
        .await
        .expect("connect to the region's database");
    for sql in [
        "DROP TRIGGER IF EXISTS going_down ON events".to_string(),
        format!(
            "CREATE OR REPLACE FUNCTION going_down() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.description NOT LIKE '{keep}' THEN {act}; END IF; RETURN NEW; END $$"
        ),
        "CREATE TRIGGER going_down BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION going_down()".to_string(),
    ] {
        sqlx::query(&sql).execute(&mut conn).await.expect(&sql);
    }
}

/// A server going down as PostgreSQL says it (`admin_shutdown`, 57P01).
const GOING_DOWN: &str = "RAISE EXCEPTION 'terminating connection due to administrator command' USING ERRCODE = 'admin_shutdown'";

/// A 503 that says the change may have been made, and does not offer a repeat.
fn maybe_done(r: &Resp) {
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(
        r.retry_after, None,
        "a repeat would make it twice: {}",
        r.body
    );
    assert!(r.body.contains("may have made its change"), "{}", r.body);
}

/// POST a machine by hand (commissioned at once).
async fn create(c: &Client, hostname: &str, mac: &str) -> Resp {
    let p = [
        ("hostname", hostname),
        ("architecture", "amd64/generic"),
        ("mac_addresses", mac),
        ("power_type", "manual"),
    ];
    c.post("/MAAS/api/2.0/machines/", &p).await
}

/// The machines named `hostname`.
async fn named(s: &Server, hostname: &str) -> usize {
    let list = s
        .client()
        .get(&format!("/MAAS/api/2.0/machines/?hostname={hostname}"))
        .await
        .ok()
        .json();
    list.as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_before_the_database_went_away_is_not_offered_again() {
    let Some(s) = Server::start_pg(&[]).await else {
        return;
    };
    let c = s.client();
    // Nothing made: the machine's insert fails with its creation event. Try again.
    on_event_inserts(&s.db, "nothing", GOING_DOWN).await;
    let r = create(&c, "gone1", &mac(1)).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.retry_after.as_deref(), Some("5"), "{}", r.body);
    assert_eq!(named(&s, "gone1").await, 0);
    // Made: the machine is inserted (its creation event passes), then commissioning it fails
    // (its status change's event does not). Done, but the answer cannot say so: no
    // `Retry-After`, and a reason that says it may have been made.
    on_event_inserts(&s.db, "Machine created%", GOING_DOWN).await;
    let r = create(&c, "gone2", &mac(2)).await;
    maybe_done(&r);
    assert_eq!(named(&s, "gone2").await, 1, "it was made");
}

/// The test's own PostgreSQL is stopped while a request is inside its second transaction
/// (held there by a trigger): the request fails, and does not wait another 10 s for a
/// connection to record why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_caught_by_the_outage_answers_within_one_wait() {
    let Some(mut pg) = PgCluster::start_new() else {
        return;
    };
    let db = pg.create_database("ingot").await;
    let s = Server::start_on(&db, std::sync::Arc::new(tempfile::tempdir().unwrap()), &[]);
    on_event_inserts(&s.db, "Machine created%", "PERFORM pg_sleep(60)").await;
    let c = s.client();
    let req = tokio::spawn(async move { create(&c, "caught", &mac(3)).await });
    // Stopped once the request is held in the trigger.
    let mut watch = <sqlx::AnyConnection as sqlx::Connection>::connect(&pg.url("postgres"))
        .await
        .expect("connect");
    let held = "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'";
    let t = Instant::now();
    loop {
        let n: i64 = sqlx::Row::get(&sqlx::query(held).fetch_one(&mut watch).await.unwrap(), 0);
        if n == 1 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the request never got to the trigger"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(watch);
    let t = Instant::now();
    tokio::task::block_in_place(|| pg.stop("immediate"));
    let r = req.await.expect("the request's task");
    let took = t.elapsed();
    maybe_done(&r);
    // Without stopping at the first failure: another 10 s waiting for a connection.
    assert!(
        took < Duration::from_secs(5),
        "answered {took:?} after the stop"
    );
    tokio::task::block_in_place(|| pg.start());
    assert_eq!(named(&s, "caught").await, 1, "it was made");
}
