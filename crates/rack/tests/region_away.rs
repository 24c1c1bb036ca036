//! A rack whose region is unreachable when it starts: with a configuration kept on disk from
//! an earlier run it serves DHCP from it at once (and says so when it reads its configuration
//! again); without one it serves nothing until the region answers. Unprivileged: DHCP and TFTP
//! on loopback, ports the kernel picks.

use async_trait::async_trait;
use ingot_core::rack::{RackConfig, RackDns, RackEvent, RackSubnet};
use ingot_rack::{cache, CancellationToken, RackError, RackOptions, RegionLink};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A region that does not answer the first `away` reads, then answers `cfg`; it keeps what
/// the rack reported of its DHCP with each read.
struct Region {
    away: usize,
    cfg: RackConfig,
    reads: Mutex<Vec<Vec<String>>>,
}

#[async_trait]
impl RegionLink for Region {
    async fn config(&self, dhcp: &[String]) -> Result<RackConfig, RackError> {
        let mut reads = self.reads.lock().unwrap();
        reads.push(dhcp.to_vec());
        if reads.len() <= self.away {
            return Err(RackError::Region("connection refused".into()));
        }
        Ok(self.cfg.clone())
    }
    async fn report(&self, _: &[RackEvent]) -> Result<(), RackError> {
        Ok(())
    }
    async fn dns(&self, _: Option<i64>) -> Result<Option<RackDns>, RackError> {
        Ok(None)
    }
}

fn config(end: &str) -> RackConfig {
    RackConfig {
        subnets: vec![RackSubnet {
            cidr: "127.0.0.0/8".into(),
            gateway_ip: None,
            dns_servers: vec![],
            allow_dns: false,
            vid: 0,
            dhcp_on: true,
            dynamic_ranges: vec![("127.0.0.100".into(), end.into())],
            reserved_ranges: vec![],
        }],
        hosts: vec![],
        unknown_machines: "enlist".into(),
        region_url: "http://127.0.0.1:5240/MAAS".into(),
        domain: String::new(),
    }
}

/// Run a rack against `region` until it has read its configuration `reads` times; what it
/// reported of its DHCP with each read.
async fn run(dir: &std::path::Path, region: Arc<Region>, reads: usize) -> Vec<Vec<String>> {
    let mut opts = RackOptions::new("127.0.0.1".parse().unwrap(), dir.to_path_buf());
    opts.dhcp_listen = "127.0.0.1:0".parse().unwrap();
    opts.tftp_listen = "127.0.0.1:0".parse().unwrap();
    opts.dns_listen.clear();
    opts.poll = Duration::from_millis(50);
    opts.ipxe_dir = dir.join("no-ipxe");
    let stop = CancellationToken::new();
    let rack = tokio::spawn(ingot_rack::run(region.clone(), opts, stop.clone()));
    for _ in 0..200 {
        if region.reads.lock().unwrap().len() >= reads {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    rack.await.unwrap().unwrap();
    let reads = region.reads.lock().unwrap().clone();
    reads
}

fn served() -> Vec<String> {
    vec!["127.0.0.0/8".to_string()]
}

#[tokio::test]
async fn a_rack_started_while_its_region_is_away_serves_what_it_kept() {
    let dir = tempfile::tempdir().unwrap();
    // No copy kept: nothing is served while the region is away, DHCP starts once it answers.
    let first = Arc::new(Region {
        away: 3,
        cfg: config("127.0.0.199"),
        reads: Mutex::new(Vec::new()),
    });
    let reads = run(dir.path(), first, 6).await;
    assert!(reads[..4].iter().all(Vec::is_empty), "{reads:?}");
    assert_eq!(
        reads[4],
        served(),
        "DHCP runs after the region answered: {reads:?}"
    );
    // What the region sent was kept.
    assert_eq!(
        cache::load(dir.path()).unwrap(),
        Some(config("127.0.0.199"))
    );
    // Started again with the region away: DHCP runs from the copy before the region answers.
    let again = Arc::new(Region {
        away: 3,
        cfg: config("127.0.0.150"),
        reads: Mutex::new(Vec::new()),
    });
    let reads = run(dir.path(), again, 6).await;
    assert_eq!(reads[0], Vec::<String>::new(), "{reads:?}");
    assert_eq!(
        reads[1],
        served(),
        "serving the kept copy, region away: {reads:?}"
    );
    assert_eq!(reads[2], served(), "{reads:?}");
    // The region back: its configuration replaces the copy.
    assert_eq!(
        cache::load(dir.path()).unwrap(),
        Some(config("127.0.0.150"))
    );
}
