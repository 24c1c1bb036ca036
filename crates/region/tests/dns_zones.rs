//! The zones the racks will serve, built by the region from what it holds: a machine's static
//! address in its domain and under its subnet's reverse zone, DNS resources and records in
//! theirs, a subnet without reverse DNS left out, and a name clash reported.

mod common;
use common::{lab, params};
use ingot_core::dns_zone::{RData, Rr};

#[tokio::test]
async fn zones_from_machines_resources_and_records() {
    let l = lab().await;
    let r = &l.region;
    let subnet = r
        .create_subnet(
            &l.admin,
            &params(&[("cidr", "10.60.0.0/24"), ("rdns_mode", "1")]),
        )
        .await
        .unwrap();
    r.create_subnet(
        &l.admin,
        &params(&[("cidr", "10.61.0.0/24"), ("rdns_mode", "0")]),
    )
    .await
    .unwrap();
    // A New machine (not commissioning: its interfaces may be linked).
    let m = ingot_region::forms::create_machine(
        r,
        &ingot_region::Principal::User(l.admin.clone()),
        &params(&[
            ("architecture", "amd64/generic"),
            ("mac_addresses", "52:54:00:60:00:01"),
            ("commission", "false"),
        ]),
    )
    .await
    .unwrap()
    .machine;
    let iface = m.interfaces[0].id;
    r.link_subnet(
        &l.admin,
        &m.system_id,
        iface,
        &params(&[
            ("mode", "static"),
            ("subnet", &subnet.id.to_string()),
            ("ip_address", "10.60.0.10"),
        ]),
    )
    .await
    .unwrap();
    r.create_domain(&l.admin, &params(&[("name", "example.com"), ("ttl", "90")]))
        .await
        .unwrap();
    r.create_dnsresource(
        &l.admin,
        &params(&[
            ("fqdn", "www.example.com"),
            ("ip_addresses", "10.60.0.80 10.61.0.5"),
        ]),
    )
    .await
    .unwrap();
    r.create_dns_record(
        &l.admin,
        &params(&[
            ("fqdn", "example.com"),
            ("rrtype", "MX"),
            ("rrdata", "10 www.example.com"),
        ]),
    )
    .await
    .unwrap();

    let built = r.dns_zones(42, "region.maas").await.unwrap();
    let zone = |o: &str| {
        built
            .zones
            .iter()
            .find(|z| z.origin == o)
            .unwrap_or_else(|| panic!("no zone {o}: {built:#?}"))
    };
    let host = format!("{}.maas", m.hostname);
    let maas = zone("maas");
    assert!(
        matches!(maas.records[0].data, RData::Soa { serial: 42, .. }),
        "{maas:?}"
    );
    assert!(maas.records.contains(&Rr {
        owner: host.clone(),
        ttl: 30,
        data: RData::A("10.60.0.10".parse().unwrap()),
    }));
    let ex = zone("example.com");
    assert!(ex.records.contains(&Rr {
        owner: "www.example.com".into(),
        ttl: 90,
        data: RData::A("10.61.0.5".parse().unwrap()),
    }));
    assert!(ex.records.contains(&Rr {
        owner: "example.com".into(),
        ttl: 90,
        data: RData::Mx(10, "www.example.com".into()),
    }));
    let rev = zone("0.60.10.in-addr.arpa");
    assert!(rev.records.contains(&Rr {
        owner: "10.0.60.10.in-addr.arpa".into(),
        ttl: 30,
        data: RData::Ptr(host.clone()),
    }));
    assert!(rev.records.contains(&Rr {
        owner: "80.0.60.10.in-addr.arpa".into(),
        ttl: 90,
        data: RData::Ptr("www.example.com".into()),
    }));
    assert!(!built
        .zones
        .iter()
        .any(|z| z.origin == "0.61.10.in-addr.arpa"));
    assert!(built.problems.is_empty(), "{:?}", built.problems);
    // The default TTL is the setting's.
    r.set_config(&l.admin, "default_dns_ttl", "300")
        .await
        .unwrap();
    let built = r.dns_zones(43, "region.maas").await.unwrap();
    let maas = built.zones.iter().find(|z| z.origin == "maas").unwrap();
    assert!(maas.records.iter().any(|x| x.owner == host && x.ttl == 300));
}

/// A machine that has only a DHCP lease is named by it (from the rack's ACK) until the rack
/// reports its RELEASE; a machine with a configured address is named by that alone.
#[tokio::test]
async fn leases_name_machines_without_an_address() {
    use ingot_core::rack::{RackEvent, RackLease};
    let l = lab().await;
    let r = &l.region;
    let m = common::machine(&l, "52:54:00:61:00:01").await;
    let lease = |seconds: u32| RackEvent {
        mac: "52:54:00:61:00:01".into(),
        hop: "dhcp".into(),
        detail: "REQUEST -> Acked 10.62.0.100".into(),
        lease: Some(RackLease {
            ip: "10.62.0.100".into(),
            seconds,
        }),
    };
    let a_records = |built: &ingot_core::dns_zone::Built| -> Vec<(String, String)> {
        built
            .zones
            .iter()
            .flat_map(|z| z.records.iter())
            .filter_map(|rr| match &rr.data {
                RData::A(ip) => Some((rr.owner.clone(), ip.to_string())),
                _ => None,
            })
            .collect()
    };
    let before = r.rack_dns(None).await.unwrap().unwrap().serial;
    r.record_rack_events(vec![lease(3600)], None).await.unwrap();
    let built = r.dns_zones(1, "rack.maas").await.unwrap();
    let name = format!("{}.maas", m.hostname);
    assert_eq!(
        a_records(&built),
        [(name.clone(), "10.62.0.100".to_string())]
    );
    let after = r
        .rack_dns(Some(before))
        .await
        .unwrap()
        .expect("the serial moved");
    assert!(after.serial > before);
    // A renewal (same address) changes nothing the racks need.
    r.record_rack_events(vec![lease(3600)], None).await.unwrap();
    assert!(r.rack_dns(Some(after.serial)).await.unwrap().is_none());
    // Given back: gone.
    r.record_rack_events(vec![lease(0)], None).await.unwrap();
    assert!(a_records(&r.dns_zones(1, "rack.maas").await.unwrap()).is_empty());
}

/// A machine renamed onto a DNS resource's name: both are served, and the machine's events say
/// so, once however often the zones are rebuilt.
#[tokio::test]
async fn a_clash_is_in_the_machines_events() {
    let l = lab().await;
    let r = &l.region;
    let subnet = r
        .create_subnet(&l.admin, &params(&[("cidr", "10.63.0.0/24")]))
        .await
        .unwrap();
    let m = ingot_region::forms::create_machine(
        r,
        &ingot_region::Principal::User(l.admin.clone()),
        &params(&[
            ("architecture", "amd64/generic"),
            ("mac_addresses", "52:54:00:63:00:01"),
            ("commission", "false"),
        ]),
    )
    .await
    .unwrap()
    .machine;
    r.link_subnet(
        &l.admin,
        &m.system_id,
        m.interfaces[0].id,
        &params(&[
            ("mode", "static"),
            ("subnet", &subnet.id.to_string()),
            ("ip_address", "10.63.0.10"),
        ]),
    )
    .await
    .unwrap();
    r.create_dnsresource(
        &l.admin,
        &params(&[("fqdn", "taken.maas"), ("ip_addresses", "10.63.0.20")]),
    )
    .await
    .unwrap();
    r.update_machine(&l.admin, &m.system_id, &params(&[("hostname", "taken")]))
        .await
        .unwrap();
    let dns = r.rack_dns(None).await.unwrap().unwrap();
    assert!(
        dns.problems
            .iter()
            .any(|p| p.contains("taken.maas is claimed by machine")),
        "{:?}",
        dns.problems
    );
    // Another change, another build: still one event.
    r.create_dnsresource(
        &l.admin,
        &params(&[("fqdn", "other.maas"), ("ip_addresses", "10.63.0.21")]),
    )
    .await
    .unwrap();
    r.rack_dns(Some(dns.serial))
        .await
        .unwrap()
        .expect("a new serial");
    let evs = r
        .events(
            std::slice::from_ref(&m.system_id),
            &["ERROR"],
            None,
            None,
            100,
        )
        .await
        .unwrap();
    let dns_events: Vec<_> = evs
        .iter()
        .filter(|e| {
            e.description
                .starts_with("DNS: taken.maas is claimed by machine")
        })
        .collect();
    assert_eq!(dns_events.len(), 1, "{evs:?}");
    // …and once on the netboot timeline of the MAC it boots from.
    let hops = r
        .netboot_timeline(&l.admin, Some("52:54:00:63:00:01"), None)
        .await
        .unwrap();
    let dns_hops: Vec<_> = hops.iter().filter(|h| h.kind == "dns").collect();
    assert_eq!(dns_hops.len(), 1, "{hops:?}");
    assert!(
        dns_hops[0]
            .detail
            .starts_with("DNS: taken.maas is claimed by machine"),
        "{hops:?}"
    );
}

/// A rack's long poll: nothing changes, and the region says so when the wait is over; a change
/// committed meanwhile (here by another task) is answered at once, not at the wait's end.
#[tokio::test]
async fn a_long_poll_ends_with_the_change() {
    use std::time::{Duration, Instant};
    let l = lab().await;
    let r = &l.region;
    let serial = r.rack_dns(None).await.unwrap().unwrap().serial;
    let t = Instant::now();
    let none = r
        .rack_dns_waiting(Some(serial), Duration::from_millis(300))
        .await
        .unwrap();
    assert!(none.is_none());
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );

    let (r2, admin) = (r.clone(), l.admin.clone());
    let change = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        r2.create_dnsresource(
            &admin,
            &params(&[("fqdn", "late.maas"), ("ip_addresses", "10.64.0.20")]),
        )
        .await
        .unwrap();
    });
    let t = Instant::now();
    let dns = r
        .rack_dns_waiting(Some(serial), Duration::from_secs(30))
        .await
        .unwrap()
        .expect("the change");
    change.await.unwrap();
    assert!(dns.serial > serial);
    assert!(
        dns.zones
            .iter()
            .flat_map(|z| z.records.iter())
            .any(|rr| rr.owner.starts_with("late.maas")),
        "{:?}",
        dns.zones
    );
    // Well before the 30 s: the change, not the wait's end, ended it.
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
}
