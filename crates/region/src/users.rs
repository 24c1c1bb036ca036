//! Users and their credentials: accounts, API tokens, SSH keys, and the authentication of a
//! request's OAuth header.

use crate::settings::need_admin;
use crate::{FieldErrors, Principal, Region, RegionError, Result};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use ingot_store::{StoreError, Token, TokenOwner, User};

pub fn hash_password(pw: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| RegionError::BadRequest(format!("cannot hash password: {e}")))
}

pub fn verify_password(pw: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// An SSH public key as users paste it: a known key type, then the key (a comment may follow).
pub(crate) fn check_sshkey(key: &str) -> Result<String> {
    let key = key.trim();
    let parts: Vec<&str> = key.split_whitespace().collect();
    if parts.len() < 2
        || !(parts[0].starts_with("ssh-")
            || parts[0].starts_with("ecdsa-")
            || parts[0].starts_with("sk-"))
    {
        return Err(RegionError::field("key", "Invalid SSH public key."));
    }
    Ok(key.to_string())
}

impl Region {
    /// `users/` create (admin): `username`, `password`, `email`, `is_superuser`.
    pub async fn add_user(&self, u: &User, p: &ingot_wire::Params) -> Result<User> {
        need_admin(u)?;
        let admin = p.get_bool("is_superuser")?.unwrap_or(false);
        self.create_user(
            p.get("username").unwrap_or_default(),
            p.get("password").unwrap_or_default(),
            p.get("email").unwrap_or_default(),
            admin,
        )
        .await
    }

    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
        email: &str,
        is_admin: bool,
    ) -> Result<User> {
        let mut fe = FieldErrors::default();
        if username.is_empty()
            || username.len() > 150
            || !username
                .chars()
                .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
        {
            fe.add("username", "Enter a valid username: letters, digits and @/./+/-/_ only, at most 150 characters.");
        }
        if password.is_empty() {
            fe.add("password", "This field is required.");
        }
        fe.check()?;
        let hash = hash_password(password)?;
        self.store
            .create_user(username, email, &hash, is_admin)
            .await
            .map_err(|e| match e {
                StoreError::Duplicate(m) => RegionError::field("username", m),
                e => e.into(),
            })
    }

    /// Create or update an administrator (idempotent, for `ingot createadmin`).
    pub async fn create_admin(&self, username: &str, password: &str, email: &str) -> Result<User> {
        match self.store.user_by_name(username).await? {
            Some(u) => {
                let hash = hash_password(password)?;
                self.store
                    .update_user(u.id, Some(email), Some(&hash), Some(true))
                    .await?;
                Ok(self.store.user_by_id(u.id).await?.unwrap_or(u))
            }
            None => self.create_user(username, password, email, true).await,
        }
    }

    /// The user's first API key, or a new one when `generate` or when they have none.
    pub async fn api_key(&self, username: &str, generate: bool) -> Result<Token> {
        let u = self
            .store
            .user_by_name(username)
            .await?
            .ok_or_else(|| RegionError::NotFound(format!("No user named '{username}'.")))?;
        if !generate {
            if let Some(t) = self.store.user_tokens(u.id).await?.into_iter().next() {
                return Ok(t);
            }
        }
        Ok(self.store.create_user_token(u.id, "").await?)
    }

    /// The secret rack controllers present, created on first use and kept in the database so
    /// every region sharing it agrees.
    pub async fn rack_secret(&self) -> Result<String> {
        if let Some(s) = self
            .store
            .get_setting("rack_secret")
            .await?
            .filter(|s| !s.is_empty())
        {
            return Ok(s);
        }
        let s = ingot_store::random_token(40);
        self.store.set_setting_if_absent("rack_secret", &s).await?;
        Ok(self.store.get_setting("rack_secret").await?.unwrap_or(s))
    }

    /// Username/password login (for `/MAAS/accounts/authenticate/`).
    pub async fn login(&self, username: &str, password: &str) -> Result<User> {
        match self.store.user_by_name(username).await? {
            Some(u) if u.is_active && verify_password(password, &u.password_hash) => Ok(u),
            _ => Err(RegionError::Unauthorized(
                "Invalid username or password.".into(),
            )),
        }
    }

    /// Authenticate an `Authorization` header value.
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Principal> {
        let Some(h) = header else {
            return Ok(Principal::Anonymous);
        };
        let creds = match ingot_wire::parse_oauth_header(h) {
            Ok(c) => c,
            Err(ingot_wire::WireError::BadOAuthParam { param, message }) => {
                return Err(RegionError::BadRequest(format!(
                    "Invalid OAuth parameter {param}: {message}"
                )))
            }
            Err(e) => {
                return Err(RegionError::Unauthorized(format!(
                    "Authorization failed: {e}"
                )))
            }
        };
        let (token, user) = self
            .store
            .token_and_user(&creds.token_key)
            .await?
            .ok_or_else(|| {
                RegionError::Unauthorized(format!("Invalid access token: {}", creds.token_key))
            })?;
        if token.consumer_key != creds.consumer_key
            || !ingot_wire::plaintext_signature_matches(&creds, "", &token.token_secret)
        {
            return Err(RegionError::Unauthorized(
                "Invalid OAuth signature or consumer key.".into(),
            ));
        }
        match token.owner {
            TokenOwner::User(_) => match user {
                Some(u) if u.is_active => Ok(Principal::User(u)),
                _ => Err(RegionError::Unauthorized(
                    "The user of this token is not active.".into(),
                )),
            },
            TokenOwner::Machine(mid) => Ok(Principal::Machine {
                machine_id: mid,
                token,
            }),
        }
    }

    /// Every account people use (the region's own system users are not listed).
    pub async fn list_users(&self) -> Result<Vec<User>> {
        Ok(self.store.list_users().await?)
    }

    /// The account called `name` (a system user is not found).
    pub async fn user_named(&self, name: &str) -> Result<User> {
        self.store
            .user_by_name(name)
            .await?
            .filter(|t| !t.is_system)
            .ok_or_else(|| RegionError::NotFound("No User matches the given query.".into()))
    }

    /// An administrator deletes another account.
    pub async fn delete_user(&self, u: &User, name: &str) -> Result<()> {
        let target = self.user_named(name).await?;
        need_admin(u)?;
        if target.id == u.id {
            return Err(RegionError::BadRequest(
                "You cannot delete your own account.".into(),
            ));
        }
        Ok(self.store.delete_user(target.id).await?)
    }

    /// An administrator makes another account an administrator, or takes that away (MAAS does
    /// this in its UI; Ingot's UI calls this, and so may the API). Nobody demotes themselves:
    /// the region always keeps the administrator who is acting.
    /// `is_superuser` is the form's field.
    pub async fn set_user_admin(
        &self,
        u: &User,
        name: &str,
        p: &ingot_wire::Params,
    ) -> Result<User> {
        need_admin(u)?;
        let target = self.user_named(name).await?;
        let is_admin = match p.get_bool("is_superuser") {
            Ok(Some(v)) => v,
            Ok(None) => {
                return Err(RegionError::field(
                    "is_superuser",
                    "This field is required.",
                ))
            }
            Err(e) => return Err(RegionError::field("is_superuser", e.to_string())),
        };
        if target.id == u.id && !is_admin {
            return Err(RegionError::BadRequest(
                "You cannot take away your own administrator rights.".into(),
            ));
        }
        self.store
            .update_user(target.id, None, None, Some(is_admin))
            .await?;
        self.user_named(name).await
    }

    /// A new API token for the user.
    pub async fn create_user_token(&self, u: &User, name: &str) -> Result<Token> {
        Ok(self.store.create_user_token(u.id, name).await?)
    }

    /// The user's API tokens.
    pub async fn user_tokens(&self, u: &User) -> Result<Vec<Token>> {
        Ok(self.store.user_tokens(u.id).await?)
    }

    /// Revoke one of the user's tokens.
    /// `account/?op=update_token_name`: rename one of the user's API keys; `token` is its
    /// key or the whole API key (`consumer:key:secret`), as MAAS accepts.
    pub async fn update_token_name(
        &self,
        u: &User,
        token: Option<&str>,
        name: Option<&str>,
    ) -> Result<()> {
        let mut fe = FieldErrors::default();
        let token = token.map(str::trim).filter(|t| !t.is_empty());
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        if token.is_none() {
            fe.add("token", "This field is required.");
        }
        if name.is_none() {
            fe.add("name", "This field is required.");
        }
        fe.check()?;
        let (Some(token), Some(name)) = (token, name) else {
            return Ok(());
        };
        let key = match token.split(':').collect::<Vec<_>>().as_slice() {
            [_, key, _] => *key,
            _ => token,
        };
        self.store
            .rename_user_token(u.id, key, name)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => RegionError::NotFound("No such token.".into()),
                e => e.into(),
            })
    }

    pub async fn delete_user_token(&self, u: &User, token_key: Option<&str>) -> Result<()> {
        let tk =
            token_key.ok_or_else(|| RegionError::field("token_key", "This field is required."))?;
        self.store
            .delete_user_token(u.id, tk)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => RegionError::NotFound("No such token.".into()),
                e => e.into(),
            })
    }

    /// The user's SSH keys, `(id, key)`.
    pub async fn sshkeys(&self, u: &User) -> Result<Vec<(i64, String)>> {
        Ok(self.store.sshkeys(u.id).await?)
    }

    /// One of the user's SSH keys by its id (as the path gives it).
    pub async fn sshkey(&self, u: &User, id: &str) -> Result<(i64, String)> {
        let missing = || RegionError::NotFound("No SSHKey matches the given query.".into());
        let id: i64 = id.parse().map_err(|_| missing())?;
        self.sshkeys(u)
            .await?
            .into_iter()
            .find(|(i, _)| *i == id)
            .ok_or_else(missing)
    }

    /// Add an SSH public key to the user's; returns its id and the key as stored.
    pub async fn add_sshkey(&self, u: &User, key: &str) -> Result<(i64, String)> {
        let key = check_sshkey(key)?;
        // As MAAS: one key once per user (the comment does not make it another key).
        let material = |k: &str| k.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        let have = self.store.sshkeys(u.id).await?;
        if have.iter().any(|(_, k)| material(k) == material(&key)) {
            return Err(RegionError::field(
                "key",
                "This key has already been added for this user.",
            ));
        }
        let id = self.store.add_sshkey(u.id, &key).await?;
        Ok((id, key))
    }

    /// Remove one of the user's SSH keys.
    pub async fn delete_sshkey(&self, u: &User, id: &str) -> Result<()> {
        let (id, _) = self.sshkey(u, id).await?;
        Ok(self.store.delete_sshkey(u.id, id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sshkeys_as_users_paste_them() {
        let table: &[(&str, Option<&str>)] = &[
            (
                "ssh-ed25519 AAAAC3 me@host",
                Some("ssh-ed25519 AAAAC3 me@host"),
            ),
            (
                "  ecdsa-sha2-nistp256 AAAA  \n",
                Some("ecdsa-sha2-nistp256 AAAA"),
            ),
            (
                "sk-ssh-ed25519@openssh.com AAAA",
                Some("sk-ssh-ed25519@openssh.com AAAA"),
            ),
            ("ssh-rsa", None),
            ("rsa AAAA", None),
            ("", None),
        ];
        for (raw, want) in table {
            assert_eq!(check_sshkey(raw).ok().as_deref(), *want, "{raw:?}");
        }
    }

    #[test]
    fn passwords_verify_against_their_hash_only() {
        let h = hash_password("s3cret").unwrap();
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("s3cret ", &h));
        assert!(!verify_password("s3cret", "not a hash"));
    }
}
