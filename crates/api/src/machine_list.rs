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

/// Machines read, rendered and sent at a time (about 2 MB of JSON).
const PAGE: i64 = 500;

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
    let net = Net::load(&region).await?;
    let pages = Pages {
        region,
        user: u.clone(),
        q,
        net,
        next: Some(first),
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
    q: ListQuery,
    net: Net,
    /// A page already read (the first one).
    next: Option<Vec<Machine>>,
    /// The last id sent.
    after: Option<i64>,
    /// Whether the opening bracket has been sent.
    started: bool,
    done: bool,
}

impl Pages {
    /// The JSON of the next page, or `None` after the closing bracket.
    async fn next_chunk(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        if self.done {
            return None;
        }
        let page = match self.next.take() {
            Some(p) => p,
            None => {
                let read = self
                    .region
                    .list_machines_page(&self.user, self.q.filter.clone(), self.after, PAGE)
                    .await;
                match read {
                    Ok(p) => p,
                    Err(e) => {
                        self.done = true;
                        tracing::warn!(error = %e, "machine list cut short");
                        return Some(Err(std::io::Error::other(e.to_string())));
                    }
                }
            }
        };
        let last_page = (page.len() as i64) < PAGE;
        self.after = page.last().map(|m| m.id).or(self.after);
        let mut out = Vec::with_capacity(page.len() * 4096 + 2);
        for m in page.iter().filter(|m| self.q.keeps(m)) {
            out.push(if self.started { b',' } else { b'[' });
            self.started = true;
            if let Err(e) = serde_json::to_writer(&mut out, &render::machine_out(m, &self.net)) {
                self.done = true;
                return Some(Err(std::io::Error::other(e)));
            }
        }
        if last_page {
            self.done = true;
            if !self.started {
                out.push(b'[');
            }
            out.push(b']');
        }
        Some(Ok(Bytes::from(out)))
    }
}
