//! `boot-sources/` and `boot-sources/{id}/selections/` in MAAS 2.0's shape: the simplestreams
//! mirrors images are imported from (`boot-resources/?op=import`), the keyring their signed
//! files are checked against, and which OS / release / architectures to import.

use crate::{bad, need_admin, no_content, ok_json, render, ApiError, App, Req, Res};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use base64::Engine;
use ingot_region::model::User;
use ingot_region::model::{BootSource, BootSourceSelection};
use ingot_region::{FieldErrors, Region};
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

/// The keyring as given: a file part, or a parameter holding base64 or an armored key.
fn keyring_param(r: &Req, fe: &mut FieldErrors) -> Option<Vec<u8>> {
    let raw: Vec<u8> = if let Some(f) = r.files.iter().find(|f| f.name == "keyring_data") {
        f.data.to_vec()
    } else {
        r.params().get_bytes("keyring_data")?.to_vec()
    };
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Some(Vec::new());
    }
    let bytes = if raw.starts_with(b"-----BEGIN PGP") || !raw.is_ascii() {
        raw
    } else {
        let text: String = String::from_utf8_lossy(&raw)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        match base64::engine::general_purpose::STANDARD.decode(text) {
            Ok(b) => b,
            Err(_) => raw,
        }
    };
    if let Err(e) = Region::check_keyring(&bytes) {
        if let ingot_region::RegionError::Fields(m) = e {
            for (k, v) in m {
                for msg in v {
                    fe.add(&k, msg);
                }
            }
        }
        return None;
    }
    Some(bytes)
}

fn valid_url(u: &str) -> bool {
    (u.starts_with("http://") || u.starts_with("https://")) && u.len() > "https://".len()
}

/// Apply a form to a source (create when `s.id` is 0).
fn source_form(r: &Req, s: &mut BootSource, creating: bool) -> Result<(), ApiError> {
    let p = r.params();
    let mut fe = FieldErrors::default();
    match p.get("url").map(str::trim) {
        Some(u) if valid_url(u) => s.url = u.to_string(),
        Some(u) => fe.add("url", format!("'{u}' is not an http:// or https:// URL.")),
        None if creating => fe.add("url", "This field is required."),
        None => {}
    }
    if let Some(f) = p.get("keyring_filename") {
        let f = f.trim();
        if !f.is_empty() && !std::path::Path::new(f).is_file() {
            fe.add(
                "keyring_filename",
                format!("'{f}' is not a file on the region."),
            );
        }
        s.keyring_filename = f.to_string();
    }
    if let Some(k) = keyring_param(r, &mut fe) {
        s.keyring_data = base64::engine::general_purpose::STANDARD.encode(k);
    }
    fe.check().map_err(ApiError)?;
    Ok(())
}

/// `boot-sources/`
pub(crate) async fn collection(app: &App, r: &Req, u: &User) -> Res {
    need_admin(u)?;
    match (&r.method, r.op()) {
        (&Method::GET, None) => {
            let all = app.region.boot_sources(u).await?;
            ok_json(Value::Array(all.iter().map(render_source).collect()))
        }
        (&Method::POST, None) => {
            let mut s = BootSource {
                id: 0,
                url: String::new(),
                keyring_filename: String::new(),
                keyring_data: String::new(),
                created: 0,
                updated: 0,
            };
            source_form(r, &mut s, true)?;
            let saved = app.region.put_boot_source(u, &s).await?;
            Ok((StatusCode::CREATED, axum::Json(render_source(&saved))).into_response())
        }
        _ => Err(crate::unknown_op(r)),
    }
}

/// `boot-sources/{id}/`
pub(crate) async fn item(app: &App, r: &Req, u: &User, id: &str) -> Res {
    need_admin(u)?;
    let mut s = app.region.boot_source(u, id).await?;
    match (&r.method, r.op()) {
        (&Method::GET, None) => ok_json(render_source(&s)),
        (&Method::PUT, None) => {
            source_form(r, &mut s, false)?;
            ok_json(render_source(&app.region.put_boot_source(u, &s).await?))
        }
        (&Method::DELETE, None) => {
            app.region.delete_boot_source(u, id).await?;
            no_content()
        }
        _ => Err(crate::unknown_op(r)),
    }
}

fn list_param(p: &ingot_wire::Params, name: &str) -> Option<Vec<String>> {
    let all = p.get_all(name);
    if all.is_empty() {
        return None;
    }
    let v: Vec<String> = all
        .iter()
        .flat_map(|s| s.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    Some(if v.is_empty() { vec!["*".into()] } else { v })
}

fn selection_form(r: &Req, s: &mut BootSourceSelection, creating: bool) -> Result<(), ApiError> {
    let p = r.params();
    let mut fe = FieldErrors::default();
    let name_ok = |v: &str| {
        v == "*"
            || (!v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)))
    };
    for (field, slot) in [("os", &mut s.os), ("release", &mut s.release)] {
        match p.get(field).map(str::trim) {
            Some(v) if name_ok(v) => *slot = v.to_string(),
            Some(v) => fe.add(field, format!("'{v}' is not a valid {field}.")),
            None if creating => fe.add(field, "This field is required."),
            None => {}
        }
    }
    for (field, slot) in [
        ("arches", &mut s.arches),
        ("subarches", &mut s.subarches),
        ("labels", &mut s.labels),
    ] {
        if let Some(v) = list_param(&p, field) {
            if let Some(bad) = v.iter().find(|x| !name_ok(x)) {
                fe.add(field, format!("'{bad}' is not a valid value."));
            }
            *slot = v;
        }
    }
    fe.check().map_err(ApiError)?;
    Ok(())
}

/// `boot-sources/{id}/selections/` and `…/selections/{id}/`
pub(crate) async fn selections(
    app: &App,
    r: &Req,
    u: &User,
    source: &str,
    id: Option<&str>,
) -> Res {
    need_admin(u)?;
    let src = app.region.boot_source(u, source).await?;
    let Some(id) = id else {
        return match (&r.method, r.op()) {
            (&Method::GET, None) => {
                let all = app.region.boot_source_selections(u, &src).await?;
                ok_json(Value::Array(all.iter().map(render_selection).collect()))
            }
            (&Method::POST, None) => {
                let mut s = BootSourceSelection {
                    id: 0,
                    boot_source_id: src.id,
                    os: String::new(),
                    release: String::new(),
                    arches: vec!["*".into()],
                    subarches: vec!["*".into()],
                    labels: vec!["*".into()],
                };
                selection_form(r, &mut s, true)?;
                let saved = app.region.put_boot_source_selection(u, &s).await?;
                Ok((StatusCode::CREATED, axum::Json(render_selection(&saved))).into_response())
            }
            _ => Err(crate::unknown_op(r)),
        };
    };
    let mut s = app.region.boot_source_selection(u, &src, id).await?;
    match (&r.method, r.op()) {
        (&Method::GET, None) => ok_json(render_selection(&s)),
        (&Method::PUT, None) => {
            selection_form(r, &mut s, false)?;
            ok_json(render_selection(
                &app.region.put_boot_source_selection(u, &s).await?,
            ))
        }
        (&Method::DELETE, None) => {
            app.region.delete_boot_source_selection(u, &s).await?;
            no_content()
        }
        _ => Err(bad("Unknown operation on a boot source selection.")),
    }
}
