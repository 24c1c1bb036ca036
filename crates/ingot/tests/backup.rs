//! `ingot backup` of a running region and `ingot restore` into a new database and data
//! directory (issue 17 item 10), on SQLite and on PostgreSQL: the restored region serves the
//! same machines (names, statuses, system ids), its BMC secrets still decrypt (the secret key
//! came along), and its images are there, byte for byte. A backup refuses a directory that is
//! not empty; a restore refuses a database that exists.

mod common;
use common::{mac, run, Server};
use serde_json::Value;

/// What must survive: each machine's system id, name and status, sorted.
async fn fleet(c: &common::Client) -> Vec<(String, String, String)> {
    let list = c.get("/MAAS/api/2.0/machines/").await.ok().json();
    let mut v: Vec<(String, String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["system_id"].as_str().unwrap().to_string(),
                m["hostname"].as_str().unwrap().to_string(),
                m["status_name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

async fn backup_and_restore(pg: bool) {
    let s = if pg {
        match Server::start_pg(&["--power-poll-interval", "3600"]).await {
            Some(s) => s,
            None => return,
        }
    } else {
        Server::start(&["--power-poll-interval", "3600"]).await
    };
    let c = s.client();
    for i in 0..3 {
        c.ready_machine(&format!("kept-{i}"), &mac(800 + i), &[])
            .await;
    }
    let m = c
        .post(
            "/MAAS/api/2.0/machines/",
            &[
                ("hostname", "with-bmc"),
                ("architecture", "amd64"),
                ("mac_addresses", &mac(810)),
                ("power_type", "ipmi"),
                ("commission", "false"),
                (
                    "power_parameters",
                    r#"{"power_address": "127.0.0.1:9", "power_user": "admin", "power_pass": "s3cret"}"#,
                ),
            ],
        )
        .await
        .ok()
        .json();
    let bmc = m["system_id"].as_str().unwrap().to_string();
    let image: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let res = c.upload_image("custom/kept", &image).await;
    let sha = res["sets"]
        .as_object()
        .and_then(|sets| sets.values().next())
        .and_then(|set| set["files"].as_object())
        .and_then(|files| files.values().next())
        .and_then(|f| f["sha256"].as_str())
        .unwrap_or_else(|| panic!("no sha256 in {res:#}"))
        .to_string();
    let before = fleet(&c).await;
    assert_eq!(before.len(), 5, "{before:?}"); // and this host's region controller

    // Backed up while it runs.
    let out = tempfile::tempdir().unwrap();
    let bdir = out.path().join("b");
    let data = s.dir.path().to_string_lossy().to_string();
    let bstr = bdir.to_string_lossy().to_string();
    let manifest: Value = serde_json::from_str(&run(&[
        "backup",
        "--database",
        &s.db,
        "--data-dir",
        &data,
        "--out",
        &bstr,
    ]))
    .unwrap();
    assert_eq!(manifest["machines"], 5, "{manifest:#}");
    assert_eq!(manifest["secret_key"], true, "{manifest:#}");
    assert_eq!(
        manifest["database"],
        if pg { "postgresql" } else { "sqlite" }
    );
    // Not over an earlier backup.
    let again = std::process::Command::new(common::BIN)
        .args([
            "backup",
            "--database",
            &s.db,
            "--data-dir",
            &data,
            "--out",
            &bstr,
        ])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
    drop(s);

    // Restored into a new data directory and a new database.
    let (db2, dir2) = common::database(pg).await;
    let data2 = dir2.path().to_string_lossy().to_string();
    let said = run(&[
        "restore",
        "--from",
        &bstr,
        "--database",
        &db2,
        "--data-dir",
        &data2,
    ]);
    assert!(said.contains("\"machines\": 5"), "{said}");
    if !pg {
        // Not over a database that exists.
        let twice = std::process::Command::new(common::BIN)
            .args([
                "restore",
                "--from",
                &bstr,
                "--database",
                &db2,
                "--data-dir",
                &data2,
            ])
            .output()
            .unwrap();
        assert!(!twice.status.success());
        assert!(String::from_utf8_lossy(&twice.stderr).contains("exists"));
    }
    let s2 = Server::start_on(&db2, dir2, &["--power-poll-interval", "3600"]);
    let c2 = s2.client();
    assert_eq!(fleet(&c2).await, before);
    let pp = c2
        .get(&format!(
            "/MAAS/api/2.0/machines/{bmc}/?op=power_parameters"
        ))
        .await
        .ok()
        .json();
    assert_eq!(pp["power_pass"], "s3cret", "the secret key came along");
    let got = reqwest::get(format!("{}/MAAS/boot/images/{sha}", s2.base))
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), image.as_slice());
    // And it works on: a change to a restored machine.
    c2.ready_machine("after-restore", &mac(820), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_sqlite() {
    backup_and_restore(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_postgres() {
    backup_and_restore(true).await;
}
