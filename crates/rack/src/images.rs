//! The rack's image cache: boot images fetched from the region by content address
//! (`GET {region}/boot/images/<sha256>`) on first request, checked against their SHA-256 and
//! kept in `DATA_DIR/image-cache/<sha256>`; later requests are served from there. The rack's
//! TFTP serves them as `images/<sha256>` ([`CachingSource`]), beside the iPXE loaders.

use crate::RackError;
use async_trait::async_trait;
use ingot_core::ids::hex;
use ingot_tftp::{sanitize_path, DirSource, FileSource, TftpError, TftpFile};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// A content address: 64 lower-case hex digits.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub struct ImageCache {
    dir: PathBuf,
    /// The region's URL, e.g. `http://10.0.0.1:5240/MAAS`.
    region: String,
    http: reqwest::Client,
    /// One fetch at a time (a second request for the same image waits and finds it cached).
    fetching: tokio::sync::Mutex<()>,
}

impl ImageCache {
    pub fn new(
        dir: PathBuf,
        region: &str,
        trust: &ingot_tls::Trust,
    ) -> Result<ImageCache, RackError> {
        std::fs::create_dir_all(&dir)?;
        let http = trust
            .client_builder()
            .map_err(|e| RackError::Region(e.to_string()))?
            .connect_timeout(Duration::from_secs(15))
            .no_proxy()
            .build()
            .map_err(|e| RackError::Region(e.to_string()))?;
        Ok(ImageCache {
            dir,
            region: region.trim_end_matches('/').to_string(),
            http,
            fetching: Default::default(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cached file of `sha256`, fetched from the region first when it is not here.
    /// Bytes that do not hash to `sha256` are deleted and refused.
    pub async fn get(&self, sha256: &str) -> Result<PathBuf, RackError> {
        if !is_sha256(sha256) {
            return Err(RackError::Region(format!(
                "'{sha256}' is not a content address"
            )));
        }
        let dest = self.dir.join(sha256);
        if dest.is_file() {
            return Ok(dest);
        }
        let _g = self.fetching.lock().await;
        if dest.is_file() {
            return Ok(dest);
        }
        let url = format!("{}/boot/images/{sha256}", self.region);
        let part = self.dir.join(format!(".part-{sha256}"));
        let result = self.download(&url, &part).await;
        let digest = match result {
            Ok(d) => d,
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                return Err(e);
            }
        };
        if digest != sha256 {
            let _ = std::fs::remove_file(&part);
            return Err(RackError::Region(format!(
                "{url}: the bytes hash to {digest}: refused and deleted"
            )));
        }
        std::fs::rename(&part, &dest)?;
        tracing::info!("image {sha256} cached from the region");
        Ok(dest)
    }

    async fn download(&self, url: &str, part: &Path) -> Result<String, RackError> {
        let mut resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| RackError::Region(format!("{url}: {}", ingot_tls::describe(&e))))?;
        if !resp.status().is_success() {
            return Err(RackError::Region(format!(
                "{url}: HTTP {}",
                resp.status().as_u16()
            )));
        }
        let f = tokio::fs::File::create(part).await?;
        let mut f = tokio::io::BufWriter::with_capacity(1 << 20, f);
        let mut h = Sha256::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| RackError::Region(format!("{url}: {e}")))?
        {
            h.update(&chunk);
            f.write_all(&chunk).await?;
        }
        f.flush().await?;
        f.get_ref().sync_all().await?;
        Ok(hex(&h.finalize()))
    }
}

/// The rack's TFTP files: `images/<sha256>` from the [`ImageCache`], the rest from the TFTP
/// root (the iPXE loaders).
pub struct CachingSource {
    pub root: DirSource,
    pub cache: Arc<ImageCache>,
}

#[async_trait]
impl FileSource for CachingSource {
    async fn open(&self, path: &str, client: SocketAddr) -> Result<TftpFile, TftpError> {
        let rel = sanitize_path(path)?;
        let parts: Vec<&str> = rel.iter().filter_map(|c| c.to_str()).collect();
        if let ["images", sha] = parts.as_slice() {
            if !is_sha256(sha) {
                return Err(TftpError::NotFound);
            }
            let file = self.cache.get(sha).await.map_err(|e| {
                tracing::warn!("TFTP {path}: {e}");
                TftpError::NotFound
            })?;
            let cached = DirSource::new(self.cache.dir())
                .map_err(TftpError::Io)?
                .allow_private_files();
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            return cached.open(&name, client).await;
        }
        self.root.open(path, client).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncReadExt;

    /// Serves `good` under its digest and `bad` under the digest of something else; counts
    /// requests.
    async fn region(good: Vec<u8>, bad_sha: String, bad: Vec<u8>) -> (String, Arc<AtomicUsize>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/MAAS", l.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let h2 = hits.clone();
        let good_sha = hex(&Sha256::digest(&good));
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = l.accept().await else {
                    return;
                };
                h2.fetch_add(1, Ordering::SeqCst);
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let body = if req.contains(&good_sha) {
                    Some(good.clone())
                } else if req.contains(&bad_sha) {
                    Some(bad.clone())
                } else {
                    None
                };
                let resp = match body {
                    Some(b) => {
                        let mut r = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            b.len()
                        )
                        .into_bytes();
                        r.extend_from_slice(&b);
                        r
                    }
                    None => {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    }
                };
                let _ = s.write_all(&resp).await;
                let _ = s.shutdown().await;
            }
        });
        (base, hits)
    }

    #[tokio::test]
    async fn fetches_once_verifies_and_serves_over_tftp() {
        let good: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let good_sha = hex(&Sha256::digest(&good));
        let bad_sha = hex(&Sha256::digest(b"what the region should have"));
        let (base, hits) = region(good.clone(), bad_sha.clone(), b"something else".to_vec()).await;
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(
            ImageCache::new(
                dir.path().join("image-cache"),
                &base,
                &ingot_tls::Trust::WebRoots,
            )
            .unwrap(),
        );
        let p = cache.get(&good_sha).await.unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), good);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        // Cached: no second fetch.
        cache.get(&good_sha).await.unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        // Bytes that do not match their address are refused and not kept.
        let e = cache.get(&bad_sha).await.unwrap_err().to_string();
        assert!(e.contains("refused"), "{e}");
        assert!(!dir.path().join("image-cache").join(&bad_sha).exists());
        assert!(!dir
            .path()
            .join("image-cache")
            .join(format!(".part-{bad_sha}"))
            .exists());
        // Unknown to the region, and not an address at all.
        assert!(cache.get(&"0".repeat(64)).await.is_err());
        assert!(cache.get("../etc/passwd").await.is_err());

        // Through TFTP's file source.
        let root = dir.path().join("tftp");
        std::fs::create_dir_all(&root).unwrap();
        let src = CachingSource {
            root: DirSource::new(&root).unwrap(),
            cache: cache.clone(),
        };
        let client: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let f = src
            .open(&format!("images/{good_sha}"), client)
            .await
            .unwrap();
        assert_eq!(f.size, Some(good.len() as u64));
        assert!(matches!(
            src.open(&format!("images/{bad_sha}"), client).await,
            Err(TftpError::NotFound)
        ));
        assert!(matches!(
            src.open("images/nothex", client).await,
            Err(TftpError::NotFound)
        ));
    }
}
