//! `badblocks`: a non-destructive read-write test (like `badblocks -n`) of the first
//! `INGOT_BADBLOCKS_MIB` MiB (default 64) of every writable disk, with O_DIRECT so the disk
//! itself is exercised: each chunk is read, patterns are written and read back, then the
//! original data is written back (and checked). Read, write and comparison errors are counted
//! in the result YAML. Only in the ephemeral environment (nothing else may be using the
//! disks, and the exclusive open makes sure of it); skipped with the reason elsewhere.

use std::fs::File;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use serde_json::json;

use super::{env_u64, Ctx, Done, Out};

const ALIGN: usize = 4096;
const CHUNK: usize = 1 << 20;
pub const PATTERNS: [u8; 4] = [0xaa, 0x55, 0xff, 0x00];

/// A zeroed buffer aligned for O_DIRECT.
pub struct Aligned {
    ptr: *mut u8,
    len: usize,
}

impl Aligned {
    pub fn new(len: usize) -> Option<Aligned> {
        let layout = std::alloc::Layout::from_size_align(len.max(ALIGN), ALIGN).ok()?;
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        (!ptr.is_null()).then_some(Aligned {
            ptr,
            len: len.max(ALIGN),
        })
    }
    pub fn get_mut(&mut self) -> &mut [u8] {
        // SAFETY: `len` initialised bytes owned by self, exclusively borrowed.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        if let Ok(layout) = std::alloc::Layout::from_size_align(self.len, ALIGN) {
            // SAFETY: allocated in `new` with this layout.
            unsafe { std::alloc::dealloc(self.ptr, layout) };
        }
    }
}

/// Counts for one device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub bytes: u64,
    pub read_errors: u64,
    pub write_errors: u64,
    pub comparison_errors: u64,
    /// Chunks whose original data could not be written back (data lost).
    pub restore_failures: u64,
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.read_errors + self.write_errors + self.comparison_errors + self.restore_failures
    }
}

/// Number of `block`-sized blocks where `a` and `b` differ.
pub fn differing_blocks(a: &[u8], b: &[u8], block: usize) -> u64 {
    a.chunks(block.max(1))
        .zip(b.chunks(block.max(1)))
        .filter(|(x, y)| x != y)
        .count() as u64
}

fn read_full(f: &File, buf: &mut [u8], off: u64) -> bool {
    f.read_exact_at(buf, off).is_ok()
}

fn write_full(f: &File, buf: &[u8], off: u64) -> bool {
    f.write_all_at(buf, off).is_ok()
}

/// The test over the first `len` bytes of the open file `f` (blocks of `block` bytes are
/// compared); `notes` gets a line per problem.
pub fn test_open(f: &File, len: u64, block: usize, notes: &mut Vec<String>) -> Counts {
    let mut c = Counts::default();
    let (Some(mut orig), Some(mut pat), Some(mut back)) = (
        Aligned::new(CHUNK),
        Aligned::new(CHUNK),
        Aligned::new(CHUNK),
    ) else {
        c.read_errors += 1;
        notes.push("cannot allocate the buffers".into());
        return c;
    };
    let mut off = 0u64;
    while off < len {
        let n = usize::try_from((len - off).min(CHUNK as u64)).unwrap_or(CHUNK);
        let n = n - n % ALIGN;
        if n == 0 {
            break;
        }
        let (o, p, b) = (
            &mut orig.get_mut()[..n],
            &mut pat.get_mut()[..n],
            &mut back.get_mut()[..n],
        );
        if !read_full(f, o, off) {
            c.read_errors += 1;
            notes.push(format!("read error at {off:#x}: chunk left untouched"));
            off += n as u64;
            continue;
        }
        for pattern in PATTERNS {
            p.fill(pattern);
            if !write_full(f, p, off) {
                c.write_errors += 1;
                notes.push(format!("write error at {off:#x} (pattern {pattern:#04x})"));
                continue;
            }
            if !read_full(f, b, off) {
                c.read_errors += 1;
                notes.push(format!(
                    "read-back error at {off:#x} (pattern {pattern:#04x})"
                ));
                continue;
            }
            let bad = differing_blocks(p, b, block);
            if bad > 0 {
                c.comparison_errors += bad;
                notes.push(format!(
                    "{bad} block(s) at {off:#x} did not hold pattern {pattern:#04x}"
                ));
            }
        }
        let restored = write_full(f, o, off) && read_full(f, b, off) && b == &o[..];
        if !restored {
            c.restore_failures += 1;
            notes.push(format!("could not restore the original data at {off:#x}"));
        }
        c.bytes += n as u64;
        off += n as u64;
    }
    if f.sync_all().is_err() {
        c.write_errors += 1;
        notes.push("flushing the disk failed".into());
    }
    c
}

/// Opens `path` for the test: read-write, O_DIRECT, O_EXCL (a block device in use — mounted,
/// part of an array — is refused by the kernel).
pub fn open(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT | libc::O_EXCL)
        .open(path)
}

pub fn run(ctx: &Ctx, out: &mut Out) -> Done {
    if !ctx.ephemeral {
        return Done::skipped(
            "not in the ephemeral environment: disks are only written to there",
            out,
        );
    }
    let mib = env_u64("INGOT_BADBLOCKS_MIB").unwrap_or(64).max(1);
    let disks: Vec<_> = crate::resources::disks(&ctx.roots)
        .into_iter()
        .filter(|d| d.kind != "cdrom")
        .collect();
    let mut list = Vec::new();
    let mut totals = Counts::default();
    let mut tested = 0;
    for d in &disks {
        if d.read_only {
            out.line(format!("{}: read-only, not tested", d.id));
            list.push(json!({"name": d.id, "tested": false, "reason": "read-only"}));
            continue;
        }
        let path = ctx.roots.dev.join(&d.id);
        let len = d.size.min(mib << 20);
        let f = match open(&path) {
            Ok(f) => f,
            Err(e) => {
                out.eline(format!(
                    "{}: cannot open {} exclusively: {e}",
                    d.id,
                    path.display()
                ));
                totals.read_errors += 1;
                list.push(
                    json!({"name": d.id, "tested": false, "reason": format!("cannot open: {e}")}),
                );
                continue;
            }
        };
        let block = usize::try_from(d.block_size).unwrap_or(512).max(512);
        let mut notes = Vec::new();
        let c = test_open(&f, len, block, &mut notes);
        for n in &notes {
            out.eline(format!("{}: {n}", d.id));
        }
        out.line(format!(
            "{}: {} MiB tested: {} read, {} write, {} comparison error(s){}",
            d.id,
            c.bytes >> 20,
            c.read_errors,
            c.write_errors,
            c.comparison_errors,
            if c.restore_failures > 0 {
                format!(", {} chunk(s) NOT RESTORED", c.restore_failures)
            } else {
                String::new()
            }
        ));
        tested += 1;
        totals.read_errors += c.read_errors;
        totals.write_errors += c.write_errors;
        totals.comparison_errors += c.comparison_errors;
        totals.restore_failures += c.restore_failures;
        list.push(json!({
            "name": d.id, "tested": true, "mib": c.bytes >> 20,
            "read_errors": c.read_errors, "write_errors": c.write_errors,
            "comparison_errors": c.comparison_errors, "restore_failures": c.restore_failures,
        }));
    }
    if disks.is_empty() {
        return Done::skipped("no disks", out);
    }
    let mut result = json!({
        "results": {
            "read_errors": totals.read_errors,
            "write_errors": totals.write_errors,
            "comparison_errors": totals.comparison_errors,
            "badblocks": totals.read_errors + totals.write_errors + totals.comparison_errors,
        },
        "disks": list,
    });
    if tested == 0 && totals.total() == 0 {
        result["status"] = json!("skipped");
        result["reason"] = json!("no writable disk");
    }
    Done::with(i32::from(totals.total() != 0), result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_bytes(n: usize, mut x: u64) -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    /// On a regular file (the kernel takes O_DIRECT there too): everything tested, nothing
    /// found, and the data is exactly as it was.
    #[test]
    fn tests_and_restores_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("disk.img");
        let size = 3 * CHUNK + 8192;
        let data = random_bytes(size, 42);
        std::fs::write(&p, &data).unwrap();
        let f = match open(&p) {
            Ok(f) => f,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                eprintln!("SKIPPED: this filesystem has no O_DIRECT");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        let mut notes = Vec::new();
        let c = test_open(&f, 2 * CHUNK as u64 + 4096, 512, &mut notes);
        assert_eq!(c.total(), 0, "{notes:?}");
        assert_eq!(c.bytes, 2 * CHUNK as u64 + 4096);
        drop(f);
        assert!(
            std::fs::read(&p).unwrap() == data,
            "the data was not restored"
        );
    }

    #[test]
    fn counts_differing_blocks() {
        let a = vec![0u8; 4096];
        let mut b = a.clone();
        assert_eq!(differing_blocks(&a, &b, 512), 0);
        b[0] = 1;
        b[513] = 1;
        b[600] = 1;
        b[4095] = 1;
        assert_eq!(differing_blocks(&a, &b, 512), 3);
        assert_eq!(differing_blocks(&a, &b, 4096), 1);
    }

    #[test]
    fn a_read_only_file_gives_write_errors_not_a_pass() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ro.img");
        std::fs::write(&p, vec![7u8; 2 * ALIGN]).unwrap();
        let f = std::fs::OpenOptions::new().read(true).open(&p).unwrap();
        let mut notes = Vec::new();
        let c = test_open(&f, 2 * ALIGN as u64, 512, &mut notes);
        assert_eq!(c.write_errors, PATTERNS.len() as u64);
        assert_eq!(c.restore_failures, 1);
        assert!(c.total() > 0);
        assert_eq!(std::fs::read(&p).unwrap(), vec![7u8; 2 * ALIGN]);
    }

    #[test]
    fn skipped_outside_the_ephemeral_environment() {
        let t = tempfile::tempdir().unwrap();
        let ctx = super::super::info::tests::ctx(t.path());
        let mut o = Out::default();
        let d = run(&ctx, &mut o);
        assert_eq!(d.exit, 0);
        let r = d.result.unwrap();
        assert_eq!(r["status"], "skipped");
        assert!(r["reason"].as_str().unwrap().contains("ephemeral"));
    }
}
