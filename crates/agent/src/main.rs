//! `ingot-agent`: runs in Ingot's ephemeral environment (started by the initramfs's `/init`).
//! Reads `ingot.url`, `ingot.purpose` and `ingot.mac` from the kernel command line, inventories
//! the machine and, for `ingot.purpose=enlist`, enlists it with the region; for
//! `ingot.purpose=resources` it prints the hardware inventory (LXD resources JSON, as MAAS's
//! `machine-resources` makes it) on the console between [`RESOURCES_BEGIN`] and
//! [`RESOURCES_END`]; for `ingot.purpose=commission` and `ingot.purpose=test` it runs the
//! machine's commissioning and testing scripts and reports them to the region (see
//! [`runner`]); then powers off.
//!
//! `ingot-agent resources [--output FILE]` prints the same document anywhere, without the
//! kernel command line and without powering anything off; `ingot-agent builtin NAME` runs one
//! built-in script (what the runner does for each).

mod bootfiles;
mod brownfield;
mod builtins;
mod cmdline;
mod deploy;
mod enlist;
mod firstboot;
mod hardware;
mod inventory;
mod metadata;
mod ptable;
mod raid;
mod resources;
mod runner;
mod seed;
mod unpack;
mod yaml;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// Marker file the initramfs carries; without it the agent never powers the machine off.
const EPHEMERAL_MARKER: &str = "/etc/ingot-ephemeral";

/// Printed on its own line before the resources document on the console.
pub const RESOURCES_BEGIN: &str = "-----BEGIN INGOT RESOURCES-----";
/// Printed on its own line after it.
pub const RESOURCES_END: &str = "-----END INGOT RESOURCES-----";

#[derive(Debug, Parser)]
#[command(
    name = "ingot-agent",
    version,
    about = "Ingot ephemeral-environment agent (enlistment, hardware inventory)"
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Kernel command line to use instead of /proc/cmdline.
    #[arg(long, global = true)]
    cmdline: Option<String>,
    /// Root of sysfs (NICs, DMI, disks, CPUs, ...).
    #[arg(long, default_value = "/sys", global = true)]
    sysfs_root: PathBuf,
    /// Root of procfs (cpuinfo, meminfo, kernel version).
    #[arg(long, default_value = "/proc", global = true)]
    procfs_root: PathBuf,
    /// Root of /dev (udev's disk/by-id and disk/by-path links, when there).
    #[arg(long, default_value = "/dev", global = true)]
    dev_root: PathBuf,
    /// Filesystem root (etc/os-release, pci.ids, usb.ids, container markers).
    #[arg(long, default_value = "/", global = true)]
    root: PathBuf,
    /// Do not ask the running kernel for interface addresses and ethtool link modes (for
    /// fake sysfs trees).
    #[arg(long, global = true)]
    no_kernel_probes: bool,
    /// Where `ingot.purpose=deploy` mounts the installed system.
    #[arg(long, default_value = "/target", global = true)]
    target_root: PathBuf,
    /// Never power the machine off (it is only ever done from the ephemeral environment, when
    /// the agent is PID 1 or a child of it and /etc/ingot-ephemeral exists).
    #[arg(long)]
    no_poweroff: bool,
    /// Print the request instead of sending it.
    #[arg(long)]
    dry_run: bool,
    /// Attempts for each request to the region (connection errors, timeouts and 5xx are
    /// retried with back-off).
    #[arg(long, default_value_t = 6)]
    attempts: u32,
    /// Seconds between the WORKING heartbeats sent while scripts run.
    #[arg(long, default_value_t = 30)]
    heartbeat_seconds: u64,
    /// How long maas-capture-lldpd listens for LLDP (default 30 s).
    #[arg(long, env = "INGOT_LLDP_SECONDS")]
    lldp_seconds: Option<u64>,
    /// How long stress-ng-cpu-short runs (default 30 s).
    #[arg(long, env = "INGOT_TEST_SECONDS")]
    test_seconds: Option<u64>,
    /// How many MiB at the start of each disk badblocks tests (default 64).
    #[arg(long, env = "INGOT_BADBLOCKS_MIB")]
    badblocks_mib: Option<u64>,
    /// At most how many MiB memtester tests (default 2048; never more than a quarter of the
    /// available memory).
    #[arg(long, env = "INGOT_MEMTESTER_MIB")]
    memtester_mib: Option<u64>,
    /// How the region's certificate is trusted when its URL is https://.
    #[command(flatten)]
    trust: ingot_tls::TrustArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the hardware inventory: LXD resources JSON wrapped as MAAS's machine-resources
    /// wraps it. Never powers off.
    Resources {
        /// Write it to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Run one built-in commissioning or testing script: its report on stdout, its result
    /// YAML to $RESULT_PATH (or after the report). Never powers off.
    Builtin {
        /// The script's name (`maas-kernel-cmdline`, `smartctl-validate`, ...).
        name: String,
        /// The script's parameters (`--quick-erase`, ...).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Install a machine from a deploy configuration file (the JSON the region serves at
    /// `latest/deploy-config`), without a region: storage, image, seed, boot loader. Progress
    /// on stdout; the first failure (`step: reason`) on stderr, exit status 1.
    Install {
        /// The DeployConfig JSON.
        #[arg(long)]
        config: PathBuf,
        /// Where the installed system's root is mounted.
        #[arg(long, default_value = "/target")]
        target: PathBuf,
    },
    /// Register this running machine with a region as DEPLOYED (or find it again by its
    /// credentials file, hardware UUID or MACs — never renaming it), write
    /// `<hostname>-creds.yaml` and upload its hardware inventory. Changes nothing on this
    /// machine but that file.
    RegisterMachine {
        /// The region's MAAS URL, `http://HOST:5240/MAAS`.
        maas_url: String,
        /// An administrator's API key (`consumer_key:token_key:token_secret`).
        api_key: String,
        /// The machine's name when it is created (default: this host's short name).
        #[arg(long)]
        hostname: Option<String>,
        /// Where the credentials file is written.
        #[arg(long, default_value = ".")]
        base_dir: PathBuf,
    },
    /// Write a machine's credentials YAML (its owner's API key) to TOKEN_FILE (`-`: stdout).
    GetMachineToken {
        maas_url: String,
        api_key: String,
        system_id: String,
        token_file: PathBuf,
    },
    /// Upload this running machine's hardware inventory with its own credentials.
    ReportResults {
        /// The credentials YAML (`register-machine` writes it).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The credentials as `consumer_key:token_key:token_secret` instead of --config.
        #[arg(long)]
        machine_token: Option<String>,
        /// The region's metadata URL (default: the credentials' endpoint).
        #[arg(long)]
        metadata_url: Option<String>,
    },
    /// Keep this running machine's hardware information current: every --interval, read the
    /// inventory and upload it when it changed, else only check in.
    HardwareSync {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        machine_token: Option<String>,
        #[arg(long)]
        metadata_url: Option<String>,
        /// Seconds, or with s, m or h.
        #[arg(long, default_value = "15m", value_parser = brownfield::parse_interval)]
        interval: Duration,
        /// The digest of the last inventory uploaded (default: next to --config).
        #[arg(long)]
        state: Option<PathBuf>,
        /// One round, then exit.
        #[arg(long)]
        once: bool,
        /// Print the systemd unit that runs this and exit.
        #[arg(long)]
        print_unit: bool,
    },
    /// The test OS's stand-in for cloud-init: once per instance-id, apply the NoCloud seed
    /// (hostname, network, SSH keys, user-data) and report modules-final.
    Firstboot {
        /// The installed system's root.
        #[arg(long, default_value = "/")]
        root: PathBuf,
        /// Apply the network configuration with `ip` (off: only print it).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        apply_network: bool,
        /// Run even if this instance-id was done before.
        #[arg(long)]
        force: bool,
    },
}

impl Args {
    fn roots(&self) -> resources::Roots {
        resources::Roots {
            sys: self.sysfs_root.clone(),
            proc: self.procfs_root.clone(),
            dev: self.dev_root.clone(),
            root: self.root.clone(),
            kernel_probes: !self.no_kernel_probes,
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .init();
    let args = Args::parse();
    if let Some(Command::Builtin { name, args: bargs }) = &args.command {
        return ExitCode::from(run_builtin(&args, name, bargs).clamp(0, 255) as u8);
    }
    if let Some(Command::Install { config, target }) = &args.command {
        return match install_local(&args, config, target) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Firstboot {
        root,
        apply_network,
        force,
    }) = &args.command
    {
        return match firstboot::run(root, *apply_network, *force) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                println!("ingot-firstboot: error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(code) = brownfield_command(&args) {
        return code;
    }
    if let Some(Command::Resources { output }) = &args.command {
        return match print_resources(&args, output.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("{e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let (ok, after) = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => match rt.block_on(run(&args)) {
            Ok(after) => (true, after),
            Err(e) => {
                tracing::error!("{e:#}");
                (false, deploy::After::PowerOff)
            }
        },
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            (false, deploy::After::PowerOff)
        }
    };
    if may_power_off(args.no_poweroff) {
        match after {
            deploy::After::PowerOff => power_off(),
            deploy::After::Reboot => reboot(),
            deploy::After::Stay => tracing::info!("staying up"),
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The running-machine commands (`register-machine`, `get-machine-token`, `report-results`,
/// `hardware-sync`); None for the others.
fn brownfield_command(args: &Args) -> Option<ExitCode> {
    let run =
        |fut: std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + '_>>| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let result = match rt {
                Ok(rt) => rt.block_on(fut),
                Err(e) => Err(anyhow::anyhow!("cannot start the runtime: {e}")),
            };
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{e:#}");
                    ExitCode::FAILURE
                }
            }
        };
    let roots = args.roots();
    let builtins = || builtin_command(args, &kernel_cmdline(args).unwrap_or_default());
    let creds =
        |config: &Option<PathBuf>, token: &Option<String>| -> anyhow::Result<brownfield::Creds> {
            match (config, token) {
                (_, Some(t)) => {
                    let t = metadata::Token::parse(t)
                        .context("--machine-token is not consumer_key:token_key:token_secret")?;
                    Ok(brownfield::Creds {
                        consumer_key: t.consumer_key,
                        token_key: t.token_key,
                        token_secret: t.token_secret,
                        endpoint: String::new(),
                    })
                }
                (Some(f), None) => {
                    let text = std::fs::read_to_string(f)
                        .with_context(|| format!("reading {}", f.display()))?;
                    brownfield::Creds::parse(&text)
                        .with_context(|| format!("{} holds no machine credentials", f.display()))
                }
                (None, None) => anyhow::bail!("give --config FILE or --machine-token"),
            }
        };
    Some(match args.command.as_ref()? {
        Command::RegisterMachine {
            maas_url,
            api_key,
            hostname,
            base_dir,
        } => run(Box::pin(async {
            let cmd = builtins()?;
            brownfield::register_machine(
                maas_url,
                api_key,
                hostname.as_deref(),
                base_dir,
                &roots,
                &cmd,
                &args.trust.trust()?,
            )
            .await
            .map(|_| ())
        })),
        Command::GetMachineToken {
            maas_url,
            api_key,
            system_id,
            token_file,
        } => run(Box::pin(async {
            let trust = args.trust.trust()?;
            brownfield::get_machine_token(maas_url, api_key, system_id, token_file, &trust).await
        })),
        Command::ReportResults {
            config,
            machine_token,
            metadata_url,
        } => run(Box::pin(async {
            let c = creds(config, machine_token)?;
            let cmd = builtins()?;
            let trust = args.trust.trust()?;
            let region = brownfield::MachineRegion {
                creds: &c,
                metadata_url: metadata_url.as_deref(),
                trust: &trust,
            };
            let n = brownfield::report_results(&region, &roots, &cmd).await?;
            println!("Hardware information uploaded ({n} results)");
            Ok(())
        })),
        Command::HardwareSync {
            config,
            machine_token,
            metadata_url,
            interval,
            state,
            once,
            print_unit,
        } => {
            if *print_unit {
                print!("{}", brownfield::SYSTEMD_UNIT);
                return Some(ExitCode::SUCCESS);
            }
            run(Box::pin(async {
                let c = creds(config, machine_token)?;
                let cmd = builtins()?;
                let state = match (state, config) {
                    (Some(s), _) => s.clone(),
                    (None, Some(c)) => c.with_extension("state"),
                    (None, None) => anyhow::bail!("give --state FILE with --machine-token"),
                };
                let trust = args.trust.trust()?;
                let region = brownfield::MachineRegion {
                    creds: &c,
                    metadata_url: metadata_url.as_deref(),
                    trust: &trust,
                };
                brownfield::hardware_sync(&region, &state, *interval, *once, &roots, &cmd).await
            }))
        }
        _ => return None,
    })
}

/// The kernel command line: `--cmdline`, else /proc/cmdline.
fn kernel_cmdline(args: &Args) -> anyhow::Result<String> {
    match &args.cmdline {
        Some(t) => Ok(t.clone()),
        None => std::fs::read_to_string("/proc/cmdline").context("reading /proc/cmdline"),
    }
}

fn is_ephemeral() -> bool {
    Path::new(EPHEMERAL_MARKER).exists()
}

/// `ingot-agent builtin NAME`.
fn run_builtin(args: &Args, name: &str, bargs: &[String]) -> i32 {
    let cmdline = kernel_cmdline(args).unwrap_or_default();
    let params = cmdline::parse(&cmdline);
    let ctx = builtins::Ctx {
        roots: args.roots(),
        boot_mac: params.bootif.or(params.mac),
        cmdline,
        ephemeral: is_ephemeral(),
        resources_file: std::env::var_os("MAAS_RESOURCES_FILE").map(PathBuf::from),
        args: bargs.to_vec(),
    };
    builtins::main(name, &ctx)
}

/// `ingot-agent install`: the deploy executor on a configuration file.
fn install_local(args: &Args, config: &Path, target: &Path) -> anyhow::Result<()> {
    let text = std::fs::read(config).with_context(|| format!("reading {}", config.display()))?;
    let cfg: ingot_core::deploy::DeployConfig = serde_json::from_slice(&text).map_err(|e| {
        anyhow::anyhow!(
            "config: {} is not a deploy configuration: {e}",
            config.display()
        )
    })?;
    let env = deploy::Env::new(&args.sysfs_root, &args.dev_root, target);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(deploy::install(cfg, env, &deploy::Progress::Console))
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The region's metadata client from the kernel command line.
fn region_client(args: &Args, params: &cmdline::KernelParams) -> anyhow::Result<metadata::Client> {
    let url = params
        .url
        .as_deref()
        .context("no ingot.url= on the kernel command line")?;
    let token = params
        .token
        .as_deref()
        .context("no ingot.token= on the kernel command line")?;
    let token = metadata::Token::parse(token)
        .context("ingot.token= is not consumer_key:token_key:token_secret")?;
    metadata::Client::new(
        url,
        token,
        args.attempts,
        Duration::from_secs(1),
        &args.trust.trust()?,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))
}

async fn run(args: &Args) -> anyhow::Result<deploy::After> {
    let text = kernel_cmdline(args)?;
    let params = cmdline::parse(&text);
    let purpose = params
        .purpose
        .clone()
        .unwrap_or_else(|| "enlist".to_string());
    tracing::info!(url = ?params.url, %purpose, system_id = ?params.system_id, "ingot-agent starting");
    match purpose.as_str() {
        "deploy" => {
            let client = region_client(args, &params)?;
            let system_id = params
                .system_id
                .as_deref()
                .context("no ingot.system_id= on the kernel command line")?;
            if may_power_off(args.no_poweroff) {
                // No udev here: give the disk drivers a moment to register their disks.
                settle(
                    &args.sysfs_root.join("class/block"),
                    Duration::from_secs(1),
                    Duration::from_secs(10),
                );
            }
            let env = deploy::Env::new(&args.sysfs_root, &args.dev_root, &args.target_root);
            Ok(deploy::run(&client, system_id, env).await)
        }
        "rescue" => {
            let client = region_client(args, &params)?;
            client
                .signal(&metadata::Form::new("OK"))
                .await
                .map_err(|e| anyhow::anyhow!("the OK signal for rescue mode was not taken: {e}"))?;
            println!("ingot: rescue mode: the machine stays up; a shell runs on the console");
            Ok(deploy::After::Stay)
        }
        _ => run_other(args, &params, &text, &purpose)
            .await
            .map(|()| deploy::After::PowerOff),
    }
}

async fn run_other(
    args: &Args,
    params: &cmdline::KernelParams,
    text: &str,
    purpose: &str,
) -> anyhow::Result<()> {
    match purpose {
        "enlist" => {
            // The seed: enlistment runs the built-in commissioning scripts, so the machine is
            // NEW with its hardware known. A region that answers without credentials (a
            // machine it already knew) wants nothing more.
            let Some((system_id, token)) = enlist(args, params).await? else {
                return Ok(());
            };
            tracing::info!(%system_id, "enlisted; running the built-in commissioning scripts");
            let p = cmdline::KernelParams {
                system_id: Some(system_id),
                token: Some(token),
                ..params.clone()
            };
            run_scripts(args, &p, text, "commission").await
        }
        "resources" => resources_to_console(args),
        p @ ("commission" | "test" | "erase") => run_scripts(args, params, text, p).await,
        other => {
            tracing::warn!(
                "ingot.purpose={other} is not supported by this agent (only enlist, resources, commission, test, erase, deploy and rescue)"
            );
            Ok(())
        }
    }
}

/// Reports through the metadata API; a refused report is logged and the run goes on.
struct RegionSignaller {
    client: metadata::Client,
}

impl runner::Signaller for RegionSignaller {
    async fn signal(&self, form: metadata::Form) -> runner::Delivery {
        let status = form.get("status").unwrap_or_default();
        let script_result_id = form.get("script_result_id").unwrap_or_default();
        match self.client.signal(&form).await {
            Ok(()) => runner::Delivery::Taken,
            Err(metadata::MetadataError::Status(401 | 403, body)) => {
                tracing::warn!(
                    status,
                    script_result_id,
                    "signal refused, the token is no longer valid: {body}"
                );
                runner::Delivery::Revoked
            }
            Err(e @ metadata::MetadataError::Unreachable(_)) => {
                tracing::error!(status, script_result_id, "signal not delivered: {e}");
                runner::Delivery::Unreachable
            }
            Err(e) => {
                tracing::error!(status, script_result_id, "signal not taken: {e}");
                runner::Delivery::Refused
            }
        }
    }
}

/// The command the runner starts a built-in with: this executable, the same roots and
/// command line, `builtin`.
fn builtin_command(args: &Args, cmdline: &str) -> anyhow::Result<Vec<std::ffi::OsString>> {
    let exe = std::env::current_exe().context("finding ingot-agent's own executable")?;
    let mut v: Vec<std::ffi::OsString> = vec![
        exe.into(),
        "--sysfs-root".into(),
        args.sysfs_root.clone().into(),
        "--procfs-root".into(),
        args.procfs_root.clone().into(),
        "--dev-root".into(),
        args.dev_root.clone().into(),
        "--root".into(),
        args.root.clone().into(),
        "--cmdline".into(),
        cmdline.into(),
    ];
    if args.no_kernel_probes {
        v.push("--no-kernel-probes".into());
    }
    v.push("builtin".into());
    Ok(v)
}

/// `ingot.purpose=commission|test`: run what the region lists and report it.
async fn run_scripts(
    args: &Args,
    params: &cmdline::KernelParams,
    cmdline_text: &str,
    purpose: &str,
) -> anyhow::Result<()> {
    let url = params
        .url
        .as_deref()
        .context("no ingot.url= on the kernel command line")?;
    let token = params
        .token
        .as_deref()
        .context("no ingot.token= on the kernel command line")?;
    let token = metadata::Token::parse(token)
        .context("ingot.token= is not consumer_key:token_key:token_secret")?;
    tracing::info!(system_id = ?params.system_id, %purpose, "fetching the scripts to run");
    let client = metadata::Client::new(
        url,
        token,
        args.attempts,
        Duration::from_secs(1),
        &args.trust.trust()?,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let index = client
        .scripts()
        .await
        .map_err(|e| anyhow::anyhow!("cannot get the scripts to run: {e}"))?;
    tracing::info!(
        commissioning = index.commissioning_scripts.len(),
        testing = index.testing_scripts.len(),
        release = index.release_scripts.len(),
        "scripts to run"
    );
    let work = tempfile::Builder::new()
        .prefix("ingot-scripts-")
        .tempdir()
        .context("creating the scripts' work directory")?;
    let resources_file = work.path().join("resources.json");
    // Scripts that run before the inventory built-in (and tests run on their own) find the
    // document there too.
    let doc = resources::gather(&args.roots());
    if let Err(e) = std::fs::write(&resources_file, serde_json::to_vec(&doc)?) {
        tracing::warn!("cannot write {}: {e}", resources_file.display());
    }
    let mut extra_env = Vec::new();
    for (k, v) in [
        ("INGOT_LLDP_SECONDS", args.lldp_seconds),
        ("INGOT_TEST_SECONDS", args.test_seconds),
        ("INGOT_BADBLOCKS_MIB", args.badblocks_mib),
        ("INGOT_MEMTESTER_MIB", args.memtester_mib),
    ] {
        if let Some(v) = v {
            extra_env.push((k.to_string(), v.to_string()));
        }
    }
    let settings = runner::Settings {
        work_dir: work.path().to_path_buf(),
        resources_file,
        builtin_command: builtin_command(args, cmdline_text)?,
        extra_env,
        maas_url: url.to_string(),
        heartbeat: Duration::from_secs(args.heartbeat_seconds.max(1)),
        ids: hardware::gather(&args.sysfs_root),
    };
    let signaller = RegionSignaller { client };
    let summary = runner::run(purpose, &index, &settings, &signaller).await;
    tracing::info!(
        status = %summary.final_status,
        error = ?summary.error,
        commissioning = summary.commissioning.len(),
        testing = summary.testing.len(),
        "scripts done"
    );
    if summary.revoked {
        tracing::warn!("the run was ended on the region's side before the agent finished");
        return Ok(());
    }
    anyhow::ensure!(
        summary.delivery != Some(runner::Delivery::Unreachable),
        "the final {} signal could not be delivered",
        summary.final_status
    );
    Ok(())
}

/// `ingot-agent resources`: the document, pretty-printed, to stdout or `output`.
fn print_resources(args: &Args, output: Option<&Path>) -> anyhow::Result<()> {
    let doc = resources::gather(&args.roots());
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    match output {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display())),
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush().context("writing to stdout")
        }
    }
}

/// `ingot.purpose=resources`: the document on one line between the markers, on stdout (the
/// console under /init). In the ephemeral environment the kernel's console messages are
/// quieted first so they cannot land inside the document, and the disk drivers are given a
/// moment to finish registering their disks (there is no udev to settle on).
fn resources_to_console(args: &Args) -> anyhow::Result<()> {
    if may_power_off(args.no_poweroff) {
        // SAFETY: SYSLOG_ACTION_CONSOLE_LEVEL takes no buffer.
        unsafe {
            libc::klogctl(8, std::ptr::null_mut(), 1);
        }
        settle(
            &args.sysfs_root.join("class/block"),
            Duration::from_secs(1),
            Duration::from_secs(10),
        );
    }
    let doc = resources::gather(&args.roots());
    let json = serde_json::to_string(&doc)?;
    tracing::info!(
        cpus = doc.resources.cpu.total,
        memory = doc.resources.memory.total,
        disks = doc.resources.storage.disks.len(),
        nics = doc.resources.network.cards.len(),
        bytes = json.len(),
        "hardware inventory"
    );
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{RESOURCES_BEGIN}\n{json}\n{RESOURCES_END}")?;
    out.flush().context("writing to stdout")
}

/// Waits until the names in `dir` have not changed for `quiet`, at most `max`.
fn settle(dir: &Path, quiet: Duration, max: Duration) {
    let names = || {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    let start = std::time::Instant::now();
    let mut last = names();
    let mut since = std::time::Instant::now();
    while start.elapsed() < max && since.elapsed() < quiet {
        std::thread::sleep(Duration::from_millis(100));
        let now = names();
        if now != last {
            last = now;
            since = std::time::Instant::now();
        }
    }
}

fn gather(sysfs: &Path, boot_mac: Option<&str>) -> enlist::Enlistment {
    let nics = inventory::physical_nics(sysfs);
    for n in &nics {
        tracing::info!(interface = %n.name, mac = %n.mac, "NIC");
    }
    let machine = inventory::uname_machine();
    let arch = inventory::debian_arch(&machine);
    let uuid = inventory::hardware_uuid(sysfs);
    tracing::info!(%machine, %arch, uuid = ?uuid, "machine");
    if let Some(b) = boot_mac {
        if !nics.iter().any(|n| n.mac == b) {
            tracing::warn!(
                boot_mac = b,
                "the boot MAC is not among this machine's NICs"
            );
        }
    }
    enlist::Enlistment::new(
        arch,
        nics.into_iter().map(|n| n.mac).collect(),
        boot_mac,
        uuid,
    )
}

/// Enlist this machine; the system id and credentials when the region wants the enlistment's
/// built-in commissioning scripts run now.
async fn enlist(
    args: &Args,
    params: &cmdline::KernelParams,
) -> anyhow::Result<Option<(String, String)>> {
    let url = params
        .url
        .as_deref()
        .context("no ingot.url= on the kernel command line")?;
    let e = gather(&args.sysfs_root, params.mac.as_deref());
    anyhow::ensure!(
        !e.mac_addresses.is_empty(),
        "no physical NIC found under {}",
        args.sysfs_root.display()
    );
    let req = enlist::enlist_request(url, &e);
    if args.dry_run {
        println!("POST {}\n{}", req.url, req.body);
        return Ok(None);
    }
    tracing::info!(url = %req.url, body = %req.body, "enlisting");
    let body = enlist::post_form(&req, args.attempts, Duration::from_secs(1))
        .await
        .map_err(|e| anyhow::anyhow!("enlistment failed: {e}"))?;
    let answer = enlist::Answer::parse(&body);
    tracing::info!(system_id = ?answer.system_id, status = ?answer.status_name, commissioning = answer.token.is_some(), "enlisted");
    Ok(answer.system_id.zip(answer.token))
}

/// Only in the ephemeral environment: the marker exists and the agent is init or init's child.
fn may_power_off(no_poweroff: bool) -> bool {
    if no_poweroff || !is_ephemeral() {
        return false;
    }
    // SAFETY: getpid/getppid cannot fail.
    let (pid, ppid) = unsafe { (libc::getpid(), libc::getppid()) };
    pid == 1 || ppid == 1
}

fn reboot() {
    tracing::info!("rebooting");
    // SAFETY: plain syscalls; reboot only returns on failure.
    unsafe {
        libc::sync();
        if libc::reboot(libc::RB_AUTOBOOT) != 0 {
            tracing::error!("reboot(RB_AUTOBOOT): {}", std::io::Error::last_os_error());
        }
    }
}

fn power_off() {
    tracing::info!("powering off");
    // SAFETY: plain syscalls; reboot only returns on failure.
    unsafe {
        libc::sync();
        if libc::reboot(libc::RB_POWER_OFF) != 0 {
            tracing::error!("reboot(RB_POWER_OFF): {}", std::io::Error::last_os_error());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathers_from_fake_sysfs() {
        let t = tempfile::tempdir().unwrap();
        inventory::tests::fake_nic(t.path(), "eth0", "52:54:00:00:00:01", true);
        inventory::tests::fake_nic(t.path(), "eth1", "52:54:00:00:00:02", true);
        inventory::tests::fake_nic(t.path(), "docker0", "02:42:00:00:00:09", false);
        let dmi = t.path().join("class/dmi/id");
        std::fs::create_dir_all(&dmi).unwrap();
        std::fs::write(
            dmi.join("product_uuid"),
            "ABCDEF01-2345-6789-ABCD-EF0123456789\n",
        )
        .unwrap();
        let e = gather(t.path(), Some("52:54:00:00:00:02"));
        assert_eq!(e.mac_addresses, ["52:54:00:00:00:02", "52:54:00:00:00:01"]);
        assert_eq!(
            e.hardware_uuid.as_deref(),
            Some("abcdef01-2345-6789-abcd-ef0123456789")
        );
        assert_eq!(
            e.architecture,
            inventory::debian_arch(&inventory::uname_machine())
        );
    }

    #[test]
    fn never_powers_off_when_told_not_to_or_outside_the_initramfs() {
        assert!(!may_power_off(true));
        // The test runner is not init's child with the marker present.
        if !Path::new(EPHEMERAL_MARKER).exists() {
            assert!(!may_power_off(false));
        }
    }

    #[test]
    fn cli_parses() {
        let a = Args::parse_from([
            "ingot-agent",
            "--cmdline",
            "ingot.purpose=enlist",
            "--sysfs-root",
            "/tmp/x",
            "--no-poweroff",
        ]);
        assert_eq!(a.cmdline.as_deref(), Some("ingot.purpose=enlist"));
        assert_eq!(a.sysfs_root, PathBuf::from("/tmp/x"));
        assert!(a.no_poweroff);
        assert_eq!(a.attempts, 6);
        assert!(a.command.is_none());
        assert_eq!(a.procfs_root, PathBuf::from("/proc"));
        assert!(!a.no_kernel_probes);
    }

    #[test]
    fn resources_subcommand_parses_with_roots_either_side() {
        let a = Args::parse_from([
            "ingot-agent",
            "--sysfs-root",
            "/tmp/s",
            "resources",
            "--output",
            "/tmp/out.json",
            "--procfs-root",
            "/tmp/p",
            "--no-kernel-probes",
        ]);
        assert!(matches!(
            &a.command,
            Some(Command::Resources { output: Some(o) }) if o == Path::new("/tmp/out.json")
        ));
        let r = a.roots();
        assert_eq!(r.sys, PathBuf::from("/tmp/s"));
        assert_eq!(r.proc, PathBuf::from("/tmp/p"));
        assert_eq!(r.dev, PathBuf::from("/dev"));
        assert!(!r.kernel_probes);
    }

    #[test]
    fn settle_returns_once_quiet() {
        let t = tempfile::tempdir().unwrap();
        let start = std::time::Instant::now();
        settle(t.path(), Duration::from_millis(300), Duration::from_secs(5));
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(2),
            "{took:?}"
        );
        // Never longer than the limit, even if the directory keeps changing.
        let dir = t.path().to_path_buf();
        let writer = std::thread::spawn(move || {
            for i in 0..30 {
                std::fs::write(dir.join(i.to_string()), "").unwrap();
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let start = std::time::Instant::now();
        settle(t.path(), Duration::from_secs(1), Duration::from_millis(700));
        assert!(start.elapsed() < Duration::from_millis(1200));
        writer.join().unwrap();
    }
}
