//! `boot-resources/` in MAAS 2.0's shape: the OS images machines are deployed with.
//!
//! An upload is either one multipart request with the `content` file — decoded here as it
//! arrives, the file part spooled to disk with its digest — or (python-libmaas' way) a create
//! with `sha256` and `size` followed by chunks PUT to the file's `upload_uri`. What is kept and
//! checked is the region's (`ingot_region::uploads`). The ephemeral environment's own kernel
//! and initrd (`ingot images build`) are listed too, as `Generated` resources.

use crate::{bad, forms_id, no_content, not_found, ok_json, render, ApiError, App, Req, Res};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use ingot_region::model::BootResource;
use ingot_region::model::User;
use ingot_region::uploads::{images_dir, Content};
use ingot_region::RegionError;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::PathBuf;

/// Ids of the generated (ephemeral) sets start here, clear of the database's.
const GENERATED_ID_BASE: i64 = 1_000_000;

fn version_of(b: &BootResource) -> String {
    chrono::DateTime::from_timestamp_millis(b.created)
        .map(|t| t.format("%Y%m%d").to_string())
        .unwrap_or_else(|| "0".into())
        + &format!(".{}", b.id)
}

fn render_resource(b: &BootResource, with_sets: bool) -> Value {
    let uri = format!("{}/boot-resources/{}/", render::API, b.id);
    let synced = b.rtype == "synced";
    let mut v = json!({
        "id": b.id, "type": if synced { "Synced" } else { "Uploaded" }, "name": b.name,
        "architecture": b.architecture,
        "subarches": b.architecture.split('/').nth(1).unwrap_or("generic"), "title": b.title,
        "resource_uri": uri, "last_deployed": null, "base_image": "",
    });
    if with_sets {
        let progress = if b.size > 0 {
            (b.uploaded as f64 * 100.0 / b.size as f64).min(100.0)
        } else {
            100.0
        };
        let file = json!({
            "filename": b.filetype, "filetype": b.filetype, "size": b.size,
            "sha256": b.sha256, "complete": b.complete, "progress": progress,
            "upload_uri": format!("{}/boot-resources/{}/upload/{}/", render::API, b.id, b.id),
        });
        let mut files = serde_json::Map::new();
        files.insert(b.filetype.clone(), file);
        let mut size = b.size;
        // A synced set's other files (kernel, initrd, …), stored when the import fetched them.
        if let Ok(Value::Array(extra)) = serde_json::from_str::<Value>(&b.extra) {
            for e in extra {
                let ft = e["ftype"].as_str().unwrap_or("file").to_string();
                size += e["size"].as_i64().unwrap_or(0);
                files.insert(ft.clone(), json!({"filename": e["path"].as_str().and_then(|p| p.rsplit('/').next()).unwrap_or(&ft), "filetype": ft, "size": e["size"], "sha256": e["sha256"], "complete": true, "progress": 100.0}));
            }
        }
        let version = if synced && !b.version.is_empty() {
            b.version.clone()
        } else {
            version_of(b)
        };
        let label = if synced { "stable" } else { "uploaded" };
        v["sets"] = json!({ version.clone(): {
            "version": version, "label": label, "size": size, "complete": b.complete,
            "progress": progress, "files": files,
        }});
    }
    v
}

fn generated(app: &App) -> Vec<Value> {
    app.images_dir
        .as_deref()
        .map(ingot_region::boot::image_sets)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let id = GENERATED_ID_BASE + i as i64;
            json!({"id": id, "type": "Generated", "name": s.name, "architecture": format!("{}/generic", s.arch), "subarches": "generic", "kernel_version": s.kernel_version, "kernel": {"sha256": s.kernel.sha256, "size": s.kernel.size}, "initrd": {"sha256": s.initrd.sha256, "size": s.initrd.size}, "resource_uri": format!("{}/boot-resources/{id}/", render::API)})
        })
        .collect()
}

/// `boot-resources/`
pub(crate) async fn collection(app: &App, r: &Req, u: &User) -> Res {
    let p = r.params();
    match (&r.method, r.op()) {
        (&Method::GET, None) => {
            let kind = p
                .get("type")
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if !["", "uploaded", "synced", "generated"].contains(&kind.as_str()) {
                return Err(ApiError(RegionError::field(
                    "type",
                    format!("'{kind}' is not a resource type: use synced, uploaded or generated."),
                )));
            }
            let mut out = Vec::new();
            if kind.is_empty() || kind == "generated" {
                out.extend(generated(app));
            }
            for b in app.region.boot_resources().await? {
                if kind.is_empty() || kind == b.rtype {
                    out.push(render_resource(&b, false));
                }
            }
            ok_json(Value::Array(out))
        }
        (&Method::POST, None) => create(app, r, u).await,
        (&Method::POST, Some("import")) => {
            let dir = images_dir(app.images_dir.as_deref())?.to_path_buf();
            let msg = if app.region.start_import(u, dir)? {
                "Import of boot resources started"
            } else {
                "An import of boot resources is already running"
            };
            Ok((StatusCode::OK, msg).into_response())
        }
        (&Method::POST, Some("stop_import")) => {
            let msg = if app.region.stop_import(u)? {
                "Import of boot resources is being stopped"
            } else {
                "No import is running."
            };
            Ok((StatusCode::OK, msg).into_response())
        }
        (&Method::GET, Some("is_importing")) => ok_json(json!(app.region.is_importing())),
        (&Method::GET, Some("import_status")) => {
            ok_json(serde_json::to_value(app.region.import_state()).unwrap_or(Value::Null))
        }
        _ => Err(crate::unknown_op(r)),
    }
}

/// `boot-resources/{id}/` and `boot-resources/{id}/upload/{file_id}/`
pub(crate) async fn item(app: &App, r: &Req, u: &User, id: &str, upload: Option<&str>) -> Res {
    let id = forms_id(id)?;
    if id >= GENERATED_ID_BASE && upload.is_none() {
        if r.method != Method::GET {
            return Err(bad(
                "Generated resources are managed with `ingot images build`.",
            ));
        }
        let i = usize::try_from(id - GENERATED_ID_BASE).unwrap_or(usize::MAX);
        return generated(app)
            .into_iter()
            .nth(i)
            .map(|v| Ok(axum::Json(v).into_response()))
            .unwrap_or_else(|| Err(not_found(format!("No boot resource {id}."))));
    }
    let dir = app.images_dir.as_deref();
    match (upload, &r.method) {
        (None, &Method::GET) => {
            ok_json(render_resource(&app.region.boot_resource(id).await?, true))
        }
        (None, &Method::DELETE) => {
            app.region.delete_boot_resource(u, dir, id).await?;
            no_content()
        }
        (Some(file), &Method::PUT) => {
            app.region.upload_chunk(u, dir, id, file, &r.raw).await?;
            Ok((StatusCode::OK, "OK").into_response())
        }
        _ => {
            app.region.boot_resource(id).await?;
            Err(crate::unknown_op(r))
        }
    }
}

/// A `content` file part written to `DATA_DIR/images/.incoming-*` as it arrived, with its
/// digest and size; the file goes when this does, unless it was renamed into place.
pub(crate) struct Spooled {
    path: PathBuf,
    sha256: String,
    size: u64,
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The form fields of a streamed create are kept in memory up to this size.
const STREAMED_FIELDS: usize = 1 << 20;

/// `POST boot-resources/` with a multipart body: the MAAS CLI's `content@=FILE` in one
/// request, of any size. It is decoded as it arrives (after the caller is known to be an
/// administrator), the `content` part going to disk with its SHA-256 computed on the way.
pub(crate) fn is_streamed_upload(req: &axum::extract::Request) -> bool {
    let segs: Vec<&str> = req
        .uri()
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let op = ingot_wire::parse_urlencoded(req.uri().query().unwrap_or("").as_bytes())
        .get("op")
        .is_some_and(|o| !o.is_empty());
    req.method() == Method::POST
        && segs == ["MAAS", "api", "2.0", "boot-resources"]
        && !op
        && req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| {
                c.trim()
                    .to_ascii_lowercase()
                    .starts_with("multipart/form-data")
            })
}

/// Sends the first `content` file part's bytes to the writer.
struct ContentSink {
    /// 0: before the content, 1: in it, 2: after it (a second `content` is ignored).
    state: u8,
    tx: Option<tokio::sync::mpsc::Sender<Vec<u8>>>,
}

impl ContentSink {
    async fn take(&mut self, events: Vec<ingot_wire::StreamEvent>) {
        use ingot_wire::StreamEvent as E;
        for e in events {
            match e {
                E::FileStart(h) if h.name == "content" && self.state == 0 => self.state = 1,
                E::FileData(d) if self.state == 1 => {
                    // A writer that stopped says why when it is joined.
                    if let Some(t) = &self.tx {
                        if t.send(d).await.is_err() {
                            self.tx = None;
                        }
                    }
                }
                E::FileEnd if self.state == 1 => {
                    self.state = 2;
                    self.tx = None;
                }
                _ => {}
            }
        }
    }
}

/// See [`is_streamed_upload`].
pub(crate) async fn streamed_create(app: &App, req: axum::extract::Request) -> Res {
    use http_body_util::BodyExt;
    let (parts, mut body) = req.into_parts();
    let mut r = crate::req_head(parts);
    let start = async {
        let who = app.region.authenticate(r.auth.as_deref()).await?;
        let u = crate::need_user(&who)?.clone();
        let dir = ingot_region::uploads::upload_dir(&u, app.images_dir.as_deref())?.to_path_buf();
        let content_type = r
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let boundary = ingot_wire::multipart_boundary(content_type)
            .ok_or_else(|| bad("malformed multipart body: missing boundary in Content-Type"))?;
        let stream = ingot_wire::MultipartStream::new(&boundary, STREAMED_FIELDS)?;
        Ok::<_, ApiError>((dir, stream, u))
    };
    let (dir, mut stream, u) = match start.await {
        Ok(x) => x,
        Err(e) => {
            crate::drain_refused(&r.headers, body);
            return Err(e);
        }
    };
    std::fs::create_dir_all(&dir).map_err(storage_err)?;
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".incoming-{}-{seq}", std::process::id()));
    // From here on the file goes unless it becomes the image.
    let mut spooled = Spooled {
        path: tmp.clone(),
        sha256: String::new(),
        size: 0,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<(String, u64)> {
        let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
        let mut h = Sha256::new();
        let mut n = 0u64;
        while let Some(piece) = rx.blocking_recv() {
            h.update(&piece);
            n += piece.len() as u64;
            f.write_all(&piece)?;
        }
        f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok((ingot_core::ids::hex(&h.finalize()), n))
    });
    let mut sink = ContentSink {
        state: 0,
        tx: Some(tx),
    };
    let read: Result<(), ApiError> = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| bad(format!("Could not read the request body: {e}")))?;
            if let Ok(data) = frame.into_data() {
                let events = stream.feed(&data)?;
                sink.take(events).await;
            }
        }
        Ok(())
    }
    .await;
    if read.is_err() {
        // A malformed body: the rest is not read, but the client gets the answer.
        crate::drain_refused(&r.headers, body);
    }
    let fields = match read {
        Ok(()) => match stream.finish() {
            Ok((events, fields)) => {
                sink.take(events).await;
                Ok(fields)
            }
            Err(e) => Err(ApiError::from(e)),
        },
        Err(e) => Err(e),
    };
    let in_content = sink.state;
    drop(sink);
    let written = writer.await.map_err(storage_err)?;
    let fields = fields?;
    let (sha256, size) = written.map_err(storage_err)?;
    r.body = fields.params;
    r.files = fields.files;
    if in_content > 0 {
        spooled.sha256 = sha256;
        spooled.size = size;
        r.spooled = Some(spooled);
    }
    create(app, &r, &u).await
}

/// A chunk upload (`PUT …/upload/{id}/`): its body is the file's bytes, never a form.
pub(crate) fn is_raw_upload(path: &str, content_type: Option<&str>) -> bool {
    path.contains("/boot-resources/")
        && path.contains("/upload/")
        && content_type.map(str::to_ascii_lowercase).is_none_or(|c| {
            !c.starts_with("multipart/") && !c.contains("urlencoded") && !c.contains("json")
        })
}

/// A failure of the images directory on the way in.
fn storage_err(e: impl std::fmt::Display) -> ApiError {
    ApiError(RegionError::Unavailable(format!("image storage: {e}")))
}

/// `POST boot-resources/`: the form, and the `content` file in memory or spooled to disk.
async fn create(app: &App, r: &Req, u: &User) -> Res {
    let content = r
        .files
        .iter()
        .find(|f| f.name == "content")
        .map(|f| Content::Memory(&f.data))
        .or(r.spooled.as_ref().map(|f| Content::Spooled {
            path: &f.path,
            sha256: &f.sha256,
            size: f.size,
        }));
    let saved = app
        .region
        .create_boot_resource(u, app.images_dir.as_deref(), &r.params(), content)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(render_resource(&saved, true)),
    )
        .into_response())
}
