//! The web UI's sign-in through the real binary, as a browser speaks to it (plain HTTP, no
//! redirects followed, cookies carried by hand): `/` and `/MAAS/` lead to `/MAAS/r/`, which
//! asks for a sign-in; wrong passwords and forms from other sites are refused; the session
//! cookie is HttpOnly and SameSite=Strict; every page has its Content-Security-Policy and
//! refuses framing; what the user typed comes back as text; the machine list filters by
//! `key:value`; the session authenticates the API, which wants its CSRF token for a change;
//! sign-out and `session_length` end it.

mod common;
use common::{mac, Server};
use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use std::time::Duration;

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn set_cookies(h: &HeaderMap) -> Vec<String> {
    h.get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

fn cookie_value(set: &[String], name: &str) -> String {
    set.iter()
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no {name} in {set:?}"))
        .to_string()
}

fn secure_page(h: &HeaderMap) {
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(h["x-frame-options"], "DENY");
}

async fn login(b: &reqwest::Client, base: &str, user: &str, pw: &str) -> (String, String) {
    let r = b
        .post(format!("{base}/MAAS/accounts/login/"))
        .form(&[("username", user), ("password", pw)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/MAAS/r/");
    let set = set_cookies(r.headers());
    (
        cookie_value(&set, "ingot_session"),
        cookie_value(&set, "ingot_csrf"),
    )
}

#[tokio::test]
async fn sign_in_session_csrf_and_sign_out() {
    let s = Server::start(&[]).await;
    let admin = s.client();
    for (i, name) in ["web-01", "web-02", "db-01"].iter().enumerate() {
        admin.ready_machine(name, &mac(40 + i as u32), &[]).await;
    }
    // db-01 is allocated: another status group.
    let all = admin.get("/MAAS/api/2.0/machines/").await.ok().json();
    let db = all
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["hostname"] == "db-01")
        .unwrap()["system_id"]
        .as_str()
        .unwrap()
        .to_string();
    admin
        .post("/MAAS/api/2.0/machines/?op=allocate", &[("system_id", &db)])
        .await
        .ok();
    let base = s.base.clone();
    let b = browser();

    // To the UI, which asks for a sign-in.
    for p in ["/", "/MAAS/"] {
        let r = b.get(format!("{base}{p}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{p}");
        assert_eq!(r.headers()[LOCATION], "/MAAS/r/");
    }
    let r = b.get(format!("{base}/MAAS/r/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/MAAS/accounts/login/");
    let r = b
        .get(format!("{base}/MAAS/accounts/login/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    secure_page(r.headers());
    assert!(r.text().await.unwrap().contains("name=\"password\""));

    // Refusals: a wrong password (named, the username kept as text); a form from elsewhere.
    let r = b
        .post(format!("{base}/MAAS/accounts/login/"))
        .form(&[("username", "admin\"><b>"), ("password", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookies(r.headers()).is_empty());
    let page = r.text().await.unwrap();
    assert!(page.contains("Invalid username or password."), "{page}");
    assert!(page.contains("admin&quot;&gt;&lt;b&gt;") && !page.contains("<b>"));
    let r = b
        .post(format!("{base}/MAAS/accounts/login/"))
        .header("Origin", "http://evil.example")
        .form(&[("username", "admin"), ("password", "pw")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(set_cookies(r.headers()).is_empty());

    // Signed in: the cookies as a browser must keep them.
    let r = b
        .post(format!("{base}/MAAS/accounts/login/"))
        .header("Origin", &base)
        .form(&[("username", "admin"), ("password", "pw")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set = set_cookies(r.headers());
    let session = set
        .iter()
        .find(|c| c.starts_with("ingot_session="))
        .unwrap();
    for attr in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/MAAS",
        "Max-Age=1209600",
    ] {
        assert!(session.contains(attr), "{attr}: {session}");
    }
    assert!(!session.contains("Secure"), "plain HTTP: {session}");
    let csrf_cookie = set.iter().find(|c| c.starts_with("ingot_csrf=")).unwrap();
    assert!(
        !csrf_cookie.contains("HttpOnly"),
        "the pages read it: {csrf_cookie}"
    );
    let (token, csrf) = (
        cookie_value(&set, "ingot_session"),
        cookie_value(&set, "ingot_csrf"),
    );
    let jar = format!("ingot_session={token}; ingot_csrf={csrf}");

    // The machine list, grouped, filtered by the URL, the query echoed as text.
    let get = |path: String| {
        let (b, jar) = (b.clone(), jar.clone());
        async move { b.get(path).header(COOKIE, jar).send().await.unwrap() }
    };
    let r = get(format!("{base}/MAAS/r/")).await;
    assert_eq!(r.status(), StatusCode::OK);
    secure_page(r.headers());
    let page = r.text().await.unwrap();
    // (The region's own host is listed too: controllers are machines.)
    for want in [
        "web-01",
        "web-02",
        "db-01",
        "Signed in as admin",
        "4 machines",
    ] {
        assert!(page.contains(want), "{want}:\n{page}");
    }
    assert!(page.contains("Ready <span class=\"n\">2</span>"), "{page}");
    assert!(
        page.contains("Allocated <span class=\"n\">1</span>"),
        "{page}"
    );
    let r = get(format!("{base}/MAAS/r/?q=status:ready+web-02")).await;
    let page = r.text().await.unwrap();
    assert!(page.contains("web-02") && !page.contains("web-01") && !page.contains("db-01"));
    assert!(page.contains("1 machine<"), "{page}");
    let r = get(format!(
        "{base}/MAAS/r/?q=%3Cscript%3Ealert(1)%3C/script%3E"
    ))
    .await;
    let page = r.text().await.unwrap();
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains("<script>"), "{page}");

    // The controllers: the region's host, recorded as a machine.
    let r = get(format!("{base}/MAAS/r/controllers")).await;
    assert_eq!(r.status(), StatusCode::OK);
    secure_page(r.headers());
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Region controllers") && page.contains("/MAAS/r/machine/"),
        "{page}"
    );
    assert!(
        page.contains("No rack controller has registered."),
        "{page}"
    );

    // The API with the session: reads as the user; a change needs the CSRF token.
    let r = get(format!("{base}/MAAS/api/2.0/users/?op=whoami")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["username"],
        "admin"
    );
    let post_tag = |name: &'static str, csrf: Option<String>| {
        let (b, jar, base) = (b.clone(), jar.clone(), base.clone());
        async move {
            let mut rq = b
                .post(format!("{base}/MAAS/api/2.0/tags/"))
                .header(COOKIE, jar)
                .form(&[("name", name)]);
            if let Some(c) = csrf {
                rq = rq.header("X-CSRFToken", c);
            }
            rq.send().await.unwrap()
        }
    };
    let r = post_tag("t1", None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("CSRF"));
    assert_eq!(
        post_tag("t1", Some("wrong".into())).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post_tag("t1", Some(csrf.clone())).await.status(),
        StatusCode::OK
    );

    // Sign-out: needs the token too; then the session is gone everywhere.
    let r = b
        .post(format!("{base}/MAAS/accounts/logout/"))
        .header(COOKIE, &jar)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = b
        .post(format!("{base}/MAAS/accounts/logout/"))
        .header(COOKIE, &jar)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(set_cookies(r.headers())
        .iter()
        .all(|c| c.contains("Max-Age=0")));
    let r = get(format!("{base}/MAAS/api/2.0/users/?op=whoami")).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = get(format!("{base}/MAAS/r/")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // session_length ends a session by itself.
    admin
        .post(
            "/MAAS/api/2.0/maas/?op=set_config",
            &[("name", "session_length"), ("value", "10")],
        )
        .await
        .ok();
    let (token, _) = login(&b, &base, "admin", "pw").await;
    let jar = format!("ingot_session={token}");
    let whoami = || {
        let (b, jar, base) = (b.clone(), jar.clone(), base.clone());
        async move {
            b.get(format!("{base}/MAAS/api/2.0/users/?op=whoami"))
                .header(COOKIE, jar)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(whoami().await, StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(whoami().await, StatusCode::UNAUTHORIZED);
}

/// A fleet is paged: 200 rows a page, the counts of all the machines per status on every page.
#[tokio::test]
async fn the_machine_list_is_paged() {
    paged(Server::start(&[]).await).await;
}

/// The same on PostgreSQL (the list's facts are read as JSON rows, built by each database).
#[tokio::test]
async fn the_machine_list_is_paged_postgres() {
    if let Some(s) = Server::start_pg(&[]).await {
        paged(s).await;
    }
}

async fn paged(s: Server) {
    let admin = s.client();
    for i in 0..205 {
        admin
            .create(&format!("p-{i:03}"), &mac(1000 + i), &[])
            .await;
    }
    let b = browser();
    let (token, _) = login(&b, &s.base, "admin", "pw").await;
    let page = |n: usize| {
        let (b, base, token) = (b.clone(), s.base.clone(), token.clone());
        async move {
            b.get(format!("{base}/MAAS/r/?page={n}"))
                .header(COOKIE, format!("ingot_session={token}"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let first = page(0).await;
    let rows = |p: &str| p.matches("<tr data-id=").count();
    assert_eq!(rows(&first), 200);
    assert!(first.contains("206 machines"), "the host too");
    assert!(first.contains("Commissioning <span class=\"n\">205</span>"));
    assert!(first.contains("Page 1 of 2") && first.contains("Next page"));
    assert!(first.contains("p-000") && !first.contains("p-204"));
    let second = page(1).await;
    assert_eq!(rows(&second), 6);
    assert!(second.contains("Commissioning <span class=\"n\">205</span>"));
    assert!(second.contains("p-204") && second.contains("Previous page"));
    // Past the end: the last page.
    assert_eq!(rows(&page(9).await), 6);
}
