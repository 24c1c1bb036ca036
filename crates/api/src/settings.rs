//! `maas/?op=get_config|set_config`.

use crate::{ok_json, unknown_op, App, Req, Res};
use axum::http::Method;
use ingot_core::settings::Value as Setting;
use ingot_region::model::User;
use serde_json::json;
use serde_json::Value;

pub(crate) async fn config(app: &App, r: &Req, u: &User) -> Res {
    let p = r.params();
    let name = p.get("name").unwrap_or_default();
    match (&r.method, r.op()) {
        (&Method::GET, Some("get_config")) => ok_json(match app.region.get_config(name).await? {
            Setting::Null => Value::Null,
            Setting::Int(v) => json!(v),
            Setting::Bool(v) => json!(v),
            Setting::Text(v) => json!(v),
            Setting::List(v) => json!(v),
        }),
        (&Method::POST, Some("set_config")) => {
            app.region
                .set_config(u, name, p.get("value").unwrap_or_default())
                .await?;
            ok_json(Value::Null)
        }
        _ => Err(unknown_op(r)),
    }
}
