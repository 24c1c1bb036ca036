//! Any datagram as a TFTP packet, its options negotiated, and any file name through the path
//! sanitizer: never a panic, never a path that leaves the root.
#![no_main]
use ingot_tftp::{negotiate, packet, sanitize_path, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ingot_tftp::Packet::Rrq(req)) | Ok(ingot_tftp::Packet::Wrq(req)) =
        packet::parse_packet(data)
    {
        let _ = negotiate(&req.options, Limits::default(), Some(1 << 30));
        let _ = negotiate(&req.options, Limits::default(), None);
        if let Ok(p) = sanitize_path(&req.filename) {
            assert!(
                p.components().all(|c| matches!(c, std::path::Component::Normal(_))),
                "{:?} -> {p:?} escapes the root",
                req.filename
            );
        }
    }
    let _ = packet::parse_ack(data);
    let _ = packet::parse_options(data);
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(p) = sanitize_path(s) {
            assert!(
                p.components().all(|c| matches!(c, std::path::Component::Normal(_))),
                "{s:?} -> {p:?} escapes the root"
            );
        }
    }
});
