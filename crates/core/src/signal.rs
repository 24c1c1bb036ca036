//! What a machine says about itself over the metadata API, and what follows from it:
//! `op=signal` (spec §3.3), cloud-init/curtin status events (spec §3.1) and deadline expiry.

use crate::actions::{ActionError, MachineFacts, OwnerChange};
use crate::status::Status::{self, *};
use crate::transitions::{can_transition, release_target};

/// The `status` field of `op=signal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalStatus {
    Ok,
    Failed,
    Working,
    Commissioning,
    Testing,
    Timedout,
    Installing,
    ApplyingNetconf,
    Releasing,
    Deploying,
}

impl SignalStatus {
    pub fn parse(s: &str) -> Result<SignalStatus, String> {
        Ok(match s {
            "OK" => SignalStatus::Ok,
            "FAILED" => SignalStatus::Failed,
            "WORKING" => SignalStatus::Working,
            "COMMISSIONING" => SignalStatus::Commissioning,
            "TESTING" => SignalStatus::Testing,
            "TIMEDOUT" => SignalStatus::Timedout,
            "INSTALLING" => SignalStatus::Installing,
            "APPLYING_NETCONF" => SignalStatus::ApplyingNetconf,
            "RELEASING" => SignalStatus::Releasing,
            "DEPLOYING" => SignalStatus::Deploying,
            other => return Err(format!("Unknown status: '{other}'")),
        })
    }
    /// The machine's run is over (it ends with one of these).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            SignalStatus::Ok | SignalStatus::Failed | SignalStatus::Timedout
        )
    }
    pub fn as_str(self) -> &'static str {
        match self {
            SignalStatus::Ok => "OK",
            SignalStatus::Failed => "FAILED",
            SignalStatus::Working => "WORKING",
            SignalStatus::Commissioning => "COMMISSIONING",
            SignalStatus::Testing => "TESTING",
            SignalStatus::Timedout => "TIMEDOUT",
            SignalStatus::Installing => "INSTALLING",
            SignalStatus::ApplyingNetconf => "APPLYING_NETCONF",
            SignalStatus::Releasing => "RELEASING",
            SignalStatus::Deploying => "DEPLOYING",
        }
    }
}

/// Which set of script results a signal's uploads belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResultSet {
    Commissioning,
    Testing,
    Installation,
    Release,
}

impl ResultSet {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultSet::Commissioning => "commissioning",
            ResultSet::Testing => "testing",
            ResultSet::Installation => "installation",
            ResultSet::Release => "release",
        }
    }
    pub fn parse(s: &str) -> Option<ResultSet> {
        match s {
            "commissioning" => Some(ResultSet::Commissioning),
            "testing" => Some(ResultSet::Testing),
            "installation" => Some(ResultSet::Installation),
            "release" => Some(ResultSet::Release),
            _ => None,
        }
    }
}

/// What to do after a machine reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Statuses to walk (empty: unchanged).
    pub steps: Vec<Status>,
    pub owner: OwnerChange,
    /// Where uploaded results are stored (None: nowhere).
    pub results: Option<ResultSet>,
    /// Mark the commissioning set as passed (true) or failed (false).
    pub commissioning_passed: Option<bool>,
    pub clear_enlisting: bool,
    pub netboot: Option<bool>,
    pub abort_results: bool,
    /// Power the machine off (release finished).
    pub power_off: bool,
    pub clear_deployment: bool,
    pub error_description: Option<String>,
}

impl Default for Outcome {
    fn default() -> Outcome {
        Outcome::none()
    }
}

impl Outcome {
    fn none() -> Outcome {
        Outcome {
            steps: Vec::new(),
            owner: OwnerChange::Keep,
            results: None,
            commissioning_passed: None,
            clear_enlisting: false,
            netboot: None,
            abort_results: false,
            power_off: false,
            clear_deployment: false,
            error_description: None,
        }
    }
    fn to(mut self, s: Status) -> Outcome {
        self.steps = vec![s];
        self
    }
    fn failed(mut self, s: Status, why: String) -> Outcome {
        self.steps = vec![s];
        self.abort_results = true;
        self.error_description = Some(why);
        self
    }
}

/// Facts a signal needs beyond the machine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalContext {
    /// The machine was created by anonymous enlistment: commissioning ends in NEW.
    pub enlisting: bool,
    /// A result of the current set (including this signal's uploads) failed.
    pub any_result_failed: bool,
    /// A result of the current set is still pending or running.
    pub any_result_unfinished: bool,
    /// `error` field of the signal.
    pub error: Option<String>,
}

fn finish_release(facts: &MachineFacts, passed: bool) -> Outcome {
    let mut o = Outcome::none();
    // The signal's uploads (and the check that the erase passed) belong to the release set.
    o.results = Some(ResultSet::Release);
    let target = release_target(passed);
    o.steps = if can_transition(facts.status, target) {
        vec![target]
    } else {
        vec![Releasing, target]
    };
    o.owner = OwnerChange::Clear;
    o.power_off = true;
    o.clear_deployment = true;
    o
}

/// Plan the effect of `op=signal` with `status` on a machine.
pub fn plan_signal(
    facts: &MachineFacts,
    status: SignalStatus,
    ctx: &SignalContext,
) -> Result<Outcome, ActionError> {
    use SignalStatus as S;
    let mut o = Outcome::none();
    let why = |default: &str| {
        ctx.error
            .clone()
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| default.to_string())
    };
    Ok(match facts.status {
        New => {
            if status == S::Commissioning {
                o.results = Some(ResultSet::Commissioning);
                o.netboot = Some(true);
                o.to(Commissioning)
            } else {
                o
            }
        }
        Commissioning => {
            o.results = Some(ResultSet::Commissioning);
            // However an enlistment's run ends, the mark goes with it.
            o.clear_enlisting = ctx.enlisting && status.is_final();
            match status {
                S::Ok | S::Testing if ctx.any_result_failed => {
                    o.commissioning_passed = Some(false);
                    o.owner = OwnerChange::Clear;
                    o.failed(FailedCommissioning, why("A commissioning script failed."))
                }
                S::Ok => {
                    o.commissioning_passed = Some(true);
                    o.owner = OwnerChange::Clear;
                    o.to(if ctx.enlisting { New } else { Ready })
                }
                S::Testing => {
                    o.commissioning_passed = Some(true);
                    o.to(Testing)
                }
                S::Failed | S::Timedout => {
                    o.commissioning_passed = Some(false);
                    o.owner = OwnerChange::Clear;
                    o.failed(FailedCommissioning, why("Commissioning failed."))
                }
                _ => o,
            }
        }
        Deployed => {
            // A deployed machine (brown-field or hardware sync) only uploads results; its
            // status never changes by a signal.
            o.results = Some(ResultSet::Commissioning);
            o
        }
        Testing => {
            o.results = Some(ResultSet::Testing);
            o.clear_enlisting = ctx.enlisting && status.is_final();
            match status {
                S::Ok if ctx.any_result_failed => o.failed(FailedTesting, why("A test failed.")),
                S::Ok => {
                    let back = crate::actions::status_after_testing(facts, ctx.enlisting);
                    o.to(back)
                }
                S::Failed | S::Timedout => o.failed(FailedTesting, why("Testing failed.")),
                _ => o,
            }
        }
        Deploying => {
            o.results = Some(ResultSet::Installation);
            match status {
                S::Failed | S::Timedout => o.failed(
                    FailedDeployment,
                    why("Installation failed (reported by the machine)."),
                ),
                S::Ok => {
                    // The installer finished; the installed OS still has to report back.
                    o.netboot = Some(false);
                    o
                }
                _ => o,
            }
        }
        DiskErasing => {
            o.results = Some(ResultSet::Release);
            match status {
                // OK only counts when every erase script passed: an erase that did not run
                // did not erase anything.
                S::Ok if ctx.any_result_failed || ctx.any_result_unfinished => o.failed(
                    FailedDiskErasing,
                    why("Disk erasing reported OK before its erase script passed."),
                ),
                S::Ok => finish_release(facts, facts.commissioning_passed),
                S::Failed | S::Timedout => o.failed(FailedDiskErasing, why("Disk erasing failed.")),
                _ => o,
            }
        }
        Releasing => {
            o.results = Some(ResultSet::Release);
            match status {
                S::Ok => finish_release(facts, facts.commissioning_passed),
                S::Failed | S::Timedout => o.failed(FailedReleasing, why("Releasing failed.")),
                _ => o,
            }
        }
        EnteringRescueMode => match status {
            S::Ok | S::Working => o.to(RescueMode),
            S::Failed | S::Timedout => o.failed(
                FailedEnteringRescueMode,
                why("Failed to enter rescue mode."),
            ),
            _ => o,
        },
        RescueMode => {
            o.results = Some(ResultSet::Testing);
            o
        }
        Missing | Retired | Reserved => {
            return Err(ActionError::WrongStatus(format!(
                "Machine status isn't valid (status is {}).",
                facts.status.label()
            )))
        }
        // Other signalable statuses: accepted, nothing changes.
        _ => o,
    })
}

/// A cloud-init / curtin reporting event posted to `status/{system_id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEvent {
    /// start | progress | finish
    pub event_type: String,
    pub origin: String,
    /// Slash-separated; top-level names (no '/') drive status.
    pub name: String,
    pub description: String,
    /// SUCCESS | FAIL | WARN (finish events)
    pub result: Option<String>,
}

impl StatusEvent {
    pub fn is_top_level(&self) -> bool {
        !self.name.contains('/')
    }
    fn failed(&self) -> bool {
        self.result.as_deref() == Some("FAIL")
    }
    fn finished_ok(&self, name: &str) -> bool {
        self.event_type == "finish"
            && self.name == name
            && self.result.as_deref() == Some("SUCCESS")
    }
}

/// Plan the effect of a status event. `failed_parts` names the parts of a failed stage that
/// reported their own failure before it (cloud-init's modules, `config-scripts-user` for a
/// failing user-data script), so that the machine's error says which.
pub fn plan_status_event(
    facts: &MachineFacts,
    ev: &StatusEvent,
    failed_parts: &[String],
) -> Outcome {
    let o = Outcome::none();
    let top_fail = ev.event_type == "finish" && ev.is_top_level() && ev.failed();
    let parts = if failed_parts.is_empty() {
        String::new()
    } else {
        format!(": {} failed", failed_parts.join(", "))
    };
    match facts.status {
        Deploying => {
            if ev.finished_ok("modules-final") {
                let mut o = o.to(Deployed);
                o.netboot = Some(false);
                o
            } else if top_fail {
                o.failed(
                    FailedDeployment,
                    format!(
                        "Installation failed: {} ({}){parts}",
                        ev.name, ev.description
                    ),
                )
            } else {
                o
            }
        }
        DiskErasing | Releasing if ev.finished_ok("modules-final") => {
            finish_release(facts, facts.commissioning_passed)
        }
        s if top_fail && s.is_transient() => match s.failed_status() {
            Some(f) => o.failed(
                f,
                format!(
                    "{} failed: {} ({}){parts}",
                    s.label(),
                    ev.name,
                    ev.description
                ),
            ),
            None => o,
        },
        _ => o,
    }
}

/// What happens when a machine's deadline passes: its failed status, with the reason.
pub fn plan_timeout(
    status: Status,
    minutes: i64,
    last_heard: Option<&str>,
) -> Option<(Status, String)> {
    let failed = status.failed_status()?;
    let heard = last_heard
        .filter(|h| !h.is_empty())
        .unwrap_or("nothing heard from the machine");
    Some((
        failed,
        format!(
            "Timed out after {minutes} minute{} in '{}'; last heard: {heard}.",
            if minutes == 1 { "" } else { "s" },
            status.label()
        ),
    ))
}

/// What an observed power state does to a machine waiting for one: RELEASING completes when
/// the machine is seen off; EXITING_RESCUE_MODE completes when it is seen off (or on, for a
/// machine going back to DEPLOYED).
pub fn plan_power_observed(facts: &MachineFacts, state: crate::status::PowerState) -> Outcome {
    use crate::status::PowerState as P;
    match (facts.status, state) {
        (Releasing, P::Off) => {
            // Seen off already: finishing the release must not switch it again.
            let mut o = finish_release(facts, facts.commissioning_passed);
            o.power_off = false;
            o
        }
        (ExitingRescueMode, s) => {
            let back = match facts.previous_status {
                Some(prev) if can_transition(ExitingRescueMode, prev) => prev,
                _ => release_target(facts.commissioning_passed),
            };
            let want = if back == Deployed { P::On } else { P::Off };
            if s != want {
                return Outcome::none();
            }
            let mut o = Outcome::none().to(back);
            if back != Deployed {
                o.owner = OwnerChange::Clear;
            }
            o
        }
        _ => Outcome::none(),
    }
}

/// What a failed power operation does to a machine in a transient status: its failed status,
/// with the BMC's error as the reason.
pub fn plan_power_failure(facts: &MachineFacts, error: &str) -> Outcome {
    match facts.status.failed_status() {
        Some(f) => Outcome::none().failed(
            f,
            format!(
                "Power control failed while '{}': {error}",
                facts.status.label()
            ),
        ),
        None => Outcome::none(),
    }
}
