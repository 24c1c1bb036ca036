//! Commissioning and testing (`ingot.purpose=commission|test`): fetch what to run from the
//! region, run it in order (see [`schedule`]), report every script's start and end with its
//! outputs, send a heartbeat while scripts run, then the final status.
//!
//! Every script is a process: a user script is written out and run through its shebang; a
//! built-in is `ingot-agent builtin NAME` (so timeouts, output capture and the environment
//! are the same for both). Each gets the environment MAAS scripts expect:
//! `OUTPUT_COMBINED_PATH`, `OUTPUT_STDOUT_PATH`, `OUTPUT_STDERR_PATH`, `RESULT_PATH`,
//! `DOWNLOAD_PATH` (also its working directory), `RUNTIME`, `HAS_STARTED`,
//! `MAAS_RESOURCES_FILE`, `MAAS_BASE_URL` and `PATH`, on top of the agent's own environment.

pub mod process;
pub mod schedule;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use ingot_core::scripts::{finished_status, result_yaml_status, ResultStatus};

use crate::hardware;
use crate::metadata::{Form, ScriptEntry, ScriptIndex};
use process::{Capture, Exit};

/// `PATH` for scripts.
pub const SCRIPT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What became of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The region took it.
    Taken,
    /// The region answered that something was wrong with it (logged); the run goes on.
    Refused,
    /// The region no longer accepts this machine's token: the run was ended there (aborted,
    /// failed, released) and nothing more can be reported.
    Revoked,
    /// No answer, after every attempt.
    Unreachable,
}

/// Where reports go. The real one is the region's metadata API; tests record the forms.
pub(crate) trait Signaller {
    /// Sends the form (problems are logged by the implementation).
    async fn signal(&self, form: Form) -> Delivery;
}

/// What the runner needs besides the scripts.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Scratch space: `scripts/`, `out/`, `downloads/NAME/`.
    pub work_dir: PathBuf,
    /// `MAAS_RESOURCES_FILE`.
    pub resources_file: PathBuf,
    /// The command that runs a built-in; its name is appended (`ingot-agent ... builtin`).
    pub builtin_command: Vec<OsString>,
    /// More environment for every script (knobs for the built-ins).
    pub extra_env: Vec<(String, String)>,
    /// The region's MAAS root (`MAAS_BASE_URL`).
    pub maas_url: String,
    /// Interval of the `WORKING` heartbeat.
    pub heartbeat: Duration,
    /// For `for_hardware`.
    pub ids: hardware::Ids,
}

/// How one script ended, as the region will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub name: String,
    pub status: ResultStatus,
    /// Human-readable: `exit status 3`, `timed out after 10 s`, `skipped: ...`.
    pub detail: String,
}

fn seconds(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

fn read_or_empty(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_default()
}

/// A script name as a file name (names never hold '/', but be safe).
fn file_name(name: &str) -> String {
    name.replace(['/', '\0'], "_")
}

struct Run<'a, S: Signaller> {
    settings: &'a Settings,
    signaller: &'a S,
    /// The region stopped accepting the token: start nothing more.
    revoked: AtomicBool,
}

impl<S: Signaller> Run<'_, S> {
    async fn send(&self, form: Form) -> Delivery {
        let d = self.signaller.signal(form).await;
        if d == Delivery::Revoked && !self.revoked.swap(true, Ordering::SeqCst) {
            tracing::warn!(
                "the region no longer accepts this machine's token (the run was ended there): \
                 no more scripts are started"
            );
        }
        d
    }

    fn revoked(&self) -> bool {
        self.revoked.load(Ordering::SeqCst)
    }

    fn dirs(&self) -> (PathBuf, PathBuf, PathBuf) {
        let w = &self.settings.work_dir;
        (w.join("scripts"), w.join("out"), w.join("downloads"))
    }

    /// Runs the entries of one set in order; returns the outcome of each that ran.
    async fn run_set(&self, entries: &[ScriptEntry]) -> Vec<Outcome> {
        let wanted: Vec<&ScriptEntry> = entries
            .iter()
            .filter(|e| {
                if !e.wanted() {
                    tracing::info!(script = %e.name, status = ?e.status, "already finished; not run again");
                }
                e.wanted()
            })
            .collect();
        let outcomes = Mutex::new(Vec::new());
        for group in schedule::plan(wanted.iter().map(|e| (e.name.as_str(), e.parallel))) {
            let (wanted, outcomes) = (&wanted, &outcomes);
            let lanes = group.lanes.iter().map(|lane| async move {
                for i in lane {
                    if self.revoked() {
                        break;
                    }
                    if let Some(e) = wanted.get(*i) {
                        let o = self.run_one(e).await;
                        tracing::info!(script = %o.name, status = o.status.label(), detail = %o.detail, "script finished");
                        if let Ok(mut v) = outcomes.lock() {
                            v.push((*i, o));
                        }
                    }
                }
            });
            futures::future::join_all(lanes).await;
        }
        let mut v = outcomes.into_inner().unwrap_or_default();
        v.sort_by_key(|(i, _)| *i);
        v.into_iter().map(|(_, o)| o).collect()
    }

    async fn run_one(&self, e: &ScriptEntry) -> Outcome {
        let id = e.script_result_id.to_string();
        let fname = file_name(&e.name);
        if !self.settings.ids.matches(&e.for_hardware) {
            let reason = format!(
                "no hardware of this machine matches for_hardware {:?}",
                e.for_hardware
            );
            let yaml = crate::yaml::to_yaml(&serde_json::json!({
                "status": "skipped", "reason": reason.clone(),
            }));
            let text = format!("Skipped: {reason}\n");
            let form = Form::new("WORKING")
                .field("script_result_id", id)
                .field("exit_status", "0")
                .field("runtime", "0")
                .file(&e.name, text.clone().into_bytes())
                .file(&format!("{}.out", e.name), text.into_bytes())
                .file(&format!("{}.err", e.name), Vec::new())
                .file(&format!("{}.yaml", e.name), yaml.into_bytes());
            self.send(form).await;
            return Outcome {
                name: e.name.clone(),
                status: ResultStatus::Skipped,
                detail: format!("skipped: {reason}"),
            };
        }
        let (scripts, out, downloads) = self.dirs();
        let capture = Capture {
            combined: out.join(&fname),
            stdout: out.join(format!("{fname}.out")),
            stderr: out.join(format!("{fname}.err")),
        };
        let result_path = out.join(format!("{fname}.yaml"));
        let download = downloads.join(&fname);
        let _ = std::fs::remove_file(&result_path);
        let prepared = self.prepare(e, &scripts, &out, &download);
        self.send(Form::new("WORKING").field("script_result_id", id.clone()))
            .await;
        let ran = match prepared {
            Ok(mut cmd) => {
                let timeout = e.timeout();
                // The agent's environment (LD_LIBRARY_PATH in the initramfs, proxies, ...)
                // plus what scripts expect.
                cmd.current_dir(&download)
                    .env("PATH", SCRIPT_PATH)
                    .env(
                        "HOME",
                        std::env::var_os("HOME").unwrap_or_else(|| "/root".into()),
                    )
                    .envs(self.settings.extra_env.iter().map(|(k, v)| (k, v)))
                    .env("OUTPUT_COMBINED_PATH", &capture.combined)
                    .env("OUTPUT_STDOUT_PATH", &capture.stdout)
                    .env("OUTPUT_STDERR_PATH", &capture.stderr)
                    .env("RESULT_PATH", &result_path)
                    .env("DOWNLOAD_PATH", &download)
                    .env(
                        "RUNTIME",
                        timeout.map(|t| t.as_secs()).unwrap_or(0).to_string(),
                    )
                    .env("HAS_STARTED", if e.has_started { "True" } else { "False" })
                    .env("MAAS_RESOURCES_FILE", &self.settings.resources_file)
                    .env("MAAS_BASE_URL", &self.settings.maas_url);
                tracing::info!(script = %e.name, builtin = e.builtin, timeout = ?timeout, "running");
                process::run(cmd, &capture, timeout).await
            }
            Err(why) => {
                let msg = format!("{why}\n");
                for p in [&capture.combined, &capture.stderr] {
                    let _ = std::fs::write(p, &msg);
                }
                let _ = std::fs::write(&capture.stdout, "");
                process::Ran {
                    exit: Exit::NotStarted(why),
                    runtime: Duration::ZERO,
                }
            }
        };
        let yaml = std::fs::read(&result_path).ok();
        let mut form = match &ran.exit {
            Exit::TimedOut => Form::new("TIMEDOUT").field("script_result_id", id).field(
                "error",
                format!(
                    "Script '{}' timed out after {} s.",
                    e.name,
                    e.timeout().map(|t| t.as_secs()).unwrap_or(0)
                ),
            ),
            Exit::Code(c) => Form::new("WORKING")
                .field("script_result_id", id)
                .field("exit_status", c.to_string()),
            Exit::NotStarted(_) => Form::new("WORKING")
                .field("script_result_id", id)
                .field("exit_status", "127"),
        }
        .field("runtime", seconds(ran.runtime))
        .file(&e.name, read_or_empty(&capture.combined))
        .file(&format!("{}.out", e.name), read_or_empty(&capture.stdout))
        .file(&format!("{}.err", e.name), read_or_empty(&capture.stderr));
        if let Some(y) = &yaml {
            form = form.file(&format!("{}.yaml", e.name), y.clone());
        }
        self.send(form).await;
        let yaml_status = yaml
            .as_deref()
            .and_then(|y| result_yaml_status(y).ok().flatten());
        let (code, timed_out, detail) = match &ran.exit {
            Exit::Code(c) => (i64::from(*c), false, format!("exit status {c}")),
            Exit::TimedOut => (
                -1,
                true,
                format!(
                    "timed out after {} s",
                    e.timeout().map(|t| t.as_secs()).unwrap_or(0)
                ),
            ),
            Exit::NotStarted(why) => (127, false, why.clone()),
        };
        let status = finished_status(
            ResultStatus::Running,
            code,
            timed_out,
            yaml_status.as_deref(),
        );
        Outcome {
            name: e.name.clone(),
            status,
            detail,
        }
    }

    /// The command for `e`, with its download directory made and, for a user script, its
    /// text written out (mode 0755).
    fn prepare(
        &self,
        e: &ScriptEntry,
        scripts: &Path,
        out: &Path,
        download: &Path,
    ) -> Result<tokio::process::Command, String> {
        for d in [scripts, out, download] {
            std::fs::create_dir_all(d)
                .map_err(|err| format!("cannot create {}: {err}", d.display()))?;
        }
        if e.builtin {
            if !crate::builtins::implemented(&e.name) {
                return Err(format!(
                    "ingot-agent has no built-in script named '{}'",
                    e.name
                ));
            }
            let (prog, args) = self
                .settings
                .builtin_command
                .split_first()
                .ok_or("no command to run built-ins with")?;
            let mut cmd = tokio::process::Command::new(prog);
            cmd.args(args)
                .arg(&e.name)
                .args(builtin_args(&e.parameters));
            return Ok(cmd);
        }
        let text = e
            .script
            .as_deref()
            .ok_or_else(|| format!("the region sent no text for user script '{}'", e.name))?;
        if !e.packages.is_null() && e.packages != serde_json::json!({}) {
            tracing::warn!(script = %e.name, packages = %e.packages, "the ephemeral environment installs no packages");
        }
        let path = scripts.join(file_name(&e.name));
        write_executable(&path, text.as_bytes())
            .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
        Ok(tokio::process::Command::new(path))
    }
}

/// A built-in's parameters as arguments, as MAAS passes them to scripts: a true boolean is
/// `--name-with-dashes`, a false one nothing, anything else `--name=value`. The index gives
/// each parameter as `{"type": ..., "value": ...}` (or the bare value).
pub(crate) fn builtin_args(parameters: &serde_json::Value) -> Vec<String> {
    let Some(m) = parameters.as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, p) in m {
        let v = p.get("value").unwrap_or(p);
        let flag = format!("--{}", name.replace('_', "-"));
        match v {
            serde_json::Value::Bool(true) => out.push(flag),
            serde_json::Value::Bool(false) | serde_json::Value::Null => {}
            serde_json::Value::String(s) => out.push(format!("{flag}={s}")),
            other => out.push(format!("{flag}={other}")),
        }
    }
    out
}

fn write_executable(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o755)
        .open(path)?;
    f.write_all(data)?;
    f.sync_all()?;
    // The umask may have taken bits away.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

/// `a (exit status 3), b (timed out after 10 s)`.
fn describe_failures(outcomes: &[Outcome]) -> Option<String> {
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| o.status.is_failed())
        .map(|o| format!("'{}' ({})", o.name, o.detail))
        .collect();
    (!failed.is_empty()).then(|| failed.join(", "))
}

/// What the run ended with (what the final signal said).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub commissioning: Vec<Outcome>,
    pub testing: Vec<Outcome>,
    /// `OK` or `FAILED`.
    pub final_status: String,
    pub error: Option<String>,
    /// What became of the final signal (None: not sent, the token was revoked before).
    pub delivery: Option<Delivery>,
    /// The region stopped accepting the machine's token during the run.
    pub revoked: bool,
}

/// `WORKING` without a script every `every`, for ever (dropped when the scripts are done).
async fn heartbeat<S: Signaller>(run: &Run<'_, S>, every: Duration) -> std::convert::Infallible {
    loop {
        tokio::time::sleep(every).await;
        run.send(Form::new("WORKING")).await;
    }
}

/// Runs `index` for `purpose` (`commission` or `test`) and sends the final status.
pub(crate) async fn run<S: Signaller>(
    purpose: &str,
    index: &ScriptIndex,
    settings: &Settings,
    signaller: &S,
) -> Summary {
    let r = Run {
        settings,
        signaller,
        revoked: AtomicBool::new(false),
    };
    let work = async {
        let mut commissioning = Vec::new();
        if purpose == "erase" {
            // Disk erasure: whatever the region lists (the wipe-disks built-in, under
            // `release_scripts`), in one set. Nothing listed is a failure, not an erased disk.
            let all: Vec<ScriptEntry> = index
                .release_scripts
                .iter()
                .chain(&index.commissioning_scripts)
                .chain(&index.testing_scripts)
                .cloned()
                .collect();
            if all.is_empty() {
                return (
                    Vec::new(),
                    Vec::new(),
                    "FAILED",
                    Some("Failed to erase disks: the region listed no erase script.".into()),
                );
            }
            let done = r.run_set(&all).await;
            return match describe_failures(&done) {
                Some(f) => (
                    done,
                    Vec::new(),
                    "FAILED",
                    Some(format!("Failed to erase disks: {f}.")),
                ),
                None => (done, Vec::new(), "OK", None),
            };
        }
        if purpose == "commission" {
            commissioning = r.run_set(&index.commissioning_scripts).await;
            if let Some(f) = describe_failures(&commissioning) {
                return (
                    commissioning,
                    Vec::new(),
                    "FAILED",
                    Some(format!("Commissioning script(s) failed: {f}.")),
                );
            }
            if index.testing_scripts.is_empty() || r.revoked() {
                return (commissioning, Vec::new(), "OK", None);
            }
            r.send(Form::new("TESTING")).await;
        }
        let testing = r.run_set(&index.testing_scripts).await;
        match describe_failures(&testing) {
            Some(f) => (
                commissioning,
                testing,
                "FAILED",
                Some(format!("Test(s) failed: {f}.")),
            ),
            None => (commissioning, testing, "OK", None),
        }
    };
    let (commissioning, testing, final_status, error) = match futures::future::select(
        std::pin::pin!(work),
        std::pin::pin!(heartbeat(&r, settings.heartbeat)),
    )
    .await
    {
        futures::future::Either::Left((x, _)) => x,
        futures::future::Either::Right((never, _)) => match never {},
    };
    let delivery = if r.revoked() {
        None
    } else {
        let mut form = Form::new(final_status);
        if let Some(e) = &error {
            form = form.field("error", e.clone());
        }
        Some(r.send(form).await)
    };
    Summary {
        commissioning,
        testing,
        final_status: final_status.to_string(),
        error,
        delivery,
        revoked: r.revoked(),
    }
}

#[cfg(test)]
mod tests;
