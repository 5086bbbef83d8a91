//! Registry flags shared by every command that reads or writes a registry, and the async
//! runtime those commands run on.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use sigmirror_registry::stall::StallRule;
use sigmirror_registry::{Registry, RegistryOptions};
use zeroize::Zeroizing;

// cosign's registry flags.
// (Plain comments: a flattened struct's doc comment would replace the about of the
// commands that flatten it, see `Command` in main.rs.)
#[derive(Debug, Args, Clone)]
pub struct RegistryArgs {
    /// Use plain HTTP for the registry. Loopback, localhost and private-network registries
    /// use HTTP without it, as in cosign.
    #[arg(long)]
    pub allow_http_registry: bool,
    /// Accept invalid TLS certificates (self-signed, expired). Testing only.
    #[arg(long)]
    pub allow_insecure_registry: bool,
    /// Registry username (default: ~/.docker/config.json, else anonymous).
    #[arg(long, value_name = "USER")]
    pub registry_username: Option<String>,
    /// Registry password or token (with --registry-username). Visible to other users of this
    /// machine in the process list: prefer the environment variable or --registry-password-stdin.
    #[arg(
        long,
        value_name = "PASSWORD",
        hide_env_values = true,
        env = "SIGMIRROR_REGISTRY_PASSWORD",
        conflicts_with = "registry_password_stdin"
    )]
    pub registry_password: Option<String>,
    /// Read the registry password or token from stdin (one trailing newline removed), as
    /// `docker login --password-stdin` does. A key password then cannot come from stdin.
    #[arg(long)]
    pub registry_password_stdin: bool,
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
    /// The registry client these flags describe. A username needs a password and a password a
    /// username: a half given login would otherwise be sent as it is, or ignored.
    pub fn registry(&self) -> Result<Registry> {
        let password = if self.registry_password_stdin {
            Some(read_password_stdin()?)
        } else {
            self.registry_password.clone().map(Zeroizing::new)
        };
        match (&self.registry_username, &password) {
            (Some(_), None) => bail!(
                "--registry-username needs a password: give --registry-password, set \
                 SIGMIRROR_REGISTRY_PASSWORD, or pipe it with --registry-password-stdin"
            ),
            (None, Some(_)) => bail!(
                "a registry password was given (--registry-password, \
                 SIGMIRROR_REGISTRY_PASSWORD or --registry-password-stdin) without \
                 --registry-username"
            ),
            _ => {}
        }
        Ok(Registry::new(RegistryOptions {
            allow_http: self.allow_http_registry,
            allow_insecure: self.allow_insecure_registry,
            username: self.registry_username.clone(),
            password,
            stall: StallRule {
                window: std::time::Duration::from_secs(self.stall_timeout),
                min_rate: self.min_transfer_rate,
            },
        }))
    }
}

/// The registry password from stdin, without one trailing newline (`echo "$TOKEN" | …`).
fn read_password_stdin() -> Result<Zeroizing<String>> {
    use std::io::Read as _;
    let mut text = Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut text)
        .context("--registry-password-stdin: reading stdin")?;
    let trimmed = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if trimmed.is_empty() {
        bail!("--registry-password-stdin: stdin was empty");
    }
    Ok(Zeroizing::new(trimmed.to_owned()))
}

/// The whole command's deadline (`--timeout`), set once by `main`.
static TIMEOUT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();

/// Sets the deadline every network command's work runs under (cosign's `--timeout`).
pub fn set_timeout(timeout: Duration) {
    let _ = TIMEOUT.set(timeout);
}

/// `--timeout` as cosign takes it: a Go duration (`30s`, `3m0s`, `1h30m`, `500ms`), or plain
/// seconds; `0` for none.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration (such as 30s, 3m0s, 1h30m, 500ms)");
    let text = text.trim();
    if text.is_empty() {
        return Err(bad());
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..number_end].parse().map_err(|_| bad())?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = &rest[unit_end..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// `future` under the `--timeout` deadline, if one was given. A command given up on names what
/// it was still waiting for, from whom, and for how long (the registry crate tracks requests
/// in flight); that is read before the work is dropped, while its requests are still there.
async fn within_timeout<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    let Some(&limit) = TIMEOUT.get().filter(|d| !d.is_zero()) else {
        return future.await;
    };
    // The deadline is fixed now, before the work is first polled.
    let deadline = tokio::time::sleep(limit);
    let expired = async {
        deadline.await;
        sigmirror_registry::waiting::longest()
    };
    tokio::select! {
        result = future => result,
        waiting = expired => {
            let limit = format!("{:.1} s", limit.as_secs_f64());
            match waiting {
                Some(w) => bail!(
                    "timed out after {limit} (--timeout): still waiting for {}, for {:.1} s",
                    w.what,
                    w.waited.as_secs_f64()
                ),
                None => bail!("timed out after {limit} (--timeout)"),
            }
        }
    }
}

/// Runs `future` on a multi-threaded runtime, for transfers that write to disk through the
/// blocking pool while downloads go on.
pub fn block_on_parallel<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(within_timeout(future))
}

/// Runs `future` on a runtime owned by this command. One thread is enough: the work is network
/// I/O, which it multiplexes; plugin calls run on the blocking pool. It also keeps a
/// single-image `verify` small and quick to start.
pub fn block_on<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(within_timeout(future))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_go_writes_them() {
        assert_eq!(parse_duration("3m0s"), Ok(Duration::from_secs(180)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "s", "10x", "1h-", "ten seconds", "1..5s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }
}
