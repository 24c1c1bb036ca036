//! `ingot backup` and `ingot restore`: a consistent copy of a live region — the database
//! (SQLite's `VACUUM INTO`, one read transaction while writers go on; PostgreSQL through its
//! own `pg_dump`), then the data directory's secret key (it decrypts the BMC secrets) and its
//! content-addressed images (copied after the database, so every image the copy names is
//! there) — into a new directory with a manifest; and the way back into a new data directory
//! and an empty database. Written here rather than in a library: it is process and file work
//! around the store's one snapshot call.

use anyhow::{bail, ensure, Context, Result};
use ingot_store::{Backend, Store};
use serde_json::json;
use std::path::Path;
use std::process::Command;

const DB_SQLITE: &str = "ingot.sqlite";
const DB_PG: &str = "ingot.pgdump";
const KEY: &str = "secret.key";
const MANIFEST: &str = "MANIFEST.json";

fn is_blob(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Copy the content-addressed images of `from` into `to` (hard links when they share a file
/// system); the names copied.
fn copy_images(from: &Path, to: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let Ok(dir) = std::fs::read_dir(from) else {
        return Ok(names);
    };
    std::fs::create_dir_all(to)?;
    for e in dir {
        let e = e?;
        let name = e.file_name().to_string_lossy().to_string();
        if !is_blob(&name) || !e.file_type()?.is_file() {
            continue;
        }
        let dst = to.join(&name);
        if !dst.exists() && std::fs::hard_link(e.path(), &dst).is_err() {
            std::fs::copy(e.path(), &dst).with_context(|| format!("cannot copy image {name}"))?;
        }
        names.push(name);
    }
    names.sort();
    Ok(names)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::write_private(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// `ingot backup`: the region at `url` with its `data_dir` into the new directory `out`.
pub async fn backup(url: &str, data_dir: &Path, out: &Path) -> Result<serde_json::Value> {
    ensure!(
        !out.exists() || std::fs::read_dir(out)?.next().is_none(),
        "{} exists and is not empty: a backup goes into a new directory",
        out.display()
    );
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let store = Store::open(url).await.context("cannot open the database")?;
    let (schema, machines) = store.summary().await?;
    let kind = match store.backend() {
        Backend::Sqlite => {
            store
                .snapshot_sqlite_into(&out.join(DB_SQLITE))
                .await
                .context("cannot copy the SQLite database")?;
            "sqlite"
        }
        Backend::Postgres => {
            let file = out.join(DB_PG);
            let st = Command::new("pg_dump")
                .args(["--format=custom", "--no-owner", "--file"])
                .arg(&file)
                .arg("--dbname")
                .arg(url)
                .status()
                .context("cannot run pg_dump (Debian package postgresql-client)")?;
            ensure!(st.success(), "pg_dump failed ({st})");
            "postgresql"
        }
    };
    store.close().await;
    let key = data_dir.join(KEY);
    let has_key = match std::fs::read(&key) {
        Ok(k) => {
            write_private(&out.join(KEY), &k)?;
            true
        }
        Err(_) => false,
    };
    let images = copy_images(&data_dir.join("images"), &out.join("images"))?;
    let manifest = json!({
        "format": 1,
        "ingot": env!("CARGO_PKG_VERSION"),
        "created": unix_now(),
        "database": kind,
        "schema_version": schema,
        "machines": machines,
        "secret_key": has_key,
        "images": images.len(),
    });
    std::fs::write(out.join(MANIFEST), serde_json::to_string_pretty(&manifest)?)?;
    Ok(manifest)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `ingot restore`: the backup in `from` into the database at `url` (a SQLite file that does
/// not exist yet, or an empty PostgreSQL database) and `data_dir`.
pub async fn restore(from: &Path, url: &str, data_dir: &Path) -> Result<serde_json::Value> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(from.join(MANIFEST)).with_context(|| {
            format!("{} is not an Ingot backup (no {MANIFEST})", from.display())
        })?)?;
    // The key first: a data directory that has another one would make the copy's BMC
    // secrets unreadable.
    std::fs::create_dir_all(data_dir)?;
    if let Ok(k) = std::fs::read(from.join(KEY)) {
        let dst = data_dir.join(KEY);
        match std::fs::read(&dst) {
            Ok(have) if have != k => bail!(
                "{} holds another secret key: restore into a new data directory",
                dst.display()
            ),
            Ok(_) => {}
            Err(_) => write_private(&dst, &k)?,
        }
    }
    match manifest["database"].as_str() {
        Some("sqlite") => {
            let path = url
                .strip_prefix("sqlite://")
                .context("a SQLite backup restores into a sqlite:// database")?;
            let path = Path::new(path.split('?').next().unwrap_or(path));
            ensure!(
                !path.exists(),
                "{} exists: restore into a new database",
                path.display()
            );
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::copy(from.join(DB_SQLITE), path)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Some("postgresql") => {
            ensure!(
                url.starts_with("postgres"),
                "a PostgreSQL backup restores into a postgres:// database"
            );
            let st = Command::new("pg_restore")
                .args([
                    "--no-owner",
                    "--exit-on-error",
                    "--single-transaction",
                    "--dbname",
                ])
                .arg(url)
                .arg(from.join(DB_PG))
                .status()
                .context("cannot run pg_restore (Debian package postgresql-client)")?;
            ensure!(
                st.success(),
                "pg_restore failed ({st}): the database must exist and be empty"
            );
        }
        other => bail!("unknown database kind in the manifest: {other:?}"),
    }
    copy_images(&from.join("images"), &data_dir.join("images"))?;
    // Opening runs the migrations of this binary, if it is newer than the copy.
    let store = Store::open(url)
        .await
        .context("cannot open the restored database")?;
    let (schema, machines) = store.summary().await?;
    store.close().await;
    ensure!(
        Some(machines) == manifest["machines"].as_i64(),
        "the restored database has {machines} machines, the backup {}",
        manifest["machines"]
    );
    Ok(
        json!({"restored": from.display().to_string(), "schema_version": schema, "machines": machines}),
    )
}
