//! Any datagram as a DNS query to the rack's DNS (hickory's decoding, Ingot's choice of
//! catalog by client, the zone lookup, the encoding of the answer), from a trusted and from an
//! untrusted client: never a panic, at most one answer, and never a large answer — the zone is
//! small, so an answer of more than 4 KiB would be amplification.
#![no_main]
use ingot_core::dns_zone::{RData as D, Rr, Zone};
use ingot_core::rack::RackDns;
use ingot_dns::Dns;
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::sync::OnceLock;

fn rr(owner: &str, data: D) -> Rr {
    Rr {
        owner: owner.into(),
        ttl: 30,
        data,
    }
}

fn soa(origin: &str) -> Rr {
    rr(
        origin,
        D::Soa {
            mname: "rack.maas".into(),
            rname: format!("nomail.{origin}"),
            serial: 42,
            refresh: 600,
            retry: 1800,
            expire: 604_800,
            minimum: 30,
        },
    )
}

fn served() -> &'static (tokio::runtime::Runtime, Dns) {
    static S: OnceLock<(tokio::runtime::Runtime, Dns)> = OnceLock::new();
    S.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let dns = Dns::default();
        dns.load(&RackDns {
            serial: 42,
            zones: vec![
                Zone {
                    origin: "maas".into(),
                    records: vec![
                        soa("maas"),
                        rr("maas", D::Ns("rack.maas".into())),
                        rr("rack.maas", D::A("10.0.0.1".parse().unwrap())),
                        rr("web.maas", D::A("10.0.0.5".parse().unwrap())),
                        rr("web.maas", D::Aaaa("2001:db8::5".parse().unwrap())),
                        rr("web.maas", D::Sshfp(4, 2, "abcdef".into())),
                        rr("www.maas", D::Cname("web.maas".into())),
                        rr("maas", D::Mx(10, "web.maas".into())),
                        rr("maas", D::Txt("v=spf1 mx -all".into())),
                        rr("_http._tcp.maas", D::Srv(0, 5, 80, "web.maas".into())),
                    ],
                },
                Zone {
                    origin: "0.0.10.in-addr.arpa".into(),
                    records: vec![
                        soa("0.0.10.in-addr.arpa"),
                        rr("0.0.10.in-addr.arpa", D::Ns("rack.maas".into())),
                        rr("5.0.0.10.in-addr.arpa", D::Ptr("web.maas".into())),
                    ],
                },
            ],
            trusted: vec!["10.0.0.0/24".into()],
            ..Default::default()
        });
        (rt, dns)
    })
}

fuzz_target!(|data: &[u8]| {
    let (rt, dns) = served();
    for src in ["10.0.0.9:5353", "192.0.2.9:5353"] {
        let src: SocketAddr = src.parse().unwrap();
        let answers = rt.block_on(dns.answer(data, src));
        assert!(answers.len() <= 1, "{} answers to one query", answers.len());
        for a in &answers {
            assert!(
                a.len() <= 4096,
                "an answer of {} bytes to {} bytes",
                a.len(),
                data.len()
            );
        }
    }
});
