//! `ingot-images`: builds Ingot's ephemeral environment — a Debian kernel plus an initramfs
//! carrying busybox, the NIC, disk and filesystem modules, `ingot-agent` and the deployment
//! tools ([`tools`]) — and stores the results content-addressed under `data_dir/images/`.
//! [`os`] builds the small test OS that deployments install.
//!
//! ```text
//! data_dir/images/<sha256>      kernel and initrd blobs, named by the SHA-256 of their bytes
//! data_dir/images/index.json    [ImageSet, ...], oldest first
//! ```
//!
//! The initramfs's `/init` mounts proc/sys/dev, loads the NIC and disk modules ([`MODULES`]),
//! runs `udhcpc` on every physical ethernet interface (not for `ingot.purpose=resources`,
//! which only inventories the machine), then runs `/usr/bin/ingot-agent`, which reads
//! `ingot.url=`, `ingot.purpose=` and `ingot.mac=` from the kernel command line. If the agent
//! exits, `/init` powers the machine off.

pub mod cpio;
pub mod debian;
mod debs;
pub mod os;
pub mod qcow2;
mod store;
pub mod tools;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::Compression;

pub use debs::{fetch_debs, resolve_kernel_package, DebPackages};
pub use store::{
    add_to_index, is_valid_sha256, list, list_in, path_of, sha256_hex, store_bytes, store_file,
    Blob, ImageSet,
};

/// Name given to the image sets that [`build`] makes, with the architecture appended.
pub const EPHEMERAL_NAME: &str = "ephemeral";

/// Kernel modules put into the initramfs, in load order (dependencies first; [`build`] checks
/// each module's `depends=` against this order). Those missing from a kernel package (built
/// in, or absent) are skipped with a warning. Names are the `.ko` file names (`nvme-core`).
///
/// NICs: virtio-net and e1000. Disks (so that commissioning sees them): virtio-blk,
/// virtio-scsi, SATA/AHCI, NVMe, SCSI disks and CD-ROMs; the CRC modules come first so that
/// `crc-t10dif`/`crc64-rocksoft` find their algorithms without asking for a modprobe the
/// initramfs does not have.
pub const MODULES: &[&str] = &[
    "virtio_ring",
    "virtio",
    "virtio_pci_modern_dev",
    "virtio_pci_legacy_dev",
    "virtio_pci",
    "failover",
    "net_failover",
    "virtio_net",
    "virtio_blk",
    "e1000",
    "crct10dif_common",
    "crct10dif_generic",
    "crc-t10dif",
    "crc64",
    "crc64_rocksoft_generic",
    "crc64-rocksoft",
    "t10-pi",
    "scsi_common",
    "scsi_mod",
    "sd_mod",
    "cdrom",
    "sr_mod",
    "virtio_scsi",
    "libata",
    "libahci",
    "ahci",
    "nvme-core",
    "nvme",
    // Deployment: ext4 (crc32c for metadata checksums), vfat, device-mapper (LVM), bcache,
    // md RAID 0/1/10 and 4/5/6 (with the XOR and RAID-6 syndrome libraries it needs), loop.
    "crc16",
    "mbcache",
    "jbd2",
    "crc32c_generic",
    "ext4",
    "fat",
    "vfat",
    "nls_cp437",
    "nls_ascii",
    "nls_utf8",
    "dm-mod",
    "bcache",
    "md-mod",
    "raid0",
    "raid1",
    "raid10",
    "xor",
    "async_tx",
    "async_memcpy",
    "async_xor",
    "raid6_pq",
    "async_pq",
    "async_raid6_recov",
    "libcrc32c",
    "raid456",
    "loop",
];

/// Busybox applets linked into `/bin` (what `/init`, the udhcpc script and a person debugging
/// on the console use).
pub const APPLETS: &[&str] = &[
    "sh",
    "ash",
    "mount",
    "umount",
    "insmod",
    "lsmod",
    "ip",
    "ifconfig",
    "route",
    "udhcpc",
    "poweroff",
    "reboot",
    "cat",
    "echo",
    "sleep",
    "ls",
    "mkdir",
    "ln",
    "grep",
    "sed",
    "dmesg",
    "uname",
    "sync",
    "ps",
    "kill",
    "ping",
    "wget",
    "vi",
    "mkswap",
    "blkdiscard",
    "setsid",
    "cttyhack",
    "mknod",
    "blkid",
    "df",
    "du",
    "hexdump",
    "dd",
    "tar",
    "gzip",
    "chroot",
];

/// Marker file whose presence tells `ingot-agent` it runs in the ephemeral environment (and so
/// may power the machine off).
pub const EPHEMERAL_MARKER: &str = "etc/ingot-ephemeral";

/// `/etc/os-release` of the ephemeral environment (the hardware inventory's `os_name` and
/// `os_version`).
pub const OS_RELEASE: &str = concat!(
    "NAME=\"Ingot ephemeral environment\"\n",
    "ID=ingot-ephemeral\n",
    "VERSION_ID=\"",
    env!("CARGO_PKG_VERSION"),
    "\"\n",
);

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{cmd}` failed: {detail}")]
    Command { cmd: String, detail: String },
    #[error("image index: {0}")]
    Index(String),
    #[error("{0}")]
    Missing(String),
    #[error("unsupported architecture {0:?} (only amd64 can be built so far)")]
    UnsupportedArch(String),
}

impl ImageError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ImageError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What [`build`] needs.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The region's data directory; images go to `data_dir/images/`.
    pub data_dir: PathBuf,
    /// The `ingot-agent` executable to put at `/usr/bin/ingot-agent` (stripped of debug info
    /// with `strip` when that tool is available; its shared libraries come along).
    pub agent_binary: PathBuf,
    /// Debian architecture, `amd64`.
    pub arch: String,
    /// Scratch directory (kept); by default a temporary directory under `data_dir`, removed
    /// afterwards.
    pub work_dir: Option<PathBuf>,
    /// A `linux-image-*` .deb to use instead of downloading one with apt.
    pub kernel_deb: Option<PathBuf>,
    /// A `busybox-static` .deb to use instead of downloading one with apt.
    pub busybox_deb: Option<PathBuf>,
}

/// Builds the ephemeral kernel + initramfs, stores both and records the set in the index.
/// Building the same inputs again gives the same bytes (the archive has fixed timestamps) and
/// so the same index entry.
pub fn build(opts: &BuildOptions) -> Result<ImageSet, ImageError> {
    if opts.arch != "amd64" {
        return Err(ImageError::UnsupportedArch(opts.arch.clone()));
    }
    let (work, temporary) = match &opts.work_dir {
        Some(w) => (w.clone(), false),
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            (
                opts.data_dir
                    .join(format!(".image-build-{}-{nanos}", std::process::id())),
                true,
            )
        }
    };
    fs::create_dir_all(&work).map_err(|e| ImageError::io(&work, e))?;
    let result = build_in(opts, &work);
    if temporary {
        let _ = fs::remove_dir_all(&work);
    }
    result
}

fn build_in(opts: &BuildOptions, work: &Path) -> Result<ImageSet, ImageError> {
    let debs = match (&opts.kernel_deb, &opts.busybox_deb) {
        (Some(k), Some(b)) => DebPackages {
            kernel: k.clone(),
            busybox: b.clone(),
        },
        (k, b) => {
            let fetched = fetch_debs(&opts.arch, &deb_cache(work))?;
            DebPackages {
                kernel: k.clone().unwrap_or(fetched.kernel),
                busybox: b.clone().unwrap_or(fetched.busybox),
            }
        }
    };

    let kroot = work.join("kernel");
    let broot = work.join("busybox");
    for d in [&kroot, &broot] {
        if d.exists() {
            fs::remove_dir_all(d).map_err(|e| ImageError::io(d, e))?;
        }
    }
    debs::unpack(&debs.kernel, &kroot)?;
    debs::unpack(&debs.busybox, &broot)?;

    let (kernel_path, kernel_version) = find_kernel(&kroot)?;
    let modules = find_modules(&kroot, &kernel_version, MODULES)?;
    let busybox = broot.join("bin/busybox");
    if !busybox.is_file() {
        return Err(ImageError::Missing(format!(
            "{} has no bin/busybox",
            debs.busybox.display()
        )));
    }

    let agent = prepare_agent(&opts.agent_binary, work)?;
    let libs = shared_libraries(&opts.agent_binary)?;
    // The tool packages are cached beside the kernel package the caller gave (its cache), or in
    // $INGOT_DEB_CACHE, or with this build's downloads.
    let cache = match (std::env::var_os("INGOT_DEB_CACHE"), &opts.kernel_deb) {
        (Some(c), _) => PathBuf::from(c),
        (None, Some(k)) => k
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| deb_cache(work)),
        (None, None) => deb_cache(work),
    };
    let tools = tools::prepare(&cache, work)?;

    let initrd = initramfs(&InitramfsParts {
        busybox: &busybox,
        agent: &agent,
        libs: &libs,
        modules: &modules,
        kernel_version: &kernel_version,
        tools: &tools,
    })?;

    let kernel = store_file(&opts.data_dir, &kernel_path)?;
    let initrd = store_bytes(&opts.data_dir, &initrd)?;
    let set = ImageSet {
        name: format!("{EPHEMERAL_NAME}/{}", opts.arch),
        arch: opts.arch.clone(),
        kernel,
        initrd,
        kernel_version,
        created: store::now_rfc3339(),
    };
    let set = add_to_index(&opts.data_dir, set)?;
    tracing::info!(
        kernel = %set.kernel.sha256, kernel_size = set.kernel.size,
        initrd = %set.initrd.sha256, initrd_size = set.initrd.size,
        version = %set.kernel_version, "ephemeral image built"
    );
    Ok(set)
}

/// Where downloaded packages are kept: `$INGOT_DEB_CACHE`, else `work/debs`.
pub(crate) fn deb_cache(work: &Path) -> PathBuf {
    std::env::var_os("INGOT_DEB_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| work.join("debs"))
}

fn read_dir_names(dir: &Path) -> Result<Vec<String>, ImageError> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map_err(|e| ImageError::io(dir, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// `boot/vmlinuz-<version>` in the unpacked kernel package.
pub(crate) fn find_kernel(root: &Path) -> Result<(PathBuf, String), ImageError> {
    let boot = root.join("boot");
    let found = read_dir_names(&boot)?
        .into_iter()
        .filter_map(|n| n.strip_prefix("vmlinuz-").map(str::to_string))
        .next_back()
        .ok_or_else(|| ImageError::Missing(format!("no vmlinuz-* in {}", boot.display())))?;
    Ok((boot.join(format!("vmlinuz-{found}")), found))
}

/// The `.ko` files of `wanted` (e.g. [`MODULES`]) in load order.
pub(crate) fn find_modules(
    root: &Path,
    version: &str,
    wanted: &[&str],
) -> Result<Vec<(String, PathBuf)>, ImageError> {
    let base = ["lib/modules", "usr/lib/modules"]
        .iter()
        .map(|p| root.join(p).join(version).join("kernel"))
        .find(|p| p.is_dir())
        .ok_or_else(|| {
            ImageError::Missing(format!(
                "no lib/modules/{version}/kernel in the kernel package"
            ))
        })?;
    let mut all = std::collections::HashMap::new();
    let mut stack = vec![base];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir)
            .map_err(|e| ImageError::io(&dir, e))?
            .flatten()
        {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Some(name) = p.file_name().and_then(|n| n.to_str()) {
                if let Some(stem) = name.strip_suffix(".ko") {
                    all.insert(stem.to_string(), p.clone());
                } else if let Some(stem) =
                    name.split(".ko.").next().filter(|_| name.contains(".ko."))
                {
                    all.entry(format!("{stem}.compressed")).or_insert(p.clone());
                }
            }
        }
    }
    let mut out = Vec::new();
    for m in wanted {
        match all.get(*m) {
            Some(p) => out.push((m.to_string(), p.clone())),
            None if all.contains_key(&format!("{m}.compressed")) => {
                return Err(ImageError::Missing(format!(
                    "module {m} is compressed in this kernel package; busybox insmod needs plain .ko files"
                )))
            }
            None => tracing::warn!(module = m, "module not in the kernel package (built in?); skipped"),
        }
    }
    if !out.iter().any(|(m, _)| m == "virtio_net" || m == "e1000") {
        return Err(ImageError::Missing(
            "neither virtio_net nor e1000 found in the kernel package".into(),
        ));
    }
    // busybox insmod does not resolve dependencies: every dependency that is a module of
    // this package must be loaded earlier.
    let norm = |s: &str| s.replace('-', "_");
    let packaged: std::collections::HashSet<String> = all
        .keys()
        .map(|k| norm(k.trim_end_matches(".compressed")))
        .collect();
    let mut loaded = std::collections::HashSet::new();
    for (name, path) in &out {
        for dep in module_depends(&fs::read(path).map_err(|e| ImageError::io(path, e))?) {
            if packaged.contains(&norm(&dep)) && !loaded.contains(&norm(&dep)) {
                return Err(ImageError::Missing(format!(
                    "module {name} depends on {dep}, which MODULES does not load before it"
                )));
            }
        }
        loaded.insert(norm(name));
    }
    Ok(out)
}

/// The `depends=` of a `.ko`'s modinfo: the modules it needs loaded first.
pub fn module_depends(ko: &[u8]) -> Vec<String> {
    let key = b"\0depends=";
    let Some(at) = ko.windows(key.len()).position(|w| w == key) else {
        return Vec::new();
    };
    let rest = &ko[at + key.len()..];
    let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..end])
        .split(',')
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect()
}

/// A copy of the agent without debug info when `strip` is available, else the binary itself.
pub(crate) fn prepare_agent(agent: &Path, work: &Path) -> Result<PathBuf, ImageError> {
    if !agent.is_file() {
        return Err(ImageError::Missing(format!(
            "agent binary {} not found",
            agent.display()
        )));
    }
    let out = work.join("ingot-agent.stripped");
    match Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&out)
        .arg(agent)
        .status()
    {
        Ok(s) if s.success() => Ok(out),
        _ => {
            tracing::warn!(
                "`strip` unavailable or failed; the agent goes into the initramfs unstripped"
            );
            Ok(agent.to_path_buf())
        }
    }
}

/// The shared libraries (and dynamic loader) that `ldd` reports for `binary`; none for a
/// static binary.
pub fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| ImageError::Command {
            cmd: format!("ldd {}", binary.display()),
            detail: e.to_string(),
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if stdout.contains("not a dynamic executable")
            || stderr.contains("not a dynamic executable")
        {
            return Ok(Vec::new());
        }
        return Err(ImageError::Command {
            cmd: format!("ldd {}", binary.display()),
            detail: stderr.into_owned(),
        });
    }
    parse_ldd(&stdout)
}

/// Parses `ldd` output into library paths.
pub fn parse_ldd(text: &str) -> Result<Vec<PathBuf>, ImageError> {
    let mut libs: Vec<PathBuf> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line == "statically linked" {
            continue;
        }
        let path = match line.split_once("=>") {
            Some((name, rest)) => {
                let rest = rest.trim();
                if rest.starts_with("not found") {
                    return Err(ImageError::Missing(format!(
                        "shared library {} not found",
                        name.trim()
                    )));
                }
                rest.split(" (").next().unwrap_or("").trim()
            }
            None => line.split(" (").next().unwrap_or("").trim(),
        };
        if path.starts_with('/') && !libs.iter().any(|l| l == Path::new(path)) {
            libs.push(PathBuf::from(path));
        }
    }
    Ok(libs)
}

struct InitramfsParts<'a> {
    busybox: &'a Path,
    agent: &'a Path,
    libs: &'a [PathBuf],
    modules: &'a [(String, PathBuf)],
    kernel_version: &'a str,
    tools: &'a tools::Tools,
}

fn read(p: &Path) -> Result<Vec<u8>, ImageError> {
    fs::read(p).map_err(|e| ImageError::io(p, e))
}

/// The gzip-compressed newc archive.
fn initramfs(parts: &InitramfsParts) -> Result<Vec<u8>, ImageError> {
    let io = |e: std::io::Error| ImageError::io(Path::new("initramfs"), e);
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::default());
    let mut w = cpio::CpioWriter::new(gz);

    for (d, mode) in [
        ("proc", 0o555),
        ("sys", 0o555),
        ("dev", 0o755),
        ("tmp", 0o1777),
        ("run", 0o755),
        ("root", 0o700),
        ("etc", 0o755),
    ] {
        w.dir(d, mode).map_err(io)?;
    }
    // The kernel opens /dev/console for init's stdio before /init runs: it must exist here.
    w.char_dev("dev/console", 0o600, 5, 1).map_err(io)?;
    w.char_dev("dev/null", 0o666, 1, 3).map_err(io)?;

    w.file("bin/busybox", 0o755, &read(parts.busybox)?)
        .map_err(io)?;
    for a in APPLETS {
        w.symlink(&format!("bin/{a}"), "busybox").map_err(io)?;
    }
    w.dir("sbin", 0o755).map_err(io)?;
    w.dir("usr/sbin", 0o755).map_err(io)?;

    let mut lib_dirs: Vec<String> = Vec::new();
    let mut all_libs: Vec<tools::ImageFile> = parts
        .libs
        .iter()
        .map(|l| tools::ImageFile {
            dest: l.to_string_lossy().trim_start_matches('/').to_string(),
            src: l.clone(),
            mode: 0o755,
        })
        .collect();
    for l in &parts.tools.libs {
        if !all_libs.iter().any(|a| a.dest == l.dest) {
            all_libs.push(l.clone());
        }
    }
    for lib in &all_libs {
        w.file(&lib.dest, lib.mode, &read(&lib.src)?).map_err(io)?;
        if let Some(parent) = Path::new(&lib.dest)
            .parent()
            .map(|p| format!("/{}", p.to_string_lossy()))
        {
            if !lib_dirs.contains(&parent) {
                lib_dirs.push(parent);
            }
        }
    }
    for f in &parts.tools.files {
        w.file(&f.dest, f.mode, &read(&f.src)?).map_err(io)?;
    }
    w.dir("target", 0o755).map_err(io)?;
    w.file("usr/bin/ingot-agent", 0o755, &read(parts.agent)?)
        .map_err(io)?;

    let mut names = Vec::new();
    for (name, path) in parts.modules {
        w.file(
            &format!("lib/modules/{}/ingot/{name}.ko", parts.kernel_version),
            0o644,
            &read(path)?,
        )
        .map_err(io)?;
        names.push(name.as_str());
    }

    w.file(
        "init",
        0o755,
        init_script(parts.kernel_version, &names, &lib_dirs).as_bytes(),
    )
    .map_err(io)?;
    w.file("etc/udhcpc.script", 0o755, UDHCPC_SCRIPT.as_bytes())
        .map_err(io)?;
    w.file("etc/resolv.conf", 0o644, b"# written by udhcpc\n")
        .map_err(io)?;
    w.file("etc/hosts", 0o644, b"127.0.0.1 localhost\n")
        .map_err(io)?;
    w.file("etc/nsswitch.conf", 0o644, b"hosts: files dns\n")
        .map_err(io)?;
    w.file("etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n")
        .map_err(io)?;
    w.file("etc/group", 0o644, b"root:x:0:\n").map_err(io)?;
    w.file(
        EPHEMERAL_MARKER,
        0o644,
        format!("kernel={}\n", parts.kernel_version).as_bytes(),
    )
    .map_err(io)?;
    w.file("etc/os-release", 0o644, OS_RELEASE.as_bytes())
        .map_err(io)?;

    let mut gz = w.finish().map_err(io)?;
    gz.flush().map_err(io)?;
    gz.finish().map_err(io)
}

/// The initramfs's `/init`.
pub fn init_script(kernel_version: &str, modules: &[&str], lib_dirs: &[String]) -> String {
    let mut s = String::new();
    s.push_str(
        r#"#!/bin/sh
# Ingot ephemeral environment. Generated by ingot-images.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /run /tmp
echo "ingot: ephemeral environment up, kernel $(uname -r)"
"#,
    );
    if !lib_dirs.is_empty() {
        s.push_str(&format!("export LD_LIBRARY_PATH={}\n", lib_dirs.join(":")));
    }
    s.push_str(&format!("MODDIR=/lib/modules/{kernel_version}/ingot\n"));
    s.push_str(&format!("for m in {}; do\n", modules.join(" ")));
    s.push_str(
        r#"    insmod "$MODDIR/$m.ko" || echo "ingot: insmod $m failed"
done
ip link set lo up
# Wait (up to ~5 s) for the NIC drivers to register an interface.
n=0
while [ $n -lt 50 ]; do
    for d in /sys/class/net/*; do
        [ -e "$d/device" ] && break 2
    done
    n=$((n + 1))
    sleep 0.1
done
# ingot.purpose=resources only inventories the machine: no network needed.
case " $(cat /proc/cmdline) " in
    *" ingot.purpose=resources "*) NODHCP=1 ;;
esac
for d in /sys/class/net/*; do
    i=${d##*/}
    [ "$i" = lo ] && continue
    [ -e "$d/device" ] || continue
    if [ -n "$NODHCP" ]; then
        echo "ingot: $i ($(cat "$d/address")): no DHCP for ingot.purpose=resources"
        continue
    fi
    echo "ingot: DHCP on $i ($(cat "$d/address"))"
    ip link set "$i" up
    # A server that offers and then answers no request (seen with QEMU's user-mode DHCP under
    # load) gets a second whole exchange before the interface is given up.
    udhcpc -i "$i" -q -n -t 5 -s /etc/udhcpc.script \
        || udhcpc -i "$i" -q -n -t 5 -s /etc/udhcpc.script \
        || echo "ingot: no DHCP lease on $i"
done
echo "ingot: starting ingot-agent"
/usr/bin/ingot-agent
rc=$?
case " $(cat /proc/cmdline) " in
    *" ingot.purpose=rescue "*)
        echo "ingot: rescue mode (ingot-agent exited with status $rc): shell on the console"
        while true; do setsid cttyhack /bin/sh; sleep 1; done
        ;;
esac
echo "ingot: ingot-agent exited with status $rc; powering off"
sync
poweroff -f
# Should poweroff fail, never let init exit (that panics the kernel).
while true; do sleep 3600; done
"#,
    );
    s
}

/// The script `udhcpc -s` runs: configures the address, the default route and resolv.conf.
pub const UDHCPC_SCRIPT: &str = r#"#!/bin/sh
# udhcpc event script for the Ingot ephemeral environment.
case "$1" in
    deconfig)
        ifconfig "$interface" 0.0.0.0 up
        ;;
    bound|renew)
        ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
        if [ -n "$router" ] && ! route -n | grep -q '^0\.0\.0\.0'; then
            for r in $router; do
                route add default gw "$r" dev "$interface" && break
            done
        fi
        if [ -n "$dns" ]; then
            : > /etc/resolv.conf
            [ -n "$domain" ] && echo "search $domain" >> /etc/resolv.conf
            for s in $dns; do echo "nameserver $s" >> /etc/resolv.conf; done
        fi
        echo "udhcpc: $interface $ip/${subnet} router ${router:-none}"
        ;;
esac
exit 0
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_parsing() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd5a1f0000)\n\
                    \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f0a)\n\
                    \tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f0b)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0c)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f0d)\n";
        let libs = parse_ldd(text).unwrap();
        assert_eq!(
            libs,
            [
                "/lib/x86_64-linux-gnu/libgcc_s.so.1",
                "/lib/x86_64-linux-gnu/libm.so.6",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
            .map(PathBuf::from)
        );
        assert!(parse_ldd("\tstatically linked\n").unwrap().is_empty());
        assert!(parse_ldd("\tlibfoo.so => not found\n").is_err());
    }

    #[test]
    fn init_script_loads_modules_in_order_and_powers_off() {
        let s = init_script(
            "6.1.0-9-amd64",
            &["virtio_ring", "virtio", "virtio_net"],
            &["/lib/x86_64-linux-gnu".into()],
        );
        assert!(s.starts_with("#!/bin/sh\n"));
        assert!(s.contains("MODDIR=/lib/modules/6.1.0-9-amd64/ingot"));
        assert!(s.contains("for m in virtio_ring virtio virtio_net; do"));
        assert!(s.contains("udhcpc -i \"$i\" -q -n -t 5 -s /etc/udhcpc.script"));
        assert!(s.contains("export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu"));
        let agent = s.find("/usr/bin/ingot-agent").unwrap();
        assert!(s[agent..].contains("poweroff -f"));
        // No DHCP when the machine is only being inventoried.
        let guard = s.find("*\" ingot.purpose=resources \"*) NODHCP=1").unwrap();
        assert!(guard < s.find("udhcpc -i").unwrap());
    }

    #[test]
    fn modinfo_depends() {
        let ko = b"\x7fELF...\0license=GPL\0depends=nvme-core,t10-pi\0retpoline=Y\0name=nvme\0";
        assert_eq!(module_depends(ko), ["nvme-core", "t10-pi"]);
        assert!(module_depends(b"\0depends=\0name=crc64\0").is_empty());
        assert!(module_depends(b"no modinfo").is_empty());
    }

    /// Modules are found by file name and put in `MODULES` order; a dependency that the
    /// package has as a module but `MODULES` loads later (or not at all) is refused.
    #[test]
    fn modules_in_dependency_order() {
        let d = tempfile::tempdir().unwrap();
        let k = d.path().join("lib/modules/6.1.0-9-amd64/kernel");
        let put = |rel: &str, deps: &str| {
            let p = k.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, format!("\0depends={deps}\0name=x\0")).unwrap();
        };
        put(
            "drivers/net/virtio_net.ko",
            "net_failover,virtio,virtio_ring",
        );
        put("drivers/net/net_failover.ko", "failover");
        put("net/core/failover.ko", "");
        put("drivers/nvme/host/nvme.ko", "nvme-core");
        put("drivers/nvme/host/nvme-core.ko", "t10-pi");
        put("block/t10-pi.ko", "crc-t10dif,crc64-rocksoft");
        let found = find_modules(d.path(), "6.1.0-9-amd64", MODULES).unwrap();
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "failover",
                "net_failover",
                "virtio_net",
                "t10-pi",
                "nvme-core",
                "nvme"
            ]
        );
        // A dependency packaged as a module but not in MODULES.
        put("lib/crc64-rocksoft.ko", "crc64");
        put("lib/crc64.ko", "");
        put("drivers/nvme/host/nvme-core.ko", "t10-pi,nvme-auth");
        put("drivers/nvme/host/nvme-auth.ko", "");
        let err = find_modules(d.path(), "6.1.0-9-amd64", MODULES).unwrap_err();
        assert!(
            err.to_string()
                .contains("nvme-core depends on nvme-auth, which MODULES does not load before it"),
            "{err}"
        );
    }

    #[test]
    fn non_amd64_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let opts = BuildOptions {
            data_dir: d.path().into(),
            agent_binary: "/bin/true".into(),
            arch: "arm64".into(),
            work_dir: None,
            kernel_deb: None,
            busybox_deb: None,
        };
        assert!(matches!(build(&opts), Err(ImageError::UnsupportedArch(_))));
    }
}
