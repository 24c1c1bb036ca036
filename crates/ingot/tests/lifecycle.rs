//! The machine life-cycle through the real binary, on SQLite and on PostgreSQL.

mod common;
use common::{is_controller, mac, workload_machines, Client, Server};
use serde_json::{json, Value};

async fn full_lifecycle(c: &Client) {
    c.upload_image("ubuntu/jammy", b"a root file system").await;
    // Added by hand: commissioned at once.
    let m = c
        .create("node1", &mac(1), &[("cpu_count", "8"), ("memory", "16384")])
        .await;
    let sid = m["system_id"].as_str().unwrap().to_string();
    assert_eq!(m["status_name"], "Commissioning");
    assert!(
        m["status_deadline"].is_number(),
        "transient status has a deadline: {m}"
    );
    // The machine reports its results and finishes.
    c.commission_ok(&sid).await;
    let m = c.machine(&sid).await;
    assert_eq!(m["status_name"], "Ready");
    assert_eq!(m["owner"], Value::Null);
    assert_eq!(m["commissioning_status"], 2);
    assert!(m["status_deadline"].is_null());

    // Allocate with constraints.
    let r = c
        .post(
            "/MAAS/api/2.0/machines/?op=allocate",
            &[("cpu_count", "16")],
        )
        .await
        .expect(409);
    assert!(r.body.contains("cpu_count=16"), "{}", r.body);
    let a = c
        .post(
            "/MAAS/api/2.0/machines/?op=allocate",
            &[("cpu_count", "4"), ("mem", "8192"), ("arch", "amd64")],
        )
        .await
        .ok()
        .json();
    assert_eq!(a["system_id"], sid.as_str());
    assert_eq!(a["status"], 10);
    assert_eq!(a["owner"], "admin");

    // Deploy; the installed OS reports back.
    let d = c
        .op(
            &sid,
            "deploy",
            &[
                ("distro_series", "jammy"),
                ("user_data", "IyEvYmluL3NoCmVjaG8gaGk="),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(d["status_name"], "Deploying");
    assert_eq!(d["osystem"], "ubuntu");
    let t = c.token(&sid).await;
    let ud = c
        .with_token(&t)
        .get("/MAAS/metadata/latest/user-data")
        .await
        .ok();
    assert_eq!(ud.body, "#!/bin/sh\necho hi");
    let iid = c
        .with_token(&t)
        .get("/MAAS/metadata/latest/meta-data/instance-id")
        .await
        .ok();
    assert_eq!(iid.body, sid);
    c.report_deployed(&sid).await.expect(204);
    let m = c.machine(&sid).await;
    assert_eq!(m["status_name"], "Deployed");
    assert_eq!(m["netboot"], false);
    // The metadata API's vendor-data is what the settings say (not an empty cloud-config).
    c.post(
        "/MAAS/api/2.0/maas/?op=set_config",
        &[("name", "ntp_servers"), ("value", "ntp1.example.com")],
    )
    .await
    .ok();
    let vd = c
        .with_token(&t)
        .get("/MAAS/metadata/latest/meta-data/vendor-data")
        .await
        .ok();
    assert!(vd.body.starts_with("#cloud-config"), "{}", vd.body);
    assert!(vd.body.contains("ntp1.example.com"), "{}", vd.body);
    // Deployed, the machine still reads its user data (MAAS keeps serving it).
    let ud = c
        .with_token(&t)
        .get("/MAAS/metadata/latest/user-data")
        .await
        .ok();
    assert_eq!(ud.body, "#!/bin/sh\necho hi");

    // Lock: everything that changes the machine is refused until unlock.
    c.op(&sid, "lock", &[]).await.ok();
    c.op(&sid, "lock", &[]).await.expect(409);
    c.op(&sid, "release", &[]).await.expect(403);
    c.op(&sid, "unlock", &[]).await.ok();
    c.op(&sid, "unlock", &[]).await.expect(409);

    // Workload annotations.
    let m = c
        .op(
            &sid,
            "set_workload_annotations",
            &[("team", "db"), ("env", "prod")],
        )
        .await
        .ok()
        .json();
    assert_eq!(m["workload_annotations"]["team"], "db");
    let m = c
        .op(&sid, "set_workload_annotations", &[("team", "")])
        .await
        .ok()
        .json();
    assert!(m["workload_annotations"].get("team").is_none());

    // Broken and fixed: a deployed machine comes back deployed.
    let m = c
        .op(&sid, "mark_broken", &[("comment", "fan failure")])
        .await
        .ok()
        .json();
    assert_eq!(m["status_name"], "Broken");
    assert_eq!(m["error_description"], "fan failure");
    let m = c.op(&sid, "mark_fixed", &[]).await.ok().json();
    assert_eq!(m["status_name"], "Deployed");

    // Rescue mode and back (manual power: no power state to wait for).
    let m = c.op(&sid, "rescue_mode", &[]).await.ok().json();
    assert_eq!(m["status_name"], "Entering rescue mode");
    let t = c.token(&sid).await;
    c.with_token(&t)
        .post_multipart("/MAAS/metadata/2012-03-01/?op=signal", &[("status", b"OK")])
        .await
        .ok();
    assert_eq!(c.status(&sid).await, 16);
    let m = c.op(&sid, "exit_rescue_mode", &[]).await.ok().json();
    assert_eq!(m["status_name"], "Deployed");

    // Release: manual power, passing commissioning data → READY, owner cleared.
    let m = c.op(&sid, "release", &[]).await.ok().json();
    assert_eq!(m["status_name"], "Ready");
    assert_eq!(m["owner"], Value::Null);
    assert_eq!(m["osystem"], "");

    // The event log holds every step, each naming where it came from.
    let evs = c.events(&sid).await;
    let descs: Vec<&str> = evs
        .iter()
        .rev()
        .filter_map(|e| e["description"].as_str())
        .filter(|d| d.starts_with("From '"))
        .collect();
    let chain = [
        ("New", "Commissioning"),
        // The default test (smartctl-validate, tagged commissioning) runs after commissioning.
        ("Commissioning", "Testing"),
        ("Testing", "Ready"),
        ("Ready", "Allocated"),
        ("Allocated", "Deploying"),
        ("Deploying", "Deployed"),
        ("Deployed", "Broken"),
        ("Broken", "Deployed"),
        ("Deployed", "Entering rescue mode"),
        ("Entering rescue mode", "Rescue mode"),
        ("Rescue mode", "Exiting rescue mode"),
        ("Exiting rescue mode", "Deployed"),
        ("Deployed", "Releasing"),
        ("Releasing", "Ready"),
    ];
    assert_eq!(descs.len(), chain.len(), "{descs:#?}");
    for (d, (from, to)) in descs.iter().zip(chain) {
        assert!(
            d.starts_with(&format!("From '{from}' to '{to}'")),
            "{d} != {from} -> {to}"
        );
    }
}

#[tokio::test]
async fn full_lifecycle_sqlite() {
    let s = Server::start(&[]).await;
    full_lifecycle(&s.client()).await;
}

#[tokio::test]
async fn full_lifecycle_postgres() {
    let Some(s) = Server::start_pg(&[]).await else {
        return;
    };
    full_lifecycle(&s.client()).await;
}

/// The machine list over more than two pages of 500 (each full page rendered while the next
/// is read): every machine once, in id order, as one JSON array; and a filter the API applies
/// itself (`tags=`) that keeps nothing of the first two pages and three machines of the third.
async fn list_over_pages(c: &Client) {
    const N: u32 = 1_100;
    let mut sids = Vec::new();
    for i in 0..N {
        let m = c
            .create(
                &format!("paged{i}"),
                &mac(7_000 + i),
                &[("commission", "false")],
            )
            .await;
        sids.push(m["system_id"].as_str().unwrap().to_string());
    }
    let all = c.get("/MAAS/api/2.0/machines/").await.ok().json();
    let listed: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["system_id"].as_str())
        .filter(|sid| sids.iter().any(|s| s == sid))
        .collect();
    assert_eq!(listed, sids, "every machine once, in creation (id) order");
    c.post("/MAAS/api/2.0/tags/", &[("name", "late")])
        .await
        .ok();
    let late = &sids[N as usize - 3..];
    for sid in late {
        c.post("/MAAS/api/2.0/tags/late/?op=update_nodes", &[("add", sid)])
            .await
            .ok();
    }
    let tagged = c.get("/MAAS/api/2.0/machines/?tags=late").await.ok().json();
    let got: Vec<&str> = tagged
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {tagged}"))
        .iter()
        .filter_map(|m| m["system_id"].as_str())
        .collect();
    assert_eq!(got, late, "{tagged}");
}

#[tokio::test]
async fn list_over_pages_sqlite() {
    let s = Server::start(&[]).await;
    list_over_pages(&s.client()).await;
}

#[tokio::test]
async fn list_over_pages_postgres() {
    let Some(s) = Server::start_pg(&[]).await else {
        return;
    };
    list_over_pages(&s.client()).await;
}

/// MAAS's settings beyond Ingot's first ones round-trip through `maas/?op=set_config` and
/// `get_config` with MAAS's JSON types; a bad value is a 400 naming the field.
#[tokio::test]
async fn settings_round_trip_over_http() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let get = |name: &'static str| {
        let c = &c;
        async move {
            c.get(&format!("/MAAS/api/2.0/maas/?op=get_config&name={name}"))
                .await
                .ok()
                .json()
        }
    };
    // Defaults as MAAS answers them.
    assert_eq!(get("ntp_external_only").await, json!(false));
    assert_eq!(get("maas_proxy_port").await, json!(8000));
    assert_eq!(get("windows_kms_host").await, Value::Null);
    assert_eq!(get("ntp_server").await, json!("ntp.ubuntu.com"));
    // (name, value sent, value read back)
    for (name, value, want) in [
        ("ntp_external_only", "true", json!(true)),
        ("maas_proxy_port", "3128", json!(3128)),
        ("dnssec_validation", "no", json!("no")),
        ("upstream_dns", "8.8.8.8,1.1.1.1", json!("8.8.8.8 1.1.1.1")),
        ("remote_syslog", "logs.example", json!("logs.example:514")),
        (
            "maas_auto_ipmi_workaround_flags",
            "opensesspriv idzero",
            json!(["opensesspriv", "idzero"]),
        ),
        ("windows_kms_host", "kms.example", json!("kms.example")),
    ] {
        c.post(
            "/MAAS/api/2.0/maas/?op=set_config",
            &[("name", name), ("value", value)],
        )
        .await
        .ok();
        assert_eq!(get(name).await, want, "{name}={value}");
    }
    for (name, value, why) in [
        ("maas_proxy_port", "5240", "reserved for MAAS services"),
        ("session_length", "5", "from 10 to 1209600"),
        ("hardware_sync_interval", "soon", "not a valid interval"),
    ] {
        let r = c
            .post(
                "/MAAS/api/2.0/maas/?op=set_config",
                &[("name", name), ("value", value)],
            )
            .await
            .expect(400);
        let body = r.json();
        let msg = body["value"][0].as_str().unwrap_or_default();
        assert!(msg.contains(why), "{name}={value}: {body}");
    }
    assert_eq!(get("maas_proxy_port").await, json!(3128), "unchanged");
    let r = c
        .post(
            "/MAAS/api/2.0/maas/?op=set_config",
            &[("name", "no_such_setting"), ("value", "1")],
        )
        .await
        .expect(400);
    assert!(r.json()["name"][0].is_string(), "{}", r.body);
}

#[tokio::test]
async fn seeds_release_rule_new_vs_ready() {
    let s = Server::start(&[]).await;
    let c = s.client();
    // A machine added as deployed has no hardware information: releasing it lands in NEW.
    let m = c
        .post(
            "/MAAS/api/2.0/machines/",
            &[("hostname", "brown"), ("deployed", "true")],
        )
        .await
        .ok()
        .json();
    let sid = m["system_id"].as_str().unwrap().to_string();
    assert_eq!(m["status_name"], "Deployed");
    assert_eq!(m["owner"], "admin");
    assert!(
        c.token(&sid).await.is_object(),
        "deployed machines get credentials"
    );
    let m = c.op(&sid, "release", &[]).await.ok().json();
    assert_eq!(m["status_name"], "New");
    // A commissioned machine releases to READY (full_lifecycle covers it); a failed
    // commissioning leaves it without passing data.
    let m = c.create("n2", &mac(2), &[]).await;
    let sid = m["system_id"].as_str().unwrap().to_string();
    let t = c.token(&sid).await;
    c.with_token(&t)
        .post_multipart(
            "/MAAS/metadata/2012-03-01/?op=signal",
            &[("status", b"FAILED"), ("error", b"disk on fire")],
        )
        .await
        .ok();
    let m = c.machine(&sid).await;
    assert_eq!(m["status_name"], "Failed commissioning");
    assert_eq!(m["error_description"], "disk on fire");
    c.op(&sid, "mark_broken", &[]).await.ok();
    // Broken without commissioning data cannot be marked fixed: commission it.
    let r = c.op(&sid, "mark_fixed", &[]).await.expect(409);
    assert!(r.body.contains("commission"), "{}", r.body);
}

#[tokio::test]
async fn deadlines_fail_stuck_machines_with_a_reason() {
    let s = Server::start(&["--node-timeout-secs", "2", "--reap-interval", "1"]).await;
    let c = s.client();
    c.upload_image("custom/test-os", b"a root file system")
        .await;
    let m = c.create("slow", &mac(3), &[]).await;
    let sid = m["system_id"].as_str().unwrap().to_string();
    let t = c.token(&sid).await;
    // Heartbeats keep it alive past the original deadline.
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(900)).await;
        c.with_token(&t)
            .post_multipart(
                "/MAAS/metadata/2012-03-01/?op=signal",
                &[("status", b"WORKING"), ("name", b"maas-lshw")],
            )
            .await
            .ok();
    }
    assert_eq!(c.status(&sid).await, 1, "heartbeats extend the deadline");
    // Then silence: it fails, and the reason says what was last heard.
    let mut m = Value::Null;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        m = c.machine(&sid).await;
        if m["status"] == 2 {
            break;
        }
    }
    assert_eq!(m["status_name"], "Failed commissioning", "{m}");
    let why = m["error_description"].as_str().unwrap();
    assert!(
        why.contains("Timed out") && why.contains("maas-lshw"),
        "{why}"
    );
    // A deploy that never reports back fails too.
    let sid2 = c.ready_machine("slow2", &mac(4), &[]).await;
    c.op(&sid2, "deploy", &[]).await.ok();
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let m = c.machine(&sid2).await;
    assert_eq!(m["status_name"], "Failed deployment", "{m}");
    assert!(
        m["error_description"]
            .as_str()
            .unwrap()
            .contains("nothing heard"),
        "{m}"
    );
}

#[tokio::test]
async fn permissions_and_credentials() {
    let s = Server::start(&[]).await;
    let admin = s.client();
    admin
        .upload_image("custom/test-os", b"a root file system")
        .await;
    let sid = admin.ready_machine("shared", &mac(5), &[]).await;
    admin
        .post(
            "/MAAS/api/2.0/users/",
            &[("username", "bob"), ("password", "pw"), ("email", "b@x")],
        )
        .await
        .ok();
    let k = s
        .anon()
        .post(
            "/MAAS/accounts/authenticate/",
            &[
                ("username", "bob"),
                ("password", "pw"),
                ("consumer", "test"),
            ],
        )
        .await
        .ok()
        .json();
    let bob = admin.with_token(&k);
    assert_eq!(
        bob.get("/MAAS/api/2.0/users/?op=whoami").await.ok().json()["username"],
        "bob"
    );
    s.anon()
        .post(
            "/MAAS/accounts/authenticate/",
            &[("username", "bob"), ("password", "nope")],
        )
        .await
        .expect(401);
    // Bob sees the unowned machine but may not commission it.
    assert_eq!(
        bob.get("/MAAS/api/2.0/machines/")
            .await
            .ok()
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    bob.op(&sid, "commission", &[]).await.expect(403);
    // Bob allocates it; now only he (and admins) see it.
    bob.post("/MAAS/api/2.0/machines/?op=allocate", &[])
        .await
        .ok();
    let other = admin.ready_machine("other", &mac(6), &[]).await;
    admin
        .post(
            "/MAAS/api/2.0/machines/?op=allocate",
            &[("system_id", &other)],
        )
        .await
        .ok();
    bob.get(&format!("/MAAS/api/2.0/machines/{other}/"))
        .await
        .expect(403);
    bob.op(&other, "release", &[]).await.expect(403);
    bob.get(&format!("/MAAS/api/2.0/machines/{other}/?op=get_token"))
        .await
        .expect(403);
    assert_eq!(
        bob.get("/MAAS/api/2.0/machines/")
            .await
            .ok()
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Machine credentials open the metadata API only.
    bob.op(&sid, "deploy", &[]).await.ok();
    let t = bob.token(&sid).await;
    let mc = admin.with_token(&t);
    mc.get("/MAAS/api/2.0/machines/").await.expect(403);
    mc.get("/MAAS/metadata/latest/meta-data/local-hostname")
        .await
        .ok();
    // A user's key cannot speak for a machine.
    bob.get("/MAAS/metadata/latest/meta-data/instance-id")
        .await
        .expect(403);
    // Another machine's token cannot post its status.
    // (The owner fetches the credentials the machine reports with.)
    bob.report_deployed(&sid).await.expect(204);
    let t2 = admin.token(&other).await;
    assert!(
        t2.is_null(),
        "allocation changed the owner, so no token until it needs one: {t2}"
    );
    // Regenerated credentials replace the old ones at once.
    let new = bob
        .post(
            &format!("/MAAS/api/2.0/machines/{sid}/?op=regenerate_token"),
            &[],
        )
        .await
        .ok()
        .json();
    mc.get("/MAAS/metadata/latest/meta-data/instance-id")
        .await
        .expect(401);
    admin
        .with_token(&new)
        .get("/MAAS/metadata/latest/meta-data/instance-id")
        .await
        .ok();
    // Wrong secret: 401.
    let mut bad = admin.clone();
    if let Some(k) = bad.key.as_mut() {
        k.2 = "wrong".into();
    }
    bad.get("/MAAS/api/2.0/machines/").await.expect(401);
    s.anon().get("/MAAS/api/2.0/machines/").await.expect(401);
    // A user who still owns machines cannot be deleted; once they are released, they can.
    let r = admin.delete("/MAAS/api/2.0/users/bob/").await.expect(409);
    assert!(r.body.contains("owns 1 machine"), "{}", r.body);
    admin.op(&sid, "release", &[]).await.ok();
    admin.delete("/MAAS/api/2.0/users/bob/").await.expect(204);
    admin.get("/MAAS/api/2.0/users/bob/").await.expect(404);
}

/// Anonymous enlistment (what the agent does on a stranger's first network boot): the
/// machine runs the built-in commissioning scripts at once with the credentials in the answer
/// (user scripts are not run), ends in NEW with its hardware, and an administrator's later
/// commission ends in READY. Enlisting again matches the same machine.
#[tokio::test]
async fn anonymous_enlistment_does_not_duplicate() {
    let s = Server::start(&[]).await;
    let anon = s.anon();
    let c = s.client();
    c.post_multipart(
        "/MAAS/api/2.0/scripts/",
        &[("script", b"#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: 99-user-inventory\n# script_type: commissioning\n# --- End MAAS 1.0 script metadata ---\ntrue\n")],
    )
    .await
    .ok();
    let p = [
        ("architecture", "amd64"),
        ("mac_addresses", "52:54:00:12:34:56"),
        ("commission", "true"),
        ("hardware_uuid", "8c4f1a5e-2c8b-4a7e-9d3c-2b1a0f9e8d7c"),
    ];
    let a = anon.post("/MAAS/api/2.0/machines/", &p).await.ok().json();
    assert_eq!(a["status_name"], "Commissioning", "{a}");
    assert!(
        a.get("owner").is_none(),
        "anonymous answers carry the reduced field set"
    );
    let sid = a["system_id"].as_str().unwrap().to_string();
    let t = c.token(&sid).await;
    let creds = format!(
        "{}:{}:{}",
        t["consumer_key"].as_str().unwrap(),
        t["token_key"].as_str().unwrap(),
        t["token_secret"].as_str().unwrap()
    );
    assert_eq!(a["enlistment_token"], creds.as_str(), "{a}");
    let idx = c
        .with_token(&t)
        .get("/MAAS/metadata/2012-03-01/maas-scripts/")
        .await
        .ok()
        .json();
    let names: Vec<&str> = idx["commissioning_scripts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(names.contains(&"50-maas-01-commissioning"), "{names:?}");
    assert!(
        !names.contains(&"99-user-inventory"),
        "built-ins only: {names:?}"
    );
    assert_eq!(idx["testing_scripts"].as_array().map(Vec::len), Some(0));
    let b = anon.post("/MAAS/api/2.0/machines/", &p).await.ok().json();
    assert_eq!(a["system_id"], b["system_id"]);
    assert!(b.get("enlistment_token").is_none(), "{b}");
    let all = s.client().get("/MAAS/api/2.0/machines/").await.ok().json();
    let all = workload_machines(&all);
    assert_eq!(all.len(), 1);
    assert_eq!(
        all[0]["hardware_uuid"],
        "8c4f1a5e-2c8b-4a7e-9d3c-2b1a0f9e8d7c"
    );
    let r = anon
        .post(
            "/MAAS/api/2.0/machines/",
            &[("mac_addresses", "52:54:00:12:34:57")],
        )
        .await
        .expect(400);
    assert!(r.json()["architecture"].is_array(), "{}", r.body);
    assert_eq!(
        anon.get("/MAAS/api/2.0/machines/?op=is_registered&mac_address=52-54-00-12-34-56")
            .await
            .ok()
            .body,
        "true"
    );
    // The enlistment's scripts report: NEW, with the hardware they found.
    c.commission_ok(&sid).await;
    let m = c.machine(&sid).await;
    assert_eq!(m["status_name"], "New", "{m:#}");
    assert_eq!(m["commissioning_status_name"], "Passed", "{m:#}");
    assert!(
        !m["physicalblockdevice_set"].as_array().unwrap().is_empty(),
        "{m:#}"
    );
    // The administrator gives it a BMC and commissions it: READY, not NEW.
    c.put(
        &format!("/MAAS/api/2.0/machines/{sid}/"),
        &[("power_type", "manual")],
    )
    .await
    .ok();
    let m = c.op(&sid, "commission", &[]).await.ok().json();
    assert_eq!(m["status_name"], "Commissioning");
    c.commission_ok(&sid).await;
    assert_eq!(c.machine(&sid).await["status_name"], "Ready");

    // An enlistment that never reports (the machine died during it): the administrator
    // aborts it (NEW) and commissions the machine, which then ends in READY — the
    // commission is not taken for the end of that enlistment.
    let q = [
        ("architecture", "amd64"),
        ("mac_addresses", "52:54:00:12:34:58"),
        ("commission", "true"),
    ];
    let a = anon.post("/MAAS/api/2.0/machines/", &q).await.ok().json();
    assert_eq!(a["status_name"], "Commissioning", "{a}");
    let sid = a["system_id"].as_str().unwrap().to_string();
    c.put(
        &format!("/MAAS/api/2.0/machines/{sid}/"),
        &[("power_type", "manual")],
    )
    .await
    .ok();
    let m = c.op(&sid, "abort", &[]).await.ok().json();
    assert_eq!(m["status_name"], "New", "{m}");
    c.op(&sid, "commission", &[]).await.ok();
    c.commission_ok(&sid).await;
    assert_eq!(c.machine(&sid).await["status_name"], "Ready");
}

#[tokio::test]
async fn abort_and_testing_flows() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let m = c.create("ab", &mac(7), &[]).await;
    let sid = m["system_id"].as_str().unwrap().to_string();
    let m = c.op(&sid, "abort", &[]).await.ok().json();
    assert_eq!(m["status_name"], "New");
    c.op(&sid, "abort", &[]).await.expect(409);
    c.op(&sid, "commission", &[]).await.ok();
    c.commission_ok(&sid).await;
    let m = c.op(&sid, "test", &[]).await.ok().json();
    assert_eq!(m["status_name"], "Testing");
    let t = c.token(&sid).await;
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
    assert_eq!(c.status(&sid).await, 22);
    let m = c.op(&sid, "override_failed_testing", &[]).await.ok().json();
    assert_eq!(m["status_name"], "Ready");
    // Update: hostname, MACs and cpu_count together.
    let m = c
        .put(
            &format!("/MAAS/api/2.0/machines/{sid}/"),
            &[
                ("hostname", "ab2"),
                ("mac_addresses", "52:54:00:ee:00:01"),
                ("mac_addresses", "52:54:00:ee:00:02"),
                ("cpu_count", "12"),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(m["hostname"], "ab2");
    assert_eq!(m["cpu_count"], 12);
    let macs: Vec<&str> = m["interface_set"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["mac_address"].as_str())
        .collect();
    assert_eq!(macs, ["52:54:00:ee:00:01", "52:54:00:ee:00:02"]);
    // Bulk release: unknown ids are named, nothing changes.
    let r = c
        .post(
            "/MAAS/api/2.0/machines/?op=release",
            &[("machines", &sid), ("machines", "nope99")],
        )
        .await
        .expect(400);
    assert!(r.body.contains("nope99"));
}

#[tokio::test]
async fn events_are_paged_and_filtered() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let a = c.ready_machine("ev1", &mac(11), &[]).await;
    let b = c.ready_machine("ev2", &mac(12), &[]).await;
    let all_a = c.events(&a).await;
    assert!(all_a.len() >= 3, "{all_a:?}");
    assert!(all_a.iter().all(|e| e["node"] == a.as_str()));
    // Page through everything two at a time, newest first, following next_uri.
    let mut seen = Vec::new();
    let mut url = "/MAAS/api/2.0/events/?op=query&limit=2&level=DEBUG".to_string();
    for _ in 0..100 {
        let page = c.get(&url).await.ok().json();
        let evs = page["events"].as_array().cloned().unwrap_or_default();
        if evs.is_empty() {
            break;
        }
        assert!(evs.len() <= 2);
        seen.extend(evs.iter().map(|e| e["id"].as_i64().unwrap()));
        let next = page["next_uri"].as_str().unwrap().to_string();
        url = next.trim_start_matches(&s.base).to_string();
    }
    let mut sorted = seen.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    sorted.dedup();
    assert_eq!(seen, sorted, "pages are newest first, without repeats");
    // The region's own machine (controllers are machines) has its events too.
    let list = c.get("/MAAS/api/2.0/machines/").await.ok().json();
    let mut total = c.events(&a).await.len() + c.events(&b).await.len();
    for m in list.as_array().unwrap().iter().filter(|m| is_controller(m)) {
        total += c.events(m["system_id"].as_str().unwrap()).await.len();
    }
    assert_eq!(seen.len(), total);
    // Level filter: ERROR only shows errors (none yet).
    let errs = c
        .get(&format!(
            "/MAAS/api/2.0/events/?op=query&id={a}&level=ERROR"
        ))
        .await
        .ok()
        .json();
    assert_eq!(errs["count"], 0);
    // Filter by hostname.
    let by_host = c
        .get("/MAAS/api/2.0/events/?op=query&hostname=ev2&level=DEBUG")
        .await
        .ok()
        .json();
    assert!(by_host["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["hostname"] == "ev2"));
}

/// Admission control: with `max_concurrent_deployments` = 1 the second and third deployments
/// wait in a visible queue (no deadline running), the next one starts when the first finishes,
/// a queued one can be aborted, and raising the limit admits the rest at once.
#[tokio::test]
async fn deployments_wait_for_a_slot() {
    let s = Server::start(&["--reap-interval", "1"]).await;
    let c = s.client();
    c.upload_image("custom/test-os", b"a root file system")
        .await;
    c.post(
        "/MAAS/api/2.0/maas/?op=set_config",
        &[("name", "max_concurrent_deployments"), ("value", "-1")],
    )
    .await
    .expect(400);
    c.post(
        "/MAAS/api/2.0/maas/?op=set_config",
        &[("name", "max_concurrent_deployments"), ("value", "1")],
    )
    .await
    .ok();
    let got = c
        .get("/MAAS/api/2.0/maas/?op=get_config&name=max_concurrent_deployments")
        .await
        .ok()
        .json();
    assert_eq!(got, 1);
    let mut sids = Vec::new();
    for i in 0..4 {
        let sid = c.ready_machine(&format!("q{i}"), &mac(300 + i), &[]).await;
        c.post(
            "/MAAS/api/2.0/machines/?op=allocate",
            &[("system_id", &sid)],
        )
        .await
        .ok();
        let m = c.op(&sid, "deploy", &[]).await.ok().json();
        assert_eq!(m["status_name"], "Deploying");
        sids.push(sid);
    }
    let queued = |m: &Value| m["deploy_queued_since"].is_string();
    let m0 = c.machine(&sids[0]).await;
    assert!(!queued(&m0) && m0["status_deadline"].is_number(), "{m0:#}");
    for sid in &sids[1..] {
        let m = c.machine(sid).await;
        assert!(queued(&m), "{m:#}");
        assert_eq!(m["status_message"], "Waiting for a deployment slot");
        assert!(m["status_deadline"].is_null(), "no deadline while queued");
    }
    // The first finishes: the second (first queued) is admitted, the others still wait.
    c.report_deployed(&sids[0]).await.ok();
    let m1 = c
        .wait_machine(&sids[1], "admitted", |m| {
            !m["deploy_queued_since"].is_string()
        })
        .await;
    assert!(m1["status_deadline"].is_number());
    assert!(queued(&c.machine(&sids[2]).await));
    let evs = c.events(&sids[1]).await;
    assert!(
        evs.iter().any(|e| e["type"] == "Deployment admitted"),
        "{evs:#?}"
    );
    // A queued deployment can be aborted: back to Allocated, out of the queue.
    let m2 = c.op(&sids[2], "abort", &[]).await.ok().json();
    assert_eq!(m2["status_name"], "Allocated");
    assert!(!queued(&m2));
    // Raising the limit admits the rest at once.
    c.post(
        "/MAAS/api/2.0/maas/?op=set_config",
        &[("name", "max_concurrent_deployments"), ("value", "5")],
    )
    .await
    .ok();
    assert!(!queued(&c.machine(&sids[3]).await));
}

/// The admission limit holds per rack: the rack that reported a machine's network-boot hops
/// serves it, and each rack deploys at most `max_concurrent_deployments` at once.
#[tokio::test]
async fn deployment_slots_are_per_rack() {
    per_rack(Server::start(&["--reap-interval", "1"]).await).await;
}

#[tokio::test]
async fn deployment_slots_are_per_rack_postgres() {
    if let Some(s) = Server::start_pg(&["--reap-interval", "1"]).await {
        per_rack(s).await;
    }
}

async fn per_rack(s: Server) {
    let c = s.client();
    c.upload_image("custom/ingot-test", b"an image").await;
    let secret = std::fs::read_to_string(s.dir.path().join("rack.secret")).unwrap();
    c.post(
        "/MAAS/api/2.0/maas/?op=set_config",
        &[("name", "max_concurrent_deployments"), ("value", "1")],
    )
    .await
    .ok();
    let mut sids = Vec::new();
    for i in 0..4 {
        let m = mac(320 + i);
        let sid = c.ready_machine(&format!("r{i}"), &m, &[]).await;
        // r0, r1 boot through rack-a; r2, r3 through rack-b.
        let rack = if i < 2 { "rack-a" } else { "rack-b" };
        let r = reqwest::Client::new()
            .post(format!("{}/MAAS/rack/events?name={rack}", s.base))
            .bearer_auth(secret.trim())
            .json(&serde_json::json!([{"mac": m, "hop": "dhcp-ack", "detail": "10.0.0.9"}]))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        c.post(
            "/MAAS/api/2.0/machines/?op=allocate",
            &[("system_id", &sid)],
        )
        .await
        .ok();
        sids.push(sid);
    }
    for sid in &sids {
        c.op(sid, "deploy", &[]).await.ok();
    }
    let queued = |m: &Value| m["deploy_queued_since"].is_string();
    let state: Vec<bool> = futures::future::join_all(sids.iter().map(|s| c.machine(s)))
        .await
        .iter()
        .map(queued)
        .collect();
    assert_eq!(
        state,
        vec![false, true, false, true],
        "one deployment per rack at a time"
    );
    let evs = c.events(&sids[2]).await;
    assert!(
        evs.iter().any(|e| e["description"]
            .as_str()
            .unwrap_or("")
            .contains("on rack rack-b")),
        "{evs:#?}"
    );
    // rack-a's deployment finishing admits rack-a's next, not rack-b's.
    c.report_deployed(&sids[0]).await.ok();
    c.wait_machine(&sids[1], "admitted", |m| {
        !m["deploy_queued_since"].is_string()
    })
    .await;
    assert!(queued(&c.machine(&sids[3]).await));
}

/// MAAS's `…/op-<name>/` URL form reaches the same operations as `?op=<name>`; a name that
/// only starts with `op-` is still a name.
#[tokio::test]
async fn operations_in_the_url_path() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let sid = c.ready_machine("opnode", &mac(7), &[]).await;
    let a = c
        .post("/MAAS/api/2.0/machines/op-allocate/", &[("arch", "amd64")])
        .await
        .ok()
        .json();
    assert_eq!(a["system_id"], sid.as_str());
    assert_eq!(a["status_name"], "Allocated");
    let mine = c
        .get("/MAAS/api/2.0/machines/op-list_allocated/")
        .await
        .ok()
        .json();
    assert!(
        mine.as_array()
            .unwrap()
            .iter()
            .any(|m| m["system_id"] == sid.as_str()),
        "{mine}"
    );
    let m = c
        .post(&format!("/MAAS/api/2.0/machines/{sid}/op-release"), &[])
        .await
        .ok()
        .json();
    assert_eq!(m["status_name"], "Ready");
    let t = c
        .get("/MAAS/api/2.0/maas/op-get_config/?name=node_timeout")
        .await
        .ok()
        .json();
    assert_eq!(t, 30);
    // Not an operation of machines/: a machine of that name, which does not exist.
    let r = c.get("/MAAS/api/2.0/machines/op-nonsense/").await;
    assert_eq!(r.status, 404, "a machine called op-nonsense: {}", r.body);
    // A tag may be called op-night.
    c.post("/MAAS/api/2.0/tags/", &[("name", "op-night")])
        .await
        .ok();
    let t = c.get("/MAAS/api/2.0/tags/op-night/").await.ok().json();
    assert_eq!(t["name"], "op-night");
}
