//! Builds a real ephemeral image (Debian kernel + busybox + ingot-agent), boots it under QEMU
//! (TCG, user-mode networking) and checks that the agent enlists with a fake region and that
//! the VM powers itself off.
//!
//! Needs: apt (the two .debs are cached under $INGOT_DEB_CACHE, default <repo>/target/deb-cache),
//! QEMU ($INGOT_QEMU, or /usr/bin/qemu-system-x86_64; `scripts/peers/qemu.sh` installs it).
//! Without QEMU the test is skipped, unless CI is set, where it fails.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{agent_binary, deb_cache, qemu, skip_or_fail};
use ingot_images::{build, fetch_debs, list, path_of, BuildOptions};

#[derive(Default)]
struct Region {
    posts: Vec<Vec<(String, String)>>,
}

async fn fake_region() -> (u16, Arc<Mutex<Region>>) {
    use axum::routing::post;
    let state = Arc::new(Mutex::new(Region::default()));
    let s = state.clone();
    let app = axum::Router::new().route(
        "/MAAS/api/2.0/machines/",
        post(move |headers: axum::http::HeaderMap, body: String| {
            let s = s.clone();
            async move {
                let ct = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                assert!(
                    ct.starts_with("application/x-www-form-urlencoded"),
                    "content-type {ct:?}"
                );
                let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                eprintln!("fake region: enlistment POST {pairs:?}");
                s.lock().unwrap().posts.push(pairs);
                axum::Json(serde_json::json!({"system_id": "abc123", "status_name": "New"}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builds_boots_and_enlists() {
    let Some(qemu) = qemu() else {
        skip_or_fail(
            "boot_enlist",
            "QEMU not found (set INGOT_QEMU, or run scripts/peers/qemu.sh)",
        );
        return;
    };
    let t0 = Instant::now();
    let cache = deb_cache();
    let debs = match tokio::task::spawn_blocking(move || fetch_debs("amd64", &cache))
        .await
        .unwrap()
    {
        Ok(d) => d,
        Err(e) => {
            skip_or_fail(
                "boot_enlist",
                &format!("cannot get the Debian packages: {e}"),
            );
            return;
        }
    };
    let agent = tokio::task::spawn_blocking(agent_binary).await.unwrap();
    let t_prep = t0.elapsed();

    let data = tempfile::tempdir().unwrap();
    let opts = BuildOptions {
        data_dir: data.path().to_path_buf(),
        agent_binary: agent,
        arch: "amd64".into(),
        work_dir: None,
        kernel_deb: Some(debs.kernel.clone()),
        busybox_deb: Some(debs.busybox.clone()),
    };
    let t1 = Instant::now();
    let o = opts.clone();
    let set = tokio::task::spawn_blocking(move || build(&o))
        .await
        .unwrap()
        .expect("build");
    let t_build = t1.elapsed();
    assert_eq!(set.name, "ephemeral/amd64");
    assert!(
        set.kernel_version.ends_with("-amd64"),
        "{}",
        set.kernel_version
    );
    let kernel = path_of(data.path(), &set.kernel.sha256).expect("kernel stored");
    let initrd = path_of(data.path(), &set.initrd.sha256).expect("initrd stored");
    assert_eq!(std::fs::metadata(&kernel).unwrap().len(), set.kernel.size);
    assert_eq!(std::fs::metadata(&initrd).unwrap().len(), set.initrd.size);
    assert_eq!(list(data.path()).unwrap(), vec![set.clone()]);
    // The build's scratch directory is gone; only blobs and the index remain.
    let mut left: Vec<String> = std::fs::read_dir(data.path().join("images"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let mut want = vec![
        set.kernel.sha256.clone(),
        set.initrd.sha256.clone(),
        "index.json".to_string(),
    ];
    want.sort();
    assert_eq!(left, want);
    assert_eq!(
        std::fs::read_dir(data.path()).unwrap().count(),
        1,
        "no scratch left in data_dir"
    );

    // Same inputs, same bytes: the rebuild is stored once and listed once.
    let o = opts.clone();
    let again = tokio::task::spawn_blocking(move || build(&o))
        .await
        .unwrap()
        .expect("rebuild");
    assert_eq!(
        again, set,
        "identical content keeps the existing index entry"
    );
    assert_eq!(list(data.path()).unwrap().len(), 1);

    // Boot it.
    let (port, region) = fake_region().await;
    let mac = "52:54:00:12:34:56";
    let uuid = "0F6B3A52-5C1D-4E7A-9E0B-3C2D1E0F4A5B";
    let log = data.path().join("serial.log");
    let t2 = Instant::now();
    let mut child = tokio::process::Command::new(&qemu)
        .args(["-accel", "tcg", "-m", "512", "-smp", "1", "-nographic", "-nodefaults", "-no-reboot"])
        .arg("-serial")
        .arg(format!("file:{}", log.display()))
        .arg("-kernel")
        .arg(&kernel)
        .arg("-initrd")
        .arg(&initrd)
        .arg("-append")
        .arg(format!(
            "console=ttyS0 panic=-1 ingot.url=http://10.0.2.2:{port}/MAAS ingot.purpose=enlist ingot.mac={mac}"
        ))
        .arg("-nic")
        .arg(format!("user,model=virtio-net-pci,mac={mac}"))
        .arg("-smbios")
        .arg(format!("type=1,uuid={uuid}"))
        .kill_on_drop(true)
        .spawn()
        .expect("starting QEMU");
    let status = match tokio::time::timeout(Duration::from_secs(150), child.wait()).await {
        Ok(s) => s.unwrap(),
        Err(_) => {
            let _ = child.kill().await;
            panic!(
                "VM did not power off within 150 s; serial log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
    };
    let t_boot = t2.elapsed();
    let serial = std::fs::read_to_string(&log).unwrap_or_default();
    let posts = region.lock().unwrap().posts.clone();
    assert!(
        status.success(),
        "QEMU exited with {status}; serial log:\n{serial}"
    );
    assert_eq!(
        posts.len(),
        1,
        "expected one enlistment POST; serial log:\n{serial}"
    );
    let p = &posts[0];
    let get = |k: &str| {
        p.iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(get("architecture"), ["amd64"]);
    assert_eq!(get("mac_addresses"), [mac]);
    assert_eq!(get("hardware_uuid"), [uuid.to_ascii_lowercase().as_str()]);
    assert_eq!(get("commission"), ["true"]);
    assert!(serial.contains("ingot: starting ingot-agent"), "{serial}");
    assert!(serial.contains("enlisted"), "{serial}");

    eprintln!("serial console:\n{serial}");
    eprintln!(
        "boot_enlist: debs+agent {:.1?}, build {:.1?}, boot+enlist+poweroff {:.1?}; kernel {} ({} bytes), initrd {} ({} bytes)",
        t_prep, t_build, t_boot, set.kernel_version, set.kernel.size, set.initrd.sha256, set.initrd.size
    );
}
