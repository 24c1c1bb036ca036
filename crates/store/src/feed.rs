//! What the web UI's live stream reads: the machines changed since a moment (every change of
//! a machine row sets `updated`, indexed since v24) and how many there are (a deletion
//! changes no row).

use crate::{Result, Store};
use sqlx::Row;

/// A machine row's last change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineTouch {
    pub system_id: String,
    pub version: i64,
    pub owner_id: Option<i64>,
    /// Milliseconds since the epoch.
    pub updated: i64,
}

impl Store {
    /// Machines (of every kind) whose row changed after `since_ms`.
    pub async fn machines_touched_since(&self, since_ms: i64) -> Result<Vec<MachineTouch>> {
        let rows = sqlx::query(
            "SELECT system_id, version, owner_id, updated FROM machines WHERE updated > $1",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MachineTouch {
                    system_id: r.try_get(0)?,
                    version: r.try_get(1)?,
                    owner_id: r.try_get(2)?,
                    updated: r.try_get(3)?,
                })
            })
            .collect()
    }

    pub async fn machine_count(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM machines")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }
}
