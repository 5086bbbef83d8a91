//! Who may have signed, for every check of this crate: a key the user holds (cosign's key-only
//! verification, no log, no certificate), or a policy under a Sigstore trusted root (a
//! certificate identity for keyless signatures, or a key for key-signed Sigstore bundles).

use sigmirror_oci::manifest::Descriptor;

use crate::conventions::{BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, TIMESTAMP_ANNOTATION};
use crate::error::Result;
use crate::keys::PublicKey;
use crate::sigstore::classic::{self, Evidence};
use crate::sigstore::{self, Artifact, Options, Policy, TrustedRoot, Verified};

/// A verification against a Sigstore trusted root.
#[derive(Debug, Clone)]
pub struct SigstoreVerifier {
    /// The certificate authorities, logs and timestamp authorities trusted.
    pub trust: TrustedRoot,
    /// Who must have signed.
    pub policy: Policy,
    /// Which checks are required.
    pub options: Options,
}

/// Who may have signed.
#[derive(Debug, Clone)]
pub enum Verifier {
    /// A public key: the signature alone is checked, as cosign does with `--key` and no log.
    Key(PublicKey),
    /// A Sigstore policy: certificate chain, transparency log, timestamps, identity.
    Sigstore(Box<SigstoreVerifier>),
}

impl Verifier {
    /// This verifier, prepared for checking many signatures (a key's table of multiples, see
    /// [`PublicKey::prepared_for_many`]); it accepts and refuses exactly what it did before.
    pub fn prepared_for_many(&self) -> Verifier {
        match self {
            Verifier::Key(key) => Verifier::Key(key.prepared_for_many()),
            Verifier::Sigstore(_) => self.clone(),
        }
    }
}

impl From<PublicKey> for Verifier {
    fn from(key: PublicKey) -> Self {
        Verifier::Key(key)
    }
}

impl Evidence {
    /// What cosign attached beside the signature on a `.sig` or `.att` layer.
    pub fn from_layer(layer: &Descriptor) -> Self {
        let annotation = |key: &str| {
            layer
                .annotation(key)
                .filter(|v| !v.is_empty())
                .map(|v| v.as_bytes().to_vec())
        };
        Evidence {
            certificate_pem: annotation(CERTIFICATE_ANNOTATION),
            rekor_bundle: annotation(BUNDLE_ANNOTATION),
            timestamp: annotation(TIMESTAMP_ANNOTATION),
        }
    }
}

impl SigstoreVerifier {
    /// Verifies a signature in cosign's classic form (a `.sig` layer, an old blob bundle):
    /// `signature` over the bytes whose SHA-256 is `payload_sha256`, with `evidence` beside it.
    pub fn check_classic_signature(
        &self,
        payload_sha256: [u8; 32],
        signature: Vec<u8>,
        evidence: &Evidence,
    ) -> Result<Verified> {
        let bundle = classic::signature_bundle(payload_sha256, signature, evidence)?;
        self.check(&bundle, Some(&Artifact::Sha256(payload_sha256)), true)
    }

    /// Verifies a DSSE envelope in cosign's classic form (an `.att` layer, `attest-blob`'s
    /// old bundle). The statement's subjects are the caller's to check.
    pub fn check_classic_attestation(
        &self,
        envelope_json: &[u8],
        evidence: &Evidence,
    ) -> Result<Verified> {
        let bundle = classic::attestation_bundle(envelope_json, evidence)?;
        self.check(&bundle, None, true)
    }

    /// Verifies a Sigstore bundle over `artifact`.
    pub fn check_bundle(
        &self,
        bundle: &sigstore::Bundle,
        artifact: Option<&Artifact>,
    ) -> Result<Verified> {
        self.check(bundle, artifact, false)
    }

    fn check(
        &self,
        bundle: &sigstore::Bundle,
        artifact: Option<&Artifact>,
        classic_identity: bool,
    ) -> Result<Verified> {
        let options = Options {
            classic_identity,
            ..self.options
        };
        Ok(sigstore::verify(
            bundle,
            artifact,
            &self.trust,
            &self.policy,
            &options,
        )?)
    }
}
