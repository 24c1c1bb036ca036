//! Users, their SSH keys, and API and machine tokens (`users`, `sshkeys`, `tokens`).

use crate::{bind_all, found, map_unique, now_ms, Result, Store, StoreError, Val};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub is_active: bool,
    pub is_system: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOwner {
    User(i64),
    Machine(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub id: i64,
    pub owner: TokenOwner,
    pub name: String,
    pub consumer_key: String,
    pub token_key: String,
    pub token_secret: String,
    pub created: i64,
}

impl Token {
    /// `consumer_key:token_key:token_secret`
    pub fn api_key(&self) -> String {
        format!(
            "{}:{}:{}",
            self.consumer_key, self.token_key, self.token_secret
        )
    }
}

pub(crate) fn user_from_row(r: &AnyRow) -> Result<User> {
    user_with_id(r, "id")
}

/// A user from `r`'s columns, its id in column `id` (a join names it otherwise).
fn user_with_id(r: &AnyRow, id: &str) -> Result<User> {
    Ok(User {
        id: r.try_get(id)?,
        username: r.try_get("username")?,
        email: r.try_get("email")?,
        password_hash: r.try_get("password_hash")?,
        is_admin: r.try_get::<i64, _>("is_admin")? != 0,
        is_active: r.try_get::<i64, _>("is_active")? != 0,
        is_system: r.try_get::<i64, _>("is_system")? != 0,
    })
}

pub(crate) fn token_from_row(r: &AnyRow) -> Result<Token> {
    let kind: String = r.try_get("kind")?;
    let owner = match kind.as_str() {
        "machine" => TokenOwner::Machine(
            r.try_get::<Option<i64>, _>("machine_id")?
                .unwrap_or_default(),
        ),
        _ => TokenOwner::User(r.try_get::<Option<i64>, _>("user_id")?.unwrap_or_default()),
    };
    Ok(Token {
        id: r.try_get("id")?,
        owner,
        name: r.try_get("name")?,
        consumer_key: r.try_get("consumer_key")?,
        token_key: r.try_get("token_key")?,
        token_secret: r.try_get("token_secret")?,
        created: r.try_get("created")?,
    })
}

/// Random URL-safe token text.
pub fn random_token(len: usize) -> String {
    use rand::Rng;
    const CH: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| CH[rng.gen_range(0..CH.len())] as char)
        .collect()
}

impl Store {
    // ---------------------------------------------------------------- users
    pub async fn create_user(
        &self,
        username: &str,
        email: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> Result<User> {
        let r = sqlx::query("INSERT INTO users (username, email, password_hash, is_admin, created) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(username)
            .bind(email)
            .bind(password_hash)
            .bind(is_admin as i64)
            .bind(now_ms())
            .fetch_one(self.writes()?)
            .await
            .map_err(|e| map_unique(e, &format!("A user with the username '{username}' already exists.")))?;
        let id: i64 = r.try_get(0)?;
        self.user_by_id(id).await?.ok_or(StoreError::NotFound)
    }

    pub async fn update_user(
        &self,
        id: i64,
        email: Option<&str>,
        password_hash: Option<&str>,
        is_admin: Option<bool>,
    ) -> Result<()> {
        let mut cols: Vec<(&str, Val)> = Vec::new();
        if let Some(e) = email {
            cols.push(("email", e.into()));
        }
        if let Some(p) = password_hash {
            cols.push(("password_hash", p.into()));
        }
        if let Some(a) = is_admin {
            cols.push(("is_admin", a.into()));
        }
        if cols.is_empty() {
            return Ok(());
        }
        let sets: Vec<String> = cols
            .iter()
            .enumerate()
            .map(|(i, (c, _))| format!("{c} = ${}", i + 1))
            .collect();
        let sql = format!(
            "UPDATE users SET {} WHERE id = ${}",
            sets.join(", "),
            cols.len() + 1
        );
        let mut vals: Vec<Val> = cols.into_iter().map(|(_, v)| v).collect();
        vals.push(id.into());
        bind_all(sqlx::query(&sql), &vals)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        let r = sqlx::query("SELECT * FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(user_from_row).transpose()
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>> {
        let r = sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(user_from_row).transpose()
    }

    pub async fn list_users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT * FROM users WHERE is_system = 0 ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Delete a user. Refused while they own machines.
    pub async fn delete_user(&self, id: i64) -> Result<()> {
        self.delete_unreferenced(
            "users",
            id,
            "SELECT 1 FROM machines WHERE owner_id = $1",
            |n| format!("The user still owns {n} machine(s): release them first."),
        )
        .await
    }

    // ---------------------------------------------------------------- SSH keys
    pub async fn add_sshkey(&self, user_id: i64, key: &str) -> Result<i64> {
        let r = sqlx::query(
            "INSERT INTO sshkeys (user_id, key, created) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(user_id)
        .bind(key)
        .bind(now_ms())
        .fetch_one(self.writes()?)
        .await?;
        Ok(r.try_get(0)?)
    }

    pub async fn sshkeys(&self, user_id: i64) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query("SELECT id, key FROM sshkeys WHERE user_id = $1 ORDER BY id")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    pub async fn delete_sshkey(&self, user_id: i64, id: i64) -> Result<()> {
        found(
            sqlx::query("DELETE FROM sshkeys WHERE user_id = $1 AND id = $2")
                .bind(user_id)
                .bind(id)
                .execute(self.writes()?)
                .await?
                .rows_affected(),
        )
    }

    // ---------------------------------------------------------------- tokens
    /// Create an API token for a user.
    pub async fn create_user_token(&self, user_id: i64, name: &str) -> Result<Token> {
        self.insert_token("user", Some(user_id), None, name).await
    }

    pub(crate) async fn insert_token(
        &self,
        kind: &str,
        user_id: Option<i64>,
        machine_id: Option<i64>,
        name: &str,
    ) -> Result<Token> {
        let ck = random_token(18);
        let tk = random_token(18);
        let ts = random_token(32);
        let r = sqlx::query("INSERT INTO tokens (kind, user_id, machine_id, name, consumer_key, token_key, token_secret, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
            .bind(kind)
            .bind(user_id)
            .bind(machine_id)
            .bind(name)
            .bind(&ck)
            .bind(&tk)
            .bind(&ts)
            .bind(now_ms())
            .fetch_one(self.writes()?)
            .await?;
        let id: i64 = r.try_get(0)?;
        let owner = match machine_id {
            Some(m) => TokenOwner::Machine(m),
            None => TokenOwner::User(user_id.unwrap_or_default()),
        };
        Ok(Token {
            id,
            owner,
            name: name.to_string(),
            consumer_key: ck,
            token_key: tk,
            token_secret: ts,
            created: now_ms(),
        })
    }

    /// The token `token_key` with the user it belongs to (none for a machine's token, or a
    /// user who is gone), in one statement: every request signed by a user asks this.
    pub async fn token_and_user(&self, token_key: &str) -> Result<Option<(Token, Option<User>)>> {
        let r = sqlx::query("SELECT t.id, t.kind, t.user_id, t.machine_id, t.name, t.consumer_key, t.token_key, t.token_secret, t.created, u.id AS u_id, u.username, u.email, u.password_hash, u.is_admin, u.is_active, u.is_system FROM tokens t LEFT JOIN users u ON u.id = t.user_id AND t.kind = 'user' WHERE t.token_key = $1")
            .bind(token_key)
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = r else {
            return Ok(None);
        };
        let token = token_from_row(&r)?;
        let user = match r.try_get::<Option<i64>, _>("u_id")? {
            Some(_) => Some(user_with_id(&r, "u_id")?),
            None => None,
        };
        Ok(Some((token, user)))
    }

    pub async fn user_tokens(&self, user_id: i64) -> Result<Vec<Token>> {
        let rows =
            sqlx::query("SELECT * FROM tokens WHERE kind = 'user' AND user_id = $1 ORDER BY id")
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(token_from_row).collect()
    }

    /// Rename one of the user's API keys.
    pub async fn rename_user_token(&self, user_id: i64, token_key: &str, name: &str) -> Result<()> {
        found(sqlx::query(
            "UPDATE tokens SET name = $1 WHERE kind = 'user' AND user_id = $2 AND token_key = $3",
        )
        .bind(name)
        .bind(user_id)
        .bind(token_key)
        .execute(self.writes()?)
        .await?
        .rows_affected())
    }

    pub async fn delete_user_token(&self, user_id: i64, token_key: &str) -> Result<()> {
        found(
            sqlx::query(
                "DELETE FROM tokens WHERE kind = 'user' AND user_id = $1 AND token_key = $2",
            )
            .bind(user_id)
            .bind(token_key)
            .execute(self.writes()?)
            .await?
            .rows_affected(),
        )
    }

    pub async fn machine_token(&self, machine_id: i64) -> Result<Option<Token>> {
        let r = sqlx::query("SELECT * FROM tokens WHERE kind = 'machine' AND machine_id = $1 ORDER BY id DESC LIMIT 1")
            .bind(machine_id)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(token_from_row).transpose()
    }

    /// The machine's token, minted if it has none.
    pub async fn ensure_machine_token(&self, machine_id: i64) -> Result<Token> {
        if let Some(t) = self.machine_token(machine_id).await? {
            return Ok(t);
        }
        self.insert_token("machine", None, Some(machine_id), "machine")
            .await
    }

    /// Replace the machine's token: the old one stops working at once.
    pub async fn regenerate_machine_token(&self, machine_id: i64) -> Result<Token> {
        sqlx::query("DELETE FROM tokens WHERE kind = 'machine' AND machine_id = $1")
            .bind(machine_id)
            .execute(self.writes()?)
            .await?;
        self.insert_token("machine", None, Some(machine_id), "machine")
            .await
    }
}
