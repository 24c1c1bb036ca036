//! The HTTP boot path: the per-MAC iPXE script follows the one boot decision, images are served
//! by content address with Range requests, and every hop lands in the MAC's netboot timeline.

mod common;
use common::{mac, Server};
use sha2::{Digest, Sha256};

fn hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Put a fake image set into the server's images directory, as `ingot images build` does.
fn install_images(dir: &std::path::Path) -> (String, String, Vec<u8>) {
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    let kernel: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let initrd = b"initrd-bytes".to_vec();
    let (k, i) = (hex(&kernel), hex(&initrd));
    std::fs::write(images.join(&k), &kernel).unwrap();
    std::fs::write(images.join(&i), &initrd).unwrap();
    let index = serde_json::json!([{"name": "ephemeral/amd64", "arch": "amd64", "kernel": {"sha256": k, "size": kernel.len()}, "initrd": {"sha256": i, "size": initrd.len()}, "kernel_version": "6.1.0-test"}]);
    std::fs::write(images.join("index.json"), index.to_string()).unwrap();
    (k, i, kernel)
}

#[tokio::test]
async fn ipxe_scripts_follow_the_boot_decision() {
    let s = Server::start(&[]).await;
    let anon = s.anon();
    let c = s.client();
    // No images yet: an unknown machine is told there is nothing to boot.
    let r = anon.get("/MAAS/boot/ipxe?mac=52:54:00:aa:bb:01").await.ok();
    assert!(
        r.body.starts_with("#!ipxe") && r.body.contains("no ephemeral image"),
        "{}",
        r.body
    );
    let (k, i, kernel) = install_images(s.dir.path());
    // Unknown MAC: the enlistment environment.
    let r = anon
        .get("/MAAS/boot/ipxe?mac=52-54-00-AA-BB-01&arch=amd64&firmware=bios")
        .await
        .ok();
    assert!(
        r.body.contains("ingot.purpose=enlist") && r.body.contains(&k) && r.body.contains(&i),
        "{}",
        r.body
    );
    assert!(r.body.contains("ingot.mac=52:54:00:aa:bb:01"), "{}", r.body);
    // Other architectures have no image.
    let r = anon
        .get("/MAAS/boot/ipxe?mac=52:54:00:aa:bb:01&arch=arm64")
        .await
        .ok();
    assert!(
        r.body
            .contains("no ephemeral image for architecture 'arm64'"),
        "{}",
        r.body
    );
    // Enlistment off: strangers get nothing.
    c.post(
        "/MAAS/api/2.0/maas/?op=set_config",
        &[("name", "unknown_machines"), ("value", "ignore")],
    )
    .await
    .ok();
    let r = anon.get("/MAAS/boot/ipxe?mac=52:54:00:aa:bb:02").await.ok();
    assert!(
        r.body.contains("enlistment is off") && !r.body.contains("kernel "),
        "{}",
        r.body
    );
    c.post(
        "/MAAS/api/2.0/maas/?op=set_config",
        &[("name", "unknown_machines"), ("value", "maybe")],
    )
    .await
    .expect(400);
    // A commissioning machine boots the commissioning environment; a deployed one its disk.
    let m = c.create("b1", &mac(90), &[]).await;
    let r = anon
        .get(&format!("/MAAS/boot/ipxe?mac={}", mac(90)))
        .await
        .ok();
    assert!(r.body.contains("ingot.purpose=commission"), "{}", r.body);
    let sid = m["system_id"].as_str().unwrap().to_string();
    c.commission_ok(&sid).await;
    let r = anon
        .get(&format!("/MAAS/boot/ipxe?mac={}", mac(90)))
        .await
        .ok();
    assert!(
        r.body.contains("nothing to boot") && r.body.contains("Ready"),
        "{}",
        r.body
    );
    c.post(
        "/MAAS/api/2.0/machines/?op=allocate",
        &[("system_id", &sid)],
    )
    .await
    .ok();
    c.upload_image("custom/test-os", b"a root file system")
        .await;
    c.op(&sid, "deploy", &[]).await.ok();
    let r = anon
        .get(&format!("/MAAS/boot/ipxe?mac={}", mac(90)))
        .await
        .ok();
    assert!(r.body.contains("ingot.purpose=deploy"), "{}", r.body);
    c.report_deployed(&sid).await.expect(204);
    let r = anon
        .get(&format!("/MAAS/boot/ipxe?mac={}", mac(90)))
        .await
        .ok();
    // UEFI: a failing exit, so that the firmware tries the disk next (the UEFI Debian e2e
    // in netboot.rs boots its disk that way).
    assert!(
        r.body.contains("local disk")
            && r.body
                .contains("\niseq ${platform} efi && exit 1 || exit\n"),
        "{}",
        r.body
    );
    // Images: whole, by range, and nothing outside the store.
    let full = anon
        .http
        .get(format!("{}/MAAS/boot/images/{k}?mac={}", s.base, mac(90)))
        .send()
        .await
        .unwrap();
    assert_eq!(full.status(), 200);
    assert_eq!(full.bytes().await.unwrap().to_vec(), kernel);
    let head = anon
        .http
        .head(format!("{}/MAAS/boot/images/{k}", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"].to_str().unwrap(),
        kernel.len().to_string()
    );
    let part = anon
        .http
        .get(format!("{}/MAAS/boot/images/{k}?mac={}", s.base, mac(90)))
        .header("Range", "bytes=1000-1009")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.bytes().await.unwrap().to_vec(),
        kernel[1000..1010].to_vec()
    );
    anon.get(&format!("/MAAS/boot/images/{}", "0".repeat(64)))
        .await
        .expect(404);
    anon.get("/MAAS/boot/images/..%2F..%2Fetc%2Fpasswd")
        .await
        .expect(404);
    anon.get("/MAAS/boot/images/index.json").await.expect(404);
    anon.get("/MAAS/boot/ipxe").await.expect(400);
    // UEFI HTTP clients fetch the iPXE loader itself over HTTP; only the known loaders.
    if std::path::Path::new("/usr/lib/ipxe/snponly.efi").exists() {
        let f = anon
            .http
            .get(format!(
                "{}/MAAS/boot/files/snponly.efi?mac={}",
                s.base,
                mac(90)
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(f.status(), 200);
        let want = std::fs::read("/usr/lib/ipxe/snponly.efi").unwrap();
        assert_eq!(f.bytes().await.unwrap().to_vec(), want);
        // EDK2's HTTP boot asks with HEAD first (its size), then GETs: a 404 to the HEAD
        // made OVMF give up on HTTP boot.
        let h = anon
            .http
            .head(format!("{}/MAAS/boot/files/snponly.efi", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(h.status(), 200);
        assert_eq!(
            h.headers()["content-length"].to_str().unwrap(),
            want.len().to_string()
        );
        assert!(h.bytes().await.unwrap().is_empty());
    } else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must install Debian's ipxe (scripts/peers/tftp.sh)"
        );
    }
    anon.get("/MAAS/boot/files/passwd").await.expect(404);
    anon.get("/MAAS/boot/files/..%2F..%2Fetc%2Fpasswd")
        .await
        .expect(404);
    // The timeline shows each hop for the machine's MAC.
    let tl = c
        .get(&format!("/MAAS/api/2.0/netboot-timeline/?mac={}", mac(90)))
        .await
        .ok()
        .json();
    let hops: Vec<String> = tl
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"].as_str().unwrap().to_string())
        .collect();
    assert!(
        hops.iter().any(|h| h.contains("ephemeral commission")),
        "{hops:#?}"
    );
    assert!(hops.iter().any(|h| h.contains("local disk")), "{hops:#?}");
    assert!(
        hops.iter().any(|h| h.contains("bytes=1000-1009")),
        "{hops:#?}"
    );
    // boot-resources lists the set.
    let br = c.get("/MAAS/api/2.0/boot-resources/").await.ok().json();
    assert_eq!(br[0]["architecture"], "amd64/generic");
    assert_eq!(br[0]["kernel"]["sha256"], k.as_str());
}
