//! The `qemu` driver against a real QEMU (firmware only: no disk, no network), watched from a
//! second QMP socket whose event stream shows what the VM itself went through; plus its
//! failures against missing sockets and servers that answer garbage.
//!
//! QEMU comes from `scripts/peers/qemu.sh` (`eval "$(scripts/peers/qemu.sh)"` sets
//! `INGOT_QEMU`). Without it the VM test is skipped, or fails when `CI` is set.

use async_trait::async_trait;
use ingot_power::contract::{self, Observer};
use ingot_power::qemu::{Qemu, QmpAddress};
use ingot_power::{build, BootDevice, Params, PowerDriver, PowerError, PowerState};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio::sync::oneshot;

// ------------------------------------------------------------------------------------------------
// Finding and running QEMU

/// The QEMU binary, or `None` (after saying why) when the test should skip.
fn qemu_binary() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("INGOT_QEMU").filter(|p| !p.is_empty()) {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(PathBuf::from("/usr/bin/qemu-system-x86_64"));
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("qemu-system-x86_64")));
    }
    if let Some(found) = candidates.into_iter().find(|p| p.is_file()) {
        return Some(found);
    }
    let why = "qemu-system-x86_64 not found (INGOT_QEMU, /usr/bin, PATH); install it with scripts/peers/qemu.sh";
    if std::env::var_os("CI").is_some() {
        panic!("{why}");
    }
    eprintln!("SKIPPED: {why}");
    None
}

/// A QEMU process, killed (by its own PID) when dropped, also on panic.
struct Vm {
    child: Child,
    dir: tempfile::TempDir,
    qmp_a: PathBuf,
    qmp_b: PathBuf,
}

impl Vm {
    fn start(bin: &Path) -> Vm {
        let dir = tempfile::Builder::new()
            .prefix("ingot-qemu")
            .tempdir()
            .expect("tempdir");
        let qmp_a = dir.path().join("a.qmp");
        let qmp_b = dir.path().join("b.qmp");
        let log = std::fs::File::create(dir.path().join("qemu.log")).expect("log file");
        let mut cmd = Command::new(bin);
        cmd.args([
            "-S",
            "-no-shutdown",
            "-nodefaults",
            "-nographic",
            "-display",
            "none",
        ])
        .args([
            "-accel", "tcg", "-m", "64", "-nic", "none", "-serial", "none", "-monitor", "none",
        ])
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", qmp_a.display()))
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", qmp_b.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut vm = Vm {
            child,
            dir,
            qmp_a,
            qmp_b,
        };
        let end = Instant::now() + Duration::from_secs(15);
        while !(vm.qmp_a.exists() && vm.qmp_b.exists()) {
            if let Ok(Some(status)) = vm.child.try_wait() {
                panic!("QEMU exited at start ({status}): {}", vm.log());
            }
            assert!(
                Instant::now() < end,
                "QEMU's QMP sockets did not appear: {}",
                vm.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        vm
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("qemu.log")).unwrap_or_default()
    }

    fn params(path: &Path, prefix: &str) -> Params {
        let mut p = Params::new();
        p.insert(
            "power_address".into(),
            json!(format!("{prefix}{}", path.display())),
        );
        p
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------------------------------------
// The observer: a QMP client of its own on the second socket

/// Events that mean the VM's power changed.
const POWER_EVENTS: [&str; 5] = ["RESET", "STOP", "RESUME", "POWERDOWN", "SHUTDOWN"];

struct QmpObserver {
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    /// Who waits for the next answers, in the order the commands were sent.
    pending: Arc<Mutex<VecDeque<oneshot::Sender<Value>>>>,
    changes: Arc<AtomicUsize>,
    events: Arc<Mutex<Vec<String>>>,
    reader: tokio::task::JoinHandle<()>,
}

impl QmpObserver {
    async fn connect(path: &Path) -> QmpObserver {
        let stream = UnixStream::connect(path)
            .await
            .expect("observer connects to the second QMP socket");
        let (r, mut w) = stream.into_split();
        let mut lines = BufReader::new(r).lines();
        let greeting = lines
            .next_line()
            .await
            .expect("greeting")
            .expect("greeting line");
        assert!(
            greeting.contains("\"QMP\""),
            "not a QMP greeting: {greeting}"
        );
        w.write_all(b"{\"execute\":\"qmp_capabilities\"}\n")
            .await
            .expect("write");
        let ok = lines
            .next_line()
            .await
            .expect("capabilities")
            .expect("capabilities line");
        assert!(ok.contains("\"return\""), "qmp_capabilities: {ok}");

        let pending: Arc<Mutex<VecDeque<oneshot::Sender<Value>>>> = Default::default();
        let changes = Arc::new(AtomicUsize::new(0));
        let events: Arc<Mutex<Vec<String>>> = Default::default();
        let reader = tokio::spawn({
            let (pending, changes, events) = (pending.clone(), changes.clone(), events.clone());
            async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    let Ok(v) = serde_json::from_str::<Value>(&line) else {
                        continue;
                    };
                    if let Some(ev) = v.get("event").and_then(Value::as_str) {
                        // The firmware resets the machine by itself at times (SeaBIOS does a
                        // hard reboot after a warm reset): those are the guest's doing, not a
                        // power operation, and are kept apart.
                        let by_guest = v["data"]["guest"].as_bool() == Some(true);
                        if POWER_EVENTS.contains(&ev) && !by_guest {
                            changes.fetch_add(1, Ordering::SeqCst);
                        }
                        let name = if by_guest {
                            format!("{ev}(guest)")
                        } else {
                            ev.to_string()
                        };
                        events.lock().unwrap().push(name);
                    } else if let Some(tx) = pending.lock().unwrap().pop_front() {
                        let _ = tx.send(v);
                    }
                }
            }
        });
        QmpObserver {
            writer: tokio::sync::Mutex::new(w),
            pending,
            changes,
            events,
            reader,
        }
    }

    /// Run a command on the observer's own connection. Answers come after every event QEMU
    /// emitted before it, so the counters are up to date once it returns.
    async fn execute(&self, command: &str) -> Value {
        let (tx, rx) = oneshot::channel();
        {
            let mut w = self.writer.lock().await;
            self.pending.lock().unwrap().push_back(tx);
            w.write_all(format!("{{\"execute\":\"{command}\"}}\n").as_bytes())
                .await
                .expect("observer write");
        }
        let v = tokio::time::timeout(Duration::from_secs(5), rx)
            .await
            .expect("observer answer in time")
            .expect("observer reader alive");
        v.get("return")
            .cloned()
            .unwrap_or_else(|| panic!("observer {command}: {v}"))
    }

    async fn running(&self) -> bool {
        self.execute("query-status").await["running"]
            .as_bool()
            .expect("query-status has 'running'")
    }

    /// The events the host caused, in order (the guest's own are left out).
    fn events(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| !e.ends_with("(guest)"))
            .cloned()
            .collect()
    }

    fn all_events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

impl Drop for QmpObserver {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

#[async_trait]
impl Observer for QmpObserver {
    async fn changes(&self) -> usize {
        self.execute("query-status").await; // a barrier: every earlier event has been read
        self.changes.load(Ordering::SeqCst)
    }
    async fn actual_on(&self) -> Option<bool> {
        Some(self.running().await)
    }
}

// ------------------------------------------------------------------------------------------------
// Against a real QEMU

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_against_a_real_qemu() {
    let Some(bin) = qemu_binary() else { return };
    let version = Command::new(&bin).arg("--version").output().map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    });
    eprintln!("QEMU: {} ({})", bin.display(), version.unwrap_or_default());
    let t0 = Instant::now();
    let vm = Vm::start(&bin);
    let obs = QmpObserver::connect(&vm.qmp_b).await;
    eprintln!("VM up, observer connected: {:?}", t0.elapsed());

    // Through the registry, as the server builds it, with a `unix:` prefixed address.
    let driver = build("qemu", &Vm::params(&vm.qmp_a, "unix:")).expect("qemu driver");
    assert!(!obs.running().await, "-S: the VM starts stopped");
    assert_eq!(driver.query().await, Ok(PowerState::Off));

    let t = Instant::now();
    let r = contract::check(driver.as_ref(), &obs, Duration::from_secs(10)).await;
    eprintln!(
        "contract: {:?}, events seen: {:?}",
        t.elapsed(),
        obs.all_events()
    );
    r.unwrap_or_else(|e| panic!("contract: {e}\nQEMU log: {}", vm.log()));

    // The same driver with a bare path; the VM is on after the contract.
    let d = Qemu::from_params(&Vm::params(&vm.qmp_a, "")).expect("bare path");
    assert_eq!(d.address(), &QmpAddress::Unix(vm.qmp_a.clone()));
    assert_eq!(d.query().await, Ok(PowerState::On));

    // Repeated power_on on a running VM: no event at all.
    let before = obs.changes().await;
    for _ in 0..3 {
        d.power_on().await.expect("power_on while on");
    }
    assert_eq!(
        obs.changes().await,
        before,
        "power_on while on touched the VM: {:?}",
        obs.events()
    );

    // Both boot devices, once and persistently: boot_set works on this QEMU.
    for (dev, persistent) in [
        (BootDevice::Pxe, false),
        (BootDevice::Disk, true),
        (BootDevice::Pxe, true),
    ] {
        assert_eq!(d.set_boot_device(dev, persistent).await, Ok(()), "{dev:?}");
    }

    // Soft off presses the ACPI button (the firmware ignores it, but QEMU reports the press).
    let before = obs.events().iter().filter(|e| *e == "POWERDOWN").count();
    d.power_soft().await.expect("power_soft");
    obs.changes().await;
    assert_eq!(
        obs.events().iter().filter(|e| *e == "POWERDOWN").count(),
        before + 1
    );

    // power_off from on: stopped and reset, so the next power_on boots afresh.
    let events_before = obs.events().len();
    d.power_off().await.expect("power_off");
    assert!(!obs.running().await);
    let ev = obs.events()[events_before..].to_vec();
    assert_eq!(ev, ["STOP", "RESET"], "power_off");
    assert_eq!(d.query().await, Ok(PowerState::Off));
    // power_off again: still off, no error.
    d.power_off().await.expect("power_off while off");
    assert!(!obs.running().await);

    // A paused VM (someone else's `stop`) is off; power_on resets it and resumes.
    d.power_on().await.expect("power_on");
    assert!(obs.running().await);
    obs.execute("stop").await;
    assert_eq!(d.query().await, Ok(PowerState::Off));
    let events_before = obs.events().len();
    d.power_on().await.expect("power_on from paused");
    assert!(obs.running().await);
    obs.changes().await;
    assert_eq!(
        obs.events()[events_before..].to_vec(),
        ["RESET", "RESUME"],
        "power_on from paused"
    );

    // power_cycle while on is exactly one reset, and the VM stays on.
    let events_before = obs.events().len();
    d.power_cycle().await.expect("power_cycle");
    obs.changes().await;
    assert_eq!(
        obs.events()[events_before..].to_vec(),
        ["RESET"],
        "power_cycle while on"
    );
    assert!(obs.running().await);

    // The observer holds the second socket: a driver on it gets no greeting and times out
    // (transient), quickly with a short deadline.
    let busy =
        Qemu::new(QmpAddress::Unix(vm.qmp_b.clone())).with_timeout(Duration::from_millis(500));
    let t = Instant::now();
    let r = busy.query().await;
    assert!(matches!(r, Err(PowerError::Timeout(_))), "{r:?}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());

    eprintln!("all events: {:?}", obs.all_events());
    drop(obs);
    drop(vm);
    eprintln!("total with a real QEMU: {:?}", t0.elapsed());
}

// ------------------------------------------------------------------------------------------------
// Failures, without QEMU

fn driver_for(addr: &str) -> Qemu {
    let mut p = Params::new();
    p.insert("power_address".into(), json!(addr));
    Qemu::from_params(&p)
        .expect("params")
        .with_timeout(Duration::from_secs(2))
}

#[tokio::test]
async fn missing_or_refusing_sockets_are_unreachable_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    // No such file.
    let missing = dir.path().join("nobody.qmp");
    // A socket file nobody listens on any more.
    let stale = dir.path().join("stale.qmp");
    drop(std::os::unix::net::UnixListener::bind(&stale).expect("bind"));
    // A TCP port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();

    for addr in [
        missing.display().to_string(),
        format!("unix:{}", stale.display()),
        format!("127.0.0.1:{port}"),
    ] {
        let d = driver_for(&addr);
        let t = Instant::now();
        let results = [
            d.query().await,
            d.power_on().await.map(|_| PowerState::On),
            d.power_off().await.map(|_| PowerState::Off),
        ];
        for r in results {
            assert!(
                matches!(r, Err(PowerError::Unreachable(_))),
                "{addr}: {r:?}"
            );
        }
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "{addr}: {:?}",
            t.elapsed()
        );
    }
}

#[test]
fn bad_params() {
    let mut p = Params::new();
    assert!(matches!(
        Qemu::from_params(&p),
        Err(PowerError::BadParams(_))
    ));
    p.insert("power_address".into(), json!(42));
    assert!(matches!(
        Qemu::from_params(&p),
        Err(PowerError::BadParams(_))
    ));
    p.insert("power_address".into(), json!(""));
    assert!(matches!(
        build("qemu", &p).err(),
        Some(PowerError::BadParams(_))
    ));
}

/// What a fake server sends: the greeting, then one reply per line it receives.
#[derive(Clone)]
struct Script {
    greeting: Vec<u8>,
    replies: Vec<Vec<u8>>,
}

fn script(greeting: &[u8], replies: &[&[u8]]) -> Script {
    Script {
        greeting: greeting.to_vec(),
        replies: replies.iter().map(|r| r.to_vec()).collect(),
    }
}

async fn serve<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(stream: S, s: Script) {
    let (r, mut w) = tokio::io::split(stream);
    let mut lines = BufReader::new(r).lines();
    if w.write_all(&s.greeting).await.is_err() {
        return;
    }
    for reply in s.replies {
        match lines.next_line().await {
            Ok(Some(_)) => {}
            _ => return,
        }
        if w.write_all(&reply).await.is_err() {
            return;
        }
    }
    // Then say nothing more until the client leaves.
    while let Ok(Some(_)) = lines.next_line().await {}
}

const GREETING: &[u8] = b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n";
const OK: &[u8] = b"{\"return\": {}}\n";

#[tokio::test]
async fn garbage_answers_are_protocol_errors() {
    let long = vec![b'x'; 2 << 20];
    let cases: Vec<(&str, Script)> = vec![
        ("not JSON greeting", script(b"hello, I am not QEMU\n", &[])),
        ("binary greeting", script(b"\xff\xfe\x00garbage\x80\n", &[])),
        ("JSON but no QMP greeting", script(b"{\"hello\": 1}\n", &[])),
        ("greeting not an object", script(b"[1, 2, 3]\n", &[])),
        ("endless line", script(&long, &[])),
        (
            "garbage after capabilities",
            script(GREETING, &[b"{\"return\": {}}\n", b"}}}{{{\n"]),
        ),
        (
            "capabilities answered oddly",
            script(GREETING, &[b"{\"neither\": true}\n"]),
        ),
        (
            "status without a status",
            script(GREETING, &[OK, b"{\"return\": {\"running\": true}}\n"]),
        ),
        (
            "status of the wrong type",
            script(GREETING, &[OK, b"{\"return\": {\"status\": 5}}\n"]),
        ),
        (
            "a QMP error",
            script(
                GREETING,
                &[
                    OK,
                    b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}}\n",
                ],
            ),
        ),
        (
            "wrong id",
            script(
                GREETING,
                &[
                    OK,
                    b"{\"return\": {\"status\": \"running\"}, \"id\": 999}\n",
                ],
            ),
        ),
        (
            "events then garbage",
            script(
                GREETING,
                &[OK, b"{\"event\": \"RESET\"}\n{\"event\": \"STOP\"}\nnope\n"],
            ),
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, (name, s)) in cases.into_iter().enumerate() {
        // Over a unix socket ...
        let path = dir.path().join(format!("fake{i}.qmp"));
        let listener = UnixListener::bind(&path).expect("bind");
        let s2 = s.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, s2.clone()));
            }
        });
        let r = driver_for(&path.display().to_string()).query().await;
        assert!(
            matches!(r, Err(PowerError::Protocol(_))),
            "{name} (unix): {r:?}"
        );
        server.abort();
        // ... and over TCP.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, s.clone()));
            }
        });
        let r = driver_for(&addr.to_string()).query().await;
        assert!(
            matches!(r, Err(PowerError::Protocol(_))),
            "{name} (tcp): {r:?}"
        );
        server.abort();
    }
}

#[tokio::test]
async fn fake_qmp_server_edge_cases() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |s: Script, i: usize| {
        let path = dir.path().join(format!("edge{i}.qmp"));
        let listener = UnixListener::bind(&path).expect("bind");
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, s.clone()));
            }
        });
        (
            driver_for(&path.display().to_string()).with_timeout(Duration::from_millis(500)),
            server,
        )
    };

    // Events before the answer are skipped; blank lines too.
    let (d, server) = run(script(GREETING, &[OK, b"\n{\"event\": \"RESET\"}\n{\"return\": {\"status\": \"paused\", \"running\": false}}\n"]), 0);
    assert_eq!(d.query().await, Ok(PowerState::Off));
    server.abort();

    // A server that greets and then never answers: a timeout (transient).
    let (d, server) = run(script(GREETING, &[]), 1);
    let t = Instant::now();
    assert!(matches!(d.query().await, Err(PowerError::Timeout(_))));
    assert!(t.elapsed() < Duration::from_secs(2));
    server.abort();

    // A server that hangs up mid-answer: unreachable (transient), not a panic.
    let (d, server) = run(script(b"{\"QMP\": {", &[]), 2);
    // (The fake keeps the connection open after a partial greeting, so this one times out.)
    assert!(matches!(d.query().await, Err(PowerError::Timeout(_))));
    server.abort();
    let path = dir.path().join("hangup.qmp");
    let listener = UnixListener::bind(&path).expect("bind");
    let server = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.write_all(b"{\"QMP\": {").await;
            drop(stream);
        }
    });
    let r = driver_for(&path.display().to_string()).query().await;
    assert!(matches!(r, Err(PowerError::Unreachable(_))), "{r:?}");
    server.abort();

    // HMP answering an error as text: set_boot_device is Unsupported.
    let (d, server) = run(script(GREETING, &[OK, b"{\"return\": \"Error: no function defined to set boot device list for this architecture\\r\\n\"}\n"]), 3);
    assert!(matches!(
        d.set_boot_device(BootDevice::Pxe, false).await,
        Err(PowerError::Unsupported(_))
    ));
    server.abort();
    // ... and a QEMU without human-monitor-command too.
    let (d, server) = run(script(GREETING, &[OK, b"{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command human-monitor-command has not been found\"}}\n"]), 4);
    assert!(matches!(
        d.set_boot_device(BootDevice::Disk, true).await,
        Err(PowerError::Unsupported(_))
    ));
    server.abort();
}

/// A fake QMP server in the given run state that answers every command and records them.
async fn recording_server(
    path: &Path,
    status: &'static str,
) -> (Arc<Mutex<Vec<String>>>, tokio::task::JoinHandle<()>) {
    let listener = UnixListener::bind(path).expect("bind");
    let log: Arc<Mutex<Vec<String>>> = Default::default();
    let log2 = log.clone();
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (r, mut w) = stream.into_split();
            let mut lines = BufReader::new(r).lines();
            let _ = w.write_all(GREETING).await;
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(req) = serde_json::from_str::<Value>(&line) else {
                    return;
                };
                let cmd = req["execute"].as_str().unwrap_or("?").to_string();
                let ret = match cmd.as_str() {
                    "query-status" => json!({ "status": status, "running": status == "running" }),
                    _ => json!({}),
                };
                if cmd != "qmp_capabilities" {
                    log2.lock().unwrap().push(cmd);
                }
                // An event first, as QEMU may send one at any time; then the answer with its id.
                let out = format!(
                    "{}\n{}\n",
                    json!({ "event": "RTC_CHANGE" }),
                    json!({ "return": ret, "id": req["id"] })
                );
                let _ = w.write_all(out.as_bytes()).await;
            }
        }
    });
    (log, server)
}

#[tokio::test]
async fn commands_sent_in_each_run_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    type Op = fn(
        &Qemu,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), PowerError>> + Send + '_>,
    >;
    let on: Op = |d| Box::pin(d.power_on());
    let off: Op = |d| Box::pin(d.power_off());
    let soft: Op = |d| Box::pin(d.power_soft());
    let cycle: Op = |d| Box::pin(d.power_cycle());
    let cases: Vec<(&str, &'static str, Op, &[&str])> = vec![
        ("on while running", "running", on, &["query-status"]),
        (
            "on from prelaunch",
            "prelaunch",
            on,
            &["query-status", "cont"],
        ),
        (
            "on from paused",
            "paused",
            on,
            &["query-status", "system_reset", "cont"],
        ),
        (
            "on from shutdown",
            "shutdown",
            on,
            &["query-status", "system_reset", "cont"],
        ),
        (
            "on from guest-panicked",
            "guest-panicked",
            on,
            &["query-status", "system_reset", "cont"],
        ),
        (
            "on from suspended",
            "suspended",
            on,
            &["query-status", "system_reset", "cont"],
        ),
        ("off", "running", off, &["stop", "system_reset"]),
        (
            "soft while running",
            "running",
            soft,
            &["query-status", "system_powerdown"],
        ),
        ("soft while off", "prelaunch", soft, &["query-status"]),
        (
            "cycle while running",
            "running",
            cycle,
            &["query-status", "system_reset"],
        ),
        (
            "cycle from prelaunch",
            "prelaunch",
            cycle,
            &["query-status", "cont"],
        ),
        (
            "cycle from shutdown",
            "shutdown",
            cycle,
            &["query-status", "system_reset", "cont"],
        ),
    ];
    for (i, (name, status, op, want)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("rec{i}.qmp"));
        let (log, server) = recording_server(&path, status).await;
        let d = driver_for(&path.display().to_string());
        assert_eq!(op(&d).await, Ok(()), "{name}");
        assert_eq!(*log.lock().unwrap(), want, "{name}");
        server.abort();
    }
}
