//! User actions on a machine: who may run them, from which statuses, and what they do.
//!
//! [`plan`] is a pure function from (action, machine facts, actor) to a [`Plan`]: the status
//! path to walk (every step checked against the transition table), the owner change, the power
//! operation to ask of the driver and the fields to clear. The region applies a plan in one
//! database transaction together with one event per step.

use crate::status::Status::{self, *};
use crate::transitions::{can_transition, release_target};
use std::fmt;

/// Every action the API exposes on a single machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Commission,
    Test,
    Abort,
    Allocate,
    Deploy,
    Release,
    MarkBroken,
    MarkFixed,
    RescueMode,
    ExitRescueMode,
    Lock,
    Unlock,
    OverrideFailedTesting,
    PowerOn,
    PowerOff,
    QueryPowerState,
    SetWorkloadAnnotations,
    Update,
    Delete,
    GetToken,
}

impl Action {
    pub const ALL: [Action; 20] = [
        Action::Commission,
        Action::Test,
        Action::Abort,
        Action::Allocate,
        Action::Deploy,
        Action::Release,
        Action::MarkBroken,
        Action::MarkFixed,
        Action::RescueMode,
        Action::ExitRescueMode,
        Action::Lock,
        Action::Unlock,
        Action::OverrideFailedTesting,
        Action::PowerOn,
        Action::PowerOff,
        Action::QueryPowerState,
        Action::SetWorkloadAnnotations,
        Action::Update,
        Action::Delete,
        Action::GetToken,
    ];

    /// The MAAS `op=` name.
    pub fn op(self) -> &'static str {
        match self {
            Action::Commission => "commission",
            Action::Test => "test",
            Action::Abort => "abort",
            Action::Allocate => "allocate",
            Action::Deploy => "deploy",
            Action::Release => "release",
            Action::MarkBroken => "mark_broken",
            Action::MarkFixed => "mark_fixed",
            Action::RescueMode => "rescue_mode",
            Action::ExitRescueMode => "exit_rescue_mode",
            Action::Lock => "lock",
            Action::Unlock => "unlock",
            Action::OverrideFailedTesting => "override_failed_testing",
            Action::PowerOn => "power_on",
            Action::PowerOff => "power_off",
            Action::QueryPowerState => "query_power_state",
            Action::SetWorkloadAnnotations => "set_workload_annotations",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::GetToken => "get_token",
        }
    }

    /// The permission an action needs.
    pub fn permission(self) -> Permission {
        match self {
            Action::Commission
            | Action::Test
            | Action::MarkFixed
            | Action::RescueMode
            | Action::ExitRescueMode
            | Action::OverrideFailedTesting
            | Action::Delete => Permission::Admin,
            Action::Lock | Action::Unlock => Permission::Lock,
            Action::QueryPowerState => Permission::View,
            Action::GetToken => Permission::Owner,
            _ => Permission::Edit,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.op())
    }
}

/// Permission levels (MAAS NodePermission, simplified to what the API checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// See the machine: admins, and everyone for unowned or own machines.
    View,
    /// Change the machine: admins, or a user on an unowned or own machine; refused when locked.
    Edit,
    /// Admins only; refused when locked.
    Admin,
    /// Lock / unlock: admins or the owner.
    Lock,
    /// Read or regenerate the machine's credentials: its owner only; an administrator only
    /// while the machine has no owner (the seed: anonymous and non-owner users may not).
    Owner,
}

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user_id: i64,
    pub is_admin: bool,
}

/// What the planner needs to know about a machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineFacts {
    pub status: Status,
    pub previous_status: Option<Status>,
    pub locked: bool,
    pub owner_id: Option<i64>,
    /// The current commissioning results exist and all passed.
    pub commissioning_passed: bool,
    /// An OS is recorded as installed (osystem non-empty).
    pub has_osystem: bool,
    /// A power type is configured.
    pub has_power_type: bool,
    /// The power driver can switch and query the machine (false for `manual`): when false,
    /// flows that wait for a power state complete at once.
    pub power_controllable: bool,
    /// The machine has a physical interface with a MAC address: without one it cannot be
    /// recognised when it network-boots (a brown-field machine added without a MAC).
    pub has_mac: bool,
}

/// Options some actions take.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionOptions {
    /// Release: erase disks on release.
    pub erase: bool,
    /// Release with erase: `wipe-disks`' `secure_erase` (None: not given; the region applies
    /// the `disk_erase_with_secure_erase` setting).
    pub secure_erase: Option<bool>,
    /// Release with erase: `wipe-disks`' `quick_erase` (None: not given; the region applies
    /// the `disk_erase_with_quick_erase` setting).
    pub quick_erase: Option<bool>,
    /// A comment recorded with the event (and as error_description for mark_broken).
    pub comment: Option<String>,
    /// power_off: ask the OS to shut down (ACPI) instead of cutting the power.
    pub soft: bool,
    /// commission: which user commissioning scripts to run besides the built-ins (names or
    /// tags); None = none.
    pub commissioning_scripts: Option<Vec<String>>,
    /// commission / test: which tests to run (names or tags; `none` = none); None = the
    /// default (tests tagged `commissioning` when commissioning).
    pub testing_scripts: Option<Vec<String>>,
    /// commission: keep the machine's storage configuration instead of applying the default
    /// layout to the new inventory.
    pub skip_storage: bool,
}

/// A power operation for the driver. `netboot` says how the next boot goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerOp {
    /// Ensure on; never cycles a running machine.
    On,
    Off,
    /// Soft (ACPI) power off: the OS shuts itself down.
    SoftOff,
    /// Explicit reset/cycle (used to boot into the ephemeral environment).
    Cycle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerChange {
    Keep,
    Set(i64),
    Clear,
}

/// The outcome of planning an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub action: Action,
    /// Statuses to pass through, in order (empty: the status does not change). Every step
    /// is a valid transition from the one before it.
    pub steps: Vec<Status>,
    pub owner: OwnerChange,
    pub power: Option<PowerOp>,
    /// Set the machine's netboot flag.
    pub netboot: Option<bool>,
    /// Clear the deployment fields (osystem, distro_series, hwe_kernel, agent_name, user_data).
    pub clear_deployment: bool,
    /// Mark pending/running script results as aborted.
    pub abort_results: bool,
    pub locked: Option<bool>,
    /// Set (Some(text)) or clear (Some("")) error_description.
    pub error_description: Option<String>,
    /// Mark the commissioning as an enlistment (Some(true): it ends in NEW) or clear the mark
    /// (Some(false): an administrator's commission ends in READY, whatever came before).
    pub enlisting: Option<bool>,
}

impl Plan {
    fn new(action: Action) -> Plan {
        Plan {
            action,
            steps: Vec::new(),
            owner: OwnerChange::Keep,
            power: None,
            netboot: None,
            clear_deployment: false,
            abort_results: false,
            locked: None,
            error_description: None,
            enlisting: None,
        }
    }

    /// Whether carrying the plan out powers the machine on to boot from the network (so a
    /// rack must be answering DHCP where it boots): a power-on or cycle, with netboot as the
    /// plan sets it, else as the machine has it (`machine_netboot`).
    pub fn boots_from_network(&self, machine_netboot: bool) -> bool {
        matches!(self.power, Some(PowerOp::On | PowerOp::Cycle))
            && self.netboot.unwrap_or(machine_netboot)
    }

    /// The status the machine ends in, given where it starts.
    pub fn final_status(&self, from: Status) -> Status {
        self.steps.last().copied().unwrap_or(from)
    }

    /// The owner the machine ends with, applying MAAS's rule that moving to NEW or READY
    /// clears the owner.
    pub fn final_owner(&self, from_status: Status, current: Option<i64>) -> Option<i64> {
        let owner = match self.owner {
            OwnerChange::Keep => current,
            OwnerChange::Set(u) => Some(u),
            OwnerChange::Clear => None,
        };
        let fin = self.final_status(from_status);
        if fin != from_status && matches!(fin, New | Ready) {
            None
        } else {
            owner
        }
    }
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The actor may not do this (not theirs, not an administrator, locked).
    #[error("{0}")]
    NotPermitted(String),
    /// The machine's status does not allow it now; the message names the status.
    #[error("{0}")]
    WrongStatus(String),
    /// What was asked makes no sense for this machine (bad options).
    #[error("{0}")]
    Invalid(String),
}

/// Whether `actor` may see the machine at all.
pub fn can_view(facts: &MachineFacts, actor: Actor) -> bool {
    owner_lets_view(facts.owner_id, actor)
}

/// Whether a machine with this owner is visible to `actor`: administrators see every
/// machine, users the unowned ones and their own.
pub fn owner_lets_view(owner_id: Option<i64>, actor: Actor) -> bool {
    actor.is_admin || owner_id.is_none() || owner_id == Some(actor.user_id)
}

/// Check `perm` for `actor` on the machine.
pub fn check_permission(
    facts: &MachineFacts,
    actor: Actor,
    perm: Permission,
) -> Result<(), ActionError> {
    if !can_view(facts, actor) {
        return Err(ActionError::NotPermitted(
            "You do not have permission to access this machine.".into(),
        ));
    }
    let owner_or_admin = actor.is_admin || facts.owner_id == Some(actor.user_id);
    match perm {
        Permission::View => Ok(()),
        Permission::Lock => {
            if owner_or_admin {
                Ok(())
            } else {
                Err(ActionError::NotPermitted(
                    "Only the owner or an administrator can lock or unlock this machine.".into(),
                ))
            }
        }
        Permission::Owner => {
            let allowed = match facts.owner_id {
                Some(owner) => owner == actor.user_id,
                None => actor.is_admin,
            };
            if allowed {
                Ok(())
            } else {
                Err(ActionError::NotPermitted(
                    "Only the machine's owner can read or regenerate its credentials.".into(),
                ))
            }
        }
        Permission::Edit | Permission::Admin => {
            if facts.locked {
                return Err(ActionError::NotPermitted(
                    "Machine is locked: unlock it first.".into(),
                ));
            }
            if perm == Permission::Admin && !actor.is_admin {
                return Err(ActionError::NotPermitted(
                    "This action needs administrator rights.".into(),
                ));
            }
            Ok(())
        }
    }
}

fn conflict(what: &str, s: Status) -> ActionError {
    ActionError::WrongStatus(format!("{what} in its current state ('{}').", s.label()))
}

/// Statuses `test` may start from.
pub const TEST_FROM: &[Status] = &[
    FailedCommissioning,
    New,
    Ready,
    Reserved,
    Allocated,
    FailedDeployment,
    Deployed,
    Missing,
    Retired,
    Broken,
    RescueMode,
    FailedReleasing,
    FailedDiskErasing,
    FailedEnteringRescueMode,
    FailedExitingRescueMode,
    FailedTesting,
];

/// Statuses `rescue_mode` may start from.
pub const RESCUE_FROM: &[Status] = &[
    New,
    FailedCommissioning,
    Ready,
    Reserved,
    Allocated,
    FailedDeployment,
    Deployed,
    Missing,
    Retired,
    Broken,
    FailedDiskErasing,
    FailedEnteringRescueMode,
    FailedTesting,
];

/// Statuses `exit_rescue_mode` may start from.
pub const EXIT_RESCUE_FROM: &[Status] = &[
    RescueMode,
    EnteringRescueMode,
    FailedEnteringRescueMode,
    FailedExitingRescueMode,
];

/// Statuses `mark_broken` may start from.
pub const MARK_BROKEN_FROM: &[Status] = &[
    New,
    Commissioning,
    Ready,
    Allocated,
    Releasing,
    Deploying,
    Deployed,
    DiskErasing,
    Testing,
    FailedCommissioning,
    FailedDeployment,
    FailedReleasing,
    FailedDiskErasing,
    FailedEnteringRescueMode,
    FailedExitingRescueMode,
    FailedTesting,
];

/// Where a machine goes back to after a test run passes or is aborted (spec §1.4 "test").
pub fn status_after_testing(facts: &MachineFacts, enlisting: bool) -> Status {
    if enlisting {
        return New;
    }
    match facts.previous_status {
        Some(FailedCommissioning) | None => release_target(facts.commissioning_passed),
        Some(p) if crate::transitions::TESTING_RESET_TO_READY.contains(&p) => Ready,
        Some(p) if can_transition(Testing, p) => p,
        Some(_) => release_target(facts.commissioning_passed),
    }
}

/// A machine that has just enlisted itself runs the built-in commissioning scripts in the
/// same boot (the seed: "MAAS runs built-in commissioning scripts during the enlistment
/// phase"), then goes back to NEW with its hardware known. Only from NEW; the machine is
/// running, so no power operation; nobody owns it.
pub fn plan_enlistment(facts: &MachineFacts) -> Result<Plan, ActionError> {
    if facts.status != New {
        return Err(conflict("Machine cannot enlist", facts.status));
    }
    let mut p = Plan::new(Action::Commission);
    p.steps = vec![Commissioning];
    p.netboot = Some(true);
    p.error_description = Some(String::new());
    p.enlisting = Some(true);
    Ok(p)
}

/// Where a release ends, as a path from RELEASING.
fn release_path(facts: &MachineFacts) -> Vec<Status> {
    vec![Releasing, release_target(facts.commissioning_passed)]
}

/// Plan `action` on a machine for `actor`. Pure: no IO.
pub fn plan(
    action: Action,
    facts: &MachineFacts,
    actor: Actor,
    opts: &ActionOptions,
) -> Result<Plan, ActionError> {
    check_permission(facts, actor, action.permission())?;
    let s = facts.status;
    let netboots = match action {
        Action::Test | Action::Deploy | Action::RescueMode => true,
        Action::Release => opts.erase && !matches!(s, Ready | Releasing),
        _ => false,
    };
    if netboots && !facts.has_mac {
        // Commissioning is the exception (the seed): it is how the MAC gets known.
        return Err(ActionError::Invalid(format!(
            "The machine has no network interface with a MAC address, and {} needs one to network-boot: add its boot interface's MAC address first.",
            match action {
                Action::Release => "releasing with disk erasure",
                Action::Test => "testing",
                Action::Deploy => "deploying",
                _ => "rescue mode",
            }
        )));
    }
    let mut p = Plan::new(action);
    match action {
        Action::Commission => {
            if !can_transition(s, Commissioning) || matches!(s, Commissioning | Testing) {
                return Err(conflict("Machine cannot be commissioned", s));
            }
            if !facts.has_power_type {
                return Err(ActionError::Invalid(
                    "Unconfigured power type. Please configure the power type and try again."
                        .into(),
                ));
            }
            p.steps = vec![Commissioning];
            p.owner = OwnerChange::Set(actor.user_id);
            p.power = Some(PowerOp::Cycle);
            p.netboot = Some(true);
            p.error_description = Some(String::new());
            // An administrator's commission is never the end of an enlistment.
            p.enlisting = Some(false);
        }
        Action::Test => {
            if !TEST_FROM.contains(&s) {
                return Err(conflict("Machine cannot be tested", s));
            }
            if !facts.has_power_type {
                return Err(ActionError::Invalid(
                    "Unconfigured power type. Please configure the power type and try again."
                        .into(),
                ));
            }
            p.steps = vec![Testing];
            if facts.owner_id.is_none() {
                p.owner = OwnerChange::Set(actor.user_id);
            }
            p.power = Some(PowerOp::Cycle);
            p.netboot = Some(true);
        }
        Action::Abort => {
            p.abort_results = true;
            p.power = Some(PowerOp::Off);
            match s {
                Commissioning => {
                    p.steps = vec![New];
                    p.owner = OwnerChange::Clear;
                }
                Testing => {
                    let back = match facts.previous_status {
                        Some(Commissioning) => Ready,
                        Some(prev) if can_transition(Testing, prev) => prev,
                        _ => release_target(facts.commissioning_passed),
                    };
                    p.steps = vec![back];
                }
                Deploying => p.steps = vec![Allocated],
                DiskErasing => p.steps = vec![FailedDiskErasing],
                _ => return Err(conflict("Cannot abort: the machine is not busy", s)),
            }
        }
        Action::Allocate => {
            if s != Ready {
                return Err(conflict("Machine cannot be allocated", s));
            }
            p.steps = vec![Allocated];
            p.owner = OwnerChange::Set(actor.user_id);
        }
        Action::Deploy => {
            match s {
                Ready => {
                    if facts.owner_id.is_some_and(|o| o != actor.user_id) {
                        return Err(ActionError::WrongStatus(
                            "Can't allocate a machine belonging to another user.".into(),
                        ));
                    }
                    p.steps = vec![Allocated, Deploying];
                    p.owner = OwnerChange::Set(actor.user_id);
                }
                Allocated => p.steps = vec![Deploying],
                _ => {
                    return Err(ActionError::WrongStatus(format!(
                        "Can't deploy a machine that is in the '{}' state.",
                        s.label()
                    )))
                }
            }
            // The machine must boot the installer even if it happens to be running:
            // an explicit cycle (power_on alone never resets a running machine).
            p.power = Some(PowerOp::Cycle);
            p.netboot = Some(true);
            p.error_description = Some(String::new());
        }
        Action::Release => {
            if s == Ready || s == Releasing {
                return Ok(p);
            }
            if !s.is_releasable() {
                return Err(conflict("Machine cannot be released", s));
            }
            p.clear_deployment = true;
            if opts.erase {
                p.steps = vec![DiskErasing];
                p.power = Some(PowerOp::Cycle);
                p.netboot = Some(true);
            } else {
                p.power = Some(PowerOp::Off);
                p.netboot = Some(true);
                if facts.power_controllable {
                    p.steps = vec![Releasing];
                } else {
                    p.steps = release_path(facts);
                    p.owner = OwnerChange::Clear;
                }
            }
        }
        Action::MarkBroken => {
            if !MARK_BROKEN_FROM.contains(&s) {
                return Err(conflict("Machine cannot be marked broken", s));
            }
            if !actor.is_admin && facts.owner_id != Some(actor.user_id) {
                return Err(ActionError::NotPermitted(
                    "Only the owner or an administrator can mark this machine broken.".into(),
                ));
            }
            p.steps = vec![Broken];
            p.error_description = Some(opts.comment.clone().unwrap_or_default());
            if s != Deployed {
                // A deployed machine keeps its owner and OS, so that mark_fixed returns it to
                // DEPLOYED untouched. Anything in flight is stopped.
                if s.is_transient() || s.is_releasable() {
                    p.power = Some(PowerOp::Off);
                }
                if s.is_releasable() || s.is_owned_status() {
                    p.owner = OwnerChange::Clear;
                    p.clear_deployment = true;
                }
                if matches!(s, Commissioning | Testing | Deploying | DiskErasing) {
                    p.abort_results = true;
                }
            }
        }
        Action::MarkFixed => {
            if s != Broken {
                return Err(ActionError::WrongStatus(format!(
                    "Can't mark a non-broken machine as 'Ready' (it is '{}').",
                    s.label()
                )));
            }
            if facts.previous_status == Some(Deployed) {
                p.steps = vec![Deployed];
            } else if facts.commissioning_passed {
                p.steps = vec![Ready];
                p.clear_deployment = true;
            } else {
                return Err(ActionError::WrongStatus(
                    "Machine has not been commissioned successfully ('Broken'): commission it instead of marking it fixed."
                        .into(),
                ));
            }
            p.error_description = Some(String::new());
        }
        Action::RescueMode => {
            if !RESCUE_FROM.contains(&s) {
                return Err(conflict("Machine cannot enter rescue mode", s));
            }
            p.steps = vec![EnteringRescueMode];
            p.power = Some(PowerOp::Cycle);
            p.netboot = Some(true);
        }
        Action::ExitRescueMode => {
            if !EXIT_RESCUE_FROM.contains(&s) {
                return Err(conflict("Machine cannot exit rescue mode", s));
            }
            let back = match facts.previous_status {
                Some(prev) if can_transition(ExitingRescueMode, prev) => prev,
                _ => release_target(facts.commissioning_passed),
            };
            if back == Deployed {
                p.power = Some(PowerOp::Cycle);
                p.netboot = Some(false);
            } else {
                p.power = Some(PowerOp::Off);
            }
            p.steps = if facts.power_controllable {
                vec![ExitingRescueMode]
            } else {
                vec![ExitingRescueMode, back]
            };
        }
        Action::Lock => {
            if facts.locked {
                return Err(ActionError::WrongStatus("Machine is already locked".into()));
            }
            if !matches!(s, Deployed | Deploying) {
                return Err(conflict(
                    "Can't lock: the machine is not deployed or deploying",
                    s,
                ));
            }
            p.locked = Some(true);
        }
        Action::Unlock => {
            if !facts.locked {
                return Err(ActionError::WrongStatus("Machine is not locked".into()));
            }
            p.locked = Some(false);
        }
        Action::OverrideFailedTesting => {
            if s != FailedTesting {
                return Err(conflict("Unable to override failed testing", s));
            }
            p.steps = vec![if facts.has_osystem { Deployed } else { Ready }];
            p.error_description = Some(String::new());
        }
        Action::PowerOn => {
            if facts.owner_id.is_none() {
                return Err(ActionError::WrongStatus(
                    "Can't start node: it hasn't been allocated.".into(),
                ));
            }
            p.power = Some(PowerOp::On);
        }
        Action::PowerOff => {
            p.power = Some(if opts.soft {
                PowerOp::SoftOff
            } else {
                PowerOp::Off
            })
        }
        Action::SetWorkloadAnnotations => {
            if facts.owner_id != Some(actor.user_id) {
                return Err(ActionError::WrongStatus(
                    "Cannot set workload annotation: it hasn't been acquired.".into(),
                ));
            }
        }
        Action::QueryPowerState | Action::Update | Action::Delete | Action::GetToken => {}
    }
    debug_assert!(path_is_valid(s, &p.steps));
    Ok(p)
}

/// Whether every step of `steps` is an allowed transition from the one before.
pub fn path_is_valid(from: Status, steps: &[Status]) -> bool {
    let mut cur = from;
    for &s in steps {
        if !can_transition(cur, s) {
            return false;
        }
        cur = s;
    }
    true
}
