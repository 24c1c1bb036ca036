//! Cloning (`POST machines/?op=clone`) through the real binary: storage only, interfaces only
//! and both, read back from the destinations; then every restriction, each in a request that
//! also has a destination that can be cloned — the failed destination is named with its cause
//! and keeps its configuration, the other one changes. And the MAAS-style CLI.

mod common;
use common::{inventory_with, mac, Client, Server, BIN};
use serde_json::{json, Value};

const API: &str = "/MAAS/api/2.0";
const GB: u64 = 1_000_000_000;

type Disks<'a> = &'a [(&'a str, u64, u64)];

/// A READY machine commissioned with these disks and NICs (named as given; MACs from `n`).
async fn machine_with(
    c: &Client,
    host: &str,
    n: u32,
    arch: &str,
    disks: Disks<'_>,
    nics: &[&str],
) -> String {
    let macs: Vec<String> = (0..nics.len() as u32).map(|i| mac(n * 16 + i)).collect();
    let m = c.create(host, &macs[0], &[]).await;
    let sid = m["system_id"].as_str().expect("system_id").to_string();
    let nics: Vec<(&str, &str)> = nics
        .iter()
        .zip(&macs)
        .map(|(n, m)| (*n, m.as_str()))
        .collect();
    let inv = inventory_with(&c.machine(&sid).await, arch, disks, &nics);
    c.commission_ok_with(&sid, Some(&inv)).await;
    assert_eq!(c.status(&sid).await, 4, "{host} is Ready");
    sid
}

/// A machine like the source (x86_64, sda 100 GB rotary + sdb 50 GB SSD, eth0..eth2).
async fn plain(c: &Client, host: &str, n: u32) -> String {
    machine_with(
        c,
        host,
        n,
        "x86_64",
        &[("sda", 100 * GB, 7200), ("sdb", 50 * GB, 0)],
        &["eth0", "eth1", "eth2"],
    )
    .await
}

/// The storage of a machine without what differs between machines (disk sizes, ids, UUIDs).
fn storage_shape(m: &Value) -> Value {
    let fs = |f: &Value| json!([f["fstype"], f["mount_point"]]);
    let mut devs: Vec<Value> = m["blockdevice_set"]
        .as_array()
        .expect("blockdevice_set")
        .iter()
        .map(|d| {
            json!({
                "name": d["name"], "type": d["type"],
                "size": if d["type"] == "physical" { Value::Null } else { d["size"].clone() },
                "table": d["partition_table_type"], "fs": fs(&d["filesystem"]),
                "used_for": d["used_for"],
                "partitions": d["partitions"].as_array().unwrap().iter()
                    .map(|p| json!([p["size"], fs(&p["filesystem"]), p["used_for"]])).collect::<Vec<_>>(),
            })
        })
        .collect();
    devs.sort_by_key(|d| d["name"].to_string());
    let names = |k: &str| -> Vec<Value> {
        m[k].as_array()
            .map(|a| {
                a.iter()
                    .map(|x| json!([x["name"], x["cache_mode"]]))
                    .collect()
            })
            .unwrap_or_default()
    };
    json!({"devices": devs, "vgs": names("volume_groups"), "cache_sets": names("cache_sets"), "bcaches": names("bcaches")})
}

/// Every filesystem UUID of a machine.
fn fs_uuids(m: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for d in m["blockdevice_set"].as_array().unwrap() {
        out.extend(d["filesystem"]["uuid"].as_str().map(String::from));
        for p in d["partitions"].as_array().unwrap() {
            out.extend(p["filesystem"]["uuid"].as_str().map(String::from));
        }
    }
    out
}

/// The interfaces of a machine without what differs between machines (MACs, ids, addresses).
fn iface_shape(m: &Value) -> Value {
    let mut v: Vec<Value> = m["interface_set"]
        .as_array()
        .expect("interface_set")
        .iter()
        .map(|i| {
            json!({
                "name": i["name"], "type": i["type"], "enabled": i["enabled"],
                "parents": i["parents"], "params": i["params"],
                "links": i["links"].as_array().unwrap().iter()
                    .map(|l| json!([l["mode"], l["subnet"]["cidr"], l["ip_address"].is_string(), l["default_gateway"]]))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    v.sort_by_key(|i| i["name"].to_string());
    Value::Array(v)
}

/// Addresses of a machine's links.
fn addresses(m: &Value) -> Vec<String> {
    m["interface_set"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["links"].as_array().unwrap().iter())
        .filter_map(|l| l["ip_address"].as_str().map(String::from))
        .collect()
}

/// Everything cloning could change, exactly (ids and UUIDs included).
async fn config(c: &Client, sid: &str) -> Value {
    let m = c.machine(sid).await;
    json!([
        m["blockdevice_set"],
        m["volume_groups"],
        m["cache_sets"],
        m["bcaches"],
        m["interface_set"]
    ])
}

fn iface_id(m: &Value, name: &str) -> i64 {
    m["interface_set"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .and_then(|i| i["id"].as_i64())
        .unwrap_or_else(|| panic!("no interface {name}"))
}

/// Give the source a storage layout that no machine has by default (bcache: sdb caches).
async fn source_storage(c: &Client, sid: &str) {
    let m = c
        .op(sid, "set_storage_layout", &[("storage_layout", "bcache")])
        .await
        .ok()
        .json();
    assert_eq!(m["bcaches"].as_array().map(Vec::len), Some(1), "{m}");
}

/// A subnet on the default fabric; returns its id.
async fn subnet(c: &Client, cidr: &str, gateway: &str) -> i64 {
    c.post(
        &format!("{API}/subnets/"),
        &[("cidr", cidr), ("gateway_ip", gateway)],
    )
    .await
    .ok()
    .json()["id"]
        .as_i64()
        .unwrap()
}

async fn link(c: &Client, sid: &str, iface: i64, params: &[(&str, &str)]) -> Value {
    c.post(
        &format!("{API}/nodes/{sid}/interfaces/{iface}/?op=link_subnet"),
        params,
    )
    .await
    .ok()
    .json()
}

/// Give the source a network configuration: bond0 over eth0+eth1 with a STATIC address,
/// a VLAN on bond0, eth2 on DHCP. Returns the source's static address.
async fn source_network(c: &Client, sid: &str, subnet_id: i64) -> String {
    let m = c.machine(sid).await;
    let (e0, e1, e2) = (
        iface_id(&m, "eth0"),
        iface_id(&m, "eth1"),
        iface_id(&m, "eth2"),
    );
    let bond = c
        .post(
            &format!("{API}/nodes/{sid}/interfaces/?op=create_bond"),
            &[
                ("name", "bond0"),
                ("parents", &e0.to_string()),
                ("parents", &e1.to_string()),
                ("bond_mode", "active-backup"),
                ("mtu", "9000"),
            ],
        )
        .await
        .ok()
        .json();
    let bond_id = bond["id"].as_i64().unwrap();
    // VLAN 42 of the default fabric (made by the first source of the server).
    let vlans = c.get(&format!("{API}/fabrics/0/vlans/")).await.ok().json();
    let vlan = match vlans.as_array().unwrap().iter().find(|v| v["vid"] == 42) {
        Some(v) => v.clone(),
        None => c
            .post(&format!("{API}/fabrics/0/vlans/"), &[("vid", "42")])
            .await
            .ok()
            .json(),
    };
    c.post(
        &format!("{API}/nodes/{sid}/interfaces/?op=create_vlan"),
        &[
            ("parent", &bond_id.to_string()),
            ("vlan", &vlan["id"].to_string()),
        ],
    )
    .await
    .ok();
    let s = subnet_id.to_string();
    let l = link(
        c,
        sid,
        bond_id,
        &[
            ("mode", "static"),
            ("subnet", &s),
            ("default_gateway", "true"),
        ],
    )
    .await;
    link(c, sid, e2, &[("mode", "dhcp"), ("subnet", &s)]).await;
    l["links"][0]["ip_address"]
        .as_str()
        .unwrap_or_else(|| panic!("static address: {l}"))
        .to_string()
}

/// POST op=clone with `destinations` repeated.
async fn clone(
    c: &Client,
    source: &str,
    dests: &[&str],
    storage: bool,
    interfaces: bool,
) -> common::Resp {
    let (st, it) = (storage.to_string(), interfaces.to_string());
    let mut p: Vec<(&str, &str)> = vec![("source", source), ("storage", &st), ("interfaces", &it)];
    for d in dests {
        p.push(("destinations", d));
    }
    c.post(&format!("{API}/machines/?op=clone"), &p).await
}

#[tokio::test]
async fn clone_storage_only() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let src = plain(&c, "src", 1).await;
    // Larger disks, in another order, and one more.
    let d1 = machine_with(
        &c,
        "d1",
        2,
        "x86_64",
        &[
            ("sda", 200 * GB, 7200),
            ("sdc", 10 * GB, 0),
            ("sdb", 60 * GB, 0),
        ],
        &["eth0", "eth1", "eth2"],
    )
    .await;
    let d2 = plain(&c, "d2", 3).await;
    source_storage(&c, &src).await;
    let sn = subnet(&c, "10.60.0.0/24", "10.60.0.1").await;
    let d2m = c.machine(&d2).await;
    link(
        &c,
        &d2,
        iface_id(&d2m, "eth0"),
        &[("mode", "dhcp"), ("subnet", &sn.to_string())],
    )
    .await;
    let src_m = c.machine(&src).await;
    let before: Vec<Value> = vec![c.machine(&d1).await, c.machine(&d2).await];
    assert_ne!(storage_shape(&before[0]), storage_shape(&src_m));

    let r = clone(&c, &src, &[&d1, &d2], true, false).await.ok().json();
    assert_eq!(r, json!({"source": src, "cloned": [d1, d2], "failed": {}}));
    for (d, old) in [&d1, &d2].into_iter().zip(&before) {
        let m = c.machine(d).await;
        let mut want = storage_shape(&src_m);
        if d == &d1 {
            // sdc was not needed: it stays unused.
            let sdc = storage_shape(old)["devices"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["name"] == "sdc")
                .cloned()
                .unwrap();
            assert_eq!(sdc["partitions"], json!([]));
            let devs = want["devices"].as_array_mut().unwrap();
            devs.push(sdc);
            devs.sort_by_key(|d| d["name"].to_string());
        }
        assert_eq!(storage_shape(&m), want, "{d}");
        // New UUIDs, not the source's.
        let theirs = fs_uuids(&src_m);
        assert!(!fs_uuids(&m).is_empty());
        assert!(fs_uuids(&m).iter().all(|u| !theirs.contains(u)), "{d}");
        // Interfaces untouched.
        assert_eq!(m["interface_set"], old["interface_set"], "{d}");
        let ev = c.events(d).await;
        assert!(
            ev.iter().any(|e| e["description"]
                .as_str()
                .is_some_and(|t| t == format!("Storage cloned from src ({src})"))),
            "{ev:?}"
        );
    }
    // The source is unchanged.
    assert_eq!(config(&c, &src).await, config_of(&src_m));
}

fn config_of(m: &Value) -> Value {
    json!([
        m["blockdevice_set"],
        m["volume_groups"],
        m["cache_sets"],
        m["bcaches"],
        m["interface_set"]
    ])
}

#[tokio::test]
async fn clone_interfaces_only() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let src = plain(&c, "src", 1).await;
    let d1 = plain(&c, "d1", 2).await;
    // One more interface on d2, which already has links of its own.
    let d2 = machine_with(
        &c,
        "d2",
        3,
        "x86_64",
        &[("sda", 100 * GB, 7200), ("sdb", 50 * GB, 0)],
        &["eth0", "eth1", "eth2", "eth3"],
    )
    .await;
    let sn = subnet(&c, "10.61.0.0/24", "10.61.0.1").await;
    let d2m = c.machine(&d2).await;
    link(
        &c,
        &d2,
        iface_id(&d2m, "eth3"),
        &[("mode", "static"), ("subnet", &sn.to_string())],
    )
    .await;
    let src_ip = source_network(&c, &src, sn).await;
    let src_m = c.machine(&src).await;
    let before = [c.machine(&d1).await, c.machine(&d2).await];

    let r = clone(&c, &src, &[&d1, &d2], false, true).await.ok().json();
    assert_eq!(r, json!({"source": src, "cloned": [d1, d2], "failed": {}}));
    let mut ips = vec![src_ip.clone()];
    for (d, old) in [&d1, &d2].into_iter().zip(&before) {
        let m = c.machine(d).await;
        let mut want = iface_shape(&src_m);
        if d == &d2 {
            // eth3 keeps no links: the destination's network configuration was replaced.
            let mut eth3 = iface_shape(old)
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["name"] == "eth3")
                .cloned()
                .unwrap();
            assert_eq!(eth3["links"].as_array().map(Vec::len), Some(1));
            eth3["links"] = json!([]);
            let a = want.as_array_mut().unwrap();
            a.push(eth3);
            a.sort_by_key(|i| i["name"].to_string());
        }
        assert_eq!(iface_shape(&m), want, "{d}");
        // A new address from the same subnet: not the source's, not another destination's.
        let a = addresses(&m);
        assert_eq!(a.len(), 1, "{d}: {a:?}");
        assert!(a[0].starts_with("10.61.0."), "{a:?}");
        assert!(!ips.contains(&a[0]), "{d} got {} again ({ips:?})", a[0]);
        ips.push(a[0].clone());
        // The MACs are the destination's own; bond0 and its VLAN show the first member's.
        let macs = |m: &Value, n: &str| {
            m["interface_set"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["name"] == n)
                .unwrap()["mac_address"]
                .clone()
        };
        assert_eq!(macs(&m, "eth0"), macs(old, "eth0"));
        assert_eq!(macs(&m, "bond0"), macs(old, "eth0"));
        assert_eq!(macs(&m, "bond0.42"), macs(old, "eth0"));
        // Storage untouched.
        assert_eq!(m["blockdevice_set"], old["blockdevice_set"], "{d}");
    }
    // The source keeps its address.
    assert_eq!(addresses(&c.machine(&src).await), vec![src_ip]);
}

#[tokio::test]
async fn clone_storage_and_interfaces() {
    both(&Server::start(&[]).await).await;
}

/// The store's transaction on PostgreSQL: both parts, and a refusal that keeps everything.
#[tokio::test]
async fn clone_on_postgres() {
    let Some(s) = Server::start_pg(&[]).await else {
        return;
    };
    both(&s).await;
    exhausted(&s).await;
}

async fn both(s: &Server) {
    let c = s.client();
    let src = plain(&c, "src", 1).await;
    let d1 = plain(&c, "d1", 2).await;
    let sn = subnet(&c, "10.62.0.0/24", "10.62.0.1").await;
    let src_ip = source_network(&c, &src, sn).await;
    source_storage(&c, &src).await;
    let src_m = c.machine(&src).await;
    // Comma-separated destinations are accepted.
    let r = c
        .post(
            &format!("{API}/machines/?op=clone"),
            &[
                ("source", src.as_str()),
                ("destinations", &format!("{d1}, {d1}")),
                ("storage", "true"),
                ("interfaces", "true"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(r, json!({"source": src, "cloned": [d1], "failed": {}}));
    let m = c.machine(&d1).await;
    assert_eq!(storage_shape(&m), storage_shape(&src_m));
    assert_eq!(iface_shape(&m), iface_shape(&src_m));
    assert_ne!(addresses(&m), vec![src_ip]);
    assert_eq!(m["status_name"], "Ready");
    let ev = c.events(&d1).await;
    assert!(
        ev.iter().any(|e| e["description"]
            .as_str()
            .is_some_and(|t| t == format!("Storage and interfaces cloned from src ({src})"))),
        "{ev:?}"
    );
}

/// A request with a good destination and a bad one: 400; the bad one named with its cause and
/// unchanged, the good one cloned.
async fn one_fails(
    c: &Client,
    src: &str,
    good: &str,
    bad: &str,
    storage: bool,
    interfaces: bool,
    cause: &str,
) -> Value {
    let src_m = c.machine(src).await;
    let r = c.get(&format!("{API}/machines/{bad}/")).await;
    let bad_before = if r.status == 404u16 {
        Value::Null
    } else {
        r.ok().json()
    };
    let bad_config = config_of(&bad_before);
    let r = clone(c, src, &[good, bad], storage, interfaces)
        .await
        .expect(400)
        .json();
    assert_eq!(r["cloned"], json!([good]), "{r}");
    let failed = r["failed"][bad].as_str().unwrap_or_else(|| panic!("{r}"));
    assert!(failed.contains(cause), "{failed:?} should say {cause:?}");
    let msgs = r["destinations"].as_array().expect("destinations");
    assert_eq!(msgs.len(), 1, "{r}");
    let msg = msgs[0].as_str().unwrap();
    let host = bad_before["hostname"].as_str().unwrap_or("");
    assert!(msg.contains(bad) && msg.contains(cause), "{msg}");
    if !host.is_empty() {
        assert!(msg.starts_with(&format!("{host} ({bad}): ")), "{msg}");
    }
    if bad_before.is_object() {
        assert_eq!(config(c, bad).await, bad_config, "{bad} changed");
    }
    let g = c.machine(good).await;
    if storage {
        assert_eq!(storage_shape(&g), storage_shape(&src_m));
    }
    if interfaces {
        assert_eq!(iface_shape(&g), iface_shape(&src_m));
    }
    r
}

#[tokio::test]
async fn clone_form_errors() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let src = plain(&c, "src", 1).await;
    let d1 = plain(&c, "d1", 2).await;
    let before = config(&c, &d1).await;
    // Missing source.
    let r = c
        .post(
            &format!("{API}/machines/?op=clone"),
            &[("destinations", d1.as_str()), ("storage", "true")],
        )
        .await
        .expect(400)
        .json();
    assert_eq!(r, json!({"source": ["This field is required."]}));
    // Unknown source.
    let r = clone(&c, "nosuch", &[&d1], true, false)
        .await
        .expect(400)
        .json();
    assert_eq!(
        r,
        json!({"source": ["No machine you can see has the system_id 'nosuch'."]})
    );
    // Neither flag.
    let r = clone(&c, &src, &[&d1], false, false)
        .await
        .expect(400)
        .json();
    assert_eq!(
        r,
        json!({"__all__": ["Either storage or interfaces must be true."]})
    );
    // No destination.
    let r = clone(&c, &src, &[], true, false).await.expect(400).json();
    assert_eq!(
        r,
        json!({"destinations": ["At least one destination is required."]})
    );
    // A flag that is not a boolean.
    let r = c
        .post(
            &format!("{API}/machines/?op=clone"),
            &[
                ("source", src.as_str()),
                ("destinations", &d1),
                ("storage", "maybe"),
            ],
        )
        .await
        .expect(400)
        .json();
    assert_eq!(r["storage"][0], "\"maybe\" is not a boolean", "{r}");
    assert_eq!(config(&c, &d1).await, before);
}

#[tokio::test]
async fn clone_unknown_and_source_destinations() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let src = plain(&c, "src", 1).await;
    let good = plain(&c, "good", 2).await;
    source_storage(&c, &src).await;
    one_fails(
        &c,
        &src,
        &good,
        "nosuch",
        true,
        false,
        "no machine has this system_id",
    )
    .await;
    let r = one_fails(
        &c,
        &src,
        &good,
        &src,
        true,
        false,
        "the source machine src cannot be a destination machine",
    )
    .await;
    assert!(r["destinations"][0]
        .as_str()
        .unwrap()
        .starts_with(&format!("src ({src}): ")));
}

#[tokio::test]
async fn clone_destination_status() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let src = plain(&c, "src", 1).await;
    // A machine whose tests failed may be cloned onto.
    let good = plain(&c, "good", 2).await;
    c.op(&good, "test", &[]).await.ok();
    let t = c.token(&good).await;
    c.with_token(&t)
        .post_multipart(
            "/MAAS/metadata/2012-03-01/?op=signal",
            &[
                ("status", b"FAILED"),
                ("name", b"smartctl-validate"),
                ("exit_status", b"1"),
            ],
        )
        .await
        .ok();
    assert_eq!(c.machine(&good).await["status_name"], "Failed testing");
    let bad = plain(&c, "bad", 3).await;
    source_storage(&c, &src).await;
    c.post(
        &format!("{API}/machines/?op=allocate"),
        &[("system_id", bad.as_str())],
    )
    .await
    .ok();
    assert_eq!(c.status(&bad).await, 10);
    one_fails(
        &c,
        &src,
        &good,
        &bad,
        true,
        false,
        "it is Allocated; only Ready or Failed testing machines can be cloned onto",
    )
    .await;
}

#[tokio::test]
async fn clone_needs_an_administrator() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let src = plain(&c, "src", 1).await;
    let d1 = plain(&c, "d1", 2).await;
    let d2 = plain(&c, "d2", 3).await;
    source_storage(&c, &src).await;
    let before = [config(&c, &d1).await, config(&c, &d2).await];
    let bob = s.user("bob").await;
    let r = clone(&bob, &src, &[&d1, &d2], true, false)
        .await
        .expect(400)
        .json();
    assert_eq!(r["cloned"], json!([]));
    for (i, d) in [&d1, &d2].into_iter().enumerate() {
        let cause = r["failed"][d].as_str().unwrap();
        assert!(
            cause.starts_with("you cannot administer this machine"),
            "{cause}"
        );
        let msg = r["destinations"][i].as_str().unwrap();
        assert!(
            msg.starts_with(&format!("d{} ({d}): you cannot administer", i + 1)),
            "{msg}"
        );
        assert_eq!(config(&c, d).await, before[i]);
    }
    // A source bob cannot see (allocated to the admin) is a form error, as if it did not exist.
    c.post(
        &format!("{API}/machines/?op=allocate"),
        &[("system_id", src.as_str())],
    )
    .await
    .ok();
    let r = clone(&bob, &src, &[&d1], true, false)
        .await
        .expect(400)
        .json();
    assert_eq!(
        r,
        json!({"source": [format!("No machine you can see has the system_id '{src}'.")]})
    );
    assert_eq!(config(&c, &d1).await, before[0]);
}

#[tokio::test]
async fn clone_architecture_mismatch() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let src = plain(&c, "src", 1).await;
    let good = plain(&c, "good", 2).await;
    let bad = machine_with(
        &c,
        "bad",
        3,
        "aarch64",
        &[("sda", 100 * GB, 7200), ("sdb", 50 * GB, 0)],
        &["eth0", "eth1", "eth2"],
    )
    .await;
    source_storage(&c, &src).await;
    one_fails(&c, &src, &good, &bad, true, false, "storage: node architectures do not match (destination arm64/generic != source amd64/generic)").await;
}

#[tokio::test]
async fn clone_boot_method_mismatch() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let src = plain(&c, "src", 1).await;
    let good = plain(&c, "good", 2).await;
    let bad = plain(&c, "bad", 3).await;
    // bad's last network boot was UEFI (its first NIC is mac(3 * 16)).
    s.anon()
        .get(&format!(
            "/MAAS/boot/ipxe?mac={}&arch=amd64&firmware=uefi",
            mac(3 * 16)
        ))
        .await
        .ok();
    source_storage(&c, &src).await;
    one_fails(
        &c,
        &src,
        &good,
        &bad,
        true,
        false,
        "storage: node boot methods do not match (destination uefi != source bios)",
    )
    .await;
}

#[tokio::test]
async fn clone_boot_disk_smaller() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let src = plain(&c, "src", 1).await;
    let good = plain(&c, "good", 2).await;
    let bad = machine_with(
        &c,
        "bad",
        3,
        "x86_64",
        &[("sda", 90 * GB, 7200), ("sdb", 50 * GB, 0)],
        &["eth0", "eth1", "eth2"],
    )
    .await;
    source_storage(&c, &src).await;
    one_fails(&c, &src, &good, &bad, true, false, "storage: destination boot disk sda (90000000000 bytes) is smaller than source boot disk sda (100000000000 bytes)").await;
}

#[tokio::test]
async fn clone_fewer_disks() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let src = plain(&c, "src", 1).await;
    let good = plain(&c, "good", 2).await;
    let bad = machine_with(
        &c,
        "bad",
        3,
        "x86_64",
        &[("sda", 500 * GB, 7200)],
        &["eth0", "eth1", "eth2"],
    )
    .await;
    source_storage(&c, &src).await;
    one_fails(
        &c,
        &src,
        &good,
        &bad,
        true,
        false,
        "storage: destination node has fewer physical block devices than the source node (1 < 2)",
    )
    .await;
}

#[tokio::test]
async fn clone_unmatched_disks() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let src = plain(&c, "src", 1).await;
    let good = plain(&c, "good", 2).await;
    // As many disks, but the second is smaller than the source's sdb.
    let bad = machine_with(
        &c,
        "bad",
        3,
        "x86_64",
        &[("sda", 100 * GB, 7200), ("sdb", 40 * GB, 0)],
        &["eth0", "eth1", "eth2"],
    )
    .await;
    source_storage(&c, &src).await;
    one_fails(&c, &src, &good, &bad, true, false, "storage: 1 source node physical block device(s) have no matching destination physical block device at least as large: sdb (50000000000 bytes)").await;
}

#[tokio::test]
async fn clone_interface_name_missing() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let src = plain(&c, "src", 1).await;
    let good = plain(&c, "good", 2).await;
    let bad = machine_with(
        &c,
        "bad",
        3,
        "x86_64",
        &[("sda", 100 * GB, 7200), ("sdb", 50 * GB, 0)],
        &["eth0", "eno1", "eno2"],
    )
    .await;
    let sn = subnet(&c, "10.63.0.0/24", "10.63.0.1").await;
    source_network(&c, &src, sn).await;
    one_fails(&c, &src, &good, &bad, false, true, "interfaces: destination node physical interfaces do not match the source node's physical interfaces: missing eth1, eth2").await;
    // With storage too (which alone would clone): neither part is applied to bad.
    source_storage(&c, &src).await;
    let r = one_fails(
        &c,
        &src,
        &good,
        &bad,
        true,
        true,
        "interfaces: destination node physical interfaces",
    )
    .await;
    assert!(
        !r["failed"][&bad].as_str().unwrap().contains("storage"),
        "{r}"
    );
}

#[tokio::test]
async fn clone_subnet_exhausted() {
    exhausted(&Server::start(&[]).await).await;
}

async fn exhausted(s: &Server) {
    let c = s.client();
    let src = plain(&c, "xsrc", 11).await;
    let good = plain(&c, "xgood", 12).await;
    let bad = plain(&c, "xbad", 13).await;
    // A /29: .1 is the gateway, .2-.6 can be given out.
    let sn = subnet(&c, "10.64.0.0/29", "10.64.0.1").await;
    // bad has a configuration of its own that must survive.
    let bm = c.machine(&bad).await;
    link(
        &c,
        &bad,
        iface_id(&bm, "eth0"),
        &[("mode", "dhcp"), ("subnet", &sn.to_string())],
    )
    .await;
    let src_ip = source_network(&c, &src, sn).await;
    assert_eq!(src_ip, "10.64.0.2");
    // Leave one address free.
    for ip in ["10.64.0.3", "10.64.0.4", "10.64.0.5"] {
        c.post(&format!("{API}/ipaddresses/?op=reserve"), &[("ip", ip)])
            .await
            .ok();
    }
    one_fails(
        &c,
        &src,
        &good,
        &bad,
        true,
        true,
        "no free static address is left in 10.64.0.0/29 for bond0 (STATIC link)",
    )
    .await;
    assert_eq!(addresses(&c.machine(&good).await), vec!["10.64.0.6"]);
}

#[tokio::test]
async fn clone_from_the_cli() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let src = plain(&c, "src", 1).await;
    let d1 = plain(&c, "d1", 2).await;
    let d2 = plain(&c, "d2", 3).await;
    source_storage(&c, &src).await;
    let cfg = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(BIN)
            .args(args)
            .env("INGOT_CONFIG_DIR", cfg.path())
            .output()
            .expect("run ingot");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&["login", "admin", &format!("{}/MAAS", s.base), &s.key]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(&[
        "admin",
        "machines",
        "clone",
        &format!("source={src}"),
        &format!("destinations={d1}"),
        &format!("destinations={d2}"),
        "storage=true",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["cloned"], json!([d1, d2]));
    let src_m = c.machine(&src).await;
    for d in [&d1, &d2] {
        assert_eq!(storage_shape(&c.machine(d).await), storage_shape(&src_m));
    }
    // A failure: the CLI exits non-zero and prints the destination and the cause.
    let (code, out, err) = run(&[
        "admin",
        "machines",
        "clone",
        &format!("source={src}"),
        "destinations=nosuch",
        "interfaces=true",
    ]);
    assert_ne!(code, 0);
    let all = format!("{out}{err}");
    assert!(
        all.contains("nosuch: no machine has this system_id"),
        "{all}"
    );
}
