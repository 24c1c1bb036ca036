//! The region's side of power control: which power types exist and can be queried (from
//! `ingot-power`'s schemas), the events power operations leave, and the state to report.

use ingot_core::PowerOp;
use ingot_store::{Machine, NewEvent};

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
