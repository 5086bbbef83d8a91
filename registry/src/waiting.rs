//! What this process is waiting on the network for, so that a command given up on as a whole
//! (`--timeout`) can say which host and object it was still waiting for, and for how long.
//! Every request registers while it is in flight; a blob's body registers while it streams.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Requests in flight, by ticket.
static IN_FLIGHT: Mutex<BTreeMap<u64, (String, Instant)>> = Mutex::new(BTreeMap::new());
static NEXT_TICKET: AtomicU64 = AtomicU64::new(0);

/// Something the process waits for: the object (`registry/repo:tag`, `registry/repo@digest`)
/// and how long it has been waited for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The object, its registry host first.
    pub what: String,
    /// Time since its request was sent.
    pub waited: Duration,
}

/// Registers `what` as waited for until the returned guard is dropped.
pub(crate) fn track(what: &str) -> Ticket {
    let ticket = NEXT_TICKET.fetch_add(1, Ordering::Relaxed);
    IN_FLIGHT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(ticket, (what.to_owned(), Instant::now()));
    Ticket(ticket)
}

/// The longest wait in progress, if any request is in flight.
pub fn longest() -> Option<Waiting> {
    IN_FLIGHT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .min_by_key(|(_, since)| *since)
        .map(|(what, since)| Waiting {
            what: what.clone(),
            waited: since.elapsed(),
        })
}

/// A registered wait, ended when dropped (a request that completes, fails or is cancelled).
#[derive(Debug)]
pub(crate) struct Ticket(u64);

impl Drop for Ticket {
    fn drop(&mut self) {
        IN_FLIGHT
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_wait_is_reported_until_its_ticket_drops() {
        let first = track("waiting.test/a:1");
        std::thread::sleep(Duration::from_millis(5));
        let second = track("waiting.test/b:2");
        let oldest = longest().expect("two waits");
        // Other tests of this binary may track too; ours is older than `second` at least.
        assert_ne!(oldest.what, "waiting.test/b:2");
        drop(first);
        drop(second);
        assert!(longest().is_none_or(|w| !w.what.starts_with("waiting.test/")));
    }
}
