//! TLS (issue 17): `ingot serve --tls-cert/--tls-key` serves the API, the web UI and the
//! metadata API over HTTPS; a rack (`ingot rack`) and `maas-run-scripts` trust the region by a
//! CA file (`--ca-file`) or by its certificate's SHA-256 fingerprint (`--pin-sha256`), work
//! with the right one and refuse a wrong one saying what was trusted and what was seen;
//! python-libmaas works over HTTPS.
//!
//! The certificates are made for each test with the `openssl` command line: a CA, the region's
//! certificate signed by it (for 127.0.0.1 and localhost), and a second CA that signed nothing
//! here (the wrong one).

mod common;
use common::host::agent_binary;
use common::{ok, Proc, Server, BIN};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The test's certificates, in a directory of their own.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let p = |n: &str| d.join(n).to_string_lossy().into_owned();
        for ca in ["ca", "other-ca"] {
            ok(&[
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &p(&format!("{ca}.key")),
                "-out",
                &p(&format!("{ca}.pem")),
                "-days",
                "2",
                "-subj",
                &format!("/CN=Ingot test {ca}"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]);
        }
        ok(&[
            "openssl",
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &p("region.key"),
            "-out",
            &p("region.csr"),
            "-subj",
            "/CN=127.0.0.1",
        ]);
        std::fs::write(
            d.join("region.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        ok(&[
            "openssl",
            "x509",
            "-req",
            "-in",
            &p("region.csr"),
            "-CA",
            &p("ca.pem"),
            "-CAkey",
            &p("ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &p("region.ext"),
            "-out",
            &p("region.pem"),
        ]);
        Pki { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    /// What `openssl x509 -noout -fingerprint -sha256` prints (`sha256 Fingerprint=AB:…`),
    /// as an operator would paste it.
    fn fingerprint(&self, name: &str) -> String {
        ok(&[
            "openssl",
            "x509",
            "-noout",
            "-fingerprint",
            "-sha256",
            "-in",
            &self.path(name),
        ])
        .trim()
        .to_string()
    }

    async fn serve(&self) -> Server {
        let ca = std::fs::read(self.path("ca.pem")).unwrap();
        Server::start_tls(&self.path("region.pem"), &self.path("region.key"), &ca, &[]).await
    }
}

/// The whole chain of an error (reqwest's Display names only the request).
fn chain(e: &reqwest::Error) -> String {
    format!("{e:?}")
}

#[tokio::test]
async fn the_api_and_the_ui_are_served_over_https() {
    let pki = Pki::new();
    let s = pki.serve().await;
    assert!(s.base.starts_with("https://127.0.0.1:"), "{}", s.base);

    // A client trusting the CA: the API works, and the URLs it gives are https://.
    let c = s.client();
    let v = c.get("/MAAS/api/2.0/version/").await.ok().json();
    assert!(v["capabilities"].is_array(), "{v}");
    let d = c.get("/MAAS/api/2.0/describe/").await.ok().json();
    let uri = d["resources"][0]["auth"]["uri"]
        .as_str()
        .or_else(|| d["handlers"][0]["uri"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(uri.starts_with(&s.base), "describe's URLs: {uri}");
    c.create("tls-m1", "52:54:00:71:00:01", &[]).await;

    // The built-in web roots do not know this CA: refused during the handshake.
    let web = reqwest::Client::builder().no_proxy().build().unwrap();
    let e = web
        .get(format!("{}/MAAS/api/2.0/version/", s.base))
        .send()
        .await
        .expect_err("a certificate from an unknown CA is accepted");
    assert!(chain(&e).contains("UnknownIssuer"), "{}", chain(&e));
    // Another CA: refused too.
    let other = reqwest::Client::builder()
        .no_proxy()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(pki.path("other-ca.pem")).unwrap())
                .unwrap(),
        )
        .build()
        .unwrap();
    let e = other
        .get(format!("{}/MAAS/api/2.0/version/", s.base))
        .send()
        .await
        .expect_err("a certificate from another CA is accepted");
    assert!(chain(&e).contains("UnknownIssuer"), "{}", chain(&e));
    // Plain HTTP to the TLS port gets no answer.
    let plain = s.base.replacen("https://", "http://", 1);
    let r = web
        .get(format!("{plain}/MAAS/api/2.0/version/"))
        .send()
        .await;
    assert!(
        r.as_ref().map(|r| !r.status().is_success()).unwrap_or(true),
        "plain HTTP answered: {r:?}"
    );

    // The web UI: signed in with an https:// Origin, the session cookie is Secure.
    let b = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(pki.path("ca.pem")).unwrap()).unwrap(),
        )
        .build()
        .unwrap();
    let r = b
        .post(format!("{}/MAAS/accounts/login/", s.base))
        .header("Origin", &s.base)
        .form(&[("username", "admin"), ("password", "pw")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "{:?}", r.text().await);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("ingot_session="))
        .unwrap_or_default()
        .to_string();
    assert!(session.contains("; Secure"), "over TLS: {session:?}");

    // SIGTERM stops it within moments, its clients' kept-alive TLS connections open (as
    // shutdown.rs holds for plain HTTP).
    let mut s = s;
    c.get("/MAAS/api/2.0/version/").await.ok();
    ok(&["kill", "-TERM", &s.child.id().to_string()]);
    let start = Instant::now();
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
}

/// An `ingot rack` for the region `s`, on its own loopback address (its TFTP binds
/// `address:69`; no DNS), trusting as `trust` says; its log (stderr) in `log`.
fn rack(s: &Server, address: &str, trust: &[&str], log: &Path) -> Proc {
    let secret = std::fs::read_to_string(s.dir.path().join("rack.secret")).unwrap();
    let data = s.dir.path().join(format!("rack-{address}"));
    let region = format!("{}/MAAS", s.base);
    let mut args = vec![
        "rack",
        "--region",
        &region,
        "--secret",
        secret.trim(),
        "--address",
        address,
        "--no-dns",
        "--data-dir",
        data.to_str().unwrap(),
    ];
    args.extend_from_slice(trust);
    Proc(
        Command::new(BIN)
            .args(&args)
            .env("INGOT_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("spawn ingot rack"),
    )
}

/// Waits (up to 30 s) until `done` holds, else fails with `what` (made then).
async fn wait_for<F: std::future::Future<Output = bool>>(
    what: impl Fn() -> String,
    mut done: impl FnMut() -> F,
) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{}", what());
}

async fn rack_listed(s: &Server, address: &str) -> bool {
    let racks = s
        .client()
        .get("/MAAS/api/2.0/rackcontrollers/")
        .await
        .ok()
        .json();
    racks.to_string().contains(&format!("\"{address}\""))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// A rack refuses a region whose certificate is not the one it trusts — and keeps trying,
/// as it does whenever the region cannot be read, logging why each time (a rack outlives a
/// region's certificate change) — and checks in with the right CA or the right pin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rack_checks_the_regions_certificate() {
    if common::skip_unless_root("the rack's TFTP port, port 69") {
        return;
    }
    let pki = Pki::new();
    let s = pki.serve().await;
    let logs = tempfile::tempdir().unwrap();
    let right_pin = pki.fingerprint("region.pem");
    let wrong_pin = pki.fingerprint("other-ca.pem");
    let (other_ca, ca) = (pki.path("other-ca.pem"), pki.path("ca.pem"));
    let refusals: [(&str, Vec<&str>, &str); 3] = [
        (
            "127.71.0.2",
            vec!["--ca-file", &other_ca],
            "does not verify against the CA file",
        ),
        (
            "127.71.0.3",
            vec!["--pin-sha256", &wrong_pin],
            "not the pinned",
        ),
        // Nothing given: the web roots, which do not know this CA.
        (
            "127.71.0.4",
            vec![],
            "give the CA that signed it (--ca-file)",
        ),
    ];
    for (address, trust, says) in &refusals {
        let log = logs.path().join(format!("{address}.log"));
        let r = rack(&s, address, trust, &log);
        wait_for(
            || format!("rack {trust:?} never said {says:?}"),
            || {
                let text = read(&log);
                async move { text.contains("cannot read the rack configuration") }
            },
        )
        .await;
        let text = read(&log);
        assert!(text.contains(says), "{trust:?}: {text}");
        if trust.first() == Some(&"--pin-sha256") {
            // Both fingerprints are named: what was pinned, what the region showed.
            let hex = |f: &str| f.rsplit('=').next().unwrap().to_string();
            assert!(text.contains(&hex(&wrong_pin)), "{text}");
            assert!(text.contains(&hex(&right_pin)), "{text}");
        }
        assert!(!rack_listed(&s, address).await, "{trust:?} checked in");
        drop(r);
    }
    // The right CA, and the right certificate pinned by the line openssl prints: listed.
    for (address, trust) in [
        ("127.71.0.5", vec!["--ca-file", ca.as_str()]),
        ("127.71.0.6", vec!["--pin-sha256", right_pin.as_str()]),
    ] {
        let log = logs.path().join(format!("{address}.log"));
        let _r = rack(&s, address, &trust, &log);
        wait_for(
            || format!("rack {trust:?} not listed: {}", read(&log)),
            || rack_listed(&s, address),
        )
        .await;
        assert!(!read(&log).contains("cannot read"), "{}", read(&log));
    }
}

/// `ingot serve --rack-address` with TLS: its own rack reaches it over HTTPS and trusts
/// exactly its certificate (pinned), whatever names the certificate holds (this one names
/// 127.0.0.1, not the rack address).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_all_in_one_rack_trusts_its_own_region() {
    if common::skip_unless_root("the rack's TFTP port, port 69") {
        return;
    }
    let pki = Pki::new();
    let (db, dir) = common::database(false).await;
    let key = common::admin_key(&db);
    let address = "127.71.1.1";
    // The rack reaches the region at its listening port: a fixed one, found free.
    let port = std::net::TcpListener::bind((address, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("{address}:{port}");
    let log = dir.path().join("serve.log");
    let mut serve = Proc(
        Command::new(BIN)
            .args(["serve", "--database", &db, "--data-dir"])
            .arg(dir.path())
            .args(["--listen", &listen, "--rack-address", address, "--no-dns"])
            .args(["--tls-cert", &pki.path("region.pem")])
            .args(["--tls-key", &pki.path("region.key")])
            .env("INGOT_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn ingot serve"),
    );
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(serve.0.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(
        line.trim(),
        format!("ingot: listening on https://{listen}/MAAS/"),
        "{}",
        read(&log)
    );
    // The region's own clients check its name: the certificate's "localhost", at the address.
    let http = reqwest::Client::builder()
        .no_proxy()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(pki.path("ca.pem")).unwrap()).unwrap(),
        )
        .resolve(
            "localhost",
            std::net::SocketAddr::from(([127, 71, 1, 1], port)),
        )
        .build()
        .unwrap();
    let c = common::Client {
        http,
        ..common::Client::new(&format!("https://localhost:{port}"), &key)
    };
    wait_for(
        || format!("the region's own rack is not listed: {}", read(&log)),
        || {
            let c = c.clone();
            async move {
                let r = c.get("/MAAS/api/2.0/rackcontrollers/").await;
                r.status.is_success() && r.body.contains(&format!("\"{address}\""))
            }
        },
    )
    .await;
    let text = read(&log);
    assert!(
        !text.contains("cannot read the rack configuration"),
        "{text}"
    );
}

/// Runs the agent as `maas-run-scripts` with `args`; (success, stdout + stderr, how long).
async fn agent(args: Vec<String>) -> (bool, String, Duration) {
    let start = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(agent_binary())
            .args(&args)
            .output()
            .expect("run the agent")
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text, start.elapsed())
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// `maas-run-scripts register-machine` (the API) and `report-results` (the metadata API)
/// refuse a region with the wrong certificate at once (a certificate does not change by
/// retrying) and work with the right CA or pin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maas_run_scripts_checks_the_regions_certificate() {
    if common::skip_unless_root("the rack's TFTP port, port 69") {
        return;
    }
    let pki = Pki::new();
    let s = pki.serve().await;
    let c = s.client();
    // This host is the region's machine already: that role is taken away first, so that
    // register-machine creates the machine (as maas_run_scripts.rs does).
    common::forget_region_controllers(&c).await;
    let work = tempfile::tempdir().unwrap();
    let base_dir = work.path().to_string_lossy().into_owned();
    let maas = format!("{}/MAAS", s.base);
    let register = |trust: &[&str]| {
        let mut a = strings(&[
            "register-machine",
            "--hostname",
            "tls-host",
            "--base-dir",
            &base_dir,
            &maas,
            &s.key,
        ]);
        a.extend(strings(trust));
        a
    };
    let wrong_pin = pki.fingerprint("other-ca.pem");
    let right_pin = pki.fingerprint("region.pem");
    let creds = work.path().join("tls-host-creds.yaml");
    for (trust, says) in [
        (
            vec!["--ca-file", &pki.path("other-ca.pem")],
            "does not verify against the CA file",
        ),
        (vec!["--pin-sha256", &wrong_pin], "not the pinned"),
        (vec![], "give the CA that signed it (--ca-file)"),
    ] {
        let (ok, text, _) = agent(register(&trust)).await;
        assert!(!ok, "{trust:?}: {text}");
        assert!(text.contains(says), "{trust:?}: {text}");
        assert!(!creds.exists(), "{trust:?} wrote credentials");
    }
    let found = c
        .get("/MAAS/api/2.0/machines/?hostname=tls-host")
        .await
        .ok()
        .json();
    assert_eq!(
        found,
        serde_json::json!([]),
        "a refused region got a machine"
    );

    // The right CA: registered, credentials written with the https:// endpoint.
    let (ok, text, _) = agent(register(&["--ca-file", &pki.path("ca.pem")])).await;
    assert!(ok, "{text}");
    assert!(text.contains("Hardware information uploaded"), "{text}");
    let yaml = std::fs::read_to_string(&creds).unwrap();
    assert!(
        yaml.contains(&format!("endpoint: {maas}/metadata/")),
        "{yaml}"
    );
    let m = &c
        .get("/MAAS/api/2.0/machines/?hostname=tls-host")
        .await
        .ok()
        .json()[0];
    assert_eq!(m["status_name"], "Deployed", "{m}");

    // report-results (the metadata API, machine credentials): the right pin works, the wrong
    // one is refused without the retries an unreachable region gets.
    let report = |trust: &[&str]| {
        let mut a = strings(&["report-results", "--config", creds.to_str().unwrap()]);
        a.extend(strings(trust));
        a
    };
    let (ok, text, _) = agent(report(&["--pin-sha256", &right_pin])).await;
    assert!(ok, "{text}");
    assert!(text.contains("Hardware information uploaded"), "{text}");
    let (ok, text, took) = agent(report(&["--pin-sha256", &wrong_pin])).await;
    assert!(!ok, "{text}");
    assert!(text.contains("not the pinned"), "{text}");
    assert!(
        !text.contains("retry_in"),
        "a refused certificate is retried: {text}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}: {text}");
    // The CA file given by the environment (as the hardware-sync unit would).
    let (ok, text, _) = agent(report(&[])).await;
    assert!(!ok, "{text}");
    let out = tokio::task::spawn_blocking({
        let args = report(&[]);
        let ca = pki.path("ca.pem");
        move || {
            Command::new(agent_binary())
                .args(&args)
                .env("INGOT_CA_FILE", ca)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "INGOT_CA_FILE: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn libmaas_python() -> Option<String> {
    match std::env::var("INGOT_LIBMAAS_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "CI must provide INGOT_LIBMAAS_PYTHON (scripts/test.sh does)"
            );
            eprintln!("INGOT_LIBMAAS_PYTHON missing: skipping (run through scripts/test.sh)");
            None
        }
    }
}

const LIST_MACHINES: &str = r#"
import os
from maas.client import connect
c = connect(os.environ["MAAS_URL"], apikey=os.environ["MAAS_APIKEY"])
print(sorted(m.hostname for m in c.machines.list()))
"#;

/// python-libmaas over HTTPS: it trusts the CA given by the usual OpenSSL and requests
/// variables, and fails against a region signed by another.
#[tokio::test]
async fn python_libmaas_over_https() {
    let Some(py) = libmaas_python() else {
        return;
    };
    let pki = Pki::new();
    let s = pki.serve().await;
    s.client()
        .create("tls-lib1", "52:54:00:71:00:11", &[])
        .await;
    let ca = pki.path("ca.pem");
    let out = common::run_libmaas(
        &py,
        &s,
        LIST_MACHINES,
        &[("SSL_CERT_FILE", &ca), ("REQUESTS_CA_BUNDLE", &ca)],
    )
    .await;
    assert!(out.contains("'tls-lib1'"), "{out}");
    // The other CA only: the script fails on the certificate.
    let other: PathBuf = pki.dir.path().join("other-ca.pem");
    let o = Command::new(&py)
        .arg("-c")
        .arg(LIST_MACHINES)
        .env("MAAS_URL", format!("{}/MAAS/", s.base))
        .env("MAAS_APIKEY", &s.key)
        .env("SSL_CERT_FILE", &other)
        .env("REQUESTS_CA_BUNDLE", &other)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
}

/// `ingot login --cacerts FILE` and `-k`, as `maas login` has them: without either, the CLI
/// refuses a region whose certificate the web roots do not know and says what to give; with
/// the wrong CA it names what it trusted and what it saw; a file with no certificate is refused
/// before any connection; with the right CA it logs in and keeps a copy of the file, so the
/// profile goes on working after the original is gone; `-k` logs in without a check; logging
/// out removes the copy.
#[tokio::test]
async fn the_cli_logs_in_with_cacerts_or_insecure() {
    let pki = Pki::new();
    let s = pki.serve().await;
    let cfg = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| -> (i32, String, String) {
        let out = Command::new(BIN)
            .args(args)
            .env("INGOT_CONFIG_DIR", cfg.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let url = format!("{}/MAAS/", s.base);
    assert!(url.starts_with("https://"), "{url}");

    let (code, _, err) = cli(&["login", "admin", &url, &s.key]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("certificate is refused") && err.contains("--cacerts FILE"),
        "{err}"
    );

    let (code, _, err) = cli(&[
        "login",
        "admin",
        &url,
        &s.key,
        "--cacerts",
        &pki.path("other-ca.pem"),
    ]);
    assert_eq!(code, 2, "{err}");
    let other = pki.fingerprint("other-ca.pem");
    let other = other.rsplit_once('=').unwrap().1;
    assert!(
        err.contains("does not verify against the CA file") && err.contains(other),
        "{err}"
    );

    let (code, _, err) = cli(&[
        "login",
        "admin",
        &url,
        &s.key,
        &format!("--cacerts={}", pki.path("region.key")),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--cacerts:") && err.contains("region.key"),
        "{err}"
    );
    assert!(!cfg.path().join("profiles.json").exists());

    // The right CA, from a file that is then removed.
    let elsewhere = tempfile::tempdir().unwrap();
    let ca = elsewhere.path().join("ca.pem");
    std::fs::copy(pki.path("ca.pem"), &ca).unwrap();
    let (code, out, err) = cli(&[
        "login",
        "--cacerts",
        ca.to_str().unwrap(),
        "admin",
        &url,
        &s.key,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    drop(elsewhere);
    let (code, out, err) = cli(&["admin", "users", "whoami"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("admin"), "{out}");
    let (code, out, err) = cli(&["admin", "machines", "read"]);
    assert_eq!(code, 0, "{err}");
    assert!(serde_json::from_str::<serde_json::Value>(&out)
        .unwrap()
        .is_array());
    let copy = cfg.path().join("certs").join("admin.pem");
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        std::fs::read(pki.path("ca.pem")).unwrap()
    );
    let (code, _, err) = cli(&["refresh"]);
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = cli(&["login", "quick", &url, &s.key, "-k"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = cli(&["quick", "users", "whoami"]);
    assert_eq!(code, 0, "{out}{err}");

    let (code, _, err) = cli(&["logout", "admin"]);
    assert_eq!(code, 0, "{err}");
    assert!(!copy.exists(), "logout left {}", copy.display());
}

/// A region serving TLS with `--http-listen` sends machines (whose iPXE has no HTTPS) to its
/// plain-HTTP port: the rack configuration names it, and there the iPXE script's URLs are
/// `http://`. `--http-listen` without TLS is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_region_sends_machines_to_its_plain_http_port() {
    let pki = Pki::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let plain = format!("127.0.0.1:{port}");
    let ca = std::fs::read(pki.path("ca.pem")).unwrap();
    let s = Server::start_tls(
        &pki.path("region.pem"),
        &pki.path("region.key"),
        &ca,
        &["--http-listen", &plain],
    )
    .await;
    let config = s.rack_config(&[("name", "r1")]).await;
    assert_eq!(
        config["region_url"],
        format!("http://{plain}/MAAS"),
        "{config}"
    );
    // The plain port serves the same API, its URLs `http://` (the VM test in netboot.rs boots
    // a machine through it).
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let d: serde_json::Value = http
        .get(format!("http://{plain}/MAAS/api/2.0/describe/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = d.to_string();
    assert!(
        text.contains(&format!("http://{plain}/MAAS/api/2.0/")) && !text.contains("https://"),
        "{text}"
    );
    // The nothing-to-boot script for a stranger when the region has no image: answered there.
    let script = http
        .get(format!(
            "http://{plain}/MAAS/boot/ipxe?mac=52:54:00:12:34:56&arch=amd64&firmware=ipxe"
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(script.starts_with("#!ipxe"), "{script}");
    // Without TLS there is nothing to keep a plain port beside.
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--http-listen", &plain])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tls-cert"), "{err}");
}
