//! `resources.memory`: the total as LXD computes it — online memory blocks × block size from
//! `/sys/devices/system/memory` (what the machine has, not `MemTotal`, which is that minus
//! what the kernel reserved) — falling back to `/proc/meminfo`; per-NUMA-node figures from
//! `/sys/devices/system/node`.

use std::fs;
use std::path::Path;

use serde::Serialize;

use super::{entries, numbered, read_trim, Ctx};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Memory {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<MemoryNode>,
    /// Bytes.
    pub hugepages_total: u64,
    pub hugepages_used: u64,
    pub hugepages_size: u64,
    pub used: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MemoryNode {
    pub numa_node: u64,
    pub hugepages_used: u64,
    pub hugepages_total: u64,
    pub used: u64,
    pub total: u64,
}

/// The fields LXD uses from a meminfo file, in bytes (hugepage counts as counts).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct MemInfo {
    pub total: u64,
    pub free: u64,
    pub used: u64,
    pub cached: u64,
    pub buffers: u64,
    pub hugepages_total: u64,
    pub hugepages_free: u64,
    pub hugepage_size: u64,
}

/// Parses `/proc/meminfo` or a node's `meminfo` (`Node 0 MemTotal:  123 kB`).
pub(crate) fn parse_meminfo(text: &str) -> MemInfo {
    let mut m = MemInfo::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.split_whitespace().last().unwrap_or("");
        let mut words = value.split_whitespace();
        let Some(n) = words.next().and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        let n = match words.next() {
            Some("kB") => n * 1024,
            _ => n,
        };
        match key {
            "MemTotal" => m.total = n,
            "MemFree" => m.free = n,
            "MemUsed" => m.used = n,
            "Cached" => m.cached = n,
            "Buffers" => m.buffers = n,
            "HugePages_Total" => m.hugepages_total = n,
            "HugePages_Free" => m.hugepages_free = n,
            "Hugepagesize" => m.hugepage_size = n,
            _ => {}
        }
    }
    m
}

/// Bytes of online memory blocks under `dir` (`memoryN/online` == 1), `None` when the block
/// size or the blocks cannot be read.
pub(crate) fn online_blocks_bytes(sys: &Path, dir: &Path) -> Option<u64> {
    let size = read_trim(&sys.join("devices/system/memory/block_size_bytes"))?;
    let size = u64::from_str_radix(size.trim_start_matches("0x"), 16).ok()?;
    let count = entries(dir)
        .iter()
        .filter(|n| numbered(n, "memory").is_some())
        .filter(|n| read_trim(&dir.join(n).join("online")).as_deref() == Some("1"))
        .count() as u64;
    (size > 0 && count > 0).then_some(size * count)
}

pub(crate) fn memory(ctx: &Ctx) -> Memory {
    let sys = &ctx.roots.sys;
    let info = fs::read_to_string(ctx.roots.proc.join("meminfo"))
        .map(|t| parse_meminfo(&t))
        .unwrap_or_default();
    let total = online_blocks_bytes(sys, &sys.join("devices/system/memory")).unwrap_or(info.total);
    let page = info.hugepage_size;
    let node_dir = sys.join("devices/system/node");
    let mut nodes: Vec<MemoryNode> = entries(&node_dir)
        .iter()
        .filter_map(|n| Some((numbered(n, "node")?, node_dir.join(n))))
        .filter_map(|(n, dir)| {
            let m = parse_meminfo(&fs::read_to_string(dir.join("meminfo")).ok()?);
            Some(MemoryNode {
                numa_node: n,
                hugepages_used: m.hugepages_total.saturating_sub(m.hugepages_free) * page,
                hugepages_total: m.hugepages_total * page,
                used: m.used,
                total: online_blocks_bytes(sys, &dir).unwrap_or(m.total),
            })
        })
        .collect();
    nodes.sort_by_key(|n| n.numa_node);
    Memory {
        nodes,
        hugepages_total: info.hugepages_total * page,
        hugepages_used: info.hugepages_total.saturating_sub(info.hugepages_free) * page,
        hugepages_size: page,
        used: total
            .saturating_sub(info.free)
            .saturating_sub(info.cached)
            .saturating_sub(info.buffers),
        total,
    }
}
