//! Juju's MAAS client library against `ingot serve`: the Go program in `juju_gomaasapi/`
//! (built by `scripts/peers/gomaasapi.sh` with Debian's golang-go and gomaasapi 2.0, offline)
//! does what Juju's MAAS provider does — connect, read the model, list machines with their
//! links, allocate with constraints, deploy with user data while it plays the machine's part,
//! release, files, devices — and prints `PASS name` or `FAIL name: why` per check.
//!
//! [`NOT_YET`] names the checks that need handlers Ingot does not have yet (issue 14's
//! remaining work). The test fails when any other check fails, and also when one of those
//! starts passing, so the list shrinks as the handlers land and never hides a regression.

mod common;
use common::Server;
use std::collections::BTreeSet;

/// Checks that fail today, and why.
const NOT_YET: &[(&str, &str)] = &[
    (
        "[zone-node] Machine.CreateDevice (with subnet)",
        "no devices/ handler",
    ),
    (
        "[zone-node] Controller.CreateDevice (no subnet)",
        "no devices/ handler",
    ),
    (
        "[zone-node] Device.CreateInterface + LinkSubnet",
        "no devices/ handler",
    ),
];

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
    let not_yet: BTreeSet<&str> = NOT_YET.iter().map(|(n, _)| *n).collect();
    let unexpected: Vec<&&str> = failed
        .iter()
        .filter(|l| !not_yet.iter().any(|n| l.starts_with(&format!("{n}:"))))
        .collect();
    let now_passing: Vec<&&str> = not_yet.iter().filter(|n| passed.contains(**n)).collect();
    assert!(
        passed.len() >= 38,
        "only {} checks passed:\n{stdout}\n{}",
        passed.len(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        unexpected.is_empty(),
        "gomaasapi checks failed: {unexpected:#?}\n\n{stdout}"
    );
    assert!(
        now_passing.is_empty(),
        "these now pass: take them off NOT_YET: {now_passing:?}"
    );
}
