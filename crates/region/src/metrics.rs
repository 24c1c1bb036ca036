//! What the region counts and holds, for `/MAAS/metrics`: machines by status, deployments
//! waiting for a slot, the status changes this process committed, deadlines that expired,
//! power operations by driver and outcome, the database pool; and whether the database
//! answers (readiness).

use crate::{Region, Result};
use std::sync::atomic::Ordering;

/// One reading of the region's figures.
#[derive(Debug, Clone, Default)]
pub struct RegionMetrics {
    /// (status label, machines).
    pub machines: Vec<(&'static str, i64)>,
    pub deploy_queue: i64,
    /// ((from, to) status labels, count) since this process started.
    pub transitions: Vec<((&'static str, &'static str), u64)>,
    pub deadline_expiries: u64,
    /// ((driver, operation, outcome), count) since this process started.
    pub power: Vec<((String, &'static str, &'static str), u64)>,
    /// Database connections open, and of them idle.
    pub db_pool: (u32, usize),
    /// Power operations queued or under way (paced power-ons wait here).
    pub power_queue: i64,
}

impl Region {
    pub async fn metrics(&self) -> Result<RegionMetrics> {
        use ingot_core::Status;
        let (by, deploy_queue) = self.store.status_counts().await?;
        // Every status, zero where there is none (a series that disappears is a gap).
        let machines = Status::ALL
            .iter()
            .map(|s| {
                let n = by
                    .iter()
                    .find(|(st, _)| *st == *s as i64)
                    .map_or(0, |(_, n)| *n);
                (s.label(), n)
            })
            .collect();
        Ok(RegionMetrics {
            machines,
            deploy_queue,
            transitions: self
                .store
                .transition_counts()
                .into_iter()
                .map(|((f, t), n)| ((f.label(), t.label()), n))
                .collect(),
            deadline_expiries: self.deadline_expiries.load(Ordering::Relaxed),
            power: self.power.counts(),
            db_pool: self.store.pool_stats(),
            power_queue: self.power_pending.load(Ordering::Relaxed),
        })
    }

    /// Whether the region can serve: its database answers.
    pub async fn ready(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }
}
