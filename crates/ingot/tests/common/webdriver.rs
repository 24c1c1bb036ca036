//! A W3C WebDriver client for Chromium's chromedriver (loopback HTTP), as the web UI tests and
//! the UI benchmark (`examples/ui_bench.rs`) drive a real headless browser: controls found as a
//! person finds them (label, button text, accessible name), screenshots of each page.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Driver {
    child: Child,
    pub url: String,
}

impl Drop for Driver {
    /// chromedriver and the browsers it started: its process group (they outlived a kill of
    /// chromedriver alone, one or two Chromiums per test run, using CPU in the background).
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver's path (`INGOT_CHROMEDRIVER`, else Debian's), if it is installed.
/// chromedriver, or None (the test skips) when it is not installed; in CI that fails.
pub fn chromedriver_or_skip() -> Option<String> {
    let bin = chromedriver();
    if bin.is_none() {
        assert!(
            std::env::var("CI").is_err(),
            "CI must provide chromedriver (scripts/peers/chromium.sh)"
        );
        eprintln!("SKIP: no chromedriver (scripts/peers/chromium.sh installs it)");
    }
    bin
}

pub fn chromedriver() -> Option<String> {
    let p = std::env::var("INGOT_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    std::path::Path::new(&p).exists().then_some(p)
}

pub async fn start_driver(bin: &str) -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // In a process group of its own, which the browsers it starts join: ended together.
    let child = Command::new(bin)
        .process_group(0)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let d = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    for _ in 0..100 {
        if let Ok(r) = http.get(format!("{}/status", d.url)).send().await {
            if r.status().is_success() {
                return d;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start");
}

pub struct Browser {
    http: reqwest::Client,
    session: String,
    pub base: String,
}

impl Browser {
    pub async fn new(d: &Driver, base: &str) -> Browser {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": {"pageLoad": 15000, "script": 10000},
            "goog:chromeOptions": {"args": [
                "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-proxy-server",
            ]},
        }}});
        let v: Value = http
            .post(format!("{}/session", d.url))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        let b = Browser {
            http,
            session: format!("{}/session/{id}", d.url),
            base: base.to_string(),
        };
        // A laptop's screen (the UI must work at 1280×800).
        b.cmd(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": 1280, "height": 800})),
        )
        .await;
        b
    }

    pub async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut rq = self.http.request(method, format!("{}{path}", self.session));
        if let Some(b) = body {
            rq = rq.json(&b);
        }
        let v: Value = rq.send().await.unwrap().json().await.unwrap();
        if let Some(e) = v["value"]["error"].as_str() {
            panic!("WebDriver {path}: {e}: {}", v["value"]["message"]);
        }
        v["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn js(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    pub async fn find(&self, css: &str) -> String {
        self.find_by("css selector", css).await
    }

    pub async fn find_by(&self, using: &str, value: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": using, "value": value})),
            )
            .await;
        v[ELEMENT].as_str().unwrap().to_string()
    }

    /// Click an element found before.
    pub async fn click_element(&self, e: &str) {
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// As a person finds things: the button with this text.
    pub async fn press(&self, text: &str) {
        self.click_text("button", text).await;
    }

    /// Click the element of this tag whose text is `text` (a `summary`, a link).
    pub async fn click_text(&self, tag: &str, text: &str) {
        let e = self
            .find_by("xpath", &format!("//{tag}[normalize-space(.)='{text}']"))
            .await;
        self.click_element(&e).await;
    }

    /// The input, select or text area of the visible label that starts with `label`.
    pub async fn labelled(&self, label: &str) -> String {
        self.find_by(
            "xpath",
            &format!("//label[starts-with(normalize-space(.), '{label}')][not(ancestor-or-self::*[@hidden])]//*[self::input or self::select or self::textarea]"),
        )
        .await
    }

    pub async fn fill(&self, label: &str, text: &str) {
        let e = self.labelled(label).await;
        self.fill_element(&e, text).await;
    }

    /// The section whose heading is `heading`, as an XPath prefix.
    fn section(heading: &str) -> String {
        format!("//section[h2[normalize-space(.)='{heading}']]")
    }

    /// The first of the elements the XPath finds that is displayed (a form inside a closed
    /// `<details>` is not).
    async fn visible(&self, xpath: &str) -> String {
        let all = self
            .cmd(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "xpath", "value": xpath})),
            )
            .await;
        for e in all.as_array().cloned().unwrap_or_default() {
            let id = e[ELEMENT].as_str().unwrap_or_default().to_string();
            let shown = self
                .cmd(
                    reqwest::Method::GET,
                    &format!("/element/{id}/displayed"),
                    None,
                )
                .await;
            if shown == json!(true) {
                return id;
            }
        }
        panic!("nothing displayed matches {xpath}");
    }

    /// Fill the field labelled `label` in the section headed `heading`.
    pub async fn fill_in(&self, heading: &str, label: &str, text: &str) {
        let e = self
            .visible(
                &format!(
                    "{}//label[starts-with(normalize-space(.), '{label}')]//*[self::input or self::textarea]",
                    Self::section(heading)
                ),
            )
            .await;
        self.fill_element(&e, text).await;
    }

    /// Press the button `text` in the section headed `heading`.
    pub async fn press_in(&self, heading: &str, text: &str) {
        let e = self
            .visible(&format!(
                "{}//button[normalize-space(.)='{text}']",
                Self::section(heading)
            ))
            .await;
        self.click_element(&e).await;
    }

    async fn fill_element(&self, e: &str, text: &str) {
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/clear"),
            Some(json!({})),
        )
        .await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Choose the option whose visible text starts with `option` in the select labelled
    /// `label`.
    pub async fn choose(&self, label: &str, option: &str) {
        let sel = self.labelled(label).await;
        let v = self
            .cmd(
                reqwest::Method::POST,
                &format!("/element/{sel}/element"),
                Some(json!({"using": "xpath", "value": format!(".//option[starts-with(normalize-space(.), '{option}')]")})),
            )
            .await;
        let opt = v[ELEMENT].as_str().unwrap().to_string();
        self.click_element(&opt).await;
    }

    /// Type on the keyboard, into whatever has the focus (`\u{E004}` is Tab, `\u{E007}`
    /// Enter, as WebDriver names the keys).
    pub async fn keys(&self, text: &str) {
        let acts: Vec<Value> = text
            .chars()
            .flat_map(|c| {
                [
                    json!({"type": "keyDown", "value": c.to_string()}),
                    json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        self.cmd(
            reqwest::Method::POST,
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": acts}]})),
        )
        .await;
    }

    /// Save what the page looks like (a test artefact under target/ui-screenshots/).
    pub async fn shot(&self, name: &str) {
        use base64::Engine as _;
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .unwrap_or_default();
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{name}.png")), png);
    }

    pub async fn sign_in(&self, user: &str, password: &str) {
        self.goto(&format!("{}/MAAS/r/", self.base)).await;
        self.until(
            "the sign-in form",
            "return !!document.querySelector('input[name=password]')",
            Duration::from_secs(10),
        )
        .await;
        self.shot(&format!("sign-in-{user}")).await;
        self.fill("Username", user).await;
        self.fill("Password", password).await;
        self.press("Sign in").await;
        self.until(
            "signed in",
            &format!("return document.body.innerText.includes('Signed in as {user}')"),
            Duration::from_secs(10),
        )
        .await;
    }

    pub async fn type_in(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.click_element(&e).await;
    }

    /// Wait (polling every 50 ms) until the script returns true; how long it took.
    pub async fn until(&self, what: &str, script: &str, max: Duration) -> Duration {
        let t = Instant::now();
        loop {
            if self.js(script).await == json!(true) {
                return t.elapsed();
            }
            if t.elapsed() > max {
                let body = self.js("return document.body.innerText").await;
                panic!("{what}: not after {max:?}; the page says:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Open a tab and switch to it; its handle.
    pub async fn new_tab(&self) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/window/new",
                Some(json!({"type": "tab"})),
            )
            .await;
        let h = v["handle"].as_str().unwrap().to_string();
        self.switch_to(&h).await;
        h
    }

    /// The current tab's handle.
    pub async fn tab(&self) -> String {
        let v = self.cmd(reqwest::Method::GET, "/window", None).await;
        v.as_str().unwrap_or_default().to_string()
    }

    pub async fn switch_to(&self, handle: &str) {
        self.cmd(
            reqwest::Method::POST,
            "/window",
            Some(json!({"handle": handle})),
        )
        .await;
    }
}
