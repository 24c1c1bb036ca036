//! Getting and unpacking the Debian packages the ephemeral environment is made of.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ImageError;

/// The two packages a build needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebPackages {
    /// `linux-image-<version>-<arch>_*.deb`
    pub kernel: PathBuf,
    /// `busybox-static_*.deb`
    pub busybox: PathBuf,
}

fn run(cmd: &mut Command) -> Result<String, ImageError> {
    let shown = format!("{cmd:?}").replace('"', "");
    let out = cmd
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .map_err(|e| ImageError::Command {
            cmd: shown.clone(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(ImageError::Command {
            cmd: shown,
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn apt_update() -> Result<(), ImageError> {
    tracing::info!("running apt-get update");
    run(Command::new("apt-get").args(["update", "-q"])).map(|_| ())
}

/// The real kernel package behind the `linux-image-<arch>` meta-package, e.g.
/// `linux-image-6.1.0-56-amd64` (runs `apt-get update` once when apt does not know it).
pub fn resolve_kernel_package(arch: &str) -> Result<String, ImageError> {
    let meta = format!("linux-image-{arch}");
    let attempt = || -> Result<String, ImageError> {
        let text = run(Command::new("apt-cache").args(["depends", &meta]))?;
        parse_depends(&text, arch).ok_or_else(|| {
            ImageError::Missing(format!(
                "`apt-cache depends {meta}` names no linux-image package"
            ))
        })
    };
    attempt().or_else(|_| {
        apt_update()?;
        attempt()
    })
}

/// The first `Depends: linux-image-*-<arch>` in `apt-cache depends` output.
pub(crate) fn parse_depends(text: &str, arch: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().trim_start_matches('|').strip_prefix("Depends:"))
        .map(str::trim)
        .find(|p| {
            p.starts_with("linux-image-") && p.ends_with(&format!("-{arch}")) && !p.contains('<')
        })
        .map(str::to_string)
}

/// A `.deb` of package `pkg` already in `dir`, newest name last.
fn cached(dir: &Path, pkg: &str) -> Option<PathBuf> {
    let prefix = format!("{pkg}_");
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        })
        .collect();
    found.sort();
    found.pop()
}

pub(crate) fn download(dir: &Path, pkg: &str) -> Result<PathBuf, ImageError> {
    if let Some(p) = cached(dir, pkg) {
        return Ok(p);
    }
    tracing::info!(pkg, dir = %dir.display(), "apt-get download");
    // apt-get writes into its working directory in place, so two builds sharing the cache (tests
    // run side by side) could see each other's half-written or removed file: each download
    // goes to its own directory and the finished .deb is renamed into the cache in one step.
    let scratch = tempfile::Builder::new()
        .prefix(".download-")
        .tempdir_in(dir)
        .map_err(|e| ImageError::io(dir, e))?;
    let get = || {
        run(Command::new("apt-get")
            .args(["download", "-q", pkg])
            .current_dir(scratch.path()))
    };
    if get().is_err() {
        apt_update()?;
        get()?;
    }
    let fetched = cached(scratch.path(), pkg).ok_or_else(|| {
        ImageError::Missing(format!(
            "apt-get download {pkg} left no .deb in {}",
            scratch.path().display()
        ))
    })?;
    let name = fetched.file_name().map(PathBuf::from).unwrap_or_default();
    let kept = dir.join(name);
    fs::rename(&fetched, &kept).map_err(|e| ImageError::io(&kept, e))?;
    Ok(kept)
}

/// Downloads (with `apt-get download`) the kernel and `busybox-static` packages into `dir`,
/// reusing `.deb`s already there, so `dir` works as a cache. When apt cannot resolve the kernel
/// package (offline), a cached `linux-image-*-<arch>` .deb is used.
pub fn fetch_debs(arch: &str, dir: &Path) -> Result<DebPackages, ImageError> {
    fs::create_dir_all(dir).map_err(|e| ImageError::io(dir, e))?;
    let kernel = match resolve_kernel_package(arch) {
        Ok(pkg) => download(dir, &pkg)?,
        Err(e) => cached_kernel(dir, arch).ok_or(e)?,
    };
    let busybox = download(dir, "busybox-static")?;
    Ok(DebPackages { kernel, busybox })
}

fn cached_kernel(dir: &Path, arch: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("linux-image-")
                    && n.ends_with(".deb")
                    && n.split('_').next().is_some_and(|p| p.ends_with(arch))
            })
        })
        .collect();
    found.sort();
    found.pop()
}

/// `dpkg-deb -x deb dest`.
pub(crate) fn unpack(deb: &Path, dest: &Path) -> Result<(), ImageError> {
    fs::create_dir_all(dest).map_err(|e| ImageError::io(dest, e))?;
    run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(dest)).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_apt_cache_depends() {
        let text = "linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n";
        assert_eq!(
            parse_depends(text, "amd64").as_deref(),
            Some("linux-image-6.1.0-56-amd64")
        );
        let alt = "linux-image-amd64\n |Depends: <linux-image-virtual>\n  Depends: linux-image-6.1.0-9-amd64\n";
        assert_eq!(
            parse_depends(alt, "amd64").as_deref(),
            Some("linux-image-6.1.0-9-amd64")
        );
        assert_eq!(parse_depends("linux-image-amd64\n", "amd64"), None);
    }

    /// Builds running side by side share one cache: each must end with the whole .deb (CI once
    /// failed with "apt-get download dosfstools left no .deb" when two wrote into it at once).
    #[test]
    fn side_by_side_downloads_into_one_cache_both_get_the_deb() {
        let d = tempfile::tempdir().unwrap();
        let got: Vec<PathBuf> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..3)
                .map(|_| s.spawn(|| download(d.path(), "dosfstools")))
                .collect();
            runs.into_iter()
                .map(|h| h.join().unwrap().unwrap())
                .collect()
        });
        for deb in &got {
            let out = Command::new("dpkg-deb")
                .arg("--field")
                .arg(deb)
                .arg("Package")
                .output();
            let out = out.unwrap();
            assert!(out.status.success(), "{}: {out:?}", deb.display());
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "dosfstools");
        }
        let left: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 1, "only the .deb stays in the cache: {left:?}");
    }

    #[test]
    fn finds_cached_debs() {
        let d = tempfile::tempdir().unwrap();
        for n in [
            "busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb",
            "linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb",
            "notes.txt",
        ] {
            fs::write(d.path().join(n), b"").unwrap();
        }
        assert!(cached(d.path(), "busybox-static").is_some());
        assert!(cached(d.path(), "busybox").is_none());
        assert!(cached(d.path(), "linux-image-6.1.0-56-amd64").is_some());
        assert!(cached_kernel(d.path(), "amd64").is_some());
        assert!(cached_kernel(d.path(), "arm64").is_none());
    }
}
