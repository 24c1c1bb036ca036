//! Which kernel and initramfs an installed root filesystem boots, found the way a boot loader's
//! configuration generator finds them (GRUB's `10_linux`, `linux-update-symlinks`):
//!
//! - versioned kernels in `/boot` (`vmlinuz-<version>`, `vmlinux-<version>`), the newest version
//!   first (version order: `6.1.0-10-amd64` after `6.1.0-9-amd64`), each with the initramfs of
//!   the same version (`initrd.img-<v>` as Debian and Ubuntu name it, `initrd-<v>.img`,
//!   `initramfs-<v>.img`, `initrd-<v>`) — or none;
//! - else the distribution's links or files `/boot/vmlinuz` + `/boot/initrd.img` (Ubuntu,
//!   Debian with `link_in_boot = yes`), then `/vmlinuz` + `/initrd.img` at the root (Debian's
//!   default).
//!
//! [`select`] is the pure rule over a listing of `/` and `/boot`; [`list`] reads that listing
//! from a mounted target, resolving every symbolic link *inside the target* ([`resolve_in`]:
//! an absolute link target is relative to the target's root, `..` stops at it), so that a link
//! never reaches into the system running the deployment.

use std::cmp::Ordering;
use std::path::{Component, Path, PathBuf};

/// One name in `/` or `/boot` of the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the target's root (`boot/vmlinuz-6.1.0-10-amd64`, `vmlinuz`).
    pub path: String,
    /// The regular file it is, or a link resolves to, relative to the target's root; None for
    /// a dangling link or anything that is not a regular file.
    pub file: Option<String>,
}

#[cfg(test)]
impl Entry {
    /// A regular file.
    pub fn file(path: &str) -> Entry {
        Entry {
            path: path.to_string(),
            file: Some(path.to_string()),
        }
    }

    /// A link resolving to `to` (None: dangling).
    pub fn link(path: &str, to: Option<&str>) -> Entry {
        Entry {
            path: path.to_string(),
            file: to.map(str::to_string),
        }
    }
}

/// The chosen kernel and initramfs (regular files, relative to the target's root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootFiles {
    pub kernel: String,
    pub initrd: Option<String>,
    /// The kernel's version when its name carries one.
    pub version: Option<String>,
}

const KERNEL_PREFIXES: [&str; 2] = ["vmlinuz-", "vmlinux-"];

/// Names of a kernel's files that are not kernels (GRUB's `10_linux` skips them too).
fn is_backup(name: &str) -> bool {
    [
        ".old",
        ".bak",
        ".sig",
        ".dpkg-tmp",
        ".dpkg-new",
        ".dpkg-old",
        ".dpkg-bak",
        ".dpkg-dist",
        ".efi.signed",
    ]
    .iter()
    .any(|s| name.ends_with(s))
        || name.ends_with('~')
}

/// The initramfs names of kernel version `v`, in order of preference.
fn initrd_names(v: &str) -> [String; 4] {
    [
        format!("initrd.img-{v}"),
        format!("initrd-{v}.img"),
        format!("initramfs-{v}.img"),
        format!("initrd-{v}"),
    ]
}

/// Picks the kernel and initramfs from the listing of `/` and `/boot`; None when there is no
/// kernel.
pub fn select(entries: &[Entry]) -> Option<BootFiles> {
    let file_of = |path: &str| {
        entries
            .iter()
            .find(|e| e.path == path)
            .and_then(|e| e.file.clone())
    };
    let mut versioned: Vec<(&str, &Entry)> = entries
        .iter()
        .filter(|e| e.file.is_some())
        .filter_map(|e| {
            let name = e.path.strip_prefix("boot/")?;
            if is_backup(name) {
                return None;
            }
            let v = KERNEL_PREFIXES.iter().find_map(|p| name.strip_prefix(p))?;
            (!v.is_empty() && !v.contains('/')).then_some((v, e))
        })
        .collect();
    // Newest first; the same version under both names: vmlinuz before vmlinux.
    versioned.sort_by(|a, b| version_cmp(b.0, a.0).then_with(|| b.1.path.cmp(&a.1.path)));
    if let Some((v, e)) = versioned.first() {
        let initrd = initrd_names(v)
            .iter()
            .find_map(|n| file_of(&format!("boot/{n}")));
        return Some(BootFiles {
            kernel: e.file.clone()?,
            initrd,
            version: Some(v.to_string()),
        });
    }
    for dir in ["boot/", ""] {
        if let Some(kernel) = file_of(&format!("{dir}vmlinuz")) {
            let initrd = file_of(&format!("{dir}initrd.img"));
            let version = kernel
                .rsplit('/')
                .next()
                .and_then(|n| KERNEL_PREFIXES.iter().find_map(|p| n.strip_prefix(p)))
                .map(str::to_string);
            return Some(BootFiles {
                kernel,
                initrd,
                version,
            });
        }
    }
    None
}

/// Version order as `dpkg --compare-versions` and `sort -V` see kernel versions: runs of
/// digits compare as numbers, other runs character by character with `~` before everything
/// (even the end), letters before other characters.
pub fn version_cmp(a: &str, b: &str) -> Ordering {
    fn order(c: Option<u8>) -> i32 {
        match c {
            Some(b'~') => -1,
            None => 0,
            Some(c) if c.is_ascii_digit() => 0,
            Some(c) if c.is_ascii_alphabetic() => c as i32,
            Some(c) => c as i32 + 256,
        }
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // The non-digit run.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ca = a.get(i).copied().filter(|c| !c.is_ascii_digit());
            let cb = b.get(j).copied().filter(|c| !c.is_ascii_digit());
            let (oa, ob) = (order(ca), order(cb));
            if oa != ob {
                return oa.cmp(&ob);
            }
            if ca.is_some() {
                i += 1;
            }
            if cb.is_some() {
                j += 1;
            }
        }
        // The digit run, as a number (leading zeros ignored).
        let si = i;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        let sj = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let na = trim_zeros(&a[si..i]);
        let nb = trim_zeros(&b[sj..j]);
        let c = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
        if c != Ordering::Equal {
            return c;
        }
    }
    Ordering::Equal
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let n = d.iter().take_while(|c| **c == b'0').count();
    &d[n..]
}

/// Resolves `rel` (relative to `root`) the way the installed system would see it: every
/// symbolic link on the way is followed with `root` as `/`, `..` never leaves `root`. The
/// result is relative to `root`; None for a dangling link, a loop or anything missing.
pub fn resolve_in(root: &Path, rel: &str) -> Option<String> {
    let mut done: Vec<String> = Vec::new();
    let mut todo: Vec<String> = split(rel).into_iter().rev().collect();
    let mut hops = 0;
    while let Some(c) = todo.pop() {
        match c.as_str() {
            "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => {}
        }
        let mut here = root.to_path_buf();
        here.extend(&done);
        here.push(&c);
        let md = std::fs::symlink_metadata(&here).ok()?;
        if md.file_type().is_symlink() {
            hops += 1;
            if hops > 40 {
                return None;
            }
            let to = std::fs::read_link(&here).ok()?;
            if to.is_absolute() {
                done.clear();
            }
            for p in split(&to.to_string_lossy()).into_iter().rev() {
                todo.push(p);
            }
        } else {
            done.push(c);
        }
    }
    Some(done.join("/"))
}

fn split(p: &str) -> Vec<String> {
    Path::new(p)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_string()),
            Component::CurDir => Some(".".to_string()),
            Component::RootDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// The listing of `/` and `/boot` of the target mounted at `root`, links resolved inside it.
pub fn list(root: &Path) -> Vec<Entry> {
    let mut v = Vec::new();
    for dir in ["", "boot"] {
        let Ok(rd) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if dir.is_empty() {
                name
            } else {
                format!("{dir}/{name}")
            };
            let file = resolve_in(root, &rel).filter(|r| {
                let p: PathBuf = root.join(r);
                std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_file())
            });
            v.push(Entry { path: rel, file });
        }
    }
    v.sort_by(|a, b| a.path.cmp(&b.path));
    v
}

/// [`select`] over [`list`]: the target's kernel and initramfs.
pub fn find(root: &Path) -> Option<BootFiles> {
    select(&list(root))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(p: &str) -> Entry {
        Entry::file(p)
    }
    fn l(p: &str, to: &str) -> Entry {
        Entry::link(p, Some(to))
    }
    /// Kernel and initramfs.
    type Picked = Option<(String, Option<String>)>;

    fn pick(entries: &[Entry]) -> Picked {
        select(entries).map(|b| (b.kernel, b.initrd))
    }
    fn some(k: &str, i: Option<&str>) -> Picked {
        Some((k.to_string(), i.map(str::to_string)))
    }

    #[test]
    fn selection_table() {
        let debian = [
            l("initrd.img", "boot/initrd.img-6.1.0-10-amd64"),
            l("vmlinuz", "boot/vmlinuz-6.1.0-10-amd64"),
            f("boot/config-6.1.0-10-amd64"),
            f("boot/System.map-6.1.0-10-amd64"),
            f("boot/initrd.img-6.1.0-10-amd64"),
            f("boot/vmlinuz-6.1.0-10-amd64"),
        ];
        let ubuntu = [
            l("boot/vmlinuz", "boot/vmlinuz-5.15.0-91-generic"),
            l("boot/initrd.img", "boot/initrd.img-5.15.0-91-generic"),
            l("boot/vmlinuz.old", "boot/vmlinuz-5.15.0-88-generic"),
            f("boot/vmlinuz-5.15.0-91-generic"),
            f("boot/initrd.img-5.15.0-91-generic"),
            f("boot/vmlinuz-5.15.0-88-generic"),
            f("boot/initrd.img-5.15.0-88-generic"),
        ];
        let several = [
            f("boot/vmlinuz-6.1.0-9-amd64"),
            f("boot/initrd.img-6.1.0-9-amd64"),
            f("boot/vmlinuz-6.1.0-10-amd64"),
            f("boot/initrd.img-6.1.0-10-amd64"),
            f("boot/vmlinuz-6.1.0-10-amd64.dpkg-tmp"),
            f("boot/vmlinuz-6.1.0-11-amd64.old"),
        ];
        let no_initrd = [
            f("boot/vmlinuz-6.1.0-9-amd64"),
            f("boot/initrd.img-6.1.0-9-amd64"),
            f("boot/vmlinuz-6.1.0-10-amd64"),
        ];
        let only_links_root = [
            l("vmlinuz", "opt/k/bzImage"),
            l("initrd.img", "opt/k/initrd"),
        ];
        let plain_boot = [f("boot/vmlinuz"), f("boot/initrd.img")];
        let dangling = [
            Entry::link("vmlinuz", None),
            Entry::link("boot/vmlinuz-6.1.0-10-amd64", None),
            f("boot/config-6.1.0-10-amd64"),
        ];
        let fedora = [
            f("boot/vmlinuz-6.5.6-300.fc39.x86_64"),
            f("boot/initramfs-6.5.6-300.fc39.x86_64.img"),
            f("boot/vmlinuz-0-rescue-abc"),
            f("boot/initramfs-0-rescue-abc.img"),
        ];
        let rc = [
            f("boot/vmlinuz-6.1.0"),
            f("boot/vmlinuz-6.1.0~rc7"),
            f("boot/initrd.img-6.1.0~rc7"),
        ];
        let link_only = [l("vmlinuz", "boot/vmlinuz-6.1.0-10-amd64")];
        let cases: Vec<(&str, &[Entry], Picked)> = vec![
            (
                "Debian: versioned files, links at /",
                &debian,
                some(
                    "boot/vmlinuz-6.1.0-10-amd64",
                    Some("boot/initrd.img-6.1.0-10-amd64"),
                ),
            ),
            (
                "Debian: only the links (resolved)",
                &debian[..2],
                some(
                    "boot/vmlinuz-6.1.0-10-amd64",
                    Some("boot/initrd.img-6.1.0-10-amd64"),
                ),
            ),
            (
                "Debian: no links",
                &debian[2..],
                some(
                    "boot/vmlinuz-6.1.0-10-amd64",
                    Some("boot/initrd.img-6.1.0-10-amd64"),
                ),
            ),
            (
                "Ubuntu: links in /boot, an older kernel",
                &ubuntu,
                some(
                    "boot/vmlinuz-5.15.0-91-generic",
                    Some("boot/initrd.img-5.15.0-91-generic"),
                ),
            ),
            (
                "newest wins: 6.1.0-10 over 6.1.0-9, backups skipped",
                &several,
                some(
                    "boot/vmlinuz-6.1.0-10-amd64",
                    Some("boot/initrd.img-6.1.0-10-amd64"),
                ),
            ),
            (
                "the newest kernel has no initramfs",
                &no_initrd,
                some("boot/vmlinuz-6.1.0-10-amd64", None),
            ),
            (
                "links at / to elsewhere",
                &only_links_root,
                some("opt/k/bzImage", Some("opt/k/initrd")),
            ),
            (
                "plain /boot/vmlinuz and /boot/initrd.img",
                &plain_boot,
                some("boot/vmlinuz", Some("boot/initrd.img")),
            ),
            (
                "a kernel link without an initramfs",
                &link_only,
                some("boot/vmlinuz-6.1.0-10-amd64", None),
            ),
            ("dangling links only", &dangling, None),
            ("nothing", &[], None),
            (
                "Fedora names",
                &fedora,
                some(
                    "boot/vmlinuz-6.5.6-300.fc39.x86_64",
                    Some("boot/initramfs-6.5.6-300.fc39.x86_64.img"),
                ),
            ),
            (
                "a release candidate is older than the release",
                &rc,
                some("boot/vmlinuz-6.1.0", None),
            ),
        ];
        for (what, entries, want) in cases {
            assert_eq!(pick(entries), want, "{what}");
        }
        let b = select(&debian).unwrap();
        assert_eq!(b.version.as_deref(), Some("6.1.0-10-amd64"));
        assert_eq!(
            select(&debian[..2]).unwrap().version.as_deref(),
            Some("6.1.0-10-amd64")
        );
    }

    #[test]
    fn version_order() {
        use Ordering::*;
        for (a, b, want) in [
            ("6.1.0-10-amd64", "6.1.0-9-amd64", Greater),
            ("6.1.0-9-amd64", "6.1.0-10-amd64", Less),
            ("5.15.0-91-generic", "5.15.0-91-generic", Equal),
            ("6.1.0", "6.1.0~rc7", Greater),
            ("6.1.0-rc7", "6.1.0", Greater),
            ("6.10.0", "6.9.12", Greater),
            ("6.1.01", "6.1.1", Equal),
            ("6.1.0-10-amd64", "6.1.0-10-cloud-amd64", Less),
        ] {
            assert_eq!(version_cmp(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn links_resolve_inside_the_target() {
        use std::os::unix::fs::symlink;
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("boot")).unwrap();
        std::fs::write(r.join("boot/vmlinuz-6.1.0-10-amd64"), b"k").unwrap();
        std::fs::write(r.join("boot/initrd.img-6.1.0-10-amd64"), b"i").unwrap();
        // Absolute: relative to the target's root, not the running system's.
        symlink("/boot/vmlinuz-6.1.0-10-amd64", r.join("vmlinuz")).unwrap();
        symlink("boot/initrd.img-6.1.0-10-amd64", r.join("initrd.img")).unwrap();
        // `..` stops at the target's root.
        symlink(
            "../../../boot/vmlinuz-6.1.0-10-amd64",
            r.join("boot/vmlinuz"),
        )
        .unwrap();
        // A link to something only the running system has dangles here.
        symlink("/etc/hostname", r.join("boot/initrd.img")).unwrap();
        symlink("loop", r.join("boot/loop")).unwrap();
        assert_eq!(
            resolve_in(r, "vmlinuz").as_deref(),
            Some("boot/vmlinuz-6.1.0-10-amd64")
        );
        assert_eq!(
            resolve_in(r, "boot/vmlinuz").as_deref(),
            Some("boot/vmlinuz-6.1.0-10-amd64")
        );
        assert_eq!(resolve_in(r, "boot/initrd.img"), None);
        assert_eq!(resolve_in(r, "boot/loop"), None);
        let entries = list(r);
        assert!(entries.contains(&Entry::link("boot/initrd.img", None)));
        // Only the links: still found, through them.
        std::fs::remove_file(r.join("boot/vmlinuz")).unwrap();
        std::fs::remove_file(r.join("boot/initrd.img")).unwrap();
        std::fs::rename(r.join("boot/vmlinuz-6.1.0-10-amd64"), r.join("boot/kernel")).unwrap();
        symlink("/boot/kernel", r.join("boot/k")).unwrap();
        std::fs::remove_file(r.join("vmlinuz")).unwrap();
        symlink("boot/k", r.join("vmlinuz")).unwrap();
        let b = find(r).unwrap();
        assert_eq!(b.kernel, "boot/kernel");
        assert_eq!(b.initrd.as_deref(), Some("boot/initrd.img-6.1.0-10-amd64"));
    }
}
