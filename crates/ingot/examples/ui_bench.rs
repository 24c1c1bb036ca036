//! The web UI with a fleet in the database, measured in Debian's headless Chromium through
//! chromedriver (loopback only): time from navigation to the machine list painted (first
//! contentful paint) and bytes transferred for that first load, time for a filter (a new URL)
//! to show its results, and time from a change committed through the API to it appearing in
//! an open page. Targets (issue 15): under 1 s, under 300 KB, under 300 ms, under 1 s.
//!
//! ```text
//! cargo build --release -p ingot
//! cargo run --release -p ingot --example ui_bench -- target/release/ingot [machines=10000]
//! ```
//! Needs chromium and chromium-driver (`scripts/peers/chromium.sh`). Prints one JSON object.

use std::time::{Duration, Instant};

use serde_json::json;

#[path = "storm/mod.rs"]
mod storm;
use storm::{peak_rss_kib, Api};

#[path = "../tests/common/webdriver.rs"]
mod webdriver;
use webdriver::{chromedriver, start_driver, Browser};

const RUNS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The navigation's timing as the page saw it: (first contentful paint ms, bytes).
async fn navigation(b: &Browser) -> (f64, f64) {
    let v = b
        .js("const n = performance.getEntriesByType('navigation')[0]; const p = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint'); const r = performance.getEntriesByType('resource').reduce((a, e) => a + e.transferSize, 0); return [p ? p.startTime : n.domContentLoadedEventEnd, n.transferSize + r, p ? 1 : 0]")
        .await;
    (v[0].as_f64().unwrap_or(-1.0), v[1].as_f64().unwrap_or(0.0))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(bin) = args.get(1) else {
        eprintln!("usage: ui_bench INGOT_BINARY [machines]");
        std::process::exit(2);
    };
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let Some(cd) = chromedriver() else {
        eprintln!("no chromedriver: run scripts/peers/chromium.sh");
        std::process::exit(2);
    };
    let prepared = storm::prepare(bin);
    let (server, admin) = storm::serve(bin, &prepared, 64).await;

    // The fleet: NEW machines (not commissioned), made by 16 clients at once.
    let t = Instant::now();
    let workers: Vec<_> = (0..16)
        .map(|w| {
            let api = Api {
                http: admin.http.clone(),
                base: admin.base.clone(),
                key: admin.key.clone(),
            };
            tokio::spawn(async move {
                for i in (w..n).step_by(16) {
                    let mac = format!(
                        "52:54:02:{:02x}:{:02x}:{:02x}",
                        i >> 16,
                        (i >> 8) & 0xff,
                        i & 0xff
                    );
                    let (st, body) = api
                        .post(
                            "/MAAS/api/2.0/machines/",
                            &[
                                ("hostname", &format!("m{i:05}")),
                                ("architecture", "amd64/generic"),
                                ("mac_addresses", &mac),
                                ("power_type", "manual"),
                                ("commission", "false"),
                            ],
                        )
                        .await
                        .expect("create");
                    assert_eq!(st, 200, "{body}");
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let created_s = t.elapsed().as_secs_f64();
    admin
        .post("/MAAS/api/2.0/zones/", &[("name", "lab")])
        .await
        .unwrap();
    // The API's whole list, as a reference point in the same run.
    let t = Instant::now();
    let (_, all) = admin.get("/MAAS/api/2.0/machines/").await.unwrap();
    let api_list_ms = t.elapsed().as_secs_f64() * 1000.0;

    let driver = start_driver(&cd).await;
    let b = Browser::new(&driver, &admin.base).await;
    b.sign_in("admin", "pw").await;

    // First load of the list.
    let mut paint = Vec::new();
    let mut bytes = Vec::new();
    let mut wall = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        b.goto(&format!("{}/MAAS/r/", admin.base)).await;
        wall.push(t.elapsed().as_secs_f64() * 1000.0);
        let (p, by) = navigation(&b).await;
        paint.push(p);
        bytes.push(by);
    }
    let rows = b
        .js("return document.querySelectorAll('tr[data-id]').length")
        .await;
    // A filter: the URL that shows its results.
    let mut filter = Vec::new();
    for i in 0..RUNS {
        b.goto(&format!("{}/MAAS/r/?q=m00{i}", admin.base)).await;
        filter.push(navigation(&b).await.0);
    }
    let filtered = b
        .js("return document.querySelector('p.count').textContent")
        .await;
    // A change committed through the API, seen in the open page.
    b.goto(&format!("{}/MAAS/r/", admin.base)).await;
    b.until(
        "the live stream",
        "return document.getElementById('live').textContent === 'live'",
        Duration::from_secs(10),
    )
    .await;
    let first = b
        .js("return Array.from(document.querySelectorAll('tr[data-id]')).find(r => r.querySelector('td.status').textContent.startsWith('New')).dataset.id")
        .await;
    let sid = first.as_str().unwrap().to_string();
    let mut live = Vec::new();
    for i in 0..RUNS {
        let zone = if i % 2 == 0 { "lab" } else { "default" };
        let t = Instant::now();
        let (st, body) = admin
            .put_form(&format!("/MAAS/api/2.0/machines/{sid}/"), &[("zone", zone)])
            .await;
        assert_eq!(st, 200, "{body}");
        b.until(
            "the zone shown",
            &format!(
                "const r = document.querySelector('tr[data-id=\"{sid}\"]'); return !!r && r.children[9].textContent === '{zone}'"
            ),
            Duration::from_secs(10),
        )
        .await;
        live.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let out = json!({
        "machines": n,
        "created_in_s": created_s,
        "rows_on_first_page": rows,
        "first_load_paint_ms": {"median": median(paint.clone()), "runs": paint},
        "first_load_wall_ms": {"median": median(wall.clone()), "runs": wall},
        "first_load_bytes": {"median": median(bytes.clone()), "runs": bytes},
        "filter_paint_ms": {"median": median(filter.clone()), "runs": filter, "shown": filtered},
        "change_to_page_ms": {"median": median(live.clone()), "max": live.iter().cloned().fold(0.0, f64::max), "runs": live},
        "api_full_list_ms": api_list_ms,
        "api_full_list_bytes": all.len(),
        "region_peak_rss_kib": peak_rss_kib(server.0.id()),
    });
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
    drop(driver);
    drop(server);
}
