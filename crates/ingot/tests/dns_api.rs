//! The DNS API through the real binary, in MAAS's shapes: `domains/` (the default `maas` is id
//! 0 and cannot be deleted; create, change, set_default, delete; a name taken is a 409),
//! `dnsresources/` (names with their addresses; a machine's name is its own) and
//! `dnsresourcerecords/` (each type's data checked, a CNAME alone at its name), filters, and
//! a machine moved to another domain.

mod common;
use common::{mac, Server};
use serde_json::{json, Value};

const API: &str = "/MAAS/api/2.0";

fn field_error(body: &str, field: &str) -> String {
    let v: Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("not field errors: {body}"));
    v[field]
        .as_array()
        .unwrap_or_else(|| panic!("no {field} error in {body}"))
        .iter()
        .map(|m| m.as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domains_in_maas_shape() {
    domains(&Server::start(&[]).await).await;
}

/// The same on PostgreSQL (the v25 renumbering, `set_default`'s one statement, the lookups).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_on_postgres() {
    let Some(s) = Server::start_pg(&[]).await else {
        return;
    };
    domains(&s).await;
    names(&s).await;
    racks_zones(&s).await;
}

async fn domains(s: &Server) {
    let c = s.client();
    let list = c.get(&format!("{API}/domains/")).await.ok().json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let maas = &list[0];
    assert_eq!(maas["id"], 0, "{maas}");
    assert_eq!(maas["name"], "maas");
    assert_eq!(maas["is_default"], true);
    assert_eq!(maas["authoritative"], true);
    assert_eq!(maas["resource_uri"], format!("{API}/domains/0/"));
    // A machine made before any change is named in it.
    let m = c.create("dns-01", &mac(1), &[]).await;
    assert_eq!(m["fqdn"], "dns-01.maas");
    assert_eq!(m["domain"]["id"], 0, "{m}");

    // Create: the name checked, taken → 409, the TTL checked.
    let bad = c
        .post(&format!("{API}/domains/"), &[("name", "not a domain")])
        .await;
    assert_eq!(bad.status, 400);
    assert!(field_error(&bad.body, "name").contains("is not a domain name"));
    let bad = c
        .post(
            &format!("{API}/domains/"),
            &[("name", "lab.example"), ("ttl", "-5")],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(field_error(&bad.body, "ttl").contains("is not a TTL"));
    let lab = c
        .post(
            &format!("{API}/domains/"),
            &[
                ("name", "Lab.Example"),
                ("ttl", "300"),
                ("authoritative", "true"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(lab["name"], "lab.example");
    assert_eq!(lab["ttl"], 300);
    assert_eq!(lab["is_default"], false);
    let taken = c
        .post(&format!("{API}/domains/"), &[("name", "lab.example")])
        .await;
    assert_eq!(taken.status, 409, "{}", taken.body);
    let id = lab["id"].as_i64().unwrap();

    // Read by id and by name; change.
    assert_eq!(
        c.get(&format!("{API}/domains/lab.example/"))
            .await
            .ok()
            .json()["id"],
        id
    );
    let changed = c
        .put(
            &format!("{API}/domains/{id}/"),
            &[("ttl", "600"), ("authoritative", "false")],
        )
        .await
        .ok()
        .json();
    assert_eq!(changed["ttl"], 600);
    assert_eq!(changed["authoritative"], false);
    let renamed = c
        .put(&format!("{API}/domains/{id}/"), &[("name", "maas")])
        .await;
    assert_eq!(renamed.status, 409, "{}", renamed.body);

    // The default moves: new machines are named there; the old default can then go only
    // once nothing is named in it.
    let d = c
        .post(&format!("{API}/domains/{id}/?op=set_default"), &[])
        .await
        .ok()
        .json();
    assert_eq!(d["is_default"], true);
    let all = c.get(&format!("{API}/domains/")).await.ok().json();
    let defaults: Vec<&Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["is_default"] == true)
        .collect();
    assert_eq!(defaults.len(), 1, "{all}");
    let m2 = c.create("dns-02", &mac(2), &[]).await;
    assert_eq!(m2["fqdn"], "dns-02.lab.example", "{m2}");
    let refused = c.delete(&format!("{API}/domains/{id}/")).await;
    assert_eq!(
        refused.status, 400,
        "the default cannot go: {}",
        refused.body
    );
    c.post(&format!("{API}/domains/0/?op=set_default"), &[])
        .await
        .ok();
    let refused = c.delete(&format!("{API}/domains/{id}/")).await;
    assert_eq!(
        refused.status, 400,
        "a machine is named in it: {}",
        refused.body
    );
    assert!(refused.body.contains("1 machine"), "{}", refused.body);
    // The machine moves to maas: its FQDN follows; then the domain can go.
    let sid2 = m2["system_id"].as_str().unwrap();
    let moved = c
        .put(&format!("{API}/machines/{sid2}/"), &[("domain", "maas")])
        .await
        .ok()
        .json();
    assert_eq!(moved["fqdn"], "dns-02.maas");
    c.delete(&format!("{API}/domains/{id}/")).await.ok();
    assert_eq!(c.get(&format!("{API}/domains/{id}/")).await.status, 404);
    // The default maas cannot be deleted; a non-admin changes nothing.
    assert_eq!(c.delete(&format!("{API}/domains/0/")).await.status, 400);
    let bob = s.user("bob").await;
    assert_eq!(
        bob.post(&format!("{API}/domains/"), &[("name", "bob.example")])
            .await
            .status,
        403
    );
    assert_eq!(bob.get(&format!("{API}/domains/")).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_and_records() {
    let s = Server::start(&[]).await;
    names(&s).await;
    racks_zones(&s).await;
}

/// What a rack is sent (`GET /MAAS/rack/dns`, the rack secret): a DNS resource's addresses
/// and a machine named from its DHCP lease, and, when the rack asks again with that serial,
/// a long poll that ends without news (204) — or with the change made meanwhile.
async fn racks_zones(s: &Server) {
    let secret = std::fs::read_to_string(s.dir.path().join("rack.secret")).unwrap();
    let secret = secret.trim().to_string();
    let rack_dns = |query: String| {
        let (http, base, secret) = (reqwest::Client::new(), s.base.clone(), secret.clone());
        async move {
            http.get(format!("{base}/MAAS/rack/dns{query}"))
                .bearer_auth(secret)
                .send()
                .await
                .unwrap()
        }
    };
    // web-01 (made by `names`) acked an address by a rack's DHCP: its name follows the lease.
    let r = reqwest::Client::new()
        .post(format!("{}/MAAS/rack/events?name=rack-a", s.base))
        .bearer_auth(&secret)
        .json(
            &json!([{"mac": mac(3), "hop": "dhcp", "detail": "REQUEST -> Acked 10.0.0.50",
                        "lease": {"ip": "10.0.0.50", "seconds": 3600}}]),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let c = s.client();
    c.post(
        &format!("{API}/dnsresources/"),
        &[("fqdn", "zones.maas"), ("ip_addresses", "10.0.0.5")],
    )
    .await
    .ok();
    let dns: Value = rack_dns(String::new()).await.json().await.unwrap();
    let a_records: Vec<(String, String)> = dns["zones"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|z| z["records"].as_array().unwrap().iter())
        .filter_map(|r| {
            Some((
                r["owner"].as_str()?.to_string(),
                r["data"]["A"].as_str()?.to_string(),
            ))
        })
        .collect();
    for want in [("web-01.maas", "10.0.0.50"), ("zones.maas", "10.0.0.5")] {
        assert!(
            a_records
                .iter()
                .any(|(o, a)| (o.as_str(), a.as_str()) == want),
            "{want:?} not in {a_records:?}"
        );
    }
    let serial = dns["serial"].as_i64().unwrap();
    let t = std::time::Instant::now();
    let r = rack_dns(format!("?serial={serial}&wait_ms=300")).await;
    assert_eq!(r.status(), 204);
    assert!(t.elapsed() >= std::time::Duration::from_millis(300));
    let bad = rack_dns(format!("?serial={serial}&wait_ms=soon")).await;
    assert_eq!(bad.status(), 400);
    // A change while the rack waits ends the wait with the new zones.
    let waiting = tokio::spawn(rack_dns(format!("?serial={serial}&wait_ms=1000")));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    c.post(
        &format!("{API}/dnsresources/"),
        &[("fqdn", "late.maas"), ("ip_addresses", "10.0.0.77")],
    )
    .await
    .ok();
    let r = waiting.await.unwrap();
    assert_eq!(r.status(), 200);
    let next: Value = r.json().await.unwrap();
    assert!(next["serial"].as_i64().unwrap() > serial);
    assert!(next.to_string().contains("late.maas"), "{next}");
}

async fn names(s: &Server) {
    let c = s.client();
    c.post(&format!("{API}/domains/"), &[("name", "example.com")])
        .await
        .ok();
    c.create("web-01", &mac(3), &[]).await;

    // A name with addresses, by FQDN (split at the longest domain) or name + domain.
    let www = c
        .post(
            &format!("{API}/dnsresources/"),
            &[
                ("fqdn", "www.example.com"),
                ("ip_addresses", "10.0.0.5 2001:db8::5"),
                ("address_ttl", "120"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(www["fqdn"], "www.example.com");
    assert_eq!(www["address_ttl"], 120);
    let ips: Vec<&str> = www["ip_addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["ip"].as_str().unwrap())
        .collect();
    assert_eq!(ips, ["10.0.0.5", "2001:db8::5"]);
    let mail = c
        .post(
            &format!("{API}/dnsresources/"),
            &[
                ("name", "mail"),
                ("domain", "example.com"),
                ("ip_addresses", "10.0.0.6"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(mail["fqdn"], "mail.example.com");
    let bad = c
        .post(
            &format!("{API}/dnsresources/"),
            &[("fqdn", "x.example.com"), ("ip_addresses", "10.0.0.999")],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(field_error(&bad.body, "ip_addresses").contains("10.0.0.999"));
    let nowhere = c
        .post(&format!("{API}/dnsresources/"), &[("fqdn", "a.other.org")])
        .await;
    assert_eq!(nowhere.status, 400);
    assert!(field_error(&nowhere.body, "fqdn").contains("No domain"));
    let again = c
        .post(
            &format!("{API}/dnsresources/"),
            &[("fqdn", "www.example.com")],
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    // A machine's name is its own.
    let clash = c
        .post(
            &format!("{API}/dnsresources/"),
            &[("fqdn", "web-01.maas"), ("ip_addresses", "10.0.0.7")],
        )
        .await;
    assert_eq!(clash.status, 409, "{}", clash.body);
    assert!(clash.body.contains("web-01"), "{}", clash.body);

    // Records: each type's data checked and written canonically.
    let rec = |fqdn: &str, t: &str, d: &str| {
        let c = c.clone();
        let (fqdn, t, d) = (fqdn.to_string(), t.to_string(), d.to_string());
        async move {
            c.post(
                &format!("{API}/dnsresourcerecords/"),
                &[
                    ("fqdn", fqdn.as_str()),
                    ("rrtype", t.as_str()),
                    ("rrdata", d.as_str()),
                ],
            )
            .await
        }
    };
    for (fqdn, t, d, want) in [
        (
            "example.com",
            "MX",
            "10 Mail.Example.com.",
            "10 mail.example.com",
        ),
        ("example.com", "TXT", "v=spf1 mx -all", "v=spf1 mx -all"),
        ("example.com", "NS", "ns1.example.com", "ns1.example.com"),
        (
            "_ldap._tcp.example.com",
            "SRV",
            "0 5 389 ldap.example.com",
            "0 5 389 ldap.example.com",
        ),
        ("www.example.com", "SSHFP", "4 2 ABCDEF", "4 2 abcdef"),
        (
            "docs.example.com",
            "cname",
            "www.example.com",
            "www.example.com",
        ),
    ] {
        let r = rec(fqdn, t, d).await;
        assert_eq!(r.status, 200, "{fqdn} {t} {d}: {}", r.body);
        let v = r.json();
        assert_eq!(v["rrdata"], want, "{v}");
        assert_eq!(v["fqdn"], fqdn);
        assert_eq!(v["rrtype"], t.to_uppercase());
    }
    for (fqdn, t, d, field, says) in [
        (
            "example.com",
            "MX",
            "mail.example.com",
            "rrdata",
            "PREFERENCE EXCHANGE",
        ),
        (
            "example.com",
            "SRV",
            "0 5 ldap",
            "rrdata",
            "PRIORITY WEIGHT PORT TARGET",
        ),
        ("example.com", "PTR", "x", "rrtype", "is not a record type"),
        ("example.com", "A", "10.0.0.8", "rrtype", "ip_addresses"),
        (
            "www.example.com",
            "CNAME",
            "other.example.com",
            "rrtype",
            "no other data",
        ),
        ("docs.example.com", "TXT", "hello", "rrtype", "has a CNAME"),
    ] {
        let r = rec(fqdn, t, d).await;
        assert_eq!(r.status, 400, "{fqdn} {t} {d}: {}", r.body);
        assert!(field_error(&r.body, field).contains(says), "{}", r.body);
    }
    let dup = rec("example.com", "MX", "10 mail.example.com").await;
    assert_eq!(dup.status, 409, "{}", dup.body);
    // A name with a CNAME takes no addresses either.
    let docs = c
        .get(&format!("{API}/dnsresources/?name=docs&domain=example.com"))
        .await
        .ok()
        .json();
    let docs_id = docs[0]["id"].as_i64().unwrap();
    let r = c
        .put(
            &format!("{API}/dnsresources/{docs_id}/"),
            &[("ip_addresses", "10.0.0.9")],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);

    // Filters.
    let mx = c
        .get(&format!("{API}/dnsresourcerecords/?rrtype=mx"))
        .await
        .ok()
        .json();
    assert_eq!(mx.as_array().unwrap().len(), 1, "{mx}");
    let in_domain = c
        .get(&format!(
            "{API}/dnsresourcerecords/?domain=example.com&name=@"
        ))
        .await
        .ok()
        .json();
    assert_eq!(in_domain.as_array().unwrap().len(), 3, "{in_domain}");
    let with_a = c
        .get(&format!("{API}/dnsresources/?rrtype=A"))
        .await
        .ok()
        .json();
    let names: Vec<&str> = with_a
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["fqdn"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mail.example.com", "www.example.com"]);
    // The resource shows its records; the domain counts them with the addresses.
    let www_id = www["id"].as_i64().unwrap();
    let www = c
        .get(&format!("{API}/dnsresources/{www_id}/"))
        .await
        .ok()
        .json();
    assert_eq!(www["resource_records"][0]["rrtype"], "SSHFP", "{www}");
    let ex = c
        .get(&format!("{API}/domains/example.com/"))
        .await
        .ok()
        .json();
    assert_eq!(ex["resource_record_count"], 3 + 1 + 1 + 1 + 2 + 1, "{ex}");

    // Update and delete; a record's name with nothing left goes too.
    let txt = c
        .get(&format!("{API}/dnsresourcerecords/?rrtype=TXT"))
        .await
        .ok()
        .json();
    let txt_id = txt[0]["id"].as_i64().unwrap();
    let t = c
        .put(
            &format!("{API}/dnsresourcerecords/{txt_id}/"),
            &[("rrdata", "v=spf1 -all"), ("ttl", "60")],
        )
        .await
        .ok()
        .json();
    assert_eq!(t["rrdata"], "v=spf1 -all");
    assert_eq!(t["ttl"], 60);
    let srv = c
        .get(&format!("{API}/dnsresourcerecords/?rrtype=SRV"))
        .await
        .ok()
        .json();
    let srv_id = srv[0]["id"].as_i64().unwrap();
    c.delete(&format!("{API}/dnsresourcerecords/{srv_id}/"))
        .await
        .ok();
    let left = c
        .get(&format!("{API}/dnsresources/?name=_ldap._tcp"))
        .await
        .ok()
        .json();
    assert_eq!(left, json!([]));
    let ww = c
        .put(
            &format!("{API}/dnsresources/{www_id}/"),
            &[("ip_addresses", "10.0.0.50")],
        )
        .await
        .ok()
        .json();
    assert_eq!(ww["ip_addresses"][0]["ip"], "10.0.0.50");
    assert_eq!(ww["ip_addresses"].as_array().unwrap().len(), 1);
    c.delete(&format!("{API}/dnsresources/{www_id}/"))
        .await
        .ok();
    assert_eq!(
        c.get(&format!("{API}/dnsresources/{www_id}/")).await.status,
        404
    );
    // Deleting the domain takes its names and records.
    c.delete(&format!("{API}/domains/example.com/")).await.ok();
    assert_eq!(
        c.get(&format!("{API}/dnsresourcerecords/"))
            .await
            .ok()
            .json(),
        json!([])
    );
}
