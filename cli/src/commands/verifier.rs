//! Who a verifying command trusts, from cosign's flags: `--key`, or a certificate identity
//! (`--certificate-identity`, `--certificate-oidc-issuer`, their `-regexp` forms, the GitHub
//! workflow claims) under a Sigstore trusted root (`--trusted-root`, the store's roots, or
//! cosign's private-infrastructure inputs: `--certificate-chain`, `--ca-roots`,
//! `--ca-intermediates`, `SIGSTORE_ROOT_FILE`, `SIGSTORE_REKOR_PUBLIC_KEY`,
//! `SIGSTORE_CT_LOG_PUBLIC_KEY_FILE`, `SIGSTORE_TSA_CERTIFICATE_FILE`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use sigmirror_cosign::sigstore::keys::PublicKey as SigstoreKey;
use sigmirror_cosign::sigstore::{
    Certificate, IdentitySpec, Options, Policy, TrustedRoot, trusted_root,
};
use sigmirror_cosign::verifier::{SigstoreVerifier, Verifier};

// The certificate identity flags.
// (Plain comments: a flattened struct's doc comment would replace the about of the
// commands that flatten it, see `Command` in main.rs.)
#[derive(Debug, Args, Clone, Default)]
pub struct IdentityArgs {
    /// The identity (SAN: URI or e-mail) the signing certificate must carry.
    #[arg(long, value_name = "IDENTITY")]
    certificate_identity: Option<String>,
    /// A regular expression the certificate identity must match (unanchored, like cosign).
    #[arg(long, value_name = "REGEXP")]
    certificate_identity_regexp: Option<String>,
    /// The OIDC issuer the signing certificate must name.
    #[arg(long, value_name = "URL")]
    certificate_oidc_issuer: Option<String>,
    /// A regular expression the OIDC issuer must match.
    #[arg(long, value_name = "REGEXP")]
    certificate_oidc_issuer_regexp: Option<String>,
    /// The GitHub workflow trigger the certificate must name (e.g. push).
    #[arg(long, value_name = "TRIGGER")]
    certificate_github_workflow_trigger: Option<String>,
    /// The GitHub workflow commit SHA the certificate must name.
    #[arg(long, value_name = "SHA")]
    certificate_github_workflow_sha: Option<String>,
    /// The GitHub workflow name the certificate must name.
    #[arg(long, value_name = "NAME")]
    certificate_github_workflow_name: Option<String>,
    /// The GitHub repository (owner/name) the certificate must name.
    #[arg(long, value_name = "REPOSITORY")]
    certificate_github_workflow_repository: Option<String>,
    /// The git ref the certificate must name (e.g. refs/heads/main).
    #[arg(long, value_name = "REF")]
    certificate_github_workflow_ref: Option<String>,
}

impl IdentityArgs {
    /// The identity as the store keeps it.
    pub fn spec(&self) -> IdentitySpec {
        IdentitySpec {
            certificate_identity: self.certificate_identity.clone(),
            certificate_identity_regexp: self.certificate_identity_regexp.clone(),
            certificate_oidc_issuer: self.certificate_oidc_issuer.clone(),
            certificate_oidc_issuer_regexp: self.certificate_oidc_issuer_regexp.clone(),
            github_workflow_trigger: self.certificate_github_workflow_trigger.clone(),
            github_workflow_sha: self.certificate_github_workflow_sha.clone(),
            github_workflow_name: self.certificate_github_workflow_name.clone(),
            github_workflow_repository: self.certificate_github_workflow_repository.clone(),
            github_workflow_ref: self.certificate_github_workflow_ref.clone(),
        }
    }
}

// Where trust comes from, and which checks may be skipped.
// (Plain comments: a flattened struct's doc comment would replace the about of the
// commands that flatten it, see `Command` in main.rs.)
#[derive(Debug, Args, Clone, Default)]
pub struct TrustArgs {
    /// A Sigstore trusted root (trusted_root.json): certificate authorities, transparency logs,
    /// CT logs, timestamp authorities. Default: the store's trusted roots.
    #[arg(long, value_name = "FILE")]
    trusted_root: Option<PathBuf>,
    /// PEM certificates from the signing certificate's issuer up to a root (the last one is
    /// trusted as the root): replaces the trusted root's certificate authorities.
    #[arg(long, value_name = "FILE", conflicts_with = "ca_roots")]
    certificate_chain: Option<PathBuf>,
    /// PEM root certificates to trust instead of the trusted root's certificate authorities.
    #[arg(long, value_name = "FILE")]
    ca_roots: Option<PathBuf>,
    /// PEM intermediate certificates below `--ca-roots`.
    #[arg(long, value_name = "FILE", requires = "ca_roots")]
    ca_intermediates: Option<PathBuf>,
    /// Do not require a transparency-log entry (the certificate is then checked at the time of
    /// an RFC 3161 timestamp, or now). Said on stderr when used.
    #[arg(long)]
    insecure_ignore_tlog: bool,
    /// The signatures come from a private Sigstore deployment without a transparency log:
    /// do not require log entries (as --insecure-ignore-tlog, without its warning).
    #[arg(long)]
    private_infrastructure: bool,
    /// Do not require a signed certificate timestamp (SCT) in the certificate. Said on stderr
    /// when used.
    #[arg(long)]
    insecure_ignore_sct: bool,
    /// Require a verified RFC 3161 timestamp from a trusted timestamp authority.
    #[arg(long)]
    use_signed_timestamps: bool,
}

// `--key`, or an identity under a trusted root.
// (Plain comments: a flattened struct's doc comment would replace the about of the
// commands that flatten it, see `Command` in main.rs.)
#[derive(Debug, Args, Clone, Default)]
pub struct VerifierArgs {
    /// Public key file (PEM), env://VAR, or a plugin key reference whose public half is used.
    /// Without it, the signature must come from a certificate for the identity given.
    #[arg(long, value_name = "KEY_REF")]
    pub key: Option<String>,
    #[command(flatten)]
    pub identity: IdentityArgs,
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// The environment variables cosign reads for private infrastructure.
const ROOT_FILE_ENV: &str = "SIGSTORE_ROOT_FILE";
const REKOR_KEY_ENV: &str = "SIGSTORE_REKOR_PUBLIC_KEY";
const CT_KEY_ENV: &str = "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE";
const TSA_CHAIN_ENV: &str = "SIGSTORE_TSA_CERTIFICATE_FILE";

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    crate::input::read_bounded(path, crate::input::SMALL, what)
}

fn certificates(path: &Path, what: &str) -> Result<Vec<Certificate>> {
    let certs = Certificate::from_pem_chain(&read(path, what)?)
        .with_context(|| format!("{what} {}", path.display()))?;
    if certs.is_empty() {
        bail!("{what} {} holds no PEM certificate", path.display());
    }
    Ok(certs)
}

fn public_key(path: &Path, what: &str) -> Result<SigstoreKey> {
    SigstoreKey::from_pem(&read(path, what)?).with_context(|| format!("{what} {}", path.display()))
}

impl TrustArgs {
    /// Reads a trusted root file.
    pub fn read_trusted_root(path: &Path) -> Result<TrustedRoot> {
        let bytes = crate::input::read_bounded(path, trusted_root::MAX_SIZE, "trusted root")?;
        TrustedRoot::from_json(&bytes).with_context(|| format!("trusted root {}", path.display()))
    }

    /// The trusted root: `--trusted-root`, else the store's roots; then each of cosign's
    /// private-infrastructure inputs given replaces its part (certificate authorities,
    /// transparency logs, CT logs, timestamp authorities).
    fn trusted_root(&self, store: Option<&Path>) -> Result<Option<TrustedRoot>> {
        let mut base = match &self.trusted_root {
            Some(path) => Some(Self::read_trusted_root(path)?),
            None => match store {
                Some(store) => {
                    sigmirror_fusefs::trust::trusted_root(store).map_err(anyhow::Error::msg)?
                }
                None => None,
            },
        };
        let authorities: Option<(Vec<Certificate>, Vec<Certificate>)> =
            if let Some(path) = &self.certificate_chain {
                let mut chain = certificates(path, "certificate chain")?;
                let root = chain.pop().expect("certificates() returns at least one");
                Some((vec![root], chain))
            } else if let Some(path) = &self.ca_roots {
                let intermediates = match &self.ca_intermediates {
                    Some(p) => certificates(p, "CA intermediates")?,
                    None => vec![],
                };
                Some((certificates(path, "CA roots")?, intermediates))
            } else if let Some(path) = env_path(ROOT_FILE_ENV) {
                Some(
                    certificates(&path, ROOT_FILE_ENV)?
                        .into_iter()
                        .partition(Certificate::is_self_signed),
                )
            } else {
                None
            };
        let rekor = env_path(REKOR_KEY_ENV)
            .map(|p| public_key(&p, REKOR_KEY_ENV))
            .transpose()?;
        let ct = env_path(CT_KEY_ENV)
            .map(|p| public_key(&p, CT_KEY_ENV))
            .transpose()?;
        let tsa = env_path(TSA_CHAIN_ENV)
            .map(|p| -> Result<Vec<Certificate>> {
                // Leaf first, root last, as a trusted root lists a timestamp authority.
                let mut chain = certificates(&p, TSA_CHAIN_ENV)?;
                chain.sort_by_key(|c| (c.is_ca(), c.is_self_signed()));
                Ok(chain)
            })
            .transpose()?;
        if authorities.is_none() && rekor.is_none() && ct.is_none() && tsa.is_none() {
            return Ok(base);
        }
        let root = base.get_or_insert_with(TrustedRoot::default);
        if let Some((roots, intermediates)) = authorities {
            root.certificate_authorities =
                TrustedRoot::from_parts(roots, intermediates, vec![], vec![], vec![])
                    .certificate_authorities;
        }
        if let Some(key) = rekor {
            root.tlogs = TrustedRoot::from_parts(vec![], vec![], vec![key], vec![], vec![]).tlogs;
        }
        if let Some(key) = ct {
            root.ctlogs = TrustedRoot::from_parts(vec![], vec![], vec![], vec![key], vec![]).ctlogs;
        }
        if let Some(chain) = tsa {
            root.timestamp_authorities =
                TrustedRoot::from_parts(vec![], vec![], vec![], vec![], chain)
                    .timestamp_authorities;
        }
        Ok(base)
    }

    /// Whether log entries are not required (`--insecure-ignore-tlog` or
    /// `--private-infrastructure`).
    fn ignores_tlog(&self) -> bool {
        self.insecure_ignore_tlog || self.private_infrastructure
    }

    fn options(&self) -> Options {
        if self.insecure_ignore_tlog {
            eprintln!("WARNING: skipping transparency log verification (--insecure-ignore-tlog)");
        }
        if self.insecure_ignore_sct {
            eprintln!(
                "WARNING: skipping signed certificate timestamp verification (--insecure-ignore-sct)"
            );
        }
        Options {
            tlog: !self.ignores_tlog(),
            sct: !self.insecure_ignore_sct,
            signed_timestamps: self.use_signed_timestamps,
            classic_identity: false,
        }
    }

    /// A Sigstore verifier for `policy`; a trusted root is required unless nothing needs one
    /// (a key, with the log ignored).
    fn sigstore(&self, policy: Policy, store: Option<&Path>) -> Result<SigstoreVerifier> {
        let needs_root = !(matches!(policy, Policy::Key(_)) && self.ignores_tlog());
        let trust = match self.trusted_root(store)? {
            Some(root) => root,
            None if !needs_root => TrustedRoot::default(),
            None => bail!(
                "no trusted root: give --trusted-root FILE (Sigstore's trusted_root.json), add one \
                 to the store with `sigmirror trust root add NAME FILE`, or set {ROOT_FILE_ENV} and \
                 {REKOR_KEY_ENV} (and {CT_KEY_ENV}) for a private instance"
            ),
        };
        Ok(SigstoreVerifier {
            trust,
            policy,
            options: self.options(),
        })
    }
}

impl VerifierArgs {
    /// Refuses a key together with an identity, and neither (cosign's rules).
    fn check_choice(&self) -> Result<()> {
        match (&self.key, self.identity.spec().is_empty()) {
            (Some(_), false) => bail!(
                "give either --key or a certificate identity (--certificate-identity…), not both"
            ),
            (None, true) => bail!(
                "give --key KEY, or --certificate-identity (or -regexp) and \
                 --certificate-oidc-issuer (or -regexp) for keyless signatures"
            ),
            _ => Ok(()),
        }
    }

    fn identity_policy(&self) -> Result<Policy> {
        Ok(Policy::Identity(self.identity.spec().policy()?))
    }

    /// Who must have signed a cosign signature or attestation attached to an image, or a blob
    /// signature in cosign's classic form: `--key` checks the signature alone (as sigmirror
    /// always has); an identity is checked under the trusted root. `store` is where the
    /// store's trusted roots are read from, if any.
    pub fn verifier(&self, store: Option<&Path>) -> Result<Verifier> {
        self.check_choice()?;
        match &self.key {
            Some(key) => Ok(Verifier::Key(super::load_public_key(key)?)),
            None => Ok(Verifier::Sigstore(Box::new(
                self.trust.sigstore(self.identity_policy()?, store)?,
            ))),
        }
    }

    /// Who must have signed a Sigstore bundle: a key (then the bundle's log entries are checked
    /// too, unless `--insecure-ignore-tlog`) or an identity, under the trusted root.
    pub fn bundle_verifier(&self, store: Option<&Path>) -> Result<SigstoreVerifier> {
        self.check_choice()?;
        let policy = match &self.key {
            Some(key) => Policy::Key(SigstoreKey::from(&super::load_public_key(key)?)),
            None => self.identity_policy()?,
        };
        self.trust.sigstore(policy, store)
    }

    /// Whether the verification is keyless (for cosign's list of checks).
    pub fn is_keyless(&self) -> bool {
        self.key.is_none()
    }
}

/// The store folder to read trusted roots from when a command has no `--store`: the default
/// store, if it exists (it is only read, never created or locked).
pub fn default_store() -> Option<PathBuf> {
    sigmirror_store::default_store_dir().filter(|d| d.is_dir())
}
