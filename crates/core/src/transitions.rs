//! The one table of allowed status transitions (MAAS NODE_TRANSITIONS, spec §1.2), the
//! `previous_status` rule and the deadline rule.

use crate::status::Status::{self, *};

/// Allowed `from -> to` transitions. A same-status "transition" is always allowed.
pub const TRANSITIONS: &[(Status, &[Status])] = &[
    (
        New,
        &[
            Commissioning,
            Testing,
            Missing,
            Ready,
            Retired,
            Broken,
            EnteringRescueMode,
        ],
    ),
    (
        Commissioning,
        &[
            FailedCommissioning,
            Ready,
            Retired,
            Missing,
            New,
            Broken,
            Testing,
        ],
    ),
    (
        FailedCommissioning,
        &[
            Commissioning,
            Missing,
            Retired,
            Broken,
            EnteringRescueMode,
            Testing,
        ],
    ),
    (
        Ready,
        &[
            EnteringRescueMode,
            Commissioning,
            Allocated,
            Reserved,
            Retired,
            Missing,
            Broken,
            Testing,
        ],
    ),
    (
        Reserved,
        &[
            Ready,
            Allocated,
            Retired,
            Missing,
            Broken,
            DiskErasing,
            Releasing,
            EnteringRescueMode,
            Testing,
        ],
    ),
    (
        Allocated,
        &[
            Ready,
            Retired,
            Missing,
            Broken,
            Deploying,
            DiskErasing,
            Releasing,
            EnteringRescueMode,
            Testing,
        ],
    ),
    (
        Releasing,
        &[
            New,
            Allocated,
            Reserved,
            Deployed,
            Ready,
            Broken,
            Missing,
            FailedDeployment,
            FailedDiskErasing,
            FailedReleasing,
        ],
    ),
    (
        Deploying,
        &[
            Allocated,
            Missing,
            Broken,
            FailedDeployment,
            Deployed,
            Ready,
            DiskErasing,
            Releasing,
        ],
    ),
    (
        FailedDeployment,
        &[
            Allocated,
            Missing,
            Broken,
            Ready,
            DiskErasing,
            Releasing,
            EnteringRescueMode,
            Testing,
        ],
    ),
    (
        Deployed,
        &[
            Allocated,
            Missing,
            Broken,
            Ready,
            DiskErasing,
            Releasing,
            EnteringRescueMode,
            Testing,
        ],
    ),
    (
        Missing,
        &[
            New,
            Ready,
            Allocated,
            Commissioning,
            Broken,
            EnteringRescueMode,
            Testing,
        ],
    ),
    (
        Retired,
        &[New, Ready, Missing, Broken, EnteringRescueMode, Testing],
    ),
    (
        Broken,
        &[
            Commissioning,
            Ready,
            DiskErasing,
            Releasing,
            EnteringRescueMode,
            Testing,
            Deployed,
        ],
    ),
    (
        FailedReleasing,
        &[Releasing, DiskErasing, Ready, Broken, Testing],
    ),
    (
        DiskErasing,
        &[Broken, DiskErasing, FailedDiskErasing, Ready, Releasing],
    ),
    (
        FailedDiskErasing,
        &[
            DiskErasing,
            Releasing,
            Broken,
            Allocated,
            Ready,
            EnteringRescueMode,
            Testing,
        ],
    ),
    (
        EnteringRescueMode,
        &[
            Ready,
            Broken,
            Deployed,
            RescueMode,
            FailedEnteringRescueMode,
            ExitingRescueMode,
        ],
    ),
    (
        FailedEnteringRescueMode,
        &[Broken, EnteringRescueMode, ExitingRescueMode, Testing],
    ),
    (RescueMode, &[Broken, ExitingRescueMode, Testing]),
    (
        ExitingRescueMode,
        &[
            New,
            Broken,
            FailedCommissioning,
            Ready,
            Reserved,
            Allocated,
            FailedDeployment,
            Deployed,
            Missing,
            Retired,
            FailedReleasing,
            FailedDiskErasing,
            RescueMode,
            FailedEnteringRescueMode,
            FailedExitingRescueMode,
            FailedTesting,
        ],
    ),
    (
        FailedExitingRescueMode,
        &[Broken, ExitingRescueMode, Testing],
    ),
    (
        Testing,
        &[
            Broken,
            New,
            Ready,
            Reserved,
            Allocated,
            Deployed,
            Commissioning,
            FailedDeployment,
            Missing,
            Retired,
            FailedReleasing,
            FailedDiskErasing,
            FailedEnteringRescueMode,
            FailedExitingRescueMode,
            FailedTesting,
        ],
    ),
    (
        FailedTesting,
        &[
            Commissioning,
            Broken,
            Missing,
            EnteringRescueMode,
            Testing,
            Ready,
            Deployed,
        ],
    ),
];

/// Whether `from -> to` is an allowed transition.
pub fn can_transition(from: Status, to: Status) -> bool {
    from == to
        || TRANSITIONS
            .iter()
            .find(|(f, _)| *f == from)
            .is_some_and(|(_, tos)| tos.contains(&to))
}

/// Statuses from which a passing test run returns the machine to READY (MAAS
/// NODE_TESTING_RESET_READY_TRANSITIONS).
pub const TESTING_RESET_TO_READY: &[Status] = &[
    New,
    Commissioning,
    FailedDeployment,
    Missing,
    Retired,
    Broken,
    FailedReleasing,
    FailedDiskErasing,
    FailedEnteringRescueMode,
    FailedExitingRescueMode,
    FailedTesting,
];

/// The `previous_status` a machine holds after moving away from `old`: the old status is
/// recorded, except when leaving rescue-mode statuses or TESTING, so that `previous_status`
/// keeps the status from before the test or rescue.
pub fn previous_status_after(
    old: Status,
    new: Status,
    current_previous: Option<Status>,
) -> Option<Status> {
    if old == new {
        return current_previous;
    }
    match old {
        RescueMode
        | EnteringRescueMode
        | FailedEnteringRescueMode
        | ExitingRescueMode
        | FailedExitingRescueMode
        | Testing => current_previous,
        _ => Some(old),
    }
}

/// Fixed deadline, in seconds, for statuses that do not follow `node_timeout`.
pub const FIXED_DEADLINE_SECS: i64 = 5 * 60;

/// How long a machine may stay in `status` before it is failed, given the `node_timeout`
/// setting in seconds. `None` for statuses that are not transient.
pub fn deadline_secs(status: Status, node_timeout_secs: i64) -> Option<i64> {
    match status {
        Releasing | ExitingRescueMode => Some(FIXED_DEADLINE_SECS),
        s if s.is_transient() => Some(node_timeout_secs.max(1)),
        _ => None,
    }
}

/// Where a release ends: READY for a machine with passing commissioning data, NEW otherwise
/// (the seeds' rule: a machine Ingot knows nothing about cannot be READY).
pub fn release_target(commissioning_passed: bool) -> Status {
    if commissioning_passed {
        Ready
    } else {
        New
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_every_status_once() {
        for s in Status::ALL {
            let n = TRANSITIONS.iter().filter(|(f, _)| *f == s).count();
            assert_eq!(n, 1, "{s:?} appears {n} times as a source");
        }
    }

    #[test]
    fn same_status_always_allowed() {
        for s in Status::ALL {
            assert!(can_transition(s, s));
        }
    }

    /// Spot checks against the spec's table (the full matrix is in tests/transitions.rs).
    #[test]
    fn spot_checks() {
        assert!(can_transition(Ready, Allocated));
        assert!(!can_transition(New, Allocated));
        assert!(!can_transition(Deployed, FailedCommissioning));
        assert!(can_transition(Broken, Deployed));
        assert!(!can_transition(RescueMode, Ready));
    }

    #[test]
    fn previous_status_skips_rescue_and_testing() {
        assert_eq!(previous_status_after(Ready, Testing, None), Some(Ready));
        assert_eq!(
            previous_status_after(Testing, Ready, Some(Ready)),
            Some(Ready)
        );
        assert_eq!(
            previous_status_after(EnteringRescueMode, RescueMode, Some(Deployed)),
            Some(Deployed)
        );
        assert_eq!(
            previous_status_after(Deployed, Broken, None),
            Some(Deployed)
        );
        assert_eq!(previous_status_after(Ready, Ready, Some(New)), Some(New));
    }

    #[test]
    fn deadlines() {
        for s in Status::ALL {
            let d = deadline_secs(s, 1800);
            assert_eq!(d.is_some(), s.is_transient(), "{s:?}");
        }
        assert_eq!(deadline_secs(Releasing, 1800), Some(300));
        assert_eq!(deadline_secs(ExitingRescueMode, 1800), Some(300));
        assert_eq!(deadline_secs(Deploying, 1800), Some(1800));
    }
}
