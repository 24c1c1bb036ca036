//! The interface rack controllers use: their configuration from the region and the netboot
//! hops they saw, authenticated by the shared rack secret (`Authorization: Bearer <secret>`);
//! and the rack and region controllers as `rackcontrollers/` and `regioncontrollers/` list
//! them.

use crate::{bad, ApiError, App, Req, Res};
use axum::http::Method;
use ingot_core::rack::RackEvent;
use ingot_region::model::{Machine, User};
use ingot_region::racks::CheckIn;
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
            };
            let rack = app.region.rack_check_in(&c).await?;
            let config = app
                .region
                .rack_config(&format!("{}/MAAS", r.base), rack.as_deref())
                .await?;
            crate::ok_json(json!(config))
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

/// `GET /MAAS/api/2.0/rackcontrollers/`: the racks that registered, in MAAS's shape (the fields
/// a rack controller has; `service_set` says whether it was heard from in the last minute).
pub(crate) async fn rack_controllers(app: &App, r: &Req) -> Res {
    if r.method != Method::GET || r.op().is_some() {
        return Err(crate::unknown_op(r));
    }
    let racks = app.region.rack_controllers().await?;
    crate::ok_json(serde_json::Value::Array(
        racks.iter().map(rack_json).collect(),
    ))
}

/// A rack controller in MAAS's shape.
pub(crate) fn rack_json(c: &ingot_region::racks::RackController) -> serde_json::Value {
    let (k, alive) = (&c.rack, c.alive);
    json!({
        "system_id": k.system_id, "hostname": k.name, "fqdn": k.name,
        "node_type": 2, "node_type_name": "Rack controller",
        "ip_addresses": if k.address.is_empty() { vec![] } else { vec![k.address.clone()] },
        "version": k.version,
        "first_seen": crate::render::iso_time(k.first_seen),
        "last_seen": crate::render::iso_time(k.last_seen),
        "service_set": [{"name": "rackd", "status": if alive { "running" } else { "dead" },
                         "status_info": if alive { String::new() } else { "not heard from in the last minute".to_string() }}],
        "resource_uri": format!("{}/rackcontrollers/{}/", crate::render::API, k.system_id),
        "machine": c.machine,
    })
}

/// `DELETE /MAAS/api/2.0/rackcontrollers/{id}/` (admin): forget the rack; its machine loses the
/// rack role (unlocked, or deleted when it has no BMC).
pub(crate) async fn rack_controller(app: &App, r: &Req, u: &User, system_id: &str) -> Res {
    match (&r.method, r.op()) {
        (&Method::DELETE, None) => {
            app.region.delete_rack_controller(u, system_id).await?;
            crate::no_content()
        }
        (&Method::GET, None) => {
            let k = app.region.rack_controller(system_id).await?;
            crate::ok_json(
                json!({"system_id": k.system_id, "hostname": k.name, "node_type": 2,
                "node_type_name": "Rack controller", "version": k.version,
                "resource_uri": format!("{}/rackcontrollers/{}/", crate::render::API, k.system_id)}),
            )
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
        _ => Err(crate::unknown_op(r)),
    }
}
