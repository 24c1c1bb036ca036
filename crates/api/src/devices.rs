//! `devices/` in MAAS's shape: nodes Ingot does not provision (containers and VMs that Juju
//! gives addresses), with their interfaces under `nodes/{system_id}/interfaces/`.

use crate::machines::machine_filter;
use crate::render::{self, Net};
use crate::{no_content, ok_json, App, Req, Res};
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

/// `devices/`: list (filtered as machines are) and create.
pub(crate) async fn collection(app: &App, r: &Req, u: &User) -> Res {
    let p = r.params();
    if r.method == Method::POST {
        let d = app.region.create_device(u, &p).await?;
        let net = Net::for_machines(&app.region, std::slice::from_ref(&d)).await?;
        return Ok((StatusCode::OK, axum::Json(device_json(&d, &net))).into_response());
    }
    let (f, _, _) = machine_filter(&p)?;
    let ds = app.region.devices(u, f).await?;
    ok_json(devices_json(app, &ds).await?)
}

/// `devices/{system_id}/`: read, update and delete.
pub(crate) async fn item(app: &App, r: &Req, u: &User, sid: &str) -> Res {
    let d = match r.method {
        Method::DELETE => {
            app.region.delete_device(u, sid).await?;
            return no_content();
        }
        Method::PUT => app.region.update_device(u, sid, &r.params()).await?,
        _ => app.region.device(u, sid).await?,
    };
    let net = Net::for_machines(&app.region, std::slice::from_ref(&d)).await?;
    ok_json(device_json(&d, &net))
}
