//! Test harness: starts the real `ingot` binary and talks to it over HTTP like a MAAS client.
#![allow(dead_code)]

pub mod bmc_farm;
pub mod host;
pub mod mirror;
pub mod netns;
pub mod pg_cluster;
pub mod webdriver;

use reqwest::StatusCode;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_ingot");

/// A running `ingot serve`, killed (by its own PID) when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub key: String,
    pub db: String,
    pub dir: std::sync::Arc<tempfile::TempDir>,
    /// What its clients use (trusting its certificate when it serves TLS).
    pub http: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn run(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().expect("run ingot");
    assert!(
        out.status.success(),
        "ingot {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Run a program; its output, whatever its exit status.
pub fn sh(args: &[&str]) -> std::process::Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("run")
}

/// Run a program that must succeed; its standard output.
pub fn ok(args: &[&str]) -> String {
    let o = sh(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Whether a test that needs root (`why`) must be skipped: not root here. CI runs as root,
/// so there it fails instead.
pub fn skip_unless_root(why: &str) -> bool {
    if ok(&["id", "-u"]).trim() == "0" {
        return false;
    }
    assert!(
        std::env::var("CI").is_err(),
        "CI runs as root: this test must run ({why})"
    );
    eprintln!("SKIP: needs root ({why})");
    true
}

/// A port of 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A process the test started, killed (by its own PID) and reaped when dropped.
pub struct Proc(pub Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Make (or reset) the administrator `admin` (password "pw") in `db`; its API key.
pub fn admin_key(db: &str) -> String {
    run(&[
        "createadmin",
        "--database",
        db,
        "--username",
        "admin",
        "--password",
        "pw",
        "--email",
        "a@example.com",
    ]);
    run(&["apikey", "--database", db, "--username", "admin"])
}

/// A database for one test: SQLite in a temp dir, or a fresh PostgreSQL database.
pub async fn database(pg: bool) -> (String, std::sync::Arc<tempfile::TempDir>) {
    let dir = std::sync::Arc::new(tempfile::tempdir().expect("tempdir"));
    if !pg {
        return (
            format!("sqlite://{}", dir.path().join("ingot.sqlite").display()),
            dir,
        );
    }
    let admin = pg_url().expect("INGOT_TEST_PG_URL");
    let name = format!("ingot_t_{}", rand::random::<u32>());
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
        .await
        .expect("connect to PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create database");
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .expect("db url");
    (format!("{base}/{name}"), dir)
}

/// The PostgreSQL server for tests. In CI it must be there: a missing one fails the test.
/// Run a python-libmaas script with the interpreter `py` against the server `s` (MAAS_URL
/// and MAAS_APIKEY set, and `env`); its standard output. Fails the test when the script fails,
/// showing both outputs.
pub async fn run_libmaas(py: &str, s: &Server, script: &str, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(py);
    cmd.arg("-c")
        .arg(script)
        .env("MAAS_URL", format!("{}/MAAS/", s.base))
        .env("MAAS_APIKEY", &s.key);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run python"))
        .await
        .expect("python task");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

pub fn pg_url() -> Option<String> {
    match std::env::var("INGOT_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "CI must provide INGOT_TEST_PG_URL (scripts/test.sh starts PostgreSQL)"
            );
            eprintln!("INGOT_TEST_PG_URL not set: skipping the PostgreSQL variant (scripts/test.sh provides it)");
            None
        }
    }
}

impl Server {
    /// `GET /MAAS/rack/config` as a rack reads it (the rack secret, `query` such as its name):
    /// the configuration, after asserting the request succeeded.
    pub async fn rack_config(&self, query: &[(&str, &str)]) -> Value {
        let secret = std::fs::read_to_string(self.dir.path().join("rack.secret")).unwrap();
        let r = self
            .http
            .get(format!("{}/MAAS/rack/config", self.base))
            .query(query)
            .bearer_auth(secret.trim())
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        assert!(status.is_success(), "rack config: {status} {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("rack config ({e}): {body}"))
    }

    pub async fn start(extra: &[&str]) -> Server {
        let (db, dir) = database(false).await;
        Server::start_on(&db, dir, extra)
    }

    pub async fn start_pg(extra: &[&str]) -> Option<Server> {
        pg_url()?;
        let (db, dir) = database(true).await;
        Some(Server::start_on(&db, dir, extra))
    }

    /// Start a server on an existing database (several servers may share one PostgreSQL).
    pub fn start_on(db: &str, dir: std::sync::Arc<tempfile::TempDir>, extra: &[&str]) -> Server {
        Server::spawn(db, dir, extra, None)
    }

    /// Start a server serving HTTPS with `cert` and `key` (PEM files); its clients trust the
    /// CA `ca` (PEM) and nothing else.
    pub async fn start_tls(cert: &str, key: &str, ca: &[u8], extra: &[&str]) -> Server {
        let (db, dir) = database(false).await;
        let mut args = vec!["--tls-cert", cert, "--tls-key", key];
        args.extend_from_slice(extra);
        let ca = reqwest::Certificate::from_pem(ca).expect("CA PEM");
        Server::spawn(&db, dir, &args, Some(ca))
    }

    fn spawn(
        db: &str,
        dir: std::sync::Arc<tempfile::TempDir>,
        extra: &[&str],
        ca: Option<reqwest::Certificate>,
    ) -> Server {
        let key = admin_key(db);
        let data_dir = dir.path().to_string_lossy().to_string();
        let mut args = vec![
            "serve",
            "--database",
            db,
            "--data-dir",
            &data_dir,
            "--listen",
            "127.0.0.1:0",
        ];
        args.extend_from_slice(extra);
        let mut child = Command::new(BIN)
            .args(&args)
            // maas-run-scripts is the static agent (built when a test first asks for it).
            .env("INGOT_AGENT_BINARY", host::agent_path())
            .env(
                "INGOT_LOG",
                std::env::var("INGOT_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn ingot serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read listen line");
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .expect("url")
            .trim_end_matches('/')
            .to_string();
        let base = url.trim_end_matches("/MAAS").to_string();
        let scheme = if ca.is_some() { "https" } else { "http" };
        assert!(
            base.starts_with(&format!("{scheme}://127.0.0.1:")),
            "unexpected listen line {line:?}"
        );
        let http = match ca {
            Some(ca) => reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .no_proxy()
                .tls_built_in_root_certs(false)
                .add_root_certificate(ca)
                .build()
                .expect("client"),
            None => http(),
        };
        Server {
            child,
            base,
            key,
            db: db.to_string(),
            dir,
            http,
        }
    }

    /// Create a non-admin user (password "pw") and return a client signed with a key of theirs.
    pub async fn user(&self, name: &str) -> Client {
        let admin = self.client();
        admin
            .post(
                "/MAAS/api/2.0/users/",
                &[("username", name), ("password", "pw")],
            )
            .await
            .ok();
        let k = self
            .anon()
            .post(
                "/MAAS/accounts/authenticate/",
                &[("username", name), ("password", "pw")],
            )
            .await
            .ok()
            .json();
        admin.with_token(&k)
    }

    pub fn client(&self) -> Client {
        Client {
            http: self.http.clone(),
            ..Client::new(&self.base, &self.key)
        }
    }

    pub fn anon(&self) -> Client {
        Client {
            base: self.base.clone(),
            key: None,
            http: self.http.clone(),
            lenient: false,
        }
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .no_proxy()
        .build()
        .expect("client")
}

/// An HTTP client signing requests with an API key (or a machine's token).
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub key: Option<(String, String, String)>,
    pub http: reqwest::Client,
    /// A request that gets no answer (the server died) gives a `Resp` with status
    /// `NETWORK_ERROR` instead of failing the test (the fault-injection harness).
    pub lenient: bool,
}

/// The status of a `lenient` client's request that got no answer.
pub const NETWORK_ERROR: u16 = 599;

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub body: String,
    pub content_type: String,
    /// Its `Retry-After` header, when it has one.
    pub retry_after: Option<String>,
    /// From sending the request to the end of the answer (or to the network error).
    pub elapsed: Duration,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
    pub fn ok(self) -> Resp {
        assert!(
            self.status.is_success(),
            "expected success, got {} {}",
            self.status,
            self.body
        );
        self
    }
    pub fn expect(self, code: u16) -> Resp {
        assert_eq!(self.status.as_u16(), code, "body: {}", self.body);
        self
    }
}

impl Client {
    pub fn new(base: &str, key: &str) -> Client {
        let k = ingot_wire::parse_api_key(key).expect("api key");
        Client {
            base: base.to_string(),
            key: Some((k.consumer_key, k.token_key, k.token_secret)),
            http: http(),
            lenient: false,
        }
    }

    pub fn with_token(&self, t: &Value) -> Client {
        let s = |k: &str| t[k].as_str().unwrap_or_default().to_string();
        Client {
            base: self.base.clone(),
            key: Some((s("consumer_key"), s("token_key"), s("token_secret"))),
            http: self.http.clone(),
            lenient: self.lenient,
        }
    }

    /// The Authorization header this client sends (for tools like curl).
    pub fn auth_header(&self) -> Option<String> {
        self.key.as_ref().map(|(ck, tk, ts)| {
            ingot_wire::build_oauth_header(
                ck,
                tk,
                ts,
                &rand::random::<u64>().to_string(),
                1_700_000_000,
            )
        })
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.key {
            Some((ck, tk, ts)) => {
                let h = ingot_wire::build_oauth_header(
                    ck,
                    tk,
                    ts,
                    &rand::random::<u64>().to_string(),
                    1_700_000_000,
                );
                rb.header("Authorization", h)
            }
            None => rb,
        }
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        let sent = std::time::Instant::now();
        let r = match self.auth(rb).send().await {
            Ok(r) => r,
            Err(e) if self.lenient => {
                return Resp {
                    status: StatusCode::from_u16(NETWORK_ERROR).expect("status"),
                    body: e.to_string(),
                    content_type: String::new(),
                    retry_after: None,
                    elapsed: sent.elapsed(),
                }
            }
            Err(e) => panic!("request: {e}"),
        };
        let status = r.status();
        let url = r.url().clone();
        let content_type = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let retry_after = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // The `maas` CLI reads every answer's Content-Type (and exits 2 without one, even
        // after a delete that worked): every test's every API answer carries one.
        assert!(
            !content_type.is_empty() || !url.path().starts_with("/MAAS/api/"),
            "{status} from {url} has no Content-Type"
        );
        let body = r.text().await.unwrap_or_default();
        Resp {
            status,
            body,
            content_type,
            retry_after,
            elapsed: sent.elapsed(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// This client, answering requests that get no answer with `NETWORK_ERROR`.
    /// New connections for every request, so that a restarted server is not first met on
    /// connections to the process that died.
    pub fn lenient(mut self) -> Client {
        self.lenient = true;
        self.http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(0)
            .no_proxy()
            .build()
            .expect("client");
        self
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.http.get(self.url(path))).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.send(self.http.delete(self.url(path))).await
    }
    /// POST form-urlencoded.
    pub async fn post(&self, path: &str, params: &[(&str, &str)]) -> Resp {
        let body = ingot_wire::encode_urlencoded(params);
        self.send(
            self.http
                .post(self.url(path))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }
    /// POST multipart the way python-libmaas does (base64 parts).
    pub async fn post_multipart(&self, path: &str, params: &[(&str, &[u8])]) -> Resp {
        let (ct, body) = ingot_wire::encode_multipart(params);
        self.send(
            self.http
                .post(self.url(path))
                .header("Content-Type", ct)
                .body(body),
        )
        .await
    }
    /// POST multipart the way MAAS's script runner does: parts named like a known form field
    /// go as fields, every other part as a file (`filename` = its name).
    pub async fn post_files(&self, path: &str, parts: &[(&str, &[u8])]) -> Resp {
        const FIELDS: &[&str] = &[
            "op",
            "status",
            "script_result_id",
            "exit_status",
            "runtime",
            "error",
            "name",
        ];
        let fields: Vec<(&str, String)> = parts
            .iter()
            .filter(|(n, _)| FIELDS.contains(n))
            .map(|(n, v)| (*n, String::from_utf8_lossy(v).into_owned()))
            .collect();
        let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let files: Vec<(&str, &str, &[u8])> = parts
            .iter()
            .filter(|(n, _)| !FIELDS.contains(n))
            .map(|(n, v)| (*n, *n, *v))
            .collect();
        self.post_form(path, &fields, &files).await
    }
    /// POST multipart with text fields and file parts (`name`, `filename`, content), the way
    /// a browser or MAAS's CLI uploads a file.
    pub async fn post_form(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> Resp {
        let boundary = format!("ingot-test-{:032x}", rand::random::<u128>());
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        for (name, filename, data) in files {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                    .as_bytes(),
            );
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.send(
            self.http
                .post(self.url(path))
                .header(
                    "Content-Type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body),
        )
        .await
    }
    pub async fn put(&self, path: &str, params: &[(&str, &str)]) -> Resp {
        let body = ingot_wire::encode_urlencoded(params);
        self.send(
            self.http
                .put(self.url(path))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }
    /// PUT raw bytes (a chunk of an upload, as python-libmaas sends it).
    pub async fn put_raw(&self, path: &str, body: Vec<u8>) -> Resp {
        self.send(
            self.http
                .put(self.url(path))
                .header("Content-Type", "application/octet-stream")
                .body(body),
        )
        .await
    }
    /// POST JSON with `Authorization: Bearer <secret>` (a rack's requests).
    pub async fn post_json_bearer(&self, path: &str, v: &Value, secret: &str) -> Resp {
        self.send(
            self.http
                .post(self.url(path))
                .header("Content-Type", "application/json")
                .header("Authorization", format!("Bearer {secret}"))
                .body(v.to_string()),
        )
        .await
    }
    pub async fn post_json(&self, path: &str, v: &Value) -> Resp {
        self.send(
            self.http
                .post(self.url(path))
                .header("Content-Type", "application/json")
                .body(v.to_string()),
        )
        .await
    }

    // --- conveniences
    pub async fn machine(&self, sid: &str) -> Value {
        self.get(&format!("/MAAS/api/2.0/machines/{sid}/"))
            .await
            .ok()
            .json()
    }
    pub async fn status(&self, sid: &str) -> i64 {
        self.machine(sid).await["status"].as_i64().expect("status")
    }
    pub async fn op(&self, sid: &str, op: &str, params: &[(&str, &str)]) -> Resp {
        self.post(&format!("/MAAS/api/2.0/machines/{sid}/?op={op}"), params)
            .await
    }
    pub async fn token(&self, sid: &str) -> Value {
        self.get(&format!("/MAAS/api/2.0/machines/{sid}/?op=get_token"))
            .await
            .ok()
            .json()
    }
    /// Create a machine (commissioned at once unless `commission` is false).
    pub async fn create(&self, hostname: &str, mac: &str, extra: &[(&str, &str)]) -> Value {
        let mut p = vec![
            ("hostname", hostname),
            ("architecture", "amd64/generic"),
            ("mac_addresses", mac),
            ("power_type", "manual"),
        ];
        p.extend_from_slice(extra);
        self.post("/MAAS/api/2.0/machines/", &p).await.ok().json()
    }
    /// Play the machine as `ingot-agent` does: report every script of its commissioning set
    /// as passed (without outputs), then TESTING and every test passed when there are tests,
    /// then OK → READY.
    /// The inventory is `small_inventory` of the machine (one 20 GB disk, its interfaces).
    pub async fn commission_ok(&self, sid: &str) {
        let doc = small_inventory(&self.machine(sid).await);
        self.commission_ok_with(sid, Some(&doc)).await
    }
    /// `commission_ok`, the inventory script reporting `inventory` when given.
    pub async fn commission_ok_with(&self, sid: &str, inventory: Option<&[u8]>) {
        let t = self.token(sid).await;
        assert!(t.is_object(), "no token for {sid}: {t}");
        let m = self.with_token(&t);
        let idx = m
            .get("/MAAS/metadata/2012-03-01/maas-scripts/")
            .await
            .ok()
            .json();
        let ids = |set: &str| -> Vec<String> {
            idx[set]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e["script_result_id"].as_i64())
                        .map(|i| i.to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        let pass = |id: String| {
            let m = m.clone();
            async move {
                m.post_files(
                    "/MAAS/metadata/2012-03-01/?op=signal",
                    &[
                        ("status", b"WORKING"),
                        ("script_result_id", id.as_bytes()),
                        ("exit_status", b"0"),
                    ],
                )
                .await
                .ok();
            }
        };
        let inventory_id = idx["commissioning_scripts"].as_array().and_then(|a| {
            a.iter()
                .find(|e| e["name"] == "50-maas-01-commissioning")
                .and_then(|e| e["script_result_id"].as_i64())
                .map(|i| i.to_string())
        });
        for id in ids("commissioning_scripts") {
            match (inventory, &inventory_id) {
                (Some(doc), Some(inv)) if *inv == id => {
                    m.post_files(
                        "/MAAS/metadata/2012-03-01/?op=signal",
                        &[
                            ("status", b"WORKING"),
                            ("script_result_id", id.as_bytes()),
                            ("exit_status", b"0"),
                            ("50-maas-01-commissioning.out", doc),
                        ],
                    )
                    .await
                    .ok();
                }
                _ => pass(id).await,
            }
        }
        let tests = ids("testing_scripts");
        if !tests.is_empty() {
            m.post_multipart(
                "/MAAS/metadata/2012-03-01/?op=signal",
                &[("status", b"TESTING")],
            )
            .await
            .ok();
            for id in tests {
                pass(id).await;
            }
        }
        m.post_multipart("/MAAS/metadata/2012-03-01/?op=signal", &[("status", b"OK")])
            .await
            .ok();
    }
    /// Create and commission machines to READY. Commissioning reports a small inventory that
    /// keeps the machine's CPU count, memory and interfaces and adds one 20 GB disk, so that
    /// the default storage layout lets it deploy.
    pub async fn ready_machine(&self, hostname: &str, mac: &str, extra: &[(&str, &str)]) -> String {
        let m = self.create(hostname, mac, extra).await;
        let sid = m["system_id"].as_str().expect("system_id").to_string();
        assert_eq!(m["status"], 1, "created machine commissions at once: {m}");
        self.commission_ok(&sid).await;
        assert_eq!(self.status(&sid).await, 4);
        sid
    }
    /// Play the installed OS reporting back: cloud-init modules-final finished.
    pub async fn report_deployed(&self, sid: &str) -> Resp {
        let t = self.token(sid).await;
        let ev = serde_json::json!({"event_type": "finish", "origin": "cloud-init", "name": "modules-final", "description": "running modules for final", "result": "SUCCESS", "timestamp": 1700000000.0});
        self.with_token(&t)
            .post_json(&format!("/MAAS/metadata/status/{sid}"), &ev)
            .await
    }
    /// Upload an OS image (an uploaded boot resource, tgz) in one multipart request, as the
    /// MAAS CLI does with `content@=FILE`; returns the resource with its set.
    pub async fn upload_image(&self, name: &str, content: &[u8]) -> Value {
        self.post_form(
            "/MAAS/api/2.0/boot-resources/",
            &[
                ("name", name),
                ("architecture", "amd64/generic"),
                ("filetype", "tgz"),
            ],
            &[("content", "image.tgz", content)],
        )
        .await
        .ok()
        .json()
    }
    /// Play a deploying machine's agent and installed OS, as the protocol goes: fetch the
    /// deploy configuration, report curtin-style progress, `netboot_off` (the installer
    /// finished), then cloud-init's modules-final SUCCESS from the installed OS. Returns the
    /// deploy configuration.
    pub async fn deploy_ok(&self, sid: &str) -> Value {
        let t = self.token(sid).await;
        assert!(t.is_object(), "no token for {sid}: {t}");
        let m = self.with_token(&t);
        let cfg = m
            .get("/MAAS/metadata/latest/deploy-config")
            .await
            .ok()
            .json();
        for (event_type, name) in [
            ("start", "cmd-install"),
            ("finish", "cmd-install/stage-partitioning"),
        ] {
            let ev = serde_json::json!({"event_type": event_type, "origin": "curtin", "name": name, "description": name, "result": "SUCCESS", "timestamp": 1700000000.0});
            m.post_json(&format!("/MAAS/metadata/status/{sid}"), &ev)
                .await
                .expect(204);
        }
        m.post("/MAAS/metadata/latest/?op=netboot_off", &[])
            .await
            .ok();
        self.report_deployed(sid).await.expect(204);
        cfg
    }
    /// Poll the machine (10 s at most) until `f` holds; on timeout, fail with its status,
    /// error and events.
    pub async fn wait_machine(&self, sid: &str, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        let mut m = Value::Null;
        for _ in 0..100 {
            m = self.machine(sid).await;
            if f(&m) {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let evs: Vec<String> = self
            .events(sid)
            .await
            .iter()
            .map(|e| format!("{} {} {}", e["id"], e["level"], e["description"]))
            .collect();
        panic!(
            "{what}: machine stayed {} / {} / power {}; events:\n{}",
            m["status_name"],
            m["error_description"],
            m["power_state"],
            evs.join("\n")
        );
    }

    pub async fn events(&self, sid: &str) -> Vec<Value> {
        let v = self
            .get(&format!(
                "/MAAS/api/2.0/events/?op=query&id={sid}&limit=1000&level=DEBUG"
            ))
            .await
            .ok()
            .json();
        v["events"].as_array().cloned().unwrap_or_default()
    }
}

/// A machine-resources document (LXD resources) for machine JSON `m`: its CPU count (at least
/// one), memory, its interfaces (names and MACs) and one 20 GB virtio disk with a serial made
/// from the system id.
pub fn small_inventory(m: &Value) -> Vec<u8> {
    let cpus = m["cpu_count"].as_u64().unwrap_or(0).max(1);
    let mem = m["memory"].as_u64().unwrap_or(0) << 20;
    let threads: Vec<Value> = (0..cpus)
        .map(|i| serde_json::json!({"id": i, "thread": 0, "online": true, "numa_node": 0}))
        .collect();
    let cores: Vec<Value> = threads
        .iter()
        .enumerate()
        .map(|(i, t)| serde_json::json!({"core": i, "threads": [t], "frequency": 2000}))
        .collect();
    let cards: Vec<Value> = m["interface_set"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, n)| {
            serde_json::json!({"driver": "virtio_net", "driver_version": "1", "numa_node": 0,
                "pci_address": format!("0000:00:{:02x}.0", 3 + i), "vendor": "Red Hat, Inc.", "vendor_id": "1af4",
                "product": "Virtio network device", "product_id": "1000",
                "ports": [{"id": n["name"], "address": n["mac_address"], "port": 0, "protocol": "ethernet",
                    "auto_negotiation": false, "link_detected": true, "link_speed": 1000}]})
        })
        .collect();
    let serial = format!("TEST-{}", m["system_id"].as_str().unwrap_or("disk"));
    let doc = serde_json::json!({
        "api_version": "1.0",
        "api_extensions": ["resources", "resources_cpu_socket", "resources_gpu", "resources_numa", "resources_v2", "resources_disk_sata", "resources_network_firmware", "resources_disk_id", "resources_usb_pci", "resources_cpu_threads_numa", "resources_cpu_core_die", "api_os", "resources_system", "resources_pci_iommu", "resources_network_usb", "resources_disk_address"],
        "environment": {"kernel": "Linux", "kernel_architecture": "x86_64", "kernel_version": "6.1.0",
            "os_name": "ingot", "os_version": "1", "server": "maas-machine-resources",
            "server_name": m["hostname"], "server_version": "5.0"},
        "resources": {
            "cpu": {"architecture": "x86_64", "total": cpus,
                "sockets": [{"socket": 0, "name": "Test CPU", "vendor": "Test", "frequency": 2000, "cores": cores}]},
            "memory": {"total": mem, "used": 0, "nodes": [{"numa_node": 0, "total": mem, "used": 0}]},
            "gpu": {"cards": [], "total": 0},
            "network": {"cards": cards, "total": cards.len()},
            "storage": {"disks": [{"id": "vda", "device": "252:0", "model": "", "type": "virtio",
                "read_only": false, "size": 20_000_000_000u64, "removable": false, "numa_node": 0,
                "device_path": "pci-0000:00:10.0", "block_size": 512, "rpm": 0, "firmware_version": "",
                "serial": serial, "device_id": format!("virtio-{serial}"), "partitions": []}], "total": 1}
        }
    });
    serde_json::to_vec(&doc).expect("JSON")
}

pub fn mac(i: u32) -> String {
    format!(
        "52:54:{:02x}:{:02x}:{:02x}:{:02x}",
        (i >> 24) & 0xff,
        (i >> 16) & 0xff,
        (i >> 8) & 0xff,
        i & 0xff
    )
}

/// `small_inventory` of `m` with other hardware: the CPU architecture (`x86_64`, `aarch64`),
/// disks (name, size in bytes, rpm: 0 is an SSD, tagged `ssd`; else `rotary`) in order — the
/// first is the boot disk — and NICs (name, MAC).
pub fn inventory_with(
    m: &Value,
    arch: &str,
    disks: &[(&str, u64, u64)],
    nics: &[(&str, &str)],
) -> Vec<u8> {
    let mut doc: Value = serde_json::from_slice(&small_inventory(m)).expect("JSON");
    doc["environment"]["kernel_architecture"] = Value::from(arch);
    doc["resources"]["cpu"]["architecture"] = Value::from(arch);
    let cards: Vec<Value> = nics
        .iter()
        .enumerate()
        .map(|(i, (name, mac))| {
            serde_json::json!({"driver": "virtio_net", "driver_version": "1", "numa_node": 0,
                "pci_address": format!("0000:00:{:02x}.0", 3 + i), "vendor": "Red Hat, Inc.", "vendor_id": "1af4",
                "product": "Virtio network device", "product_id": "1000",
                "ports": [{"id": name, "address": mac, "port": 0, "protocol": "ethernet",
                    "auto_negotiation": false, "link_detected": true, "link_speed": 1000}]})
        })
        .collect();
    let sid = m["system_id"].as_str().unwrap_or("disk");
    let ds: Vec<Value> = disks
        .iter()
        .enumerate()
        .map(|(i, (name, size, rpm))| {
            let serial = format!("TEST-{sid}-{name}");
            serde_json::json!({"id": name, "device": format!("252:{}", i * 16), "model": "", "type": "scsi",
                "read_only": false, "size": size, "removable": false, "numa_node": 0,
                "device_path": format!("pci-0000:00:{:02x}.0", 0x10 + i), "block_size": 512, "rpm": rpm,
                "firmware_version": "", "serial": serial, "device_id": format!("scsi-{serial}"), "partitions": []})
        })
        .collect();
    doc["resources"]["network"] = serde_json::json!({"total": cards.len(), "cards": cards});
    doc["resources"]["storage"] = serde_json::json!({"total": ds.len(), "disks": ds});
    serde_json::to_vec(&doc).expect("JSON")
}

/// A controller's machine (the host running this `ingot serve`, or a registered rack): it is
/// in every machine list since controllers are machines.
/// This host runs the region, so it is a machine already (the region controller's): take that
/// role away, so that the host registers as a new machine (`maas-run-scripts register-machine`).
pub async fn forget_region_controllers(c: &Client) {
    let list = c.get("/MAAS/api/2.0/machines/").await.ok().json();
    for m in list.as_array().unwrap().iter().filter(|m| is_controller(m)) {
        c.delete(&format!(
            "/MAAS/api/2.0/regioncontrollers/{}/",
            m["system_id"].as_str().unwrap()
        ))
        .await
        .ok();
    }
}

pub fn is_controller(m: &Value) -> bool {
    m["workload_annotations"]["ingot_controller"].is_string()
}

/// The machines of a machine list that are not controllers.
pub fn workload_machines(list: &Value) -> Vec<Value> {
    list.as_array()
        .map(|a| a.iter().filter(|m| !is_controller(m)).cloned().collect())
        .unwrap_or_default()
}
