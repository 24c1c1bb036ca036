//! The web UI's live stream. One poller per region process asks the region every 250 ms which
//! machines changed (and whether one vanished) and broadcasts their system ids; each
//! `GET /MAAS/r/events` of a signed-in browser receives them as server-sent events — the id
//! when the user may see the machine, `*` otherwise or when the stream fell behind — with a
//! comment every 15 s to keep proxies from closing it. A browser opens one such stream and
//! shares it between its tabs (`assets/app.js`), so open tabs do not use up HTTP/1.1's six
//! connections per host.

use crate::{App, Req, Res};
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use ingot_core::actions::{owner_lets_view, Actor};
use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast;

/// A machine that changed (`*`: one vanished, or the stream fell behind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touch {
    pub system_id: String,
    pub owner_id: Option<i64>,
}

const POLL: Duration = Duration::from_millis(250);
/// Rows are read again this far back: a transaction that took its timestamp before the last
/// poll may commit after it. Versions already sent are not sent twice.
const OVERLAP_MS: i64 = 5_000;
const KEEPALIVE: Duration = Duration::from_secs(15);

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Subscribe to the feed, starting its poller on first use.
fn subscribe(app: &App) -> broadcast::Receiver<Touch> {
    let tx = app.feed.get_or_init(|| {
        let (tx, _) = broadcast::channel(1024);
        let (region, out) = (app.region.clone(), tx.clone());
        tokio::spawn(async move { poll(region, out).await });
        tx
    });
    tx.subscribe()
}

async fn poll(region: ingot_region::Region, tx: broadcast::Sender<Touch>) {
    let mut sent: HashMap<String, i64> = HashMap::new();
    let mut count: Option<i64> = None;
    let mut since = now_ms();
    loop {
        tokio::time::sleep(POLL).await;
        if tx.receiver_count() == 0 {
            (sent, count, since) = (HashMap::new(), None, now_ms());
            continue;
        }
        let started = now_ms();
        match region.machines_touched_since(since - OVERLAP_MS).await {
            Ok((touches, n)) => {
                let mut seen = HashMap::with_capacity(touches.len());
                for t in touches {
                    if sent.get(&t.system_id) != Some(&t.version) {
                        let _ = tx.send(Touch {
                            system_id: t.system_id.clone(),
                            owner_id: t.owner_id,
                        });
                    }
                    seen.insert(t.system_id, t.version);
                }
                if count.is_some_and(|c| c != n) {
                    let _ = tx.send(Touch {
                        system_id: "*".into(),
                        owner_id: None,
                    });
                }
                (sent, count, since) = (seen, Some(n), started);
            }
            Err(e) => tracing::warn!(error = %e, "live stream: reading machine changes failed"),
        }
    }
}

fn sse(event: &str, data: &str) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

/// `GET /MAAS/r/events`: the stream of a signed-in user.
pub(crate) async fn events(app: &App, r: &Req) -> Res {
    let Some(u) = crate::ui::session_user(app, r).await? else {
        return Err(crate::ApiError(ingot_region::RegionError::Unauthorized(
            "Sign in first.".into(),
        )));
    };
    let actor = Actor {
        user_id: u.id,
        is_admin: u.is_admin,
    };
    let rx = subscribe(app);
    let head = futures::stream::once(async {
        Ok::<_, Infallible>(Bytes::from_static(b"retry: 1000\nevent: ready\ndata: \n\n"))
    });
    let body = futures::stream::unfold(rx, move |mut rx| async move {
        let chunk = match tokio::time::timeout(KEEPALIVE, rx.recv()).await {
            Err(_) => Bytes::from_static(b": keepalive\n\n"),
            Ok(Ok(t)) if t.system_id != "*" && owner_lets_view(t.owner_id, actor) => {
                sse("machine", &t.system_id)
            }
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => sse("machine", "*"),
            Ok(Err(broadcast::error::RecvError::Closed)) => return None,
        };
        Some((Ok::<_, Infallible>(chunk), rx))
    });
    let mut resp: Response =
        Body::from_stream(futures::StreamExt::chain(head, body)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(resp)
}
