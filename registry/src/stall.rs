//! Telling a slow transfer from a stalled one. reqwest's read timeout only fires when nothing
//! at all arrives for its whole length, so a registry sending one byte a second keeps a
//! download (and the store's lock) forever. Here every response body is watched in windows: in
//! each window at least the minimum rate times the window must arrive, or what is left of the
//! object if that is less; otherwise the transfer ends with an error that names the object,
//! what arrived and the rule it broke.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::time::Instant;

use crate::error::Error;

/// The minimum transfer rate, checked per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StallRule {
    /// The window; zero turns the check off.
    pub window: Duration,
    /// Bytes per second that must arrive, on average over each window.
    pub min_rate: u64,
}

impl Default for StallRule {
    /// 1 KiB/s over 30 s: far below any working link, far above a trickle.
    fn default() -> Self {
        StallRule {
            window: Duration::from_secs(30),
            min_rate: 1024,
        }
    }
}

impl StallRule {
    fn is_off(&self) -> bool {
        self.window.is_zero() || self.min_rate == 0
    }

    /// Bytes that must arrive in one window when `left` bytes remain (if known).
    fn needed(&self, left: Option<u64>) -> u64 {
        let per_window = (self.min_rate as f64 * self.window.as_secs_f64()) as u64;
        left.map_or(per_window, |left| per_window.min(left))
    }
}

/// `body` with the rule applied: it ends with an error naming `what` as soon as a window
/// passes with too little. `expected` is the object's length if announced. Errors of `body`
/// pass through `map`.
pub(crate) fn guard<E>(
    body: impl Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
    expected: Option<u64>,
    rule: StallRule,
    what: String,
    map: impl Fn(E) -> Error + Send + 'static,
) -> impl Stream<Item = std::result::Result<Bytes, Error>> + Send + 'static {
    struct State<S, M> {
        body: std::pin::Pin<Box<S>>,
        map: M,
        received: u64,
        in_window: u64,
        /// Time spent waiting on `body` in this window: only waiting counts, so time the
        /// consumer spends elsewhere (writing to a slow disk or registry) is not held against
        /// the source.
        waited: Duration,
        done: bool,
    }
    /// Whether the window that just ended broke the rule; starts the next one if not.
    fn window_ends<S, M>(st: &mut State<S, M>, rule: StallRule, expected: Option<u64>) -> bool {
        let left = expected.map(|n| n.saturating_sub(st.received));
        if st.in_window < rule.needed(left) {
            return true;
        }
        st.in_window = 0;
        st.waited = Duration::ZERO;
        false
    }
    let state = State {
        body: Box::pin(body),
        map,
        received: 0,
        in_window: 0,
        waited: Duration::ZERO,
        done: false,
    };
    futures_util::stream::unfold(state, move |mut st| {
        let what = what.clone();
        async move {
            if st.done {
                return None;
            }
            // The next chunk is waited for: `--timeout` names it if it is given up on.
            let _waiting = crate::waiting::track(&what);
            loop {
                let next = if rule.is_off() {
                    st.body.next().await
                } else {
                    let started = Instant::now();
                    let remaining = rule.window.saturating_sub(st.waited);
                    tokio::select! {
                        next = st.body.next() => {
                            st.waited += started.elapsed();
                            next
                        }
                        () = tokio::time::sleep(remaining) => {
                            st.waited = rule.window;
                            if window_ends(&mut st, rule, expected) {
                                st.done = true;
                                let error =
                                    stalled(&what, rule, st.in_window, st.received, expected);
                                return Some((Err(error), st));
                            }
                            continue;
                        }
                    }
                };
                return match next {
                    Some(Ok(chunk)) => {
                        st.received += chunk.len() as u64;
                        st.in_window += chunk.len() as u64;
                        let complete = expected.is_some_and(|n| st.received >= n);
                        if !rule.is_off()
                            && !complete
                            && st.waited >= rule.window
                            && window_ends(&mut st, rule, expected)
                        {
                            st.done = true;
                            let error = stalled(&what, rule, st.in_window, st.received, expected);
                            return Some((Err(error), st));
                        }
                        Some((Ok(chunk), st))
                    }
                    Some(Err(e)) => {
                        st.done = true;
                        let error = (st.map)(e);
                        Some((Err(error), st))
                    }
                    None => None,
                };
            }
        }
    })
}

/// The error for a transfer that broke `rule`: `in_window` bytes arrived in the last window,
/// `received` in all.
fn stalled(
    what: &str,
    rule: StallRule,
    in_window: u64,
    received: u64,
    expected: Option<u64>,
) -> Error {
    let of = expected.map_or(String::new(), |n| format!(" of {n}"));
    Error::TimedOut {
        reference: what.to_owned(),
        reason: format!(
            "transfer stalled: {in_window} bytes in the last {} s ({received}{of} in all), below \
             the minimum of {} bytes/s (--min-transfer-rate, --stall-timeout)",
            rule.window.as_secs_f64(),
            rule.min_rate
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trickle(chunks: usize, every: Duration) -> impl Stream<Item = Result<Bytes, Error>> + Send {
        futures_util::stream::unfold(0, move |n| async move {
            if n == chunks {
                return None;
            }
            tokio::time::sleep(every).await;
            Some((Ok(Bytes::from_static(b"x")), n + 1))
        })
    }

    async fn drain(stream: impl Stream<Item = Result<Bytes, Error>>) -> Result<u64, Error> {
        let mut stream = std::pin::pin!(stream);
        let mut n = 0;
        while let Some(chunk) = stream.next().await {
            n += chunk?.len() as u64;
        }
        Ok(n)
    }

    const RULE: StallRule = StallRule {
        window: Duration::from_secs(30),
        min_rate: 1024,
    };

    #[tokio::test(start_paused = true)]
    async fn a_trickle_is_stopped_after_one_window() {
        // One byte a second, 500 announced: 30 bytes in the first window, 470 still missing.
        let guarded = guard(
            trickle(500, Duration::from_secs(1)),
            Some(500),
            RULE,
            "x".into(),
            |e| e,
        );
        let started = Instant::now();
        let error = drain(guarded).await.expect_err("stalled");
        assert_eq!(started.elapsed(), RULE.window);
        let text = error.to_string();
        assert!(
            text.contains("stalled") && text.contains("of 500"),
            "{text}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_small_object_that_arrives_slowly_but_whole_within_a_window_passes() {
        // 20 bytes over 20 s: below the rate, but all of it arrived within the window.
        let guarded = guard(
            trickle(20, Duration::from_secs(1)),
            Some(20),
            RULE,
            "x".into(),
            |e| e,
        );
        assert_eq!(drain(guarded).await.expect("whole"), 20);
    }

    #[tokio::test(start_paused = true)]
    async fn time_the_consumer_spends_elsewhere_is_not_held_against_the_source() {
        let guarded = guard(
            trickle(3, Duration::ZERO),
            Some(3000),
            RULE,
            "x".into(),
            |e| e,
        );
        let mut guarded = std::pin::pin!(guarded);
        for _ in 0..3 {
            guarded.next().await.expect("a chunk").expect("no stall");
            // The consumer writes for two minutes before asking for more.
            tokio::time::sleep(Duration::from_secs(120)).await;
        }
        assert!(guarded.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn the_check_can_be_turned_off() {
        let off = StallRule {
            window: Duration::ZERO,
            ..RULE
        };
        let guarded = guard(
            trickle(100, Duration::from_secs(1)),
            Some(100),
            off,
            "x".into(),
            |e| e,
        );
        assert_eq!(drain(guarded).await.expect("whole"), 100);
    }
}
