//! Region operations against an in-process SQLite database, without the binary or HTTP: each
//! table is requests and the outcome the region must give (the value read back, or the kind of
//! refusal). These are the rules the API used to keep; they run in well under a second.

use ingot_core::settings::Value;
use ingot_region::catalog::TagFields;
use ingot_region::forms;
use ingot_region::model::{Machine, NamedKind, User};
use ingot_region::racks::CheckIn;
use ingot_region::{Principal, RegionError};
use ingot_wire::Params;

mod common;
use common::{act, kind, lab, machine, params, Lab};

#[tokio::test]
async fn settings_are_checked_and_read_back_with_their_defaults() {
    let l = lab().await;
    // Defaults before anything is set.
    for (name, want) in [
        ("node_timeout", Value::Int(30)),
        ("enable_http_proxy", Value::Bool(true)),
        ("default_storage_layout", Value::Text("flat".into())),
        ("unknown_machines", Value::Text("enlist".into())),
        ("kernel_opts", Value::Null),
        ("ntp_servers", Value::Text("ntp.ubuntu.com".into())),
        ("ntp_external_only", Value::Bool(false)),
        ("maas_proxy_port", Value::Int(8000)),
        ("active_discovery_interval", Value::Int(10_800)),
        ("maas_auto_ipmi_workaround_flags", Value::Null),
        ("remote_syslog", Value::Null),
        ("disk_erase_with_secure_erase", Value::Bool(true)),
    ] {
        assert_eq!(l.region.get_config(name).await.unwrap(), want, "{name}");
    }
    // (who, name, value) -> the value read back, or the refusal.
    let table: &[(bool, &str, &str, Result<Value, &str>)] = &[
        (true, "node_timeout", "12", Ok(Value::Int(12))),
        (true, "node_timeout", "0", Err("field value")),
        (true, "max_concurrent_deployments", "4", Ok(Value::Int(4))),
        (true, "enable_http_proxy", "no", Ok(Value::Bool(false))),
        (true, "enable_http_proxy", "perhaps", Err("field value")),
        (
            true,
            "default_storage_layout",
            "LVM",
            Ok(Value::Text("lvm".into())),
        ),
        (true, "default_storage_layout", "zfs", Err("field value")),
        (
            true,
            "unknown_machines",
            "ignore",
            Ok(Value::Text("ignore".into())),
        ),
        (
            true,
            "kernel_opts",
            "quiet splash",
            Ok(Value::Text("quiet splash".into())),
        ),
        (true, "kernel_opts", "", Ok(Value::Text(String::new()))),
        (true, "http_proxy", "ftp://nope", Err("field value")),
        // The kinds beyond Ingot's first ones: ports, number choices, ranges, lists, flags,
        // choices that allow the empty word, intervals; an alias.
        (true, "maas_proxy_port", "3128", Ok(Value::Int(3128))),
        (true, "maas_proxy_port", "5240", Err("field value")),
        (
            true,
            "active_discovery_interval",
            "600",
            Ok(Value::Int(600)),
        ),
        (true, "active_discovery_interval", "601", Err("field value")),
        (true, "session_length", "9", Err("field value")),
        (true, "session_length", "3600", Ok(Value::Int(3600))),
        (
            true,
            "dns_trusted_acl",
            "10.0.0.0/8, trusted.example",
            Ok(Value::Text("10.0.0.0/8 trusted.example".into())),
        ),
        (true, "dns_trusted_acl", "10.0.0.0/40", Err("field value")),
        (
            true,
            "maas_auto_ipmi_workaround_flags",
            "opensesspriv,idzero",
            Ok(Value::List(vec!["opensesspriv".into(), "idzero".into()])),
        ),
        (
            true,
            "maas_auto_ipmi_workaround_flags",
            "x",
            Err("field value"),
        ),
        (
            true,
            "maas_auto_ipmi_cipher_suite_id",
            "",
            Ok(Value::Text(String::new())),
        ),
        (
            true,
            "hardware_sync_interval",
            "1h 30m",
            Ok(Value::Text("1h 30m".into())),
        ),
        (true, "hardware_sync_interval", "soon", Err("field value")),
        (
            true,
            "remote_syslog",
            "logs.example",
            Ok(Value::Text("logs.example:514".into())),
        ),
        (true, "remote_syslog", "", Ok(Value::Null)),
        (
            true,
            "ntp_server",
            "10.0.0.1, ntp.example",
            Ok(Value::Text("10.0.0.1 ntp.example".into())),
        ),
        (true, "ntp_external_only", "yes", Ok(Value::Bool(true))),
        (false, "theme", "dark", Err("forbidden")),
        (true, "no_such_setting", "1", Err("field name")),
        (false, "node_timeout", "5", Err("forbidden")),
    ];
    for (admin, name, value, want) in table {
        let who = if *admin { &l.admin } else { &l.user };
        let got = l.region.set_config(who, name, value).await;
        match want {
            Ok(v) => {
                got.unwrap_or_else(|e| panic!("{name}={value}: {e:?}"));
                assert_eq!(
                    &l.region.get_config(name).await.unwrap(),
                    v,
                    "{name}={value}"
                );
            }
            Err(k) => assert_eq!(kind(&got.unwrap_err()), *k, "{name}={value}"),
        }
    }
    // A refused value left the last good one in place.
    assert_eq!(
        l.region.get_config("node_timeout").await.unwrap(),
        Value::Int(12)
    );
    assert_eq!(l.region.node_timeout_min().await.unwrap(), 12);
    // Every setting read at once (the settings page) is what reading it alone gives.
    for (s, v) in l.region.all_configs().await.unwrap() {
        assert_eq!(v, l.region.get_config(s.name).await.unwrap(), "{}", s.name);
    }
}

/// The settings that change what Ingot does: NTP in the vendor-data, the archive only once
/// set, enlistment's commissioning, new machines' minimum kernel.
#[tokio::test]
async fn settings_take_effect() {
    let l = lab().await;
    let base = "http://10.9.0.1:5240/MAAS";
    let m = machine(&l, "52:54:00:00:09:01").await;
    let mm = &m;
    let set = |name: &'static str, value: &'static str| {
        let r = &l.region;
        let a = &l.admin;
        async move { r.set_config(a, name, value).await.expect(name) }
    };
    let ntp = || {
        let r = &l.region;
        async move { r.vendor_settings(mm, base).await.unwrap().ntp_servers }
    };
    // (ntp_servers, ntp_external_only) -> the servers machines get.
    assert_eq!(ntp().await, ["ntp.ubuntu.com"], "MAAS's default");
    assert_eq!(
        l.region.vendor_settings(mm, base).await.unwrap().apt_mirror,
        None
    );
    for (servers, only, want) in [
        ("", "false", vec!["10.9.0.1"]),
        ("", "true", vec![]),
        ("ntp1.example", "false", vec!["ntp1.example"]),
        (
            "ntp1.example 10.0.0.1",
            "true",
            vec!["ntp1.example", "10.0.0.1"],
        ),
    ] {
        set("ntp_servers", servers).await;
        set("ntp_external_only", only).await;
        assert_eq!(
            ntp().await,
            want,
            "ntp_servers={servers:?} external_only={only}"
        );
    }
    set("main_archive", "http://mirror.example/debian").await;
    set("http_proxy", "http://proxy.example:3128/").await;
    set("use_peer_proxy", "true").await;
    let v = l.region.vendor_settings(mm, base).await.unwrap();
    assert_eq!(
        v.apt_mirror.as_deref(),
        Some("http://mirror.example/debian")
    );
    assert_eq!(v.http_proxy.as_deref(), Some("http://proxy.example:3128/"));
    set("enable_http_proxy", "false").await;
    assert_eq!(
        l.region.vendor_settings(mm, base).await.unwrap().http_proxy,
        None
    );

    // Enlistment runs the built-in commissioning scripts only while enlist_commissioning.
    let enlist = |mac: &'static str| {
        let r = &l.region;
        async move {
            let p = params(&[
                ("architecture", "amd64/generic"),
                ("mac_addresses", mac),
                ("commission", "true"),
            ]);
            forms::create_machine(r, &Principal::Anonymous, &p)
                .await
                .expect("enlist")
        }
    };
    assert!(enlist("52:54:00:e1:00:01").await.enlistment_token.is_some());
    set("enlist_commissioning", "false").await;
    let quiet = enlist("52:54:00:e1:00:02").await;
    assert!(quiet.enlistment_token.is_none());
    assert_eq!(quiet.machine.status.label(), "New");

    // A new machine without min_hwe_kernel gets default_min_hwe_kernel; one given keeps it.
    set("default_min_hwe_kernel", "hwe-22.04").await;
    let m = machine(&l, "52:54:00:e1:00:03").await;
    assert_eq!(m.min_hwe_kernel, "hwe-22.04");
    let who = Principal::User(l.admin.clone());
    let p = params(&[
        ("architecture", "amd64/generic"),
        ("mac_addresses", "52:54:00:e1:00:04"),
        ("power_type", "manual"),
        ("min_hwe_kernel", "ga-24.04"),
    ]);
    let m = forms::create_machine(&l.region, &who, &p)
        .await
        .unwrap()
        .machine;
    assert_eq!(m.min_hwe_kernel, "ga-24.04");
}

#[tokio::test]
async fn tags_zones_and_pools() {
    let l = lab().await;
    let tag = |name: &'static str| TagFields {
        name: Some(name),
        ..Default::default()
    };
    let table: &[(bool, TagFields, Result<&str, &str>)] = &[
        (true, tag("gpu"), Ok("gpu")),
        (true, tag("gpu"), Err("field name")),
        (true, tag("bad name"), Err("field name")),
        (true, tag(""), Err("field name")),
        (
            true,
            TagFields {
                name: Some("xpath"),
                definition: Some("//node["),
                ..Default::default()
            },
            Err("field definition"),
        ),
        (false, tag("mine"), Err("forbidden")),
    ];
    for (admin, f, want) in table {
        let who = if *admin { &l.admin } else { &l.user };
        let got = l.region.create_tag(who, f).await;
        match want {
            Ok(n) => assert_eq!(got.unwrap().name, *n),
            Err(k) => assert_eq!(kind(&got.unwrap_err()), *k, "{:?}", f.name),
        }
    }
    // Rename, with the kernel options kept.
    l.region
        .update_tag(
            &l.admin,
            "gpu",
            &TagFields {
                kernel_opts: Some("nomodeset"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let t = l
        .region
        .update_tag(&l.admin, "gpu", &tag("accel"))
        .await
        .unwrap();
    assert_eq!(
        (t.name.as_str(), t.kernel_opts.as_str()),
        ("accel", "nomodeset")
    );
    assert_eq!(kind(&l.region.tag("gpu").await.unwrap_err()), "not found");

    // Tagging machines: all or none, and each tagged machine's row moves on.
    let m = machine(&l, "52:54:00:00:00:01").await;
    let unknown = l
        .region
        .tag_update_nodes(
            &l.admin,
            "accel",
            &[m.system_id.clone(), "nope".into()],
            &[],
        )
        .await;
    assert_eq!(kind(&unknown.unwrap_err()), "bad request");
    let untouched = l.region.machine_for(&l.admin, &m.system_id).await.unwrap();
    assert!(untouched.tags.is_empty());
    assert_eq!(untouched.version, m.version);
    let n = l
        .region
        .tag_update_nodes(&l.admin, "accel", std::slice::from_ref(&m.system_id), &[])
        .await
        .unwrap();
    assert_eq!(n, (1, 0));
    let tagged = l.region.machine_for(&l.admin, &m.system_id).await.unwrap();
    assert_eq!(tagged.tags, vec!["accel".to_string()]);
    assert!(
        tagged.version > m.version,
        "a tag change is a change of the machine"
    );
    assert_eq!(
        l.region.kernel_opts(Some(&tagged)).await.unwrap(),
        "nomodeset"
    );

    // Zones and pools: the default ones keep their names and stay.
    let z = l
        .region
        .create_named(&l.admin, NamedKind::Zone, " rack-2 ", "second rack")
        .await
        .unwrap();
    assert_eq!(z.name, "rack-2");
    for (key, name, want) in [
        ("default", Some("other"), "bad request"),
        ("rack-2", Some("a b"), "field name"),
        ("missing", Some("x"), "not found"),
    ] {
        let got = l
            .region
            .update_named(&l.admin, NamedKind::Zone, key, name, None)
            .await;
        assert_eq!(kind(&got.unwrap_err()), want, "{key}");
    }
    assert_eq!(
        kind(
            &l.region
                .delete_named(&l.admin, NamedKind::Zone, "default")
                .await
                .unwrap_err()
        ),
        "bad request"
    );
    // Deleting a zone that holds a machine moves the machine to the default zone (MAAS), as a
    // change of the machine.
    let before = l.region.machine_for(&l.admin, &m.system_id).await.unwrap();
    let mut p = Params::new();
    p.push("zone", b"rack-2".to_vec());
    l.region
        .update_machine(&l.admin, &m.system_id, &p)
        .await
        .unwrap();
    l.region
        .delete_named(&l.admin, NamedKind::Zone, "rack-2")
        .await
        .unwrap();
    let after = l.region.machine_for(&l.admin, &m.system_id).await.unwrap();
    assert_eq!(after.zone, "default");
    assert!(after.version > before.version + 1);
    assert_eq!(
        kind(&l.region.named(NamedKind::Zone, "rack-2").await.unwrap_err()),
        "not found"
    );
    // A pool is found by id as well as by name.
    let p = l
        .region
        .create_named(&l.admin, NamedKind::Pool, "gpus", "")
        .await
        .unwrap();
    assert_eq!(
        l.region
            .named(NamedKind::Pool, &p.id.to_string())
            .await
            .unwrap()
            .name,
        "gpus"
    );
}

#[tokio::test]
async fn users_keys_and_tokens() {
    let l = lab().await;
    let table: &[(&str, Result<&str, &str>)] = &[
        (
            "ssh-ed25519 AAAAC3Nza alice@laptop",
            Ok("ssh-ed25519 AAAAC3Nza alice@laptop"),
        ),
        (
            "  ecdsa-sha2-nistp256 AAAAE2 \n",
            Ok("ecdsa-sha2-nistp256 AAAAE2"),
        ),
        ("AAAAC3Nza", Err("field key")),
        ("rsa AAAA", Err("field key")),
        // The same key again, with another comment or none: refused (MAAS).
        ("ssh-ed25519 AAAAC3Nza alice@desktop", Err("field key")),
        ("ssh-ed25519 AAAAC3Nza", Err("field key")),
    ];
    for (raw, want) in table {
        let got = l.region.add_sshkey(&l.user, raw).await;
        match want {
            Ok(k) => assert_eq!(got.unwrap().1, *k),
            Err(e) => assert_eq!(kind(&got.unwrap_err()), *e, "{raw:?}"),
        }
    }
    let keys = l.region.sshkeys(&l.user).await.unwrap();
    assert_eq!(keys.len(), 2);
    // Another user may add the same key.
    l.region
        .add_sshkey(&l.admin, "ssh-ed25519 AAAAC3Nza alice@laptop")
        .await
        .unwrap();
    // Another user's key id is simply not found.
    let id = keys[0].0.to_string();
    assert_eq!(
        kind(&l.region.sshkey(&l.admin, &id).await.unwrap_err()),
        "not found"
    );
    assert_eq!(
        kind(&l.region.sshkey(&l.user, "x").await.unwrap_err()),
        "not found"
    );
    l.region.delete_sshkey(&l.user, &id).await.unwrap();
    assert_eq!(l.region.sshkeys(&l.user).await.unwrap().len(), 1);

    // Tokens: made, listed, revoked; a missing key is named.
    let t = l.region.create_user_token(&l.user, "ci").await.unwrap();
    assert!(l
        .region
        .user_tokens(&l.user)
        .await
        .unwrap()
        .iter()
        .any(|x| x.token_key == t.token_key));
    // Renamed by its key or by the whole API key; another user's, or none, is refused.
    let whole = format!("{}:{}:{}", t.consumer_key, t.token_key, t.token_secret);
    for (who, token, name, want) in [
        (&l.user, Some(t.token_key.as_str()), Some("ci-2"), "ok"),
        (&l.user, Some(whole.as_str()), Some("ci-3"), "ok"),
        (&l.admin, Some(t.token_key.as_str()), Some("x"), "not found"),
        (&l.user, None, Some("x"), "field token"),
        (&l.user, Some(t.token_key.as_str()), Some(" "), "field name"),
    ] {
        let got = l.region.update_token_name(who, token, name).await;
        let got = got.map_or_else(|e| kind(&e), |()| "ok".to_string());
        assert_eq!(got, want, "{token:?} {name:?}");
    }
    let named = l.region.user_tokens(&l.user).await.unwrap();
    assert_eq!(
        named
            .iter()
            .find(|x| x.token_key == t.token_key)
            .map(|x| x.name.as_str()),
        Some("ci-3")
    );
    let auth = format!(
        "OAuth oauth_consumer_key=\"{}\", oauth_token=\"{}\", oauth_signature_method=\"PLAINTEXT\", oauth_signature=\"&{}\"",
        t.consumer_key, t.token_key, t.token_secret
    );
    match l.region.authenticate(Some(&auth)).await.unwrap() {
        Principal::User(u) => assert_eq!(u.username, "alice"),
        other => panic!("{other:?}"),
    }
    l.region
        .delete_user_token(&l.user, Some(&t.token_key))
        .await
        .unwrap();
    assert_eq!(
        kind(&l.region.authenticate(Some(&auth)).await.unwrap_err()),
        "unauthorized"
    );
    assert_eq!(
        kind(
            &l.region
                .delete_user_token(&l.user, Some("gone"))
                .await
                .unwrap_err()
        ),
        "not found"
    );
    assert_eq!(
        kind(&l.region.delete_user_token(&l.user, None).await.unwrap_err()),
        "field token_key"
    );

    // Deleting accounts: administrators only, never their own.
    for (who, name, want) in [
        (&l.user, "admin", "forbidden"),
        (&l.admin, "admin", "bad request"),
        (&l.admin, "nobody", "not found"),
    ] {
        assert_eq!(
            kind(&l.region.delete_user(who, name).await.unwrap_err()),
            want
        );
    }
    // A token made before its user is deleted signs nothing after; a wrong secret nothing
    // before.
    let kept = l.region.create_user_token(&l.user, "kept").await.unwrap();
    let sign = |secret: &str| {
        format!(
            "OAuth oauth_consumer_key=\"{}\", oauth_token=\"{}\", oauth_signature_method=\"PLAINTEXT\", oauth_signature=\"&{secret}\"",
            kept.consumer_key, kept.token_key
        )
    };
    assert_eq!(
        kind(
            &l.region
                .authenticate(Some(&sign("wrong")))
                .await
                .unwrap_err()
        ),
        "unauthorized"
    );
    assert!(matches!(
        l.region.authenticate(Some(&sign(&kept.token_secret))).await,
        Ok(Principal::User(_))
    ));
    l.region.delete_user(&l.admin, "alice").await.unwrap();
    assert_eq!(
        kind(&l.region.user_named("alice").await.unwrap_err()),
        "not found"
    );
    assert_eq!(
        kind(
            &l.region
                .authenticate(Some(&sign(&kept.token_secret)))
                .await
                .unwrap_err()
        ),
        "unauthorized"
    );
}

#[tokio::test]
async fn fabrics_vlans_and_the_rack_configuration() {
    let l = lab().await;
    let f = l
        .region
        .create_fabric(&l.admin, Some("lab"), None)
        .await
        .unwrap();
    let fid = f.id.to_string();
    // Parameters -> (vid, mtu) of the new VLAN, or the refusal.
    type Row<'a> = (&'a [(&'a str, &'a str)], Result<(i64, i64), &'a str>);
    let table: &[Row] = &[
        (&[("vid", "10")], Ok((10, 1500))),
        (&[("vid", "11"), ("mtu", "9000")], Ok((11, 9000))),
        (&[("vid", "10")], Err("field vid")),
        (&[("vid", "0")], Err("field vid")),
        (&[("vid", "4095")], Err("field vid")),
        (&[], Err("field vid")),
        (&[("vid", "12"), ("mtu", "100")], Err("field mtu")),
        (&[("vid", "x")], Err("field vid")),
    ];
    for (p, want) in table {
        let got = l.region.create_vlan(&l.admin, &f, &params(p)).await;
        match want {
            Ok((vid, mtu)) => {
                let v = got.unwrap();
                assert_eq!((v.vid, v.mtu), (*vid, *mtu));
            }
            Err(k) => assert_eq!(kind(&got.unwrap_err()), *k, "{p:?}"),
        }
    }
    let v = l.region.vlan(&fid, "10").await.unwrap();
    let bad = l
        .region
        .update_vlan(&l.admin, &v, &params(&[("mtu", "70000")]))
        .await;
    assert_eq!(kind(&bad.unwrap_err()), "field mtu");
    let untagged = l.region.vlan(&fid, "0").await.unwrap();
    assert_eq!(
        kind(&l.region.delete_vlan(&l.admin, &untagged).await.unwrap_err()),
        "bad request"
    );
    assert_eq!(
        kind(&l.region.delete_fabric(&l.admin, "0").await.unwrap_err()),
        "bad request"
    );
    assert_eq!(
        kind(
            &l.region
                .create_fabric(&l.user, None, None)
                .await
                .unwrap_err()
        ),
        "forbidden"
    );

    // A managed subnet with a dynamic range on a VLAN with DHCP is what racks serve.
    l.region
        .create_subnet(
            &l.admin,
            &params(&[
                ("cidr", "10.20.0.0/24"),
                ("vlan", &v.id.to_string()),
                ("gateway_ip", "10.20.0.1"),
            ]),
        )
        .await
        .unwrap();
    l.region
        .create_iprange(
            &l.admin,
            &params(&[
                ("type", "dynamic"),
                ("start_ip", "10.20.0.100"),
                ("end_ip", "10.20.0.150"),
            ]),
        )
        .await
        .unwrap();
    l.region
        .update_vlan(&l.admin, &v, &params(&[("dhcp_on", "true")]))
        .await
        .unwrap();
    let m = machine(&l, "52:54:00:00:00:02").await;
    let c = l
        .region
        .rack_config("http://region/MAAS", None)
        .await
        .unwrap();
    let s = c
        .subnets
        .iter()
        .find(|s| s.cidr == "10.20.0.0/24")
        .expect("the subnet");
    assert!(s.dhcp_on);
    assert_eq!(s.vid, 10);
    assert_eq!(
        s.dynamic_ranges,
        vec![("10.20.0.100".to_string(), "10.20.0.150".to_string())]
    );
    assert!(c
        .hosts
        .iter()
        .any(|h| h.mac == "52:54:00:00:00:02" && h.system_id == m.system_id));
    assert_eq!(c.unknown_machines, "enlist");

    // Racks: only with the secret; a check-in names itself sensibly.
    let secret = l.region.rack_secret().await.unwrap();
    l.region.check_rack_secret(&secret).await.unwrap();
    assert_eq!(
        kind(&l.region.check_rack_secret("guess").await.unwrap_err()),
        "unauthorized"
    );
    for (name, address, want) in [
        (Some("rack-1"), Some("10.20.0.2"), None),
        (Some("rack-1"), Some("not-an-ip"), Some("bad request")),
        (Some("a\u{1}b"), None, Some("bad request")),
        (None, None, None),
    ] {
        let got = l
            .region
            .rack_check_in(&CheckIn {
                name,
                address,
                ..Default::default()
            })
            .await;
        assert_eq!(got.err().as_ref().map(kind).as_deref(), want, "{name:?}");
    }
    let racks = l.region.rack_controllers().await.unwrap();
    assert_eq!(racks.len(), 1);
    assert_eq!(racks[0].rack.address, "10.20.0.2");
    assert!(racks[0].alive);
}

/// Which racks serve a VLAN's DHCP (primary/secondary), a relayed VLAN served by the racks of
/// the VLAN it relays to, the checks on those settings, and a rack that goes away.
#[tokio::test]
async fn vlan_dhcp_is_served_by_its_racks_and_relayed() {
    let l = lab().await;
    let mut racks = Vec::new();
    for name in ["rack-a", "rack-b", "rack-c"] {
        let id = l
            .region
            .rack_check_in(&CheckIn {
                name: Some(name),
                ..Default::default()
            })
            .await
            .unwrap()
            .expect("a named rack has a system id");
        racks.push(id);
    }
    let f = l.region.fabric("0").await.unwrap();
    let served = l.region.vlan("0", "0").await.unwrap();
    let relayed = l
        .region
        .create_vlan(&l.admin, &f, &params(&[("vid", "20")]))
        .await
        .unwrap();
    for (cidr, vlan, range) in [
        (
            "10.30.0.0/24",
            &served,
            Some(("10.30.0.100", "10.30.0.150")),
        ),
        ("10.31.0.0/24", &relayed, None),
    ] {
        l.region
            .create_subnet(
                &l.admin,
                &params(&[("cidr", cidr), ("vlan", &vlan.id.to_string())]),
            )
            .await
            .unwrap();
        if let Some((a, b)) = range {
            l.region
                .create_iprange(
                    &l.admin,
                    &params(&[("type", "dynamic"), ("start_ip", a), ("end_ip", b)]),
                )
                .await
                .unwrap();
        }
    }
    let (a, b, c) = (&racks[0], &racks[1], &racks[2]);
    // Refusals: unknown rack, secondary without primary, same rack twice, relay to itself,
    // relay while serving DHCP.
    let vid = relayed.id.to_string();
    let own = served.id.to_string();
    for (p, want) in [
        (vec![("primary_rack", "nope")], "field primary_rack"),
        (vec![("secondary_rack", b.as_str())], "field secondary_rack"),
        (
            vec![("primary_rack", a.as_str()), ("secondary_rack", a.as_str())],
            "field secondary_rack",
        ),
        (vec![("relay_vlan", own.as_str())], "field relay_vlan"),
        (
            vec![("dhcp_on", "true"), ("relay_vlan", vid.as_str())],
            "field relay_vlan",
        ),
        (vec![("relay_vlan", "99999")], "field relay_vlan"),
    ] {
        let got = l.region.update_vlan(&l.admin, &served, &params(&p)).await;
        assert_eq!(kind(&got.unwrap_err()), want, "{p:?}");
    }
    let served = l
        .region
        .update_vlan(
            &l.admin,
            &served,
            &params(&[
                ("dhcp_on", "true"),
                ("primary_rack", a),
                ("secondary_rack", "rack-b"),
                ("description", "PXE"),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            served.primary_rack.as_ref(),
            served.secondary_rack.as_ref(),
            served.description.as_str()
        ),
        (Some(a), Some(b), "PXE")
    );
    let relayed = l
        .region
        .update_vlan(&l.admin, &relayed, &params(&[("relay_vlan", &own)]))
        .await
        .unwrap();
    assert_eq!(relayed.relay_vlan_id, Some(served.id));
    let region = &l.region;
    let dhcp = |rack: Option<String>| async move {
        let c = region
            .rack_config("http://region/MAAS", rack.as_deref())
            .await
            .unwrap();
        let on = |cidr: &str| c.subnets.iter().any(|s| s.cidr == cidr && s.dhcp_on);
        (on("10.30.0.0/24"), on("10.31.0.0/24"))
    };
    assert_eq!(dhcp(Some(a.clone())).await, (true, true), "primary");
    assert_eq!(dhcp(Some(b.clone())).await, (true, true), "secondary");
    assert_eq!(
        dhcp(Some(c.clone())).await,
        (false, false),
        "a rack the VLAN does not name"
    );
    assert_eq!(dhcp(None).await, (false, false), "a rack with no name");
    // The primary and the secondary split the dynamic range: no address offered by both.
    let range = |rack: String| async move {
        let c = region
            .rack_config("http://region/MAAS", Some(&rack))
            .await
            .unwrap();
        let s = c.subnets.iter().find(|s| s.cidr == "10.30.0.0/24").unwrap();
        s.dynamic_ranges
            .iter()
            .map(|(a, b)| format!("{a}-{b}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        range(a.clone()).await,
        ["10.30.0.100-10.30.0.125"],
        "primary"
    );
    assert_eq!(
        range(b.clone()).await,
        ["10.30.0.126-10.30.0.150"],
        "secondary"
    );
    // Rack a goes away: b becomes the primary, and there is no secondary.
    l.region.delete_rack_controller(&l.admin, a).await.unwrap();
    let v = l.region.vlan("0", "0").await.unwrap();
    assert_eq!(
        (v.primary_rack.as_ref(), v.secondary_rack.as_ref()),
        (Some(b), None)
    );
    assert_eq!(dhcp(Some(b.clone())).await, (true, true));
    assert_eq!(
        range(b.clone()).await,
        ["10.30.0.100-10.30.0.150"],
        "alone: the whole range"
    );
    // Clearing the racks: every rack serves again.
    l.region
        .update_vlan(&l.admin, &v, &params(&[("primary_rack", "")]))
        .await
        .unwrap();
    assert_eq!(dhcp(Some(c.clone())).await, (true, true));
}

/// Commissioning (and whatever else powers a machine on to boot from the network: the same
/// check) is refused, naming the racks and why, when the VLAN the machine boots from serves
/// DHCP through racks none of which is ready: heard from lately and saying its DHCP server
/// answers for a subnet of that VLAN. A rack that reads its configuration again with its DHCP
/// running makes it possible again.
#[tokio::test]
async fn commissioning_needs_a_rack_whose_dhcp_is_up_on_the_boot_vlan() {
    use ingot_core::actions::Action;
    let l = lab().await;
    let check_in = |dhcp: Option<Vec<&'static str>>| {
        let region = &l.region;
        async move {
            region
                .rack_check_in(&CheckIn {
                    name: Some("rack-a"),
                    dhcp,
                    ..Default::default()
                })
                .await
                .unwrap()
                .unwrap()
        }
    };
    let rack = check_in(Some(vec![])).await;
    let vlan = l.region.vlan("0", "0").await.unwrap();
    let subnet = l
        .region
        .create_subnet(&l.admin, &params(&[("cidr", "10.33.0.0/24")]))
        .await
        .unwrap();
    l.region
        .create_iprange(
            &l.admin,
            &params(&[
                ("type", "dynamic"),
                ("start_ip", "10.33.0.100"),
                ("end_ip", "10.33.0.150"),
            ]),
        )
        .await
        .unwrap();
    l.region
        .update_vlan(
            &l.admin,
            &vlan,
            &params(&[("dhcp_on", "true"), ("primary_rack", &rack)]),
        )
        .await
        .unwrap();
    let who = Principal::User(l.admin.clone());
    let m = forms::create_machine(
        &l.region,
        &who,
        &params(&[
            ("architecture", "amd64/generic"),
            ("mac_addresses", "52:54:00:33:00:01"),
            ("power_type", "manual"),
            ("commission", "false"),
        ]),
    )
    .await
    .unwrap()
    .machine;
    l.region
        .link_subnet(
            &l.admin,
            &m.system_id,
            m.interfaces[0].id,
            &params(&[("mode", "dhcp"), ("subnet", &subnet.id.to_string())]),
        )
        .await
        .unwrap();
    let commission = || act(&l, &m.system_id, Action::Commission);
    let abort = || async { act(&l, &m.system_id, Action::Abort).await.unwrap() };
    let refused = |want: &'static str| {
        let (l, sid) = (&l, &m.system_id);
        async move {
            let e = act(l, sid, Action::Commission).await.unwrap_err();
            assert_eq!(kind(&e), "conflict", "{e}");
            let why = e.to_string();
            assert!(
                why.contains("No healthy rack controller serves DHCP on VLAN 0")
                    && why.contains(want),
                "want '{want}': {why}"
            );
            let now = l.region.machine_for(&l.admin, sid).await.unwrap();
            assert_eq!(now.status, ingot_core::Status::New, "nothing changed");
        }
    };
    // The rack is fresh but its DHCP serves nothing (it has not started yet): refused.
    refused("rack-a seen 0 s ago, its DHCP not running for 10.33.0.0/24").await;
    // Serving another subnet only: refused too.
    check_in(Some(vec!["10.99.0.0/24"])).await;
    refused("its DHCP not running for 10.33.0.0/24").await;
    // A rack that does not say: refused (its DHCP cannot be known to be up).
    check_in(None).await;
    refused("rack-a seen 0 s ago does not report its DHCP service").await;
    // Its DHCP answers for the machine's subnet: commissioning starts.
    check_in(Some(vec!["10.33.0.0/24"])).await;
    commission().await.unwrap();
    abort().await;
    // The rack has not been heard from for two minutes: refused, saying why.
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}", l.dir.path().join("region.sqlite").display());
    let db = sqlx::AnyPool::connect(&url).await.unwrap();
    let two_min_ago = ingot_store::now_ms() - 120_000;
    sqlx::query(&format!("UPDATE racks SET last_seen = {two_min_ago}"))
        .execute(&db)
        .await
        .unwrap();
    refused("rack-a last seen 120 s ago").await;
    // The rack reads its configuration again, its DHCP up: commissioning starts.
    check_in(Some(vec!["10.33.0.0/24"])).await;
    commission().await.unwrap();
    // What a rack says of its DHCP is checked.
    let bad = l
        .region
        .rack_check_in(&CheckIn {
            name: Some("rack-a"),
            dhcp: Some(vec!["10.33.0.0/33"]),
            ..Default::default()
        })
        .await;
    assert_eq!(bad.err().as_ref().map(kind).as_deref(), Some("bad request"));
}

/// A subnet's DNS/proxy/rDNS settings are kept and checked; a subnet is found by id, name,
/// CIDR or an address in it; its address usage counts ranges, gateway and static addresses.
#[tokio::test]
async fn subnet_settings_lookup_and_usage() {
    let l = lab().await;
    let bad = l
        .region
        .create_subnet(
            &l.admin,
            &params(&[("cidr", "10.40.0.0/24"), ("rdns_mode", "3")]),
        )
        .await;
    assert_eq!(kind(&bad.unwrap_err()), "field rdns_mode");
    let s = l
        .region
        .create_subnet(
            &l.admin,
            &params(&[
                ("cidr", "10.40.0.0/24"),
                ("name", "lab"),
                ("gateway_ip", "10.40.0.1"),
                ("dns_servers", "10.40.0.2 8.8.8.8"),
                ("allow_dns", "false"),
                ("rdns_mode", "0"),
                ("description", "the lab"),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            s.allow_dns,
            s.allow_proxy,
            s.rdns_mode,
            s.description.as_str()
        ),
        (false, true, 0, "the lab")
    );
    let s = l
        .region
        .update_subnet(
            &l.admin,
            s.id,
            &params(&[("allow_proxy", "0"), ("rdns_mode", "1")]),
        )
        .await
        .unwrap();
    assert_eq!((s.allow_dns, s.allow_proxy, s.rdns_mode), (false, false, 1));
    let id = s.id.to_string();
    for key in [
        id.as_str(),
        "lab",
        "name:lab",
        "cidr:10.40.0.0/24",
        "cidr:10.40.0.0%2F24",
        "10.40.0.0%2f24",
        "ip:10.40.0.77",
        &format!("id:{id}"),
    ] {
        assert_eq!(l.region.subnet(key).await.unwrap().id, s.id, "{key}");
    }
    for key in ["name:other", "ip:10.41.0.1", "cidr:10.40.1.0/24", "99999"] {
        assert_eq!(
            kind(&l.region.subnet(key).await.unwrap_err()),
            "not found",
            "{key}"
        );
    }
    l.region
        .create_iprange(
            &l.admin,
            &params(&[
                ("type", "dynamic"),
                ("start_ip", "10.40.0.100"),
                ("end_ip", "10.40.0.199"),
            ]),
        )
        .await
        .unwrap();
    l.region
        .reserve_ip(&params(&[("subnet", &id), ("ip", "10.40.0.10")]), &l.user)
        .await
        .unwrap();
    let used: Vec<(String, String, Vec<&str>)> = l
        .region
        .subnet_reserved_ranges(&s)
        .await
        .unwrap()
        .iter()
        .map(|x| (x.start.to_string(), x.end.to_string(), x.purpose.clone()))
        .collect();
    assert_eq!(
        used,
        vec![
            ("10.40.0.1".into(), "10.40.0.1".into(), vec!["gateway-ip"]),
            ("10.40.0.2".into(), "10.40.0.2".into(), vec!["dns-server"]),
            (
                "10.40.0.10".into(),
                "10.40.0.10".into(),
                vec!["assigned-ip"]
            ),
            ("10.40.0.100".into(), "10.40.0.199".into(), vec!["dynamic"]),
        ]
    );
    let st = l.region.subnet_statistics(&s).await.unwrap();
    assert_eq!(
        (st.total_addresses, st.num_unavailable, st.largest_available),
        (254, 103, 89)
    );
    assert_eq!(st.suggested_dynamic_range, None);
    let held = l.region.subnet_addresses(&s).await.unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(
        (held[0].ip.as_str(), held[0].username.as_deref()),
        ("10.40.0.10", Some("alice"))
    );
}

#[tokio::test]
async fn boot_answers_follow_the_settings() {
    let l = lab().await;
    let req = |mac| ingot_region::boot::ScriptRequest {
        mac,
        arch: None,
        firmware: Some("bios"),
        base: "http://region/MAAS",
    };
    for (mac, want) in [(None, "bad request"), (Some("zz"), "bad request")] {
        let got = l.region.boot_script(None, req(mac)).await;
        assert_eq!(kind(&got.unwrap_err()), want);
    }
    // No ephemeral image on this region: an unknown machine is told so.
    let s = l
        .region
        .boot_script(None, req(Some("52:54:00:aa:bb:cc")))
        .await
        .unwrap();
    assert!(s.contains("no ephemeral image"), "{s}");
    // Strangers are ignored when the setting says so.
    l.region
        .set_config(&l.admin, "unknown_machines", "ignore")
        .await
        .unwrap();
    let s = l
        .region
        .boot_script(None, req(Some("52:54:00:aa:bb:cc")))
        .await
        .unwrap();
    assert!(s.contains("nothing to boot"), "{s}");
    // Each answer is a hop of the MAC's timeline.
    let hops = l
        .region
        .netboot_timeline(&l.admin, Some("52-54-00-AA-BB-CC"), None)
        .await
        .unwrap();
    assert_eq!(hops.len(), 2);
    assert_eq!(
        kind(
            &l.region
                .netboot_timeline(&l.user, Some("52:54:00:aa:bb:cc"), None)
                .await
                .unwrap_err()
        ),
        "forbidden"
    );
}

/// Who may change the region's shared objects is the region's rule: each administrator's
/// operation refuses a user (forbidden) before it looks at what was sent, and lets the
/// administrator through to the form's checks.
#[tokio::test]
async fn administrators_operations_refuse_users() {
    let l = lab().await;
    let m = machine(&l, "52:54:00:aa:00:01").await;
    let sid = m.system_id.clone();
    let empty = Params::new();
    // Each operation, run as `who`, gives the kind of its outcome.
    let outcomes = |who: User| {
        let r = &l.region;
        let sid = sid.clone();
        let empty = empty.clone();
        async move {
            let k = |x: Result<(), RegionError>| match x {
                Ok(()) => "ok".to_string(),
                Err(e) => kind(&e),
            };
            vec![
                (
                    "create_subnet",
                    k(r.create_subnet(&who, &empty).await.map(|_| ())),
                ),
                (
                    "create_iprange",
                    k(r.create_iprange(&who, &empty).await.map(|_| ())),
                ),
                (
                    "create_static_route",
                    k(r.create_static_route(&who, &empty).await.map(|_| ())),
                ),
                (
                    "update_static_route",
                    k(r.update_static_route(&who, 999, &empty).await.map(|_| ())),
                ),
                (
                    "delete_static_route",
                    k(r.delete_static_route(&who, 999).await),
                ),
                (
                    "create_script",
                    k(r.create_script(&who, &empty, &[]).await.map(|_| ())),
                ),
                (
                    "update_script",
                    k(r.update_script(&who, "nope", &empty, &[]).await.map(|_| ())),
                ),
                ("delete_script", k(r.delete_script(&who, "nope").await)),
                ("add_user", k(r.add_user(&who, &empty).await.map(|_| ()))),
                (
                    "power_parameters",
                    k(r.power_parameters(&who, &sid).await.map(|_| ())),
                ),
                (
                    "power_parameters_of",
                    k(r.power_parameters_of(&who, vec![]).await.map(|_| ())),
                ),
                (
                    "accept_machines",
                    k(r.accept_machines(&who, Some(vec![])).await.map(|_| ())),
                ),
                ("stop_import", k(r.stop_import(&who).map(|_| ()))),
                (
                    "upload_dir",
                    k(ingot_region::uploads::upload_dir(&who, None).map(|_| ())),
                ),
            ]
        }
    };
    for (op, got) in outcomes(l.user.clone()).await {
        assert_eq!(got, "forbidden", "{op} as a user");
    }
    let want_admin = [
        ("create_subnet", "field cidr"),
        ("create_iprange", "field end_ip,start_ip"),
        ("create_static_route", "field destination,gateway_ip,source"),
        ("update_static_route", "not found"),
        ("delete_static_route", "not found"),
        ("create_script", "field script"),
        ("update_script", "not found"),
        ("delete_script", "not found"),
        ("add_user", "field password,username"),
        ("power_parameters", "ok"),
        ("power_parameters_of", "ok"),
        ("accept_machines", "ok"),
        ("stop_import", "ok"),
        ("upload_dir", "unavailable"),
    ];
    let got = outcomes(l.admin.clone()).await;
    for ((op, got), (want_op, want)) in got.iter().zip(want_admin) {
        assert_eq!(*op, want_op);
        assert_eq!(got, want, "{op} as an administrator");
    }
}

/// A machine-resources document around a real LXD capture (`<shared>/fixtures/lxd/`).
fn resources_doc(fixture: &str) -> Vec<u8> {
    let shared = std::env::var_os("INGOT_SHARED_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
        });
    let res: serde_json::Value = serde_json::from_slice(
        &std::fs::read(shared.join("fixtures/lxd").join(fixture)).expect("fixture"),
    )
    .expect("fixture JSON");
    serde_json::to_vec(&serde_json::json!({
        "api_version": "1.0",
        "api_extensions": ["resources", "resources_v2", "api_os", "resources_system", "resources_usb_pci"],
        "environment": {"kernel": "Linux", "kernel_architecture": "x86_64", "kernel_version": "6.1.0",
                        "os_name": "ubuntu", "os_version": "22.04", "server": "maas-machine-resources",
                        "server_name": "lab", "server_version": "5.0"},
        "resources": res,
    }))
    .expect("JSON")
}

/// Commission `m` with the region alone: the commission action, then the inventory script's
/// output (and an LLDP capture) signalled by name.
async fn commission_with(l: &Lab, m: &Machine, fixture: &str, lldp: Option<&str>) {
    use ingot_core::actions::Action;
    let now = l.region.machine_for(&l.admin, &m.system_id).await.unwrap();
    if now.status != ingot_core::Status::Commissioning {
        act(l, &m.system_id, Action::Commission)
            .await
            .expect("commission");
    }
    let mut uploads = vec![("50-maas-01-commissioning", resources_doc(fixture))];
    if let Some(x) = lldp {
        uploads.push(("maas-capture-lldpd", x.as_bytes().to_vec()));
    }
    for (name, out) in uploads {
        let files = vec![ingot_wire::FilePart {
            name: format!("{name}.out"),
            filename: Some(format!("{name}.out")),
            content_type: None,
            data: out,
        }];
        let p = params(&[("status", "WORKING"), ("name", name), ("exit_status", "0")]);
        l.region.signal(m.id, &p, &files).await.expect("signal");
    }
}

async fn version(l: &Lab, m: &Machine) -> i64 {
    l.region
        .machine_for(&l.admin, &m.system_id)
        .await
        .unwrap()
        .version
}

async fn tagged(l: &Lab, tag: &str) -> Vec<String> {
    let mut ms: Vec<String> = l
        .region
        .list_machines(&l.admin, Default::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.tags.iter().any(|t| t == tag))
        .map(|m| m.system_id)
        .collect();
    ms.sort();
    ms
}

#[tokio::test]
async fn tags_with_definitions_follow_the_hardware() {
    let l = lab().await;
    let (a, b) = (
        machine(&l, "52:54:00:aa:00:01").await,
        machine(&l, "52:54:00:aa:00:02").await,
    );
    let bare = machine(&l, "52:54:00:aa:00:03").await;
    // A defined tag before any machine has details: nobody has it.
    let def = |name: &'static str, definition: &'static str| TagFields {
        name: Some(name),
        definition: Some(definition),
        ..Default::default()
    };
    l.region
        .create_tag(
            &l.admin,
            &def(
                "crucial",
                r#"//node[@class="disk"]/product = "Crucial_CT512M55""#,
            ),
        )
        .await
        .unwrap();
    assert!(tagged(&l, "crucial").await.is_empty());

    let lldp = r#"<?xml version="1.0" encoding="UTF-8"?>
<lldp label="LLDP neighbors"><interface label="Interface" name="eth0" via="LLDP"><chassis label="Chassis"><name label="SysName">tor-1</name></chassis></interface></lldp>"#;
    commission_with(&l, &a, "SAMPLE_LXD_RESOURCES.json", Some(lldp)).await;
    commission_with(&l, &b, "SAMPLE_LXD_RESOURCES_LP1906834.json", None).await;
    // Commissioning evaluated the existing definition for each machine.
    assert_eq!(tagged(&l, "crucial").await, vec![a.system_id.clone()]);

    // (tag, definition) -> the machines that have it once it is created.
    let mut ab = vec![a.system_id.clone(), b.system_id.clone()];
    ab.sort();
    let table: Vec<(&'static str, &'static str, Vec<String>)> = vec![
        (
            "big",
            r#"//node[@id="memory"]/size > 8000000000"#,
            ab.clone(),
        ),
        (
            "huge",
            r#"//node[@id="memory"]/size > 1000000000000"#,
            vec![],
        ),
        (
            "intel-nic",
            r#"//node[@class="network"]/vendor[contains(., "Intel")]"#,
            vec![a.system_id.clone()],
        ),
        (
            "lenovo",
            r#"/list/node/vendor = "Lenovo""#,
            vec![b.system_id.clone()],
        ),
        (
            "tor1",
            r#"//lldp:chassis/lldp:name = "tor-1""#,
            vec![a.system_id.clone()],
        ),
        ("bare", r#"not(//node)"#, vec![bare.system_id.clone()]),
    ];
    for (name, definition, want) in &table {
        let t = l
            .region
            .create_tag(&l.admin, &def(name, definition))
            .await
            .unwrap();
        assert_eq!(t.definition, *definition);
        assert_eq!(tagged(&l, name).await, *want, "{name}");
    }

    // An invalid definition is the definition field's error, on create and update, and
    // changes nothing.
    for bad in ["//node[", "foo:bar", "unknown()"] {
        let e = l
            .region
            .create_tag(&l.admin, &def("broken", bad))
            .await
            .unwrap_err();
        assert_eq!(kind(&e), "field definition", "{bad}");
        let e = l
            .region
            .update_tag(
                &l.admin,
                "big",
                &TagFields {
                    definition: Some(bad),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(kind(&e), "field definition", "{bad}");
    }
    assert_eq!(tagged(&l, "big").await, ab);

    // A changed definition moves the tag (and bumps the versions of the machines it moved).
    let before = (version(&l, &a).await, version(&l, &b).await);
    let t = l
        .region
        .update_tag(
            &l.admin,
            "big",
            &TagFields {
                definition: Some(r#"//node[@id="memory"]/size > 100000000000"#),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(t.name, "big");
    assert_eq!(tagged(&l, "big").await, vec![b.system_id.clone()]);
    assert_eq!(version(&l, &b).await, before.1, "b kept the tag: unchanged");
    assert!(version(&l, &a).await > before.0, "a lost the tag");

    // A defined tag is not applied by hand; a manual one is, and rebuild leaves it alone.
    let e = l
        .region
        .tag_update_nodes(&l.admin, "big", std::slice::from_ref(&a.system_id), &[])
        .await
        .unwrap_err();
    assert_eq!(kind(&e), "bad request");
    l.region
        .create_tag(
            &l.admin,
            &TagFields {
                name: Some("manual"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    l.region
        .tag_update_nodes(&l.admin, "manual", std::slice::from_ref(&b.system_id), &[])
        .await
        .unwrap();
    assert_eq!(
        l.region.rebuild_tag(&l.admin, "manual").await.unwrap(),
        "manual"
    );
    assert_eq!(tagged(&l, "manual").await, vec![b.system_id.clone()]);

    // Rebuild evaluates again (the same answer here); only administrators.
    assert_eq!(
        kind(&l.region.rebuild_tag(&l.user, "big").await.unwrap_err()),
        "forbidden"
    );
    assert_eq!(
        kind(&l.region.rebuild_tag(&l.admin, "nope").await.unwrap_err()),
        "not found"
    );
    assert_eq!(l.region.rebuild_tag(&l.admin, "big").await.unwrap(), "big");
    assert_eq!(tagged(&l, "big").await, vec![b.system_id.clone()]);

    // Commissioning again with other hardware re-evaluates every definition for that machine.
    commission_with(&l, &b, "SAMPLE_LXD_RESOURCES.json", None).await;
    assert_eq!(tagged(&l, "lenovo").await, Vec::<String>::new());
    assert_eq!(tagged(&l, "crucial").await, ab);
    // The machine's events say which tags its definitions gave and took.
    let evs = l
        .region
        .events(
            std::slice::from_ref(&b.system_id),
            &["INFO"],
            None,
            None,
            100,
        )
        .await
        .unwrap();
    assert_eq!(
        evs[0].description,
        "Tags by definition: added crucial, intel-nic; removed big, lenovo"
    );

    // Removing the definition makes the tag manual: its machines stay.
    l.region
        .update_tag(
            &l.admin,
            "crucial",
            &TagFields {
                definition: Some(""),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(tagged(&l, "crucial").await, ab);
    l.region
        .tag_update_nodes(&l.admin, "crucial", &[], std::slice::from_ref(&a.system_id))
        .await
        .unwrap();
    assert_eq!(tagged(&l, "crucial").await, vec![b.system_id.clone()]);

    // The details: lshw from the inventory, the LLDP capture as sent; none for a bare machine.
    let d = l.region.hardware_details(a.id).await.unwrap();
    let lshw = String::from_utf8(d.lshw.unwrap()).unwrap();
    assert!(
        lshw.contains("<product>Crucial_CT512M55</product>"),
        "{lshw}"
    );
    assert_eq!(d.lldp.as_deref(), Some(lldp.as_bytes()));
    let d = l.region.hardware_details(bare.id).await.unwrap();
    assert_eq!((d.lshw, d.lldp), (None, None));
}
