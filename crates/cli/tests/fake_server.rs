//! End-to-end tests of `run` against a fake MAAS-like HTTP server on 127.0.0.1.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    requests: Mutex<Vec<Recorded>>,
    /// After `refresh`, the describe document grows a `zones` handler.
    new_describe: AtomicBool,
}

struct Server {
    addr: SocketAddr,
    state: Arc<State>,
}

impl Server {
    async fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(State::default());
        let st = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let st = st.clone();
                tokio::spawn(async move {
                    let _ = handle(stream, st).await;
                });
            }
        });
        Server { addr, state }
    }

    fn url(&self) -> String {
        format!("http://{}/MAAS/", self.addr)
    }

    fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().expect("lock").clone()
    }

    fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.state.requests.lock().expect("lock"))
    }
}

fn handler(name: &str, path: &str, params: &[&str], actions: Value) -> Value {
    json!({
        "name": name,
        "doc": format!("\n    Manage {name}.\n\n    More text.\n    "),
        // A host the test client must NOT use: the path is re-rooted on the profile URL.
        "uri": format!("http://describe-host.invalid:9999{path}"),
        "path": path,
        "params": params,
        "actions": actions,
    })
}

fn describe(with_zones: bool) -> Value {
    let machines = handler(
        "MachinesHandler",
        "/MAAS/api/2.0/machines/",
        &[],
        json!([
            {"name": "read", "method": "GET", "op": null, "restful": true, "doc": "List machines.\n\nLong text."},
            {"name": "create", "method": "POST", "op": null, "restful": true, "doc": "Create a machine."},
            {"name": "allocate", "method": "POST", "op": "allocate", "restful": false, "doc": "Allocate a machine."}
        ]),
    );
    let anon_machines = handler(
        "AnonMachinesHandler",
        "/MAAS/api/2.0/machines/",
        &[],
        json!([{"name": "is_registered", "method": "GET", "op": "is_registered", "restful": false, "doc": "Is it?"}]),
    );
    let machine = handler(
        "MachineHandler",
        "/MAAS/api/2.0/machines/{system_id}/",
        &["system_id"],
        json!([
            {"name": "read", "method": "GET", "op": null, "restful": true, "doc": "Read a machine."},
            {"name": "delete", "method": "DELETE", "op": null, "restful": true, "doc": "Delete a machine."},
            {"name": "deploy", "method": "POST", "op": "deploy", "restful": false,
             "doc": "\n        Deploy an operating system to a machine.\n\n        :param distro_series: The OS release.\n        "},
            {"name": "query_power_state", "method": "GET", "op": "query_power_state", "restful": false, "doc": "Query power."}
        ]),
    );
    let pools = handler(
        "ResourcePoolsHandler",
        "/MAAS/api/2.0/resourcepools/",
        &[],
        json!([{"name": "read", "method": "GET", "op": null, "restful": true, "doc": "List pools."}]),
    );
    let mut resources = vec![
        json!({"name": "MachinesHandler", "anon": anon_machines, "auth": machines}),
        json!({"name": "MachineHandler", "anon": null, "auth": machine}),
        json!({"name": "ResourcePoolsHandler", "anon": null, "auth": pools}),
    ];
    if with_zones {
        let zones = handler(
            "ZonesHandler",
            "/MAAS/api/2.0/zones/",
            &[],
            json!([{"name": "read", "method": "GET", "op": null, "restful": true, "doc": "List zones."}]),
        );
        resources.push(json!({"name": "ZonesHandler", "anon": null, "auth": zones}));
    }
    json!({"doc": "MAAS API", "hash": "h1", "resources": resources})
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn handle(mut stream: TcpStream, state: Arc<State>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let rec = Recorded {
        method,
        target,
        headers,
        body,
    };
    state.requests.lock().expect("lock").push(rec.clone());

    let authorized = rec
        .header("authorization")
        .is_some_and(|a| a.contains("oauth_token=\"good-tk\""));
    let path = rec.target.split('?').next().unwrap_or("");
    let json = "application/json";
    let (status, ctype, body): (&str, &str, Vec<u8>) = match (rec.method.as_str(), path) {
        ("GET", "/MAAS/api/2.0/describe/") => {
            let doc = describe(state.new_describe.load(Ordering::SeqCst));
            ("200 OK", json, doc.to_string().into_bytes())
        }
        ("GET", "/MAAS/api/2.0/users/") if rec.target.ends_with("?op=whoami") => {
            if authorized {
                (
                    "200 OK",
                    json,
                    br#"{"username":"admin","is_superuser":true}"#.to_vec(),
                )
            } else {
                (
                    "401 Unauthorized",
                    "text/plain",
                    b"Authorization Error: 'Invalid access token'".to_vec(),
                )
            }
        }
        _ if !path.starts_with("/MAAS/api/2.0/") => {
            ("404 Not Found", "text/plain", b"Not here.".to_vec())
        }
        _ if !authorized => ("401 Unauthorized", "text/plain", b"Unauthorised".to_vec()),
        ("GET", "/MAAS/api/2.0/machines/") => (
            "200 OK",
            "application/json; charset=utf-8",
            br#"[{"system_id":"abc","hostname":"a"}]"#.to_vec(),
        ),
        ("POST", "/MAAS/api/2.0/machines/abc/") => (
            "200 OK",
            json,
            br#"{"system_id":"abc","status_name":"Deploying"}"#.to_vec(),
        ),
        ("POST", "/MAAS/api/2.0/machines/") if !rec.target.contains('?') => {
            ("200 OK", json, br#"{"system_id":"new1"}"#.to_vec())
        }
        ("DELETE", "/MAAS/api/2.0/machines/abc/") => ("204 No Content", "text/plain", Vec::new()),
        ("GET", "/MAAS/api/2.0/zones/") => ("200 OK", "text/plain", b"plain zones".to_vec()),
        _ => (
            "404 Not Found",
            "text/plain",
            b"No Machine matches the given query.".to_vec(),
        ),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.write_all(&body).await?;
    stream.shutdown().await?;
    Ok(())
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let n: u64 = rand::random();
        TempDir(std::env::temp_dir().join(format!("ingot-cli-it-{tag}-{n:016x}")))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Outcome {
    code: i32,
    out: String,
    err: String,
}

async fn ingot(dir: &Path, args: &[&str]) -> Outcome {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = ingot_cli::run(&args, dir, &mut out, &mut err).await;
    Outcome {
        code,
        out: String::from_utf8_lossy(&out).into_owned(),
        err: String::from_utf8_lossy(&err).into_owned(),
    }
}

/// Parse an OAuth header into its parameters, checking the overall shape.
fn oauth_params(header: &str) -> Vec<(String, String)> {
    let rest = header.strip_prefix("OAuth ").expect("OAuth scheme");
    rest.split(", ")
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("k=v");
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .expect("quoted");
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn assert_signed(rec: &Recorded) {
    let header = rec.header("authorization").expect("authorization header");
    let params = oauth_params(header);
    let keys: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "realm",
            "oauth_nonce",
            "oauth_timestamp",
            "oauth_version",
            "oauth_signature_method",
            "oauth_consumer_key",
            "oauth_token",
            "oauth_signature"
        ],
        "the header python-libmaas (oauthlib) sends, in its order"
    );
    assert_eq!(params[0].1, "OAuth");
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("oauth_version"), Some("1.0"));
    assert_eq!(get("oauth_signature_method"), Some("PLAINTEXT"));
    assert_eq!(get("oauth_consumer_key"), Some("ck"));
    assert_eq!(get("oauth_token"), Some("good-tk"));
    assert_eq!(get("oauth_signature"), Some("%26ts"));
    assert!(get("oauth_nonce").is_some_and(|n| n.len() >= 16));
    let ts: u64 = get("oauth_timestamp")
        .and_then(|t| t.parse().ok())
        .expect("timestamp");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    assert!(ts.abs_diff(now) < 300, "timestamp {ts} vs now {now}");
}

/// Parse a multipart body into (name, filename, content) triples.
fn parse_multipart(content_type: &str, body: &[u8]) -> Vec<(String, Option<String>, Vec<u8>)> {
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .expect("multipart content type");
    let text = body.to_vec();
    let delim = format!("--{boundary}");
    let close = format!("--{boundary}--\r\n");
    assert!(
        text.ends_with(close.as_bytes()),
        "body must end with the close delimiter"
    );
    let mut parts = Vec::new();
    let mut rest = &text[..text.len() - close.len()];
    while !rest.is_empty() {
        assert!(
            rest.starts_with(delim.as_bytes()),
            "part must start with the delimiter"
        );
        rest = &rest[delim.len() + 2..];
        let head_end = find(rest, b"\r\n\r\n").expect("part head");
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        rest = &rest[head_end + 4..];
        let next = find(rest, format!("\r\n{delim}").as_bytes()).unwrap_or(rest.len() - 2);
        let content = rest[..next].to_vec();
        rest = &rest[next + 2..];
        let disposition = head
            .lines()
            .find(|l| l.starts_with("Content-Disposition: form-data; "))
            .expect("disposition");
        let attr = |key: &str| {
            let pat = format!("{key}=\"");
            disposition
                .find(&pat)
                .map(|i| &disposition[i + pat.len()..])
                .and_then(|s| s.split('"').next())
                .map(str::to_string)
        };
        parts.push((attr("name").expect("name"), attr("filename"), content));
    }
    parts
}

#[tokio::test]
async fn login_read_deploy_create_delete_logout() {
    let server = Server::start().await;
    let dir = TempDir::new("flow");

    // login
    let r = ingot(&dir.0, &["login", "p", &server.url(), "ck:good-tk:ts"]).await;
    assert_eq!(r.code, 0, "err: {}", r.err);
    let api = format!("http://{}/MAAS/api/2.0/", server.addr);
    assert!(
        r.out.contains(&format!(
            "You are now logged in to the Ingot server at {api} with the profile name 'p'."
        )),
        "{}",
        r.out
    );
    let reqs = server.take();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].target.as_str()),
        ("GET", "/MAAS/api/2.0/describe/")
    );
    assert!(
        reqs[0].header("authorization").is_none(),
        "describe is fetched anonymously"
    );
    assert_eq!(
        (reqs[1].method.as_str(), reqs[1].target.as_str()),
        ("GET", "/MAAS/api/2.0/users/?op=whoami")
    );
    assert_signed(&reqs[1]);

    // The profile file.
    let file = dir.0.join("profiles.json");
    let saved: Value =
        serde_json::from_slice(&std::fs::read(&file).expect("profile file")).expect("json");
    assert_eq!(saved["profiles"]["p"]["name"], "p");
    assert_eq!(saved["profiles"]["p"]["url"], api.as_str());
    assert_eq!(
        saved["profiles"]["p"]["credentials"],
        json!(["ck", "good-tk", "ts"])
    );
    assert_eq!(saved["profiles"]["p"]["description"], describe(false));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // list
    let r = ingot(&dir.0, &["list"]).await;
    assert_eq!((r.code, r.out.as_str()), (0, format!("p {api}\n").as_str()));

    // GET with query, pretty JSON output.
    let r = ingot(&dir.0, &["p", "machines", "read", "hostname=a"]).await;
    assert_eq!(r.code, 0, "err: {}", r.err);
    assert_eq!(
        r.out,
        "[\n  {\n    \"hostname\": \"a\",\n    \"system_id\": \"abc\"\n  }\n]\n"
    );
    let reqs = server.take();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].target, "/MAAS/api/2.0/machines/?hostname=a");
    assert!(reqs[0].body.is_empty());
    assert_eq!(
        reqs[0].header("host"),
        Some(server.addr.to_string().as_str())
    );
    assert_signed(&reqs[0]);

    // POST with op and uri param, multipart body.
    let r = ingot(
        &dir.0,
        &["p", "machine", "deploy", "abc", "distro_series=jammy"],
    )
    .await;
    assert_eq!(r.code, 0, "err: {}", r.err);
    assert_eq!(
        r.out,
        "{\n  \"status_name\": \"Deploying\",\n  \"system_id\": \"abc\"\n}\n"
    );
    let reqs = server.take();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].target, "/MAAS/api/2.0/machines/abc/?op=deploy");
    assert_signed(&reqs[0]);
    let ct = reqs[0].header("content-type").expect("content type");
    assert_eq!(
        parse_multipart(ct, &reqs[0].body),
        vec![("distro_series".to_string(), None, b"jammy".to_vec())]
    );

    // Repeated keys and a file part.
    let data_file = dir.0.join("note.txt");
    std::fs::write(&data_file, b"line1\r\nline2\x00").expect("write");
    let file_arg = format!("description@={}", data_file.display());
    let r = ingot(
        &dir.0,
        &[
            "p",
            "machines",
            "create",
            "hostname=h",
            "architecture=amd64",
            "mac_addresses=52:54:00:00:00:01",
            "mac_addresses=52:54:00:00:00:02",
            "power_type=manual",
            &file_arg,
        ],
    )
    .await;
    assert_eq!(r.code, 0, "err: {}", r.err);
    let reqs = server.take();
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].target.as_str()),
        ("POST", "/MAAS/api/2.0/machines/")
    );
    let ct = reqs[0].header("content-type").expect("content type");
    let s = |x: &str| x.to_string();
    assert_eq!(
        parse_multipart(ct, &reqs[0].body),
        vec![
            (s("hostname"), None, b"h".to_vec()),
            (s("architecture"), None, b"amd64".to_vec()),
            (s("mac_addresses"), None, b"52:54:00:00:00:01".to_vec()),
            (s("mac_addresses"), None, b"52:54:00:00:00:02".to_vec()),
            (s("power_type"), None, b"manual".to_vec()),
            (
                s("description"),
                Some(s("note.txt")),
                b"line1\r\nline2\x00".to_vec()
            ),
        ]
    );

    // POST with op and no data still sends an (empty) multipart body.
    let r = ingot(&dir.0, &["p", "machines", "allocate"]).await;
    assert_eq!(r.code, 2, "the fake server 404s this: {}", r.out);
    let reqs = server.take();
    assert_eq!(reqs[0].target, "/MAAS/api/2.0/machines/?op=allocate");
    let ct = reqs[0].header("content-type").expect("content type");
    assert!(parse_multipart(ct, &reqs[0].body).is_empty());

    // DELETE answered 204.
    let r = ingot(&dir.0, &["p", "machine", "delete", "abc"]).await;
    assert_eq!(
        (r.code, r.out.as_str()),
        (0, "Success.\n"),
        "err: {}",
        r.err
    );
    let reqs = server.take();
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].target.as_str()),
        ("DELETE", "/MAAS/api/2.0/machines/abc/")
    );

    // Non-2xx: status line and body on err, exit 2.
    let r = ingot(&dir.0, &["p", "machine", "deploy", "nope"]).await;
    assert_eq!(r.code, 2);
    assert_eq!(r.out, "");
    assert_eq!(
        r.err,
        "HTTP 404 Not Found\n\nNo Machine matches the given query.\n"
    );
    let reqs = server.take();
    assert_eq!(reqs[0].target, "/MAAS/api/2.0/machines/nope/?op=deploy");

    // Aliases for handlers and actions.
    let r = ingot(&dir.0, &["p", "machine", "query_power_state", "abc"]).await;
    assert_eq!(r.code, 2);
    let r2 = ingot(&dir.0, &["p", "machine", "query-power-state", "abc"]).await;
    assert_eq!(r2.code, 2);
    let reqs = server.take();
    assert_eq!(reqs.len(), 2);
    assert!(reqs
        .iter()
        .all(|q| q.target == "/MAAS/api/2.0/machines/abc/?op=query_power_state"));
    for alias in ["resource-pools", "resource_pools", "resourcepools"] {
        let r = ingot(&dir.0, &["p", alias, "read"]).await;
        assert_eq!(r.code, 2, "{alias}");
    }
    let reqs = server.take();
    assert_eq!(reqs.len(), 3);
    assert!(reqs
        .iter()
        .all(|q| q.target == "/MAAS/api/2.0/resourcepools/"));

    // logout
    let r = ingot(&dir.0, &["logout", "p"]).await;
    assert_eq!(r.code, 0, "err: {}", r.err);
    let r = ingot(&dir.0, &["list"]).await;
    assert_eq!((r.code, r.out.as_str()), (0, ""));
    let r = ingot(&dir.0, &["p", "machines", "read"]).await;
    assert_eq!(r.code, 2);
    assert!(r.err.contains("profile 'p' not found"), "{}", r.err);
    let r = ingot(&dir.0, &["logout", "p"]).await;
    assert_eq!(r.code, 2);
    assert!(server.requests().is_empty(), "no requests after logout");
}

#[tokio::test]
async fn rejected_key_is_not_saved() {
    let server = Server::start().await;
    let dir = TempDir::new("badkey");
    let r = ingot(&dir.0, &["login", "p", &server.url(), "ck:bad-tk:ts"]).await;
    assert_eq!(r.code, 2);
    assert!(r.err.contains("The API key was not accepted"), "{}", r.err);
    assert!(r.out.is_empty());
    assert!(!dir.0.join("profiles.json").exists());
    let r = ingot(&dir.0, &["login", "p", &server.url(), "not-a-key"]).await;
    assert_eq!(r.code, 2);
    assert!(
        r.err.contains("consumer_key:token_key:token_secret"),
        "{}",
        r.err
    );
}

#[tokio::test]
async fn anonymous_login_uses_anon_handlers() {
    let server = Server::start().await;
    let dir = TempDir::new("anon");
    let url = format!("http://{}/MAAS/api/2.0", server.addr);
    let r = ingot(&dir.0, &["login", "anon", &url, ""]).await;
    assert_eq!(r.code, 0, "err: {}", r.err);
    let reqs = server.take();
    assert_eq!(reqs.len(), 1, "no whoami for anonymous logins");
    let saved: Value =
        serde_json::from_slice(&std::fs::read(dir.0.join("profiles.json")).expect("file"))
            .expect("json");
    assert_eq!(saved["profiles"]["anon"]["credentials"], Value::Null);

    let r = ingot(&dir.0, &["anon", "--help"]).await;
    assert_eq!(r.code, 0);
    assert!(r.err.contains("anon-machines"), "{}", r.err);
    assert!(!r.err.contains("resource-pools"), "{}", r.err);

    let r = ingot(
        &dir.0,
        &[
            "anon",
            "anon-machines",
            "is-registered",
            "mac_address=52:54:00:00:00:01",
        ],
    )
    .await;
    // The fake server refuses unsigned calls; check what was sent.
    assert_eq!(r.code, 2);
    assert!(r.err.starts_with("HTTP 401 Unauthorized\n"), "{}", r.err);
    let reqs = server.take();
    assert_eq!(
        reqs[0].target,
        "/MAAS/api/2.0/machines/?op=is_registered&mac_address=52%3A54%3A00%3A00%3A00%3A01"
    );
    assert!(reqs[0].header("authorization").is_none());
}

/// Lines with runs of whitespace squeezed to one space.
fn s(x: &str) -> String {
    x.to_string()
}

fn squeezed_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[tokio::test]
async fn help_texts() {
    let server = Server::start().await;
    let dir = TempDir::new("help");
    let r = ingot(&dir.0, &["login", "admin", &server.url(), "ck:good-tk:ts"]).await;
    assert_eq!(r.code, 0, "err: {}", r.err);

    let r = ingot(&dir.0, &["admin", "--help"]).await;
    assert_eq!(r.code, 0);
    assert!(r.out.is_empty());
    let lines = squeezed_lines(&r.err);
    assert!(
        lines.contains(&s("machines Manage MachinesHandler.")),
        "{}",
        r.err
    );
    assert!(
        lines.contains(&s("machine Manage MachineHandler.")),
        "{}",
        r.err
    );
    assert!(
        lines.contains(&s("resource-pools Manage ResourcePoolsHandler.")),
        "{}",
        r.err
    );

    let r = ingot(&dir.0, &["admin", "machine", "--help"]).await;
    assert_eq!(r.code, 0);
    assert!(
        r.err
            .contains("usage: ingot admin machine [-h] COMMAND ..."),
        "{}",
        r.err
    );
    assert!(
        r.err.contains("Manage MachineHandler.\n\nMore text."),
        "{}",
        r.err
    );
    let lines = squeezed_lines(&r.err);
    assert!(
        lines.contains(&s("deploy Deploy an operating system to a machine.")),
        "{}",
        r.err
    );
    assert!(
        lines.contains(&s("query-power-state Query power.")),
        "{}",
        r.err
    );

    let r = ingot(&dir.0, &["admin", "machine", "deploy", "--help"]).await;
    assert_eq!(r.code, 0);
    assert!(
        r.err
            .contains("usage: ingot admin machine deploy system_id [key=value ...]"),
        "{}",
        r.err
    );
    assert!(
        r.err.contains(
            "Deploy an operating system to a machine.\n\n:param distro_series: The OS release."
        ),
        "{}",
        r.err
    );
    assert!(
        r.err.contains("Positional arguments:\n  system_id\n"),
        "{}",
        r.err
    );
    assert!(
        r.err
            .contains("POST /MAAS/api/2.0/machines/{system_id}/?op=deploy"),
        "{}",
        r.err
    );

    // Missing pieces: help plus an error, exit 2.
    let r = ingot(&dir.0, &["admin"]).await;
    assert_eq!(r.code, 2);
    assert!(r.err.contains("machines"), "{}", r.err);
    let r = ingot(&dir.0, &["admin", "machines"]).await;
    assert_eq!(r.code, 2);
    assert!(r.err.contains("allocate"), "{}", r.err);

    let r = ingot(&dir.0, &["--help"]).await;
    assert_eq!(r.code, 0);
    assert!(
        r.err.contains("login PROFILE URL [APIKEY]") && r.err.contains("Profiles: admin"),
        "{}",
        r.err
    );
    assert!(
        server.take().len() == 2,
        "help makes no requests beyond login"
    );
}

#[tokio::test]
async fn command_line_errors() {
    let server = Server::start().await;
    let dir = TempDir::new("errors");
    let r = ingot(&dir.0, &["login", "admin", &server.url(), "ck:good-tk:ts"]).await;
    assert_eq!(r.code, 0, "err: {}", r.err);
    server.take();

    let r = ingot(&dir.0, &["admn", "machines", "read"]).await;
    assert_eq!(r.code, 2);
    assert!(
        r.err
            .contains("profile 'admn' not found. Did you mean 'admin'?"),
        "{}",
        r.err
    );

    let r = ingot(&dir.0, &["admin", "machnes", "read"]).await;
    assert_eq!(r.code, 2);
    assert!(r.err.contains("unknown command 'machnes'"), "{}", r.err);
    assert!(r.err.contains("Did you mean 'machines'"), "{}", r.err);

    let r = ingot(&dir.0, &["admin", "machine", "depoly", "abc"]).await;
    assert_eq!(r.code, 2);
    assert!(r.err.contains("unknown action 'depoly'"), "{}", r.err);
    assert!(r.err.contains("'deploy'"), "{}", r.err);

    let r = ingot(&dir.0, &["admin", "machine", "deploy"]).await;
    assert_eq!(r.code, 2);
    assert!(
        r.err.contains("missing required argument 'system_id'"),
        "{}",
        r.err
    );
    let r = ingot(
        &dir.0,
        &["admin", "machine", "deploy", "distro_series=jammy"],
    )
    .await;
    assert_eq!(r.code, 2);
    assert!(r.err.contains("'system_id'"), "{}", r.err);

    let r = ingot(&dir.0, &["admin", "machines", "read", "oops"]).await;
    assert_eq!(r.code, 2);
    assert!(
        r.err.contains("'oops' is not a name=value pair"),
        "{}",
        r.err
    );

    let r = ingot(&dir.0, &["login", "only-name"]).await;
    assert_eq!(r.code, 2);
    let r = ingot(&dir.0, &["login", "list", &server.url(), ""]).await;
    assert_eq!(r.code, 2);
    assert!(r.err.contains("invalid profile name"), "{}", r.err);
    let r = ingot(&dir.0, &["login", "x", "not a url", ""]).await;
    assert_eq!(r.code, 2);
    assert!(r.err.contains("invalid server URL"), "{}", r.err);
    let r = ingot(&dir.0, &["list", "extra"]).await;
    assert_eq!(r.code, 2);
    let r = ingot(&dir.0, &[]).await;
    assert_eq!(r.code, 2);
    assert!(r.err.starts_with("usage: ingot"), "{}", r.err);

    assert!(server.take().is_empty(), "no request for bad command lines");
}

#[tokio::test]
async fn connection_errors_and_non_maas_servers() {
    // A port that nothing listens on.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let dir = TempDir::new("conn");
    let r = ingot(
        &dir.0,
        &["login", "p", &format!("http://{addr}/MAAS/"), "a:b:c"],
    )
    .await;
    assert_eq!(r.code, 2);
    assert!(r.err.contains("could not connect to"), "{}", r.err);
    assert!(
        r.err
            .contains(&format!("http://{addr}/MAAS/api/2.0/describe/")),
        "{}",
        r.err
    );

    // A server whose describe path 404s.
    let server = Server::start().await;
    let r = ingot(
        &dir.0,
        &[
            "login",
            "p",
            &format!("http://{}/other/", server.addr),
            "a:b:c",
        ],
    )
    .await;
    assert_eq!(r.code, 2);
    assert!(r.err.contains("HTTP 404"), "{}", r.err);
    assert!(!dir.0.join("profiles.json").exists());

    // A profile whose server went away.
    let r = ingot(&dir.0, &["login", "p", &server.url(), "ck:good-tk:ts"]).await;
    assert_eq!(r.code, 0, "{}", r.err);
    let file = dir.0.join("profiles.json");
    let text = std::fs::read_to_string(&file).expect("read");
    let moved = text.replace(&server.addr.to_string(), &addr.to_string());
    std::fs::write(&file, moved).expect("write");
    let r = ingot(&dir.0, &["p", "machines", "read"]).await;
    assert_eq!(r.code, 2);
    assert!(
        r.err.starts_with("Error: could not connect to http://"),
        "{}",
        r.err
    );
}

#[tokio::test]
async fn refresh_updates_descriptions() {
    let server = Server::start().await;
    let dir = TempDir::new("refresh");
    let r = ingot(&dir.0, &["login", "p", &server.url(), "ck:good-tk:ts"]).await;
    assert_eq!(r.code, 0, "err: {}", r.err);
    let r = ingot(&dir.0, &["p", "zones", "read"]).await;
    assert_eq!(r.code, 2);
    assert!(r.err.contains("unknown command 'zones'"), "{}", r.err);

    server.state.new_describe.store(true, Ordering::SeqCst);
    server.take();
    let r = ingot(&dir.0, &["refresh"]).await;
    assert_eq!(r.code, 0, "err: {}", r.err);
    let reqs = server.take();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].target, "/MAAS/api/2.0/describe/");

    let r = ingot(&dir.0, &["p", "zones", "read"]).await;
    assert_eq!(
        (r.code, r.out.as_str()),
        (0, "plain zones\n"),
        "err: {}",
        r.err
    );
}
