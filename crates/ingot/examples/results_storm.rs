//! 1,000 machines posting their commissioning results at once to one `ingot serve`.
//!
//! Each simulated machine (its own token, its own MACs and UUID) reads its script index, posts
//! the start and the end of every commissioning script (the inventory script with a large
//! machine-resources document as its stdout), then signals OK; all machines run at the same
//! time. Reports the wall time, the latency of the inventory uploads, how many machines reached
//! READY with the right hardware, and the region's peak memory.
//!
//! ```text
//! cargo build --release -p ingot
//! cargo run --release -p ingot-core --example inventory_bench -- --write /tmp/big.json
//! cargo run --release -p ingot --example results_storm -- target/release/ingot /tmp/big.json [machines]
//! ```

use std::time::Instant;

use serde_json::Value;

#[path = "storm/mod.rs"]
mod storm;
use storm::{peak_rss_kib, Api};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(bin), Some(doc_path)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: results_storm INGOT_BINARY DOC.json [machines]");
        std::process::exit(2);
    };
    let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let doc = std::fs::read_to_string(doc_path).expect("read the document");
    let prepared = storm::prepare(bin);
    let (server, admin) = storm::serve(bin, &prepared, 2048).await;
    let rss_idle = peak_rss_kib(server.0.id());

    // N machines, commissioning (manual power), and their tokens.
    let t = Instant::now();
    let mut machines = Vec::with_capacity(n);
    for i in 0..n {
        let mac = format!("52:54:01:{:02x}:{:02x}:00", i >> 8, i & 0xff);
        let (st, body) = admin
            .post(
                "/MAAS/api/2.0/machines/",
                &[
                    ("hostname", &format!("storm{i}")),
                    ("architecture", "amd64/generic"),
                    ("mac_addresses", &mac),
                    ("power_type", "manual"),
                    ("testing_scripts", "none"),
                ],
            )
            .await
            .expect("create");
        assert_eq!(st, 200, "{body}");
        let m: Value = serde_json::from_str(&body).unwrap();
        let sid = m["system_id"].as_str().unwrap().to_string();
        let (_, tok) = admin
            .get(&format!("/MAAS/api/2.0/machines/{sid}/?op=get_token"))
            .await
            .expect("token");
        let t: Value = serde_json::from_str(&tok).unwrap();
        let s = |k: &str| t[k].as_str().unwrap_or_default().to_string();
        // This machine's own hardware identity: MACs and UUID rewritten in the document.
        let own = doc
            .replace("0c:c4:7a:", &format!("{:02x}:{:02x}:7b:", i >> 8, i & 0xff))
            .replace(
                "4c4c4544-0051-3010-8057-b4c04f564833",
                &format!("4c4c4544-0051-3010-8057-{i:012x}"),
            );
        machines.push((
            sid,
            (s("consumer_key"), s("token_key"), s("token_secret")),
            own,
        ));
    }
    println!(
        "{n} machines created and commissioning in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // All at once.
    let http = admin.http.clone();
    let base = admin.base.clone();
    let t = Instant::now();
    let tasks = machines.iter().map(|(_, key, own)| {
        let api = Api {
            http: http.clone(),
            base: base.clone(),
            key: key.clone(),
        };
        async move {
            let meta = "/MAAS/metadata/2012-03-01/?op=signal";
            let (_, idx) = api.get("/MAAS/metadata/2012-03-01/maas-scripts/").await?;
            let idx: Value = serde_json::from_str(&idx).unwrap_or(Value::Null);
            let mut inventory_ms = 0.0;
            let mut failures = 0;
            let mut requests = 1usize;
            for e in idx["commissioning_scripts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                let id = e["script_result_id"].as_i64().unwrap_or(0).to_string();
                let name = e["name"].as_str().unwrap_or("").to_string();
                let (st, _) = api
                    .post_files(
                        meta,
                        &[("status", "WORKING"), ("script_result_id", &id)],
                        &[],
                    )
                    .await?;
                failures += usize::from(st != 200);
                requests += 2;
                let out = format!("{name}.out");
                let files: Vec<(&str, &[u8])> = if name == "50-maas-01-commissioning" {
                    vec![
                        (name.as_str(), own.as_bytes()),
                        (out.as_str(), own.as_bytes()),
                    ]
                } else {
                    vec![(out.as_str(), b"ok\n")]
                };
                let t0 = Instant::now();
                let (st, _) = api
                    .post_files(
                        meta,
                        &[
                            ("status", "WORKING"),
                            ("script_result_id", &id),
                            ("exit_status", "0"),
                            ("runtime", "0.1"),
                        ],
                        &files,
                    )
                    .await?;
                if name == "50-maas-01-commissioning" {
                    inventory_ms = t0.elapsed().as_secs_f64() * 1e3;
                }
                failures += usize::from(st != 200);
            }
            let (st, _) = api.post_files(meta, &[("status", "OK")], &[]).await?;
            failures += usize::from(st != 200);
            requests += 1;
            Ok::<(f64, usize, usize), reqwest::Error>((inventory_ms, failures, requests))
        }
    });
    let results = futures::future::join_all(tasks).await;
    let wall = t.elapsed();
    let mut lat: Vec<f64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|x| x.0))
        .collect();
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(x) = src {
            msg = format!("{msg}: {x}");
            src = x.source();
        }
        *kinds.entry(msg).or_default() += 1;
    }
    for (k, v) in &kinds {
        eprintln!("client error x{v}: {k}");
    }
    let errors: usize = results
        .iter()
        .map(|r| r.as_ref().map(|x| x.1).unwrap_or(1))
        .sum();
    let requests: usize = results
        .iter()
        .map(|r| r.as_ref().map(|x| x.2).unwrap_or(0))
        .sum();
    lat.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| {
        lat.get(((lat.len().max(1) - 1) as f64 * p) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let rss_peak = peak_rss_kib(server.0.id());
    // Every machine READY with the generated hardware.
    let (_, list) = admin.get("/MAAS/api/2.0/machines/").await.expect("list");
    let list: Value = serde_json::from_str(&list).unwrap();
    let ready = list
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|m| m["status_name"] == "Ready" && m["cpu_count"] == 256)
                .count()
        })
        .unwrap_or(0);
    println!(
        "{n} machines posted their results at once in {:.1} s ({:.0} requests/s); inventory upload latency p50 {:.0} ms, p99 {:.0} ms; \
         {errors} failed requests; {ready}/{n} READY with 256 CPUs; region peak RSS {} MiB (idle {} MiB)",
        wall.as_secs_f64(),
        requests as f64 / wall.as_secs_f64(),
        q(0.5),
        q(0.99),
        rss_peak / 1024,
        rss_idle / 1024
    );
    drop(server);
}
