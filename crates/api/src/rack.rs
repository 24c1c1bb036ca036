//! The interface rack controllers use: their configuration from the region and the netboot
//! hops they saw, authenticated by the shared rack secret (`Authorization: Bearer <secret>`);
//! and the rack and region controllers as `rackcontrollers/` and `regioncontrollers/` list
//! them.

use crate::{bad, ApiError, App, Req, Res};
use axum::http::Method;
use ingot_core::rack::RackEvent;
use ingot_region::model::{Machine, User};
use ingot_region::racks::{CheckIn, RackController};
use serde_json::json;

async fn check_secret(app: &App, r: &Req) -> Result<(), ApiError> {
    let given = r
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    Ok(app.region.check_rack_secret(given).await?)
}

/// Where machines reach this region: where the rack did, or over TLS the same host on the
/// plain-HTTP port for machines (as MAAS keeps 5240 beside 5443: iPXE has no HTTPS).
fn machines_url(app: &App, r: &Req) -> String {
    let plain = app.machine_port.and_then(|port| {
        let host = r.base.split_once("://")?.1;
        let host = host.parse::<axum::http::uri::Authority>().ok()?;
        Some(format!("http://{}:{port}/MAAS", host.host()))
    });
    plain.unwrap_or_else(|| format!("{}/MAAS", r.base))
}

pub(crate) async fn handle(app: &App, r: &Req, rest: &[&str]) -> Res {
    check_secret(app, r).await?;
    match (rest, &r.method) {
        (["config"], &Method::GET) => {
            let p = r.params();
            let c = CheckIn {
                name: p.get("name"),
                address: p.get("address"),
                version: p.get("version"),
                hardware_uuid: p.get("hardware_uuid"),
                macs: p.get_all("mac"),
                // The subnets its DHCP answers for (one empty value: none); absent: not said.
                dhcp: p.contains("dhcp").then(|| {
                    p.get_all("dhcp")
                        .into_iter()
                        .filter(|c| !c.is_empty())
                        .collect()
                }),
            };
            let rack = app.region.rack_check_in(&c).await?;
            let config = app
                .region
                .rack_config(&machines_url(app, r), rack.as_deref())
                .await?;
            crate::ok_json(json!(config))
        }
        // What the rack's DNS serves; 204 when `serial` (the one the rack has) is current,
        // after waiting up to `wait_ms` milliseconds (at most a second) for it to move.
        (["dns"], &Method::GET) => {
            let known = match r.params().get("serial") {
                Some(v) => Some(
                    v.parse::<i64>()
                        .map_err(|_| bad(format!("serial: '{v}' is not a number.")))?,
                ),
                None => None,
            };
            let wait = match r.params().get("wait_ms") {
                Some(v) => v
                    .parse::<u64>()
                    .map_err(|_| bad(format!("wait_ms: '{v}' is not a number of milliseconds.")))?,
                None => 0,
            };
            let wait =
                std::time::Duration::from_millis(wait).min(ingot_region::rack_dns::LONGEST_WAIT);
            match app.region.rack_dns_waiting(known, wait).await? {
                Some(dns) => crate::ok_json(json!(*dns)),
                None => crate::no_content(),
            }
        }
        (["events"], &Method::POST) => {
            let evs: Vec<RackEvent> = serde_json::from_slice(&r.raw).map_err(|e| {
                bad(format!(
                    "Expected a JSON array of {{mac, hop, detail}}: {e}"
                ))
            })?;
            let n = app
                .region
                .record_rack_events(evs, r.params().get("name"))
                .await?;
            crate::ok_json(json!({"recorded": n}))
        }
        _ => Err(crate::not_found(format!(
            "Unknown rack endpoint: {}",
            r.path
        ))),
    }
}

/// A rack controller in MAAS's shape (the fields a rack controller has; `service_set` says
/// whether it was heard from in the last minute and whether its DHCP runs; `machine` is the system id of the machine it
/// runs on).
pub(crate) fn rack_json(c: &RackController) -> serde_json::Value {
    let (k, alive) = (&c.rack, c.alive);
    json!({
        "system_id": k.system_id, "hostname": k.name, "fqdn": k.name,
        "node_type": 2, "node_type_name": "Rack controller",
        "ip_addresses": if k.address.is_empty() { vec![] } else { vec![k.address.clone()] },
        "version": k.version,
        "first_seen": crate::render::iso_time(k.first_seen),
        "last_seen": crate::render::iso_time(k.last_seen),
        "service_set": [{"name": "rackd", "status": if alive { "running" } else { "dead" },
                         "status_info": if alive { String::new() } else { "not heard from in the last minute".to_string() }},
                        dhcpd_json(c)],
        "resource_uri": format!("{}/rackcontrollers/{}/", crate::render::API, k.system_id),
        "machine": c.machine,
    })
}

/// MAAS's `dhcpd` service of a rack: running (with the subnets it answers for) or off, as the
/// rack said at its last check-in; unknown when it did not say or is not heard from.
fn dhcpd_json(c: &RackController) -> serde_json::Value {
    let (status, info) = match (&c.rack.dhcp, c.alive) {
        (Some(s), true) if !s.is_empty() => ("running", s.join(", ")),
        (Some(_), true) => ("off", String::new()),
        _ => ("unknown", String::new()),
    };
    json!({"name": "dhcpd", "status": status, "status_info": info})
}

/// `rackcontrollers/`: list, `describe_power_types`, `is_registered`.
pub(crate) async fn rack_controllers(app: &App, r: &Req) -> Res {
    match (&r.method, r.op()) {
        (&Method::GET, None) => {
            let racks = app.region.rack_controllers().await?;
            crate::ok_json(serde_json::Value::Array(
                racks.iter().map(rack_json).collect(),
            ))
        }
        (&Method::GET, Some("describe_power_types")) => {
            crate::ok_json(ingot_region::power::power_types_json())
        }
        (&Method::GET, Some("is_registered")) => {
            crate::machines::is_registered(app, &r.params()).await
        }
        _ => Err(crate::unknown_op(r)),
    }
}

/// Power and hardware ops of a controller act on the machine it runs on (controllers are
/// machines).
const HOST_MACHINE_OPS: &[&str] = &[
    "power_on",
    "power_off",
    "query_power_state",
    "power_parameters",
    "details",
    "test",
    "abort",
    "override_failed_testing",
];

/// `rackcontrollers/{id}/`: read (the fields the list has), delete (admin), `list_boot_images`,
/// and the power and hardware ops of the machine it runs on.
pub(crate) async fn rack_controller(app: &App, r: &Req, u: &User, system_id: &str) -> Res {
    match (&r.method, r.op()) {
        (&Method::DELETE, None) => {
            app.region.delete_rack_controller(u, system_id).await?;
            crate::no_content()
        }
        (_, Some(op)) if HOST_MACHINE_OPS.contains(&op) => {
            let write = r.method != Method::GET || op == "power_parameters";
            let msid = app.region.rack_host_machine(u, system_id, write).await?;
            crate::machines::machine(app, r, u, &msid).await
        }
        (&Method::GET, None) => {
            crate::ok_json(rack_json(&app.region.rack_controller(system_id).await?))
        }
        (&Method::GET, Some("list_boot_images")) => {
            let c = app.region.rack_controller(system_id).await?;
            // A rack fetches every image from the region when it is first asked for it, so
            // while the rack is heard from, every complete image is available through it.
            let images: Vec<serde_json::Value> = app
                .region
                .boot_resources()
                .await?
                .iter()
                .filter(|b| b.complete)
                .map(|b| {
                    let (arch, sub) = b
                        .architecture
                        .split_once('/')
                        .unwrap_or((&b.architecture, "generic"));
                    json!({"name": b.name, "architecture": arch, "subarches": [sub]})
                })
                .collect();
            crate::ok_json(json!({
                "connected": c.alive,
                "status": if c.alive { "synced" } else { "unknown" },
                "images": images,
            }))
        }
        _ => Err(crate::unknown_op(r)),
    }
}

pub(crate) fn region_json(m: &Machine) -> serde_json::Value {
    json!({
        "system_id": m.system_id, "hostname": m.hostname, "fqdn": format!("{}.{}", m.hostname, m.domain),
        "node_type": 3, "node_type_name": "Region controller",
        "machine": m.system_id,
        "resource_uri": format!("{}/regioncontrollers/{}/", crate::render::API, m.system_id),
    })
}

/// `GET /MAAS/api/2.0/regioncontrollers/` and `GET|DELETE regioncontrollers/{id}/`: the
/// machines the region runs on (their system ids are the machines').
pub(crate) async fn region_controllers(
    app: &App,
    r: &Req,
    u: &User,
    system_id: Option<&str>,
) -> Res {
    match (&r.method, r.op(), system_id) {
        (&Method::GET, None, None) => {
            let ms = app.region.region_controllers().await?;
            crate::ok_json(serde_json::Value::Array(
                ms.iter().map(region_json).collect(),
            ))
        }
        (&Method::GET, None, Some(id)) => {
            let ms = app.region.region_controllers().await?;
            let m = ms
                .iter()
                .find(|m| m.system_id == id)
                .ok_or_else(|| crate::not_found("No region controller matches the given query."))?;
            crate::ok_json(region_json(m))
        }
        (&Method::DELETE, None, Some(id)) => {
            app.region.delete_region_controller(u, id).await?;
            crate::no_content()
        }
        (&Method::GET, Some("is_registered"), None) => {
            crate::machines::is_registered(app, &r.params()).await
        }
        (&Method::POST, Some("set_zone"), None) => {
            crate::machines::set_zone(app, u, &r.params()).await
        }
        (_, Some(op), Some(id)) if HOST_MACHINE_OPS.contains(&op) => {
            let write = r.method != Method::GET || op == "power_parameters";
            let msid = app.region.region_host_machine(u, id, write).await?;
            crate::machines::machine(app, r, u, &msid).await
        }
        _ => Err(crate::unknown_op(r)),
    }
}
