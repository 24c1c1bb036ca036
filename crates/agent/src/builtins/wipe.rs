//! `wipe-disks` (release with disk erasure): every physical disk is erased.
//!
//! - `--quick-erase`: the first and last 2 MiB are zeroed (partition tables, filesystem and
//!   LVM signatures, the backup GPT).
//! - neither flag: the whole disk is overwritten with zeros (large writes, fsync).
//! - `--secure-erase`: the disk's own erase where it has one — `blkdiscard -s`, NVMe
//!   format with secure erase (`nvme format -s 1`), ATA security erase (`hdparm`) — when the
//!   tool is there and the disk supports it (busybox's `blkdiscard -s` in the initramfs); otherwise quick (if also asked) or full, and the
//!   report says so.
//!
//! `--device PATH` (repeatable) erases those block devices instead of every disk (and works
//! outside the ephemeral environment: the caller named them).

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use super::{Ctx, Done, Out};

pub const QUICK_BYTES: u64 = 2 << 20;
const CHUNK: usize = 4 << 20;

/// How to erase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Quick,
    Full,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Opts {
    pub quick: bool,
    pub secure: bool,
    pub devices: Vec<PathBuf>,
}

pub fn parse_args(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick-erase" | "--quick-erase=true" | "--quick-erase=True" => o.quick = true,
            "--secure-erase" | "--secure-erase=true" | "--secure-erase=True" => o.secure = true,
            "--quick-erase=false"
            | "--quick-erase=False"
            | "--secure-erase=false"
            | "--secure-erase=False" => {}
            "--device" => o.devices.push(
                it.next()
                    .map(PathBuf::from)
                    .ok_or("--device needs a path")?,
            ),
            other => match other.strip_prefix("--device=") {
                Some(p) => o.devices.push(PathBuf::from(p)),
                None => return Err(format!("unknown argument {other}")),
            },
        }
    }
    Ok(o)
}

/// The byte ranges a quick erase zeroes on a device of `size` bytes: the first and last
/// 2 MiB (one range when they overlap).
pub fn quick_ranges(size: u64) -> Vec<(u64, u64)> {
    if size <= 2 * QUICK_BYTES {
        return vec![(0, size)];
    }
    vec![(0, QUICK_BYTES), (size - QUICK_BYTES, QUICK_BYTES)]
}

fn device_size(f: &File) -> std::io::Result<u64> {
    use std::io::Seek;
    let mut f = f;
    f.seek(std::io::SeekFrom::End(0))
}

/// Zeroes `ranges` of `f` with large writes, then fsyncs.
fn zero(f: &File, ranges: &[(u64, u64)]) -> std::io::Result<u64> {
    let buf = vec![0u8; CHUNK];
    let mut done = 0;
    for &(start, len) in ranges {
        let mut at = start;
        while at < start + len {
            let n = ((start + len - at) as usize).min(CHUNK);
            f.write_all_at(&buf[..n], at)?;
            at += n as u64;
            done += n as u64;
        }
    }
    f.sync_all()?;
    Ok(done)
}

/// Erases one device; a line of what was done.
pub fn erase(path: &Path, mode: Mode) -> Result<String, String> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let size = device_size(&f).map_err(|e| format!("size of {}: {e}", path.display()))?;
    let started = std::time::Instant::now();
    let ranges = match mode {
        Mode::Quick => quick_ranges(size),
        Mode::Full => vec![(0, size)],
    };
    let n = zero(&f, &ranges).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(match mode {
        Mode::Quick => format!(
            "{}: quick erase: zeroed the first and last 2 MiB ({n} bytes of {size}) in {:.1}s",
            path.display(),
            started.elapsed().as_secs_f64()
        ),
        Mode::Full => format!(
            "{}: full erase: zeroed all {n} bytes in {:.1}s",
            path.display(),
            started.elapsed().as_secs_f64()
        ),
    })
}

/// The disk's own secure erase, when it has one and the tool is here: Ok(line) when done,
/// Err(why not) otherwise.
fn secure_erase(ctx: &Ctx, name: &str, path: &Path) -> Result<String, String> {
    let q = ctx.roots.sys.join("class/block").join(name).join("queue");
    let read = |f: &str| {
        std::fs::read_to_string(q.join(f))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let have = |t: &str| {
        Command::new(t)
            .arg("--version")
            .output()
            .map(|o| o.status.success() || !o.stderr.is_empty())
            .unwrap_or(false)
    };
    let p = path.to_string_lossy().into_owned();
    if name.starts_with("nvme") {
        if have("nvme") {
            let out = Command::new("nvme")
                .args(["format", &p, "-s", "1", "-f"])
                .output()
                .map_err(|e| e.to_string())?;
            if out.status.success() {
                return Ok(format!(
                    "{p}: secure erase: NVMe format with user-data erase"
                ));
            }
            return Err(format!(
                "nvme format failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        return Err("NVMe format needs nvme-cli, which is not here".into());
    }
    if read("discard_max_bytes") != "0" && !read("discard_max_bytes").is_empty() {
        if have("blkdiscard") {
            let out = Command::new("blkdiscard")
                .args(["-s", &p])
                .output()
                .map_err(|e| e.to_string())?;
            if out.status.success() {
                return Ok(format!("{p}: secure erase: blkdiscard -s (secure discard)"));
            }
            return Err(format!(
                "the disk does not support secure discard ({})",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        return Err("blkdiscard is not here".into());
    }
    Err("the disk supports neither secure discard nor a secure format that this environment can issue (no ATA security erase tool)".into())
}

fn run_with(ctx: &Ctx, out: &mut Out) -> Done {
    let opts = match parse_args(&ctx.args) {
        Ok(o) => o,
        Err(e) => {
            out.eline(format!("wipe-disks: {e}"));
            return Done::failed();
        }
    };
    let targets: Vec<(String, PathBuf)> = if opts.devices.is_empty() {
        if !ctx.ephemeral {
            return Done::skipped(
                "not in the ephemeral environment: disks are only erased there",
                out,
            );
        }
        crate::resources::disks(&ctx.roots)
            .into_iter()
            .filter(|d| d.kind != "cdrom" && !d.read_only)
            .map(|d| (d.id.clone(), ctx.roots.dev.join(&d.id)))
            .collect()
    } else {
        opts.devices
            .iter()
            .map(|p| {
                let name = std::fs::canonicalize(p)
                    .ok()
                    .and_then(|r| r.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .unwrap_or_default();
                (name, p.clone())
            })
            .collect()
    };
    out.line(format!(
        "wipe-disks: {} disk(s); quick_erase={} secure_erase={}",
        targets.len(),
        opts.quick,
        opts.secure
    ));
    let mut failed = 0;
    let mut list = Vec::new();
    for (name, path) in &targets {
        let mut method = if opts.quick { "quick" } else { "full" };
        if opts.secure {
            match secure_erase(ctx, name, path) {
                Ok(line) => {
                    out.line(&line);
                    list.push(json!({"name": name, "method": "secure", "ok": true}));
                    continue;
                }
                Err(why) => {
                    out.line(format!(
                        "{}: secure erase not possible: {why}; falling back to a {method} erase",
                        path.display()
                    ));
                }
            }
        }
        let mode = if opts.quick { Mode::Quick } else { Mode::Full };
        match erase(path, mode) {
            Ok(line) => {
                out.line(line);
                list.push(json!({"name": name, "method": method, "ok": true}));
            }
            Err(e) => {
                failed += 1;
                out.eline(&e);
                method = "failed";
                list.push(json!({"name": name, "method": method, "ok": false, "error": e}));
            }
        }
    }
    let _ = std::io::stdout().flush();
    let status = if failed == 0 { "passed" } else { "failed" };
    Done::with(
        i32::from(failed > 0),
        json!({"status": status, "disks": list}),
    )
}

pub fn run(ctx: &Ctx, out: &mut Out) -> Done {
    run_with(ctx, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(
            quick_ranges(100 << 20),
            vec![(0, 2 << 20), ((98 << 20), 2 << 20)]
        );
        assert_eq!(quick_ranges(3 << 20), vec![(0, 3 << 20)]);
    }

    #[test]
    fn args() {
        let o = parse_args(&["--quick-erase".into(), "--device".into(), "/dev/x".into()]).unwrap();
        assert!(o.quick && !o.secure);
        assert_eq!(o.devices, [PathBuf::from("/dev/x")]);
        let o = parse_args(&["--secure-erase=True".into(), "--quick-erase=false".into()]).unwrap();
        assert!(o.secure && !o.quick);
        assert!(parse_args(&["--bogus".into()]).is_err());
    }

    #[test]
    fn erases_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("disk");
        std::fs::write(&p, vec![0xa5u8; 6 << 20]).unwrap();
        erase(&p, Mode::Quick).unwrap();
        let b = std::fs::read(&p).unwrap();
        assert!(b[..2 << 20].iter().all(|x| *x == 0));
        assert!(b[2 << 20..4 << 20].iter().all(|x| *x == 0xa5));
        assert!(b[4 << 20..].iter().all(|x| *x == 0));
        erase(&p, Mode::Full).unwrap();
        assert!(std::fs::read(&p).unwrap().iter().all(|x| *x == 0));
    }
}
