//! `multipart/form-data` bodies, as the `maas` CLI and python-libmaas send them
//! (plain parts, no base64 transfer encoding).

use rand::distributions::Alphanumeric;
use rand::Rng;

/// One form part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub content: Vec<u8>,
    /// Set for `name@=path` parts: sent as a file upload (`filename=`,
    /// `Content-Type: application/octet-stream`), like maas does.
    pub filename: Option<String>,
}

impl Part {
    /// A plain text field.
    pub fn text(name: impl Into<String>, value: impl Into<String>) -> Part {
        Part {
            name: name.into(),
            content: value.into().into_bytes(),
            filename: None,
        }
    }

    /// A file field.
    pub fn file(name: impl Into<String>, filename: impl Into<String>, content: Vec<u8>) -> Part {
        Part {
            name: name.into(),
            content,
            filename: Some(filename.into()),
        }
    }
}

/// The `Content-Type` header value for a body made with `boundary`.
pub fn content_type(boundary: &str) -> String {
    format!("multipart/form-data; boundary={boundary}")
}

/// Quote a header parameter value: `"` and `\` are escaped, CR/LF dropped.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => {}
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Encode `parts` with `boundary`. With no parts the body is just the closing
/// delimiter (maas also sends a multipart body for an empty POST).
pub fn encode_multipart(parts: &[Part], boundary: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(b"--");
        body.extend_from_slice(boundary.as_bytes());
        body.extend_from_slice(b"\r\nContent-Disposition: form-data; name=");
        body.extend_from_slice(quote(&part.name).as_bytes());
        if let Some(filename) = &part.filename {
            body.extend_from_slice(b"; filename=");
            body.extend_from_slice(quote(filename).as_bytes());
            body.extend_from_slice(b"\r\nContent-Type: application/octet-stream");
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(&part.content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--");
    body.extend_from_slice(boundary.as_bytes());
    body.extend_from_slice(b"--\r\n");
    body
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// A random boundary that occurs in none of the parts.
pub fn generate_boundary(parts: &[Part]) -> String {
    loop {
        let random: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(30)
            .map(char::from)
            .collect();
        let boundary = format!("ingot-{random}");
        let clash = parts.iter().any(|p| {
            contains(&p.content, boundary.as_bytes())
                || p.name.contains(&boundary)
                || p.filename.as_deref().is_some_and(|f| f.contains(&boundary))
        });
        if !clash {
            return boundary;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_text_and_repeated_parts() {
        let parts = [
            Part::text("hostname", "h"),
            Part::text("mac_addresses", "52:54:00:00:00:01"),
            Part::text("mac_addresses", "52:54:00:00:00:02"),
        ];
        let body = encode_multipart(&parts, "BND");
        let want = "--BND\r\nContent-Disposition: form-data; name=\"hostname\"\r\n\r\nh\r\n\
                    --BND\r\nContent-Disposition: form-data; name=\"mac_addresses\"\r\n\r\n52:54:00:00:00:01\r\n\
                    --BND\r\nContent-Disposition: form-data; name=\"mac_addresses\"\r\n\r\n52:54:00:00:00:02\r\n\
                    --BND--\r\n";
        assert_eq!(String::from_utf8_lossy(&body), want);
        assert_eq!(content_type("BND"), "multipart/form-data; boundary=BND");
    }

    #[test]
    fn encodes_file_parts_with_binary_content() {
        let parts = [Part::file(
            "user_data",
            "cloud.yaml",
            vec![0, 255, b'\n', 1],
        )];
        let body = encode_multipart(&parts, "B");
        let mut want = b"--B\r\nContent-Disposition: form-data; name=\"user_data\"; \
                         filename=\"cloud.yaml\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            .to_vec();
        want.extend_from_slice(&[0, 255, b'\n', 1]);
        want.extend_from_slice(b"\r\n--B--\r\n");
        assert_eq!(body, want);
    }

    #[test]
    fn empty_body_is_just_the_close_delimiter() {
        assert_eq!(encode_multipart(&[], "X"), b"--X--\r\n".to_vec());
    }

    #[test]
    fn names_are_quoted() {
        let body = encode_multipart(&[Part::text("a\"b\\c\r\n", "v")], "B");
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("name=\"a\\\"b\\\\c\"\r\n"), "{text}");
    }

    #[test]
    fn boundary_avoids_content() {
        let parts = [Part::text("a", "ingot-")];
        let b = generate_boundary(&parts);
        assert!(b.starts_with("ingot-") && b.len() == 36);
        assert_ne!(generate_boundary(&parts), b);
        assert!(!contains(b"ingot-", b.as_bytes()));
    }
}
