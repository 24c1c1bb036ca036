//! `multipart/form-data` over a complete in-memory body.
//!
//! Written by hand rather than with `multer`: the python-libmaas client (via
//! Python's `email.mime`) base64-encodes every part with
//! `Content-Transfer-Encoding: base64`, quotes a boundary full of `=`, and
//! sends `--B\r\n\r\n--B--` when there are no arguments; multer neither
//! decodes transfer encodings nor accepts that zero-part body, and it is
//! async (`multipart_stream.rs` does the streaming, for image uploads).

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

use crate::header::{hex_digit, HeaderValue};
use crate::{Params, WireError};

/// Result of decoding a body: every named part as a parameter (file parts
/// included, in body order) plus the file parts with their metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Multipart {
    /// Every named part, in order. File parts appear here too, under their
    /// field name, with their (decoded) content as the value.
    pub params: Params,
    /// Parts that carried a `filename` parameter, in order.
    pub files: Vec<FilePart>,
}

/// A file upload part (`Content-Disposition: form-data; name=..; filename=..`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilePart {
    /// The form field name.
    pub name: String,
    /// The `filename` parameter as sent (may be empty).
    pub filename: Option<String>,
    /// The part's media type without parameters (e.g. `text/plain`), as sent.
    pub content_type: Option<String>,
    /// The decoded content.
    pub data: Vec<u8>,
}

/// Lenient base64 engine: standard alphabet, padding optional, trailing bits
/// ignored (Python's `base64.b64decode` is similarly forgiving).
pub(crate) const LENIENT_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Extract the `boundary` parameter from a `Content-Type` value. The
/// parameter name is case-insensitive, the value may be quoted (with
/// backslash escapes) and may contain `=` and the other RFC 2046 bchars.
/// Returns `None` if absent or empty.
pub fn multipart_boundary(content_type: &str) -> Option<String> {
    HeaderValue::parse(content_type)
        .param("boundary")
        .filter(|b| !b.is_empty())
}

/// A delimiter line found in the body.
struct Delimiter {
    /// End of the preceding part's content (the line break before the
    /// delimiter belongs to the delimiter, RFC 2046 §5.1.1).
    content_end: usize,
    /// Offset just past the delimiter line.
    next: usize,
    /// `--boundary--`.
    close: bool,
}

/// Find the next delimiter line starting at or after `from`. A delimiter must
/// start a line (or sit exactly at `from`) and be followed by `--` (close),
/// or by optional spaces/tabs and a line break (or the end of the body).
fn find_delimiter(body: &[u8], delim: &[u8], from: usize) -> Option<Delimiter> {
    let mut p = from;
    loop {
        let rest = body.get(p..)?;
        if rest.starts_with(delim) {
            if let Some((next, close)) = delimiter_suffix(body, p + delim.len()) {
                let content_end = if p == from {
                    p
                } else if p >= from + 2 && body.get(p - 2) == Some(&b'\r') {
                    p - 2
                } else {
                    p - 1
                };
                return Some(Delimiter {
                    content_end,
                    next,
                    close,
                });
            }
        }
        let nl = rest.iter().position(|&b| b == b'\n')?;
        p += nl + 1;
    }
}

/// Check what follows a boundary at `q`; returns (offset after line, close).
fn delimiter_suffix(body: &[u8], q: usize) -> Option<(usize, bool)> {
    let rest = body.get(q..)?;
    if rest.starts_with(b"--") {
        return Some((q + 2, true));
    }
    let ws = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let after = rest.get(ws..)?;
    if after.is_empty() {
        Some((body.len(), false))
    } else if after.starts_with(b"\r\n") {
        Some((q + ws + 2, false))
    } else if after.starts_with(b"\n") {
        Some((q + ws + 1, false))
    } else {
        None
    }
}

/// Parse a complete `multipart/form-data` body.
///
/// Accepts what python-libmaas (Python `email.mime`), curl, browsers and
/// Go/requests send: CRLF or bare LF line endings, preamble and epilogue,
/// quoted or folded part headers, `Content-Transfer-Encoding` `base64`
/// (line breaks allowed) and `quoted-printable`; `7bit`, `8bit`, `binary`,
/// absent or unknown encodings are taken raw (as Django does). A body that is
/// empty, all whitespace, `--B--` or `--B\r\n\r\n--B--` yields no parameters.
/// Parts without a `name` are skipped. A missing opening or closing
/// delimiter, or undecodable base64, is an error.
pub fn parse_multipart(boundary: &str, body: &[u8]) -> Result<Multipart, WireError> {
    let mut out = Multipart::default();
    if boundary.is_empty() {
        return Err(WireError::Multipart("empty boundary".into()));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(out);
    }
    let mut delim = Vec::with_capacity(boundary.len() + 2);
    delim.extend_from_slice(b"--");
    delim.extend_from_slice(boundary.as_bytes());

    let first = find_delimiter(body, &delim, 0)
        .ok_or_else(|| WireError::Multipart("opening boundary not found".into()))?;
    if first.close {
        return Ok(out);
    }
    let mut pos = first.next;
    let mut index = 0usize;
    loop {
        let d = find_delimiter(body, &delim, pos)
            .ok_or_else(|| WireError::Multipart("closing boundary not found".into()))?;
        let content = body.get(pos..d.content_end).unwrap_or_default();
        parse_part(content, index, &mut out)?;
        index += 1;
        if d.close {
            return Ok(out);
        }
        pos = d.next;
    }
}

/// Parsed part headers: lower-cased names, unfolded values.
pub(crate) fn parse_part_headers(content: &[u8]) -> (Vec<(String, String)>, &[u8]) {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut pos = 0;
    while pos < content.len() {
        let rest = content.get(pos..).unwrap_or_default();
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (rest.get(..i).unwrap_or_default(), pos + i + 1),
            None => (rest, content.len()),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return (headers, content.get(next..).unwrap_or_default());
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if let Some((_, value)) = headers.last_mut() {
                value.push_str(&String::from_utf8_lossy(line));
                pos = next;
                continue;
            }
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            // Not a header: the body starts here (Python's email does the same).
            return (headers, rest);
        };
        let name = line.get(..colon).unwrap_or_default();
        if name.is_empty() || name.iter().any(|b| b.is_ascii_whitespace()) {
            return (headers, rest);
        }
        let value = line.get(colon + 1..).unwrap_or_default();
        headers.push((
            String::from_utf8_lossy(name).to_ascii_lowercase(),
            String::from_utf8_lossy(value).into_owned(),
        ));
        pos = next;
    }
    (headers, &[])
}

pub(crate) fn parse_part(
    content: &[u8],
    index: usize,
    out: &mut Multipart,
) -> Result<(), WireError> {
    let (headers, raw_body) = parse_part_headers(content);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
    };
    let Some(disposition) = header("content-disposition").map(HeaderValue::parse) else {
        return Ok(());
    };
    let Some(name) = disposition.param("name") else {
        return Ok(());
    };
    let encoding = header("content-transfer-encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let data = match encoding.as_str() {
        "base64" => decode_base64(raw_body).map_err(|e| {
            WireError::Multipart(format!("part {index} ({name:?}): invalid base64: {e}"))
        })?,
        "quoted-printable" => decode_quoted_printable(raw_body),
        _ => raw_body.to_vec(),
    };
    if let Some(filename) = disposition.param("filename") {
        let content_type = header("content-type")
            .map(|ct| HeaderValue::parse(ct).value)
            .filter(|ct| !ct.is_empty());
        out.files.push(FilePart {
            name: name.clone(),
            filename: Some(filename),
            content_type,
            data: data.clone(),
        });
    }
    out.params.push(name, data);
    Ok(())
}

fn decode_base64(raw: &[u8]) -> Result<Vec<u8>, base64::DecodeError> {
    let compact: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    LENIENT_B64.decode(compact)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// RFC 2045 quoted-printable: `=XX` escapes, `=` + line break is a soft
/// break; malformed escapes are kept literally.
fn decode_quoted_printable(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        let rest = raw.get(i + 1..).unwrap_or_default();
        let ws = rest
            .iter()
            .take_while(|&&c| c == b' ' || c == b'\t')
            .count();
        let after_ws = rest.get(ws..).unwrap_or_default();
        if after_ws.starts_with(b"\r\n") {
            i += 1 + ws + 2;
        } else if after_ws.starts_with(b"\n") {
            i += 1 + ws + 1;
        } else if let (Some(h), Some(l)) = (
            rest.first().copied().and_then(hex_value),
            rest.get(1).copied().and_then(hex_value),
        ) {
            out.push((h << 4) | l);
            i += 3;
        } else {
            out.push(b'=');
            i += 1;
        }
    }
    out
}

/// Build a `multipart/form-data` body exactly the way python-libmaas does
/// (Python `email.mime`): boundary `===============<19 digits>==` quoted in
/// the header, each part base64-encoded in 76-column lines, CRLF line
/// endings, no trailing line break. UTF-8 values are sent as
/// `text/plain; charset="utf-8"`, other values as
/// `application/octet-stream`. Names made of printable ASCII are quoted;
/// others use RFC 2231 (`name*=utf-8''...`).
///
/// The boundary is derived from the content (no randomness); base64 bodies
/// and our headers can never contain a line starting with `--`, so it
/// cannot collide with the data.
///
/// Returns `(content_type_header_value, body)`.
pub fn encode_multipart(params: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = make_boundary(params);
    let mut body = Vec::new();
    body.extend_from_slice(b"--");
    body.extend_from_slice(boundary.as_bytes());
    body.extend_from_slice(b"\r\n");
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            body.extend_from_slice(b"\r\n--");
            body.extend_from_slice(boundary.as_bytes());
            body.extend_from_slice(b"\r\n");
        }
        let disposition = format!("form-data; {}", encode_name_param("name", name));
        if std::str::from_utf8(value).is_ok() {
            push_line(&mut body, "Content-Transfer-Encoding: base64");
            push_line(&mut body, &format!("Content-Disposition: {disposition}"));
            push_line(&mut body, "MIME-Version: 1.0");
            push_line(&mut body, "Content-Type: text/plain; charset=\"utf-8\"");
        } else {
            push_line(&mut body, "Content-Type: application/octet-stream");
            push_line(&mut body, "MIME-Version: 1.0");
            push_line(&mut body, "Content-Transfer-Encoding: base64");
            push_line(&mut body, &format!("Content-Disposition: {disposition}"));
        }
        body.extend_from_slice(b"\r\n");
        let encoded = base64::engine::general_purpose::STANDARD.encode(value);
        for line in encoded.as_bytes().chunks(76) {
            body.extend_from_slice(line);
            body.extend_from_slice(b"\r\n");
        }
    }
    body.extend_from_slice(b"\r\n--");
    body.extend_from_slice(boundary.as_bytes());
    body.extend_from_slice(b"--");
    let content_type = format!("multipart/form-data; boundary=\"{boundary}\"");
    (content_type, body)
}

fn push_line(body: &mut Vec<u8>, line: &str) {
    body.extend_from_slice(line.as_bytes());
    body.extend_from_slice(b"\r\n");
}

/// `name="value"` with backslash quoting, or RFC 2231 `name*=utf-8''pct`
/// when the value has non-printable or non-ASCII characters.
fn encode_name_param(param: &str, value: &str) -> String {
    if value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        format!("{param}=\"{escaped}\"")
    } else {
        let mut out = format!("{param}*=utf-8''");
        for b in value.bytes() {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push('%');
                out.push(hex_digit(b >> 4));
                out.push(hex_digit(b & 0x0f));
            }
        }
        out
    }
}

/// `===============` + 19 digits + `==`, like Python's `_make_boundary`, with
/// the digits taken from an FNV-1a hash of the content instead of a RNG.
fn make_boundary(params: &[(&str, &[u8])]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, value) in params {
        for &b in name
            .as_bytes()
            .iter()
            .chain([0u8].iter())
            .chain(value.iter())
        {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("==============={:019}==", hash % 10_000_000_000_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIBMAAS_BOUNDARY: &str = "===============2999418960957911064==";
    const LIBMAAS_CT: &str =
        "multipart/form-data; boundary=\"===============2999418960957911064==\"";

    fn libmaas_body() -> Vec<u8> {
        b"--===============2999418960957911064==\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-Disposition: form-data; name=\"name\"\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=\"utf-8\"\r\n\
\r\n\
bm9kZTM=\r\n\
\r\n\
--===============2999418960957911064==--"
            .to_vec()
    }

    #[test]
    fn boundary_extraction() {
        assert_eq!(
            multipart_boundary(LIBMAAS_CT).as_deref(),
            Some(LIBMAAS_BOUNDARY)
        );
        assert_eq!(
            multipart_boundary("Multipart/Form-Data; BOUNDARY=abc=def").as_deref(),
            Some("abc=def")
        );
        assert_eq!(
            multipart_boundary("multipart/form-data; charset=utf-8; boundary=\"a b'()+_,-./:?\"")
                .as_deref(),
            Some("a b'()+_,-./:?")
        );
        assert_eq!(
            multipart_boundary("multipart/form-data;boundary=----WebKitFormBoundary7MA4YWxk")
                .as_deref(),
            Some("----WebKitFormBoundary7MA4YWxk")
        );
        assert_eq!(multipart_boundary("multipart/form-data"), None);
        assert_eq!(
            multipart_boundary("multipart/form-data; boundary=\"\""),
            None
        );
    }

    #[test]
    fn libmaas_single_field() {
        let m = parse_multipart(LIBMAAS_BOUNDARY, &libmaas_body()).unwrap();
        assert_eq!(m.params.get("name"), Some("node3"));
        assert_eq!(m.params.len(), 1);
        assert!(m.files.is_empty());
    }

    #[test]
    fn libmaas_body_with_lf_only() {
        let body: Vec<u8> = libmaas_body().into_iter().filter(|&b| b != b'\r').collect();
        let m = parse_multipart(LIBMAAS_BOUNDARY, &body).unwrap();
        assert_eq!(m.params.get("name"), Some("node3"));
    }

    #[test]
    fn zero_part_bodies() {
        for body in [
            &b"--B\r\n\r\n--B--"[..],
            b"--B\n\n--B--",
            b"--B--",
            b"--B--\r\n",
            b"",
            b"\r\n",
            b"--B\r\n--B--\r\n",
        ] {
            let m = parse_multipart("B", body)
                .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(body)));
            assert!(m.params.is_empty(), "{:?}", String::from_utf8_lossy(body));
            assert!(m.files.is_empty());
        }
    }

    #[test]
    fn malformed_bodies_are_errors() {
        for body in [
            &b"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue"[..],
            b"no boundary here",
            b"--B",
            b"--Bxyz\r\n\r\n--Bxyz--",
        ] {
            assert!(
                matches!(parse_multipart("B", body), Err(WireError::Multipart(_))),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(parse_multipart("", b"--\r\n").is_err());
    }

    #[test]
    fn bad_base64_is_an_error() {
        let body = b"--B\r\nContent-Transfer-Encoding: base64\r\n\
Content-Disposition: form-data; name=\"a\"\r\n\r\n!!!not base64***\r\n--B--";
        let err = parse_multipart("B", body).unwrap_err();
        assert!(
            matches!(err, WireError::Multipart(ref m) if m.contains("base64")),
            "{err}"
        );
    }

    #[test]
    fn base64_with_line_breaks_and_missing_padding() {
        let body = b"--B\r\nContent-Transfer-Encoding: BASE64\r\n\
content-disposition: form-data; name=a\r\n\r\naGVsbG8g\r\nd29y\r\nbGQ\r\n--B--";
        let m = parse_multipart("B", body).unwrap();
        assert_eq!(m.params.get("a"), Some("hello world"));
    }

    #[test]
    fn repeated_keys_preamble_epilogue_and_unnamed_parts() {
        let body = b"This is the preamble.\r\n--B\r\n\
Content-Disposition: form-data; name=\"tags\"\r\n\r\na\r\n--B\r\n\
Content-Disposition: form-data; name=\"tags\"\r\n\r\nb\r\n--B\r\n\
Content-Type: text/plain\r\n\r\nno name\r\n--B\r\n\
Content-Disposition: form-data\r\n\r\nstill no name\r\n--B--\r\n\
epilogue --B\r\n";
        let m = parse_multipart("B", body).unwrap();
        assert_eq!(m.params.get_all("tags"), vec!["a", "b"]);
        assert_eq!(m.params.len(), 2);
    }

    #[test]
    fn binary_file_part_with_crlf_and_dashes() {
        let data: Vec<u8> = b"\x00\xff\r\n--\r\n--B not a boundary\r\n--Bx\r\n\xfe\r"
            .iter()
            .copied()
            .chain(0u8..=255)
            .collect();
        let mut body =
            b"--B\r\nContent-Disposition: form-data; name=\"result\"; filename=\"out.bin\"\r\n\
Content-Type: application/octet-stream\r\n\r\n"
                .to_vec();
        body.extend_from_slice(&data);
        body.extend_from_slice(b"\r\n--B--\r\n");
        let m = parse_multipart("B", &body).unwrap();
        assert_eq!(m.params.get_bytes("result"), Some(&data[..]));
        assert_eq!(m.files.len(), 1);
        assert_eq!(m.files[0].name, "result");
        assert_eq!(m.files[0].filename.as_deref(), Some("out.bin"));
        assert_eq!(
            m.files[0].content_type.as_deref(),
            Some("application/octet-stream")
        );
        assert_eq!(m.files[0].data, data);
    }

    #[test]
    fn curl_file_upload() {
        // What `curl -F 'x=@file.txt' -F op=signal` sends.
        let boundary = "------------------------d74496d66958873e";
        let body = format!(
            "--{boundary}\r\n\
Content-Disposition: form-data; name=\"x\"; filename=\"file.txt\"\r\n\
Content-Type: text/plain\r\n\
\r\n\
line one\nline two\n\r\n\
--{boundary}\r\n\
Content-Disposition: form-data; name=\"op\"\r\n\
\r\n\
signal\r\n\
--{boundary}--\r\n"
        );
        let m = parse_multipart(boundary, body.as_bytes()).unwrap();
        assert_eq!(m.params.get("x"), Some("line one\nline two\n"));
        assert_eq!(m.params.get("op"), Some("signal"));
        assert_eq!(
            m.files,
            vec![FilePart {
                name: "x".into(),
                filename: Some("file.txt".into()),
                content_type: Some("text/plain".into()),
                data: b"line one\nline two\n".to_vec(),
            }]
        );
    }

    #[test]
    fn folded_headers_and_rfc2231_names() {
        let body =
            "--B\r\nContent-Disposition: form-data;\r\n\tname*=utf-8''caf%C3%A9\r\n\r\nx\r\n--B--";
        let m = parse_multipart("B", body.as_bytes()).unwrap();
        assert_eq!(m.params.get("caf\u{e9}"), Some("x"));
    }

    #[test]
    fn quoted_printable() {
        let body = b"--B\r\nContent-Disposition: form-data; name=q\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =3D soft=\r\nbreak =zz=\r\n--B--";
        let m = parse_multipart("B", body).unwrap();
        assert_eq!(m.params.get("q"), Some("caf\u{e9} = softbreak =zz="));
    }

    #[test]
    fn part_without_blank_line_has_empty_body() {
        let body = b"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n--B--";
        let m = parse_multipart("B", body).unwrap();
        assert_eq!(m.params.get("a"), Some(""));
    }

    #[test]
    fn encoder_matches_libmaas_layout() {
        let (ct, body) = encode_multipart(&[("name", b"node3")]);
        let boundary = multipart_boundary(&ct).unwrap();
        assert!(
            ct.starts_with("multipart/form-data; boundary=\"===============")
                && ct.ends_with("==\"")
        );
        assert_eq!(boundary.len(), LIBMAAS_BOUNDARY.len());
        let expected = String::from_utf8(libmaas_body())
            .unwrap()
            .replace(LIBMAAS_BOUNDARY, &boundary);
        assert_eq!(String::from_utf8(body).unwrap(), expected);
    }

    #[test]
    fn encoder_zero_parts_matches_python() {
        let (ct, body) = encode_multipart(&[]);
        let boundary = multipart_boundary(&ct).unwrap();
        assert_eq!(
            body,
            format!("--{boundary}\r\n\r\n--{boundary}--").into_bytes()
        );
        assert!(parse_multipart(&boundary, &body).unwrap().params.is_empty());
    }

    #[test]
    fn encoder_wraps_long_values_and_odd_names() {
        let big = vec![0xABu8; 1000];
        let (ct, body) = encode_multipart(&[
            ("bin", &big),
            ("quote\"back\\slash", b""),
            ("nl\r\nname\u{e9}", b"v"),
        ]);
        assert!(body.split(|&b| b == b'\n').all(|line| line.len() <= 78));
        let m = parse_multipart(&multipart_boundary(&ct).unwrap(), &body).unwrap();
        assert_eq!(m.params.get_bytes("bin"), Some(&big[..]));
        assert_eq!(m.params.get("quote\"back\\slash"), Some(""));
        assert_eq!(m.params.get("nl\r\nname\u{e9}"), Some("v"));
    }
}
