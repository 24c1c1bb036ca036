//! `application/x-www-form-urlencoded` and URL query strings.

use percent_encoding::percent_decode;

use crate::Params;

/// Parse an `application/x-www-form-urlencoded` body or a URL query string
/// the way Python's `urllib.parse.parse_qsl(keep_blank_values=True)` does:
/// pairs are separated by `&`, `+` is a space, `%XX` is decoded, invalid
/// percent escapes are kept literally, repeated keys are kept, a key without
/// `=` has an empty value and empty segments are skipped. Names that are not
/// valid UTF-8 after decoding are converted lossily; values stay raw bytes.
pub fn parse_urlencoded(input: &[u8]) -> Params {
    let mut params = Params::new();
    for segment in input.split(|&b| b == b'&') {
        if segment.is_empty() {
            continue;
        }
        let (name, value) = match segment.iter().position(|&b| b == b'=') {
            Some(i) => (
                segment.get(..i).unwrap_or_default(),
                segment.get(i + 1..).unwrap_or_default(),
            ),
            None => (segment, &[][..]),
        };
        let name = form_decode(name);
        params.push(
            String::from_utf8_lossy(&name).into_owned(),
            form_decode(value),
        );
    }
    params
}

fn form_decode(raw: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&spaced).collect()
}

/// Encode pairs as `application/x-www-form-urlencoded` (Python `urlencode`
/// style: space -> `+`, everything but `A-Za-z0-9-._~` percent-encoded).
pub fn encode_urlencoded(params: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        form_encode_into(&mut out, name.as_bytes());
        out.push('=');
        form_encode_into(&mut out, value.as_bytes());
    }
    out
}

fn form_encode_into(out: &mut String, raw: &[u8]) {
    for &b in raw {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(crate::header::hex_digit(b >> 4));
                out.push(crate::header::hex_digit(b & 0x0f));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_and_percent() {
        let p = parse_urlencoded(b"name=node+3&desc=a%20b%2Bc&empty=&flag&&tags=a&tags=b");
        assert_eq!(p.get("name"), Some("node 3"));
        assert_eq!(p.get("desc"), Some("a b+c"));
        assert_eq!(p.get("empty"), Some(""));
        assert_eq!(p.get("flag"), Some(""));
        assert_eq!(p.get_all("tags"), vec!["a", "b"]);
        assert_eq!(p.len(), 6);
    }

    #[test]
    fn invalid_escapes_kept_literally() {
        let p = parse_urlencoded(b"a=%zz&b=100%&c=%4&d=%e2%82%ac&%6Bey=v=w");
        assert_eq!(p.get("a"), Some("%zz"));
        assert_eq!(p.get("b"), Some("100%"));
        assert_eq!(p.get("c"), Some("%4"));
        assert_eq!(p.get("d"), Some("\u{20ac}"));
        assert_eq!(p.get("key"), Some("v=w"));
    }

    #[test]
    fn binary_values_and_empty_input() {
        let p = parse_urlencoded(b"x=%FF%00");
        assert_eq!(p.get_bytes("x"), Some(&[0xff, 0x00][..]));
        assert_eq!(p.get("x"), None);
        assert!(parse_urlencoded(b"").is_empty());
        assert!(parse_urlencoded(b"&&&").is_empty());
        let p = parse_urlencoded(b"=v");
        assert_eq!(p.get(""), Some("v"));
    }

    #[test]
    fn encode() {
        assert_eq!(
            encode_urlencoded(&[("op", "list"), ("q", "a b&c=d/é~")]),
            "op=list&q=a+b%26c%3Dd%2F%C3%A9~"
        );
        assert_eq!(encode_urlencoded(&[]), "");
    }
}
