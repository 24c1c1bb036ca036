//! Authorization over the whole API: anonymous, a user, the owner of a machine, an
//! administrator, the machine's own credentials and its regenerated (old) credentials, against
//! every handler and action the `describe/` document lists, plus the metadata API.
//!
//! Every call is classified; the rules checked for every one of them:
//! * nothing ever answers 5xx;
//! * anonymous callers get 401 everywhere but the few anonymous actions (listed with why);
//! * machine credentials — current or old — get 401/403 on every API action, anonymous ones
//!   included; old ones also on the metadata API, current ones only on their own machine;
//! * a user who does not own the machine gets 403/404 for every action on it, and 403 for every
//!   administrator-only action; the owner may read and regenerate the machine's credentials,
//!   an administrator who is not the owner may not (the seed).
//!
//! Writes are only sent where they must be refused, so the matrix has no side effects.

mod common;

use std::collections::BTreeMap;

use common::{Client, Resp, Server};
use serde_json::Value;

/// One action of one handler.
#[derive(Debug, Clone)]
struct Call {
    handler: String,
    path: String,
    method: String,
    op: Option<String>,
}

impl Call {
    fn url(&self) -> String {
        match &self.op {
            Some(op) => format!("{}?op={op}", self.path),
            None => self.path.clone(),
        }
    }
    fn label(&self) -> String {
        format!("{} {} ({})", self.method, self.url(), self.handler)
    }
    fn is_read(&self) -> bool {
        self.method == "GET"
    }
    fn on_the_machine(&self) -> bool {
        // A controller's power and hardware ops act on the machine it runs on.
        let controller_host_op = matches!(
            self.handler.as_str(),
            "RackControllerHandler" | "RegionControllerHandler"
        ) && self.op.is_some()
            && self.op.as_deref() != Some("list_boot_images");
        self.handler == "MachineHandler"
            || controller_host_op
            || (self.path.contains("/nodes/") && !self.path.ends_with("/nodes/"))
    }
}

/// Anonymous actions, as in MAAS: the version, and what the ephemeral environment does
/// before it has credentials (ask whether its MAC is known, create its machine).
fn anonymous_allowed(c: &Call) -> bool {
    matches!(
        (c.handler.as_str(), c.method.as_str(), c.op.as_deref()),
        ("VersionHandler", "GET", None)
            | ("MachinesHandler", "POST", None)
            | ("MachinesHandler", "GET", Some("is_registered"))
            | ("FilesHandler", "GET", Some("get_by_key"))
            | (_, "GET", Some("is_action_in_progress"))
    )
}

/// Administrator-only actions of handlers that are not about one machine: every write to the
/// region's shared objects, and a few reads. A user may write only their own account's keys
/// and act on the machines collection (allocate, release what they own, ...).
fn admin_only(c: &Call) -> bool {
    if c.on_the_machine() {
        return false;
    }
    // As MAAS: users manage their own keys, act on machines, and reserve addresses.
    let user_writes = matches!(
        c.handler.as_str(),
        "AccountHandler"
            | "SSHKeysHandler"
            | "SSHKeyHandler"
            | "MachinesHandler"
            | "IPAddressesHandler"
            | "FilesHandler"
            | "FileHandler"
            | "DevicesHandler"
            | "DeviceHandler"
    );
    if !c.is_read() {
        return !user_writes;
    }
    // Power secrets of every machine, every machine's boot timeline, and the boot sources
    // (with their keyrings), as in MAAS.
    matches!(
        (c.handler.as_str(), c.op.as_deref()),
        ("MachinesHandler", Some("power_parameters")) | ("NetbootTimelineHandler", None)
    ) || c.handler.starts_with("BootSource")
}

async fn send(client: &Client, c: &Call) -> Resp {
    let url = c.url();
    match c.method.as_str() {
        "GET" => client.get(&url).await,
        "DELETE" => client.delete(&url).await,
        "PUT" => client.put(&url, &[]).await,
        _ => client.post(&url, &[]).await,
    }
}

/// Every action of every authenticated handler of the describe document, with the URI's
/// parameters filled in: the machine's id for `system_id`, existing or harmless ids elsewhere.
fn calls(describe: &Value, subst: &BTreeMap<&str, String>) -> Vec<Call> {
    let mut out = Vec::new();
    for h in describe["resources"].as_array().unwrap() {
        let auth = &h["auth"];
        let mut path = auth["path"].as_str().unwrap().to_string();
        // The default fabric is id 0 (as in MAAS).
        if h["name"] == "FabricHandler" {
            path = path.replace("{id}", "0");
        }
        for (k, v) in subst {
            path = path.replace(&format!("{{{k}}}"), v);
        }
        assert!(!path.contains('{'), "unfilled parameter in {path}");
        for a in auth["actions"].as_array().unwrap() {
            out.push(Call {
                handler: h["name"].as_str().unwrap().to_string(),
                path: path.clone(),
                method: a["method"].as_str().unwrap().to_string(),
                op: a["op"].as_str().map(String::from),
            });
        }
    }
    out
}

#[tokio::test]
async fn every_endpoint_for_every_kind_of_caller() {
    let server = Server::start(&[]).await;
    let admin = server.client();
    let anon = server.anon();
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;

    // Alice owns a commissioned machine; bob owns nothing.
    let sid = admin.ready_machine("owned", &common::mac(1), &[]).await;
    let got = alice
        .post(
            "/MAAS/api/2.0/machines/?op=allocate",
            &[("system_id", sid.as_str())],
        )
        .await
        .ok()
        .json();
    assert_eq!(got["system_id"], sid.as_str());
    let old = alice.token(&sid).await;
    let fresh = alice.op(&sid, "regenerate_token", &[]).await.ok().json();
    assert_ne!(old["token_key"], fresh["token_key"]);
    let machine = admin.with_token(&fresh);
    let machine_old = admin.with_token(&old);
    // Another machine, for "the credentials of one machine do not reach another".
    let other = admin.ready_machine("other", &common::mac(2), &[]).await;

    // Real objects behind the URIs' ids, so that refusals are about permission, not absence:
    // a tag named like the default zone, a subnet (fabric 1, its untagged VLAN), an IP range,
    // a boot resource.
    admin
        .post("/MAAS/api/2.0/tags/", &[("name", "default")])
        .await
        .ok();
    admin
        .post("/MAAS/api/2.0/spaces/", &[("name", "authz-space")])
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
                ("type", "reserved"),
                ("start_ip", "10.55.0.100"),
                ("end_ip", "10.55.0.200"),
            ],
        )
        .await
        .ok();
    admin
        .upload_image("custom/authz", b"not really a tarball")
        .await;
    // A boot source (nothing listens there: an import fails at once) with a selection.
    admin
        .post(
            "/MAAS/api/2.0/boot-sources/",
            &[("url", "http://127.0.0.1:9/mirror/")],
        )
        .await
        .expect(201);
    admin
        .post(
            "/MAAS/api/2.0/boot-sources/1/selections/",
            &[("os", "ubuntu"), ("release", "jammy")],
        )
        .await
        .expect(201);
    let describe = anon.get("/MAAS/api/2.0/describe/").await.ok().json();
    let subst: BTreeMap<&str, String> = [
        ("system_id", sid.clone()),
        ("username", "bob".to_string()),
        ("id", "1".to_string()),
        ("name", "default".to_string()),
        ("fabric_id", "0".to_string()),
        ("vid", "0".to_string()),
        ("device_id", "1".to_string()),
        ("boot_source_id", "1".to_string()),
        ("file_id", "1".to_string()),
        ("filename", "nofile".to_string()),
        ("osystem", "windows".to_string()),
        ("distro_series", "win2012".to_string()),
        ("discovery_id", "1".to_string()),
    ]
    .into_iter()
    .collect();
    let all = calls(&describe, &subst);
    assert!(all.len() > 100, "only {} actions in describe", all.len());

    let mut failures = Vec::new();
    let mut check = |who: &str, c: &Call, r: &Resp, ok: bool, want: &str| {
        // A described action always reaches its handler: the router serves exactly what
        // describe/ lists, and no handler refuses one of its own actions as unknown.
        let unserved = r.body.contains("Unrecognised signature");
        if r.status.is_server_error() || !ok || unserved {
            failures.push(format!(
                "{who}: {} → {} {:.160} (want {want})",
                c.label(),
                r.status,
                r.body
            ));
        }
    };
    for c in &all {
        // Anonymous.
        let r = send(&anon, c).await;
        let code = r.status.as_u16();
        if anonymous_allowed(c) {
            check("anonymous", c, &r, code != 401 && code != 403, "allowed");
        } else {
            check("anonymous", c, &r, code == 401, "401");
        }
        // Machine credentials, current and regenerated: nothing on the API. Credentials that
        // no longer verify read `version/` as anonymous callers do (MAAS; Juju's client reads
        // it before it checks its key with whoami).
        for (who, client) in [
            ("machine", &machine),
            ("old machine credentials", &machine_old),
        ] {
            let r = send(client, c).await;
            if who != "machine" && c.handler == "VersionHandler" {
                check(who, c, &r, r.status.as_u16() == 200, "200");
                continue;
            }
            check(
                who,
                c,
                &r,
                matches!(r.status.as_u16(), 401 | 403),
                "401/403",
            );
        }
        // A user who does not own the machine.
        if c.on_the_machine() {
            // Reading a machine bob cannot see is a 404; anything else is refused.
            let r = send(&bob, c).await;
            check(
                "non-owner",
                c,
                &r,
                matches!(r.status.as_u16(), 403 | 404),
                "403/404",
            );
        } else if admin_only(c) {
            let r = send(&bob, c).await;
            check("user", c, &r, r.status.as_u16() == 403, "403");
        } else if c.is_read() {
            let r = send(&bob, c).await;
            check(
                "user",
                c,
                &r,
                !matches!(r.status.as_u16(), 401 | 403),
                "allowed",
            );
        }
        // The owner and an administrator read everything about the machine (but its
        // credentials, which only the owner reads).
        if c.is_read() {
            let creds = c.op.as_deref() == Some("get_token");
            let secrets = c.op.as_deref() == Some("power_parameters");
            for (who, client, applies, allowed) in [
                ("owner", &alice, c.on_the_machine(), !secrets),
                ("admin", &admin, true, !creds),
            ] {
                if !applies {
                    continue;
                }
                let r = send(client, c).await;
                let code = r.status.as_u16();
                if allowed {
                    check(who, c, &r, code != 401 && code != 403, "allowed");
                } else {
                    check(who, c, &r, code == 403, "403");
                }
            }
        }
    }
    // Credentials: the owner reads and regenerates them; an administrator who does not own the
    // machine may do neither (the seed), nor may another user.
    assert_eq!(alice.token(&sid).await["token_key"], fresh["token_key"]);
    for (who, client) in [("admin", &admin), ("bob", &bob)] {
        for (method, op) in [("GET", "get_token"), ("POST", "regenerate_token")] {
            let url = format!("/MAAS/api/2.0/machines/{sid}/?op={op}");
            let r = if method == "GET" {
                client.get(&url).await
            } else {
                client.post(&url, &[]).await
            };
            if !matches!(r.status.as_u16(), 403 | 404) {
                failures.push(format!("{who}: {method} {url} → {} {}", r.status, r.body));
            }
        }
    }
    assert_eq!(
        alice.token(&sid).await["token_key"],
        fresh["token_key"],
        "unchanged"
    );

    // The metadata API: the current credentials reach their own machine only; the old ones,
    // users' keys and anonymous callers reach nothing.
    let meta = [
        ("GET", "/MAAS/metadata/2012-03-01/maas-scripts/".to_string()),
        (
            "GET",
            "/MAAS/metadata/latest/meta-data/instance-id".to_string(),
        ),
        ("POST", format!("/MAAS/metadata/status/{sid}")),
    ];
    for (method, url) in &meta {
        for (who, client, want) in [
            ("anonymous", &anon, &[401u16][..]),
            ("old machine credentials", &machine_old, &[401, 403]),
            ("admin", &admin, &[401, 403]),
            ("user", &bob, &[401, 403]),
        ] {
            let r = if *method == "GET" {
                client.get(url).await
            } else {
                client
                    .post_json(url, &serde_json::json!({"event_type": "progress", "name": "x", "origin": "t", "description": ""}))
                    .await
            };
            if !want.contains(&r.status.as_u16()) {
                failures.push(format!(
                    "{who}: metadata {method} {url} → {} {}",
                    r.status, r.body
                ));
            }
        }
    }
    let r = machine
        .get("/MAAS/metadata/latest/meta-data/instance-id")
        .await
        .ok();
    assert_eq!(
        r.body.trim(),
        sid,
        "the current credentials are the machine's"
    );
    let r = machine
        .post_json(
            &format!("/MAAS/metadata/status/{other}"),
            &serde_json::json!({"event_type": "progress", "name": "x", "origin": "t", "description": ""}),
        )
        .await;
    if r.status.as_u16() != 403 {
        failures.push(format!(
            "machine: status of another machine → {} {}",
            r.status, r.body
        ));
    }
    // Nor do machine credentials reach the rack protocol.
    for client in [&machine, &machine_old] {
        let r = client.get("/MAAS/rack/config?name=r1").await;
        if !matches!(r.status.as_u16(), 401 | 403) {
            failures.push(format!("machine: rack config → {} {}", r.status, r.body));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} actions × callers are wrong:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}
