//! The deployment tools of the ephemeral environment, from Debian packages fetched like the
//! kernel: `mke2fs` (e2fsprogs), `mkfs.fat` (dosfstools), `extlinux` + syslinux's MBR boot
//! code (extlinux, syslinux-common), syslinux.efi for UEFI (syslinux-efi), `lvm` (lvm2),
//! `make-bcache` (bcache-tools) and `mdadm` (mdadm), with the
//! shared libraries they need (resolved with `ldd`, the unpacked packages' libraries first).
//! `mkswap` and `blkdiscard` are busybox applets.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ImageError;

/// Packages downloaded for the tools: the tools and the libraries they link that a minimal
/// Debian system may not have.
pub const TOOL_PACKAGES: &[&str] = &[
    "e2fsprogs",
    "libext2fs2",
    "libss2",
    "libcom-err2",
    "libblkid1",
    "libuuid1",
    "dosfstools",
    "extlinux",
    "syslinux-common",
    "syslinux-efi",
    "lvm2",
    "libdevmapper1.02.1",
    "libdevmapper-event1.02.1",
    "libaio1",
    "libedit2",
    "libbsd0",
    "libmd0",
    "libtinfo6",
    "libselinux1",
    "libpcre2-8-0",
    "libsystemd0",
    "libudev1",
    "libcap2",
    "libgcrypt20",
    "libgpg-error0",
    "liblz4-1",
    "liblzma5",
    "libzstd1",
    "bcache-tools",
    "mdadm",
];

/// The executables, by file name.
pub const TOOL_BINARIES: &[&str] = &[
    "mke2fs",
    "mkfs.fat",
    "extlinux",
    "lvm",
    "make-bcache",
    "mdadm",
];

/// Data files, by path in the packages (and in the initramfs).
pub const TOOL_DATA: &[&str] = &[
    "usr/lib/syslinux/mbr/mbr.bin",
    "usr/lib/syslinux/mbr/gptmbr.bin",
    "usr/lib/syslinux/modules/bios/ldlinux.c32",
    "usr/lib/syslinux/modules/bios/libcom32.c32",
    "usr/lib/syslinux/modules/bios/libutil.c32",
    "usr/lib/syslinux/modules/bios/menu.c32",
    "usr/lib/syslinux/modules/efi64/ldlinux.e64",
    "usr/lib/SYSLINUX.EFI/efi64/syslinux.efi",
    "etc/lvm/lvm.conf",
];

/// One file to put into the image: its path there, where it is now, its mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFile {
    pub dest: String,
    pub src: PathBuf,
    pub mode: u32,
}

/// The tools' files (executables and data) and their shared libraries.
#[derive(Debug, Clone, Default)]
pub struct Tools {
    pub files: Vec<ImageFile>,
    pub libs: Vec<ImageFile>,
}

/// Downloads (into `cache`, reused) and unpacks the tool packages under `work`, and lists what
/// goes into the initramfs.
pub fn prepare(cache: &Path, work: &Path) -> Result<Tools, ImageError> {
    fs::create_dir_all(cache).map_err(|e| ImageError::io(cache, e))?;
    let root = work.join("tools");
    if root.exists() {
        fs::remove_dir_all(&root).map_err(|e| ImageError::io(&root, e))?;
    }
    for p in TOOL_PACKAGES {
        let deb = crate::debs::download(cache, p)?;
        crate::debs::unpack(&deb, &root)?;
    }
    let mut tools = Tools::default();
    let lib_dirs: Vec<PathBuf> = [
        "lib/x86_64-linux-gnu",
        "usr/lib/x86_64-linux-gnu",
        "lib",
        "usr/lib",
    ]
    .iter()
    .map(|d| root.join(d))
    .filter(|d| d.is_dir())
    .collect();
    for name in TOOL_BINARIES {
        let rel = ["sbin", "usr/sbin", "bin", "usr/bin"]
            .iter()
            .map(|d| format!("{d}/{name}"))
            .find(|r| root.join(r).is_file())
            .ok_or_else(|| ImageError::Missing(format!("no {name} in the tool packages")))?;
        let src = root.join(&rel);
        for lib in libraries(&src, &lib_dirs)? {
            let dest = match lib.strip_prefix(&root) {
                Ok(r) => r.to_string_lossy().into_owned(),
                Err(_) => lib.to_string_lossy().trim_start_matches('/').to_string(),
            };
            if !tools.libs.iter().any(|l| l.dest == dest) {
                tools.libs.push(ImageFile {
                    dest,
                    src: fs::canonicalize(&lib).unwrap_or(lib),
                    mode: 0o755,
                });
            }
        }
        tools.files.push(ImageFile {
            dest: rel,
            src,
            mode: 0o755,
        });
    }
    for rel in TOOL_DATA {
        let src = root.join(rel);
        if !src.is_file() {
            return Err(ImageError::Missing(format!(
                "no {rel} in the tool packages"
            )));
        }
        tools.files.push(ImageFile {
            dest: rel.to_string(),
            src,
            mode: 0o644,
        });
    }
    Ok(tools)
}

/// `ldd` on `bin`, the unpacked libraries first.
fn libraries(bin: &Path, lib_dirs: &[PathBuf]) -> Result<Vec<PathBuf>, ImageError> {
    let path = lib_dirs
        .iter()
        .map(|d| d.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(":");
    let out = Command::new("ldd")
        .arg(bin)
        .env("LD_LIBRARY_PATH", path)
        .output()
        .map_err(|e| ImageError::Command {
            cmd: format!("ldd {}", bin.display()),
            detail: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        if text.contains("not a dynamic executable")
            || String::from_utf8_lossy(&out.stderr).contains("not a dynamic executable")
        {
            return Ok(Vec::new());
        }
        return Err(ImageError::Command {
            cmd: format!("ldd {}", bin.display()),
            detail: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    crate::parse_ldd(&text).map_err(|e| match e {
        ImageError::Missing(m) => ImageError::Missing(format!("{}: {m}", bin.display())),
        other => other,
    })
}
