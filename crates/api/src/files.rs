//! `files/` in MAAS's shape: a user's stored files (Juju's provider storage). `create` takes
//! the multipart part `file` with `filename`; `get` and `get_by_key` answer the bytes
//! themselves; `files/{filename}/` answers the file with its content in base64.

use crate::{bad, need_user, no_content, ok_json, render, App, Req, Res};
use axum::http::{header, Method, StatusCode};
use axum::response::IntoResponse;
use base64::Engine;
use ingot_region::model::StoredFile;
use ingot_region::Principal;
use serde_json::{json, Value};

fn file_json(f: &StoredFile, with_content: bool) -> Value {
    let mut v = json!({
        "filename": f.filename,
        "owner": f.owner,
        "anon_resource_uri": format!("{}/files/?op=get_by_key&key={}", render::API, f.key),
        "resource_uri": format!("{}/files/{}/", render::API, urlencode(&f.filename)),
    });
    if with_content {
        v["content"] = json!(base64::engine::general_purpose::STANDARD.encode(&f.content));
    }
    v
}

/// A file name as a path segment.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn bytes(f: StoredFile) -> Res {
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        f.content,
    )
        .into_response())
}

/// `files/`: list (`prefix`), create, `get`, `get_by_key` (no credentials needed), delete (`DELETE files/?filename=`).
pub(crate) async fn collection(app: &App, r: &Req, who: &Principal) -> Res {
    let p = r.params();
    if r.op() == Some("get_by_key") {
        let key = p.get("key").unwrap_or_default();
        return bytes(app.region.file_by_key(key).await?);
    }
    let u = need_user(who)?;
    match (&r.method, r.op()) {
        (&Method::GET, None) => ok_json(Value::Array(
            app.region
                .files(u, p.get("prefix").unwrap_or_default())
                .await?
                .iter()
                .map(|f| file_json(f, false))
                .collect(),
        )),
        (&Method::GET, Some("get")) => bytes(
            app.region
                .file(u, p.get("filename").unwrap_or_default())
                .await?,
        ),
        (&Method::POST, None) => {
            let filename = p.get("filename").unwrap_or_default();
            let Some(part) = r.files.iter().find(|f| f.name == "file") else {
                return Err(bad("A file is required: the multipart part named 'file'."));
            };
            let f = app.region.add_file(u, filename, &part.data).await?;
            Ok((StatusCode::CREATED, axum::Json(file_json(&f, false))).into_response())
        }
        (&Method::DELETE, None) => {
            app.region
                .delete_file(u, p.get("filename").unwrap_or_default())
                .await?;
            no_content()
        }
        _ => Err(crate::unknown_op(r)),
    }
}

/// `files/{filename}/`: read (with the content, base64) and delete.
pub(crate) async fn item(app: &App, r: &Req, who: &Principal, filename: &str) -> Res {
    let u = need_user(who)?;
    if r.method == Method::DELETE {
        app.region.delete_file(u, filename).await?;
        return no_content();
    }
    ok_json(file_json(&app.region.file(u, filename).await?, true))
}
