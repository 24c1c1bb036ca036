//! `domains/`, `dnsresources/` and `dnsresourcerecords/` in MAAS's shapes, over the region's
//! DNS operations (`region/src/dns.rs`).

use crate::{no_content, ok_json, render, unknown_op, App, Req, Res};
use axum::http::Method;
use ingot_core::dns::fqdn;
use ingot_region::model::dns::{DnsRecord, DnsResource};
use ingot_region::model::{Domain, User};
use serde_json::{json, Value};

/// A DNS domain as MAAS shows it.
pub(crate) fn domain_json(d: &Domain) -> Value {
    json!({
        "id": d.id, "name": d.name, "authoritative": d.authoritative, "ttl": d.ttl,
        "is_default": d.is_default, "resource_record_count": d.records,
        "resource_uri": format!("{}/domains/{}/", render::API, d.id),
    })
}

fn record_json(x: &DnsRecord) -> Value {
    json!({
        "id": x.id, "fqdn": fqdn(&x.name, &x.domain), "ttl": x.ttl, "rrtype": x.rrtype,
        "rrdata": x.rrdata,
        "resource_uri": format!("{}/dnsresourcerecords/{}/", render::API, x.id),
    })
}

fn resource_json(r: &DnsResource, records: &[DnsRecord]) -> Value {
    json!({
        "id": r.id, "fqdn": fqdn(&r.name, &r.domain), "address_ttl": r.address_ttl,
        "ip_addresses": r.ips.iter().map(|ip| json!({"ip": ip, "alloc_type": 4, "alloc_type_name": "User reserved"})).collect::<Vec<_>>(),
        "resource_records": records.iter().filter(|x| x.dnsresource_id == r.id).map(record_json).collect::<Vec<_>>(),
        "resource_uri": format!("{}/dnsresources/{}/", render::API, r.id),
    })
}

/// The `domain`, `name` and `rrtype` filters of the DNS lists (`q`, the request's parameters,
/// read once per list): `types` are the record types the name has.
fn wanted(
    q: &ingot_wire::Params,
    domain: &str,
    domain_id: i64,
    name: &str,
    types: &[&str],
) -> bool {
    q.get("domain")
        .is_none_or(|d| d == domain || d == domain_id.to_string())
        && q.get("name").is_none_or(|n| n == name)
        && q.get("rrtype")
            .is_none_or(|t| types.iter().any(|x| x.eq_ignore_ascii_case(t)))
}

/// `domains/` and `domains/{id}/`.
pub(crate) async fn domains(app: &App, r: &Req, u: &User, id: Option<&str>) -> Res {
    let p = r.params();
    match (id, &r.method, r.op()) {
        (None, &Method::GET, None) => ok_json(Value::Array(
            app.region
                .domains()
                .await?
                .iter()
                .map(domain_json)
                .collect(),
        )),
        (None, &Method::POST, None) => {
            ok_json(domain_json(&app.region.create_domain(u, &p).await?))
        }
        (Some(id), &Method::GET, None) => ok_json(domain_json(&app.region.domain(id).await?)),
        (Some(id), &Method::PUT, None) => {
            ok_json(domain_json(&app.region.update_domain(u, id, &p).await?))
        }
        (Some(id), &Method::DELETE, None) => {
            app.region.delete_domain(u, id).await?;
            no_content()
        }
        (None, &Method::POST, Some("set_serial")) => {
            app.region
                .set_dns_serial(u, p.get("serial").unwrap_or_default())
                .await?;
            ok_json(Value::Null)
        }
        (Some(id), &Method::POST, Some("set_default")) => {
            ok_json(domain_json(&app.region.set_default_domain(u, id).await?))
        }
        (Some(id), _, _) => {
            app.region.domain(id).await?;
            Err(unknown_op(r))
        }
        _ => Err(unknown_op(r)),
    }
}

/// `dnsresources/` and `dnsresources/{id}/`.
pub(crate) async fn dnsresources(app: &App, r: &Req, u: &User, id: Option<&str>) -> Res {
    let p = r.params();
    let records = || app.region.dns_records();
    match (id, &r.method) {
        (None, &Method::GET) => {
            let recs = records().await?;
            ok_json(Value::Array(
                app.region
                    .dnsresources()
                    .await?
                    .iter()
                    .filter(|x| {
                        let types: Vec<&str> =
                            recs.iter()
                                .filter(|y| y.dnsresource_id == x.id)
                                .map(|y| y.rrtype.as_str())
                                .chain(x.ips.iter().map(|ip| {
                                    if ip.contains(':') {
                                        "AAAA"
                                    } else {
                                        "A"
                                    }
                                }))
                                .collect();
                        wanted(&p, &x.domain, x.domain_id, &x.name, &types)
                    })
                    .map(|x| resource_json(x, &recs))
                    .collect(),
            ))
        }
        (None, &Method::POST) => {
            let x = app.region.create_dnsresource(u, &p).await?;
            ok_json(resource_json(&x, &records().await?))
        }
        (Some(id), &Method::GET) => ok_json(resource_json(
            &app.region.dnsresource(id).await?,
            &records().await?,
        )),
        (Some(id), &Method::PUT) => {
            let x = app.region.update_dnsresource(u, id, &p).await?;
            ok_json(resource_json(&x, &records().await?))
        }
        (Some(id), &Method::DELETE) => {
            app.region.delete_dnsresource(u, id).await?;
            no_content()
        }
        _ => Err(unknown_op(r)),
    }
}

/// `dnsresourcerecords/` and `dnsresourcerecords/{id}/`.
pub(crate) async fn dnsresourcerecords(app: &App, r: &Req, u: &User, id: Option<&str>) -> Res {
    let p = r.params();
    match (id, &r.method) {
        (None, &Method::GET) => ok_json(Value::Array(
            app.region
                .dns_records()
                .await?
                .iter()
                .filter(|x| wanted(&p, &x.domain, x.domain_id, &x.name, &[x.rrtype.as_str()]))
                .map(record_json)
                .collect(),
        )),
        (None, &Method::POST) => ok_json(record_json(&app.region.create_dns_record(u, &p).await?)),
        (Some(id), &Method::GET) => ok_json(record_json(&app.region.dns_record(id).await?)),
        (Some(id), &Method::PUT) => {
            ok_json(record_json(&app.region.update_dns_record(u, id, &p).await?))
        }
        (Some(id), &Method::DELETE) => {
            app.region.delete_dns_record(u, id).await?;
            no_content()
        }
        _ => Err(unknown_op(r)),
    }
}
