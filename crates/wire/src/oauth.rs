//! OAuth 1.0a `PLAINTEXT`, as MAAS uses it, and MAAS API keys.

use percent_encoding::percent_decode_str;

use crate::header::{hex_digit, split_unquoted};
use crate::WireError;

/// The credentials carried by an `Authorization: OAuth ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthCredentials {
    /// `oauth_consumer_key`.
    pub consumer_key: String,
    /// `oauth_token`.
    pub token_key: String,
    /// `oauth_signature`, percent-decoded once (e.g. `&secret`).
    pub signature: String,
    /// `oauth_signature_method` as sent (only `PLAINTEXT` is accepted).
    pub signature_method: String,
    /// `oauth_timestamp`, if present.
    pub timestamp: Option<i64>,
    /// `oauth_nonce`, if present.
    pub nonce: Option<String>,
}

/// Parse an `Authorization` header value.
///
/// It must start with `OAuth` (case-insensitive, after trimming) followed by
/// whitespace or the end, otherwise [`WireError::NotOAuth`]. Parameters are
/// comma-separated `key="value"` pairs; spaces/newlines around them, missing
/// quotes, `realm` and unknown keys are tolerated; values are percent-decoded;
/// for a repeated key the last one wins (as in MAAS's Python parser).
///
/// `oauth_consumer_key`, `oauth_token`, `oauth_signature` and
/// `oauth_signature_method` are required ([`WireError::MissingOAuthParam`]);
/// a present but non-integer `oauth_timestamp` is
/// [`WireError::BadOAuthParam`]; a method other than `PLAINTEXT`
/// (case-insensitive) is [`WireError::UnsupportedSignatureMethod`].
pub fn parse_oauth_header(value: &str) -> Result<OAuthCredentials, WireError> {
    let value = value.trim();
    let scheme = value.get(..5).ok_or(WireError::NotOAuth)?;
    let rest = value.get(5..).ok_or(WireError::NotOAuth)?;
    if !scheme.eq_ignore_ascii_case("oauth")
        || !(rest.is_empty() || rest.starts_with(|c: char| c.is_whitespace() || c == ','))
    {
        return Err(WireError::NotOAuth);
    }

    let mut consumer_key = None;
    let mut token_key = None;
    let mut signature = None;
    let mut signature_method = None;
    let mut timestamp = None;
    let mut nonce = None;
    for item in split_unquoted(rest, ',') {
        let Some((key, raw)) = item.split_once('=') else {
            continue;
        };
        let slot = match key.trim() {
            "oauth_consumer_key" => &mut consumer_key,
            "oauth_token" => &mut token_key,
            "oauth_signature" => &mut signature,
            "oauth_signature_method" => &mut signature_method,
            "oauth_timestamp" => &mut timestamp,
            "oauth_nonce" => &mut nonce,
            _ => continue,
        };
        *slot = Some(decode_value(raw));
    }

    let require = |v: Option<String>, name: &str| {
        v.ok_or_else(|| WireError::MissingOAuthParam(name.to_owned()))
    };
    let consumer_key = require(consumer_key, "oauth_consumer_key")?;
    let token_key = require(token_key, "oauth_token")?;
    let signature = require(signature, "oauth_signature")?;
    let signature_method = require(signature_method, "oauth_signature_method")?;
    if !signature_method.eq_ignore_ascii_case("PLAINTEXT") {
        return Err(WireError::UnsupportedSignatureMethod(signature_method));
    }
    let timestamp = match timestamp {
        None => None,
        Some(t) => Some(
            t.trim()
                .parse::<i64>()
                .map_err(|_| WireError::BadOAuthParam {
                    param: "oauth_timestamp".into(),
                    message: format!("{t:?} is not an integer"),
                })?,
        ),
    };
    Ok(OAuthCredentials {
        consumer_key,
        token_key,
        signature,
        signature_method,
        timestamp,
        nonce,
    })
}

/// Strip whitespace and surrounding quotes, then percent-decode.
fn decode_value(raw: &str) -> String {
    let v = raw.trim();
    let v = v.strip_prefix('"').unwrap_or(v);
    let v = v.strip_suffix('"').unwrap_or(v);
    percent_decode_str(v).decode_utf8_lossy().into_owned()
}

/// RFC 3986 / OAuth percent-encoding: everything except `A-Za-z0-9-._~`.
pub(crate) fn oauth_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0x0f));
        }
    }
    out
}

/// Byte comparison whose running time depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let len = a.len().max(b.len());
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..len {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    diff == 0
}

/// Check a `PLAINTEXT` signature. The (once-decoded) signature must be
/// `pct(consumer_secret) & pct(token_secret)`; both halves are
/// percent-decoded before comparing, so clients that escape differently
/// (lower-case hex, extra escapes) still match. Constant-time in the
/// secrets' contents.
pub fn plaintext_signature_matches(
    creds: &OAuthCredentials,
    consumer_secret: &str,
    token_secret: &str,
) -> bool {
    if !creds.signature_method.eq_ignore_ascii_case("PLAINTEXT") {
        return false;
    }
    let Some((cs, ts)) = creds.signature.split_once('&') else {
        return false;
    };
    let cs: Vec<u8> = percent_decode_str(cs).collect();
    let ts: Vec<u8> = percent_decode_str(ts).collect();
    let consumer_ok = constant_time_eq(&cs, consumer_secret.as_bytes());
    let token_ok = constant_time_eq(&ts, token_secret.as_bytes());
    consumer_ok & token_ok
}

/// Build the `Authorization` header value python-libmaas (oauthlib) sends:
/// `PLAINTEXT`, empty consumer secret, the given nonce and timestamp.
pub fn build_oauth_header(
    consumer_key: &str,
    token_key: &str,
    token_secret: &str,
    nonce: &str,
    timestamp: i64,
) -> String {
    let signature = format!("&{}", oauth_encode(token_secret));
    format!(
        "OAuth realm=\"OAuth\", oauth_nonce=\"{}\", oauth_timestamp=\"{}\", \
oauth_version=\"1.0\", oauth_signature_method=\"PLAINTEXT\", \
oauth_consumer_key=\"{}\", oauth_token=\"{}\", oauth_signature=\"{}\"",
        oauth_encode(nonce),
        timestamp,
        oauth_encode(consumer_key),
        oauth_encode(token_key),
        oauth_encode(&signature),
    )
}

/// A MAAS API key: `consumer_key:token_key:token_secret`, optionally followed
/// by `:consumer_secret` (empty when absent, as MAAS issues them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// OAuth consumer key.
    pub consumer_key: String,
    /// OAuth token key.
    pub token_key: String,
    /// OAuth token secret.
    pub token_secret: String,
    /// OAuth consumer secret (usually empty).
    pub consumer_secret: String,
}

impl ApiKey {
    /// The `Authorization` header value for this key.
    pub fn authorization_header(&self, nonce: &str, timestamp: i64) -> String {
        build_oauth_header(
            &self.consumer_key,
            &self.token_key,
            &self.token_secret,
            nonce,
            timestamp,
        )
    }
}

/// Parse `consumer_key:token_key:token_secret[:consumer_secret]`
/// (surrounding whitespace ignored). The first three parts must be non-empty.
pub fn parse_api_key(s: &str) -> Result<ApiKey, WireError> {
    let parts: Vec<&str> = s.trim().split(':').collect();
    let (ck, tk, ts, cs) = match parts.as_slice() {
        [ck, tk, ts] => (*ck, *tk, *ts, ""),
        [ck, tk, ts, cs] => (*ck, *tk, *ts, *cs),
        _ => {
            return Err(WireError::BadApiKey(format!(
                "expected 3 or 4 ':'-separated parts, got {}",
                parts.len()
            )))
        }
    };
    for (label, part) in [
        ("consumer key", ck),
        ("token key", tk),
        ("token secret", ts),
    ] {
        if part.is_empty() {
            return Err(WireError::BadApiKey(format!("empty {label}")));
        }
    }
    Ok(ApiKey {
        consumer_key: ck.to_owned(),
        token_key: tk.to_owned(),
        token_secret: ts.to_owned(),
        consumer_secret: cs.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIBMAAS: &str = "OAuth realm=\"OAuth\", oauth_nonce=\"123\", oauth_timestamp=\"1700000000\", oauth_version=\"1.0\", oauth_signature_method=\"PLAINTEXT\", oauth_consumer_key=\"ck\", oauth_token=\"tk\", oauth_signature=\"%26secret\"";

    #[test]
    fn libmaas_header() {
        let c = parse_oauth_header(LIBMAAS).unwrap();
        assert_eq!(
            c,
            OAuthCredentials {
                consumer_key: "ck".into(),
                token_key: "tk".into(),
                signature: "&secret".into(),
                signature_method: "PLAINTEXT".into(),
                timestamp: Some(1_700_000_000),
                nonce: Some("123".into()),
            }
        );
        assert!(plaintext_signature_matches(&c, "", "secret"));
        assert!(!plaintext_signature_matches(&c, "", "secreT"));
        assert!(!plaintext_signature_matches(&c, "", "secret2"));
        assert!(!plaintext_signature_matches(&c, "x", "secret"));
        assert!(!plaintext_signature_matches(&c, "", ""));
    }

    #[test]
    fn whitespace_newlines_and_missing_quotes() {
        let h = "  oauth \r\n  realm=\"\",\n\toauth_consumer_key = ck ,oauth_token=\"tk\",\r\n \
oauth_signature_method=PLAINTEXT,oauth_signature=%26s%2526x, unknown=\"1\", junk  ";
        let c = parse_oauth_header(h).unwrap();
        assert_eq!(c.consumer_key, "ck");
        assert_eq!(c.token_key, "tk");
        assert_eq!(c.signature, "&s%26x");
        assert_eq!(c.timestamp, None);
        assert_eq!(c.nonce, None);
        assert!(plaintext_signature_matches(&c, "", "s&x"));
    }

    #[test]
    fn not_oauth() {
        for h in [
            "",
            "Basic dXNlcjpwYXNz",
            "Bearer x",
            "OAuthx oauth_token=1",
            "OAut",
        ] {
            assert_eq!(parse_oauth_header(h), Err(WireError::NotOAuth), "{h:?}");
        }
    }

    #[test]
    fn missing_params() {
        for (drop, name) in [
            ("oauth_consumer_key=\"ck\", ", "oauth_consumer_key"),
            ("oauth_token=\"tk\", ", "oauth_token"),
            (", oauth_signature=\"%26secret\"", "oauth_signature"),
            (
                "oauth_signature_method=\"PLAINTEXT\", ",
                "oauth_signature_method",
            ),
        ] {
            let h = LIBMAAS.replace(drop, "");
            assert_ne!(h, LIBMAAS);
            assert_eq!(
                parse_oauth_header(&h),
                Err(WireError::MissingOAuthParam(name.into())),
                "{h}"
            );
        }
        assert_eq!(
            parse_oauth_header("OAuth"),
            Err(WireError::MissingOAuthParam("oauth_consumer_key".into()))
        );
    }

    #[test]
    fn bad_timestamp_and_method() {
        let h = LIBMAAS.replace("1700000000", "soon");
        assert!(matches!(
            parse_oauth_header(&h),
            Err(WireError::BadOAuthParam { ref param, .. }) if param == "oauth_timestamp"
        ));
        let h = LIBMAAS.replace("PLAINTEXT", "HMAC-SHA1");
        assert_eq!(
            parse_oauth_header(&h),
            Err(WireError::UnsupportedSignatureMethod("HMAC-SHA1".into()))
        );
        let c = parse_oauth_header(&LIBMAAS.replace("PLAINTEXT", "plaintext")).unwrap();
        assert!(plaintext_signature_matches(&c, "", "secret"));
    }

    #[test]
    fn build_matches_libmaas_format() {
        assert_eq!(
            build_oauth_header("ck", "tk", "secret", "123", 1_700_000_000),
            LIBMAAS
        );
        let h = build_oauth_header("c k", "t\"k", "s&=%", "n,1", -5);
        let c = parse_oauth_header(&h).unwrap();
        assert_eq!(c.consumer_key, "c k");
        assert_eq!(c.token_key, "t\"k");
        assert_eq!(c.nonce.as_deref(), Some("n,1"));
        assert_eq!(c.timestamp, Some(-5));
        assert!(plaintext_signature_matches(&c, "", "s&=%"));
        assert!(!plaintext_signature_matches(&c, "", "s&="));
    }

    #[test]
    fn signature_with_consumer_secret() {
        let mut c = parse_oauth_header(LIBMAAS).unwrap();
        c.signature = "c%26s&t%3Dk".into();
        assert!(plaintext_signature_matches(&c, "c&s", "t=k"));
        c.signature = "no-ampersand".into();
        assert!(!plaintext_signature_matches(&c, "no-ampersand", ""));
    }

    #[test]
    fn api_keys() {
        assert_eq!(
            parse_api_key(" ck:tk:ts\n"),
            Ok(ApiKey {
                consumer_key: "ck".into(),
                token_key: "tk".into(),
                token_secret: "ts".into(),
                consumer_secret: String::new(),
            })
        );
        assert_eq!(parse_api_key("ck:tk:ts:cs").unwrap().consumer_secret, "cs");
        for bad in [
            "",
            "ck",
            "ck:tk",
            "ck:tk:ts:cs:x",
            "ck::ts",
            ":tk:ts",
            "ck:tk:",
        ] {
            assert!(
                matches!(parse_api_key(bad), Err(WireError::BadApiKey(_))),
                "{bad:?}"
            );
        }
        let key = parse_api_key("ck:tk:ts").unwrap();
        let c = parse_oauth_header(&key.authorization_header("n", 1)).unwrap();
        assert!(plaintext_signature_matches(
            &c,
            &key.consumer_secret,
            &key.token_secret
        ));
    }

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abc\0"));
        assert!(!constant_time_eq(b"", b"\0"));
    }
}
