//! Images imported from a simplestreams mirror (`boot-sources/`, `boot-resources/?op=import`):
//! the test generates a mirror (index and product files clear-signed with a throwaway key made
//! by the real `gpg`), serves it over HTTP — dropping the connection halfway through the root
//! image the first time —, imports the selected image, and deploys it. A file tampered with
//! after signing is refused and named, and a product file signed by another key is refused.

mod common;

use common::mirror::{gpg, item, put, serve_mirror, wait_import, write_streams, Key, CID};
use common::{mac, Server, BIN};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::process::Command;
use std::time::Duration;

fn hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Bytes that do not repeat (so a resumed download that skipped or repeated a piece would
/// not hash the same).
fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[tokio::test]
async fn import_from_a_signed_mirror_and_deploy_it_sqlite() {
    import_and_deploy(&Server::start(&[]).await).await;
}

#[tokio::test]
async fn import_from_a_signed_mirror_and_deploy_it_postgres() {
    if let Some(s) = Server::start_pg(&[]).await {
        import_and_deploy(&s).await;
    }
}

async fn import_and_deploy(s: &Server) {
    let good = Key::new("mirror", "rsa2048");
    let other = Key::new("stranger", "ed25519");

    // The mirror: ubuntu/jammy (root tarball, kernel, initrd, squashfs) and debian/bookworm
    // (whose root tarball is changed after the checksums were signed).
    let mirror = tempfile::tempdir().unwrap();
    let root = mirror.path();
    let tgz = pseudo_random(3 << 20, 1);
    let kernel = pseudo_random(70_000, 2);
    let initrd = pseudo_random(90_000, 3);
    let squashfs = pseudo_random(50_000, 4);
    let deb = pseudo_random(200_000, 5);
    let jammy = "ubuntu/jammy/amd64/20240601";
    put(root, &format!("{jammy}/root.tgz"), &tgz);
    put(root, &format!("{jammy}/boot-kernel"), &kernel);
    put(root, &format!("{jammy}/boot-initrd"), &initrd);
    put(root, &format!("{jammy}/squashfs"), &squashfs);
    put(root, "debian/bookworm/root.tgz", &deb);
    let products = json!({
        "content_id": CID, "datatype": "image-downloads", "format": "products:1.0",
        "label": "stable", "updated": "Sat, 01 Jun 2024 00:00:00 +0000",
        "products": {
            "com.ubuntu.maas.stable:v3:boot:22.04:amd64:generic": {
                "arch": "amd64", "os": "ubuntu", "release": "jammy", "subarch": "generic",
                "versions": {
                    "20240101": {"items": {"root-tgz": item("ubuntu/old.tgz", "root-tgz", b"old")}},
                    "20240601": {"items": {
                        "root-tgz": item(&format!("{jammy}/root.tgz"), "root-tgz", &tgz),
                        "boot-kernel": item(&format!("{jammy}/boot-kernel"), "boot-kernel", &kernel),
                        "boot-initrd": item(&format!("{jammy}/boot-initrd"), "boot-initrd", &initrd),
                        "squashfs": item(&format!("{jammy}/squashfs"), "squashfs", &squashfs),
                    }},
                },
            },
            "org.debian:bookworm:amd64": {
                "arch": "amd64", "os": "debian", "release": "bookworm",
                "versions": {"20240601": {"items": {"root-tgz": item("debian/bookworm/root.tgz", "root-tgz", &deb)}}},
            },
            "com.ubuntu.maas.stable:v3:boot:24.04:arm64:generic": {
                "arch": "arm64", "os": "ubuntu", "release": "noble",
                "versions": {"20240601": {"items": {"root-tgz": item("ubuntu/noble.tgz", "root-tgz", b"not served")}}},
            },
        }
    });
    write_streams(root, &products, &good, &good);
    // Tampered after signing: same size, one byte changed.
    let mut bad = deb.clone();
    bad[1000] ^= 0xff;
    put(root, "debian/bookworm/root.tgz", &bad);
    // A second mirror under other/: its index is signed by the source's key, its product
    // file by a stranger's.
    write_streams(&root.join("other"), &products, &good, &other);

    let tgz_path = format!("{jammy}/root.tgz");
    let m = serve_mirror(root.to_path_buf(), vec![tgz_path.clone()]).await;
    let c = s.client();

    // The boot source, with the keyring as a file (as the CLI's keyring_data@=FILE sends it).
    let src = c
        .post_form(
            "/MAAS/api/2.0/boot-sources/",
            &[("url", &m.base)],
            &[("keyring_data", "mirror.gpg", &good.public())],
        )
        .await
        .expect(201)
        .json();
    let sid = src["id"].as_i64().unwrap();
    assert_eq!(src["url"], m.base.as_str());
    assert_eq!(
        src["resource_uri"],
        format!("/MAAS/api/2.0/boot-sources/{sid}/")
    );
    assert!(!src["keyring_data"].as_str().unwrap().is_empty());
    // A keyring that is not one is refused.
    let r = c
        .post(
            "/MAAS/api/2.0/boot-sources/",
            &[
                ("url", "http://127.0.0.1:1/x/"),
                ("keyring_data", "bm90IGEga2V5"),
            ],
        )
        .await
        .expect(400);
    assert!(r.body.contains("keyring_data"), "{}", r.body);
    let sel_uri = format!("/MAAS/api/2.0/boot-sources/{sid}/selections/");
    for (os, release) in [("ubuntu", "jammy"), ("debian", "bookworm")] {
        let sel = c
            .post(
                &sel_uri,
                &[
                    ("os", os),
                    ("release", release),
                    ("arches", "amd64"),
                    ("subarches", "*"),
                    ("labels", "*"),
                ],
            )
            .await
            .expect(201)
            .json();
        assert_eq!(sel["arches"], json!(["amd64"]));
        assert_eq!(sel["boot_source_id"], sid);
    }
    assert_eq!(
        c.get(&sel_uri).await.ok().json().as_array().unwrap().len(),
        2
    );

    // Import.
    let r = c
        .post("/MAAS/api/2.0/boot-resources/?op=import", &[])
        .await
        .ok();
    assert_eq!(r.body, "Import of boot resources started");
    let st = wait_import(&c).await;
    assert_eq!(st["state"], "failed", "{st:#}");
    let errors: Vec<String> = st["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    // The tampered file is named, with both digests.
    assert!(
        errors[0].contains(&format!("{}debian/bookworm/root.tgz", m.base))
            && errors[0].contains("refused")
            && errors[0].contains(&hex(&bad))
            && errors[0].contains(&hex(&deb))
            && errors[0].contains("debian/bookworm"),
        "{errors:?}"
    );
    let files = st["files"].as_array().unwrap();
    let f = |sha: &str| files.iter().find(|f| f["sha256"] == sha).cloned().unwrap();
    assert_eq!(f(&hex(&tgz))["state"], "complete");
    assert_eq!(f(&hex(&tgz))["done"], tgz.len());
    assert_eq!(f(&hex(&deb))["state"], "failed");
    assert_eq!(
        st["bytes_total"],
        tgz.len() + kernel.len() + initrd.len() + squashfs.len() + deb.len()
    );

    // The root tarball was resumed where the dropped connection left it.
    let log = m.log.lock().unwrap().clone();
    let ranges: Vec<u64> = log
        .iter()
        .filter(|(p, _)| *p == tgz_path)
        .map(|(_, r)| *r)
        .collect();
    assert_eq!(ranges.len(), 2, "{log:?}");
    assert_eq!(ranges[0], 0);
    assert!(ranges[1] > 0 && ranges[1] < tgz.len() as u64, "{ranges:?}");
    // Signed files only; nothing of the unselected noble product.
    assert!(
        log.iter().any(|(p, _)| p == "streams/v1/index.sjson"),
        "{log:?}"
    );
    assert!(!log.iter().any(|(p, _)| p.ends_with(".json")), "{log:?}");
    assert!(!log.iter().any(|(p, _)| p.contains("noble")), "{log:?}");

    // The synced resource.
    let list = c
        .get("/MAAS/api/2.0/boot-resources/?type=synced")
        .await
        .ok()
        .json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["name"], "ubuntu/jammy");
    assert_eq!(list[0]["type"], "Synced");
    assert_eq!(list[0]["architecture"], "amd64/generic");
    let all = c.get("/MAAS/api/2.0/boot-resources/").await.ok().json();
    assert!(
        !all.to_string().contains("debian/bookworm"),
        "the refused image is not kept: {all}"
    );
    let rid = list[0]["id"].as_i64().unwrap();
    let res = c
        .get(&format!("/MAAS/api/2.0/boot-resources/{rid}/"))
        .await
        .ok()
        .json();
    let set = &res["sets"]["20240601"];
    assert_eq!(set["complete"], true, "{res:#}");
    assert_eq!(set["progress"], 100.0);
    let file = &set["files"]["root-tgz"];
    assert_eq!(file["sha256"], hex(&tgz));
    assert_eq!(file["size"], tgz.len());
    assert_eq!(set["files"]["boot-kernel"]["sha256"], hex(&kernel));
    assert_eq!(set["files"]["squashfs"]["sha256"], hex(&squashfs));
    // Served by content address; the tampered bytes are nowhere.
    let images = s.dir.path().join("images");
    for (data, want) in [
        (&tgz, true),
        (&kernel, true),
        (&initrd, true),
        (&deb, false),
        (&bad, false),
    ] {
        let r = s
            .anon()
            .http
            .get(format!("{}/MAAS/boot/images/{}", s.base, hex(data)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().is_success(), want);
        if want {
            assert_eq!(r.bytes().await.unwrap().to_vec(), *data);
        }
        assert!(!images.join(format!(".import-{}", hex(data))).exists());
    }

    // A second import fetches nothing again (content-addressed, complete).
    let before = m.log.lock().unwrap().len();
    c.delete(&format!("{sel_uri}2/")).await.expect(204);
    c.post("/MAAS/api/2.0/boot-resources/?op=import", &[])
        .await
        .ok();
    let st = wait_import(&c).await;
    assert_eq!(st["state"], "complete", "{st:#}");
    let fetched: Vec<String> = m.log.lock().unwrap()[before..]
        .iter()
        .map(|(p, _)| p.clone())
        .collect();
    assert!(
        fetched.iter().all(|p| p.starts_with("streams/")),
        "{fetched:?}"
    );

    // A source whose product file is signed by another key is refused, and named.
    let src2 = c
        .post_form(
            "/MAAS/api/2.0/boot-sources/",
            &[("url", &format!("{}other/", m.base))],
            &[("keyring_data", "mirror.gpg", &good.public())],
        )
        .await
        .expect(201)
        .json();
    c.post(
        &format!("/MAAS/api/2.0/boot-sources/{}/selections/", src2["id"]),
        &[("os", "ubuntu"), ("release", "jammy")],
    )
    .await
    .expect(201);
    c.post("/MAAS/api/2.0/boot-resources/?op=import", &[])
        .await
        .ok();
    let st = wait_import(&c).await;
    assert_eq!(st["state"], "failed", "{st:#}");
    let e = st["errors"].to_string();
    assert!(
        e.contains(&format!("{}other/streams/v1/{CID}.sjson: refused", m.base))
            && e.contains("not made by a key of the source's keyring"),
        "{e}"
    );
    c.delete(&format!("/MAAS/api/2.0/boot-sources/{}/", src2["id"]))
        .await
        .expect(204);

    // The imported image deploys like an uploaded one.
    let msid = c.ready_machine("synced1", &mac(4401), &[]).await;
    c.post(
        "/MAAS/api/2.0/machines/?op=allocate",
        &[("system_id", &msid)],
    )
    .await
    .ok();
    let d = c
        .op(
            &msid,
            "deploy",
            &[("osystem", "ubuntu"), ("distro_series", "jammy")],
        )
        .await
        .ok()
        .json();
    assert_eq!(d["osystem"], "ubuntu");
    assert_eq!(d["distro_series"], "jammy");
    let cfg = c.deploy_ok(&msid).await;
    assert_eq!(cfg["image"]["name"], "ubuntu/jammy");
    assert_eq!(cfg["image"]["sha256"], hex(&tgz));
    assert_eq!(cfg["image"]["size"], tgz.len());
    assert_eq!(cfg["image"]["kind"], "tgz");
    assert_eq!(
        cfg["image"]["url"],
        format!("{}/MAAS/boot/images/{}", s.base, hex(&tgz))
    );
    c.wait_machine(&msid, "deployed", |m| m["status_name"] == "Deployed")
        .await;
}

/// `stop_import` stops a running import with its download kept; the next import resumes it
/// (a Range request from where it stopped). Progress shows in the resource meanwhile.
#[tokio::test]
async fn stop_import_then_resume() {
    let key = Key::new("stop", "ed25519");
    let mirror = tempfile::tempdir().unwrap();
    let root = mirror.path();
    let tgz = pseudo_random(8 << 20, 11);
    put(root, "img/root.tgz", &tgz);
    let products = json!({"content_id": CID, "datatype": "image-downloads", "format": "products:1.0", "products": {
        "p": {"arch": "amd64", "os": "ubuntu", "release": "noble", "versions": {"20240601": {"items": {"root-tgz": item("img/root.tgz", "root-tgz", &tgz)}}}}}});
    write_streams(root, &products, &key, &key);
    let m = serve_mirror(root.to_path_buf(), vec![]).await;
    m.slow.store(true, std::sync::atomic::Ordering::SeqCst);
    let s = Server::start(&[]).await;
    let c = s.client();
    // The keyring armored, as a parameter.
    let armored = gpg(key.home.path(), &["--armor", "--export", &key.uid]);
    let src = c
        .post(
            "/MAAS/api/2.0/boot-sources/",
            &[
                ("url", &m.base),
                ("keyring_data", std::str::from_utf8(&armored).unwrap()),
            ],
        )
        .await
        .expect(201)
        .json();
    c.post(
        &format!("/MAAS/api/2.0/boot-sources/{}/selections/", src["id"]),
        &[("os", "ubuntu"), ("release", "noble")],
    )
    .await
    .expect(201);
    c.post("/MAAS/api/2.0/boot-resources/?op=import", &[])
        .await
        .ok();
    let r = c
        .post("/MAAS/api/2.0/boot-resources/?op=import", &[])
        .await
        .ok();
    assert_eq!(r.body, "An import of boot resources is already running");
    // Wait for the resource to show some progress.
    let mut res = Value::Null;
    for _ in 0..100 {
        let list = c
            .get("/MAAS/api/2.0/boot-resources/?type=synced")
            .await
            .ok()
            .json();
        if let Some(id) = list[0]["id"].as_i64() {
            res = c
                .get(&format!("/MAAS/api/2.0/boot-resources/{id}/"))
                .await
                .ok()
                .json();
            if res["sets"]["20240601"]["progress"].as_f64().unwrap_or(0.0) > 0.0 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let p = res["sets"]["20240601"]["progress"].as_f64().unwrap_or(0.0);
    assert!(p > 0.0 && p < 100.0, "{res:#}");
    assert_eq!(res["sets"]["20240601"]["complete"], false);
    assert_eq!(
        c.get("/MAAS/api/2.0/boot-resources/?op=is_importing")
            .await
            .ok()
            .json(),
        json!(true)
    );
    let r = c
        .post("/MAAS/api/2.0/boot-resources/?op=stop_import", &[])
        .await
        .ok();
    assert_eq!(r.body, "Import of boot resources is being stopped");
    let st = wait_import(&c).await;
    assert_eq!(st["state"], "stopped", "{st:#}");
    assert_eq!(st["files"][0]["state"], "stopped");
    let part = s
        .dir
        .path()
        .join("images")
        .join(format!(".import-{}", hex(&tgz)));
    let kept = std::fs::metadata(&part).unwrap().len();
    assert!(kept > 0 && kept < tgz.len() as u64, "{kept}");

    // The next import resumes it.
    m.slow.store(false, std::sync::atomic::Ordering::SeqCst);
    c.post("/MAAS/api/2.0/boot-resources/?op=import", &[])
        .await
        .ok();
    let st = wait_import(&c).await;
    assert_eq!(st["state"], "complete", "{st:#}");
    let starts: Vec<u64> = m
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p == "img/root.tgz")
        .map(|(_, r)| *r)
        .collect();
    assert_eq!(starts.len(), 2, "{starts:?}");
    assert_eq!(starts[1], kept, "resumed where it stopped: {starts:?}");
    assert!(!part.exists());
    let got = s
        .anon()
        .http
        .get(format!("{}/MAAS/boot/images/{}", s.base, hex(&tgz)))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.len(), tgz.len());
    assert!(got.to_vec() == tgz);
}

/// The CLI: `boot-sources create url=… keyring_data@=FILE`, `boot-source-selections create`,
/// `boot-resources import`, `is-importing`, `import-status`.
#[tokio::test]
async fn cli_creates_a_source_and_imports() {
    let key = Key::new("cli", "ed25519");
    let mirror = tempfile::tempdir().unwrap();
    let root = mirror.path();
    let tgz = pseudo_random(100_000, 9);
    put(root, "img/root.tgz", &tgz);
    let products = json!({"content_id": CID, "datatype": "image-downloads", "format": "products:1.0", "products": {
        "p": {"arch": "amd64", "os": "debian", "release": "bookworm", "versions": {"1": {"items": {"root-tgz": item("img/root.tgz", "root-tgz", &tgz)}}}}}});
    write_streams(root, &products, &key, &key);
    let m = serve_mirror(root.to_path_buf(), vec![]).await;
    let s = Server::start(&[]).await;
    let home = tempfile::tempdir().unwrap();
    let kr = home.path().join("keyring.gpg");
    std::fs::write(&kr, key.public()).unwrap();
    let cli = |args: &[&str]| {
        let out = Command::new(BIN)
            .env("INGOT_CONFIG_DIR", home.path())
            .args(args)
            .output()
            .expect("run ingot");
        assert!(
            out.status.success(),
            "ingot {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    cli(&["login", "admin", &format!("{}/MAAS/", s.base), &s.key]);
    let src: Value = serde_json::from_str(&cli(&[
        "admin",
        "boot-sources",
        "create",
        &format!("url={}", m.base),
        &format!("keyring_data@={}", kr.display()),
    ]))
    .unwrap();
    let id = src["id"].to_string();
    cli(&[
        "admin",
        "boot-source-selections",
        "create",
        &id,
        "os=debian",
        "release=bookworm",
        "arches=amd64",
    ]);
    let out = cli(&["admin", "boot-resources", "import"]);
    assert!(out.contains("Import of boot resources started"), "{out}");
    let mut done = false;
    for _ in 0..300 {
        if cli(&["admin", "boot-resources", "is-importing"]).trim() == "false" {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(done);
    let st: Value =
        serde_json::from_str(&cli(&["admin", "boot-resources", "import-status"])).unwrap();
    assert_eq!(st["state"], "complete", "{st:#}");
    assert_eq!(st["bytes_done"], tgz.len());
    let list: Value = serde_json::from_str(&cli(&["admin", "boot-resources", "read"])).unwrap();
    assert!(list.to_string().contains("debian/bookworm"), "{list}");

    // The keyring as a file on the region (keyring_filename) instead of data.
    let c = s.client();
    let src = c
        .put(
            &format!("/MAAS/api/2.0/boot-sources/{id}/"),
            &[
                ("keyring_data", ""),
                ("keyring_filename", &kr.display().to_string()),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(src["keyring_data"], "");
    assert_eq!(src["keyring_filename"], kr.display().to_string());
    // A source without a keyring reads the unsigned .json files (here: its index URL).
    let plain = c
        .post(
            "/MAAS/api/2.0/boot-sources/",
            &[("url", &format!("{}streams/v1/index.json", m.base))],
        )
        .await
        .expect(201)
        .json();
    c.post(
        &format!("/MAAS/api/2.0/boot-sources/{}/selections/", plain["id"]),
        &[("os", "debian"), ("release", "bookworm")],
    )
    .await
    .expect(201);
    let before = m.log.lock().unwrap().len();
    c.post("/MAAS/api/2.0/boot-resources/?op=import", &[])
        .await
        .ok();
    let st = wait_import(&c).await;
    assert_eq!(st["state"], "complete", "{st:#}");
    let fetched: Vec<String> = m.log.lock().unwrap()[before..]
        .iter()
        .map(|(p, _)| p.clone())
        .collect();
    assert!(
        fetched.contains(&"streams/v1/index.sjson".to_string())
            && fetched.contains(&"streams/v1/index.json".to_string())
            && fetched.contains(&format!("streams/v1/{CID}.json")),
        "{fetched:?}"
    );
    // Nothing fetched twice: the image is stored already.
    assert!(
        !fetched.iter().any(|p| p.starts_with("img/")),
        "{fetched:?}"
    );
}

/// Import rate against `curl` fetching the same file from the same server (run with
/// `--run-ignored only`; prints the figures). `INGOT_IMPORT_MIB` sets the size (default 256).
#[tokio::test]
#[ignore]
async fn import_rate_against_curl() {
    let mib: usize = std::env::var("INGOT_IMPORT_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let key = Key::new("rate", "ed25519");
    let mirror = tempfile::tempdir().unwrap();
    let root = mirror.path();
    let data = pseudo_random(mib << 20, 7);
    put(root, "big/root.tgz", &data);
    let products = json!({"content_id": CID, "datatype": "image-downloads", "format": "products:1.0", "products": {
        "p": {"arch": "amd64", "os": "debian", "release": "bookworm", "versions": {"1": {"items": {"root-tgz": item("big/root.tgz", "root-tgz", &data)}}}}}});
    write_streams(root, &products, &key, &key);
    drop(data);
    let m = serve_mirror(root.to_path_buf(), vec![]).await;
    let url = format!("{}big/root.tgz", m.base);
    let t = std::time::Instant::now();
    let ok = tokio::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", &url])
        .status()
        .await
        .unwrap();
    assert!(ok.success());
    let curl = t.elapsed().as_secs_f64();
    // The same with the digest computed, as the import does.
    let t = std::time::Instant::now();
    let ok = tokio::process::Command::new("sh")
        .args(["-c", &format!("curl -s '{url}' | sha256sum >/dev/null")])
        .status()
        .await
        .unwrap();
    assert!(ok.success());
    let curl_sha = t.elapsed().as_secs_f64();
    let s = Server::start(&[]).await;
    let c = s.client();
    let src = c
        .post_form(
            "/MAAS/api/2.0/boot-sources/",
            &[("url", &m.base)],
            &[("keyring_data", "k.gpg", &key.public())],
        )
        .await
        .expect(201)
        .json();
    c.post(
        &format!("/MAAS/api/2.0/boot-sources/{}/selections/", src["id"]),
        &[("os", "debian"), ("release", "bookworm")],
    )
    .await
    .expect(201);
    let t = std::time::Instant::now();
    c.post("/MAAS/api/2.0/boot-resources/?op=import", &[])
        .await
        .ok();
    let st = wait_import(&c).await;
    let import = t.elapsed().as_secs_f64();
    assert_eq!(st["state"], "complete", "{st:#}");
    let mb = mib as f64 * 1.048576;
    eprintln!(
        "{mib} MiB: curl {curl:.2} s ({:.0} MB/s); curl | sha256sum {curl_sha:.2} s ({:.0} MB/s); import (signed index + product file, download, sha256, fsync, rename) {import:.2} s ({:.0} MB/s)",
        mb / curl,
        mb / curl_sha,
        mb / import
    );
}

/// python-libmaas: `boot_sources.create(url, keyring_data=<file>)`, a selection,
/// `boot_resources.start_import()`; the image arrives.
#[tokio::test]
async fn libmaas_creates_a_source_and_imports() {
    let Some(py) = std::env::var("INGOT_LIBMAAS_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must provide INGOT_LIBMAAS_PYTHON (scripts/test.sh does)"
        );
        eprintln!("INGOT_LIBMAAS_PYTHON not set: skipping");
        return;
    };
    let key = Key::new("libmaas", "ed25519");
    let mirror = tempfile::tempdir().unwrap();
    let root = mirror.path();
    let tgz = pseudo_random(150_000, 21);
    put(root, "img/root.tgz", &tgz);
    let products = json!({"content_id": CID, "datatype": "image-downloads", "format": "products:1.0", "products": {
        "p": {"arch": "amd64", "os": "ubuntu", "release": "jammy", "versions": {"20240601": {"items": {"root-tgz": item("img/root.tgz", "root-tgz", &tgz)}}}}}});
    write_streams(root, &products, &key, &key);
    let m = serve_mirror(root.to_path_buf(), vec![]).await;
    let s = Server::start(&[]).await;
    let kr = mirror.path().join("keyring.gpg");
    std::fs::write(&kr, key.public()).unwrap();
    let script = r#"
import os
import maas.client
c = maas.client.connect(os.environ["MAAS_URL"], apikey=os.environ["MAAS_APIKEY"])
with open(os.environ["KEYRING"], "rb") as f:
    src = c.boot_sources.create(os.environ["MIRROR"], keyring_data=f)
print("SOURCE", src.id, src.url)
o = c._origin
sel = o.BootSourceSelections.create(src, "ubuntu", "jammy", arches=["amd64"])
print("SELECTION", sel.os, sel.release, sel.arches)
print("SOURCES", [s.url for s in c.boot_sources.list()])
c.boot_resources.start_import()
print("IMPORT STARTED")
"#;
    let keyring = kr.display().to_string();
    let stdout = common::run_libmaas(
        &py,
        &s,
        script,
        &[("MIRROR", &m.base), ("KEYRING", &keyring)],
    )
    .await;
    assert!(stdout.contains(&format!("SOURCE 1 {}", m.base)), "{stdout}");
    assert!(
        stdout.contains("SELECTION ubuntu jammy ['amd64']"),
        "{stdout}"
    );
    let c = s.client();
    let st = wait_import(&c).await;
    assert_eq!(st["state"], "complete", "{st:#}");
    let list = c
        .get("/MAAS/api/2.0/boot-resources/?type=synced")
        .await
        .ok()
        .json();
    assert_eq!(list[0]["name"], "ubuntu/jammy", "{list}");
}
