//! `resources.cpu`: sockets, cores and threads from `/sys/devices/system/cpu`, names from
//! `/proc/cpuinfo`, frequencies from cpufreq (or cpuinfo's `cpu MHz`).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;

use serde::Serialize;

use super::{entries, exists, numbered, read_i64, read_trim, read_u64, Ctx};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Cpu {
    /// `uname -m`.
    pub architecture: String,
    pub sockets: Vec<CpuSocket>,
    /// Threads, all sockets and cores.
    pub total: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CpuSocket {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub vendor: String,
    pub socket: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cache: Vec<CpuCache>,
    pub cores: Vec<CpuCore>,
    /// Average of the cores' current frequencies (MHz).
    #[serde(skip_serializing_if = "is_zero")]
    pub frequency: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub frequency_minimum: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub frequency_turbo: u64,
    /// The CPU's feature flags (`/proc/cpuinfo` `flags`, `Features` on Arm): the hardware
    /// details' capabilities that tags match (`//capability[@id="vmx"]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CpuCache {
    pub level: u64,
    #[serde(rename = "type")]
    pub kind: String,
    /// Bytes.
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CpuCore {
    pub core: u64,
    pub die: u64,
    pub threads: Vec<CpuThread>,
    #[serde(skip_serializing_if = "is_zero")]
    pub frequency: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CpuThread {
    /// The logical CPU number (`cpuN`).
    pub id: i64,
    pub numa_node: u64,
    /// Index within the core.
    pub thread: u64,
    pub online: bool,
}

pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `/proc/cpuinfo` as one key/value map per `processor` (first occurrence of a key wins).
pub(crate) fn parse_cpuinfo(text: &str) -> HashMap<u64, HashMap<String, String>> {
    let mut out = HashMap::new();
    let mut current: Option<(u64, HashMap<String, String>)> = None;
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k == "processor" {
            if let Some((n, m)) = current.take() {
                out.insert(n, m);
            }
            current = v.parse().ok().map(|n| (n, HashMap::new()));
        } else if let Some((_, m)) = current.as_mut() {
            m.entry(k.to_string()).or_insert_with(|| v.to_string());
        }
    }
    if let Some((n, m)) = current {
        out.insert(n, m);
    }
    out
}

/// `cache/index*` of one CPU.
fn caches(cpu_dir: &Path) -> Vec<CpuCache> {
    let dir = cpu_dir.join("cache");
    entries(&dir)
        .into_iter()
        .filter(|n| n.starts_with("index"))
        .filter_map(|n| {
            let d = dir.join(n);
            let level = read_u64(&d.join("level"))?;
            let size = read_trim(&d.join("size"))?;
            let size = match size.strip_suffix('K') {
                Some(k) => k.parse::<u64>().ok()? * 1024,
                None => match size.strip_suffix('M') {
                    Some(m) => m.parse::<u64>().ok()? * 1024 * 1024,
                    None => size.parse().ok()?,
                },
            };
            Some(CpuCache {
                level,
                kind: read_trim(&d.join("type")).unwrap_or_default(),
                size,
            })
        })
        .collect()
}

/// The NUMA node a `cpuN` (or memory block) directory links to (`node1`), else 0.
pub(crate) fn node_of(dir: &Path) -> u64 {
    entries(dir)
        .iter()
        .find_map(|n| numbered(n, "node"))
        .unwrap_or(0)
}

fn khz_to_mhz(p: &Path) -> Option<u64> {
    read_u64(p).map(|khz| khz / 1000)
}

/// A socket's cores, keyed by (die, core id).
type CoresByDieAndId = BTreeMap<(u64, u64), CpuCore>;

pub(crate) fn cpu(ctx: &Ctx) -> Cpu {
    let base = ctx.roots.sys.join("devices/system/cpu");
    let info = fs::read_to_string(ctx.roots.proc.join("cpuinfo"))
        .map(|t| parse_cpuinfo(&t))
        .unwrap_or_default();
    let mhz_of = |id: u64| -> u64 {
        info.get(&id)
            .and_then(|m| m.get("cpu MHz"))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0, |f| f as u64)
    };

    let mut ids: Vec<u64> = entries(&base)
        .iter()
        .filter_map(|n| numbered(n, "cpu"))
        .collect();
    ids.sort_unstable();

    // socket -> (socket data, core -> core data)
    let mut sockets: BTreeMap<u64, (CpuSocket, CoresByDieAndId)> = BTreeMap::new();
    let mut total = 0;
    for id in ids {
        let dir = base.join(format!("cpu{id}"));
        let topo = dir.join("topology");
        // Offline CPUs have no topology: LXD leaves them out, so do we.
        if !exists(&topo) {
            continue;
        }
        let socket_id = read_i64(&topo.join("physical_package_id"))
            .filter(|n| *n >= 0)
            .unwrap_or(0) as u64;
        let core_id = read_i64(&topo.join("core_id"))
            .filter(|n| *n >= 0)
            .unwrap_or(0) as u64;
        let die = read_i64(&topo.join("die_id"))
            .filter(|n| *n >= 0)
            .unwrap_or(0) as u64;
        let (_, cores) = sockets.entry(socket_id).or_insert_with(|| {
            let fields = info.get(&id);
            let get = |k: &str| fields.and_then(|m| m.get(k)).cloned();
            let freq = |a: &str, b: &str| {
                khz_to_mhz(&dir.join("cpufreq").join(a))
                    .or_else(|| khz_to_mhz(&dir.join("cpufreq").join(b)))
                    .unwrap_or(0)
            };
            (
                CpuSocket {
                    name: get("model name")
                        .or_else(|| get("cpu"))
                        .or_else(|| get("uarch"))
                        .unwrap_or_default(),
                    vendor: get("vendor_id")
                        .or_else(|| get("vendor"))
                        .unwrap_or_default(),
                    socket: socket_id,
                    cache: caches(&dir),
                    cores: Vec::new(),
                    frequency: 0,
                    frequency_minimum: freq("cpuinfo_min_freq", "scaling_min_freq"),
                    frequency_turbo: freq("cpuinfo_max_freq", "scaling_max_freq"),
                    flags: get("flags")
                        .or_else(|| get("Features"))
                        .map(|f| f.split_whitespace().map(String::from).collect())
                        .unwrap_or_default(),
                },
                BTreeMap::new(),
            )
        });
        let core = cores.entry((die, core_id)).or_insert_with(|| CpuCore {
            core: core_id,
            die,
            threads: Vec::new(),
            frequency: khz_to_mhz(&dir.join("cpufreq/scaling_cur_freq"))
                .unwrap_or_else(|| mhz_of(id)),
        });
        core.threads.push(CpuThread {
            id: id as i64,
            numa_node: node_of(&dir),
            thread: core.threads.len() as u64,
            online: read_u64(&dir.join("online")) != Some(0),
        });
        total += 1;
    }

    let sockets = sockets
        .into_values()
        .map(|(mut socket, cores)| {
            socket.cores = cores.into_values().collect();
            socket
                .cores
                .sort_by_key(|c| (c.core, c.die, c.threads.first().map(|t| t.id)));
            let freqs: Vec<u64> = socket
                .cores
                .iter()
                .map(|c| c.frequency)
                .filter(|f| *f > 0)
                .collect();
            if !freqs.is_empty() {
                socket.frequency = freqs.iter().sum::<u64>() / freqs.len() as u64;
            }
            socket
        })
        .collect();
    Cpu {
        architecture: ctx.machine.clone(),
        sockets,
        total,
    }
}
