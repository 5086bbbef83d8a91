//! Retrying what a registry says may work later, as go-containerregistry (cosign's registry
//! library) does: answers 408, 429, 500, 502, 503 and 504, and connections that could not be
//! made, are tried again, up to [`ATTEMPTS`] times in all, after an exponential
//! backoff or, where the registry sends one, after its `Retry-After` (in seconds) if that is at
//! most [`MAX_RETRY_AFTER`]. A registry asking for a longer wait gets its answer reported at
//! once rather than a command that sleeps for an hour. The final error says how many attempts
//! were made.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// Attempts per request, the first included.
pub const ATTEMPTS: u32 = 4;

/// The longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The wait before the first retry; each further one doubles it (0.5 s, 1 s, 2 s).
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// How many attempts a response or error came from: put in the extensions of the last response
/// by the plain-HTTP reader, so that the error made from it can say so.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempts(pub u32);

/// Whether an HTTP status says "try again later".
pub(crate) fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Whether a transport error may pass: the connection could not be made. A request that timed
/// out is not tried again: it has already waited the whole timeout, and four of them would turn
/// one stalled registry into minutes of silence.
pub(crate) fn retryable_transport(e: &reqwest::Error) -> bool {
    e.is_connect()
}

/// The wait before attempt `attempt + 1` (attempts count from 1) after an answer with
/// `headers`; `None` if no further attempt should be made (attempts used up, or the registry
/// asks for more than [`MAX_RETRY_AFTER`]).
pub(crate) fn delay(attempt: u32, headers: Option<&HeaderMap>) -> Option<Duration> {
    if attempt >= ATTEMPTS {
        return None;
    }
    match headers.and_then(retry_after) {
        Some(wait) if wait > MAX_RETRY_AFTER => None,
        Some(wait) => Some(wait),
        None => Some(FIRST_BACKOFF * 2u32.pow(attempt - 1)),
    }
}

/// A `Retry-After` in seconds; an HTTP-date is not parsed (the backoff applies then).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// What to add to an error when the registry asked for a longer wait than is honoured.
pub(crate) fn wait_refused(status: StatusCode, headers: &HeaderMap) -> String {
    match retry_after(headers) {
        Some(wait) if retryable_status(status.as_u16()) && wait > MAX_RETRY_AFTER => format!(
            " (the registry asked to be tried again after {} s, longer than the {} s sigmirror \
             waits)",
            wait.as_secs(),
            MAX_RETRY_AFTER.as_secs()
        ),
        _ => String::new(),
    }
}

/// " (after N attempts)" when more than one was made, for error messages.
pub(crate) fn after(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

/// Whether `status` is worth another attempt, given the attempt it came from and its headers.
pub(crate) fn retry_wait(
    status: StatusCode,
    attempt: u32,
    headers: &HeaderMap,
) -> Option<Duration> {
    if retryable_status(status.as_u16()) {
        delay(attempt, Some(headers))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn with_retry_after(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn backoff_doubles_and_attempts_are_bounded() {
        assert_eq!(delay(1, None), Some(Duration::from_millis(500)));
        assert_eq!(delay(2, None), Some(Duration::from_secs(1)));
        assert_eq!(delay(3, None), Some(Duration::from_secs(2)));
        assert_eq!(delay(ATTEMPTS, None), None);
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_limit() {
        assert_eq!(
            delay(1, Some(&with_retry_after("3"))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            delay(1, Some(&with_retry_after("60"))),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(delay(1, Some(&with_retry_after("61"))), None);
        // A date is not parsed: the backoff applies.
        let date = with_retry_after("Wed, 21 Oct 2026 07:28:00 GMT");
        assert_eq!(delay(1, Some(&date)), Some(Duration::from_millis(500)));
    }

    #[test]
    fn only_transient_statuses_are_retried() {
        let h = HeaderMap::new();
        for code in [408, 429, 500, 502, 503, 504] {
            let status = StatusCode::from_u16(code).unwrap();
            assert!(retry_wait(status, 1, &h).is_some(), "{code}");
        }
        for code in [200, 400, 401, 403, 404, 405, 501] {
            let status = StatusCode::from_u16(code).unwrap();
            assert!(retry_wait(status, 1, &h).is_none(), "{code}");
        }
    }
}
