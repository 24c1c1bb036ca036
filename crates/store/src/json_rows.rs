//! Many rows read as one value: the database puts each row into a JSON array, its values in
//! the order the query names them (`json_array` on SQLite, `json_build_array` on PostgreSQL),
//! and all of them into one JSON array (`group_concat`, `json_agg`); serde reads that into
//! typed rows, each struct's fields in the same order (serde reads a struct from an array
//! field by field).
//!
//! Why: sqlx's SQLite driver steps a statement on its worker thread, copies every value of
//! every row there (an allocation each), sends each row across a channel, and converts each
//! value again, with its column's description, on the runtime thread. For the lists of
//! machines that cost was most of the region's CPU (measured on 10,000 machines: 82% of a
//! list's CPU was reading rows, mostly the 44 values of each machine row), and sqlx offers no
//! way around it short of a driver of our own. One value per query leaves SQLite's C code to
//! do the per-row work. Arrays rather than objects: the names are not written and matched
//! again for every row (they were a third of a machine row's JSON); [`select_sql`] checks, in
//! debug builds, that the names it is given are the row type's fields in their order.

use crate::{bind_all, Backend, Result, Store, StoreError, Val};
use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::Row;

/// `SELECT <one JSON array of rows, each an array of cols' expressions> <from>`, for
/// `backend`, to be read as `T`s. `cols` are (expression, name) pairs: the names are `T`'s
/// fields, in the order `T` declares them (checked in debug builds). `from` is the rest of a
/// query (`FROM … WHERE … ORDER BY … LIMIT …`): it may order and limit, the rows are
/// aggregated in a subquery. An empty result is NULL (or `[]`).
pub(crate) fn select_sql<T: DeserializeOwned>(
    backend: Backend,
    cols: &[(&str, &str)],
    from: &str,
) -> String {
    debug_assert_eq!(
        cols.iter().map(|(_, name)| *name).collect::<Vec<_>>(),
        field_names::<T>(),
        "the columns of {from} are not {}'s fields in order",
        std::any::type_name::<T>()
    );
    let (array, aggregate) = match backend {
        // The arrays are joined as text: they are text once they leave the subquery, which
        // json_group_array would quote as strings (or parse again, with json()).
        Backend::Sqlite => ("json_array", "'[' || group_concat(j, ',') || ']'"),
        // At most 100 arguments to a function: 100 columns.
        Backend::Postgres => ("json_build_array", "json_agg(j)::text"),
    };
    let exprs: Vec<&str> = cols.iter().map(|(expr, _)| *expr).collect();
    format!(
        "SELECT {aggregate} FROM (SELECT {array}({}) AS j {from}) json_rows",
        exprs.join(", ")
    )
}

/// The names of a struct's fields as serde's derive declares them, in order (what serde
/// reads an array's values into): asked of `T` with a deserializer that only takes note.
fn field_names<T: DeserializeOwned>() -> Vec<&'static str> {
    use serde::de::{Error, Visitor};
    struct Note(&'static [&'static str]);
    impl<'de> serde::Deserializer<'de> for &mut Note {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(
            self,
            _: V,
        ) -> std::result::Result<V::Value, Self::Error> {
            Err(Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> std::result::Result<V::Value, Self::Error> {
            self.0 = fields;
            Err(Error::custom("noted"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut note = Note(&[]);
    let _ = T::deserialize(&mut note);
    note.0.to_vec()
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

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Two {
        id: i64,
        hostname: Option<String>,
    }

    #[test]
    fn the_rows_are_aggregated_from_an_ordered_subquery() {
        let cols = [("m.id", "id"), ("m.hostname", "hostname")];
        assert_eq!(
            select_sql::<Two>(Backend::Sqlite, &cols, "FROM machines m ORDER BY m.id LIMIT 2"),
            "SELECT '[' || group_concat(j, ',') || ']' FROM (SELECT json_array(m.id, m.hostname) AS j FROM machines m ORDER BY m.id LIMIT 2) json_rows"
        );
        assert_eq!(
            select_sql::<Two>(Backend::Postgres, &cols, "FROM machines m"),
            "SELECT json_agg(j)::text FROM (SELECT json_build_array(m.id, m.hostname) AS j FROM machines m) json_rows"
        );
    }

    #[test]
    fn a_row_is_read_field_by_field_from_its_array() {
        let rows: Vec<Two> = parse(Some(r#"[[1,"a"],[2,null]]"#.into()), "t").unwrap();
        assert_eq!(
            rows,
            [
                Two {
                    id: 1,
                    hostname: Some("a".into())
                },
                Two {
                    id: 2,
                    hostname: None
                }
            ]
        );
        // A value too many or too few is an error, not a shifted row.
        assert!(parse::<Two>(Some(r#"[[1,"a",3]]"#.into()), "t").is_err());
        assert!(parse::<Two>(Some("[[1]]".into()), "t").is_err());
    }

    #[test]
    fn columns_must_be_the_fields_in_their_order() {
        assert_eq!(field_names::<Two>(), ["id", "hostname"]);
        let swapped = [("m.hostname", "hostname"), ("m.id", "id")];
        let r = std::panic::catch_unwind(|| select_sql::<Two>(Backend::Sqlite, &swapped, "FROM m"));
        assert_eq!(r.is_err(), cfg!(debug_assertions));
    }
}
