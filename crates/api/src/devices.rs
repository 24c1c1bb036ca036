//! `devices/` in MAAS's shape: nodes Ingot does not provision (containers and VMs that Juju
//! gives addresses), with their interfaces under `nodes/{system_id}/interfaces/`.

use crate::machines::{details, is_registered, machine_filter, set_zone};
use crate::render::{self, Net};
use crate::{no_content, ok_json, unknown_op, App, Req, Res};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use ingot_region::model::{Machine, User};
use serde_json::{Map, Value};

/// The fields of a device (a machine's, less what only machines have).
const DEVICE_FIELDS: &[&str] = &[
    "system_id",
    "hostname",
    "description",
    "domain",
    "fqdn",
    "owner",
    "owner_data",
    "workload_annotations",
    "parent",
    "tag_names",
    "address_ttl",
    "ip_addresses",
    "interface_set",
    "zone",
    "pool",
    "node_type",
    "node_type_name",
];

pub(crate) fn device_json(d: &Machine, net: &Net) -> Value {
    let full = render::machine(d, net);
    let mut out = Map::new();
    for k in DEVICE_FIELDS {
        out.insert((*k).into(), full.get(*k).cloned().unwrap_or(Value::Null));
    }
    out.insert(
        "resource_uri".into(),
        Value::String(format!("{}/devices/{}/", render::API, d.system_id)),
    );
    Value::Object(out)
}

pub(crate) async fn devices_json(app: &App, ds: &[Machine]) -> Result<Value, crate::ApiError> {
    let net = Net::for_machines(&app.region, ds).await?;
    Ok(Value::Array(
        ds.iter().map(|d| device_json(d, &net)).collect(),
    ))
}

/// `devices/`: list (filtered as machines are), create, `is_registered`, `set_zone`.
pub(crate) async fn collection(app: &App, r: &Req, u: &User) -> Res {
    let p = r.params();
    match (&r.method, r.op()) {
        (&Method::GET, Some("is_registered")) => return is_registered(app, &p).await,
        (&Method::POST, Some("set_zone")) => return set_zone(app, u, &p).await,
        (_, Some(_)) => return Err(unknown_op(r)),
        _ => {}
    }
    if r.method == Method::POST {
        let d = app.region.create_device(u, &p).await?;
        let net = Net::for_machines(&app.region, std::slice::from_ref(&d)).await?;
        return Ok((StatusCode::OK, axum::Json(device_json(&d, &net))).into_response());
    }
    let (f, _, _) = machine_filter(&p)?;
    let ds = app.region.devices(u, f).await?;
    ok_json(devices_json(app, &ds).await?)
}

/// `devices/{system_id}/`: read, update, delete, `details`, `power_parameters`,
/// `restore_networking_configuration` (`restore_default_configuration`: the same, a device
/// has no storage), `set_workload_annotations` (`set_owner_data`).
pub(crate) async fn item(app: &App, r: &Req, u: &User, sid: &str) -> Res {
    let reg = &app.region;
    let d = match (&r.method, r.op()) {
        (&Method::DELETE, None) => {
            reg.delete_device(u, sid).await?;
            return no_content();
        }
        (&Method::PUT, None) => reg.update_device(u, sid, &r.params()).await?,
        (&Method::GET, None) => reg.device(u, sid).await?,
        (&Method::GET, Some("details")) => {
            let d = reg.device(u, sid).await?;
            return details(app, d.id).await;
        }
        (&Method::GET, Some("power_parameters")) => {
            reg.device(u, sid).await?;
            return ok_json(Value::Object(reg.power_parameters(u, sid).await?));
        }
        (
            &Method::POST,
            Some("restore_networking_configuration" | "restore_default_configuration"),
        ) => {
            reg.device(u, sid).await?;
            reg.restore_networking_configuration(u, sid).await?
        }
        (&Method::POST, Some("set_workload_annotations" | "set_owner_data")) => {
            reg.device(u, sid).await?;
            reg.set_workload_annotations(u, sid, &r.params()).await?
        }
        _ => return Err(unknown_op(r)),
    };
    let net = Net::for_machines(&app.region, std::slice::from_ref(&d)).await?;
    ok_json(device_json(&d, &net))
}
