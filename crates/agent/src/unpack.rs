//! Lays an image's bytes down, by its kind (`core::deploy::ImageKind`): root file systems
//! (tarballs compressed with gzip, bzip2 or xz; squashfs) are extracted into the target, disk
//! images (raw, compressed, or one raw disk inside a tar) are written over the boot disk.
//! Decompression streams (no temporary copy); a squashfs needs random access, so it is
//! downloaded into the target first, checked, extracted, and removed.
//!
//! Owners, modes, device nodes and FIFOs are made as GNU tar and unsquashfs make them, and no
//! name may leave the target.

use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use ingot_core::deploy::Compression;

/// An io error with its sources, as `what: error: cause`.
fn chain(what: &str, e: &dyn std::error::Error) -> String {
    let mut m = format!("{what}: {e}");
    let mut src = e.source();
    while let Some(s) = src {
        m.push_str(&format!(": {s}"));
        src = s.source();
    }
    m
}

/// The image's bytes, decompressed. Concatenated streams (pigz, pbzip2, pixz) are read whole.
pub fn decompress<'a, R: Read + 'a>(c: Compression, r: R) -> Box<dyn Read + 'a> {
    match c {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(r)),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(r)),
    }
}

/// `path` inside `target`; a name that leaves it (`..`, absolute after the root) is refused.
fn inside(target: &Path, path: &Path) -> Result<PathBuf, String> {
    let mut dst = target.to_path_buf();
    for c in path.components() {
        match c {
            Component::Normal(n) => dst.push(n),
            Component::CurDir | Component::RootDir => {}
            _ => return Err(format!("extracting: {} leaves the target", path.display())),
        }
    }
    Ok(dst)
}

fn cstr(p: &Path) -> Result<std::ffi::CString, String> {
    std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(|e| e.to_string())
}

/// A device node or FIFO (`fmt` is `S_IFCHR`, `S_IFBLK` or `S_IFIFO`), replacing what is there.
fn make_node(dst: &Path, fmt: libc::mode_t, mode: u32, dev: libc::dev_t) -> Result<(), String> {
    let _ = std::fs::remove_file(dst);
    let c = cstr(dst)?;
    // SAFETY: a valid C string.
    if unsafe { libc::mknod(c.as_ptr(), fmt | (mode & 0o7777), dev) } != 0 {
        return Err(format!(
            "extracting: mknod {}: {}",
            dst.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Owner, then mode (chown clears set-id bits), then modification time; a symlink gets only
/// its owner and time.
fn set_meta(dst: &Path, uid: u32, gid: u32, mode: Option<u32>, mtime: i64) -> Result<(), String> {
    let c = cstr(dst)?;
    let times = [
        libc::timespec {
            tv_sec: mtime as libc::time_t,
            tv_nsec: 0,
        },
        libc::timespec {
            tv_sec: mtime as libc::time_t,
            tv_nsec: 0,
        },
    ];
    // SAFETY: valid C string and a two-element timespec array.
    unsafe {
        if libc::lchown(c.as_ptr(), uid, gid) != 0 {
            return Err(format!(
                "extracting: chown {}: {}",
                dst.display(),
                std::io::Error::last_os_error()
            ));
        }
        if let Some(m) = mode {
            libc::chmod(c.as_ptr(), m & 0o7777);
        }
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        );
    }
    Ok(())
}

/// Extracts a root tarball (already decompressed) into `target`.
pub fn root_tar<R: Read>(r: R, target: &Path) -> Result<(), String> {
    let mut a = tar::Archive::new(r);
    a.set_preserve_permissions(true);
    a.set_preserve_ownerships(true);
    a.set_overwrite(true);
    a.set_unpack_xattrs(false);
    for entry in a.entries().map_err(|e| chain("extracting", &e))? {
        let mut e = entry.map_err(|e| chain("extracting", &e))?;
        let h = e.header();
        let kind = h.entry_type();
        if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            // The tar crate would make these regular files (a root tarball's /dev nodes, as
            // mmdebstrap writes them).
            let path = e.path().map_err(|err| format!("extracting: {err}"))?;
            let dst = inside(target, &path)?;
            let fmt = if kind.is_character_special() {
                libc::S_IFCHR
            } else if kind.is_block_special() {
                libc::S_IFBLK
            } else {
                libc::S_IFIFO
            };
            let mode = h.mode().map_err(|err| format!("extracting: {err}"))?;
            let major = h.device_major().ok().flatten().unwrap_or(0);
            let minor = h.device_minor().ok().flatten().unwrap_or(0);
            make_node(&dst, fmt, mode, libc::makedev(major, minor))?;
            let (uid, gid) = (h.uid().unwrap_or(0), h.gid().unwrap_or(0));
            set_meta(
                &dst,
                uid as u32,
                gid as u32,
                Some(mode),
                h.mtime().unwrap_or(0) as i64,
            )?;
            continue;
        }
        e.unpack_in(target).map_err(|e| chain("extracting", &e))?;
    }
    drain(a.into_inner())
}

/// Reads what follows the tar's end to the end of the stream, so that the decompressor checks
/// its trailer (a damaged gzip, bzip2 or xz stream is found by its checksum there, after the
/// last file).
fn drain<R: Read>(mut r: R) -> Result<(), String> {
    std::io::copy(&mut r, &mut std::io::sink())
        .map(|_| ())
        .map_err(|e| chain("decompressing", &e))
}

/// Writes a disk image (already decompressed; with `tarred`, the first regular file of the
/// tar) over `dev`, then syncs. A disk too small for the image is named as such. Returns the
/// bytes written.
pub fn disk<R: Read>(r: R, tarred: bool, dev: &Path, disk_id: &str) -> Result<u64, String> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(dev)
        .map_err(|e| format!("open {}: {e}", dev.display()))?;
    let copy = |r: &mut dyn Read, f: &mut std::fs::File| -> Result<u64, String> {
        std::io::copy(r, f).map_err(|e| match e.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::WriteZero => {
                format!("the image is larger than disk {disk_id}")
            }
            _ => chain("writing", &e),
        })
    };
    let n = if tarred {
        let mut a = tar::Archive::new(r);
        let mut found = None;
        for entry in a.entries().map_err(|e| chain("reading the tar", &e))? {
            let mut e = entry.map_err(|e| chain("reading the tar", &e))?;
            if e.header().entry_type().is_file() {
                found = Some(copy(&mut e, &mut f)?);
                break;
            }
        }
        let n = found.ok_or("the tar holds no disk image (no regular file)")?;
        drain(a.into_inner())?;
        n
    } else {
        let mut r = r;
        copy(&mut r, &mut f)?
    };
    f.flush().map_err(|e| format!("flush: {e}"))?;
    f.sync_all().map_err(|e| format!("sync: {e}"))?;
    Ok(n)
}

/// Extracts the squashfs file `image` into `target`. Directories get their modes and times
/// after their contents (a read-only directory is filled first).
pub fn squashfs(image: &Path, target: &Path) -> Result<(), String> {
    use backhand::{FilesystemReader, InnerNode};
    let file = std::fs::File::open(image).map_err(|e| format!("open {}: {e}", image.display()))?;
    let fs = FilesystemReader::from_reader(std::io::BufReader::new(file))
        .map_err(|e| chain("not a squashfs file system", &e))?;
    let mut dirs = Vec::new();
    for node in fs.files() {
        let dst = inside(target, &node.fullpath)?;
        let h = &node.header;
        let mode = u32::from(h.permissions);
        let mtime = i64::from(h.mtime);
        match &node.inner {
            InnerNode::Dir(_) => {
                std::fs::create_dir_all(&dst)
                    .map_err(|e| format!("extracting: mkdir {}: {e}", dst.display()))?;
                dirs.push((dst, h.uid, h.gid, mode, mtime));
                continue;
            }
            InnerNode::File(f) => {
                let _ = std::fs::remove_file(&dst);
                let mut out = std::fs::File::create(&dst)
                    .map_err(|e| format!("extracting: {}: {e}", dst.display()))?;
                let mut r = fs.file(f).reader();
                std::io::copy(&mut r, &mut out)
                    .map_err(|e| chain(&format!("extracting {}", node.fullpath.display()), &e))?;
            }
            InnerNode::Symlink(l) => {
                let _ = std::fs::remove_file(&dst);
                std::os::unix::fs::symlink(&l.link, &dst)
                    .map_err(|e| format!("extracting: symlink {}: {e}", dst.display()))?;
                set_meta(&dst, h.uid, h.gid, None, mtime)?;
                continue;
            }
            InnerNode::CharacterDevice(d) => {
                make_node(&dst, libc::S_IFCHR, mode, d.device_number.into())?
            }
            InnerNode::BlockDevice(d) => {
                make_node(&dst, libc::S_IFBLK, mode, d.device_number.into())?
            }
            InnerNode::NamedPipe => make_node(&dst, libc::S_IFIFO, mode, 0)?,
            // A socket is made by the program that listens on it.
            InnerNode::Socket => continue,
        }
        set_meta(&dst, h.uid, h.gid, Some(mode), mtime)?;
    }
    for (dst, uid, gid, mode, mtime) in dirs.into_iter().rev() {
        set_meta(&dst, uid, gid, Some(mode), mtime)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_leaving_the_target_are_refused() {
        let t = Path::new("/target");
        assert_eq!(
            inside(t, Path::new("/etc/passwd")).unwrap(),
            PathBuf::from("/target/etc/passwd")
        );
        assert_eq!(
            inside(t, Path::new("./a/b")).unwrap(),
            PathBuf::from("/target/a/b")
        );
        assert!(inside(t, Path::new("a/../../etc")).is_err());
    }

    #[test]
    fn every_compression_round_trips() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        };
        let bz = {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        };
        let xz = {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        };
        for (c, bytes) in [
            (Compression::None, data.clone()),
            (Compression::Gzip, gz),
            (Compression::Bzip2, bz),
            (Compression::Xz, xz),
        ] {
            let mut out = Vec::new();
            decompress(c, &bytes[..]).read_to_end(&mut out).unwrap();
            assert!(out == data, "{c:?}");
        }
        // Corrupt input is an error, not a short read.
        let mut out = Vec::new();
        assert!(decompress(Compression::Xz, &b"not xz at all"[..])
            .read_to_end(&mut out)
            .is_err());
    }
}
