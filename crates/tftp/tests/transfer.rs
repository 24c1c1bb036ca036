//! End-to-end tests against the server on 127.0.0.1 with the in-test Rust client.

mod common;

use std::time::Duration;

use common::*;
use ingot_tftp::packet::{self, OP_WRQ};
use ingot_tftp::{ErrorCode, TftpConfig, TftpEventKind};

const MS: fn(u64) -> Duration = Duration::from_millis;

fn slow_timeout() -> TftpConfig {
    // long server timeout so no retransmission disturbs packet counting
    TftpConfig {
        timeout: Duration::from_secs(3),
        ..TftpConfig::default()
    }
}

#[tokio::test]
async fn rrq_without_options_lockstep_512() {
    let dir = tempfile::tempdir().unwrap();
    let body = content(3000, 1);
    write_file(dir.path(), "undionly.kpxe", &body);
    let srv = serve_dir(dir.path(), TftpConfig::default()).await;
    let f = fetch(srv.addr, "undionly.kpxe", &[]).await.unwrap();
    assert_eq!(f.data, body);
    assert!(f.oack.is_none(), "no options asked, no OACK expected");
    assert_eq!(f.data_packets, 6); // 5 x 512 + 440
    let ev = srv
        .wait_event(|e| matches!(e.kind, TftpEventKind::Finished { .. }))
        .await;
    assert_eq!(ev.path, "undionly.kpxe");
    assert!(
        matches!(
            ev.kind,
            TftpEventKind::Finished {
                bytes: 3000,
                retransmits: 0,
                ..
            }
        ),
        "{ev:?}"
    );
    assert!(srv.events().iter().any(|e| matches!(
        e.kind,
        TftpEventKind::Started {
            size: Some(3000),
            blksize: 512,
            windowsize: 1
        }
    )));
}

#[tokio::test]
async fn rrq_blksize_tsize_and_exact_multiple_file() {
    let dir = tempfile::tempdir().unwrap();
    let body = content(1468 * 3, 2); // needs a final empty DATA block
    write_file(dir.path(), "ipxe.efi", &body);
    let srv = serve_dir(dir.path(), TftpConfig::default()).await;
    let f = fetch(
        srv.addr,
        "/ipxe.efi",
        &[("blksize", "1468"), ("tsize", "0")],
    )
    .await
    .unwrap();
    assert_eq!(f.data, body);
    assert_eq!(opt(&f.oack, "blksize"), Some("1468"));
    assert_eq!(opt(&f.oack, "tsize"), Some("4404"));
    assert_eq!(f.data_packets, 4);
}

#[tokio::test]
async fn blksize_and_windowsize_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let body = content(200_000, 3);
    write_file(dir.path(), "f", &body);
    let srv = serve_dir(dir.path(), TftpConfig::default()).await;
    let f = fetch(srv.addr, "f", &[("blksize", "65464"), ("windowsize", "64")])
        .await
        .unwrap();
    assert_eq!(opt(&f.oack, "blksize"), Some("1468"));
    assert_eq!(opt(&f.oack, "windowsize"), Some("16"));
    assert_eq!(f.data, body);
}

/// windowsize=8: the server sends exactly 8 blocks, then waits for an ACK; the next ACK
/// releases the next 8; content is right.
#[tokio::test]
async fn windowsize_8_sends_8_blocks_before_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let body = content(20 * 512 + 100, 4);
    write_file(dir.path(), "snponly.efi", &body);
    let srv = serve_dir(dir.path(), slow_timeout()).await;
    let mut c = Raw::new(srv.addr).await;
    c.rrq("snponly.efi", &[("windowsize", "8"), ("tsize", "0")])
        .await;
    let Some(Got::Oack(o)) = c.recv(MS(2000)).await else {
        panic!("expected OACK")
    };
    assert!(o.contains(&("windowsize".into(), "8".into())), "{o:?}");
    assert!(
        o.contains(&("tsize".into(), body.len().to_string())),
        "{o:?}"
    );
    c.ack(0).await;

    let mut got = Vec::new();
    let mut data = Vec::new();
    for (round, expect_blocks) in [(0, 1..=8u16), (1, 9..=16), (2, 17..=21)] {
        let pkts = c.drain(MS(300)).await;
        let blocks: Vec<u16> = pkts
            .iter()
            .map(|g| match g {
                Got::Data(b, d) => {
                    data.extend_from_slice(d);
                    *b
                }
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            blocks,
            expect_blocks.clone().collect::<Vec<_>>(),
            "round {round}"
        );
        got.extend(blocks);
        c.ack(*expect_blocks.end()).await;
    }
    assert_eq!(data, body);
    let ev = srv
        .wait_event(|e| matches!(e.kind, TftpEventKind::Finished { .. }))
        .await;
    assert!(
        matches!(
            ev.kind,
            TftpEventKind::Finished {
                packets: 22,
                retransmits: 0,
                ..
            }
        ),
        "{ev:?}"
    );
}

#[tokio::test]
async fn windowed_fetches_large_file_and_block_rollover() {
    let dir = tempfile::tempdir().unwrap();
    // blksize 8: 70,003 blocks, so the 16-bit block number wraps (65535 -> 0)
    let small = content(70_002 * 8 + 3, 5);
    write_file(dir.path(), "wrap", &small);
    let big = content(5 << 20, 6);
    write_file(dir.path(), "big", &big);
    let srv = serve_dir(dir.path(), TftpConfig::default()).await;
    let f = fetch(srv.addr, "wrap", &[("blksize", "8"), ("windowsize", "16")])
        .await
        .unwrap();
    assert_eq!(f.data.len(), small.len());
    assert!(f.data == small);
    let f = fetch(srv.addr, "wrap", &[("blksize", "8")]).await.unwrap();
    assert!(f.data == small);
    let f = fetch(
        srv.addr,
        "big",
        &[("blksize", "1468"), ("windowsize", "16"), ("tsize", "0")],
    )
    .await
    .unwrap();
    assert!(f.data == big);
}

#[tokio::test]
async fn generated_content_through_a_custom_file_source() {
    use async_trait::async_trait;
    use ingot_tftp::{FileSource, TftpError, TftpFile, TftpServer};
    use std::net::SocketAddr;
    struct PerMachine;
    #[async_trait]
    impl FileSource for PerMachine {
        async fn open(&self, path: &str, client: SocketAddr) -> Result<TftpFile, TftpError> {
            match path {
                "boot.ipxe" => Ok(TftpFile::from_bytes(format!(
                    "#!ipxe\necho {}\n",
                    client.ip()
                ))),
                "stream" => {
                    let data = content(100_000, 9);
                    Ok(TftpFile::from_reader(std::io::Cursor::new(data), None))
                }
                _ => Err(TftpError::NotFound),
            }
        }
    }
    let server = TftpServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        PerMachine,
        TftpConfig::default(),
    )
    .await
    .unwrap();
    let srv = start(server);
    let f = fetch(srv.addr, "boot.ipxe", &[("tsize", "0")])
        .await
        .unwrap();
    assert_eq!(f.data, b"#!ipxe\necho 127.0.0.1\n");
    assert_eq!(opt(&f.oack, "tsize"), Some("22"));
    // unknown size: tsize not acknowledged, windowed stream still right
    let f = fetch(
        srv.addr,
        "stream",
        &[("tsize", "0"), ("windowsize", "4"), ("blksize", "1000")],
    )
    .await
    .unwrap();
    assert_eq!(f.data, content(100_000, 9));
    assert_eq!(opt(&f.oack, "tsize"), None);
    assert_eq!(fetch(srv.addr, "nope", &[]).await.unwrap_err().0, 1);
}

#[tokio::test]
async fn netascii_mode_converts_line_ends() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "cfg", b"a\nb\r\n");
    let srv = serve_dir(dir.path(), TftpConfig::default()).await;
    let mut c = Raw::new(srv.addr).await;
    c.send_to_server(&packet::encode_request(1, "cfg", "netascii", &[]))
        .await;
    assert_eq!(
        c.recv(MS(2000)).await,
        Some(Got::Data(1, b"a\r\nb\r\0\r\n".to_vec()))
    );
}

// ---------- path safety ----------

async fn expect_refused(srv: &Fixture, path: &str, code: u16) {
    let mut c = Raw::new(srv.addr).await;
    c.rrq(path, &[("tsize", "0")]).await;
    let pkts = c.drain(MS(300)).await;
    assert_eq!(
        pkts.len(),
        1,
        "{path}: expected a single ERROR packet, got {pkts:?}"
    );
    match &pkts[0] {
        Got::Error(c, _) => assert_eq!(*c, code, "{path}: {pkts:?}"),
        other => panic!("{path}: expected ERROR, got {other:?}"),
    }
    srv.wait_event(|e| e.path == path && matches!(e.kind, TftpEventKind::Refused { .. }))
        .await;
    assert!(
        !srv.events()
            .iter()
            .any(|e| e.path == path && matches!(e.kind, TftpEventKind::Started { .. })),
        "{path}: a transfer was started"
    );
}

#[tokio::test]
async fn traversal_absolute_and_symlink_escapes_are_refused() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("root");
    std::fs::create_dir(&root).unwrap();
    write_file(base.path(), "secret", b"top secret");
    write_file(&root, "ok.bin", b"fine");
    write_file(&root, "sub/inner.bin", b"inner");
    std::os::unix::fs::symlink(base.path().join("secret"), root.join("evil")).unwrap();
    std::os::unix::fs::symlink(base.path(), root.join("evildir")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("passwd")).unwrap();
    std::os::unix::fs::symlink(root.join("sub/inner.bin"), root.join("good-link")).unwrap();
    let srv = serve_dir(&root, TftpConfig::default()).await;

    expect_refused(&srv, "../../etc/passwd", 2).await;
    expect_refused(&srv, "..\\..\\etc\\passwd", 2).await;
    expect_refused(&srv, "sub/../../secret", 2).await;
    expect_refused(&srv, "/etc/passwd", 1).await; // resolved inside the root: not there
    expect_refused(&srv, "evil", 2).await;
    expect_refused(&srv, "evildir/secret", 2).await;
    expect_refused(&srv, "passwd", 2).await;
    expect_refused(&srv, "sub", 1).await; // a directory is not a file
    expect_refused(&srv, "missing", 1).await;

    // a symlink that stays inside the root and absolute in-root paths are fine
    assert_eq!(
        fetch(srv.addr, "good-link", &[]).await.unwrap().data,
        b"inner"
    );
    assert_eq!(
        fetch(srv.addr, "/sub/inner.bin", &[]).await.unwrap().data,
        b"inner"
    );
    assert_eq!(fetch(srv.addr, "ok.bin", &[]).await.unwrap().data, b"fine");
}

#[tokio::test]
async fn non_world_readable_file_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "private", b"x");
    std::fs::set_permissions(
        dir.path().join("private"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let srv = serve_dir(dir.path(), TftpConfig::default()).await;
    expect_refused(&srv, "private", 2).await;
}

#[tokio::test]
async fn wrq_is_refused_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let srv = serve_dir(dir.path(), TftpConfig::default()).await;
    let mut c = Raw::new(srv.addr).await;
    c.send_to_server(&packet::encode_request(OP_WRQ, "upload", "octet", &[]))
        .await;
    assert_eq!(
        c.recv(MS(2000)).await,
        Some(Got::Error(2, "Read-only server".into()))
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written"
    );
    let ev = srv
        .wait_event(|e| matches!(e.kind, TftpEventKind::Refused { .. }))
        .await;
    assert!(matches!(
        ev.kind,
        TftpEventKind::Refused {
            code: ErrorCode::AccessViolation,
            ..
        }
    ));
}

#[tokio::test]
async fn malformed_packets_get_errors_and_server_survives() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "f", b"still here");
    let srv = serve_dir(dir.path(), TftpConfig::default()).await;
    let mut c = Raw::new(srv.addr).await;
    for bad in [
        &b""[..],
        b"\x00",
        b"\x00\x01",
        b"\x00\x01file-without-nul",
        b"\x00\x01f\x00octet",
        b"\x00\x01f\x00bogusmode\x00",
        b"\x00\x09whatever",
        b"\xff\xff",
        b"\x00\x01\xff\xfe\x00octet\x00",
    ] {
        c.send_to_server(bad).await;
        let got = c.recv(MS(1000)).await;
        assert_eq!(
            got,
            Some(Got::Error(4, "Illegal TFTP operation".into())),
            "for {bad:?}"
        );
    }
    // an ACK / DATA for no transfer: unknown TID
    c.send_to_server(&packet::encode_ack(3)).await;
    assert_eq!(
        c.recv(MS(1000)).await,
        Some(Got::Error(5, "Unknown transfer ID".into()))
    );
    // an ERROR is never answered
    c.send_to_server(&packet::encode_error(ErrorCode::NotDefined, "x"))
        .await;
    assert_eq!(c.recv(MS(300)).await, None);

    // a burst of random datagrams (bounded), then the server still serves
    let mut x: u32 = 0x1234_5678;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let junk = UdpSocketPool::new(srv.addr).await;
    for _ in 0..2000 {
        let len = (rnd() % 80) as usize;
        let mut d: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
        if rnd() % 2 == 0 && d.len() >= 2 {
            d[0] = 0;
            d[1] = (rnd() % 7) as u8;
        }
        junk.send(&d).await;
    }
    tokio::time::sleep(MS(200)).await;
    assert_eq!(fetch(srv.addr, "f", &[]).await.unwrap().data, b"still here");
}

struct UdpSocketPool(tokio::net::UdpSocket, std::net::SocketAddr);
impl UdpSocketPool {
    async fn new(to: std::net::SocketAddr) -> Self {
        UdpSocketPool(
            tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            to,
        )
    }
    async fn send(&self, d: &[u8]) {
        let _ = self.0.send_to(d, self.1).await;
    }
}

// ---------- congestion behaviour ----------

fn data_blocks(pkts: &[Got]) -> Vec<u16> {
    pkts.iter()
        .filter_map(|g| {
            if let Got::Data(b, _) = g {
                Some(*b)
            } else {
                None
            }
        })
        .collect()
}

/// A storm of duplicate ACKs must not be amplified: a naive server resending its window on
/// each duplicate would answer 200 duplicates with 1,600 packets.
#[tokio::test]
async fn duplicate_ack_storm_is_not_amplified() {
    let dir = tempfile::tempdir().unwrap();
    let body = content(200 * 512, 7);
    write_file(dir.path(), "f", &body);
    let srv = serve_dir(dir.path(), slow_timeout()).await;
    let mut c = Raw::new(srv.addr).await;
    c.rrq("f", &[("windowsize", "8")]).await;
    assert!(matches!(c.recv(MS(2000)).await, Some(Got::Oack(_))));
    c.ack(0).await;
    assert_eq!(
        data_blocks(&c.drain(MS(300)).await),
        (1..=8).collect::<Vec<_>>()
    );

    // 200 duplicates of the already-acknowledged ACK 0: nothing may come back
    for _ in 0..200 {
        c.ack(0).await;
    }
    let after_dups = c.drain(MS(300)).await;
    assert!(
        after_dups.is_empty(),
        "duplicates triggered {} packets",
        after_dups.len()
    );

    // 200 copies of ACK 8: the first is new progress, the other 199 are duplicates
    for _ in 0..200 {
        c.ack(8).await;
    }
    let after = data_blocks(&c.drain(MS(300)).await);
    assert!(
        !after.is_empty() && after.len() <= 8,
        "sent {} packets for 1 new + 199 dup ACKs",
        after.len()
    );
    assert_eq!(after[0], 9);
    // window backed off (duplicates halve it): fewer than 8 blocks
    assert!(after.len() < 8, "window not reduced: {after:?}");

    // the transfer still completes, and the window grows back
    let mut next = *after.last().unwrap();
    c.ack(next).await;
    let mut sizes = Vec::new();
    loop {
        let pkts = data_blocks(&c.drain(MS(200)).await);
        if pkts.is_empty() {
            break;
        }
        sizes.push(pkts.len());
        next = *pkts.last().unwrap();
        c.ack(next).await;
    }
    assert_eq!(
        next, 201,
        "transfer did not reach the last block ({sizes:?})"
    );
    assert!(
        sizes.iter().take(4).any(|&s| s == 8),
        "window never grew back: {sizes:?}"
    );
    srv.wait_event(|e| matches!(e.kind, TftpEventKind::Finished { .. }))
        .await;
}

/// RFC 1350 lockstep: a duplicated ACK (Sorcerer's Apprentice) must not duplicate DATA.
#[tokio::test]
async fn lockstep_duplicate_ack_does_not_duplicate_data() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "f", &content(10 * 512, 8));
    let srv = serve_dir(dir.path(), slow_timeout()).await;
    let mut c = Raw::new(srv.addr).await;
    c.rrq("f", &[]).await;
    assert_eq!(data_blocks(&c.drain(MS(200)).await), vec![1]);
    for b in 1..=5u16 {
        c.ack(b).await;
        c.ack(b).await; // duplicated ACK
        c.ack(b).await;
        assert_eq!(
            data_blocks(&c.drain(MS(150)).await),
            vec![b + 1],
            "after ACK {b} x3"
        );
    }
}

/// An ACK inside the window reports a gap (RFC 7440): resume after it with a halved window.
#[tokio::test]
async fn partial_window_ack_resumes_after_it() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "f", &content(100 * 512, 9));
    let srv = serve_dir(dir.path(), slow_timeout()).await;
    let mut c = Raw::new(srv.addr).await;
    c.rrq("f", &[("windowsize", "8")]).await;
    assert!(matches!(c.recv(MS(2000)).await, Some(Got::Oack(_))));
    c.ack(0).await;
    assert_eq!(
        data_blocks(&c.drain(MS(300)).await),
        (1..=8).collect::<Vec<_>>()
    );
    c.ack(5).await;
    assert_eq!(data_blocks(&c.drain(MS(300)).await), vec![6, 7, 8, 9]);
    // a stale ACK (older than the acknowledged one) is ignored
    c.ack(3).await;
    assert!(c.drain(MS(200)).await.is_empty());
}

#[tokio::test]
async fn timeout_retransmits_then_gives_up() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "f", &content(100 * 512, 10));
    let cfg = TftpConfig {
        timeout: MS(200),
        max_retries: 2,
        ..TftpConfig::default()
    };
    let srv = serve_dir(dir.path(), cfg).await;
    let mut c = Raw::new(srv.addr).await;
    c.rrq("f", &[("windowsize", "4")]).await;
    assert!(matches!(c.recv(MS(2000)).await, Some(Got::Oack(_))));
    c.ack(0).await;
    assert_eq!(data_blocks(&c.drain(MS(100)).await), vec![1, 2, 3, 4]);
    // no ACK: after the timeout the window is resent from block 1, halved
    assert_eq!(data_blocks(&c.drain(MS(150)).await), vec![1, 2]);
    assert_eq!(data_blocks(&c.drain(MS(150)).await), vec![1]);
    // retries exhausted: an ERROR, a Failed event
    let rest = c.drain(MS(400)).await;
    assert!(matches!(rest.last(), Some(Got::Error(0, _))), "{rest:?}");
    let ev = srv
        .wait_event(|e| matches!(e.kind, TftpEventKind::Failed { .. }))
        .await;
    let TftpEventKind::Failed { bytes, reason } = ev.kind else {
        unreachable!()
    };
    assert_eq!(bytes, 0);
    assert!(reason.contains("timed out"), "{reason}");
}

/// A PXE ROM often asks for tsize, then aborts with an ERROR: clean end, nothing more sent.
#[tokio::test]
async fn pxe_tsize_probe_abort() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "undionly.kpxe", &content(5000, 11));
    let srv = serve_dir(dir.path(), slow_timeout()).await;
    let mut c = Raw::new(srv.addr).await;
    c.rrq("undionly.kpxe", &[("tsize", "0")]).await;
    assert_eq!(
        c.recv(MS(2000)).await,
        Some(Got::Oack(vec![("tsize".into(), "5000".into())]))
    );
    c.send_peer(&packet::encode_error(
        ErrorCode::OptionNegotiation,
        "tsize only",
    ))
    .await;
    let ev = srv
        .wait_event(|e| matches!(e.kind, TftpEventKind::Failed { .. }))
        .await;
    let TftpEventKind::Failed { bytes: 0, reason } = ev.kind else {
        panic!("{ev:?}")
    };
    assert!(reason.contains("client sent error 8"), "{reason}");
    assert!(c.drain(MS(300)).await.is_empty());
}

#[tokio::test]
async fn concurrent_clients_each_get_their_file() {
    let dir = tempfile::tempdir().unwrap();
    let body = content(300_000, 12);
    write_file(dir.path(), "f", &body);
    let srv = serve_dir(dir.path(), TftpConfig::default()).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let addr = srv.addr;
        tasks.push(tokio::spawn(async move {
            let opts: &[(&str, &str)] = match i % 3 {
                0 => &[],
                1 => &[("blksize", "1468")],
                _ => &[("blksize", "1468"), ("windowsize", "8")],
            };
            fetch(addr, "f", opts).await.unwrap().data
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap() == body);
    }
}

#[tokio::test]
async fn busy_server_refuses_beyond_max_transfers() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "f", &content(10_000, 13));
    let cfg = TftpConfig {
        max_transfers: 1,
        timeout: Duration::from_secs(3),
        ..TftpConfig::default()
    };
    let srv = serve_dir(dir.path(), cfg).await;
    let mut a = Raw::new(srv.addr).await;
    a.rrq("f", &[]).await;
    assert!(matches!(a.recv(MS(2000)).await, Some(Got::Data(1, _))));
    let mut b = Raw::new(srv.addr).await;
    b.rrq("f", &[]).await;
    assert_eq!(
        b.recv(MS(2000)).await,
        Some(Got::Error(0, "Server busy".into()))
    );
}

/// The iPXE binaries from Debian's ipxe package, if installed.
#[tokio::test]
async fn serves_debian_ipxe_binaries() {
    let root = std::path::Path::new("/usr/lib/ipxe");
    if !root.join("undionly.kpxe").exists() {
        assert!(
            std::env::var("CI").is_err(),
            "CI must install the TFTP peers (scripts/peers/tftp.sh)"
        );
        eprintln!("SKIP: Debian package ipxe not installed (/usr/lib/ipxe)");
        return;
    }
    // Debian ships ipxe.efi as a symlink to /boot/ipxe.efi: serving /usr/lib/ipxe as the root
    // must refuse it (it escapes the root) while serving the plain files.
    let direct = serve_dir(root, TftpConfig::default()).await;
    assert_eq!(fetch(direct.addr, "ipxe.efi", &[]).await.unwrap_err().0, 2);
    let want = std::fs::read(root.join("snponly.efi")).unwrap();
    assert!(fetch(direct.addr, "snponly.efi", &[]).await.unwrap().data == want);

    // A TFTP root populated from the package (what the rack does): all three served.
    let tftproot = tempfile::tempdir().unwrap();
    for name in ["undionly.kpxe", "ipxe.efi", "snponly.efi"] {
        write_file(
            tftproot.path(),
            name,
            &std::fs::read(root.join(name)).unwrap(),
        );
    }
    let srv = serve_dir(tftproot.path(), TftpConfig::default()).await;
    for name in ["undionly.kpxe", "ipxe.efi", "snponly.efi"] {
        let want = std::fs::read(root.join(name)).unwrap();
        for opts in [
            &[][..],
            &[("blksize", "1468"), ("tsize", "0")][..],
            &[("blksize", "1468"), ("tsize", "0"), ("windowsize", "8")][..],
        ] {
            let f = fetch(srv.addr, name, opts).await.unwrap();
            assert!(
                f.data == want,
                "{name} {opts:?}: {} vs {} bytes",
                f.data.len(),
                want.len()
            );
        }
    }
}
