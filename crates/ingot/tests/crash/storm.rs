//! The storm: workers playing users, machines and racks against the region, each operation a
//! request or a short sequence of them, whatever the region's state. What they were answered is
//! remembered, so that the checks can tell what must have survived a kill.

use crate::common::{small_inventory, Client, Resp, NETWORK_ERROR};
use ingot_core::status::Status;
use rand::Rng;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const API: &str = "/MAAS/api/2.0";
const META: &str = "/MAAS/metadata/2012-03-01/";
/// The subnet AUTO links take deployment addresses from (a /26: addresses run out sometimes,
/// and a refused deploy must give back what it took).
pub const SUBNET: &str = "10.231.0.0/26";

/// A machine the storm made (its creation was answered).
#[derive(Clone)]
pub struct Known {
    pub system_id: String,
    pub mac: String,
}

/// What became of the last lease report for a MAC.
#[derive(Clone, Debug, PartialEq)]
pub enum LeaseState {
    /// Acknowledged: the region must know this address for the MAC.
    Held(String),
    /// Acknowledged release: the region must not.
    Gone,
    /// A report got no answer: either may be true.
    Unknown,
}

/// One answer the storm got: when, to what, how long it took (judged by `pg_restart.rs`;
/// `crash.rs` kills the region, whose clients then wait for nothing).
#[allow(dead_code)]
#[derive(Clone, Debug)]
pub struct Answer {
    pub what: &'static str,
    pub code: u16,
    /// When the request was sent, and how long until its answer (or its network error).
    pub sent: Instant,
    pub elapsed: Duration,
    /// The start of the body of an answer that is not a success.
    pub body: String,
}

/// A chunked upload in progress (python-libmaas' way: create with sha256 and size, then PUT).
struct Upload {
    uri: String,
    data: Vec<u8>,
    sent: usize,
}

/// Counts of answers, per kind of operation.
#[derive(Default, Debug, Clone)]
pub struct Tally {
    pub ok: usize,
    pub refused: usize,
    pub unavailable: usize,
    /// 503 without `Retry-After`: the change may have been made.
    pub maybe_done: usize,
    pub lost: usize,
}

pub struct Shared {
    pub admin: Client,
    user: Client,
    anon: Client,
    rack_secret: String,
    pub machines: Mutex<Vec<Known>>,
    /// MACs of machines whose creation was answered with a refusal or a 503: not there.
    pub not_created: Mutex<Vec<String>>,
    busy: Mutex<HashSet<String>>,
    /// Allocated machines and who was answered with them.
    held: Mutex<HashMap<String, String>>,
    /// Allocations (concurrent among themselves) hold it from request to record, releases
    /// exclusively: a machine is never released between its allocation's commit and the
    /// record of who got it.
    alloc_gate: tokio::sync::RwLock<()>,
    pub leases: Mutex<BTreeMap<String, LeaseState>>,
    uploads: tokio::sync::Mutex<Vec<Upload>>,
    tally: Mutex<BTreeMap<&'static str, Tally>>,
    answers: Mutex<Vec<Answer>>,
    violations: Mutex<Vec<String>>,
    started: AtomicUsize,
    finished: AtomicUsize,
    /// Requests that got no answer.
    lost: AtomicUsize,
    next_id: AtomicUsize,
    /// Taken for writing while the region is restarted and checked: the storm holds.
    pub gate: tokio::sync::RwLock<()>,
    pub max_machines: usize,
    pub checks_run: AtomicUsize,
}

/// How an answer counts.
#[derive(PartialEq)]
pub enum Outcome {
    Ok,
    Refused,
    Lost,
}

impl Shared {
    /// A second user, an image to deploy, the subnet, and the first machines.
    pub async fn setup(admin: Client, data_dir: &Path, max_machines: usize) -> Shared {
        admin
            .post(
                &format!("{API}/users/"),
                &[("username", "storm"), ("password", "pw")],
            )
            .await
            .ok();
        let k = admin
            .post(
                "/MAAS/accounts/authenticate/",
                &[("username", "storm"), ("password", "pw")],
            )
            .await
            .ok()
            .json();
        let user = admin.with_token(&k);
        admin
            .upload_image("ubuntu/jammy", b"a root file system")
            .await;
        admin
            .post(&format!("{API}/subnets/"), &[("cidr", SUBNET)])
            .await
            .ok();
        let rack_secret = std::fs::read_to_string(data_dir.join("rack.secret"))
            .expect("DATA_DIR/rack.secret")
            .trim()
            .to_string();
        let mut anon = admin.clone();
        anon.key = None;
        let s = Shared {
            admin,
            user,
            anon,
            rack_secret,
            machines: Mutex::default(),
            not_created: Mutex::default(),
            busy: Mutex::default(),
            held: Mutex::default(),
            alloc_gate: tokio::sync::RwLock::new(()),
            leases: Mutex::default(),
            uploads: tokio::sync::Mutex::default(),
            tally: Mutex::default(),
            answers: Mutex::default(),
            violations: Mutex::default(),
            started: AtomicUsize::new(0),
            lost: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            next_id: AtomicUsize::new(0),
            gate: tokio::sync::RwLock::new(()),
            max_machines,
            checks_run: AtomicUsize::new(0),
        };
        for _ in 0..max_machines / 2 {
            s.enlist(false).await;
        }
        s
    }

    pub fn done(&self) -> usize {
        self.finished.load(Ordering::Relaxed)
    }

    pub fn violation(&self, v: String) {
        self.violations.lock().expect("violations").push(v);
    }

    pub fn violations(&self) -> Vec<String> {
        self.violations.lock().expect("violations").clone()
    }

    /// Every answer so far, in the order they came.
    #[allow(dead_code)]
    pub fn answers(&self) -> Vec<Answer> {
        self.answers.lock().expect("answers").clone()
    }

    /// Count an answer; a 5xx other than 503 (or anything unexpected) is a violation, and so
    /// is a 503 that does not say when to try again or does not say why in a line of text.
    pub fn note(&self, what: &'static str, r: &Resp) -> Outcome {
        let code = r.status.as_u16();
        self.answers.lock().expect("answers").push(Answer {
            what,
            code,
            sent: Instant::now() - r.elapsed,
            elapsed: r.elapsed,
            body: match code {
                200..=299 => String::new(),
                _ => r.body.chars().take(200).collect(),
            },
        });
        // A 503 says why in a line of text. With `Retry-After` it says "not done, try again";
        // without, that the change may have been made (the database went away after its
        // COMMIT went out): then either may be true.
        let maybe_done =
            code == 503 && r.retry_after.is_none() && r.body.contains("may have made its change");
        if code == 503 {
            let plain = r.content_type.starts_with("text/plain")
                && !r.body.is_empty()
                && r.body.len() < 200
                && !r.body.contains('\n');
            if !plain || (r.retry_after.is_none() && !maybe_done) {
                self.violation(format!(
                    "{what}: 503 with Retry-After {:?}, {}: {:?}",
                    r.retry_after, r.content_type, r.body
                ));
            }
        }
        let mut t = self.tally.lock().expect("tally");
        let e = t.entry(what).or_default();
        match code {
            200..=299 => {
                e.ok += 1;
                Outcome::Ok
            }
            400 | 403 | 404 | 409 => {
                e.refused += 1;
                Outcome::Refused
            }
            503 if maybe_done => {
                e.maybe_done += 1;
                Outcome::Lost
            }
            503 => {
                e.unavailable += 1;
                Outcome::Refused
            }
            NETWORK_ERROR => {
                e.lost += 1;
                self.lost.fetch_add(1, Ordering::Relaxed);
                Outcome::Lost
            }
            _ => {
                drop(t);
                let body: String = r.body.chars().take(400).collect();
                self.violation(format!("{what}: unexpected {code}: {body}"));
                Outcome::Refused
            }
        }
    }

    fn ok_count(&self, what: &str) -> usize {
        self.tally
            .lock()
            .expect("tally")
            .get(what)
            .map_or(0, |t| t.ok)
    }

    // ------------------------------------------------------------------ operations
    /// A new machine: added by hand (it commissions at once) or enlisting itself (anonymous).
    async fn enlist(&self, by_itself: bool) {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mac = crate::common::mac(60_000 + n as u32);
        let hostname = format!("storm{n}");
        let mut p = vec![
            ("hostname", hostname.as_str()),
            ("architecture", "amd64/generic"),
            ("mac_addresses", mac.as_str()),
            ("power_type", "manual"),
        ];
        let (client, what) = if by_itself {
            (&self.anon, "enlist (machine)")
        } else {
            p.push(("cpu_count", "2"));
            p.push(("memory", "2048"));
            (&self.admin, "add by hand")
        };
        let r = client.post(&format!("{API}/machines/"), &p).await;
        match self.note(what, &r) {
            Outcome::Ok => {
                let sid = r.json()["system_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                self.machines.lock().expect("machines").push(Known {
                    system_id: sid,
                    mac,
                });
            }
            Outcome::Refused => self.not_created.lock().expect("not created").push(mac),
            Outcome::Lost => {}
        }
    }

    /// `machines/?op=allocate` by one of the two users: nobody else may hold what it answers.
    async fn allocate_any(&self) {
        let (client, who) = if rand::random::<bool>() {
            (&self.admin, "admin")
        } else {
            (&self.user, "storm")
        };
        let _g = self.alloc_gate.read().await;
        let r = client
            .post(&format!("{API}/machines/?op=allocate"), &[])
            .await;
        if self.note("allocate", &r) == Outcome::Ok {
            let sid = r.json()["system_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let mut held = self.held.lock().expect("held");
            if let Some(other) = held.insert(sid.clone(), who.to_string()) {
                self.violation(format!(
                    "{sid} allocated to {who} while {other} held it (double allocation)"
                ));
            }
        }
    }

    /// The allocations answered and not given back since.
    pub fn held(&self) -> Vec<(String, String)> {
        let h = self.held.lock().expect("held");
        h.iter().map(|(a, b)| (a.clone(), b.clone())).collect()
    }

    /// Release `sid` (no allocation is between its commit and its record meanwhile). A
    /// release refused (or answered 503) gave nothing back: whoever held it still does.
    async fn release(&self, sid: &str, what: &'static str, params: &[(&str, &str)]) {
        let _g = self.alloc_gate.write().await;
        let holder = self.held.lock().expect("held").remove(sid);
        let r = self.admin.op(sid, "release", params).await;
        if let (Outcome::Refused, Some(who)) = (self.note(what, &r), holder) {
            self.held.lock().expect("held").insert(sid.to_string(), who);
        }
    }

    /// A rack reports a DHCP lease given or given back for a device's MAC.
    async fn lease(&self) {
        let n = rand::random::<u32>() % 64;
        let mac = crate::common::mac(90_000 + n);
        let ip = format!("10.232.0.{}", n + 1);
        // A rack reports one MAC's leases in order: one report per MAC at a time.
        let key = format!("lease {mac}");
        if !self.busy.lock().expect("busy").insert(key.clone()) {
            return;
        }
        let release = rand::random::<u32>().is_multiple_of(3);
        let ev = serde_json::json!([{
            "mac": mac, "hop": "dhcp-ack", "detail": ip,
            "lease": {"ip": ip, "seconds": if release { 0 } else { 3600 }},
        }]);
        let r = self
            .anon
            .post_json_bearer("/MAAS/rack/events", &ev, &self.rack_secret)
            .await;
        let state = match self.note("DHCP lease", &r) {
            Outcome::Ok if release => LeaseState::Gone,
            Outcome::Ok => LeaseState::Held(ip),
            _ => LeaseState::Unknown,
        };
        // Reports for one MAC are not concurrent in a real rack; here the last answered wins
        // unless another report is in flight, which the Unknown state covers.
        self.leases.lock().expect("leases").insert(mac, state);
        self.busy.lock().expect("busy").remove(&key);
    }

    /// One step of a chunked upload: start one (a random file in 4 to 8 chunks), or send the
    /// next chunk of one in progress.
    async fn upload_step(&self) {
        let mut ups = self.uploads.lock().await;
        if ups.is_empty() || rand::random::<u32>().is_multiple_of(4) {
            let n = self.next_id.fetch_add(1, Ordering::Relaxed);
            let size = 16 * 1024 + (rand::random::<usize>() % (48 * 1024));
            let data: Vec<u8> = (0..size).map(|_| rand::random::<u8>()).collect();
            let sha = {
                use sha2::Digest;
                ingot_core::ids::hex(&sha2::Sha256::digest(&data))
            };
            let size_s = data.len().to_string();
            let name = format!("custom/storm{n}");
            let r = self
                .admin
                .post(
                    &format!("{API}/boot-resources/"),
                    &[
                        ("name", name.as_str()),
                        ("architecture", "amd64/generic"),
                        ("filetype", "tgz"),
                        ("sha256", sha.as_str()),
                        ("size", size_s.as_str()),
                    ],
                )
                .await;
            if self.note("upload create", &r) == Outcome::Ok {
                let v = r.json();
                let uri = v["sets"]
                    .as_object()
                    .and_then(|s| s.values().next())
                    .and_then(|set| set["files"].as_object())
                    .and_then(|f| f.values().next())
                    .and_then(|f| f["upload_uri"].as_str())
                    .map(|u| u.to_string());
                match uri {
                    Some(uri) => ups.push(Upload { uri, data, sent: 0 }),
                    None => self.violation(format!("upload create: no upload_uri in {v}")),
                }
            }
            return;
        }
        let i = rand::random::<usize>() % ups.len();
        let u = &mut ups[i];
        let chunk = (u.data.len() / 4).max(1);
        let end = (u.sent + chunk).min(u.data.len());
        let r = self
            .admin
            .put_raw(&u.uri, u.data[u.sent..end].to_vec())
            .await;
        match self.note("upload chunk", &r) {
            Outcome::Ok => {
                u.sent = end;
                if u.sent == u.data.len() {
                    ups.swap_remove(i);
                }
            }
            // Where the region is now is unknown: python-libmaas would start over.
            _ => {
                ups.swap_remove(i);
            }
        }
    }

    /// The machine's credentials (asked for each time: an owner change replaces them).
    async fn token(&self, sid: &str) -> Option<Client> {
        let r = self
            .admin
            .get(&format!("{API}/machines/{sid}/?op=get_token"))
            .await;
        if self.note("get token", &r) != Outcome::Ok {
            return None;
        }
        let t = r.json();
        t.is_object().then(|| self.admin.with_token(&t))
    }

    /// The machine's side of commissioning and testing (as `ingot-agent` reports): every
    /// script passed, the inventory with a disk, then OK. Stops at the first lost answer.
    async fn commissioning_signals(&self, sid: &str, m: &Value) {
        let Some(mc) = self.token(sid).await else {
            return;
        };
        let r = mc.get(&format!("{META}maas-scripts/")).await;
        if self.note("machine: scripts", &r) != Outcome::Ok {
            return;
        }
        let idx = r.json();
        let doc = small_inventory(m);
        for set in ["commissioning_scripts", "testing_scripts"] {
            let entries = idx[set].as_array().cloned().unwrap_or_default();
            if set == "testing_scripts" && !entries.is_empty() {
                let r = mc
                    .post_multipart(&format!("{META}?op=signal"), &[("status", b"TESTING")])
                    .await;
                if self.note("machine: signal", &r) == Outcome::Lost {
                    return;
                }
            }
            for e in entries {
                let id = e["script_result_id"].as_i64().unwrap_or(0).to_string();
                let mut parts: Vec<(&str, &[u8])> = vec![
                    ("status", b"WORKING"),
                    ("script_result_id", id.as_bytes()),
                    ("exit_status", b"0"),
                ];
                if e["name"] == "50-maas-01-commissioning" {
                    parts.push(("50-maas-01-commissioning.out", &doc));
                }
                let r = mc.post_files(&format!("{META}?op=signal"), &parts).await;
                if self.note("machine: result", &r) == Outcome::Lost {
                    return;
                }
            }
        }
        let r = mc
            .post_multipart(&format!("{META}?op=signal"), &[("status", b"OK")])
            .await;
        self.note("machine: commissioned", &r);
    }

    /// The deploying machine's side: the configuration, progress, netboot off, cloud-init's
    /// final event from the installed OS.
    async fn deployment_signals(&self, sid: &str) {
        let Some(mc) = self.token(sid).await else {
            return;
        };
        let r = mc.get("/MAAS/metadata/latest/deploy-config").await;
        if self.note("machine: deploy config", &r) != Outcome::Ok {
            return;
        }
        let ev = |origin: &str, name: &str| serde_json::json!({"event_type": "finish", "origin": origin, "name": name, "description": name, "result": "SUCCESS", "timestamp": 1700000000.0});
        let r = mc
            .post_json(
                &format!("/MAAS/metadata/status/{sid}"),
                &ev("curtin", "cmd-install/stage-partitioning"),
            )
            .await;
        if self.note("machine: progress", &r) == Outcome::Lost {
            return;
        }
        let r = mc.post("/MAAS/metadata/latest/?op=netboot_off", &[]).await;
        if self.note("machine: netboot off", &r) == Outcome::Lost {
            return;
        }
        let r = mc
            .post_json(
                &format!("/MAAS/metadata/status/{sid}"),
                &ev("cloud-init", "modules-final"),
            )
            .await;
        self.note("machine: deployed", &r);
    }

    /// The erasing machine's side: wipe-disks passed, then OK.
    async fn erase_signals(&self, sid: &str) {
        let Some(mc) = self.token(sid).await else {
            return;
        };
        let r = mc.get(&format!("{META}maas-scripts/")).await;
        if self.note("machine: scripts", &r) != Outcome::Ok {
            return;
        }
        for e in r.json()["release_scripts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let id = e["script_result_id"].as_i64().unwrap_or(0).to_string();
            let r = mc
                .post_files(
                    &format!("{META}?op=signal"),
                    &[
                        ("status", b"WORKING"),
                        ("script_result_id", id.as_bytes()),
                        ("exit_status", b"0"),
                        ("wipe-disks.out", b"vda: quick erase done\n"),
                    ],
                )
                .await;
            if self.note("machine: result", &r) == Outcome::Lost {
                return;
            }
        }
        let r = mc
            .post_multipart(&format!("{META}?op=signal"), &[("status", b"OK")])
            .await;
        self.note("machine: erased", &r);
    }

    async fn action(&self, sid: &str, what: &'static str, op: &str, params: &[(&str, &str)]) {
        let r = self.admin.op(sid, op, params).await;
        self.note(what, &r);
    }

    /// Give the machine's boot interface an AUTO link to the storm's subnet (once).
    async fn link_auto(&self, sid: &str, m: &Value) {
        let Some(iface) = m["interface_set"].as_array().and_then(|a| a.first()) else {
            return;
        };
        if iface["links"]
            .as_array()
            .is_some_and(|l| l.iter().any(|l| l["mode"] == "auto"))
        {
            return;
        }
        let id = iface["id"].as_i64().unwrap_or(0);
        let r = self
            .admin
            .post(
                &format!("{API}/nodes/{sid}/interfaces/{id}/?op=link_subnet"),
                &[("mode", "AUTO"), ("subnet", SUBNET)],
            )
            .await;
        self.note("link AUTO", &r);
    }

    /// One step for a machine no other worker is acting on, chosen by its status.
    async fn machine_step(&self) {
        let pick = {
            let ms = self.machines.lock().expect("machines");
            let mut busy = self.busy.lock().expect("busy");
            let mut rng = rand::thread_rng();
            let mut got = None;
            for _ in 0..8 {
                if ms.is_empty() {
                    break;
                }
                let k = &ms[rng.gen_range(0..ms.len())];
                if busy.insert(k.system_id.clone()) {
                    got = Some(k.system_id.clone());
                    break;
                }
            }
            got
        };
        let Some(sid) = pick else {
            return;
        };
        self.step(&sid).await;
        self.busy.lock().expect("busy").remove(&sid);
    }

    async fn step(&self, sid: &str) {
        let r = self.admin.get(&format!("{API}/machines/{sid}/")).await;
        if self.note("read machine", &r) != Outcome::Ok {
            return;
        }
        let m = r.json();
        let Some(status) = m["status"].as_i64().and_then(Status::from_i64) else {
            self.violation(format!("{sid}: no status in {m}"));
            return;
        };
        let dice = rand::random::<u32>() % 100;
        use Status::*;
        match status {
            New | FailedCommissioning | FailedTesting => {
                self.action(sid, "commission", "commission", &[]).await
            }
            Commissioning | Testing => match dice {
                0..=74 => self.commissioning_signals(sid, &m).await,
                75..=89 => self.action(sid, "abort", "abort", &[]).await,
                _ => {}
            },
            Ready => {
                self.link_auto(sid, &m).await;
                if dice < 10 {
                    self.action(sid, "commission", "commission", &[]).await
                }
            }
            Allocated => {
                if dice < 75 {
                    self.action(sid, "deploy", "deploy", &[("distro_series", "jammy")])
                        .await
                } else {
                    self.release(sid, "release", &[("erase", "false")]).await
                }
            }
            Deploying => match dice {
                0..=69 => self.deployment_signals(sid).await,
                70..=84 => self.action(sid, "abort", "abort", &[]).await,
                _ => {}
            },
            Deployed => {
                if dice < 75 {
                    let erase = [("erase", "true"), ("quick_erase", "true")];
                    self.release(sid, "release (erase)", &erase).await
                } else {
                    self.release(sid, "release", &[("erase", "false")]).await
                }
            }
            DiskErasing => match dice {
                0..=84 => self.erase_signals(sid).await,
                85..=89 => self.action(sid, "abort", "abort", &[]).await,
                _ => {}
            },
            Releasing => {}
            _ => self.release(sid, "release", &[("erase", "false")]).await,
        }
    }

    // ------------------------------------------------------------------ report
    /// The run's figures under a `title` (what was done to the region, and where).
    pub fn summary(&self, title: &str, secs: f64) -> String {
        let t = self.tally.lock().expect("tally");
        let (mut ok, mut refused, mut unavailable, mut maybe, mut lost) = (0, 0, 0, 0, 0);
        let mut lines = Vec::new();
        for (what, x) in t.iter() {
            ok += x.ok;
            refused += x.refused;
            unavailable += x.unavailable;
            maybe += x.maybe_done;
            lost += x.lost;
            lines.push(format!(
                "  {what:<24} ok {:>5}  refused {:>4}  503 {:>3}  503 maybe done {:>2}  no answer {:>3}",
                x.ok, x.refused, x.unavailable, x.maybe_done, x.lost
            ));
        }
        format!(
            "{title}: {} operations ({ok} requests succeeded, {refused} refused as the rules say, {unavailable} 503 not done, {maybe} 503 maybe done, {lost} without answer) in {secs:.1} s; {} machines; {} invariant checks; {} violations\n{}",
            self.done(),
            self.machines.lock().expect("machines").len(),
            self.checks_run.load(Ordering::Relaxed),
            self.violations.lock().expect("violations").len(),
            lines.join("\n")
        )
    }

    /// Every kind of work must have gone through at least once.
    pub fn assert_effective(&self, summary: &str) {
        for what in [
            "add by hand",
            "enlist (machine)",
            "allocate",
            "deploy",
            "machine: commissioned",
            "machine: deployed",
            "release (erase)",
            "machine: erased",
            "upload chunk",
            "DHCP lease",
        ] {
            assert!(
                self.ok_count(what) > 0,
                "no '{what}' went through:\n{summary}"
            );
        }
    }
}

/// Run `ops` operations on `workers` concurrent workers.
pub async fn run(shared: Arc<Shared>, ops: usize, workers: usize) {
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let s = shared.clone();
            tokio::spawn(async move {
                while s.started.fetch_add(1, Ordering::Relaxed) < ops {
                    let lost = s.lost.load(Ordering::Relaxed);
                    let g = s.gate.read().await;
                    let n = s.machines.lock().expect("machines").len();
                    match rand::random::<u32>() % 100 {
                        0..=5 if n < s.max_machines => s.enlist(rand::random::<bool>()).await,
                        6..=9 => s.upload_step().await,
                        10..=15 => s.lease().await,
                        16..=29 => s.allocate_any().await,
                        _ => s.machine_step().await,
                    }
                    drop(g);
                    s.finished.fetch_add(1, Ordering::Relaxed);
                    // No answer: the region is down; a client waits a moment before trying
                    // again (by then the restart holds the storm).
                    if s.lost.load(Ordering::Relaxed) != lost {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("a storm worker");
    }
}
