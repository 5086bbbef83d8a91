//! The one interface every signature goes through. The CLI signs through plugins
//! (`sigmirror-signer`); tests and benchmarks sign with an in-memory [`PrivateKey`].

use sigmirror_oci::digest::Sha256Digest;

use crate::error::Result;
use crate::keys::{PrivateKey, PublicKey};

/// Something that signs with a key: SHA-256 digests (ECDSA, RSA), or messages (every key;
/// Ed25519 only those).
pub trait Signer: Send + Sync {
    /// The public half of the signing key.
    fn public_key(&self) -> Result<PublicKey>;
    /// Signs a SHA-256 digest; returns the signature (ASN.1 DER for ECDSA).
    fn sign_digest(&self, digest: &Sha256Digest) -> Result<Vec<u8>>;
    /// Signs a message as cosign signs it with this key: by default over its SHA-256 digest;
    /// a signer whose key signs messages themselves (Ed25519) overrides this.
    fn sign_message(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.sign_digest(&Sha256Digest::of(message))
    }
}

/// A signer over an in-memory key, for tests and benchmarks; the CLI always uses plugins.
impl Signer for PrivateKey {
    fn public_key(&self) -> Result<PublicKey> {
        Ok(PrivateKey::public_key(self))
    }
    fn sign_digest(&self, digest: &Sha256Digest) -> Result<Vec<u8>> {
        PrivateKey::sign_digest(self, digest)
    }
    fn sign_message(&self, message: &[u8]) -> Result<Vec<u8>> {
        PrivateKey::sign_message(self, message)
    }
}
