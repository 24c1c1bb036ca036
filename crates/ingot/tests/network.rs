//! The network model DHCP is configured from (fabrics, VLANs, subnets, IP ranges) and the
//! per-MAC netboot timeline.

mod common;
use common::{mac, Server};

#[tokio::test]
async fn subnets_ranges_vlans() {
    let s = Server::start(&[]).await;
    let c = s.client();
    // The default fabric with its untagged VLAN exists.
    let fabrics = c.get("/MAAS/api/2.0/fabrics/").await.ok().json();
    assert_eq!(fabrics[0]["name"], "fabric-0");
    assert_eq!(fabrics[0]["vlans"][0]["vid"], 0);
    // A subnet on it.
    let sub = c
        .post(
            "/MAAS/api/2.0/subnets/",
            &[
                ("cidr", "10.77.0.0/24"),
                ("gateway_ip", "10.77.0.1"),
                ("dns_servers", "10.77.0.1 10.77.0.2"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(sub["name"], "10.77.0.0/24");
    assert_eq!(sub["vlan"]["vid"], 0);
    assert_eq!(sub["dns_servers"][1], "10.77.0.2");
    let sid = sub["id"].to_string();
    for (params, field) in [
        (vec![("cidr", "10.77.0.1/24")], "cidr"),
        (vec![("cidr", "10.77.0.0/24")], "cidr"),
        (
            vec![("cidr", "10.78.0.0/24"), ("gateway_ip", "10.99.0.1")],
            "gateway_ip",
        ),
        (vec![("cidr", "10.78.0.0/24"), ("vlan", "999")], "vlan"),
        (vec![("cidr", "banana")], "cidr"),
    ] {
        let r = c.post("/MAAS/api/2.0/subnets/", &params).await.expect(400);
        assert!(r.json()[field].is_array(), "{params:?}: {}", r.body);
    }
    // Ranges: the subnet is found from the address; overlaps and strays are refused.
    let dynr = c
        .post(
            "/MAAS/api/2.0/ipranges/",
            &[
                ("type", "dynamic"),
                ("start_ip", "10.77.0.100"),
                ("end_ip", "10.77.0.200"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(dynr["subnet"]["cidr"], "10.77.0.0/24");
    for params in [
        vec![
            ("type", "reserved"),
            ("start_ip", "10.77.0.150"),
            ("end_ip", "10.77.0.160"),
        ],
        vec![
            ("type", "dynamic"),
            ("start_ip", "10.77.0.210"),
            ("end_ip", "10.77.0.205"),
        ],
        vec![
            ("type", "dynamic"),
            ("start_ip", "10.77.0.0"),
            ("end_ip", "10.77.0.5"),
        ],
        vec![
            ("type", "dynamic"),
            ("start_ip", "10.99.0.10"),
            ("end_ip", "10.99.0.20"),
        ],
        vec![
            ("type", "sometimes"),
            ("start_ip", "10.77.0.10"),
            ("end_ip", "10.77.0.20"),
        ],
        vec![
            ("type", "dynamic"),
            ("start_ip", "10.77.0.10"),
            ("end_ip", "10.77.1.20"),
            ("subnet", &sid),
        ],
    ] {
        let r = c.post("/MAAS/api/2.0/ipranges/", &params).await.expect(400);
        assert!(!r.body.is_empty(), "{params:?}");
    }
    c.post(
        "/MAAS/api/2.0/ipranges/",
        &[
            ("type", "reserved"),
            ("start_ip", "10.77.0.10"),
            ("end_ip", "10.77.0.20"),
            ("comment", "switches"),
        ],
    )
    .await
    .ok();
    assert_eq!(
        c.get("/MAAS/api/2.0/ipranges/")
            .await
            .ok()
            .json()
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    // VLANs: a tagged one; DHCP only where a dynamic range exists.
    let f = c
        .post("/MAAS/api/2.0/fabrics/", &[("name", "rack2")])
        .await
        .ok()
        .json();
    let fid = f["id"].to_string();
    let v = c
        .post(
            &format!("/MAAS/api/2.0/fabrics/{fid}/vlans/"),
            &[("vid", "100"), ("name", "prov")],
        )
        .await
        .ok()
        .json();
    assert_eq!(v["vid"], 100);
    c.post(
        &format!("/MAAS/api/2.0/fabrics/{fid}/vlans/"),
        &[("vid", "100")],
    )
    .await
    .expect(400);
    c.post(
        &format!("/MAAS/api/2.0/fabrics/{fid}/vlans/"),
        &[("vid", "5000")],
    )
    .await
    .expect(400);
    c.put(
        &format!("/MAAS/api/2.0/fabrics/{fid}/vlans/100/"),
        &[("dhcp_on", "true")],
    )
    .await
    .expect(400);
    let v0 = c
        .put("/MAAS/api/2.0/fabrics/1/vlans/0/", &[("dhcp_on", "true")])
        .await
        .ok()
        .json();
    assert_eq!(v0["dhcp_on"], true);
    c.delete("/MAAS/api/2.0/fabrics/1/").await.expect(400);
    c.delete(&format!("/MAAS/api/2.0/fabrics/{fid}/"))
        .await
        .expect(204);
    // Subnet on a tagged VLAN, by fabric + vid.
    let f2 = c.post("/MAAS/api/2.0/fabrics/", &[]).await.ok().json();
    let f2id = f2["id"].to_string();
    c.post(
        &format!("/MAAS/api/2.0/fabrics/{f2id}/vlans/"),
        &[("vid", "42")],
    )
    .await
    .ok();
    let s2 = c
        .post(
            "/MAAS/api/2.0/subnets/",
            &[("cidr", "fd00:42::/64"), ("fabric", &f2id), ("vid", "42")],
        )
        .await
        .ok()
        .json();
    assert_eq!(s2["vlan"]["vid"], 42);
    c.delete(&format!("/MAAS/api/2.0/fabrics/{f2id}/"))
        .await
        .expect(409);
    // Non-admins read but do not change.
    let bob = s.user("bob").await;
    bob.get("/MAAS/api/2.0/subnets/").await.ok();
    bob.post("/MAAS/api/2.0/subnets/", &[("cidr", "10.80.0.0/24")])
        .await
        .expect(403);
}

#[tokio::test]
async fn netboot_timeline_records_metadata_hops_by_mac() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let m = c.create("tl1", &mac(80), &[]).await;
    let sid = m["system_id"].as_str().unwrap().to_string();
    let t = c.token(&sid).await;
    c.with_token(&t)
        .get("/MAAS/metadata/latest/meta-data/instance-id")
        .await
        .ok();
    c.commission_ok(&sid).await;
    let tl = c
        .get(&format!(
            "/MAAS/api/2.0/netboot-timeline/?mac={}",
            mac(80).to_uppercase()
        ))
        .await
        .ok()
        .json();
    let hops: Vec<String> = tl
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["hop"].as_str().unwrap(),
                e["detail"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        hops.iter().filter(|h| h.contains("op=signal")).count() >= 2,
        "{hops:#?}"
    );
    assert!(
        hops.first()
            .is_some_and(|h| h.contains("meta-data/instance-id")),
        "oldest first: {hops:#?}"
    );
    assert!(
        hops.last().is_some_and(|h| h.contains("op=signal")),
        "oldest first: {hops:#?}"
    );
    // A MAC nobody has: an empty timeline, not an error.
    assert_eq!(
        c.get("/MAAS/api/2.0/netboot-timeline/?mac=52:54:00:99:99:99")
            .await
            .ok()
            .json(),
        serde_json::json!([])
    );
    c.get("/MAAS/api/2.0/netboot-timeline/?mac=nope")
        .await
        .expect(400);
    c.get("/MAAS/api/2.0/netboot-timeline/").await.expect(400);
}
