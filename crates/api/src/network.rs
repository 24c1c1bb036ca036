//! `fabrics/`, `fabrics/{id}/vlans/`, `subnets/`, `ipranges/` in MAAS's shape, and Ingot's
//! `netboot-timeline/` (every network-boot hop, by MAC, known machine or not).

use crate::render::{subnet_json, vlan_json, Net};
use crate::{forms_id, no_content, not_found, ok_json, unknown_op, ApiError, App, Req, Res};
use axum::http::Method;
use ingot_core::ip_usage::{percent, Span};
use ingot_region::model::network::{
    Fabric, IpRange, Space, StaticIp, Subnet, Vlan, ALLOC_USER_RESERVED,
};
use ingot_region::model::routes::StaticRoute;
use ingot_region::model::User;
use ingot_region::network::VirtualKind;
use serde_json::{json, Value};

const API: &str = crate::render::API;

fn fabric_json(f: &Fabric, vlans: &[Vlan]) -> Value {
    json!({
        "id": f.id, "name": f.name, "class_type": f.class_type,
        "vlans": vlans.iter().filter(|v| v.fabric_id == f.id).map(|v| vlan_json(v, vlans)).collect::<Vec<_>>(),
        "resource_uri": format!("{API}/fabrics/{}/", f.id),
    })
}

fn range_json(r: &IpRange, subnets: &[Subnet], vlans: &[Vlan]) -> Value {
    json!({
        "id": r.id, "type": r.kind, "start_ip": r.start_ip, "end_ip": r.end_ip, "comment": r.comment,
        "subnet": subnets.iter().find(|s| s.id == r.subnet_id).map(|s| subnet_json(s, vlans)).unwrap_or(Value::Null),
        "user": null,
        "resource_uri": format!("{API}/ipranges/{}/", r.id),
    })
}

pub(crate) async fn fabrics(app: &App, r: &Req, u: &User) -> Res {
    let region = &app.region;
    if r.method == Method::POST {
        let p = r.params();
        let f = region
            .create_fabric(u, p.get("name"), p.get("class_type"))
            .await?;
        return ok_json(fabric_json(&f, &region.vlans(None).await?));
    }
    let vlans = region.vlans(None).await?;
    ok_json(Value::Array(
        region
            .fabrics()
            .await?
            .iter()
            .map(|f| fabric_json(f, &vlans))
            .collect(),
    ))
}

pub(crate) async fn fabric(app: &App, r: &Req, u: &User, id: &str) -> Res {
    let region = &app.region;
    let p = r.params();
    let f = match r.method {
        Method::PUT => {
            region
                .update_fabric(u, id, p.get("name"), p.get("class_type"))
                .await?
        }
        Method::DELETE => {
            region.delete_fabric(u, id).await?;
            return no_content();
        }
        _ => region.fabric(id).await?,
    };
    ok_json(fabric_json(&f, &region.vlans(None).await?))
}

pub(crate) async fn vlans(app: &App, r: &Req, u: &User, fid: &str) -> Res {
    let region = &app.region;
    let f = region.fabric(fid).await?;
    if r.method == Method::POST {
        let v = region.create_vlan(u, &f, &r.params()).await?;
        return ok_json(vlan_json(&v, &region.vlans(None).await?));
    }
    let all = region.vlans(None).await?;
    ok_json(Value::Array(
        all.iter()
            .filter(|v| v.fabric_id == f.id)
            .map(|v| vlan_json(v, &all))
            .collect(),
    ))
}

pub(crate) async fn vlan(app: &App, r: &Req, u: &User, fid: &str, vid: &str) -> Res {
    let region = &app.region;
    let v = region.vlan(fid, vid).await?;
    let v = match r.method {
        Method::PUT => region.update_vlan(u, &v, &r.params()).await?,
        Method::DELETE => {
            region.delete_vlan(u, &v).await?;
            return no_content();
        }
        _ => v,
    };
    ok_json(vlan_json(&v, &region.vlans(None).await?))
}

pub(crate) async fn subnets(app: &App, r: &Req, u: &User, id: Option<&str>) -> Res {
    let region = &app.region;
    let p = r.params();
    let s = match (id, &r.method) {
        (None, &Method::GET) => {
            let vlans = region.vlans(None).await?;
            return ok_json(Value::Array(
                region
                    .subnets()
                    .await?
                    .iter()
                    .map(|s| subnet_json(s, &vlans))
                    .collect(),
            ));
        }
        (None, &Method::POST) => region.create_subnet(u, &p).await?,
        (Some(id), &Method::GET) => {
            let s = region.subnet(id).await?;
            if let Some(op) = r.op() {
                return subnet_op(app, r, &s, op).await;
            }
            s
        }
        (Some(id), &Method::PUT) => {
            let s = region.subnet(id).await?;
            region.update_subnet(u, s.id, &p).await?
        }
        (Some(id), &Method::DELETE) => {
            region.delete_subnet(u, id).await?;
            return no_content();
        }
        (Some(id), _) => {
            region.subnet(id).await?;
            return Err(unknown_op(r));
        }
        _ => return Err(unknown_op(r)),
    };
    ok_json(subnet_json(&s, &region.vlans(None).await?))
}

/// A count of addresses as JSON: a number, however large (an IPv6 /48 has 2^80).
fn count(n: u128) -> Value {
    match u64::try_from(n) {
        Ok(n) => json!(n),
        Err(_) => json!(n as f64),
    }
}

fn span_json(s: &Span, with_purpose: bool) -> Value {
    let mut j = json!({"start": s.start, "end": s.end, "num_addresses": count(s.num_addresses)});
    if with_purpose {
        j["purpose"] = json!(s.purpose);
    }
    j
}

/// `subnets/{id}/?op=reserved_ip_ranges|unreserved_ip_ranges|statistics|ip_addresses`.
async fn subnet_op(app: &App, r: &Req, s: &Subnet, op: &str) -> Res {
    let region = &app.region;
    let p = r.params();
    let flag = |name: &str, default: bool| -> Result<bool, ApiError> {
        Ok(p.get_bool(name)
            .map_err(ingot_region::RegionError::from)?
            .unwrap_or(default))
    };
    match op {
        "reserved_ip_ranges" => ok_json(Value::Array(
            region
                .subnet_reserved_ranges(s)
                .await?
                .iter()
                .map(|x| span_json(x, true))
                .collect(),
        )),
        "unreserved_ip_ranges" => ok_json(Value::Array(
            region
                .subnet_unreserved_ranges(s)
                .await?
                .iter()
                .map(|x| span_json(x, false))
                .collect(),
        )),
        "statistics" => {
            let st = region.subnet_statistics(s).await?;
            let mut j = json!({
                "num_available": count(st.num_available),
                "largest_available": count(st.largest_available),
                "num_unavailable": count(st.num_unavailable),
                "total_addresses": count(st.total_addresses),
                "usage": st.usage(),
                "usage_string": percent(st.usage()),
                "available_string": percent(st.available()),
                "first_address": st.first_address,
                "last_address": st.last_address,
                "ip_version": st.ip_version,
            });
            if flag("include_ranges", false)? {
                j["ranges"] = st.ranges.iter().map(|x| span_json(x, true)).collect();
            }
            if flag("include_suggestions", false)? {
                j["suggested_gateway"] = json!(st.suggested_gateway);
                j["suggested_dynamic_range"] = st
                    .suggested_dynamic_range
                    .as_ref()
                    .map(|x| span_json(x, true))
                    .unwrap_or(Value::Null);
            }
            ok_json(j)
        }
        "ip_addresses" => {
            let (with_user, with_summary) =
                (flag("with_username", true)?, flag("with_summary", true)?);
            ok_json(Value::Array(
                region
                    .subnet_addresses(s)
                    .await?
                    .iter()
                    .map(|a| {
                        let t = crate::render::iso_time(a.created);
                        let mut j = json!({"ip": a.ip, "alloc_type": a.alloc_type, "created": t, "updated": t});
                        if with_user {
                            j["user"] = json!(a.username);
                        }
                        if let (true, Some(n)) = (with_summary, &a.node) {
                            j["node_summary"] = json!({
                                "system_id": n.system_id, "hostname": n.hostname,
                                "fqdn": format!("{}.{}", n.hostname, n.domain),
                                "node_type": n.node_type, "is_container": false, "via": n.via,
                            });
                        }
                        j
                    })
                    .collect(),
            ))
        }
        _ => Err(unknown_op(r)),
    }
}

pub(crate) async fn ipranges(app: &App, r: &Req, u: &User, id: Option<&str>) -> Res {
    let region = &app.region;
    let p = r.params();
    let ranges = match (id, &r.method) {
        (None, &Method::GET) => region.ipranges().await?,
        (None, &Method::POST) => {
            vec![region.create_iprange(u, &p).await?]
        }
        (Some(id), &Method::GET) => vec![region.iprange(id).await?],
        (Some(id), &Method::PUT) => {
            let x = region.iprange(id).await?;
            vec![region.update_iprange(u, x.id, &p).await?]
        }
        (Some(id), &Method::DELETE) => {
            region.delete_iprange(u, id).await?;
            return no_content();
        }
        (Some(id), _) => {
            region.iprange(id).await?;
            return Err(unknown_op(r));
        }
        _ => return Err(unknown_op(r)),
    };
    let (subnets, vlans) = (region.subnets().await?, region.vlans(None).await?);
    let mut out: Vec<Value> = ranges
        .iter()
        .map(|x| range_json(x, &subnets, &vlans))
        .collect();
    if id.is_none() && r.method == Method::GET {
        ok_json(Value::Array(out))
    } else {
        ok_json(out.pop().unwrap_or(Value::Null))
    }
}

fn route_json(x: &StaticRoute, subnets: &[Subnet], vlans: &[Vlan]) -> Value {
    let subnet = |id: i64| {
        subnets
            .iter()
            .find(|s| s.id == id)
            .map(|s| subnet_json(s, vlans))
            .unwrap_or(Value::Null)
    };
    json!({
        "id": x.id, "source": subnet(x.source_id), "destination": subnet(x.destination_id),
        "gateway_ip": x.gateway_ip, "metric": x.metric,
        "resource_uri": format!("{API}/static-routes/{}/", x.id),
    })
}

pub(crate) async fn static_routes(app: &App, r: &Req, u: &User, id: Option<&str>) -> Res {
    let region = &app.region;
    let p = r.params();
    let render = |x: StaticRoute| async move {
        let (subnets, vlans) = (region.subnets().await?, region.vlans(None).await?);
        Ok::<Value, ApiError>(route_json(&x, &subnets, &vlans))
    };
    match (id, &r.method) {
        (None, &Method::GET) => {
            let (subnets, vlans) = (region.subnets().await?, region.vlans(None).await?);
            ok_json(Value::Array(
                app.region
                    .static_routes()
                    .await?
                    .iter()
                    .map(|x| route_json(x, &subnets, &vlans))
                    .collect(),
            ))
        }
        (None, &Method::POST) => {
            ok_json(render(app.region.create_static_route(u, &p).await?).await?)
        }
        (Some(id), m) => {
            let id = forms_id(id)?;
            match *m {
                Method::GET => ok_json(render(app.region.static_route(id).await?).await?),
                Method::PUT => {
                    ok_json(render(app.region.update_static_route(u, id, &p).await?).await?)
                }
                Method::DELETE => {
                    app.region.delete_static_route(u, id).await?;
                    no_content()
                }
                _ => Err(unknown_op(r)),
            }
        }
        _ => Err(unknown_op(r)),
    }
}

fn staticip_json(x: &StaticIp, owner: Option<&User>, subnets: &[Subnet], vlans: &[Vlan]) -> Value {
    json!({
        "ip": x.ip, "alloc_type": x.alloc_type,
        "alloc_type_name": if x.alloc_type == ALLOC_USER_RESERVED { "User reserved" } else { "Automatic" },
        "created": crate::render::iso_time(x.created),
        "subnet": subnets.iter().find(|s| s.id == x.subnet_id).map(|s| subnet_json(s, vlans)).unwrap_or(Value::Null),
        "owner": owner.map(|u| json!({"username": u.username, "resource_uri": format!("{API}/users/{}/", u.username)})),
        "interface_set": [],
        "mac_address": x.mac, "hostname": x.hostname,
        "resource_uri": format!("{API}/ipaddresses/"),
    })
}

/// `ipaddresses/`: read (own reservations; admins `all=true`), `op=reserve`, `op=release`.
pub(crate) async fn ipaddresses(app: &App, r: &Req, u: &User) -> Res {
    let region = &app.region;
    let p = r.params();
    let (subnets, vlans) = (region.subnets().await?, region.vlans(None).await?);
    match (&r.method, r.op()) {
        (&Method::GET, None) => {
            let all = p.get("all").is_some_and(|v| v == "true" || v == "1");
            let out = region
                .user_reservations(u, all)
                .await?
                .iter()
                .map(|(x, owner)| staticip_json(x, owner.as_ref(), &subnets, &vlans))
                .collect();
            ok_json(Value::Array(out))
        }
        (&Method::POST, Some("reserve")) => {
            let x = region.reserve_ip(&p, u).await?;
            let subnets = region.subnets().await?;
            ok_json(staticip_json(&x, Some(u), &subnets, &vlans))
        }
        (&Method::POST, Some("release")) => {
            region.release_ip(&p, u).await?;
            no_content()
        }
        _ => Err(unknown_op(r)),
    }
}

/// One interface of a machine as MAAS shows it (read after any change to it).
async fn one_interface(app: &App, u: &User, sid: &str, iid: i64) -> Res {
    let m = app.region.node_for(u, sid).await?;
    let i = m
        .interfaces
        .iter()
        .find(|i| i.id == iid)
        .ok_or_else(|| not_found(format!("No interface {iid} on {sid}.")))?;
    let net = Net::for_machines(&app.region, std::slice::from_ref(&m)).await?;
    ok_json(
        serde_json::to_value(crate::render::interface_out(
            &m.system_id,
            i,
            &m.interfaces,
            &net,
        ))
        .unwrap_or(Value::Null),
    )
}

/// `nodes/{id}/interfaces/` and `nodes/{id}/interfaces/{iface}/`: read, create, update and
/// delete, the links (`link_subnet`, `unlink_subnet`, `disconnect`: how the interface is
/// configured when the machine is deployed), the default gateway and tags.
pub(crate) async fn interfaces(app: &App, r: &Req, u: &User, sid: &str, id: Option<&str>) -> Res {
    let p = r.params();
    let iface_id = id.map(forms_id).transpose()?;
    match (&r.method, r.op(), iface_id) {
        (&Method::GET, None, None) => {
            let m = app.region.node_for(u, sid).await?;
            let net = Net::for_machines(&app.region, std::slice::from_ref(&m)).await?;
            let out: Vec<Value> = m
                .interfaces
                .iter()
                .map(|i| {
                    serde_json::to_value(crate::render::interface_out(
                        &m.system_id,
                        i,
                        &m.interfaces,
                        &net,
                    ))
                    .unwrap_or(Value::Null)
                })
                .collect();
            ok_json(Value::Array(out))
        }
        (&Method::GET, None, Some(iid)) => one_interface(app, u, sid, iid).await,
        (&Method::POST, Some(op @ ("create_bond" | "create_vlan" | "create_bridge")), None) => {
            let kind = match op {
                "create_bond" => VirtualKind::Bond,
                "create_vlan" => VirtualKind::Vlan,
                _ => VirtualKind::Bridge,
            };
            let iid = app.region.create_interface(u, sid, kind, &p).await?;
            one_interface(app, u, sid, iid).await
        }
        (&Method::POST, Some("create_physical"), None) => {
            let iid = app.region.create_physical_interface(u, sid, &p).await?;
            one_interface(app, u, sid, iid).await
        }
        (&Method::PUT, None, Some(iid)) => {
            app.region.update_interface(u, sid, iid, &p).await?;
            one_interface(app, u, sid, iid).await
        }
        (&Method::DELETE, None, Some(iid)) => {
            app.region.delete_interface(u, sid, iid).await?;
            no_content()
        }
        (&Method::POST, Some(op), Some(iid)) => {
            let region = &app.region;
            match op {
                "link_subnet" => drop(region.link_subnet(u, sid, iid, &p).await?),
                "unlink_subnet" => region.unlink_subnet(u, sid, iid, &p).await?,
                "disconnect" => region.disconnect_interface(u, sid, iid).await?,
                "set_default_gateway" => region.set_default_gateway(u, sid, iid, &p).await?,
                "add_tag" => region.tag_interface(u, sid, iid, &p, true).await?,
                "remove_tag" => region.tag_interface(u, sid, iid, &p, false).await?,
                _ => return Err(unknown_op(r)),
            }
            one_interface(app, u, sid, iid).await
        }
        _ => Err(unknown_op(r)),
    }
}

/// `GET netboot-timeline/?mac=…`: every recorded hop of a MAC's network boots, oldest first.
pub(crate) async fn timeline(app: &App, r: &Req, u: &User) -> Res {
    if r.method != Method::GET {
        return Err(unknown_op(r));
    }
    let p = r.params();
    let evs = app
        .region
        .netboot_timeline(u, p.get("mac"), p.get_i64("limit")?)
        .await?;
    ok_json(Value::Array(
        evs.iter()
            .map(|e| json!({"id": e.id, "mac": e.mac, "hop": e.kind, "detail": e.detail, "created": crate::render::event_time(e.created)}))
            .collect(),
    ))
}

/// A space as MAAS shows it: its VLANs and their subnets.
fn space_json(sp: &Space, vlans: &[Vlan], subnets: &[Subnet]) -> Value {
    let mine: Vec<&Vlan> = vlans.iter().filter(|v| v.space_id == Some(sp.id)).collect();
    json!({
        "id": sp.id, "name": sp.name, "description": sp.description,
        "vlans": mine.iter().map(|v| vlan_json(v, vlans)).collect::<Vec<_>>(),
        "subnets": subnets
            .iter()
            .filter(|s| mine.iter().any(|v| v.id == s.vlan_id))
            .map(|s| subnet_json(s, vlans))
            .collect::<Vec<_>>(),
        "resource_uri": format!("{API}/spaces/{}/", sp.id),
    })
}

/// `spaces/` and `spaces/{id}/`: list, create, read, update, delete.
pub(crate) async fn spaces(app: &App, r: &Req, u: &User, id: Option<&str>) -> Res {
    let region = &app.region;
    let p = r.params();
    let sp = match (id, &r.method) {
        (None, &Method::GET) => {
            let (vlans, subnets) = (region.vlans(None).await?, region.subnets().await?);
            return ok_json(Value::Array(
                region
                    .spaces()
                    .await?
                    .iter()
                    .map(|s| space_json(s, &vlans, &subnets))
                    .collect(),
            ));
        }
        (None, _) => region.create_space(u, &p).await?,
        (Some(id), &Method::PUT) => region.update_space(u, id, &p).await?,
        (Some(id), &Method::DELETE) => {
            region.delete_space(u, id).await?;
            return no_content();
        }
        (Some(id), _) => region.space(id).await?,
    };
    ok_json(space_json(
        &sp,
        &region.vlans(None).await?,
        &region.subnets().await?,
    ))
}
