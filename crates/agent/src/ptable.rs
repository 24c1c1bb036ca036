//! Partition tables (MBR "msdos" and GPT), computed and encoded here without any tool: the
//! geometry (1 MiB alignment, "0 = the rest") and the on-disk bytes are pure functions, the
//! deploy executor writes them and asks the kernel to re-read the table.

use ingot_core::deploy::{PartitionFlag, PartitionTable};

pub const SECTOR: u64 = 512;
/// Partitions start on 1 MiB boundaries (2048 sectors), as parted and sfdisk place them.
pub const ALIGN: u64 = 2048;
/// Sectors a GPT needs at each end: the header plus 128 entries of 128 bytes (32 sectors).
const GPT_ENTRIES_SECTORS: u64 = 32;

/// One partition asked for: its number (from 1), size in bytes (0 = the rest) and flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub number: u32,
    pub size: u64,
    pub flag: Option<PartitionFlag>,
}

/// One partition placed on the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub number: u32,
    pub start: u64,
    pub sectors: u64,
    pub flag: Option<PartitionFlag>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PtableError {
    #[error("partition numbers must be 1, 2, 3... in order; got {0:?}")]
    Numbers(Vec<u32>),
    #[error("an msdos table holds at most 4 (primary) partitions, {0} asked for")]
    TooMany(usize),
    #[error("only the last partition may take the rest of the disk (size 0)")]
    RestNotLast,
    #[error("the partitions need {need} bytes but the disk has {have} usable")]
    TooBig { need: u64, have: u64 },
    #[error("the disk is too small for a partition table ({0} bytes)")]
    TinyDisk(u64),
}

fn round_up(v: u64, to: u64) -> u64 {
    v.div_ceil(to) * to
}

/// Places `wants` (numbered 1..n in order) on a disk of `disk_bytes`: each partition starts
/// on a 1 MiB boundary, sizes are rounded up to whole MiB, size 0 takes what is left (up to the
/// end of the disk, or to the backup GPT).
pub fn plan(
    table: PartitionTable,
    disk_bytes: u64,
    wants: &[Want],
) -> Result<Vec<Placed>, PtableError> {
    let numbers: Vec<u32> = wants.iter().map(|w| w.number).collect();
    if numbers
        .iter()
        .enumerate()
        .any(|(i, n)| *n as usize != i + 1)
    {
        return Err(PtableError::Numbers(numbers));
    }
    if table == PartitionTable::Msdos && wants.len() > 4 {
        return Err(PtableError::TooMany(wants.len()));
    }
    let total = disk_bytes / SECTOR;
    let end = match table {
        // MBR entries hold 32-bit sector counts.
        PartitionTable::Msdos => total.min(u32::MAX as u64),
        PartitionTable::Gpt => total.saturating_sub(GPT_ENTRIES_SECTORS + 1),
    };
    if end <= ALIGN {
        return Err(PtableError::TinyDisk(disk_bytes));
    }
    let mut out = Vec::new();
    let mut next = ALIGN;
    for (i, w) in wants.iter().enumerate() {
        let sectors = if w.size == 0 {
            if i + 1 != wants.len() {
                return Err(PtableError::RestNotLast);
            }
            end.saturating_sub(next)
        } else {
            round_up(w.size, ALIGN * SECTOR) / SECTOR
        };
        if sectors == 0 || next + sectors > end {
            let asked: u64 = wants.iter().map(|w| round_up(w.size, ALIGN * SECTOR)).sum();
            return Err(PtableError::TooBig {
                need: asked + ALIGN * SECTOR,
                have: end * SECTOR,
            });
        }
        out.push(Placed {
            number: w.number,
            start: next,
            sectors,
            flag: w.flag,
        });
        next = round_up(next + sectors, ALIGN);
    }
    Ok(out)
}

/// MBR partition type bytes.
fn mbr_type(flag: Option<PartitionFlag>) -> u8 {
    match flag {
        Some(PartitionFlag::Esp) => 0xef,
        Some(PartitionFlag::Lvm) => 0x8e,
        _ => 0x83,
    }
}

/// The 512-byte MBR for `parts` (boot code area left zero; the boot loader fills it).
/// `active` marks the partition the BIOS boot code starts (the `Boot` flag, else none).
pub fn mbr(parts: &[Placed], signature: u32) -> Vec<u8> {
    let mut b = vec![0u8; 512];
    b[440..444].copy_from_slice(&signature.to_le_bytes());
    for (i, p) in parts.iter().take(4).enumerate() {
        let e = &mut b[446 + i * 16..446 + (i + 1) * 16];
        e[0] = if p.flag == Some(PartitionFlag::Boot) {
            0x80
        } else {
            0
        };
        // CHS fields: "use LBA" (as every modern tool writes for large disks).
        e[1..4].copy_from_slice(&[0xfe, 0xff, 0xff]);
        e[4] = mbr_type(p.flag);
        e[5..8].copy_from_slice(&[0xfe, 0xff, 0xff]);
        e[8..12].copy_from_slice(&(p.start as u32).to_le_bytes());
        e[12..16].copy_from_slice(&(p.sectors as u32).to_le_bytes());
    }
    b[510] = 0x55;
    b[511] = 0xaa;
    b
}

/// A GUID's on-disk bytes (first three fields little-endian).
pub fn guid_bytes(g: &str) -> Option<[u8; 16]> {
    let hex: String = g.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut raw = [0u8; 16];
    for (i, r) in raw.iter_mut().enumerate() {
        *r = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    let mut out = raw;
    out[0..4].copy_from_slice(&[raw[3], raw[2], raw[1], raw[0]]);
    out[4..6].copy_from_slice(&[raw[5], raw[4]]);
    out[6..8].copy_from_slice(&[raw[7], raw[6]]);
    Some(out)
}

pub const GUID_LINUX_FS: &str = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
pub const GUID_BIOS_BOOT: &str = "21686148-6449-6E6F-744E-656564454649";
pub const GUID_ESP: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
pub const GUID_LVM: &str = "E6D6D379-F507-44C2-A23C-238F2A3DF928";

fn gpt_type(flag: Option<PartitionFlag>) -> &'static str {
    match flag {
        Some(PartitionFlag::BiosGrub) => GUID_BIOS_BOOT,
        Some(PartitionFlag::Esp) => GUID_ESP,
        Some(PartitionFlag::Lvm) => GUID_LVM,
        _ => GUID_LINUX_FS,
    }
}

/// A random-looking (version 4) GUID from 16 bytes.
pub fn guid_from(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The bytes of a GPT: (what goes at LBA 0..=33: protective MBR, header, entries; what goes
/// at the last 33 sectors: entries, backup header). `guids` gives the disk GUID and one per
/// partition. `Boot` partitions get the legacy-BIOS-bootable attribute (bit 2).
pub fn gpt(
    disk_bytes: u64,
    parts: &[Placed],
    disk_guid: &str,
    part_guids: &[String],
) -> (Vec<u8>, Vec<u8>) {
    let total = disk_bytes / SECTOR;
    let last = total - 1;
    let mut entries = vec![0u8; (GPT_ENTRIES_SECTORS * SECTOR) as usize];
    for (i, p) in parts.iter().enumerate() {
        let e = &mut entries[i * 128..(i + 1) * 128];
        e[0..16].copy_from_slice(&guid_bytes(gpt_type(p.flag)).unwrap_or_default());
        let unique = part_guids
            .get(i)
            .and_then(|g| guid_bytes(g))
            .unwrap_or_default();
        e[16..32].copy_from_slice(&unique);
        e[32..40].copy_from_slice(&p.start.to_le_bytes());
        e[40..48].copy_from_slice(&(p.start + p.sectors - 1).to_le_bytes());
        let attrs: u64 = if p.flag == Some(PartitionFlag::Boot) {
            1 << 2
        } else {
            0
        };
        e[48..56].copy_from_slice(&attrs.to_le_bytes());
        let name = format!("part{}", p.number);
        for (j, u) in name.encode_utf16().take(36).enumerate() {
            e[56 + j * 2..58 + j * 2].copy_from_slice(&u.to_le_bytes());
        }
    }
    let entries_crc = crc32fast::hash(&entries);
    let header = |my: u64, alt: u64, entries_lba: u64| {
        let mut h = vec![0u8; SECTOR as usize];
        h[0..8].copy_from_slice(b"EFI PART");
        h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
        h[12..16].copy_from_slice(&92u32.to_le_bytes());
        h[24..32].copy_from_slice(&my.to_le_bytes());
        h[32..40].copy_from_slice(&alt.to_le_bytes());
        h[40..48].copy_from_slice(&(2 + GPT_ENTRIES_SECTORS).to_le_bytes());
        h[48..56].copy_from_slice(&(last - GPT_ENTRIES_SECTORS - 1).to_le_bytes());
        h[56..72].copy_from_slice(&guid_bytes(disk_guid).unwrap_or_default());
        h[72..80].copy_from_slice(&entries_lba.to_le_bytes());
        h[80..84].copy_from_slice(&128u32.to_le_bytes());
        h[84..88].copy_from_slice(&128u32.to_le_bytes());
        h[88..92].copy_from_slice(&entries_crc.to_le_bytes());
        let crc = crc32fast::hash(&h[0..92]);
        h[16..20].copy_from_slice(&crc.to_le_bytes());
        h
    };
    // Protective MBR: one 0xEE partition over the whole disk (capped at 32 bits).
    let mut pmbr = vec![0u8; 512];
    let e = &mut pmbr[446..462];
    e[1..4].copy_from_slice(&[0x00, 0x02, 0x00]);
    e[4] = 0xee;
    e[5..8].copy_from_slice(&[0xfe, 0xff, 0xff]);
    e[8..12].copy_from_slice(&1u32.to_le_bytes());
    e[12..16].copy_from_slice(&(last.min(u32::MAX as u64) as u32).to_le_bytes());
    pmbr[510] = 0x55;
    pmbr[511] = 0xaa;

    let mut head = pmbr;
    head.extend_from_slice(&header(1, last, 2));
    head.extend_from_slice(&entries);
    let mut tail = entries;
    tail.extend_from_slice(&header(last, 1, last - GPT_ENTRIES_SECTORS));
    (head, tail)
}

/// The partitions a disk's first sectors describe (number, start sector, sectors): the GPT
/// when the MBR is protective (`head` must then hold LBA 1 and the entries), else the four
/// primary MBR entries. Empty without a valid table.
pub fn parse(head: &[u8]) -> Vec<(u32, u64, u64)> {
    if head.len() < 512 || head[510..512] != [0x55, 0xaa] {
        return Vec::new();
    }
    let entry = |i: usize| &head[446 + i * 16..446 + (i + 1) * 16];
    if entry(0)[4] == 0xee {
        let Some(h) = head.get(512..1024) else {
            return Vec::new();
        };
        if &h[0..8] != b"EFI PART" {
            return Vec::new();
        }
        let u32_at = |b: &[u8], o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u64_at = |b: &[u8], o: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[o..o + 8]);
            u64::from_le_bytes(x)
        };
        let lba = u64_at(h, 72) as usize;
        let (n, size) = (u32_at(h, 80) as usize, u32_at(h, 84) as usize);
        let mut out = Vec::new();
        for i in 0..n.min(128) {
            let at = lba * 512 + i * size;
            let Some(e) = head.get(at..at + 128) else {
                break;
            };
            if e[0..16].iter().all(|b| *b == 0) {
                continue;
            }
            let (first, last) = (u64_at(e, 32), u64_at(e, 40));
            if last >= first {
                out.push((i as u32 + 1, first, last - first + 1));
            }
        }
        return out;
    }
    (0..4)
        .filter_map(|i| {
            let e = entry(i);
            let start = u32::from_le_bytes([e[8], e[9], e[10], e[11]]) as u64;
            let sectors = u32::from_le_bytes([e[12], e[13], e[14], e[15]]) as u64;
            (e[4] != 0 && sectors > 0).then_some((i as u32 + 1, start, sectors))
        })
        .collect()
}

/// The kernel's name of partition `n` of disk `disk` (`vda` → `vda1`, `nvme0n1` → `nvme0n1p1`,
/// `loop3` → `loop3p1`).
pub fn partition_name(disk: &str, n: u32) -> String {
    if disk.ends_with(|c: char| c.is_ascii_digit()) {
        format!("{disk}p{n}")
    } else {
        format!("{disk}{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(number: u32, size: u64, flag: Option<PartitionFlag>) -> Want {
        Want { number, size, flag }
    }

    #[test]
    fn msdos_geometry() {
        let disk = 1 << 30; // 1 GiB = 2097152 sectors
        let p = plan(
            PartitionTable::Msdos,
            disk,
            &[
                w(1, 100 << 20, Some(PartitionFlag::Boot)),
                w(2, 1, None),
                w(3, 0, None),
            ],
        )
        .unwrap();
        assert_eq!(p[0].start, 2048);
        assert_eq!(p[0].sectors, 204800);
        assert_eq!(p[1].start, 2048 + 204800);
        assert_eq!(p[1].sectors, 2048, "1 byte rounds up to 1 MiB");
        assert_eq!(p[2].start, 2048 + 204800 + 2048);
        assert_eq!(p[2].start + p[2].sectors, 2097152, "the rest, to the end");
    }

    #[test]
    fn gpt_leaves_room_for_the_backup() {
        let p = plan(PartitionTable::Gpt, 1 << 30, &[w(1, 0, None)]).unwrap();
        assert_eq!(p[0].start, 2048);
        assert_eq!(p[0].start + p[0].sectors, 2097152 - 33);
    }

    #[test]
    fn refusals() {
        assert_eq!(
            plan(PartitionTable::Msdos, 1 << 30, &[w(2, 0, None)]),
            Err(PtableError::Numbers(vec![2]))
        );
        assert!(matches!(
            plan(PartitionTable::Msdos, 1 << 30, &[w(1, 2 << 30, None)]),
            Err(PtableError::TooBig { .. })
        ));
        assert_eq!(
            plan(
                PartitionTable::Msdos,
                1 << 30,
                &[w(1, 0, None), w(2, 1, None)]
            ),
            Err(PtableError::RestNotLast)
        );
        let five: Vec<Want> = (1..=5).map(|n| w(n, 1 << 20, None)).collect();
        assert_eq!(
            plan(PartitionTable::Msdos, 1 << 30, &five),
            Err(PtableError::TooMany(5))
        );
        assert!(plan(PartitionTable::Gpt, 1 << 30, &five).is_ok());
    }

    #[test]
    fn mbr_bytes() {
        let p = plan(
            PartitionTable::Msdos,
            1 << 30,
            &[
                w(1, 100 << 20, Some(PartitionFlag::Boot)),
                w(2, 0, Some(PartitionFlag::Lvm)),
            ],
        )
        .unwrap();
        let b = mbr(&p, 0x1234_5678);
        assert_eq!(&b[510..], &[0x55, 0xaa]);
        assert_eq!(&b[440..444], &0x1234_5678u32.to_le_bytes());
        assert_eq!(b[446], 0x80);
        assert_eq!(b[446 + 4], 0x83);
        assert_eq!(u32::from_le_bytes(b[454..458].try_into().unwrap()), 2048);
        assert_eq!(u32::from_le_bytes(b[458..462].try_into().unwrap()), 204800);
        assert_eq!(b[462], 0);
        assert_eq!(b[462 + 4], 0x8e);
        assert!(b[478..510].iter().all(|x| *x == 0));
    }

    #[test]
    fn guids() {
        // The Linux filesystem type GUID as it appears on disk.
        assert_eq!(
            guid_bytes(GUID_LINUX_FS).unwrap(),
            [
                0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47,
                0x7d, 0xe4
            ]
        );
        let g = guid_from([0xff; 16]);
        assert_eq!(g, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert!(guid_bytes("nope").is_none());
    }

    #[test]
    fn gpt_headers_check_out() {
        let disk = 64u64 << 20;
        let p = plan(
            PartitionTable::Gpt,
            disk,
            &[w(1, 8 << 20, Some(PartitionFlag::Boot)), w(2, 0, None)],
        )
        .unwrap();
        let guids = vec![guid_from([1; 16]), guid_from([2; 16])];
        let (head, tail) = gpt(disk, &p, &guid_from([9; 16]), &guids);
        assert_eq!(head.len(), 34 * 512);
        assert_eq!(tail.len(), 33 * 512);
        assert_eq!(head[446 + 4], 0xee);
        let h = &head[512..1024];
        assert_eq!(&h[0..8], b"EFI PART");
        let mut c = h[0..92].to_vec();
        c[16..20].fill(0);
        assert_eq!(
            crc32fast::hash(&c),
            u32::from_le_bytes(h[16..20].try_into().unwrap())
        );
        let entries = &head[1024..];
        assert_eq!(
            crc32fast::hash(entries),
            u32::from_le_bytes(h[88..92].try_into().unwrap())
        );
        // Entry 1: bootable attribute, first/last LBA.
        assert_eq!(
            u64::from_le_bytes(entries[32..40].try_into().unwrap()),
            2048
        );
        assert_eq!(
            u64::from_le_bytes(entries[40..48].try_into().unwrap()),
            2048 + 16384 - 1
        );
        assert_eq!(u64::from_le_bytes(entries[48..56].try_into().unwrap()), 4);
        // The backup header points back at the primary and at its own entries.
        let b = &tail[32 * 512..];
        let last = disk / 512 - 1;
        assert_eq!(u64::from_le_bytes(b[24..32].try_into().unwrap()), last);
        assert_eq!(u64::from_le_bytes(b[32..40].try_into().unwrap()), 1);
        assert_eq!(u64::from_le_bytes(b[72..80].try_into().unwrap()), last - 32);
        assert_eq!(&tail[..32 * 512], entries);
    }

    #[test]
    fn parses_what_it_writes() {
        let disk = 64u64 << 20;
        let wants = [w(1, 8 << 20, Some(PartitionFlag::Boot)), w(2, 0, None)];
        let p = plan(PartitionTable::Msdos, disk, &wants).unwrap();
        let got = parse(&mbr(&p, 1));
        assert_eq!(got, vec![(1, 2048, 16384), (2, 18432, p[1].sectors)]);
        let p = plan(PartitionTable::Gpt, disk, &wants).unwrap();
        let (head, _) = gpt(
            disk,
            &p,
            &guid_from([3; 16]),
            &[guid_from([4; 16]), guid_from([5; 16])],
        );
        let got = parse(&head);
        assert_eq!(got, vec![(1, 2048, 16384), (2, 18432, p[1].sectors)]);
        assert!(parse(&[0u8; 512]).is_empty());
    }

    #[test]
    fn partition_names() {
        assert_eq!(partition_name("vda", 1), "vda1");
        assert_eq!(partition_name("nvme0n1", 2), "nvme0n1p2");
        assert_eq!(partition_name("loop7", 1), "loop7p1");
        assert_eq!(partition_name("mmcblk0", 1), "mmcblk0p1");
    }
}
