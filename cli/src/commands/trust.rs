//! `trust`: what the store trusts, by name. Keys (`trust add/ls/rm`), Sigstore trusted roots
//! (`trust root add/ls/rm`) and certificate identities under them (`trust identity add/ls/rm`).
//! The mounted view shows a signature under `verified/<name>` for each name that verifies it;
//! `--offline` verification reads the trusted roots from here. `trust sigstore` brings
//! Sigstore's trusted root in through TUF.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use sigmirror_cosign::keys::PublicKey;
use sigmirror_cosign::sigstore::IdentitySpec;
use sigmirror_oci::digest::Sha256Digest;
use sigmirror_store::{Store, TrustKind};

use super::source::StoreArgs;
use super::verifier::{IdentityArgs, TrustArgs};

/// `trust` subcommands.
#[derive(Debug, Subcommand)]
pub enum Trust {
    /// Trust a public key (PEM); its name appears as `verified/<name>` in the view.
    Add(TrustAdd),
    /// List the trusted keys.
    Ls(TrustStore),
    /// Stop trusting a key.
    Rm(TrustRm),
    /// Sigstore trusted roots, for keyless verification offline.
    #[command(subcommand)]
    Root(TrustRoot),
    /// Certificate identities trusted under the store's trusted roots.
    #[command(subcommand)]
    Identity(TrustIdentity),
    /// Sigstore's trusted root through TUF: verified updates, carried across an air gap.
    #[command(subcommand)]
    Sigstore(TrustSigstore),
}

/// `trust sigstore` subcommands.
#[derive(Debug, Subcommand)]
pub enum TrustSigstore {
    /// Update from a TUF repository (default: Sigstore's public-good one) and trust its
    /// trusted_root.json; the verified repository is kept in the store for `export`.
    Pull(TufPull),
    /// Copy the verified TUF repository kept in the store to a folder, to carry it inside.
    Export(TufExport),
    /// Verify a carried TUF repository from a root you pin, and trust its trusted_root.json.
    Import(TufImport),
}

/// Arguments of `trust sigstore pull`.
#[derive(Debug, Args)]
pub struct TufPull {
    #[command(flatten)]
    store: StoreArgs,
    /// The TUF repository (its metadata at the top, targets under targets/).
    #[arg(long, value_name = "URL", default_value = sigmirror_tuf::SIGSTORE_REPOSITORY)]
    repository: String,
    /// The root metadata to start from (required for another repository; default for the
    /// public-good one: its root, shipped with sigmirror).
    #[arg(long, value_name = "FILE")]
    root: Option<PathBuf>,
    /// Name of the trusted root in the store.
    #[arg(long, default_value = "sigstore")]
    name: String,
}

/// Arguments of `trust sigstore export`.
#[derive(Debug, Args)]
pub struct TufExport {
    #[command(flatten)]
    store: StoreArgs,
    /// Which kept repository.
    #[arg(long, default_value = "sigstore")]
    name: String,
    /// The folder to write (must not exist).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

/// Arguments of `trust sigstore import`.
#[derive(Debug, Args)]
pub struct TufImport {
    #[command(flatten)]
    store: StoreArgs,
    /// The root metadata you trust (brought in separately, e.g. the version you checked).
    #[arg(long, value_name = "FILE")]
    root: PathBuf,
    /// Name of the trusted root in the store.
    #[arg(long, default_value = "sigstore")]
    name: String,
    /// The exported folder.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

/// Arguments of `trust add`.
#[derive(Debug, Args)]
pub struct TrustAdd {
    /// Name of the key (default: the file name without `.pub`).
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
    /// The public key PEM file.
    #[arg(value_name = "KEY")]
    key: PathBuf,
}

/// Arguments of the `ls` subcommands.
#[derive(Debug, Args)]
pub struct TrustStore {
    #[command(flatten)]
    store: StoreArgs,
}

/// Arguments of the `rm` subcommands.
#[derive(Debug, Args)]
pub struct TrustRm {
    #[command(flatten)]
    store: StoreArgs,
    /// The name.
    #[arg(value_name = "NAME")]
    name: String,
}

/// `trust root` subcommands.
#[derive(Debug, Subcommand)]
pub enum TrustRoot {
    /// Keep a Sigstore trusted root (trusted_root.json, e.g. from Sigstore's TUF repository)
    /// in the store; all the store's roots are trusted together.
    Add(TrustRootAdd),
    /// List the trusted roots and what each trusts.
    Ls(TrustStore),
    /// Remove a trusted root.
    Rm(TrustRm),
}

/// Arguments of `trust root add`.
#[derive(Debug, Args)]
pub struct TrustRootAdd {
    #[command(flatten)]
    store: StoreArgs,
    /// Name of the root (e.g. public-good).
    #[arg(value_name = "NAME")]
    name: String,
    /// The trusted root JSON file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

/// `trust identity` subcommands.
#[derive(Debug, Subcommand)]
pub enum TrustIdentity {
    /// Trust signatures from certificates with this identity; its name appears as
    /// `verified/<name>` in the view.
    Add(Box<TrustIdentityAdd>),
    /// List the trusted identities.
    Ls(TrustStore),
    /// Stop trusting an identity.
    Rm(TrustRm),
}

/// Arguments of `trust identity add`.
#[derive(Debug, Args)]
pub struct TrustIdentityAdd {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    identity: IdentityArgs,
    /// Name of the identity (e.g. release-ci).
    #[arg(value_name = "NAME")]
    name: String,
}

/// Refuses a name already used by the other kind of `verified/<name>` entry.
fn check_unused(store: &Store, kind: TrustKind, name: &str) -> Result<()> {
    let other = match kind {
        TrustKind::Key => TrustKind::Identity,
        _ => TrustKind::Key,
    };
    if store.trusted(other).iter().any(|(n, _)| n == name) {
        bail!(
            "the name {name} is already used by a trusted {}; choose another",
            match other {
                TrustKind::Key => "key",
                _ => "identity",
            }
        );
    }
    Ok(())
}

fn remove(store: &StoreArgs, kind: TrustKind, name: &str) -> Result<()> {
    store
        .open()?
        .remove_trusted(kind, name)
        .with_context(|| format!("cannot stop trusting {name}"))
}

impl Trust {
    /// Runs the subcommand.
    pub fn run(self) -> Result<()> {
        match self {
            Trust::Add(a) => {
                let pem = crate::input::read_bounded(&a.key, crate::input::SMALL, "public key")?;
                let key = PublicKey::from_pem(&pem)
                    .with_context(|| format!("{} is not a usable public key", a.key.display()))?;
                let name = match a.name {
                    Some(n) => n,
                    None => a
                        .key
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                };
                let store = a.store.open()?;
                check_unused(&store, TrustKind::Key, &name)?;
                store
                    .add_trusted_key(&name, key.to_pem().as_bytes())
                    .context("cannot add the key")?;
                eprintln!("trusting {} as {name}", a.key.display());
                Ok(())
            }
            Trust::Ls(a) => {
                let store = a.store.open()?;
                for (name, pem) in store.trusted_keys() {
                    match PublicKey::from_pem(&pem) {
                        Ok(key) => outln!("{name}\t{}", Sha256Digest::of(&key.to_spki_der()))?,
                        Err(e) => outln!("{name}\tunusable: {e}")?,
                    }
                }
                Ok(())
            }
            Trust::Rm(a) => remove(&a.store, TrustKind::Key, &a.name),
            Trust::Root(cmd) => cmd.run(),
            Trust::Identity(cmd) => cmd.run(),
            Trust::Sigstore(cmd) => cmd.run(),
        }
    }
}

impl TrustRoot {
    /// Runs the subcommand.
    pub fn run(self) -> Result<()> {
        match self {
            TrustRoot::Add(a) => {
                // Parsed first: a root that does not load would make every keyless check fail.
                TrustArgs::read_trusted_root(&a.file)?;
                let bytes = crate::input::read_bounded(
                    &a.file,
                    crate::input::TRUSTED_ROOT,
                    "trusted root",
                )?;
                a.store
                    .open()?
                    .add_trusted(TrustKind::Root, &a.name, &bytes)
                    .context("cannot add the trusted root")?;
                eprintln!(
                    "trusting the Sigstore root {} as {}",
                    a.file.display(),
                    a.name
                );
                Ok(())
            }
            TrustRoot::Ls(a) => {
                let store = a.store.open()?;
                for (name, json) in store.trusted(TrustKind::Root) {
                    match sigmirror_cosign::sigstore::TrustedRoot::from_json(&json) {
                        Ok(root) => outln!(
                            "{name}\t{} certificate authorities, {} transparency logs, {} CT logs, {} timestamp authorities",
                            root.certificate_authorities.len(),
                            root.tlogs.len(),
                            root.ctlogs.len(),
                            root.timestamp_authorities.len()
                        )?,
                        Err(e) => outln!("{name}\tunusable: {e}")?,
                    }
                }
                Ok(())
            }
            TrustRoot::Rm(a) => remove(&a.store, TrustKind::Root, &a.name),
        }
    }
}

impl TrustIdentity {
    /// Runs the subcommand.
    pub fn run(self) -> Result<()> {
        match self {
            TrustIdentity::Add(a) => {
                let spec = a.identity.spec();
                spec.policy()?;
                let store = a.store.open()?;
                check_unused(&store, TrustKind::Identity, &a.name)?;
                let json = serde_json::to_vec_pretty(&spec).expect("an identity serializes");
                store
                    .add_trusted(TrustKind::Identity, &a.name, &json)
                    .context("cannot add the identity")?;
                if sigmirror_fusefs::trust::trusted_root(store.root())
                    .ok()
                    .flatten()
                    .is_none()
                {
                    eprintln!(
                        "note: the store has no trusted root yet; add one with \
                         `sigmirror trust root add NAME FILE`"
                    );
                }
                eprintln!("trusting the identity as {}", a.name);
                Ok(())
            }
            TrustIdentity::Ls(a) => {
                let store = a.store.open()?;
                for (name, json) in store.trusted(TrustKind::Identity) {
                    match serde_json::from_slice::<IdentitySpec>(&json) {
                        Ok(spec) => outln!("{name}\t{}", describe(&spec))?,
                        Err(e) => outln!("{name}\tunusable: {e}")?,
                    }
                }
                Ok(())
            }
            TrustIdentity::Rm(a) => remove(&a.store, TrustKind::Identity, &a.name),
        }
    }
}

/// One line: identity and issuer, exact or /regexp/.
fn describe(spec: &IdentitySpec) -> String {
    let either = |exact: &Option<String>, regexp: &Option<String>| match (exact, regexp) {
        (Some(e), _) => e.clone(),
        (None, Some(r)) => format!("/{r}/"),
        (None, None) => "?".into(),
    };
    format!(
        "{} issued by {}",
        either(
            &spec.certificate_identity,
            &spec.certificate_identity_regexp
        ),
        either(
            &spec.certificate_oidc_issuer,
            &spec.certificate_oidc_issuer_regexp
        )
    )
}

/// Where the store keeps the TUF state of `name`: what updates saw (rollback protection) and
/// the verified repository (for export).
fn tuf_dirs(store: &Store, name: &str) -> Result<(PathBuf, PathBuf)> {
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        || name.starts_with('.')
        || name.is_empty()
    {
        bail!("invalid name {name:?}: use letters, digits, '-', '_' and '.' (not first)");
    }
    let base = store.root().join("tuf").join(name);
    Ok((base.join("datastore"), base.join("repository")))
}

/// Runs a verified update and trusts its trusted root under `name`; nothing changes on failure.
fn tuf_update(store: &StoreArgs, repository: &str, root: &[u8], name: &str) -> Result<()> {
    let store = store.open()?;
    let (datastore, keep) = tuf_dirs(&store, name)?;
    let updated = super::registry::block_on(async {
        Ok(sigmirror_tuf::update(repository, root, &datastore, &keep).await?)
    })?;
    sigmirror_cosign::sigstore::TrustedRoot::from_json(&updated.trusted_root)
        .context("the TUF repository's trusted_root.json is not a usable trusted root")?;
    store
        .add_trusted(TrustKind::Root, name, &updated.trusted_root)
        .context("cannot add the trusted root")?;
    eprintln!(
        "verified {repository}: root version {}, timestamp version {} (expires {}); trusting its {} as {name}",
        updated.root_version,
        updated.timestamp_version,
        updated.expires,
        sigmirror_tuf::TRUSTED_ROOT_TARGET
    );
    Ok(())
}

impl TrustSigstore {
    /// Runs the subcommand.
    pub fn run(self) -> Result<()> {
        match self {
            TrustSigstore::Pull(a) => {
                let root = match &a.root {
                    Some(path) => {
                        crate::input::read_bounded(path, crate::input::SMALL, "root metadata")?
                    }
                    None if a.repository == sigmirror_tuf::SIGSTORE_REPOSITORY => {
                        sigmirror_tuf::SIGSTORE_ROOT.to_vec()
                    }
                    None => bail!("--root FILE is required for a repository other than Sigstore's"),
                };
                tuf_update(&a.store, &a.repository, &root, &a.name)
            }
            TrustSigstore::Export(a) => {
                let store = a.store.open()?;
                let (_, keep) = tuf_dirs(&store, &a.name)?;
                if !keep.is_dir() {
                    bail!(
                        "no verified TUF repository {} in the store: run `sigmirror trust sigstore pull` first",
                        a.name
                    );
                }
                if a.dir.exists() {
                    bail!("{} exists; export writes a new folder", a.dir.display());
                }
                copy_dir(&keep, &a.dir)?;
                eprintln!(
                    "exported the verified TUF repository {} to {}",
                    a.name,
                    a.dir.display()
                );
                Ok(())
            }
            TrustSigstore::Import(a) => {
                let root =
                    crate::input::read_bounded(&a.root, crate::input::SMALL, "root metadata")?;
                let dir = a.dir.to_str().context("the folder's path is not UTF-8")?;
                tuf_update(&a.store, dir, &root, &a.name)
            }
        }
    }
}

/// Copies a folder of plain files and folders.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("cannot write {}", target.display()))?;
        }
    }
    Ok(())
}
