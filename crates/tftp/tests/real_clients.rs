//! Real TFTP clients (curl, tftp-hpa's tftp) fetching from the server on 127.0.0.1.
//! Skipped with a message when the client binary is not installed.

mod common;

use std::process::Command;

use common::*;
use ingot_tftp::TftpConfig;

fn have(bin: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

async fn run(cmd: &mut tokio::process::Command) -> std::process::Output {
    tokio::time::timeout(std::time::Duration::from_secs(60), cmd.output())
        .await
        .expect("client timed out")
        .expect("spawn client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_fetches_identical_bytes() {
    if !have("curl") {
        assert!(
            std::env::var("CI").is_err(),
            "CI must install the TFTP peers (scripts/peers/tftp.sh)"
        );
        eprintln!("SKIP: curl not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // 70,000 blocks of 512: curl needs the block number to roll over
    let body = content(512 * 70_000 + 17, 21);
    write_file(dir.path(), "boot.img", &body);
    let srv = serve_dir(dir.path(), TftpConfig::default()).await;
    for blk in [None, Some("1468")] {
        let out = dir.path().join("out.bin");
        let _ = std::fs::remove_file(&out);
        let mut cmd = tokio::process::Command::new("curl");
        cmd.args(["-s", "-S", "-m", "60", "-o"]).arg(&out);
        if let Some(b) = blk {
            cmd.args(["--tftp-blksize", b]);
        }
        cmd.arg(format!("tftp://{}/boot.img", srv.addr));
        let o = run(&mut cmd).await;
        assert!(
            o.status.success(),
            "curl {blk:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            std::fs::read(&out).unwrap() == body,
            "curl {blk:?}: content differs"
        );
    }
    // a refused path: curl fails, and writes nothing useful
    let o = run(tokio::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{size_download}"])
        .arg(format!("tftp://{}/../../etc/passwd", srv.addr)))
    .await;
    assert!(!o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tftp_hpa_client_fetches_identical_bytes() {
    if !have("tftp") {
        assert!(
            std::env::var("CI").is_err(),
            "CI must install the TFTP peers (scripts/peers/tftp.sh)"
        );
        eprintln!("SKIP: tftp-hpa client not installed (apt-get install -y tftp-hpa)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let body = content(3_000_000, 22);
    write_file(dir.path(), "ipxe.efi", &body);
    let srv = serve_dir(dir.path(), TftpConfig::default()).await;
    let out = dir.path().join("got.efi");
    // tftp-hpa's client speaks plain RFC 1350 (no options): lockstep, 512-byte blocks,
    // 5,860 blocks.
    let o = run(tokio::process::Command::new("tftp")
        .args([
            "-m",
            "binary",
            &srv.addr.ip().to_string(),
            &srv.addr.port().to_string(),
            "-c",
            "get",
            "ipxe.efi",
        ])
        .arg(&out))
    .await;
    let got = std::fs::read(&out).unwrap_or_default();
    assert!(
        got == body,
        "tftp: {} of {} bytes; stdout {} stderr {}",
        got.len(),
        body.len(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // refused traversal: tftp-hpa reports the server's error
    let o = run(tokio::process::Command::new("tftp")
        .args([
            "-m",
            "binary",
            &srv.addr.ip().to_string(),
            &srv.addr.port().to_string(),
            "-c",
            "get",
            "../../etc/passwd",
        ])
        .arg(dir.path().join("passwd")))
    .await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("Access violation"), "{text}");
    assert_eq!(
        std::fs::metadata(dir.path().join("passwd"))
            .map(|m| m.len())
            .unwrap_or(0),
        0
    );
}
