//! Machine events (`events`).

use crate::{bind_all, now_ms, Machine, Result, Store, Val};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: i64,
    pub machine_id: Option<i64>,
    pub system_id: String,
    pub hostname: String,
    pub kind: String,
    pub level: String,
    pub description: String,
    pub username: String,
    pub created: i64,
}

/// An event to record with a change.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: String,
    pub level: &'static str,
    pub description: String,
    pub username: String,
}

impl NewEvent {
    pub fn info(
        kind: impl Into<String>,
        description: impl Into<String>,
        username: &str,
    ) -> NewEvent {
        NewEvent {
            kind: kind.into(),
            level: "INFO",
            description: description.into(),
            username: username.to_string(),
        }
    }
    pub fn error(
        kind: impl Into<String>,
        description: impl Into<String>,
        username: &str,
    ) -> NewEvent {
        NewEvent {
            kind: kind.into(),
            level: "ERROR",
            description: description.into(),
            username: username.to_string(),
        }
    }
}

pub(crate) fn event_from_row(r: &AnyRow) -> Result<Event> {
    Ok(Event {
        id: r.try_get("id")?,
        machine_id: r.try_get("machine_id")?,
        system_id: r.try_get("system_id")?,
        hostname: r.try_get("hostname")?,
        kind: r.try_get("type")?,
        level: r.try_get("level")?,
        description: r.try_get("description")?,
        username: r.try_get("username")?,
        created: r.try_get("created")?,
    })
}

pub(crate) async fn insert_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    machine_id: Option<i64>,
    system_id: &str,
    hostname: &str,
    ev: &NewEvent,
    now: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO events (machine_id, system_id, hostname, type, level, description, username, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(machine_id)
        .bind(system_id)
        .bind(hostname)
        .bind(&ev.kind)
        .bind(ev.level)
        .bind(&ev.description)
        .bind(&ev.username)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    // ---------------------------------------------------------------- events
    /// Events, newest first. `before`/`after` are event ids for paging.
    pub async fn events(
        &self,
        system_ids: &[String],
        level_min: Option<&[&str]>,
        before: Option<i64>,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Event>> {
        let mut conds = Vec::new();
        let mut vals: Vec<Val> = Vec::new();
        if !system_ids.is_empty() {
            let mut ph = Vec::new();
            for s in system_ids {
                vals.push(s.clone().into());
                ph.push(format!("${}", vals.len()));
            }
            conds.push(format!("system_id IN ({})", ph.join(", ")));
        }
        if let Some(levels) = level_min {
            let mut ph = Vec::new();
            for l in levels {
                vals.push((*l).into());
                ph.push(format!("${}", vals.len()));
            }
            conds.push(format!("level IN ({})", ph.join(", ")));
        }
        if let Some(b) = before {
            vals.push(b.into());
            conds.push(format!("id < ${}", vals.len()));
        }
        if let Some(a) = after {
            vals.push(a.into());
            conds.push(format!("id > ${}", vals.len()));
        }
        vals.push(limit.into());
        let lim = vals.len();
        let order = if after.is_some() { "ASC" } else { "DESC" };
        let wh = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let sql = format!("SELECT * FROM events {wh} ORDER BY id {order} LIMIT ${lim}");
        let rows = bind_all(sqlx::query(&sql), &vals)
            .fetch_all(&self.pool)
            .await?;
        let mut evs: Vec<Event> = rows.iter().map(event_from_row).collect::<Result<_>>()?;
        if after.is_some() {
            evs.reverse();
        }
        Ok(evs)
    }

    /// Record an event not tied to a status change (e.g. a power query, a heartbeat).
    /// Whether the machine already has an event with this description (a problem reported
    /// once, not at every rebuild).
    pub async fn has_event(&self, machine_id: i64, description: &str) -> Result<bool> {
        let row =
            sqlx::query("SELECT COUNT(*) FROM events WHERE machine_id = $1 AND description = $2")
                .bind(machine_id)
                .bind(description)
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get::<i64, _>(0)? > 0)
    }

    pub async fn record_event(&self, m: &Machine, ev: &NewEvent) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_event(&mut tx, Some(m.id), &m.system_id, &m.hostname, ev, now_ms()).await?;
        crate::commit(tx).await?;
        Ok(())
    }
}
