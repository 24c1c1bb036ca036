//! Fuzz-style property tests: one per parser, on random bytes and on mutated valid packets.

use ingot_tftp::packet::{self, Packet};
use ingot_tftp::{negotiate, sanitize_path, ErrorCode, Limits, Mode, Request};
use proptest::prelude::*;

fn valid_packet() -> impl Strategy<Value = Vec<u8>> {
    let name = "[a-zA-Z0-9_./\\\\-]{1,40}";
    let opts = proptest::collection::vec(("[a-zA-Z]{1,12}", "[0-9]{0,8}"), 0..6);
    prop_oneof![
        (
            name,
            prop_oneof![Just("octet"), Just("netascii"), Just("OCTET")],
            opts.clone(),
            1u16..=2
        )
            .prop_map(|(f, m, o, op)| {
                let o: Vec<(&str, &str)> =
                    o.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                packet::encode_request(op, &f, m, &o)
            }),
        (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..600))
            .prop_map(|(b, d)| packet::encode_data(b, &d)),
        any::<u16>().prop_map(|b| packet::encode_ack(b).to_vec()),
        (0u16..9, "[ -~]{0,60}")
            .prop_map(|(c, m)| packet::encode_error(ErrorCode::from_u16(c), &m)),
        opts.prop_map(|o| {
            let o: Vec<(&str, &str)> = o.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            packet::encode_oack(&o)
        }),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Delete(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
    ]
}

fn mutate(mut v: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        let n = v.len();
        match *m {
            Mutation::Flip(i, b) if n > 0 => v[i % n] ^= b,
            Mutation::Truncate(i) => v.truncate(i % (n + 1)),
            Mutation::Insert(i, b) => v.insert(i % (n + 1), b),
            Mutation::Delete(i) if n > 0 => {
                v.remove(i % n);
            }
            _ => {}
        }
    }
    v
}

fn exercise_all(bytes: &[u8]) {
    let _ = packet::parse_packet(bytes);
    let _ = packet::parse_ack(bytes);
    let _ = packet::parse_request(bytes);
    let _ = packet::parse_error(bytes);
    let opts = packet::parse_options(bytes);
    let _ = negotiate(&opts, Limits::default(), Some(1 << 20));
    let _ = packet::to_netascii(bytes);
    if let Ok(Packet::Rrq(r)) = packet::parse_packet(bytes) {
        check_sanitized(r.filename);
        let n = negotiate(&r.options, Limits::default(), None);
        assert!((8..=1468).contains(&n.blksize) || n.blksize == 512);
        assert!((1..=16).contains(&n.windowsize));
    }
}

fn check_sanitized(p: &str) {
    if let Ok(rel) = sanitize_path(p) {
        assert!(rel.is_relative(), "{p:?} -> {rel:?}");
        assert!(
            rel.components()
                .all(|c| matches!(c, std::path::Component::Normal(_))),
            "{p:?} -> {rel:?}"
        );
        assert!(!rel.as_os_str().is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        exercise_all(&bytes);
    }

    #[test]
    fn parsers_never_panic_on_mutated_valid_packets(p in valid_packet(), ms in proptest::collection::vec(mutation(), 1..6)) {
        exercise_all(&mutate(p, &ms));
    }

    #[test]
    fn rrq_like_inputs_never_panic(tail in proptest::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..200), op in 0u16..8) {
        let mut v = op.to_be_bytes().to_vec();
        v.extend(tail);
        exercise_all(&v);
    }

    #[test]
    fn valid_packets_round_trip(p in valid_packet()) {
        let parsed = packet::parse_packet(&p);
        // requests with unknown-looking modes are generated only from the valid set
        let parsed = parsed.expect("valid packet must parse");
        // re-encoding a parsed valid packet is stable (mode case normalises once)
        let again = parsed.encode();
        prop_assert_eq!(packet::parse_packet(&again).unwrap().encode(), again);
    }

    #[test]
    fn sanitize_never_panics_or_escapes(s in "(\\.\\.|\\.|/|\\\\|[a-z]{1,3}|\\x00|\n){0,12}") {
        check_sanitized(&s);
        if s.split(['/', '\\']).any(|c| c == "..") {
            prop_assert!(sanitize_path(&s).is_err(), "{:?} accepted", s);
        }
    }

    #[test]
    fn sanitize_arbitrary_strings(s in any::<String>()) {
        check_sanitized(&s);
    }

    #[test]
    fn negotiate_arbitrary_options(o in proptest::collection::vec(("(?i)(blksize|tsize|timeout|windowsize|[a-z]{1,5})", "[0-9]{0,25}|-?[0-9]{1,3}|.{0,5}"), 0..8),
                                   max_blk in any::<u16>(), max_win in any::<u16>(), size in proptest::option::of(any::<u64>())) {
        let o: Vec<(&str, &str)> = o.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let n = negotiate(&o, Limits { max_blksize: max_blk, max_windowsize: max_win }, size);
        prop_assert!(n.blksize >= 8 && n.blksize <= 65464);
        prop_assert!(n.blksize <= max_blk.max(8) || n.blksize == 512);
        prop_assert!(n.windowsize >= 1 && n.windowsize <= max_win.max(1));
    }
}

#[test]
fn request_round_trip_example() {
    let r = Request {
        filename: "a/b",
        mode: Mode::Octet,
        options: vec![("blksize", "1468")],
    };
    let bytes = Packet::Rrq(r.clone()).encode();
    assert_eq!(packet::parse_packet(&bytes), Ok(Packet::Rrq(r)));
}
