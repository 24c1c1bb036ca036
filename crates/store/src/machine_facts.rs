//! What a list of machines filters, counts and sorts by, and no more: one row per machine
//! with the few columns the web UI's list reads (host name, status, owner, pool, zone,
//! architecture, power state, cores, memory) and its tags. A fleet of thousands is filtered
//! on these; only the rows of the page shown are then loaded whole.

use crate::machines::{filter_sql, MachineFilter};
use crate::{bind_all, status_of, Result, Store};
use ingot_core::Status;
use sqlx::Row;
use std::collections::HashMap;

/// One machine as the list's filters and sorting see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineFacts {
    pub id: i64,
    pub system_id: String,
    pub hostname: String,
    pub status: Status,
    pub owner: Option<String>,
    pub pool: String,
    pub zone: String,
    pub architecture: Option<String>,
    pub power_state: String,
    pub cpu_count: i64,
    pub memory: i64,
    /// Tag names, sorted.
    pub tags: Vec<String>,
}

impl Store {
    /// The facts of every machine matching `f`, ordered by id (two queries: the machines, then
    /// all tag links).
    pub async fn machine_facts(&self, f: &MachineFilter) -> Result<Vec<MachineFacts>> {
        let (conds, vals) = filter_sql(f);
        let sql = format!(
            "SELECT m.id, m.system_id, m.hostname, m.status, u.username AS owner, p.name AS pool, \
             z.name AS zone, m.architecture, m.power_state, m.cpu_count, m.memory \
             FROM machines m JOIN domains d ON d.id = m.domain_id JOIN zones z ON z.id = m.zone_id \
             JOIN pools p ON p.id = m.pool_id LEFT JOIN users u ON u.id = m.owner_id \
             WHERE {} ORDER BY m.id",
            conds.join(" AND ")
        );
        let mut out = Vec::new();
        for r in bind_all(sqlx::query(&sql), &vals)
            .fetch_all(&self.pool)
            .await?
        {
            out.push(MachineFacts {
                id: r.try_get("id")?,
                system_id: r.try_get("system_id")?,
                hostname: r.try_get("hostname")?,
                status: status_of(r.try_get("status")?)?,
                owner: r.try_get("owner")?,
                pool: r.try_get("pool")?,
                zone: r.try_get("zone")?,
                architecture: r.try_get("architecture")?,
                power_state: r.try_get("power_state")?,
                cpu_count: r.try_get("cpu_count")?,
                memory: r.try_get("memory")?,
                tags: Vec::new(),
            });
        }
        let index: HashMap<i64, usize> = out.iter().enumerate().map(|(i, m)| (m.id, i)).collect();
        for r in sqlx::query(
            "SELECT mt.machine_id, t.name FROM machine_tags mt JOIN tags t ON t.id = mt.tag_id ORDER BY t.name",
        )
        .fetch_all(&self.pool)
        .await?
        {
            let mid: i64 = r.try_get(0)?;
            if let Some(&i) = index.get(&mid) {
                out[i].tags.push(r.try_get(1)?);
            }
        }
        Ok(out)
    }
}
