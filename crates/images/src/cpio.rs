//! A minimal writer (and reader, for verification) of the "newc" cpio format that the
//! Linux kernel unpacks as an initramfs.
//!
//! Each entry is a 110-byte ASCII header (`070701` + 13 eight-digit hex fields), the
//! NUL-terminated name padded to a multiple of 4, then the data padded to a multiple of 4.
//! The archive ends with an entry named `TRAILER!!!`.

use std::collections::BTreeSet;
use std::io::{self, Write};

const MAGIC: &str = "070701";
const TRAILER: &str = "TRAILER!!!";

pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFCHR: u32 = 0o020000;
const S_IFMT: u32 = 0o170000;

/// Streams a newc archive. Entries get mtime 0, uid/gid 0 so that identical content gives an
/// identical archive. Parent directories are created automatically (mode 0755).
pub struct CpioWriter<W: Write> {
    out: W,
    ino: u32,
    written: u64,
    dirs: BTreeSet<String>,
    names: BTreeSet<String>,
}

impl<W: Write> CpioWriter<W> {
    pub fn new(out: W) -> Self {
        CpioWriter {
            out,
            ino: 1,
            written: 0,
            dirs: BTreeSet::new(),
            names: BTreeSet::new(),
        }
    }

    /// Adds a directory (and its parents).
    pub fn dir(&mut self, path: &str, mode: u32) -> io::Result<()> {
        let path = normalize(path)?;
        self.parents(&path)?;
        if self.dirs.contains(&path) {
            return Ok(());
        }
        self.entry(&path, S_IFDIR | (mode & 0o7777), 2, (0, 0), &[])?;
        self.dirs.insert(path);
        Ok(())
    }

    /// Adds a regular file.
    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) -> io::Result<()> {
        let path = normalize(path)?;
        self.parents(&path)?;
        self.entry(&path, S_IFREG | (mode & 0o7777), 1, (0, 0), data)
    }

    /// Adds a symbolic link `path -> target`.
    pub fn symlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        let path = normalize(path)?;
        self.parents(&path)?;
        self.entry(&path, S_IFLNK | 0o777, 1, (0, 0), target.as_bytes())
    }

    /// Adds a character device node (e.g. `/dev/console`, 5:1).
    pub fn char_dev(&mut self, path: &str, mode: u32, major: u32, minor: u32) -> io::Result<()> {
        let path = normalize(path)?;
        self.parents(&path)?;
        self.entry(&path, S_IFCHR | (mode & 0o7777), 1, (major, minor), &[])
    }

    /// Writes the trailer and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.raw_entry(TRAILER, 0, 1, (0, 0), &[], 0)?;
        // Pad the archive to a 512-byte boundary like cpio(1) does (harmless for the kernel).
        let pad = (512 - (self.written % 512)) % 512;
        self.out.write_all(&vec![0u8; pad as usize])?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn parents(&mut self, path: &str) -> io::Result<()> {
        let mut acc = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(part);
            if !self.dirs.contains(&acc) {
                self.entry(&acc, S_IFDIR | 0o755, 2, (0, 0), &[])?;
                self.dirs.insert(acc.clone());
            }
        }
        Ok(())
    }

    fn entry(
        &mut self,
        name: &str,
        mode: u32,
        nlink: u32,
        rdev: (u32, u32),
        data: &[u8],
    ) -> io::Result<()> {
        if !self.names.insert(name.to_string()) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("duplicate cpio entry {name}"),
            ));
        }
        let ino = self.ino;
        self.ino += 1;
        self.raw_entry(name, mode, nlink, rdev, data, ino)
    }

    fn raw_entry(
        &mut self,
        name: &str,
        mode: u32,
        nlink: u32,
        rdev: (u32, u32),
        data: &[u8],
        ino: u32,
    ) -> io::Result<()> {
        let size = u32::try_from(data.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name}: file too large for newc"),
            )
        })?;
        let namesize = name.len() as u32 + 1;
        let header = format!(
            "{MAGIC}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}",
            ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev.0, rdev.1, namesize, 0
        );
        debug_assert_eq!(header.len(), 110);
        self.put(header.as_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad4()?;
        self.put(data)?;
        self.pad4()
    }

    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.written += b.len() as u64;
        Ok(())
    }

    fn pad4(&mut self) -> io::Result<()> {
        let pad = (4 - (self.written % 4)) % 4;
        self.put(&[0u8; 3][..pad as usize])
    }
}

/// Paths are stored relative ("bin/busybox"), without `.`/`..` components.
fn normalize(path: &str) -> io::Result<String> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad archive path {path:?}"),
        ));
    }
    Ok(parts.join("/"))
}

/// What kind of entry [`parse`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File(Vec<u8>),
    Symlink(String),
    CharDev { major: u32, minor: u32 },
    Other(u32),
}

/// An entry read back from a newc archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub mode: u32,
    pub kind: EntryKind,
}

/// Parses a (decompressed) newc archive up to its trailer. Used by tests and for inspection.
pub fn parse(buf: &[u8]) -> io::Result<Vec<Entry>> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let mut pos = 0usize;
    let mut out = Vec::new();
    loop {
        let h = buf
            .get(pos..pos + 110)
            .ok_or_else(|| bad("truncated header"))?;
        if &h[..6] != MAGIC.as_bytes() {
            return Err(bad("bad magic"));
        }
        let field = |i: usize| -> io::Result<u32> {
            let s = std::str::from_utf8(&h[6 + 8 * i..6 + 8 * (i + 1)])
                .map_err(|_| bad("bad field"))?;
            u32::from_str_radix(s, 16).map_err(|_| bad("bad hex field"))
        };
        let mode = field(1)?;
        let size = field(6)? as usize;
        let (rmaj, rmin) = (field(9)?, field(10)?);
        let namesize = field(11)? as usize;
        let name_start = pos + 110;
        let name_bytes = buf
            .get(name_start..name_start + namesize)
            .ok_or_else(|| bad("truncated name"))?;
        if name_bytes.last() != Some(&0) {
            return Err(bad("name not NUL-terminated"));
        }
        let name = String::from_utf8(name_bytes[..namesize - 1].to_vec())
            .map_err(|_| bad("name not utf-8"))?;
        let data_start = (name_start + namesize).div_ceil(4) * 4;
        let data = buf
            .get(data_start..data_start + size)
            .ok_or_else(|| bad("truncated data"))?;
        pos = (data_start + size).div_ceil(4) * 4;
        if name == TRAILER {
            return Ok(out);
        }
        let kind = match mode & S_IFMT {
            S_IFDIR => EntryKind::Dir,
            S_IFREG => EntryKind::File(data.to_vec()),
            S_IFLNK => EntryKind::Symlink(String::from_utf8_lossy(data).into_owned()),
            S_IFCHR => EntryKind::CharDev {
                major: rmaj,
                minor: rmin,
            },
            other => EntryKind::Other(other),
        };
        out.push(Entry {
            name,
            mode: mode & 0o7777,
            kind,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut w = CpioWriter::new(Vec::new());
        w.dir("/proc", 0o555).unwrap();
        w.file("/bin/busybox", 0o755, b"\x7fELF fake").unwrap();
        w.symlink("/bin/sh", "busybox").unwrap();
        w.char_dev("/dev/console", 0o600, 5, 1).unwrap();
        w.file("etc/empty", 0o644, b"").unwrap();
        w.file("a/b/c/odd", 0o600, b"12345").unwrap();
        let buf = w.finish().unwrap();
        assert_eq!(buf.len() % 512, 0);
        let entries = parse(&buf).unwrap();
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "proc",
                "bin",
                "bin/busybox",
                "bin/sh",
                "dev",
                "dev/console",
                "etc",
                "etc/empty",
                "a",
                "a/b",
                "a/b/c",
                "a/b/c/odd"
            ]
        );
        let get = |n: &str| entries.iter().find(|e| e.name == n).unwrap().clone();
        assert_eq!(get("proc").kind, EntryKind::Dir);
        assert_eq!(get("proc").mode, 0o555);
        assert_eq!(
            get("bin/busybox").kind,
            EntryKind::File(b"\x7fELF fake".to_vec())
        );
        assert_eq!(get("bin/busybox").mode, 0o755);
        assert_eq!(get("bin/sh").kind, EntryKind::Symlink("busybox".into()));
        assert_eq!(
            get("dev/console").kind,
            EntryKind::CharDev { major: 5, minor: 1 }
        );
        assert_eq!(get("etc/empty").kind, EntryKind::File(vec![]));
        assert_eq!(get("a/b/c/odd").kind, EntryKind::File(b"12345".to_vec()));
    }

    #[test]
    fn header_layout_matches_newc() {
        let mut w = CpioWriter::new(Vec::new());
        w.file("x", 0o644, b"hi").unwrap();
        let buf = w.finish().unwrap();
        // magic, ino=1, mode=0100644, ...
        assert_eq!(&buf[..6], b"070701");
        assert_eq!(&buf[6..14], b"00000001");
        assert_eq!(&buf[14..22], b"000081A4");
        assert_eq!(&buf[54..62], b"00000002"); // filesize
        assert_eq!(&buf[94..102], b"00000002"); // namesize incl. NUL
                                                // name at 110, "x\0", padded to 112, data "hi" at 112.
        assert_eq!(&buf[110..112], b"x\0");
        assert_eq!(&buf[112..114], b"hi");
    }

    #[test]
    fn deterministic_and_rejects_bad_paths() {
        let make = || {
            let mut w = CpioWriter::new(Vec::new());
            w.file("init", 0o755, b"#!/bin/sh\n").unwrap();
            w.finish().unwrap()
        };
        assert_eq!(make(), make());
        let mut w = CpioWriter::new(Vec::new());
        assert!(w.file("../etc/passwd", 0o644, b"").is_err());
        assert!(w.file("/", 0o644, b"").is_err());
        w.file("x", 0o644, b"").unwrap();
        assert!(w.file("/x", 0o644, b"").is_err(), "duplicates are refused");
    }

    #[test]
    fn cpio_tool_lists_archive_if_installed() {
        use std::process::{Command, Stdio};
        if Command::new("cpio").arg("--version").output().is_err() {
            eprintln!("cpio(1) not installed; skipping the cross-check");
            return;
        }
        let mut w = CpioWriter::new(Vec::new());
        w.file("bin/busybox", 0o755, b"data").unwrap();
        w.symlink("bin/sh", "busybox").unwrap();
        let buf = w.finish().unwrap();
        let mut child = Command::new("cpio")
            .args(["-t", "--quiet"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&buf).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "bin\nbin/busybox\nbin/sh\n"
        );
    }
}
