//! The interface rack controllers use: their configuration from the region (the region's
//! database is the one source of truth) and the netboot hops they saw. Authenticated by the
//! shared rack secret (`Authorization: Bearer <secret>`), compared in constant time.

use crate::{bad, ApiError, App, Req, Res};
use axum::http::Method;
use ingot_core::net::Cidr;
use ingot_region::RegionError;
use serde_json::json;

pub use ingot_core::rack::{RackConfig, RackEvent, RackHost, RackSubnet};

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn check_secret(app: &App, r: &Req) -> Result<(), ApiError> {
    let given = r
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let want = app
        .region
        .store
        .get_setting("rack_secret")
        .await?
        .unwrap_or_default();
    if want.is_empty() || !constant_eq(given.trim().as_bytes(), want.as_bytes()) {
        return Err(ApiError(RegionError::Unauthorized(
            "A rack controller must present the region's rack secret.".into(),
        )));
    }
    Ok(())
}

/// Build the configuration racks serve, from the network model and the machines.
pub async fn rack_config(app: &App, region_url: &str) -> Result<RackConfig, ApiError> {
    let st = &app.region.store;
    let vlans = st.vlans(None).await?;
    let mut subnets = Vec::new();
    for s in st.subnets().await? {
        if Cidr::parse(&s.cidr).is_err() {
            continue;
        }
        let v = vlans.iter().find(|v| v.id == s.vlan_id);
        let ranges = st.ipranges(Some(s.id)).await?;
        let pick = |kind: &str| {
            ranges
                .iter()
                .filter(|r| r.kind == kind)
                .map(|r| (r.start_ip.clone(), r.end_ip.clone()))
                .collect::<Vec<_>>()
        };
        subnets.push(RackSubnet {
            cidr: s.cidr.clone(),
            gateway_ip: s.gateway_ip.clone(),
            dns_servers: s.dns_servers.clone(),
            vid: v.map(|v| v.vid).unwrap_or(0),
            dhcp_on: v.is_some_and(|v| v.dhcp_on) && s.managed,
            dynamic_ranges: pick("dynamic"),
            reserved_ranges: pick("reserved"),
        });
    }
    let mut hosts: Vec<RackHost> = st
        .interface_owners()
        .await?
        .into_iter()
        .map(|(mac, hostname, system_id)| RackHost {
            mac,
            hostname,
            system_id,
            ip: None,
        })
        .collect();
    // Host reservations: a reserved address with a MAC, for a machine's NIC or any MAC.
    for s in st.static_ips(None).await? {
        let Some(mac) = s.mac else { continue };
        match hosts.iter_mut().find(|h| h.mac == mac) {
            Some(h) => h.ip = Some(s.ip),
            None => hosts.push(RackHost {
                mac,
                hostname: s.hostname,
                system_id: String::new(),
                ip: Some(s.ip),
            }),
        }
    }
    let unknown_machines = st
        .get_setting("unknown_machines")
        .await?
        .unwrap_or_else(|| "enlist".into());
    Ok(RackConfig {
        subnets,
        hosts,
        unknown_machines,
        region_url: region_url.to_string(),
    })
}

pub(crate) async fn handle(app: &App, r: &Req, rest: &[&str]) -> Res {
    check_secret(app, r).await?;
    match (rest, &r.method) {
        (["config"], &Method::GET) => {
            // A rack names itself (`name`, `address`, `version`) when it reads its
            // configuration: that registers it, and every later read is its heartbeat.
            let p = r.params();
            if let Some(name) = p.get("name").map(str::trim).filter(|n| !n.is_empty()) {
                if name.len() > 255 || name.chars().any(|c| c.is_control()) {
                    return Err(bad("name: at most 255 printable characters"));
                }
                let address = p.get("address").unwrap_or_default().trim();
                if !address.is_empty() && address.parse::<std::net::IpAddr>().is_err() {
                    return Err(bad(format!("address: '{address}' is not an IP address")));
                }
                let version: String = p
                    .get("version")
                    .unwrap_or_default()
                    .chars()
                    .take(64)
                    .collect();
                app.region.store.rack_seen(name, address, &version).await?;
                // The host the rack runs on is a machine (controllers as machines).
                let host = ingot_region::controllers::ControllerHost {
                    hostname: name.to_string(),
                    hardware_uuid: p
                        .get("hardware_uuid")
                        .map(str::trim)
                        .filter(|u| !u.is_empty())
                        .map(str::to_string),
                    macs: p
                        .get_all("mac")
                        .into_iter()
                        .take(256)
                        .map(str::to_string)
                        .collect(),
                };
                // Serving the rack its configuration matters more: a failure here is logged
                // and tried again at the next read.
                if let Err(e) = app.region.register_rack(name, &host).await {
                    tracing::warn!("rack {name}: could not record its host as a machine: {e}");
                }
            }
            crate::ok_json(json!(rack_config(app, &format!("{}/MAAS", r.base)).await?))
        }
        (["events"], &Method::POST) => {
            let evs: Vec<RackEvent> = serde_json::from_slice(&r.raw).map_err(|e| {
                bad(format!(
                    "Expected a JSON array of {{mac, hop, detail}}: {e}"
                ))
            })?;
            if evs.len() > 10_000 {
                return Err(bad("At most 10,000 events per request."));
            }
            let mut n = 0;
            let mut macs = Vec::new();
            for e in evs {
                if let Some(mac) = ingot_core::ids::normalize_mac(&e.mac) {
                    let hop: String = e.hop.chars().take(32).collect();
                    let detail: String = e.detail.chars().take(1000).collect();
                    app.region.store.record_netboot(&mac, &hop, &detail).await?;
                    if !macs.contains(&mac) {
                        macs.push(mac);
                    }
                    n += 1;
                }
            }
            // A rack that names itself serves these machines: admission counts per rack.
            let p = r.params();
            if let Some(name) = p.get("name").map(str::trim).filter(|n| !n.is_empty()) {
                if name.len() > 255 || name.chars().any(|c| c.is_control()) {
                    return Err(bad("name: at most 255 printable characters"));
                }
                app.region.store.set_boot_rack(&macs, name).await?;
            }
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
    let links: std::collections::HashMap<String, Option<i64>> = {
        let mut m = std::collections::HashMap::new();
        for k in app.region.store.racks().await? {
            if let Some((_, id)) = app.region.store.rack_with_machine(&k.system_id).await? {
                m.insert(k.system_id.clone(), id);
            }
        }
        m
    };
    let mut machines: std::collections::HashMap<i64, String> = std::collections::HashMap::new();
    for id in links.values().flatten() {
        if let Some(m) = app.region.store.machine_by_id(*id).await? {
            machines.insert(*id, m.system_id);
        }
    }
    let now = ingot_store::now_ms();
    let racks = app.region.store.racks().await?;
    crate::ok_json(serde_json::Value::Array(
        racks
            .iter()
            .map(|k| {
                let alive = now - k.last_seen < 60_000;
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
                    "machine": links.get(&k.system_id).copied().flatten().and_then(|id| machines.get(&id)),
                })
            })
            .collect(),
    ))
}

/// `DELETE /MAAS/api/2.0/rackcontrollers/{id}/` (admin): forget the rack; its machine loses the
/// rack role (unlocked, or deleted when it has no BMC).
pub(crate) async fn rack_controller(
    app: &App,
    r: &Req,
    u: &ingot_store::User,
    system_id: &str,
) -> Res {
    match (&r.method, r.op()) {
        (&Method::DELETE, None) => {
            app.region.delete_rack_controller(u, system_id).await?;
            crate::no_content()
        }
        (&Method::GET, None) => {
            let (k, _) = app
                .region
                .store
                .rack_with_machine(system_id)
                .await?
                .ok_or_else(|| crate::not_found("No rack controller matches the given query."))?;
            crate::ok_json(
                json!({"system_id": k.system_id, "hostname": k.name, "node_type": 2,
                "node_type_name": "Rack controller", "version": k.version,
                "resource_uri": format!("{}/rackcontrollers/{}/", crate::render::API, k.system_id)}),
            )
        }
        _ => Err(crate::unknown_op(r)),
    }
}

fn region_json(m: &ingot_store::Machine) -> serde_json::Value {
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
    u: &ingot_store::User,
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
