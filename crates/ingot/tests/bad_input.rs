//! Every endpoint answers malformed parameters, unknown ids and invalid transitions with a 4xx
//! and a message, and leaves the database exactly as it was.

mod common;
use common::{mac, Client, Server};
use sqlx::{Column, Row};

/// Every row of every table, rendered as text.
async fn snapshot(db: &str) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(db)
        .await
        .expect("connect");
    let mut out = Vec::new();
    // netboot_events is left out on purpose: it is the per-MAC log of every hop a machine
    // makes (refused metadata calls included), which is what an operator needs to see.
    for t in [
        "users",
        "zones",
        "pools",
        "domains",
        "tags",
        "machines",
        "machine_tags",
        "interfaces",
        "tokens",
        "events",
        "script_results",
        "sshkeys",
        "settings",
        "fabrics",
        "vlans",
        "subnets",
        "ipranges",
        "staticips",
        "interface_links",
        "boot_resources",
    ] {
        let rows = sqlx::query(&format!("SELECT * FROM {t} ORDER BY 1"))
            .fetch_all(&mut conn)
            .await
            .expect("select");
        for r in rows {
            let mut cells = vec![t.to_string()];
            for (i, c) in r.columns().iter().enumerate() {
                let v = if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
                    format!("{v:?}")
                } else if let Ok(v) = r.try_get::<Option<String>, _>(i) {
                    format!("{v:?}")
                } else if let Ok(v) = r.try_get::<Option<Vec<u8>>, _>(i) {
                    format!("{v:?}")
                } else {
                    "?".into()
                };
                cells.push(format!("{}={v}", c.name()));
            }
            out.push(cells.join(" "));
        }
    }
    out
}

struct Case {
    who: &'static str,
    method: &'static str,
    path: String,
    params: Vec<(&'static str, String)>,
    want: u16,
}

fn case(
    who: &'static str,
    method: &'static str,
    path: impl Into<String>,
    params: &[(&'static str, &str)],
    want: u16,
) -> Case {
    Case {
        who,
        method,
        path: path.into(),
        params: params.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        want,
    }
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let s = Server::start(&[]).await;
    let admin = s.client();
    let ready = admin.ready_machine("ready1", &mac(1), &[]).await;
    let deployed = admin
        .post(
            "/MAAS/api/2.0/machines/",
            &[("hostname", "dep1"), ("deployed", "true")],
        )
        .await
        .ok()
        .json()["system_id"]
        .as_str()
        .unwrap()
        .to_string();
    let new = admin
        .create("new1", &mac(2), &[("commission", "false")])
        .await["system_id"]
        .as_str()
        .unwrap()
        .to_string();
    admin
        .post("/MAAS/api/2.0/tags/", &[("name", "fast")])
        .await
        .ok();
    admin
        .post(
            "/MAAS/api/2.0/subnets/",
            &[("cidr", "10.55.0.0/24"), ("gateway_ip", "10.55.0.1")],
        )
        .await
        .ok();
    admin
        .post(
            "/MAAS/api/2.0/ipranges/",
            &[
                ("type", "dynamic"),
                ("start_ip", "10.55.0.100"),
                ("end_ip", "10.55.0.200"),
            ],
        )
        .await
        .ok();
    admin
        .post(
            "/MAAS/api/2.0/ipaddresses/",
            &[
                ("op", "reserve"),
                ("ip", "10.55.0.7"),
                ("mac", "52:54:00:55:00:07"),
            ],
        )
        .await
        .ok();
    let bob = s.user("bob").await;
    let dep_token = admin.token(&deployed).await;
    let machine = admin.with_token(&dep_token);
    let m = |sid: &str, op: &str| format!("/MAAS/api/2.0/machines/{sid}/?op={op}");
    let item = |sid: &str| format!("/MAAS/api/2.0/machines/{sid}/");
    const MS: &str = "/MAAS/api/2.0/machines/";

    const IPS: &str = "/MAAS/api/2.0/ipaddresses/";
    const BR: &str = "/MAAS/api/2.0/boot-resources/";
    let sha = "0".repeat(64);
    const BS: &str = "/MAAS/api/2.0/boot-sources/";
    let cases = vec![
        // boot sources: a URL that is not one, a keyring that is not one, a user, a missing
        // source's selections, a selection without a release
        case("admin", "POST", BS, &[("url", "ftp://mirror/")], 400),
        case("admin", "POST", BS, &[], 400),
        case(
            "admin",
            "POST",
            BS,
            &[
                ("url", "http://mirror/"),
                ("keyring_data", "bm90IGEga2V5cmluZw=="),
            ],
            400,
        ),
        case("bob", "POST", BS, &[("url", "http://mirror/")], 403),
        case(
            "admin",
            "POST",
            "/MAAS/api/2.0/boot-sources/999/selections/",
            &[("os", "ubuntu"), ("release", "jammy")],
            404,
        ),
        // boot resources and deployment
        case(
            "admin",
            "POST",
            BR,
            &[
                ("architecture", "amd64/generic"),
                ("sha256", &sha),
                ("size", "3"),
            ],
            400,
        ),
        case(
            "admin",
            "POST",
            BR,
            &[
                ("name", "x"),
                ("architecture", "vax/generic"),
                ("sha256", &sha),
                ("size", "3"),
            ],
            400,
        ),
        case(
            "admin",
            "POST",
            BR,
            &[
                ("name", "x"),
                ("architecture", "amd64/generic"),
                ("filetype", "ddzip"),
                ("sha256", &sha),
                ("size", "3"),
            ],
            400,
        ),
        case(
            "admin",
            "POST",
            BR,
            &[
                ("name", "x"),
                ("architecture", "amd64/generic"),
                ("size", "3"),
            ],
            400,
        ),
        case(
            "admin",
            "POST",
            BR,
            &[
                ("name", "x"),
                ("architecture", "amd64/generic"),
                ("sha256", &sha),
                ("size", "0"),
            ],
            400,
        ),
        case(
            "bob",
            "POST",
            BR,
            &[
                ("name", "x"),
                ("architecture", "amd64/generic"),
                ("sha256", &sha),
                ("size", "3"),
            ],
            403,
        ),
        case("admin", "GET", format!("{BR}?type=bogus"), &[], 400),
        case("admin", "GET", format!("{BR}999/"), &[], 404),
        case("admin", "DELETE", format!("{BR}999/"), &[], 404),
        case("admin", "POST", format!("{BR}?op=frobnicate"), &[], 400),
        case(
            "admin",
            "POST",
            m(&ready, "deploy"),
            &[("distro_series", "nosuch")],
            400,
        ),
        case("admin", "POST", m(&ready, "deploy"), &[], 400),
        case(
            "machine",
            "GET",
            "/MAAS/metadata/latest/deploy-config",
            &[],
            409,
        ),
        case(
            "admin",
            "POST",
            m(&deployed, "release"),
            &[("quick_erase", "maybe")],
            400,
        ),
        case(
            "admin",
            "POST",
            "/MAAS/api/2.0/maas/?op=set_config",
            &[
                ("name", "enable_disk_erasing_on_release"),
                ("value", "perhaps"),
            ],
            400,
        ),
        // ipaddresses: reservations
        case("admin", "POST", IPS, &[("op", "reserve")], 400),
        case(
            "admin",
            "POST",
            IPS,
            &[("op", "reserve"), ("ip", "10.55.0.x")],
            400,
        ),
        case(
            "admin",
            "POST",
            IPS,
            &[("op", "reserve"), ("ip", "10.56.0.5")],
            400,
        ),
        case(
            "admin",
            "POST",
            IPS,
            &[("op", "reserve"), ("ip", "10.55.0.0")],
            400,
        ),
        case(
            "admin",
            "POST",
            IPS,
            &[("op", "reserve"), ("ip", "10.55.0.255")],
            400,
        ),
        case(
            "admin",
            "POST",
            IPS,
            &[("op", "reserve"), ("ip", "10.55.0.1")],
            400,
        ),
        case(
            "admin",
            "POST",
            IPS,
            &[("op", "reserve"), ("ip", "10.55.0.150")],
            400,
        ),
        case(
            "admin",
            "POST",
            IPS,
            &[("op", "reserve"), ("subnet", "99")],
            400,
        ),
        case(
            "admin",
            "POST",
            IPS,
            &[("op", "reserve"), ("subnet", "10.55.0.0/24"), ("mac", "zz")],
            400,
        ),
        case(
            "admin",
            "POST",
            IPS,
            &[("op", "reserve"), ("ip", "10.55.0.7")],
            409,
        ),
        case(
            "admin",
            "POST",
            IPS,
            &[
                ("op", "reserve"),
                ("ip", "10.55.0.8"),
                ("mac", "52:54:00:55:00:07"),
            ],
            409,
        ),
        case(
            "bob",
            "POST",
            IPS,
            &[("op", "release"), ("ip", "10.55.0.7")],
            403,
        ),
        case(
            "admin",
            "POST",
            IPS,
            &[("op", "release"), ("ip", "10.55.0.9")],
            404,
        ),
        case(
            "admin",
            "POST",
            IPS,
            &[("op", "release"), ("ip", "nope")],
            400,
        ),
        case("admin", "POST", IPS, &[("op", "release")], 400),
        case("admin", "POST", IPS, &[("op", "frobnicate")], 400),
        case("admin", "DELETE", "/MAAS/api/2.0/subnets/1/", &[], 409),
        // create: malformed fields
        case(
            "admin",
            "POST",
            MS,
            &[
                ("hostname", "x1"),
                ("architecture", "amd64"),
                ("mac_addresses", "not-a-mac"),
            ],
            400,
        ),
        case(
            "admin",
            "POST",
            MS,
            &[
                ("hostname", "x1"),
                ("architecture", "vax"),
                ("mac_addresses", "52:54:00:aa:00:01"),
            ],
            400,
        ),
        case(
            "admin",
            "POST",
            MS,
            &[
                ("hostname", "x1"),
                ("architecture", "amd64/generic"),
                ("subarchitecture", "generic"),
                ("mac_addresses", "52:54:00:aa:00:01"),
            ],
            400,
        ),
        case(
            "admin",
            "POST",
            MS,
            &[
                ("hostname", "x1"),
                ("architecture", "amd64"),
                ("mac_addresses", "52:54:00:aa:00:01"),
                ("power_type", "telepathy"),
            ],
            400,
        ),
        case(
            "admin",
            "POST",
            MS,
            &[
                ("hostname", "x1"),
                ("architecture", "amd64"),
                ("mac_addresses", "52:54:00:aa:00:01"),
                ("zone", "nowhere"),
            ],
            400,
        ),
        case(
            "admin",
            "POST",
            MS,
            &[
                ("hostname", "x1"),
                ("architecture", "amd64"),
                ("mac_addresses", "52:54:00:aa:00:01"),
                ("pool", "nopool"),
            ],
            400,
        ),
        case(
            "admin",
            "POST",
            MS,
            &[
                ("hostname", "ready1"),
                ("architecture", "amd64"),
                ("mac_addresses", "52:54:00:aa:00:01"),
            ],
            400,
        ),
        case(
            "admin",
            "POST",
            MS,
            &[
                ("hostname", "x1"),
                ("architecture", "amd64"),
                ("mac_addresses", &mac(1)),
            ],
            400,
        ),
        case(
            "admin",
            "POST",
            MS,
            &[
                ("hostname", "-bad-"),
                ("architecture", "amd64"),
                ("mac_addresses", "52:54:00:aa:00:01"),
            ],
            400,
        ),
        case(
            "admin",
            "POST",
            MS,
            &[
                ("hostname", "x1"),
                ("architecture", "amd64"),
                ("mac_addresses", "52:54:00:aa:00:01"),
                ("cpu_count", "lots"),
            ],
            400,
        ),
        case(
            "admin",
            "POST",
            MS,
            &[
                ("hostname", "x1"),
                ("architecture", "amd64"),
                ("mac_addresses", "52:54:00:aa:00:01"),
                ("cpu_count", "-2"),
            ],
            400,
        ),
        case(
            "admin",
            "POST",
            MS,
            &[
                ("hostname", "x1"),
                ("architecture", "amd64"),
                ("mac_addresses", "52:54:00:aa:00:01"),
                ("power_parameters", "{not json"),
            ],
            400,
        ),
        case(
            "admin",
            "POST",
            MS,
            &[
                ("hostname", "x1"),
                ("architecture", "amd64"),
                ("mac_addresses", "52:54:00:aa:00:01"),
                ("min_hwe_kernel", "linux-6"),
            ],
            400,
        ),
        case(
            "admin",
            "POST",
            MS,
            &[
                ("hostname", "x1"),
                ("architecture", "amd64"),
                ("mac_addresses", "52:54:00:aa:00:01"),
                ("commission", "perhaps"),
            ],
            400,
        ),
        case(
            "admin",
            "POST",
            MS,
            &[("hostname", "x1"), ("architecture", "amd64")],
            400,
        ),
        case(
            "admin",
            "POST",
            MS,
            &[
                ("hostname", "x1"),
                ("architecture", "amd64"),
                ("mac_addresses", "52:54:00:aa:00:01"),
                ("domain", "nodomain"),
            ],
            400,
        ),
        case(
            "bob",
            "POST",
            MS,
            &[("hostname", "x1"), ("deployed", "true")],
            400,
        ),
        case(
            "anon",
            "POST",
            MS,
            &[("mac_addresses", "52:54:00:aa:00:09")],
            400,
        ),
        // list filters
        case("admin", "GET", format!("{MS}?status=sleeping"), &[], 400),
        case("admin", "GET", format!("{MS}?mac_address=zz"), &[], 400),
        case("admin", "GET", format!("{MS}?cpu_count=many"), &[], 400),
        case("anon", "GET", MS, &[], 401),
        // allocate
        case(
            "admin",
            "POST",
            format!("{MS}?op=allocate"),
            &[("tags", "nosuchtag")],
            400,
        ),
        case(
            "admin",
            "POST",
            format!("{MS}?op=allocate"),
            &[("zone", "nowhere")],
            400,
        ),
        case(
            "admin",
            "POST",
            format!("{MS}?op=allocate"),
            &[("mem", "lots")],
            400,
        ),
        case(
            "admin",
            "POST",
            format!("{MS}?op=allocate"),
            &[("cpu_count", "-1")],
            400,
        ),
        case(
            "admin",
            "POST",
            format!("{MS}?op=allocate"),
            &[("arch", "vax")],
            400,
        ),
        case(
            "admin",
            "POST",
            format!("{MS}?op=allocate"),
            &[("install_kvm", "true")],
            400,
        ),
        case(
            "admin",
            "POST",
            format!("{MS}?op=allocate"),
            &[("cpu_count", "4096")],
            409,
        ),
        case(
            "admin",
            "POST",
            format!("{MS}?op=allocate"),
            &[("name", "nosuchhost")],
            409,
        ),
        case("admin", "POST", format!("{MS}?op=frobnicate"), &[], 400),
        case("admin", "POST", format!("{MS}?op=release"), &[], 400),
        case(
            "admin",
            "POST",
            format!("{MS}?op=release"),
            &[("machines", "zzzzzz")],
            400,
        ),
        case(
            "admin",
            "POST",
            format!("{MS}?op=release"),
            &[("machines", &new)],
            409,
        ),
        // clone: form errors, and only unknown destinations
        case("admin", "POST", format!("{MS}?op=clone"), &[], 400),
        case(
            "admin",
            "POST",
            format!("{MS}?op=clone"),
            &[
                ("source", "nosuch"),
                ("destinations", &new),
                ("storage", "true"),
            ],
            400,
        ),
        case(
            "admin",
            "POST",
            format!("{MS}?op=clone"),
            &[
                ("source", &new),
                ("destinations", "zzzzzz"),
                ("interfaces", "yes please"),
            ],
            400,
        ),
        case(
            "admin",
            "POST",
            format!("{MS}?op=clone"),
            &[
                ("source", &new),
                ("destinations", "zzzzzz"),
                ("storage", "true"),
            ],
            400,
        ),
        // unknown ids
        case("admin", "GET", item("nosuch"), &[], 404),
        case("admin", "PUT", item("nosuch"), &[("hostname", "y")], 404),
        case("admin", "DELETE", item("nosuch"), &[], 404),
        case("admin", "POST", m("nosuch", "deploy"), &[], 404),
        case("admin", "GET", m("nosuch", "query_power_state"), &[], 404),
        case("admin", "GET", m("nosuch", "get_token"), &[], 404),
        // invalid transitions: 409 naming the status
        case("admin", "POST", m(&deployed, "commission"), &[], 409),
        case("admin", "POST", m(&new, "deploy"), &[], 409),
        case("admin", "POST", m(&ready, "abort"), &[], 409),
        case("admin", "POST", m(&ready, "mark_fixed"), &[], 409),
        case("admin", "POST", m(&ready, "lock"), &[], 409),
        case("admin", "POST", m(&ready, "unlock"), &[], 409),
        case("admin", "POST", m(&ready, "exit_rescue_mode"), &[], 409),
        case(
            "admin",
            "POST",
            m(&ready, "override_failed_testing"),
            &[],
            409,
        ),
        case("admin", "POST", m(&new, "release"), &[], 409),
        case("admin", "POST", m(&ready, "power_on"), &[], 409),
        case(
            "admin",
            "POST",
            m(&ready, "set_workload_annotations"),
            &[("a", "b")],
            409,
        ),
        case(
            "admin",
            "POST",
            m(&deployed, "rescue_mode"),
            &[("erase", "maybe")],
            400,
        ),
        // bad op / method / params
        case("admin", "POST", m(&ready, "frobnicate"), &[], 400),
        case("admin", "GET", m(&ready, "deploy"), &[], 400),
        case(
            "admin",
            "POST",
            m(&ready, "deploy"),
            &[("user_data", "%%%not base64%%%")],
            400,
        ),
        case(
            "admin",
            "POST",
            m(&ready, "deploy"),
            &[("distro_series", "bad series!")],
            400,
        ),
        case(
            "admin",
            "POST",
            m(&ready, "deploy"),
            &[("install_rackd", "true")],
            400,
        ),
        case(
            "admin",
            "POST",
            m(&deployed, "release"),
            &[("erase", "sometimes")],
            400,
        ),
        case(
            "admin",
            "PUT",
            item(&ready),
            &[("architecture", "vax")],
            400,
        ),
        case("admin", "PUT", item(&ready), &[("zone", "nowhere")], 400),
        case("admin", "PUT", item(&ready), &[("hostname", "new1")], 400),
        case(
            "admin",
            "PUT",
            item(&ready),
            &[("mac_addresses", "bad")],
            400,
        ),
        case(
            "admin",
            "PUT",
            item(&ready),
            &[("mac_addresses", &mac(2))],
            400,
        ),
        case(
            "admin",
            "PUT",
            item(&ready),
            &[("power_type", "telepathy")],
            400,
        ),
        case("admin", "PUT", item(&ready), &[("memory", "big")], 400),
        // permissions
        case("bob", "POST", m(&ready, "commission"), &[], 403),
        case("bob", "POST", m(&ready, "mark_broken"), &[], 403),
        case("bob", "DELETE", item(&ready), &[], 403),
        case("bob", "PUT", item(&ready), &[("cpu_count", "4")], 400),
        case("bob", "GET", item(&deployed), &[], 403),
        case(
            "bob",
            "POST",
            "/MAAS/api/2.0/users/",
            &[("username", "eve"), ("password", "x")],
            403,
        ),
        case("machine", "GET", MS, &[], 403),
        case("machine", "POST", m(&deployed, "release"), &[], 403),
        // users, account
        case(
            "admin",
            "POST",
            "/MAAS/api/2.0/users/",
            &[("username", "bob"), ("password", "x")],
            400,
        ),
        case(
            "admin",
            "POST",
            "/MAAS/api/2.0/users/",
            &[("username", "carol")],
            400,
        ),
        case(
            "admin",
            "POST",
            "/MAAS/api/2.0/users/",
            &[("username", "bad name!"), ("password", "x")],
            400,
        ),
        case("admin", "GET", "/MAAS/api/2.0/users/nobody/", &[], 404),
        case("admin", "DELETE", "/MAAS/api/2.0/users/admin/", &[], 400),
        case(
            "admin",
            "POST",
            "/MAAS/api/2.0/account/?op=delete_authorisation_token",
            &[("token_key", "nope")],
            404,
        ),
        case(
            "admin",
            "POST",
            "/MAAS/api/2.0/account/?op=delete_authorisation_token",
            &[],
            400,
        ),
        case(
            "admin",
            "POST",
            "/MAAS/api/2.0/account/prefs/sshkeys/",
            &[("key", "not a key")],
            400,
        ),
        case(
            "admin",
            "GET",
            "/MAAS/api/2.0/account/prefs/sshkeys/999/",
            &[],
            404,
        ),
        case(
            "anon",
            "POST",
            "/MAAS/accounts/authenticate/",
            &[("username", "admin"), ("password", "wrong")],
            401,
        ),
        // tags, zones, pools
        case(
            "admin",
            "POST",
            "/MAAS/api/2.0/tags/",
            &[("name", "bad tag")],
            400,
        ),
        case(
            "admin",
            "POST",
            "/MAAS/api/2.0/tags/",
            &[("name", "fast")],
            400,
        ),
        case(
            "admin",
            "POST",
            "/MAAS/api/2.0/tags/",
            &[("name", "xp"), ("definition", "//node[")],
            400,
        ),
        case(
            "admin",
            "POST",
            "/MAAS/api/2.0/tags/",
            &[("name", "xp"), ("definition", "nope:node")],
            400,
        ),
        case("admin", "GET", "/MAAS/api/2.0/tags/nosuch/", &[], 404),
        case(
            "admin",
            "POST",
            "/MAAS/api/2.0/tags/fast/?op=update_nodes",
            &[("add", &ready), ("add", "zzzzzz")],
            400,
        ),
        case(
            "bob",
            "POST",
            "/MAAS/api/2.0/tags/",
            &[("name", "bobs")],
            403,
        ),
        case(
            "admin",
            "POST",
            "/MAAS/api/2.0/zones/",
            &[("name", "default")],
            400,
        ),
        case(
            "admin",
            "POST",
            "/MAAS/api/2.0/zones/",
            &[("name", "")],
            400,
        ),
        case("admin", "DELETE", "/MAAS/api/2.0/zones/default/", &[], 400),
        case("admin", "GET", "/MAAS/api/2.0/zones/nowhere/", &[], 404),
        case(
            "admin",
            "POST",
            "/MAAS/api/2.0/resourcepools/",
            &[("name", "default")],
            400,
        ),
        case("admin", "GET", "/MAAS/api/2.0/resourcepool/999/", &[], 404),
        case("admin", "DELETE", "/MAAS/api/2.0/resourcepool/1/", &[], 400),
        // events, config
        case(
            "admin",
            "GET",
            "/MAAS/api/2.0/events/?op=query&level=LOUD",
            &[],
            400,
        ),
        case(
            "admin",
            "GET",
            "/MAAS/api/2.0/events/?op=query&limit=0",
            &[],
            400,
        ),
        case(
            "admin",
            "GET",
            "/MAAS/api/2.0/events/?op=query&limit=ten",
            &[],
            400,
        ),
        case("admin", "GET", "/MAAS/api/2.0/events/", &[], 400),
        case(
            "admin",
            "GET",
            "/MAAS/api/2.0/maas/?op=get_config&name=nonsense",
            &[],
            400,
        ),
        case(
            "admin",
            "POST",
            "/MAAS/api/2.0/maas/?op=set_config",
            &[("name", "node_timeout"), ("value", "soon")],
            400,
        ),
        case(
            "bob",
            "POST",
            "/MAAS/api/2.0/maas/?op=set_config",
            &[("name", "node_timeout"), ("value", "5")],
            403,
        ),
        case("admin", "GET", "/MAAS/api/2.0/nonsense/", &[], 404),
        // metadata
        case(
            "machine",
            "POST",
            "/MAAS/metadata/2012-03-01/?op=signal",
            &[("status", "SLEEPING")],
            400,
        ),
        case(
            "machine",
            "POST",
            "/MAAS/metadata/2012-03-01/?op=signal",
            &[],
            400,
        ),
        case(
            "machine",
            "POST",
            "/MAAS/metadata/2012-03-01/?op=signal",
            &[("status", "OK"), ("exit_status", "zero")],
            400,
        ),
        case(
            "machine",
            "GET",
            "/MAAS/metadata/1999-01-01/meta-data/",
            &[],
            404,
        ),
        case(
            "machine",
            "GET",
            "/MAAS/metadata/latest/meta-data/shoe-size",
            &[],
            404,
        ),
        case(
            "machine",
            "POST",
            format!("/MAAS/metadata/status/{ready}"),
            &[],
            403,
        ),
        case(
            "admin",
            "GET",
            "/MAAS/metadata/latest/meta-data/instance-id",
            &[],
            403,
        ),
        case(
            "anon",
            "GET",
            "/MAAS/metadata/latest/meta-data/instance-id",
            &[],
            401,
        ),
    ];

    let before = snapshot(&s.db).await;
    let mut failures = Vec::new();
    for c in &cases {
        let client: Client = match c.who {
            "admin" => admin.clone(),
            "bob" => bob.clone(),
            "machine" => machine.clone(),
            _ => s.anon(),
        };
        let params: Vec<(&str, &str)> = c.params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = match c.method {
            "GET" => client.get(&c.path).await,
            "DELETE" => client.delete(&c.path).await,
            "PUT" => client.put(&c.path, &params).await,
            _ => client.post(&c.path, &params).await,
        };
        if r.status.as_u16() != c.want || r.body.trim().is_empty() {
            failures.push(format!(
                "{} {} {:?} as {}: want {}, got {} {:?}",
                c.method, c.path, c.params, c.who, c.want, r.status, r.body
            ));
        }
        if c.want == 409
            && c.path.contains("?op=")
            && c.path.contains("/machines/")
            && !c.path.contains("allocate")
        {
            let labels = [
                "Ready",
                "New",
                "Deployed",
                "state",
                "locked",
                "allocated",
                "acquired",
                "commission",
            ];
            if !labels.iter().any(|l| r.body.contains(l)) {
                failures.push(format!(
                    "{} {}: 409 message names no status: {}",
                    c.method, c.path, r.body
                ));
            }
        }
    }
    // Malformed requests at the transport level.
    let raw = reqwest::Client::new();
    let auth = ingot_wire::parse_api_key(&s.key).unwrap();
    let good = ingot_wire::build_oauth_header(
        &auth.consumer_key,
        &auth.token_key,
        &auth.token_secret,
        "1",
        1,
    );
    let weird: Vec<(&str, String, &[u8])> = vec![
        ("multipart/form-data; boundary=xyz", good.clone(), b"--xyz\r\nContent-Disposition: form-data; name=\"hostname\"\r\n\r\nunterminated"),
        ("multipart/form-data; boundary=xyz", good.clone(), b"--xyz\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n!!!!\r\n--xyz--"),
        ("application/x-protobuf", good.clone(), b"\x00\x01"),
        ("application/json", good.clone(), b"[1,2"),
        ("application/x-www-form-urlencoded", good.replace("oauth_timestamp=\"1\"", "oauth_timestamp=\"yesterday\""), b"hostname=x"),
        ("application/x-www-form-urlencoded", "Basic YWRtaW46cHc=".into(), b"hostname=x"),
    ];
    for (ct, auth, body) in weird {
        let r = raw
            .post(format!("{}{MS}", s.base))
            .header("Content-Type", ct)
            .header("Authorization", auth)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let st = r.status();
        let text = r.text().await.unwrap_or_default();
        if !(400..500).contains(&st.as_u16()) || text.is_empty() {
            failures.push(format!("raw POST {ct}: got {st} {text:?}"));
        }
    }
    // Junk values for every boolean/number parameter of every machine op: never a 5xx.
    for op in [
        "commission",
        "test",
        "abort",
        "deploy",
        "release",
        "mark_broken",
        "mark_fixed",
        "rescue_mode",
        "exit_rescue_mode",
        "lock",
        "unlock",
        "power_on",
        "power_off",
        "override_failed_testing",
    ] {
        // (An empty value means "not given", as in MAAS forms, so it is not junk.)
        for junk in ["\u{0}", "ü", "9999999999999999999999", "-1", "yes please"] {
            for sid in [&ready, &deployed, &new] {
                let r = admin
                    .op(
                        sid,
                        op,
                        &[
                            ("erase", junk),
                            ("quick_erase", junk),
                            ("secure_erase", junk),
                            ("user_data", junk),
                            ("distro_series", junk),
                        ],
                    )
                    .await;
                if r.status.is_server_error() {
                    failures.push(format!(
                        "{op} on {sid} with {junk:?}: {} {}",
                        r.status, r.body
                    ));
                }
                if r.status.is_success() {
                    failures.push(format!(
                        "{op} on {sid} with junk {junk:?} succeeded: {}",
                        &r.body[..r.body.len().min(120)]
                    ));
                }
            }
        }
    }
    let after = snapshot(&s.db).await;
    let changed: Vec<_> = after
        .iter()
        .filter(|r| !before.contains(r))
        .chain(before.iter().filter(|r| !after.contains(r)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(changed.is_empty(), "the database changed:\n{changed:#?}");
    assert!(cases.len() > 100);
}

/// What MAAS has and Ingot does not (VM hosts, licence keys, network discovery, VMFS
/// datastores) is answered as MAAS answers with none configured: empty lists, 404 for an id,
/// a 400 that says why for an administrator's create, 403 for a user's.
#[tokio::test]
async fn what_ingot_does_not_have_is_answered_as_maas_with_none() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let bob = s.user("bob").await;
    for path in [
        "vm-hosts/",
        "pods/",
        "virtual-machines/",
        "vm-clusters/",
        "license-keys/",
        "discovery/",
        "discovery/?op=by_unknown_mac",
    ] {
        assert_eq!(
            bob.get(&format!("/MAAS/api/2.0/{path}")).await.ok().json(),
            serde_json::json!([]),
            "{path}"
        );
    }
    for path in [
        "vm-hosts/1/",
        "pods/1/",
        "virtual-machines/1",
        "license-key/windows/win2012",
        "discovery/1/",
    ] {
        c.get(&format!("/MAAS/api/2.0/{path}")).await.expect(404);
    }
    let r = c
        .post("/MAAS/api/2.0/vm-hosts/", &[("type", "lxd")])
        .await
        .expect(400);
    assert!(r.body.contains("no VM hosts"), "{}", r.body);
    bob.post("/MAAS/api/2.0/vm-hosts/", &[("type", "lxd")])
        .await
        .expect(403);
    bob.delete("/MAAS/api/2.0/vm-hosts/1/").await.expect(403);
    c.post("/MAAS/api/2.0/discovery/?op=clear", &[])
        .await
        .expect(204);
    let r = c
        .post("/MAAS/api/2.0/discovery/?op=scan", &[])
        .await
        .expect(400);
    assert!(r.body.contains("network discovery"), "{}", r.body);
    let sid = c
        .create("vmfs1", &common::mac(77), &[("commission", "false")])
        .await["system_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        c.get(&format!("/MAAS/api/2.0/nodes/{sid}/vmfs-datastores/"))
            .await
            .ok()
            .json(),
        serde_json::json!([])
    );
    c.get("/MAAS/api/2.0/nodes/nosuch/vmfs-datastores/")
        .await
        .expect(404);
}
