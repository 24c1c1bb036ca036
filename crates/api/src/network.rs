//! `fabrics/`, `fabrics/{id}/vlans/`, `subnets/`, `ipranges/` in MAAS's shape, and Ingot's
//! `netboot-timeline/` (every network-boot hop, by MAC, known machine or not).

use crate::{
    bad, forms_id, need_admin, no_content, not_found, ok_json, unknown_op, ApiError, App, Req, Res,
};
use axum::http::Method;
use ingot_region::network::VirtualKind;
use ingot_region::RegionError;
use ingot_store::network::{Fabric, IpRange, StaticIp, Subnet, Vlan, ALLOC_USER_RESERVED};
use ingot_store::routes::StaticRoute;
use ingot_store::{StoreError, User};
use serde_json::{json, Value};

const API: &str = crate::render::API;

pub fn vlan_json(v: &Vlan) -> Value {
    json!({
        "id": v.id, "vid": v.vid, "name": v.name, "mtu": v.mtu, "fabric": v.fabric, "fabric_id": v.fabric_id,
        "dhcp_on": v.dhcp_on, "external_dhcp": null, "relay_vlan": null, "primary_rack": null,
        "secondary_rack": null, "space": "undefined",
        "resource_uri": format!("{API}/fabrics/{}/vlans/{}/", v.fabric_id, v.vid),
    })
}

fn fabric_json(f: &Fabric, vlans: &[Vlan]) -> Value {
    json!({
        "id": f.id, "name": f.name, "class_type": f.class_type,
        "vlans": vlans.iter().filter(|v| v.fabric_id == f.id).map(vlan_json).collect::<Vec<_>>(),
        "resource_uri": format!("{API}/fabrics/{}/", f.id),
    })
}

fn subnet_json(s: &Subnet, vlans: &[Vlan]) -> Value {
    json!({
        "id": s.id, "name": s.name, "cidr": s.cidr,
        "vlan": vlans.iter().find(|v| v.id == s.vlan_id).map(vlan_json).unwrap_or(Value::Null),
        "gateway_ip": s.gateway_ip, "dns_servers": s.dns_servers, "managed": s.managed,
        "active_discovery": false, "allow_dns": true, "allow_proxy": true, "rdns_mode": 2,
        "space": "undefined", "description": "",
        "resource_uri": format!("{API}/subnets/{}/", s.id),
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

fn dup(field: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::Duplicate(m) => ApiError(RegionError::field(field, m)),
        e => e.into(),
    }
}

pub(crate) async fn fabrics(app: &App, r: &Req, u: &User, rest: &[&str]) -> Res {
    let st = &app.region.store;
    let p = r.params();
    match (rest, &r.method) {
        ([], &Method::GET) => {
            let vlans = st.vlans(None).await?;
            ok_json(Value::Array(
                st.fabrics()
                    .await?
                    .iter()
                    .map(|f| fabric_json(f, &vlans))
                    .collect(),
            ))
        }
        ([], &Method::POST) => {
            need_admin(u)?;
            let n = st.fabrics().await?.len();
            let name = p
                .get("name")
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(String::from)
                .unwrap_or_else(|| format!("fabric-{n}"));
            let f = st
                .create_fabric(&name, p.get("class_type"))
                .await
                .map_err(dup("name"))?;
            ok_json(fabric_json(&f, &st.vlans(Some(f.id)).await?))
        }
        ([id], m) => {
            let id = forms_id(id)?;
            let f = st
                .fabrics()
                .await?
                .into_iter()
                .find(|f| f.id == id)
                .ok_or_else(|| not_found("No Fabric matches the given query."))?;
            match *m {
                Method::GET => ok_json(fabric_json(&f, &st.vlans(Some(id)).await?)),
                Method::PUT => {
                    need_admin(u)?;
                    st.update_fabric(
                        id,
                        p.get("name").unwrap_or(&f.name),
                        p.get("class_type").or(f.class_type.as_deref()),
                    )
                    .await
                    .map_err(dup("name"))?;
                    let f = st
                        .fabrics()
                        .await?
                        .into_iter()
                        .find(|f| f.id == id)
                        .ok_or_else(|| not_found("gone"))?;
                    ok_json(fabric_json(&f, &st.vlans(Some(id)).await?))
                }
                Method::DELETE => {
                    need_admin(u)?;
                    if id == 1 {
                        return Err(bad("The default fabric cannot be deleted."));
                    }
                    st.delete_fabric(id).await?;
                    no_content()
                }
                _ => Err(unknown_op(r)),
            }
        }
        ([fid, "vlans"], m) => {
            let fid = forms_id(fid)?;
            if !st.fabrics().await?.iter().any(|f| f.id == fid) {
                return Err(not_found("No Fabric matches the given query."));
            }
            match *m {
                Method::GET => ok_json(Value::Array(
                    st.vlans(Some(fid)).await?.iter().map(vlan_json).collect(),
                )),
                Method::POST => {
                    need_admin(u)?;
                    let vid = p.get_i64("vid")?.ok_or_else(|| {
                        ApiError(RegionError::field("vid", "This field is required."))
                    })?;
                    if !(1..=4094).contains(&vid) {
                        return Err(ApiError(RegionError::field(
                            "vid",
                            "VLAN ids are 1 to 4094 (0 is the untagged VLAN every fabric has).",
                        )));
                    }
                    let mtu = p.get_i64("mtu")?.unwrap_or(1500);
                    if !(552..=65535).contains(&mtu) {
                        return Err(ApiError(RegionError::field(
                            "mtu",
                            "MTU must be between 552 and 65535.",
                        )));
                    }
                    let v = st
                        .create_vlan(fid, vid, p.get("name").unwrap_or_default(), mtu)
                        .await
                        .map_err(dup("vid"))?;
                    ok_json(vlan_json(&v))
                }
                _ => Err(unknown_op(r)),
            }
        }
        ([fid, "vlans", vid], m) => {
            let (fid, vid) = (forms_id(fid)?, forms_id(vid)?);
            let v = st
                .vlans(Some(fid))
                .await?
                .into_iter()
                .find(|v| v.vid == vid)
                .ok_or_else(|| not_found("No VLAN matches the given query."))?;
            match *m {
                Method::GET => ok_json(vlan_json(&v)),
                Method::PUT => {
                    need_admin(u)?;
                    let mtu = p.get_i64("mtu")?.unwrap_or(v.mtu);
                    if !(552..=65535).contains(&mtu) {
                        return Err(ApiError(RegionError::field(
                            "mtu",
                            "MTU must be between 552 and 65535.",
                        )));
                    }
                    let dhcp_on = p.get_bool("dhcp_on")?.unwrap_or(v.dhcp_on);
                    app.region.set_vlan_dhcp(&v, dhcp_on).await?;
                    st.update_vlan(v.id, p.get("name").unwrap_or(&v.name), mtu, dhcp_on)
                        .await?;
                    ok_json(vlan_json(
                        &st.vlan_by_id(v.id)
                            .await?
                            .ok_or_else(|| not_found("gone"))?,
                    ))
                }
                Method::DELETE => {
                    need_admin(u)?;
                    if v.vid == 0 {
                        return Err(bad("The untagged VLAN of a fabric cannot be deleted."));
                    }
                    st.delete_vlan(v.id).await?;
                    no_content()
                }
                _ => Err(unknown_op(r)),
            }
        }
        _ => Err(not_found(format!("Unknown API endpoint: {}", r.path))),
    }
}

pub(crate) async fn subnets(app: &App, r: &Req, u: &User, id: Option<&str>) -> Res {
    let st = &app.region.store;
    let p = r.params();
    match (id, &r.method) {
        (None, &Method::GET) => {
            let vlans = st.vlans(None).await?;
            ok_json(Value::Array(
                st.subnets()
                    .await?
                    .iter()
                    .map(|s| subnet_json(s, &vlans))
                    .collect(),
            ))
        }
        (None, &Method::POST) => {
            need_admin(u)?;
            let s = app.region.create_subnet(&p).await?;
            ok_json(subnet_json(&s, &st.vlans(None).await?))
        }
        (Some(id), m) => {
            let id = forms_id(id)?;
            let s = st
                .subnet_by_id(id)
                .await?
                .ok_or_else(|| not_found("No Subnet matches the given query."))?;
            match *m {
                Method::GET => ok_json(subnet_json(&s, &st.vlans(None).await?)),
                Method::PUT => {
                    need_admin(u)?;
                    let s = app.region.update_subnet(id, &p).await?;
                    ok_json(subnet_json(&s, &st.vlans(None).await?))
                }
                Method::DELETE => {
                    need_admin(u)?;
                    st.delete_subnet(id).await?;
                    no_content()
                }
                _ => Err(unknown_op(r)),
            }
        }
        _ => Err(unknown_op(r)),
    }
}

pub(crate) async fn ipranges(app: &App, r: &Req, u: &User, id: Option<&str>) -> Res {
    let st = &app.region.store;
    let p = r.params();
    let render = |rs: Vec<IpRange>| async move {
        let (subnets, vlans) = (st.subnets().await?, st.vlans(None).await?);
        Ok::<Value, ApiError>(Value::Array(
            rs.iter().map(|x| range_json(x, &subnets, &vlans)).collect(),
        ))
    };
    match (id, &r.method) {
        (None, &Method::GET) => ok_json(render(st.ipranges(None).await?).await?),
        (None, &Method::POST) => {
            need_admin(u)?;
            let x = app.region.create_iprange(&p).await?;
            ok_json(render(vec![x]).await?[0].clone())
        }
        (Some(id), m) => {
            let id = forms_id(id)?;
            let x = st
                .iprange_by_id(id)
                .await?
                .ok_or_else(|| not_found("No IPRange matches the given query."))?;
            match *m {
                Method::GET => ok_json(render(vec![x]).await?[0].clone()),
                Method::PUT => {
                    need_admin(u)?;
                    let x = app.region.update_iprange(id, &p).await?;
                    ok_json(render(vec![x]).await?[0].clone())
                }
                Method::DELETE => {
                    need_admin(u)?;
                    st.delete_iprange(id).await?;
                    no_content()
                }
                _ => Err(unknown_op(r)),
            }
        }
        _ => Err(unknown_op(r)),
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
    let st = &app.region.store;
    let p = r.params();
    let render = |x: StaticRoute| async move {
        let (subnets, vlans) = (st.subnets().await?, st.vlans(None).await?);
        Ok::<Value, ApiError>(route_json(&x, &subnets, &vlans))
    };
    match (id, &r.method) {
        (None, &Method::GET) => {
            let (subnets, vlans) = (st.subnets().await?, st.vlans(None).await?);
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
            need_admin(u)?;
            ok_json(render(app.region.create_static_route(&p).await?).await?)
        }
        (Some(id), m) => {
            let id = forms_id(id)?;
            match *m {
                Method::GET => ok_json(render(app.region.static_route(id).await?).await?),
                Method::PUT => {
                    need_admin(u)?;
                    ok_json(render(app.region.update_static_route(id, &p).await?).await?)
                }
                Method::DELETE => {
                    need_admin(u)?;
                    app.region.delete_static_route(id).await?;
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
    let st = &app.region.store;
    let p = r.params();
    let (subnets, vlans) = (st.subnets().await?, st.vlans(None).await?);
    match (&r.method, r.op()) {
        (&Method::GET, None) => {
            let all = u.is_admin && p.get("all").is_some_and(|v| v == "true" || v == "1");
            let mut out = Vec::new();
            // User reservations only: machines' STATIC addresses show on their interfaces.
            for x in st
                .static_ips(None)
                .await?
                .into_iter()
                .filter(|x| x.alloc_type == ALLOC_USER_RESERVED)
            {
                if all || x.user_id == Some(u.id) {
                    let owner = match x.user_id {
                        Some(id) if id == u.id => Some(u.clone()),
                        Some(id) => st.user_by_id(id).await?,
                        None => None,
                    };
                    out.push(staticip_json(&x, owner.as_ref(), &subnets, &vlans));
                }
            }
            ok_json(Value::Array(out))
        }
        (&Method::POST, Some("reserve")) => {
            let x = app.region.reserve_ip(&p, u).await?;
            let subnets = st.subnets().await?;
            ok_json(staticip_json(&x, Some(u), &subnets, &vlans))
        }
        (&Method::POST, Some("release")) => {
            app.region.release_ip(&p, u).await?;
            no_content()
        }
        _ => Err(unknown_op(r)),
    }
}

/// One interface of a machine as MAAS shows it (read after any change to it).
async fn one_interface(app: &App, u: &User, sid: &str, iid: i64) -> Res {
    let m = app.region.machine_for(u, sid).await?;
    let i = m
        .interfaces
        .iter()
        .find(|i| i.id == iid)
        .ok_or_else(|| not_found(format!("No interface {iid} on {sid}.")))?;
    ok_json(
        serde_json::to_value(crate::render::interface_out(&m.system_id, i, &m.interfaces))
            .unwrap_or(Value::Null),
    )
}

/// `nodes/{id}/interfaces/` and `nodes/{id}/interfaces/{iface}/`: read, and `op=link_subnet` /
/// `op=unlink_subnet` (how the interface is configured when the machine is deployed).
pub(crate) async fn interfaces(app: &App, r: &Req, u: &User, sid: &str, id: Option<&str>) -> Res {
    let p = r.params();
    let iface_id = id.map(forms_id).transpose()?;
    match (&r.method, r.op(), iface_id) {
        (&Method::GET, None, None) => {
            let m = app.region.machine_for(u, sid).await?;
            let out: Vec<Value> = m
                .interfaces
                .iter()
                .map(|i| {
                    serde_json::to_value(crate::render::interface_out(
                        &m.system_id,
                        i,
                        &m.interfaces,
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
        (&Method::PUT, None, Some(iid)) => {
            app.region.update_interface(u, sid, iid, &p).await?;
            one_interface(app, u, sid, iid).await
        }
        (&Method::DELETE, None, Some(iid)) => {
            app.region.delete_interface(u, sid, iid).await?;
            no_content()
        }
        (&Method::POST, Some(op @ ("link_subnet" | "unlink_subnet")), Some(iid)) => {
            if op == "link_subnet" {
                app.region.link_subnet(u, sid, iid, &p).await?;
            } else {
                app.region.unlink_subnet(u, sid, iid, &p).await?;
            }
            one_interface(app, u, sid, iid).await
        }
        _ => Err(unknown_op(r)),
    }
}

/// `GET netboot-timeline/?mac=…`: every recorded hop of a MAC's network boots, oldest first.
pub(crate) async fn timeline(app: &App, r: &Req, u: &User) -> Res {
    need_admin(u)?;
    if r.method != Method::GET {
        return Err(unknown_op(r));
    }
    let p = r.params();
    let raw = p
        .get("mac")
        .ok_or_else(|| ApiError(RegionError::field("mac", "This field is required.")))?;
    let mac = ingot_core::ids::normalize_mac(raw).ok_or_else(|| {
        ApiError(RegionError::field(
            "mac",
            format!("'{raw}' is not a MAC address."),
        ))
    })?;
    let limit = p.get_i64("limit")?.unwrap_or(500).clamp(1, 5000);
    let evs = app.region.store.netboot_timeline(&mac, limit).await?;
    ok_json(Value::Array(
        evs.iter()
            .map(|e| json!({"id": e.id, "mac": e.mac, "hop": e.kind, "detail": e.detail, "created": crate::render::event_time(e.created)}))
            .collect(),
    ))
}
