//! Any request body under each content type the API accepts, and any Authorization header:
//! the decoders never panic. The streamed multipart decoder, fed the body in pieces of a
//! size the first byte chooses, gives what the whole-body parser gives (or fails with it).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for ct in [
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=XyZ"),
        Some("application/json"),
        None,
    ] {
        let _ = ingot_wire::decode_body_full(ct, data);
    }
    if let Some((&n, body)) = data.split_first() {
        assert_eq!(streamed(body, usize::from(n % 64) + 1), whole(body));
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = ingot_wire::parse_oauth_header(s);
        let _ = ingot_wire::parse_api_key(s);
        let _ = ingot_wire::multipart_boundary(s);
    }
});

type Decoded = (
    Vec<(String, Vec<u8>)>,
    Vec<(String, Option<String>, Vec<u8>)>,
);

/// Every parameter and every file of a body, sorted.
fn whole(body: &[u8]) -> Option<Decoded> {
    let m = ingot_wire::parse_multipart("XyZ", body).ok()?;
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

/// The same through `MultipartStream` (streamed files count as parameters too).
fn streamed(body: &[u8], piece: usize) -> Option<Decoded> {
    use ingot_wire::StreamEvent;
    let mut s = ingot_wire::MultipartStream::new("XyZ", usize::MAX).ok()?;
    let mut events = Vec::new();
    for c in body.chunks(piece) {
        events.extend(s.feed(c).ok()?);
    }
    let (last, fields) = s.finish().ok()?;
    events.extend(last);
    let mut files: Vec<_> = fields
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
