//! Every image format MAAS accepts, made by the real tools (GNU tar, gzip, bzip2, xz,
//! mksquashfs from squashfs-tools) and installed by `ingot-agent install` onto loop devices:
//! root tarballs (`tgz`, `tbz`, `txz`) and squashfs root file systems keep owners, modes,
//! set-id bits, symlinks, device nodes and FIFOs; disk images (`ddraw`, `ddgz`, `ddbz2`,
//! `ddxz`, `ddtar`, `ddtgz`, `ddtbz`, `ddtxz`) land on the disk byte for byte and get their
//! seed; a corrupt or oversized image fails the image step with its reason.
//!
//! Needs root and the host tools of `scripts/peers/deploy.sh` (skipped without them, a
//! failure in CI).

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use ingot_core::deploy::{FsType, ImageKind, ImageSource, PartitionTable, StorageStep};

mod common;
use common::*;

fn sh(cmd: &str, dir: &Path) {
    let st = Command::new("sh")
        .args(["-ec", cmd])
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(st.success(), "{cmd}");
}

/// A small root tree with what a real root file system holds: owners, modes, set-id bits,
/// a symlink, a character device and a FIFO, a read-only directory with contents.
fn make_tree(root: &Path) {
    sh(
        "mkdir -p etc dev usr/bin ro-dir home/u
         head -c 300000 /dev/urandom > etc/big
         echo hello > etc/hostname
         printf '#!/bin/sh\\n' > usr/bin/tool && chmod 4755 usr/bin/tool
         ln -s ../etc/hostname usr/host-link
         echo inside > ro-dir/file && chmod 0555 ro-dir
         echo mine > home/u/f && chown -R 1234:4321 home/u && chmod 0700 home/u
         mknod dev/null c 1 3 && chmod 0666 dev/null
         mkfifo dev/initctl && chmod 0600 dev/initctl",
        root,
    );
}

/// Checks the installed tree against the source tree.
fn check_tree(src: &Path, got: &Path, what: &str) {
    let big = std::fs::read(got.join("etc/big")).unwrap_or_default();
    assert!(
        big == std::fs::read(src.join("etc/big")).unwrap(),
        "{what}: etc/big"
    );
    let tool = std::fs::metadata(got.join("usr/bin/tool")).unwrap();
    assert_eq!(
        tool.permissions().mode() & 0o7777,
        0o4755,
        "{what}: set-uid kept"
    );
    assert_eq!(
        std::fs::read_link(got.join("usr/host-link")).unwrap(),
        Path::new("../etc/hostname"),
        "{what}"
    );
    let ro = std::fs::metadata(got.join("ro-dir")).unwrap();
    assert_eq!(ro.permissions().mode() & 0o7777, 0o555, "{what}: ro-dir");
    assert_eq!(
        std::fs::read_to_string(got.join("ro-dir/file")).unwrap(),
        "inside\n"
    );
    let home = std::fs::metadata(got.join("home/u")).unwrap();
    assert_eq!(
        (home.uid(), home.gid(), home.permissions().mode() & 0o7777),
        (1234, 4321, 0o700),
        "{what}: home/u owner and mode"
    );
    let f = std::fs::metadata(got.join("home/u/f")).unwrap();
    assert_eq!((f.uid(), f.gid()), (1234, 4321), "{what}: home/u/f owner");
    let null = std::fs::metadata(got.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device(), "{what}: dev/null");
    assert_eq!(null.rdev(), libc::makedev(1, 3), "{what}: dev/null numbers");
    let fifo = std::fs::metadata(got.join("dev/initctl")).unwrap();
    assert!(fifo.file_type().is_fifo(), "{what}: dev/initctl");
    let mtime = std::fs::metadata(src.join("etc/hostname")).unwrap().mtime();
    let got_mtime = std::fs::metadata(got.join("etc/hostname")).unwrap().mtime();
    assert_eq!(got_mtime, mtime, "{what}: modification time kept");
}

fn mount_ro(dev: &str, at: &Path) {
    std::fs::create_dir_all(at).unwrap();
    let st = Command::new("mount")
        .args(["-o", "ro", dev])
        .arg(at)
        .status()
        .unwrap();
    assert!(st.success(), "mount {dev}");
}

fn umount(at: &Path) {
    let _ = Command::new("umount").arg(at).status();
}

fn source(name: &str, base: &str, file: &str, bytes: &[u8], kind: ImageKind) -> ImageSource {
    ImageSource {
        name: name.into(),
        url: format!("{base}/{file}"),
        sha256: sha256(bytes),
        size: bytes.len() as u64,
        kind,
    }
}

fn root_layout(dev: &str) -> Vec<StorageStep> {
    vec![
        disk("disk0", dev, PartitionTable::Gpt),
        part("p1", 1, 0, None),
        format("f1", "p1", FsType::Ext4, None),
        mount("m1", "f1", "/"),
    ]
}

#[test]
fn root_tarballs_and_squashfs_in_every_compression() {
    if skip("root_tarballs_and_squashfs_in_every_compression") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let tree = t.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    make_tree(&tree);
    // The real tools, as image builders run them (numeric owners, root's files at the top).
    sh(
        "tar --numeric-owner -C tree -czf root.tgz .
         tar --numeric-owner -C tree -cjf root.tbz .
         tar --numeric-owner -C tree -cJf root.txz .
         mksquashfs tree root-xz.squashfs -comp xz -quiet -no-progress
         mksquashfs tree root-gz.squashfs -comp gzip -quiet -no-progress",
        t.path(),
    );
    let cases = [
        ("root.tgz", ImageKind::Tgz),
        ("root.tbz", ImageKind::Tbz),
        ("root.txz", ImageKind::Txz),
        ("root-xz.squashfs", ImageKind::Squashfs),
        ("root-gz.squashfs", ImageKind::Squashfs),
    ];
    let files: Vec<(String, Vec<u8>)> = cases
        .iter()
        .map(|(f, _)| (format!("/{f}"), std::fs::read(t.path().join(f)).unwrap()))
        .collect();
    let base = serve(files.clone());
    for ((file, kind), (_, bytes)) in cases.iter().zip(&files) {
        let dst = Loop::new(&t.path().join("dst.img"), 64 << 20);
        let cfg = config(
            root_layout(&dst.dev),
            source(&format!("custom/{file}"), &base, file, bytes, *kind),
            "http://127.0.0.1:9/x",
        );
        let (_, out, err) = install(t.path(), &cfg);
        // The tree has no kernel, so the boot loader step fails after the image is laid.
        assert!(
            out.contains("finish cmd-install/stage-image SUCCESS"),
            "{file}: {out}\n{err}"
        );
        assert!(out.contains(&format!("({})", kind.as_str())), "{out}");
        let mnt = t.path().join("mnt");
        mount_ro(&format!("{}p1", dst.dev), &mnt);
        let left = mnt.join(".ingot-image.squashfs").exists();
        let fstab = std::fs::read_to_string(mnt.join("etc/fstab")).unwrap_or_default();
        let checked = std::panic::catch_unwind(|| check_tree(&tree, &mnt, file));
        umount(&mnt);
        checked.unwrap();
        assert!(!left, "{file}: the downloaded squashfs is removed");
        assert!(fstab.contains(" / ext4 "), "{file}: fstab written: {fstab}");
    }

    // A damaged image fails the image step, naming why (the digest is checked first).
    let mut bad = files[2].1.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    let base = serve(vec![("/bad.txz".into(), bad.clone())]);
    let dst = Loop::new(&t.path().join("dst.img"), 64 << 20);
    let mut src = source("custom/bad", &base, "bad.txz", &files[2].1, ImageKind::Txz);
    let (ok, _, err) = install(
        t.path(),
        &config(root_layout(&dst.dev), src.clone(), "http://127.0.0.1:9/x"),
    );
    assert!(!ok);
    assert!(err.contains("image: sha256 mismatch"), "{err}");
    // Damaged at its source (the digest is of the damaged file): xz's own check finds it,
    // even where the damage is past the tar's end marker.
    src = source("custom/bad", &base, "bad.txz", &bad, ImageKind::Txz);
    let (ok, _, err) = install(
        t.path(),
        &config(root_layout(&dst.dev), src.clone(), "http://127.0.0.1:9/x"),
    );
    assert!(!ok, "a damaged xz stream must fail the image step");
    assert!(
        err.contains("image: extracting") || err.contains("image: decompressing"),
        "{err}"
    );
    // Not a squashfs at all (right digest, wrong content).
    src.kind = ImageKind::Squashfs;
    let (ok, _, err) = install(
        t.path(),
        &config(root_layout(&dst.dev), src, "http://127.0.0.1:9/x"),
    );
    assert!(!ok);
    assert!(err.contains("image: not a squashfs file system"), "{err}");
}

#[test]
fn disk_images_in_every_compression_and_tar() {
    if skip("disk_images_in_every_compression_and_tar") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    // A raw disk: GPT, one ext4 partition holding a small root (installed from a tarball).
    let tree = t.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    make_tree(&tree);
    sh("tar --numeric-owner -C tree -czf root.tgz .", t.path());
    let tgz = std::fs::read(t.path().join("root.tgz")).unwrap();
    let base = serve(vec![("/root.tgz".into(), tgz.clone())]);
    {
        let src = Loop::new(&t.path().join("disk.raw"), 24 << 20);
        let (_, out, err) = install(
            t.path(),
            &config(
                root_layout(&src.dev),
                source("custom/root", &base, "root.tgz", &tgz, ImageKind::Tgz),
                "http://127.0.0.1:9/x",
            ),
        );
        assert!(
            out.contains("finish cmd-install/stage-image SUCCESS"),
            "{out}\n{err}"
        );
    }
    let raw = std::fs::read(t.path().join("disk.raw")).unwrap();
    // `xz -T2` writes a multi-block stream; `pigz`-like concatenation is made by hand.
    sh(
        "gzip -c disk.raw > disk.ddgz
         bzip2 -c disk.raw > disk.ddbz2
         xz -T2 -1 -c disk.raw > disk.ddxz
         head -c 10485760 disk.raw | gzip -c > disk.cat.ddgz
         tail -c +10485761 disk.raw | gzip -c >> disk.cat.ddgz
         tar -cf disk.ddtar disk.raw
         tar -czf disk.ddtgz disk.raw
         tar -cjf disk.ddtbz disk.raw
         tar -cJf disk.ddtxz disk.raw
         cp disk.raw disk.ddraw",
        t.path(),
    );
    let cases = [
        ("disk.ddraw", ImageKind::Ddraw),
        ("disk.ddgz", ImageKind::Ddgz),
        ("disk.cat.ddgz", ImageKind::Ddgz),
        ("disk.ddbz2", ImageKind::Ddbz2),
        ("disk.ddxz", ImageKind::Ddxz),
        ("disk.ddtar", ImageKind::Ddtar),
        ("disk.ddtgz", ImageKind::Ddtgz),
        ("disk.ddtbz", ImageKind::Ddtbz),
        ("disk.ddtxz", ImageKind::Ddtxz),
    ];
    let files: Vec<(String, Vec<u8>)> = cases
        .iter()
        .map(|(f, _)| (format!("/{f}"), std::fs::read(t.path().join(f)).unwrap()))
        .collect();
    let base = serve(files.clone());
    let boot_disk = |dev: &str| {
        vec![StorageStep::Disk {
            id: "disk0".into(),
            serial: None,
            path: Some(dev.into()),
            size: 0,
            ptable: None,
            boot: true,
        }]
    };
    for ((file, kind), (_, bytes)) in cases.iter().zip(&files) {
        let dst = Loop::new(&t.path().join("dst.img"), 32 << 20);
        let mut cfg = config(
            boot_disk(&dst.dev),
            source(&format!("custom/{file}"), &base, file, bytes, *kind),
            "http://127.0.0.1:9/x",
        );
        cfg.system_id = "fmt42".into();
        let (ok, out, err) = install(t.path(), &cfg);
        assert!(ok, "{file}: {out}\n{err}");
        assert!(
            out.contains(&format!("{} bytes written", raw.len())),
            "{file}: {out}"
        );
        let got = std::fs::read(&dst.file).unwrap();
        assert!(
            got[..1024] == raw[..1024],
            "{file}: the image's MBR and GPT"
        );
        // The seed went into the image's root; its own files are there.
        let mnt = t.path().join("mnt");
        mount_ro(&format!("{}p1", dst.dev), &mnt);
        let meta = std::fs::read_to_string(mnt.join("var/lib/cloud/seed/nocloud/meta-data"));
        let checked = std::panic::catch_unwind(|| check_tree(&tree, &mnt, file));
        umount(&mnt);
        checked.unwrap();
        assert!(
            meta.unwrap_or_default()
                .contains("\"instance-id\": \"fmt42\""),
            "{file}: seed"
        );
    }

    // A compressed image bigger than the disk: found when the disk fills, and named.
    let small = Loop::new(&t.path().join("small.img"), 8 << 20);
    let xz = &files[4].1;
    let (ok, _, err) = install(
        t.path(),
        &config(
            boot_disk(&small.dev),
            source("custom/xz", &base, "disk.ddxz", xz, ImageKind::Ddxz),
            "http://127.0.0.1:9/x",
        ),
    );
    assert!(!ok);
    assert!(
        err.contains("image: the image is larger than disk disk0"),
        "{err}"
    );
    // A tar with no disk image in it.
    sh(
        "mkdir -p empty/d && tar -C empty -czf nodisk.ddtgz d",
        t.path(),
    );
    let nodisk = std::fs::read(t.path().join("nodisk.ddtgz")).unwrap();
    let base = serve(vec![("/nodisk.ddtgz".into(), nodisk.clone())]);
    let (ok, _, err) = install(
        t.path(),
        &config(
            boot_disk(&small.dev),
            source("custom/n", &base, "nodisk.ddtgz", &nodisk, ImageKind::Ddtgz),
            "http://127.0.0.1:9/x",
        ),
    );
    assert!(!ok);
    assert!(err.contains("image: the tar holds no disk image"), "{err}");
}
