//! A throwaway PostgreSQL cluster of the test's own, to restart and stop under a running
//! region (the shared one of `INGOT_TEST_PG_URL` serves other tests and must stay up).
//! Data in a temp dir, on a free port of 127.0.0.1 only, trust authentication (loopback, the
//! cluster lives as long as the test), `fsync=off` (a process crash keeps what was written; an
//! immediate restart loses nothing committed — `synchronous_commit` stays on for that).
//! As root, `initdb` and `pg_ctl` run as the `postgres` user (they refuse root). Stopped by
//! its own data dir when dropped.

use std::path::PathBuf;
use std::process::{Command, Output};

pub struct PgCluster {
    bin: PathBuf,
    /// The cluster's temp dir: `data/`, the socket, `postgres.log`.
    dir: tempfile::TempDir,
    pub port: u16,
    running: bool,
}

/// The newest `/usr/lib/postgresql/*/bin` with `initdb` and `pg_ctl`.
fn binaries() -> Option<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((v, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, b)| b)
}

fn is_root() -> bool {
    super::ok(&["id", "-u"]).trim() == "0"
}

impl PgCluster {
    /// A new cluster, started, with database `ingot`; `None` (the test is skipped, with a
    /// message) when there are no PostgreSQL binaries here. CI has them: there it fails.
    pub fn start_new() -> Option<PgCluster> {
        let Some(bin) = binaries() else {
            assert!(
                std::env::var("CI").is_err(),
                "CI has PostgreSQL installed (scripts/test.sh): this test must run"
            );
            eprintln!("SKIP: no PostgreSQL binaries under /usr/lib/postgresql/*/bin");
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        if is_root() {
            let pg = super::ok(&["id", "-u", "postgres"]);
            let gid = super::ok(&["id", "-g", "postgres"]);
            let (uid, gid) = (pg.trim().parse().ok(), gid.trim().parse().ok());
            std::os::unix::fs::chown(dir.path(), uid, gid).expect("chown the cluster's dir");
        }
        let mut c = PgCluster {
            bin,
            dir,
            port: 0,
            running: false,
        };
        let data = c.data();
        let o = c.as_pg(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-locale",
                "--auth=trust",
            ],
        );
        assert!(o.status.success(), "initdb: {}", text(&o));
        // A port that was free a moment ago: tried again when someone took it meanwhile.
        for _ in 0..5 {
            c.port = super::free_port();
            if c.try_start() {
                c.running = true;
                return Some(c);
            }
        }
        panic!("PostgreSQL did not start: {}", c.log_tail());
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    /// Run `prog` of the PostgreSQL binaries, as the `postgres` user when root; from `/`,
    /// which that user may enter.
    fn as_pg(&self, prog: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(prog);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args)
            .current_dir("/")
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", exe.display()))
    }

    fn pg_ctl(&self, args: &[&str]) -> Output {
        let data = self.data();
        let mut a = vec!["-D", data.as_str()];
        a.extend_from_slice(args);
        self.as_pg("pg_ctl", &a)
    }

    fn try_start(&self) -> bool {
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=100",
            self.port,
            self.dir.path().display()
        );
        let log = self.log();
        self.pg_ctl(&["-l", &log, "-w", "-t", "60", "-o", &opts, "start"])
            .status
            .success()
    }

    fn log(&self) -> String {
        self.dir
            .path()
            .join("postgres.log")
            .to_string_lossy()
            .into_owned()
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// `postgres://postgres@127.0.0.1:PORT/NAME`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Create database `name`; its URL.
    pub async fn create_database(&self, name: &str) -> String {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&self.url("postgres"))
            .await
            .expect("connect to the test's PostgreSQL");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        self.url(name)
    }

    /// Crash and start again: every backend killed at once, recovery from the WAL.
    pub fn restart_immediate(&mut self) {
        let log = self.log();
        let o = self.pg_ctl(&["-l", &log, "-m", "immediate", "-w", "-t", "60", "restart"]);
        assert!(
            o.status.success(),
            "pg_ctl restart: {}\n{}",
            text(&o),
            self.log_tail()
        );
    }

    /// Stop (`mode`: `fast` closes the sessions with an error, `immediate` crashes).
    pub fn stop(&mut self, mode: &str) {
        let o = self.pg_ctl(&["-m", mode, "-w", "-t", "60", "stop"]);
        assert!(o.status.success(), "pg_ctl stop: {}", text(&o));
        self.running = false;
    }

    /// Start again on the same port.
    pub fn start(&mut self) {
        assert!(
            self.try_start(),
            "PostgreSQL did not start again: {}",
            self.log_tail()
        );
        self.running = true;
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running {
            let _ = self.pg_ctl(&["-m", "immediate", "-w", "-t", "30", "stop"]);
        }
    }
}
