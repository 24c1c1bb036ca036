//! The rack's DNS (hickory-server): authoritative for the zones the region builds (`GET
//! /MAAS/rack/dns`), over UDP and TCP with EDNS; names outside them forwarded to `upstream_dns`
//! for trusted clients only (the trusted ACL, the managed subnets, the host) and refused to
//! everyone else, so a rack is never an open resolver; zone transfers (AXFR) for trusted
//! clients only; NOTIFY to secondaries. [`Dns`] holds what is served and swaps it whole when
//! the region's serial moves; `ingot-rack` (`rack/src/dns.rs`) follows the region and binds
//! the sockets. [`Dns::answer`] answers one datagram without a socket: the fuzz target and the
//! unit tests use it.

use async_trait::async_trait;
use hickory_server::net::runtime::{Time, TokioTime};
use hickory_server::net::xfer::Protocol;
use hickory_server::net::NetError;
use hickory_server::proto::op::{
    Header, HeaderCounts, Message, MessageType, Metadata, OpCode, Query, ResponseCode,
};
use hickory_server::proto::rr::rdata::{sshfp, A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, SSHFP, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::proto::serialize::binary::BinEncoder;
#[cfg(feature = "forward")]
use hickory_server::resolver::config::{NameServerConfig, ResolverOpts};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
#[cfg(feature = "forward")]
use hickory_server::store::forwarder::{ForwardConfig, ForwardZoneHandler};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::MessageResponse;
use hickory_server::zone_handler::{
    AxfrPolicy, Catalog, MessageResponseBuilder, ZoneHandler, ZoneType,
};
use ingot_core::dns_zone::{self, Rr, Zone};
use ingot_core::rack::RackDns;
use ipnet::IpNet;
use std::collections::HashMap;

mod forwarded;
mod udp;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// What is served now.
struct State {
    serial: Option<i64>,
    /// The zones alone: what untrusted clients are answered from (REFUSED outside them).
    zones: Catalog,
    /// The zones and the forwarder at the root: for trusted clients.
    with_forwarder: Catalog,
    trusted: Vec<IpNet>,
    /// The forwarder and the upstream servers it was made for: kept from one state to the
    /// next while they stay the same, so that its cache survives the zones' changes.
    forwarder: Option<(Vec<String>, Arc<dyn ZoneHandler>)>,
    /// Authoritative UDP answers already given at this state, by query (`udp.rs`).
    answers: udp::AnswerCache,
    /// Forwarded UDP answers for trusted clients, until their TTLs run out (`forwarded.rs`).
    forwarded: forwarded::ForwardedCache,
    /// Each zone's records, its SOA first, for zone transfers: hickory answers an AXFR in one
    /// message (its issue #351), which a zone of a few thousand names does not fit in.
    transfers: HashMap<LowerName, Arc<Vec<Record>>>,
    /// Each zone's records as the region sent them, in the order of `transfers`' records: the
    /// next state converts only the records that differ (`zone_handler`).
    sources: HashMap<LowerName, Vec<Rr>>,
}

impl State {
    /// Whether `ip` may have names outside the zones answered and zones transferred.
    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted.iter().any(|n| n.contains(&ip))
    }

    fn empty() -> State {
        State {
            serial: None,
            zones: Catalog::new(),
            with_forwarder: Catalog::new(),
            trusted: Vec::new(),
            forwarder: None,
            answers: Default::default(),
            forwarded: Default::default(),
            transfers: HashMap::new(),
            sources: HashMap::new(),
        }
    }
}

/// Records per message of a zone transfer: well under 64 KiB with name compression.
const AXFR_CHUNK: usize = 400;

/// An AXFR answered as RFC 5936 has it: the SOA, every record, the SOA again, over as many
/// messages as it takes.
async fn send_transfer<R: ResponseHandler>(
    request: &Request,
    records: &[Record],
    mut response_handle: R,
) -> Result<ResponseInfo, NetError> {
    let Some((soa, body)) = records.split_first() else {
        return Err(NetError::from("an empty zone"));
    };
    let mut chunks: Vec<&[Record]> = body.chunks(AXFR_CHUNK).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    let last = chunks.len() - 1;
    let mut info = None;
    for (i, chunk) in chunks.iter().enumerate() {
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        metadata.response_code = ResponseCode::NoError;
        let first: &[Record] = if i == 0 {
            std::slice::from_ref(soa)
        } else {
            &[]
        };
        let end: &[Record] = if i == last {
            std::slice::from_ref(soa)
        } else {
            &[]
        };
        let answers = first.iter().chain(chunk.iter()).chain(end.iter());
        let response = MessageResponseBuilder::new(&request.queries, None).build(
            metadata,
            answers,
            std::iter::empty(),
            std::iter::empty(),
            std::iter::empty(),
        );
        info = Some(response_handle.send_response(response).await?);
    }
    info.ok_or_else(|| NetError::from("nothing sent"))
}

/// The response codes counted apart; anything else is "other".
const RCODES: [&str; 7] = [
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "other",
];

/// Answers sent, by client (untrusted, trusted) and response code: one atomic each, so that
/// counting costs the query path nothing it would notice.
static ANSWERS: [[std::sync::atomic::AtomicU64; 7]; 2] =
    [const { [const { std::sync::atomic::AtomicU64::new(0) }; 7] }; 2];

/// The answers this process sent: ((client, response code), count).
pub fn answer_counts() -> Vec<((&'static str, &'static str), u64)> {
    let mut out = Vec::new();
    for (i, client) in ["untrusted", "trusted"].iter().enumerate() {
        for (j, code) in RCODES.iter().enumerate() {
            let n = ANSWERS[i][j].load(std::sync::atomic::Ordering::Relaxed);
            out.push(((*client, *code), n));
        }
    }
    out
}

fn count(trusted: bool, info: &ResponseInfo) {
    let j = match info.response_code {
        ResponseCode::NoError => 0,
        ResponseCode::FormErr => 1,
        ResponseCode::ServFail => 2,
        ResponseCode::NXDomain => 3,
        ResponseCode::NotImp => 4,
        ResponseCode::Refused => 5,
        _ => 6,
    };
    ANSWERS[usize::from(trusted)][j].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// What a request that could not be answered counts as.
fn serve_failed(request: &Request) -> ResponseInfo {
    let mut metadata = Metadata::new(
        request.metadata.id,
        MessageType::Response,
        request.metadata.op_code,
    );
    metadata.response_code = ResponseCode::ServFail;
    ResponseInfo::from(Header {
        metadata,
        counts: HeaderCounts::default(),
    })
}

/// The request handler: picks the catalog by the client's address.
#[derive(Clone)]
pub struct Handler(Arc<RwLock<Arc<State>>>);

impl Handler {
    fn now(&self) -> Arc<State> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The answers to one UDP datagram from `src` at `state`, as the server sends them (none for
/// what cannot be read as a DNS message).
async fn answer_at(state: Arc<State>, packet: &[u8], src: SocketAddr) -> Vec<Vec<u8>> {
    let Ok(request) = Request::from_bytes(packet.to_vec(), src, Protocol::Udp) else {
        return Vec::new();
    };
    let out = Capture::default();
    Handler(Arc::new(RwLock::new(state)))
        .handle_request::<Capture, TokioTime>(&request, out.clone())
        .await;
    let got = std::mem::take(&mut *out.0.lock().unwrap_or_else(|p| p.into_inner()));
    got
}

#[async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let state = self.now();
        let trusted = state.trusts(request.src().ip());
        let transfer = request
            .request_info()
            .is_ok_and(|i| matches!(i.query.query_type(), RecordType::AXFR | RecordType::IXFR));
        let axfr = trusted
            && request.protocol() == Protocol::Tcp
            && request.request_info().is_ok_and(|i| {
                i.query.query_type() == RecordType::AXFR
                    && state.transfers.contains_key(i.query.name())
            });
        let info = if axfr {
            let records = request
                .request_info()
                .ok()
                .and_then(|i| state.transfers.get(i.query.name()).cloned())
                .unwrap_or_default();
            match send_transfer(request, &records, response_handle).await {
                Ok(info) => info,
                Err(e) => {
                    tracing::warn!("DNS: zone transfer to {} failed: {e}", request.src());
                    serve_failed(request)
                }
            }
        } else if transfer && !trusted {
            let response = MessageResponseBuilder::new(&request.queries, None)
                .error_msg(&request.metadata, ResponseCode::Refused);
            match response_handle.send_response(response).await {
                Ok(info) => info,
                Err(e) => {
                    tracing::debug!("DNS: cannot answer {}: {e}", request.src());
                    serve_failed(request)
                }
            }
        } else if trusted {
            state
                .with_forwarder
                .handle_request::<R, T>(request, response_handle)
                .await
        } else {
            state
                .zones
                .handle_request::<R, T>(request, response_handle)
                .await
        };
        count(trusted, &info);
        info
    }
}

fn name(s: &str) -> Result<Name, String> {
    let abs = if s.ends_with('.') {
        s.to_string()
    } else {
        format!("{s}.")
    };
    Name::from_str(&abs).map_err(|e| format!("'{s}' is not a DNS name: {e}"))
}

/// One record on the wire.
fn record(rr: &Rr) -> Result<Record, String> {
    use dns_zone::RData as D;
    let data = match &rr.data {
        D::A(a) => RData::A(A(*a)),
        D::Aaaa(a) => RData::AAAA(AAAA(*a)),
        D::Cname(t) => RData::CNAME(CNAME(name(t)?)),
        D::Ns(t) => RData::NS(NS(name(t)?)),
        D::Ptr(t) => RData::PTR(PTR(name(t)?)),
        D::Mx(p, t) => RData::MX(MX::new(*p, name(t)?)),
        D::Srv(p, w, port, t) => RData::SRV(SRV::new(*p, *w, *port, name(t)?)),
        D::Sshfp(alg, fp, hex) => RData::SSHFP(SSHFP::new(
            sshfp::Algorithm::from(*alg),
            sshfp::FingerprintType::from(*fp),
            decode_hex(hex).ok_or_else(|| format!("SSHFP fingerprint '{hex}' is not hex"))?,
        )),
        D::Txt(t) => RData::TXT(TXT::new(vec![t.clone()])),
        D::Soa {
            mname,
            rname,
            serial,
            refresh,
            retry,
            expire,
            minimum,
        } => RData::SOA(SOA::new(
            name(mname)?,
            name(rname)?,
            *serial,
            i32::try_from(*refresh).unwrap_or(i32::MAX),
            i32::try_from(*retry).unwrap_or(i32::MAX),
            i32::try_from(*expire).unwrap_or(i32::MAX),
            *minimum,
        )),
    };
    Ok(Record::from_rdata(name(&rr.owner)?, rr.ttl, data))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// One zone as an in-memory authority; transfers are allowed there, and refused by the
/// handler to untrusted clients. `before` is the zone as it was (its records as the region
/// sent them and as converted): a record found there, wherever it stood (a machine gone or
/// moved shifts the rest), is taken as it was converted rather than converted again (names
/// parsed from text), which is most of a large zone after a change to one name.
fn zone_handler(
    z: &Zone,
    serial: u32,
    before: Option<(&[Rr], &[Record])>,
) -> Result<(InMemoryZoneHandler, Vec<Record>), String> {
    let origin = name(&z.origin)?;
    let known: HashMap<&Rr, &Record> = before
        .map(|(rrs, done)| rrs.iter().zip(done).collect())
        .unwrap_or_default();
    let records = z
        .records
        .iter()
        .map(|rr| match known.get(rr) {
            Some(done) => Ok((*done).clone()),
            None => record(rr),
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Straight into the handler: `InMemoryZoneHandler::new` takes record sets only to insert
    // their records one by one again.
    let mut h = InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::AllowAll);
    let mut soa = false;
    for r in &records {
        soa |= r.record_type() == RecordType::SOA && r.name == origin;
        if !h.upsert_mut(r.clone(), serial) {
            return Err(format!(
                "{} {} does not fit in the zone",
                r.name,
                r.record_type()
            ));
        }
    }
    if !soa {
        return Err("the zone has no SOA record".into());
    }
    Ok((h, records))
}

/// `address` or `address:port` (`[v6]:port`) as a forwarder.
#[cfg(feature = "forward")]
fn forwarder(s: &str) -> Option<NameServerConfig> {
    let (ip, port) = match s.parse::<SocketAddr>() {
        Ok(sa) => (sa.ip(), sa.port()),
        Err(_) => (s.parse::<IpAddr>().ok()?, 53),
    };
    let mut ns = NameServerConfig::udp_and_tcp(ip);
    for c in &mut ns.connections {
        c.port = port;
    }
    Some(ns)
}

/// What the region sent, ready to serve. A zone that cannot be built is left out and said.
fn state(dns: &RackDns, previous: &State) -> State {
    let serial = dns.serial as u32;
    let mut zones = Catalog::new();
    let mut with_forwarder = Catalog::new();
    let mut transfers = HashMap::new();
    let mut sources = HashMap::new();
    for z in &dns.zones {
        let before = name(&z.origin).ok().and_then(|n| {
            let n = LowerName::new(&n);
            Some((
                previous.sources.get(&n)?.as_slice(),
                previous.transfers.get(&n)?.as_slice(),
            ))
        });
        match zone_handler(z, serial, before) {
            Ok((h, records)) => {
                let origin = LowerName::new(h.origin());
                transfers.insert(origin.clone(), Arc::new(records));
                sources.insert(origin.clone(), z.records.clone());
                let h: Arc<dyn ZoneHandler> = Arc::new(h);
                zones.upsert(origin.clone(), vec![h.clone()]);
                with_forwarder.upsert(origin, vec![h]);
            }
            Err(e) => tracing::error!("DNS zone {} is not served: {e}", z.origin),
        }
    }
    let forwarder = match &previous.forwarder {
        Some((servers, f)) if *servers == dns.forwarders => Some((servers.clone(), f.clone())),
        _ => new_forwarder(&dns.forwarders).map(|f| (dns.forwarders.clone(), f)),
    };
    if let Some((_, f)) = &forwarder {
        with_forwarder.upsert(LowerName::new(&Name::root()), vec![f.clone()]);
    }
    State {
        serial: Some(dns.serial),
        zones,
        with_forwarder,
        forwarder,
        trusted: dns
            .trusted
            .iter()
            .filter_map(|n| n.parse::<IpNet>().ok())
            .collect(),
        answers: Default::default(),
        forwarded: Default::default(),
        transfers,
        sources,
    }
}

/// A forwarder to the upstream servers, when there are any. Its cache holds 64k answers
/// (hickory's default, 8k, is fewer names than a fleet's clients ask for).
#[cfg(feature = "forward")]
fn new_forwarder(forwarders: &[String]) -> Option<Arc<dyn ZoneHandler>> {
    let servers: Vec<NameServerConfig> = forwarders.iter().filter_map(|f| forwarder(f)).collect();
    if servers.is_empty() {
        return None;
    }
    let mut opts = ResolverOpts::default();
    opts.timeout = Duration::from_secs(2);
    opts.attempts = 2;
    opts.cache_size = 65_536;
    let config = ForwardConfig {
        name_servers: servers,
        options: Some(opts),
    };
    match ForwardZoneHandler::builder_tokio(config).build() {
        Ok(f) => Some(Arc::new(f)),
        Err(e) => {
            tracing::error!("DNS forwarding is off: {e}");
            None
        }
    }
}

#[cfg(not(feature = "forward"))]
fn new_forwarder(_: &[String]) -> Option<Arc<dyn ZoneHandler>> {
    None
}

/// Tell a secondary that `zone` changed (RFC 1996): a NOTIFY over UDP from `from` (the rack's
/// address, which a secondary knows as its primary; else whatever the route picks), sent
/// again up to three times until it is answered.
pub async fn notify(secondary: SocketAddr, zone: &str, from: Option<IpAddr>) -> Result<(), String> {
    // A random ID (hickory's), so that a stray answer is not taken for this one's.
    let mut msg = Message::query();
    msg.metadata.op_code = OpCode::Notify;
    msg.metadata.authoritative = true;
    msg.add_query(Query::query(name(zone)?, RecordType::SOA));
    let bytes = msg.to_vec().map_err(|e| e.to_string())?;
    let bind: SocketAddr = match from {
        Some(ip) if ip.is_ipv4() == secondary.is_ipv4() => SocketAddr::new(ip, 0),
        _ if secondary.is_ipv4() => ([0, 0, 0, 0], 0).into(),
        _ => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 512];
    for _ in 0..4 {
        sock.send_to(&bytes, secondary)
            .await
            .map_err(|e| e.to_string())?;
        if let Ok(Ok((n, from))) =
            tokio::time::timeout(Duration::from_secs(1), sock.recv_from(&mut buf)).await
        {
            if from == secondary {
                if let Ok(reply) = Message::from_vec(&buf[..n]) {
                    if reply.metadata.id == msg.metadata.id {
                        return Ok(());
                    }
                }
            }
        }
    }
    Err(format!("{secondary} did not answer the NOTIFY for {zone}"))
}

/// A secondary as `dns_notify` names it (port 53 when not given).
pub fn secondary(s: &str) -> Option<SocketAddr> {
    s.parse::<SocketAddr>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
}

/// What a rack's DNS serves, shared by its sockets; cheap to clone.
#[derive(Clone)]
pub struct Dns(Handler);

impl Default for Dns {
    fn default() -> Self {
        Dns(Handler(Arc::new(RwLock::new(Arc::new(State::empty())))))
    }
}

impl Dns {
    /// The serial served (`None` before the first zones).
    pub fn serial(&self) -> Option<i64> {
        self.0.now().serial
    }

    /// Serve `dns` from now on (requests under way finish with what they started with).
    /// Builds the new zones where it is called: callers on a runtime use `spawn_blocking`.
    pub fn load(&self, dns: &RackDns) {
        let next = Arc::new(state(dns, &self.0.now()));
        *self.0 .0.write().unwrap_or_else(|p| p.into_inner()) = next;
    }

    /// Serve on `listen`: UDP through Ingot's loop with its answer cache (`udp.rs`), TCP
    /// through hickory's server.
    pub async fn bind(&self, listen: &[SocketAddr]) -> Result<Serving, String> {
        let mut server = hickory_server::Server::new(self.0.clone());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut udp = Vec::new();
        for a in listen {
            let sock = std::net::UdpSocket::bind(a).map_err(|e| format!("UDP {a}: {e}"))?;
            let tcp = tokio::net::TcpListener::bind(a)
                .await
                .map_err(|e| format!("TCP {a}: {e}"))?;
            let rt = tokio::runtime::Handle::current();
            udp.push(
                udp::serve(self.clone(), sock, rt, stop.clone())
                    .map_err(|e| format!("UDP {a}: {e}"))?,
            );
            server.register_listener(tcp, Duration::from_secs(5), 64);
        }
        Ok(Serving { server, udp, stop })
    }

    /// The answer to one UDP datagram from `src`, as the server would send it (none for what
    /// cannot be read as a DNS message).
    pub async fn answer(&self, packet: &[u8], src: SocketAddr) -> Vec<Vec<u8>> {
        udp::answer(&self.0.now(), packet, src).await
    }
}

/// The sockets a [`Dns`] answers on.
pub struct Serving {
    server: hickory_server::Server<Handler>,
    udp: Vec<std::thread::JoinHandle<()>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Serving {
    /// Stop taking queries (TCP connections under way finish; the UDP threads notice within
    /// their 200 ms receive timeout).
    pub async fn shutdown(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.server.shutdown_gracefully().await;
        let threads = std::mem::take(&mut self.udp);
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }
}

/// A response handler that keeps the encoded answers (as the UDP path encodes them: the
/// client's EDNS size, else 512 bytes).
#[derive(Clone, Default)]
struct Capture(Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

#[async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let mut bytes = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(response.edns().map_or(512, |e| e.max_payload()));
        let info = response
            .destructive_emit(&mut encoder)
            .map_err(|e| NetError::from(e.to_string()))?;
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(bytes);
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ingot_core::dns_zone::RData as D;

    fn rr(owner: &str, data: D) -> Rr {
        Rr {
            owner: owner.into(),
            ttl: 30,
            data,
        }
    }

    #[test]
    fn every_record_type_goes_on_the_wire() {
        let z = Zone {
            origin: "maas".into(),
            records: vec![
                rr(
                    "maas",
                    D::Soa {
                        mname: "rack.maas".into(),
                        rname: "nomail.maas".into(),
                        serial: 7,
                        refresh: 600,
                        retry: 1800,
                        expire: 604_800,
                        minimum: 30,
                    },
                ),
                rr("maas", D::Ns("rack.maas".into())),
                rr("a.maas", D::A("10.0.0.5".parse().unwrap())),
                rr("a.maas", D::Aaaa("2001:db8::5".parse().unwrap())),
                rr("c.maas", D::Cname("a.maas".into())),
                rr("maas", D::Mx(10, "a.maas".into())),
                rr("_x._tcp.maas", D::Srv(1, 2, 80, "a.maas".into())),
                rr("a.maas", D::Sshfp(1, 2, "ab01".into())),
                rr("a.maas", D::Txt("hello world".into())),
            ],
        };
        let (h, records) = zone_handler(&z, 7, None).unwrap();
        assert_eq!(records.len(), z.records.len());
        assert_eq!(h.origin().to_string(), "maas.");
        assert!(record(&rr("x.maas", D::Sshfp(1, 1, "zz".into()))).is_err());
        assert_eq!(decode_hex("0aff"), Some(vec![10, 255]));

        // Built again from the zone before it: what is unchanged is taken over, what changed
        // (here the SOA and an address) is converted; the same records as built afresh.
        let mut next = z.clone();
        next.records[0] = rr(
            "maas",
            D::Soa {
                mname: "rack.maas".into(),
                rname: "nomail.maas".into(),
                serial: 8,
                refresh: 600,
                retry: 1800,
                expire: 604_800,
                minimum: 30,
            },
        );
        next.records[2] = rr("a.maas", D::A("10.0.0.6".parse().unwrap()));
        next.records
            .push(rr("d.maas", D::A("10.0.0.7".parse().unwrap())));
        let (_, again) = zone_handler(&next, 8, Some((&z.records, &records))).unwrap();
        let (_, fresh) = zone_handler(&next, 8, None).unwrap();
        assert_eq!(again, fresh);
        assert_ne!(again[2], records[2]);
        // A record gone from the middle shifts the rest: still the same as a fresh build.
        let mut shifted = next.clone();
        shifted.records.remove(3);
        let (_, again) = zone_handler(&shifted, 8, Some((&next.records, &fresh))).unwrap();
        assert_eq!(again, zone_handler(&shifted, 8, None).unwrap().1);
        // A zone without its SOA is not served.
        let mut no_soa = z.clone();
        no_soa.records.remove(0);
        assert!(zone_handler(&no_soa, 7, None).is_err());
    }

    #[cfg(feature = "forward")]
    #[test]
    fn forwarders_and_secondaries_take_a_port() {
        let f = forwarder("127.0.0.1:5353").unwrap();
        assert!(f.connections.iter().all(|c| c.port == 5353));
        let f = forwarder("192.0.2.1").unwrap();
        assert!(f.connections.iter().all(|c| c.port == 53));
        assert!(forwarder("dns.example").is_none());
    }

    #[test]
    fn secondaries_take_a_port() {
        assert_eq!(secondary("[::1]:54"), Some("[::1]:54".parse().unwrap()));
        assert_eq!(secondary("10.0.0.1"), Some("10.0.0.1:53".parse().unwrap()));
    }

    /// A zone of thousands of names goes out whole to a real client (dig) over TCP: the SOA,
    /// every record, the SOA again, over several messages (one message cannot hold them).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_large_zone_transfers_whole() {
        if std::process::Command::new("dig")
            .arg("-v")
            .output()
            .is_err()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "dig (bind9-dnsutils) is missing"
            );
            return;
        }
        let mut records = vec![
            rr(
                "big.test",
                D::Soa {
                    mname: "rack.big.test".into(),
                    rname: "nomail.big.test".into(),
                    serial: 5,
                    refresh: 600,
                    retry: 1800,
                    expire: 604_800,
                    minimum: 30,
                },
            ),
            rr("big.test", D::Ns("rack.big.test".into())),
        ];
        for i in 0..5000u32 {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            records.push(rr(&format!("host-{i:05}.big.test"), D::A(ip)));
        }
        let dns = Dns::default();
        dns.load(&RackDns {
            serial: 5,
            zones: vec![Zone {
                origin: "big.test".into(),
                records,
            }],
            trusted: vec!["127.0.0.0/8".into()],
            ..Default::default()
        });
        let port = 20_000 + (std::process::id() % 20_000) as u16;
        let at: SocketAddr = ([127, 0, 0, 1], port).into();
        let server = dns.bind(&[at]).await.expect("bind");
        let out = tokio::process::Command::new("dig")
            .args([
                "@127.0.0.1",
                "-p",
                &port.to_string(),
                "big.test",
                "AXFR",
                "+nocmd",
            ])
            .output()
            .await
            .expect("dig");
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
            .collect();
        assert_eq!(
            lines.len(),
            5000 + 3,
            "{}",
            &text[text.len().saturating_sub(500)..]
        );
        assert!(lines[0].contains("SOA") && lines[lines.len() - 1].contains("SOA"));
        assert!(text.contains("host-04999.big.test."));
        server.shutdown().await;
    }

    fn query(name: &str, t: RecordType) -> Vec<u8> {
        let mut m = Message::new(7, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(Name::from_str(name).unwrap(), t));
        m.to_vec().unwrap()
    }

    /// Answers as the sockets give them: the zone's data to anyone, zone transfers and names
    /// outside the zones refused to untrusted clients, nothing for garbage.
    #[tokio::test]
    async fn answers_by_zone_and_by_client() {
        let dns = Dns::default();
        assert_eq!(dns.serial(), None);
        dns.load(&RackDns {
            serial: 9,
            zones: vec![Zone {
                origin: "maas".into(),
                records: vec![
                    rr(
                        "maas",
                        D::Soa {
                            mname: "rack.maas".into(),
                            rname: "nomail.maas".into(),
                            serial: 9,
                            refresh: 600,
                            retry: 1800,
                            expire: 604_800,
                            minimum: 30,
                        },
                    ),
                    rr("maas", D::Ns("rack.maas".into())),
                    rr("a.maas", D::A("10.0.0.5".parse().unwrap())),
                ],
            }],
            trusted: vec!["10.0.0.0/24".into()],
            ..Default::default()
        });
        assert_eq!(dns.serial(), Some(9));
        let inside: SocketAddr = "10.0.0.9:5000".parse().unwrap();
        let outside: SocketAddr = "192.0.2.9:5000".parse().unwrap();
        let one = |got: Vec<Vec<u8>>| Message::from_vec(&got[0]).unwrap();
        let a = one(dns.answer(&query("a.maas.", RecordType::A), outside).await);
        assert_eq!(a.metadata.response_code, ResponseCode::NoError);
        assert_eq!(a.answers.len(), 1);
        assert!(a.metadata.authoritative);
        let x = one(dns.answer(&query("maas.", RecordType::AXFR), outside).await);
        assert_eq!(x.metadata.response_code, ResponseCode::Refused);
        let x = dns.answer(&query("maas.", RecordType::AXFR), inside).await;
        assert!(!x.is_empty());
        assert_eq!(one(x).metadata.response_code, ResponseCode::NoError);
        let f = one(dns
            .answer(&query("example.com.", RecordType::A), outside)
            .await);
        assert_eq!(f.metadata.response_code, ResponseCode::Refused);
        assert!(dns.answer(&[0xff, 0x00, 0x01], outside).await.is_empty());
        // Asked again (another ID): the same answer, from the cache, with the new ID.
        let mut q = query("a.maas.", RecordType::A);
        let first = dns.answer(&q, outside).await.remove(0);
        q[0] = 0x55;
        q[1] = 0xaa;
        let again = dns.answer(&q, outside).await.remove(0);
        assert_eq!(&again[..2], &[0x55, 0xaa]);
        assert_eq!(&again[2..], &first[2..]);
        assert!(!dns.0.now().answers.0.read().unwrap().is_empty(), "kept");
        // New zones: the old answers go with the old state.
        dns.load(&RackDns {
            serial: 10,
            zones: vec![Zone {
                origin: "maas".into(),
                records: vec![
                    rr(
                        "maas",
                        D::Soa {
                            mname: "rack.maas".into(),
                            rname: "nomail.maas".into(),
                            serial: 10,
                            refresh: 600,
                            retry: 1800,
                            expire: 604_800,
                            minimum: 30,
                        },
                    ),
                    rr("a.maas", D::A("10.0.0.6".parse().unwrap())),
                ],
            }],
            ..Default::default()
        });
        let moved = Message::from_vec(&dns.answer(&q, outside).await.remove(0)).unwrap();
        assert_eq!(
            moved.answers[0].data,
            RData::A(A("10.0.0.6".parse().unwrap()))
        );
    }
}
