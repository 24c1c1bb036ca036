//! `ingot-agent firstboot`: the test OS's stand-in for cloud-init. Once per instance-id it
//! reads the NoCloud seed the deployment wrote, sets the hostname, applies the network
//! configuration (version 2: ethernets matched by MAC and renamed, static addresses, routes,
//! nameservers, DHCP; VLANs and bonds), installs the SSH keys, runs a `#!` user-data script and
//! reports `modules-final` to the reporting endpoint as cloud-init's MAAS webhook does.
//! Everything it does is printed on the console as `ingot-firstboot: ...` lines.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use crate::seed;

const STATE: &str = "var/lib/ingot/firstboot-instance";
const USER_DATA_LOG: &str = "var/log/ingot-user-data.log";

fn say(s: impl AsRef<str>) {
    println!("ingot-firstboot: {}", s.as_ref());
}

/// Reads a seed document: JSON, or YAML's simple `key: value` lines.
pub fn parse_doc(text: &str) -> Value {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return v;
    }
    let mut m = serde_json::Map::new();
    for line in text.lines() {
        if line.starts_with(' ') || line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            let v = v.trim().trim_matches('"').trim_matches('\'');
            if !v.is_empty() {
                m.insert(k.trim().to_string(), Value::String(v.to_string()));
            }
        }
    }
    Value::Object(m)
}

/// One command of the network plan.
pub type Cmd = Vec<String>;

fn cmd(parts: &[&str]) -> Cmd {
    parts.iter().map(|s| s.to_string()).collect()
}

/// What applying the network configuration takes: `ip`/`udhcpc` commands, the resolv.conf
/// nameservers, and `name address` lines to print. `macs` maps MAC → current interface name.
#[derive(Debug, Default, PartialEq)]
pub struct NetPlan {
    pub commands: Vec<Cmd>,
    pub nameservers: Vec<String>,
    pub search: Vec<String>,
}

pub fn network_plan(net: &Value, macs: &[(String, String)]) -> Result<NetPlan, String> {
    let net = net.get("network").unwrap_or(net);
    if net.get("version").and_then(Value::as_u64) != Some(2) {
        return Err("network-config is not version 2".into());
    }
    let mut p = NetPlan::default();
    let mut addr_cmds: Vec<Cmd> = Vec::new();
    // DHCP last: the static routes are in place first (the udhcpc script then adds no default
    // route of its own).
    let mut dhcp_cmds: Vec<Cmd> = Vec::new();
    let configure = |name: &str,
                     c: &Value,
                     p: &mut NetPlan,
                     addr_cmds: &mut Vec<Cmd>,
                     dhcp_cmds: &mut Vec<Cmd>| {
        if let Some(mtu) = c.get("mtu").and_then(Value::as_u64) {
            p.commands.push(cmd(&[
                "ip",
                "link",
                "set",
                "dev",
                name,
                "mtu",
                &mtu.to_string(),
            ]));
        }
        p.commands
            .push(cmd(&["ip", "link", "set", "dev", name, "up"]));
        for a in c
            .get("addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            addr_cmds.push(cmd(&["ip", "addr", "add", a, "dev", name]));
        }
        if c.get("dhcp4").and_then(Value::as_bool) == Some(true) {
            dhcp_cmds.push(cmd(&[
                "udhcpc",
                "-i",
                name,
                "-q",
                "-n",
                "-t",
                "5",
                "-s",
                "/etc/udhcpc.script",
            ]));
        }
        for r in c
            .get("routes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(to), Some(via)) = (
                r.get("to").and_then(Value::as_str),
                r.get("via").and_then(Value::as_str),
            ) else {
                continue;
            };
            let to = if matches!(to, "0.0.0.0/0" | "::/0" | "default") {
                "default"
            } else {
                to
            };
            addr_cmds.push(cmd(&["ip", "route", "add", to, "via", via, "dev", name]));
        }
        if let Some(gw) = c.get("gateway4").and_then(Value::as_str) {
            addr_cmds.push(cmd(&[
                "ip", "route", "add", "default", "via", gw, "dev", name,
            ]));
        }
        if let Some(ns) = c.get("nameservers") {
            for a in ns
                .get("addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !p.nameservers.iter().any(|x| x == a) {
                    p.nameservers.push(a.to_string());
                }
            }
            for s in ns
                .get("search")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                p.search.push(s.to_string());
            }
        }
    };
    if let Some(eths) = net.get("ethernets").and_then(Value::as_object) {
        for (key, c) in eths {
            let want = c.get("set-name").and_then(Value::as_str).unwrap_or(key);
            let current = c
                .get("match")
                .and_then(|m| m.get("macaddress"))
                .and_then(Value::as_str)
                .map(|mac| {
                    macs.iter()
                        .find(|(m, _)| m.eq_ignore_ascii_case(mac))
                        .map(|(_, n)| n.clone())
                        .ok_or_else(|| format!("no interface with MAC {mac} for {key}"))
                })
                .transpose()?
                .unwrap_or_else(|| key.clone());
            if current != want {
                p.commands
                    .push(cmd(&["ip", "link", "set", "dev", &current, "down"]));
                p.commands
                    .push(cmd(&["ip", "link", "set", "dev", &current, "name", want]));
            }
            configure(want, c, &mut p, &mut addr_cmds, &mut dhcp_cmds);
        }
    }
    if let Some(bonds) = net.get("bonds").and_then(Value::as_object) {
        for (name, c) in bonds {
            let mode = c
                .get("parameters")
                .and_then(|x| x.get("mode"))
                .and_then(Value::as_str)
                .unwrap_or("balance-rr");
            p.commands.push(cmd(&[
                "ip", "link", "add", name, "type", "bond", "mode", mode,
            ]));
            for i in c
                .get("interfaces")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                p.commands
                    .push(cmd(&["ip", "link", "set", "dev", i, "down"]));
                p.commands
                    .push(cmd(&["ip", "link", "set", "dev", i, "master", name]));
            }
            configure(name, c, &mut p, &mut addr_cmds, &mut dhcp_cmds);
        }
    }
    if let Some(vlans) = net.get("vlans").and_then(Value::as_object) {
        for (name, c) in vlans {
            let (Some(link), Some(id)) = (
                c.get("link").and_then(Value::as_str),
                c.get("id").and_then(Value::as_u64),
            ) else {
                return Err(format!("vlan {name} needs link and id"));
            };
            p.commands.push(cmd(&[
                "ip",
                "link",
                "add",
                "link",
                link,
                "name",
                name,
                "type",
                "vlan",
                "id",
                &id.to_string(),
            ]));
            configure(name, c, &mut p, &mut addr_cmds, &mut dhcp_cmds);
        }
    }
    p.commands.extend(addr_cmds);
    p.commands.extend(dhcp_cmds);
    Ok(p)
}

fn macs_of(sys: &Path) -> Vec<(String, String)> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(sys.join("class/net")) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Ok(mac) = std::fs::read_to_string(e.path().join("address")) {
                v.push((mac.trim().to_ascii_lowercase(), name));
            }
        }
    }
    v.sort();
    v
}

/// The `modules-final` finish event cloud-init's webhook reporter sends.
pub fn final_event(ok: bool, description: &str, timestamp: f64) -> Value {
    serde_json::json!({
        "event_type": "finish",
        "origin": "cloudinit",
        "name": "modules-final",
        "description": description,
        "result": if ok { "SUCCESS" } else { "FAIL" },
        "timestamp": timestamp,
    })
}

async fn report(r: &ingot_core::deploy::Reporting, ev: &Value) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .no_proxy()
        .build()?;
    let mut last = String::new();
    for attempt in 0..10u32 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let auth = ingot_wire::build_oauth_header(
            &r.consumer_key,
            &r.token_key,
            &r.token_secret,
            &format!("{:016x}", rand::random::<u64>()),
            now,
        );
        match http
            .post(&r.endpoint)
            .header(reqwest::header::AUTHORIZATION, auth)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(ev)?)
            .send()
            .await
        {
            Ok(resp) if resp.status().is_success() => return Ok(()),
            Ok(resp) => {
                let s = resp.status();
                let body = resp.text().await.unwrap_or_default();
                if s.is_client_error() {
                    anyhow::bail!("the endpoint answered {s}: {body}");
                }
                last = format!("{s}: {body}");
            }
            Err(e) => last = format!("{e:#}"),
        }
        tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt + 1))).await;
    }
    anyhow::bail!("{last}")
}

/// The first IPv4 address (`a.b.c.d/len`) of interface `name`, from `ip -o -4 addr`.
fn ipv4_of(name: &str) -> Option<String> {
    let out = Command::new("ip")
        .args(["-o", "-4", "addr", "show", "dev", name])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    words.find(|w| *w == "inet")?;
    words.next().map(str::to_string)
}

fn run_cmd(c: &Cmd) -> Result<(), String> {
    let out = Command::new(&c[0])
        .args(&c[1..])
        .output()
        .map_err(|e| format!("{}: {e}", c.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            c.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs firstboot on the system at `root`; the exit status (0 when everything was applied and
/// reported).
pub fn run(root: &Path, apply_network: bool, force: bool) -> anyhow::Result<u8> {
    let seed_dir = root.join(seed::SEED_DIR);
    let meta_text = std::fs::read_to_string(seed_dir.join("meta-data"))
        .with_context(|| format!("no seed in {}", seed_dir.display()))?;
    let meta = parse_doc(&meta_text);
    let s = |k: &str| meta.get(k).and_then(Value::as_str).map(str::to_string);
    let instance = s("instance-id").context("meta-data has no instance-id")?;
    let state = root.join(STATE);
    if !force && std::fs::read_to_string(&state).is_ok_and(|t| t.trim() == instance) {
        say(format!("instance {instance} already configured"));
        return Ok(0);
    }
    say(format!("instance {instance}"));
    let mut problems: Vec<String> = Vec::new();
    let is_live = root == Path::new("/");

    // Host name.
    let fqdn = s("local-hostname").unwrap_or_else(|| instance.clone());
    let host = s("hostname").unwrap_or_else(|| fqdn.split('.').next().unwrap_or(&fqdn).to_string());
    let _ = std::fs::create_dir_all(root.join("etc"));
    std::fs::write(root.join("etc/hostname"), format!("{host}\n"))?;
    std::fs::write(
        root.join("etc/hosts"),
        format!("127.0.0.1 localhost\n127.0.1.1 {fqdn} {host}\n"),
    )?;
    if is_live {
        // SAFETY: a valid buffer and its length.
        let r = unsafe { libc::sethostname(host.as_ptr().cast(), host.len()) };
        if r != 0 {
            problems.push(format!("sethostname: {}", std::io::Error::last_os_error()));
        }
    }
    say(format!("hostname {host}"));

    // Network.
    match std::fs::read_to_string(seed_dir.join("network-config")) {
        Ok(text) => {
            let net: Value = serde_json::from_str(&text).unwrap_or_else(|_| parse_doc(&text));
            let sys = PathBuf::from("/sys");
            match network_plan(&net, &macs_of(&sys)) {
                Ok(plan) => {
                    for c in &plan.commands {
                        if apply_network {
                            if let Err(e) = run_cmd(c) {
                                say(format!("network: {e}"));
                                problems.push(e);
                                continue;
                            }
                        }
                        if c[0] == "ip" && c.get(1).map(String::as_str) == Some("addr") {
                            say(format!("{} {}", c[5], c[3]));
                        } else if c[0] == "udhcpc" {
                            let got = if apply_network {
                                ipv4_of(&c[2]).unwrap_or_else(|| "no address".into())
                            } else {
                                "not applied".into()
                            };
                            say(format!("{} {got} (dhcp4)", c[2]));
                        } else if c.get(1).map(String::as_str) == Some("route") {
                            say(format!("route {} via {} dev {}", c[3], c[5], c[7]));
                        }
                    }
                    if !plan.nameservers.is_empty() {
                        let mut t = String::new();
                        if !plan.search.is_empty() {
                            t.push_str(&format!("search {}\n", plan.search.join(" ")));
                        }
                        for n in &plan.nameservers {
                            t.push_str(&format!("nameserver {n}\n"));
                        }
                        std::fs::write(root.join("etc/resolv.conf"), t)?;
                        say(format!("nameservers {}", plan.nameservers.join(" ")));
                    }
                }
                Err(e) => {
                    say(format!("network: {e}"));
                    problems.push(e);
                }
            }
        }
        Err(_) => say("no network-config in the seed"),
    }

    // SSH keys.
    let keys: Vec<String> = meta
        .get("public-keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if !keys.is_empty() {
        use std::os::unix::fs::PermissionsExt;
        let dir = root.join("root/.ssh");
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        let f = dir.join("authorized_keys");
        std::fs::write(&f, keys.join("\n") + "\n")?;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600))?;
        say(format!("{} ssh key(s) installed for root", keys.len()));
    }

    // User data.
    let user_data = std::fs::read(seed_dir.join("user-data")).unwrap_or_default();
    if user_data.starts_with(b"#!") {
        use std::os::unix::fs::PermissionsExt;
        let script = root.join("var/lib/cloud/instance/scripts/user-data");
        std::fs::create_dir_all(script.parent().unwrap_or(root))?;
        std::fs::write(&script, &user_data)?;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
        let log = root.join(USER_DATA_LOG);
        std::fs::create_dir_all(log.parent().unwrap_or(root))?;
        let out = std::fs::File::create(&log)?;
        let status = Command::new(&script)
            .current_dir(root)
            .stdout(out.try_clone()?)
            .stderr(out)
            .status();
        let code = match status {
            Ok(s) => s.code().unwrap_or(128),
            Err(e) => {
                say(format!("user-data could not start: {e}"));
                127
            }
        };
        say(format!("user-data exit {code}"));
        if code != 0 {
            problems.push(format!("user-data exited {code}"));
        }
    } else if user_data.starts_with(b"#cloud-config") {
        say("user-data is #cloud-config: the test OS does not apply it");
    }

    // Report.
    let ok = problems.is_empty();
    let description = if ok {
        "ingot-firstboot: seed applied".to_string()
    } else {
        format!("ingot-firstboot: {}", problems.join("; "))
    };
    let mut code = u8::from(!ok);
    match std::fs::read_to_string(root.join(seed::REPORTING_CFG))
        .ok()
        .and_then(|t| seed::parse_reporting_cfg(&t))
    {
        Some(r) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            let ev = final_event(ok, &description, now);
            let result = if ok { "SUCCESS" } else { "FAIL" };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            // Said before as well as after: a region that hears the report may power the
            // machine off before the answer comes back (a release right after Deployed).
            say(format!("reporting modules-final {result}"));
            match rt.block_on(report(&r, &ev)) {
                Ok(()) => say(format!("reported modules-final {result}")),
                Err(e) => {
                    say(format!("report to {} failed: {e:#}", r.endpoint));
                    code = 1;
                }
            }
        }
        None => say("no reporting configuration; nothing reported"),
    }
    if let Some(parent) = state.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&state, format!("{instance}\n"))?;
    // What was configured survives a power cut from here on.
    // SAFETY: sync takes no arguments.
    unsafe { libc::sync() };
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_renames_by_mac_and_configures() {
        let net: Value = serde_json::from_str(&ingot_core::deploy::render_network_config(&[
            ingot_core::deploy::NetIface {
                name: "eth0".into(),
                mac: "52:54:00:AA:BB:01".into(),
                kind: ingot_core::deploy::NetKind::Physical,
                mtu: Some(1400),
                links: vec![ingot_core::deploy::NetLink::Static {
                    address: "10.0.2.15".into(),
                    prefix: 24,
                    gateway: Some("10.0.2.2".into()),
                    dns: vec!["10.0.2.3".into()],
                    search: vec![],
                    routes: vec![],
                }],
            },
            ingot_core::deploy::NetIface {
                name: "eth0.20".into(),
                mac: "52:54:00:aa:bb:01".into(),
                kind: ingot_core::deploy::NetKind::Vlan {
                    parent: "eth0".into(),
                    vid: 20,
                },
                mtu: None,
                links: vec![ingot_core::deploy::NetLink::Dhcp],
            },
        ]))
        .unwrap();
        let p = network_plan(&net, &[("52:54:00:aa:bb:01".into(), "ens3".into())]).unwrap();
        let lines: Vec<String> = p.commands.iter().map(|c| c.join(" ")).collect();
        assert_eq!(
            lines,
            [
                "ip link set dev ens3 down",
                "ip link set dev ens3 name eth0",
                "ip link set dev eth0 mtu 1400",
                "ip link set dev eth0 up",
                "ip link add link eth0 name eth0.20 type vlan id 20",
                "ip link set dev eth0.20 up",
                "ip addr add 10.0.2.15/24 dev eth0",
                "ip route add default via 10.0.2.2 dev eth0",
                "udhcpc -i eth0.20 -q -n -t 5 -s /etc/udhcpc.script",
            ]
        );
        assert_eq!(p.nameservers, ["10.0.2.3"]);
        // A MAC that is not here is an error, not a silent skip.
        assert!(network_plan(&net, &[]).is_err());
        assert!(network_plan(&serde_json::json!({"version": 1}), &[]).is_err());
    }

    #[test]
    fn docs_and_events() {
        let v = parse_doc("instance-id: abc\nlocal-hostname: 'web1.maas'\n");
        assert_eq!(v["instance-id"], "abc");
        assert_eq!(v["local-hostname"], "web1.maas");
        let e = final_event(false, "x", 1.5);
        assert_eq!(e["name"], "modules-final");
        assert_eq!(e["result"], "FAIL");
        assert_eq!(e["origin"], "cloudinit");
    }

    /// Seed in a scratch root, no network applied, a report server on loopback.
    #[test]
    fn applies_a_seed_and_reports() {
        use std::io::{BufRead, BufReader, Read, Write};
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut head = Vec::new();
            let mut len = 0;
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                head.push(line);
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            s.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                .unwrap();
            (head, body)
        });
        let cfg = ingot_core::deploy::Reporting {
            endpoint: format!("http://127.0.0.1:{port}/MAAS/metadata/status/abc"),
            consumer_key: "ck".into(),
            token_key: "tk".into(),
            token_secret: "ts".into(),
        };
        let sd = root.join(seed::SEED_DIR);
        std::fs::create_dir_all(&sd).unwrap();
        std::fs::write(
            sd.join("meta-data"),
            r#"{"instance-id": "abc", "local-hostname": "web1.maas", "public-keys": ["ssh-ed25519 K"]}"#,
        )
        .unwrap();
        std::fs::write(
            sd.join("user-data"),
            "#!/bin/sh\necho hello from user-data\nexit 3\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("etc/cloud/cloud.cfg.d")).unwrap();
        std::fs::write(root.join(seed::REPORTING_CFG), seed::reporting_cfg(&cfg)).unwrap();
        let code = run(root, false, false).unwrap();
        assert_eq!(code, 1, "user-data failed");
        assert_eq!(
            std::fs::read_to_string(root.join("etc/hostname")).unwrap(),
            "web1\n"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("root/.ssh/authorized_keys")).unwrap(),
            "ssh-ed25519 K\n"
        );
        assert_eq!(
            std::fs::read_to_string(root.join(USER_DATA_LOG)).unwrap(),
            "hello from user-data\n"
        );
        let (head, body) = server.join().unwrap();
        assert!(head[0].starts_with("POST /MAAS/metadata/status/abc "));
        assert!(head
            .iter()
            .any(|h| h.to_ascii_lowercase().starts_with("authorization: oauth")));
        let ev: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(ev["name"], "modules-final");
        assert_eq!(ev["result"], "FAIL");
        // Once per instance.
        assert_eq!(run(root, false, false).unwrap(), 0);
    }
}
