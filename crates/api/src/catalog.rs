//! `tags/`, `zones/` and `resourcepools/`.

use crate::{machines_json, no_content, ok_json, render, unknown_op, App, Req, Res};
use axum::http::Method;
use ingot_region::forms;
use ingot_region::model::MachineFilter;
use ingot_region::model::NamedKind;
use ingot_region::model::User;
use ingot_wire::Params;
use serde_json::json;
use serde_json::Value;

/// What a tag request sends.
pub(crate) fn tag_fields(p: &Params) -> ingot_region::catalog::TagFields<'_> {
    ingot_region::catalog::TagFields {
        name: p.get("name"),
        comment: p.get("comment"),
        kernel_opts: p.get("kernel_opts"),
        definition: p.get("definition"),
    }
}

pub(crate) async fn tags(app: &App, r: &Req, u: &User) -> Res {
    match (&r.method, r.op()) {
        (&Method::GET, None) => ok_json(Value::Array(
            app.region
                .list_tags()
                .await?
                .iter()
                .map(render::tag)
                .collect(),
        )),
        (&Method::POST, None) => {
            let p = r.params();
            ok_json(render::tag(
                &app.region.create_tag(u, &tag_fields(&p)).await?,
            ))
        }
        _ => Err(unknown_op(r)),
    }
}

pub(crate) async fn tag_item(app: &App, r: &Req, u: &User, name: &str) -> Res {
    let p = r.params();
    match (&r.method, r.op()) {
        (&Method::GET, None) => ok_json(render::tag(&app.region.tag(name).await?)),
        (&Method::PUT, None) => {
            let t = app.region.update_tag(u, name, &tag_fields(&p)).await?;
            ok_json(render::tag(&t))
        }
        (&Method::DELETE, None) => {
            app.region.delete_tag(u, name).await?;
            no_content()
        }
        (&Method::GET, Some("machines")) | (&Method::GET, Some("nodes")) => {
            let t = app.region.tag(name).await?;
            let mut ms = app
                .region
                .list_machines(u, MachineFilter::default())
                .await?;
            ms.retain(|m| m.tags.contains(&t.name));
            machines_json(app, &ms).await
        }
        (&Method::GET, Some("devices")) => {
            let t = app.region.tag(name).await?;
            let mut ds = app.region.devices(u, MachineFilter::default()).await?;
            ds.retain(|d| d.tags.contains(&t.name));
            ok_json(crate::devices::devices_json(app, &ds).await?)
        }
        (&Method::GET, Some("region_controllers")) => {
            let t = app.region.tag(name).await?;
            let mut ms = app.region.region_controllers().await?;
            ms.retain(|m| m.tags.contains(&t.name));
            ok_json(Value::Array(
                ms.iter().map(crate::rack::region_json).collect(),
            ))
        }
        (&Method::GET, Some("rack_controllers")) => {
            let t = app.region.tag(name).await?;
            let tagged: std::collections::BTreeSet<String> = app
                .region
                .list_machines(u, MachineFilter::default())
                .await?
                .into_iter()
                .filter(|m| m.tags.contains(&t.name))
                .map(|m| m.system_id)
                .collect();
            let mut racks = app.region.rack_controllers().await?;
            racks.retain(|c| c.machine.as_ref().is_some_and(|m| tagged.contains(m)));
            ok_json(Value::Array(
                racks.iter().map(crate::rack::rack_json).collect(),
            ))
        }
        (&Method::POST, Some("rebuild")) => {
            let rebuilt = app.region.rebuild_tag(u, name).await?;
            ok_json(json!({ "rebuilding": rebuilt }))
        }
        (&Method::POST, Some("update_nodes")) => {
            let (add, remove) = (forms::list(&p, "add"), forms::list(&p, "remove"));
            let (added, removed) = app.region.tag_update_nodes(u, name, &add, &remove).await?;
            ok_json(json!({"added": added, "removed": removed}))
        }
        _ => {
            app.region.tag(name).await?;
            Err(unknown_op(r))
        }
    }
}

pub(crate) fn render_named(kind: NamedKind, n: &ingot_region::model::Named) -> Value {
    match kind {
        NamedKind::Zone => render::zone(n),
        NamedKind::Pool => render::pool(n),
    }
}

pub(crate) async fn named_coll(app: &App, r: &Req, u: &User, kind: NamedKind) -> Res {
    match (&r.method, r.op()) {
        (&Method::GET, None) => ok_json(Value::Array(
            app.region
                .list_named(kind)
                .await?
                .iter()
                .map(|n| render_named(kind, n))
                .collect(),
        )),
        (&Method::POST, None) => {
            let p = r.params();
            let n = app
                .region
                .create_named(
                    u,
                    kind,
                    p.get("name").unwrap_or_default(),
                    p.get("description").unwrap_or_default(),
                )
                .await?;
            ok_json(render_named(kind, &n))
        }
        _ => Err(unknown_op(r)),
    }
}

pub(crate) async fn named_item(app: &App, r: &Req, u: &User, kind: NamedKind, key: &str) -> Res {
    match (&r.method, r.op()) {
        (&Method::GET, None) => ok_json(render_named(kind, &app.region.named(kind, key).await?)),
        (&Method::PUT, None) => {
            let p = r.params();
            let n = app
                .region
                .update_named(u, kind, key, p.get("name"), p.get("description"))
                .await?;
            ok_json(render_named(kind, &n))
        }
        (&Method::DELETE, None) => {
            app.region.delete_named(u, kind, key).await?;
            no_content()
        }
        _ => {
            app.region.named(kind, key).await?;
            Err(unknown_op(r))
        }
    }
}
