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
    c.put("/MAAS/api/2.0/fabrics/1/vlans/0/", &[("dhcp_on", "true")])
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
    assert_eq!(cfg["hosts"][0]["mac"], mac(95).as_str());
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
