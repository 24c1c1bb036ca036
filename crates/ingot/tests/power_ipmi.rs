//! The life-cycle through the real binary against a real IPMI BMC simulator (OpenIPMI's
//! `ipmi_sim`): commissioning boots the machine from the network, release switches it off and
//! completes when the BMC reports off. The simulator's own power and boot files are asserted.

mod common;
use common::{mac, Server};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

struct IpmiSim {
    work: tempfile::TempDir,
    port: u16,
}

impl IpmiSim {
    fn start() -> Option<IpmiSim> {
        let shared = std::env::var("INGOT_SHARED_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").into());
        let script = PathBuf::from(&shared).join("peers/ipmi-sim.sh");
        let have = Command::new("sh")
            .arg("-c")
            .arg("command -v ipmi_sim")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !have || !script.exists() {
            assert!(
                std::env::var("CI").is_err(),
                "CI must install ipmi_sim (scripts/peers/ipmi.sh) and provide the shared peers"
            );
            eprintln!("ipmi_sim or {} missing: skipping", script.display());
            return None;
        }
        let work = tempfile::tempdir().ok()?;
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let st = Command::new("bash")
            .arg(&script)
            .env("BG", "1")
            .env("WORK", work.path())
            .env("PORT", port.to_string())
            .status()
            .ok()?;
        assert!(st.success(), "ipmi-sim.sh failed");
        Some(IpmiSim { work, port })
    }
    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.work.path().join(name))
            .unwrap_or_default()
            .trim()
            .to_string()
    }
}

impl Drop for IpmiSim {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.work.path().join("ipmi_sim.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..150 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn life_cycle_against_ipmi_sim() {
    let Some(sim) = IpmiSim::start() else { return };
    let s = Server::start(&["--power-retry-secs", "5", "--power-poll-interval", "3600"]).await;
    let c = s.client();
    let params = format!(
        r#"{{"power_address": "127.0.0.1:{}", "power_user": "admin", "power_pass": "password"}}"#,
        sim.port
    );
    let m = c
        .post(
            "/MAAS/api/2.0/machines/",
            &[
                ("hostname", "ipmi1"),
                ("architecture", "amd64"),
                ("mac_addresses", &mac(70)),
                ("power_type", "ipmi"),
                ("power_parameters", &params),
            ],
        )
        .await
        .ok()
        .json();
    let sid = m["system_id"].as_str().unwrap().to_string();
    assert_eq!(m["status_name"], "Commissioning");
    // Commissioning: boot device PXE, then powered on, seen by the simulator itself.
    wait_for("ipmi_sim powered on", || sim.file("power") == "1").await;
    assert_eq!(
        sim.file("boot"),
        "pxe",
        "PXE boot requested before power-on"
    );
    let m = c
        .wait_machine(&sid, "power_state on", |m| m["power_state"] == "on")
        .await;
    assert_eq!(m["power_state"], "on");
    c.commission_ok(&sid).await;
    assert_eq!(c.machine(&sid).await["status_name"], "Ready");
    // The live query goes to the BMC.
    let st = c
        .get(&format!(
            "/MAAS/api/2.0/machines/{sid}/?op=query_power_state"
        ))
        .await
        .ok()
        .json();
    assert_eq!(st["state"], "on");
    // Allocate, release: RELEASING until the BMC is off, then READY.
    c.post(
        "/MAAS/api/2.0/machines/?op=allocate",
        &[("system_id", &sid)],
    )
    .await
    .ok();
    let r = c.op(&sid, "release", &[]).await.ok().json();
    assert_eq!(r["status_name"], "Releasing");
    wait_for("ipmi_sim powered off", || sim.file("power") == "0").await;
    let m = c
        .wait_machine(&sid, "status_name Ready", |m| m["status_name"] == "Ready")
        .await;
    assert_eq!(m["status_name"], "Ready");
    assert_eq!(m["power_state"], "off");
    // power_on (ensure on), then a soft power-off through the BMC (ACPI).
    c.post(
        "/MAAS/api/2.0/machines/?op=allocate",
        &[("system_id", &sid)],
    )
    .await
    .ok();
    c.op(&sid, "power_on", &[]).await.ok();
    wait_for("power_on", || sim.file("power") == "1").await;
    c.op(&sid, "power_off", &[("stop_mode", "sideways")])
        .await
        .expect(400);
    c.op(&sid, "power_off", &[("stop_mode", "soft")]).await.ok();
    wait_for("soft power-off", || sim.file("power") == "0").await;
    assert!(
        std::fs::read_to_string(sim.work.path().join("chassis.log"))
            .unwrap_or_default()
            .contains("shutdown"),
        "soft off is an ACPI shutdown, not a power cut"
    );
    c.op(&sid, "release", &[]).await.ok();
    c.wait_machine(&sid, "released", |m| m["status_name"] == "Ready")
        .await;
    // Wrong password: the transition fails with the BMC's error.
    let bad = format!(
        r#"{{"power_address": "127.0.0.1:{}", "power_user": "admin", "power_pass": "nope"}}"#,
        sim.port
    );
    c.put(
        &format!("/MAAS/api/2.0/machines/{sid}/"),
        &[("power_parameters", &bad)],
    )
    .await
    .ok();
    c.op(&sid, "commission", &[]).await.ok();
    let m = c
        .wait_machine(&sid, "status_name Failed commissioning", |m| {
            m["status_name"] == "Failed commissioning"
        })
        .await;
    assert_eq!(
        m["status_name"], "Failed commissioning",
        "{}",
        m["error_description"]
    );
    assert!(
        m["error_description"]
            .as_str()
            .unwrap()
            .contains("credentials"),
        "{}",
        m["error_description"]
    );
}
