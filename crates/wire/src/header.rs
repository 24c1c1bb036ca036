//! Small helpers for MIME/HTTP header values: `type/sub; k=v; k2="quoted"`.

use percent_encoding::percent_decode;

/// Upper-case hex digit for the low 4 bits of `n`.
pub(crate) fn hex_digit(n: u8) -> char {
    match n & 0x0f {
        d @ 0..=9 => char::from(b'0' + d),
        d => char::from(b'A' + (d - 10)),
    }
}

/// Split `s` on `sep` wherever it is not inside a double-quoted string
/// (backslash escapes inside quotes are honoured).
pub(crate) fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_quotes = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            c if c == sep && !in_quotes => {
                out.push(s.get(start..i).unwrap_or_default());
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(s.get(start..).unwrap_or_default());
    out
}

/// Undo RFC 2616/5322 quoting: `"a\"b"` -> `a"b`. Unquoted values are
/// returned trimmed; an unterminated quoted string runs to the end.
pub(crate) fn unquote(value: &str) -> String {
    let value = value.trim();
    let Some(inner) = value.strip_prefix('"') else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '"' => break,
            c => out.push(c),
        }
    }
    out
}

/// A parsed header value: the main value (e.g. `form-data`, `text/plain`)
/// and its `;`-separated parameters with lower-cased names, in order.
#[derive(Debug, Default)]
pub(crate) struct HeaderValue {
    pub value: String,
    pub params: Vec<(String, String)>,
}

impl HeaderValue {
    pub fn parse(s: &str) -> Self {
        let mut pieces = split_unquoted(s, ';').into_iter();
        let value = pieces.next().unwrap_or_default().trim().to_owned();
        let mut params = Vec::new();
        for piece in pieces {
            let piece = piece.trim();
            if piece.is_empty() {
                continue;
            }
            let (name, raw) = piece.split_once('=').unwrap_or((piece, ""));
            params.push((name.trim().to_ascii_lowercase(), raw.trim().to_owned()));
        }
        HeaderValue { value, params }
    }

    /// Parameter `name` (lower-case), honouring RFC 2231 `name*=charset''pct`
    /// which takes precedence over the plain form, as in Python's email.
    pub fn param(&self, name: &str) -> Option<String> {
        let star = format!("{name}*");
        if let Some((_, raw)) = self.params.iter().find(|(k, _)| *k == star) {
            return Some(decode_rfc2231(&unquote(raw)));
        }
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, raw)| unquote(raw))
    }
}

/// Decode an RFC 2231 extended value `charset'language'percent-encoded`.
/// Without the two `'` it is treated as plain percent-encoded UTF-8.
fn decode_rfc2231(raw: &str) -> String {
    let mut parts = raw.splitn(3, '\'');
    let (charset, encoded) = match (parts.next(), parts.next(), parts.next()) {
        (Some(charset), Some(_lang), Some(rest)) => (charset, rest),
        _ => ("utf-8", raw),
    };
    let bytes: Vec<u8> = percent_decode(encoded.as_bytes()).collect();
    let charset = charset.to_ascii_lowercase();
    if charset == "iso-8859-1" || charset == "latin-1" || charset == "latin1" {
        bytes.iter().map(|&b| char::from(b)).collect()
    } else {
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_params() {
        let h =
            HeaderValue::parse(r#"form-data; name="a;b\"c"; filename=plain.txt ; NAME2 = "x=y""#);
        assert_eq!(h.value, "form-data");
        assert_eq!(h.param("name").as_deref(), Some("a;b\"c"));
        assert_eq!(h.param("filename").as_deref(), Some("plain.txt"));
        assert_eq!(h.param("name2").as_deref(), Some("x=y"));
        assert_eq!(h.param("missing"), None);
    }

    #[test]
    fn rfc2231() {
        let h = HeaderValue::parse("form-data; name=\"fallback\"; name*=utf-8''caf%C3%A9");
        assert_eq!(h.param("name").as_deref(), Some("caf\u{e9}"));
        let h = HeaderValue::parse("form-data; name*=iso-8859-1'en'caf%E9");
        assert_eq!(h.param("name").as_deref(), Some("caf\u{e9}"));
    }

    #[test]
    fn unquote_edge_cases() {
        assert_eq!(unquote("\"unterminated"), "unterminated");
        assert_eq!(unquote("\"trailing\\"), "trailing");
        assert_eq!(unquote("  bare  "), "bare");
        assert_eq!(unquote("\"\""), "");
    }

    #[test]
    fn hex() {
        let s: String = (0..16).map(hex_digit).collect();
        assert_eq!(s, "0123456789ABCDEF");
    }
}
