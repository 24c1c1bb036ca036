//! Machines that are already running (the seed "Commissioning deployed machines: Request
//! granted"): the region serves this program as `/MAAS/maas-run-scripts`, so that
//!
//! ```text
//! wget http://HOST:5240/MAAS/maas-run-scripts; chmod 755 maas-run-scripts
//! ./maas-run-scripts register-machine --hostname mymachine http://HOST:5240/MAAS $API_KEY
//! ```
//!
//! registers the running machine as DEPLOYED (or finds it again: by the credentials file, its
//! hardware UUID or its MACs, never renaming it), writes `mymachine-creds.yaml` and uploads the
//! hardware inventory with those per-machine credentials. `report-results` uploads again with
//! the credentials alone; `hardware-sync` does it periodically, uploading only when the
//! inventory changed.
//!
//! Read-only by design: the inventory is read from /sys, /proc and /dev without loading kernel
//! modules or touching any service; the built-ins run are those tagged `deploy-info`, with
//! their outputs in a temporary directory.

use ingot_core::ids::hex;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::Value;
use sha2::Digest;

use crate::metadata::{self, Form, MetadataError, Token};
use crate::resources::{self, Roots};
use crate::runner::process::{self, Capture, Exit};

/// The systemd unit that runs the hardware sync (`hardware-sync --print-unit`).
pub const SYSTEMD_UNIT: &str = include_str!("../systemd/ingot-hardware-sync.service");

/// The per-machine credentials, as the creds YAML (a cloud-init `reporting` section) holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creds {
    pub consumer_key: String,
    pub token_key: String,
    pub token_secret: String,
    /// `<MAAS URL>/metadata/status/<system_id>`.
    pub endpoint: String,
}

impl Creds {
    /// The YAML the seed shows (`reporting: maas: ...`).
    pub fn to_yaml(&self) -> String {
        format!(
            "reporting:\n  maas:\n    consumer_key: {}\n    endpoint: {}\n    token_key: {}\n    token_secret: {}\n",
            self.consumer_key, self.endpoint, self.token_key, self.token_secret
        )
    }

    /// Reads the nested form or the flat one (`consumer_key: ...` lines, as the seed's second
    /// example); `endpoint` may be absent in the flat form.
    pub fn parse(text: &str) -> anyhow::Result<Creds> {
        let get = |key: &str| -> Option<String> {
            text.lines().find_map(|l| {
                let l = l.trim();
                let v = l.strip_prefix(key)?.strip_prefix(':')?;
                let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
                (!v.is_empty()).then(|| v.to_string())
            })
        };
        let need = |v: Option<String>, key: &str| v.with_context(|| format!("no {key} in it"));
        Ok(Creds {
            consumer_key: need(get("consumer_key"), "consumer_key")?,
            token_key: need(get("token_key"), "token_key")?,
            token_secret: need(get("token_secret"), "token_secret")?,
            endpoint: get("endpoint").unwrap_or_default(),
        })
    }

    pub fn token(&self) -> Token {
        Token {
            consumer_key: self.consumer_key.clone(),
            token_key: self.token_key.clone(),
            token_secret: self.token_secret.clone(),
        }
    }

    /// The system id at the end of the endpoint.
    pub fn system_id(&self) -> Option<&str> {
        let (_, sid) = self
            .endpoint
            .trim_end_matches('/')
            .rsplit_once("/status/")?;
        (!sid.is_empty() && !sid.contains('/')).then_some(sid)
    }
}

/// The region's MAAS root (`http://host:5240/MAAS`) from a metadata URL or a creds endpoint:
/// what comes before `/metadata/`, else `scheme://host[:port]/MAAS`.
pub fn maas_root(url: &str) -> anyhow::Result<String> {
    if let Some((root, _)) = url.split_once("/metadata/") {
        return Ok(root.to_string());
    }
    let (scheme, rest) = url
        .split_once("://")
        .with_context(|| format!("'{url}' is not an http(s) URL"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        bail!("'{url}' names no host");
    }
    Ok(format!("{scheme}://{host}/MAAS"))
}

/// The short host name (what the seed names a machine after).
pub fn short_hostname(proc_root: &Path) -> String {
    std::fs::read_to_string(proc_root.join("sys/kernel/hostname"))
        .unwrap_or_default()
        .trim()
        .split('.')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The running machine as the inventory identifies it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub hardware_uuid: Option<String>,
    pub macs: Vec<String>,
    pub architecture: Option<String>,
}

/// The inventory document, what it identifies, and a digest of what the region derives from
/// it (to tell whether the hardware changed; volatile values such as free memory do not count).
pub struct Inventory {
    pub document: Vec<u8>,
    pub identity: Identity,
    pub digest: String,
}

pub fn inventory(roots: &Roots) -> anyhow::Result<Inventory> {
    let doc = resources::gather(roots);
    let document = serde_json::to_vec(&doc).context("encoding the inventory")?;
    let inv = ingot_core::inventory::derive(&document)
        .map_err(|e| anyhow::anyhow!("the inventory cannot be read back: {e}"))?;
    let digest = hex(&sha2::Sha256::digest(
        serde_json::to_vec(&inv).context("encoding the derived inventory")?,
    ));
    Ok(Inventory {
        document,
        identity: Identity {
            hardware_uuid: inv.hardware_uuid.clone(),
            macs: inv.interfaces.iter().map(|i| i.mac.clone()).collect(),
            architecture: inv.architecture.clone(),
        },
        digest,
    })
}

// ------------------------------------------------------------------------------ the API

/// A client of the region's API with a user's API key (`consumer:token:secret`).
struct Api {
    root: String,
    key: Token,
    http: reqwest::Client,
}

impl Api {
    fn new(root: &str, key: &str, trust: &ingot_tls::Trust) -> anyhow::Result<Api> {
        let key = Token::parse(key).context(
            "the API key is not consumer_key:token_key:token_secret (see `ingot apikey` or the MAAS UI)",
        )?;
        let http = trust
            .client_builder()?
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!(
                "maas-run-scripts (ingot-agent/",
                env!("CARGO_PKG_VERSION"),
                ")"
            ))
            .no_proxy()
            .build()?;
        Ok(Api {
            root: root.trim_end_matches('/').to_string(),
            key,
            http,
        })
    }

    /// `GET` (None for 404) or `POST` with a form; any other non-2xx is an error with its body.
    async fn call(&self, post: Option<&Form>, path: &str) -> anyhow::Result<Option<Value>> {
        let url = format!("{}/api/2.0/{path}", self.root);
        let req = match post {
            Some(form) => {
                let (ct, body) = metadata::encode_form(form);
                self.http
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, ct)
                    .body(body)
            }
            None => self.http.get(&url),
        };
        let resp = req
            .header(reqwest::header::AUTHORIZATION, self.key.authorization())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", ingot_tls::describe(&e)))?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if status == reqwest::StatusCode::NOT_FOUND && post.is_none() {
            return Ok(None);
        }
        if !status.is_success() {
            bail!("{status}: {}", body.trim());
        }
        serde_json::from_str(&body)
            .map(Some)
            .with_context(|| format!("{url}: the answer is not JSON: {body:.200}"))
    }

    async fn get(&self, path: &str) -> anyhow::Result<Option<Value>> {
        self.call(None, path).await
    }

    async fn post(&self, path: &str, form: &Form) -> anyhow::Result<Value> {
        Ok(self.call(Some(form), path).await?.unwrap_or(Value::Null))
    }

    /// The machine's credentials: `get_token`, regenerated when it has none.
    async fn machine_creds(&self, system_id: &str) -> anyhow::Result<Creds> {
        let mut t = self
            .get(&format!("machines/{system_id}/?op=get_token"))
            .await?
            .unwrap_or(Value::Null);
        if t.is_null() {
            t = self
                .post(
                    &format!("machines/{system_id}/"),
                    &Form::default().field("op", "regenerate_token"),
                )
                .await?;
        }
        let s = |k: &str| {
            t.get(k)
                .and_then(Value::as_str)
                .map(String::from)
                .with_context(|| format!("Credentials not found ({k} missing in {t})"))
        };
        Ok(Creds {
            consumer_key: s("consumer_key")?,
            token_key: s("token_key")?,
            token_secret: s("token_secret")?,
            endpoint: format!("{}/metadata/status/{system_id}", self.root),
        })
    }
}

fn machines_of(v: Option<Value>) -> Vec<Value> {
    v.and_then(|v| v.as_array().cloned()).unwrap_or_default()
}

/// What `register-machine` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub system_id: String,
    pub hostname: String,
    pub created: bool,
    pub creds_file: PathBuf,
}

/// Finds the machine this host already is in the region: the credentials file's system id,
/// then the hardware UUID, then any MAC. Several machines for its MACs is an error.
async fn find_existing(
    api: &Api,
    creds_file: &Path,
    id: &Identity,
) -> anyhow::Result<Option<Value>> {
    if let Ok(text) = std::fs::read_to_string(creds_file) {
        if let Some(sid) = Creds::parse(&text).ok().as_ref().and_then(Creds::system_id) {
            if let Some(m) = api.get(&format!("machines/{sid}/")).await? {
                return Ok(Some(m));
            }
        }
    }
    if let Some(u) = &id.hardware_uuid {
        let found = machines_of(api.get(&format!("machines/?hardware_uuid={u}")).await?);
        if let Some(m) = found.into_iter().next() {
            return Ok(Some(m));
        }
    }
    if !id.macs.is_empty() {
        let q: Vec<String> = id.macs.iter().map(|m| format!("mac_address={m}")).collect();
        let found = machines_of(api.get(&format!("machines/?{}", q.join("&"))).await?);
        match found.len() {
            0 => {}
            1 => return Ok(found.into_iter().next()),
            _ => {
                let names: Vec<String> = found
                    .iter()
                    .map(|m| format!("{} ({})", m["hostname"], m["system_id"]))
                    .collect();
                bail!(
                    "this machine's MAC addresses belong to several machines: {}",
                    names.join(", ")
                );
            }
        }
    }
    Ok(None)
}

/// `register-machine`: find or create the machine, write its credentials, upload the
/// inventory.
pub async fn register_machine(
    maas_url: &str,
    api_key: &str,
    hostname: Option<&str>,
    base_dir: &Path,
    roots: &Roots,
    builtin_command: &[std::ffi::OsString],
    trust: &ingot_tls::Trust,
) -> anyhow::Result<Registered> {
    let root = maas_url.trim_end_matches('/');
    let api = Api::new(root, api_key, trust)?;
    let hostname = match hostname {
        Some(h) if !h.is_empty() => h.to_string(),
        _ => short_hostname(&roots.proc),
    };
    if hostname.is_empty() {
        bail!("this machine has no host name: give one with --hostname");
    }
    let inv = inventory(roots)?;
    let creds_file = base_dir.join(format!("{hostname}-creds.yaml"));
    let (m, created) = match find_existing(&api, &creds_file, &inv.identity).await? {
        Some(m) => (m, false),
        None => {
            let mut form = Form::default()
                .field("hostname", &hostname)
                .field("deployed", "true");
            if let Some(a) = &inv.identity.architecture {
                form = form.field("architecture", a);
            }
            if let Some(u) = &inv.identity.hardware_uuid {
                form = form.field("hardware_uuid", u);
            }
            for mac in &inv.identity.macs {
                form = form.field("mac_addresses", mac);
            }
            let m = api
                .post("machines/", &form)
                .await
                .context("Machine creation failed")?;
            (m, true)
        }
    };
    let system_id = m["system_id"]
        .as_str()
        .context("the region's answer has no system_id")?
        .to_string();
    let name = m["hostname"].as_str().unwrap_or(&hostname).to_string();
    let status = m["status_name"].as_str().unwrap_or_default().to_string();
    if created {
        println!("Machine {name} created with system ID: {system_id}");
    } else {
        println!(
            "Machine {name} ({system_id}) is already registered: updating its hardware information"
        );
        if status != "Deployed" {
            bail!(
                "machine {name} ({system_id}) is {status} in the region, not Deployed: a running machine updates only a deployed machine (commission it instead)"
            );
        }
    }
    let creds = api
        .machine_creds(&system_id)
        .await
        .context("Failed getting machine credentials")?;
    write_private(&creds_file, creds.to_yaml().as_bytes())
        .with_context(|| format!("writing {}", creds_file.display()))?;
    println!("Credentials written to {}", creds_file.display());
    let client = metadata::Client::new(root, creds.token(), 5, Duration::from_secs(1), trust)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let n = report(&client, &inv, builtin_command, None).await?;
    println!("Hardware information uploaded ({n} results)");
    Ok(Registered {
        system_id,
        hostname: name,
        created,
        creds_file,
    })
}

/// Writes a file only its owner can read (the credentials).
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

/// `get-machine-token`: a machine's credentials YAML to a file (`-`: stdout).
pub async fn get_machine_token(
    maas_url: &str,
    api_key: &str,
    system_id: &str,
    out: &Path,
    trust: &ingot_tls::Trust,
) -> anyhow::Result<()> {
    let api = Api::new(maas_url, api_key, trust)?;
    let creds = api
        .machine_creds(system_id)
        .await
        .context("Failed getting machine credentials")?;
    if out == Path::new("-") {
        print!("{}", creds.to_yaml());
        Ok(())
    } else {
        write_private(out, creds.to_yaml().as_bytes())
            .with_context(|| format!("writing {}", out.display()))
    }
}

// ------------------------------------------------------------------------------ reporting

/// Runs the `deploy-info` built-ins (their outputs in a temporary directory) and uploads
/// each result; the inventory built-in reports `inv`. Returns how many results were taken.
pub async fn report(
    client: &metadata::Client,
    inv: &Inventory,
    builtin_command: &[std::ffi::OsString],
    sync_interval: Option<u64>,
) -> anyhow::Result<usize> {
    let work = tempfile::tempdir().context("creating a temporary directory")?;
    let resources_file = work.path().join("resources.json");
    std::fs::write(&resources_file, &inv.document)?;
    let mut taken = 0;
    for b in ingot_core::scripts::BUILTINS
        .iter()
        .filter(|b| b.tags.contains(&"deploy-info"))
    {
        let form = run_builtin(b, work.path(), &resources_file, builtin_command).await?;
        let form = match sync_interval {
            Some(i) => form.field("sync_interval", i.to_string()),
            None => form,
        };
        match client.signal(&form).await {
            Ok(()) => taken += 1,
            Err(e @ MetadataError::Status(401 | 403, _)) => {
                bail!("the region refuses these credentials (regenerated, or the machine was released or deleted): {e}")
            }
            Err(e) => bail!("uploading {}: {e}", b.name),
        }
    }
    Ok(taken)
}

/// One built-in as a process of this program (timeouts and output capture as commissioning
/// does them), turned into the signal that reports it.
async fn run_builtin(
    b: &ingot_core::scripts::Builtin,
    work: &Path,
    resources_file: &Path,
    builtin_command: &[std::ffi::OsString],
) -> anyhow::Result<Form> {
    let base = work.join(b.name);
    let capture = Capture {
        combined: base.clone(),
        stdout: base.with_extension("out"),
        stderr: base.with_extension("err"),
    };
    let result_path = base.with_extension("yaml");
    let (prog, args) = builtin_command
        .split_first()
        .context("no command to run built-ins with")?;
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args)
        .arg(b.name)
        .current_dir(work)
        .env("MAAS_RESOURCES_FILE", resources_file)
        .env("RESULT_PATH", &result_path)
        .env("OUTPUT_COMBINED_PATH", &capture.combined)
        .env("OUTPUT_STDOUT_PATH", &capture.stdout)
        .env("OUTPUT_STDERR_PATH", &capture.stderr);
    let ran = process::run(cmd, &capture, Some(Duration::from_secs(b.timeout.max(10)))).await;
    let read = |p: &Path| std::fs::read(p).unwrap_or_default();
    let (status, exit) = match &ran.exit {
        Exit::Code(0) => ("WORKING", 0),
        Exit::Code(c) => ("FAILED", *c),
        Exit::TimedOut => ("TIMEDOUT", 124),
        Exit::NotStarted(_) => ("FAILED", 127),
    };
    let mut form = Form::new(status)
        .field("name", b.name)
        .field("exit_status", exit.to_string())
        .field("runtime", format!("{:.2}", ran.runtime.as_secs_f64()))
        .file(b.name, read(&capture.combined))
        .file(&format!("{}.out", b.name), read(&capture.stdout))
        .file(&format!("{}.err", b.name), read(&capture.stderr));
    if let Ok(y) = std::fs::read(&result_path) {
        form = form.file(&format!("{}.yaml", b.name), y);
    }
    if let Exit::NotStarted(why) = &ran.exit {
        form = form.field("error", why);
    }
    Ok(form)
}

/// The region of `report-results` and `hardware-sync`: the credentials from `--config` (or
/// `--machine-token`), its URL from `--metadata-url` or the credentials' endpoint, its
/// certificate trusted as `--ca-file`/`--pin-sha256` say.
pub struct MachineRegion<'a> {
    pub creds: &'a Creds,
    pub metadata_url: Option<&'a str>,
    pub trust: &'a ingot_tls::Trust,
}

impl MachineRegion<'_> {
    fn client(&self, attempts: u32, first_delay: Duration) -> anyhow::Result<metadata::Client> {
        let url = self.metadata_url.unwrap_or(&self.creds.endpoint);
        if url.is_empty() {
            bail!("no region: give --metadata-url, or a credentials file with an endpoint");
        }
        metadata::Client::new(
            &maas_root(url)?,
            self.creds.token(),
            attempts,
            first_delay,
            self.trust,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// `report-results`: the inventory and the `deploy-info` built-ins, uploaded once.
pub async fn report_results(
    region: &MachineRegion<'_>,
    roots: &Roots,
    builtin_command: &[std::ffi::OsString],
) -> anyhow::Result<usize> {
    let client = region.client(5, Duration::from_secs(1))?;
    let inv = inventory(roots)?;
    report(&client, &inv, builtin_command, None).await
}

// ------------------------------------------------------------------------------ hardware sync

/// What one round of the hardware sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncRound {
    /// The inventory changed (or was never uploaded from here): uploaded, N results.
    Uploaded(usize),
    /// Unchanged: only checked in.
    Unchanged,
}

/// One round: upload when the inventory's digest differs from the state file's, else check in
/// (so the region shows the last and next sync). The state is written after a good upload.
pub async fn sync_round(
    client: &metadata::Client,
    state_file: &Path,
    interval: Duration,
    roots: &Roots,
    builtin_command: &[std::ffi::OsString],
) -> anyhow::Result<SyncRound> {
    let inv = inventory(roots)?;
    let last = std::fs::read_to_string(state_file).unwrap_or_default();
    let secs = interval.as_secs().max(1);
    if last.trim() == inv.digest {
        let form = Form::new("WORKING").field("sync_interval", secs.to_string());
        return match client.signal(&form).await {
            Ok(()) => Ok(SyncRound::Unchanged),
            Err(e @ MetadataError::Status(401 | 403, _)) => {
                bail!("the region refuses these credentials (regenerated, or the machine was released or deleted): {e}")
            }
            Err(e) => bail!("checking in: {e}"),
        };
    }
    let n = report(client, &inv, builtin_command, Some(secs)).await?;
    if let Some(dir) = state_file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(state_file, format!("{}\n", inv.digest))
        .with_context(|| format!("writing {}", state_file.display()))?;
    Ok(SyncRound::Uploaded(n))
}

/// `hardware-sync`: rounds every `interval` until an error that retrying cannot fix (the
/// credentials refused); a region that cannot be reached is tried again next round.
pub async fn hardware_sync(
    region: &MachineRegion<'_>,
    state_file: &Path,
    interval: Duration,
    once: bool,
    roots: &Roots,
    builtin_command: &[std::ffi::OsString],
) -> anyhow::Result<()> {
    let client = region.client(3, Duration::from_secs(2))?;
    loop {
        match sync_round(&client, state_file, interval, roots, builtin_command).await {
            Ok(SyncRound::Uploaded(n)) => {
                println!("hardware sync: the inventory changed: uploaded ({n} results)")
            }
            Ok(SyncRound::Unchanged) => println!("hardware sync: unchanged"),
            Err(e) if once || format!("{e:#}").contains("refuses these credentials") => {
                return Err(e)
            }
            Err(e) => eprintln!("hardware sync: {e:#} (trying again in {interval:?})"),
        }
        if once {
            return Ok(());
        }
        tokio::time::sleep(interval).await;
    }
}

/// `--interval`: seconds, or a number with `s`, `m` or `h` (`15m`, as MAAS's setting).
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mult) = match s.chars().last() {
        Some('s') => (&s[..s.len() - 1], 1),
        Some('m') => (&s[..s.len() - 1], 60),
        Some('h') => (&s[..s.len() - 1], 3600),
        _ => (s, 1),
    };
    match num.parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_secs(n * mult)),
        _ => Err(format!(
            "'{s}' is not an interval (seconds, or a number with s, m or h)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creds_round_trip_and_the_seeds_flat_form() {
        let c = Creds {
            consumer_key: "YGT6QKSH65aap4tGnw".into(),
            token_key: "Lyy9BS4tKsQakDQScy".into(),
            token_secret: "V8vta8Azwn6FZVkfHnuTvLGLScAvEufB".into(),
            endpoint: "http://10.0.0.2:5240/MAAS/metadata/status/wxwwga".into(),
        };
        let y = c.to_yaml();
        assert!(y.starts_with("reporting:\n  maas:\n    consumer_key: YGT6"));
        assert_eq!(Creds::parse(&y).unwrap(), c);
        assert_eq!(c.system_id(), Some("wxwwga"));
        assert_eq!(maas_root(&c.endpoint).unwrap(), "http://10.0.0.2:5240/MAAS");
        let flat = "consumer_key: YGT6QKSH65aap4tGnw\ntoken_key: Lyy9BS4tKsQakDQScy\ntoken_secret: V8vta8Azwn6FZVkfHnuTvLGLScAvEufB\n";
        let f = Creds::parse(flat).unwrap();
        assert_eq!(f.token_secret, c.token_secret);
        assert_eq!(f.system_id(), None);
        assert!(Creds::parse("consumer_key: a\ntoken_key: b\n")
            .unwrap_err()
            .to_string()
            .contains("token_secret"));
    }

    #[test]
    fn maas_root_from_urls() {
        assert_eq!(
            maas_root("http://h:5240/MAAS/metadata/2012-03-01/").unwrap(),
            "http://h:5240/MAAS"
        );
        assert_eq!(maas_root("http://h:5240/").unwrap(), "http://h:5240/MAAS");
        assert!(maas_root("h:5240").is_err());
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_interval("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_interval("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_interval("0").is_err());
        assert!(parse_interval("soon").is_err());
    }

    #[test]
    fn the_unit_runs_a_subcommand_that_exists() {
        let exec = SYSTEMD_UNIT
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .expect("ExecStart");
        assert!(exec.contains(" hardware-sync "), "{exec}");
        assert!(exec.contains("--config"), "{exec}");
    }
}
