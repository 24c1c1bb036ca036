//! The rack interface: configuration from the region, netboot hops back, behind the rack secret.

mod common;
use common::{mac, Server};

#[tokio::test]
async fn rack_config_and_events() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let secret = std::fs::read_to_string(s.dir.path().join("rack.secret"))
        .expect("rack.secret written by serve");
    assert!(secret.len() >= 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.dir.path().join("rack.secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    c.post(
        "/MAAS/api/2.0/subnets/",
        &[("cidr", "10.77.0.0/24"), ("gateway_ip", "10.77.0.1")],
    )
    .await
    .ok();
    c.post(
        "/MAAS/api/2.0/ipranges/",
        &[
            ("type", "dynamic"),
            ("start_ip", "10.77.0.100"),
            ("end_ip", "10.77.0.199"),
        ],
    )
    .await
    .ok();
    c.put("/MAAS/api/2.0/fabrics/0/vlans/0/", &[("dhcp_on", "true")])
        .await
        .ok();
    c.create("r1", &mac(95), &[("commission", "false")]).await;
    let url = format!("{}/MAAS/rack/config", s.base);
    let http = reqwest::Client::new();
    assert_eq!(http.get(&url).send().await.unwrap().status(), 401);
    assert_eq!(
        http.get(&url)
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // A user's API key is not a rack secret.
    assert_eq!(c.get("/MAAS/rack/config").await.status.as_u16(), 401);
    let cfg: serde_json::Value = http
        .get(&url)
        .bearer_auth(secret.trim())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cfg["subnets"][0]["cidr"], "10.77.0.0/24");
    assert_eq!(cfg["subnets"][0]["dhcp_on"], true);
    assert_eq!(
        cfg["subnets"][0]["dynamic_ranges"][0],
        serde_json::json!(["10.77.0.100", "10.77.0.199"])
    );
    // The machine's NIC is a host (the region's own machine's NICs are listed too).
    let r1 = cfg["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["mac"] == mac(95).as_str())
        .unwrap_or_else(|| panic!("{}", cfg["hosts"]));
    assert_eq!(r1["hostname"], "r1");
    assert_eq!(cfg["unknown_machines"], "enlist");
    // Hops the rack saw land in the timeline, for MACs nobody has too.
    let ev = serde_json::json!([
        {"mac": "52:54:00:77:00:01", "hop": "dhcp", "detail": "DISCOVER (arch 0, relay none)"},
        {"mac": "52-54-00-77-00-01", "hop": "dhcp", "detail": "OFFER 10.77.0.100"},
        {"mac": "not-a-mac", "hop": "dhcp", "detail": "ignored"}
    ]);
    let r: serde_json::Value = http
        .post(format!("{}/MAAS/rack/events", s.base))
        .bearer_auth(secret.trim())
        .json(&ev)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["recorded"], 2);
    let tl = c
        .get("/MAAS/api/2.0/netboot-timeline/?mac=52:54:00:77:00:01")
        .await
        .ok()
        .json();
    assert_eq!(tl.as_array().map(Vec::len), Some(2));
    assert_eq!(tl[1]["detail"], "OFFER 10.77.0.100");
    let bad = http
        .post(format!("{}/MAAS/rack/events", s.base))
        .bearer_auth(secret.trim())
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

/// A rack registers by reading its configuration with its name and address; it is listed under
/// `rackcontrollers/` and each read refreshes it; a bad address is refused.
#[tokio::test]
async fn racks_register_by_reading_their_configuration() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let secret = std::fs::read_to_string(s.dir.path().join("rack.secret")).unwrap();
    let http = reqwest::Client::new();
    let get = |q: &str| {
        http.get(format!("{}/MAAS/rack/config?{q}", s.base))
            .bearer_auth(secret.trim())
            .send()
    };
    assert_eq!(
        c.get("/MAAS/api/2.0/rackcontrollers/").await.ok().json(),
        serde_json::json!([])
    );
    assert_eq!(
        get("name=rack-a&address=10.5.0.2&version=9.9")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        get("name=rack-b&address=10.6.0.2").await.unwrap().status(),
        200
    );
    assert_eq!(
        get("name=rack-a&address=10.5.0.3").await.unwrap().status(),
        200
    );
    assert_eq!(
        get("name=rack-c&address=not-an-ip").await.unwrap().status(),
        400
    );
    let racks = c.get("/MAAS/api/2.0/rackcontrollers/").await.ok().json();
    let list = racks.as_array().unwrap();
    assert_eq!(list.len(), 2, "{racks:#}");
    assert_eq!(list[0]["hostname"], "rack-a");
    assert_eq!(
        list[0]["ip_addresses"],
        serde_json::json!(["10.5.0.3"]),
        "refreshed"
    );
    assert_eq!(list[0]["node_type_name"], "Rack controller");
    assert_eq!(list[0]["service_set"][0]["status"], "running");
    assert_eq!(list[1]["hostname"], "rack-b");
    assert_ne!(list[0]["system_id"], list[1]["system_id"]);
    // Without the secret nothing registers.
    let r = http
        .get(format!("{}/MAAS/rack/config?name=intruder", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        c.get("/MAAS/api/2.0/rackcontrollers/")
            .await
            .ok()
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// Terraform's `maas_vlan_dhcp` flow: a VLAN's DHCP is served by the primary and secondary rack
/// controllers set on it and by no other rack; a VLAN that relays DHCP is served by those racks
/// too; the VLAN reads back what was set.
#[tokio::test]
async fn vlan_dhcp_is_served_by_the_racks_it_names() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let secret = std::fs::read_to_string(s.dir.path().join("rack.secret")).unwrap();
    let http = reqwest::Client::new();
    let config = |name: &'static str| {
        let req = http
            .get(format!("{}/MAAS/rack/config?name={name}", s.base))
            .bearer_auth(secret.trim().to_string());
        async move {
            let cfg: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
            let on = |cidr: &str| {
                cfg["subnets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s["cidr"] == cidr && s["dhcp_on"] == true)
            };
            (on("10.80.0.0/24"), on("10.81.0.0/24"))
        }
    };
    for name in ["rack-a", "rack-b", "rack-c"] {
        config(name).await;
    }
    let racks = c.get("/MAAS/api/2.0/rackcontrollers/").await.ok().json();
    let id = |name: &str| {
        racks
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["hostname"] == name)
            .unwrap()["system_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (a, b) = (id("rack-a"), id("rack-b"));
    let relayed = c
        .post("/MAAS/api/2.0/fabrics/0/vlans/", &[("vid", "81")])
        .await
        .ok()
        .json();
    for (cidr, vlan) in [
        ("10.80.0.0/24", None),
        ("10.81.0.0/24", Some(relayed["id"].to_string())),
    ] {
        let mut p = vec![("cidr", cidr)];
        if let Some(v) = &vlan {
            p.push(("vlan", v.as_str()));
        }
        c.post("/MAAS/api/2.0/subnets/", &p).await.ok();
    }
    c.post(
        "/MAAS/api/2.0/ipranges/",
        &[
            ("type", "dynamic"),
            ("start_ip", "10.80.0.100"),
            ("end_ip", "10.80.0.199"),
        ],
    )
    .await
    .ok();
    let r = c
        .put(
            "/MAAS/api/2.0/fabrics/0/vlans/0/",
            &[("dhcp_on", "true"), ("primary_rack", "nope")],
        )
        .await
        .expect(400);
    assert!(r.json()["primary_rack"].is_array(), "{}", r.body);
    let v = c
        .put(
            "/MAAS/api/2.0/fabrics/0/vlans/0/",
            &[
                ("dhcp_on", "true"),
                ("primary_rack", &a),
                ("secondary_rack", &b),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(
        (v["primary_rack"].as_str(), v["secondary_rack"].as_str()),
        (Some(a.as_str()), Some(b.as_str()))
    );
    let untagged_id = v["id"].to_string();
    let r = c
        .put(
            "/MAAS/api/2.0/fabrics/0/vlans/81/",
            &[("relay_vlan", &untagged_id), ("description", "relayed")],
        )
        .await
        .ok()
        .json();
    assert_eq!(r["relay_vlan"]["id"], v["id"]);
    assert_eq!(r["relay_vlan"]["primary_rack"], a.as_str());
    assert_eq!(r["description"], "relayed");
    assert_eq!(config("rack-a").await, (true, true));
    assert_eq!(config("rack-b").await, (true, true));
    assert_eq!(config("rack-c").await, (false, false));
    // Serving DHCP on the relayed VLAN itself is refused while it relays.
    c.put(
        "/MAAS/api/2.0/fabrics/0/vlans/81/",
        &[("dhcp_on", "true"), ("relay_vlan", &untagged_id)],
    )
    .await
    .expect(400);
}

/// `reservedips/` (MAAS 3.6+): a reservation is a host entry of the racks' DHCP; its checks
/// name the field; it can be changed and deleted, and the racks follow.
#[tokio::test]
async fn reserved_ips_are_dhcp_host_reservations() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let hosts = || async { s.rack_config(&[("name", "rack-r")]).await["hosts"].clone() };
    c.post(
        "/MAAS/api/2.0/subnets/",
        &[("cidr", "10.83.0.0/24"), ("name", "r83")],
    )
    .await
    .ok();
    for (form, field) in [
        (vec![("ip", "10.83.0.40")], "mac_address"),
        (vec![("mac_address", "52:54:00:83:00:01")], "ip"),
        (
            vec![("ip", "10.83.0.40"), ("mac_address", "zz")],
            "mac_address",
        ),
        (
            vec![("ip", "10.99.0.40"), ("mac_address", "52:54:00:83:00:01")],
            "ip",
        ),
    ] {
        let r = c
            .post("/MAAS/api/2.0/reservedips/", &form)
            .await
            .expect(400);
        assert!(r.json()[field].is_array(), "{form:?}: {}", r.body);
    }
    let r = c
        .post(
            "/MAAS/api/2.0/reservedips/",
            &[
                ("ip", "10.83.0.40"),
                ("mac_address", "52-54-00-83-00-01"),
                ("comment", "printer"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(
        (r["mac_address"].as_str(), r["comment"].as_str()),
        (Some("52:54:00:83:00:01"), Some("printer"))
    );
    assert_eq!(r["subnet"]["name"], "r83");
    let id = r["id"].to_string();
    let h = hosts().await;
    assert!(
        h.as_array()
            .unwrap()
            .iter()
            .any(|x| x["mac"] == "52:54:00:83:00:01" && x["ip"] == "10.83.0.40"),
        "{h:#}"
    );
    let r = c
        .put(
            &format!("/MAAS/api/2.0/reservedips/{id}/"),
            &[("mac_address", "52:54:00:83:00:02")],
        )
        .await
        .ok()
        .json();
    assert_eq!(
        (r["mac_address"].as_str(), r["comment"].as_str()),
        (Some("52:54:00:83:00:02"), Some("printer"))
    );
    assert!(hosts().await.to_string().contains("52:54:00:83:00:02"));
    let bob = s.user("bob").await;
    bob.delete(&format!("/MAAS/api/2.0/reservedips/{id}/"))
        .await
        .expect(403);
    c.delete(&format!("/MAAS/api/2.0/reservedips/{id}/"))
        .await
        .ok();
    assert!(!hosts().await.to_string().contains("10.83.0.40"));
    c.get(&format!("/MAAS/api/2.0/reservedips/{id}/"))
        .await
        .expect(404);
}
