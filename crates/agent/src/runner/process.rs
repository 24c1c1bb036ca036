//! Running one script: its own process group, stdout and stderr captured to files (and both,
//! interleaved as they come, to the combined file), killed with its whole group at the timeout.
//! The combined file keeps the order in which the chunks were read; writes to stdout and stderr
//! made at the same instant may land in either order (two pipes carry no order between them).

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

/// Where a script's output goes.
#[derive(Debug, Clone)]
pub struct Capture {
    pub combined: PathBuf,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

/// How a script ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// Exited with this status (killed by a signal: 128 + the signal, as a shell reports it).
    Code(i32),
    /// Still running at its timeout: its process group was killed.
    TimedOut,
    /// Could not be started (the reason is also in its stderr and combined files).
    NotStarted(String),
}

/// What running a script gave.
#[derive(Debug, Clone)]
pub struct Ran {
    pub exit: Exit,
    pub runtime: Duration,
}

/// How long output is still read after the script's own process exited (descendants it left
/// behind may hold the pipes open).
const DRAIN: Duration = Duration::from_secs(2);

fn append(f: &Mutex<File>, data: &[u8]) {
    if let Ok(mut f) = f.lock() {
        let _ = f.write_all(data);
    }
}

async fn pump(
    mut from: impl tokio::io::AsyncRead + Unpin,
    own: Arc<Mutex<File>>,
    combined: Arc<Mutex<File>>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let data = buf.get(..n).unwrap_or_default();
                // The combined file is locked for both writes so a chunk lands whole, in the
                // order the chunks were read.
                if let Ok(mut c) = combined.lock() {
                    let _ = c.write_all(data);
                }
                append(&own, data);
            }
        }
    }
}

/// Kills every process of the group `pgid`.
fn kill_group(pgid: u32) {
    if let Ok(p) = libc::pid_t::try_from(pgid) {
        if p > 1 {
            // SAFETY: kill with a negative pid signals that process group; no memory involved.
            unsafe {
                libc::kill(-p, libc::SIGKILL);
            }
        }
    }
}

/// Runs `cmd` (stdin from /dev/null) in a new process group, capturing its output, and kills
/// the group when `timeout` passes first.
pub async fn run(
    mut cmd: tokio::process::Command,
    capture: &Capture,
    timeout: Option<Duration>,
) -> Ran {
    let start = Instant::now();
    let files = (
        File::create(&capture.combined),
        File::create(&capture.stdout),
        File::create(&capture.stderr),
    );
    let (combined, out, err) = match files {
        (Ok(c), Ok(o), Ok(e)) => (
            Arc::new(Mutex::new(c)),
            Arc::new(Mutex::new(o)),
            Arc::new(Mutex::new(e)),
        ),
        (c, o, e) => {
            let why = [c.err(), o.err(), e.err()]
                .into_iter()
                .flatten()
                .map(|e| e.to_string())
                .next()
                .unwrap_or_default();
            return Ran {
                exit: Exit::NotStarted(format!("cannot create the output files: {why}")),
                runtime: start.elapsed(),
            };
        }
    };
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("cannot start the script: {e}\n");
            append(&err, msg.as_bytes());
            append(&combined, msg.as_bytes());
            return Ran {
                exit: Exit::NotStarted(msg.trim_end().to_string()),
                runtime: start.elapsed(),
            };
        }
    };
    let pgid = child.id();
    let mut readers = Vec::new();
    if let Some(o) = child.stdout.take() {
        readers.push(tokio::spawn(pump(o, out.clone(), combined.clone())));
    }
    if let Some(e) = child.stderr.take() {
        readers.push(tokio::spawn(pump(e, err.clone(), combined.clone())));
    }
    let waited = match timeout {
        Some(t) => tokio::time::timeout(t, child.wait()).await.ok(),
        None => Some(child.wait().await),
    };
    let exit = match waited {
        None => {
            if let Some(p) = pgid {
                kill_group(p);
            }
            let _ = child.wait().await;
            Exit::TimedOut
        }
        Some(Ok(status)) => {
            use std::os::unix::process::ExitStatusExt;
            Exit::Code(
                status
                    .code()
                    .or_else(|| status.signal().map(|s| 128 + s))
                    .unwrap_or(-1),
            )
        }
        Some(Err(e)) => Exit::NotStarted(format!("cannot wait for the script: {e}")),
    };
    let runtime = start.elapsed();
    let deadline = tokio::time::Instant::now() + DRAIN;
    for r in readers {
        let abort = r.abort_handle();
        if tokio::time::timeout_at(deadline, r).await.is_err() {
            abort.abort();
        }
    }
    for f in [&combined, &out, &err] {
        if let Ok(f) = f.lock() {
            let _ = f.sync_data();
        }
    }
    Ran { exit, runtime }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(dir: &std::path::Path) -> Capture {
        Capture {
            combined: dir.join("s"),
            stdout: dir.join("s.out"),
            stderr: dir.join("s.err"),
        }
    }

    fn sh(script: &str) -> tokio::process::Command {
        let mut c = tokio::process::Command::new("/bin/sh");
        c.args(["-c", script]);
        c
    }

    fn read(p: &std::path::Path) -> String {
        std::fs::read_to_string(p).unwrap()
    }

    #[tokio::test]
    async fn captures_stdout_stderr_and_both_interleaved() {
        let t = tempfile::tempdir().unwrap();
        let c = capture(t.path());
        let r = run(
            sh("echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three; exit 3"),
            &c,
            None,
        )
        .await;
        assert_eq!(r.exit, Exit::Code(3));
        assert_eq!(read(&c.stdout), "one\nthree\n");
        assert_eq!(read(&c.stderr), "two\n");
        assert_eq!(read(&c.combined), "one\ntwo\nthree\n");
        assert!(r.runtime >= Duration::from_millis(400));
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_process_group() {
        let t = tempfile::tempdir().unwrap();
        let c = capture(t.path());
        let pidfile = t.path().join("grandchild.pid");
        let script = format!(
            "sleep 30 & echo $! > {}; echo started; wait",
            pidfile.display()
        );
        let start = Instant::now();
        let r = run(sh(&script), &c, Some(Duration::from_millis(500))).await;
        assert_eq!(r.exit, Exit::TimedOut);
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(read(&c.stdout), "started\n", "output so far is kept");
        let pid: i32 = read(&pidfile).trim().parse().unwrap();
        // The background `sleep` was in the group: it is gone (or a zombie about to be reaped
        // by init), never still sleeping.
        std::thread::sleep(Duration::from_millis(100));
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let alive = state
            .rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().next())
            .is_some_and(|st| st != "Z" && st != "X");
        assert!(!alive, "grandchild {pid} survived: {state}");
    }

    #[tokio::test]
    async fn a_missing_interpreter_is_reported_not_run() {
        let t = tempfile::tempdir().unwrap();
        let c = capture(t.path());
        let r = run(
            tokio::process::Command::new(t.path().join("nope")),
            &c,
            None,
        )
        .await;
        assert!(matches!(r.exit, Exit::NotStarted(_)), "{:?}", r.exit);
        assert!(read(&c.stderr).contains("cannot start the script"));
    }

    #[tokio::test]
    async fn signals_show_as_128_plus() {
        let t = tempfile::tempdir().unwrap();
        let r = run(sh("kill -9 $$"), &capture(t.path()), None).await;
        assert_eq!(r.exit, Exit::Code(137));
    }
}
