//! python-libmaas 0.6.8, unmodified, against `ingot serve`: connect, version, list, allocate,
//! read, deploy (to Deployed), release (to Ready) and a rejected wrong key. A task plays the
//! machine over the metadata API: when it sees its machine DEPLOYING it reports cloud-init's
//! final stage finished, as an installed OS does.

mod common;
use common::{mac, Client, Server};
use std::process::Command;
use std::time::Duration;

fn libmaas_python() -> Option<(String, String)> {
    let py = std::env::var("INGOT_LIBMAAS_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    let shared = std::env::var("INGOT_SHARED_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").into());
    let smoke = format!("{shared}/peers/libmaas-smoke.py");
    match py {
        Some(p) if std::path::Path::new(&smoke).exists() => Some((p, smoke)),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "CI must provide INGOT_LIBMAAS_PYTHON and the shared peers (scripts/test.sh does)"
            );
            eprintln!(
                "INGOT_LIBMAAS_PYTHON or {smoke} missing: skipping (run through scripts/test.sh)"
            );
            None
        }
    }
}

/// Plays every machine: DEPLOYING → reports deployed.
async fn machine_player(c: Client, stop: tokio::sync::watch::Receiver<bool>) {
    while !*stop.borrow() {
        let r = c.get("/MAAS/api/2.0/machines/?status=deploying").await;
        if r.status.is_success() {
            for m in r.json().as_array().cloned().unwrap_or_default() {
                if let Some(sid) = m["system_id"].as_str() {
                    c.report_deployed(sid).await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn smoke(s: &Server, py: &str, script: &str) {
    let c = s.client();
    // MAAS_DISTRO=jammy below deploys this image (custom/jammy).
    c.upload_image("custom/jammy", b"a root file system").await;
    for i in 0..3 {
        c.ready_machine(&format!("node{i}"), &mac(100 + i), &[])
            .await;
    }
    let (tx, rx) = tokio::sync::watch::channel(false);
    let player = tokio::spawn(machine_player(c.clone(), rx));
    let url = format!("{}/MAAS/", s.base);
    let (py, script, key) = (py.to_string(), script.to_string(), s.key.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(py)
            .arg(script)
            .env("MAAS_URL", url)
            .env("MAAS_APIKEY", key)
            .env("MAAS_HOSTNAME", "node1")
            .env("MAAS_DISTRO", "jammy")
            .env("MAAS_WAIT", "30")
            .output()
            .expect("run libmaas-smoke.py")
    })
    .await
    .expect("join");
    let _ = tx.send(true);
    let _ = player.await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "libmaas smoke failed:\n{stdout}");
    assert!(stdout.contains("8 passed, 0 failed"), "{stdout}");
    assert!(
        stdout.contains("Deploying -> Deployed"),
        "deploy reached Deployed: {stdout}"
    );
    assert!(
        stdout.contains("-> Ready"),
        "release reached Ready: {stdout}"
    );
    // The machine really went round the cycle.
    let ms = c
        .get("/MAAS/api/2.0/machines/?hostname=node1")
        .await
        .ok()
        .json();
    assert_eq!(ms[0]["status_name"], "Ready");
}

#[tokio::test]
async fn libmaas_smoke_sqlite() {
    let Some((py, script)) = libmaas_python() else {
        return;
    };
    let s = Server::start(&[]).await;
    smoke(&s, &py, &script).await;
}

#[tokio::test]
async fn libmaas_smoke_postgres() {
    let Some((py, script)) = libmaas_python() else {
        return;
    };
    let Some(s) = Server::start_pg(&[]).await else {
        return;
    };
    smoke(&s, &py, &script).await;
}
