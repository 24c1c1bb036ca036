//! Runs the real `ingot-agent` binary against a fake sysfs and a one-shot HTTP listener.
//! (Having this integration test also makes `cargo test` build the binary, which the
//! ingot-images boot test then puts into the initramfs.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

fn fake_sysfs(root: &Path) {
    for (name, mac, physical) in [
        ("eth0", "52:54:00:AA:00:01", true),
        ("lo", "00:00:00:00:00:00", false),
        ("br0", "52:54:00:aa:00:09", false),
    ] {
        let d = root.join("class/net").join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("address"), format!("{mac}\n")).unwrap();
        if physical {
            let dev = root.join("devices").join(name);
            std::fs::create_dir_all(&dev).unwrap();
            std::os::unix::fs::symlink(&dev, d.join("device")).unwrap();
        }
    }
    let dmi = root.join("class/dmi/id");
    std::fs::create_dir_all(&dmi).unwrap();
    std::fs::write(
        dmi.join("product_uuid"),
        "11111111-2222-3333-4444-55555555AAAA\n",
    )
    .unwrap();
}

fn agent() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ingot-agent"))
}

#[test]
fn dry_run_prints_the_enlistment() {
    let t = tempfile::tempdir().unwrap();
    fake_sysfs(t.path());
    let out = agent()
        .args(["--no-poweroff", "--dry-run", "--sysfs-root"])
        .arg(t.path())
        .args([
            "--cmdline",
            "console=ttyS0 ingot.url=http://region:5240/MAAS ingot.purpose=enlist",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("POST http://region:5240/MAAS/api/2.0/machines/\n"),
        "{stdout}"
    );
    assert!(stdout.contains("mac_addresses=52%3A54%3A00%3Aaa%3A00%3A01&hardware_uuid=11111111-2222-3333-4444-55555555aaaa&commission=true"), "{stdout}");
}

#[test]
fn posts_the_enlistment() {
    let t = tempfile::tempdir().unwrap();
    fake_sysfs(t.path());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut head = Vec::new();
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
            head.push(line.trim_end().to_string());
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        let reply = r#"{"system_id":"x7y8z9"}"#;
        write!(s, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}", reply.len()).unwrap();
        (head, String::from_utf8(body).unwrap())
    });
    let out = agent()
        .args(["--no-poweroff", "--sysfs-root"])
        .arg(t.path())
        .arg("--cmdline")
        .arg(format!(
            "ingot.url=http://127.0.0.1:{port}/MAAS ingot.purpose=enlist"
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("enlisted"), "{stderr}");
    let (head, body) = server.join().unwrap();
    assert_eq!(head[0], "POST /MAAS/api/2.0/machines/ HTTP/1.1");
    assert!(
        head.iter()
            .any(|h| h.eq_ignore_ascii_case("content-type: application/x-www-form-urlencoded")),
        "{head:?}"
    );
    assert!(
        !head
            .iter()
            .any(|h| h.to_ascii_lowercase().starts_with("authorization")),
        "enlistment is anonymous"
    );
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    assert_eq!(
        body,
        format!("architecture={arch}&mac_addresses=52%3A54%3A00%3Aaa%3A00%3A01&hardware_uuid=11111111-2222-3333-4444-55555555aaaa&commission=true")
    );
}

#[test]
fn other_purposes_are_reported_unsupported() {
    let out = agent()
        .args([
            "--no-poweroff",
            "--cmdline",
            "ingot.url=http://127.0.0.1:1/MAAS ingot.purpose=frobnicate",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ingot.purpose=frobnicate is not supported")
    );
}

#[test]
fn deploy_needs_the_token() {
    let out = agent()
        .args([
            "--no-poweroff",
            "--cmdline",
            "ingot.url=http://127.0.0.1:1/MAAS ingot.purpose=deploy ingot.system_id=abc",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no ingot.token= on the kernel command line")
    );
}

#[test]
fn commissioning_needs_the_token() {
    let out = agent()
        .args([
            "--no-poweroff",
            "--cmdline",
            "ingot.url=http://127.0.0.1:1/MAAS ingot.purpose=commission ingot.system_id=abc",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no ingot.token="));
}

#[test]
fn missing_url_fails() {
    let t = tempfile::tempdir().unwrap();
    fake_sysfs(t.path());
    let out = agent()
        .args(["--no-poweroff", "--sysfs-root"])
        .arg(t.path())
        .args(["--cmdline", "ingot.purpose=enlist"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no ingot.url="));
}

/// Text between the console markers `ingot.purpose=resources` prints.
fn between_markers(stdout: &str) -> &str {
    let begin = "-----BEGIN INGOT RESOURCES-----\n";
    let start = stdout.find(begin).expect("begin marker") + begin.len();
    let end = stdout[start..]
        .find("\n-----END INGOT RESOURCES-----")
        .expect("end marker");
    &stdout[start..start + end]
}

#[test]
fn resources_subcommand_prints_and_writes_the_document() {
    let t = tempfile::tempdir().unwrap();
    fake_sysfs(t.path());
    let out = agent()
        .args(["resources", "--no-kernel-probes", "--sysfs-root"])
        .arg(t.path())
        .args([
            "--procfs-root",
            "/nonexistent",
            "--dev-root",
            "/nonexistent",
            "--root",
            "/nonexistent",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["api_version"], "1.0");
    assert_eq!(doc["environment"]["server"], "maas-machine-resources");
    assert_eq!(
        doc["resources"]["system"]["uuid"],
        "11111111-2222-3333-4444-55555555AAAA"
    );
    let cards = doc["resources"]["network"]["cards"].as_array().unwrap();
    assert_eq!(cards.len(), 1, "only eth0 has a device: {cards:?}");
    assert_eq!(cards[0]["ports"][0]["id"], "eth0");
    assert_eq!(cards[0]["ports"][0]["address"], "52:54:00:AA:00:01");
    assert_eq!(
        doc["networks"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["br0", "eth0", "lo"]
    );

    let file = t.path().join("out.json");
    let out = agent()
        .args(["resources", "--no-kernel-probes", "--sysfs-root"])
        .arg(t.path())
        .arg("--output")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written["resources"]["network"], doc["resources"]["network"]);
}

#[test]
fn purpose_resources_prints_the_document_between_markers() {
    let t = tempfile::tempdir().unwrap();
    fake_sysfs(t.path());
    let out = agent()
        .args(["--no-poweroff", "--no-kernel-probes", "--sysfs-root"])
        .arg(t.path())
        .args(["--cmdline", "console=ttyS0 ingot.purpose=resources"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let json = between_markers(&stdout);
    assert!(!json.contains('\n'), "one line");
    let doc: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(
        doc["resources"]["network"]["cards"][0]["ports"][0]["id"],
        "eth0"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("hardware inventory"));
}
