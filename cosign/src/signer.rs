//! The one interface every signature goes through. The CLI signs through plugins
//! (`sigmirror-signer`); tests and benchmarks sign with an in-memory [`PrivateKey`].

use sigmirror_oci::digest::Sha256Digest;

use crate::error::{Error, Result};
use crate::keys::{PrivateKey, PublicKey};
pub use crate::sigstore::keys::HashAlgorithm;

/// What a signer's key signs: a digest of the message made with one hash, or the message
/// itself (Ed25519).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prehash {
    /// The digest of the message with this hash: SHA-256 for key files (as cosign signs them);
    /// SHA-384 or SHA-512 for P-384 and P-521 keys in AWS KMS, which signs no other way.
    Digest(HashAlgorithm),
    /// The message itself.
    Message,
}

/// Something that signs with a key.
pub trait Signer: Send + Sync {
    /// The public half of the signing key.
    fn public_key(&self) -> Result<PublicKey>;
    /// Signs a SHA-256 digest; returns the signature (ASN.1 DER for ECDSA).
    fn sign_digest(&self, digest: &Sha256Digest) -> Result<Vec<u8>>;
    /// What the key signs (default: SHA-256 digests).
    fn prehash(&self) -> Result<Prehash> {
        Ok(Prehash::Digest(HashAlgorithm::Sha256))
    }
    /// Signs a digest made with `hash` (the one [`Signer::prehash`] names).
    fn sign_prehashed(&self, hash: HashAlgorithm, digest: &[u8]) -> Result<Vec<u8>> {
        match (hash, <[u8; 32]>::try_from(digest)) {
            (HashAlgorithm::Sha256, Ok(bytes)) => {
                self.sign_digest(&Sha256Digest::from_bytes(bytes))
            }
            _ => Err(Error::MessageOnlyKey),
        }
    }
    /// Signs the message itself, for keys whose [`Signer::prehash`] is [`Prehash::Message`]
    /// (signers of such keys override this).
    fn sign_whole_message(&self, _message: &[u8]) -> Result<Vec<u8>> {
        Err(Error::MessageOnlyKey)
    }
    /// Signs a message as this key signs messages: over the digest [`Signer::prehash`] names,
    /// or the message itself.
    fn sign_message(&self, message: &[u8]) -> Result<Vec<u8>> {
        match self.prehash()? {
            Prehash::Digest(HashAlgorithm::Sha256) => self.sign_digest(&Sha256Digest::of(message)),
            Prehash::Digest(hash) => self.sign_prehashed(hash, &hash.digest(message)),
            Prehash::Message => self.sign_whole_message(message),
        }
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
    fn prehash(&self) -> Result<Prehash> {
        Ok(match self.public_key().signs_messages() {
            true => Prehash::Message,
            false => Prehash::Digest(HashAlgorithm::Sha256),
        })
    }
    fn sign_whole_message(&self, message: &[u8]) -> Result<Vec<u8>> {
        PrivateKey::sign_message(self, message)
    }
}
