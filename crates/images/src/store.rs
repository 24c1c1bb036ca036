//! Content-addressed storage of boot images under `data_dir/images/`.
//!
//! Layout: `images/<sha256>` holds blobs (kernels, initrds) named by the SHA-256 of their bytes;
//! `images/index.json` is a JSON array of [`ImageSet`]s, newest last.

use ingot_core::ids::hex;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ImageError;

/// A stored blob: its SHA-256 (lower-case hex) and its size in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob {
    pub sha256: String,
    pub size: u64,
}

/// One bootable set: a kernel and the initramfs that goes with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSet {
    /// e.g. `ephemeral/amd64`.
    pub name: String,
    /// Debian architecture name, e.g. `amd64`.
    pub arch: String,
    pub kernel: Blob,
    pub initrd: Blob,
    /// e.g. `6.1.0-56-amd64`.
    #[serde(default)]
    pub kernel_version: String,
    /// RFC 3339 UTC time of the build that first stored this set.
    #[serde(default)]
    pub created: String,
}

pub(crate) fn images_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("images")
}

fn index_path(data_dir: &Path) -> PathBuf {
    images_dir(data_dir).join("index.json")
}

/// True when `s` is exactly 64 lower- or upper-case hex digits.
pub fn is_valid_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The path of a stored blob, or `None` when `sha256` is not 64 hex digits (it may come from an
/// HTTP request, so nothing else is ever joined onto the path) or no such blob is stored.
pub fn path_of(data_dir: &Path, sha256: &str) -> Option<PathBuf> {
    if !is_valid_sha256(sha256) {
        return None;
    }
    let p = images_dir(data_dir).join(sha256.to_ascii_lowercase());
    p.is_file().then_some(p)
}

/// Lists the stored image sets, oldest first. A missing index means no images.
pub fn list(data_dir: &Path) -> Result<Vec<ImageSet>, ImageError> {
    list_in(&images_dir(data_dir))
}

/// Lists the image sets of an images directory (`DATA_DIR/images`), oldest first.
pub fn list_in(images_dir: &Path) -> Result<Vec<ImageSet>, ImageError> {
    let p = images_dir.join("index.json");
    match fs::read(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| ImageError::Index(format!("{}: {e}", p.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(ImageError::io(&p, e)),
    }
}

/// The lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Stores `bytes` as `images/<sha256>` (written to a temporary file, then renamed into place;
/// when that blob already exists nothing is written). Returns the blob's description.
pub fn store_bytes(data_dir: &Path, bytes: &[u8]) -> Result<Blob, ImageError> {
    let dir = images_dir(data_dir);
    fs::create_dir_all(&dir).map_err(|e| ImageError::io(&dir, e))?;
    let sha = sha256_hex(bytes);
    let dest = dir.join(&sha);
    if !dest.is_file() {
        let tmp = dir.join(format!(".tmp-{sha}-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &dest)
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(ImageError::io(&dest, e));
        }
    }
    Ok(Blob {
        sha256: sha,
        size: bytes.len() as u64,
    })
}

/// Stores the file at `path` (see [`store_bytes`]).
pub fn store_file(data_dir: &Path, path: &Path) -> Result<Blob, ImageError> {
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| ImageError::io(path, e))?;
    store_bytes(data_dir, &bytes)
}

/// Appends `set` to the index unless a set with the same name, kernel and initrd is already
/// listed, in which case that existing entry is returned (identical content is listed once).
pub fn add_to_index(data_dir: &Path, set: ImageSet) -> Result<ImageSet, ImageError> {
    let mut sets = list(data_dir)?;
    if let Some(existing) = sets.iter().find(|s| {
        s.name == set.name && s.arch == set.arch && s.kernel == set.kernel && s.initrd == set.initrd
    }) {
        return Ok(existing.clone());
    }
    sets.push(set.clone());
    let dir = images_dir(data_dir);
    fs::create_dir_all(&dir).map_err(|e| ImageError::io(&dir, e))?;
    let p = index_path(data_dir);
    let tmp = dir.join(format!(".index.json.tmp-{}", std::process::id()));
    let json = serde_json::to_vec_pretty(&sets).map_err(|e| ImageError::Index(e.to_string()))?;
    fs::write(&tmp, json)
        .and_then(|_| fs::rename(&tmp, &p))
        .map_err(|e| ImageError::io(&p, e))?;
    Ok(set)
}

/// The current time as RFC 3339 UTC (`2024-05-01T12:00:00Z`).
pub(crate) fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

pub(crate) fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(k: &Blob, i: &Blob) -> ImageSet {
        ImageSet {
            name: "ephemeral/amd64".into(),
            arch: "amd64".into(),
            kernel: k.clone(),
            initrd: i.clone(),
            kernel_version: "6.1.0-1-amd64".into(),
            created: now_rfc3339(),
        }
    }

    #[test]
    fn same_bytes_same_path() {
        let d = tempfile::tempdir().unwrap();
        let a = store_bytes(d.path(), b"kernel bytes").unwrap();
        let b = store_bytes(d.path(), b"kernel bytes").unwrap();
        let c = store_bytes(d.path(), b"other bytes").unwrap();
        assert_eq!(a, b);
        assert_ne!(a.sha256, c.sha256);
        assert_eq!(a.size, 12);
        // sha256("kernel bytes") computed independently of the store.
        assert_eq!(a.sha256, sha256_hex(b"kernel bytes"));
        let p = path_of(d.path(), &a.sha256).unwrap();
        assert_eq!(p, d.path().join("images").join(&a.sha256));
        assert_eq!(fs::read(&p).unwrap(), b"kernel bytes");
        // Upper-case hex finds the same blob.
        assert_eq!(path_of(d.path(), &a.sha256.to_uppercase()).unwrap(), p);
        // Only the two blobs are in the directory: no temp files left behind.
        let n = fs::read_dir(d.path().join("images")).unwrap().count();
        assert_eq!(n, 2);
    }

    #[test]
    fn known_digest() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn sha256_validation() {
        let d = tempfile::tempdir().unwrap();
        let good = store_bytes(d.path(), b"x").unwrap().sha256;
        assert!(is_valid_sha256(&good));
        assert!(path_of(d.path(), &good).is_some());
        for bad in [
            "",
            "abc",
            "../../etc/passwd",
            &format!("{}/", &good[..63]),
            &format!("{good}0"),
            &format!("../{}", &good[3..]),
            &good.replace('a', "g"),
            "index.json",
            &"ü".repeat(32),
        ] {
            assert!(!is_valid_sha256(bad), "{bad:?} must be invalid");
            assert!(path_of(d.path(), bad).is_none(), "{bad:?}");
        }
        // Well-formed but unknown.
        assert!(path_of(d.path(), &"0".repeat(64)).is_none());
    }

    #[test]
    fn index_dedups_and_appends() {
        let d = tempfile::tempdir().unwrap();
        assert!(list(d.path()).unwrap().is_empty());
        let k = store_bytes(d.path(), b"k").unwrap();
        let i1 = store_bytes(d.path(), b"i1").unwrap();
        let i2 = store_bytes(d.path(), b"i2").unwrap();
        let first = add_to_index(d.path(), set(&k, &i1)).unwrap();
        let mut again = set(&k, &i1);
        again.created = "2030-01-01T00:00:00Z".into();
        assert_eq!(
            add_to_index(d.path(), again).unwrap(),
            first,
            "identical content is listed once"
        );
        add_to_index(d.path(), set(&k, &i2)).unwrap();
        let sets = list(d.path()).unwrap();
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0], first);
        assert_eq!(sets[1].initrd, i2);
    }

    #[test]
    fn rfc3339_format() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
