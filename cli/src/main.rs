//! `sigmirror`: sign and verify container images, blobs and attestations in cosign's formats,
//! with a local mirror that keeps working where the network ends.
//!
//! This binary only parses arguments, asks for passwords, prints, and maps errors to exit
//! codes; the work is done by the `sigmirror-*` libraries.

/// `println!` that hands back the write error instead of panicking, so that a closed pipe
/// (`sigmirror store ls | head`) ends the command quietly (see `main`).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `print!` that hands back the write error (see [`outln`]).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod commands;
mod cosign_env;
mod exit;
mod input;
mod output;
mod password;
mod progress;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// mimalloc instead of glibc's allocator: glibc's serialises threads that free what another
/// allocated (the index's deferred frees), which held `store verify` on two cores to about
/// one core's speed (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Sign and verify container images, blobs and attestations in cosign's formats, and keep a
/// local mirror of images with their signatures that verifies air-gapped.
#[derive(Debug, Parser)]
#[command(name = "sigmirror", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// Give up on a command that talks to registries after this long, saying what it was
    /// still waiting for (a Go duration as cosign takes it: 30s, 3m0s, 1h; 0 for no limit).
    /// Without it, a registry that stops answering is given up on by the stall rule
    /// (--stall-timeout), and a long pull is never cut short.
    #[arg(long, short = 't', global = true, value_name = "DURATION",
          value_parser = commands::registry::parse_duration)]
    timeout: Option<std::time::Duration>,
    /// Write what the command prints on stdout into FILE (created or truncated), as cosign's
    /// --output-file does; stderr still goes to the terminal.
    #[arg(long, global = true, value_name = "FILE")]
    output_file: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// Each subcommand's arguments are built only when it is invoked (`defer`): building all of
/// them took a third of the instructions of a one-image `verify --offline`, which an admission
/// hook runs once per image. A deferred subcommand's arguments are added after its variant's
/// doc comment became its about, so the argument structs carry no doc comment of their own
/// (it would replace the about); `every_command_keeps_its_about` checks.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
enum Command {
    /// Create a cosign key pair: cosign.key (encrypted, 0600) and cosign.pub.
    ///
    /// The password comes from COSIGN_PASSWORD if set (even empty), else a terminal prompt,
    /// else all of stdin.
    GenerateKeyPair(commands::keys::GenerateKeyPair),
    /// Encrypt an existing EC P-256 private key as a cosign key pair.
    ImportKeyPair(commands::keys::ImportKeyPair),
    /// Print the public key of a private key or key reference.
    PublicKey(commands::keys::PublicKeyCmd),
    /// Sign a file (streamed); prints the base64 signature.
    SignBlob(commands::blob::SignBlob),
    /// Verify a file's signature with a public key.
    VerifyBlob(commands::blob::VerifyBlob),
    /// List the signer plugins found, their schemes, and any that failed to load.
    Plugins(commands::plugins::PluginsCmd),
    /// List PKCS#11 tokens and the pkcs11: URIs of their keys.
    #[command(subcommand)]
    Pkcs11Tool(commands::pkcs11_tool::Pkcs11Tool),
    /// Sign images in a registry (cosign's .sig tag scheme; key-only, no transparency log).
    Sign(commands::image::Sign),
    /// Verify image signatures with a public key; prints the verified payloads.
    Verify(commands::image::Verify),
    /// Print the payload `sign` would sign for an image.
    Generate(commands::image::Generate),
    /// Print where an image's signatures, attestations or SBOMs are stored.
    Triangulate(commands::image::Triangulate),
    /// Show the signatures, attestations and SBOMs attached to an image.
    Tree(commands::image::Tree),
    /// Download what is attached to an image.
    Download(commands::download::Download),
    /// Attest images: sign an in-toto statement (DSSE) and store it at the .att tag.
    Attest(commands::attest::Attest),
    /// Verify image attestations with a public key; prints the verified envelopes.
    VerifyAttestation(commands::attest::VerifyAttestation),
    /// Attest a file: print or write the DSSE envelope.
    AttestBlob(commands::attest::AttestBlob),
    /// Verify a file's attestation envelope with a public key.
    VerifyBlobAttestation(commands::attest::VerifyBlobAttestation),
    /// Attach externally made signatures to an image.
    #[command(subcommand)]
    Attach(commands::attach::Attach),
    /// Upload files or WebAssembly modules as OCI images.
    #[command(subcommand)]
    Upload(commands::attach::Upload),
    /// Remove signatures, attestations and SBOMs attached to an image.
    Clean(commands::attach::Clean),
    /// Copy an image with everything attached from one registry to another, digests unchanged.
    Copy(commands::transfer::Copy),
    /// Save images with everything attached into an OCI image layout (cosign save compatible).
    Save(commands::transfer::Save),
    /// Pull images with everything attached from registries into the local store.
    Pull(commands::mirror::Pull),
    /// Push images with everything attached from the local store to a registry.
    Push(commands::mirror::Push),
    /// Write an OCI image layout's image (cosign save or sigmirror save) with everything
    /// attached to IMAGE in a registry, as cosign load does; `store load` loads into the store.
    Load(commands::mirror::Load),
    /// Mirror the tags of whole repositories, as a sync file says, into stores, registries
    /// and layouts, admitting only images that satisfy their source's policy; writes a report.
    Sync(commands::sync::Sync),
    /// Import the OCI layouts (folders or .tar archives) that land in a drop folder, once
    /// complete, admitting only images that satisfy a policy; processed entries move to done/
    /// or refused/ with a report.
    Watch(commands::watch::Watch),
    /// Inspect and maintain the local store.
    #[command(subcommand)]
    Store(commands::mirror::StoreCmd),
    /// Mount the store as a read-only filesystem of signatures, attestations and verification
    /// status.
    Mount(commands::mount::Mount),
    /// Serve the store as a read-only OCI registry (pull with skopeo, crane, oras, cosign,
    /// containerd).
    Serve(commands::serve::Serve),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completion(commands::shell::Completion),
    /// Write a man page per command into a folder.
    Man(commands::shell::Man),
    /// Manage what the store trusts: keys, Sigstore trusted roots, certificate identities.
    #[command(subcommand)]
    Trust(commands::trust::Trust),
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SIGMIRROR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .without_time()
        .init();
    // A busy store is said at once, not after the wait.
    sigmirror_store::on_lock_wait(|root, holder, wait| {
        eprintln!(
            "store {} is in use by another sigmirror process ({holder}); waiting up to {} s \
             (SIGMIRROR_LOCK_WAIT) for it to finish",
            root.display(),
            wait.as_secs()
        );
    });
    // Every flag also reads cosign's COSIGN_<FLAG> variable (see cosign_env).
    let matches = cosign_env::parse(Cli::command());
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let Some(timeout) = cli.timeout {
        commands::registry::set_timeout(timeout);
    }
    if let Some(Err(e)) = cli.output_file.as_deref().map(output::stdout_into) {
        eprintln!("Error: {}", exit::message(&e));
        return std::process::ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::GenerateKeyPair(cmd) => cmd.run(),
        Command::ImportKeyPair(cmd) => cmd.run(),
        Command::PublicKey(cmd) => cmd.run(),
        Command::SignBlob(cmd) => cmd.run(),
        Command::VerifyBlob(cmd) => cmd.run(),
        Command::Plugins(cmd) => cmd.run(),
        Command::Pkcs11Tool(cmd) => cmd.run(),
        Command::Sign(cmd) => cmd.run(),
        Command::Verify(cmd) => cmd.run(),
        Command::Generate(cmd) => cmd.run(),
        Command::Triangulate(cmd) => cmd.run(),
        Command::Tree(cmd) => cmd.run(),
        Command::Download(cmd) => cmd.run(),
        Command::Attest(cmd) => cmd.run(),
        Command::VerifyAttestation(cmd) => cmd.run(),
        Command::AttestBlob(cmd) => cmd.run(),
        Command::VerifyBlobAttestation(cmd) => cmd.run(),
        Command::Attach(cmd) => cmd.run(),
        Command::Upload(cmd) => cmd.run(),
        Command::Clean(cmd) => cmd.run(),
        Command::Copy(cmd) => cmd.run(),
        Command::Save(cmd) => cmd.run(),
        Command::Pull(cmd) => cmd.run(),
        Command::Push(cmd) => cmd.run(),
        Command::Load(cmd) => cmd.run(),
        Command::Sync(cmd) => cmd.run(),
        Command::Watch(cmd) => cmd.run(),
        Command::Store(cmd) => cmd.run(),
        Command::Mount(cmd) => cmd.run(),
        Command::Serve(cmd) => cmd.run(),
        Command::Trust(cmd) => cmd.run(),
        Command::Completion(cmd) => cmd.run(cosign_env::bind_all(Cli::command())),
        Command::Man(cmd) => cmd.run(cosign_env::bind_all(Cli::command())),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // The reader of our output went away (`| head`): like ripgrep, end quietly.
        Err(error) if exit::is_broken_pipe(&error) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            if error.downcast_ref::<exit::AlreadyReported>().is_none() {
                eprintln!("Error: {}", exit::message(&error));
            }
            std::process::ExitCode::from(exit::code_for(&error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Each command's about and long about are its variant's doc comment, not that of a struct
    /// of its arguments (its own or a flattened one): with deferred subcommands a struct's doc
    /// comment would replace them (see `Command`).
    #[test]
    fn every_command_keeps_its_about() {
        let shells = Cli::command();
        let mut built = Cli::command();
        built.build();
        let text = |s: Option<&clap::builder::StyledStr>| s.map(ToString::to_string);
        let mut seen = 0;
        for shell in shells.get_subcommands() {
            let command = built
                .find_subcommand(shell.get_name())
                .expect("the same commands");
            assert!(shell.get_about().is_some(), "{}", shell.get_name());
            assert_eq!(
                text(command.get_about()),
                text(shell.get_about()),
                "{}",
                shell.get_name()
            );
            assert_eq!(
                text(command.get_long_about()),
                text(shell.get_long_about()),
                "{}",
                shell.get_name()
            );
            seen += 1;
        }
        assert!(seen > 25, "only {seen} commands");
        let verify = built.find_subcommand("verify").expect("verify");
        assert!(verify.get_arguments().any(|a| a.get_long() == Some("key")));
    }
}
