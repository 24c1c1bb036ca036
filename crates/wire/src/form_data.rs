//! `multipart/form-data` bodies as the `maas` CLI and Ingot's agent send them: plain parts,
//! no transfer encoding, binary-safe. (python-libmaas' base64 form is
//! [`crate::encode_multipart`].) The boundary is the caller's: it must occur in no part
//! ([`boundary_in_parts`] says whether it does); randomness stays out of this crate.

/// One form part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPart {
    /// The field name.
    pub name: String,
    /// The value, sent as it is.
    pub content: Vec<u8>,
    /// Set for file parts: sent with `filename=` and `Content-Type: application/octet-stream`.
    pub filename: Option<String>,
}

impl FormPart {
    /// A plain text field.
    pub fn text(name: impl Into<String>, value: impl Into<String>) -> FormPart {
        FormPart {
            name: name.into(),
            content: value.into().into_bytes(),
            filename: None,
        }
    }

    /// A file field.
    pub fn file(
        name: impl Into<String>,
        filename: impl Into<String>,
        content: Vec<u8>,
    ) -> FormPart {
        FormPart {
            name: name.into(),
            content,
            filename: Some(filename.into()),
        }
    }
}

/// The `Content-Type` header value for a body made with `boundary`.
pub fn form_data_content_type(boundary: &str) -> String {
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

/// Encode `parts` with `boundary`. With no parts the body is just the closing delimiter
/// (maas also sends a multipart body for an empty POST).
pub fn encode_form_data(parts: &[FormPart], boundary: &str) -> Vec<u8> {
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

/// Whether `boundary` occurs in any part (name, file name or content): such a boundary
/// cannot be used.
pub fn boundary_in_parts(parts: &[FormPart], boundary: &str) -> bool {
    let b = boundary.as_bytes();
    parts.iter().any(|p| {
        memchr::memmem::find(&p.content, b).is_some()
            || p.name.contains(boundary)
            || p.filename.as_deref().is_some_and(|f| f.contains(boundary))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_text_and_repeated_parts() {
        let parts = [
            FormPart::text("hostname", "h"),
            FormPart::text("mac_addresses", "52:54:00:00:00:01"),
            FormPart::text("mac_addresses", "52:54:00:00:00:02"),
        ];
        let body = encode_form_data(&parts, "BND");
        let want = "--BND\r\nContent-Disposition: form-data; name=\"hostname\"\r\n\r\nh\r\n\
                    --BND\r\nContent-Disposition: form-data; name=\"mac_addresses\"\r\n\r\n52:54:00:00:00:01\r\n\
                    --BND\r\nContent-Disposition: form-data; name=\"mac_addresses\"\r\n\r\n52:54:00:00:00:02\r\n\
                    --BND--\r\n";
        assert_eq!(String::from_utf8_lossy(&body), want);
        assert_eq!(
            form_data_content_type("BND"),
            "multipart/form-data; boundary=BND"
        );
    }

    #[test]
    fn encodes_file_parts_with_binary_content() {
        let parts = [FormPart::file(
            "user_data",
            "cloud.yaml",
            vec![0, 255, b'\n', 1],
        )];
        let body = encode_form_data(&parts, "B");
        let mut want = b"--B\r\nContent-Disposition: form-data; name=\"user_data\"; \
                         filename=\"cloud.yaml\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            .to_vec();
        want.extend_from_slice(&[0, 255, b'\n', 1]);
        want.extend_from_slice(b"\r\n--B--\r\n");
        assert_eq!(body, want);
    }

    #[test]
    fn empty_body_is_just_the_close_delimiter() {
        assert_eq!(encode_form_data(&[], "X"), b"--X--\r\n".to_vec());
    }

    #[test]
    fn names_are_quoted() {
        let body = encode_form_data(&[FormPart::text("a\"b\\c\r\n", "v")], "B");
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("name=\"a\\\"b\\\\c\"\r\n"), "{text}");
    }

    #[test]
    fn boundaries_found_in_parts() {
        let parts = [
            FormPart::text("a", "xx-ingot-1-yy"),
            FormPart::file("f", "ingot-2.bin", vec![]),
        ];
        assert!(boundary_in_parts(&parts, "ingot-1"));
        assert!(boundary_in_parts(&parts, "ingot-2"));
        assert!(!boundary_in_parts(&parts, "ingot-3"));
    }

    #[test]
    fn the_decoder_reads_what_this_encodes() {
        let parts = [
            FormPart::text("op", "signal"),
            FormPart::file("result.yaml", "result.yaml", vec![0, 1, 2, 255]),
        ];
        let body = encode_form_data(&parts, "ingot-test");
        let m = crate::parse_multipart("ingot-test", &body).unwrap();
        assert_eq!(m.params.get("op"), Some("signal"));
        assert_eq!(m.files[0].data, vec![0, 1, 2, 255]);
    }
}
