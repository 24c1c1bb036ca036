//! The web UI's administration pages in a real browser (Debian's Chromium through
//! chromedriver) against the real binary: zones, resource pools, tags, settings, users and
//! the account's API and SSH keys. Each change is made with the page's form, the API's
//! refusal is read next to its field, and the result is checked through the API. A user who
//! is not an administrator sees the lists without the forms, and not the users.

mod common;
use common::webdriver::{chromedriver_or_skip, start_driver, Browser};
use common::Server;
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// The page's text.
async fn text(b: &Browser) -> String {
    b.js("return document.body.innerText")
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Go to a page of the UI by its link in the navigation, and wait for its title.
async fn open(b: &Browser, link: &str) {
    b.js(&format!(
        "[...document.querySelectorAll('nav a')].find(a => a.textContent === '{link}').click(); return true"
    ))
    .await;
    b.until(
        &format!("the {link} page"),
        &format!(
            "return document.title.startsWith('{link} |') && document.readyState === 'complete'"
        ),
        WAIT,
    )
    .await;
}

/// Wait until the page (reloaded after a save) says `want`.
async fn says(b: &Browser, what: &str, want: &str) {
    b.until(
        what,
        &format!(
            "return document.readyState === 'complete' && document.body.innerText.includes({})",
            json!(want)
        ),
        WAIT,
    )
    .await;
}

/// Open the disclosure `summary` of the table row that says `row`.
async fn open_in_row(b: &Browser, row: &str, summary: &str) {
    let done = b
        .js(&format!(
            "const t = [...document.querySelectorAll('tr')].find(t => t.innerText.includes({})); \
             const s = t && [...t.querySelectorAll('summary')].find(s => s.textContent === {}); \
             if (s) s.click(); return !!s",
            json!(row),
            json!(summary)
        ))
        .await;
    assert_eq!(done, json!(true), "no {summary:?} in the row of {row:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_administration_pages_in_chromium() {
    let Some(bin) = chromedriver_or_skip() else {
        return;
    };
    let s = Server::start(&[]).await;
    let admin = s.client();
    let bob = s.user("bob").await;
    let driver = start_driver(&bin).await;
    let base = s.base.clone();
    let b = Browser::new(&driver, &base).await;
    b.sign_in("admin", "pw").await;

    // Zones: add one; the same name again is refused next to the field; edit; delete.
    open(&b, "Zones").await;
    b.fill_in("Add a zone", "Name", "rack-c").await;
    b.fill_in("Add a zone", "Description", "third <row>").await;
    b.press_in("Add a zone", "Add zone").await;
    says(&b, "the new zone", "third <row>").await;
    b.shot("admin-zones").await;
    assert_eq!(
        admin.get("/MAAS/api/2.0/zones/rack-c/").await.ok().json()["description"],
        "third <row>"
    );
    b.fill_in("Add a zone", "Name", "rack-c").await;
    b.press_in("Add a zone", "Add zone").await;
    b.until(
        "the refusal next to the name",
        "const e = document.querySelector('section[aria-labelledby=h-add] [data-error-for=name]'); return !!e && !e.hidden && e.textContent.length > 0",
        WAIT,
    )
    .await;
    let refusal = b
        .js("return document.querySelector('section[aria-labelledby=h-add] [data-error-for=name]').textContent")
        .await;
    let api = admin
        .post("/MAAS/api/2.0/zones/", &[("name", "rack-c")])
        .await;
    assert_eq!(api.status, 400);
    assert_eq!(
        refusal,
        json!(api.json()["name"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(" ")),
        "the page says what the API says"
    );
    b.click_text("summary", "Edit rack-c").await;
    b.fill_in("Zones", "Description", "row three").await;
    b.press_in("Zones", "Save").await;
    says(&b, "the edited zone", "row three").await;
    open_in_row(&b, "row three", "Delete…").await;
    b.press_in("Zones", "Delete zone rack-c").await;
    b.until(
        "the zone gone",
        "return document.readyState === 'complete' && !document.body.innerText.includes('row three')",
        WAIT,
    )
    .await;
    assert_eq!(admin.get("/MAAS/api/2.0/zones/rack-c/").await.status, 404);

    // Resource pools.
    open(&b, "Resource pools").await;
    b.fill_in("Add a resource pool", "Name", "gpu-pool").await;
    b.press_in("Add a resource pool", "Add resource pool").await;
    says(&b, "the new pool", "gpu-pool").await;
    let pools = admin.get("/MAAS/api/2.0/resourcepools/").await.ok().json();
    assert!(
        pools
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "gpu-pool"),
        "{pools}"
    );

    // Tags: a definition that is not XPath is refused next to it; a manual tag is made.
    open(&b, "Tags").await;
    b.fill_in("Add a tag", "Name", "bad").await;
    b.fill_in("Add a tag", "Definition", "//node[").await;
    b.press_in("Add a tag", "Add tag").await;
    b.until(
        "the definition refused",
        "const e = document.querySelector('section[aria-labelledby=h-add] [data-error-for=definition]'); return !!e && !e.hidden",
        WAIT,
    )
    .await;
    b.shot("admin-tags-refused").await;
    assert_eq!(admin.get("/MAAS/api/2.0/tags/bad/").await.status, 404);
    b.fill_in("Add a tag", "Name", "fast").await;
    b.fill_in("Add a tag", "Definition", "").await;
    b.fill_in("Add a tag", "Comment", "NVMe only").await;
    b.press_in("Add a tag", "Add tag").await;
    says(&b, "the new tag", "NVMe only").await;

    // Settings: a refused value, then one that is kept.
    open(&b, "Settings").await;
    b.fill("New value of max_concurrent_deployments", "-1")
        .await;
    b.press("Set max_concurrent_deployments").await;
    b.until(
        "the value refused",
        "const p = [...document.querySelectorAll('form')].find(f => f.querySelector('input[name=name][value=max_concurrent_deployments]')); const e = p.querySelector('[data-error-for=value]'); return !e.hidden && e.textContent.length > 0",
        WAIT,
    )
    .await;
    b.shot("admin-settings-refused").await;
    b.fill("New value of max_concurrent_deployments", "5").await;
    b.press("Set max_concurrent_deployments").await;
    b.until(
        "the value kept",
        "return document.readyState === 'complete' && [...document.querySelectorAll('tr')].find(t => t.cells[0].innerText === 'max_concurrent_deployments').cells[1].innerText === '5'",
        WAIT,
    )
    .await;
    let v = admin
        .get("/MAAS/api/2.0/maas/?op=get_config&name=max_concurrent_deployments")
        .await
        .ok()
        .json();
    assert_eq!(v, json!(5));

    // Users: add one (not an administrator); it can sign in to the API; then delete it.
    open(&b, "Users").await;
    b.fill_in("Add a user", "Username", "carol").await;
    b.fill_in("Add a user", "Email", "carol@example.com").await;
    b.fill_in("Add a user", "Password", "s3cret-pw").await;
    b.press_in("Add a user", "Add user").await;
    says(&b, "the new user", "carol@example.com").await;
    b.shot("admin-users").await;
    let carol = admin.get("/MAAS/api/2.0/users/carol/").await.ok().json();
    assert_eq!(carol["is_superuser"], false, "{carol}");
    let login = s
        .anon()
        .post(
            "/MAAS/accounts/authenticate/",
            &[("username", "carol"), ("password", "s3cret-pw")],
        )
        .await;
    assert_eq!(login.status, 200, "carol signs in with the password set");
    // Made an administrator, and back; nobody takes their own rights away.
    b.press("Make carol an administrator").await;
    b.until(
        "carol an administrator",
        "return document.readyState === 'complete' && [...document.querySelectorAll('button')].some(b => b.textContent === 'Make carol a user')",
        WAIT,
    )
    .await;
    assert_eq!(
        admin.get("/MAAS/api/2.0/users/carol/").await.ok().json()["is_superuser"],
        true
    );
    b.press("Make carol a user").await;
    b.until(
        "carol a user again",
        "return document.readyState === 'complete' && [...document.querySelectorAll('button')].some(b => b.textContent === 'Make carol an administrator')",
        WAIT,
    )
    .await;
    assert_eq!(
        admin.get("/MAAS/api/2.0/users/carol/").await.ok().json()["is_superuser"],
        false
    );
    let own = admin
        .put("/MAAS/api/2.0/users/admin/", &[("is_superuser", "false")])
        .await;
    assert_eq!(own.status, 400, "{}", own.body);
    open_in_row(&b, "carol@", "Delete…").await;
    b.press_in("Users", "Delete user carol").await;
    b.until(
        "carol gone",
        "return document.readyState === 'complete' && !document.body.innerText.includes('carol@')",
        WAIT,
    )
    .await;
    assert_eq!(admin.get("/MAAS/api/2.0/users/carol/").await.status, 404);

    // Account: an API key made, shown whole, working; then deleted. An SSH key refused.
    open(&b, "Account").await;
    b.fill_in("API keys", "Name of the new key", "runbook")
        .await;
    b.press_in("API keys", "Create API key").await;
    says(&b, "the new key", "runbook").await;
    let key = b
        .js("return [...document.querySelectorAll('tr')].find(t => t.innerText.includes('runbook')).querySelector('code').textContent")
        .await;
    let parts: Vec<String> = key
        .as_str()
        .unwrap()
        .split(':')
        .map(str::to_string)
        .collect();
    assert_eq!(parts.len(), 3, "{key}");
    let runbook = common::Client::new(&s.base, key.as_str().unwrap());
    assert_eq!(
        runbook
            .get("/MAAS/api/2.0/users/?op=whoami")
            .await
            .ok()
            .json()["username"],
        "admin"
    );
    b.press("Delete the key runbook").await;
    b.until(
        "the key gone",
        "return document.readyState === 'complete' && !document.body.innerText.includes('runbook')",
        WAIT,
    )
    .await;
    assert_eq!(
        runbook.get("/MAAS/api/2.0/users/?op=whoami").await.status,
        401
    );
    b.fill_in("SSH keys", "Public key", "not a key").await;
    b.press_in("SSH keys", "Add SSH key").await;
    b.until(
        "the SSH key refused",
        "const r = document.querySelector('section[aria-labelledby=h-ssh] .form-result'); const e = document.querySelector('section[aria-labelledby=h-ssh] [data-error-for=key]'); return (!!e && !e.hidden) || (!!r && r.textContent.length > 0 && r.textContent !== 'Saved.')",
        WAIT,
    )
    .await;
    b.shot("admin-account").await;
    let keys: Value = admin
        .get("/MAAS/api/2.0/account/prefs/sshkeys/")
        .await
        .ok()
        .json();
    assert_eq!(keys, json!([]));

    // Scripts: one without its text is refused next to the field; one is uploaded, read
    // back through the API, and deleted. A built-in script has no delete.
    open(&b, "Scripts").await;
    b.fill_in("Upload a script", "Name", "ui-check").await;
    b.press_in("Upload a script", "Upload script").await;
    b.until(
        "the script refused",
        "const e = document.querySelector('section[aria-labelledby=h-add] [data-error-for=script]'); return !!e && !e.hidden && e.textContent.length > 0",
        WAIT,
    )
    .await;
    b.fill_in(
        "Upload a script",
        "Script",
        "#!/bin/sh\necho ui-check-ran\n",
    )
    .await;
    b.fill_in("Upload a script", "Tags", "ui").await;
    b.press_in("Upload a script", "Upload script").await;
    says(&b, "the new script", "ui-check").await;
    b.shot("admin-scripts").await;
    let body = admin
        .get("/MAAS/api/2.0/scripts/ui-check?op=download")
        .await
        .ok()
        .body;
    assert!(body.contains("echo ui-check-ran"), "{body}");
    let builtin_delete = b
        .js("const t = [...document.querySelectorAll('tr')].find(t => t.innerText.startsWith('smartctl-validate')); return !!t && !!t.querySelector('details.danger')")
        .await;
    assert_eq!(builtin_delete, json!(false), "built-ins cannot be deleted");
    open_in_row(&b, "ui-check", "Delete…").await;
    b.press_in("Scripts", "Delete script ui-check").await;
    b.until(
        "the script gone",
        "return document.readyState === 'complete' && !document.body.innerText.includes('ui-check')",
        WAIT,
    )
    .await;
    assert_eq!(
        admin.get("/MAAS/api/2.0/scripts/ui-check").await.status,
        404
    );

    // Bob is not an administrator: lists without forms, and no users.
    b.press("Sign out").await;
    b.sign_in("bob", "pw").await;
    open(&b, "Zones").await;
    let t = text(&b).await;
    assert!(t.contains("default") && !t.contains("Add a zone"), "{t}");
    open(&b, "Users").await;
    let t = text(&b).await;
    assert!(
        t.contains("Only administrators manage users.") && !t.contains("carol"),
        "{t}"
    );
    open(&b, "Settings").await;
    let t = text(&b).await;
    assert!(
        t.contains("max_concurrent_deployments") && !t.contains("Set max_concurrent_deployments"),
        "{t}"
    );
    drop(bob);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_pages_in_chromium() {
    let Some(bin) = chromedriver_or_skip() else {
        return;
    };
    let s = Server::start(&[]).await;
    let admin = s.client();
    let driver = start_driver(&bin).await;
    let base = s.base.clone();
    let b = Browser::new(&driver, &base).await;
    b.sign_in("admin", "pw").await;
    open(&b, "Network").await;

    // A subnet: a CIDR that is not one is refused next to it; then one is made.
    b.fill_in("Add a subnet", "CIDR", "10.9.0.0/33").await;
    b.press_in("Add a subnet", "Add subnet").await;
    b.until(
        "the CIDR refused",
        "const e = document.querySelector('section[aria-labelledby=h-add-subnet] [data-error-for=cidr]'); return !!e && !e.hidden && e.textContent.length > 0",
        WAIT,
    )
    .await;
    b.fill_in("Add a subnet", "CIDR", "10.9.0.0/24").await;
    b.fill_in("Add a subnet", "Name", "lab-net").await;
    b.fill_in("Add a subnet", "Gateway", "10.9.0.1").await;
    b.press_in("Add a subnet", "Add subnet").await;
    says(&b, "the new subnet", "lab-net").await;
    let subnet = admin
        .get("/MAAS/api/2.0/subnets/cidr:10.9.0.0%2F24/")
        .await
        .ok()
        .json();
    assert_eq!(subnet["gateway_ip"], "10.9.0.1", "{subnet}");

    // A dynamic range; one overlapping it is refused with the API's reason.
    b.choose("Subnet", "10.9.0.0/24").await;
    b.fill_in("Add an IP range", "Start address", "10.9.0.100")
        .await;
    b.fill_in("Add an IP range", "End address", "10.9.0.150")
        .await;
    b.press_in("Add an IP range", "Add IP range").await;
    says(&b, "the new range", "10.9.0.150").await;
    b.choose("Subnet", "10.9.0.0/24").await;
    b.fill_in("Add an IP range", "Start address", "10.9.0.140")
        .await;
    b.fill_in("Add an IP range", "End address", "10.9.0.160")
        .await;
    b.press_in("Add an IP range", "Add IP range").await;
    b.until(
        "the overlap refused",
        "const f = document.querySelector('section[aria-labelledby=h-add-range] form'); return [...f.querySelectorAll('.error, .form-result')].some(e => !e.hidden && e.textContent.length > 8)",
        WAIT,
    )
    .await;
    b.shot("network-range-refused").await;
    let ranges = admin.get("/MAAS/api/2.0/ipranges/").await.ok().json();
    assert_eq!(ranges.as_array().unwrap().len(), 1, "{ranges}");

    // DHCP on the untagged VLAN of the default fabric.
    let vlan = admin
        .get("/MAAS/api/2.0/fabrics/0/vlans/0/")
        .await
        .ok()
        .json();
    assert_eq!(vlan["dhcp_on"], false);
    let button = b
        .js("return [...document.querySelectorAll('button')].map(b => b.textContent).find(t => t.startsWith('Turn DHCP on on ')) || ''")
        .await;
    let button = button.as_str().unwrap().to_string();
    assert!(!button.is_empty(), "no DHCP switch");
    b.press(&button).await;
    b.until(
        "DHCP on",
        "return document.readyState === 'complete' && [...document.querySelectorAll('button')].some(b => b.textContent.startsWith('Turn DHCP off on '))",
        WAIT,
    )
    .await;
    b.shot("network").await;
    let vlan = admin
        .get("/MAAS/api/2.0/fabrics/0/vlans/0/")
        .await
        .ok()
        .json();
    assert_eq!(vlan["dhcp_on"], true, "{vlan}");

    // The subnet's page: the addresses in use, and a MAC's netboot timeline.
    b.click_text("a", "10.9.0.0/24").await;
    b.until(
        "the subnet page",
        "return document.title.startsWith('Subnet 10.9.0.0/24')",
        WAIT,
    )
    .await;
    let t = text(&b).await;
    assert!(t.contains("10.9.0.100\t10.9.0.150\t51\tdynamic"), "{t}");
    assert!(t.contains("10.9.0.1\t10.9.0.1\t1\tgateway-ip"), "{t}");
    b.fill("MAC address", "not-a-mac").await;
    b.press("Show timeline").await;
    says(&b, "the MAC refused", "is not a MAC address").await;
    let mac = "52:54:00:aa:bb:01";
    s.anon()
        .get(&format!(
            "/MAAS/boot/ipxe?mac={mac}&arch=amd64&firmware=bios"
        ))
        .await
        .ok();
    b.fill("MAC address", mac).await;
    b.press("Show timeline").await;
    b.until(
        "the timeline",
        "return !!document.querySelector('ol.timeline li')",
        WAIT,
    )
    .await;
    b.shot("subnet-timeline").await;
    let failed = b
        .js("return [...document.querySelectorAll('ol.timeline li.failed')].map(l => l.innerText).join('\\n')")
        .await;
    assert!(
        failed.as_str().unwrap().contains("✗ failed:"),
        "a failed hop is marked: {failed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_images_page_uploads_in_chunks_in_chromium() {
    let Some(bin) = chromedriver_or_skip() else {
        return;
    };
    let s = Server::start(&[]).await;
    let admin = s.client();
    // An image of 9 MiB and a bit (three chunks, the last one short), random bytes.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.img");
    let bytes: Vec<u8> = (0..9 * 1024 * 1024 + 12345)
        .map(|_| rand::random::<u8>())
        .collect();
    std::fs::write(&path, &bytes).unwrap();
    let want = {
        use sha2::Digest as _;
        format!("{:x}", sha2::Sha256::digest(&bytes))
    };

    let driver = start_driver(&bin).await;
    let base = s.base.clone();
    let b = Browser::new(&driver, &base).await;
    b.sign_in("admin", "pw").await;
    open(&b, "Images").await;
    b.shot("images").await;
    // No name: the API's refusal next to the field, nothing made.
    let input = b.labelled("Image file").await;
    b.cmd(
        reqwest::Method::POST,
        &format!("/element/{input}/value"),
        Some(json!({"text": path.display().to_string()})),
    )
    .await;
    b.choose("File type", "ddraw").await;
    b.press("Upload").await;
    b.until(
        "the name refused",
        "const e = document.querySelector('#upload [data-error-for=name]'); return !!e && !e.hidden && e.textContent.length > 0",
        Duration::from_secs(30),
    )
    .await;
    let none: Value = admin
        .get("/MAAS/api/2.0/boot-resources/?type=uploaded")
        .await
        .ok()
        .json();
    assert_eq!(none, json!([]));
    b.fill("Name (custom/NAME)", "custom/browser-disk").await;
    b.fill("Title", "Uploaded from the browser").await;
    b.press("Upload").await;
    b.until(
        "the upload done",
        "return (document.getElementById('upload-state') || {textContent: ''}).textContent.startsWith('Uploaded ') || document.body.innerText.includes('Uploaded from the browser')",
        Duration::from_secs(120),
    )
    .await;
    b.shot("images-uploaded").await;
    let list: Value = admin
        .get("/MAAS/api/2.0/boot-resources/?type=uploaded")
        .await
        .ok()
        .json();
    let id = list[0]["id"].as_i64().expect("the uploaded image");
    let one: Value = admin
        .get(&format!("/MAAS/api/2.0/boot-resources/{id}/"))
        .await
        .ok()
        .json();
    let set = one["sets"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    let file = set["files"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert_eq!(file["sha256"], want, "{one}");
    assert_eq!(file["size"], bytes.len(), "{one}");
    assert_eq!(file["complete"], true, "{one}");
    says(&b, "the image listed", "Uploaded from the browser").await;
}

/// Every control of the page that has no accessible name (label, aria-label or
/// aria-labelledby, its own text, or a title), as `tag name=…` lines; and a positive tabindex
/// (which breaks the keyboard order) counts as a fault too.
const UNNAMED: &str = "return [...document.querySelectorAll('a, button, input, select, textarea, summary')]
  .filter(e => e.type !== 'hidden' && !e.closest('[hidden]'))
  .filter(e => !((e.labels && e.labels.length) || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')
                 || (e.textContent || '').trim() || e.title) || e.tabIndex > 0)
  .map(e => `${e.tagName.toLowerCase()} name=${e.name || ''} ${e.outerHTML.slice(0, 80)}`)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_by_keyboard_and_at_a_phones_width() {
    let Some(bin) = chromedriver_or_skip() else {
        return;
    };
    let s = Server::start(&[]).await;
    let admin = s.client();
    let sid = admin.ready_machine("kb-01", &common::mac(90), &[]).await;
    let subnet = admin
        .post("/MAAS/api/2.0/subnets/", &[("cidr", "10.30.0.0/24")])
        .await
        .ok()
        .json();
    let driver = start_driver(&bin).await;
    let base = s.base.clone();
    let b = Browser::new(&driver, &base).await;

    // Sign in with the keyboard alone: the username field has the focus.
    b.goto(&format!("{base}/MAAS/r/")).await;
    b.until(
        "the sign-in form",
        "return document.activeElement && document.activeElement.name === 'username'",
        WAIT,
    )
    .await;
    b.keys("admin\u{E004}pw\u{E007}").await;
    says(&b, "signed in", "Signed in as admin").await;

    // A zone added with the keyboard: Tab from the top of the page to the form's first field,
    // type, Tab, type, Enter.
    open(&b, "Zones").await;
    // From the first control of the page (the first link of the navigation), Tab until the
    // form's Name field has the focus.
    b.js("document.querySelector('a, button, input, select, textarea, summary').focus(); return true")
        .await;
    let is_name = "return document.activeElement === document.querySelector('section[aria-labelledby=h-add] input[name=name]')";
    let mut tabs = 0;
    while b.js(is_name).await != json!(true) {
        tabs += 1;
        assert!(tabs < 60, "Tab never reaches the form's Name field");
        b.keys("\u{E004}").await;
    }
    b.keys("keyboard-zone\u{E004}made by keys\u{E007}").await;
    says(&b, "the zone made by keys", "made by keys").await;
    let z = admin
        .get("/MAAS/api/2.0/zones/keyboard-zone/")
        .await
        .ok()
        .json();
    assert_eq!(z["description"], "made by keys");
    // A disclosure opens with Enter: the zone's edit form.
    b.js("[...document.querySelectorAll('summary')].find(s => s.textContent === 'Edit keyboard-zone').focus(); return true")
        .await;
    b.keys("\u{E007}").await;
    assert_eq!(
        b.js("return [...document.querySelectorAll('details')].find(d => d.querySelector('summary').textContent === 'Edit keyboard-zone').open")
            .await,
        json!(true)
    );

    // Every page: every control has an accessible name; at a phone's width nothing but the
    // tables (which scroll inside themselves) is wider than the screen.
    let pages = [
        "/MAAS/r/".to_string(),
        "/MAAS/r/add".into(),
        "/MAAS/r/clone".into(),
        format!("/MAAS/r/clone?source={sid}"),
        format!("/MAAS/r/machine/{sid}"),
        "/MAAS/r/controllers".into(),
        "/MAAS/r/network".into(),
        format!("/MAAS/r/subnet/{}", subnet["id"]),
        "/MAAS/r/images".into(),
        "/MAAS/r/scripts".into(),
        "/MAAS/r/zones".into(),
        "/MAAS/r/pools".into(),
        "/MAAS/r/tags".into(),
        "/MAAS/r/settings".into(),
        "/MAAS/r/users".into(),
        "/MAAS/r/account".into(),
    ];
    for (width, height) in [(1280, 800), (390, 844)] {
        b.cmd(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
        for p in &pages {
            b.goto(&format!("{base}{p}")).await;
            b.until(
                "the page",
                "return document.readyState === 'complete'",
                WAIT,
            )
            .await;
            let unnamed = b.js(UNNAMED).await;
            assert_eq!(unnamed, json!([]), "{p}: controls without a name");
            let wide = b
                .js("return [...document.body.querySelectorAll('*')].filter(e => !e.closest('table') && e.getBoundingClientRect().right > document.documentElement.clientWidth + 1).map(e => e.tagName + ' ' + (e.id || e.className || e.textContent.slice(0, 30)))")
                .await;
            assert_eq!(wide, json!([]), "{p} at {width}px: wider than the screen");
            if width < 500 {
                let name = p.trim_matches('/').replace(['/', '?', '='], "-");
                b.shot(&format!("phone-{name}")).await;
            }
        }
    }
}
