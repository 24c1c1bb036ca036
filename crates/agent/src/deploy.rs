//! The deploy executor (`ingot.purpose=deploy`): lays out the disks as the region's
//! [`DeployConfig`] says, streams the OS image onto them (checking its size and SHA-256), writes
//! the NoCloud seed and cloud-init's reporting settings, installs the boot loader (the image's
//! own GRUB, run inside the target, when it carries one; else extlinux for BIOS and
//! syslinux.efi for UEFI) — then the caller turns netboot off and reboots into the installed
//! system.
//!
//! Every failure names its step (`image: sha256 mismatch: ...`), which is what the region
//! records as the deployment's error.
//!
//! Tools it runs (found on `PATH`; the ephemeral initramfs carries them): `mke2fs`,
//! `mkfs.fat`, `mkswap`, `lvm`, `make-bcache`, `mdadm` ([`crate::raid`]), `extlinux` (GRUB's `grub-install` and
//! `grub-mkconfig` are the image's own, run with `chroot(2)`); the MBR boot code comes from
//! `$INGOT_SYSLINUX_DIR` (default `/usr/lib/syslinux`)`/mbr/{mbr,gptmbr}.bin`; with a vfat
//! `/boot/efi`, syslinux.efi (`$INGOT_SYSLINUX_EFI`) goes on the ESP for UEFI firmware.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ingot_core::deploy::{
    DeployConfig, DeployStep, FsType, ImageKind, PartitionFlag, PartitionTable, StorageStep,
};
use sha2::Digest;

use crate::ptable;
use crate::seed;
use crate::unpack;

/// A failed step and why; shown as `step: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepError {
    pub step: DeployStep,
    pub reason: String,
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.step.as_str(), self.reason)
    }
}

impl std::error::Error for StepError {}

/// Where the executor finds the machine and puts the installed system.
#[derive(Debug, Clone)]
pub struct Env {
    pub sys: PathBuf,
    pub dev: PathBuf,
    /// Mount point of the installed system's root (`/target`).
    pub target: PathBuf,
    /// Syslinux's files (`mbr/mbr.bin`, `mbr/gptmbr.bin`, `modules/efi64/ldlinux.e64`).
    pub syslinux_dir: PathBuf,
    /// syslinux's UEFI loader (`syslinux.efi`, x86-64).
    pub syslinux_efi: PathBuf,
}

impl Env {
    pub fn new(sys: &Path, dev: &Path, target: &Path) -> Env {
        Env {
            sys: sys.to_path_buf(),
            dev: dev.to_path_buf(),
            target: target.to_path_buf(),
            syslinux_dir: std::env::var_os("INGOT_SYSLINUX_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/usr/lib/syslinux")),
            syslinux_efi: std::env::var_os("INGOT_SYSLINUX_EFI")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/usr/lib/SYSLINUX.EFI/efi64/syslinux.efi")),
        }
    }
}

/// A disk the layout uses.
#[derive(Debug, Clone)]
struct DiskInfo {
    /// Kernel name (`vda`).
    name: String,
    table: Option<PartitionTable>,
    boot: bool,
}

/// A filesystem made by a Format step.
#[derive(Debug, Clone)]
struct FsInfo {
    device: PathBuf,
    fstype: FsType,
    uuid: String,
}

/// Where everything is, as the steps run.
pub struct Executor {
    cfg: DeployConfig,
    env: Env,
    disks: HashMap<String, DiskInfo>,
    /// Block device of every volume id (disk, partition, logical volume, bcache, RAID).
    volumes: HashMap<String, PathBuf>,
    formats: HashMap<String, FsInfo>,
    /// Mounted under the target, in mount order.
    mounted: Vec<PathBuf>,
    /// Volume groups made (deactivated on teardown).
    vgs: Vec<String>,
    /// RAID arrays made (written to the installed mdadm.conf, stopped on teardown).
    arrays: Vec<crate::raid::Array>,
}

fn err(step: DeployStep, reason: impl Into<String>) -> StepError {
    StepError {
        step,
        reason: reason.into(),
    }
}

/// The ids the layout's boot pieces hang on: the format mounted at `/`, the one holding
/// `/boot` (itself or `/`), and the partition under the latter when it is one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BootPlan {
    pub root_format: Option<String>,
    pub boot_format: Option<String>,
    pub boot_partition: Option<String>,
}

pub fn boot_plan(storage: &[StorageStep]) -> BootPlan {
    let mount_of = |path: &str| {
        storage.iter().find_map(|s| match s {
            StorageStep::Mount {
                format, path: p, ..
            } if p == path => Some(format.clone()),
            _ => None,
        })
    };
    let root_format = mount_of("/");
    let boot_format = mount_of("/boot").or_else(|| root_format.clone());
    let boot_partition = boot_format.as_ref().and_then(|f| {
        let volume = storage.iter().find_map(|s| match s {
            StorageStep::Format { id, volume, .. } if id == f => Some(volume.clone()),
            _ => None,
        })?;
        storage
            .iter()
            .any(|s| matches!(s, StorageStep::Partition { id, .. } if *id == volume))
            .then_some(volume)
    });
    BootPlan {
        root_format,
        boot_format,
        boot_partition,
    }
}

/// Runs a tool; its output when it succeeds, else what it said.
pub(crate) fn tool(prog: &str, args: &[&str]) -> Result<String, String> {
    tracing::info!("running {prog} {}", args.join(" "));
    let out = Command::new(prog)
        .args(args)
        .env("DM_DISABLE_UDEV", "1")
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .output()
        .map_err(|e| format!("cannot run {prog}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let mut said = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if said.is_empty() {
            said = String::from_utf8_lossy(&out.stdout).trim().to_string();
        }
        Err(format!(
            "{prog} {} failed ({}): {said}",
            args.join(" "),
            out.status
        ))
    }
}

/// `lvm` with settings for an environment without udev.
const LVM_CONFIG: &str =
    "activation { udev_sync = 0 udev_rules = 0 } devices { obtain_device_list_from_udev = 0 }";

fn lvm(args: &[&str]) -> Result<String, String> {
    let mut v = vec![args[0], "--config", LVM_CONFIG];
    v.extend_from_slice(&args[1..]);
    tool("lvm", &v)
}

/// A fresh random UUID (for filesystems the region gave none).
fn random_uuid() -> String {
    ptable::guid_from(rand::random())
}

/// The UUID a filesystem carries, read from its superblock: ext2/3/4 (`s_uuid`), swap
/// (`sws_uuid`) or FAT32 (volume id, `XXXX-XXXX`).
pub fn read_fs_uuid(head: &[u8], fstype: FsType) -> Option<String> {
    let fmt = |b: &[u8]| {
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    };
    match fstype {
        FsType::Ext2 | FsType::Ext4 => {
            let sb = head.get(1024..2048)?;
            (sb[0x38..0x3a] == [0x53, 0xef]).then(|| fmt(&sb[0x68..0x78]))
        }
        FsType::Swap => (head.get(4086..4096)? == b"SWAPSPACE2").then(|| fmt(&head[1036..1052])),
        FsType::Vfat => {
            let id = head.get(0x43..0x47)?;
            Some(format!(
                "{:02X}{:02X}-{:02X}{:02X}",
                id[3], id[2], id[1], id[0]
            ))
        }
        FsType::Xfs => (head.get(0..4)? == b"XFSB").then(|| fmt(&head[32..48])),
    }
}

fn open_rw(p: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().read(true).write(true).open(p)
}

/// `BLKRRPART`: the kernel re-reads the partition table.
fn reread_partitions(f: &std::fs::File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    const BLKRRPART: libc::c_ulong = 0x125f;
    // SAFETY: BLKRRPART takes no argument.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), BLKRRPART as _, 0) };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `BLKPG` add (op 1) or delete (op 2) partition `pno` (bytes `start`, `length`).
fn blkpg(f: &std::fs::File, op: i32, pno: i32, start: u64, length: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    struct BlkpgPartition {
        start: i64,
        length: i64,
        pno: i32,
        devname: [u8; 64],
        volname: [u8; 64],
    }
    #[repr(C)]
    struct BlkpgIoctlArg {
        op: i32,
        flags: i32,
        datalen: i32,
        data: *mut BlkpgPartition,
    }
    const BLKPG: libc::c_ulong = 0x1269;
    let mut part = BlkpgPartition {
        start: start as i64,
        length: length as i64,
        pno,
        devname: [0; 64],
        volname: [0; 64],
    };
    let mut arg = BlkpgIoctlArg {
        op,
        flags: 0,
        datalen: std::mem::size_of::<BlkpgPartition>() as i32,
        data: &mut part,
    };
    // SAFETY: `arg` points at a live blkpg_partition for the duration of the call.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), BLKPG as _, &mut arg) };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Bytes of block device `name` (sysfs `size` is in 512-byte sectors).
fn disk_bytes(sys: &Path, name: &str) -> Option<u64> {
    let s = std::fs::read_to_string(sys.join("class/block").join(name).join("size")).ok()?;
    s.trim().parse::<u64>().ok().map(|n| n * 512)
}

/// Makes `dev/NAME` from sysfs when devtmpfs has not (yet).
pub(crate) fn ensure_node(env: &Env, name: &str) -> Result<PathBuf, String> {
    let node = env.dev.join(name);
    if node.exists() {
        return Ok(node);
    }
    let devnum = std::fs::read_to_string(env.sys.join("class/block").join(name).join("dev"))
        .map_err(|e| format!("no {name} in sysfs: {e}"))?;
    let (maj, min) = devnum
        .trim()
        .split_once(':')
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
        .ok_or_else(|| format!("bad device number {devnum:?} for {name}"))?;
    let c =
        std::ffi::CString::new(node.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: a valid C string; mknod does not keep it.
    let r = unsafe { libc::mknod(c.as_ptr(), libc::S_IFBLK | 0o600, libc::makedev(maj, min)) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        if !node.exists() {
            return Err(format!("mknod {}: {e}", node.display()));
        }
    }
    Ok(node)
}

fn mount(dev: &Path, at: &Path, fstype: &str) -> Result<(), String> {
    std::fs::create_dir_all(at).map_err(|e| format!("mkdir {}: {e}", at.display()))?;
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())
    };
    let (d, a) = (c(dev)?, c(at)?);
    let t = std::ffi::CString::new(fstype).map_err(|e| e.to_string())?;
    // SAFETY: valid C strings, no data argument.
    let r = unsafe { libc::mount(d.as_ptr(), a.as_ptr(), t.as_ptr(), 0, std::ptr::null()) };
    if r != 0 {
        return Err(format!(
            "mount {} on {} ({fstype}): {}",
            dev.display(),
            at.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

fn umount(at: &Path) -> Result<(), String> {
    let c = std::ffi::CString::new(at.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: a valid C string.
    if unsafe { libc::umount(c.as_ptr()) } != 0 {
        return Err(format!(
            "umount {}: {}",
            at.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

fn bind_mount(from: &Path, at: &Path) -> Result<(), String> {
    std::fs::create_dir_all(at).map_err(|e| format!("mkdir {}: {e}", at.display()))?;
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())
    };
    let (f, a) = (c(from)?, c(at)?);
    // SAFETY: valid C strings, no filesystem type or data.
    let r = unsafe {
        libc::mount(
            f.as_ptr(),
            a.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(format!(
            "bind-mounting {} on {}: {}",
            from.display(),
            at.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Detaches a (recursive) bind mount.
fn umount_detach(at: &Path) -> Result<(), String> {
    let c = std::ffi::CString::new(at.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: a valid C string.
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
        return Err(format!(
            "umount {}: {}",
            at.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Runs the target's own `prog` inside it (chroot), as curtin's `in_target`.
fn in_target(target: &Path, prog: &str, args: &[&str]) -> Result<String, String> {
    use std::os::unix::process::CommandExt;
    tracing::info!("running in the target: {prog} {}", args.join(" "));
    let root =
        std::ffi::CString::new(target.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LANG", "C.UTF-8")
        .env("HOME", "/root")
        .env("DEBIAN_FRONTEND", "noninteractive");
    // SAFETY: chroot and chdir are async-signal-safe; `root` outlives the spawn.
    unsafe {
        cmd.pre_exec(move || {
            if libc::chroot(root.as_ptr()) != 0 || libc::chdir(c"/".as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = std::time::Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("{prog} (in the target): {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    tracing::info!(
        "{prog} in the target: {} in {:.1}s",
        out.status,
        started.elapsed().as_secs_f64()
    );
    if !out.status.success() {
        return Err(format!(
            "{prog} {} (in the target): {}: {}{}",
            args.join(" "),
            out.status,
            stderr.trim(),
            if stderr.trim().is_empty() {
                stdout.trim()
            } else {
                ""
            }
        ));
    }
    for l in stderr.lines().chain(stdout.lines()) {
        println!("ingot-deploy: {prog}: {l}");
    }
    Ok(stdout)
}

/// Which of its GRUB platforms the image carries (its `grub-install` and `grub-mkconfig`
/// with the platform's modules), looked up inside the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Grub {
    pub bios: bool,
    pub efi: bool,
}

impl Grub {
    pub fn of(target: &Path) -> Grub {
        let has = |rel: &str| crate::bootfiles::resolve_in(target, rel).is_some();
        let tools = ["usr/sbin/", "sbin/"]
            .iter()
            .any(|d| has(&format!("{d}grub-install")))
            && ["usr/sbin/", "sbin/"]
                .iter()
                .any(|d| has(&format!("{d}grub-mkconfig")));
        Grub {
            bios: tools && has("usr/lib/grub/i386-pc/modinfo.sh"),
            efi: tools && has("usr/lib/grub/x86_64-efi/modinfo.sh"),
        }
    }
}

impl Executor {
    pub fn new(cfg: DeployConfig, env: Env) -> Executor {
        Executor {
            cfg,
            env,
            disks: HashMap::new(),
            volumes: HashMap::new(),
            formats: HashMap::new(),
            mounted: Vec::new(),
            vgs: Vec::new(),
            arrays: Vec::new(),
        }
    }

    /// Runs one step (config is the caller's: it fetched the configuration).
    pub async fn run_step(&mut self, step: DeployStep) -> Result<(), StepError> {
        match step {
            DeployStep::Config | DeployStep::Reboot => Ok(()),
            DeployStep::Storage => self.storage().map_err(|r| err(step, r)),
            DeployStep::Image => self.image().await.map_err(|r| err(step, r)),
            DeployStep::Seed => self.seed().map_err(|r| err(step, r)),
            DeployStep::Bootloader => self.bootloader().map_err(|r| err(step, r)),
        }
    }

    /// Finds a Disk step's disk: by serial, then by path (a `/dev` node or udev link, or a
    /// `/dev/disk/by-id/` name matched against sysfs).
    fn find_disk(&self, serial: Option<&str>, path: Option<&str>) -> Result<String, String> {
        let roots = crate::resources::Roots {
            sys: self.env.sys.clone(),
            proc: PathBuf::from("/proc"),
            dev: self.env.dev.clone(),
            root: PathBuf::from("/"),
            kernel_probes: false,
        };
        let disks = crate::resources::disks(&roots);
        if let Some(s) = serial.filter(|s| !s.is_empty()) {
            if let Some(d) = disks.iter().find(|d| d.serial == s) {
                return Ok(d.id.clone());
            }
        }
        if let Some(p) = path.filter(|p| !p.is_empty()) {
            if let Some(id) = p.strip_prefix("/dev/disk/by-id/") {
                if let Some(d) = disks.iter().find(|d| d.device_id == id) {
                    return Ok(d.id.clone());
                }
            }
            if let Ok(real) = std::fs::canonicalize(p) {
                if let Some(name) = real.file_name().and_then(|n| n.to_str()) {
                    if self.env.sys.join("class/block").join(name).exists() {
                        return Ok(name.to_string());
                    }
                }
            }
        }
        Err(format!(
            "no disk with serial {} or path {}",
            serial.unwrap_or("(none)"),
            path.unwrap_or("(none)")
        ))
    }

    fn storage(&mut self) -> Result<(), String> {
        let steps = self.cfg.storage.clone();
        let plan = boot_plan(&steps);
        if self.cfg.image.kind.is_disk() {
            // Only the boot disk is used: the image brings its own layout.
            for s in &steps {
                if let StorageStep::Disk {
                    id,
                    serial,
                    path,
                    boot,
                    ..
                } = s
                {
                    let name = self.find_disk(serial.as_deref(), path.as_deref())?;
                    self.volumes.insert(id.clone(), self.env.dev.join(&name));
                    self.disks.insert(
                        id.clone(),
                        DiskInfo {
                            name,
                            table: None,
                            boot: *boot,
                        },
                    );
                }
            }
            return Ok(());
        }
        let mut mounts = Vec::new();
        for s in &steps {
            match s {
                StorageStep::Disk {
                    id,
                    serial,
                    path,
                    ptable: table,
                    boot,
                    ..
                } => {
                    let name = self.find_disk(serial.as_deref(), path.as_deref())?;
                    println!("ingot-deploy: disk {id} is {name}");
                    self.volumes.insert(id.clone(), self.env.dev.join(&name));
                    self.disks.insert(
                        id.clone(),
                        DiskInfo {
                            name: name.clone(),
                            table: *table,
                            boot: *boot,
                        },
                    );
                    if let Some(t) = table {
                        self.partition(id, &name, *t, &steps, &plan)?;
                    }
                }
                StorageStep::Partition { id, .. } => {
                    if !self.volumes.contains_key(id) {
                        return Err(format!(
                            "partition {id} is on a disk without a partition table"
                        ));
                    }
                }
                StorageStep::Raid {
                    id,
                    name,
                    level,
                    devices,
                    spares,
                } => {
                    let devs = self.devices_of(devices)?;
                    let spare = self.devices_of(spares)?;
                    let a = crate::raid::create(
                        &self.env,
                        name,
                        &self.cfg.hostname,
                        *level,
                        &devs,
                        &spare,
                    )?;
                    println!(
                        "ingot-deploy: RAID {name} ({}) is {} on {}",
                        level.as_str(),
                        a.node.display(),
                        devs.join(" ")
                    );
                    self.volumes.insert(id.clone(), a.node.clone());
                    self.arrays.push(a);
                }
                StorageStep::VolumeGroup { id, name, devices } => {
                    let devs = self.devices_of(devices)?;
                    let devs: Vec<&str> = devs.iter().map(String::as_str).collect();
                    let mut a = vec!["pvcreate", "-ff", "-y"];
                    a.extend_from_slice(&devs);
                    lvm(&a)?;
                    let mut a = vec!["vgcreate", "-y", name.as_str()];
                    a.extend_from_slice(&devs);
                    lvm(&a)?;
                    self.vgs.push(name.clone());
                    self.volumes.insert(id.clone(), PathBuf::from(name));
                    println!("ingot-deploy: volume group {name} on {}", devs.join(" "));
                }
                StorageStep::LogicalVolume {
                    id,
                    volume_group,
                    name,
                    size,
                } => {
                    let vg = self
                        .volumes
                        .get(volume_group)
                        .and_then(|p| p.to_str())
                        .ok_or_else(|| format!("{id}: no volume group {volume_group}"))?
                        .to_string();
                    let size_arg = format!("{}b", size / 512 * 512);
                    let mut a = vec!["lvcreate", "-y", "-W", "y", "-n", name.as_str()];
                    if *size == 0 {
                        a.extend_from_slice(&["-l", "100%FREE"]);
                    } else {
                        a.extend_from_slice(&["-L", &size_arg]);
                    }
                    a.push(&vg);
                    lvm(&a)?;
                    // lvm made /dev/mapper/VG-LV itself (no udev): dashes in names doubled.
                    let node = self.env.dev.join("mapper").join(format!(
                        "{}-{}",
                        vg.replace('-', "--"),
                        name.replace('-', "--")
                    ));
                    wait_for(&node, Duration::from_secs(10))
                        .map_err(|_| format!("{} did not appear", node.display()))?;
                    println!(
                        "ingot-deploy: logical volume {vg}/{name} is {}",
                        node.display()
                    );
                    self.volumes.insert(id.clone(), node);
                }
                StorageStep::Bcache {
                    id,
                    name,
                    backing,
                    cache,
                    cache_mode,
                } => {
                    let node = self.bcache(backing, cache, *cache_mode)?;
                    println!("ingot-deploy: bcache {name} is {}", node.display());
                    self.volumes.insert(id.clone(), node);
                }
                StorageStep::Format {
                    id,
                    volume,
                    fstype,
                    label,
                    uuid,
                } => {
                    let dev = self
                        .volumes
                        .get(volume)
                        .cloned()
                        .ok_or_else(|| format!("{id}: no volume {volume}"))?;
                    let for_boot = plan.boot_format.as_deref() == Some(id.as_str());
                    let uuid =
                        self.format(&dev, *fstype, label.as_deref(), uuid.as_deref(), for_boot)?;
                    println!(
                        "ingot-deploy: {} on {} (UUID {uuid})",
                        fstype.as_str(),
                        dev.display()
                    );
                    self.formats.insert(
                        id.clone(),
                        FsInfo {
                            device: dev,
                            fstype: *fstype,
                            uuid,
                        },
                    );
                }
                StorageStep::Mount { format, path, .. } => {
                    if !self.formats.contains_key(format) {
                        return Err(format!("mount {path}: no filesystem {format}"));
                    }
                    mounts.push(s.clone());
                }
            }
        }
        if plan.root_format.is_none() {
            return Err("the layout mounts nothing at /".into());
        }
        mounts.sort_by(|a, b| match (a, b) {
            (StorageStep::Mount { path: x, .. }, StorageStep::Mount { path: y, .. }) => {
                seed::mount_order(x, y)
            }
            _ => std::cmp::Ordering::Equal,
        });
        for m in &mounts {
            let StorageStep::Mount { format, path, .. } = m else {
                continue;
            };
            let fs = &self.formats[format];
            if fs.fstype == FsType::Swap || path == "none" || path.is_empty() {
                continue;
            }
            let at = self.env.target.join(path.trim_start_matches('/'));
            mount(&fs.device, &at, fs.fstype.as_str())?;
            println!(
                "ingot-deploy: mounted {} at {}",
                fs.device.display(),
                at.display()
            );
            self.mounted.push(at);
        }
        Ok(())
    }

    fn devices_of(&self, ids: &[String]) -> Result<Vec<String>, String> {
        ids.iter()
            .map(|d| {
                self.volumes
                    .get(d)
                    .map(|p| p.to_string_lossy().into_owned())
                    .ok_or_else(|| format!("no volume {d}"))
            })
            .collect()
    }

    /// Writes the partition table of disk `id` with all its Partition steps, has the kernel
    /// re-read it and waits for the partitions' nodes.
    fn partition(
        &mut self,
        id: &str,
        name: &str,
        table: PartitionTable,
        steps: &[StorageStep],
        plan: &BootPlan,
    ) -> Result<(), String> {
        let bytes = disk_bytes(&self.env.sys, name)
            .ok_or_else(|| format!("cannot read the size of {name}"))?;
        let any_boot_flag = steps.iter().any(|s| {
            matches!(s, StorageStep::Partition { device, flag: Some(PartitionFlag::Boot), .. } if device == id)
        });
        let mut ids = Vec::new();
        let wants: Vec<ptable::Want> = steps
            .iter()
            .filter_map(|s| match s {
                StorageStep::Partition {
                    id: pid,
                    device,
                    number,
                    size,
                    flag,
                } if device == id => {
                    ids.push(pid.clone());
                    // The partition holding /boot is the active one when none is flagged.
                    let flag = if flag.is_none()
                        && !any_boot_flag
                        && plan.boot_partition.as_deref() == Some(pid.as_str())
                    {
                        Some(PartitionFlag::Boot)
                    } else {
                        *flag
                    };
                    Some(ptable::Want {
                        number: *number,
                        size: *size,
                        flag,
                    })
                }
                _ => None,
            })
            .collect();
        let placed = ptable::plan(table, bytes, &wants).map_err(|e| format!("{name}: {e}"))?;
        let dev = ensure_node(&self.env, name)?;
        let f = open_rw(&dev).map_err(|e| format!("open {}: {e}", dev.display()))?;
        // Old signatures (filesystems, LVM, a previous GPT) go first: 1 MiB at each end.
        let zero = vec![0u8; 1 << 20];
        f.write_all_at(&zero, 0)
            .and_then(|_| f.write_all_at(&zero, bytes.saturating_sub(1 << 20)))
            .map_err(|e| format!("clearing {}: {e}", dev.display()))?;
        match table {
            PartitionTable::Msdos => {
                let sig: u32 = rand::random();
                f.write_all_at(&ptable::mbr(&placed, sig), 0)
            }
            PartitionTable::Gpt => {
                let guids: Vec<String> = placed.iter().map(|_| random_uuid()).collect();
                let (head, tail) = ptable::gpt(bytes, &placed, &random_uuid(), &guids);
                f.write_all_at(&head, 0)
                    .and_then(|_| f.write_all_at(&tail, bytes / 512 * 512 - tail.len() as u64))
            }
        }
        .map_err(|e| format!("writing the partition table of {}: {e}", dev.display()))?;
        f.sync_all()
            .map_err(|e| format!("sync {}: {e}", dev.display()))?;
        let mut tries = 0;
        loop {
            match reread_partitions(&f) {
                Ok(()) => break,
                Err(e) if tries < 20 && e.raw_os_error() == Some(libc::EBUSY) => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(e) => return Err(format!("re-reading the partition table of {name}: {e}")),
            }
        }
        let first = self
            .env
            .sys
            .join("class/block")
            .join(ptable::partition_name(name, 1));
        if !placed.is_empty() && wait_for(&first, Duration::from_secs(2)).is_err() {
            // The kernel did not parse the table (built without that partition format?): add
            // the partitions it holds ourselves.
            println!("ingot-deploy: the kernel did not read the new table of {name}; adding its partitions with BLKPG");
            for p in &placed {
                let _ = blkpg(&f, 2, p.number as i32, 0, 0);
                blkpg(&f, 1, p.number as i32, p.start * 512, p.sectors * 512)
                    .map_err(|e| format!("adding partition {} of {name}: {e}", p.number))?;
            }
        }
        drop(f);
        for (pid, p) in ids.iter().zip(&placed) {
            let pname = ptable::partition_name(name, p.number);
            wait_for(
                &self.env.sys.join("class/block").join(&pname),
                Duration::from_secs(10),
            )
            .map_err(|_| format!("partition {pname} did not appear"))?;
            let node = ensure_node(&self.env, &pname)?;
            wait_for(&node, Duration::from_secs(5))
                .map_err(|_| format!("{} did not appear", node.display()))?;
            println!(
                "ingot-deploy: {} partition {pname}: start {} MiB, {} MiB{}",
                match table {
                    PartitionTable::Msdos => "msdos",
                    PartitionTable::Gpt => "gpt",
                },
                (p.start * 512) >> 20,
                (p.sectors * 512) >> 20,
                match p.flag {
                    Some(f) => format!(" ({})", format!("{f:?}").to_lowercase()),
                    None => String::new(),
                }
            );
            self.volumes.insert(pid.clone(), node);
        }
        Ok(())
    }

    fn bcache(
        &mut self,
        backing: &str,
        cache: &str,
        mode: ingot_core::deploy::CacheMode,
    ) -> Result<PathBuf, String> {
        let b = self
            .volumes
            .get(backing)
            .cloned()
            .ok_or_else(|| format!("bcache: no volume {backing}"))?;
        let c = self
            .volumes
            .get(cache)
            .cloned()
            .ok_or_else(|| format!("bcache: no volume {cache}"))?;
        let mode = match mode {
            ingot_core::deploy::CacheMode::Writeback => "writeback",
            ingot_core::deploy::CacheMode::Writethrough => "writethrough",
            ingot_core::deploy::CacheMode::Writearound => "writearound",
        };
        let (bs, cs) = (b.to_string_lossy(), c.to_string_lossy());
        tool("make-bcache", &["--wipe-bcache", "-B", &bs, "-C", &cs])?;
        // Without udev, register both halves by hand.
        for d in [&cs, &bs] {
            let _ = std::fs::write(self.env.sys.join("fs/bcache/register"), d.as_bytes());
        }
        let bname = b
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or("bcache: bad backing device name")?
            .to_string();
        let link = self
            .env
            .sys
            .join("class/block")
            .join(&bname)
            .join("bcache/dev");
        wait_for(&link, Duration::from_secs(10)).map_err(|_| {
            format!("bcache: {bname} did not register (is the bcache module loaded?)")
        })?;
        let target = std::fs::read_link(&link).map_err(|e| format!("bcache: {e}"))?;
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or("bcache: no bcache device name")?
            .to_string();
        // The cache must have attached (a cache the kernel refuses, e.g. too small, leaves a
        // backing device without cache: that is not what was asked for).
        let state_file = self.env.sys.join("block").join(&name).join("bcache/state");
        let start = std::time::Instant::now();
        let state = loop {
            let st = std::fs::read_to_string(&state_file)
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
            if st != "no cache" && !st.is_empty() || start.elapsed() > Duration::from_secs(10) {
                break st;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        if state == "no cache" || state.is_empty() {
            return Err(format!(
                "bcache: the cache {cs} did not attach to {name} (state {state:?}; the kernel log says why, e.g. a cache device that is too small)"
            ));
        }
        std::fs::write(
            self.env
                .sys
                .join("block")
                .join(&name)
                .join("bcache/cache_mode"),
            mode,
        )
        .map_err(|e| format!("bcache: setting cache_mode {mode}: {e}"))?;
        ensure_node(&self.env, &name)
    }

    /// Makes a filesystem; returns its UUID (read back from the superblock).
    fn format(
        &self,
        dev: &Path,
        fstype: FsType,
        label: Option<&str>,
        uuid: Option<&str>,
        for_boot: bool,
    ) -> Result<String, String> {
        let d = dev.to_string_lossy().into_owned();
        let uuid = uuid.map(str::to_string);
        match fstype {
            FsType::Ext4 | FsType::Ext2 => {
                let u = uuid.clone().unwrap_or_else(random_uuid);
                let mut a = vec!["-F", "-q", "-t", fstype.as_str(), "-U", &u];
                if let Some(l) = label {
                    a.extend_from_slice(&["-L", l]);
                }
                // Syslinux cannot read ext4's 64bit layout: the filesystem it boots from
                // goes without it.
                if for_boot && fstype == FsType::Ext4 {
                    a.extend_from_slice(&["-O", "^64bit"]);
                }
                a.push(&d);
                tool("mke2fs", &a)?;
            }
            FsType::Vfat => {
                let mut a = vec!["-F", "32"];
                let id;
                if let Some(u) = &uuid {
                    id = u.replace('-', "");
                    if id.len() == 8 {
                        a.extend_from_slice(&["-i", &id]);
                    }
                }
                if let Some(l) = label {
                    a.extend_from_slice(&["-n", l]);
                }
                a.push(&d);
                tool("mkfs.fat", &a)?;
            }
            FsType::Swap => {
                let mut a = vec![];
                if let Some(l) = label {
                    a.extend_from_slice(&["-L", l]);
                }
                a.push(d.as_str());
                tool("mkswap", &a)?;
            }
            FsType::Xfs => {
                let mut a = vec!["-f"];
                let u;
                if let Some(x) = &uuid {
                    u = format!("uuid={x}");
                    a.extend_from_slice(&["-m", &u]);
                }
                if let Some(l) = label {
                    a.extend_from_slice(&["-L", l]);
                }
                a.push(&d);
                tool("mkfs.xfs", &a)?;
            }
        }
        let mut head = vec![0u8; 4096];
        let f = std::fs::File::open(dev).map_err(|e| format!("open {d}: {e}"))?;
        f.read_exact_at(&mut head, 0)
            .map_err(|e| format!("read {d}: {e}"))?;
        read_fs_uuid(&head, fstype).ok_or_else(|| format!("no {} UUID on {d}", fstype.as_str()))
    }

    async fn image(&mut self) -> Result<(), String> {
        let img = self.cfg.image.clone();
        let (kind, comp) = (img.kind, img.kind.compression());
        if kind == ImageKind::Squashfs {
            // Random access: downloaded into the target, checked, extracted, removed.
            let target = self.env.target.clone();
            let file = target.join(".ingot-image.squashfs");
            let f2 = file.clone();
            let write = move |mut r: ChannelReader| -> Result<(), String> {
                let mut f =
                    std::fs::File::create(&f2).map_err(|e| format!("{}: {e}", f2.display()))?;
                std::io::copy(&mut r, &mut f).map_err(|e| format!("downloading: {e}"))?;
                Ok(())
            };
            let got = stream(&img.url, &img.sha256, img.size, write).await;
            let done = got.and_then(|()| {
                let f = file.clone();
                unpack::squashfs(&f, &target)
            });
            let _ = std::fs::remove_file(&file);
            done?;
        } else if !kind.is_disk() {
            let target = self.env.target.clone();
            let write =
                move |r: ChannelReader| unpack::root_tar(unpack::decompress(comp, r), &target);
            stream(&img.url, &img.sha256, img.size, write).await?;
        } else {
            let (id, disk) = self
                .boot_disk()
                .ok_or("the layout names no disk to write the image to")?;
            let dev = ensure_node(&self.env, &disk.name)?;
            let bytes = disk_bytes(&self.env.sys, &disk.name).unwrap_or(u64::MAX);
            if kind == ImageKind::Ddraw && img.size > bytes {
                // Known before anything is written (compressed images are found too large
                // when the disk fills).
                return Err(format!(
                    "the image ({} bytes) is larger than disk {id} ({bytes} bytes)",
                    img.size
                ));
            }
            let node = dev.clone();
            let tarred = kind.is_tar();
            let write = move |r: ChannelReader| -> Result<(), String> {
                let n = unpack::disk(unpack::decompress(comp, r), tarred, &node, &id)?;
                println!("ingot-deploy: {n} bytes written to {}", node.display());
                Ok(())
            };
            stream(&img.url, &img.sha256, img.size, write).await?;
            self.rescan(&disk.name, &dev)?;
        }
        println!(
            "ingot-deploy: image {} ({}) written ({} bytes, sha256 {})",
            img.name,
            kind.as_str(),
            img.size,
            img.sha256
        );
        Ok(())
    }

    /// After a raw image: the kernel re-reads the disk's table; when it cannot parse it, the
    /// partitions the image's table describes are added with BLKPG.
    fn rescan(&self, name: &str, dev: &Path) -> Result<(), String> {
        let f = open_rw(dev).map_err(|e| format!("open {}: {e}", dev.display()))?;
        let _ = reread_partitions(&f);
        let mut head = vec![0u8; 34 * 512];
        f.read_exact_at(&mut head, 0)
            .map_err(|e| format!("reading back {}: {e}", dev.display()))?;
        let parts = ptable::parse(&head);
        let first = self
            .env
            .sys
            .join("class/block")
            .join(ptable::partition_name(name, 1));
        if !parts.is_empty() && wait_for(&first, Duration::from_secs(2)).is_err() {
            println!("ingot-deploy: the kernel did not read the image's table on {name}; adding its partitions with BLKPG");
            for (n, start, sectors) in &parts {
                let _ = blkpg(&f, 2, *n as i32, 0, 0);
                blkpg(&f, 1, *n as i32, start * 512, sectors * 512)
                    .map_err(|e| format!("adding partition {n} of {name}: {e}"))?;
            }
        }
        Ok(())
    }

    fn boot_disk(&self) -> Option<(String, DiskInfo)> {
        let mut ids: Vec<&String> = self.disks.keys().collect();
        ids.sort();
        ids.iter()
            .find(|i| self.disks[**i].boot)
            .or_else(|| {
                // The first Disk step, in configuration order.
                self.cfg.storage.iter().find_map(|s| match s {
                    StorageStep::Disk { id, .. } => ids.iter().find(|i| **i == id),
                    _ => None,
                })
            })
            .map(|i| ((*i).clone(), self.disks[*i].clone()))
    }

    fn seed(&mut self) -> Result<(), String> {
        if self.cfg.image.kind.is_disk() {
            self.mount_ddraw_root()?;
        }
        let t = self.env.target.clone();
        let write = |rel: &str, data: &[u8], mode: u32| -> Result<(), String> {
            use std::os::unix::fs::PermissionsExt;
            let p = t.join(rel);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("mkdir {}: {e}", parent.display()))?;
            }
            std::fs::write(&p, data).map_err(|e| format!("write {}: {e}", p.display()))?;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
                .map_err(|e| format!("chmod {}: {e}", p.display()))
        };
        if !self.arrays.is_empty() {
            if !crate::raid::target_has_mdadm(&t) {
                return Err(format!(
                    "the image has no mdadm, so the installed system cannot assemble RAID {}; deploy an image that carries mdadm (Ubuntu's and MAAS's do)",
                    self.arrays[0].name
                ));
            }
            let conf = "etc/mdadm/mdadm.conf";
            let existing = std::fs::read_to_string(t.join(conf)).unwrap_or_default();
            write(
                conf,
                crate::raid::mdadm_conf(&existing, &self.arrays).as_bytes(),
                0o644,
            )?;
        }
        if !self.cfg.image.kind.is_disk() {
            let entries = self.fstab_entries();
            write(
                "etc/fstab",
                seed::fstab(&entries, &self.cfg.special_mounts).as_bytes(),
                0o644,
            )?;
        }
        let user_data = match &self.cfg.user_data {
            Some(b64) => {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|e| format!("user_data is not base64: {e}"))?
            }
            None => b"#cloud-config\n{}\n".to_vec(),
        };
        let dir = seed::SEED_DIR;
        write(
            &format!("{dir}/meta-data"),
            seed::meta_data(&self.cfg).as_bytes(),
            0o600,
        )?;
        write(&format!("{dir}/user-data"), &user_data, 0o600)?;
        let mut net = self.cfg.network_config.clone();
        if !net.ends_with('\n') {
            net.push('\n');
        }
        write(&format!("{dir}/network-config"), net.as_bytes(), 0o600)?;
        // NoCloud reads vendor-data beside user-data: the region's settings (NTP, proxy,
        // apt mirror, remote syslog), which the user's own cloud-config may override.
        if let Some(v) = &self.cfg.vendor_data {
            write(&format!("{dir}/vendor-data"), v.as_bytes(), 0o600)?;
        }
        write(
            seed::REPORTING_CFG,
            seed::reporting_cfg(&self.cfg.reporting).as_bytes(),
            0o600,
        )?;
        println!(
            "ingot-deploy: seed written (instance-id {}, hostname {})",
            self.cfg.system_id, self.cfg.hostname
        );
        Ok(())
    }

    fn fstab_entries(&self) -> Vec<seed::FstabEntry> {
        self.cfg
            .storage
            .iter()
            .filter_map(|s| match s {
                StorageStep::Mount {
                    format,
                    path,
                    options,
                    ..
                } => {
                    let fs = self.formats.get(format)?;
                    Some(seed::FstabEntry {
                        uuid: fs.uuid.clone(),
                        path: path.clone(),
                        fstype: fs.fstype,
                        options: options.clone(),
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// A raw image brings its own layout: its root is the partition of the boot disk holding
    /// `/etc`, found by mounting each in turn.
    fn mount_ddraw_root(&mut self) -> Result<(), String> {
        let (_, disk) = self.boot_disk().ok_or("no boot disk")?;
        std::thread::sleep(Duration::from_millis(500));
        for n in 1..=16 {
            let pname = ptable::partition_name(&disk.name, n);
            if !self.env.sys.join("class/block").join(&pname).exists() {
                continue;
            }
            let dev = ensure_node(&self.env, &pname)?;
            for fstype in ["ext4", "xfs", "btrfs"] {
                if mount(&dev, &self.env.target, fstype).is_ok() {
                    if self.env.target.join("etc").is_dir() {
                        self.mounted.push(self.env.target.clone());
                        return Ok(());
                    }
                    let _ = umount(&self.env.target);
                }
            }
        }
        Err(format!(
            "no partition of {} holds a root filesystem to write the seed to",
            disk.name
        ))
    }

    fn bootloader(&mut self) -> Result<(), String> {
        if self.cfg.image.kind.is_disk() {
            println!("ingot-deploy: raw image: its own boot loader is used");
            return Ok(());
        }
        let plan = boot_plan(&self.cfg.storage);
        let root = plan
            .root_format
            .as_ref()
            .and_then(|f| self.formats.get(f))
            .ok_or("nothing is mounted at /")?
            .clone();
        let boot_fs_id = plan
            .boot_format
            .clone()
            .ok_or("no filesystem holds /boot")?;
        let separate_boot = plan.root_format.as_ref() != Some(&boot_fs_id);
        let files = crate::bootfiles::find(&self.env.target).ok_or(
            "the image has no kernel (no /boot/vmlinuz-<version>, /boot/vmlinuz or /vmlinuz)",
        )?;
        println!(
            "ingot-deploy: kernel /{} initramfs {}",
            files.kernel,
            files
                .initrd
                .as_deref()
                .map(|i| format!("/{i}"))
                .unwrap_or_else(|| "(none)".into())
        );
        // The disk under /boot: the boot code goes there.
        let part = plan
            .boot_partition
            .as_ref()
            .ok_or("/boot is not on a partition (the boot loader needs one)")?;
        let disk_id = self
            .cfg
            .storage
            .iter()
            .find_map(|s| match s {
                StorageStep::Partition { id, device, .. } if id == part => Some(device.clone()),
                _ => None,
            })
            .ok_or("no disk under /boot")?;
        let disk = self
            .disks
            .get(&disk_id)
            .ok_or("no disk under /boot")?
            .clone();
        let grub = Grub::of(&self.env.target);
        let esp = self.esp_mounted();
        // GRUB's BIOS core goes into the gap after the MBR, or a BIOS boot partition on GPT.
        let bios_room = disk.table != Some(PartitionTable::Gpt)
            || self.cfg.storage.iter().any(|s| {
                matches!(s, StorageStep::Partition { device, flag: Some(PartitionFlag::BiosGrub), .. } if *device == disk_id)
            });
        let grub_bios = grub.bios && bios_room;
        let grub_efi = esp && grub.efi;
        if grub_bios || grub_efi {
            self.grub(&disk, &root, grub_bios, grub_efi)?;
        }
        if !grub_bios {
            self.extlinux(&files, &disk, &root, &boot_fs_id, separate_boot)?;
        }
        if esp && !grub_efi {
            self.uefi(&files, &root.uuid)?;
        }
        if !esp {
            println!("ingot-deploy: no vfat /boot/efi: BIOS boot only");
        }
        Ok(())
    }

    /// extlinux in /boot and syslinux's MBR boot code on the disk under it.
    fn extlinux(
        &self,
        files: &crate::bootfiles::BootFiles,
        disk: &DiskInfo,
        root: &FsInfo,
        boot_fs_id: &str,
        separate_boot: bool,
    ) -> Result<(), String> {
        let boot_fs = self.formats.get(boot_fs_id).ok_or("no /boot filesystem")?;
        if !matches!(boot_fs.fstype, FsType::Ext2 | FsType::Ext4 | FsType::Vfat) {
            return Err(format!(
                "extlinux cannot boot from {} (/boot must be ext2, ext4 or vfat)",
                boot_fs.fstype.as_str()
            ));
        }
        // Paths as extlinux sees them: on the filesystem holding /boot.
        let on_boot_fs = |rel: &str| -> Result<String, String> {
            if !separate_boot {
                return Ok(format!("/{rel}"));
            }
            rel.strip_prefix("boot/")
                .map(|r| format!("/{r}"))
                .ok_or_else(|| format!("/{rel} is not on the /boot filesystem"))
        };
        let kernel = on_boot_fs(&files.kernel)?;
        let initrd = files.initrd.as_deref().map(on_boot_fs).transpose()?;
        let boot_dir = self.env.target.join("boot");
        std::fs::write(
            boot_dir.join("extlinux.conf"),
            seed::extlinux_conf(
                &kernel,
                initrd.as_deref(),
                &root.uuid,
                &self.cfg.kernel_opts,
            ),
        )
        .map_err(|e| format!("writing extlinux.conf: {e}"))?;
        tool("extlinux", &["--install", &boot_dir.to_string_lossy()])?;
        let mbr_file = match disk.table {
            Some(PartitionTable::Gpt) => "gptmbr.bin",
            _ => "mbr.bin",
        };
        let mbr_path = self.env.syslinux_dir.join("mbr").join(mbr_file);
        let code =
            std::fs::read(&mbr_path).map_err(|e| format!("reading {}: {e}", mbr_path.display()))?;
        if code.len() < 440 {
            return Err(format!("{} is shorter than 440 bytes", mbr_path.display()));
        }
        let dev = self.env.dev.join(&disk.name);
        let f = open_rw(&dev).map_err(|e| format!("open {}: {e}", dev.display()))?;
        f.write_all_at(&code[..440], 0)
            .and_then(|_| f.sync_all())
            .map_err(|e| format!("writing the boot code to {}: {e}", dev.display()))?;
        println!(
            "ingot-deploy: extlinux installed in /boot, {mbr_file} on {} (root UUID {})",
            disk.name, root.uuid
        );
        Ok(())
    }

    /// The layout mounts a vfat filesystem at `/boot/efi`.
    fn esp_mounted(&self) -> bool {
        self.cfg.storage.iter().any(|s| match s {
            StorageStep::Mount { format, path, .. } => {
                path == "/boot/efi"
                    && self
                        .formats
                        .get(format)
                        .is_some_and(|f| f.fstype == FsType::Vfat)
            }
            _ => false,
        })
    }

    /// The image's own GRUB, run inside the target as curtin runs it: `/dev`, `/proc` and
    /// `/sys` bound into the target, with `bios` `grub-install --target=i386-pc DISK` (into
    /// the MBR gap, or the BIOS boot partition on GPT), with `efi` `grub-install --target=x86_64-efi
    /// --removable --no-nvram` (`\EFI\BOOT\BOOTX64.EFI`, which firmware boots without NVRAM
    /// entries), then `grub-mkconfig` writes `/boot/grub/grub.cfg` (the root by UUID) with
    /// the deploy's settings in `/etc/default/grub.d/90-ingot.cfg`.
    fn grub(&self, disk: &DiskInfo, root: &FsInfo, bios: bool, efi: bool) -> Result<(), String> {
        let t = &self.env.target;
        let settings = t.join(seed::GRUB_SETTINGS);
        if let Some(d) = settings.parent() {
            std::fs::create_dir_all(d).map_err(|e| format!("mkdir {}: {e}", d.display()))?;
        }
        std::fs::write(&settings, seed::grub_settings(&self.cfg.kernel_opts))
            .map_err(|e| format!("writing {}: {e}", settings.display()))?;
        // grub-mkconfig names the root by UUID only when /dev/disk/by-uuid/UUID exists, which
        // udev makes elsewhere; the ephemeral environment has no udev.
        let made_links = self.uuid_links();
        let mut binds: Vec<PathBuf> = Vec::new();
        let r = (|| {
            for (from, to) in [
                (self.env.dev.as_path(), "dev"),
                (Path::new("/proc"), "proc"),
                (Path::new("/sys"), "sys"),
            ] {
                let at = t.join(to);
                bind_mount(from, &at)?;
                binds.push(at);
            }
            if bios {
                let dev = format!("/dev/{}", disk.name);
                in_target(t, "grub-install", &["--target=i386-pc", "--recheck", &dev])?;
            }
            if efi {
                in_target(
                    t,
                    "grub-install",
                    &[
                        "--target=x86_64-efi",
                        "--efi-directory=/boot/efi",
                        "--bootloader-id=debian",
                        "--no-nvram",
                        "--removable",
                    ],
                )?;
            }
            in_target(t, "grub-mkconfig", &["-o", "/boot/grub/grub.cfg"])?;
            let cfg = std::fs::read_to_string(t.join("boot/grub/grub.cfg"))
                .map_err(|e| format!("reading /boot/grub/grub.cfg: {e}"))?;
            // By UUID, or by its device-mapper path for a root on LVM (grub-mkconfig names an
            // LVM root by path, as Debian's installer does).
            let by_path = format!("root={} ", root.device.display());
            let by_uuid = cfg.contains(&format!("root=UUID={}", root.uuid));
            let lvm_by_path = root.device.starts_with("/dev/mapper") && cfg.contains(&by_path);
            if !by_uuid && !lvm_by_path {
                return Err(format!(
                    "/boot/grub/grub.cfg does not boot root=UUID={} or {}",
                    root.uuid,
                    by_path.trim_end()
                ));
            }
            Ok(())
        })();
        while let Some(at) = binds.pop() {
            if let Err(e) = umount_detach(&at) {
                tracing::warn!("{e}");
            }
        }
        for l in made_links {
            let _ = std::fs::remove_file(l);
        }
        r?;
        println!(
            "ingot-deploy: the image's GRUB installed on {} ({}), root UUID {}",
            disk.name,
            match (bios, efi) {
                (true, true) => "BIOS and UEFI",
                (true, false) => "BIOS",
                _ => "UEFI",
            },
            root.uuid
        );
        Ok(())
    }

    /// `/dev/disk/by-uuid/UUID` for every filesystem made, where missing; the links made.
    fn uuid_links(&self) -> Vec<PathBuf> {
        let dir = self.env.dev.join("disk/by-uuid");
        let _ = std::fs::create_dir_all(&dir);
        let mut made = Vec::new();
        for fs in self.formats.values() {
            let l = dir.join(&fs.uuid);
            if std::fs::symlink_metadata(&l).is_ok() {
                continue;
            }
            if std::os::unix::fs::symlink(&fs.device, &l).is_ok() {
                made.push(l);
            }
        }
        made
    }

    /// UEFI without the image's GRUB, when the layout mounts a vfat filesystem at `/boot/efi`:
    /// syslinux.efi as the removable-media loader `\EFI\BOOT\BOOTX64.EFI` with `ldlinux.e64`
    /// and a `syslinux.cfg`, and a copy of the kernel and initramfs on the ESP (syslinux.efi
    /// reads only its own partition). The machine then boots from the disk with either
    /// firmware.
    fn uefi(&self, files: &crate::bootfiles::BootFiles, root_uuid: &str) -> Result<(), String> {
        let esp = self.env.target.join("boot/efi");
        let dir = esp.join("EFI/BOOT");
        let kdir = esp.join("EFI/ingot");
        for d in [&dir, &kdir] {
            std::fs::create_dir_all(d).map_err(|e| format!("mkdir {}: {e}", d.display()))?;
        }
        let copy = |from: &Path, to: &Path| {
            std::fs::copy(from, to)
                .map(|_| ())
                .map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))
        };
        copy(&self.env.syslinux_efi, &dir.join("BOOTX64.EFI"))?;
        copy(
            &self.env.syslinux_dir.join("modules/efi64/ldlinux.e64"),
            &dir.join("ldlinux.e64"),
        )?;
        let t = &self.env.target;
        copy(&t.join(&files.kernel), &kdir.join("vmlinuz"))?;
        if let Some(i) = &files.initrd {
            copy(&t.join(i), &kdir.join("initrd.img"))?;
        }
        std::fs::write(
            dir.join("syslinux.cfg"),
            seed::extlinux_conf(
                "/EFI/ingot/vmlinuz",
                files.initrd.as_ref().map(|_| "/EFI/ingot/initrd.img"),
                root_uuid,
                &self.cfg.kernel_opts,
            ),
        )
        .map_err(|e| format!("writing syslinux.cfg: {e}"))?;
        println!("ingot-deploy: UEFI: syslinux.efi as \\EFI\\BOOT\\BOOTX64.EFI on the ESP");
        Ok(())
    }

    /// Unmounts what the executor mounted and deactivates its volume groups.
    pub fn teardown(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        // SAFETY: sync takes no arguments.
        unsafe { libc::sync() };
        while let Some(at) = self.mounted.pop() {
            if let Err(e) = umount(&at) {
                problems.push(e);
            }
        }
        for vg in std::mem::take(&mut self.vgs) {
            if let Err(e) = lvm(&["vgchange", "-an", &vg]) {
                problems.push(e);
            }
        }
        while let Some(a) = self.arrays.pop() {
            if let Err(e) = crate::raid::stop(&a) {
                problems.push(e);
            }
        }
        problems
    }
}

/// What the machine does once the agent is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    PowerOff,
    Reboot,
    /// Stay up (rescue mode).
    Stay,
}

/// The steps after `config`, in order.
pub const STEPS: [DeployStep; 4] = [
    DeployStep::Storage,
    DeployStep::Image,
    DeployStep::Seed,
    DeployStep::Bootloader,
];

/// A curtin-style progress event for `step`.
pub fn progress_event(step: DeployStep, finish: Option<Result<(), &str>>) -> serde_json::Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let name = format!("cmd-install/stage-{}", step.as_str());
    match finish {
        None => serde_json::json!({
            "event_type": "start", "origin": "curtin", "name": name,
            "description": format!("{} started", step.as_str()), "timestamp": now,
        }),
        Some(r) => serde_json::json!({
            "event_type": "finish", "origin": "curtin", "name": name,
            "description": match r { Ok(()) => format!("{} done", step.as_str()), Err(e) => e.to_string() },
            "result": if r.is_ok() { "SUCCESS" } else { "FAIL" },
            "timestamp": now,
        }),
    }
}

/// Where progress goes: the region's status endpoint, or only the console.
pub enum Progress<'a> {
    Region {
        client: &'a crate::metadata::Client,
        system_id: &'a str,
    },
    Console,
}

impl Progress<'_> {
    async fn send(&self, step: DeployStep, finish: Option<Result<(), &str>>) {
        let ev = progress_event(step, finish);
        println!(
            "ingot-deploy: {} {}{}",
            ev["event_type"].as_str().unwrap_or(""),
            ev["name"].as_str().unwrap_or(""),
            ev.get("result")
                .and_then(|r| r.as_str())
                .map(|r| format!(" {r}"))
                .unwrap_or_default()
        );
        if let Progress::Region { client, system_id } = self {
            if let Err(e) = client.status_event(system_id, &ev).await {
                tracing::warn!("progress event not delivered: {e}");
            }
        }
    }
}

/// Runs storage, image, seed and bootloader for `cfg`, reporting each step; tears down
/// (unmounts) whatever happened.
pub async fn install(
    cfg: DeployConfig,
    env: Env,
    progress: &Progress<'_>,
) -> Result<(), StepError> {
    let mut ex = Executor::new(cfg, env);
    let mut result = Ok(());
    for step in STEPS {
        progress.send(step, None).await;
        let started = std::time::Instant::now();
        let r = ex.run_step(step).await;
        tracing::info!(
            step = step.as_str(),
            secs = started.elapsed().as_secs_f64(),
            ok = r.is_ok(),
            "deploy step"
        );
        progress
            .send(
                step,
                Some(r.as_ref().map(|_| ()).map_err(|e| e.reason.as_str())),
            )
            .await;
        if let Err(e) = r {
            result = Err(e);
            break;
        }
    }
    for p in ex.teardown() {
        tracing::warn!("teardown: {p}");
    }
    result
}

/// `ingot.purpose=deploy`: fetch the configuration, install, then netboot off and reboot; on
/// failure signal FAILED with `step: reason` and power off.
pub async fn run(client: &crate::metadata::Client, system_id: &str, env: Env) -> After {
    let progress = Progress::Region { client, system_id };
    let fail = |e: StepError| async move {
        let msg = e.to_string();
        eprintln!("ingot-deploy: FAILED {msg}");
        let form = crate::metadata::Form::new("FAILED").field("error", msg.clone());
        if let Err(s) = client.signal(&form).await {
            tracing::error!("the FAILED signal was not delivered: {s}");
        }
        After::PowerOff
    };
    progress.send(DeployStep::Config, None).await;
    let cfg = match client.deploy_config().await {
        Ok(c) => c,
        Err(e) => {
            let e = err(
                DeployStep::Config,
                format!("cannot get the deploy configuration: {e}"),
            );
            progress
                .send(DeployStep::Config, Some(Err(&e.reason)))
                .await;
            return fail(e).await;
        }
    };
    if cfg.system_id != system_id {
        let e = err(
            DeployStep::Config,
            format!(
                "the configuration is for {}, this machine is {system_id}",
                cfg.system_id
            ),
        );
        progress
            .send(DeployStep::Config, Some(Err(&e.reason)))
            .await;
        return fail(e).await;
    }
    progress.send(DeployStep::Config, Some(Ok(()))).await;
    if let Err(e) = install(cfg, env, &progress).await {
        return fail(e).await;
    }
    progress.send(DeployStep::Reboot, None).await;
    if let Err(e) = client.netboot_off().await {
        let e = err(DeployStep::Reboot, format!("netboot_off: {e}"));
        progress
            .send(DeployStep::Reboot, Some(Err(&e.reason)))
            .await;
        return fail(e).await;
    }
    progress.send(DeployStep::Reboot, Some(Ok(()))).await;
    println!("ingot-deploy: installed; rebooting from the disk");
    After::Reboot
}

fn wait_for(p: &Path, max: Duration) -> Result<(), ()> {
    let start = std::time::Instant::now();
    while !p.exists() {
        if start.elapsed() > max {
            return Err(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// The image's bytes as a `Read` for a blocking writer thread.
pub struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    buf: bytes::Bytes,
    at: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.buf.len() {
            match self.rx.blocking_recv() {
                Some(b) => {
                    self.buf = b;
                    self.at = 0;
                }
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Streams `url` through a SHA-256 hasher into `write` (run on a blocking thread), then
/// checks the size and the digest. A digest or size mismatch wins over a write error (a
/// corrupted image usually fails to extract too).
pub async fn stream<F>(url: &str, sha256: &str, size: u64, write: F) -> Result<(), String>
where
    F: FnOnce(ChannelReader) -> Result<(), String> + Send + 'static,
{
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        // A stalled transfer fails the step instead of hanging the deployment.
        .read_timeout(Duration::from_secs(60))
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let mut resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("cannot fetch {url}: {e}"))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("HTTP {status} for {url}"));
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(64);
    let writer = tokio::task::spawn_blocking(move || {
        write(ChannelReader {
            rx,
            buf: bytes::Bytes::new(),
            at: 0,
        })
    });
    let mut hasher = sha2::Sha256::new();
    let mut got: u64 = 0;
    let mut tx = Some(tx);
    let started = std::time::Instant::now();
    loop {
        let chunk = match resp.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                drop(tx.take());
                let _ = writer.await;
                return Err(format!("reading {url} after {got} bytes: {e}"));
            }
        };
        hasher.update(&chunk);
        got += chunk.len() as u64;
        if let Some(t) = &tx {
            if t.send(chunk).await.is_err() {
                // The writer stopped (it failed): keep hashing to tell corruption apart.
                tx = None;
            }
        }
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| format!("the writer thread failed: {e}"))?;
    let digest: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    tracing::info!(
        bytes = got,
        secs = started.elapsed().as_secs_f64(),
        "image streamed"
    );
    if !digest.eq_ignore_ascii_case(sha256) {
        return Err(format!(
            "sha256 mismatch: expected {sha256}, got {digest} ({got} bytes from {url})"
        ));
    }
    if got != size {
        return Err(format!("size mismatch: expected {size} bytes, got {got}"));
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_plan_finds_root_boot_and_its_partition() {
        let cfg: Vec<StorageStep> = serde_json::from_value(serde_json::json!([
            {"type": "disk", "id": "d", "serial": null, "path": "/dev/vda", "size": 1, "ptable": "msdos", "boot": true},
            {"type": "partition", "id": "p1", "device": "d", "number": 1, "size": 1, "flag": null},
            {"type": "partition", "id": "p2", "device": "d", "number": 2, "size": 0, "flag": "lvm"},
            {"type": "volume_group", "id": "vg", "name": "vg0", "devices": ["p2"]},
            {"type": "logical_volume", "id": "lv", "volume_group": "vg", "name": "root", "size": 0},
            {"type": "format", "id": "f1", "volume": "p1", "fstype": "ext2", "label": null, "uuid": null},
            {"type": "format", "id": "f2", "volume": "lv", "fstype": "ext4", "label": null, "uuid": null},
            {"type": "mount", "id": "m2", "format": "f2", "path": "/", "options": null},
            {"type": "mount", "id": "m1", "format": "f1", "path": "/boot", "options": null},
        ]))
        .unwrap();
        let p = boot_plan(&cfg);
        assert_eq!(p.root_format.as_deref(), Some("f2"));
        assert_eq!(p.boot_format.as_deref(), Some("f1"));
        assert_eq!(p.boot_partition.as_deref(), Some("p1"));
        // Without /boot, the root's volume: a logical volume is no partition.
        let p = boot_plan(&cfg[..8]);
        assert_eq!(p.boot_format.as_deref(), Some("f2"));
        assert_eq!(p.boot_partition, None);
    }

    #[test]
    fn filesystem_uuids_from_superblocks() {
        let mut ext = vec![0u8; 4096];
        ext[1024 + 0x38] = 0x53;
        ext[1024 + 0x39] = 0xef;
        for i in 0..16 {
            ext[1024 + 0x68 + i] = i as u8;
        }
        assert_eq!(
            read_fs_uuid(&ext, FsType::Ext4).as_deref(),
            Some("00010203-0405-0607-0809-0a0b0c0d0e0f")
        );
        assert_eq!(read_fs_uuid(&vec![0u8; 4096], FsType::Ext4), None);
        let mut swap = vec![0u8; 4096];
        swap[4086..].copy_from_slice(b"SWAPSPACE2");
        swap[1036] = 0xab;
        assert!(read_fs_uuid(&swap, FsType::Swap)
            .unwrap()
            .starts_with("ab000000-"));
        let mut fat = vec![0u8; 4096];
        fat[0x43..0x47].copy_from_slice(&[0x78, 0x56, 0x34, 0x12]);
        assert_eq!(
            read_fs_uuid(&fat, FsType::Vfat).as_deref(),
            Some("1234-5678")
        );
    }

    #[test]
    fn step_errors_name_the_step() {
        let e = err(DeployStep::Image, "HTTP 404 Not Found for http://x/y");
        assert_eq!(e.to_string(), "image: HTTP 404 Not Found for http://x/y");
    }
}
