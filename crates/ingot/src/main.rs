//! `ingot`: the region server, its administration commands, and the MAAS-style client.

mod backup;
mod tls;

use anyhow::{Context, Result};
use axum::serve::ListenerExt;
use clap::{Args, Parser, Subcommand};
use ingot_region::Region;
use ingot_store::Store;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "ingot",
    version,
    about = "Ingot bare-metal provisioning: region server and MAAS-compatible client.",
    after_help = "Client commands (MAAS CLI style):\n  ingot login PROFILE URL APIKEY\n  ingot PROFILE machines read\n  ingot PROFILE machine deploy SYSTEM_ID distro_series=jammy\n  ingot PROFILE --help\n  ingot logout PROFILE | ingot list | ingot refresh"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct DbArgs {
    /// Directory for the embedded database and other state.
    #[arg(long, env = "INGOT_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER:PASS@HOST/DB (default: SQLite in the data dir).
    #[arg(long, env = "INGOT_DATABASE")]
    database: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the region (API, metadata API, deadline reaper).
    Serve {
        #[command(flatten)]
        db: DbArgs,
        /// Address to listen on.
        #[arg(long, default_value = "0.0.0.0:5240", env = "INGOT_LISTEN")]
        listen: SocketAddr,
        /// Seconds between deadline checks.
        #[arg(long, default_value_t = 5)]
        reap_interval: u64,
        /// Deadline for transient statuses in seconds, overriding the node_timeout setting.
        #[arg(long, env = "INGOT_NODE_TIMEOUT_SECS")]
        node_timeout_secs: Option<i64>,
        /// Key file for BMC secrets (32 bytes). Default: secret.key in the data directory,
        /// created on first start. Regions sharing a PostgreSQL database must share it.
        #[arg(long, env = "INGOT_SECRET_KEY_FILE")]
        secret_key_file: Option<PathBuf>,
        /// Seconds in which every machine with a queryable power driver is queried once
        /// (queries are spread evenly over it).
        #[arg(long, default_value_t = 300, env = "INGOT_POWER_POLL_INTERVAL")]
        power_poll_interval: u64,
        /// How long a power operation retries transient BMC failures (timeouts, busy,
        /// unreachable) before it fails the transition.
        #[arg(long, default_value_t = 60, env = "INGOT_POWER_RETRY_SECS")]
        power_retry_secs: u64,
        /// Power queries in flight at once during monitoring.
        #[arg(long, default_value_t = 64)]
        power_parallel: usize,
        /// Power-ons (and cycles) started per second at most: a bulk commission or
        /// deployment of hundreds of machines is a paced boot storm. 0: no pacing.
        #[arg(long, default_value_t = 20.0, env = "INGOT_POWER_ON_RATE")]
        power_on_rate: f64,
        /// Seconds a region holds its share of the background work (reaper, power monitor)
        /// without renewing it: regions sharing a database take a dead one's share over
        /// within about this long.
        #[arg(long, default_value_t = 10, env = "INGOT_WORK_LEASE_SECS")]
        work_lease_secs: u64,
        /// Run the rack services (DHCP, TFTP) too, with this address on the boot network
        /// (all-in-one region + rack).
        #[arg(long)]
        rack_address: Option<std::net::Ipv4Addr>,
        /// Interface the rack's DHCP answers on (default: all).
        #[arg(long)]
        rack_interface: Option<String>,
        /// Seconds between the rack's configuration reads.
        #[arg(long, default_value_t = 10)]
        rack_poll_secs: u64,
        #[command(flatten)]
        rack_services: RackServiceArgs,
        /// Request worker threads. 1 (the default) serves from one thread: with SQLite every
        /// query already runs on the database's own threads, and fewer thread hops make each
        /// request faster (see BENCHMARKS.md). Raise it for PostgreSQL on a large host.
        #[arg(long, default_value_t = 1, env = "INGOT_WORKERS")]
        workers: usize,
        /// Serve HTTPS with this certificate (PEM: the certificate, then any intermediates):
        /// the API, the web UI and the metadata API. Racks and maas-run-scripts trust it with
        /// --ca-file or --pin-sha256 (its fingerprint is logged at start).
        #[arg(long, env = "INGOT_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, env = "INGOT_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// With TLS: also serve plain HTTP here, e.g. 0.0.0.0:5240 beside --listen
        /// 0.0.0.0:5443 as MAAS does, for machines (the iPXE in their firmware and in Debian
        /// has no HTTPS): racks send network-booting machines to this port.
        #[arg(long, env = "INGOT_HTTP_LISTEN", requires = "tls_cert")]
        http_listen: Option<SocketAddr>,
    },
    /// Create (or reset the password of) an administrator.
    Createadmin {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        username: String,
        #[arg(long)]
        password: String,
        #[arg(long, default_value = "")]
        email: String,
    },
    /// Print a user's API key (consumer_key:token_key:token_secret).
    Apikey {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        username: String,
        /// Make a new key instead of printing the existing one.
        #[arg(long)]
        generate: bool,
    },
    /// Ephemeral images: build (kernel + initramfs with ingot-agent) or list.
    Images {
        #[command(subcommand)]
        cmd: ImagesCmd,
    },
    /// Run rack services (DHCP, TFTP) for a region over HTTP.
    Rack {
        /// The region's URL, e.g. http://10.0.0.1:5240/MAAS (https://… when it serves TLS).
        #[arg(long)]
        region: String,
        /// How the region's certificate is trusted (with https://).
        #[command(flatten)]
        trust: ingot_tls::TrustArgs,
        /// The rack secret (DATA_DIR/rack.secret on the region).
        #[arg(long, env = "INGOT_RACK_SECRET")]
        secret: String,
        /// This rack's address on the boot network.
        #[arg(long)]
        address: std::net::Ipv4Addr,
        /// The name this rack registers under (default: this host's name). Two racks on one
        /// host (or in network namespaces of one host) need names of their own.
        #[arg(long)]
        name: Option<String>,
        /// Interface DHCP answers on (default: all).
        #[arg(long)]
        interface: Option<String>,
        /// Seconds between the configuration reads (each is also the rack's heartbeat).
        #[arg(long, default_value_t = 10)]
        poll_secs: u64,
        #[command(flatten)]
        services: RackServiceArgs,
        /// Directory for leases, the TFTP root and the last configuration read.
        #[arg(long, env = "INGOT_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Copy a region (running or not) into a new directory: the database (consistent), the
    /// secret key and the images.
    Backup {
        #[command(flatten)]
        db: DbArgs,
        /// The directory to create.
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into a new database (a SQLite file that does not exist, or an empty
    /// PostgreSQL database) and data directory.
    Restore {
        #[command(flatten)]
        db: DbArgs,
        /// The backup's directory.
        #[arg(long)]
        from: PathBuf,
    },
    /// Client commands: login, logout, list, refresh, or PROFILE HANDLER ACTION [args].
    #[command(external_subcommand)]
    Client(Vec<String>),
}

#[derive(Subcommand)]
enum ImagesCmd {
    /// Build the small bootable test OS (a root-filesystem tarball, MAAS `tgz`): the Debian
    /// kernel and an initramfs in /boot, busybox, ingot-agent (`firstboot` stands in for
    /// cloud-init).
    BuildOs {
        /// The tarball to write.
        #[arg(long)]
        out: PathBuf,
        /// Where the Debian packages are cached (default DATA_DIR/deb-cache).
        #[arg(long, env = "INGOT_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// The ingot-agent binary to put in the image (default: next to this program; build it
        /// statically with scripts/build-agent.sh).
        #[arg(long)]
        agent: Option<PathBuf>,
        #[arg(long, default_value = "amd64")]
        arch: String,
    },
    /// Build the ephemeral environment from Debian packages and store it in the data directory.
    Build {
        #[arg(long, env = "INGOT_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// The ingot-agent binary to put in the image (default: next to this program; build it
        /// statically with scripts/build-agent.sh).
        #[arg(long)]
        agent: Option<PathBuf>,
        #[arg(long, default_value = "amd64")]
        arch: String,
    },
    /// List the stored image sets.
    List {
        #[arg(long, env = "INGOT_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
}

fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(x).join("ingot");
    }
    match std::env::var_os("HOME") {
        Some(h) if h != "/root" && !h.is_empty() => PathBuf::from(h).join(".local/share/ingot"),
        _ => PathBuf::from("/var/lib/ingot"),
    }
}

fn database_url(db: &DbArgs) -> Result<String> {
    if let Some(u) = &db.database {
        return Ok(u.clone());
    }
    let dir = db.data_dir.clone().unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    Ok(format!("sqlite://{}", dir.join("ingot.sqlite").display()))
}

async fn open(db: &DbArgs) -> Result<Region> {
    let url = database_url(db)?;
    let store = Store::open(&url)
        .await
        .with_context(|| format!("cannot open database {}", redact(&url)))?;
    Ok(Region::new(store))
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

/// How the rack's DHCP and DNS serve.
#[derive(clap::Args, Debug, Clone)]
struct RackServiceArgs {
    /// How long a DHCP lease lasts, in seconds (MAAS's 600 by default).
    #[arg(long, default_value_t = ingot_rack::DEFAULT_LEASE_SECS,
          value_parser = clap::value_parser!(u32).range(4..=604_800))]
    dhcp_lease_secs: u32,
    /// Address (and port) the rack's DNS answers on, UDP and TCP; repeat for several
    /// (default: the rack's address, port 53).
    #[arg(long = "dns-listen")]
    dns_listen: Vec<SocketAddr>,
    /// Serve no DNS.
    #[arg(long)]
    no_dns: bool,
}

impl RackServiceArgs {
    fn apply(&self, opts: &mut ingot_rack::RackOptions) {
        opts.lease_secs = self.dhcp_lease_secs;
        if self.no_dns {
            opts.dns_listen.clear();
        } else if !self.dns_listen.is_empty() {
            opts.dns_listen = self.dns_listen.clone();
        }
    }
}

/// Options of `ingot serve` beyond the database.
struct ServeOpts {
    listen: SocketAddr,
    reap_interval: u64,
    node_timeout_secs: Option<i64>,
    secret_key_file: Option<PathBuf>,
    power_poll_interval: u64,
    power_parallel: usize,
    power_retry_secs: u64,
    power_on_rate: f64,
    work_lease_secs: u64,
    rack: Option<(std::net::Ipv4Addr, Option<String>)>,
    rack_poll_secs: u64,
    rack_services: RackServiceArgs,
    /// `--tls-cert` and `--tls-key`.
    tls: Option<(PathBuf, PathBuf)>,
    /// `--http-listen`: plain HTTP for machines beside TLS.
    http_listen: Option<SocketAddr>,
}

/// The rack address must reach what `flag` listens on: the same address, or all of them.
fn listens_at(listen: SocketAddr, address: std::net::Ipv4Addr, flag: &str) -> Result<()> {
    let port = listen.port();
    anyhow::ensure!(
        listen.ip().is_unspecified() || listen.ip() == std::net::IpAddr::V4(address),
        "--rack-address {address} needs {flag} on it: use {flag} 0.0.0.0:{port} or {address}:{port}"
    );
    Ok(())
}

async fn serve(db: DbArgs, o: ServeOpts) -> Result<()> {
    let signalled = shutdown_signal();
    let tls = match &o.tls {
        Some((cert, key)) => Some(ingot_tls::ServerTls::load(cert, key)?),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let key_file = match &o.secret_key_file {
        Some(f) => f.clone(),
        None => {
            let dir = db.data_dir.clone().unwrap_or_else(default_data_dir);
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create data directory {}", dir.display()))?;
            dir.join("secret.key")
        }
    };
    let secrets =
        ingot_region::secrets::SecretBox::from_file(&key_file, o.secret_key_file.is_none())?;
    let policy = ingot_power::RetryPolicy {
        deadline: Duration::from_secs(o.power_retry_secs.max(1)),
        ..Default::default()
    };
    let region = open(&db)
        .await?
        .with_node_timeout_secs(o.node_timeout_secs)
        .with_secrets(secrets)
        .with_power_policy(policy)
        .with_power_on_rate(o.power_on_rate);
    // Racks authenticate with this secret; it is written to the data directory for `ingot rack`.
    let rack_secret = region
        .rack_secret()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let data_dir = db.data_dir.clone().unwrap_or_else(default_data_dir);
    let secret_file = data_dir.join("rack.secret");
    if std::fs::read_to_string(&secret_file)
        .map(|s| s.trim() != rack_secret)
        .unwrap_or(true)
    {
        write_private(&secret_file, rack_secret.as_bytes())
            .with_context(|| format!("cannot write {}", secret_file.display()))?;
    }
    // This host runs a region: it is a machine (DEPLOYED, locked, annotated).
    let me = ingot_rack::host::host_identity();
    let host = ingot_region::controllers::ControllerHost {
        hostname: me.hostname,
        hardware_uuid: me.hardware_uuid,
        macs: me.macs,
    };
    match region
        .register_controller(ingot_region::controllers::Role::Region, &host)
        .await
    {
        Ok(m) => tracing::info!("this region controller is machine {}", m.system_id),
        Err(e) => tracing::warn!("could not record this region controller as a machine: {e}"),
    }
    let listener = tokio::net::TcpListener::bind(o.listen)
        .await
        .with_context(|| format!("cannot listen on {}", o.listen))?;
    let plain = match o.http_listen {
        Some(a) => Some(
            tokio::net::TcpListener::bind(a)
                .await
                .with_context(|| format!("cannot listen on {a} (--http-listen)"))?,
        ),
        None => None,
    };
    let machine_port = plain
        .as_ref()
        .map(|l| l.local_addr().map(|a| a.port()))
        .transpose()?;
    // The reaper and the power monitor run where this region holds their work leases (one
    // region at a time for the whole set sharing the database; `region/src/work.rs`). A
    // region is its host and address: started again after a crash, it is the same holder and
    // takes its leases back at once.
    let share = ingot_region::work::WorkShare::new(
        &format!("{}:{}", ingot_rack::host_name(), listener.local_addr()?),
        Duration::from_secs(o.work_lease_secs.max(2)),
    );
    let sharer = region.clone();
    let s2 = share.clone();
    tokio::spawn(async move { sharer.share_work_forever(s2).await });
    let monitor = region.clone();
    let (interval, parallel) = (
        Duration::from_secs(o.power_poll_interval.max(1)),
        o.power_parallel,
    );
    let s2 = share.clone();
    tokio::spawn(async move { monitor.monitor_power(interval, parallel, s2).await });
    let (listen, reap_interval) = (o.listen, o.reap_interval);
    // The in-process rack stops first on SIGTERM/SIGINT (its DHCP commits its pending leases,
    // its last hops are reported to this region), then the HTTP server.
    let rack_stop = ingot_rack::CancellationToken::new();
    let mut rack_task: Option<tokio::task::JoinHandle<()>> = None;
    if let Some((address, interface)) = o.rack.clone() {
        // Machines (and the in-process rack) reach the region at the rack address.
        listens_at(listen, address, "--listen")?;
        // The all-in-one rack takes the same path as a remote one: HTTP to this region, at the
        // address machines on the boot network reach it by; over TLS it trusts exactly this
        // region's certificate.
        let url = format!("{scheme}://{address}:{}/MAAS", listen.port());
        if let Some(a) = o.http_listen {
            listens_at(a, address, "--http-listen")?;
        } else if tls.is_some() {
            tracing::warn!(
                "with TLS, machines are sent to {url} to network-boot: Debian's iPXE has no HTTPS, so they cannot boot through this region (add --http-listen 0.0.0.0:5240)"
            );
        }
        let trust = match &tls {
            Some(t) => ingot_tls::Trust::Pin(t.fingerprint),
            None => ingot_tls::Trust::WebRoots,
        };
        let link: std::sync::Arc<dyn ingot_rack::RegionLink> = std::sync::Arc::new(
            ingot_rack::HttpLink::new(&url, &rack_secret, &trust)?
                .with_identity(&ingot_rack::host_name(), &address.to_string())
                .with_host(&ingot_rack::host::host_identity()),
        );
        let mut opts = ingot_rack::RackOptions::new(address, data_dir.join("rack"));
        opts.interface = interface;
        // The region's own rack serves its images from where the region stores them.
        opts.image_cache = Some(data_dir.join("images"));
        opts.poll = Duration::from_secs(o.rack_poll_secs.max(1));
        o.rack_services.apply(&mut opts);
        std::fs::create_dir_all(&opts.data_dir)?;
        let stop = rack_stop.clone();
        rack_task = Some(tokio::spawn(async move {
            if let Err(e) = ingot_rack::run(link, opts, stop).await {
                tracing::error!("rack services stopped: {e}");
            }
        }));
    }
    let reaper = region.clone();
    let s2 = share.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(reap_interval.max(1)));
        loop {
            tick.tick().await;
            if !s2.holds(ingot_region::work::REAPER) {
                continue;
            }
            match reaper.reap_deadlines().await {
                Ok(0) => {}
                Ok(n) => tracing::info!("{n} machine(s) passed their deadline and were failed"),
                Err(e) => tracing::warn!("deadline check failed: {e}"),
            }
        }
    });
    let addr = listener.local_addr()?;
    tracing::info!(
        "Ingot region listening on {scheme}://{addr}/MAAS/ ({})",
        redact(&database_url(&db)?)
    );
    if let Some(t) = &tls {
        tracing::info!(
            "TLS certificate SHA-256 fingerprint {} (for racks' and maas-run-scripts' --pin-sha256)",
            t.fingerprint
        );
    }
    println!("ingot: listening on {scheme}://{addr}/MAAS/");
    if let Some(l) = &plain {
        let a = l.local_addr()?;
        // Logged only: the first stdout line is the one scripts read (and may stop reading).
        tracing::info!("Ingot region also listening on http://{a}/MAAS/ for machines");
    }
    let images_dir = db
        .data_dir
        .clone()
        .unwrap_or_else(default_data_dir)
        .join("images");
    let app = ingot_api::router_serving(
        region.clone(),
        Some(images_dir),
        Some(std::sync::Arc::new(ingot_rack::metrics::text)),
        machine_port,
    );
    let stopped = async move {
        signalled.await;
        tracing::info!("stopping");
        rack_stop.cancel();
        if let Some(task) = rack_task {
            // The rack bounds its own stop (the DHCP thread looks at its stop flag every 100 ms,
            // the last report takes at most FINAL_REPORT); this is a backstop.
            if tokio::time::timeout(Duration::from_secs(4), task)
                .await
                .is_err()
            {
                tracing::warn!("the rack services did not stop in time");
            }
        }
    };
    // The plain-HTTP listener for machines stops when the main one has.
    let plain_stop = ingot_rack::CancellationToken::new();
    let plain_task = plain.map(|l| {
        let (app, stop) = (app.clone(), plain_stop.clone());
        tokio::spawn(async move {
            axum::serve(l.tap_io(no_delay), app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        })
    });
    match tls {
        Some(t) => {
            let app = app.layer(axum::middleware::map_request(tls::over_tls));
            axum::serve(tls::TlsListener::new(listener, t.config)?, app)
                .with_graceful_shutdown(stopped)
                .await?;
            plain_stop.cancel();
            if let Some(task) = plain_task {
                task.await??;
            }
        }
        None => {
            axum::serve(listener.tap_io(no_delay), app)
                .with_graceful_shutdown(stopped)
                .await?
        }
    }
    // The other regions take this one's work over at once.
    if let Err(e) = region.leave_work(&share).await {
        tracing::warn!("could not give back this region's work leases: {e}");
    }
    region.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves at the first SIGTERM or SIGINT. The handlers are installed when this is called (not
/// when first polled), so a signal that arrives while the program is still starting up is not
/// lost to the default action.
fn shutdown_signal() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            return Box::pin(async move {
                tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
            });
        }
    }
    Box::pin(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Write a file readable by its owner only.
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)?.write_all(data)
}

fn config_dir() -> PathBuf {
    ingot_cli::default_config_dir()
}

/// Each segment of an answer goes out as it is written: a streamed answer's head and body are
/// written apart, and with Nagle's algorithm the body waited for the client's delayed ACK
/// (40 ms on Linux; seen as a 43 ms median for a one-machine `GET machines/?hostname=`).
pub(crate) fn no_delay(tcp: &mut tokio::net::TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!("TCP_NODELAY: {e}");
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let workers = match &cli.command {
        Command::Serve { workers, .. } => *workers,
        _ => 1,
    };
    let rt = if workers <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()?
    };
    rt.block_on(async_main(cli))
}

async fn async_main(cli: Cli) -> Result<()> {
    // hickory-server logs every DNS request at info: kept to warnings unless asked for.
    let mut filter = std::env::var("INGOT_LOG").unwrap_or_else(|_| "info".into());
    if !filter.contains("hickory") {
        filter.push_str(",hickory_server=warn");
    }
    let env_filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| "info,hickory_server=warn".into());
    // INGOT_LOG_FORMAT=json: one JSON object per line, for log collectors.
    if std::env::var("INGOT_LOG_FORMAT").is_ok_and(|f| f == "json") {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(env_filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(env_filter)
            .with_writer(std::io::stderr)
            .init();
    }
    match cli.command {
        Command::Serve {
            db,
            listen,
            reap_interval,
            node_timeout_secs,
            secret_key_file,
            power_poll_interval,
            power_parallel,
            power_retry_secs,
            power_on_rate,
            work_lease_secs,
            rack_address,
            rack_interface,
            rack_poll_secs,
            rack_services,
            tls_cert,
            tls_key,
            http_listen,
            ..
        } => {
            let opts = ServeOpts {
                listen,
                reap_interval,
                node_timeout_secs,
                secret_key_file,
                power_poll_interval,
                power_parallel,
                power_retry_secs,
                power_on_rate,
                work_lease_secs,
                rack: rack_address.map(|a| (a, rack_interface)),
                rack_poll_secs,
                rack_services,
                tls: tls_cert.zip(tls_key),
                http_listen,
            };
            serve(db, opts).await
        }
        Command::Createadmin {
            db,
            username,
            password,
            email,
        } => {
            let region = open(&db).await?;
            let u = region
                .create_admin(&username, &password, &email)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("Administrator '{}' ready.", u.username);
            region.close().await;
            Ok(())
        }
        Command::Apikey {
            db,
            username,
            generate,
        } => {
            let region = open(&db).await?;
            let t = region
                .api_key(&username, generate)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", t.api_key());
            region.close().await;
            Ok(())
        }
        Command::Backup { db, out } => {
            let url = database_url(&db)?;
            let dir = db.data_dir.clone().unwrap_or_else(default_data_dir);
            let m = backup::backup(&url, &dir, &out).await?;
            println!("{}", serde_json::to_string_pretty(&m)?);
            Ok(())
        }
        Command::Restore { db, from } => {
            let dir = db.data_dir.clone().unwrap_or_else(default_data_dir);
            let url = database_url(&db)?;
            let m = backup::restore(&from, &url, &dir).await?;
            println!("{}", serde_json::to_string_pretty(&m)?);
            Ok(())
        }
        Command::Images { cmd } => match cmd {
            ImagesCmd::Build {
                data_dir,
                agent,
                arch,
            } => {
                let agent = match agent {
                    Some(a) => a,
                    None => std::env::current_exe()?.with_file_name("ingot-agent"),
                };
                anyhow::ensure!(
                    agent.is_file(),
                    "no ingot-agent at {} (build it with scripts/build-agent.sh --out {}, or pass --agent)",
                    agent.display(),
                    agent.parent().unwrap_or(Path::new(".")).display()
                );
                let opts = ingot_images::BuildOptions {
                    data_dir: data_dir.unwrap_or_else(default_data_dir),
                    agent_binary: agent,
                    arch,
                    work_dir: None,
                    kernel_deb: None,
                    busybox_deb: None,
                };
                let set = ingot_images::build(&opts)?;
                println!("{}", serde_json::to_string_pretty(&set)?);
                Ok(())
            }
            ImagesCmd::BuildOs {
                out,
                data_dir,
                agent,
                arch,
            } => {
                let agent = match agent {
                    Some(a) => a,
                    None => std::env::current_exe()?.with_file_name("ingot-agent"),
                };
                anyhow::ensure!(
                    agent.is_file(),
                    "no ingot-agent at {} (build it with scripts/build-agent.sh --out {}, or pass --agent)",
                    agent.display(),
                    agent.parent().unwrap_or(Path::new(".")).display()
                );
                let data_dir = data_dir.unwrap_or_else(default_data_dir);
                let deb_cache = std::env::var_os("INGOT_DEB_CACHE")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| data_dir.join("deb-cache"));
                let opts = ingot_images::os::OsOptions {
                    out: out.clone(),
                    agent_binary: agent,
                    arch,
                    deb_cache,
                    work_dir: data_dir.join(format!(".os-build-{}", std::process::id())),
                };
                let img = ingot_images::os::build_os(&opts)?;
                println!("{}", serde_json::to_string_pretty(&img)?);
                Ok(())
            }
            ImagesCmd::List { data_dir } => {
                let sets = ingot_images::list(&data_dir.unwrap_or_else(default_data_dir))?;
                println!("{}", serde_json::to_string_pretty(&sets)?);
                Ok(())
            }
        },
        Command::Rack {
            region,
            trust,
            secret,
            address,
            name,
            interface,
            poll_secs,
            data_dir,
            services,
        } => {
            let dir = data_dir.unwrap_or_else(default_data_dir).join("rack");
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let link: std::sync::Arc<dyn ingot_rack::RegionLink> = std::sync::Arc::new(
                ingot_rack::HttpLink::new(&region, &secret, &trust.trust()?)?
                    .with_identity(
                        &name.unwrap_or_else(ingot_rack::host_name),
                        &address.to_string(),
                    )
                    .with_host(&ingot_rack::host::host_identity()),
            );
            let mut opts = ingot_rack::RackOptions::new(address, dir);
            opts.interface = interface;
            opts.poll = Duration::from_secs(poll_secs.max(1));
            services.apply(&mut opts);
            tracing::info!("rack for {region} on {address}");
            let stop = ingot_rack::CancellationToken::new();
            let on_signal = stop.clone();
            let signalled = shutdown_signal();
            tokio::spawn(async move {
                signalled.await;
                tracing::info!("stopping");
                on_signal.cancel();
            });
            ingot_rack::run(link, opts, stop).await?;
            Ok(())
        }
        Command::Client(args) => {
            let dir = config_dir();
            let code = run_client(&args, &dir).await;
            std::process::exit(code);
        }
    }
}

async fn run_client(args: &[String], dir: &Path) -> i32 {
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    ingot_cli::run(args, dir, &mut out, &mut err).await
}
