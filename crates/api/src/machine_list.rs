//! `GET machines/` and `op=list_allocated`: the machine list streamed a page at a time, so a
//! region of 100,000 machines never holds the whole list — its rows, its machines or its
//! JSON — in memory. The first page is read before the answer starts (a failure there is an
//! error status); a failure on a later page cuts the body short, which a client sees as an
//! incomplete JSON array rather than a complete wrong one.

use crate::render::{self, Net};
use crate::{App, Res};
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::IntoResponse;
use ingot_region::model::{Machine, MachineFilter, User};
use ingot_region::Region;
use std::sync::Arc;

/// Machines read, rendered and sent at a time (about 2 MB of JSON).
const PAGE: i64 = 500;

/// A last page this small is rendered on the runtime thread (no hop to a blocking thread);
/// a larger one would hold that thread's other requests up for milliseconds.
const INLINE: usize = 32;

/// Which machines: the region's filter, and what the API filters on itself afterwards.
pub(crate) struct ListQuery {
    pub filter: MachineFilter,
    /// Any of these architectures (MAAS's `arch=`, with its `amd64` = `amd64/*` rule).
    pub arch: Vec<String>,
    /// All of these tags.
    pub tags: Vec<String>,
}

impl ListQuery {
    fn keeps(&self, m: &Machine) -> bool {
        (self.arch.is_empty()
            || self.arch.iter().any(|a| {
                ingot_core::constraints::arch_matches(a, m.architecture.as_deref().unwrap_or(""))
            }))
            && self.tags.iter().all(|t| m.tags.contains(t))
    }
}

/// The machines `u` sees that match `q`, as one JSON array, streamed.
pub(crate) async fn stream(app: &App, u: &User, q: ListQuery) -> Res {
    let region = app.region.clone();
    let first = region
        .list_machines_page(u, q.filter.clone(), None, PAGE)
        .await?;
    let net = Arc::new(Net::load(&region).await?);
    let pages = Pages {
        region,
        user: u.clone(),
        q: Arc::new(q),
        net,
        next: Some(Ok(first)),
        after: None,
        started: false,
        done: false,
    };
    let body = futures::stream::unfold(pages, |mut p| async move {
        let chunk = p.next_chunk().await?;
        Some((chunk, p))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

/// The list's state between chunks.
struct Pages {
    region: Region,
    user: User,
    q: Arc<ListQuery>,
    net: Arc<Net>,
    /// The page to send next, already read (or the error reading it gave, sent after the
    /// page before it).
    next: Option<std::io::Result<Vec<Machine>>>,
    /// The last id read.
    after: Option<i64>,
    /// Whether the opening bracket has been sent.
    started: bool,
    done: bool,
}

impl Pages {
    /// The JSON of the next page, or `None` after the closing bracket. A page is rendered on a
    /// blocking thread, while this one reads the page after it (reading and rendering each
    /// take a good part of a list's time, and a region has more than one core); a small last
    /// page is rendered here.
    async fn next_chunk(&mut self) -> Option<std::io::Result<Bytes>> {
        if self.done {
            return None;
        }
        let page = match self.next.take() {
            Some(p) => p,
            None => self.read_page().await,
        };
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        let last_page = (page.len() as i64) < PAGE;
        self.after = page.last().map(|m| m.id).or(self.after);
        let opening = !self.started;
        let rendered = if last_page && page.len() <= INLINE {
            render_page(&page, &self.q, &self.net, opening)
        } else {
            let (q, net) = (self.q.clone(), self.net.clone());
            let render = tokio::task::spawn_blocking(move || render_page(&page, &q, &net, opening));
            if !last_page {
                self.next = Some(self.read_page().await);
            }
            render
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)))
        };
        let (mut out, any) = match rendered {
            Ok(r) => r,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        self.started |= any;
        if last_page {
            self.done = true;
            if !self.started {
                out.push(b'[');
            }
            out.push(b']');
        }
        Some(Ok(Bytes::from(out)))
    }

    /// The page after the last id read.
    async fn read_page(&self) -> std::io::Result<Vec<Machine>> {
        self.region
            .list_machines_page(&self.user, self.q.filter.clone(), self.after, PAGE)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "machine list cut short");
                std::io::Error::other(e.to_string())
            })
    }
}

/// A page's machines as JSON, each after a comma, or after the opening bracket for the first
/// one of the list (`opening`: none was sent yet). Also whether it wrote any machine.
fn render_page(
    page: &[Machine],
    q: &ListQuery,
    net: &Net,
    opening: bool,
) -> std::io::Result<(Vec<u8>, bool)> {
    let mut out = Vec::with_capacity(page.len() * 4096 + 2);
    let mut first = opening;
    let mut any = false;
    for m in page.iter().filter(|m| q.keeps(m)) {
        out.push(if first { b'[' } else { b',' });
        first = false;
        any = true;
        serde_json::to_writer(&mut out, &render::machine_out(m, net))
            .map_err(std::io::Error::other)?;
    }
    Ok((out, any))
}
