//! The region's operations: authentication, machine forms, actions, allocation, what machines
//! report over the metadata API, and the deadline reaper. Every decision is taken by
//! `ingot-core`; this crate loads facts, calls the core and writes the outcome through the
//! store's compare-and-swap, retrying when another region process got there first.

pub mod boot;
pub mod boot_sources;
pub mod catalog;
pub mod clone;
pub mod commissioning;
pub mod controllers;
pub mod deploy;
mod error;
pub mod fabrics;
pub mod forms;
pub mod images;
mod metadata;
pub mod network;
pub mod oob;
pub mod power;
pub mod racks;
pub mod routes;
pub mod secrets;
mod settings;
pub mod storage;
pub mod uploads;
mod users;
pub use users::{hash_password, verify_password};

pub use error::{FieldErrors, RegionError};

/// The records the region hands out, for the edges to read and render. They are rows of the
/// region's store; only the region reads or writes the store itself.
pub mod model {
    pub use ingot_store::deploy::BootResource;
    pub use ingot_store::sources::{BootSource, BootSourceSelection};
    pub use ingot_store::{
        Event, Interface, Machine, MachineFilter, Named, NamedKind, ScriptResult, StoreError, Tag,
        Token, User,
    };
    pub mod network {
        pub use ingot_store::network::{
            Fabric, InterfaceLink, IpRange, NetbootEvent, Rack, StaticIp, Subnet, Vlan,
            ALLOC_USER_RESERVED,
        };
    }
    pub mod routes {
        pub use ingot_store::routes::StaticRoute;
    }
}

use ingot_core::actions::{
    plan, Action, ActionOptions, Actor, MachineFacts, OwnerChange, Plan, PowerOp,
};
use ingot_core::constraints::{Candidate, Constraints, Matched};
use ingot_core::signal::{self, Outcome, ResultSet, SignalContext, SignalStatus, StatusEvent};
use ingot_core::transitions::{deadline_secs, previous_status_after};
use ingot_core::{PowerState, Status};
use ingot_store::{Change, Machine, MachineFilter, NewEvent, Store, StoreError, Token, User};
use ingot_wire::Params;
use std::collections::HashMap;

pub type Result<T> = std::result::Result<T, RegionError>;

/// How many times an operation is retried when another writer changed the machine first.
const CAS_RETRIES: usize = 16;

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

/// Statuses in which a machine talks to the metadata API and so needs credentials.
fn needs_token(s: Status) -> bool {
    matches!(
        s,
        Status::Commissioning
            | Status::Testing
            | Status::Deploying
            | Status::DiskErasing
            | Status::EnteringRescueMode
            | Status::Releasing
            | Status::RescueMode
    )
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
}

impl Region {
    /// Ids of the default zone, pool and domain.
    pub async fn defaults(&self) -> Result<(i64, i64, i64)> {
        Ok(*self
            .defaults
            .get_or_try_init(|| self.store.defaults())
            .await?)
    }

    pub fn new(store: Store) -> Region {
        Region {
            store,
            defaults: Default::default(),
            secrets: None,
            power: Default::default(),
            node_timeout_secs: None,
        }
    }

    pub fn with_secrets(mut self, secrets: secrets::SecretBox) -> Region {
        self.secrets = Some(secrets);
        self
    }

    pub fn with_power_policy(mut self, policy: ingot_power::RetryPolicy) -> Region {
        self.power = std::sync::Arc::new(ingot_power::PowerControl::new(policy));
        self
    }

    /// Encrypt the secret fields of validated power parameters.
    pub fn seal_power_params(
        &self,
        power_type: &str,
        params: &mut serde_json::Map<String, serde_json::Value>,
    ) -> Result<()> {
        let has_secret = ingot_power::schema::secret_fields(power_type)
            .iter()
            .any(|f| {
                params
                    .get(*f)
                    .and_then(|v| v.as_str())
                    .is_some_and(|v| !v.is_empty() && !secrets::is_sealed(v))
            });
        match (&self.secrets, has_secret) {
            (Some(b), _) => {
                b.seal_params(power_type, params);
                Ok(())
            }
            (None, false) => Ok(()),
            (None, true) => Err(RegionError::Unavailable(
                "This region has no secret key to store BMC passwords with.".into(),
            )),
        }
    }

    /// A machine's power parameters with secrets decrypted (for drivers and admins only).
    pub fn open_power_params(
        &self,
        m: &Machine,
    ) -> Result<serde_json::Map<String, serde_json::Value>> {
        let p = m.power_parameters.as_object().cloned().unwrap_or_default();
        match &self.secrets {
            Some(b) => b
                .open_params(&p)
                .map_err(|e| RegionError::Unavailable(e.to_string())),
            None => Ok(p),
        }
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
    /// A machine the user may see.
    pub async fn machine_for(&self, user: &User, system_id: &str) -> Result<Machine> {
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
        let m = self.load(system_id).await?;
        plan(action, &facts(&m), actor(user), &ActionOptions::default())?;
        Ok(m)
    }

    async fn load(&self, system_id: &str) -> Result<Machine> {
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
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// Whether a machine has this (normalised) MAC address.
    pub async fn is_registered(&self, mac: &str) -> Result<bool> {
        Ok(self.store.machine_by_mac(mac).await?.is_some())
    }

    pub async fn list_machines(&self, user: &User, mut f: MachineFilter) -> Result<Vec<Machine>> {
        if !user.is_admin {
            f.visible_to = Some(user.id);
        }
        Ok(self.store.list_machines(&f).await?)
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
            // A release gives back what the deployment took: AUTO addresses, interfaces that
            // are not physical.
            self.release_network(res.id).await?;
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
                self.spawn_power(&m, PowerOp::Cycle, Some(true), Status::Deploying);
            }
        }
        Ok(n)
    }

    /// Reload a machine after a change and mint its metadata token when its status needs one.
    async fn after_change(&self, machine_id: i64) -> Result<Machine> {
        let m =
            self.store.machine_by_id(machine_id).await?.ok_or_else(|| {
                RegionError::NotFound("No Machine matches the given query.".into())
            })?;
        if needs_token(m.status) {
            self.store.ensure_machine_token(m.id).await?;
        }
        Ok(m)
    }

    /// Turn a plan into one compare-and-swap with one event per step.
    async fn apply_plan(
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
            self.spawn_power(m, op, p.netboot, cur);
        }
        Ok(())
    }

    async fn deadline_for(&self, s: Status) -> Result<Option<i64>> {
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
            let m = self
                .load_for(user, system_id, Action::SetWorkloadAnnotations)
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

    /// Ask the BMC for the power state now (recording it); manual machines answer "unknown".
    /// A BMC that cannot answer gives 503 with its error.
    pub async fn query_power_state(&self, user: &User, system_id: &str) -> Result<String> {
        let m = self
            .load_for(user, system_id, Action::QueryPowerState)
            .await?;
        if !power::controllable(&m.power_type) {
            return Ok(power::query(&m));
        }
        let seen = self
            .power_run(
                &m,
                ingot_power::Op::Query,
                Some(std::time::Duration::from_secs(15)),
            )
            .await;
        let seen = seen.map(|s| s.unwrap_or(PowerState::Unknown));
        self.record_power(m.id, seen.clone()).await?;
        match seen {
            Ok(s) => Ok(s.as_str().to_string()),
            Err(e) => Err(RegionError::Unavailable(format!(
                "Failed to query the power state through {}: {e}",
                m.power_type
            ))),
        }
    }

    /// Allocate a READY machine matching `c` for `user`. Never hands one machine to two callers:
    /// the winner is decided by the store's compare-and-swap.
    pub async fn allocate(
        &self,
        user: &User,
        c: &Constraints,
        agent_name: Option<&str>,
        comment: Option<&str>,
        dry_run: bool,
    ) -> Result<Machine> {
        let filter = MachineFilter {
            statuses: vec![Status::Ready],
            min_cpu: c.cpu_count.map(|v| v.ceil() as i64),
            min_mem: c.mem.map(|v| v.ceil() as i64),
            zone: c.zone.clone(),
            pool: c.pool.clone(),
            system_ids: c.system_id.iter().cloned().collect(),
            visible_to: if user.is_admin { None } else { Some(user.id) },
            ..Default::default()
        };
        // Pages of candidates in closest-fit order; the first page almost always decides.
        const PAGE: i64 = 64;
        let mut after = None;
        let mut net: Option<NetFacts> = None;
        loop {
            let mut page = self
                .store
                .allocation_candidates(&filter, after, PAGE)
                .await?;
            // Disks, interfaces and devices only when the constraints look at them.
            let networked = !c.interfaces.is_empty()
                || !c.subnets.is_empty()
                || !c.not_subnets.is_empty()
                || !c.fabrics.is_empty()
                || !c.not_fabrics.is_empty()
                || !c.fabric_classes.is_empty()
                || !c.not_fabric_classes.is_empty();
            if !c.storage.is_empty() || networked {
                self.store.load_hardware(&mut page).await?;
            }
            if networked && net.is_none() {
                net = Some(NetFacts::load(&self.store).await?);
            }
            let no_net = NetFacts::default();
            let net_ref = net.as_ref().unwrap_or(&no_net);
            let devices = if c.devices.is_empty() {
                HashMap::new()
            } else {
                let ids: Vec<i64> = page.iter().map(|m| m.id).collect();
                self.store.machine_devices(&ids).await?
            };
            let exhausted = (page.len() as i64) < PAGE;
            after = page.last().map(|m| (m.cpu_count, m.memory, m.id));
            let mut cands: Vec<(i64, i64, &Machine)> = page
                .iter()
                .filter(|m| !m.locked)
                .filter_map(|m| {
                    let (disks, nics) = hardware_facts(m, net_ref);
                    let devs = devices.get(&m.id).map(Vec::as_slice).unwrap_or(&[]);
                    let cand = candidate(m, &disks, &nics, devs);
                    c.matches(&cand).then(|| {
                        let (a, b) = c.fit_cost(&cand);
                        (a, b, m)
                    })
                })
                .collect();
            cands.sort_by_key(|(a, b, m)| (*a, *b, m.id));
            if dry_run {
                if let Some((_, _, m)) = cands.first() {
                    return Ok((*m).clone());
                }
            } else if let Some(m) = self
                .allocate_first(user, &cands, agent_name, comment)
                .await?
            {
                return Ok(m);
            }
            if exhausted {
                break;
            }
        }
        Err(RegionError::Conflict(no_match_message(c)))
    }

    /// Which of an allocated machine's disks and interfaces satisfied the `storage` and
    /// `interfaces` constraints (allocate's `constraints_by_type`).
    pub async fn matched_hardware(&self, m: &Machine, c: &Constraints) -> Result<Matched> {
        let net = if c.interfaces.is_empty() {
            NetFacts::default()
        } else {
            NetFacts::load(&self.store).await?
        };
        let (disks, nics) = hardware_facts(m, &net);
        Ok(c.matched(&candidate(m, &disks, &nics, &[]))
            .unwrap_or_default())
    }

    /// Try to allocate the candidates in order; contending callers spread over the best
    /// candidates instead of all racing for the first. `None` when every one was taken.
    async fn allocate_first(
        &self,
        user: &User,
        cands: &[(i64, i64, &Machine)],
        agent_name: Option<&str>,
        comment: Option<&str>,
    ) -> Result<Option<Machine>> {
        let mut order: Vec<usize> = (0..cands.len()).collect();
        let mut lost = 0usize;
        let mut i = 0usize;
        while i < order.len() {
            let m = cands[order[i]].2;
            let opts = ActionOptions {
                comment: comment.map(String::from),
                ..Default::default()
            };
            let p = match plan(Action::Allocate, &facts(m), actor(user), &opts) {
                Ok(p) => p,
                Err(_) => {
                    i += 1;
                    continue;
                }
            };
            let mut extra = Change::default();
            if let Some(a) = agent_name {
                extra.agent_name = Some(a.to_string());
            }
            match self.apply_plan(m, &p, extra, &user.username, comment).await {
                Ok(()) => return Ok(Some(self.after_change(m.id).await?)),
                Err(RegionError::Store(StoreError::Conflict)) => {
                    lost += 1;
                    let rest = order.len() - i - 1;
                    if lost == 1 && rest > 1 {
                        let j = i + 1 + (rand::random::<usize>() % rest.min(32));
                        order.swap(i + 1, j);
                    }
                    i += 1;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    // ------------------------------------------------------------------ metadata
    /// `op=signal` from a machine.
    pub async fn signal(
        &self,
        machine_id: i64,
        params: &Params,
        files: &[ingot_wire::FilePart],
    ) -> Result<()> {
        let status_txt = params
            .get("status")
            .ok_or_else(|| RegionError::field("status", "This field is required."))?;
        let status = SignalStatus::parse(status_txt).map_err(RegionError::BadRequest)?;
        let error = params.get("error").map(String::from);
        // `exit_status`, with MAAS's older aliases `script_result` and `result`.
        let exit_field = ["exit_status", "script_result", "result"]
            .into_iter()
            .find(|f| params.contains(f));
        let exit_status = match exit_field {
            Some(f) => params.get_i64(f)?,
            None => None,
        };
        let script_name = params.get("name").map(String::from);
        let runtime = params.get("runtime").unwrap_or_default().to_string();
        let result_id = params.get_i64("script_result_id")?;
        // Results are stored once, before the status change (which may be retried when the
        // machine changed meanwhile, e.g. by the inventory the upload carried).
        let gone = || RegionError::NotFound("The machine of this token no longer exists.".into());
        let mut m = self
            .store
            .machine_core(machine_id)
            .await?
            .ok_or_else(gone)?;
        if m.status == Status::Deployed {
            // A running machine's hardware sync (or register-machine) checked in: a change of
            // its row, so it is read again.
            let interval = params.get_i64("sync_interval")?.filter(|i| *i > 0);
            self.store.record_sync(m.id, interval).await?;
            m = self
                .store
                .machine_core(machine_id)
                .await?
                .ok_or_else(gone)?;
        }
        // Where results go is decided by the status before the signal.
        let probe = signal::plan_signal(
            &facts(&m),
            status,
            &SignalContext {
                enlisting: m.enlisting,
                any_result_failed: false,
                any_result_unfinished: false,
                error: error.clone(),
            },
        )?;
        match (probe.results, result_id) {
            (Some(_), Some(rid)) => {
                self.store_script_result(&m, rid, status, exit_status, &runtime, files)
                    .await?
            }
            (Some(set), None) => {
                self.store_results(
                    &m,
                    set,
                    status,
                    script_name.as_deref(),
                    exit_status,
                    &runtime,
                    files,
                )
                .await?
            }
            _ => {}
        }
        self.retrying(|| async {
            let m = self.store.machine_core(machine_id).await?.ok_or_else(|| {
                RegionError::NotFound("The machine of this token no longer exists.".into())
            })?;
            let f = facts(&m);
            let (any_failed, any_unfinished) = match probe.results {
                Some(set) => {
                    let rs = self.store.results(m.id, Some(set.as_str())).await?;
                    (
                        rs.iter().any(|r| matches!(r.status, 3 | 4 | 8 | 11)),
                        rs.iter().any(|r| matches!(r.status, 0 | 1 | 7 | 10)),
                    )
                }
                None => (false, false),
            };
            let out = signal::plan_signal(
                &f,
                status,
                &SignalContext {
                    enlisting: m.enlisting,
                    any_result_failed: any_failed,
                    any_result_unfinished: any_unfinished,
                    error: error.clone(),
                },
            )?;
            let heard = match (&script_name, result_id) {
                (Some(n), _) => format!("signal {} for script '{n}'", status.as_str()),
                (None, Some(id)) => format!("signal {} for script result {id}", status.as_str()),
                (None, None) => format!("signal {}", status.as_str()),
            };
            self.apply_outcome(
                &m,
                &out,
                Heard::Machine(heard),
                Change::default(),
                Vec::new(),
            )
            .await?;
            Ok(())
        })
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn store_results(
        &self,
        m: &Machine,
        set: ResultSet,
        status: SignalStatus,
        script: Option<&str>,
        exit_status: Option<i64>,
        runtime: &str,
        files: &[ingot_wire::FilePart],
    ) -> Result<()> {
        // Group uploads by script: NAME (combined), NAME.out, NAME.err, NAME.yaml.
        let mut by_script: std::collections::BTreeMap<String, [Option<Vec<u8>>; 4]> =
            Default::default();
        for f in files {
            let (base, slot) = if let Some(b) = f.name.strip_suffix(".out") {
                (b, 1)
            } else if let Some(b) = f.name.strip_suffix(".err") {
                (b, 2)
            } else if let Some(b) = f.name.strip_suffix(".yaml") {
                (b, 3)
            } else {
                (f.name.as_str(), 0)
            };
            by_script.entry(base.to_string()).or_default()[slot] = Some(f.data.clone());
        }
        if let Some(s) = script {
            by_script.entry(s.to_string()).or_default();
        }
        for (name, files) in by_script {
            let is_signalled = script == Some(name.as_str());
            let st = match (status, is_signalled.then_some(exit_status).flatten()) {
                (SignalStatus::Timedout, _) => 4,
                (_, Some(0)) => 2,
                (_, Some(_)) => 3,
                (SignalStatus::Working, None) => 1,
                (SignalStatus::Failed, None) if is_signalled => 3,
                _ => 2,
            };
            let exit = if is_signalled { exit_status } else { None };
            // Uploads named like the inventory and kernel-command-line built-ins run their
            // hooks here too (clients that report by name, without a script_result_id).
            let mut st = st;
            if st == 2 && !self.run_hooks(m, &name, files[1].as_deref()).await? {
                st = 3;
            }
            self.store
                .store_result(
                    m.id,
                    set.as_str(),
                    &name,
                    st,
                    exit,
                    if is_signalled { runtime } else { "" },
                    files,
                )
                .await?;
        }
        Ok(())
    }

    /// A cloud-init / curtin status event from a machine.
    pub async fn status_event(&self, machine_id: i64, ev: &StatusEvent) -> Result<Machine> {
        self.retrying(|| async {
            let m = self.store.machine_by_id(machine_id).await?.ok_or_else(|| {
                RegionError::NotFound("The machine of this token no longer exists.".into())
            })?;
            let parts = self.failed_parts(&m, ev).await?;
            let out = signal::plan_status_event(&facts(&m), ev, &parts);
            let heard = format!(
                "{} {} {}{}",
                ev.origin,
                ev.name,
                ev.event_type,
                ev.result
                    .as_deref()
                    .map(|r| format!(" {r}"))
                    .unwrap_or_default()
            );
            // Installer and cloud-init progress is recorded on the machine's event log (as
            // MAAS's node events), failures as errors.
            let text = format!(
                "{}{}",
                heard,
                Some(ev.description.as_str())
                    .filter(|d| !d.is_empty())
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            );
            let record = if ev.result.as_deref() == Some("FAIL") {
                NewEvent::error("Node status event", text, "")
            } else {
                NewEvent::info("Node status event", text, "")
            };
            self.apply_outcome(
                &m,
                &out,
                Heard::Machine(heard),
                Change::default(),
                vec![record],
            )
            .await?;
            self.after_change(m.id).await
        })
        .await
    }

    /// For a stage's failure (a top-level `finish FAIL`): the parts of that stage that reported
    /// their own failure since it started (`modules-final/config-scripts-user` →
    /// `config-scripts-user`), oldest first, read back from the machine's event log.
    async fn failed_parts(&self, m: &Machine, ev: &StatusEvent) -> Result<Vec<String>> {
        if !(ev.event_type == "finish" && ev.is_top_level() && ev.result.as_deref() == Some("FAIL"))
        {
            return Ok(Vec::new());
        }
        let start = format!("{} {} start", ev.origin, ev.name);
        let child = format!("{} {}/", ev.origin, ev.name);
        let mut parts = Vec::new();
        for e in self
            .store
            .events(std::slice::from_ref(&m.system_id), None, None, None, 200)
            .await?
        {
            if e.kind != "Node status event" {
                continue;
            }
            if e.description.starts_with(&start) {
                break;
            }
            if let Some(rest) = e.description.strip_prefix(&child) {
                if let Some((name, _)) = rest.split_once(" finish FAIL") {
                    if !parts.iter().any(|p| p == name) {
                        parts.push(name.to_string());
                    }
                }
            }
        }
        parts.reverse();
        Ok(parts)
    }

    /// Apply what a machine's report (or an observation of it) decided, in one compare-and-
    /// swap with its events. `extra` and `events` carry changes the caller adds (power state).
    pub(crate) async fn apply_outcome(
        &self,
        m: &Machine,
        o: &Outcome,
        heard: Heard,
        mut c: Change,
        mut events: Vec<NewEvent>,
    ) -> Result<()> {
        let heard_from_machine = matches!(heard, Heard::Machine(_));
        let heard = match heard {
            Heard::Machine(h) | Heard::Observed(h) => h,
        };
        let mut cur = m.status;
        let mut prev = m.previous_status;
        for &s in &o.steps {
            prev = previous_status_after(cur, s, prev);
            let ev = if s.is_failed() {
                NewEvent::error(
                    s.label(),
                    format!(
                        "From '{}' to '{}': {}",
                        cur.label(),
                        s.label(),
                        o.error_description.clone().unwrap_or_else(|| heard.clone())
                    ),
                    "",
                )
            } else {
                NewEvent::info(
                    s.label(),
                    format!("From '{}' to '{}': {heard}", cur.label(), s.label()),
                    "",
                )
            };
            events.push(ev);
            cur = s;
        }
        if cur != m.status {
            c.status = Some(cur);
            c.previous_status = Some(prev);
            c.status_expires = Some(self.deadline_for(cur).await?);
        } else if m.status.is_transient() && heard_from_machine {
            // A heartbeat: the machine is alive, so its deadline moves out.
            c.status_expires = Some(self.deadline_for(cur).await?);
        }
        if heard_from_machine {
            c.last_heard = Some(format!("{heard} at {}", ingot_store::now_ms() / 1000));
        }
        if c == Change::default() && events.is_empty() && o.steps.is_empty() {
            return Ok(());
        }
        let owner = match o.owner {
            OwnerChange::Keep => m.owner_id,
            OwnerChange::Set(u) => Some(u),
            OwnerChange::Clear => None,
        };
        let owner = if cur != m.status && matches!(cur, Status::New | Status::Ready) {
            None
        } else {
            owner
        };
        if owner != m.owner_id {
            c.owner_id = Some(owner);
        }
        if let Some(p) = o.commissioning_passed {
            c.commissioning_passed = Some(p);
        }
        if o.clear_enlisting {
            c.enlisting = Some(false);
        }
        if let Some(n) = o.netboot {
            c.netboot = Some(n);
        }
        if let Some(e) = &o.error_description {
            c.error_description = Some(e.clone());
        }
        if o.clear_deployment {
            clear_deployment(&mut c);
        }
        if o.power_off {
            events.push(power::event(PowerOp::Off, &m.power_type, ""));
        }
        self.store.apply(m, &c, &events).await?;
        if o.abort_results {
            self.store.abort_results(m.id).await?;
        }
        if o.power_off {
            self.spawn_power(m, PowerOp::Off, None, cur);
        }
        // An admitted deployment that ended (DEPLOYED or failed) frees its rack's slot now,
        // not at the next reaper round.
        if m.status == Status::Deploying && m.deploy_queued.is_none() && !o.steps.is_empty() {
            self.admit_deployments().await?;
        }
        Ok(())
    }

    /// Fail every machine whose deadline has passed. Returns how many were failed.
    pub async fn reap_deadlines(&self) -> Result<usize> {
        let timeout = self.node_timeout_secs().await?;
        let mut n = self.reap_overdue_scripts().await?;
        // Slots freed by finished or failed deployments go to the queue.
        self.admit_deployments().await?;
        for m in self.store.expired_machines(ingot_store::now_ms()).await? {
            let secs = deadline_secs(m.status, timeout).unwrap_or(timeout);
            let Some((failed, why)) = signal::plan_timeout(m.status, secs, Some(&m.last_heard))
            else {
                // Not transient any more: just clear the stale deadline.
                let _ = self
                    .store
                    .apply(
                        &m,
                        &Change {
                            status_expires: Some(None),
                            ..Default::default()
                        },
                        &[],
                    )
                    .await;
                continue;
            };
            let c = Change {
                status: Some(failed),
                previous_status: Some(previous_status_after(m.status, failed, m.previous_status)),
                status_expires: Some(None),
                error_description: Some(why.clone()),
                ..Default::default()
            };
            let ev = NewEvent::error(
                failed.label(),
                format!("From '{}' to '{}': {why}", m.status.label(), failed.label()),
                "",
            );
            match self.store.apply(&m, &c, &[ev]).await {
                Ok(_) => {
                    self.store.abort_results(m.id).await?;
                    n += 1;
                }
                Err(StoreError::Conflict) => {} // it moved on its own, or another region reaped it
                Err(e) => return Err(e.into()),
            }
        }
        Ok(n)
    }
}

/// Who an outcome was heard from: the machine itself (a heartbeat: its deadline moves out and
/// `last_heard` is updated) or an observation of it (its BMC).
pub(crate) enum Heard {
    Machine(String),
    Observed(String),
}

impl Region {
    /// Run a driver operation on a machine's BMC (secrets decrypted, one operation per BMC).
    pub async fn power_run(
        &self,
        m: &Machine,
        op: ingot_power::Op,
        deadline: Option<std::time::Duration>,
    ) -> std::result::Result<Option<PowerState>, ingot_power::PowerError> {
        let params = self
            .open_power_params(m)
            .map_err(|e| ingot_power::PowerError::BadParams(e.to_string()))?;
        let driver = ingot_power::build(&m.power_type, &params)?;
        let key = ingot_power::bmc_key(&m.power_type, &params);
        match deadline {
            Some(d) => self.power.run_within(&key, driver.as_ref(), op, d).await,
            None => self.power.run_with(&key, driver.as_ref(), op).await,
        }
    }

    /// After a transition committed: switch the machine through its driver in the background.
    fn spawn_power(&self, m: &Machine, op: PowerOp, netboot: Option<bool>, during: Status) {
        if !power::controllable(&m.power_type) {
            return;
        }
        let region = self.clone();
        let id = m.id;
        tokio::spawn(async move {
            if let Err(e) = region.drive_power(id, op, netboot, during).await {
                tracing::warn!("power operation on machine {id}: {e}");
            }
        });
    }

    /// Set the boot device, switch, confirm with a query; a failure fails the transition.
    async fn drive_power(
        &self,
        id: i64,
        op: PowerOp,
        netboot: Option<bool>,
        during: Status,
    ) -> Result<()> {
        use ingot_power::{BootDevice, Op, PowerError};
        let Some(m) = self.store.machine_by_id(id).await? else {
            return Ok(());
        };
        let mut ops = Vec::new();
        match (netboot, op) {
            (Some(true), _) => ops.push(Op::Boot(BootDevice::Pxe)),
            (Some(false), PowerOp::On | PowerOp::Cycle) => ops.push(Op::Boot(BootDevice::Disk)),
            _ => {}
        }
        ops.push(match op {
            PowerOp::On => Op::On,
            PowerOp::Off => Op::Off,
            PowerOp::SoftOff => Op::Soft,
            PowerOp::Cycle => Op::Cycle,
        });
        for o in ops {
            match self.power_run(&m, o, None).await {
                Ok(_) => {}
                Err(PowerError::Unsupported(why)) if matches!(o, Op::Boot(_)) => {
                    self.store
                        .record_event(
                            &m,
                            &NewEvent::info(
                                "Boot device",
                                format!("Could not set the boot device: {why}"),
                                "",
                            ),
                        )
                        .await?;
                }
                Err(e) => return self.power_failed(id, during, &e).await,
            }
        }
        let want = if matches!(op, PowerOp::Off | PowerOp::SoftOff) {
            PowerState::Off
        } else {
            PowerState::On
        };
        let seen = self
            .power_run(&m, Op::Query, Some(std::time::Duration::from_secs(20)))
            .await;
        self.record_power(id, seen.map(|s| s.unwrap_or(want))).await
    }

    /// A power operation failed: a machine still in the transient status it was for moves to
    /// the failed status with the BMC's error; otherwise the error is recorded.
    async fn power_failed(
        &self,
        id: i64,
        during: Status,
        e: &ingot_power::PowerError,
    ) -> Result<()> {
        self.retrying(|| async {
            let Some(m) = self.store.machine_by_id(id).await? else {
                return Ok(());
            };
            let mut c = Change::default();
            if m.power_state != "error" {
                c.power_state = Some("error".into());
            }
            let ev = NewEvent::error(
                "Power error",
                format!("Power control through {} failed: {e}", m.power_type),
                "",
            );
            let o = if m.status == during {
                signal::plan_power_failure(&facts(&m), &e.to_string())
            } else {
                Outcome::default()
            };
            self.apply_outcome(
                &m,
                &o,
                Heard::Observed(format!("power control failed: {e}")),
                c,
                vec![ev],
            )
            .await
        })
        .await
    }

    /// Record an observed power state (or a failed query): power_state and an event when it
    /// changes, and what the state completes (RELEASING seen off, …).
    pub async fn record_power(
        &self,
        id: i64,
        seen: std::result::Result<PowerState, ingot_power::PowerError>,
    ) -> Result<()> {
        self.retrying(|| async {
            let Some(m) = self.store.machine_by_id(id).await? else {
                return Ok(());
            };
            let (state, detail) = match &seen {
                Ok(s) => (s.as_str(), String::new()),
                Err(e) => ("error", format!(": {e}")),
            };
            let mut c = Change::default();
            let mut events = Vec::new();
            if m.power_state != state {
                c.power_state = Some(state.to_string());
                let text = format!(
                    "Power state changed from {} to {state}{detail}",
                    m.power_state
                );
                events.push(if seen.is_ok() {
                    NewEvent::info("Power state", text, "")
                } else {
                    NewEvent::error("Power state", text, "")
                });
            }
            let o = match &seen {
                Ok(s) => signal::plan_power_observed(&facts(&m), *s),
                Err(_) => Outcome::default(),
            };
            self.apply_outcome(
                &m,
                &o,
                Heard::Observed(format!("power {state} (seen through {})", m.power_type)),
                c,
                events,
            )
            .await
        })
        .await
    }

    /// Query every machine with a queryable driver once per `interval`, spread evenly over it,
    /// with at most `parallel` queries in flight. Runs until the task is dropped.
    pub async fn monitor_power(&self, interval: std::time::Duration, parallel: usize) {
        let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
        let types: Vec<&str> = power::power_types()
            .filter(|t| power::controllable(t))
            .collect();
        loop {
            let round = tokio::time::Instant::now();
            let ids = match self.store.machine_ids_by_power_type(&types).await {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::warn!("power monitor: {e}");
                    Vec::new()
                }
            };
            let gap = interval
                .checked_div(ids.len().max(1) as u32)
                .unwrap_or(interval);
            for id in ids {
                let Ok(permit) = sem.clone().acquire_owned().await else {
                    return;
                };
                let region = self.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    if let Ok(Some(m)) = region.store.machine_by_id(id).await {
                        let seen = region
                            .power_run(
                                &m,
                                ingot_power::Op::Query,
                                Some(interval.min(std::time::Duration::from_secs(30))),
                            )
                            .await;
                        let seen = seen.map(|s| s.unwrap_or(PowerState::Unknown));
                        tracing::debug!("power monitor: machine {id} ({}): {seen:?}", m.hostname);
                        if let Err(e) = region.record_power(id, seen).await {
                            tracing::warn!("power monitor, machine {id}: {e}");
                        }
                    }
                });
                tokio::time::sleep(gap).await;
            }
            tokio::time::sleep_until(round + interval).await;
        }
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

/// A machine's disks and interfaces as the `storage` / `interfaces` constraints see them.
/// The network model as allocation constraints see a link's subnet.
#[derive(Debug, Clone, Default)]
pub struct NetFacts {
    subnets: HashMap<i64, ingot_core::constraints::SubnetFacts>,
}

impl NetFacts {
    pub async fn load(store: &Store) -> Result<NetFacts> {
        let fabrics = store.fabrics().await?;
        let vlans = store.vlans(None).await?;
        let subnets = store
            .subnets()
            .await?
            .into_iter()
            .map(|s| {
                let v = vlans.iter().find(|v| v.id == s.vlan_id);
                let f = v.and_then(|v| fabrics.iter().find(|f| f.id == v.fabric_id));
                let facts = ingot_core::constraints::SubnetFacts {
                    id: s.id,
                    cidr: s.cidr.clone(),
                    name: s.name.clone(),
                    vlan_id: s.vlan_id,
                    vid: v.map_or(0, |v| v.vid),
                    vlan_name: v.map(|v| v.name.clone()).unwrap_or_default(),
                    fabric_id: f.map_or(0, |f| f.id),
                    fabric: f.map(|f| f.name.clone()).unwrap_or_default(),
                    fabric_class: f.and_then(|f| f.class_type.clone()).unwrap_or_default(),
                };
                (s.id, facts)
            })
            .collect();
        Ok(NetFacts { subnets })
    }
}

pub fn hardware_facts(
    m: &Machine,
    net: &NetFacts,
) -> (
    Vec<ingot_core::constraints::DiskFacts>,
    Vec<ingot_core::constraints::NicFacts>,
) {
    let disks = m
        .block_devices
        .iter()
        .map(|b| ingot_core::constraints::DiskFacts {
            id: b.id,
            size: u64::try_from(b.size).unwrap_or(0),
            tags: b.tags.clone(),
        })
        .collect();
    let nics = m
        .interfaces
        .iter()
        .map(|i| ingot_core::constraints::NicFacts {
            id: i.id,
            name: i.name.clone(),
            kind: i.kind.clone(),
            tags: i.details["tags"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
            link_speed: i.details["link_speed"].as_u64().unwrap_or(0),
            links: i
                .links
                .iter()
                .filter_map(|l| {
                    Some(ingot_core::constraints::LinkFacts {
                        subnet: net.subnets.get(&l.subnet_id?)?.clone(),
                        mode: l.mode.clone(),
                        ip: l.ip.clone(),
                    })
                })
                .collect(),
        })
        .collect();
    (disks, nics)
}

pub fn candidate<'a>(
    m: &'a Machine,
    disks: &'a [ingot_core::constraints::DiskFacts],
    nics: &'a [ingot_core::constraints::NicFacts],
    devices: &'a [ingot_core::constraints::DeviceFacts],
) -> Candidate<'a> {
    Candidate {
        system_id: &m.system_id,
        hostname: &m.hostname,
        domain: &m.domain,
        architecture: m.architecture.as_deref().unwrap_or(""),
        cpu_count: m.cpu_count,
        memory: m.memory,
        tags: &m.tags,
        zone: &m.zone,
        pool: &m.pool,
        disks,
        nics,
        devices,
    }
}

fn no_match_message(c: &Constraints) -> String {
    if c.is_empty() {
        "No machine available.".into()
    } else if let (Some(id), true) = (
        &c.system_id,
        Constraints {
            system_id: None,
            ..c.clone()
        }
        .is_empty(),
    ) {
        format!("No machine with system ID {id} available.")
    } else {
        format!("No available machine matches constraints: {}", c.describe())
    }
}
