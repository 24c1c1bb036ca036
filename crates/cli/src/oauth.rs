//! API keys and OAuth 1.0a PLAINTEXT signing, as MAAS clients do.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{CliError, Result};

/// RFC 5849 §3.6: everything but ALPHA, DIGIT, `-`, `.`, `_`, `~` is encoded.
pub(crate) const OAUTH_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A MAAS API key: `consumer_key:token_key:token_secret` (the consumer secret
/// is empty). Stored in the profile file as a three-string array.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "(String, String, String)", into = "(String, String, String)")]
pub struct Credentials {
    pub consumer_key: String,
    pub token_key: String,
    pub token_secret: String,
}

impl From<(String, String, String)> for Credentials {
    fn from((consumer_key, token_key, token_secret): (String, String, String)) -> Self {
        Credentials {
            consumer_key,
            token_key,
            token_secret,
        }
    }
}

impl From<Credentials> for (String, String, String) {
    fn from(c: Credentials) -> Self {
        (c.consumer_key, c.token_key, c.token_secret)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("consumer_key", &self.consumer_key)
            .field("token_key", &self.token_key)
            .field("token_secret", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// Parse an API key. An empty (or all-blank) key means anonymous access
    /// and gives `None`; otherwise it must be three non-empty `:`-separated parts
    /// (`ingot_wire::parse_api_key`, which the agent uses too; the CLI takes no consumer
    /// secret).
    pub fn parse(key: &str) -> Result<Option<Credentials>> {
        let key = key.trim();
        if key.is_empty() {
            return Ok(None);
        }
        match ingot_wire::parse_api_key(key) {
            Ok(k) if key.split(':').count() == 3 => Ok(Some(Credentials {
                consumer_key: k.consumer_key,
                token_key: k.token_key,
                token_secret: k.token_secret,
            })),
            _ => Err(CliError::InvalidApiKey),
        }
    }

    /// The `Authorization` header value for a request made now.
    pub fn authorization_now(&self) -> String {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        oauth_header(self, &new_nonce(), timestamp)
    }
}

/// A random OAuth nonce.
pub fn new_nonce() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// The OAuth 1.0a PLAINTEXT `Authorization` header value (`ingot_wire::build_oauth_header`,
/// as the agent signs too): the signature is `encode(consumer_secret) & encode(token_secret)`
/// with an empty consumer secret, itself encoded again in the header (RFC 5849 §3.5.1).
pub fn oauth_header(creds: &Credentials, nonce: &str, timestamp: u64) -> String {
    ingot_wire::build_oauth_header(
        &creds.consumer_key,
        &creds.token_key,
        &creds.token_secret,
        nonce,
        i64::try_from(timestamp).unwrap_or(i64::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_api_keys() {
        let c = Credentials::parse("ck:tk:ts").ok().flatten();
        let c = c.map(|c| (c.consumer_key, c.token_key, c.token_secret));
        assert_eq!(c, Some(("ck".into(), "tk".into(), "ts".into())));
        assert!(matches!(Credentials::parse(""), Ok(None)));
        assert!(matches!(Credentials::parse("  \n"), Ok(None)));
        assert!(matches!(Credentials::parse(" a:b:c\n"), Ok(Some(_))));
        for bad in ["a:b", "a:b:c:d", "a::c", "abc", ":b:c"] {
            assert!(
                matches!(Credentials::parse(bad), Err(CliError::InvalidApiKey)),
                "{bad}"
            );
        }
    }

    #[test]
    fn header_format() {
        let c = Credentials {
            consumer_key: "CK".into(),
            token_key: "TK".into(),
            token_secret: "TS".into(),
        };
        assert_eq!(
            oauth_header(&c, "nonce1", 1_700_000_000),
            "OAuth realm=\"OAuth\", oauth_nonce=\"nonce1\", oauth_timestamp=\"1700000000\", \
             oauth_version=\"1.0\", oauth_signature_method=\"PLAINTEXT\", \
             oauth_consumer_key=\"CK\", oauth_token=\"TK\", oauth_signature=\"%26TS\""
        );
        // What the region reads back.
        let got = ingot_wire::parse_oauth_header(&oauth_header(&c, "n", 1)).unwrap();
        assert_eq!(
            (got.consumer_key.as_str(), got.token_key.as_str()),
            ("CK", "TK")
        );
        assert!(ingot_wire::plaintext_signature_matches(&got, "", "TS"));
    }

    #[test]
    fn header_encodes_special_characters() {
        let c = Credentials {
            consumer_key: "c k".into(),
            token_key: "t\"k".into(),
            token_secret: "a&b".into(),
        };
        let h = oauth_header(&c, "n", 1);
        assert!(h.contains("oauth_consumer_key=\"c%20k\""), "{h}");
        assert!(h.contains("oauth_token=\"t%22k\""), "{h}");
        // "&" + encode("a&b") = "&a%26b", encoded again.
        assert!(h.contains("oauth_signature=\"%26a%2526b\""), "{h}");
    }

    #[test]
    fn header_now_has_fresh_nonce_and_time() {
        let c = Credentials {
            consumer_key: "CK".into(),
            token_key: "TK".into(),
            token_secret: "TS".into(),
        };
        let a = c.authorization_now();
        let b = c.authorization_now();
        assert_ne!(a, b, "nonces must differ");
        assert!(a.starts_with("OAuth realm=\"OAuth\""), "{a}");
        assert!(a.contains("oauth_version=\"1.0\""), "{a}");
        assert!(!a.contains("oauth_timestamp=\"0\""));
    }

    #[test]
    fn debug_hides_the_secret() {
        let c = Credentials {
            consumer_key: "CK".into(),
            token_key: "TK".into(),
            token_secret: "supersecret".into(),
        };
        assert!(!format!("{c:?}").contains("supersecret"));
    }

    #[test]
    fn serialises_as_array() {
        let c = Credentials {
            consumer_key: "a".into(),
            token_key: "b".into(),
            token_secret: "c".into(),
        };
        let j = serde_json::to_string(&c).unwrap_or_default();
        assert_eq!(j, r#"["a","b","c"]"#);
        let back: Credentials = serde_json::from_str(&j).expect("round trip");
        assert_eq!(back, c);
    }
}
