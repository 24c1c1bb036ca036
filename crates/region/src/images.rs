//! Importing images from simplestreams mirrors (the boot sources), MAAS's
//! `boot-resources/?op=import`.
//!
//! One import runs at a time, in the background. For each boot source with selections: the
//! index and product files are fetched — clear-signed (`.sjson`) and checked against the
//! source's keyring when it has one, plain `.json` otherwise — and `ingot_core::streams` plans
//! the files (newest version of each selected product). Each file is fetched to
//! `DATA_DIR/images/.import-<sha256>`, resuming from the partial file's length with an HTTP
//! Range request (after a dropped connection, or in a later import after `stop_import`), then
//! checked against the signed SHA-256 and size and renamed to `DATA_DIR/images/<sha256>`,
//! where `/MAAS/boot/images/<sha256>` serves it. A file that does not match is deleted and
//! named in the import's errors; its resource is not kept. The product's root image becomes a
//! `Synced` boot resource that deploys exactly like an uploaded one.

use crate::settings::need_admin;
use crate::{Region, RegionError};
use base64::Engine;
use futures::StreamExt;
use ingot_core::ids::hex;
use ingot_core::streams::{self, Item, Planned, Selection};
use ingot_store::deploy::BootResource;
use ingot_store::sources::BootSource;
use ingot_store::User;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Attempts per file when the connection drops (each resumes where the last stopped).
const ATTEMPTS: u32 = 6;

/// One file of the running (or last) import.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileState {
    pub resource: String,
    pub ftype: String,
    pub path: String,
    pub sha256: String,
    pub size: u64,
    pub done: u64,
    /// `queued`, `downloading`, `complete`, `failed`, `stopped`.
    pub state: String,
}

/// What `?op=import_status` shows.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportState {
    pub importing: bool,
    /// `idle`, `running`, `complete`, `failed` (something was refused), `stopped`.
    pub state: String,
    pub started: Option<i64>,
    pub finished: Option<i64>,
    pub files: Vec<FileState>,
    /// What was refused, each naming the source and the file.
    pub errors: Vec<String>,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

/// The import runner: one per region process.
#[derive(Debug, Default)]
pub struct Importer {
    state: Mutex<ImportState>,
    stop: AtomicBool,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// SHA-256 state over a whole (partial) file, to resume hashing where a download resumes.
pub(crate) fn file_hasher(path: &Path) -> std::io::Result<(Sha256, u64)> {
    let mut h = Sha256::new();
    let mut n = 0u64;
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((h, 0)),
        Err(e) => return Err(e),
    };
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        n += k as u64;
        h.update(&buf[..k]);
    }
    Ok((h, n))
}

/// The public keys of a keyring (binary or ASCII-armored, one or many keys).
pub fn parse_keyring(bytes: &[u8]) -> Result<Vec<pgp::composed::SignedPublicKey>, String> {
    use pgp::composed::PublicOrSecret;
    let (keys, _) = PublicOrSecret::from_reader_many(bytes)
        .map_err(|e| format!("the keyring cannot be read: {e}"))?;
    let mut out = Vec::new();
    for k in keys {
        match k {
            Ok(PublicOrSecret::Public(k)) => out.push(k),
            Ok(PublicOrSecret::Secret(k)) => out.push(k.to_public_key()),
            Err(e) => return Err(format!("the keyring cannot be read: {e}")),
        }
    }
    if out.is_empty() {
        return Err("the keyring holds no key".into());
    }
    Ok(out)
}

/// The text of a clear-signed document whose signature verifies against one of `keys`
/// (primary keys, or subkeys bound to them).
pub fn verify_clearsigned(
    text: &str,
    keys: &[pgp::composed::SignedPublicKey],
) -> Result<String, String> {
    let (msg, _) = pgp::composed::CleartextSignedMessage::from_string(text)
        .map_err(|e| format!("not a clear-signed OpenPGP message: {e}"))?;
    for k in keys {
        if msg.verify(k).is_ok() {
            return Ok(cleartext(&msg));
        }
        for sub in &k.public_subkeys {
            if sub.verify_bindings(&k.primary_key).is_ok() && msg.verify(sub).is_ok() {
                return Ok(cleartext(&msg));
            }
        }
    }
    Err("its signature is not made by a key of the source's keyring".into())
}

fn cleartext(msg: &pgp::composed::CleartextSignedMessage) -> String {
    msg.signed_text().replace("\r\n", "\n")
}

/// The keyring of a source: its data (base64), else its file; `None` when it has neither
/// (an unsigned mirror, `.json`).
fn source_keyring(s: &BootSource) -> Result<Option<Vec<u8>>, String> {
    if !s.keyring_data.is_empty() {
        return base64::engine::general_purpose::STANDARD
            .decode(s.keyring_data.trim())
            .map(Some)
            .map_err(|e| format!("keyring_data is not base64: {e}"));
    }
    if !s.keyring_filename.is_empty() {
        return std::fs::read(&s.keyring_filename)
            .map(Some)
            .map_err(|e| format!("keyring_filename {}: {e}", s.keyring_filename));
    }
    Ok(None)
}

/// Why one file was not imported.
#[derive(Debug)]
enum FetchError {
    Stopped,
    Failed(String),
}

impl Importer {
    pub fn state(&self) -> ImportState {
        let mut s = self.state.lock().map(|s| s.clone()).unwrap_or_default();
        if s.state.is_empty() {
            s.state = "idle".into();
        }
        s
    }

    pub fn is_importing(&self) -> bool {
        self.state.lock().map(|s| s.importing).unwrap_or(false)
    }

    /// Ask the running import to stop (partial files stay, to be resumed).
    pub fn stop(&self) -> bool {
        let running = self.is_importing();
        if running {
            self.stop.store(true, Ordering::SeqCst);
        }
        running
    }

    fn with<T>(&self, f: impl FnOnce(&mut ImportState) -> T) -> T {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }

    fn error(&self, e: String) {
        tracing::warn!("image import: {e}");
        self.with(|s| s.errors.push(e));
    }

    fn set_file(&self, sha: &str, done: u64, state: &str) {
        self.with(|s| {
            for f in s.files.iter_mut().filter(|f| f.sha256 == sha) {
                f.done = done;
                f.state = state.to_string();
            }
            s.bytes_done = s.files.iter().map(|f| f.done).sum();
        });
    }

    /// Start an import in the background; false when one is running already.
    pub fn start(self: &Arc<Self>, region: Region, dir: PathBuf) -> bool {
        let started = self.with(|s| {
            if s.importing {
                return false;
            }
            *s = ImportState {
                importing: true,
                state: "running".into(),
                started: Some(now_ms()),
                ..Default::default()
            };
            true
        });
        if !started {
            return false;
        }
        self.stop.store(false, Ordering::SeqCst);
        let me = self.clone();
        tokio::spawn(async move {
            me.run(&region, &dir).await;
            let stopped = me.stop.load(Ordering::SeqCst);
            me.with(|s| {
                s.importing = false;
                s.finished = Some(now_ms());
                s.state = if stopped {
                    "stopped"
                } else if s.errors.is_empty() {
                    "complete"
                } else {
                    "failed"
                }
                .into();
            });
        });
        true
    }

    async fn run(&self, region: &Region, dir: &Path) {
        let client = match reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(20))
            .build()
        {
            Ok(c) => c,
            Err(e) => return self.error(format!("HTTP client: {e}")),
        };
        if let Err(e) = tokio::fs::create_dir_all(dir).await {
            return self.error(format!("{}: {e}", dir.display()));
        }
        let sources = match region.store.boot_sources().await {
            Ok(s) => s,
            Err(e) => return self.error(format!("boot sources: {e}")),
        };
        // Plan every source first, so the progress totals are known from the start.
        let mut work: Vec<(String, Planned)> = Vec::new();
        for src in &sources {
            match self.plan_source(region, &client, src).await {
                Ok(p) => work.extend(p.into_iter().map(|p| (src.url.clone(), p))),
                Err(e) => self.error(format!("boot source {} ({}): {e}", src.id, src.url)),
            }
        }
        self.with(|s| {
            for (_, p) in &work {
                for it in p.others.iter().chain(std::iter::once(&p.primary)) {
                    if s.files.iter().any(|f| f.sha256 == it.sha256) {
                        continue;
                    }
                    s.files.push(FileState {
                        resource: format!("{} {}", p.name, p.architecture),
                        ftype: it.ftype.clone(),
                        path: it.path.clone(),
                        sha256: it.sha256.clone(),
                        size: it.size,
                        done: 0,
                        state: "queued".into(),
                    });
                }
            }
            s.bytes_total = s.files.iter().map(|f| f.size).sum();
        });
        for (url, p) in work {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            self.import_product(region, &client, dir, &url, &p).await;
        }
    }

    /// The products one source's selections choose.
    async fn plan_source(
        &self,
        region: &Region,
        client: &reqwest::Client,
        src: &BootSource,
    ) -> Result<Vec<Planned>, String> {
        let selections: Vec<Selection> = region
            .store
            .boot_source_selections(src.id)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|s| Selection {
                os: s.os,
                release: s.release,
                arches: s.arches,
                subarches: s.subarches,
                labels: s.labels,
            })
            .collect();
        if selections.is_empty() {
            return Ok(Vec::new());
        }
        let keys = match source_keyring(src)? {
            Some(bytes) => Some(parse_keyring(&bytes)?),
            None => None,
        };
        let (root, index_url) = streams::mirror_urls(&src.url, keys.is_some());
        let index = fetch_doc(client, &index_url, keys.as_deref()).await?;
        let entries = streams::parse_index(&index).map_err(|e| format!("{index_url}: {e}"))?;
        let mut items: Vec<Item> = Vec::new();
        for e in entries {
            let path = if keys.is_some() {
                streams::signed_path(&e.path)
            } else {
                e.path.clone()
            };
            let url = format!("{root}{path}");
            let text = fetch_doc(client, &url, keys.as_deref()).await?;
            items.extend(streams::parse_products(&text).map_err(|e| format!("{url}: {e}"))?);
        }
        let (planned, skipped) = streams::plan(&items, &selections);
        for s in skipped {
            tracing::info!("image import from {}: skipped {s}", src.url);
        }
        Ok(planned)
    }

    /// Fetch a product's files and record its boot resource.
    async fn import_product(
        &self,
        region: &Region,
        client: &reqwest::Client,
        dir: &Path,
        root: &str,
        p: &Planned,
    ) {
        let existing = region.store.boot_resources().await.ok().and_then(|all| {
            all.into_iter()
                .find(|b| b.name == p.name && b.architecture == p.architecture)
        });
        if let Some(b) = &existing {
            if b.complete && b.sha256 == p.primary.sha256 && dir.join(&b.sha256).is_file() {
                for it in p.others.iter().chain(std::iter::once(&p.primary)) {
                    self.set_file(&it.sha256, it.size, "complete");
                }
                return;
            }
        }
        // The companions first (small: kernel, initrd), then the root image.
        let mut extra = Vec::new();
        for it in &p.others {
            match self.fetch(client, dir, root, it, None).await {
                Ok(()) => extra.push(serde_json::json!({"ftype": it.ftype, "sha256": it.sha256, "size": it.size, "path": it.path})),
                Err(FetchError::Stopped) => return,
                Err(FetchError::Failed(e)) => {
                    self.error(format!("{root}{}: {e}; {} was not imported", it.path, p.name));
                    return;
                }
            }
        }
        let mut b = BootResource {
            id: 0,
            name: p.name.clone(),
            architecture: p.architecture.clone(),
            title: format!("{} ({})", p.name, p.primary.product),
            filetype: p.filetype.clone(),
            sha256: p.primary.sha256.clone(),
            size: p.primary.size as i64,
            uploaded: 0,
            complete: false,
            created: 0,
            updated: 0,
            rtype: "synced".into(),
            version: p.version.clone(),
            extra: serde_json::Value::Array(extra).to_string(),
        };
        let saved = match region.store.put_boot_resource(&b).await {
            Ok(s) => s,
            Err(e) => return self.error(format!("{}: {e}", p.name)),
        };
        match self
            .fetch(client, dir, root, &p.primary, Some((region, saved.id)))
            .await
        {
            Ok(()) => {
                b.uploaded = b.size;
                b.complete = true;
                if let Err(e) = region.store.put_boot_resource(&b).await {
                    self.error(format!("{}: {e}", p.name));
                }
                tracing::info!(
                    "image import: {} {} complete ({} bytes)",
                    p.name,
                    p.architecture,
                    p.primary.size
                );
            }
            Err(FetchError::Stopped) => {}
            Err(FetchError::Failed(e)) => {
                self.error(format!(
                    "{root}{}: {e}; {} was not imported",
                    p.primary.path, p.name
                ));
                // Nothing of it is kept (an older complete set of it stays what it was).
                match existing.filter(|o| o.complete) {
                    Some(old) => {
                        let _ = region.store.put_boot_resource(&old).await;
                    }
                    None => {
                        let _ = region.store.delete_boot_resource(saved.id).await;
                    }
                }
            }
        }
    }

    /// Fetch one item into the store: resumed from a partial file, checked, renamed.
    async fn fetch(
        &self,
        client: &reqwest::Client,
        dir: &Path,
        root: &str,
        it: &Item,
        progress: Option<(&Region, i64)>,
    ) -> Result<(), FetchError> {
        let dest = dir.join(&it.sha256);
        if std::fs::metadata(&dest).is_ok_and(|m| m.is_file() && m.len() == it.size) {
            self.set_file(&it.sha256, it.size, "complete");
            return Ok(());
        }
        let part = dir.join(format!(".import-{}", it.sha256));
        let url = format!("{root}{}", it.path);
        let mut attempts = 0;
        let mut last_recorded = 0u64;
        // The digest of what the partial file holds, kept up to date as bytes arrive (so the
        // file is not read again at the end); a partial file left by an earlier import is
        // read once to start it.
        let mut hashed: Option<(Sha256, u64)> = None;
        loop {
            let have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
            if have > it.size {
                let _ = std::fs::remove_file(&part);
                hashed = None;
                continue;
            }
            if hashed.as_ref().is_none_or(|(_, n)| *n != have) {
                let p2 = part.clone();
                hashed = Some(
                    tokio::task::spawn_blocking(move || file_hasher(&p2))
                        .await
                        .map_err(|e| FetchError::Failed(e.to_string()))?
                        .map_err(|e| FetchError::Failed(e.to_string()))?,
                );
            }
            let Some(state) = hashed.as_mut() else {
                continue;
            };
            let have = state.1;
            if have == it.size {
                break;
            }
            self.set_file(&it.sha256, have, "downloading");
            let mut req = client.get(&url);
            if have > 0 {
                req = req.header("Range", format!("bytes={have}-"));
            }
            let outcome = self.download(req, &part, it, progress, &mut last_recorded, state);
            let outcome = outcome.await;
            // What the hasher consumed is what the file holds now.
            if let (Some((_, n)), Ok(len)) =
                (hashed.as_mut(), std::fs::metadata(&part).map(|m| m.len()))
            {
                if *n != len {
                    hashed = None;
                }
            }
            match outcome {
                Ok(()) => continue,
                Err(DownloadError::Stopped) => {
                    let done = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
                    self.set_file(&it.sha256, done, "stopped");
                    return Err(FetchError::Stopped);
                }
                Err(DownloadError::Permanent(e)) => {
                    self.set_file(&it.sha256, 0, "failed");
                    return Err(FetchError::Failed(e));
                }
                Err(DownloadError::Transient(e)) => {
                    attempts += 1;
                    if attempts >= ATTEMPTS {
                        self.set_file(&it.sha256, have, "failed");
                        return Err(FetchError::Failed(format!(
                            "{e} ({attempts} attempts; the partial file is kept to resume)"
                        )));
                    }
                    tracing::info!("image import: {url}: {e}; resuming");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempts))).await;
                }
            }
        }
        let (hasher, len) = hashed.take().unwrap_or_default();
        let digest = hex(&hasher.finalize());
        if digest != it.sha256 || len != it.size {
            let _ = std::fs::remove_file(&part);
            self.set_file(&it.sha256, 0, "failed");
            return Err(FetchError::Failed(format!(
                "refused: its sha256 is {digest} ({len} bytes), the signed product list says {} ({} bytes); the download was deleted",
                it.sha256, it.size
            )));
        }
        std::fs::rename(&part, &dest).map_err(|e| FetchError::Failed(e.to_string()))?;
        self.set_file(&it.sha256, it.size, "complete");
        Ok(())
    }

    async fn download(
        &self,
        req: reqwest::RequestBuilder,
        part: &Path,
        it: &Item,
        progress: Option<(&Region, i64)>,
        last_recorded: &mut u64,
        hashed: &mut (Sha256, u64),
    ) -> Result<(), DownloadError> {
        // The partial file holds what the digest has consumed.
        let have = hashed.1;
        let resp = req
            .send()
            .await
            .map_err(|e| DownloadError::Transient(e.to_string()))?;
        let status = resp.status();
        let (f, mut at) = match status.as_u16() {
            206 => {
                let range = resp
                    .headers()
                    .get("content-range")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !range.starts_with(&format!("bytes {have}-")) {
                    return Err(DownloadError::Permanent(format!(
                        "asked for bytes {have}- and got a range of '{range}'"
                    )));
                }
                let f = tokio::fs::OpenOptions::new()
                    .append(true)
                    .open(part)
                    .await
                    .map_err(|e| DownloadError::Permanent(e.to_string()))?;
                (f, have)
            }
            200 => {
                // The whole file again (the server ignored the range, or this is the start).
                *hashed = (Sha256::new(), 0);
                (
                    tokio::fs::File::create(part)
                        .await
                        .map_err(|e| DownloadError::Permanent(e.to_string()))?,
                    0,
                )
            }
            416 => {
                let _ = std::fs::remove_file(part);
                return Err(DownloadError::Transient("HTTP 416 on resume".into()));
            }
            s if s >= 500 || s == 429 => return Err(DownloadError::Transient(format!("HTTP {s}"))),
            s => return Err(DownloadError::Permanent(format!("HTTP {s}"))),
        };
        // Written in 1 MiB pieces (a tokio file write is a trip to the blocking pool).
        let mut f = tokio::io::BufWriter::with_capacity(1 << 20, f);
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            if self.stop.load(Ordering::SeqCst) {
                let _ = f.flush().await;
                return Err(DownloadError::Stopped);
            }
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = f.flush().await;
                    return Err(DownloadError::Transient(format!(
                        "the connection dropped after {at} of {} bytes: {e}",
                        it.size
                    )));
                }
            };
            if at + chunk.len() as u64 > it.size {
                drop(f);
                let _ = std::fs::remove_file(part);
                return Err(DownloadError::Permanent(format!(
                    "refused: the server sent more than the signed size of {} bytes; the download was deleted",
                    it.size
                )));
            }
            f.write_all(&chunk)
                .await
                .map_err(|e| DownloadError::Permanent(e.to_string()))?;
            hashed.0.update(&chunk);
            hashed.1 += chunk.len() as u64;
            at += chunk.len() as u64;
            self.set_file(&it.sha256, at, "downloading");
            // The resource's progress, at most four times a second and at the end.
            if let Some((region, id)) = progress {
                let now = now_ms() as u64;
                if now >= *last_recorded + 250 || at == it.size {
                    *last_recorded = now;
                    let _ = region
                        .store
                        .set_boot_resource_progress(id, &it.sha256, at as i64, false)
                        .await;
                }
            }
        }
        f.flush()
            .await
            .map_err(|e| DownloadError::Permanent(e.to_string()))?;
        if at == it.size {
            // On disk before it is renamed into the store.
            f.get_ref()
                .sync_all()
                .await
                .map_err(|e| DownloadError::Permanent(e.to_string()))?;
        }
        if at < it.size {
            return Err(DownloadError::Transient(format!(
                "the body ended after {at} of {} bytes",
                it.size
            )));
        }
        Ok(())
    }
}

enum DownloadError {
    Stopped,
    Transient(String),
    Permanent(String),
}

/// A stream document: verified and unwrapped when `keys` are given (a `.sjson`).
async fn fetch_doc(
    client: &reqwest::Client,
    url: &str,
    keys: Option<&[pgp::composed::SignedPublicKey]>,
) -> Result<String, String> {
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("{url}: HTTP {}", resp.status().as_u16()));
    }
    let text = resp.text().await.map_err(|e| format!("{url}: {e}"))?;
    match keys {
        None => Ok(text),
        Some(keys) => verify_clearsigned(&text, keys).map_err(|e| format!("{url}: refused: {e}")),
    }
}

impl Region {
    /// `boot-resources/?op=import` (admin): import from the boot sources into `dir`, in the
    /// background; false when an import is already running.
    pub fn start_import(&self, u: &User, dir: PathBuf) -> crate::Result<bool> {
        need_admin(u)?;
        Ok(self.importer.start(self.clone(), dir))
    }

    /// `boot-resources/?op=stop_import` (admin): false when no import is running.
    pub fn stop_import(&self, u: &User) -> crate::Result<bool> {
        need_admin(u)?;
        Ok(self.importer.stop())
    }

    pub fn is_importing(&self) -> bool {
        self.importer.is_importing()
    }

    /// What the running or last import did.
    pub fn import_state(&self) -> ImportState {
        self.importer.state()
    }

    /// A keyring given to a boot source must hold at least one key.
    pub fn check_keyring(bytes: &[u8]) -> crate::Result<()> {
        parse_keyring(bytes)
            .map(|_| ())
            .map_err(|e| RegionError::field("keyring_data", e))
    }
}
