//! The one interface every signature goes through. The CLI signs through plugins
//! (`sigmirror-signer`); tests and benchmarks sign with an in-memory [`PrivateKey`].

use sigmirror_oci::digest::Sha256Digest;

use crate::error::Result;
use crate::keys::{PrivateKey, PublicKey};

/// Something that signs SHA-256 digests with an ECDSA P-256 key.
pub trait Signer: Send + Sync {
    /// The public half of the signing key.
    fn public_key(&self) -> Result<PublicKey>;
    /// Signs a digest; returns the ASN.1 DER signature.
    fn sign_digest(&self, digest: &Sha256Digest) -> Result<Vec<u8>>;
}

/// A signer over an in-memory key, for tests and benchmarks; the CLI always uses plugins.
impl Signer for PrivateKey {
    fn public_key(&self) -> Result<PublicKey> {
        Ok(PrivateKey::public_key(self))
    }
    fn sign_digest(&self, digest: &Sha256Digest) -> Result<Vec<u8>> {
        PrivateKey::sign_digest(self, digest)
    }
}
