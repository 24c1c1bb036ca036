//! Juju's MAAS client library against `ingot serve`: the Go program in `juju_gomaasapi/`
//! (built by `scripts/peers/gomaasapi.sh` with Debian's golang-go and gomaasapi 2.0, offline)
//! does what Juju's MAAS provider does — connect, read the model, list machines with their
//! links, allocate with constraints, deploy with user data while it plays the machine's part,
//! release, files, devices — and prints `PASS name` or `FAIL name: why` per check.
//!
//! Every check must pass; the program exits non-zero when one fails.

mod common;
use common::Server;
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn juju_gomaasapi_drives_ingot_as_juju_does() {
    let Some(bin) = std::env::var_os("INGOT_GOMAASAPI_BIN") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must build the gomaasapi program (scripts/peers/gomaasapi.sh)"
        );
        eprintln!("skipped: INGOT_GOMAASAPI_BIN is not set (scripts/peers/gomaasapi.sh)");
        return;
    };
    let s = Server::start(&[]).await;
    let url = format!("{}/MAAS/", s.base);
    let out = tokio::process::Command::new(&bin)
        .args(["-url", &url, "-key", &s.key])
        .output()
        .await
        .expect("run the gomaasapi program");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let passed: BTreeSet<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("PASS "))
        .collect();
    let failed: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("FAIL "))
        .collect();
    assert!(
        failed.is_empty() && out.status.success(),
        "gomaasapi checks failed: {failed:#?}\n\n{stdout}"
    );
    assert!(
        passed.len() >= 42,
        "only {} checks passed:\n{stdout}\n{}",
        passed.len(),
        String::from_utf8_lossy(&out.stderr)
    );
}
