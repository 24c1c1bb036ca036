//! What a list of machines filters, counts and sorts by, and no more: one row per machine
//! with the few columns the web UI's list reads (host name, status, owner, pool, zone,
//! architecture, power state, cores, memory) and its tags. A fleet of thousands is filtered
//! on these; only the rows of the page shown are then loaded whole.

use crate::json_rows;
use crate::machines::{filter_sql, MachineFilter, TagRow, TAGS_FROM, TAG_COLUMNS};
use crate::{bind_all, status_of, Result, Store};
use ingot_core::Status;
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

/// The facts' columns, as (expression, name), read as JSON (`json_rows`): the names are
/// [`FactsRow`]'s fields, in its order.
const FACTS_COLUMNS: &[(&str, &str)] = &[
    ("m.id", "id"),
    ("m.system_id", "system_id"),
    ("m.hostname", "hostname"),
    ("m.status", "status"),
    ("u.username", "owner"),
    ("p.name", "pool"),
    ("z.name", "zone"),
    ("m.architecture", "architecture"),
    ("m.power_state", "power_state"),
    ("m.cpu_count", "cpu_count"),
    ("m.memory", "memory"),
];

/// A machine's facts as [`FACTS_COLUMNS`] names them (in the same order).
#[derive(serde::Deserialize)]
struct FactsRow {
    id: i64,
    system_id: String,
    hostname: String,
    status: i64,
    owner: Option<String>,
    pool: String,
    zone: String,
    architecture: Option<String>,
    power_state: String,
    cpu_count: i64,
    memory: i64,
}

impl Store {
    /// The facts of every machine matching `f`, ordered by id: the machines and every tag
    /// link in one statement, each read as one JSON value (`json_rows`; through sqlx row by
    /// row, 100,000 machines took 1.2–1.6 s).
    pub async fn machine_facts(&self, f: &MachineFilter) -> Result<Vec<MachineFacts>> {
        let (conds, vals) = filter_sql(f);
        let b = self.backend;
        let facts = json_rows::select_sql::<FactsRow>(
            b,
            FACTS_COLUMNS,
            &format!(
                "FROM machines m JOIN domains d ON d.id = m.domain_id JOIN zones z ON z.id = m.zone_id \
                 JOIN pools p ON p.id = m.pool_id LEFT JOIN users u ON u.id = m.owner_id \
                 WHERE {} ORDER BY m.id",
                conds.join(" AND ")
            ),
        );
        let tags = json_rows::select_sql::<TagRow>(b, TAG_COLUMNS, TAGS_FROM);
        let row = bind_all(
            sqlx::query(&format!("SELECT ({facts}) AS facts, ({tags}) AS tags")),
            &vals,
        )
        .fetch_one(&self.pool)
        .await?;
        let mut rows: Vec<FactsRow> = json_rows::column(&row, "facts")?;
        // The order the page is cut from, whatever order the aggregate kept.
        rows.sort_by_key(|r| r.id);
        let mut out = rows
            .into_iter()
            .map(|r| {
                Ok(MachineFacts {
                    id: r.id,
                    system_id: r.system_id,
                    hostname: r.hostname,
                    status: status_of(r.status)?,
                    owner: r.owner,
                    pool: r.pool,
                    zone: r.zone,
                    architecture: r.architecture,
                    power_state: r.power_state,
                    cpu_count: r.cpu_count,
                    memory: r.memory,
                    tags: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let index: HashMap<i64, usize> = out.iter().enumerate().map(|(i, m)| (m.id, i)).collect();
        for TagRow { m, t } in json_rows::column(&row, "tags")? {
            if let Some(&i) = index.get(&m) {
                out[i].tags.push(t);
            }
        }
        for m in &mut out {
            m.tags.sort();
        }
        Ok(out)
    }
}
