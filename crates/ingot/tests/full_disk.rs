//! The data directory fills up: requests that must write answer 503 with a reason and
//! `Retry-After` (never a 500, never a hang), reads go on, nothing already stored is lost or
//! corrupted, and once space is freed the region works again without a restart. The data
//! directory (SQLite database and images) is a 24 MiB tmpfs the test mounts (root only).

mod common;
use common::{admin_key, mac, ok, sh, Client, Server};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A tmpfs mounted for the test, unmounted when dropped.
struct Mount(PathBuf);
impl Drop for Mount {
    fn drop(&mut self) {
        let _ = sh(&["umount", "-l", &self.0.to_string_lossy()]);
    }
}

/// Fill the file system of `dir` with `dir/filler` until writing fails.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let p = dir.join("filler");
    let mut f = std::fs::File::create(&p).expect("filler");
    let block = vec![0u8; 64 * 1024];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
    p
}

async fn create(c: &Client, n: u32) -> common::Resp {
    c.post(
        "/MAAS/api/2.0/machines/",
        &[
            ("hostname", format!("full{n}").as_str()),
            ("architecture", "amd64/generic"),
            ("mac_addresses", mac(9100 + n).as_str()),
            ("power_type", "manual"),
            ("commission", "false"),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_gives_clear_errors_and_recovers() {
    if common::skip_unless_root("mounting a tmpfs") {
        return;
    }
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    ok(&[
        "mount",
        "-t",
        "tmpfs",
        "-o",
        "size=24m",
        "tmpfs",
        &data.to_string_lossy(),
    ]);
    let _m = Mount(data.clone());
    let db = format!("sqlite://{}", data.join("ingot.sqlite").display());
    admin_key(&db);
    // The server's data directory is the tmpfs (a sub-directory of the test's temp dir).
    let sub = std::sync::Arc::new(tempfile::tempdir_in(&data).unwrap());
    let s = Server::start_on(&db, sub.clone(), &[]);
    let c = s.client();
    for n in 0..5 {
        create(&c, n).await.ok();
    }

    let filler = fill(&data);
    // Writes: 503 with the reason and Retry-After, answered at once.
    let t = Instant::now();
    let mut refused = 0;
    for n in 5..25 {
        let r = create(&c, n).await;
        match r.status.as_u16() {
            200 => {} // a page of the database had room
            503 => {
                assert!(
                    r.body.contains("disk is full") || r.body.contains("No space left"),
                    "a full disk must be named: {}",
                    r.body
                );
                refused += 1;
            }
            code => panic!("a full disk answered {code}: {}", r.body),
        }
    }
    assert!(refused > 0, "nothing was refused with the disk full");
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "answers took {:?}",
        t.elapsed()
    );
    // An image upload: refused the same way, nothing half-written is kept.
    let r = c
        .post_form(
            "/MAAS/api/2.0/boot-resources/",
            &[
                ("name", "custom/full"),
                ("architecture", "amd64/generic"),
                ("filetype", "tgz"),
            ],
            &[("content", "image.tgz", &vec![7u8; 2 << 20])],
        )
        .await;
    assert!(
        matches!(r.status.as_u16(), 503 | 507),
        "an upload onto a full disk answered {}: {}",
        r.status,
        r.body
    );
    // Reads go on.
    let list = c.get("/MAAS/api/2.0/machines/").await.ok().json();
    assert!(list.as_array().unwrap().len() >= 5);

    // Space freed: everything works again, without a restart, and nothing was lost.
    std::fs::remove_file(&filler).unwrap();
    let r = create(&c, 99).await.ok().json();
    assert_eq!(r["hostname"], "full99");
    let r = c
        .post_form(
            "/MAAS/api/2.0/boot-resources/",
            &[
                ("name", "custom/after"),
                ("architecture", "amd64/generic"),
                ("filetype", "tgz"),
            ],
            &[("content", "image.tgz", &vec![7u8; 2 << 20])],
        )
        .await
        .ok();
    assert!(r.body.contains("custom/after"), "{}", r.body);
    let names: Vec<String> = c
        .get("/MAAS/api/2.0/machines/")
        .await
        .ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["hostname"].as_str().map(str::to_string))
        .collect();
    for n in 0..5 {
        assert!(
            names.contains(&format!("full{n}")),
            "full{n} lost: {names:?}"
        );
    }
    // The database is whole.
    drop(s);
    let check = ok(&[
        "python3",
        "-c",
        "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])",
        &data.join("ingot.sqlite").to_string_lossy(),
    ]);
    assert_eq!(check.trim(), "ok");
}
