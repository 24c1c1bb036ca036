//! The invariants checked after each restart, with the storm held: from the API where a user
//! would see it, from the database where only it tells (the event log, addresses, deadlines).

use crate::storm::{LeaseState, Shared};
use ingot_core::status::Status;
use ingot_core::transitions::can_transition;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::Ordering;

/// How late the reaper may be: it runs every second, and the checks start 3 s after a start.
const REAPER_SLACK_MS: i64 = 2_500;

/// The test's own connection to the region's database (it outlives the region's process).
pub struct Db(sqlx::AnyPool);

impl Db {
    pub async fn connect(url: &str) -> Db {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(2)
            .connect(url)
            .await
            .expect("connect to the region's database");
        Db(pool)
    }

    async fn rows(&self, sql: &str) -> Vec<sqlx::any::AnyRow> {
        sqlx::query(sql)
            .fetch_all(&self.0)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    async fn strings(&self, sql: &str) -> Vec<String> {
        self.rows(sql)
            .await
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| {
                        r.try_get::<String, _>(i)
                            .or_else(|_| r.try_get::<i64, _>(i).map(|n| n.to_string()))
                            .unwrap_or_else(|_| "NULL".into())
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A machine's events, oldest first, one a line (to show with a violation).
pub async fn history(db: &Db, sid: &str) -> String {
    let sql = format!(
        "SELECT CAST(id AS TEXT) || ' ' || username || ': ' || description FROM events WHERE system_id = '{}' ORDER BY id",
        sid.replace('\'', "")
    );
    db.strings(&sql).await.join("\n    ")
}

/// Fail with every violation recorded (a machine's events shown with what names it).
pub async fn assert_none(s: &Shared, db: &Db, summary: &str) {
    let violations = s.violations();
    for v in &violations {
        let sid = v.split([' ', ':']).next().unwrap_or("");
        if sid.len() == 6 {
            eprintln!("{v}\n  events of {sid}:\n    {}", history(db, sid).await);
        }
    }
    assert!(
        violations.is_empty(),
        "{summary}\n{} violation(s):\n{}",
        violations.len(),
        violations.join("\n")
    );
}

/// Every invariant; each failure is recorded as a violation naming what broke.
pub async fn all(s: &Shared, db: &Db, data_dir: &Path, which: &str) {
    let n = s.checks_run.fetch_add(1, Ordering::Relaxed) + 1;
    let before = s.violations().len();
    machines_are_there(s, which).await;
    refused_creations_left_nothing(s, db).await;
    transitions_are_edges(s, db).await;
    deadlines_hold(s, db).await;
    allocations_hold(s, db).await;
    addresses_are_held_once(s, db).await;
    images_are_whole(s, db, data_dir).await;
    leases_recovered(s, db).await;
    let after = s.violations().len();
    eprintln!(
        "crash storm on {which}: check {n} after {} operations: {} new violation(s)",
        s.done(),
        after - before
    );
}

/// Every machine whose creation was answered is listed.
async fn machines_are_there(s: &Shared, which: &str) {
    let r = s.admin.get("/MAAS/api/2.0/machines/").await;
    if r.status.as_u16() != 200 {
        s.violation(format!(
            "{which}: the machine list answered {} after a restart: {}",
            r.status, r.body
        ));
        return;
    }
    let listed: HashSet<String> = r
        .json()
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["system_id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let known = s.machines.lock().expect("machines").clone();
    for k in known {
        if !listed.contains(&k.system_id) {
            s.violation(format!("machine {} ({}) was lost", k.system_id, k.mac));
        }
    }
}

/// No machine whose creation was answered with a refusal or a 503 exists: an answer that
/// says "not done" was not done (a 503 after the commit would have a client create it twice).
async fn refused_creations_left_nothing(s: &Shared, db: &Db) {
    let macs: HashSet<String> = db
        .strings("SELECT LOWER(mac_address) FROM interfaces")
        .await
        .into_iter()
        .collect();
    let refused = s.not_created.lock().expect("not created").clone();
    for mac in refused {
        if macs.contains(&mac.to_lowercase()) {
            s.violation(format!(
                "machine {mac}: its creation was answered with a refusal or 503, yet it exists"
            ));
        }
    }
}

/// "From 'A' to 'B'" → (A, B).
fn parse_change(d: &str) -> Option<(Status, Status)> {
    let rest = d.strip_prefix("From '")?;
    let (from, rest) = rest.split_once("' to '")?;
    let (to, _) = rest.split_once('\'')?;
    Some((Status::parse(from)?, Status::parse(to)?))
}

/// Each machine's status changes, oldest first: each an edge of the table, each starting where
/// the one before ended, the last ending at the machine's status.
async fn transitions_are_edges(s: &Shared, db: &Db) {
    let mut chains: BTreeMap<String, Vec<(Status, Status)>> = BTreeMap::new();
    // The events and the machines' statuses in one statement, so one snapshot: read apart, a
    // change the live region commits in between (the reaper catching up after an outage)
    // shows a status whose event seems missing.
    let mut status: HashMap<String, i64> = HashMap::new();
    for r in db
        .rows("SELECT e.system_id, e.description, m.status FROM events e LEFT JOIN machines m ON m.system_id = e.system_id WHERE e.description LIKE 'From ''%' ORDER BY e.id")
        .await
    {
        let sid: String = r.try_get(0).unwrap_or_default();
        let d: String = r.try_get(1).unwrap_or_default();
        if let Ok(st) = r.try_get::<i64, _>(2) {
            status.insert(sid.clone(), st);
        }
        match parse_change(&d) {
            Some(c) => chains.entry(sid).or_default().push(c),
            None => s.violation(format!("{sid}: an event names no statuses: {d}")),
        }
    }
    for (sid, chain) in chains {
        for (from, to) in &chain {
            if !can_transition(*from, *to) {
                s.violation(format!("{sid}: illegal transition {from} → {to}"));
            }
        }
        for w in chain.windows(2) {
            if w[0].1 != w[1].0 {
                s.violation(format!(
                    "{sid}: a change from {} was recorded after one to {} (lost update): {chain:?}",
                    w[1].0, w[0].1
                ));
            }
        }
        let now = status.get(&sid).copied().and_then(Status::from_i64);
        if let (Some(last), Some(now)) = (chain.last(), now) {
            if last.1 != now {
                s.violation(format!(
                    "{sid}: is {now} but its last recorded change went to {}",
                    last.1
                ));
            }
        }
    }
}

/// Transient statuses have a deadline, and none is past it (beyond the reaper's round).
async fn deadlines_hold(s: &Shared, db: &Db) {
    for v in overdue(db, REAPER_SLACK_MS).await {
        s.violation(v);
    }
}

/// Machines in a transient status without a deadline, or more than `slack_ms` past it.
pub async fn overdue(db: &Db, slack_ms: i64) -> Vec<String> {
    let now = now_ms();
    let mut late = Vec::new();
    for r in db
        .rows("SELECT system_id, status, status_expires, deploy_queued FROM machines")
        .await
    {
        let sid: String = r.try_get(0).unwrap_or_default();
        let Some(st) = r.try_get::<i64, _>(1).ok().and_then(Status::from_i64) else {
            continue;
        };
        let expires: Option<i64> = r.try_get(2).ok();
        let queued: Option<i64> = r.try_get(3).ok();
        if !st.is_transient() {
            continue;
        }
        match expires {
            None if queued.is_some() => {}
            None => late.push(format!("{sid}: {st} without a deadline")),
            Some(e) if e < now - slack_ms => late.push(format!(
                "{sid}: still {st} {} ms after its deadline",
                now - e
            )),
            Some(_) => {}
        }
    }
    late
}

/// Every allocation answered is what the database holds: the user it was answered to owns
/// the machine (nothing released it since, as the storm forgets a holder before a release).
async fn allocations_hold(s: &Shared, db: &Db) {
    let owners: HashMap<String, String> = db
        .rows("SELECT m.system_id, u.username FROM machines m JOIN users u ON u.id = m.owner_id")
        .await
        .iter()
        .filter_map(|r| Some((r.try_get(0).ok()?, r.try_get(1).ok()?)))
        .collect();
    for (sid, who) in s.held() {
        match owners.get(&sid) {
            Some(o) if *o == who => {}
            o => s.violation(format!(
                "{sid}: allocated to {who} (answered) but the region says owner {o:?}"
            )),
        }
    }
}

/// No address held twice, none held by nobody: an AUTO address belongs to one link of a
/// machine whose deployment holds it.
async fn addresses_are_held_once(s: &Shared, db: &Db) {
    for (sql, what) in [
        (
            "SELECT ip FROM staticips GROUP BY ip HAVING COUNT(*) > 1",
            "an address held twice",
        ),
        (
            "SELECT CAST(staticip_id AS TEXT) FROM interface_links WHERE staticip_id IS NOT NULL GROUP BY staticip_id HAVING COUNT(*) > 1",
            "an address on two links",
        ),
        (
            "SELECT s.ip FROM staticips s WHERE s.alloc_type = 0 AND NOT EXISTS (SELECT 1 FROM interface_links l WHERE l.staticip_id = s.id)",
            "an AUTO address no link holds (orphaned)",
        ),
        (
            "SELECT CAST(l.id AS TEXT) FROM interface_links l WHERE l.staticip_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM staticips s WHERE s.id = l.staticip_id)",
            "a link to an address that is gone",
        ),
        (
            "SELECT s.ip || ' ' || m.system_id || ' status ' || CAST(m.status AS TEXT) FROM staticips s JOIN interface_links l ON l.staticip_id = s.id JOIN interfaces i ON i.id = l.interface_id JOIN machines m ON m.id = i.machine_id WHERE s.alloc_type = 0 AND m.status NOT IN (9, 10, 11, 6)",
            "an AUTO address kept by a machine that is not deployed (orphaned)",
        ),
    ] {
        for row in db.strings(sql).await {
            s.violation(format!("{what}: {row}"));
        }
    }
}

/// Every image marked complete is stored whole, and served with its digest.
async fn images_are_whole(s: &Shared, db: &Db, data_dir: &Path) {
    for r in db
        .rows("SELECT name, sha256, size, uploaded, complete FROM boot_resources")
        .await
    {
        let name: String = r.try_get(0).unwrap_or_default();
        let sha: String = r.try_get(1).unwrap_or_default();
        let size: i64 = r.try_get(2).unwrap_or(0);
        let uploaded: i64 = r.try_get(3).unwrap_or(0);
        let complete = r.try_get::<i64, _>(4).unwrap_or(0) != 0;
        if uploaded > size {
            s.violation(format!("{name}: {uploaded} bytes recorded of {size}"));
        }
        if !complete {
            continue;
        }
        let on_disk = std::fs::read(data_dir.join("images").join(&sha)).unwrap_or_default();
        let got = ingot_core::ids::hex(&Sha256::digest(&on_disk));
        if got != sha || on_disk.len() as i64 != size {
            s.violation(format!(
                "{name}: marked complete, but its file has {} bytes with sha256 {got} (want {size}, {sha})",
                on_disk.len()
            ));
            continue;
        }
        let served = s
            .admin
            .http
            .get(s.admin.url(&format!("/MAAS/boot/images/{sha}")))
            .send()
            .await;
        let body = match served {
            Ok(r) if r.status().is_success() => r.bytes().await.unwrap_or_default().to_vec(),
            Ok(r) => {
                s.violation(format!("{name}: complete but served as {}", r.status()));
                continue;
            }
            Err(e) => {
                s.violation(format!("{name}: complete but not served: {e}"));
                continue;
            }
        };
        if ingot_core::ids::hex(&Sha256::digest(&body)) != sha {
            s.violation(format!(
                "{name}: served {} bytes that are not its file",
                body.len()
            ));
        }
    }
}

/// Every acknowledged lease report is what the region keeps.
async fn leases_recovered(s: &Shared, db: &Db) {
    let kept: HashMap<String, String> = db
        .rows("SELECT mac, ip FROM dhcp_leases")
        .await
        .iter()
        .filter_map(|r| Some((r.try_get(0).ok()?, r.try_get(1).ok()?)))
        .collect();
    let acked = s.leases.lock().expect("leases").clone();
    for (mac, state) in acked {
        match (&state, kept.get(&mac)) {
            (LeaseState::Held(ip), Some(k)) if k == ip => {}
            (LeaseState::Gone, None) | (LeaseState::Unknown, _) => {}
            (_, k) => s.violation(format!(
                "lease of {mac}: acknowledged as {state:?}, the region keeps {k:?}"
            )),
        }
    }
}
