//! Two racks serving one VLAN, shown with real DHCP clients (busybox udhcpc) and a real TFTP
//! client (curl) in network namespaces the test makes:
//!
//! - a "switch" namespace holds the boot network (bridge br0, 10.75.N.1/24) and runs
//!   `ingot serve`, the region, with no rack of its own; the test reaches its API over an
//!   uplink (10.74.N.0/30);
//! - two namespaces run one `ingot rack` each: rack-a (10.75.N.2), the VLAN's primary, and
//!   rack-b (10.75.N.3), its secondary; the dynamic range is 10.75.N.100-199;
//! - client namespaces are the machines.
//!
//! What it shows:
//! 1. commissioning is refused (409, saying why) while the racks named on the boot VLAN are
//!    alive but their DHCP is not running, and accepted once it is;
//! 2. the primary hands out the lower half of the range (100-149), the secondary the upper
//!    half (150-199), as each client's `serverid` and each rack's lease log say;
//! 3. the primary killed (SIGKILL) while clients ask: every client still gets an address, from
//!    the secondary, and the boot file over TFTP from it; the time from the kill to the next
//!    answers is printed; a machine whose running DHCP client holds a lease from the primary
//!    finds its renewals unanswered, rebinds, is refused by the secondary (the address is
//!    outside its half) and binds again to one of the secondary's;
//! 4. the region killed: the secondary keeps answering DHCP and TFTP; restarted while the
//!    region is away it serves the configuration it kept on disk; the region back, a
//!    reservation made then reaches the rack and the client gets that address.
//!
//! Root only. Processes are killed by their own PIDs; the namespaces go on drop.

mod common;
use common::netns::{
    have, udhcpc, udhcpc_events, udhcpc_running, Lease, Netns, NsProc, Switch, Uplink,
};
use common::Client;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const API: &str = "/MAAS/api/2.0";
/// Machines asking at once.
const CLIENTS: usize = 4;
/// Each client's interface on the boot network.
const NIC: &str = "eth0";
/// The racks' DHCP lease time: short, so that a client renews (at half of it) and rebinds (at
/// seven eighths) within the test.
const LEASE_SECS: &str = "8";

struct Lab {
    n: u8,
    // Processes first: they are killed before their namespaces go.
    region: Option<NsProc>,
    racks: [Option<NsProc>; 2],
    rack_ns: [Netns; 2],
    clients: Vec<Netns>,
    /// A machine whose DHCP client keeps running (renewing, rebinding).
    holder: Netns,
    _uplink: Uplink,
    sw: Switch,
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let n = rand::random::<u8>();
        let sw = Switch::new(&format!("10.75.{n}.1/24"));
        let uplink = Uplink::new(
            &sw.ns,
            &format!("10.74.{n}.2/30"),
            &format!("10.74.{n}.1/30"),
        );
        let rack_ns = [Netns::new("ira"), Netns::new("irb")];
        for (i, ns) in rack_ns.iter().enumerate() {
            sw.plug(ns, "boot", Some(&format!("10.75.{n}.{}/24", 2 + i)));
        }
        let clients: Vec<Netns> = (0..CLIENTS)
            .map(|i| {
                let ns = Netns::new("irc");
                sw.plug(&ns, NIC, None);
                ns.ip(&[
                    "link",
                    "set",
                    NIC,
                    "address",
                    &common::mac(0x7e00 + i as u32),
                ]);
                ns
            })
            .collect();
        let holder = Netns::new("irh");
        sw.plug(&holder, NIC, None);
        holder.ip(&["link", "set", NIC, "address", &common::mac(0x7e10)]);
        Lab {
            n,
            holder,
            region: None,
            racks: [None, None],
            rack_ns,
            clients,
            _uplink: uplink,
            sw,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn ip(&self, host: u8) -> String {
        format!("10.75.{}.{host}", self.n)
    }

    fn cidr(&self) -> String {
        format!("10.75.{}.0/24", self.n)
    }

    fn rack_ip(&self, i: usize) -> String {
        self.ip(2 + i as u8)
    }

    fn db(&self) -> String {
        format!(
            "sqlite://{}",
            self.dir.path().join("ingot.sqlite").display()
        )
    }

    fn path(&self, p: &str) -> std::path::PathBuf {
        self.dir.path().join(p)
    }

    /// `ingot serve` (no rack) in the switch namespace, once it listens.
    async fn start_region(&mut self, log: &str) {
        let data = self.dir.path().to_string_lossy().to_string();
        let mut p = NsProc::ingot(
            &self.sw.ns.name,
            &[
                "serve",
                "--database",
                &self.db(),
                "--data-dir",
                &data,
                "--listen",
                "0.0.0.0:5240",
            ],
            self.path(log),
        );
        p.wait_log("listening on").await;
        self.region = Some(p);
    }

    /// `ingot rack` number `i` (rack-a, rack-b) in its namespace, reading its configuration
    /// every second.
    fn start_rack(&mut self, i: usize, log: &str) {
        let secret = std::fs::read_to_string(self.path("rack.secret")).expect("rack.secret");
        let region = format!("http://{}:5240/MAAS", self.ip(1));
        let (name, address) = (rack_name(i), self.rack_ip(i));
        let data = self.path(name).to_string_lossy().to_string();
        self.racks[i] = Some(NsProc::ingot(
            &self.rack_ns[i].name,
            &[
                "rack",
                "--region",
                &region,
                "--secret",
                secret.trim(),
                "--address",
                &address,
                "--name",
                name,
                "--interface",
                "boot",
                "--poll-secs",
                "1",
                "--dhcp-lease-secs",
                LEASE_SECS,
                "--no-dns",
                "--data-dir",
                &data,
            ],
            self.path(log),
        ));
    }

    fn rack(&mut self, i: usize) -> &mut NsProc {
        self.racks[i].as_mut().expect("rack running")
    }

    /// Kill rack `i` (or the region) with SIGKILL and wait until it is gone.
    fn kill(p: &mut Option<NsProc>) {
        let mut p = p.take().expect("running");
        p.signal("KILL");
        let _ = p.child.wait();
    }

    /// Every client asks once, all at the same time: what each got.
    fn ask_all(&self) -> Vec<Option<Lease>> {
        std::thread::scope(|s| {
            let asks: Vec<_> = self
                .clients
                .iter()
                .map(|c| s.spawn(|| udhcpc(c, NIC, self.dir.path(), 3, false)))
                .collect();
            asks.into_iter()
                .map(|a| a.join().expect("client thread"))
                .collect()
        })
    }

    /// Which half of the dynamic range `ip` is in: 0 the lower (100-149), 1 the upper.
    fn half(&self, ip: std::net::Ipv4Addr) -> Option<usize> {
        let o = ip.octets();
        if o[..3] != [10, 75, self.n] {
            return None;
        }
        match o[3] {
            100..=149 => Some(0),
            150..=199 => Some(1),
            _ => None,
        }
    }

    /// Which rack gave `l` (by its server identifier).
    fn rack_of(&self, l: &Lease) -> usize {
        (0..2)
            .find(|&i| l.server() == self.rack_ip(i))
            .unwrap_or_else(|| panic!("a lease from no rack: {l:?}"))
    }

    /// Each rack's lease log holds addresses of its own half only: (rack, address) of each
    /// bound record.
    fn logged_leases(&self) -> Vec<(usize, std::net::Ipv4Addr)> {
        let mut out = Vec::new();
        for i in 0..2 {
            let log = self.path(&format!("{}/rack/dhcp.leases", rack_name(i)));
            for l in std::fs::read_to_string(&log).unwrap_or_default().lines() {
                let w: Vec<&str> = l.split_whitespace().collect();
                if w.first() == Some(&"B") {
                    out.push((i, w[2].parse().expect("an address in the lease log")));
                }
            }
        }
        out
    }

    /// Fetch `file` over TFTP from `server` in client `c`'s namespace (its address is on its
    /// interface after a lease): the bytes.
    fn tftp(&self, c: usize, server: &str, file: &str) -> Vec<u8> {
        let out = self.path(&format!("tftp-{}", common::netns::unique("f")));
        let o = self.clients[c].run(&[
            "curl",
            "-s",
            "--max-time",
            "10",
            "-o",
            &out.to_string_lossy(),
            &format!("tftp://{server}/{file}"),
        ]);
        assert!(
            o.status.success(),
            "TFTP {file} from {server}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        std::fs::read(&out).expect("the file fetched")
    }
}

fn rack_name(i: usize) -> &'static str {
    ["rack-a", "rack-b"][i]
}

/// Poll `f` every 100 ms until it holds, `secs` at most; how long it took.
async fn until<F: std::future::Future<Output = bool>>(
    secs: u64,
    what: &str,
    mut f: impl FnMut() -> F,
) -> Duration {
    let t = Instant::now();
    while !f().await {
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "not within {secs} s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    t.elapsed()
}

/// The dhcpd service status of each named rack as `rackcontrollers/` shows it.
async fn dhcpd(api: &Client) -> HashMap<String, (String, String)> {
    let racks = api
        .get(&format!("{API}/rackcontrollers/"))
        .await
        .ok()
        .json();
    racks
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| {
            let d = r["service_set"]
                .as_array()
                .and_then(|s| s.iter().find(|s| s["name"] == "dhcpd"))
                .map(|s| s["status"].as_str().unwrap_or_default().to_string())
                .unwrap_or_default();
            (
                r["hostname"].as_str().unwrap_or_default().to_string(),
                (r["system_id"].as_str().unwrap_or_default().to_string(), d),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_racks_split_a_vlan_and_boot_machines_when_one_or_the_region_dies() {
    if common::skip_unless_root("network namespaces, DHCP and TFTP on their ports") {
        return;
    }
    for t in ["ip", "udhcpc", "curl"] {
        assert!(
            have(t),
            "{t} is missing (scripts/peers/tftp.sh installs it)"
        );
    }
    let loader = std::fs::read("/usr/lib/ipxe/undionly.kpxe")
        .expect("Debian's ipxe (scripts/peers/tftp.sh installs it)");
    let mut lab = Lab::new();
    let n = lab.n;
    let key = common::admin_key(&lab.db());
    lab.start_region("region-1.log").await;
    let api = Client::new(&format!("http://10.74.{n}.1:5240"), &key);
    api.post(
        &format!("{API}/subnets/"),
        &[("cidr", &lab.cidr()), ("gateway_ip", &lab.ip(1))],
    )
    .await
    .ok();
    api.post(
        &format!("{API}/ipranges/"),
        &[
            ("type", "dynamic"),
            ("start_ip", &lab.ip(100)),
            ("end_ip", &lab.ip(199)),
        ],
    )
    .await
    .ok();
    lab.start_rack(0, "rack-a-1.log");
    lab.start_rack(1, "rack-b-1.log");
    // Both register, and say their DHCP serves nothing (the VLAN's DHCP is off).
    until(15, "both racks registered, their DHCP off", || async {
        let d = dhcpd(&api).await;
        ["rack-a", "rack-b"]
            .iter()
            .all(|r| d.get(*r).is_some_and(|(_, s)| s == "off"))
    })
    .await;
    let d = dhcpd(&api).await;
    let (a, b) = (d["rack-a"].0.clone(), d["rack-b"].0.clone());

    // 1. No power-on before the serving racks' DHCP is up. Both racks are held (SIGSTOP) so
    // that neither reads the VLAN's new configuration yet: alive, DHCP not running.
    let m = api
        .create("waiting", &common::mac(0x7eff), &[("commission", "false")])
        .await;
    let sid = m["system_id"].as_str().expect("system_id").to_string();
    // Its NIC is on the boot VLAN (a machine whose VLAN is not known is not checked).
    let nic = m["interface_set"][0]["id"].to_string();
    api.post(
        &format!("{API}/nodes/{sid}/interfaces/{nic}/?op=link_subnet"),
        &[("mode", "DHCP"), ("subnet", &lab.cidr())],
    )
    .await
    .ok();
    lab.rack(0).signal("STOP");
    lab.rack(1).signal("STOP");
    api.put(
        &format!("{API}/fabrics/0/vlans/0/"),
        &[
            ("dhcp_on", "true"),
            ("primary_rack", &a),
            ("secondary_rack", &b),
        ],
    )
    .await
    .ok();
    let r = api.op(&sid, "commission", &[]).await.expect(409);
    let not_running = format!("its DHCP not running for {}", lab.cidr());
    assert!(
        r.body.contains("rack-a seen")
            && r.body.contains("rack-b seen")
            && r.body.contains(&not_running),
        "{}",
        r.body
    );
    assert_eq!(api.status(&sid).await, 0, "still NEW");
    lab.rack(0).signal("CONT");
    lab.rack(1).signal("CONT");
    let took = until(10, "commissioning accepted once DHCP runs", || async {
        let r = api.op(&sid, "commission", &[]).await;
        assert!(
            r.status.is_success() || r.status == 409,
            "{} {}",
            r.status,
            r.body
        );
        r.status.is_success()
    })
    .await;
    eprintln!("commissioning accepted {took:?} after the racks went on (poll 1 s)");
    let d = dhcpd(&api).await;
    assert_eq!(
        (d["rack-a"].1.as_str(), d["rack-b"].1.as_str()),
        ("running", "running")
    );
    api.op(&sid, "abort", &[]).await.ok();

    // 2. The split: all clients at once, with both racks up; then with each rack alone (the
    // other held), so that each is seen to answer whatever the race between them.
    let mut leases: Vec<(usize, Lease)> = Vec::new();
    let mut take = |lab: &Lab, what: &str| {
        for (c, l) in lab.ask_all().into_iter().enumerate() {
            let l = l.unwrap_or_else(|| panic!("client {c} got no lease ({what})"));
            leases.push((c, l));
        }
    };
    take(&lab, "both racks up");
    for held in [0, 1] {
        lab.rack(held).signal("STOP");
        take(&lab, &format!("{} held", rack_name(held)));
        lab.rack(held).signal("CONT");
    }
    let mut owner: HashMap<std::net::Ipv4Addr, (usize, usize)> = HashMap::new();
    let mut by_rack = [0, 0];
    for (c, l) in &leases {
        let (r, ip) = (lab.rack_of(l), l.ip());
        assert_eq!(
            lab.half(ip),
            Some(r),
            "{ip} from {} is outside its half",
            rack_name(r)
        );
        let first = *owner.entry(ip).or_insert((r, *c));
        assert_eq!(first, (r, *c), "{ip} given by two racks or to two clients");
        by_rack[r] += 1;
    }
    for (r, ip) in lab.logged_leases() {
        assert_eq!(
            lab.half(ip),
            Some(r),
            "{}'s lease log holds {ip}",
            rack_name(r)
        );
    }
    assert!(
        by_rack[0] >= CLIENTS && by_rack[1] >= CLIENTS,
        "{by_rack:?}"
    );
    eprintln!(
        "split: {} leases from rack-a (lower half), {} from rack-b (upper half)",
        by_rack[0], by_rack[1]
    );

    // 3. The primary dies (SIGKILL) while every client keeps asking, and while a machine
    // holds a lease from it with its DHCP client running (taken with rack-b held, so that
    // rack-a's offer is the one it takes).
    lab.rack(1).signal("STOP");
    let (holder, held_events) = udhcpc_running(&lab.holder, NIC, lab.dir.path());
    until(10, "the running client bound to rack-a", || async {
        udhcpc_events(&held_events)
            .iter()
            .any(|(e, _, sid)| e == "bound" && *sid == lab.rack_ip(0))
    })
    .await;
    lab.rack(1).signal("CONT");
    let held_ip: std::net::Ipv4Addr = udhcpc_events(&held_events)
        .iter()
        .find(|(e, _, _)| e == "bound")
        .and_then(|(_, ip, _)| ip.parse().ok())
        .expect("the bound address");
    assert_eq!(lab.half(held_ip), Some(0), "{held_ip} from rack-a");
    let stop = AtomicBool::new(false);
    let (killed, asked) = std::thread::scope(|s| {
        let loops: Vec<_> = lab
            .clients
            .iter()
            .map(|c| {
                let (stop, dir) = (&stop, lab.dir.path());
                s.spawn(move || {
                    let mut got = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let t0 = Instant::now();
                        let l = udhcpc(c, NIC, dir, 3, false);
                        got.push((t0, Instant::now(), l));
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    got
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(1500));
        let killed = Instant::now();
        Lab::kill(&mut lab.racks[0]);
        std::thread::sleep(Duration::from_secs(5));
        stop.store(true, Ordering::Relaxed);
        let asked: Vec<_> = loops
            .into_iter()
            .map(|l| l.join().expect("client loop"))
            .collect();
        (killed, asked)
    });
    let mut first_answer: Option<Duration> = None;
    let mut slowest = Duration::ZERO;
    for (c, tries) in asked.iter().enumerate() {
        let mut back: Option<Duration> = None;
        for (t0, t1, l) in tries {
            if *t0 > killed {
                let l = l
                    .as_ref()
                    .unwrap_or_else(|| panic!("client {c} got no lease after the kill"));
                assert_eq!(lab.rack_of(l), 1, "client {c}: {l:?} after rack-a died");
                assert_eq!(lab.half(l.ip()), Some(1), "{l:?}");
            }
            if *t1 > killed && l.as_ref().is_some_and(|l| lab.rack_of(l) == 1) {
                let after = *t1 - killed;
                back = Some(back.map_or(after, |b: Duration| b.min(after)));
            }
        }
        let back = back.unwrap_or_else(|| panic!("client {c} got no lease after the kill"));
        first_answer = Some(first_answer.map_or(back, |f| f.min(back)));
        slowest = slowest.max(back);
    }
    let first_answer = first_answer.expect("answers after the kill");
    // Who answered before the kill, and the exchanges the kill cut into (started before it,
    // ended after): how long those took.
    let mut before = [0, 0];
    let mut cut: Vec<Duration> = Vec::new();
    for (t0, t1, l) in asked.iter().flatten() {
        if *t1 <= killed {
            if let Some(l) = l {
                before[lab.rack_of(l)] += 1;
            }
        } else if *t0 <= killed {
            cut.push(*t1 - *t0);
        }
    }
    eprintln!(
        "failover: before the kill {} answers from rack-a, {} from rack-b (both answer every DISCOVER; a client takes the first offer); exchanges the kill cut into took {cut:?}",
        before[0], before[1]
    );
    eprintln!(
        "failover: rack-a killed -> first DHCP answer (from rack-b) after {first_answer:?}; every one of {CLIENTS} clients bound again within {slowest:?} (udhcpc, 1 s retry timeout)"
    );
    // Still netboots through the other: the PXE answer names rack-b, which serves the loader.
    let l = udhcpc(&lab.clients[0], NIC, lab.dir.path(), 3, true).expect("a PXE lease");
    assert_eq!(
        (l.server(), l.get("siaddr"), l.get("boot_file")),
        (
            lab.rack_ip(1).as_str(),
            lab.rack_ip(1).as_str(),
            "undionly.kpxe"
        ),
        "{l:?}"
    );
    assert!(
        lab.tftp(0, l.get("siaddr"), "undionly.kpxe") == loader,
        "the loader from rack-b"
    );

    // The running client: its renewals to rack-a go unanswered; at rebinding it asks every
    // server, and rack-b refuses rack-a's address (a NAK: outside its half). Busybox udhcpc
    // ignores a NAK from a server other than its lease's, so it keeps the address until the
    // lease ends, then starts over and binds to one of rack-b's.
    let seen_before = udhcpc_events(&held_events).len();
    let took = until(30, "the running client bound again, to rack-b", || async {
        udhcpc_events(&held_events)
            .iter()
            .skip(seen_before)
            .any(|(e, _, sid)| e == "bound" && *sid == lab.rack_ip(1))
    })
    .await;
    let events = udhcpc_events(&held_events);
    let after: Vec<&(String, String, String)> = events.iter().skip(seen_before).collect();
    let bound = after
        .iter()
        .position(|(e, _, sid)| e == "bound" && *sid == lab.rack_ip(1))
        .expect("bound to rack-b");
    assert!(
        after[..bound].iter().any(|(e, _, _)| e == "deconfig"),
        "rack-a's address given up before the new lease: {events:?}"
    );
    let (_, new_ip, _) = after[bound];
    let new_ip: std::net::Ipv4Addr = new_ip.parse().expect("an address");
    assert_eq!(lab.half(new_ip), Some(1), "{new_ip} from rack-b");
    let udhcpc_log = holder.log();
    assert!(
        udhcpc_log.contains("broadcasting renew"),
        "the client rebinds: {udhcpc_log}"
    );
    // What rack-b answered the rebinding client, as the region's netboot timeline has it.
    let holder_mac = lab.holder.mac(NIC);
    let refused = format!("REQUEST -> Naked {held_ip}");
    until(10, "rack-b's NAK of rack-a's address reported", || async {
        api.get(&format!("{API}/netboot-timeline/?mac={holder_mac}"))
            .await
            .ok()
            .json()
            .as_array()
            .is_some_and(|a| a.iter().any(|e| e["detail"].as_str() == Some(&refused)))
    })
    .await;
    eprintln!(
        "rebinding: the client holding {held_ip} from rack-a (lease {LEASE_SECS} s) was refused by rack-b at rebinding and bound to {new_ip} from rack-b {:?} after the kill, at its lease's end ({took:?} after the failover checks); its events: {events:?}",
        killed.elapsed()
    );
    drop(holder);

    // 4. The region dies: rack-b keeps answering DHCP and TFTP with what it has.
    Lab::kill(&mut lab.region);
    let l = udhcpc(&lab.clients[1], NIC, lab.dir.path(), 3, true).expect("a lease, region down");
    assert_eq!((lab.rack_of(&l), lab.half(l.ip())), (1, Some(1)), "{l:?}");
    assert!(lab.tftp(1, &lab.rack_ip(1), "undionly.kpxe") == loader);
    // …and restarted while the region is away, it serves the configuration it kept on disk.
    Lab::kill(&mut lab.racks[1]);
    lab.start_rack(1, "rack-b-2.log");
    lab.rack(1)
        .wait_log("serving the configuration last read")
        .await;
    lab.rack(1).wait_log("DHCP server running").await;
    let l = udhcpc(&lab.clients[2], NIC, lab.dir.path(), 3, false)
        .expect("a lease from the restarted rack, region down");
    assert_eq!((lab.rack_of(&l), lab.half(l.ip())), (1, Some(1)), "{l:?}");
    assert!(lab.tftp(2, &lab.rack_ip(1), "undionly.kpxe") == loader);

    // The region is back: a reservation made now reaches the rack, and the client gets it.
    lab.start_region("region-2.log").await;
    let back = Instant::now();
    let pinned = lab.ip(50);
    let mac = lab.clients[3].mac(NIC);
    api.post(
        &format!("{API}/ipaddresses/?op=reserve"),
        &[("ip", &pinned), ("mac", &mac)],
    )
    .await
    .ok();
    let clients = &lab.clients;
    let dir = lab.dir.path();
    let took = until(15, "the reservation reaches rack-b", || async {
        udhcpc(&clients[3], NIC, dir, 2, false).is_some_and(|l| l.get("ip") == pinned)
    })
    .await;
    eprintln!(
        "region back: a reservation made then was handed out {took:?} later ({:?} after the region started)",
        back.elapsed()
    );
    // The hops the rack reported for that client since (how the client got there).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let tl = api
        .get(&format!("{API}/netboot-timeline/?mac={mac}"))
        .await
        .ok()
        .json();
    let hops: Vec<&str> = tl
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["detail"].as_str()).collect())
        .unwrap_or_default();
    eprintln!(
        "its last DHCP hops: {:?}",
        &hops[hops.len().saturating_sub(6)..]
    );
    let log = lab.rack(1).log();
    assert!(!log.contains("panicked"), "{log}");
}
