//! A sushy-emulator (sushy-tools, fake driver) for tests, started through
//! `$INGOT_SHARED_DIR/peers/redfish-emulator.sh` with its own port and work dir and stopped by
//! its PID. Shared by the power crate's Redfish tests and the region's out-of-band inventory
//! test (`#[path]`-included, so it uses only reqwest, tokio, tempfile and serde_json).
//!
//! Basic auth admin/password, two fake systems (`…-000000000001`, `…-000000000002`, NICs
//! `52:54:00:00:00:01` and `…:02`). `start_with(extra)` adds Python config lines (e.g.
//! `SUSHY_EMULATOR_STORAGE`/`SUSHY_EMULATOR_DRIVES`) through `SUSHY_EMULATOR_CONFIG`, which
//! sushy-emulator loads before the script's own config file.
#![allow(dead_code)]

use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub const USER: &str = "admin";
pub const PASS: &str = "password";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running sushy-emulator, killed (by its PID only) when dropped.
pub struct Emulator {
    pub pid: u32,
    pub base: String,
    pub work: tempfile::TempDir,
    pub http: reqwest::Client,
    stopped: bool,
}

impl Emulator {
    /// Start one, or `None` (after saying why) when sushy-tools is not installed outside CI.
    pub async fn start() -> Option<Emulator> {
        Self::start_with(None).await
    }

    /// As [`Emulator::start`], with extra emulator configuration (Python syntax).
    pub async fn start_with(extra: Option<&str>) -> Option<Emulator> {
        let venv = std::env::var_os("INGOT_SUSHY_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo().join(".venv-sushy"));
        let shared = std::env::var_os("INGOT_SHARED_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo().join("../shared"));
        let script = shared.join("peers/redfish-emulator.sh");
        let missing = if !venv.join("bin/sushy-emulator").is_file() {
            Some(format!("sushy-emulator is not installed in {} (run scripts/peers/redfish.sh, or set INGOT_SUSHY_VENV)", venv.display()))
        } else if !script.is_file() {
            Some(format!(
                "{} not found (set INGOT_SHARED_DIR)",
                script.display()
            ))
        } else {
            None
        };
        if let Some(why) = missing {
            if std::env::var_os("CI").is_some() {
                panic!("{why}");
            }
            eprintln!("SKIP: {why}");
            return None;
        }
        let work = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = tokio::process::Command::new("bash");
        cmd.arg(&script)
            .env("BG", "1")
            .env("WORK", work.path())
            // sushy-emulator keeps the fake systems' state in $TMPDIR/sushy-emulator/*.sqlite
            // even with SUSHY_EMULATOR_STATE_DIR = None: give each emulator its own.
            .env("TMPDIR", work.path())
            .env("PORT", port.to_string())
            .env("LISTEN", "127.0.0.1")
            .env("VENV", &venv)
            .env("NSYSTEMS", "2")
            .env("AUTH", "1")
            .env("USER_NAME", USER)
            .env("USER_PASS", PASS)
            .env_remove("SUSHY_EMULATOR_CONFIG");
        if let Some(extra) = extra {
            let path = work.path().join("extra.conf");
            std::fs::write(&path, extra).unwrap();
            cmd.env("SUSHY_EMULATOR_CONFIG", &path);
        }
        let out = cmd.output().await.unwrap();
        let pid_file = std::fs::read_to_string(work.path().join("sushy.pid")).unwrap_or_default();
        let pid: u32 = pid_file.trim().parse().unwrap_or_else(|_| {
            panic!(
                "redfish-emulator.sh wrote no PID: {} {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let emu = Emulator {
            pid,
            base: format!("http://127.0.0.1:{port}"),
            work,
            http: reqwest::Client::new(),
            stopped: false,
        };
        let t = Instant::now();
        while emu
            .http
            .get(format!("{}/redfish/v1/", emu.base))
            .send()
            .await
            .is_err()
        {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "sushy-emulator did not come up: {}",
                emu.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Some(emu)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.work.path().join("sushy.log")).unwrap_or_default()
    }

    /// A resource as the BMC serves it (read directly, not through the driver): `None` for a
    /// status other than success.
    pub async fn try_get(&self, path: &str) -> Option<Value> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .basic_auth(USER, Some(PASS))
            .send()
            .await
            .unwrap();
        if !r.status().is_success() {
            return None;
        }
        Some(r.json().await.unwrap())
    }

    /// A resource that must exist.
    pub async fn get(&self, path: &str) -> Value {
        self.try_get(path)
            .await
            .unwrap_or_else(|| panic!("GET {path} failed\n{}", self.log()))
    }

    /// The system resource as the BMC serves it.
    pub async fn system(&self, path: &str) -> Value {
        self.get(path).await
    }

    /// Reset actions the emulator accepted for `system`, from its own access log.
    pub fn resets(&self, system: &str) -> usize {
        let needle = format!("POST {system}/Actions/ComputerSystem.Reset ");
        self.log()
            .lines()
            .filter(|l| l.contains(&needle) && l.contains("\" 20"))
            .count()
    }

    /// Stop it now (by its PID) and wait until its port refuses connections.
    pub async fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let _ = std::process::Command::new("kill")
            .arg(self.pid.to_string())
            .status();
        let t = Instant::now();
        while self
            .http
            .get(format!("{}/redfish/v1/", self.base))
            .send()
            .await
            .is_ok()
        {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "sushy-emulator did not stop"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = std::process::Command::new("kill")
                .arg(self.pid.to_string())
                .status();
        }
    }
}

/// Storage for the first fake system (the fake driver serves none by default): one Storage
/// resource with two drives of different protocols.
pub const STORAGE_CONFIG: &str = r#"
SUSHY_EMULATOR_STORAGE = {
    '00000000-0000-0000-0000-000000000001': [
        {'Id': '1', 'Name': 'Local Storage Controller',
         'StorageControllers': [{'MemberId': '0', 'Name': 'Contoso Integrated RAID', 'SpeedGbps': 12}],
         'Drives': ['32ADF365C6C1B7BD', '58CFF987G8J2V9KL']},
    ]
}
SUSHY_EMULATOR_DRIVES = {
    ('00000000-0000-0000-0000-000000000001', '1'): [
        {'Id': '32ADF365C6C1B7BD', 'Name': 'Drive Sample', 'CapacityBytes': 899527000000, 'Protocol': 'SAS'},
        {'Id': '58CFF987G8J2V9KL', 'Name': 'Drive2', 'CapacityBytes': 12345678900, 'Protocol': 'SATA'},
    ]
}
"#;
