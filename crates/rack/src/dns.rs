//! The rack's DNS server: `ingot_dns::Dns` on the rack's DNS addresses, following the region
//! (`GET /MAAS/rack/dns` with the serial it has: a long poll, which the region answers as soon
//! as the serial moves, or after a second; at most four times a second when it answers at
//! once) and sending a NOTIFY for every zone to each of `dns_notify`'s secondaries when the
//! serial moves.

use crate::{RackError, RegionLink};
use ingot_dns::{notify, secondary, Dns};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often at most the rack asks the region whether the serial moved, when the region
/// answers at once (an error, or a region that does not wait).
pub const POLL: Duration = Duration::from_millis(250);

/// Serve DNS on `listen` (UDP and TCP on each) until `stop`, following the region; NOTIFYs
/// are sent from `notify_from`.
pub async fn serve(
    link: Arc<dyn RegionLink>,
    listen: Vec<SocketAddr>,
    notify_from: Option<IpAddr>,
    stop: CancellationToken,
) -> Result<(), RackError> {
    let dns = Dns::default();
    let serving = dns.bind(&listen).await.map_err(RackError::Dns)?;
    for a in &listen {
        tracing::info!("DNS serving on {a}");
    }
    loop {
        let known = dns.serial();
        let asked = std::time::Instant::now();
        let got = tokio::select! {
            r = link.dns(known) => r,
            _ = stop.cancelled() => break,
        };
        let pause = match got {
            Ok(Some(next)) => {
                let loading = std::time::Instant::now();
                // Built off the runtime: with one worker thread, building the zones of a large
                // fleet there would hold up the answers that miss the cache.
                let next = Arc::new(next);
                let (d, n) = (dns.clone(), next.clone());
                if let Err(e) = tokio::task::spawn_blocking(move || d.load(&n)).await {
                    tracing::error!("DNS zones not loaded: {e}");
                }
                tracing::info!(
                    "DNS at serial {}: {} zone(s), loaded in {} ms",
                    next.serial as u32,
                    next.zones.len(),
                    loading.elapsed().as_millis()
                );
                for p in &next.problems {
                    tracing::warn!("DNS: {p}");
                }
                for to in next.notify.iter().filter_map(|s| secondary(s)) {
                    let zones: Vec<String> = next.zones.iter().map(|z| z.origin.clone()).collect();
                    tokio::spawn(async move {
                        for z in zones {
                            if let Err(e) = notify(to, &z, notify_from).await {
                                tracing::warn!("DNS: {e}");
                            }
                        }
                    });
                }
                // Straight back to waiting for the next change.
                Duration::ZERO
            }
            // No sooner than POLL after the last question, should the region answer at once.
            Ok(None) => POLL.saturating_sub(asked.elapsed()),
            Err(e) => {
                tracing::warn!("cannot read the DNS zones: {e}");
                POLL
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.cancelled() => break,
        }
    }
    serving.shutdown().await;
    Ok(())
}
