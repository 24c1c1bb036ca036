//! Any request body under each content type the API accepts, and any Authorization header:
//! the decoders never panic.
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
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = ingot_wire::parse_oauth_header(s);
        let _ = ingot_wire::parse_api_key(s);
        let _ = ingot_wire::multipart_boundary(s);
    }
});
