//! Web UI sign-in: a session per sign-in, named by a random token the browser keeps in an
//! HttpOnly cookie (the store keeps its SHA-256 only), with a CSRF token that every
//! state-changing request of its pages must send back, ending after `session_length`
//! seconds (MAAS's setting) or at sign-out.

use crate::model::User;
use crate::{Region, RegionError, Result};
use sha2::{Digest, Sha256};

/// A new session: what goes into the browser's cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub token: String,
    pub csrf: String,
    /// Seconds until it ends.
    pub max_age: i64,
}

fn hash(token: &str) -> String {
    ingot_core::ids::hex(&Sha256::digest(token.as_bytes()))
}

/// Constant-time comparison of two tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Region {
    /// Sign in with a username and password; a new session.
    pub async fn ui_login(&self, username: &str, password: &str) -> Result<(User, NewSession)> {
        let u = self.login(username, password).await?;
        let max_age = self.int_setting("session_length").await?.max(10);
        let token = ingot_store::random_token(43);
        let csrf = ingot_store::random_token(32);
        let now = ingot_store::now_ms();
        self.store
            .create_ui_session(&hash(&token), u.id, &csrf, now, now + max_age * 1000)
            .await?;
        Ok((
            u,
            NewSession {
                token,
                csrf,
                max_age,
            },
        ))
    }

    /// The user and CSRF token of a live session.
    pub async fn ui_session(&self, token: &str) -> Result<Option<(User, String)>> {
        let Some(s) = self
            .store
            .ui_session(&hash(token), ingot_store::now_ms())
            .await?
        else {
            return Ok(None);
        };
        match self.store.user_by_id(s.user_id).await? {
            Some(u) if u.is_active => Ok(Some((u, s.csrf))),
            _ => Ok(None),
        }
    }

    /// Sign out: the session ends now.
    pub async fn ui_logout(&self, token: &str) -> Result<()> {
        self.store.delete_ui_session(&hash(token)).await?;
        Ok(())
    }

    /// A session's user for a request that changes something: the CSRF token it sent must
    /// be the session's.
    pub async fn ui_session_for_change(&self, token: &str, csrf: Option<&str>) -> Result<User> {
        let Some((u, want)) = self.ui_session(token).await? else {
            return Err(RegionError::Unauthorized(
                "Your session has ended; sign in again.".into(),
            ));
        };
        match csrf {
            Some(c) if same_token(c, &want) => Ok(u),
            _ => Err(RegionError::Forbidden(
                "CSRF check failed: the request did not carry this session's token.".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
        assert!(!same_token("", "a"));
    }

    #[test]
    fn the_store_keeps_a_digest() {
        let h = hash("secret-token");
        assert_eq!(h.len(), 64);
        assert!(!h.contains("secret"));
    }
}
