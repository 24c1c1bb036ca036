//! Power types known to the region. Drivers that switch real BMCs arrive with the power
//! issue; until then only `manual` exists: it has no control, so flows that wait for a power
//! state complete at once and its power state is always "unknown".

use ingot_core::PowerOp;
use ingot_store::{Machine, NewEvent};
use serde_json::{Map, Value};

/// Registered power driver names.
pub const POWER_TYPES: &[&str] = &["manual"];

/// Whether the driver can switch and query the machine.
pub fn controllable(power_type: &str) -> bool {
    !matches!(power_type, "" | "manual")
}

/// The event recorded when a power operation is requested.
pub fn event(op: PowerOp, power_type: &str, who: &str) -> NewEvent {
    let verb = match op {
        PowerOp::On => "Power on",
        PowerOp::Off => "Power off",
        PowerOp::Cycle => "Power cycle",
    };
    let how = if controllable(power_type) {
        String::new()
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

/// Validate a power type and its parameters, returning the parameters to store.
pub fn validate(power_type: &str, params: Map<String, Value>) -> Result<Value, (String, String)> {
    if !power_type.is_empty() && !POWER_TYPES.contains(&power_type) {
        return Err((
            "power_type".into(),
            format!("Select a valid choice. {power_type} is not one of the available choices."),
        ));
    }
    // `manual` takes no parameters; anything given is kept verbatim so nothing is lost when
    // the machine later moves to a driver that uses them.
    Ok(Value::Object(params))
}
