//! The profile file: `CONFIG_DIR/profiles.json`, mode 0600.
//!
//! ```json
//! {
//!   "version": 1,
//!   "profiles": {
//!     "admin": {
//!       "name": "admin",
//!       "url": "http://127.0.0.1:5240/MAAS/api/2.0/",
//!       "credentials": ["consumer_key", "token_key", "token_secret"],
//!       "description": { "doc": "...", "hash": "...", "resources": [ ... ] }
//!     }
//!   }
//! }
//! ```
//! `credentials` is `null` for an anonymous profile; `description` is the
//! server's `describe/` document as fetched at login / refresh. A profile logged in with
//! `--cacerts FILE` also has `"cacerts": "CONFIG_DIR/certs/PROFILE.pem"` (a copy of the file,
//! so the original may move), one logged in with `-k` has `"insecure": true`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{CliError, Result};
use crate::oauth::Credentials;

/// Name of the profile file inside the config directory.
pub const PROFILE_FILE: &str = "profiles.json";

/// The directory, inside the config directory, of the profiles' CA files.
pub const CERTS_DIR: &str = "certs";

/// One logged-in server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    /// API base URL, always ending in `/api/VERSION/`.
    pub url: String,
    /// `None` for anonymous access.
    #[serde(default)]
    pub credentials: Option<Credentials>,
    /// The `describe/` document.
    #[serde(default)]
    pub description: serde_json::Value,
    /// The CA certificates the server's must chain to (`login --cacerts`); `None`: the
    /// built-in web roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cacerts: Option<PathBuf>,
    /// `login -k`: the server's certificate is not checked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
}

impl Profile {
    /// What this profile trusts for the server's certificate.
    pub fn trust(&self) -> Result<ingot_tls::Trust> {
        match (&self.cacerts, self.insecure) {
            (_, true) => Ok(ingot_tls::Trust::Any),
            (Some(file), false) => {
                ingot_tls::Trust::ca_file(file).map_err(|e| CliError::CaCerts(e.to_string()))
            }
            (None, false) => Ok(ingot_tls::Trust::WebRoots),
        }
    }
}

fn current_version() -> u32 {
    1
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ProfileFile {
    #[serde(default = "current_version")]
    version: u32,
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

/// The profiles of one config directory, loaded in memory.
#[derive(Debug)]
pub struct ProfileStore {
    dir: PathBuf,
    profiles: BTreeMap<String, Profile>,
}

impl ProfileStore {
    /// Load `dir/profiles.json`; a missing file (or directory) gives an empty store.
    pub fn load(dir: &Path) -> Result<ProfileStore> {
        let path = dir.join(PROFILE_FILE);
        let profiles = match fs::read(&path) {
            Ok(bytes) => {
                let file: ProfileFile =
                    serde_json::from_slice(&bytes).map_err(|source| CliError::ConfigFormat {
                        path: path.clone(),
                        source,
                    })?;
                file.profiles
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => {
                return Err(CliError::ConfigIo {
                    action: "read",
                    path,
                    source,
                })
            }
        };
        Ok(ProfileStore {
            dir: dir.to_path_buf(),
            profiles,
        })
    }

    /// Path of the profile file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(PROFILE_FILE)
    }

    /// Write the file atomically (temporary file + rename), mode 0600,
    /// creating the directory (mode 0700) if needed.
    pub fn save(&self) -> Result<()> {
        create_private_dir(&self.dir).map_err(io("create directory", &self.dir))?;
        let file = ProfileFile {
            version: current_version(),
            profiles: self.profiles.clone(),
        };
        let mut bytes = serde_json::to_vec_pretty(&file).map_err(|e| CliError::ConfigIo {
            action: "encode",
            path: self.path(),
            source: std::io::Error::other(e),
        })?;
        bytes.push(b'\n');
        let final_path = self.path();
        let tmp_path = self
            .dir
            .join(format!(".{PROFILE_FILE}.{}.tmp", std::process::id()));
        let written = write_private_file(&tmp_path, &bytes)
            .map_err(io("write", &tmp_path))
            .and_then(|()| fs::rename(&tmp_path, &final_path).map_err(io("replace", &final_path)));
        if written.is_err() {
            let _ = fs::remove_file(&tmp_path);
        }
        written
    }

    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.profiles.get(name)
    }

    /// Add or replace a profile (keyed by its name).
    pub fn insert(&mut self, profile: Profile) {
        self.profiles.insert(profile.name.clone(), profile);
    }

    /// Remove a profile, and its copy of a CA file.
    pub fn remove(&mut self, name: &str) -> Option<Profile> {
        let profile = self.profiles.remove(name)?;
        if let Some(copy) = &profile.cacerts {
            if copy.starts_with(self.dir.join(CERTS_DIR)) {
                let _ = fs::remove_file(copy);
            }
        }
        Some(profile)
    }

    /// Keep a copy of a profile's CA file, `CERTS_DIR/NAME.pem` (mode 0600), and return its path.
    pub fn save_cacerts(&self, name: &str, pem: &[u8]) -> Result<PathBuf> {
        let dir = self.dir.join(CERTS_DIR);
        let path = dir.join(format!("{name}.pem"));
        create_private_dir(&dir).map_err(io("create directory", &dir))?;
        write_private_file(&path, pem).map_err(io("write", &path))?;
        Ok(path)
    }

    /// Profile names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.profiles.keys().cloned().collect()
    }

    pub fn profiles(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.values()
    }

    pub fn profiles_mut(&mut self) -> impl Iterator<Item = &mut Profile> {
        self.profiles.values_mut()
    }

    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }
}

/// The error of an `action` on `path` in the config directory.
fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CliError {
    let path = path.to_path_buf();
    move |source| CliError::ConfigIo {
        action,
        path,
        source,
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // The file may have pre-existed with other permissions.
    f.set_permissions(fs::Permissions::from_mode(0o600))?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A temporary directory removed on drop.
    pub(crate) struct TempDir(pub PathBuf);

    impl TempDir {
        pub(crate) fn new(tag: &str) -> TempDir {
            let n: u64 = rand::random();
            let p = std::env::temp_dir().join(format!("ingot-cli-{tag}-{n:016x}"));
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn sample(name: &str, creds: bool) -> Profile {
        Profile {
            name: name.into(),
            url: "http://127.0.0.1:5240/MAAS/api/2.0/".into(),
            credentials: creds.then(|| Credentials {
                consumer_key: "ck".into(),
                token_key: "tk".into(),
                token_secret: "ts".into(),
            }),
            description: serde_json::json!({"doc": "d", "resources": []}),
            cacerts: None,
            insecure: false,
        }
    }

    #[test]
    fn missing_file_is_empty() {
        let dir = TempDir::new("missing");
        let store = ProfileStore::load(&dir.0).expect("load");
        assert!(store.is_empty());
        assert!(!dir.0.exists(), "loading must not create anything");
    }

    #[test]
    fn round_trip() {
        let dir = TempDir::new("roundtrip");
        let nested = dir.0.join("a/b");
        let mut store = ProfileStore::load(&nested).expect("load");
        store.insert(sample("admin", true));
        store.insert(sample("anon", false));
        store.save().expect("save");

        let loaded = ProfileStore::load(&nested).expect("reload");
        assert_eq!(
            loaded.names(),
            vec!["admin".to_string(), "anon".to_string()]
        );
        assert_eq!(loaded.get("admin"), Some(&sample("admin", true)));
        assert_eq!(loaded.get("anon"), Some(&sample("anon", false)));

        let raw: serde_json::Value =
            serde_json::from_slice(&fs::read(nested.join(PROFILE_FILE)).expect("read"))
                .expect("json");
        assert_eq!(raw["version"], 1);
        assert_eq!(
            raw["profiles"]["admin"]["credentials"],
            serde_json::json!(["ck", "tk", "ts"])
        );
        assert_eq!(
            raw["profiles"]["anon"]["credentials"],
            serde_json::Value::Null
        );

        let mut again = loaded;
        assert!(again.remove("admin").is_some());
        again.save().expect("save");
        let names = ProfileStore::load(&nested).expect("load").names();
        assert_eq!(names, vec!["anon".to_string()]);
        // No temporary files left behind.
        let entries = fs::read_dir(&nested).expect("dir").count();
        assert_eq!(entries, 1);
    }

    #[cfg(unix)]
    #[test]
    fn file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new("mode");
        fs::create_dir_all(&dir.0).expect("mkdir");
        // A pre-existing world-readable file gets tightened.
        fs::write(dir.0.join(PROFILE_FILE), b"{}").expect("write");
        fs::set_permissions(dir.0.join(PROFILE_FILE), fs::Permissions::from_mode(0o644))
            .expect("chmod");
        let mut store = ProfileStore::load(&dir.0).expect("load");
        store.insert(sample("p", true));
        store.save().expect("save");
        let mode = fs::metadata(dir.0.join(PROFILE_FILE))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn corrupt_file_is_an_error() {
        let dir = TempDir::new("corrupt");
        fs::create_dir_all(&dir.0).expect("mkdir");
        fs::write(dir.0.join(PROFILE_FILE), b"{not json").expect("write");
        let e = ProfileStore::load(&dir.0).expect_err("must fail");
        assert!(matches!(e, CliError::ConfigFormat { .. }));
        assert!(e.to_string().contains("profiles.json"));
    }
}
