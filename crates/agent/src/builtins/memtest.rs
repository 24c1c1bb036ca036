//! `memtester`: patterns written to and verified in a share of the free memory (locked in RAM
//! when the kernel allows): own address, random values, solid bits, checkerboard, walking
//! ones and zeros. Only in the ephemeral environment (elsewhere it would take memory from
//! whatever else runs there): skipped with the reason otherwise.

use std::time::Instant;

use serde_json::json;

use super::{env_u64, Ctx, Done, Out};

/// A pattern: the value word `i` must hold (given a per-pass seed).
pub type Pattern = fn(usize, u64) -> u64;

fn own_address(i: usize, s: u64) -> u64 {
    (i as u64) ^ s
}

fn own_address_inverted(i: usize, s: u64) -> u64 {
    !((i as u64) ^ s)
}

fn random(i: usize, s: u64) -> u64 {
    // splitmix64 of (seed, index): any word's value is known without the others.
    let mut z = s.wrapping_add((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn zeros(_: usize, _: u64) -> u64 {
    0
}

fn ones(_: usize, _: u64) -> u64 {
    u64::MAX
}

fn checkerboard(i: usize, _: u64) -> u64 {
    if i.is_multiple_of(2) {
        0x5555_5555_5555_5555
    } else {
        0xAAAA_AAAA_AAAA_AAAA
    }
}

fn walking_ones(i: usize, _: u64) -> u64 {
    1u64 << (i % 64)
}

fn walking_zeros(i: usize, _: u64) -> u64 {
    !(1u64 << (i % 64))
}

pub const PATTERNS: &[(&str, Pattern)] = &[
    ("own address", own_address),
    ("own address inverted", own_address_inverted),
    ("random value", random),
    ("solid zeros", zeros),
    ("solid ones", ones),
    ("checkerboard", checkerboard),
    ("walking ones", walking_ones),
    ("walking zeros", walking_zeros),
];

/// Writes the pattern into every word (volatile: the stores really happen).
pub fn fill(words: &mut [u64], p: Pattern, seed: u64) {
    for (i, w) in words.iter_mut().enumerate() {
        // SAFETY: `w` is a valid, aligned, exclusive reference.
        unsafe { std::ptr::write_volatile(w, p(i, seed)) };
    }
}

/// Reads every word back (volatile) and counts those that differ from the pattern; the
/// first few are described.
pub fn verify(words: &[u64], p: Pattern, seed: u64, notes: &mut Vec<String>) -> u64 {
    let mut bad = 0;
    for (i, w) in words.iter().enumerate() {
        // SAFETY: `w` is a valid, aligned reference.
        let got = unsafe { std::ptr::read_volatile(w) };
        let want = p(i, seed);
        if got != want {
            bad += 1;
            if notes.len() < 20 {
                notes.push(format!(
                    "word {i} (offset {:#x}): read {got:#018x}, wrote {want:#018x}",
                    i * 8
                ));
            }
        }
    }
    bad
}

/// Every pattern once over `words`: (pattern, errors) and notes on the first errors.
pub fn test_words(words: &mut [u64], seed: u64) -> (Vec<(&'static str, u64)>, Vec<String>) {
    let mut notes = Vec::new();
    let mut out = Vec::new();
    for (k, (name, p)) in PATTERNS.iter().enumerate() {
        let s = seed.wrapping_add(k as u64);
        fill(words, *p, s);
        let errors = verify(words, *p, s, &mut notes);
        out.push((*name, errors));
    }
    (out, notes)
}

/// Anonymous memory, unmapped when dropped.
struct Region {
    ptr: *mut libc::c_void,
    len: usize,
    locked: bool,
}

impl Region {
    fn new(len: usize) -> std::io::Result<Region> {
        // SAFETY: an anonymous private mapping; checked for MAP_FAILED.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the mapping just made, of that length.
        let locked = unsafe { libc::mlock(ptr, len) } == 0;
        Ok(Region { ptr, len, locked })
    }

    fn words(&mut self) -> &mut [u64] {
        // SAFETY: the mapping is page-aligned, `len` bytes long, zero-filled and ours alone
        // for as long as `self` lives.
        unsafe { std::slice::from_raw_parts_mut(self.ptr as *mut u64, self.len / 8) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: unmapping what `new` mapped.
        unsafe {
            libc::munmap(self.ptr, self.len);
        }
    }
}

/// Bytes to test: a quarter of MemAvailable, at most `INGOT_MEMTESTER_MIB` (default 2048).
pub fn size_to_test(meminfo: &str, cap_mib: u64) -> u64 {
    let avail_kib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .or_else(|| meminfo.lines().find_map(|l| l.strip_prefix("MemFree:")))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0);
    let quarter = avail_kib * 1024 / 4;
    let bytes = quarter.min(cap_mib * 1024 * 1024);
    bytes - bytes % (1 << 20)
}

pub fn run(ctx: &Ctx, out: &mut Out) -> Done {
    if !ctx.ephemeral {
        return Done::skipped(
            "not in the ephemeral environment: memory is only tested there (it would take memory from this system)",
            out,
        );
    }
    let meminfo = std::fs::read_to_string(ctx.roots.proc.join("meminfo")).unwrap_or_default();
    let bytes = size_to_test(&meminfo, env_u64("INGOT_MEMTESTER_MIB").unwrap_or(2048));
    if bytes == 0 {
        out.eline("cannot tell how much memory is free");
        return Done::failed();
    }
    let Ok(len) = usize::try_from(bytes) else {
        return Done::failed();
    };
    let mut region = match Region::new(len) {
        Ok(r) => r,
        Err(e) => {
            out.eline(format!("cannot map {} MiB: {e}", bytes >> 20));
            return Done::failed();
        }
    };
    out.line(format!(
        "testing {} MiB ({})",
        bytes >> 20,
        if region.locked {
            "locked in RAM"
        } else {
            "not locked: mlock refused"
        }
    ));
    let start = Instant::now();
    let (results, notes) = test_words(region.words(), 0x1234_5678);
    let total: u64 = results.iter().map(|(_, e)| e).sum();
    for (name, errors) in &results {
        out.line(format!(
            "{name}: {}",
            if *errors == 0 {
                "ok".to_string()
            } else {
                format!("{errors} bad word(s)")
            }
        ));
    }
    for n in &notes {
        out.eline(n);
    }
    out.line(format!(
        "{} MiB, {} patterns in {:.1} s: {total} error(s)",
        bytes >> 20,
        results.len(),
        start.elapsed().as_secs_f64()
    ));
    Done::with(
        i32::from(total != 0),
        json!({"results": {"tested_mib": bytes >> 20, "errors": total, "locked": region.locked}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_memory_passes_every_pattern() {
        let mut v = vec![0u64; 1 << 20];
        let (r, notes) = test_words(&mut v, 7);
        assert_eq!(r.len(), PATTERNS.len());
        assert!(r.iter().all(|(_, e)| *e == 0), "{r:?} {notes:?}");
        let mut region = Region::new(8 << 20).unwrap();
        let (r, _) = test_words(region.words(), 9);
        assert!(r.iter().all(|(_, e)| *e == 0));
    }

    #[test]
    fn a_flipped_bit_is_found_by_every_pattern() {
        let mut v = vec![0u64; 4096];
        for (name, p) in PATTERNS {
            fill(&mut v, *p, 3);
            v[1234] ^= 1 << 17;
            let mut notes = Vec::new();
            assert_eq!(verify(&v, *p, 3, &mut notes), 1, "{name}");
            assert!(
                notes[0].starts_with("word 1234 (offset 0x2690)"),
                "{notes:?}"
            );
        }
    }

    #[test]
    fn patterns_differ_between_neighbours() {
        // Address and random patterns must not be constant, or stuck address lines go unseen.
        for p in [own_address as Pattern, own_address_inverted, random] {
            assert_ne!(p(0, 5), p(1, 5));
        }
    }

    #[test]
    fn sizes_a_quarter_of_available_memory_capped() {
        let m = "MemTotal: 8000000 kB\nMemFree: 100 kB\nMemAvailable: 4194304 kB\n";
        assert_eq!(size_to_test(m, 2048), 1 << 30);
        assert_eq!(size_to_test(m, 256), 256 << 20);
        assert_eq!(size_to_test("MemFree: 409600 kB\n", 2048), 100 << 20);
        assert_eq!(size_to_test("", 2048), 0);
    }

    #[test]
    fn skipped_outside_the_ephemeral_environment() {
        let t = tempfile::tempdir().unwrap();
        let ctx = super::super::info::tests::ctx(t.path());
        let mut o = Out::default();
        let d = run(&ctx, &mut o);
        assert_eq!(d.exit, 0);
        assert_eq!(d.result.unwrap()["status"], "skipped");
        assert!(o.out.contains("not in the ephemeral environment"));
    }
}
