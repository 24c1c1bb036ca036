//! What a request has seen of the database, for the request's task only:
//! - whether it may have changed it: noted when a COMMIT is sent (or a statement that commits
//!   by itself). A request that fails for want of the database after that must not be
//!   answered "not done, try again": its change may have been made (the COMMIT went out; the
//!   database went away before its answer came, or before the result could be read back),
//!   and a client that repeats it on a 503 with `Retry-After` — Juju's gomaasapi does so for
//!   every request, allocations included — would make it twice.
//! - whether the database could not be reached: then its later writes (an error's event, the
//!   undoing of a first step) fail at once instead of each waiting out the pool's timeout, so
//!   that the request is answered within one timeout.

use std::cell::Cell;
use std::future::Future;

#[derive(Default)]
struct Seen {
    wrote: Cell<bool>,
    away: Cell<bool>,
}

tokio::task_local! {
    static SEEN: Seen;
}

/// Run `f` (one request), noting what it sees of the database.
pub async fn watching_writes<F: Future>(f: F) -> F::Output {
    SEEN.scope(Seen::default(), f).await
}

/// Whether the request being served may have changed the database so far (`false` outside
/// [`watching_writes`]).
pub fn may_have_written() -> bool {
    SEEN.try_with(|s| s.wrote.get()).unwrap_or(false)
}

/// Note that a change may be made from here on (nothing outside [`watching_writes`]).
pub(crate) fn wrote() {
    let _ = SEEN.try_with(|s| s.wrote.set(true));
}

/// Note that the database could not be reached.
pub(crate) fn away() {
    let _ = SEEN.try_with(|s| s.away.set(true));
}

/// Whether the request being served found the database unreachable already.
pub(crate) fn found_away() -> bool {
    SEEN.try_with(|s| s.away.get()).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn noted_within_its_request_only() {
        wrote();
        away();
        assert!(
            !may_have_written() && !found_away(),
            "nothing outside a request"
        );
        let (before, after) = watching_writes(async {
            let before = (may_have_written(), found_away());
            tokio::task::yield_now().await;
            wrote();
            away();
            (before, (may_have_written(), found_away()))
        })
        .await;
        assert_eq!((before, after), ((false, false), (true, true)));
        let fresh = watching_writes(async { (may_have_written(), found_away()) }).await;
        assert_eq!(fresh, (false, false), "each request starts clean");
    }
}
