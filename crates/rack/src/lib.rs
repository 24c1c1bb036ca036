//! Rack services: DHCP (`dhcp_service.rs`) and TFTP for network boot, and DNS (`dns.rs`),
//! configured from the region (whose database is the one source of truth; the last
//! configuration read is kept on disk, `cache.rs`) and reporting every hop back into the
//! per-MAC netboot timeline.
//! `ingot rack --region URL --secret S` runs this against a remote region; `ingot serve` runs the
//! same code against itself over loopback, so both modes take the same path.

pub mod cache;
pub mod dhcp_service;
pub mod dns;
pub mod host;
pub mod images;
pub mod metrics;

use async_trait::async_trait;
use ingot_core::rack::{RackConfig, RackDns, RackEvent, RackLease};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
pub use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum RackError {
    #[error("region: {0}")]
    Region(String),
    #[error("DHCP: {0}")]
    Dhcp(String),
    #[error("TFTP: {0}")]
    Tftp(String),
    #[error("DNS: {0}")]
    Dns(String),
    #[error("configuration cache: {0}")]
    Cache(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// How the rack talks to its region.
#[async_trait]
pub trait RegionLink: Send + Sync {
    /// The rack's configuration; `dhcp` is what the rack reports with it: the subnets (CIDRs)
    /// its DHCP server is answering for right now.
    async fn config(&self, dhcp: &[String]) -> Result<RackConfig, RackError>;
    async fn report(&self, events: &[RackEvent]) -> Result<(), RackError>;
    /// What DNS serves, unless `serial` is already the region's (`None`; the region may wait
    /// up to a second for it to move before saying so: a long poll).
    async fn dns(&self, serial: Option<i64>) -> Result<Option<RackDns>, RackError>;
    /// The region's URL (`http://…/MAAS`) images are fetched from by content address into the
    /// rack's cache; `None` serves no images.
    fn region_url(&self) -> Option<String> {
        None
    }
    /// How the region's certificate is trusted, for the image cache's fetches too.
    fn trust(&self) -> ingot_tls::Trust {
        ingot_tls::Trust::WebRoots
    }
}

/// How long the region may hold a `GET rack/dns` open waiting for a change (it answers at
/// once when the serial moves).
const DNS_WAIT: Duration = Duration::from_secs(1);

/// The region over HTTP, with the rack secret.
pub struct HttpLink {
    base: String,
    secret: String,
    http: reqwest::Client,
    trust: ingot_tls::Trust,
    /// `name=…&address=…&version=…`: how this rack registers (sent with each config read).
    identity: String,
}

impl HttpLink {
    /// `region` is the region's URL, e.g. `http://10.0.0.1:5240/MAAS` (or `https://…`, its
    /// certificate checked as `trust` says).
    pub fn new(
        region: &str,
        secret: &str,
        trust: &ingot_tls::Trust,
    ) -> Result<HttpLink, RackError> {
        let http = trust
            .client_builder()
            .map_err(|e| RackError::Region(e.to_string()))?
            .timeout(Duration::from_secs(15))
            .no_proxy()
            .build()
            .map_err(|e| RackError::Region(e.to_string()))?;
        Ok(HttpLink {
            base: region.trim_end_matches('/').to_string(),
            secret: secret.trim().to_string(),
            http,
            trust: trust.clone(),
            identity: String::new(),
        })
    }

    /// Register as `name` (this host's name) at `address` on the boot network: the region
    /// lists the rack under `rackcontrollers/` and each configuration read refreshes it.
    pub fn with_identity(mut self, name: &str, address: &str) -> HttpLink {
        self.identity = form_urlencoded::Serializer::new(String::new())
            .append_pair("name", name)
            .append_pair("address", address)
            .append_pair("version", env!("CARGO_PKG_VERSION"))
            .finish();
        self
    }

    /// Also send the host's hardware UUID and physical MACs, so that the region finds the
    /// machine this rack runs on (controllers appear as machines).
    pub fn with_host(mut self, host: &host::HostIdentity) -> HttpLink {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        if let Some(u) = &host.hardware_uuid {
            ser.append_pair("hardware_uuid", u);
        }
        for m in &host.macs {
            ser.append_pair("mac", m);
        }
        let extra = ser.finish();
        if !extra.is_empty() {
            if !self.identity.is_empty() {
                self.identity.push('&');
            }
            self.identity.push_str(&extra);
        }
        self
    }
}

/// This host's name (`/proc/sys/kernel/hostname`, else "rack").
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "rack".into())
}

#[async_trait]
impl RegionLink for HttpLink {
    fn region_url(&self) -> Option<String> {
        Some(self.base.clone())
    }
    fn trust(&self) -> ingot_tls::Trust {
        self.trust.clone()
    }
    async fn config(&self, dhcp: &[String]) -> Result<RackConfig, RackError> {
        let query = {
            let mut q = form_urlencoded::Serializer::new(self.identity.clone());
            // Always sent (empty when DHCP serves nothing): the region tells "not running"
            // from a rack that does not report.
            if dhcp.is_empty() {
                q.append_pair("dhcp", "");
            }
            for cidr in dhcp {
                q.append_pair("dhcp", cidr);
            }
            q.finish()
        };
        let r = self
            .http
            .get(format!("{}/rack/config?{query}", self.base))
            .bearer_auth(&self.secret)
            .send()
            .await
            .map_err(|e| RackError::Region(ingot_tls::describe(&e)))?;
        if !r.status().is_success() {
            return Err(RackError::Region(format!(
                "GET rack/config: {}",
                r.status()
            )));
        }
        r.json()
            .await
            .map_err(|e| RackError::Region(format!("rack/config: {e}")))
    }
    async fn dns(&self, serial: Option<i64>) -> Result<Option<RackDns>, RackError> {
        let url = match serial {
            Some(n) => format!(
                "{}/rack/dns?serial={n}&wait_ms={}",
                self.base,
                DNS_WAIT.as_millis()
            ),
            None => format!("{}/rack/dns", self.base),
        };
        let r = self
            .http
            .get(url)
            .bearer_auth(&self.secret)
            .send()
            .await
            .map_err(|e| RackError::Region(ingot_tls::describe(&e)))?;
        if r.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        if !r.status().is_success() {
            return Err(RackError::Region(format!("GET rack/dns: {}", r.status())));
        }
        // A fleet's zones are megabytes of JSON: read off the runtime threads.
        let body = r
            .bytes()
            .await
            .map_err(|e| RackError::Region(format!("rack/dns: {e}")))?;
        tokio::task::spawn_blocking(move || serde_json::from_slice::<RackDns>(&body))
            .await
            .map_err(|e| RackError::Region(format!("rack/dns: {e}")))?
            .map(Some)
            .map_err(|e| RackError::Region(format!("rack/dns: {e}")))
    }
    async fn report(&self, events: &[RackEvent]) -> Result<(), RackError> {
        let r = self
            .http
            .post(format!("{}/rack/events?{}", self.base, self.identity))
            .bearer_auth(&self.secret)
            .json(events)
            .send()
            .await
            .map_err(|e| RackError::Region(ingot_tls::describe(&e)))?;
        if !r.status().is_success() {
            return Err(RackError::Region(format!(
                "POST rack/events: {}",
                r.status()
            )));
        }
        Ok(())
    }
}

/// A DHCP lease's length when none is asked for: MAAS's (`default-lease-time 600` in the
/// `dhcpd.conf` it writes).
pub const DEFAULT_LEASE_SECS: u32 = 600;

/// Where and how the rack serves.
#[derive(Debug, Clone)]
pub struct RackOptions {
    /// The rack's address on the boot network (DHCP server identifier, TFTP next-server).
    pub address: Ipv4Addr,
    /// Interface DHCP binds to (SO_BINDTODEVICE); `None` answers on every interface.
    pub interface: Option<String>,
    /// State: the lease log and the TFTP root.
    pub data_dir: PathBuf,
    pub dhcp_listen: SocketAddr,
    pub tftp_listen: SocketAddr,
    /// Where DNS answers (UDP and TCP on each); empty: no DNS.
    pub dns_listen: Vec<SocketAddr>,
    /// How often the configuration is fetched again.
    pub poll: Duration,
    /// Where Debian's iPXE binaries are (copied into the TFTP root).
    pub ipxe_dir: PathBuf,
    /// How long a DHCP lease lasts, in seconds.
    pub lease_secs: u32,
    /// Where images fetched from the region are kept (default `DATA_DIR/image-cache`); the
    /// rack inside `ingot serve` uses the region's own `images/` directory.
    pub image_cache: Option<PathBuf>,
}

impl RackOptions {
    pub fn new(address: Ipv4Addr, data_dir: PathBuf) -> RackOptions {
        RackOptions {
            address,
            interface: None,
            data_dir,
            dhcp_listen: SocketAddr::from(([0, 0, 0, 0], 67)),
            tftp_listen: SocketAddr::new(IpAddr::V4(address), 69),
            dns_listen: vec![SocketAddr::new(IpAddr::V4(address), 53)],
            poll: Duration::from_secs(10),
            ipxe_dir: PathBuf::from("/usr/lib/ipxe"),
            lease_secs: DEFAULT_LEASE_SECS,
            image_cache: None,
        }
    }
}

/// The DHCP configuration for a rack configuration: every managed IPv4 subnet with DHCP on and
/// a dynamic range. `None` when there is nothing to serve.
pub fn dhcp_config(
    cfg: &RackConfig,
    opts: &RackOptions,
) -> Result<Option<ingot_dhcp::Config>, RackError> {
    let mut subnets = Vec::new();
    let mut served: Vec<ingot_dhcp::config::Cidr> = Vec::new();
    for s in cfg
        .subnets
        .iter()
        .filter(|s| s.dhcp_on && !s.dynamic_ranges.is_empty())
    {
        let Ok(cidr) = s.cidr.parse::<ingot_dhcp::config::Cidr>() else {
            continue;
        };
        served.push(cidr);
        let ranges: Vec<serde_json::Value> = s
            .dynamic_ranges
            .iter()
            .map(|(a, b)| serde_json::json!({"start": a, "end": b}))
            .collect();
        // DNS servers (option 6): this rack first when the subnet uses the rack's DNS and the
        // rack serves it, then the subnet's own; the domain (option 15) with the rack's DNS.
        let ours = s.allow_dns && !opts.dns_listen.is_empty();
        let mut dns: Vec<Ipv4Addr> = Vec::new();
        if ours {
            dns.push(opts.address);
        }
        for d in s
            .dns_servers
            .iter()
            .filter_map(|d| d.parse::<Ipv4Addr>().ok())
        {
            if !dns.contains(&d) {
                dns.push(d);
            }
        }
        subnets.push(serde_json::json!({
            "cidr": cidr.to_string(), "ranges": ranges,
            "router": s.gateway_ip.as_ref().filter(|g| g.parse::<Ipv4Addr>().is_ok()),
            "dns": dns,
            "domain_name": (ours && !cfg.domain.is_empty()).then_some(&cfg.domain),
            "lease_time": opts.lease_secs,
        }));
    }
    if subnets.is_empty() {
        return Ok(None);
    }
    // Reservations DHCP can honour: IPv4, inside a subnet this rack serves, outside its dynamic
    // ranges (the region validated that; a stale one is skipped rather than failing the rack).
    let reservations: Vec<serde_json::Value> = cfg
        .hosts
        .iter()
        .filter_map(|h| {
            let ip: Ipv4Addr = h.ip.as_deref()?.parse().ok()?;
            served
                .iter()
                .any(|c| c.contains(ip))
                .then(|| serde_json::json!({"mac": h.mac, "ip": ip}))
        })
        .collect();
    let region = cfg.region_url.trim_end_matches('/');
    let doc = serde_json::json!({
        "server_ip": opts.address,
        "listen": opts.dhcp_listen,
        "interface": opts.interface,
        "subnets": subnets,
        // With enlistment off only the region's machines are answered (from the dynamic range);
        // what anyone boots is still the region's boot decision.
        "mode": if cfg.unknown_machines == "ignore" { "known_only" } else { "allow_enlistment" },
        "known_macs": cfg.hosts.iter().map(|h| h.mac.as_str()).collect::<Vec<_>>(),
        "reservations": reservations,
        "boot": {
            "tftp_server": opts.address,
            "http_base_url": format!("{region}/boot/files/"),
            "ipxe_script_url": format!("{region}/boot/ipxe?mac={{mac}}&arch=amd64&firmware=ipxe"),
        },
        "lease_file": opts.data_dir.join("dhcp.leases"),
    });
    ingot_dhcp::Config::from_json(&doc.to_string())
        .map(Some)
        .map_err(|e| RackError::Dhcp(e.to_string()))
}

/// Copy the iPXE first-stage loaders into the TFTP root (following Debian's symlinks).
pub fn prepare_tftp_root(ipxe_dir: &Path, root: &Path) -> Result<usize, RackError> {
    std::fs::create_dir_all(root)?;
    let mut n = 0;
    for f in ["undionly.kpxe", "ipxe.efi", "snponly.efi", "ipxe.pxe"] {
        let src = ipxe_dir.join(f);
        if let Ok(bytes) = std::fs::read(&src) {
            let dst = root.join(f);
            std::fs::write(&dst, bytes)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o644))?;
            }
            n += 1;
        }
    }
    Ok(n)
}

/// Netboot hops waiting to be reported, and which MAC holds which address (TFTP knows only IPs).
#[derive(Default)]
struct Hops {
    queue: Vec<RackEvent>,
    ip_to_mac: HashMap<Ipv4Addr, String>,
}

fn dhcp_hop(h: &Mutex<Hops>, e: ingot_dhcp::DhcpEvent) {
    let mac = e.mac.to_string();
    let msg = match e.message {
        1 => "DISCOVER",
        3 => "REQUEST",
        4 => "DECLINE",
        7 => "RELEASE",
        8 => "INFORM",
        _ => "message",
    };
    let mut detail = format!("{msg} -> {:?}", e.kind);
    if let Some(ip) = e.ip {
        detail.push_str(&format!(" {ip}"));
    }
    if let Some(a) = e.arch {
        detail.push_str(&format!(", arch {a:?}"));
    }
    if e.is_ipxe {
        detail.push_str(", iPXE");
    }
    if let Some(r) = e.relay {
        detail.push_str(&format!(", via relay {r}"));
    }
    if let Some(f) = &e.boot_file {
        detail.push_str(&format!(", next: {f}"));
    }
    metrics::dhcp(e.kind);
    // An ACK's event carries the lease it granted: the region hears the length the machine
    // was given, not a default of its own.
    let lease = match (e.kind, e.ip, e.lease_secs) {
        (ingot_dhcp::EventKind::Acked, Some(ip), Some(seconds)) => Some(RackLease {
            ip: ip.to_string(),
            seconds,
        }),
        (ingot_dhcp::EventKind::Released, Some(ip), _) => Some(RackLease {
            ip: ip.to_string(),
            seconds: 0,
        }),
        _ => None,
    };
    let mut h = h.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(ip) = e.ip {
        h.ip_to_mac.insert(ip, mac.clone());
    }
    h.queue.push(RackEvent {
        mac,
        hop: "dhcp".into(),
        detail,
        lease,
    });
}

fn tftp_hop(h: &Mutex<Hops>, e: &ingot_tftp::TftpEvent) {
    metrics::tftp(&e.kind);
    let mut h = h.lock().unwrap_or_else(|p| p.into_inner());
    let IpAddr::V4(ip) = e.client.ip() else {
        return;
    };
    let Some(mac) = h.ip_to_mac.get(&ip).cloned() else {
        return;
    };
    h.queue.push(RackEvent {
        mac,
        hop: "tftp".into(),
        detail: format!("{} {:?}", e.path, e.kind),
        lease: None,
    });
}

/// Run the rack until `stop` is cancelled: fetch the configuration (reporting with each read
/// the subnets DHCP is answering for), serve TFTP, serve DHCP (restarted when its
/// configuration changes or it stopped), report hops every second. The last configuration
/// read is kept on disk ([`cache`]): a rack started while its region is unreachable serves
/// it until the region answers; one that loses its region keeps serving what it has. Every
/// task of the rack observes `stop`: the configuration loop ends, the DHCP thread commits
/// what it still holds to the lease log and ends, TFTP stops taking requests, and the hops
/// not yet reported are sent once more (for at most [`FINAL_REPORT`]). Returns when all of
/// that is done.
pub async fn run(
    link: Arc<dyn RegionLink>,
    opts: RackOptions,
    stop: CancellationToken,
) -> Result<(), RackError> {
    let hops = Arc::new(Mutex::new(Hops::default()));
    let root = opts.data_dir.join("tftp");
    let loaders = prepare_tftp_root(&opts.ipxe_dir, &root)?;
    if loaders == 0 {
        tracing::warn!(
            "no iPXE loaders in {} (Debian package ipxe): PXE ROMs that are not iPXE cannot boot",
            opts.ipxe_dir.display()
        );
    }
    let h2 = hops.clone();
    // TFTP serves the loaders, and `images/<sha256>` from the image cache (fetched from the
    // region by content address on first request, checked, kept).
    let tftp_err = |e: std::io::Error| RackError::Tftp(format!("{}: {e}", opts.tftp_listen));
    let tftp = match link.region_url() {
        Some(region) => {
            let source = images::CachingSource {
                root: ingot_tftp::DirSource::new(&root).map_err(tftp_err)?,
                cache: Arc::new(images::ImageCache::new(
                    opts.image_cache
                        .clone()
                        .unwrap_or_else(|| opts.data_dir.join("image-cache")),
                    &region,
                    &link.trust(),
                )?),
            };
            ingot_tftp::TftpServer::bind(opts.tftp_listen, source, Default::default()).await
        }
        None => ingot_tftp::TftpServer::bind_dir(opts.tftp_listen, &root, Default::default()).await,
    }
    .map_err(tftp_err)?
    .on_event(move |e| tftp_hop(&h2, e));
    let tftp_stop = stop.clone();
    let tftp_task = tokio::spawn(async move {
        tokio::select! {
            r = tftp.run() => if let Err(e) = r {
                tracing::error!("TFTP server stopped: {e}");
            },
            _ = tftp_stop.cancelled() => {}
        }
    });
    // DNS: a rack that cannot bind its DNS ports still boots machines; it says why.
    let dns_task = (!opts.dns_listen.is_empty()).then(|| {
        let (l, listen, st) = (link.clone(), opts.dns_listen.clone(), stop.clone());
        let from = Some(IpAddr::V4(opts.address));
        tokio::spawn(async move {
            if let Err(e) = dns::serve(l, listen, from, st).await {
                tracing::error!("DNS is not served: {e}");
            }
        })
    });
    // Reporter: stopped only after DHCP and TFTP, so that their last hops are sent too.
    let report_stop = CancellationToken::new();
    let (l2, h3, rs) = (link.clone(), hops.clone(), report_stop.clone());
    let reporter = tokio::spawn(async move {
        loop {
            let last = tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => false,
                _ = rs.cancelled() => true,
            };
            let batch = std::mem::take(&mut h3.lock().unwrap_or_else(|p| p.into_inner()).queue);
            if !batch.is_empty() {
                let sent = if last {
                    tokio::time::timeout(FINAL_REPORT, l2.report(&batch))
                        .await
                        .unwrap_or_else(|_| Err(RackError::Region("timed out".into())))
                } else {
                    // A report can take the HTTP timeout (15 s) when the region is away: a stop
                    // does not wait for it; the batch goes into the final report instead.
                    let sent = tokio::select! {
                        r = l2.report(&batch) => Some(r),
                        _ = rs.cancelled() => None,
                    };
                    let Some(sent) = sent else {
                        let mut h = h3.lock().unwrap_or_else(|p| p.into_inner());
                        let newer = std::mem::replace(&mut h.queue, batch);
                        h.queue.extend(newer);
                        continue;
                    };
                    sent
                };
                if let Err(e) = sent {
                    tracing::warn!("could not report {} netboot hop(s): {e}", batch.len());
                }
            }
            if last {
                break;
            }
        }
    });
    let mut dhcp = dhcp_service::DhcpService::default();
    let h4 = hops.clone();
    let hook: ingot_dhcp::EventHook = Arc::new(move |e| dhcp_hop(&h4, e));
    // The configuration last kept on disk (written when what the region sends changes).
    let mut kept: Option<RackConfig> = None;
    let mut configured = false;
    // A read right after DHCP started reports it running at once (not a poll later).
    let mut report_now = false;
    loop {
        let serving = dhcp.serving();
        let read = tokio::select! {
            c = link.config(&serving) => c,
            _ = stop.cancelled() => break,
        };
        let cfg = match read {
            Ok(cfg) => {
                if kept.as_ref() != Some(&cfg) {
                    match cache::save(&opts.data_dir, &cfg) {
                        Ok(()) => kept = Some(cfg.clone()),
                        Err(e) => tracing::warn!("cannot keep the configuration on disk: {e}"),
                    }
                }
                Some(cfg)
            }
            Err(e) => {
                tracing::warn!("cannot read the rack configuration: {e}");
                // Started while the region is away: serve what was last read, until it answers.
                if configured {
                    None
                } else {
                    cached_config(&opts.data_dir)
                }
            }
        };
        let mut started = false;
        if let Some(cfg) = cfg {
            configured = true;
            match dhcp_config(&cfg, &opts) {
                Ok(next) => {
                    started = dhcp.apply(next, hook.clone()).await == dhcp_service::Applied::Started
                }
                Err(e) => tracing::warn!("rack configuration refused: {e}"),
            }
        }
        if started && !report_now {
            report_now = true;
            continue;
        }
        report_now = false;
        tokio::select! {
            _ = tokio::time::sleep(opts.poll) => {}
            _ = stop.cancelled() => break,
        }
    }
    tracing::info!("rack stopping");
    // The DHCP thread commits its pending lease records before it ends.
    dhcp.stop().await;
    let _ = tftp_task.await;
    if let Some(t) = dns_task {
        let _ = t.await;
    }
    report_stop.cancel();
    let _ = reporter.await;
    tracing::info!("rack stopped");
    Ok(())
}

/// The configuration kept on disk, for a rack that starts while its region is unreachable.
fn cached_config(dir: &Path) -> Option<RackConfig> {
    match cache::load(dir) {
        Ok(Some(cfg)) => {
            tracing::warn!(
                "the region is unreachable: serving the configuration last read from it ({})",
                dir.join(cache::FILE).display()
            );
            Some(cfg)
        }
        Ok(None) => None,
        Err(e) => {
            tracing::error!("the configuration kept on disk cannot be used: {e}");
            None
        }
    }
}

/// How long a stopping rack tries to report its last netboot hops.
pub const FINAL_REPORT: Duration = Duration::from_secs(2);

/// A rack configuration for the tests: one /24 with a dynamic range, `dhcp_on` as given.
#[cfg(test)]
pub(crate) fn sample_config(dhcp_on: bool) -> RackConfig {
    RackConfig {
        subnets: vec![ingot_core::rack::RackSubnet {
            cidr: "10.77.0.0/24".into(),
            gateway_ip: Some("10.77.0.1".into()),
            dns_servers: vec!["10.77.0.1".into(), "fd00::1".into()],
            allow_dns: true,
            vid: 0,
            dhcp_on,
            dynamic_ranges: vec![("10.77.0.100".into(), "10.77.0.199".into())],
            reserved_ranges: vec![],
        }],
        hosts: vec![],
        unknown_machines: "enlist".into(),
        region_url: "http://10.77.0.1:5240/MAAS".into(),
        domain: "maas".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dhcp_config_from_rack_config() {
        let d = tempfile::tempdir().unwrap();
        let opts = RackOptions::new("10.77.0.1".parse().unwrap(), d.path().into());
        assert!(
            dhcp_config(&sample_config(false), &opts).unwrap().is_none(),
            "DHCP off: nothing served"
        );
        let c = dhcp_config(&sample_config(true), &opts)
            .unwrap()
            .expect("config");
        assert_eq!(c.server_ip, "10.77.0.1".parse::<Ipv4Addr>().unwrap());
        assert_eq!(c.subnets.len(), 1);
        assert_eq!(
            c.subnets[0].dns,
            vec!["10.77.0.1".parse::<Ipv4Addr>().unwrap()],
            "IPv6 DNS left out of DHCPv4; the rack named once"
        );
        assert_eq!(c.subnets[0].domain_name.as_deref(), Some("maas"));
        assert_eq!(c.subnets[0].lease_time, DEFAULT_LEASE_SECS);
        let short = RackOptions {
            lease_secs: 8,
            ..opts.clone()
        };
        let c8 = dhcp_config(&sample_config(true), &short)
            .unwrap()
            .expect("config");
        assert_eq!(c8.subnets[0].lease_time, 8);
        // A subnet that does not use the rack's DNS gets its own servers and no domain; a
        // rack without DNS names only those too.
        let mut own = sample_config(true);
        own.subnets[0].allow_dns = false;
        own.subnets[0].dns_servers = vec!["192.0.2.53".into()];
        let c2 = dhcp_config(&own, &opts).unwrap().expect("config");
        assert_eq!(
            c2.subnets[0].dns,
            vec!["192.0.2.53".parse::<Ipv4Addr>().unwrap()]
        );
        assert_eq!(c2.subnets[0].domain_name, None);
        let mut no_dns = opts.clone();
        no_dns.dns_listen.clear();
        let mut both = sample_config(true);
        both.subnets[0].dns_servers = vec!["192.0.2.53".into()];
        let c3 = dhcp_config(&both, &no_dns).unwrap().expect("config");
        assert_eq!(
            c3.subnets[0].dns,
            vec!["192.0.2.53".parse::<Ipv4Addr>().unwrap()]
        );
        let c4 = dhcp_config(&both, &opts).unwrap().expect("config");
        assert_eq!(
            c4.subnets[0].dns,
            vec![
                "10.77.0.1".parse::<Ipv4Addr>().unwrap(),
                "192.0.2.53".parse::<Ipv4Addr>().unwrap()
            ]
        );
        let boot = c.boot.clone().expect("boot");
        assert_eq!(
            boot.ipxe_script_url,
            "http://10.77.0.1:5240/MAAS/boot/ipxe?mac={mac}&arch=amd64&firmware=ipxe"
        );
        assert!(c.validate().is_ok());
        assert_eq!(c.mode, ingot_dhcp::config::Mode::AllowEnlistment);
        // Enlistment off: known-only, the region's machines listed.
        let mut off = sample_config(true);
        off.unknown_machines = "ignore".into();
        off.hosts.push(ingot_core::rack::RackHost {
            mac: "52:54:00:00:00:01".into(),
            hostname: "h".into(),
            system_id: "abc123".into(),
            ip: None,
        });
        let c = dhcp_config(&off, &opts).unwrap().expect("config");
        assert_eq!(c.mode, ingot_dhcp::config::Mode::KnownOnly);
        assert_eq!(c.known_macs, vec!["52:54:00:00:00:01".to_string()]);
        assert!(c.reservations.is_empty());
    }

    #[test]
    fn host_reservations_inside_served_subnets_only() {
        let d = tempfile::tempdir().unwrap();
        let opts = RackOptions::new("10.77.0.1".parse().unwrap(), d.path().into());
        let mut c = sample_config(true);
        for (mac, ip) in [
            ("52:54:00:00:00:01", Some("10.77.0.50")),
            ("52:54:00:00:00:02", Some("10.99.0.50")), // a subnet this rack does not serve
            ("52:54:00:00:00:03", Some("fd00::5")),    // IPv6: not DHCPv4's
            ("52:54:00:00:00:04", None),
        ] {
            c.hosts.push(ingot_core::rack::RackHost {
                mac: mac.into(),
                hostname: String::new(),
                system_id: String::new(),
                ip: ip.map(String::from),
            });
        }
        let d = dhcp_config(&c, &opts).unwrap().expect("config");
        assert_eq!(d.reservations.len(), 1, "{:?}", d.reservations);
        assert_eq!(d.reservations[0].mac, "52:54:00:00:00:01");
        assert_eq!(
            d.reservations[0].ip,
            "10.77.0.50".parse::<Ipv4Addr>().unwrap()
        );
        assert!(d.validate().is_ok());
    }

    #[test]
    fn tftp_root_gets_the_loaders() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("undionly.kpxe"), b"pxe").unwrap();
        let dst = tempfile::tempdir().unwrap();
        assert_eq!(prepare_tftp_root(src.path(), dst.path()).unwrap(), 1);
        assert_eq!(
            std::fs::read(dst.path().join("undionly.kpxe")).unwrap(),
            b"pxe"
        );
    }
}
