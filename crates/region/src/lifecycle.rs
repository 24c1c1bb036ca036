//! What machines report and what time does: `op=signal`, cloud-init status events, the outcomes they lead to, and the deadline reaper.

use crate::{clear_deployment, facts, power, Region, RegionError, Result};
use ingot_core::actions::OwnerChange;
use ingot_core::actions::PowerOp;
use ingot_core::signal;
use ingot_core::signal::Outcome;
use ingot_core::signal::ResultSet;
use ingot_core::signal::SignalContext;
use ingot_core::signal::SignalStatus;
use ingot_core::signal::StatusEvent;
use ingot_core::transitions::deadline_secs;
use ingot_core::transitions::previous_status_after;
use ingot_core::Status;
use ingot_store::Change;
use ingot_store::Machine;
use ingot_store::NewEvent;
use ingot_store::StoreError;
use ingot_wire::Params;

/// Who an outcome was heard from: the machine itself (a heartbeat: its deadline moves out and
/// `last_heard` is updated) or an observation of it (its BMC).
pub(crate) enum Heard {
    Machine(String),
    Observed(String),
}

impl Region {
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
    pub(crate) async fn store_results(
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
            self.result_stored(m, &name, st == 2).await?;
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
    pub(crate) async fn failed_parts(&self, m: &Machine, ev: &StatusEvent) -> Result<Vec<String>> {
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
            self.queue_power(m, PowerOp::Off, None, cur);
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
        // Ended DHCP leases leave DNS (the delete raises the serial).
        self.store
            .delete_expired_leases(ingot_store::now_ms())
            .await?;
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
                    self.deadline_expiries
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    n += 1;
                }
                Err(StoreError::Conflict) => {} // it moved on its own, or another region reaped it
                Err(e) => return Err(e.into()),
            }
        }
        Ok(n)
    }
}
