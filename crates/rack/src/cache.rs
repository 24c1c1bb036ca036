//! The rack's last configuration from the region, kept on disk: a rack that starts while its
//! region is unreachable serves what it last read instead of nothing.
//!
//! Written atomically (a temporary file in the same directory, synced, renamed over the old
//! one, the directory synced), so a crash leaves the old copy or the new one, never half of
//! either.

use crate::RackError;
use ingot_core::rack::RackConfig;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file in the rack's data directory.
pub const FILE: &str = "rack-config.json";

fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Keep `cfg` as the last configuration read.
pub fn save(dir: &Path, cfg: &RackConfig) -> Result<(), RackError> {
    let body = serde_json::to_vec(cfg)
        .map_err(|e| RackError::Cache(format!("cannot encode the configuration: {e}")))?;
    let tmp = dir.join(format!(".{FILE}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&body)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path(dir))?;
    // The rename itself is durable once the directory is.
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// The last configuration read, if one was kept. A file that does not parse is an error (the
/// caller says so and serves nothing rather than guessing).
pub fn load(dir: &Path) -> Result<Option<RackConfig>, RackError> {
    let p = path(dir);
    let body = match std::fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| RackError::Cache(format!("{}: {e}", p.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(range_end: &str) -> RackConfig {
        let mut c = crate::sample_config(true);
        c.subnets[0].dynamic_ranges = vec![("10.77.0.100".into(), range_end.into())];
        c
    }

    #[test]
    fn the_last_configuration_is_read_back() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(load(d.path()).unwrap(), None, "nothing kept yet");
        save(d.path(), &cfg("10.77.0.149")).unwrap();
        save(d.path(), &cfg("10.77.0.199")).unwrap();
        assert_eq!(load(d.path()).unwrap(), Some(cfg("10.77.0.199")));
        // Only the file itself is left behind.
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [FILE]);
    }

    #[test]
    fn a_damaged_copy_is_an_error_not_a_configuration() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(FILE), b"{\"subnets\": [").unwrap();
        let e = load(d.path()).unwrap_err();
        assert!(e.to_string().contains(FILE), "{e}");
    }
}
