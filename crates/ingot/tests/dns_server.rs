//! The rack's DNS server against real DNS programs (Debian's `dig` and BIND 9), in network
//! namespaces the test makes:
//!
//! - namespace `lab` runs `ingot serve` (region + rack, DNS on port 53), a BIND that is the
//!   upstream forwarder (authoritative for `example.test`) and a BIND that is a secondary of
//!   the rack's `maas` zone;
//! - namespace `cli` is a machine on the managed boot network (trusted: it may recurse);
//! - the test's own namespace reaches the lab over a link outside every managed subnet and
//!   outside the trusted ACL (authoritative answers only, no recursion, no zone transfer).
//!
//! It checks that `dig` gets the A/AAAA/PTR/CNAME/MX/SRV/TXT answers the API describes, that
//! a rename, a move to another domain, an address freed and a record added change the answers
//! with the SOA serial increased, that the secondary follows a change after NOTIFY (its SOA
//! refresh is ten minutes, so only the NOTIFY explains it), that forwarding works for the
//! trusted and is refused to others, and that garbage, truncated and oversized queries get no
//! crash and no amplification.

mod common;
use common::netns::{Netns, NsProc, Uplink};
use common::sh;
use common::{mac, Client};
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const API: &str = "/MAAS/api/2.0";

/// The namespaces and links; removed on drop (after the processes in them).
struct Lab {
    procs: Vec<NsProc>,
    _uplink: Uplink,
    lab: Netns,
    cli: Netns,
    /// The lab's end of the boot network, and the client's.
    boot_if: String,
    cli_if: String,
    /// The third octet of 10.80.N.0/30 (test ↔ lab) and 10.81.N.0/24 (the boot network).
    n: u8,
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let n = rand::random::<u8>();
        let (lab, cli) = (Netns::new("idl"), Netns::new("idc"));
        // The secondary and the upstream listen on their own loopback addresses in the lab.
        lab.ip(&["addr", "add", "127.0.0.2/32", "dev", "lo"]);
        lab.ip(&["addr", "add", "127.0.0.3/32", "dev", "lo"]);
        let uplink = Uplink::new(&lab, &format!("10.80.{n}.2/30"), &format!("10.80.{n}.1/30"));
        let (boot_if, cli_if) = (common::netns::unique("db"), common::netns::unique("dc"));
        lab.link(&boot_if, &cli, &cli_if);
        lab.ip(&["addr", "add", &format!("10.81.{n}.1/24"), "dev", &boot_if]);
        cli.ip(&["addr", "add", &format!("10.81.{n}.50/24"), "dev", &cli_if]);
        Lab {
            procs: Vec::new(),
            _uplink: uplink,
            lab,
            cli,
            boot_if,
            cli_if,
            n,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn rack(&self) -> String {
        format!("10.81.{}.1", self.n)
    }

    /// The lab's address as the test's namespace sees it.
    fn outside(&self) -> String {
        format!("10.80.{}.1", self.n)
    }

    fn spawn_in_lab(&mut self, args: &[&str], log: &str) {
        let log = self.dir.path().join(log);
        self.procs
            .push(NsProc::start(&self.lab.name, args, &[], log));
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// A BIND 9 in the lab on `addr`: `zones` is its zone statements.
    fn named(&mut self, tag: &str, addr: &str, zones: &str) {
        let d = self.dir.path().join(tag);
        std::fs::create_dir_all(&d).unwrap();
        let conf = format!(
            "options {{ directory \"{d}\"; pid-file \"{d}/named.pid\"; session-keyfile \"{d}/session.key\"; managed-keys-directory \"{d}\"; listen-on port 53 {{ {addr}; }}; listen-on-v6 {{ none; }}; recursion no; dnssec-validation no; notify no; allow-query {{ any; }}; }};\ncontrols {{ }};\n{zones}\n",
            d = d.display()
        );
        let path = d.join("named.conf");
        std::fs::write(&path, conf).unwrap();
        let path = path.to_string_lossy().to_string();
        self.spawn_in_lab(&["named", "-g", "-4", "-c", &path], &format!("{tag}.log"));
    }

    fn dig_in(&self, ns: Option<&str>, args: &[&str]) -> String {
        let mut all: Vec<&str> = Vec::new();
        if let Some(ns) = ns {
            all.extend(["ip", "netns", "exec", ns]);
        }
        all.extend(["dig", "+time=2", "+tries=1"]);
        all.extend_from_slice(args);
        String::from_utf8_lossy(&sh(&all).stdout).into_owned()
    }

    /// `dig +short` from the trusted client.
    fn short(&self, name: &str, t: &str) -> Vec<String> {
        let at = format!("@{}", self.rack());
        let mut v: Vec<String> = self
            .dig_in(Some(&self.cli.name), &[&at, "+short", name, t])
            .lines()
            .map(str::to_string)
            .filter(|l| !l.starts_with(";;"))
            .collect();
        v.sort();
        v
    }

    fn status(&self, ns: Option<&str>, server: &str, args: &[&str]) -> String {
        let at = format!("@{server}");
        let mut a = vec![at.as_str()];
        a.extend_from_slice(args);
        let out = self.dig_in(ns, &a);
        out.lines()
            .find_map(|l| l.split("status: ").nth(1))
            .map(|s| s.split(',').next().unwrap_or("").to_string())
            .unwrap_or_else(|| format!("no answer: {out}"))
    }

    fn serial(&self, server: &str, ns: Option<&str>, zone: &str) -> Option<u32> {
        let at = format!("@{server}");
        self.dig_in(ns, &[&at, "+short", zone, "SOA"])
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse().ok())
    }
}

impl Lab {
    /// Ask for a lease with busybox udhcpc from the client namespace (and give it back with
    /// `release`): what its script saw on "bound": state, `dns=…`, `domain=…`, `ip=…`. The
    /// address goes on the interface (udhcpc sends its RELEASE from it).
    fn udhcpc(&self, release: bool) -> Vec<String> {
        let words = |l: &common::netns::Lease| -> Vec<String> {
            ["dns", "domain", "ip"]
                .iter()
                .map(|k| format!("{k}={}", l.get(k)))
                .fold(vec!["bound".to_string()], |mut v, w| {
                    v.push(w);
                    v
                })
        };
        if !release {
            let got = (0..20).find_map(|_| {
                common::netns::udhcpc(&self.cli, &self.cli_if, self.dir.path(), 2, false)
            });
            return words(&got.expect("no lease"));
        }
        let seen = self.dir.path().join("udhcpc.env");
        let _ = std::fs::remove_file(&seen);
        let script = common::netns::udhcpc_script(
            self.dir.path(),
            "udhcpc",
            &format!(
                "echo \"$1 dns=$dns domain=$domain ip=$ip\" >> {}\n[ \"$1\" = bound ] && ip addr replace \"$ip/$mask\" dev \"$interface\"\nexit 0\n",
                seen.display()
            ),
        );
        let args = [
            "netns",
            "exec",
            &self.cli.name,
            "udhcpc",
            "-i",
            &self.cli_if,
            "-f",
            "-t",
            "2",
            "-T",
            "1",
            "-s",
            &script,
        ];
        let bound = || -> Option<Vec<String>> {
            let text = std::fs::read_to_string(&seen).unwrap_or_default();
            let l = text.lines().find(|l| l.starts_with("bound"))?;
            Some(l.split_whitespace().map(str::to_string).collect())
        };
        // A running udhcpc gives its lease back on SIGUSR2 (with -q it would not: it quits
        // before it counts itself bound).
        let mut child = Command::new("ip")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("udhcpc");
        let pid = child.id().to_string();
        let got = (0..200).find_map(|_| {
            std::thread::sleep(Duration::from_millis(100));
            bound()
        });
        let _ = sh(&["kill", "-USR2", &pid]);
        std::thread::sleep(Duration::from_millis(500));
        let _ = child.kill();
        let _ = child.wait();
        got.expect("udhcpc got no lease to release")
    }
}

/// Wait (up to `secs`) for `f` to hold; the time it took.
fn until(secs: u64, what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "not within {secs} s: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    t.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dig_and_bind_against_the_racks_dns() {
    let mut lab = Lab::new();
    let n = lab.n;
    let db = format!("sqlite://{}", lab.dir.path().join("ingot.sqlite").display());
    let key = common::admin_key(&db);
    let data = lab.dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let (data, rack) = (data.to_string_lossy().to_string(), lab.rack());
    let boot_if = lab.boot_if.clone();
    // DNS on the boot network and on the link to the outside (the lab's loopback addresses
    // are the two BINDs').
    let (on_boot, on_outside) = (format!("{rack}:53"), format!("{}:53", lab.outside()));
    lab.spawn_in_lab(
        &[
            common::BIN,
            "serve",
            "--database",
            &db,
            "--data-dir",
            &data,
            "--listen",
            "0.0.0.0:5240",
            "--rack-address",
            &rack,
            "--rack-interface",
            &boot_if,
            "--rack-poll-secs",
            "1",
            "--dns-listen",
            &on_boot,
            "--dns-listen",
            &on_outside,
        ],
        "ingot.log",
    );
    let c = Client::new(&format!("http://{}:5240", lab.outside()), &key);
    let version = c.url(&format!("{API}/version/"));
    for i in 0..200 {
        if reqwest::get(&version).await.is_ok() {
            break;
        }
        assert!(
            i < 199,
            "the region did not start: {}",
            lab.log("ingot.log")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The boot network is a managed subnet: its clients are trusted.
    c.post(
        &format!("{API}/subnets/"),
        &[("cidr", &format!("10.81.{n}.0/24")), ("gateway_ip", &rack)],
    )
    .await
    .ok();

    // A machine with a static address, a name with two addresses, and records.
    let sid = c.ready_machine("web-01", &mac(1), &[]).await;
    let m = c.machine(&sid).await;
    let iface = m["interface_set"][0]["id"].as_i64().unwrap();
    let ip = format!("10.81.{n}.20");
    c.post(
        &format!("{API}/nodes/{sid}/interfaces/{iface}/?op=link_subnet"),
        &[
            ("mode", "STATIC"),
            ("subnet", &format!("10.81.{n}.0/24")),
            ("ip_address", &ip),
        ],
    )
    .await
    .ok();
    c.post(
        &format!("{API}/dnsresources/"),
        &[
            ("fqdn", "db.maas"),
            ("ip_addresses", &format!("10.81.{n}.30 2001:db8::30")),
        ],
    )
    .await
    .ok();
    for (fqdn, t, d) in [
        ("www.maas", "CNAME", "web-01.maas"),
        ("maas", "MX", "10 web-01.maas"),
        ("_http._tcp.maas", "SRV", "0 5 80 web-01.maas"),
        ("maas", "TXT", "v=spf1 mx -all"),
    ] {
        c.post(
            &format!("{API}/dnsresourcerecords/"),
            &[("fqdn", fqdn), ("rrtype", t), ("rrdata", d)],
        )
        .await
        .ok();
    }
    // The rack polls every second, so it may pick up a zone between two of the writes above:
    // wait for the last write (the TXT record), which comes with every write before it.
    let api_serial_wait = until(15, "web-01.maas and the last record resolve", || {
        lab.short("web-01.maas", "A") == [ip.clone()]
            && lab.short("maas", "TXT") == ["\"v=spf1 mx -all\""]
    });
    eprintln!("first answer after {api_serial_wait:?}");

    // What dig gets is what the API holds.
    let res: serde_json::Value = c
        .get(&format!("{API}/dnsresources/?domain=maas"))
        .await
        .ok()
        .json();
    let db_res = res
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["fqdn"] == "db.maas")
        .unwrap_or_else(|| panic!("{res:#}"));
    let mut want: Vec<String> = db_res["ip_addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["ip"].as_str().unwrap().to_string())
        .collect();
    want.sort();
    let mut got = lab.short("db.maas", "A");
    got.extend(lab.short("db.maas", "AAAA"));
    got.sort();
    assert_eq!(got, want);
    let recs: serde_json::Value = c
        .get(&format!("{API}/dnsresourcerecords/?domain=maas"))
        .await
        .ok()
        .json();
    for r in recs.as_array().unwrap() {
        let (fqdn, t) = (r["fqdn"].as_str().unwrap(), r["rrtype"].as_str().unwrap());
        let data = r["rrdata"].as_str().unwrap();
        // dig writes names absolute and TXT quoted.
        let want = match t {
            "TXT" => format!("\"{data}\""),
            _ => format!("{data}."),
        };
        assert!(
            lab.short(fqdn, t).contains(&want),
            "{fqdn} {t}: {:?}, want {want}",
            lab.short(fqdn, t)
        );
    }
    assert_eq!(
        lab.short(&format!("20.{n}.81.10.in-addr.arpa"), "PTR"),
        ["web-01.maas."]
    );
    assert_eq!(
        lab.short(&format!("30.{n}.81.10.in-addr.arpa"), "PTR"),
        ["db.maas."]
    );
    // TCP and EDNS answer the same.
    let at = format!("@{rack}");
    let tcp = lab.dig_in(Some(&lab.cli.name), &[&at, "+tcp", "+short", "web-01.maas"]);
    assert_eq!(tcp.trim(), ip);
    let edns = lab.dig_in(
        Some(&lab.cli.name),
        &[&at, "+edns=0", "+bufsize=4096", "web-01.maas"],
    );
    assert!(edns.contains("EDNS: version: 0"), "{edns}");
    assert!(edns.contains("flags: qr aa"), "authoritative: {edns}");

    // The secondary: BIND transfers the zone from the rack and is told of changes.
    c.post(
        &format!("{API}/maas/?op=set_config"),
        &[("name", "dns_notify"), ("value", "127.0.0.3")],
    )
    .await
    .ok();
    lab.named(
        "secondary",
        "127.0.0.3",
        &format!("zone \"maas\" {{ type secondary; primaries {{ {rack}; }}; file \"maas.db\"; }};"),
    );
    until(20, "the secondary has the zone", || {
        lab.dig_in(
            Some(&lab.lab.name),
            &["@127.0.0.3", "+short", "web-01.maas"],
        )
        .trim()
            == ip
    });
    assert!(
        lab.log("secondary.log")
            .contains("Transfer status: success"),
        "{}",
        lab.log("secondary.log")
    );

    // Changes: each shows within a second or two, with the serial up.
    let before = lab
        .serial(&rack, Some(&lab.cli.name), "maas")
        .expect("a serial");
    c.put(&format!("{API}/machines/{sid}/"), &[("hostname", "web-02")])
        .await
        .ok();
    let took = until(5, "the rename shows", || {
        lab.short("web-02.maas", "A") == [ip.clone()] && lab.short("web-01.maas", "A").is_empty()
    });
    eprintln!("rename shown after {took:?}");
    let after = lab
        .serial(&rack, Some(&lab.cli.name), "maas")
        .expect("a serial");
    assert!(after > before, "serial {before} → {after}");
    assert_eq!(
        lab.short(&format!("20.{n}.81.10.in-addr.arpa"), "PTR"),
        ["web-02.maas."]
    );
    // The secondary follows through NOTIFY (its refresh is 600 s).
    let took = until(10, "the secondary follows the rename", || {
        lab.dig_in(
            Some(&lab.lab.name),
            &["@127.0.0.3", "+short", "web-02.maas"],
        )
        .trim()
            == ip
    });
    eprintln!("secondary updated after {took:?}");
    assert!(
        lab.log("secondary.log").contains("notify from"),
        "{}",
        lab.log("secondary.log")
    );

    // domains/?op=set_serial: checked, then every zone counts from it.
    for (bad, says) in [
        ("0", "1 to 4294967295"),
        ("4294967296", "1 to 4294967295"),
        ("soon", "Invalid serial number"),
    ] {
        let r = c
            .post(&format!("{API}/domains/?op=set_serial"), &[("serial", bad)])
            .await
            .expect(400);
        assert!(r.body.contains(says), "{bad}: {}", r.body);
    }
    c.post(
        &format!("{API}/domains/?op=set_serial"),
        &[("serial", "4000000000")],
    )
    .await
    .ok();
    until(5, "the serial set shows", || {
        lab.serial(&rack, Some(&lab.cli.name), "maas") == Some(4_000_000_000)
    });

    // Moved to another domain: the name follows, the old one is gone.
    c.post(&format!("{API}/domains/"), &[("name", "lab.example")])
        .await
        .ok();
    c.put(
        &format!("{API}/machines/{sid}/"),
        &[("domain", "lab.example")],
    )
    .await
    .ok();
    until(5, "the move shows", || {
        lab.short("web-02.lab.example", "A") == [ip.clone()]
            && lab.short("web-02.maas", "A").is_empty()
    });
    // A record added.
    c.post(
        &format!("{API}/dnsresourcerecords/"),
        &[
            ("fqdn", "info.maas"),
            ("rrtype", "TXT"),
            ("rrdata", "added"),
        ],
    )
    .await
    .ok();
    until(5, "the new record shows", || {
        lab.short("info.maas", "TXT") == ["\"added\""]
    });
    // The address freed: the name has nothing left.
    let m = c.machine(&sid).await;
    let link = m["interface_set"][0]["links"][0]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    c.post(
        &format!("{API}/nodes/{sid}/interfaces/{iface}/?op=unlink_subnet"),
        &[("id", &link)],
    )
    .await
    .ok();
    until(5, "the freed address is gone", || {
        lab.short("web-02.lab.example", "A").is_empty()
            && lab
                .short(&format!("20.{n}.81.10.in-addr.arpa"), "PTR")
                .is_empty()
    });

    // Forwarding: an upstream BIND answers example.test; the trusted client gets it through
    // the rack, the outside is refused, and it cannot transfer the zone either.
    let zone = lab.dir.path().join("upstream");
    std::fs::create_dir_all(&zone).unwrap();
    std::fs::write(
        zone.join("example.test.zone"),
        "$TTL 60\n@ IN SOA ns.example.test. root.example.test. 1 600 60 600 60\n@ IN NS ns.example.test.\nns IN A 192.0.2.53\nwww IN A 192.0.2.80\n",
    )
    .unwrap();
    lab.named(
        "upstream",
        "127.0.0.2",
        "zone \"example.test\" { type primary; file \"example.test.zone\"; };",
    );
    until(10, "the upstream answers", || {
        lab.dig_in(
            Some(&lab.lab.name),
            &["@127.0.0.2", "+short", "www.example.test"],
        )
        .trim()
            == "192.0.2.80"
    });
    c.post(
        &format!("{API}/maas/?op=set_config"),
        &[("name", "upstream_dns"), ("value", "127.0.0.2")],
    )
    .await
    .ok();
    until(5, "the trusted client is forwarded", || {
        lab.short("www.example.test", "A") == ["192.0.2.80"]
    });
    // Asked again, the forwarded answer comes with its TTL counted down, as a resolver's does.
    let ttl = || -> u32 {
        let out = lab.dig_in(
            Some(&lab.cli.name),
            &[&at, "+noall", "+answer", "www.example.test", "A"],
        );
        let fields: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(fields.get(4), Some(&"192.0.2.80"), "{out}");
        fields[1].parse().unwrap_or_else(|_| panic!("{out}"))
    };
    let first = ttl();
    std::thread::sleep(Duration::from_millis(2100));
    let again = ttl();
    assert!(
        first <= 60 && again + 2 <= first && again > 0,
        "TTL {first} then {again} two seconds later"
    );
    let outside = lab.outside();
    assert_eq!(
        lab.status(None, &outside, &["www.example.test"]),
        "REFUSED",
        "an untrusted client gets no recursion"
    );
    // …but authoritative answers, which is what the fleet's names are for.
    assert_eq!(lab.status(None, &outside, &["db.maas"]), "NOERROR");
    let axfr = lab.dig_in(None, &[&format!("@{outside}"), "maas", "AXFR"]);
    assert!(
        !axfr.contains("db.maas.") && axfr.contains("Transfer failed"),
        "{axfr}"
    );
    let axfr = lab.dig_in(Some(&lab.cli.name), &[&at, "maas", "AXFR"]);
    assert!(axfr.contains("db.maas."), "{axfr}");
    // The trusted ACL lets the outside in.
    c.post(
        &format!("{API}/maas/?op=set_config"),
        &[
            ("name", "dns_trusted_acl"),
            ("value", &format!("10.80.{n}.0/30")),
        ],
    )
    .await
    .ok();
    until(5, "the ACL lets the outside recurse", || {
        lab.status(None, &outside, &["www.example.test"]) == "NOERROR"
    });
    // A name forwarded a moment ago (TTL 60) that the region starts to serve itself: the new
    // answer comes within the usual second, not when the forwarded one would expire.
    c.post(
        &format!("{API}/domains/"),
        &[("name", "example.test"), ("authoritative", "true")],
    )
    .await
    .ok();
    c.post(
        &format!("{API}/dnsresources/"),
        &[
            ("fqdn", "www.example.test"),
            ("ip_addresses", &format!("10.81.{n}.77")),
        ],
    )
    .await
    .ok();
    until(
        5,
        "the region's www.example.test replaces the forwarded one",
        || lab.short("www.example.test", "A") == [format!("10.81.{n}.77")],
    );

    // Garbage, truncated and oversized queries: no crash, no amplification.
    let sock = UdpSocket::bind(format!("10.80.{n}.2:0")).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let good = query_bytes("db.maas");
    let mut sent = 0usize;
    let mut received = 0usize;
    let mut buf = [0u8; 65535];
    let mut cases: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xff; 3],
        good[..good.len() - 3].to_vec(),
        vec![0u8; 12],
        vec![0xab; 4000],
    ];
    let mut big = good.clone();
    big.extend(vec![0u8; 3000]);
    cases.push(big);
    for i in 0..200u32 {
        let len = 1 + (i as usize * 37) % 600;
        cases.push(
            (0..len)
                .map(|j| (i as usize * 131 + j * 17) as u8)
                .collect(),
        );
    }
    for p in &cases {
        sock.send_to(p, format!("{outside}:53")).unwrap();
        sent += p.len();
    }
    // Whatever comes back: never more than a minimal answer each.
    while let Ok((k, _)) = sock.recv_from(&mut buf) {
        received += k;
        assert!(k <= 512, "an answer of {k} bytes to garbage");
    }
    eprintln!("garbage: {sent} bytes sent, {received} bytes answered");
    assert!(
        received <= sent,
        "amplification: {received} bytes for {sent}"
    );
    assert_eq!(
        lab.status(None, &outside, &["db.maas"]),
        "NOERROR",
        "still serving"
    );

    // Machines are told: DHCP on the boot network names the rack as DNS server (option 6)
    // and the domain (option 15), as a real client (busybox udhcpc) reads them.
    c.post(
        &format!("{API}/ipranges/"),
        &[
            ("type", "dynamic"),
            ("start_ip", &format!("10.81.{n}.100")),
            ("end_ip", &format!("10.81.{n}.150")),
        ],
    )
    .await
    .ok();
    c.put(&format!("{API}/fabrics/0/vlans/0/"), &[("dhcp_on", "true")])
        .await
        .ok();
    // The client is a machine the region knows, with no configured address: named by its
    // lease while it holds one.
    let cli_mac = lab.cli.mac(&lab.cli_if);
    c.create("leased", &cli_mac, &[]).await;
    let told = lab.udhcpc(false);
    let (state, dns, domain, leased) = (&told[0], &told[1], &told[2], &told[3]);
    assert_eq!(state, "bound");
    assert_eq!(dns, &format!("dns={rack}"));
    assert_eq!(domain, "domain=maas");
    let leased = leased.trim_start_matches("ip=").to_string();
    until(5, "the leased machine resolves", || {
        lab.short("leased.maas", "A") == [leased.clone()]
    });
    // Given back (a RELEASE): the name goes.
    lab.udhcpc(true);
    let t = Instant::now();
    while !lab.short("leased.maas", "A").is_empty() {
        if t.elapsed() > Duration::from_secs(5) {
            let tl = c
                .get(&format!("{API}/netboot-timeline/?mac={cli_mac}"))
                .await
                .ok()
                .body;
            let addrs = lab.cli.ip(&["addr"]);
            let dhcp: Vec<String> = lab
                .log("ingot.log")
                .lines()
                .filter(|l| l.contains("dhcp"))
                .map(str::to_string)
                .collect();
            panic!(
                "the released lease is still in DNS; the DHCP hops: {tl}\n{addrs}\n{}",
                dhcp.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // …and that server answers for the domain it named.
    assert_eq!(lab.short("db.maas", "A"), [format!("10.81.{n}.30")]);

    let log = lab.log("ingot.log");
    assert!(!log.contains("panicked"), "{log}");
}

/// A DNS query for `name` A, as the wire has it.
fn query_bytes(name: &str) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend(label.as_bytes());
    }
    q.extend([0, 0, 1, 0, 1]);
    q
}
