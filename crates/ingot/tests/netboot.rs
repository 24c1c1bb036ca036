//! Network boot end to end, inside network namespaces these tests create: `ingot serve` with its
//! rack services on a bridge in a "lab" namespace, clients on that bridge (a veth from a client
//! namespace, or a QEMU VM's tap). The test reaches the region's API through its own veth into
//! the lab. Nothing leaves the namespaces.

mod common;
use common::netns::have;
use common::{ok, sh, Proc};
use common::{Client, BIN};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;

/// TCG for the VMs with more than one vCPU: one host thread runs them all. With a thread per
/// vCPU (MTTCG, QEMU's default) on a loaded 2-core host, Debian's kernel livelocked in CI: one
/// vCPU looped on the int3 that live text patching (a static key flipped when the entropy pool
/// became ready) had already removed, while the others reported soft lockups for ten minutes.
const TCG_SMP: &str = "tcg,thread=single";

fn in_ns(ns: &str, cmd: &[&str]) -> std::process::Output {
    let mut args = vec!["ip", "netns", "exec", ns];
    args.extend_from_slice(cmd);
    sh(&args)
}

/// A lab: namespace `lab` with bridge br0 (10.77.0.1/24, the boot network), a client namespace,
/// and a veth from the test's namespace into the lab (10.79.N.{4·slot+2} → {4·slot+1}, N random) for the
/// API. Everything is removed on drop.
struct Lab {
    lab: String,
    cli: String,
    host_if: String,
    api_ip: String,
    /// The test's end of the API veth: servers the test runs for the region listen here.
    host_ip: String,
    dir: tempfile::TempDir,
    db: String,
    server: Option<Proc>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.server.take();
        let _ = sh(&["ip", "netns", "del", &self.lab]);
        let _ = sh(&["ip", "netns", "del", &self.cli]);
        let _ = sh(&["ip", "link", "del", &self.host_if]);
    }
}

impl Lab {
    fn new(slot: u8) -> Lab {
        let id = format!("{:05}", rand::random::<u32>() % 100_000);
        let (l, c) = (format!("inl{id}"), format!("inc{id}"));
        let (host_if, lab_if) = (format!("ih{id}"), format!("il{id}"));
        // The host side of the lab link: a /30 per slot inside a /24 picked at random, so that
        // two suites running at once on one host do not reach each other's regions.
        let net = rand::random::<u8>();
        let (api_ip, host_ip) = (
            format!("10.79.{net}.{}", 4 * slot + 1),
            format!("10.79.{net}.{}", 4 * slot + 2),
        );
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.path().join("ingot.sqlite").display());
        let lab = Lab {
            lab: l.clone(),
            cli: c.clone(),
            host_if: host_if.clone(),
            api_ip: api_ip.clone(),
            host_ip: host_ip.clone(),
            dir,
            db,
            server: None,
        };
        ok(&["ip", "netns", "add", &l]);
        ok(&["ip", "netns", "add", &c]);
        ok(&["ip", "-n", &l, "link", "set", "lo", "up"]);
        ok(&["ip", "-n", &c, "link", "set", "lo", "up"]);
        ok(&["ip", "-n", &l, "link", "add", "br0", "type", "bridge"]);
        ok(&["ip", "-n", &l, "addr", "add", "10.77.0.1/24", "dev", "br0"]);
        ok(&["ip", "-n", &l, "link", "set", "br0", "up"]);
        ok(&[
            "ip", "link", "add", &host_if, "type", "veth", "peer", "name", &lab_if, "netns", &l,
        ]);
        ok(&[
            "ip",
            "addr",
            "add",
            &format!("{host_ip}/30"),
            "dev",
            &host_if,
        ]);
        ok(&["ip", "link", "set", &host_if, "up"]);
        ok(&[
            "ip",
            "-n",
            &l,
            "addr",
            "add",
            &format!("{api_ip}/30"),
            "dev",
            &lab_if,
        ]);
        ok(&["ip", "-n", &l, "link", "set", &lab_if, "up"]);
        lab
    }

    /// A veth from the client namespace into the bridge, with this MAC.
    fn add_client(&self, mac: &str) {
        ok(&[
            "ip", "-n", &self.lab, "link", "add", "vsrv", "type", "veth", "peer", "name", "vcli",
            "netns", &self.cli,
        ]);
        ok(&[
            "ip", "-n", &self.lab, "link", "set", "vsrv", "master", "br0",
        ]);
        ok(&["ip", "-n", &self.lab, "link", "set", "vsrv", "up"]);
        ok(&["ip", "-n", &self.cli, "link", "set", "vcli", "address", mac]);
        ok(&["ip", "-n", &self.cli, "link", "set", "vcli", "up"]);
    }

    /// A tap on the bridge for a VM.
    fn add_tap(&self, name: &str) {
        ok(&[
            "ip", "-n", &self.lab, "tuntap", "add", "dev", name, "mode", "tap",
        ]);
        ok(&["ip", "-n", &self.lab, "link", "set", name, "master", "br0"]);
        ok(&["ip", "-n", &self.lab, "link", "set", name, "up"]);
    }

    fn data(&self) -> String {
        self.dir.path().to_string_lossy().to_string()
    }

    /// Start the region with its rack services on br0, DHCP on for 10.77.0.0/24.
    async fn start_region(&mut self) -> Client {
        self.start_region_serving(false).await
    }

    /// As `start_region`, with `tls` the region serving HTTPS on 5443 (a self-signed
    /// certificate made by openssl, pinned by its rack) and plain HTTP for machines on 5240.
    async fn start_region_serving(&mut self, tls: bool) -> Client {
        ok(&[
            BIN,
            "createadmin",
            "--database",
            &self.db,
            "--username",
            "admin",
            "--password",
            "pw",
        ]);
        let key = ok(&[BIN, "apikey", "--database", &self.db, "--username", "admin"])
            .trim()
            .to_string();
        let data = self.data();
        let listen: Vec<String> = if tls {
            let (cert, key) = (format!("{data}/region.pem"), format!("{data}/region.key"));
            ok(&[
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &cert,
                "-days",
                "2",
                "-subj",
                "/CN=ingot-lab",
                "-addext",
                "subjectAltName=IP:10.77.0.1",
            ]);
            [
                "--listen",
                "0.0.0.0:5443",
                "--tls-cert",
                &cert,
                "--tls-key",
                &key,
            ]
            .iter()
            .chain(&["--http-listen", "0.0.0.0:5240"])
            .map(|a| a.to_string())
            .collect()
        } else {
            vec!["--listen".into(), "0.0.0.0:5240".into()]
        };
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.lab,
                BIN,
                "serve",
                "--database",
                &self.db,
                "--data-dir",
                &data,
            ])
            .args(&listen)
            .args([
                "--rack-address",
                "10.77.0.1",
                "--rack-interface",
                "br0",
                "--rack-poll-secs",
                "1",
            ])
            .env("INGOT_LOG", "info")
            .env("INGOT_AGENT_BINARY", common::host::agent_path())
            .stdout(Stdio::null())
            .spawn()
            .expect("start ingot serve in the lab namespace");
        self.server = Some(Proc(child));
        let base = match tls {
            true => format!("https://{}:5443", self.api_ip),
            false => format!("http://{}:5240", self.api_ip),
        };
        let mut api = Client::new(&base, &key);
        if tls {
            // The test's own client: the lab's certificate names the boot network only.
            api.http = reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .no_proxy()
                .danger_accept_invalid_certs(true)
                .build()
                .expect("client");
        }
        let mut up = false;
        for _ in 0..100 {
            if api
                .http
                .get(format!("{base}/MAAS/api/2.0/version/"))
                .send()
                .await
                .is_ok()
            {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(up, "ingot serve did not come up in the lab namespace");
        api.post(
            "/MAAS/api/2.0/subnets/",
            &[
                ("cidr", "10.77.0.0/24"),
                ("gateway_ip", "10.77.0.1"),
                ("dns_servers", "10.77.0.1"),
            ],
        )
        .await
        .ok();
        api.post(
            "/MAAS/api/2.0/ipranges/",
            &[
                ("type", "dynamic"),
                ("start_ip", "10.77.0.100"),
                ("end_ip", "10.77.0.150"),
            ],
        )
        .await
        .ok();
        api.put("/MAAS/api/2.0/fabrics/0/vlans/0/", &[("dhcp_on", "true")])
            .await
            .ok();
        tokio::time::sleep(Duration::from_secs(2)).await; // the rack picks the configuration up
        api
    }
}

/// The MAC's netboot hops as "hop detail" lines, oldest first.
async fn hops(api: &Client, mac: &str) -> Vec<String> {
    let tl = api
        .get(&format!("/MAAS/api/2.0/netboot-timeline/?mac={mac}"))
        .await
        .ok()
        .json();
    tl.as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    format!(
                        "{} {}",
                        e["hop"].as_str().unwrap_or(""),
                        e["detail"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn tools_present() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    root && have("ip") && have("udhcpc") && have("curl")
}

/// The address busybox udhcpc leases on `vcli` in namespace `ns` (asking as a BIOS PXE ROM,
/// option 93 = 0), or "" after 10 tries.
async fn udhcpc_lease(ns: &str) -> String {
    for _ in 0..10 {
        let o = in_ns(
            ns,
            &[
                "udhcpc",
                "-i",
                "vcli",
                "-n",
                "-q",
                "-f",
                "-t",
                "3",
                "-T",
                "1",
                "-s",
                "/bin/true",
                "-x",
                "0x5d:0000",
                "-O",
                "bootfile",
                "-O",
                "tftp",
            ],
        );
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        if let Some(ip) = text.split_whitespace().skip_while(|w| *w != "lease").nth(2) {
            return ip.to_string();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    String::new()
}

/// A host reservation made through `ipaddresses/?op=reserve` with a MAC is what Ingot's DHCP
/// hands that MAC (a real udhcpc asks); released, the MAC gets a dynamic address again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_address_is_what_dhcp_hands_out() {
    if !tools_present() {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run as root with ip, udhcpc and curl"
        );
        eprintln!("SKIP: needs root, ip, udhcpc and curl");
        return;
    }
    let mac = "52:54:00:77:aa:02";
    let mut lab = Lab::new(2);
    lab.add_client(mac);
    let api = lab.start_region().await;
    let c = lab.cli.clone();
    let dynamic = udhcpc_lease(&c).await;
    assert!(
        dynamic.starts_with("10.77.0.1"),
        "dynamic lease first, got '{dynamic}'"
    );
    // Inside the dynamic range: refused with the reason.
    let bad = api
        .post(
            "/MAAS/api/2.0/ipaddresses/",
            &[("op", "reserve"), ("ip", "10.77.0.120"), ("mac", mac)],
        )
        .await
        .expect(400);
    assert!(bad.body.contains("dynamic range"), "{}", bad.body);
    let r = api
        .post(
            "/MAAS/api/2.0/ipaddresses/",
            &[
                ("op", "reserve"),
                ("subnet", "10.77.0.0/24"),
                ("mac", mac),
                ("hostname", "pinned"),
            ],
        )
        .await
        .ok()
        .json();
    let ip = r["ip"].as_str().unwrap().to_string();
    assert_eq!(
        ip, "10.77.0.2",
        "lowest free address outside ranges, gateway skipped: {r}"
    );
    let mut got = String::new();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(1200)).await; // the rack polls every second
        got = udhcpc_lease(&c).await;
        if got == ip {
            break;
        }
    }
    assert_eq!(got, ip, "DHCP must hand the reserved address to {mac}");
    api.post(
        "/MAAS/api/2.0/ipaddresses/",
        &[("op", "release"), ("ip", &ip)],
    )
    .await
    .expect(204);
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        got = udhcpc_lease(&c).await;
        if got != ip {
            break;
        }
    }
    assert!(
        got.starts_with("10.77.0.1") && got != ip,
        "after release: '{got}'"
    );
}

/// A real DHCP client (busybox udhcpc) gets its lease from Ingot's DHCP with the PXE next hop,
/// curl fetches the iPXE loader over Ingot's TFTP and the iPXE script over HTTP, and the MAC's
/// netboot timeline shows each hop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dhcp_tftp_http_hops_through_the_rack() {
    if !tools_present() {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run as root with iproute2, busybox (udhcpc) and curl (scripts/peers/tftp.sh)"
        );
        eprintln!("SKIP: needs root, ip, udhcpc and curl");
        return;
    }
    let mac = "52:54:00:77:aa:01";
    let mut lab = Lab::new(0);
    lab.add_client(mac);
    let api = lab.start_region().await;
    let c = lab.cli.clone();
    // Asking as a BIOS PXE ROM would (option 93 = 0).
    let lease = udhcpc_lease(&c).await;
    assert!(
        lease.starts_with("10.77.0.1"),
        "no lease from Ingot's DHCP (got '{lease}')"
    );
    // TFTP: the iPXE loader the DHCP answer names.
    ok(&[
        "ip",
        "-n",
        &c,
        "addr",
        "add",
        &format!("{lease}/24"),
        "dev",
        "vcli",
    ]);
    let out = lab.dir.path().join("undionly.kpxe");
    let o = in_ns(
        &c,
        &[
            "curl",
            "-s",
            "--max-time",
            "20",
            "-o",
            out.to_str().unwrap(),
            "tftp://10.77.0.1/undionly.kpxe",
        ],
    );
    assert!(
        o.status.success(),
        "TFTP fetch failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read("/usr/lib/ipxe/undionly.kpxe").unwrap(),
        "the loader served is Debian's"
    );
    // HTTP: the iPXE script for this MAC (no ephemeral image has been built in this test).
    let o = in_ns(
        &c,
        &[
            "curl",
            "-s",
            "--max-time",
            "10",
            &format!("http://10.77.0.1:5240/MAAS/boot/ipxe?mac={mac}"),
        ],
    );
    let script = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(script.starts_with("#!ipxe"), "{script}");
    // The timeline: DHCP, TFTP and HTTP hops for the client's MAC.
    let mut seen = Vec::new();
    for _ in 0..30 {
        seen = hops(&api, mac).await;
        if ["dhcp", "tftp", "http"]
            .iter()
            .all(|h| seen.iter().any(|x| x.starts_with(h)))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for h in ["dhcp", "tftp", "http"] {
        assert!(
            seen.iter().any(|x| x.starts_with(h)),
            "no {h} hop in {seen:#?}"
        );
    }
    assert!(
        seen.iter().any(|x| x.contains("undionly.kpxe")),
        "{seen:#?}"
    );
    // The all-in-one rack registered itself with its boot-network address.
    let racks = api.get("/MAAS/api/2.0/rackcontrollers/").await.ok().json();
    assert_eq!(racks.as_array().map(Vec::len), Some(1), "{racks:#}");
    assert_eq!(racks[0]["ip_addresses"], serde_json::json!(["10.77.0.1"]));
}

/// A lab with a tap for a VM, Ingot's ephemeral image built into it and QEMU's path — or None
/// (the test skips) when root, iproute2, udhcpc, curl, QEMU, ipxe-qemu or the `extra` files are
/// missing; in CI that is a failure instead.
fn vm_lab(slot: u8, extra: &[&str]) -> Option<(Lab, String)> {
    let qemu = std::env::var("INGOT_QEMU").unwrap_or_else(|_| "/usr/bin/qemu-system-x86_64".into());
    let have_files = ["/usr/lib/ipxe/qemu/efi-virtio.rom"]
        .iter()
        .chain(extra)
        .all(|f| std::path::Path::new(f).exists());
    if !tools_present() || !std::path::Path::new(&qemu).exists() || !have_files {
        assert!(
            std::env::var("CI").is_err(),
            "CI must provide root, ip, udhcpc, curl, QEMU, ipxe-qemu and ovmf (scripts/peers/*.sh)"
        );
        eprintln!("SKIP: needs root, ip, QEMU, ipxe-qemu and {extra:?}");
        return None;
    }
    let lab = Lab::new(slot);
    lab.add_tap("tap0");
    let agent = common::host::agent_binary();
    let t = std::time::Instant::now();
    ok(&[
        BIN,
        "images",
        "build",
        "--data-dir",
        &lab.data(),
        "--agent",
        agent.to_str().unwrap(),
    ]);
    eprintln!("image built in {:?}", t.elapsed());
    Some((lab, qemu))
}

/// The hardware of the enlistment VM, chosen at random on every run as a new user's lab would
/// be (2-3 vCPUs, 1-3 disks with serials, 1-2 NICs, SMBIOS serial and UUID): QEMU arguments
/// and what the machine must show.
struct EnlistHw {
    cpus: u64,
    macs: Vec<String>,
    disks: Vec<(String, u64)>,
    uuid: String,
    serial: String,
    args: Vec<String>,
}

fn enlist_hardware(dir: &std::path::Path) -> EnlistHw {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let cpus = 2 + seed % 2;
    let n_disks = 1 + (seed / 2) % 3;
    let n_nics = 1 + (seed / 6) % 2;
    let uuid = format!("6a1f3c2e-8d4b-4e5f-9a7b-{:012x}", seed & 0xffff_ffff_ffff);
    let serial = format!("SN-ENL-{}", seed % 100_000);
    let macs: Vec<String> = (1..=n_nics)
        .map(|i| format!("52:54:00:77:bb:0{i}"))
        .collect();
    eprintln!("enlistment VM: {cpus} vCPUs, {n_disks} disks, {n_nics} NICs, uuid {uuid}");
    let mut args: Vec<String> = vec!["-smp".into(), cpus.to_string()];
    args.extend([
        "-netdev".into(),
        "tap,id=n0,ifname=tap0,script=no,downscript=no".into(),
        "-device".into(),
        format!("virtio-net-pci,netdev=n0,mac={},bootindex=1", macs[0]),
    ]);
    for m in &macs[1..] {
        // No cable (no backend), no boot ROM.
        args.extend(["-device".into(), format!("virtio-net-pci,mac={m},romfile=")]);
    }
    let mut disks = Vec::new();
    for i in 0..n_disks {
        let size = (i + 1) << 30;
        let f = dir.join(format!("enl{i}.raw"));
        std::fs::File::create(&f).unwrap().set_len(size).unwrap();
        let serial = format!("INGOT-ENL-D{i}");
        args.extend([
            "-drive".into(),
            format!("file={},if=none,id=d{i},format=raw", f.display()),
            "-device".into(),
            format!("virtio-blk-pci,drive=d{i},serial={serial}"),
        ]);
        disks.push((serial, size));
    }
    args.extend([
        "-smbios".into(),
        format!("type=1,uuid={uuid},serial={serial}"),
    ]);
    EnlistHw {
        cpus,
        macs,
        disks,
        uuid,
        serial,
        args,
    }
}

/// The machine shows exactly the enlistment VM's hardware.
fn assert_hardware(m: &Value, hw: &EnlistHw) {
    assert_eq!(m["architecture"], "amd64/generic", "{m:#}");
    assert_eq!(m["hardware_uuid"], hw.uuid.as_str());
    assert_eq!(m["cpu_count"], hw.cpus, "{m:#}");
    assert_eq!(m["memory"], 768);
    assert_eq!(m["hardware_info"]["system_serial"], hw.serial.as_str());
    let mut disks: Vec<(String, u64)> = m["physicalblockdevice_set"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["serial"].as_str().unwrap_or("").to_string(),
                d["size"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    disks.sort();
    assert_eq!(disks, hw.disks, "{:#}", m["physicalblockdevice_set"]);
    let mut macs: Vec<String> = m["interface_set"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["mac_address"].as_str().map(String::from))
        .collect();
    macs.sort();
    assert_eq!(macs, hw.macs, "{:#}", m["interface_set"]);
}

/// A VM that PXE-boots from Ingot: its NIC's iPXE ROM gets an address and the iPXE script URL
/// from Ingot's DHCP, the region's boot decision sends it the ephemeral environment, the agent
/// enlists it, runs the built-in commissioning scripts in the same boot (the seed) and powers
/// it off. It appears in `machines read` as NEW with its hardware (CPUs, memory, every disk
/// with its serial and size, every NIC, the UUID); booting it again creates no duplicate. An
/// administrator then gives it a BMC and commissions it: READY, with no enlistment mark left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qemu_vm_pxe_boots_and_enlists() {
    let Some((mut lab, qemu)) = vm_lab(1, &[]) else {
        return;
    };
    let api = lab.start_region().await;
    // Global kernel options reach every ephemeral boot, a stranger's too: a short LLDP
    // capture keeps the enlistment's scripts quick under TCG.
    api.post(
        "/MAAS/api/2.0/maas/?op=set_config",
        &[("name", "kernel_opts"), ("value", "INGOT_LLDP_SECONDS=2")],
    )
    .await
    .ok();

    let hw = enlist_hardware(lab.dir.path());
    let vm_mac = hw.macs[0].clone();
    let boot = |n: u32| {
        let log = lab.dir.path().join(format!("vm{n}.log"));
        let t = std::time::Instant::now();
        let mut vm = Command::new("ip")
            .args([
                "netns", "exec", &lab.lab, &qemu, "-accel", TCG_SMP, "-m", "768",
            ])
            .args(["-nographic", "-nodefaults", "-no-reboot"])
            .arg("-serial")
            .arg(format!("file:{}", log.display()))
            .args(&hw.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start QEMU");
        // The agent powers the VM off when it has enlisted; give TCG's iPXE time.
        let mut done = false;
        for _ in 0..6000 {
            if let Ok(Some(_)) = vm.try_wait() {
                done = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if !done {
            let _ = vm.kill();
            let _ = vm.wait();
        }
        let serial = std::fs::read_to_string(&log).unwrap_or_default();
        eprintln!("boot {n}: {:?}, powered off by itself: {done}", t.elapsed());
        (done, serial)
    };
    let (done, serial) = tokio::task::block_in_place(|| boot(1));
    assert!(
        done,
        "the VM did not power itself off; serial:\n{}",
        &serial[serial.len().saturating_sub(3000)..]
    );
    // The enlisted VM, besides the lab host's own (controller) machine: NEW, with the
    // hardware its enlistment's built-in commissioning scripts found.
    let ms = api.get("/MAAS/api/2.0/machines/").await.ok().json();
    let list = common::workload_machines(&ms);
    assert_eq!(list.len(), 1, "{ms}");
    let sid = list[0]["system_id"].as_str().unwrap().to_string();
    let m = api.machine(&sid).await;
    assert_eq!(m["status_name"], "New", "{m:#}");
    assert_hardware(&m, &hw);
    assert_eq!(m["commissioning_status_name"], "Passed", "{m:#}");
    assert_eq!(m["interface_set"][0]["mac_address"], vm_mac.as_str());
    let evs: Vec<String> = api
        .events(&sid)
        .await
        .iter()
        .map(|e| e["description"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        evs.iter()
            .any(|e| e.contains("From 'New' to 'Commissioning'") && e.contains("enlistment")),
        "{evs:#?}"
    );
    assert!(
        evs.iter()
            .any(|e| e.contains("From 'Commissioning' to 'New'")),
        "{evs:#?}"
    );
    // Boot it again: the same machine, no duplicate, nothing run again.
    let (done, serial) = tokio::task::block_in_place(|| boot(2));
    assert!(
        done,
        "second boot did not power off; serial:\n{}",
        &serial[serial.len().saturating_sub(3000)..]
    );
    let ms = api.get("/MAAS/api/2.0/machines/").await.ok().json();
    assert_eq!(common::workload_machines(&ms).len(), 1, "{ms}");
    assert_eq!(api.machine(&sid).await["status_name"], "New");
    // The timeline shows each hop: DHCP, the iPXE script, kernel and initrd over HTTP.
    let seen = hops(&api, &vm_mac).await;
    assert!(
        seen.iter()
            .any(|h| h.starts_with("dhcp") && h.contains("iPXE")),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|h| h.contains("GET /MAAS/boot/ipxe") && h.contains("ephemeral enlist")),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .filter(|h| h.contains("GET /MAAS/boot/images/"))
            .count()
            >= 2,
        "{seen:#?}"
    );

    // The administrator gives the enlisted machine its BMC (the same VM, now behind QMP) and
    // commissions it: READY — not NEW, as it was when the enlistment's mark outlived it.
    let qmp = lab.dir.path().join("enl.qmp");
    let serial = lab.dir.path().join("enl-commission.log");
    let _vm = Proc(
        Command::new("ip")
            .args([
                "netns", "exec", &lab.lab, &qemu, "-accel", TCG_SMP, "-m", "768",
            ])
            .args(["-nographic", "-nodefaults", "-S", "-no-shutdown"])
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", qmp.display()))
            .arg("-serial")
            .arg(format!("file:{}", serial.display()))
            .args(&hw.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start QEMU"),
    );
    for _ in 0..100 {
        if qmp.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    api.put(
        &format!("/MAAS/api/2.0/machines/{sid}/"),
        &[
            ("power_type", "qemu"),
            (
                "power_parameters_power_address",
                &format!("unix:{}", qmp.display()),
            ),
        ],
    )
    .await
    .ok();
    let t = std::time::Instant::now();
    api.op(&sid, "commission", &[]).await.ok();
    let m = wait_status(&api, &sid, "Ready", 900, &serial).await;
    eprintln!("the enlisted machine commissioned in {:?}", t.elapsed());
    assert_hardware(&m, &hw);
    assert_eq!(m["commissioning_status_name"], "Passed", "{m:#}");
    let ms = api.get("/MAAS/api/2.0/machines/").await.ok().json();
    assert_eq!(common::workload_machines(&ms).len(), 1, "{ms}");
}

/// Poll a machine (up to `secs`) until its status is `want`; a FAILED_* status or the timeout
/// fails the test with the machine's error, events and the VM's serial console.
async fn wait_status(
    api: &Client,
    sid: &str,
    want: &str,
    secs: u64,
    serial: &std::path::Path,
) -> Value {
    let mut m = Value::Null;
    for _ in 0..secs * 2 {
        m = api.machine(sid).await;
        let st = m["status_name"].as_str().unwrap_or("");
        if st == want {
            return m;
        }
        if st.starts_with("Failed") && !want.starts_with("Failed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let evs: Vec<String> = api
        .events(sid)
        .await
        .iter()
        .map(|e| format!("{} {}", e["type"], e["description"]))
        .collect();
    let log = std::fs::read_to_string(serial).unwrap_or_default();
    panic!(
        "wanted {want}, machine is {} ({}); events:\n{}\nserial tail:\n{}",
        m["status_name"],
        m["error_description"],
        evs.join("\n"),
        &log[log.len().saturating_sub(4000)..]
    );
}

/// A QEMU VM (2 vCPUs, 768 MiB, TCG) in the lab, powered off (`-S`: waiting for its power
/// button) with a QMP socket, its first NIC (`mac0`, on tap0) network-booting, plus `extra`
/// devices; and the machine for it in the region: `qemu` power driver, not commissioned yet,
/// tagged `e2e` (kernel options that keep the agent's passive waits short). Returns the VM's
/// process, the system id and the serial console's log.
async fn qemu_machine(
    lab: &Lab,
    api: &Client,
    qemu: &str,
    hostname: &str,
    mac0: &str,
    extra: &[String],
) -> (Proc, String, std::path::PathBuf) {
    let (vm, qmp, serial) = qemu_vm(lab, qemu, mac0, extra).await;
    let sid = qemu_machine_for(api, hostname, mac0, &qmp).await;
    (vm, sid, serial)
}

/// The VM of [`qemu_machine`] alone, unknown to the region: its process, QMP socket and serial
/// console's log.
async fn qemu_vm(
    lab: &Lab,
    qemu: &str,
    mac0: &str,
    extra: &[String],
) -> (Proc, std::path::PathBuf, std::path::PathBuf) {
    let qmp = lab.dir.path().join("vm.qmp");
    let serial = lab.dir.path().join("vm-serial.log");
    let vm = Command::new("ip")
        .args([
            "netns", "exec", &lab.lab, qemu, "-accel", TCG_SMP, "-m", "768", "-smp", "2",
        ])
        .args(["-nographic", "-nodefaults", "-S", "-no-shutdown"])
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", qmp.display()))
        .arg("-serial")
        .arg(format!("file:{}", serial.display()))
        .args(["-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no"])
        .args([
            "-device",
            &format!("virtio-net-pci,netdev=n0,mac={mac0},bootindex=1"),
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start QEMU");
    let vm = Proc(vm);
    for _ in 0..100 {
        if qmp.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (vm, qmp, serial)
}

/// The machine of [`qemu_machine`]'s VM, added by hand.
async fn qemu_machine_for(
    api: &Client,
    hostname: &str,
    mac0: &str,
    qmp: &std::path::Path,
) -> String {
    api.post(
        "/MAAS/api/2.0/tags/",
        &[
            ("name", "e2e"),
            ("kernel_opts", "INGOT_LLDP_SECONDS=2 INGOT_TEST_SECONDS=3"),
        ],
    )
    .await
    .ok();
    let qmp_addr = format!("unix:{}", qmp.display());
    let m = api
        .post(
            "/MAAS/api/2.0/machines/",
            &[
                ("hostname", hostname),
                ("architecture", "amd64/generic"),
                ("mac_addresses", mac0),
                ("power_type", "qemu"),
                ("power_parameters_power_address", &qmp_addr),
                ("commission", "false"),
            ],
        )
        .await
        .ok()
        .json();
    let sid = m["system_id"].as_str().unwrap().to_string();
    api.post("/MAAS/api/2.0/tags/e2e/?op=update_nodes", &[("add", &sid)])
        .await
        .ok();
    sid
}

/// The whole path of a new machine: the VM, unknown to the region, is switched on (its power
/// button, through QMP), network-boots, enlists itself and runs the built-in commissioning
/// scripts, and powers off; the machine is NEW with its hardware. The administrator then names
/// it and gives it its BMC. Returns the system id.
async fn enlisted_machine(
    api: &Client,
    hostname: &str,
    mac0: &str,
    qmp: &std::path::Path,
    serial: &std::path::Path,
) -> String {
    use ingot_power::PowerDriver as _;
    api.post(
        "/MAAS/api/2.0/maas/?op=set_config",
        &[("name", "kernel_opts"), ("value", "INGOT_LLDP_SECONDS=2")],
    )
    .await
    .ok();
    let bmc = ingot_power::qemu::Qemu::new(ingot_power::qemu::QmpAddress::Unix(qmp.to_path_buf()));
    bmc.power_on().await.expect("the VM's power button");
    let t = std::time::Instant::now();
    let mut found = None;
    for _ in 0..1200 {
        let ms = api
            .get(&format!("/MAAS/api/2.0/machines/?mac_address={mac0}"))
            .await
            .ok()
            .json();
        if let Some(m) = ms.as_array().and_then(|a| a.first()) {
            let off = bmc.query().await.ok() == Some(ingot_core::PowerState::Off);
            if m["status_name"] == "New" && m["commissioning_status_name"] == "Passed" && off {
                found = Some(m["system_id"].as_str().unwrap().to_string());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let Some(sid) = found else {
        let log = std::fs::read_to_string(serial).unwrap_or_default();
        panic!(
            "the VM did not enlist with its hardware and power off; serial tail:\n{}",
            &log[log.len().saturating_sub(4000)..]
        );
    };
    eprintln!("enlisted with its hardware in {:?}", t.elapsed());
    let m = api.machine(&sid).await;
    assert!(m["cpu_count"].as_u64().unwrap_or(0) >= 1, "{m:#}");
    assert!(
        !m["physicalblockdevice_set"].as_array().unwrap().is_empty(),
        "{m:#}"
    );
    api.put(
        &format!("/MAAS/api/2.0/machines/{sid}/"),
        &[
            ("hostname", hostname),
            ("power_type", "qemu"),
            (
                "power_parameters_power_address",
                &format!("unix:{}", qmp.display()),
            ),
        ],
    )
    .await
    .ok();
    sid
}

/// A VM with 2 vCPUs, 768 MiB, two disks with set serials, two NICs and set SMBIOS fields is
/// added by hand with the `qemu` power driver. Ingot powers it on through QMP, it PXE-boots the
/// ephemeral environment, `ingot-agent` commissions and tests it, and it reaches READY with
/// exactly what QEMU was told. Then a failing user test → FAILED_TESTING, and a failing user
/// commissioning script → FAILED_COMMISSIONING, each with the script's output readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qemu_vm_commissions_to_exactly_its_hardware() {
    let Some((mut lab, qemu)) = vm_lab(3, &[]) else {
        return;
    };
    let api = lab.start_region().await;

    // The VM, powered off (-S: waiting for its power button), with its QMP socket.
    let (mac0, mac1) = ("52:54:00:77:cc:01", "52:54:00:77:cc:02");
    let uuid = "0b9e1f4a-3c6d-4e2a-8f71-5d9c2b7a4e10";
    let (gib1, gib3): (u64, u64) = (1 << 30, 3 << 30);
    let d0 = lab.dir.path().join("d0.raw");
    let d1 = lab.dir.path().join("d1.raw");
    std::fs::File::create(&d0).unwrap().set_len(gib1).unwrap();
    std::fs::File::create(&d1).unwrap().set_len(gib3).unwrap();
    let (_vm, sid, serial) = qemu_machine(
        &lab,
        &api,
        &qemu,
        "vm1",
        mac0,
        &[
            // The second NIC: no cable (no backend), no boot ROM.
            "-device".into(),
            format!("virtio-net-pci,mac={mac1},romfile="),
            "-drive".into(),
            format!("file={},if=none,id=d0,format=raw", d0.display()),
            "-device".into(),
            "virtio-blk-pci,drive=d0,serial=INGOT-E2E-D0".into(),
            "-drive".into(),
            format!("file={},if=none,id=d1,format=raw", d1.display()),
            "-device".into(),
            "virtio-blk-pci,drive=d1,serial=INGOT-E2E-D1".into(),
            "-smbios".into(),
            format!("type=1,manufacturer=Ingot Test Systems,product=E2E-VM,version=1.2,serial=SN-E2E-42,uuid={uuid}"),
        ],
    )
    .await;
    let t = std::time::Instant::now();
    api.op(&sid, "commission", &[]).await.ok();
    let m = wait_status(&api, &sid, "Ready", 900, &serial).await;
    eprintln!("commissioned in {:?}", t.elapsed());

    // Exactly what QEMU was told.
    assert_eq!(m["cpu_count"], 2, "{m:#}");
    assert_eq!(m["memory"], 768);
    assert_eq!(m["architecture"], "amd64/generic");
    assert_eq!(m["hardware_uuid"], uuid);
    let hw = &m["hardware_info"];
    assert_eq!(hw["system_vendor"], "Ingot Test Systems");
    assert_eq!(hw["system_product"], "E2E-VM");
    assert_eq!(hw["system_version"], "1.2");
    assert_eq!(hw["system_serial"], "SN-E2E-42");
    let mut disks: Vec<(String, u64)> = m["physicalblockdevice_set"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["serial"].as_str().unwrap_or("").to_string(),
                d["size"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    disks.sort();
    assert_eq!(
        disks,
        vec![
            ("INGOT-E2E-D0".to_string(), gib1),
            ("INGOT-E2E-D1".to_string(), gib3)
        ],
        "{:#}",
        m["physicalblockdevice_set"]
    );
    let mut macs: Vec<&str> = m["interface_set"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["mac_address"].as_str())
        .collect();
    macs.sort();
    assert_eq!(macs, vec![mac0, mac1]);
    assert_eq!(m["boot_interface"]["mac_address"], mac0, "BOOTIF");
    assert!(
        m["tag_names"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "virtual"),
        "{}",
        m["tag_names"]
    );
    assert_eq!(m["commissioning_status_name"], "Passed");
    let sets = api
        .get(&format!("/MAAS/api/2.0/nodes/{sid}/results/"))
        .await
        .ok()
        .json();
    let n_results: usize = sets
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["results"].as_array().map(Vec::len).unwrap_or(0))
        .sum();
    assert!(n_results >= 11, "every built-in reported: {sets:#}");

    // A failing user test → FAILED_TESTING, its output readable.
    api.post_multipart(
        "/MAAS/api/2.0/scripts/",
        &[("script", b"#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: e2e-test-fail\n# script_type: testing\n# --- End MAAS 1.0 script metadata ---\necho e2e-test-output\nexit 2\n")],
    )
    .await
    .ok();
    api.op(&sid, "test", &[("testing_scripts", "e2e-test-fail")])
        .await
        .ok();
    let m = wait_status(&api, &sid, "Failed testing", 600, &serial).await;
    assert!(
        m["error_description"]
            .as_str()
            .unwrap_or("")
            .contains("e2e-test-fail"),
        "{}",
        m["error_description"]
    );
    let out = api
        .get(&format!("/MAAS/api/2.0/nodes/{sid}/results/current-testing/?op=download&output=stdout&filters=e2e-test-fail"))
        .await
        .ok();
    assert_eq!(out.body.trim(), "e2e-test-output");

    // A failing user commissioning script → FAILED_COMMISSIONING, its output readable.
    api.post_multipart(
        "/MAAS/api/2.0/scripts/",
        &[("script", b"#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: e2e-comm-fail\n# script_type: commissioning\n# --- End MAAS 1.0 script metadata ---\necho e2e-comm-output\nexit 4\n")],
    )
    .await
    .ok();
    api.op(
        &sid,
        "commission",
        &[
            ("commissioning_scripts", "e2e-comm-fail"),
            ("testing_scripts", "none"),
        ],
    )
    .await
    .ok();
    let m = wait_status(&api, &sid, "Failed commissioning", 600, &serial).await;
    assert!(
        m["error_description"]
            .as_str()
            .unwrap_or("")
            .contains("e2e-comm-fail"),
        "{}",
        m["error_description"]
    );
    let sets = api
        .get(&format!(
            "/MAAS/api/2.0/nodes/{sid}/results/?include_output=true"
        ))
        .await
        .ok()
        .json();
    let r = sets
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["results"].as_array().cloned().unwrap_or_default())
        .find(|r| r["name"] == "e2e-comm-fail")
        .expect("e2e-comm-fail result");
    assert_eq!(
        (r["status_name"].as_str(), r["exit_status"].as_i64()),
        (Some("Failed"), Some(4))
    );
    use base64::Engine as _;
    let stdout = base64::engine::general_purpose::STANDARD
        .decode(r["stdout"].as_str().unwrap())
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&stdout).trim(), "e2e-comm-output");
    // The hardware found by the good run is still there.
    assert_eq!(api.machine(&sid).await["cpu_count"], 2);
}

/// The same enlistment with UEFI firmware (OVMF): the NIC's UEFI iPXE asks as x86-64 UEFI
/// (option 93 = 7) and gets the iPXE script; the Debian kernel boots through its EFI stub, the
/// agent enlists the VM. The timeline shows the UEFI DHCP exchange. The region serves TLS,
/// and plain HTTP for machines beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qemu_uefi_vm_pxe_boots_and_enlists() {
    let code = std::path::Path::new("/usr/share/OVMF/OVMF_CODE.fd");
    let vars = std::path::Path::new("/usr/share/OVMF/OVMF_VARS.fd");
    let Some((mut lab, qemu)) = vm_lab(
        4,
        &[
            "/usr/share/OVMF/OVMF_CODE.fd",
            "/usr/share/OVMF/OVMF_VARS.fd",
        ],
    ) else {
        return;
    };
    // Through a region serving TLS (the API on https://…:5443, as the test talks to it): the
    // firmware's iPXE has no HTTPS, so its rack sends the machine to the region's plain-HTTP
    // port for machines (5240), where the agent enlists too.
    let api = lab.start_region_serving(true).await;
    assert!(api.base.starts_with("https://"), "{}", api.base);
    api.post(
        "/MAAS/api/2.0/maas/?op=set_config",
        &[("name", "kernel_opts"), ("value", "INGOT_LLDP_SECONDS=2")],
    )
    .await
    .ok();
    let vm_mac = "52:54:00:77:dd:01";
    let uuid = "9c3e5a71-2b4d-4f6e-8a1c-7d2e3f4a5b6c";
    let my_vars = lab.dir.path().join("OVMF_VARS.fd");
    std::fs::copy(vars, &my_vars).unwrap();
    let log = lab.dir.path().join("uefi.log");
    let t = std::time::Instant::now();
    let mut vm = Command::new("ip")
        .args([
            "netns", "exec", &lab.lab, &qemu, "-accel", "tcg", "-m", "512", "-smp", "1",
        ])
        .args(["-nographic", "-nodefaults", "-no-reboot"])
        .arg("-drive")
        .arg(format!(
            "if=pflash,format=raw,readonly=on,file={}",
            code.display()
        ))
        .arg("-drive")
        .arg(format!("if=pflash,format=raw,file={}", my_vars.display()))
        .arg("-serial")
        .arg(format!("file:{}", log.display()))
        .args(["-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no"])
        .args([
            "-device",
            &format!("virtio-net-pci,netdev=n0,mac={vm_mac},bootindex=1"),
        ])
        .args(["-smbios", &format!("type=1,uuid={uuid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start QEMU");
    let done = tokio::task::block_in_place(|| {
        for _ in 0..6000 {
            if let Ok(Some(_)) = vm.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = vm.kill();
        let _ = vm.wait();
        false
    });
    let serial = std::fs::read_to_string(&log).unwrap_or_default();
    eprintln!(
        "UEFI boot: {:?}, powered off by itself: {done}",
        t.elapsed()
    );
    assert!(
        done,
        "the UEFI VM did not power itself off; serial:\n{}",
        &serial[serial.len().saturating_sub(3000)..]
    );
    let ms = api.get("/MAAS/api/2.0/machines/").await.ok().json();
    let list = common::workload_machines(&ms);
    assert_eq!(list.len(), 1, "{ms}");
    assert_eq!(list[0]["status_name"], "New");
    assert_eq!(list[0]["hardware_uuid"], uuid);
    assert_eq!(list[0]["interface_set"][0]["mac_address"], vm_mac);
    // Enlisted with its hardware, under UEFI too.
    assert_eq!(list[0]["cpu_count"], 1, "{:#}", list[0]);
    assert_eq!(list[0]["memory"], 512, "{:#}", list[0]);
    let seen = hops(&api, vm_mac).await;
    assert!(
        seen.iter()
            .any(|h| h.starts_with("dhcp") && h.contains("UefiX64") && h.contains("iPXE")),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|h| h.contains("GET /MAAS/boot/ipxe") && h.contains("ephemeral enlist")),
        "{seen:#?}"
    );
}

/// The whole deployment life of a real VM (issue 6): a QEMU VM with one NIC and one disk is
/// commissioned, given a STATIC address, and deployed with Ingot's test OS (`ingot images
/// build-os`, uploaded through `boot-resources/`) and a user-data script. The ephemeral
/// environment partitions the disk, streams and checks the image, writes the NoCloud seed and
/// the boot loader and reboots; the VM then boots from its own disk, the test OS applies the
/// hostname and the static address, runs the user-data and reports → DEPLOYED. The test pings
/// the address and reads the console. Rescue mode enters and exits (back to DEPLOYED from the
/// disk). Release with quick erase → READY, and the test reads the VM's disk file: the first
/// and last 2 MiB are zero, the middle still holds the installed data. Finally the image's
/// blob is corrupted on the region's disk and a new deploy fails with the checksum named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qemu_vm_deploys_rescues_releases_with_erase() {
    let Some((mut lab, qemu)) = vm_lab(5, &[]) else {
        return;
    };
    let api = lab.start_region().await;

    // The test OS, uploaded as a custom image.
    let os = lab.dir.path().join("ingot-test-os.tgz");
    let t = std::time::Instant::now();
    ok(&[
        BIN,
        "images",
        "build-os",
        "--out",
        os.to_str().unwrap(),
        "--agent",
        common::host::agent_binary().to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&os).unwrap();
    eprintln!("test OS built in {:?}: {} bytes", t.elapsed(), bytes.len());
    let res = api.upload_image("custom/ingot-test", &bytes).await;
    assert_eq!(res["name"], "custom/ingot-test", "{res:#}");

    let mac0 = "52:54:00:77:dd:01";
    let disk = lab.dir.path().join("disk.raw");
    let disk_size: u64 = 3 << 30;
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(disk_size)
        .unwrap();
    let (_vm, sid, serial) = qemu_machine(
        &lab,
        &api,
        &qemu,
        "deployvm",
        mac0,
        &[
            "-drive".into(),
            format!("file={},if=none,id=d0,format=raw", disk.display()),
            "-device".into(),
            // After the NIC: what the BIOS boots when iPXE exits to the local disk.
            "virtio-blk-pci,drive=d0,serial=INGOT-DEPLOY-D0,bootindex=2".into(),
        ],
    )
    .await;
    let t = std::time::Instant::now();
    api.op(&sid, "commission", &[("testing_scripts", "none")])
        .await
        .ok();
    let m = wait_status(&api, &sid, "Ready", 900, &serial).await;
    eprintln!("commissioned in {:?}", t.elapsed());
    let iface = m["interface_set"][0]["id"].as_i64().unwrap();
    api.post(
        &format!("/MAAS/api/2.0/nodes/{sid}/interfaces/{iface}/?op=link_subnet"),
        &[
            ("mode", "STATIC"),
            ("subnet", "10.77.0.0/24"),
            ("ip_address", "10.77.0.42"),
            ("default_gateway", "true"),
        ],
    )
    .await
    .ok();

    // python-libmaas, unmodified, deploys the VM (to Deployed: the installed OS reported) and
    // releases it (to Ready), through the same API.
    let py = std::env::var("INGOT_LIBMAAS_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    let shared = std::env::var("INGOT_SHARED_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").into());
    let smoke = format!("{shared}/peers/libmaas-smoke.py");
    match py {
        Some(py) if std::path::Path::new(&smoke).exists() => {
            let (ck, tk, ts) = api.key.clone().unwrap();
            let t = std::time::Instant::now();
            let out = Command::new(py)
                .arg(&smoke)
                .env("MAAS_URL", format!("{}/MAAS/", api.base))
                .env("MAAS_APIKEY", format!("{ck}:{tk}:{ts}"))
                .env("MAAS_HOSTNAME", "deployvm")
                .env("MAAS_DISTRO", "custom/ingot-test")
                .env("MAAS_WAIT", "900")
                .output()
                .expect("run libmaas-smoke.py");
            let stdout = String::from_utf8_lossy(&out.stdout);
            eprintln!(
                "python-libmaas deploy + release of the VM in {:?}:\n{stdout}",
                t.elapsed()
            );
            assert!(
                out.status.success() && stdout.contains("0 failed"),
                "libmaas smoke failed:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(stdout.contains("Deploying -> Deployed"), "{stdout}");
            assert!(stdout.contains("-> Ready"), "{stdout}");
            // The installed OS's first boot ran and reported SUCCESS (the report is what made it
            // Deployed). Its "reporting" line, not "reported": that one is printed after the
            // report's answer, and python-libmaas's release powers the VM off as soon as it
            // reads Deployed — sometimes before it.
            let console = std::fs::read_to_string(&serial).unwrap_or_default();
            assert!(
                console.contains("ingot-firstboot: hostname deployvm")
                    && console.contains("ingot-firstboot: reporting modules-final SUCCESS"),
                "the VM booted its installed OS for python-libmaas"
            );
        }
        _ => assert!(
            std::env::var("CI").is_err(),
            "CI must provide INGOT_LIBMAAS_PYTHON and the shared peers (scripts/test.sh does)"
        ),
    }

    // Deploy with a user-data script whose output the console shows.
    use base64::Engine as _;
    let marker = format!("ud-{:08x}", rand::random::<u32>());
    // It also waits, in the background, until Ingot no longer knows the machine, and then
    // registers the running machine with the program the region serves (the seed's lines).
    let (ck, tk, ts) = api.key.clone().unwrap();
    let user_data = format!(
        "#!/bin/sh\necho user-data-says {marker} > /dev/console\necho {marker} > /root/user-data-ran\n\
         (\n\
         M=http://10.77.0.1:5240/MAAS\n\
         until wget -q -O - \"$M/api/2.0/machines/?op=is_registered&mac_address={mac0}\" | grep -q false; do sleep 2; done\n\
         cd /root\n\
         wget -q -O maas-run-scripts $M/maas-run-scripts && chmod 755 maas-run-scripts\n\
         ./maas-run-scripts register-machine --hostname brownvm $M {ck}:{tk}:{ts}; echo \"register-1 exit $?\"\n\
         ./maas-run-scripts register-machine --hostname renamedvm $M {ck}:{tk}:{ts}; echo \"register-2 exit $?\"\n\
         ./maas-run-scripts hardware-sync --config brownvm-creds.yaml --interval 60 --once; echo \"hardware-sync exit $?\"\n\
         ) > /dev/console 2>&1 &\n"
    );
    let ud = base64::engine::general_purpose::STANDARD.encode(user_data);
    api.post(
        "/MAAS/api/2.0/machines/?op=allocate",
        &[("system_id", &sid)],
    )
    .await
    .ok();
    let t = std::time::Instant::now();
    api.op(
        &sid,
        "deploy",
        &[("distro_series", "custom/ingot-test"), ("user_data", &ud)],
    )
    .await
    .ok();
    let m = wait_status(&api, &sid, "Deployed", 1200, &serial).await;
    eprintln!("deployed in {:?}", t.elapsed());
    assert_eq!(m["netboot"], false, "{m:#}");
    let console = std::fs::read_to_string(&serial).unwrap_or_default();
    for want in [
        "ingot-firstboot: hostname deployvm".to_string(),
        "10.77.0.42/24".to_string(),
        "user-data exit 0".to_string(),
        format!("user-data-says {marker}"),
        "ingot-firstboot: reported modules-final SUCCESS".to_string(),
    ] {
        assert!(
            console.contains(&want),
            "console lacks {want:?}:\n{}",
            &console[console.len().saturating_sub(6000)..]
        );
    }
    // The installed OS answers on the static address it was given.
    let ping = in_ns(
        &lab.lab,
        &["busybox", "ping", "-c", "3", "-W", "2", "10.77.0.42"],
    );
    assert!(
        ping.status.success(),
        "10.77.0.42 does not answer: {}{}",
        String::from_utf8_lossy(&ping.stdout),
        String::from_utf8_lossy(&ping.stderr)
    );

    // A running machine Ingot does not know: the deployed VM is forgotten (deleted; it keeps
    // running), and registers itself, twice, from its own OS.
    let known = api.machine(&sid).await;
    let power = api
        .get(&format!(
            "/MAAS/api/2.0/machines/{sid}/?op=power_parameters"
        ))
        .await
        .ok()
        .json();
    api.delete(&format!("/MAAS/api/2.0/machines/{sid}/"))
        .await
        .ok();
    let t = std::time::Instant::now();
    let console_has = |want: &str| {
        std::fs::read_to_string(&serial)
            .unwrap_or_default()
            .contains(want)
    };
    while !console_has("hardware-sync exit") {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(600),
            "the VM did not register itself:\n{}",
            {
                let c = std::fs::read_to_string(&serial).unwrap_or_default();
                c[c.len().saturating_sub(6000)..].to_string()
            }
        );
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
    eprintln!("the running VM registered itself in {:?}", t.elapsed());
    let console = std::fs::read_to_string(&serial).unwrap_or_default();
    for want in [
        "Machine brownvm created with system ID: ",
        "register-1 exit 0",
        "is already registered",
        "register-2 exit 0",
        "hardware sync: ",
        "hardware-sync exit 0",
    ] {
        assert!(
            console.contains(want),
            "console lacks {want:?}:\n{}",
            &console[console.len().saturating_sub(6000)..]
        );
    }
    let found = api
        .get(&format!("/MAAS/api/2.0/machines/?mac_address={mac0}"))
        .await
        .ok()
        .json();
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found:#}");
    let sid = found[0]["system_id"].as_str().unwrap().to_string();
    let m = api.machine(&sid).await;
    assert_eq!(m["hostname"], "brownvm", "not renamed by the second run");
    assert_eq!(m["status_name"], "Deployed");
    // The same hardware commissioning found in the ephemeral environment.
    for k in ["cpu_count", "memory", "hardware_uuid"] {
        assert_eq!(m[k], known[k], "{k}");
    }
    let disks = |m: &serde_json::Value| -> Vec<(String, u64)> {
        m["physicalblockdevice_set"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["serial"].as_str().unwrap_or("").to_string(),
                    d["size"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(disks(&m), disks(&known), "{m:#}");
    assert!(m["last_sync"].is_string(), "{m:#}");
    // Released (its BMC given back), it is READY: it has hardware information.
    let mut put: Vec<(String, String)> = vec![("power_type".into(), "qemu".into())];
    for (k, v) in power.as_object().unwrap() {
        let v = v
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| v.to_string());
        put.push((format!("power_parameters_{k}"), v));
    }
    let put: Vec<(&str, &str)> = put.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    api.put(&format!("/MAAS/api/2.0/machines/{sid}/"), &put)
        .await
        .ok();
    api.op(&sid, "release", &[]).await.ok();
    let m = wait_status(&api, &sid, "Ready", 900, &serial).await;
    assert!(
        m["interface_set"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["type"] == "physical"),
        "{m:#}"
    );
    // Then Ingot deploys it, like any machine it commissioned, with an AUTO address (given at
    // deployment, taken back at release).
    let iface = m["interface_set"][0]["id"].as_i64().unwrap();
    api.post(
        &format!("/MAAS/api/2.0/nodes/{sid}/interfaces/{iface}/?op=link_subnet"),
        &[
            ("mode", "AUTO"),
            ("subnet", "10.77.0.0/24"),
            ("default_gateway", "true"),
        ],
    )
    .await
    .ok();
    api.post(
        "/MAAS/api/2.0/machines/?op=allocate",
        &[("system_id", &sid)],
    )
    .await
    .ok();
    let t = std::time::Instant::now();
    api.op(&sid, "deploy", &[("distro_series", "custom/ingot-test")])
        .await
        .ok();
    wait_status(&api, &sid, "Deployed", 1200, &serial).await;
    eprintln!(
        "the registered machine deployed by Ingot in {:?}",
        t.elapsed()
    );
    let console = std::fs::read_to_string(&serial).unwrap_or_default();
    assert!(
        console.matches("ingot-firstboot: hostname brownvm").count() >= 1,
        "the redeployed OS took the machine's name"
    );
    // The rack's DNS names it, from the lab: its AUTO address, and the PTR back.
    let m = api.machine(&sid).await;
    let auto = m["ip_addresses"][0]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(auto.starts_with("10.77.0."), "{m:#}");
    let dig = |q: &[&str]| -> String {
        let mut a = vec!["dig", "@10.77.0.1", "+short", "+time=2", "+tries=2"];
        a.extend_from_slice(q);
        String::from_utf8_lossy(&in_ns(&lab.lab, &a).stdout)
            .trim()
            .to_string()
    };
    assert_eq!(dig(&["brownvm.maas", "A"]), auto);
    let last = auto.rsplit('.').next().unwrap_or_default().to_string();
    assert_eq!(
        dig(&[&format!("{last}.0.77.10.in-addr.arpa"), "PTR"]),
        "brownvm.maas."
    );

    // Rescue mode on the deployed VM, and back to its disk.
    api.op(&sid, "rescue_mode", &[]).await.ok();
    wait_status(&api, &sid, "Rescue mode", 900, &serial).await;
    api.op(&sid, "exit_rescue_mode", &[]).await.ok();
    wait_status(&api, &sid, "Deployed", 900, &serial).await;

    // Release with quick erase → READY; the disk's ends are zero, its middle is not.
    let read_at = |off: u64, len: usize| -> Vec<u8> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = std::fs::File::open(&disk).unwrap();
        f.seek(SeekFrom::Start(off)).unwrap();
        let mut b = vec![0u8; len];
        f.read_exact(&mut b).unwrap();
        b
    };
    let mib = 1u64 << 20;
    assert!(
        read_at(0, 512).iter().any(|&b| b != 0),
        "the deployed disk starts with a boot sector"
    );
    // Where the installed data lies: the first non-zero 1 MiB block past the erased head.
    let middle = (4..(disk_size / mib - 4))
        .map(|i| i * mib)
        .find(|&off| read_at(off, mib as usize).iter().any(|&b| b != 0))
        .expect("the installed OS left data past the first 4 MiB");
    api.op(
        &sid,
        "release",
        &[("erase", "true"), ("quick_erase", "true")],
    )
    .await
    .ok();
    let t = std::time::Instant::now();
    wait_status(&api, &sid, "Ready", 900, &serial).await;
    eprintln!("released with quick erase in {:?}", t.elapsed());
    // Released: its AUTO address is given back, and its name leaves DNS (within the rack's
    // quarter-second poll).
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        dig(&["brownvm.maas", "A"]),
        "",
        "a released machine's name is gone"
    );
    if read_at(0, 2 * mib as usize).iter().any(|&b| b != 0) {
        let res = api
            .get(&format!(
                "/MAAS/api/2.0/nodes/{sid}/results/?result_type=release&include_output=true"
            ))
            .await
            .json();
        let evs: Vec<String> = api
            .events(&sid)
            .await
            .iter()
            .map(|e| format!("{} {}", e["type"], e["description"]))
            .collect();
        let log = std::fs::read_to_string(&serial).unwrap_or_default();
        panic!(
            "first 2 MiB not erased; release results {res:#}\nevents:\n{}\nserial tail:\n{}",
            evs.join("\n"),
            &log[log.len().saturating_sub(5000)..]
        );
    }
    assert!(
        read_at(disk_size - 2 * mib, 2 * mib as usize)
            .iter()
            .all(|&b| b == 0),
        "last 2 MiB erased"
    );
    assert!(
        read_at(middle, mib as usize).iter().any(|&b| b != 0),
        "a quick erase leaves the middle alone"
    );
    let events: Vec<String> = api
        .events(&sid)
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e == "Disk erasing" || e.contains("erasing")),
        "{events:?}"
    );

    // A corrupted image: the blob on the region's disk no longer matches its checksum.
    let sha: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let blob = lab.dir.path().join("images").join(&sha);
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&blob).unwrap();
        f.seek(SeekFrom::Start(bytes.len() as u64 / 2)).unwrap();
        f.write_all(b"corrupted by the test").unwrap();
    }
    api.post(
        "/MAAS/api/2.0/machines/?op=allocate",
        &[("system_id", &sid)],
    )
    .await
    .ok();
    api.op(&sid, "deploy", &[("distro_series", "custom/ingot-test")])
        .await
        .ok();
    let m = wait_status(&api, &sid, "Failed deployment", 900, &serial).await;
    let err = m["error_description"].as_str().unwrap_or("");
    assert!(
        err.starts_with("image:") && err.contains("sha256"),
        "the failure names the step and the checksum: {err}"
    );
}

/// Waits for `want` like [`wait_status`], printing every new event of the machine with the
/// seconds since `since` (the deployment's phases, as they happen).
async fn wait_status_logging(
    api: &Client,
    sid: &str,
    want: &str,
    secs: u64,
    serial: &std::path::Path,
    since: std::time::Instant,
) -> Value {
    let mut seen = std::collections::HashSet::new();
    let deadline = since + Duration::from_secs(secs);
    loop {
        let mut evs = api.events(sid).await;
        evs.reverse();
        for e in evs {
            let key = e["id"].to_string();
            if seen.insert(key) {
                eprintln!(
                    "[{:7.1}s] {} {}",
                    since.elapsed().as_secs_f64(),
                    e["type"].as_str().unwrap_or(""),
                    e["description"].as_str().unwrap_or("")
                );
            }
        }
        let m = api.machine(sid).await;
        let st = m["status_name"].as_str().unwrap_or("");
        if st == want || st.starts_with("Failed") || std::time::Instant::now() > deadline {
            return wait_status(api, sid, want, 1, serial).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A real Debian 12 root tarball (mmdebstrap, as Debian lays it out: the kernel as
/// `/boot/vmlinuz-<version>`, the links at the root) uploaded to the region as a `tgz` boot
/// resource and deployed onto a BIOS VM (TCG) through PXE, the qemu power driver and the
/// ephemeral environment: the agent installs the image's own GRUB from inside it, the VM boots
/// from its disk, Debian's cloud-init applies the seed and its webhook reporter's
/// `modules-final` makes the machine DEPLOYED. Then, over SSH with the owner's key, the host
/// name and the user data's effect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qemu_vm_deploys_debian_12_with_cloud_init() {
    debian_12_e2e(false).await;
}

/// The same under UEFI (OVMF): the region lays the disk out for UEFI (GPT, ESP) from the
/// machine's network boot, the image's GRUB goes on the ESP as `\EFI\BOOT\BOOTX64.EFI`, and
/// OVMF boots it after the region's local-disk answer (iPXE `exit 1`, so that the firmware
/// tries its next boot option instead of stopping in its menu). Its user-data script fails (exit 3):
/// Debian's cloud-init reports its final stage failed and the machine is FAILED_DEPLOYMENT
/// with the failing module named, while the system itself is up (SSH checks as for BIOS).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qemu_uefi_vm_deploys_debian_12_with_cloud_init() {
    debian_12_e2e(true).await;
}

/// One `ssh -i KEY HOST CMD` from inside the namespace `ns` (no host key checks: every VM is
/// new; batch mode: a refused key fails instead of asking).
fn ssh_once(ns: &str, key: &std::path::Path, host: &str, cmd: &str) -> std::process::Output {
    let key = key.to_str().unwrap();
    in_ns(
        ns,
        &[
            "ssh",
            "-i",
            key,
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "BatchMode=yes",
            host,
            cmd,
        ],
    )
}

/// The Debian image uploaded as python-libmaas uploads a large image: sha256 + size first, then
/// chunks PUT to the file's upload_uri. Returns the name to deploy.
async fn upload_debian(api: &Client, img: &ingot_images::debian::DebianImage) -> String {
    let res = api
        .post(
            "/MAAS/api/2.0/boot-resources/",
            &[
                ("name", "custom/debian-12"),
                ("architecture", "amd64/generic"),
                ("filetype", "tgz"),
                ("title", "Debian 12 (mmdebstrap)"),
                ("sha256", &img.sha256),
                ("size", &img.size.to_string()),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(res["name"], "custom/debian-12", "{res:#}");
    let file = res["sets"]
        .as_object()
        .and_then(|s| s.values().next())
        .and_then(|set| set["files"].as_object())
        .and_then(|f| f.values().next())
        .cloned()
        .unwrap_or_else(|| panic!("no file in {res:#}"));
    let uri = file["upload_uri"].as_str().unwrap().to_string();
    {
        use std::io::Read;
        let mut f = std::fs::File::open(&img.path).unwrap();
        let mut buf = vec![0u8; 8 << 20];
        loop {
            let mut n = 0;
            while n < buf.len() {
                let k = f.read(&mut buf[n..]).unwrap();
                if k == 0 {
                    break;
                }
                n += k;
            }
            if n == 0 {
                break;
            }
            let r = api
                .http
                .put(api.url(&uri))
                .header("Content-Type", "application/octet-stream")
                .header("Authorization", api.auth_header().unwrap())
                .body(buf[..n].to_vec())
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status().as_u16(),
                200,
                "{}",
                r.text().await.unwrap_or_default()
            );
        }
    }
    let id = res["id"].as_i64().unwrap();
    let r = api
        .get(&format!("/MAAS/api/2.0/boot-resources/{id}/"))
        .await
        .ok()
        .json();
    assert!(r.to_string().contains("\"complete\":true"), "{r:#}");
    "custom/debian-12".to_string()
}

/// The Debian image published on a simplestreams mirror (a product `debian/bookworm`, its
/// root tarball as `root-tgz`, index and product file clear-signed by a throwaway key), the
/// mirror added as a boot source with that keyring, bookworm selected and imported. Returns
/// the name to deploy and the mirror's directory (kept while the test runs).
async fn import_debian(
    api: &Client,
    host_ip: &str,
    img: &ingot_images::debian::DebianImage,
) -> (String, tempfile::TempDir) {
    use common::mirror::{serve_mirror_at, wait_import, write_streams, Key, CID};
    use serde_json::json;
    let key = Key::new("debian-mirror", "ed25519");
    let dir = tempfile::tempdir().unwrap();
    let rel = "debian/bookworm/amd64/20261206/root.tgz";
    std::fs::create_dir_all(dir.path().join(rel).parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&img.path, dir.path().join(rel)).unwrap();
    let products = json!({
        "content_id": CID, "datatype": "image-downloads", "format": "products:1.0",
        "updated": "Sun, 06 Dec 2026 00:00:00 +0000",
        "products": {"org.debian:bookworm:amd64": {
            "arch": "amd64", "os": "debian", "release": "bookworm", "subarch": "generic",
            "versions": {"20261206": {"items": {"root-tgz": {
                "ftype": "root-tgz", "path": rel, "sha256": img.sha256, "size": img.size,
            }}}},
        }},
    });
    write_streams(dir.path(), &products, &key, &key);
    // On the test's end of the API veth: the region runs in the lab's namespace.
    let mirror = serve_mirror_at(host_ip, dir.path().to_path_buf(), vec![]).await;
    let src = api
        .post_form(
            "/MAAS/api/2.0/boot-sources/",
            &[("url", &mirror.base)],
            &[("keyring_data", "mirror.gpg", &key.public())],
        )
        .await
        .expect(201)
        .json();
    api.post(
        &format!("/MAAS/api/2.0/boot-sources/{}/selections/", src["id"]),
        &[
            ("os", "debian"),
            ("release", "bookworm"),
            ("arches", "amd64"),
            ("subarches", "*"),
            ("labels", "*"),
        ],
    )
    .await
    .expect(201);
    api.post("/MAAS/api/2.0/boot-resources/?op=import", &[])
        .await
        .ok();
    let st = wait_import(api).await;
    assert_eq!(st["state"], "complete", "{st:#}");
    // Fetched whole from the mirror, checked against the signed product file.
    let log = mirror.log.lock().unwrap().clone();
    assert!(log.iter().any(|(p, _)| p == rel), "{log:?}");
    assert!(
        log.iter().any(|(p, _)| p.ends_with(".sjson")),
        "signed files: {log:?}"
    );
    ("debian/bookworm".to_string(), dir)
}

async fn debian_12_e2e(uefi: bool) {
    if !have("mmdebstrap") || !have("ssh") {
        assert!(
            std::env::var("CI").is_err(),
            "CI must provide mmdebstrap and ssh (scripts/peers/debian-image.sh)"
        );
        eprintln!("SKIP: needs mmdebstrap and ssh (scripts/peers/debian-image.sh)");
        return;
    }
    let ovmf = [
        "/usr/share/OVMF/OVMF_CODE.fd",
        "/usr/share/OVMF/OVMF_VARS.fd",
    ];
    let Some((mut lab, qemu)) =
        vm_lab(if uefi { 7 } else { 6 }, if uefi { &ovmf[..] } else { &[] })
    else {
        return;
    };
    let cache = std::env::var_os("INGOT_DEBIAN_IMAGE_CACHE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debian-image-cache")
        });
    let t = std::time::Instant::now();
    let img = ingot_images::debian::debian_image(&cache).expect("the Debian 12 image");
    eprintln!(
        "Debian 12 image: {} bytes, {} (waited {:?})",
        img.size,
        match img.built_in {
            Some(d) => format!("built by mmdebstrap in {d:?}"),
            None => "from the cache".into(),
        },
        t.elapsed()
    );
    let api = lab.start_region().await;
    // BIOS: the image comes from a simplestreams mirror whose index and product file are signed
    // by a key the boot source trusts, as MAAS's images do. UEFI: uploaded as python-libmaas
    // uploads a large image.
    let t = std::time::Instant::now();
    let (series, _mirror) = if uefi {
        (upload_debian(&api, &img).await, None)
    } else {
        let (series, dir) = import_debian(&api, &lab.host_ip, &img).await;
        (series, Some(dir))
    };
    eprintln!("{series}: ready in {:?}", t.elapsed());
    // A neighbour the deployed system must find by its short name (the search domain from the
    // network configuration) through the rack's DNS, and by its address (the PTR).
    api.post(
        "/MAAS/api/2.0/dnsresources/",
        &[("fqdn", "neighbour.maas"), ("ip_addresses", "10.77.0.99")],
    )
    .await
    .ok();

    // The owner's SSH key.
    let key = lab.dir.path().join("id_ed25519");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ingot-e2e", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "ssh-keygen: {out:?}");
    let pubkey = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    api.post(
        "/MAAS/api/2.0/account/prefs/sshkeys/",
        &[("key", pubkey.trim())],
    )
    .await
    .ok();

    let mac0 = "52:54:00:77:de:01";
    let disk = lab.dir.path().join("disk.raw");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(4 << 30)
        .unwrap();
    let mut extra = vec![
        "-drive".to_string(),
        format!("file={},if=none,id=d0,format=raw", disk.display()),
        "-device".into(),
        "virtio-blk-pci,drive=d0,serial=INGOT-DEBIAN-D0,bootindex=2".into(),
    ];
    if !uefi {
        // Two more disks for a RAID 1 made through the API and assembled by mdadm.
        for n in 1..=2 {
            let f = lab.dir.path().join(format!("raid{n}.raw"));
            std::fs::File::create(&f)
                .unwrap()
                .set_len(512 << 20)
                .unwrap();
            extra.extend([
                "-drive".to_string(),
                format!("file={},if=none,id=r{n},format=raw", f.display()),
                "-device".into(),
                format!("virtio-blk-pci,drive=r{n},serial=INGOT-RAID-{n}"),
            ]);
        }
    }
    if uefi {
        let vars = lab.dir.path().join("OVMF_VARS.fd");
        std::fs::copy(ovmf[1], &vars).unwrap();
        extra.extend([
            "-drive".to_string(),
            format!("if=pflash,format=raw,readonly=on,file={}", ovmf[0]),
            "-drive".to_string(),
            format!("if=pflash,format=raw,file={}", vars.display()),
        ]);
    }
    // BIOS: the whole path a user walks — the VM enlists itself, is commissioned, deployed and
    // logged into. UEFI: added by hand.
    let (vm, qmp, serial) = qemu_vm(&lab, &qemu, mac0, &extra).await;
    let sid = if uefi {
        qemu_machine_for(&api, "debianvm", mac0, &qmp).await
    } else {
        enlisted_machine(&api, "debianvm", mac0, &qmp, &serial).await
    };
    let t = std::time::Instant::now();
    api.op(&sid, "commission", &[("testing_scripts", "none")])
        .await
        .ok();
    let m = wait_status(&api, &sid, "Ready", 900, &serial).await;
    eprintln!("commissioned in {:?}", t.elapsed());
    let layout: Vec<String> = api
        .events(&sid)
        .await
        .iter()
        .filter(|e| e["type"] == "Storage layout")
        .map(|e| e["description"].as_str().unwrap_or("").to_string())
        .collect();
    eprintln!("{layout:?}");
    assert!(
        layout
            .iter()
            .any(|l| l.contains(if uefi { "UEFI" } else { "BIOS" })),
        "{layout:?}"
    );
    if uefi {
        // MAAS's LVM layout: the ESP, then the root on vgroot/lvroot (GRUB reads LVM; the
        // image's initramfs activates it).
        api.op(&sid, "set_storage_layout", &[("storage_layout", "lvm")])
            .await
            .ok();
    } else {
        // A RAID 1 of the two small disks, ext4 at /srv/mirror.
        let disk_id = |serial: &str| {
            m["blockdevice_set"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["serial"] == serial)
                .unwrap_or_else(|| panic!("no disk {serial}: {:#}", m["blockdevice_set"]))["id"]
                .to_string()
        };
        let (r1, r2) = (disk_id("INGOT-RAID-1"), disk_id("INGOT-RAID-2"));
        let raid = api
            .post(
                &format!("/MAAS/api/2.0/nodes/{sid}/raids/"),
                &[
                    ("name", "mirror"),
                    ("level", "raid-1"),
                    ("block_devices", &r1),
                    ("block_devices", &r2),
                ],
            )
            .await
            .ok()
            .json();
        let bd = format!("/MAAS/api/2.0/nodes/{sid}/blockdevices/{}/", raid["id"]);
        api.post(&format!("{bd}?op=format"), &[("fstype", "ext4")])
            .await
            .ok();
        api.post(&format!("{bd}?op=mount"), &[("mount_point", "/srv/mirror")])
            .await
            .ok();
    }
    let iface = m["interface_set"][0]["id"].as_i64().unwrap();
    api.post(
        &format!("/MAAS/api/2.0/nodes/{sid}/interfaces/{iface}/?op=link_subnet"),
        &[
            ("mode", "STATIC"),
            ("subnet", "10.77.0.0/24"),
            ("ip_address", "10.77.0.43"),
            ("default_gateway", "true"),
        ],
    )
    .await
    .ok();
    // What every deployed OS receives as vendor-data.
    for (name, value) in [
        ("ntp_servers", "10.77.0.1"),
        ("http_proxy", "http://10.77.0.1:3128/"),
    ] {
        api.post(
            "/MAAS/api/2.0/maas/?op=set_config",
            &[("name", name), ("value", value)],
        )
        .await
        .ok();
    }
    // A tag's kernel options reach the installed system's kernel command line (MAAS's tag
    // kernel_opts; the deploy's ephemeral boot gets them too).
    api.post(
        "/MAAS/api/2.0/tags/",
        &[("name", "sysrq"), ("kernel_opts", "sysrq_always_enabled")],
    )
    .await
    .ok();
    api.post(
        "/MAAS/api/2.0/tags/sysrq/?op=update_nodes",
        &[("add", &sid)],
    )
    .await
    .ok();
    use base64::Engine as _;
    let marker = format!("ud-{:08x}", rand::random::<u32>());
    // UEFI: the user-data script fails after its work (exit 3), as an operator's broken
    // script would: real cloud-init reports its final stage failed, the machine ends in
    // FAILED_DEPLOYMENT naming the module, and the system is up and reachable all the same.
    let user_data = format!(
        "#!/bin/sh\necho user-data-says {marker} > /dev/console\necho {marker} > /root/user-data-ran\n{}",
        if uefi { "exit 3\n" } else { "" }
    );
    let ud = base64::engine::general_purpose::STANDARD.encode(user_data);
    api.post(
        "/MAAS/api/2.0/machines/?op=allocate",
        &[("system_id", &sid)],
    )
    .await
    .ok();
    let t = std::time::Instant::now();
    api.op(
        &sid,
        "deploy",
        &[("distro_series", series.as_str()), ("user_data", &ud)],
    )
    .await
    .ok();
    // After the install the machine reboots into iPXE, the region answers "local disk", and
    // the firmware boots the disk: SeaBIOS on iPXE's exit, OVMF on its failing exit (the
    // disk's boot option, the removable-media path \EFI\BOOT\BOOTX64.EFI, comes next).
    let console_path = serial.clone();
    let want = if uefi {
        "Failed deployment"
    } else {
        "Deployed"
    };
    let m = wait_status_logging(&api, &sid, want, 1500, &console_path, t).await;
    eprintln!("{want} in {:?}", t.elapsed());
    if uefi {
        let why = m["error_description"].as_str().unwrap_or("");
        assert!(
            why.starts_with("Installation failed: modules-final (")
                && why.ends_with("): config-scripts-user failed"),
            "{why}"
        );
    } else {
        assert_eq!(m["netboot"], false, "{m:#}");
    }
    let console =
        String::from_utf8_lossy(&std::fs::read(&console_path).unwrap_or_default()).into_owned();
    for want in [
        "GRUB".to_string(),
        "Debian GNU/Linux 12".to_string(),
        format!("user-data-says {marker}"),
        "Authorized keys from /home/debian/.ssh/authorized_keys for user debian".to_string(),
    ] {
        assert!(
            console.contains(&want),
            "console lacks {want:?}:\n{}",
            &console[console.len().saturating_sub(8000)..]
        );
    }
    // The events come from Debian's cloud-init, through its webhook reporter.
    let evs: Vec<String> = api
        .events(&sid)
        .await
        .iter()
        .map(|e| format!("{} {}", e["type"], e["description"]))
        .collect();
    assert!(
        evs.iter().any(|e| e.contains("modules-final")),
        "{}",
        evs.join("\n")
    );
    // Over SSH, as the image's default user with the owner's key.
    let ssh = |cmd: &str, wait: Duration| {
        let t = std::time::Instant::now();
        loop {
            let out = ssh_once(&lab.lab, &key, "debian@10.77.0.43", cmd);
            if out.status.success() || t.elapsed() > wait {
                let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
                eprintln!("over SSH ({cmd}):\n{stdout}");
                assert!(
                    out.status.success(),
                    "ssh {cmd}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                return stdout;
            }
            std::thread::sleep(Duration::from_secs(3));
        }
    };
    let stdout = tokio::task::block_in_place(|| {
        ssh(
            "hostname; sudo cat /root/user-data-ran; cat /etc/debian_version; uname -r",
            Duration::from_secs(120),
        )
    });
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"debianvm"), "{stdout}");
    assert_eq!(lines.get(1), Some(&marker.as_str()), "{stdout}");
    assert!(
        lines.get(2).is_some_and(|v| v.starts_with("12.")),
        "{stdout}"
    );
    // The network-config and the vendor-data, as the installed system applied them.
    let state = "ip -4 -o addr show; ip route show default; cat /etc/resolv.conf; \
                 cat /etc/apt/apt.conf.d/90cloud-init-aptproxy; \
                 cat /etc/systemd/timesyncd.conf.d/cloud-init.conf; cloud-init status; \
                 cat /proc/cmdline; echo root on $(findmnt -no SOURCE /); \
                 cat /proc/mdstat; echo mirror on $(findmnt -no FSTYPE,SOURCE /srv/mirror); \
                 grep ^ARRAY /etc/mdadm/mdadm.conf || echo no arrays; \
                 echo by name $(getent hosts neighbour); echo by address $(getent hosts 10.77.0.99)";
    let applied = |out: &str| {
        for want in [
            "inet 10.77.0.43/24",
            "default via 10.77.0.1",
            "nameserver 10.77.0.1",
            "search maas",
            "http://10.77.0.1:3128/",
            "NTP=10.77.0.1",
            if uefi {
                "status: error"
            } else {
                "status: done"
            },
            " sysrq_always_enabled",
            // The rack's DNS, as the installed system's resolver asks it.
            "by name 10.77.0.99 neighbour.maas",
            "by address 10.77.0.99 neighbour.maas",
            if uefi {
                "root on /dev/mapper/vgroot-lvroot"
            } else {
                "root on /dev/"
            },
        ] {
            assert!(
                out.contains(want),
                "the installed system lacks {want:?}:\n{out}"
            );
        }
        // BIOS: the RAID 1 made through the API, assembled by the installed system's mdadm
        // under the name it was given, mounted from its fstab.
        if !uefi {
            for want in [
                "active raid1 ",
                "mirror on ext4 /dev/md",
                "ARRAY /dev/md/mirror metadata=1.2 name=debianvm:mirror UUID=",
            ] {
                assert!(
                    out.contains(want),
                    "the installed system lacks {want:?}:\n{out}"
                );
            }
        }
    };
    applied(&tokio::task::block_in_place(|| {
        ssh(state, Duration::from_secs(30))
    }));
    if !uefi {
        // A reboot: the same host name and address, and cloud-init finds its datasource again
        // (the NoCloud seed) and ends with no error; the region's machine stays DEPLOYED.
        let _ = tokio::task::block_in_place(|| {
            ssh_once(&lab.lab, &key, "debian@10.77.0.43", "sudo systemctl reboot")
        });
        let t = std::time::Instant::now();
        tokio::time::sleep(Duration::from_secs(20)).await;
        let out = tokio::task::block_in_place(|| {
            ssh(
                // SSH answers before cloud-init's second boot has finished: wait for it.
                &format!(
                    "hostname; cloud-init status --wait > /dev/null; {state}; cloud-init status --long"
                ),
                Duration::from_secs(600),
            )
        });
        eprintln!("rebooted and back in {:?}", t.elapsed());
        assert!(out.starts_with("debianvm\n"), "{out}");
        applied(&out);
        assert!(
            !out.contains("errors: ["),
            "cloud-init reported errors:\n{out}"
        );
        assert_eq!(api.machine(&sid).await["status_name"], "Deployed");
    }
    drop(vm);
}
