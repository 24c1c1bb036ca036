//! The 23 MAAS node statuses, their numbers, labels and groupings (spec §1.1).

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! statuses {
    ($( $var:ident = $num:literal, $name:literal, $label:literal; )*) => {
        /// A machine's life-cycle status. The numeric values are MAAS's and appear on the wire.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(into = "i64", try_from = "i64")]
        pub enum Status { $( $var = $num, )* }

        impl Status {
            /// Every status, in numeric order.
            pub const ALL: [Status; 23] = [ $( Status::$var, )* ];

            /// The MAAS `status_name` label, e.g. "Failed commissioning".
            pub fn label(self) -> &'static str {
                match self { $( Status::$var => $label, )* }
            }

            /// The MAAS enum constant name, e.g. "FAILED_COMMISSIONING".
            pub fn name(self) -> &'static str {
                match self { $( Status::$var => $name, )* }
            }

            /// Look a status up by its number.
            pub fn from_i64(n: i64) -> Option<Status> {
                match n { $( $num => Some(Status::$var), )* _ => None }
            }

            /// Look a status up by its constant name or label, case-insensitively
            /// ("ready", "READY", "Failed commissioning", "failed_commissioning").
            pub fn parse(s: &str) -> Option<Status> {
                let t = s.trim();
                if let Ok(n) = t.parse::<i64>() {
                    return Status::from_i64(n);
                }
                let norm = t.to_ascii_lowercase().replace([' ', '-'], "_");
                $(
                    if norm == $name.to_ascii_lowercase() || norm == $label.to_ascii_lowercase().replace([' ', '-'], "_") {
                        return Some(Status::$var);
                    }
                )*
                None
            }
        }
    };
}

statuses! {
    New = 0, "NEW", "New";
    Commissioning = 1, "COMMISSIONING", "Commissioning";
    FailedCommissioning = 2, "FAILED_COMMISSIONING", "Failed commissioning";
    Missing = 3, "MISSING", "Missing";
    Ready = 4, "READY", "Ready";
    Reserved = 5, "RESERVED", "Reserved";
    Deployed = 6, "DEPLOYED", "Deployed";
    Retired = 7, "RETIRED", "Retired";
    Broken = 8, "BROKEN", "Broken";
    Deploying = 9, "DEPLOYING", "Deploying";
    Allocated = 10, "ALLOCATED", "Allocated";
    FailedDeployment = 11, "FAILED_DEPLOYMENT", "Failed deployment";
    Releasing = 12, "RELEASING", "Releasing";
    FailedReleasing = 13, "FAILED_RELEASING", "Releasing failed";
    DiskErasing = 14, "DISK_ERASING", "Disk erasing";
    FailedDiskErasing = 15, "FAILED_DISK_ERASING", "Failed disk erasing";
    RescueMode = 16, "RESCUE_MODE", "Rescue mode";
    EnteringRescueMode = 17, "ENTERING_RESCUE_MODE", "Entering rescue mode";
    FailedEnteringRescueMode = 18, "FAILED_ENTERING_RESCUE_MODE", "Failed to enter rescue mode";
    ExitingRescueMode = 19, "EXITING_RESCUE_MODE", "Exiting rescue mode";
    FailedExitingRescueMode = 20, "FAILED_EXITING_RESCUE_MODE", "Failed to exit rescue mode";
    Testing = 21, "TESTING", "Testing";
    FailedTesting = 22, "FAILED_TESTING", "Failed testing";
}

impl From<Status> for i64 {
    fn from(s: Status) -> i64 {
        s as i64
    }
}

impl TryFrom<i64> for Status {
    type Error = String;
    fn try_from(n: i64) -> Result<Self, String> {
        Status::from_i64(n).ok_or_else(|| format!("unknown status {n}"))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

use Status::*;

/// The in-progress → failed map (MAAS `get_failed_status`).
const FAILURE_MAP: [(Status, Status); 7] = [
    (Commissioning, FailedCommissioning),
    (Deploying, FailedDeployment),
    (Releasing, FailedReleasing),
    (DiskErasing, FailedDiskErasing),
    (EnteringRescueMode, FailedEnteringRescueMode),
    (ExitingRescueMode, FailedExitingRescueMode),
    (Testing, FailedTesting),
];

/// Statuses in which users may change a machine's storage (MAAS: Ready or Allocated).
pub const STORAGE_EDITABLE: &[Status] = &[Ready, Allocated];

/// Statuses in which commissioning's inventory resets the storage to the default layout.
pub const STORAGE_RESET_BY_INVENTORY: &[Status] = &[
    Commissioning,
    New,
    Ready,
    FailedCommissioning,
    Testing,
    // A release configures a machine that was registered while running "like a machine that
    // has been commissioned" (the seed), on its way to READY or NEW.
    Releasing,
    DiskErasing,
];

impl Status {
    /// Statuses in which the machine talks to the metadata API and so needs credentials.
    pub fn talks_to_metadata(self) -> bool {
        matches!(
            self,
            Commissioning
                | Testing
                | Deploying
                | DiskErasing
                | EnteringRescueMode
                | Releasing
                | RescueMode
        )
    }

    /// Statuses in which the machine's user data is served to it: while it deploys and once
    /// deployed (MAAS keeps serving it; cloud-init reads it again when its cache is cleared).
    pub fn serves_user_data(self) -> bool {
        matches!(self, Deploying | Deployed)
    }

    /// The failed status a transient status falls to; `None` for statuses that are not transient.
    pub fn failed_status(self) -> Option<Status> {
        FAILURE_MAP
            .iter()
            .find(|(s, _)| *s == self)
            .map(|(_, f)| *f)
    }

    /// One of the seven FAILED_* statuses.
    pub fn is_failed(self) -> bool {
        FAILURE_MAP.iter().any(|(_, f)| *f == self)
    }

    /// A transient ("monitored") status: it has a deadline and a failed status.
    pub fn is_transient(self) -> bool {
        self.failed_status().is_some()
    }

    /// MAAS ALLOCATED_NODE_STATUSES: the machine is held by an owner.
    pub fn is_owned_status(self) -> bool {
        matches!(
            self,
            Allocated
                | Deploying
                | Deployed
                | FailedDeployment
                | Releasing
                | FailedReleasing
                | DiskErasing
                | FailedDiskErasing
                | RescueMode
                | EnteringRescueMode
                | FailedEnteringRescueMode
                | ExitingRescueMode
                | FailedExitingRescueMode
                | Testing
                | FailedTesting
        )
    }

    /// MAAS RELEASABLE_STATUSES.
    pub fn is_releasable(self) -> bool {
        matches!(
            self,
            Allocated
                | Reserved
                | Broken
                | Deploying
                | Deployed
                | FailedDeployment
                | FailedDiskErasing
                | FailedReleasing
        )
    }

    /// Statuses in which the machine boots the ephemeral environment (MAAS COMMISSIONING_LIKE_STATUSES).
    pub fn boots_ephemeral(self) -> bool {
        matches!(
            self,
            New | Commissioning
                | DiskErasing
                | EnteringRescueMode
                | Releasing
                | RescueMode
                | Testing
        )
    }

    /// The simplified status used by UI filters.
    pub fn simple_status(self) -> &'static str {
        match self {
            Allocated => "Allocated",
            Broken => "Broken",
            Commissioning => "Commissioning",
            Deployed => "Deployed",
            Deploying => "Deploying",
            FailedCommissioning
            | FailedDeployment
            | FailedDiskErasing
            | FailedEnteringRescueMode
            | FailedExitingRescueMode
            | FailedReleasing
            | FailedTesting => "Failed",
            New => "New",
            Ready => "Ready",
            DiskErasing | Releasing => "Releasing",
            EnteringRescueMode | ExitingRescueMode | RescueMode => "Rescue Mode",
            Testing => "Testing",
            Missing | Reserved | Retired => "Other",
        }
    }
}

/// A machine's observed power state, as the API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PowerState {
    On,
    Off,
    Unknown,
    Error,
}

impl PowerState {
    pub fn as_str(self) -> &'static str {
        match self {
            PowerState::On => "on",
            PowerState::Off => "off",
            PowerState::Unknown => "unknown",
            PowerState::Error => "error",
        }
    }
    pub fn parse(s: &str) -> Option<PowerState> {
        match s {
            "on" => Some(PowerState::On),
            "off" => Some(PowerState::Off),
            "unknown" => Some(PowerState::Unknown),
            "error" => Some(PowerState::Error),
            _ => None,
        }
    }
}

/// MAAS node types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NodeType {
    Machine = 0,
    Device = 1,
    RackController = 2,
    RegionController = 3,
    RegionAndRackController = 4,
}

impl NodeType {
    pub fn from_i64(n: i64) -> Option<NodeType> {
        match n {
            0 => Some(NodeType::Machine),
            1 => Some(NodeType::Device),
            2 => Some(NodeType::RackController),
            3 => Some(NodeType::RegionController),
            4 => Some(NodeType::RegionAndRackController),
            _ => None,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            NodeType::Machine => "Machine",
            NodeType::Device => "Device",
            NodeType::RackController => "Rack controller",
            NodeType::RegionController => "Region controller",
            NodeType::RegionAndRackController => "Region and rack controller",
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn status_sets() {
        use super::*;
        // Every status, with: talks to the metadata API, storage editable, storage reset by
        // a commissioning inventory.
        let table: &[(Status, bool, bool, bool)] = &[
            (New, false, false, true),
            (Commissioning, true, false, true),
            (FailedCommissioning, false, false, true),
            (Missing, false, false, false),
            (Ready, false, true, true),
            (Reserved, false, false, false),
            (Deployed, false, false, false),
            (Retired, false, false, false),
            (Broken, false, false, false),
            (Deploying, true, false, false),
            (Allocated, false, true, false),
            (FailedDeployment, false, false, false),
            (Releasing, true, false, true),
            (FailedReleasing, false, false, false),
            (DiskErasing, true, false, true),
            (FailedDiskErasing, false, false, false),
            (RescueMode, true, false, false),
            (EnteringRescueMode, true, false, false),
            (FailedEnteringRescueMode, false, false, false),
            (ExitingRescueMode, false, false, false),
            (FailedExitingRescueMode, false, false, false),
            (Testing, true, false, true),
            (FailedTesting, false, false, false),
        ];
        assert_eq!(table.len(), Status::ALL.len());
        for (s, meta, edit, reset) in table {
            assert_eq!(s.talks_to_metadata(), *meta, "{s:?} metadata");
            assert_eq!(STORAGE_EDITABLE.contains(s), *edit, "{s:?} editable");
            assert_eq!(
                STORAGE_RESET_BY_INVENTORY.contains(s),
                *reset,
                "{s:?} reset"
            );
        }
    }

    use super::*;

    #[test]
    fn numbers_and_labels_match_maas() {
        let expect: [(i64, &str); 23] = [
            (0, "New"),
            (1, "Commissioning"),
            (2, "Failed commissioning"),
            (3, "Missing"),
            (4, "Ready"),
            (5, "Reserved"),
            (6, "Deployed"),
            (7, "Retired"),
            (8, "Broken"),
            (9, "Deploying"),
            (10, "Allocated"),
            (11, "Failed deployment"),
            (12, "Releasing"),
            (13, "Releasing failed"),
            (14, "Disk erasing"),
            (15, "Failed disk erasing"),
            (16, "Rescue mode"),
            (17, "Entering rescue mode"),
            (18, "Failed to enter rescue mode"),
            (19, "Exiting rescue mode"),
            (20, "Failed to exit rescue mode"),
            (21, "Testing"),
            (22, "Failed testing"),
        ];
        for (s, (n, label)) in Status::ALL.iter().zip(expect) {
            assert_eq!(*s as i64, n);
            assert_eq!(s.label(), label);
            assert_eq!(Status::from_i64(n), Some(*s));
            assert_eq!(Status::parse(s.name()), Some(*s));
            assert_eq!(Status::parse(label), Some(*s));
        }
        assert_eq!(Status::from_i64(23), None);
        assert_eq!(Status::from_i64(-1), None);
    }

    #[test]
    fn failure_map_is_seven_pairs() {
        let transient: Vec<_> = Status::ALL.iter().filter(|s| s.is_transient()).collect();
        assert_eq!(transient.len(), 7);
        let failed: Vec<_> = Status::ALL.iter().filter(|s| s.is_failed()).collect();
        assert_eq!(failed.len(), 7);
        assert_eq!(
            Status::Releasing.failed_status(),
            Some(Status::FailedReleasing)
        );
        assert_eq!(Status::Ready.failed_status(), None);
    }
}
