//! The background work the regions of one database share: the deadline reaper (with the
//! deployment queue's admission and the lease reaping it does) runs in one region at a time,
//! and the power monitor's machines are split into `POWER_SHARDS` shards divided evenly among
//! the live regions. Each is a work lease in the database (`ingot_store::work`): a region that
//! dies stops renewing its leases, and the others take them over when they lapse, within one
//! time to live and one round. A region also lets a lease go locally a margin before it
//! lapses in the database, so that two regions never both act on one (a region that cannot
//! reach the database stops its share of the work until it can).

use crate::{Region, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Shards of the power monitor (a machine's is its id modulo this).
pub const POWER_SHARDS: i64 = 8;
/// The lease of the deadline reaper.
pub const REAPER: &str = "reaper";

/// The power monitor's lease for machine `id`.
pub fn power_shard(id: i64) -> String {
    format!("power/{}", id.rem_euclid(POWER_SHARDS))
}

fn member(me: &str) -> String {
    format!("region/{me}")
}

/// What this region holds, as it last renewed it: a lease counts until a margin before it
/// lapses in the database.
#[derive(Clone)]
pub struct WorkShare {
    me: Arc<str>,
    ttl: Duration,
    held: Arc<Mutex<HashMap<String, Instant>>>,
}

impl WorkShare {
    /// This region's share, as `me` (unique among the regions: host and process id), with
    /// leases of `ttl`.
    pub fn new(me: &str, ttl: Duration) -> WorkShare {
        WorkShare {
            me: me.into(),
            ttl,
            held: Arc::default(),
        }
    }

    /// Who this region is in the work leases.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// How often `share_work` must run to keep what it holds.
    pub fn round(&self) -> Duration {
        self.ttl / 4
    }

    /// Whether this region may do the work of lease `name` now.
    pub fn holds(&self, name: &str) -> bool {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.get(name).is_some_and(|until| Instant::now() < *until)
    }

    /// Whether this region monitors the power of machine `id` now.
    pub fn monitors(&self, id: i64) -> bool {
        self.holds(&power_shard(id))
    }

    fn set(&self, name: &str, until: Option<Instant>) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        match until {
            Some(u) => held.insert(name.to_string(), u),
            None => held.remove(name),
        };
    }
}

impl Region {
    /// One round of sharing: renew this region's membership; keep or take the reaper; keep a
    /// fair share of the power shards (their number divided by the live regions, rounded
    /// up), give back any beyond it so that a region that joins gets its share, and take free
    /// ones up to it.
    pub async fn share_work(&self, share: &WorkShare) -> Result<()> {
        let ttl_ms = share.ttl.as_millis() as i64;
        let started = Instant::now();
        // Counted from before the claims, less a quarter for clocks and delays.
        let until = started + share.ttl * 3 / 4;
        let me = share.me();
        self.store.claim_work(&member(me), me, ttl_ms).await?;
        let leases = self.store.work_leases().await?;
        let now = ingot_store::now_ms();
        let live = leases
            .iter()
            .filter(|l| l.name.starts_with("region/") && l.expires > now)
            .count()
            .max(1) as i64;
        let fair = (POWER_SHARDS + live - 1) / live;

        let got = self.store.claim_work(REAPER, me, ttl_ms).await?;
        share.set(REAPER, got.map(|_| until));

        let mut mine = 0;
        let shards: Vec<String> = (0..POWER_SHARDS).map(power_shard).collect();
        // Those this region has first, then free ones.
        for pass in [true, false] {
            for name in &shards {
                let lease = leases.iter().find(|l| l.name == *name);
                let has = lease.is_some_and(|l| l.holder == me);
                if has != pass {
                    continue;
                }
                if mine >= fair {
                    if has {
                        share.set(name, None);
                        self.store.release_work(name, me).await?;
                    }
                    continue;
                }
                if !has && lease.is_some_and(|l| l.expires > now) {
                    continue;
                }
                let got = self.store.claim_work(name, me, ttl_ms).await?;
                share.set(name, got.map(|_| until));
                if got.is_some() {
                    mine += 1;
                }
            }
        }
        Ok(())
    }

    /// Give back everything this region holds (a clean shutdown: the others take over at
    /// once instead of after the leases lapse).
    pub async fn leave_work(&self, share: &WorkShare) -> Result<()> {
        let me = share.me();
        for name in [REAPER.to_string(), member(me)]
            .into_iter()
            .chain((0..POWER_SHARDS).map(power_shard))
        {
            share.set(&name, None);
            self.store.release_work(&name, me).await?;
        }
        Ok(())
    }

    /// Share the work until the process ends: a round every quarter of the lease's time to
    /// live; a failed round (the database away) is logged, and what was held lapses locally.
    pub async fn share_work_forever(&self, share: WorkShare) {
        loop {
            if let Err(e) = self.share_work(&share).await {
                tracing::warn!("sharing the background work: {e}");
            }
            tokio::time::sleep(share.round()).await;
        }
    }
}
