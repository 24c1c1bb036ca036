//! The region's side of power control: which power types exist and can be queried (from
//! `ingot-power`'s schemas), the events power operations leave, the state to report, sealed
//! power parameters, and the power work a committed transition leaves behind (run in the
//! background, retried by the driver's policy, its failure the machine's failed status); the
//! power monitor.

use crate::{facts, power, secrets, Heard, PowerFailure, Region, RegionError, Result};
use ingot_core::actions::Action;
use ingot_core::signal;
use ingot_core::signal::Outcome;
use ingot_core::PowerOp;
use ingot_core::PowerState;
use ingot_core::Status;
use ingot_store::Change;
use ingot_store::User;
use ingot_store::{Machine, NewEvent};
use std::sync::atomic::Ordering;

/// Power work a committed transition leaves behind: switch this machine, which was then in
/// `during`, and set its boot device to the network (`netboot`) first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PowerJob {
    machine_id: i64,
    op: PowerOp,
    netboot: Option<bool>,
    during: Status,
}

/// Where transitions put their power work; the worker takes it from there.
#[derive(Debug)]
pub(crate) struct PowerQueue(tokio::sync::mpsc::UnboundedSender<PowerJob>);

/// Registered power driver names.
pub fn power_types() -> impl Iterator<Item = &'static str> {
    ingot_power::schema::DRIVERS.iter().map(|d| d.name)
}

/// Whether the driver can switch and query the machine (`manual` cannot).
pub fn controllable(power_type: &str) -> bool {
    ingot_power::schema::queryable(power_type)
}

/// The event recorded when a power operation is requested.
pub fn event(op: PowerOp, power_type: &str, who: &str) -> NewEvent {
    let verb = match op {
        PowerOp::On => "Power on",
        PowerOp::Off => "Power off",
        PowerOp::SoftOff => "Soft power off",
        PowerOp::Cycle => "Power cycle",
    };
    let how = if controllable(power_type) {
        format!(" through the {power_type} driver")
    } else if power_type.is_empty() {
        ": no power type is configured, so nothing was switched".into()
    } else {
        format!(": power type '{power_type}' has no control, so a person must do it")
    };
    NewEvent::info(verb, format!("{verb} requested{how}"), who)
}

/// The power state to report.
pub fn query(m: &Machine) -> String {
    if controllable(&m.power_type) {
        m.power_state.clone()
    } else {
        "unknown".into()
    }
}

/// The power drivers and their parameters, as MAAS's `power-types/` describes them.
pub fn power_types_json() -> serde_json::Value {
    ingot_power::schema::power_types_json()
}

impl Region {
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

    /// `machines/{id}/?op=power_parameters` (admin): the machine's power parameters, secrets
    /// decrypted.
    pub async fn power_parameters(
        &self,
        u: &User,
        system_id: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>> {
        crate::settings::need_admin(u)?;
        // Any node: a device has none (MAAS answers `{}`).
        let m = self.node_for(u, system_id).await?;
        self.open_power_params(&m)
    }

    /// `machines/?op=power_parameters` (admin): those of the machines given by id (every
    /// machine when none is given), by system_id.
    pub async fn power_parameters_of(
        &self,
        u: &User,
        system_ids: Vec<String>,
    ) -> Result<Vec<(String, serde_json::Map<String, serde_json::Value>)>> {
        crate::settings::need_admin(u)?;
        let f = ingot_store::MachineFilter {
            system_ids,
            ..Default::default()
        };
        let mut out = Vec::new();
        for m in self.list_machines(u, f).await? {
            out.push((m.system_id.clone(), self.open_power_params(&m)?));
        }
        Ok(out)
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
            Err(e) => Err(PowerFailure::new(
                format!("Failed to query the power state through {}", m.power_type),
                &e,
            )
            .into()),
        }
    }

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

    /// After a transition committed: its power work goes to the queue (the transition only
    /// says what is to be done; the worker does it, in the background).
    pub(crate) fn queue_power(
        &self,
        m: &Machine,
        op: PowerOp,
        netboot: Option<bool>,
        during: Status,
    ) {
        if !power::controllable(&m.power_type) {
            return;
        }
        let queue = self.power_jobs.get_or_init(|| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(self.clone().run_power_jobs(rx));
            PowerQueue(tx)
        });
        let job = PowerJob {
            machine_id: m.id,
            op,
            netboot,
            during,
        };
        self.power_pending.fetch_add(1, Ordering::Relaxed);
        if queue.0.send(job).is_err() {
            self.power_pending.fetch_sub(1, Ordering::Relaxed);
            tracing::warn!("power queue closed: machine {} not switched", m.id);
        }
    }

    /// The power worker: each job runs on its own task (the driver layer serialises the
    /// operations of one BMC and retries transient failures). Power-ons and cycles are paced:
    /// each starts its gap after the one before (a bulk commission of hundreds of machines
    /// does not draw their power at once, nor flood the rack's DHCP); other operations start
    /// at once.
    async fn run_power_jobs(self, mut rx: tokio::sync::mpsc::UnboundedReceiver<PowerJob>) {
        let mut next_on = tokio::time::Instant::now();
        while let Some(j) = rx.recv().await {
            let start = match (self.power_on_gap, j.op) {
                (Some(gap), PowerOp::On | PowerOp::Cycle) => {
                    let at = next_on.max(tokio::time::Instant::now());
                    next_on = at + gap;
                    Some(at)
                }
                _ => None,
            };
            let region = self.clone();
            self.power_tasks.spawn(async move {
                if let Some(at) = start {
                    tokio::time::sleep_until(at).await;
                }
                let id = j.machine_id;
                if let Err(e) = region.drive_power(id, j.op, j.netboot, j.during).await {
                    tracing::warn!("power operation on machine {id}: {e}");
                }
                region.power_pending.fetch_sub(1, Ordering::Relaxed);
            });
        }
    }

    /// Set the boot device, switch, confirm with a query; a failure fails the transition.
    pub(crate) async fn drive_power(
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
    pub(crate) async fn power_failed(
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
    pub async fn monitor_power(
        &self,
        interval: std::time::Duration,
        parallel: usize,
        share: crate::work::WorkShare,
    ) {
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
            // Every region walks every machine at the same pace and queries those of the
            // shards it holds when it gets to them: a shard taken over is queried from the
            // next machine on, not from the next round. Each query has its time in the round
            // (not a pause after the one before: pauses of a few milliseconds, each rounded
            // up by the timer, made a round of 100,000 outlast its interval).
            for (k, id) in ids.into_iter().enumerate() {
                tokio::time::sleep_until(round + gap.saturating_mul(k as u32)).await;
                if !share.monitors(id) {
                    continue;
                }
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
            }
            tokio::time::sleep_until(round + interval).await;
        }
    }
}
