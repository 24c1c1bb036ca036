//! Query many BMCs concurrently with the native IPMI driver and report time and memory.
//!
//!   cargo run --release -p ingot-power --example ipmi_sweep -- \
//!       [--user admin] [--pass password] [--cipher 3] [--driver LAN_2_0] [--concurrency 64] \
//!       [--file ADDRS] [--range 127.0.0.1:9101-10100] [HOST:PORT ...]
//!
//! `--file` holds one host:port a line. Prints total time, successes / failures, the
//! process's peak RSS (VmHWM) and peak RSS per BMC.

use ingot_power::ipmi::Ipmi;
use ingot_power::{Params, PowerDriver};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

fn vm_kb(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn usage() -> ! {
    eprintln!("usage: ipmi_sweep [--user U] [--pass P] [--cipher C] [--driver LAN|LAN_2_0] [--concurrency N] [--file F] [--range HOST:A-B] [HOST:PORT...]");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let (mut user, mut pass, mut cipher, mut driver, mut conc) = (
        "admin".to_string(),
        "password".to_string(),
        "3".to_string(),
        "LAN_2_0".to_string(),
        64usize,
    );
    let mut addrs: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--user" => user = val(),
            "--pass" => pass = val(),
            "--cipher" => cipher = val(),
            "--driver" => driver = val(),
            "--concurrency" => conc = val().parse().unwrap_or_else(|_| usage()),
            "--file" => {
                let f = val();
                let text = std::fs::read_to_string(&f).unwrap_or_else(|e| {
                    eprintln!("{f}: {e}");
                    std::process::exit(2)
                });
                addrs.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(String::from),
                );
            }
            "--range" => {
                let r = val();
                let (host, ports) = r.rsplit_once(':').unwrap_or_else(|| usage());
                let (a, b) = ports.split_once('-').unwrap_or_else(|| usage());
                let (a, b): (u16, u16) = (
                    a.parse().unwrap_or_else(|_| usage()),
                    b.parse().unwrap_or_else(|_| usage()),
                );
                addrs.extend((a..=b).map(|p| format!("{host}:{p}")));
            }
            "-h" | "--help" => usage(),
            _ => addrs.push(a),
        }
    }
    if addrs.is_empty() {
        usage();
    }
    let rss_before = vm_kb("VmRSS:").unwrap_or(0);
    let sem = Arc::new(tokio::sync::Semaphore::new(conc.max(1)));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(addrs.len());
    for addr in &addrs {
        let mut p = Params::new();
        for (k, v) in [
            ("power_address", addr.as_str()),
            ("power_user", &user),
            ("power_pass", &pass),
            ("cipher_suite_id", &cipher),
            ("power_driver", &driver),
        ] {
            p.insert(k.into(), Value::String(v.to_string()));
        }
        let sem = sem.clone();
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await.ok()?;
            let r = match Ipmi::from_params(&p) {
                Ok(d) => d.query().await,
                Err(e) => Err(e),
            };
            Some((addr, r))
        }));
    }
    let (mut ok, mut failed, mut on) = (0usize, 0usize, 0usize);
    for t in tasks {
        match t.await.ok().flatten() {
            Some((_, Ok(s))) => {
                ok += 1;
                if s == ingot_power::PowerState::On {
                    on += 1;
                }
            }
            Some((addr, Err(e))) => {
                failed += 1;
                if failed <= 5 {
                    eprintln!("{addr}: {e}");
                }
            }
            None => failed += 1,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let hwm = vm_kb("VmHWM:").unwrap_or(0);
    let n = addrs.len().max(1);
    println!(
        "bmcs={} concurrency={conc} ok={ok} failed={failed} on={on}",
        addrs.len()
    );
    println!(
        "total_seconds={secs:.3} per_bmc_ms={:.2}",
        secs * 1000.0 / n as f64
    );
    println!("peak_rss_kb={hwm} rss_before_kb={rss_before} peak_rss_per_bmc_kb={:.2} extra_rss_per_bmc_kb={:.2}", hwm as f64 / n as f64, hwm.saturating_sub(rss_before) as f64 / n as f64);
}
