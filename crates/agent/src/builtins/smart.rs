//! `smartctl-validate`: each disk's SMART health, asked of the disk itself — ATA disks
//! (SATA, and USB bridges that translate) with SG_IO ATA PASS-THROUGH(16) SMART RETURN
//! STATUS, NVMe with the admin Get Log Page SMART/Health (critical warning), other SCSI disks
//! with the Informational Exceptions log page. A disk without SMART (virtio, MMC, a SCSI disk
//! without the log page) is reported as such; when no disk has SMART the result is
//! `status: skipped` with the reasons — never a pass nothing earned. Read-only: no command
//! here changes the disk.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde_json::json;

use super::{Ctx, Done, Out};

/// What a disk said about its health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Passed(String),
    Failed(String),
    /// The disk has no SMART this agent can read (why).
    Unavailable(String),
}

const SG_IO: libc::c_ulong = 0x2285;
const SG_DXFER_NONE: i32 = -1;
const SG_DXFER_FROM_DEV: i32 = -3;

#[repr(C)]
struct SgIoHdr {
    interface_id: i32,
    dxfer_direction: i32,
    cmd_len: u8,
    mx_sb_len: u8,
    iovec_count: u16,
    dxfer_len: u32,
    dxferp: *mut libc::c_void,
    cmdp: *const u8,
    sbp: *mut u8,
    timeout: u32,
    flags: u32,
    pack_id: i32,
    usr_ptr: *mut libc::c_void,
    status: u8,
    masked_status: u8,
    msg_status: u8,
    sb_len_wr: u8,
    host_status: u16,
    driver_status: u16,
    resid: i32,
    duration: u32,
    info: u32,
}

/// What an SG_IO command gave: SCSI status, sense data, transport errors.
struct SgResult {
    status: u8,
    sense: Vec<u8>,
    host_status: u16,
    driver_status: u16,
}

fn sg_io(f: &File, cdb: &[u8], data: Option<&mut [u8]>) -> std::io::Result<SgResult> {
    let mut sense = [0u8; 64];
    let (dir, ptr, len) = match data {
        Some(d) => (
            SG_DXFER_FROM_DEV,
            d.as_mut_ptr() as *mut libc::c_void,
            d.len(),
        ),
        None => (SG_DXFER_NONE, std::ptr::null_mut(), 0),
    };
    let mut h = SgIoHdr {
        interface_id: i32::from(b'S'),
        dxfer_direction: dir,
        cmd_len: u8::try_from(cdb.len()).unwrap_or(16),
        mx_sb_len: sense.len() as u8,
        iovec_count: 0,
        dxfer_len: u32::try_from(len).unwrap_or(0),
        dxferp: ptr,
        cmdp: cdb.as_ptr(),
        sbp: sense.as_mut_ptr(),
        timeout: 20_000,
        flags: 0,
        pack_id: 0,
        usr_ptr: std::ptr::null_mut(),
        status: 0,
        masked_status: 0,
        msg_status: 0,
        sb_len_wr: 0,
        host_status: 0,
        driver_status: 0,
        resid: 0,
        duration: 0,
        info: 0,
    };
    // SAFETY: the header points at buffers (cdb, sense, data) that outlive the call, with
    // their true lengths.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), SG_IO as _, &mut h as *mut SgIoHdr) };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let n = usize::from(h.sb_len_wr).min(sense.len());
    Ok(SgResult {
        status: h.status,
        sense: sense[..n].to_vec(),
        host_status: h.host_status,
        driver_status: h.driver_status,
    })
}

/// The sense key of fixed or descriptor sense data.
pub fn sense_key(sense: &[u8]) -> Option<u8> {
    match sense.first()? & 0x7f {
        0x70 | 0x71 => Some(sense.get(2)? & 0x0f),
        0x72 | 0x73 => Some(sense.get(1)? & 0x0f),
        _ => None,
    }
}

/// The ATA registers a pass-through returned: (error, lba_mid, lba_high, status), from an
/// ATA Status Return descriptor (descriptor sense) or the fixed-format fields.
pub fn ata_registers(sense: &[u8]) -> Option<(u8, u8, u8, u8)> {
    match sense.first()? & 0x7f {
        0x72 | 0x73 => {
            let total = 8 + usize::from(*sense.get(7)?);
            let mut i = 8;
            while i + 1 < total.min(sense.len()) {
                let (t, l) = (sense[i], usize::from(sense[i + 1]));
                if t == 0x09 && l >= 12 {
                    let d = sense.get(i..i + 14)?;
                    return Some((d[3], d[9], d[11], d[13]));
                }
                i += 2 + l;
            }
            None
        }
        0x70 | 0x71 => Some((
            *sense.get(3)?,
            *sense.get(10)?,
            *sense.get(11)?,
            *sense.get(4)?,
        )),
        _ => None,
    }
}

/// The health an ATA SMART RETURN STATUS answer means.
pub fn ata_verdict(regs: Option<(u8, u8, u8, u8)>, key: Option<u8>) -> Health {
    match regs {
        Some((err, _, _, status)) if status & 0x01 != 0 => Health::Unavailable(format!(
            "SMART RETURN STATUS was aborted (ATA error {err:#04x}): SMART disabled or not supported"
        )),
        Some((_, 0x4f, 0xc2, _)) => Health::Passed("SMART RETURN STATUS: passed".into()),
        Some((_, 0xf4, 0x2c, _)) => Health::Failed("SMART RETURN STATUS: threshold exceeded".into()),
        Some((_, mid, high, _)) => Health::Unavailable(format!(
            "SMART RETURN STATUS gave unexpected registers {mid:#04x}/{high:#04x}"
        )),
        None => Health::Unavailable(match key {
            Some(5) => "the device refuses ATA pass-through (not an ATA disk)".into(),
            Some(k) => format!("no ATA registers returned (sense key {k:#x})"),
            None => "no ATA registers returned".into(),
        }),
    }
}

/// ATA PASS-THROUGH(16), non-data, CK_COND: SMART RETURN STATUS (B0h/DAh, LBA 0xC24F00).
pub fn ata_smart(f: &File) -> Health {
    let cdb: [u8; 16] = [
        0x85, 0x06, 0x20, 0, 0xda, 0, 0, 0, 0, 0, 0x4f, 0, 0xc2, 0, 0xb0, 0,
    ];
    match sg_io(f, &cdb, None) {
        Err(e) => Health::Unavailable(format!("SG_IO failed: {e}")),
        Ok(r) if r.host_status != 0 || ((r.driver_status & 0x0f) != 0 && r.sense.is_empty()) => {
            Health::Unavailable(format!(
                "transport error (host {:#x}, driver {:#x})",
                r.host_status, r.driver_status
            ))
        }
        Ok(r) => ata_verdict(ata_registers(&r.sense), sense_key(&r.sense)),
    }
}

/// The Informational Exceptions log page (2Fh): ASC/ASCQ of the first parameter.
pub fn ie_verdict(page: &[u8]) -> Health {
    if page.first().map(|b| b & 0x3f) != Some(0x2f) || page.len() < 10 {
        return Health::Unavailable("no informational exceptions log page".into());
    }
    let (asc, ascq) = (page[8], page[9]);
    if asc == 0 {
        Health::Passed("informational exceptions: none".into())
    } else {
        Health::Failed(format!(
            "informational exception ASC {asc:#04x} ASCQ {ascq:#04x} (failure predicted)"
        ))
    }
}

/// LOG SENSE, page 2Fh, current cumulative values.
pub fn scsi_ie(f: &File) -> Health {
    let cdb: [u8; 10] = [0x4d, 0, 0x40 | 0x2f, 0, 0, 0, 0, 0, 0xfc, 0];
    let mut page = [0u8; 252];
    match sg_io(f, &cdb, Some(&mut page)) {
        Err(e) => Health::Unavailable(format!("SG_IO failed: {e}")),
        Ok(r) if r.status != 0 => Health::Unavailable(match sense_key(&r.sense) {
            Some(5) => "the disk has no informational exceptions log page".into(),
            k => format!(
                "LOG SENSE failed (SCSI status {:#x}, sense key {k:?})",
                r.status
            ),
        }),
        Ok(r) if r.host_status != 0 => {
            Health::Unavailable(format!("transport error (host {:#x})", r.host_status))
        }
        Ok(_) => ie_verdict(&page),
    }
}

#[repr(C)]
struct NvmeAdminCmd {
    opcode: u8,
    flags: u8,
    rsvd1: u16,
    nsid: u32,
    cdw2: u32,
    cdw3: u32,
    metadata: u64,
    addr: u64,
    metadata_len: u32,
    data_len: u32,
    cdw10: u32,
    cdw11: u32,
    cdw12: u32,
    cdw13: u32,
    cdw14: u32,
    cdw15: u32,
    timeout_ms: u32,
    result: u32,
}

/// `_IOWR('N', 0x41, struct nvme_admin_cmd)`.
const NVME_IOCTL_ADMIN_CMD: libc::c_ulong = 0xC048_4E41;

/// The SMART / Health Information log (02h): critical warning and a few counters.
pub fn nvme_verdict(log: &[u8]) -> Health {
    if log.len() < 176 {
        return Health::Unavailable("short SMART log".into());
    }
    let warning = log[0];
    let temp_k = u16::from_le_bytes([log[1], log[2]]);
    let used = log[5];
    let media_errors = u128::from_le_bytes(log[160..176].try_into().unwrap_or([0; 16]));
    let detail = format!(
        "critical warning {warning:#04x}, temperature {} °C, {used}% used, {media_errors} media error(s)",
        i32::from(temp_k) - 273
    );
    if warning == 0 {
        Health::Passed(detail)
    } else {
        let mut why = Vec::new();
        for (bit, what) in [
            (0, "spare below threshold"),
            (1, "temperature out of range"),
            (2, "reliability degraded"),
            (3, "read-only"),
            (4, "volatile backup failed"),
            (5, "persistent memory read-only"),
        ] {
            if warning & (1 << bit) != 0 {
                why.push(what);
            }
        }
        Health::Failed(format!("{detail}: {}", why.join(", ")))
    }
}

/// Get Log Page 02h (SMART / Health), all namespaces.
pub fn nvme_health(f: &File) -> Health {
    let mut log = [0u8; 512];
    let mut cmd = NvmeAdminCmd {
        opcode: 0x02,
        flags: 0,
        rsvd1: 0,
        nsid: 0xffff_ffff,
        cdw2: 0,
        cdw3: 0,
        metadata: 0,
        addr: log.as_mut_ptr() as u64,
        metadata_len: 0,
        data_len: log.len() as u32,
        cdw10: 0x02 | ((log.len() as u32 / 4 - 1) << 16),
        cdw11: 0,
        cdw12: 0,
        cdw13: 0,
        cdw14: 0,
        cdw15: 0,
        timeout_ms: 20_000,
        result: 0,
    };
    // SAFETY: the command points at `log`, which outlives the call, with its length.
    let r = unsafe {
        libc::ioctl(
            f.as_raw_fd(),
            NVME_IOCTL_ADMIN_CMD as _,
            &mut cmd as *mut NvmeAdminCmd,
        )
    };
    if r < 0 {
        return Health::Unavailable(format!(
            "NVMe admin command failed: {}",
            std::io::Error::last_os_error()
        ));
    }
    if r > 0 {
        return Health::Unavailable(format!(
            "the controller refused Get Log Page (status {r:#x})"
        ));
    }
    nvme_verdict(&log)
}

/// `nvme0n1` -> `nvme0` (the controller).
pub fn nvme_controller(name: &str) -> Option<String> {
    let rest = name.strip_prefix("nvme")?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    (!digits.is_empty()).then(|| format!("nvme{digits}"))
}

fn open_ro(p: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(p)
}

/// Which way to ask a disk of this kind (`virtio`, `sata`, `nvme`, `scsi`, `usb`, ...).
pub fn check(dev: &Path, name: &str, kind: &str, vendor_is_ata: bool) -> Health {
    let open_disk = || open_ro(&dev.join(name));
    match kind {
        "nvme" => {
            let ctrl = nvme_controller(name)
                .map(|c| dev.join(c))
                .filter(|p| p.exists());
            match ctrl.map(|p| open_ro(&p)).unwrap_or_else(open_disk) {
                Ok(f) => nvme_health(&f),
                Err(e) => Health::Unavailable(format!("cannot open the NVMe device: {e}")),
            }
        }
        "sata" | "scsi" | "usb" => match open_disk() {
            Err(e) => Health::Unavailable(format!("cannot open /dev/{name}: {e}")),
            Ok(f) => {
                if kind == "sata" || vendor_is_ata || kind == "usb" {
                    let h = ata_smart(&f);
                    if !matches!(h, Health::Unavailable(_)) || kind == "sata" {
                        return h;
                    }
                }
                scsi_ie(&f)
            }
        },
        "virtio" => Health::Unavailable("a virtio disk has no SMART".into()),
        "" => Health::Unavailable("unknown disk type: no SMART".into()),
        other => Health::Unavailable(format!("a {other} disk has no SMART")),
    }
}

pub fn run(ctx: &Ctx, out: &mut Out) -> Done {
    let disks: Vec<_> = crate::resources::disks(&ctx.roots)
        .into_iter()
        .filter(|d| d.kind != "cdrom")
        .collect();
    if disks.is_empty() {
        return Done::skipped("no disks", out);
    }
    let mut list = Vec::new();
    let (mut passed, mut failed, mut reasons) = (0, 0, Vec::new());
    for d in &disks {
        let vendor = std::fs::read_to_string(
            ctx.roots
                .sys
                .join("class/block")
                .join(&d.id)
                .join("device/vendor"),
        )
        .unwrap_or_default();
        let h = check(&ctx.roots.dev, &d.id, &d.kind, vendor.trim() == "ATA");
        let (smart, detail) = match &h {
            Health::Passed(s) => {
                passed += 1;
                ("passed", s.clone())
            }
            Health::Failed(s) => {
                failed += 1;
                ("failed", s.clone())
            }
            Health::Unavailable(s) => {
                reasons.push(format!("{}: {s}", d.id));
                ("unavailable", s.clone())
            }
        };
        out.line(format!(
            "{} ({}{}): SMART {smart}: {detail}",
            d.id,
            d.kind,
            if d.model.is_empty() {
                String::new()
            } else {
                format!(", {}", d.model)
            }
        ));
        list.push(json!({"name": d.id, "type": d.kind, "model": d.model, "serial": d.serial, "smart": smart, "detail": detail}));
    }
    let mut result = json!({"disks": list});
    if passed == 0 && failed == 0 {
        result["status"] = json!("skipped");
        result["reason"] = json!(format!("no disk with SMART: {}", reasons.join("; ")));
        out.line("no disk has SMART: skipped");
    }
    Done::with(i32::from(failed > 0), result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_layouts_match_the_kernel() {
        assert_eq!(std::mem::size_of::<NvmeAdminCmd>(), 72);
        #[cfg(target_pointer_width = "64")]
        assert_eq!(std::mem::size_of::<SgIoHdr>(), 88);
    }

    #[test]
    fn ata_status_from_descriptor_and_fixed_sense() {
        // Descriptor sense, RECOVERED ERROR / ATA PASS THROUGH INFORMATION AVAILABLE, with an
        // ATA Status Return descriptor: LBA mid/high 4Fh/C2h = healthy.
        let mut d = vec![0x72, 0x01, 0x00, 0x1d, 0, 0, 0, 14];
        d.extend_from_slice(&[0x09, 0x0c, 0, 0x00, 0, 0, 0, 0, 0, 0x4f, 0, 0xc2, 0, 0x50]);
        assert_eq!(sense_key(&d), Some(1));
        assert_eq!(ata_registers(&d), Some((0, 0x4f, 0xc2, 0x50)));
        assert!(matches!(
            ata_verdict(ata_registers(&d), sense_key(&d)),
            Health::Passed(_)
        ));
        // F4h/2Ch: threshold exceeded.
        d[8 + 9] = 0xf4;
        d[8 + 11] = 0x2c;
        assert!(matches!(
            ata_verdict(ata_registers(&d), None),
            Health::Failed(_)
        ));
        // Aborted: SMART disabled.
        d[8 + 13] = 0x51;
        d[8 + 3] = 0x04;
        assert!(matches!(
            ata_verdict(ata_registers(&d), None),
            Health::Unavailable(_)
        ));
        // Fixed format (valid bit set).
        let mut f = vec![0u8; 18];
        f[0] = 0xf0;
        f[2] = 0x01;
        f[4] = 0x50;
        f[10] = 0x4f;
        f[11] = 0xc2;
        assert_eq!(ata_registers(&f), Some((0, 0x4f, 0xc2, 0x50)));
        // ILLEGAL REQUEST, no ATA descriptor: not an ATA disk.
        let ill = [0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0];
        let h = ata_verdict(
            ata_registers(&[0x72, 0x05, 0x20, 0, 0, 0, 0, 0]),
            sense_key(&ill),
        );
        assert_eq!(
            h,
            Health::Unavailable("the device refuses ATA pass-through (not an ATA disk)".into())
        );
        assert!(ata_registers(&[]).is_none());
    }

    #[test]
    fn nvme_critical_warning() {
        let mut log = [0u8; 512];
        log[1..3].copy_from_slice(&310u16.to_le_bytes());
        log[5] = 3;
        match nvme_verdict(&log) {
            Health::Passed(s) => assert!(s.contains("37 °C") && s.contains("3% used"), "{s}"),
            h => panic!("{h:?}"),
        }
        log[0] = 0b101;
        match nvme_verdict(&log) {
            Health::Failed(s) => assert!(
                s.contains("spare below threshold, reliability degraded"),
                "{s}"
            ),
            h => panic!("{h:?}"),
        }
        assert_eq!(nvme_controller("nvme0n1").as_deref(), Some("nvme0"));
        assert_eq!(nvme_controller("nvme12n3").as_deref(), Some("nvme12"));
        assert_eq!(nvme_controller("sda"), None);
    }

    #[test]
    fn informational_exceptions_page() {
        let mut p = [0u8; 16];
        p[0] = 0x2f;
        assert!(matches!(ie_verdict(&p), Health::Passed(_)));
        p[8] = 0x5d;
        assert!(matches!(ie_verdict(&p), Health::Failed(_)));
        assert!(matches!(ie_verdict(&[0u8; 16]), Health::Unavailable(_)));
    }

    #[test]
    fn virtio_disks_are_skipped_with_the_reason() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let dev = r.join("sys/devices/pci0000:00/0000:00:05.0/virtio3");
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::create_dir_all(r.join("sys/bus/virtio")).unwrap();
        std::os::unix::fs::symlink(r.join("sys/bus/virtio"), dev.join("subsystem")).unwrap();
        let blk = r.join("sys/class/block/vda");
        std::fs::create_dir_all(&blk).unwrap();
        std::os::unix::fs::symlink(&dev, blk.join("device")).unwrap();
        std::fs::write(blk.join("size"), "2097152\n").unwrap();
        let ctx = super::super::info::tests::ctx(r);
        let mut o = Out::default();
        let d = run(&ctx, &mut o);
        assert_eq!(d.exit, 0);
        let res = d.result.unwrap();
        assert_eq!(res["status"], "skipped", "{res}");
        assert!(res["reason"]
            .as_str()
            .unwrap()
            .contains("vda: a virtio disk has no SMART"));
        assert_eq!(res["disks"][0]["smart"], "unavailable");
        let none = tempfile::tempdir().unwrap();
        let d = run(
            &super::super::info::tests::ctx(none.path()),
            &mut Out::default(),
        );
        assert_eq!(d.result.unwrap()["reason"], "no disks");
    }
}
