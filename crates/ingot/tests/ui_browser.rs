//! The web UI in a real browser: Debian's Chromium, headless, driven through its chromedriver
//! (W3C WebDriver over HTTP on loopback) against the real binary. A user signs in with the
//! form, sees the machine list grouped by status, watches a change made through the API
//! appear without a reload, runs an action on two machines and reads what happened to each,
//! filters through the URL, opens ten more tabs and still loads the next page (the tabs share
//! one live stream), adds machines with the form (field errors from the API next to their
//! fields), and signs out.

mod common;
use common::webdriver::{chromedriver_or_skip, start_driver, Browser};
use common::{mac, Server};
use serde_json::json;
use std::time::{Duration, Instant};

fn status_of(host: &str) -> String {
    format!(
        "const td = document.querySelector('tr[data-hostname=\"{host}\"] td.status'); return td ? td.textContent : ''"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_machine_list_in_chromium() {
    let Some(bin) = chromedriver_or_skip() else {
        return;
    };
    let s = Server::start(&[]).await;
    let admin = s.client();
    let mut ids = std::collections::HashMap::new();
    for (i, name) in ["web-01", "web-02", "db-01"].iter().enumerate() {
        ids.insert(
            *name,
            admin.ready_machine(name, &mac(50 + i as u32), &[]).await,
        );
    }
    let driver = start_driver(&bin).await;
    let base = s.base.clone();
    let b = Browser::new(&driver, &base).await;

    // Sign in through the form.
    b.goto(&format!("{base}/MAAS/r/")).await;
    assert!(b
        .js("return location.pathname")
        .await
        .as_str()
        .unwrap()
        .starts_with("/MAAS/accounts/login"));
    b.sign_in("admin", "pw").await;
    b.until(
        "the machine list",
        "return !!document.querySelector('tr[data-hostname=\"web-01\"]')",
        Duration::from_secs(10),
    )
    .await;
    b.shot("machines").await;
    // Its storage and its MAC (it holds no address yet) are in its row.
    let web01 = b
        .js("return document.querySelector('tr[data-hostname=\"web-01\"]').innerText")
        .await;
    let web01 = web01.as_str().unwrap();
    assert!(web01.contains(&mac(50)) && web01.contains(" GB"), "{web01}");
    b.until(
        "the live stream",
        "return document.getElementById('live').textContent === 'live'",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        b.js("return document.querySelector('section h2').textContent")
            .await,
        json!("Deployed 1"),
        "the region's own host comes first (controllers are machines)"
    );

    // A change made elsewhere appears without a reload.
    b.js("window.ingotMarker = 42; return true").await;
    let t = Instant::now();
    admin
        .op(&ids["web-01"], "mark_broken", &[("comment", "disk noise")])
        .await
        .ok();
    let took = b
        .until(
            "web-01 shown broken",
            &format!(
                "return ({})().startsWith('Broken')",
                format_args!("() => {{ {} }}", status_of("web-01"))
            ),
            Duration::from_secs(5),
        )
        .await;
    eprintln!(
        "API change visible in the page after {took:?} ({:?} with the request)",
        t.elapsed()
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(
        b.js("return window.ingotMarker").await,
        json!(42),
        "no reload"
    );

    // An action on two machines: what happened to each.
    for h in ["web-01", "web-02"] {
        b.click(&format!("input[aria-label=\"select {h}\"]")).await;
    }
    b.choose("Action", "Mark fixed").await;
    b.press("Run on selected").await;
    b.until(
        "two results",
        "return document.querySelectorAll('#results li').length === 2",
        Duration::from_secs(10),
    )
    .await;
    let lines = b
        .js("return Array.from(document.querySelectorAll('#results li')).map(li => li.className + ' ' + li.textContent)")
        .await;
    let lines: Vec<String> = lines
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    eprintln!("results: {lines:?}");
    assert!(
        lines.contains(&"ok web-01: Mark fixed: done".to_string()),
        "{lines:?}"
    );
    let refused = lines
        .iter()
        .find(|l| l.starts_with("refused web-02: Mark fixed: "))
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert!(
        refused.contains("Ready"),
        "the reason names the status: {refused}"
    );
    b.until(
        "web-01 ready again",
        &format!(
            "return ({})().startsWith('Ready')",
            format_args!("() => {{ {} }}", status_of("web-01"))
        ),
        Duration::from_secs(5),
    )
    .await;

    // Filters in the URL.
    b.goto(&format!("{base}/MAAS/r/?q=web")).await;
    assert_eq!(
        b.js("return Array.from(document.querySelectorAll('tr[data-hostname]')).map(t => t.dataset.hostname)")
            .await,
        json!(["web-01", "web-02"])
    );
    assert_eq!(
        b.js("return document.querySelector('input[name=q]').value")
            .await,
        json!("web")
    );

    // Actions that take something: a zone for two machines, a tag (one that exists, one that
    // does not), deploy with an image and UTF-8 user data.
    admin
        .post("/MAAS/api/2.0/zones/", &[("name", "lab")])
        .await
        .ok();
    admin
        .post("/MAAS/api/2.0/tags/", &[("name", "gpu")])
        .await
        .ok();
    admin.upload_image("custom/ui-img", b"an image").await;
    admin
        .post(
            "/MAAS/api/2.0/machines/?op=allocate",
            &[("system_id", &ids["web-02"])],
        )
        .await
        .ok();
    let run = |op: &'static str, hosts: &'static [&'static str], setup: &'static str| {
        let b = &b;
        async move {
            b.goto(&format!("{}/MAAS/r/", b.base)).await;
            for h in hosts {
                b.click(&format!("tr[data-hostname=\"{h}\"] input.pick"))
                    .await;
            }
            b.js(&format!(
                "const a = document.getElementById('action'); a.value = '{op}'; a.dispatchEvent(new Event('change')); {setup}; return true"
            ))
            .await;
            b.click("#run").await;
            b.until(
                op,
                &format!(
                    "return document.querySelectorAll('#results li').length === {}",
                    hosts.len()
                ),
                Duration::from_secs(10),
            )
            .await;
            let v = b
                .js("return Array.from(document.querySelectorAll('#results li')).map(li => li.className + ' ' + li.textContent)")
                .await;
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect::<Vec<String>>()
        }
    };
    let out = run(
        "set_zone",
        &["web-01", "db-01"],
        "document.querySelector('#act select[name=zone]').value = 'lab'",
    )
    .await;
    assert!(out.iter().all(|l| l.starts_with("ok ")), "{out:?}");
    let m = admin.machine(&ids["db-01"]).await;
    assert_eq!(m["zone"]["name"], "lab");
    let out = run(
        "tag",
        &["web-01"],
        "document.querySelector('#act input[name=tag]').value = 'gpu'",
    )
    .await;
    assert_eq!(out, vec!["ok web-01: Tag: done".to_string()]);
    assert_eq!(
        admin.machine(&ids["web-01"]).await["tag_names"],
        json!(["gpu"])
    );
    let out = run(
        "tag",
        &["web-01"],
        "document.querySelector('#act input[name=tag]').value = 'nope'",
    )
    .await;
    assert!(out[0].starts_with("refused web-01: Tag: "), "{out:?}");
    let ud = "#!/bin/sh\necho h\u{e9}llo \u{2713}\n";
    b.goto(&format!("{base}/MAAS/r/")).await;
    let out = run(
        "deploy",
        &["web-02"],
        "document.querySelector('#act select[name=distro_series]').value = 'custom/ui-img'; document.querySelector('#act textarea[name=user_data]').value = '#!/bin/sh\\necho h\u{e9}llo \u{2713}\\n'",
    )
    .await;
    assert_eq!(out, vec!["ok web-02: Deploy: done".to_string()], "{out:?}");
    let cfg = admin
        .get(&format!(
            "/MAAS/api/2.0/machines/{}/?op=get_curtin_config",
            ids["web-02"]
        ))
        .await
        .ok()
        .json();
    use base64::Engine as _;
    let got = base64::engine::general_purpose::STANDARD
        .decode(cfg["user_data"].as_str().unwrap_or_else(|| panic!("{cfg}")))
        .unwrap();
    assert_eq!(String::from_utf8(got).unwrap(), ud);
    assert_eq!(cfg["image"]["name"], "custom/ui-img", "{cfg}");

    // Ten more tabs with the list open; the next page still loads, and is live.
    for _ in 0..10 {
        b.new_tab().await;
        b.goto(&format!("{base}/MAAS/r/")).await;
    }
    b.new_tab().await;
    let t = Instant::now();
    b.goto(&format!("{base}/MAAS/r/?q=db")).await;
    eprintln!("the 12th tab loaded in {:?}", t.elapsed());
    assert!(t.elapsed() < Duration::from_secs(10));
    b.until(
        "db-01 in the 12th tab",
        "return !!document.querySelector('tr[data-hostname=\"db-01\"]')",
        Duration::from_secs(5),
    )
    .await;
    b.until(
        "the shared stream",
        "return document.getElementById('live').textContent === 'live'",
        Duration::from_secs(10),
    )
    .await;
    admin
        .op(&ids["db-01"], "mark_broken", &[("comment", "fan")])
        .await
        .ok();
    b.until(
        "db-01 shown broken in the 12th tab",
        &format!(
            "return ({})().startsWith('Broken')",
            format_args!("() => {{ {} }}", status_of("db-01"))
        ),
        Duration::from_secs(5),
    )
    .await;

    // Add a machine with the form: the IPMI driver's own fields; the API's field errors next
    // to their fields; then a deployed machine (the seed's: no commissioning).
    b.goto(&format!("{base}/MAAS/r/add")).await;
    b.shot("add-machine").await;
    b.js("const s = document.querySelector('select[name=power_type]'); s.value = 'ipmi'; s.dispatchEvent(new Event('change')); return true").await;
    assert_eq!(
        b.js("return Array.from(document.querySelectorAll('fieldset.power')).filter(f => f.offsetParent !== null).map(f => f.dataset.power)").await,
        json!(["ipmi"])
    );
    assert_eq!(
        b.js("return !!document.querySelector('fieldset[data-power=ipmi] input[name=power_parameters_power_address]')").await,
        json!(true)
    );
    b.type_in("input[name=hostname]", "bad name!").await;
    b.type_in("textarea[name=mac_addresses]", "zz:zz").await;
    b.click("form#add button[type=submit]").await;
    b.until(
        "field errors",
        "return !document.getElementById('err-hostname').hidden && !document.getElementById('err-mac_addresses').hidden",
        Duration::from_secs(10),
    )
    .await;
    let errs = b
        .js("return ['hostname', 'mac_addresses', 'power_parameters_power_address'].map(f => { const e = document.getElementById('err-' + f); return e.hidden ? '' : e.textContent })")
        .await;
    eprintln!("field errors: {errs}");
    for e in errs.as_array().unwrap() {
        assert!(!e.as_str().unwrap().is_empty(), "{errs}");
    }
    b.js("const f = document.getElementById('add'); f.elements.hostname.value = ''; f.elements.mac_addresses.value = ''; return true").await;
    b.type_in("input[name=hostname]", "new-01").await;
    b.type_in("textarea[name=mac_addresses]", "52:54:00:aa:bb:01")
        .await;
    for (name, value) in [
        ("power_address", "127.0.0.1"),
        ("power_user", "admin"),
        ("power_pass", "secret"),
    ] {
        b.type_in(
            &format!("fieldset[data-power=ipmi] input[name=power_parameters_{name}]"),
            value,
        )
        .await;
    }
    b.click("input[name=commission]").await;
    b.click("input[name=deployed]").await;
    b.click("form#add button[type=submit]").await;
    b.until(
        "the added machine",
        "return !document.getElementById('added').hidden",
        Duration::from_secs(10),
    )
    .await;
    let added = b
        .js("return document.getElementById('added').textContent")
        .await;
    assert!(
        added.as_str().unwrap().starts_with("Added new-01 (")
            && added.as_str().unwrap().ends_with("): Deployed."),
        "{added}"
    );
    let all = admin.get("/MAAS/api/2.0/machines/").await.ok().json();
    let m = all
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["hostname"] == "new-01")
        .expect("new-01 made");
    assert_eq!(m["status_name"], "Deployed");
    assert_eq!(m["power_type"], "ipmi");

    // Without a power type, commissioning cannot start: the page says why it stays New.
    b.fill("Hostname", "no-power-01").await;
    b.fill("MAC addresses", "52:54:00:aa:bb:0f").await;
    b.press("Save machine").await;
    b.until(
        "the machine without a power type",
        "return document.getElementById('added').textContent.startsWith('Added no-power-01 (')",
        Duration::from_secs(10),
    )
    .await;
    let said = b
        .js("return document.getElementById('added').textContent")
        .await;
    assert!(
        said.as_str()
            .unwrap()
            .contains(": New. It stays New: without a power type"),
        "{said}"
    );

    // A machine added normally goes to Commissioning, and a list open in another tab shows it
    // there without a reload.
    let add_tab = b.tab().await;
    b.new_tab().await;
    let list_tab = b.tab().await;
    b.goto(&format!("{base}/MAAS/r/")).await;
    b.until(
        "the list, live",
        "return document.getElementById('live').textContent === 'live'",
        Duration::from_secs(10),
    )
    .await;
    b.js("window.ingotMarker = 9; return true").await;
    b.switch_to(&add_tab).await;
    b.fill("Hostname", "new-02").await;
    b.fill("MAC addresses", "52:54:00:aa:bb:02").await;
    // (Without a power type commissioning cannot start: the machine would stay New, as MAAS.)
    b.choose("Power type", "Manual").await;
    b.press("Save machine").await;
    b.until(
        "the second added machine",
        "return document.getElementById('added').textContent.startsWith('Added new-02 (')",
        Duration::from_secs(10),
    )
    .await;
    b.switch_to(&list_tab).await;
    b.until(
        "new-02 commissioning in the other tab",
        &format!(
            "return ({})().startsWith('Commissioning')",
            format_args!("() => {{ {} }}", status_of("new-02"))
        ),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(
        b.js("return window.ingotMarker").await,
        json!(9),
        "no reload"
    );

    // Sign out.
    b.goto(&format!("{base}/MAAS/r/")).await;
    b.press("Sign out").await;
    b.until(
        "the sign-in form",
        "return location.pathname.startsWith('/MAAS/accounts/login') && !!document.querySelector('input[name=password]')",
        Duration::from_secs(10),
    )
    .await;
    drop(driver);
}

/// Play a commissioning machine's agent: every script passes but the first, which fails with
/// `output`; then the failure is signalled.
async fn commission_failing(admin: &common::Client, sid: &str, output: &[u8]) {
    const META: &str = "/MAAS/metadata/2012-03-01/";
    let t = admin.token(sid).await;
    let m = admin.with_token(&t);
    let idx = m.get(&format!("{META}maas-scripts/")).await.ok().json();
    for (i, e) in idx["commissioning_scripts"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let name = e["name"].as_str().unwrap().to_string();
        let rid = e["script_result_id"].as_i64().unwrap().to_string();
        let (exit, out): (&[u8], &[u8]) = if i == 0 {
            (b"1", output)
        } else {
            (b"0", b"ok\n")
        };
        let out_name = format!("{name}.out");
        m.post_files(
            &format!("{META}?op=signal"),
            &[
                ("status", b"WORKING"),
                ("script_result_id", rid.as_bytes()),
                ("exit_status", exit),
                ("runtime", b"0.5"),
                (name.as_str(), out),
                (out_name.as_str(), out),
            ],
        )
        .await
        .ok();
    }
    m.post_multipart(
        &format!("{META}?op=signal"),
        &[("status", b"FAILED"), ("error", b"a script failed")],
    )
    .await
    .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_machine_page_in_chromium() {
    let Some(bin) = chromedriver_or_skip() else {
        return;
    };
    let s = Server::start(&[]).await;
    let admin = s.client();
    let m = admin.create("fail-01", &mac(60), &[]).await;
    let sid = m["system_id"].as_str().unwrap().to_string();
    // Its first network boot finds no ephemeral image: a failed hop.
    s.anon()
        .get(&format!(
            "/MAAS/boot/ipxe?mac={}&arch=amd64&firmware=bios",
            mac(60)
        ))
        .await
        .ok();
    commission_failing(&admin, &sid, b"<b>SMART: 12 sectors pending</b>\n").await;
    assert_eq!(
        admin.machine(&sid).await["status_name"],
        "Failed commissioning"
    );
    admin
        .put(
            &format!("/MAAS/api/2.0/machines/{sid}/"),
            &[("description", "<script>alert('x')</script> rack 3")],
        )
        .await
        .ok();
    admin
        .post("/MAAS/api/2.0/zones/", &[("name", "rack-b")])
        .await
        .ok();
    // Another machine, allocated to the administrator: not bob's to see.
    let other = admin.ready_machine("admins-01", &mac(61), &[]).await;
    admin
        .post(
            "/MAAS/api/2.0/machines/?op=allocate",
            &[("system_id", &other)],
        )
        .await
        .ok();
    let bob = s.user("bob").await;

    let driver = start_driver(&bin).await;
    let base = s.base.clone();
    let b = Browser::new(&driver, &base).await;
    b.sign_in("admin", "pw").await;
    b.goto(&format!("{base}/MAAS/r/machine/{sid}")).await;
    b.until(
        "the machine page",
        "return !!document.getElementById('h-results')",
        Duration::from_secs(10),
    )
    .await;
    b.shot("machine-failed-commissioning").await;
    let text = b.js("return document.body.innerText").await;
    let text = text.as_str().unwrap().to_string();
    // What a user supplied is text, never markup.
    assert!(
        text.contains("<script>alert('x')</script> rack 3"),
        "{text}"
    );
    assert_eq!(
        b.js("return document.querySelectorAll('#machines script').length")
            .await,
        json!(0)
    );
    // The failed script, marked, with its output as text.
    let failed = b
        .js("const r = document.querySelector('tr.failed'); r.querySelector('details').open = true; return r.innerText")
        .await;
    let failed = failed.as_str().unwrap();
    assert!(failed.contains("Failed"), "{failed}");
    assert!(
        failed.contains("<b>SMART: 12 sectors pending</b>"),
        "{failed}"
    );
    // The netboot timeline marks the failing hop.
    let hop = b
        .js("const li = document.querySelector('ol.timeline li.failed'); return li ? li.innerText : ''")
        .await;
    assert!(
        hop.as_str().unwrap().starts_with("✗ failed:") && hop.as_str().unwrap().contains("nothing"),
        "{hop}"
    );
    // Actions: what the status allows; the others disabled with the reason.
    let deploy = b
        .js("const o = document.querySelector('#action option[value=deploy]'); return [o.disabled, o.textContent]")
        .await;
    assert_eq!(deploy[0], json!(true), "{deploy}");
    assert!(deploy[1].as_str().unwrap().contains("not now:"), "{deploy}");
    assert_eq!(
        b.js("return document.querySelector('#action option[value=commission]').disabled")
            .await,
        json!(false)
    );
    // Live: a change made through the API shows without a reload.
    b.until(
        "the live stream",
        "return document.getElementById('live').textContent === 'live'",
        Duration::from_secs(10),
    )
    .await;
    b.js("window.ingotMarker = 7; return true").await;
    admin
        .put(
            &format!("/MAAS/api/2.0/machines/{sid}/"),
            &[("description", "replaced disk")],
        )
        .await
        .ok();
    b.until(
        "the new description",
        "return document.getElementById('h-summary').parentElement.innerText.includes('replaced disk')",
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(b.js("return window.ingotMarker").await, json!(7));
    // Description and zone through the page's form.
    b.click_text("summary", "Edit description, zone and pool")
        .await;
    b.fill("Description", "moved to rack B").await;
    b.choose("Zone", "rack-b").await;
    b.press("Save").await;
    b.until(
        "saved",
        "return document.querySelector('form[data-api] .form-result').textContent === 'Saved.'",
        Duration::from_secs(10),
    )
    .await;
    let m = admin.machine(&sid).await;
    assert_eq!(
        (m["description"].as_str(), m["zone"]["name"].as_str()),
        (Some("moved to rack B"), Some("rack-b"))
    );
    // Power parameters are for administrators.
    assert!(b
        .js("return document.getElementById('h-power').parentElement.innerText")
        .await
        .as_str()
        .unwrap()
        .contains("Type"));
    b.press("Sign out").await;
    b.until(
        "signed out",
        "return location.pathname.startsWith('/MAAS/accounts/login')",
        Duration::from_secs(10),
    )
    .await;

    // A user sees what the API lets them see; he signs in with the keyboard alone.
    b.goto(&format!("{base}/MAAS/r/")).await;
    b.until(
        "the sign-in form, focused",
        "return document.activeElement && document.activeElement.name === 'username'",
        Duration::from_secs(10),
    )
    .await;
    b.keys("bob\u{E004}pw\u{E007}").await;
    b.until(
        "signed in by keyboard",
        "return document.body.innerText.includes('Signed in as bob')",
        Duration::from_secs(10),
    )
    .await;
    b.shot("machines-bob").await;
    let hosts = b
        .js("return Array.from(document.querySelectorAll('tr[data-hostname]')).map(t => t.dataset.hostname)")
        .await;
    let hosts: Vec<&str> = hosts
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert!(hosts.contains(&"fail-01"), "{hosts:?}");
    assert!(!hosts.contains(&"admins-01"), "{hosts:?}");
    let api_view = bob.get("/MAAS/api/2.0/machines/").await.ok().json();
    let api_hosts: Vec<&str> = api_view
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["hostname"].as_str().unwrap())
        .collect();
    let mut a = api_hosts.clone();
    let mut u = hosts.clone();
    a.sort();
    u.sort();
    assert_eq!(u, a, "the UI shows what the API shows bob");
    b.goto(&format!("{base}/MAAS/r/machine/{other}")).await;
    let body = b.js("return document.body.innerText").await;
    assert!(
        body.as_str()
            .unwrap()
            .contains("You do not have permission to view this machine."),
        "{body}"
    );
    b.goto(&format!("{base}/MAAS/r/machine/{sid}")).await;
    b.shot("machine-as-bob").await;
    assert!(b
        .js("return document.getElementById('h-power').parentElement.innerText")
        .await
        .as_str()
        .unwrap()
        .contains("administrators only"));
    drop(driver);
}

/// A READY machine commissioned with these disks (name, bytes, rpm) and NICs eth0..eth{n-1}.
async fn commissioned(
    admin: &common::Client,
    host: &str,
    n: u32,
    disks: &[(&str, u64, u64)],
) -> String {
    let macs: Vec<String> = (0..2).map(|i| mac(n * 16 + i)).collect();
    let m = admin.create(host, &macs[0], &[]).await;
    let sid = m["system_id"].as_str().unwrap().to_string();
    let nics = [("eth0", macs[0].as_str()), ("eth1", macs[1].as_str())];
    let inv = common::inventory_with(&admin.machine(&sid).await, "x86_64", disks, &nics);
    admin.commission_ok_with(&sid, Some(&inv)).await;
    sid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clone_flow_in_chromium() {
    let Some(bin) = chromedriver_or_skip() else {
        return;
    };
    let s = Server::start(&[]).await;
    let admin = s.client();
    const GB: u64 = 1_000_000_000;
    let two = [("sda", 100 * GB, 7200), ("sdb", 50 * GB, 0)];
    let src = commissioned(&admin, "src-01", 70, &two).await;
    let good = commissioned(&admin, "good-01", 71, &two).await;
    let racer = commissioned(&admin, "racer-01", 72, &two).await;
    let small = commissioned(&admin, "small-01", 73, &[("sda", 20 * GB, 0)]).await;
    // The source's layout is LVM: what the destinations get.
    admin
        .post(
            &format!("/MAAS/api/2.0/machines/{src}/?op=set_storage_layout"),
            &[("storage_layout", "lvm")],
        )
        .await
        .ok();
    assert!(admin.machine(&good).await["volume_groups"]
        .as_array()
        .is_none_or(|v| v.is_empty()));

    let driver = start_driver(&bin).await;
    let base = s.base.clone();
    let b = Browser::new(&driver, &base).await;
    b.sign_in("admin", "pw").await;
    b.click_text("a", "Clone").await;
    b.until(
        "the clone form",
        "return document.title.startsWith('Clone')",
        Duration::from_secs(10),
    )
    .await;
    // The source is checked to exist.
    b.fill("Source machine", "no-such-host").await;
    b.press("Show destinations").await;
    b.until(
        "the source refused",
        "const e = document.getElementById('err-source'); return !!e && !e.hidden && e.textContent.includes('no-such-host')",
        Duration::from_secs(10),
    )
    .await;
    b.shot("clone-unknown-source").await;
    b.fill("Source machine", "src-01").await;
    b.press("Show destinations").await;
    b.until(
        "the destinations",
        "return !!document.getElementById('clone')",
        Duration::from_secs(10),
    )
    .await;
    b.shot("clone-destinations").await;
    let text = b.js("return document.body.innerText").await;
    let text = text.as_str().unwrap().to_string();
    assert!(!text.contains(&format!("src-01 {src}\t")), "{text}");
    // The source is not among the destinations at all (no box, enabled or not, names it).
    assert_eq!(
        b.js("return [...document.querySelectorAll('#clone tbody tr')].filter(t => t.innerText.includes('src-01')).length")
            .await,
        json!(0)
    );
    // The ineligible machine says why and cannot be chosen.
    let small_row = b
        .js(&format!(
            "return [...document.querySelectorAll('tr')].find(t => t.innerText.includes('{small}')).innerText"
        ))
        .await;
    let small_row = small_row.as_str().unwrap();
    assert!(small_row.contains("Not eligible: storage:"), "{small_row}");
    assert_eq!(
        b.js("return document.querySelector(\"input[aria-label='small-01 cannot be cloned onto']\").disabled")
            .await,
        json!(true)
    );
    // Choosing shows which machines will change.
    b.click("input[aria-label='clone onto good-01']").await;
    b.click("input[aria-label='clone onto racer-01']").await;
    let changing = b
        .js("return document.getElementById('changing').innerText")
        .await;
    let changing = changing.as_str().unwrap();
    assert!(
        changing.contains(&format!("good-01 ({good})"))
            && changing.contains(&format!("racer-01 ({racer})"))
            && !changing.contains("small-01"),
        "{changing}"
    );
    // Meanwhile one of them is allocated: the clone refuses it, and says so.
    admin
        .post(
            "/MAAS/api/2.0/machines/?op=allocate",
            &[("system_id", &racer)],
        )
        .await
        .ok();
    b.press("Clone onto the chosen machines").await;
    let ask = b
        .js("return document.getElementById('confirm-text').innerText")
        .await;
    let ask = ask.as_str().unwrap();
    assert!(
        ask.contains(&format!("good-01 ({good})"))
            && ask.contains(&format!("racer-01 ({racer})"))
            && ask.contains(&format!("src-01 ({src})")),
        "{ask}"
    );
    b.shot("clone-confirm").await;
    b.press("Confirm clone").await;
    b.until(
        "the result",
        "return !document.getElementById('clone-result').hidden",
        Duration::from_secs(20),
    )
    .await;
    b.shot("clone-result").await;
    let cloned = b
        .js("return document.getElementById('cloned').innerText")
        .await;
    assert_eq!(cloned.as_str().unwrap().trim(), format!("good-01 ({good})"));
    let failed = b
        .js("return document.getElementById('not-cloned').innerText")
        .await;
    assert_eq!(
        failed.as_str().unwrap().trim(),
        format!(
            "racer-01 ({racer}): it is Allocated; only Ready or Failed testing machines can be cloned onto."
        )
    );
    // The destination changed; the refused one did not.
    let vgs = |m: serde_json::Value| m["volume_groups"].as_array().map_or(0, |v| v.len());
    assert_eq!(vgs(admin.machine(&good).await), 1);
    assert_eq!(vgs(admin.machine(&racer).await), 0);
    b.press("Clear the result").await;
    assert_eq!(
        b.js("return document.getElementById('clone-result').hidden")
            .await,
        json!(true)
    );
    // The machine page leads to the form with its machine as the source.
    b.goto(&format!("{base}/MAAS/r/machine/{good}")).await;
    b.click_text("a", "Clone onto other machines").await;
    b.until(
        "the form from the machine page",
        "return !!document.getElementById('clone')",
        Duration::from_secs(10),
    )
    .await;
    let intro = b
        .js("return document.querySelector('#clone p').innerText")
        .await;
    assert!(
        intro
            .as_str()
            .unwrap()
            .contains(&format!("good-01 ({good}")),
        "{intro}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_machine_page_changes_storage_network_and_credentials_in_chromium() {
    let Some(bin) = chromedriver_or_skip() else {
        return;
    };
    let s = Server::start(&[]).await;
    let admin = s.client();
    let sid = admin.ready_machine("store-01", &mac(80), &[]).await;
    admin
        .post(
            "/MAAS/api/2.0/machines/?op=allocate",
            &[("system_id", &sid)],
        )
        .await
        .ok();
    admin
        .post(
            "/MAAS/api/2.0/subnets/",
            &[("cidr", "10.20.0.0/24"), ("name", "store-net")],
        )
        .await
        .ok();
    let driver = start_driver(&bin).await;
    let base = s.base.clone();
    let b = Browser::new(&driver, &base).await;
    b.sign_in("admin", "pw").await;
    b.goto(&format!("{base}/MAAS/r/machine/{sid}")).await;
    b.until(
        "the machine page",
        "return !!document.getElementById('h-storage')",
        Duration::from_secs(10),
    )
    .await;

    // The storage layout: LVM, shown in the storage section without a reload.
    b.click_text("summary", "Change the storage layout").await;
    b.choose("Layout", "lvm").await;
    b.press("Apply the layout").await;
    b.until(
        "the volume group",
        "return document.querySelector('section[aria-labelledby=h-storage]').innerText.includes('vgroot')",
        Duration::from_secs(10),
    )
    .await;
    let vgs = admin.machine(&sid).await["volume_groups"].clone();
    assert_eq!(vgs[0]["name"], "vgroot", "{vgs}");

    // A static address: one outside the subnet is refused with the API's reason; then linked.
    b.click_text("summary", "Link a subnet").await;
    b.choose("Subnet", "10.20.0.0/24").await;
    b.choose("Mode", "STATIC").await;
    b.fill("IP address", "10.20.1.30").await;
    b.press("Link the subnet").await;
    b.until(
        "the address refused",
        "const f = [...document.querySelectorAll('form')].find(f => (f.dataset.api || '').includes('link_subnet')); return [...f.querySelectorAll('.error, .form-result')].some(e => !e.hidden && e.textContent.length > 8)",
        Duration::from_secs(10),
    )
    .await;
    b.shot("machine-link-refused").await;
    b.fill("IP address", "10.20.0.30").await;
    b.press("Link the subnet").await;
    b.until(
        "the link shown",
        "return document.querySelector('section[aria-labelledby=h-net]').innerText.includes('10.20.0.30')",
        Duration::from_secs(10),
    )
    .await;
    let m = admin.machine(&sid).await;
    assert_eq!(
        m["interface_set"][0]["links"][0]["ip_address"], "10.20.0.30",
        "{m:#}"
    );

    // The owner's machine credentials: made, shown, replaced.
    b.click_text("summary", "Machine credentials").await;
    let token_key = |text: serde_json::Value| -> String {
        let t = text.as_str().unwrap_or_default().to_string();
        t.lines()
            .find_map(|l| l.strip_prefix("token_key: "))
            .unwrap_or_default()
            .to_string()
    };
    let mut seen = Vec::new();
    for round in 0..2 {
        b.js("document.getElementById('token').textContent = ''; return true")
            .await;
        b.press("Regenerate the credentials").await;
        b.until(
            "new credentials",
            "return document.getElementById('token').textContent.includes('(new:')",
            Duration::from_secs(10),
        )
        .await;
        let shown = token_key(
            b.js("return document.getElementById('token').textContent")
                .await,
        );
        let api: serde_json::Value = admin
            .get(&format!("/MAAS/api/2.0/machines/{sid}/?op=get_token"))
            .await
            .ok()
            .json();
        assert_eq!(api["token_key"], shown.as_str(), "round {round}");
        b.js("document.getElementById('token').textContent = ''; return true")
            .await;
        b.press("Show the credentials").await;
        b.until(
            "the credentials",
            "return document.getElementById('token').textContent.includes('token_key: ')",
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(
            token_key(
                b.js("return document.getElementById('token').textContent")
                    .await
            ),
            shown
        );
        seen.push(shown);
    }
    b.shot("machine-credentials").await;
    assert_ne!(seen[0], seen[1], "regenerated credentials are new");
}
