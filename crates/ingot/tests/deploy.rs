//! Deployment through the real binary, the test playing the ephemeral agent and the installed
//! OS over HTTP: boot resources (multipart, and python-libmaas' sha256 + chunked upload),
//! deploy → iPXE deploy → deploy-config (image, flat storage of the commissioned disk, network
//! configuration with the STATIC address, user-data, keys, reporting credentials) → progress →
//! netboot_off → iPXE exit → modules-final → DEPLOYED; failures; release with disk erasing;
//! rescue mode; and bad input refused with nothing left behind.

mod common;
use base64::Engine;
use common::{mac, Client, Server};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

const META: &str = "/MAAS/metadata/2012-03-01/";
const BR: &str = "/MAAS/api/2.0/boot-resources/";

fn hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

fn fixtures() -> PathBuf {
    let shared = std::env::var("INGOT_SHARED_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").into());
    PathBuf::from(shared).join("fixtures/lxd")
}

/// The ephemeral kernel and initrd, as `ingot images build` stores them.
fn install_ephemeral(dir: &std::path::Path) {
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    let (kernel, initrd) = (b"kernel-bytes".to_vec(), b"initrd-bytes".to_vec());
    let (k, i) = (hex(&kernel), hex(&initrd));
    std::fs::write(images.join(&k), &kernel).unwrap();
    std::fs::write(images.join(&i), &initrd).unwrap();
    let index = json!([{"name": "ephemeral/amd64", "arch": "amd64", "kernel": {"sha256": k, "size": kernel.len()}, "initrd": {"sha256": i, "size": initrd.len()}, "kernel_version": "6.1.0-test"}]);
    std::fs::write(images.join("index.json"), index.to_string()).unwrap();
}

async fn ipxe(s: &Server, m: &str) -> String {
    s.anon()
        .get(&format!("/MAAS/boot/ipxe?mac={m}&arch=amd64"))
        .await
        .ok()
        .body
}

/// PUT raw bytes, signed, as python-libmaas uploads a chunk.
async fn put_raw(c: &Client, path: &str, data: &[u8]) -> (u16, String) {
    let r = c
        .http
        .put(c.url(path))
        .header("Content-Type", "application/octet-stream")
        .header("Authorization", c.auth_header().unwrap())
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

async fn get_bytes(s: &Server, path: &str) -> (u16, Vec<u8>) {
    let r = s.anon().http.get(s.anon().url(path)).send().await.unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

/// The one file of a resource's newest set.
fn file_of(r: &Value) -> Value {
    let sets = r["sets"].as_object().expect("sets");
    let newest = sets.keys().max().expect("a set");
    let files = sets[newest]["files"].as_object().expect("files");
    assert_eq!(files.len(), 1, "{r:#}");
    files.values().next().unwrap().clone()
}

/// A machine commissioned with a real inventory (disks, NICs) and READY.
async fn commissioned(c: &Client, host: &str, m: &str) -> String {
    let sid = c.create(host, m, &[("testing_scripts", "none")]).await["system_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mc = c.with_token(&c.token(&sid).await);
    let read = |f: &str| -> Value {
        serde_json::from_slice(&std::fs::read(fixtures().join(f)).expect("LXD fixture")).unwrap()
    };
    let doc = json!({
        "api_version": "1.0",
        "api_extensions": ["resources", "resources_cpu_socket", "resources_gpu", "resources_numa", "resources_v2", "resources_disk_sata", "resources_network_firmware", "resources_disk_id", "resources_usb_pci", "resources_cpu_threads_numa", "resources_cpu_core_die", "api_os", "resources_system", "resources_pci_iommu", "resources_network_usb", "resources_disk_address"],
        "environment": {"kernel": "Linux", "kernel_architecture": "x86_64", "kernel_version": "6.1.0", "os_name": "ubuntu", "os_version": "22.04", "server": "maas-machine-resources", "server_name": "test", "server_version": "5.0"},
        "resources": read("SAMPLE_LXD_RESOURCES.json"),
    });
    let doc = serde_json::to_vec(&doc).unwrap();
    // Play commissioning as the agent does, the inventory script printing the document.
    let idx = mc.get(&format!("{META}maas-scripts/")).await.ok().json();
    for e in idx["commissioning_scripts"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        let id = e["script_result_id"].as_i64().unwrap().to_string();
        let out_name = format!("{name}.out");
        let out: &[u8] = if name == "50-maas-01-commissioning" {
            &doc
        } else {
            b"ok\n"
        };
        signal(
            &mc,
            &[
                ("status", b"WORKING"),
                ("script_result_id", id.as_bytes()),
                ("exit_status", b"0"),
                (&out_name, out),
            ],
        )
        .await;
    }
    signal(&mc, &[("status", b"OK")]).await;
    assert_eq!(c.machine(&sid).await["status_name"], "Ready");
    sid
}

fn iface_id(m: &Value, mac: &str) -> i64 {
    let set = m["interface_set"].as_array().unwrap();
    set.iter()
        .find(|i| i["mac_address"] == mac)
        .unwrap_or(&set[0])["id"]
        .as_i64()
        .unwrap()
}

async fn signal(mc: &Client, fields: &[(&str, &[u8])]) {
    mc.post_files(&format!("{META}?op=signal"), fields)
        .await
        .ok();
}

async fn static_ips(c: &Client) -> usize {
    // Every address in use: user reservations are listed by ipaddresses/, machine links are
    // counted through the machines' interfaces.
    let ms = c.get("/MAAS/api/2.0/machines/").await.ok().json();
    ms.as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["interface_set"].as_array().cloned().unwrap_or_default())
        .flat_map(|i| i["links"].as_array().cloned().unwrap_or_default())
        .filter(|l| l["ip_address"].is_string())
        .count()
}

#[tokio::test]
async fn boot_resources_upload_both_ways_sqlite() {
    boot_resources_upload_both_ways(&Server::start(&[]).await).await;
}

#[tokio::test]
async fn boot_resources_upload_both_ways_postgres() {
    let Some(s) = Server::start_pg(&[]).await else {
        return;
    };
    boot_resources_upload_both_ways(&s).await;
}

async fn boot_resources_upload_both_ways(s: &Server) {
    let c = s.client();
    // One multipart request (the MAAS CLI's content@=FILE).
    let small: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
    let r = c.upload_image("custom/small", &small).await;
    let f = file_of(&r);
    assert_eq!(r["name"], "custom/small");
    assert_eq!(r["type"], "Uploaded");
    assert_eq!(r["architecture"], "amd64/generic");
    assert_eq!(f["filetype"], "root-tgz");
    assert_eq!(f["complete"], true);
    assert_eq!(f["sha256"], hex(&small));
    assert_eq!(f["size"], small.len());
    let (st, back) = get_bytes(s, &format!("/MAAS/boot/images/{}", hex(&small))).await;
    assert_eq!((st, back == small), (200, true));

    // python-libmaas: create with sha256 + size, then PUT chunks to upload_uri.
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(7) % 256) as u8)
        .collect();
    let r = c
        .post(
            BR,
            &[
                ("name", "custom/big"),
                ("architecture", "amd64/generic"),
                ("filetype", "ddraw"),
                ("title", "Big"),
                ("sha256", &hex(&big)),
                ("size", &big.len().to_string()),
            ],
        )
        .await
        .expect(201)
        .json();
    let f = file_of(&r);
    assert_eq!(f["complete"], false);
    assert_eq!(f["filetype"], "ddraw");
    let uri = f["upload_uri"].as_str().unwrap().to_string();
    assert!(uri.starts_with("/MAAS/api/2.0/boot-resources/"), "{uri}");
    let id = r["id"].as_i64().unwrap();
    for chunk in big.chunks(1 << 20) {
        let (st, body) = put_raw(&c, &uri, chunk).await;
        assert_eq!(st, 200, "{body}");
    }
    let r = c.get(&format!("{BR}{id}/")).await.ok().json();
    assert_eq!(file_of(&r)["complete"], true, "{r:#}");
    let (st, back) = get_bytes(s, &format!("/MAAS/boot/images/{}", hex(&big))).await;
    assert_eq!((st, back.len()), (200, big.len()));
    assert!(back == big, "bytes read back differ");
    // A complete file takes no more chunks; Range works on images.
    let (st, body) = put_raw(&c, &uri, b"more").await;
    assert_eq!(st, 400, "{body}");
    let r = s
        .anon()
        .http
        .get(s.anon().url(&format!("/MAAS/boot/images/{}", hex(&big))))
        .header("Range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 206);
    assert_eq!(r.bytes().await.unwrap().to_vec(), big[10..20].to_vec());

    // A digest mismatch: the bytes are refused on completion and the file stays incomplete.
    let wrong = hex(b"something else");
    let r = c
        .post(
            BR,
            &[
                ("name", "liar"),
                ("architecture", "amd64/generic"),
                ("sha256", &wrong),
                ("size", "10"),
            ],
        )
        .await
        .expect(201)
        .json();
    assert_eq!(r["name"], "custom/liar");
    let uri = file_of(&r)["upload_uri"].as_str().unwrap().to_string();
    let (st, body) = put_raw(&c, &uri, b"0123456789A").await;
    assert_eq!(st, 400, "too much: {body}");
    assert!(body.contains("exceed"), "{body}");
    let (st, _) = put_raw(&c, &uri, b"01234").await;
    assert_eq!(st, 200);
    let (st, body) = put_raw(&c, &uri, b"56789").await;
    assert_eq!(st, 400, "{body}");
    assert!(
        body.contains("does not match") && body.contains(&wrong),
        "{body}"
    );
    let r = c.get(&format!("{BR}{}/", r["id"])).await.ok().json();
    assert_eq!(file_of(&r)["complete"], false);
    let (st, _) = get_bytes(s, &format!("/MAAS/boot/images/{}", hex(b"0123456789"))).await;
    assert_eq!(st, 404, "refused bytes are not served");

    // Listing, type filter, import answers.
    let all = c.get(BR).await.ok().json();
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert!(all[0].get("sets").is_none());
    let up = c.get(&format!("{BR}?type=uploaded")).await.ok().json();
    assert_eq!(up.as_array().unwrap().len(), 3);
    let gen = c.get(&format!("{BR}?type=generated")).await.ok().json();
    assert_eq!(gen.as_array().unwrap().len(), 0);
    c.get(&format!("{BR}?type=bogus")).await.expect(400);
    assert_eq!(
        c.get(&format!("{BR}?op=is_importing")).await.ok().json(),
        json!(false)
    );
    let r = c.post(&format!("{BR}?op=import"), &[]).await.ok();
    // No boot source: the import (tests/streams.rs) has nothing to fetch.
    assert_eq!(r.body, "Import of boot resources started");

    // Bad input: 400 naming the field; nothing created.
    for (params, field) in [
        (
            vec![
                ("architecture", "amd64/generic"),
                ("sha256", &*wrong),
                ("size", "3"),
            ],
            "name",
        ),
        (
            vec![
                ("name", "x"),
                ("architecture", "vax/generic"),
                ("sha256", &*wrong),
                ("size", "3"),
            ],
            "architecture",
        ),
        (
            vec![
                ("name", "x"),
                ("architecture", "amd64/generic"),
                ("filetype", "ddzip"),
                ("sha256", &*wrong),
                ("size", "3"),
            ],
            "filetype",
        ),
        (
            vec![
                ("name", "x"),
                ("architecture", "amd64/generic"),
                ("size", "3"),
            ],
            "sha256",
        ),
        (
            vec![
                ("name", "x"),
                ("architecture", "amd64/generic"),
                ("sha256", "abc"),
                ("size", "3"),
            ],
            "sha256",
        ),
        (
            vec![
                ("name", "x"),
                ("architecture", "amd64/generic"),
                ("sha256", &*wrong),
                ("size", "-3"),
            ],
            "size",
        ),
        (
            vec![
                ("name", "a/b/c"),
                ("architecture", "amd64/generic"),
                ("sha256", &*wrong),
                ("size", "3"),
            ],
            "name",
        ),
    ] {
        let r = c.post(BR, &params).await.expect(400);
        assert!(r.json().get(field).is_some(), "{params:?}: {}", r.body);
    }
    // A content whose digest is not the one announced.
    let r = c
        .post_form(
            BR,
            &[
                ("name", "x"),
                ("architecture", "amd64/generic"),
                ("sha256", &wrong),
            ],
            &[("content", "x.tgz", b"abc")],
        )
        .await
        .expect(400);
    assert!(r.body.contains("sha256"), "{}", r.body);
    assert_eq!(c.get(BR).await.ok().json().as_array().unwrap().len(), 3);
    // Users list; only admins upload or delete.
    let bob = s.user("bob").await;
    bob.get(BR).await.ok();
    bob.post(
        BR,
        &[
            ("name", "x"),
            ("architecture", "amd64"),
            ("sha256", &wrong),
            ("size", "3"),
        ],
    )
    .await
    .expect(403);
    bob.delete(&format!("{BR}{id}/")).await.expect(403);
    // Delete: gone, and its bytes with it.
    c.delete(&format!("{BR}{id}/")).await.expect(204);
    c.get(&format!("{BR}{id}/")).await.expect(404);
    let (st, _) = get_bytes(s, &format!("/MAAS/boot/images/{}", hex(&big))).await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn deploy_install_report_release_with_erase_sqlite() {
    deploy_install_report_release_with_erase(&Server::start(&[]).await).await;
}

#[tokio::test]
async fn deploy_install_report_release_with_erase_postgres() {
    let Some(s) = Server::start_pg(&[]).await else {
        return;
    };
    deploy_install_report_release_with_erase(&s).await;
}

async fn deploy_install_report_release_with_erase(s: &Server) {
    install_ephemeral(s.dir.path());
    let c = s.client();
    // The settings every installed OS receives as vendor-data; bad values are refused and
    // named, and change nothing.
    for (name, value) in [
        ("ntp_servers", "ntp1.example.com 10.77.0.123"),
        ("http_proxy", "http://10.77.0.1:3128/"),
        ("main_archive", "http://10.77.0.1/debian"),
        ("remote_syslog", "10.77.0.1:514"),
    ] {
        c.post(
            "/MAAS/api/2.0/maas/?op=set_config",
            &[("name", name), ("value", value)],
        )
        .await
        .ok();
    }
    for (name, value, why) in [
        ("ntp_servers", "ntp_1.example.com", "not a host name"),
        ("http_proxy", "ftp://proxy/", "http:// or https://"),
        ("main_archive", "mirror.example.com", "http:// or https://"),
        ("remote_syslog", "10.77.0.1:70000", "host:port"),
    ] {
        let r = c
            .post(
                "/MAAS/api/2.0/maas/?op=set_config",
                &[("name", name), ("value", value)],
            )
            .await
            .expect(400);
        assert!(r.body.contains(why), "{name}={value}: {}", r.body);
    }
    let got = c
        .get("/MAAS/api/2.0/maas/?op=get_config&name=http_proxy")
        .await
        .ok()
        .json();
    assert_eq!(got, "http://10.77.0.1:3128/");
    // Package repositories: custom ones reach every deployment's apt sources; the checks
    // MAAS makes refuse the rest, naming the field.
    let repos = "/MAAS/api/2.0/package-repositories/";
    let defaults = c.get(repos).await.ok().json();
    assert_eq!(defaults[0]["name"], "main_archive");
    assert_eq!(defaults[1]["name"], "ports_archive");
    for (form, field) in [
        (vec![("url", "http://10.77.0.1/extra")], "name"),
        (vec![("name", "x"), ("url", "mirror.example")], "url"),
        (
            vec![("name", "x"), ("url", "http://m/"), ("arches", "vax")],
            "arches",
        ),
        (
            vec![
                ("name", "x"),
                ("url", "http://m/"),
                ("disabled_components", "universe"),
            ],
            "disabled_components",
        ),
        (
            vec![
                ("name", "x"),
                ("url", "http://m/"),
                ("disabled_pockets", "proposed"),
            ],
            "disabled_pockets",
        ),
    ] {
        let r = c.post(repos, &form).await.expect(400);
        assert!(r.json()[field].is_array(), "{form:?}: {}", r.body);
    }
    let extra = c
        .post(
            repos,
            &[
                ("name", "extra"),
                ("url", "http://10.77.0.1/extra"),
                ("distributions", "bookworm"),
                ("components", "main,contrib"),
                ("arches", "amd64"),
            ],
        )
        .await
        .ok()
        .json();
    c.post(
        repos,
        &[
            ("name", "off"),
            ("url", "http://10.77.0.1/off"),
            ("enabled", "false"),
        ],
    )
    .await
    .ok();
    c.put(&format!("{repos}1/"), &[("enabled", "false")])
        .await
        .expect(400);
    c.delete(&format!("{repos}1/")).await.expect(400);
    let r = c
        .put(
            &format!("{repos}{}/", extra["id"]),
            &[("key", "-----BEGIN PGP PUBLIC KEY BLOCK-----")],
        )
        .await
        .ok()
        .json();
    assert_eq!(r["components"], json!(["main", "contrib"]));
    let image = b"root file system tarball".to_vec();
    c.upload_image("custom/ingot-test", &image).await;
    c.post(
        "/MAAS/api/2.0/subnets/",
        &[
            ("cidr", "10.77.0.0/24"),
            ("gateway_ip", "10.77.0.1"),
            ("dns_servers", "10.77.0.53"),
        ],
    )
    .await
    .ok();
    c.post("/MAAS/api/2.0/subnets/", &[("cidr", "10.78.0.0/24")])
        .await
        .ok();
    c.post("/MAAS/api/2.0/subnets/", &[("cidr", "172.30.0.0/16")])
        .await
        .ok();
    c.post(
        "/MAAS/api/2.0/static-routes/",
        &[
            ("source", "10.77.0.0/24"),
            ("destination", "172.30.0.0/16"),
            ("gateway_ip", "10.77.0.254"),
            ("metric", "7"),
        ],
    )
    .await
    .ok();
    c.post(
        "/MAAS/api/2.0/account/prefs/sshkeys/",
        &[(
            "key",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDeployTestKey admin@test",
        )],
    )
    .await
    .ok();
    let sid = commissioned(&c, "web1", &mac(7001)).await;
    let m = c.machine(&sid).await;
    // The inventory's NICs are the machine's now: boot by the first one.
    let m1 = m["interface_set"][0]["mac_address"]
        .as_str()
        .unwrap()
        .to_string();
    let boot_disk = m["boot_disk"].clone();
    let first_disk = m["blockdevice_set"][0].clone();
    assert!(first_disk.is_object(), "the inventory gave disks: {m:#}");
    let disk = if boot_disk.is_object() {
        boot_disk
    } else {
        first_disk
    };
    // STATIC on the boot interface; AUTO on another subnet on a second interface.
    let i1 = iface_id(&m, &m1);
    let link = |iid: i64| format!("/MAAS/api/2.0/nodes/{sid}/interfaces/{iid}/?op=link_subnet");
    c.post(
        &link(i1),
        &[
            ("mode", "STATIC"),
            ("subnet", "10.77.0.0/24"),
            ("ip_address", "10.77.0.10"),
        ],
    )
    .await
    .ok();
    let other = m["interface_set"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"].as_i64() != Some(i1))
        .map(|i| {
            (
                i["id"].as_i64().unwrap(),
                i["name"].as_str().unwrap().to_string(),
            )
        });
    assert!(other.is_some(), "the inventory has two NICs: {m:#}");
    if let Some((i2, _)) = &other {
        c.post(&link(*i2), &[("mode", "AUTO"), ("subnet", "10.78.0.0/24")])
            .await
            .ok();
    }
    c.post(
        "/MAAS/api/2.0/machines/?op=allocate",
        &[("system_id", &sid)],
    )
    .await
    .ok();
    // A VLAN interface on the boot NIC, linked up (made through the API while allocated):
    // deployed with the machine, removed by the release.
    let fabric = c.get("/MAAS/api/2.0/fabrics/").await.ok().json()[0]["id"].to_string();
    let vlan42 = c
        .post(
            &format!("/MAAS/api/2.0/fabrics/{fabric}/vlans/"),
            &[("vid", "42")],
        )
        .await
        .ok()
        .json()["id"]
        .to_string();
    let v = c
        .post(
            &format!("/MAAS/api/2.0/nodes/{sid}/interfaces/?op=create_vlan"),
            &[("parent", &i1.to_string()), ("vlan", &vlan42)],
        )
        .await
        .ok()
        .json();
    let vlan_name = v["name"].as_str().unwrap().to_string();
    c.post(
        &format!(
            "/MAAS/api/2.0/nodes/{sid}/interfaces/{}/?op=link_subnet",
            v["id"]
        ),
        &[("mode", "LINK_UP")],
    )
    .await
    .ok();
    // A special filesystem (MAAS mount_special), and one refused for a mount point in use.
    let m = c
        .op(
            &sid,
            "mount_special",
            &[
                ("fstype", "tmpfs"),
                ("mount_point", "/scratch"),
                ("mount_options", "size=512M"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(
        m["special_filesystems"][0]["mount_point"], "/scratch",
        "{m:#}"
    );
    c.op(
        &sid,
        "mount_special",
        &[("fstype", "ramfs"), ("mount_point", "/")],
    )
    .await
    .expect(400);
    c.op(
        &sid,
        "mount_special",
        &[("fstype", "ramfs"), ("mount_point", "/tmp/r")],
    )
    .await
    .ok();
    c.op(&sid, "unmount_special", &[("mount_point", "/tmp/r")])
        .await
        .ok();
    let user_data = "#cloud-config\nruncmd: [touch /ingot-deployed]\n";
    let ud64 = base64::engine::general_purpose::STANDARD.encode(user_data);
    let d = c
        .op(
            &sid,
            "deploy",
            &[("user_data", &ud64), ("hwe_kernel", "ga-22.04")],
        )
        .await
        .ok()
        .json();
    assert_eq!(d["status_name"], "Deploying");
    assert_eq!(d["osystem"], "custom");
    assert_eq!(d["distro_series"], "ingot-test");
    // The installer boots with the machine's token.
    let script = ipxe(s, &m1).await;
    assert!(script.contains("ingot.purpose=deploy"), "{script}");
    assert!(script.contains("ingot.token="), "{script}");

    // The agent's configuration.
    let t = c.token(&sid).await;
    let mc = c.with_token(&t);
    let cfg = mc
        .get("/MAAS/metadata/latest/deploy-config")
        .await
        .ok()
        .json();
    assert_eq!(cfg["system_id"], sid.as_str());
    assert_eq!(
        cfg["special_mounts"],
        json!([{"fstype": "tmpfs", "path": "/scratch", "options": "size=512M"}])
    );
    assert_eq!(cfg["hostname"], "web1");
    assert_eq!(cfg["fqdn"], "web1.maas");
    assert_eq!(cfg["image"]["name"], "custom/ingot-test");
    assert_eq!(cfg["image"]["sha256"], hex(&image));
    assert_eq!(cfg["image"]["size"], image.len());
    assert_eq!(cfg["image"]["kind"], "tgz");
    let url = cfg["image"]["url"].as_str().unwrap();
    assert_eq!(url, format!("{}/MAAS/boot/images/{}", s.base, hex(&image)));
    assert!(
        script.contains(&format!("ingot.url={}/MAAS", s.base)),
        "{script}"
    );
    let got = s
        .anon()
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.to_vec(), image);
    // Flat storage of the commissioned boot disk.
    let st = cfg["storage"].as_array().unwrap();
    assert_eq!(st.len(), 4, "{cfg:#}");
    assert_eq!(st[0]["type"], "disk");
    assert_eq!(st[0]["ptable"], "msdos");
    assert_eq!(st[0]["boot"], true);
    assert_eq!(st[0]["size"], disk["size"]);
    // The fixture's two disks share a serial: the step names the disk by its path instead.
    assert!(
        st[0]["serial"] == disk["serial"]
            || st[0]["path"]
                .as_str()
                .is_some_and(|p| p.ends_with(disk["name"].as_str().unwrap_or("?"))
                    || disk["id_path"] == st[0]["path"]),
        "{:#} vs {disk:#}",
        st[0]
    );
    assert_eq!(st[1]["type"], "partition");
    assert_eq!(st[1]["device"], st[0]["id"]);
    assert_eq!(st[2]["type"], "format");
    assert_eq!(st[2]["fstype"], "ext4");
    assert_eq!(st[3]["type"], "mount");
    assert_eq!(st[3]["path"], "/");
    // Network: the STATIC address with the prefix, gateway and DNS; AUTO got one too.
    let net: Value = serde_json::from_str(cfg["network_config"].as_str().unwrap()).unwrap();
    let eths = net["ethernets"].as_object().unwrap();
    let e1 = eths
        .values()
        .find(|e| e["match"]["macaddress"] == m1.as_str())
        .unwrap_or_else(|| panic!("{net:#}"));
    assert_eq!(e1["addresses"][0], "10.77.0.10/24");
    assert_eq!(e1["gateway4"], "10.77.0.1");
    assert_eq!(e1["nameservers"]["addresses"][0], "10.77.0.53");
    assert_eq!(e1["nameservers"]["search"], json!(["maas"]), "{net:#}");
    assert_eq!(
        e1["routes"][0],
        json!({"to": "172.30.0.0/16", "via": "10.77.0.254", "metric": 7}),
        "the static route of the link's subnet: {net:#}"
    );
    // Vendor-data from the settings.
    let vd = cfg["vendor_data"]
        .as_str()
        .unwrap_or_else(|| panic!("{cfg:#}"));
    let vd: Value = serde_json::from_str(vd.strip_prefix("#cloud-config\n").unwrap()).unwrap();
    assert_eq!(
        vd["ntp"]["servers"],
        json!(["ntp1.example.com", "10.77.0.123"])
    );
    assert_eq!(vd["apt"]["proxy"], "http://10.77.0.1:3128/");
    assert_eq!(vd["apt"]["primary"][0]["uri"], "http://10.77.0.1/debian");
    assert_eq!(
        vd["apt"]["sources"],
        json!({"extra": {"source": "deb [arch=amd64] http://10.77.0.1/extra bookworm main contrib", "key": "-----BEGIN PGP PUBLIC KEY BLOCK-----"}}),
        "the enabled custom repository, not the disabled one"
    );
    assert_eq!(vd["rsyslog"]["remotes"]["maas"], "10.77.0.1:514");
    if let Some((_, name)) = &other {
        let a = net["ethernets"][name]["addresses"][0]
            .as_str()
            .unwrap_or_default();
        assert!(a.starts_with("10.78.0.") && a.ends_with("/24"), "{net:#}");
        assert!(
            net["ethernets"][name].get("gateway4").is_none()
                && net["ethernets"][name].get("routes").is_none(),
            "one default route"
        );
    }
    let e1_name = eths
        .iter()
        .find(|(_, e)| e["match"]["macaddress"] == m1.as_str())
        .map(|(k, _)| k.clone())
        .unwrap();
    assert_eq!(net["vlans"][&vlan_name]["id"], 42, "{net:#}");
    assert_eq!(
        net["vlans"][&vlan_name]["link"],
        e1_name.as_str(),
        "{net:#}"
    );
    assert_eq!(cfg["user_data"], ud64.as_str());
    assert_eq!(
        cfg["ssh_keys"][0],
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDeployTestKey admin@test"
    );
    assert_eq!(
        cfg["reporting"]["endpoint"],
        format!("{}/MAAS/metadata/status/{sid}", s.base)
    );
    // The reporting credentials work on the status endpoint: curtin progress, no status change.
    let rep = c.with_token(&json!({
        "consumer_key": cfg["reporting"]["consumer_key"],
        "token_key": cfg["reporting"]["token_key"],
        "token_secret": cfg["reporting"]["token_secret"],
    }));
    for (et, name) in [
        ("start", "cmd-install"),
        ("progress", "cmd-install/stage-extract"),
        ("finish", "cmd-install/stage-extract"),
    ] {
        rep.post_json(
            &format!("/MAAS/metadata/status/{sid}"),
            &json!({"event_type": et, "origin": "curtin", "name": name, "description": "extracting", "result": "SUCCESS"}),
        )
        .await
        .expect(204);
    }
    assert_eq!(c.machine(&sid).await["status_name"], "Deploying");
    let evs = c.events(&sid).await;
    assert!(
        evs.iter().any(|e| e["description"]
            .as_str()
            .is_some_and(|d| d.contains("curtin cmd-install/stage-extract progress"))),
        "progress is on the event log: {evs:#?}"
    );
    // Installed: netboot off, the next boot is the disk.
    mc.post(&format!("{META}?op=netboot_off"), &[]).await.ok();
    let script = ipxe(s, &m1).await;
    assert!(
        script.contains("exit") && !script.contains("kernel "),
        "{script}"
    );
    c.report_deployed(&sid).await.expect(204);
    let m = c.machine(&sid).await;
    assert_eq!(m["status_name"], "Deployed", "{m:#}");
    assert!(ipxe(s, &m1).await.contains("exit"));
    // Not deploying any more: no configuration.
    let r = mc
        .get("/MAAS/metadata/latest/deploy-config")
        .await
        .expect(409);
    assert!(r.body.contains("Deployed"), "{}", r.body);
    let addrs_deployed = static_ips(&c).await;
    assert_eq!(addrs_deployed, if other.is_some() { 2 } else { 1 });

    let n_ifaces = c.machine(&sid).await["interface_set"]
        .as_array()
        .unwrap()
        .len();
    // Release with quick erase: DISK_ERASING, the erase environment, wipe-disks with the flags.
    let r = c
        .op(&sid, "release", &[("quick_erase", "true")])
        .await
        .ok()
        .json();
    assert_eq!(r["status_name"], "Disk erasing");
    assert!(ipxe(s, &m1).await.contains("ingot.purpose=erase"));
    let mc = c.with_token(&c.token(&sid).await);
    let idx = mc.get(&format!("{META}maas-scripts/")).await.ok().json();
    let rel = idx["release_scripts"].as_array().unwrap();
    assert_eq!(rel.len(), 1, "{idx:#}");
    assert_eq!(rel[0]["name"], "wipe-disks");
    assert_eq!(rel[0]["parameters"]["quick_erase"]["value"], true);
    // disk_erase_with_secure_erase is on by default (as in MAAS): secure erase where the disk
    // supports it, the quick erase elsewhere.
    assert_eq!(rel[0]["parameters"]["secure_erase"]["value"], true);
    assert!(idx["testing_scripts"].as_array().unwrap().is_empty());
    assert!(idx["commissioning_scripts"].as_array().unwrap().is_empty());
    let rid = rel[0]["script_result_id"].as_i64().unwrap().to_string();
    signal(
        &mc,
        &[
            ("status", b"WORKING"),
            ("script_result_id", rid.as_bytes()),
            ("exit_status", b"0"),
            ("wipe-disks.out", b"vda: quick erase done\n"),
        ],
    )
    .await;
    assert_eq!(c.machine(&sid).await["status_name"], "Disk erasing");
    signal(&mc, &[("status", b"OK")]).await;
    let m = c.machine(&sid).await;
    assert_eq!(m["status_name"], "Ready", "{m:#}");
    assert_eq!(m["osystem"], "");
    assert!(m["owner"].is_null());
    assert_eq!(m["netboot"], true);
    // The AUTO address went back; the STATIC one stays with its interface; the VLAN is gone.
    assert_eq!(static_ips(&c).await, 1);
    let ifaces = m["interface_set"].as_array().unwrap();
    assert_eq!(ifaces.len(), n_ifaces - 1, "{m:#}");
    assert!(
        ifaces.iter().all(|i| i["name"] != vlan_name.as_str()),
        "{m:#}"
    );
    let res = c
        .get(&format!(
            "/MAAS/api/2.0/nodes/{sid}/results/?result_type=release"
        ))
        .await;
    assert!(res.status.is_success(), "{}", res.body);
}

#[tokio::test]
async fn deploy_failures_queue_and_bad_input() {
    let s = Server::start(&["--reap-interval", "1"]).await;
    install_ephemeral(s.dir.path());
    let c = s.client();
    let sid = c.ready_machine("f1", &mac(7101), &[]).await;
    // No image at all.
    let r = c.op(&sid, "deploy", &[]).await.expect(400);
    assert!(r.body.contains("No image has been uploaded"), "{}", r.body);
    c.upload_image("custom/alpha", b"alpha").await;
    c.upload_image("custom/beta", b"beta").await;
    // Two images and no default naming one: say which there are.
    let r = c.op(&sid, "deploy", &[]).await.expect(400);
    assert!(
        r.body.contains("is not a valid distro_series")
            && r.body.contains("custom/alpha")
            && r.body.contains("custom/beta"),
        "{}",
        r.body
    );
    let r = c
        .op(&sid, "deploy", &[("distro_series", "gamma")])
        .await
        .expect(400);
    assert!(
        r.json()["distro_series"][0]
            .as_str()
            .unwrap()
            .contains("'custom/beta'"),
        "{}",
        r.body
    );
    c.op(
        &sid,
        "deploy",
        &[("user_data", "!!not base64!!"), ("distro_series", "alpha")],
    )
    .await
    .expect(400);
    assert_eq!(c.machine(&sid).await["status_name"], "Ready");

    // AUTO exhaustion: 503, nothing allocated, the machine unchanged.
    c.post(
        "/MAAS/api/2.0/subnets/",
        &[("cidr", "10.79.0.0/29"), ("gateway_ip", "10.79.0.1")],
    )
    .await
    .ok();
    let sid2 = c.ready_machine("f2", &mac(7102), &[]).await;
    let i = c.machine(&sid2).await["interface_set"][0]["id"]
        .as_i64()
        .unwrap();
    let link = format!("/MAAS/api/2.0/nodes/{sid2}/interfaces/{i}/?op=link_subnet");
    c.post(&link, &[("mode", "AUTO"), ("subnet", "10.79.0.0/29")])
        .await
        .ok();
    for ip in [
        "10.79.0.2",
        "10.79.0.3",
        "10.79.0.4",
        "10.79.0.5",
        "10.79.0.6",
    ] {
        c.post(
            "/MAAS/api/2.0/ipaddresses/",
            &[("op", "reserve"), ("ip", ip)],
        )
        .await
        .ok();
    }
    let before = c.get("/MAAS/api/2.0/ipaddresses/").await.ok().json();
    let r = c
        .op(&sid2, "deploy", &[("distro_series", "custom/alpha")])
        .await
        .expect(503);
    assert!(
        r.body.contains("AUTO address") && r.body.contains("10.79.0.0/29"),
        "{}",
        r.body
    );
    let m = c.machine(&sid2).await;
    assert_eq!(m["status_name"], "Ready");
    assert!(
        m["interface_set"][0]["links"][0]["ip_address"].is_null(),
        "{m:#}"
    );
    assert_eq!(
        c.get("/MAAS/api/2.0/ipaddresses/").await.ok().json(),
        before
    );
    // Free one: the deploy takes it; a refused deploy (wrong state) gives it back.
    c.post(
        "/MAAS/api/2.0/ipaddresses/",
        &[("op", "release"), ("ip", "10.79.0.6")],
    )
    .await
    .ok();
    let d = c
        .op(&sid2, "deploy", &[("distro_series", "custom/alpha")])
        .await
        .ok()
        .json();
    assert_eq!(d["status_name"], "Deploying");
    let m = c.machine(&sid2).await;
    assert_eq!(m["interface_set"][0]["links"][0]["ip_address"], "10.79.0.6");

    // The installer fails: FAILED_DEPLOYMENT naming the step.
    let mc = c.with_token(&c.token(&sid2).await);
    signal(
        &mc,
        &[
            ("status", b"FAILED"),
            ("error", b"storage: no disk matches serial S123"),
        ],
    )
    .await;
    let m = c.machine(&sid2).await;
    assert_eq!(m["status_name"], "Failed deployment");
    assert_eq!(
        m["error_description"],
        "storage: no disk matches serial S123"
    );
    // Release (no erase): the AUTO address goes back.
    c.op(&sid2, "release", &[]).await.ok();
    let m = c.machine(&sid2).await;
    assert_eq!(m["status_name"], "Ready", "{m:#}");
    assert!(m["interface_set"][0]["links"][0]["ip_address"].is_null());

    // The installed OS reports a failure: FAILED_DEPLOYMENT. (default_distro_series names
    // the image when the deploy does not.)
    c.post(
        "/MAAS/api/2.0/maas/?op=set_config",
        &[("name", "default_distro_series"), ("value", "beta")],
    )
    .await
    .ok();
    let d = c.op(&sid, "deploy", &[]).await.ok().json();
    assert_eq!(d["distro_series"], "beta");
    assert_eq!(d["osystem"], "custom");
    // As cloud-init 22.4 reports a failing user-data script: the module's own failure, then
    // the stage's (a module that failed in an earlier stage run is not named).
    let mc = c.with_token(&c.token(&sid).await);
    for (event_type, name, result) in [
        ("finish", "modules-final/config-ssh", Some("FAIL")),
        ("start", "modules-final", None),
        ("start", "modules-final/config-scripts-user", None),
        ("finish", "modules-final/config-scripts-user", Some("FAIL")),
        (
            "finish",
            "modules-final/config-final-message",
            Some("SUCCESS"),
        ),
        ("finish", "modules-final", Some("FAIL")),
    ] {
        let mut ev = json!({"event_type": event_type, "origin": "cloudinit", "name": name, "description": "running modules for final"});
        if let Some(r) = result {
            ev["result"] = json!(r);
        }
        mc.post_json(&format!("/MAAS/metadata/status/{sid}"), &ev)
            .await
            .expect(204);
    }
    let m = c.machine(&sid).await;
    assert_eq!(m["status_name"], "Failed deployment");
    assert_eq!(
        m["error_description"],
        "Installation failed: modules-final (running modules for final): config-scripts-user failed"
    );
    c.op(&sid, "release", &[]).await.ok();

    // The admission queue: the second deployment gets no configuration until admitted.
    c.post(
        "/MAAS/api/2.0/maas/?op=set_config",
        &[("name", "max_concurrent_deployments"), ("value", "1")],
    )
    .await
    .ok();
    c.op(&sid, "deploy", &[("distro_series", "alpha")])
        .await
        .ok();
    let q = c
        .op(&sid2, "deploy", &[("distro_series", "alpha")])
        .await
        .ok()
        .json();
    assert!(q["deploy_queued_since"].is_string(), "{q:#}");
    let r = c
        .with_token(&c.token(&sid2).await)
        .get("/MAAS/metadata/latest/deploy-config")
        .await
        .expect(409);
    assert!(r.body.contains("waiting for a slot"), "{}", r.body);
    assert!(ipxe(&s, &mac(7102)).await.contains("deployment slot"));
    // The admitted one gets its configuration: its disk laid out flat.
    let cfg = c
        .with_token(&c.token(&sid).await)
        .get("/MAAS/metadata/latest/deploy-config")
        .await
        .ok()
        .json();
    assert_eq!(cfg["storage"][0]["type"], "disk", "{cfg:#}");
    c.report_deployed(&sid).await.expect(204);
    c.wait_machine(&sid2, "admitted", |m| !m["deploy_queued_since"].is_string())
        .await;
    assert!(ipxe(&s, &mac(7102)).await.contains("ingot.purpose=deploy"));

    // Erase settings: release without parameters erases, securely.
    for (n, v) in [
        ("enable_disk_erasing_on_release", "true"),
        ("disk_erase_with_secure_erase", "1"),
    ] {
        c.post(
            "/MAAS/api/2.0/maas/?op=set_config",
            &[("name", n), ("value", v)],
        )
        .await
        .ok();
    }
    c.post(
        "/MAAS/api/2.0/maas/?op=set_config",
        &[
            ("name", "disk_erase_with_quick_erase"),
            ("value", "perhaps"),
        ],
    )
    .await
    .expect(400);
    assert_eq!(
        c.get("/MAAS/api/2.0/maas/?op=get_config&name=enable_disk_erasing_on_release")
            .await
            .ok()
            .json(),
        json!(true)
    );
    let r = c.op(&sid, "release", &[]).await.ok().json();
    assert_eq!(r["status_name"], "Disk erasing");
    let mc = c.with_token(&c.token(&sid).await);
    let idx = mc.get(&format!("{META}maas-scripts/")).await.ok().json();
    assert_eq!(
        idx["release_scripts"][0]["parameters"]["secure_erase"]["value"],
        true
    );
    assert_eq!(
        idx["release_scripts"][0]["parameters"]["quick_erase"]["value"],
        false
    );
    signal(
        &mc,
        &[
            ("status", b"FAILED"),
            ("error", b"wipe-disks: sda: write error"),
        ],
    )
    .await;
    let m = c.machine(&sid).await;
    assert_eq!(m["status_name"], "Failed disk erasing");
    assert_eq!(m["error_description"], "wipe-disks: sda: write error");
    // erase=false overrides the setting.
    let r = c
        .op(&sid, "release", &[("erase", "false")])
        .await
        .ok()
        .json();
    assert_eq!(r["status_name"], "Ready", "{r:#}");
}

#[tokio::test]
async fn rescue_mode_enter_and_exit() {
    let s = Server::start(&[]).await;
    install_ephemeral(s.dir.path());
    let c = s.client();
    c.upload_image("custom/os", b"os").await;
    let m1 = mac(7201);
    let sid = c.ready_machine("r1", &m1, &[]).await;
    // READY → rescue → READY (powered off).
    c.op(&sid, "rescue_mode", &[]).await.ok();
    assert_eq!(c.machine(&sid).await["status_name"], "Entering rescue mode");
    assert!(ipxe(&s, &m1).await.contains("ingot.purpose=rescue"));
    let mc = c.with_token(&c.token(&sid).await);
    signal(&mc, &[("status", b"WORKING")]).await;
    assert_eq!(c.machine(&sid).await["status_name"], "Rescue mode");
    assert!(ipxe(&s, &m1).await.contains("ingot.purpose=rescue"));
    c.op(&sid, "exit_rescue_mode", &[]).await.ok();
    assert_eq!(c.machine(&sid).await["status_name"], "Ready");
    // DEPLOYED → rescue → DEPLOYED, booting its disk again.
    c.op(&sid, "deploy", &[]).await.ok();
    c.report_deployed(&sid).await.expect(204);
    assert_eq!(c.machine(&sid).await["status_name"], "Deployed");
    c.op(&sid, "rescue_mode", &[]).await.ok();
    assert!(ipxe(&s, &m1).await.contains("ingot.purpose=rescue"));
    let mc = c.with_token(&c.token(&sid).await);
    signal(&mc, &[("status", b"OK")]).await;
    assert_eq!(c.machine(&sid).await["status_name"], "Rescue mode");
    c.op(&sid, "exit_rescue_mode", &[]).await.ok();
    let m = c.machine(&sid).await;
    assert_eq!(m["status_name"], "Deployed", "{m:#}");
    assert_eq!(m["osystem"], "custom");
    let script = ipxe(&s, &m1).await;
    assert!(
        script.contains("exit") && !script.contains("kernel "),
        "{script}"
    );
    // Not from READY twice / not while deploying: 409.
    c.op(&sid, "exit_rescue_mode", &[]).await.expect(409);
}

/// A machine that cannot network-boot (no MAC) cannot be deployed.
#[tokio::test]
async fn deploy_needs_a_network_interface() {
    let s = Server::start(&[]).await;
    let c = s.client();
    c.upload_image("custom/os", b"os").await;
    let sid = c.ready_machine("n1", &mac(7301), &[]).await;
    c.put(
        &format!("/MAAS/api/2.0/machines/{sid}/"),
        &[("mac_addresses", "")],
    )
    .await;
    let m = c.machine(&sid).await;
    assert_eq!(m["interface_set"], json!([]), "{m:#}");
    let r = c.op(&sid, "deploy", &[]).await.expect(400);
    assert!(r.body.contains("no network interface"), "{}", r.body);
    assert_eq!(c.machine(&sid).await["status_name"], "Ready");
}

/// python-libmaas 0.6.8, unmodified: `client.boot_resources.create(name, architecture,
/// content, title=…)` (sha256 + size, then 1 MiB chunks PUT to upload_uri), read back through
/// `/MAAS/boot/images/<sha256>`, listed, read and deleted.
#[tokio::test]
async fn libmaas_creates_a_boot_resource() {
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
    let s = Server::start(&[]).await;
    let script = r#"
import io, os, sys
import maas.client
c = maas.client.connect(os.environ["MAAS_URL"], apikey=os.environ["MAAS_APIKEY"])
data = bytes((i * 7) % 256 for i in range(3 * 1024 * 1024 + 123))
r = c.boot_resources.create("custom/libmaas", "amd64/generic", io.BytesIO(data), title="From libmaas", chunk_size=1 << 20)
f = list(r.sets[max(r.sets)].files.values())[0]
assert f.complete, f
print("CREATED", r.id, r.name, r.architecture, f.sha256, f.size)
assert any(b.name == "custom/libmaas" for b in c.boot_resources.list())
again = c.boot_resources.get(r.id)
print("READ", again.name)
"#;
    let stdout = common::run_libmaas(&py, &s, script, &[]).await;
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 123u32)
        .map(|i| ((i * 7) % 256) as u8)
        .collect();
    assert!(
        stdout.contains(&format!(
            "custom/libmaas amd64/generic {} {}",
            hex(&data),
            data.len()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("READ custom/libmaas"), "{stdout}");
    let (st, back) = get_bytes(&s, &format!("/MAAS/boot/images/{}", hex(&data))).await;
    assert_eq!(st, 200);
    assert!(back == data, "bytes differ");
}

/// Disk erasing has a deadline: a machine that never reports fails to FAILED_DISK_ERASING with
/// the reason (`lifecycle.rs` covers a deploy that never reports).
#[tokio::test]
async fn erasing_and_deploying_time_out() {
    let s = Server::start(&["--node-timeout-secs", "2", "--reap-interval", "1"]).await;
    let c = s.client();
    c.upload_image("custom/os", b"os").await;
    let sid = c.ready_machine("t1", &mac(7401), &[]).await;
    c.post(
        "/MAAS/api/2.0/machines/?op=allocate",
        &[("system_id", &sid)],
    )
    .await
    .ok();
    let r = c
        .op(&sid, "release", &[("erase", "true")])
        .await
        .ok()
        .json();
    assert_eq!(r["status_name"], "Disk erasing");
    let m = c
        .wait_machine(&sid, "erase deadline", |m| {
            m["status_name"] == "Failed disk erasing"
        })
        .await;
    assert!(
        m["error_description"]
            .as_str()
            .is_some_and(|e| e.contains("Timed out") && e.contains("Disk erasing")),
        "{m:#}"
    );
    // From FAILED_DISK_ERASING a release without erasing completes.
    c.op(&sid, "release", &[("erase", "false")]).await.ok();
    assert_eq!(c.machine(&sid).await["status_name"], "Ready");
}

/// A qcow2 v3 disk of `size` bytes (64 KiB clusters) holding `data` at guest cluster 2, as
/// `qemu-img convert -O qcow2` lays one out: header, L1, L2, data.
fn small_qcow2(size: u64, data: &[u8]) -> Vec<u8> {
    let c = 1u64 << 16;
    let (l1, l2, host) = (c, 2 * c, 3 * c);
    let mut f = vec![0u8; (4 * c) as usize];
    f[..4].copy_from_slice(b"QFI\xfb");
    f[4..8].copy_from_slice(&3u32.to_be_bytes());
    f[20..24].copy_from_slice(&16u32.to_be_bytes());
    f[24..32].copy_from_slice(&size.to_be_bytes());
    f[36..40].copy_from_slice(&1u32.to_be_bytes());
    f[40..48].copy_from_slice(&l1.to_be_bytes());
    f[96..100].copy_from_slice(&4u32.to_be_bytes());
    f[100..104].copy_from_slice(&104u32.to_be_bytes());
    f[l1 as usize..l1 as usize + 8].copy_from_slice(&(l2 | 1 << 63).to_be_bytes());
    let e = (l2 + 2 * 8) as usize;
    f[e..e + 8].copy_from_slice(&(host | 1 << 63).to_be_bytes());
    f[host as usize..host as usize + data.len()].copy_from_slice(data);
    f
}

/// A cloud image uploaded as qcow2 (`filetype=ddqcow2`) is converted to raw once: the
/// resource becomes `ddraw` with the raw disk's size and digest, and that is what machines
/// stream. A file that is not qcow2 is refused with the reason, the resource incomplete.
#[tokio::test]
async fn qcow2_uploads_become_raw_disks() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let size = 1u64 << 20;
    let payload = b"a boot sector of a cloud image".to_vec();
    let img = small_qcow2(size, &payload);
    let r = c
        .post_form(
            "/MAAS/api/2.0/boot-resources/",
            &[
                ("name", "custom/cloud"),
                ("architecture", "amd64/generic"),
                ("filetype", "ddqcow2"),
            ],
            &[("content", "cloud.qcow2", &img)],
        )
        .await
        .ok()
        .json();
    let file = r["sets"]
        .as_object()
        .and_then(|s| s.values().next())
        .map(|set| set["files"].clone())
        .unwrap();
    let (ft, f) = file.as_object().unwrap().iter().next().unwrap();
    assert_eq!(ft, "ddraw", "{r:#}");
    assert_eq!(f["size"], size);
    assert_eq!(f["complete"], true);
    let raw = s
        .anon()
        .http
        .get(format!(
            "{}/MAAS/boot/images/{}",
            s.base,
            f["sha256"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(raw.len() as u64, size);
    let at = 2 << 16;
    assert_eq!(&raw[at..at + payload.len()], &payload[..]);
    assert!(raw[..at].iter().all(|&b| b == 0));
    assert_eq!(hex(&raw), f["sha256"].as_str().unwrap());
    // Not a qcow2 at all.
    let r = c
        .post_form(
            "/MAAS/api/2.0/boot-resources/",
            &[
                ("name", "custom/notqcow"),
                ("architecture", "amd64/generic"),
                ("filetype", "ddqcow2"),
            ],
            &[("content", "x.qcow2", b"just some text")],
        )
        .await
        .expect(400);
    assert!(r.body.contains("not a qcow2"), "{}", r.body);
}

/// Every file type MAAS accepts for custom images is stored under its name and reaches the
/// agent's configuration as the kind it installs (`crates/agent/tests/image_formats.rs`
/// installs each one).
#[tokio::test]
async fn every_image_file_type_reaches_the_agent() {
    let s = Server::start(&[]).await;
    install_ephemeral(s.dir.path());
    let c = s.client();
    let sid = c.ready_machine("k1", &mac(7301), &[]).await;
    // MAAS's kernel_opts, global then the machine's tags', for the installed system too.
    c.post(
        "/MAAS/api/2.0/maas/?op=set_config",
        &[("name", "kernel_opts"), ("value", " quiet ")],
    )
    .await
    .ok();
    c.post(
        "/MAAS/api/2.0/tags/",
        &[("name", "gfx"), ("kernel_opts", "nomodeset")],
    )
    .await
    .ok();
    c.post("/MAAS/api/2.0/tags/gfx/?op=update_nodes", &[("add", &sid)])
        .await
        .ok();
    let cases = [
        ("tgz", "root-tgz"),
        ("tbz", "root-tbz"),
        ("txz", "root-txz"),
        ("squashfs", "squashfs"),
        ("ddraw", "ddraw"),
        ("ddgz", "ddgz"),
        ("ddbz2", "ddbz2"),
        ("ddxz", "ddxz"),
        ("ddtar", "ddtar"),
        ("ddtgz", "ddtgz"),
        ("ddtbz", "ddtbz"),
        ("ddtxz", "ddtxz"),
    ];
    for (upload, stored) in cases {
        let name = format!("custom/img-{upload}");
        let r = c
            .post_form(
                BR,
                &[
                    ("name", &name),
                    ("architecture", "amd64/generic"),
                    ("filetype", upload),
                ],
                &[("content", "image", upload.as_bytes())],
            )
            .await
            .expect(201)
            .json();
        let files = r["sets"]
            .as_object()
            .and_then(|s| s.values().next())
            .map(|set| set["files"].clone())
            .unwrap();
        assert!(files.get(stored).is_some(), "{upload}: {r:#}");
        c.op(&sid, "deploy", &[("distro_series", &name)]).await.ok();
        let mc = c.with_token(&c.token(&sid).await);
        let cfg = mc
            .get("/MAAS/metadata/latest/deploy-config")
            .await
            .ok()
            .json();
        assert_eq!(cfg["image"]["name"], name.as_str());
        assert_eq!(cfg["image"]["kind"], upload, "{upload}");
        assert_eq!(cfg["kernel_opts"], "quiet nomodeset");
        c.op(&sid, "release", &[]).await.ok();
        assert_eq!(c.machine(&sid).await["status_name"], "Ready");
    }
}
