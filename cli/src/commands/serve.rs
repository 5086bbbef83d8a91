//! `serve`: the store as a read-only OCI registry for a site's clients.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use sigmirror_serve::picture::Current;
use sigmirror_serve::registry::Registry;
use sigmirror_serve::server;

use super::source::StoreArgs;

// Arguments of `serve` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct Serve {
    /// The address to listen on (HOST:PORT).
    #[arg(long, default_value = "127.0.0.1:5000", value_name = "HOST:PORT")]
    addr: String,
    /// Serve HTTPS with this PEM certificate (chain), with --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Require a login from this htpasswd file (bcrypt entries: `htpasswd -B`) on every
    /// request; answered 401 with a Basic challenge otherwise.
    #[arg(long, value_name = "FILE")]
    htpasswd: Option<std::path::PathBuf>,
    /// Do not print a line per request on stderr.
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    store: StoreArgs,
}

impl Serve {
    /// Serves until SIGINT or SIGTERM; requests in flight then finish.
    pub fn run(self) -> Result<()> {
        // Opening checks the folder holds a store (a mistyped --store is not created).
        let root = self.store.open_for_reading()?.root().to_path_buf();
        let current = Current::new(&root, Duration::from_secs(10))
            .with_context(|| format!("cannot read the store {}", root.display()))?;
        let logins = self
            .htpasswd
            .as_deref()
            .map(sigmirror_serve::access::Logins::read)
            .transpose()?;
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(sigmirror_serve::access::tls_config(cert, key)?),
            _ => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let registry = Arc::new(Registry::new(current, logins));
        let log: server::AccessLog = if self.quiet {
            Arc::new(|_: &str| {})
        } else {
            Arc::new(|line: &str| eprintln!("{line}"))
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let mut signals = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
        ])
        .context("cannot install signal handlers")?;
        std::thread::spawn(move || {
            if signals.forever().next().is_some() {
                let _ = tx.send(());
            }
        });
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
            .block_on(async {
                let listener = server::listen(&self.addr).await?;
                let local = listener.local_addr()?;
                eprintln!(
                    "serving {} read-only on {scheme}://{local}/ (repositories as 127.0.0.1-5077/team/app \
                     for 127.0.0.1:5077/team/app); Ctrl-C or SIGTERM stops",
                    root.display()
                );
                server::serve(listener, registry, log, tls, async {
                    let _ = rx.await;
                })
                .await;
                eprintln!("stopped");
                Ok(())
            })
    }
}
