//! The `ingot` client in the MAAS CLI style, with lines copied from the seeds.

mod common;
use common::{workload_machines, Server, BIN};
use serde_json::Value;
use std::process::Command;

struct Cli {
    cfg: tempfile::TempDir,
}

impl Cli {
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
    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "ingot {args:?}: {out}\n{err}");
        out
    }
    fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("ingot {args:?} printed no JSON ({e}): {out}"))
    }
}

#[tokio::test]
async fn maas_style_cli() {
    let s = Server::start(&[]).await;
    let cli = Cli {
        cfg: tempfile::tempdir().unwrap(),
    };
    let url = format!("{}/MAAS", s.base);
    let out = cli.ok(&["login", "admin", &url, &s.key]);
    assert!(out.contains("logged in"), "{out}");
    // A wrong key is refused at login.
    let (code, _, err) = cli.run(&["login", "bad", &url, "a:b:c"]);
    assert_ne!(code, 0);
    assert!(err.contains("not accepted"), "{err}");

    // Seed: maas $profile machines create deployed=true hostname=mymachine architecture=amd64 mac_addresses=00:16:3e:df:35:bb power_type=manual
    let m = cli.json(&[
        "admin",
        "machines",
        "create",
        "deployed=true",
        "hostname=mymachine",
        "architecture=amd64",
        "mac_addresses=00:16:3e:df:35:bb",
        "power_type=manual",
    ]);
    assert_eq!(m["status_name"], "Deployed");
    let sid = m["system_id"].as_str().unwrap().to_string();
    // Seed: maas $profile machine get-token wxwwga
    let t = cli.json(&["admin", "machine", "get-token", &sid]);
    for k in ["token_key", "token_secret", "consumer_key"] {
        assert!(t[k].as_str().is_some_and(|v| !v.is_empty()), "{t}");
    }
    // The owner regenerates them: new ones, and get-token gives the new ones.
    let r = cli.json(&["admin", "machine", "regenerate-token", &sid]);
    assert_ne!(r["token_key"], t["token_key"]);
    assert_eq!(
        cli.json(&["admin", "machine", "get-token", &sid])["token_key"],
        r["token_key"]
    );
    // The examples.
    let m = cli.json(&[
        "admin",
        "machines",
        "create",
        "hostname=h",
        "architecture=amd64",
        "mac_addresses=52:54:00:00:aa:01",
        "power_type=manual",
    ]);
    assert_eq!(m["status_name"], "Commissioning");
    let list = cli.json(&["admin", "machines", "read"]);
    assert_eq!(workload_machines(&list).len(), 2);
    let list = cli.json(&["admin", "machines", "read", "hostname=h"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    // Make it READY by playing the machine, then deploy it from the CLI.
    let h = list[0]["system_id"].as_str().unwrap().to_string();
    s.client().commission_ok(&h).await;
    s.client()
        .upload_image("custom/jammy", b"a root file system")
        .await;
    let d = cli.json(&["admin", "machine", "deploy", &h, "distro_series=jammy"]);
    assert_eq!(d["status_name"], "Deploying");
    let st = cli.json(&["admin", "machine", "query-power-state", &h]);
    assert_eq!(st["state"], "unknown");
    // Errors: status and message, non-zero exit.
    let (code, _, err) = cli.run(&["admin", "machine", "lock", "nosuch"]);
    assert_ne!(code, 0);
    assert!(err.contains("404"), "{err}");
    let (code, _, err) = cli.run(&["admin", "machine", "commission", &sid]);
    assert_ne!(code, 0);
    assert!(err.contains("409") && err.contains("Deployed"), "{err}");
    // Help everywhere.
    for args in [
        vec!["admin", "--help"],
        vec!["admin", "machines", "--help"],
        vec!["admin", "machine", "deploy", "--help"],
        vec!["--help"],
        vec!["serve", "--help"],
    ] {
        let (code, out, err) = cli.run(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(!out.trim().is_empty() || !err.trim().is_empty());
    }
    assert!(cli.ok(&["list"]).contains("admin"));
    cli.ok(&["logout", "admin"]);
    assert!(!cli.ok(&["list"]).contains("admin"));
}

#[tokio::test]
async fn admin_commands_work_while_the_server_runs() {
    let s = Server::start(&[]).await;
    let run = |args: &[&str]| {
        let out = Command::new(BIN).args(args).output().expect("run ingot");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    run(&[
        "createadmin",
        "--database",
        &s.db,
        "--username",
        "ops",
        "--password",
        "pw2",
        "--email",
        "ops@example.com",
    ]);
    let k1 = run(&["apikey", "--database", &s.db, "--username", "ops"]);
    let k2 = run(&[
        "apikey",
        "--database",
        &s.db,
        "--username",
        "ops",
        "--generate",
    ]);
    assert_ne!(k1, k2, "--generate makes a new key");
    assert_eq!(
        run(&["apikey", "--database", &s.db, "--username", "ops"]),
        k1,
        "without --generate the first key is printed"
    );
    for k in [&k1, &k2] {
        assert_eq!(k.split(':').count(), 3, "{k}");
        let me = common::Client::new(&s.base, k)
            .get("/MAAS/api/2.0/users/?op=whoami")
            .await
            .ok()
            .json();
        assert_eq!(me["username"], "ops");
        assert_eq!(me["is_superuser"], true);
    }
    let out = Command::new(BIN)
        .args(["apikey", "--database", &s.db, "--username", "nobody"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody"));
}

/// The README's commissioning lines: upload a script from a file (`script@=`), commission with
/// it, read the results and reserve an address, all through the CLI.
#[tokio::test]
async fn commissioning_commands_from_the_readme() {
    let s = Server::start(&[]).await;
    let cli = Cli {
        cfg: tempfile::tempdir().unwrap(),
    };
    cli.ok(&["login", "admin", &format!("{}/MAAS", s.base), &s.key]);
    let f = cli.cfg.path().join("check-raid.sh");
    std::fs::write(&f, "#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# script_type: commissioning\n# timeout: 30\n# --- End MAAS 1.0 script metadata ---\necho raid ok\n").unwrap();
    let sc = cli.json(&[
        "admin",
        "node-scripts",
        "create",
        "name=check-raid",
        &format!("script@={}", f.display()),
    ]);
    assert_eq!(sc["name"], "check-raid");
    assert_eq!(sc["type_name"], "commissioning");
    let m = cli.json(&[
        "admin",
        "machines",
        "create",
        "hostname=cli1",
        "architecture=amd64",
        "mac_addresses=52:54:00:cc:11:01",
        "power_type=manual",
        "commission=false",
    ]);
    let sid = m["system_id"].as_str().unwrap().to_string();
    let m = cli.json(&[
        "admin",
        "machine",
        "commission",
        &sid,
        "commissioning_scripts=check-raid",
        "testing_scripts=none",
    ]);
    assert_eq!(m["status_name"], "Commissioning");
    let sets = cli.json(&[
        "admin",
        "node-script-results",
        "read",
        &sid,
        "include_output=true",
    ]);
    let names: Vec<&str> = sets[0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(names.contains(&"check-raid"), "{names:?}");
    cli.ok(&[
        "admin",
        "subnets",
        "create",
        "cidr=10.0.0.0/24",
        "gateway_ip=10.0.0.1",
    ]);
    let ip = cli.json(&[
        "admin",
        "ipaddresses",
        "reserve",
        "subnet=10.0.0.0/24",
        "mac=52:54:00:12:34:56",
    ]);
    assert_eq!(ip["ip"], "10.0.0.2");
}

/// The README's deployment lines, through the CLI: upload an image file (`content@=`), set a
/// storage layout, make a bond, link a STATIC address, allocate, deploy with user-data, and set
/// the admission limit; then the agent's configuration carries all of it.
#[tokio::test]
async fn deploy_commands_from_the_readme() {
    let s = Server::start(&[]).await;
    let c = s.client();
    let cli = Cli {
        cfg: tempfile::tempdir().unwrap(),
    };
    cli.ok(&["login", "admin", &format!("{}/MAAS", s.base), &s.key]);
    let img = cli.cfg.path().join("ingot-test-os.tgz");
    std::fs::write(&img, b"a root file system tarball").unwrap();
    let r = cli.json(&[
        "admin",
        "boot-resources",
        "create",
        "name=custom/ingot-test",
        "architecture=amd64/generic",
        "filetype=tgz",
        &format!("content@={}", img.display()),
    ]);
    assert_eq!(r["name"], "custom/ingot-test", "{r:#}");
    let sid = c
        .ready_machine(
            "clideploy",
            "52:54:00:cc:22:01",
            &[("mac_addresses", "52:54:00:cc:22:02")],
        )
        .await;
    let m = cli.json(&[
        "admin",
        "machine",
        "set-storage-layout",
        &sid,
        "storage_layout=lvm",
    ]);
    assert_eq!(m["system_id"], sid.as_str());
    let ifaces: Vec<String> = c.machine(&sid).await["interface_set"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].to_string())
        .collect();
    let bond = cli.json(&[
        "admin",
        "interfaces",
        "create-bond",
        &sid,
        "name=bond0",
        &format!("parents={}", ifaces[0]),
        &format!("parents={}", ifaces[1]),
        "bond_mode=802.3ad",
    ]);
    assert_eq!(bond["type"], "bond");
    cli.ok(&[
        "admin",
        "subnets",
        "create",
        "cidr=10.0.0.0/24",
        "gateway_ip=10.0.0.1",
    ]);
    let l = cli.json(&[
        "admin",
        "interface",
        "link-subnet",
        &sid,
        &bond["id"].to_string(),
        "mode=STATIC",
        "subnet=10.0.0.0/24",
        "ip_address=10.0.0.42",
    ]);
    assert_eq!(l["links"][0]["ip_address"], "10.0.0.42");
    cli.ok(&[
        "admin",
        "maas",
        "set-config",
        "name=max_concurrent_deployments",
        "value=10",
    ]);
    cli.ok(&["admin", "machines", "allocate", &format!("system_id={sid}")]);
    let m = cli.json(&[
        "admin",
        "machine",
        "deploy",
        &sid,
        "distro_series=custom/ingot-test",
        "user_data=IyEvYmluL3NoCmVjaG8gaGkK",
    ]);
    assert_eq!(m["status_name"], "Deploying");
    let cfg = c
        .with_token(&c.token(&sid).await)
        .get("/MAAS/metadata/latest/deploy-config")
        .await
        .ok()
        .json();
    let net: Value = serde_json::from_str(cfg["network_config"].as_str().unwrap()).unwrap();
    assert_eq!(
        net["bonds"]["bond0"]["addresses"][0], "10.0.0.42/24",
        "{net:#}"
    );
    assert_eq!(net["bonds"]["bond0"]["parameters"]["mode"], "802.3ad");
    assert_eq!(
        net["bonds"]["bond0"]["interfaces"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let kinds: Vec<&str> = cfg["storage"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["type"].as_str())
        .collect();
    assert!(
        kinds.contains(&"volume_group") && kinds.contains(&"logical_volume"),
        "{kinds:?}"
    );
    assert_eq!(cfg["user_data"], "IyEvYmluL3NoCmVjaG8gaGkK");
    c.report_deployed(&sid).await;
    let m = cli.json(&[
        "admin",
        "machine",
        "release",
        &sid,
        "erase=true",
        "quick_erase=true",
    ]);
    assert_eq!(m["status_name"], "Disk erasing");
    // The bond went with the release, and its STATIC address with it.
    let m = c.machine(&sid).await;
    assert_eq!(m["interface_set"].as_array().unwrap().len(), 2, "{m:#}");
    let ips = c
        .get("/MAAS/api/2.0/ipaddresses/?all=true")
        .await
        .ok()
        .json();
    assert!(!ips.to_string().contains("10.0.0.42"), "{ips:#}");
}
