//! `events/?op=query`, with MAAS's paging links.

use crate::{machine_filter, ok_json, render, unknown_op, ApiError, App, Req, Res};
use axum::http::Method;
use ingot_region::forms;
use ingot_region::model::User;
use ingot_region::RegionError;
use ingot_wire::Params;
use serde_json::json;

pub(crate) const LEVELS: &[&str] = &["DEBUG", "INFO", "WARNING", "ERROR"];

pub(crate) async fn events(app: &App, r: &Req, u: &User) -> Res {
    if r.method != Method::GET || r.op() != Some("query") {
        return Err(unknown_op(r));
    }
    let p = r.params();
    let level = p.get("level").unwrap_or("INFO").to_ascii_uppercase();
    let levels: Vec<&str> = if level == "AUDIT" {
        vec!["AUDIT"]
    } else {
        let i = LEVELS.iter().position(|l| *l == level).ok_or_else(|| {
            ApiError(RegionError::field(
                "level",
                format!(
                    "'{level}' is not a valid level: use DEBUG, INFO, WARNING, ERROR or AUDIT."
                ),
            ))
        })?;
        LEVELS[i..].to_vec()
    };
    let limit = p.get_i64("limit")?.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError(RegionError::field(
            "limit",
            "Must be between 1 and 1000.",
        )));
    }
    let before = p.get_i64("before")?;
    let after = p.get_i64("after")?;
    let mut ids = forms::list(&p, "id");
    let hostnames = forms::list(&p, "hostname");
    let macs = forms::list(&p, "mac_address");
    if !hostnames.is_empty() || !macs.is_empty() || !u.is_admin {
        let (f, _, _) = machine_filter(&Params::from_iter(
            hostnames
                .iter()
                .map(|h| ("hostname".to_string(), h.clone().into_bytes()))
                .chain(
                    macs.iter()
                        .map(|m| ("mac_address".to_string(), m.clone().into_bytes())),
                ),
        ))?;
        let visible: Vec<String> = app
            .region
            .list_machines(u, f)
            .await?
            .into_iter()
            .map(|m| m.system_id)
            .collect();
        if ids.is_empty() {
            ids = visible;
        } else {
            ids.retain(|i| visible.contains(i));
        }
        if ids.is_empty() {
            return ok_json(json!({"count": 0, "events": [], "next_uri": null, "prev_uri": null}));
        }
    }
    let evs = app
        .region
        .events(&ids, &levels, before, after, limit)
        .await?;
    let q = |k: &str, v: i64| {
        let mut qp: Vec<(String, String)> = vec![
            ("op".into(), "query".into()),
            ("level".into(), level.clone()),
            ("limit".into(), limit.to_string()),
        ];
        for i in &ids {
            qp.push(("id".into(), i.clone()));
        }
        qp.push((k.into(), v.to_string()));
        let pairs: Vec<(&str, &str)> = qp.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        format!(
            "{}{}/events/?{}",
            r.base,
            render::API,
            ingot_wire::encode_urlencoded(&pairs)
        )
    };
    let next = evs.last().map(|e| q("before", e.id));
    let prev = evs.first().map(|e| q("after", e.id));
    ok_json(
        json!({"count": evs.len(), "events": evs.iter().map(render::event).collect::<Vec<_>>(), "next_uri": next, "prev_uri": prev}),
    )
}
