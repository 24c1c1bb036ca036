//! The handlers of things Ingot has none of (`ingot_region::Absent`: VM hosts and their
//! machines and clusters, VMware datastores, Windows licence keys, network discovery),
//! answered as MAAS answers with none configured: empty lists, 404 for an id, and refusals
//! that say why for anything that would create one.

use crate::{no_content, ok_json, App, Req, Res};
use axum::http::Method;
use ingot_region::model::User;
use ingot_region::Absent;
use serde_json::Value;

/// A collection: every read is empty; `discovery/?op=clear…` clears nothing; the rest is
/// refused (administrators first).
pub(crate) async fn collection(app: &App, r: &Req, u: &User, what: Absent) -> Res {
    match (&r.method, r.op()) {
        (&Method::GET, _) => ok_json(Value::Array(vec![])),
        (&Method::POST, Some("clear" | "clear_by_mac_and_ip")) if what == Absent::Discovery => {
            app.region.clear_discoveries(u)?;
            no_content()
        }
        _ => {
            app.region.refuse_absent(u, what)?;
            Err(crate::unknown_op(r))
        }
    }
}

/// One of them by id: there is none.
pub(crate) async fn item(app: &App, r: &Req, u: &User, what: Absent) -> Res {
    app.region.absent_item(u, what, r.method != Method::GET)?;
    Err(crate::unknown_op(r))
}

/// A machine's VMFS datastores: the machine as its viewers see it, then none.
pub(crate) async fn of_node(app: &App, r: &Req, u: &User, sid: &str, id: bool) -> Res {
    app.region.node_for(u, sid).await?;
    if id {
        item(app, r, u, Absent::VmfsDatastores).await
    } else {
        collection(app, r, u, Absent::VmfsDatastores).await
    }
}
