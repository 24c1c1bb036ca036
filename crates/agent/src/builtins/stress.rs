//! `stress-ng-cpu-short`: one worker thread per CPU, each running arithmetic kernels whose
//! results are checked against values computed another way (closed forms, known constants,
//! two algorithms that must agree), until the duration is over. A single wrong result fails.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{Done, Out};

/// A kernel: given a varying seed, (computed, expected) — they must be equal.
pub type Kernel = fn(u64) -> (u64, u64);

/// Σ i² for i in 1..=n by loop, against n(n+1)(2n+1)/6 (both mod 2⁶⁴).
fn sum_squares(seed: u64) -> (u64, u64) {
    let n = black_box(50_000 + seed % 1000);
    let mut s: u64 = 0;
    for i in 1..=n {
        s = s.wrapping_add(i.wrapping_mul(i));
    }
    let n = u128::from(n);
    let closed = (n * (n + 1) * (2 * n + 1) / 6) as u64;
    (s, closed)
}

/// Primes below 100 000 by a sieve: there are 9592.
fn sieve(_seed: u64) -> (u64, u64) {
    let limit = black_box(100_000usize);
    let mut composite = vec![false; limit];
    let mut count = 0u64;
    for i in 2..limit {
        if !composite[i] {
            count += 1;
            let mut j = i * i;
            while j < limit {
                composite[j] = true;
                j += i;
            }
        }
    }
    (count, 9592)
}

/// CRC-32 (IEEE) bit by bit vs table-driven over a pseudo-random buffer, and the check value
/// of "123456789" (0xCBF43926).
fn crc(seed: u64) -> (u64, u64) {
    fn bitwise(data: &[u8]) -> u32 {
        let mut c = !0u32;
        for b in data {
            c ^= u32::from(*b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    fn table() -> [u32; 256] {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    }
    fn tabled(t: &[u32; 256], data: &[u8]) -> u32 {
        let mut c = !0u32;
        for b in data {
            c = t[((c ^ u32::from(*b)) & 0xff) as usize] ^ (c >> 8);
        }
        !c
    }
    let mut x = seed | 1;
    let data: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let t = table();
    let check = u64::from(bitwise(black_box(b"123456789")));
    let a = u64::from(bitwise(&data)) ^ check;
    let b = u64::from(tabled(&t, &data)) ^ 0xCBF4_3926;
    (a, b)
}

/// (A·B)·C against A·(B·C) for 12×12 integer matrices (exact under wrapping arithmetic).
fn matrices(seed: u64) -> (u64, u64) {
    const N: usize = 12;
    type M = [[u64; N]; N];
    fn mul(a: &M, b: &M) -> M {
        let mut c = [[0u64; N]; N];
        for i in 0..N {
            for j in 0..N {
                let mut s = 0u64;
                for k in 0..N {
                    s = s.wrapping_add(a[i][k].wrapping_mul(b[k][j]));
                }
                c[i][j] = s;
            }
        }
        c
    }
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut m = || {
        let mut a = [[0u64; N]; N];
        for row in a.iter_mut() {
            for v in row.iter_mut() {
                *v = next();
            }
        }
        a
    };
    let (a, b, c) = (m(), m(), m());
    let l = mul(&mul(&a, &b), &c);
    let r = mul(&a, &mul(&b, &c));
    let fold = |m: &M| m.iter().flatten().fold(0u64, |h, v| h.rotate_left(5) ^ v);
    (fold(&l), fold(&r))
}

/// Newton's square root against the hardware's, to within a relative 1e-12.
fn roots(seed: u64) -> (u64, u64) {
    let mut bad = 0u64;
    for i in 1..2000u64 {
        let v = black_box((i * 7919 + seed % 1000) as f64 * 1.000_1);
        let mut g = v / 2.0;
        for _ in 0..60 {
            g = 0.5 * (g + v / g);
        }
        if ((g - v.sqrt()) / v.sqrt()).abs() > 1e-12 {
            bad += 1;
        }
    }
    (bad, 0)
}

pub const KERNELS: &[(&str, Kernel)] = &[
    ("sum-squares", sum_squares),
    ("sieve", sieve),
    ("crc32", crc),
    ("matrix", matrices),
    ("sqrt", roots),
];

/// What one worker did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerResult {
    pub ops: u64,
    pub errors: Vec<String>,
}

/// Runs `kernels` round-robin until `deadline` (at least one round).
pub fn worker(id: u64, kernels: &[(&str, Kernel)], deadline: Instant) -> WorkerResult {
    let mut r = WorkerResult::default();
    let mut seed = id.wrapping_mul(1_000_003);
    loop {
        for (name, k) in kernels {
            seed = seed.wrapping_add(1);
            let (got, want) = k(seed);
            if got != want {
                r.errors.push(format!(
                    "worker {id}: {name} gave {got:#x}, expected {want:#x} (seed {seed})"
                ));
            }
            r.ops += 1;
        }
        if Instant::now() >= deadline || r.errors.len() > 100 {
            return r;
        }
    }
}

/// Runs `workers` threads of `kernels` for `duration`.
pub fn stress(
    workers: usize,
    kernels: &'static [(&'static str, Kernel)],
    duration: Duration,
) -> Vec<WorkerResult> {
    let deadline = Instant::now() + duration;
    let handles: Vec<_> = (0..workers as u64)
        .map(|id| std::thread::spawn(move || worker(id, kernels, deadline)))
        .collect();
    handles
        .into_iter()
        .map(|h| {
            h.join().unwrap_or_else(|_| WorkerResult {
                ops: 0,
                errors: vec!["a worker thread panicked".into()],
            })
        })
        .collect()
}

/// CPUs this process may run on.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub fn run(out: &mut Out, duration: Duration) -> Done {
    let n = cpus();
    out.line(format!(
        "{n} worker(s), {} s, kernels: {}",
        duration.as_secs(),
        KERNELS
            .iter()
            .map(|(k, _)| *k)
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let start = Instant::now();
    let results = stress(n, KERNELS, duration);
    let secs = start.elapsed().as_secs_f64();
    let ops: u64 = results.iter().map(|r| r.ops).sum();
    let errors: Vec<&String> = results.iter().flat_map(|r| &r.errors).collect();
    for (i, r) in results.iter().enumerate() {
        out.line(format!("worker {i}: {} kernel runs", r.ops));
    }
    for e in &errors {
        out.eline(e.as_str());
    }
    out.line(format!(
        "{ops} kernel runs in {secs:.1} s ({:.1}/s), {} wrong result(s)",
        ops as f64 / secs.max(0.001),
        errors.len()
    ));
    Done::with(
        i32::from(!errors.is_empty()),
        json!({
            "results": {"workers": n, "bogo_ops": ops, "seconds": (secs * 10.0).round() / 10.0,
                        "errors": errors.len()},
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_agree_with_their_checks() {
        for (name, k) in KERNELS {
            for seed in [0, 1, 2, 12345, u64::MAX] {
                let (got, want) = k(seed);
                assert_eq!(got, want, "{name} seed {seed}");
            }
        }
    }

    #[test]
    fn runs_every_cpu_for_the_duration() {
        let start = Instant::now();
        let r = stress(2, KERNELS, Duration::from_millis(300));
        assert!(start.elapsed() >= Duration::from_millis(300));
        assert_eq!(r.len(), 2);
        assert!(r
            .iter()
            .all(|w| w.ops >= KERNELS.len() as u64 && w.errors.is_empty()));
        let mut o = Out::default();
        let d = run(&mut o, Duration::from_millis(1));
        assert_eq!(d.exit, 0, "{}", o.err);
        assert_eq!(d.result.unwrap()["results"]["workers"], cpus());
    }

    #[test]
    fn a_wrong_result_is_caught() {
        fn flaky(seed: u64) -> (u64, u64) {
            (
                if seed.is_multiple_of(3) {
                    seed + 1
                } else {
                    seed
                },
                seed,
            )
        }
        const BAD: &[(&str, Kernel)] = &[("flaky", flaky)];
        let r = worker(0, BAD, Instant::now() + Duration::from_millis(20));
        assert!(!r.errors.is_empty());
        assert!(r.errors[0].contains("flaky gave"), "{:?}", r.errors);
        let results = stress(1, BAD, Duration::from_millis(10));
        assert!(!results[0].errors.is_empty());
    }
}
