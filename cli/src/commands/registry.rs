//! Registry flags shared by every command that reads or writes a registry, and the async
//! runtime those commands run on.

use std::future::Future;

use anyhow::Result;
use clap::{ArgAction, Args};
use sigmirror_registry::stall::StallRule;
use sigmirror_registry::{Registry, RegistryOptions};
use zeroize::Zeroizing;

/// cosign's registry flags.
#[derive(Debug, Args, Clone)]
pub struct RegistryArgs {
    /// Use plain HTTP for the registry. Loopback, localhost and private-network registries
    /// use HTTP without it, as in cosign.
    #[arg(long, default_value_t = false, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub allow_http_registry: bool,
    /// Accept invalid TLS certificates (self-signed, expired). Testing only.
    #[arg(long, default_value_t = false, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub allow_insecure_registry: bool,
    /// Registry username (default: ~/.docker/config.json, else anonymous).
    #[arg(long, value_name = "USER")]
    pub registry_username: Option<String>,
    /// Registry password or token (with --registry-username).
    #[arg(long, value_name = "PASSWORD", hide_env_values = true)]
    pub registry_password: Option<String>,
    /// A download that receives less than this many bytes per second, averaged over a
    /// --stall-timeout window (and less than what is left of it), is stopped as stalled.
    /// Suffixes K, M (1024-based) are accepted; 0 turns the check off.
    #[arg(long, value_name = "RATE", default_value = "1K", value_parser = parse_rate,
          env = "SIGMIRROR_MIN_TRANSFER_RATE")]
    pub min_transfer_rate: u64,
    /// The window, in seconds, over which --min-transfer-rate is checked; 0 turns the check
    /// off. A manifest read through a registry that needs credentials must arrive whole within
    /// two windows.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 30,
        env = "SIGMIRROR_STALL_TIMEOUT"
    )]
    pub stall_timeout: u64,
}

/// `1024`, `1K`, `2M`: bytes per second.
fn parse_rate(text: &str) -> std::result::Result<u64, String> {
    let text = text.trim();
    let (digits, factor) = match text.char_indices().last() {
        Some((i, 'K' | 'k')) => (&text[..i], 1024),
        Some((i, 'M' | 'm')) => (&text[..i], 1024 * 1024),
        _ => (text, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("{text:?} is not a rate in bytes per second (such as 1024, 1K, 2M)"))
}

impl RegistryArgs {
    /// The registry client these flags describe.
    pub fn registry(&self) -> Registry {
        Registry::new(RegistryOptions {
            allow_http: self.allow_http_registry,
            allow_insecure: self.allow_insecure_registry,
            username: self.registry_username.clone(),
            password: self.registry_password.clone().map(Zeroizing::new),
            stall: StallRule {
                window: std::time::Duration::from_secs(self.stall_timeout),
                min_rate: self.min_transfer_rate,
            },
        })
    }
}

/// Runs `future` on a multi-threaded runtime, for transfers that write to disk through the
/// blocking pool while downloads go on.
pub fn block_on_parallel<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(future)
}

/// Runs `future` on a runtime owned by this command. One thread is enough: the work is network
/// I/O, which it multiplexes; plugin calls run on the blocking pool. It also keeps a
/// single-image `verify` small and quick to start.
pub fn block_on<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(future)
}
