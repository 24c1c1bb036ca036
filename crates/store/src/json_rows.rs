//! Many rows read as one value: the database puts each row into a JSON object and all of them
//! into one JSON array (`json_object` joined by `group_concat` on SQLite, `json_build_object`
//! and `json_agg` on PostgreSQL), and serde reads the array into typed rows.
//!
//! Why: sqlx's SQLite driver steps a statement on its worker thread, copies every value of
//! every row there (an allocation each), sends each row across a channel, and converts each
//! value again, with its column's description, on the runtime thread. For the lists of
//! machines that cost was most of the region's CPU (measured on 10,000 machines: 82% of a
//! list's CPU was reading rows, mostly the 44 values of each machine row), and sqlx offers no
//! way around it short of a driver of our own. One value per query leaves SQLite's C code to
//! do the per-row work.

use crate::{bind_all, Backend, Result, Store, StoreError, Val};
use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::Row;

/// `SELECT <one JSON array of {name: expr, …}, one object per row> <from>`, for `backend`.
/// `from` is the rest of a query (`FROM … WHERE … ORDER BY … LIMIT …`): it may order and
/// limit, the rows are aggregated in a subquery. An empty result is NULL (or `[]`).
pub(crate) fn select_sql(backend: Backend, cols: &[(&str, &str)], from: &str) -> String {
    let (object, aggregate) = match backend {
        // The objects are joined as text: they are text once they leave the subquery, which
        // json_group_array would quote as strings (or parse again, with json()).
        Backend::Sqlite => ("json_object", "'[' || group_concat(j, ',') || ']'"),
        // At most 100 arguments to a function: 50 columns.
        Backend::Postgres => ("json_build_object", "json_agg(j)::text"),
    };
    let pairs: Vec<String> = cols
        .iter()
        .map(|(expr, name)| format!("'{name}', {expr}"))
        .collect();
    format!(
        "SELECT {aggregate} FROM (SELECT {object}({}) AS j {from}) json_rows",
        pairs.join(", ")
    )
}

/// The rows in column `name` of `row`, one of [`select_sql`]'s arrays (several can be read by
/// one statement, each a scalar subquery).
pub(crate) fn column<T: DeserializeOwned>(row: &AnyRow, name: &str) -> Result<Vec<T>> {
    parse(row.try_get(name)?, name)
}

fn parse<T: DeserializeOwned>(text: Option<String>, what: &str) -> Result<Vec<T>> {
    match text {
        None => Ok(Vec::new()),
        Some(t) => serde_json::from_str(&t)
            .map_err(|e| StoreError::Corrupt(format!("{what} read as JSON: {e}"))),
    }
}

impl Store {
    /// The rows of a query made by [`select_sql`], in no promised order: `group_concat` and
    /// `json_agg` keep the subquery's order in practice, but neither database promises it, so
    /// callers sort where the order matters.
    pub(crate) async fn json_rows<T: DeserializeOwned>(
        &self,
        sql: &str,
        vals: &[Val],
    ) -> Result<Vec<T>> {
        let r = bind_all(sqlx::query(sql), vals)
            .fetch_one(&self.pool)
            .await?;
        parse(r.try_get(0)?, "rows")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rows_are_aggregated_from_an_ordered_subquery() {
        let cols = [("m.id", "id"), ("m.hostname", "hostname")];
        assert_eq!(
            select_sql(Backend::Sqlite, &cols, "FROM machines m ORDER BY m.id LIMIT 2"),
            "SELECT '[' || group_concat(j, ',') || ']' FROM (SELECT json_object('id', m.id, 'hostname', m.hostname) AS j FROM machines m ORDER BY m.id LIMIT 2) json_rows"
        );
        assert_eq!(
            select_sql(Backend::Postgres, &cols, "FROM machines m"),
            "SELECT json_agg(j)::text FROM (SELECT json_build_object('id', m.id, 'hostname', m.hostname) AS j FROM machines m) json_rows"
        );
    }
}
