//! The blocking HTTP client the backends share, and error text that says what failed.
//!
//! reqwest's blocking client runs its own small runtime on a thread it owns; the host calls
//! plugins from plain or `spawn_blocking` threads, and this library's copy of tokio never sees
//! the host's runtime, so nothing async crosses the ABI.

use std::time::Duration;

use reqwest::blocking::{Client, ClientBuilder};

/// How long one request may take before the user gets an error instead of a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long to wait for a TCP/TLS connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A builder with the plugin's timeouts; backends add TLS settings.
pub fn builder() -> ClientBuilder {
    Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("sigmirror-kms-plugin/", env!("CARGO_PKG_VERSION")))
}

/// Builds the client, with a readable error.
pub fn build(builder: ClientBuilder) -> Result<Client, String> {
    builder
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {}", chain(&e)))
}

/// `e` and its sources on one line ("error sending request …: tcp connect error: Connection
/// refused"), because the top-level message alone hides the cause.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// The message for a request that got no HTTP answer at all (server down, DNS, TLS).
pub fn unreachable(service: &str, url: &str, e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else {
        "failed"
    };
    format!(
        "cannot reach {service} at {url} (request {what}): {}",
        chain(e)
    )
}
