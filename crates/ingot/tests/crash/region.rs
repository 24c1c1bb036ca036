//! The region under a storm: one `ingot serve` on a fixed port (its clients find it again
//! after a restart), with a short deadline for transient statuses and the reaper every second.
//! `crash.rs` kills and starts it again; `pg_restart.rs` keeps it running while its database
//! goes away.

use crate::common::{free_port, BIN};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

/// A size of the run from the environment (`default` when unset or not a number).
pub fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub struct Region {
    child: Option<Child>,
    pub db: String,
    pub dir: Arc<tempfile::TempDir>,
    pub port: u16,
}

/// Deadline of transient statuses for the run (seconds): short, so that some fire during it.
pub const NODE_TIMEOUT_SECS: i64 = 20;

impl Region {
    /// The region of database `db` and data dir `dir`, not started yet.
    pub fn new(db: String, dir: Arc<tempfile::TempDir>) -> Region {
        Region {
            child: None,
            db,
            dir,
            port: free_port(),
        }
    }

    pub fn start(&mut self) {
        let data_dir = self.dir.path().to_string_lossy().to_string();
        let listen = format!("127.0.0.1:{}", self.port);
        let timeout = NODE_TIMEOUT_SECS.to_string();
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--database",
                &self.db,
                "--data-dir",
                &data_dir,
                "--listen",
                &listen,
                "--reap-interval",
                "1",
                "--node-timeout-secs",
                &timeout,
                "--power-poll-interval",
                "3600",
            ])
            .env("INGOT_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn ingot serve");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("read the listen line");
        // Whatever else it prints is read (and shown), so the pipe never fills or breaks.
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                eprintln!("ingot serve: {l}");
            }
        });
        assert!(
            line.contains(&listen),
            "ingot serve did not come up on {listen}: {line:?}"
        );
        self.child = Some(child);
    }

    /// Whether the region ended (it must never end by itself).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGKILL, then reap (the process is the test's own child).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        self.kill();
    }
}
