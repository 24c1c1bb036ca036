//! N machines deploying at once through one `ingot serve`, with admission control.
//!
//! Every simulated machine is commissioned (its own inventory: the document given, with its
//! own MACs and UUID), allocated and deployed at the same moment; the region admits at most
//! `max_concurrent_deployments` (10 by default) and queues the rest. Each machine then behaves
//! as a real one does: it asks for its iPXE script until the boot decision sends it to the
//! deploy environment, downloads the ephemeral kernel and initrd, reads its deploy
//! configuration, streams the OS image (checking its SHA-256), posts its progress events,
//! turns netboot off, asks for its iPXE script again (now: boot from disk) and reports
//! cloud-init's `modules-final` → DEPLOYED, which frees a slot for the next one.
//!
//! Reports the total time, how many machines downloaded the image at once at most, every
//! machine's state at the end, and the peak memory of the region process (the all-in-one
//! region + rack).
//!
//! ```text
//! cargo build --release -p ingot -p ingot-agent
//! cargo run --release -p ingot --example deploy_storm -- target/release/ingot ../shared/fixtures/lxd [machines] [limit] [image MiB]
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::Digest;

#[path = "storm/mod.rs"]
mod storm;
use storm::{peak_rss_kib, run, Api};

const META: &str = "/MAAS/metadata/2012-03-01/";

async fn event(api: &Api, sid: &str, kind: &str, name: &str, result: &str) -> u16 {
    let ev = serde_json::json!({"event_type": kind, "origin": "curtin", "name": name,
        "description": name, "result": result, "timestamp": 1700000000.0});
    api.http
        .post(format!("{}/MAAS/metadata/status/{sid}", api.base))
        .header("Authorization", api.auth())
        .header("Content-Type", "application/json")
        .body(ev.to_string())
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// GET a URL to the end, returning (status, bytes, sha256).
async fn fetch(api: &Api, url: &str) -> reqwest::Result<(u16, u64, String)> {
    let mut r = api
        .http
        .get(url)
        .header("Authorization", api.auth())
        .send()
        .await?;
    let st = r.status().as_u16();
    let mut h = sha2::Sha256::new();
    let mut n = 0u64;
    while let Some(chunk) = r.chunk().await? {
        n += chunk.len() as u64;
        h.update(&chunk);
    }
    Ok((st, n, hex(&h.finalize())))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One machine's deployment, from the first iPXE request to modules-final.
async fn deploy_one(
    api: Api,
    sid: String,
    mac: String,
    downloading: Arc<AtomicUsize>,
    max_downloading: Arc<AtomicUsize>,
) -> Result<Duration, String> {
    let t = Instant::now();
    let ipxe = format!("/MAAS/boot/ipxe?mac={mac}&arch=amd64&firmware=bios");
    // 1. Wait for the boot decision to send the machine to the deploy environment.
    let script = loop {
        let (st, body) = api.get(&ipxe).await.map_err(|e| e.to_string())?;
        if st != 200 {
            return Err(format!("ipxe {st}: {body}"));
        }
        if body.contains("ingot.purpose=deploy") {
            break body;
        }
        if t.elapsed() > Duration::from_secs(1800) {
            return Err(format!("never admitted: {body}"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // The machine's credentials, as the agent reads them from its kernel command line (the
    // token changed when the machine was allocated).
    let api = match script
        .split_whitespace()
        .find_map(|w| w.strip_prefix("ingot.token="))
        .map(|t| t.split(':').map(String::from).collect::<Vec<_>>())
    {
        Some(k) if k.len() == 3 => Api {
            http: api.http.clone(),
            base: api.base.clone(),
            key: (k[0].clone(), k[1].clone(), k[2].clone()),
        },
        _ => return Err(format!("no ingot.token in the iPXE script: {script}")),
    };
    // 2. The kernel and initrd the script names.
    for word in script.split_whitespace() {
        if let Some(rest) = word.split("/boot/images/").nth(1) {
            let url = format!("{}/MAAS/boot/images/{rest}", api.base);
            let (st, _, _) = fetch(&api, &url).await.map_err(|e| e.to_string())?;
            if st != 200 {
                return Err(format!("boot file {st}"));
            }
        }
    }
    // 3. The deploy configuration, then the image, checked.
    let (st, body) = api
        .get(&format!("{META}../latest/deploy-config"))
        .await
        .map_err(|e| e.to_string())?;
    if st != 200 {
        return Err(format!("deploy-config {st}: {body}"));
    }
    let cfg: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    for step in ["config", "storage"] {
        event(
            &api,
            &sid,
            "start",
            &format!("cmd-install/stage-{step}"),
            "SUCCESS",
        )
        .await;
        event(
            &api,
            &sid,
            "finish",
            &format!("cmd-install/stage-{step}"),
            "SUCCESS",
        )
        .await;
    }
    event(&api, &sid, "start", "cmd-install/stage-image", "SUCCESS").await;
    let now = downloading.fetch_add(1, Ordering::SeqCst) + 1;
    max_downloading.fetch_max(now, Ordering::SeqCst);
    let got = fetch(&api, cfg["image"]["url"].as_str().unwrap_or_default()).await;
    downloading.fetch_sub(1, Ordering::SeqCst);
    let (st, n, sha) = got.map_err(|e| e.to_string())?;
    if st != 200 || n != cfg["image"]["size"].as_u64().unwrap_or(0) || sha != cfg["image"]["sha256"]
    {
        return Err(format!("image: {st}, {n} bytes, sha256 {sha}"));
    }
    event(&api, &sid, "finish", "cmd-install/stage-image", "SUCCESS").await;
    // 4. Boot from disk from now on.
    let (st, body) = api
        .post(&format!("{META}?op=netboot_off"), &[])
        .await
        .map_err(|e| e.to_string())?;
    if st != 200 {
        return Err(format!("netboot_off {st}: {body}"));
    }
    let (_, body) = api.get(&ipxe).await.map_err(|e| e.to_string())?;
    if !body.contains("exit") {
        return Err(format!(
            "after install the machine should boot its disk: {body}"
        ));
    }
    // 5. The installed OS reports.
    let ev = serde_json::json!({"event_type": "finish", "origin": "cloud-init", "name": "modules-final",
        "description": "running modules for final", "result": "SUCCESS", "timestamp": 1700000000.0});
    let st = api
        .http
        .post(format!("{}/MAAS/metadata/status/{sid}", api.base))
        .header("Authorization", api.auth())
        .header("Content-Type", "application/json")
        .body(ev.to_string())
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())?;
    if !(200..300).contains(&st) {
        return Err(format!("modules-final {st}"));
    }
    Ok(t.elapsed())
}

/// The machine-resources document: the file given, or — given the fixtures directory — its
/// `SAMPLE_LXD_RESOURCES.json` and `SAMPLE_LXD_NETWORKS.json` wrapped as
/// `machine-resources` prints them.
fn machine_resources(path: &str) -> String {
    let p = std::path::Path::new(path);
    if !p.is_dir() {
        return std::fs::read_to_string(p).expect("read the document");
    }
    let read = |f: &str| -> Value {
        serde_json::from_slice(&std::fs::read(p.join(f)).expect("fixture")).expect("fixture JSON")
    };
    serde_json::json!({
        "api_version": "1.0",
        "api_extensions": ["resources", "resources_cpu_socket", "resources_gpu", "resources_numa",
            "resources_v2", "resources_disk_sata", "resources_network_firmware", "resources_disk_id",
            "resources_usb_pci", "resources_cpu_threads_numa", "resources_cpu_core_die", "api_os",
            "resources_system", "resources_pci_iommu", "resources_network_usb", "resources_disk_address"],
        "environment": {"kernel": "Linux", "kernel_architecture": "x86_64", "kernel_version": "6.1.0",
            "os_name": "ubuntu", "os_version": "22.04", "server": "maas-machine-resources",
            "server_name": "bench", "server_version": "5.0"},
        "resources": read("SAMPLE_LXD_RESOURCES.json"),
        "networks": read("SAMPLE_LXD_NETWORKS.json"),
    })
    .to_string()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(bin), Some(doc_path)) = (args.get(1), args.get(2)) else {
        eprintln!(
            "usage: deploy_storm INGOT_BINARY DOC.json|FIXTURES_DIR [machines] [limit] [image MiB]"
        );
        std::process::exit(2);
    };
    let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(50);
    let limit: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(10);
    let image_mib: usize = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(48);
    let doc = machine_resources(doc_path);
    let prepared = storm::prepare(bin);
    let data = prepared.data.clone();
    // The ephemeral environment, so that the boot decision can send machines to it.
    let agent = std::path::Path::new(bin).with_file_name("ingot-agent");
    let t = Instant::now();
    run(
        bin,
        &[
            "images",
            "build",
            "--data-dir",
            &data,
            "--agent",
            agent.to_str().unwrap_or(""),
        ],
    );
    println!(
        "ephemeral image built in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let (server, admin) = storm::serve(bin, &prepared, 256).await;
    let (http, base) = (admin.http.clone(), admin.base.clone());
    let rss_idle = peak_rss_kib(server.0.id());
    let (st, body) = admin
        .post(
            "/MAAS/api/2.0/maas/?op=set_config",
            &[
                ("name", "max_concurrent_deployments"),
                ("value", &limit.to_string()),
            ],
        )
        .await
        .expect("set_config");
    assert_eq!(st, 200, "{body}");

    // The OS image: random bytes, uploaded as a raw custom image.
    let image: Vec<u8> = (0..image_mib << 20).map(|_| rand::random::<u8>()).collect();
    let (st, body) = admin
        .post_files(
            "/MAAS/api/2.0/boot-resources/",
            &[
                ("name", "custom/bench"),
                ("architecture", "amd64/generic"),
                ("filetype", "ddraw"),
            ],
            &[("content", &image)],
        )
        .await
        .expect("upload");
    assert!((200..300).contains(&st), "{st} {body}");
    drop(image);

    // N machines commissioned to READY with their own inventory.
    let t = Instant::now();
    let mut machines = Vec::with_capacity(n);
    for i in 0..n {
        let mac = format!("52:54:02:{:02x}:{:02x}:00", i >> 8, i & 0xff);
        let (st, body) = admin
            .post(
                "/MAAS/api/2.0/machines/",
                &[
                    ("hostname", &format!("deploy{i}")),
                    ("architecture", "amd64/generic"),
                    ("mac_addresses", &mac),
                    ("power_type", "manual"),
                    ("testing_scripts", "none"),
                ],
            )
            .await
            .expect("create");
        assert_eq!(st, 200, "{body}");
        let m: Value = serde_json::from_str(&body).expect("machine JSON");
        let sid = m["system_id"].as_str().unwrap_or_default().to_string();
        let (_, tok) = admin
            .get(&format!("/MAAS/api/2.0/machines/{sid}/?op=get_token"))
            .await
            .expect("token");
        let tk: Value = serde_json::from_str(&tok).expect("token JSON");
        let s = |k: &str| tk[k].as_str().unwrap_or_default().to_string();
        let api = Api {
            http: http.clone(),
            base: base.clone(),
            key: (s("consumer_key"), s("token_key"), s("token_secret")),
        };
        let own = doc
            .replace("0c:c4:7a:", &format!("{:02x}:{:02x}:7c:", i >> 8, i & 0xff))
            .replace(
                "\"00:00:00:00:00:",
                &format!("\"52:55:{:02x}:{:02x}:00:", i >> 8, i & 0xff),
            )
            .replace(
                "4c4c4544-0051-3010-8057-b4c04f564833",
                &format!("4c4c4544-0051-3010-8057-{i:012x}"),
            );
        let (_, idx) = api
            .get(&format!("{META}maas-scripts/"))
            .await
            .expect("index");
        let idx: Value = serde_json::from_str(&idx).unwrap_or(Value::Null);
        for e in idx["commissioning_scripts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let id = e["script_result_id"].as_i64().unwrap_or(0).to_string();
            let name = e["name"].as_str().unwrap_or("").to_string();
            let out = format!("{name}.out");
            let files: Vec<(&str, &[u8])> = if name == "50-maas-01-commissioning" {
                vec![(out.as_str(), own.as_bytes())]
            } else {
                vec![(out.as_str(), b"ok\n")]
            };
            api.post_files(
                &format!("{META}?op=signal"),
                &[
                    ("status", "WORKING"),
                    ("script_result_id", &id),
                    ("exit_status", "0"),
                ],
                &files,
            )
            .await
            .expect("result");
        }
        api.post_files(&format!("{META}?op=signal"), &[("status", "OK")], &[])
            .await
            .expect("OK");
        // The machine's boot MAC is the one its inventory reports first.
        let m: Value = serde_json::from_str(
            &admin
                .get(&format!("/MAAS/api/2.0/machines/{sid}/"))
                .await
                .expect("read")
                .1,
        )
        .expect("machine JSON");
        assert_eq!(m["status_name"], "Ready", "{}", m["error_description"]);
        assert!(
            m["physicalblockdevice_set"]
                .as_array()
                .is_some_and(|d| !d.is_empty()),
            "the inventory gave the machine its disks"
        );
        let boot_mac = m["boot_interface"]["mac_address"]
            .as_str()
            .unwrap_or(&mac)
            .to_string();
        machines.push((sid, boot_mac, api));
    }
    println!("{n} machines READY in {:.1} s", t.elapsed().as_secs_f64());

    // The setup (a 48 MiB upload held as one request body, commissioning) has its own peak:
    // report it, then reset the high-water mark so the deployment's peak is its own.
    let rss_setup = peak_rss_kib(server.0.id());
    let _ = std::fs::write(format!("/proc/{}/clear_refs", server.0.id()), "5");
    // Allocate and deploy them all at once, then let them boot.
    let t = Instant::now();
    for (sid, _, _) in &machines {
        let (st, body) = admin
            .post("/MAAS/api/2.0/machines/?op=allocate", &[("system_id", sid)])
            .await
            .expect("allocate");
        assert_eq!(st, 200, "{body}");
        let (st, body) = admin
            .post(
                &format!("/MAAS/api/2.0/machines/{sid}/?op=deploy"),
                &[("distro_series", "custom/bench")],
            )
            .await
            .expect("deploy");
        assert_eq!(st, 200, "{body}");
    }
    let queued_at_start = {
        let (_, list) = admin.get("/MAAS/api/2.0/machines/").await.expect("list");
        let list: Value = serde_json::from_str(&list).unwrap_or(Value::Null);
        list.as_array()
            .map(|a| {
                a.iter()
                    .filter(|m| !m["deploy_queued_since"].is_null())
                    .count()
            })
            .unwrap_or(0)
    };
    let downloading = Arc::new(AtomicUsize::new(0));
    let max_downloading = Arc::new(AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for (sid, mac, api) in machines {
        let (d, m) = (downloading.clone(), max_downloading.clone());
        set.spawn(async move {
            let r = deploy_one(api, sid.clone(), mac, d, m).await;
            r.map_err(|e| format!("{sid}: {e}"))
        });
    }
    let mut times: Vec<f64> = Vec::new();
    let mut failures = Vec::new();
    while let Some(r) = set.join_next().await {
        match r {
            Ok(Ok(d)) => times.push(d.as_secs_f64()),
            // A failed machine keeps its slot: the queue behind it would wait forever.
            Ok(Err(e)) => {
                eprintln!("failed: {e}");
                failures.push(e);
                set.abort_all();
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => failures.push(e.to_string()),
        }
    }
    let wall = t.elapsed();
    times.sort_by(|a, b| a.total_cmp(b));
    let (_, list) = admin.get("/MAAS/api/2.0/machines/").await.expect("list");
    let list: Value = serde_json::from_str(&list).unwrap_or(Value::Null);
    let deployed = list
        .as_array()
        .map(|a| {
            a.iter()
                // The region's own machine is DEPLOYED too (controllers are machines).
                .filter(|m| !m["workload_annotations"]["ingot_controller"].is_string())
                .filter(|m| m["status_name"] == "Deployed")
                .count()
        })
        .unwrap_or(0);
    let rss_peak = peak_rss_kib(server.0.id());
    println!(
        "{n} machines deployed at once with max_concurrent_deployments={limit} and a {image_mib} MiB image: \
         {deployed}/{n} DEPLOYED in {:.1} s; {queued_at_start} queued at the start; at most {} downloading the image at once; \
         per machine {:.1}-{:.1} s; {} failures; region (+ rack) peak RSS during the deployments {} MiB (idle {} MiB, {} MiB after the upload and commissioning)",
        wall.as_secs_f64(),
        max_downloading.load(Ordering::SeqCst),
        times.first().copied().unwrap_or(f64::NAN),
        times.last().copied().unwrap_or(f64::NAN),
        failures.len(),
        rss_peak / 1024,
        rss_idle / 1024,
        rss_setup / 1024
    );
    drop(server);
}
