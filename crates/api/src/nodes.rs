//! `nodes/` in MAAS's shape: every machine, controller and device together, each shown as
//! its own kind shows it (`machines/`, `devices/`).

use crate::devices::device_json;
use crate::machines::{details, is_registered, machine_filter, set_zone};
use crate::render::{self, Net};
use crate::{no_content, ok_json, unknown_op, App, Req, Res};
use axum::http::Method;
use ingot_region::model::{Machine, User};
use serde_json::Value;

/// Nodes as their kinds show them.
pub(crate) async fn nodes_json(app: &App, ns: &[Machine]) -> Res {
    let net = Net::for_machines(&app.region, ns).await?;
    ok_json(Value::Array(
        ns.iter().map(|n| node_json(n, &net)).collect(),
    ))
}

fn node_json(n: &Machine, net: &Net) -> Value {
    if n.node_type == ingot_region::model::DEVICE {
        device_json(n, net)
    } else {
        render::machine(n, net)
    }
}

/// `nodes/`: list (filtered as machines are), `is_registered`, `set_zone`.
pub(crate) async fn collection(app: &App, r: &Req, u: &User) -> Res {
    let p = r.params();
    match (&r.method, r.op()) {
        (&Method::GET, None) => {
            let (f, _, _) = machine_filter(&p)?;
            let ns = app.region.nodes(u, f).await?;
            nodes_json(app, &ns).await
        }
        (&Method::GET, Some("is_registered")) => is_registered(app, &p).await,
        (&Method::POST, Some("set_zone")) => set_zone(app, u, &p).await,
        _ => Err(unknown_op(r)),
    }
}

/// `nodes/{system_id}/`: read, delete, `details`, `power_parameters`.
pub(crate) async fn item(app: &App, r: &Req, u: &User, sid: &str) -> Res {
    match (&r.method, r.op()) {
        (&Method::GET, None) => {
            let n = app.region.node_for(u, sid).await?;
            let net = Net::for_machines(&app.region, std::slice::from_ref(&n)).await?;
            ok_json(node_json(&n, &net))
        }
        (&Method::DELETE, None) => {
            app.region.delete_node(u, sid).await?;
            no_content()
        }
        (&Method::GET, Some("details")) => {
            let n = app.region.node_for(u, sid).await?;
            details(app, n.id).await
        }
        (&Method::GET, Some("power_parameters")) => Ok(ok_json(Value::Object(
            app.region.power_parameters(u, sid).await?,
        ))?),
        _ => Err(unknown_op(r)),
    }
}
