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
    // As in MAAS: the default fabric is id 0, its VLAN is vid 0 named "untagged", and the
    // MAAS docs' `maas admin vlan update 0 untagged …` addresses it.
    assert_eq!(fabrics[0]["name"], "fabric-0");
    assert_eq!(fabrics[0]["id"], 0);
    assert_eq!(fabrics[0]["vlans"][0]["vid"], 0);
    assert_eq!(fabrics[0]["vlans"][0]["name"], "untagged");
    let v = c
        .put(
            "/MAAS/api/2.0/fabrics/0/vlans/untagged/",
            &[("mtu", "1500")],
        )
        .await
        .ok()
        .json();
    assert_eq!(v["vid"], 0);
    c.get("/MAAS/api/2.0/fabrics/0/vlans/nosuchname/")
        .await
        .expect(404);
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
        .put("/MAAS/api/2.0/fabrics/0/vlans/0/", &[("dhcp_on", "true")])
        .await
        .ok()
        .json();
    assert_eq!(v0["dhcp_on"], true);
    c.delete("/MAAS/api/2.0/fabrics/0/").await.expect(400);
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

    // Spaces: a VLAN is in at most one, its subnets with it; a name that is no space is
    // refused before anything changes; deleting the space leaves the VLAN in none.
    bob.post("/MAAS/api/2.0/spaces/", &[("name", "dmz")])
        .await
        .expect(403);
    c.post("/MAAS/api/2.0/spaces/", &[("name", "undefined")])
        .await
        .expect(400);
    let dmz = c
        .post("/MAAS/api/2.0/spaces/", &[("name", "dmz")])
        .await
        .ok()
        .json();
    c.put(
        "/MAAS/api/2.0/fabrics/0/vlans/0/",
        &[("space", "nosuch"), ("mtu", "9000")],
    )
    .await
    .expect(400);
    let v = c
        .put("/MAAS/api/2.0/fabrics/0/vlans/0/", &[("space", "dmz")])
        .await
        .ok()
        .json();
    assert_eq!(
        (v["space"].as_str(), v["mtu"].as_i64()),
        (Some("dmz"), Some(1500))
    );
    assert_eq!(
        c.get(&format!("/MAAS/api/2.0/subnets/{}/", sub["id"]))
            .await
            .ok()
            .json()["space"],
        "dmz"
    );
    let listed = c.get("/MAAS/api/2.0/spaces/").await.ok().json();
    assert_eq!(
        listed[0]["subnets"][0]["cidr"], "10.77.0.0/24",
        "{listed:#}"
    );
    c.delete(&format!("/MAAS/api/2.0/spaces/{}/", dmz["id"]))
        .await
        .expect(204);
    let v = c.get("/MAAS/api/2.0/fabrics/0/vlans/0/").await.ok().json();
    assert_eq!(v["space"], "undefined");

    // Devices: a user's, never a machine; their interfaces are edited under nodes/.
    let d = bob
        .post(
            "/MAAS/api/2.0/devices/",
            &[("hostname", "ctr1"), ("mac_addresses", &mac(77))],
        )
        .await
        .ok()
        .json();
    let dsid = d["system_id"].as_str().unwrap().to_string();
    assert_eq!(d["node_type_name"], "Device");
    assert_eq!(d["owner"], "bob");
    assert_eq!(d["interface_set"].as_array().unwrap().len(), 1);
    assert_eq!(d["resource_uri"], format!("/MAAS/api/2.0/devices/{dsid}/"));
    bob.post("/MAAS/api/2.0/devices/", &[("hostname", "ctr2")])
        .await
        .expect(400);
    let listed = c.get("/MAAS/api/2.0/machines/").await.ok().json();
    assert!(!listed
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["system_id"] == dsid.as_str()));
    c.get(&format!("/MAAS/api/2.0/machines/{dsid}/"))
        .await
        .expect(404);
    assert_eq!(
        bob.get("/MAAS/api/2.0/devices/").await.ok().json()[0]["hostname"],
        "ctr1"
    );
    let other = s.user("carol").await;
    assert_eq!(
        other.get("/MAAS/api/2.0/devices/").await.ok().json(),
        serde_json::json!([])
    );
    other
        .delete(&format!("/MAAS/api/2.0/devices/{dsid}/"))
        .await
        .expect(404);
    let i = bob
        .post(
            &format!("/MAAS/api/2.0/nodes/{dsid}/interfaces/?op=create_physical"),
            &[
                ("mac_address", &mac(78)),
                ("name", "eth9"),
                ("vlan", &v["id"].to_string()),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(
        (i["name"].as_str(), i["vlan"]["vid"].as_i64()),
        (Some("eth9"), Some(0))
    );
    // The device ops MAAS has: annotations, details, power parameters (admin), registered
    // MACs, zones, and the network reset.
    let du = format!("/MAAS/api/2.0/devices/{dsid}/");
    let r = bob
        .post(
            &format!("{du}?op=set_workload_annotations"),
            &[("app", "web")],
        )
        .await
        .ok()
        .json();
    assert_eq!(r["workload_annotations"]["app"], "web", "{r:#}");
    let r = bob
        .post(&format!("{du}?op=set_owner_data"), &[("app", "")])
        .await
        .ok()
        .json();
    assert_eq!(r["workload_annotations"], serde_json::json!({}), "{r:#}");
    let r = bob.get(&format!("{du}?op=details")).await.ok();
    assert_eq!(r.content_type, "application/bson");
    bob.get(&format!("{du}?op=power_parameters"))
        .await
        .expect(403);
    assert_eq!(
        c.get(&format!("{du}?op=power_parameters"))
            .await
            .ok()
            .json(),
        serde_json::json!({})
    );
    other.get(&format!("{du}?op=details")).await.expect(404);
    let reg = |m: String| {
        let c = c.clone();
        async move {
            c.get(&format!(
                "/MAAS/api/2.0/devices/?op=is_registered&mac_address={m}"
            ))
            .await
            .ok()
            .json()
        }
    };
    assert_eq!(reg(mac(77)).await, serde_json::json!(true));
    assert_eq!(reg(mac(79)).await, serde_json::json!(false));
    c.post("/MAAS/api/2.0/zones/", &[("name", "lab")])
        .await
        .ok();
    let moved = c
        .post(
            "/MAAS/api/2.0/devices/?op=set_zone",
            &[("zone", "lab"), ("nodes", &dsid)],
        )
        .await
        .ok()
        .json();
    assert_eq!(moved[0]["zone"]["name"], "lab", "{moved:#}");
    bob.post(
        "/MAAS/api/2.0/devices/?op=set_zone",
        &[("zone", "default"), ("nodes", &dsid)],
    )
    .await
    .expect(403);
    let r = bob
        .post(&format!("{du}?op=restore_networking_configuration"), &[])
        .await
        .ok()
        .json();
    let names: Vec<&str> = r["interface_set"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names.len(), 2, "physical interfaces stay: {r:#}");
    bob.delete(&format!("/MAAS/api/2.0/devices/{dsid}/"))
        .await
        .expect(204);
    bob.get(&format!("/MAAS/api/2.0/devices/{dsid}/"))
        .await
        .expect(404);
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

/// Interface links (issue: deploy, networking model): STATIC links get addresses that are never
/// handed out twice (also not to a user's reservation), AUTO/DHCP/LINK_UP links hold none,
/// refusals name their reason, unlinking frees the address, and links show in the machine.
#[tokio::test]
async fn interface_links_and_static_addresses() {
    let s = Server::start(&[]).await;
    let c = s.client();
    c.post(
        "/MAAS/api/2.0/subnets/",
        &[("cidr", "10.88.0.0/24"), ("gateway_ip", "10.88.0.1")],
    )
    .await
    .ok();
    c.post(
        "/MAAS/api/2.0/ipranges/",
        &[
            ("type", "dynamic"),
            ("start_ip", "10.88.0.100"),
            ("end_ip", "10.88.0.200"),
        ],
    )
    .await
    .ok();
    let sid = c.ready_machine("l1", &mac(61), &[]).await;
    let sid2 = c.ready_machine("l2", &mac(62), &[]).await;
    let iface = |m: &serde_json::Value| m["interface_set"][0]["id"].as_i64().unwrap();
    let i1 = iface(&c.machine(&sid).await);
    let i2 = iface(&c.machine(&sid2).await);
    let link =
        |sid: &str, iid: i64| format!("/MAAS/api/2.0/nodes/{sid}/interfaces/{iid}/?op=link_subnet");
    // A user's reservation takes .2; the machines' STATIC links get the next ones.
    c.post(
        "/MAAS/api/2.0/ipaddresses/",
        &[("op", "reserve"), ("ip", "10.88.0.2")],
    )
    .await
    .ok();
    let r = c
        .post(
            &link(&sid, i1),
            &[
                ("mode", "STATIC"),
                ("subnet", "10.88.0.0/24"),
                ("default_gateway", "true"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(r["links"][0]["ip_address"], "10.88.0.3", "{r:#}");
    assert_eq!(r["links"][0]["mode"], "static");
    assert_eq!(r["links"][0]["default_gateway"], true);
    // As MAAS (and as Juju's client checks): the link carries the whole subnet with its VLAN,
    // the interface is on that VLAN, and the machine lists the address.
    let sn = &r["links"][0]["subnet"];
    assert_eq!(sn["cidr"], "10.88.0.0/24");
    assert_eq!(sn["name"], "10.88.0.0/24");
    assert_eq!(sn["space"], "undefined");
    assert_eq!(sn["vlan"]["vid"], 0, "{sn:#}");
    assert_eq!(sn["vlan"]["fabric"], "fabric-0");
    assert!(sn["dns_servers"].is_array());
    assert_eq!(r["vlan"]["name"], "untagged");
    let m = c.machine(&sid).await;
    assert_eq!(m["ip_addresses"], serde_json::json!(["10.88.0.3"]));
    assert_eq!(
        m["interface_set"][0]["links"][0]["subnet"]["vlan"]["vid"],
        0
    );
    let listed = c.get("/MAAS/api/2.0/machines/").await.ok().json();
    let mine = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["system_id"] == sid.as_str())
        .unwrap();
    assert_eq!(
        mine["boot_interface"]["links"][0]["subnet"]["space"],
        "undefined"
    );
    let r = c
        .post(
            &link(&sid2, i2),
            &[("mode", "static"), ("subnet", "10.88.0.0/24")],
        )
        .await
        .ok()
        .json();
    assert_eq!(r["links"][0]["ip_address"], "10.88.0.4");
    // Refusals.
    let e = c
        .post(
            &link(&sid2, i2),
            &[("mode", "static"), ("subnet", "10.88.0.0/24")],
        )
        .await
        .expect(409);
    assert!(e.body.contains("already linked"), "{}", e.body);
    let e = c
        .post(
            &link(&sid, i1),
            &[("mode", "sometimes"), ("subnet", "10.88.0.0/24")],
        )
        .await
        .expect(400);
    assert!(e.body.contains("mode"), "{}", e.body);
    c.post(&link(&sid, i1), &[("mode", "dhcp")])
        .await
        .expect(400);
    c.post(
        &link(&sid, i1),
        &[("mode", "dhcp"), ("subnet", "10.99.0.0/24")],
    )
    .await
    .expect(400);
    c.post(
        &link(&sid, i1),
        &[
            ("mode", "auto"),
            ("subnet", "10.88.0.0/24"),
            ("ip_address", "10.88.0.9"),
        ],
    )
    .await
    .expect(400);
    let m3 = c.ready_machine("l3", &mac(63), &[]).await;
    let i3 = iface(&c.machine(&m3).await);
    let e = c
        .post(
            &link(&m3, i3),
            &[
                ("mode", "static"),
                ("subnet", "10.88.0.0/24"),
                ("ip_address", "10.88.0.3"),
            ],
        )
        .await
        .expect(409);
    assert!(e.body.contains("already in use"), "{}", e.body);
    c.post(
        &link(&m3, i3),
        &[
            ("mode", "static"),
            ("subnet", "10.88.0.0/24"),
            ("ip_address", "10.88.0.150"),
        ],
    )
    .await
    .expect(400);
    c.post(
        &link(&m3, i3),
        &[
            ("mode", "static"),
            ("subnet", "10.88.0.0/24"),
            ("ip_address", "10.88.0.1"),
        ],
    )
    .await
    .expect(400);
    c.post(
        &link(&m3, 999_999),
        &[("mode", "dhcp"), ("subnet", "10.88.0.0/24")],
    )
    .await
    .expect(404);
    // LINK_UP without a subnet, DHCP: no address held.
    let r = c
        .post(&link(&m3, i3), &[("mode", "link_up")])
        .await
        .ok()
        .json();
    // No address, no subnet: the keys are left out, as MAAS does (Juju's client refuses null).
    assert!(r["links"][0].get("ip_address").is_none(), "{r:#}");
    assert!(r["links"][0].get("subnet").is_none(), "{r:#}");
    // The machine shows its links; the region's addresses list shows the STATIC ones.
    let m = c.machine(&sid).await;
    assert_eq!(m["interface_set"][0]["links"][0]["ip_address"], "10.88.0.3");
    let all = c
        .get("/MAAS/api/2.0/ipaddresses/?all=true")
        .await
        .ok()
        .json();
    assert_eq!(
        all.as_array().unwrap().len(),
        1,
        "only the user's reservation is a user reservation: {all:#}"
    );
    // Unlink frees the address for the next machine.
    let lid = m["interface_set"][0]["links"][0]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    c.post(
        &format!("/MAAS/api/2.0/nodes/{sid}/interfaces/{i1}/?op=unlink_subnet"),
        &[("id", &lid)],
    )
    .await
    .ok();
    let r = c
        .post(
            &link(&m3, i3),
            &[("mode", "static"), ("subnet", "10.88.0.0/24")],
        )
        .await
        .ok()
        .json();
    assert_eq!(
        r["links"][1]["ip_address"], "10.88.0.3",
        "freed address reused: {r:#}"
    );
    // Not while deployed-like states: allocate + deploy, then linking is refused.
    c.post(
        "/MAAS/api/2.0/machines/?op=allocate",
        &[("system_id", &sid2)],
    )
    .await
    .ok();
    c.upload_image("custom/test-os", b"a root file system")
        .await;
    c.op(&sid2, "deploy", &[]).await.ok();
    let e = c
        .post(
            &link(&sid2, i2),
            &[("mode", "dhcp"), ("subnet", "10.88.0.0/24")],
        )
        .await
        .expect(409);
    assert!(e.body.contains("Deploying"), "{}", e.body);
    // Someone else's machine cannot be changed (MAAS's edit rule: own or unowned machines).
    c.post("/MAAS/api/2.0/machines/?op=allocate", &[("system_id", &m3)])
        .await
        .ok();
    let bob = s.user("bob").await;
    bob.post(
        &link(&m3, i3),
        &[("mode", "dhcp"), ("subnet", "10.88.0.0/24")],
    )
    .await
    .expect(403);
}

#[tokio::test]
async fn bonds_vlans_and_bridges() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let fabric = c.get("/MAAS/api/2.0/fabrics/").await.ok().json()[0]["id"].to_string();
    let vlan = c
        .post(
            &format!("/MAAS/api/2.0/fabrics/{fabric}/vlans/"),
            &[("vid", "20"), ("name", "storage")],
        )
        .await
        .ok()
        .json();
    let vlan_id = vlan["id"].to_string();
    let untagged =
        c.get("/MAAS/api/2.0/fabrics/").await.ok().json()[0]["vlans"][0]["id"].to_string();
    let sub = c
        .post(
            "/MAAS/api/2.0/subnets/",
            &[
                ("cidr", "10.89.0.0/24"),
                ("gateway_ip", "10.89.0.1"),
                ("vlan", &vlan_id),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(sub["vlan"]["vid"], 20);
    let (m1, m2) = (mac(71), mac(72));
    let sid = c
        .ready_machine("bondy", &m1, &[("mac_addresses", m2.as_str())])
        .await;
    let m = c.machine(&sid).await;
    let ids: Vec<String> = m["interface_set"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{m:#}");
    let ifaces = format!("/MAAS/api/2.0/nodes/{sid}/interfaces/");
    let create = |op: &'static str| format!("{ifaces}?op={op}");
    // Bad bonds: no parents, an unknown parent, a bad mode, no name.
    for (params, field) in [
        (vec![("name", "bond0")], "parents"),
        (vec![("name", "bond0"), ("parents", "99999")], "parents"),
        (
            vec![
                ("name", "bond0"),
                ("parents", ids[0].as_str()),
                ("bond_mode", "fastest"),
            ],
            "bond_mode",
        ),
        (vec![("parents", ids[0].as_str())], "name"),
        (
            vec![
                ("name", "bond0"),
                ("parents", ids[0].as_str()),
                ("mac_address", "zz"),
            ],
            "mac_address",
        ),
    ] {
        let r = c.post(&create("create_bond"), &params).await.expect(400);
        assert!(r.json()[field].is_array(), "{params:?}: {}", r.body);
    }
    assert_eq!(
        c.machine(&sid).await["interface_set"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // A bond over both NICs, 802.3ad; it shows the first member's MAC and its members.
    let bond = c
        .post(
            &create("create_bond"),
            &[
                ("name", "bond0"),
                ("parents", ids[0].as_str()),
                ("parents", ids[1].as_str()),
                ("bond_mode", "802.3ad"),
                ("mtu", "9000"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(bond["type"], "bond");
    assert_eq!(bond["mac_address"], m1.to_ascii_lowercase());
    assert_eq!(bond["params"]["bond_mode"], "802.3ad");
    assert_eq!(bond["effective_mtu"], 9000);
    assert_eq!(bond["parents"].as_array().unwrap().len(), 2, "{bond:#}");
    let bond_id = bond["id"].to_string();
    // A member cannot join a second bond or a bridge.
    let r = c
        .post(
            &create("create_bridge"),
            &[("name", "br9"), ("parent", ids[0].as_str())],
        )
        .await
        .expect(400);
    assert!(r.body.contains("already in bond0"), "{}", r.body);
    // A VLAN on the bond (named after it), and a bridge over the VLAN.
    let r = c
        .post(
            &create("create_vlan"),
            &[("parent", bond_id.as_str()), ("vlan", untagged.as_str())],
        )
        .await
        .expect(400);
    assert!(r.json()["vlan"].is_array(), "{}", r.body);
    let v = c
        .post(
            &create("create_vlan"),
            &[("parent", bond_id.as_str()), ("vlan", vlan_id.as_str())],
        )
        .await
        .ok()
        .json();
    assert_eq!(v["name"], "bond0.20");
    assert_eq!(v["params"]["vid"], 20);
    c.post(
        &create("create_vlan"),
        &[("parent", bond_id.as_str()), ("vlan", vlan_id.as_str())],
    )
    .await
    .expect(400);
    let vid = v["id"].as_i64().unwrap();
    let br = c
        .post(
            &create("create_bridge"),
            &[
                ("name", "br0"),
                ("parent", &vid.to_string()),
                ("bridge_stp", "true"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(br["params"]["bridge_stp"], true);
    assert_eq!(br["params"]["bridge_fd"], 15);
    let br_id = br["id"].as_i64().unwrap();
    // The bridge gets a STATIC address on the VLAN's subnet.
    let r = c
        .post(
            &format!("{ifaces}{br_id}/?op=link_subnet"),
            &[
                ("mode", "STATIC"),
                ("subnet", "10.89.0.0/24"),
                ("ip_address", "10.89.0.50"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(r["links"][0]["ip_address"], "10.89.0.50");
    // The MAC of a physical NIC still finds only the machine's physical interface.
    let reg = c
        .get(&format!(
            "/MAAS/api/2.0/machines/?op=is_registered&mac_address={m1}"
        ))
        .await
        .ok()
        .json();
    assert_eq!(reg, true);
    let listed = c.get(&ifaces).await.ok().json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    let by_name = |n: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("bond0")["children"][0], "bond0.20");
    assert_eq!(by_name("bond0.20")["parents"][0], "bond0");
    // Delete refuses what something is built on (a bond's member too).
    let r = c.delete(&format!("{ifaces}{bond_id}/")).await.expect(400);
    assert!(r.body.contains("used by bond0.20"), "{}", r.body);
    let r = c.delete(&format!("{ifaces}{}/", ids[0])).await.expect(400);
    assert!(r.body.contains("used by bond0"), "{}", r.body);
    // Update: rename the bridge, change the bond's mode.
    let r = c
        .put(&format!("{ifaces}{br_id}/"), &[("name", "br-storage")])
        .await
        .ok()
        .json();
    assert_eq!(r["name"], "br-storage");
    let r = c
        .put(
            &format!("{ifaces}{bond_id}/"),
            &[("bond_mode", "active-backup")],
        )
        .await
        .ok()
        .json();
    assert_eq!(r["params"]["bond_mode"], "active-backup");
    // Deleting the bridge frees its address; then the VLAN and the bond can go.
    c.delete(&format!("{ifaces}{br_id}/")).await.ok();
    let ips = c
        .get("/MAAS/api/2.0/ipaddresses/?all=true")
        .await
        .ok()
        .json();
    assert!(
        !ips.to_string().contains("10.89.0.50"),
        "the bridge's address went with it: {ips:#}"
    );
    c.delete(&format!("{ifaces}{vid}/")).await.ok();
    c.delete(&format!("{ifaces}{bond_id}/")).await.ok();
    assert_eq!(
        c.machine(&sid).await["interface_set"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// Static routes (MAAS `static-routes/`): created by an administrator between two subnets
/// named by id, CIDR or name; every rule refused with the field named and nothing stored;
/// updated, listed, deleted; a deleted subnet takes its routes with it.
#[tokio::test]
async fn static_routes() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let sub = |cidr: &'static str, name: &'static str| {
        let c = c.clone();
        async move {
            c.post("/MAAS/api/2.0/subnets/", &[("cidr", cidr), ("name", name)])
                .await
                .ok()
                .json()["id"]
                .as_i64()
                .unwrap()
        }
    };
    let a = sub("10.90.0.0/24", "lan").await;
    let b = sub("172.20.0.0/16", "storage").await;
    let v6 = sub("fd90::/64", "v6").await;
    let r = c
        .post(
            "/MAAS/api/2.0/static-routes/",
            &[
                ("source", "10.90.0.0/24"),
                ("destination", "storage"),
                ("gateway_ip", "10.90.0.254"),
                ("metric", "50"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(r["source"]["id"], a, "{r:#}");
    assert_eq!(r["destination"]["cidr"], "172.20.0.0/16");
    assert_eq!(r["gateway_ip"], "10.90.0.254");
    assert_eq!(r["metric"], 50);
    let id = r["id"].as_i64().unwrap();
    assert_eq!(
        r["resource_uri"],
        format!("/MAAS/api/2.0/static-routes/{id}/")
    );
    // Every rule, refused with its field; nothing stored.
    let (a_s, b_s, v6_s) = (a.to_string(), b.to_string(), v6.to_string());
    let bad: &[(&[(&str, &str)], &str)] = &[
        (
            &[("destination", &b_s), ("gateway_ip", "10.90.0.1")],
            "source",
        ),
        (
            &[
                ("source", "nope"),
                ("destination", &b_s),
                ("gateway_ip", "10.90.0.1"),
            ],
            "source",
        ),
        (
            &[("source", &a_s), ("gateway_ip", "10.90.0.1")],
            "destination",
        ),
        (
            &[
                ("source", &a_s),
                ("destination", &a_s),
                ("gateway_ip", "10.90.0.1"),
            ],
            "destination",
        ),
        (
            &[
                ("source", &a_s),
                ("destination", &v6_s),
                ("gateway_ip", "10.90.0.1"),
            ],
            "destination",
        ),
        (&[("source", &a_s), ("destination", &b_s)], "gateway_ip"),
        (
            &[
                ("source", &a_s),
                ("destination", &b_s),
                ("gateway_ip", "172.20.0.1"),
            ],
            "gateway_ip",
        ),
        (
            &[
                ("source", &a_s),
                ("destination", &b_s),
                ("gateway_ip", "10.90.0.255"),
            ],
            "gateway_ip",
        ),
        (
            &[
                ("source", &a_s),
                ("destination", &b_s),
                ("gateway_ip", "10.90.0.1"),
                ("metric", "-1"),
            ],
            "metric",
        ),
        (
            &[
                ("source", &a_s),
                ("destination", &b_s),
                ("gateway_ip", "10.90.0.1"),
                ("metric", "x"),
            ],
            "metric",
        ),
        (
            &[
                ("source", &a_s),
                ("destination", &b_s),
                ("gateway_ip", "10.90.0.254"),
            ],
            "__all__",
        ),
    ];
    for (form, field) in bad {
        let r = c
            .post("/MAAS/api/2.0/static-routes/", form)
            .await
            .expect(400);
        assert!(r.json()[*field].is_array(), "{form:?}: {}", r.body);
    }
    let all = c.get("/MAAS/api/2.0/static-routes/").await.ok().json();
    assert_eq!(all.as_array().unwrap().len(), 1, "{all:#}");
    // Users read; only administrators change.
    let u = s.user("routeuser").await;
    u.get(&format!("/MAAS/api/2.0/static-routes/{id}/"))
        .await
        .ok();
    u.post(
        "/MAAS/api/2.0/static-routes/",
        &[
            ("source", &a_s),
            ("destination", &b_s),
            ("gateway_ip", "10.90.0.2"),
        ],
    )
    .await
    .expect(403);
    u.delete(&format!("/MAAS/api/2.0/static-routes/{id}/"))
        .await
        .expect(403);
    // Update: the fields given.
    let r = c
        .put(
            &format!("/MAAS/api/2.0/static-routes/{id}/"),
            &[("gateway_ip", "10.90.0.253"), ("metric", "10")],
        )
        .await
        .ok()
        .json();
    assert_eq!(r["gateway_ip"], "10.90.0.253");
    assert_eq!(r["metric"], 10);
    assert_eq!(r["destination"]["id"], b);
    c.put(
        &format!("/MAAS/api/2.0/static-routes/{id}/"),
        &[("gateway_ip", "172.20.0.9")],
    )
    .await
    .expect(400);
    c.delete(&format!("/MAAS/api/2.0/static-routes/{id}/"))
        .await
        .expect(204);
    c.get(&format!("/MAAS/api/2.0/static-routes/{id}/"))
        .await
        .expect(404);
    // A deleted subnet takes its routes with it.
    c.post(
        "/MAAS/api/2.0/static-routes/",
        &[
            ("source", &a_s),
            ("destination", &b_s),
            ("gateway_ip", "10.90.0.254"),
        ],
    )
    .await
    .ok();
    c.delete(&format!("/MAAS/api/2.0/subnets/{b}/"))
        .await
        .expect(204);
    let all = c.get("/MAAS/api/2.0/static-routes/").await.ok().json();
    assert_eq!(all, serde_json::json!([]));
}

/// Subnets as Terraform's `maas_subnet` and the MAAS UI use them: DNS/proxy/rDNS settings and a
/// description that read back, addressing by CIDR or name, and the address-usage ops.
#[tokio::test]
async fn subnet_settings_and_usage_ops() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let sub = c
        .post(
            "/MAAS/api/2.0/subnets/",
            &[
                ("cidr", "10.90.0.0/24"),
                ("name", "prov"),
                ("gateway_ip", "10.90.0.1"),
                ("allow_dns", "false"),
                ("rdns_mode", "1"),
                ("description", "provisioning"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(
        (
            &sub["allow_dns"],
            &sub["allow_proxy"],
            &sub["rdns_mode"],
            &sub["description"]
        ),
        (
            &serde_json::json!(false),
            &serde_json::json!(true),
            &serde_json::json!(1),
            &serde_json::json!("provisioning")
        )
    );
    let r = c
        .put(
            "/MAAS/api/2.0/subnets/cidr:10.90.0.0%2F24/",
            &[("rdns_mode", "7")],
        )
        .await
        .expect(400);
    assert!(r.json()["rdns_mode"].is_array(), "{}", r.body);
    let up = c
        .put(
            "/MAAS/api/2.0/subnets/name:prov/",
            &[("allow_proxy", "false")],
        )
        .await
        .ok()
        .json();
    assert_eq!(
        (&up["id"], &up["allow_proxy"]),
        (&sub["id"], &serde_json::json!(false))
    );
    c.get("/MAAS/api/2.0/subnets/10.91.0.0%2F24/")
        .await
        .expect(404);
    c.post(
        "/MAAS/api/2.0/ipranges/",
        &[
            ("type", "reserved"),
            ("start_ip", "10.90.0.200"),
            ("end_ip", "10.90.0.209"),
        ],
    )
    .await
    .ok();
    c.post(
        "/MAAS/api/2.0/ipaddresses/?op=reserve",
        &[("subnet", "prov"), ("ip", "10.90.0.50")],
    )
    .await
    .ok();
    let used = c
        .get("/MAAS/api/2.0/subnets/prov/?op=reserved_ip_ranges")
        .await
        .ok()
        .json();
    assert_eq!(
        used,
        serde_json::json!([
            {"start": "10.90.0.1", "end": "10.90.0.1", "num_addresses": 1, "purpose": ["gateway-ip"]},
            {"start": "10.90.0.50", "end": "10.90.0.50", "num_addresses": 1, "purpose": ["assigned-ip"]},
            {"start": "10.90.0.200", "end": "10.90.0.209", "num_addresses": 10, "purpose": ["reserved"]},
        ])
    );
    let free = c
        .get(&format!(
            "/MAAS/api/2.0/subnets/{}/?op=unreserved_ip_ranges",
            sub["id"]
        ))
        .await
        .ok()
        .json();
    assert_eq!(
        free[0],
        serde_json::json!({"start": "10.90.0.2", "end": "10.90.0.49", "num_addresses": 48})
    );
    assert_eq!(free.as_array().map(Vec::len), Some(3));
    let st = c
        .get("/MAAS/api/2.0/subnets/prov/?op=statistics&include_suggestions=true&include_ranges=true")
        .await
        .ok()
        .json();
    assert_eq!(st["total_addresses"], 254);
    assert_eq!(st["num_unavailable"], 12);
    assert_eq!(st["num_available"], 242);
    assert_eq!(st["usage_string"], "5%");
    assert_eq!(st["suggested_gateway"], serde_json::Value::Null);
    // In the largest free run, .51 to .199, at its top.
    assert_eq!(st["suggested_dynamic_range"]["end"], "10.90.0.199");
    assert_eq!(st["ranges"].as_array().map(Vec::len), Some(6));
    let ips = c
        .get("/MAAS/api/2.0/subnets/prov/?op=ip_addresses")
        .await
        .ok()
        .json();
    assert_eq!(ips[0]["ip"], "10.90.0.50");
    assert_eq!(ips[0]["alloc_type"], 4);
    assert_eq!(ips[0]["user"], "admin");
    c.get("/MAAS/api/2.0/subnets/prov/?op=bogus")
        .await
        .expect(400);
}

/// The interface ops Juju, Terraform and the MAAS CLI use beyond links: the default gateway
/// (chosen, shown in `default_gateways`, cleared), tags, disconnect, deleting a physical
/// interface, and restoring the network commissioning leaves (with its event).
#[tokio::test]
async fn interface_gateway_tags_disconnect_and_restore() {
    let s = Server::start(&[]).await;
    let c = s.client();
    for (cidr, gw) in [("10.94.0.0/24", "10.94.0.1"), ("10.95.0.0/24", "10.95.0.1")] {
        c.post(
            "/MAAS/api/2.0/subnets/",
            &[("cidr", cidr), ("gateway_ip", gw)],
        )
        .await
        .ok();
    }
    let sid = c
        .ready_machine("gw1", &mac(81), &[("mac_addresses", mac(82).as_str())])
        .await;
    let ifaces = format!("/MAAS/api/2.0/nodes/{sid}/interfaces/");
    let m = c.machine(&sid).await;
    let ids: Vec<i64> = m["interface_set"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    let (e0, e1) = (ids[0], ids[1]);
    // No link yet: nothing to route through.
    c.post(&format!("{ifaces}{e1}/?op=set_default_gateway"), &[])
        .await
        .expect(400);
    let l0 = c
        .post(
            &format!("{ifaces}{e0}/?op=link_subnet"),
            &[("mode", "auto"), ("subnet", "10.94.0.0/24")],
        )
        .await
        .ok()
        .json()["links"][0]["id"]
        .as_i64()
        .unwrap();
    let l1 = c
        .post(
            &format!("{ifaces}{e1}/?op=link_subnet"),
            &[
                ("mode", "static"),
                ("subnet", "cidr:10.95.0.0/24"),
                ("ip_address", "10.95.0.20"),
            ],
        )
        .await
        .ok()
        .json()["links"][0]["id"]
        .as_i64()
        .unwrap();
    let gw = |m: &serde_json::Value| {
        (
            m["default_gateways"]["ipv4"]["link_id"].as_i64(),
            m["default_gateways"]["ipv4"]["gateway_ip"].clone(),
        )
    };
    assert_eq!(
        gw(&c.machine(&sid).await),
        (Some(l0), serde_json::json!("10.94.0.1")),
        "the first addressed link"
    );
    c.post(
        &format!("{ifaces}{e1}/?op=set_default_gateway"),
        &[("link_id", "99999")],
    )
    .await
    .expect(400);
    let r = c
        .post(&format!("{ifaces}{e1}/?op=set_default_gateway"), &[])
        .await
        .ok()
        .json();
    assert_eq!(r["links"][0]["default_gateway"], true);
    assert_eq!(
        gw(&c.machine(&sid).await),
        (Some(l1), serde_json::json!("10.95.0.1")),
        "the chosen link"
    );
    let m = c
        .post(
            &format!("/MAAS/api/2.0/machines/{sid}/?op=clear_default_gateways"),
            &[],
        )
        .await
        .ok()
        .json();
    assert_eq!(
        gw(&m).0,
        Some(l0),
        "cleared: the first addressed link again"
    );
    // Tags: added once, removed; removing an absent tag is an error.
    for _ in 0..2 {
        c.post(&format!("{ifaces}{e0}/?op=add_tag"), &[("tag", "uplink")])
            .await
            .ok();
    }
    assert_eq!(
        c.get(&format!("{ifaces}{e0}/")).await.ok().json()["tags"],
        serde_json::json!(["uplink"])
    );
    c.post(&format!("{ifaces}{e0}/?op=add_tag"), &[])
        .await
        .expect(400);
    c.post(
        &format!("{ifaces}{e0}/?op=remove_tag"),
        &[("tag", "uplink")],
    )
    .await
    .ok();
    c.post(
        &format!("{ifaces}{e0}/?op=remove_tag"),
        &[("tag", "uplink")],
    )
    .await
    .expect(400);
    // Disconnect: the links and the static address go, and the VLAN with them.
    let r = c
        .post(&format!("{ifaces}{e1}/?op=disconnect"), &[])
        .await
        .ok()
        .json();
    assert_eq!(
        (r["links"].as_array().map(Vec::len), &r["vlan"]),
        (Some(0), &serde_json::Value::Null)
    );
    let ips = c
        .get("/MAAS/api/2.0/subnets/10.95.0.0%2F24/?op=ip_addresses")
        .await
        .ok()
        .json();
    assert_eq!(ips, serde_json::json!([]), "the static address was freed");
    // Restore: the VLAN interface goes, the links go, the boot interface gets one link.
    c.post(
        &format!("{ifaces}?op=create_vlan"),
        &[
            ("parent", &e0.to_string()),
            (
                "vlan",
                &c.get("/MAAS/api/2.0/fabrics/0/vlans/0/").await.ok().json()["id"].to_string(),
            ),
        ],
    )
    .await;
    let m = c
        .post(
            &format!("/MAAS/api/2.0/machines/{sid}/?op=restore_networking_configuration"),
            &[],
        )
        .await
        .ok()
        .json();
    let set = m["interface_set"].as_array().unwrap();
    assert_eq!(set.len(), 2, "{set:#?}");
    let links: usize = set
        .iter()
        .map(|i| i["links"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(links, 1, "only the boot interface is configured: {set:#?}");
    let evs = c
        .get(&format!("/MAAS/api/2.0/events/?op=query&id={sid}"))
        .await
        .ok()
        .json();
    assert!(
        evs.to_string()
            .contains("Networking configuration restored"),
        "{evs}"
    );
    // A physical interface can be deleted.
    c.delete(&format!("{ifaces}{e1}/")).await.ok();
    assert_eq!(
        c.machine(&sid).await["interface_set"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // get_curtin_config: only for a machine that is (being) deployed.
    let r = c
        .get(&format!(
            "/MAAS/api/2.0/machines/{sid}/?op=get_curtin_config"
        ))
        .await
        .expect(400);
    assert!(r.body.contains("not in a deployment state"), "{}", r.body);
}
