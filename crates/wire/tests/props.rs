//! Property tests: encoder/decoder round-trips and "never panics" on
//! arbitrary untrusted input.

use ingot_wire::{
    build_oauth_header, decode_body, decode_body_full, encode_multipart, encode_urlencoded,
    multipart_boundary, parse_api_key, parse_multipart, parse_oauth_header, parse_urlencoded,
    plaintext_signature_matches, MultipartStream, Params, StreamEvent,
};
use proptest::prelude::*;

fn to_params<K: AsRef<str>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_vec()))
        .collect()
}

/// Fragments that make random bodies look like multipart often enough to
/// reach the deep parser paths.
fn multipart_fragment(boundary: String) -> impl Strategy<Value = Vec<u8>> {
    let b = boundary;
    prop_oneof![
        Just(format!("--{b}").into_bytes()),
        Just(format!("--{b}--").into_bytes()),
        Just(format!("\r\n--{b}\r\n").into_bytes()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n\r\n".to_vec()),
        Just(b"Content-Disposition: form-data; name=\"a\"\r\n".to_vec()),
        Just(b"Content-Disposition: form-data; name=x; filename=\"f\r\n".to_vec()),
        Just(b"content-disposition:form-data;name*=utf-8''%FF%C3\n".to_vec()),
        Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
        Just(b"Content-Transfer-Encoding: quoted-printable\r\n".to_vec()),
        Just(b"Content-Type: text/plain; charset=\"utf-8\r\n".to_vec()),
        Just(b" folded; name=\"\\".to_vec()),
        Just(b"bm9kZTM=".to_vec()),
        Just(b"=\r\n=4".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..12),
    ]
}

fn structured_multipart() -> impl Strategy<Value = (String, Vec<u8>)> {
    "[A-Za-z0-9'()+_,./:=? -]{1,20}".prop_flat_map(|boundary| {
        let frags = proptest::collection::vec(multipart_fragment(boundary.clone()), 0..24);
        (Just(boundary), frags.prop_map(|f| f.concat()))
    })
}

/// Field names: arbitrary Unicode, plus ASCII with control characters,
/// quotes, backslashes and line breaks (which need RFC 2231 encoding).
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[\\x00-\\x7f]{0,12}", "[a-z_]{1,12}"]
}

/// Mostly well-formed multipart bodies (random header sets, encodings and
/// content) that are then possibly truncated or have garbage spliced in.
fn mangled_multipart() -> impl Strategy<Value = (String, Vec<u8>)> {
    let header = prop_oneof![
        Just("Content-Disposition: form-data; name=\"a\"".to_owned()),
        Just("Content-Disposition: form-data; name=b; filename=\"f.bin\"".to_owned()),
        Just("Content-Disposition: form-data".to_owned()),
        Just("Content-Transfer-Encoding: base64".to_owned()),
        Just("Content-Transfer-Encoding: quoted-printable".to_owned()),
        Just("Content-Type: application/octet-stream".to_owned()),
        Just(" continued".to_owned()),
        "[ -~]{0,30}",
    ];
    let part = (
        proptest::collection::vec(header, 0..4),
        prop_oneof![
            "[A-Za-z0-9+/=\r\n]{0,40}".prop_map(String::into_bytes),
            "[ -~=\r\n]{0,40}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..40),
        ],
        "(\r\n|\n)",
    );
    (
        "[A-Za-z0-9'()+_,./:=? -]{1,20}",
        proptest::collection::vec(part, 0..5),
        any::<bool>(),
        any::<prop::sample::Index>(),
        proptest::collection::vec(any::<u8>(), 0..6),
        0u8..3,
    )
        .prop_map(|(boundary, parts, lf, at, garbage, mode)| {
            let nl = if lf { "\n" } else { "\r\n" };
            let mut body = Vec::new();
            for (headers, data, part_nl) in parts {
                body.extend_from_slice(format!("--{boundary}{nl}").as_bytes());
                for h in headers {
                    body.extend_from_slice(format!("{h}{part_nl}").as_bytes());
                }
                body.extend_from_slice(part_nl.as_bytes());
                body.extend_from_slice(&data);
                body.extend_from_slice(nl.as_bytes());
            }
            body.extend_from_slice(format!("--{boundary}--").as_bytes());
            let cut = at.index(body.len() + 1);
            match mode {
                0 => {}
                1 => body.truncate(cut),
                _ => {
                    body.splice(cut..cut, garbage);
                }
            }
            (boundary, body)
        })
}

type Decoded = (
    Vec<(String, Vec<u8>)>,
    Vec<(String, Option<String>, Vec<u8>)>,
);

/// The whole-body parse: every parameter and every file, sorted.
fn whole(boundary: &str, body: &[u8]) -> Option<Decoded> {
    let m = parse_multipart(boundary, body).ok()?;
    let mut params: Vec<_> = m
        .params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect();
    let mut files: Vec<_> = m
        .files
        .into_iter()
        .map(|f| (f.name, f.filename, f.data))
        .collect();
    params.sort();
    files.sort();
    Some((params, files))
}

/// The same through [`MultipartStream`], fed `piece` bytes at a time (streamed files count
/// as parameters too, as the whole-body parser lists them).
fn streamed(boundary: &str, body: &[u8], piece: usize) -> Option<Decoded> {
    let mut s = MultipartStream::new(boundary, usize::MAX).ok()?;
    let mut events = Vec::new();
    for c in body.chunks(piece.max(1)) {
        events.extend(s.feed(c).ok()?);
    }
    let (last, fields) = s.finish().ok()?;
    events.extend(last);
    let mut files: Vec<(String, Option<String>, Vec<u8>)> = fields
        .files
        .into_iter()
        .map(|f| (f.name, f.filename, f.data))
        .collect();
    let mut params: Vec<_> = fields
        .params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect();
    let mut current: Option<(String, Option<String>, Vec<u8>)> = None;
    for e in events {
        match e {
            StreamEvent::FileStart(h) => current = Some((h.name, h.filename, Vec::new())),
            StreamEvent::FileData(d) => current.as_mut()?.2.extend_from_slice(&d),
            StreamEvent::FileEnd => {
                let f = current.take()?;
                params.push((f.0.clone(), f.2.clone()));
                files.push(f);
            }
        }
    }
    params.sort();
    files.sort();
    Some((params, files))
}

proptest! {
    #[test]
    fn streamed_multipart_matches_whole_structured((boundary, body) in structured_multipart(), piece in 1usize..40) {
        prop_assert_eq!(streamed(&boundary, &body, piece), whole(&boundary, &body));
    }

    #[test]
    fn streamed_multipart_matches_whole_mangled((boundary, body) in mangled_multipart(), piece in 1usize..40) {
        prop_assert_eq!(streamed(&boundary, &body, piece), whole(&boundary, &body));
    }

    #[test]
    fn streamed_multipart_round_trip(
        parts in proptest::collection::vec(("[a-z]{1,8}", proptest::collection::vec(any::<u8>(), 0..300)), 1..5),
        piece in 1usize..100,
    ) {
        let pairs: Vec<(&str, &[u8])> = parts.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
        let (ct, body) = encode_multipart(&pairs);
        let b = multipart_boundary(&ct).unwrap_or_default();
        prop_assert_eq!(streamed(&b, &body, piece), whole(&b, &body));
    }

    #[test]
    fn multipart_round_trip(pairs in proptest::collection::vec(
        (field_name(), proptest::collection::vec(any::<u8>(), 0..300)), 0..8)
    ) {
        let refs: Vec<(&str, &[u8])> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
        let (ct, body) = encode_multipart(&refs);
        let decoded = decode_body(Some(&ct), &body);
        prop_assert_eq!(decoded, Ok(to_params(&pairs)));
        let full = decode_body_full(Some(&ct), &body).unwrap();
        prop_assert!(full.files.is_empty());
    }

    #[test]
    fn multipart_round_trip_lf_only_text(pairs in proptest::collection::vec(
        ("[a-z_]{1,10}", "\\PC{0,100}"), 0..6)
    ) {
        // Same body with bare LF line endings must decode identically.
        let refs: Vec<(&str, &[u8])> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_bytes())).collect();
        let (ct, body) = encode_multipart(&refs);
        let lf: Vec<u8> = body.into_iter().filter(|&b| b != b'\r').collect();
        prop_assert_eq!(decode_body(Some(&ct), &lf), Ok(to_params(&pairs)));
    }

    #[test]
    fn raw_multipart_round_trip(
        boundary in "[A-Za-z0-9'()+_,./:=?-]{1,70}",
        parts in proptest::collection::vec(
            ("[a-zA-Z0-9_.-]{1,12}", proptest::collection::vec(any::<u8>(), 0..200), proptest::option::of("[a-z]{1,8}\\.bin")),
            0..6),
    ) {
        // curl/browser style: no transfer encoding, binary data verbatim.
        let delim = format!("--{boundary}");
        for (_, data, _) in &parts {
            prop_assume!(!data.windows(delim.len()).any(|w| w == delim.as_bytes()));
        }
        let mut body = b"preamble\r\n".to_vec();
        for (name, data, filename) in &parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match filename {
                Some(f) => body.extend_from_slice(format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes()),
                None => body.extend_from_slice(format!(
                    "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
            }
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\nepilogue").as_bytes());
        let ct = format!("multipart/form-data; boundary=\"{boundary}\"");
        let m = decode_body_full(Some(&ct), &body).unwrap();
        let expected: Vec<(&str, &[u8])> = parts.iter().map(|(n, d, _)| (n.as_str(), d.as_slice())).collect();
        prop_assert_eq!(m.params, to_params(&expected));
        let files: Vec<(&str, Option<&str>, &[u8])> = m.files.iter()
            .map(|f| (f.name.as_str(), f.filename.as_deref(), f.data.as_slice())).collect();
        let expected_files: Vec<(&str, Option<&str>, &[u8])> = parts.iter()
            .filter(|(_, _, f)| f.is_some())
            .map(|(n, d, f)| (n.as_str(), f.as_deref(), d.as_slice())).collect();
        prop_assert_eq!(files, expected_files);
    }

    #[test]
    fn urlencoded_round_trip(pairs in proptest::collection::vec((field_name(), field_name()), 0..8)) {
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let body = encode_urlencoded(&refs);
        prop_assert_eq!(parse_urlencoded(body.as_bytes()), to_params(&pairs));
        prop_assert_eq!(
            decode_body(Some("application/x-www-form-urlencoded"), body.as_bytes()),
            Ok(to_params(&pairs))
        );
    }

    #[test]
    fn json_string_object_round_trip(pairs in proptest::collection::vec((any::<String>(), any::<String>()), 0..8)) {
        let members: Vec<String> = pairs.iter()
            .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), serde_json::to_string(v).unwrap()))
            .collect();
        let body = format!("{{{}}}", members.join(","));
        prop_assert_eq!(decode_body(Some("application/json"), body.as_bytes()), Ok(to_params(&pairs)));
    }

    #[test]
    fn decode_body_never_panics(
        ct in proptest::option::of(prop_oneof![
            any::<String>(),
            Just("application/json".to_owned()),
            Just("application/x-www-form-urlencoded".to_owned()),
            "multipart/form-data; boundary=\\PC{0,20}",
            "multipart/form-data; boundary=\"[^\"]{0,20}\"",
        ]),
        body in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let _ = decode_body(ct.as_deref(), &body);
        let _ = decode_body_full(ct.as_deref(), &body);
        if let Some(ct) = &ct {
            let _ = multipart_boundary(ct);
        }
    }

    #[test]
    fn parse_multipart_never_panics_random(boundary in any::<String>(), body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_multipart(&boundary, &body);
    }

    #[test]
    fn parse_multipart_never_panics_structured((boundary, body) in structured_multipart()) {
        let _ = parse_multipart(&boundary, &body);
        let ct = format!("multipart/form-data; boundary=\"{boundary}\"");
        let _ = decode_body_full(Some(&ct), &body);
    }

    #[test]
    fn parse_multipart_never_panics_mangled((boundary, body) in mangled_multipart()) {
        let _ = parse_multipart(&boundary, &body);
    }

    #[test]
    fn parsers_never_panic_on_strings(s in any::<String>(), bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_oauth_header(&s);
        let _ = parse_oauth_header(&format!("OAuth {s}"));
        let _ = parse_api_key(&s);
        let _ = parse_urlencoded(&bytes);
        let _ = parse_urlencoded(s.as_bytes());
    }

    #[test]
    fn oauth_header_fragments_never_panic(items in proptest::collection::vec(prop_oneof![
        Just("oauth_consumer_key=\"ck\"".to_owned()),
        Just("oauth_token=tk".to_owned()),
        Just("oauth_signature_method=\"PLAINTEXT\"".to_owned()),
        "oauth_signature=\"\\PC{0,10}\"",
        "oauth_timestamp=\"[-0-9a]{0,22}\"",
        "oauth_nonce=\\PC{0,5}",
        "\\PC{0,10}",
    ], 0..8)) {
        let h = format!("OAuth {}", items.join(","));
        if let Ok(c) = parse_oauth_header(&h) {
            let _ = plaintext_signature_matches(&c, "", "secret");
        }
    }

    #[test]
    fn oauth_round_trip(
        ck in "[ -~]{0,30}",
        tk in "[ -~]{0,30}",
        secret in "\\PC{0,30}",
        other in "\\PC{0,30}",
        nonce in "[ -~]{0,20}",
        timestamp in any::<i64>(),
    ) {
        let h = build_oauth_header(&ck, &tk, &secret, &nonce, timestamp);
        // Like oauthlib: every quoted value uses only unreserved chars and
        // escapes, so naive comma-splitting parsers (MAAS's) read it too.
        for item in h.trim_start_matches("OAuth ").split(", ") {
            let (_, v) = item.split_once('=').unwrap();
            let inner = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap();
            prop_assert!(inner.bytes().all(|b| b.is_ascii_alphanumeric() || b"%-._~".contains(&b)), "{}", h);
        }
        let c = parse_oauth_header(&h).unwrap();
        prop_assert_eq!(&c.consumer_key, &ck);
        prop_assert_eq!(&c.token_key, &tk);
        prop_assert_eq!(c.nonce.as_deref(), Some(nonce.as_str()));
        prop_assert_eq!(c.timestamp, Some(timestamp));
        prop_assert_eq!(c.signature_method.as_str(), "PLAINTEXT");
        prop_assert!(plaintext_signature_matches(&c, "", &secret));
        prop_assert_eq!(plaintext_signature_matches(&c, "", &other), other == secret);
        let changed = format!("{secret}x");
        prop_assert!(!plaintext_signature_matches(&c, "", &changed));
        prop_assert!(!plaintext_signature_matches(&c, "x", &secret));
    }

    #[test]
    fn api_key_round_trip(ck in "[A-Za-z0-9]{1,20}", tk in "[A-Za-z0-9]{1,20}", ts in "[A-Za-z0-9]{1,32}") {
        let key = parse_api_key(&format!("{ck}:{tk}:{ts}")).unwrap();
        prop_assert_eq!(&key.consumer_key, &ck);
        prop_assert_eq!(&key.token_key, &tk);
        prop_assert_eq!(&key.token_secret, &ts);
        prop_assert_eq!(key.consumer_secret.as_str(), "");
    }
}
