//! The region: the only way into the data. Every operation the API (and later the web UI)
//! offers is a method of [`Region`], its `impl` split by job over this crate's modules
//! (ARCHITECTURE.md lists them). Every decision is taken by `ingot-core`; the region loads
//! facts, calls the core and writes the outcome through the store's compare-and-swap,
//! retrying when another region process got there first. This file holds the handle, machine
//! reads and the actions (`act`).

mod absent;
mod allocation;
pub use absent::Absent;
pub mod boot;
pub mod boot_sources;
pub mod catalog;
pub mod clone;
pub mod commissioning;
pub mod controllers;
pub mod deploy;
pub mod details;
mod devices;
mod disks;
pub mod dns;
mod error;
pub mod fabrics;
mod interface_ops;
pub use interface_ops::interface_tags;
mod feed;
mod files;
pub mod forms;
pub mod images;
mod lifecycle;
mod metadata;
pub mod metrics;
pub mod network;
mod nodes;
pub mod oob;
mod package_repositories;
pub mod power;
pub mod rack_dns;
pub mod racks;
mod reserved_ips;
pub mod routes;
pub mod secrets;
pub mod sessions;
mod settings;
pub mod spaces;
pub mod storage;
mod subnet_usage;
pub mod uploads;
mod users;
pub mod work;

pub use allocation::{candidate, hardware_facts, NetFacts};
pub use error::{FieldErrors, PowerFailure, RegionError};
pub(crate) use lifecycle::Heard;
pub use users::{hash_password, verify_password};

/// The records the region hands out, for the edges to read and render. They are rows of the
/// region's store; only the region reads or writes the store itself.
pub mod model {
    pub use ingot_store::deploy::BootResource;
    pub use ingot_store::files::StoredFile;
    pub use ingot_store::repositories::PackageRepository;
    pub use ingot_store::sources::{BootSource, BootSourceSelection};
    pub use ingot_store::witness;
    pub use ingot_store::{
        Domain, Event, Interface, Machine, MachineFacts, MachineFilter, Named, NamedKind,
        ScriptResult, StoreError, Tag, Token, User, DEVICE,
    };
    pub mod dns {
        pub use ingot_store::dns::{DnsRecord, DnsResource};
    }
    pub mod network {
        pub use ingot_store::network::{
            Fabric, InterfaceLink, IpRange, NetbootEvent, Rack, Space, StaticIp, Subnet, Vlan,
            ALLOC_USER_RESERVED,
        };
    }
    pub mod routes {
        pub use ingot_store::routes::StaticRoute;
    }
}

use ingot_core::actions::{plan, Action, ActionOptions, Actor, MachineFacts, Plan, PowerOp};

use ingot_core::signal::ResultSet;
use ingot_core::transitions::{deadline_secs, previous_status_after};
use ingot_core::Status;
use ingot_store::{Change, Machine, MachineFilter, NewEvent, Store, StoreError, Token, User};
use ingot_wire::Params;

pub type Result<T> = std::result::Result<T, RegionError>;

/// How many times an operation is retried when another writer changed the machine first.
const CAS_RETRIES: usize = 16;

/// How long a closing region waits for the power operations under way.
pub const POWER_DRAIN: std::time::Duration = std::time::Duration::from_secs(20);

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    Anonymous,
    User(User),
    /// A machine, authenticated by its own token.
    Machine {
        machine_id: i64,
        token: Token,
    },
}

impl Principal {
    pub fn user(&self) -> Option<&User> {
        match self {
            Principal::User(u) => Some(u),
            _ => None,
        }
    }
}

fn actor(u: &User) -> Actor {
    Actor {
        user_id: u.id,
        is_admin: u.is_admin,
    }
}

/// Hash a password with argon2id.
/// A filter narrowed to the machines `user` may see.
fn visible(user: &User, mut f: MachineFilter) -> MachineFilter {
    if !user.is_admin {
        f.visible_to = Some(user.id);
    }
    f
}

/// The machine actions a page offers, each with why it is not allowed now (None: allowed), as
/// the core plans them for this user — the same check the API makes.
pub fn machine_actions(u: &User, m: &Machine) -> Vec<(Action, Option<String>)> {
    use Action as A;
    let f = facts(m);
    [
        A::Commission,
        A::Test,
        A::Deploy,
        A::Release,
        A::Abort,
        A::Lock,
        A::Unlock,
        A::MarkBroken,
        A::MarkFixed,
        A::OverrideFailedTesting,
        A::RescueMode,
        A::ExitRescueMode,
        A::PowerOn,
        A::PowerOff,
        A::Delete,
    ]
    .into_iter()
    .map(|a| {
        let why = plan(a, &f, actor(u), &ActionOptions::default())
            .err()
            .map(|e| e.to_string());
        (a, why)
    })
    .collect()
}

/// Facts the core needs about a machine.
pub fn facts(m: &Machine) -> MachineFacts {
    MachineFacts {
        status: m.status,
        previous_status: m.previous_status,
        locked: m.locked,
        owner_id: m.owner_id,
        commissioning_passed: m.commissioning_passed,
        has_osystem: !m.osystem.is_empty(),
        has_power_type: !m.power_type.is_empty(),
        power_controllable: power::controllable(&m.power_type),
        has_mac: m
            .interfaces
            .iter()
            .any(|i| i.kind == "physical" && !i.mac_address.is_empty()),
    }
}

/// Parameters of deploy that are stored on the machine.
#[derive(Debug, Clone, Default)]
pub struct DeployParams {
    pub osystem: String,
    pub distro_series: String,
    pub hwe_kernel: String,
    pub agent_name: Option<String>,
    pub user_data: Option<Vec<u8>>,
}

/// The region service.
#[derive(Clone, Debug)]
pub struct Region {
    pub(crate) store: Store,
    /// Overrides the `node_timeout` setting with a value in seconds (operators who want
    /// sub-minute deadlines, and tests).
    node_timeout_secs: Option<i64>,
    /// Ids of the default zone, pool and domain: they can be neither renamed nor deleted,
    /// so they are read once.
    defaults: std::sync::Arc<tokio::sync::OnceCell<(i64, i64, i64)>>,
    /// Encrypts BMC secrets at rest; a region without one refuses to store them.
    secrets: Option<secrets::SecretBox>,
    /// Runs driver operations: one per BMC at a time, transient failures retried.
    power: std::sync::Arc<ingot_power::PowerControl>,
    /// The power work committed transitions leave behind (`power.rs`), started on first use.
    power_jobs: std::sync::Arc<std::sync::OnceLock<power::PowerQueue>>,
    /// The power operations under way, waited for (a while) when the region closes.
    power_tasks: tokio_util::task::TaskTracker,
    /// Imports images from the boot sources (one import at a time, in the background).
    importer: std::sync::Arc<images::Importer>,
    /// Machines this process failed because their deadline passed (`metrics.rs`).
    deadline_expiries: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The racks' DNS at the last serial asked for (`rack_dns.rs`).
    dns_cache:
        std::sync::Arc<tokio::sync::Mutex<Option<std::sync::Arc<ingot_core::rack::RackDns>>>>,
    /// Power-ons (and cycles) start at most this often (a bulk commission or deployment is a
    /// paced boot storm, `power.rs`); `None`: as fast as they come.
    power_on_gap: Option<std::time::Duration>,
    /// Power operations queued and not finished (`metrics.rs`).
    power_pending: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// Machines this process is allocating right now (`allocation.rs`): concurrent callers
    /// try other candidates instead of losing a compare-and-swap on the same one.
    allocating: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<i64>>>,
}

impl Region {
    /// Ids of the default zone, pool and domain.
    /// The default zone, pool (kept once read) and domain (read each time: `set_default`
    /// changes it).
    pub async fn defaults(&self) -> Result<(i64, i64, i64)> {
        let (zone, pool, _) = *self
            .defaults
            .get_or_try_init(|| self.store.defaults())
            .await?;
        Ok((zone, pool, self.store.default_domain_id().await?))
    }

    pub fn new(store: Store) -> Region {
        Region {
            store,
            defaults: Default::default(),
            secrets: None,
            power: Default::default(),
            power_jobs: Default::default(),
            power_tasks: Default::default(),
            importer: Default::default(),
            dns_cache: Default::default(),
            deadline_expiries: Default::default(),
            node_timeout_secs: None,
            power_on_gap: None,
            power_pending: Default::default(),
            allocating: Default::default(),
        }
    }

    /// Start at most `per_second` power-ons (and cycles) a second; 0: no pacing.
    pub fn with_power_on_rate(mut self, per_second: f64) -> Region {
        self.power_on_gap =
            (per_second > 0.0).then(|| std::time::Duration::from_secs_f64(1.0 / per_second));
        self
    }

    pub fn with_secrets(mut self, secrets: secrets::SecretBox) -> Region {
        self.secrets = Some(secrets);
        self
    }

    pub fn with_power_policy(mut self, policy: ingot_power::RetryPolicy) -> Region {
        self.power = std::sync::Arc::new(ingot_power::PowerControl::new(policy));
        self
    }

    pub fn with_node_timeout_secs(mut self, secs: Option<i64>) -> Region {
        self.node_timeout_secs = secs.filter(|s| *s > 0);
        self
    }

    /// Seconds a machine may stay in a transient status that follows `node_timeout`.
    pub async fn node_timeout_secs(&self) -> Result<i64> {
        match self.node_timeout_secs {
            Some(s) => Ok(s),
            None => Ok(self.node_timeout_min().await? * 60),
        }
    }

    // ------------------------------------------------------------------ machines: reads
    /// A machine the user may see (not a device: `machines/` never shows one).
    pub async fn machine_for(&self, user: &User, system_id: &str) -> Result<Machine> {
        let m = self.node_for(user, system_id).await?;
        if m.node_type == ingot_store::DEVICE {
            return Err(RegionError::NotFound(
                "No Machine matches the given query.".into(),
            ));
        }
        Ok(m)
    }

    /// A machine or device the user may see (`nodes/{id}/…`: interfaces, storage).
    pub async fn node_for(&self, user: &User, system_id: &str) -> Result<Machine> {
        let m = self.load(system_id).await?;
        if !ingot_core::actions::can_view(&facts(&m), actor(user)) {
            return Err(RegionError::Forbidden(
                "You do not have permission to view this machine.".into(),
            ));
        }
        Ok(m)
    }

    /// Load a machine and check, as the core plans it, that `user` may run `action` on it now
    /// (for actions whose plan changes no status: update, delete, annotations, reads).
    pub(crate) async fn load_for(
        &self,
        user: &User,
        system_id: &str,
        action: Action,
    ) -> Result<Machine> {
        let m = self.load_node_for(user, system_id, action).await?;
        if m.node_type == ingot_store::DEVICE {
            return Err(RegionError::NotFound(
                "No Machine matches the given query.".into(),
            ));
        }
        Ok(m)
    }

    /// As [`Region::load_for`], for a machine or a device (a device's owner or an
    /// administrator may change it in any status).
    pub(crate) async fn load_node_for(
        &self,
        user: &User,
        system_id: &str,
        action: Action,
    ) -> Result<Machine> {
        let m = self.load(system_id).await?;
        if m.node_type == ingot_store::DEVICE {
            if user.is_admin || m.owner_id == Some(user.id) {
                return Ok(m);
            }
            return Err(RegionError::NotFound(
                "No Device matches the given query.".into(),
            ));
        }
        plan(action, &facts(&m), actor(user), &ActionOptions::default())?;
        Ok(m)
    }

    pub(crate) async fn load(&self, system_id: &str) -> Result<Machine> {
        self.store
            .machine(system_id)
            .await?
            .ok_or_else(|| RegionError::NotFound("No Machine matches the given query.".into()))
    }

    /// Events of the machines `system_ids` (all machines when empty) at `levels`, newest
    /// first, before / after an event id, at most `limit`.
    pub async fn events(
        &self,
        system_ids: &[String],
        levels: &[&str],
        before: Option<i64>,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<ingot_store::Event>> {
        Ok(self
            .store
            .events(system_ids, Some(levels), before, after, limit)
            .await?)
    }

    /// Close the database (at shutdown, after the last request).
    /// Stop: the power operations under way finish first (up to [`POWER_DRAIN`]; a BMC that
    /// takes longer leaves its machine to the transition's deadline), then the database closes.
    pub async fn close(&self) {
        self.power_tasks.close();
        if tokio::time::timeout(POWER_DRAIN, self.power_tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                running = self.power_tasks.len(),
                "power operations still running at shutdown"
            );
        }
        self.store.close().await;
    }

    /// Whether a machine has this (normalised) MAC address.
    pub async fn is_registered(&self, mac: &str) -> Result<bool> {
        Ok(self.store.machine_by_mac(mac).await?.is_some())
    }

    /// Whether the node with this MAC is commissioning or deploying (MAAS's anonymous
    /// `is_action_in_progress`).
    pub async fn action_in_progress(&self, mac: &str) -> Result<bool> {
        Ok(self
            .store
            .machine_by_mac(mac)
            .await?
            .is_some_and(|m| matches!(m.status, Status::Commissioning | Status::Deploying)))
    }

    pub async fn list_machines(&self, user: &User, f: MachineFilter) -> Result<Vec<Machine>> {
        Ok(self.store.list_machines(&visible(user, f)).await?)
    }

    /// One page of [`Region::list_machines`]: at most `limit` machines with an id above
    /// `after`, in id order (the next page starts after the last id of this one).
    pub async fn list_machines_page(
        &self,
        user: &User,
        f: MachineFilter,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Machine>> {
        Ok(self
            .store
            .list_machines_page(&visible(user, f), after, limit)
            .await?)
    }

    /// As [`Region::list_machines`], with tags but no interfaces, disks or storage (the web
    /// UI's list, which shows none).
    pub async fn list_machines_brief(&self, user: &User, f: MachineFilter) -> Result<Vec<Machine>> {
        Ok(self.store.list_machines_brief(&visible(user, f)).await?)
    }

    /// What the machine list filters, counts and sorts by, of the machines `user` sees.
    pub async fn machine_facts(
        &self,
        user: &User,
        f: MachineFilter,
    ) -> Result<Vec<ingot_store::MachineFacts>> {
        Ok(self.store.machine_facts(&visible(user, f)).await?)
    }

    // ------------------------------------------------------------------ machines: actions
    /// Run `f` again while it loses a compare-and-swap to another writer (it reloads the
    /// machine and re-plans each time); 503 if the machine keeps changing.
    pub(crate) async fn retrying<T, F, Fut>(&self, mut f: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        for _ in 0..CAS_RETRIES {
            match f().await {
                Err(RegionError::Store(StoreError::Conflict)) => continue,
                other => return other,
            }
        }
        Err(RegionError::Unavailable(
            "The machine kept changing; try again.".into(),
        ))
    }

    /// Run `action` on a machine for `user`, retrying on concurrent changes.
    pub async fn act(
        &self,
        user: &User,
        system_id: &str,
        action: Action,
        opts: &ActionOptions,
        deploy: Option<&DeployParams>,
    ) -> Result<Machine> {
        // The scripts a commission / test run will run (unknown names refused up front).
        let sets = if matches!(action, Action::Commission | Action::Test) {
            Some(self.plan_result_sets(action, opts).await?)
        } else if action == Action::Release && opts.erase {
            Some(Self::erase_result_set())
        } else {
            None
        };
        // Admission control: with a deployment limit, every deployment waits in the queue and
        // the admitter (here, and on every reaper round) starts the first ones that fit.
        let limit = if action == Action::Deploy {
            self.deployment_limit().await?
        } else {
            0
        };
        let res = self
            .retrying(|| async {
                let m = self.load(system_id).await?;
                let mut p = plan(action, &facts(&m), actor(user), opts)?;
                // A machine is not powered on to boot from the network before a rack answers
                // DHCP where it boots (it would fail to boot).
                if p.boots_from_network(m.netboot) {
                    self.check_boot_rack(&m).await?;
                }
                // The result sets exist before the machine can boot and ask for them.
                let erasing = p.steps.last() == Some(&Status::DiskErasing);
                for (set, rows) in sets.iter().flatten() {
                    if *set == ResultSet::Release && !erasing {
                        continue;
                    }
                    self.store
                        .start_result_set(m.id, set.as_str(), rows)
                        .await?;
                }
                if erasing {
                    self.store
                        .set_result_parameters(
                            m.id,
                            ResultSet::Release.as_str(),
                            ingot_core::scripts::WIPE_DISKS_SCRIPT,
                            &Self::wipe_parameters(opts),
                        )
                        .await?;
                }
                let mut extra = Change::default();
                if let (Action::Deploy, Some(d)) = (action, deploy) {
                    extra.osystem = Some(d.osystem.clone());
                    extra.distro_series = Some(d.distro_series.clone());
                    extra.hwe_kernel = Some(d.hwe_kernel.clone());
                    if let Some(a) = &d.agent_name {
                        extra.agent_name = Some(a.clone());
                    }
                    extra.user_data = Some(d.user_data.clone());
                }
                // A release gives back what the deployment took (AUTO addresses, interfaces
                // that are not physical) with the status change, in one transaction.
                extra.release_network = action == Action::Release;
                if action == Action::Commission {
                    extra.commissioning_passed = Some(false);
                    extra.skip_storage = Some(opts.skip_storage);
                }
                if limit > 0 && p.steps.last() == Some(&Status::Deploying) {
                    extra.deploy_queued = Some(Some(ingot_store::now_ms()));
                    p.power = None;
                }
                self.apply_plan(&m, &p, extra, &user.username, opts.comment.as_deref())
                    .await?;
                self.after_change(m.id).await
            })
            .await?;
        if res.deploy_queued.is_some() {
            self.admit_deployments().await?;
            return self.after_change(res.id).await;
        }
        if action == Action::Release {
            // A machine registered while running (the seed: it "gets configured like a
            // machine that has been commissioned") has disks but no layout that deploys (what
            // its running OS had is not ours to reuse). One Ingot deployed always has one.
            let fresh = self.load(&res.system_id).await?;
            let model = self.store.storage_model(fresh.id).await?;
            if model.deploy_problem().is_some() && !fresh.block_devices.is_empty() {
                if let Err(e) = self.apply_default_layout(&fresh).await {
                    self.store
                        .record_event(
                            &fresh,
                            &NewEvent::error(
                                "Storage layout",
                                format!("The default storage layout could not be applied: {e}"),
                                &user.username,
                            ),
                        )
                        .await?;
                }
            }
        }
        Ok(res)
    }

    /// Start queued deployments while slots are free (first queued first); each admitted
    /// machine gets its deadline and its power cycle into the ephemeral environment.
    pub async fn admit_deployments(&self) -> Result<usize> {
        let limit = self.deployment_limit().await?;
        let deadline = self.deadline_for(Status::Deploying).await?;
        let mut n = 0;
        while let Some(id) = self.store.admit_next_deployment(limit, deadline).await? {
            n += 1;
            if let Some(m) = self.store.machine_by_id(id).await? {
                self.queue_power(&m, PowerOp::Cycle, Some(true), Status::Deploying);
            }
        }
        Ok(n)
    }

    /// Reload a machine after a change and mint its metadata token when its status needs one.
    pub(crate) async fn after_change(&self, machine_id: i64) -> Result<Machine> {
        let m =
            self.store.machine_by_id(machine_id).await?.ok_or_else(|| {
                RegionError::NotFound("No Machine matches the given query.".into())
            })?;
        if m.status.talks_to_metadata() {
            self.store.ensure_machine_token(m.id).await?;
        }
        Ok(m)
    }

    /// Turn a plan into one compare-and-swap with one event per step.
    pub(crate) async fn apply_plan(
        &self,
        m: &Machine,
        p: &Plan,
        mut c: Change,
        who: &str,
        comment: Option<&str>,
    ) -> Result<()> {
        let mut events = Vec::new();
        let mut cur = m.status;
        let mut prev = m.previous_status;
        let suffix = comment
            .filter(|c| !c.is_empty())
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        // Nobody (the machine's own enlistment) is not named.
        let by = if who.is_empty() {
            String::new()
        } else {
            format!(" by {who}")
        };
        for &s in &p.steps {
            prev = previous_status_after(cur, s, prev);
            events.push(NewEvent::info(
                s.label(),
                format!(
                    "From '{}' to '{}': {}{by}{suffix}",
                    cur.label(),
                    s.label(),
                    p.action.op()
                ),
                who,
            ));
            cur = s;
        }
        if p.steps.is_empty() {
            events.push(NewEvent::info(
                action_event_type(p.action),
                format!("{}{by}{suffix}", p.action.op()),
                who,
            ));
        }
        if cur != m.status {
            c.status = Some(cur);
            c.previous_status = Some(prev);
            c.status_expires = Some(self.deadline_for(cur).await?);
            c.last_heard = Some(String::new());
        }
        if matches!(c.deploy_queued, Some(Some(_))) {
            // Waiting for a slot is not deploying yet: the deadline starts at admission.
            c.status_expires = Some(None);
            events.push(NewEvent::info(
                "Deployment queued",
                "Waiting for a deployment slot (max_concurrent_deployments).",
                who,
            ));
        } else if cur != Status::Deploying && m.deploy_queued.is_some() {
            c.deploy_queued = Some(None);
        }
        let owner = p.final_owner(m.status, m.owner_id);
        if owner != m.owner_id {
            c.owner_id = Some(owner);
        }
        if let Some(l) = p.locked {
            c.locked = Some(l);
        }
        if let Some(n) = p.netboot {
            c.netboot = Some(n);
        }
        if let Some(e) = p.enlisting {
            c.enlisting = Some(e);
        }
        if let Some(e) = &p.error_description {
            c.error_description = Some(e.clone());
        }
        if p.clear_deployment {
            clear_deployment(&mut c);
        }
        if let Some(op) = p.power {
            events.push(power::event(op, &m.power_type, who));
        }
        self.store.apply(m, &c, &events).await?;
        if p.abort_results {
            self.store.abort_results(m.id).await?;
        }
        if let Some(op) = p.power {
            self.queue_power(m, op, p.netboot, cur);
        }
        Ok(())
    }

    pub(crate) async fn deadline_for(&self, s: Status) -> Result<Option<i64>> {
        // A status with no deadline (the core's rule, whatever the timeout) reads no setting:
        // allocation is one such change.
        if deadline_secs(s, 1).is_none() {
            return Ok(None);
        }
        let timeout = self.node_timeout_secs().await?;
        Ok(deadline_secs(s, timeout).map(|secs| ingot_store::now_ms() + secs * 1000))
    }

    /// Update a machine's fields (PUT).
    pub async fn update_machine(
        &self,
        user: &User,
        system_id: &str,
        params: &Params,
    ) -> Result<Machine> {
        self.retrying(|| async {
            let m = self.load_for(user, system_id, Action::Update).await?;
            let change = forms::update_change(self, user, &m, params).await?;
            let ev = NewEvent::info(
                "Machine updated",
                format!("update by {}", user.username),
                &user.username,
            );
            self.store
                .apply(&m, &change, &[ev])
                .await
                .map_err(|e| match e {
                    StoreError::Duplicate(msg) if msg.starts_with("MAC") => {
                        RegionError::field("mac_addresses", msg)
                    }
                    StoreError::Duplicate(msg) => RegionError::field("hostname", msg),
                    e => e.into(),
                })?;
            self.load(system_id).await
        })
        .await
    }

    pub async fn delete_machine(&self, user: &User, system_id: &str) -> Result<()> {
        self.retrying(|| async {
            let m = self.load_for(user, system_id, Action::Delete).await?;
            let ev = NewEvent::info(
                "Machine deleted",
                format!("Machine {} deleted by {}", m.hostname, user.username),
                &user.username,
            );
            Ok(self.store.delete_machine(&m, &ev).await?)
        })
        .await
    }

    /// Set or delete (empty value) workload annotations.
    pub async fn set_workload_annotations(
        &self,
        user: &User,
        system_id: &str,
        params: &Params,
    ) -> Result<Machine> {
        self.retrying(|| async {
            // A machine's or a device's (its owner or an administrator).
            let m = self
                .load_node_for(user, system_id, Action::SetWorkloadAnnotations)
                .await?;
            let mut ann = match &m.workload_annotations {
                serde_json::Value::Object(o) => o.clone(),
                _ => Default::default(),
            };
            for name in params.names() {
                if name == "op" {
                    continue;
                }
                let v = params.get(name).unwrap_or_default();
                if v.is_empty() {
                    ann.remove(name);
                } else {
                    ann.insert(name.to_string(), serde_json::Value::String(v.to_string()));
                }
            }
            let c = Change {
                workload_annotations: Some(serde_json::Value::Object(ann)),
                ..Default::default()
            };
            let ev = NewEvent::info(
                "Workload annotations",
                format!("set by {}", user.username),
                &user.username,
            );
            self.store.apply(&m, &c, &[ev]).await?;
            self.load(system_id).await
        })
        .await
    }

    /// The machine's metadata credentials (owner or admin).
    pub async fn machine_token(
        &self,
        user: &User,
        system_id: &str,
        regenerate: bool,
    ) -> Result<Option<Token>> {
        let m = self.load_for(user, system_id, Action::GetToken).await?;
        if regenerate {
            let t = self.store.regenerate_machine_token(m.id).await?;
            self.store
                .record_event(
                    &m,
                    &NewEvent::info(
                        "Credentials regenerated",
                        format!("by {}", user.username),
                        &user.username,
                    ),
                )
                .await?;
            return Ok(Some(t));
        }
        Ok(self.store.machine_token(m.id).await?)
    }
}

fn clear_deployment(c: &mut Change) {
    c.osystem = Some(String::new());
    c.distro_series = Some(String::new());
    c.hwe_kernel = Some(String::new());
    c.agent_name = Some(String::new());
    c.user_data = Some(None);
}

fn action_event_type(a: Action) -> &'static str {
    match a {
        Action::Lock => "Locked",
        Action::Unlock => "Unlocked",
        Action::PowerOn => "Powering on",
        Action::PowerOff => "Powering off",
        Action::Release => "Release",
        _ => "Action",
    }
}
