//! `reservedips/` in MAAS's shape: DHCP reservations of an address for a MAC.

use crate::render::subnet_json;
use crate::{no_content, ok_json, App, Req, Res};
use axum::http::Method;
use ingot_region::model::network::StaticIp;
use ingot_region::model::User;
use serde_json::{json, Value};

async fn reserved_json(
    app: &App,
    items: &[(StaticIp, String)],
) -> Result<Vec<Value>, crate::ApiError> {
    let subnets = app.region.subnets().await?;
    let vlans = app.region.vlans(None).await?;
    Ok(items
        .iter()
        .map(|(s, comment)| {
            json!({
                "id": s.id, "ip": s.ip, "mac_address": s.mac, "comment": comment,
                "subnet": subnets.iter().find(|x| x.id == s.subnet_id).map(|x| subnet_json(x, &vlans)),
                "resource_uri": format!("{}/reservedips/{}/", crate::render::API, s.id),
            })
        })
        .collect())
}

/// `reservedips/`: list, create (admin).
pub(crate) async fn collection(app: &App, r: &Req, u: &User) -> Res {
    if r.method == Method::POST {
        let one = app.region.create_reserved_ip(u, &r.params()).await?;
        let mut v = reserved_json(app, &[one]).await?;
        return ok_json(v.pop().unwrap_or(Value::Null));
    }
    let all = app.region.reserved_ips().await?;
    ok_json(Value::Array(reserved_json(app, &all).await?))
}

/// `reservedips/{id}/`: read, update, delete (admin).
pub(crate) async fn item(app: &App, r: &Req, u: &User, id: &str) -> Res {
    let one = match r.method {
        Method::PUT => app.region.update_reserved_ip(u, id, &r.params()).await?,
        Method::DELETE => {
            app.region.delete_reserved_ip(u, id).await?;
            return no_content();
        }
        _ => app.region.reserved_ip(id).await?,
    };
    let mut v = reserved_json(app, &[one]).await?;
    ok_json(v.pop().unwrap_or(Value::Null))
}
