//! Times deriving a machine's inventory from its machine-resources document and storing it
//! (machine fields, block devices, interfaces, the document) in one transaction, the way a
//! `50-maas-01-commissioning` upload is handled, on the embedded database (SQLite, WAL) or on
//! PostgreSQL.
//!
//! ```text
//! cargo run --release -p ingot-core --example inventory_bench -- --write /tmp/big.json
//! cargo run --release -p ingot-store --example inventory_store_bench -- /tmp/big.json [iterations] [database-url]
//! ```
//! Without a database URL a fresh SQLite file in a temporary directory is used.

use std::time::{Duration, Instant};

use ingot_core::inventory::derive;
use ingot_store::{NewMachine, Store};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: inventory_store_bench DOC.json [iterations] [database-url]");
        std::process::exit(2);
    };
    let iterations: usize = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
        .max(1);
    let doc = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            std::process::exit(1);
        }
    };
    let dir = std::env::temp_dir().join(format!("ingot-invbench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let url = args
        .get(3)
        .cloned()
        .unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.sqlite").display()));
    let store = match Store::open(&url).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot open {url}: {e}");
            std::process::exit(1);
        }
    };
    let m = NewMachine {
        hostname: format!("bench-{}", std::process::id()),
        domain_id: 1,
        description: String::new(),
        status: None,
        owner_id: None,
        architecture: Some("amd64/generic".into()),
        min_hwe_kernel: String::new(),
        power_type: "manual".into(),
        power_parameters: serde_json::json!({}),
        zone_id: 1,
        pool_id: 1,
        cpu_count: 0,
        memory: 0,
        enlisting: false,
        mac_addresses: vec![],
        hardware_uuid: None,
        ..Default::default()
    };
    let machine = match store.insert_machine(&m, &[]).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("cannot create the machine: {e}");
            std::process::exit(1);
        }
    };
    let mut times: Vec<Duration> = Vec::with_capacity(iterations);
    let mut store_only: Vec<Duration> = Vec::with_capacity(iterations);
    for i in 0..iterations + 10 {
        let t = Instant::now();
        let inv = match derive(&doc) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("derive failed: {e}");
                std::process::exit(1);
            }
        };
        let t1 = Instant::now();
        if let Err(e) = store.apply_inventory(machine.id, &inv, true).await {
            eprintln!("apply_inventory failed: {e}");
            std::process::exit(1);
        }
        // The first runs create the rows; the rest are what recommissioning costs.
        if i >= 10 {
            times.push(t.elapsed());
            store_only.push(t1.elapsed());
        }
    }
    let first = store
        .machine_by_id(machine.id)
        .await
        .ok()
        .flatten()
        .map(|m| {
            (
                m.cpu_count,
                m.memory,
                m.block_devices.len(),
                m.interfaces.len(),
            )
        });
    times.sort_unstable();
    store_only.sort_unstable();
    let q = |v: &[Duration], p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    println!(
        "database: {}; document {} bytes; stored machine (cpus, MiB, block devices, interfaces) = {:?}",
        url.split(':').next().unwrap_or("?"),
        doc.len(),
        first
    );
    println!(
        "derive + store, {iterations} runs: median {:.3} ms, p99 {:.3} ms, max {:.3} ms (store alone: median {:.3} ms)",
        q(&times, 0.5).as_secs_f64() * 1e3,
        q(&times, 0.99).as_secs_f64() * 1e3,
        q(&times, 1.0).as_secs_f64() * 1e3,
        q(&store_only, 0.5).as_secs_f64() * 1e3,
    );
    // First commissioning of a machine: every row is new.
    let mut fresh: Vec<Duration> = Vec::new();
    for i in 0..iterations.min(200) {
        let mut nm = m.clone();
        nm.hostname = format!("fresh-{}-{i}", std::process::id());
        let Ok(mc) = store.insert_machine(&nm, &[]).await else {
            eprintln!("cannot create a machine");
            std::process::exit(1);
        };
        let t = Instant::now();
        let ok = match derive(&doc) {
            Ok(inv) => store.apply_inventory(mc.id, &inv, true).await.is_ok(),
            Err(_) => false,
        };
        fresh.push(t.elapsed());
        if !ok {
            eprintln!("first-time store failed");
            std::process::exit(1);
        }
        // The same hardware cannot be on two machines (MACs are unique): free them again.
        let _ = store
            .delete_machine(&mc, &ingot_store::NewEvent::info("Deleted", "bench", ""))
            .await;
    }
    fresh.sort_unstable();
    println!(
        "first commissioning (all rows new), {} runs: median {:.3} ms, p99 {:.3} ms",
        fresh.len(),
        q(&fresh, 0.5).as_secs_f64() * 1e3,
        q(&fresh, 0.99).as_secs_f64() * 1e3,
    );
    let _ = std::fs::remove_dir_all(&dir);
}
