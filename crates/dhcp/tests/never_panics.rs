//! "Never panics" properties for every parser fed from outside: the DHCP request handler
//! (dhcproto decode + our option extraction + reply building) and the lease-log parser.

use std::net::Ipv4Addr;

use dhcproto::v4::{Architecture, DhcpOption, Message, MessageType};
use dhcproto::Encodable;
use ingot_dhcp::lease::{parse_log, LeaseDb, LeaseRecord};
use ingot_dhcp::{Action, BootConfig, Config, Engine, HwAddr, Mode, Range, SubnetConfig};
use proptest::prelude::*;

fn engine(mode: Mode) -> Engine {
    let mut c = Config::new(
        Ipv4Addr::new(10, 0, 0, 1),
        SubnetConfig {
            cidr: "10.0.0.0/16".parse().unwrap(),
            ranges: vec![Range {
                start: Ipv4Addr::new(10, 0, 1, 1),
                end: Ipv4Addr::new(10, 0, 1, 20),
            }],
            router: Some(Ipv4Addr::new(10, 0, 0, 254)),
            dns: vec![Ipv4Addr::new(10, 0, 0, 53)],
            lease_time: 600,
            next_server: None,
            domain_name: None,
        },
    );
    c.mode = mode;
    c.boot = Some(BootConfig::new(
        Ipv4Addr::new(10, 0, 0, 1),
        "http://10.0.0.1/boot/",
        "http://10.0.0.1/ipxe?mac={mac}",
    ));
    Engine::new(c, LeaseDb::new()).unwrap()
}

fn valid_packets() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, t) in [
        MessageType::Discover,
        MessageType::Request,
        MessageType::Release,
        MessageType::Decline,
        MessageType::Inform,
    ]
    .into_iter()
    .enumerate()
    {
        let mut m = Message::new(
            Ipv4Addr::new(10, 0, 1, 3),
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            if i % 2 == 0 {
                Ipv4Addr::new(10, 0, 0, 2)
            } else {
                Ipv4Addr::UNSPECIFIED
            },
            &[0x52, 0x54, 0, 0, 0, i as u8],
        );
        m.opts_mut().insert(DhcpOption::MessageType(t));
        m.opts_mut()
            .insert(DhcpOption::RequestedIpAddress(Ipv4Addr::new(10, 0, 1, 3)));
        m.opts_mut()
            .insert(DhcpOption::ServerIdentifier(Ipv4Addr::new(10, 0, 0, 1)));
        m.opts_mut()
            .insert(DhcpOption::ClientSystemArchitecture(Architecture::from(
                i as u16 * 4,
            )));
        m.opts_mut().insert(DhcpOption::UserClass(b"iPXE".to_vec()));
        m.opts_mut().insert(DhcpOption::ClassIdentifier(
            b"PXEClient:Arch:00007".to_vec(),
        ));
        out.push(m.to_vec().unwrap());
    }
    out
}

#[test]
fn hlen_over_16_does_not_panic() {
    // dhcproto's Message::chaddr() slices chaddr[..hlen] and panics for hlen > 16.
    for mut p in valid_packets() {
        for hlen in [0u8, 17, 100, 255] {
            p[2] = hlen;
            assert_eq!(engine(Mode::AllowEnlistment).handle(&p, 1000), Action::None);
        }
    }
}

#[test]
fn truncated_valid_packets_do_not_panic() {
    for p in valid_packets() {
        let mut e = engine(Mode::AllowEnlistment);
        for n in 0..p.len() {
            let _ = e.handle(&p[..n], 1000);
        }
        // the untruncated DISCOVER/REQUEST are answered
        let _ = e.handle(&p, 1000);
    }
    let mut e = engine(Mode::AllowEnlistment);
    assert!(matches!(
        e.handle(&valid_packets()[0], 1000),
        Action::Reply { .. }
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..700), known in any::<bool>()) {
        let mut e = engine(if known { Mode::KnownOnly } else { Mode::AllowEnlistment });
        let _ = e.handle(&data, 1000);
    }

    #[test]
    fn mutated_valid_packets_never_panic(
        which in 0usize..5,
        muts in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..12),
        cut in any::<usize>(),
        extra in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut p = valid_packets().swap_remove(which);
        for (pos, b) in muts {
            let i = pos % p.len();
            p[i] = b;
        }
        p.extend(extra);
        let cut = cut % (p.len() + 1);
        let mut e = engine(Mode::AllowEnlistment);
        let _ = e.handle(&p, 1000);
        let _ = e.handle(&p[..cut], 1000);
    }

    #[test]
    fn lease_log_parser_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let (recs, stats, good) = parse_log(&data);
        prop_assert!(good <= data.len());
        prop_assert_eq!(stats.records, recs.len());
        let _ = LeaseDb::from_records(&recs);
    }

    #[test]
    fn mutated_lease_logs_recover_a_prefix(
        n in 1usize..30,
        muts in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        cut in any::<usize>(),
    ) {
        let mut text = String::new();
        for i in 0..n {
            LeaseRecord::Bound {
                mac: HwAddr::eth([2, 0, 0, 0, 0, i as u8]),
                ip: Ipv4Addr::new(10, 0, 1, i as u8),
                expires: 5000 + i as u64,
            }
            .encode_into(&mut text);
        }
        let mut data = text.into_bytes();
        let cut = cut % (data.len() + 1);
        data.truncate(cut);
        let clean = data.is_empty() || muts.is_empty();
        for (pos, b) in muts {
            if !data.is_empty() {
                let i = pos % data.len();
                data[i] = b;
            }
        }
        let (recs, stats, _) = parse_log(&data);
        prop_assert!(recs.len() <= n);
        if clean {
            // an unmutated, truncated log yields exactly its complete lines
            prop_assert_eq!(recs.len(), data.iter().filter(|&&b| b == b'\n').count());
            prop_assert_eq!(stats.corrupt, 0);
        }
    }
}
