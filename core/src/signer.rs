//! Signing through plugins. Every signature sigmirror makes goes through a [`Signer`]; the
//! CLI builds one from a key reference with [`PluginSigner::open`], so the file backend is loaded
//! like any other.

use sigmirror_plugin_abi::host::{Instance, Plugin};
use sigmirror_plugin_abi::wire::{
    ALGORITHM_ECDSA_P256_SHA256, CreateKeyParams, InstanceConfig, Method, PublicKeyResult, Request,
    SignParams, SignResult,
};

use crate::b64;
use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::keyref::KeyRef;
use crate::keys::PublicKey;

/// Something that signs SHA-256 digests with an ECDSA P-256 key.
pub trait Signer: Send + Sync {
    /// The public half of the signing key.
    fn public_key(&self) -> Result<PublicKey>;
    /// Signs a digest; returns the ASN.1 DER signature.
    fn sign_digest(&self, digest: &Sha256Digest) -> Result<Vec<u8>>;
}

/// A key held by a signer plugin.
pub struct PluginSigner {
    instance: Instance,
}

impl PluginSigner {
    /// Opens `key` with `plugin`. `password` is passed only to plugins that ask for one.
    pub fn open(plugin: &Plugin, key: &KeyRef, password: Option<&[u8]>) -> Result<Self> {
        let password = if plugin.needs_password() {
            password
        } else {
            None
        };
        let config = InstanceConfig::new(key.as_str(), password);
        Ok(PluginSigner {
            instance: plugin.instance(&config)?,
        })
    }

    /// Creates the key the reference names (`generate-key-pair --kms`); returns its public half.
    pub fn create_key(&self) -> Result<PublicKey> {
        let method = Method::CreateKey(CreateKeyParams {
            algorithm: ALGORITHM_ECDSA_P256_SHA256.into(),
        });
        let result: PublicKeyResult = self.instance.call_json(&Request::new(method))?;
        self.parse_public(&result)
    }

    fn parse_public(&self, result: &PublicKeyResult) -> Result<PublicKey> {
        PublicKey::from_pem(result.public_key_pem.as_bytes()).map_err(|e| Error::InvalidPublicKey {
            reason: format!("from the {} plugin: {e}", self.instance.plugin().name()),
        })
    }
}

impl Signer for PluginSigner {
    fn public_key(&self) -> Result<PublicKey> {
        let result: PublicKeyResult = self.instance.call_json(&Request::new(Method::PublicKey))?;
        self.parse_public(&result)
    }

    fn sign_digest(&self, digest: &Sha256Digest) -> Result<Vec<u8>> {
        let method = Method::SignMessage(SignParams {
            digest: b64::encode(digest.as_bytes()),
            hash_algorithm: "sha256".into(),
        });
        let result: SignResult = self.instance.call_json(&Request::new(method))?;
        b64::decode_lenient(result.signature.as_bytes()).map_err(|e| Error::MalformedSignature {
            reason: format!("from the {} plugin: {e}", self.instance.plugin().name()),
        })
    }
}

/// A signer over an in-memory key, for tests and benchmarks; the CLI always uses plugins.
impl Signer for crate::keys::PrivateKey {
    fn public_key(&self) -> Result<PublicKey> {
        Ok(crate::keys::PrivateKey::public_key(self))
    }
    fn sign_digest(&self, digest: &Sha256Digest) -> Result<Vec<u8>> {
        crate::keys::PrivateKey::sign_digest(self, digest)
    }
}
