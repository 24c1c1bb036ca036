//! The region's metadata API as the runner speaks it: `GET maas-scripts/` (what to run) and
//! `POST op=signal` (multipart: fields and output files), signed with the machine's token
//! (OAuth 1.0 PLAINTEXT). Connection errors, timeouts and 5xx answers are retried with
//! exponential back-off; any other error status is returned at once.

use std::time::Duration;

use serde::Deserialize;

/// The machine's token, from `ingot.token=CK:TK:TS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub consumer_key: String,
    pub token_key: String,
    pub token_secret: String,
}

impl Token {
    /// A fresh OAuth 1.0 PLAINTEXT `Authorization` header (new nonce and timestamp) for this
    /// token: machine credentials and users' API keys alike.
    pub fn authorization(&self) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        ingot_wire::build_oauth_header(
            &self.consumer_key,
            &self.token_key,
            &self.token_secret,
            &format!("{:016x}", rand::random::<u64>()),
            now,
        )
    }

    /// `consumer_key:token_key:token_secret` (a fourth `:consumer_secret` is accepted; MAAS
    /// consumer secrets are empty).
    pub fn parse(s: &str) -> Option<Token> {
        let k = ingot_wire::parse_api_key(s).ok()?;
        Some(Token {
            consumer_key: k.consumer_key,
            token_key: k.token_key,
            token_secret: k.token_secret,
        })
    }
}

/// How a request failed.
#[derive(Debug)]
pub enum MetadataError {
    /// The region answered with a status that is not retried (4xx): its body says why.
    Status(u16, String),
    /// Still no answer (or a 5xx) after every attempt.
    Unreachable(String),
    /// The region's certificate is not the one trusted (not retried): what was trusted and
    /// what was seen.
    Certificate(String),
    /// The answer could not be read.
    BadResponse(String),
}

impl std::fmt::Display for MetadataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetadataError::Status(s, body) => write!(f, "region answered {s}: {body}"),
            MetadataError::Unreachable(e) => write!(f, "region unreachable: {e}"),
            MetadataError::Certificate(e) => write!(f, "region refused: {e}"),
            MetadataError::BadResponse(e) => write!(f, "unreadable answer from the region: {e}"),
        }
    }
}

impl std::error::Error for MetadataError {}

/// One entry of the `maas-scripts` index (a script result to produce), in run order.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ScriptEntry {
    pub name: String,
    pub script_result_id: i64,
    #[serde(default)]
    pub builtin: bool,
    /// 0 = no timeout.
    #[serde(default)]
    pub timeout_seconds: i64,
    /// 0 alone, 1 one instance at a time, 2 beside anything.
    #[serde(default)]
    pub parallel: i64,
    #[serde(default)]
    pub hardware_type: i64,
    #[serde(default)]
    pub may_reboot: bool,
    #[serde(default)]
    pub for_hardware: Vec<String>,
    #[serde(default)]
    pub parameters: serde_json::Value,
    #[serde(default)]
    pub packages: serde_json::Value,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The result's status label (`Pending`, `Running`, `Passed`, ...).
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub has_started: bool,
    /// The text of a user script; None for built-ins.
    #[serde(default)]
    pub script: Option<String>,
}

impl ScriptEntry {
    /// The timeout, None when there is none.
    pub fn timeout(&self) -> Option<Duration> {
        u64::try_from(self.timeout_seconds)
            .ok()
            .filter(|s| *s > 0)
            .map(Duration::from_secs)
    }

    /// Whether the region still expects this result (pending, or started before a reboot).
    pub fn wanted(&self) -> bool {
        match self.status.as_deref() {
            None => true,
            Some(s) => matches!(
                s,
                "Pending"
                    | "Running"
                    | "Installing dependencies"
                    | "Applying custom network configuration"
            ),
        }
    }
}

/// `GET maas-scripts/`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct ScriptIndex {
    #[serde(default)]
    pub commissioning_scripts: Vec<ScriptEntry>,
    #[serde(default)]
    pub testing_scripts: Vec<ScriptEntry>,
    /// What a release runs (DISK_ERASING: the `wipe-disks` built-in).
    #[serde(default)]
    pub release_scripts: Vec<ScriptEntry>,
}

/// An `op=signal` form: text fields and files (each sent with `filename=` its name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pub fields: Vec<(String, String)>,
    pub files: Vec<(String, Vec<u8>)>,
}

impl Form {
    pub fn new(status: &str) -> Form {
        Form::default()
            .field("op", "signal")
            .field("status", status)
    }

    pub fn field(mut self, name: &str, value: impl Into<String>) -> Form {
        self.fields.push((name.to_string(), value.into()));
        self
    }

    pub fn file(mut self, name: &str, data: Vec<u8>) -> Form {
        self.files.push((name.to_string(), data));
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `multipart/form-data` body for `form` with a random boundary that occurs in none of the
/// values: (content type, body). Parts are sent raw (binary-safe, no transfer encoding), as
/// `ingot-wire` encodes them.
pub fn encode_form(form: &Form) -> (String, Vec<u8>) {
    let parts: Vec<ingot_wire::FormPart> = form
        .fields
        .iter()
        .map(|(n, v)| ingot_wire::FormPart::text(n.as_str(), v.as_str()))
        .chain(
            form.files
                .iter()
                .map(|(n, d)| ingot_wire::FormPart::file(n.as_str(), n.as_str(), d.clone())),
        )
        .collect();
    let boundary = loop {
        let b = format!("ingot-{:032x}", rand::random::<u128>());
        if !ingot_wire::boundary_in_parts(&parts, &b) {
            break b;
        }
    };
    (
        ingot_wire::form_data_content_type(&boundary),
        ingot_wire::encode_form_data(&parts, &boundary),
    )
}

/// A client of one machine's metadata API.
#[derive(Debug, Clone)]
pub struct Client {
    /// `{url}/metadata/2012-03-01`.
    base: String,
    /// `{url}/metadata`.
    root: String,
    token: Token,
    http: reqwest::Client,
    attempts: u32,
    first_delay: Duration,
}

impl Client {
    /// `url` is the region's MAAS root (`http://host:5240/MAAS`, or `https://…` with its
    /// certificate checked as `trust` says).
    pub fn new(
        url: &str,
        token: Token,
        attempts: u32,
        first_delay: Duration,
        trust: &ingot_tls::Trust,
    ) -> Result<Client, MetadataError> {
        let http = trust
            .client_builder()
            .map_err(|e| MetadataError::Certificate(e.to_string()))?
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("ingot-agent/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .build()
            .map_err(|e| MetadataError::Unreachable(e.to_string()))?;
        Ok(Client {
            base: format!("{}/metadata/2012-03-01", url.trim_end_matches('/')),
            root: format!("{}/metadata", url.trim_end_matches('/')),
            token,
            http,
            attempts: attempts.max(1),
            first_delay,
        })
    }

    fn authorization(&self) -> String {
        self.token.authorization()
    }

    /// Sends what `build` makes (signed afresh each attempt) until it gets an answer that is
    /// not a 5xx; returns the body of a 2xx answer.
    async fn send(
        &self,
        what: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Vec<u8>, MetadataError> {
        let mut delay = self.first_delay;
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            let sent = build()
                .header(reqwest::header::AUTHORIZATION, self.authorization())
                .send()
                .await;
            match sent {
                Ok(resp) => {
                    let status = resp.status();
                    let body = match resp.bytes().await {
                        Ok(b) => b.to_vec(),
                        Err(e) if status.is_success() => {
                            return Err(MetadataError::BadResponse(e.to_string()))
                        }
                        Err(_) => Vec::new(),
                    };
                    if status.is_success() {
                        return Ok(body);
                    }
                    let text = String::from_utf8_lossy(&body).into_owned();
                    if !status.is_server_error() {
                        return Err(MetadataError::Status(status.as_u16(), text));
                    }
                    last = format!("{status}: {text}");
                }
                Err(e) => {
                    // A certificate that is not the trusted one does not change by waiting.
                    if let Some(why) = ingot_tls::certificate_refusal(&e) {
                        return Err(MetadataError::Certificate(format!(
                            "{}: {why}",
                            e.url().map(|u| u.as_str()).unwrap_or_default()
                        )));
                    }
                    last = ingot_tls::describe(&e)
                }
            }
            if attempt < self.attempts {
                tracing::warn!(attempt, error = %last, retry_in = ?delay, "{what} failed");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
        Err(MetadataError::Unreachable(last))
    }

    /// `GET maas-scripts/`: what this machine runs now.
    pub async fn scripts(&self) -> Result<ScriptIndex, MetadataError> {
        let url = format!("{}/maas-scripts/", self.base);
        let body = self
            .send("GET maas-scripts", || {
                self.http
                    .get(&url)
                    .header(reqwest::header::ACCEPT, "application/json")
            })
            .await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            // Nothing to run (MAAS answers 204 then).
            return Ok(ScriptIndex::default());
        }
        serde_json::from_slice(&body).map_err(|e| MetadataError::BadResponse(e.to_string()))
    }

    /// `GET latest/deploy-config`: the deployment's [`ingot_core::deploy::DeployConfig`].
    pub async fn deploy_config(&self) -> Result<ingot_core::deploy::DeployConfig, MetadataError> {
        let url = format!("{}/latest/deploy-config", self.root);
        let body = self
            .send("GET deploy-config", || {
                self.http
                    .get(&url)
                    .header(reqwest::header::ACCEPT, "application/json")
            })
            .await?;
        serde_json::from_slice(&body).map_err(|e| MetadataError::BadResponse(e.to_string()))
    }

    /// `POST status/{system_id}`: one progress event (JSON, as cloud-init's webhook sends).
    pub async fn status_event(
        &self,
        system_id: &str,
        event: &serde_json::Value,
    ) -> Result<(), MetadataError> {
        let url = format!("{}/status/{system_id}", self.root);
        let body = serde_json::to_vec(event).unwrap_or_default();
        self.send("POST status event", || {
            self.http
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
        })
        .await
        .map(|_| ())
    }

    /// `POST latest/ op=netboot_off`: the next boot is from the disk.
    pub async fn netboot_off(&self) -> Result<(), MetadataError> {
        let url = format!("{}/latest/", self.root);
        let (content_type, body) = encode_form(&Form::default().field("op", "netboot_off"));
        self.send("POST netboot_off", || {
            self.http
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, &content_type)
                .body(body.clone())
        })
        .await
        .map(|_| ())
    }

    /// `POST op=signal` with the form.
    pub async fn signal(&self, form: &Form) -> Result<(), MetadataError> {
        let url = format!("{}/", self.base);
        let (content_type, body) = encode_form(form);
        let what = format!(
            "signal {}{}",
            form.get("status").unwrap_or("?"),
            form.get("script_result_id")
                .map(|id| format!(" (script result {id})"))
                .unwrap_or_default()
        );
        self.send(&what, || {
            self.http
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, &content_type)
                .body(body.clone())
        })
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    #[test]
    fn form_round_trips_through_the_regions_parser() {
        let binary: Vec<u8> = (0..=255u8).chain(b"\r\n--\r\n".iter().copied()).collect();
        let form = Form::new("WORKING")
            .field("script_result_id", "7")
            .field("error", "a \"quoted\"\r\nline")
            .file("50-maas-01-commissioning", b"combined\n".to_vec())
            .file("50-maas-01-commissioning.out", binary.clone())
            .file("50-maas-01-commissioning.err", Vec::new())
            .file("we\"ird\\name.yaml", b"status: skipped\n".to_vec());
        let (ct, body) = encode_form(&form);
        let boundary = ingot_wire::multipart_boundary(&ct).unwrap();
        let m = ingot_wire::parse_multipart(&boundary, &body).unwrap();
        assert_eq!(m.params.get("op"), Some("signal"));
        assert_eq!(m.params.get("status"), Some("WORKING"));
        assert_eq!(m.params.get("script_result_id"), Some("7"));
        assert_eq!(m.params.get("error"), Some("a \"quoted\"\r\nline"));
        let files: Vec<(&str, Option<&str>, &[u8])> = m
            .files
            .iter()
            .map(|f| (f.name.as_str(), f.filename.as_deref(), f.data.as_slice()))
            .collect();
        assert_eq!(
            files,
            vec![
                (
                    "50-maas-01-commissioning",
                    Some("50-maas-01-commissioning"),
                    &b"combined\n"[..]
                ),
                (
                    "50-maas-01-commissioning.out",
                    Some("50-maas-01-commissioning.out"),
                    &binary[..]
                ),
                (
                    "50-maas-01-commissioning.err",
                    Some("50-maas-01-commissioning.err"),
                    &b""[..]
                ),
                (
                    "we\"ird\\name.yaml",
                    Some("we\"ird\\name.yaml"),
                    &b"status: skipped\n"[..]
                ),
            ]
        );
    }

    #[test]
    fn entries_parse_and_know_their_timeouts() {
        let v = serde_json::json!({
            "commissioning_scripts": [
                {"name": "a", "script_result_id": 1, "builtin": true, "timeout_seconds": 60,
                 "parallel": 2, "hardware_type": 0, "may_reboot": false, "for_hardware": [],
                 "parameters": null, "packages": null, "tags": ["node"], "status": "Pending",
                 "has_started": false, "script": null},
                {"name": "b", "script_result_id": 2, "timeout_seconds": 0, "status": "Passed",
                 "script": "#!/bin/sh\n"}
            ],
            "testing_scripts": []
        });
        let idx: ScriptIndex = serde_json::from_value(v).unwrap();
        assert_eq!(idx.commissioning_scripts.len(), 2);
        let (a, b) = (&idx.commissioning_scripts[0], &idx.commissioning_scripts[1]);
        assert_eq!(a.timeout(), Some(Duration::from_secs(60)));
        assert_eq!(b.timeout(), None);
        assert!(a.wanted());
        assert!(!b.wanted(), "a passed result is not run again");
        assert_eq!(b.script.as_deref(), Some("#!/bin/sh\n"));
    }

    /// Head lines and body of each request a test server got.
    type Got = Vec<(Vec<String>, Vec<u8>)>;

    /// A server answering each connection with the next of `replies` (status, body); returns
    /// the requests' heads and bodies.
    fn serve(replies: Vec<(u16, &'static str)>) -> (String, std::thread::JoinHandle<Got>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/MAAS", l.local_addr().unwrap());
        let h = std::thread::spawn(move || {
            let mut got = Vec::new();
            for (status, reply) in replies {
                let (mut s, _) = l.accept().unwrap();
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut head = Vec::new();
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    r.read_line(&mut line).unwrap();
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    head.push(line.trim_end().to_string());
                }
                let mut body = vec![0; len];
                r.read_exact(&mut body).unwrap();
                write!(
                    s,
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                    reply.len()
                )
                .unwrap();
                got.push((head, body));
            }
            got
        });
        (url, h)
    }

    fn token() -> Token {
        Token::parse("ck:tk:ts").unwrap()
    }

    #[tokio::test]
    async fn retries_5xx_then_reports_4xx_without_retrying() {
        let (url, server) = serve(vec![
            (503, "busy"),
            (
                200,
                r#"{"commissioning_scripts": [], "testing_scripts": []}"#,
            ),
            (400, r#"{"status": ["Unknown status"]}"#),
        ]);
        let c = Client::new(
            &url,
            token(),
            3,
            Duration::from_millis(10),
            &ingot_tls::Trust::WebRoots,
        )
        .unwrap();
        assert_eq!(c.scripts().await.unwrap(), ScriptIndex::default());
        match c.signal(&Form::new("BOGUS")).await {
            Err(MetadataError::Status(400, body)) => assert!(body.contains("Unknown status")),
            other => panic!("{other:?}"),
        }
        let got = server.join().unwrap();
        assert_eq!(got.len(), 3, "the 400 was not retried");
        assert_eq!(
            got[0].0[0],
            "GET /MAAS/metadata/2012-03-01/maas-scripts/ HTTP/1.1"
        );
        assert_eq!(got[2].0[0], "POST /MAAS/metadata/2012-03-01/ HTTP/1.1");
        for (head, _) in &got {
            let auth = head
                .iter()
                .find(|h| h.to_ascii_lowercase().starts_with("authorization:"))
                .expect("signed");
            let creds =
                ingot_wire::parse_oauth_header(auth.split_once(':').unwrap().1.trim()).unwrap();
            assert_eq!(creds.consumer_key, "ck");
            assert_eq!(creds.token_key, "tk");
        }
        let body = &got[2].1;
        let needle: &[u8] = b"name=\"status\"\r\n\r\nBOGUS\r\n";
        assert!(body.windows(needle.len()).any(|w| w == needle));
    }

    #[tokio::test]
    async fn gives_up_when_unreachable() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = Client::new(
            &format!("http://127.0.0.1:{port}/MAAS"),
            token(),
            2,
            Duration::from_millis(10),
            &ingot_tls::Trust::WebRoots,
        )
        .unwrap();
        assert!(matches!(
            c.signal(&Form::new("OK")).await,
            Err(MetadataError::Unreachable(_))
        ));
    }

    #[test]
    fn tokens() {
        assert_eq!(
            Token::parse("a:b:c"),
            Some(Token {
                consumer_key: "a".into(),
                token_key: "b".into(),
                token_secret: "c".into()
            })
        );
        assert_eq!(Token::parse("a:b"), None);
    }
}
