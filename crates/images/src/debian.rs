//! A real Debian 12 root filesystem, as the distribution lays it out, for the deployment
//! tests: `mmdebstrap` (Debian's own tool; `scripts/peers/debian-image.sh` installs it) from
//! Debian's packages — the `linux-image-amd64` kernel as `/boot/vmlinuz-<version>` with its
//! initramfs-tools initramfs and the `/vmlinuz` + `/initrd.img` links at the root, cloud-init,
//! the OpenSSH server, ifupdown (cloud-init's ENI renderer, Debian's default) and GRUB for BIOS
//! and UEFI (the `-bin` packages: nothing is installed on the build host's disks) — written as a
//! gzip'ed root tarball (MAAS's `tgz`).
//!
//! Built once and cached under `cache_dir`, keyed by everything that goes into the build
//! (suite, variant, packages, options); an exclusive lock on the cache directory makes
//! concurrent test processes wait for one build instead of running several.

use ingot_core::ids::hex;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sha2::Digest;

use crate::ImageError;

/// The suite.
pub const SUITE: &str = "bookworm";
/// mmdebstrap's variant: Essential and apt, then the packages below (without Recommends).
pub const VARIANT: &str = "minbase";
/// What a MAAS-style deployment needs in the installed system.
pub const PACKAGES: &[&str] = &[
    "linux-image-amd64",
    "initramfs-tools",
    "systemd-sysv",
    "udev",
    "kmod",
    "cloud-init",
    "openssh-server",
    "sudo",
    "ifupdown",
    // The DNS servers and search domains of the network-config (ENI `dns-*` lines) reach
    // /etc/resolv.conf through resolvconf; cloud-init's NTP module configures
    // systemd-timesyncd (without a client it would try to install one).
    "resolvconf",
    "systemd-timesyncd",
    "iproute2",
    "netbase",
    "e2fsprogs",
    "dosfstools",
    "grub-pc-bin",
    "grub-efi-amd64-bin",
    "grub2-common",
    // A root on LVM (MAAS's `lvm` layout): the initramfs activates the volume group.
    "lvm2",
    // RAID arrays made at deployment are assembled at boot (udev's incremental assembly;
    // the initramfs for a root on RAID), as in Ubuntu's cloud images.
    "mdadm",
];
/// dpkg filters (documentation and translations, as Debian's minimal images leave out).
pub const DPKG_OPTIONS: &[&str] = &[
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
];
/// After the packages: the build host's name and resolver are not the image's (resolv.conf is
/// resolvconf's link, as its package makes it on a real install); the system
/// locale is set to C.UTF-8 in `/etc/default/locale` (without it cloud-init's locale module
/// runs Debian's `locale-gen en_US.UTF-8`, which makes nothing unless `/etc/locale.gen` lists
/// it, so `update-locale` fails, `modules-config` reports FAIL and that fails the deployment,
/// as in MAAS — measured with and without the `locales` package).
pub const CUSTOMIZE_HOOKS: &[&str] = &[
    "echo localhost > \"$1/etc/hostname\"",
    // resolvconf's link (what ifupdown's `dns-*` lines feed), not the build host's file.
    "rm -f \"$1/etc/resolv.conf\" && ln -s ../run/resolvconf/resolv.conf \"$1/etc/resolv.conf\"",
    "echo LANG=C.UTF-8 > \"$1/etc/default/locale\"",
];
/// The default mirror (`INGOT_DEBIAN_MIRROR` overrides it).
pub const MIRROR: &str = "http://deb.debian.org/debian";

/// The cached image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebianImage {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    /// How long mmdebstrap ran; None when the image came from the cache.
    pub built_in: Option<Duration>,
}

/// The cache key: a digest of everything the build is made of.
pub fn cache_key() -> String {
    let mut h = sha2::Sha256::new();
    for part in [SUITE, VARIANT]
        .iter()
        .chain(PACKAGES)
        .chain(DPKG_OPTIONS)
        .chain(CUSTOMIZE_HOOKS)
    {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex(&h.finalize())[..16].to_string()
}

/// The mmdebstrap command line writing the image to `out` (a `.tar.gz`).
pub fn mmdebstrap_args(out: &Path, mirror: &str) -> Vec<String> {
    let mut a = vec![
        format!("--variant={VARIANT}"),
        "--mode=auto".to_string(),
        format!("--include={}", PACKAGES.join(",")),
        "--aptopt=Acquire::Retries \"3\"".to_string(),
    ];
    a.extend(DPKG_OPTIONS.iter().map(|o| format!("--dpkgopt={o}")));
    a.extend(
        CUSTOMIZE_HOOKS
            .iter()
            .map(|h| format!("--customize-hook={h}")),
    );
    a.push(SUITE.to_string());
    a.push(out.to_string_lossy().into_owned());
    a.push(mirror.to_string());
    a
}

/// The Debian 12 image in `cache_dir` (`debian-12-<key>.tgz`), built first when missing.
pub fn debian_image(cache_dir: &Path) -> Result<DebianImage, ImageError> {
    fs::create_dir_all(cache_dir).map_err(|e| ImageError::io(cache_dir, e))?;
    let lock_path = cache_dir.join(".lock");
    let lock = fs::File::create(&lock_path).map_err(|e| ImageError::io(&lock_path, e))?;
    lock.lock().map_err(|e| ImageError::io(&lock_path, e))?;
    let key = cache_key();
    let path = cache_dir.join(format!("debian-12-{key}.tgz"));
    let digest_path = cache_dir.join(format!("debian-12-{key}.tgz.sha256"));
    let mut built_in = None;
    if !path.is_file() || !digest_path.is_file() {
        let partial = cache_dir.join(format!("debian-12-{key}.partial.tar.gz"));
        let _ = fs::remove_file(&partial);
        let mirror = std::env::var("INGOT_DEBIAN_MIRROR").unwrap_or_else(|_| MIRROR.into());
        let args = mmdebstrap_args(&partial, &mirror);
        tracing::info!("running mmdebstrap {}", args.join(" "));
        let started = Instant::now();
        let out = Command::new("mmdebstrap")
            .args(&args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .map_err(|e| ImageError::Command {
                cmd: "mmdebstrap".into(),
                detail: format!("{e} (scripts/peers/debian-image.sh installs it)"),
            })?;
        if !out.status.success() {
            let _ = fs::remove_file(&partial);
            let err = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = err.lines().rev().take(30).collect();
            return Err(ImageError::Command {
                cmd: format!("mmdebstrap {}", args.join(" ")),
                detail: format!(
                    "{}: {}",
                    out.status,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ),
            });
        }
        built_in = Some(started.elapsed());
        let digest = file_sha256(&partial)?;
        fs::write(&digest_path, &digest).map_err(|e| ImageError::io(&digest_path, e))?;
        fs::rename(&partial, &path).map_err(|e| ImageError::io(&path, e))?;
        // Images of other package lists are stale: one image is kept.
        if let Ok(rd) = fs::read_dir(cache_dir) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("debian-12-") && !name.starts_with(&format!("debian-12-{key}"))
                {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
    }
    let sha256 = fs::read_to_string(&digest_path)
        .map_err(|e| ImageError::io(&digest_path, e))?
        .trim()
        .to_string();
    let size = fs::metadata(&path)
        .map_err(|e| ImageError::io(&path, e))?
        .len();
    drop(lock);
    Ok(DebianImage {
        path,
        sha256,
        size,
        built_in,
    })
}

fn file_sha256(p: &Path) -> Result<String, ImageError> {
    let mut f = fs::File::open(p).map_err(|e| ImageError::io(p, e))?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| ImageError::io(p, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_and_command_line() {
        let k = cache_key();
        assert_eq!(k.len(), 16);
        assert_eq!(k, cache_key());
        let a = mmdebstrap_args(Path::new("/c/x.tar.gz"), MIRROR);
        assert_eq!(a[0], "--variant=minbase");
        assert!(a[2].starts_with("--include=linux-image-amd64,"));
        assert!(a[2].contains(",cloud-init,openssh-server,"));
        assert_eq!(
            a[a.len() - 3..],
            ["bookworm".to_string(), "/c/x.tar.gz".into(), MIRROR.into()]
        );
    }
}
