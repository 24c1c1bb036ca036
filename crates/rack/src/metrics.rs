//! The rack's counters for `/MAAS/metrics` (the binary appends them to the region's): DHCP
//! events by kind, TFTP transfers by outcome, DNS answers by client and response code, in
//! Prometheus's text format.

use prometheus::{Encoder, IntCounterVec, Opts, Registry, TextEncoder};
use std::collections::BTreeMap;
use std::sync::Mutex;

static DHCP: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());
static TFTP: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());

fn bump(m: &Mutex<BTreeMap<&'static str, u64>>, kind: &'static str) {
    *m.lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(kind)
        .or_default() += 1;
}

pub(crate) fn dhcp(kind: ingot_dhcp::EventKind) {
    use ingot_dhcp::EventKind as K;
    bump(
        &DHCP,
        match kind {
            K::Offered => "offered",
            K::Acked => "acked",
            K::Naked => "naked",
            K::Released => "released",
            K::Declined => "declined",
            K::Informed => "informed",
            K::IgnoredUnknown => "ignored_unknown",
            K::IgnoredOtherServer => "ignored_other_server",
            K::PoolExhausted => "pool_exhausted",
        },
    );
}

pub(crate) fn tftp(kind: &ingot_tftp::TftpEventKind) {
    use ingot_tftp::TftpEventKind as K;
    bump(
        &TFTP,
        match kind {
            K::Refused { .. } => "refused",
            K::Started { .. } => "started",
            K::Finished { .. } => "finished",
            K::Failed { .. } => "failed",
        },
    );
}

fn counter(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    rows: &[(Vec<&str>, u64)],
) -> prometheus::Result<()> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    for (l, n) in rows {
        c.with_label_values(l).inc_by(*n);
    }
    r.register(Box::new(c))
}

/// The counters now, as text.
pub fn text() -> String {
    let snap = |m: &Mutex<BTreeMap<&'static str, u64>>| -> Vec<(Vec<&'static str>, u64)> {
        m.lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (vec![*k], *v))
            .collect()
    };
    let dns: Vec<(Vec<&str>, u64)> = ingot_dns::answer_counts()
        .into_iter()
        .map(|((client, code), n)| (vec![client, code], n))
        .collect();
    let build = || -> prometheus::Result<Registry> {
        let r = Registry::new();
        counter(
            &r,
            "ingot_rack_dhcp_events_total",
            "DHCP events of this process's rack, by kind.",
            &["kind"],
            &snap(&DHCP),
        )?;
        counter(
            &r,
            "ingot_rack_tftp_transfers_total",
            "TFTP transfers of this process's rack, by outcome.",
            &["outcome"],
            &snap(&TFTP),
        )?;
        counter(
            &r,
            "ingot_rack_dns_answers_total",
            "DNS answers of this process's rack, by client and response code.",
            &["client", "rcode"],
            &dns,
        )?;
        Ok(r)
    };
    let mut out = Vec::new();
    match build() {
        Ok(r) => {
            let _ = TextEncoder::new().encode(&r.gather(), &mut out);
        }
        Err(e) => tracing::warn!("rack metrics: {e}"),
    }
    String::from_utf8(out).unwrap_or_default()
}
