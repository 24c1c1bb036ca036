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
