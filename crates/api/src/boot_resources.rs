//! `boot-resources/` in MAAS 2.0's shape: the OS images machines are deployed with.
//!
//! An upload is either one multipart request with the `content` file, or (python-libmaas'
//! way) a create with `sha256` and `size` followed by chunks PUT to the file's `upload_uri`
//! until the file is complete. Chunks are appended to `DATA_DIR/images/.upload-<id>` as they
//! arrive (one request's body at most in memory); the last one is verified (SHA-256 and size)
//! by reading the file back, then the file is renamed to `DATA_DIR/images/<sha256>`, where
//! `/MAAS/boot/images/<sha256>` serves it. A digest mismatch discards the bytes and leaves the
//! file incomplete. The ephemeral environment's own kernel and initrd (`ingot images build`)
//! are listed too, as `Generated` resources.

use crate::{
    bad, forms_id, need_admin, no_content, not_found, ok_json, render, ApiError, App, Req, Res,
};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use ingot_region::deploy::{resource_arch, resource_filetype, resource_name};
use ingot_region::{FieldErrors, RegionError};
use ingot_store::deploy::BootResource;
use ingot_store::User;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Ids of the generated (ephemeral) sets start here, clear of the database's.
const GENERATED_ID_BASE: i64 = 1_000_000;

/// Chunk uploads are appended one at a time (python-libmaas sends them in order).
static UPLOADS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn images_dir(app: &App) -> Result<&Path, ApiError> {
    app.images_dir.as_deref().ok_or_else(|| {
        ApiError(RegionError::Unavailable(
            "This region has no data directory for images.".into(),
        ))
    })
}

fn partial_path(dir: &Path, id: i64) -> PathBuf {
    dir.join(format!(".upload-{id}"))
}

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
        .map(crate::boot::image_sets)
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
            for b in app.region.store.boot_resources().await? {
                if kind.is_empty() || kind == b.rtype {
                    out.push(render_resource(&b, false));
                }
            }
            ok_json(Value::Array(out))
        }
        (&Method::POST, None) => {
            need_admin(u)?;
            create(app, r).await
        }
        (&Method::POST, Some("import")) => {
            need_admin(u)?;
            let dir = images_dir(app)?.to_path_buf();
            let msg = if app.importer.start(app.region.clone(), dir) {
                "Import of boot resources started"
            } else {
                "An import of boot resources is already running"
            };
            Ok((StatusCode::OK, msg).into_response())
        }
        (&Method::POST, Some("stop_import")) => {
            need_admin(u)?;
            let msg = if app.importer.stop() {
                "Import of boot resources is being stopped"
            } else {
                "No import is running."
            };
            Ok((StatusCode::OK, msg).into_response())
        }
        (&Method::GET, Some("is_importing")) => ok_json(json!(app.importer.is_importing())),
        (&Method::GET, Some("import_status")) => {
            ok_json(serde_json::to_value(app.importer.state()).unwrap_or(Value::Null))
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
    let b = app
        .region
        .store
        .boot_resource(id)
        .await?
        .ok_or_else(|| not_found(format!("No boot resource {id}.")))?;
    match (upload, &r.method) {
        (None, &Method::GET) => ok_json(render_resource(&b, true)),
        (None, &Method::DELETE) => {
            need_admin(u)?;
            let dir = images_dir(app)?;
            let _g = UPLOADS.lock().await;
            app.region.store.delete_boot_resource(b.id).await?;
            let _ = std::fs::remove_file(partial_path(dir, b.id));
            // The bytes go too unless another resource (or the ephemeral set) has the same.
            let shared = app
                .region
                .store
                .boot_resources()
                .await?
                .iter()
                .any(|o| o.sha256 == b.sha256)
                || crate::boot::image_sets(dir)
                    .iter()
                    .any(|s| s.kernel.sha256 == b.sha256 || s.initrd.sha256 == b.sha256);
            if !shared && b.complete {
                let _ = std::fs::remove_file(dir.join(&b.sha256));
            }
            no_content()
        }
        (Some(file), &Method::PUT) => {
            need_admin(u)?;
            if forms_id(file)? != b.id {
                return Err(not_found(format!("No file {file} in boot resource {id}.")));
            }
            upload_chunk(app, b.id, &r.raw).await
        }
        _ => Err(crate::unknown_op(r)),
    }
}

/// SHA-256 (hex) of a file, read in 1 MiB pieces.
fn file_sha256(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        n += k as u64;
        h.update(&buf[..k]);
    }
    Ok((hex(&h.finalize()), n))
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn io_err(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError(RegionError::Unavailable(format!("{what}: {e}")))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io_err("image storage", e))?
        .map_err(|e| io_err("image storage", e))
}

/// `POST boot-resources/`: `name`, `architecture`, `filetype`, `title`, and either the
/// `content` file or `sha256` + `size` (the bytes then come by `upload_uri`).
async fn create(app: &App, r: &Req) -> Res {
    let dir = images_dir(app)?.to_path_buf();
    let p = r.params();
    let mut fe = FieldErrors::default();
    let name = resource_name(p.get("name").unwrap_or_default())
        .map_err(|e| fe.add("name", e))
        .ok();
    let arch = resource_arch(p.get("architecture").unwrap_or_default())
        .map_err(|e| fe.add("architecture", e))
        .ok();
    let filetype = resource_filetype(p.get("filetype"))
        .map_err(|e| fe.add("filetype", e))
        .ok();
    let title = p.get("title").unwrap_or_default().trim().to_string();
    let content = r
        .files
        .iter()
        .find(|f| f.name == "content")
        .map(|f| Content::Memory(&f.data))
        .or(r.spooled.as_ref().map(Content::Spooled));
    let sha = p
        .get("sha256")
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty());
    if let Some(s) = &sha {
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            fe.add("sha256", "Must be the 64 hex digits of a SHA-256 digest.");
        }
    }
    let size = match p.get("size").map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                fe.add(
                    "size",
                    format!("'{s}' is not a size in bytes (a whole number above 0)."),
                );
                None
            }
        },
    };
    if content.is_none() {
        if sha.is_none() && !fe.0.contains_key("sha256") {
            fe.add(
                "sha256",
                "Required without content (the bytes then come in chunks to upload_uri).",
            );
        }
        if size.is_none() && !fe.0.contains_key("size") {
            fe.add(
                "size",
                "Required without content (the bytes then come in chunks to upload_uri).",
            );
        }
    } else if content.as_ref().is_some_and(|c| c.len() == 0) {
        fe.add("content", "The content is empty.");
    }
    fe.check().map_err(ApiError)?;
    let (Some(name), Some(arch), Some(filetype)) = (name, arch, filetype) else {
        return Err(bad("invalid boot resource"));
    };
    let mut b = BootResource {
        id: 0,
        name,
        architecture: arch,
        title,
        filetype: filetype.to_string(),
        sha256: String::new(),
        size: 0,
        uploaded: 0,
        complete: false,
        created: 0,
        updated: 0,
        rtype: "uploaded".into(),
        version: String::new(),
        extra: "[]".into(),
    };
    let _g = UPLOADS.lock().await;
    if let Some(c) = content {
        let (digest, len) = match c {
            Content::Memory(data) => (hex(&Sha256::digest(data)), data.len() as i64),
            Content::Spooled(f) => (f.sha256.clone(), f.size as i64),
        };
        let mut fe = FieldErrors::default();
        if sha.as_ref().is_some_and(|s| *s != digest) {
            fe.add(
                "sha256",
                format!("The content's SHA-256 is {digest}, not the one given."),
            );
        }
        if size.is_some_and(|s| s != len) {
            fe.add(
                "size",
                format!("The content is {len} bytes, not the size given."),
            );
        }
        fe.check().map_err(ApiError)?;
        let (d, sha2) = (dir.clone(), digest.clone());
        match c {
            Content::Memory(data) => {
                let data = data.to_vec();
                blocking(move || store_blob(&d, &sha2, &data)).await?;
            }
            Content::Spooled(f) => {
                let tmp = f.path.clone();
                blocking(move || {
                    let dest = d.join(&sha2);
                    if dest.is_file() {
                        return Ok(());
                    }
                    std::fs::rename(&tmp, &dest)
                })
                .await?;
            }
        }
        b.sha256 = digest;
        b.size = len;
        b.uploaded = len;
        b.complete = true;
    } else {
        let (Some(s), Some(n)) = (sha, size) else {
            return Err(bad("sha256 and size are required without content"));
        };
        // Bytes already stored under that digest (content-addressed) complete it at once.
        let have = std::fs::metadata(dir.join(&s))
            .map(|m| m.is_file() && m.len() == n as u64)
            .unwrap_or(false);
        b.sha256 = s;
        b.size = n;
        b.uploaded = if have { n } else { 0 };
        b.complete = have;
    }
    let saved = app.region.store.put_boot_resource(&b).await?;
    // A new upload starts from nothing.
    let _ = std::fs::remove_file(partial_path(&dir, saved.id));
    let saved = finish_qcow2(app, &dir, saved).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(render_resource(&saved, true)),
    )
        .into_response())
}

/// The `content` of a create: a small multipart body's part, or a large one's on disk.
enum Content<'a> {
    Memory(&'a [u8]),
    Spooled(&'a Spooled),
}

impl Content<'_> {
    fn len(&self) -> u64 {
        match self {
            Content::Memory(d) => d.len() as u64,
            Content::Spooled(f) => f.size,
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
        need_admin(crate::need_user(&who)?)?;
        let dir = images_dir(app)?.to_path_buf();
        let content_type = r
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let boundary = ingot_wire::multipart_boundary(content_type)
            .ok_or_else(|| bad("malformed multipart body: missing boundary in Content-Type"))?;
        let stream = ingot_wire::MultipartStream::new(&boundary, STREAMED_FIELDS)?;
        Ok::<_, ApiError>((dir, stream))
    };
    let (dir, mut stream) = match start.await {
        Ok(x) => x,
        Err(e) => {
            crate::drain_refused(&r.headers, body);
            return Err(e);
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| io_err("image storage", e))?;
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
        Ok((hex(&h.finalize()), n))
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
    let written = writer.await.map_err(|e| io_err("image storage", e))?;
    let fields = fields?;
    let (sha256, size) = written.map_err(|e| io_err("image storage", e))?;
    r.body = fields.params;
    r.files = fields.files;
    if in_content > 0 {
        spooled.sha256 = sha256;
        spooled.size = size;
        r.spooled = Some(spooled);
    }
    create(app, &r).await
}

/// A completed `ddqcow2` upload becomes the raw disk machines stream: converted once, here,
/// stored by its own digest, and the resource becomes `ddraw`. A qcow2 that cannot be read
/// (backing file, encryption, zstd, damage) is a 400 naming why, and the resource stays
/// incomplete.
async fn finish_qcow2(
    app: &App,
    dir: &Path,
    mut b: BootResource,
) -> Result<BootResource, ApiError> {
    if b.filetype != "ddqcow2" || !b.complete {
        return Ok(b);
    }
    let src = dir.join(&b.sha256);
    let tmp = dir.join(format!(".raw-{}", b.sha256));
    let (s2, t2) = (src.clone(), tmp.clone());
    let converted = tokio::task::spawn_blocking(move || {
        if !ingot_images::qcow2::is_qcow2(&s2) {
            return Err("the file is not a qcow2 image (no QFI header)".to_string());
        }
        ingot_images::qcow2::to_raw(&s2, &t2).map_err(|e| e.to_string())?;
        file_sha256(&t2).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| io_err("image conversion", e))?;
    let (raw_sha, raw_len) = match converted {
        Ok(x) => x,
        Err(why) => {
            let _ = std::fs::remove_file(&tmp);
            b.complete = false;
            b.uploaded = 0;
            app.region.store.put_boot_resource(&b).await?;
            return Err(bad(format!("{}: {why}", b.name)));
        }
    };
    let dest = dir.join(&raw_sha);
    blocking(move || std::fs::rename(&tmp, &dest)).await?;
    b.filetype = "ddraw".into();
    b.sha256 = raw_sha;
    b.size = raw_len as i64;
    b.uploaded = raw_len as i64;
    Ok(app.region.store.put_boot_resource(&b).await?)
}

/// Write `data` as `dir/<sha>` (temporary file, then rename).
fn store_blob(dir: &Path, sha: &str, data: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let dest = dir.join(sha);
    if dest.is_file() {
        return Ok(());
    }
    let tmp = dir.join(format!(".tmp-{sha}-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &dest)
}

/// `PUT boot-resources/{id}/upload/{id}/`: the next chunk of the file.
async fn upload_chunk(app: &App, id: i64, chunk: &axum::body::Bytes) -> Res {
    let dir = images_dir(app)?.to_path_buf();
    let _g = UPLOADS.lock().await;
    // Reloaded under the lock: the previous chunk's progress is in.
    let b = app
        .region
        .store
        .boot_resource(id)
        .await?
        .ok_or_else(|| not_found(format!("No boot resource {id}.")))?;
    if b.complete {
        return Err(bad(format!(
            "The file of {} is complete already ({} bytes, sha256 {}).",
            b.name, b.size, b.sha256
        )));
    }
    if chunk.is_empty() {
        return Err(bad("The chunk is empty."));
    }
    let after = b.uploaded + chunk.len() as i64;
    if after > b.size {
        return Err(bad(format!(
            "Too much content: {} bytes received after {} would exceed the file's size of {} bytes.",
            chunk.len(),
            b.uploaded,
            b.size
        )));
    }
    let part = partial_path(&dir, id);
    let (p2, data, at) = (part.clone(), chunk.clone(), b.uploaded as u64);
    blocking(move || {
        std::fs::create_dir_all(p2.parent().unwrap_or(Path::new(".")))?;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p2)?;
        // What was recorded is what counts (a chunk whose progress was not recorded is
        // overwritten).
        f.set_len(at)?;
        f.seek(std::io::SeekFrom::Start(at))?;
        f.write_all(&data)?;
        f.sync_data()
    })
    .await?;
    if after < b.size {
        app.region
            .store
            .set_boot_resource_progress(id, &b.sha256, after, false)
            .await?;
        return Ok((StatusCode::OK, "OK").into_response());
    }
    // The last chunk: verify, then store by content address.
    let p2 = part.clone();
    let (digest, len) = blocking(move || file_sha256(&p2)).await?;
    if digest != b.sha256 || len != b.size as u64 {
        let _ = std::fs::remove_file(&part);
        app.region
            .store
            .set_boot_resource_progress(id, &b.sha256, 0, false)
            .await?;
        return Err(bad(format!(
            "The uploaded file does not match: got {len} bytes with sha256 {digest}, expected {} bytes with sha256 {}. The file stays incomplete; upload it again.",
            b.size, b.sha256
        )));
    }
    let dest = dir.join(&b.sha256);
    blocking(move || std::fs::rename(&part, &dest)).await?;
    app.region
        .store
        .set_boot_resource_progress(id, &b.sha256, after, true)
        .await?;
    let mut done = b.clone();
    done.uploaded = after;
    done.complete = true;
    finish_qcow2(app, &dir, done).await?;
    Ok((StatusCode::OK, "OK").into_response())
}

/// A chunk upload (`PUT …/upload/{id}/`): its body is the file's bytes, never a form.
pub(crate) fn is_raw_upload(path: &str, content_type: Option<&str>) -> bool {
    path.contains("/boot-resources/")
        && path.contains("/upload/")
        && content_type.map(str::to_ascii_lowercase).is_none_or(|c| {
            !c.starts_with("multipart/") && !c.contains("urlencoded") && !c.contains("json")
        })
}
