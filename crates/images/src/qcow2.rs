//! qcow2 → raw, for cloud images uploaded as qcow2 (`filetype=ddqcow2`): the region converts
//! them once, on upload, and machines stream the raw disk like any `ddraw` image.
//!
//! Handles versions 2 and 3 with standard, all-zero and deflate-compressed clusters (what
//! cloud images use). Refused with a clear error: backing files, encryption, zstd compression,
//! external data files and other incompatible features. Written by hand because no maintained
//! crate reads qcow2 synchronously from a file (the format is a header, a one-level L1 table
//! and L2 tables of 8-byte big-endian entries).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::ImageError;

const MAGIC: &[u8; 4] = b"QFI\xfb";
const OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;

/// Whether the file starts with the qcow2 magic.
pub fn is_qcow2(path: &Path) -> bool {
    let mut m = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut m))
        .map(|_| &m == MAGIC)
        .unwrap_or(false)
}

fn bad(path: &Path, why: impl Into<String>) -> ImageError {
    ImageError::Missing(format!(
        "{}: not a usable qcow2 image: {}",
        path.display(),
        why.into()
    ))
}

fn be64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(x)
}

fn be32(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(x)
}

/// Convert `src` (qcow2) to the raw disk `dst` (sparse where the image has no data). Returns
/// the virtual size in bytes.
pub fn to_raw(src: &Path, dst: &Path) -> Result<u64, ImageError> {
    let io = |e| ImageError::io(src, e);
    let mut f = File::open(src).map_err(io)?;
    let file_len = f.metadata().map_err(io)?.len();
    let mut h = [0u8; 112];
    let n = f.read(&mut h).map_err(io)?;
    if n < 72 || &h[..4] != MAGIC {
        return Err(bad(src, "no qcow2 header"));
    }
    let version = be32(&h, 4);
    if version != 2 && version != 3 {
        return Err(bad(src, format!("version {version}")));
    }
    if be64(&h, 8) != 0 {
        return Err(bad(src, "it has a backing file (flatten it first)"));
    }
    let cluster_bits = be32(&h, 20);
    if !(9..=21).contains(&cluster_bits) {
        return Err(bad(src, format!("cluster_bits {cluster_bits}")));
    }
    let size = be64(&h, 24);
    if be32(&h, 32) != 0 {
        return Err(bad(src, "it is encrypted"));
    }
    let l1_size = be32(&h, 36) as u64;
    let l1_offset = be64(&h, 40);
    if version == 3 && n >= 104 {
        let incompatible = be64(&h, 72);
        // Bit 0 dirty and bit 1 corrupt are tolerable for reading only if clean; refuse the
        // rest (bit 2 external data file, bit 3 compression type, bit 4 extended L2).
        if incompatible & !0b1 != 0 {
            let header_len = be32(&h, 100) as usize;
            let zstd = incompatible & (1 << 3) != 0 && header_len > 104 && n > 104 && h[104] == 1;
            return Err(bad(
                src,
                if zstd {
                    "zstd compression (convert with deflate)".to_string()
                } else {
                    format!("incompatible features {incompatible:#x}")
                },
            ));
        }
    }
    let cluster = 1u64 << cluster_bits;
    let l2_entries = cluster / 8;
    if l1_size.saturating_mul(l2_entries).saturating_mul(cluster) < size {
        return Err(bad(src, "the L1 table does not cover the disk"));
    }
    if l1_offset.saturating_add(l1_size * 8) > file_len {
        return Err(bad(src, "the L1 table lies past the end of the file"));
    }
    let mut l1 = vec![0u8; (l1_size * 8) as usize];
    f.seek(SeekFrom::Start(l1_offset)).map_err(io)?;
    f.read_exact(&mut l1).map_err(io)?;

    let out_io = |e| ImageError::io(dst, e);
    let mut out = File::create(dst).map_err(out_io)?;
    out.set_len(size).map_err(out_io)?;
    let mut l2 = vec![0u8; cluster as usize];
    let mut data = vec![0u8; cluster as usize];
    let x = 62 - (cluster_bits - 8);
    for i in 0..l1_size {
        let l2_offset = be64(&l1, (i * 8) as usize) & OFFSET_MASK;
        if l2_offset == 0 {
            continue;
        }
        if l2_offset.saturating_add(cluster) > file_len {
            return Err(bad(
                src,
                format!("L2 table {i} lies past the end of the file"),
            ));
        }
        f.seek(SeekFrom::Start(l2_offset)).map_err(io)?;
        f.read_exact(&mut l2).map_err(io)?;
        for j in 0..l2_entries {
            let guest = (i * l2_entries + j) * cluster;
            if guest >= size {
                break;
            }
            let e = be64(&l2, (j * 8) as usize);
            let len = cluster.min(size - guest) as usize;
            if e & (1 << 62) != 0 {
                // Compressed: host offset in bits 0..x, extra 512-byte sectors in x..62.
                let host = e & ((1u64 << x) - 1);
                let sectors = (e >> x) & ((1u64 << (62 - x)) - 1);
                let csize = ((sectors + 1) * 512 - (host & 511)).min(file_len.saturating_sub(host));
                let mut comp = vec![0u8; csize as usize];
                f.seek(SeekFrom::Start(host)).map_err(io)?;
                f.read_exact(&mut comp).map_err(io)?;
                let mut d = flate2::read::DeflateDecoder::new(&comp[..]);
                let mut got = 0;
                while got < len {
                    let k = d
                        .read(&mut data[got..len])
                        .map_err(|e| bad(src, format!("compressed cluster at {guest}: {e}")))?;
                    if k == 0 {
                        return Err(bad(src, format!("compressed cluster at {guest} is short")));
                    }
                    got += k;
                }
            } else {
                let host = e & OFFSET_MASK;
                // Unallocated, or the all-zero flag (v3): the sparse output is zero already.
                if host == 0 || e & 1 != 0 {
                    continue;
                }
                if host.saturating_add(len as u64) > file_len {
                    return Err(bad(src, format!("cluster at {guest} lies past the end")));
                }
                f.seek(SeekFrom::Start(host)).map_err(io)?;
                f.read_exact(&mut data[..len]).map_err(io)?;
            }
            if data[..len].iter().all(|&b| b == 0) {
                continue;
            }
            out.seek(SeekFrom::Start(guest)).map_err(out_io)?;
            out.write_all(&data[..len]).map_err(out_io)?;
        }
    }
    out.sync_all().map_err(out_io)?;
    Ok(size)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A qcow2 v3 image of `size` bytes with 64 KiB clusters: `clusters` gives guest cluster
    /// index → (content, compressed?); `zero` marks clusters with the all-zero flag.
    pub(crate) fn make_qcow2(
        size: u64,
        clusters: &[(u64, Vec<u8>, bool)],
        zero: &[u64],
    ) -> Vec<u8> {
        let cb = 16u32;
        let c = 1u64 << cb;
        let l2_entries = c / 8;
        let l1_size = size.div_ceil(c * l2_entries);
        // Layout: header cluster, L1 cluster, L2 clusters, then data.
        let l1_off = c;
        let l2_off = 2 * c;
        let mut data_off = l2_off + l1_size * c;
        let mut file = vec![0u8; data_off as usize];
        file[..4].copy_from_slice(MAGIC);
        file[4..8].copy_from_slice(&3u32.to_be_bytes());
        file[20..24].copy_from_slice(&cb.to_be_bytes());
        file[24..32].copy_from_slice(&size.to_be_bytes());
        file[36..40].copy_from_slice(&(l1_size as u32).to_be_bytes());
        file[40..48].copy_from_slice(&l1_off.to_be_bytes());
        file[96..100].copy_from_slice(&4u32.to_be_bytes());
        file[100..104].copy_from_slice(&104u32.to_be_bytes());
        for i in 0..l1_size {
            let at = (l1_off + i * 8) as usize;
            file[at..at + 8].copy_from_slice(&((l2_off + i * c) | (1 << 63)).to_be_bytes());
        }
        let set_l2 = |file: &mut Vec<u8>, idx: u64, e: u64| {
            let at = (l2_off + idx * 8) as usize;
            file[at..at + 8].copy_from_slice(&e.to_be_bytes());
        };
        for &z in zero {
            set_l2(&mut file, z, 1);
        }
        let x = 62 - (cb - 8);
        for (idx, content, compressed) in clusters {
            if *compressed {
                let mut enc =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
                enc.write_all(content).unwrap();
                let comp = enc.finish().unwrap();
                // Compressed data need not be cluster-aligned: start it mid-sector.
                let host = data_off + 100;
                let sectors = (comp.len() as u64 + (host & 511)).div_ceil(512) - 1;
                file.resize((host + comp.len() as u64) as usize, 0);
                file[host as usize..].copy_from_slice(&comp);
                data_off = (host + comp.len() as u64).div_ceil(512) * 512;
                set_l2(&mut file, *idx, (1 << 62) | (sectors << x) | host);
            } else {
                let host = data_off.div_ceil(c) * c;
                file.resize((host + c) as usize, 0);
                file[host as usize..host as usize + content.len()].copy_from_slice(content);
                data_off = host + c;
                set_l2(&mut file, *idx, host | (1 << 63));
            }
        }
        file
    }

    #[test]
    fn standard_compressed_zero_and_unallocated_clusters() {
        let c = 1usize << 16;
        let size = 10 * c as u64 + 4096; // a partial last cluster
        let a: Vec<u8> = (0..c).map(|i| (i % 251) as u8).collect();
        let b: Vec<u8> = (0..c).map(|i| (i / 7 % 256) as u8).collect();
        let tail: Vec<u8> = vec![0xab; 4096];
        let img = make_qcow2(
            size,
            &[
                (0, a.clone(), false),
                (3, b.clone(), true),
                (10, tail.clone(), false),
            ],
            &[5],
        );
        let t = tempfile::tempdir().unwrap();
        let (src, dst) = (t.path().join("in.qcow2"), t.path().join("out.raw"));
        std::fs::write(&src, &img).unwrap();
        assert!(is_qcow2(&src));
        assert_eq!(to_raw(&src, &dst).unwrap(), size);
        let raw = std::fs::read(&dst).unwrap();
        assert_eq!(raw.len() as u64, size);
        assert_eq!(&raw[..c], &a[..]);
        assert!(
            raw[c..3 * c].iter().all(|&x| x == 0),
            "unallocated reads zero"
        );
        assert_eq!(&raw[3 * c..4 * c], &b[..], "compressed cluster");
        assert!(raw[5 * c..6 * c].iter().all(|&x| x == 0), "zero flag");
        assert_eq!(&raw[10 * c..], &tail[..]);
    }

    #[test]
    fn refusals_name_the_reason() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x");
        let mut img = make_qcow2(1 << 20, &[], &[]);
        img[8..16].copy_from_slice(&512u64.to_be_bytes()); // a backing file
        std::fs::write(&p, &img).unwrap();
        let e = to_raw(&p, &t.path().join("o")).unwrap_err().to_string();
        assert!(e.contains("backing file"), "{e}");
        let mut img = make_qcow2(1 << 20, &[], &[]);
        img[32..36].copy_from_slice(&1u32.to_be_bytes());
        std::fs::write(&p, &img).unwrap();
        assert!(to_raw(&p, &t.path().join("o"))
            .unwrap_err()
            .to_string()
            .contains("encrypted"));
        std::fs::write(&p, b"not an image at all, just text").unwrap();
        assert!(!is_qcow2(&p));
        assert!(to_raw(&p, &t.path().join("o")).is_err());
        // An L1 table past the end of a truncated file.
        let img = make_qcow2(1 << 20, &[], &[]);
        std::fs::write(&p, &img[..70_000]).unwrap();
        assert!(to_raw(&p, &t.path().join("o")).is_err());
    }
}
