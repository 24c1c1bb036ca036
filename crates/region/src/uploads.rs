//! Uploaded boot resources: the OS images machines are deployed with, as they arrive.
//!
//! An upload is either one request with the `content` file (in memory, or spooled to disk by
//! the edge as it arrived), or (python-libmaas' way) a create with `sha256` and `size`
//! followed by chunks until the file is complete. Chunks are appended to
//! `DATA_DIR/images/.upload-<id>`; the last one is verified (SHA-256 and size) by reading the
//! file back, then the file is renamed to `DATA_DIR/images/<sha256>`, where
//! `/MAAS/boot/images/<sha256>` serves it. A digest mismatch discards the bytes and leaves the
//! file incomplete. A `ddqcow2` becomes the raw disk machines stream once it is complete.

use crate::boot_sources::path_id;
use crate::deploy::{resource_arch, resource_filetype, resource_name};
use crate::settings::need_admin;
use crate::{FieldErrors, Region, RegionError, Result};
use ingot_core::ids::hex;
use ingot_store::deploy::BootResource;
use ingot_store::User;
use ingot_wire::Params;
use sha2::{Digest, Sha256};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

/// Chunk uploads are appended one at a time (python-libmaas sends them in order).
static UPLOADS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The `content` of a create: a small body's part, or a large one the edge wrote to disk as it
/// arrived (with its digest and size).
#[derive(Debug, Clone, Copy)]
pub enum Content<'a> {
    Memory(&'a [u8]),
    Spooled {
        path: &'a Path,
        sha256: &'a str,
        size: u64,
    },
}

impl Content<'_> {
    fn len(&self) -> u64 {
        match self {
            Content::Memory(d) => d.len() as u64,
            Content::Spooled { size, .. } => *size,
        }
    }
}

/// The images directory, which a region without a data directory does not have.
/// Where an administrator's upload goes: refused before any of its bytes are read when `u` is
/// not an administrator or the region has no images directory.
pub fn upload_dir<'a>(u: &User, dir: Option<&'a Path>) -> Result<&'a Path> {
    need_admin(u)?;
    images_dir(dir)
}

pub fn images_dir(dir: Option<&Path>) -> Result<&Path> {
    dir.ok_or_else(|| {
        RegionError::Unavailable("This region has no data directory for images.".into())
    })
}

fn partial_path(dir: &Path, id: i64) -> PathBuf {
    dir.join(format!(".upload-{id}"))
}

/// SHA-256 (hex) and length of a file.
fn file_sha256(path: &Path) -> std::io::Result<(String, u64)> {
    let (h, n) = crate::images::file_hasher(path)?;
    Ok((hex(&h.finalize()), n))
}

fn io_err(what: &str, e: impl std::fmt::Display) -> RegionError {
    RegionError::Unavailable(format!("{what}: {e}"))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io_err("image storage", e))?
        .map_err(|e| io_err("image storage", e))
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

impl Region {
    pub async fn boot_resources(&self) -> Result<Vec<BootResource>> {
        Ok(self.store.boot_resources().await?)
    }

    pub async fn boot_resource(&self, id: i64) -> Result<BootResource> {
        self.store
            .boot_resource(id)
            .await?
            .ok_or_else(|| RegionError::NotFound(format!("No boot resource {id}.")))
    }

    /// `POST boot-resources/`: `name`, `architecture`, `filetype`, `title`, and either the
    /// `content` file or `sha256` + `size` (the bytes then come by `upload_uri`).
    pub async fn create_boot_resource(
        &self,
        u: &User,
        dir: Option<&Path>,
        p: &Params,
        content: Option<Content<'_>>,
    ) -> Result<BootResource> {
        need_admin(u)?;
        let dir = images_dir(dir)?.to_path_buf();
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
        fe.check()?;
        let (Some(name), Some(arch), Some(filetype)) = (name, arch, filetype) else {
            return Err(RegionError::BadRequest("invalid boot resource".into()));
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
                Content::Spooled { sha256, size, .. } => (sha256.to_string(), size as i64),
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
            fe.check()?;
            let (d, sha2) = (dir.clone(), digest.clone());
            match c {
                Content::Memory(data) => {
                    let data = data.to_vec();
                    blocking(move || store_blob(&d, &sha2, &data)).await?;
                }
                Content::Spooled { path, .. } => {
                    let tmp = path.to_path_buf();
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
                return Err(RegionError::BadRequest(
                    "sha256 and size are required without content".into(),
                ));
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
        let saved = self.store.put_boot_resource(&b).await?;
        // A new upload starts from nothing.
        let _ = std::fs::remove_file(partial_path(&dir, saved.id));
        self.finish_qcow2(&dir, saved).await
    }

    /// Delete an uploaded or synced resource; its bytes go too unless another resource (or
    /// the ephemeral set) has the same.
    pub async fn delete_boot_resource(&self, u: &User, dir: Option<&Path>, id: i64) -> Result<()> {
        let b = self.boot_resource(id).await?;
        need_admin(u)?;
        let dir = images_dir(dir)?;
        let _g = UPLOADS.lock().await;
        self.store.delete_boot_resource(b.id).await?;
        let _ = std::fs::remove_file(partial_path(dir, b.id));
        let shared = self
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
        Ok(())
    }

    /// A completed `ddqcow2` upload becomes the raw disk machines stream: converted once, here,
    /// stored by its own digest, and the resource becomes `ddraw`. A qcow2 that cannot be read
    /// (backing file, encryption, zstd, damage) is a 400 naming why, and the resource stays
    /// incomplete.
    async fn finish_qcow2(&self, dir: &Path, mut b: BootResource) -> Result<BootResource> {
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
                self.store.put_boot_resource(&b).await?;
                return Err(RegionError::BadRequest(format!("{}: {why}", b.name)));
            }
        };
        let dest = dir.join(&raw_sha);
        blocking(move || std::fs::rename(&tmp, &dest)).await?;
        b.filetype = "ddraw".into();
        b.sha256 = raw_sha;
        b.size = raw_len as i64;
        b.uploaded = raw_len as i64;
        Ok(self.store.put_boot_resource(&b).await?)
    }

    /// `PUT boot-resources/{id}/upload/{id}/`: the next chunk of the file.
    pub async fn upload_chunk(
        &self,
        u: &User,
        dir: Option<&Path>,
        id: i64,
        file: &str,
        chunk: &[u8],
    ) -> Result<()> {
        self.boot_resource(id).await?;
        need_admin(u)?;
        if path_id(file)? != id {
            return Err(RegionError::NotFound(format!(
                "No file {file} in boot resource {id}."
            )));
        }
        let dir = images_dir(dir)?.to_path_buf();
        let _g = UPLOADS.lock().await;
        // Reloaded under the lock: the previous chunk's progress is in.
        let b = self.boot_resource(id).await?;
        if b.complete {
            return Err(RegionError::BadRequest(format!(
                "The file of {} is complete already ({} bytes, sha256 {}).",
                b.name, b.size, b.sha256
            )));
        }
        if chunk.is_empty() {
            return Err(RegionError::BadRequest("The chunk is empty.".into()));
        }
        let after = b.uploaded + chunk.len() as i64;
        if after > b.size {
            return Err(RegionError::BadRequest(format!(
            "Too much content: {} bytes received after {} would exceed the file's size of {} bytes.",
            chunk.len(),
            b.uploaded,
            b.size
        )));
        }
        let part = partial_path(&dir, id);
        let (p2, data, at) = (part.clone(), chunk.to_vec(), b.uploaded as u64);
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
            self.store
                .set_boot_resource_progress(id, &b.sha256, after, false)
                .await?;
            return Ok(());
        }
        // The last chunk: verify, then store by content address.
        let p2 = part.clone();
        let (digest, len) = blocking(move || file_sha256(&p2)).await?;
        if digest != b.sha256 || len != b.size as u64 {
            let _ = std::fs::remove_file(&part);
            self.store
                .set_boot_resource_progress(id, &b.sha256, 0, false)
                .await?;
            return Err(RegionError::BadRequest(format!(
            "The uploaded file does not match: got {len} bytes with sha256 {digest}, expected {} bytes with sha256 {}. The file stays incomplete; upload it again.",
            b.size, b.sha256
        )));
        }
        let dest = dir.join(&b.sha256);
        blocking(move || std::fs::rename(&part, &dest)).await?;
        self.store
            .set_boot_resource_progress(id, &b.sha256, after, true)
            .await?;
        let mut done = b.clone();
        done.uploaded = after;
        done.complete = true;
        self.finish_qcow2(&dir, done).await?;
        Ok(())
    }
}
