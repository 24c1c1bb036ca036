//! `/MAAS/metrics`, `/MAAS/healthz` and `/MAAS/readyz` of the real binary: Prometheus's own
//! `promtool check metrics` (Debian's prometheus package) accepts the exposition, and the
//! figures follow what the test does through the API — machines by status, the requests per
//! handler, the status changes, the power operations.

mod common;
use common::{mac, Server};
use std::io::Write;
use std::process::{Command, Stdio};

/// The value of the sample `name{labels}` (labels as the text has them), if there is one.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

fn promtool(text: &str) -> (bool, String) {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!("promtool (Debian package prometheus; scripts/peers/metrics.sh): {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_in_prometheus_format_follow_the_api() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let anon = s.anon();
    // Health: the process, and its database.
    let h = anon.get("/MAAS/healthz").await;
    assert_eq!((h.status.as_u16(), h.body.trim()), (200, "ok"));
    let r = anon.get("/MAAS/readyz").await;
    assert_eq!((r.status.as_u16(), r.body.trim()), (200, "ready"));

    // Three machines: two commissioned to Ready (manual power: no BMC), one left New.
    for i in 0..2 {
        c.ready_machine(&format!("met-{i}"), &mac(700 + i), &[])
            .await;
    }
    c.post(
        "/MAAS/api/2.0/machines/",
        &[
            ("architecture", "amd64/generic"),
            ("mac_addresses", &mac(710)),
            ("hostname", "met-new"),
            ("commission", "false"),
        ],
    )
    .await
    .ok();
    let listed = c.get("/MAAS/api/2.0/machines/").await.ok().json();
    let ready = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["status_name"] == "Ready")
        .count();
    assert_eq!(ready, 2);

    let m = anon.get("/MAAS/metrics").await;
    assert_eq!(m.status, 200);
    assert!(
        m.content_type.starts_with("text/plain"),
        "{}",
        m.content_type
    );
    let (ok, says) = promtool(&m.body);
    assert!(ok, "promtool check metrics: {says}\n{}", m.body);

    // Machines by status: as the API lists them (this host's region controller is a machine
    // too), every status present, zero or not.
    let mut by: std::collections::BTreeMap<String, f64> = Default::default();
    for m in listed.as_array().unwrap() {
        *by.entry(m["status_name"].as_str().unwrap().to_string())
            .or_default() += 1.0;
    }
    assert_eq!(by.get("Ready"), Some(&2.0));
    assert_eq!(by.get("New"), Some(&1.0));
    for status in ["Ready", "New", "Deployed", "Broken", "Failed commissioning"] {
        let want = by.get(status).copied().unwrap_or(0.0);
        let series = format!("ingot_machines{{status=\"{status}\"}}");
        assert_eq!(sample(&m.body, &series), Some(want), "{series}");
    }
    assert_eq!(sample(&m.body, "ingot_deploy_queue_depth"), Some(0.0));
    // Commissioning the two went New → Commissioning → Testing → Ready.
    assert_eq!(
        sample(
            &m.body,
            "ingot_transitions_total{from=\"Testing\",to=\"Ready\"}"
        ),
        Some(2.0),
        "{}",
        m.body
    );
    // Each request is counted under its handler: one more list, one more count.
    let list = "ingot_http_request_duration_seconds_count{code=\"2xx\",handler=\"MachinesHandler\",method=\"GET\"}";
    let lists = sample(&m.body, list).expect("the lists so far");
    assert!(lists >= 1.0);
    c.get("/MAAS/api/2.0/machines/").await.ok();
    c.get("/MAAS/api/2.0/machines/nosuch/").await.expect(404);
    // The database pool is open.
    assert!(sample(&m.body, "ingot_db_pool_connections").is_some_and(|n| n >= 1.0));
    assert!(
        m.body.contains("ingot_rack_dns_answers_total"),
        "the rack's counters"
    );
    // A second scrape sees the first, the list and the miss.
    let again = anon.get("/MAAS/metrics").await.body;
    let scrapes = "ingot_http_request_duration_seconds_count{code=\"2xx\",handler=\"metrics\",method=\"GET\"}";
    assert_eq!(sample(&again, scrapes), Some(1.0));
    assert_eq!(sample(&again, list), Some(lists + 1.0));
    let miss = "ingot_http_request_duration_seconds_count{code=\"4xx\",handler=\"MachineHandler\",method=\"GET\"}";
    assert_eq!(sample(&again, miss), Some(1.0), "{again}");
}

/// The database gone (PostgreSQL refusing connections): readiness and the API say so with 503
/// and `Retry-After`, liveness still answers, and all is back by itself when it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database() {
    let Some(s) = Server::start_pg(&[]).await else {
        return;
    };
    let anon = s.anon();
    assert_eq!(anon.get("/MAAS/readyz").await.status, 200);
    // Take the test's database away under the running region.
    let name = s.db.rsplit('/').next().expect("a database URL").to_string();
    let admin = common::pg_url().expect("INGOT_TEST_PG_URL");
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
        .await
        .expect("connect");
    let run = |sql: String| sql;
    for sql in [
        run(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")),
        run(format!(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{name}'"
        )),
    ] {
        sqlx::query(&sql).execute(&mut conn).await.expect(&sql);
    }
    let mut r = anon.get("/MAAS/readyz").await;
    for _ in 0..20 {
        if r.status == 503 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        r = anon.get("/MAAS/readyz").await;
    }
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("database"), "{}", r.body);
    let raw = reqwest::get(format!("{}/MAAS/readyz", s.base))
        .await
        .unwrap();
    assert_eq!(
        raw.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    assert_eq!(anon.get("/MAAS/healthz").await.status, 200);
    // The API says so too, quickly and with a hint when to try again: never a hang, never a
    // 500.
    let t = std::time::Instant::now();
    let list = reqwest::Client::new()
        .get(format!("{}/MAAS/api/2.0/machines/", s.base))
        .header("Authorization", s.client().auth_header().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 503, "{:?}", list.text().await);
    assert!(t.elapsed() < std::time::Duration::from_secs(12));
    assert_eq!(
        list.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    assert!(list.text().await.unwrap().contains("try again"));
    // Back: ready again, by itself.
    sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .execute(&mut conn)
        .await
        .unwrap();
    let mut back = false;
    for _ in 0..40 {
        if anon.get("/MAAS/readyz").await.status == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(back, "ready again once the database is back");
    s.client().get("/MAAS/api/2.0/machines/").await.ok();
}
