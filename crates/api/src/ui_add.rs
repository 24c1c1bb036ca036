//! The web UI's "Add machine" form (`/MAAS/r/add`): host name, architecture, MAC addresses,
//! the power type with exactly that driver's parameters — generated from the power-types
//! schema `power-types/` serves — zone, pool, "commission after adding" (on) and "Deployed"
//! (the seed's machines that already run a workload: no commissioning, added DEPLOYED).
//! `assets/add.js` sends it to `POST machines/` as the API takes it and puts each field
//! error the API answers next to its field.

use crate::ui::{esc, name_options, options};
use crate::App;
use serde_json::Value;

fn error_slot(field: &str) -> String {
    format!("<p class=\"error\" id=\"err-{}\" hidden></p>", esc(field))
}

/// One driver's parameters as a fieldset (shown when that power type is chosen).
fn driver_fieldset(d: &Value) -> String {
    let name = d["name"].as_str().unwrap_or("");
    let mut out = format!(
        "<fieldset class=\"power\" data-power=\"{}\" hidden><legend>{}</legend>",
        esc(name),
        esc(d["description"].as_str().unwrap_or(name))
    );
    for f in d["fields"].as_array().into_iter().flatten() {
        let fname = format!("power_parameters_{}", f["name"].as_str().unwrap_or(""));
        let label = f["label"].as_str().unwrap_or("");
        let required = f["required"].as_bool() == Some(true);
        let default = f["default"].as_str().unwrap_or("");
        let input = match f["field_type"].as_str() {
            Some("choice") => {
                let choices: Vec<(&str, &str)> = f["choices"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| (c[0].as_str().unwrap_or(""), c[1].as_str().unwrap_or("")))
                    .collect();
                format!(
                    "<select name=\"{}\">{}</select>",
                    esc(&fname),
                    options(choices, default)
                )
            }
            Some("password") => format!(
                "<input type=\"password\" name=\"{}\" autocomplete=\"new-password\">",
                esc(&fname)
            ),
            _ => format!(
                "<input name=\"{}\" value=\"{}\"{}>",
                esc(&fname),
                esc(default),
                if required { " required" } else { "" }
            ),
        };
        out.push_str(&format!(
            "<label>{}{} {input}</label>{}",
            esc(label),
            if required { " *" } else { "" },
            error_slot(&fname)
        ));
    }
    out.push_str("</fieldset>");
    out
}

/// The form's page body.
pub(crate) async fn page(app: &App) -> Result<String, crate::ApiError> {
    let (zones, pools) = crate::ui::zones_and_pools(app).await?;
    let types = ingot_region::power::power_types_json();
    let drivers = types.as_array().cloned().unwrap_or_default();
    let arches: Vec<String> = ingot_core::ids::ARCHITECTURES
        .iter()
        .map(|a| format!("{a}/generic"))
        .collect();
    let power_choices: Vec<(&str, &str)> = std::iter::once(("", "(none yet)"))
        .chain(drivers.iter().map(|d| {
            (
                d["name"].as_str().unwrap_or(""),
                d["description"].as_str().unwrap_or(""),
            )
        }))
        .collect();
    Ok(format!(
        "<main class=\"add\"><form id=\"add\" novalidate>{}\
         <label>Hostname <input name=\"hostname\" placeholder=\"(generated when empty)\"></label>{}\
         <label>Architecture * <select name=\"architecture\">{}</select></label>{}\
         <label>MAC addresses <textarea name=\"mac_addresses\" rows=\"2\" placeholder=\"one per line\"></textarea></label>{}\
         <label>Power type <select name=\"power_type\">{}</select></label>{}\
         {}\
         <label>Zone <select name=\"zone\">{}</select></label>{}\
         <label>Resource pool <select name=\"pool\">{}</select></label>{}\
         <label class=\"check\"><input type=\"checkbox\" name=\"commission\" checked> Commission after adding</label>\
         <label class=\"check\"><input type=\"checkbox\" name=\"deployed\"> Deployed: it already runs a workload (not commissioned; a MAC is optional)</label>{}\
         <button type=\"submit\">Save machine</button></form>\
         <p id=\"added\" class=\"ok\" hidden></p></main>\
         <script src=\"/MAAS/r/common.js\" defer></script><script src=\"/MAAS/r/add.js\" defer></script>",
        error_slot("__all__"),
        error_slot("hostname"),
        options(arches.iter().map(|a| (a.as_str(), a.as_str())), "amd64/generic"),
        error_slot("architecture"),
        error_slot("mac_addresses"),
        options(power_choices, ""),
        error_slot("power_type"),
        drivers.iter().map(driver_fieldset).collect::<String>(),
        name_options(&zones, "default"),
        error_slot("zone"),
        name_options(&pools, "default"),
        error_slot("pool"),
        error_slot("deployed"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_driver_field_becomes_an_input() {
        let d = serde_json::json!({"name": "ipmi", "description": "IPMI", "fields": [
            {"name": "power_address", "label": "IP address", "required": true, "field_type": "string", "default": ""},
            {"name": "power_pass", "label": "Password", "required": false, "field_type": "password", "default": ""},
            {"name": "power_driver", "label": "Driver", "required": false, "field_type": "choice", "default": "LAN_2_0",
             "choices": [["LAN", "LAN"], ["LAN_2_0", "LAN 2.0"]]},
        ]});
        let html = driver_fieldset(&d);
        assert!(html.contains("data-power=\"ipmi\""));
        assert!(html.contains("name=\"power_parameters_power_address\" value=\"\" required"));
        assert!(html.contains("type=\"password\" name=\"power_parameters_power_pass\""));
        assert!(html.contains("<option value=\"LAN_2_0\" selected>LAN 2.0</option>"));
        assert!(html.contains("id=\"err-power_parameters_power_address\""));
    }
}
