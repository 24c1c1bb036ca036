//! Large image uploads (issue 12, item 5): the README's `boot-resources create … content@=FILE`
//! line with a 1 GiB file, through the real CLI (chunks, as python-libmaas sends them) and as
//! one multipart request (as the MAAS CLI and curl send it), while the region's memory is
//! watched in `/proc/PID/status`; and refused uploads, whose answer the CLI shows.

mod common;
use common::{Server, BIN};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The region may grow by less than this during an upload of any size.
const GROWTH_LIMIT_KIB: u64 = 128 * 1024;

struct Cli {
    cfg: tempfile::TempDir,
}

impl Cli {
    fn login(s: &Server) -> Cli {
        let cli = Cli {
            cfg: tempfile::tempdir().unwrap(),
        };
        let (code, out, err) = cli.run(&["login", "admin", &format!("{}/MAAS", s.base), &s.key]);
        assert_eq!(code, 0, "{out}{err}");
        cli
    }
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(BIN)
            .args(args)
            .env("INGOT_CONFIG_DIR", self.cfg.path())
            .output()
            .expect("run ingot");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// `size` bytes of pseudo-random data (a 1 MiB xorshift block, rotated by one byte per MiB so
/// no two MiB are alike); returns the SHA-256.
fn random_file(path: &Path, size: usize) -> String {
    let mut block = vec![0u8; 1 << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in block.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = (x >> 24) as u8;
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut h = Sha256::new();
    let mut left = size;
    let mut i = 0;
    while left > 0 {
        block.rotate_left(1);
        let n = left.min(block.len());
        f.write_all(&block[..n]).unwrap();
        h.update(&block[..n]);
        left -= n;
        i += 1;
    }
    assert!(i > 0);
    f.flush().unwrap();
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Samples a process's `VmRSS` every 20 ms until dropped; `peak` is the highest seen.
struct Sampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(memory(pid).0, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Sampler {
            peak,
            stop,
            thread: Some(thread),
        }
    }
    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

fn file_of(resource: &Value) -> Value {
    resource["sets"]
        .as_object()
        .and_then(|s| s.values().next())
        .map(|set| {
            set["files"]
                .as_object()
                .unwrap()
                .values()
                .next()
                .unwrap()
                .clone()
        })
        .unwrap_or_else(|| panic!("no file in {resource:#}"))
}

fn leftovers(s: &Server) -> Vec<String> {
    std::fs::read_dir(s.dir.path().join("images"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

/// The README's line with a 1 GiB file: uploaded in chunks, complete with the file's digest
/// and size, and the region's resident memory stays flat. Then the same file in one multipart
/// request (the MAAS CLI's way): streamed to disk, memory flat again.
#[tokio::test]
async fn readme_upload_line_with_a_1_gib_file() {
    let s = Server::start(&[]).await;
    let cli = Cli::login(&s);
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("image");
    let size: usize = 1 << 30;
    let t = Instant::now();
    let sha = random_file(&img, size);
    eprintln!("wrote 1 GiB in {:.1} s", t.elapsed().as_secs_f64());
    let pid = s.child.id();

    // ingot admin boot-resources create name=custom/ingot-test architecture=amd64/generic filetype=tgz content@=./ingot-test-os.tgz
    let (rss0, hwm0) = memory(pid);
    let sampler = Sampler::start(pid);
    let t = Instant::now();
    let (code, out, err) = cli.run(&[
        "admin",
        "boot-resources",
        "create",
        "name=custom/big",
        "architecture=amd64/generic",
        "filetype=tgz",
        &format!("content@={}", img.display()),
    ]);
    let took = t.elapsed();
    let peak = sampler.finish();
    let (rss1, hwm1) = memory(pid);
    eprintln!(
        "CLI upload of 1 GiB: {:.1} s; region VmRSS {rss0} KiB before, {peak} KiB peak (sampled), {rss1} KiB after; VmHWM {hwm0} -> {hwm1} KiB",
        took.as_secs_f64()
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        err.contains("Uploaded custom/big: 1073741824 bytes"),
        "{err}"
    );
    let r: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let f = file_of(&r);
    assert_eq!(f["complete"], true, "{r:#}");
    assert_eq!(f["sha256"], sha.as_str());
    assert_eq!(f["size"], size as u64);
    let stored = s.dir.path().join("images").join(&sha);
    assert_eq!(std::fs::metadata(&stored).unwrap().len(), size as u64);
    assert!(
        hwm1 - hwm0 < GROWTH_LIMIT_KIB && peak.saturating_sub(rss0) < GROWTH_LIMIT_KIB,
        "the region grew: VmHWM {hwm0} -> {hwm1} KiB, VmRSS {rss0} -> peak {peak} KiB"
    );
    // The server has it as the region lists it.
    let id = r["id"].as_i64().unwrap();
    let listed = s
        .client()
        .get(&format!("/MAAS/api/2.0/boot-resources/{id}/"))
        .await
        .ok()
        .json();
    assert_eq!(file_of(&listed)["complete"], true);

    // One multipart request, as `maas admin boot-resources create … content@=FILE` and curl
    // send it: 1 GiB in a single body, over the 64 MiB limit of other requests.
    std::fs::remove_file(&stored).unwrap();
    let (rss0, hwm0) = memory(pid);
    let sampler = Sampler::start(pid);
    let t = Instant::now();
    let auth = s.client().auth_header().unwrap();
    let out = Command::new("curl")
        .args(["-sS", "-m", "300", "-w", "\n%{http_code}", "-H"])
        .arg(format!("Authorization: {auth}"))
        .args([
            "-F",
            "name=custom/big-multipart",
            "-F",
            "architecture=amd64/generic",
            "-F",
            "filetype=ddraw",
            "-F",
        ])
        .arg(format!("content=@{}", img.display()))
        .arg(format!("{}/MAAS/api/2.0/boot-resources/", s.base))
        .output()
        .expect("curl");
    let took = t.elapsed();
    let peak = sampler.finish();
    let (rss1, hwm1) = memory(pid);
    eprintln!(
        "multipart upload of 1 GiB: {:.1} s; region VmRSS {rss0} KiB before, {peak} KiB peak (sampled), {rss1} KiB after; VmHWM {hwm0} -> {hwm1} KiB",
        took.as_secs_f64()
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.trim_end().ends_with("201"), "{text}");
    let r: Value = serde_json::from_str(text.trim_end().trim_end_matches("201")).unwrap();
    let f = file_of(&r);
    assert_eq!(f["complete"], true, "{r:#}");
    assert_eq!(f["sha256"], sha.as_str());
    assert_eq!(f["size"], size as u64);
    assert_eq!(std::fs::metadata(&stored).unwrap().len(), size as u64);
    assert!(
        hwm1 - hwm0 < GROWTH_LIMIT_KIB && peak.saturating_sub(rss0) < GROWTH_LIMIT_KIB,
        "the region grew: VmHWM {hwm0} -> {hwm1} KiB, VmRSS {rss0} -> peak {peak} KiB"
    );
    assert!(leftovers(&s).is_empty(), "{:?}", leftovers(&s));
}

/// What the server refuses reaches the user as the server's answer, and the command fails.
#[tokio::test]
async fn refused_uploads_show_the_servers_answer() {
    let s = Server::start(&[]).await;
    let cli = Cli::login(&s);
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.tgz");
    std::fs::write(&small, b"0123456789").unwrap();
    let content = format!("content@={}", small.display());
    let create = |extra: &[&str]| {
        let mut a = vec![
            "admin",
            "boot-resources",
            "create",
            "architecture=amd64/generic",
            content.as_str(),
        ];
        a.extend_from_slice(extra);
        cli.run(&a)
    };
    // A bad filetype: the create is refused before any byte is sent.
    let (code, _, err) = create(&["name=custom/a", "filetype=ddzip"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("HTTP 400") && err.contains("filetype"),
        "{err}"
    );
    // A size that is not the file's: the server refuses the first chunk, saying why.
    let (code, _, err) = create(&["name=custom/b", "filetype=tgz", "size=4"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("HTTP 400") && err.contains("Too much content"),
        "{err}"
    );
    // A digest that is not the file's: refused at the last chunk, the file stays incomplete.
    let zero = format!("sha256={}", "0".repeat(64));
    let (code, _, err) = create(&["name=custom/c", "filetype=tgz", &zero]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("does not match"), "{err}");
    // The good one goes through, and a second upload of the same bytes sends nothing.
    let (code, out, err) = create(&["name=custom/d", "filetype=tgz"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        file_of(&serde_json::from_str(&out).unwrap())["complete"],
        true
    );
    let (code, _, err) = create(&["name=custom/e", "filetype=tgz"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("nothing to upload"), "{err}");

    // One request over the 64 MiB limit (the 236 MiB, as a script through the CLI):
    // the server's 413 and its message, not a broken pipe.
    let big = dir.path().join("big.sh");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(236 << 20)
        .unwrap();
    let (code, _, err) = cli.run(&[
        "admin",
        "node-scripts",
        "create",
        "name=huge",
        "script_type=testing",
        &format!("script@={}", big.display()),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("HTTP 413") && err.contains("larger than 64 MiB"),
        "{err}"
    );
    assert!(!err.contains("connect"), "{err}");

    // A streamed multipart create that is refused (no name) leaves nothing behind.
    let auth = s.client().auth_header().unwrap();
    let out = Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}", "-H"])
        .arg(format!("Authorization: {auth}"))
        .args(["-F", "architecture=amd64/generic", "-F"])
        .arg(format!("content=@{}", big.display()))
        .arg(format!("{}/MAAS/api/2.0/boot-resources/", s.base))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.trim_end().ends_with("400") && text.contains("name"),
        "{text}"
    );
    // Only administrators upload, and nothing is read from anyone else.
    let bob = s.user("bob").await;
    let out = Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}", "-H"])
        .arg(format!("Authorization: {}", bob.auth_header().unwrap()))
        .args([
            "-F",
            "name=custom/bob",
            "-F",
            "architecture=amd64/generic",
            "-F",
        ])
        .arg(format!("content=@{}", big.display()))
        .arg(format!("{}/MAAS/api/2.0/boot-resources/", s.base))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.trim_end().ends_with("403"), "{text}");
    assert!(leftovers(&s).is_empty(), "{:?}", leftovers(&s));
}
