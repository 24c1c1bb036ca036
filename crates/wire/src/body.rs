//! Request body dispatch on `Content-Type`, and JSON object bodies.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::header::HeaderValue;
use crate::multipart::{multipart_boundary, parse_multipart, Multipart};
use crate::urlencoded::parse_urlencoded;
use crate::{Params, WireError};

/// Decode a request body according to its `Content-Type` header value.
///
/// * `None` content type, or an empty body -> empty [`Params`]
/// * `application/x-www-form-urlencoded` -> [`parse_urlencoded`]
/// * `multipart/form-data; boundary=...` -> [`parse_multipart`]; file parts
///   are included under their field name
/// * `application/json` (or `application/*+json`) with an object body ->
///   each top-level key becomes a parameter: strings as-is, numbers and
///   booleans as their JSON text, arrays as repeated values, `null` skipped,
///   nested objects/arrays as their JSON text
/// * anything else -> [`WireError::UnsupportedContentType`]
pub fn decode_body(content_type: Option<&str>, body: &[u8]) -> Result<Params, WireError> {
    decode_body_full(content_type, body).map(|m| m.params)
}

/// Like [`decode_body`] but keeps multipart file parts separately in
/// [`Multipart::files`] (they are still in [`Multipart::params`] too). For
/// non-multipart bodies `files` is empty.
pub fn decode_body_full(content_type: Option<&str>, body: &[u8]) -> Result<Multipart, WireError> {
    let Some(content_type) = content_type else {
        return Ok(Multipart::default());
    };
    if body.is_empty() {
        return Ok(Multipart::default());
    }
    let media_type = HeaderValue::parse(content_type).value.to_ascii_lowercase();
    let params = match media_type.as_str() {
        "application/x-www-form-urlencoded" => parse_urlencoded(body),
        "multipart/form-data" => {
            let boundary = multipart_boundary(content_type)
                .ok_or_else(|| WireError::Multipart("missing boundary in Content-Type".into()))?;
            return parse_multipart(&boundary, body);
        }
        "application/json" => parse_json_object(body)?,
        t if t.starts_with("application/") && t.ends_with("+json") => parse_json_object(body)?,
        _ => return Err(WireError::UnsupportedContentType(content_type.to_owned())),
    };
    Ok(Multipart {
        params,
        files: Vec::new(),
    })
}

/// Top-level JSON object, keeping key order and duplicate keys.
struct OrderedObject(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedObject, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    entries.push((k, v));
                }
                Ok(OrderedObject(entries))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

fn parse_json_object(body: &[u8]) -> Result<Params, WireError> {
    let OrderedObject(entries) =
        serde_json::from_slice(body).map_err(|e| WireError::Json(e.to_string()))?;
    let mut params = Params::new();
    for (key, value) in entries {
        match value {
            Value::Array(items) => {
                for item in items {
                    if let Some(text) = json_scalar_text(item) {
                        params.push(key.clone(), text);
                    }
                }
            }
            other => {
                if let Some(text) = json_scalar_text(other) {
                    params.push(key, text);
                }
            }
        }
    }
    Ok(params)
}

/// Text of a JSON value as a form value; `None` for `null`.
fn json_scalar_text(value: Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_or_empty_is_empty() {
        assert_eq!(decode_body(None, b"a=b"), Ok(Params::new()));
        assert_eq!(decode_body(Some("text/plain"), b""), Ok(Params::new()));
        assert_eq!(
            decode_body(Some("multipart/form-data; boundary=x"), b""),
            Ok(Params::new())
        );
    }

    #[test]
    fn urlencoded_with_charset() {
        let p = decode_body(
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            b"op=deploy&distro_series=jammy&user_data=a+b%3D%3D",
        )
        .unwrap();
        assert_eq!(p.get("op"), Some("deploy"));
        assert_eq!(p.get("distro_series"), Some("jammy"));
        assert_eq!(p.get("user_data"), Some("a b=="));
    }

    #[test]
    fn multipart_libmaas() {
        let body = b"--===============2999418960957911064==\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-Disposition: form-data; name=\"name\"\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=\"utf-8\"\r\n\
\r\n\
bm9kZTM=\r\n\
\r\n\
--===============2999418960957911064==--";
        let p = decode_body(
            Some("multipart/form-data; boundary=\"===============2999418960957911064==\""),
            body,
        )
        .unwrap();
        assert_eq!(p.get("name"), Some("node3"));
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn multipart_zero_parts_and_missing_boundary() {
        assert_eq!(
            decode_body(Some("multipart/form-data; boundary=B"), b"--B\r\n\r\n--B--"),
            Ok(Params::new())
        );
        assert!(matches!(
            decode_body(Some("multipart/form-data"), b"--B--"),
            Err(WireError::Multipart(_))
        ));
    }

    #[test]
    fn multipart_file_parts_in_params_and_files() {
        let body = b"--B\r\nContent-Disposition: form-data; name=\"op\"\r\n\r\nsignal\r\n--B\r\n\
Content-Disposition: form-data; name=\"00-maas-01.out\"; filename=\"00-maas-01.out\"\r\n\
Content-Type: application/octet-stream\r\n\r\n\x00\x01bin\r\n--B--\r\n";
        let ct = Some("multipart/form-data; boundary=B");
        let p = decode_body(ct, body).unwrap();
        assert_eq!(p.get("op"), Some("signal"));
        assert_eq!(p.get_bytes("00-maas-01.out"), Some(&b"\x00\x01bin"[..]));
        let full = decode_body_full(ct, body).unwrap();
        assert_eq!(full.params, p);
        assert_eq!(full.files.len(), 1);
        assert_eq!(full.files[0].filename.as_deref(), Some("00-maas-01.out"));
        assert!(
            decode_body_full(Some("application/x-www-form-urlencoded"), b"a=1")
                .unwrap()
                .files
                .is_empty()
        );
    }

    #[test]
    fn json_object() {
        let p = decode_body(
            Some("application/json; charset=utf-8"),
            br#"{"hostname":"n1","cpu":4,"mem":1.5,"commission":true,"tags":["a","b",null,7],
                "none":null,"nested":{"k":[1,2]},"zone":"default","hostname":"dup"}"#,
        )
        .unwrap();
        assert_eq!(
            p.iter()
                .map(|(k, v)| (k, std::str::from_utf8(v).unwrap()))
                .collect::<Vec<_>>(),
            vec![
                ("hostname", "n1"),
                ("cpu", "4"),
                ("mem", "1.5"),
                ("commission", "true"),
                ("tags", "a"),
                ("tags", "b"),
                ("tags", "7"),
                ("nested", "{\"k\":[1,2]}"),
                ("zone", "default"),
                ("hostname", "dup"),
            ]
        );
        assert_eq!(p.get_i64("cpu"), Ok(Some(4)));
        assert_eq!(p.get_bool("commission"), Ok(Some(true)));
        assert!(!p.contains("none"));
    }

    #[test]
    fn json_vendor_type_and_errors() {
        let p = decode_body(Some("application/vnd.api+json"), br#"{"a":"b"}"#).unwrap();
        assert_eq!(p.get("a"), Some("b"));
        for bad in [
            &b"[1,2]"[..],
            b"\"str\"",
            b"{",
            b"{\"a\":1} trailing",
            b"\xff",
        ] {
            assert!(
                matches!(
                    decode_body(Some("application/json"), bad),
                    Err(WireError::Json(_))
                ),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn unsupported() {
        assert_eq!(
            decode_body(Some("text/plain"), b"hello"),
            Err(WireError::UnsupportedContentType("text/plain".into()))
        );
        assert!(matches!(
            decode_body(Some(""), b"x"),
            Err(WireError::UnsupportedContentType(_))
        ));
    }
}
