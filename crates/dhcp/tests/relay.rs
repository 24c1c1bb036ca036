//! Integration tests: a relay-agent client built with dhcproto talks to the real server over
//! 127.0.0.1 (replies go to giaddr:relay_reply_port, like a real relay on port 67).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dhcproto::v4::{Architecture, DhcpOption, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Encodable};
use ingot_dhcp::engine::Stats;
use ingot_dhcp::lease::{LeaseDb, LeaseLog};
use ingot_dhcp::{
    BootConfig, Config, DhcpEvent, DhcpServer, EventKind, HwAddr, Mode, Range, Reservation,
    SubnetConfig,
};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const GIADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

fn base_config(lease_file: Option<std::path::PathBuf>) -> Config {
    let mut c = Config::new(
        SERVER_IP,
        SubnetConfig {
            cidr: "127.0.0.0/16".parse().unwrap(),
            ranges: vec![Range {
                start: Ipv4Addr::new(127, 0, 100, 1),
                end: Ipv4Addr::new(127, 0, 109, 254),
            }],
            router: Some(Ipv4Addr::new(127, 0, 0, 254)),
            dns: vec![Ipv4Addr::new(127, 0, 0, 53)],
            lease_time: 600,
            next_server: None,
            domain_name: None,
        },
    );
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.lease_file = lease_file;
    c.boot = Some(BootConfig::new(
        Ipv4Addr::new(127, 0, 0, 1),
        "http://127.0.0.1:5248/boot/",
        "http://127.0.0.1:5248/ipxe/boot.ipxe?mac=${net0/mac}",
    ));
    c
}

struct Harness {
    relay: UdpSocket,
    server: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Stats>>,
}

impl Harness {
    /// Binds the relay socket first so the server knows where relayed replies go.
    async fn start(mut cfg: Config, hook: Option<ingot_dhcp::EventHook>) -> Harness {
        let relay = UdpSocket::bind((GIADDR, 0)).await.unwrap();
        cfg.relay_reply_port = relay.local_addr().unwrap().port();
        let mut server = DhcpServer::bind(cfg).unwrap();
        if let Some(h) = hook {
            server = server.with_event_hook(h);
        }
        let addr = server.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            server
                .run(async {
                    let _ = rx.await;
                })
                .await
                .unwrap()
        });
        Harness {
            relay,
            server: addr,
            stop: Some(tx),
            task: Some(task),
        }
    }

    async fn stop(mut self) -> Stats {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap()
    }

    async fn send(&self, m: &Message) {
        self.relay
            .send_to(&m.to_vec().unwrap(), self.server)
            .await
            .unwrap();
    }

    async fn recv(&self, wait: Duration) -> Option<Message> {
        let mut buf = [0u8; 1500];
        match tokio::time::timeout(wait, self.relay.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => Some(Message::from_bytes(&buf[..n]).unwrap()),
            _ => None,
        }
    }

    async fn exchange(&self, m: &Message) -> Option<Message> {
        self.send(m).await;
        let r = self.recv(Duration::from_secs(2)).await?;
        assert_eq!(r.xid(), m.xid());
        assert_eq!(r.opcode(), Opcode::BootReply);
        Some(r)
    }
}

/// An event hook that keeps every event, and where they are kept.
fn collected() -> (Arc<Mutex<Vec<DhcpEvent>>>, ingot_dhcp::EventHook) {
    let events = Arc::new(Mutex::new(Vec::<DhcpEvent>::new()));
    let ev = events.clone();
    (events, Arc::new(move |e| ev.lock().unwrap().push(e)))
}

fn mac(n: u32) -> [u8; 6] {
    let b = n.to_be_bytes();
    [0x52, 0x54, b[0], b[1], b[2], b[3]]
}

fn relayed(mac: [u8; 6], t: MessageType) -> Message {
    let mut m = Message::new(
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        GIADDR,
        &mac,
    );
    m.set_hops(1);
    m.opts_mut().insert(DhcpOption::MessageType(t));
    m
}

fn msg_type(m: &Message) -> Option<MessageType> {
    m.opts().msg_type()
}

fn opt_bytes(m: &Message, code: OptionCode) -> Option<Vec<u8>> {
    match m.opts().get(code)? {
        DhcpOption::BootfileName(v)
        | DhcpOption::TFTPServerName(v)
        | DhcpOption::ClassIdentifier(v) => Some(v.clone()),
        _ => None,
    }
}

fn leases_on_disk(path: &std::path::Path) -> LeaseDb {
    let (_log, recs, _) = LeaseLog::open(path).unwrap();
    LeaseDb::from_records(&recs)
}

#[tokio::test]
async fn relay_full_dora_renew_release_and_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let lf = dir.path().join("leases.log");
    let h = Harness::start(base_config(Some(lf.clone())), None).await;
    let m = mac(1);

    // DISCOVER from a BIOS PXE ROM
    let mut d = relayed(m, MessageType::Discover);
    d.opts_mut()
        .insert(DhcpOption::ClientSystemArchitecture(Architecture::from(
            0u16,
        )));
    d.opts_mut().insert(DhcpOption::ClassIdentifier(
        b"PXEClient:Arch:00000:UNDI:002001".to_vec(),
    ));
    let offer = h.exchange(&d).await.expect("offer");
    assert_eq!(msg_type(&offer), Some(MessageType::Offer));
    let ip = offer.yiaddr();
    assert!(ip >= Ipv4Addr::new(127, 0, 100, 1) && ip <= Ipv4Addr::new(127, 0, 109, 254));
    assert_eq!(offer.giaddr(), GIADDR);
    assert_eq!(offer.siaddr(), Ipv4Addr::new(127, 0, 0, 1));
    assert_eq!(
        opt_bytes(&offer, OptionCode::BootfileName).as_deref(),
        Some(&b"undionly.kpxe"[..])
    );
    assert_eq!(
        opt_bytes(&offer, OptionCode::TFTPServerName).as_deref(),
        Some(&b"127.0.0.1"[..])
    );
    let fname: Vec<u8> = offer
        .fname()
        .unwrap_or(&[])
        .iter()
        .copied()
        .take_while(|&b| b != 0)
        .collect();
    assert_eq!(
        fname, b"undionly.kpxe",
        "BOOTP file field for legacy PXE ROMs"
    );
    assert!(
        matches!(offer.opts().get(OptionCode::ServerIdentifier), Some(DhcpOption::ServerIdentifier(s)) if *s == SERVER_IP)
    );
    assert!(matches!(
        offer.opts().get(OptionCode::AddressLeaseTime),
        Some(DhcpOption::AddressLeaseTime(600))
    ));

    // REQUEST (selecting)
    let mut r = relayed(m, MessageType::Request);
    r.opts_mut().insert(DhcpOption::RequestedIpAddress(ip));
    r.opts_mut().insert(DhcpOption::ServerIdentifier(SERVER_IP));
    let ack = h.exchange(&r).await.expect("ack");
    assert_eq!(msg_type(&ack), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), ip);
    // Crash-safety: the ACK was sent after the fsync, so the lease is on disk already.
    let db = leases_on_disk(&lf);
    assert_eq!(db.get(&HwAddr::eth(m)).map(|l| l.ip), Some(ip));

    // RENEW through the relay: ciaddr set, no option 50 / 54
    let mut renew = relayed(m, MessageType::Request);
    renew.set_ciaddr(ip);
    let ack2 = h.exchange(&renew).await.expect("renew ack");
    assert_eq!(msg_type(&ack2), Some(MessageType::Ack));
    assert_eq!(ack2.yiaddr(), ip);

    // A second machine gets a different address
    let m2 = mac(2);
    let offer2 = h
        .exchange(&relayed(m2, MessageType::Discover))
        .await
        .unwrap();
    assert_ne!(offer2.yiaddr(), ip);
    // ... and is NAKed when it requests the first machine's address
    let mut steal = relayed(m2, MessageType::Request);
    steal.opts_mut().insert(DhcpOption::RequestedIpAddress(ip));
    let nak = h.exchange(&steal).await.unwrap();
    assert_eq!(msg_type(&nak), Some(MessageType::Nak));
    // requesting something outside the subnet: NAK
    let mut foreign = relayed(m2, MessageType::Request);
    foreign
        .opts_mut()
        .insert(DhcpOption::RequestedIpAddress(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(
        msg_type(&h.exchange(&foreign).await.unwrap()),
        Some(MessageType::Nak)
    );

    // stop without RELEASE = a crash from the lease's point of view; restart on the same log
    let stats = h.stop().await;
    assert_eq!(stats.acks, 2);
    let h = Harness::start(base_config(Some(lf.clone())), None).await;
    let again = h
        .exchange(&relayed(m, MessageType::Discover))
        .await
        .unwrap();
    assert_eq!(again.yiaddr(), ip, "recovered lease keeps the address");

    // RELEASE (no reply), persisted
    let mut rel = relayed(m, MessageType::Release);
    rel.set_ciaddr(ip);
    h.send(&rel).await;
    assert!(h.recv(Duration::from_millis(200)).await.is_none());
    let stats = h.stop().await;
    assert_eq!(stats.releases, 1);
    assert!(leases_on_disk(&lf).get(&HwAddr::eth(m)).is_none());
}

#[tokio::test]
async fn known_only_answers_reservations_and_refuses_unknown() {
    let mut cfg = base_config(None);
    cfg.mode = Mode::KnownOnly;
    let known = mac(7);
    let reserved_ip = Ipv4Addr::new(127, 0, 5, 5);
    cfg.reservations.push(Reservation {
        mac: HwAddr::eth(known).to_string(),
        ip: reserved_ip,
        hostname: None,
    });
    let h = Harness::start(cfg, None).await;

    let offer = h
        .exchange(&relayed(known, MessageType::Discover))
        .await
        .unwrap();
    assert_eq!(offer.yiaddr(), reserved_ip);
    let mut r = relayed(known, MessageType::Request);
    r.opts_mut()
        .insert(DhcpOption::RequestedIpAddress(reserved_ip));
    r.opts_mut().insert(DhcpOption::ServerIdentifier(SERVER_IP));
    assert_eq!(
        msg_type(&h.exchange(&r).await.unwrap()),
        Some(MessageType::Ack)
    );
    // the reserved host asking for another address is refused
    let mut wrong = relayed(known, MessageType::Request);
    wrong
        .opts_mut()
        .insert(DhcpOption::RequestedIpAddress(Ipv4Addr::new(
            127, 0, 100, 1,
        )));
    assert_eq!(
        msg_type(&h.exchange(&wrong).await.unwrap()),
        Some(MessageType::Nak)
    );

    // unknown MAC: no OFFER, no ACK
    h.send(&relayed(mac(8), MessageType::Discover)).await;
    assert!(h.recv(Duration::from_millis(300)).await.is_none());
    let mut r = relayed(mac(8), MessageType::Request);
    r.opts_mut()
        .insert(DhcpOption::RequestedIpAddress(Ipv4Addr::new(
            127, 0, 100, 1,
        )));
    h.send(&r).await;
    assert!(h.recv(Duration::from_millis(300)).await.is_none());
    let stats = h.stop().await;
    assert_eq!(stats.ignored_unknown, 2);
    assert_eq!(stats.acks, 1);
}

#[tokio::test]
async fn known_only_serves_known_macs_from_the_dynamic_range() {
    let mut cfg = base_config(None);
    cfg.mode = Mode::KnownOnly;
    let known = mac(9);
    cfg.known_macs.push(HwAddr::eth(known).to_string());
    let h = Harness::start(cfg, None).await;
    let offer = h
        .exchange(&relayed(known, MessageType::Discover))
        .await
        .unwrap();
    let ip = offer.yiaddr();
    assert_ne!(
        ip,
        Ipv4Addr::UNSPECIFIED,
        "a known MAC gets an address from the range"
    );
    let mut r = relayed(known, MessageType::Request);
    r.opts_mut().insert(DhcpOption::RequestedIpAddress(ip));
    r.opts_mut().insert(DhcpOption::ServerIdentifier(SERVER_IP));
    assert_eq!(
        msg_type(&h.exchange(&r).await.unwrap()),
        Some(MessageType::Ack)
    );
    // A stranger still gets nothing.
    h.send(&relayed(mac(10), MessageType::Discover)).await;
    assert!(h.recv(Duration::from_millis(300)).await.is_none());
    let stats = h.stop().await;
    assert_eq!(stats.ignored_unknown, 1);
    assert_eq!(stats.acks, 1);
}

#[tokio::test]
async fn storm_of_unknown_macs_with_enlistment_off_hands_out_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lf = dir.path().join("leases.log");
    let mut cfg = base_config(Some(lf.clone()));
    cfg.mode = Mode::KnownOnly;
    let known = mac(0xffff);
    cfg.reservations.push(Reservation {
        mac: HwAddr::eth(known).to_string(),
        ip: Ipv4Addr::new(127, 0, 6, 6),
        hostname: None,
    });
    let (events, hook) = collected();
    let h = Harness::start(cfg, Some(hook)).await;
    for i in 0..1000u32 {
        h.send(&relayed(mac(10_000 + i), MessageType::Discover))
            .await;
        let mut r = relayed(mac(10_000 + i), MessageType::Request);
        r.opts_mut()
            .insert(DhcpOption::RequestedIpAddress(Ipv4Addr::new(
                127,
                0,
                100,
                1 + (i % 200) as u8,
            )));
        r.opts_mut().insert(DhcpOption::ServerIdentifier(SERVER_IP));
        h.send(&r).await;
        if i % 50 == 49 {
            // stay under the loopback socket buffer: every packet must reach the engine
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    // the known machine is still served in the middle of the storm
    let offer = h
        .exchange(&relayed(known, MessageType::Discover))
        .await
        .expect("known served");
    assert_eq!(offer.yiaddr(), Ipv4Addr::new(127, 0, 6, 6));
    assert!(
        h.recv(Duration::from_millis(300)).await.is_none(),
        "no reply to unknown MACs"
    );
    let stats = h.stop().await;
    assert_eq!(stats.ignored_unknown, 2000);
    assert_eq!(stats.offers, 1);
    assert_eq!(stats.acks, 0);
    assert_eq!(leases_on_disk(&lf).bound(0).count(), 0, "zero leases");
    let ev = events.lock().unwrap();
    assert_eq!(
        ev.iter()
            .filter(|e| e.kind == EventKind::IgnoredUnknown)
            .count(),
        2000
    );
    assert!(ev.iter().all(|e| e.relay == Some(GIADDR)));
}

#[tokio::test]
async fn ipxe_and_uefi_http_clients_get_their_next_hop_and_events() {
    let (events, hook) = collected();
    let h = Harness::start(base_config(None), Some(hook)).await;

    // iPXE (user class "iPXE" + option 175), on UEFI x86-64
    let mut d = relayed(mac(20), MessageType::Discover);
    d.opts_mut().insert(DhcpOption::UserClass(b"iPXE".to_vec()));
    d.opts_mut()
        .insert(DhcpOption::ClientSystemArchitecture(Architecture::from(
            7u16,
        )));
    d.opts_mut()
        .insert(DhcpOption::Unknown(dhcproto::v4::UnknownOption::new(
            OptionCode::from(175u8),
            vec![1, 1, 1],
        )));
    let o = h.exchange(&d).await.unwrap();
    assert_eq!(
        opt_bytes(&o, OptionCode::BootfileName).as_deref(),
        Some(&b"http://127.0.0.1:5248/ipxe/boot.ipxe?mac=${net0/mac}"[..])
    );

    // UEFI HTTP boot
    let mut d = relayed(mac(21), MessageType::Discover);
    d.opts_mut()
        .insert(DhcpOption::ClientSystemArchitecture(Architecture::from(
            16u16,
        )));
    d.opts_mut().insert(DhcpOption::ClassIdentifier(
        b"HTTPClient:Arch:00016:UNDI:003001".to_vec(),
    ));
    let o = h.exchange(&d).await.unwrap();
    assert_eq!(
        opt_bytes(&o, OptionCode::BootfileName).as_deref(),
        Some(&b"http://127.0.0.1:5248/boot/ipxe.efi"[..])
    );
    assert_eq!(
        opt_bytes(&o, OptionCode::ClassIdentifier).as_deref(),
        Some(&b"HTTPClient"[..])
    );

    // arm64 UEFI over TFTP
    let mut d = relayed(mac(22), MessageType::Discover);
    d.opts_mut()
        .insert(DhcpOption::ClientSystemArchitecture(Architecture::from(
            11u16,
        )));
    let o = h.exchange(&d).await.unwrap();
    assert_eq!(
        opt_bytes(&o, OptionCode::BootfileName).as_deref(),
        Some(&b"ipxe-arm64.efi"[..])
    );

    // a plain (non-netboot) client gets no boot options
    let o = h
        .exchange(&relayed(mac(23), MessageType::Discover))
        .await
        .unwrap();
    assert!(o.opts().get(OptionCode::BootfileName).is_none());

    h.stop().await;
    let ev = events.lock().unwrap();
    assert_eq!(ev.len(), 4);
    assert!(ev
        .iter()
        .all(|e| e.kind == EventKind::Offered && e.ip.is_some()));
    assert!(ev[0].is_ipxe);
    assert_eq!(ev[1].arch, Some(ingot_dhcp::ClientArch::UefiHttpX64));
    assert_eq!(ev[2].boot_file.as_deref(), Some("ipxe-arm64.efi"));
}

/// A stop that comes while a REQUEST's lease record is still gathering (it waits up to 5 ms for
/// others to share its fdatasync) commits that record and sends its ACK before the server ends:
/// here the stop is asked for from the event hook, the moment the REQUEST is handled.
#[tokio::test]
async fn a_stop_commits_the_lease_still_gathering_and_sends_its_ack() {
    let dir = tempfile::tempdir().unwrap();
    let lf = dir.path().join("leases.log");
    let m = mac(7);
    // The hook asks for the stop when the REQUEST is ACKed (the DISCOVER's offer is ignored).
    let (tx, rx) = oneshot::channel::<()>();
    let tx = Mutex::new(Some(tx));
    let hook: ingot_dhcp::EventHook = Arc::new(move |e: DhcpEvent| {
        if e.kind == EventKind::Acked {
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send(());
            }
        }
    });
    let mut cfg = base_config(Some(lf.clone()));
    let relay = UdpSocket::bind((GIADDR, 0)).await.unwrap();
    cfg.relay_reply_port = relay.local_addr().unwrap().port();
    let server = DhcpServer::bind(cfg).unwrap().with_event_hook(hook);
    let addr = server.local_addr().unwrap();
    let task = tokio::spawn(server.run(async {
        let _ = rx.await;
    }));
    let mut buf = [0u8; 1500];
    relay
        .send_to(&relayed(m, MessageType::Discover).to_vec().unwrap(), addr)
        .await
        .unwrap();
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), relay.recv_from(&mut buf))
        .await
        .expect("offer")
        .unwrap();
    let ip = Message::from_bytes(&buf[..n]).unwrap().yiaddr();
    let mut r = relayed(m, MessageType::Request);
    r.opts_mut().insert(DhcpOption::RequestedIpAddress(ip));
    r.opts_mut().insert(DhcpOption::ServerIdentifier(SERVER_IP));
    relay.send_to(&r.to_vec().unwrap(), addr).await.unwrap();
    let stats = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
    assert_eq!(stats.acks, 1, "{stats:?}");
    let db = leases_on_disk(&lf);
    assert_eq!(
        db.get(&HwAddr::eth(m)).map(|l| l.ip),
        Some(ip),
        "the lease is in the log"
    );
    let (n, _) = tokio::time::timeout(Duration::from_secs(1), relay.recv_from(&mut buf))
        .await
        .expect("the ACK was sent before the server ended")
        .unwrap();
    let ack = Message::from_bytes(&buf[..n]).unwrap();
    assert_eq!(msg_type(&ack), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), ip);
}

/// An ACK's event says how long the lease lasts (the rack reports it to the region); an
/// offer's says nothing.
#[tokio::test]
async fn an_ack_event_carries_the_lease_time() {
    let (events, hook) = collected();
    let h = Harness::start(base_config(None), Some(hook)).await;
    let m = mac(30);
    let offer = h
        .exchange(&relayed(m, MessageType::Discover))
        .await
        .expect("offer");
    let mut r = relayed(m, MessageType::Request);
    r.opts_mut()
        .insert(DhcpOption::RequestedIpAddress(offer.yiaddr()));
    r.opts_mut().insert(DhcpOption::ServerIdentifier(SERVER_IP));
    let ack = h.exchange(&r).await.expect("ack");
    assert_eq!(msg_type(&ack), Some(MessageType::Ack));
    h.stop().await;
    let ev = events.lock().unwrap();
    let got: Vec<(EventKind, Option<u32>)> = ev.iter().map(|e| (e.kind, e.lease_secs)).collect();
    assert_eq!(
        got,
        vec![(EventKind::Offered, None), (EventKind::Acked, Some(600))]
    );
}
