//! The hardware inventory, end to end: builds the real ephemeral image (Debian kernel +
//! busybox + ingot-agent), boots it in QEMU with no network at all (direct kernel boot,
//! `ingot.purpose=resources`) on a machine whose hardware the test chooses at random each run —
//! 1-3 vCPUs, 512-1,024 MiB (in Linux's 128 MiB memory blocks), two virtio disks, an NVMe, a
//! SATA and a virtio-scsi disk of random sizes with set serials, a virtio-net and an e1000 NIC
//! with set MACs, random SMBIOS product and serial strings — and checks that the document the
//! agent prints on the serial console, and what the region derives from it, report exactly
//! that hardware. `INGOT_TEST_SEED=N` replays a run (the seed is printed).
//!
//! Needs what boot_enlist needs (QEMU, the two Debian packages); skipped with the reason
//! printed when they are unavailable, failed instead when CI is set. Uses /dev/kvm when it
//! can be opened, TCG otherwise.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{agent_binary, deb_cache, qemu, skip_or_fail};
use ingot_images::{build, fetch_debs, path_of, BuildOptions};
use serde_json::Value;

const NAME: &str = "boot_resources";
const BEGIN: &str = "-----BEGIN INGOT RESOURCES-----";
const END: &str = "-----END INGOT RESOURCES-----";
const MIB: u64 = 1024 * 1024;

const UUID: &str = "7D4A1E52-3C9B-4F0A-8E21-5B6C7D8E9F01";

/// The randomly chosen hardware of this run.
struct Spec {
    seed: u64,
    cpus: u64,
    mem_mib: u64,
    sizes_mib: [u64; 5],
    product: String,
    serial: String,
}

fn spec() -> &'static Spec {
    static SPEC: std::sync::OnceLock<Spec> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| {
        let seed = std::env::var("INGOT_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        // xorshift64*: enough to pick a machine.
        let mut x = seed | 1;
        let mut next = |n: u64| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
        };
        let word = |n: u64| format!("{:08X}", n);
        let s = Spec {
            seed,
            cpus: 1 + next(3),
            mem_mib: 512 + 128 * next(5),
            sizes_mib: [
                64 + next(2048),
                64 + next(2048),
                64 + next(1024),
                64 + next(1024),
                64 + next(1024),
            ],
            product: format!("Box-{}", word(next(u64::from(u32::MAX)))),
            serial: format!("SN{}", word(next(u64::from(u32::MAX)))),
        };
        eprintln!(
            "{NAME}: INGOT_TEST_SEED={} -> {} vCPUs, {} MiB, disks {:?} MiB, product {}, serial {}",
            s.seed, s.cpus, s.mem_mib, s.sizes_mib, s.product, s.serial
        );
        s
    })
}
const MAC_VIRTIO: &str = "52:54:00:a0:00:01";
const MAC_E1000: &str = "52:54:00:a0:00:02";

/// (serial, size, QEMU device arguments for drive `d{i}`)
fn disks() -> Vec<(&'static str, u64, Vec<String>)> {
    vec![
        (
            "DISKSERIAL0",
            spec().sizes_mib[0] * MIB,
            vec!["virtio-blk-pci,drive=d0,serial=DISKSERIAL0".into()],
        ),
        (
            "DISKSERIAL1",
            spec().sizes_mib[1] * MIB,
            vec!["virtio-blk-pci,drive=d1,serial=DISKSERIAL1".into()],
        ),
        (
            "NVMESERIAL2",
            spec().sizes_mib[2] * MIB,
            vec!["nvme,drive=d2,serial=NVMESERIAL2".into()],
        ),
        (
            "SATASERIAL3",
            spec().sizes_mib[3] * MIB,
            vec![
                "ahci,id=ahci0".into(),
                "ide-hd,drive=d3,bus=ahci0.0,serial=SATASERIAL3".into(),
            ],
        ),
        (
            "SCSISERIAL4",
            spec().sizes_mib[4] * MIB,
            vec![
                "virtio-scsi-pci,id=scsi0".into(),
                "scsi-hd,drive=d4,bus=scsi0.0,channel=0,scsi-id=0,lun=0,serial=SCSISERIAL4".into(),
            ],
        ),
    ]
}

#[derive(Debug)]
enum Outcome {
    Exited(std::process::ExitStatus),
    /// No `Linux version` line on the console in time.
    NoKernel,
    Timeout,
}

/// Runs the VM until it exits, `limit` passes, or (with `kernel_within`) the kernel has not
/// printed its banner by then. Only the QEMU started here is ever killed, by its handle.
fn run_vm(
    mut cmd: Command,
    log: &Path,
    limit: Duration,
    kernel_within: Option<Duration>,
) -> Outcome {
    let _ = fs::remove_file(log);
    let start = Instant::now();
    let mut child = cmd.spawn().expect("starting QEMU");
    let outcome = loop {
        if let Some(s) = child.try_wait().unwrap() {
            return Outcome::Exited(s);
        }
        if start.elapsed() > limit {
            break Outcome::Timeout;
        }
        if kernel_within.is_some_and(|t| start.elapsed() > t)
            && !fs::read_to_string(log)
                .unwrap_or_default()
                .contains("Linux version")
        {
            break Outcome::NoKernel;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = child.kill();
    let _ = child.wait();
    outcome
}

fn kvm_usable() -> bool {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

/// The document between the markers on the console (which turns `\n` into `\r\n`).
fn document(serial: &str) -> Option<Value> {
    let text = serial.replace('\r', "");
    let start = text.find(&format!("{BEGIN}\n"))? + BEGIN.len() + 1;
    let end = start + text[start..].find(&format!("\n{END}"))?;
    serde_json::from_str(&text[start..end]).ok()
}

fn tail(s: &str) -> &str {
    let mut i = s.len().saturating_sub(4000);
    while !s.is_char_boundary(i) {
        i += 1;
    }
    &s[i..]
}

#[test]
fn boots_without_network_and_reports_the_hardware() {
    let Some(qemu) = qemu() else {
        skip_or_fail(
            NAME,
            "QEMU not found (set INGOT_QEMU, or run scripts/peers/qemu.sh)",
        );
        return;
    };
    let t0 = Instant::now();
    let debs = match fetch_debs("amd64", &deb_cache()) {
        Ok(d) => d,
        Err(e) => {
            skip_or_fail(NAME, &format!("cannot get the Debian packages: {e}"));
            return;
        }
    };
    let agent = agent_binary();
    let data = tempfile::tempdir().unwrap();
    let set = build(&BuildOptions {
        data_dir: data.path().to_path_buf(),
        agent_binary: agent,
        arch: "amd64".into(),
        work_dir: None,
        kernel_deb: Some(debs.kernel),
        busybox_deb: Some(debs.busybox),
    })
    .expect("build the ephemeral image");
    let kernel = path_of(data.path(), &set.kernel.sha256).unwrap();
    let initrd = path_of(data.path(), &set.initrd.sha256).unwrap();
    let t_build = t0.elapsed();

    let vm = tempfile::tempdir().unwrap();
    let log = vm.path().join("serial.log");
    let qemu_err = vm.path().join("qemu.stderr");
    for (i, (_, size, _)) in disks().into_iter().enumerate() {
        let img = vm.path().join(format!("d{i}.img"));
        fs::File::create(&img).unwrap().set_len(size).unwrap(); // sparse
    }
    let vm_command = |accel: &str| {
        let mut cmd = Command::new(&qemu);
        // One host thread for all vCPUs under TCG (see TCG_SMP in crates/ingot/tests/netboot.rs).
        let accel = if accel == "tcg" {
            "tcg,thread=single"
        } else {
            accel
        };
        cmd.args(["-accel", accel])
            .args(["-m", &spec().mem_mib.to_string()])
            .args(["-smp", &spec().cpus.to_string()])
            .args(["-nographic", "-nodefaults", "-no-reboot"])
            .arg("-serial")
            .arg(format!("file:{}", log.display()))
            .arg("-kernel")
            .arg(&kernel)
            .arg("-initrd")
            .arg(&initrd)
            .args(["-append", "console=ttyS0 panic=-1 ingot.purpose=resources"]);
        for (i, (_, _, devices)) in disks().into_iter().enumerate() {
            let img = vm.path().join(format!("d{i}.img"));
            cmd.arg("-drive")
                .arg(format!("file={},if=none,id=d{i},format=raw", img.display()));
            for d in devices {
                cmd.arg("-device").arg(d);
            }
        }
        // Two NICs with no backend at all: nothing leaves the VM.
        cmd.args(["-device", &format!("virtio-net-pci,mac={MAC_VIRTIO}")])
            .args(["-device", &format!("e1000,mac={MAC_E1000}")])
            .args([
                "-smbios",
                "type=0,vendor=Ingot Firmware,version=9.9.9,date=01/02/2025",
            ])
            .args([
                "-smbios",
                &format!(
                    "type=1,manufacturer=Ingot Test Lab,product={},version=1.2,\
                     serial={},uuid={UUID},sku=SKU-7,family=Ingot Family",
                    spec().product,
                    spec().serial
                ),
            ])
            .args([
                "-smbios",
                "type=2,manufacturer=Ingot Boards,product=MB-1,version=rev2,serial=MB-SERIAL-1",
            ])
            .args([
                "-smbios",
                "type=3,manufacturer=Ingot Chassis,version=c1,serial=CH-SERIAL-9",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&qemu_err).unwrap());
        cmd
    };
    // KVM when /dev/kvm opens and the kernel actually gets going under it (nested KVM can
    // be present yet hang the guest); TCG otherwise.
    let mut accel = "tcg";
    let mut outcome = Outcome::Timeout;
    let t1 = Instant::now();
    if kvm_usable() {
        outcome = run_vm(
            vm_command("kvm"),
            &log,
            Duration::from_secs(120),
            Some(Duration::from_secs(10)),
        );
        if matches!(outcome, Outcome::NoKernel) {
            eprintln!(
                "{NAME}: /dev/kvm is there but the guest kernel never started under it; using TCG"
            );
        } else {
            accel = "kvm";
        }
    }
    if accel == "tcg" {
        outcome = run_vm(vm_command("tcg"), &log, Duration::from_secs(300), None);
    }
    let t_boot = t1.elapsed();
    let serial = fs::read_to_string(&log).unwrap_or_default();
    let stderr = fs::read_to_string(&qemu_err).unwrap_or_default();
    let status = match outcome {
        Outcome::Exited(s) => s,
        other => panic!(
            "VM ({accel}) did not power off: {other:?}; serial log tail:\n{}",
            tail(&serial)
        ),
    };
    assert!(
        status.success(),
        "QEMU exited with {status}; stderr:\n{stderr}\nserial log tail:\n{}",
        tail(&serial)
    );
    assert!(
        serial.contains("ingot: starting ingot-agent"),
        "{}",
        tail(&serial)
    );
    assert!(
        !serial.contains("DHCP on"),
        "no DHCP for ingot.purpose=resources"
    );
    let doc = document(&serial)
        .unwrap_or_else(|| panic!("no document between the markers:\n{}", tail(&serial)));
    eprintln!("serial console:\n{}", serial.replace('\r', ""));
    check(&doc, &set.kernel_version);
    derived(&doc);
    eprintln!(
        "{NAME}: image built in {t_build:.1?}, booted, inventoried and powered off in \
         {t_boot:.1?} ({}); document {} bytes",
        accel,
        doc.to_string().len()
    );
}

fn check(doc: &Value, kernel_version: &str) {
    let r = &doc["resources"];
    let pretty = || serde_json::to_string_pretty(doc).unwrap();
    assert_eq!(doc["api_version"], "1.0");
    assert_eq!(doc["environment"]["kernel_version"], kernel_version);
    assert_eq!(doc["environment"]["kernel_architecture"], "x86_64");
    assert_eq!(doc["environment"]["os_name"], "Ingot ephemeral environment");

    // -smp, -m as chosen.
    assert_eq!(r["cpu"]["total"], spec().cpus, "{}", r["cpu"]);
    assert_eq!(r["cpu"]["architecture"], "x86_64");
    assert_eq!(
        r["memory"]["total"],
        spec().mem_mib * MIB,
        "{}",
        r["memory"]
    );

    // Disks: exactly the five given, each found by its serial with its size and bus.
    let list = r["storage"]["disks"].as_array().unwrap();
    assert_eq!(list.len(), 5, "{}", r["storage"]);
    let by_serial = |s: &str| {
        list.iter()
            .find(|d| d["serial"] == s)
            .unwrap_or_else(|| panic!("no disk with serial {s}: {}", r["storage"]))
    };
    for (serial, size, _) in disks() {
        let d = by_serial(serial);
        assert_eq!(d["size"], size, "{d}");
        assert_eq!(d["read_only"], false);
        assert!(d["device"].as_str().unwrap().contains(':'), "{d}");
        assert!(
            d["pci_address"].as_str().unwrap().starts_with("0000:"),
            "{d}"
        );
    }
    for s in ["DISKSERIAL0", "DISKSERIAL1"] {
        let d = by_serial(s);
        assert_eq!(d["type"], "virtio", "{d}");
        assert_eq!(d["device_id"], format!("virtio-{s}"));
        assert!(d["id"].as_str().unwrap().starts_with("vd"), "{d}");
        assert_eq!(
            d["device_path"],
            format!("pci-{}", d["pci_address"].as_str().unwrap())
        );
    }
    let nvme = by_serial("NVMESERIAL2");
    assert_eq!(nvme["type"], "nvme", "{nvme}");
    assert_eq!(nvme["id"], "nvme0n1");
    assert_eq!(nvme["model"], "QEMU NVMe Ctrl");
    assert_eq!(nvme["device_id"], "nvme-QEMU_NVMe_Ctrl_NVMESERIAL2");
    assert_eq!(nvme["rpm"], 0);
    assert_eq!(
        nvme["device_path"],
        format!("pci-{}-nvme-1", nvme["pci_address"].as_str().unwrap())
    );
    let sata = by_serial("SATASERIAL3");
    assert_eq!(sata["type"], "sata", "{sata}");
    assert_eq!(sata["model"], "QEMU HARDDISK");
    assert_eq!(sata["device_id"], "ata-QEMU_HARDDISK_SATASERIAL3");
    assert_eq!(
        sata["device_path"],
        format!("pci-{}-ata-1", sata["pci_address"].as_str().unwrap())
    );
    let scsi = by_serial("SCSISERIAL4");
    assert_eq!(scsi["type"], "scsi", "{scsi}");
    assert_eq!(scsi["model"], "QEMU HARDDISK");
    assert_eq!(scsi["device_id"], "scsi-0QEMU_QEMU_HARDDISK_SCSISERIAL4");
    assert_eq!(
        scsi["device_path"],
        format!("pci-{}-scsi-0:0:0:0", scsi["pci_address"].as_str().unwrap())
    );

    // NICs: both, with their MACs and drivers, and their network state.
    let cards = r["network"]["cards"].as_array().unwrap();
    assert_eq!(cards.len(), 2, "{}", r["network"]);
    for (mac, driver) in [(MAC_VIRTIO, "virtio_net"), (MAC_E1000, "e1000")] {
        let card = cards
            .iter()
            .find(|c| c["ports"][0]["address"] == mac)
            .unwrap_or_else(|| panic!("no card with {mac}: {}", r["network"]));
        assert_eq!(card["driver"], driver, "{card}");
        assert_eq!(card["ports"][0]["protocol"], "ethernet");
        assert!(card["pci_address"].as_str().unwrap().starts_with("0000:"));
        let port = card["ports"][0]["id"].as_str().unwrap();
        assert_eq!(doc["networks"][port]["hwaddr"], mac, "{}", doc["networks"]);
        assert_eq!(doc["networks"][port]["type"], "broadcast");
        assert_eq!(doc["networks"][port]["addresses"], serde_json::json!([]));
    }
    assert_eq!(doc["networks"]["lo"]["type"], "loopback");

    // SMBIOS.
    let sys = &r["system"];
    assert_eq!(
        sys["uuid"].as_str().unwrap().to_ascii_uppercase(),
        UUID,
        "{sys}"
    );
    assert_eq!(sys["vendor"], "Ingot Test Lab");
    assert_eq!(sys["product"], spec().product.as_str());
    assert_eq!(sys["version"], "1.2");
    assert_eq!(sys["serial"], spec().serial.as_str());
    assert_eq!(sys["sku"], "SKU-7");
    assert_eq!(sys["family"], "Ingot Family");
    assert_eq!(sys["type"], "virtual-machine");
    assert_eq!(
        sys["firmware"],
        serde_json::json!({"vendor": "Ingot Firmware", "date": "01/02/2025", "version": "9.9.9"})
    );
    assert_eq!(
        sys["motherboard"],
        serde_json::json!({"vendor": "Ingot Boards", "product": "MB-1", "serial": "MB-SERIAL-1", "version": "rev2"})
    );
    assert_eq!(sys["chassis"]["vendor"], "Ingot Chassis");
    assert_eq!(sys["chassis"]["serial"], "CH-SERIAL-9");
    assert_eq!(sys["chassis"]["version"], "c1");
    assert_eq!(sys["chassis"]["type"], "Other", "QEMU's chassis type 1");

    // PCI: the controllers the disks and NICs hang off are among the devices.
    let pci: Vec<&str> = r["pci"]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["pci_address"].as_str().unwrap())
        .collect();
    for d in list.iter().chain(cards.iter()) {
        let a = d["pci_address"].as_str().unwrap();
        assert!(pci.contains(&a), "{a} not in {pci:?}\n{}", pretty());
    }
}

/// What the region derives from this VM's capture (unusual disks: NVMe, SATA, virtio-scsi):
/// exactly what QEMU was told.
fn derived(doc: &Value) {
    let inv = ingot_core::inventory::derive(doc.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("the region cannot derive the VM's document: {e}"));
    assert_eq!(inv.cpu_count, spec().cpus);
    assert_eq!(inv.memory, spec().mem_mib);
    assert_eq!(inv.metadata.get("system_product"), Some(&spec().product));
    assert_eq!(inv.metadata.get("system_serial"), Some(&spec().serial));
    assert_eq!(inv.architecture.as_deref(), Some("amd64/generic"));
    assert!(inv.is_virtual);
    assert_eq!(
        inv.metadata.get("system_vendor").map(String::as_str),
        Some("Ingot Test Lab")
    );
    let mut got: Vec<(String, u64)> = inv
        .block_devices
        .iter()
        .map(|b| (b.serial.clone(), b.size))
        .collect();
    got.sort();
    let mut want: Vec<(String, u64)> = disks()
        .iter()
        .map(|(s, n, _)| (s.to_string(), *n))
        .collect();
    want.sort();
    assert_eq!(got, want, "{:#?}", inv.block_devices);
    let sata = inv
        .block_devices
        .iter()
        .find(|b| b.serial == "SATASERIAL3")
        .unwrap();
    assert!(sata.tags.contains(&"sata".to_string()), "{:?}", sata.tags);
    let nvme = inv
        .block_devices
        .iter()
        .find(|b| b.serial == "NVMESERIAL2")
        .unwrap();
    assert!(nvme.tags.contains(&"ssd".to_string()), "{:?}", nvme.tags);
    for mac in [MAC_VIRTIO, MAC_E1000] {
        assert!(
            inv.interfaces.iter().any(|i| i.mac == mac),
            "{mac}: {:?}",
            inv.interfaces
        );
    }
}

#[test]
fn document_is_found_between_markers_on_a_noisy_console() {
    let serial = format!(
        "ingot: starting ingot-agent\r\n[    1.0] random kernel line\r\n{BEGIN}\r\n{{\"a\":1}}\r\n{END}\r\nreboot: Power down\r\n"
    );
    assert_eq!(document(&serial), Some(serde_json::json!({"a": 1})));
    assert_eq!(document("nothing here"), None);
}
