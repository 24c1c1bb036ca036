//! Work leases (`work_leases`, schema v28): a piece of background work that the regions of one
//! database share is held by one region at a time, until its lease expires unless renewed.
//! Every change is a compare-and-swap on the lease's fencing token, so two regions that race
//! for a free lease cannot both get it, and a region that lost its lease cannot renew it.

use crate::{now_ms, Result, Store};
use sqlx::Row;

/// A lease as the database holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkLease {
    pub name: String,
    /// The region holding it (its own identity, e.g. `host:pid`).
    pub holder: String,
    /// Rises by one whenever the lease changes hands.
    pub token: i64,
    /// Milliseconds since the epoch after which anyone may take it.
    pub expires: i64,
}

impl Store {
    /// Take or keep `name` for `holder` for `ttl_ms` from now: kept when `holder` has it
    /// (even if it lapsed and nobody took it), taken when nobody has it or its holder let it
    /// expire. The fencing token when `holder` has it now; `None` when another region does.
    pub async fn claim_work(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<Option<i64>> {
        let now = now_ms();
        let until = now + ttl_ms;
        let cur = sqlx::query("SELECT holder, token, expires FROM work_leases WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        let Some(cur) = cur else {
            let n = sqlx::query("INSERT INTO work_leases (name, holder, token, expires) VALUES ($1, $2, 1, $3) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(holder)
                .bind(until)
                .execute(self.writes()?)
                .await?
                .rows_affected();
            return Ok((n == 1).then_some(1));
        };
        let (who, token, expires): (String, i64, i64) =
            (cur.try_get(0)?, cur.try_get(1)?, cur.try_get(2)?);
        let next = if who == holder {
            token
        } else if expires <= now {
            token + 1
        } else {
            return Ok(None);
        };
        // Only if nobody changed it since it was read.
        let n = sqlx::query("UPDATE work_leases SET holder = $1, token = $2, expires = $3 WHERE name = $4 AND token = $5 AND holder = $6")
            .bind(holder)
            .bind(next)
            .bind(until)
            .bind(name)
            .bind(token)
            .bind(&who)
            .execute(self.writes()?)
            .await?
            .rows_affected();
        Ok((n == 1).then_some(next))
    }

    /// Give `name` up now, if `holder` has it (another region may take it at once).
    pub async fn release_work(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("UPDATE work_leases SET expires = 0 WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }

    /// Every lease, by name.
    pub async fn work_leases(&self) -> Result<Vec<WorkLease>> {
        let rows =
            sqlx::query("SELECT name, holder, token, expires FROM work_leases ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(WorkLease {
                    name: r.try_get(0)?,
                    holder: r.try_get(1)?,
                    token: r.try_get(2)?,
                    expires: r.try_get(3)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;

    /// A lease is one region's until it lapses; taking it over raises the token; a region
    /// that lost it cannot renew it; a given-up lease is free at once.
    #[tokio::test]
    async fn leases_change_hands_only_when_free() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("db.sqlite").display());
        let s = Store::open(&url).await.unwrap();
        assert_eq!(s.claim_work("reaper", "a", 60_000).await.unwrap(), Some(1));
        assert_eq!(s.claim_work("reaper", "b", 60_000).await.unwrap(), None);
        assert_eq!(s.claim_work("reaper", "a", 60_000).await.unwrap(), Some(1));
        // Lapsed: b takes it, with a new token; a cannot renew it any more.
        assert_eq!(s.claim_work("power/0", "a", -1).await.unwrap(), Some(1));
        assert_eq!(s.claim_work("power/0", "b", 60_000).await.unwrap(), Some(2));
        assert_eq!(s.claim_work("power/0", "a", 60_000).await.unwrap(), None);
        // Given up: free at once.
        s.release_work("reaper", "a").await.unwrap();
        assert_eq!(s.claim_work("reaper", "b", 60_000).await.unwrap(), Some(2));
        let all = s.work_leases().await.unwrap();
        assert_eq!(all.len(), 2);
        assert!(all.iter().all(|l| l.holder == "b"), "{all:?}");
    }
}
