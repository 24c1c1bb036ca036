//! The web UI's controllers page (`/MAAS/r/controllers`): the region controllers (the
//! machines the regions run on) and the rack controllers with their host, address, version,
//! first and last contact and whether their services run — the JSON `regioncontrollers/`
//! and `rackcontrollers/` serve, as a table. Their machines are in the machine list, deployed
//! and locked.

use crate::rack::{rack_json, region_json};
use crate::ui::esc;
use crate::App;
use serde_json::Value;

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => esc(s),
        Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => esc(&other.to_string()),
    }
}

fn machine_link(v: &Value) -> String {
    match v.as_str() {
        Some(sid) => format!("<a href=\"/MAAS/r/machine/{0}\">{0}</a>", esc(sid)),
        None => String::new(),
    }
}

pub(crate) async fn page(app: &App) -> Result<String, crate::ApiError> {
    let regions = app.region.region_controllers().await?;
    let racks = app.region.rack_controllers().await?;
    let region_rows: String = regions
        .iter()
        .map(region_json)
        .map(|r| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                cell(&r["hostname"]),
                cell(&r["fqdn"]),
                machine_link(&r["machine"])
            )
        })
        .collect();
    let rack_rows: String = racks
        .iter()
        .map(rack_json)
        .map(|r| {
            let services = r["service_set"]
                .as_array()
                .map(|s| {
                    s.iter()
                        .map(|x| format!("{} {}", cell(&x["name"]), cell(&x["status"])))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{services}</td><td>{}</td></tr>",
                cell(&r["hostname"]),
                cell(&r["ip_addresses"]),
                cell(&r["version"]),
                cell(&r["first_seen"]),
                cell(&r["last_seen"]),
                machine_link(&r["machine"])
            )
        })
        .collect();
    Ok(format!(
        "<section aria-labelledby=\"h-regions\"><h2 id=\"h-regions\">Region controllers</h2>\
         <table><thead><tr><th>Host</th><th>FQDN</th><th>Machine</th></tr></thead><tbody>{}</tbody></table></section>\
         <section aria-labelledby=\"h-racks\"><h2 id=\"h-racks\">Rack controllers</h2>\
         <table><thead><tr><th>Host</th><th>Address</th><th>Version</th><th>First seen</th><th>Last seen</th><th>Services</th><th>Machine</th></tr></thead><tbody>{}</tbody></table></section>",
        if region_rows.is_empty() { "<tr><td colspan=\"3\">None recorded.</td></tr>".to_string() } else { region_rows },
        if rack_rows.is_empty() { "<tr><td colspan=\"7\">No rack controller has registered.</td></tr>".to_string() } else { rack_rows },
    ))
}
