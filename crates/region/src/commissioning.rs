//! Commissioning and testing on the region's side: user scripts (upload, update, delete), the
//! result sets a commission or test run starts with, storing what the machine reports per
//! script (with the inventory and boot-interface hooks), and scripts that overstay their
//! timeout.

use crate::settings::need_admin;
use crate::{facts, FieldErrors, Region, RegionError, Result};
use ingot_core::actions::{Action, ActionOptions};
use ingot_core::inventory;
use ingot_core::scripts::{
    self, finished_status, ResultStatus, ScriptMeta, ScriptType, BUILTINS, CMDLINE_SCRIPT,
    LLDP_SCRIPT, RESOURCES_SCRIPT,
};
use ingot_core::signal::{self, ResultSet, SignalContext, SignalStatus};
use ingot_core::status::Status;
use ingot_store::commissioning::{NewResult, ScriptRow};
use ingot_store::{Change, Machine, NewEvent, ScriptResult, StoreError, Token, User};
use ingot_wire::{FilePart, Params};

/// Inventory documents derived at once (see `Region::post_process`).
static DERIVING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// Largest script text accepted.
pub const MAX_SCRIPT_BYTES: usize = 4 << 20;

/// A script as the API shows it: a built-in or a user script.
#[derive(Debug, Clone)]
pub struct ScriptView {
    pub id: Option<i64>,
    pub meta: ScriptMeta,
    pub builtin: bool,
    pub body: Option<Vec<u8>>,
    pub version: i64,
}

fn builtin_meta(b: &scripts::Builtin) -> ScriptMeta {
    let mut m = ScriptMeta::new(b.name, b.script_type);
    m.title = b.title.to_string();
    m.description = b.description.to_string();
    m.tags = b.tags.iter().map(|t| t.to_string()).collect();
    m.hardware_type = b.hardware_type;
    m.parallel = b.parallel;
    m.timeout = b.timeout;
    m.destructive = b.destructive;
    m
}

fn row_meta(r: &ScriptRow) -> ScriptMeta {
    serde_json::from_value(r.meta.clone()).unwrap_or_else(|_| {
        ScriptMeta::new(
            &r.name,
            ScriptType::from_number(r.script_type).unwrap_or(ScriptType::Testing),
        )
    })
}

/// The script text from the form: a `script` file part, or a `script` field.
fn script_text(p: &Params, files: &[FilePart]) -> Option<Vec<u8>> {
    files
        .iter()
        .find(|f| f.name == "script")
        .map(|f| f.data.clone())
        .or_else(|| p.get_bytes("script").map(|b| b.to_vec()))
}

/// Form fields that override the header, as JSON for `scripts::apply_fields`.
fn form_fields(p: &Params) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    for k in [
        "title",
        "description",
        "tags",
        "type",
        "script_type",
        "hardware_type",
        "parallel",
        "timeout",
        "destructive",
        "may_reboot",
        "recommission",
        "apply_configured_networking",
        "for_hardware",
    ] {
        if let Some(v) = p.get(k) {
            m.insert(k.to_string(), serde_json::Value::String(v.to_string()));
        }
    }
    m
}

fn script_error(e: scripts::ScriptError) -> RegionError {
    RegionError::field(&e.field, e.message)
}

impl Region {
    /// `machines/?op=accept` and `accept_all` (admin): commission the machines given (every
    /// NEW machine when `system_ids` is None), in order; the first refusal stops.
    pub async fn accept_machines(
        &self,
        u: &User,
        system_ids: Option<Vec<String>>,
    ) -> Result<Vec<Machine>> {
        need_admin(u)?;
        let ids = match system_ids {
            Some(ids) => ids,
            None => {
                let f = ingot_store::MachineFilter {
                    statuses: vec![Status::New],
                    ..Default::default()
                };
                self.list_machines(u, f)
                    .await?
                    .into_iter()
                    .map(|m| m.system_id)
                    .collect()
            }
        };
        let mut out = Vec::new();
        for id in ids {
            out.push(
                self.act(u, &id, Action::Commission, &ActionOptions::default(), None)
                    .await?,
            );
        }
        Ok(out)
    }

    /// Built-ins first (name order), then user scripts (name order).
    pub async fn list_scripts(&self) -> Result<Vec<ScriptView>> {
        let mut out: Vec<ScriptView> = BUILTINS
            .iter()
            .map(|b| ScriptView {
                id: None,
                meta: builtin_meta(b),
                builtin: true,
                body: None,
                version: 1,
            })
            .collect();
        for r in self.store.scripts().await? {
            out.push(ScriptView {
                id: Some(r.id),
                meta: row_meta(&r),
                builtin: false,
                body: Some(r.body.clone()),
                version: r.version,
            });
        }
        Ok(out)
    }

    pub async fn get_script(&self, name_or_id: &str) -> Result<ScriptView> {
        if let Some(b) = scripts::builtin(name_or_id) {
            return Ok(ScriptView {
                id: None,
                meta: builtin_meta(b),
                builtin: true,
                body: None,
                version: 1,
            });
        }
        let row = match name_or_id.parse::<i64>() {
            Ok(id) => self.store.script_by_id(id).await?,
            Err(_) => self.store.script_by_name(name_or_id).await?,
        };
        let r =
            row.ok_or_else(|| RegionError::NotFound(format!("No script named '{name_or_id}'.")))?;
        Ok(ScriptView {
            id: Some(r.id),
            meta: row_meta(&r),
            builtin: false,
            body: Some(r.body.clone()),
            version: r.version,
        })
    }

    fn check_script_text(text: &[u8]) -> Result<&str> {
        if text.len() > MAX_SCRIPT_BYTES {
            return Err(RegionError::field(
                "script",
                format!("larger than {MAX_SCRIPT_BYTES} bytes"),
            ));
        }
        std::str::from_utf8(text).map_err(|_| RegionError::field("script", "must be UTF-8 text"))
    }

    /// `POST scripts/` (admin): a `script` (file or field), with `name` and the other metadata
    /// from the form or the script's header.
    pub async fn create_script(
        &self,
        u: &User,
        p: &Params,
        files: &[FilePart],
    ) -> Result<ScriptView> {
        need_admin(u)?;
        let Some(text) = script_text(p, files) else {
            return Err(RegionError::field("script", "This field is required."));
        };
        let s = Self::check_script_text(&text)?;
        let ty = match p.get("type").or(p.get("script_type")) {
            Some(t) => Some(ScriptType::parse(t).ok_or_else(|| {
                RegionError::field(
                    "type",
                    format!("'{t}' is not one of commissioning, testing, release, deployment"),
                )
            })?),
            None => None,
        };
        let mut meta = scripts::parse_script(s, p.get("name"), ty).map_err(script_error)?;
        scripts::apply_fields(&mut meta, &form_fields(p)).map_err(script_error)?;
        if scripts::builtin(&meta.name).is_some() {
            return Err(RegionError::field(
                "name",
                format!("'{}' is the name of a built-in script.", meta.name),
            ));
        }
        let row = self
            .store
            .insert_script(&to_row(0, &meta, text.clone()))
            .await
            .map_err(|e| match e {
                StoreError::Duplicate(m) => RegionError::field("name", m),
                e => e.into(),
            })?;
        Ok(ScriptView {
            id: Some(row.id),
            meta,
            builtin: false,
            body: Some(row.body),
            version: row.version,
        })
    }

    /// `PUT scripts/{name}/` (admin): new text and/or metadata fields.
    pub async fn update_script(
        &self,
        u: &User,
        name: &str,
        p: &Params,
        files: &[FilePart],
    ) -> Result<ScriptView> {
        need_admin(u)?;
        let cur = self.get_script(name).await?;
        let Some(id) = cur.id else {
            return Err(RegionError::Forbidden(format!(
                "'{name}' is a built-in script; it cannot be changed."
            )));
        };
        let body = match script_text(p, files) {
            Some(t) => t,
            None => cur.body.clone().unwrap_or_default(),
        };
        let s = Self::check_script_text(&body)?;
        let mut meta = if script_text(p, files).is_some() {
            scripts::parse_script(s, Some(p.get("name").unwrap_or(&cur.meta.name)), None)
                .map_err(script_error)?
        } else {
            cur.meta.clone()
        };
        if let Some(n) = p.get("name") {
            scripts::check_name(n.trim()).map_err(script_error)?;
            meta.name = n.trim().to_string();
        }
        scripts::apply_fields(&mut meta, &form_fields(p)).map_err(script_error)?;
        if scripts::builtin(&meta.name).is_some() {
            return Err(RegionError::field(
                "name",
                format!("'{}' is the name of a built-in script.", meta.name),
            ));
        }
        self.store
            .update_script(&to_row(id, &meta, body))
            .await
            .map_err(|e| match e {
                StoreError::Duplicate(m) => RegionError::field("name", m),
                e => e.into(),
            })?;
        self.get_script(&id.to_string()).await
    }

    /// `scripts/{name}/` delete (admin; built-in scripts cannot be deleted).
    pub async fn delete_script(&self, u: &User, name: &str) -> Result<()> {
        need_admin(u)?;
        let cur = self.get_script(name).await?;
        let Some(id) = cur.id else {
            return Err(RegionError::Forbidden(format!(
                "'{name}' is a built-in script; it cannot be deleted."
            )));
        };
        Ok(self.store.delete_script(id).await?)
    }

    /// A machine that has just enlisted itself (anonymous create with `commission=true`) runs
    /// the built-in commissioning scripts in the same boot (MAAS runs only built-ins during
    /// enlistment; no tests) and then returns to NEW with its hardware known. Its result set
    /// exists before the agent asks for it; the credentials returned are the ones the agent
    /// reports with (the same trust as the boot script, which hands a known machine's
    /// credentials to whoever boots with its MAC).
    pub(crate) async fn start_enlistment(&self, m: &Machine) -> Result<(Machine, Token)> {
        let p = ingot_core::actions::plan_enlistment(&facts(m))?;
        let builtins_only = ActionOptions {
            commissioning_scripts: Some(Vec::new()),
            testing_scripts: Some(vec!["none".into()]),
            ..Default::default()
        };
        for (set, rows) in self
            .plan_result_sets(Action::Commission, &builtins_only)
            .await?
        {
            self.store
                .start_result_set(m.id, set.as_str(), &rows)
                .await?;
        }
        let extra = Change {
            commissioning_passed: Some(false),
            skip_storage: Some(false),
            ..Default::default()
        };
        self.apply_plan(m, &p, extra, "", Some("enlistment"))
            .await?;
        let token = self.store.ensure_machine_token(m.id).await?;
        Ok((self.after_change(m.id).await?, token))
    }

    /// The result sets a commission or test run starts with (in run order).
    pub(crate) async fn plan_result_sets(
        &self,
        action: Action,
        opts: &ActionOptions,
    ) -> Result<Vec<(ResultSet, Vec<NewResult>)>> {
        let all = self.list_scripts().await?;
        let of = |t: ScriptType| -> Vec<&ScriptView> {
            let mut v: Vec<&ScriptView> = all.iter().filter(|s| s.meta.script_type == t).collect();
            v.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
            v
        };
        let row = |s: &ScriptView| NewResult {
            name: s.meta.name.clone(),
            script_id: s.id,
            timeout_secs: i64::try_from(s.meta.timeout).unwrap_or(i64::MAX),
            hardware_type: s.meta.hardware_type.number(),
        };
        // Every name or tag asked for must exist.
        let check = |field: &str, sel: &[String], cands: &[&ScriptView]| -> Result<()> {
            let mut fe = FieldErrors::default();
            for x in sel {
                if x.eq_ignore_ascii_case("none") {
                    continue;
                }
                if !cands
                    .iter()
                    .any(|s| &s.meta.name == x || s.meta.tags.iter().any(|t| t == x))
                {
                    fe.add(field, format!("No script or tag named '{x}'."));
                }
            }
            fe.check()
        };
        let pick = |sel: &[String], cands: &[&ScriptView]| -> Vec<NewResult> {
            let names = scripts::select(
                sel,
                cands
                    .iter()
                    .map(|s| (s.meta.name.as_str(), s.meta.tags.as_slice())),
            );
            cands
                .iter()
                .filter(|s| names.contains(&s.meta.name.as_str()))
                .map(|s| row(s))
                .collect()
        };
        let tests = of(ScriptType::Testing);
        let test_sel = opts
            .testing_scripts
            .clone()
            .unwrap_or_else(|| vec!["commissioning".to_string()]);
        check("testing_scripts", &test_sel, &tests)?;
        let testing = pick(&test_sel, &tests);
        let mut out = Vec::new();
        if action == Action::Commission {
            let comm = of(ScriptType::Commissioning);
            // Built-ins always run; user commissioning scripts: all, or those selected.
            let user: Vec<&ScriptView> = comm.iter().copied().filter(|s| !s.builtin).collect();
            let chosen: Vec<String> = match &opts.commissioning_scripts {
                None => user.iter().map(|s| s.meta.name.clone()).collect(),
                Some(sel) => {
                    check("commissioning_scripts", sel, &user)?;
                    pick(sel, &user).into_iter().map(|r| r.name).collect()
                }
            };
            let rows = comm
                .iter()
                .filter(|s| s.builtin || chosen.contains(&s.meta.name))
                .map(|s| row(s))
                .collect();
            out.push((ResultSet::Commissioning, rows));
        } else if testing.is_empty() {
            return Err(RegionError::field(
                "testing_scripts",
                "No testing scripts were selected.",
            ));
        }
        out.push((ResultSet::Testing, testing));
        Ok(out)
    }

    /// What the machine runs now: the current sets' results, in order, with each user
    /// script's text (the agent's `maas-scripts` index).
    pub async fn scripts_to_run(&self, m: &Machine) -> Result<serde_json::Value> {
        let mut sets = serde_json::Map::new();
        for (key, set) in [
            ("commissioning_scripts", ResultSet::Commissioning),
            ("testing_scripts", ResultSet::Testing),
            ("release_scripts", ResultSet::Release),
        ] {
            if (set == ResultSet::Commissioning && m.status != Status::Commissioning)
                || (set == ResultSet::Release && m.status != Status::DiskErasing)
                || (set == ResultSet::Testing && m.status == Status::DiskErasing)
            {
                sets.insert(key.into(), serde_json::Value::Array(vec![]));
                continue;
            }
            let mut list = Vec::new();
            for r in self.store.results(m.id, Some(set.as_str())).await? {
                let user = match r.script_id {
                    Some(id) => self.store.script_by_id(id).await?,
                    None => None,
                };
                let meta = match (&user, scripts::builtin(&r.name)) {
                    (Some(u), _) => row_meta(u),
                    (None, Some(b)) => builtin_meta(b),
                    (None, None) => continue,
                };
                // Parameter values given when the set started (wipe-disks' erase flags)
                // replace the declarations.
                let mut parameters = meta.parameters.clone();
                if set == ResultSet::Release {
                    let values = self.store.result_parameters(r.id).await?;
                    if values.as_object().is_some_and(|o| !o.is_empty()) {
                        parameters = values;
                    }
                }
                list.push(serde_json::json!({
                    "name": r.name, "script_result_id": r.id, "builtin": user.is_none(),
                    "timeout_seconds": r.timeout_secs, "parallel": meta.parallel.number(),
                    "hardware_type": meta.hardware_type.number(), "may_reboot": meta.may_reboot,
                    "for_hardware": meta.for_hardware, "parameters": parameters,
                    "packages": meta.packages, "tags": meta.tags,
                    "status": ResultStatus::from_number(r.status).map(|s| s.label()),
                    "has_started": r.started.is_some(),
                    "script": user.as_ref().map(|u| String::from_utf8_lossy(&u.body).into_owned()),
                }));
            }
            sets.insert(key.into(), serde_json::Value::Array(list));
        }
        Ok(serde_json::Value::Object(sets))
    }

    /// One script's report (`op=signal` with `script_result_id`): WORKING without an exit
    /// status marks it running; otherwise it is finished with its outputs, and the built-in
    /// hooks run (inventory, boot interface). Returns whether the result failed.
    pub(crate) async fn store_script_result(
        &self,
        m: &Machine,
        result_id: i64,
        status: SignalStatus,
        exit_status: Option<i64>,
        runtime: &str,
        files: &[FilePart],
    ) -> Result<()> {
        let r = self
            .store
            .result_by_id(result_id)
            .await?
            .filter(|r| r.machine_id == m.id)
            .ok_or_else(|| {
                RegionError::field(
                    "script_result_id",
                    format!("No script result {result_id} for this machine."),
                )
            })?;
        let cur = ResultStatus::from_number(r.status).unwrap_or(ResultStatus::Pending);
        let timed_out = status == SignalStatus::Timedout;
        if exit_status.is_none() && !timed_out && files.is_empty() {
            if cur.is_running_or_pending() {
                self.store.result_started(r.id).await?;
            }
            return Ok(());
        }
        if !cur.is_running_or_pending() && m.status != Status::Deployed {
            return Err(RegionError::Conflict(format!(
                "Script '{}' already finished ({}).",
                r.name,
                cur.label()
            )));
        }
        let files = group_files(&r.name, files);
        let mut yaml_status = None;
        if let Some(y) = &files[3] {
            match scripts::result_yaml_status(y) {
                Ok(s) => yaml_status = s,
                Err(e) => {
                    self.store
                        .record_event(
                            m,
                            &NewEvent::error(
                                "Script result",
                                format!("'{}' sent a script result with invalid YAML: {e}", r.name),
                                "",
                            ),
                        )
                        .await?;
                }
            }
        }
        let exit = exit_status.unwrap_or(if timed_out { -1 } else { 0 });
        let mut st = finished_status(cur, exit, timed_out, yaml_status.as_deref());
        if !st.is_failed() && exit == 0 && !self.run_hooks(m, &r.name, files[1].as_deref()).await? {
            st = ResultStatus::Failed;
        }
        self.store
            .result_finished(r.id, st.number(), Some(exit), runtime, files)
            .await?;
        self.result_stored(m, &r.name, st == ResultStatus::Passed)
            .await
    }

    /// A script's result was stored: a passed inventory or LLDP capture changes the node's
    /// hardware details, so the tags decided by definitions are evaluated again for it (after
    /// the result is stored, as the details are read from the stored results).
    pub(crate) async fn result_stored(&self, m: &Machine, name: &str, passed: bool) -> Result<()> {
        if passed && (name == RESOURCES_SCRIPT || name == LLDP_SCRIPT) {
            self.retag_node(m.id).await?;
        }
        Ok(())
    }

    /// The hooks of the built-in commissioning scripts on a passing script's stdout. `false`
    /// (with an event saying why) when the output could not be used: the result then fails.
    pub(crate) async fn run_hooks(
        &self,
        m: &Machine,
        name: &str,
        stdout: Option<&[u8]>,
    ) -> Result<bool> {
        let Err(why) = self.post_process(m, name, stdout).await? else {
            return Ok(true);
        };
        self.store
            .record_event(
                m,
                &NewEvent::error(
                    "Script result",
                    format!("commissioning script '{name}' failed during post-processing: {why}"),
                    "",
                ),
            )
            .await?;
        Ok(false)
    }

    /// The hooks themselves: the inventory (`50-maas-01-commissioning`) and the boot interface
    /// (`maas-kernel-cmdline`). `Ok(Err(why))` when the output could not be used.
    async fn post_process(
        &self,
        m: &Machine,
        name: &str,
        stdout: Option<&[u8]>,
    ) -> Result<std::result::Result<(), String>> {
        let Some(out) = stdout else { return Ok(Ok(())) };
        match name {
            RESOURCES_SCRIPT => {
                // CPU-bound and a few MiB of JSON tree each: a few at a time, off the
                // request threads (which keep accepting and answering meanwhile).
                let derived = {
                    let _turn = DERIVING.acquire().await;
                    let doc = out.to_vec();
                    tokio::task::spawn_blocking(move || inventory::derive(&doc))
                        .await
                        .map_err(|e| RegionError::Unavailable(format!("inventory worker: {e}")))?
                };
                match derived {
                    Ok(inv) => {
                        self.store
                            .apply_inventory(m.id, &inv, m.status != Status::Deployed)
                            .await?;
                        if m.status == Status::Deployed {
                            self.deployed_inventory_taken(m.id).await?;
                        }
                        // A freshly commissioned machine gets the default storage layout so
                        // that it can deploy (not a deployed one: its disks are in use; not
                        // when the commissioning was asked to keep the layout, skip_storage).
                        if m.status != Status::Deployed && !m.skip_storage {
                            let fresh = self.store.machine_by_id(m.id).await?;
                            if let Some(fresh) = fresh {
                                self.apply_default_layout(&fresh).await?;
                            }
                        }
                        Ok(Ok(()))
                    }
                    Err(e) => Ok(Err(e.to_string())),
                }
            }
            CMDLINE_SCRIPT => {
                let text = String::from_utf8_lossy(out);
                if let Some(mac) = inventory::boot_interface_mac(&text) {
                    if !self.store.set_boot_interface(m.id, &mac).await? {
                        tracing::info!(system_id = %m.system_id, %mac, "BOOTIF names a MAC the machine does not have");
                    }
                }
                Ok(Ok(()))
            }
            _ => Ok(Ok(())),
        }
    }

    /// A deployed machine's inventory was taken (register-machine, report-results, hardware
    /// sync): it now has hardware information, so a release takes it to READY (the seed).
    async fn deployed_inventory_taken(&self, machine_id: i64) -> Result<()> {
        self.retrying(|| async {
            let Some(m) = self.store.machine_core(machine_id).await? else {
                return Ok(());
            };
            if m.status != Status::Deployed || m.commissioning_passed {
                return Ok(());
            }
            let c = Change {
                commissioning_passed: Some(true),
                ..Default::default()
            };
            let ev = NewEvent::info(
                "Hardware information",
                "Hardware information uploaded by the running machine",
                "",
            );
            self.store.apply(&m, &c, &[ev]).await?;
            Ok(())
        })
        .await
    }

    /// Scripts past their timeout: TIMEDOUT, and their machine to FAILED_COMMISSIONING /
    /// FAILED_TESTING with the script named in the reason.
    pub(crate) async fn reap_overdue_scripts(&self) -> Result<usize> {
        let mut n = 0;
        for r in self.store.overdue_results(ingot_store::now_ms()).await? {
            self.store
                .result_finished(
                    r.id,
                    ResultStatus::Timedout.number(),
                    None,
                    "",
                    Default::default(),
                )
                .await?;
            let Some(m) = self.store.machine_by_id(r.machine_id).await? else {
                continue;
            };
            if !matches!(m.status, Status::Commissioning | Status::Testing) {
                continue;
            }
            let why = format!(
                "Script '{}' timed out after {} s ({} set).",
                r.name, r.timeout_secs, r.result_set
            );
            let o = signal::plan_signal(
                &facts(&m),
                SignalStatus::Timedout,
                &SignalContext {
                    enlisting: m.enlisting,
                    any_result_failed: true,
                    any_result_unfinished: false,
                    error: Some(why.clone()),
                },
            )?;
            match self
                .apply_outcome(
                    &m,
                    &o,
                    crate::Heard::Observed(why),
                    ingot_store::Change::default(),
                    Vec::new(),
                )
                .await
            {
                Ok(()) => n += 1,
                Err(RegionError::Store(StoreError::Conflict)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    /// Results of a machine for the API (owner, admin).
    pub async fn machine_results(
        &self,
        user: &User,
        system_id: &str,
    ) -> Result<(Machine, Vec<ScriptResult>)> {
        let m = self.machine_for(user, system_id).await?;
        let rs = self.store.results(m.id, None).await?;
        Ok((m, rs))
    }
}

/// A script's uploads: [combined, stdout, stderr, result YAML] from the files named NAME,
/// NAME.out, NAME.err, NAME.yaml (MAAS's runner's names).
fn group_files(name: &str, files: &[FilePart]) -> [Option<Vec<u8>>; 4] {
    let mut out: [Option<Vec<u8>>; 4] = Default::default();
    for f in files {
        let slot = if f.name == name {
            0
        } else if f.name == format!("{name}.out") {
            1
        } else if f.name == format!("{name}.err") {
            2
        } else if f.name == format!("{name}.yaml") {
            3
        } else {
            continue;
        };
        out[slot] = Some(f.data.clone());
    }
    out
}

fn to_row(id: i64, meta: &ScriptMeta, body: Vec<u8>) -> ScriptRow {
    ScriptRow {
        id,
        name: meta.name.clone(),
        title: meta.title.clone(),
        description: meta.description.clone(),
        tags: meta.tags.clone(),
        script_type: meta.script_type.number(),
        hardware_type: meta.hardware_type.number(),
        parallel: meta.parallel.number(),
        timeout: i64::try_from(meta.timeout).unwrap_or(i64::MAX),
        destructive: meta.destructive,
        may_reboot: meta.may_reboot,
        meta: serde_json::to_value(meta).unwrap_or(serde_json::Value::Null),
        body,
        version: 1,
        created: 0,
        updated: 0,
    }
}
