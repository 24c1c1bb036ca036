//! `boot-sources/` and `boot-sources/{id}/selections/` in MAAS 2.0's shape: the simplestreams
//! mirrors images are imported from (`boot-resources/?op=import`), the keyring their signed
//! files are checked against, and which OS / release / architectures to import.

use crate::{bad, no_content, ok_json, render, App, Req, Res};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use ingot_region::model::User;
use ingot_region::model::{BootSource, BootSourceSelection};
use serde_json::{json, Value};

fn ms_to_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string())
        .unwrap_or_default()
}

fn render_source(s: &BootSource) -> Value {
    json!({
        "id": s.id, "url": s.url, "keyring_filename": s.keyring_filename,
        "keyring_data": s.keyring_data, "created": ms_to_time(s.created),
        "updated": ms_to_time(s.updated),
        "resource_uri": format!("{}/boot-sources/{}/", render::API, s.id),
    })
}

fn render_selection(s: &BootSourceSelection) -> Value {
    json!({
        "id": s.id, "boot_source_id": s.boot_source_id, "os": s.os, "release": s.release,
        "arches": s.arches, "subarches": s.subarches, "labels": s.labels,
        "resource_uri": format!("{}/boot-sources/{}/selections/{}/", render::API, s.boot_source_id, s.id),
    })
}

/// The keyring sent as a file part, if it was.
fn keyring_file(r: &Req) -> Option<&[u8]> {
    r.files
        .iter()
        .find(|f| f.name == "keyring_data")
        .map(|f| &f.data[..])
}

/// `boot-sources/`
pub(crate) async fn collection(app: &App, r: &Req, u: &User) -> Res {
    match (&r.method, r.op()) {
        (&Method::GET, None) => {
            let all = app.region.boot_sources(u).await?;
            ok_json(Value::Array(all.iter().map(render_source).collect()))
        }
        (&Method::POST, None) => {
            let saved = app
                .region
                .create_boot_source(u, &r.params(), keyring_file(r))
                .await?;
            Ok((StatusCode::CREATED, axum::Json(render_source(&saved))).into_response())
        }
        _ => Err(crate::unknown_op(r)),
    }
}

/// `boot-sources/{id}/`
pub(crate) async fn item(app: &App, r: &Req, u: &User, id: &str) -> Res {
    match (&r.method, r.op()) {
        (&Method::GET, None) => ok_json(render_source(&app.region.boot_source(u, id).await?)),
        (&Method::PUT, None) => ok_json(render_source(
            &app.region
                .update_boot_source(u, id, &r.params(), keyring_file(r))
                .await?,
        )),
        (&Method::DELETE, None) => {
            app.region.delete_boot_source(u, id).await?;
            no_content()
        }
        _ => Err(crate::unknown_op(r)),
    }
}

/// `boot-sources/{id}/selections/` and `…/selections/{id}/`
pub(crate) async fn selections(
    app: &App,
    r: &Req,
    u: &User,
    source: &str,
    id: Option<&str>,
) -> Res {
    let src = app.region.boot_source(u, source).await?;
    let Some(id) = id else {
        return match (&r.method, r.op()) {
            (&Method::GET, None) => {
                let all = app.region.boot_source_selections(u, &src).await?;
                ok_json(Value::Array(all.iter().map(render_selection).collect()))
            }
            (&Method::POST, None) => {
                let saved = app
                    .region
                    .create_boot_source_selection(u, &src, &r.params())
                    .await?;
                Ok((StatusCode::CREATED, axum::Json(render_selection(&saved))).into_response())
            }
            _ => Err(crate::unknown_op(r)),
        };
    };
    let s = app.region.boot_source_selection(u, &src, id).await?;
    match (&r.method, r.op()) {
        (&Method::GET, None) => ok_json(render_selection(&s)),
        (&Method::PUT, None) => ok_json(render_selection(
            &app.region
                .update_boot_source_selection(u, s, &r.params())
                .await?,
        )),
        (&Method::DELETE, None) => {
            app.region.delete_boot_source_selection(u, &s).await?;
            no_content()
        }
        _ => Err(bad("Unknown operation on a boot source selection.")),
    }
}
