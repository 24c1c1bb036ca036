//! `files`: MAAS's file storage, a user's files by name (Juju keeps its provider state there).

use crate::{now_ms, Result, Store};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub id: i64,
    pub owner_id: i64,
    pub owner: String,
    pub filename: String,
    /// Reads the file without credentials (`files/?op=get_by_key&key=…`).
    pub key: String,
    /// Empty in a listing (`Store::files`).
    pub content: Vec<u8>,
}

const SELECT: &str = "SELECT f.id, f.owner_id, u.username, f.filename, f.key, f.content FROM files f JOIN users u ON u.id = f.owner_id";

/// The same columns but the content (a listing names files, it does not carry them).
const SELECT_NAMES: &str = "SELECT f.id, f.owner_id, u.username, f.filename, f.key FROM files f JOIN users u ON u.id = f.owner_id";

fn file_from(r: &AnyRow) -> Result<StoredFile> {
    Ok(StoredFile {
        id: r.try_get(0)?,
        owner_id: r.try_get(1)?,
        owner: r.try_get(2)?,
        filename: r.try_get(3)?,
        key: r.try_get(4)?,
        content: if r.len() > 5 {
            r.try_get(5)?
        } else {
            Vec::new()
        },
    })
}

impl Store {
    /// Store `content` as the owner's `filename`, replacing a file of that name (its key
    /// stays); the file as stored.
    pub async fn put_file(
        &self,
        owner_id: i64,
        filename: &str,
        key: &str,
        content: &[u8],
    ) -> Result<StoredFile> {
        let mut tx = self.begin_write().await?;
        let updated =
            sqlx::query("UPDATE files SET content = $1 WHERE owner_id = $2 AND filename = $3")
                .bind(content)
                .bind(owner_id)
                .bind(filename)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if updated == 0 {
            sqlx::query("INSERT INTO files (owner_id, filename, key, content, created) VALUES ($1, $2, $3, $4, $5)")
                .bind(owner_id)
                .bind(filename)
                .bind(key)
                .bind(content)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
        }
        crate::commit(tx).await?;
        self.file(owner_id, filename)
            .await?
            .ok_or(crate::StoreError::NotFound)
    }

    pub async fn file(&self, owner_id: i64, filename: &str) -> Result<Option<StoredFile>> {
        sqlx::query(&format!(
            "{SELECT} WHERE f.owner_id = $1 AND f.filename = $2"
        ))
        .bind(owner_id)
        .bind(filename)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(file_from)
        .transpose()
    }

    pub async fn file_by_key(&self, key: &str) -> Result<Option<StoredFile>> {
        sqlx::query(&format!("{SELECT} WHERE f.key = $1"))
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(file_from)
            .transpose()
    }

    /// The owner's files whose name starts with `prefix`, by name, without their content.
    pub async fn files(&self, owner_id: i64, prefix: &str) -> Result<Vec<StoredFile>> {
        let sql = format!("{SELECT_NAMES} WHERE f.owner_id = $1 AND substr(f.filename, 1, length($2)) = $2 ORDER BY f.filename");
        sqlx::query(&sql)
            .bind(owner_id)
            .bind(prefix)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(file_from)
            .collect()
    }

    /// Delete the owner's file; whether there was one.
    pub async fn delete_file(&self, owner_id: i64, filename: &str) -> Result<bool> {
        let n = sqlx::query("DELETE FROM files WHERE owner_id = $1 AND filename = $2")
            .bind(owner_id)
            .bind(filename)
            .execute(self.writes()?)
            .await?
            .rows_affected();
        Ok(n > 0)
    }
}
