//! Tags with definitions over HTTP: XPath 1.0 over the lshw-shaped hardware details that
//! commissioning's inventory makes, evaluated when the tag is created or changed, when a
//! machine commissions, and by `op=rebuild`; `op=details` serves those details as BSON.

mod common;
use common::{inventory_with, mac, small_inventory, Client, Server};
use serde_json::Value;

const API: &str = "/MAAS/api/2.0";

/// `op=details` as BSON bytes, decoded into its (key, binary or null) elements.
async fn details(c: &Client, path: &str) -> Vec<(String, Option<Vec<u8>>)> {
    let r = c
        .http
        .get(c.url(path))
        .header("Authorization", c.auth_header().expect("a key"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/bson");
    let doc = r.bytes().await.expect("body").to_vec();
    let total = i32::from_le_bytes(doc[0..4].try_into().unwrap()) as usize;
    assert_eq!(total, doc.len());
    let mut out = Vec::new();
    let mut i = 4;
    while doc[i] != 0 {
        let kind = doc[i];
        let end = i + 1 + doc[i + 1..].iter().position(|b| *b == 0).unwrap();
        let key = String::from_utf8(doc[i + 1..end].to_vec()).unwrap();
        i = end + 1;
        match kind {
            0x0A => out.push((key, None)),
            0x05 => {
                let n = i32::from_le_bytes(doc[i..i + 4].try_into().unwrap()) as usize;
                assert_eq!(doc[i + 4], 0, "generic binary");
                out.push((key, Some(doc[i + 5..i + 5 + n].to_vec())));
                i += 5 + n;
            }
            k => panic!("element type {k:#x}"),
        }
    }
    out
}

fn names(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["hostname"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

async fn tagged(c: &Client, tag: &str) -> Vec<String> {
    names(
        &c.get(&format!("{API}/tags/{tag}/?op=machines"))
            .await
            .ok()
            .json(),
    )
}

#[tokio::test]
async fn tag_definitions_over_commissioned_hardware() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let user = s.user("bob").await;
    // big: a 500 GB disk and a second NIC; small: small_inventory's 20 GB disk.
    let big = c.create("big", &mac(0x7a01), &[]).await;
    let small = c.create("small", &mac(0x7a02), &[]).await;
    let sid = |m: &Value| m["system_id"].as_str().unwrap().to_string();
    let (bsid, ssid) = (sid(&big), sid(&small));
    // Before commissioning a machine has no details.
    assert_eq!(
        details(&c, &format!("{API}/machines/{bsid}/?op=details")).await,
        vec![("lshw".into(), None), ("lldp".into(), None)]
    );

    // A tag defined before commissioning: evaluated when each machine commissions.
    c.post(
        &format!("{API}/tags/"),
        &[
            ("name", "large-disk"),
            ("definition", r#"//node[@class="disk"]/size > 100000000000"#),
        ],
    )
    .await
    .ok();
    let inv = inventory_with(
        &c.machine(&bsid).await,
        "x86_64",
        &[("sda", 500_000_000_000, 7200)],
        &[("eth0", &mac(0x7a01)), ("eth1", "52:54:00:00:7a:99")],
    );
    c.commission_ok_with(&bsid, Some(&inv)).await;
    let small_inv = small_inventory(&c.machine(&ssid).await);
    c.commission_ok_with(&ssid, Some(&small_inv)).await;
    assert_eq!(tagged(&c, "large-disk").await, vec!["big"]);

    // (name, definition, the machines that get it)
    let table: &[(&str, &str, &[&str])] = &[
        (
            "two-nics",
            r#"count(//node[@class="network"]) = 2"#,
            &["big"],
        ),
        (
            "virtio",
            r#"//node[@class="network"]/product = "Virtio network device""#,
            &["big", "small"],
        ),
        (
            "test-cpu",
            r#"//node[@class="processor"]/product[contains(., "Test")]"#,
            &["big", "small"],
        ),
        ("vmx", r#"//capability[@id="vmx"]"#, &[]),
        (
            "vda",
            r#"//node[@class="disk"]/logicalname = "/dev/vda""#,
            &["small"],
        ),
    ];
    for (name, def, want) in table {
        let t = c
            .post(
                &format!("{API}/tags/"),
                &[("name", name), ("definition", def)],
            )
            .await
            .ok()
            .json();
        assert_eq!(t["definition"], *def);
        assert_eq!(tagged(&c, name).await, *want, "{name}");
        // The machine shows its tags.
        for m in ["big", "small"] {
            let sid = if m == "big" { &bsid } else { &ssid };
            let has = c.machine(sid).await["tag_names"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == name);
            assert_eq!(has, want.contains(&m), "{name} on {m}");
        }
    }

    // An invalid definition is a 400 on the definition field; nothing is created or changed.
    for bad in ["//node[", "nope:node", "unknown-function()"] {
        let r = c
            .post(
                &format!("{API}/tags/"),
                &[("name", "bad"), ("definition", bad)],
            )
            .await
            .expect(400);
        assert!(
            r.json()["definition"][0]
                .as_str()
                .unwrap()
                .starts_with("Invalid XPath expression"),
            "{}",
            r.body
        );
        c.put(&format!("{API}/tags/two-nics/"), &[("definition", bad)])
            .await
            .expect(400);
    }
    c.get(&format!("{API}/tags/bad/")).await.expect(404);
    assert_eq!(tagged(&c, "two-nics").await, vec!["big"]);

    // A changed definition is evaluated again.
    let t = c
        .put(
            &format!("{API}/tags/two-nics/"),
            &[("definition", r#"count(//node[@class="network"]) >= 1"#)],
        )
        .await
        .ok()
        .json();
    assert_eq!(t["definition"], r#"count(//node[@class="network"]) >= 1"#);
    assert_eq!(tagged(&c, "two-nics").await, vec!["big", "small"]);

    // Defined tags are not applied by hand; rebuild is for administrators and answers MAAS's
    // shape.
    let r = c
        .post(
            &format!("{API}/tags/vda/?op=update_nodes"),
            &[("add", &bsid)],
        )
        .await
        .expect(400);
    assert!(r.body.contains("definition"), "{}", r.body);
    user.post(&format!("{API}/tags/vda/?op=rebuild"), &[])
        .await
        .expect(403);
    let r = c
        .post(&format!("{API}/tags/vda/?op=rebuild"), &[])
        .await
        .ok()
        .json();
    assert_eq!(r, serde_json::json!({"rebuilding": "vda"}));
    assert_eq!(tagged(&c, "vda").await, vec!["small"]);
    c.post(&format!("{API}/tags/nope/?op=rebuild"), &[])
        .await
        .expect(404);
    // Devices and controllers with the tag: none here.
    for op in ["devices", "rack_controllers", "region_controllers"] {
        let l = c.get(&format!("{API}/tags/vda/?op={op}")).await.ok().json();
        assert_eq!(l, serde_json::json!([]), "{op}");
    }

    // The details: the lshw document the definitions read, as binary BSON; no LLDP capture.
    for path in [
        format!("{API}/machines/{bsid}/?op=details"),
        format!("{API}/nodes/{bsid}/?op=details"),
    ] {
        let d = details(&c, &path).await;
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].0.as_str(), d[1].0.as_str()), ("lshw", "lldp"));
        let xml = String::from_utf8(d[0].1.clone().expect("lshw")).unwrap();
        assert!(xml.starts_with("<?xml"), "{xml}");
        assert!(xml.contains("<logicalname>/dev/sda</logicalname>"), "{xml}");
        assert!(
            xml.contains(r#"<size units="bytes">500000000000</size>"#),
            "{xml}"
        );
        assert!(xml.contains("<serial>52:54:00:00:7a:99</serial>"), "{xml}");
        assert_eq!(d[1].1, None);
    }
}
