//! `boot-resources create … content@=FILE` the way python-libmaas uploads an image: the file's
//! SHA-256 and size are computed by reading it once, the resource is created with `sha256` and
//! `size` and no content, then the file is PUT in 4 MiB chunks to the file's `upload_uri`,
//! read from disk one chunk at a time. Any size works (a single request is refused over the
//! server's body limit) and the client holds one chunk in memory at most. Progress goes to
//! standard error: a bar on a terminal, one line at the end otherwise.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::Url;
use sha2::{Digest, Sha256};

use crate::apiurl::{origin, path_after_api_root};
use crate::client::Client;
use crate::describe::{Action, Command};
use crate::error::{CliError, Result};
use crate::profile::Profile;
use crate::request::{plan_for, PreparedRequest};

/// What python-libmaas sends per request.
pub const CHUNK: usize = 4 << 20;

/// Whether this command is an image upload to do in chunks: `boot-resources create` with a
/// `content@=FILE` argument. Returns the argument's index and the file.
pub fn chunked_content(
    command: &Command,
    action: &Action,
    args: &[String],
) -> Option<(usize, PathBuf)> {
    if command.handler.name != "BootResourcesHandler"
        || action.name != "create"
        || action.op.as_deref().is_some_and(|o| !o.is_empty())
    {
        return None;
    }
    args.iter()
        .enumerate()
        .find_map(|(i, a)| a.strip_prefix("content@=").map(|p| (i, PathBuf::from(p))))
}

fn file_error(path: &Path, source: std::io::Error) -> CliError {
    CliError::ParamFile {
        name: "content".into(),
        path: path.to_path_buf(),
        source,
    }
}

/// A progress bar on standard error when it is a terminal.
struct Progress {
    label: &'static str,
    total: u64,
    done: u64,
    tty: bool,
    start: Instant,
    drawn: Option<Instant>,
}

fn mib(n: u64) -> f64 {
    n as f64 / f64::from(1u32 << 20)
}

impl Progress {
    fn new(label: &'static str, total: u64) -> Progress {
        Progress {
            label,
            total,
            done: 0,
            tty: std::io::stderr().is_terminal(),
            start: Instant::now(),
            drawn: None,
        }
    }

    fn add(&mut self, n: u64, err: &mut dyn Write) {
        self.done += n;
        if self.tty
            && self
                .drawn
                .is_none_or(|t| t.elapsed() >= Duration::from_millis(100))
        {
            self.draw(err);
        }
    }

    fn rate(&self) -> f64 {
        mib(self.done) / self.start.elapsed().as_secs_f64().max(1e-3)
    }

    fn draw(&mut self, err: &mut dyn Write) {
        const WIDTH: u64 = 30;
        let filled = (self.done * WIDTH).checked_div(self.total).unwrap_or(WIDTH);
        let pct = (self.done * 100).checked_div(self.total).unwrap_or(100);
        let bar: String = (0..WIDTH)
            .map(|i| if i < filled { '#' } else { '-' })
            .collect();
        let _ = write!(
            err,
            "\r{:<12} [{bar}] {pct:>3}% {:.1}/{:.1} MiB {:.1} MiB/s ",
            self.label,
            mib(self.done),
            mib(self.total),
            self.rate()
        );
        let _ = err.flush();
        self.drawn = Some(Instant::now());
    }

    /// The bar at its end (on a terminal), else nothing.
    fn finish(&mut self, err: &mut dyn Write) {
        if self.tty {
            self.draw(err);
            let _ = writeln!(err);
        }
    }
}

/// SHA-256 (hex) and size of `path`, read once in 1 MiB pieces.
async fn digest(path: &Path, err: &mut dyn Write) -> Result<(String, u64)> {
    let mut f = std::fs::File::open(path).map_err(|e| file_error(path, e))?;
    let total = f.metadata().map_err(|e| file_error(path, e))?.len();
    let mut progress = Progress::new("Checksumming", total);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(|e| file_error(path, e))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
        progress.add(k as u64, err);
    }
    progress.finish(err);
    let hex = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((hex, n))
}

/// Fill `buf` from `f` (short only at the end of the file).
fn read_chunk(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match f.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// `path` (absolute, as the server renders URIs) re-rooted on the profile's URL, as
/// [`plan_for`] does for the describe document's paths.
fn profile_url(profile: &Profile, path: &str) -> Result<String> {
    let base = Url::parse(&profile.url).map_err(|e| CliError::InvalidUrl {
        url: profile.url.clone(),
        reason: e.to_string(),
    })?;
    Ok(match path_after_api_root(path) {
        Some(rest) => {
            let mut u = base.to_string();
            if !u.ends_with('/') {
                u.push('/');
            }
            u.push_str(rest);
            u
        }
        None => format!("{}{}", origin(&base), path),
    })
}

fn http_error(r: crate::client::Response) -> CliError {
    CliError::Http {
        status: r.status,
        reason: r.reason,
        body: r.body,
    }
}

/// Create the resource, then upload `file` in chunks; prints the resource at the end.
pub async fn create_and_upload(
    profile: &Profile,
    command: &Command,
    action: &Action,
    args: &[String],
    content: (usize, PathBuf),
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<serde_json::Value> {
    let (at, path) = content;
    let (sha256, size) = digest(&path, err).await?;
    let mut form: Vec<String> = args
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != at)
        .map(|(_, a)| a.clone())
        .collect();
    // What was given on the command line stands (the server checks it against the bytes).
    for (k, v) in [("sha256", sha256.clone()), ("size", size.to_string())] {
        if !form.iter().any(|a| a.starts_with(&format!("{k}="))) {
            form.push(format!("{k}={v}"));
        }
    }
    let request = plan_for(profile, command, action, &form)?.prepare();
    let server = Url::parse(&profile.url).map_err(|e| CliError::InvalidUrl {
        url: profile.url.clone(),
        reason: e.to_string(),
    })?;
    let client = Client::for_server(&server, &profile.trust()?)?;
    let creds = profile.credentials.as_ref();
    let response = client.send(&request, creds).await?;
    if !response.is_success() {
        return Err(http_error(response));
    }
    let resource: serde_json::Value =
        serde_json::from_slice(&response.body).map_err(|e| CliError::Unexpected {
            url: request.url.clone(),
            status: response.status,
            reason: response.reason.clone(),
            body: format!(": not a boot resource ({e})"),
        })?;
    let file = resource["sets"]
        .as_object()
        .and_then(|sets| sets.values().next())
        .and_then(|set| set["files"].as_object())
        .and_then(|files| files.values().next())
        .cloned()
        .unwrap_or_default();
    let name = resource["name"]
        .as_str()
        .unwrap_or("the resource")
        .to_string();
    if file["complete"].as_bool() != Some(true) {
        let uri = file["upload_uri"]
            .as_str()
            .ok_or_else(|| CliError::Unexpected {
                url: request.url.clone(),
                status: response.status,
                reason: response.reason.clone(),
                body: ": the new boot resource has no upload_uri".into(),
            })?;
        let url = profile_url(profile, uri)?;
        let mut f = std::fs::File::open(&path).map_err(|e| file_error(&path, e))?;
        let mut buf = vec![0u8; CHUNK];
        let mut progress = Progress::new("Uploading", size);
        loop {
            let k = read_chunk(&mut f, &mut buf).map_err(|e| file_error(&path, e))?;
            if k == 0 {
                break;
            }
            let put = PreparedRequest {
                method: "PUT".into(),
                url: url.clone(),
                content_type: Some("application/octet-stream".into()),
                body: Some(buf[..k].to_vec()),
            };
            let r = client.send(&put, creds).await?;
            if !r.is_success() {
                if progress.tty {
                    let _ = writeln!(err);
                }
                return Err(http_error(r));
            }
            progress.add(k as u64, err);
        }
        progress.finish(err);
        let secs = progress.start.elapsed().as_secs_f64();
        let _ = writeln!(
            err,
            "Uploaded {name}: {} bytes in {secs:.1} s ({:.1} MiB/s).",
            progress.done,
            progress.rate()
        );
    } else {
        let _ = writeln!(
            err,
            "The server has these bytes already (sha256 {sha256}): nothing to upload."
        );
    }
    let _ = out.flush();
    // The resource as it is now (complete, or why not).
    let uri = resource["resource_uri"].as_str().unwrap_or_default();
    let url = profile_url(profile, uri)?;
    let url = Url::parse(&url).map_err(|e| CliError::InvalidUrl {
        url: url.clone(),
        reason: e.to_string(),
    })?;
    let r = client.get(&url, creds).await?;
    if !r.is_success() {
        return Err(http_error(r));
    }
    serde_json::from_slice(&r.body).map_err(|e| CliError::Unexpected {
        url: url.to_string(),
        status: r.status,
        reason: r.reason,
        body: format!(": not a boot resource ({e})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::describe::Handler;

    fn command(handler: &str, action: &str, op: Option<&str>) -> (Command, Action) {
        let h: Handler = serde_json::from_value(serde_json::json!({
            "name": handler, "path": "/MAAS/api/2.0/boot-resources/", "params": [], "actions": []
        }))
        .expect("handler");
        let a: Action = serde_json::from_value(serde_json::json!({
            "name": action, "method": "POST", "op": op, "restful": op.is_none()
        }))
        .expect("action");
        (
            Command {
                name: "boot-resources".into(),
                handler: h,
            },
            a,
        )
    }

    #[test]
    fn only_boot_resource_creates_with_content_go_in_chunks() {
        let args: Vec<String> = ["name=custom/x", "content@=./image", "filetype=tgz"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (c, a) = command("BootResourcesHandler", "create", None);
        assert_eq!(
            chunked_content(&c, &a, &args),
            Some((1, PathBuf::from("./image")))
        );
        assert_eq!(chunked_content(&c, &a, &args[..1]), None);
        let (c, a) = command("BootResourcesHandler", "import", Some("import"));
        assert_eq!(chunked_content(&c, &a, &args), None);
        let (c, a) = command("NodeScriptsHandler", "create", None);
        assert_eq!(chunked_content(&c, &a, &args), None);
    }

    #[test]
    fn the_bar_shows_the_share_done() {
        let mut p = Progress::new("Uploading", 8 << 20);
        p.tty = true;
        let mut err = Vec::new();
        p.add(2 << 20, &mut err);
        let text = String::from_utf8_lossy(&err).into_owned();
        assert!(text.starts_with("\rUploading    [#######-----"), "{text:?}");
        assert!(text.contains(" 25% 2.0/8.0 MiB "), "{text:?}");
        // Not on a terminal: nothing until the caller's final line.
        let mut p = Progress::new("Uploading", 8 << 20);
        p.tty = false;
        let mut err = Vec::new();
        p.add(8 << 20, &mut err);
        p.finish(&mut err);
        assert!(err.is_empty());
    }
}
