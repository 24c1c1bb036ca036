//! Persistence for the region: one schema on SQLite (embedded, WAL) or PostgreSQL, through
//! sqlx's `Any` driver so every query is written once (`$N` placeholders work on both).
//!
//! Invariants kept here:
//! * A machine row carries a `version`; every change is a compare-and-swap on it
//!   ([`Store::apply`]), so two region processes sharing a database can never both win the
//!   same transition (no double allocation, no lost transition).
//! * A status change and its event rows commit in the same transaction.
//! * Inside a transaction the first statement writes, so SQLite takes its write lock at once
//!   (no read-then-upgrade deadlocks).

mod catalog;
pub mod clone;
pub mod commissioning;
pub mod controllers;
pub mod deploy;
pub mod disks;
pub mod dns;
mod events;
mod feed;
pub mod files;
mod json_rows;
mod machine_facts;
mod machines;
pub mod network;
pub mod repositories;
mod results;
pub mod routes;
mod schema;
mod sessions;
mod settings;
pub mod sources;
pub mod storage;
mod users;
pub mod witness;
pub mod work;

pub use catalog::{Domain, Named, NamedKind, Tag};
pub(crate) use events::insert_event;
pub use events::{Event, NewEvent};
pub use feed::MachineTouch;
use ingot_core::Status;
pub use machine_facts::MachineFacts;
pub use machines::{Change, Interface, Machine, MachineFilter, NewMachine, DEVICE};
pub use results::ScriptResult;
pub(crate) use results::{result_from_row, result_statuses};
pub use schema::MIGRATIONS;
use serde_json::Value;
pub use sessions::UiSession;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
pub use users::{random_token, Token, TokenOwner, User};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[source] sqlx::Error),
    /// The database could not be reached earlier in this request: not tried again.
    #[error("the database could not be reached earlier in this request")]
    Away,
    #[error("not found")]
    NotFound,
    /// The row changed under us (compare-and-swap lost).
    #[error("the machine was changed concurrently")]
    Conflict,
    /// A unique constraint was violated; the text names what.
    #[error("{0}")]
    Duplicate(String),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("unsupported database URL '{0}': use sqlite://PATH or postgres://…")]
    BadUrl(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if unreachable(&e) {
            witness::away();
        }
        StoreError::Db(e)
    }
}

/// Whether `e` says the database cannot be reached (away, restarting, refusing, or no
/// connection to it came in time), rather than that it is busy or full.
fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

impl StoreError {
    /// Why the database cannot serve now, when that is the trouble (it is away, restarting,
    /// refusing connections, busy, or its disk is full): the request may be tried again
    /// later. `None` for every other error.
    pub fn unavailable(&self) -> Option<&'static str> {
        let e = match self {
            StoreError::Db(e) => e,
            StoreError::Away => return Some("The database is not reachable; try again shortly."),
            _ => return None,
        };
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Some("The database is not reachable; try again shortly.")
            }
            sqlx::Error::Database(d) => match d.code().as_deref() {
                // PostgreSQL: connection exceptions (class 08), shutting down or starting up
                // (57P01-57P03), a database not accepting connections (55000 as PostgreSQL
                // raises it then), too many connections (53300).
                Some(c) if c.starts_with("08") || c.starts_with("57P") || c == "53300" => {
                    Some("The database is not available; try again shortly.")
                }
                // PostgreSQL: its disk full (53100), out of memory (53200).
                Some("53100") => Some("The database's disk is full; free space and try again."),
                Some("53200") => Some("The database is out of memory; try again shortly."),
                Some("55000") if d.message().contains("not currently accepting connections") => {
                    Some("The database is not accepting connections; try again shortly.")
                }
                // SQLite: busy or locked past the busy timeout; the disk full.
                Some("5" | "6" | "261" | "517") => Some("The database is busy; try again shortly."),
                Some("13") => Some("The database's disk is full; free space and try again."),
                _ => None,
            },
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Milliseconds since the Unix epoch.
/// A change that had to touch a row: `NotFound` when it touched none.
pub(crate) fn found(rows_affected: u64) -> Result<()> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Commit `tx`, noting that the request changed the database when it did, or may have: a
/// COMMIT whose answer was lost (the connection went) may have been made. One the database
/// refused (its disk full, busy) was not.
pub(crate) async fn commit(tx: sqlx::Transaction<'_, sqlx::Any>) -> Result<()> {
    match tx.commit().await {
        Ok(()) => {
            witness::wrote();
            Ok(())
        }
        Err(e) => {
            if unreachable(&e) {
                witness::wrote();
            }
            Err(e.into())
        }
    }
}

/// Whether a pooled connection may be handed out: not one still inside a transaction. A
/// COMMIT that fails because the disk is full leaves SQLite's transaction rolled back but
/// sqlx's count of it at one, so the ROLLBACK that follows fails too and every later `BEGIN`
/// on that connection would; the pool closes it and opens another.
fn usable(conn: &sqlx::AnyConnection) -> bool {
    !sqlx::Connection::is_in_transaction(conn)
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A value bound into a dynamically built statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Int(Option<i64>),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::Int(Some(v))
    }
}

impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Val {
        Val::Int(v)
    }
}

impl From<bool> for Val {
    fn from(v: bool) -> Val {
        Val::Int(Some(v as i64))
    }
}

impl From<&str> for Val {
    fn from(v: &str) -> Val {
        Val::Text(Some(v.to_string()))
    }
}

impl From<String> for Val {
    fn from(v: String) -> Val {
        Val::Text(Some(v))
    }
}

impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Val {
        Val::Text(v)
    }
}

impl From<Option<Vec<u8>>> for Val {
    fn from(v: Option<Vec<u8>>) -> Val {
        Val::Blob(v)
    }
}

pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

pub(crate) fn bind_all<'q>(mut q: AnyQuery<'q>, vals: &'q [Val]) -> AnyQuery<'q> {
    for v in vals {
        q = match v {
            Val::Int(i) => q.bind(*i),
            Val::Text(t) => q.bind(t.as_deref()),
            Val::Blob(b) => q.bind(b.as_deref()),
        };
    }
    q
}

pub(crate) fn map_unique(e: sqlx::Error, what: &str) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        if d.is_unique_violation() {
            return StoreError::Duplicate(what.to_string());
        }
    }
    e.into()
}

/// What [`Store::lock_machine`] reads.
#[derive(Debug, Clone)]
pub(crate) struct LockedMachine {
    pub status: Status,
    pub system_id: String,
    pub hostname: String,
    pub owner_id: Option<i64>,
}

pub(crate) fn status_of(n: i64) -> Result<Status> {
    Status::from_i64(n).ok_or_else(|| StoreError::Corrupt(format!("status {n}")))
}

fn json_of(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Object(Default::default()))
}

/// The region's database.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
    /// Status changes committed by this process, (from, to) → count (for the metrics).
    transitions:
        std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<(Status, Status), u64>>>,
}

impl Store {
    /// A write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`):
    /// a deferred transaction that reads first and writes later fails with SQLITE_BUSY_SNAPSHOT
    /// when another writer committed in between, which `busy_timeout` cannot wait out.
    /// In a write transaction: the machine's row, locked against concurrent writers until the
    /// transaction ends (PostgreSQL `FOR UPDATE`; SQLite's write transaction already is):
    /// status, system id, hostname, owner.
    pub(crate) async fn lock_machine(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        machine_id: i64,
    ) -> Result<LockedMachine> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let row = sqlx::query(&format!(
            "SELECT status, system_id, hostname, owner_id FROM machines WHERE id = $1{lock}"
        ))
        .bind(machine_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(LockedMachine {
            status: status_of(row.try_get(0)?)?,
            system_id: row.try_get(1)?,
            hostname: row.try_get(2)?,
            owner_id: row.try_get(3)?,
        })
    }

    /// The pool, for a statement that commits by itself and may change something (noted for
    /// the request: [`witness`]).
    /// Once the request found the database unreachable, it does not wait for it again.
    pub(crate) fn writes(&self) -> Result<&AnyPool> {
        if witness::found_away() {
            return Err(StoreError::Away);
        }
        witness::wrote();
        Ok(&self.pool)
    }

    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        if witness::found_away() {
            return Err(StoreError::Away);
        }
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Open (creating if needed) and migrate. `url` is `sqlite://PATH` or `postgres://…`.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::BadUrl(url.to_string()));
        };
        let pool = match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                };
                AnyPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(10))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            sqlx::query("PRAGMA journal_mode=WAL")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA synchronous=NORMAL")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA foreign_keys=ON")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA busy_timeout=10000")
                                .execute(&mut *conn)
                                .await?;
                            Ok(())
                        })
                    })
                    .before_acquire(|conn, _| Box::pin(async move { Ok(usable(conn)) }))
                    .connect(&url)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .before_acquire(|conn, _| Box::pin(async move { Ok(usable(conn)) }))
                    .connect(url)
                    .await?
            }
        };
        let store = Store {
            pool,
            backend,
            transitions: Default::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A consistent copy of a live SQLite database into a new file (`VACUUM INTO`: one read
    /// transaction, writers go on). PostgreSQL is copied with its own tools (`pg_dump`).
    pub async fn snapshot_sqlite_into(&self, path: &std::path::Path) -> Result<()> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::BadUrl(
                "a PostgreSQL database is copied with pg_dump".into(),
            ));
        }
        sqlx::query("VACUUM INTO $1")
            .bind(path.to_string_lossy().to_string())
            .execute(self.writes()?)
            .await?;
        Ok(())
    }

    /// The newest schema version applied, and how many machines there are (a backup's
    /// manifest, and a restore's check).
    pub async fn summary(&self) -> Result<(i64, i64)> {
        let v = sqlx::query("SELECT MAX(version) FROM schema_migrations")
            .fetch_one(&self.pool)
            .await?
            .try_get::<i64, _>(0)?;
        let n = sqlx::query("SELECT COUNT(*) FROM machines")
            .fetch_one(&self.pool)
            .await?
            .try_get::<i64, _>(0)?;
        Ok((v, n))
    }

    pub(crate) async fn migrate(&self) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            // Serialise concurrent region start-ups on one database.
            sqlx::query("SELECT pg_advisory_xact_lock(4242424242)")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied BIGINT NOT NULL)")
            .execute(&mut *tx)
            .await?;
        let done: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get::<i64, _>(0))
            .collect::<std::result::Result<_, _>>()?;
        for (v, lite, pg) in MIGRATIONS {
            if done.contains(v) {
                continue;
            }
            let sql = if self.backend == Backend::Sqlite {
                lite
            } else {
                pg
            };
            for stmt in sql.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
                sqlx::query(stmt).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, applied) VALUES ($1, $2)")
                .bind(*v)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
        }
        crate::commit(tx).await?;
        Ok(())
    }

    /// Close the pool (flushes SQLite).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Move a machine's version (and `updated`) inside `tx`, so that caches and compare-and-swap
/// writers see a change made to its parts (storage, interfaces by clone).
pub(crate) async fn bump_version(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    machine_id: i64,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE machines SET version = version + 1, updated = $1 WHERE id = $2")
        .bind(now)
        .bind(machine_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
