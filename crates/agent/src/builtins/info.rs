//! The read-only commissioning built-ins: the hardware inventory, firmware, kernel command
//! line, modaliases, network interfaces, serial ports, support information and virtuality.

use std::fs;
use std::path::Path;

use serde_json::{json, Value};

use super::{Ctx, Done, Out};
use crate::resources;

fn read_trim(p: &Path) -> Option<String> {
    let s = fs::read_to_string(p).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn link_name(p: &Path) -> Option<String> {
    fs::read_link(p)
        .ok()?
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
}

/// `50-maas-01-commissioning`: the machine-resources document (LXD resources format) on
/// stdout, also written to `$MAAS_RESOURCES_FILE` for the scripts after it.
pub fn commissioning(ctx: &Ctx, out: &mut Out) -> Done {
    let doc = resources::gather(&ctx.roots);
    let json = match serde_json::to_string(&doc) {
        Ok(j) => j,
        Err(e) => {
            out.eline(format!("cannot encode the inventory: {e}"));
            return Done::failed();
        }
    };
    if let Some(f) = &ctx.resources_file {
        if let Err(e) = fs::write(f, &json) {
            out.eline(format!("cannot write {}: {e}", f.display()));
            out.line(&json);
            return Done::failed();
        }
    }
    out.line(&json);
    Done::ok()
}

/// The command line with the machine's token secret blanked (the output is stored with the
/// results, readable by more people than the token should be).
pub fn redact_token(cmdline: &str) -> String {
    cmdline
        .split(' ')
        .map(|w| match w.strip_prefix("ingot.token=") {
            Some(v) => match v.rsplit_once(':') {
                Some((keys, _)) => format!("ingot.token={keys}:REDACTED"),
                None => "ingot.token=REDACTED".to_string(),
            },
            None => w.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `maas-kernel-cmdline`: the kernel command line, verbatim but for the token secret (the
/// region reads BOOTIF).
pub fn kernel_cmdline(ctx: &Ctx, out: &mut Out) -> Done {
    out.line(redact_token(ctx.cmdline.trim_end_matches('\n')));
    Done::ok()
}

/// `maas-list-modaliases`: every device's modalias, sorted.
pub fn modaliases(ctx: &Ctx, out: &mut Out) -> Done {
    let all = crate::hardware::modaliases(&ctx.roots.sys);
    if all.is_empty() {
        out.eline(format!(
            "no modalias under {}/bus/*/devices",
            ctx.roots.sys.display()
        ));
    }
    for m in all {
        out.line(m);
    }
    Done::ok()
}

/// `maas-firmware-info`: BIOS/UEFI, system, mainboard and chassis from DMI, as YAML.
pub fn firmware(ctx: &Ctx, out: &mut Out) -> Done {
    let s = resources::system_info(&ctx.roots);
    let interface = if ctx.roots.sys.join("firmware/efi").exists() {
        "uefi"
    } else {
        "bios"
    };
    let doc = json!({
        "firmware": {"interface": interface, "vendor": s.firmware.vendor,
                     "version": s.firmware.version, "date": s.firmware.date},
        "system": {"vendor": s.vendor, "product": s.product, "family": s.family,
                   "version": s.version, "sku": s.sku, "serial": s.serial, "uuid": s.uuid},
        "mainboard": {"vendor": s.motherboard.vendor, "product": s.motherboard.product,
                      "version": s.motherboard.version, "serial": s.motherboard.serial},
        "chassis": {"vendor": s.chassis.vendor, "type": s.chassis.kind,
                    "version": s.chassis.version, "serial": s.chassis.serial},
    });
    if !ctx.roots.sys.join("class/dmi/id").exists() {
        out.line(format!(
            "# no DMI/SMBIOS information ({}/class/dmi/id is absent)",
            ctx.roots.sys.display()
        ));
    }
    out.line(crate::yaml::to_yaml(&doc).trim_end());
    Done::ok()
}

/// `maas-network-interfaces`: every interface with its MAC, state, MTU, driver and addresses.
pub fn network_interfaces(ctx: &Ctx, out: &mut Out) -> Done {
    let net = ctx.roots.sys.join("class/net");
    let addrs = if ctx.roots.kernel_probes {
        resources::netstate::getifaddrs()
    } else {
        Vec::new()
    };
    let mut list = Vec::new();
    for name in names(&net) {
        let d = net.join(&name);
        let driver = link_name(&d.join("device/driver")).unwrap_or_else(|| "(virtual)".to_string());
        let addresses: Vec<String> = addrs
            .iter()
            .filter(|a| a.interface == name)
            .map(|a| format!("{}/{}", a.address, a.prefix))
            .collect();
        list.push(json!({
            "name": name,
            "mac": read_trim(&d.join("address")).unwrap_or_default(),
            "state": read_trim(&d.join("operstate")).unwrap_or_else(|| "unknown".into()),
            "carrier": read_trim(&d.join("carrier")).map(|c| c == "1"),
            "mtu": read_trim(&d.join("mtu")).and_then(|m| m.parse::<u64>().ok()),
            "driver": driver,
            "addresses": addresses,
        }));
    }
    if list.is_empty() {
        out.line("# no network interfaces");
    } else {
        out.line(crate::yaml::to_yaml(&Value::Array(list)).trim_end());
    }
    Done::ok()
}

/// The kernel's serial UART types (`include/uapi/linux/serial_core.h`, `PORT_*`).
fn uart_name(t: u64) -> &'static str {
    match t {
        0 => "unknown",
        1 => "8250",
        2 => "16450",
        3 => "16550",
        4 => "16550A",
        5 => "Cirrus",
        6 => "16650",
        7 => "16650V2",
        8 => "16750",
        9 => "Startech",
        10 => "16C950",
        11 => "16654",
        12 => "16850",
        13 => "RSA",
        14 => "NS16550A",
        15 => "XScale",
        _ => "other",
    }
}

/// `maas-serial-ports`: the tty devices with hardware behind them, with their type.
pub fn serial_ports(ctx: &Ctx, out: &mut Out) -> Done {
    let tty = ctx.roots.sys.join("class/tty");
    let mut list = Vec::new();
    for name in names(&tty) {
        let d = tty.join(&name);
        if fs::symlink_metadata(d.join("device")).is_err() {
            continue;
        }
        let driver = link_name(&d.join("device/driver")).unwrap_or_default();
        let uart = read_trim(&d.join("type")).and_then(|t| t.parse::<u64>().ok());
        let kind = if name.starts_with("ttyUSB") {
            "usb-serial".to_string()
        } else if name.starts_with("ttyACM") {
            "usb-acm".to_string()
        } else if let Some(t) = uart {
            if t == 0 {
                "uart (none detected)".to_string()
            } else {
                format!("uart {}", uart_name(t))
            }
        } else if driver.is_empty() {
            "serial".to_string()
        } else {
            driver.clone()
        };
        let mut entry = json!({"name": name, "type": kind, "driver": driver});
        if let Some(port) = read_trim(&d.join("port")) {
            entry["port"] = json!(port);
        }
        if let Some(irq) = read_trim(&d.join("irq")) {
            entry["irq"] = json!(irq);
        }
        list.push(entry);
    }
    if list.is_empty() {
        out.line("# no serial ports");
    } else {
        out.line(crate::yaml::to_yaml(&Value::Array(list)).trim_end());
    }
    Done::ok()
}

/// `maas-support-info`: kernel, agent version, uptime, loaded modules and the like.
pub fn support(ctx: &Ctx, out: &mut Out) -> Done {
    let proc = &ctx.roots.proc;
    let uptime = read_trim(&proc.join("uptime"))
        .and_then(|u| u.split_whitespace().next()?.parse::<f64>().ok())
        .map(|s| {
            let s = s as u64;
            format!(
                "{}d {:02}:{:02}:{:02}",
                s / 86400,
                (s / 3600) % 24,
                (s / 60) % 60,
                s % 60
            )
        });
    let mut modules: Vec<String> = fs::read_to_string(proc.join("modules"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect();
    modules.sort();
    let os = resources::os_release(&ctx.roots.root);
    let doc = json!({
        "agent": format!("ingot-agent {}", env!("CARGO_PKG_VERSION")),
        "kernel": read_trim(&proc.join("version")).unwrap_or_default(),
        "os": os.get("PRETTY_NAME").cloned().unwrap_or_default(),
        "architecture": crate::inventory::uname_machine(),
        "uptime": uptime,
        "load_average": read_trim(&proc.join("loadavg")).unwrap_or_default(),
        "ephemeral_environment": ctx.ephemeral,
        "cmdline": redact_token(ctx.cmdline.trim()),
        "modules": modules,
    });
    out.line(crate::yaml::to_yaml(&doc).trim_end());
    Done::ok()
}

/// What hypervisor a CPUID signature (leaf 0x40000000) names (systemd-detect-virt's ids).
pub fn hypervisor_of_cpuid(sig: &str) -> Option<&'static str> {
    Some(match sig.trim_end_matches('\0') {
        "KVMKVMKVM" => "kvm",
        "TCGTCGTCGTCG" => "qemu",
        "Microsoft Hv" => "microsoft",
        "VMwareVMware" => "vmware",
        "XenVMMXenVMM" => "xen",
        "bhyve bhyve " => "bhyve",
        "ACRNACRNACRN" => "acrn",
        " lrpepyh  vr" => "parallels",
        "VBoxVBoxVBox" => "oracle",
        "QNXQVMBSQG" => "qnx",
        "SRESRESRESRE" => "sre",
        "Linux KVM Hv" => "kvm",
        "Apple VZ" | "Apple" => "apple",
        _ => return None,
    })
}

/// What hypervisor DMI names (sys_vendor, product_name, board_vendor, bios_vendor).
pub fn hypervisor_of_dmi(sys: &Path) -> Option<&'static str> {
    let dmi = sys.join("class/dmi/id");
    let f = |n: &str| read_trim(&dmi.join(n)).unwrap_or_default();
    let (vendor, product, board, bios) = (
        f("sys_vendor"),
        f("product_name"),
        f("board_vendor"),
        f("bios_vendor"),
    );
    for v in [&vendor, &board, &bios, &product] {
        let id = match v.as_str() {
            s if s.starts_with("KVM") => "kvm",
            s if s.starts_with("Amazon EC2") => "amazon",
            s if s.starts_with("QEMU") => "qemu",
            s if s.starts_with("VMware") || s.starts_with("VMW") => "vmware",
            s if s.starts_with("innotek GmbH")
                || s.starts_with("VirtualBox")
                || s.starts_with("Oracle Corporation") =>
            {
                "oracle"
            }
            s if s.starts_with("Xen") => "xen",
            s if s.starts_with("Bochs") => "bochs",
            s if s.starts_with("Parallels") => "parallels",
            s if s.starts_with("BHYVE") => "bhyve",
            s if s.starts_with("Hyper-V") => "microsoft",
            s if s.starts_with("Google") && product.starts_with("Google Compute Engine") => {
                "google"
            }
            "Microsoft Corporation" if product == "Virtual Machine" => "microsoft",
            _ => continue,
        };
        return Some(id);
    }
    None
}

/// The container (if any) the agent runs in, with the evidence.
pub fn container(root: &Path, proc: &Path) -> Option<(String, String)> {
    if root.join(".dockerenv").exists() {
        return Some(("docker".into(), "/.dockerenv exists".into()));
    }
    if root.join("run/.containerenv").exists() {
        return Some(("podman".into(), "/run/.containerenv exists".into()));
    }
    if let Some(c) = read_trim(&root.join("run/systemd/container")) {
        return Some((c, "/run/systemd/container".into()));
    }
    if let Ok(env) = fs::read(proc.join("1/environ")) {
        for kv in env.split(|b| *b == 0) {
            if let Some(v) = kv.strip_prefix(b"container=") {
                if !v.is_empty() {
                    return Some((
                        String::from_utf8_lossy(v).into_owned(),
                        "container= in PID 1's environment".into(),
                    ));
                }
            }
        }
    }
    if read_trim(&proc.join("sys/kernel/osrelease"))
        .is_some_and(|r| r.to_ascii_lowercase().contains("microsoft"))
    {
        return Some(("wsl".into(), "a Microsoft kernel release".into()));
    }
    if proc.join("vz").exists() && !proc.join("bc").exists() {
        return Some(("openvz".into(), "/proc/vz without /proc/bc".into()));
    }
    None
}

/// The CPUID hypervisor signature, when the hypervisor bit is set (x86 only).
pub fn cpuid_signature() -> Option<String> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::__cpuid;
        #[allow(unused_unsafe)]
        // SAFETY: CPUID exists on every x86_64 CPU; leaf 0x40000000 is only read when the
        // hypervisor bit says a hypervisor answers it.
        let (present, regs) = unsafe {
            let l1 = __cpuid(1);
            let present = l1.ecx & (1 << 31) != 0;
            (present, __cpuid(0x4000_0000))
        };
        if !present {
            return None;
        }
        let mut b = Vec::with_capacity(12);
        for r in [regs.ebx, regs.ecx, regs.edx] {
            b.extend_from_slice(&r.to_le_bytes());
        }
        Some(String::from_utf8_lossy(&b).into_owned())
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// The decision, given the signals (systemd-detect-virt's order: DMI wins for Oracle, Xen
/// and Amazon, then CPUID, then DMI, then the cpuinfo `hypervisor` flag).
pub fn vm_of(
    dmi: Option<&'static str>,
    cpuid: Option<&str>,
    cpuinfo_hypervisor: bool,
) -> (String, String) {
    if let Some(d @ ("oracle" | "xen" | "amazon")) = dmi {
        return (d.into(), "DMI".into());
    }
    if let Some(sig) = cpuid {
        if let Some(h) = hypervisor_of_cpuid(sig) {
            return (
                h.into(),
                format!(
                    "CPUID hypervisor signature {:?}",
                    sig.trim_end_matches('\0')
                ),
            );
        }
    }
    if let Some(d) = dmi {
        return (d.into(), "DMI".into());
    }
    if let Some(sig) = cpuid {
        return (
            "vm-other".into(),
            format!("unknown CPUID hypervisor signature {sig:?}"),
        );
    }
    if cpuinfo_hypervisor {
        return ("vm-other".into(), "the hypervisor CPU flag".into());
    }
    (
        "none".into(),
        "no hypervisor signature, DMI or CPU flag".into(),
    )
}

/// `maas-virtuality`: `virtualization:` as systemd-detect-virt would answer (the container
/// when there is one, else the hypervisor, else `none`), then both parts and the evidence.
pub fn virtuality(ctx: &Ctx, out: &mut Out) -> Done {
    let cpuinfo_flag = fs::read_to_string(ctx.roots.proc.join("cpuinfo")).is_ok_and(|t| {
        t.lines().any(|l| {
            l.split_once(':').is_some_and(|(k, v)| {
                k.trim() == "flags" && v.split_whitespace().any(|f| f == "hypervisor")
            })
        })
    });
    let sig = if ctx.roots.kernel_probes {
        cpuid_signature()
    } else {
        None
    };
    let (vm, vm_why) = vm_of(
        hypervisor_of_dmi(&ctx.roots.sys),
        sig.as_deref(),
        cpuinfo_flag,
    );
    let cont = container(&ctx.roots.root, &ctx.roots.proc);
    let overall = cont
        .as_ref()
        .map(|(c, _)| c.clone())
        .unwrap_or_else(|| vm.clone());
    let mut evidence = vec![format!("vm: {vm_why}")];
    if let Some((_, why)) = &cont {
        evidence.push(format!("container: {why}"));
    }
    let doc = json!({
        "virtualization": overall,
        "vm": vm,
        "container": cont.map(|(c, _)| c).unwrap_or_else(|| "none".into()),
        "evidence": evidence,
    });
    out.line(crate::yaml::to_yaml(&doc).trim_end());
    Done::ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::PathBuf;

    pub(crate) fn ctx(dir: &Path) -> Ctx {
        Ctx {
            roots: resources::Roots {
                sys: dir.join("sys"),
                proc: dir.join("proc"),
                dev: dir.join("dev"),
                root: dir.to_path_buf(),
                kernel_probes: false,
            },
            cmdline: "console=ttyS0 BOOTIF=01-52-54-00-aa-bb-cc\n".into(),
            boot_mac: Some("52:54:00:aa:bb:cc".into()),
            ephemeral: false,
            resources_file: None,
            args: Vec::new(),
        }
    }

    fn w(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    fn ln(root: &Path, rel: &str, target: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        let t = root.join(target);
        fs::create_dir_all(&t).unwrap();
        std::os::unix::fs::symlink(t, p).unwrap();
    }

    #[test]
    fn kernel_cmdline_is_verbatim() {
        let t = tempfile::tempdir().unwrap();
        let mut o = Out::default();
        assert_eq!(kernel_cmdline(&ctx(t.path()), &mut o), Done::ok());
        assert_eq!(o.out, "console=ttyS0 BOOTIF=01-52-54-00-aa-bb-cc\n");
        assert_eq!(
            redact_token("a  ingot.token=ck:tk:secret BOOTIF=01-aa ingot.token=x"),
            "a  ingot.token=ck:tk:REDACTED BOOTIF=01-aa ingot.token=REDACTED"
        );
    }

    #[test]
    fn commissioning_prints_and_writes_the_resources_document() {
        let t = tempfile::tempdir().unwrap();
        let mut c = ctx(t.path());
        let file: PathBuf = t.path().join("resources.json");
        c.resources_file = Some(file.clone());
        w(t.path(), "proc/meminfo", "MemTotal: 1048576 kB\n");
        let mut o = Out::default();
        assert_eq!(commissioning(&c, &mut o), Done::ok());
        let printed: Value = serde_json::from_str(o.out.trim()).unwrap();
        let written: Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
        assert_eq!(printed, written);
        assert_eq!(printed["resources"]["memory"]["total"], 1073741824u64);
        // The region can read it.
        ingot_core::inventory::derive(o.out.trim().as_bytes()).unwrap();
        // An unwritable resources file fails the script.
        c.resources_file = Some(t.path().join("missing-dir/resources.json"));
        assert_eq!(commissioning(&c, &mut Out::default()).exit, 1);
    }

    #[test]
    fn firmware_reads_dmi() {
        let t = tempfile::tempdir().unwrap();
        for (f, v) in [
            ("bios_vendor", "SeaBIOS"),
            ("bios_version", "1.16.3"),
            ("bios_date", "04/01/2014"),
            ("sys_vendor", "QEMU"),
            ("product_name", "Standard PC (Q35 + ICH9, 2009)"),
            ("board_vendor", "ACME"),
            ("chassis_type", "1"),
        ] {
            w(
                t.path(),
                &format!("sys/class/dmi/id/{f}"),
                &format!("{v}\n"),
            );
        }
        let mut o = Out::default();
        firmware(&ctx(t.path()), &mut o);
        let v = ingot_core::scripts::parse_yaml(&o.out).unwrap();
        assert_eq!(v["firmware"]["vendor"], "SeaBIOS");
        assert_eq!(v["firmware"]["interface"], "bios");
        assert_eq!(v["firmware"]["date"], "04/01/2014");
        assert_eq!(v["system"]["product"], "Standard PC (Q35 + ICH9, 2009)");
        assert_eq!(v["mainboard"]["vendor"], "ACME");
        assert_eq!(v["chassis"]["type"], "Other");
        let empty = tempfile::tempdir().unwrap();
        let mut o = Out::default();
        assert_eq!(firmware(&ctx(empty.path()), &mut o), Done::ok());
        assert!(o.out.starts_with("# no DMI"), "{}", o.out);
    }

    #[test]
    fn interfaces_and_serial_ports_from_sysfs() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        w(r, "sys/class/net/eth0/address", "52:54:00:aa:bb:cc\n");
        w(r, "sys/class/net/eth0/operstate", "up\n");
        w(r, "sys/class/net/eth0/carrier", "1\n");
        w(r, "sys/class/net/eth0/mtu", "1500\n");
        ln(
            r,
            "sys/class/net/eth0/device",
            "sys/devices/pci0000:00/0000:00:03.0/virtio0",
        );
        ln(
            r,
            "sys/devices/pci0000:00/0000:00:03.0/virtio0/driver",
            "sys/bus/virtio/drivers/virtio_net",
        );
        w(r, "sys/class/net/lo/address", "00:00:00:00:00:00\n");
        w(r, "sys/class/net/lo/mtu", "65536\n");
        let mut o = Out::default();
        network_interfaces(&ctx(r), &mut o);
        let v = ingot_core::scripts::parse_yaml(&o.out).unwrap();
        assert_eq!(v[0]["name"], "eth0");
        assert_eq!(v[0]["driver"], "virtio_net");
        assert_eq!(v[0]["mtu"], 1500);
        assert_eq!(v[0]["carrier"], true);
        assert_eq!(v[1]["name"], "lo");
        assert_eq!(v[1]["driver"], "(virtual)");

        w(r, "sys/class/tty/ttyS0/type", "4\n");
        w(r, "sys/class/tty/ttyS0/port", "0x3F8\n");
        w(r, "sys/class/tty/ttyS0/irq", "4\n");
        ln(r, "sys/class/tty/ttyS0/device", "sys/devices/pnp0/00:04");
        ln(
            r,
            "sys/devices/pnp0/00:04/driver",
            "sys/bus/pnp/drivers/serial",
        );
        w(r, "sys/class/tty/ttyS1/type", "0\n");
        ln(
            r,
            "sys/class/tty/ttyS1/device",
            "sys/devices/platform/serial8250",
        );
        ln(r, "sys/class/tty/ttyUSB0/device", "sys/devices/usb1/1-1");
        w(r, "sys/class/tty/tty1/dev", "4:1\n");
        let mut o = Out::default();
        serial_ports(&ctx(r), &mut o);
        let v = ingot_core::scripts::parse_yaml(&o.out).unwrap();
        let a = v.as_array().unwrap();
        assert_eq!(
            a.len(),
            3,
            "virtual consoles are not serial ports: {}",
            o.out
        );
        assert_eq!(a[0]["type"], "uart 16550A");
        assert_eq!(a[0]["port"], "0x3F8");
        assert_eq!(a[1]["type"], "uart (none detected)");
        assert_eq!(a[2]["name"], "ttyUSB0");
        assert_eq!(a[2]["type"], "usb-serial");
    }

    #[test]
    fn support_info_lists_modules() {
        let t = tempfile::tempdir().unwrap();
        w(
            t.path(),
            "proc/modules",
            "virtio_net 61440 0 - Live 0x0\nahci 49152 1 - Live 0x0\n",
        );
        w(t.path(), "proc/uptime", "93784.51 1000.00\n");
        w(t.path(), "proc/version", "Linux version 6.1.0\n");
        let mut o = Out::default();
        support(&ctx(t.path()), &mut o);
        let v = ingot_core::scripts::parse_yaml(&o.out).unwrap();
        assert_eq!(v["modules"], json!(["ahci", "virtio_net"]));
        assert_eq!(v["uptime"], "1d 02:03:04");
        assert_eq!(v["kernel"], "Linux version 6.1.0");
        assert!(v["agent"].as_str().unwrap().starts_with("ingot-agent "));
        let mut c = ctx(t.path());
        c.cmdline = "ingot.token=a:b:secret".into();
        let mut o = Out::default();
        support(&c, &mut o);
        assert!(!o.out.contains("secret"), "{}", o.out);
    }

    #[test]
    fn virtuality_decisions() {
        assert_eq!(vm_of(None, None, false).0, "none");
        assert_eq!(vm_of(None, Some("KVMKVMKVM\0\0\0"), true).0, "kvm");
        assert_eq!(vm_of(Some("qemu"), Some("KVMKVMKVM\0\0\0"), true).0, "kvm");
        assert_eq!(vm_of(Some("qemu"), Some("TCGTCGTCGTCG"), true).0, "qemu");
        assert_eq!(
            vm_of(Some("oracle"), Some("KVMKVMKVM\0\0\0"), true).0,
            "oracle"
        );
        assert_eq!(vm_of(Some("vmware"), None, true).0, "vmware");
        assert_eq!(vm_of(None, Some("WhoKnows"), true).0, "vm-other");
        assert_eq!(vm_of(None, None, true).0, "vm-other");

        let t = tempfile::tempdir().unwrap();
        w(t.path(), "sys/class/dmi/id/sys_vendor", "VMware, Inc.\n");
        assert_eq!(hypervisor_of_dmi(&t.path().join("sys")), Some("vmware"));
        w(
            t.path(),
            "sys/class/dmi/id/sys_vendor",
            "Microsoft Corporation\n",
        );
        w(
            t.path(),
            "sys/class/dmi/id/product_name",
            "Virtual Machine\n",
        );
        assert_eq!(hypervisor_of_dmi(&t.path().join("sys")), Some("microsoft"));
        w(t.path(), "sys/class/dmi/id/sys_vendor", "Dell Inc.\n");
        w(
            t.path(),
            "sys/class/dmi/id/product_name",
            "PowerEdge R640\n",
        );
        assert_eq!(hypervisor_of_dmi(&t.path().join("sys")), None);

        assert_eq!(container(t.path(), &t.path().join("proc")), None);
        w(t.path(), "proc/1/environ", "HOME=/\0container=lxc\0");
        assert_eq!(
            container(t.path(), &t.path().join("proc")).unwrap().0,
            "lxc"
        );
        w(t.path(), ".dockerenv", "");
        assert_eq!(
            container(t.path(), &t.path().join("proc")).unwrap().0,
            "docker"
        );

        w(t.path(), "sys/class/dmi/id/sys_vendor", "QEMU\n");
        w(t.path(), "sys/class/dmi/id/product_name", "Standard PC\n");
        let mut o = Out::default();
        virtuality(&ctx(t.path()), &mut o);
        let v = ingot_core::scripts::parse_yaml(&o.out).unwrap();
        assert_eq!(v["virtualization"], "docker");
        assert_eq!(v["vm"], "qemu");
        assert_eq!(v["container"], "docker");
    }
}
