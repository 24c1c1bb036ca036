//! Concurrent allocation clients for `bench/ingot-bench.py` phase (e), compiled so that the
//! clients cost the 2-core box little: the Python clients are GIL-bound and took most of a core
//! at 600 allocations/s, which the region then lacked.
//!
//! N clients, each with its own keep-alive connection, `POST machines/?op=allocate` with the
//! same constraints as the Python clients (`cpu_count` 1-16, `mem` 1-16 GiB, `arch` `amd64` or
//! `amd64/generic`, from a seeded generator); on a 409 a client tries once without constraints,
//! and a second 409 (no machine left) stops every client. Every reply is checked: status 10,
//! constraints met. Prints one JSON object on stdout: counts, every reply's latency, the
//! allocated system ids in reply order and the broken constraints; `ingot-bench.py` works out
//! the percentiles and the double allocations from them, as for its own threads.
//!
//! ```text
//! alloc_load URL APIKEY CLIENTS N SECONDS SEED
//! alloc_load http://127.0.0.1:5240/MAAS ck:tk:ts 32 2000 300 1
//! ```

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const CPU: [u32; 5] = [1, 2, 4, 8, 16];
const MEM: [u32; 5] = [1024, 2048, 4096, 8192, 16384];
const ARCH: [&str; 2] = ["amd64", "amd64/generic"];
const ALLOCATED: i64 = 10;

struct Shared {
    tickets: AtomicI64,
    stop: AtomicBool,
    exhausted: AtomicBool,
    time_bounded: AtomicBool,
    conflicts: AtomicI64,
    done: Mutex<Done>,
}

/// What the clients got.
#[derive(Default)]
struct Done {
    /// (system id, seconds) in reply order.
    allocated: Vec<(String, f64)>,
    /// Replies that broke their constraints, as text.
    violations: Vec<String>,
}

/// One allocation: (status, machine, seconds).
async fn allocate(
    http: &reqwest::Client,
    url: &str,
    key: &ingot_cli::Credentials,
    form: &[(&str, String)],
) -> Result<(u16, Value, f64), String> {
    let t = Instant::now();
    let r = http
        .post(url)
        .header("Authorization", key.authorization_now())
        .header("Accept", "application/json")
        .form(form)
        .send()
        .await
        .map_err(|e| format!("allocate: {e}"))?;
    let status = r.status().as_u16();
    let body = r.bytes().await.map_err(|e| format!("allocate: {e}"))?;
    let dt = t.elapsed().as_secs_f64();
    let v = match status {
        200 => serde_json::from_slice(&body).map_err(|e| format!("allocate: {e}"))?,
        409 => Value::Null,
        s => {
            return Err(format!(
                "allocate answered {s}: {}",
                String::from_utf8_lossy(&body)
            ))
        }
    };
    Ok((status, v, dt))
}

async fn client(
    worker: u64,
    seed: u64,
    url: Arc<String>,
    key: Arc<ingot_cli::Credentials>,
    end: Instant,
    s: Arc<Shared>,
) -> Result<(), String> {
    use rand::{Rng, SeedableRng};
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed * 1000 + worker);
    loop {
        if s.stop.load(Ordering::Relaxed) || s.exhausted.load(Ordering::Relaxed) {
            return Ok(());
        }
        if Instant::now() > end {
            s.time_bounded.store(true, Ordering::Relaxed);
            return Ok(());
        }
        if s.tickets.fetch_sub(1, Ordering::Relaxed) <= 0 {
            return Ok(());
        }
        let mut form = vec![
            ("cpu_count", CPU[rng.gen_range(0..CPU.len())].to_string()),
            ("mem", MEM[rng.gen_range(0..MEM.len())].to_string()),
            ("arch", ARCH[rng.gen_range(0..ARCH.len())].to_string()),
        ];
        let (mut st, mut m, mut dt) = allocate(&http, &url, &key, &form).await?;
        if st == 409 {
            // Nothing matches these constraints: once without them; 409 again means no
            // machine is left at all.
            form.clear();
            (st, m, dt) = allocate(&http, &url, &key, &form).await?;
            s.conflicts.fetch_add(1, Ordering::Relaxed);
            if st == 409 {
                s.exhausted.store(true, Ordering::Relaxed);
                return Ok(());
            }
        }
        let sid = m["system_id"]
            .as_str()
            .ok_or_else(|| format!("allocate: no system_id in {m}"))?
            .to_string();
        let mut bad = Vec::new();
        if m["status"].as_i64() != Some(ALLOCATED) {
            bad.push(format!("status {}", m["status"]));
        }
        for (k, v) in &form {
            let want: i64 = v.parse().unwrap_or(0);
            match *k {
                "cpu_count" if m["cpu_count"].as_i64().unwrap_or(0) < want => {
                    bad.push(format!("cpu_count {} < {v}", m["cpu_count"]))
                }
                "mem" if m["memory"].as_i64().unwrap_or(0) < want => {
                    bad.push(format!("memory {} < {v}", m["memory"]))
                }
                "arch"
                    if !m["architecture"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("amd64") =>
                {
                    bad.push(format!("architecture {}", m["architecture"]))
                }
                _ => {}
            }
        }
        let mut done = s.done.lock().unwrap_or_else(|p| p.into_inner());
        if !bad.is_empty() {
            done.violations
                .push(format!("{sid} for {form:?}: {}", bad.join(", ")));
        }
        done.allocated.push((sid, dt));
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 7 {
        eprintln!("usage: alloc_load URL APIKEY CLIENTS N SECONDS SEED");
        std::process::exit(2);
    }
    let num = |i: usize| -> u64 {
        args[i].parse().unwrap_or_else(|_| {
            eprintln!("alloc_load: {:?} is not a number", args[i]);
            std::process::exit(2)
        })
    };
    let url = Arc::new(format!(
        "{}/api/2.0/machines/?op=allocate",
        args[1].trim_end_matches('/')
    ));
    let key = match ingot_cli::Credentials::parse(&args[2]) {
        Ok(Some(k)) => Arc::new(k),
        _ => {
            eprintln!("alloc_load: {:?} is not an API key", args[2]);
            std::process::exit(2)
        }
    };
    let (clients, n, secs, seed) = (num(3), num(4), num(5), num(6));
    let s = Arc::new(Shared {
        tickets: AtomicI64::new(n as i64),
        stop: AtomicBool::new(false),
        exhausted: AtomicBool::new(false),
        time_bounded: AtomicBool::new(false),
        conflicts: AtomicI64::new(0),
        done: Mutex::new(Done::default()),
    });
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..clients)
        .map(|w| {
            let (url, key, s) = (url.clone(), key.clone(), s.clone());
            tokio::spawn(async move {
                let r = client(w, seed, url, key, end, s.clone()).await;
                if r.is_err() {
                    s.stop.store(true, Ordering::Relaxed);
                }
                r
            })
        })
        .collect();
    let mut errors = Vec::new();
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let Done {
        allocated: done,
        violations,
    } = std::mem::take(&mut *s.done.lock().unwrap_or_else(|p| p.into_inner()));
    let ok = done.len();
    let out = json!({
        "client": "alloc_load (Rust)",
        "clients": clients,
        "requested": n,
        "ok": ok,
        "conflicts_409": s.conflicts.load(Ordering::Relaxed),
        "exhausted": s.exhausted.load(Ordering::Relaxed),
        "time_bounded": s.time_bounded.load(Ordering::Relaxed),
        "wall_s": wall,
        // Percentiles and double allocations are the benchmark's to work out, from these.
        "latencies_s": done.iter().map(|(_, dt)| dt).collect::<Vec<_>>(),
        "violations": violations,
        "errors": errors,
        "allocated": done.iter().map(|(sid, _)| sid).collect::<Vec<_>>(),
    });
    println!("{out}");
    if !errors.is_empty() {
        std::process::exit(1);
    }
}
