//! What the storm examples share: running `ingot` subcommands, an OAuth API client, and the
//! peak memory of a process.
#![allow(dead_code)]

use std::process::Command;

pub fn run(bin: &str, args: &[&str]) -> String {
    let o = Command::new(bin).args(args).output().expect("run ingot");
    assert!(
        o.status.success(),
        "{bin} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub key: (String, String, String),
}

impl Api {
    pub fn auth(&self) -> String {
        let (ck, tk, ts) = &self.key;
        ingot_wire::build_oauth_header(
            ck,
            tk,
            ts,
            &rand::random::<u64>().to_string(),
            1_700_000_000,
        )
    }
    pub async fn get(&self, path: &str) -> reqwest::Result<(u16, String)> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("Authorization", self.auth())
            .send()
            .await?;
        Ok((r.status().as_u16(), r.text().await?))
    }
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Result<(u16, String)> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Authorization", self.auth())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(ingot_wire::encode_urlencoded(form))
            .send()
            .await?;
        Ok((r.status().as_u16(), r.text().await?))
    }
    pub async fn put_form(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let r = self
            .http
            .put(format!("{}{path}", self.base))
            .header("Authorization", self.auth())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(ingot_wire::encode_urlencoded(form))
            .send()
            .await
            .expect("PUT");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }
    /// Multipart with fields and files (filename = name), as the agent sends results.
    pub async fn post_files(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &[u8])],
    ) -> reqwest::Result<(u16, String)> {
        let b = format!("storm{:016x}", rand::random::<u64>());
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!("--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                    .as_bytes(),
            );
        }
        for (k, v) in files {
            body.extend_from_slice(format!("--{b}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{k}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
            body.extend_from_slice(v);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{b}--\r\n").as_bytes());
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Authorization", self.auth())
            .header("Content-Type", format!("multipart/form-data; boundary={b}"))
            .body(body)
            .send()
            .await?;
        let st = r.status().as_u16();
        let text = r.text().await?;
        if !(200..300).contains(&st) {
            eprintln!(
                "refused: {st} {}",
                text.chars().take(120).collect::<String>()
            );
        }
        Ok((st, text))
    }
}

pub fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// A child process killed (and reaped) when dropped, also when the benchmark panics.
pub struct Guard(pub std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A fresh SQLite database with an administrator (`admin`, password `pw`) in a temporary data
/// directory (removed when dropped).
pub struct Prepared {
    pub dir: tempfile::TempDir,
    pub db: String,
    pub data: String,
    pub key: String,
}

pub fn prepare(bin: &str) -> Prepared {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("ingot.sqlite").display());
    let data = dir.path().to_string_lossy().to_string();
    run(
        bin,
        &[
            "createadmin",
            "--database",
            &db,
            "--username",
            "admin",
            "--password",
            "pw",
        ],
    );
    let key = run(bin, &["apikey", "--database", &db, "--username", "admin"]);
    Prepared { dir, db, data, key }
}

/// `ingot serve` on the prepared database, on a random loopback port, answering `version/`;
/// the administrator's client keeps up to `pool` idle connections.
pub async fn serve(bin: &str, p: &Prepared, pool: usize) -> (Guard, Api) {
    let listen = format!("127.0.0.1:{}", 20000 + rand::random::<u16>() % 20000);
    let server = Guard(
        Command::new(bin)
            .args([
                "serve",
                "--database",
                &p.db,
                "--data-dir",
                &p.data,
                "--listen",
                &listen,
            ])
            .env("INGOT_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start ingot serve"),
    );
    let parts: Vec<String> = p.key.split(':').map(String::from).collect();
    let admin = Api {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(pool)
            .build()
            .expect("http client"),
        base: format!("http://{listen}"),
        key: (parts[0].clone(), parts[1].clone(), parts[2].clone()),
    };
    for _ in 0..100 {
        if admin.get("/MAAS/api/2.0/version/").await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    (server, admin)
}
