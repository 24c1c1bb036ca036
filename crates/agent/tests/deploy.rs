//! The deploy executor for real: `ingot-agent install` lays out a loop device (backed by a
//! sparse file), streams the test OS image (`ingot_images::os::build_os`) from an HTTP server
//! on 127.0.0.1 with its SHA-256 checked, writes the seed and extlinux; then QEMU (TCG) boots
//! that disk and the test OS's `ingot-agent firstboot` applies the hostname, the static address
//! and the user-data and reports `modules-final` to the test's server, reached through a
//! `restrict=on` user network with one guestfwd. Also: a corrupted image and a 404 fail the
//! image step with their reasons; `wipe-disks` zeroes exactly what it should.
//!
//! Needs root (loop devices, mounts), the host tools of `scripts/peers/deploy.sh` and QEMU
//! (`scripts/peers/qemu.sh`); without them the tests are skipped, unless CI is set, where they
//! fail.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ingot_core::deploy::{
    render_network_config, FsType, ImageKind, ImageSource, NetIface, NetKind, NetLink,
    PartitionFlag, PartitionTable, StorageStep,
};

mod common;
use common::*;

#[test]
fn image_failures_name_the_step_and_reason() {
    if skip("image_failures_name_the_step_and_reason") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let lo = Loop::new(&t.path().join("disk.img"), 64 << 20);
    let good = tiny_tgz();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    let base = serve(vec![
        ("/good.tgz".into(), good.clone()),
        ("/bad.tgz".into(), bad),
    ]);
    let layout = vec![
        disk("disk0", &lo.dev, PartitionTable::Msdos),
        part("p1", 1, 0, None),
        format("f1", "p1", FsType::Ext4, None),
        mount("m1", "f1", "/"),
    ];
    let image = |path: &str| ImageSource {
        name: "custom/tiny".into(),
        url: format!("{base}{path}"),
        sha256: sha256(&good),
        size: good.len() as u64,
        kind: ImageKind::Tgz,
    };
    let (ok, out, err) = install(
        t.path(),
        &config(layout.clone(), image("/bad.tgz"), "http://127.0.0.1:9/x"),
    );
    assert!(!ok, "{out}");
    assert!(
        err.contains(&format!(
            "image: sha256 mismatch: expected {}, got ",
            sha256(&good)
        )),
        "stderr: {err}\nstdout: {out}"
    );
    assert!(
        out.contains("ingot-deploy: finish cmd-install/stage-image FAIL"),
        "{out}"
    );
    assert!(
        !out.contains("stage-seed"),
        "no step after the failed one: {out}"
    );

    let (ok, _, err) = install(
        t.path(),
        &config(layout.clone(), image("/nope.tgz"), "http://127.0.0.1:9/x"),
    );
    assert!(!ok);
    assert!(
        err.contains(&format!("image: HTTP 404 Not Found for {base}/nope.tgz")),
        "{err}"
    );

    // The good one goes through the image step (and fails at the boot loader: it is no OS).
    let (ok, out, err) = install(
        t.path(),
        &config(layout, image("/good.tgz"), "http://127.0.0.1:9/x"),
    );
    assert!(!ok);
    assert!(
        out.contains("finish cmd-install/stage-image SUCCESS"),
        "{out}\n{err}"
    );
    assert!(
        out.contains("finish cmd-install/stage-seed SUCCESS"),
        "{out}"
    );
    assert!(
        err.contains(
            "bootloader: the image has no kernel (no /boot/vmlinuz-<version>, /boot/vmlinuz or /vmlinuz)"
        ),
        "{err}"
    );
    // A disk that is not there.
    let (ok, _, err) = install(
        t.path(),
        &config(
            vec![StorageStep::Disk {
                id: "disk0".into(),
                serial: Some("NO-SUCH-SERIAL".into()),
                path: Some("/dev/no-such-disk".into()),
                size: 0,
                ptable: Some(PartitionTable::Gpt),
                boot: true,
            }],
            image("/good.tgz"),
            "http://127.0.0.1:9/x",
        ),
    );
    assert!(!ok);
    assert!(
        err.contains("storage: no disk with serial NO-SUCH-SERIAL or path /dev/no-such-disk"),
        "{err}"
    );
}

#[test]
fn wipe_disks_quick_and_full() {
    if skip("wipe_disks_quick_and_full") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("wipe.img");
    let size: usize = 16 << 20;
    std::fs::write(&file, vec![0xa5u8; size]).unwrap();
    let lo = Loop::new_existing(&file);
    let run = |args: &[&str]| {
        let out = Command::new(AGENT)
            .args(["builtin", "wipe-disks"])
            .args(args)
            .args(["--device", &lo.dev])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let text = run(&["--quick-erase"]);
    assert!(
        text.contains("quick erase: zeroed the first and last 2 MiB"),
        "{text}"
    );
    let b = std::fs::read(&lo.file).unwrap();
    let mib2 = 2 << 20;
    assert!(b[..mib2].iter().all(|x| *x == 0), "first 2 MiB zeroed");
    assert!(
        b[mib2..size - mib2].iter().all(|x| *x == 0xa5),
        "middle untouched"
    );
    assert!(
        b[size - mib2..].iter().all(|x| *x == 0),
        "last 2 MiB zeroed"
    );
    // Secure erase is not possible on a loop device over a file: it says so, then quick.
    let text = run(&["--secure-erase"]);
    assert!(text.contains("secure erase not possible"), "{text}");
    assert!(
        text.contains("full erase: zeroed all 16777216 bytes"),
        "{text}"
    );
    assert!(std::fs::read(&lo.file).unwrap().iter().all(|x| *x == 0));
}

impl Loop {
    fn new_existing(file: &Path) -> Loop {
        let out = Command::new("losetup")
            .args(["-f", "--show"])
            .arg(file)
            .output()
            .unwrap();
        assert!(out.status.success());
        Loop {
            dev: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            file: file.to_path_buf(),
        }
    }
}

/// What the reporting server received: (request head lines, body).
type Reports = Arc<Mutex<Vec<(Vec<String>, Vec<u8>)>>>;

/// A server QEMU's guestfwd connects to once; every HTTP request on that one stream is
/// recorded and answered 204.
fn report_server() -> (u16, Reports) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got: Reports = Arc::default();
    let g = got.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let g = g.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                loop {
                    let mut head = Vec::new();
                    let mut len = 0usize;
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        head.push(line.trim_end().to_string());
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    g.lock().unwrap().push((head, body));
                    let _ = s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n");
                }
            });
        }
    });
    (port, got)
}

#[test]
fn deploys_the_test_os_and_boots_it() {
    if skip("deploys_the_test_os_and_boots_it") {
        return;
    }
    let qemu = std::env::var_os("INGOT_QEMU")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/qemu-system-x86_64"));
    if !qemu.is_file() {
        assert!(!in_ci(), "no QEMU at {}", qemu.display());
        eprintln!("SKIPPED deploys_the_test_os_and_boots_it: no QEMU");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let os = ingot_images::os::build_os(&ingot_images::os::OsOptions {
        out: t.path().join("os.tgz"),
        agent_binary: PathBuf::from(AGENT),
        arch: "amd64".into(),
        deb_cache: deb_cache(),
        work_dir: t.path().join("os-work"),
    })
    .expect("build-os");
    let t_build = t0.elapsed();
    eprintln!(
        "test OS: {} bytes (initrd {} bytes), kernel {}, built in {t_build:?}",
        os.size, os.initrd_size, os.kernel_version
    );
    let image = std::fs::read(&os.path).unwrap();
    let base = serve(vec![("/os.tgz".into(), image.clone())]);

    let lo = Loop::new(&t.path().join("disk.img"), 512 << 20);
    let layout = vec![
        disk("disk0", &lo.dev, PartitionTable::Msdos),
        part("p1", 1, 64 << 20, Some(PartitionFlag::Boot)),
        part("p2", 2, 320 << 20, None),
        part("p3", 3, 0, None),
        format("f1", "p1", FsType::Ext2, Some("boot")),
        format("f2", "p2", FsType::Ext4, Some("root")),
        format("f3", "p3", FsType::Swap, None),
        mount("m2", "f2", "/"),
        mount("m1", "f1", "/boot"),
        mount("m3", "f3", "none"),
    ];
    let cfg = config(
        layout,
        ImageSource {
            name: "custom/ingot-test".into(),
            url: format!("{base}/os.tgz"),
            sha256: os.sha256.clone(),
            size: os.size,
            kind: ImageKind::Tgz,
        },
        "http://10.0.2.100:8080/MAAS/metadata/status/abc123",
    );
    // A second NIC, on its own user network, configured by DHCP (renamed from its kernel name
    // by MAC like the first).
    let mut cfg = cfg;
    cfg.network_config = render_network_config(&[
        NetIface {
            name: "eth0".into(),
            mac: "52:54:00:12:34:56".into(),
            kind: NetKind::Physical,
            mtu: None,
            links: vec![NetLink::Static {
                address: "10.0.2.15".into(),
                prefix: 24,
                gateway: Some("10.0.2.2".into()),
                dns: vec!["10.0.2.3".into()],
                search: vec![],
                routes: vec![],
            }],
        },
        NetIface {
            name: "data0".into(),
            mac: "52:54:00:12:34:99".into(),
            kind: NetKind::Physical,
            mtu: Some(1400),
            links: vec![NetLink::Dhcp],
        },
    ]);
    let t1 = Instant::now();
    let (ok, out, err) = install(t.path(), &cfg);
    let t_install = t1.elapsed();
    eprintln!("install took {t_install:?}\n{out}");
    assert!(ok, "install failed: {err}\n{out}");
    for step in ["storage", "image", "seed", "bootloader"] {
        assert!(
            out.contains(&format!("finish cmd-install/stage-{step} SUCCESS")),
            "{out}"
        );
    }
    // The kernel sees the table as planned.
    let sectors = |n: u32| {
        std::fs::read_to_string(format!("/sys/class/block/{}p{n}/size", lo.name()))
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    assert_eq!(sectors(1), 64 << 11);
    assert_eq!(sectors(2), 320 << 11);
    assert_eq!(sectors(3), (512 << 11) - 2048 - (64 << 11) - (320 << 11));
    let mut head = vec![0u8; 512];
    std::fs::File::open(&lo.file)
        .unwrap()
        .read_exact(&mut head)
        .unwrap();
    let code = std::fs::read("/usr/lib/syslinux/mbr/mbr.bin").unwrap();
    assert_eq!(&head[..440], &code[..440], "syslinux MBR code");
    assert_eq!(head[446], 0x80, "partition 1 active");
    drop(lo);

    // Boot it.
    let (port, reports) = report_server();
    let log = t.path().join("serial.log");
    let mut vm = Command::new(&qemu)
        .args([
            "-accel",
            "tcg",
            "-m",
            "512",
            "-smp",
            "1",
            "-nographic",
            "-nodefaults",
        ])
        .arg("-serial")
        .arg(format!("file:{}", log.display()))
        .arg("-drive")
        .arg(format!(
            "file={},format=raw,if=virtio",
            t.path().join("disk.img").display()
        ))
        .arg("-netdev")
        .arg(format!(
            "user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:8080-tcp:127.0.0.1:{port}"
        ))
        .args(["-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56"])
        .args(["-netdev", "user,id=n1,restrict=on,net=10.0.3.0/24"])
        .args(["-device", "virtio-net-pci,netdev=n1,mac=52:54:00:12:34:99"])
        .arg("-no-reboot")
        .spawn()
        .unwrap();
    let t2 = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("ingot-os: ready") || t2.elapsed() > Duration::from_secs(300) {
            break text;
        }
        if let Ok(Some(s)) = vm.try_wait() {
            panic!("QEMU exited ({s}) early:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let t_boot = t2.elapsed();
    let _ = vm.kill();
    let _ = vm.wait();
    eprintln!("boot to firstboot done: {t_boot:?}\n--- console ---\n{text}\n---");
    for want in [
        "ingot-os: root UUID=",
        "ingot-firstboot: instance abc123",
        "ingot-firstboot: hostname web1",
        "ingot-firstboot: eth0 10.0.2.15/24",
        "ingot-firstboot: route default via 10.0.2.2 dev eth0",
        "ingot-firstboot: data0 10.0.3.15/24 (dhcp4)",
        "ingot-firstboot: 1 ssh key(s) installed for root",
        "ingot-firstboot: user-data exit 0",
        "ingot-firstboot: reported modules-final SUCCESS",
    ] {
        assert!(text.contains(want), "no {want:?} on the console:\n{text}");
    }
    let got = reports.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let (head, body) = &got[0];
    assert!(
        head[0].starts_with("POST /MAAS/metadata/status/abc123 "),
        "{head:?}"
    );
    let auth = head
        .iter()
        .find(|h| h.to_ascii_lowercase().starts_with("authorization:"))
        .expect("signed");
    assert!(auth.contains("oauth_consumer_key=\"ck-test\""), "{auth}");
    assert!(auth.contains("oauth_token=\"tk-test\""), "{auth}");
    assert!(auth.contains("oauth_signature=\"%26ts-test\""), "{auth}");
    let ev: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(ev["name"], "modules-final");
    assert_eq!(ev["event_type"], "finish");
    assert_eq!(ev["result"], "SUCCESS");
    assert_eq!(ev["origin"], "cloudinit");
    eprintln!(
        "timings: build-os {t_build:?}, install {t_install:?}, boot+firstboot {t_boot:?}; test OS {} bytes",
        os.size
    );
}

/// What the fake region received: (method, path, authorization, body).
type Seen = Arc<Mutex<Vec<(String, String, String, Vec<u8>)>>>;

/// A fake region on 127.0.0.1: the deploy configuration, the status endpoint, the metadata
/// `op=` posts and the image at `/os.tgz`; every request recorded.
fn fake_region(cfg: Vec<u8>, image: Vec<u8>) -> (u16, Seen) {
    let (port, d) = fake_region_dynamic(image);
    d.set_config(cfg);
    (port, d.seen)
}

fn wait_for_exit(vm: &mut std::process::Child, log: &Path, max: Duration) -> String {
    let start = Instant::now();
    loop {
        if let Ok(Some(_)) = vm.try_wait() {
            return std::fs::read_to_string(log).unwrap_or_default();
        }
        if start.elapsed() > max {
            let _ = vm.kill();
            let _ = vm.wait();
            panic!(
                "the VM did not finish in {max:?}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The whole flow on a VM: the ephemeral environment (kernel + initramfs with the tools from
/// Debian packages) boots with `ingot.purpose=deploy`, fetches the configuration from the
/// (fake) region, finds the disk by its serial, writes a GPT, formats, streams the image,
/// installs extlinux, turns netboot off and reboots; the disk then boots the test OS, which
/// reports modules-final to the region's status endpoint.
#[test]
fn ephemeral_environment_deploys_a_vm() {
    if skip("ephemeral_environment_deploys_a_vm") {
        return;
    }
    let qemu = std::env::var_os("INGOT_QEMU")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/qemu-system-x86_64"));
    if !qemu.is_file() {
        assert!(!in_ci(), "no QEMU at {}", qemu.display());
        eprintln!("SKIPPED ephemeral_environment_deploys_a_vm: no QEMU");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let (kernel, initrd, initrd_size) = ephemeral().clone();
    let t_eph = t0.elapsed();
    let t1 = Instant::now();
    let os = ingot_images::os::build_os(&ingot_images::os::OsOptions {
        out: t.path().join("os.tgz"),
        agent_binary: PathBuf::from(AGENT),
        arch: "amd64".into(),
        deb_cache: deb_cache(),
        work_dir: t.path().join("os-work"),
    })
    .expect("build-os");
    let t_os = t1.elapsed();
    eprintln!(
        "ephemeral initramfs {} bytes (built in {t_eph:?}); test OS {} bytes (built in {t_os:?})",
        initrd_size, os.size
    );

    let region = "http://10.0.2.100/MAAS";
    let mut cfg = config(
        vec![
            StorageStep::Disk {
                id: "disk0".into(),
                serial: Some("INGOT-DISK-1".into()),
                path: None,
                size: 0,
                ptable: Some(PartitionTable::Gpt),
                boot: true,
            },
            part("p1", 1, 300 << 20, Some(PartitionFlag::Boot)),
            part("p2", 2, 64 << 20, Some(PartitionFlag::Esp)),
            part("p3", 3, 0, None),
            format("f1", "p1", FsType::Ext4, Some("root")),
            format("f2", "p3", FsType::Swap, None),
            format("f6", "p2", FsType::Vfat, Some("ESP")),
            // LVM on a second disk.
            StorageStep::Disk {
                id: "disk1".into(),
                serial: Some("INGOT-DISK-2".into()),
                path: None,
                size: 0,
                ptable: Some(PartitionTable::Gpt),
                boot: false,
            },
            part_on("disk1", "d1p1", 1, 0, Some(PartitionFlag::Lvm)),
            StorageStep::VolumeGroup {
                id: "vg".into(),
                name: "vg-data".into(),
                devices: vec!["d1p1".into()],
            },
            StorageStep::LogicalVolume {
                id: "lv1".into(),
                volume_group: "vg".into(),
                name: "data".into(),
                size: 64 << 20,
            },
            StorageStep::LogicalVolume {
                id: "lv2".into(),
                volume_group: "vg".into(),
                name: "logs".into(),
                size: 0,
            },
            format("f3", "lv1", FsType::Ext4, None),
            format("f4", "lv2", FsType::Ext2, None),
            // bcache on a third disk: a backing and a cache partition.
            StorageStep::Disk {
                id: "disk2".into(),
                serial: Some("INGOT-DISK-3".into()),
                path: None,
                size: 0,
                ptable: Some(PartitionTable::Msdos),
                boot: false,
            },
            part_on("disk2", "d2p1", 1, 96 << 20, None),
            part_on("disk2", "d2p2", 2, 0, None),
            StorageStep::Bcache {
                id: "bc".into(),
                name: "bcache0".into(),
                backing: "d2p1".into(),
                cache: "d2p2".into(),
                cache_mode: ingot_core::deploy::CacheMode::Writeback,
            },
            format("f5", "bc", FsType::Ext4, None),
            mount("m1", "f1", "/"),
            mount("m2", "f2", "none"),
            mount("m3", "f3", "/srv/data"),
            mount("m4", "f4", "/srv/logs"),
            mount("m5", "f5", "/srv/cache"),
            mount("m6", "f6", "/boot/efi"),
        ],
        ImageSource {
            name: "custom/ingot-test".into(),
            url: "http://10.0.2.100/os.tgz".into(),
            sha256: os.sha256.clone(),
            size: os.size,
            kind: ImageKind::Tgz,
        },
        &format!("{region}/metadata/status/abc123"),
    );
    cfg.fqdn = "web2.maas".into();
    cfg.hostname = "web2".into();
    let image = std::fs::read(&os.path).unwrap();
    let (port, seen) = fake_region(serde_json::to_vec(&cfg).unwrap(), image);

    let disk = t.path().join("vm-disk.img");
    let disk1 = t.path().join("vm-disk1.img");
    let disk2 = t.path().join("vm-disk2.img");
    for (d, size) in [
        (&disk, 512u64 << 20),
        (&disk1, 256 << 20),
        (&disk2, 640 << 20),
    ] {
        std::fs::File::create(d).unwrap().set_len(size).unwrap();
    }
    let vm_args = |extra: &[String], log: &Path| {
        let mut c = Command::new(&qemu);
        c.args(["-accel", "tcg", "-m", "768", "-smp", "1", "-nographic", "-nodefaults"])
            .arg("-serial")
            .arg(format!("file:{}", log.display()))
            .arg("-drive")
            .arg(format!("file={},format=raw,if=none,id=d0", disk.display()))
            .args(["-device", "virtio-blk-pci,drive=d0,serial=INGOT-DISK-1,bootindex=1"])
            .arg("-drive")
            .arg(format!("file={},format=raw,if=none,id=d1", disk1.display()))
            .args(["-device", "virtio-blk-pci,drive=d1,serial=INGOT-DISK-2"])
            .arg("-drive")
            .arg(format!("file={},format=raw,if=none,id=d2", disk2.display()))
            .args(["-device", "virtio-blk-pci,drive=d2,serial=INGOT-DISK-3"])
            .arg("-netdev")
            .arg(format!(
                "user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:80-cmd:socat STDIO TCP:127.0.0.1:{port}"
            ))
            .args(["-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56"])
            .arg("-no-reboot")
            .args(extra);
        c
    };

    // 1. The ephemeral environment installs the machine and reboots (QEMU exits: -no-reboot).
    let log1 = t.path().join("deploy.log");
    let t2 = Instant::now();
    let mut vm = vm_args(
        &[
            "-kernel".into(),
            kernel.display().to_string(),
            "-initrd".into(),
            initrd.display().to_string(),
            "-append".into(),
            format!(
                "console=ttyS0 ingot.url={region} ingot.purpose=deploy ingot.system_id=abc123 ingot.token=ck-test:tk-test:ts-test"
            ),
        ],
        &log1,
    )
    .spawn()
    .unwrap();
    let text = wait_for_exit(&mut vm, &log1, Duration::from_secs(400));
    let t_deploy = t2.elapsed();
    eprintln!("--- deploy console ({t_deploy:?}) ---\n{text}\n---");
    assert!(
        text.contains("ingot-deploy: disk disk0 is vda"),
        "found by serial"
    );
    assert!(
        text.contains("ingot-deploy: disk disk1 is vdb"),
        "found by serial"
    );
    assert!(text.contains("ingot-deploy: logical volume vg-data/data is /dev/mapper/vg--data-data"));
    assert!(text.contains("ingot-deploy: logical volume vg-data/logs is /dev/mapper/vg--data-logs"));
    assert!(text.contains("ingot-deploy: bcache bcache0 is /dev/bcache0"));
    assert!(text.contains("at /target/srv/cache"));
    assert!(
        !text.contains("bcache: register_cache() error"),
        "the cache attached"
    );
    assert!(text.contains("ingot-deploy: installed; rebooting from the disk"));
    let got = seen.lock().unwrap().clone();
    assert!(
        got.iter().all(
            |(_, _, auth, _)| auth.contains("oauth_consumer_key=\"ck-test\"") || auth.is_empty()
        ),
        "signed with the machine's token"
    );
    let events: Vec<serde_json::Value> = got
        .iter()
        .filter(|(m, p, _, _)| m == "POST" && p == "/MAAS/metadata/status/abc123")
        .map(|(_, _, _, b)| serde_json::from_slice(b).unwrap())
        .collect();
    for step in ["config", "storage", "image", "seed", "bootloader", "reboot"] {
        let name = format!("cmd-install/stage-{step}");
        assert!(
            events
                .iter()
                .any(|e| e["name"] == name.as_str() && e["event_type"] == "start"),
            "no start of {step}: {events:?}"
        );
        assert!(
            events.iter().any(|e| e["name"] == name.as_str()
                && e["event_type"] == "finish"
                && e["result"] == "SUCCESS"
                && e["origin"] == "curtin"),
            "no successful finish of {step}: {events:?}"
        );
    }
    let netboot_off = got
        .iter()
        .filter(|(m, p, _, b)| {
            m == "POST"
                && p == "/MAAS/metadata/latest/"
                && String::from_utf8_lossy(b).contains("netboot_off")
        })
        .count();
    assert_eq!(netboot_off, 1);
    assert!(
        !got.iter()
            .any(|(_, p, _, b)| p == "/MAAS/metadata/2012-03-01/"
                && String::from_utf8_lossy(b).contains("FAILED")),
        "no FAILED signal"
    );

    // 2. The disk boots the test OS, which reports modules-final.
    let before = seen.lock().unwrap().len();
    let log2 = t.path().join("os.log");
    let t3 = Instant::now();
    let mut vm = vm_args(&[], &log2).spawn().unwrap();
    let text = loop {
        let text = std::fs::read_to_string(&log2).unwrap_or_default();
        if text.contains("ingot-os: ready") || t3.elapsed() > Duration::from_secs(300) {
            break text;
        }
        if let Ok(Some(s)) = vm.try_wait() {
            panic!("QEMU exited ({s}) early:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let _ = vm.kill();
    let _ = vm.wait();
    let t_boot = t3.elapsed();
    eprintln!("--- installed OS console ({t_boot:?}) ---\n{text}\n---");
    for want in [
        "ingot-firstboot: hostname web2",
        "ingot-firstboot: eth0 10.0.2.15/24",
        "ingot-firstboot: user-data exit 0",
        "ingot-firstboot: reported modules-final SUCCESS",
    ] {
        assert!(text.contains(want), "no {want:?} on the console");
    }
    let got = seen.lock().unwrap().clone();
    let finals: Vec<serde_json::Value> = got[before..]
        .iter()
        .filter(|(m, p, _, _)| m == "POST" && p == "/MAAS/metadata/status/abc123")
        .map(|(_, _, _, b)| serde_json::from_slice(b).unwrap())
        .collect();
    assert_eq!(finals.len(), 1, "{finals:?}");
    assert_eq!(finals[0]["name"], "modules-final");
    assert_eq!(finals[0]["result"], "SUCCESS");

    // 3. The same disk under UEFI firmware (OVMF): syslinux.efi on the ESP boots the same
    // system; firstboot does not run twice for one instance.
    let ovmf = Path::new("/usr/share/OVMF/OVMF_CODE.fd");
    if ovmf.is_file() {
        let vars = t.path().join("OVMF_VARS.fd");
        std::fs::copy("/usr/share/OVMF/OVMF_VARS.fd", &vars).unwrap();
        let log3 = t.path().join("uefi.log");
        let t4 = Instant::now();
        let mut vm = vm_args(
            &[
                "-drive".into(),
                format!(
                    "if=pflash,format=raw,unit=0,readonly=on,file={}",
                    ovmf.display()
                ),
                "-drive".into(),
                format!("if=pflash,format=raw,unit=1,file={}", vars.display()),
            ],
            &log3,
        )
        .spawn()
        .unwrap();
        let text = loop {
            let text = std::fs::read_to_string(&log3).unwrap_or_default();
            if text.contains("ingot-os: ready") || t4.elapsed() > Duration::from_secs(300) {
                break text;
            }
            if let Ok(Some(s)) = vm.try_wait() {
                panic!("QEMU exited ({s}) early:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(500));
        };
        let _ = vm.kill();
        let _ = vm.wait();
        eprintln!("--- UEFI boot ({:?}) ---\n{text}\n---", t4.elapsed());
        assert!(text.contains("efi: EFI v"), "booted by UEFI firmware");
        assert!(
            text.contains("ingot-os: ready"),
            "the installed system came up"
        );
        assert!(text.contains("ingot-firstboot: instance abc123 already configured"));
    } else {
        assert!(!in_ci(), "no OVMF (scripts/peers/qemu.sh installs it)");
        eprintln!("no OVMF: the UEFI boot is not tried");
    }

    // The installed root, read on the host (partition 1: 1 MiB in, 300 MiB).
    let out = Command::new("losetup")
        .args(["-f", "--show", "-o", "1048576", "--sizelimit", "314572800"])
        .arg(&disk)
        .output()
        .unwrap();
    assert!(out.status.success());
    let lo = Loop {
        dev: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        file: disk.clone(),
    };
    let mnt = t.path().join("root-mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    // The VM was stopped with the filesystem mounted: the journal is replayed (the loop device
    // is writable) and the filesystem mounted read-only.
    assert!(Command::new("mount")
        .args(["-t", "ext4", "-o", "ro", &lo.dev])
        .arg(&mnt)
        .status()
        .unwrap()
        .success());
    let read = |rel: &str| std::fs::read_to_string(mnt.join(rel)).unwrap_or_default();
    let (fstab, ud_log, ud_out, hostname, reporting) = (
        read("etc/fstab"),
        read("var/log/ingot-user-data.log"),
        read("root/user-data.txt"),
        read("etc/hostname"),
        read("etc/cloud/cloud.cfg.d/90_ingot_reporting.cfg"),
    );
    let _ = Command::new("umount").arg(&mnt).status();
    drop(lo);
    eprintln!("--- installed /etc/fstab ---\n{fstab}");
    for (path, fstype) in [
        ("/", "ext4"),
        ("/boot/efi", "vfat"),
        ("/srv/data", "ext4"),
        ("/srv/logs", "ext2"),
        ("/srv/cache", "ext4"),
        ("none", "swap"),
    ] {
        assert!(
            fstab
                .lines()
                .any(|l| l.starts_with("UUID=") && l.contains(&format!(" {path} {fstype} "))),
            "no {path} {fstype} in fstab:\n{fstab}"
        );
    }
    assert_eq!(ud_log, "USER-DATA-RAN\n");
    assert_eq!(ud_out, "user-data ran on web2\n");
    assert_eq!(hostname, "web2\n");
    assert!(reporting.contains("http://10.0.2.100/MAAS/metadata/status/abc123"));
    assert!(reporting.contains("\"type\": \"webhook\""));
    eprintln!(
        "timings: ephemeral build {t_eph:?}, test OS build {t_os:?}, deploy VM {t_deploy:?}, first boot {t_boot:?}; initramfs {} bytes, test OS {} bytes",
        initrd_size, os.size
    );
}

/// `ingot.purpose=deploy` against a region whose image is missing: progress events up to the
/// failed step, then `op=signal status=FAILED error="image: HTTP 404 ..."`, and netboot is
/// left on.
#[test]
fn deploy_failure_is_signalled_to_the_region() {
    if skip("deploy_failure_is_signalled_to_the_region") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let lo = Loop::new(&t.path().join("disk.img"), 64 << 20);
    let mut cfg = config(
        vec![
            disk("disk0", &lo.dev, PartitionTable::Msdos),
            part("p1", 1, 0, None),
            format("f1", "p1", FsType::Ext4, None),
            mount("m1", "f1", "/"),
        ],
        ImageSource {
            name: "custom/missing".into(),
            url: String::new(),
            sha256: "00".repeat(32),
            size: 10,
            kind: ImageKind::Tgz,
        },
        "http://127.0.0.1:9/unused",
    );
    // The image URL names the region itself, which does not have it.
    let (port, seen) = fake_region_dynamic(Vec::new());
    cfg.image.url = format!("http://127.0.0.1:{port}/missing.tgz");
    seen.set_config(serde_json::to_vec(&cfg).unwrap());
    let target = t.path().join("target");
    std::fs::create_dir_all(&target).unwrap();
    let out = Command::new(AGENT)
        .arg("--cmdline")
        .arg(format!(
            "ingot.url=http://127.0.0.1:{port}/MAAS ingot.purpose=deploy ingot.system_id=abc123 ingot.token=ck-test:tk-test:ts-test"
        ))
        .args(["--no-poweroff", "--attempts", "1", "--target-root"])
        .arg(&target)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let got = seen.requests();
    let want = format!("image: HTTP 404 Not Found for http://127.0.0.1:{port}/missing.tgz");
    let signal = got
        .iter()
        .find(|(m, p, _, _)| m == "POST" && p == "/MAAS/metadata/2012-03-01/")
        .unwrap_or_else(|| panic!("no signal: {got:?}\n{stdout}\n{stderr}"));
    let body = String::from_utf8_lossy(&signal.3);
    assert!(body.contains("\r\n\r\nFAILED\r\n"), "{body}");
    assert!(body.contains(&want), "{body}");
    assert!(signal.2.contains("oauth_consumer_key=\"ck-test\""));
    let events: Vec<serde_json::Value> = got
        .iter()
        .filter(|(_, p, _, _)| p == "/MAAS/metadata/status/abc123")
        .map(|(_, _, _, b)| serde_json::from_slice(b).unwrap())
        .collect();
    let image_fail = events
        .iter()
        .find(|e| e["name"] == "cmd-install/stage-image" && e["event_type"] == "finish")
        .expect("image finish event");
    assert_eq!(image_fail["result"], "FAIL");
    assert!(image_fail["description"]
        .as_str()
        .unwrap()
        .starts_with("HTTP 404 Not Found"));
    assert!(
        events.iter().all(|e| e["name"] != "cmd-install/stage-seed"),
        "nothing after the failure"
    );
    assert!(
        !got.iter().any(|(_, p, _, _)| p == "/MAAS/metadata/latest/"),
        "netboot stays on"
    );
    assert!(stdout.contains("ingot-deploy: FAILED") || stderr.contains(&want));
}

/// A fake region whose deploy configuration can be set after it started (so it can name the
/// server's own port).
struct Dynamic {
    gets: Arc<Mutex<std::collections::HashMap<String, Vec<u8>>>>,
    seen: Seen,
}

impl Dynamic {
    fn set_config(&self, c: Vec<u8>) {
        self.set("/MAAS/metadata/latest/deploy-config", c);
    }
    /// What `GET path` answers.
    fn set(&self, path: &str, body: Vec<u8>) {
        self.gets.lock().unwrap().insert(path.into(), body);
    }
    fn requests(&self) -> Vec<(String, String, String, Vec<u8>)> {
        self.seen.lock().unwrap().clone()
    }
}

fn fake_region_dynamic(image: Vec<u8>) -> (u16, Dynamic) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let d = Dynamic {
        gets: Arc::default(),
        seen: Arc::default(),
    };
    d.set("/os.tgz", image);
    let (cfg, seen) = (d.gets.clone(), d.seen.clone());
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let (cfg, seen) = (cfg.clone(), seen.clone());
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                loop {
                    let mut first = String::new();
                    if r.read_line(&mut first).unwrap_or(0) == 0 {
                        return;
                    }
                    let (mut len, mut auth) = (0usize, String::new());
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        if lower.starts_with("authorization:") {
                            auth = line.trim_end().to_string();
                        }
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    let mut w = first.split_whitespace();
                    let (method, path) = (
                        w.next().unwrap_or("").to_string(),
                        w.next().unwrap_or("").to_string(),
                    );
                    let known = cfg.lock().unwrap().get(&path).cloned();
                    let reply: (&str, Vec<u8>) = match (method.as_str(), known) {
                        ("GET", Some(b)) => ("200 OK", b),
                        ("POST", _) => ("200 OK", b"OK".to_vec()),
                        _ => ("404 Not Found", Vec::new()),
                    };
                    seen.lock().unwrap().push((method, path, auth, body));
                    let _ = write!(
                        s,
                        "HTTP/1.1 {}\r\ncontent-length: {}\r\n\r\n",
                        reply.0,
                        reply.1.len()
                    );
                    if s.write_all(&reply.1).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, d)
}

/// The ephemeral kernel and initramfs, built once per test run (content-addressed under the
/// test target's scratch directory): (kernel, initrd, initrd bytes).
fn ephemeral() -> &'static (PathBuf, PathBuf, u64) {
    static E: std::sync::OnceLock<(PathBuf, PathBuf, u64)> = std::sync::OnceLock::new();
    E.get_or_init(|| {
        let data = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deploy-ephemeral");
        let debs = ingot_images::fetch_debs("amd64", &deb_cache()).expect("Debian packages");
        let set = ingot_images::build(&ingot_images::BuildOptions {
            data_dir: data.clone(),
            agent_binary: PathBuf::from(AGENT),
            arch: "amd64".into(),
            work_dir: None,
            kernel_deb: Some(debs.kernel.clone()),
            busybox_deb: Some(debs.busybox.clone()),
        })
        .expect("ephemeral build");
        (
            ingot_images::path_of(&data, &set.kernel.sha256).unwrap(),
            ingot_images::path_of(&data, &set.initrd.sha256).unwrap(),
            set.initrd.size,
        )
    })
}

fn qemu_or_skip(test: &str) -> Option<PathBuf> {
    if skip(test) {
        return None;
    }
    let qemu = std::env::var_os("INGOT_QEMU")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/qemu-system-x86_64"));
    if !qemu.is_file() {
        assert!(!in_ci(), "no QEMU at {}", qemu.display());
        eprintln!("SKIPPED {test}: no QEMU");
        return None;
    }
    Some(qemu)
}

/// A VM booting the ephemeral environment for `purpose`, its disk `disk`, the region at
/// `port` on 127.0.0.1 (10.0.2.100:80 in the VM).
fn ephemeral_vm(
    qemu: &Path,
    disk: &Path,
    port: u16,
    purpose: &str,
    log: &Path,
) -> std::process::Child {
    let (kernel, initrd, _) = ephemeral();
    Command::new(qemu)
        .args(["-accel", "tcg", "-m", "512", "-smp", "1", "-nographic", "-nodefaults"])
        .arg("-serial")
        .arg(format!("file:{}", log.display()))
        .arg("-drive")
        .arg(format!("file={},format=raw,if=none,id=d0", disk.display()))
        .args(["-device", "virtio-blk-pci,drive=d0,serial=INGOT-DISK-1"])
        .arg("-netdev")
        .arg(format!(
            "user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:80-cmd:socat STDIO TCP:127.0.0.1:{port}"
        ))
        .args(["-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:57"])
        .arg("-no-reboot")
        .arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        .arg("-append")
        .arg(format!(
            "console=ttyS0 ingot.url=http://10.0.2.100/MAAS ingot.purpose={purpose} ingot.system_id=abc123 ingot.token=ck-test:tk-test:ts-test"
        ))
        .spawn()
        .unwrap()
}

fn signals(seen: &Dynamic) -> Vec<String> {
    seen.requests()
        .iter()
        .filter(|(m, p, _, _)| m == "POST" && p == "/MAAS/metadata/2012-03-01/")
        .map(|(_, _, _, b)| String::from_utf8_lossy(b).into_owned())
        .collect()
}

/// `ingot.purpose=erase`: the region lists the `wipe-disks` built-in with `quick_erase`; the
/// VM's disk (filled with a pattern) loses exactly its first and last 2 MiB, the region gets
/// the script's output and `OK`, and the VM powers off.
#[test]
fn erase_in_the_ephemeral_environment() {
    let Some(qemu) = qemu_or_skip("erase_in_the_ephemeral_environment") else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let disk = t.path().join("disk.img");
    let size = 64usize << 20;
    std::fs::write(&disk, vec![0x5au8; size]).unwrap();
    let (port, region) = fake_region_dynamic(Vec::new());
    region.set(
        "/MAAS/metadata/2012-03-01/maas-scripts/",
        serde_json::to_vec(&serde_json::json!({
            "commissioning_scripts": [],
            "testing_scripts": [],
            "release_scripts": [{
                "name": "wipe-disks", "script_result_id": 41, "builtin": true,
                "timeout_seconds": 600, "parallel": 0, "hardware_type": 3,
                "parameters": {
                    "quick_erase": {"type": "boolean", "value": true},
                    "secure_erase": {"type": "boolean", "value": false}
                },
                "status": "Pending"
            }]
        }))
        .unwrap(),
    );
    let log = t.path().join("erase.log");
    let started = Instant::now();
    let mut vm = ephemeral_vm(&qemu, &disk, port, "erase", &log);
    let text = wait_for_exit(&mut vm, &log, Duration::from_secs(300));
    eprintln!(
        "--- erase console ({:?}) ---\n{text}\n---",
        started.elapsed()
    );
    let b = std::fs::read(&disk).unwrap();
    let mib2 = 2 << 20;
    assert!(b[..mib2].iter().all(|x| *x == 0), "first 2 MiB zeroed");
    assert!(
        b[mib2..size - mib2].iter().all(|x| *x == 0x5a),
        "the rest kept"
    );
    assert!(
        b[size - mib2..].iter().all(|x| *x == 0),
        "last 2 MiB zeroed"
    );
    let sig = signals(&region);
    let last = sig.last().expect("signals");
    assert!(last.contains("\r\n\r\nOK\r\n"), "{last}");
    assert!(
        sig.iter()
            .any(|s| s.contains("/dev/vda: quick erase: zeroed the first and last 2 MiB")),
        "the output reached the region: {sig:?}"
    );
}

/// `ingot.purpose=rescue`: `OK` is signalled and the machine stays up with a shell.
#[test]
fn rescue_mode_stays_up() {
    let Some(qemu) = qemu_or_skip("rescue_mode_stays_up") else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let disk = t.path().join("disk.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    let (port, region) = fake_region_dynamic(Vec::new());
    let log = t.path().join("rescue.log");
    let mut vm = ephemeral_vm(&qemu, &disk, port, "rescue", &log);
    let start = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("ingot: rescue mode") || start.elapsed() > Duration::from_secs(180) {
            break text;
        }
        if let Ok(Some(s)) = vm.try_wait() {
            panic!("the VM stopped ({s}):\n{text}");
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    std::thread::sleep(Duration::from_secs(3));
    let still_up = vm.try_wait().unwrap().is_none();
    let _ = vm.kill();
    let _ = vm.wait();
    eprintln!("--- rescue console ---\n{text}\n---");
    assert!(text.contains("ingot: rescue mode"), "{text}");
    assert!(still_up, "the machine stays up in rescue mode");
    let sig = signals(&region);
    assert_eq!(sig.len(), 1, "{sig:?}");
    assert!(sig[0].contains("\r\n\r\nOK\r\n"), "{}", sig[0]);
}

/// A raw disk image (`ddraw`): written over the boot disk from sector 0 with its digest
/// checked, its table read back, and the seed written into the partition holding `/etc`.
#[test]
fn ddraw_image_is_written_and_seeded() {
    if skip("ddraw_image_is_written_and_seeded") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    // Make the raw image: a GPT disk with one ext4 partition holding /etc (the tiny tarball).
    let tgz = tiny_tgz();
    let base = serve(vec![("/tiny.tgz".into(), tgz.clone())]);
    let src = Loop::new(&t.path().join("raw-src.img"), 24 << 20);
    let (_, out, err) = install(
        t.path(),
        &config(
            vec![
                disk("disk0", &src.dev, PartitionTable::Gpt),
                part("p1", 1, 0, None),
                format("f1", "p1", FsType::Ext4, None),
                mount("m1", "f1", "/"),
            ],
            ImageSource {
                name: "custom/tiny".into(),
                url: format!("{base}/tiny.tgz"),
                sha256: sha256(&tgz),
                size: tgz.len() as u64,
                kind: ImageKind::Tgz,
            },
            "http://127.0.0.1:9/x",
        ),
    );
    assert!(
        out.contains("finish cmd-install/stage-image SUCCESS"),
        "{out}\n{err}"
    );
    let raw_file = src.file.clone();
    drop(src);
    let raw = std::fs::read(&raw_file).unwrap();
    let base = serve(vec![("/disk.raw".into(), raw.clone())]);

    let dst = Loop::new(&t.path().join("dst.img"), 32 << 20);
    let mut cfg = config(
        vec![StorageStep::Disk {
            id: "disk0".into(),
            serial: None,
            path: Some(dst.dev.clone()),
            size: 0,
            ptable: None,
            boot: true,
        }],
        ImageSource {
            name: "custom/raw".into(),
            url: format!("{base}/disk.raw"),
            sha256: sha256(&raw),
            size: raw.len() as u64,
            kind: ImageKind::Ddraw,
        },
        "http://127.0.0.1:9/x",
    );
    cfg.system_id = "raw42".into();
    let (ok, out, err) = install(t.path(), &cfg);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("raw image: its own boot loader is used"),
        "{out}"
    );
    // Sector 0.. of the disk is the image (the seed changed only the filesystem's inside).
    let got = std::fs::read(&dst.file).unwrap();
    assert_eq!(&got[..512], &raw[..512], "the image's MBR");
    assert_eq!(&got[512..1024], &raw[512..1024], "the image's GPT header");
    // The seed is in the image's root filesystem.
    let mnt = t.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let part = format!("{}p1", dst.dev);
    let st = Command::new("mount")
        .args(["-o", "ro", &part])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(st.success());
    let meta = std::fs::read_to_string(mnt.join("var/lib/cloud/seed/nocloud/meta-data"));
    let big = std::fs::metadata(mnt.join("etc/big")).map(|m| m.len());
    let _ = Command::new("umount").arg(&mnt).status();
    let meta = meta.expect("meta-data in the image's root");
    assert!(meta.contains("\"instance-id\": \"raw42\""), "{meta}");
    assert_eq!(big.unwrap(), 200_000, "the image's own files are there");
    // A raw image larger than the disk is refused before anything is written.
    let small = Loop::new(&t.path().join("small.img"), 8 << 20);
    let mut cfg2 = cfg.clone();
    cfg2.storage = vec![StorageStep::Disk {
        id: "disk0".into(),
        serial: None,
        path: Some(small.dev.clone()),
        size: 0,
        ptable: None,
        boot: true,
    }];
    let (ok, _, err) = install(t.path(), &cfg2);
    assert!(!ok);
    assert!(
        err.contains("image: the image (25165824 bytes) is larger than disk disk0"),
        "{err}"
    );
}

/// The Debian 12 image of `ingot_images::debian` (mmdebstrap), built once and cached.
fn debian_image(test: &str) -> Option<ingot_images::debian::DebianImage> {
    if !Command::new("sh")
        .args(["-c", "command -v mmdebstrap"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        assert!(
            !in_ci(),
            "{test}: mmdebstrap is not installed (scripts/peers/debian-image.sh)"
        );
        eprintln!("SKIPPED {test}: no mmdebstrap (scripts/peers/debian-image.sh)");
        return None;
    }
    let cache = std::env::var_os("INGOT_DEBIAN_IMAGE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/debian-image-cache"));
    let img = ingot_images::debian::debian_image(&cache).expect("the Debian 12 image");
    eprintln!(
        "Debian 12 image: {} ({} bytes), {}",
        img.path.display(),
        img.size,
        match img.built_in {
            Some(d) => format!("built by mmdebstrap in {d:?}"),
            None => "from the cache".into(),
        }
    );
    Some(img)
}

/// A real Debian 12 root tarball, as mmdebstrap writes it (kernel as
/// `/boot/vmlinuz-<version>`, links at the root, device nodes in /dev): installed onto an MBR
/// disk, booted by the image's own GRUB (grub-install run inside the target) under BIOS, and
/// Debian's cloud-init applies the seed (hostname, SSH key, user-data) and reports
/// `modules-final` through its webhook reporter.
#[test]
fn deploys_debian_12_with_its_grub_and_cloud_init() {
    debian_12(false);
}

/// The same under UEFI (OVMF): GPT with an ESP, the image's GRUB installed for x86_64-efi as
/// the removable-media loader `\EFI\BOOT\BOOTX64.EFI` (no NVRAM entry), extlinux's
/// `gptmbr.bin` for BIOS (no BIOS boot partition in a UEFI layout).
#[test]
fn deploys_debian_12_with_its_grub_and_cloud_init_uefi() {
    debian_12(true);
}

fn debian_12(uefi: bool) {
    let test = if uefi {
        "deploys_debian_12_with_its_grub_and_cloud_init_uefi"
    } else {
        "deploys_debian_12_with_its_grub_and_cloud_init"
    };
    if skip(test) {
        return;
    }
    let qemu = std::env::var_os("INGOT_QEMU")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/qemu-system-x86_64"));
    if !qemu.is_file() {
        assert!(!in_ci(), "no QEMU at {}", qemu.display());
        eprintln!("SKIPPED {test}: no QEMU");
        return;
    }
    let t0 = Instant::now();
    let Some(img) = debian_image(test) else {
        return;
    };
    let t_image = t0.elapsed();
    let t = tempfile::tempdir().unwrap();
    let image = std::fs::read(&img.path).unwrap();
    let base = serve(vec![("/debian.tgz".into(), image)]);
    let lo = Loop::new(&t.path().join("disk.img"), 3 << 30);
    let ovmf_code = Path::new("/usr/share/OVMF/OVMF_CODE.fd");
    if uefi && !ovmf_code.is_file() {
        assert!(!in_ci(), "no {} (ovmf)", ovmf_code.display());
        eprintln!("SKIPPED {test}: no OVMF");
        return;
    }
    // The host mounts the ESP: its kernel must know vfat (a kernel property no package
    // installs; netboot's qemu_uefi_vm_deploys_debian_12_with_cloud_init covers UEFI inside
    // the ephemeral environment).
    if uefi
        && !std::fs::read_to_string("/proc/filesystems")
            .unwrap_or_default()
            .contains("vfat")
    {
        eprintln!("SKIPPED {test}: this kernel has no vfat (see /proc/filesystems)");
        return;
    }
    let layout = if uefi {
        vec![
            disk("disk0", &lo.dev, PartitionTable::Gpt),
            part("p1", 1, 512 << 20, Some(PartitionFlag::Esp)),
            part("p2", 2, 0, None),
            format("f1", "p1", FsType::Vfat, Some("efi")),
            format("f2", "p2", FsType::Ext4, Some("root")),
            mount("m2", "f2", "/"),
            mount("m1", "f1", "/boot/efi"),
        ]
    } else {
        vec![
            disk("disk0", &lo.dev, PartitionTable::Msdos),
            part("p1", 1, 0, Some(PartitionFlag::Boot)),
            format("f1", "p1", FsType::Ext4, Some("root")),
            mount("m1", "f1", "/"),
        ]
    };
    let cfg = config(
        layout,
        ImageSource {
            name: "custom/debian-12".into(),
            url: format!("{base}/debian.tgz"),
            sha256: img.sha256.clone(),
            size: img.size,
            kind: ImageKind::Tgz,
        },
        "http://10.0.2.100:8080/MAAS/metadata/status/abc123",
    );
    let t1 = Instant::now();
    let (ok, out, err) = install(t.path(), &cfg);
    let t_install = t1.elapsed();
    eprintln!("install took {t_install:?}\n{out}\n{err}");
    assert!(ok, "install failed: {err}\n{out}");
    assert!(
        out.contains("ingot-deploy: kernel /boot/vmlinuz-6.1.0-"),
        "{out}"
    );
    if uefi {
        assert!(
            out.contains("the image's GRUB installed on ") && out.contains(" (UEFI), root UUID"),
            "{out}"
        );
        assert!(
            out.contains("extlinux installed in /boot, gptmbr.bin"),
            "{out}"
        );
    } else {
        assert!(
            out.contains("the image's GRUB installed on ") && out.contains(" (BIOS), root UUID"),
            "{out}"
        );
        let mut head = vec![0u8; 512];
        std::fs::File::open(&lo.file)
            .unwrap()
            .read_exact(&mut head)
            .unwrap();
        assert!(
            head[..440].windows(4).any(|w| w == b"GRUB"),
            "GRUB's boot code in the MBR"
        );
    }
    drop(lo);

    let (port, reports) = report_server();
    let log = t.path().join("serial.log");
    let mut vm = Command::new(&qemu)
        .args([
            "-accel",
            "tcg",
            "-m",
            "1024",
            "-smp",
            "1",
            "-nographic",
            "-nodefaults",
        ])
        .arg("-serial")
        .arg(format!("file:{}", log.display()))
        .arg("-drive")
        .arg(format!(
            "file={},format=raw,if=virtio",
            t.path().join("disk.img").display()
        ))
        .arg("-netdev")
        .arg(format!(
            "user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:8080-cmd:socat STDIO TCP:127.0.0.1:{port}"
        ))
        .args(["-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56"])
        .args(if uefi {
            let vars = t.path().join("OVMF_VARS.fd");
            std::fs::copy("/usr/share/OVMF/OVMF_VARS.fd", &vars).unwrap();
            vec![
                "-drive".to_string(),
                format!(
                    "if=pflash,format=raw,unit=0,readonly=on,file={}",
                    ovmf_code.display()
                ),
                "-drive".to_string(),
                format!("if=pflash,format=raw,unit=1,file={}", vars.display()),
            ]
        } else {
            vec![]
        })
        .arg("-no-reboot")
        .spawn()
        .unwrap();
    let t2 = Instant::now();
    let final_event = |r: &Reports| {
        r.lock().unwrap().iter().any(|(_, body)| {
            serde_json::from_slice::<serde_json::Value>(body)
                .is_ok_and(|v| v["name"] == "modules-final" && v["event_type"] == "finish")
        })
    };
    let text = loop {
        let text = String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned();
        if final_event(&reports) || t2.elapsed() > Duration::from_secs(600) {
            // The console lines after the report (user-data output, login prompt).
            std::thread::sleep(Duration::from_secs(5));
            break String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned();
        }
        if let Ok(Some(s)) = vm.try_wait() {
            panic!("QEMU exited ({s}) early:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let t_boot = t2.elapsed();
    let _ = vm.kill();
    let _ = vm.wait();
    eprintln!("boot to cloud-init's final event: {t_boot:?}\n--- console ---\n{text}\n---");
    let got = reports.lock().unwrap().clone();
    let events: Vec<serde_json::Value> = got
        .iter()
        .filter_map(|(_, b)| serde_json::from_slice(b).ok())
        .collect();
    eprintln!(
        "{} events: {:?}",
        events.len(),
        events
            .iter()
            .map(|e| format!("{} {} {}", e["event_type"], e["name"], e["result"]))
            .collect::<Vec<_>>()
    );
    let fin = events
        .iter()
        .find(|e| e["name"] == "modules-final" && e["event_type"] == "finish")
        .unwrap_or_else(|| panic!("no modules-final finish event:\n{text}"));
    assert_eq!(fin["result"], "SUCCESS", "{fin}");
    assert_eq!(fin["origin"], "cloudinit");
    // No stage failed (a top-level FAIL fails a deployment in the region, as in MAAS).
    let failed: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event_type"] == "finish" && e["result"] != "SUCCESS")
        .collect();
    assert!(failed.is_empty(), "failed cloud-init events: {failed:?}");
    let (head, _) = &got[0];
    assert!(
        head[0].starts_with("POST /MAAS/metadata/status/abc123 "),
        "{head:?}"
    );
    let auth = head
        .iter()
        .find(|h| h.to_ascii_lowercase().starts_with("authorization:"))
        .expect("signed");
    assert!(auth.contains("oauth_consumer_key=\"ck-test\""), "{auth}");
    assert!(auth.contains("oauth_token=\"tk-test\""), "{auth}");
    for want in [
        "GRUB",
        "Linux version 6.1.0-",
        "USER-DATA-RAN",
        "Authorized keys from /home/debian/.ssh/authorized_keys for user debian",
        "web1 login:",
    ] {
        assert!(text.contains(want), "no {want:?} on the console:\n{text}");
    }
    eprintln!(
        "timings ({}): image {t_image:?} ({} bytes), install {t_install:?}, boot to cloud-init final {t_boot:?}",
        if uefi { "UEFI" } else { "BIOS" },
        img.size
    );
}
