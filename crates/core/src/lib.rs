//! The pure core of Ingot: no IO, no clocks, no randomness of its own.
//!
//! * [`status`]: the 23 MAAS statuses, power states and node types.
//! * [`transitions`]: the one transition table, `previous_status`, deadlines, the release rule.
//! * [`actions`]: who may do what from which status, as a [`actions::Plan`].
//! * [`signal`]: what a machine's own reports (metadata signals, status events, timeouts) do.
//! * [`constraints`]: allocation constraint matching and closest-fit ordering.
//! * [`deploy`]: the deploy configuration the agent executes; cloud-init network-config.
//! * [`dns`]: DNS names, FQDNs and record data as the DNS API takes them.
//! * [`dns_zone`]: the zones a rack serves, built from the region's data (forward, reverse, SOA).
//! * [`ids`]: system ids, hostnames, MACs, architectures.
//! * [`ip_usage`]: how a subnet's addresses are used (reserved, free, statistics).
//! * [`inventory`]: machine-resources (LXD resources) JSON → hardware inventory (spec §6).
//! * [`lshw`]: the stored inventory as an `lshw -xml`-shaped document (MAAS's hardware details).
//! * [`redfish`]: a Redfish BMC's inventory capture → an LXD resources object (out-of-band).
//! * [`scripts`]: script metadata headers, result statuses and aggregation, the built-ins.
//! * [`storage`]: the storage model (partitions, filesystems, LVM, bcache), layouts, deploy steps.
//! * [`streams`]: simplestreams index and product files, selections → the files to import.
//! * [`tags`]: tag definitions, XPath 1.0 over the hardware details.

pub mod actions;
pub mod boot;
pub mod clone;
pub mod constraints;
pub mod deploy;
pub mod dns;
pub mod dns_zone;
pub mod ids;
pub mod inventory;
pub mod ip_usage;
pub mod lshw;
pub mod markup;
pub mod net;
pub mod rack;
pub mod redfish;
pub mod scripts;
pub mod settings;
pub mod signal;
pub mod status;
pub mod storage;
pub mod streams;
pub mod tags;
pub mod transitions;

pub use actions::{
    plan, Action, ActionError, ActionOptions, Actor, MachineFacts, OwnerChange, Plan, PowerOp,
};
pub use status::{NodeType, PowerState, Status};
pub use transitions::can_transition;
