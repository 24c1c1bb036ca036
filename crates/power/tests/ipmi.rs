//! The native IPMI driver against real BMC simulators (OpenIPMI `ipmi_sim`, pyghmi's fake
//! BMC), plus bad-input cases and parser fuzzing.
//!
//! Peers: `scripts/peers/ipmi.sh` installs them. Without them the simulator tests print a
//! skip message, or fail when `CI` is set.

use async_trait::async_trait;
use ingot_power::contract::{self, Observer};
use ingot_power::ipmi::{proto, Ipmi};
use ingot_power::{BootDevice, Params, PowerDriver, PowerError, PowerState};
use proptest::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared_dir() -> PathBuf {
    std::env::var_os("INGOT_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared"))
}

/// `true` when the peer is there; otherwise skip (or fail under CI).
fn available(what: &str, ok: bool) -> bool {
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{what} is not installed (run scripts/peers/ipmi.sh); CI must run this test"
        );
        eprintln!("SKIP: {what} is not installed (run scripts/peers/ipmi.sh)");
    }
    ok
}

fn have_cmd(c: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {c}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// A UDP port nothing listens on right now (`n` consecutive ones).
fn free_udp_ports(n: u16) -> u16 {
    for _ in 0..200 {
        let base = 20000 + rand::random::<u16>() % 40000;
        if (0..n).all(|i| std::net::UdpSocket::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no free UDP ports");
}

fn params(port: u16, kv: &[(&str, &str)]) -> Params {
    let mut p = Params::new();
    p.insert(
        "power_address".into(),
        Value::String(format!("127.0.0.1:{port}")),
    );
    p.insert("power_user".into(), "admin".into());
    p.insert("power_pass".into(), "password".into());
    for (k, v) in kv {
        p.insert((*k).into(), Value::String((*v).into()));
    }
    p
}

// ---------- ipmi_sim ----------

struct Sim {
    work: tempfile::TempDir,
    port: u16,
}

impl Sim {
    fn start() -> Option<Sim> {
        let script = shared_dir().join("peers/ipmi-sim.sh");
        if !available(
            "ipmi_sim (Debian openipmi)",
            have_cmd("ipmi_sim") && script.exists(),
        ) {
            return None;
        }
        let work = tempfile::tempdir().expect("tempdir");
        let port = free_udp_ports(1);
        let out = Command::new("bash")
            .arg(&script)
            .env("BG", "1")
            .env("WORK", work.path())
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .output()
            .expect("run ipmi-sim.sh");
        assert!(
            out.status.success(),
            "ipmi-sim.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(Sim { work, port })
    }
    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.work.path().join(name)).unwrap_or_default()
    }
    fn observer(&self) -> SimObserver {
        SimObserver(self.work.path().to_path_buf())
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.work.path().join("ipmi_sim.pid")) {
            let pid = pid.trim();
            if !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit()) {
                let _ = Command::new("kill").arg(pid).status();
            }
        }
    }
}

/// Counts power changes in `$WORK/chassis.log`, reads `$WORK/power`.
struct SimObserver(PathBuf);

#[async_trait]
impl Observer for SimObserver {
    async fn changes(&self) -> usize {
        let log = std::fs::read_to_string(self.0.join("chassis.log")).unwrap_or_default();
        log.lines()
            .filter(|l| {
                [" set power", " set reset", " set shutdown"]
                    .iter()
                    .any(|k| l.contains(k))
            })
            .count()
    }
    async fn actual_on(&self) -> Option<bool> {
        std::fs::read_to_string(self.0.join("power"))
            .ok()
            .map(|s| s.trim() == "1")
    }
}

async fn sim_contract(kv: &[(&str, &str)]) {
    let Some(sim) = Sim::start() else { return };
    let d = Ipmi::from_params(&params(sim.port, kv)).expect("params");
    let t = Instant::now();
    let r = contract::check(&d, &sim.observer(), Duration::from_secs(5)).await;
    assert_eq!(
        r,
        Ok(()),
        "contract with {kv:?}; chassis.log:\n{}",
        sim.file("chassis.log")
    );
    // The contract does ~20 operations; ipmitool without -C takes ~10 s for each one.
    assert!(
        t.elapsed() < Duration::from_secs(15),
        "contract took {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    assert_eq!(d.query().await, Ok(PowerState::On));
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "one query took {:?}",
        t.elapsed()
    );
    d.set_boot_device(BootDevice::Pxe, false)
        .await
        .expect("set_boot_device");
    assert_eq!(
        sim.file("boot").trim(),
        "pxe",
        "chassis.log:\n{}",
        sim.file("chassis.log")
    );
    d.power_soft().await.expect("power_soft");
    assert_eq!(d.query().await, Ok(PowerState::Off));
}

#[tokio::test]
async fn ipmi_sim_lan20_cipher_suite_3() {
    sim_contract(&[("power_driver", "LAN_2_0"), ("cipher_suite_id", "3")]).await;
}

#[tokio::test]
async fn ipmi_sim_lan20_cipher_suite_2() {
    sim_contract(&[("power_driver", "LAN_2_0"), ("cipher_suite_id", "2")]).await;
}

#[tokio::test]
async fn ipmi_sim_lan20_cipher_suite_1() {
    sim_contract(&[("power_driver", "LAN_2_0"), ("cipher_suite_id", "1")]).await;
}

#[tokio::test]
async fn ipmi_sim_lan20_cipher_suite_0() {
    sim_contract(&[("power_driver", "LAN_2_0"), ("cipher_suite_id", "0")]).await;
}

#[tokio::test]
async fn ipmi_sim_lan20_automatic_cipher_suite() {
    sim_contract(&[("power_driver", "LAN_2_0"), ("cipher_suite_id", "")]).await;
}

#[tokio::test]
async fn ipmi_sim_lan15_md5() {
    sim_contract(&[("power_driver", "LAN")]).await;
}

#[tokio::test]
async fn ipmi_sim_admin_privilege_and_disk_boot_persistent() {
    let Some(sim) = Sim::start() else { return };
    let d = Ipmi::from_params(&params(sim.port, &[("privilege_level", "ADMIN")])).expect("params");
    d.set_boot_device(BootDevice::Disk, true)
        .await
        .expect("set_boot_device(Disk)");
    let boot = sim.file("boot");
    assert!(
        !boot.trim().is_empty() && boot.trim() != "pxe",
        "boot file: {boot:?}"
    );
    d.set_boot_device(BootDevice::Pxe, true)
        .await
        .expect("set_boot_device(Pxe)");
    assert_eq!(sim.file("boot").trim(), "pxe");
}

#[tokio::test]
async fn ipmi_sim_rejects_cipher_suite_17_as_unsupported() {
    let Some(sim) = Sim::start() else { return };
    let d = Ipmi::from_params(&params(sim.port, &[("cipher_suite_id", "17")])).expect("params");
    assert!(matches!(d.query().await, Err(PowerError::Unsupported(_))));
}

#[tokio::test]
async fn ipmi_sim_wrong_password_is_auth_error_quickly() {
    let Some(sim) = Sim::start() else { return };
    for kv in [
        &[("power_driver", "LAN_2_0"), ("cipher_suite_id", "3")][..],
        &[("power_driver", "LAN_2_0"), ("cipher_suite_id", "")][..],
        &[("power_driver", "LAN")][..],
    ] {
        let mut p = params(sim.port, kv);
        p.insert("power_pass".into(), "wrong-password".into());
        let d = Ipmi::from_params(&p).expect("params");
        let t = Instant::now();
        let r = d.query().await;
        assert!(matches!(r, Err(PowerError::Auth(_))), "{kv:?}: {r:?}");
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{kv:?}: took {:?}",
            t.elapsed()
        );
    }
    // Unknown user, too.
    let mut p = params(sim.port, &[]);
    p.insert("power_user".into(), "nobody".into());
    let r = Ipmi::from_params(&p).expect("params").query().await;
    assert!(matches!(r, Err(PowerError::Auth(_))), "unknown user: {r:?}");
}

#[tokio::test]
async fn ipmi_sim_wrong_kg_is_auth_error() {
    let Some(sim) = Sim::start() else { return };
    // ipmi_sim has no K_g set: the BMC keys the SIK with the password, so a K_g on our side
    // makes the RAKP 4 check fail.
    let d = Ipmi::from_params(&params(sim.port, &[("k_g", "some-bmc-key")])).expect("params");
    let r = d.query().await;
    assert!(matches!(r, Err(PowerError::Auth(_))), "{r:?}");
}

// ---------- pyghmi ----------

struct Pyghmi {
    child: Child,
    state: tempfile::NamedTempFile,
    port: u16,
}

impl Drop for Pyghmi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pyghmi_python() -> Option<PathBuf> {
    let p = std::env::var_os("INGOT_PYGHMI_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv-peers/bin/python"));
    let ok = Command::new(&p)
        .args(["-c", "import pyghmi.ipmi.bmc"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok.then_some(p)
}

struct PyghmiObserver {
    file: PathBuf,
    port: u16,
}

impl PyghmiObserver {
    fn entry(&self) -> Option<Value> {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&self.file).ok()?).ok()?;
        v.get(self.port.to_string()).cloned()
    }
}

#[async_trait]
impl Observer for PyghmiObserver {
    async fn changes(&self) -> usize {
        let Some(e) = self.entry() else { return 0 };
        ["on", "off", "reset", "cycle", "shutdown"]
            .iter()
            .filter_map(|k| e["counters"][k].as_u64())
            .sum::<u64>() as usize
    }
    async fn actual_on(&self) -> Option<bool> {
        self.entry()
            .and_then(|e| e["power"].as_str().map(|p| p == "on"))
    }
}

#[tokio::test]
async fn pyghmi_bmc_contract() {
    let script = shared_dir().join("peers/ipmi-pyghmi-bmc.py");
    let py = pyghmi_python();
    if !available(
        "pyghmi (INGOT_PYGHMI_PYTHON)",
        py.is_some() && script.exists(),
    ) {
        return;
    }
    let Some(py) = py else { return };
    let state = tempfile::NamedTempFile::new().expect("tempfile");
    let port = free_udp_ports(3);
    let child = Command::new(py)
        .arg(&script)
        .args(["--port", &port.to_string(), "--count", "3", "--state-file"])
        .arg(state.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start pyghmi BMC");
    let bmc = Pyghmi { child, state, port };
    let d = Ipmi::from_params(&params(bmc.port + 1, &[("cipher_suite_id", "3")])).expect("params");
    // Wait for it to listen.
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        match d.query().await {
            Ok(_) => break,
            Err(e) if Instant::now() < end && e.is_transient() => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("pyghmi BMC never answered: {e}"),
        }
    }
    let obs = PyghmiObserver {
        file: bmc.state.path().to_path_buf(),
        port: bmc.port + 1,
    };
    assert_eq!(
        contract::check(&d, &obs, Duration::from_secs(5)).await,
        Ok(())
    );
    d.set_boot_device(BootDevice::Pxe, false)
        .await
        .expect("set_boot_device");
    let e = obs.entry().expect("state entry");
    assert_eq!(e["bootdev"], "network", "{e}");
    // The automatic cipher suite choice works against it too, and the other BMCs in the
    // process were not touched.
    let auto =
        Ipmi::from_params(&params(bmc.port + 2, &[("cipher_suite_id", "")])).expect("params");
    assert_eq!(auto.query().await, Ok(PowerState::Off));
    let other = PyghmiObserver {
        file: bmc.state.path().to_path_buf(),
        port: bmc.port,
    };
    assert_eq!(other.changes().await, 0);
}

// ---------- bad input ----------

#[tokio::test]
async fn nothing_listening_is_timeout_or_unreachable() {
    let port = free_udp_ports(1);
    for kv in [
        &[("power_driver", "LAN_2_0")][..],
        &[("power_driver", "LAN")][..],
    ] {
        let d = Ipmi::from_params(&params(port, kv))
            .expect("params")
            .with_timeouts(Duration::from_millis(200), 2);
        let t = Instant::now();
        let r = d.query().await;
        assert!(
            matches!(r, Err(PowerError::Timeout(_) | PowerError::Unreachable(_))),
            "{r:?}"
        );
        assert!(r.as_ref().is_err_and(PowerError::is_transient));
        assert!(t.elapsed() < Duration::from_secs(2));
    }
}

/// A UDP server that answers every datagram with `answer(request)`.
async fn fake_bmc(answer: impl Fn(&[u8]) -> Vec<u8> + Send + 'static) -> u16 {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = sock.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let _ = sock.send_to(&answer(&buf[..n]), from).await;
        }
    });
    port
}

#[tokio::test]
async fn garbage_answers_are_protocol_errors_not_panics() {
    let random = fake_bmc(|_| {
        (0..rand::random::<usize>() % 200)
            .map(|_| rand::random::<u8>())
            .collect()
    })
    .await;
    // Garbage that looks like RMCP: right header, random rest.
    let rmcpish = fake_bmc(|_| {
        let mut v = vec![0x06, 0x00, 0xff, 0x07];
        v.extend((0..rand::random::<usize>() % 60).map(|_| rand::random::<u8>()));
        v
    })
    .await;
    // Echo: a valid-looking packet, but a request, not an answer.
    let echo = fake_bmc(|b| b.to_vec()).await;
    for port in [random, rmcpish, echo] {
        for kv in [
            &[("cipher_suite_id", "3")][..],
            &[("cipher_suite_id", "")][..],
            &[("power_driver", "LAN")][..],
        ] {
            let d = Ipmi::from_params(&params(port, kv))
                .expect("params")
                .with_timeouts(Duration::from_millis(150), 2);
            let r = d.query().await;
            assert!(
                matches!(r, Err(PowerError::Protocol(_) | PowerError::Timeout(_))),
                "port {port} {kv:?}: {r:?}"
            );
        }
    }
}

#[tokio::test]
async fn busy_completion_code_is_busy() {
    // Answers Get Channel Auth Capabilities with completion code 0xC0.
    let port = fake_bmc(|b| {
        let Ok(proto::Packet::V15 { msg, .. }) = proto::parse_packet(b, 0) else {
            return vec![];
        };
        let (Some(&seq), Some(&cmd)) = (msg.get(4), msg.get(5)) else {
            return vec![];
        };
        let mut m: Vec<u8> = vec![0x81, 0x07 << 2];
        m.push(0u8.wrapping_sub(m[0].wrapping_add(m[1])));
        let body = [0x20, seq, cmd, 0xc0];
        m.extend_from_slice(&body);
        m.push(0u8.wrapping_sub(body.iter().fold(0u8, |a, x| a.wrapping_add(*x))));
        proto::encode_v15(0, 0, 0, None, &m)
    })
    .await;
    let r = Ipmi::from_params(&params(port, &[]))
        .expect("params")
        .with_timeouts(Duration::from_millis(300), 1)
        .query()
        .await;
    assert!(matches!(r, Err(PowerError::Busy(_))), "{r:?}");
}

#[test]
fn bad_params() {
    for kv in [
        &[("power_driver", "LAN_3")][..],
        &[("cipher_suite_id", "7")][..],
        &[("privilege_level", "ROOT")][..],
        &[("power_address", "h:99999")][..],
        &[("power_address", "")][..],
    ] {
        let mut p = params(623, &[]);
        for (k, v) in kv {
            p.insert((*k).into(), (*v).into());
        }
        assert!(
            matches!(Ipmi::from_params(&p), Err(PowerError::BadParams(_))),
            "{kv:?}"
        );
    }
}

// ---------- parser fuzzing ----------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn parsers_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300), ilen in 0usize..20) {
        let _ = proto::parse_packet(&b, ilen);
        let _ = proto::decode_response(&b);
        let _ = proto::parse_auth_caps(&b);
        let _ = proto::parse_challenge(&b);
        let _ = proto::parse_activate(&b);
        let _ = proto::parse_open_session_response(&b);
        let _ = proto::parse_rakp2(&b);
        let _ = proto::parse_rakp4(&b);
        let _ = proto::parse_cipher_suite_ids(&b);
        let _ = proto::aes_decrypt(&[1u8; 16], &b);
    }

    #[test]
    fn rmcp_prefixed_packets_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..120), at in any::<u8>(), ilen in 0usize..20) {
        let mut b = proto::RMCP_HEADER.to_vec();
        b.push(at % 8);
        b.extend(tail);
        if let Ok(proto::Packet::V20 { payload, .. }) = proto::parse_packet(&b, ilen) {
            let _ = proto::aes_decrypt(&[1u8; 16], payload);
        }
    }

    #[test]
    fn encrypted_payloads_round_trip(data in proptest::collection::vec(any::<u8>(), 0..100), key in any::<[u8; 16]>(), iv in any::<[u8; 16]>()) {
        prop_assert_eq!(proto::aes_decrypt(&key, &proto::aes_encrypt(&key, &iv, &data)).ok(), Some(data));
    }
}
