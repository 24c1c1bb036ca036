//! Web UI sessions (`ui_sessions`, v24): kept by the SHA-256 of the cookie's token, so the
//! database never holds a usable token; expired ones are never returned and are purged.

use crate::{Result, Store};
use sqlx::Row;

/// A live session: its user and the CSRF token its pages send back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiSession {
    pub user_id: i64,
    pub csrf: String,
    pub expires: i64,
}

impl Store {
    pub async fn create_ui_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        now: i64,
        expires: i64,
    ) -> Result<()> {
        sqlx::query("DELETE FROM ui_sessions WHERE expires <= $1")
            .bind(now)
            .execute(self.writes()?)
            .await?;
        sqlx::query(
            "INSERT INTO ui_sessions (id, user_id, csrf, created, expires) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(now)
        .bind(expires)
        .execute(self.writes()?)
        .await?;
        Ok(())
    }

    /// The session of this token hash, unless it has ended by `now`.
    pub async fn ui_session(&self, token_hash: &str, now: i64) -> Result<Option<UiSession>> {
        let r = sqlx::query(
            "SELECT user_id, csrf, expires FROM ui_sessions WHERE id = $1 AND expires > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| {
            Ok(UiSession {
                user_id: r.try_get(0)?,
                csrf: r.try_get(1)?,
                expires: r.try_get(2)?,
            })
        })
        .transpose()
    }

    pub async fn delete_ui_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM ui_sessions WHERE id = $1")
            .bind(token_hash)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }
}
