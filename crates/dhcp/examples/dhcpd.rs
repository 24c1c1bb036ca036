//! Stand-alone DHCP server for benchmarks and manual tests.
//!
//! ```text
//! dhcpd --config ingot-dhcp.json
//! dhcpd --server-ip 10.66.0.1 --iface veth-srv --subnet 10.66.0.0/16 \
//!       --range 10.66.1.1-10.66.255.254 --lease-file /tmp/ingot-leases.log \
//!       [--listen 0.0.0.0:67] [--mode known_only|allow_enlistment] [--lease-time 3600] \
//!       [--router IP] [--dns IP] [--reserve MAC=IP]... \
//!       [--tftp IP --http-base URL --ipxe-script URL-TEMPLATE]
//! ```
//! Logs go to stderr (RUST_LOG, default `info`). SIGTERM / SIGINT stop it cleanly.

use std::net::Ipv4Addr;
use std::process::ExitCode;

use ingot_dhcp::{BootConfig, Config, DhcpServer, Mode, Range, Reservation, SubnetConfig};

fn usage() -> ExitCode {
    eprintln!(
        "{}",
        include_str!("dhcpd.rs")
            .lines()
            .skip(2)
            .take(9)
            .collect::<Vec<_>>()
            .join("\n")
    );
    ExitCode::from(2)
}

fn parse_args() -> Result<Config, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    let mut json: Option<String> = None;
    let mut server_ip: Option<Ipv4Addr> = None;
    let mut iface = None;
    let mut listen = None;
    let mut subnet = None;
    let mut ranges = Vec::new();
    let mut lease_file = None;
    let mut mode = Mode::AllowEnlistment;
    let mut lease_time = 3600;
    let mut router = None;
    let mut dns = Vec::new();
    let mut reservations = Vec::new();
    let (mut tftp, mut http_base, mut ipxe) = (None, None, None);
    fn val<'a>(it: &mut impl Iterator<Item = &'a String>, f: &str) -> Result<&'a String, String> {
        it.next().ok_or_else(|| format!("{f} needs a value"))
    }
    fn ip(s: &str) -> Result<Ipv4Addr, String> {
        s.parse().map_err(|_| format!("bad IPv4 address {s:?}"))
    }
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--config" => json = Some(val(&mut it, flag)?.clone()),
            "--server-ip" => server_ip = Some(ip(val(&mut it, flag)?)?),
            "--iface" => iface = Some(val(&mut it, flag)?.clone()),
            "--listen" => {
                listen = Some(
                    val(&mut it, flag)?
                        .parse()
                        .map_err(|_| "bad --listen".to_string())?,
                )
            }
            "--subnet" => subnet = Some(val(&mut it, flag)?.parse()?),
            "--range" => {
                let v = val(&mut it, flag)?;
                let (a, b) = v.split_once('-').ok_or("range is START-END")?;
                ranges.push(Range {
                    start: ip(a)?,
                    end: ip(b)?,
                });
            }
            "--lease-file" => lease_file = Some(val(&mut it, flag)?.into()),
            "--mode" => {
                mode = match val(&mut it, flag)?.as_str() {
                    "known_only" => Mode::KnownOnly,
                    "allow_enlistment" => Mode::AllowEnlistment,
                    m => return Err(format!("unknown mode {m}")),
                }
            }
            "--lease-time" => {
                lease_time = val(&mut it, flag)?
                    .parse()
                    .map_err(|_| "bad --lease-time".to_string())?
            }
            "--router" => router = Some(ip(val(&mut it, flag)?)?),
            "--dns" => dns.push(ip(val(&mut it, flag)?)?),
            "--reserve" => {
                let v = val(&mut it, flag)?;
                let (m, a) = v.split_once('=').ok_or("reserve is MAC=IP")?;
                reservations.push(Reservation {
                    mac: m.to_string(),
                    ip: ip(a)?,
                    hostname: None,
                });
            }
            "--tftp" => tftp = Some(ip(val(&mut it, flag)?)?),
            "--http-base" => http_base = Some(val(&mut it, flag)?.clone()),
            "--ipxe-script" => ipxe = Some(val(&mut it, flag)?.clone()),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if let Some(path) = json {
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        return Config::from_json(&text).map_err(|e| format!("{path}: {e}"));
    }
    let server_ip = server_ip.ok_or("--server-ip is required")?;
    let cidr = subnet.ok_or("--subnet is required")?;
    let mut cfg = Config::new(
        server_ip,
        SubnetConfig {
            cidr,
            ranges,
            router,
            dns,
            lease_time,
            next_server: None,
            domain_name: None,
        },
    );
    cfg.interface = iface;
    if let Some(l) = listen {
        cfg.listen = l;
    }
    cfg.lease_file = lease_file;
    cfg.mode = mode;
    cfg.reservations = reservations;
    if let Some(t) = tftp {
        let base = http_base.unwrap_or_else(|| format!("http://{t}:5248/boot/"));
        let script =
            ipxe.unwrap_or_else(|| format!("http://{t}:5248/ipxe/boot.ipxe?mac=${{net0/mac}}"));
        cfg.boot = Some(BootConfig::new(t, &base, &script));
    }
    Ok(cfg)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cfg = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("dhcpd: {e}");
            }
            return usage();
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dhcpd: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let res = rt.block_on(async move {
        let server = DhcpServer::bind(cfg)?;
        let shutdown = async {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return std::future::pending().await,
                };
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
        };
        server.run(shutdown).await
    });
    match res {
        Ok(stats) => {
            eprintln!("dhcpd: stopped: {stats:?}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dhcpd: {e}");
            ExitCode::FAILURE
        }
    }
}
